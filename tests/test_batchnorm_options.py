"""BatchNormalization's center=False, scale=False, gamma_regularizer and beta_regularizer, as
Keras 3's: the weights are Keras's list ([gamma], [beta], moving_mean, moving_variance), the
penalties enter the loss and its gradient. Checked against the forward and backward pass written
here in NumPy, finite differences, and Keras 3 itself where installed (same predictions, the same
weights and losses after three epochs of SGD, the same summary counts and config); then saving,
a frozen layer, the sparse first layer, and the arguments refused."""

from __future__ import annotations

import json
import pickle

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, optimizers, regularizers
from keras_run import run_keras
from test_normalization import numeric_gradient
from test_sparse_inputs import mnist_like, on_both_paths

RNG = np.random.default_rng(7)
X = RNG.normal(size=(64, 5)) * [1.0, 3.0, 0.5, 2.0, 1.0] + [1.0, -2.0, 0.0, 5.0, 0.3]
LABELS = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
EPSILON = 1e-3

# (center, scale): every combination
COMBINATIONS = [(True, True), (True, False), (False, True), (False, False)]
IDS = ["center-scale", "center-only", "scale-only", "neither"]


def _penalties() -> dict:
    """Regularizers on both (the one on a missing weight is ignored, as in Keras)."""
    return {
        "gamma_regularizer": regularizers.L1L2(l1=0.02, l2=0.05),
        "beta_regularizer": regularizers.L2(0.1),
    }


def _bn_weights(center: bool, scale: bool, features: int, seed: int = 3) -> list[np.ndarray]:
    """Weights away from their initial values: [gamma], [beta], moving_mean, moving_variance."""
    rng = np.random.default_rng(seed)
    gamma = 1 + 0.3 * rng.normal(size=features)
    beta = 0.2 * rng.normal(size=features)
    moving = [0.5 * rng.normal(size=features), np.exp(0.4 * rng.normal(size=features))]
    return [gamma] * scale + [beta] * center + moving


def _regression_model(center, scale, trainable=True, **bn) -> fm.Sequential:
    """Input(5) -> Dense(4) -> BatchNormalization: the outputs, mean squared error."""
    model = fm.Sequential(
        [
            layers.Input(shape=(5,)),
            layers.Dense(4),
            layers.BatchNormalization(center=center, scale=scale, trainable=trainable, **bn),
        ],
        dtype="float64",
        seed=1,
    )
    model.compile(optimizers.SGD(0.1), "mse")
    model.layers[1].set_weights(_bn_weights(center, scale, 4))
    return model


def _reference(x, y, w, b, gamma, beta, penalty):
    """Loss and gradients of mean((BN(x W + b) - y)^2) + penalties, with the batch's statistics:
    (loss, dW, db, dgamma, dbeta); gamma / beta None where the layer has none."""
    n, k = y.shape
    z = x @ w + b
    mean, var = z.mean(0), z.var(0)
    inv_std = 1 / np.sqrt(var + EPSILON)
    xhat = (z - mean) * inv_std
    g = np.ones(k) if gamma is None else gamma
    out = xhat * g + (0 if beta is None else beta)
    loss = np.mean((out - y) ** 2)
    dout = 2 * (out - y) / (n * k)
    dxhat = dout * g
    dz = inv_std / n * (n * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))
    grads = [x.T @ dz, dz.sum(0), (dout * xhat).sum(0), dout.sum(0)]
    for i, (value, (l1, l2)) in enumerate(zip((gamma, beta), penalty)):
        if value is not None:
            loss += l1 * np.abs(value).sum() + l2 * (value**2).sum()
            grads[2 + i] = grads[2 + i] + l1 * np.sign(value) + 2 * l2 * value
    return loss, *grads


