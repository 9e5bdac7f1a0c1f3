"""The TensorFlow Neural Network Playground, offline: experiments, feature crosses and pictures.

The pictures need matplotlib (``pip install "fastmlp[plot]"``); everything else works without it.

Example:
    >>> from fastmlp.playground import Playground, decision_boundary
    >>> pg = Playground("circle", features=["x1^2", "x2^2"], hidden=(), seed=0).fit(100)
    >>> decision_boundary(pg).savefig("circle.png")

From a shell: ``python -m fastmlp.playground --dataset spiral --hidden 8,8 --out spiral.png``.
"""

from __future__ import annotations

from fastmlp.playground._draw import figure
from fastmlp.playground._network import dense_layers, layer_outputs
from fastmlp.playground.experiment import MODES, Playground
from fastmlp.playground.features import FEATURES, canonical_feature, features
from fastmlp.playground.plots import (
    decision_boundary,
    loss_curves,
    network_diagram,
    neuron_grid,
    overview,
)

__all__ = [
    "FEATURES",
    "MODES",
    "Playground",
    "canonical_feature",
    "decision_boundary",
    "dense_layers",
    "features",
    "figure",
    "layer_outputs",
    "loss_curves",
    "network_diagram",
    "neuron_grid",
    "overview",
]
