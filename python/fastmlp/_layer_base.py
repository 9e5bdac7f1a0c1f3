"""The `Layer` base class, and what the layer modules share.

A layer's name, input shape and trainable flag, and its weights read and written in its model's
engine (shared with its twins in nested models: `twin_group`); the automatic names ("dense",
"dense_1", ...); the checks of flat samples (`_require_flat`) and of the L1/L2 regularizers the
engine applies (`_regularizer`). The layers are public as `fastmlp.layers.X`.
"""

from __future__ import annotations

import itertools
import math
import re
import weakref
from collections import defaultdict
from typing import Any

import numpy as np

from fastmlp import regularizers as regularizers_module
from fastmlp._validation import float_dtype

_name_counters: defaultdict[str, itertools.count] = defaultdict(itertools.count)

# Keras 3 layer arguments that fastmlp has not, accepted where they are off (None or False),
# as Keras's get_config() writes them: a Keras model's config then loads.
_KERAS_OFF_BY_DEFAULT = (
    "kernel_constraint",
    "bias_constraint",
    "activity_regularizer",
    "quantization_config",
    "lora_rank",
    "noise_shape",
    "autocast",
    "beta_constraint",
    "gamma_constraint",
    "renorm",
    "renorm_clipping",
    "synchronized",
)


def reset_names() -> None:
    """Restart the automatic names ("dense", "dense_1", ...), as keras.backend.clear_session()."""
    _name_counters.clear()


def unique_name(prefix: str) -> str:
    """Keras-style unique names: "dense", "dense_1", "dense_2", ..."""
    n = next(_name_counters[prefix])
    return prefix if n == 0 else f"{prefix}_{n}"


