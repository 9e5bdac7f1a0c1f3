"""The engine's optimizers step for step against Keras 3's update rules written here in NumPy.

A small float64 network takes three `train_on_batch` steps on three batches (the first with large
targets, so that gradients shrink and AMSGrad's running maximum parts from v). Before each step the
gradient g at the current parameters comes from `loss_and_gradient`; the reference applies Keras's
rule to it and the update, the optimizer state and the iteration count must match the engine's.
Hyperparameters are far from their defaults (and epsilon large) so that a swapped beta, an epsilon
on the wrong side of a square root or a missing bias correction all show. Where PyTorch is
installed its optimizers give a second, independent trajectory wherever its rules coincide.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from fastmlp import _core

SGD, ADAM, RMSPROP, ADAGRAD, ADADELTA = range(5)
DENSE, TANH, LINEAR, MSE = 0, 3, 0, 3

# 3 -> Dense(4, tanh) -> Dense(2): the flat parameters hold four tensors, in this order.
LAYERS = [(4, TANH), (2, LINEAR)]
TENSORS = [slice(0, 12), slice(12, 16), slice(16, 24), slice(24, 26)]  # W1, b1, W2, b2
N_PARAMS = 26
STEPS = 3


def make_net() -> _core.NetworkF64:
    net = _core.NetworkF64(3, [_core.LayerSpec(DENSE, units=u, activation=a) for u, a in LAYERS], 0)
    net.set_loss(MSE)
    net.set_params(np.random.default_rng(0).normal(scale=0.5, size=N_PARAMS))
    return net


def make_batches() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    scales = [4.0, 0.3, 0.3]  # large gradients first, then small ones
    return [(rng.normal(size=(6, 3)), s * rng.normal(size=(6, 2))) for s in scales]


# --- Keras 3 in NumPy -------------------------------------------------------------------------


def clip_gradients(g: np.ndarray, clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0) -> np.ndarray:
    """keras/src/optimizers/base_optimizer.py `_clip_gradients` (Keras allows one of the three)."""
    g = g.copy()
    if clipnorm:  # each variable (kernel, bias) on its own: g * c / max(||g||, c)
        for t in TENSORS:
            g[t] = g[t] * clipnorm / max(np.linalg.norm(g[t]), clipnorm)
    elif global_clipnorm:
        g = g * global_clipnorm / max(np.linalg.norm(g), global_clipnorm)
    elif clipvalue:
        g = np.clip(g, -clipvalue, clipvalue)
    return g


class KerasReference:
    """One Keras 3 optimizer (keras/src/optimizers/{sgd,adam,rmsprop,adagrad,adadelta}.py)."""

    def __init__(self, kind: int, hp: dict, clip: dict) -> None:
        self.kind, self.hp, self.clip = kind, hp, clip
        self.iterations = 0
        zeros = np.zeros(N_PARAMS)
        # Slots in the order the engine keeps them.
        if kind == SGD:
            self.names = ["momentum"] if hp["momentum"] > 0 else []
        elif kind == ADAM:
            self.names = ["m", "v"] + (["vhat"] if hp["amsgrad"] else [])
        elif kind == RMSPROP:
            self.names = (
                ["velocity"]
                + (["momentum"] if hp["momentum"] > 0 else [])
                + (["average_gradient"] if hp["centered"] else [])
            )
        elif kind == ADAGRAD:
            self.names = ["accumulator"]
        else:
            self.names = ["accumulated_grad", "accumulated_delta"]
        self.state = {name: zeros.copy() for name in self.names}
        if kind == ADAGRAD:
            self.state["accumulator"][:] = hp["initial_accumulator_value"]

    @property
    def slots(self) -> list[np.ndarray]:
        return [self.state[name] for name in self.names]

    def step(self, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        hp, s = self.hp, self.state
        self.iterations += 1
        t = self.iterations
        lr = hp["learning_rate"]
        g = clip_gradients(g, **self.clip)
        w = w - lr * hp.get("weight_decay", 0.0) * w  # decoupled decay, before the update
        if self.kind == SGD:
            if hp["momentum"] == 0:
                return w - lr * g
            s["momentum"] = hp["momentum"] * s["momentum"] - lr * g
            if hp["nesterov"]:
                return w + hp["momentum"] * s["momentum"] - lr * g
            return w + s["momentum"]
        if self.kind == ADAM:
            b1, b2 = hp["beta_1"], hp["beta_2"]
            alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            s["m"] += (g - s["m"]) * (1 - b1)
            s["v"] += (g * g - s["v"]) * (1 - b2)
            v = s["v"]
            if hp["amsgrad"]:
                s["vhat"] = np.maximum(s["vhat"], s["v"])
                v = s["vhat"]
            return w - alpha * s["m"] / (np.sqrt(v) + hp["epsilon"])
        if self.kind == RMSPROP:
            rho = hp["rho"]
            s["velocity"] = rho * s["velocity"] + (1 - rho) * g * g
            denominator = s["velocity"]
            if hp["centered"]:
                s["average_gradient"] = rho * s["average_gradient"] + (1 - rho) * g
                denominator = denominator - s["average_gradient"] ** 2
            increment = lr * g / np.sqrt(denominator + hp["epsilon"])
            if hp["momentum"] > 0:
                s["momentum"] = hp["momentum"] * s["momentum"] + increment
                return w - s["momentum"]
            return w - increment
        if self.kind == ADAGRAD:
            s["accumulator"] += g * g
            return w - lr * g / np.sqrt(s["accumulator"] + hp["epsilon"])
        rho, eps = hp["rho"], hp["epsilon"]
        s["accumulated_grad"] = rho * s["accumulated_grad"] + (1 - rho) * g * g
        delta = -np.sqrt(s["accumulated_delta"] + eps) / np.sqrt(s["accumulated_grad"] + eps) * g
        s["accumulated_delta"] = rho * s["accumulated_delta"] + (1 - rho) * delta * delta
        return w + lr * delta


# --- cases ------------------------------------------------------------------------------------

SGD_HP = {"learning_rate": 0.1, "momentum": 0.0, "nesterov": False}
MOMENTUM_HP = {**SGD_HP, "momentum": 0.7}
ADAM_HP = {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-3, "amsgrad": False}
RMSPROP_HP = {
    "learning_rate": 0.01,
    "rho": 0.8,
    "epsilon": 1e-3,
    "momentum": 0.0,
    "centered": False,
}


def tensor_norms(g: np.ndarray) -> np.ndarray:
    return np.array([np.linalg.norm(g[t]) for t in TENSORS])


# Clipping thresholds are set from the first gradient g so that they bite: half the elements (or
# two of the four tensors) are clipped at the first step and the rest pass untouched.
ClipRule = Callable[[np.ndarray], dict]
NO_CLIP: ClipRule = lambda g: {}

CASES: dict[str, tuple[int, dict, ClipRule]] = {
    "sgd": (SGD, SGD_HP, NO_CLIP),
    "sgd-momentum": (SGD, MOMENTUM_HP, NO_CLIP),
    "sgd-nesterov": (SGD, {**MOMENTUM_HP, "nesterov": True}, NO_CLIP),
    "sgd-momentum-weight_decay": (SGD, {**MOMENTUM_HP, "weight_decay": 0.3}, NO_CLIP),
    "adam": (ADAM, ADAM_HP, NO_CLIP),
    "adam-amsgrad": (ADAM, {**ADAM_HP, "beta_2": 0.5, "amsgrad": True}, NO_CLIP),
    "adam-weight_decay": (ADAM, {**ADAM_HP, "weight_decay": 0.2}, NO_CLIP),
    "rmsprop": (RMSPROP, RMSPROP_HP, NO_CLIP),
    "rmsprop-momentum": (RMSPROP, {**RMSPROP_HP, "momentum": 0.6}, NO_CLIP),
    "rmsprop-centered": (RMSPROP, {**RMSPROP_HP, "centered": True}, NO_CLIP),
    "rmsprop-centered-momentum": (
        RMSPROP,
        {**RMSPROP_HP, "centered": True, "momentum": 0.6},
        NO_CLIP,
    ),
    "adagrad": (
        ADAGRAD,
        {"learning_rate": 0.1, "initial_accumulator_value": 0.2, "epsilon": 1e-3},
        NO_CLIP,
    ),
    "adadelta": (ADADELTA, {"learning_rate": 1.0, "rho": 0.7, "epsilon": 1e-3}, NO_CLIP),
    "sgd-clipvalue": (SGD, SGD_HP, lambda g: {"clipvalue": float(np.median(np.abs(g)))}),
    "sgd-clipnorm": (SGD, SGD_HP, lambda g: {"clipnorm": float(np.median(tensor_norms(g)))}),
    "sgd-global_clipnorm": (
        SGD,
        SGD_HP,
        lambda g: {"global_clipnorm": 0.5 * float(np.linalg.norm(g))},
    ),
    "adam-clipnorm": (ADAM, ADAM_HP, lambda g: {"clipnorm": float(np.median(tensor_norms(g)))}),
}


def configure(net: _core.NetworkF64, kind: int, hp: dict, clip: dict) -> None:
    config = _core.OptimizerConfig(kind)
    for name, value in hp.items():
        setattr(config, name, value)
    net.set_optimizer(config)
    net.set_clipping(**clip)


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-6) -> None:
    """Elementwise relative agreement, with an absolute floor at rtol times the largest entry."""
    atol = rtol * max(float(np.abs(expected).max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_step_matches_keras_numpy_reference(name):
    kind, hp, clip_rule = CASES[name]
    net, batches = make_net(), make_batches()
    clip = clip_rule(net.loss_and_gradient(*batches[0])[1])
    configure(net, kind, hp, clip)
    reference = KerasReference(kind, hp, clip)
    w = net.get_params()
    for t, (x, y) in enumerate(batches, start=1):
        loss, g = net.loss_and_gradient(x, y)
        expected = reference.step(w, g)
        sums = net.train_on_batch(x, y)
        new_w = net.get_params()
        assert_close(new_w - w, expected - w)  # the update itself, not only w + update
        assert (sums.steps, sums.samples) == (1, len(x))
        assert sums.loss == pytest.approx(loss * len(x), rel=1e-12)
        iterations, slots, scalars = net.get_optimizer_state()
        assert scalars == []
        assert iterations == net.iterations == t
        assert len(slots) == len(reference.slots), reference.names
        for slot_name, actual, wanted in zip(reference.names, slots, reference.slots):
            assert actual.shape == (N_PARAMS,)
            try:
                assert_close(actual, wanted)
            except AssertionError as err:
                raise AssertionError(f"slot {slot_name!r} after step {t}") from err
        w = new_w


@pytest.mark.parametrize("name", ["sgd-clipvalue", "sgd-clipnorm", "sgd-global_clipnorm"])
def test_clipping_cases_clip_some_gradients_and_not_others(name):
    # Guards the clipping cases above: a threshold that clipped everything or nothing would let a
    # per-tensor clipnorm pass for a global one (or clipping pass for no clipping at all).
    _, _, clip_rule = CASES[name]
    g = make_net().loss_and_gradient(*make_batches()[0])[1]
    clip = clip_rule(g)
    if "clipnorm" in clip:  # by norm: g * c / c need not give back g's last bit
        changed = np.array([np.linalg.norm(g[t]) > clip["clipnorm"] for t in TENSORS])
    else:
        changed = clip_gradients(g, **clip) != g
    assert changed.any()
    if "global_clipnorm" not in clip:
        assert not changed.all()


def test_amsgrad_case_keeps_a_maximum_above_v():
    # Guards the amsgrad case: with v never decreasing AMSGrad would equal Adam.
    kind, hp, _ = CASES["adam-amsgrad"]
    net, batches = make_net(), make_batches()
    configure(net, kind, hp, {})
    for x, y in batches:
        net.train_on_batch(x, y)
    _, (_, v, vhat), _ = net.get_optimizer_state()
    assert (vhat > v * (1 + 1e-3)).any()


def test_optimizer_state_is_empty_until_the_first_step_and_reset_by_set_optimizer():
    kind, hp, _ = CASES["adam"]
    net, batches = make_net(), make_batches()
    configure(net, kind, hp, {})
    assert net.get_optimizer_state() == (0, [], [])
    net.train_on_batch(*batches[0])
    net.train_on_batch(*batches[1])
    iterations, slots, _ = net.get_optimizer_state()
    assert (iterations, len(slots)) == (2, 2)
    configure(net, kind, hp, {})
    assert net.get_optimizer_state() == (0, [], [])
    assert net.iterations == 0


def test_restored_optimizer_state_continues_the_same_trajectory():
    kind, hp, _ = CASES["rmsprop-centered-momentum"]
    batches = make_batches()
    net = make_net()
    configure(net, kind, hp, {})
    net.train_on_batch(*batches[0])
    resumed = make_net()
    configure(resumed, kind, hp, {})
    resumed.set_params(net.get_params())
    resumed.set_optimizer_state(*net.get_optimizer_state())
    for x, y in batches[1:]:
        net.train_on_batch(x, y)
        resumed.train_on_batch(x, y)
    # Bitwise: the engine's results do not depend on where its workspaces were allocated.
    np.testing.assert_array_equal(resumed.get_params(), net.get_params())
    assert resumed.iterations == net.iterations == STEPS


# --- PyTorch as a second reference --------------------------------------------------------------
# Where the rules coincide: SGD (torch's buffer is -m / lr), Adam and AdamW (torch puts epsilon
# after the bias correction of v, Keras before it: equal at epsilon = 0), RMSprop and Adagrad
# (torch adds epsilon outside the square root, Keras inside: equal at epsilon = 0) and Adadelta
# (the same formula, epsilon included).

TORCH_CASES = {
    "sgd": (SGD, SGD_HP, lambda torch, p: torch.optim.SGD([p], lr=0.1)),
    "sgd-momentum": (SGD, MOMENTUM_HP, lambda torch, p: torch.optim.SGD([p], lr=0.1, momentum=0.7)),
    "sgd-nesterov": (
        SGD,
        {**MOMENTUM_HP, "nesterov": True},
        lambda torch, p: torch.optim.SGD([p], lr=0.1, momentum=0.7, nesterov=True),
    ),
    "adam": (
        ADAM,
        {**ADAM_HP, "epsilon": 0.0},
        lambda torch, p: torch.optim.Adam([p], lr=0.05, betas=(0.8, 0.95), eps=0.0),
    ),
    "adam-amsgrad": (
        ADAM,
        {**ADAM_HP, "epsilon": 0.0, "beta_2": 0.5, "amsgrad": True},
        lambda torch, p: torch.optim.Adam([p], lr=0.05, betas=(0.8, 0.5), eps=0.0, amsgrad=True),
    ),
    "adamw": (
        ADAM,
        {**ADAM_HP, "epsilon": 0.0, "weight_decay": 0.2},
        lambda torch, p: torch.optim.AdamW(
            [p], lr=0.05, betas=(0.8, 0.95), eps=0.0, weight_decay=0.2
        ),
    ),
    "rmsprop-centered-momentum": (
        RMSPROP,
        {**RMSPROP_HP, "epsilon": 0.0, "centered": True, "momentum": 0.6},
        lambda torch, p: torch.optim.RMSprop(
            [p], lr=0.01, alpha=0.8, eps=0.0, momentum=0.6, centered=True
        ),
    ),
    "rmsprop": (
        RMSPROP,
        {**RMSPROP_HP, "epsilon": 0.0},
        lambda torch, p: torch.optim.RMSprop([p], lr=0.01, alpha=0.8, eps=0.0),
    ),
    "adagrad": (
        ADAGRAD,
        {"learning_rate": 0.1, "initial_accumulator_value": 0.2, "epsilon": 0.0},
        lambda torch, p: torch.optim.Adagrad([p], lr=0.1, initial_accumulator_value=0.2, eps=0.0),
    ),
    "adadelta": (
        ADADELTA,
        {"learning_rate": 1.0, "rho": 0.7, "epsilon": 1e-3},
        lambda torch, p: torch.optim.Adadelta([p], lr=1.0, rho=0.7, eps=1e-3),
    ),
}


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_trajectory_matches_torch_optim(name):
    torch = pytest.importorskip("torch")
    kind, hp, make_optimizer = TORCH_CASES[name]
    net, batches = make_net(), make_batches()
    configure(net, kind, hp, {})
    probe = make_net()  # the engine's gradient at torch's own parameters
    p = torch.nn.Parameter(torch.tensor(net.get_params(), dtype=torch.float64))
    optimizer = make_optimizer(torch, p)
    w = net.get_params()
    for x, y in batches:
        probe.set_params(p.detach().numpy().copy())
        p.grad = torch.tensor(probe.loss_and_gradient(x, y)[1], dtype=torch.float64)
        before = p.detach().numpy().copy()
        optimizer.step()
        net.train_on_batch(x, y)
        new_w = net.get_params()
        assert_close(new_w - w, p.detach().numpy() - before)
        assert_close(new_w, p.detach().numpy())
        w = new_w
