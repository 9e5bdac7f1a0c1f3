"""Learning-rate schedules with Keras 3's names, arguments and formulas.

A schedule maps the optimizer's step count (0 for the first update, as Keras's
`optimizer.iterations` before the step) to that step's learning rate:

    >>> lr = fastmlp.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=1000, decay_rate=0.9)
    >>> model.compile(optimizer=fastmlp.optimizers.SGD(learning_rate=lr), loss="mse")

fastmlp evaluates the schedule in Python, vectorised over the steps of each engine call (an
epoch, or a chunk of one), and the engine takes each step's rate from that table. A schedule of
your own subclasses `LearningRateSchedule` and defines `__call__(self, step)` for an integer
step (and `get_config`, to be saved with the model).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]


def _number(value: Any, name: str, positive: bool = False) -> float:
    """A finite number >= 0 (> 0 if `positive`), kept an int if it is one (as in its config)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


class LearningRateSchedule:
    """Base class: subclasses define `__call__(step)` and `get_config()`."""

    def __call__(self, step: Any) -> Any:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` to be saved."
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)

    def rates(self, first: int, count: int) -> np.ndarray:
        """The learning rates of steps first, first + 1, ..., first + count - 1 (float64).

        fastmlp's own schedules compute them in one NumPy pass; a subclass's `__call__` is called
        once a step, with a Python int.

        Raises:
            ValueError: where the schedule gives anything but a finite number >= 0.
        """
        steps = np.arange(first, first + count, dtype=np.float64)
        # fastmlp's own __call__ (this module's) takes an array of steps; a subclass's own
        # __call__ may expect an int, as Keras's documentation shows them
        if type(self).__call__.__module__ == __name__:
            values = np.broadcast_to(np.asarray(self(steps), dtype=np.float64), steps.shape)
        else:
            values = np.array([_as_float(self(int(s)), self, int(s)) for s in steps])
        bad = ~(np.isfinite(values) & (values >= 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"learning-rate schedule {type(self).__name__} gave {float(values[i])!r} at step "
                f"{first + i}; expected a finite number >= 0"
            )
        return np.ascontiguousarray(values)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


def _as_float(value: Any, schedule: LearningRateSchedule, step: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"learning-rate schedule {type(schedule).__name__} returned {value!r} at step {step}; "
            "expected a number"
        ) from None


class _RateDecay(LearningRateSchedule):
    """The arguments ExponentialDecay and InverseTimeDecay share, and their progress
    step / decay_steps (floored when `staircase`)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
        name: str | None = None,
    ) -> None:
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _number(decay_steps, "decay_steps", positive=True)
        self.decay_rate = _number(decay_rate, "decay_rate")
        self.staircase = bool(staircase)
        self.name = name or type(self).__name__

    def _progress(self, step: Any) -> Any:
        p = np.asarray(step, dtype=np.float64) / self.decay_steps
        return np.floor(p) if self.staircase else p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_RateDecay):
    """initial_learning_rate * decay_rate ** (step / decay_steps), the exponent floored when
    `staircase`."""

    def __call__(self, step: Any) -> Any:
        return self.initial_learning_rate * np.power(self.decay_rate, self._progress(step))


class InverseTimeDecay(_RateDecay):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps), the quotient floored when
    `staircase`."""

    def __call__(self, step: Any) -> Any:
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] up to step boundaries[0] (included), values[1] up to boundaries[1], ...,
    values[-1] after the last boundary."""

    def __init__(self, boundaries: Any, values: Any, name: str = "PiecewiseConstant") -> None:
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of "
                f"length {len(values)}."
            )
        for b in boundaries:
            if isinstance(b, bool) or not isinstance(b, (int, float, np.integer, np.floating)):
                raise TypeError(f"boundaries must be numbers, got {b!r}")
        if any(not b < c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(f"boundaries must be increasing, got {boundaries}")
        self.boundaries = [b.item() if isinstance(b, np.generic) else b for b in boundaries]
        self.values = [_number(v, "values") for v in values]
        self.name = name

    def __call__(self, step: Any) -> Any:
        # the number of boundaries below the step picks the value (step == boundary: the lower)
        index = np.searchsorted(np.asarray(self.boundaries, dtype=np.float64), step, side="left")
        return np.asarray(self.values)[index]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - step / decay_steps) ** power + end, constant at `end_learning_rate`
    after decay_steps; with `cycle`, decay_steps grows to the next multiple of itself instead."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ) -> None:
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _number(decay_steps, "decay_steps", positive=True)
        self.end_learning_rate = _number(end_learning_rate, "end_learning_rate")
        self.power = _number(power, "power")
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step: Any) -> Any:
        step = np.asarray(step, dtype=np.float64)
        decay_steps = np.full_like(step, self.decay_steps)
        if self.cycle:
            decay_steps = decay_steps * np.where(step == 0, 1.0, np.ceil(step / self.decay_steps))
        else:
            step = np.minimum(step, decay_steps)
        fraction = 1.0 - step / decay_steps
        delta = self.initial_learning_rate - self.end_learning_rate
        return delta * np.power(fraction, self.power) + self.end_learning_rate

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Half a cosine from the rate down to alpha times it over decay_steps (Loshchilov & Hutter,
    2017), after an optional linear warmup from initial_learning_rate to warmup_target over
    warmup_steps."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: float = 0,
    ) -> None:
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _number(decay_steps, "decay_steps", positive=True)
        self.alpha = _number(alpha, "alpha")
        self.name = name
        self.warmup_target = (
            None if warmup_target is None else _number(warmup_target, "warmup_target")
        )
        self.warmup_steps = _number(warmup_steps, "warmup_steps")

    def _decay(self, step: np.ndarray, start: float) -> np.ndarray:
        cosine = 0.5 * (1.0 + np.cos(math.pi * step / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: Any) -> Any:
        step = np.asarray(step, dtype=np.float64)
        if self.warmup_target is None:
            return self._decay(np.minimum(step, self.decay_steps), self.initial_learning_rate)
        step = np.minimum(step, self.decay_steps + self.warmup_steps)
        decayed = self._decay(np.maximum(step - self.warmup_steps, 0.0), self.warmup_target)
        if self.warmup_steps == 0:
            return decayed
        warmup = self.initial_learning_rate + (self.warmup_target - self.initial_learning_rate) * (
            step / self.warmup_steps
        )
        return np.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods of first_decay_steps, each t_mul times the
    one before, each starting at m_mul times the previous start."""

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: float,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
    ) -> None:
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.first_decay_steps = _number(first_decay_steps, "first_decay_steps", positive=True)
        self._t_mul = _number(t_mul, "t_mul", positive=True)
        self._m_mul = _number(m_mul, "m_mul")
        self.alpha = _number(alpha, "alpha")
        self.name = name

    def __call__(self, step: Any) -> Any:
        fraction = np.asarray(step, dtype=np.float64) / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            restart = np.floor(fraction)
            fraction = fraction - restart
        else:
            restart = np.floor(np.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - np.power(t_mul, restart)) / (1.0 - t_mul)
            fraction = (fraction - done) / np.power(t_mul, restart)
        cosine = 0.5 * np.power(self._m_mul, restart) * (1.0 + np.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_CLASSES: dict[str, type[LearningRateSchedule]] = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        InverseTimeDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """{"class_name": ..., "config": ...} (Keras's layout)."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(
    config: dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> LearningRateSchedule:
    """Rebuild a schedule from `serialize`'s output; a schedule class of your own is found in
    `custom_objects` ({"MySchedule": MySchedule})."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise TypeError(
            f"a learning-rate schedule config must be a dict with 'class_name', got {config!r}"
        )
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is not None and not (isinstance(cls, type) and issubclass(cls, LearningRateSchedule)):
        raise TypeError(
            f"custom_objects[{name!r}] must be a LearningRateSchedule subclass, got {cls!r}"
        )
    if cls is None:
        raise ValueError(
            f"Unknown learning-rate schedule {name!r}: pass its class in "
            f"custom_objects={{{name!r}: ...}}. fastmlp's own: {', '.join(_CLASSES)}"
        )
    try:
        return cls.from_config(dict(config.get("config") or {}))
    except TypeError as err:
        raise ValueError(f"Invalid config for learning-rate schedule {name}: {err}") from err
