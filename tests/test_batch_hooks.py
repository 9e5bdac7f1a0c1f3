"""Batch hooks with the real engine: a callback that overrides one gets it after every batch (as
in Keras), with running means checked against NumPy; without one, fit keeps its chunks of steps.
"""

from __future__ import annotations

import re
from typing import Any

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import callbacks, layers, optimizers

N, FEATURES, CLASSES, BATCH = 100, 6, 3, 16  # 7 batches an epoch, the last of 4 samples
STEPS = -(-N // BATCH)


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, FEATURES))
    y = np.argmax(x @ rng.normal(size=(FEATURES, CLASSES)), axis=1)
    return x, y


def model(learning_rate: float = 0.05, seed: int = 0) -> fm.Sequential:
    m = fm.Sequential(
        [
            fm.Input(shape=(FEATURES,)),
            layers.Dense(5, activation="tanh"),
            layers.Dense(CLASSES, activation="softmax"),
        ],
        seed=seed,
        dtype="float64",
    )
    m.compile(
        optimizers.SGD(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return m


def numpy_batch_losses(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray):
    """Per-batch (loss sum, correct count, size) of a frozen model, in order."""
    w1, b1, w2, b2 = weights
    z = np.tanh(x @ w1 + b1) @ w2 + b2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    losses = -np.log(p[np.arange(len(y)), y])
    correct = p.argmax(axis=1) == y
    return [
        (losses[i : i + BATCH].sum(), correct[i : i + BATCH].sum(), len(y[i : i + BATCH]))
        for i in range(0, len(y), BATCH)
    ]


class Recorder(callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, int, dict[str, Any]]] = []

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(("begin", batch, dict(logs or {})))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("end", batch, dict(logs or {})))


def test_a_batch_hook_runs_after_every_batch_with_the_running_means():
    # Learning rate 0: every batch sees the same weights, so the running means can be computed
    # in NumPy from the batches in order.
    x, y = data()
    m = model(learning_rate=0.0)
    recorder = Recorder()
    m.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, callbacks=[recorder], verbose=0)
    batches = numpy_batch_losses(m.get_weights(), x, y)
    expected = []
    for _ in range(2):
        loss = correct = seen = 0.0
        for k, (batch_loss, batch_correct, size) in enumerate(batches):
            expected.append(("begin", k))
            loss, correct, seen = loss + batch_loss, correct + batch_correct, seen + size
            expected.append(("end", k, loss / seen, correct / seen))
    got = [
        (kind, batch) if kind == "begin" else (kind, batch, logs["loss"], logs["accuracy"])
        for kind, batch, logs in recorder.events
    ]
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    for g, e in zip(got, expected):
        if g[0] == "end":
            assert g[2:] == pytest.approx(e[2:], rel=1e-12)


def test_stop_training_in_a_batch_hook_stops_after_that_batch():
    x, y = data()

    class StopAtFive(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 5:
                self.model.stop_training = True

    m = model()
    reference = model()
    reference.set_weights(m.get_weights())
    m.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, callbacks=[StopAtFive()], verbose=0)
    assert m.optimizer.iterations == 6
    for start in range(0, 6 * BATCH, BATCH):
        reference.train_on_batch(x[start : start + BATCH], y[start : start + BATCH])
    for a, b in zip(m.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)


@pytest.mark.parametrize("hook", ["on_batch_end", "on_train_batch_end", "on_batch_begin"])
def test_lambda_callbacks_and_legacy_names_get_every_batch(hook):
    x, y = data()
    seen: list[int] = []
    if hook == "on_batch_begin":
        cb = callbacks.LambdaCallback(on_batch_begin=lambda batch, logs: seen.append(batch))
    else:
        cb = callbacks.LambdaCallback(**{hook: lambda batch, logs: seen.append(batch)})
    model().fit(x, y, batch_size=BATCH, epochs=2, callbacks=[cb], verbose=0)
    assert seen == list(range(STEPS)) * 2


def test_validation_in_fit_calls_the_test_hooks_as_keras():
    x, y = data()
    xv, yv = data(seed=1)
    events: list[tuple[str, Any]] = []

    class Tests(callbacks.Callback):
        def on_test_begin(self, logs=None):
            events.append(("test_begin", None))

        def on_test_batch_end(self, batch, logs=None):
            events.append(("test_batch", batch))

        def on_test_end(self, logs=None):
            events.append(("test_end", dict(logs)))

    m = model()
    history = m.fit(
        x, y, batch_size=BATCH, epochs=2, validation_data=(xv, yv), callbacks=[Tests()], verbose=0
    )
    per_epoch = [("test_begin", None), *[("test_batch", k) for k in range(STEPS)]]
    assert [e for e in events if e[0] != "test_end"] == per_epoch * 2
    ends = [logs for kind, logs in events if kind == "test_end"]
    assert [e["loss"] for e in ends] == pytest.approx(history.history["val_loss"], rel=1e-12)
    assert [e["accuracy"] for e in ends] == pytest.approx(history.history["val_accuracy"])


