"""Precision, Recall, AUC and the other metrics from confusion counts (fastmlp/_confusion.py).

The engine's counts are checked against NumPy counts written here on the model's own predictions
(evaluate; train_on_batch, which reports the batch before its step; the sparse and 2-thread
paths), AUC against a NumPy Riemann sum and the exact rank statistic, and everything against
Keras 3's metrics on the same predictions where Keras is installed (in a subprocess).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import _core, config, layers, losses, metrics
from keras_run import run_keras

N, FEATURES = 400, 5


def _data(outputs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, FEATURES))
    score = x[:, 0] - 0.7 * x[:, 1] + rng.normal(scale=0.8, size=N)
    if outputs == 1:
        return x, (score > 0).astype(np.float64)[:, None]
    labels = np.digitize(score, [-0.5, 0.5])  # 3 classes
    return x, np.eye(outputs)[labels]


def _model(
    outputs=1, last="sigmoid", loss=None, metric_list=(), dtype="float64", seed=3, features=FEATURES
):
    model = fm.Sequential(
        [
            layers.Input(shape=(features,)),
            layers.Dense(8, activation="tanh"),
            layers.Dense(outputs, activation=last),
        ],
        seed=seed,
        dtype=dtype,
    )
    if loss is None:
        loss = "binary_crossentropy" if outputs == 1 else "categorical_crossentropy"
    model.compile(optimizer="sgd", loss=loss, metrics=list(metric_list))
    return model


def _confusion(p, y, threshold):
    """(tp, fp, tn, fn) of predictions p > threshold against targets y > 0, in NumPy."""
    above, positive = p > threshold, y > 0
    return (
        float(np.sum(above & positive)),
        float(np.sum(above & ~positive)),
        float(np.sum(~above & ~positive)),
        float(np.sum(~above & positive)),
    )


def _expected_at_threshold(p, y, threshold):
    tp, fp, tn, fn = _confusion(p, y, threshold)
    return {
        "true_positives": tp,
        "false_positives": fp,
        "true_negatives": tn,
        "false_negatives": fn,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
    }


AT_THRESHOLD = [
    metrics.TruePositives,
    metrics.FalsePositives,
    metrics.TrueNegatives,
    metrics.FalseNegatives,
    metrics.Precision,
    metrics.Recall,
]


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.8])
@pytest.mark.parametrize("outputs", [1, 3])
def test_counts_precision_and_recall_match_numpy_on_the_predictions(outputs, threshold) -> None:
    x, y = _data(outputs)
    model = _model(outputs, "sigmoid" if outputs == 1 else "softmax")
    model.compile(
        optimizer="sgd",
        loss=model.loss,
        metrics=[cls(thresholds=threshold) for cls in AT_THRESHOLD],
    )
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    got = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    expected = _expected_at_threshold(model.predict(x, verbose=0), y, threshold)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    # every output counts (Keras flattens the outputs)
    assert got["true_positives"] + got["false_negatives"] == float(np.sum(y > 0))
    assert sum(got[n] for n in expected if n.startswith(("true", "false"))) == y.size


def test_several_thresholds_give_one_value_each_as_keras() -> None:
    x, y = _data(3)
    model = _model(3, "softmax", metric_list=[
        metrics.TruePositives(thresholds=[0.3, 0.5, 0.7]),
        metrics.Precision(thresholds=[0.7, 0.2], class_id=1),
        metrics.Recall(thresholds=[0.4]),
    ])  # fmt: skip
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    got = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    assert got["true_positives"].tolist() == [_confusion(p, y, t)[0] for t in (0.3, 0.5, 0.7)]
    np.testing.assert_allclose(
        got["precision"],
        [_expected_at_threshold(p[:, 1], y[:, 1], t)["precision"] for t in (0.7, 0.2)],
        rtol=1e-12,
    )
    assert got["recall"] == pytest.approx(_expected_at_threshold(p, y, 0.4)["recall"])


def test_evenly_spaced_thresholds_count_no_output_above_1_as_keras() -> None:
    """Keras clips the outputs to [0, 1] for thresholds 0, 1 / (n - 1), ..., 1: an output of 1.4
    is above 0.5, but not above 1 (it is, for a lone threshold 1)."""
    x, y = _data(1)
    model = fm.Sequential([layers.Input(shape=(FEATURES,)), layers.Dense(1)], dtype="float64")
    model.set_weights([np.eye(FEATURES, 1) * 2.0, np.array([0.5])])
    model.compile("sgd", "mse", metrics=[
        metrics.TruePositives(thresholds=[0.0, 0.5, 1.0]),
        metrics.TruePositives(thresholds=1.0, name="above_1"),
    ])  # fmt: skip
    got = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    assert got["above_1"] == _confusion(p, y, 1.0)[0] > 0
    assert got["true_positives"].tolist() == [_confusion(p, y, t)[0] for t in (0.0, 0.5)] + [0.0]


def test_class_id_counts_one_output_column() -> None:
    x, y = _data(3)
    model = _model(3, "softmax")
    model.compile(
        optimizer="sgd",
        loss="categorical_crossentropy",
        metrics=[
            metrics.Precision(class_id=c, name=f"p{c}") for c in range(3)
        ] + [metrics.Recall(thresholds=0.4, class_id=2, name="r2")],
    )  # fmt: skip
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    got = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    for c in range(3):
        want = _expected_at_threshold(p[:, c], y[:, c], 0.5)["precision"]
        assert got[f"p{c}"] == pytest.approx(want, rel=1e-12)
    assert got["r2"] == pytest.approx(_expected_at_threshold(p[:, 2], y[:, 2], 0.4)["recall"])


def test_train_on_batch_reports_the_batch_before_its_step() -> None:
    x, y = _data(1)
    model = _model(1, metric_list=["precision", "recall", "auc", "true_negatives"])
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    before = model.predict(x[:64], verbose=0)
    got = model.train_on_batch(x[:64], y[:64], return_dict=True)
    expected = _expected_at_threshold(before, y[:64], 0.5)
    for name in ("precision", "recall", "true_negatives"):
        assert got[name] == pytest.approx(expected[name], rel=1e-12), name
    assert got["auc"] == pytest.approx(_auc_numpy(before, y[:64]), rel=1e-12)


@contextlib.contextmanager
def _threads(threads: int, sparse: bool) -> Iterator[None]:
    """`threads` for any batch of 32 rows or more, sparse inputs on or off."""
    previous, work = config.get_num_threads(), _core.get_parallel_work()
    config.set_num_threads(threads)
    _core.set_parallel_work(0)
    config.set_sparse_inputs(sparse)
    try:
        yield
    finally:
        config.set_num_threads(previous)
        _core.set_parallel_work(work)
        config.set_sparse_inputs(True)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("sparse", [True, False])
def test_the_sparse_and_threaded_paths_count_every_row_once(threads, sparse) -> None:
    """Mostly-zero float32 inputs take the by-rows step and the chunked evaluate, whose parts'
    counts are added: the same counts as NumPy's on the predictions."""
    x, y = _data(3)
    rng = np.random.default_rng(1)
    wide = np.zeros((N, 40))  # (the sparse path needs 32 inputs or more)
    wide[:, :FEATURES] = x
    wide[:, FEATURES:] = rng.normal(size=(N, 40 - FEATURES))
    x = (wide * (rng.random(wide.shape) < 0.15)).astype(np.float32)  # 85% zeros
    with _threads(threads, sparse):
        model = _model(3, "softmax", dtype="float32", metric_list=["precision", "recall", "auc"],
                       features=40)  # fmt: skip
        before = model.predict(x[:128], verbose=0)
        got = model.train_on_batch(x[:128], y[:128], return_dict=True)
        assert model._engine.last_batch_sparse == sparse
        expected = _expected_at_threshold(before, y[:128], 0.5)
        assert got["precision"] == pytest.approx(expected["precision"], rel=1e-12)
        assert got["recall"] == pytest.approx(expected["recall"], rel=1e-12)
        assert got["auc"] == pytest.approx(_auc_numpy(before, y[:128]), rel=1e-12)
        got = model.evaluate(x, y, batch_size=100, verbose=0, return_dict=True)
        assert model._engine.last_batch_sparse == sparse
        p = model.predict(x, verbose=0)
        assert got["precision"] == pytest.approx(_expected_at_threshold(p, y, 0.5)["precision"])
        assert got["auc"] == pytest.approx(_auc_numpy(p, y), rel=1e-12)


