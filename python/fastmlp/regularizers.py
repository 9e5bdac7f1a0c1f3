"""Weight regularizers with Keras 3 names, arguments and defaults, in NumPy.

A regularizer maps a weight array ``w`` to a penalty added to the loss:
``l1 * sum(|w|) + l2 * sum(w**2)`` (Keras's L2 has no factor 1/2). The C++ engine applies
the penalty itself, as the gradient term ``l1 * sign(w) + 2 * l2 * w``, so a regularizer the
engine can use must reduce to the pair ``coefficients() -> (l1, l2)``.

Example:
    >>> reg = get("l2")
    >>> reg(np.ones((2, 2)))
    0.04
    >>> reg.coefficients()
    (0.0, 0.01)
"""

from __future__ import annotations

import difflib
import math
import numbers
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

from fastmlp import _registry


def _validate_coefficient(value: Any, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a finite, non-negative float. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _penalty(x: npt.ArrayLike, l1: float, l2: float) -> float:
    # Terms with a zero coefficient are skipped, as in Keras, so 0 * inf never makes a NaN.
    w = np.asarray(x, dtype=np.float64)
    total = 0.0
    if l1:
        total += l1 * float(np.sum(np.abs(w)))
    if l2:
        total += l2 * float(np.sum(np.square(w)))
    return total


class Regularizer:
    """Base class: subclasses implement ``__call__(x) -> float`` and ``get_config()``.

    fastmlp's engine computes penalties itself, so it can only use regularizers that override
    ``coefficients()`` to return ``(l1, l2)``; for any other the model raises a clear error.
    """

    def __call__(self, x: npt.ArrayLike) -> float:
        """Returns the penalty for the weight array ``x``."""
        return 0.0

    def coefficients(self) -> tuple[float, float]:
        """Returns ``(l1, l2)`` such that the penalty is ``l1*sum|x| + l2*sum(x**2)``.

        Raises:
            NotImplementedError: the penalty is not of that form.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not reduce to an L1/L2 penalty "
            "l1*sum(|w|) + l2*sum(w**2), which is the only kind fastmlp's engine applies; "
            "use L1, L2 or L1L2, or override coefficients() to return (l1, l2)."
        )

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-serializable dict."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config().")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        """Creates a regularizer from the output of ``get_config()``."""
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = "..."
        return f"{type(self).__name__}({args})"

    def _checked_coefficients(self, owner: type, l1: float, l2: float) -> tuple[float, float]:
        # A subclass that changes the penalty but not coefficients() must not be mistaken
        # for its parent: the engine would apply the parent's penalty instead.
        if type(self).__call__ is not owner.__call__:
            return Regularizer.coefficients(self)
        return l1, l2


class L1L2(Regularizer):
    """Applies ``l1 * sum(|x|) + l2 * sum(x**2)``.

    Args:
        l1: L1 factor; ``None`` means 0. Defaults to ``0.0``.
        l2: L2 factor; ``None`` means 0. Defaults to ``0.0``.

    Example:
        >>> L1L2(l1=0.5, l2=0.25)(np.array([1.0, -2.0]))  # 0.5 * 3 + 0.25 * 5
        2.75
    """

    def __init__(self, l1: float | None = 0.0, l2: float | None = 0.0) -> None:
        self.l1 = _validate_coefficient(0.0 if l1 is None else l1, "l1")
        self.l2 = _validate_coefficient(0.0 if l2 is None else l2, "l2")

    def __call__(self, x: npt.ArrayLike) -> float:
        return _penalty(x, self.l1, self.l2)

    def coefficients(self) -> tuple[float, float]:
        return self._checked_coefficients(L1L2, self.l1, self.l2)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """Applies ``l1 * sum(|x|)``.

    Args:
        l1: L1 factor; ``None`` means the default. Defaults to ``0.01``.
    """

    def __init__(self, l1: float | None = 0.01) -> None:
        self.l1 = _validate_coefficient(0.01 if l1 is None else l1, "l1")

    def __call__(self, x: npt.ArrayLike) -> float:
        return _penalty(x, self.l1, 0.0)

    def coefficients(self) -> tuple[float, float]:
        return self._checked_coefficients(L1, self.l1, 0.0)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """Applies ``l2 * sum(x**2)`` (no factor 1/2, as in Keras).

    Args:
        l2: L2 factor; ``None`` means the default. Defaults to ``0.01``.
    """

    def __init__(self, l2: float | None = 0.01) -> None:
        self.l2 = _validate_coefficient(0.01 if l2 is None else l2, "l2")

    def __call__(self, x: npt.ArrayLike) -> float:
        return _penalty(x, 0.0, self.l2)

    def coefficients(self) -> tuple[float, float]:
        return self._checked_coefficients(L2, 0.0, self.l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


class _FunctionRegularizer(Regularizer):
    """Wraps a plain function ``f(x) -> float`` so it is called like a Regularizer."""

    def __init__(self, fn: Callable[[np.ndarray], Any]) -> None:
        self.fn = fn

    def __call__(self, x: npt.ArrayLike) -> float:
        return float(self.fn(x))

    def _name(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"Regularizer function {self._name()} cannot be serialized; subclass "
            "fastmlp.regularizers.Regularizer and implement get_config() instead."
        )

    def __repr__(self) -> str:
        return f"_FunctionRegularizer({self._name()})"


# Keras's snake_case aliases.
l1 = L1
l2 = L2


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Returns ``L1L2(l1, l2)`` with both factors defaulting to 0.01 (the string ``"l1_l2"``).

    Args:
        l1: L1 factor. Defaults to ``0.01``.
        l2: L2 factor. Defaults to ``0.01``.
    """
    return L1L2(l1=l1, l2=l2)


_BY_NAME: dict[str, Callable[[], Regularizer]] = {
    "l1": L1,
    "l2": L2,
    "l1_l2": l1_l2,
    "L1": L1,
    "L2": L2,
    "L1L2": L1L2,
}


def _lookup(name: str, custom_objects: dict[str, Any] | None) -> Callable[..., Regularizer]:
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _BY_NAME:
        return _BY_NAME[name]
    close = difflib.get_close_matches(name, list(_BY_NAME), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"Unknown regularizer '{name}'. Expected one of: {', '.join(_BY_NAME)}.{hint}")


def serialize(regularizer: Regularizer) -> dict[str, Any]:
    """Returns ``{"class_name": ..., "config": ...}`` for a regularizer.

    Args:
        regularizer: The regularizer to describe.

    Example:
        >>> serialize(L2(0.001))
        {'class_name': 'L2', 'config': {'l2': 0.001}}
    """
    if not isinstance(regularizer, Regularizer):
        raise TypeError(
            f"serialize() expects a Regularizer. Received: {type(regularizer).__name__}"
        )
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(
    config: dict[str, Any] | str, custom_objects: dict[str, Any] | None = None
) -> Regularizer:
    """Builds a regularizer from ``serialize()``'s output (or from a name).

    Args:
        config: A dict ``{"class_name": ..., "config": {...}}`` (extra keys such as Keras's
            ``"module"`` are ignored) or a name such as ``"l2"``.
        custom_objects: Extra ``{name: class}`` entries looked up first. Defaults to ``None``.
    """
    return _registry.from_config(
        config, lambda name: _lookup(name, custom_objects), "a regularizer"
    )


def get(identifier: Any) -> Regularizer | None:
    """Turns a name, config dict, class, instance or function into a Regularizer.

    Args:
        identifier: ``None`` (returned as is), a ``Regularizer`` (returned as is), a name
            (``"l1"``, ``"l2"``, ``"l1_l2"`` give default factors 0.01; ``"L1L2"`` gives
            ``L1L2()``, i.e. zeros), a dict from ``serialize()``, a ``Regularizer`` subclass
            (instantiated with defaults), or a function ``f(x) -> float``.

    Example:
        >>> get("l1_l2").coefficients()
        (0.01, 0.01)
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type):
        if issubclass(identifier, Regularizer):
            return identifier()
    elif callable(identifier):
        return _FunctionRegularizer(identifier)
    raise TypeError(
        f"Could not interpret regularizer identifier: {identifier!r} "
        f"({type(identifier).__name__}). `identifier` must be None, a Regularizer, a config "
        f"dict, a function f(x) -> float, or one of: {', '.join(_BY_NAME)}."
    )
