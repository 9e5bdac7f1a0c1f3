"""tf.keras-style names, so that Keras MLP code runs with only its imports changed.

from fastmlp import keras          # instead of: from tensorflow import keras
import fastmlp as tf               # then tf.keras.Sequential, tf.optimizers.Adam, tf.nn.relu
"""

from __future__ import annotations

from fastmlp import (
    activations,
    callbacks,
    config,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    utils,
)
from fastmlp.layers import Input
from fastmlp.models import Sequential

backend = config

__all__ = [
    "Input",
    "Sequential",
    "activations",
    "backend",
    "callbacks",
    "config",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "utils",
]


def __getattr__(name: str) -> object:
    """`keras.wrappers` (the scikit-learn wrappers) is imported when first used: it imports
    scikit-learn, which `import fastmlp` does not."""
    if name == "wrappers":
        import importlib

        return importlib.import_module("fastmlp.wrappers")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