# -- AUC -----------------------------------------------------------------------------------------


def _auc_numpy(p, y, num_thresholds=200, curve="ROC", method="interpolation"):
    """Keras's AUC written out: counts at -eps, i / (T - 1), 1 + eps of the outputs clipped to
    [0, 1], then a Riemann sum (trapezoids, or the lower / upper rectangles)."""
    t = np.array([-1e-7, *[(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)],
                  1 + 1e-7])  # fmt: skip
    p, positive = np.clip(np.ravel(p), 0, 1), np.ravel(y) > 0
    above = p[None, :] > t[:, None]
    tp = np.sum(above & positive, axis=1).astype(float)
    fp = np.sum(above & ~positive, axis=1).astype(float)
    fn, tn = positive.sum() - tp, (~positive).sum() - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.nan_to_num(tp / (tp + fn))
        if curve == "ROC":
            xs, ys = np.nan_to_num(fp / (fp + tn)), recall
        else:
            xs, ys = recall, np.nan_to_num(tp / (tp + fp))
    pick = {"interpolation": lambda a, b: (a + b) / 2, "minoring": np.minimum,
            "majoring": np.maximum}[method]  # fmt: skip
    return float(np.sum((xs[:-1] - xs[1:]) * pick(ys[:-1], ys[1:])))


