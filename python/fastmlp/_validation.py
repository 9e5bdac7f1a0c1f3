"""Input checking for every public entry point: convert once, check once, then trust the data.

Messages say what was expected and what came, as scikit-learn's `check_array` does.
"""

from __future__ import annotations

import collections.abc
import numbers
import os
import sys
import warnings
from typing import Any

import numpy as np

from fastmlp import _core
from fastmlp import losses as losses_module
from fastmlp._loss_base import BinaryCrossentropyBase, CategoricalCrossentropyBase

# all_finite() looks at this many elements at a time.
_FINITE_CHUNK = 1 << 18


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """warnings.warn, pointing at the first caller outside fastmlp (the user's line), however
    deep inside the library the warning is raised."""
    level, frame = 2, sys._getframe(1)  # (stacklevel 1 is this function)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def float_dtype(value: Any, name: str = "dtype") -> np.dtype:
    """float32 or float64 from a name, a NumPy dtype or type, or a Keras dtype policy (the object,
    or its config as Keras's get_config() writes it: {"config": {"name": "float32"}, ...})."""
    given = value
    if isinstance(value, dict):  # a policy's config, whole or its inner dict
        value = value.get("config", value)
        value = value.get("name") if isinstance(value, dict) else None
    elif type(value).__name__.endswith("DTypePolicy"):
        value = getattr(value, "name", None)
    if isinstance(value, str) and value.startswith("mixed_"):
        raise ValueError(
            f"{name}: mixed precision ({value!r}) is not supported; fastmlp computes in one "
            "dtype, 'float32' or 'float64'"
        )
    try:
        dtype = None if value is None else np.dtype(value)
    except (TypeError, ValueError):
        dtype = None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"{name} must be 'float32' or 'float64', got {given!r}")
    return np.dtype(dtype)


def device_module(x: Any) -> Any:
    """CuPy when x is a CuPy array (data already on a GPU), else None."""
    if type(x).__module__.split(".")[0] != "cupy":
        return None
    import cupy  # already imported: x is one of its arrays

    return cupy


def nonfinite(name: str) -> ValueError:
    """The error for NaN or infinity in samples (the engine raises the same words for x)."""
    return ValueError(f"{name} contains NaN or infinity; clean or impute it first")


def all_finite(arr: Any) -> bool:
    """Whether arr holds no NaN or infinity. A C-contiguous float array is scanned by the engine
    (MNIST's 47 million pixels: 4.6 ms on 2 cores, NumPy's check 10 ms); other arrays by
    np.isfinite without a boolean array as large as arr (for MNIST, its fresh pages cost half as
    much as the check). A CuPy array is checked where it is, on its GPU."""
    xp = device_module(arr)
    if xp is not None:
        return bool(xp.isfinite(arr).all())
    if (
        isinstance(arr, np.ndarray)
        and arr.flags.c_contiguous
        and arr.dtype in (np.float32, np.float64)  # (native byte order)
    ):
        return bool(_core.all_finite(arr))  # the engine's threads, without the GIL
    if arr.size <= _FINITE_CHUNK or not arr.flags.c_contiguous:
        return bool(np.isfinite(arr).all())
    flat = arr.reshape(-1)
    seen = np.empty(_FINITE_CHUNK, dtype=bool)
    for start in range(0, flat.size, _FINITE_CHUNK):
        part = flat[start : start + _FINITE_CHUNK]
        if not np.isfinite(part, out=seen[: part.size]).all():
            return False
    return True


def _refuse_streams(x: Any, name: str) -> None:
    """Generators, iterators and dataset objects (tf.data, Keras's PyDataset, PyTorch's
    DataLoader) give batches one by one: fastmlp takes all the samples as one array."""
    kind = type(x).__name__
    array_like = isinstance(x, (list, tuple)) or hasattr(x, "__array__")
    stream = isinstance(x, collections.abc.Iterator) or (
        not array_like
        and any(word in kind for word in ("Dataset", "DataLoader", "Sequence", "Generator"))
    )
    if stream:
        raise TypeError(
            f"{name}: generators, iterators and datasets ({kind}) are not supported; pass all "
            "the samples as one array (NumPy, a list, pandas), e.g. np.concatenate of the batches"
        )


def _densify(x: Any, name: str) -> Any:
    """A SciPy sparse matrix or array as a dense array (as Keras 3 takes them): fastmlp's first
    layer skips the zeros of a dense input itself. Anything else as it is."""
    if not type(x).__module__.startswith("scipy.sparse") or not hasattr(x, "toarray"):
        return x
    try:
        return x.toarray()
    except MemoryError:
        size = x.shape[0] * x.shape[1] * 8 / 2**30
        raise MemoryError(
            f"{name}: a SciPy sparse matrix of shape {x.shape} is taken as a dense array, "
            f"{size:,.1f} GiB as float64, which does not fit in memory; pass fewer rows at a time"
        ) from None


