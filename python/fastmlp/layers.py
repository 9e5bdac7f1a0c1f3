"""Layers: descriptions of what the engine computes, with Keras's names, arguments and configs.

A layer holds no arrays of its own; once its model is built, its weights live in the engine and
`get_weights()` / `set_weights()` read and write them there.
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
import weakref
from collections import defaultdict
from typing import Any

import numpy as np

from fastmlp import _core
from fastmlp import activations as activations_module
from fastmlp import initializers as initializers_module
from fastmlp import regularizers as regularizers_module

__all__ = [
    "ELU",
    "Activation",
    "BatchNormalization",
    "Dense",
    "Dropout",
    "Flatten",
    "Input",
    "InputLayer",
    "Layer",
    "LeakyReLU",
    "Normalization",
    "PReLU",
    "ReLU",
    "Softmax",
]

_name_counters: defaultdict[str, itertools.count] = defaultdict(itertools.count)


def reset_names() -> None:
    """Restart the automatic names ("dense", "dense_1", ...), as keras.backend.clear_session()."""
    _name_counters.clear()


def unique_name(prefix: str) -> str:
    """Keras-style unique names: "dense", "dense_1", "dense_2", ..."""
    n = next(_name_counters[prefix])
    return prefix if n == 0 else f"{prefix}_{n}"


def _snake(name: str) -> str:
    """Keras's snake case of a class name: "BatchNormalization" -> "batch_normalization", "ReLU"
    -> "re_lu", "PReLU" -> "p_re_lu" (keras.src.utils.naming.to_snake_case)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _shape_tuple(shape: Any, name: str) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of positive integers, got {shape!r}") from None
    if not dims or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0 for d in dims
    ):
        raise ValueError(f"{name} must be a non-empty tuple of positive integers, got {shape!r}")
    return tuple(int(d) for d in dims)


def _check_trainable(trainable: Any) -> bool:
    if not isinstance(trainable, (bool, np.bool_)):
        raise TypeError(f"trainable must be True or False, got {trainable!r}")
    return bool(trainable)


