"""A first Dense layer that runs on the nonzeros of a mostly-zero float32 input (cpp/.../sparse.hpp).

The sparse kernels are checked against references written here in NumPy (float64): the first
layer's output, the loss and every gradient of a two-layer network, over widths that exercise each
kind of column block (64 at a time, 8..56, single columns) and batch sizes that split over threads
or not. `last_batch_sparse` shows which path ran, so a test cannot pass on the dense path by
accident; the same computations with `set_sparse_inputs(False)` must agree too. Then the engine as
a user meets it: predict refusing NaN, training on MNIST-like data, and inputs too dense for the
sparse path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import _core, config

pytestmark = pytest.mark.skipif(
    not _core.build_info()["sparse_kernels"], reason="engine built without AVX2/FMA sparse kernels"
)

DENSE, LINEAR, RELU, TANH, MSE, SPARSE_CE, SGD, ADAM = 0, 0, 1, 3, 3, 0, 0, 1


@pytest.fixture(autouse=True)
def sparse_inputs_on():
    config.set_sparse_inputs(True)
    yield
    config.set_sparse_inputs(True)


@contextlib.contextmanager
def num_threads(threads: int) -> Iterator[None]:
    """`threads` for every batch of 32 rows or more, however small the model (the parallel
    paths of small test models)."""
    previous, work = config.get_num_threads(), _core.get_parallel_work()
    config.set_num_threads(threads)
    _core.set_parallel_work(0)
    try:
        yield
    finally:
        config.set_num_threads(previous)
        _core.set_parallel_work(work)


def on_both_paths(threads: int, run: Any) -> list[Any]:
    """[run(True), run(False)]: with sparse inputs on, then off, `threads` for any batch of 32
    rows or more (num_threads); sparse inputs on again after."""
    results = []
    with num_threads(threads):
        try:
            for sparse in (True, False):
                config.set_sparse_inputs(sparse)
                results.append(run(sparse))
        finally:
            config.set_sparse_inputs(True)
    return results


def sparse_x(rng: np.random.Generator, n: int, width: int, density: float) -> np.ndarray:
    x = rng.normal(size=(n, width)).astype(np.float32)
    x[rng.random(x.shape) >= density] = 0.0
    return x


def two_layer_net(width: int, units: int, outputs: int, seed: int = 0):
    net = _core.NetworkF32(
        width,
        [
            _core.LayerSpec(DENSE, units=units, activation=RELU),
            _core.LayerSpec(DENSE, units=outputs),
        ],
        0,
    )
    net.set_loss(MSE)
    params = np.random.default_rng(seed).normal(scale=0.3, size=net.param_count).astype(np.float32)
    net.set_params(params)
    return net, params


def unpack(params: np.ndarray, width: int, units: int, outputs: int, use_bias: bool = True):
    sizes = [width * units, units if use_bias else 0, units * outputs, outputs]
    w1, b1, w2, b2 = np.split(params.astype(np.float64), np.cumsum(sizes)[:-1])
    return w1.reshape(width, units), b1, w2.reshape(units, outputs), b2


def numpy_loss_and_gradient(
    params, x, y, width, units, outputs, activation: str = "relu", use_bias: bool = True
):
    """act(x W1 [+ b1]) W2 + b2 (act: relu or tanh) with Keras's mean squared error, and its
    gradient, in float64."""
    w1, b1, w2, b2 = unpack(params, width, units, outputs, use_bias)
    x, y = x.astype(np.float64), y.astype(np.float64)
    z1 = x @ w1 + (b1 if use_bias else 0.0)
    h = np.maximum(z1, 0.0) if activation == "relu" else np.tanh(z1)
    out = h @ w2 + b2
    loss = np.mean((out - y) ** 2)
    d_out = 2.0 * (out - y) / out.size
    d_z1 = (d_out @ w2.T) * ((z1 > 0) if activation == "relu" else 1.0 - h**2)
    first = [(x.T @ d_z1).ravel()] + ([d_z1.sum(0)] if use_bias else [])
    grad = np.concatenate(first + [(h.T @ d_out).ravel(), d_out.sum(0)])
    return loss, grad


# Widths of the first layer's output: one column (scalar tail only), 7, 8, 13, 64, 72 (64 + 8),
# 130 (2 x 64 + 2) and 200 (3 x 64 + 8); input widths around the 8-wide compression steps.
SHAPES = [(32, 1), (33, 7), (40, 8), (64, 13), (100, 64), (127, 72), (784, 130), (300, 200)]


@pytest.mark.parametrize("width,units", SHAPES)
@pytest.mark.parametrize("n", [1, 5, 32, 257])
def test_loss_and_gradient_match_numpy(width, units, n):
    rng = np.random.default_rng(width * 1000 + n)
    net, params = two_layer_net(width, units, 3)
    x, y = sparse_x(rng, n, width, 0.15), rng.normal(size=(n, 3)).astype(np.float32)
    loss, grad = net.loss_and_gradient(x, y)
    assert net.last_batch_sparse
    ref_loss, ref_grad = numpy_loss_and_gradient(params, x, y, width, units, 3)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-5 * np.abs(ref_grad).max())


@pytest.mark.parametrize("width,units", SHAPES)
@pytest.mark.parametrize("n", [1, 31, 1000])
def test_first_layer_output_matches_numpy(width, units, n):
    rng = np.random.default_rng(width + n)
    net = _core.NetworkF32(width, [_core.LayerSpec(DENSE, units=units)], 0)
    params = rng.normal(size=net.param_count).astype(np.float32)
    net.set_params(params)
    x = sparse_x(rng, n, width, 0.2)
    out = net.predict(x, n)
    assert net.last_batch_sparse
    w = params[: width * units].reshape(width, units).astype(np.float64)
    expected = x.astype(np.float64) @ w + params[width * units :]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_rows_without_any_nonzero_give_the_bias():
    net = _core.NetworkF32(50, [_core.LayerSpec(DENSE, units=70)], 0)
    params = np.random.default_rng(0).normal(size=net.param_count).astype(np.float32)
    net.set_params(params)
    x = np.zeros((20, 50), dtype=np.float32)
    x[3, 49], x[7, 0] = 2.0, -1.0
    out = net.predict(x, 20)
    assert net.last_batch_sparse
    w, b = params[:3500].reshape(50, 70), params[3500:]
    expected = np.tile(b, (20, 1))
    expected[3] += 2.0 * w[49]
    expected[7] -= w[0]
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n", [32, 256])
def test_sparse_and_dense_paths_agree(n):
    rng = np.random.default_rng(n)
    x, y = sparse_x(rng, n, 784, 0.19), rng.normal(size=(n, 10)).astype(np.float32)
    results = []
    for enabled in (True, False):
        config.set_sparse_inputs(enabled)
        net, _ = two_layer_net(784, 128, 10)
        loss, grad = net.loss_and_gradient(x, y)
        assert net.last_batch_sparse == enabled
        results.append((loss, grad.copy(), net.predict(x, n)))
    (loss_s, grad_s, out_s), (loss_d, grad_d, out_d) = results
    assert loss_s == pytest.approx(loss_d, rel=1e-5)
    np.testing.assert_allclose(grad_s, grad_d, rtol=1e-4, atol=1e-5 * np.abs(grad_d).max())
    np.testing.assert_allclose(out_s, out_d, rtol=1e-5, atol=1e-5 * np.abs(out_d).max())


@pytest.mark.parametrize("density,sparse", [(0.1, True), (0.2, True), (0.4, False), (1.0, False)])
def test_only_inputs_mostly_zero_take_the_sparse_path(density, sparse):
    rng = np.random.default_rng(1)
    net, _ = two_layer_net(200, 16, 2)
    net.predict(sparse_x(rng, 64, 200, density), 64)
    assert net.last_batch_sparse == sparse


def test_narrow_inputs_float64_and_the_switch_keep_dense_products():
    rng = np.random.default_rng(2)
    x = sparse_x(rng, 16, 8, 0.1)  # 8 features: below the sparse path's minimum width
    net = _core.NetworkF32(8, [_core.LayerSpec(DENSE, units=16)], 0)
    net.predict(x, 16)
    assert not net.last_batch_sparse
    net64 = _core.NetworkF64(784, [_core.LayerSpec(DENSE, units=16)], 0)
    net64.predict(sparse_x(rng, 16, 784, 0.1).astype(np.float64), 16)
    assert not net64.last_batch_sparse
    config.set_sparse_inputs(False)
    assert config.get_sparse_inputs() is False
    net32, _ = two_layer_net(784, 16, 2)
    net32.predict(sparse_x(rng, 16, 784, 0.1), 16)
    assert not net32.last_batch_sparse


def test_set_sparse_inputs_refuses_non_booleans():
    with pytest.raises(TypeError, match="enabled must be True or False"):
        config.set_sparse_inputs(1)


def mnist_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten classes of 28x28 'digits': a class-specific blob of lit pixels, the rest zeros (~20%)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n)
    templates = rng.random((10, 784)) < 0.2
    lit = templates[labels] & (rng.random((n, 784)) < 0.9)
    x = np.where(lit, rng.uniform(0.2, 1.0, size=(n, 784)), 0.0).astype(np.float32)
    return x, labels


def lecture_model(seed: int = 0) -> fm.Sequential:
    model = fm.Sequential(
        [
            fm.layers.Input(shape=(784,)),
            fm.layers.Dense(128, activation="relu"),
            fm.layers.Dense(64, activation="relu"),
            fm.layers.Dense(10, activation="softmax"),
        ],
        seed=seed,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_training_with_and_without_the_sparse_path_follows_the_same_trajectory():
    x, y = mnist_like(640)
    weights = []
    for enabled in (True, False):
        config.set_sparse_inputs(enabled)
        model = lecture_model()
        model.fit(x, y, batch_size=32, epochs=1, shuffle=True, verbose=0)
        assert model._engine.last_batch_sparse == enabled
        weights.append(model.get_weights())
    for sparse, dense in zip(*weights):
        np.testing.assert_allclose(sparse, dense, rtol=1e-3, atol=1e-5)


def test_training_on_sparse_inputs_learns():
    x, y = mnist_like(3000)
    model = lecture_model(seed=1)
    history = model.fit(x[:2500], y[:2500], batch_size=32, epochs=3, verbose=0)
    assert model._engine.last_batch_sparse
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.evaluate(x[2500:], y[2500:], verbose=0)[1] > 0.9


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_refuses_nan_and_infinity_in_sparse_inputs(bad):
    x, _ = mnist_like(3000)
    model = lecture_model()
    model.predict(x[:100], verbose=0)
    assert model._engine.last_batch_sparse
    x[2500, 400] = bad  # in the third of the engine's 1024-row blocks
    with pytest.raises(ValueError, match="x contains NaN or infinity"):
        model.predict(x, verbose=0)
    x[2500, 400] = 0.0
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_a_dense_block_after_sparse_ones_is_computed_densely_and_right():
    rng = np.random.default_rng(3)
    x = sparse_x(rng, 3000, 784, 0.1)
    x[2048:] = rng.normal(size=(952, 784))  # the third block is dense
    model = lecture_model()
    out = model.predict(x, verbose=0)
    config.set_sparse_inputs(False)
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


# While training on sparse inputs, the first layer's weights are updated row by row as soon as
# their gradient is computed (unless a penalty on them or clipping needs the whole gradient
# first); every optimizer must give the trajectory of the dense path, which updates all at once.
OPTIMIZERS = {
    "sgd": lambda: fm.optimizers.SGD(0.05),
    "nesterov": lambda: fm.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam_amsgrad": lambda: fm.optimizers.Adam(2e-3, amsgrad=True),
    "adamw": lambda: fm.optimizers.AdamW(2e-3, weight_decay=0.05),
    "rmsprop": lambda: fm.optimizers.RMSprop(1e-3, momentum=0.5, centered=True),
    "adagrad": lambda: fm.optimizers.Adagrad(0.05),
    "adadelta": lambda: fm.optimizers.Adadelta(1.0),
    "nadam": lambda: fm.optimizers.Nadam(2e-3, weight_decay=0.05),
    "adamax": lambda: fm.optimizers.Adamax(2e-3),
    "lion": lambda: fm.optimizers.Lion(2e-4),
    "ftrl": lambda: fm.optimizers.Ftrl(0.05, l1_regularization_strength=1e-4),
    "clipnorm": lambda: fm.optimizers.Adam(2e-3, clipnorm=0.05),
    "global_clipnorm": lambda: fm.optimizers.Adam(2e-3, global_clipnorm=0.1),
    "clipvalue": lambda: fm.optimizers.Adam(2e-3, clipvalue=1e-3),
}


@pytest.mark.parametrize("penalty", [None, "first", "second"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_follows_the_dense_trajectory_on_sparse_inputs(name, penalty):
    x, y = mnist_like(320, seed=3)
    weights = []
    for enabled in (True, False):
        config.set_sparse_inputs(enabled)
        regularizers = {
            layer: fm.regularizers.L2(1e-3) if penalty == layer else None
            for layer in ("first", "second")
        }
        model = fm.Sequential(
            [
                fm.layers.Input(shape=(784,)),
                fm.layers.Dense(96, activation="relu", kernel_regularizer=regularizers["first"]),
                fm.layers.Dense(
                    10, activation="softmax", kernel_regularizer=regularizers["second"]
                ),
            ],
            seed=4,
        )
        model.compile(optimizer=OPTIMIZERS[name](), loss="sparse_categorical_crossentropy")
        before = model.get_weights()[0].copy()
        model.fit(x, y, batch_size=32, epochs=2, shuffle=True, verbose=0)
        assert model._engine.last_batch_sparse == enabled
        # The first layer learned something.
        assert not np.allclose(model.get_weights()[0], before, rtol=0, atol=1e-4)
        weights.append(model.get_weights())
    for sparse, dense in zip(*weights):
        np.testing.assert_allclose(sparse, dense, rtol=1e-3, atol=2e-5)


# A penalty on the sparse first layer's weights (its gradient added to the whole gradient before
# the update, its value in the loss): losses and weights must be the dense path's, for one part
# of the batch or several.
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "regularizer",
    [fm.regularizers.L2(1e-3), fm.regularizers.L1(1e-4), fm.regularizers.L1L2(1e-4, 1e-3)],
    ids=["l2", "l1", "l1l2"],
)
def test_a_penalty_on_sparse_first_weights_gives_the_dense_losses_and_weights(threads, regularizer):
    x, y = mnist_like(320, seed=5)
    runs = []
    for enabled in (True, False):
        config.set_sparse_inputs(enabled)
        model = fm.Sequential(
            [
                fm.layers.Input(shape=(784,)),
                fm.layers.Dense(96, activation="relu", kernel_regularizer=regularizer),
                fm.layers.Dense(10, activation="softmax"),
            ],
            seed=6,
        )
        model.compile(optimizer=fm.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
        with num_threads(threads):
            history = model.fit(x, y, batch_size=64, epochs=3, verbose=0)
            evaluated = model.evaluate(x, y, verbose=0)
        assert model._engine.last_batch_sparse == enabled
        runs.append((history.history["loss"], evaluated, model.get_weights()))
    (sparse_loss, sparse_eval, sparse_w), (dense_loss, dense_eval, dense_w) = runs
    # The penalty is a visible part of the loss (else this test could not see it go missing).
    penalty = regularizer(sparse_w[0])
    assert penalty > 0.01 * sparse_eval
    np.testing.assert_allclose(sparse_loss, dense_loss, rtol=1e-4)
    np.testing.assert_allclose(sparse_eval, dense_eval, rtol=1e-4)
    for sparse, dense in zip(sparse_w, dense_w):
        np.testing.assert_allclose(sparse, dense, rtol=1e-3, atol=2e-5)


def numpy_two_layer_outputs(params, x, width, units, outputs):
    w1, b1, w2, b2 = unpack(params, width, units, outputs)
    return np.maximum(x.astype(np.float64) @ w1 + b1, 0.0) @ w2 + b2


# With more than one thread, predict takes sparse inputs through all layers in chunks of rows,
# one thread per chunk; a chunk too dense for the sparse path is computed densely on its own.
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("batch", [100, 256, 1000, 2500])
def test_predict_in_chunks_matches_numpy_with_dense_chunks_between(threads, batch):
    rng = np.random.default_rng(batch + threads)
    x = sparse_x(rng, 2500, 784, 0.15)
    x[700:900] = rng.normal(size=(200, 784))  # dense rows inside the chunks around them
    net, params = two_layer_net(784, 130, 3)
    with num_threads(threads):
        out = net.predict(x, batch)
    expected = numpy_two_layer_outputs(params, x, 784, 130, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    if threads > 1:  # chunks of at most 256 rows: those holding the dense rows went the dense way
        assert not net.last_batch_sparse
    sparse_only = np.delete(x, np.s_[700:900], axis=0)
    out = net.predict(sparse_only, batch)
    assert net.last_batch_sparse
    np.testing.assert_allclose(
        out, expected[np.r_[0:700, 900:2500]], rtol=1e-4, atol=1e-4 * np.abs(expected).max()
    )


@pytest.mark.parametrize("row", [0, 1000, 2499])
def test_predict_in_chunks_refuses_nan_in_any_chunk_and_keeps_working(row):
    rng = np.random.default_rng(row)
    x = sparse_x(rng, 2500, 784, 0.15)
    net, params = two_layer_net(784, 64, 3)
    x[row, 5] = np.nan
    with pytest.raises(ValueError, match="x contains NaN or infinity"):
        net.predict(x, 2500, True)
    x[row, 5] = 0.0
    expected = numpy_two_layer_outputs(params, x, 784, 64, 3)
    out = net.predict(x, 2500, True)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def one_hot_model(units: int, seed: int) -> fm.Sequential:
    """784-units-10 relu/softmax with categorical cross-entropy and every kind of metric."""
    model = fm.Sequential(
        [
            fm.layers.Input(shape=(784,)),
            fm.layers.Dense(units, activation="relu"),
            fm.layers.Dense(10, activation="softmax"),
        ],
        seed=seed,
    )
    model.compile(
        optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy", "mse", "mae"]
    )
    return model


# With a sparse first layer and more than one thread, a training step takes each thread's part of
# the batch through all the layers, the parts' loss, metrics and gradients summed at the end.
def test_a_step_reports_the_loss_and_metrics_of_the_weights_it_started_from():
    x, labels = mnist_like(96, seed=5)
    y = np.eye(10, dtype=np.float32)[labels]
    model = one_hot_model(128, seed=6)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # somewhere away from the start
    before = model.evaluate(x, y, batch_size=96, verbose=0, return_dict=True)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert model._engine.last_batch_sparse
    for name in ("loss", "accuracy", "mse", "mae"):
        assert logs[name] == pytest.approx(before[name], rel=1e-5, abs=1e-7), name


# A step by rows of a batch with at most a quarter as many rows as inputs splits the first
# layer's product by input columns: each thread multiplies every row by its own rows of W (two or
# three uneven column parts here, 784 / 3 not whole), and each part's rows add the parts' partial
# sums (the first with the bias) before the activation. One SGD step against NumPy, for a relu
# applied as the sums are added and for tanh applied after, with and without bias, and for
# batches whose rows split unevenly between the threads.
@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("n", [32, 49, 196])
def test_a_split_first_product_steps_like_numpy(threads, activation, use_bias, n):
    width, units, outputs, lr = 784, 130, 3, 0.1
    rng = np.random.default_rng(n * 10 + threads)
    act = {"relu": RELU, "tanh": TANH}[activation]
    net = _core.NetworkF32(
        width,
        [
            _core.LayerSpec(DENSE, units=units, activation=act, use_bias=use_bias),
            _core.LayerSpec(DENSE, units=outputs),
        ],
        0,
    )
    net.set_loss(MSE)
    opt = _core.OptimizerConfig(SGD)
    opt.learning_rate = lr
    net.set_optimizer(opt)
    params = rng.normal(scale=0.3, size=net.param_count).astype(np.float32)
    net.set_params(params)
    x, y = sparse_x(rng, n, width, 0.15), rng.normal(size=(n, outputs)).astype(np.float32)
    with num_threads(threads):
        sums = net.train_on_batch(x, y)
    assert net.last_batch_sparse
    # The loss before the step, and the step itself: -lr times NumPy's gradient.
    loss, grad = numpy_loss_and_gradient(params, x, y, width, units, outputs, activation, use_bias)
    assert sums.loss / n == pytest.approx(loss, rel=1e-5)
    step = net.get_params().astype(np.float64) - params
    np.testing.assert_allclose(step, -lr * grad, rtol=1e-3, atol=1e-5 * lr * np.abs(grad).max())


def test_a_step_failing_on_a_label_in_any_part_changes_nothing():
    net = _core.NetworkF32(
        784,
        [_core.LayerSpec(DENSE, units=64, activation=RELU), _core.LayerSpec(DENSE, units=10)],
        0,
    )
    net.set_loss(SPARSE_CE)
    net.set_optimizer(_core.OptimizerConfig(ADAM))
    x = sparse_x(np.random.default_rng(7), 64, 784, 0.15)
    y = np.arange(64, dtype=np.float32).reshape(-1, 1) % 10
    y[50] = 10.0  # in the second thread's rows
    before = net.get_params()
    with pytest.raises(ValueError, match="labels must be integers"):
        net.train_on_batch(x, y)
    assert net.last_batch_sparse
    np.testing.assert_array_equal(net.get_params(), before)
    assert net.get_optimizer_state() == (0, [], [])
    y[50] = 3.0
    assert net.train_on_batch(x, y).steps == 1
    assert net.iterations == 1


# evaluate takes sparse inputs through all layers in chunks of rows too, one thread per chunk,
# adding the chunks' loss and metric sums.
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch_size", [32, 1000])
def test_evaluate_in_chunks_matches_numpy(threads, batch_size):
    rng = np.random.default_rng(batch_size + threads)
    x = sparse_x(rng, 2500, 784, 0.15)
    x[700:900] = rng.normal(size=(200, 784))  # dense rows between sparse ones
    labels = rng.integers(0, 10, size=2500)
    y = np.eye(10, dtype=np.float32)[labels]
    model = one_hot_model(64, seed=9)
    with num_threads(threads):
        logs = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    w1, b1, w2, b2 = (w.astype(np.float64) for w in model.get_weights())
    logits = np.maximum(x.astype(np.float64) @ w1 + b1, 0.0) @ w2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    assert logs["loss"] == pytest.approx(-(y * log_p).sum(axis=1).mean(), rel=1e-5)
    assert logs["accuracy"] == pytest.approx((p.argmax(axis=1) == labels).mean(), abs=1e-12)
    assert logs["mse"] == pytest.approx(((p - y) ** 2).mean(), rel=1e-5)
    assert logs["mae"] == pytest.approx(np.abs(p - y).mean(), rel=1e-5)


def test_evaluate_in_chunks_refuses_a_bad_label_in_a_late_chunk():
    net = _core.NetworkF32(
        784,
        [_core.LayerSpec(DENSE, units=64, activation=RELU), _core.LayerSpec(DENSE, units=10)],
        0,
    )
    net.set_loss(SPARSE_CE)
    x = sparse_x(np.random.default_rng(10), 3000, 784, 0.15)
    y = np.arange(3000, dtype=np.float32).reshape(-1, 1) % 10
    y[2900] = 12.0  # in the last chunk
    with pytest.raises(ValueError, match="labels must be integers"):
        net.evaluate(x, y, 3000)
    y[2900] = 1.0
    sums = net.evaluate(x, y, 3000)
    assert net.last_batch_sparse
    assert (sums.samples, sums.steps) == (3000, 1) and np.isfinite(sums.loss)


def test_a_single_softmax_layer_follows_the_dense_trajectory_on_sparse_inputs():
    # Softmax regression: the sparse first layer is also the output layer (no later layers).
    x, y = mnist_like(640, seed=2)
    weights, losses = [], []
    for enabled in (True, False):
        config.set_sparse_inputs(enabled)
        model = fm.Sequential(
            [fm.layers.Input(shape=(784,)), fm.layers.Dense(10, activation="softmax")], seed=3
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=64, epochs=2, verbose=0)
        assert model._engine.last_batch_sparse == enabled
        weights.append(model.get_weights())
        losses.append(history.history["loss"])
    assert losses[1][-1] < 0.7 * losses[1][0]  # it learned
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    for sparse, dense in zip(*weights):
        np.testing.assert_allclose(sparse, dense, rtol=1e-4, atol=1e-6)


def test_subnormals_are_flushed_on_every_thread_and_the_workers_left_as_found():
    # x = 1e-39 (subnormal) times weights of 1: with denormals-are-zero on every thread that
    # computes, each output is 0; a thread without it would give 256e-39 = 2.6e-37 (a normal
    # float) for its share of the columns. Afterwards OpenMP's workers, shared with any other
    # OpenMP code in the process, flush no longer.
    model = fm.Sequential([fm.Input(shape=(256,)), fm.layers.Dense(512, use_bias=False)])
    model.compile("sgd", "mse", metrics=["mae"])
    model.set_weights([np.ones((256, 512), np.float32)])
    x = np.full((1024, 256), 1e-39, np.float32)
    assert 0 < x[0, 0] < np.finfo(np.float32).tiny
    eigen_only = _core.blas_info() == "eigen"  # (Eigen's GEMM workers keep flushing: below)
    with num_threads(2):
        # (OpenMP's pool started here, by a thread not flushing: workers born not flushing.)
        assert eigen_only or not any(_core._worker_flush_modes())
        assert model._engine.threads_for(1024) == 2
        logs = model.evaluate(
            x, np.zeros((1024, 512)), batch_size=1024, verbose=0, return_dict=True
        )
        assert logs["mae"] == 0.0
        # predict's chunks of rows, and a block of one chunk split over the threads
        for rows in (1024, 64):
            assert not model.predict(x[:rows], verbose=0).any()
        model.fit(x, np.zeros((1024, 512)), batch_size=512, epochs=1, verbose=0)
        assert eigen_only or not any(_core._worker_flush_modes())


FLUSH_CHILD = """
import numpy as np, fastmlp as fm
from fastmlp import _core
fm.config.set_num_threads(2)
_core.set_parallel_work(0)
tiny = np.float32(1e-39)
assert tiny * np.float32(1) != 0  # this thread does not flush before
model = fm.Sequential([fm.Input(shape=(256,)), fm.layers.Dense(512, use_bias=False)])
model.compile("sgd", "mse", metrics=["mae"])
model.set_weights([np.ones((256, 512), np.float32)])
x = np.full((1024, 256), 1e-39, np.float32)
logs = model.evaluate(x, np.zeros((1024, 512)), batch_size=1024, verbose=0, return_dict=True)
model.fit(x, np.zeros((1024, 512)), batch_size=512, epochs=1, verbose=0)
model.train_on_batch(x[:64], np.zeros((64, 512)))
assert logs["mae"] == 0.0, logs
assert tiny * np.float32(1) != 0, "the calling thread was left flushing"
modes = _core._worker_flush_modes()
if _core.blas_info() == "eigen":  # Eigen's GEMM workers keep flushing; thread 0 is the caller
    assert modes[0] == 0 and all(modes[1:]), modes
