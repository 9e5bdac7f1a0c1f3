"""Small problems the engine must learn: XOR, logistic regression, softmax blobs, sin(x), optimizers.

Each problem is generated in the test; accuracies are recomputed from `predict` with NumPy.
"""

from __future__ import annotations

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, optimizers

XOR_X = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float32)  # centred inputs
XOR_Y = np.array([0, 1, 1, 0])


def gaussian_classes(centres: np.ndarray, n_per_class: int, scale: float = 1.0, seed: int = 0):
    """`n_per_class` points around each centre, shuffled; labels are the centre indices."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([c + scale * rng.normal(size=(n_per_class, len(c))) for c in centres])
    y = np.repeat(np.arange(len(centres)), n_per_class)
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order]


@pytest.mark.parametrize("seed", range(5))
def test_xor_is_learned_by_one_hidden_layer_of_four_tanh_units(seed):
    # Centred inputs and SGD with momentum: 199 of seeds 0..199 solve it in 400 full-batch epochs.
    model = fm.Sequential(
        [
            fm.Input(shape=(2,)),
            layers.Dense(4, activation="tanh"),
            layers.Dense(1, activation="sigmoid"),
        ],
        seed=seed,
    )
    model.compile(
        optimizer=optimizers.SGD(0.2, momentum=0.9),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(XOR_X, XOR_Y, epochs=400, batch_size=4, verbose=0)
    p = model.predict(XOR_X, verbose=0).ravel()
    np.testing.assert_array_equal(p > 0.5, XOR_Y == 1)
    assert np.min(np.where(XOR_Y == 1, p, 1 - p)) > 0.9  # confidently, not by a hair
    assert history.history["accuracy"][-1] == 1.0


def test_xor_is_not_linearly_separable():
    # The control: without a hidden layer the best a linear model can do is 3 of 4.
    model = fm.Sequential([fm.Input(shape=(2,)), layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizer=optimizers.Adam(0.05), loss="binary_crossentropy")
    model.fit(XOR_X, XOR_Y, epochs=200, batch_size=4, verbose=0)
    p = model.predict(XOR_X, verbose=0).ravel()
    assert np.mean((p > 0.5) == (XOR_Y == 1)) <= 0.75


def two_gaussians(seed: int = 0):
    return gaussian_classes(np.array([[-2.0, -2.0], [2.0, 2.0]]), 200, seed=seed)


def test_logistic_regression_with_sigmoid_and_binary_crossentropy():
    x, y = two_gaussians()
    model = fm.Sequential([fm.Input(shape=(2,)), layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizer=optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    p = model.predict(x, verbose=0).ravel()
    accuracy = np.mean((p > 0.5) == (y == 1))
    assert accuracy >= 0.99
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(accuracy)
    # the boundary is close to the true one, x1 + x2 = 0: both weights positive, similar size
    kernel, bias = model.get_weights()
    assert np.all(kernel > 0)
    assert 0.5 < kernel[0, 0] / kernel[1, 0] < 2
    assert abs(bias[0]) < 0.5 * kernel.sum()


def test_logistic_loss_on_plus_minus_one_labels_with_a_linear_output():
    x, y01 = two_gaussians(seed=1)
    y = 2 * y01 - 1  # labels in {-1, +1}
    model = fm.Sequential([fm.Input(shape=(2,)), layers.Dense(1)], seed=0)
    model.compile(optimizer=optimizers.Adam(0.05), loss="logistic", metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    score = model.predict(x, verbose=0).ravel()
    assert np.mean(np.sign(score) == y) >= 0.99
    assert history.history["accuracy"][-1] >= 0.98
    # the logged loss is log(1 + exp(-y * score)), recomputed from the scores
    loss = model.evaluate(x, y, verbose=0)[0]
    assert loss == pytest.approx(np.mean(np.logaddexp(0, -y * score.astype(np.float64))), rel=1e-4)


def test_softmax_separates_three_gaussian_blobs():
    centres = np.array([[0.0, 3.0], [-2.6, -1.5], [2.6, -1.5]])
    x, y = gaussian_classes(centres, 150, seed=2)
    model = fm.Sequential(
        [
            fm.Input(shape=(2,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ],
        seed=0,
    )
    model.compile(
        optimizer=optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert np.mean(probs.argmax(axis=1) == y) >= 0.95
    x_test, y_test = gaussian_classes(centres, 100, seed=3)
    assert np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == y_test) >= 0.95


def test_regression_of_sin_with_mse():
    rng = np.random.default_rng(4)
    x = rng.uniform(-np.pi, np.pi, size=(256, 1)).astype(np.float32)
    y = np.sin(x)
    model = fm.Sequential(
        [fm.Input(shape=(1,)), layers.Dense(32, activation="tanh"), layers.Dense(1)], seed=0
    )
    model.compile(optimizer=optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=150, batch_size=32, verbose=0)
    grid = np.linspace(-np.pi, np.pi, 101, dtype=np.float32).reshape(-1, 1)
    error = model.predict(grid, verbose=0) - np.sin(grid)
    assert np.mean(error**2) < 1e-2  # a constant predictor scores 0.5
    assert np.max(np.abs(error)) < 0.3
    assert history.history["loss"][-1] < 0.05 * history.history["loss"][0]
    assert list(history.history) == ["loss", "mae"]


OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.05),
    "sgd_momentum_nesterov": lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: optimizers.Adam(0.01),
    "adamw": lambda: optimizers.AdamW(0.01),
    "rmsprop": lambda: optimizers.RMSprop(0.01),
    "rmsprop_centered_momentum": lambda: optimizers.RMSprop(0.005, momentum=0.5, centered=True),
    "adagrad": lambda: optimizers.Adagrad(0.1),
    "adadelta": lambda: optimizers.Adadelta(1.0),
    "nadam": lambda: optimizers.Nadam(0.01),
    "adamax": lambda: optimizers.Adamax(0.01),
    "lion": lambda: optimizers.Lion(1e-3),
    "ftrl": lambda: optimizers.Ftrl(0.1),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_reduces_the_loss(name):
    centres = np.array([[0.0, 2.0], [-1.7, -1.0], [1.7, -1.0]])
    x, y = gaussian_classes(centres, 60, seed=5)
    model = fm.Sequential(
        [
            fm.Input(shape=(2,)),
            layers.Dense(8, activation="tanh"),
            layers.Dense(3, activation="softmax"),
        ],
        seed=1,
    )
    model.compile(
        optimizer=OPTIMIZERS[name](),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    after, accuracy = model.evaluate(x, y, verbose=0)
    assert np.isfinite(after)
    assert after < 0.6 * before
    assert accuracy >= 0.8
