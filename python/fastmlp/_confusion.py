"""Confusion-matrix metrics (Keras's confusion_metrics): counts of true / false positives and
negatives at thresholds, and precision and recall at one threshold (the metrics over many
thresholds, AUC and the best rate under a constraint, are in `_curves`).

The engine counts, for each output column, how many outputs of positive targets (> 0; {0, 1}
labels, one-hot rows) and of negative ones lie between each pair of consecutive thresholds of the
model's metrics (the union of them all); a metric then reads true positives at threshold t as the
outputs of positive targets above t, as Keras's `y_pred > t`. Every output column counts, as
Keras's flattening, unless `class_id` picks one. As weighted metrics (compile's
weighted_metrics), each output counts its sample's weight instead of 1, as Keras's counts do.
On their own (update_state), the metrics count the same in NumPy (`_counting`), a target being
positive where it is not 0, as Keras's cast to bool.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from fastmlp import _counting
from fastmlp.metrics import Metric

__all__ = [
    "FalseNegatives",
    "FalsePositives",
    "Precision",
    "Recall",
    "TrueNegatives",
    "TruePositives",
]


def thresholds_of(metrics: list[Metric]) -> list[float]:
    """The ascending union of the thresholds the engine counts at, for these metrics (internal)."""
    confusion = [m for m in metrics if isinstance(m, ConfusionMetric) and not m.uses_max_counts]
    values = sorted({t for m in confusion for t in m.engine_thresholds()})
    # (a metric that reads only the totals, AUC(num_thresholds=2): count at any threshold)
    return values or ([0.5] if confusion else [])


def check_outputs(metrics: list[Metric], outputs: int, has: str = "the model has") -> None:
    """Raises ValueError for a class_id, top_k or num_labels that does not fit the model's
    outputs (`has`: who has them, "y_pred has" for a metric on its own)."""
    for m in metrics:
        if not isinstance(m, ConfusionMetric):
            continue
        for argument in ("class_id", "top_k"):
            value = getattr(m, argument, None)
            if value is not None and not value < outputs + (argument == "top_k"):
                raise ValueError(f"{m.name}: {argument}={value}, but {has} {outputs} output(s)")
        labels = getattr(m, "num_labels", None)
        if labels is not None and labels != outputs:
            raise ValueError(f"{m.name}: num_labels={labels}, but {has} {outputs} outputs")
        weights = getattr(m, "label_weights", None)
        if weights is not None and len(weights) != outputs:
            raise ValueError(
                f"{m.name}: label_weights has {len(weights)} values, but {has} {outputs} outputs"
            )


class Counts:
    """The engine's confusion counts of one run, read at thresholds (internal).

    positive, negative: per output column, the outputs of positive / negative targets by bucket
    (bucket c: c of `thresholds` lie below the output), as `_core.Sums.positive_buckets`.
    """

    def __init__(self, thresholds: list[float], positive: Any, negative: Any) -> None:
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        buckets = len(thresholds) + 1
        # (nothing counted: a scalar 0)
        self.positive, self.negative = (
            np.asarray(b, dtype=np.float64).reshape(-1, buckets)
            if np.size(b) > 1
            else np.zeros((1, buckets))
            for b in (positive, negative)
        )
        self._tails: dict[int | None, list[np.ndarray]] = {}

    def _columns(self, buckets: np.ndarray, columns: int | None) -> np.ndarray:
        if columns is None:
            return buckets.sum(axis=0, keepdims=True)
        return buckets if columns < 0 else buckets[columns : columns + 1]

    def totals(self, columns: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(positives, negatives): the outputs of positive / negative targets, of shape (1,), or
        (1, outputs) per column when `columns` is -1 (columns as in `at`)."""
        positives, negatives = (
            self._columns(b, columns).sum(axis=1) for b in (self.positive, self.negative)
        )
        if columns is not None and columns < 0:
            return positives[None], negatives[None]
        return positives, negatives

    def at(
        self, thresholds: list[float], columns: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(tp, fp, tn, fn) at each threshold (one of the engine's), summed over the columns (or
        of column `columns`); each of shape (len(thresholds),), or (len(thresholds), outputs) per
        column when `columns` is -1."""
        index = np.searchsorted(self.thresholds, thresholds)
        tails = self._tails.get(columns)
        if tails is None:
            # outputs above thresholds[i]: those in buckets i + 1, i + 2, ... (kept: every metric
            # of a log reads the same counts)
            tails = [
                np.cumsum(self._columns(b, columns)[:, ::-1], axis=1)[:, ::-1][:, 1:]
                for b in (self.positive, self.negative)
            ]
            self._tails[columns] = tails
        tp, fp = (tail[:, index].T for tail in tails)
        positives, negatives = self.totals(columns)
        if columns is None or columns >= 0:
            tp, fp = tp[:, 0], fp[:, 0]
        return tp, fp, negatives - fp, positives - tp


_EPSILON = 1e-7  # Keras's backend.epsilon()
_NEG_INF = -1e10  # Keras's metrics_utils.NEG_INF: the threshold, and the outputs left out, of top_k


def divide_no_nan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, and 0 where b is 0 (Keras's divide_no_nan)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    out = np.zeros(a.shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


def evenly_spaced(thresholds: list[float]) -> bool:
    """Keras's is_evenly_distributed_thresholds: 0, 1 / (n - 1), ..., 1 (n >= 3). For these Keras
    clips the outputs to [0, 1] before it counts them: none lies above 1."""
    n = len(thresholds)
    return n >= 3 and bool(np.allclose(thresholds, np.arange(n) / (n - 1), atol=_EPSILON))


def probability_arg(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{what} must be a number in [0, 1], got {value!r}")
    return float(value)


def class_id_arg(class_id: Any) -> int | None:
    if class_id is None:
        return None
    if isinstance(class_id, bool) or not isinstance(class_id, numbers.Integral) or class_id < 0:
        raise ValueError(f"class_id must be an output index >= 0, got {class_id!r}")
    return int(class_id)


class ConfusionMetric(Metric):
    """Base: a metric computed from the engine's confusion counts."""

    source = "confusion"
    weighting = "counts"
    class_id: int | None = None
    uses_max_counts = False  # reads the engine's row-maximum counts instead (F-scores)

    def engine_thresholds(self) -> list[float]:
        """The thresholds on the model's output that this metric's result reads."""
        raise NotImplementedError

    def count_batch(self, b: _counting.Batch) -> dict[str, Any]:
        positive = b.y != 0  # (Keras casts the targets to bool)
        return _counting.confusion(
            self.counted_outputs(b.p), b.w * positive, b.w * ~positive, thresholds_of([self])
        )

    def counted_outputs(self, p: np.ndarray) -> np.ndarray:
        """The outputs as the counts compare them with the thresholds."""
        return p

    def _check_outputs(self, outputs: int) -> None:
        check_outputs([self], outputs, "y_pred has")

    def _standalone_sums(self) -> dict[str, Any]:
        sums, thresholds = super()._standalone_sums(), thresholds_of([self])
        if self._state is None:  # (nothing counted: 0 in every column the arguments name)
            columns = max((self.class_id or 0) + 1, getattr(self, "num_labels", None) or 1)
            zeros = np.zeros(columns * (len(thresholds) + 1))
            sums = {**sums, "positive_buckets": zeros, "negative_buckets": zeros}
        counts = Counts(thresholds, sums["positive_buckets"], sums["negative_buckets"])
        return {**sums, "counts": counts}

    def result_of(self, sums: dict[str, Any]) -> Any:
        """The value from the confusion counts in the engine's sums (`counts`: a `Counts` of
        them, added by the model)."""
        return self.result_of_counts(sums["counts"])

    def result_of_counts(self, counts: Counts) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_id": self.class_id}


class _AtThreshold(ConfusionMetric):
    """Counts, precision or recall at thresholds on the output (Keras's default 0.5): a float for
    one threshold, an array of one value per threshold for several."""

    def __init__(
        self,
        thresholds: Any = None,
        top_k: Any = None,
        class_id: Any = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1
        ):
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        self.top_k = None if top_k is None else int(top_k)
        if thresholds is None:
            self.thresholds = [0.5 if top_k is None else _NEG_INF]
        else:
            many = isinstance(thresholds, (list, tuple, np.ndarray))
            self.thresholds = [
                probability_arg(t, "thresholds") for t in (thresholds if many else [thresholds])
            ]
            if not self.thresholds:
                raise ValueError("thresholds must hold at least one number in [0, 1], got []")
        self._clipped = evenly_spaced(self.thresholds)
        self.class_id = class_id_arg(class_id)

    def engine_thresholds(self) -> list[float]:
        return list(self.thresholds)

    def counted_outputs(self, p: np.ndarray) -> np.ndarray:
        if self.top_k is None:
            return p
        # Keras's _filter_top_k: the outputs outside their row's top k (tf.math.top_k: of equal
        # outputs, the first) become NEG_INF, which no threshold counts as above
        top = np.argsort(-p, axis=1, kind="stable")[:, : self.top_k]
        kept = np.zeros(p.shape, dtype=bool)
        np.put_along_axis(kept, top, True, axis=1)
        return np.where(kept, p, _NEG_INF)

    def result_of_counts(self, counts: Counts) -> Any:
        tp, fp, tn, fn = counts.at(self.thresholds, self.class_id)
        if self._clipped:
            top = np.asarray(self.thresholds) >= 1  # (no clipped output lies above it)
            tp, fp, tn, fn = tp * ~top, fp * ~top, tn + fp * top, fn + tp * top
        value = self.value(tp, fp, tn, fn)
        return float(value[0]) if len(self.thresholds) == 1 else value

    def value(self, tp, fp, tn, fn) -> np.ndarray:
        raise NotImplementedError

    def config_thresholds(self) -> Any:
        if len(self.thresholds) > 1:
            return list(self.thresholds)
        return None if self.thresholds[0] == _NEG_INF else self.thresholds[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.config_thresholds(), "top_k": self.top_k}


class TruePositives(_AtThreshold):
    """Outputs above the threshold whose target is positive (> 0; on its own, not 0).

    Args:
        thresholds: The threshold on the output, or a list of them (the result: an array of one
            count per threshold). Defaults to 0.5.
        name: Defaults to "true_positives".
    """

    default_name = "true_positives"
    direction = None  # (a count: neither larger nor smaller is better in itself)

    def __init__(self, thresholds: Any = None, name: str | None = None) -> None:
        super().__init__(thresholds, name=name)

    def value(self, tp, fp, tn, fn):
        return tp

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "thresholds": self.config_thresholds()}


