"""What an `ArrayNetwork` computes: its layers, loss, metrics, clipping and optimizer settings.

The settings mirror the C++ network's setters (cpp/include/fastmlp/network.hpp) with the same
checks and messages. Changing one that a captured CUDA graph has baked in (`_changed`) drops the
captured steps, so the next steps are recorded again.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np

from fastmlp.backend._reference import FTRL, ITER, LION, NADAM, RNG
from fastmlp.backend._reference_elementwise import SOFTMAX
from fastmlp.backend._reference_focal import BINARY_FOCAL, CATEGORICAL_FOCAL

DENSE, ACTIVATION, DROPOUT, NORMALIZATION = range(4)
# The layer kinds from NORMALIZATION on, computed by the CPU engine only (LayerKind in network.hpp)
CPU_LAYERS = {3: "Normalization", 4: "BatchNormalization", 5: "PReLU"}
GPU_ACTIVATIONS = 12  # codes 0 .. 11 (linear ... hard_sigmoid) have CUDA kernels
RELU, ELU, LEAKY_RELU = 1, 5, 9  # the codes of the functions with arguments
SPARSE_CE, BINARY_CE, LOGISTIC = 0, 2, 6
# the codes with CUDA kernels: sparse_categorical_crossentropy ... logistic, the focal losses
GPU_LOSSES = {*range(7), BINARY_FOCAL, CATEGORICAL_FOCAL}
LOSS_CODES = 18  # enum class LossKind in loss.hpp
PROBABILITIES, LOGITS, FUSED = range(3)
SUM_FIELDS = ("loss", "correct", "compared", "squared_error", "absolute_error")


class Sums:
    """Running sums of one call, with the fields of `fastmlp._core.Sums`."""

    def __init__(self, steps: int, samples: int, values: np.ndarray) -> None:
        self.steps, self.samples = steps, samples
        for name, value in zip(SUM_FIELDS, values):
            setattr(self, name, float(value))
        # (no confusion or rank counts; no weighted counts: this engine takes no sample weights)
        self.positive_buckets = self.negative_buckets = self.ranks = self.max_counts = np.zeros(0)
        self.weighted = None


def _cpu_only(wanted: bool, what: str) -> None:
    if wanted:
        raise NotImplementedError(
            f"{what}: computed by the CPU engine only (yet); use model.to('cpu')"
        )


def _finite_nonnegative(value: float, what: str) -> float:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{what} must be a finite number >= 0, got {value}")
    return float(value)


def _activation_param(i: int, spec: Any) -> float:
    """The one argument of the layer's function that this engine computes: leaky_relu's negative
    slope, elu's alpha (>= 0: the backward pass reads the output); refused by name otherwise."""
    act = int(spec.activation)
    if act == RELU and (spec.negative_slope or spec.max_value is not None or spec.threshold):
        raise NotImplementedError(
            f"layer {i}: relu with arguments (ReLU(max_value={spec.max_value}, negative_slope="
            f"{spec.negative_slope}, threshold={spec.threshold})) is computed by the CPU engine "
            "only (yet); the GPU engine has ReLU with a negative_slope alone, LeakyReLU and ELU"
        )
    if (act == LEAKY_RELU and spec.leaky_slope < 0) or (act == ELU and spec.alpha < 0):
        name, what = ("leaky_relu", "slope") if act == LEAKY_RELU else ("elu", "alpha")
        raise NotImplementedError(
            f"layer {i}: {name} with a negative {what} is computed by the CPU engine only (yet)"
        )
    return float(spec.leaky_slope if act == LEAKY_RELU else spec.alpha if act == ELU else 0.0)


