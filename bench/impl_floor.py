"""The floor: only the matrix products of each training step, through NumPy's BLAS, nothing else.

A minibatch of the lecture model needs 8 GEMMs: 3 forward (z = a W), 3 weight gradients
(a^T delta) and 2 input gradients (delta W^T; the first layer's is never needed). Here they run on
contiguous slices of MNIST into preallocated outputs, with no activation, loss, optimizer or
shuffling: no framework using this BLAS can train an epoch faster than this row. The machine's
SGEMM peak on large square matrices is measured too, for the header of the table.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from impl_numpy import blas_threads

F32 = np.float32
SIZES = (784, 128, 64, 10)


class Framework:
    """The benchmark's interface (see worker.py); `trains = False`: it reports no accuracy."""

    label = "the dense GEMMs alone (NumPy's BLAS)"
    trains = False

    def __init__(self) -> None:
        self._buffers: dict[int, list[np.ndarray]] = {}

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def threads(self) -> Any:
        return blas_threads()

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.ascontiguousarray(x, F32), y

    def lecture_model(self, l2: float, seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [rng.uniform(-0.1, 0.1, (a, b)).astype(F32) for a, b in zip(SIZES[:-1], SIZES[1:])]

    def _outputs(self, n: int) -> list[np.ndarray]:
        """z1 z2 z3 (n, 128/64/10), d2 d1 (n, 64/128), g1 g2 g3 (shapes of W1 W2 W3)."""
        if n not in self._buffers:
            shapes = [
                (n, 128),
                (n, 64),
                (n, 10),
                (n, 64),
                (n, 128),
                (784, 128),
                (128, 64),
                (64, 10),
            ]
            self._buffers[n] = [np.empty(s, F32) for s in shapes]
        return self._buffers[n]

    def train_epoch(self, model: list[np.ndarray], data: Any, batch_size: int) -> None:
        W1, W2, W3 = model
        x = data[0]
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size]
            z1, z2, z3, d2, d1, g1, g2, g3 = self._outputs(xb.shape[0])
            np.matmul(xb, W1, out=z1)  # forward
            np.matmul(z1, W2, out=z2)
            np.matmul(z2, W3, out=z3)
            np.matmul(z2.T, z3, out=g3)  # backward: z3 stands in for dL/dz3
            np.matmul(z3, W3.T, out=d2)
            np.matmul(z1.T, d2, out=g2)
            np.matmul(d2, W2.T, out=d1)
            np.matmul(xb.T, d1, out=g1)

    def predict(self, model: list[np.ndarray], data: Any) -> np.ndarray:
        z1, z2, z3 = self._outputs(data[0].shape[0])[:3]
        np.matmul(data[0], model[0], out=z1)
        np.matmul(z1, model[1], out=z2)
        return np.matmul(z2, model[2], out=z3)

    def playground_model(self, seed: int) -> None:
        raise NotImplementedError("the floor has no playground row")

    def train_playground(self, model: Any, data: Any, epochs: int) -> None:
        raise NotImplementedError("the floor has no playground row")

    def extra(self) -> dict[str, float]:
        """SGEMM GFLOP/s on 2048 x 2048 float32 matrices, best of 5 after one warm-up."""
        n = 2048
        rng = np.random.default_rng(0)
        a, b = rng.random((n, n), F32), rng.random((n, n), F32)
        c = np.empty_like(a)
        best = np.inf
        for _ in range(6):
            start = time.perf_counter()
            np.matmul(a, b, out=c)
            best = min(best, time.perf_counter() - start)
        return {"sgemm_peak_gflops": 2 * n**3 / best / 1e9, "sgemm_n": n}