def as_float_array(
    x: Any,
    name: str,
    dtype: np.dtype,
    *,
    allow_empty: bool = False,
    check_finite: bool = True,
    allow_nonfinite: bool = False,
) -> np.ndarray:
    """`x` as a C-contiguous array of `dtype` (one copy at most), numeric and finite.

    check_finite=False leaves the NaN / infinity check of an array used as it is to the engine
    (predict finds them without another pass over x); a converted array is always checked here.
    allow_nonfinite=True takes NaN and infinity (weights: whatever training made of them); finite
    values too large for `dtype` are still refused.
    A CuPy array stays a CuPy array, on its GPU, and is checked and converted there.
    """
    if x is None:
        raise ValueError(f"{name} is required, got None")
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}")
    _refuse_streams(x, name)
    x = _densify(x, name)
    xp = device_module(x) or np
    try:
        arr = xp.asarray(x)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise ValueError(f"{name} could not be converted to an array: {err}") from None
    kind = arr.dtype.kind
    if kind not in "biuf":
        what = {"c": "complex", "O": "object", "U": "string", "S": "bytes", "V": "structured"}.get(
            kind, str(arr.dtype)
        )
        raise TypeError(
            f"{name} must hold real numbers (float, int or bool), got {what} dtype {arr.dtype}"
        )
    if arr.ndim == 0:
        raise ValueError(f"{name} must be an array of samples, got a scalar")
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty: expected at least one sample, got shape {arr.shape}")
    if arr.size == 0 and arr.shape[0] != 0:
        raise ValueError(f"{name} has no features: got shape {arr.shape}")
    as_is = arr.dtype == dtype and arr.flags.c_contiguous
    if kind == "f" and not allow_nonfinite and (check_finite or not as_is) and not all_finite(arr):
        raise nonfinite(name)
    with np.errstate(over="ignore"):  # overflow is reported below, as an error
        out = xp.ascontiguousarray(arr, dtype=dtype)
    overflow_checked = not allow_nonfinite or kind != "f" or all_finite(arr)
    if kind in "iuf" and out.dtype != arr.dtype and overflow_checked and not all_finite(out):
        raise ValueError(
            f"{name} holds values too large for {np.dtype(dtype).name} "
            f"(largest {np.finfo(dtype).max:.3g}); rescale it or use dtype='float64'"
        )
    return out


def as_samples(
    x: Any,
    feature_shape: tuple[int, ...],
    dtype: np.dtype,
    name: str = "x",
    *,
    check_finite: bool = True,
) -> np.ndarray:
    """`x` as a (samples, features) matrix, checking each sample's shape against the model's."""
    arr = as_float_array(x, name, dtype, check_finite=check_finite)
    if arr.ndim == 1 and tuple(feature_shape) == (1,):
        return arr.reshape(-1, 1)  # one feature: samples of one value (as Keras expands them)
    if arr.shape[1:] != tuple(feature_shape):
        if arr.ndim == 1 and len(feature_shape) == 1:
            raise ValueError(
                f"{name}: expected a 2-D array of shape (samples, {feature_shape[0]}), got a 1-D array "
                f"of shape {arr.shape}; reshape it with x.reshape(-1, {feature_shape[0]})"
            )
        hint = ""
        if arr.shape == tuple(feature_shape):
            hint = f"; for one sample add a batch axis: {name}[None] (or np.expand_dims({name}, 0))"
        raise ValueError(
            f"{name}: the model expects samples of shape {tuple(feature_shape)}, "
            f"got samples of shape {arr.shape[1:]} (array shape {arr.shape}){hint}"
        )
    return arr.reshape(arr.shape[0], -1)


