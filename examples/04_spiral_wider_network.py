"""04: the spiral needs a bigger network: the playground's default 4-2 net against 8-8-8.

Both see only x1 and x2 with noise 0.1 and train with the playground's rule (½·MSE, SGD at 0.03,
batches of 10). The small net draws a few smooth regions; the wider, deeper one follows the arms.

Run:  python examples/04_spiral_wider_network.py [--epochs 1000] [--out DIR]
Saves 04_spiral.png (both boundaries and their loss curves) and 04_spiral_overview.png (the
wide network, the playground's screen) in DIR (default: the current folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fastmlp.playground import Playground, decision_boundary, figure, loss_curves, overview

NETWORKS = {"4-2 (the default)": (4, 2), "8-8-8": (8, 8, 8)}


def main(epochs: int = 1000, out: str | Path = ".", seed: int = 1) -> dict[str, float]:
    fig = figure(figsize=(16, 5.2), dpi=100)
    runs, results = {}, {}
    for i, (name, hidden) in enumerate(NETWORKS.items()):
        pg = Playground("spiral", hidden=hidden, activation="tanh", noise=0.1, seed=seed)
        pg.fit(epochs)
        runs[name] = pg
        results[name] = accuracy = pg.history["test_accuracy"][-1]
        print(
            f"network {name:<18} test accuracy {accuracy:.3f}   test loss {pg.history['test_loss'][-1]:.3f}"
        )
        ax = fig.add_axes((0.02 + i * 0.3, 0.07, 0.27, 0.76))
        decision_boundary(pg, ax=ax, title=f"network {name}\ntest accuracy {accuracy:.3f}")
    loss_curves(runs, ax=fig.add_axes((0.64, 0.15, 0.34, 0.62)), title="loss")
    fig.suptitle(f"Spiral on x1, x2: a wider, deeper network ({epochs} epochs)", fontsize=13)
    path = Path(out) / "04_spiral.png"
    fig.savefig(path)
    print(f"saved {path}")

    path = Path(out) / "04_spiral_overview.png"
    overview(runs["8-8-8"]).savefig(path)
    print(f"saved {path}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--out", default=".", help="folder for the pictures")
    args = parser.parse_args()
    main(args.epochs, args.out)
