"""09: optimizers compared on the lecture's MNIST MLP: SGD, SGD with momentum, RMSprop, Adam, Adadelta.

The same 784-128-64-10 network, from the same initial weights, trained by each optimizer with
Keras's default settings, except Adadelta's learning rate: Keras's default 0.001 barely moves the
weights in a few epochs, so it runs with 1.0, the rate of Zeiler's paper (2012), as well.

- SGD takes steps of a fixed size along the gradient: slow where the loss surface is flat;
- momentum keeps a running sum of the steps: faster along directions the gradient keeps;
- RMSprop and Adam divide each weight's step by the size of its recent gradients, so every weight
  moves at a similar pace (Adam adds momentum and a bias correction);
- Adadelta also scales by past steps, so that its steps come out in the weights' own units.

Run:  python examples/09_optimizers.py [--epochs 3] [--out DIR]
Saves 09_optimizers.png (training loss every 50 steps, test accuracy after each epoch) in DIR
(default: the current folder). The MNIST files are found as in example 07.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import fastmlp as fm
import numpy as np
from fastmlp.playground import figure

OPTIMIZERS = {
    "SGD (0.01)": lambda: fm.optimizers.SGD(),
    "SGD + momentum 0.9": lambda: fm.optimizers.SGD(momentum=0.9),
    "RMSprop (0.001)": lambda: fm.optimizers.RMSprop(),
    "Adam (0.001)": lambda: fm.optimizers.Adam(),
    "Adadelta (0.001)": lambda: fm.optimizers.Adadelta(),
    "Adadelta (1.0)": lambda: fm.optimizers.Adadelta(learning_rate=1.0),
}
EVERY = 50  # steps between two points of a loss curve


class LossEvery(fm.callbacks.Callback):
    """The mean training loss of each run of EVERY steps."""

    def __init__(self) -> None:
        super().__init__()
        self.losses: list[float] = []
        self._sum, self._count, self._seen = 0.0, 0, 0

    def on_train_batch_end(self, batch, logs=None):
        # logs["loss"] is the running mean of the epoch so far: recover this batch's loss
        mean = logs["loss"]
        total = mean * (batch + 1)
        self._sum += total - self._seen
        self._seen = total
        self._count += 1
        if self._count == EVERY:
            self.losses.append(self._sum / EVERY)
            self._sum, self._count = 0.0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._seen = 0.0


def main(epochs: int = 3, out: str | Path = ".", samples: int = 60000) -> dict[str, float]:
    fig = figure(figsize=(13, 5), dpi=100)  # (first: without matplotlib, fail before training)
    (x_train, y_train), (x_test, y_test) = fm.datasets.mnist.load_data()
    x_train, x_test = x_train[:samples] / 255.0, x_test / 255.0
    y_train = y_train[:samples]
    first = None
    curves, accuracies, results = {}, {}, {}
    for name, make in OPTIMIZERS.items():
        model = fm.Sequential(
            [
                fm.layers.Flatten(input_shape=(28, 28)),
                fm.layers.Dense(128, activation="relu"),
                fm.layers.Dense(64, activation="relu"),
                fm.layers.Dense(10, activation="softmax"),
            ],
            seed=0,
        )
        if first is None:
            first = model.get_weights()
        model.set_weights(first)  # (the seed gives the same weights; this says so)
        model.compile(make(), "sparse_categorical_crossentropy", metrics=["accuracy"])
        losses = LossEvery()
        test = []
        for _ in range(epochs):
            model.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0, callbacks=[losses])
            test.append(model.evaluate(x_test, y_test, verbose=0)[1])
        curves[name], accuracies[name] = losses.losses, test
        results[name] = test[-1]
        print(f"{name:<20} test accuracy after each epoch: {' '.join(f'{a:.4f}' for a in test)}")

    ax = fig.add_axes((0.06, 0.12, 0.55, 0.74))
    for name, losses in curves.items():
        ax.plot(np.arange(1, len(losses) + 1) * EVERY, losses, label=name, linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("training step (batches of 32)")
    ax.set_ylabel(f"training loss (mean of {EVERY} steps)")
    ax.set_title("training loss")
    ax.legend(fontsize=9)
    ax = fig.add_axes((0.69, 0.12, 0.29, 0.74))
    for name, test in accuracies.items():
        ax.plot(np.arange(1, epochs + 1), test, marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_xticks(range(1, epochs + 1))
    ax.set_title("test accuracy")
    fig.suptitle("MNIST 784-128-64-10: which optimizer?", fontsize=13)
    path = Path(out) / "09_optimizers.png"
    fig.savefig(path)
    print(f"saved {path}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default=".", help="folder for the picture")
    args = parser.parse_args()
    main(args.epochs, args.out)
