"""Keras 3 on TensorFlow: the lecture's code as it is, one `fit(epochs=1)` call per epoch."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

# Each new model traces its own predict function; TensorFlow warns about "retracing" from the
# fifth on, which is expected here (one model per batch size) and says nothing about the timing.
tf.get_logger().setLevel("ERROR")


class Framework:
    """The benchmark's interface (see worker.py) over keras.Sequential."""

    label = "Keras / TensorFlow fit"

    def versions(self) -> dict[str, str]:
        return {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "backend": keras.backend.backend(),
        }

    def threads(self) -> Any:
        n = tf.config.threading.get_intra_op_parallelism_threads()
        return n or f"default ({os.cpu_count()} cores)"

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.ascontiguousarray(x, np.float32), y

    def _model(self, sizes: list[int], hidden: str, output: str, l2: float) -> keras.Sequential:
        reg = keras.regularizers.L2(l2) if l2 else None
        layers: list[Any] = [keras.Input(shape=(sizes[0],))]
        for k, units in enumerate(sizes[1:]):
            act = output if k == len(sizes) - 2 else hidden
            layers.append(keras.layers.Dense(units, activation=act, kernel_regularizer=reg))
        return keras.Sequential(layers)

    def lecture_model(self, l2: float, seed: int) -> keras.Sequential:
        keras.utils.set_random_seed(seed)
        model = self._model([784, 128, 64, 10], "relu", "softmax", l2)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        return model

    def playground_model(self, seed: int) -> keras.Sequential:
        keras.utils.set_random_seed(seed)
        model = self._model([2, 8, 8, 1], "tanh", "tanh", 0.0)
        model.compile(optimizer=keras.optimizers.SGD(0.03), loss="mse")
        return model

    def train_epoch(self, model: keras.Sequential, data: Any, batch_size: int) -> None:
        model.fit(data[0], data[1], batch_size=batch_size, epochs=1, verbose=0)

    def train_playground(self, model: keras.Sequential, data: Any, epochs: int) -> None:
        model.fit(data[0], data[1], batch_size=10, epochs=epochs, verbose=0)

    def weights(self, model: keras.Sequential) -> list[np.ndarray]:
        return model.get_weights()

    def predict(self, model: keras.Sequential, x: Any) -> np.ndarray:
        # One batch of all samples, as the other frameworks' single call (Keras's default is 32).
        return model.predict(x[0], batch_size=x[0].shape[0], verbose=0)
