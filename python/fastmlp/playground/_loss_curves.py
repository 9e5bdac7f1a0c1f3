"""`loss_curves`: training and held-out loss after each epoch, of one run or several compared.

A run is a `Playground` (its losses from epoch 0, before training, as the playground's chart), or
a fit history: the `callbacks.History` that `model.fit` returns (Keras's too), or its `.history`
dict. A history holds a value per epoch under "loss" (training) and, when there was held-out
data, "val_loss" (Keras's validation) or "test_loss" (a Playground's); the metrics ("accuracy",
"val_accuracy", ...) can go to a second panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastmlp._validation import warn_user
from fastmlp.playground._draw import experiment_network, new_figure
from fastmlp.playground.experiment import Playground

__all__ = ["loss_curves"]

# prefixes of held-out curves, and what the picture calls them
HELD_OUT = {"test_": "test", "val_": "validation"}
NOT_METRICS = ("lr", "learning_rate")  # what schedules and ReduceLROnPlateau log
EXPECTED = (
    "loss_curves expects a Playground, a fit history (the History that model.fit returns, or "
    "its .history dict with 'loss' and, optionally, 'val_loss' or 'test_loss'), or a dict "
    "{label: one of those} to compare runs"
)


@dataclass
class Run:
    """One run's curves, each drawn against `epochs`."""

    epochs: np.ndarray
    curves: dict[str, list[float]]
    playground: bool  # a Playground's (the playground's chart shows the loss only)

    def held_out(self, metric: str) -> list[tuple[str, str]]:
        """[(key, "test" or "validation")] of the held-out curves of `metric` this run has."""
        return [(p + metric, name) for p, name in HELD_OUT.items() if p + metric in self.curves]

    def metrics(self) -> list[str]:
        """The metrics besides the loss, in the order logged: ["accuracy", ...]."""
        names: list[str] = []
        for key in self.curves:
            prefix = next((p for p in HELD_OUT if key.startswith(p)), "")
            name = key[len(prefix) :]
            if name not in ("loss", *NOT_METRICS, *names):
                names.append(name)
        return names


def _is_history(item: Any) -> bool:
    return isinstance(item, Mapping) and (
        "loss" in item or any(isinstance(v, (list, tuple, np.ndarray)) for v in item.values())
    )


def _run_of(item: Any, label: str = "") -> Run:
    """A Run from a Playground, a History (anything with a `.history` dict) or a history dict."""
    if isinstance(item, Playground):
        history, before = item.history, item.before_training
        if before is not None:  # from epoch 0: the losses before training
            history = {key: [before[key], *values] for key, values in item.history.items()}
        first = 0 if before is not None else 1
        return Run(np.arange(first, first + len(history["loss"])), dict(history), True)
    logged_epochs = None
    if not isinstance(item, Mapping) and isinstance(getattr(item, "history", None), Mapping):
        logged_epochs = getattr(item, "epoch", None)  # Keras's History: 0-based epoch numbers
        item = item.history
    if not isinstance(item, Mapping):
        raise TypeError(f"{EXPECTED}; got {type(item).__name__}{label}")
    if "loss" not in item:
        raise ValueError(
            f"loss_curves needs the training loss under 'loss' (as model.fit logs it); the "
            f"history{label} has {', '.join(map(repr, item)) or 'no curves'}"
        )
    n = len(item["loss"])
    epochs = np.arange(1, n + 1)  # a history holds the values after each epoch, as Keras's
    if logged_epochs is not None and len(logged_epochs) == n:
        epochs = np.asarray(logged_epochs) + 1  # (fit with initial_epoch starts later)
    curves = {}
    for key, values in item.items():
        if len(values) == n:
            curves[str(key)] = [float(v) for v in values]
        else:  # e.g. validation_freq > 1: we cannot know which epochs it was logged after
            warn_user(
                f"loss_curves leaves out {key!r}{label}: {len(values)} values for the "
                f"{n} epochs of 'loss'"
            )
    return Run(epochs, curves, False)


def _runs_of(source: Any) -> dict[str, Run]:
    if isinstance(source, Playground) or _is_history(source) or not isinstance(source, Mapping):
        return {"": _run_of(source)}
    if not source:
        raise ValueError(f"{EXPECTED}; got an empty dict")
    return {str(name): _run_of(item, f" of {name!r}") for name, item in source.items()}


def _draw_panel(ax: Any, runs: Mapping[str, Run], metrics: list[str], ylabel: str) -> None:
    """The curves of `metrics` of every run: one run in the playground's colours (held-out black,
    training grey; a second metric or held-out curve dashed), several runs one colour each (held-
    out solid, training dashed)."""
    single = len(runs) == 1
    playground_colours = single and len(metrics) == 1
    for i, (name, run) in enumerate(runs.items()):
        for m, metric in enumerate(metrics):
            what = "" if metric == "loss" and not single else f" {metric}"
            lines = [(key, f"{kind}{what}", False) for key, kind in run.held_out(metric)]
            lines.append((metric, f"training{what}", True))
            for j, (key, label, training) in enumerate(lines):
                if playground_colours:
                    color, dashed = ("#777777" if training else "black"), j > 0 and not training
                else:
                    color, dashed = f"C{(m if single else i) % 10}", training
                values = np.asarray(run.curves[key], dtype=float)
                ax.plot(
                    run.epochs,
                    values,
                    color=color,
                    linestyle="--" if dashed else "-",
                    linewidth=1 if dashed and not single else 1.5,
                    label=label if single else f"{name}: {label}",
                    # (a point with no finite neighbour draws no line: a marker shows it)
                    marker="o" if np.isfinite(values).sum() < 2 else None,
                    markersize=3,
                )
    _mark_divergence(ax, runs, metrics)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    ax.set_xlabel("epoch", fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    if ylabel == "loss":
        ax.set_ylim(bottom=0)
        # small losses (regression) as 1.6 x 1e-4, not as wide tick labels that push "loss" out
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 4))
        ax.yaxis.get_offset_text().set_fontsize(8)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8 if single else 7, frameon=False)


