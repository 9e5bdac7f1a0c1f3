"""compile(weighted_metrics=...) (Keras 3's): those metrics count each sample by its weight from
sample_weight, class_weight or validation_data's third element, while `metrics` stay unweighted.

Every metric kind (accuracies, errors, top-k, confusion counts, AUC, F-scores) is checked against
a NumPy formula written here on the model's own predictions, in evaluate, fit (a learning rate of
0 keeps the predictions fixed through the epoch), train_on_batch and the sparse / 2-thread paths;
and fit's and evaluate's logs against Keras 3 itself on the same weights and data.
"""

from __future__ import annotations

import json
import pickle

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import _core, layers, metrics, optimizers
from keras_run import run_keras
from test_sparse_inputs import on_both_paths

N, FEATURES = 300, 5
_rng = np.random.default_rng(0)
X = _rng.normal(size=(N, FEATURES))
_score = X[:, 0] - 0.7 * X[:, 1] + _rng.normal(scale=0.8, size=N)
LABELS = np.digitize(_score, [-0.6, 0.0, 0.6])  # 4 classes
ONE_HOT = np.eye(3)[np.digitize(_score, [-0.5, 0.5])]
MULTI_LABEL = (X[:, :3] + _rng.normal(scale=0.7, size=(N, 3)) > 0).astype(np.float64)
BINARY = (_score > 0).astype(np.float64)[:, None]
W = _rng.uniform(0.0, 3.0, N)
W[::7] = 0.0  # (some samples not counted at all)


def _model(units, activation, loss, plain=(), weighted=(), lr=0.0, dtype="float64", width=FEATURES):
    """Input -> Dense(6, tanh) -> Dense(units, activation), seeded; SGD at `lr` (0: fit leaves
    the predictions as they are, so an epoch's metrics are those of `predict`)."""
    model = fm.Sequential(
        [
            layers.Input(shape=(width,)),
            layers.Dense(6, activation="tanh"),
            layers.Dense(units, activation=activation),
        ],
        seed=3,
        dtype=dtype,
    )
    model.compile(
        optimizer=optimizers.SGD(lr),
        loss=loss,
        metrics=list(plain),
        weighted_metrics=list(weighted),
    )
    return model


# -- the NumPy reference: Keras's update_state(y, y_pred, sample_weight) written out ----------------


def _mean(values, w):
    """Keras's Mean: sum(w * value) / sum(w) over samples (0 when the weights sum to 0)."""
    total = float(np.sum(w))
    return float(np.sum(w * values)) / total if total else 0.0


def _counts(p, y, w, threshold):
    """(tp, fp, tn, fn) of p > threshold against y > 0, each output counted as its row's weight."""
    wb = np.broadcast_to(np.asarray(w, dtype=np.float64)[:, None], p.shape)
    above, positive = p > threshold, y > 0
    cells = (above & positive, above & ~positive, ~above & ~positive, ~above & positive)
    return tuple(float(np.sum(wb[c])) for c in cells)


def _auc(p, y, w, num_thresholds=200):
    """Keras's ROC AUC (trapezoids over its evenly spaced thresholds) of weighted counts."""
    t = [-1e-7, *[(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)], 1 + 1e-7]
    rates = []
    for threshold in t:
        tp, fp, tn, fn = _counts(np.clip(p, 0, 1), y, w, threshold)
        rates.append((fp / (fp + tn) if fp + tn else 0.0, tp / (tp + fn) if tp + fn else 0.0))
    xs, ys = np.array(rates).T
    return float(np.sum((xs[:-1] - xs[1:]) * (ys[:-1] + ys[1:]) / 2))