def test_evaluate_and_predict_batch_hooks_see_every_batch():
    x, y = data()
    m = model()
    tests: list[tuple[int, float]] = []
    outputs: list[np.ndarray] = []
    result = m.evaluate(
        x,
        y,
        batch_size=BATCH,
        verbose=0,
        return_dict=True,
        callbacks=[
            callbacks.LambdaCallback(
                on_test_batch_end=lambda b, logs: tests.append((b, logs["loss"]))
            )
        ],
    )
    assert [b for b, _ in tests] == list(range(STEPS))
    batches = numpy_batch_losses(m.get_weights(), x, y)
    running = np.cumsum([b[0] for b in batches]) / np.cumsum([b[2] for b in batches])
    np.testing.assert_allclose([loss for _, loss in tests], running, rtol=1e-12)
    assert result["loss"] == pytest.approx(running[-1], rel=1e-12)
    predicted = m.predict(
        x,
        batch_size=BATCH,
        verbose=0,
        callbacks=[
            callbacks.LambdaCallback(
                on_predict_batch_end=lambda b, logs: outputs.append(logs["outputs"])
            )
        ],
    )
    assert [len(o) for o in outputs] == [BATCH] * (STEPS - 1) + [N % BATCH]
    np.testing.assert_array_equal(np.concatenate(outputs), predicted)
    np.testing.assert_allclose(predicted, m.predict(x, verbose=0), rtol=0, atol=1e-15)


class EpochOnly(callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        pass


@pytest.mark.parametrize(
    ("make", "every"),
    [
        (callbacks.History, False),
        (callbacks.ProgbarLogger, False),
        (callbacks.TerminateOnNaN, False),
        (lambda: callbacks.ModelCheckpoint("m.keras", save_freq=10), False),
        (callbacks.EarlyStopping, False),
        (lambda: callbacks.CSVLogger("log.csv"), False),
        (EpochOnly, False),
        (lambda: callbacks.LambdaCallback(on_epoch_end=lambda e, logs: None), False),
        (Recorder, True),
        (lambda: callbacks.LambdaCallback(on_train_batch_begin=lambda b, logs: None), True),
    ],
)
def test_only_callbacks_with_their_own_batch_hooks_need_every_batch(make, every):
    assert callbacks.CallbackList([make()]).every_batch("train") is every


def test_a_subclass_of_a_chunked_library_callback_with_its_own_hook_gets_every_batch():
    class Mine(callbacks.TerminateOnNaN):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)

    class Plain(callbacks.TerminateOnNaN):  # no hook of its own: chunks are fine
        pass

    assert callbacks.CallbackList([Mine()]).every_batch("train")
    assert not callbacks.CallbackList([Plain()]).every_batch("train")


def test_without_batch_hooks_fit_runs_chunks_and_trains_the_same():
    # The chunked loop (no per-batch hook) and the per-batch loop give the same weights.
    x, y = data()
    a, b = model(seed=3), model(seed=3)
    a.fit(x, y, batch_size=BATCH, epochs=3, callbacks=[EpochOnly()], verbose=0)
    b.fit(x, y, batch_size=BATCH, epochs=3, callbacks=[Recorder()], verbose=0)
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("call", ["fit", "evaluate", "predict"])
def test_a_callback_cannot_change_the_layers_during_a_call(call):
    # (fit went on training the discarded engine after a pop, and reported its steps.)
    x, y = data()
    m = model()
    before = m.predict(x, verbose=0)

    class Pop(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.pop()

        on_test_end = on_predict_end = lambda self, logs=None: self.model.pop()

    with pytest.raises(RuntimeError, match=f"layers cannot be added or removed during {call}"):
        if call == "fit":
            m.fit(x, y, epochs=2, callbacks=[Pop()], verbose=0)
        elif call == "evaluate":
            m.evaluate(x, y, callbacks=[Pop()], verbose=0)
        else:
            m.predict(x, callbacks=[Pop()], verbose=0)
    assert len(m.layers) == 2
    after = m.predict(x, verbose=0)
    assert after.shape == before.shape
    m.pop()  # outside a call, allowed
    assert len(m.layers) == 1


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: callbacks.EarlyStopping(monitor="val_loss"), "`val_loss` which is not available"),
        (
            lambda: callbacks.ReduceLROnPlateau(monitor="val_auc"),
            "`val_auc` which is not available",
        ),
        (lambda: callbacks.TerminateOnNaN(), "Invalid loss"),
    ],
)
def test_callback_warnings_in_fit_point_at_the_users_line(make, match):
    # A warning raised deep inside fit's callbacks names the line that called fit, not a
    # line of the library (where a user cannot act on it). A linear regression with a rate
    # that makes its loss overflow, for TerminateOnNaN.
    x, y = data()
    m = fm.Sequential([fm.Input(shape=(FEATURES,)), layers.Dense(1)])
    m.compile(optimizer=optimizers.SGD(1e30), loss="mse")
    with pytest.warns(Warning, match=match) as record:
        m.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[make()])
    ours = [w for w in record if re.search(match, str(w.message))]
    assert ours and all(w.filename == __file__ for w in ours)
