"""The base class of fastmlp's losses (public as `fastmlp.losses.Loss`) and Keras's epsilon."""

from __future__ import annotations

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
    param = 1.0  # the engine's loss parameter (Huber's delta; ignored by the other losses)

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.default_name

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """Mean loss over the batch, in NumPy (float64)."""
        y_pred = np.asarray(y_pred, dtype=np.float64)
        y_true = np.asarray(y_true, dtype=np.float64)
        if y_pred.ndim == 1:
            y_pred = y_pred[:, None]
        if not self.sparse and y_true.ndim == 1:
            y_true = y_true[:, None]
        return float(np.mean(self.per_sample(y_true, y_pred)))

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