@pytest.mark.parametrize(("center", "scale"), COMBINATIONS, ids=IDS)
def test_loss_gradient_and_predictions_match_numpy(center, scale) -> None:
    model = _regression_model(center, scale, **_penalties())
    bn = model.layers[1]
    w, b = model.layers[0].get_weights()
    weights = bn.get_weights()
    gamma = weights.pop(0) if scale else None
    beta = weights.pop(0) if center else None
    moving_mean, moving_var = weights
    y = RNG.normal(size=(len(X), 4))
    penalty = [(0.02, 0.05), (0.0, 0.1)]
    loss, *expected = _reference(X, y, w, b, gamma, beta, penalty)
    got_loss, grad = model._engine.loss_and_gradient(X, y)
    assert got_loss == pytest.approx(loss, rel=1e-12)
    present = [True, True, scale, center]
    expected = np.concatenate([np.ravel(g) for g, p in zip(expected, present) if p])
    np.testing.assert_allclose(grad[: expected.size], expected, rtol=1e-9, atol=1e-14)
    assert not grad[expected.size :].any()  # the moving statistics
    # predict: the moving statistics
    out = (X @ w + b - moving_mean) / np.sqrt(moving_var + EPSILON)
    out = out * (1 if gamma is None else gamma) + (0 if beta is None else beta)
    np.testing.assert_allclose(model.predict(X, verbose=0), out, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("center", "scale"), COMBINATIONS, ids=IDS)
def test_gradient_with_penalties_matches_finite_differences(center, scale) -> None:
    model = fm.Sequential(
        [
            layers.Input(shape=(5,)),
            layers.Dense(4),
            layers.BatchNormalization(center=center, scale=scale, **_penalties()),
            layers.Activation("tanh"),
            layers.Dense(2, activation="softmax"),
        ],
        dtype="float64",
        seed=1,
    )
    model.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    model.layers[1].set_weights(_bn_weights(center, scale, 4))
    engine, x, y = model._engine, X[:12], LABELS[:12, None].astype(float)
    _, grad = engine.loss_and_gradient(x, y)
    np.testing.assert_allclose(grad, numeric_gradient(engine, x, y), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("center", "scale"), COMBINATIONS, ids=IDS)
