"""Activation layers with arguments of their own: ReLU, LeakyReLU, ELU (Keras 3's arguments and
defaults). They are public as `fastmlp.layers.X`.

The engine computes them with the activation's arguments in the layer's spec (activation.hpp);
Keras-written configs of these layers load with `from_config` (its extra keys, such as "dtype",
are accepted as in any layer).
"""

from __future__ import annotations

from typing import Any

from fastmlp import _core
from fastmlp import activations as activations_module
from fastmlp._validation import warn_user
from fastmlp.layers import Activation, _require_flat


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