def _fbeta(p, y, w, beta, threshold, average):
    """Keras's FBetaScore: per column, weighted tp / fp / fn of the outputs predicted positive
    (above the threshold, or at their row's maximum and not 0)."""
    if threshold is None:
        predicted = (p >= p.max(axis=1, keepdims=True)) & (np.abs(p) > 1e-9)
    else:
        predicted = p > threshold
    wb, positive = w[:, None], y > 0
    tp = np.sum(wb * (predicted & positive), axis=0)
    fp = np.sum(wb * (predicted & ~positive), axis=0)
    fn = np.sum(wb * (~predicted & positive), axis=0)
    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    precision, recall = tp / (tp + fp + 1e-7), tp / (tp + fn + 1e-7)
    score = (1 + beta**2) * precision * recall / (beta**2 * precision + recall + 1e-7)
    if average == "weighted":
        positives = np.sum(wb * positive, axis=0)
        return float(np.sum(score * positives / (positives.sum() + 1e-7)))
    return float(np.mean(score))


def _top_k(p, target, w, k):
    rank = np.sum(p > p[np.arange(len(p)), target][:, None], axis=1)
    return _mean(rank < k, w)


def _one_hot_reference(p, y, w):
    error = p - y
    tp, fp, tn, fn = _counts(p, y, w, 0.5)
    return {
        "accuracy": _mean(p.argmax(1) == y.argmax(1), w),
        "mse": _mean(np.mean(error**2, axis=1), w),
        "mae": _mean(np.mean(np.abs(error), axis=1), w),
        "rmse": np.sqrt(_mean(np.mean(error**2, axis=1), w)),
        "top_2": _top_k(p, y.argmax(1), w, 2),
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "true_negatives": tn,
        "false_positives": fp,
        "auc": _auc(p, y, w),
        "f1": _fbeta(p, y, w, 1.0, None, "macro"),
        "f2": _fbeta(p, y, w, 2.0, 0.4, "weighted"),
    }


ONE_HOT_METRICS = [
    "accuracy", "mse", "mae", metrics.RootMeanSquaredError(name="rmse"),
    metrics.TopKCategoricalAccuracy(k=2, name="top_2"),
    "precision", "recall", "true_negatives", "false_positives", "auc",
    metrics.F1Score(average="macro", name="f1"),
    metrics.FBetaScore(beta=2.0, threshold=0.4, average="weighted", name="f2"),
]  # fmt: skip


def _assert_logs(got, expected, prefix="", rel=1e-10):
    for name, value in expected.items():
        assert got[prefix + name] == pytest.approx(value, rel=rel, abs=1e-12), prefix + name


# -- against NumPy --------------------------------------------------------------------------------


def test_every_metric_kind_is_weighted_as_keras_in_evaluate() -> None:
    model = _model(3, "softmax", "categorical_crossentropy", weighted=ONE_HOT_METRICS, lr=0.5)
    model.fit(X, ONE_HOT, epochs=2, batch_size=16, verbose=0)
    got = model.evaluate(X, ONE_HOT, sample_weight=W, batch_size=64, verbose=0, return_dict=True)
    p = model.predict(X, verbose=0)
    _assert_logs(got, _one_hot_reference(p, ONE_HOT, W))
    unweighted = _one_hot_reference(p, ONE_HOT, np.ones(N))
    assert got["accuracy"] != pytest.approx(unweighted["accuracy"], rel=1e-6)  # (weights matter)
    assert got["auc"] != pytest.approx(unweighted["auc"], rel=1e-6)


def test_labels_binary_and_multi_label_metrics_are_weighted_per_sample() -> None:
    """Keras's binary accuracy and errors take a sample's mean over its outputs, then weight it."""
    model = _model(4, "softmax", "sparse_categorical_crossentropy", lr=0.5, weighted=[
        "sparse_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy(k=2, name="top_2"),
    ])  # fmt: skip
    model.fit(X, LABELS, epochs=2, batch_size=16, verbose=0)
    got = model.evaluate(X, LABELS, sample_weight=W, verbose=0, return_dict=True)
    p = model.predict(X, verbose=0)
    assert got["sparse_categorical_accuracy"] == pytest.approx(_mean(p.argmax(1) == LABELS, W))
    assert got["top_2"] == pytest.approx(_top_k(p, LABELS, W, 2))

    model = _model(3, "sigmoid", "binary_crossentropy", lr=0.5, weighted=[
        metrics.BinaryAccuracy(threshold=0.4), "mse", metrics.AUC(multi_label=True),
        metrics.F1Score(threshold=0.5, average="micro"),
    ])  # fmt: skip
    model.fit(X, MULTI_LABEL, epochs=2, batch_size=16, verbose=0)
    got = model.evaluate(X, MULTI_LABEL, sample_weight=W, verbose=0, return_dict=True)
    p = model.predict(X, verbose=0)
    right = np.mean((p > 0.4) == (MULTI_LABEL > 0.5), axis=1)
    assert got["binary_accuracy"] == pytest.approx(_mean(right, W), rel=1e-12)
    assert got["mse"] == pytest.approx(_mean(np.mean((p - MULTI_LABEL) ** 2, axis=1), W))
    columns = [_auc(p[:, c : c + 1], MULTI_LABEL[:, c : c + 1], W) for c in range(3)]
    assert got["auc"] == pytest.approx(np.mean(columns), rel=1e-10)
    assert got["f1_score"] == pytest.approx(_fbeta(p, MULTI_LABEL, W, 1.0, 0.5, "micro"))


