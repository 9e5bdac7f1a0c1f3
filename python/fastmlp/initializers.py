"""Weight initializers with Keras 3 names, arguments and defaults, in NumPy.

An initializer is called as ``init(shape, dtype=None, rng=None)`` and returns a NumPy array.
Randomness comes from, in order: the initializer's own ``seed`` (a fresh
``np.random.default_rng(seed)`` on every call, so a seeded initializer always gives the same
array), the ``rng`` the model passes (one seeded ``np.random.Generator`` per model), or a fresh
unseeded generator.

Example:
    >>> init = get("glorot_uniform")
    >>> init((784, 128), rng=np.random.default_rng(0)).shape
    (784, 128)
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

from fastmlp import _registry

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it makes the
# truncated draw have the intended stddev (Keras, random_initializers.py).
_TRUNCATED_STDDEV = 0.87962566103423978


def _normalize_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(
            f"`shape` must be an int or a sequence of ints. Received: shape={shape!r}"
        ) from None
    if any(d < 0 for d in dims):
        raise ValueError(f"`shape` must not have negative dimensions. Received: shape={dims}")
    return dims


def _resolve_dtype(dtype: npt.DTypeLike | None, who: str, floating: bool) -> np.dtype:
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if floating and dt.kind != "f":
        raise ValueError(
            f"{who} draws random floats, so `dtype` must be a floating dtype such as "
            f"'float32' or 'float64'. Received: dtype={dt}"
        )
    return dt


def _validate_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be None or a non-negative integer. Received: seed={seed!r}")
    return int(seed)


def _validate_finite(value: Any, name: str, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{who}: `{name}` must be a finite number. Received: {name}={value!r}")
    return float(value)


def compute_fans(shape: int | Sequence[int]) -> tuple[int, int]:
    """Returns ``(fan_in, fan_out)`` for a weight shape, as Keras does.

    A 2-D kernel ``(in, out)`` gives ``(in, out)``; a 1-D shape ``(n,)`` gives ``(n, n)``; a
    scalar gives ``(1, 1)``; higher ranks are convolution kernels ``(..., in, out)`` whose
    leading dimensions multiply both fans.

    Args:
        shape: The weight shape.
    """
    dims = _normalize_shape(shape)
    if len(dims) == 0:
        return 1, 1
    if len(dims) == 1:
        return dims[0], dims[0]
    receptive_field = math.prod(dims[:-2])
    return dims[-2] * receptive_field, dims[-1] * receptive_field


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None, rng=None)``.

    A subclass written for Keras, ``__call__(self, shape, dtype=None)``, also works: the
    ``rng`` argument is accepted and ignored for it.

    Example:
        >>> class Halves(Initializer):
        ...     def __call__(self, shape, dtype=None, rng=None):
        ...         return np.full(shape, 0.5, dtype=dtype or "float32")
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is None:
            return
        params = inspect.signature(call).parameters
        if "rng" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return

        @functools.wraps(call)
        def call_ignoring_rng(self, shape, dtype=None, rng=None):
            return call(self, shape, dtype=dtype)

        cls.__call__ = call_ignoring_rng

    def __call__(
        self,
        shape: int | Sequence[int],
        dtype: npt.DTypeLike | None = None,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Returns an array of ``shape`` and ``dtype`` (float32 when None)."""
        raise NotImplementedError("Initializer subclasses must implement `__call__()`.")

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-serializable dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """Creates an initializer from the output of ``get_config()``."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


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


class _RandomInitializer(Initializer):
    """Holds the ``seed`` and picks the generator: own seed, then ``rng``, then fresh."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = _validate_seed(seed)

    def _generator(self, rng: np.random.Generator | None) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng(self.seed)
        if rng is None:
            return np.random.default_rng()
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"`rng` must be a numpy.random.Generator or None. Received: {type(rng).__name__}"
            )
        return rng

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


def _truncated_normal(
    gen: np.random.Generator, shape: tuple[int, ...], mean: float, stddev: float
) -> np.ndarray:
    # Redraw every sample beyond 2 standard deviations, as keras.random.truncated_normal.
    z = gen.standard_normal(shape)
    outside = np.abs(z) > 2.0
    while outside.any():
        z[outside] = gen.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2.0
    return mean + stddev * z


