"""Products too small for a BLAS call (at most 4,096 multiply-adds: the playground's nets).

Engines built with AVX2/FMA compute them with their own vectorised loops (dense.hpp: `tiny_gemm`,
8 floats or 4 doubles at a time, with a dot-product path for one output column and masked loads
for widths that are not multiples of the register's), others with Eigen. Both dtypes are checked
here against a NumPy float64 reference written in this file: the loss, every gradient and predict of a two-layer net over widths
that exercise each path (1, 3, 8, 9, 16 columns; 1, 2, 13 inputs; batches of 1, 3 and 10 rows).
Then an epoch whose last batch splits over two threads with one part left empty: that part's
products run on zero rows, and its gradient must be zero whatever the layer sizes.
"""

from __future__ import annotations

import numpy as np
import pytest
from fastmlp import _core
from test_sparse_inputs import num_threads

DENSE, LINEAR, TANH, MSE, SGD = 0, 0, 3, 3, 0


def two_layer_net(dtype, inputs: int, hidden: int, outputs: int, use_bias: bool, seed: int):
    cls = _core.NetworkF32 if dtype == np.float32 else _core.NetworkF64
    net = cls(
        inputs,
        [
            _core.LayerSpec(DENSE, units=hidden, activation=TANH, use_bias=use_bias),
            _core.LayerSpec(DENSE, units=outputs, activation=LINEAR, use_bias=use_bias),
        ],
        0,
    )
    net.set_loss(MSE)
    params = np.random.default_rng(seed).normal(scale=0.5, size=net.param_count).astype(dtype)
    net.set_params(params)
    return net, params


def numpy_reference(params, x, y, hidden: int, outputs: int, use_bias: bool):
    """tanh(x W1 + b1) W2 + b2, Keras's mean squared error and its gradient, in float64."""
    inputs = x.shape[1]
    sizes = [
        inputs * hidden,
        hidden if use_bias else 0,
        hidden * outputs,
        outputs if use_bias else 0,
    ]
    w1, b1, w2, b2 = np.split(params.astype(np.float64), np.cumsum(sizes)[:-1])
    w1, w2 = w1.reshape(inputs, hidden), w2.reshape(hidden, outputs)
    x, y = x.astype(np.float64), y.astype(np.float64)
    h = np.tanh(x @ w1 + (b1 if use_bias else 0.0))
    out = h @ w2 + (b2 if use_bias else 0.0)
    d_out = 2.0 * (out - y) / out.size
    d_z1 = (d_out @ w2.T) * (1.0 - h**2)
    parts = [(x.T @ d_z1).ravel()]
    if use_bias:
        parts.append(d_z1.sum(0))
    parts.append((h.T @ d_out).ravel())
    if use_bias:
        parts.append(d_out.sum(0))
    return out, np.mean((out - y) ** 2), np.concatenate(parts)


