"""The engine's gradients against central finite differences, and its loss values against NumPy.

Every output activation meets every loss it makes sense with (probability losses on outputs in
[0, 1]; logits, regression and margin losses on any output), with from_logits both ways where the
loss has it, under four regularizers (none, L1, L2, L1 + L2 on kernels and biases). Each case
runs three hidden activations (on both hidden layers), rotated so that every hidden activation meets
every head (output activation, loss, mode) and every regularizer. Finite differences perturb the flat
parameters through `set_params`, so they check the whole backward pass (activations, fused and
unfused losses, dense layers, penalties) against the engine's own forward pass; the loss value is
checked against a forward pass and Keras 3 loss written here in NumPy, independent of the engine.

Kinks (relu, leaky_relu and selu at 0, hard_sigmoid at +-3, MAE at a = y, hinge at y a = 1, L1 at
w = 0) make finite differences meaningless within h of them: data and parameters are re-drawn until
every such quantity is at least `MARGIN` away from its kink.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastmlp import _core

ACTIVATIONS = {
    "linear": 0,
    "relu": 1,
    "sigmoid": 2,
    "tanh": 3,
    "softmax": 4,
    "elu": 5,
    "selu": 6,
    "softplus": 7,
    "softsign": 8,
    "leaky_relu": 9,
    "exponential": 10,
    "hard_sigmoid": 11,
    "relu6": 12,
    "silu": 13,
    "gelu": 14,
    "mish": 15,
    "hard_silu": 16,
}
LOSSES = {
    "sparse_ce": 0,
    "ce": 1,
    "bce": 2,
    "mse": 3,
    "mae": 4,
    "hinge": 5,
    "logistic": 6,
}
DENSE, ACTIVATION, DROPOUT = 0, 1, 2
PROBABILITIES, LOGITS, FUSED = 0, 1, 2  # Network.loss_mode

# Penalties per Dense layer (scaled by 1 + layer index so that layers cannot be mixed up);
# kernel and bias coefficients differ so that they cannot be swapped unnoticed either.
REGULARIZERS = {
    "noreg": {},
    "l1": {"kernel_l1": 0.03, "bias_l1": 0.05},
    "l2": {"kernel_l2": 0.02, "bias_l2": 0.04},
    "l1l2": {"kernel_l1": 0.03, "kernel_l2": 0.02, "bias_l1": 0.05, "bias_l2": 0.04},
}

H = 1e-6  # finite-difference step
RTOL = 1e-6  # norm-based relative error allowed between the gradients
MARGIN = 1e-3  # smallest distance allowed between a kinked quantity and its kink
FLAT = {  # where an activation is constant
    "relu": lambda z: z < 0,
    "relu6": lambda z: (z < 0) | (z > 6),
    "hard_sigmoid": lambda z: (z < -3) | (z > 3),
}
EPSILON = 1e-7  # Keras's epsilon: probabilities are clipped to [eps, 1 - eps]
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
MAX_PREACTIVATION = 8.0
KINKS = {
    "relu": (0.0,),
    "leaky_relu": (0.0,),
    "selu": (0.0,),
    "hard_sigmoid": (-3.0, 3.0),
    "relu6": (0.0, 6.0),
    "hard_silu": (-3.0, 3.0),
}

N_SAMPLES, N_FEATURES, N_CLASSES = 5, 3, 3


# --- NumPy reference ------------------------------------------------------------------------


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """Keras 3's activations, written from their definitions."""
    if name == "linear":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))
    if name == "softplus":
        return np.logaddexp(0.0, z)
    if name == "softsign":
        return z / (1.0 + np.abs(z))
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.2 * z)
    if name == "exponential":
        return np.exp(z)
    if name == "hard_sigmoid":
        return np.clip(z / 6.0 + 0.5, 0.0, 1.0)
    if name == "relu6":
        return np.clip(z, 0.0, 6.0)
    if name == "silu":
        return z * activate("sigmoid", z)
    if name == "gelu":
        return 0.5 * z * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    if name == "mish":
        return z * np.tanh(np.logaddexp(0.0, z))
    if name == "hard_silu":
        return z * activate("hard_sigmoid", z)
    raise AssertionError(name)


