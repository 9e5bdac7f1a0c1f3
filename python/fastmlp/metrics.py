"""Metrics reported by `fit` and `evaluate`, computed by the engine alongside the loss.

Keras names are accepted: "accuracy" / "acc" (the right kind for the loss, as Keras picks it),
"sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
"top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mse" / "mean_squared_error",
"mae" / "mean_absolute_error", "rmse" / "root_mean_squared_error"; from the confusion counts
(modules `_confusion`, `_curves`, `_fscores`): "precision", "recall", "auc", "true_positives",
"false_positives", "true_negatives", "false_negatives", "f1_score", "fbeta_score"; Keras's class
names as strings; and the classes (PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity
and SpecificityAtSensitivity as classes only).

Every metric also works on its own, as a Keras metric: update_state(y_true, y_pred,
sample_weight), result(), reset_state(), counting in NumPy (`_counting`) what the engine counts
during fit, so that result() and the logs come from one formula.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from fastmlp import _counting

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
    """Base class: a named quantity the engine accumulates over the samples of an epoch, or that
    `update_state` accumulates over the batches given to it (as a Keras metric on its own).

    Example:
        >>> m = fm.metrics.AUC()
        >>> m.update_state(y_test, model.predict(x_test))
        >>> m.result()

    Args:
        name: Name in the logs. Defaults to the Keras name.
    """

    default_name = "metric"
    source = "accuracy"  # which engine sums: "accuracy", "mse", "mae", "ranks" or "confusion"
    direction: str | None = "up"  # better when larger ("up") or smaller ("down"); None: neither
    labels = False  # update_state's y_true holds class labels
    weighting = "samples"  # how update_state reads sample_weight (_counting.WEIGHTINGS)

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.default_name
        self.reset_state()

    # -- on its own, as Keras's Metric ----------------------------------------------------------
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch to the metric's state: the counts the engine would add for it in fit
        (`fit` and `evaluate` leave this state alone).

        Args:
            y_true: Targets, one per prediction (class labels for the sparse metrics).
            y_pred: Predictions, (samples, outputs) or (samples,) for one output.
            sample_weight: A weight per sample (samples,), as Keras: also one per output
                (samples, outputs) for the metrics of every output (Accuracy, BinaryAccuracy,
                RootMeanSquaredError, the confusion metrics), and a number, which weights the
                batch. Defaults to None (1 each).
        """
        b = _counting.batch(
            y_true, y_pred, sample_weight, labels=self.labels, weighting=self.weighting
        )
        outputs = b.p.shape[1]
        if self._outputs not in (None, outputs):
            raise ValueError(
                f"{self.name}: y_pred has {outputs} columns, but the batches before had "
                f"{self._outputs}; call reset_state() first"
            )
        self._check_outputs(outputs)
        self._state = _counting.add(self._state, self.count_batch(b))
        self._outputs = outputs

    def result(self) -> Any:
        """The value over the batches given to update_state since the last reset_state: a float,
        or a NumPy array where Keras's is a vector (F1Score(average=None), a count or precision at
        several thresholds); 0 before any batch."""
        return self.result_of(self._standalone_sums())

    def reset_state(self) -> None:
        """Forgets the batches given to update_state."""
        self._state: dict[str, Any] | None = None
        self._outputs: int | None = None

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """update_state, then result (as Keras's)."""
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def count_batch(self, b: _counting.Batch) -> dict[str, Any]:
        """The engine's counts of one checked batch (internal)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be updated on its own")

    def _check_outputs(self, outputs: int) -> None:
        """Raises ValueError for arguments that do not fit predictions of this many columns."""

    def _standalone_sums(self) -> dict[str, Any]:
        return self._state or _counting.empty()

    # -- from the engine's sums ------------------------------------------------------------------
    def result_of(self, sums: dict[str, Any]) -> Any:
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
    """Fraction of correct predictions. In compile, of the kind that fits the loss
    (`_accuracy_rules`; Keras 3's "accuracy" decides by the output's width instead, README
    "Metrics"); on its own (update_state), as Keras's Accuracy: the fraction of predictions equal
    to their target, y_pred == y_true."""

    default_name = "accuracy"
    weighting = "outputs"

    def count_batch(self, b: _counting.Batch) -> dict[str, Any]:
        return _counting.accuracy(b.y == b.p, b.w)


class SparseCategoricalAccuracy(Accuracy):
    """argmax(prediction) == integer label (the first of tied maxima)."""

    default_name = "sparse_categorical_accuracy"
    labels = True
    weighting = "samples"

    def count_batch(self, b: _counting.Batch) -> dict[str, Any]:
        return _counting.accuracy((np.argmax(b.p, axis=1) == b.y)[:, None], b.w)


class CategoricalAccuracy(Accuracy):
    """argmax(prediction) == argmax(one-hot target) (the first of tied maxima)."""

    default_name = "categorical_accuracy"
    weighting = "samples"

    def count_batch(self, b: _counting.Batch) -> dict[str, Any]:
        right = np.argmax(b.p, axis=1) == np.argmax(b.y, axis=1)
        return _counting.accuracy(right[:, None], b.w)


class BinaryAccuracy(Accuracy):
    """(prediction > threshold) == (target > 0.5), per output (on its own, as Keras's:
    (prediction > threshold) == target, so a soft target, 0.3, is never right).

    Args:
        threshold: Decision threshold on the prediction. Defaults to 0.5.
        name: Defaults to "binary_accuracy".
    """

    default_name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        super().__init__(name)
        self.threshold = float(threshold)

    def count_batch(self, b: _counting.Batch) -> dict[str, Any]:
        return _counting.accuracy(b.y == (b.p > self.threshold), b.w)

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

    def count_batch(self, b: _counting.Batch) -> dict[str, Any]:
        return _counting.ranks(b.p, b.y if self.labels else np.argmax(b.y, axis=1), b.w)

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
    labels = True

    def __init__(self, k: int = 5, name: str | None = None, from_sorted_ids: bool = False) -> None:
        super().__init__(k, name)
        if from_sorted_ids:
            raise NotImplementedError("from_sorted_ids=True is not supported")


class MeanSquaredError(Metric):
    """Mean squared error of the predictions."""

    default_name = "mean_squared_error"
    source = "mse"
    direction = "down"

    def count_batch(self, b: _counting.Batch) -> dict[str, Any]:
        return _counting.errors(b)


class RootMeanSquaredError(MeanSquaredError):
    """Square root of the mean squared error of the predictions."""

    default_name = "root_mean_squared_error"
    weighting = "outputs"

    def result_of(self, sums: dict[str, Any]) -> float:
        return math.sqrt(super().result_of(sums))


class MeanAbsoluteError(Metric):
    """Mean absolute error of the predictions."""

    default_name = "mean_absolute_error"
    source = "mae"
    direction = "down"

    def count_batch(self, b: _counting.Batch) -> dict[str, Any]:
        return _counting.errors(b)


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
