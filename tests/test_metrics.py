"""Metrics: "accuracy" of the kind Keras picks for the loss, the "mse" / "mae" / "rmse" metrics and
the top-k accuracies, from
`model.evaluate` against values computed here from `model.predict`'s output.
"""

from __future__ import annotations

import json
from typing import Any

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import _accuracy_rules, layers, losses, metrics
from keras_run import run_keras

IN, N = 6, 40
X = np.random.default_rng(0).normal(size=(N, IN))
_t = np.random.default_rng(1)
LABELS = _t.integers(0, 4, N)
ONE_HOT = np.eye(4)[LABELS]
BINARY = _t.integers(0, 2, (N, 1)).astype(float)
MULTI_LABEL = _t.integers(0, 2, (N, 3)).astype(float)
PM1 = _t.choice([-1.0, 1.0], size=(N, 1))
TARGETS = _t.normal(size=(N, 3))


def model_for(
    units: int, activation: str | None, loss: Any, metric_list: list[Any], seed: int = 0
) -> Any:
    """A one-layer float64 model with random (seeded) weights, compiled with `metric_list`."""
    model = fm.Sequential(
        [layers.Input(shape=(IN,)), layers.Dense(units, activation=activation)],
        seed=seed,
        dtype="float64",
    )
    model.compile(optimizer="sgd", loss=loss, metrics=metric_list)
    rng = np.random.default_rng(seed + 10)
    model.set_weights([rng.normal(size=(IN, units)), rng.normal(scale=0.3, size=units)])
    return model


def _not_trivial(value: float) -> float:
    # A meaningful check needs some right and some wrong predictions.
    assert 0.0 < value < 1.0
    return value


# -- accuracy kinds ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["accuracy", "acc", "sparse_categorical_accuracy"])
def test_sparse_ce_accuracy_is_argmax_against_label(name: str) -> None:
    model = model_for(4, "softmax", "sparse_categorical_crossentropy", [name])
    p = model.predict(X, verbose=0)
    expected = _not_trivial(np.mean(p.argmax(axis=1) == LABELS))
    logs = model.evaluate(X, LABELS, verbose=0, return_dict=True)
    assert logs[name] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", ["accuracy", "categorical_accuracy"])
def test_categorical_ce_accuracy_is_argmax_against_argmax(name: str) -> None:
    model = model_for(4, "softmax", "categorical_crossentropy", [name])
    p = model.predict(X, verbose=0)
    expected = _not_trivial(np.mean(p.argmax(axis=1) == ONE_HOT.argmax(axis=1)))
    assert model.evaluate(X, ONE_HOT, verbose=0, return_dict=True)[name] == pytest.approx(expected)


def test_categorical_accuracy_with_soft_targets_uses_their_argmax() -> None:
    soft = 0.7 * ONE_HOT + 0.3 * np.random.default_rng(5).dirichlet(np.ones(4), N)
    model = model_for(4, "softmax", "categorical_crossentropy", ["accuracy"])
    p = model.predict(X, verbose=0)
    expected = _not_trivial(np.mean(p.argmax(axis=1) == soft.argmax(axis=1)))
    assert model.evaluate(X, soft, verbose=0, return_dict=True)["accuracy"] == pytest.approx(
        expected
    )


@pytest.mark.parametrize(
    ("targets", "seed"),
    [pytest.param(BINARY, 0, id="one-output"), pytest.param(MULTI_LABEL, 1, id="three-outputs")],
)
def test_binary_ce_accuracy_thresholds_at_one_half(targets: np.ndarray, seed: int) -> None:
    units = targets.shape[1]
    model = model_for(units, "sigmoid", "binary_crossentropy", ["accuracy"], seed=seed)
    p = model.predict(X, verbose=0)
    expected = _not_trivial(np.mean((p > 0.5) == (targets > 0.5)))  # per output, as Keras
    assert model.evaluate(X, targets, verbose=0, return_dict=True)["accuracy"] == pytest.approx(
        expected
    )


def test_binary_ce_from_logits_accuracy_thresholds_at_zero() -> None:
    model = model_for(1, None, losses.BinaryCrossentropy(from_logits=True), ["accuracy"])
    z = model.predict(X, verbose=0)
    expected = _not_trivial(np.mean((z > 0) == (BINARY > 0.5)))
    # Thresholding logits at 0.5 would give a different number on this data.
    assert expected != np.mean((z > 0.5) == (BINARY > 0.5))
    assert model.evaluate(X, BINARY, verbose=0, return_dict=True)["accuracy"] == pytest.approx(
        expected
    )