def unflatten(layers: list[dict], params: np.ndarray) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(W, b) per Dense layer from the flat layout: W (in, out) row-major, then b (out,)."""
    out, pos, width = [], 0, N_FEATURES
    for layer in layers:
        if layer["kind"] != DENSE:
            continue
        units = layer["units"]
        w = params[pos : pos + width * units].reshape(width, units)
        pos += width * units
        b = None
        if layer.get("use_bias", True):
            b = params[pos : pos + units]
            pos += units
        out.append((w, b))
        width = units
    assert pos == params.size
    return out


def forward(layers: list[dict], params: np.ndarray, x: np.ndarray):
    """Output of the stack and, per activation applied, (activation name, its input z)."""
    weights = iter(unflatten(layers, params))
    a, pre = x, []
    for layer in layers:
        name = layer.get("activation", "linear")
        if layer["kind"] == DENSE:
            w, b = next(weights)
            a = a @ w + (0.0 if b is None else b)
        elif layer["kind"] == DROPOUT:
            assert layer["rate"] == 0.0  # inference and rate 0 are both the identity
            continue
        pre.append((name, a))
        a = activate(name, a)
    return a, pre


def data_loss(loss: str, from_logits: bool, a: np.ndarray, y: np.ndarray) -> float:
    """Keras 3's losses (keras/src/backend/numpy/nn.py, keras/src/losses/losses.py), batch mean."""
    if loss in ("sparse_ce", "ce"):
        target = np.eye(a.shape[1])[y[:, 0].astype(int)] if loss == "sparse_ce" else y
        if from_logits:
            z = a - a.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        else:
            # Keras rescales the probabilities to sum to one before clipping.
            p = np.clip(a / a.sum(axis=1, keepdims=True), EPSILON, 1 - EPSILON)
            logp = np.log(p)
        per_sample = -(target * logp).sum(axis=1)
    elif loss == "bce":
        if from_logits:
            per_sample = np.mean(np.logaddexp(0.0, a) - y * a, axis=1)
        else:
            p = np.clip(a, EPSILON, 1 - EPSILON)
            per_sample = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=1)
    elif loss == "mse":
        per_sample = np.mean((a - y) ** 2, axis=1)
    elif loss == "mae":
        per_sample = np.mean(np.abs(a - y), axis=1)
    elif loss == "hinge":
        per_sample = np.mean(np.maximum(1 - y * a, 0.0), axis=1)
    elif loss == "logistic":
        per_sample = np.mean(np.logaddexp(0.0, -y * a), axis=1)
    else:
        raise AssertionError(loss)
    return float(per_sample.mean())


def penalty(layers: list[dict], params: np.ndarray) -> float:
    """Keras's L1L2: l1 sum|w| + l2 sum w^2 (no 1/2), per kernel and per bias."""
    dense = [layer for layer in layers if layer["kind"] == DENSE]
    total = 0.0
    for layer, (w, b) in zip(dense, unflatten(layers, params)):
        total += layer.get("kernel_l1", 0.0) * np.abs(w).sum()
        total += layer.get("kernel_l2", 0.0) * np.square(w).sum()
        if b is not None:
            total += layer.get("bias_l1", 0.0) * np.abs(b).sum()
            total += layer.get("bias_l2", 0.0) * np.square(b).sum()
    return total


def reference_loss(case: Case, params: np.ndarray) -> float:
    a, _ = forward(case.layers, params, case.x)
    return data_loss(case.loss, case.from_logits, a, case.y) + penalty(case.layers, params)


# --- cases ------------------------------------------------------------------------------------


