"""`Model`: the weights, summary, config, JSON and files of a model, as Keras 3's Model
(keras/src/models/model.py) gives them to every model.

The base class of `Sequential`, which holds the layers, builds the engine and makes copies of
itself (models.py); a `Trainer` (_trainer.py). The file format and its checks live in saving.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlp import _layer_base, _summary, _weights
from fastmlp import layers as layers_module
from fastmlp._trainer import Trainer

if TYPE_CHECKING:
    from fastmlp.models import Sequential


class Model(Trainer):
    """Weights, summary, config and saving, for `Sequential` (see models.py)."""

    # -- weights ------------------------------------------------------------------------------
    def count_params(self) -> int:
        """Total number of weights."""
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self._layers)

    @property
    def weights(self) -> list[np.ndarray]:
        """Copies of all weights (Keras's variables, as NumPy arrays): `get_weights()`."""
        return self.get_weights()

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The weights fit updates (none when the model is not trainable), layer by layer."""
        self._require_built("trainable_weights")
        if not self._trainable:
            return []
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """The weights fit leaves alone: frozen layers' (all, when the model is not trainable)."""
        self._require_built("non_trainable_weights")
        if not self._trainable:
            return self.get_weights()
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, layer by layer: [kernel_0, bias_0, kernel_1, bias_1, ...]."""
        self._require_built("get_weights")
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights: list[Any]) -> None:
        """Replace all weights; the list must match `get_weights()` in length and shapes."""
        _weights.set_weights(self, weights)

    _write_weights = _weights.write_weights  # (checked arrays by layer into the engine)

    # -- description --------------------------------------------------------------------------
    def summary(
        self,
        line_length: int | None = None,
        positions: Any = None,
        print_fn: Any = None,
        expand_nested: bool = False,
        show_trainable: bool = False,
        layer_range: Any = None,
    ) -> None:
        """Print the Keras table of layers, output shapes and parameter counts.

        Args:
            line_length: The table's width in characters. Defaults to 76 (Keras's on an
                80-column console).
            positions: The columns' right ends as fractions of the line. Defaults to
                [0.45, 0.8, 1.0].
            print_fn: Called with each line instead of `print`.
            expand_nested: Accepted for Keras compatibility: a nested model's layers are the
                model's own here (see `add`), always listed.
            show_trainable: A "Trainable" column: Y, N, or - for a layer without weights.
            layer_range: [first, last] layer names: only these layers and those between them.
        """
        _summary.print_summary(
            self, line_length, positions, print_fn, bool(show_trainable), layer_range
        )

    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-compatible values (no weights, no code)."""
        layer_configs = [layers_module.serialize(layer) for layer in self._layers]
        if self._input_shape is not None:
            layer_configs.insert(
                0,
                {
                    "class_name": "InputLayer",
                    "config": {"name": "input_layer", "shape": list(self._input_shape)},
                },
            )
        config = {
            "name": self.name,
            "dtype": self.dtype.name,
            "seed": self.seed,
            "layers": layer_configs,
        }
        if not self._trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], device: str | None = None) -> Sequential:
        """A new, freshly initialised model with the architecture of `get_config()` (on `device`:
        defaults to `config.get_device()`)."""
        model = cls(
            name=config.get("name"),
            seed=config.get("seed"),
            dtype=config.get("dtype"),
            device=device,
        )
        for layer_config in config.get("layers", []):
            model.add(layers_module.deserialize(layer_config))
        model._trainable = _layer_base._check_trainable(config.get("trainable", True))
        return model

    def to_json(self, **kwargs: Any) -> str:
        """`get_config()` as a JSON string."""
        return json.dumps({"class_name": "Sequential", "config": self.get_config()}, **kwargs)

    # -- saving (the file format and its checks live in saving.py) ----------------------------
    def save(self, filepath: Any, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Save architecture, weights, compile settings and optimizer state to one file.

        Args:
            filepath: Where to write, e.g. "model.fastmlp". Written to a temporary file, then
                renamed into place.
            overwrite: Replace an existing file. Defaults to True.
            include_optimizer: Save the optimizer state so training resumes exactly. Defaults to
                True.
        """
        from fastmlp import saving

        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        """Save only the weights, for `load_weights`.

        Args:
            filepath: Where to write.
            overwrite: Replace an existing file. Defaults to True.
        """
        from fastmlp import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any) -> None:
        """Load weights saved by `save_weights` or `save`; the layer shapes must match."""
        from fastmlp import saving

        saving.load_weights(self, filepath)
