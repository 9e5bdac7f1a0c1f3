"""Activations: each NumPy function against its formula, stability at +-1000 (the suite turns
warnings into errors, so an overflow warning fails), `get` / `serialize`, and the C++ engine's
value of each of the 17 activations inside a Dense layer against the same formulas.
"""

from __future__ import annotations

import math

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import activations, layers
from test_sparse_inputs import mnist_like, on_both_paths

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# -- reference formulas, element by element with the math module where possible ------------------


def _elementwise(f):
    return lambda x: np.vectorize(f, otypes=[float])(np.asarray(x, dtype=float))


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def _softplus(v: float) -> float:
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


def ref_softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    rows = np.atleast_2d(x)
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        m = max(row)
        e = [math.exp(v - m) for v in row]
        out[i] = [v / math.fsum(e) for v in e]
    return out.reshape(x.shape)


REFERENCES = {
    "linear": _elementwise(lambda v: v),
    "relu": _elementwise(lambda v: v if v > 0 else 0.0),
    "sigmoid": _elementwise(_sigmoid),
    "tanh": _elementwise(math.tanh),
    "softmax": ref_softmax,
    "elu": _elementwise(lambda v: v if v > 0 else math.expm1(v)),
    "selu": _elementwise(lambda v: SELU_SCALE * (v if v > 0 else SELU_ALPHA * math.expm1(v))),
    "softplus": _elementwise(_softplus),
    "softsign": _elementwise(lambda v: v / (1 + abs(v))),
    "leaky_relu": _elementwise(lambda v: v if v > 0 else 0.2 * v),
    "exponential": _elementwise(math.exp),
    "hard_sigmoid": _elementwise(lambda v: min(max(v / 6 + 0.5, 0.0), 1.0)),
    "relu6": _elementwise(lambda v: min(max(v, 0.0), 6.0)),
    "silu": _elementwise(lambda v: v * _sigmoid(v)),
    "gelu": _elementwise(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))),
    "mish": _elementwise(lambda v: v * math.tanh(_softplus(v))),
    "hard_silu": _elementwise(lambda v: v * min(max(v / 6 + 0.5, 0.0), 1.0)),
}
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}  # Keras's other names
NAMES = list(REFERENCES)
GRID = np.concatenate([np.linspace(-6, 6, 49), [0.0, -1e-9, 1e-9, -3.0, 3.0]])


def test_all_seventeen_activations_are_covered() -> None:
    assert len(NAMES) == 17
    assert sorted(NAMES) == sorted(
        n for n in activations.__all__ if n not in ("get", "serialize", *ALIASES)
    )


@pytest.mark.parametrize(("alias", "name"), ALIASES.items())
def test_keras_aliases_are_the_same_function(alias: str, name: str) -> None:
    assert getattr(activations, alias) is getattr(activations, name)
    assert activations.get(alias) is getattr(activations, name)
    assert activations.serialize(alias) == name
    assert layers.Dense(2, activation=alias).get_config()["activation"] == name


@pytest.mark.parametrize("name", NAMES)
def test_function_matches_formula(name: str) -> None:
    fn = getattr(activations, name)
    x = GRID.reshape(-1, 9) if name == "softmax" else GRID
    np.testing.assert_allclose(fn(x), REFERENCES[name](x), rtol=1e-14, atol=1e-15)


# np.result_type(x, np.float32) reads a Python list as a structured-dtype description.


@pytest.mark.parametrize("name", [n for n in NAMES])
def test_function_accepts_lists_and_keeps_shape(name: str) -> None:
    x = [[-1.5, 0.0, 2.0], [0.5, -0.25, 1.0]]
    out = getattr(activations, name)(x)
    assert isinstance(out, np.ndarray)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out, REFERENCES[name](np.array(x)), rtol=1e-14, atol=1e-15)


