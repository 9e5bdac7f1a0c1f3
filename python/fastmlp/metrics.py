"""Metrics reported by `fit` and `evaluate`, computed by the engine alongside the loss.

Keras names are accepted: "accuracy" / "acc" (the right kind for the loss, as Keras picks it),
"sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
"top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mse" / "mean_squared_error",
"mae" / "mean_absolute_error", "rmse" / "root_mean_squared_error"; from the confusion counts
(modules `_confusion`, `_curves`, `_fscores`): "precision", "recall", "auc", "true_positives",
"false_positives", "true_negatives", "false_negatives", "f1_score", "fbeta_score"; Keras's class
names as strings; and the classes (PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity
and SpecificityAtSensitivity as classes only).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "PrecisionAtRecall",
    "Recall",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SensitivityAtSpecificity",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "SpecificityAtSensitivity",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "get",
]


def ratio(total: float, count: float) -> float:
    """total / count, and 0 where count is 0 (Keras's Mean.result: its divide_no_nan; weighted
    counts may sum to less than 1)."""
    return total / count if count else 0.0


class Metric:
    """Base class: a named quantity the engine accumulates over the samples of an epoch.

    Args:
        name: Name in the logs. Defaults to the Keras name.
    """

    default_name = "metric"
    source = "accuracy"  # which engine sums: "accuracy", "mse", "mae", "ranks" or "confusion"
    direction: str | None = "up"  # better when larger ("up") or smaller ("down"); None: neither

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.default_name

    def result_of(self, sums: dict[str, Any]) -> float:
        """The value from the engine's sums over the samples of a run (`_core.Sums` fields; for
        a weighted metric, the weighted counts, with their weights summed as "samples")."""
        if self.source == "accuracy":
            return ratio(sums["correct"], sums["compared"])
        field = "squared_error" if self.source == "mse" else "absolute_error"
        return ratio(sums[field], sums["samples"])

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Accuracy(Metric):
    """Fraction of correct predictions, of the kind that fits the loss (`_accuracy_rules`;
    Keras 3's "accuracy" decides by the output's width instead, README "Metrics")."""

    default_name = "accuracy"


class SparseCategoricalAccuracy(Accuracy):
    """argmax(prediction) == integer label."""

    default_name = "sparse_categorical_accuracy"


class CategoricalAccuracy(Accuracy):
    """argmax(prediction) == argmax(one-hot target)."""

    default_name = "categorical_accuracy"


class BinaryAccuracy(Accuracy):
    """(prediction > threshold) == (target > 0.5), per output.

    Args:
        threshold: Decision threshold on the prediction. Defaults to 0.5.
        name: Defaults to "binary_accuracy".
    """

    default_name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        super().__init__(name)
        self.threshold = float(threshold)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "threshold": self.threshold}


class _TopK(Metric):
    """Base: the fraction of samples whose target class is among the k highest outputs."""

    source = "ranks"

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        super().__init__(name)
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        self.k = int(k)

    def result_of(self, sums: dict[str, Any]) -> float:
        ranks = np.asarray(sums["ranks"], dtype=np.float64)
        if ranks.size < 2:  # (nothing counted)
            return 0.0
        return ratio(float(ranks[: min(self.k, ranks.size - 1)].sum()), float(ranks.sum()))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "k": self.k}


class TopKCategoricalAccuracy(_TopK):
    """Fraction of samples whose target class (the argmax of the one-hot target) is among the k
    highest outputs; outputs tied at the k-th place all count as in the top k (TensorFlow's
    in_top_k), a non-finite output in none.

    Args:
        k: How many of the highest outputs. Defaults to 5.
        name: Defaults to "top_k_categorical_accuracy".
    """

    default_name = "top_k_categorical_accuracy"


class SparseTopKCategoricalAccuracy(_TopK):
    """Fraction of samples whose integer label is among the k highest outputs (ties and
    non-finite outputs as TopKCategoricalAccuracy).

    Args:
        k: How many of the highest outputs. Defaults to 5.
        name: Defaults to "sparse_top_k_categorical_accuracy".
        from_sorted_ids: Not supported; must be False.
    """

    default_name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None, from_sorted_ids: bool = False) -> None:
        super().__init__(k, name)
        if from_sorted_ids:
            raise NotImplementedError("from_sorted_ids=True is not supported")


class MeanSquaredError(Metric):
    """Mean squared error of the predictions."""

    default_name = "mean_squared_error"
    source = "mse"
    direction = "down"


class RootMeanSquaredError(MeanSquaredError):
    """Square root of the mean squared error of the predictions."""

    default_name = "root_mean_squared_error"

    def result_of(self, sums: dict[str, Any]) -> float:
        return math.sqrt(super().result_of(sums))


class MeanAbsoluteError(Metric):
    """Mean absolute error of the predictions."""

    default_name = "mean_absolute_error"
    source = "mae"
    direction = "down"


_BY_NAME: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "rmse": RootMeanSquaredError,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "root_mean_squared_error": RootMeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
}


def _register_confusion_metrics() -> None:
    """Keras's names of the confusion metrics ("precision", "auc", ...), as their snake case."""
    for cls in (
        Precision,
        Recall,
        AUC,
        TruePositives,
        FalsePositives,
        TrueNegatives,
        FalseNegatives,
        F1Score,
        FBetaScore,
    ):
        _BY_NAME[cls.default_name] = cls


def get(identifier: str | Metric) -> Metric:
    """Return a Metric for a Keras name or a Metric object (a name is kept as the log name)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        # Keras's names, and its class names as strings ("AUC", "TruePositives")
        by_class = {c.__name__.lower(): c for c in _BY_NAME.values()}
        cls = _BY_NAME.get(identifier.lower()) or by_class.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Unknown metric {identifier!r}. Expected one of: {', '.join(_BY_NAME)}"
            )
        return cls(name=identifier)
    raise TypeError(
        f"metrics must hold names or fastmlp.metrics.Metric objects, got {type(identifier).__name__}"
    )


# (after Metric: the confusion metrics derive from it)
from fastmlp._confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from fastmlp._curves import (
    AUC,
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from fastmlp._fscores import F1Score, FBetaScore

_register_confusion_metrics()
