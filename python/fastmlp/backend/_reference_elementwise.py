"""The NumPy reference's functions of one value at a time, as the kernels compute them: the
counter-based random generator (random.hpp) and the activations with their derivatives
(activation.hpp), in the codes of the engine (`SOFTMAX`, ...). `ReferenceOps` (_reference.py)
applies them to whole arrays.
"""

from __future__ import annotations

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
SOFTMAX = 4

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's output function (Steele, Lea, Flood 2014) over uint64 arrays."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def random_bits(seed: int, counter: int, stream: int, size: int) -> np.ndarray:
    """size uint64 values of the counter-based generator: mix(mix(mix(seed) ^ counter) ^ stream) + i."""
    base = mix64(np.array([seed & int(_MASK)], dtype=np.uint64))
    base = mix64(base ^ np.uint64(counter & int(_MASK)))
    base = mix64(base ^ np.uint64(stream & int(_MASK)))
    return mix64(base + np.arange(size, dtype=np.uint64))


def uniform(bits: np.ndarray) -> np.ndarray:
    """[0, 1) doubles from the top 53 bits."""
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def activate(code: int, x: np.ndarray, param: float) -> np.ndarray:
    """f(x) for the engine's activation codes (activation.hpp); `param`: the function's argument
    (leaky_relu's negative slope, elu's alpha; the others have none and ignore it)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if code == 0:
            return x
        if code == 1:
            return np.where(x > 0, x, 0).astype(x.dtype)
        if code == 2:
            return 1 / (1 + np.exp(-x))
        if code == 3:
            return np.tanh(x)
        if code == SOFTMAX:
            e = np.exp(x - x.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        if code == 5:
            return np.where(x > 0, x, x.dtype.type(param) * np.expm1(np.minimum(x, 0)))
        if code == 6:
            return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))
        if code == 7:
            return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
        if code == 8:
            return x / (1 + np.abs(x))
        if code == 9:
            return np.where(x > 0, x, x.dtype.type(param) * x)
        if code == 10:
            return np.exp(x)
        if code == 11:
            return np.minimum(np.maximum(x + 3, 0), 6) / 6
    raise ValueError(f"activation: unknown code {code}")


def activation_grad(code: int, a: np.ndarray, g: np.ndarray, param: float) -> np.ndarray:
    """g * f'(z), with f'(z) written through the output a = f(z) (activation.hpp); `param` as
    `activate`'s (a slope and an alpha >= 0: the output then tells the side of 0)."""
    t = a.dtype.type
    if code == 0:
        return g
    if code == 1:
        return np.where(a > 0, g, t(0))
    if code == 2:
        return g * (a * (1 - a))
    if code == 3:
        return g * (1 - a * a)
    if code == SOFTMAX:
        return a * (g - np.sum(a * g, axis=1, keepdims=True))
    if code == 5:
        return g * np.where(a > 0, t(1), a + t(param))
    if code == 6:
        return g * np.where(a >= 0, t(SELU_SCALE), a + t(SELU_SCALE * SELU_ALPHA))
    if code == 7:
        return g * (1 - np.exp(-a))
    if code == 8:
        return g * (1 - np.abs(a)) ** 2
    if code == 9:
        return np.where(a > 0, g, t(param) * g)
    if code == 10:
        return g * a
    if code == 11:
        return g * np.where((a > 0) & (a < 1), t(1 / 6), t(0))
    raise ValueError(f"activation: unknown code {code}")
