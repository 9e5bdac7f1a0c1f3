"""ReLU (Keras 3's arguments), LeakyReLU, ELU and PReLU, and the arguments of the functions relu,
leaky_relu and elu.

References independent of the code under test: Keras 3's formulas transcribed element by element
(its relu line by line: TensorFlow's leaky_relu for a slope alone, relu6 for max_value 6, a clip
otherwise), central finite differences of the engine's own loss, TensorFlow's op gradients at the
kinks written out (relu'(0) = 0, a clip passes its ends, ...), and, where Keras 3 is installed,
Keras itself (one subprocess): the functions' values, the gradients at the kinks (GradientTape),
predictions from the same weights, three epochs of SGD, the summary's counts and the configs both
ways.
"""

from __future__ import annotations

import json
import math
import pickle

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import activations, initializers, layers, optimizers, regularizers
from keras_run import run_keras
from test_gpu_engine import _train_both
from test_normalization import numeric_gradient
from test_sparse_inputs import mnist_like, on_both_paths

# -- references: Keras 3's definitions, one number at a time ------------------------------------


def keras_relu(v: float, negative_slope=0.0, max_value=None, threshold=0.0) -> float:
    """keras.src.activations.ReLU.static_call, line by line."""
    if negative_slope != 0 and max_value is None and threshold == 0:
        return v if v > 0 else negative_slope * v  # TensorFlow's leaky_relu
    negative_part = max(-v + threshold, 0.0) if negative_slope != 0 else 1.0
    clip_max = max_value is not None
    if threshold != 0:
        v = v if v > threshold else 0.0
    elif max_value == 6:
        v, clip_max = min(max(v, 0.0), 6.0), False  # relu6
    else:
        v = max(v, 0.0)
    if clip_max:
        v = min(max(v, 0.0), max_value)
    if negative_slope != 0:
        v -= negative_slope * negative_part
    return v


def keras_relu_derivative(v: float, negative_slope=0.0, max_value=None, threshold=0.0) -> float:
    """The same lines differentiated with TensorFlow's op gradients: LeakyReluGrad (v > 0 passes),
    ReluGrad (v > 0), Relu6Grad (0 < v < 6), where (the condition), clip_by_value (min <= v <= max
    passes)."""
    if negative_slope != 0 and max_value is None and threshold == 0:
        return 1.0 if v > 0 else negative_slope
    clip_max = max_value is not None
    if threshold != 0:
        positive, d = (v, 1.0) if v > threshold else (0.0, 0.0)
    elif max_value == 6:
        positive, d, clip_max = v, float(0 < v < 6), False
    else:
        positive, d = max(v, 0.0), float(v > 0)
    if clip_max:
        d *= float(0 <= positive <= max_value)
    if negative_slope != 0:  # - slope * relu(threshold - v)
        d += negative_slope * float(threshold - v > 0)
    return d


def keras_elu(v: float, alpha=1.0) -> float:
    return v if v > 0 else alpha * math.expm1(v)


def keras_elu_derivative(v: float, alpha=1.0) -> float:
    return 1.0 if v > 0 else alpha * math.exp(v)  # (where(x > 0, elu, alpha elu): alpha at 0)


def keras_prelu(v: float, alpha: float) -> float:
    return max(v, 0.0) - alpha * max(-v, 0.0)


def elementwise(f, *args):
    return lambda x: np.vectorize(lambda v: f(float(v), *args), otypes=[float])(x)


# -- the layers: each argument form, with its reference and its kinks -----------------------------


class Case:
    """A layer with its NumPy reference (of the pre-activations and the layer's weights), where
    its kinks are, and its derivative there."""

    def __init__(self, key, make, value, derivative, kinks, gpu=True):
        self.key, self.make, self.value, self.derivative = key, make, value, derivative
        self.kinks, self.gpu = kinks, gpu


def _relu_case(key, gpu=True, **args):
    kinks = [args.get("threshold", 0.0)] + ([args["max_value"]] if "max_value" in args else [])
    return Case(
        key,
        lambda: layers.ReLU(**args),
        lambda z, w: elementwise(keras_relu, *_relu_args(args))(z),
        lambda z, w: elementwise(keras_relu_derivative, *_relu_args(args))(z),
        kinks,
        gpu,
    )


def _relu_args(args):
    return args.get("negative_slope", 0.0), args.get("max_value"), args.get("threshold", 0.0)


