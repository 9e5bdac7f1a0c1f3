"""The regularization layers, as Keras 3's keras/src/layers/regularization/: `Dropout`. Public
as `fastmlp.layers.Dropout`.
"""

from __future__ import annotations

import numbers
from typing import Any

from fastmlp import _core
from fastmlp._layer_base import Layer, _require_flat


class Dropout(Layer):
    """Sets a fraction `rate` of its inputs to zero during training (inverted dropout).

    Args:
        rate: Fraction of the inputs to drop, in [0, 1).
        seed: Accepted for Keras compatibility; the model's generator draws the masks. Defaults to None.
        **kwargs: name, input_shape (see `Layer`).
    """

    def __init__(
        self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise NotImplementedError("Dropout: noise_shape is not supported by fastmlp")
        self.rate = float(rate)
        self.seed = seed

    def compute_output_shape(self, input_shape):
        _require_flat(self, input_shape)
        return input_shape

    def engine_spec(self, input_shape):
        return _core.LayerSpec(kind=2, rate=self.rate)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
