"""The Python optimizer objects: Keras 3 defaults, `get`, configs, the learning-rate setter,
`iterations` after training, and a learning-rate change between two fits reaching the engine.
(The update formulas themselves are checked in test_optimizers_engine.py.)
"""

from __future__ import annotations

import json
import math
from typing import Any

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, optimizers

# Keras 3's defaults (keras/src/optimizers/*.py).
KERAS_DEFAULTS: dict[type, dict[str, Any]] = {
    optimizers.SGD: {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    optimizers.Adam: {
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
    },
    optimizers.AdamW: {
        "learning_rate": 0.001,
        "weight_decay": 0.004,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
    },
    optimizers.RMSprop: {
        "learning_rate": 0.001,
        "rho": 0.9,
        "momentum": 0.0,
        "epsilon": 1e-7,
        "centered": False,
    },
    optimizers.Adagrad: {
        "learning_rate": 0.001,
        "initial_accumulator_value": 0.1,
        "epsilon": 1e-7,
    },
    optimizers.Adadelta: {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7},
    optimizers.Nadam: {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    optimizers.Adamax: {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    optimizers.Lion: {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.99},
    optimizers.Ftrl: {
        "learning_rate": 0.001,
        "learning_rate_power": -0.5,
        "initial_accumulator_value": 0.1,
        "l1_regularization_strength": 0.0,
        "l2_regularization_strength": 0.0,
        "l2_shrinkage_regularization_strength": 0.0,
        "beta": 0.0,
    },
}
NAMES = {
    "sgd": optimizers.SGD,
    "adam": optimizers.Adam,
    "adamw": optimizers.AdamW,
    "rmsprop": optimizers.RMSprop,
    "adagrad": optimizers.Adagrad,
    "adadelta": optimizers.Adadelta,
    "nadam": optimizers.Nadam,
    "adamax": optimizers.Adamax,
    "lion": optimizers.Lion,
    "ftrl": optimizers.Ftrl,
}
CLASSES = list(KERAS_DEFAULTS)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_keras_defaults(cls: type) -> None:
    opt = cls()
    for key, value in KERAS_DEFAULTS[cls].items():
        assert getattr(opt, key) == value, key
        assert type(getattr(opt, key)) is type(value), key
    if cls is not optimizers.AdamW:
        assert opt.weight_decay is None
    assert (opt.clipnorm, opt.clipvalue, opt.global_clipnorm) == (None, None, None)
    assert opt.iterations == 0


@pytest.mark.parametrize(("name", "cls"), list(NAMES.items()), ids=list(NAMES))
def test_get_by_name(name: str, cls: type) -> None:
    assert type(optimizers.get(name)) is cls
    assert type(optimizers.get(cls.__name__)) is cls  # "Adam", "RMSprop", ...
    assert optimizers.get(name).learning_rate == KERAS_DEFAULTS[cls]["learning_rate"]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_get_by_class_and_object(cls: type) -> None:
    assert type(optimizers.get(cls)) is cls
    opt = cls(learning_rate=0.5)
    assert optimizers.get(opt) is opt


def test_get_unknown_name_and_wrong_type() -> None:
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adafactor'\. Expected one of: sgd"):
        optimizers.get("adafactor")
    with pytest.raises(TypeError, match=r"optimizer must be a name .*got float"):
        optimizers.get(0.1)


def test_unexpected_argument_is_named() -> None:
    with pytest.raises(TypeError, match=r"Adam got unexpected arguments: \['lr'\]"):
        optimizers.Adam(lr=0.1)


NON_DEFAULT = [
    optimizers.SGD(learning_rate=0.2, momentum=0.5, nesterov=True, clipnorm=1.0, name="my_sgd"),
    optimizers.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6, amsgrad=True),
    optimizers.AdamW(learning_rate=0.02, weight_decay=0.1, clipvalue=0.5),
    optimizers.RMSprop(learning_rate=0.003, rho=0.8, momentum=0.1, centered=True),
    optimizers.Adagrad(learning_rate=0.05, initial_accumulator_value=0.2, global_clipnorm=2.0),
    optimizers.Adadelta(learning_rate=1.0, rho=0.9, epsilon=1e-6, weight_decay=0.01),
    optimizers.Nadam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5, weight_decay=0.01, name="n"),
    optimizers.Adamax(0.02, beta_2=0.9, clipnorm=1.0),
    optimizers.Lion(3e-4, beta_1=1.0, beta_2=0.0, global_clipnorm=2.0),
    optimizers.Ftrl(
        0.1,
        learning_rate_power=-0.25,
        initial_accumulator_value=0.0,
        l1_regularization_strength=0.01,
        l2_regularization_strength=0.02,
        l2_shrinkage_regularization_strength=0.03,
        beta=0.5,
        clipvalue=0.5,
    ),
]


@pytest.mark.parametrize("opt", NON_DEFAULT, ids=lambda opt: type(opt).__name__)
def test_get_config_from_config_round_trip(opt: optimizers.Optimizer) -> None:
    config = opt.get_config()
    assert json.loads(json.dumps(config)) == config
    again = type(opt).from_config(config)
    assert type(again) is type(opt)
    assert again.get_config() == config
    for key, value in config.items():
        assert getattr(again, key) == value


@pytest.mark.parametrize("opt", NON_DEFAULT, ids=lambda opt: type(opt).__name__)
def test_serialize_deserialize_round_trip(opt: optimizers.Optimizer) -> None:
    data = json.loads(json.dumps(optimizers.serialize(opt)))
    assert data["class_name"] == type(opt).__name__
    again = optimizers.deserialize(data)
    assert type(again) is type(opt)
    assert again.get_config() == opt.get_config()
    assert optimizers.get(data).get_config() == opt.get_config()


def test_config_has_keras_keys() -> None:
    config = optimizers.Adam().get_config()
    assert set(config) == {
        "name",
        "learning_rate",
        "beta_1",
        "beta_2",
        "epsilon",
        "amsgrad",
        "weight_decay",
        "clipnorm",
        "clipvalue",
        "global_clipnorm",
    }


def test_deserialize_unknown_class() -> None:
    with pytest.raises(ValueError, match=r"Unknown optimizer class 'Lamb'"):
        optimizers.deserialize({"class_name": "Lamb", "config": {}})


# -- the learning-rate setter --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        pytest.param(
            -0.01, ValueError, r"learning_rate must be >= 0\.0, got -0\.01", id="negative"
        ),
        pytest.param(float("nan"), ValueError, r"learning_rate must be a finite number", id="nan"),
        pytest.param(float("inf"), ValueError, r"learning_rate must be a finite number", id="inf"),
        pytest.param("0.1", TypeError, r"learning_rate must be a number, got '0\.1'", id="str"),
        pytest.param(None, TypeError, r"learning_rate must be a number, got None", id="none"),
        pytest.param(True, TypeError, r"learning_rate must be a number, got True", id="bool"),
    ],
)
def test_learning_rate_setter_refuses_bad_values(value: Any, error: type, match: str) -> None:
    opt = optimizers.RMSprop(learning_rate=0.25)
    with pytest.raises(error, match=match):
        opt.learning_rate = value
    assert opt.learning_rate == 0.25  # unchanged