else:
    assert not any(modes), modes
print(_core.blas_info(), modes)
"""


@pytest.mark.parametrize("blas", ["numpy", "eigen"])
def test_the_calling_thread_is_left_as_found_with_and_without_blas(blas):
    # (Without BLAS, Eigen's GEMM workers are set to flush once and keep it; the caller, which
    # is thread 0 of every region, must not.)
    import os
    import subprocess
    import sys

    env = {**os.environ, "FASTMLP_BLAS": blas}
    done = subprocess.run(
        [sys.executable, "-c", FLUSH_CHILD], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert ("eigen" in done.stdout) == (blas == "eigen")


@pytest.mark.parametrize("threads", [1, 2])
def test_a_dense_batch_does_not_make_results_depend_on_where_engine_calls_end(threads):
    # fit runs an epoch in engine calls of about 0.1 s, so where a call ends depends on the
    # machine's speed. One batch too dense for the sparse path (rows 64-79 here) must not change
    # how the batches after it are computed, whichever call they fall in: the same parameters for
    # one call of 12 steps as for calls of 3, 1 + 11 or 1 each, and sparse batches again after it.
    rng = np.random.default_rng(11)
    x = sparse_x(rng, 384, 784, 0.1)
    x[64:80] = rng.normal(size=(16, 784)).astype(np.float32)
    y = rng.normal(size=(384, 3)).astype(np.float32)
    saved = _core.get_num_threads()
    _core.set_num_threads(threads)
    try:
        results = []
        for splits in ([12], [3, 3, 3, 3], [1, 11], [1] * 12):
            net, _ = two_layer_net(784, 32, 3)
            net.begin_epoch(384, False)
            sparse_after = []
            for k in splits:
                net.train_steps(x, y, 32, k)
                sparse_after.append(net.last_batch_sparse)
            results.append(net.get_params())
            assert sparse_after[-1]  # (the last batch, rows 352-383, is sparse)
        for other in results[1:]:
            np.testing.assert_array_equal(results[0], other)
    finally:
        _core.set_num_threads(saved)
