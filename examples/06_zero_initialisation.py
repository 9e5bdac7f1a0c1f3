"""06: why weights must not start at zero: symmetry.

Three runs of the same 2-4-4-1 network on gauss (two clouds a straight line separates):
- random initial weights U(-0.5, 0.5) (the playground's): it learns;
- all weights and biases 0 with tanh: every hidden neuron outputs tanh(0) = 0, so no gradient
  reaches any weight and only the output bias moves: nothing is learned;
- all 0 with sigmoid: neurons output σ(0) = 1/2, so gradients flow and the network learns (after a
  long flat start: about 500 epochs at chance), but the neurons of a layer start equal, get equal
  gradients and stay equal: each layer acts as a single neuron. One line is all gauss needs; on the
  circle, which needs several different neurons, the same network learns nothing.

Run:  python examples/06_zero_initialisation.py [--epochs 1000] [--out DIR]
Saves 06_zero_init.png (the three boundaries) and 06_zero_init_neurons.png (the sigmoid run's
neurons: four equal ones in each layer) in DIR (default: the current folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from fastmlp.playground import Playground, decision_boundary, figure, neuron_grid

RUNS = {  # title: (initial weights, activation)
    "random U(-0.5, 0.5), tanh": ("playground", "tanh"),
    "zeros, tanh": ("zeros", "tanh"),
    "zeros, sigmoid": ("zeros", "sigmoid"),
}


def distinct_neurons(kernel: np.ndarray) -> int:
    """How many different neurons a layer has: columns of its kernel that differ."""
    return len(np.unique(np.round(kernel.T, 6), axis=0))


def main(epochs: int = 1000, out: str | Path = ".", seed: int = 0) -> dict[str, float]:
    fig = figure(figsize=(15, 5.4), dpi=100)
    runs, results = {}, {}
    for i, (title, (init, activation)) in enumerate(RUNS.items()):
        pg = Playground("gauss", hidden=(4, 4), activation=activation, init=init, seed=seed)
        pg.fit(epochs)
        runs[title] = pg
        results[title] = accuracy = pg.history["test_accuracy"][-1]
        distinct = [distinct_neurons(kernel) for kernel, _ in pg.weights[:-1]]
        print(
            f"{title:<26} test accuracy {accuracy:.3f}   distinct neurons per hidden layer: {distinct}"
        )
        ax = fig.add_axes((0.03 + i / 3, 0.06, 0.28, 0.76))
        decision_boundary(pg, ax=ax, title=f"{title}\ntest accuracy {accuracy:.3f}")
    fig.suptitle(f"Gauss, network 2-4-4-1: initial weights ({epochs} epochs)", fontsize=13)
    path = Path(out) / "06_zero_init.png"
    fig.savefig(path)
    print(f"saved {path}")

    kernels = runs["zeros, tanh"].weights
    print("zeros, tanh after training: every weight still 0:", all(not k.any() for k, _ in kernels))
    path = Path(out) / "06_zero_init_neurons.png"
    title = f"zeros, sigmoid, {epochs} epochs: the neurons of a layer all compute the same"
    neuron_grid(runs["zeros, sigmoid"], title=title).savefig(path)
    print(f"saved {path}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--out", default=".", help="folder for the pictures")
    args = parser.parse_args()
    main(args.epochs, args.out)
