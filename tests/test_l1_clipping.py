"""The TensorFlow Playground's L1 (nn.ts's updateWeights): in a plain SGD step, a kernel weight
that the L1 term carries across zero becomes 0 and stays 0 (a dead link). Checked against that
rule written here in NumPy, step by step, and through the Playground."""

from __future__ import annotations

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, optimizers, regularizers
from fastmlp.playground import Playground

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y = np.tanh(X @ np.array([[0.5], [-0.2], [0.0]]))
L1, LR, BATCH = 0.02, 0.1, 10


def _model(optimizer=None) -> fm.Sequential:
    model = fm.Sequential(
        [
            layers.Input(shape=(3,)),
            layers.Dense(4, activation="tanh", kernel_regularizer=regularizers.L1(L1)),
            layers.Dense(1, kernel_regularizer=regularizers.L1(L1)),
        ],
        seed=2,
        dtype="float64",
    )
    model.compile(optimizer or optimizers.SGD(LR), "mse")
    model._engine.set_l1_clipping(True)
    return model


def _nn_ts(weights: list[np.ndarray], epochs: int) -> list[np.ndarray]:
    """nn.ts on this network: the gradient step, then the L1 step from the weight before both;
    a weight whose sign the L1 step flips is set to 0 and dead (never updated again)."""
    w1, b1, w2, b2 = (w.copy() for w in weights)
    dead = [np.zeros(w1.shape, bool), np.zeros(w2.shape, bool)]
    for _ in range(epochs):
        for i in range(0, len(X), BATCH):
            x, y = X[i : i + BATCH], Y[i : i + BATCH]
            h = np.tanh(x @ w1 + b1)
            out = h @ w2 + b2
            d_out = 2 * (out - y) / len(x)  # Keras's mean squared error over the batch
            d_h = (d_out @ w2.T) * (1 - h**2)
            grads = [x.T @ d_h, d_h.sum(0), h.T @ d_out, d_out.sum(0)]
            new = [p - LR * g for p, g in zip((w1, b1, w2, b2), grads)]
            for k, (old, mask) in enumerate(((w1, dead[0]), (w2, dead[1]))):
                data = new[2 * k]
                after = data - LR * L1 * np.sign(old)
                crossed = data * after < 0
                mask |= crossed
                after[mask] = 0.0
                new[2 * k] = after
            w1, b1, w2, b2 = new
    return [w1, b1, w2, b2]


def test_sgd_steps_follow_the_playgrounds_l1_rule() -> None:
    model = _model()
    expected = _nn_ts(model.get_weights(), epochs=40)
    model.fit(X, Y, batch_size=BATCH, epochs=40, shuffle=False, verbose=0)
    for ours, theirs in zip(model.get_weights(), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    zeros = int((model.get_weights()[0] == 0).sum() + (model.get_weights()[2] == 0).sum())
    assert zeros >= 3  # the rule did fire: exact zeros (the third input's weights, at least)
    # dead weights stay 0 through more training; setting the weights revives them
    model.fit(X, Y, batch_size=BATCH, epochs=5, shuffle=False, verbose=0)
    assert (model.get_weights()[0] == 0).sum() >= (expected[0] == 0).sum()
    model.set_weights([w + 0.01 for w in model.get_weights()])
    model.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    assert model.get_weights()[0][2].any()


def test_other_optimizers_take_l1_as_usual() -> None:
    clipped = _model(optimizers.Adam(0.01))
    plain = fm.Sequential.from_config(clipped.get_config())
    plain.compile(optimizers.Adam(0.01), "mse")
    plain.set_weights(clipped.get_weights())
    for model in (clipped, plain):
        model.fit(X, Y, batch_size=BATCH, epochs=5, shuffle=False, verbose=0)
    for a, b in zip(clipped.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("regularization", "zeros"), [("l1", True), ("l2", False)])
def test_playground_l1_leaves_dead_links(regularization, zeros) -> None:
    pg = Playground(
        "gauss", hidden=(4, 4), regularization=regularization, regularization_rate=0.01, seed=1
    ).fit(300)
    kernels = [w for w in pg.model.get_weights() if w.ndim == 2]
    exact = sum(int((k == 0).sum()) for k in kernels)
    assert (exact > 0) == zeros
    assert pg.history["test_accuracy"][-1] > 0.9


def test_the_rule_survives_copies_and_a_new_optimizer_forgets_the_dead_links(tmp_path) -> None:
    import copy

    pg = Playground("gauss", hidden=(4,), regularization="l1", regularization_rate=0.01, seed=1)
    pg.fit(200)
    dead = pg.model.get_weights()[0] == 0
    assert dead.any()
    twin = copy.deepcopy(pg.model)
    pg.model.save(tmp_path / "pg.fastmlp")
    loaded = fm.models.load_model(tmp_path / "pg.fastmlp")
    for model in (twin, loaded):
        assert model._engine.l1_clipping
    # a new optimizer: the links are alive again (Adam moves them), and dead ones stay forgotten
    # when SGD comes back
    pg.model.compile(optimizers.Adam(0.01), "mse")
    pg.fit(5)
    revived = pg.model.get_weights()[0][dead]
    assert (revived != 0).all()
    pg.model.compile(optimizers.SGD(0.001), "mse")
    pg.model._engine.train_on_batch(pg._inputs_train[:10], pg._targets_train[:10])
    assert (pg.model.get_weights()[0][dead] != 0).sum() >= (revived != 0).sum() - 2
