"""Pictures of models with one output unit per class: a colour per class, the predicted class's
region shaded by how sure the model is.

The playground's pictures are binary (orange -1, blue +1). A model that ends in Dense(k) with
k >= 3 (or 2 units without softmax) gives a probability per class instead; its decision boundary
colours each point of the plane by the argmax class, from the neutral grey (probability 1/k, no
preference) to the class's full colour (probability 1), and its points by their class.

matplotlib is imported only inside these functions, so importing this module needs none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fastmlp.playground._draw import BLUE, GREY, HEATMAP_ALPHA, ORANGE, View, model_summary
from fastmlp.playground._network import layer_outputs
from fastmlp.playground.features import features as feature_matrix

# Qualitative: the playground's orange and blue for classes 0 and 1 (as the binary pictures'
# labels 0 and 1), then matplotlib's tab10 without its grey (the colour of "unsure") and a yellow.
CLASS_COLOURS = (
    ORANGE,
    BLUE,
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#ffd92f",
)


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255


def class_rgb(k: int) -> np.ndarray:
    """RGB of classes 0 ... k - 1, shape (k, 3); the palette repeats after 10 classes."""
    return np.array([_rgb(CLASS_COLOURS[c % len(CLASS_COLOURS)]) for c in range(k)])


def class_indices(y: Any, k: int, what: str = "labels") -> np.ndarray:
    """Class numbers (n,) from sparse labels (n,) or (n, 1), or one-hot rows (n, k).

    Raises:
        ValueError: for labels that are not the class numbers 0 ... k - 1 or rows of k.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == k and k > 1:
        return np.argmax(y, axis=1)  # one-hot (or probabilities)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    expected = f"class numbers 0 to {k - 1} (shape (n,)) or one-hot rows of {k}"
    if y.ndim != 1 or y.dtype.kind not in "biuf":
        raise ValueError(
            f"{what} of a model with {k} classes must be {expected}; got shape {y.shape}"
        )
    classes = y.astype(np.int64)
    if not np.array_equal(classes, y) or np.any(classes < 0) or np.any(classes >= k):
        found = ", ".join(f"{v:g}" for v in np.unique(y.astype(np.float64))[:6])
        raise ValueError(f"{what} of a model with {k} classes must be {expected}; got {found}")
    return classes


def class_names(k: int, names: Sequence[str] | None) -> list[str]:
    """["class 0", ...], or the names given (one per output unit)."""
    if names is None:
        return [f"class {c}" for c in range(k)]
    names = [str(name) for name in names]
    if len(names) != k:
        raise ValueError(f"class_names: the model has {k} classes, got {len(names)} names")
    return names


def shade(colour: np.ndarray, t: np.ndarray) -> np.ndarray:
    """GREY (t = 0) to `colour` (t = 1), per point: shape (..., 3)."""
    return _rgb(GREY) + np.clip(t, 0, 1)[..., None] * (colour - _rgb(GREY))


def class_heatmap(probabilities: np.ndarray, discretize: bool) -> np.ndarray:
    """Colours (n, 3) of the argmax class, shaded by its probability from 1/k (grey) to 1 (full),
    at the playground's heatmap opacity over white; full colours only when `discretize`."""
    k = probabilities.shape[1]
    best = np.argmax(probabilities, axis=1)
    confidence = probabilities[np.arange(len(best)), best]
    t = np.ones_like(confidence) if discretize else (confidence - 1 / k) / (1 - 1 / k)
    return HEATMAP_ALPHA * shade(class_rgb(k)[best], t) + (1 - HEATMAP_ALPHA)


def draw_class_key(ax: Any, names: Sequence[str], label: str, discretize: bool = False) -> None:
    """A stripe per class, named on the right: which colour is which class, and how its shade
    goes from probability 1/k (grey, no preference) to 1 (its full colour); with `discretize`,
    the full colours only."""
    k = len(names)
    low = 1 / k
    t = np.ones(2) if discretize else np.linspace(0, 1, 101)
    stripes = np.stack([shade(colour, t) for colour in class_rgb(k)])
    ax.imshow(
        HEATMAP_ALPHA * stripes + (1 - HEATMAP_ALPHA),
        extent=(low, 1, k - 0.5, -0.5),
        aspect="auto",
        interpolation="nearest",
    )
    ax.set_yticks(range(k), names)
    ax.yaxis.tick_right()
    if discretize:
        ax.set_xticks([])
        label = "predicted class"
    else:
        ticks = [low, *([0.5] if k > 2 else []), 1]
        ax.set_xticks(ticks, [f"1/{k}", *(["0.5"] if k > 2 else []), "1"])
    ax.tick_params(labelsize=7, length=2, pad=1)
    ax.set_title(label, fontsize=8, pad=2)


def class_handles(names: Sequence[str]) -> list[Any]:
    """Legend patches of the classes' full heatmap colours, for a key inside an Axes."""
    from matplotlib.patches import Patch

    rgb = HEATMAP_ALPHA * class_rgb(len(names)) + (1 - HEATMAP_ALPHA)
    return [Patch(facecolor=colour, label=name) for colour, name in zip(rgb, names)]


def class_view(
    model: Any,
    features: list[str],
    weights: list[tuple[np.ndarray, np.ndarray]],
    probabilities: tuple[Callable[[np.ndarray], np.ndarray], str],
    train: Any,
    test: Any,
    names: Sequence[str] | None,
) -> View:
    """The View of a Sequential with an output unit per class: predict and the last of neurons
    give each class's probability (n, k), train and test labels are class numbers.

    Args:
        model: The model.
        features: Its input features' names.
        weights: (kernel, bias) of its Dense layers.
        probabilities: Its output -> probabilities, and what the predicted class's probability
            is called (from `_draw.class_probabilities`).
        train: (x, labels) or None.
        test: (x, labels) or None.
        names: The classes' names, or None ("class 0", ...).
    """
    to_probabilities, key_label = probabilities
    k = weights[-1][0].shape[1]

    def neurons(points: np.ndarray) -> list[np.ndarray]:
        outputs = layer_outputs(model, feature_matrix(points, features))
        outputs[-1] = to_probabilities(outputs[-1])
        return outputs

    def classes_of(data: Any, what: str) -> tuple[np.ndarray, np.ndarray] | None:
        return None if data is None else (np.asarray(data[0]), class_indices(data[1], k, what))

    view = View(
        predict=lambda points: neurons(points)[-1],
        neurons=neurons,
        weights=weights,
        feature_names=features,
        train=classes_of(train, "train labels"),
        test=classes_of(test, "test labels"),
        title=model.name,
        summary=model.name,
        scale=(key_label, ()),
        classes=class_names(k, names),
        unit_probabilities=lambda points: neurons(points)[-1],
    )
    view.summary = model_summary(model, view)
    return view
