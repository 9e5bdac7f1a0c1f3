"""Pictures of what each neuron computes, drawn like the TensorFlow Playground draws them:
`neuron_grid`, a map per input, hidden neuron and output, and `network_diagram`, the network with
a map in each node and its weights on the links. Public from `fastmlp.playground.plots` (see its
docstring for what every picture shares).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fastmlp.playground._classes import class_rgb, shade
from fastmlp.playground._draw import (
    DOMAIN,
    TEX,
    View,
    colormap,
    colors_of,
    grid_points,
    matplotlib_parts,
    new_figure,
    view_of,
)


# -- what every neuron computes ---------------------------------------------------------------
def _display(values: np.ndarray, feature: bool) -> np.ndarray:
    """Inputs are shown scaled to [-1, 1] (x1 is a gradient); neurons clamped, as the playground."""
    if feature:
        top = np.max(np.abs(values))
        return values / top if top > 0 else values
    return values


def _layer_labels(view: View) -> list[list[str]]:
    labels = [[TEX[name] for name in view.feature_names]]
    hidden = view.weights[:-1]
    for i, (kernel, _) in enumerate(hidden):
        labels.append([f"layer {i + 1}, neuron {j + 1}" for j in range(kernel.shape[1])])
    if view.classes is None:
        labels.append(["output"])
    else:
        labels.append([f"P({name})" for name in view.classes])
    return labels


def _tile(out: np.ndarray, unit: int, layer: int, last: bool, resolution: int) -> np.ndarray:
    """The colours of one neuron's map from its layer's outputs `out` (n, units): orange (-1) to
    blue (+1), clamped; an output unit per class (out holds probabilities, 2 units or more): its
    probability, from grey (0) to its class's colour (1)."""
    if last and out.shape[1] > 1:
        colours = shade(class_rgb(out.shape[1])[unit], out[:, unit])
        return colours.reshape(resolution, resolution, 3)
    return colors_of(_display(out[:, unit], feature=layer == 0).reshape(resolution, resolution))


def neuron_grid(
    source: Any,
    *,
    features: Sequence[str] | None = None,
    resolution: int = 60,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
) -> Any:
    """A grid of small heatmaps: what each input, each hidden neuron and the output computes.

    Row 0 shows the input features (each scaled to [-1, 1]), then one row per hidden layer, then
    the output, all over [-6, 6]², coloured from -1 (orange) to +1 (blue) and clamped. A model with
    an output unit per class (see `decision_boundary`) shows each class's probability P(class)
    in the last row, from grey (0) to the class's colour (1).

    Args:
        source: A `Playground`, or a fitted `Sequential` on points of the plane.
        features: Names of the model's input features, for a Sequential source. Defaults to None
            (x1, x2).
        resolution: Grid points per axis of each map. Defaults to 60.
        title: Defaults to None: "What each neuron computes" and the dataset and epoch.
        class_names: Names of the classes of a model with an output unit per class, for the
            titles of the output maps. Defaults to None ("class 0", "class 1", ...).

    Returns:
        The matplotlib Figure, 1.5 inches per map plus margins.
    """
    view = view_of(source, features=features, class_names=class_names)
    points, _ = grid_points(resolution)
    outputs = view.neurons(points)
    labels = _layer_labels(view)
    rows, cols = len(outputs), max(out.shape[1] for out in outputs)
    cell = 1.5
    fig = new_figure(cols * cell + 0.9, rows * cell + 0.5)
    row_names = ["inputs"] + [f"hidden {i}" for i in range(1, rows - 1)] + ["output"]
    width, height = fig.get_size_inches()
    for r, (out, names) in enumerate(zip(outputs, labels)):
        for c in range(out.shape[1]):
            left = (0.8 + c * cell + 0.12) / width
            bottom = 1 - (0.45 + (r + 1) * cell - 0.1) / height
            ax = fig.add_axes((left, bottom, (cell - 0.24) / width, (cell - 0.34) / height))
            tile = _tile(out, c, r, r == rows - 1, resolution)
            ax.imshow(tile, origin="lower", extent=(*DOMAIN, *DOMAIN))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(names[c], fontsize=7 if r else 9, pad=2)
        y = 1 - (0.45 + (r + 0.5) * cell) / height
        fig.text(0.1 / width, y, row_names[r], rotation=90, va="center", fontsize=9)
    if title is None:
        title = f"What each neuron computes ({view.title})"
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height)
    return fig


