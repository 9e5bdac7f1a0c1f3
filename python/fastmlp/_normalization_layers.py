"""The normalization layers: `Normalization`, which standardizes each feature by the data's
mean and variance (`adapt`), and `BatchNormalization`, by each batch's while training, as Keras
3's (keras/src/layers/preprocessing/ and normalization/). Their statistics are weights that
training never changes. They are public as `fastmlp.layers.X`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastmlp import _core
from fastmlp import initializers as initializers_module
from fastmlp._layer_base import Layer, _regularizer, _require_flat, _serialize_regularizer


class Normalization(Layer):
    """Standardizes each feature: (x - mean) / sqrt(variance), as Keras's Normalization(axis=-1).

    The mean and variance come from `adapt(data)` (the data's, per feature): then they are weights
    that training never changes (Keras's: mean, variance and count, all non-trainable); or from
    the `mean` and `variance` arguments: then they are constants of the layer's config, and it
    has no weights (as in Keras 3: `get_weights()` and `summary()` count none). The divisor is
    max(sqrt(variance), 1e-7).

    Args:
        axis: -1 (each feature its own mean and variance) or None (one for all the features).
        mean, variance: The statistics, instead of `adapt` (a number or one per feature).
        invert: Undo the standardization instead: mean + x * sqrt(variance). Defaults to False.
        **kwargs: name, input_shape (see `Layer`).

    Example:
        >>> normalizer = Normalization(input_shape=(9,))
        >>> normalizer.adapt(x_train)
        >>> model = Sequential([normalizer, Dense(64, activation="relu"), Dense(1)])
    """

    def __init__(
        self, axis: Any = -1, mean: Any = None, variance: Any = None, invert: bool = False, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if axis is not None and axis not in (-1, 1, (-1,), [-1]):
            raise NotImplementedError(
                "Normalization: only axis=-1 (one mean and variance per feature) and axis=None "
                f"(one for all) are supported, got {axis!r}"
            )
        if (mean is None) != (variance is None):
            raise ValueError(
                "When setting values directly, both `mean` and `variance` must be set. "
                f"Received: mean={mean} and variance={variance}"
            )
        self.axis = None if axis is None else -1
        self.invert = bool(invert)
        self._stats: tuple[np.ndarray, np.ndarray, float] | None = None  # (mean, variance, count)
        if mean is not None:
            stats = [np.asarray(v, dtype=np.float64) for v in (mean, variance)]
            for value, what in zip(stats, ("mean", "variance")):
                if value.ndim > 1 or not np.isfinite(value).all():
                    raise ValueError(
                        f"Normalization: {what} must be a finite number or one per feature"
                    )
            if (stats[1] < 0).any():
                raise ValueError("Normalization: variance must be >= 0")
            self._stats = (stats[0], stats[1], 0.0)
        self._given = mean is not None

    def compute_output_shape(self, input_shape):
        _require_flat(self, input_shape)
        return input_shape

    def weight_shapes(self, input_shape):
        features = _require_flat(self, input_shape)
        return [(features,), (features,), ()]

    def _constants(self) -> bool:
        return self._given

    def _byte_size(self, itemsize: int) -> int:
        count = self.count_params()  # (Keras's count is an int64)
        return (count - 1) * itemsize + 8 if count else 0

    def engine_spec(self, input_shape):
        return _core.LayerSpec(kind=3, invert=self.invert)

    def build_weights(self, input_shape, dtype, rng):
        features = _require_flat(self, input_shape)
        mean, variance, count = self._stats or (np.zeros(1), np.ones(1), 0.0)
        try:
            out = [np.broadcast_to(v, (features,)).astype(dtype) for v in (mean, variance)]
        except ValueError:
            raise ValueError(
                f"Normalization: mean and variance hold {np.size(mean)} values, the inputs "
                f"{features} features"
            ) from None
        return [*out, np.asarray(count, dtype=dtype)]

    def adapt(self, data: Any) -> None:
        """Set the mean and variance (of the population, per feature) from `data`, (samples,
        features) or (samples, ...) flattened; in a built model, its weights too."""
        arr = np.asarray(data, dtype=np.float64)
        if arr.ndim < 2 or arr.shape[0] == 0:
            raise ValueError(
                f"Normalization.adapt: expected data of shape (samples, features), got {arr.shape}"
            )
        if not np.isfinite(arr).all():
            raise ValueError("Normalization.adapt: data contains NaN or infinity")
        arr = arr.reshape(arr.shape[0], -1)
        over = None if self.axis is None else 0  # axis=None: one mean and variance for all
        self._stats = (arr.mean(axis=over), arr.var(axis=over), float(arr.shape[0]))
        self._given = False  # (adapted: its statistics are weights from now on)
        if self._model is not None and self._model.built:
            self.set_weights(self.build_weights((arr.shape[1],), self._model.dtype, None))

    def __call__(self, x: Any) -> np.ndarray:
        """The layer on `x` (samples, features) by itself, as `normalizer(x)` in Keras."""
        if self.mean is None:
            raise ValueError("Normalization: call adapt(data) (or give mean and variance) first")
        mean, variance = self.mean, self.variance
        x = np.asarray(x, dtype=np.float64)
        sd = np.maximum(np.sqrt(np.maximum(variance, 0)), 1e-7)
        return mean + x * sd if self.invert else (x - mean) / sd

    def _statistic(self, index: int) -> np.ndarray | None:
        """The mean (0) or variance (1): per feature from the engine in a built model (weights
        or constants), else as adapted or given; None before either."""
        if self._model is not None and self._model.built:
            (features,), _, _ = self._engine_shapes()
            start = self._param_offset + index * features
            return self._model._engine.get_params()[start : start + features].copy()
        return None if self._stats is None else np.asarray(self._stats[index])

    @property
    def mean(self) -> np.ndarray | None:
        """The mean (per feature once in a built model); None before adapt."""
        return self._statistic(0)

    @property
    def variance(self) -> np.ndarray | None:
        """The variance (per feature once in a built model); None before adapt."""
        return self._statistic(1)

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return []

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        return self.get_weights()

    def get_config(self):
        config = {**super().get_config(), "axis": self.axis, "invert": self.invert}
        if self._given and self._stats is not None:
            config.update(mean=self._stats[0].tolist(), variance=self._stats[1].tolist())
        return config


class BatchNormalization(Layer):
    """Normalizes each feature by the batch's mean and variance while training (Ioffe & Szegedy,
    2015), by moving averages of them otherwise, then scales and shifts: Keras's, axis=-1.

    Training: gamma * (x - mean_batch) / sqrt(var_batch + epsilon) + beta, and after each step
    moving = moving * momentum + batch * (1 - momentum). predict / evaluate, and a frozen layer
    (trainable=False, as in Keras): the moving mean and variance instead.

    The weights are Keras's, in its order: gamma (with scale), beta (with center), moving_mean,
    moving_variance; gamma and beta are trainable, the moving statistics never are. Their
    regularizers add their penalties to the loss, as Dense's do (not while the layer is frozen).

    Args:
        axis: -1 (the features), the only axis of flat samples.
        momentum: Of the moving averages. Defaults to 0.99.
        epsilon: Added to the variance. Defaults to 0.001.
        center: Whether to add the offset beta; False: no beta (as if 0). Defaults to True.
        scale: Whether to multiply by gamma; False: no gamma (as if 1), e.g. when the next layer
            is linear and scales anyway. Defaults to True.
        beta_initializer, gamma_initializer, moving_mean_initializer,
            moving_variance_initializer: Defaults "zeros", "ones", "zeros", "ones".
        beta_regularizer, gamma_regularizer: L1/L2 penalties on beta and gamma (ignored where
            center / scale is off, as in Keras). Defaults to None.
        **kwargs: name, input_shape, trainable (see `Layer`).

    Example:
        >>> bn = BatchNormalization(scale=False, beta_regularizer=regularizers.L2(1e-4))
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 0.001,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if axis not in (-1, 1):
            raise NotImplementedError(
                f"BatchNormalization: only axis=-1 (the features) is supported, got {axis!r}"
            )
        for value, what in ((center, "center"), (scale, "scale")):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"BatchNormalization: {what} must be True or False, got {value!r}")
        for value, what, low, high in ((momentum, "momentum", 0, 1), (epsilon, "epsilon", 0, None)):
            ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
                value, bool
            )
            if not ok or not math.isfinite(value) or not low <= value <= (high or math.inf):
                raise ValueError(
                    f"BatchNormalization: {what} must be a number in [{low}, {high or 'inf'}), "
                    f"got {value!r}"
                )
        if epsilon <= 0:
            raise ValueError(f"BatchNormalization: epsilon must be > 0, got {epsilon!r}")
        self.axis = -1
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.initializers = [
            initializers_module.get(i)
            for i in (
                gamma_initializer,
                beta_initializer,
                moving_mean_initializer,
                moving_variance_initializer,
            )
        ]
        self.gamma_regularizer, gamma_penalty = _regularizer(gamma_regularizer, "gamma_regularizer")
        self.beta_regularizer, beta_penalty = _regularizer(beta_regularizer, "beta_regularizer")
        self._penalties = (gamma_penalty, beta_penalty)

    @property
    def _present(self) -> list[bool]:
        """Which of gamma, beta, moving_mean, moving_variance the layer has."""
        return [self.scale, self.center, True, True]

    def compute_output_shape(self, input_shape):
        _require_flat(self, input_shape)
        return input_shape

    def weight_shapes(self, input_shape):
        features = _require_flat(self, input_shape)
        return [(features,)] * sum(self._present)  # [gamma], [beta], moving_mean, moving_variance

    def engine_spec(self, input_shape):
        (gl1, gl2), (bl1, bl2) = self._penalties
        return _core.LayerSpec(
            kind=4,
            momentum=self.momentum,
            epsilon=self.epsilon,
            scale=self.scale,
            center=self.center,
            kernel_l1=gl1,  # (the engine's kernel and bias penalties: on gamma and beta)
            kernel_l2=gl2,
            bias_l1=bl1,
            bias_l2=bl2,
        )

    def build_weights(self, input_shape, dtype, rng):
        shape = (_require_flat(self, input_shape),)
        return [
            np.asarray(init(shape, dtype=dtype, rng=rng))
            for init, present in zip(self.initializers, self._present)
            if present
        ]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return self.get_weights()[: self._trained] if self._trainable else []

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        return self.get_weights()[self._trained :] if self._trainable else self.get_weights()

    @property
    def _trained(self) -> int:
        """How many of the weights are trained: gamma and beta, those there are."""
        return int(self.scale) + int(self.center)

    def get_config(self):
        names = (
            "gamma_initializer",
            "beta_initializer",
            "moving_mean_initializer",
            "moving_variance_initializer",
        )
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **{n: initializers_module.serialize(i) for n, i in zip(names, self.initializers)},
            "beta_regularizer": _serialize_regularizer(self.beta_regularizer),
            "gamma_regularizer": _serialize_regularizer(self.gamma_regularizer),
        }
