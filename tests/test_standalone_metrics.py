"""Metrics on their own, as Keras's: update_state / result / reset_state / __call__ (metrics.py,
_counting.py).

Every metric class, on binary, one-hot, sparse, multi-label, soft, signed and regression data,
with and without sample weights, accumulated over several update_state calls and then reset:
equal to Keras 3's own metric on the same calls (one subprocess for all), and equal to what
`model.evaluate` logs for the same predictions (a linear model whose outputs on the identity are
the predictions), where fit counts by the same rules.
"""

from __future__ import annotations

import json
from typing import Any

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, metrics
from keras_run import run_keras

N, SIZES = 120, (40, 51, 29)  # samples, and update_state's batches


def _f32(a: np.ndarray) -> np.ndarray:
    """Values a float32 holds exactly (Keras's top-k accuracies take float32 only)."""
    return np.asarray(a, np.float32).astype(np.float64)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(y_true, y_pred) by kind of data."""
    rng = np.random.default_rng(7)
    binary = rng.integers(0, 2, (N, 1)).astype(float)
    labels = rng.integers(0, 4, N).astype(float)
    multi = rng.integers(0, 2, (N, 3)).astype(float)
    z = rng.normal(size=(N, 4)) + 1.5 * np.eye(4)[labels.astype(int)]
    data = {
        "binary": (binary, 0.25 * binary + 0.75 * rng.random((N, 1))),
        # outputs beyond [0, 1] (linear outputs): the evenly spaced thresholds clip them
        "wide": (binary, rng.normal(0.5, 0.6, (N, 1))),
        "logits": (binary, rng.normal(0, 2, (N, 1)) + 1.5 * binary),
        "rounded": (binary, np.round(0.35 * binary + 0.65 * rng.random((N, 1)))),
        "onehot": (np.eye(4)[labels.astype(int)], _softmax(z)),
        "sparse": (labels, _softmax(z)),
        "multilabel": (multi, 0.3 * multi + 0.7 * rng.random((N, 3))),
        "soft": (rng.random((N, 3)), rng.random((N, 3))),
        "signed": (rng.choice([-1.0, 0.0, 1.0], (N, 2)), rng.random((N, 2))),
        "regression": (rng.normal(size=(N, 2)), rng.normal(size=(N, 2))),
    }
    # NaN outputs (a diverged model): below every threshold; a target class's NaN is in no top k
    y, p = data["binary"]
    data["nan"] = (y, np.where(rng.random((N, 1)) < 0.1, np.nan, p))
    y, p = data["onehot"]
    data["onehot_nan"] = (y, np.where((rng.random((N, 1)) < 0.1) & (y == 1), np.nan, p))
    return {kind: (_f32(y), _f32(p)) for kind, (y, p) in data.items()}


DATA = _data()
_w = np.random.default_rng(8)
WEIGHTS = {
    None: None,
    "samples": _f32(_w.uniform(0, 2, N)),
    "outputs": _f32(_w.uniform(0, 2, (N, 4))),  # (its first k columns)
    "number": 1.7,
}

# (metric as built in fastmlp.metrics and keras.metrics, kind of data, weightings besides none
# and per sample, whether model.evaluate counts it by the same rules)
CASES = [
    ("BinaryAccuracy()", "binary", ["outputs"], True),
    ("BinaryAccuracy(threshold=0.7)", "multilabel", ["outputs", "number"], True),
    ("BinaryAccuracy()", "soft", [], False),  # (Keras: a soft target is never right)
    ("Accuracy()", "rounded", ["outputs", "number"], True),
    ("CategoricalAccuracy()", "onehot", ["number"], True),
    ("SparseCategoricalAccuracy()", "sparse", ["number"], True),
    ("TopKCategoricalAccuracy(k=2)", "onehot", ["number"], True),
    ("SparseTopKCategoricalAccuracy(k=2)", "sparse", [], True),
    ("SparseTopKCategoricalAccuracy(k=1)", "sparse", [], True),
    ("MeanSquaredError()", "regression", ["number"], True),
    ("MeanAbsoluteError()", "regression", [], True),
    ("RootMeanSquaredError()", "regression", ["outputs", "number"], True),
    ("TruePositives()", "binary", ["number"], True),
    ("FalsePositives(thresholds=[0.0, 0.5, 1.0])", "wide", [], True),
    ("TrueNegatives(thresholds=[0.3, 0.9])", "multilabel", ["outputs"], True),
    ("FalseNegatives(thresholds=0.4)", "binary", [], True),
    ("Precision()", "multilabel", ["outputs", "number"], True),
    ("Precision(thresholds=[0.2, 0.5, 0.8], class_id=2)", "onehot", [], True),
    ("Precision(top_k=1)", "onehot", [], False),
    ("Precision()", "signed", [], False),  # (Keras: a target of -1 is positive)
    ("Recall(thresholds=0.3)", "binary", [], True),
    ("Recall(top_k=2, class_id=1)", "onehot", [], False),
    ("Recall(top_k=2, thresholds=0.2)", "multilabel", ["outputs"], False),
    ("Precision(thresholds=[0.3, 0.6])", "nan", [], False),
    ("TopKCategoricalAccuracy(k=3)", "onehot_nan", [], False),
    ("AUC()", "binary", ["outputs"], True),
    ("AUC()", "wide", [], True),
    ("AUC(curve='PR')", "multilabel", [], True),
    ("AUC(summation_method='minoring', num_thresholds=30)", "binary", [], True),
    ("AUC(curve='PR', summation_method='majoring')", "binary", [], True),
    ("AUC(thresholds=[0.2, 0.5, 0.9])", "wide", [], True),
    ("AUC(num_thresholds=50, from_logits=True)", "logits", [], True),
    ("AUC(multi_label=True)", "multilabel", [], True),
    ("AUC(multi_label=True, curve='PR', label_weights=[1.0, 2.0, 0.5, 3.0])", "onehot", [], True),
    ("AUC()", "signed", [], False),
    ("PrecisionAtRecall(0.6)", "binary", [], True),
    ("RecallAtPrecision(0.7, num_thresholds=40)", "multilabel", [], True),
    ("SensitivityAtSpecificity(0.9, class_id=1)", "multilabel", [], True),
    ("SpecificityAtSensitivity(0.5, num_thresholds=1)", "binary", [], True),
    ("F1Score()", "onehot", [], True),
    ("F1Score(average='macro')", "multilabel", [], True),
    ("F1Score(average='micro', threshold=0.3)", "onehot", [], True),
    ("FBetaScore(beta=2.0, average='weighted', threshold=0.5)", "multilabel", [], True),
    ("FBetaScore(beta=0.5)", "soft", [], False),  # (fit: a soft target counts as positive)
    ("F1Score(threshold=0.4)", "soft", [], False),
]
LOSSES = {
    "binary": "binary_crossentropy",
    "wide": "mse",
    "logits": fm.losses.BinaryCrossentropy(from_logits=True),
    "rounded": "mse",
    "onehot": "categorical_crossentropy",
    "sparse": "sparse_categorical_crossentropy",
    "multilabel": "binary_crossentropy",
    "regression": "mse",
}


def _runs() -> list[dict[str, Any]]:
    """Every (case, weighting) run: its metric, data and weights."""
    runs = []
    for make, kind, weightings, same_in_fit in CASES:
        for weighting in [None, "samples", *weightings]:
            y, p = DATA[kind]
            w = WEIGHTS[weighting]
            if weighting == "outputs":
                w = w[:, : p.shape[1]]
            runs.append(
                {
                    "id": f"{make}-{kind}-{weighting}",
                    "make": make,
                    "kind": kind,
                    "y": y,
                    "p": p,
                    "w": w,
                    "f32": "TopK" in make,
                    "in_fit": same_in_fit and weighting in (None, "samples"),
                }
            )
    return runs


RUNS = _runs()


def _batches(run: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    edges = np.cumsum((0, *SIZES))
    w = run["w"]
    return [
        (
            run["y"][a:b],
            run["p"][a:b],
            w if w is None or np.ndim(w) == 0 else w[a:b],
        )
        for a, b in zip(edges[:-1], edges[1:])
    ]


def _standalone(metric: Any, batches: list[tuple[Any, Any, Any]]) -> list[Any]:
    """The result after every batch, then after reset_state and the first batch alone."""
    for y, p, w in batches:
        metric.update_state(y, p, sample_weight=w)
    accumulated = np.asarray(metric.result(), dtype=float).tolist()
    metric.reset_state()
    metric.update_state(*batches[0][:2], sample_weight=batches[0][2])
    return [accumulated, np.asarray(metric.result(), dtype=float).tolist()]


KERAS_SCRIPT = r"""
import json, sys
import numpy as np
keras.config.set_floatx("float64")
out = []
for run in json.loads(sys.stdin.read()):
    metric = eval("keras.metrics." + run["make"])
    dtype = "float32" if run["f32"] else "float64"
    arr = lambda v: None if v is None else np.asarray(v, dtype)
    batches = [[arr(v) for v in batch] for batch in run["batches"]]
    for y, p, w in batches:
        metric.update_state(y, p, sample_weight=w)
    values = [np.asarray(metric.result(), dtype=float).tolist()]
    metric.reset_state()
    metric.update_state(batches[0][0], batches[0][1], sample_weight=batches[0][2])
    values.append(np.asarray(metric.result(), dtype=float).tolist())
    out.append(values)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def keras_results() -> dict[str, list[Any]]:
    """Keras 3's results of every run, by its id."""

    def listed(v: Any) -> Any:
        return None if v is None else np.asarray(v).tolist()

    payload = [
        {
            "make": run["make"],
            "f32": run["f32"],
            "batches": [[listed(v) for v in batch] for batch in _batches(run)],
        }
        for run in RUNS
    ]
    out = run_keras(KERAS_SCRIPT, stdin=json.dumps(payload), timeout=600)
    return dict(zip((run["id"] for run in RUNS), json.loads(out.strip().splitlines()[-1])))


