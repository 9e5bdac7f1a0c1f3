"""Engines behind a model, chosen by its device.

- "cpu": the C++ engine (`cpu.py`, fastmlp._core).
- "gpu" / "cuda" / "gpu:N": `engine.ArrayNetwork` on an NVIDIA GPU through CuPy (`gpu.py`).
- "numpy": the same ArrayNetwork run by NumPy on the CPU: slow, for checking the GPU engine's code
  (its kernels' NumPy twins) on a machine without a GPU.
"""

from __future__ import annotations

from typing import Any

from fastmlp.backend import cpu, gpu
from fastmlp.backend.gpu import GPUUnavailableError

__all__ = ["GPUUnavailableError", "canonical", "cpu", "get", "gpu", "require"]


def canonical(device: Any) -> str:
    """The device's canonical name: "cpu", "numpy" or "gpu:N" ("gpu" and "cuda" mean "gpu:0")."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'gpu', got {device!r}")
    name = device.strip().lower()
    if name in ("cpu", "numpy"):
        return name
    kind, colon, index = name.partition(":")
    if kind in ("gpu", "cuda") and (index.isdigit() or not colon):
        return f"gpu:{int(index or 0)}"
    raise ValueError(
        f"device must be 'cpu', 'gpu' (also 'cuda', 'gpu:1', ...) or 'numpy', got {device!r}"
    )


def require(device: Any) -> str:
    """`canonical(device)`, after checking the device can be used now (GPUUnavailableError if not)."""
    name = canonical(device)
    if name.startswith("gpu:"):
        gpu.check(int(name[4:]))
    return name


def get(device: str = "cpu") -> Any:
    """The engine factory for a canonical device name: has make_network(input_dim, specs, seed, dtype)."""
    name = canonical(device)
    if name == "cpu":
        return cpu
    if name == "numpy":
        return gpu.NumpyDevice()
    return gpu.CudaDevice(int(name[4:]))
