"""05: activation functions on a deep network: linear, sigmoid, ReLU and tanh compared.

The same four hidden layers of six neurons learn the circle with each activation:
- linear: layers of linear units compose to one linear map, so the boundary is a line;
- sigmoid: its slope is at most 1/4, so the gradient shrinks layer after layer (vanishing
  gradients) and the deep net hardly learns in this time;
- ReLU and tanh: gradients get through, the circle is found.

Run:  python examples/05_activations_deep_net.py [--epochs 300] [--out DIR]
Saves 05_activations.png (the four boundaries and the four loss curves) in DIR (default: the
current folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fastmlp.playground import Playground, decision_boundary, figure, loss_curves

ACTIVATIONS = ("linear", "sigmoid", "relu", "tanh")
HIDDEN = (6, 6, 6, 6)


def main(epochs: int = 300, out: str | Path = ".", seed: int = 0) -> dict[str, float]:
    fig = figure(figsize=(16, 8.6), dpi=100)
    runs, results = {}, {}
    for i, activation in enumerate(ACTIVATIONS):
        pg = Playground("circle", hidden=HIDDEN, activation=activation, seed=seed)
        pg.fit(epochs)
        runs[activation] = pg
        results[activation] = accuracy = pg.history["test_accuracy"][-1]
        print(
            f"{activation:<8} test accuracy {accuracy:.3f}   test loss {pg.history['test_loss'][-1]:.3f}"
        )
        ax = fig.add_axes((0.03 + i * 0.245, 0.5, 0.21, 0.39))
        decision_boundary(pg, ax=ax, title=f"{activation}\ntest accuracy {accuracy:.3f}")
    loss_curves(
        runs,
        ax=fig.add_axes((0.08, 0.06, 0.86, 0.33)),
        title="test (solid) and training (dashed) loss",
    )
    net = "-".join(str(n) for n in (2, *HIDDEN, 1))
    fig.suptitle(f"Circle, network {net}: which activation? ({epochs} epochs)", fontsize=13)
    path = Path(out) / "05_activations.png"
    fig.savefig(path)
    print(f"saved {path}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--out", default=".", help="folder for the picture")
    args = parser.parse_args()
    main(args.epochs, args.out)
