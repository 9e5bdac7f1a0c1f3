"""fastmlp: the lecture's Keras code with `import fastmlp as fm`; one `fit` call per epoch."""

from __future__ import annotations

import hashlib
from typing import Any

import fastmlp as fm
import numpy as np
from fastmlp import _core


class Framework:
    """The benchmark's interface (see worker.py) over fm.Sequential.

    Args:
        device: "cpu" or "gpu" (the GPU column; reported as not supported without CuPy or a GPU).
        sparse_inputs: False runs every product as a dense GEMM (the first layer otherwise skips
            MNIST's zero pixels); the row "fastmlp, dense products only".
    """

    label = "fastmlp"

    def __init__(self, device: str = "cpu", sparse_inputs: bool = True) -> None:
        if device != "cpu" and not fm.backend.gpu.is_available():
            raise NotImplementedError(fm.backend.gpu.unavailable_reason())
        self.device = device
        fm.config.set_sparse_inputs(sparse_inputs)

    def versions(self) -> dict[str, str]:
        info = {"fastmlp": fm.__version__}
        if self.device != "cpu":
            import cupy

            info.update(
                gpu=cupy.cuda.runtime.getDeviceProperties(0)["name"].decode(), cupy=cupy.__version__
            )
        build_info = getattr(_core, "build_info", None)
        if build_info is not None:  # Eigen version, SIMD in use, OpenMP, sparse kernels
            info.update({f"engine {k}": str(v) for k, v in build_info().items()})
        info["sparse inputs"] = "on" if fm.config.get_sparse_inputs() else "off"
        # Which build of the engine ran: run.py flags a table whose repetitions saw different ones.
        with open(_core.__file__, "rb") as f:
            info["engine sha256"] = hashlib.sha256(f.read()).hexdigest()[:12]
        return info

    def threads(self) -> Any:
        get = getattr(_core, "get_num_threads", None)
        return get() if get else None

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x, y

    def lecture_model(self, l2: float, seed: int) -> fm.Sequential:
        reg = fm.regularizers.L2(l2) if l2 else None
        model = fm.Sequential(
            [
                fm.layers.Input(shape=(784,)),
                fm.layers.Dense(128, activation="relu", kernel_regularizer=reg),
                fm.layers.Dense(64, activation="relu", kernel_regularizer=reg),
                fm.layers.Dense(10, activation="softmax", kernel_regularizer=reg),
            ],
            seed=seed,
            device=self.device,
        )
        model.compile(
            optimizer=fm.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy"
        )
        return model

    def playground_model(self, seed: int) -> fm.Sequential:
        model = fm.Sequential(
            [
                fm.layers.Input(shape=(2,)),
                fm.layers.Dense(8, activation="tanh"),
                fm.layers.Dense(8, activation="tanh"),
                fm.layers.Dense(1, activation="tanh"),
            ],
            seed=seed,
        )
        model.compile(optimizer=fm.optimizers.SGD(learning_rate=0.03), loss="mse")
        return model

    def train_epoch(self, model: fm.Sequential, data: Any, batch_size: int) -> None:
        model.fit(data[0], data[1], batch_size=batch_size, epochs=1, verbose=0)

    def train_playground(self, model: fm.Sequential, data: Any, epochs: int) -> None:
        model.fit(data[0], data[1], batch_size=10, epochs=epochs, verbose=0)

    def predict(self, model: fm.Sequential, data: Any) -> np.ndarray:
        return model.predict(data[0], verbose=0)
