"""`tf.nn`-style names, so that `tf.nn.relu` works as a layer's activation after `import fastmlp as tf`."""

from __future__ import annotations

from fastmlp.activations import (
    elu,
    leaky_relu,
    relu,
    selu,
    sigmoid,
    softmax,
    softplus,
    softsign,
    tanh,
)

__all__ = [
    "elu",
    "leaky_relu",
    "relu",
    "selu",
    "sigmoid",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
]
