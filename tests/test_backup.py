"""BackupAndRestore: a fit interrupted and run again goes on from the last backup, bit for bit
as a fit that never stopped (weights, Adam's state and the shuffling are restored), with Keras 3's
files, options and epoch numbering."""

from __future__ import annotations

import json

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import callbacks, layers, optimizers
from keras_run import run_keras


class Interrupt(Exception):
    pass


class InterruptAt(callbacks.Callback):
    def __init__(self, epoch: int, batch: int | None = None) -> None:
        super().__init__()
        self.epoch, self.batch, self.now = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.now = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.batch is not None and self.now == self.epoch and batch == self.batch:
            raise Interrupt

    def on_epoch_end(self, epoch, logs=None):
        if self.batch is None and epoch == self.epoch:
            raise Interrupt


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5))
    return x, (x[:, 0] - x[:, 1] > 0).astype(int)


def model():
    m = fm.Sequential(
        [fm.Input(shape=(5,)), layers.Dense(8, activation="tanh"), layers.Dense(2, "softmax")],
        seed=4,
        dtype="float64",
    )
    m.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def epochs_seen():
    seen = []
    return seen, callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))


def test_an_interrupted_fit_resumes_as_if_it_had_never_stopped(tmp_path):
    x, y = data()
    whole = model()
    history = whole.fit(x, y, epochs=6, batch_size=16, verbose=0).history
    backup = callbacks.BackupAndRestore(tmp_path / "backup")
    first = model()
    with pytest.raises(Interrupt):
        first.fit(x, y, epochs=6, batch_size=16, verbose=0, callbacks=[backup, InterruptAt(2)])
    saved = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert saved == {"epoch": 3, "batch": 0}
    second = model()  # (a new process would build the model anew)
    seen, spy = epochs_seen()
    resumed = second.fit(x, y, epochs=6, batch_size=16, verbose=0, callbacks=[backup, spy])
    assert seen == [3, 4, 5]
    assert resumed.history["loss"] == history["loss"][3:]
    for a, b in zip(second.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert second.optimizer.iterations == whole.optimizer.iterations
    assert not (tmp_path / "backup").exists()  # deleted at the end, as Keras's


def test_saving_every_few_batches_and_keeping_the_backup(tmp_path):
    x, y = data()
    backup = callbacks.BackupAndRestore(tmp_path / "b", save_freq=4, delete_checkpoint=False)
    with pytest.raises(Interrupt):
        model().fit(
            x, y, epochs=3, batch_size=16, verbose=0, callbacks=[backup, InterruptAt(1, batch=4)]
        )
    # 6 steps an epoch: saved after steps 4 of epoch 0 (epoch 0 begun) and 2 of epoch 1
    saved = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    assert saved == {"epoch": 1, "batch": 1}
    seen, spy = epochs_seen()
    model().fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[backup, spy])
    assert seen == [1, 2]
    assert (tmp_path / "b" / "latest.fastmlp").exists()


def test_a_damaged_backup_falls_back_to_the_previous_one(tmp_path):
    x, y = data()
    backup = callbacks.BackupAndRestore(tmp_path / "b", double_checkpoint=True)
    with pytest.raises(Interrupt):
        model().fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[backup, InterruptAt(2)])
    (tmp_path / "b" / "latest.fastmlp").write_bytes(b"not a model")
    seen, spy = epochs_seen()
    model().fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[backup, spy])
    assert seen == [2, 3, 4]  # the backup of epoch 2's start


def test_a_backup_of_another_model_is_refused(tmp_path):
    x, y = data()
    backup = callbacks.BackupAndRestore(tmp_path / "b")
    with pytest.raises(Interrupt):
        model().fit(x, y, epochs=3, verbose=0, callbacks=[backup, InterruptAt(0)])
    other = fm.Sequential([fm.Input(shape=(5,)), layers.Dense(2, activation="softmax")])
    other.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="of another model"):
        other.fit(x, y, epochs=3, verbose=0, callbacks=[backup])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backup_dir": ""}, "Empty `backup_dir`"),
        ({"backup_dir": "b", "save_freq": "batch"}, "save_freq"),
    ],
)
def test_bad_arguments_are_refused_as_keras_does(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.BackupAndRestore(**kwargs)


KERAS_SCRIPT = """
import sys, numpy as np
x = np.random.default_rng(0).normal(size=(96, 5)); y = (x[:, 0] > 0).astype(int)
def make():
    m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy")
    return m
class Stop(Exception): pass
def stop(epoch, logs):
    if epoch == 2: raise Stop
backup = keras.callbacks.BackupAndRestore(sys.argv[1])
try:
    make().fit(x, y, epochs=6, verbose=0, callbacks=[backup, keras.callbacks.LambdaCallback(on_epoch_end=stop)])
except Stop:
    pass
print(open(sys.argv[1] + "/training_metadata.json").read())
seen = []
spy = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))
h = make().fit(x, y, epochs=6, verbose=0, callbacks=[backup, spy])
print(seen, len(h.history["loss"]))
"""


def test_the_epochs_and_metadata_are_keras_own(tmp_path):
    out = run_keras(KERAS_SCRIPT, str(tmp_path / "keras")).strip().splitlines()
    x, y = data()
    backup = callbacks.BackupAndRestore(tmp_path / "ours")
    with pytest.raises(Interrupt):
        model().fit(x, y, epochs=6, verbose=0, callbacks=[backup, InterruptAt(2)])
    assert json.loads(out[-2]) == json.loads((tmp_path / "ours/training_metadata.json").read_text())
    seen, spy = epochs_seen()
    history = model().fit(x, y, epochs=6, verbose=0, callbacks=[backup, spy]).history
    assert out[-1] == f"{seen} {len(history['loss'])}"