@pytest.mark.parametrize("run", RUNS, ids=[run["id"] for run in RUNS])
def test_standalone_metric_equals_keras(run: dict[str, Any], keras_results) -> None:
    ours = _standalone(eval("metrics." + run["make"]), _batches(run))
    theirs = keras_results[run["id"]]
    for got, want in zip(ours, theirs):
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    values = np.ravel(ours[0])
    assert np.any((values != 0) & (values != 1)) or "Accuracy" in run["make"], values


def _linear_model(p: np.ndarray, loss: Any, make: str) -> Any:
    """A float64 model whose output on np.eye(n) is p (W = p, b = 0), with the metric plain and
    weighted."""
    n, k = p.shape
    model = fm.Sequential([layers.Input(shape=(n,)), layers.Dense(k)], dtype="float64")
    model.set_weights([p, np.zeros(k)])
    model.compile(
        "sgd",
        loss,
        metrics=[eval("metrics." + make)],
        weighted_metrics=[eval("metrics." + make)],
    )
    return model


@pytest.mark.parametrize(
    "run", [r for r in RUNS if r["in_fit"]], ids=[r["id"] for r in RUNS if r["in_fit"]]
)
def test_standalone_metric_equals_evaluate(run: dict[str, Any]) -> None:
    y, p, w = run["y"], run["p"], run["w"]
    model = _linear_model(p, LOSSES[run["kind"]], run["make"])
    name = model.compiled_metrics[0].name
    key = name if w is None else f"weighted_{name}"
    logs = model.evaluate(np.eye(N), y, sample_weight=w, batch_size=32, verbose=0, return_dict=True)
    ours = _standalone(eval("metrics." + run["make"]), _batches(run))[0]
    np.testing.assert_allclose(ours, logs[key], rtol=1e-12, atol=1e-12)