class Layer:
    """Base class of all layers.

    Args:
        name: Unique name in the model. Defaults to the snake-case class name ("dense", "dense_1").
        input_shape: Shape of one sample, for the first layer of a Sequential, e.g. (28, 28).
            Defaults to None.
        trainable: False freezes the layer's weights, as Keras's: fit leaves them (and their
            optimizer state) as they are and their regularizer out of the loss, while gradients
            still flow through the layer. Settable at any time; takes effect at the next step.
            Defaults to True.
        dtype: Accepted for Keras compatibility; the model's dtype is used. Defaults to None.
    """

    def __init__(
        self,
        name: str | None = None,
        input_shape: Any = None,
        trainable: bool = True,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        input_dim = kwargs.pop("input_dim", None)
        if input_dim is not None:  # tf.keras 2 style: Dense(12, input_dim=8)
            if input_shape is not None and _shape_tuple(input_shape, "input_shape") != (input_dim,):
                raise ValueError(f"input_dim={input_dim!r} contradicts input_shape={input_shape!r}")
            input_shape = (input_dim,)
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {sorted(kwargs)}")
        self._trainable = _check_trainable(trainable)
        self.name = name or unique_name(_snake(type(self).__name__))
        self.input_shape = None if input_shape is None else _shape_tuple(input_shape, "input_shape")
        self.dtype = dtype
        self._model: Any = None  # set when a built model owns this layer
        self._param_offset = 0  # where this layer's weights start in the engine's flat vector
        # The same layer in the other models of a nested Sequential (Sequential([model, ...])):
        # its weights and trainable flag follow this one's (Sequential._share_weights).
        self._twins: weakref.WeakSet[Layer] = weakref.WeakSet()

    @property
    def trainable(self) -> bool:
        """Whether fit updates this layer's weights (settable, as Keras's)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        previous, self._trainable = self._trainable, _check_trainable(value)
        if self._model is not None:
            try:
                self._model._sync_trainable()
            except Exception:  # the engine busy in another thread: nothing changed
                self._trainable = previous
                raise
        self._share_trainable()

    def _share_trainable(self) -> None:
        """The trainable flag onto the twin layers (nested Sequential models)."""
        for twin in list(self._twins):
            if twin._trainable != self._trainable:
                twin.trainable = self._trainable

    # -- shapes -------------------------------------------------------------------------------
    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one output sample for one input sample of `input_shape`."""
        return input_shape

    def weight_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Shapes of the layer's weights for this input shape (Keras order: kernel, bias)."""
        return []

    def engine_spec(self, input_shape: tuple[int, ...]) -> Any:
        """The engine's description of this layer, or None if the engine need not see it."""
        return None

    def build_weights(
        self, input_shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator
    ):
        """Initial values of the weights, drawn from `rng` (the model's generator)."""
        return []

    # -- weights ------------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self._model is not None and self._model.built

    def _shapes(self) -> list[tuple[int, ...]]:
        if not self.built:
            return []
        return self.weight_shapes(self._model._layer_input_shape(self))

    @property
    def _params(self) -> slice:
        """Where this layer's weights lie in its model's flat parameter vector."""
        return slice(self._param_offset, self._param_offset + self.count_params())

    def count_params(self) -> int:
        """Number of weights (0 before the model is built)."""
        return sum(math.prod(s) for s in self._shapes())

    @property
    def weights(self) -> list[np.ndarray]:
        """Copies of the weights (Keras's variables, as NumPy arrays): `get_weights()`."""
        return self.get_weights()

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The weights fit updates: all of them, or none for a frozen layer."""
        return self.get_weights() if self._trainable else []

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """The weights fit leaves alone: those of a frozen layer."""
        return [] if self._trainable else self.get_weights()

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as NumPy arrays: [kernel, bias] for Dense."""
        if not self._shapes():
            return []
        flat = self._model._engine.get_params()
        out, offset = [], self._param_offset
        for shape in self._shapes():
            size = math.prod(shape)
            out.append(flat[offset : offset + size].reshape(shape).copy())
            offset += size
        return out

    def set_weights(self, weights: list[Any]) -> None:
        """Replace the weights; shapes must match `get_weights()`."""
        if self._model is None or not self._model.built:
            raise ValueError(
                f"layer {self.name!r} is not built yet: add it to a model with a known input shape "
                "(or fit the model once) before setting its weights"
            )
        shapes = self._shapes()
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"weights must be a list of arrays, got {type(weights).__name__}")
        if len(weights) != len(shapes):
            raise ValueError(
                f"layer {self.name!r} expects {len(shapes)} weight arrays, got {len(weights)}"
            )
        self._model._write_weights([(self._param_offset, shapes, list(weights), self.name)])

    def __getstate__(self) -> dict[str, Any]:
        """pickle / deepcopy: a copy is a layer of its own, twin of none."""
        state = self.__dict__.copy()
        state.pop("_twins", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._twins = weakref.WeakSet()

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as JSON-compatible values."""
        config: dict[str, Any] = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if not self._trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class InputLayer(Layer):
    """Declares the shape of one sample; made by `Input(shape=...)`.

    Args:
        shape: Shape of one sample, without the batch dimension, e.g. (784,).
        batch_size: Accepted for Keras compatibility. Defaults to None.
        name: Defaults to "input_layer".
    """

    def __init__(
        self,
        shape: Any = None,
        batch_size: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        shape = kwargs.pop("input_shape", shape)
        if shape is None:
            raise ValueError("Input needs shape=, the shape of one sample, e.g. shape=(784,)")
        super().__init__(name=name, input_shape=shape, **kwargs)
        self.batch_size = batch_size

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.input_shape)}


def Input(
    shape: Any = None, batch_size: int | None = None, name: str | None = None, **kwargs: Any
) -> InputLayer:
    """The input of a Sequential model: `Sequential([Input(shape=(784,)), Dense(10)])`.

    Args:
        shape: Shape of one sample, e.g. (28, 28) or (784,).
        batch_size: Accepted for Keras compatibility. Defaults to None.
        name: Defaults to "input_layer".
    """
    return InputLayer(shape=shape, batch_size=batch_size, name=name, **kwargs)


class Flatten(Layer):
    """Flattens each sample: (batch, 28, 28) -> (batch, 784). Costs nothing in the engine.

    Args:
        **kwargs: name, input_shape (see `Layer`).
    """

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)


def _require_flat(layer: Layer, input_shape: tuple[int, ...]) -> int:
    if len(input_shape) != 1:
        raise ValueError(
            f"{type(layer).__name__} layer {layer.name!r} expects flat samples (features,), got samples "
            f"of shape {input_shape}; add layers.Flatten() before it"
        )
    return input_shape[0]


class Dense(Layer):
    """Fully connected layer: output = activation(x @ kernel + bias).

    Args:
        units: Number of output units.
        activation: Name or function ("relu", `fastmlp.nn.relu`, ...). Defaults to None (linear).
        use_bias: Whether to add a bias vector. Defaults to True.
        kernel_initializer: Defaults to "glorot_uniform".
        bias_initializer: Defaults to "zeros".
        kernel_regularizer: L1/L2 penalty on the kernel. Defaults to None.
        bias_regularizer: L1/L2 penalty on the bias. Defaults to None.
        **kwargs: name, input_shape (see `Layer`).

    Example:
        >>> layer = Dense(128, activation="relu", kernel_regularizer=regularizers.L2(1e-4))
    """

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        for arg, value in (
            ("activity_regularizer", activity_regularizer),
            ("kernel_constraint", kernel_constraint),
            ("bias_constraint", bias_constraint),
        ):
            if value is not None:
                raise NotImplementedError(f"Dense: {arg} is not supported by fastmlp")
        self.units = int(units)
        self.activation = activations_module.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers_module.get(kernel_initializer)
        self.bias_initializer = initializers_module.get(bias_initializer)
        self.kernel_regularizer, kernel_penalty = _regularizer(
            kernel_regularizer, "kernel_regularizer"
        )
        self.bias_regularizer, bias_penalty = _regularizer(bias_regularizer, "bias_regularizer")
        self._penalties = (kernel_penalty, bias_penalty)

    def compute_output_shape(self, input_shape):
        _require_flat(self, input_shape)
        return (self.units,)

    def weight_shapes(self, input_shape):
        features = _require_flat(self, input_shape)
        return [(features, self.units)] + ([(self.units,)] if self.use_bias else [])

    def engine_spec(self, input_shape):
        (kl1, kl2), (bl1, bl2) = self._penalties
        return _core.LayerSpec(
            kind=0,
            units=self.units,
            activation=activations_module.code(self.activation),
            use_bias=self.use_bias,
            kernel_l1=kl1,
            kernel_l2=kl2,
            bias_l1=bl1,
            bias_l2=bl2,
        )

    def build_weights(self, input_shape, dtype, rng):
        shapes = self.weight_shapes(input_shape)
        out = [np.asarray(self.kernel_initializer(shapes[0], dtype=dtype, rng=rng))]
        if self.use_bias:
            out.append(np.asarray(self.bias_initializer(shapes[1], dtype=dtype, rng=rng)))
        return out

    @property
    def kernel(self) -> np.ndarray:
        """A copy of the (inputs, units) weight matrix."""
        return self.get_weights()[0]

    @property
    def bias(self) -> np.ndarray | None:
        """A copy of the bias vector (None without bias)."""
        return self.get_weights()[1] if self.use_bias else None

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations_module.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers_module.serialize(self.kernel_initializer),
            "bias_initializer": initializers_module.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_regularizer(self.kernel_regularizer),
            "bias_regularizer": _serialize_regularizer(self.bias_regularizer),
        }


def _regularizer(identifier: Any, name: str) -> tuple[Any, tuple[float, float]]:
    """The regularizer `identifier` stands for and its (l1, l2); errors name the argument `name`."""
    try:
        regularizer = regularizers_module.get(identifier)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: {error}") from None
    if regularizer is None:
        return None, (0.0, 0.0)
    try:
        return regularizer, regularizer.coefficients()
    except NotImplementedError:
        raise TypeError(
            f"{name}: the engine applies L1/L2 penalties only; use regularizers.L1, L2 or L1L2"
        ) from None


def _serialize_regularizer(regularizer: Any) -> Any:
    return None if regularizer is None else regularizers_module.serialize(regularizer)


class Activation(Layer):
    """Applies an activation function to its input.

    Args:
        activation: Name or function, e.g. "softmax".
        **kwargs: name, input_shape (see `Layer`).
    """

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations_module.get(activation)

    def compute_output_shape(self, input_shape):
        _require_flat(self, input_shape)
        return input_shape

    def engine_spec(self, input_shape):
        return _core.LayerSpec(kind=1, activation=activations_module.code(self.activation))

    def get_config(self):
        return {**super().get_config(), "activation": activations_module.serialize(self.activation)}


class Dropout(Layer):
    """Sets a fraction `rate` of its inputs to zero during training (inverted dropout).

    Args:
        rate: Fraction of the inputs to drop, in [0, 1).
        seed: Accepted for Keras compatibility; the model's generator draws the masks. Defaults to None.
        **kwargs: name, input_shape (see `Layer`).
    """

    def __init__(
        self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise NotImplementedError("Dropout: noise_shape is not supported by fastmlp")
        self.rate = float(rate)
        self.seed = seed

    def compute_output_shape(self, input_shape):
        _require_flat(self, input_shape)
        return input_shape

    def engine_spec(self, input_shape):
        return _core.LayerSpec(kind=2, rate=self.rate)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class Softmax(Activation):
    """Softmax over the features of each sample (tf.keras.layers.Softmax).

    Args:
        axis: Must be -1 (the features). Defaults to -1.
        **kwargs: name, input_shape (see `Layer`).
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        if axis not in (-1, 1):
            raise ValueError(f"Softmax: only axis=-1 (the features) is supported, got {axis!r}")
        kwargs.pop("activation", None)
        super().__init__("softmax", **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("activation")
        return config


class Normalization(Layer):
    """Standardizes each feature: (x - mean) / sqrt(variance), as Keras's Normalization(axis=-1).

    The mean and variance come from `adapt(data)` (the data's, per feature) or from the `mean` and
    `variance` arguments; they are weights that training never changes (Keras's: mean, variance
    and count, all non-trainable). The divisor is max(sqrt(variance), 1e-7).

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

    @property
    def mean(self) -> np.ndarray | None:
        """The mean (per feature once in a built model); None before adapt."""
        if self._model is not None and self._model.built:
            return self.get_weights()[0]
        return None if self._stats is None else np.asarray(self._stats[0])

    @property
    def variance(self) -> np.ndarray | None:
        """The variance (per feature once in a built model); None before adapt."""
        if self._model is not None and self._model.built:
            return self.get_weights()[1]
        return None if self._stats is None else np.asarray(self._stats[1])

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


# The activation layers with arguments of their own live in a module of their own; they are part
# of this one's API.
from fastmlp._activation_layers import ELU, LeakyReLU, PReLU, ReLU

_CLASSES = {
    cls.__name__: cls
    for cls in (
        InputLayer,
        Flatten,
        Dense,
        Activation,
        Dropout,
        Softmax,
        ReLU,
        LeakyReLU,
        ELU,
        PReLU,
        Normalization,
        BatchNormalization,
    )
}


def twin_group(layer: Layer) -> list[Layer]:
    """The layers that share `layer`'s weights (nested models), however far: its twins, theirs,
    ... (not `layer` itself)."""
    seen, todo = {id(layer): layer}, [layer]
    while todo:
        for twin in list(todo.pop()._twins):
            if id(twin) not in seen:
                seen[id(twin)] = twin
                todo.append(twin)
    return [t for t in seen.values() if t is not layer]


def serialize(layer: Layer) -> dict[str, Any]:
    """Return {"class_name": ..., "config": ...}."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from `serialize`'s output."""
    cls = _CLASSES.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(f"Unknown layer class {config.get('class_name')!r}")
    return cls.from_config(dict(config.get("config", {})))
