"""The GPU engine's devices: an NVIDIA GPU through CuPy, and NumPy standing in for one.

CuPy is imported only here and only when a GPU is asked for, so that everything else works
without it. `pip install "fastmlp[gpu]"` installs `cupy-cuda12x`, `"fastmlp[gpu-cuda13]"`
`cupy-cuda13x` (for CUDA 13 drivers).
"""

from __future__ import annotations

import functools
from typing import Any

from fastmlp.backend.engine import ArrayNetwork

INSTALL_HINT = 'pip install "fastmlp[gpu]" (CuPy for CUDA 12 with its libraries; for CUDA 13: "fastmlp[gpu-cuda13]")'


class GPUUnavailableError(RuntimeError):
    """A GPU was asked for but cannot be used here; the message says what is missing."""


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[Any, int, str | None]:
    """(cupy or None, number of GPUs, why none can be used or None)."""
    try:
        import cupy
    except ImportError as error:
        return None, 0, f"CuPy is not installed ({error}); {INSTALL_HINT}"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except cupy.cuda.runtime.CUDARuntimeError as error:  # no driver, driver too old, no device
        return (
            cupy,
            0,
            f"CuPy {cupy.__version__} is installed but found no usable CUDA GPU: {error}",
        )
    if count == 0:
        return cupy, 0, f"CuPy {cupy.__version__} is installed but this machine has no CUDA GPU"
    return cupy, count, None


def unavailable_reason() -> str | None:
    """Why no GPU can be used here (CuPy missing, no driver, no device), or None if one can."""
    return _probe()[2]


def is_available() -> bool:
    """Whether `device="gpu"` can be used on this machine."""
    return unavailable_reason() is None


def check(index: int = 0) -> None:
    """Raise GPUUnavailableError unless GPU number `index` can be used."""
    _, count, reason = _probe()
    if reason is not None:
        raise GPUUnavailableError(f"device='gpu' cannot be used: {reason}")
    if index >= count:
        raise GPUUnavailableError(
            f"device='gpu:{index}' does not exist: this machine has {count} GPU(s) (gpu:0 to gpu:{count - 1})"
        )


class NumpyDevice:
    """The GPU engine's code with NumPy arrays and the kernels' NumPy twins, on the CPU."""

    name = "numpy"

    def make_network(self, input_dim: int, specs: list[Any], seed: int, dtype: Any) -> ArrayNetwork:
        from fastmlp.backend._reference import ReferenceOps

        return ArrayNetwork(input_dim, specs, seed, dtype, ReferenceOps())


class CudaDevice:
    """GPU number `index` through CuPy: cuBLAS products and fastmlp's kernels (kernels.cu)."""

    def __init__(self, index: int = 0) -> None:
        check(index)
        self.index = index
        self.name = f"gpu:{index}"

    def make_network(self, input_dim: int, specs: list[Any], seed: int, dtype: Any) -> ArrayNetwork:
        from fastmlp.backend._cuda import CudaOps

        return ArrayNetwork(input_dim, specs, seed, dtype, CudaOps(self.index, dtype))
