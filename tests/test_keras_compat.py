"""tf.keras-style code runs with only its imports changed: `import fastmlp as tf`, `from fastmlp import keras`.

The test bodies are written as a lecture's tf.keras code would be; only the import lines differ.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import fastmlp as tf
import numpy as np
import pytest
from fastmlp import keras


def digits_like(n: int = 300, seed: int = 0):
    """Small 8x8 "images" of 4 classes: each class lights a different quadrant, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.uniform(0, 0.4, size=(n, 8, 8))
    for label, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        x[y == label, r : r + 4, c : c + 4] += 0.6
    return x.astype(np.float32), y.astype(np.uint8)


def test_tf_keras_names_resolve_to_fastmlp_objects():
    assert tf.keras.Sequential is tf.Sequential
    assert tf.keras.models.Sequential is tf.Sequential
    assert tf.optimizers.Adam is tf.keras.optimizers.Adam
    assert tf.keras.layers.Dense is tf.layers.Dense
    assert tf.keras.Input is tf.layers.Input
    assert keras.Sequential is tf.Sequential
    assert keras.layers is tf.layers and keras.losses is tf.losses
    assert keras.activations is tf.activations
    assert tf.nn.relu is tf.keras.activations.relu


def test_tf_keras_sequential_with_tf_nn_activations_trains():
    x, y = digits_like()
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Flatten(input_shape=(8, 8)),
            tf.keras.layers.Dense(32, activation=tf.nn.relu),
            tf.keras.layers.Dense(4, activation=tf.nn.softmax),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=10, verbose=0)
    _, test_acc = model.evaluate(x, y, verbose=0)
    assert test_acc > 0.95
    assert model.get_config()["layers"][2]["config"]["activation"] == "relu"


@pytest.mark.parametrize(
    ("activation", "reference"),
    [
        (tf.nn.sigmoid, lambda z: 1 / (1 + np.exp(-z))),
        (tf.nn.tanh, np.tanh),
        (tf.nn.relu, lambda z: np.maximum(z, 0)),
        (tf.keras.activations.sigmoid, lambda z: 1 / (1 + np.exp(-z))),
        (keras.activations.tanh, np.tanh),
    ],
)
def test_tf_nn_functions_work_as_layer_activations(activation, reference):
    model = tf.keras.Sequential(
        [tf.keras.layers.Dense(5, activation=activation, input_shape=(3,))], dtype="float64"
    )
    x = np.random.default_rng(0).normal(size=(20, 3))
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(
        model.predict(x, verbose=0), reference(x @ kernel + bias), atol=1e-12
    )


def test_tf_nn_softmax_as_output_activation():
    model = tf.keras.Sequential(
        [tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(4, activation=tf.nn.softmax)],
        dtype="float64",
    )
    x = np.random.default_rng(1).normal(size=(10, 3))
    kernel, bias = model.get_weights()
    z = x @ kernel + bias
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-12)


def test_sparse_categorical_crossentropy_from_logits_with_a_linear_last_layer():
    x, y = digits_like(seed=1)
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Flatten(input_shape=(8, 8)),
            tf.keras.layers.Dense(32, activation="relu"),
            tf.keras.layers.Dense(4),
        ]
    )
    model.compile(
        optimizer=tf.optimizers.Adam(0.01),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=10, verbose=0)
    logits = model.predict(x, verbose=0)
    loss, acc = model.evaluate(x, y, verbose=0)
    z = logits.astype(np.float64)
    log_probs = z - z.max(axis=1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-np.mean(log_probs[np.arange(len(y)), y]), rel=1e-4, abs=1e-6)
    assert acc == pytest.approx(np.mean(logits.argmax(axis=1) == y))
    assert acc > 0.95
    # the TF tutorial's last step: probabilities from the logits
    probs = tf.nn.softmax(logits)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_to_categorical_of_booleans_is_that_of_zeros_and_ones():
    y = np.array([True, False, True])
    expected = np.array([[0, 1], [1, 0], [0, 1]], dtype=np.float32)
    np.testing.assert_array_equal(tf.keras.utils.to_categorical(y), expected)
    np.testing.assert_array_equal(tf.keras.utils.to_categorical(y, num_classes=3)[:, :2], expected)


