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

MODES = ("playground", "modern")
INITS = ("playground", "glorot", "zeros")


class RegularizationWarning(UserWarning):
    """Only half of the regularisation is set (its kind or its rate), so it does nothing."""


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