# -- the API ------------------------------------------------------------------------------------


def test_every_metric_class_is_covered() -> None:
    covered = {make.split("(")[0] for make, *_ in CASES}
    classes = {name for name in metrics.__all__ if isinstance(getattr(metrics, name), type)}
    assert classes - {"Metric"} == covered


def test_call_updates_then_returns_the_result_and_reset_forgets() -> None:
    y, p = DATA["binary"]
    m = metrics.AUC()
    assert m.result() == 0.0  # (nothing counted)
    first = m(y[:60], p[:60])
    both = m(y[60:], p[60:])
    assert both == metrics.AUC()(y, p) != first
    assert isinstance(both, float)
    m.reset_state()
    assert m.result() == 0.0
    assert m(y[:60], p[:60]) == first


def test_vector_results_are_arrays() -> None:
    y, p = DATA["multilabel"]
    f1 = metrics.F1Score()(y, p)
    tp = metrics.TruePositives(thresholds=[0.3, 0.6])(y, p)
    assert isinstance(f1, np.ndarray) and f1.shape == (3,)
    assert isinstance(tp, np.ndarray) and tp.tolist() == [
        float(np.sum((p > t) & (y == 1))) for t in (0.3, 0.6)
    ]
    assert isinstance(metrics.TruePositives(thresholds=[0.3])(y, p), float)


def test_fit_and_evaluate_leave_a_compiled_metric_state_alone() -> None:
    y, p = DATA["binary"]
    m = metrics.Precision()
    before = m(y, p)
    model = _linear_model(p, "binary_crossentropy", "Recall()")
    model.compile("sgd", "binary_crossentropy", metrics=[m])
    model.fit(np.eye(N), y, epochs=2, verbose=0)
    assert model.evaluate(np.eye(N), y, verbose=0, return_dict=True)["precision"] != before
    assert m.result() == before


