"""Losses on real-valued targets (public as `fastmlp.losses.X`), with Keras 3's formulas.

Mean squared, absolute, absolute percentage and squared logarithmic error, Huber, log-cosh, Poisson
and cosine similarity. Keras's epsilon (1e-7) keeps logs and divisions finite where it does.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from fastmlp._loss_base import _EPS, Loss


class MeanSquaredError(Loss):
    """Mean of squared differences over the outputs.

    Args:
        name: Defaults to "mean_squared_error".
    """

    kind = 3
    default_name = "mean_squared_error"

    def per_sample(self, y_true, y_pred):
        return np.mean((y_pred - y_true) ** 2, axis=1)


class MeanAbsoluteError(Loss):
    """Mean of absolute differences over the outputs.

    Args:
        name: Defaults to "mean_absolute_error".
    """

    kind = 4
    default_name = "mean_absolute_error"

    def per_sample(self, y_true, y_pred):
        return np.mean(np.abs(y_pred - y_true), axis=1)


class MeanAbsolutePercentageError(Loss):
    """100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7)) over the outputs.

    Args:
        name: Defaults to "mean_absolute_percentage_error".
    """

    kind = 10
    default_name = "mean_absolute_percentage_error"

    def per_sample(self, y_true, y_pred):
        return 100 * np.mean(np.abs(y_true - y_pred) / np.maximum(np.abs(y_true), _EPS), axis=1)


class MeanSquaredLogarithmicError(Loss):
    """mean((log(1 + y_pred) - log(1 + y_true))^2) over the outputs; values below 1e-7 (zero and
    negative ones included) count as 1e-7.

    Args:
        name: Defaults to "mean_squared_logarithmic_error".
    """

    kind = 9
    default_name = "mean_squared_logarithmic_error"

    def per_sample(self, y_true, y_pred):
        d = np.log1p(np.maximum(y_pred, _EPS)) - np.log1p(np.maximum(y_true, _EPS))
        return np.mean(d**2, axis=1)


class Huber(Loss):
    """Quadratic for small errors, linear for large ones: with e = y_pred - y_true, the mean over
    the outputs of e^2 / 2 where |e| <= delta, else delta * |e| - delta^2 / 2.

    Args:
        delta: Where the loss turns from quadratic to linear; a number > 0. Defaults to 1.0.
        name: Defaults to "huber_loss".

    Example:
        >>> Huber(delta=0.5)([[0.0, 1.0]], [[0.25, 0.0]])  # (0.25**2 / 2 + 0.5 - 0.125) / 2
        0.203125
    """

    kind = 7
    default_name = "huber_loss"

    def __init__(self, delta: float = 1.0, name: str | None = None) -> None:
        super().__init__(name)
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real):
            raise TypeError(f"Huber: delta must be a number > 0, got {delta!r}")
        if not (delta > 0 and math.isfinite(delta)):
            raise ValueError(f"Huber: delta must be a finite number > 0, got {delta}")
        self.delta = float(delta)

    @property
    def engine_params(self) -> dict[str, Any]:
        return {"delta": self.delta}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}

    def per_sample(self, y_true, y_pred):
        e = np.abs(y_pred - y_true)
        d = self.delta
        return np.mean(np.where(e <= d, 0.5 * e**2, d * e - 0.5 * d**2), axis=1)


class LogCosh(Loss):
    """mean(log(cosh(y_pred - y_true))) over the outputs: about e^2 / 2 for small errors e and
    |e| - log(2) for large ones.

    Args:
        name: Defaults to "log_cosh".
    """

    kind = 8
    default_name = "log_cosh"

    def per_sample(self, y_true, y_pred):
        e = y_pred - y_true
        return np.mean(e + np.logaddexp(0.0, -2 * e) - np.log(2.0), axis=1)


class Poisson(Loss):
    """mean(y_pred - y_true * log(y_pred + 1e-7)) over the outputs, for counts y_true and a
    positive predicted rate y_pred (e.g. an "exponential" or "softplus" output).

    Args:
        name: Defaults to "poisson".
    """

    kind = 11
    default_name = "poisson"

    def per_sample(self, y_true, y_pred):
        return np.mean(y_pred - y_true * np.log(y_pred + _EPS), axis=1)


def _unit_rows(v: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm, the norm taken as at least 1e-7 (Keras's normalize)."""
    with np.errstate(divide="ignore"):  # a zero row: 1 / 0 = inf, capped at 1 / eps
        return v * np.minimum(1 / np.sqrt((v**2).sum(axis=1, keepdims=True)), 1 / _EPS)


class CosineSimilarity(Loss):
    """-sum(y_true / |y_true| * y_pred / |y_pred|) per sample: -1 when they point the same way, 0
    when orthogonal or when either is zero (norms below 1e-7 count as 1e-7).

    Args:
        axis: The features axis; only -1 (the model's output is (batch, features)). Defaults to -1.
        name: Defaults to "cosine_similarity".
    """

    kind = 15
    default_name = "cosine_similarity"

    def __init__(self, axis: int = -1, name: str | None = None) -> None:
        super().__init__(name)
        if isinstance(axis, bool) or axis != -1:
            raise ValueError(
                f"CosineSimilarity: axis must be -1, the features axis of the model's (batch, "
                f"features) output, got {axis!r}"
            )
        self.axis = -1

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}

    def per_sample(self, y_true, y_pred):
        return -(_unit_rows(y_true) * _unit_rows(y_pred)).sum(axis=1)
