"""The focal cross-entropies (public as `fastmlp.losses.X`), with Keras 3's formulas.

Lin et al. 2017, "Focal Loss for Dense Object Detection": each output's cross-entropy is scaled by
(1 - p_t)^gamma, where p_t is the probability the model gives the target, so that the examples it
already gets right weigh little and training dwells on the hard ones. gamma = 0 gives back the
plain cross-entropies (times alpha for the categorical one).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from fastmlp._loss_base import _EPS, BinaryCrossentropyBase, CategoricalCrossentropyBase


def _gamma(loss: str, gamma: Any) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"{loss}: gamma must be a number >= 0, got {gamma!r}")
    if not (gamma >= 0 and math.isfinite(gamma)):
        raise ValueError(f"{loss}: gamma must be a finite number >= 0, got {gamma}")
    return float(gamma)


def _alpha(loss: str, alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"{loss}: alpha must be a number in [0, 1], got {alpha!r}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"{loss}: alpha must be a number in [0, 1], got {alpha}")
    return float(alpha)


class BinaryFocalCrossentropy(BinaryCrossentropyBase):
    """Binary cross-entropy times the focal factor (1 - p_t)^gamma, averaged over the outputs,
    for targets t in [0, 1]: p_t = t * p + (1 - t) * (1 - p) for the predicted probability p. With
    class balancing, each output's term is also weighted by alpha where t = 1, 1 - alpha where
    t = 0 (t * alpha + (1 - t) * (1 - alpha) in between).

    On logits (from_logits=True, or the logits behind a sigmoid output, as Keras on TensorFlow
    reads them in training) the cross-entropy is computed from the logits; on probabilities, they
    are clipped to [1e-7, 1 - 1e-7] first.

    Args:
        apply_class_balancing: Weight the classes 1 and 0 by alpha and 1 - alpha.
            Defaults to False.
        alpha: The weight of class 1 when balancing, a number in [0, 1]. Defaults to 0.25.
        gamma: The focusing exponent, a number >= 0 (0: binary cross-entropy). Defaults to 2.0.
        from_logits: Whether the model outputs logits. Defaults to False.
        label_smoothing: Squeeze targets towards 0.5 by this amount. Defaults to 0.
        name: Defaults to "binary_focal_crossentropy".

    Example:
        >>> BinaryFocalCrossentropy().call([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
        array([0.32986466, 0.20579838])
    """

    kind = 16
    default_name = "binary_focal_crossentropy"

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        name: str | None = None,
    ) -> None:
        super().__init__(from_logits, label_smoothing, name)
        self.apply_class_balancing = bool(apply_class_balancing)
        self.alpha = _alpha(type(self).__name__, alpha)
        self.gamma = _gamma(type(self).__name__, gamma)

    @property
    def engine_params(self) -> dict[str, Any]:
        return {
            "gamma": self.gamma,
            "alpha": self.alpha,
            "class_balancing": self.apply_class_balancing,
        }

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "apply_class_balancing": self.apply_class_balancing,
            "alpha": self.alpha,
            "gamma": self.gamma,
        }

    def per_sample(self, y_true, y_pred):
        t = self.prepare_targets(y_true)
        if self.from_logits:
            z = y_pred
            with np.errstate(over="ignore"):  # (e^-z = inf: p = 0)
                p = 1 / (1 + np.exp(-z))
            bce = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
        else:
            p = y_pred
            pc = np.clip(p, _EPS, 1 - _EPS)
            bce = -(t * np.log(pc) + (1 - t) * np.log(1 - pc))
        focal = (1 - (t * p + (1 - t) * (1 - p))) ** self.gamma * bce
        if self.apply_class_balancing:
            focal = (t * self.alpha + (1 - t) * (1 - self.alpha)) * focal
        return np.mean(focal, axis=1)


class CategoricalFocalCrossentropy(CategoricalCrossentropyBase):
    """Categorical cross-entropy with each class's term scaled by alpha * (1 - q)^gamma, summed
    over the classes, for one-hot targets y (or distributions): sum(alpha * (1 - q)^gamma *
    (-y * log(q))) per sample, where q is the predicted distribution rescaled to sum to 1 and
    clipped to [1e-7, 1 - 1e-7] (the softmax of the logits first, with from_logits=True).

    Args:
        alpha: The weight of every class, a number in [0, 1] (Keras's list of per-class weights
            is not taken). Defaults to 0.25.
        gamma: The focusing exponent, a number >= 0 (0: alpha * categorical cross-entropy).
            Defaults to 2.0.
        from_logits: Whether the model outputs logits. Defaults to False.
        label_smoothing: Mix targets with the uniform distribution by this amount. Defaults to 0.
        name: Defaults to "categorical_focal_crossentropy".

    Example:
        >>> y, p = [[0, 1, 0], [0, 0, 1]], [[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]]
        >>> CategoricalFocalCrossentropy().call(y, p)
        array([2.63401289e-04, 6.75912094e-01])
    """

    kind = 17
    default_name = "categorical_focal_crossentropy"

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        name: str | None = None,
    ) -> None:
        super().__init__(from_logits, label_smoothing, name)
        self.alpha = _alpha(type(self).__name__, alpha)
        self.gamma = _gamma(type(self).__name__, gamma)

    @property
    def engine_params(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "alpha": self.alpha}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma}

    def per_sample(self, y_true, y_pred):
        t = self.prepare_targets(y_true)
        p = y_pred
        if self.from_logits:
            e = np.exp(p - p.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
        q = np.clip(p / p.sum(axis=1, keepdims=True), _EPS, 1 - _EPS)
        return np.sum(self.alpha * (1 - q) ** self.gamma * (-t * np.log(q)), axis=1)


def binary_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
) -> Any:
    """Binary focal cross-entropy (see `BinaryFocalCrossentropy`), one per sample."""
    loss = BinaryFocalCrossentropy(
        apply_class_balancing, alpha, gamma, from_logits, label_smoothing
    )
    return loss.call(y_true, y_pred)


def categorical_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
) -> Any:
    """Categorical focal cross-entropy (see `CategoricalFocalCrossentropy`), one per sample."""
    loss = CategoricalFocalCrossentropy(alpha, gamma, from_logits, label_smoothing)
    return loss.call(y_true, y_pred)