def test_fit_weights_its_batches_by_sample_weight_and_class_weight() -> None:
    model = _model(3, "softmax", "categorical_crossentropy", weighted=ONE_HOT_METRICS)
    p = model.predict(X, verbose=0)  # (learning rate 0: the same through the epoch)
    history = model.fit(X, ONE_HOT, sample_weight=W, batch_size=32, verbose=0).history
    _assert_logs({k: v[0] for k, v in history.items()}, _one_hot_reference(p, ONE_HOT, W))
    class_weight = {0: 0.25, 2: 3.0}  # (class 1: 1)
    by_class = np.array([class_weight.get(c, 1.0) for c in ONE_HOT.argmax(1)])
    history = model.fit(X, ONE_HOT, class_weight=class_weight, batch_size=32, verbose=0).history
    _assert_logs({k: v[0] for k, v in history.items()}, _one_hot_reference(p, ONE_HOT, by_class))


def test_validation_weights_come_from_validation_data_or_the_split() -> None:
    model = _model(3, "softmax", "categorical_crossentropy", plain=["accuracy"],
                   weighted=["accuracy", "mse", "auc"])  # fmt: skip
    p = model.predict(X, verbose=0)
    wv = np.linspace(0.0, 2.0, N)
    history = model.fit(X, ONE_HOT, validation_data=(X, ONE_HOT, wv), verbose=0).history
    reference = _one_hot_reference(p, ONE_HOT, wv)
    assert history["val_accuracy"][0] == pytest.approx(np.mean(p.argmax(1) == ONE_HOT.argmax(1)))
    for name in ("weighted_accuracy", "mse", "auc"):
        want = reference[name.removeprefix("weighted_")]
        assert history[f"val_{name}"][0] == pytest.approx(want, rel=1e-10), name
    # validation_split takes the held-out rows' sample weights along
    history = model.fit(X, ONE_HOT, sample_weight=W, validation_split=0.2, verbose=0).history
    held = _one_hot_reference(p[240:], ONE_HOT[240:], W[240:])
    assert history["val_weighted_accuracy"][0] == pytest.approx(held["accuracy"], rel=1e-12)
    assert history["weighted_accuracy"][0] == pytest.approx(
        _one_hot_reference(p[:240], ONE_HOT[:240], W[:240])["accuracy"], rel=1e-12
    )
    # class_weight weights the training batches only (Keras): the held-out metrics are plain
    history = model.fit(X, ONE_HOT, class_weight={0: 9.0}, validation_split=0.2, verbose=0).history
    assert history["val_weighted_accuracy"] == history["val_accuracy"]


def test_without_weights_the_weighted_metrics_are_the_plain_ones() -> None:
    names = ["accuracy", "mse", "auc", "precision", "top_k_categorical_accuracy", "f1_score"]
    model = _model(3, "softmax", "categorical_crossentropy", plain=names, weighted=names, lr=0.5)
    history = model.fit(X, ONE_HOT, epochs=2, validation_split=0.2, verbose=0).history
    logs = model.evaluate(X, ONE_HOT, verbose=0, return_dict=True)
    for name in names:
        for prefix in ("", "val_"):
            np.testing.assert_array_equal(
                history[f"{prefix}weighted_{name}"], history[prefix + name]
            )
        np.testing.assert_array_equal(logs[f"weighted_{name}"], logs[name])
    # weights of 1 count as no weights (up to the order of the sums)
    ones = model.evaluate(X, ONE_HOT, sample_weight=np.ones(N), verbose=0, return_dict=True)
    for name in names:
        assert ones[f"weighted_{name}"] == pytest.approx(logs[name], rel=1e-12)


