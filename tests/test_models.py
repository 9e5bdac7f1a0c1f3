"""Sequential end to end: construction, weights, inference, training loops, callbacks, configs.

Every expected value is computed in the test: forward passes, losses, Adam's first step and the
regularisation penalty are written out in NumPy from the model's own weights.
"""

from __future__ import annotations

import csv
import re

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import callbacks, layers, optimizers

LECTURE_SHAPES = [(784, 128), (128,), (128, 64), (64,), (64, 10), (10,)]


# -- helpers ---------------------------------------------------------------------------------------
def lecture_model(seed: int = 0, dtype: str | None = None) -> fm.Sequential:
    """The lecture's MNIST model: 784 -> 128 relu -> 64 relu -> 10 softmax."""
    model = fm.Sequential(
        [
            layers.Flatten(input_shape=(28, 28)),
            layers.Dense(128, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        seed=seed,
        dtype=dtype,
    )
    model.compile(
        optimizer=optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def small_model(
    seed: int = 0,
    dtype: str | None = None,
    features: int = 6,
    classes: int = 3,
    optimizer: object = None,
    hidden: list[layers.Layer] | None = None,
) -> fm.Sequential:
    """features -> 8 relu -> classes softmax (or `hidden` in between), compiled with Adam(0.01)."""
    stack = hidden if hidden is not None else [layers.Dense(8, activation="relu")]
    model = fm.Sequential(
        [fm.Input(shape=(features,)), *stack, layers.Dense(classes, activation="softmax")],
        seed=seed,
        dtype=dtype,
    )
    model.compile(
        optimizer=optimizer if optimizer is not None else optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def blobs(n: int = 120, features: int = 6, classes: int = 3, seed: int = 0):
    """Noisy, learnable class labels from a fixed linear rule."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    w = rng.normal(size=(features, classes))
    y = np.argmax(x @ w + 0.5 * rng.normal(size=(n, classes)), axis=1)
    return x.astype(np.float32), y


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def numpy_forward(x: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """relu hidden layers and a softmax output, from [kernel, bias, kernel, bias, ...]."""
    a = x.reshape(x.shape[0], -1)
    pairs = list(zip(weights[0::2], weights[1::2]))
    for i, (kernel, bias) in enumerate(pairs):
        z = a @ kernel + bias
        a = softmax(z) if i == len(pairs) - 1 else np.maximum(z, 0)
    return a


def sparse_ce(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(probs[np.arange(len(labels)), labels])))


def weights_equal(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(p, q) for p, q in zip(a, b))


# -- construction ----------------------------------------------------------------------------------
def test_list_and_add_construction_give_the_same_model():
    listed = fm.Sequential(
        [fm.Input(shape=(5,)), layers.Dense(4, activation="tanh"), layers.Dense(2)], seed=3
    )
    added = fm.Sequential(seed=3)
    added.add(fm.Input(shape=(5,)))
    added.add(layers.Dense(4, activation="tanh"))
    added.add(layers.Dense(2))
    assert [type(layer) for layer in listed.layers] == [type(layer) for layer in added.layers]
    assert weights_equal(listed.get_weights(), added.get_weights())
    assert listed.output_shape == added.output_shape == (None, 2)


def test_input_first_builds_at_once():
    model = fm.Sequential([fm.Input(shape=(7,)), layers.Dense(3)])
    assert model.built
    assert model.input_shape == (None, 7)
    assert [w.shape for w in model.get_weights()] == [(7, 3), (3,)]


def test_input_after_a_layer_is_refused():
    model = fm.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="Input must come first"):
        model.add(fm.Input(shape=(4,)))


def test_build_with_batch_dimension():
    model = fm.Sequential([layers.Dense(5, activation="relu"), layers.Dense(2)])
    assert not model.built
    model.build((None, 11))
    assert model.built
    assert model.count_params() == 11 * 5 + 5 + 5 * 2 + 2
    assert model.input_shape == (None, 11)


def test_lazy_build_at_first_fit_from_the_data_shape():
    model = fm.Sequential(
        [layers.Dense(4, activation="relu"), layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert not model.built
    with pytest.raises(ValueError, match="not built"):
        model.count_params()
    x, y = blobs(40, features=9)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built
    assert model.input_shape == (None, 9)
    assert [w.shape for w in model.get_weights()] == [(9, 4), (4,), (4, 3), (3,)]


def test_summary_shows_the_keras_table_for_the_lecture_model(capsys):
    model = lecture_model()
    model.summary()
    out = capsys.readouterr().out
    assert re.search(r"flatten(_\d+)? \(Flatten\)\s+│ \(None, 784\)\s+│\s+0 │", out)
    assert re.search(r"dense(_\d+)? \(Dense\)\s+│ \(None, 128\)\s+│\s+100,480 │", out)
    assert re.search(r"dense(_\d+)? \(Dense\)\s+│ \(None, 64\)\s+│\s+8,256 │", out)
    assert re.search(r"dense(_\d+)? \(Dense\)\s+│ \(None, 10\)\s+│\s+650 │", out)
    assert "Layer (type)" in out and "Output Shape" in out and "Param #" in out
    assert "Total params: 109,386 (427.29 KB)" in out
    assert "Trainable params: 109,386 (427.29 KB)" in out
    assert "Non-trainable params: 0 (0.00 B)" in out


def test_summary_print_fn_receives_every_line(capsys):
    model = lecture_model()
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert capsys.readouterr().out == ""
    assert lines[0] == f'Model: "{model.name}"'
    assert any("Total params: 109,386 (427.29 KB)" in line for line in lines)


def test_count_params_of_the_lecture_model():
    # 784*128 + 128 + 128*64 + 64 + 64*10 + 10
    assert lecture_model().count_params() == 109386


# -- weights ---------------------------------------------------------------------------------------
def test_get_set_weights_round_trip():
    model = lecture_model(seed=1)
    weights = model.get_weights()
    assert [w.shape for w in weights] == LECTURE_SHAPES
    assert all(w.dtype == np.float32 for w in weights)
    rng = np.random.default_rng(0)
    new = [rng.normal(size=s).astype(np.float32) for s in LECTURE_SHAPES]
    model.set_weights(new)
    assert weights_equal(model.get_weights(), new)
    # get_weights returns copies: changing them does not change the model
    got = model.get_weights()
    got[0][:] = 0
    assert np.array_equal(model.get_weights()[0], new[0])


def test_set_weights_rejects_wrong_shapes_and_changes_nothing():
    model = lecture_model()
    before = model.get_weights()
    bad = [np.zeros(s) for s in LECTURE_SHAPES]
    bad[4] = np.zeros((10, 64))
    with pytest.raises(ValueError, match="expected shape"):
        model.set_weights(bad)
    assert weights_equal(model.get_weights(), before)
    with pytest.raises(ValueError, match="expects 6 arrays"):
        model.set_weights(before[:4])


def test_per_layer_weights_kernel_and_bias():
    model = lecture_model(seed=2)
    weights = model.get_weights()
    dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    assert model.layers[0].get_weights() == []
    for i, layer in enumerate(dense):
        kernel, bias = layer.get_weights()
        assert np.array_equal(kernel, weights[2 * i])
        assert np.array_equal(bias, weights[2 * i + 1])
        assert np.array_equal(layer.kernel, kernel)
        assert np.array_equal(layer.bias, bias)
    # Keras defaults: zero biases, glorot_uniform kernels within sqrt(6 / (fan_in + fan_out))
    assert not dense[0].bias.any()
    assert np.abs(dense[0].kernel).max() <= np.sqrt(6 / (784 + 128))
    # writing one layer leaves the others alone
    dense[1].set_weights([np.ones((128, 64)), np.full(64, 2.0)])
    after = model.get_weights()
    assert np.array_equal(after[2], np.ones((128, 64))) and np.array_equal(after[3], np.full(64, 2))
    assert weights_equal(after[:2] + after[4:], weights[:2] + weights[4:])


# -- inference -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("dtype", "atol"), [("float32", 1e-5), ("float64", 1e-12)])
def test_predict_matches_a_numpy_forward_pass(dtype, atol):
    model = lecture_model(seed=4, dtype=dtype)
    x = np.random.default_rng(1).random((300, 28, 28))
    probs = model.predict(x, verbose=0)
    assert probs.shape == (300, 10)
    assert probs.dtype == np.dtype(dtype)
    expected = numpy_forward(x, [w.astype(np.float64) for w in model.get_weights()])
    np.testing.assert_allclose(probs, expected, rtol=0, atol=atol)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=atol * 10)


def test_predict_does_not_depend_on_batch_size_and_equals_predict_on_batch_and_call():
    model = lecture_model(seed=5)
    x = np.random.default_rng(2).random((70, 28, 28)).astype(np.float32)
    probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x, batch_size=7, verbose=0), probs, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x), probs, atol=1e-6)
    np.testing.assert_allclose(model(x), probs, atol=1e-6)
    np.testing.assert_allclose(model(x, training=False), probs, atol=1e-6)
    np.testing.assert_allclose(model(x, training=True), probs, atol=1e-6)  # no Dropout here


def test_calling_a_model_with_dropout_in_training_mode_is_refused():
    model = small_model(hidden=[layers.Dense(8, activation="relu"), layers.Dropout(0.5)])
    x = np.zeros((4, 6), np.float32)
    assert model(x, training=False).shape == (4, 3)
    with pytest.raises(NotImplementedError, match=r"training=True\) with Dropout"):
        model(x, training=True)


def test_evaluate_matches_numpy_cross_entropy_and_accuracy_of_predict():
    model = lecture_model(seed=6, dtype="float64")
    rng = np.random.default_rng(3)
    x = rng.random((250, 28, 28))
    y = rng.integers(0, 10, 250)
    model.fit(x, y, epochs=1, verbose=0)  # not the initial weights: predictions with some spread
    probs = model.predict(x, verbose=0)
    loss, acc = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(sparse_ce(probs, y), rel=1e-10)
    assert acc == pytest.approx(np.mean(np.argmax(probs, axis=1) == y), abs=1e-12)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert logs["loss"] == pytest.approx(loss, rel=1e-12)
    # the batch size changes the order of the sums, not the result
    assert model.evaluate(x, y, batch_size=17, verbose=0)[0] == pytest.approx(loss, rel=1e-10)


def test_test_on_batch_is_evaluate_on_that_batch_and_does_not_train():
    model = small_model(seed=1, dtype="float64")
    x, y = blobs(50)
    before = model.get_weights()
    loss, acc = model.test_on_batch(x, y)
    probs = model.predict(x, verbose=0)
    assert loss == pytest.approx(sparse_ce(probs, y), rel=1e-10)
    assert acc == pytest.approx(np.mean(probs.argmax(axis=1) == y))
    assert weights_equal(model.get_weights(), before)
    assert model.optimizer.iterations == 0


def test_train_on_batch_takes_one_adam_step_matching_numpy():
    # one softmax layer, so the gradient of the mean cross-entropy is x^T (p - onehot) / n
    model = fm.Sequential(
        [fm.Input(shape=(4,)), layers.Dense(3, activation="softmax")], seed=2, dtype="float64"
    )
    lr, beta_1, beta_2, eps = 0.01, 0.9, 0.999, 1e-7
    model.compile(
        optimizer=optimizers.Adam(lr, beta_1=beta_1, beta_2=beta_2, epsilon=eps),
        loss="sparse_categorical_crossentropy",
    )
    x, y = blobs(20, features=4)
    x = x.astype(np.float64)
    kernel, bias = model.get_weights()
    p = softmax(x @ kernel + bias)
    expected_loss = sparse_ce(p, y)
    delta = (p - np.eye(3)[y]) / len(y)
    grads = [x.T @ delta, delta.sum(axis=0)]
    # Adam, t = 1: m = (1-b1) g, v = (1-b2) g^2, alpha = lr sqrt(1-b2) / (1-b1)
    alpha = lr * np.sqrt(1 - beta_2) / (1 - beta_1)
    expected = [
        w - alpha * (1 - beta_1) * g / (np.sqrt((1 - beta_2) * g * g) + eps)
        for w, g in zip((kernel, bias), grads)
    ]
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(expected_loss, rel=1e-10)  # the loss before the step, as Keras
    assert model.optimizer.iterations == 1
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert model.test_on_batch(x, y) < expected_loss


def test_train_on_batch_with_metrics_returns_loss_and_accuracy():
    model = small_model(seed=3)
    x, y = blobs(32)
    result = model.train_on_batch(x, y)
    assert isinstance(result, list) and len(result) == 2
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert model.optimizer.iterations == 2


# -- fit -------------------------------------------------------------------------------------------
def test_fit_returns_history_with_keras_keys_and_one_entry_per_epoch():
    model = small_model(seed=4)
    x, y = blobs(120)
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert history is model.history
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert all(isinstance(v, float) for vs in history.history.values() for v in vs)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # 90 training samples in batches of 16: 6 steps per epoch
    assert model.optimizer.iterations == 18


def test_fit_validation_split_holds_out_the_last_samples():
    x, y = blobs(200)
    split = 150  # validation_split=0.25 keeps the first 150 samples for training
    a = small_model(seed=7)
    ha = a.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, shuffle=False, verbose=0)
    b = small_model(seed=7)
    hb = b.fit(
        x[:split],
        y[:split],
        epochs=3,
        batch_size=32,
        validation_data=(x[split:], y[split:]),
        shuffle=False,
        verbose=0,
    )
    assert ha.history == hb.history
    assert weights_equal(a.get_weights(), b.get_weights())
    # the last epoch's validation loss is the loss on the tail, evaluated by hand
    probs = a.predict(x[split:], verbose=0).astype(np.float64)
    assert ha.history["val_loss"][-1] == pytest.approx(sparse_ce(probs, y[split:]), rel=1e-5)


def test_fit_validation_data_is_evaluated_at_each_epoch_end():
    x, y = blobs(100)
    xv, yv = blobs(40, seed=1)
    model = small_model(seed=8, dtype="float64")
    seen: list[float] = []

    def record(epoch, logs):
        seen.append(sparse_ce(model.predict(xv, verbose=0), yv))

    history = model.fit(
        x,
        y,
        epochs=3,
        validation_data=(xv, yv),
        callbacks=[callbacks.LambdaCallback(on_epoch_end=record)],
        verbose=0,
    )
    np.testing.assert_allclose(history.history["val_loss"], seen, rtol=1e-10)


def test_fit_initial_epoch_trains_epochs_minus_initial_epoch(capsys):
    model = small_model(seed=9)
    x, y = blobs(64)
    history = model.fit(x, y, epochs=5, initial_epoch=3, batch_size=32, verbose=1)
    assert history.epoch == [3, 4]
    assert len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 4
    out = capsys.readouterr().out
    assert "Epoch 4/5" in out and "Epoch 5/5" in out and "Epoch 1/5" not in out


def test_fit_validation_freq_validates_every_nth_epoch():
    model = small_model(seed=10)
    x, y = blobs(100)
    seen: list[set[str]] = []
    cb = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(set(logs)))
    history = model.fit(
        x, y, epochs=4, validation_split=0.2, validation_freq=2, callbacks=[cb], verbose=0
    )
    assert len(history.history["loss"]) == 4
    assert len(history.history["val_loss"]) == 2
    assert ["val_loss" in keys for keys in seen] == [False, True, False, True]


def test_fit_without_shuffle_is_train_on_batch_in_order():
    x, y = blobs(100)
    a = small_model(seed=11, dtype="float64")
    b = small_model(seed=12, dtype="float64")  # another seed: another shuffle, same start
    b.set_weights(a.get_weights())
    a.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    for _ in range(2):
        for start in range(0, 100, 32):
            b.train_on_batch(x[start : start + 32], y[start : start + 32])
    assert b.optimizer.iterations == a.optimizer.iterations == 8
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(p, q, rtol=0, atol=1e-12)


def test_fit_shuffle_order_comes_from_the_seed():
    x, y = blobs(100)
    start = small_model(seed=13).get_weights()
    results = []
    for seed, shuffle in [(1, False), (2, False), (1, True), (2, True)]:
        model = small_model(seed=seed)
        model.set_weights(start)
        model.fit(x, y, epochs=2, batch_size=10, shuffle=shuffle, verbose=0)
        results.append(model.get_weights())
    assert weights_equal(results[0], results[1])  # no shuffle: the seed does not matter
    assert not weights_equal(results[2], results[3])  # shuffled by each model's own generator
    assert not weights_equal(results[0], results[2])


def test_same_seed_gives_bitwise_identical_weights_after_fit():
    x, y = blobs(150)
    runs = []
    for seed in (21, 21, 22):
        model = small_model(
            seed=seed, hidden=[layers.Dense(16, activation="relu"), layers.Dropout(0.3)]
        )
        model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        runs.append(model.get_weights())
    assert weights_equal(runs[0], runs[1])
    assert not weights_equal(runs[0], runs[2])


def test_float64_model_trains_and_keeps_float64():
    model = small_model(seed=14, dtype="float64")
    x, y = blobs(90)
    history = model.fit(x, y, epochs=5, verbose=0)
    assert model.dtype == np.float64
    assert all(w.dtype == np.float64 for w in model.get_weights())
    assert model.predict(x, verbose=0).dtype == np.float64
    assert history.history["loss"][-1] < history.history["loss"][0]


# -- progress bar ----------------------------------------------------------------------------------
PROGBAR_LINE = re.compile(
    r"^(\d+)/(\d+) ━{20} \d+s \d+(us|ms|s)/step - accuracy: (\d\.\d{4}) - loss: (\d\.\d{4})$"
)


def test_verbose_1_prints_one_keras_line_per_epoch_when_not_a_tty(capsys):
    model = small_model(seed=15)
    x, y = blobs(100)
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    for i, line in enumerate(lines[1::2]):
        match = PROGBAR_LINE.match(line)
        assert match, line
        assert match.group(1) == match.group(2) == "4"  # ceil(100 / 32) steps
        assert match.group(4) == f"{history.history['accuracy'][i]:.4f}"
        assert match.group(5) == f"{history.history['loss'][i]:.4f}"
    assert "\r" not in "".join(lines) and "\x1b[" not in "".join(lines)


def test_verbose_auto_is_verbose_1(capsys):
    model = small_model(seed=15)
    x, y = blobs(50)
    model.fit(x, y, epochs=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and PROGBAR_LINE.match(lines[0])  # one epoch: no "Epoch 1/1"


def test_verbose_2_prints_one_line_per_epoch(capsys):
    model = small_model(seed=16)
    x, y = blobs(100)
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=2, validation_split=0.2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    pattern = re.compile(
        r"^3/3 - \d+s - \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: (\d\.\d{4}) - "
        r"val_accuracy: \d\.\d{4} - val_loss: (\d\.\d{4})$"
    )
    match = pattern.match(lines[3])
    assert match, lines[3]
    assert match.group(2) == f"{history.history['loss'][1]:.4f}"
    assert match.group(3) == f"{history.history['val_loss'][1]:.4f}"


def test_verbose_0_prints_nothing(capsys):
    model = small_model(seed=17)
    x, y = blobs(60)
    model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_and_predict_print_one_bar_line(capsys):
    model = small_model(seed=17)
    x, y = blobs(60)
    loss, acc = model.evaluate(x, y, batch_size=32)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and PROGBAR_LINE.match(out[0])
    assert out[0].endswith(f"accuracy: {acc:.4f} - loss: {loss:.4f}")
    model.predict(x, batch_size=32)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and re.match(r"^2/2 ━{20} \d+s \d+(us|ms|s)/step$", out[0])


# -- callbacks with a real model -------------------------------------------------------------------
def test_early_stopping_restores_the_weights_of_the_best_epoch():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 6)).astype(np.float32)
    y = rng.integers(0, 3, 60)  # random labels: the model overfits and val_loss rises
    model = small_model(seed=18, hidden=[layers.Dense(32, activation="relu")])
    model.optimizer.learning_rate = 0.05
    snapshots: list[list[np.ndarray]] = []
    keep = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights())
    )
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=60, batch_size=8, validation_split=0.3, callbacks=[keep, stop], verbose=0
    )
    val_loss = history.history["val_loss"]
    assert len(val_loss) < 60  # it stopped early
    best = int(np.argmin(val_loss))
    assert best == len(val_loss) - 3  # patience 2: two epochs without improvement after the best
    assert stop.best_epoch == best
    assert weights_equal(model.get_weights(), snapshots[best])
    assert not weights_equal(model.get_weights(), snapshots[-1])


def test_learning_rate_scheduler_sets_the_rate_and_zero_freezes_the_weights():
    model = small_model(seed=19, optimizer=optimizers.SGD(0.1))
    x, y = blobs(64)
    start = model.get_weights()
    snapshots: list[list[np.ndarray]] = []
    keep = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights())
    )
    schedule = callbacks.LearningRateScheduler(lambda epoch, lr: 0.05 if epoch == 0 else 0.0)
    history = model.fit(x, y, epochs=3, callbacks=[schedule, keep], verbose=0)
    assert history.history["learning_rate"] == [0.05, 0.0, 0.0]
    assert model.optimizer.learning_rate == 0.0
    assert not weights_equal(snapshots[0], start)
    assert weights_equal(snapshots[1], snapshots[0])
    assert weights_equal(snapshots[2], snapshots[0])


def test_reduce_lr_on_plateau_lowers_the_rate_in_the_engine():
    model = small_model(seed=20, optimizer=optimizers.Adam(0.01))
    x, y = blobs(64)
    snapshots: list[list[np.ndarray]] = []
    keep = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights())
    )
    # min_delta so large that only the first epoch counts as an improvement; factor 0 -> rate 0
    reduce = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.0, patience=1, min_delta=1e9)
    history = model.fit(x, y, epochs=4, callbacks=[reduce, keep], verbose=0)
    assert history.history["learning_rate"] == [0.01, 0.01, 0.0, 0.0]
    assert model.optimizer.learning_rate == 0.0
    assert not weights_equal(snapshots[1], snapshots[0])  # epoch 2 trained at 0.01
    assert weights_equal(snapshots[2], snapshots[1])  # then the rate was 0
    assert weights_equal(snapshots[3], snapshots[1])


def test_reduce_lr_on_plateau_multiplies_by_factor():
    model = small_model(seed=20, optimizer=optimizers.Adam(0.01))
    x, y = blobs(64)
    reduce = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)
    model.fit(x, y, epochs=4, callbacks=[reduce], verbose=0)
    assert model.optimizer.learning_rate == pytest.approx(0.01 * 0.5**3)


def test_terminate_on_nan_stops_a_diverging_run_with_a_warning():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(200, 5)) * 1000  # unscaled inputs and a huge step: the loss overflows
    y = rng.normal(size=(200, 1)) * 1000
    model = fm.Sequential(
        [fm.Input(shape=(5,)), layers.Dense(8, activation="relu"), layers.Dense(1)], seed=0
    )
    model.compile(optimizer=optimizers.SGD(learning_rate=1e6), loss="mse")
    with pytest.warns(RuntimeWarning, match="Invalid loss, terminating training"):
        history = model.fit(x, y, epochs=20, callbacks=[callbacks.TerminateOnNaN()], verbose=0)
    assert len(history.history["loss"]) == 1
    assert not np.isfinite(history.history["loss"][0])
    assert model.optimizer.iterations < 7 * 20


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    model = small_model(seed=22)
    x, y = blobs(80)
    path = tmp_path / "log.csv"
    history = model.fit(
        x, y, epochs=3, validation_split=0.25, callbacks=[callbacks.CSVLogger(path)], verbose=0
    )
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    for key, values in history.history.items():
        np.testing.assert_allclose([float(row[key]) for row in rows], values, rtol=1e-12)


def test_stop_training_set_by_a_callback_stops_after_that_epoch():
    model = small_model(seed=23)
    x, y = blobs(64)

    def stop_at_second(epoch, logs):
        if epoch == 1:
            model.stop_training = True

    history = model.fit(
        x,
        y,
        epochs=10,
        batch_size=32,
        callbacks=[callbacks.LambdaCallback(on_epoch_end=stop_at_second)],
        verbose=0,
    )
    assert history.epoch == [0, 1]
    assert model.optimizer.iterations == 4


# -- config ----------------------------------------------------------------------------------------
def test_config_and_json_round_trip_rebuild_the_architecture():
    model = fm.Sequential(
        [
            layers.Flatten(input_shape=(4, 3)),
            layers.Dense(
                9, activation="tanh", use_bias=False, kernel_regularizer=fm.regularizers.L2(0.02)
            ),
            layers.Dropout(0.25),
            layers.Dense(5),
            layers.Activation("softmax"),
        ],
        seed=3,
        dtype="float64",
    )
    for rebuilt in (
        fm.Sequential.from_config(model.get_config()),
        fm.models.model_from_json(model.to_json()),
    ):
        assert [type(layer) for layer in rebuilt.layers] == [type(layer) for layer in model.layers]
        assert rebuilt.dtype == np.float64
        assert rebuilt.input_shape == (None, 4, 3) and rebuilt.output_shape == (None, 5)
        assert rebuilt.count_params() == model.count_params() == 12 * 9 + 9 * 5 + 5
        assert rebuilt.layers[1].units == 9 and rebuilt.layers[1].use_bias is False
        assert rebuilt.layers[1].kernel_regularizer.get_config()["l2"] == pytest.approx(0.02)
        assert rebuilt.layers[2].rate == 0.25
        assert rebuilt.get_config()["layers"] == model.get_config()["layers"]
        rebuilt.set_weights(model.get_weights())
        x = np.random.default_rng(0).normal(size=(10, 4, 3))
        np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))


# -- layers inside a model -------------------------------------------------------------------------
def test_activation_and_dropout_layers_predict_deterministically():
    model = small_model(
        seed=24,
        dtype="float64",
        hidden=[layers.Dense(16), layers.Activation("relu"), layers.Dropout(0.5)],
    )
    x, y = blobs(50)
    first = model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), first)
    # inference ignores dropout: the forward pass without it
    np.testing.assert_allclose(first, numpy_forward(x, model.get_weights()), atol=1e-12)
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_dropout_changes_training_but_not_evaluation():
    x, y = blobs(64)
    models = {}
    for rate in (0.0, 0.5):
        models[rate] = small_model(
            seed=25,
            dtype="float64",
            hidden=[layers.Dense(16, activation="relu"), layers.Dropout(rate)],
        )
    start = models[0.0].get_weights()
    models[0.5].set_weights(start)
    assert models[0.5].evaluate(x, y, verbose=0) == models[0.0].evaluate(x, y, verbose=0)
    train_loss = {rate: model.train_on_batch(x, y)[0] for rate, model in models.items()}
    assert train_loss[0.5] != pytest.approx(train_loss[0.0])
    assert not weights_equal(models[0.5].get_weights(), models[0.0].get_weights())


def test_dense_without_bias_has_only_a_kernel():
    model = fm.Sequential(
        [fm.Input(shape=(3,)), layers.Dense(2, use_bias=False)], seed=0, dtype="float64"
    )
    layer = model.layers[0]
    assert [w.shape for w in model.get_weights()] == [(3, 2)]
    assert layer.bias is None
    assert model.count_params() == 6
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ layer.kernel, atol=1e-12)


def test_l2_regularizer_adds_its_penalty_to_the_evaluated_loss():
    model = fm.Sequential(
        [
            fm.Input(shape=(6,)),
            layers.Dense(3, activation="softmax", kernel_regularizer=fm.regularizers.L2(0.01)),
        ],
        seed=26,
        dtype="float64",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = blobs(80)
    kernel, bias = model.get_weights()
    data_loss = sparse_ce(softmax(x.astype(np.float64) @ kernel + bias), y)
    penalty = 0.01 * np.sum(kernel**2)
    assert penalty > 1e-3
    assert model.evaluate(x, y, verbose=0) == pytest.approx(data_loss + penalty, rel=1e-10)


def test_zero_initialisation_keeps_hidden_units_identical():
    # The lecture's point: with equal initial weights every hidden unit gets the same gradient.
    x, y = blobs(150, features=4)
    model = small_model(
        seed=27,
        features=4,
        hidden=[layers.Dense(6, activation="sigmoid", kernel_initializer="zeros")],
    )
    model.layers[-1].set_weights([np.zeros((6, 3)), np.zeros(3)])
    history = model.fit(x, y, epochs=10, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    kernel_1, _, kernel_2, _ = model.get_weights()
    assert np.abs(kernel_1).max() > 1e-3  # it did train
    np.testing.assert_allclose(
        kernel_1, np.repeat(kernel_1[:, :1], 6, axis=1), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(kernel_2, np.repeat(kernel_2[:1], 6, axis=0), rtol=1e-5, atol=1e-6)


# -- input types -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.float64, np.uint8, np.int32, np.bool_, "fortran"]
)
def test_any_real_dtype_and_fortran_order_give_the_same_predictions(dtype):
    model = small_model(seed=28)
    base = np.random.default_rng(0).integers(0, 2, size=(40, 6))  # exact in every dtype
    reference = model.predict(base.astype(np.float32), verbose=0)
    if dtype == "fortran":
        x = np.asfortranarray(base.astype(np.float32))
        assert not x.flags.c_contiguous
    else:
        x = base.astype(dtype)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reference)


def test_fortran_ordered_float_data_trains_like_c_ordered():
    x, y = blobs(64)
    a, b = small_model(seed=29), small_model(seed=29)
    a.fit(x, y, epochs=2, verbose=0)
    b.fit(np.asfortranarray(x), y, epochs=2, verbose=0)
    assert weights_equal(a.get_weights(), b.get_weights())


def test_raw_uint8_pixels_train_without_overflow():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, size=(200, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 200)
    model = lecture_model(seed=30)
    history = model.fit(x, y, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert np.all(np.isfinite(model.predict(x, verbose=0)))


def test_a_step_uses_threads_from_32_rows_and_a_million_multiply_adds():
    # threads_for(rows): rows x parameters multiply-adds a step decide (a fork/join per product
    # costs more than a small step saves); set_parallel_work(0) restores the 32-row rule alone.
    from fastmlp import _core

    tiny = small_model()  # 6 -> 8 -> 3: 83 parameters
    lecture = lecture_model()  # 109,386 parameters
    tiny.build((None, 6))
    lecture.build((None, 28, 28))
    try:
        fm.config.set_num_threads(2)
        assert [lecture._engine.threads_for(r) for r in (16, 31, 32, 256)] == [1, 1, 2, 2]
        assert [tiny._engine.threads_for(r) for r in (32, 10000, 12633, 12634)] == [1, 1, 1, 2]
        work = _core.get_parallel_work()
        assert work == 2**20 and 12633 * 83 < work <= 12634 * 83
        _core.set_parallel_work(0)
        assert [tiny._engine.threads_for(r) for r in (31, 32)] == [1, 2]
        with pytest.raises(ValueError, match="multiply_adds must be >= 0"):
            _core.set_parallel_work(-1)
    finally:
        _core.set_parallel_work(2**20)
        fm.config.set_num_threads(0)


def test_one_and_two_threads_train_the_same_model():
    """Batches of 32+ split each product's columns and the optimizer's pass over the threads;
    every element is the same sum either way (bit-identical where BLAS's kernel does not depend on
    the product's width, as OpenBLAS's AVX-512 kernels; within float32 rounding otherwise)."""
    rng = np.random.default_rng(0)
    x, y = rng.random((640, 784), dtype=np.float32), rng.integers(0, 10, 640)
    weights = []
    try:
        for threads in (1, 2):
            fm.config.set_num_threads(threads)
            model = fm.Sequential(
                [
                    fm.layers.Input(shape=(784,)),
                    fm.layers.Dense(128, activation="relu"),  # 100,480 weights: the parallel update
                    fm.layers.Dense(64, activation="relu"),
                    fm.layers.Dense(10, activation="softmax"),
                ],
                seed=0,
            )
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x, y, batch_size=64, epochs=3, verbose=0)
            weights.append(model.get_weights())
    finally:
        fm.config.set_num_threads(0)
    for one, two in zip(*weights):
        np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_short_epochs_run_whole_in_the_engine_with_the_per_epoch_loops_results(
    dtype, shuffle, monkeypatch
):
    """With nothing to run between epochs (no callback but History, verbose 0, no validation),
    epochs shorter than a chunk run several per engine call (after a first one, timed):
    same weights, losses and epochs as fit's loop."""
    from fastmlp import _training

    monkeypatch.setattr(_training, "CHUNK_SECONDS", 0.002)  # several engine calls per fit
    rng = np.random.default_rng(5)
    x = rng.normal(size=(95, 2))
    y = np.tanh(x[:, :1] * x[:, 1:])

    def fitted(callbacks):
        model = fm.Sequential(
            [layers.Input(shape=(2,)), layers.Dense(8, activation="tanh"), layers.Dense(1)],
            seed=3,
            dtype=dtype,
        )
        model.compile(optimizer=fm.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
        history = model.fit(
            x, y, batch_size=10, epochs=300, initial_epoch=20, shuffle=shuffle, verbose=0,
            callbacks=callbacks,
        )  # fmt: skip
        return model, history

    (whole, h_whole), (looped, h_looped) = fitted(None), fitted([fm.callbacks.Callback()])
    for a, b in zip(whole.get_weights(), looped.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert h_whole.epoch == h_looped.epoch == list(range(20, 300))
    assert list(h_whole.history) == list(h_looped.history) == ["loss", "mae"]
    for key in h_whole.history:
        np.testing.assert_allclose(h_whole.history[key], h_looped.history[key], rtol=1e-12)
    assert whole.history is h_whole


def test_train_epochs_refuses_bad_arguments_before_changing_anything():
    model = fm.Sequential([layers.Input(shape=(2,)), layers.Dense(1)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((10, 2), np.float32), np.ones((10, 1), np.float32)
    model.fit(x, y, verbose=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match="epochs must be > 0"):
        model._engine.train_epochs(x, y, 5, 0, True)
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        model._engine.train_epochs(x, y, 0, 3, True)
    with pytest.raises(ValueError, match="y"):
        model._engine.train_epochs(x, y[:5], 5, 3, True)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_refused_compile_keeps_the_optimizer_state():
    # compile with a loss the model cannot take restores the previous settings, and with them
    # the optimizer's slots and step count (re-attaching the optimizer had reset them).
    model = fm.Sequential([fm.Input(shape=(3,)), layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizers.Adam(0.01), "binary_crossentropy")
    x = np.random.default_rng(0).random((20, 3)).astype(np.float32)
    y = (x[:, :1] > 0.5).astype(np.float32)
    model.fit(x, y, epochs=2, batch_size=5, verbose=0)
    iterations, slots, _ = model._engine.get_optimizer_state()
    with pytest.raises(ValueError, match="needs an output layer with >= 2 units"):
        model.compile("adam", "sparse_categorical_crossentropy")
    after, kept, _ = model._engine.get_optimizer_state()
    assert after == iterations == 8 and len(kept) == 2
    for a, b in zip(kept, slots):
        np.testing.assert_array_equal(a, b)


def test_compile_takes_tf_keras_2s_positional_metrics() -> None:
    """compile(optimizer, loss, metrics) was tf.keras 2's order; Keras 3 puts loss_weights third.
    A list of metric names there can only be metrics."""
    x = np.random.default_rng(0).normal(size=(20, 3))
    y = (x[:, 0] > 0).astype(int)
    model = fm.Sequential([fm.layers.Input(shape=(3,)), fm.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    with pytest.raises(NotImplementedError, match="loss_weights is not supported"):
        model.compile("adam", "sparse_categorical_crossentropy", [0.5])
    with pytest.raises(NotImplementedError, match="loss_weights is not supported"):
        model.compile("adam", "mse", ["accuracy"], metrics=["mae"])


def test_metrics_hold_no_state_between_calls_so_reset_metrics_changes_nothing():
    """Keras accumulates test_on_batch's metrics until reset_metrics(); fastmlp's calls each
    count afresh: the second batch's accuracy is its own, with or without a reset."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4))
    y = (x[:, 0] > 0).astype(int)
    model = fm.Sequential([fm.Input(shape=(4,)), fm.layers.Dense(2, activation="softmax")], seed=1)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    own = model.evaluate(x[20:], y[20:], verbose=0, return_dict=True)
    model.test_on_batch(x[:20], 1 - y[:20])
    assert model.test_on_batch(x[20:], y[20:], return_dict=True) == own
    model.reset_metrics()
    assert model.test_on_batch(x[20:], y[20:], return_dict=True) == own
    # the compiled metric objects' own state (update_state used on them directly) is reset
    accuracy = model.compiled_metrics[0]
    accuracy.update_state(y[:4], y[:4].astype(float))  # (Keras's Accuracy: equality)
    assert accuracy.result() == 1.0
    model.reset_metrics()
    assert accuracy.result() == 0.0
