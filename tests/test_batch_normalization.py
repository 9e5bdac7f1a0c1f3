"""layers.BatchNormalization (Keras's, axis=-1): the training gradient against finite differences,
the moving statistics and inference against NumPy written here, a frozen layer, the sparse and
dense paths on 1 and 2 threads, saving, summary counts and bad arguments."""

from __future__ import annotations

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, optimizers
from keras_run import run_keras
from test_normalization import numeric_gradient
from test_sparse_inputs import mnist_like, on_both_paths

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 5)) * [1.0, 3.0, 0.5, 2.0, 1.0] + [1.0, -2.0, 0.0, 5.0, 0.3]
LABELS = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)


def _model(trainable=True, **bn) -> fm.Sequential:
    model = fm.Sequential(
        [
            layers.Input(shape=(5,)),
            layers.Dense(4),
            layers.BatchNormalization(trainable=trainable, **bn),
            layers.Activation("tanh"),
            layers.Dense(2, activation="softmax"),
        ],
        dtype="float64",
        seed=1,
    )
    model.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("trainable", [True, False], ids=["training", "frozen"])
def test_gradient_matches_finite_differences(trainable) -> None:
    """With the batch's statistics (a frozen layer: the moving ones, set away from 0 and 1)."""
    model = _model(trainable)
    bn = model.layers[1]
    bn.set_weights([np.array([0.8, 1.2, 1.0, 0.5]), np.array([0.1, -0.2, 0.0, 0.3]),
                    np.array([0.2, -0.1, 0.4, 0.0]), np.array([1.5, 0.7, 2.0, 1.1])])  # fmt: skip
    engine, x, y = model._engine, X[:12], LABELS[:12, None].astype(float)
    _, grad = engine.loss_and_gradient(x, y)
    numeric = numeric_gradient(engine, x, y)
    moving = slice(24 + 8, 24 + 16)  # after the Dense's 24: gamma, beta, then the moving ones
    assert not grad[moving].any()
    if trainable:  # with the batch's statistics, the loss does not depend on the moving ones
        assert np.abs(numeric[moving]).max() < 1e-9
    numeric[moving] = 0.0  # (frozen: the loss depends on them, but they are never trained)
    if not trainable:  # a frozen layer's gamma and beta get no gradient either (nor do they move)
        numeric[24 : 24 + 8] = 0.0
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def _bn_first(momentum=0.9):
    model = fm.Sequential(
        [layers.Input(shape=(5,)), layers.BatchNormalization(momentum=momentum), layers.Dense(2)],
        dtype="float64",
        seed=2,
    )
    model.compile(optimizers.Adam(0.01), "mse")
    return model