def test_train_and_test_on_batch_weight_the_batch() -> None:
    model = _model(3, "softmax", "categorical_crossentropy", weighted=ONE_HOT_METRICS, lr=0.5)
    before = model.predict(X[:64], verbose=0)
    got = model.train_on_batch(X[:64], ONE_HOT[:64], sample_weight=W[:64], return_dict=True)
    _assert_logs(got, _one_hot_reference(before, ONE_HOT[:64], W[:64]))
    after = model.predict(X[:64], verbose=0)
    got = model.test_on_batch(X[:64], ONE_HOT[:64], sample_weight=W[:64], return_dict=True)
    _assert_logs(got, _one_hot_reference(after, ONE_HOT[:64], W[:64]))


def test_weights_summing_to_zero_or_below_one_give_keras_ratios() -> None:
    model = _model(3, "softmax", "categorical_crossentropy", weighted=["accuracy", "mae", "auc"])
    zero = model.evaluate(X, ONE_HOT, sample_weight=np.zeros(N), verbose=0, return_dict=True)
    assert (zero["accuracy"], zero["mae"], zero["auc"]) == (0.0, 0.0, 0.0)
    small = np.full(N, 1e-3)  # (they sum to 0.3: a mean, not a sum)
    got = model.evaluate(X, ONE_HOT, sample_weight=small, verbose=0, return_dict=True)
    plain = model.evaluate(X, ONE_HOT, verbose=0, return_dict=True)
    assert got["mae"] == pytest.approx(plain["mae"], rel=1e-9)
    assert got["accuracy"] == pytest.approx(plain["accuracy"], rel=1e-9)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_sparse_and_threaded_paths_count_every_row_once_with_its_weight(threads) -> None:
    """Mostly-zero float32 inputs take the by-rows step and evaluate's chunks of 256 rows, whose
    parts' weighted counts are added: the same as NumPy's on the predictions, on both paths."""
    rng = np.random.default_rng(1)
    n = 600
    x = np.zeros((n, 40), dtype=np.float32)
    x[:, :FEATURES] = np.resize(X, (n, FEATURES))
    x[:, FEATURES:] = rng.normal(size=(n, 40 - FEATURES)) * (rng.random((n, 35)) < 0.1)
    y, w = np.resize(ONE_HOT, (n, 3)), rng.uniform(0.0, 2.0, n)

    def run(sparse: bool):
        model = _model(3, "softmax", "categorical_crossentropy", weighted=ONE_HOT_METRICS,
                       lr=0.5, dtype="float32", width=40)  # fmt: skip
        before = model.predict(x[:128], verbose=0)
        got = model.train_on_batch(x[:128], y[:128], sample_weight=w[:128], return_dict=True)
        assert model._engine.last_batch_sparse == sparse
        _assert_logs(got, _one_hot_reference(before, y[:128], w[:128]), rel=1e-5)
        got = model.evaluate(x, y, sample_weight=w, batch_size=100, verbose=0, return_dict=True)
        assert model._engine.last_batch_sparse == sparse
        _assert_logs(got, _one_hot_reference(model.predict(x, verbose=0), y, w), rel=1e-5)
        return got

    sparse, dense = on_both_paths(threads, run)
    for name in sparse:
        assert sparse[name] == pytest.approx(dense[name], rel=1e-5, abs=1e-6), name