def test_binary_accuracy_object_uses_its_threshold() -> None:
    metric = metrics.BinaryAccuracy(name="acc_at_0.7", threshold=0.7)
    model = model_for(1, "sigmoid", "binary_crossentropy", [metric])
    p = model.predict(X, verbose=0)
    expected = _not_trivial(np.mean((p > 0.7) == (BINARY > 0.5)))
    assert expected != np.mean((p > 0.5) == (BINARY > 0.5))
    logs = model.evaluate(X, BINARY, verbose=0, return_dict=True)
    assert logs["acc_at_0.7"] == pytest.approx(expected)


def test_plus_minus_one_labels_with_mse_and_tanh_count_sign_agreement() -> None:
    model = model_for(1, "tanh", "mse", ["accuracy"])
    p = model.predict(X, verbose=0)
    expected = _not_trivial(np.mean(np.sign(p) == np.sign(PM1)))
    assert model.evaluate(X, PM1, verbose=0, return_dict=True)["accuracy"] == pytest.approx(
        expected
    )


def test_plus_minus_one_training_labels_fix_the_sign_rule_for_one_class_sets() -> None:
    # After training on {-1, +1} labels, a set of +1 points alone (no negative target to tell)
    # is still counted by sign: as validation data and in evaluate.
    model = model_for(1, "tanh", "mse", ["accuracy"])
    positive = PM1[:, 0] > 0
    xp, yp = X[positive], PM1[positive]
    history = model.fit(X, PM1, epochs=1, batch_size=N, validation_data=(xp, yp), verbose=0)
    p = model.predict(xp, verbose=0)
    expected = _not_trivial(np.mean(p > 0))
    assert expected != np.mean(p > 0.5)  # the {0, 1} rule would count otherwise
    logs = model.evaluate(xp, yp, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(expected)
    assert history.history["val_accuracy"] == [pytest.approx(expected)]
    # Training on {0, 1} labels brings back the 0.5 threshold.
    model.compile(optimizer=fm.optimizers.SGD(0.0), loss="mse", metrics=["accuracy"])
    model.fit(X, (PM1 + 1) / 2, epochs=1, batch_size=N, verbose=0)
    logs = model.evaluate(xp, (yp + 1) / 2, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(np.mean(p > 0.5))


@pytest.mark.parametrize("loss", ["hinge", "logistic"])
def test_hinge_and_logistic_accuracy_count_sign_agreement(loss: str) -> None:
    model = model_for(1, None, loss, ["accuracy"])
    s = model.predict(X, verbose=0)
    expected = _not_trivial(np.mean((s > 0) == (PM1 > 0)))
    assert model.evaluate(X, PM1, verbose=0, return_dict=True)["accuracy"] == pytest.approx(
        expected
    )
    # {0, 1} labels mean the same classes.
    logs01 = model.evaluate(X, (PM1 + 1) / 2, verbose=0, return_dict=True)
    assert logs01["accuracy"] == pytest.approx(expected)


def test_accuracy_is_the_same_in_every_batch_size() -> None:
    model = model_for(4, "softmax", "sparse_categorical_crossentropy", ["accuracy"])
    results = [
        model.evaluate(X, LABELS, batch_size=b, verbose=0, return_dict=True)["accuracy"]
        for b in (1, 7, 32, N)
    ]
    assert results == pytest.approx([results[0]] * 4)


def test_train_on_batch_accuracy_is_on_the_weights_before_the_step() -> None:
    model = model_for(4, "softmax", "sparse_categorical_crossentropy", ["accuracy"])
    p = model.predict(X, verbose=0)
    logs = model.train_on_batch(X, LABELS, return_dict=True)
    assert logs["accuracy"] == pytest.approx(np.mean(p.argmax(axis=1) == LABELS))


# -- mse / mae metrics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "loss"),
    [
        pytest.param(["mse", "mae"], "mse", id="short-names-mse-loss"),
        pytest.param(
            ["mean_squared_error", "mean_absolute_error"], "mae", id="long-names-mae-loss"
        ),
        pytest.param(
            [metrics.MeanSquaredError(name="sq"), metrics.MeanAbsoluteError(name="ab")],
            "mse",
            id="objects",
        ),
    ],
)
def test_mse_and_mae_metrics_match_numpy(names: list[Any], loss: str) -> None:
    model = model_for(3, "tanh", loss, names)
    p = model.predict(X, verbose=0)
    logs = model.evaluate(X, TARGETS, batch_size=7, verbose=0, return_dict=True)
    keys = [n if isinstance(n, str) else n.name for n in names]
    assert logs[keys[0]] == pytest.approx(np.mean((p - TARGETS) ** 2), rel=1e-12)
    assert logs[keys[1]] == pytest.approx(np.mean(np.abs(p - TARGETS)), rel=1e-12)


@pytest.mark.parametrize("name", ["rmse", "root_mean_squared_error", "RootMeanSquaredError"])
def test_rmse_is_the_root_of_the_mean_over_every_output(name: str) -> None:
    model = model_for(3, "tanh", "mae", [name, "mse"])
    p = model.predict(X, verbose=0)
    logs = model.evaluate(X, TARGETS, batch_size=7, verbose=0, return_dict=True)
    assert logs[name] == pytest.approx(np.sqrt(np.mean((p - TARGETS) ** 2)), rel=1e-12)
    assert isinstance(metrics.get(name), metrics.RootMeanSquaredError)


def test_mse_metric_on_probabilities_of_a_fused_softmax() -> None:
    # With softmax + categorical cross-entropy the engine computes the loss from logits; the
    # metrics must still see the probabilities that predict returns.
    model = model_for(4, "softmax", "categorical_crossentropy", ["mse", "mae"])
    p = model.predict(X, verbose=0)
    logs = model.evaluate(X, ONE_HOT, verbose=0, return_dict=True)
    assert logs["mse"] == pytest.approx(np.mean((p - ONE_HOT) ** 2), rel=1e-12)
    assert logs["mae"] == pytest.approx(np.mean(np.abs(p - ONE_HOT)), rel=1e-12)


def test_mse_metric_with_sparse_labels_is_refused_at_compile() -> None:
    # Error metrics need one target per output; sparse labels give one per sample.
    with pytest.raises(ValueError, match=r"metrics: \['mse'\].*class labels"):
        model_for(4, "softmax", "sparse_categorical_crossentropy", ["mse"])


# An accuracy that reads another kind of target than the loss's y (one-hot vs labels) once read
# n * k labels from n (garbage, then a segfault for large n): refused at compile, and the engine
# refuses the mismatch itself.
@pytest.mark.parametrize(
    ("metric", "loss", "match"),
    [
        ("categorical_accuracy", "sparse_categorical_crossentropy", "need one target per output"),
        ("binary_accuracy", "sparse_categorical_crossentropy", "need one target per output"),
        ("sparse_categorical_accuracy", "categorical_crossentropy", "need class labels"),
        ("sparse_categorical_accuracy", "mse", "need class labels"),
    ],
)
def test_an_accuracy_of_the_other_target_kind_is_refused_at_compile(metric, loss, match) -> None:
    with pytest.raises(ValueError, match=rf"metrics: \['{metric}'\] {match}"):
        model_for(4, "softmax", loss, [metric])
    model_for(4, "softmax", loss, ["accuracy"])  # the right kind for the loss is accepted


@pytest.mark.parametrize("mode", [_accuracy_rules.ARGMAX_ONEHOT, _accuracy_rules.THRESHOLD])
def test_the_engine_refuses_a_per_output_accuracy_on_labels(mode) -> None:
    rng = np.random.default_rng(0)
    n, k = 65536, 10  # large enough that reading n * k labels left the array
    x = rng.random((n, IN))
    labels = rng.integers(0, k, (n, 1)).astype(np.float64)
    model = model_for(k, "softmax", "sparse_categorical_crossentropy", ["accuracy"])
    model._engine.set_accuracy(mode, 0.5, 0.5)
    with pytest.raises(
        ValueError, match="accuracy reads one target per output, but this loss's y has 1"
    ):
        model._engine.evaluate(x, labels, n)
    with pytest.raises(ValueError, match="accuracy reads one target per output"):
        model._engine.train_on_batch(x[:32], labels[:32])
    model._engine.set_accuracy(_accuracy_rules.ARGMAX_SPARSE, 0.5, 0.5)
    assert model._engine.evaluate(x, labels, n).samples == n


def test_the_gpu_engines_numpy_twin_refuses_the_mismatch_too() -> None:
    model = fm.Sequential(
        [layers.Input(shape=(IN,)), layers.Dense(4, activation="softmax")],
        dtype="float64",
        device="numpy",
    )
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model._engine.set_accuracy(_accuracy_rules.ARGMAX_ONEHOT, 0.5, 0.5)
    with pytest.raises(ValueError, match="accuracy reads one target per output, but this loss"):
        model._engine.evaluate(X, LABELS.reshape(-1, 1).astype(float), 8)


def test_the_engine_refuses_a_label_accuracy_on_one_hot_targets() -> None:
    model = model_for(4, "softmax", "categorical_crossentropy", ["accuracy"])
    model._engine.set_accuracy(_accuracy_rules.ARGMAX_SPARSE, 0.5, 0.5)
    with pytest.raises(
        ValueError, match="accuracy reads one class label per sample, but this loss's y has 4"
    ):
        model._engine.evaluate(X, ONE_HOT, 8)


def test_metrics_use_raw_targets_with_label_smoothing() -> None:
    loss = losses.CategoricalCrossentropy(label_smoothing=0.2)
    model = model_for(4, "softmax", loss, ["mse"])
    p = model.predict(X, verbose=0)
    logs = model.evaluate(X, ONE_HOT, verbose=0, return_dict=True)
    assert logs["mse"] == pytest.approx(np.mean((p - ONE_HOT) ** 2), rel=1e-12)


def test_metrics_use_raw_targets_with_hinge_zero_one_labels() -> None:
    y01 = (PM1 + 1) / 2
    model = model_for(1, "tanh", "hinge", ["mae"])
    p = model.predict(X, verbose=0)
    logs = model.evaluate(X, y01, verbose=0, return_dict=True)
    assert logs["mae"] == pytest.approx(np.mean(np.abs(p - y01)), rel=1e-12)


# Losses that prepare their targets (smoothing, {0, 1} -> {-1, +1}) with the targets as passed.
PREPARED_TARGETS = {
    "categorical, label smoothing": (4, "softmax", lambda: losses.CategoricalCrossentropy(label_smoothing=0.2), ONE_HOT),
    "binary, label smoothing": (3, "sigmoid", lambda: losses.BinaryCrossentropy(label_smoothing=0.1), MULTI_LABEL),
    "hinge, {0, 1}": (1, "tanh", lambda: "hinge", (PM1 + 1) / 2),
    "hinge, {-1, +1}": (1, "tanh", lambda: "hinge", PM1),
    "logistic, {0, 1}": (1, None, lambda: "logistic", (PM1 + 1) / 2),
}  # fmt: skip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(PREPARED_TARGETS))
def test_error_metrics_compare_with_the_targets_as_passed(case, dtype) -> None:
    units, activation, loss, y = PREPARED_TARGETS[case]
    model = fm.Sequential(
        [layers.Input(shape=(IN,)), layers.Dense(units, activation=activation)], dtype=dtype
    )
    model.compile(optimizer="sgd", loss=loss(), metrics=["mse", "mae"])
    model.set_weights([np.random.default_rng(3).normal(size=(IN, units)), np.zeros(units)])
    d = model.predict(X, verbose=0).astype(np.float64) - y
    logs = model.evaluate(X, y, verbose=0, return_dict=True)
    rel = 1e-12 if dtype == "float64" else 1e-5
    assert logs["mse"] == pytest.approx(np.mean(d**2), rel=rel)
    assert logs["mae"] == pytest.approx(np.mean(np.abs(d)), rel=rel)


def test_training_and_validation_metrics_each_use_their_own_targets_as_passed() -> None:
    """Training y in {0, 1}, validation y in {-1, +1}: with a learning rate of 0 the weights stay,
    so the epoch's metrics are evaluate's on each set."""
    model = model_for(1, "tanh", "hinge", ["mae", "mse"])
    model.compile(
        optimizer=fm.optimizers.SGD(learning_rate=0.0), loss="hinge", metrics=["mae", "mse"]
    )
    y01 = (PM1 + 1) / 2
    history = model.fit(X, y01, batch_size=8, epochs=2, validation_data=(X, PM1), verbose=0)
    train = model.evaluate(X, y01, verbose=0, return_dict=True)
    val = model.evaluate(X, PM1, verbose=0, return_dict=True)
    for name in ("mae", "mse"):
        assert history.history[name] == pytest.approx([train[name]] * 2, rel=1e-12)
        assert history.history[f"val_{name}"] == pytest.approx([val[name]] * 2, rel=1e-12)
    assert train["mae"] != pytest.approx(val["mae"])  # the two sets differ as passed


# -- names and return forms ----------------------------------------------------------------------


def test_evaluate_return_dict_keys_follow_compile_order() -> None:
    model = model_for(4, "softmax", "categorical_crossentropy", ["mae", "accuracy", "mse"])
    logs = model.evaluate(X, ONE_HOT, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "mae", "accuracy", "mse"]
    assert model.metrics_names == ["loss", "mae", "accuracy", "mse"]
    values = model.evaluate(X, ONE_HOT, verbose=0)
    assert values == pytest.approx([logs[k] for k in logs])


def test_evaluate_without_metrics_returns_the_loss_alone() -> None:
    model = model_for(4, "softmax", "categorical_crossentropy", [])
    value = model.evaluate(X, ONE_HOT, verbose=0)
    assert isinstance(value, float)
    assert model.evaluate(X, ONE_HOT, verbose=0, return_dict=True) == {"loss": value}


def test_fit_history_has_metric_and_validation_keys() -> None:
    model = model_for(4, "softmax", "categorical_crossentropy", ["accuracy", "mae"])
    history = model.fit(
        X, ONE_HOT, epochs=2, batch_size=8, validation_split=0.25, verbose=0, shuffle=False
    )
    assert set(history.history) == {
        "loss",
        "accuracy",
        "mae",
        "val_loss",
        "val_accuracy",
        "val_mae",
    }
    assert all(len(v) == 2 for v in history.history.values())


@pytest.mark.parametrize(
    ("identifier", "cls", "name"),
    [
        ("accuracy", metrics.Accuracy, "accuracy"),
        ("acc", metrics.Accuracy, "acc"),
        ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy, None),
        ("categorical_accuracy", metrics.CategoricalAccuracy, None),
        ("binary_accuracy", metrics.BinaryAccuracy, None),
        ("mse", metrics.MeanSquaredError, "mse"),
        ("mean_squared_error", metrics.MeanSquaredError, None),
        ("mae", metrics.MeanAbsoluteError, "mae"),
        ("mean_absolute_error", metrics.MeanAbsoluteError, None),
    ],
)
def test_get_by_name_keeps_the_name(identifier: str, cls: type, name: str | None) -> None:
    metric = metrics.get(identifier)
    assert type(metric) is cls
    assert metric.name == (name or identifier)


