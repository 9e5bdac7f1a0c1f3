"""The optimizers' base class: hyperparameters common to all, learning-rate schedules, clipping,
and the link to the model's engine (which holds the state and runs the update in C++)."""

from __future__ import annotations

import math
import numbers
from typing import Any

from fastmlp import _core
from fastmlp.optimizers import schedules


def _check_number(value: Any, name: str, low: float = 0.0, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < low or (high is not None and value >= high):
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return float(value)


class Optimizer:
    """Base class. Holds the hyperparameters; the model's engine holds the state.

    Args:
        learning_rate: Step size: a float, or a `schedules.LearningRateSchedule` giving each
            step's rate from the step count. Defaults to the subclass's Keras default.
        weight_decay: Decoupled weight decay: w -= learning_rate * weight_decay * w each step.
            Defaults to None (off).
        clipnorm: Clip each weight tensor's gradient to this norm. Defaults to None.
        clipvalue: Clip each gradient element to [-clipvalue, clipvalue]. Defaults to None.
        global_clipnorm: Clip the gradient of all weights together to this norm. Defaults to None.
        name: Defaults to the class name in lower case.
    """

    _kind = -1  # the engine's code (enum class OptimizerKind in optimizer.hpp)
    _hyper: tuple[str, ...] = ()  # hyperparameters besides the common ones, as in get_config

    def __init__(
        self,
        learning_rate: float,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            hint = " (`lr` is called `learning_rate` since Keras 2.3)" if "lr" in kwargs else ""
            raise TypeError(
                f"{type(self).__name__} got unexpected arguments: {sorted(kwargs)}{hint}"
            )
        self._engine: Any = None  # the network this optimizer updates, once compiled into a model
        self._schedule: schedules.LearningRateSchedule | None = None
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            self._schedule = learning_rate
        elif callable(learning_rate):
            raise TypeError(
                "learning_rate must be a float or a fastmlp.optimizers.schedules."
                "LearningRateSchedule (subclass it and define __call__(self, step)); per epoch, "
                f"use the LearningRateScheduler callback. Got {learning_rate!r}"
            )
        else:
            self.learning_rate = learning_rate
        self.weight_decay = (
            None if weight_decay is None else _check_number(weight_decay, "weight_decay")
        )
        self.clipnorm = None if clipnorm is None else _check_number(clipnorm, "clipnorm")
        self.clipvalue = None if clipvalue is None else _check_number(clipvalue, "clipvalue")
        self.global_clipnorm = (
            None if global_clipnorm is None else _check_number(global_clipnorm, "global_clipnorm")
        )
        if self.clipnorm is not None and self.global_clipnorm is not None:
            raise ValueError("pass at most one of clipnorm and global_clipnorm")
        self.name = name or type(self).__name__.lower()

    @property
    def learning_rate(self) -> float:
        """The current learning rate: the next step's (settable, unless it comes from a schedule:
        callbacks change it between chunks of steps)."""
        if self._schedule is not None:
            return float(self._schedule.rates(self.iterations, 1)[0])
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if self._schedule is not None:
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. "
                "If you need the learning rate to be settable, you should instantiate the "
                "optimizer with a float `learning_rate` argument."
            )
        value = self._check_learning_rate(value)
        if getattr(self, "_engine", None) is not None:  # first: it may refuse (another thread)
            self._engine.set_learning_rate(value)
        self._learning_rate = value

    def _check_learning_rate(self, value: Any) -> float:
        """A constant learning rate as a float, or a clear error."""
        return _check_number(value, "learning_rate")

    def __getstate__(self) -> dict[str, Any]:
        """pickle / deepcopy: the settings, detached from any model's engine."""
        state = self.__dict__.copy()
        state["_engine"] = None
        return state

    @property
    def iterations(self) -> int:
        """Number of update steps taken so far."""
        return 0 if self._engine is None else int(self._engine.iterations)

    def _attach(self, engine: Any) -> None:
        """Configure `engine` (a fastmlp._core network) to use this optimizer; clears its state."""
        config = _core.OptimizerConfig(self._kind)
        # (with a schedule, each engine call of a model gives its engine the rates of its steps:
        # _training.schedule_rates)
        config.learning_rate = self._learning_rate if self._schedule is None else 0.0
        config.weight_decay = self.weight_decay or 0.0
        for key in self._hyper:
            setattr(config, key, getattr(self, key))
        engine.set_optimizer(config)
        engine.set_clipping(
            self.clipnorm or 0.0, self.clipvalue or 0.0, self.global_clipnorm or 0.0
        )
        self._engine = engine

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for JSON."""
        config: dict[str, Any] = {
            "name": self.name,
            "learning_rate": (
                self._learning_rate
                if self._schedule is None
                else schedules.serialize(self._schedule)
            ),
        }
        config.update({key: getattr(self, key) for key in self._hyper})
        config.update(
            weight_decay=self.weight_decay,
            clipnorm=self.clipnorm,
            clipvalue=self.clipvalue,
            global_clipnorm=self.global_clipnorm,
        )
        return config

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        """The class with its learning rate and the settings that differ from its defaults:
        SGD(learning_rate=0.1, momentum=0.9, nesterov=True)."""
        rate = self._learning_rate if self._schedule is None else self._schedule
        config = self.get_config()
        try:
            defaults = type(self)().get_config()
        except (TypeError, ValueError):  # a subclass without defaults: every setting
            defaults = {}
        changed = [
            f"{key}={value!r}"
            for key, value in config.items()
            if key != "learning_rate" and value != defaults.get(key, object())
        ]
        return f"{type(self).__name__}({', '.join([f'learning_rate={rate!r}', *changed])})"