def test_learning_rate_setter_accepts_numbers_as_float() -> None:
    opt = optimizers.SGD()
    opt.learning_rate = 1
    assert opt.learning_rate == 1.0
    assert type(opt.learning_rate) is float
    opt.learning_rate = np.float64(0.125)
    assert opt.learning_rate == 0.125
    assert type(opt.learning_rate) is float
    opt.learning_rate = 0.0
    assert opt.learning_rate == 0.0


@pytest.mark.parametrize("value", [np.float32(0.5), np.int64(1)], ids=["float32", "int64"])
def test_learning_rate_accepts_numpy_scalars(value: Any) -> None:
    opt = optimizers.Adam(learning_rate=value)
    assert opt.learning_rate == float(value)


def test_a_plain_callable_learning_rate_is_refused_with_pointers_to_schedules() -> None:
    with pytest.raises(TypeError, match=r"LearningRateSchedule \(subclass.*LearningRateScheduler"):
        optimizers.SGD(learning_rate=lambda step: 0.1)


# -- iterations and learning rate on a compiled model --------------------------------------------

IN = 3
X = np.random.default_rng(0).normal(size=(50, IN))
Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3


def regression_model(optimizer: Any) -> Any:
    model = fm.Sequential([layers.Input(shape=(IN,)), layers.Dense(1)], seed=0, dtype="float64")
    model.compile(optimizer=optimizer, loss="mse")
    return model


@pytest.mark.parametrize(("batch_size", "epochs"), [(16, 3), (64, 2), (7, 2)], ids=str)
@pytest.mark.parametrize("name", list(NAMES))
def test_iterations_count_steps_after_fit(name: str, batch_size: int, epochs: int) -> None:
    model = regression_model(name)
    assert model.optimizer.iterations == 0
    model.fit(X, Y, batch_size=batch_size, epochs=epochs, verbose=0)
    assert model.optimizer.iterations == math.ceil(len(X) / batch_size) * epochs


def test_iterations_accumulate_over_fits_and_train_on_batch() -> None:
    model = regression_model(optimizers.Adam())
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)  # 4 steps
    model.fit(X, Y, batch_size=10, epochs=2, verbose=0)  # 10 steps
    model.train_on_batch(X[:5], Y[:5])  # 1 step
    assert model.optimizer.iterations == 15