def _elu_case(key, alpha, gpu=True):
    return Case(
        key,
        lambda: layers.ELU(alpha) if alpha != 1 else layers.ELU(),
        lambda z, w: elementwise(keras_elu, alpha)(z),
        lambda z, w: elementwise(keras_elu_derivative, alpha)(z),
        [0.0],
        gpu,
    )


def _leaky_case(key, slope):
    return Case(
        key,
        lambda: layers.LeakyReLU(slope),
        lambda z, w: elementwise(keras_relu, slope)(z),
        lambda z, w: np.where(z > 0, 1.0, slope),
        [0.0],
    )


def _prelu_value(z, w):
    return np.vectorize(keras_prelu, otypes=[float])(z, np.broadcast_to(w[0], z.shape))


def _prelu_case(key, **args):
    return Case(
        key,
        lambda: layers.PReLU(**args),
        _prelu_value,
        lambda z, w: np.where(z > 0, 1.0, np.where(z < 0, np.broadcast_to(w[0], z.shape), 0.0)),
        [0.0],
        gpu=False,
    )


def _constant(value):
    return initializers.Constant(value)


CASES = [
    _relu_case("relu"),
    _relu_case("relu-slope", negative_slope=0.25),  # (Keras: TensorFlow's leaky_relu)
    _relu_case("relu-max", gpu=False, max_value=0.5),
    _relu_case("relu-max6", gpu=False, max_value=6.0),  # (Keras: relu6)
    _relu_case("relu-max6-slope", gpu=False, max_value=6.0, negative_slope=0.25),
    _relu_case("relu-threshold", gpu=False, threshold=0.5),
    _relu_case("relu-max-slope", gpu=False, max_value=1.5, negative_slope=0.1),
    _relu_case("relu-all", gpu=False, max_value=2.0, negative_slope=0.1, threshold=0.5),
    _relu_case("relu-max-under-threshold", gpu=False, max_value=0.5, threshold=1.0, negative_slope=0.25),
    _relu_case("relu-max0", gpu=False, max_value=0.0, negative_slope=0.25),
    _leaky_case("leaky", 0.25),
    _leaky_case("leaky-zero", 0.0),
    _leaky_case("leaky-steep", 2.0),
    _elu_case("elu", 1.0),
    _elu_case("elu-half", 0.5),
    _elu_case("elu-zero", 0.0),
    _elu_case("elu-negative", -0.5, gpu=False),
    _prelu_case("prelu", alpha_initializer=_constant(0.25)),
    _prelu_case("prelu-shared", alpha_initializer=_constant(0.1), shared_axes=[1]),
    _prelu_case("prelu-l2", alpha_initializer=_constant(-0.2), alpha_regularizer=regularizers.L2(0.125)),
]  # fmt: skip
BY_KEY = {case.key: case for case in CASES}
IDS = [case.key for case in CASES]


def _stack(case: Case, units=6, out=3, activation=None, dtype="float64", device="cpu", seed=2):
    """Input(5) -> Dense(units) -> the layer -> Dense(out)."""
    return fm.Sequential(
        [
            layers.Input(shape=(5,)),
            layers.Dense(units),
            case.make(),
            layers.Dense(out, activation=activation),
        ],
        dtype=dtype,
        device=device,
        seed=seed,
    )


def _reference_forward(case: Case, weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    w1, b1, *mid, w2, b2 = weights
    return case.value(x @ w1 + b1, mid) @ w2 + b2


def _away_from_kinks(case: Case, seed: int, margin=1e-3):
    """A model and data whose pre-activations all lie at least `margin` from the layer's kinks."""
    rng = np.random.default_rng(seed)
    while True:
        model = _stack(case, seed=int(rng.integers(1000)))
        x = rng.normal(size=(7, 5))
        w = model.get_weights()
        z = x @ w[0] + w[1]
        if all(np.abs(z - k).min() >= margin for k in case.kinks):
            return model, x, rng.normal(size=(7, 3))


# -- the functions --------------------------------------------------------------------------------

GRID = np.concatenate([np.linspace(-8, 8, 65), [0.0, 0.5, 1.0, 2.0, 6.0, -1e-9, 1e-9, 5.999]])
FUNCTION_ARGS = [
    ("relu", {}),
    ("relu", {"negative_slope": 0.25}),
    ("relu", {"negative_slope": 0.1}),
    ("relu", {"max_value": 6.0}),
    ("relu", {"max_value": 6.0, "negative_slope": 0.1}),
    ("relu", {"max_value": 2.0}),
    ("relu", {"threshold": 1.0}),
    ("relu", {"threshold": 1.0, "negative_slope": 0.1}),
    ("relu", {"max_value": 2.0, "negative_slope": 0.1, "threshold": 0.5}),
    ("relu", {"max_value": 0.5, "negative_slope": 0.25, "threshold": 1.0}),
    ("relu", {"max_value": 0.0}),
    ("relu", {"negative_slope": -0.5}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.5}),
    ("leaky_relu", {"negative_slope": -0.5}),
    ("leaky_relu", {"negative_slope": 0.0}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("elu", {"alpha": -1.0}),
    ("elu", {"alpha": 0.0}),
]
FUNCTION_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in args.items()) or 'default'}" for name, args in FUNCTION_ARGS]  # fmt: skip
SCALAR_REFERENCES = {
    "relu": lambda a: elementwise(keras_relu, *_relu_args(a)),
    "leaky_relu": lambda a: elementwise(keras_relu, a.get("negative_slope", 0.2)),
    "elu": lambda a: elementwise(keras_elu, a.get("alpha", 1.0)),
}


