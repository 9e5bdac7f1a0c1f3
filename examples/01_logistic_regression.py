"""01: logistic regression on the playground's gauss data: a network without hidden layers.

One linear unit scores a point, s = w1·x1 + w2·x2 + b, and is trained with the logistic loss
log(1 + exp(-y·s)) on labels y = ±1; P(y = +1 | x) = σ(s). The boundary s = 0 is a straight line.

Run:  python examples/01_logistic_regression.py [--epochs 100] [--out DIR]
Saves 01_logistic_regression.png in DIR (default: the current folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import fastmlp as fm
import numpy as np
from fastmlp.datasets import playground as data
from fastmlp.playground import decision_boundary


def main(epochs: int = 100, out: str | Path = ".", seed: int = 0) -> dict[str, float]:
    x, y = data.gauss(n_samples=500, noise=0.0, seed=seed)  # labels ±1
    (x_train, y_train), (x_test, y_test) = data.train_test_split(x, y, ratio=0.5, seed=seed)

    model = fm.Sequential([fm.layers.Input(shape=(2,)), fm.layers.Dense(1)], seed=seed)
    model.compile(
        optimizer=fm.optimizers.SGD(learning_rate=0.03), loss="logistic", metrics=["accuracy"]
    )
    model.fit(x_train, y_train, batch_size=10, epochs=epochs, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)

    kernel, bias = model.get_weights()
    w1, w2, b = float(kernel[0, 0]), float(kernel[1, 0]), float(bias[0])
    print(f"learned weights: w1 = {w1:+.3f}   w2 = {w2:+.3f}   b = {b:+.3f}")
    print(f"decision boundary: {w1:+.3f}·x1 {w2:+.3f}·x2 {b:+.3f} = 0")
    print(f"test loss {loss:.4f}   test accuracy {accuracy:.3f}")
    p = 1 / (1 + np.exp(-model.predict(np.array([[2.0, 2.0], [0.0, 0.0]]), verbose=0)[:, 0]))
    print(f"P(blue | (2, 2)) = {p[0]:.3f}   P(blue | (0, 0)) = {p[1]:.3f}")

    fig = decision_boundary(
        model,
        train=(x_train, y_train),
        test=(x_test, y_test),
        title=f"Logistic regression: w = ({w1:.2f}, {w2:.2f}), b = {b:.2f}",
    )
    ax = fig.axes[0]
    line = np.linspace(-6, 6, 2)  # the boundary w1·x1 + w2·x2 + b = 0, drawn over the heatmap
    if abs(w2) > 1e-12:
        ax.plot(line, -(w1 * line + b) / w2, color="black", linewidth=1, linestyle="--", zorder=4)
    path = Path(out) / "01_logistic_regression.png"
    fig.savefig(path)
    print(f"saved {path}")
    return {"w1": w1, "w2": w2, "b": b, "test_loss": loss, "test_accuracy": accuracy}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default=".", help="folder for the picture")
    args = parser.parse_args()
    main(args.epochs, args.out)
