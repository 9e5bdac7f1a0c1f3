"""`Sequential`: a stack of layers with Keras's build / compile / fit / evaluate / predict API.

Python validates the data once and describes the network; the C++ engine runs whole chunks of
minibatch steps per call and Python wakes between chunks for the progress bar and callbacks.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from fastmlp import (
    _accuracy_rules,
    _building,
    _compiling,
    _confusion,
    _layer_base,
    _nesting,
    _summary,
    _training,
    _validation,
    _weights,
    backend,
    config,
)
from fastmlp import layers as layers_module
from fastmlp import losses as losses_module
from fastmlp import metrics as metrics_module
from fastmlp import optimizers as optimizers_module

__all__ = ["Sequential", "clone_model", "load_model", "model_from_json"]


class Sequential:
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
        self.dtype = np.dtype(dtype or config.floatx())
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
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
        """Marks a fit / evaluate / predict in progress (its callbacks may not change the layers)."""
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

    # -- weights ------------------------------------------------------------------------------
    def count_params(self) -> int:
        """Total number of weights."""
        self._require_built("count_params")
        return int(self._engine.param_count)

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

    # -- compile ------------------------------------------------------------------------------
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        loss_weights: Any = None,
        metrics: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool = False,
        steps_per_execution: int = 1,
        jit_compile: Any = "auto",
        auto_scale_loss: bool = True,
    ) -> None:
        """Choose the optimizer, the loss and the metrics.

        Args:
            optimizer: Name or `optimizers.Optimizer`. Defaults to "rmsprop" (as Keras).
            loss: Name or `losses.Loss`, e.g. "sparse_categorical_crossentropy".
            metrics: List of names or `metrics.Metric`, e.g. ["accuracy"]. Defaults to None.
            weighted_metrics: Metrics (as `metrics`) that weight each sample by its weight from
                `sample_weight` (or `class_weight` in fit); without weights they equal the
                unweighted ones. One named as one of `metrics` is logged as "weighted_<name>",
                as Keras. Defaults to None.
            loss_weights: Not supported (single-output models); must be None. (A list of metric
                names third, tf.keras 2's positional order, is the metrics.)
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: Accepted and ignored:
                the engine always runs compiled C++ over whole chunks of steps.
        """
        _compiling.compile_model(self, optimizer, loss, loss_weights, metrics, weighted_metrics)

    @property
    def compiled(self) -> bool:
        return self.loss is not None

    @property
    def metrics_names(self) -> list[str]:
        """The names in the logs: "loss", then the metrics' (the weighted ones last)."""
        return ["loss", *(name for name, _, _ in self._named_metrics())]

    def reset_metrics(self) -> None:
        """Keras's: forget the metrics' accumulated state. fit, evaluate and train_on_batch
        count afresh at every call (the engine keeps no counts between calls); this resets the
        compiled metric objects' own state, from `update_state` used on them directly."""
        for metric in (*self.compiled_metrics, *self.compiled_weighted_metrics):
            metric.reset_state()

    def _named_metrics(self) -> list[tuple[str, metrics_module.Metric, bool]]:
        """(name in the logs, metric, whether weighted) of the compiled metrics."""
        return _compiling.named_metrics(self.compiled_metrics, self.compiled_weighted_metrics)

    def _all_metrics(self) -> list[metrics_module.Metric]:
        """The metrics the engine counts for: the plain and the weighted ones."""
        return self.compiled_metrics + self.compiled_weighted_metrics

    def _configure_engine(self, engine: Any) -> None:
        engine.set_loss(self.loss.kind, self.loss.from_logits, self.loss.param)
        self.optimizer._attach(engine)
        self._rates_cover = None  # (the engine forgot a schedule's rates)
        if self._l1_clipping and hasattr(engine, "set_l1_clipping"):  # (the GPU engine has not)
            engine.set_l1_clipping(True)
        metrics = self._all_metrics()
        sources = {m.source for m in metrics}
        engine.set_error_metrics("mse" in sources, "mae" in sources)
        _confusion.check_outputs(metrics, engine.output_dim)
        engine.set_confusion_thresholds(_confusion.thresholds_of(metrics))
        engine.set_rank_counts("ranks" in sources)
        engine.set_max_counts(any(getattr(m, "uses_max_counts", False) for m in metrics))
        engine.set_weighted_metrics(bool(self.compiled_weighted_metrics))

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise ValueError(f"{what}: call model.compile(optimizer=..., loss=...) first")

    # -- data ---------------------------------------------------------------------------------
    _prepare = _validation.prepare  # (the data of a call, checked and converted)

    def _use_targets(self, targets: np.ndarray, target_map: tuple[float, float]) -> None:
        """How the engine's metrics read these (prepared) targets: the accuracy rule, and for
        mse / mae the map back to the targets as passed."""
        rules = {
            _accuracy_rules.accuracy_rule(m, self.loss, targets, self._signed_targets)
            for m in self._all_metrics()
            if m.source == "accuracy"
        }
        if len(rules) > 1:
            raise ValueError("metrics: use one kind of accuracy per model")
        rule = rules.pop() if rules else _accuracy_rules.AccuracyRule()
        self._engine.set_accuracy(rule.mode, rule.output_threshold, rule.target_threshold)
        self._engine.set_error_targets(*target_map)
        metrics = self._all_metrics()
        if any(m.source == "confusion" for m in metrics):
            # positive: above a target passed as 0, as the loss prepared it (label smoothing,
            # {-1, +1})
            zero = self.loss.prepare_targets(np.zeros((1, targets.shape[1])))[0, 0]
            thresholds = _confusion.thresholds_of(metrics)
            self._engine.set_confusion_thresholds(thresholds, float(zero))

    def _logs(self, sums: dict[str, Any], prefix: str = "") -> dict[str, float]:
        n = max(sums["samples"], 1)
        logs = {f"{prefix}loss": sums["loss"] / n}
        plain = self._with_counts(sums)
        weighted = plain
        if sums.get("weighted") is not None:  # (else no sample weights: the plain counts)
            weighted = self._with_counts(
                {**sums["weighted"], "samples": sums["weighted"]["weight"]}
            )
        for name, m, is_weighted in self._named_metrics():
            logs[prefix + name] = m.result_of(weighted if is_weighted else plain)
        return logs

    def _with_counts(self, sums: dict[str, Any]) -> dict[str, Any]:
        """sums, with one `_confusion.Counts` of its confusion counts for every metric of a log."""
        metrics = self._all_metrics()
        if not any(m.source == "confusion" for m in metrics):
            return sums
        thresholds = _confusion.thresholds_of(metrics)
        counts = _confusion.Counts(thresholds, sums["positive_buckets"], sums["negative_buckets"])
        return {**sums, "counts": counts}

    # -- training and inference (the loops live in _training.py) ------------------------------
    fit = _training.fit
    evaluate = _training.evaluate
    predict = _training.predict
    train_on_batch = _training.train_on_batch
    test_on_batch = _training.test_on_batch
    predict_on_batch = _training.predict_on_batch

    def __call__(self, x: Any, training: bool | None = None) -> np.ndarray:
        """Predictions for x, without a progress bar, as a NumPy array.

        Args:
            x: Samples.
            training: As Keras's: None or False is inference. True (dropout active) is taken
                only by models whose Dropout layers drop nothing (none, or rate 0): they compute
                the same either way. Defaults to None.
        """
        if training and any(
            isinstance(layer, layers_module.Dropout) and layer.rate > 0 for layer in self._layers
        ):
            raise NotImplementedError(
                "model(x, training=True) with Dropout is not supported: fit applies dropout; "
                "call the model with training=False (or no argument) for predictions"
            )
        return self.predict(x, verbose=0)

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