def test_standalone_accuracy_is_exact_equality_not_the_loss_rule() -> None:
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    p = np.array([[0.9], [0.1], [1.0], [0.0]])
    assert metrics.Accuracy()(y, p) == 0.5
    assert metrics.BinaryAccuracy()(y, p) == 1.0


def test_a_number_as_weight_weights_the_batch_mean_as_keras() -> None:
    y, p = DATA["onehot"]
    m = metrics.CategoricalAccuracy()
    m.update_state(y[:10], p[:10], sample_weight=3.0)
    m.update_state(y[10:], p[10:], sample_weight=1.0)
    right = np.argmax(p, axis=1) == np.argmax(y, axis=1)
    assert m.result() == pytest.approx((3 * right[:10].mean() + right[10:].mean()) / 4)


def test_compile_refuses_top_k_and_names_the_standalone_use() -> None:
    model = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation="softmax")])
    with pytest.raises(NotImplementedError, match=r"top_k=2.*update_state"):
        model.compile("sgd", "categorical_crossentropy", metrics=[metrics.Precision(top_k=2)])


def test_top_k_keeps_the_first_of_tied_outputs() -> None:
    # (tf.math.top_k: of equal values, the lower index first)
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    p = np.array([[0.4, 0.4, 0.2], [0.3, 0.3, 0.3]])
    assert metrics.Recall(top_k=1)(y, p) == 0.5
    assert metrics.Precision(top_k=1, class_id=0)(y, p) == 0.5


# -- bad input ----------------------------------------------------------------------------------

_P = np.full((4, 3), 1 / 3)
_Y = np.eye(3)[[0, 1, 2, 0]]


@pytest.mark.parametrize(
    ("make", "args", "match"),
    [
        (metrics.Precision, (_Y[:, :2], _P), r"y_true: expected one target per prediction"),
        (metrics.BinaryAccuracy, (_Y, _P[:3]), r"same number of samples"),
        (metrics.MeanSquaredError, (_Y[:, 0], _P), r"y_true: expected .* shape \(4, 3\)"),
        (metrics.AUC, (_Y, _P, np.ones(3)), r"sample_weight: expected .*\(4,\)"),
        (metrics.CategoricalAccuracy, (_Y, _P, np.ones((4, 3))), r"sample_weight: expected"),
        (metrics.F1Score, (_Y, _P, 2.0), r"sample_weight: expected \(4,\)"),
        (metrics.SparseCategoricalAccuracy, ([0, 1, 3, 0], _P), r"y_true: .*\[0, 3\).* got 3"),
        (metrics.SparseTopKCategoricalAccuracy, ([0, 1, -1, 0], _P), r"y_true: .* got -1"),
        (metrics.SparseCategoricalAccuracy, ([0, 1, 1.5, 0], _P), r"y_true: expected integer"),
        (metrics.SparseCategoricalAccuracy, (_Y, _P), r"y_true: expected class labels"),
        (metrics.Recall, (_Y, np.ones((4, 3, 1))), r"y_pred: expected"),
        (metrics.Precision, (_Y * np.nan, _P), r"y_true contains NaN"),
        (metrics.Precision, (None, _P), r"y_true is required"),
        (metrics.MeanAbsoluteError, (_Y, _P, [1, 2, np.inf, 1]), r"sample_weight contains"),
        (lambda: metrics.Precision(class_id=3), (_Y, _P), r"class_id=3, but y_pred has 3"),
        (lambda: metrics.Recall(top_k=4), (_Y, _P), r"top_k=4, but y_pred has 3"),
        (lambda: metrics.AUC(multi_label=True, num_labels=2), (_Y, _P), r"num_labels=2"),
    ],
)
def test_bad_input_names_the_argument(make, args, match) -> None:
    m = make()
    with pytest.raises(ValueError, match=match):
        m.update_state(*args)
    assert m.result() == 0.0 or np.all(np.asarray(m.result()) == 0)  # (nothing counted)


def test_a_batch_of_another_width_is_refused_until_reset() -> None:
    m = metrics.AUC()
    m.update_state(_Y, _P)
    with pytest.raises(ValueError, match=r"y_pred has 2 columns, but .* had 3.*reset_state"):
        m.update_state(_Y[:, :2], _P[:, :2])
    m.reset_state()
    m.update_state(_Y[:, :2], _P[:, :2])


def test_bad_thresholds_and_top_k_are_refused() -> None:
    with pytest.raises(ValueError, match="thresholds must be a number in"):
        metrics.Precision(thresholds=[0.3, 1.5])
    with pytest.raises(ValueError, match="top_k must be an integer"):
        metrics.Recall(top_k=0)
    with pytest.raises(ValueError, match="at least one"):
        metrics.TruePositives(thresholds=[])
