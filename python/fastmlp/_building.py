"""Building a model's engine: from the layers' descriptions to an engine holding initial weights.

Each layer in turn gets its input shape, its place in the engine's flat parameter vector and, when
the engine computes it, its spec. The engine is made on the model's device with weights drawn from
the model's seeded generator (same seed, same weights); then the weights kept across a rebuild
(`Sequential._invalidate`) and those of twin layers in other models (`_nesting`) replace them.
`move` makes the same engine again on another device, for `Sequential.to`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastmlp import _nesting, activations, backend
from fastmlp._validation import warn_user


def build(self: Any, shape: tuple[int, ...]) -> None:
    """Make the engine of `self` for input samples of `shape` (a model without layers notes
    the shape; one whose layers give the engine nothing to compute stays unbuilt)."""
    if not self._layers:
        self._input_shape = shape
        return
    inputs, specs, offset, engine_layers, largest = {}, [], 0, {}, (0, "")
    current = shape
    for layer in self._layers:
        inputs[id(layer)] = current
        spec = layer.engine_spec(current)
        if spec is not None:
            engine_layers[layer] = len(specs)
            specs.append(spec)
        if layer.dtype is not None and layer.dtype != self.dtype.name:
            warn_user(
                f"layer {layer.name!r} asks for dtype {layer.dtype}; a fastmlp model computes "
                f"in one dtype, {self.dtype.name} here (Sequential(..., dtype=...) sets it)"
            )
        layer._param_offset = offset
        count = sum(math.prod(s) for s in layer.weight_shapes(current))
        offset, largest = offset + count, max(largest, (count, layer.name))
        current = layer.compute_output_shape(current)
        if spec is not None and current == (1,) and spec.activation == activations.code("softmax"):
            _warn_softmax_of_one(current)
    if not specs:
        return  # nothing to compute yet: _require_built says so when it matters
    if len(current) != 1:
        raise ValueError(f"the model's output must be flat, got samples of shape {current}")
    rng = np.random.default_rng(self.seed)
    self._specs, self._engine_seed = specs, int(rng.integers(2**63))
    try:
        engine = backend.get(self._device).make_network(
            math.prod(shape), specs, self._engine_seed, self.dtype
        )
        if engine.param_count != offset:  # pragma: no cover - a bug, not a user error
            raise RuntimeError(f"engine has {engine.param_count} parameters, layers say {offset}")
        flat = [
            np.ravel(w)
            for layer in self._layers
            for w in layer.build_weights(inputs[id(layer)], self.dtype, rng)
        ]
        engine.set_params(
            np.concatenate(flat).astype(self.dtype) if flat else np.zeros(0, self.dtype)
        )
    except MemoryError:  # (the engine's std::bad_alloc, or NumPy's initial weights)
        size = offset * self.dtype.itemsize / 2**30
        raise MemoryError(
            f"a model of {offset:,} parameters does not fit in memory: {size:,.1f} GiB of "
            f"{self.dtype.name} for its weights alone (training needs as much again for the "
            f"gradients, and more for the optimizer); the largest layer is {largest[1]!r}, with "
            f"{largest[0]:,} parameters"
        ) from None
    if self.loss is not None:
        self._configure_engine(engine)  # may refuse the loss: then the model stays unbuilt
    self._engine, self._layer_inputs, self._input_shape = engine, inputs, shape
    self._engine_layers = engine_layers
    self._sync_trainable()
    self._output_dim = current[0]
    for layer in self._layers:
        old = self._kept.get(id(layer))
        if old and [w.shape for w in old] == [w.shape for w in layer.get_weights()]:
            self._write_weights(
                [(layer._param_offset, layer._shapes(), old, layer.name)], share=False
            )
    self._kept = {}
    _nesting.take_twins_weights(self)


def _warn_softmax_of_one(shape: tuple[int, ...]) -> None:
    """Keras 3's warning for a softmax over one unit (always 1: a sigmoid was meant)."""
    warn_user(
        f"You are using a softmax over axis -1 of a tensor of shape {(None, *shape)}. This axis "
        "has size 1. The softmax operation will always return the value 1, which is likely not "
        "what you intended. Did you mean to use a sigmoid instead?"
    )


def move(self: Any, name: str) -> None:
    """`Sequential.to` a device other than the model's: an engine there with the weights, compile
    settings and optimizer state of the one here (none yet: the device is noted for the build)."""
    old = self._engine
    if old is None:
        self._device = name
        return
    # (the new engine is made and set up first: one that refuses leaves the model as it was)
    engine = backend.get(name).make_network(
        old.input_dim, self._specs, self._engine_seed, self.dtype
    )
    engine.set_params(old.get_params())
    if self.loss is not None:
        self._configure_engine(engine)
        engine.set_optimizer_state(*old.get_optimizer_state())
    self._engine, self._device = engine, name