@pytest.mark.parametrize(("name", "args"), FUNCTION_ARGS, ids=FUNCTION_IDS)
def test_functions_take_kerass_arguments(name, args) -> None:
    expected = SCALAR_REFERENCES[name](args)(GRID)
    out = getattr(activations, name)(GRID, **args)
    np.testing.assert_allclose(out, expected, rtol=1e-15, atol=1e-300)
    out32 = getattr(activations, name)(GRID.astype(np.float32), **args)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, expected, rtol=1e-6, atol=1e-6)


def test_functions_keep_their_defaults() -> None:
    x = np.array([-10.0, -1.0, 0.0, 3.0])
    assert activations.leaky_relu(x).tolist() == [-2.0, -0.2, 0.0, 3.0]  # 0.2, not the layer's 0.3
    np.testing.assert_array_equal(activations.relu(x), [0, 0, 0, 3])
    np.testing.assert_array_equal(activations.elu(x), np.where(x > 0, x, np.expm1(x)))
    assert activations.relu([1, -2]).dtype.kind == "i"  # (the plain form keeps integers as before)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x: activations.relu(x, max_value=-1.0), ValueError, "relu: max_value must be >= 0"),
        (lambda x: activations.relu(x, threshold=-0.5), ValueError, "relu: threshold must be >= 0"),
        (lambda x: activations.relu(x, negative_slope="0.1"), TypeError, "relu: negative_slope must be a number"),
        (lambda x: activations.relu(x, max_value=math.inf), ValueError, "relu: max_value must be a finite"),
        (lambda x: activations.relu(x, threshold=True), TypeError, "relu: threshold must be a number"),
        (lambda x: activations.leaky_relu(x, negative_slope=None), TypeError, "leaky_relu: negative_slope"),
        (lambda x: activations.leaky_relu(x, math.nan), ValueError, "leaky_relu: negative_slope must be a finite"),
        (lambda x: activations.elu(x, alpha="1"), TypeError, "elu: alpha must be a number"),
        (lambda x: activations.elu(x, alpha=-math.inf), ValueError, "elu: alpha must be a finite"),
    ],
)  # fmt: skip
def test_functions_refuse_bad_arguments_by_name(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call(np.zeros(3))


# -- the layers in the engine ---------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_engine_matches_the_reference(case) -> None:
    model = _stack(case)
    x = np.random.default_rng(0).normal(size=(40, 5)) * 2
    w = model.get_weights()
    expected = _reference_forward(case, w, x)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-13, atol=1e-14)
    model32 = _stack(case, dtype="float32")
    model32.set_weights(w)
    np.testing.assert_allclose(model32.predict(x, verbose=0), expected, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_matches_finite_differences(case) -> None:
    """Every parameter (PReLU's alphas too) against central differences of the engine's loss,
    with the pre-activations away from the kinks; mse and a L2 penalty where the case has one."""
    model, x, y = _away_from_kinks(case, seed=len(case.key))
    model.compile(optimizer="sgd", loss="mse")
    loss, grad = model._engine.loss_and_gradient(x, y)
    numeric = numeric_gradient(model._engine, x, y)
    error = np.linalg.norm(grad - numeric) / max(
        np.linalg.norm(grad) + np.linalg.norm(numeric), 1e-12
    )
    assert error < 1e-7, error
    w = model.get_weights()
    a = _reference_forward(case, w, x)
    penalty = 0.125 * np.sum(w[2] ** 2) if case.key == "prelu-l2" else 0.0
    assert loss == pytest.approx(np.mean((a - y) ** 2) + penalty, rel=1e-12)


def _kink_inputs(case: Case, features: int = 8, rows: int = 4) -> np.ndarray:
    """Each kink and points either side of it, -1.5 and 3, rotated so that every column meets
    every value."""
    values = [v for k in case.kinks for v in (k, k - 0.25, k + 0.25)] + [-1.5, 3.0]
    values = (values * features)[:features]
    return np.array([np.roll(values, r) for r in range(rows)])


def _kink_model(case: Case, device="cpu"):
    """Input(n) -> Dense(n) with the identity kernel and no bias, so that the layer's inputs are
    the inputs exactly -> the layer -> Dense(2); mse."""
    x = _kink_inputs(case)
    n = x.shape[1]
    model = fm.Sequential(
        [layers.Input(shape=(n,)), layers.Dense(n), case.make(), layers.Dense(2)],
        dtype="float64",
        seed=3,
        device=device,
    )
    w = model.get_weights()
    model.set_weights([np.eye(n), np.zeros(n), *w[2:]])
    model.compile(optimizer="sgd", loss="mse")
    y = np.random.default_rng(1).normal(size=(x.shape[0], 2))
    return model, x, y


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_derivatives_at_the_kinks_are_tensorflows(case) -> None:
    """At exactly the kinks, the gradient of the first Dense's bias (dL/dz summed over the rows)
    against TensorFlow's op gradients of Keras's graph written out (keras_relu_derivative, ...)."""
    model, x, y = _kink_model(case)
    w = model.get_weights()
    mid, (w2, b2) = w[2:-2], w[-2:]
    a = case.value(x, mid)
    d_out = 2 * (a @ w2 + b2 - y) / y.size  # d mean((o - y)^2) / do
    expected = ((d_out @ w2.T) * case.derivative(x, mid)).sum(axis=0)
    _, grad = model._engine.loss_and_gradient(x, y)
    n = x.shape[1]
    np.testing.assert_allclose(grad[n * n : n * n + n], expected, rtol=1e-13, atol=1e-16)
    assert all((np.abs(x - k) == 0).any() for k in case.kinks)  # (the kinks are met exactly)


@pytest.mark.parametrize("case", [c for c in CASES if c.gpu], ids=[c.key for c in CASES if c.gpu])
def test_the_numpy_device_equals_the_cpu_engine(case) -> None:
    """The GPU engine's code (its kernels' NumPy twins): the same gradient at the kinks and the
    same 100 steps of Adam."""
    (cpu, x, y), (twin, _, _) = _kink_model(case), _kink_model(case, device="numpy")
    twin.set_weights(cpu.get_weights())
    loss, grad = cpu._engine.loss_and_gradient(x, y)
    loss_twin, grad_twin = twin._engine.loss_and_gradient(x, y)
    assert loss_twin == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(grad_twin, grad, rtol=1e-13, atol=1e-16)

    def make(dtype, device):
        model = _stack(case, dtype=dtype, device=device, activation="softmax")
        model.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy")
        return model

    data = np.random.default_rng(4).normal(size=(160, 5))
    labels = (data[:, 0] > 0).astype(int) + (data[:, 1] > 0.5)
    (a, b), (ha, hb) = _train_both(make, "numpy", "float64", data, labels)
    np.testing.assert_allclose(hb.history["loss"], ha.history["loss"], rtol=1e-11)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wb, wa, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: layers.ReLU(max_value=1.0), r"relu with arguments \(ReLU\(max_value=1.0, "),
        (lambda: layers.ReLU(threshold=0.5, negative_slope=0.1), r"threshold=0.5\)\) is computed"),
        (lambda: layers.ELU(alpha=-1.0), "elu with a negative alpha"),
        (layers.PReLU, "PReLU is computed by the CPU engine only"),
    ],
)
def test_the_gpu_engine_refuses_by_name_what_it_lacks(make, match) -> None:
    model = fm.Sequential([layers.Input(shape=(3,)), make(), layers.Dense(2)], device="numpy")
    with pytest.raises(NotImplementedError, match=match):
        model.predict(np.ones((1, 3)), verbose=0)
    cpu = fm.Sequential([layers.Input(shape=(3,)), make(), layers.Dense(2)])
    expected = cpu.predict(np.ones((1, 3)), verbose=0)
    with pytest.raises(NotImplementedError, match="CPU engine only"):
        cpu.to("numpy")
    np.testing.assert_array_equal(cpu.predict(np.ones((1, 3)), verbose=0), expected)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("key", ["relu-all", "prelu", "elu-negative"])
