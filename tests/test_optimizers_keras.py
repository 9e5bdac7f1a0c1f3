"""Nadam, Adamax, Lion and Ftrl against Keras 3 itself, where it is installed (in a subprocess:
tests/keras_run.py): from the same initial weights, on the same data, three epochs of `fit` with
shuffle=False in float64 give the same weights, the same optimizer slots and Nadam's u_product;
the defaults, the names and the optimizer-parameter count of `summary()` are Keras's.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np
import pytest
from fastmlp import optimizers
from fastmlp.optimizers import schedules
from keras_run import run_keras
from test_losses_keras import _training_model
from test_optimizers import KERAS_DEFAULTS
from test_optimizers_more import CLASSES, FTRL_REGULARIZED

KERAS_SCRIPT = """
import json, sys
import numpy as np
import keras

spec = json.load(open(sys.argv[1]))
data = np.load(sys.argv[2])
keras.config.set_floatx("float64")
SLOTS = {"Nadam": ("_momentums", "_velocities"), "Adamax": ("_m", "_u"), "Lion": ("_momentums",),
         "Ftrl": ("_accumulators", "_linears")}
out = {}
for case in spec["fit"]:
    key, config = case["id"], dict(case["config"])
    rate = config["learning_rate"]
    if isinstance(rate, dict):
        config["learning_rate"] = getattr(keras.optimizers.schedules, rate["class_name"])(
            **rate["config"])
    optimizer = getattr(keras.optimizers, case["class_name"])(**config)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"),
        keras.layers.Dense(case["units"], activation=case["activation"])])
    model.set_weights([data[key + "/w" + str(i)] for i in range(4)])
    model.compile(optimizer=optimizer, loss=case["loss"])
    model.fit(data[key + "/x"], data[key + "/y"], batch_size=8, epochs=3, shuffle=False, verbose=0)
    for i, w in enumerate(model.get_weights()):
        out[key + "/trained" + str(i)] = w
    for j, name in enumerate(SLOTS[case["class_name"]]):
        out[key + "/slot" + str(j)] = np.concatenate(
            [np.ravel(v.numpy()) for v in getattr(optimizer, name)])
    if case["class_name"] == "Nadam":
        out[key + "/u_product"] = np.float64(optimizer._u_product.numpy())
    out[key + "/iterations"] = np.int64(optimizer.iterations.numpy())
    out[key + "/count"] = np.int64(sum(int(np.prod(v.shape)) for v in optimizer.variables))
np.savez(sys.argv[3], **out)
found = {}
for name in spec["classes"]:
    config = getattr(keras.optimizers, name)().get_config()
    found[name] = {
        "config": {k: v for k, v in config.items() if isinstance(v, (int, float, str, type(None)))},
        "get": type(keras.optimizers.get(name.lower())).__name__,
    }
print(json.dumps(found))
"""

# Keras computes a schedule's rates in float32 and casts weight_decay through float32, for every
# optimizer (fastmlp keeps their float64 values, for all optimizers alike): the rates and decays
# here are exact in float32, so that the comparison sees the update rules alone.
DECAY = schedules.ExponentialDecay(2**-6, decay_steps=5, decay_rate=0.5, staircase=True)
# (id, optimizer, loss, output units, output activation): 40 samples, batches of 8, 15 steps.
FIT: list[tuple[str, Callable[[], optimizers.Optimizer], str, int, str | None]] = [
    ("nadam", lambda: optimizers.Nadam(0.01), "mse", 2, None),
    (
        "nadam-schedule-weight_decay",
        lambda: optimizers.Nadam(DECAY, beta_1=0.8, epsilon=1e-4, weight_decay=0.125),
        "sparse_categorical_crossentropy",
        3,
        "softmax",
    ),
    ("adamax-clipnorm", lambda: optimizers.Adamax(0.02, beta_2=0.9, clipnorm=0.5), "mse", 2, None),
    ("lion-weight_decay", lambda: optimizers.Lion(3e-3, weight_decay=0.25), "mse", 2, None),
    (
        "lion-schedule-global_clipnorm",
        lambda: optimizers.Lion(DECAY, beta_1=0.5, beta_2=0.9, global_clipnorm=1.0),
        "mse",
        2,
        None,
    ),
    ("ftrl", lambda: optimizers.Ftrl(0.1), "mse", 2, None),
    (
        "ftrl-regularized-clipvalue",
        lambda: optimizers.Ftrl(0.1, clipvalue=0.5, **FTRL_REGULARIZED),
        "mse",
        2,
        None,
    ),
    (
        "ftrl-schedule-fixed-rates",
        lambda: optimizers.Ftrl(DECAY, learning_rate_power=0.0, weight_decay=0.0625),
        "mse",
        2,
        None,
    ),
]
IDS = [case[0] for case in FIT]


def _data(i: int, loss: str, units: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(10 + i)
    x = rng.normal(size=(40, 4))
    if loss == "mse":
        return x, np.stack([np.sin(2 * x[:, 0]), x[:, 1] * x[:, 2]], axis=1)[:, :units]
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)


def _model(optimizer: optimizers.Optimizer, loss: str, units: int, activation: str | None):
    """test_losses_keras's 4 -> 5 tanh -> units model (float64, seed 3), with `optimizer`."""
    model = _training_model(loss, units, activation)
    model.compile(optimizer, loss)
    return model