def _auc_exact(p, y):
    """The area under the ROC curve itself: P(output of a positive > output of a negative),
    ties counted half (the Mann-Whitney statistic)."""
    p, positive = np.ravel(p), np.ravel(y) > 0
    pos, neg = p[positive], p[~positive]
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + ties / 2)


@pytest.mark.parametrize(
    ("curve", "method"),
    [("ROC", "interpolation"), ("ROC", "minoring"), ("ROC", "majoring"), ("PR", "minoring"),
     ("PR", "majoring")],
)  # fmt: skip
@pytest.mark.parametrize("num_thresholds", [200, 7])
def test_auc_matches_the_riemann_sum_in_numpy(curve, method, num_thresholds) -> None:
    x, y = _data(1)
    auc = metrics.AUC(num_thresholds=num_thresholds, curve=curve, summation_method=method)
    model = _model(1, metric_list=[auc])
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    got = model.evaluate(x, y, verbose=0, return_dict=True)["auc"]
    want = _auc_numpy(model.predict(x, verbose=0), y, num_thresholds, curve, method)
    assert got == pytest.approx(want, rel=1e-12)


def test_auc_approaches_the_exact_area_with_many_thresholds() -> None:
    x, y = _data(1)
    model = _model(1, metric_list=[metrics.AUC(num_thresholds=20000)])
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    got = model.evaluate(x, y, verbose=0, return_dict=True)["auc"]
    exact = _auc_exact(model.predict(x, verbose=0), y)
    assert 0.6 < exact < 0.99
    assert got == pytest.approx(exact, abs=2e-4)


def test_multi_label_auc_is_the_mean_or_weighted_mean_of_the_columns() -> None:
    x, y = _data(3)
    model = _model(3, "sigmoid", loss="binary_crossentropy", metric_list=[
        metrics.AUC(multi_label=True, name="mean"), metrics.AUC(name="flat"),
        metrics.AUC(multi_label=True, num_labels=3, label_weights=[1, 0, 3], name="weighted"),
    ])  # fmt: skip
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    got = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    columns = [_auc_numpy(p[:, c], y[:, c]) for c in range(3)]
    assert got["mean"] == pytest.approx(np.mean(columns), rel=1e-12)
    assert got["weighted"] == pytest.approx((columns[0] + 3 * columns[2]) / 4, rel=1e-12)
    assert got["flat"] == pytest.approx(_auc_numpy(p, y), rel=1e-12)
    assert got["flat"] != pytest.approx(got["mean"], rel=1e-6)


def test_auc_from_logits_thresholds_the_sigmoid_of_a_linear_output() -> None:
    x, y = _data(1)
    model = _model(
        1,
        "linear",
        loss=losses.BinaryCrossentropy(from_logits=True),
        metric_list=[metrics.AUC(from_logits=True), metrics.Precision(thresholds=0.0)],
    )
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    got = model.evaluate(x, y, verbose=0, return_dict=True)
    z = model.predict(x, verbose=0)
    assert got["auc"] == pytest.approx(_auc_numpy(1 / (1 + np.exp(-z)), y), rel=1e-12)
    # Precision thresholds the output as it is (Keras: thresholds=0 for logits)
    assert got["precision"] == pytest.approx(_expected_at_threshold(z, y, 0.0)["precision"])


