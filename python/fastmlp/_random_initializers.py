"""Initializers that draw random numbers, each with its own ``seed`` or the model's ``rng``.

RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling and its Glorot, He and LeCun
presets. They are public as ``fastmlp.initializers.X``; the base class and the shape and dtype rules are
in _initializer_base.py.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from fastmlp._initializer_base import Initializer, _normalize_shape, _resolve_dtype, compute_fans

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it makes the
# truncated draw have the intended stddev (Keras, random_initializers.py).
_TRUNCATED_STDDEV = 0.87962566103423978


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


def _default_axes(owner: str, input_axes: Any, output_axes: Any) -> None:
    if input_axes is not None or output_axes is not None:
        raise NotImplementedError(
            f"{owner}: input_axes and output_axes are not supported (a Dense kernel's fans are "
            f"its rows and columns), got {input_axes!r} and {output_axes!r}"
        )


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
        input_axes, output_axes: Keras 3's axes for the fans of higher-rank kernels; only
            ``None`` (a Dense kernel's rows and columns), as Keras's configs write it.

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
        input_axes: Any = None,
        output_axes: Any = None,
    ) -> None:
        _default_axes(type(self).__name__, input_axes, output_axes)
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

    def __init__(
        self, seed: int | None = None, input_axes: Any = None, output_axes: Any = None
    ) -> None:
        _default_axes(type(self).__name__, input_axes, output_axes)
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
