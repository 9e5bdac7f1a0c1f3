"""`CudaOps`: the GPU engine's operations on one NVIDIA GPU, through CuPy.

Products go to cuBLAS (`cupy.cublas.gemm`, straight into the row-major output, no copies); every
other operation is one launch of a kernel of kernels.cu, whose NumPy twin in _reference.py says
what it computes. All work is queued on one stream of the model's own, which also lets a whole
training step be captured once as a CUDA graph and replayed with a single launch; for that the
products call cuBLAS directly, on a handle of the model's own (_cublas.py).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cupy
import numpy as np
from cupy import cublas

from fastmlp.backend._cublas import DirectGemm, destroy_retired
from fastmlp.backend._reference import SHUFFLE_STREAM
from fastmlp.backend._reference_elementwise import SOFTMAX
from fastmlp.backend._reference_focal import BINARY_FOCAL, CATEGORICAL_FOCAL

SOURCE = Path(__file__).with_name("kernels.cu")
TEMPLATES = (
    "bias_activation", "softmax_rows", "activation_backward", "softmax_backward_rows",
    "dropout", "multiply", "gather", "crossentropy_rows", "elementwise_loss_rows",
    "binary_focal_rows", "categorical_focal_rows", "metrics_rows",
    "penalty", "squared_norm", "scale_to_norm", "clip_values", "sgd", "adam", "rmsprop", "adagrad",
    "adadelta", "nadam", "adamax", "lion", "ftrl",
)  # fmt: skip
PLAIN = ("shuffle_keys", "advance", "nadam_product")
BLOCK = 256
MAX_BLOCKS = 4096  # grid-stride loops cover the rest
OPTIONS = ("-std=c++17",)  # NVRTC of CUDA 12 and 13


def name_expressions() -> list[str]:
    """The kernels to instantiate: each template for float and double, and the plain ones."""
    return [f"{name}<{t}>" for name in TEMPLATES for t in ("float", "double")] + list(PLAIN)


@functools.cache
def _module(device: int) -> cupy.RawModule:
    with cupy.cuda.Device(device):
        module = cupy.RawModule(
            code=SOURCE.read_text(), options=OPTIONS, name_expressions=name_expressions()
        )
        module.compile()
    return module


def graphs_enabled() -> bool:
    """CUDA graphs are used unless FASTMLP_CUDA_GRAPHS=0 (to measure what they bring)."""
    return os.environ.get("FASTMLP_CUDA_GRAPHS", "1") not in ("0", "false", "off")


class CudaOps:
    """The operations of `_reference.ReferenceOps`, as cuBLAS calls and kernel launches."""

    name = "cuda"

    def __init__(self, device: int, dtype: Any) -> None:
        self.device = cupy.cuda.Device(device)
        self.graph_error: str | None = None
        with self.device:
            self.stream = cupy.cuda.Stream(non_blocking=True)
            self.scratch = cupy.zeros(2, dtype=np.float64)  # squared norms for clipping
            self.ones = cupy.ones(0, dtype=dtype)  # bias gradients: 1ᵀ g, grown as batches grow
            try:
                self.gemm_direct: DirectGemm | None = DirectGemm(self.stream, dtype)
            except (OSError, AttributeError, RuntimeError) as error:  # CuPy's gemm, no graphs
                self.gemm_direct, self.graph_error = None, f"cuBLAS not callable directly: {error}"
        scalar = "float" if np.dtype(dtype) == np.float32 else "double"
        self.scalar = np.dtype(dtype).type
        module = _module(device)
        self._k = {name: module.get_function(f"{name}<{scalar}>") for name in TEMPLATES}
        self._k.update({name: module.get_function(name) for name in PLAIN})

    # -- launching --------------------------------------------------------------------------
    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """This GPU and the model's stream, for everything queued inside; it first waits for
        the work queued on the caller's stream (which may be making a CuPy x passed in)."""
        caller = cupy.cuda.get_current_stream()
        with self.device, self.stream:
            self.stream.wait_event(caller.record())
            yield

    def _launch(self, name: str, threads: int, *args: Any) -> None:
        blocks = max(1, min(MAX_BLOCKS, -(-int(threads) // BLOCK)))
        self._k[name]((blocks,), (BLOCK,), args)

    def capture(self, step) -> Any:
        """`step`'s work recorded as a CUDA graph (None if capture fails: steps then run eagerly)."""
        if not graphs_enabled() or self.graph_error is not None:
            return None
        destroy_retired()
        try:
            self.stream.begin_capture()
            try:
                step()
            finally:
                graph = self.stream.end_capture()
        except Exception as error:  # noqa: BLE001 - any failure means: run the step eagerly
            self.graph_error = f"{type(error).__name__}: {error}"
            return None
        return graph

    def replay(self, graph: Any) -> None:
        graph.launch(self.stream)

    # -- memory -----------------------------------------------------------------------------
    def zeros(self, shape, dtype) -> cupy.ndarray:
        with self.device:
            return cupy.zeros(shape, dtype=dtype)

    def arange(self, n: int) -> cupy.ndarray:
        with self.active():
            return cupy.arange(n, dtype=np.int64)

    def to_device(self, array, dtype=None) -> cupy.ndarray:
        with self.active():
            if isinstance(array, cupy.ndarray):  # from another GPU: copied to this one
                if array.device.id == self.device.id:
                    return cupy.ascontiguousarray(array, dtype=dtype)
                return cupy.array(array, dtype=dtype, order="C")
            return cupy.asarray(np.ascontiguousarray(array, dtype=dtype))

    def all_finite(self, array) -> bool:
        return bool(cupy.isfinite(array).all())

    def to_host(self, array) -> np.ndarray:
        out = cupy.asnumpy(array, stream=self.stream)
        self.stream.synchronize()
        return out

    def synchronize(self) -> None:
        self.stream.synchronize()

    def copy(self, src, dst) -> None:
        cupy.copyto(dst, src)

    # -- products and layers ----------------------------------------------------------------
    def gemm(self, a, b, out, ta: bool = False, tb: bool = False) -> None:
        if self.gemm_direct is not None:
            self.gemm_direct(a, b, out, ta, tb)
        else:
            cublas.gemm("T" if ta else "N", "T" if tb else "N", a, b, out=out)

    def reserve(self, rows: int) -> None:
        """Room for batches of `rows` (with the engine's buffers, whose growth ends captures)."""
        if self.ones.size < rows:
            with self.device:
                self.ones = cupy.ones(rows, dtype=self.ones.dtype)

    def column_sums(self, g, out) -> None:
        """out = 1ᵀ g as a cuBLAS product: all rows at once, where a thread per column would
        walk a 4096-row batch alone."""
        rows = g.shape[0]
        self.gemm(self.ones[:rows].reshape(1, rows), g, out.reshape(1, -1))

    def bias_activation(self, a, bias, code: int, apply: bool, param: float) -> None:
        rows, cols = a.shape
        if bias is not None or (apply and code not in (0, SOFTMAX)):
            self._launch(
                "bias_activation", a.size, a, a if bias is None else bias, np.int64(rows), np.int64(cols),
                np.int32(bias is not None), np.int32(code), np.int32(apply and code != SOFTMAX),
                np.float64(param),
            )  # fmt: skip
        if apply and code == SOFTMAX:
            self._launch("softmax_rows", rows, a, np.int64(rows), np.int64(cols))

    def activation_backward(self, a, g, code: int, param: float) -> None:
        if code == SOFTMAX:
            self._launch(
                "softmax_backward_rows",
                a.shape[0],
                a,
                g,
                np.int64(a.shape[0]),
                np.int64(a.shape[1]),
            )
        elif code != 0:
            self._launch(
                "activation_backward",
                a.size,
                a,
                g,
                np.int64(a.size),
                np.int32(code),
                np.float64(param),
            )

    def dropout(self, x, out, mask, rate: float, seed: int, state, layer: int) -> None:
        self._launch(
            "dropout", mask.size, x, out, mask, np.int64(mask.size), np.float64(rate), np.uint64(seed),
            state, np.int32(layer),
        )  # fmt: skip

    def multiply(self, a, b, out) -> None:
        self._launch("multiply", a.size, a, b, out, np.int64(a.size))

    # -- the epoch's batches ----------------------------------------------------------------
    def permutation(self, n: int, seed: int, state) -> cupy.ndarray:
        keys = cupy.empty(n, dtype=np.uint64)
        self._launch(
            "shuffle_keys", n, keys, np.int64(n), np.uint64(seed), state, np.uint64(SHUFFLE_STREAM)
        )
        return cupy.argsort(keys).astype(np.int64)

    def gather(self, x, y, order, state, n: int, xb, yb) -> None:
        self._launch(
            "gather", n * max(x.shape[1], y.shape[1]), x, y, order, state, np.int64(n),
            np.int64(x.shape[1]), np.int64(y.shape[1]), xb, yb,
        )  # fmt: skip

    def advance(self, state, rows: int, step: bool) -> None:
        self._launch("advance", 1, state, np.int64(rows), np.int32(step))

    # -- loss and metrics -------------------------------------------------------------------
    def loss(self, kind: int, mode: int, a, y, g, sums, params) -> None:
        n, k = a.shape
        if kind in (0, 1):
            self._launch(
                "crossentropy_rows",
                n,
                np.int32(kind == 0),
                np.int32(mode),
                a,
                y,
                g,
                np.int64(n),
                np.int64(k),
                sums,
            )
        elif kind == BINARY_FOCAL:
            self._launch(
                "binary_focal_rows", n, np.int32(mode), np.float64(params.gamma),
                np.float64(params.alpha), np.int32(params.class_balancing), a, y, g, np.int64(n),
                np.int64(k), sums,
            )  # fmt: skip
        elif kind == CATEGORICAL_FOCAL:
            self._launch(
                "categorical_focal_rows", n, np.int32(mode), np.float64(params.gamma),
                np.float64(params.alpha), a, y, g, np.int64(n), np.int64(k), sums,
            )  # fmt: skip
        else:
            self._launch(
                "elementwise_loss_rows",
                n,
                np.int32(kind),
                np.int32(mode),
                a,
                y,
                g,
                np.int64(n),
                np.int64(k),
                sums,
            )

    def metrics(
        self, mode: int, out_t: float, target_t: float, squared: bool, absolute: bool,
        scale: float, offset: float, a, y, sums,
    ):  # fmt: skip
        if mode == 0 and not (squared or absolute):
            return
        n, k = a.shape
        self._launch(
            "metrics_rows", n, np.int32(mode), np.float64(out_t), np.float64(target_t), np.int32(squared),
            np.int32(absolute), np.float64(scale), np.float64(offset), a, y, np.int64(n), np.int64(k),
            np.int64(y.shape[1]), sums,
        )  # fmt: skip

    # -- penalties, clipping, updates -------------------------------------------------------
    def penalty(self, w, g, l1: float, l2: float, samples: int, sums) -> None:
        self._launch(
            "penalty", w.size, w, w if g is None else g, np.int64(w.size), np.float64(l1), np.float64(l2),
            np.float64(samples), np.int32(g is not None), sums,
        )  # fmt: skip

    def _clip_norm(self, g, limit: float) -> None:
        self.scratch.fill(0)
        self._launch("squared_norm", g.size, g, np.int64(g.size), self.scratch)
        self._launch("scale_to_norm", g.size, g, np.int64(g.size), self.scratch, np.float64(limit))

    def clip(
        self, grads, variables, clipnorm: float, clipvalue: float, global_clipnorm: float
    ) -> None:
        if clipvalue > 0:
            self._launch(
                "clip_values", grads.size, grads, np.int64(grads.size), np.float64(clipvalue)
            )
        if clipnorm > 0:
            for start, size in variables:
                self._clip_norm(grads[start : start + size], clipnorm)
        if global_clipnorm > 0:
            self._clip_norm(grads, global_clipnorm)

    def optimizer_step(self, config, w, g, slots, state, hyper) -> None:
        c, n = config, np.int64(w.size)
        wd = c.weight_decay
        slot = lambda i: slots[i] if i < len(slots) else w  # fmt: skip  (unused slots: any pointer)
        if c.kind == 0:
            self._launch(
                "sgd", n, w, g, slot(0), np.int64(n), hyper, np.float64(c.momentum), np.int32(c.nesterov),
                np.float64(wd),
            )  # fmt: skip
        elif c.kind == 1:
            self._launch(
                "adam", n, w, g, slots[0], slots[1], slot(2), np.int64(n), hyper, state, np.float64(c.beta_1),
                np.float64(c.beta_2), np.float64(c.epsilon), np.int32(c.amsgrad), np.float64(wd),
            )  # fmt: skip
        elif c.kind == 2:
            rest = list(slots[1:])
            mom = rest.pop(0) if c.momentum > 0 else w
            avg = rest.pop(0) if c.centered else w
            self._launch(
                "rmsprop", n, w, g, slots[0], mom, avg, np.int64(n), hyper, np.float64(c.rho),
                np.float64(c.epsilon), np.float64(c.momentum), np.int32(c.centered), np.float64(wd),
            )  # fmt: skip
        elif c.kind == 3:
            self._launch(
                "adagrad",
                n,
                w,
                g,
                slots[0],
                np.int64(n),
                hyper,
                np.float64(c.epsilon),
                np.float64(wd),
            )
        elif c.kind == 4:
            self._launch(
                "adadelta", n, w, g, slots[0], slots[1], np.int64(n), hyper, np.float64(c.rho),
                np.float64(c.epsilon), np.float64(wd),
            )  # fmt: skip
        elif c.kind == 5:  # Nadam: u_product first, then the update that reads it
            self._launch("nadam_product", 1, hyper, state, np.float64(c.beta_1))
            self._launch(
                "nadam", n, w, g, slots[0], slots[1], np.int64(n), hyper, state, np.float64(c.beta_1),
                np.float64(c.beta_2), np.float64(c.epsilon), np.float64(wd),
            )  # fmt: skip
        elif c.kind == 6:
            self._launch(
                "adamax", n, w, g, slots[0], slots[1], np.int64(n), hyper, state, np.float64(c.beta_1),
                np.float64(c.beta_2), np.float64(c.epsilon), np.float64(wd),
            )  # fmt: skip
        elif c.kind == 7:
            self._launch(
                "lion", n, w, g, slots[0], np.int64(n), hyper, np.float64(c.beta_1), np.float64(c.beta_2),
                np.float64(wd),
            )  # fmt: skip
        elif c.kind == 8:
            self._launch(
                "ftrl", n, w, g, slots[0], slots[1], np.int64(n), hyper, np.float64(-c.learning_rate_power),
                np.float64(c.l1_regularization_strength), np.float64(c.l2_regularization_strength),
                np.float64(c.l2_shrinkage_regularization_strength), np.float64(c.beta), np.float64(wd),
            )  # fmt: skip
        else:
            raise ValueError(f"optimizer: unknown kind {c.kind}")
