"""How the playground's pictures see a network: its Dense layers, each with the activations of
the Activation layers after it (`dense_layers`), and their outputs by a NumPy forward pass
(`layer_outputs`). Both are public from `fastmlp.playground` and `fastmlp.playground.experiment`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fastmlp as fm


def dense_layers(model: fm.Sequential) -> list[tuple[fm.layers.Dense, list[Any]]]:
    """The model's Dense layers, each with the activations of the Activation layers after it.

    This is how the pictures see a network: an Activation layer folds into the Dense layer before
    it, and Dropout (the identity at inference) and Flatten (the points are already flat) are
    skipped.

    Args:
        model: A `Sequential` model.

    Returns:
        [(dense layer, [activation functions applied after it]), ...], first to last.

    Raises:
        ValueError: for a model with another kind of layer, an Activation before the first Dense
            layer, or no Dense layer.
    """
    supported = "Dense layers, Activation layers after a Dense layer, Dropout and Flatten"
    stack: list[tuple[fm.layers.Dense, list[Any]]] = []
    for layer in model.layers:
        if isinstance(layer, fm.layers.Dense):
            stack.append((layer, []))
        elif isinstance(layer, fm.layers.Activation) and stack:
            stack[-1][1].append(layer.activation)
        elif not isinstance(layer, (fm.layers.Dropout, fm.layers.Flatten)):
            where = " before the first Dense layer" * isinstance(layer, fm.layers.Activation)
            raise ValueError(
                f"cannot draw the {type(layer).__name__} layer {layer.name!r}{where}: the "
                f"playground's pictures support {supported}"
            )
    if not stack:
        raise ValueError(
            f"cannot draw a model without Dense layers: the pictures support {supported}"
        )
    return stack


def layer_outputs(model: fm.Sequential, inputs: Any) -> list[np.ndarray]:
    """Outputs of every Dense layer for `inputs`, by a NumPy forward pass over `get_weights()`.

    Activation layers count as part of the Dense layer before them; Dropout is the identity, as
    at inference (see `dense_layers`).

    Args:
        model: A built `Sequential` model made of Dense layers (and Activation, Dropout, Flatten).
        inputs: Samples, shape (n, input features).

    Returns:
        [inputs, output of Dense layer 1, ..., output of the last one], each of shape (n, units),
        float64.
    """
    a = np.asarray(inputs, dtype=np.float64)
    outputs = [a]
    for layer, activations in dense_layers(model):
        weights = layer.get_weights()
        z = a @ weights[0].astype(np.float64)
        if layer.use_bias:
            z = z + weights[1]
        for activation in [layer.activation, *activations]:
            z = np.asarray(activation(z), dtype=np.float64)
        a = z
        outputs.append(a)
    return outputs
