"""Nested models, as Keras's: `Sequential([model, ...])` appends twins of the model's layers.

A layer and its twins (`Layer._twins`, and theirs: `_layer_base.twin_group`) share their
weights: after a model changes its weights (fit, train_on_batch, set_weights), `share_weights`
writes the same values into every other model that holds a twin and has an engine; a model built
later takes them from its twins (`take_twins_weights`). Each function takes the model as `self`,
as the methods it serves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlp._layer_base import twin_group


def add_model(self: Any, model: Any) -> None:
    """Sequential([model, ...]): twins of model's layers, sharing their weights with them."""
    if model is self:
        raise ValueError("a model cannot be added to itself")
    if not model._layers:
        raise ValueError("the model added has no layers")
    names = {existing.name for existing in self._layers}
    clash = [layer.name for layer in model._layers if layer.name in names]
    if clash:
        raise ValueError(
            f"the model added has layers named like this model's: {clash}; names must be unique"
        )
    first = not self._layers
    if not first and model._input_shape is not None and self._input_shape is not None:
        shape = self._input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        if tuple(shape) != tuple(model._input_shape):
            raise ValueError(
                f"the model added takes samples of shape {model._input_shape}, the layers "
                f"before it give {tuple(shape)}"
            )
    if first and model._input_shape is not None:
        if self._input_shape not in (None, model._input_shape):
            raise ValueError(
                f"the model added takes samples of shape {model._input_shape}, this model's "
                f"input is {self._input_shape}"
            )
        self._input_shape = model._input_shape
    model._build_if_possible()  # (the twins take its weights)
    for layer in model._layers:
        config = layer.get_config()
        if not first:
            config.pop("input_shape", None)
        twin = type(layer).from_config(config)
        twin._twins.add(layer)
        layer._twins.add(twin)
        self.add(twin)
        first = False


def share_weights(self: Any) -> None:
    """After this model changed its weights: the same values into every layer that shares
    them (its twins, theirs, ...) in a model that has an engine, one write per model (a model
    without an engine takes them from its twins when it is built)."""
    targets: dict[int, tuple[Any, list[Any]]] = {}
    flat = None  # this model's parameters, read once
    for layer in self._layers:
        if not layer._twins or not layer._shapes():
            continue
        for twin in twin_group(layer):
            model = twin._model
            if model is None or model is self or model._engine is None:
                continue
            flat = self._engine.get_params() if flat is None else flat
            values = flat[layer._params]
            targets.setdefault(id(model), (model, []))[1].append((twin._param_offset, values))
    for model, entries in targets.values():
        write_params(model, entries)


def write_params(self: Any, entries: list[tuple[int, np.ndarray]]) -> None:
    """Parameter values [offset, offset + size) from another engine, as they are (NaN too:
    a diverging model's twin diverges with it), in one write."""
    flat = self._engine.get_params()
    for offset, values in entries:
        flat[offset : offset + values.size] = values
    self._engine.set_params(flat)


def take_twins_weights(self: Any) -> None:
    """At build: each shared layer's weights from a model that has them (all such agree)."""
    entries = []
    for layer in self._layers:
        sources = [
            t
            for t in twin_group(layer)
            if t._model is not None and t._model is not self and t._model._engine is not None
        ]
        if not sources or not layer._shapes():
            continue
        if sources[0]._shapes() != layer._shapes():
            raise ValueError(
                f"layer {layer.name!r} shares its weights with the model it came from, where "
                f"they have shapes {sources[0]._shapes()}; here its inputs give "
                f"{layer._shapes()}"
            )
        source = sources[0]
        entries.append((layer._param_offset, source._model._engine.get_params()[source._params]))
    if entries:
        write_params(self, entries)
