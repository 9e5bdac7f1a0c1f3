"""`Sequential`: a stack of layers with Keras's build / compile / fit / evaluate / predict API.

Python validates the data once and describes the network; the C++ engine runs whole chunks of
minibatch steps per call and Python wakes between chunks for the progress bar and callbacks.

This module holds `Sequential` (its layers, shapes, engine, device and trainable flag, and its
copies) and the functions that make models. Its base classes (not public) give it the rest:
`_model.Model` its weights, summary, config and saving, and `_trainer.Trainer` compile, fit,
evaluate and predict.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from fastmlp import _building, _layer_base, _model, _nesting, backend, config
from fastmlp import layers as layers_module
from fastmlp import losses as losses_module
from fastmlp import metrics as metrics_module
from fastmlp import optimizers as optimizers_module
from fastmlp._validation import float_dtype

__all__ = ["Sequential", "clone_model", "load_model", "model_from_json"]


class Sequential(_model.Model):
    """A linear stack of layers.

    Args:
        layers: The layers, first to last. Defaults to None (add them with `add`).
        name: Defaults to "sequential", "sequential_1", ...
        seed: Seed of the model's generator (initial weights, shuffling, dropout). Defaults to
            None: drawn from `utils.set_random_seed`'s generator if set, else from the OS.
        dtype: "float32" or "float64". Defaults to `config.floatx()` ("float32").
        device: "cpu" (the C++ engine), "gpu" / "cuda" / "gpu:N" (an NVIDIA GPU through CuPy,
            `pip install "fastmlp[gpu]"`) or "numpy" (the GPU engine's code run by NumPy, for
            checking it without a GPU). Defaults to `config.get_device()` ("cpu").

    Example:
        >>> model = Sequential([layers.Input(shape=(2,)), layers.Dense(4, activation="tanh"),
        ...                     layers.Dense(1, activation="sigmoid")])
        >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    """

    def __init__(
        self,
        layers: list[Any] | None = None,
        name: str | None = None,
        *,
        seed: int | None = None,
        dtype: str | None = None,
        trainable: bool = True,
        device: str | None = None,
    ) -> None:
        self._trainable = _layer_base._check_trainable(trainable)
        self.name = name or layers_module.unique_name("sequential")
        self.dtype = float_dtype(config.floatx() if dtype is None else dtype)
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = config.next_seed() if seed is None else int(seed)
        self._device = backend.require(config.get_device() if device is None else device)
        self._layers: list[layers_module.Layer] = []
        self._input_shape: tuple[int, ...] | None = None
        self._layer_inputs: dict[int, tuple[int, ...]] = {}
        self._engine: Any = None
        self._kept: dict[int, list[np.ndarray]] = {}  # weights to restore when rebuilt
        # (scale, offset) from the last prepared targets back to the y passed (Loss.target_map)
        self._target_map = (1.0, 0.0)
        # Whether the last training targets held negative values ({-1, +1} labels): the accuracy
        # of a regression loss then thresholds at 0 for any later data, positive-only sets too.
        self._signed_targets = False
        # The Playground's L1 rule (a weight L1 carries across zero stays 0) in plain SGD steps:
        # set by the Playground, given to each engine the model configures, saved with it.
        self._l1_clipping = False
        self._in_call: str | None = None  # "fit", "evaluate" or "predict" while one runs
        self._call_lock = threading.RLock()  # (held by that call's thread)
        # (engine, first, end): the steps whose scheduled learning rates the engine holds
        self._rates_cover: tuple[Any, int, int] | None = None
        self.optimizer: optimizers_module.Optimizer | None = None
        self.loss: losses_module.Loss | None = None
        self.compiled_metrics: list[metrics_module.Metric] = []
        self.compiled_weighted_metrics: list[metrics_module.Metric] = []
        self.stop_training = False
        self.history: Any = None
        for layer in layers or []:
            self.add(layer)

    # -- structure ----------------------------------------------------------------------------
    def add(self, layer: layers_module.Layer | Sequential) -> None:
        """Append a layer. An `Input` or a first layer's `input_shape` builds the model at once.

        A Sequential model appends its layers, which share their weights with the model's own
        (as Keras's nested models): training either model changes both, and setting
        `trainable` on one layer sets it on its twin.
        """
        if isinstance(layer, Sequential):
            _nesting.add_model(self, layer)
            return
        if not isinstance(layer, layers_module.Layer):
            raise TypeError(
                f"Sequential.add expects a fastmlp layer or a Sequential model, got "
                f"{type(layer).__name__}"
            )
        if any(existing is layer for existing in self._layers) or layer._model is not None:
            raise ValueError(f"layer {layer.name!r} is already in a model")
        if isinstance(layer, layers_module.InputLayer):
            if self._layers or self._input_shape is not None:
                raise ValueError("Input must come first in a Sequential model")
            self._input_shape = layer.input_shape
            return
        if layer.input_shape is not None:
            if self._layers or (self._input_shape not in (None, layer.input_shape)):
                raise ValueError(
                    f"only the first layer may give input_shape (layer {layer.name!r})"
                )
            self._input_shape = layer.input_shape
        names = {existing.name for existing in self._layers}
        if layer.name in names:
            raise ValueError(
                f"a layer named {layer.name!r} is already in the model; names must be unique"
            )
        self._invalidate()
        self._layers.append(layer)
        layer._model = self

    # After this model changed its weights: the same values into its layers' twins (_nesting.py)
    _share_weights = _nesting.share_weights

    def pop(self) -> layers_module.Layer:
        """Remove and return the last layer (the model is rebuilt, other weights kept)."""
        if not self._layers:
            raise ValueError("the model has no layers to pop")
        self._invalidate()
        layer = self._layers.pop()
        layer._model = None
        self._kept.pop(id(layer), None)
        return layer

    @contextlib.contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Marks a fit / evaluate / predict in progress (its callbacks may not change the layers);
        its thread holds `_call_lock` (see _trainer._in_turn)."""
        outer, self._in_call = self._in_call, what
        try:
            yield
        finally:
            self._in_call = outer

    def _invalidate(self) -> None:
        """Forget the engine after a change of layers; the weights are kept for the rebuild."""
        if self._in_call:
            raise RuntimeError(
                f"layers cannot be added or removed during {self._in_call} (from a callback); "
                "change them before or after the call"
            )
        if self._engine is not None:
            self._kept = {id(layer): layer.get_weights() for layer in self._layers}
            self._engine = None

    @property
    def trainable(self) -> bool:
        """Whether fit may update the model's weights; setting it sets every layer's, as Keras."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = _layer_base._check_trainable(value)
        previous = (self._trainable, [layer._trainable for layer in self._layers])
        self._trainable = value
        for layer in self._layers:
            layer._trainable = value
        try:
            self._sync_trainable()
        except Exception:  # the engine busy in another thread: nothing changed
            self._trainable = previous[0]
            for layer, flag in zip(self._layers, previous[1]):
                layer._trainable = flag
            raise
        for layer in self._layers:
            layer._share_trainable()

    def _sync_trainable(self) -> None:
        """Tells the engine which layers are frozen (a model built as not trainable: all)."""
        if self._engine is None:
            return
        self._engine.set_frozen_layers(  # one engine call: all layers change, or none (busy)
            [
                index
                for layer, index in self._engine_layers.items()
                if not (layer._trainable and self._trainable)
            ]
        )

    @property
    def layers(self) -> list[layers_module.Layer]:
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> layers_module.Layer:
        """A layer by name or index."""
        if index is not None:
            if (
                isinstance(index, bool)
                or not isinstance(index, int)
                or not -len(self._layers) <= index < len(self._layers)
            ):
                raise ValueError(
                    f"get_layer: index {index!r} is out of range: the model has {len(self._layers)} layers"
                )
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No layer named {name!r}; layers: {[layer.name for layer in self._layers]}"
        )

    @property
    def built(self) -> bool:
        """Whether the engine exists (the model builds itself once it knows its input shape)."""
        self._build_if_possible()
        return self._engine is not None

    def _build_if_possible(self) -> None:
        """Build the engine if there is none and the input shape and the layers are known."""
        if self._engine is None and self._input_shape is not None and self._layers:
            self._build(self._input_shape)

    def build(self, input_shape: Any = None) -> None:
        """Build for `input_shape`, which includes the batch dimension: e.g. (None, 784)."""
        if input_shape is None:
            if self._input_shape is None:
                raise ValueError("build needs input_shape, e.g. model.build((None, 784))")
            shape = self._input_shape
        else:
            dims = tuple(input_shape)
            shape = _layer_base._shape_tuple(dims[1:], "input_shape (without the batch dimension)")
        self._build(shape)

    _build = _building.build  # (the engine for input samples of a shape: _building.py)

    @property
    def device(self) -> str:
        """Where the model computes: "cpu", "gpu:N" or "numpy"."""
        return self._device

    def to(self, device: str) -> Sequential:
        """Move the model to `device` ("cpu", "gpu", "gpu:1", "numpy"); returns the model.

        Weights, compile settings and the optimizer state move with it, so training goes on where
        it stopped. The random stream of shuffling and dropout is the new device's own.
        """
        name = backend.require(device)
        if name != self._device:
            _building.move(self, name)
        return self

    def _layer_input_shape(self, layer: layers_module.Layer) -> tuple[int, ...]:
        return self._layer_inputs[id(layer)]

    def _require_built(self, what: str) -> None:
        self._build_if_possible()
        if not self.built and self._input_shape is not None:
            raise ValueError(f"{what}: the model needs at least one Dense layer")
        if not self.built:
            raise ValueError(
                f"{what}: the model is not built yet; give the first layer input_shape=..., start with "
                "layers.Input(shape=...), call model.build((None, features)), or call fit first"
            )

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        self._require_built("input_shape")
        return (None, *self._input_shape)

    @property
    def output_shape(self) -> tuple[int | None, ...]:
        self._require_built("output_shape")
        return (None, self._output_dim)

    # -- description --------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"<Sequential name={self.name}, layers={len(self._layers)}, built={self.built}, "
            f"device={self._device}>"
        )

    # -- saving (the file format and its checks live in saving.py) ----------------------------
    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        """pickle and copy.deepcopy: the model as the file `save` writes (architecture, weights,
        compile settings, optimizer and random generator state), so that a copy trains on as the
        original would, on its own engine. (copy.copy shares the engine, as Keras's variables.)"""
        from fastmlp import saving

        schedule = getattr(self.optimizer, "_schedule", None)
        custom = None
        if schedule is not None and not type(schedule).__module__.startswith("fastmlp."):
            custom = {type(schedule).__name__: type(schedule)}  # (pickled by reference)
        return (_model_from_bytes, (saving.model_bytes(self), self._device, custom))

    def __copy__(self) -> Sequential:
        copy = object.__new__(Sequential)
        copy.__dict__.update(self.__dict__)
        return copy


def _model_from_bytes(
    data: bytes, device: str | None = None, custom_objects: dict[str, Any] | None = None
) -> Sequential:
    """Unpickling a model (see `Sequential.__reduce__`). A pickle names this function by its
    qualified name, fastmlp.models._model_from_bytes: it stays here so that pickles load."""
    from fastmlp import saving

    return saving.model_from_bytes(data, device, custom_objects)


def load_model(
    filepath: Any,
    compile: bool = True,
    device: str | None = None,
    custom_objects: dict[str, Any] | None = None,
) -> Sequential:
    """Load a model written by `Sequential.save`; the file is checked fully before use.

    Args:
        filepath: The saved file.
        compile: Restore the optimizer, loss, metrics and optimizer state. Defaults to True.
        device: "cpu", "gpu" or "numpy"; defaults to `config.get_device()`.
        custom_objects: Classes of your own that the file names: {"MySchedule": MySchedule}
            for a learning-rate schedule.
    """
    from fastmlp import saving

    return saving.load_model(
        filepath, compile=compile, device=device, custom_objects=custom_objects
    )


def model_from_json(text: str) -> Sequential:
    """Rebuild a model (architecture only) from `Sequential.to_json()`."""
    data = json.loads(text)
    if data.get("class_name") != "Sequential":
        raise ValueError(
            f"expected a Sequential model's JSON, got class_name {data.get('class_name')!r}"
        )
    return Sequential.from_config(data["config"])


def clone_model(model: Sequential) -> Sequential:
    """A new model with `model`'s architecture and newly initialised weights, as Keras 3's.

    As Keras 3's, the clone of a compiled model is compiled with the same settings and a new
    optimizer (no state); the clone of an uncompiled model is not compiled. The layers come from
    `model.get_config()`, seed included: the clone starts from the weights `model` started from
    (`Sequential.from_config({**model.get_config(), "seed": None})` draws others). A nested
    model's layers are cloned too: the clone shares no weights with any model. A `Normalization`
    keeps its statistics (from `adapt` or `set_weights`): they describe the data, not training.
    (Keras's clone forgets adapted statistics.)

    Args:
        model: A `Sequential` model; it is left as it is.

    Example:
        >>> fresh = clone_model(model)   # same layers and compile settings, untrained
    """
    if not isinstance(model, Sequential):
        raise TypeError(
            f"clone_model expects a fastmlp Sequential model, got {type(model).__name__}"
        )
    clone = Sequential.from_config(model.get_config(), device=model.device)
    for old, new in zip(model._layers, clone._layers):
        if isinstance(old, layers_module.Normalization):
            stats = old.get_weights() if model.built else old._stats
            if stats is not None:  # (an adapted or built one; new is not built yet)
                new._stats = (np.asarray(stats[0]), np.asarray(stats[1]), float(stats[2]))
    if model.compiled:
        from fastmlp import saving

        schedule = getattr(model.optimizer, "_schedule", None)
        custom = None if schedule is None else {type(schedule).__name__: type(schedule)}
        clone._l1_clipping = model._l1_clipping
        clone.compile(**saving._compile_args(saving.compile_config(model), custom))
    return clone