def plan_layers(input_dim: int, specs: list[Any]) -> tuple[list[SimpleNamespace], int, int]:
    """The layers of `specs` with their widths and parameter offsets: (layers, output width, count)."""
    if input_dim <= 0:
        raise ValueError(f"Network: input_dim must be > 0, got {input_dim}")
    if not specs:
        raise ValueError("Network: at least one layer is required")
    layers, width, offset = [], int(input_dim), 0
    for i, spec in enumerate(specs):
        if int(spec.kind) >= NORMALIZATION:
            name = CPU_LAYERS.get(int(spec.kind), f"layer kind {int(spec.kind)}")
            raise NotImplementedError(f"layer {i}: {name} is computed by the CPU engine only (yet)")
        if int(spec.kind) != DROPOUT and int(spec.activation) >= GPU_ACTIVATIONS:
            from fastmlp import activations

            name = list(activations._FUNCTIONS)[int(spec.activation)]
            raise NotImplementedError(
                f"layer {i}: activation {name!r} is computed by the CPU engine only (yet); "
                "the GPU engine has linear ... hard_sigmoid"
            )
        layer = SimpleNamespace(
            kind=int(spec.kind), act=int(spec.activation), rate=float(spec.rate), n_in=width,
            w=None, b=None, kernel=(spec.kernel_l1, spec.kernel_l2), bias=(spec.bias_l1, spec.bias_l2),
            param=_activation_param(i, spec) if int(spec.kind) != DROPOUT else 0.0,
        )  # fmt: skip
        if layer.kind == DENSE:
            if spec.units <= 0:
                raise ValueError(f"layer {i}: Dense units must be > 0, got {spec.units}")
            for value, what in zip(
                (*layer.kernel, *layer.bias),
                ("kernel_regularizer",) * 2 + ("bias_regularizer",) * 2,
            ):
                _finite_nonnegative(value, f"{what}: l1 and l2")
            layer.n_out = int(spec.units)
            layer.w = (offset, width * layer.n_out)
            offset += width * layer.n_out
            if spec.use_bias:
                layer.b = (offset, layer.n_out)
                offset += layer.n_out
        elif layer.kind in (ACTIVATION, DROPOUT):
            if layer.kind == DROPOUT and not 0 <= layer.rate < 1:
                raise ValueError(f"layer {i}: Dropout rate must be in [0, 1), got {layer.rate}")
            layer.n_out = width
        else:
            raise ValueError(f"layer {i}: unknown layer kind")
        width = layer.n_out
        layers.append(layer)
    return layers, width, offset


