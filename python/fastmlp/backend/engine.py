"""`ArrayNetwork`: the C++ engine's network, written over an array module (CuPy on a GPU).

It offers the calls of `fastmlp._core.NetworkF32` (see cpp/bindings.cpp) so that `Sequential`
drives either engine the same way. Every computation is an `ops` call: `_cuda.CudaOps` (cuBLAS and
the kernels of kernels.cu) on a GPU, `_reference.ReferenceOps` (NumPy) for `device="numpy"`.
Everything the loop needs stays in device memory: parameters, gradients, optimizer slots, the
epoch's order, the step counters (`state`) and the running sums, which are read back once per
`train_steps` call. A training step of a fixed batch size can therefore be replayed as a CUDA
graph (`ops.capture`), with no Python between launches.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from fastmlp.backend._reference import ADAGRAD, FTRL, POS, RNG, keras_cast
from fastmlp.backend._settings import (
    ACTIVATION,
    DENSE,
    DROPOUT,
    FUSED,
    SUM_FIELDS,
    NetworkSettings,
    Sums,
    plan_layers,
)

MIN_INFERENCE_ROWS = 1024  # evaluate / predict blocks: rows are independent, larger is faster
INFERENCE_ELEMENTS = 1 << 24  # ... up to this many values in the widest layer's block


def _no_sample_weights(w: Any) -> None:
    """The C++ engine's calls take per-sample weights `w`; this engine does not (yet)."""
    if w is not None:
        raise NotImplementedError(
            "sample_weight / class_weight are supported by the CPU engine only (yet)"
        )


