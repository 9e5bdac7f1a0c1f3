"""The activation layers, as Keras 3's keras/src/layers/activations/: `Activation` (any
activation function) and `Softmax`; ReLU, LeakyReLU and ELU with arguments of their own (Keras
3's arguments and defaults); and PReLU, whose alphas are trained weights. They are public as
`fastmlp.layers.X`.

The engine computes them with the activation's arguments in the layer's spec (activation.hpp);
Keras-written configs of these layers load with `from_config` (its extra keys, such as "dtype",
are accepted as in any layer).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from fastmlp import _core
from fastmlp import activations as activations_module
from fastmlp import initializers as initializers_module
from fastmlp._layer_base import Layer, _regularizer, _require_flat, _serialize_regularizer
from fastmlp._validation import warn_user

PRELU = 5  # LayerKind::PRelu


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


def _number(layer: str, name: str, value: Any, at_least: float | None = 0.0) -> float:
    """An argument as a float: a finite real number, >= at_least (None: any); Keras's messages
    for None and negative values."""
    if value is None and at_least is not None:
        raise ValueError(
            f"{name} of a {layer} layer cannot be None or a negative value. Received: {name}=None"
        )
    value = activations_module._argument(value, name, layer)  # (a finite number)
    if at_least is not None and value < at_least:
        raise ValueError(
            f"{name} of a {layer} layer cannot be a negative value. Received: {name}={value!r}"
        )
    return value


class _FixedActivation(Activation):
    """An Activation layer of one function, with the function's arguments as its own."""

    function = "linear"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("activation", None)  # (configs of fastmlp versions that wrote it)
        super().__init__(self.function, **kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("activation")
        return config


class ReLU(_FixedActivation):
    """Rectified linear unit as a layer, with Keras 3's arguments: min(x, max_value) for
    x > threshold, negative_slope * (x - threshold) at or below it; max(x, 0) by default.

    Gradients at the kinks are TensorFlow's: at x = threshold, negative_slope when the layer is a
    leaky ReLU (only negative_slope given), else 0; at x = max_value, 1 (0 for max_value=6 with
    threshold 0, where Keras uses relu6).

    Args:
        max_value: The largest output, a number >= 0; None: no maximum. Defaults to None.
        negative_slope: Slope at and below the threshold, a number >= 0. Defaults to 0.0.
        threshold: Where the function turns, a number >= 0. Defaults to 0.0.
        **kwargs: name, input_shape (see `Layer`).

    Example:
        >>> layer = ReLU(max_value=10, negative_slope=0.5)   # [-10, -5, 0, 5, 10] -> [-5, -2.5, 0, 5, 10]
    """

    function = "relu"

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else _number("ReLU", "max_value", max_value)
        self.negative_slope = _number("ReLU", "negative_slope", negative_slope)
        self.threshold = _number("ReLU", "threshold", threshold)

    def engine_spec(self, input_shape):
        _require_flat(self, input_shape)
        if self.max_value is None and self.threshold == 0 and self.negative_slope != 0:
            # Keras computes this form with TensorFlow's leaky_relu (the GPU engine has it too)
            code = activations_module.code("leaky_relu")
            return _core.LayerSpec(kind=1, activation=code, leaky_slope=self.negative_slope)
        return _core.LayerSpec(
            kind=1,
            activation=activations_module.code("relu"),
            negative_slope=self.negative_slope,
            max_value=self.max_value,
            threshold=self.threshold,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(_FixedActivation):
    """Leaky ReLU as a layer: x for x > 0, negative_slope * x otherwise (Keras 3's LeakyReLU).

    Args:
        negative_slope: Slope at and below 0, a number >= 0. Defaults to 0.3, Keras's default for
            this layer (the function `activations.leaky_relu` defaults to 0.2). Keras's older name
            `alpha` is accepted with a warning, as Keras 3 does.
        **kwargs: name, input_shape (see `Layer`).
    """

    function = "leaky_relu"

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:  # (the argument's name in Keras 2 and its configs)
            negative_slope = kwargs.pop("alpha")
            warn_user("Argument `alpha` is deprecated. Use `negative_slope` instead.")
        super().__init__(**kwargs)
        self.negative_slope = _number("LeakyReLU", "negative_slope", negative_slope)

    def engine_spec(self, input_shape):
        _require_flat(self, input_shape)
        code = activations_module.code("leaky_relu")
        return _core.LayerSpec(kind=1, activation=code, leaky_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_FixedActivation):
    """Exponential linear unit as a layer: x for x > 0, alpha * (exp(x) - 1) otherwise.

    Args:
        alpha: Scale of the negative part (any finite number, as Keras). Defaults to 1.0.
        **kwargs: name, input_shape (see `Layer`).
    """

    function = "elu"

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = _number("ELU", "alpha", alpha, at_least=None)

    def engine_spec(self, input_shape):
        _require_flat(self, input_shape)
        return _core.LayerSpec(kind=1, activation=activations_module.code("elu"), alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


def _shared_axes(shared_axes: Any) -> list[int] | None:
    """Keras's shared_axes as a list (None stays None), checked for flat samples: axis 1 (the
    features) is the only axis a sample has."""
    if shared_axes is None:
        return None
    axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
    for axis in axes:
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(
                f"PReLU: shared_axes must be None or axes (integers), got {shared_axes!r}"
            )
        if axis < 1:
            raise ValueError(
                f"PReLU: shared_axes are axes of the input counted from 1 (0 is the batch), got "
                f"{shared_axes!r}"
            )
        if axis > 1:
            raise NotImplementedError(
                f"PReLU: shared_axes={shared_axes!r} shares alphas along axes that flat samples "
                "do not have; fastmlp's layers take samples of shape (features,), where "
                "shared_axes=None (an alpha per feature) or [1] (one alpha for all) apply"
            )
    return [int(axis) for axis in axes]


class PReLU(Layer):
    """Parametric ReLU (He et al., 2015): x for x > 0, alpha * x otherwise, where alpha is a
    trained weight (Keras 3's PReLU): one per feature, or one for all with shared_axes=[1].

    alpha is trained as Dense's kernel is: by the optimizer, penalized by alpha_regularizer, left
    as it is while the layer is frozen. At x = 0 the gradient is TensorFlow's: 0.

    Args:
        alpha_initializer: Initializer of alpha. Defaults to "zeros" (a ReLU to start with).
        alpha_regularizer: L1/L2 penalty on alpha. Defaults to None.
        alpha_constraint: Must be None (fastmlp has no weight constraints). Defaults to None.
        shared_axes: None (an alpha per feature) or [1] (one alpha shared by all the features);
            the other axes of Keras's images do not exist in flat samples. Defaults to None.
        **kwargs: name, input_shape, trainable (see `Layer`).

    Example:
        >>> model = Sequential([Input(shape=(784,)), Dense(128), PReLU(), Dense(10)])
    """

    def __init__(
        self,
        alpha_initializer: Any = "zeros",
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if alpha_constraint is not None:
            raise NotImplementedError("PReLU: alpha_constraint is not supported by fastmlp")
        self.shared_axes = _shared_axes(shared_axes)
        try:
            self.alpha_initializer = initializers_module.get(alpha_initializer)
        except (TypeError, ValueError) as error:
            raise type(error)(f"PReLU: alpha_initializer: {error}") from None
        self.alpha_regularizer, self._penalty = _regularizer(alpha_regularizer, "alpha_regularizer")

    @property
    def _shared(self) -> bool:
        return bool(self.shared_axes)  # ([1]; an empty list shares nothing, as in Keras)

    def compute_output_shape(self, input_shape):
        _require_flat(self, input_shape)
        return input_shape

    def weight_shapes(self, input_shape):
        features = _require_flat(self, input_shape)
        return [(1,) if self._shared else (features,)]

    def engine_spec(self, input_shape):
        l1, l2 = self._penalty
        return _core.LayerSpec(kind=PRELU, shared_alpha=self._shared, kernel_l1=l1, kernel_l2=l2)

    def build_weights(self, input_shape, dtype, rng):
        (shape,) = self.weight_shapes(input_shape)
        return [np.asarray(self.alpha_initializer(shape, dtype=dtype, rng=rng))]

    @property
    def alpha(self) -> np.ndarray:
        """A copy of the alphas: (features,), or (1,) shared."""
        return self.get_weights()[0]

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers_module.serialize(self.alpha_initializer),
            "alpha_regularizer": _serialize_regularizer(self.alpha_regularizer),
            "alpha_constraint": None,
            "shared_axes": self.shared_axes,
        }
