"""Frozen layers (trainable=False, as Keras's): their weights and optimizer state stay, their
regularizer leaves the loss, gradients still flow through them. Checked against NumPy, against
the dense path for sparse inputs, and on the GPU engine's code (its NumPy twin, and the GPU)."""

from __future__ import annotations

import contextlib
import io

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, optimizers, regularizers
from fastmlp.backend import gpu
from test_sparse_inputs import on_both_paths

N, FEATURES, HIDDEN, CLASSES = 64, 6, 8, 3
GPU = pytest.param(
    "gpu",
    marks=[
        pytest.mark.gpu,
        pytest.mark.skipif(not gpu.is_available(), reason=gpu.unavailable_reason() or ""),
    ],
)


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, FEATURES))
    y = np.argmax(x @ rng.normal(size=(FEATURES, CLASSES)), axis=1)
    return x, y


def model(device: str = "cpu", optimizer=None, regularizer=None, dtype: str = "float64"):
    m = fm.Sequential(
        [
            fm.Input(shape=(FEATURES,)),
            layers.Dense(HIDDEN, activation="tanh", kernel_regularizer=regularizer),
            layers.Dense(CLASSES, activation="softmax"),
        ],
        seed=1,
        dtype=dtype,
        device=device,
    )
    m.compile(optimizer or optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return m


def numpy_last_layer_sgd(weights, x, y, steps: int, lr: float):
    """Full-batch SGD on the last layer only, the first fixed: losses and final weights."""
    w1, b1, w2, b2 = (w.astype(np.float64) for w in weights)
    h = np.tanh(x @ w1 + b1)
    onehot = np.eye(CLASSES)[y]
    losses = []
    for _ in range(steps):
        z = h @ w2 + b2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        losses.append(float(-np.mean(np.log(p[np.arange(len(y)), y]))))
        d = (p - onehot) / len(y)
        w2, b2 = w2 - lr * h.T @ d, b2 - lr * d.sum(axis=0)
    return losses, [w1, b1, w2, b2]


def test_a_frozen_first_layer_trains_the_rest_as_numpy_does():
    x, y = data()
    m = model()
    m.layers[0].trainable = False
    start = m.get_weights()
    history = m.fit(x, y, batch_size=N, epochs=5, shuffle=False, verbose=0)
    losses, expected = numpy_last_layer_sgd(start, x, y, steps=5, lr=0.1)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-12)
    for got, want in zip(m.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(m.get_weights()[0], start[0])  # bit for bit
    np.testing.assert_array_equal(m.get_weights()[1], start[1])
    # Unfrozen, it trains again (from the next step on).
    m.layers[0].trainable = True
    m.fit(x, y, batch_size=N, epochs=1, verbose=0)
    assert not np.array_equal(m.get_weights()[0], start[0])


def test_a_frozen_layer_keeps_its_adam_state_and_leaves_its_penalty_out_of_the_loss():
    x, y = data()
    m = model(optimizer=optimizers.Adam(0.01), regularizer=regularizers.L2(0.1))
    m.fit(x, y, batch_size=16, epochs=1, verbose=0)  # Adam state for every layer
    _, slots, _ = m._engine.get_optimizer_state()
    first = slice(0, FEATURES * HIDDEN + HIDDEN)
    kept = [s[first].copy() for s in slots]
    w = m.get_weights()
    data_loss = m.evaluate(x, y, verbose=0) - 0.1 * float(np.sum(w[0].astype(np.float64) ** 2))
    m.layers[0].trainable = False
    assert m.evaluate(x, y, verbose=0) == pytest.approx(data_loss, rel=1e-9)
    m.fit(x, y, batch_size=16, epochs=2, verbose=0)
    np.testing.assert_array_equal(m.get_weights()[0], w[0])
    _, slots, _ = m._engine.get_optimizer_state()
    for now, before in zip(slots, kept):
        np.testing.assert_array_equal(now[first], before)
    assert not np.array_equal(m.get_weights()[2], w[2])


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: optimizers.Adam(0.01, global_clipnorm=0.05),
        lambda: optimizers.SGD(0.1, clipnorm=0.01),
        lambda: optimizers.AdamW(0.01, weight_decay=0.5),
    ],
    ids=["global_clipnorm", "clipnorm", "weight_decay"],
)
def test_clipping_and_weight_decay_see_trainable_weights_only(optimizer):
    # With global clipping, the frozen layer's gradient must not count in the norm: the last
    # layer then moves as in a model where the first layer's gradient is zero; compared with a
    # twin whose first layer's output is fed as fixed features (the same last layer alone).
    x, y = data()
    m = model(optimizer=optimizer())
    m.layers[0].trainable = False
    start = m.get_weights()
    m.fit(x, y, batch_size=N, epochs=3, shuffle=False, verbose=0)
    h = np.tanh(x @ start[0] + start[1])
    alone = fm.Sequential(
        [fm.Input(shape=(HIDDEN,)), layers.Dense(CLASSES, activation="softmax")], dtype="float64"
    )
    alone.compile(optimizer(), "sparse_categorical_crossentropy")
    alone.set_weights(start[2:])
    alone.fit(h, y, batch_size=N, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_array_equal(m.get_weights()[0], start[0])
    for got, want in zip(m.get_weights()[2:], alone.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_frozen_sparse_first_layer_matches_the_dense_path(threads):
    # The sparse path updates the first layer row by row during the backward pass (a fused
    # step): frozen, no row moves, and the other layers train as on the dense path.
    rng = np.random.default_rng(2)
    x = (rng.random((256, 784)) * (rng.random((256, 784)) < 0.2)).astype(np.float32)
    y = rng.integers(0, 10, 256)

    def run(sparse: bool) -> list[np.ndarray]:
        m = fm.Sequential(
            [
                fm.Input(shape=(784,)),
                layers.Dense(32, activation="relu"),
                layers.Dense(32, activation="relu"),
                layers.Dense(10, activation="softmax"),
            ],
            seed=3,
        )
        m.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy")
        m.layers[0].trainable = False
        start = m.get_weights()
        m.fit(x, y, batch_size=64, epochs=2, verbose=0)
        assert m._engine.last_batch_sparse == sparse
        np.testing.assert_array_equal(m.get_weights()[0], start[0])
        np.testing.assert_array_equal(m.get_weights()[1], start[1])
        return m.get_weights()

    results = on_both_paths(threads, run)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-5)


def test_a_model_set_not_trainable_freezes_every_layer_and_the_summary_counts_them():
    x, y = data()
    m = model()
    m.trainable = False
    assert all(not layer.trainable for layer in m.layers)
    start = m.get_weights()
    with pytest.warns(UserWarning, match="trainable weights"):
        m.fit(x, y, batch_size=16, epochs=2, verbose=0)
    for got, want in zip(m.get_weights(), start):
        np.testing.assert_array_equal(got, want)
    total = m.count_params()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        m.summary()
    assert "Trainable params: 0 (0.00 B)" in out.getvalue()
    assert f"Non-trainable params: {total:,}" in out.getvalue()
    m.trainable = True
    m.layers[1].trainable = False
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        m.summary()
    last = HIDDEN * CLASSES + CLASSES
    assert f"Trainable params: {total - last:,}" in out.getvalue()
    assert f"Non-trainable params: {last:,}" in out.getvalue()


def test_frozen_layers_are_saved_and_loaded_frozen(tmp_path):
    x, y = data()
    m = model()
    m.layers[1].trainable = False
    m.save(tmp_path / "m.fastmlp")
    loaded = fm.models.load_model(tmp_path / "m.fastmlp")
    assert [layer.trainable for layer in loaded.layers] == [True, False]
    start = loaded.get_weights()
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_array_equal(loaded.get_weights()[2], start[2])
    assert not np.array_equal(loaded.get_weights()[0], start[0])
    frozen_model = fm.Sequential([layers.Dense(2)], trainable=False)
    assert fm.models.model_from_json(frozen_model.to_json()).trainable is False


@pytest.mark.parametrize("device", ["numpy", GPU])
def test_the_gpu_engine_freezes_as_the_cpu_engine(device):
    x, y = data()
    make = lambda dev: model(dev, optimizers.Adam(0.01, global_clipnorm=0.5), regularizers.L2(0.01))
    cpu, dev = make("cpu"), make(device)
    dev.set_weights(cpu.get_weights())
    for m in (cpu, dev):
        m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        m.layers[0].trainable = False
    starts = [m.get_weights()[0] for m in (cpu, dev)]
    histories = [
        m.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history for m in (cpu, dev)
    ]
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], rtol=1e-9)
    for a, b in zip(dev.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for m, start in zip((cpu, dev), starts):
        np.testing.assert_array_equal(m.get_weights()[0], start)
    assert dev.evaluate(x, y, verbose=0) == pytest.approx(cpu.evaluate(x, y, verbose=0), rel=1e-9)


def test_weights_lists_split_into_trainable_and_not_as_keras():
    m = model()
    w = m.get_weights()
    assert len(m.weights) == 4 and len(m.trainable_weights) == 4 and m.non_trainable_weights == []
    m.layers[0].trainable = False
    assert [a.shape for a in m.trainable_weights] == [w[2].shape, w[3].shape]
    np.testing.assert_array_equal(m.non_trainable_weights[0], w[0])
    assert m.layers[0].trainable_weights == [] and len(m.layers[0].non_trainable_weights) == 2
    assert len(m.layers[1].weights) == 2
    m.trainable = False
    assert m.trainable_weights == [] and len(m.non_trainable_weights) == 4
    frozen_model = fm.Sequential(
        [fm.Input(shape=(FEATURES,)), layers.Dense(2)], trainable=False, dtype="float64"
    )
    assert frozen_model.trainable_weights == [] and len(frozen_model.non_trainable_weights) == 2


@pytest.mark.parametrize("device", ["cpu", "numpy", GPU])
def test_steps_of_a_model_with_nothing_to_train_warn_and_do_not_count(device):
    """As Keras 3: fit and train_on_batch of a model with no trainable weights warn, change
    nothing and leave optimizer.iterations alone, so that Adam, unfrozen again, goes on as if
    the frozen steps had not been: like a twin that never took them."""
    x, y = data()
    frozen, twin = model(device, optimizers.Adam(0.01)), model(device, optimizers.Adam(0.01))
    for m in (frozen, twin):
        m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    frozen.trainable = False
    start = frozen.get_weights()
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        history = frozen.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        frozen.train_on_batch(x, y)
    assert frozen.optimizer.iterations == 4
    for got, want in zip(frozen.get_weights(), start):
        np.testing.assert_array_equal(got, want)
    assert history["loss"][1] == pytest.approx(frozen.evaluate(x, y, verbose=0), rel=1e-12)
    frozen.trainable = True
    for m in (frozen, twin):
        m.layers[0].trainable = False
        m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        assert m.optimizer.iterations == 8
    for got, want in zip(frozen.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_frozen_sparse_model_trains_nothing_on_either_path(threads):
    rng = np.random.default_rng(4)
    x = (rng.random((256, 784)) * (rng.random((256, 784)) < 0.2)).astype(np.float32)
    y = rng.integers(0, 10, 256)

    def run(sparse: bool) -> None:
        m = fm.Sequential(
            [fm.Input(shape=(784,)), layers.Dense(32, activation="relu"), layers.Dense(10)],
            seed=3,
        )
        m.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy")
        m.trainable = False
        start = m.get_weights()
        with pytest.warns(UserWarning, match="trainable weights"):
            m.fit(x, y, batch_size=64, epochs=2, verbose=0)
        assert m._engine.last_batch_sparse == sparse
        assert m.optimizer.iterations == 0
        for got, want in zip(m.get_weights(), start):
            np.testing.assert_array_equal(got, want)

    on_both_paths(threads, run)


def test_a_model_of_layers_without_weights_warns():
    m = fm.Sequential([fm.Input(shape=(3,)), layers.Activation("tanh")])
    m.compile("sgd", "mse")
    with pytest.warns(UserWarning, match="trainable weights"):
        m.fit(np.ones((4, 3)), np.zeros((4, 3)), verbose=0)
    assert m.optimizer.iterations == 0