class Case:
    """A stack of layers, a loss, a batch and parameters away from every kink."""

    def __init__(self, layers: list[dict], loss: str, from_logits: bool, seed: int) -> None:
        self.layers, self.loss, self.from_logits = layers, loss, from_logits
        specs = [_core.LayerSpec(**to_spec_kwargs(layer)) for layer in layers]
        self.net = _core.NetworkF64(N_FEATURES, specs, 0)
        self.net.set_loss(LOSSES[loss], from_logits)
        self.k = self.net.output_dim
        rng = np.random.default_rng(seed)
        for _ in range(200):
            self.x = rng.normal(size=(N_SAMPLES, N_FEATURES))
            self.y = self.draw_targets(rng)
            self.params = rng.normal(scale=0.6, size=self.net.param_count)
            if self.away_from_kinks():
                break
        else:
            raise AssertionError("could not draw a case away from the kinks")
        self.net.set_params(self.params)

    def draw_targets(self, rng: np.random.Generator) -> np.ndarray:
        n, k = N_SAMPLES, self.k
        if self.loss == "sparse_ce":
            return rng.integers(0, k, size=(n, 1)).astype(np.float64)
        if self.loss == "ce":
            # Soft targets whose rows need not sum to one: dL/dz = p sum(y) - y keeps its sum(y).
            return rng.dirichlet(np.ones(k), size=n) * rng.uniform(0.5, 1.5, size=(n, 1))
        if self.loss == "bce":
            return rng.uniform(size=(n, k))
        if self.loss in ("hinge", "logistic"):
            return rng.choice([-1.0, 1.0], size=(n, k))
        return rng.normal(size=(n, k))

    def away_from_kinks(self) -> bool:
        with np.errstate(over="ignore"):  # a rejected draw may overflow in exp; it is re-drawn
            a, pre = forward(self.layers, self.params, self.x)
        if max(np.abs(z).max() for _, z in pre) > MAX_PREACTIVATION:
            return False  # exponential on exponential: keep the numbers in a sane range
        near = [np.abs(z - kink).min() for name, z in pre for kink in KINKS.get(name, ())]
        name, z = pre[-1]
        if name in FLAT and FLAT[name](z).all():
            return False  # an output layer flat at every sample: no gradient to check
        if self.loss == "mae":
            near.append(np.abs(a - self.y).min())
        if self.loss == "hinge":
            near.append(np.abs(1 - self.y * a).min())
        if self.loss in ("sparse_ce", "ce", "bce") and not self.from_logits:
            p = a  # what is clipped: the outputs, rescaled to sum to one for cross-entropy
            if self.loss != "bce":
                if (a.sum(axis=1) == 0).any():
                    return False
                p = a / a.sum(axis=1, keepdims=True)
            inside = p[(p > 0) & (p < 1)]  # exact 0 / 1 (hard_sigmoid) sit flat inside the clip
            near.append(np.abs(np.concatenate([inside, 1 - inside, [1.0]])).min())
        if any(layer.get("kernel_l1") or layer.get("bias_l1") for layer in self.layers):
            near.append(np.abs(self.params).min())
        return min(near, default=1.0) > MARGIN

    def finite_difference_gradient(self) -> np.ndarray:
        g = np.empty_like(self.params)
        p = self.params.copy()
        for i in range(p.size):
            p[i] = self.params[i] + H
            self.net.set_params(p)
            up, _ = self.net.loss_and_gradient(self.x, self.y)
            p[i] = self.params[i] - H
            self.net.set_params(p)
            down, _ = self.net.loss_and_gradient(self.x, self.y)
            p[i] = self.params[i]
            g[i] = (up - down) / (2 * H)
        self.net.set_params(self.params)
        return g


def to_spec_kwargs(layer: dict) -> dict:
    kw = {k: v for k, v in layer.items() if k != "activation"}
    if "activation" in layer:
        kw["activation"] = ACTIVATIONS[layer["activation"]]
    return kw


def relative_error(g: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(g - reference) / max(np.linalg.norm(reference), 1e-12))


def mlp(hidden: str, output: str, reg: str, k: int = N_CLASSES) -> list[dict]:
    """3 -> 5 -> 4 -> k, both hidden layers with `hidden`, every Dense layer with `reg`."""
    coef = REGULARIZERS[reg]
    return [
        {
            "kind": DENSE,
            "units": units,
            "activation": act,
            **{n: c * (1 + i) for n, c in coef.items()},
        }
        for i, (units, act) in enumerate([(5, hidden), (4, hidden), (k, output)])
    ]