class NetworkSettings:
    """The settings half of `engine.ArrayNetwork` (which owns the arrays these methods touch)."""

    @property
    def target_dim(self) -> int:
        return 1 if self._loss == SPARSE_CE else self.output_dim

    @property
    def loss_mode(self) -> int:
        return self._mode

    @property
    def iterations(self) -> int:
        return self._iterations

    @contextlib.contextmanager
    def _claim(self) -> Iterator[None]:
        """One call at a time: a second thread gets a clear error, never a data race."""
        if not self._lock.acquire(blocking=False):
            raise RuntimeError(
                "this model is being used by another thread; a model can run one call at a time "
                "(use one model per thread)"
            )
        try:
            with self.ops.active():
                yield
        finally:
            self._lock.release()

    def _changed(self) -> None:
        """Settings baked into captured steps changed: capture again."""
        self._graphs.clear()
        self._eager_steps.clear()

    def set_loss(
        self,
        kind: int,
        from_logits: bool = False,
        delta: float = 1.0,
        gamma: float = 2.0,
        alpha: float = 0.25,
        class_balancing: bool = False,
    ) -> None:
        """As the C++ network's, with its checks of the loss's arguments (validate_loss)."""
        if not 0 <= kind < LOSS_CODES:
            raise ValueError(f"loss: unknown code {kind}")
        if kind not in GPU_LOSSES:
            from fastmlp import losses

            name = next(c.default_name for c in losses._CLASSES.values() if c.kind == kind)
            raise NotImplementedError(
                f"loss {name!r} is computed by the CPU engine only (yet); the GPU engine has "
                "the cross-entropies (focal ones too), mean_squared_error, mean_absolute_error, "
                "hinge and logistic"
            )
        if kind in (BINARY_FOCAL, CATEGORICAL_FOCAL):
            name = "binary" if kind == BINARY_FOCAL else "categorical"
            if not (gamma >= 0 and math.isfinite(gamma)):
                raise ValueError(
                    f"{name}_focal_crossentropy: gamma must be a finite number >= 0, got {gamma}"
                )
            if not 0 <= alpha <= 1:
                raise ValueError(
                    f"{name}_focal_crossentropy: alpha must be a number in [0, 1], got {alpha}"
                )
        if kind == SPARSE_CE and self.output_dim < 2:
            raise ValueError(
                "sparse_categorical_crossentropy needs an output layer with >= 2 units, got "
                f"{self.output_dim}"
            )
        last = self._layers[-1]
        binary = kind in (BINARY_CE, BINARY_FOCAL)
        fusable = (kind in (0, 1) and last.act == SOFTMAX) or (binary and last.act == 2)
        if not from_logits and last.kind != DROPOUT and fusable:
            self._mode = FUSED
        elif from_logits or kind == LOGISTIC:
            self._mode = LOGITS
        else:
            self._mode = PROBABILITIES
        self._loss, self._from_logits = int(kind), bool(from_logits)
        self._loss_params = SimpleNamespace(
            gamma=float(gamma), alpha=float(alpha), class_balancing=bool(class_balancing)
        )
        self._changed()

    def set_accuracy(self, mode: int, output_threshold: float = 0.5, target_threshold: float = 0.5):
        if not 0 <= mode <= 3:
            raise ValueError("accuracy mode must be 0..3")
        rule = (int(mode), float(output_threshold), float(target_threshold))
        if rule != self._accuracy:
            self._accuracy = rule
            self._changed()

    def set_confusion_thresholds(self, thresholds: list[float], positive_above: float = 0) -> None:
        _cpu_only(
            len(thresholds) > 0, "metrics from confusion counts (Precision, Recall, AUC, ...)"
        )

    def set_rank_counts(self, on: bool) -> None:
        _cpu_only(on, "top-k accuracies")

    def set_max_counts(self, on: bool) -> None:
        _cpu_only(on, "F-scores without a threshold")

    def set_weighted_metrics(self, on: bool) -> None:
        """Nothing to set: this engine refuses sample weights (`_no_sample_weights`), and
        without them the weighted metrics are the plain ones, which it counts."""

    def set_error_metrics(self, squared: bool, absolute: bool) -> None:
        self._errors = (bool(squared), bool(absolute), *self._errors[2:])
        self._changed()

    def set_error_targets(self, scale: float, offset: float) -> None:
        errors = (*self._errors[:2], float(scale), float(offset))
        if errors != self._errors:
            self._errors = errors
            self._changed()

    def set_frozen_layers(self, frozen: list[int]) -> None:
        """Freeze exactly these layers (indices), unfreeze the others: their parameters and slots
        stay, their penalty is neither in the loss nor in the gradient (as the C++ engine's)."""
        if any(isinstance(i, bool) or not 0 <= i < len(self._layers) for i in frozen):
            raise ValueError(f"frozen: expected layer indices in [0, {len(self._layers)})")
        with self._claim():
            if sorted(set(frozen)) != self._frozen:
                self._frozen = sorted(set(frozen))
                self._changed()

    def trainable(self, layer: int) -> bool:
        if isinstance(layer, bool) or not 0 <= layer < len(self._layers):
            raise ValueError(f"layer: expected an index in [0, {len(self._layers)}), got {layer}")
        return layer not in self._frozen

    def trains(self) -> bool:
        """Whether a step trains anything: some layer with a kernel or bias is not frozen (a step
        that trains nothing leaves the optimizer alone, as the C++ engine's)."""
        return any(
            (layer.w is not None or layer.b is not None) and i not in self._frozen
            for i, layer in enumerate(self._layers)
        )

    def _frozen_parts(self) -> list[tuple[int, int]]:
        """(offset, size) of the frozen layers' kernels and biases."""
        return [
            part
            for i in self._frozen
            for part in (self._layers[i].w, self._layers[i].b)
            if part is not None
        ]

    def set_clipping(self, clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0) -> None:
        for value in (clipnorm, clipvalue, global_clipnorm):
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError("clipping values must be finite and >= 0")
        self._clipping = (float(clipnorm), float(clipvalue), float(global_clipnorm))
        self._changed()

    def set_optimizer(self, config: Any) -> None:
        snapshot = SimpleNamespace(**{k: getattr(config, k) for k in vars(self._optimizer)})
        for key in (
            "learning_rate",
            "momentum",
            "epsilon",
            "weight_decay",
            "initial_accumulator_value",
            "l1_regularization_strength",
            "l2_regularization_strength",
            "l2_shrinkage_regularization_strength",
            "beta",
        ):
            _finite_nonnegative(getattr(snapshot, key), f"optimizer: {key}")
        if not (snapshot.learning_rate_power <= 0 and math.isfinite(snapshot.learning_rate_power)):
            raise ValueError("optimizer: learning_rate_power must be a finite number <= 0")
        if snapshot.kind == LION:  # (Keras: beta_1 = 0 would be SignSGD)
            if not 0 < snapshot.beta_1 <= 1:
                raise ValueError("optimizer: beta_1 must be in (0, 1]")
            if not 0 <= snapshot.beta_2 <= 1:
                raise ValueError("optimizer: beta_2 must be in [0, 1]")
        for key in ("rho",) if snapshot.kind == LION else ("beta_1", "beta_2", "rho"):
            if not 0 <= getattr(snapshot, key) < 1:
                raise ValueError(f"optimizer: {key} must be in [0, 1)")
        if not 0 <= snapshot.kind <= FTRL:
            raise ValueError("optimizer: unknown kind")
        with self._claim():
            self._optimizer = snapshot
            self._hyper[0] = snapshot.learning_rate
            self._hyper[1] = 1.0
            self._rates = None
            self._slots = []
            self._set_iterations(0)
            self._changed()

    def set_learning_rate(self, lr: float) -> None:
        if not (lr >= 0 and math.isfinite(lr)):
            raise ValueError(f"learning_rate must be a finite number >= 0, got {lr}")
        with self._claim():
            self._optimizer.learning_rate = float(lr)
            self._hyper[0] = float(lr)  # read by the captured steps from device memory
            self._rates = None

    def set_learning_rates(self, first: int, rates: Any) -> None:
        """A learning rate for each step from step `first` on (a schedule's values), as the C++
        optimizer's set_learning_rates; an empty array: the constant rate again."""
        table = np.ascontiguousarray(rates, dtype=np.float64)
        if table.ndim != 1:
            raise ValueError("learning rates: expected a 1-d array")
        if not (np.isfinite(table) & (table >= 0)).all():
            raise ValueError("learning rates must be finite numbers >= 0")
        if first < 0:
            raise ValueError("learning rates: the first step must be >= 0")
        with self._claim():
            self._rates = (int(first), table) if table.size else None
            if self._rates is None:
                self._hyper[0] = self._optimizer.learning_rate

    def _schedule_step(self) -> None:
        """Before a step: its rate from the table into device memory, where the update (captured
        or not) reads it; refused, before anything changes, for a step the table does not cover
        (and for Ftrl, whose update divides by it, a rate of 0)."""
        lr = self._optimizer.learning_rate
        if self._rates is not None:
            first, table = self._rates
            i = self._iterations - first
            if not 0 <= i < table.size:
                raise RuntimeError(
                    f"learning rates: none given for step {self._iterations} (the table covers "
                    f"steps {first} to {first + table.size - 1})"
                )
            lr = float(table[i])
        if self._optimizer.kind == FTRL and not lr > 0 and self.trains():
            raise ValueError(
                "Ftrl: learning_rate must be > 0 (its update divides by it), got "
                f"{lr} for step {self._iterations}"
            )
        if self._rates is not None:
            self._hyper[0] = lr

    def _slot_count(self) -> int:
        c = self._optimizer
        return {
            0: int(c.momentum > 0),
            1: 3 if c.amsgrad else 2,
            2: 1 + int(c.momentum > 0) + int(c.centered),
            3: 1,
            4: 2,
            5: 2,  # Nadam: m, v
            6: 2,  # Adamax: m, u
            7: 1,  # Lion: m
            8: 2,  # Ftrl: accumulator, linear
        }[c.kind]

    def _set_iterations(self, iterations: int) -> None:
        self._iterations = int(iterations)
        self._state[ITER] = int(iterations)

    def get_optimizer_state(self) -> tuple[int, list[np.ndarray], list[float]]:
        """(iterations, slots, scalars) as the C++ network's: the scalars are Nadam's u_product
        (once its slots are built)."""
        with self._claim():
            slots = [self.ops.to_host(s) for s in self._slots]
            scalars = []
            if slots and self._optimizer.kind == NADAM:
                scalars = [float(self.ops.to_host(self._hyper)[1])]
            return self._iterations, slots, scalars

    def set_optimizer_state(self, iterations: int, slots: list[Any], scalars: list[float]) -> None:
        if slots and len(slots) != self._slot_count():
            raise ValueError(
                f"optimizer state: expected {self._slot_count()} slot arrays, got {len(slots)}"
            )
        if iterations < 0:
            raise ValueError("optimizer state: iterations must be >= 0")
        arrays = [np.asarray(s, dtype=self.dtype) for s in slots]
        if any(a.ndim != 1 or a.shape[0] != self.param_count for a in arrays):
            raise ValueError(f"optimizer state: each slot must hold {self.param_count} values")
        wanted = int(bool(slots) and self._optimizer.kind == NADAM)
        if len(scalars) != wanted:
            raise ValueError(
                f"optimizer state: expected {wanted} scalar values (Nadam's u_product, with its "
                f"slots), got {len(scalars)}"
            )
        if any(not 0 <= u <= 1 for u in scalars):
            raise ValueError(f"optimizer state: u_product must be in [0, 1], got {scalars[0]}")
        with self._claim():
            self._slots = [self.ops.to_device(a, self.dtype) for a in arrays]
            self._hyper[1] = float(scalars[0]) if scalars else 1.0
            self._set_iterations(iterations)
            self._changed()

    def get_rng_state(self) -> list[int]:
        with self._claim():
            return [self._seed, int(self.ops.to_host(self._state)[RNG]), 0, 0]

    def set_rng_state(self, words: Any) -> None:
        words = [int(w) for w in words]
        if len(words) != 4:
            raise ValueError("rng state: expected 4 words")
        with self._claim():
            self._seed = words[0] & (2**64 - 1)
            self._state[RNG] = words[1] & (2**63 - 1)
            self._changed()
