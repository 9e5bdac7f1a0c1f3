"""Layers: descriptions of what the engine computes, with Keras's names, arguments and configs.

A layer holds no arrays of its own; once its model is built, its weights live in the engine and
`get_weights()` / `set_weights()` read and write them there.

This module holds the registry (`serialize`, `deserialize`); the layers live in modules of their
own, after Keras 3's layout, all public from here: the base class `Layer` (and the automatic
names) in _layer_base.py, `Input`, `InputLayer` and `Dense` in _core_layers.py, `Activation`,
`Softmax`, `ReLU`, `LeakyReLU`, `ELU` and `PReLU` in _activation_layers.py, `Dropout` in
_regularization_layers.py, `Flatten` in _reshaping_layers.py, `Normalization` and
`BatchNormalization` in _normalization_layers.py.
"""

from __future__ import annotations

from typing import Any

from fastmlp._activation_layers import ELU, Activation, LeakyReLU, PReLU, ReLU, Softmax
from fastmlp._core_layers import Dense, Input, InputLayer

# reset_names, unique_name and twin_group are public here too (config.clear_session, the tests)
from fastmlp._layer_base import Layer, reset_names, twin_group, unique_name  # noqa: F401
from fastmlp._normalization_layers import BatchNormalization, Normalization
from fastmlp._regularization_layers import Dropout
from fastmlp._reshaping_layers import Flatten

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


def serialize(layer: Layer) -> dict[str, Any]:
    """Return {"class_name": ..., "config": ...}."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from `serialize`'s output."""
    cls = _CLASSES.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(f"Unknown layer class {config.get('class_name')!r}")
    return cls.from_config(dict(config.get("config", {})))