class _Normal(_RandomInitializer):
    """Shared body of RandomNormal and TruncatedNormal."""

    _truncated = False

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean = _validate_finite(mean, "mean", type(self).__name__)
        self.stddev = _validate_finite(stddev, "stddev", type(self).__name__)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None, rng=None) -> np.ndarray:
        dt = _resolve_dtype(dtype, type(self).__name__, True)
        dims, gen = _normalize_shape(shape), self._generator(rng)
        if self._truncated:
            values = _truncated_normal(gen, dims, self.mean, self.stddev)
        else:
            values = gen.normal(self.mean, self.stddev, dims)
        return values.astype(dt, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomNormal(_Normal):
    """Draws from a normal distribution.

    Args:
        mean: Mean of the values. Defaults to ``0.0``.
        stddev: Standard deviation of the values. Defaults to ``0.05``.
        seed: Makes the initializer deterministic on its own. Defaults to ``None``.
    """


class TruncatedNormal(_Normal):
    """Draws from a normal distribution, redrawing values more than 2 ``stddev`` from the mean.

    Args:
        mean: Mean of the untruncated distribution. Defaults to ``0.0``.
        stddev: Standard deviation of the untruncated distribution. Defaults to ``0.05``.
        seed: Makes the initializer deterministic on its own. Defaults to ``None``.
    """

    _truncated = True


class RandomUniform(_RandomInitializer):
    """Draws from a uniform distribution on ``[minval, maxval)``.

    Args:
        minval: Lower bound (inclusive). Defaults to ``-0.05``.
        maxval: Upper bound (exclusive). Defaults to ``0.05``.
        seed: Makes the initializer deterministic on its own. Defaults to ``None``.
    """

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        self.minval = _validate_finite(minval, "minval", "RandomUniform")
        self.maxval = _validate_finite(maxval, "maxval", "RandomUniform")
        if self.minval > self.maxval:
            raise ValueError(
                f"RandomUniform: `minval` must not exceed `maxval`. "
                f"Received: minval={minval}, maxval={maxval}"
            )
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None, rng=None) -> np.ndarray:
        dt = _resolve_dtype(dtype, "RandomUniform", True)
        values = self._generator(rng).uniform(self.minval, self.maxval, _normalize_shape(shape))
        return values.astype(dt, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(_RandomInitializer):
    """Draws with a variance of ``scale / n``, where ``n`` depends on the weight shape.

    ``n`` is ``fan_in``, ``fan_out`` or their mean (``mode``). ``"truncated_normal"`` uses
    ``stddev = sqrt(scale / n) / 0.8796...`` truncated at 2 stddev (so the result has stddev
    ``sqrt(scale / n)``), ``"untruncated_normal"`` uses ``stddev = sqrt(scale / n)``, and
    ``"uniform"`` uses ``[-limit, limit]`` with ``limit = sqrt(3 * scale / n)``.

    Args:
        scale: Positive scaling factor. Defaults to ``1.0``.
        mode: One of ``"fan_in"``, ``"fan_out"``, ``"fan_avg"``. Defaults to ``"fan_in"``.
        distribution: One of ``"truncated_normal"`` (alias ``"normal"``),
            ``"untruncated_normal"``, ``"uniform"``. Defaults to ``"truncated_normal"``.
        seed: Makes the initializer deterministic on its own. Defaults to ``None``.

    Example:
        >>> VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform")  # He uniform
        VarianceScaling(seed=None, scale=2.0, mode='fan_in', distribution='uniform')
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        scale = _validate_finite(scale, "scale", type(self).__name__)
        if scale <= 0.0:
            raise ValueError(f"`scale` must be a positive float. Received: scale={scale}")
        if mode not in self._MODES:
            raise ValueError(f"`mode` must be one of {self._MODES}. Received: mode={mode!r}")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in self._DISTRIBUTIONS:
            raise ValueError(
                f"`distribution` must be one of {self._DISTRIBUTIONS}. "
                f"Received: distribution={distribution!r}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = dist
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None, rng=None) -> np.ndarray:
        dt = _resolve_dtype(dtype, type(self).__name__, True)
        dims = _normalize_shape(shape)
        fan_in, fan_out = compute_fans(dims)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        gen = self._generator(rng)
        if self.distribution == "truncated_normal":
            values = _truncated_normal(gen, dims, 0.0, math.sqrt(variance) / _TRUNCATED_STDDEV)
        elif self.distribution == "untruncated_normal":
            values = gen.normal(0.0, math.sqrt(variance), dims)
        else:
            limit = math.sqrt(3.0 * variance)
            values = gen.uniform(-limit, limit, dims)
        return values.astype(dt, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling preset whose only argument is ``seed`` (Glorot, He, LeCun)."""

    _PRESET: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed: int | None = None) -> None:
        scale, mode, distribution = self._PRESET
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: ``U[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    Args:
        seed: Makes the initializer deterministic on its own. Defaults to ``None``.
    """

    _PRESET = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal, ``stddev = sqrt(2 / (fan_in + fan_out))``.

    Args:
        seed: Makes the initializer deterministic on its own. Defaults to ``None``.
    """

    _PRESET = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """He uniform: ``U[-limit, limit]``, ``limit = sqrt(6 / fan_in)``.

    Args:
        seed: Makes the initializer deterministic on its own. Defaults to ``None``.
    """

    _PRESET = (2.0, "fan_in", "uniform")


class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal, ``stddev = sqrt(2 / fan_in)``.

    Args:
        seed: Makes the initializer deterministic on its own. Defaults to ``None``.
    """

    _PRESET = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: ``U[-limit, limit]``, ``limit = sqrt(3 / fan_in)``.

    Args:
        seed: Makes the initializer deterministic on its own. Defaults to ``None``.
    """

    _PRESET = (1.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal, ``stddev = sqrt(1 / fan_in)``.

    Args:
        seed: Makes the initializer deterministic on its own. Defaults to ``None``.
    """

    _PRESET = (1.0, "fan_in", "truncated_normal")


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
