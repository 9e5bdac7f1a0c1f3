"""Writing weights into a model's engine, where they live as one flat parameter vector.

`Sequential.set_weights` (all layers), `Layer.set_weights` (one layer) and a rebuild (the weights
kept from the engine before) all write through `write_weights`: every array is checked before the
one write, so a bad array changes nothing; then the twin layers of nested models take the values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlp._validation import all_finite, as_weight, warn_user


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
    flat, nonfinite = self._engine.get_params(), []
    for offset, shapes, arrays, name in entries:
        for i, (shape, value) in enumerate(zip(shapes, arrays)):
            where = f"weights[{i}] of layer {name!r}"
            arr = as_weight(value, shape, where, self.dtype)
            if not all_finite(arr):
                nonfinite.append(where)
            flat[offset : offset + arr.size] = arr.ravel()
            offset += arr.size
    self._engine.set_params(flat)  # all checked first: a bad array changes nothing
    if nonfinite:  # taken as Keras takes them (a diverged model must load again), but said
        more = f" and {len(nonfinite) - 2} more" if len(nonfinite) > 2 else ""
        warn_user(
            f"{', '.join(nonfinite[:2])}{more} contain NaN or infinity (training diverged, or "
            f"values too large for {np.dtype(self.dtype).name}): the outputs will not be finite",
            RuntimeWarning,
        )
    if share:
        self._share_weights()