def test_get_by_class_and_object() -> None:
    assert type(metrics.get(metrics.CategoricalAccuracy)) is metrics.CategoricalAccuracy
    metric = metrics.BinaryAccuracy(threshold=0.3)
    assert metrics.get(metric) is metric
    assert metric.get_config() == {"name": "binary_accuracy", "threshold": 0.3}


# -- top-k accuracies ----------------------------------------------------------------------------


def _in_top_k(p: np.ndarray, labels: np.ndarray, k: int) -> float:
    """TensorFlow's in_top_k in NumPy: fewer than k outputs strictly above the label's output,
    and that output finite."""
    own = p[np.arange(len(labels)), labels]
    above = (p > own[:, None]).sum(axis=1)
    return float(np.mean((above < k) & np.isfinite(own)))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_top_k_accuracies_match_numpy(k: int) -> None:
    sparse = model_for(4, "softmax", "sparse_categorical_crossentropy",
                       [metrics.SparseTopKCategoricalAccuracy(k=k, name="top")])  # fmt: skip
    onehot = model_for(4, "softmax", "categorical_crossentropy",
                       [metrics.TopKCategoricalAccuracy(k=k, name="top")])  # fmt: skip
    p = sparse.predict(X, verbose=0)
    want = _in_top_k(p, LABELS, k)
    if k < 4:
        _not_trivial(want)
    assert sparse.evaluate(X, LABELS, batch_size=7, verbose=0, return_dict=True)["top"] == want
    assert onehot.evaluate(X, ONE_HOT, batch_size=7, verbose=0, return_dict=True)["top"] == want
    # and while training: train_on_batch reports the batch before its step
    assert sparse.train_on_batch(X, LABELS, return_dict=True)["top"] == want