def test_weights_counts_and_moving_statistics_follow_keras_list(center, scale) -> None:
    model = _regression_model(center, scale)
    bn = model.layers[1]
    count = int(center) + int(scale)
    assert [w.shape for w in bn.get_weights()] == [(4,)] * (count + 2)
    assert len(bn.weights) == count + 2
    assert bn.count_params() == 4 * (count + 2) and model.count_params() == 24 + 4 * (count + 2)
    assert len(bn.trainable_weights) == count and len(bn.non_trainable_weights) == 2
    fresh = fm.Sequential(
        [layers.Input(shape=(4,)), layers.BatchNormalization(center=center, scale=scale)]
    )
    initial = [np.ones(4)] * scale + [np.zeros(4)] * center + [np.zeros(4), np.ones(4)]
    for got, want in zip(fresh.get_weights(), initial, strict=True):
        np.testing.assert_array_equal(got, want)
    # one epoch of 4 steps: moving = moving * 0.99 + batch * 0.01, from the Dense's outputs
    mean, var = bn.get_weights()[count:]
    first = model.layers[0]
    y = RNG.normal(size=(len(X), 4))
    for i in range(0, 64, 16):
        z = X[i : i + 16] @ first.kernel + first.bias  # (the Dense's weights before this step)
        mean, var = mean * 0.99 + z.mean(0) * 0.01, var * 0.99 + z.var(0) * 0.01
        model.fit(X[i : i + 16], y[i : i + 16], batch_size=16, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(bn.get_weights()[count], mean, rtol=1e-12)
    np.testing.assert_allclose(bn.get_weights()[count + 1], var, rtol=1e-12)


# -- Keras 3 itself ---------------------------------------------------------------------------

# (id, BatchNormalization's arguments, what Keras gets instead, SGD's clipnorm); each in Input(5) ->
# Dense(4) -> BN -> tanh -> Dense(2). Penalty factors are exact in float32: Keras 3 on TensorFlow casts a
# regularizer's Python float factor to the weights' dtype through a float32 tensor, so its float64
# L2(0.1) is L2(float32(0.1)); the last case shows it.
F32_01, F32_003 = float(np.float32(0.1)), float(np.float32(0.03))
KERAS_CASES = [
    ("center-scale", {}, {}, 0.0),
    ("center-only", {"scale": False}, {}, 0.0),
    ("scale-only", {"center": False}, {}, 0.0),
    ("neither", {"center": False, "scale": False}, {}, 0.0),
    ("both-penalized", {"gamma_regularizer": regularizers.L1L2(0.03125, 0.0625),
                        "beta_regularizer": regularizers.L2(0.125)}, {}, 0.0),
    ("center-only-penalized", {"scale": False, "beta_regularizer": regularizers.L1(0.0625),
                               "gamma_regularizer": regularizers.L2(0.125)}, {}, 0.0),
    ("scale-only-penalized", {"center": False, "gamma_regularizer": regularizers.L1(0.0625),
                              "beta_regularizer": regularizers.L2(0.125)}, {}, 0.0),
    ("frozen-penalized", {"trainable": False, "gamma_regularizer": regularizers.L2(0.125),
                          "beta_regularizer": regularizers.L1(0.0625)}, {}, 0.0),
    ("float32-factors", {"gamma_regularizer": regularizers.L1L2(F32_003, F32_01),
                         "beta_regularizer": regularizers.L2(F32_01)},
     {"gamma_regularizer": {"class_name": "L1L2", "config": {"l1": 0.03, "l2": 0.1}},
      "beta_regularizer": {"class_name": "L2", "config": {"l2": 0.1}}}, 0.0),
    # Keras's clipnorm clips each variable's gradient: gamma's and beta's too
    ("clipnorm", {"beta_regularizer": regularizers.L2(0.125)}, {}, 0.02),
]  # fmt: skip

KERAS_SCRIPT = """
import json, sys
import numpy as np
import keras

keras.config.set_floatx("float64")
cases, data = json.load(open(sys.argv[1])), np.load(sys.argv[2])
x, y = data["x"], data["y"]
out, info = {}, {}
for case in cases:
    key, config = case["id"], case["config"]
    bn = keras.layers.BatchNormalization.from_config(config)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), bn,
        keras.layers.Activation("tanh"), keras.layers.Dense(2, activation="softmax")])
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    counts = [line.strip() for text in lines for line in text.splitlines() if "params:" in line]
    model.set_weights([data[key + "/w" + str(i)] for i in range(case["weights"])])
    out[key + "/predict"] = model.predict(x, verbose=0)
    sgd = keras.optimizers.SGD(0.1, clipnorm=case["clipnorm"] or None)
    model.compile(sgd, "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    out[key + "/loss"] = np.array(history.history["loss"])
    out[key + "/evaluate"] = np.array(model.evaluate(x, y, batch_size=16, verbose=0))
    for i, w in enumerate(model.get_weights()):
        out[key + "/trained" + str(i)] = w
    theirs = bn.get_config()
    info[key] = {
        "counts": counts,
        "names": [w.path.split("/")[-1] for w in bn.weights],
        "config": {k: theirs[k] for k in ("center", "scale", "gamma_regularizer", "beta_regularizer")},
    }
np.savez(sys.argv[3], **out)
print(json.dumps(info))
"""


def _keras_case_model(arguments: dict) -> fm.Sequential:
    model = fm.Sequential(
        [
            layers.Input(shape=(5,)),
            layers.Dense(4),
            layers.BatchNormalization(**arguments),
            layers.Activation("tanh"),
            layers.Dense(2, activation="softmax"),
        ],
        dtype="float64",
        seed=5,
    )
    bn = model.layers[1]
    bn.set_weights(_bn_weights(bn.center, bn.scale, 4))
    return model


def _strip_module(regularizer):
    """Keras's serialized regularizer as ours: class name and config only."""
    return regularizer and {k: regularizer[k] for k in ("class_name", "config")}


@pytest.fixture(scope="module")
def keras_results(tmp_path_factory):
    """Keras 3's results for KERAS_CASES (one subprocess for all): (arrays, info)."""
    tmp = tmp_path_factory.mktemp("keras_bn")
    arrays, cases = {"x": X, "y": LABELS}, []
    for key, arguments, instead, clipnorm in KERAS_CASES:
        model = _keras_case_model(arguments)
        weights = model.get_weights()
        arrays.update({f"{key}/w{i}": w for i, w in enumerate(weights)})
        config = {**model.layers[1].get_config(), **instead}
        cases.append({"id": key, "config": config, "weights": len(weights), "clipnorm": clipnorm})
    (tmp / "cases.json").write_text(json.dumps(cases))
    np.savez(tmp / "in.npz", **arrays)
    info = run_keras(
        KERAS_SCRIPT, str(tmp / "cases.json"), str(tmp / "in.npz"), str(tmp / "out.npz")
    )
    return dict(np.load(tmp / "out.npz")), json.loads(info)


@pytest.mark.parametrize(
    ("key", "arguments", "instead", "clipnorm"), KERAS_CASES, ids=[c[0] for c in KERAS_CASES]
)
def test_same_as_keras_where_installed(
    key, arguments, instead, clipnorm, keras_results, capsys
) -> None:
    """float64, shuffle=False: predictions from the same weights, then three epochs of SGD (the
    losses with their penalties, the weights, evaluate), the summary's counts, and our config read
    by Keras's from_config."""
    theirs, info = keras_results
    model = _keras_case_model(arguments)
    model.summary()
    counts = [line.strip() for line in capsys.readouterr().out.splitlines() if "params:" in line]
    assert counts == info[key]["counts"]
    bn = model.layers[1]
    names = ["gamma"] * bn.scale + ["beta"] * bn.center + ["moving_mean", "moving_variance"]
    assert info[key]["names"] == names
    ours = {**bn.get_config(), **instead}
    for name, value in info[key]["config"].items():
        assert (_strip_module(value) if "regularizer" in name else value) == ours[name]
    np.testing.assert_allclose(model.predict(X, verbose=0), theirs[f"{key}/predict"], rtol=1e-13)
    sgd = optimizers.SGD(0.1, clipnorm=clipnorm or None)
    model.compile(sgd, "sparse_categorical_crossentropy")
    history = model.fit(X, LABELS, batch_size=16, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], theirs[f"{key}/loss"], rtol=1e-12)
    trained = model.get_weights()
    assert len(trained) == sum(k.startswith(f"{key}/trained") for k in theirs)
    for i, w in enumerate(trained):
        np.testing.assert_allclose(w, theirs[f"{key}/trained{i}"], rtol=1e-12, atol=1e-14)
    loss = model.evaluate(X, LABELS, batch_size=16, verbose=0)
    assert loss == pytest.approx(float(theirs[f"{key}/evaluate"]), rel=1e-12)