def _at_constraint_numpy(p, y, kind, value, num_thresholds=200):
    t = [0.0, *[(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)], 1.0]
    best = 0.0
    for threshold in t:
        tp, fp, tn, fn = _confusion(np.ravel(p), np.ravel(y), threshold)
        recall = tp / (tp + fn) if tp + fn else 0.0
        precision = tp / (tp + fp) if tp + fp else 0.0
        specificity = tn / (tn + fp) if tn + fp else 0.0
        constrained, dependent = {
            "sensitivity_at_specificity": (specificity, recall),
            "specificity_at_sensitivity": (recall, specificity),
            "precision_at_recall": (recall, precision),
            "recall_at_precision": (precision, recall),
        }[kind]
        if constrained >= value:
            best = max(best, dependent)
    return best


def test_rates_at_a_constraint_match_a_numpy_search_over_thresholds() -> None:
    x, y = _data(1)
    model = _model(1, metric_list=[
        metrics.SensitivityAtSpecificity(0.8), metrics.SpecificityAtSensitivity(0.6),
        metrics.PrecisionAtRecall(0.7), metrics.RecallAtPrecision(0.75),
        metrics.RecallAtPrecision(1.0, name="impossible"),
    ])  # fmt: skip
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    got = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    for name, value in [("sensitivity_at_specificity", 0.8), ("specificity_at_sensitivity", 0.6),
                        ("precision_at_recall", 0.7), ("recall_at_precision", 0.75)]:  # fmt: skip
        assert got[name] == pytest.approx(_at_constraint_numpy(p, y, name, value)), name
        assert 0 < got[name] < 1
    assert got["impossible"] == pytest.approx(
        _at_constraint_numpy(p, y, "recall_at_precision", 1.0)
    )


# -- Keras ----------------------------------------------------------------------------------------

KERAS_SCRIPT = r"""
import json, sys
import numpy as np
import keras
cases = json.loads(sys.stdin.read())
out = []
for case in cases:
    metric = keras.metrics.get({"class_name": case["class_name"], "config": case["config"]})
    metric.update_state(np.array(case["y"], "float32"), np.array(case["p"], "float32"))
    out.append(float(metric.result()))
print(json.dumps(out))
"""

KERAS_CASES = [
    (1, "sigmoid", metrics.Precision()),
    (1, "sigmoid", metrics.Recall(thresholds=0.3)),
    (1, "sigmoid", metrics.TruePositives(thresholds=0.7)),
    (1, "sigmoid", metrics.FalseNegatives()),
    (3, "softmax", metrics.Precision(class_id=1)),
    (3, "softmax", metrics.Recall()),
    (1, "sigmoid", metrics.AUC()),
    (1, "sigmoid", metrics.AUC(curve="PR")),
    (1, "sigmoid", metrics.AUC(num_thresholds=13, curve="PR", summation_method="majoring")),
    (1, "sigmoid", metrics.AUC(summation_method="minoring")),
    (1, "sigmoid", metrics.AUC(thresholds=[0.2, 0.45, 0.6, 0.9])),
    (3, "sigmoid", metrics.AUC(multi_label=True)),
    (3, "sigmoid", metrics.AUC(multi_label=True, curve="PR")),
    (3, "softmax", metrics.AUC()),
    (1, "linear", metrics.AUC(from_logits=True)),
    (1, "sigmoid", metrics.PrecisionAtRecall(0.7)),
    (1, "sigmoid", metrics.RecallAtPrecision(0.75)),
    (1, "sigmoid", metrics.SensitivityAtSpecificity(0.8)),
    (3, "softmax", metrics.SpecificityAtSensitivity(0.6, class_id=2)),
    # outputs outside [0, 1] (logits read as they are): Keras clips them for evenly spaced
    # thresholds and compares them as they are for others
    (1, "linear", metrics.AUC()),
    (1, "linear", metrics.AUC(thresholds=[0.2, 0.45, 0.6, 0.9])),
    (1, "linear", metrics.SpecificityAtSensitivity(0.0)),
    (1, "linear", metrics.PrecisionAtRecall(0.3, num_thresholds=1)),
    (1, "linear", metrics.Precision()),
    (1, "sigmoid", metrics.AUC(num_thresholds=2)),
]


