"""Metrics over many thresholds of the confusion counts (`_confusion`): the area under the ROC or
precision-recall curve (Keras's AUC), and the best sensitivity / specificity / precision / recall
at a threshold where the other rate reaches a value.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from fastmlp._confusion import (
    ConfusionMetric,
    Counts,
    class_id_arg,
    divide_no_nan,
    evenly_spaced,
    probability_arg,
)

__all__ = [
    "AUC",
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
]

_EPSILON = 1e-7  # Keras's AUC adds thresholds at -epsilon and 1 + epsilon


def even_thresholds_arg(num_thresholds: Any, least: int) -> int:
    if (
        isinstance(num_thresholds, bool)
        or not isinstance(num_thresholds, numbers.Integral)
        or num_thresholds < least
    ):
        raise ValueError(f"num_thresholds must be an integer >= {least}, got {num_thresholds!r}")
    return int(num_thresholds)


class AUC(ConfusionMetric):
    """Area under the ROC curve (or the precision-recall curve), from counts at thresholds in
    [0, 1], as Keras's AUC computes it (a Riemann sum between the thresholds).

    Args:
        num_thresholds: How many thresholds (evenly spaced; plus -epsilon and 1 + epsilon at the
            ends). Defaults to 200.
        curve: "ROC" or "PR". Defaults to "ROC".
        summation_method: "interpolation" (trapezoids; for PR, Davis & Goadrich's interpolation),
            "minoring" or "majoring". Defaults to "interpolation".
        name: Defaults to "auc".
        dtype: Accepted and ignored (the engine's counts are exact).
        thresholds: Thresholds in [0, 1] instead of num_thresholds. Defaults to None.
        multi_label: One curve per output column, the AUCs averaged (False: every output counts
            in one curve). Defaults to False.
        num_labels: With multi_label, the number of outputs (checked). Defaults to None.
        label_weights: With multi_label, weights of the columns' AUCs. Defaults to None (mean).
        from_logits: The outputs are logits (sigmoid is applied first). Defaults to False.
    """

    default_name = "auc"

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: Any = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Any = None,
        from_logits: bool = False,
    ) -> None:
        super().__init__(name)
        if thresholds is not None:
            if not isinstance(thresholds, (list, tuple, np.ndarray)):
                raise ValueError(
                    f"thresholds must be a list of numbers in [0, 1], got {thresholds!r}"
                )
            inner = sorted(probability_arg(t, "thresholds") for t in thresholds)
            self.num_thresholds = len(inner) + 2
        else:
            self.num_thresholds = even_thresholds_arg(num_thresholds, 2)
            n = self.num_thresholds
            inner = [(i + 1) / (n - 1) for i in range(n - 2)]
        self._inner = inner
        self._given_thresholds = thresholds is not None
        # Keras clips the outputs to [0, 1] for evenly spaced thresholds (then the end points need
        # no counting) and compares them as they are for others
        self._evenly = evenly_spaced([0.0, *inner, 1.0])
        if str(curve).upper() not in ("ROC", "PR"):
            raise ValueError(f"curve must be 'ROC' or 'PR', got {curve!r}")
        self.curve = str(curve).upper()
        method = str(summation_method).lower()
        if method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(
                "summation_method must be 'interpolation', 'minoring' or 'majoring', "
                f"got {summation_method!r}"
            )
        self.summation_method = method
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError("num_labels is needed only when multi_label is True")
        self.num_labels = None if num_labels is None else int(num_labels)
        self.label_weights = None
        if label_weights is not None:
            if not self.multi_label:
                raise ValueError("label_weights apply only when multi_label is True")
            weights = np.asarray(label_weights, dtype=np.float64)
            if weights.ndim != 1 or not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ValueError(
                    f"label_weights must be one finite number >= 0 per output, got {label_weights!r}"
                )
            self.label_weights = weights
        self.from_logits = bool(from_logits)
        if self.from_logits and any(t in (0.0, 1.0) for t in inner):
            raise ValueError("AUC(from_logits=True): thresholds must lie strictly inside (0, 1)")

    @property
    def thresholds(self) -> list[float]:
        """The thresholds, the two end points included (as Keras's)."""
        return [-_EPSILON, *self._inner, 1 + _EPSILON]

    def engine_thresholds(self) -> list[float]:
        # Clipped outputs, and sigmoid(z) of logits, lie above -epsilon and none above
        # 1 + epsilon: those end points need no counting. On logits, sigmoid(z) > t where
        # z > log(t / (1 - t)).
        if self.from_logits:
            return [math.log(t / (1 - t)) for t in self._inner]
        if not self._evenly:
            return self.thresholds
        return list(self._inner)

    def result_of_counts(self, counts: Counts) -> float:
        columns = -1 if self.multi_label else None
        tp, fp, tn, fn = counts.at(self.engine_thresholds(), columns)
        if self.from_logits or self._evenly:
            positives, negatives = counts.totals(columns)
            zero = np.zeros_like(positives)
            tp = np.concatenate([positives, tp, zero])
            fp = np.concatenate([negatives, fp, zero])
            fn, tn = positives - tp, negatives - fp
        if self.curve == "PR" and self.summation_method == "interpolation":
            areas = _interpolated_pr_auc(tp, fp, fn)
        else:
            recall = divide_no_nan(tp, tp + fn)
            if self.curve == "ROC":
                x, y = divide_no_nan(fp, fp + tn), recall
            else:
                x, y = recall, divide_no_nan(tp, tp + fp)
            if self.summation_method == "interpolation":
                heights = (y[:-1] + y[1:]) / 2
            elif self.summation_method == "minoring":
                heights = np.minimum(y[:-1], y[1:])
            else:
                heights = np.maximum(y[:-1], y[1:])
            areas = np.sum((x[:-1] - x[1:]) * heights, axis=0)
        if not self.multi_label:
            return float(areas)
        if self.label_weights is None:
            return float(np.mean(areas))
        return float(divide_no_nan(np.sum(areas * self.label_weights), np.sum(self.label_weights)))

    def get_config(self) -> dict[str, Any]:
        config = {
            "name": self.name,
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        }
        if self._given_thresholds:
            config["thresholds"] = list(self._inner)
        return config


def _interpolated_pr_auc(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Keras's AUC.interpolate_pr_auc (Davis & Goadrich 2006): precision interpolated between
    consecutive thresholds as tp and the predicted positives vary linearly."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = divide_no_nan(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
    increments = divide_no_nan(
        slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)
    )
    return np.sum(increments, axis=0)


class _AtConstraint(ConfusionMetric):
    """The best of one rate over the thresholds where another rate reaches `value` (0 if none)."""

    def __init__(
        self, value: Any, num_thresholds: int = 200, class_id: Any = None, name: str | None = None
    ) -> None:
        super().__init__(name)
        self.value = probability_arg(value, self.argument)
        self.num_thresholds = even_thresholds_arg(num_thresholds, 1)
        self.class_id = class_id_arg(class_id)
        n = self.num_thresholds
        inner = [(i + 1) / (n - 1) for i in range(n - 2)]
        # (Keras clips the outputs to [0, 1] for these: none lies above the last, 1)
        self._thresholds = [0.5] if n == 1 else [0.0, *inner]

    argument = "value"

    def engine_thresholds(self) -> list[float]:
        return list(self._thresholds)

    def rates(self, tp, fp, tn, fn) -> tuple[np.ndarray, np.ndarray]:
        """(constrained, dependent) rates at each threshold."""
        raise NotImplementedError

    def result_of_counts(self, counts: Counts) -> float:
        tp, fp, tn, fn = counts.at(self._thresholds, self.class_id)
        if self.num_thresholds > 1:  # at 1: no output above, as Keras's clipped ones
            positives, negatives = counts.totals(self.class_id)
            tp, fp = np.append(tp, 0.0), np.append(fp, 0.0)
            tn, fn = np.append(tn, negatives), np.append(fn, positives)
        constrained, dependent = self.rates(tp, fp, tn, fn)
        return float(dependent[constrained >= self.value].max(initial=0.0))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            self.argument: self.value,
            "num_thresholds": self.num_thresholds,
        }


def _recall(tp, fp, tn, fn):
    return divide_no_nan(tp, tp + fn)


def _precision(tp, fp, tn, fn):
    return divide_no_nan(tp, tp + fp)


def _specificity(tp, fp, tn, fn):
    return divide_no_nan(tn, tn + fp)


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity (recall) at a threshold whose specificity tn / (tn + fp) is at least
    `specificity`.

    Args:
        specificity: In [0, 1].
        num_thresholds: Thresholds evenly spaced in [0, 1], the ends included. Defaults to 200.
        class_id: Count this output column only. Defaults to None (every column).
        name: Defaults to "sensitivity_at_specificity".
    """

    default_name = "sensitivity_at_specificity"
    argument = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None) -> None:
        super().__init__(specificity, num_thresholds, class_id, name)

    def rates(self, *counts):
        return _specificity(*counts), _recall(*counts)


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity at a threshold whose sensitivity is at least `sensitivity`.
    (Args as SensitivityAtSpecificity.)"""

    default_name = "specificity_at_sensitivity"
    argument = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None) -> None:
        super().__init__(sensitivity, num_thresholds, class_id, name)

    def rates(self, *counts):
        return _recall(*counts), _specificity(*counts)


class PrecisionAtRecall(_AtConstraint):
    """The best precision at a threshold whose recall is at least `recall`.
    (Args as SensitivityAtSpecificity.)"""

    default_name = "precision_at_recall"
    argument = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None) -> None:
        super().__init__(recall, num_thresholds, class_id, name)

    def rates(self, *counts):
        return _recall(*counts), _precision(*counts)


class RecallAtPrecision(_AtConstraint):
    """The best recall at a threshold whose precision is at least `precision`.
    (Args as SensitivityAtSpecificity.)"""

    default_name = "recall_at_precision"
    argument = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None) -> None:
        super().__init__(precision, num_thresholds, class_id, name)

    def rates(self, *counts):
        return _precision(*counts), _recall(*counts)