def test_softmax_rows_sum_to_one_along_axis() -> None:
    x = np.random.default_rng(0).normal(size=(3, 4, 5))
    np.testing.assert_allclose(activations.softmax(x).sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(activations.softmax(x, axis=1).sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(activations.softmax(x, axis=1)[:, :, 0], ref_softmax(x[:, :, 0]))


def test_keras_constants() -> None:
    # leaky_relu's negative slope is 0.2 and hard_sigmoid is relu6(x + 3) / 6, as in Keras 3.
    assert activations.leaky_relu(np.array([-10.0]))[0] == pytest.approx(-2.0)
    assert activations.hard_sigmoid(np.array([-3.0, 0.0, 3.0])).tolist() == [0.0, 0.5, 1.0]
    assert activations.selu(np.array([-1e3]))[0] == pytest.approx(-SELU_SCALE * SELU_ALPHA)
    assert activations.elu(np.array([-1e3]))[0] == pytest.approx(-1.0)


# -- stability at +-1000 -------------------------------------------------------------------------

EXTREME = np.array([-1000.0, -800.0, -1.0, 0.0, 1.0, 800.0, 1000.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_is_stable_at_1000(dtype) -> None:
    out = activations.sigmoid(EXTREME.astype(dtype))
    assert np.isfinite(out).all()
    assert out[0] == 0.0 and out[-1] == 1.0
    assert out[3] == 0.5
    np.testing.assert_allclose(out, REFERENCES["sigmoid"](EXTREME), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_is_stable_at_1000(dtype) -> None:
    x = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -1000.0]])
    out = activations.softmax(x.astype(dtype))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, [[0, 0, 1], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softplus_is_stable_at_1000(dtype) -> None:
    out = activations.softplus(EXTREME.astype(dtype))
    assert np.isfinite(out).all()
    assert out[0] == 0.0
    assert out[-1] == 1000.0
    np.testing.assert_allclose(out, REFERENCES["softplus"](EXTREME), rtol=1e-6)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "exponential"])
def test_bounded_growth_activations_are_finite_at_1000(name: str) -> None:
    x = EXTREME.reshape(1, -1) if name == "softmax" else EXTREME
    out = getattr(activations, name)(x)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, REFERENCES[name](x), rtol=1e-14, atol=1e-300)


# -- get / serialize -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_get_by_name_and_function(name: str) -> None:
    fn = getattr(activations, name)
    assert activations.get(name) is fn
    assert activations.get(name.upper()) is fn
    assert activations.get(fn) is fn
    assert activations.serialize(fn) == name
    assert activations.serialize(name) == name


def test_get_none_is_linear() -> None:
    assert activations.get(None) is activations.linear


@pytest.mark.parametrize("name", fm.nn.__all__)
def test_get_tf_style_nn_functions(name: str) -> None:
    assert activations.get(getattr(fm.nn, name)) is getattr(activations, name)


def test_get_maps_a_framework_function_by_name() -> None:
    def relu(x):  # stands in for tensorflow.nn.relu after `import tensorflow as tf`
        return x

    relu.__module__ = "tensorflow.python.ops.nn_ops"
    assert activations.get(relu) is activations.relu


def test_get_refuses_a_user_function_with_a_known_name() -> None:
    def relu(x):
        return np.maximum(x, 0)

    with pytest.raises(TypeError, match=r"not one the C\+\+ engine implements"):
        activations.get(relu)


def test_get_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"Unknown activation 'swishy'\. Expected one of: linear"):
        activations.get("swishy")


def test_get_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"activation must be a string.*got float"):
        activations.get(1.0)


def test_layer_config_stores_the_name() -> None:
    assert layers.Dense(2, activation=fm.nn.tanh).get_config()["activation"] == "tanh"
    assert layers.Activation("softmax").get_config()["activation"] == "softmax"


# -- the engine computes the same values ---------------------------------------------------------

IN, UNITS = 4, 5


def dense_model(activation: str, kernel: np.ndarray, bias: np.ndarray, layer: str = "dense"):
    if layer == "dense":
        stack = [layers.Input(shape=(IN,)), layers.Dense(UNITS, activation=activation)]
    else:  # a linear Dense followed by an Activation layer
        stack = [layers.Input(shape=(IN,)), layers.Dense(UNITS), layers.Activation(activation)]
    model = fm.Sequential(stack, seed=0, dtype="float64")
    model.set_weights([kernel, bias])
    return model


def _weights(scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(9, IN))
    kernel = rng.normal(size=(IN, UNITS)) * scale
    bias = rng.normal(size=UNITS) * scale
    return x, kernel, bias


@pytest.mark.parametrize("layer", ["dense", "activation-layer"])
@pytest.mark.parametrize("name", NAMES)
def test_engine_matches_formula(name: str, layer: str) -> None:
    x, kernel, bias = _weights()
    model = dense_model(name, kernel, bias, layer)
    expected = REFERENCES[name](x @ kernel + bias)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.predict_on_batch(x), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "exponential"])
def test_engine_is_stable_at_pre_activations_of_1000(name: str) -> None:
    x, kernel, bias = _weights()
    factor = 1000.0 / np.abs(x @ kernel + bias).max()
    kernel, bias = kernel * factor, bias * factor
    model = dense_model(name, kernel, bias)
    out = model.predict(x, verbose=0)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, REFERENCES[name](x @ kernel + bias), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", NAMES)