def _snake(name: str) -> str:
    """Keras's snake case of a class name: "BatchNormalization" -> "batch_normalization", "ReLU"
    -> "re_lu", "PReLU" -> "p_re_lu" (keras.src.utils.naming.to_snake_case)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _shape_tuple(shape: Any, name: str) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of positive integers, got {shape!r}") from None
    if not dims or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0 for d in dims
    ):
        raise ValueError(f"{name} must be a non-empty tuple of positive integers, got {shape!r}")
    return tuple(int(d) for d in dims)


def _check_trainable(trainable: Any) -> bool:
    if not isinstance(trainable, (bool, np.bool_)):
        raise TypeError(f"trainable must be True or False, got {trainable!r}")
    return bool(trainable)


class Layer:
    """Base class of all layers.

    Args:
        name: Unique name in the model. Defaults to the snake-case class name ("dense", "dense_1").
        input_shape: Shape of one sample, for the first layer of a Sequential, e.g. (28, 28).
            Defaults to None.
        trainable: False freezes the layer's weights, as Keras's: fit leaves them (and their
            optimizer state) as they are and their regularizer out of the loss, while gradients
            still flow through the layer. Settable at any time; takes effect at the next step.
            Defaults to True.
        dtype: "float32" or "float64" (or a Keras dtype policy of one). A model computes in one
            dtype, its own: a layer asking for the other one is computed in the model's, with a
            warning. Defaults to None (the model's).
    """

    def __init__(
        self,
        name: str | None = None,
        input_shape: Any = None,
        trainable: bool = True,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        input_dim = kwargs.pop("input_dim", None)
        if input_dim is not None:  # tf.keras 2 style: Dense(12, input_dim=8)
            if input_shape is not None and _shape_tuple(input_shape, "input_shape") != (input_dim,):
                raise ValueError(f"input_dim={input_dim!r} contradicts input_shape={input_shape!r}")
            input_shape = (input_dim,)
        for key in _KERAS_OFF_BY_DEFAULT:  # (in every Keras config, at None or False)
            if kwargs.pop(key, None) not in (None, False):
                raise NotImplementedError(f"{type(self).__name__}: {key} is not supported")
        kwargs.pop("renorm_momentum", None)  # (BatchNormalization's, used by renorm only)
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {sorted(kwargs)}")
        self._trainable = _check_trainable(trainable)
        self.name = name or unique_name(_snake(type(self).__name__))
        self.input_shape = None if input_shape is None else _shape_tuple(input_shape, "input_shape")
        self.dtype = None if dtype is None else float_dtype(dtype).name
        self._model: Any = None  # set when a built model owns this layer
        self._param_offset = 0  # where this layer's weights start in the engine's flat vector
        # The same layer in the other models of a nested Sequential (Sequential([model, ...])):
        # its weights and trainable flag follow this one's (Sequential._share_weights).
        self._twins: weakref.WeakSet[Layer] = weakref.WeakSet()

    @property
    def trainable(self) -> bool:
        """Whether fit updates this layer's weights (settable, as Keras's)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        previous, self._trainable = self._trainable, _check_trainable(value)
        if self._model is not None:
            try:
                self._model._sync_trainable()
            except Exception:  # the engine busy in another thread: nothing changed
                self._trainable = previous
                raise
        self._share_trainable()

    def _share_trainable(self) -> None:
        """The trainable flag onto the twin layers (nested Sequential models)."""
        for twin in list(self._twins):
            if twin._trainable != self._trainable:
                twin.trainable = self._trainable

    # -- shapes -------------------------------------------------------------------------------
    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one output sample for one input sample of `input_shape`."""
        return input_shape

    def weight_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Shapes of the layer's parameters in the engine for this input shape (Keras order:
        kernel, bias): its weights, unless they are constants (`_constants`)."""
        return []

    def _constants(self) -> bool:
        """Whether the layer's engine parameters are constants of its config, not weights (a
        Normalization given its mean and variance, as Keras 3's): then no weight list, count
        or file holds them."""
        return False

    def engine_spec(self, input_shape: tuple[int, ...]) -> Any:
        """The engine's description of this layer, or None if the engine need not see it."""
        return None

    def build_weights(
        self, input_shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator
    ):
        """Initial values of the weights, drawn from `rng` (the model's generator)."""
        return []

    # -- weights ------------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self._model is not None and self._model.built

    def _engine_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the layer's parameters in its model's engine (weights or constants)."""
        if not self.built:
            return []
        return self.weight_shapes(self._model._layer_input_shape(self))

    def _shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the layer's weights (`get_weights()`)."""
        return [] if self._constants() else self._engine_shapes()

    @property
    def _params(self) -> slice:
        """Where this layer's parameters lie in its model's flat parameter vector."""
        size = sum(math.prod(s) for s in self._engine_shapes())
        return slice(self._param_offset, self._param_offset + size)

    def count_params(self) -> int:
        """Number of weights (0 before the model is built)."""
        return sum(math.prod(s) for s in self._shapes())

    def _byte_size(self, itemsize: int) -> int:
        """Bytes of the weights as Keras counts them in `summary()`, each of `itemsize`."""
        return self.count_params() * itemsize

    @property
    def weights(self) -> list[np.ndarray]:
        """Copies of the weights (Keras's variables, as NumPy arrays): `get_weights()`."""
        return self.get_weights()

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The weights fit updates: all of them, or none for a frozen layer."""
        return self.get_weights() if self._trainable else []

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """The weights fit leaves alone: those of a frozen layer."""
        return [] if self._trainable else self.get_weights()

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as NumPy arrays: [kernel, bias] for Dense."""
        if not self._shapes():
            return []
        flat = self._model._engine.get_params()
        out, offset = [], self._param_offset
        for shape in self._shapes():
            size = math.prod(shape)
            out.append(flat[offset : offset + size].reshape(shape).copy())
            offset += size
        return out

    def set_weights(self, weights: list[Any]) -> None:
        """Replace the weights; shapes must match `get_weights()`."""
        if self._model is None or not self._model.built:
            raise ValueError(
                f"layer {self.name!r} is not built yet: add it to a model with a known input shape "
                "(or fit the model once) before setting its weights"
            )
        shapes = self._shapes()
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"weights must be a list of arrays, got {type(weights).__name__}")
        if len(weights) != len(shapes):
            raise ValueError(
                f"layer {self.name!r} expects {len(shapes)} weight arrays, got {len(weights)}"
            )
        self._model._write_weights([(self._param_offset, shapes, list(weights), self.name)])

    def __getstate__(self) -> dict[str, Any]:
        """pickle / deepcopy: a copy is a layer of its own, twin of none."""
        state = self.__dict__.copy()
        state.pop("_twins", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._twins = weakref.WeakSet()

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as JSON-compatible values."""
        config: dict[str, Any] = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if not self._trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def twin_group(layer: Layer) -> list[Layer]:
    """The layers that share `layer`'s weights (nested models), however far: its twins, theirs,
    ... (not `layer` itself)."""
    seen, todo = {id(layer): layer}, [layer]
    while todo:
        for twin in list(todo.pop()._twins):
            if id(twin) not in seen:
                seen[id(twin)] = twin
                todo.append(twin)
    return [t for t in seen.values() if t is not layer]


def _require_flat(layer: Layer, input_shape: tuple[int, ...]) -> int:
    if len(input_shape) != 1:
        raise ValueError(
            f"{type(layer).__name__} layer {layer.name!r} expects flat samples (features,), got samples "
            f"of shape {input_shape}; add layers.Flatten() before it"
        )
    return input_shape[0]


def _regularizer(identifier: Any, name: str) -> tuple[Any, tuple[float, float]]:
    """The regularizer `identifier` stands for and its (l1, l2); errors name the argument `name`."""
    try:
        regularizer = regularizers_module.get(identifier)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: {error}") from None
    if regularizer is None:
        return None, (0.0, 0.0)
    try:
        return regularizer, regularizer.coefficients()
    except NotImplementedError:
        raise TypeError(
            f"{name}: the engine applies L1/L2 penalties only; use regularizers.L1, L2 or L1L2"
        ) from None


def _serialize_regularizer(regularizer: Any) -> Any:
    return None if regularizer is None else regularizers_module.serialize(regularizer)
