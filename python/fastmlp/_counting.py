"""The engine's metric counts written in NumPy, for a metric used on its own (`update_state`).

Each function here adds up, for one batch of (y_true, y_pred, sample_weight), the sums that
network.cpp's count_means, count_confusion, count_ranks and count_max add up during fit: a
standalone metric's `result()` reads them with the same `result_of` as fit's logs. The inputs are
checked and broadcast as Keras 3's metrics read them (`batch`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from fastmlp._validation import device_module

MEAN_FIELDS = ("correct", "compared", "squared_error", "absolute_error", "samples")
ARRAY_FIELDS = ("positive_buckets", "negative_buckets", "ranks", "max_counts")

# How sample_weight reads, by the kind of metric (Keras 3's broadcasting for each):
#   "samples": a Mean of one value per sample (argmax accuracies, top-k, mse, mae); a number
#       weights the batch's mean as one value
#   "outputs": a Mean of one value per output (accuracy, binary accuracy, rmse); also (n, k)
#   "counts": confusion counts: a number weights every output; also (n, k)
#   "rows": F-scores: one weight per sample only
WEIGHTINGS = ("samples", "outputs", "counts", "rows")


class Batch(NamedTuple):
    """One update_state call's inputs, checked."""

    y: np.ndarray  # (n, k) targets, or (n,) integer class labels
    p: np.ndarray  # (n, k) predictions (1-D: one column)
    w: np.ndarray  # (n, 1) weights of the samples, or (n, k) of the outputs


def empty() -> dict[str, Any]:
    """Sums with nothing counted (the arrays as 0, as the engine's empty ones read)."""
    return dict.fromkeys(MEAN_FIELDS + ARRAY_FIELDS, 0.0)


def add(total: dict[str, Any] | None, sums: dict[str, Any]) -> dict[str, Any]:
    """total + sums, field by field (a new dict)."""
    if total is None:
        total = empty()
    return {field: total[field] + sums.get(field, 0.0) for field in total}


def _array(x: Any, name: str, finite: bool) -> np.ndarray:
    if x is None:
        raise ValueError(f"{name} is required, got None")
    if device_module(x) is not None:
        x = x.get()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise ValueError(f"{name} could not be converted to an array: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if finite and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def batch(y_true: Any, y_pred: Any, sample_weight: Any, *, labels: bool, weighting: str) -> Batch:
    """The checked inputs of one update_state call: y_pred as (n, k) (a 1-D array is one column;
    NaN and infinity are counted as the engine counts them), y_true as (n, k) targets or, with
    `labels`, (n,) integer class labels in [0, k), and the weights as `weighting` says."""
    p = _array(y_pred, "y_pred", finite=False)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(
            f"y_pred: expected predictions of shape (samples, outputs) or (samples,), got shape "
            f"{p.shape}"
        )
    n, k = p.shape
    y = _array(y_true, "y_true", finite=True)
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(
            f"y_true and y_pred must have the same number of samples: y_pred has {n}, y_true has "
            f"shape {y.shape}"
        )
    if labels:
        if y.shape not in ((n,), (n, 1)):
            raise ValueError(f"y_true: expected class labels of shape ({n},), got shape {y.shape}")
        y = y.reshape(n)
        bad = (y != np.floor(y)) | (y < 0) | (y >= k)
        if bad.any():
            raise ValueError(
                f"y_true: expected integer class labels in [0, {k}) (y_pred has {k} columns), "
                f"got {y[bad][0]:g}"
            )
    else:
        if y.ndim == 1 and k == 1:
            y = y[:, None]
        if y.shape != p.shape:
            raise ValueError(
                f"y_true: expected one target per prediction, shape {p.shape} as y_pred, got "
                f"shape {y.shape}"
            )
    return Batch(y, p, _weights(sample_weight, n, k, weighting))


def _weights(sample_weight: Any, n: int, k: int, weighting: str) -> np.ndarray:
    if sample_weight is None:
        return np.ones((n, 1))
    w = _array(sample_weight, "sample_weight", finite=True)
    if w.ndim == 0 and weighting != "rows":
        # (Keras's Mean reduces the batch to one value of this weight; the counts add it once
        # for every output)
        return np.full((n, 1), float(w) / n if weighting in ("samples", "outputs") else float(w))
    if w.shape in ((n,), (n, 1)):
        return w.reshape(n, 1)
    if w.shape == (n, k) and weighting in ("outputs", "counts"):
        return w
    shapes = f"({n},)" if weighting == "rows" else f"a number or shape ({n},)"
    if weighting in ("outputs", "counts"):
        shapes += f" or ({n}, {k})"
    raise ValueError(f"sample_weight: expected {shapes} for these y_pred, got shape {w.shape}")


# -- the counts ---------------------------------------------------------------------------------


def accuracy(right: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """count_means's accuracy counts: `right` (n, 1) per sample or (n, k) per output, each
    counted with its weight, over the weights counted."""
    w = np.broadcast_to(w, right.shape)
    return {"correct": float(np.sum(w * right)), "compared": float(np.sum(w))}


def errors(b: Batch) -> dict[str, float]:
    """count_means's error sums: each sample's mean over the outputs (of the errors times their
    weights), and the samples' weights ((n, k) weights: their mean over the outputs)."""
    d = b.p - b.y
    w = np.broadcast_to(b.w, d.shape)
    k = d.shape[1]
    return {
        "squared_error": float(np.sum(w * d * d)) / k,
        "absolute_error": float(np.sum(w * np.abs(d))) / k,
        "samples": float(np.sum(w)) / k,
    }


def confusion(
    p: np.ndarray, positive: np.ndarray, negative: np.ndarray, thresholds: list[float]
) -> dict[str, np.ndarray]:
    """count_confusion: per output column, the weights of positive / negative targets by bucket
    (bucket c: c thresholds lie below the output; a NaN output lies above none)."""
    k, buckets = p.shape[1], len(thresholds) + 1
    below = np.searchsorted(np.asarray(thresholds, dtype=np.float64), p, side="left")
    below[np.isnan(p)] = 0
    index = (np.arange(k) * buckets + below).ravel()
    return {
        "positive_buckets": np.bincount(index, np.ravel(positive), minlength=k * buckets),
        "negative_buckets": np.bincount(index, np.ravel(negative), minlength=k * buckets),
    }


def ranks(p: np.ndarray, target: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """count_ranks: the weights of the samples by how many outputs lie strictly above their
    target class's (in_top_k's rank), at [outputs] where that output is not finite."""
    n, k = p.shape
    value = p[np.arange(n), target.astype(np.int64)]
    with np.errstate(invalid="ignore"):
        rank = np.sum(p > value[:, None], axis=1)
    rank[~np.isfinite(value)] = k
    return {"ranks": np.bincount(rank, w[:, 0], minlength=k + 1)}


def max_counts(p: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> dict[str, np.ndarray]:
    """count_max: per output column, the weights of positive / negative targets whose output is
    at its row's maximum (and not 0), and the weights of positive targets."""
    with np.errstate(invalid="ignore"):
        at_max = (p >= p.max(axis=1, keepdims=True)) & (np.abs(p) > 1e-9)
    return {
        "max_counts": np.concatenate(
            [np.sum(at_max * positive, axis=0), np.sum(at_max * negative, axis=0), positive.sum(0)]
        )
    }
