"""Writing weights into a model's engine, where they live as one flat parameter vector.

`Sequential.set_weights` (all layers), `Layer.set_weights` (one layer) and a rebuild (the weights
kept from the engine before) all write through `write_weights`: every array is checked before the
one write, so a bad array changes nothing; then the twin layers of nested models take the values.
"""

from __future__ import annotations

from typing import Any

from fastmlp._validation import as_weight


def set_weights(self: Any, weights: list[Any]) -> None:
    """`Sequential.set_weights`: `weights` split by layer, checked and written."""
    self._require_built("set_weights")
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"weights must be a list of arrays, got {type(weights).__name__}")
    entries, position = [], 0
    for layer in self._layers:
        shapes = layer._shapes()
        entries.append(
            (
                layer._param_offset,
                shapes,
                list(weights[position : position + len(shapes)]),
                layer.name,
            )
        )
        position += len(shapes)
    if len(weights) != position:
        raise ValueError(
            f"set_weights expects {position} arrays (see get_weights()), got {len(weights)}"
        )
    self._write_weights(entries)


def write_weights(
    self: Any, entries: list[tuple[int, list[tuple[int, ...]], list[Any], str]], share: bool = True
) -> None:
    """Per layer (offset, shapes, arrays, name): the arrays into the engine's parameters from
    offset on, in one write; then (share) into the twins of nested models."""
    flat = self._engine.get_params()
    for offset, shapes, arrays, name in entries:
        for i, (shape, value) in enumerate(zip(shapes, arrays)):
            arr = as_weight(value, shape, f"weights[{i}] of layer {name!r}", self.dtype)
            flat[offset : offset + arr.size] = arr.ravel()
            offset += arr.size
    self._engine.set_params(flat)  # all checked first: a bad array changes nothing
    if share:
        self._share_weights()