def as_targets(
    y: Any,
    loss: losses_module.Loss,
    output_dim: int,
    samples: int,
    dtype: np.dtype,
    name: str = "y",
) -> tuple[np.ndarray, tuple[float, float]]:
    """`y` as the engine reads it for `loss`: (samples, 1) class indices or (samples, outputs);
    and the map back from those targets to y's values (`Loss.target_map`) for mse / mae."""
    arr = as_float_array(y, name, np.float64)
    if arr.shape[0] != samples:
        raise ValueError(
            f"x and {name} must have the same number of samples: x has {samples}, {name} has {arr.shape[0]}"
        )
    loss_name = loss.default_name
    if loss.sparse:
        if arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] != 1):
            hint = (
                " (one-hot targets need loss='categorical_crossentropy')" if arr.ndim == 2 else ""
            )
            raise ValueError(
                f"{name}: {loss_name} expects integer class labels of shape ({samples},), "
                f"got shape {arr.shape}{hint}"
            )
        labels = arr.reshape(-1, 1)
        bad = (labels != np.floor(labels)) | (labels < 0) | (labels >= output_dim)
        if bad.any():
            value = labels[bad][0]
            raise ValueError(
                f"{name}: {loss_name} expects integer class labels in [0, {output_dim}) "
                f"(the output layer has {output_dim} units), got {value:g}"
            )
        return np.ascontiguousarray(labels, dtype=dtype), (1.0, 0.0)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != output_dim:
        hint = ""
        crossentropy = isinstance(loss, (CategoricalCrossentropyBase, BinaryCrossentropyBase))
        labels = crossentropy and arr.shape[1:] == (1,) and output_dim > 1 and arr.max() >= 1
        if labels and ((arr >= 0) & (arr < output_dim) & (arr == np.floor(arr))).all():
            hint = (
                f"; these look like integer class labels (0 to {int(arr.max())}): use "
                "loss='sparse_categorical_crossentropy' with a softmax output, or one-hot "
                "targets from utils.to_categorical"
            )
        raise ValueError(
            f"{name}: {loss_name} expects targets of shape ({samples}, {output_dim}) to match the "
            f"output layer, got shape {arr.shape}{hint}"
        )
    if isinstance(loss, BinaryCrossentropyBase) and ((arr < 0) | (arr > 1)).any():
        hint = ""
        if np.isin(arr, (-1, 1)).all():
            hint = f": for labels in {{-1, +1}} pass ({name} + 1) / 2, or use loss='logistic' or 'hinge'"
        raise ValueError(
            f"{name}: {loss_name} expects targets in [0, 1], got values from "
            f"{arr.min():g} to {arr.max():g}{hint}"
        )
    pm1_loss = isinstance(
        loss, (losses_module.Hinge, losses_module.SquaredHinge, losses_module.LogisticLoss)
    )
    if pm1_loss and not (np.isin(arr, (-1, 1)).all() or np.isin(arr, (0, 1)).all()):
        raise ValueError(f"{name}: {loss_name} expects labels in {{-1, +1}} (or {{0, 1}})")
    return np.ascontiguousarray(loss.prepare_targets(arr), dtype=dtype), loss.target_map(arr)


def as_weight(value: Any, shape: tuple[int, ...], name: str, dtype: np.dtype) -> np.ndarray:
    """`value` as a weight array of `shape` and `dtype`: a CuPy array is copied to the host
    (weights are set through it); shape () takes a number or a 1-element array.

    NaN and infinity are taken (the caller warns), as Keras takes them: weights that training
    made so must round-trip through get_weights, files and pickles (refusing them loses a model).
    """
    if device_module(value) is not None:
        value = value.get()
    scalar = shape == ()  # (a Normalization's count)
    arr = as_float_array(
        np.reshape(value, (-1,)) if scalar and np.ndim(value) == 0 else value,
        name,
        dtype,
        allow_empty=True,
        allow_nonfinite=True,
    )
    if scalar and arr.shape == (1,):
        arr = arr.reshape(())
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    return arr


def prepare(
    self: Any,
    x: Any,
    y: Any = None,
    *,
    name: str = "x",
    check_finite: bool = True,
    training: str | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Checked, converted (x, y); builds the model from x's shape if needed.

    training: "fit" (y is the training data: its signs set the accuracy rule for later
        data) or "batch" (one batch: negative targets set the {-1, +1} rule, positive ones
        alone do not undo it).

    check_finite=False: the engine's predict(check_finite=True) refuses NaN / infinity in x.
    A CuPy x stays on its GPU for a GPU model (else it is copied to the host); CuPy targets
    are checked on the host (one copy: they are small next to x).
    """
    if device_module(y) is not None:
        y = y.get()
    if not self.built:
        if not self._layers:
            raise ValueError("the model has no layers; add some first")
        arr = as_float_array(x, name, self.dtype)
        if arr.ndim < 2:
            raise ValueError(
                f"{name}: expected a 2-D array (samples, features), got shape {arr.shape}"
            )
        self._build(tuple(arr.shape[1:]))
    xs = as_samples(x, self._input_shape, self.dtype, name, check_finite=check_finite)
    if device_module(xs) is not None and not getattr(self._engine, "on_gpu", False):
        xs = xs.get()
    ys = None
    if y is not None:
        ys, self._target_map = as_targets(
            y,
            self.loss,
            self._output_dim,
            xs.shape[0],
            self.dtype,
            "y" if name == "x" else f"y of {name}",
        )
        if training:
            signed = ys.size > 0 and bool(ys.min() < 0)
            self._signed_targets = signed or (training == "batch" and self._signed_targets)
        self._use_targets(ys, self._target_map)
    return xs, ys


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """`value` as an int >= minimum (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def verbosity(verbose: Any) -> int:
    """Keras's verbose argument: "auto" (= 1), 0, 1 or 2."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def fraction(value: Any, name: str) -> float:
    """A float in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)
