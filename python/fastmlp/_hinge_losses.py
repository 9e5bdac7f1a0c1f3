"""Margin losses (public as `fastmlp.losses.X`): hinge, squared hinge and logistic on labels in
{-1, +1}, and the categorical hinge on one-hot targets.

Labels in {0, 1} are converted to {-1, +1}, as Keras's hinge and squared hinge do.
"""

from __future__ import annotations

import numpy as np

from fastmlp._loss_base import Loss


def _zero_one(y: np.ndarray) -> bool:
    return bool(np.all((y == 0) | (y == 1)))


def _to_pm1(y: np.ndarray) -> np.ndarray:
    """{0, 1} targets become {-1, +1}; targets already in {-1, +1} are kept."""
    return 2 * y - 1 if _zero_one(y) else y


class _PlusMinusOne(Loss):
    """A loss for labels in {-1, +1}, to which {0, 1} labels are converted."""

    def prepare_targets(self, y):
        return _to_pm1(y)

    def target_map(self, y):
        return (0.5, 0.5) if _zero_one(y) else (1.0, 0.0)


class Hinge(_PlusMinusOne):
    """mean(max(1 - y * y_pred, 0)) for labels in {-1, +1} ({0, 1} labels are converted).

    Args:
        name: Defaults to "hinge".
    """

    kind = 5
    default_name = "hinge"

    def per_sample(self, y_true, y_pred):
        return np.mean(np.maximum(1 - _to_pm1(y_true) * y_pred, 0), axis=1)


class LogisticLoss(_PlusMinusOne):
    """Logistic regression's loss log(1 + exp(-y * score)) for labels in {-1, +1}.

    The model's output is read as a score w.x + b (use a linear output layer); {0, 1} labels are
    converted to {-1, +1}. With a single linear unit this is logistic regression.

    Args:
        name: Defaults to "logistic".
    """

    kind = 6
    default_name = "logistic"

    def per_sample(self, y_true, y_pred):
        m = -_to_pm1(y_true) * y_pred
        return np.mean(np.maximum(m, 0) + np.log1p(np.exp(-np.abs(m))), axis=1)


class SquaredHinge(_PlusMinusOne):
    """mean(max(1 - y * y_pred, 0)^2) for labels in {-1, +1} ({0, 1} labels are converted).

    Args:
        name: Defaults to "squared_hinge".
    """

    kind = 13
    default_name = "squared_hinge"

    def per_sample(self, y_true, y_pred):
        return np.mean(np.maximum(1 - _to_pm1(y_true) * y_pred, 0) ** 2, axis=1)


class CategoricalHinge(Loss):
    """max(neg - pos + 1, 0) per sample, for one-hot targets: pos = sum(y_true * y_pred) is the
    true class's score, neg = max((1 - y_true) * y_pred) the best other class's.

    Args:
        name: Defaults to "categorical_hinge".
    """

    kind = 14
    default_name = "categorical_hinge"

    def per_sample(self, y_true, y_pred):
        pos = np.sum(y_true * y_pred, axis=1)
        neg = np.max((1 - y_true) * y_pred, axis=1)
        return np.maximum(neg - pos + 1, 0)
