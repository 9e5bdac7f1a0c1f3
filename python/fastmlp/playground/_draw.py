"""Shared pieces of the playground's pictures: colours, figures, grids and picture sources.

matplotlib is imported only inside these functions, so importing this module needs none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import fastmlp as fm
from fastmlp.playground._network import dense_layers, layer_outputs
from fastmlp.playground.experiment import Playground
from fastmlp.playground.features import canonical_feature
from fastmlp.playground.features import features as feature_matrix

ORANGE, GREY, BLUE = "#f59322", "#e8eaeb", "#0877bd"
DOMAIN = (-6.0, 6.0)  # the playground's view of the plane, on both axes
HEATMAP_ALPHA = 160 / 255  # heatmap.ts draws its canvas with alpha 160
DPI = 100
TEX = {
    "x1": "$X_1$",
    "x2": "$X_2$",
    "x1^2": "$X_1^2$",
    "x2^2": "$X_2^2$",
    "x1*x2": "$X_1X_2$",
    "sin(x1)": r"$\sin(X_1)$",
    "sin(x2)": r"$\sin(X_2)$",
}


def matplotlib_parts() -> Any:
    """The matplotlib names we need, or an ImportError that says how to install them."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib import colors, figure, patches
    except ImportError as err:
        raise ImportError(
            'fastmlp.playground pictures need matplotlib: pip install "fastmlp[plot]"'
        ) from err
    return colors, figure, patches


def figure(**kwargs: Any) -> Any:
    """A blank matplotlib `Figure`, drawn off screen (no GUI window), to put several pictures on
    one: give its axes to a picture's `ax=`, then `savefig`.

    Args:
        **kwargs: matplotlib's `Figure` arguments (figsize, dpi, ...).

    Raises:
        ImportError: without matplotlib, saying how to install it.

    Example:
        >>> fig = figure(figsize=(10, 5))
        >>> decision_boundary(pg, ax=fig.add_subplot(1, 2, 1))
    """
    _, figure_module, _ = matplotlib_parts()
    return figure_module.Figure(**kwargs)


def colormap() -> Any:
    """The playground's colour scale: orange (-1), grey (0), blue (+1), on [0, 1]."""
    colors, _, _ = matplotlib_parts()
    return colors.LinearSegmentedColormap.from_list("playground", [ORANGE, GREY, BLUE])