# -- the network diagram ----------------------------------------------------------------------
def _draw_network(ax: Any, view: View, resolution: int) -> None:
    _, _, patches = matplotlib_parts()
    sizes = [len(view.feature_names)] + [kernel.shape[1] for kernel, _ in view.weights]
    spacing = 1.4  # vertical distance between nodes, in node sizes
    tallest = max(sizes)
    positions = [
        [(3.2 * i, ((tallest - 1) / 2 - j - (tallest - n) / 2) * spacing) for j in range(n)]
        for i, n in enumerate(sizes)
    ]
    half = 0.5  # half the side of a node
    cmap = colormap()
    # links: width and colour from the weight (playground: width 1-10 px for |w| in 0-5)
    for layer, (kernel, _) in enumerate(view.weights):
        for i, (x0, y0) in enumerate(positions[layer]):
            for j, (x1, y1) in enumerate(positions[layer + 1]):
                w = float(kernel[i, j])
                ax.plot(
                    [x0 + half, x1 - half],
                    [y0, y1],
                    color=cmap((np.clip(w, -1, 1) + 1) / 2),
                    linewidth=0.5 + 4.5 * min(abs(w) / 5, 1),
                    zorder=1,
                    solid_capstyle="butt",
                )
    # nodes: what each one computes, as a small heatmap; biases as a small square
    points, _ = grid_points(resolution)
    outputs = view.neurons(points)
    if view.unit_probabilities is not None:  # a node per class: each one's probability
        outputs[-1] = view.unit_probabilities(points)
    for layer, (column, out) in enumerate(zip(positions, outputs)):
        last = layer == len(outputs) - 1
        for k, (x, y) in enumerate(column):
            extent = (x - half, x + half, y - half, y + half)
            tile = _tile(out, k, layer, last, resolution)
            ax.imshow(tile, origin="lower", extent=extent, zorder=2)
            box = {"edgecolor": "#555555", "zorder": 3}
            ax.add_patch(patches.Rectangle((x - half, y - half), 1, 1, fill=False, lw=0.6, **box))
            if layer == 0:
                name = TEX[view.feature_names[k]]
                ax.text(x - half - 0.15, y, name, ha="right", va="center", fontsize=9)
            else:
                bias = float(view.weights[layer - 1][1][k])
                colour = cmap((np.clip(bias, -1, 1) + 1) / 2)
                corner = (x - half - 0.22, y - half)
                ax.add_patch(patches.Rectangle(corner, 0.18, 0.18, facecolor=colour, lw=0.4, **box))
    top = max(y for column in positions for _, y in column) + half
    for layer, column in enumerate(positions):
        n = len(column)
        if layer == 0:
            label = f"{n} feature{'s' * (n > 1)}"
        elif layer == len(positions) - 1:
            label = "output" if n == 1 else f"{n} classes"
        else:
            label = f"{n} neuron{'s' * (n > 1)}"
        ax.text(column[0][0], top + 0.35, label, ha="center", va="bottom", fontsize=9)
    bottom = min(y for column in positions for _, y in column) - half
    ax.set_xlim(-1.9, 3.2 * (len(sizes) - 1) + 0.8)
    ax.set_ylim(bottom - 0.3, top + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")


def network_diagram(
    source: Any, *, features: Sequence[str] | None = None, resolution: int = 30, ax: Any = None
) -> Any:
    """The network as the playground draws it: nodes show what they compute, links their weight.

    A link's colour is its weight (orange negative, blue positive) and its width grows with |w|
    (saturating at 5); the small square at a node's lower left is its bias. The output nodes of a
    model with an output unit per class (a softmax over 2 units too) show each class's
    probability, from grey (0) to the class's colour (1).

    Args:
        source: A `Playground`, or a fitted `Sequential` on points of the plane.
        features: Names of the model's input features, for a Sequential source. Defaults to None
            (x1, x2).
        resolution: Grid points per axis of each node's map. Defaults to 30.
        ax: Draw into this matplotlib Axes instead of a new figure. Defaults to None.

    Returns:
        The matplotlib Figure (when new: 1.6 inches per layer wide, 0.75 inch per node high).
    """
    view = view_of(source, features=features)
    if ax is None:
        sizes = [len(view.feature_names)] + [kernel.shape[1] for kernel, _ in view.weights]
        fig = new_figure(1.6 * len(sizes) + 1.0, 0.75 * max(sizes) + 1.2)
        ax = fig.add_axes((0.02, 0.02, 0.96, 0.96))
    _draw_network(ax, view, resolution)
    return ax.figure
