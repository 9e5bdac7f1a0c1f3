"""Weight initializers with Keras 3 names, arguments and defaults, in NumPy.

An initializer is called as ``init(shape, dtype=None, rng=None)`` and returns a NumPy array.
Randomness comes from, in order: the initializer's own ``seed`` (a fresh
``np.random.default_rng(seed)`` on every call, so a seeded initializer always gives the same
array), the ``rng`` the model passes (one seeded ``np.random.Generator`` per model), or a fresh
unseeded generator.

This module holds the constant initializers and the registry (``get``, ``serialize``,
``deserialize``); the base class is in _initializer_base.py and the random initializers in
_random_initializers.py, all public from here.

Example:
    >>> init = get("glorot_uniform")
    >>> init((784, 128), rng=np.random.default_rng(0)).shape
    (784, 128)
"""

from __future__ import annotations

import difflib
from typing import Any, Callable

import numpy as np

from fastmlp import _registry
from fastmlp._initializer_base import Initializer, _normalize_shape, _resolve_dtype, compute_fans
from fastmlp._random_initializers import (
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
)


class Zeros(Initializer):
    """Fills with 0."""

    def __call__(self, shape, dtype=None, rng=None) -> np.ndarray:
        return np.zeros(_normalize_shape(shape), dtype=_resolve_dtype(dtype, "Zeros", False))


class Ones(Initializer):
    """Fills with 1."""

    def __call__(self, shape, dtype=None, rng=None) -> np.ndarray:
        return np.ones(_normalize_shape(shape), dtype=_resolve_dtype(dtype, "Ones", False))


class Constant(Initializer):
    """Fills with a constant scalar.

    Args:
        value: The scalar to fill with. Defaults to ``0.0``.
    """

    def __init__(self, value: float = 0.0) -> None:
        if np.ndim(value) != 0:
            raise ValueError(f"Constant: `value` must be a scalar. Received: value={value!r}")
        self.value = float(value)

    def __call__(self, shape, dtype=None, rng=None) -> np.ndarray:
        dt = _resolve_dtype(dtype, "Constant", False)
        return np.full(_normalize_shape(shape), self.value, dtype=dt)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class _FunctionInitializer(Initializer):
    """Wraps a plain function ``f(shape, dtype=None)`` so it is called like an Initializer."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, shape, dtype=None, rng=None) -> np.ndarray:
        dims = _normalize_shape(shape)
        dt = _resolve_dtype(dtype, "initializer function", False)
        values = np.asarray(self.fn(dims, dtype=dt), dtype=dt)
        if values.shape != dims:
            raise ValueError(
                f"Initializer function {self._name()} returned shape {values.shape}, "
                f"expected {dims}."
            )
        return values

    def _name(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"Initializer function {self._name()} cannot be serialized; subclass "
            "fastmlp.initializers.Initializer and implement get_config() instead."
        )

    def __repr__(self) -> str:
        return f"_FunctionInitializer({self._name()})"


# Keras exports each class under a snake_case alias as well.
zeros = Zeros
ones = Ones
constant = Constant
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_uniform = HeUniform
he_normal = HeNormal
lecun_uniform = LecunUniform
lecun_normal = LecunNormal

_SNAKE_NAMES: dict[str, type[Initializer]] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
}
_BY_NAME: dict[str, type[Initializer]] = {
    **_SNAKE_NAMES,
    **{cls.__name__: cls for cls in _SNAKE_NAMES.values()},
    # Short aliases Keras also accepts.
    "uniform": RandomUniform,
    "normal": RandomNormal,
    "one": Ones,
    "zero": Zeros,
}


def _lookup(name: str, custom_objects: dict[str, Any] | None) -> type[Initializer]:
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _BY_NAME:
        return _BY_NAME[name]
    close = difflib.get_close_matches(name, list(_BY_NAME), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(
        f"Unknown initializer '{name}'. Expected one of: {', '.join(_SNAKE_NAMES)} "
        f"(or the class names, e.g. 'GlorotUniform').{hint}"
    )


def serialize(initializer: Initializer) -> dict[str, Any]:
    """Returns ``{"class_name": ..., "config": ...}`` for an initializer.

    Args:
        initializer: The initializer to describe.

    Example:
        >>> serialize(HeNormal(seed=1))
        {'class_name': 'HeNormal', 'config': {'seed': 1}}
    """
    if not isinstance(initializer, Initializer):
        raise TypeError(
            f"serialize() expects an Initializer. Received: {type(initializer).__name__}"
        )
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(
    config: dict[str, Any] | str, custom_objects: dict[str, Any] | None = None
) -> Initializer:
    """Builds an initializer from ``serialize()``'s output (or from a name).

    Args:
        config: A dict ``{"class_name": ..., "config": {...}}`` (extra keys such as Keras's
            ``"module"`` are ignored) or a name such as ``"he_normal"``.
        custom_objects: Extra ``{name: class}`` entries looked up first. Defaults to ``None``.
    """
    return _registry.from_config(
        config, lambda name: _lookup(name, custom_objects), "an initializer"
    )


def get(identifier: Any) -> Initializer | None:
    """Turns a name, config dict, class, instance or function into an Initializer.

    Args:
        identifier: ``None`` (returned as is), an ``Initializer`` (returned as is), a name
            such as ``"glorot_uniform"`` or ``"GlorotUniform"``, a dict from ``serialize()``,
            an ``Initializer`` subclass (instantiated with defaults), or a function
            ``f(shape, dtype=None)`` returning an array.

    Example:
        >>> get("he_normal")
        HeNormal(seed=None)
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type):
        if issubclass(identifier, Initializer):
            return identifier()
    elif callable(identifier):
        return _FunctionInitializer(identifier)
    raise TypeError(
        f"Could not interpret initializer identifier: {identifier!r} "
        f"({type(identifier).__name__}). `identifier` must be None, an Initializer, a config "
        f"dict, a function f(shape, dtype=None), or one of: {', '.join(_SNAKE_NAMES)}."
    )


__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "constant",
    "deserialize",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "random_normal",
    "random_uniform",
    "serialize",
    "truncated_normal",
    "variance_scaling",
    "zeros",
]
