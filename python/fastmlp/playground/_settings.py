"""Checks of a playground experiment's settings, shared by `Playground` and the command line.

Every check raises before anything is built or trained, with a message that names the setting,
what it expects and the value that came.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

import fastmlp as fm

MODES = ("playground", "modern")
PROBLEMS = ("classification", "regression")
INITS = ("playground", "glorot", "zeros")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta")
DEFAULT_OPTIMIZER = {"playground": "sgd", "modern": "adam"}
DEFAULT_LEARNING_RATE = 0.03  # the playground's


class RegularizationWarning(UserWarning):
    """Only half of the regularisation is set (its kind or its rate), so it does nothing."""


class LabelWarning(UserWarning):
    """A custom dataset's two label values were taken as the classes -1 and +1: says which is which."""


def choice(value: Any, allowed: Sequence[str], what: str) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")
    return value.lower()


def seed(value: Any, what: str) -> int:
    if value is None:
        return int(np.random.default_rng().integers(2**31))
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{what} must be None or a non-negative integer, got {value!r}")
    return int(value)


def positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def number(value: Any, what: str, low: float = 0.0) -> float:
    """A finite real number >= low."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value) or value < low:
        raise ValueError(f"{what} must be a finite number >= {low:g}, got {value!r}")
    return float(value)


def hidden_units(hidden: Any) -> tuple[int, ...]:
    """(4, 2) -> (4, 2); 8 -> (8,); 0 or () -> () (no hidden layer, as --hidden 0)."""
    units = (hidden,) if isinstance(hidden, (int, np.integer)) else hidden
    try:
        units = tuple(units)
    except TypeError:
        units = None
    if units == (0,):
        return ()
    if units is None or any(
        isinstance(u, bool) or not isinstance(u, (int, np.integer)) or u < 1 for u in units
    ):
        raise ValueError(
            "hidden must be the units of each hidden layer as positive integers, such as (4, 2), "
            f"or () or 0 for no hidden layer; got {hidden!r}"
        )
    return tuple(int(u) for u in units)


def regularization_problem(kind: str | None, rate: float, names: tuple[str, str]) -> str | None:
    """Why a regularisation set by half does nothing, or None when it is set fully or not at all.

    Args:
        kind: None, "l1" or "l2".
        rate: Its rate.
        names: How the caller calls the two settings, e.g. ("--regularization",
            "--regularization-rate").
    """
    kind_name, rate_name = names
    if kind is not None and rate == 0:
        return (
            f"{kind_name} {kind} does nothing with {rate_name} 0: "
            f"set {rate_name} as well (e.g. 0.003)"
        )
    if kind is None and rate > 0:
        return f"{rate_name} {rate:g} does nothing without {kind_name}: set it to l1 or l2 as well"
    return None


def optimizer_and_rate(
    optimizer: Any, learning_rate: Any, mode: str
) -> tuple[str | fm.optimizers.Optimizer, float]:
    """The optimizer (a name from OPTIMIZERS, or the caller's object) and the learning rate.

    A name comes with `learning_rate` (DEFAULT_LEARNING_RATE when None); an object brings its
    own rate, so `learning_rate` must then be None.
    """
    if isinstance(optimizer, fm.optimizers.Optimizer):
        if learning_rate is not None:
            raise ValueError(
                f"learning_rate={learning_rate!r} with an optimizer object: give the rate to the "
                f"optimizer ({type(optimizer).__name__}(learning_rate=...)) or pass the "
                "optimizer by name, not both"
            )
        return optimizer, float(optimizer.learning_rate)
    if optimizer is None:
        name = DEFAULT_OPTIMIZER[mode]
    elif isinstance(optimizer, str):
        name = choice(optimizer, OPTIMIZERS, "optimizer")
    else:
        raise ValueError(
            f"optimizer must be one of {', '.join(OPTIMIZERS)} or a fastmlp.optimizers.Optimizer, "
            f"got {optimizer!r}"
        )
    rate = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
    return name, number(rate, "learning_rate")


def engine_optimizer(
    optimizer: str | fm.optimizers.Optimizer, learning_rate: float, mode: str
) -> fm.optimizers.Optimizer:
    """The optimizer the model is compiled with.

    In playground mode the engine minimises mean((output - label)²), whose gradient is twice the
    playground's ½·(output - label)²: SGD by name gets half the learning rate, so its steps are
    the playground's exactly. Adam, RMSprop, Adagrad and Adadelta divide the gradient by its
    running size, so the factor 2 cancels (up to their epsilon) and they get the rate as it is.
    An optimizer object is used as it is.
    """
    if not isinstance(optimizer, str):
        return optimizer
    halve = mode == "playground" and optimizer == "sgd"
    return type(fm.optimizers.get(optimizer))(learning_rate / 2 if halve else learning_rate)


def optimizer_description(optimizer: str | fm.optimizers.Optimizer) -> str:
    """A name as it is; an object's name with the settings in which it differs from its class's
    defaults, the learning rate aside (said apart): "sgd (momentum 0.9, nesterov)".

    Two runs with different optimizer settings should not read as the same optimizer.
    """
    if isinstance(optimizer, str):
        return optimizer
    config = optimizer.get_config()
    try:
        defaults = type(optimizer)().get_config()
    except (TypeError, ValueError):  # a subclass without defaults: say every setting set
        defaults = {}
    details = []
    for key, value in config.items():
        if key in ("name", "learning_rate") or value == defaults.get(key, None):
            continue
        if value is True:
            details.append(key)
        elif value is False:
            details.append(f"no {key}")
        elif isinstance(value, numbers.Real):
            details.append(f"{key} {value:g}")
        else:
            details.append(f"{key} {value}")
    return f"{optimizer.name} ({', '.join(details)})" if details else optimizer.name


def _values_text(values: np.ndarray, most: int = 6) -> str:
    shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values[:most].tolist())
    return shown + (", ..." if len(values) > most else "")


def custom_labels(
    y: Any, n_points: int, problem: str | None
) -> tuple[np.ndarray, tuple[Any, Any] | None, str | None]:
    """The targets of a custom dataset's labels, the two classes they stand for, and a note.

    The playground classifies two classes (labels -1 and +1) or fits real targets, so with
    `problem` None:

    - labels in {-1, 1} or {0, 1} are the classes, as they are (0 becomes -1);
    - any other two values (1 and 2, "cat" and "dog", True and False) are the classes too, the
      smaller one -1 (orange) and the larger +1 (blue), with a note that says so;
    - more than two whole numbers are classes the playground cannot draw: a ValueError that
      points to a `Sequential` with a softmax output (or to problem="regression");
    - other numbers are regression targets.

    problem="classification" or "regression" says it instead (no note; whole numbers can then
    be regression targets).

    Returns:
        (targets: ±1 or the real targets, float64 of shape (n,); (label of -1, label of +1) for
        classification, None for regression; the note to warn with, or None).
    """
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != n_points:
        raise ValueError(
            f"dataset: expected one label per point, shape ({n_points},), got shape {labels.shape}"
        )
    numeric = labels.dtype.kind in "biuf"
    if numeric and not np.all(np.isfinite(labels.astype(np.float64))):
        raise ValueError("dataset: the labels must be finite numbers; some are NaN or infinite")
    values = np.unique(labels)
    if problem == "regression" or (problem is None and numeric and not _class_like(values)):
        if not numeric:
            raise ValueError(
                f"dataset: regression needs numbers as targets, got labels of type {labels.dtype}"
            )
        return labels.astype(np.float64), None, None
    if len(values) > 2 and numeric and not _class_like(values):  # problem="classification"
        raise ValueError(
            f"dataset: problem='classification' needs labels of two values, got {len(values)} "
            f"values ({_values_text(values)}); leave problem out, or say 'regression', for real "
            "targets"
        )
    if len(values) > 2:
        fix = (
            " (if they are real targets, not classes, pass problem='regression')"
            if numeric and problem is None
            else ""
        )
        raise ValueError(
            f"dataset: the labels take {len(values)} values ({_values_text(values)}), but the "
            "playground classifies two classes only, as the TensorFlow Playground does"
            f"{fix}. For {len(values)} classes, train a fastmlp.Sequential that ends in "
            f"Dense({len(values)}, activation='softmax') with "
            "loss='sparse_categorical_crossentropy' and draw it with "
            "fastmlp.playground.decision_boundary(model, train=(x, y))"
        )
    found = set(values.astype(np.float64).tolist()) if numeric else set()
    if numeric and (found <= {-1.0, 1.0} or found <= {0.0, 1.0}):  # the usual labels
        classes = (
            tuple(values.tolist()) if len(values) == 2 else ((-1, 1) if -1 in found else (0, 1))
        )
        return np.where(labels > 0, 1.0, -1.0), classes, None
    if len(values) < 2:
        raise ValueError(
            f"dataset: every label is {_values_text(values)}; classification needs two classes"
        )
    low, high = values.tolist()
    note = None
    if problem is None:
        note = (
            f"dataset: labels {low!r} and {high!r} taken as the two classes, {low!r} as -1 "
            f"(orange) and {high!r} as +1 (blue); say problem='classification' to take them so "
            "without this note, or problem='regression' if they are real targets"
        )
    return np.where(labels == values[1], 1.0, -1.0), (low, high), note


def _class_like(values: np.ndarray) -> bool:
    """Labels that look like classes: at most two values, or whole numbers only."""
    return len(values) <= 2 or bool(np.all(values == np.round(values)))