# (loss, output activation, from_logits, expected engine mode) for every pairing that makes sense.
PROBABILITY_OUTPUTS = ("softmax", "sigmoid", "hard_sigmoid")
HEADS = []
for _loss in ("sparse_ce", "ce"):
    HEADS += [
        (_loss, out, False, FUSED if out == "softmax" else PROBABILITIES)
        for out in PROBABILITY_OUTPUTS
    ]
    HEADS += [(_loss, out, True, LOGITS) for out in ACTIVATIONS]
HEADS += [
    ("bce", out, False, FUSED if out == "sigmoid" else PROBABILITIES) for out in PROBABILITY_OUTPUTS
]
HEADS += [("bce", out, True, LOGITS) for out in ACTIVATIONS]
for _loss in ("mse", "mae", "hinge"):
    HEADS += [(_loss, out, False, PROBABILITIES) for out in ACTIVATIONS]
HEADS += [("logistic", out, False, LOGITS) for out in ACTIVATIONS]  # scores: always logits

MODE_NAMES = {PROBABILITIES: "probs", LOGITS: "logits", FUSED: "fused"}


def head_id(head: tuple) -> str:
    loss, out, _, mode = head
    return f"{loss}-{out}-{MODE_NAMES[mode]}"


def cases(heads: list[tuple] = HEADS):
    """(head, regularizer, hidden activations, seed) for every head and regularizer.

    Hidden activations rotate with the head and the regularizer: over one head's four
    regularizers 12 of the 17 appear, and each (hidden, regularizer) pair appears for many heads.
    """
    names = list(ACTIVATIONS)
    for i, head in enumerate(heads):
        for r, reg in enumerate(REGULARIZERS):
            hidden = [names[(3 * r + j + i) % len(names)] for j in range(3)]
            yield pytest.param(head, reg, hidden, 100 * (4 * i + r), id=f"{head_id(head)}-{reg}")


def unnormalised(head: tuple) -> bool:
    """(Sparse) categorical cross-entropy on probabilities that need not sum to one."""
    loss, output, _, mode = head
    return loss in ("sparse_ce", "ce") and mode == PROBABILITIES and output != "softmax"


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("head", "reg", "hidden_activations", "seed"), list(cases()))
def test_gradient_matches_finite_differences(head, reg, hidden_activations, seed):
    loss, output, from_logits, mode = head
    failures = []
    for j, hidden in enumerate(hidden_activations):
        case = Case(mlp(hidden, output, reg), loss, from_logits, seed + j)
        assert case.net.loss_mode == mode
        _, g = case.net.loss_and_gradient(case.x, case.y)
        g_fd = case.finite_difference_gradient()
        assert np.linalg.norm(g_fd) > 1e-4, "degenerate case: the gradient vanishes"
        err = relative_error(g, g_fd)
        if not err < RTOL:
            failures.append(f"hidden={hidden}: relative error {err:.2e}")
    assert not failures, "; ".join(failures)


@pytest.mark.parametrize(("head", "reg", "hidden_activations", "seed"), list(cases()))
def test_loss_value_matches_numpy_reference(head, reg, hidden_activations, seed):
    loss, output, from_logits, _ = head
    failures = []
    for j, hidden in enumerate(hidden_activations):
        case = Case(mlp(hidden, output, reg), loss, from_logits, seed + j)
        value, _ = case.net.loss_and_gradient(case.x, case.y)
        expected = float(reference_loss(case, case.params))
        if value != pytest.approx(expected, rel=1e-10, abs=1e-12):
            failures.append(f"hidden={hidden}: engine {value!r}, NumPy {expected!r}")
    assert not failures, "; ".join(failures)


@pytest.mark.parametrize("head", [head for head in HEADS if unnormalised(head)], ids=head_id)
def test_crossentropy_rescales_probabilities_to_sum_one_like_keras(head):
    # Keras 3: output / sum(output) before the clip and the log (keras/src/backend/*/nn.py).
    # Sigmoid outputs do not sum to one, so a loss that skipped the rescaling would differ.
    loss, output, from_logits, _ = head
    case = Case(mlp("tanh", output, "l1l2"), loss, from_logits, 5)
    value, _ = case.net.loss_and_gradient(case.x, case.y)
    assert value == pytest.approx(reference_loss(case, case.params), rel=1e-10)


