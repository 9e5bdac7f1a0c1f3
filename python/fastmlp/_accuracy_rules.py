"""How the engine counts a model's accuracy (the rule chosen from the loss, as Keras's "accuracy"
is), and which targets a model's metrics can read (internal; the metrics are in `metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastmlp import losses as losses_module
from fastmlp._loss_base import BinaryCrossentropyBase, CategoricalCrossentropyBase
from fastmlp.metrics import (
    BinaryAccuracy,
    CategoricalAccuracy,
    Metric,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)

# Accuracy modes of the engine (enum class AccuracyMode in network.hpp).
NONE, ARGMAX_SPARSE, ARGMAX_ONEHOT, THRESHOLD = 0, 1, 2, 3


def check_targets_agree(metrics: list[Metric], loss: losses_module.Loss) -> None:
    """Raises ValueError for a metric that reads targets of another kind than the loss's y:
    class labels (sparse losses, sparse_categorical_accuracy) or one target per output (internal).
    """
    if loss.sparse:
        wrong = [
            m.name
            for m in metrics
            if m.source not in ("accuracy", "ranks") or isinstance(m, _PER_OUTPUT)
        ]
        if wrong:
            raise ValueError(
                f"metrics: {wrong} need one target per output, but {loss.default_name} takes "
                "class labels; use metrics=['accuracy'] or ['sparse_categorical_accuracy']"
            )
    else:
        wrong = [
            m.name
            for m in metrics
            if isinstance(m, (SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy))
        ]
        if wrong:
            raise ValueError(
                f"metrics: {wrong} need class labels, but {loss.default_name} takes one target "
                "per output (one-hot for categorical_crossentropy); use metrics=['accuracy'] or "
                "['categorical_accuracy']"
            )


_PER_OUTPUT = (CategoricalAccuracy, BinaryAccuracy, TopKCategoricalAccuracy)
# Losses whose "accuracy" compares argmaxes (one-hot targets or distributions), and losses on
# {-1, +1} labels, whose outputs are scores with 0 as the boundary.
_CATEGORICAL = (
    CategoricalCrossentropyBase,  # categorical cross-entropy, plain and focal
    losses_module.CategoricalHinge,
    losses_module.KLDivergence,
    losses_module.CosineSimilarity,
)
_SIGNED_LABELS = (losses_module.Hinge, losses_module.SquaredHinge, losses_module.LogisticLoss)


@dataclass(frozen=True)
class AccuracyRule:
    """How the engine counts a correct prediction (internal)."""

    mode: int = NONE
    output_threshold: float = 0.5
    target_threshold: float = 0.5


def accuracy_rule(
    metric: Metric, loss: losses_module.Loss, targets: np.ndarray, signed: bool = False
) -> AccuracyRule:
    """The engine's accuracy rule for `metric` with `loss`, given the prepared targets (internal).

    signed: the model's training targets held negative values, so labels are {-1, +1} even
    where these targets are all positive (a set of one class).

    "accuracy" with sparse cross-entropy compares the argmax with the label, with the losses on
    one-hot targets or distributions (categorical cross-entropy, plain and focal, categorical
    hinge, Kullback-Leibler, cosine similarity) the argmaxes, with binary cross-entropy (plain and
    focal) thresholds at 0.5 (at 0 on logits) on every output. Losses on {-1, +1} labels (hinge,
    squared hinge, logistic, or +-1 targets of a regression loss, as in the playground) threshold
    at 0; the other regression losses compare argmaxes of several outputs and threshold one at
    0.5, as mean squared error does. (Keras 3 decides by the output's width alone: one unit
    thresholds at 0.5 whatever the loss; here the loss decides, so that logits and +-1 labels are
    counted right.)
    """
    if isinstance(metric, SparseCategoricalAccuracy):
        return AccuracyRule(ARGMAX_SPARSE)
    if isinstance(metric, CategoricalAccuracy):
        return AccuracyRule(ARGMAX_ONEHOT)
    pm1 = signed or (targets.size > 0 and targets.min() < 0)
    logits = loss.from_logits or isinstance(loss, _SIGNED_LABELS)
    if isinstance(metric, BinaryAccuracy):
        return AccuracyRule(THRESHOLD, metric.threshold, 0.0 if pm1 else 0.5)
    if loss.sparse:
        return AccuracyRule(ARGMAX_SPARSE)
    if isinstance(loss, _CATEGORICAL):
        return AccuracyRule(ARGMAX_ONEHOT)
    if targets.ndim == 2 and targets.shape[1] > 1 and not isinstance(loss, BinaryCrossentropyBase):
        return AccuracyRule(ARGMAX_ONEHOT)
    if pm1 or isinstance(loss, _SIGNED_LABELS):
        return AccuracyRule(THRESHOLD, 0.0, 0.0)
    return AccuracyRule(THRESHOLD, 0.0 if logits else 0.5, 0.5)
