"""fastmlp: fast multi-layer perceptrons with the Keras Sequential API and a C++ engine.

Example:
    >>> import fastmlp as fm
    >>> model = fm.Sequential([fm.layers.Input(shape=(784,)),
    ...                        fm.layers.Dense(128, activation="relu"),
    ...                        fm.layers.Dense(10, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
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
    nn,
    optimizers,
    random,
    regularizers,
    utils,
)
from fastmlp.config import get_device, set_device
from fastmlp.layers import Input
from fastmlp.models import Sequential

__version__ = "0.1.0"

__all__ = [
    "Input",
    "Sequential",
    "activations",
    "callbacks",
    "config",
    "datasets",
    "get_device",
    "initializers",
    "keras",
    "layers",
    "losses",
    "metrics",
    "models",
    "nn",
    "optimizers",
    "random",
    "regularizers",
    "set_device",
    "utils",
]

from fastmlp import keras


def __getattr__(name: str) -> object:
    """`fastmlp.wrappers` (the scikit-learn wrappers) is imported when first used: it imports
    scikit-learn, which `import fastmlp` does not."""
    if name == "wrappers":
        import importlib

        return importlib.import_module("fastmlp.wrappers")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
