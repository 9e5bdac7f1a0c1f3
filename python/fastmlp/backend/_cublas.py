"""cuBLAS called directly (through ctypes) on a handle and workspace of a model's own, so that
the GPU engine's products can be captured in a CUDA graph: `DirectGemm`, used by `CudaOps`
(_cuda.py), and the handles of collected models, destroyed when no capture is under way.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import weakref
from typing import Any

import cupy
import numpy as np

WORKSPACE_BYTES = 32 << 20  # cuBLAS's recommendation for Hopper; also enough for older GPUs


@functools.cache
def _cublas_library() -> ctypes.CDLL:
    """The cuBLAS that CuPy loaded (found in /proc/self/maps; else by name)."""
    cupy.cuda.device.get_cublas_handle()  # CuPy loads its cuBLAS
    path = None
    with contextlib.suppress(OSError), open("/proc/self/maps") as maps:
        for line in maps:
            name = line.rsplit("/", 1)[-1].strip()
            if name.startswith("libcublas.so"):
                path = line[line.index("/") :].strip()
                break
    path = path or ctypes.util.find_library("cublas")
    if path is None:
        raise OSError("cuBLAS library not found in this process")
    lib = ctypes.CDLL(path)
    pointer, integer = ctypes.c_void_p, ctypes.c_int
    gemm = [pointer, integer, integer, integer, integer, integer, pointer, pointer, integer,
            pointer, integer, pointer, pointer, integer]  # fmt: skip
    for name, args in (
        ("cublasSgemm_v2", gemm), ("cublasDgemm_v2", gemm), ("cublasCreate_v2", [pointer]),
        ("cublasDestroy_v2", [pointer]), ("cublasSetStream_v2", [pointer, pointer]),
        ("cublasSetWorkspace_v2", [pointer, pointer, ctypes.c_size_t]),
    ):  # fmt: skip
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, integer
    return lib


_RETIRED: list[tuple[Any, Any]] = []  # (handle, workspace) of collected models


def _retire(handle: Any, workspace: Any) -> None:
    """A collected model's handle is destroyed later, by destroy_retired(): cublasDestroy
    synchronizes the device, which would end another model's graph capture under way."""
    _RETIRED.append((handle, workspace))


def destroy_retired() -> None:
    """Destroy the handles of collected models (called where no capture is under way)."""
    while _RETIRED:
        handle, _workspace = _RETIRED.pop()
        _cublas_library().cublasDestroy_v2(handle)


class DirectGemm:
    """Row-major products through cuBLAS called directly, on a handle of this model's own.

    CuPy's cuBLAS wrappers refuse every call while a stream is being captured; cuBLAS itself
    supports capture when the handle has a workspace of its own, so that no call allocates
    (cuBLAS documentation, "CUDA Graphs Support"). The handle is bound once to the model's stream.
    """

    def __init__(self, stream: cupy.cuda.Stream, dtype: Any) -> None:
        lib = _cublas_library()
        destroy_retired()
        handle = ctypes.c_void_p()
        self._check(lib.cublasCreate_v2(ctypes.byref(handle)), "cublasCreate")
        self.workspace = cupy.empty(WORKSPACE_BYTES, dtype=np.uint8)
        weakref.finalize(self, _retire, handle, self.workspace)  # the handle before its workspace
        self._check(lib.cublasSetStream_v2(handle, ctypes.c_void_p(stream.ptr)), "cublasSetStream")
        self._check(
            lib.cublasSetWorkspace_v2(
                handle, ctypes.c_void_p(self.workspace.data.ptr), ctypes.c_size_t(WORKSPACE_BYTES)
            ),
            "cublasSetWorkspace",
        )
        single = np.dtype(dtype) == np.float32
        self.handle = handle
        self.fn = lib.cublasSgemm_v2 if single else lib.cublasDgemm_v2
        scalar = ctypes.c_float if single else ctypes.c_double
        self.one, self.zero = scalar(1.0), scalar(0.0)  # host scalars: read when the call is made

    @staticmethod
    def _check(status: int, what: str) -> None:
        if status != 0:
            raise RuntimeError(f"{what} failed with cuBLAS status {status}")

    def __call__(self, a, b, out, ta: bool = False, tb: bool = False) -> None:
        """out = op(a) @ op(b) for C-contiguous a, b, out: as column-major, outᵀ = op(b)ᵀ op(a)ᵀ."""
        m, n = out.shape
        k = a.shape[0] if ta else a.shape[1]
        status = self.fn(
            self.handle, int(tb), int(ta), n, m, k, ctypes.byref(self.one), b.data.ptr, b.shape[1],
            a.data.ptr, a.shape[1], ctypes.byref(self.zero), out.data.ptr, n,
        )  # fmt: skip
        if status != 0:
            self._check(status, "cublasGemm")
