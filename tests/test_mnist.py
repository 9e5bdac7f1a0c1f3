"""The lecture's MNIST model on the real data, read from the folder named by $FASTMLP_DATA.

Skipped, with the reason, when FASTMLP_DATA is unset or does not hold the four IDX files; the
files are read from that folder only (nothing is downloaded).
"""

from __future__ import annotations

import os
from pathlib import Path

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, optimizers

FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def data_folder(name: str) -> Path:
    """$FASTMLP_DATA/<name>, or skip the test saying what is missing."""
    root = os.environ.get("FASTMLP_DATA")
    if not root:
        pytest.skip(
            "FASTMLP_DATA is not set: point it at a folder holding mnist/ and fashion-mnist/"
        )
    folder = Path(root) / name
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        pytest.skip(f"FASTMLP_DATA={root}: {folder} lacks {', '.join(missing)}")
    return folder


def lecture_model() -> fm.Sequential:
    model = fm.Sequential(
        [
            layers.Flatten(input_shape=(28, 28)),
            layers.Dense(128, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    model.compile(
        optimizer=optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def test_mnist_loads_with_keras_shapes_and_dtypes():
    (x_train, y_train), (x_test, y_test) = fm.datasets.mnist.load_data(path=data_folder("mnist"))
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_train.max() == 255 and x_train.min() == 0
    assert np.array_equal(
        np.bincount(y_test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )


def test_lecture_model_reaches_97_percent_on_mnist():
    (x_train, y_train), (x_test, y_test) = fm.datasets.mnist.load_data(path=data_folder("mnist"))
    x_train, x_test = x_train / 255.0, x_test / 255.0
    model = lecture_model()
    history = model.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    assert accuracy == pytest.approx(np.mean(predicted == y_test))
    assert accuracy >= 0.97
    assert loss < 0.12
    assert history.history["accuracy"][-1] > 0.98
    assert np.all(np.diff(history.history["loss"]) < 0)


def test_fashion_mnist_two_epochs_beat_80_percent():
    folder = data_folder("fashion-mnist")
    (x_train, y_train), (x_test, y_test) = fm.datasets.fashion_mnist.load_data(path=folder)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.array_equal(np.bincount(y_test), [1000] * 10)
    model = lecture_model()
    model.fit(x_train / 255.0, y_train, epochs=2, batch_size=32, verbose=0)
    predicted = model.predict(x_test / 255.0, verbose=0).argmax(axis=1)
    assert np.mean(predicted == y_test) > 0.80