def test_every_metric_matches_keras_on_the_same_predictions() -> None:
    """Keras 3 counts in float32, as the float32 model predicts: the same outputs compared with
    the same float32 thresholds give the same counts (AUC's evenly spaced buckets may put an
    output equal to a threshold on its other side: not seen in these data)."""
    ours, cases = [], []
    for outputs, last, metric in KERAS_CASES:
        x, y = _data(outputs)
        loss = losses.BinaryCrossentropy(from_logits=last == "linear") if outputs == 1 or (
            last == "sigmoid") else "categorical_crossentropy"  # fmt: skip
        model = _model(outputs, last, loss=loss, metric_list=[metric], dtype="float32")
        model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        ours.append(model.evaluate(x, y, verbose=0, return_dict=True)[metric.name])
        p = model.predict(x, verbose=0)
        config_ = metric.get_config()
        cases.append({"class_name": type(metric).__name__, "config": config_,
                      "y": y.tolist(), "p": p.tolist()})  # fmt: skip
    stdout = run_keras(KERAS_SCRIPT, stdin=json.dumps(cases))
    theirs = json.loads(stdout.strip().splitlines()[-1])
    for (_, _, metric), mine, keras_value in zip(KERAS_CASES, ours, theirs):
        assert mine == pytest.approx(keras_value, rel=2e-6, abs=1e-7), repr(metric.get_config())


# -- names, saving, refusals --------------------------------------------------------------------


def test_keras_names_and_class_names_give_the_metrics() -> None:
    model = _model(1, metric_list=["precision", "Recall", "AUC", "true_positives",
                                   "FalseNegatives"])  # fmt: skip
    x, y = _data(1)
    history = model.fit(x, y, epochs=1, verbose=0, validation_split=0.25)
    assert set(history.history) >= {
        "precision", "Recall", "AUC", "true_positives", "FalseNegatives", "val_precision",
        "val_AUC",
    }  # fmt: skip
    assert isinstance(metrics.get("auc"), metrics.AUC)
    assert isinstance(metrics.get("falsenegatives"), metrics.FalseNegatives)


def test_saved_models_keep_their_confusion_metrics(tmp_path) -> None:
    x, y = _data(3)
    chosen = [
        metrics.AUC(curve="PR", num_thresholds=50, name="pr"),
        metrics.AUC(multi_label=True, label_weights=[1, 2, 3], name="ml"),
        metrics.Precision(thresholds=0.4, class_id=2),
        metrics.TruePositives(thresholds=0.6),
        metrics.PrecisionAtRecall(0.6, num_thresholds=30, class_id=1),
    ]
    model = _model(3, "sigmoid", loss="binary_crossentropy", metric_list=chosen)
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    loaded = fm.models.load_model(tmp_path / "m.fastmlp")
    assert [m.get_config() for m in loaded.compiled_metrics] == [m.get_config() for m in chosen]
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: metrics.Precision(thresholds=[0.3, 1.5]), ValueError, "thresholds must be"),
        (lambda: metrics.Precision(thresholds=1.5), ValueError, "thresholds must be"),
        (lambda: metrics.Recall(top_k=0), ValueError, "top_k"),
        (lambda: metrics.Precision(class_id=-1), ValueError, "class_id"),
        (lambda: metrics.AUC(curve="XY"), ValueError, "curve"),
        (lambda: metrics.AUC(summation_method="sum"), ValueError, "summation_method"),
        (lambda: metrics.AUC(num_thresholds=1), ValueError, "num_thresholds"),
        (lambda: metrics.AUC(num_labels=3), ValueError, "multi_label"),
        (lambda: metrics.AUC(thresholds=[0.0, 0.5], from_logits=True), ValueError, "inside"),
        (lambda: metrics.PrecisionAtRecall(1.2), ValueError, "recall"),
        (lambda: metrics.SensitivityAtSpecificity(0.5, num_thresholds=0), ValueError, "num_"),
    ],
)
def test_bad_arguments_are_refused(make, error, match) -> None:
    with pytest.raises(error, match=match):
        make()