def test_the_engine_counts_weighted_sums_only_when_asked_and_given_weights() -> None:
    net = _core.NetworkF64(FEATURES, [_core.LayerSpec(0, units=3, activation=4)], 0)  # softmax
    net.set_params(np.random.default_rng(2).normal(size=net.param_count))
    net.set_loss(1)  # categorical cross-entropy
    net.set_accuracy(2, 0.5, 0.5)  # argmax of one-hot targets
    assert net.evaluate(X, ONE_HOT, 32, W).weighted is None  # (not asked for)
    net.set_weighted_metrics(True)
    assert net.evaluate(X, ONE_HOT, 32).weighted is None  # (no weights)
    sums = net.evaluate(X, ONE_HOT, 32, W)
    assert sums.weighted.weight == pytest.approx(W.sum(), rel=1e-14)
    assert sums.weighted.compared == pytest.approx(W.sum(), rel=1e-14)
    assert sums.weighted.correct / sums.weighted.compared != sums.correct / sums.compared
    assert sums.compared == N and sums.weight == 0  # (the plain counts as before)


# -- names, compile, saving, callbacks, refusals --------------------------------------------------


@pytest.mark.parametrize(
    ("plain", "weighted", "names"),
    [
        (["accuracy"], ["accuracy"], ["accuracy", "weighted_accuracy"]),
        ([], ["accuracy", "mse"], ["accuracy", "mse"]),
        (["mse"], ["accuracy", "mse"], ["mse", "accuracy", "weighted_mse"]),
        # Keras's CompileMetrics.result: a taken "weighted_<name>" gets "_1", "_2", ...
        (["accuracy", metrics.MeanSquaredError(name="weighted_accuracy")], ["accuracy"],
         ["accuracy", "weighted_accuracy", "weighted_accuracy_1"]),
    ],
)  # fmt: skip
def test_names_follow_keras(plain, weighted, names) -> None:
    model = _model(3, "softmax", "categorical_crossentropy", plain=plain, weighted=weighted)
    assert model.metrics_names == ["loss", *names]
    history = model.fit(X, ONE_HOT, sample_weight=W, validation_split=0.2, verbose=0).history
    assert set(history) == {"loss", *names, "val_loss", *(f"val_{n}" for n in names)}


def test_compile_refuses_bad_arguments_by_name() -> None:
    model = _model(3, "softmax", "categorical_crossentropy")
    with pytest.raises(TypeError, match=r"weighted_metrics must be a list"):
        model.compile("sgd", "categorical_crossentropy", weighted_metrics="accuracy")
    with pytest.raises(ValueError, match="weighted_metrics: metric names must be unique"):
        model.compile("sgd", "categorical_crossentropy", weighted_metrics=["mse", "mse"])
    with pytest.raises(ValueError, match="not 'loss'"):
        model.compile("sgd", "mse", weighted_metrics=[metrics.MeanAbsoluteError(name="loss")])
    with pytest.raises(ValueError, match="need class labels"):
        model.compile(
            "sgd", "categorical_crossentropy", weighted_metrics=["sparse_categorical_accuracy"]
        )
    with pytest.raises(NotImplementedError, match=r"loss_weights is not supported: .* one$"):
        model.compile("sgd", "mse", loss_weights=[0.5], weighted_metrics=["mse"])
    assert model.compiled_weighted_metrics == []  # (a refused compile changed nothing)


