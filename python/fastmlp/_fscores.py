"""F-scores (Keras's FBetaScore and F1Score): the harmonic mean of precision and recall per output
column, from the engine's counts — at a threshold (the confusion counts of `_confusion`), or, with
no threshold, for the outputs at their row's maximum (the engine's row-maximum counts).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlp import _counting
from fastmlp._confusion import ConfusionMetric, Counts

__all__ = ["F1Score", "FBetaScore"]

_EPSILON = 1e-7  # Keras's backend.epsilon(), in its divisions


class FBetaScore(ConfusionMetric):
    """(1 + beta²) · precision · recall / (beta² · precision + recall), per output column, as
    Keras computes it (with its epsilon in each division). In fit, a target counts as positive or
    not (above the loss's 0, as for Precision), where Keras weights a soft target (0.3) by its
    value, so with soft labels the two differ; on its own (update_state), as Keras's.

    Args:
        average: None (one score per column: the logs hold an array), "micro" (the counts of every
            column together), "macro" (the mean of the columns' scores) or "weighted" (their mean
            weighted by each column's positive targets). Defaults to None.
        beta: Weight of recall against precision, > 0. Defaults to 1.0.
        threshold: An output above it is predicted positive; None: the outputs at their row's
            maximum (and not 0) are. Defaults to None.
        name: Defaults to "fbeta_score".
        dtype: Accepted and ignored (the engine's counts are exact).
    """

    default_name = "fbeta_score"
    weighting = "rows"

    def __init__(
        self,
        average: str | None = None,
        beta: float = 1.0,
        threshold: float | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                f"average must be one of None, 'micro', 'macro', 'weighted', got {average!r}"
            )
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ValueError(f"beta must be a number > 0, got {beta!r}")
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not 0 < threshold <= 1
        ):
            raise ValueError(f"threshold must be None or a number in (0, 1], got {threshold!r}")
        self.average, self.beta = average, float(beta)
        self.threshold = None if threshold is None else float(threshold)

    @property
    def uses_max_counts(self) -> bool:
        return self.threshold is None

    def engine_thresholds(self) -> list[float]:
        return [] if self.threshold is None else [self.threshold]

    def count_batch(self, b: _counting.Batch) -> dict[str, Any]:
        # (Keras weights a target by its value: y as positive, 1 - y as negative)
        positive, negative = b.w * b.y, b.w * (1 - b.y)
        if self.threshold is None:
            return _counting.max_counts(b.p, positive, negative)
        return _counting.confusion(b.p, positive, negative, [self.threshold])

    def result_of(self, sums: dict[str, Any]) -> Any:
        if self.threshold is not None:
            return super().result_of(sums)
        counts = np.asarray(sums["max_counts"], dtype=np.float64)
        if counts.size < 3:  # (nothing counted)
            return self._score(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1))
        at_max_positive, at_max_negative, positives = counts.reshape(3, -1)
        return self._score(at_max_positive, at_max_negative, positives - at_max_positive, positives)

    def result_of_counts(self, counts: Counts) -> Any:
        tp, fp, _, fn = (c[0] for c in counts.at([self.threshold], -1))
        return self._score(tp, fp, fn, tp + fn)

    def _score(self, tp, fp, fn, positives) -> Any:
        """Keras's FBetaScore.result from per-column counts."""
        if self.average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        precision = tp / (tp + fp + _EPSILON)
        recall = tp / (tp + fn + _EPSILON)
        b2 = self.beta**2
        score = (1 + b2) * precision * recall / (b2 * precision + recall + _EPSILON)
        if self.average == "weighted":
            return float(np.sum(score * positives / (positives.sum() + _EPSILON)))
        if self.average is not None:
            return float(np.mean(score))
        return score

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """FBetaScore with beta = 1: 2 · precision · recall / (precision + recall).

    Args:
        average: None, "micro", "macro" or "weighted" (as FBetaScore). Defaults to None.
        threshold: As FBetaScore. Defaults to None.
        name: Defaults to "f1_score".
        dtype: Accepted and ignored.
    """

    default_name = "f1_score"

    def __init__(
        self,
        average: str | None = None,
        threshold: float | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(average, 1.0, threshold, name)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config
