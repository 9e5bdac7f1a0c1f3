"""Global settings: the default float type, the default device and the seed source for new models."""

from __future__ import annotations

import numpy as np

__all__ = [
    "clear_session",
    "floatx",
    "get_device",
    "get_num_threads",
    "get_sparse_inputs",
    "set_device",
    "set_floatx",
    "set_num_threads",
    "set_sparse_inputs",
]

_FLOATX = "float32"
_DEVICE = "cpu"
_seed_source: np.random.Generator | None = None


def floatx() -> str:
    """The default float type of new models: "float32" (default) or "float64"."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type of new models.

    Args:
        value: "float32" or "float64".
    """
    global _FLOATX
    if value not in ("float32", "float64"):
        raise ValueError(f"floatx must be 'float32' or 'float64', got {value!r}")
    _FLOATX = value


def get_device() -> str:
    """The device of new models: "cpu" (default), "gpu:N" or "numpy"."""
    return _DEVICE


def set_device(device: str) -> None:
    """Set the device new models run on (existing ones move with `model.to(device)`).

    Args:
        device: "cpu"; "gpu" (= "cuda" = "gpu:0") or "gpu:N" for an NVIDIA GPU through CuPy
            (`pip install "fastmlp[gpu]"`); or "numpy", the GPU engine's code run by NumPy
            (slow; for checking it without a GPU).

    Raises:
        fastmlp.backend.GPUUnavailableError: a GPU was asked for and CuPy or the GPU is missing.
    """
    global _DEVICE
    from fastmlp import backend

    _DEVICE = backend.require(device)


def set_seed_source(seed: int | None) -> None:
    """Seed the generator that gives each new model (and initializer) its seed (internal)."""
    global _seed_source
    _seed_source = None if seed is None else np.random.default_rng(seed)


def next_seed() -> int:
    """A seed for a new model: from `utils.set_random_seed`'s generator, else from the OS."""
    source = _seed_source if _seed_source is not None else np.random.default_rng()
    return int(source.integers(0, 2**63 - 1))


def set_num_threads(threads: int) -> None:
    """Most threads the engine uses for large batches; smaller batches use one (below 32 samples,
    or below about a million multiply-adds a step: samples x parameters).

    On a machine whose cores are busy with other work, 1 is faster than fighting for them.
    In a process forked from one that imported fastmlp (multiprocessing's "fork" start method),
    the engine uses one thread whatever this says: GNU OpenMP's threads do not survive a fork.
    For parallel workers that each use several threads, use the "spawn" or "forkserver" method.
    Results in float32 can differ in the last bits between thread counts (partial sums are
    added in another grouping); the same count gives the same bits.

    Args:
        threads: A positive number, or 0 for all cores (the default).
    """
    from fastmlp import _core

    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"threads must be an integer >= 0, got {threads!r}")
    _core.set_num_threads(threads)


def get_num_threads() -> int:
    """The most threads the engine uses for a large batch."""
    from fastmlp import _core

    return int(_core.get_num_threads())


def set_sparse_inputs(enabled: bool) -> None:
    """Whether a first Dense layer skips the zeros of its input (default True).

    With float32 inputs that are mostly zeros (MNIST's pixels: 81%; one-hot or bag-of-words
    features), the first layer's products then cost per nonzero instead of per element: on MNIST a
    training epoch takes 15-30% less time and a prediction about a quarter less. The engine
    checks each batch and uses dense products when more than a quarter of it is nonzero, for
    float64 models and inputs narrower than 32, and where the CPU lacks AVX2 and FMA. Results
    agree with dense products to float rounding (the sums are taken in another order).

    Args:
        enabled: False makes every product dense.
    """
    from fastmlp import _core

    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be True or False, got {enabled!r}")
    _core.set_sparse_inputs(enabled)


def get_sparse_inputs() -> bool:
    """Whether first Dense layers may skip the zeros of sparse inputs (see `set_sparse_inputs`)."""
    from fastmlp import _core

    return bool(_core.get_sparse_inputs())


def clear_session() -> None:
    """Restart automatic layer and model names, as `keras.backend.clear_session()`.

    Models hold no global state in fastmlp, so nothing else needs clearing.
    """
    from fastmlp import layers

    layers.reset_names()
