"""Activation functions, usable by name ("relu") or as functions (`fastmlp.activations.relu`).

Each function computes its value on NumPy arrays; inside a model the C++ engine computes it, and
these functions only tell it which one to use.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np

__all__ = [
    "elu",
    "exponential",
    "gelu",
    "get",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "linear",
    "mish",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _floats(x: Any) -> np.ndarray:
    """x as a float array (integers and lists become float64; float16/32/64 are kept)."""
    arr = np.asarray(x)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _argument(value: Any, name: str, function: str, at_least: float | None = None) -> float:
    """A function's numeric argument as a float: a finite real number (>= at_least if given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{function}: {name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{function}: {name} must be a finite number, got {value!r}")
    if at_least is not None and value < at_least:
        raise ValueError(f"{function}: {name} must be >= {at_least:g}, got {value!r}")
    return value


def linear(x: Any) -> np.ndarray:
    """Identity: f(x) = x."""
    return np.asarray(x)


def relu(
    x: Any, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> np.ndarray:
    """Rectified linear unit: max(x, 0) with Keras 3's default arguments.

    With arguments: min(x, max_value) for x > threshold, negative_slope * (x - threshold) at or
    below it.

    Args:
        x: Input array.
        negative_slope: Slope at and below the threshold (any finite number). Defaults to 0.0.
        max_value: The largest output, a number >= 0; None: no maximum. Defaults to None.
        threshold: Where the function turns, a number >= 0. Defaults to 0.0.

    Example:
        >>> relu(np.array([-10.0, -5.0, 0.0, 5.0, 10.0]), negative_slope=0.5, max_value=5.0)
        array([-5. , -2.5,  0. ,  5. ,  5. ])
    """
    negative_slope = _argument(negative_slope, "negative_slope", "relu")
    threshold = _argument(threshold, "threshold", "relu", at_least=0)
    if max_value is not None:
        max_value = _argument(max_value, "max_value", "relu", at_least=0)
    if negative_slope == 0 and max_value is None and threshold == 0:
        return np.maximum(x, 0)
    x = _floats(x)
    above = x if max_value is None else np.minimum(x, x.dtype.type(max_value))
    t = x.dtype.type(threshold)
    below = x.dtype.type(negative_slope) * (x - t) if negative_slope != 0 else x.dtype.type(0)
    return np.where(x > t, above, below)


def sigmoid(x: Any) -> np.ndarray:
    """Logistic sigmoid: f(x) = 1 / (1 + exp(-x)), computed without overflow."""
    x = _floats(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x: Any) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(x)


def softmax(x: Any, axis: int = -1) -> np.ndarray:
    """Softmax along `axis`: exp(x_i) / sum_j exp(x_j), with the maximum subtracted first.

    Args:
        x: Input array.
        axis: Axis to normalise over. Defaults to -1.
    """
    x = _floats(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def elu(x: Any, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit (Clevert et al., 2016): x for x > 0, alpha * (exp(x) - 1) otherwise.

    Args:
        x: Input array.
        alpha: Scale of the negative part (any finite number). Defaults to 1.0.
    """
    alpha = _argument(alpha, "alpha", "elu")
    x = _floats(x)
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))


def selu(x: Any) -> np.ndarray:
    """Scaled ELU (Klambauer et al., 2017)."""
    x = _floats(x)
    return _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0)))


def softplus(x: Any) -> np.ndarray:
    """log(1 + exp(x)), computed without overflow."""
    x = _floats(x)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softsign(x: Any) -> np.ndarray:
    """x / (1 + |x|)."""
    x = _floats(x)
    return x / (1 + np.abs(x))


def leaky_relu(x: Any, negative_slope: float = 0.2) -> np.ndarray:
    """Leaky ReLU: x for x > 0, negative_slope * x otherwise.

    Args:
        x: Input array.
        negative_slope: Slope at and below 0 (any finite number). Defaults to 0.2, Keras's default
            for this function (the `layers.LeakyReLU` layer's is 0.3).
    """
    negative_slope = _argument(negative_slope, "negative_slope", "leaky_relu")
    x = _floats(x)
    return np.where(x > 0, x, x.dtype.type(negative_slope) * x)


def exponential(x: Any) -> np.ndarray:
    """exp(x)."""
    return np.exp(x)


def hard_sigmoid(x: Any) -> np.ndarray:
    """Piecewise-linear sigmoid, relu6(x + 3) / 6 (Keras 3)."""
    return np.clip((np.asarray(x) + 3) / 6, 0, 1)


def relu6(x: Any) -> np.ndarray:
    """min(max(x, 0), 6)."""
    return np.clip(_floats(x), 0, 6)


def silu(x: Any) -> np.ndarray:
    """x * sigmoid(x) (Keras's `swish`)."""
    x = _floats(x)
    return x * sigmoid(x)


def gelu(x: Any) -> np.ndarray:
    """x * Phi(x), Phi the standard normal CDF: Keras's gelu with approximate=False, its default."""
    x = _floats(x)
    erf = np.vectorize(math.erf, otypes=[np.float64])(x * math.sqrt(0.5)).astype(x.dtype)
    return 0.5 * x * (1 + erf)


def mish(x: Any) -> np.ndarray:
    """x * tanh(softplus(x)) (Misra, 2019)."""
    x = _floats(x)
    return x * np.tanh(softplus(x))


def hard_silu(x: Any) -> np.ndarray:
    """x * relu6(x + 3) / 6 (Keras's `hard_swish`)."""
    x = _floats(x)
    return x * hard_sigmoid(x)


swish = silu
hard_swish = hard_silu

# The engine's code for each function (the order of enum class Activation in activation.hpp).
_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "linear": linear,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "elu": elu,
    "selu": selu,
    "softplus": softplus,
    "softsign": softsign,
    "leaky_relu": leaky_relu,
    "exponential": exponential,
    "hard_sigmoid": hard_sigmoid,
    "relu6": relu6,
    "silu": silu,
    "gelu": gelu,
    "mish": mish,
    "hard_silu": hard_silu,
}
_CODES = {name: code for code, name in enumerate(_FUNCTIONS)}
_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}  # Keras's other names


def get(identifier: str | Callable[..., Any] | None) -> Callable[..., np.ndarray]:
    """Return the activation function for a name, a function of this module, or None (linear).

    Args:
        identifier: "relu", `fastmlp.activations.relu`, `fastmlp.nn.relu`, or None.

    Raises:
        ValueError: for an unknown name.
        TypeError: for a function the engine does not implement.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        name = identifier.lower()
        fn = _FUNCTIONS.get(_ALIASES.get(name, name))
        if fn is None:
            raise ValueError(
                f"Unknown activation {identifier!r}. Expected one of: {', '.join(_FUNCTIONS)}"
            )
        return fn
    if callable(identifier):
        if identifier in _FUNCTIONS.values():
            return identifier
        name = getattr(identifier, "__name__", None)
        name = _ALIASES.get(name, name)
        if name in _FUNCTIONS and getattr(identifier, "__module__", "").startswith(
            ("tensorflow", "keras", "torch", "fastmlp")
        ):
            return _FUNCTIONS[name]
        raise TypeError(
            f"activation {identifier!r} is not one the C++ engine implements; "
            f"pass one of: {', '.join(_FUNCTIONS)}"
        )
    raise TypeError(
        f"activation must be a string, a function of fastmlp.activations or None, "
        f"got {type(identifier).__name__}"
    )


def serialize(fn: Callable[..., Any] | str | None) -> str:
    """Return the name under which an activation is stored in a model's config."""
    return get(fn).__name__


def code(fn: Callable[..., Any] | str | None) -> int:
    """Return the engine's code for an activation (internal)."""
    return _CODES[serialize(fn)]