def test_a_class_id_or_num_labels_beyond_the_outputs_is_refused_and_changes_nothing() -> None:
    model = _model(3, "softmax", metric_list=["precision"])
    for bad, match in [(metrics.Precision(class_id=3), "class_id=3"),
                       (metrics.AUC(multi_label=True, num_labels=2), "num_labels=2")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=[bad])
        assert [m.name for m in model.compiled_metrics] == ["precision"]
    x, y = _data(3)
    assert "precision" in model.evaluate(x, y, verbose=0, return_dict=True)


def test_class_labels_are_refused_with_a_hint() -> None:
    model = _model(3, "softmax")
    with pytest.raises(ValueError, match="one target per output"):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                      metrics=["precision"])  # fmt: skip


def test_the_gpu_engine_refuses_confusion_metrics_by_name() -> None:
    model = fm.Sequential(
        [layers.Input(shape=(FEATURES,)), layers.Dense(1, activation="sigmoid")], device="numpy"
    )
    with pytest.raises(NotImplementedError, match="CPU engine only"):
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["auc"])
    cpu = _model(1, metric_list=["auc"])
    with pytest.raises(NotImplementedError, match="CPU engine only"):
        cpu.to("numpy")
    assert cpu.device == "cpu"


def test_targets_count_as_passed_not_as_the_loss_prepared_them() -> None:
    """Label smoothing turns 0 into 0.05 for the loss: a 0 label stays negative for the counts;
    so do {0, 1} labels that the hinge loss reads as -1 / +1."""
    x, y = _data(1)
    for loss in (losses.BinaryCrossentropy(label_smoothing=0.1), losses.Hinge()):
        model = _model(1, "tanh" if isinstance(loss, losses.Hinge) else "sigmoid", loss=loss,
                       metric_list=["precision", "true_negatives"])  # fmt: skip
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        got = model.evaluate(x, y, verbose=0, return_dict=True)
        expected = _expected_at_threshold(model.predict(x, verbose=0), y, 0.5)
        assert got["true_negatives"] == expected["true_negatives"] > 0
        assert got["precision"] == pytest.approx(expected["precision"], rel=1e-12)


# -- callbacks, many thresholds, edge cases -------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "maximize"),
    [("precision", True), ("AUC", True), ("recall", True), ("f1_macro", True),
     ("top_k_categorical_accuracy", True), ("rmse", False), ("mae", False)],
)  # fmt: skip
def test_callbacks_in_auto_mode_follow_the_metrics_direction(metric, maximize) -> None:
    x, y = _data(3)
    model = _model(3, "softmax", metric_list=[
        "precision", "AUC", "recall", metrics.F1Score(average="macro", name="f1_macro"),
        metrics.TopKCategoricalAccuracy(k=2), "rmse", "mae", "true_positives",
    ])  # fmt: skip
    stop = fm.callbacks.EarlyStopping(monitor=f"val_{metric}", patience=100)
    plateau = fm.callbacks.ReduceLROnPlateau(monitor=f"val_{metric}")
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25,
                        callbacks=[stop, plateau])  # fmt: skip
    values = history.history[f"val_{metric}"]
    assert stop.best == (max(values) if maximize else min(values))
    assert plateau.best == stop.best
    with pytest.raises(ValueError, match="no better direction"):
        model.fit(x, y, epochs=1, verbose=0, validation_split=0.25,
                  callbacks=[fm.callbacks.EarlyStopping(monitor="val_true_positives")])  # fmt: skip
    explicit = fm.callbacks.EarlyStopping(monitor="val_true_positives", mode="max", patience=9)
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[explicit])
    assert explicit.best == max(history.history["val_true_positives"])


def test_model_checkpoint_keeps_the_best_by_the_metrics_direction(tmp_path) -> None:
    x, y = _data(1)
    model = _model(1, metric_list=["precision"])
    checkpoint = fm.callbacks.ModelCheckpoint(
        str(tmp_path / "best.fastmlp"), monitor="val_precision", save_best_only=True
    )
    history = model.fit(x, y, epochs=4, verbose=0, validation_split=0.25, callbacks=[checkpoint])
    assert checkpoint.best == max(history.history["val_precision"])