def test_bad_weights_are_refused_naming_the_argument() -> None:
    model = _model(3, "softmax", "categorical_crossentropy", weighted=["accuracy"])
    with pytest.raises(ValueError, match=r"sample_weight: expected one weight per sample"):
        model.evaluate(X, ONE_HOT, sample_weight=W[:-1], verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight: expected one weight per sample"):
        model.train_on_batch(X, ONE_HOT, sample_weight=np.ones((N, 3)))
    with pytest.raises(ValueError, match=r"validation_data\[2\]: expected one weight"):
        model.fit(X, ONE_HOT, validation_data=(X, ONE_HOT, W[:5]), verbose=0)
    with pytest.raises(ValueError, match="sample_weight: weights must be finite"):
        model.fit(X, ONE_HOT, sample_weight=np.full(N, np.inf), verbose=0)
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        model.fit(X, ONE_HOT, class_weight=[1.0, 2.0], verbose=0)


def test_saving_pickling_and_cloning_keep_the_weighted_metrics(tmp_path) -> None:
    chosen = [metrics.AUC(curve="PR", name="pr"), "accuracy", metrics.F1Score(average="macro")]
    model = _model(3, "softmax", "categorical_crossentropy", plain=["accuracy"], weighted=chosen)
    model.save(tmp_path / "m.fastmlp")
    expected = model.evaluate(X, ONE_HOT, sample_weight=W, verbose=0, return_dict=True)
    configs = [m.get_config() for m in model.compiled_weighted_metrics]
    for copy in (
        fm.models.load_model(tmp_path / "m.fastmlp"),
        pickle.loads(pickle.dumps(model)),
        fm.models.clone_model(model),
    ):
        assert [m.get_config() for m in copy.compiled_weighted_metrics] == configs
        assert copy.metrics_names == model.metrics_names
        got = copy.evaluate(X, ONE_HOT, sample_weight=W, verbose=0, return_dict=True)
        assert got == expected
    assert "weighted_metrics" in fm.saving.compile_config(model)
    assert "weighted_metrics" not in fm.saving.compile_config(_model(1, None, "mse"))


@pytest.mark.parametrize(
    ("monitor", "maximize"), [("val_weighted_accuracy", True), ("val_weighted_mse", False)]
)
def test_callbacks_monitor_weighted_names_in_their_direction(monitor, maximize) -> None:
    model = _model(3, "softmax", "categorical_crossentropy", plain=["accuracy", "mse"],
                   weighted=["accuracy", "mse", "true_positives"], lr=0.5)  # fmt: skip
    stop = fm.callbacks.EarlyStopping(monitor=monitor, patience=100)
    history = model.fit(X, ONE_HOT, epochs=3, validation_data=(X, ONE_HOT, W), verbose=0,
                        callbacks=[stop]).history  # fmt: skip
    assert stop.best == (max if maximize else min)(history[monitor])
    with pytest.raises(ValueError, match="no better direction"):
        bad = fm.callbacks.EarlyStopping(monitor="val_true_positives")
        model.fit(X, ONE_HOT, validation_data=(X, ONE_HOT, W), verbose=0, callbacks=[bad])


def test_the_gpu_engine_takes_weighted_metrics_but_no_weights() -> None:
    """It takes no sample weights (refused by name); without them the weighted metrics are the
    plain ones, which it counts."""
    model = fm.Sequential(
        [layers.Input(shape=(FEATURES,)), layers.Dense(3, activation="softmax")], device="numpy"
    )
    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy", "mse"])  # fmt: skip
    history = model.fit(X, ONE_HOT, epochs=2, verbose=0).history
    assert history["weighted_accuracy"] == history["accuracy"]
    with pytest.raises(NotImplementedError, match=r"sample_weight / class_weight .* CPU engine"):
        model.fit(X, ONE_HOT, sample_weight=W, verbose=0)
    cpu = _model(3, "softmax", "categorical_crossentropy", weighted=["accuracy", "mae"])
    assert cpu.to("numpy").evaluate(X, ONE_HOT, verbose=0, return_dict=True)["mae"] > 0


# -- against Keras 3 ------------------------------------------------------------------------------

KERAS_SCRIPT = r"""
import json, sys
import numpy as np
import keras
spec, data = json.load(open(sys.argv[1])), np.load(sys.argv[2])
metric = lambda m: m if isinstance(m, str) else keras.metrics.get(m)
out = {"update": []}
for case in spec["update"]:  # (float32: TensorFlow's in_top_k takes no float64)
    m = metric(case["metric"])
    d = lambda name: data["update/" + case["data"] + "/" + name].astype("float32")
    m.update_state(d("y"), d("p"), sample_weight=d("w"))
    out["update"].append(float(np.mean(m.result())))
keras.config.set_floatx("float64")
for case in spec["fit"]:
    d = lambda name: data[case["id"] + "/" + name]
    model = keras.Sequential([keras.Input((d("x").shape[1],)), keras.layers.Dense(6, activation="tanh"),
        keras.layers.Dense(case["units"], activation=case["activation"])])
    model.set_weights([d("w%d" % i) for i in range(4)])
    model.compile(optimizer=keras.optimizers.SGD(0.3), loss=case["loss"],
                  metrics=[metric(m) for m in case["metrics"]],
                  weighted_metrics=[metric(m) for m in case["weighted_metrics"]])
    fit = dict(batch_size=16, epochs=2, shuffle=False, verbose=0)
    if case["class_weight"]:
        fit["class_weight"] = {int(k): v for k, v in case["class_weight"].items()}
    else:
        fit["sample_weight"] = d("sw")
    if case["validation_split"]:
        fit["validation_split"] = case["validation_split"]
    else:
        fit["validation_data"] = (d("xv"), d("yv"), d("wv"))
    history = model.fit(d("x"), d("y"), **fit).history
    logs = model.evaluate(d("x"), d("y"), sample_weight=d("sw"), verbose=0, return_dict=True)
    out[case["id"]] = {"history": {k: [float(v) for v in vs] for k, vs in history.items()},
                       "evaluate": {k: float(v) for k, v in logs.items()}}
print(json.dumps(out))
"""

TOP_K = (metrics.TopKCategoricalAccuracy, metrics.SparseTopKCategoricalAccuracy)
# (id, units, activation, loss, targets, metrics, weighted_metrics, fit's weights, split); no
# top-k (TensorFlow's in_top_k refuses float64: compared on predictions below)
KERAS_FITS = [
    ("one_hot", 3, "softmax", "categorical_crossentropy", ONE_HOT, ["accuracy", "mse"],
     [m for m in ONE_HOT_METRICS if not isinstance(m, TOP_K)], None, 0.0),
    ("labels", 4, "softmax", "sparse_categorical_crossentropy", LABELS,
     ["sparse_categorical_accuracy"], ["sparse_categorical_accuracy", "accuracy"], None, 0.25),
    ("binary", 1, "sigmoid", "binary_crossentropy", BINARY,
     ["accuracy", metrics.BinaryAccuracy(name="weighted_accuracy")],
     ["accuracy", "auc", metrics.Recall(thresholds=0.3), metrics.PrecisionAtRecall(0.5),
      metrics.FalseNegatives()], {0: 0.4, 1: 2.5}, 0.0),
    ("multi_label", 3, "sigmoid", "binary_crossentropy", MULTI_LABEL,
     [metrics.BinaryAccuracy(threshold=0.6)],
     [metrics.BinaryAccuracy(threshold=0.6), "mae", metrics.AUC(multi_label=True, curve="PR"),
      metrics.F1Score(threshold=0.5, average="weighted")], None, 0.2),
    ("regression", 2, None, "mse", np.stack([_score, X[:, 2]], axis=1), ["mse"],
     ["mse", "mae", metrics.RootMeanSquaredError()], None, 0.0),
]  # fmt: skip
# (data, metric): every kind, each alone, on a float32 model's predictions
KERAS_UPDATES = [
    ("one_hot", m)
    for m in [
        metrics.CategoricalAccuracy(), metrics.MeanSquaredError(), metrics.MeanAbsoluteError(),
        metrics.RootMeanSquaredError(), metrics.TopKCategoricalAccuracy(k=2), metrics.Precision(),
        metrics.Recall(class_id=1), metrics.TrueNegatives(), metrics.AUC(), metrics.AUC(curve="PR"),
        metrics.SpecificityAtSensitivity(0.6), metrics.F1Score(average="macro"),
        metrics.FBetaScore(beta=2.0, threshold=0.4, average="weighted"),
    ]
] + [
    ("labels", metrics.SparseCategoricalAccuracy()),
    ("labels", metrics.SparseTopKCategoricalAccuracy(k=2)),
    ("multi_label", metrics.BinaryAccuracy(threshold=0.4)),
    ("multi_label", metrics.AUC(multi_label=True)),
]  # fmt: skip
_UPDATE_DATA = {
    "one_hot": (3, "softmax", "categorical_crossentropy", ONE_HOT),
    "labels": (4, "softmax", "sparse_categorical_crossentropy", LABELS),
    "multi_label": (3, "sigmoid", "binary_crossentropy", MULTI_LABEL),
}


def _keras_config(m):
    if isinstance(m, str):
        return m
    return {"class_name": type(m).__name__, "config": m.get_config()}


def _fit_cases(arrays: dict) -> tuple[list, dict]:
    """Our fits of KERAS_FITS (their logs by id) and what Keras needs to repeat them."""
    cases, ours = [], {}
    xv, wv = X[::-1].copy(), np.linspace(2.0, 0.0, N)
    for key, units, activation, loss, y, plain, weighted, class_weight, split in KERAS_FITS:
        model = _model(units, activation, loss, plain=plain, weighted=weighted, lr=0.3)
        arrays.update({f"{key}/w{i}": w for i, w in enumerate(model.get_weights())})
        arrays.update({f"{key}/x": X, f"{key}/y": y, f"{key}/sw": W, f"{key}/xv": xv,
                       f"{key}/yv": y[::-1].copy(), f"{key}/wv": wv})  # fmt: skip
        fit = {"class_weight": class_weight} if class_weight else {"sample_weight": W}
        fit.update({"validation_split": split} if split else {"validation_data": (xv, y[::-1], wv)})
        history = model.fit(X, y, batch_size=16, epochs=2, shuffle=False, verbose=0, **fit)
        logs = model.evaluate(X, y, sample_weight=W, verbose=0, return_dict=True)
        ours[key] = {"history": history.history, "evaluate": logs}
        cases.append({"id": key, "units": units, "activation": activation, "loss": loss,
                      "metrics": [_keras_config(m) for m in plain],
                      "weighted_metrics": [_keras_config(m) for m in weighted],
                      "class_weight": class_weight, "validation_split": split})  # fmt: skip
    return cases, ours


def _update_cases(arrays: dict) -> tuple[list, list]:
    """Our weighted evaluate of each KERAS_UPDATES metric on a float32 model (as Keras counts in
    float32: the same outputs against the same thresholds), and the predictions for Keras."""
    cases, ours = [], []
    for data, metric in KERAS_UPDATES:
        units, activation, loss, y = _UPDATE_DATA[data]
        model = _model(units, activation, loss, weighted=[metric], lr=0.5, dtype="float32")
        model.fit(X, y, epochs=2, batch_size=16, verbose=0)
        logs = model.evaluate(X, y, sample_weight=W, verbose=0, return_dict=True)
        ours.append(float(np.mean(logs[metric.name])))
        key = f"update/{data}/{len(cases)}"
        arrays.update({f"{key}/y": y, f"{key}/p": model.predict(X, verbose=0), f"{key}/w": W})
        cases.append({"data": f"{data}/{len(cases)}", "metric": _keras_config(metric)})
    return cases, ours


def test_fit_evaluate_and_every_metric_kind_match_keras(tmp_path) -> None:
    """Same weights, data and sample / class weights, float64, no shuffling: Keras 3's history and
    evaluate give the same values under the same names; and each metric kind, updated with the
    sample weights on the same float32 predictions, Keras's weighted value."""
    arrays: dict = {}
    fits, ours = _fit_cases(arrays)
    updates, our_updates = _update_cases(arrays)
    (tmp_path / "spec.json").write_text(json.dumps({"fit": fits, "update": updates}))
    np.savez(tmp_path / "data.npz", **arrays)
    stdout = run_keras(KERAS_SCRIPT, str(tmp_path / "spec.json"), str(tmp_path / "data.npz"))
    theirs = json.loads(stdout.strip().splitlines()[-1])
    for key, mine in ours.items():
        keras_history, keras_logs = theirs[key]["history"], theirs[key]["evaluate"]
        assert set(mine["history"]) == set(keras_history), key
        assert set(mine["evaluate"]) == set(keras_logs), key
        for name, values in keras_history.items():
            assert mine["history"][name] == pytest.approx(values, rel=1e-7, abs=1e-9), (key, name)
        for name, value in keras_logs.items():
            assert mine["evaluate"][name] == pytest.approx(value, rel=1e-7, abs=1e-9), (key, name)
    for (_, metric), mine, keras_value in zip(KERAS_UPDATES, our_updates, theirs["update"]):
        assert mine == pytest.approx(keras_value, rel=2e-6, abs=1e-7), repr(metric.get_config())
