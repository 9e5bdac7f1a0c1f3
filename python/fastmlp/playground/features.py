"""The playground's input features: x1, x2 and the crosses built from them.

Example:
    >>> features(np.array([[1.0, 2.0]]), ["x1", "x2", "x1^2", "x1*x2", "sin(x2)"])
    array([[1.        , 2.        , 1.        , 2.        , 0.90929743]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

__all__ = ["FEATURES", "canonical_feature", "features"]

# name -> f(x1, x2), in the order the playground lists its inputs
FEATURES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda a, b: a,
    "x2": lambda a, b: b,
    "x1^2": lambda a, b: a * a,
    "x2^2": lambda a, b: b * b,
    "x1*x2": lambda a, b: a * b,
    "sin(x1)": lambda a, b: np.sin(a),
    "sin(x2)": lambda a, b: np.sin(b),
}

# Other spellings: the playground's own ids (x, y, xSquared, ...) and Python / Unicode forms.
_ALIASES = {
    "x": "x1",
    "y": "x2",
    "xsquared": "x1^2",
    "ysquared": "x2^2",
    "xtimesy": "x1*x2",
    "sinx": "sin(x1)",
    "siny": "sin(x2)",
    "x1**2": "x1^2",
    "x2**2": "x2^2",
    "x1²": "x1^2",
    "x2²": "x2^2",
    "x1x2": "x1*x2",
    "x1·x2": "x1*x2",
    "sinx1": "sin(x1)",
    "sinx2": "sin(x2)",
}


def canonical_feature(name: str) -> str:
    """The canonical name ("x1^2") of a feature written in any accepted spelling ("X1**2").

    Args:
        name: A feature name: x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2), or an alias such as
            the playground's "xSquared".
    """
    if not isinstance(name, str):
        raise TypeError(f"feature names must be strings, got {type(name).__name__}")
    key = name.replace(" ", "").lower()
    key = _ALIASES.get(key, key)
    if key not in FEATURES:
        raise ValueError(f"Unknown feature {name!r}. Expected some of: {', '.join(FEATURES)}")
    return key


def features(x: Any, names: Sequence[str] = ("x1", "x2")) -> np.ndarray:
    """The named features of 2-D points, one column each, in the order given.

    Args:
        x: Points, shape (n, 2).
        names: Features among x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2). Defaults to
            ("x1", "x2").

    Returns:
        An array of shape (n, len(names)), float64.
    """
    if isinstance(names, str):
        raise TypeError(f'names must be a list of feature names, e.g. ["x1", "x2"], got {names!r}')
    keys = [canonical_feature(name) for name in names]
    if not keys:
        raise ValueError("names must hold at least one feature")
    if len(set(keys)) != len(keys):
        raise ValueError(f"each feature may appear once, got {list(names)}")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2): points of the plane, got shape {arr.shape}")
    a, b = arr[:, 0], arr[:, 1]
    return np.stack([FEATURES[key](a, b) for key in keys], axis=1)
