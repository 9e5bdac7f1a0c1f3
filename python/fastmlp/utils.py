"""Helpers with Keras's names: `to_categorical`, `set_random_seed`."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlp import config

__all__ = ["set_random_seed", "to_categorical"]


def to_categorical(y: Any, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """One-hot encode integer class labels: [1, 0] -> [[0, 1], [1, 0]].

    Args:
        y: Integer labels (or booleans, as 0 / 1), any shape.
        num_classes: Number of classes. Defaults to max(y) + 1.
        dtype: Defaults to "float32".
    """
    labels = np.asarray(y)
    if labels.dtype.kind not in "biuf" or (
        labels.dtype.kind == "f" and not (np.isfinite(labels) & (labels == np.floor(labels))).all()
    ):
        raise ValueError("to_categorical: y must hold integer class labels")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError("to_categorical: labels must be >= 0")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"to_categorical: labels must be < num_classes={num_classes}, got {labels.max()}"
        )
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    out = np.zeros((*labels.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def set_random_seed(seed: int) -> None:
    """Make every model created afterwards reproducible (weights, shuffling, dropout).

    Args:
        seed: A non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    config.set_seed_source(int(seed))