def test_engine_float32_matches_formula(name: str) -> None:
    x, kernel, bias = _weights()
    model = fm.Sequential(
        [layers.Input(shape=(IN,)), layers.Dense(UNITS, activation=name)], seed=0, dtype="float32"
    )
    model.set_weights([kernel, bias])
    out = model.predict(x, verbose=0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, REFERENCES[name](x @ kernel + bias), rtol=2e-5, atol=2e-6)


# -- the functions of z (silu, gelu, mish, hard_silu) on every path of the engine ---------------

Z_FUNCTIONS = ["silu", "gelu", "mish", "hard_silu"]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", Z_FUNCTIONS)
def test_functions_of_z_train_alike_on_the_sparse_by_rows_and_dense_paths(name, threads) -> None:
    """These layers keep their pre-activation z for the backward pass; the by-rows step (each
    thread its rows through all layers) and predict's chunks write it at row offsets."""
    x, y = mnist_like(600, seed=3)

    def run(sparse: bool):
        model = fm.Sequential(
            [
                layers.Input(shape=(784,)),
                layers.Dense(32, activation=name),
                layers.Dense(16),
                layers.Activation(name),
                layers.Dense(10, activation="softmax"),
            ],
            seed=4,
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=200, epochs=2, shuffle=False, verbose=0)
        assert model._engine.last_batch_sparse == sparse
        w = model.get_weights()
        h1 = REFERENCES[name](x.astype(np.float64) @ w[0] + w[1])
        h2 = REFERENCES[name](h1 @ w[2] + w[3])
        expected = REFERENCES["softmax"](h2 @ w[4] + w[5])
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)
        return history.history["loss"], w

    (loss_sparse, w_sparse), (loss_dense, w_dense) = on_both_paths(threads, run)
    np.testing.assert_allclose(loss_sparse, loss_dense, rtol=1e-4)
    for a, b in zip(w_sparse, w_dense):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    assert loss_sparse[1] < loss_sparse[0]  # (and it learns)


@pytest.mark.parametrize("name", [*Z_FUNCTIONS, "relu6"])
def test_the_gpu_engine_refuses_the_functions_it_lacks_and_the_model_stays(name) -> None:
    stack = [layers.Input(shape=(3,)), layers.Dense(2, activation=name)]
    model = fm.Sequential(stack, device="numpy")  # (the engine is made at the first use)
    with pytest.raises(NotImplementedError, match=rf"activation '{name}' is computed by the CPU"):
        model.predict(np.ones((1, 3)), verbose=0)
    model = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(2, activation=name)])
    expected = model.predict(np.ones((1, 3)), verbose=0)
    with pytest.raises(NotImplementedError, match="CPU engine only"):
        model.to("numpy")
    assert model._device == "cpu"  # the model stays where it was, and works
    np.testing.assert_array_equal(model.predict(np.ones((1, 3)), verbose=0), expected)


# -- the derivative at a kink: TensorFlow's side --------------------------------------------------

# f'(0) as TensorFlow's gradients give it: relu 0 (z > 0 passes), leaky_relu its slope, elu and selu
# the right side (activations < 0 take the left), relu6 0; the smooth ones their derivative.
DERIVATIVE_AT_ZERO = {
    "linear": 1.0, "relu": 0.0, "sigmoid": 0.25, "tanh": 1.0, "elu": 1.0, "selu": SELU_SCALE,
    "softplus": 0.5, "softsign": 1.0, "leaky_relu": 0.2, "exponential": 1.0,
    "hard_sigmoid": 1 / 6, "relu6": 0.0, "silu": 0.5, "gelu": 0.5, "mish": math.tanh(math.log(2)),
    "hard_silu": 0.5,
}  # fmt: skip


@pytest.mark.parametrize("device", ["cpu", "numpy"])
@pytest.mark.parametrize("name", list(DERIVATIVE_AT_ZERO))
def test_derivative_at_exactly_zero_is_tensorflows(name: str, device: str) -> None:
    """A layer whose inputs are all zero (a dead ReLU before it, zero bias: Keras's default)
    has z = 0 exactly; the bias gradient then reads f'(0)."""
    if device == "numpy" and activations.code(name) >= 12:
        pytest.skip("the GPU engine lacks this activation")
    model = fm.Sequential(
        [layers.Input(shape=(3,)), layers.Dense(1, activation=name, kernel_initializer="zeros")],
        dtype="float64",
        device=device,
    )
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3)), np.full((4, 1), 3.0)
    _, grad = model._engine.loss_and_gradient(x, y)
    a0 = REFERENCES[name](np.zeros(1))[0]
    d_loss_d_a = 2 * (a0 - 3.0)  # the mean over 4 samples of 2 (a - y) / 1 output
    assert grad[-1] == pytest.approx(d_loss_d_a * DERIVATIVE_AT_ZERO[name], rel=1e-12, abs=1e-15)