@pytest.fixture(scope="module")
def keras_results(tmp_path_factory) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Everything Keras computes here, from one subprocess: (arrays, defaults and names)."""
    tmp = tmp_path_factory.mktemp("keras")
    arrays, fit = {}, []
    for i, (key, make, loss, units, activation) in enumerate(FIT):
        arrays[key + "/x"], arrays[key + "/y"] = _data(i, loss, units)
        model = _model(make(), loss, units, activation)
        for j, w in enumerate(model.get_weights()):
            arrays[f"{key}/w{j}"] = w
        config = model.optimizer.get_config()
        fit.append(
            {
                "id": key,
                "class_name": type(model.optimizer).__name__,
                "config": config,
                "loss": loss,
                "units": units,
                "activation": activation,
            }
        )
    spec = {"fit": fit, "classes": [cls.__name__ for cls in CLASSES]}
    (tmp / "spec.json").write_text(json.dumps(spec))
    np.savez(tmp / "in.npz", **arrays)
    stdout = run_keras(
        KERAS_SCRIPT, *(str(tmp / f) for f in ("spec.json", "in.npz", "out.npz")), timeout=600
    )
    return dict(np.load(tmp / "out.npz")), json.loads(stdout.strip().splitlines()[-1])


def _relative(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


@pytest.mark.parametrize(("key", "make", "loss", "units", "activation"), FIT, ids=IDS)
def test_three_epochs_of_fit_give_keras_weights_and_state(
    keras_results, key, make, loss, units, activation
) -> None:
    theirs, _ = keras_results
    x, y = _data(IDS.index(key), loss, units)
    model = _model(make(), loss, units, activation)
    start = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    trained = model.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(trained, start))  # (it trained)
    for i, ours in enumerate(trained):
        assert _relative(ours, theirs[f"{key}/trained{i}"]) <= 1e-12, f"weights {i}"
    iterations, slots, scalars = model._engine.get_optimizer_state()
    assert iterations == theirs[f"{key}/iterations"] == 15
    for j, slot in enumerate(slots):  # (the flat layout is Keras's variables, raveled, in order)
        assert _relative(slot, theirs[f"{key}/slot{j}"]) <= 1e-12, f"slot {j}"
    if scalars:
        assert scalars[0] == pytest.approx(float(theirs[f"{key}/u_product"]), rel=1e-15)
    # Keras's optimizer variables: the slots, u_product, the step count and (without a schedule)
    # the learning rate
    constant_rate = model.optimizer._schedule is None
    assert sum(s.size for s in slots) + len(scalars) + 1 + constant_rate == theirs[f"{key}/count"]
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert lines[-1].startswith(f" Optimizer params: {int(theirs[f'{key}/count']):,} (")


def test_defaults_and_names_are_keras(keras_results) -> None:
    _, found = keras_results
    for cls in CLASSES:
        assert {
            **KERAS_DEFAULTS[cls],
            "name": cls.__name__.lower(),
        }.items() <= cls().get_config().items()
        keras_config = found[cls.__name__]["config"]
        for key, value in cls().get_config().items():
            assert keras_config[key] == value, (cls.__name__, key)
        assert found[cls.__name__]["get"] == cls.__name__
