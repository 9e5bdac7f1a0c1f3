"""Keras 3's Nadam, Adamax, Lion and Ftrl (fastmlp.optimizers), as a student comparing optimizers
meets them: Keras's names, defaults and configs; clear errors for bad arguments; the update step
for step against Keras's update_step written here in NumPy (float64, with weight decay, a
schedule and clipping); and the same rule on every path: the sparse-input path, the GPU engine's
code on NumPy (device "numpy"), and training resumed from a file or a pickle. Three epochs against
Keras 3 itself are in test_optimizers_keras.py.
"""

from __future__ import annotations

import json
import math
import pickle
import zipfile
from typing import Any, Callable

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, models, optimizers
from fastmlp.optimizers import schedules
from test_optimizers import KERAS_DEFAULTS
from test_optimizers_engine import assert_close, clip_gradients
from test_sparse_inputs import mnist_like, on_both_paths

CLASSES = [optimizers.Nadam, optimizers.Adamax, optimizers.Lion, optimizers.Ftrl]
COMMON = {"weight_decay": None, "clipnorm": None, "clipvalue": None, "global_clipnorm": None}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_config_repr_and_public_names(cls: type) -> None:
    """(Keras's defaults, `get` and config round trips: test_optimizers.py, for all optimizers.)"""
    opt = cls()
    name = cls.__name__.lower()
    assert opt.get_config() == {"name": name, **KERAS_DEFAULTS[cls], **COMMON}
    assert repr(opt) == f"{cls.__name__}(learning_rate=0.001)"
    assert cls.__name__ in optimizers.__all__
    assert getattr(fm.keras.optimizers, cls.__name__) is cls
    assert type(fm.keras.optimizers.get(name)) is cls