def test_sparse_by_rows_and_dense_paths_train_alike(key, threads) -> None:
    """A layer that keeps z (relu with arguments, elu with a negative alpha) or has weights
    (PReLU) on the step that takes each thread's rows through all the layers."""
    x, y = mnist_like(600, seed=3)
    case = BY_KEY[key]

    def run(sparse: bool):
        model = fm.Sequential(
            [layers.Input(shape=(784,)), layers.Dense(32), case.make(), layers.Dense(10, activation="softmax")],
            seed=4,
        )  # fmt: skip
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=200, epochs=2, shuffle=False, verbose=0)
        assert model._engine.last_batch_sparse == sparse
        return history.history["loss"], model.get_weights()

    (loss_sparse, w_sparse), (loss_dense, w_dense) = on_both_paths(threads, run)
    np.testing.assert_allclose(loss_sparse, loss_dense, rtol=1e-4)
    for a, b in zip(w_sparse, w_dense, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    assert loss_sparse[1] < loss_sparse[0]


# -- PReLU's weights ------------------------------------------------------------------------------


def test_prelu_alphas_are_weights_of_the_layer() -> None:
    model = _stack(BY_KEY["prelu"])
    prelu = model.layers[1]
    assert prelu.count_params() == 6 and model.count_params() == (5 * 6 + 6) + 6 + (6 * 3 + 3)
    np.testing.assert_array_equal(prelu.alpha, np.full(6, 0.25))
    prelu.set_weights([np.arange(6.0)])
    np.testing.assert_array_equal(model.get_weights()[2], np.arange(6.0))
    assert len(prelu.trainable_weights) == 1 and prelu.non_trainable_weights == []
    with pytest.raises(ValueError, match=r"weights\[0\] of layer 'p_re_lu"):
        prelu.set_weights([np.zeros(5)])
    shared = _stack(BY_KEY["prelu-shared"]).layers[1]
    assert shared.get_weights()[0].shape == (1,) and shared.count_params() == 1
    default = fm.Sequential([layers.Input(shape=(4,)), layers.PReLU()])
    np.testing.assert_array_equal(default.layers[0].alpha, np.zeros(4))  # Keras's "zeros"


def test_a_frozen_prelu_keeps_its_alphas_and_pays_no_penalty() -> None:
    x = np.random.default_rng(0).normal(size=(64, 5))
    labels = (x[:, 0] > 0).astype(int)
    model = _stack(BY_KEY["prelu-l2"], activation="softmax")
    model.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    prelu = model.layers[1]
    prelu.trainable = False
    assert prelu.trainable_weights == [] and len(prelu.non_trainable_weights) == 1
    before = model.get_weights()
    model.fit(x, labels, batch_size=16, epochs=2, verbose=0)
    after = model.get_weights()
    np.testing.assert_array_equal(after[2], before[2])
    assert not np.array_equal(after[0], before[0])
    frozen_loss = model.evaluate(x, labels, verbose=0)
    prelu.trainable = True  # its penalty is in the loss again: 0.125 sum(alpha^2)
    penalty = 0.125 * np.sum(after[2] ** 2)
    assert model.evaluate(x, labels, verbose=0) == pytest.approx(frozen_loss + penalty, rel=1e-12)
    model.fit(x, labels, batch_size=16, epochs=1, verbose=0)
    assert not np.array_equal(model.get_weights()[2], after[2])


@pytest.mark.parametrize("shared", [False, True])
def test_saved_pickled_and_configured_models_keep_the_layers(shared, tmp_path) -> None:
    stack = [
        layers.Input(shape=(5,)),
        layers.Dense(6),
        layers.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.5),
        layers.Dense(6),
        layers.LeakyReLU(0.25),
        layers.Dense(6),
        layers.ELU(0.5),
        layers.Dense(6),
        layers.PReLU(
            alpha_initializer=_constant(0.2),
            alpha_regularizer=regularizers.L1(0.01),
            shared_axes=1 if shared else None,
        ),
        layers.Dense(3, activation="softmax"),
    ]
    model = fm.Sequential(stack, dtype="float64", seed=1)
    model.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    x = np.random.default_rng(2).normal(size=(64, 5))
    labels = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1)
    model.fit(x, labels, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    copies = [
        fm.models.load_model(tmp_path / "m.fastmlp"),
        pickle.loads(pickle.dumps(model)),
    ]
    configs = [layer.get_config() for layer in model.layers]
    (prelu,) = [c for c in configs if "shared_axes" in c]
    assert prelu["shared_axes"] == ([1] if shared else None)
    assert prelu["alpha_regularizer"] == {"class_name": "L1", "config": {"l1": 0.01}}
    rebuilt = fm.models.model_from_json(model.to_json())
    assert [layer.get_config() for layer in rebuilt.layers] == configs
    for copy in copies:
        assert [layer.get_config() for layer in copy.layers] == configs
        for a, b in zip(copy.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    for m in [model, *copies]:  # trained on: the same steps
        m.fit(x, labels, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for copy in copies:
        for a, b in zip(copy.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))


def test_default_names_are_kerass() -> None:
    layers.reset_names()
    names = [layers.ReLU().name, layers.LeakyReLU().name, layers.ELU().name, layers.PReLU().name]
    assert names == ["re_lu", "leaky_re_lu", "elu", "p_re_lu"]
    assert layers.ReLU().name == "re_lu_1"


def test_defaults_and_configs() -> None:
    assert layers.LeakyReLU().negative_slope == 0.3  # Keras 3's layer default (the function's: 0.2)
    assert layers.ELU().alpha == 1.0
    relu = layers.ReLU()
    assert (relu.max_value, relu.negative_slope, relu.threshold) == (None, 0.0, 0.0)
    assert layers.PReLU(name="p").get_config() == {
        "name": "p",
        "alpha_initializer": {"class_name": "Zeros", "config": {}},
        "alpha_regularizer": None,
        "alpha_constraint": None,
        "shared_axes": None,
    }
    for layer in (
        layers.ReLU(3, 0.5, 1),
        layers.LeakyReLU(0.5),
        layers.ELU(2),
        layers.PReLU("ones", regularizers.L2(0.1), shared_axes=(1,), trainable=False),
    ):
        again = layers.deserialize(json.loads(json.dumps(layers.serialize(layer))))
        assert type(again) is type(layer) and again.get_config() == layer.get_config()
    assert layers.ReLU(3, 0.5, 1).get_config()["max_value"] == 3.0


def test_keras_2_leaky_relu_configs_load_with_kerass_warning() -> None:
    with pytest.warns(UserWarning, match="Argument `alpha` is deprecated"):
        layer = layers.deserialize({"class_name": "LeakyReLU", "config": {"alpha": 0.1}})
    assert layer.negative_slope == 0.1
    assert "alpha" not in layer.get_config()


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: layers.ReLU(max_value=-1), ValueError, "max_value of a ReLU layer cannot be a negative"),
        (lambda: layers.ReLU(negative_slope=-0.1), ValueError, "negative_slope of a ReLU layer cannot"),
        (lambda: layers.ReLU(threshold=-1), ValueError, "threshold of a ReLU layer cannot"),
        (lambda: layers.ReLU(negative_slope=None), ValueError, "negative_slope of a ReLU layer cannot be None"),
        (lambda: layers.ReLU(threshold=None), ValueError, "threshold of a ReLU layer cannot be None"),
        (lambda: layers.ReLU(max_value="6"), TypeError, "ReLU: max_value must be a number"),
        (lambda: layers.ReLU(max_value=math.inf), ValueError, "ReLU: max_value must be a finite"),
        (lambda: layers.ReLU(threshold=math.nan), ValueError, "ReLU: threshold must be a finite"),
        (lambda: layers.ReLU(alpha=0.1), TypeError, r"ReLU got unexpected arguments: \['alpha'\]"),
        (lambda: layers.LeakyReLU(-0.1), ValueError, "negative_slope of a LeakyReLU layer cannot"),
        (lambda: layers.LeakyReLU(None), ValueError, "cannot be None"),
        (lambda: layers.LeakyReLU(True), TypeError, "LeakyReLU: negative_slope must be a number"),
        (lambda: layers.ELU("1"), TypeError, "ELU: alpha must be a number"),
        (lambda: layers.ELU(math.inf), ValueError, "ELU: alpha must be a finite"),
        (lambda: layers.PReLU(alpha_constraint="non_neg"), NotImplementedError, "alpha_constraint"),
        (lambda: layers.PReLU(shared_axes=[1, 2]), NotImplementedError, r"shared_axes=\[1, 2\]"),
        (lambda: layers.PReLU(shared_axes=0), ValueError, r"shared_axes .* \(0 is the batch\)"),
        (lambda: layers.PReLU(shared_axes="1"), TypeError, "shared_axes must be None or axes"),
        (lambda: layers.PReLU(alpha_initializer="nope"), ValueError, "PReLU: alpha_initializer"),
        (lambda: layers.PReLU(alpha_regularizer="nope"), ValueError, "alpha_regularizer"),
        (lambda: layers.PReLU(alpha_regularizer=regularizers.L2(-1.0)), ValueError, "alpha_regularizer|l2"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_by_name(make, error, match) -> None:
    with pytest.raises(error, match=match):
        make()


def test_samples_must_be_flat() -> None:
    for layer in (layers.ReLU(max_value=1.0), layers.PReLU()):
        model = fm.Sequential([layers.Input(shape=(2, 3)), layer])
        with pytest.raises(ValueError, match="expects flat samples"):
            model.predict(np.ones((1, 2, 3)), verbose=0)


# -- Keras 3 itself -------------------------------------------------------------------------------

# Keras's TensorFlow backend runs leaky_relu (LeakyReLU, and ReLU with a slope alone) with its
# slope as a float32 attribute: 0.3 becomes 0.30000001192..., 1e-8 off in float64. The parity
# cases take slopes that float32 holds exactly; LEAKY_DEFAULT shows the difference.
MODEL_CASES = [c for c in CASES] + [
    _prelu_case("prelu-zeros"),
    Case("prelu-frozen", lambda: layers.PReLU(_constant(0.3), trainable=False), _prelu_value, None, [0.0]),
    _leaky_case("leaky-default", 0.3),
]  # fmt: skip
LEAKY_DEFAULT = {"leaky-default"}
KERAS_CLASSES = ["ReLU", "LeakyReLU", "ELU", "PReLU"]

KERAS_SCRIPT = """
import json, sys
import numpy as np
import keras, tensorflow as tf

keras.config.set_floatx("float64")  # (before any layer: the first one fixes the dtype policy)
names = {c: getattr(keras.layers, c)().name for c in ("ReLU", "LeakyReLU", "ELU", "PReLU")}
def make(c):  # our config, read by Keras's from_config
    return getattr(keras.layers, c["class_name"]).from_config(c["config"])
spec, data = json.load(open(sys.argv[1])), np.load(sys.argv[2])
out, info = {}, {"names": names, "configs": {}, "counts": {}, "weight_names": {}}
grid = data["grid"]
for key, name, args in spec["functions"]:
    out["function/" + key] = np.asarray(getattr(keras.activations, name)(tf.constant(grid), **args))
for key, layer_config, weights in spec["kinks"]:
    x, y = data[key + "/kx"], data[key + "/ky"]
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(x.shape[1]),
        make(layer_config), keras.layers.Dense(2)])
    model.set_weights([data[key + "/kw" + str(i)] for i in range(weights)])
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, model(tf.constant(x))) + sum(model.losses)
    grads = tape.gradient(loss, model.trainable_variables)
    out[key + "/kloss"] = np.float64(loss)
    out[key + "/kgrad"] = np.concatenate([g.numpy().ravel() for g in grads])
x, labels = data["x"], data["labels"]
for key, layer_config, weights in spec["models"]:
    layer = make(layer_config)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6), layer,
        keras.layers.Dense(3, activation="softmax")])
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    info["counts"][key] = [l.strip() for t in lines for l in t.splitlines() if "params:" in l]
    info["weight_names"][key] = [w.path.split("/")[-1] for w in layer.weights]
    model.set_weights([data[key + "/w" + str(i)] for i in range(weights)])
    out[key + "/predict"] = model.predict(x, verbose=0)
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    history = model.fit(x, labels, batch_size=16, epochs=3, shuffle=False, verbose=0)
    out[key + "/loss"] = np.array(history.history["loss"])
    out[key + "/trained"] = np.concatenate([w.ravel() for w in model.get_weights()])
    info["configs"][key] = keras.layers.serialize(layer)
np.savez(sys.argv[3], **out)
print(json.dumps(info))
"""


def _training_data():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(96, 5)) * 1.5
    labels = (x[:, 0] * x[:, 1] > 0).astype(int) + (x[:, 2] > 0.5)
    return x, labels


def _model_case(case: Case):
    model = _stack(case, activation="softmax", seed=5)
    return model, model.layers[1]


@pytest.fixture(scope="module")
def keras_results(tmp_path_factory):
    """Keras 3's results for all the cases, from one subprocess: (arrays, info)."""
    tmp = tmp_path_factory.mktemp("keras_activation_layers")
    x, labels = _training_data()
    arrays = {"x": x, "labels": labels, "grid": GRID}
    spec = {"functions": [], "kinks": [], "models": []}
    for key, (name, args) in zip(FUNCTION_IDS, FUNCTION_ARGS):
        spec["functions"].append([key, name, args])
    for case in CASES:
        model, kx, ky = _kink_model(case)
        weights = model.get_weights()
        arrays.update({f"{case.key}/kw{i}": w for i, w in enumerate(weights)})
        arrays.update({f"{case.key}/kx": kx, f"{case.key}/ky": ky})
        spec["kinks"].append([case.key, layers.serialize(model.layers[1]), len(weights)])
    for case in MODEL_CASES:
        model, layer = _model_case(case)
        weights = model.get_weights()
        arrays.update({f"{case.key}/w{i}": w for i, w in enumerate(weights)})
        spec["models"].append([case.key, layers.serialize(layer), len(weights)])
    (tmp / "spec.json").write_text(json.dumps(spec))
    np.savez(tmp / "in.npz", **arrays)
    info = run_keras(
        KERAS_SCRIPT, *(str(tmp / f) for f in ("spec.json", "in.npz", "out.npz")), timeout=600
    )
    return dict(np.load(tmp / "out.npz")), json.loads(info.strip().splitlines()[-1])


@pytest.mark.parametrize(("name", "args"), FUNCTION_ARGS, ids=FUNCTION_IDS)
def test_functions_match_keras(keras_results, name, args) -> None:
    theirs = keras_results[0]["function/" + FUNCTION_IDS[FUNCTION_ARGS.index((name, args))]]
    ours = getattr(activations, name)(GRID, **args)
    leaky_form = name == "leaky_relu" or (name == "relu" and list(args) == ["negative_slope"])
    slope = args.get("negative_slope", 0.2 if name == "leaky_relu" else 0.0)
    # (TensorFlow's leaky_relu holds its slope in float32: exact for 0.25, 0.5, 2, ...)
    rtol = 1e-15 if not leaky_form or float(np.float32(slope)) == slope else 1e-7
    # (TensorFlow's elu is exp(x) - 1, ours expm1(x): 3e-17 apart where x is near 0)
    atol = 1e-16 if name == "elu" else 1e-300
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_at_the_kinks_match_tensorflow(keras_results, case) -> None:
    theirs, _ = keras_results
    model, x, y = _kink_model(case)
    loss, grad = model._engine.loss_and_gradient(x, y)
    assert loss == pytest.approx(float(theirs[case.key + "/kloss"]), rel=1e-13)
    np.testing.assert_allclose(grad, theirs[case.key + "/kgrad"], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", MODEL_CASES, ids=[c.key for c in MODEL_CASES])
def test_same_as_keras(keras_results, case, capsys) -> None:
    """float64, the same weights: predictions; three epochs of SGD (shuffle=False): the losses and
    every weight, PReLU's alphas included; the summary's counts; the layer's weight names; the
    default name; and the config Keras writes for our layer, read back here."""
    theirs, info = keras_results
    key = case.key
    x, labels = _training_data()
    model, layer = _model_case(case)
    model.summary()
    counts = [line.strip() for line in capsys.readouterr().out.splitlines() if "params:" in line]
    assert counts == info["counts"][key]
    assert ["alpha"] * isinstance(layer, layers.PReLU) == info["weight_names"][key]
    rtol = 1e-7 if key in LEAKY_DEFAULT else 1e-13
    np.testing.assert_allclose(model.predict(x, verbose=0), theirs[key + "/predict"], rtol=rtol)
    model.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    start = model.get_weights()
    history = model.fit(x, labels, batch_size=16, epochs=3, shuffle=False, verbose=0)
    rtol = 1e-6 if key in LEAKY_DEFAULT else 1e-12
    np.testing.assert_allclose(history.history["loss"], theirs[key + "/loss"], rtol=rtol)
    trained = model.get_weights()
    ours = np.concatenate([w.ravel() for w in trained])
    np.testing.assert_allclose(ours, theirs[key + "/trained"], rtol=rtol, atol=rtol * 1e-2)
    if isinstance(layer, layers.PReLU) and layer.trainable:
        assert not np.array_equal(trained[2], start[2])  # (the alphas trained)
    keras_written = info["configs"][key]
    again = layers.deserialize(keras_written)  # (with Keras's "module", "dtype", ...)
    assert type(again) is type(layer)
    assert again.get_config() == {**layer.get_config(), "name": keras_written["config"]["name"]}


def test_default_names_match_kerass(keras_results) -> None:
    layers.reset_names()
    assert {c: getattr(layers, c)().name for c in KERAS_CLASSES} == keras_results[1]["names"]