def _mark_divergence(ax: Any, runs: Mapping[str, Run], metrics: list[str]) -> None:
    """Where a curve stops being finite (training diverged), a line and a note that say so; the
    axes keep the epochs' range (without finite values matplotlib would draw around 0)."""
    epochs = np.concatenate([run.epochs for run in runs.values()])
    if epochs.size > 1:
        pad = 0.03 * (epochs.max() - epochs.min())
        ax.set_xlim(epochs.min() - pad, epochs.max() + pad)
    first = None
    for run in runs.values():
        for key in (k for metric in metrics for k in (metric, *dict(run.held_out(metric)))):
            bad = ~np.isfinite(np.asarray(run.curves.get(key, []), dtype=float))
            if bad.any():
                at = run.epochs[int(np.argmax(bad))]
                first = at if first is None else min(first, at)
    if first is None:
        return
    if not any(np.isfinite(line.get_ydata()).any() for line in ax.get_lines()):
        ax.set_ylim(0, 1)
    ax.axvline(first, color="#c0392b", linestyle=":", linewidth=1.2)
    ax.text(
        0.02,
        0.95,
        f"not finite from epoch {first}:\ntraining diverged (learning rate too large?)",
        transform=ax.transAxes,
        fontsize=8,
        color="#c0392b",
        va="top",
    )


def _last_values(run: Run, metric: str) -> str:
    """ "test loss 0.0123, training loss 0.0101": the last value of each curve of `metric`."""
    if not run.curves[metric]:
        return "not trained yet"
    named = [*run.held_out(metric), (metric, "training")]
    return ", ".join(f"{kind} {metric} {run.curves[key][-1]:.3g}" for key, kind in named)


def loss_curves(
    source: Any, *, title: str | None = None, metrics: bool | None = None, ax: Any = None
) -> Any:
    """Training and held-out loss after each epoch, and optionally the metrics beside them.

    A Playground's curves start at epoch 0, with the losses before training, as the playground's
    chart does; a fit history holds the values after each epoch and starts at epoch 1 (or after
    `initial_epoch`, for a History).

    Args:
        source: A `Playground`; a fit history: the `History` that `model.fit` returns, or its
            `.history` dict with "loss" and optionally "val_loss" (Keras) or "test_loss" (a
            Playground's); or a dict {label: Playground or history} to compare several runs
            (held-out loss solid, training dashed, a colour per run).
        title: Defaults to None: the last losses (for a Playground, after its dataset, network
            and epoch), or nothing when comparing.
        metrics: Draw the metrics of one run (accuracy, val_accuracy, ...) in a second panel to
            the right of the loss, in a new 10 x 3.5 inch figure. Defaults to None: yes for a fit
            history with metrics, no for a Playground (the playground's chart shows the loss).
        ax: Draw the loss into this matplotlib Axes (no metric panel) instead of a new 6 x 3.5
            inch figure. Defaults to None.

    Returns:
        The matplotlib Figure (600 x 350 pixels when new; 1000 x 350 with the metric panel).

    Raises:
        TypeError: for a source of another kind.
        ValueError: for a history without "loss", or `metrics=True` that cannot be drawn.
    """
    runs = _runs_of(source)
    run = next(iter(runs.values()))
    names = run.metrics() if len(runs) == 1 else []
    if metrics and (len(runs) > 1 or ax is not None or not names):
        why = (
            "one run only"
            if len(runs) > 1
            else "a new figure (leave ax out)"
            if ax is not None
            else "metric curves, and this history has none besides the loss"
        )
        raise ValueError(f"metrics=True draws a second panel, which needs {why}")
    second = bool(names) and ax is None and (metrics or (metrics is None and not run.playground))
    if ax is None:
        fig = new_figure(10 if second else 6, 3.5)
        ax = fig.add_axes((0.07, 0.15, 0.41, 0.72) if second else (0.12, 0.15, 0.84, 0.72))
    _draw_panel(ax, runs, ["loss"], "loss")
    if title is None and len(runs) == 1:
        title = _last_values(run, "loss")
        if isinstance(source, Playground):  # a picture of its own: say what was trained
            title = f"{experiment_network(source)}, epoch {source.epoch}\n{title}"
    if title:
        ax.set_title(title, fontsize=10)
    if second:
        right = ax.figure.add_axes((0.57, 0.15, 0.41, 0.72))
        _draw_panel(right, runs, names, names[0] if len(names) == 1 else "metric")
        if len(names) == 1:
            right.set_title(_last_values(run, names[0]), fontsize=10)
    return ax.figure
