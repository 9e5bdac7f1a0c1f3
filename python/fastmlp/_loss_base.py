"""The base class of fastmlp's losses (public as `fastmlp.losses.Loss`), the bases of the binary and
categorical cross-entropies (plain and focal: from_logits, label smoothing) and Keras's epsilon."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

_EPS = 1e-7  # probabilities are clipped to [eps, 1 - eps] before a log, as Keras does


class Loss:
    """Base class: a loss the engine knows, with its Keras name and config.

    Args:
        name: Name shown in logs. Defaults to the Keras name of the loss.
    """

    kind: int = -1  # the engine's code (enum class LossKind in loss.hpp)
    default_name = "loss"
    sparse = False  # labels are class indices, not one value per output
    from_logits = False

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.default_name

    @property
    def engine_params(self) -> dict[str, Any]:
        """The loss's arguments as the engine's `set_loss` takes them (LossParams in loss.hpp):
        Huber's delta, the focal losses' gamma, alpha and class_balancing; none for the others."""
        return {}

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """One loss per sample, as Keras's `Loss.call` and loss functions: a NumPy float64 array
        of shape (samples,), or a float64 scalar for one sample given as a 1-D y_pred (Keras
        reads a 1-D y_pred as one sample's outputs; so does fastmlp)."""
        y_pred = np.asarray(y_pred, dtype=np.float64)
        y_true = np.asarray(y_true, dtype=np.float64)
        if y_pred.ndim not in (1, 2):
            raise ValueError(f"y_pred must be 1-D (one sample) or 2-D, got shape {y_pred.shape}")
        one = y_pred.ndim == 1
        if one:
            y_pred, y_true = y_pred[None, :], y_true.reshape(1, -1)
        if self.sparse:
            y_true = y_true.reshape(-1)
        elif y_true.ndim == 1:
            y_true = y_true[:, None]
        if (y_true.shape[0] if self.sparse else y_true.shape) != (
            y_pred.shape[0] if self.sparse else y_pred.shape
        ):
            raise ValueError(
                f"y_true of shape {y_true.shape} does not match y_pred of shape {y_pred.shape}"
            )
        per = np.asarray(self.per_sample(y_true, y_pred), dtype=np.float64)
        return per[0] if one else per

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
        """The batch's loss as Keras's default reduction ("sum_over_batch_size"): the mean of
        `call`'s per-sample losses, or with sample_weight (one per sample) sum(w * loss) / n; in
        NumPy (float64)."""
        per = np.atleast_1d(self.call(y_true, y_pred))
        if sample_weight is None:
            return float(np.mean(per))
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 2 and w.shape[1] == 1:
            w = w[:, 0]
        if w.ndim > 1 or (w.ndim == 1 and w.shape[0] != per.shape[0]):
            raise ValueError(
                f"sample_weight must be a number or one weight per sample ({per.shape[0]}), "
                f"got shape {w.shape}"
            )
        return float(np.sum(w * per) / per.shape[0])

    def prepare_targets(self, y: np.ndarray) -> np.ndarray:
        """Targets as the engine reads them (label smoothing, {0, 1} -> {-1, +1}, ...)."""
        return y

    def target_map(self, y: np.ndarray) -> tuple[float, float]:
        """(scale, offset) with y == scale * prepare_targets(y) + offset: how the mse / mae
        metrics get back the targets as passed (Keras's metrics never see prepared ones)."""
        return 1.0, 0.0

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class CrossentropyBase(Loss):
    """A cross-entropy with Keras's `from_logits` and `label_smoothing` (in [0, 1)) (internal)."""

    def __init__(
        self, from_logits: bool = False, label_smoothing: float = 0.0, name: str | None = None
    ) -> None:
        super().__init__(name)
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
            raise TypeError(f"label_smoothing must be a number in [0, 1), got {label_smoothing!r}")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }


class BinaryCrossentropyBase(CrossentropyBase):
    """A loss on targets in [0, 1], each output on its own; label smoothing squeezes them towards
    0.5 (internal: binary cross-entropy, plain and focal)."""

    def prepare_targets(self, y):
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        return y

    def target_map(self, y):
        ls = self.label_smoothing
        return 1 / (1 - ls), -0.5 * ls / (1 - ls)


class CategoricalCrossentropyBase(CrossentropyBase):
    """A loss on one-hot targets (or distributions) over the outputs; label smoothing mixes them
    with the uniform distribution (internal: categorical cross-entropy, plain and focal)."""

    def prepare_targets(self, y):
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + self.label_smoothing / y.shape[1]
        return y

    def target_map(self, y):
        ls = self.label_smoothing
        return 1 / (1 - ls), -ls / y.shape[1] / (1 - ls)