def test_moving_statistics_follow_keras_update_and_predict_uses_them() -> None:
    model = _bn_first(momentum=0.9)
    y = RNG.normal(size=(64, 2))
    model.fit(X, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    mean, var = np.zeros(5), np.ones(5)
    for _ in range(2):
        for i in range(0, 64, 16):
            batch = X[i : i + 16]
            mean = mean * 0.9 + batch.mean(0) * 0.1
            var = var * 0.9 + batch.var(0) * 0.1
    gamma, beta, moving_mean, moving_var = model.layers[0].get_weights()
    np.testing.assert_allclose(moving_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(moving_var, var, rtol=1e-12)
    w, b = model.layers[1].get_weights()
    expected = (gamma * (X - mean) / np.sqrt(var + 1e-3) + beta) @ w + b
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-10)
    loss = model.evaluate(X, y, verbose=0)
    assert loss == pytest.approx(np.mean((expected - y) ** 2), rel=1e-10)


def test_a_frozen_layer_keeps_its_weights_and_statistics() -> None:
    model = _model(trainable=False)
    before = model.layers[1].get_weights()
    first = model.get_weights()[0].copy()
    model.fit(X, LABELS, epochs=3, verbose=0)
    for a, b in zip(before, model.layers[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first, model.get_weights()[0])


@pytest.mark.parametrize("threads", [1, 2])
def test_sparse_and_dense_paths_agree(threads) -> None:
    """A batch's statistics need all its rows: the step by rows is not taken."""
    x, y = mnist_like(512, seed=4)

    def run(sparse: bool):
        model = fm.Sequential(
            [
                layers.Input(shape=(784,)),
                # (no bias: one before BatchNormalization has no gradient but rounding noise, which
                # Adam turns into steps of full size that differ between the two paths)
                layers.Dense(32, use_bias=False),
                layers.BatchNormalization(),
                layers.Activation("relu"),
                layers.Dense(10, activation="softmax"),
            ],
            seed=5,
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=128, epochs=2, verbose=0)
        assert model._engine.last_batch_sparse == sparse
        return history.history["loss"], model.get_weights()

    (loss_s, w_s), (loss_d, w_d) = on_both_paths(threads, run)
    np.testing.assert_allclose(loss_s, loss_d, rtol=1e-4)
    for a, b in zip(w_s, w_d):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    assert loss_s[1] < loss_s[0]


def test_summary_saving_and_config(tmp_path, capsys) -> None:
    model = _model()
    model.fit(X, LABELS, epochs=2, verbose=0)
    model.summary()
    out = capsys.readouterr().out
    assert "Non-trainable params: 8" in out  # the moving mean and variance of 4 features
    assert len(model.layers[1].trainable_weights) == 2
    model.save(tmp_path / "m.fastmlp")
    loaded = fm.models.load_model(tmp_path / "m.fastmlp")
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    config = model.layers[1].get_config()
    assert config["momentum"] == 0.99 and config["epsilon"] == 0.001
    assert layers.BatchNormalization.from_config(config).get_config() == config


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: layers.BatchNormalization(axis=0), NotImplementedError, "only axis=-1"),
        (lambda: layers.BatchNormalization(momentum=1.5), ValueError, "momentum must be"),
        (lambda: layers.BatchNormalization(epsilon=0), ValueError, "epsilon must be > 0"),
        (
            lambda: fm.Sequential(
                [layers.Input(shape=(3,)), layers.BatchNormalization()], device="numpy"
            ).predict(np.ones((2, 3))),
            NotImplementedError,
            "BatchNormalization is computed by the CPU engine only",
        ),
    ],
)
def test_bad_arguments_are_refused_by_name(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()


KERAS_SCRIPT = """
import sys
import keras, numpy as np
keras.config.set_floatx("float64")
data = np.load(sys.argv[1])
x, y = data["x"], data["y"]
norm = keras.layers.Normalization()
norm.adapt(x)
model = keras.Sequential([keras.Input((5,)), norm, keras.layers.Dense(4),
    keras.layers.BatchNormalization(), keras.layers.Activation("tanh"),
    keras.layers.Dense(2, activation="softmax")])
model.set_weights([data[f"w{i}"] for i in range(11)])
model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
np.savez(sys.argv[2], *model.get_weights())
"""


def test_normalization_and_batch_normalization_train_as_keras_where_installed(tmp_path) -> None:
    """The same network, weights and batches in Keras 3 (float64, in a subprocess so that
    TensorFlow stays out of this process): the weights after 3 epochs agree to 1e-12."""
    norm = layers.Normalization()
    norm.adapt(X)
    model = fm.Sequential(
        [
            layers.Input(shape=(5,)),
            norm,
            layers.Dense(4),
            layers.BatchNormalization(),
            layers.Activation("tanh"),
            layers.Dense(2, activation="softmax"),
        ],
        dtype="float64",
        seed=3,
    )
    weights = model.get_weights()
    np.savez(tmp_path / "in.npz", x=X, y=LABELS, **{f"w{i}": w for i, w in enumerate(weights)})
    run_keras(KERAS_SCRIPT, str(tmp_path / "in.npz"), str(tmp_path / "out.npz"))
    model.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    model.fit(X, LABELS, batch_size=16, epochs=3, shuffle=False, verbose=0)
    theirs = np.load(tmp_path / "out.npz")
    for i, ours in enumerate(model.get_weights()):
        np.testing.assert_allclose(ours, theirs[f"arr_{i}"], rtol=1e-12, atol=1e-14)