def test_to_categorical_with_categorical_crossentropy():
    x, y = digits_like(seed=2)
    y_onehot = tf.keras.utils.to_categorical(y, num_classes=4)
    assert y_onehot.shape == (300, 4)
    np.testing.assert_array_equal(y_onehot.argmax(axis=1), y)
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Flatten(input_shape=(8, 8)),
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(4, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.01),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x, y_onehot, epochs=10, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.95
    probs = model.predict(x, verbose=0)
    loss, acc = model.evaluate(x, y_onehot, verbose=0)
    expected = -np.mean(np.sum(y_onehot * np.log(np.clip(probs, 1e-7, 1)), axis=1))
    assert loss == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert acc == pytest.approx(np.mean(probs.argmax(axis=1) == y))


def test_early_stopping_callback_from_tf_keras():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 5)).astype(np.float32)
    y = rng.integers(0, 2, 80)  # nothing to learn: val_loss stops improving
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Dense(32, activation="relu", input_shape=(5,)),
            tf.keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    callback = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=3)
    history = model.fit(x, y, epochs=200, validation_split=0.25, callbacks=[callback], verbose=0)
    n = len(history.history["loss"])
    assert n < 200
    best = int(np.argmin(history.history["val_loss"]))
    assert n == best + 4  # three epochs of patience after the best one


def test_tf_keras_datasets_mnist_load_data():
    root = os.environ.get("FASTMLP_DATA")
    if not root:
        pytest.skip("FASTMLP_DATA is not set: point it at a folder holding mnist/")
    folder = Path(root) / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"FASTMLP_DATA={root}: no MNIST IDX files in {folder}")
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and y_test.shape == (10000,)
    x_train, x_test = x_train / 255.0, x_test / 255.0
    model = tf.keras.models.Sequential(
        [
            tf.keras.layers.Flatten(input_shape=(28, 28)),
            tf.keras.layers.Dense(64, activation="relu"),
            tf.keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_train[:5000], y_train[:5000], epochs=1, verbose=0)
    _, acc = model.evaluate(x_test[:2000], y_test[:2000], verbose=0)
    assert acc > 0.8


def test_tensorflow_beginner_quickstart(capsys):
    """TensorFlow's "TensorFlow 2 quickstart for beginners", line by line, on 10,000 training
    images (only the import changed, and .numpy() dropped: outputs are NumPy arrays)."""
    root = os.environ.get("FASTMLP_DATA")
    if not root or not (Path(root) / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("FASTMLP_DATA is not set to a folder holding mnist/")
    mnist = tf.keras.datasets.mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train, x_test = x_train / 255.0, x_test / 255.0
    x_train, y_train = x_train[:10000], y_train[:10000]
    model = tf.keras.models.Sequential(
        [
            tf.keras.layers.Flatten(input_shape=(28, 28)),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dropout(0.2),
            tf.keras.layers.Dense(10),
        ]
    )
    predictions = model(x_train[:1])
    assert predictions.shape == (1, 10)
    probabilities = tf.nn.softmax(predictions)
    np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-6)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    untrained = loss_fn(y_train[:1], predictions)
    assert untrained == pytest.approx(-np.log(probabilities[0, y_train[0]]), rel=1e-5)
    model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5)
    _, accuracy = model.evaluate(x_test, y_test, verbose=2)
    assert accuracy > 0.93
    probability_model = tf.keras.Sequential([model, tf.keras.layers.Softmax()])
    out = probability_model(x_test[:5])
    logits = model.predict(x_test[:5], verbose=0)
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(out, expected / expected.sum(1, keepdims=True), rtol=1e-5)
    assert "Epoch 5/5" in capsys.readouterr().out


