"""03: the circle cannot be split by a line; a hidden layer, or better features, can.

1. No hidden layer on x1, x2: one straight boundary, accuracy near chance.
2. One hidden neuron on x1, x2: still one line.
3. One hidden neuron on x1², x2²: a line in (x1², x2²) is a circle in (x1, x2): it works.
4. Four hidden neurons on x1, x2: the network builds its own features (four lines that make a
   closed region) and works too.

Run:  python examples/03_circle_hidden_neurons.py [--epochs 200] [--out DIR]
Saves 03_circle.png (the four boundaries) and 03_circle_neurons.png (what the four neurons of
network 4 compute) in DIR (default: the current folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fastmlp.playground import Playground, decision_boundary, figure, neuron_grid

EXPERIMENTS = [  # (title, features, hidden layers)
    ("no hidden layer, x1, x2", ["x1", "x2"], ()),
    ("1 hidden neuron, x1, x2", ["x1", "x2"], (1,)),
    ("1 hidden neuron, x1², x2²", ["x1^2", "x2^2"], (1,)),
    ("4 hidden neurons, x1, x2", ["x1", "x2"], (4,)),
]


def main(epochs: int = 200, out: str | Path = ".", seed: int = 0) -> dict[str, float]:
    fig = figure(figsize=(18, 5.2), dpi=100)
    results = {}
    for i, (title, features, hidden) in enumerate(EXPERIMENTS):
        pg = Playground("circle", features=features, hidden=hidden, noise=0.0, seed=seed)
        pg.fit(epochs)
        accuracy = pg.history["test_accuracy"][-1]
        results[title] = accuracy
        print(
            f"{title:<28} test accuracy {accuracy:.3f}   test loss {pg.history['test_loss'][-1]:.3f}"
        )
        ax = fig.add_axes((0.02 + i * 0.245, 0.06, 0.22, 0.76))
        decision_boundary(pg, ax=ax, title=f"{title}\ntest accuracy {accuracy:.3f}")
    fig.suptitle(f"Circle: what a linear model cannot do ({epochs} epochs)", fontsize=13)
    path = Path(out) / "03_circle.png"
    fig.savefig(path)
    print(f"saved {path}")

    path = Path(out) / "03_circle_neurons.png"
    neuron_grid(pg).savefig(path)  # the last experiment: four neurons, four lines
    print(f"saved {path}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out", default=".", help="folder for the pictures")
    args = parser.parse_args()
    main(args.epochs, args.out)