class ArrayNetwork(NetworkSettings):
    """A stack of Dense / Activation / Dropout layers with its loss, optimizer and loop."""

    def __init__(self, input_dim: int, specs: list[Any], seed: int, dtype: Any, ops: Any) -> None:
        self.ops, self.dtype = ops, np.dtype(dtype)
        self._layers, width, offset = plan_layers(input_dim, specs)
        self.input_dim, self.output_dim, self.param_count = int(input_dim), width, offset
        self._seed = int(seed) & (2**64 - 1)
        self._params = ops.zeros(offset, self.dtype)
        self._grads = ops.zeros(offset, self.dtype)
        self._state = ops.zeros(3, np.int64)  # [pos, random counter, iterations]
        self._sums = ops.zeros(len(SUM_FIELDS), np.float64)
        # [learning rate, Nadam's u_product]: in device memory, where captured steps read them
        self._hyper = ops.to_device(np.array([1e-3, 1.0]), np.float64)
        self._rates: tuple[int, np.ndarray] | None = None  # set_learning_rates: (first step, rates)
        self._slots: list[Any] = []
        self._iterations = 0
        self._capacity = 0
        self._acts: list[Any] = []
        self._gacts: list[Any] = []
        self._masks: list[Any] = []
        self._order: Any = None
        self._epoch_n = self._epoch_pos = 0
        self._accuracy = (0, 0.5, 0.5)
        self._errors = (False, False, 1.0, 0.0)  # mse, mae; their targets: scale * y + offset
        self._clipping = (0.0, 0.0, 0.0)
        self._frozen: list[int] = []  # indices of frozen layers (set_frozen_layers)
        self._optimizer = SimpleNamespace(
            kind=1, learning_rate=1e-3, momentum=0.0, nesterov=False, beta_1=0.9, beta_2=0.999,
            epsilon=1e-7, amsgrad=False, rho=0.9, centered=False, initial_accumulator_value=0.1,
            weight_decay=0.0, learning_rate_power=-0.5, l1_regularization_strength=0.0,
            l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0, beta=0.0,
        )  # fmt: skip
        self._graphs: dict[Any, Any] = {}
        self._eager_steps: dict[Any, int] = {}
        self._lock = threading.Lock()
        self.set_loss(3, False)

    # -- the epoch ----------------------------------------------------------------------------
    @property
    def epoch_done(self) -> bool:
        return self._epoch_pos >= self._epoch_n

    @property
    def epoch_position(self) -> int:
        return self._epoch_pos

    def _view(self, flat: Any, part: tuple[int, int] | None, shape: tuple[int, ...]) -> Any:
        return None if part is None else flat[part[0] : part[0] + part[1]].reshape(shape)

    def _variables(self) -> list[tuple[int, int]]:
        return [p for layer in self._layers for p in (layer.w, layer.b) if p is not None]

    # -- parameters ---------------------------------------------------------------------------
    def get_params(self) -> np.ndarray:
        with self._claim():
            return self.ops.to_host(self._params)

    def set_params(self, values: Any) -> None:
        values = np.asarray(values, dtype=self.dtype)
        if values.ndim != 1 or values.shape[0] != self.param_count:
            raise ValueError(f"params: expected a flat array of {self.param_count} values")
        with self._claim():
            self.ops.copy(self.ops.to_device(values, self.dtype), self._params)

    def get_grads(self) -> np.ndarray:
        with self._claim():
            return self.ops.to_host(self._grads)

    # -- data -------------------------------------------------------------------------------
    @property
    def on_gpu(self) -> bool:
        """Whether this engine's memory is a GPU's (CuPy arrays are then used where they are)."""
        return self.ops.name == "cuda"

    def all_finite(self, array: Any) -> bool:
        """Whether an array of this engine's memory holds no NaN or infinity."""
        with self._claim():
            return self.ops.all_finite(array)

    def to_device(self, array: Any) -> Any:
        """The array in this engine's memory (one copy, kept for the whole of fit)."""
        return self.ops.to_device(array, self.dtype)

    def _check(self, x: Any, y: Any = None) -> tuple[Any, Any]:
        if x.ndim != 2:
            raise ValueError(f"x: expected a 2-D array, got {x.ndim}-D")
        if x.shape[1] != self.input_dim:
            raise ValueError(
                f"x: expected {self.input_dim} features, got shape ({x.shape[0]}, {x.shape[1]})"
            )
        if x.shape[0] == 0:
            raise ValueError("x: expected at least one sample, got 0")
        if y is not None:
            if y.ndim != 2:
                raise ValueError(f"y: expected a 2-D array, got {y.ndim}-D")
            if y.shape[0] != x.shape[0]:
                raise ValueError(
                    f"y: expected {x.shape[0]} rows (one per sample of x), got {y.shape[0]}"
                )
            if y.shape[1] != self.target_dim:
                raise ValueError(
                    f"y: expected {self.target_dim} columns for this loss, got {y.shape[1]}"
                )
            # As the C++ engine: the accuracy rule must read the loss's kind of y.
            per_output = self._accuracy[0] in (2, 3)  # one-hot argmax, threshold
            if (per_output and self.target_dim != self.output_dim) or (
                self._accuracy[0] == 1 and self.target_dim != 1
            ):
                kind = "one target per output" if per_output else "one class label per sample"
                raise ValueError(
                    f"metrics: the accuracy reads {kind}, but this loss's y has "
                    f"{self.target_dim} column(s)"
                )
            y = self.to_device(y)
        return self.to_device(x), y

    def _reserve(self, rows: int) -> None:
        if rows <= self._capacity and self._yb.shape[1] == self.target_dim:
            return
        rows = max(rows, self._capacity)
        self.ops.reserve(rows)
        zeros = self.ops.zeros
        self._acts = [zeros((rows, layer.n_out), self.dtype) for layer in self._layers]
        self._gacts = [zeros((rows, layer.n_out), self.dtype) for layer in self._layers]
        self._masks = [
            zeros((rows, layer.n_out), self.dtype) if layer.kind == DROPOUT else None
            for layer in self._layers
        ]
        self._xb = zeros((rows, self.input_dim), self.dtype)
        self._yb = zeros((rows, self.target_dim), self.dtype)
        self._capacity = rows
        self._changed()

    # -- the passes -------------------------------------------------------------------------
    def _forward(self, x: Any, n: int, training: bool, defer_last: bool) -> Any:
        ops, inp = self.ops, x
        for i, layer in enumerate(self._layers):
            a = self._acts[i][:n]  # (n, out)
            apply = not (defer_last and i + 1 == len(self._layers))
            if layer.kind == DENSE:
                ops.gemm(inp, self._view(self._params, layer.w, (layer.n_in, layer.n_out)), a)
                bias = self._view(self._params, layer.b, (layer.n_out,))
                ops.bias_activation(a, bias, layer.act, apply, layer.param)
            elif layer.kind == ACTIVATION:
                ops.copy(inp, a)
                ops.bias_activation(a, None, layer.act, apply, layer.param)
            elif training and layer.rate > 0:
                ops.dropout(inp, a, self._masks[i][:n], layer.rate, self._seed, self._state, i)
            else:
                ops.copy(inp, a)
            inp = a
        return inp

    def _backward(self, x: Any, n: int) -> None:
        ops = self.ops
        for i in reversed(range(len(self._layers))):
            layer = self._layers[i]
            a, g = self._acts[i][:n], self._gacts[i][:n]
            g_in = self._gacts[i - 1][:n] if i > 0 else None  # dL/d(input of this layer)
            skip = i + 1 == len(self._layers) and self._mode == FUSED
            if layer.kind != DROPOUT and not skip:
                ops.activation_backward(a, g, layer.act, layer.param)
            if layer.kind == DENSE:
                w = self._view(self._params, layer.w, (layer.n_in, layer.n_out))
                ops.gemm(
                    self._acts[i - 1][:n] if i > 0 else x,
                    g,
                    self._view(self._grads, layer.w, w.shape),
                    ta=True,
                )
                if layer.b is not None:
                    ops.column_sums(g, self._view(self._grads, layer.b, (layer.n_out,)))
                if g_in is not None:
                    ops.gemm(g, w, g_in, tb=True)
            elif g_in is not None and layer.kind == DROPOUT and layer.rate > 0:
                ops.multiply(g, self._masks[i][:n], g_in)
            elif g_in is not None:
                ops.copy(g, g_in)

    def _penalties(self, samples: int, with_grad: bool) -> None:
        for i, layer in enumerate(self._layers):
            if i in self._frozen:  # (Keras regularizes trainable weights only)
                continue
            for part, (l1, l2) in ((layer.w, layer.kernel), (layer.b, layer.bias)):
                if part is not None and (l1 or l2):
                    grad = self._view(self._grads, part, (part[1],)) if with_grad else None
                    self.ops.penalty(
                        self._view(self._params, part, (part[1],)),
                        grad,
                        l1,
                        l2,
                        samples,
                        self._sums,
                    )

    def _loss_and_metrics(self, y: Any, n: int) -> None:
        last = len(self._layers) - 1
        a = self._acts[last][:n]
        self.ops.loss(
            self._loss, self._mode, a, y, self._gacts[last][:n], self._sums, self._loss_params
        )
        self.ops.metrics(*self._accuracy, *self._errors, a, y, self._sums)

    def _step(self, x: Any, y: Any, n: int) -> None:
        """Forward, loss, metrics, backward, penalties, clipping and the update, all queued."""
        self._forward(x, n, True, self._mode == FUSED)
        self._loss_and_metrics(y, n)
        self._backward(x, n)
        self._penalties(n, True)
        self._zero_frozen_gradients()  # (out of the clipping norms)
        if any(self._clipping):
            self.ops.clip(self._grads, self._variables(), *self._clipping)
        trains = self.trains()
        if trains:
            if len(self._slots) != self._slot_count():
                self._build_slots()
            # The update runs over the whole vector; frozen parameters and slots are put back
            # after, from buffers allocated once (a captured CUDA graph keeps their addresses).
            kept = self._frozen_copies()
            for flat, part, buffer in kept:
                self.ops.copy(flat[part], buffer)
            self.ops.optimizer_step(
                self._optimizer, self._params, self._grads, self._slots, self._state, self._hyper
            )
            for flat, part, buffer in kept:
                self.ops.copy(buffer, flat[part])
        self.ops.advance(self._state, n, trains)

    def _zero_frozen_gradients(self) -> None:
        for offset, size in self._frozen_parts():
            self._grads[offset : offset + size].fill(0)

    def _frozen_copies(self) -> list[tuple[Any, slice, Any]]:
        """(flat vector, frozen slice, its buffer) for the parameters and every slot."""
        flats = (self._params, *self._slots)
        layout = (tuple(self._frozen_parts()), tuple(id(flat) for flat in flats))
        if getattr(self, "_kept_layout", None) != layout:
            self._kept = [
                (flat, slice(offset, offset + size), self.ops.zeros(size, self.dtype))
                for offset, size in layout[0]
                for flat in flats
            ]
            self._kept_layout = layout
        return self._kept

    def _build_slots(self) -> None:
        self._slots = [
            self.ops.zeros(self.param_count, self.dtype) for _ in range(self._slot_count())
        ]
        if self._optimizer.kind == ADAGRAD:  # from the initial accumulator value
            self._slots[0][...] = self._optimizer.initial_accumulator_value
        if self._optimizer.kind == FTRL:
            self._slots[0][...] = keras_cast(self._optimizer.initial_accumulator_value)
        self._hyper[1] = 1.0  # Nadam's u_product, as Keras builds it
        self._changed()

    def _gathered_step(self, x: Any, y: Any, n: int) -> None:
        self.ops.gather(x, y, self._order, self._state, n, self._xb, self._yb)
        self._step(self._xb[:n], self._yb[:n], n)

    def _train_step(self, x: Any, y: Any, n: int) -> None:
        """One step of the epoch: a replayed graph when one was captured for this shape."""
        self._schedule_step()
        key = (n, id(x), id(y))
        graph = self._graphs.get(key)
        if graph is None and self._eager_steps.get(key, 0) >= 1:  # warmed up: capture
            graph = self.ops.capture(lambda: self._gathered_step(x, y, n))
            if graph is not None:  # keep the graphs of this data only (they hold it alive)
                self._graphs = {k: v for k, v in self._graphs.items() if k[1:] == key[1:]}
                self._graphs[key] = (graph, x, y, self._order)
        if graph is not None:
            self.ops.replay(self._graphs[key][0])
        else:
            self._gathered_step(x, y, n)
            self._eager_steps[key] = self._eager_steps.get(key, 0) + 1
        self._iterations += self.trains()

    def _read_sums(self, steps: int, samples: int) -> Sums:
        return Sums(steps, samples, self.ops.to_host(self._sums))

    # -- the engine's calls -----------------------------------------------------------------
    def train_on_batch(self, x: Any, y: Any, w: Any = None) -> Sums:
        _no_sample_weights(w)
        with self._claim():
            x, y = self._check(x, y)
            n = x.shape[0]
            self._reserve(n)
            self._schedule_step()
            self._sums[...] = 0
            self._step(x, y, n)
            self._iterations += self.trains()
            return self._read_sums(1, n)

    def begin_epoch(self, samples: int, shuffle: bool) -> None:
        if samples <= 0:
            raise ValueError("begin_epoch: n must be > 0")
        with self._claim():
            self._epoch_n, self._epoch_pos = int(samples), 0
            self._state[POS] = 0
            if shuffle:
                order = self.ops.permutation(int(samples), self._seed, self._state)
                self._state[RNG] += 1
            else:
                order = self.ops.arange(int(samples))
            if self._order is None or self._order.shape[0] != samples:
                self._order = order
                self._changed()
            else:
                self.ops.copy(order, self._order)  # same buffer: captured steps stay valid

    def train_steps(
        self,
        x: Any,
        y: Any,
        batch_size: int,
        max_steps: int,
        max_seconds: float = 0.0,
        w: Any = None,
    ):
        _no_sample_weights(w)
        with self._claim():
            x, y = self._check(x, y)
            if batch_size <= 0:
                raise ValueError(f"batch_size must be > 0, got {batch_size}")
            if x.shape[0] != self._epoch_n:
                raise ValueError(
                    f"train_steps: x has {x.shape[0]} samples but the epoch was begun with {self._epoch_n}"
                )
            batch = min(batch_size, self._epoch_n)
            self._reserve(batch)
            self._sums[...] = 0
            start, steps, samples = time.perf_counter(), 0, 0
            while steps < max_steps and self._epoch_pos < self._epoch_n:
                n = min(batch, self._epoch_n - self._epoch_pos)
                self._train_step(x, y, n)
                self._epoch_pos += n
                steps, samples = steps + 1, samples + n
                if max_seconds > 0 and time.perf_counter() - start >= max_seconds:
                    break
            return self._read_sums(steps, samples)

    def _blocks(self, rows: int, batch_size: int):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size}")
        widest = max([self.input_dim] + [layer.n_out for layer in self._layers])
        block = min(max(batch_size, MIN_INFERENCE_ROWS, INFERENCE_ELEMENTS // widest), rows)
        self._reserve(block)
        return [(pos, min(block, rows - pos)) for pos in range(0, rows, block)]

    def evaluate(self, x: Any, y: Any, batch_size: int, w: Any = None) -> Sums:
        _no_sample_weights(w)
        with self._claim():
            x, y = self._check(x, y)
            self._sums[...] = 0
            blocks = self._blocks(x.shape[0], batch_size)
            for pos, n in blocks:
                self._forward(x[pos : pos + n], n, False, self._mode == FUSED)
                self._loss_and_metrics(y[pos : pos + n], n)
            self._penalties(x.shape[0], False)
            return self._read_sums(len(blocks), x.shape[0])

    def predict(self, x: Any, batch_size: int, check_finite: bool = False) -> np.ndarray:
        with self._claim():
            x, _ = self._check(x)
            if check_finite and not self.ops.all_finite(x):  # checked where it was copied to
                raise ValueError("x contains NaN or infinity; clean or impute it first")
            out = self.ops.zeros((x.shape[0], self.output_dim), self.dtype)
            for pos, n in self._blocks(x.shape[0], batch_size):
                self.ops.copy(self._forward(x[pos : pos + n], n, False, False), out[pos : pos + n])
            return self.ops.to_host(out)

    def loss_and_gradient(self, x: Any, y: Any) -> tuple[float, np.ndarray]:
        with self._claim():
            x, y = self._check(x, y)
            n = x.shape[0]
            self._reserve(n)
            self._sums[...] = 0
            self._forward(x, n, True, self._mode == FUSED)
            a, g = self._acts[-1][:n], self._gacts[-1][:n]
            self.ops.loss(self._loss, self._mode, a, y, g, self._sums, self._loss_params)
            self._backward(x, n)
            self._penalties(n, True)
            self._zero_frozen_gradients()
            self.ops.advance(self._state, 0, False)
            return float(self.ops.to_host(self._sums)[0]) / n, self.ops.to_host(self._grads)
