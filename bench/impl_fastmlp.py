"""fastmlp: the lecture's Keras code with `import fastmlp as fm`; one `fit` call per epoch."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import fastmlp as fm
import numpy as np
from fastmlp import _core


class Framework:
    """The benchmark's interface (see worker.py) over fm.Sequential.

    Args:
        device: "cpu", "gpu" (the GPU column; reported as not supported without CuPy or a GPU)
            or "numpy" (the GPU engine's code run by NumPy: for testing the suite without a GPU).
        sparse_inputs: False runs every product as a dense GEMM (the first layer otherwise skips
            MNIST's zero pixels); the row "fastmlp, dense products only".
        cuda_graphs: False sets FASTMLP_CUDA_GRAPHS=0 in this process, before any model is
            built: every GPU step then runs eagerly; the row "CUDA graphs off".
    """

    label = "fastmlp"

    def __init__(
        self, device: str = "cpu", sparse_inputs: bool = True, cuda_graphs: bool = True
    ) -> None:
        self.gpu = device not in ("cpu", "numpy")
        if self.gpu and not fm.backend.gpu.is_available():
            raise NotImplementedError(fm.backend.gpu.unavailable_reason())
        self.device = device
        fm.config.set_sparse_inputs(sparse_inputs)
        if not cuda_graphs:
            os.environ["FASTMLP_CUDA_GRAPHS"] = "0"

    def versions(self) -> dict[str, str]:
        info = {"fastmlp": fm.__version__}
        if self.gpu:
            import cupy

            info.update(
                gpu=cupy.cuda.runtime.getDeviceProperties(0)["name"].decode(),
                cupy=cupy.__version__,
                FASTMLP_CUDA_GRAPHS=os.environ.get("FASTMLP_CUDA_GRAPHS", "unset (on)"),
                CUPY_TF32=os.environ.get("CUPY_TF32", "unset (off)"),  # TF32 would inflate GEMMs
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

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """On the GPU: CuPy arrays, copied there once, as the PyTorch rows hold their tensors on
        the GPU (fit then neither copies x nor checks it on the host; it checks it on the GPU)."""
        if self.gpu:
            import cupy

            return cupy.asarray(x), cupy.asarray(y)
        return x, y

    def lecture_model(self, l2: float, seed: int) -> fm.Sequential:
        return self._classifier([784, 128, 64, 10], l2, seed)

    def wide_model(self, width: int, seed: int) -> fm.Sequential:
        return self._classifier([width, width, width, 10], 0.0, seed)

    def _classifier(self, sizes: list[int], l2: float, seed: int) -> fm.Sequential:
        """sizes[0] inputs, relu hidden layers, softmax output; Adam 1e-3, sparse cross-entropy."""
        reg = fm.regularizers.L2(l2) if l2 else None
        model = fm.Sequential(
            [fm.layers.Input(shape=(sizes[0],))]
            + [fm.layers.Dense(n, activation="relu", kernel_regularizer=reg) for n in sizes[1:-1]]
            + [fm.layers.Dense(sizes[-1], activation="softmax", kernel_regularizer=reg)],
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

    def train_epochs(self, model: fm.Sequential, data: Any, batch_size: int, epochs: int) -> None:
        """One `fit` call (it returns when the device has finished: it reads the epoch's loss)."""
        model.fit(data[0], data[1], batch_size=batch_size, epochs=epochs, verbose=0)

    def train_epoch(self, model: fm.Sequential, data: Any, batch_size: int) -> None:
        self.train_epochs(model, data, batch_size, 1)

    def train_playground(self, model: fm.Sequential, data: Any, epochs: int) -> None:
        self.train_epochs(model, data, 10, epochs)

    def weights(self, model: fm.Sequential) -> list[np.ndarray]:
        return model.get_weights()

    def predict(self, model: fm.Sequential, data: Any) -> np.ndarray:
        return model.predict(data[0], verbose=0)

    # The GEMM rate of the BLAS behind this device's products: cuBLAS through CuPy on the GPU,
    # NumPy's BLAS for "cpu" (fastmlp's default, FASTMLP_BLAS) and "numpy".
    def gemm_operands(self, n: int) -> tuple[Any, Any]:
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
        if self.gpu:
            import cupy

            return cupy.asarray(a), cupy.asarray(b)
        return a, b

    def matmul(self, a: Any, b: Any) -> Any:
        return a @ b

    def synchronize(self) -> None:
        if self.gpu:
            import cupy

            cupy.cuda.Device().synchronize()
