"""The CPU engine: `fastmlp._core`'s C++ network, in float32 or float64."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlp import _core


def make_network(input_dim: int, specs: list[Any], seed: int, dtype: np.dtype) -> Any:
    """A C++ network for these layer specs; its parameters start at zero."""
    cls = _core.NetworkF64 if np.dtype(dtype) == np.float64 else _core.NetworkF32
    return cls(int(input_dim), specs, int(seed) & (2**64 - 1))