BAD_ARGUMENTS = {
    "nadam-beta_1": (lambda: optimizers.Nadam(beta_1=1.0), ValueError, r"beta_1 must be in \[0\.0, 1\.0\), got 1\.0"),
    "nadam-beta_2": (lambda: optimizers.Nadam(beta_2=-0.1), ValueError, r"beta_2 must be in \[0\.0, 1\.0\)"),
    "nadam-epsilon-str": (lambda: optimizers.Nadam(epsilon="1e-7"), TypeError, r"epsilon must be a number, got '1e-7'"),
    "adamax-beta_2": (lambda: optimizers.Adamax(beta_2=1.0), ValueError, r"beta_2 must be in \[0\.0, 1\.0\)"),
    "adamax-epsilon-nan": (lambda: optimizers.Adamax(epsilon=math.nan), ValueError, r"epsilon must be a finite number"),
    "lion-beta_1-zero": (lambda: optimizers.Lion(beta_1=0.0), ValueError, r"beta_1 must be in \(0, 1\] .*SignSGD"),
    "lion-beta_1-above": (lambda: optimizers.Lion(beta_1=1.5), ValueError, r"beta_1 must be in \(0, 1\]"),
    "lion-beta_2": (lambda: optimizers.Lion(beta_2=1.01), ValueError, r"beta_2 must be in \[0, 1\], got 1\.01"),
    "lion-beta_2-none": (lambda: optimizers.Lion(beta_2=None), TypeError, r"beta_2 must be a number, got None"),
    "lion-epsilon": (lambda: optimizers.Lion(epsilon=1e-7), TypeError, r"Lion got unexpected arguments: \['epsilon'\]"),
    "ftrl-learning_rate-zero": (lambda: optimizers.Ftrl(learning_rate=0.0), ValueError, r"learning_rate must be > 0 for Ftrl"),
    "ftrl-power-positive": (lambda: optimizers.Ftrl(learning_rate_power=0.5), ValueError, r"learning_rate_power must be <= 0"),
    "ftrl-power-bool": (lambda: optimizers.Ftrl(learning_rate_power=True), TypeError, r"learning_rate_power must be a number"),
    "ftrl-initial_accumulator": (lambda: optimizers.Ftrl(initial_accumulator_value=-0.1), ValueError, r"initial_accumulator_value must be >= 0"),
    "ftrl-l1": (lambda: optimizers.Ftrl(l1_regularization_strength=-1), ValueError, r"l1_regularization_strength must be >= 0"),
    "ftrl-l2": (lambda: optimizers.Ftrl(l2_regularization_strength=-1), ValueError, r"l2_regularization_strength must be >= 0"),
    "ftrl-l2_shrinkage": (lambda: optimizers.Ftrl(l2_shrinkage_regularization_strength=-1), ValueError, r"l2_shrinkage_regularization_strength must be >= 0"),
    "ftrl-beta": (lambda: optimizers.Ftrl(beta=-0.5), ValueError, r"beta must be >= 0"),
    "ftrl-beta-inf": (lambda: optimizers.Ftrl(beta=math.inf), ValueError, r"beta must be a finite number"),
    "nadam-use_ema": (lambda: optimizers.Nadam(use_ema=True), TypeError, r"Nadam got unexpected arguments: \['use_ema'\]"),
    "adamax-lr": (lambda: optimizers.Adamax(lr=0.1), TypeError, r"\['lr'\] \(`lr` is called `learning_rate`"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_arguments_are_refused_by_name(case: str) -> None:
    make, error, match = BAD_ARGUMENTS[case]
    with pytest.raises(error, match=match):
        make()


def test_ftrl_refuses_a_learning_rate_of_zero_from_the_setter_and_from_a_schedule() -> None:
    opt = optimizers.Ftrl(0.1)
    with pytest.raises(ValueError, match=r"learning_rate must be > 0 for Ftrl .*got 0\.0"):
        opt.learning_rate = 0.0
    assert opt.learning_rate == 0.1
    # A schedule that reaches 0: the step that would divide by it is refused, before it changes
    # anything, on both engines (Keras would fill the weights with NaN).
    for device in ("cpu", "numpy"):
        schedule = schedules.PolynomialDecay(0.1, decay_steps=2, end_learning_rate=0.0)
        model = small_model(optimizers.Ftrl(schedule), device=device)
        x, y = BATCHES[0]
        model.train_on_batch(x, y)
        model.train_on_batch(x, y)
        before = model.get_weights()
        with pytest.raises(ValueError, match=r"Ftrl: learning_rate must be > 0 .*step 2"):
            model.train_on_batch(x, y)
        assert model.optimizer.iterations == 2
        for a, b in zip(model.get_weights(), before):
            np.testing.assert_array_equal(a, b)


# --- the update step for step against Keras's rules in NumPy ------------------------------------
# 3 -> Dense(4, tanh) -> Dense(2), MSE, float64 (the layout of test_optimizers_engine's TENSORS):
# five train_on_batch steps, the first with large targets so that the gradients shrink (Adamax's
# maximum then keeps its decayed value for some weights and takes |g| for others).

SCALES = [4.0, 0.3, 0.3, 1.0, 0.1]
_rng = np.random.default_rng(1)
BATCHES = [(_rng.normal(size=(6, 3)), s * _rng.normal(size=(6, 2))) for s in SCALES]


def small_model(
    optimizer: optimizers.Optimizer, device: str = "cpu", dtype: str = "float64"
) -> fm.Sequential:
    model = fm.Sequential(
        [layers.Input(shape=(3,)), layers.Dense(4, activation="tanh"), layers.Dense(2)],
        seed=2,
        dtype=dtype,
        device=device,
    )
    model.compile(optimizer, "mse")
    return model


def keras_rate(config: dict[str, Any], step: int) -> float:
    """The learning rate of step `step` (Keras's iterations before it): the float, or
    ExponentialDecay's initial * rate ** (step / steps)."""
    rate = config["learning_rate"]
    if not isinstance(rate, dict):
        return rate
    assert rate["class_name"] == "ExponentialDecay"
    c = rate["config"]
    return c["initial_learning_rate"] * c["decay_rate"] ** (step / c["decay_steps"])


def cast(value: float) -> float:
    """Keras's `ops.cast(python_float, "float64")`: through a float32 tensor first."""
    return float(np.float32(value))


class KerasRule:
    """keras/src/optimizers/{nadam,adamax,lion,ftrl}.py `update_step`, with the base class's
    clipping and decoupled weight decay before it and Nadam's `_backend_update_step`; `cast`
    where Keras casts a hyperparameter, the Python float elsewhere."""

    def __init__(self, cls_name: str, config: dict[str, Any], size: int) -> None:
        self.name, self.c = cls_name, config
        self.iterations = 0
        self.u_product = 1.0  # Nadam's, built as 1
        if cls_name == "Ftrl":  # (initializers.Constant casts its value)
            self.slots = [np.full(size, cast(config["initial_accumulator_value"])), np.zeros(size)]
        else:
            self.slots = [np.zeros(size) for _ in range(1 if cls_name == "Lion" else 2)]

    def step(self, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        c = self.c
        lr = keras_rate(c, self.iterations)
        clip = {k: c[k] for k in ("clipnorm", "clipvalue", "global_clipnorm") if c[k]}
        g = clip_gradients(g, **clip)
        w = w - w * (c["weight_decay"] or 0.0) * lr
        t = self.iterations + 1  # local_step
        w = getattr(self, self.name.lower())(w, g, lr, t)
        self.iterations += 1
        return w

    def nadam(self, w, g, lr, t):
        self.u_product = self.u_product * self.c["beta_1"] * (1.0 - 0.5 * 0.96**t)
        b1, b2, decay = cast(self.c["beta_1"]), cast(self.c["beta_2"]), cast(0.96)
        u_t = b1 * (1.0 - 0.5 * decay**t)
        u_t_1 = b1 * (1.0 - 0.5 * decay ** (t + 1))
        u_product_t_1 = self.u_product * u_t_1
        m, v = self.slots
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - self.u_product)
        v_hat = v / (1 - b2**t)
        return w - m_hat * lr / (np.sqrt(v_hat) + self.c["epsilon"])

    def adamax(self, w, g, lr, t):
        b1, b2 = self.c["beta_1"], self.c["beta_2"]
        m, u = self.slots
        m += (g - m) * (1 - b1)
        u[:] = np.maximum(b2 * u, np.abs(g))
        return w - lr * m / ((1 - cast(b1) ** t) * (u + self.c["epsilon"]))

    def lion(self, w, g, lr, t):
        b1, b2 = cast(self.c["beta_1"]), cast(self.c["beta_2"])
        (m,) = self.slots
        w = w - lr * np.sign(m * b1 + g * (1.0 - b1))
        m[:] = m * b2 + g * (1.0 - b2)
        return w

    def ftrl(self, w, g, lr, t):
        c = self.c
        power = -c["learning_rate_power"]
        l1 = c["l1_regularization_strength"]
        l2 = c["l2_regularization_strength"] + c["beta"] / (2.0 * lr)
        accum, linear = self.slots
        grad_to_use = g + 2 * c["l2_shrinkage_regularization_strength"] * w
        new_accum = accum + g * g
        linear += grad_to_use - (new_accum**power - accum**power) / lr * w
        quadratic = new_accum**power / lr + 2 * l2
        accum[:] = new_accum
        return (np.clip(linear, -l1, l1) - linear) / quadratic


DECAY = schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)
FTRL_REGULARIZED = {
    "learning_rate_power": -0.3,  # (a power other than a square root)
    "initial_accumulator_value": 0.2,
    "l1_regularization_strength": 0.02,
    "l2_regularization_strength": 0.1,
    "l2_shrinkage_regularization_strength": 0.05,
    "beta": 0.5,
}
# Hyperparameters far from the defaults (and epsilon large), so that a swapped beta, a missing
# bias correction or an epsilon in the wrong place all show.
CASES: dict[str, Callable[[], optimizers.Optimizer]] = {
    "nadam": lambda: optimizers.Nadam(0.05, beta_1=0.8, beta_2=0.95, epsilon=1e-3),
    "nadam-defaults": lambda: optimizers.Nadam(0.05),
    "nadam-decay-schedule": lambda: optimizers.Nadam(DECAY, beta_1=0.7, weight_decay=0.2),
    "nadam-clipnorm": lambda: optimizers.Nadam(0.05, clipnorm=0.5),
    "adamax": lambda: optimizers.Adamax(0.05, beta_1=0.8, beta_2=0.6, epsilon=1e-3),
    "adamax-decay-schedule": lambda: optimizers.Adamax(DECAY, beta_2=0.5, weight_decay=0.2),
    "adamax-global_clipnorm": lambda: optimizers.Adamax(0.05, global_clipnorm=1.0),
    "lion": lambda: optimizers.Lion(0.01, beta_1=0.7, beta_2=0.95),
    "lion-decay-schedule": lambda: optimizers.Lion(DECAY, beta_1=1.0, weight_decay=0.3),
    "lion-clipvalue": lambda: optimizers.Lion(0.01, clipvalue=0.1),
    "ftrl": lambda: optimizers.Ftrl(0.1),
    "ftrl-regularized": lambda: optimizers.Ftrl(0.1, **FTRL_REGULARIZED),
    "ftrl-fixed-rates": lambda: optimizers.Ftrl(0.1, learning_rate_power=0.0, beta=0.2),
    "ftrl-decay-schedule": lambda: optimizers.Ftrl(
        DECAY, weight_decay=0.2, l1_regularization_strength=0.01
    ),
}


def run_against_reference(make: Callable[[], optimizers.Optimizer]) -> fm.Sequential:
    """The model after the steps of BATCHES, each step's update checked on the way."""
    model = small_model(make())
    engine = model._engine
    reference = KerasRule(type(model.optimizer).__name__, model.optimizer.get_config(), 26)
    for t, (x, y) in enumerate(BATCHES, start=1):
        w = engine.get_params()
        _, g = engine.loss_and_gradient(x, y)
        expected = reference.step(w, g)
        model.train_on_batch(x, y)
        new_w = engine.get_params()
        try:
            assert_close(new_w - w, expected - w, rtol=1e-12)  # the update itself
            iterations, slots, scalars = engine.get_optimizer_state()
            assert iterations == model.optimizer.iterations == t
            assert len(slots) == len(reference.slots)
            for actual, wanted in zip(slots, reference.slots):
                assert_close(actual, wanted, rtol=1e-12)
            if reference.name == "Nadam":
                assert scalars == [pytest.approx(reference.u_product, rel=1e-15)]
            else:
                assert scalars == []
        except AssertionError as err:
            raise AssertionError(f"after step {t}") from err
    return model


@pytest.mark.parametrize("name", list(CASES))
def test_steps_match_keras_update_written_in_numpy(name: str) -> None:
    run_against_reference(CASES[name])


def test_the_cases_reach_both_branches_of_their_rules() -> None:
    """Guards the cases above: Adamax's max takes the decayed norm for some weights and |g| for
    others; Ftrl's L1 sets some weights exactly to zero, not all; the schedule's rate falls."""
    model = small_model(CASES["adamax"]())
    for x, y in BATCHES[:-1]:
        model.train_on_batch(x, y)
    _, g = model._engine.loss_and_gradient(*BATCHES[-1])
    decayed = 0.6 * model._engine.get_optimizer_state()[1][1]
    assert (decayed > np.abs(g)).any() and (decayed < np.abs(g)).any()
    w = run_against_reference(CASES["ftrl-regularized"])._engine.get_params()
    assert 0 < np.count_nonzero(w == 0) < w.size
    assert keras_rate(CASES["nadam-decay-schedule"]().get_config(), 4) == 0.05 / 4


# --- the same rule on every path -----------------------------------------------------------------

PATHS = {
    "nadam": lambda: optimizers.Nadam(2e-3, weight_decay=0.05),
    "adamax": lambda: optimizers.Adamax(2e-3),
    "lion": lambda: optimizers.Lion(2e-4, weight_decay=0.5),
    "ftrl": lambda: optimizers.Ftrl(0.05, **FTRL_REGULARIZED),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(PATHS))
def test_sparse_inputs_follow_the_dense_trajectory(name: str, threads: int) -> None:
    """On sparse float32 inputs the first layer's rows are updated as soon as their gradient is
    computed (optimizer.apply on parts of the vector): the dense path's trajectory all the same."""
    x, y = mnist_like(256, seed=3)

    def run(sparse: bool) -> tuple[list[float], list[np.ndarray]]:
        model = fm.Sequential(
            [
                layers.Input(shape=(784,)),
                layers.Dense(64, activation="relu"),
                layers.Dense(10, activation="softmax"),
            ],
            seed=4,
        )
        model.compile(PATHS[name](), "sparse_categorical_crossentropy")
        before = model.get_weights()[0].copy()
        history = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
        assert model._engine.last_batch_sparse == sparse
        assert not np.allclose(model.get_weights()[0], before, rtol=0, atol=1e-4)
        return history.history["loss"], model.get_weights()

    (loss_s, w_s), (loss_d, w_d) = on_both_paths(threads, run)
    np.testing.assert_allclose(loss_s, loss_d, rtol=1e-4)
    for sparse, dense in zip(w_s, w_d):
        np.testing.assert_allclose(sparse, dense, rtol=1e-3, atol=2e-5)


DEVICE_CASES = {name: CASES[name] for name in CASES if "-" in name}  # (weight decay, schedules)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(DEVICE_CASES))
def test_numpy_device_matches_the_cpu_engine(name: str, dtype: str) -> None:
    """The GPU engine's code (its NumPy twin of the CUDA kernels) against the C++ engine."""
    x = np.concatenate([b[0] for b in BATCHES])
    y = np.concatenate([b[1] for b in BATCHES])
    trained, states, start = [], [], None
    for device in ("cpu", "numpy"):
        model = small_model(DEVICE_CASES[name](), device, dtype)
        start = start or model.get_weights()
        model.set_weights(start)
        model.fit(
            x.astype(dtype), y.astype(dtype), batch_size=6, epochs=3, shuffle=False, verbose=0
        )
        trained.append(model)
        states.append(model._engine.get_optimizer_state())
    rtol = 1e-10 if dtype == "float64" else 1e-4
    for a, b in zip(trained[0].get_weights(), trained[1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    (it_c, slots_c, scalars_c), (it_n, slots_n, scalars_n) = states
    assert it_c == it_n == 15 and len(slots_c) == len(slots_n)
    for a, b in zip(slots_c, slots_n):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(a).max())
    assert np.allclose(scalars_c, scalars_n, rtol=1e-15, atol=0)


# --- resuming: files, pickles, a second compile, another device ----------------------------------

X = np.random.default_rng(5).normal(size=(60, 3))
Y = np.stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]], axis=1)


