"""02: logistic regression on noisy gauss data (noise 0.15), three runs: are the weights the same?

Each run draws new data and new initial weights. The loss of logistic regression is convex, so
every run finds the single best line for its data: the weights differ only as much as the data
do, and the boundaries point the same way (across the diagonal, w1 ≈ w2).

Run:  python examples/02_logistic_regression_noise.py [--epochs 100] [--out DIR]
Saves 02_logistic_regression_noise.png in DIR (default: the current folder).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import fastmlp as fm
from fastmlp.datasets import playground as data
from fastmlp.playground import decision_boundary, figure

RUNS = 3


def train_once(seed: int, epochs: int, noise: float) -> tuple[fm.Sequential, tuple, tuple]:
    x, y = data.gauss(n_samples=500, noise=noise, seed=seed)
    train, test = data.train_test_split(x, y, ratio=0.5, seed=seed)
    model = fm.Sequential([fm.layers.Input(shape=(2,)), fm.layers.Dense(1)], seed=seed)
    model.compile(
        optimizer=fm.optimizers.SGD(learning_rate=0.03), loss="logistic", metrics=["accuracy"]
    )
    model.fit(*train, batch_size=10, epochs=epochs, verbose=0)
    return model, train, test


def main(epochs: int = 100, out: str | Path = ".", noise: float = 0.15) -> list[dict[str, float]]:
    fig = figure(figsize=(5 * RUNS, 5.4), dpi=100)
    rows = []
    print(f"{'run':>3}  {'w1':>7}  {'w2':>7}  {'b':>7}  {'angle of w':>10}  {'test acc':>8}")
    for run in range(RUNS):
        model, train, test = train_once(seed=run, epochs=epochs, noise=noise)
        kernel, bias = model.get_weights()
        w1, w2, b = float(kernel[0, 0]), float(kernel[1, 0]), float(bias[0])
        angle = math.degrees(math.atan2(w2, w1))  # 45° = exactly across the diagonal
        accuracy = model.evaluate(*test, verbose=0)[1]
        rows.append({"w1": w1, "w2": w2, "b": b, "angle": angle, "test_accuracy": accuracy})
        print(f"{run + 1:>3}  {w1:+7.3f}  {w2:+7.3f}  {b:+7.3f}  {angle:9.1f}°  {accuracy:8.3f}")
        ax = fig.add_axes((0.03 + run / RUNS, 0.06, 0.9 / RUNS, 0.76))
        decision_boundary(
            model,
            train=train,
            test=test,
            ax=ax,
            title=f"run {run + 1}: w = ({w1:.2f}, {w2:.2f}), b = {b:.2f}\ntest accuracy {accuracy:.3f}",
        )
    spread = max(r["angle"] for r in rows) - min(r["angle"] for r in rows)
    print(f"the directions of w differ by at most {spread:.1f}°")
    fig.suptitle(f"Logistic regression on gauss with noise {noise}: three runs", fontsize=12)
    path = Path(out) / "02_logistic_regression_noise.png"
    fig.savefig(path)
    print(f"saved {path}")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default=".", help="folder for the picture")
    args = parser.parse_args()
    main(args.epochs, args.out)
