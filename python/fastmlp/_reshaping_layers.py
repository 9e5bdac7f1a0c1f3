"""The reshaping layers, as Keras 3's keras/src/layers/reshaping/: `Flatten`. Public as
`fastmlp.layers.Flatten`.
"""

from __future__ import annotations

import math
from typing import Any

from fastmlp._layer_base import Layer


class Flatten(Layer):
    """Flattens each sample: (batch, 28, 28) -> (batch, 784). Costs nothing in the engine.

    Args:
        **kwargs: name, input_shape (see `Layer`).
    """

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)
