"""The lecture's MNIST model on the GPU, then the same weights on the CPU: same predictions.

Run:  python examples/08_gpu_mnist.py [--epochs 5] [--batch-size 32] [--device gpu]
Needs `pip install ".[gpu]"` and an NVIDIA GPU; without them it says what is missing and trains on
the CPU instead. `--device numpy` runs the GPU engine's code with NumPy (slow; no GPU needed).
"""

from __future__ import annotations

import argparse
import time

import fastmlp as fm
import numpy as np


def main(epochs: int = 5, batch_size: int = 32, device: str = "gpu") -> float:
    if device != "cpu" and not device.startswith("numpy") and not fm.backend.gpu.is_available():
        print(f"no GPU: {fm.backend.gpu.unavailable_reason()}\ntraining on the CPU instead")
        device = "cpu"
    (x_train, y_train), (x_test, y_test) = fm.datasets.mnist.load_data()
    x_train, x_test = x_train / 255.0, x_test / 255.0

    model = fm.Sequential(
        [
            fm.layers.Flatten(input_shape=(28, 28)),
            fm.layers.Dense(128, activation="relu"),
            fm.layers.Dense(64, activation="relu"),
            fm.layers.Dense(10, activation="softmax"),
        ],
        device=device,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=2)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(
        f"{model.device}: test accuracy {accuracy:.4f} after {epochs} epochs ({seconds / epochs:.3f} s/epoch)"
    )

    on_device = model.predict(x_test, verbose=0)
    on_cpu = model.to("cpu").predict(x_test, verbose=0)  # the weights move with the model
    print(
        f"cpu: same weights, largest difference in the predicted probabilities {np.abs(on_cpu - on_device).max():.2e}"
    )
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="gpu")
    args = parser.parse_args()
    main(args.epochs, args.batch_size, args.device)