def test_top_k_counts_ties_in_and_non_finite_outputs_out() -> None:
    model = model_for(4, "exponential", "categorical_crossentropy",
                      ["top_k_categorical_accuracy", "accuracy",
                       metrics.TopKCategoricalAccuracy(k=1, name="top1")])  # fmt: skip
    model.set_weights([np.zeros((IN, 4)), np.zeros(4)])  # every output 1: all tied
    logs = model.evaluate(X, ONE_HOT, verbose=0, return_dict=True)
    assert logs["top_k_categorical_accuracy"] == logs["top1"] == 1.0
    assert logs["accuracy"] == np.mean(LABELS == 0)  # (the argmax takes the first)
    model.set_weights([np.zeros((IN, 4)), np.array([1000.0, 0, 0, 0])])  # exp(1000) = inf
    assert model.predict(X[:1], verbose=0)[0, 0] == np.inf
    logs = model.evaluate(X, ONE_HOT, verbose=0, return_dict=True)
    top = _in_top_k(model.predict(X, verbose=0), LABELS, 5)
    assert logs["top_k_categorical_accuracy"] == top == np.mean(LABELS != 0)


def test_top_k_accuracies_match_keras_on_the_same_predictions() -> None:
    model = model_for(4, "softmax", "sparse_categorical_crossentropy", [])
    p = model.predict(X, verbose=0)
    script = (
        "import json, sys, numpy as np, keras\n"
        "d = json.loads(sys.stdin.read())\n"
        "p, labels, onehot = (np.array(d[k], 'float32') for k in ('p', 'labels', 'onehot'))\n"
        "out = []\n"
        "for k in (1, 2, 3):\n"
        "    for m, y in ((keras.metrics.SparseTopKCategoricalAccuracy(k=k), labels),\n"
        "                 (keras.metrics.TopKCategoricalAccuracy(k=k), onehot)):\n"
        "        m.update_state(y, p)\n"
        "        out.append(float(m.result()))\n"
        "print(json.dumps(out))\n"
    )
    payload = {"p": p.tolist(), "labels": LABELS.tolist(), "onehot": ONE_HOT.tolist()}
    theirs = json.loads(run_keras(script, stdin=json.dumps(payload)).strip().splitlines()[-1])
    ours = []
    for k in (1, 2, 3):
        for cls, y, loss in ((metrics.SparseTopKCategoricalAccuracy, LABELS,
                              "sparse_categorical_crossentropy"),
                             (metrics.TopKCategoricalAccuracy, ONE_HOT,
                              "categorical_crossentropy")):  # fmt: skip
            m = model_for(4, "softmax", loss, [cls(k=k, name="top")])
            ours.append(m.evaluate(X, y, verbose=0, return_dict=True)["top"])
    assert ours == pytest.approx(theirs, abs=1e-7)


@pytest.mark.parametrize(
    ("metric", "loss", "match"),
    [
        ("sparse_top_k_categorical_accuracy", "categorical_crossentropy", "need class labels"),
        ("top_k_categorical_accuracy", "sparse_categorical_crossentropy", "one target per output"),
    ],
)
def test_a_top_k_of_the_other_target_kind_is_refused(metric: str, loss: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        model_for(4, "softmax", loss, [metric])


def test_top_k_bad_arguments_and_the_gpu_engine_are_refused() -> None:
    with pytest.raises(ValueError, match="k must be"):
        metrics.TopKCategoricalAccuracy(k=0)
    with pytest.raises(NotImplementedError, match="from_sorted_ids"):
        metrics.SparseTopKCategoricalAccuracy(from_sorted_ids=True)
    model = fm.Sequential([layers.Input(shape=(IN,)), layers.Dense(4)], device="numpy")
    with pytest.raises(NotImplementedError, match="CPU engine only"):
        model.compile(loss="sparse_categorical_crossentropy",
                      metrics=["sparse_top_k_categorical_accuracy"])  # fmt: skip