def test_from_fastmlp_import_keras_style():
    x, y = digits_like(seed=4)
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation=keras.activations.relu),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    assert list(history.history) == ["loss", "sparse_categorical_accuracy"]
    assert history.history["sparse_categorical_accuracy"][-1] > 0.9
    loss = model.evaluate(x, y, verbose=0)[0]
    probs = model.predict(x, verbose=0)
    expected = np.mean(keras.losses.sparse_categorical_crossentropy(y, probs))
    assert loss == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_keras_add_style_with_named_loss_function():
    x, y = digits_like(seed=5)
    model = keras.Sequential()
    model.add(keras.layers.Flatten(input_shape=(8, 8)))
    model.add(keras.layers.Dense(16))
    model.add(keras.layers.Activation("tanh"))
    model.add(keras.layers.Dense(4, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
        loss=keras.losses.sparse_categorical_crossentropy,
        metrics=["acc"],
    )
    history = model.fit(x, y, epochs=8, verbose=0)
    assert history.history["acc"][-1] > 0.9


def test_a_typical_lecture_script_end_to_end(capsys):
    # --- what a lecture's notebook cell does, on small synthetic digits ---
    (x_train, y_train), (x_test, y_test) = digits_like(400, seed=6), digits_like(100, seed=7)
    x_train, x_test = x_train / 1.0, x_test / 1.0

    model = tf.keras.models.Sequential(
        [
            tf.keras.layers.Flatten(input_shape=(8, 8)),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dropout(0.2),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=5, validation_split=0.1)
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=2)
    predictions = model.predict(x_test)
    predicted_labels = np.argmax(predictions, axis=1)
    first = np.argmax(predictions[0])
    # --- checks ---
    out = capsys.readouterr().out
    assert "Total params: 9,610 (37.54 KB)" in out  # 64*128 + 128 + 128*10 + 10
    assert re.search(r"^Epoch 5/5$", out, re.MULTILINE)
    assert re.search(
        r"^12/12 ━{20} .* - val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}$", out, re.MULTILINE
    )
    evaluate_line = re.search(r"^4/4 - \d+s - \d+(us|ms|s)/step - .*$", out, re.MULTILINE)
    assert evaluate_line, out
    assert f"accuracy: {test_acc:.4f}" in evaluate_line.group()
    assert f"loss: {test_loss:.4f}" in evaluate_line.group()
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert predictions.shape == (100, 10)
    assert test_acc == pytest.approx(np.mean(predicted_labels == y_test))
    assert test_acc > 0.9
    assert first == predicted_labels[0]


def test_evaluate_verbose_2_line_lists_metrics_in_keras_order(capsys):
    x, y = digits_like(64, seed=8)
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Flatten(input_shape=(8, 8)),
            tf.keras.layers.Dense(4, activation="softmax"),
        ],
        seed=8,  # an untrained model: some seeds score 0, which Keras prints as 0.0000e+00
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, y, verbose=2)
    assert acc > 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(
        rf"2/2 - \d+s - \d+(us|ms|s)/step - accuracy: {acc:.4f} - loss: {loss:.4f}", line
    ), line


KERAS_MODEL_SCRIPT = """
import json
import numpy as np
keras.config.set_floatx("float64")
x = np.array(json.loads(sys.stdin.read()))
model = keras.Sequential([
    keras.Input((6,)),
    keras.layers.Normalization(mean=[1.0] * 6, variance=[4.0] * 6),
    keras.layers.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3)),
    keras.layers.BatchNormalization(),
    keras.layers.Dropout(0.2),
    keras.layers.Dense(5),
    keras.layers.LeakyReLU(negative_slope=0.125),  # (TensorFlow's op rounds it to float32)
    keras.layers.Dense(3, activation="softmax", kernel_initializer="he_normal"),
], name="from_keras")
model.compile("adam", "sparse_categorical_crossentropy")
model.fit(x, np.arange(len(x)) % 3, epochs=2, verbose=0)  # (moving statistics move)
print(json.dumps({"json": model.to_json(), "weights": [w.tolist() for w in model.get_weights()],
                  "predict": model.predict(x, verbose=0).tolist()}))
"""


def test_a_keras_models_json_and_weights_load_and_predict_as_keras():
    # A Keras 3 model's architecture (to_json) with its dtype policies, batch_shape, new
    # initializer keys and off-by-default arguments, then its weights (a Normalization given
    # its statistics has none in either): the same predictions, float64.
    import json

    from keras_run import run_keras

    x = np.random.default_rng(0).normal(size=(16, 6))
    keras_side = json.loads(run_keras(KERAS_MODEL_SCRIPT, stdin=json.dumps(x.tolist())))
    model = tf.keras.models.model_from_json(keras_side["json"])
    assert model.dtype == np.float64 and model.name == "from_keras"
    model.set_weights([np.array(w) for w in keras_side["weights"]])
    np.testing.assert_allclose(
        model.predict(x, verbose=0), keras_side["predict"], rtol=1e-12, atol=1e-15
    )
