"""Losses with Keras's names and arguments.

A loss object tells the C++ engine which loss to compute (it fuses softmax with cross-entropy and
sigmoid with binary cross-entropy); calling it on NumPy arrays gives the same value in Python
(the batch's mean, Keras's default reduction), and its `call`, like the loss functions here, one
loss per sample, as Keras's.

This module holds the cross-entropies, the Kullback-Leibler divergence and the registry (`get`,
`serialize`, `deserialize`); the base classes are in _loss_base.py, the focal cross-entropies in
_focal_losses.py, the regression losses in _regression_losses.py and the margin losses in
_hinge_losses.py, all public from here.

Every loss here is computed by the C++ engine; the GPU engine (device="gpu" / "numpy") computes
the cross-entropies (focal ones included), mean squared and absolute error, hinge and logistic, and
refuses the others.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlp._focal_losses import (
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
)
from fastmlp._hinge_losses import CategoricalHinge, Hinge, LogisticLoss, SquaredHinge
from fastmlp._loss_base import _EPS, BinaryCrossentropyBase, CategoricalCrossentropyBase, Loss
from fastmlp._regression_losses import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
)

__all__ = [
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "LogisticLoss",
    "Loss",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "cosine_similarity",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "kld",
    "kullback_leibler_divergence",
    "log_cosh",
    "logcosh",
    "logistic",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy between integer class labels and predicted class probabilities.

    Args:
        from_logits: Whether the model outputs logits instead of probabilities. Defaults to False.
        name: Defaults to "sparse_categorical_crossentropy".
    """

    kind = 0
    default_name = "sparse_categorical_crossentropy"
    sparse = True

    def __init__(self, from_logits: bool = False, name: str | None = None) -> None:
        super().__init__(name)
        self.from_logits = bool(from_logits)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}

    def per_sample(self, y_true, y_pred):
        labels = y_true.reshape(-1).astype(np.int64)
        rows = np.arange(len(labels))
        if self.from_logits:
            z = y_pred - y_pred.max(axis=1, keepdims=True)
            return np.log(np.exp(z).sum(axis=1)) - z[rows, labels]
        p = np.clip(y_pred / y_pred.sum(axis=1, keepdims=True), _EPS, 1 - _EPS)
        return -np.log(p[rows, labels])


class CategoricalCrossentropy(CategoricalCrossentropyBase):
    """Cross-entropy between one-hot (or soft) targets and predicted class probabilities.

    Args:
        from_logits: Whether the model outputs logits. Defaults to False.
        label_smoothing: Mix targets with the uniform distribution by this amount. Defaults to 0.
        name: Defaults to "categorical_crossentropy".
    """

    kind = 1
    default_name = "categorical_crossentropy"

    def per_sample(self, y_true, y_pred):
        y_true = self.prepare_targets(y_true)
        if self.from_logits:
            z = y_pred - y_pred.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        else:
            logp = np.log(np.clip(y_pred / y_pred.sum(axis=1, keepdims=True), _EPS, 1 - _EPS))
        return -(y_true * logp).sum(axis=1)


class BinaryCrossentropy(BinaryCrossentropyBase):
    """Binary cross-entropy, averaged over the outputs, for targets in [0, 1].

    Args:
        from_logits: Whether the model outputs logits. Defaults to False.
        label_smoothing: Squeeze targets towards 0.5 by this amount. Defaults to 0.
        name: Defaults to "binary_crossentropy".
    """

    kind = 2
    default_name = "binary_crossentropy"

    def per_sample(self, y_true, y_pred):
        t = self.prepare_targets(y_true)
        if self.from_logits:
            z = y_pred
            return np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))), axis=1)
        p = np.clip(y_pred, _EPS, 1 - _EPS)
        return -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p), axis=1)