@pytest.mark.parametrize("device", ["cpu", "numpy"])
@pytest.mark.parametrize("how", ["file", "pickle"])
@pytest.mark.parametrize("name", list(DEVICE_CASES))
def test_resumed_training_equals_uninterrupted_training(tmp_path, name, how, device) -> None:
    uninterrupted = small_model(DEVICE_CASES[name](), device=device)
    uninterrupted.fit(X, Y, batch_size=8, epochs=3, verbose=0)
    first = small_model(DEVICE_CASES[name](), device=device)
    first.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    state = first._engine.get_optimizer_state()
    if how == "file":
        first.save(tmp_path / "m.fastmlp")
        resumed = models.load_model(tmp_path / "m.fastmlp", device=device)
    else:
        resumed = pickle.loads(pickle.dumps(first))
    del first
    again = resumed._engine.get_optimizer_state()
    assert again[0] == state[0] and again[2] == state[2]  # (u_product exactly)
    resumed.fit(X, Y, batch_size=8, epochs=3, initial_epoch=1, verbose=0)
    assert resumed.optimizer.iterations == uninterrupted.optimizer.iterations == 24
    for a, b in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_nadam_goes_on_where_it_was_after_compile_and_a_move_to_another_device() -> None:
    straight = small_model(optimizers.Nadam(0.01))
    straight.fit(X, Y, batch_size=8, epochs=4, shuffle=False, verbose=0)
    moved = small_model(optimizers.Nadam(0.01))
    moved.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    moved.compile(moved.optimizer, "mse", metrics=["mae"])  # the same object: its state stays
    moved.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    moved.to("numpy")
    moved.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    moved.to("cpu")
    moved.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    product = straight._engine.get_optimizer_state()[2]
    assert moved._engine.get_optimizer_state()[2] == pytest.approx(product, rel=1e-15)
    for a, b in zip(moved.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _rewrite_optimizer_entry(path, change: Callable[[dict], None]) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(members["config.json"])
    change(config["optimizer"])
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda o: o.pop("scalars"), r"expected 1 scalar values \(Nadam's u_product"),
        (lambda o: o.update(scalars=[0.5, 0.5]), r"expected 1 scalar values .*got 2"),
        (lambda o: o.update(scalars=[1.5]), r"u_product must be in \[0, 1\]"),
        (lambda o: o.update(scalars=["0.5"]), r"invalid optimizer scalars: expected finite"),
        (lambda o: o.update(scalars=0.5), r"invalid optimizer scalars: expected a list"),
    ],
    ids=["missing", "two", "above_one", "string", "not_a_list"],
)
def test_a_file_with_a_wrong_u_product_is_refused(tmp_path, change, match) -> None:
    model = small_model(optimizers.Nadam())
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    assert (
        json.loads(zipfile.ZipFile(tmp_path / "m.fastmlp").read("config.json"))["optimizer"][
            "scalars"
        ]
        == model._engine.get_optimizer_state()[2]
    )
    _rewrite_optimizer_entry(tmp_path / "m.fastmlp", change)
    with pytest.raises(ValueError, match=match):
        models.load_model(tmp_path / "m.fastmlp")


def test_summary_counts_nadams_u_product_as_keras(capsys) -> None:
    model = small_model(optimizers.Nadam())
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    model.summary()
    # Keras: the two slots of each of the 26 weights, the step count, the rate and u_product
    assert " Optimizer params: 55 " in capsys.readouterr().out