def colors_of(values: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Colours of values in [-1, 1] (clamped), blended with white at `alpha`: shape (..., 3)."""
    rgb = colormap()((np.clip(values, -1, 1) + 1) / 2)[..., :3]
    return alpha * rgb + (1 - alpha)


def new_figure(width: float, height: float) -> Any:
    """A pyplot-free Figure of width x height inches at DPI dots per inch."""
    _, figure, _ = matplotlib_parts()
    return figure.Figure(figsize=(width, height), dpi=DPI)


def grid_points(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Points of a resolution x resolution grid over DOMAIN², row 0 at the bottom."""
    axis = np.linspace(*DOMAIN, resolution)
    gx, gy = np.meshgrid(axis, axis)
    return np.stack([gx.ravel(), gy.ravel()], axis=1), axis


# -- sources: a Playground or a fitted Sequential --------------------------------------------
# What the colour scale's -1 ... 1 means, in the words of its label and ticks
SIGNED = ("network output", ("-1", "0", "1"))
PROBABILITY = ("network output: probability of blue", ("0", "0.5", "1"))
LOGISTIC = ("σ(network output): probability of blue", ("0", "0.5", "1"))


@dataclass
class View:
    predict: Callable[[np.ndarray], np.ndarray]  # points (n, 2) -> output in [-1, 1] (n,)
    neurons: Callable[[np.ndarray], list[np.ndarray]]  # points -> [features, hidden..., output]
    weights: list[tuple[np.ndarray, np.ndarray]]
    feature_names: list[str]
    train: tuple[np.ndarray, np.ndarray] | None
    test: tuple[np.ndarray, np.ndarray] | None
    title: str  # short: the dataset and epoch, or the model's name
    summary: str  # the decision boundary's title: what was trained and how well
    scale: tuple[str, tuple[str, str, str]] = SIGNED  # the colour scale's label and ticks
    # A model with an output unit per class (see _classes): the classes' names, and then predict
    # and the last of neurons give each class's probability (n, classes), the labels of train
    # and test are class numbers, and `scale` is (the key's label, ()).
    classes: list[str] | None = None
    # points -> probability of each output unit (n, units), for every model whose output units
    # are classes (a binary softmax over 2 units too): what the network diagram's output nodes show
    unit_probabilities: Callable[[np.ndarray], np.ndarray] | None = None


def signed_labels(y: Any) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 2:
        y = y[:, 1]  # one-hot rows of a softmax over 2 units: 1 for class 1 (blue)
    y = y.reshape(-1)
    return np.where(y > 0, 1.0, -1.0) if set(np.unique(y).tolist()) <= {0.0, 1.0} else y


def class_probabilities(model: Any) -> tuple[Callable[[np.ndarray], np.ndarray], str] | None:
    """For a model with 2 or more output units: maps its output to a probability per unit, and
    says what the probability of the predicted class is; None for a single output unit.

    A softmax or sigmoid output is a probability already; any other output (linear: logits) is
    taken through a softmax.
    """
    if dense_layers(model)[-1][0].units < 2:
        return None
    activation = output_activation(model)
    if activation == "softmax":
        return (lambda out: out), "probability of the predicted class"
    if activation == "sigmoid":
        return (lambda out: out), "sigmoid output of the predicted class"
    softmax = fm.activations.softmax
    return (lambda out: softmax(out)), "softmax probability of the predicted class"


def output_activation(model: Any) -> str:
    """The name of the activation of the model's last Dense layer (or of the Activation after it)."""
    last, activations = dense_layers(model)[-1]
    return (activations or [last.activation])[-1].__name__


def model_output_scale(model: Any) -> tuple[Callable[[np.ndarray], np.ndarray], Any]:
    """Maps a model's output (n, k) to the playground's [-1, 1] scale, from its last activation;
    and what that scale means (SIGNED, PROBABILITY or LOGISTIC)."""
    last, _ = dense_layers(model)[-1]
    activation = output_activation(model)
    loss = type(model.loss).__name__ if model.loss is not None else ""
    if activation == "sigmoid":
        return (lambda out: 2 * out[:, 0] - 1), PROBABILITY  # probability of the positive class
    if activation == "softmax" and last.units == 2:
        return (lambda out: 2 * out[:, 1] - 1), PROBABILITY
    if activation == "linear" and loss == "LogisticLoss":
        return (lambda out: np.tanh(out[:, 0] / 2)), LOGISTIC  # 2·σ(score) - 1
    return (lambda out: out[:, 0]), SIGNED


def _kernel_and_bias(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    weights = layer.get_weights()
    return weights[0], (weights[1] if len(weights) > 1 else np.zeros(weights[0].shape[1]))


def _playground_summary(pg: Playground) -> str:
    title = f"{pg.dataset}, epoch {pg.epoch}"
    if pg.history["loss"]:
        history = pg.history
        if pg.classification:
            title += f", test accuracy {history['test_accuracy'][-1]:.3f}"
        title += (
            f"\ntest loss {history['test_loss'][-1]:.3g}, training loss {history['loss'][-1]:.3g}"
        )
    return title


def experiment_network(pg: Playground) -> str:
    """ "spiral: network 2-8-8-1, tanh": the dataset, the layer sizes and the activation."""
    net = "-".join(str(n) for n in (len(pg.feature_names), *pg.hidden, 1))
    return f"{pg.dataset}: network {net}, {pg.activation}"


def experiment_headline(pg: Playground) -> str:
    """What was trained, and how: "spiral: network 2-8-8-1, tanh, sgd, learning rate 0.03, ..."."""
    return (
        f"{experiment_network(pg)}, {pg.optimizer_name}, learning rate "
        f"{pg.learning_rate:g}, {pg.mode} mode"
    )


def experiment_details(pg: Playground) -> str:
    """The other settings in which two runs can differ: "noise 0.1, L2 rate 0.003, batch size 10,
    train ratio 0.5, playground init, seed 0"."""
    parts = [] if pg.dataset == "custom" else [f"noise {pg.noise:g}"]  # custom data: not ours
    if pg.regularization is not None and pg.regularization_rate > 0:
        parts.append(f"{pg.regularization.upper()} rate {pg.regularization_rate:g}")
    else:
        parts.append("no regularization")
    parts += [f"batch size {pg.batch_size}", f"train ratio {pg.ratio:g}", f"{pg.init} init"]
    parts.append(f"seed {pg.seed}")
    if pg.data_seed != pg.seed:
        parts.append(f"data seed {pg.data_seed}")
    return ", ".join(parts)


def model_summary(model: Any, view: View) -> str:
    """The model's name, its layer sizes and output, and its accuracy on the data it is shown."""
    net = "-".join(
        str(n) for n in [len(view.feature_names)] + [k.shape[1] for k, _ in view.weights]
    )
    title = f"{model.name}: network {net}, {output_activation(model)} output"
    scores = []
    for name, data in (("training", view.train), ("test", view.test)):
        if data is None or not len(data[1]):
            continue
        if view.classes is not None:  # the argmax class against the class numbers
            accuracy = np.mean(np.argmax(view.predict(data[0]), axis=1) == data[1])
        elif set(np.unique(data[1]).tolist()) <= {-1.0, 1.0}:
            accuracy = np.mean((view.predict(data[0]) > 0) == (data[1] > 0))
        else:
            continue
        scores.append(f"{name} accuracy {accuracy:.3f}")
    return title + ("\n" + ", ".join(scores) if scores else "")


_BINARY_CLASS_NAMES = (
    "class_names names the classes of a model with an output unit per class (Dense(k) with "
    "k >= 3, or 2 units without softmax); "
)


def view_of(
    source: Any,
    train: Any = None,
    test: Any = None,
    features: Any = None,
    class_names: Any = None,
) -> View:
    """What the pictures draw of `source`, a Playground or a fitted Sequential on the plane.

    A Sequential with 2 or more output units that is not a binary softmax over 2 units has an
    output unit per class: a class view (see View.classes and _classes).
    """
    from fastmlp.playground import _classes  # (it imports this module)

    if isinstance(source, Playground):
        if class_names is not None:
            raise ValueError(_BINARY_CLASS_NAMES + "a Playground is binary")
        modern = source.classification and source.mode == "modern"
        return View(
            predict=source.predict,
            neurons=source.neuron_outputs,
            weights=source.weights,
            feature_names=source.feature_names,
            train=(source.x_train, source.y_train),
            test=(source.x_test, source.y_test),
            title=f"{source.dataset}, epoch {source.epoch}",
            summary=_playground_summary(source),
            scale=PROBABILITY if modern else SIGNED,
        )
    model = source
    if not hasattr(model, "layers") or not hasattr(model, "get_weights"):
        raise TypeError(
            f"expected a Playground or a fastmlp.Sequential, got {type(source).__name__}"
        )
    if not model.built:
        raise ValueError(
            "cannot draw a model that is not built: fit it first, or begin it with "
            "Input(shape=(2,)) (the pictures' points are (x1, x2))"
        )
    names = [canonical_feature(n) for n in (features or ("x1", "x2"))]
    inputs = math.prod(model.input_shape[1:])
    if inputs != len(names):
        raise ValueError(
            f"cannot draw this model on the plane: it takes {inputs} input features, the "
            f"picture gives it {len(names)} ({', '.join(names)}); features=[...] names what "
            "each input is, from the playground's x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2)"
        )
    weights = [_kernel_and_bias(layer) for layer, _ in dense_layers(model)]
    units = weights[-1][0].shape[1]
    probabilities = class_probabilities(model)
    if probabilities is not None and not (units == 2 and output_activation(model) == "softmax"):
        return _classes.class_view(model, names, weights, probabilities, train, test, class_names)
    if class_names is not None:
        raise ValueError(
            _BINARY_CLASS_NAMES
            + f"this model's output is binary ({units} unit"
            + "s" * (units > 1)
            + ")"
        )
    to_signed, scale = model_output_scale(model)

    def neurons(points: np.ndarray) -> list[np.ndarray]:
        outputs = layer_outputs(model, feature_matrix(points, names))
        outputs[-1] = to_signed(outputs[-1])[:, None]
        return outputs

    def pair(data: Any) -> tuple[np.ndarray, np.ndarray] | None:
        return None if data is None else (np.asarray(data[0]), signed_labels(data[1]))

    def softmax_units(points: np.ndarray) -> np.ndarray:
        return layer_outputs(model, feature_matrix(points, names))[-1]

    view = View(
        predict=lambda points: neurons(points)[-1][:, 0],
        neurons=neurons,
        weights=weights,
        feature_names=names,
        train=pair(train),
        test=pair(test),
        title=model.name,
        summary=model.name,
        scale=scale,
        # a softmax over 2 units: what the network diagram's two output nodes show
        unit_probabilities=softmax_units if probabilities is not None else None,
    )
    view.summary = model_summary(model, view)
    return view
