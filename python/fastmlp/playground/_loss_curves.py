"""`loss_curves`: training and test loss after each epoch, of one run or several compared."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastmlp.playground._draw import new_figure
from fastmlp.playground.experiment import Playground

__all__ = ["loss_curves"]


def _draw_curves(
    ax: Any, histories: Mapping[str, tuple[int, Mapping[str, Sequence[float]]]]
) -> None:
    single = len(histories) == 1
    for i, (name, (first, history)) in enumerate(histories.items()):
        epochs = np.arange(first, first + len(history["loss"]))
        if single:  # the playground's colours: test loss black, training loss grey
            ax.plot(epochs, history["test_loss"], color="black", label="test loss")
            ax.plot(epochs, history["loss"], color="#777777", label="training loss")
        else:
            color = f"C{i % 10}"
            ax.plot(epochs, history["test_loss"], color=color, label=f"{name}: test")
            ax.plot(
                epochs,
                history["loss"],
                color=color,
                linestyle="--",
                linewidth=1,
                label=f"{name}: training",
            )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    ax.set_xlabel("epoch", fontsize=9)
    ax.set_ylabel("loss", fontsize=9)
    ax.set_ylim(bottom=0)
    # small losses (regression) as 1.6 x 1e-4, not as wide tick labels that push "loss" out
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 4))
    ax.yaxis.get_offset_text().set_fontsize(8)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7 if not single else 8, frameon=False)


def _curves_of(item: Any) -> tuple[int, Mapping[str, Sequence[float]]]:
    """(first epoch, history): a Playground's from epoch 0, the losses before training."""
    if isinstance(item, Playground):
        if item.before_training is None:
            return 1, item.history
        return 0, {key: [item.before_training[key], *item.history[key]] for key in item.history}
    if not isinstance(item, Mapping) or not {"loss", "test_loss"} <= set(item):
        raise TypeError(
            "loss_curves expects a Playground, a history with 'loss' and 'test_loss', or "
            f"a mapping of them; got {type(item).__name__}"
        )
    return 1, item  # a history dict: one entry after each epoch, as Keras's


def loss_curves(source: Any, *, title: str | None = None, ax: Any = None) -> Any:
    """Training and test loss after each epoch.

    A Playground's curves start at epoch 0, with the losses before training, as the playground's
    chart does; a history dict holds the losses after each epoch and starts at epoch 1.

    Args:
        source: A `Playground`, a history dict {"loss": [...], "test_loss": [...]}, or a mapping
            {label: Playground or history} to compare several runs (test solid, training dashed).
        title: Defaults to None: the last losses, or nothing when comparing.
        ax: Draw into this matplotlib Axes instead of a new 6 x 3.5 inch figure. Defaults to None.

    Returns:
        The matplotlib Figure (600 x 350 pixels when new).
    """
    if isinstance(source, Playground) or (isinstance(source, Mapping) and "loss" in source):
        histories = {"": _curves_of(source)}
    elif isinstance(source, Mapping):
        histories = {str(name): _curves_of(item) for name, item in source.items()}
    else:
        _curves_of(source)  # raises with the message
        histories = {}
    if ax is None:
        fig = new_figure(6, 3.5)
        ax = fig.add_axes((0.12, 0.15, 0.84, 0.72))
    _draw_curves(ax, histories)
    if title is None and len(histories) == 1:
        _, history = next(iter(histories.values()))
        title = (
            f"test loss {history['test_loss'][-1]:.3g}, training loss {history['loss'][-1]:.3g}"
            if history["loss"]
            else "not trained yet"
        )
    if title:
        ax.set_title(title, fontsize=10)
    return ax.figure
