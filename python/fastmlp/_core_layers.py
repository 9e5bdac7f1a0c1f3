"""The core layers, as Keras 3's keras/src/layers/core/: `InputLayer` (made by `Input`), which
declares the shape of one sample, and `Dense`, the fully connected layer. They are public as
`fastmlp.layers.X`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlp import _core
from fastmlp import activations as activations_module
from fastmlp import initializers as initializers_module
from fastmlp._layer_base import Layer, _regularizer, _require_flat, _serialize_regularizer


class InputLayer(Layer):
    """Declares the shape of one sample; made by `Input(shape=...)`.

    Args:
        shape: Shape of one sample, without the batch dimension, e.g. (784,).
        batch_size: Accepted for Keras compatibility. Defaults to None.
        name: Defaults to "input_layer".
        batch_shape: Keras 3's alternative to shape and batch_size: (batch_size, *shape), as
            its configs write it. Defaults to None.
    """

    def __init__(
        self,
        shape: Any = None,
        batch_size: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        shape = kwargs.pop("input_shape", shape)
        batch_shape = kwargs.pop("batch_shape", None)
        if batch_shape is not None:
            if shape is not None:
                raise ValueError("Input: give shape= or batch_shape=, not both")
            if isinstance(batch_shape, (str, bytes)) or not hasattr(batch_shape, "__len__"):
                raise ValueError(f"Input: batch_shape must be a tuple, got {batch_shape!r}")
            batch_size, shape = batch_shape[0] if len(batch_shape) else None, batch_shape[1:]
        for key in ("sparse", "ragged", "optional"):  # (Keras's config; only False is ours)
            if kwargs.pop(key, False):
                raise NotImplementedError(f"Input: {key}=True is not supported")
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
