"""Pictures of playground experiments, drawn like the TensorFlow Playground draws them.

Every function returns a `matplotlib.figure.Figure` made without pyplot (no global state, no
window; it renders with the Agg canvas), so `fig.savefig("out.png")` works anywhere. Colours are
the playground's: orange (#f59322) for -1, light grey (#e8eaeb) for 0, blue (#0877bd) for +1,
with heatmaps at the playground's opacity (160/255) over white.

A picture's source is a `Playground`, or a fitted `fastmlp.Sequential` on 2-D points together
with its data (`train=(x, y)`, `test=(x, y)`) and, if its inputs are feature crosses, their names
(`features=[...]`). A Sequential with an output unit per class (Dense(3, "softmax"), ...) is
drawn a colour per class instead: see `decision_boundary` and `_classes`.

This module draws the decision boundary and the overview; `neuron_grid` and `network_diagram`
are drawn in _neuron_maps.py and `loss_curves` in _loss_curves.py, all public from here.

matplotlib is the optional extra ``plot``: ``pip install "fastmlp[plot]"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fastmlp.playground._classes import (
    class_handles,
    class_heatmap,
    class_rgb,
    draw_class_key,
)
from fastmlp.playground._draw import (
    BLUE,
    DOMAIN,
    GREY,
    HEATMAP_ALPHA,
    ORANGE,
    View,
    colors_of,
    experiment_details,
    experiment_headline,
    grid_points,
    new_figure,
    view_of,
)
from fastmlp.playground._loss_curves import loss_curves
from fastmlp.playground._neuron_maps import network_diagram, neuron_grid
from fastmlp.playground.experiment import Playground

__all__ = [
    "BLUE",
    "DOMAIN",
    "GREY",
    "ORANGE",
    "decision_boundary",
    "loss_curves",
    "network_diagram",
    "neuron_grid",
    "overview",
]


# -- the decision boundary -------------------------------------------------------------------
OUTLINE = "#555555"  # around the white edge of regression's training points


def _regression(view: View) -> bool:
    """Real targets, not ±1 labels: most are near 0 and as pale as the heatmap around them."""
    labels = [data[1] for data in (view.train, view.test) if data is not None]
    return view.classes is None and any(np.any(np.abs(y) != 1) for y in labels)


def _draw_points(ax: Any, view: View, data: Any, edge: str, size: float) -> None:
    if data is None:
        return
    x, y = data
    if edge == "white" and _regression(view):
        # a dark ring outside the white one, so that pale points show on a pale heatmap
        ax.scatter(x[:, 0], x[:, 1], s=size, c="none", edgecolors=OUTLINE, linewidths=2.2, zorder=3)
    # a class view's labels are class numbers: each in its class's colour
    colours = colors_of(y) if view.classes is None else class_rgb(len(view.classes))[y]
    ax.scatter(x[:, 0], x[:, 1], s=size, c=colours, edgecolors=edge, linewidths=0.8, zorder=3)


def _draw_data_key(
    where: Any,
    view: View,
    show_test: bool,
    classes: bool = False,
    data: bool = True,
    **placement: Any,
) -> None:
    """A key that says which points are training data (white edge; for regression, in a dark
    ring) and which test data (black) (with `data`), and which colour is which class (with
    `classes`, for a class view).

    `where` is an Axes or a Figure; `placement` goes to its `legend`.
    """
    from matplotlib.lines import Line2D

    kinds = [("training data", "white", view.train), ("test data", "black", view.test)]
    handles: list[Any] = class_handles(view.classes) if classes and view.classes else []
    labels = [handle.get_label() for handle in handles]
    for label, edge, points in kinds[: 1 + show_test]:
        if points is None or not data:
            continue
        marker = Line2D([], [], ls="", marker="o", ms=5, mfc="#8a8a8a", mec=edge, mew=0.8)
        if edge == "white" and _regression(view):  # its outline under it, as _draw_points
            outline = Line2D([], [], ls="", marker="o", ms=5, mfc="none", mec=OUTLINE, mew=2.2)
            marker = (outline, marker)
        handles.append(marker)
        labels.append(label)
    if handles:
        key = where.legend(handles, labels, fontsize=7, handletextpad=0.2, **placement)
        key.get_frame().set_facecolor("#cfd2d4")  # grey, so that the white edges show
        key.get_frame().set_linewidth(0)


def _draw_boundary(
    ax: Any, view: View, discretize: bool, show_test: bool, resolution: int, size: float
) -> None:
    points, _ = grid_points(resolution)
    if view.classes is not None:  # the argmax class, shaded by its probability
        image = class_heatmap(view.predict(points), discretize)
        image = image.reshape(resolution, resolution, 3)
    else:
        values = view.predict(points).reshape(resolution, resolution)
        if discretize:
            values = np.where(values >= 0, 1.0, -1.0)
        image = colors_of(values, HEATMAP_ALPHA)
    ax.imshow(
        image,
        origin="lower",
        extent=(*DOMAIN, *DOMAIN),
        interpolation="nearest" if discretize else "bilinear",
        zorder=1,
    )
    _draw_points(ax, view, view.train, "white", size)
    if show_test:
        _draw_points(ax, view, view.test, "black", size)
    ax.set_xlim(*DOMAIN)
    ax.set_ylim(*DOMAIN)
    ax.set_aspect("equal")
    ax.set_xticks(range(-6, 7, 2))
    ax.set_yticks(range(-6, 7, 2))
    ax.tick_params(labelsize=8, length=3, pad=2)
    ax.set_xlabel("$X_1$", fontsize=9, labelpad=1)
    ax.set_ylabel("$X_2$", fontsize=9, labelpad=1)


def _draw_legend(ax: Any, view: View, discretize: bool = False) -> None:
    """The colour scale of the network's output, orange (-1) to blue (+1), in the view's words;
    for a class view, a stripe per class (see _classes.draw_class_key)."""
    label, ticks = view.scale
    if view.classes is not None:
        draw_class_key(ax, view.classes, label, discretize)
        return
    ax.imshow(
        colors_of(np.linspace(-1, 1, 101)[None, :], HEATMAP_ALPHA),
        extent=(-1, 1, 0, 1),
        aspect="auto",
    )
    ax.set_yticks([])
    ax.set_xticks([-1, 0, 1], ticks)
    ax.tick_params(labelsize=8, length=2, pad=1)
    ax.set_title(label, fontsize=8, pad=2)


def decision_boundary(
    source: Any,
    *,
    train: Any = None,
    test: Any = None,
    features: Sequence[str] | None = None,
    discretize: bool = False,
    show_test: bool = True,
    resolution: int = 100,
    title: str | None = None,
    key: bool = True,
    class_names: Sequence[str] | None = None,
    ax: Any = None,
) -> Any:
    """The network's output over [-6, 6]² as an orange-white-blue heatmap, with the data on top.

    Training points are edged in white, test points in black, as in the playground.

    A model with an output unit per class (Dense(k) with k >= 3, softmax or logits; or 2 units
    without softmax) is drawn one region per class: each point of the plane in the colour of the
    class the model predicts (the argmax), shaded from grey (probability 1/k, no preference) to
    the full colour (probability 1), with a key of the classes' colours under the plane (inside
    `ax`: a legend); its points in their classes' colours, from class numbers (n,) or one-hot
    rows (n, k). Class 0 is orange and class 1 blue, as labels 0 and 1 of binary pictures.

    Args:
        source: A `Playground`, or a fitted `Sequential` on points of the plane.
        train: (x, y) training points, for a Sequential source. Defaults to None.
        test: (x, y) test points, for a Sequential source. Defaults to None.
        features: Names of the model's input features, for a Sequential source. Defaults to None
            (x1, x2).
        discretize: Colour only the sign of the output (the playground's "discretize output"),
            or only the predicted class. Defaults to False.
        show_test: Draw the test points. Defaults to True.
        resolution: Grid points per axis. Defaults to 100 (the playground's density).
        title: Defaults to None: the dataset, epoch, test accuracy and losses (for a Sequential:
            its name, layer sizes, output and accuracy on the points given).
        key: Say which points are training and which test data (under the plane, or inside
            `ax`). Defaults to True.
        class_names: Names of the classes of a model with an output unit per class, one per
            unit, for its key. Defaults to None ("class 0", "class 1", ...).
        ax: Draw into this matplotlib Axes instead of a new 5 x 5 inch figure (with a colour
            scale under the plane). Defaults to None.

    Returns:
        The matplotlib Figure (500 x 500 pixels when new; 0.11 inch higher for each class beyond
        the first of a model with an output unit per class).
    """
    view = view_of(source, train, test, features, class_names)
    if ax is None:
        # (inches) the colour scale is a stripe 0.11 high; a class key, one per class
        stripes = 1 if view.classes is None else len(view.classes)
        height = 5 + 0.11 * (stripes - 1)
        fig = new_figure(5, height)
        ax = fig.add_axes((0.12, (5 * 0.15 + height - 5) / height, 0.8, 3.7 / height))
        key_ax = fig.add_axes((0.12, 0.175 / height, 0.4, 0.11 * stripes / height))
        _draw_legend(key_ax, view, discretize)
        if key:
            _draw_data_key(fig, view, show_test, loc="lower right", bbox_to_anchor=(0.92, 0.0))
    elif key or view.classes is not None:  # (no colour scale in an Axes: a class view's colours
        # are explained in the key all the same)
        _draw_data_key(ax, view, show_test, classes=True, data=key, loc="best", framealpha=0.85)
    _draw_boundary(ax, view, discretize, show_test, resolution, size=16)
    ax.set_title(view.summary if title is None else title, fontsize=10)
    return ax.figure


# -- everything at once -----------------------------------------------------------------------
def overview(playground: Playground, *, discretize: bool = False) -> Any:
    """The playground's screen: network diagram, decision boundary and loss curves side by side.

    The title says what was trained (dataset, network, activation, optimizer with its settings,
    learning rate, mode) and, on a second line, the other settings in which runs differ: noise,
    regularization, batch size, train ratio, initialisation and seed.

    Args:
        playground: A `Playground`.
        discretize: Colour only the sign of the output. Defaults to False.

    Returns:
        The matplotlib Figure, 13 x 5.5 inches (1300 x 550 pixels).
    """
    if not isinstance(playground, Playground):
        raise TypeError(f"overview expects a Playground, got {type(playground).__name__}")
    fig = new_figure(13, 5.5)
    network_diagram(playground, ax=fig.add_axes((0.01, 0.04, 0.47, 0.86)))
    plane = fig.add_axes((0.5, 0.16, 0.22, 0.7))
    decision_boundary(playground, discretize=discretize, key=False, ax=plane)
    view = view_of(playground)
    _draw_legend(fig.add_axes((0.5, 0.05, 0.1, 0.02)), view)
    _draw_data_key(fig, view, True, loc="lower left", bbox_to_anchor=(0.63, 0.0))
    loss_curves(playground, title="loss", ax=fig.add_axes((0.78, 0.3, 0.2, 0.45)))
    # two lines: what was trained, then every other setting in which runs differ
    fig.suptitle(experiment_headline(playground), fontsize=11, y=0.985)
    fig.text(0.5, 0.925, experiment_details(playground), ha="center", fontsize=9, color="#444444")
    return fig
