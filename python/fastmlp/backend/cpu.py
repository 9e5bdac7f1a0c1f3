"""The CPU engine: `fastmlp._core`'s C++ network, in float32 or float64.

Products run through the GEMM of NumPy's own OpenBLAS when NumPy ships one (no new dependency;
about 1.5x Eigen's speed on AVX2), else through Eigen. `FASTMLP_BLAS` chooses: unset or "numpy"
(default), "eigen" (never BLAS), or the path of a shared library with cblas_sgemm / cblas_dgemm.
"""

from __future__ import annotations

import glob
import os
from typing import Any

import numpy as np

from fastmlp import _core


def numpy_blas_path() -> str | None:
    """The OpenBLAS shared library bundled with NumPy's wheels, if there is one."""
    package = os.path.dirname(np.__file__)
    for pattern in (
        os.path.join(os.path.dirname(package), "numpy.libs", "*openblas*"),  # Linux, Windows wheels
        os.path.join(package, ".dylibs", "*openblas*"),  # macOS wheels
    ):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def configure_blas(choice: str | None = None) -> str:
    """Pick the GEMM the engine uses; returns a description ("eigen" when none is loaded)."""
    choice = os.environ.get("FASTMLP_BLAS", "numpy") if choice is None else choice
    if choice.lower() in ("", "0", "eigen", "none", "off"):
        return _core.load_blas("")
    if choice.lower() in ("numpy", "auto", "1"):
        path = numpy_blas_path()
        if path is None:
            return _core.load_blas("")
        try:
            return _core.load_blas(path)
        except RuntimeError:  # an unexpected build of NumPy: Eigen computes everything
            return _core.load_blas("")
    return _core.load_blas(choice)  # an explicit path: a failure is the user's to see


BLAS = configure_blas()


def make_network(input_dim: int, specs: list[Any], seed: int, dtype: np.dtype) -> Any:
    """A C++ network for these layer specs; its parameters start at zero."""
    cls = _core.NetworkF64 if np.dtype(dtype) == np.float64 else _core.NetworkF32
    return cls(int(input_dim), specs, int(seed) & (2**64 - 1))
