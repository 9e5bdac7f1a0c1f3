"""The Initializer base class and the shape and dtype rules every initializer follows.

The initializers themselves are public as ``fastmlp.initializers.X``: the constant ones and the
registry (``get``, ``serialize``, ``deserialize``) in initializers.py, the random ones in
_random_initializers.py.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


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
