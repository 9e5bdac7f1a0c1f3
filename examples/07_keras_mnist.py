"""The lecture's Keras MLP on MNIST: 784-128-64-10, summary(), 5 epochs of Adam, evaluate, predict.

Run:  python examples/07_keras_mnist.py [--epochs 5]
The MNIST files are found through $FASTMLP_DATA (a folder holding mnist/*.gz), the cache, or downloaded.
"""

from __future__ import annotations

import argparse
import time

import fastmlp as fm
import numpy as np


def main(epochs: int = 5, batch_size: int = 32, verbose: int | str = "auto") -> float:
    (x_train, y_train), (x_test, y_test) = fm.datasets.mnist.load_data()
    x_train, x_test = x_train / 255.0, x_test / 255.0  # pixels to [0, 1]

    model = fm.Sequential(
        [
            fm.layers.Flatten(input_shape=(28, 28)),
            fm.layers.Dense(128, activation="relu"),
            fm.layers.Dense(64, activation="relu"),
            fm.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=fm.optimizers.Adam(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.summary()

    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_split=0.1,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start

    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=verbose)
    probs = model.predict(x_test[:5], verbose=0)
    print(
        f"\ntest accuracy: {test_acc:.4f}   test loss: {test_loss:.4f}   ({seconds:.1f} s for {epochs} epochs)"
    )
    print("first five predictions:", np.argmax(probs, axis=1), " labels:", y_test[:5])
    return test_acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    main(args.epochs, args.batch_size)
