"""F1Score and FBetaScore (fastmlp/_fscores.py): per output column or micro / macro / weighted,
at a threshold or for the outputs at their row's maximum, against counts made here in NumPy,
scikit-learn's f1_score and Keras 3's metrics on the same predictions.
"""

from __future__ import annotations

import json

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, metrics
from keras_run import run_keras
from test_confusion_metrics import FEATURES, _data, _model

F_SCORES = [
    metrics.F1Score(),
    metrics.F1Score(average="macro"),
    metrics.F1Score(average="micro"),
    metrics.F1Score(average="weighted"),
    metrics.F1Score(threshold=0.4),
    metrics.FBetaScore(beta=2.0, average="macro"),
    metrics.FBetaScore(beta=0.5, threshold=0.3, average="weighted"),
    metrics.FBetaScore(beta=2.0, threshold=0.6, average="micro"),
]


def _f_scores_numpy(p, y, metric):
    """Keras's formula on counts made here: predicted = above the threshold, or at the row's
    maximum (and not 0) without one."""
    if metric.threshold is None:
        predicted = (p >= p.max(axis=1, keepdims=True)) & (np.abs(p) > 1e-9)
    else:
        predicted = p > metric.threshold
    positive = y > 0
    axis = None if metric.average == "micro" else 0
    tp = np.sum(predicted & positive, axis=axis)
    fp = np.sum(predicted & ~positive, axis=axis)
    fn = np.sum(~predicted & positive, axis=axis)
    precision, recall = tp / (tp + fp + 1e-7), tp / (tp + fn + 1e-7)
    b2 = metric.beta**2
    score = (1 + b2) * precision * recall / (b2 * precision + recall + 1e-7)
    if metric.average == "weighted":
        support = positive.sum(axis=0)
        return np.sum(score * support / (support.sum() + 1e-7))
    return np.mean(score) if metric.average else score


def _trained_3_class(metric_list, dtype="float64"):
    x, y = _data(3)
    model = _model(3, "softmax", metric_list=metric_list, dtype=dtype)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    return model, x, y


def test_f_scores_match_numpy_and_scikit_learn() -> None:
    model, x, y = _trained_3_class([metrics.F1Score(name="f1")] + [
        type(m).from_config({**m.get_config(), "name": f"m{i}"}) for i, m in enumerate(F_SCORES)
    ])  # fmt: skip
    got = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    for i, m in enumerate(F_SCORES):
        np.testing.assert_allclose(got[f"m{i}"], _f_scores_numpy(p, y, m), rtol=1e-12)
    assert got["f1"].shape == (3,) and 0 < got["f1"].min() < got["f1"].max() < 1
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    labels, predicted = y.argmax(axis=1), p.argmax(axis=1)
    for average in (None, "macro", "micro", "weighted"):
        theirs = sklearn_metrics.f1_score(labels, predicted, average=average)
        ours = _f_scores_numpy(p, y, metrics.F1Score(average=average))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)  # (Keras's epsilons)


def test_f_scores_count_ties_at_the_maximum_and_zero_rows_as_none() -> None:
    model, x, y = _trained_3_class(["f1_score"])
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    # every output 1/3: all tied at the maximum, all predicted positive
    got = model.evaluate(x, y, verbose=0, return_dict=True)["f1_score"]
    share = y.mean(axis=0)
    np.testing.assert_allclose(got, 2 * share / (1 + share), rtol=1e-6)
    # every output 0 (a linear output with zero weights): at the maximum, but 0: none predicted
    zero = _model(3, "linear", loss="mse", metric_list=["f1_score"])
    zero.set_weights([np.zeros_like(w) for w in zero.get_weights()])
    assert np.all(zero.evaluate(x, y, verbose=0, return_dict=True)["f1_score"] == 0)


def test_f_scores_per_column_pass_through_fit_logs_and_the_progress_bar(capsys) -> None:
    model, x, y = _trained_3_class(["f1_score", metrics.F1Score(average="macro", name="macro")])
    history = model.fit(x, y, epochs=2, verbose=1, validation_split=0.25)
    assert history.history["f1_score"][-1].shape == (3,)
    assert isinstance(history.history["val_macro"][-1], float)
    assert "f1_score:" in capsys.readouterr().out  # (shown as the columns' mean, as Keras)


def test_f_scores_match_keras_on_the_same_predictions() -> None:
    model, x, y = _trained_3_class([], dtype="float32")
    p = model.predict(x, verbose=0)
    script = (
        "import json, sys, numpy as np, keras\n"
        "d = json.loads(sys.stdin.read())\n"
        "out = []\n"
        "for name, config in d['metrics']:\n"
        "    m = getattr(keras.metrics, name)(**config)\n"
        "    m.update_state(np.array(d['y'], 'float32'), np.array(d['p'], 'float32'))\n"
        "    out.append(np.atleast_1d(np.asarray(m.result())).tolist())\n"
        "print(json.dumps(out))\n"
    )
    configs = [[type(m).__name__, m.get_config()] for m in F_SCORES]
    payload = json.dumps({"metrics": configs, "y": y.tolist(), "p": p.tolist()})
    theirs = json.loads(run_keras(script, stdin=payload).strip().splitlines()[-1])
    for m, keras_value in zip(F_SCORES, theirs):
        mine = _trained_3_class([m], dtype="float32")[0].evaluate(x, y, verbose=0, return_dict=True)
        np.testing.assert_allclose(np.atleast_1d(mine[m.name]), keras_value, rtol=2e-6,
                                   err_msg=repr(m.get_config()))  # fmt: skip


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: metrics.F1Score(average="mean"), "average"),
        (lambda: metrics.FBetaScore(beta=0.0), "beta"),
        (lambda: metrics.F1Score(threshold=0.0), "threshold"),
        (lambda: metrics.F1Score(threshold=1.5), "threshold"),
    ],
)
def test_bad_f_score_arguments_are_refused(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_the_gpu_engine_refuses_f_scores_without_a_threshold() -> None:
    model = fm.Sequential([layers.Input(shape=(FEATURES,)), layers.Dense(3)], device="numpy")
    with pytest.raises(NotImplementedError, match="F-scores without a threshold"):
        model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["f1_score"])