@pytest.mark.parametrize("threads", [1, 2])
def test_many_uneven_thresholds_count_as_numpy_does(threads) -> None:
    """300 random thresholds (a few repeated) on the chunked 2-thread evaluate: the engine's grid
    lookup gives the counts of plain comparisons."""
    x, y = _data(3)
    rng = np.random.default_rng(5)
    wide = np.zeros((N, 40))
    wide[:, :FEATURES] = x
    x = (wide * (rng.random(wide.shape) < 0.5)).astype(np.float32)
    thresholds = sorted([*rng.random(297), 0.25, 0.25, 0.5])
    with _threads(threads, True):
        model = _model(3, "softmax", dtype="float32", features=40,
                       metric_list=[metrics.AUC(thresholds=thresholds, curve="PR",
                                                summation_method="majoring")])  # fmt: skip
        got = model.evaluate(x, y, batch_size=50, verbose=0, return_dict=True)["auc"]
        p = model.predict(x, verbose=0).ravel()
    assert got == pytest.approx(_pr_auc_majoring(p, y, thresholds), rel=1e-12)


def _pr_auc_majoring(p, y, thresholds):
    """AUC(curve="PR", summation_method="majoring") of predictions p, in NumPy."""
    t = np.array([-1e-7, *thresholds, 1 + 1e-7])
    positive = y.ravel() > 0
    above = p.ravel()[None, :] > t[:, None]
    tp, fp = (above & positive).sum(axis=1), (above & ~positive).sum(axis=1)
    recall = tp / positive.sum()
    precision = np.divide(tp, tp + fp, out=np.zeros(len(t)), where=tp + fp > 0)
    return np.sum((recall[:-1] - recall[1:]) * np.maximum(precision[:-1], precision[1:]))


def test_top_k_on_one_output_reads_one_target_per_output() -> None:
    x, y = _data(1)
    model = _model(1, metric_list=["top_k_categorical_accuracy"])
    assert model.evaluate(x, y, verbose=0, return_dict=True)["top_k_categorical_accuracy"] == 1.0


def test_an_auc_of_the_end_points_only_needs_no_other_metric() -> None:
    x, y = _data(1)
    alone = _model(1, metric_list=[metrics.AUC(num_thresholds=2)])
    assert alone.evaluate(x, y, verbose=0, return_dict=True)["auc"] == 0.5


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: metrics.AUC(multi_label=True, label_weights=[1, np.nan, 1]), "label_weights"),
        (lambda: metrics.AUC(multi_label=True, label_weights=[1, -1, 1]), "label_weights"),
        (lambda: metrics.AUC(multi_label=True, label_weights=[[1, 1, 1]]), "label_weights"),
        (lambda: metrics.AUC(thresholds=0.5), "thresholds must be a list"),
    ],
)
def test_bad_auc_arguments_are_refused(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_label_weights_of_another_length_than_the_outputs_are_refused_at_compile() -> None:
    model = _model(3, "sigmoid", loss="binary_crossentropy")
    with pytest.raises(ValueError, match="label_weights has 2 values"):
        model.compile(optimizer="sgd", loss="binary_crossentropy",
                      metrics=[metrics.AUC(multi_label=True, label_weights=[1, 2])])  # fmt: skip


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_fused_sigmoid_counts_predicts_own_values(dtype) -> None:
    """Sigmoid + binary cross-entropy trains on logits; the outputs the metrics count are the
    sigmoid predict computes, to the last bit: an AUC whose thresholds are predict's own values
    counts as NumPy does on them, in fit (learning rate 0) and in evaluate."""
    rng = np.random.default_rng(8)
    x = rng.normal(scale=3.0, size=(203, FEATURES))
    y = (rng.random((203, 4)) < 0.5).astype(np.float64)
    model = fm.Sequential(
        [layers.Input(shape=(FEATURES,)), layers.Dense(4, activation="sigmoid")],
        seed=2,
        dtype=dtype,
    )
    p = model.predict(x, verbose=0)
    thresholds = sorted({float(v) for v in rng.choice(p[(p > 0.02) & (p < 0.98)], 150)})
    auc = metrics.AUC(thresholds=thresholds, curve="PR", summation_method="majoring")
    model.compile(optimizer=fm.optimizers.SGD(0.0), loss="binary_crossentropy", metrics=[auc])
    want = _pr_auc_majoring(p, y, thresholds)
    history = model.fit(x, y, epochs=1, batch_size=29, verbose=0)
    assert history.history["auc"][0] == pytest.approx(want, rel=1e-12)
    assert model.evaluate(x, y, batch_size=64, verbose=0)[1] == pytest.approx(want, rel=1e-12)