def test_engines_with_the_sparse_kernels_have_the_tiny_ones():
    """Both need AVX2 and FMA: a build that has one and not the other tests Eigen's path only."""
    info = _core.build_info()
    assert info["tiny_kernels"] == info["sparse_kernels"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inputs", [1, 2, 13])
@pytest.mark.parametrize("hidden", [1, 5, 8, 9])
@pytest.mark.parametrize("outputs", [1, 3, 8, 16])
@pytest.mark.parametrize("n", [1, 3, 10])
def test_tiny_products_match_numpy(dtype, inputs, hidden, outputs, n):
    seed = inputs * 10_000 + hidden * 1_000 + outputs * 10 + n
    use_bias = seed % 3 != 0
    rng = np.random.default_rng(seed)
    net, params = two_layer_net(dtype, inputs, hidden, outputs, use_bias, seed)
    x = rng.normal(size=(n, inputs)).astype(dtype)
    y = rng.normal(size=(n, outputs)).astype(dtype)
    ref_out, ref_loss, ref_grad = numpy_reference(params, x, y, hidden, outputs, use_bias)
    loss, grad = net.loss_and_gradient(x, y)
    out = net.predict(x, n)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert grad.dtype == dtype and out.dtype == dtype
    assert loss == pytest.approx(ref_loss, rel=tol)
    np.testing.assert_allclose(out, ref_out, rtol=tol, atol=tol * np.abs(ref_out).max())
    np.testing.assert_allclose(
        grad, ref_grad, rtol=10 * tol, atol=10 * tol * np.abs(ref_grad).max()
    )


# Products beyond the tiny ones, at most 256 deep and 16 to 256 wide, on one thread: with
# AVX-512 (build_info()["small_kernels"]) dense.hpp's small_gemm, in blocks of up to 8 rows by
# 64 columns (the last 16-float register masked), op(B) transposed 16 x 16 at a time for gz W^T;
# elsewhere BLAS. Widths here cover every block (16, 17, 33, 48, 64, 65, 130, 256 columns:
# 1 to 4 registers, masked or not, one or more blocks of 64), batches every row remainder (1 to
# 8 rows left over), and depths from 1 to 256 (the transposes' edges: 10 and 37 outputs).
@pytest.mark.parametrize(
    "inputs, hidden, outputs, n",
    [
        (256, 16, 17, 1),
        (100, 33, 48, 7),
        (64, 64, 65, 13),
        (37, 130, 16, 21),
        (200, 256, 10, 40),
        (16, 65, 37, 95),
        (130, 48, 64, 256),
        (1, 64, 130, 70),
    ],
)
def test_small_products_match_numpy(inputs, hidden, outputs, n):
    rng = np.random.default_rng(inputs * 1_000 + hidden + n)
    net, params = two_layer_net(np.float32, inputs, hidden, outputs, n % 2 == 0, n)
    x = rng.normal(size=(n, inputs)).astype(np.float32)
    y = rng.normal(size=(n, outputs)).astype(np.float32)
    ref_out, ref_loss, ref_grad = numpy_reference(params, x, y, hidden, outputs, n % 2 == 0)
    with num_threads(1):
        loss, grad = net.loss_and_gradient(x, y)
        out = net.predict(x, n)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    np.testing.assert_allclose(out, ref_out, rtol=1e-4, atol=1e-5 * np.abs(ref_out).max())
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-3, atol=1e-5 * np.abs(ref_grad).max())


@pytest.mark.skipif(
    not _core.build_info()["sparse_kernels"], reason="engine built without AVX2/FMA sparse kernels"
)
def test_a_last_batch_with_an_empty_part_of_rows_trains_like_the_reference():
    """An epoch of 48 sparse rows in batches of 32 over two threads: the last batch's 16 rows are
    split in parts rounded to 16 rows, so the second part gets none and runs the later layers'
    products on zero rows (always 'tiny'). Its gradient must be zero, for layers of any size (the
    128 x 64 one here is far beyond a tiny product's 4,096 multiply-adds)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(48, 784)).astype(np.float32)
    x[rng.random(x.shape) >= 0.2] = 0.0
    y = rng.normal(size=(48, 10)).astype(np.float32)
    lr = 0.5

    def net():
        n = _core.NetworkF32(
            784,
            [
                _core.LayerSpec(DENSE, units=128, activation=TANH),
                _core.LayerSpec(DENSE, units=64, activation=TANH),
                _core.LayerSpec(DENSE, units=10),
            ],
            0,
        )
        n.set_loss(MSE)
        opt = _core.OptimizerConfig(SGD)
        opt.learning_rate = lr
        n.set_optimizer(opt)
        n.set_params(
            np.random.default_rng(3).normal(scale=0.1, size=n.param_count).astype(np.float32)
        )
        return n

    # The reference: two plain gradient steps, rows 0-31 then rows 32-47, one thread.
    reference = net()
    losses = []
    with num_threads(1):
        for rows in (slice(0, 32), slice(32, 48)):
            loss, grad = reference.loss_and_gradient(x[rows], y[rows])
            losses.append(loss * (rows.stop - rows.start))
            reference.set_params(reference.get_params() - lr * grad)
    with num_threads(2):
        stepped = net()
        stepped.begin_epoch(48, False)
        sums = stepped.train_steps(x, y, 32, 10, 0.0)
        assert stepped.last_batch_sparse
    assert sums.steps == 2
    assert sums.loss == pytest.approx(sum(losses), rel=1e-5)
    np.testing.assert_allclose(stepped.get_params(), reference.get_params(), rtol=1e-4, atol=1e-6)