class FalsePositives(TruePositives):
    """Outputs above the threshold whose target is not positive. (Args as TruePositives.)"""

    default_name = "false_positives"

    def value(self, tp, fp, tn, fn):
        return fp


class TrueNegatives(TruePositives):
    """Outputs at or below the threshold whose target is not positive. (Args as TruePositives.)"""

    default_name = "true_negatives"

    def value(self, tp, fp, tn, fn):
        return tn


class FalseNegatives(TruePositives):
    """Outputs at or below the threshold whose target is positive. (Args as TruePositives.)"""

    default_name = "false_negatives"

    def value(self, tp, fp, tn, fn):
        return fn


class Precision(_AtThreshold):
    """Of the outputs above the threshold, the fraction whose target is positive: tp / (tp + fp)
    (0 when no output is above it).

    Args:
        thresholds: The threshold on the output (0 for a model that outputs logits), or a list
            of them (the result: an array of one value per threshold). Defaults to 0.5.
        top_k: Count only the k highest outputs of each row (the others as below every
            threshold; without `thresholds`, every output in the top k as above). On its own
            (update_state) only: compile refuses it. Defaults to None.
        class_id: Count this output column only. Defaults to None (every column).
        name: Defaults to "precision".
    """

    default_name = "precision"

    def value(self, tp, fp, tn, fn):
        return divide_no_nan(tp, tp + fp)


class Recall(_AtThreshold):
    """Of the outputs whose target is positive, the fraction above the threshold: tp / (tp + fn).
    (Args as Precision; name defaults to "recall".)"""

    default_name = "recall"

    def value(self, tp, fp, tn, fn):
        return divide_no_nan(tp, tp + fn)