class KLDivergence(Loss):
    """Kullback-Leibler divergence sum(t * log(t / p)) per sample, with t = y_true and p = y_pred
    each clipped to [1e-7, 1], for target and predicted distributions (e.g. a softmax output).

    Args:
        name: Defaults to "kl_divergence".
    """

    kind = 12
    default_name = "kl_divergence"

    def per_sample(self, y_true, y_pred):
        t, p = np.clip(y_true, _EPS, 1), np.clip(y_pred, _EPS, 1)
        return np.sum(t * np.log(t / p), axis=1)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Any:
    """Sparse categorical cross-entropy (see `SparseCategoricalCrossentropy`), one per sample."""
    return SparseCategoricalCrossentropy(from_logits=from_logits).call(y_true, y_pred)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Any:
    """Categorical cross-entropy (see `CategoricalCrossentropy`), one per sample."""
    return CategoricalCrossentropy(from_logits=from_logits).call(y_true, y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Any:
    """Binary cross-entropy (see `BinaryCrossentropy`), one per sample."""
    return BinaryCrossentropy(from_logits=from_logits).call(y_true, y_pred)


def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    """Mean squared error over each sample's outputs, one per sample."""
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    """Mean absolute error over each sample's outputs, one per sample."""
    return MeanAbsoluteError().call(y_true, y_pred)


def hinge(y_true: Any, y_pred: Any) -> Any:
    """Hinge loss, one per sample."""
    return Hinge().call(y_true, y_pred)


def logistic(y_true: Any, y_pred: Any) -> Any:
    """Logistic loss log(1 + exp(-y * score)) for labels in {-1, +1}, one per sample."""
    return LogisticLoss().call(y_true, y_pred)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Any:
    """Huber loss (see `Huber`), one per sample."""
    return Huber(delta=delta).call(y_true, y_pred)


def log_cosh(y_true: Any, y_pred: Any) -> Any:
    """Log(cosh(y_pred - y_true)) (see `LogCosh`), one per sample."""
    return LogCosh().call(y_true, y_pred)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Any:
    """Squared logarithmic error (see `MeanSquaredLogarithmicError`), one per sample."""
    return MeanSquaredLogarithmicError().call(y_true, y_pred)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Any:
    """Absolute percentage error (see `MeanAbsolutePercentageError`), one per sample."""
    return MeanAbsolutePercentageError().call(y_true, y_pred)


def poisson(y_true: Any, y_pred: Any) -> Any:
    """Poisson loss (see `Poisson`), one per sample."""
    return Poisson().call(y_true, y_pred)


def kl_divergence(y_true: Any, y_pred: Any) -> Any:
    """Kullback-Leibler divergence (see `KLDivergence`), one per sample."""
    return KLDivergence().call(y_true, y_pred)


def squared_hinge(y_true: Any, y_pred: Any) -> Any:
    """Squared hinge loss (see `SquaredHinge`), one per sample."""
    return SquaredHinge().call(y_true, y_pred)


def categorical_hinge(y_true: Any, y_pred: Any) -> Any:
    """Categorical hinge loss (see `CategoricalHinge`), one per sample."""
    return CategoricalHinge().call(y_true, y_pred)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    """Cosine similarity loss (see `CosineSimilarity`; only axis=-1), one per sample."""
    return CosineSimilarity(axis=axis).call(y_true, y_pred)


# tf.keras's short names (Keras 3 keeps them as legacy aliases)
mse, mae = mean_squared_error, mean_absolute_error
msle, mape = mean_squared_logarithmic_error, mean_absolute_percentage_error
kld = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

_CLASSES: dict[str, type[Loss]] = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "hinge": Hinge,
    "logistic": LogisticLoss,
    "huber": Huber,
    "huber_loss": Huber,
    "log_cosh": LogCosh,
    "logcosh": LogCosh,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError,
    "poisson": Poisson,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge,
    "cosine_similarity": CosineSimilarity,
}
_FUNCTIONS = {
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    binary_crossentropy: BinaryCrossentropy,
    binary_focal_crossentropy: BinaryFocalCrossentropy,
    categorical_focal_crossentropy: CategoricalFocalCrossentropy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    hinge: Hinge,
    logistic: LogisticLoss,
    huber: Huber,
    log_cosh: LogCosh,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    poisson: Poisson,
    kl_divergence: KLDivergence,
    squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge,
    cosine_similarity: CosineSimilarity,
}


def get(identifier: str | Loss | Any) -> Loss:
    """Return a Loss for a name ("mse", "sparse_categorical_crossentropy", ...), class or object.

    Raises:
        ValueError: for an unknown name or a missing loss.
        TypeError: for an object that is not a loss the engine implements.
    """
    if identifier is None:
        raise ValueError("loss is required: pass e.g. loss='sparse_categorical_crossentropy'")
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        # Keras's names, and its class names as strings ("MeanSquaredError"), as keras.losses.get
        by_class = {c.__name__.lower(): c for c in _CLASSES.values()}
        cls = _CLASSES.get(identifier.lower()) or by_class.get(identifier.lower())
        if cls is None:
            names = ", ".join(sorted(_CLASSES))
            raise ValueError(f"Unknown loss {identifier!r}. Expected one of: {names}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    raise TypeError(
        f"loss must be a name, a fastmlp.losses.Loss or one of its functions, "
        f"got {type(identifier).__name__}; custom Python losses are not supported by the engine"
    )


def serialize(loss: Loss) -> dict[str, Any]:
    """Return {"class_name": ..., "config": ...} for a loss."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict[str, Any]) -> Loss:
    """Rebuild a loss from `serialize`'s output."""
    classes = {cls.__name__: cls for cls in _CLASSES.values()}
    cls = classes.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(f"Unknown loss class {config.get('class_name')!r}")
    return cls.from_config(dict(config.get("config", {})))