def test_loss_and_gradient_leaves_parameters_unchanged():
    case = Case(mlp("tanh", "softmax", "l1l2"), "sparse_ce", False, 7)
    before = case.net.get_params()
    case.net.loss_and_gradient(case.x, case.y)
    np.testing.assert_array_equal(case.net.get_params(), before)


# Stacks with Activation layers (the fused activation may be a layer of its own), Dropout at rate 0
# (the identity; as the last layer it turns fusion off) and Dense layers without bias.
STACKS = {
    "activation_layers-sparse_ce-fused": (
        [
            {"kind": DENSE, "units": 5},
            {"kind": ACTIVATION, "activation": "tanh"},
            {"kind": DROPOUT, "rate": 0.0},
            {"kind": DENSE, "units": 4, "activation": "relu", "use_bias": False, "kernel_l2": 0.02},
            {"kind": DROPOUT, "rate": 0.0},
            {"kind": DENSE, "units": 3, "kernel_l1": 0.01, "bias_l2": 0.03},
            {"kind": ACTIVATION, "activation": "softmax"},
        ],
        "sparse_ce",
        FUSED,
    ),
    "activation_layers-bce-fused": (
        [
            {"kind": DENSE, "units": 5, "activation": "elu", "use_bias": False},
            {"kind": DROPOUT, "rate": 0.0},
            {"kind": DENSE, "units": 3, "bias_l1": 0.02},
            {"kind": ACTIVATION, "activation": "sigmoid"},
        ],
        "bce",
        FUSED,
    ),
    "dropout_last-ce-probs": (
        [
            {"kind": DENSE, "units": 4, "activation": "softsign"},
            {"kind": DENSE, "units": 3, "activation": "softmax", "kernel_l2": 0.01},
            {"kind": DROPOUT, "rate": 0.0},
        ],
        "ce",
        PROBABILITIES,
    ),
    "activation_chain-mse": (
        [
            {"kind": DENSE, "units": 4, "use_bias": False},
            {"kind": ACTIVATION, "activation": "softplus"},
            {"kind": ACTIVATION, "activation": "leaky_relu"},
            {"kind": DENSE, "units": 2, "activation": "tanh", "use_bias": False},
            {"kind": ACTIVATION, "activation": "exponential"},
        ],
        "mse",
        PROBABILITIES,
    ),
}


@pytest.mark.parametrize("name", list(STACKS))
def test_stack_with_activation_dropout_and_no_bias_layers(name):
    layers, loss, mode = STACKS[name]
    case = Case(layers, loss, False, 42)
    assert case.net.loss_mode == mode
    widths = [N_FEATURES] + [layer["units"] for layer in layers if layer["kind"] == DENSE]
    biases = [layer.get("use_bias", True) for layer in layers if layer["kind"] == DENSE]
    expected_count = sum(i * o + (o if b else 0) for i, o, b in zip(widths, widths[1:], biases))
    assert case.net.param_count == expected_count
    value, g = case.net.loss_and_gradient(case.x, case.y)
    assert value == pytest.approx(reference_loss(case, case.params), rel=1e-10)
    assert relative_error(g, case.finite_difference_gradient()) < RTOL


@pytest.mark.parametrize("name", list(STACKS))
def test_float32_engine_agrees_with_float64(name):
    layers, loss, _ = STACKS[name]
    case = Case(layers, loss, False, 42)
    net32 = _core.NetworkF32(
        N_FEATURES, [_core.LayerSpec(**to_spec_kwargs(la)) for la in layers], 0
    )
    net32.set_loss(LOSSES[loss], False)
    net32.set_params(case.params.astype(np.float32))
    value32, g32 = net32.loss_and_gradient(case.x.astype(np.float32), case.y.astype(np.float32))
    value64, g64 = case.net.loss_and_gradient(case.x, case.y)
    assert g32.dtype == np.float32
    assert value32 == pytest.approx(value64, rel=1e-5)
    assert relative_error(g32.astype(np.float64), g64) < 1e-4