def test_iterations_count_only_training_steps() -> None:
    model = regression_model("sgd")
    # validation_split=0.2 keeps 40 samples for training: ceil(40 / 16) = 3 steps per epoch.
    model.fit(X, Y, batch_size=16, epochs=2, validation_split=0.2, verbose=0)
    assert model.optimizer.iterations == 6
    model.evaluate(X, Y, verbose=0)
    model.predict(X, verbose=0)
    assert model.optimizer.iterations == 6


def test_iterations_with_initial_epoch() -> None:
    model = regression_model("sgd")
    model.fit(X, Y, batch_size=25, epochs=5, initial_epoch=3, verbose=0)
    assert model.optimizer.iterations == 2 * 2


def test_learning_rate_zero_between_fits_freezes_the_weights() -> None:
    model = regression_model(optimizers.SGD(learning_rate=0.05))
    model.fit(X, Y, batch_size=10, epochs=1, verbose=0)
    trained = model.get_weights()
    assert not np.allclose(trained[0], 0.0)
    model.optimizer.learning_rate = 0.0
    model.fit(X, Y, batch_size=10, epochs=2, verbose=0)
    for before, after in zip(trained, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_learning_rate_change_between_fits_scales_the_step() -> None:
    # Plain SGD: one step moves the weights by -lr * gradient, so doubling lr doubles the move.
    def step(lr_first: float, lr_second: float) -> list[np.ndarray]:
        model = regression_model(optimizers.SGD(learning_rate=lr_first))
        model.fit(X, Y, batch_size=50, epochs=1, shuffle=False, verbose=0)
        before = model.get_weights()
        model.optimizer.learning_rate = lr_second
        model.fit(X, Y, batch_size=50, epochs=1, shuffle=False, verbose=0)
        return [a - b for a, b in zip(model.get_weights(), before)]

    small, large = step(0.01, 0.02), step(0.01, 0.04)
    for d_small, d_large in zip(small, large):
        assert np.abs(d_small).max() > 0
        np.testing.assert_allclose(d_large, 2 * d_small, rtol=1e-12)


def test_learning_rate_set_before_compile_is_used() -> None:
    opt = optimizers.SGD(learning_rate=0.1)
    opt.learning_rate = 0.0
    model = regression_model(opt)
    before = model.get_weights()
    model.fit(X, Y, batch_size=10, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert opt.iterations == 5


def test_same_start_same_lr_gives_same_weights_after_lr_change() -> None:
    # Lowering lr on a live optimizer equals training the second part with a fresh optimizer of
    # that lr (SGD without momentum carries no state between steps).
    a = regression_model(optimizers.SGD(learning_rate=0.1))
    a.fit(X, Y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    b = regression_model(optimizers.SGD(learning_rate=0.1))
    b.fit(X, Y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    a.optimizer.learning_rate = 0.03
    b.compile(optimizer=optimizers.SGD(learning_rate=0.03), loss="mse")
    a.fit(X, Y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    b.fit(X, Y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-14, atol=1e-15)


def test_recompiling_with_the_same_optimizer_object_keeps_its_state_as_keras() -> None:
    """compile(optimizer=the same object) again (to change the metrics, say) goes on where the
    optimizer was: its step count and Adam's moments; a new optimizer object starts afresh."""
    x = np.random.default_rng(0).normal(size=(40, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])

    def model():
        m = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(1)], seed=1, dtype="float64")
        m.compile(optimizers.Adam(0.05), "mse")
        return m

    straight, recompiled = model(), model()
    for m in (straight, recompiled):
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    recompiled.compile(recompiled.optimizer, "mse", metrics=["mae"])
    assert recompiled.optimizer.iterations == 10
    for m in (straight, recompiled):
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(straight.get_weights(), recompiled.get_weights()):
        np.testing.assert_array_equal(a, b)
    recompiled.compile(optimizers.Adam(0.05), "mse")
    assert recompiled.optimizer.iterations == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        lambda: optimizers.Adam(beta_1=0.8, amsgrad=True, clipnorm=1.0),
        lambda: optimizers.RMSprop(centered=True, name="mine"),
        lambda: optimizers.Nadam(),
        lambda: optimizers.Ftrl(l1_regularization_strength=0.01),
    ],
)
def test_repr_shows_the_settings_and_rebuilds_the_optimizer(make):
    """repr names the learning rate and every setting off its default, enough to rebuild it."""
    optimizer = make()
    again = eval(repr(optimizer), {**vars(optimizers)})  # (our own repr)
    assert type(again) is type(optimizer)
    assert again.get_config() == optimizer.get_config()
    defaults = type(optimizer)().get_config()
    changed = {k for k, v in optimizer.get_config().items() if v != defaults[k]} - {"learning_rate"}
    assert all(f"{key}=" in repr(optimizer) for key in changed)
