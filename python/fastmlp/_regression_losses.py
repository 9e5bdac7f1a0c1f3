"""Losses on real-valued targets (public as `fastmlp.losses.X`): mean squared and absolute error."""

from __future__ import annotations

import numpy as np

from fastmlp._loss_base import Loss


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
