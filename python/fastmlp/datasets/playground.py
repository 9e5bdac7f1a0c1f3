"""The TensorFlow Neural Network Playground's datasets, formula for formula.

Six generators follow `dataset.ts` of the playground (Smilkov, Carter et al., 2016): four
classification problems (`circle`, `xor`, `gauss`, `spiral`) with labels -1 (orange) and +1
(blue), and two regression problems (`reg_plane`, `reg_gauss`) with targets in [-1, 1]. Points
lie in [-6, 6]^2. Each returns `(x, y)`: x of shape (n_samples, 2), y of shape (n_samples,), both
float64. As in the playground, the points come in generation order (all +1 points first for
circle, gauss and spiral); `train_test_split` shuffles and splits them like its ratio slider.

Example:
    >>> x, y = spiral(n_samples=500, noise=0.1, seed=0)
    >>> (x_train, y_train), (x_test, y_test) = train_test_split(x, y, ratio=0.5, seed=0)
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = [
    "CLASSIFICATION",
    "GENERATORS",
    "REGRESSION",
    "circle",
    "gauss",
    "load",
    "reg_gauss",
    "reg_plane",
    "spiral",
    "train_test_split",
    "xor",
]

Data = tuple[np.ndarray, np.ndarray]


def _check(n_samples: int, noise: float, what: str) -> tuple[int, float]:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"{what}: n_samples must be an integer, got {n_samples!r}")
    if n_samples < 2:
        raise ValueError(f"{what}: n_samples must be at least 2, got {n_samples}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating)):
        raise TypeError(f"{what}: noise must be a number in [0, 0.5], got {noise!r}")
    if not 0 <= noise <= 0.5:
        raise ValueError(
            f"{what}: noise must be in [0, 0.5] (the playground's 0-50 %), got {noise}"
        )
    return int(n_samples), float(noise)


def _labels(y: np.ndarray, labels: str, what: str) -> np.ndarray:
    """±1 labels as asked: "pm1" keeps {-1, +1}, "01" maps them to {0, 1}."""
    if labels == "pm1":
        return y.astype(np.float64)
    if labels == "01":
        return (y > 0).astype(np.float64)
    raise ValueError(
        f'{what}: labels must be "pm1" ({{-1, +1}}) or "01" ({{0, 1}}), got {labels!r}'
    )


def _uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    # randUniform(a, b) = Math.random() * (b - a) + a
    return rng.random(n) * (high - low) + low


def circle(
    n_samples: int = 500, noise: float = 0.0, seed: int | None = None, labels: str = "pm1"
) -> Data:
    """Blue disc of radius 2.5 inside an orange ring 3.5 < r < 5.

    Half the points have r ~ U(0, 2.5), half r ~ U(3.5, 5), angle ~ U(0, 2π), at
    (r sin a, r cos a). The label is +1 when ‖(x + nx, y + ny)‖ < 2.5 with nx, ny ~ U(-5, 5)·noise:
    noise relabels points, it does not move them.

    Args:
        n_samples: Number of points. Defaults to 500.
        noise: Noise level in [0, 0.5]. Defaults to 0.0.
        seed: Seed of the generator. Defaults to None (fresh randomness).
        labels: "pm1" for {-1, +1} or "01" for {0, 1}. Defaults to "pm1".
    """
    n, noise = _check(n_samples, noise, "circle")
    rng = np.random.default_rng(seed)
    radius = 5.0
    inner = n // 2
    r = np.concatenate(
        [_uniform(rng, 0, radius * 0.5, inner), _uniform(rng, radius * 0.7, radius, n - inner)]
    )
    angle = _uniform(rng, 0, 2 * math.pi, n)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    shift = _uniform(rng, -radius, radius, 2 * n).reshape(n, 2) * noise
    y = np.where(np.hypot(*(x + shift).T) < radius * 0.5, 1.0, -1.0)
    return x, _labels(y, labels, "circle")


def xor(
    n_samples: int = 500, noise: float = 0.0, seed: int | None = None, labels: str = "pm1"
) -> Data:
    """Four squares: +1 where x·y ≥ 0 (first and third quadrants), -1 elsewhere.

    x, y ~ U(-5, 5), each pushed 0.3 away from the axes; the label is +1 when
    (x + nx)(y + ny) ≥ 0 with nx, ny ~ U(-5, 5)·noise.

    Args:
        n_samples: Number of points. Defaults to 500.
        noise: Noise level in [0, 0.5]. Defaults to 0.0.
        seed: Seed of the generator. Defaults to None (fresh randomness).
        labels: "pm1" for {-1, +1} or "01" for {0, 1}. Defaults to "pm1".
    """
    n, noise = _check(n_samples, noise, "xor")
    rng = np.random.default_rng(seed)
    x = _uniform(rng, -5, 5, 2 * n).reshape(n, 2)
    x = np.where(x > 0, x + 0.3, x - 0.3)  # padding: no point within 0.3 of an axis
    shift = _uniform(rng, -5, 5, 2 * n).reshape(n, 2) * noise
    noisy = x + shift
    y = np.where(noisy[:, 0] * noisy[:, 1] >= 0, 1.0, -1.0)
    return x, _labels(y, labels, "xor")


def gauss(
    n_samples: int = 500, noise: float = 0.0, seed: int | None = None, labels: str = "pm1"
) -> Data:
    """Two Gaussian clouds: +1 around (2, 2), -1 around (-2, -2).

    Each coordinate is normal with variance 0.5 + 7·noise (the playground's scale from
    noise [0, 0.5] to variance [0.5, 4]); labels do not depend on the noise.

    Args:
        n_samples: Number of points. Defaults to 500.
        noise: Noise level in [0, 0.5]. Defaults to 0.0.
        seed: Seed of the generator. Defaults to None (fresh randomness).
        labels: "pm1" for {-1, +1} or "01" for {0, 1}. Defaults to "pm1".
    """
    n, noise = _check(n_samples, noise, "gauss")
    rng = np.random.default_rng(seed)
    std = math.sqrt(0.5 + 7 * noise)
    half = n // 2
    centres = np.repeat(np.array([[2.0, 2.0], [-2.0, -2.0]]), [half, n - half], axis=0)
    x = centres + rng.normal(0.0, std, size=(n, 2))
    y = np.repeat([1.0, -1.0], [half, n - half])
    return x, _labels(y, labels, "gauss")


def spiral(
    n_samples: int = 500, noise: float = 0.0, seed: int | None = None, labels: str = "pm1"
) -> Data:
    """Two interleaved spiral arms, +1 and -1.

    Arm point i of m = n/2 has r = 5i/m and t = 1.75·(i/m)·2π + Δ (Δ = 0 for +1, π for -1), at
    (r sin t, r cos t) + U(-1, 1)·noise per coordinate.

    Args:
        n_samples: Number of points. Defaults to 500.
        noise: Noise level in [0, 0.5]. Defaults to 0.0.
        seed: Seed of the generator. Defaults to None (fresh randomness).
        labels: "pm1" for {-1, +1} or "01" for {0, 1}. Defaults to "pm1".
    """
    n, noise = _check(n_samples, noise, "spiral")
    rng = np.random.default_rng(seed)
    m = n / 2
    half = n // 2
    i = np.concatenate([np.arange(half), np.arange(n - half)]).astype(np.float64)
    delta = np.repeat([0.0, math.pi], [half, n - half])
    r = i / m * 5
    t = 1.75 * i / m * 2 * math.pi + delta
    x = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    x += _uniform(rng, -1, 1, 2 * n).reshape(n, 2) * noise
    y = np.repeat([1.0, -1.0], [half, n - half])
    return x, _labels(y, labels, "spiral")


def reg_plane(n_samples: int = 1200, noise: float = 0.0, seed: int | None = None) -> Data:
    """Regression on a tilted plane: target (x + nx + y + ny) / 10, in [-1.2, 1.2] at most.

    x, y ~ U(-6, 6); nx, ny ~ U(-6, 6)·noise shift only the point where the target is read.

    Args:
        n_samples: Number of points. Defaults to 1200.
        noise: Noise level in [0, 0.5]. Defaults to 0.0.
        seed: Seed of the generator. Defaults to None (fresh randomness).
    """
    n, noise = _check(n_samples, noise, "reg_plane")
    rng = np.random.default_rng(seed)
    radius = 6.0
    x = _uniform(rng, -radius, radius, 2 * n).reshape(n, 2)
    shift = _uniform(rng, -radius, radius, 2 * n).reshape(n, 2) * noise
    y = (x + shift).sum(axis=1) / 10  # d3 scale [-10, 10] -> [-1, 1], not clamped
    return x, y


# (centre x, centre y, sign) of the six bumps of reg_gauss
_BUMPS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]],
    dtype=np.float64,
)


def reg_gauss(n_samples: int = 1200, noise: float = 0.0, seed: int | None = None) -> Data:
    """Regression on six cones of alternating sign, two rows of three.

    Each centre c (sign s) contributes s·clamp(1 - ‖p - c‖/2, 0, 1) at the noisy point
    p = (x + nx, y + ny); the target is the contribution of largest magnitude (the first one on
    ties). x, y ~ U(-6, 6), nx, ny ~ U(-6, 6)·noise.

    Args:
        n_samples: Number of points. Defaults to 1200.
        noise: Noise level in [0, 0.5]. Defaults to 0.0.
        seed: Seed of the generator. Defaults to None (fresh randomness).
    """
    n, noise = _check(n_samples, noise, "reg_gauss")
    rng = np.random.default_rng(seed)
    radius = 6.0
    x = _uniform(rng, -radius, radius, 2 * n).reshape(n, 2)
    shift = _uniform(rng, -radius, radius, 2 * n).reshape(n, 2) * noise
    return x, _reg_gauss_target(x + shift)


def _reg_gauss_target(p: np.ndarray) -> np.ndarray:
    d = np.hypot(p[:, None, 0] - _BUMPS[:, 0], p[:, None, 1] - _BUMPS[:, 1])  # (n, 6)
    contribution = _BUMPS[:, 2] * np.clip(1 - d / 2, 0, 1)
    # The playground keeps a new value only when strictly larger in magnitude: argmax's first hit.
    return contribution[np.arange(len(p)), np.argmax(np.abs(contribution), axis=1)]


GENERATORS: dict[str, Callable[..., Data]] = {
    "circle": circle,
    "xor": xor,
    "gauss": gauss,
    "spiral": spiral,
    "reg_plane": reg_plane,
    "reg_gauss": reg_gauss,
}
CLASSIFICATION = ("circle", "xor", "gauss", "spiral")
REGRESSION = ("reg_plane", "reg_gauss")


def load(
    name: str,
    n_samples: int | None = None,
    noise: float = 0.0,
    seed: int | None = None,
    labels: str = "pm1",
) -> Data:
    """One of the six datasets by name ("spiral", "reg_plane", "reg-plane", ...).

    Args:
        name: circle, xor, gauss, spiral, reg_plane or reg_gauss ("-" may replace "_").
        n_samples: Number of points. Defaults to None: 500 for classification, 1200 for regression.
        noise: Noise level in [0, 0.5]. Defaults to 0.0.
        seed: Seed of the generator. Defaults to None (fresh randomness).
        labels: "pm1" or "01", for classification datasets. Defaults to "pm1".
    """
    key = canonical_name(name)
    if key in REGRESSION:
        return GENERATORS[key](1200 if n_samples is None else n_samples, noise, seed)
    return GENERATORS[key](500 if n_samples is None else n_samples, noise, seed, labels)


def canonical_name(name: str) -> str:
    """The generator's name for a dataset name written with "-" or in any case.

    Args:
        name: e.g. "Spiral" or "reg-plane".
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key not in GENERATORS:
        raise ValueError(
            f"Unknown playground dataset {name!r}. Expected one of: {', '.join(GENERATORS)}"
        )
    return key


def train_test_split(
    x: np.ndarray, y: np.ndarray, ratio: float = 0.5, seed: int | None = None
) -> tuple[Data, Data]:
    """Shuffle, then split like the playground's ratio slider: the first part trains.

    Args:
        x: Samples, shape (n, ...).
        y: Targets, shape (n, ...).
        ratio: Fraction of the samples that train, in (0, 1); floor(n·ratio) of them. Defaults to
            0.5 (the playground's default of 50 %).
        seed: Seed of the shuffle. Defaults to None (fresh randomness).

    Returns:
        `(x_train, y_train), (x_test, y_test)`.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must have the same number of samples: x has {x.shape[0]}, y has {y.shape[0]}"
        )
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.floating)):
        raise TypeError(f"ratio must be a number in (0, 1), got {ratio!r}")
    split = math.floor(x.shape[0] * ratio)
    if not 0 < ratio < 1 or split == 0 or split == x.shape[0]:
        raise ValueError(
            f"ratio={ratio} leaves no samples for training or testing out of {x.shape[0]}; "
            "use a ratio in (0, 1)"
        )
    order = np.random.default_rng(seed).permutation(x.shape[0])
    train, test = order[:split], order[split:]
    return (x[train], y[train]), (x[test], y[test])