# -- saving, a frozen layer, the sparse path --------------------------------------------------


@pytest.mark.parametrize(("center", "scale"), COMBINATIONS, ids=IDS)
def test_saved_pickled_and_configured_models_keep_options_and_penalties(
    center, scale, tmp_path
) -> None:
    model = _regression_model(center, scale, **_penalties())
    y = RNG.normal(size=(len(X), 4))
    model.fit(X, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    copies = [fm.models.load_model(tmp_path / "m.fastmlp"), pickle.loads(pickle.dumps(model))]
    config = model.layers[1].get_config()
    assert (config["center"], config["scale"]) == (center, scale)
    assert config["gamma_regularizer"] == {"class_name": "L1L2", "config": {"l1": 0.02, "l2": 0.05}}
    assert config["beta_regularizer"] == {"class_name": "L2", "config": {"l2": 0.1}}
    assert layers.BatchNormalization.from_config(config).get_config() == config
    for copy in copies:
        assert copy.layers[1].get_config() == config
        for a, b in zip(copy.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    # trained on: the same steps, penalties included
    for m in [model, *copies]:
        m.fit(X, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for copy in copies:
        for a, b in zip(copy.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("center", "scale"), COMBINATIONS, ids=IDS)
def test_a_frozen_layer_keeps_its_weights_and_pays_no_penalty(center, scale) -> None:
    """Keras: frozen, the layer uses its moving statistics, moves none of its weights, and its
    regularizers are out of the loss (Keras regularizes trainable weights only)."""
    model = _regression_model(center, scale, trainable=False, **_penalties())
    plain = _regression_model(center, scale, trainable=False)
    y = RNG.normal(size=(len(X), 4))
    bn = model.layers[1]
    assert (
        bn.trainable_weights == [] and len(bn.non_trainable_weights) == int(center) + int(scale) + 2
    )
    assert model.evaluate(X, y, verbose=0) == plain.evaluate(X, y, verbose=0)
    before = bn.get_weights()
    first = model.layers[0].kernel
    model.compile(optimizers.Adam(0.01), "mse")
    model.fit(X, y, batch_size=16, epochs=2, verbose=0)
    for a, b in zip(before, bn.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first, model.layers[0].kernel)
    # unfrozen: its penalty is back in the loss
    bn.trainable = True
    plain.layers[1].trainable = True
    plain.set_weights(model.get_weights())
    gamma = before[0] if scale else None
    beta = before[int(scale)] if center else None
    penalty = (0.0 if gamma is None else 0.02 * np.abs(gamma).sum() + 0.05 * (gamma**2).sum()) + (
        0.0 if beta is None else 0.1 * (beta**2).sum()
    )
    loss, plain_loss = (m.evaluate(X, y, verbose=0) for m in (model, plain))
    assert loss - plain_loss == pytest.approx(penalty, rel=1e-12, abs=1e-15)


def test_sparse_and_dense_first_layers_agree_with_options_and_penalties() -> None:
    x, y = mnist_like(256, seed=6)

    def run(sparse: bool):
        model = fm.Sequential(
            [
                layers.Input(shape=(784,)),
                layers.Dense(16, use_bias=False),
                layers.BatchNormalization(scale=False, beta_regularizer=regularizers.L2(0.01)),
                layers.Activation("relu"),
                layers.Dense(10, activation="softmax"),
            ],
            seed=5,
        )
        model.compile(optimizers.SGD(0.05), "sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=64, epochs=2, verbose=0)
        assert model._engine.last_batch_sparse == sparse
        return history.history["loss"], model.get_weights()

    (loss_s, w_s), (loss_d, w_d) = on_both_paths(2, run)
    np.testing.assert_allclose(loss_s, loss_d, rtol=1e-4)
    for a, b in zip(w_s, w_d, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


# -- refused arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"center": "no"}, TypeError, r"center must be True or False, got 'no'"),
        ({"scale": 1}, TypeError, r"scale must be True or False, got 1"),
        ({"gamma_regularizer": "l3"}, ValueError, r"gamma_regularizer: Unknown regularizer 'l3'"),
        ({"beta_regularizer": 0.1}, TypeError, r"beta_regularizer: Could not interpret"),
        (
            {"gamma_regularizer": lambda w: float(np.sum(w**4))},
            TypeError,
            r"gamma_regularizer: the engine applies L1/L2 penalties only",
        ),
    ],
    ids=["center", "scale", "gamma-name", "beta-number", "gamma-function"],
)
def test_bad_arguments_are_refused_by_name(arguments, error, message) -> None:
    with pytest.raises(error, match=message):
        layers.BatchNormalization(**arguments)


def test_weights_of_the_wrong_count_and_the_gpu_engine_are_refused() -> None:
    model = _regression_model(center=False, scale=True)
    with pytest.raises(ValueError, match="expects 3 weight arrays, got 4"):
        model.layers[1].set_weights([np.ones(4)] * 4)
    gpu = fm.Sequential(
        [layers.Input(shape=(3,)), layers.BatchNormalization(center=False, scale=False)],
        device="numpy",
    )
    with pytest.raises(NotImplementedError, match="BatchNormalization is computed by the CPU"):
        gpu.predict(np.ones((2, 3)))
