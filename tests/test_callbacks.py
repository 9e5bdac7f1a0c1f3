"""Callbacks and the progress bar, driven the way `fit` drives them, on a stand-in model.

Expected values are worked out by hand in the comments (epoch by epoch), not by the code under test.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
from fastmlp import _progbar, callbacks
from fastmlp._progbar import Progbar, format_eta, format_time, format_value

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BAR = "━" * 20


class StandInOptimizer:
    def __init__(self, learning_rate: float = 1.0) -> None:
        self.learning_rate = learning_rate


class StandInModel:
    """What callbacks may use of a model: weights, optimizer.learning_rate, flags, save."""

    def __init__(self, learning_rate: float = 1.0) -> None:
        self.stop_training = False
        self.optimizer = StandInOptimizer(learning_rate)
        self.history: Any = None
        self.weights = [np.zeros((2, 3)), np.zeros(3)]
        self.saved: list[tuple[str, str]] = []

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.weights = [np.array(w, copy=True) for w in weights]

    def save(self, filepath: str) -> None:
        self.saved.append(("model", filepath))

    def save_weights(self, filepath: str) -> None:
        self.saved.append(("weights", filepath))


def fit(
    model: StandInModel,
    cbs: list[callbacks.Callback],
    epoch_logs: list[dict[str, float]],
    steps: int = 10,
    chunk: int = 5,
    verbose: int = 0,
    batch_logs: list[dict[str, float]] | None = None,
) -> Any:
    """The fit loop of models.py, in small: epoch `e` "trains" the weights to the value `e`.

    `batch_logs[e]` (default: the epoch's own train metrics) is what every chunk reports.
    """
    cb_list = callbacks.CallbackList(
        cbs,
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=len(epoch_logs),
        steps=steps,
    )
    model.stop_training = False
    cb_list.on_train_begin()
    logs: dict[str, float] = {}
    for epoch, scripted in enumerate(epoch_logs):
        cb_list.on_epoch_begin(epoch)
        for end in range(chunk, steps + 1, chunk):
            model.weights = [np.full_like(w, epoch) for w in model.weights]
            running = (
                batch_logs[epoch]
                if batch_logs
                else {k: v for k, v in scripted.items() if not k.startswith("val_")}
            )
            cb_list.on_train_batch_end(end - 1, dict(running))
            if model.stop_training:
                break
        logs = dict(scripted)
        cb_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cb_list.on_train_end(logs)
    return model.history


def weights_epoch(model: StandInModel) -> float:
    """Which epoch's weights the model holds (see `fit`)."""
    values = {float(v) for w in model.weights for v in w.ravel()}
    assert len(values) == 1
    return values.pop()


def val_losses(*values: float) -> list[dict[str, float]]:
    return [{"loss": 1.0, "val_loss": v} for v in values]


# --- History and CallbackList ---------------------------------------------------------------


def test_history_records_every_epoch_and_is_set_on_model():
    model = StandInModel()
    logs = [{"loss": 0.5, "val_loss": 0.6}, {"loss": 0.4, "val_loss": 0.55}]
    history = fit(model, [], logs)
    assert isinstance(history, callbacks.History)
    assert history.epoch == [0, 1]
    assert history.history == {"loss": [0.5, 0.4], "val_loss": [0.6, 0.55]}


def test_callback_list_sets_model_params_and_adds_defaults_once():
    model = StandInModel()
    mine = callbacks.History()
    seen = callbacks.Callback()
    cb_list = callbacks.CallbackList(
        [seen, [mine]],
        add_history=True,
        add_progbar=True,
        model=model,
        verbose=2,
        epochs=3,
        steps=7,
    )
    assert model.history is mine
    assert [type(cb) for cb in cb_list.callbacks] == [
        callbacks.Callback,
        callbacks.History,
        callbacks.ProgbarLogger,
    ]
    assert seen.model is model
    assert seen.params == {"verbose": 2, "epochs": 3, "steps": 7}


def test_callback_list_orders_logs_like_keras_and_makes_floats():
    got: dict[str, list[dict[str, Any]]] = {"batch": [], "epoch": []}
    spy = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: got["batch"].append(logs),
        on_epoch_end=lambda epoch, logs: got["epoch"].append(logs),
    )
    cb_list = callbacks.CallbackList([spy], model=StandInModel())
    cb_list.on_train_batch_end(3, {"loss": np.float32(0.5), "accuracy": np.float64(0.25)})
    epoch_logs = {"val_loss": 1.0, "loss": np.float32(0.5), "val_accuracy": 0.5, "accuracy": 0.25}
    cb_list.on_epoch_end(0, epoch_logs)
    assert list(got["batch"][0].items()) == [("accuracy", 0.25), ("loss", 0.5)]
    assert type(got["batch"][0]["loss"]) is float
    assert list(got["epoch"][0]) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert got["epoch"][0] is epoch_logs  # one dict, so what callbacks add reaches the caller


def test_base_callback_train_batch_hooks_forward_to_keras_aliases():
    calls = []

    class Legacy(callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            calls.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("end", batch))

    legacy = Legacy()
    legacy.on_train_batch_begin(0)
    legacy.on_train_batch_end(4)
    assert calls == [("begin", 0), ("end", 4)]
    for hook in ("on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end"):
        assert getattr(callbacks.Callback(), hook)({}) is None


# --- EarlyStopping --------------------------------------------------------------------------


def test_early_stopping_min_mode_stops_after_patience_and_restores_best():
    # best 0.8 at epoch 1; epochs 2 and 3 do not improve -> wait 2 >= patience 2 at epoch 3.
    model = StandInModel()
    stop = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    history = fit(model, [stop], val_losses(1.0, 0.8, 0.9, 0.85, 0.7, 0.6))
    assert history.epoch == [0, 1, 2, 3]
    assert stop.stopped_epoch == 3
    assert stop.best == 0.8 and stop.best_epoch == 1
    assert weights_epoch(model) == 1


def test_early_stopping_without_restore_keeps_last_weights():
    model = StandInModel()
    fit(model, [callbacks.EarlyStopping(patience=1)], val_losses(1.0, 1.1, 1.2))
    assert weights_epoch(model) == 1  # stopped at epoch 1, its weights stay


def test_early_stopping_restores_best_even_when_training_runs_to_the_end():
    model = StandInModel()
    stop = callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    history = fit(model, [stop], val_losses(1.0, 0.5, 0.7, 0.9))
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 0
    assert weights_epoch(model) == 1


def test_early_stopping_auto_mode_maximises_accuracy():
    # 0.6 at epoch 2 is not greater than 0.6: epochs 2, 3 do not improve -> stop at 3.
    model = StandInModel()
    stop = callbacks.EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=True)
    logs = [{"val_accuracy": a} for a in (0.5, 0.6, 0.6, 0.59, 0.7)]
    history = fit(model, [stop], logs)
    assert history.epoch == [0, 1, 2, 3]
    assert stop.best == 0.6 and weights_epoch(model) == 1


def test_early_stopping_explicit_max_mode_on_a_loss_name():
    stop = callbacks.EarlyStopping(monitor="loss", mode="max", patience=1)
    history = fit(StandInModel(), [stop], [{"loss": v} for v in (1.0, 2.0, 1.5, 3.0)])
    assert history.epoch == [0, 1, 2]  # 1.5 is below the best 2.0


def test_early_stopping_min_delta_ignores_small_improvements():
    # With min_delta 0.1, 0.95 is no improvement on 1.0 (0.95 + 0.1 > 1.0): stop at epoch 1.
    losses = (1.0, 0.95, 0.91, 0.88, 0.8)
    strict = callbacks.EarlyStopping(monitor="loss", min_delta=0.1, patience=1)
    assert fit(StandInModel(), [strict], [{"loss": v} for v in losses]).epoch == [0, 1]
    loose = callbacks.EarlyStopping(monitor="loss", min_delta=0.01, patience=1)
    assert fit(StandInModel(), [loose], [{"loss": v} for v in losses]).epoch == [0, 1, 2, 3, 4]
    # min_delta is taken as an absolute value, as Keras does.
    assert callbacks.EarlyStopping(min_delta=-0.1).min_delta == 0.1


def test_early_stopping_baseline_not_beaten_counts_against_patience():
    # Epoch 0 improves on inf but not on the baseline 0.5, so its wait (1) is kept:
    # epoch 1 brings wait to 2 >= patience 2 and stops one epoch earlier than without baseline.
    values = (0.9, 0.95, 0.97, 0.99)
    with_baseline = callbacks.EarlyStopping(patience=2, baseline=0.5)
    assert fit(StandInModel(), [with_baseline], val_losses(*values)).epoch == [0, 1]
    without = callbacks.EarlyStopping(patience=2)
    assert fit(StandInModel(), [without], val_losses(*values)).epoch == [0, 1, 2]
    beaten = callbacks.EarlyStopping(patience=2, baseline=1.0)
    assert fit(StandInModel(), [beaten], val_losses(*values)).epoch == [0, 1, 2]


def test_early_stopping_start_from_epoch_skips_warm_up():
    # Epochs 0 and 1 are not monitored: best is 0.5 at epoch 2, epoch 3 exhausts patience 1.
    model = StandInModel()
    stop = callbacks.EarlyStopping(patience=1, start_from_epoch=2, restore_best_weights=True)
    values = (0.1, 0.2, 0.5, 0.6, 0.7, 0.8)
    assert fit(model, [stop], val_losses(*values)).epoch == [0, 1, 2, 3]
    assert weights_epoch(model) == 2
    plain = callbacks.EarlyStopping(patience=1)
    assert fit(StandInModel(), [plain], val_losses(*values)).epoch == [0, 1]


def test_early_stopping_instance_can_be_reused():
    stop = callbacks.EarlyStopping(patience=1)
    assert fit(StandInModel(), [stop], val_losses(0.1, 0.2, 0.3)).epoch == [0, 1]
    # A second fit starts from scratch: 5.0 is not compared with the 0.1 of the first run.
    assert fit(StandInModel(), [stop], val_losses(5.0, 4.0, 4.5)).epoch == [0, 1, 2]


def test_early_stopping_warns_when_monitor_missing():
    stop = callbacks.EarlyStopping(monitor="val_loss")
    with pytest.warns(UserWarning, match="`val_loss` which is not available.*loss"):
        history = fit(StandInModel(), [stop], [{"loss": 1.0}, {"loss": 2.0}])
    assert history.epoch == [0, 1]


def test_early_stopping_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(UserWarning, match="mode 'biggest' is unknown"):
        stop = callbacks.EarlyStopping(monitor="val_acc", mode="biggest")
    assert stop.mode == "auto" and stop.best == -math.inf


def test_early_stopping_verbose_prints_messages(capsys):
    stop = callbacks.EarlyStopping(patience=0, verbose=1, restore_best_weights=True)
    fit(StandInModel(), [stop], val_losses(1.0, 2.0))
    assert capsys.readouterr().out == (
        "Epoch 2: early stopping\nRestoring model weights from the end of the best epoch: 1.\n"
    )


# --- ReduceLROnPlateau ----------------------------------------------------------------------


def test_reduce_lr_on_plateau_patience_cooldown_and_min_lr():
    # lr 1.0, factor 0.5, patience 2, cooldown 2, min_lr 0.2, loss flat at 1.0:
    # epoch 0 best; 1 wait 1; 2 wait 2 -> 0.5 (cooldown 2); 3 cooldown 1; 4 cooldown 0, wait 1;
    # 5 wait 2 -> 0.25; 6 cooldown; 7 wait 1; 8 wait 2 -> max(0.125, 0.2) = 0.2; 9 cooldown.
    # logs["learning_rate"] is the rate the epoch was trained with.
    model = StandInModel(learning_rate=1.0)
    reduce = callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=2, cooldown=2, min_lr=0.2
    )
    history = fit(model, [reduce], [{"loss": 1.0}] * 12)
    expected = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]
    assert history.history["learning_rate"] == pytest.approx(expected)
    assert model.optimizer.learning_rate == pytest.approx(0.2)  # min_lr holds


def test_reduce_lr_on_plateau_improvements_reset_the_wait():
    model = StandInModel(learning_rate=0.1)
    reduce = callbacks.ReduceLROnPlateau(monitor="val_loss", patience=2)
    fit(model, [reduce], val_losses(1.0, 0.9, 0.95, 0.8, 0.85, 0.7))
    assert model.optimizer.learning_rate == 0.1


def test_reduce_lr_on_plateau_min_delta_and_max_mode():
    # val_accuracy is maximised; +0.00005 is below min_delta 1e-4 and is no improvement.
    model = StandInModel(learning_rate=0.1)
    reduce = callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=1, factor=0.5)
    fit(model, [reduce], [{"val_accuracy": 0.5}, {"val_accuracy": 0.50005}])
    assert model.optimizer.learning_rate == pytest.approx(0.05)
    model = StandInModel(learning_rate=0.1)
    reduce = callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=1, factor=0.5)
    fit(model, [reduce], [{"val_accuracy": 0.5}, {"val_accuracy": 0.6}])
    assert model.optimizer.learning_rate == 0.1


def test_reduce_lr_on_plateau_rejects_factor_of_one_and_warns_on_missing_monitor():
    with pytest.raises(ValueError, match=r"factor >= 1\.0"):
        callbacks.ReduceLROnPlateau(factor=1.0)
    with pytest.warns(UserWarning, match="`val_loss` which is not available"):
        fit(StandInModel(), [callbacks.ReduceLROnPlateau()], [{"loss": 1.0}])


# --- LearningRateScheduler ------------------------------------------------------------------


def test_learning_rate_scheduler_with_epoch_only():
    model = StandInModel(learning_rate=1.0)
    scheduler = callbacks.LearningRateScheduler(lambda epoch: 0.1 * 0.5**epoch)
    history = fit(model, [scheduler], [{"loss": 1.0}] * 3)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.025)


def test_learning_rate_scheduler_with_epoch_and_lr():
    model = StandInModel(learning_rate=1.0)
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr * 0.9

    history = fit(model, [callbacks.LearningRateScheduler(schedule)], [{"loss": 1.0}] * 3)
    assert seen == [(0, 1.0), (1, pytest.approx(0.9)), (2, pytest.approx(0.81))]
    assert history.history["learning_rate"] == pytest.approx([0.9, 0.81, 0.729])
    assert type(model.optimizer.learning_rate) is float


def test_learning_rate_scheduler_rejects_non_number_and_prints_when_verbose(capsys):
    with pytest.raises(TypeError, match="should be a float"):
        fit(StandInModel(), [callbacks.LearningRateScheduler(lambda e: "fast")], [{"loss": 1}])
    fit(StandInModel(), [callbacks.LearningRateScheduler(lambda e: 0.5, verbose=1)], [{"loss": 1}])
    assert "\nEpoch 1: LearningRateScheduler setting learning rate to 0.5.\n" in (
        capsys.readouterr().out
    )


# --- TerminateOnNaN -------------------------------------------------------------------------


def test_terminate_on_nan_stops_at_the_chunk_with_nan_loss():
    model = StandInModel()
    batch_logs = [{"loss": 1.0}, {"loss": math.nan}, {"loss": 1.0}]
    with pytest.warns(RuntimeWarning, match="Batch 4: Invalid loss, terminating training"):
        history = fit(
            model, [callbacks.TerminateOnNaN()], [{"loss": 1.0}] * 3, batch_logs=batch_logs
        )
    assert model.stop_training
    assert history.epoch == [0, 1]


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_terminate_on_nan_stops_on_epoch_loss_that_is_not_finite(bad):
    model = StandInModel()
    logs = [{"loss": 1.0}, {"loss": bad}, {"loss": 1.0}]
    batch_logs = [{"loss": 1.0}] * 3  # the chunks looked fine; the epoch mean is not
    with pytest.warns(RuntimeWarning, match="Epoch 2: Invalid loss"):
        history = fit(model, [callbacks.TerminateOnNaN()], logs, batch_logs=batch_logs)
    assert history.epoch == [0, 1]


def test_terminate_on_nan_leaves_finite_losses_alone_and_can_raise():
    model = StandInModel()
    assert fit(model, [callbacks.TerminateOnNaN()], [{"loss": 1e30}] * 2).epoch == [0, 1]
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at Batch 4"):
        fit(StandInModel(), [callbacks.TerminateOnNaN(raise_error=True)], [{"loss": math.inf}])


# --- CSVLogger ------------------------------------------------------------------------------


def test_csv_logger_writes_header_and_rows_then_appends(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"loss": 0.5, "accuracy": 0.75}, {"loss": 0.25, "accuracy": 0.875}]
    fit(StandInModel(), [callbacks.CSVLogger(path)], logs)
    assert path.read_bytes() == b"epoch,accuracy,loss\r\n0,0.75,0.5\r\n1,0.875,0.25\r\n"
    fit(StandInModel(), [callbacks.CSVLogger(path, append=True)], logs[:1])
    assert path.read_text().splitlines() == [
        "epoch,accuracy,loss",
        "0,0.75,0.5",
        "1,0.875,0.25",
        "0,0.75,0.5",
    ]
    fit(StandInModel(), [callbacks.CSVLogger(path, separator=";")], logs[1:])
    assert path.read_text().splitlines() == ["epoch;accuracy;loss", "0;0.875;0.25"]


def test_csv_logger_append_to_new_file_writes_header_and_marks_missing_values(tmp_path):
    path = tmp_path / "new.csv"
    logs = [{"loss": 0.5, "val_loss": 0.75}, {"loss": 0.25}]
    fit(StandInModel(), [callbacks.CSVLogger(str(path), append=True)], logs)
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,0.5,0.75", "1,0.25,NA"]


# --- LambdaCallback -------------------------------------------------------------------------


def test_lambda_callback_calls_the_given_functions():
    events: list[tuple[Any, ...]] = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: events.append(("epoch_begin", epoch)),
        on_train_batch_end=lambda batch, logs: events.append(("batch_end", batch, logs["loss"])),
        on_epoch_end=lambda epoch, logs: events.append(("epoch_end", epoch, logs["loss"])),
        on_train_end=lambda logs: events.append(("train_end", logs["loss"])),
        on_test_end=lambda logs: events.append(("test_end",)),
    )
    fit(StandInModel(), [cb], [{"loss": 0.5}], steps=4, chunk=2)
    cb.on_test_end({})
    assert events == [
        ("train_begin",),
        ("epoch_begin", 0),
        ("batch_end", 1, 0.5),
        ("batch_end", 3, 0.5),
        ("epoch_end", 0, 0.5),
        ("train_end", 0.5),
        ("test_end",),
    ]


# --- ModelCheckpoint ------------------------------------------------------------------------


def test_model_checkpoint_saves_every_epoch_with_formatted_path(tmp_path):
    model = StandInModel()
    path = str(tmp_path / "ckpt" / "m-{epoch:02d}-{val_loss:.2f}.keras")
    fit(model, [callbacks.ModelCheckpoint(path)], val_losses(0.5, 0.25))
    assert model.saved == [
        ("model", str(tmp_path / "ckpt" / "m-01-0.50.keras")),
        ("model", str(tmp_path / "ckpt" / "m-02-0.25.keras")),
    ]
    assert (tmp_path / "ckpt").is_dir()  # created for the save


def test_model_checkpoint_save_best_only_with_threshold_and_max_mode(tmp_path):
    model = StandInModel()
    path = str(tmp_path / "best-{epoch}.weights.h5")
    checkpoint = callbacks.ModelCheckpoint(
        path, save_best_only=True, save_weights_only=True, initial_value_threshold=0.5
    )
    fit(model, [checkpoint], val_losses(0.6, 0.4, 0.45, 0.3))
    assert model.saved == [
        ("weights", str(tmp_path / "best-2.weights.h5")),
        ("weights", str(tmp_path / "best-4.weights.h5")),
    ]
    model = StandInModel()
    checkpoint = callbacks.ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True)
    fit(model, [checkpoint], [{"val_accuracy": a} for a in (0.5, 0.4, 0.7, 0.7)])
    assert [p for _, p in model.saved] == [
        str(tmp_path / "best-1.weights.h5"),
        str(tmp_path / "best-3.weights.h5"),
    ]


def test_model_checkpoint_save_freq_counts_steps_across_chunks_and_epochs(tmp_path):
    # 10 steps an epoch in chunks of 5, save_freq 15: 5, 10 | 15 -> save after step 5 of
    # epoch 2 | 5 | 10, 15 -> save after step 10 of epoch 3.
    model = StandInModel()
    path = str(tmp_path / "w-{epoch}-{batch}.keras")
    fit(model, [callbacks.ModelCheckpoint(path, save_freq=15)], [{"loss": 1.0}] * 3)
    assert [p for _, p in model.saved] == [
        str(tmp_path / "w-2-5.keras"),
        str(tmp_path / "w-3-10.keras"),
    ]
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        callbacks.ModelCheckpoint(path, save_freq="batch")


def test_model_checkpoint_missing_key_and_missing_monitor(tmp_path):
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        fit(StandInModel(), [callbacks.ModelCheckpoint(str(tmp_path / "{acc}.keras"))], [{}])
    model = StandInModel()
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True)
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        fit(model, [checkpoint], [{"loss": 1.0}])
    assert len(model.saved) == 1


# --- Progress bar: formatting ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, " 0s/step"),
        (2.4, " 2s/step"),
        (1.0, " 1s/step"),
        (0.0012, " 1ms/step"),
        (0.001, " 1ms/step"),
        (0.00012, " 120us/step"),
        (3e-6, " 3us/step"),
    ],
)
def test_format_time_matches_keras(seconds, text):
    assert format_time(seconds) == text


def test_format_eta_and_values_match_keras():
    assert [format_eta(t) for t in (7.9, 59.0, 125.0, 3725.0)] == ["7s", "59s", "2:05", "1:02:05"]
    assert format_value(0.91234) == "0.9123"
    assert format_value(-0.5) == "-0.5000"
    assert format_value(0.0005) == "5.0000e-04"
    assert format_value(0.0) == "0.0000e+00"
    assert format_value(np.array([1.0, 2.0])) == "1.5000"


class Clock:
    """A stand-in for the `time` module inside _progbar: time moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(_progbar, "time", fake)
    return fake


def progbar_fit(clock, verbose, dynamic, monkeypatch, epochs=2):
    """Two epochs of 1875 steps in 5 chunks of 375 steps, 0.48 s each (2.4 s an epoch)."""
    monkeypatch.setattr(_progbar, "is_dynamic_display", lambda: dynamic)
    model = StandInModel()
    cb_list = callbacks.CallbackList(
        [],
        add_history=True,
        add_progbar=True,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=1875,
    )
    cb_list.on_train_begin()
    for epoch in range(epochs):
        cb_list.on_epoch_begin(epoch)
        for chunk in range(1, 6):
            clock.now += 0.48
            running = {"loss": 1.8 / chunk, "accuracy": 0.4 + 0.1 * chunk}
            cb_list.on_train_batch_end(375 * chunk - 1, running)
        logs = {"loss": 0.3186, "accuracy": 0.9239, "val_loss": 0.2, "val_accuracy": 0.95}
        cb_list.on_epoch_end(epoch, logs)
        clock.now += 1.0  # time outside the epoch does not count
    cb_list.on_train_end(logs)


FINAL = "1875/1875 " + BAR + " 2s 1ms/step - accuracy: 0.9239 - loss: 0.3186"
FINAL += " - val_accuracy: 0.9500 - val_loss: 0.2000"


def test_progbar_verbose_1_not_a_terminal_prints_one_line_per_epoch(clock, monkeypatch, capsys):
    # 2.4 s for 1875 steps: 1.28 ms/step, shown "1ms/step"; elapsed "2s". No ANSI codes.
    progbar_fit(clock, verbose=1, dynamic=False, monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert out == f"Epoch 1/2\n{FINAL}\nEpoch 2/2\n{FINAL}\n"


def test_progbar_verbose_1_terminal_redraws_in_place(clock, monkeypatch, capsys):
    progbar_fit(clock, verbose=1, dynamic=True, monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    epoch_1 = out.split("Epoch 2/2\n")[0]
    assert epoch_1.startswith("Epoch 1/2\n\r")
    assert epoch_1.endswith("\n") and epoch_1.count("\n") == 2  # the Epoch line and the last one
    frames = epoch_1.removeprefix("Epoch 1/2\n").rstrip("\n").split("\r")[1:]
    assert len(frames) == 6  # five chunks and the final line
    # First chunk, raw: bold count, 4/20 green done, grey rest, bold ETA.
    # 0.48 s / 375 steps = 1.28 ms/step; ETA 1.28 ms * 1500 = 1.92 s, shown "1s".
    assert frames[0] == (
        "\x1b[1m 375/1875\x1b[0m \x1b[32m━━━━\x1b[0m\x1b[37m" + "━" * 16 + "\x1b[0m"
        " \x1b[1m1s\x1b[0m 1ms/step - accuracy: 0.5000 - loss: 1.8000"
    )
    plain = [ANSI.sub("", frame) for frame in frames]
    # Running means are shown as they come (not averaged again); ETA 1.28 ms * (1875 - 750).
    assert plain[1] == " 750/1875 " + BAR + " 1s 1ms/step - accuracy: 0.6000 - loss: 0.9000"
    assert plain[4] == "1875/1875 " + BAR + " 0s 1ms/step - accuracy: 0.9000 - loss: 0.3600"
    assert plain[5] == FINAL
    green = [len(re.search(r"\x1b\[32m(━*)", f).group(1)) for f in frames[1:5]]
    assert green == [8, 12, 16, 20]
    assert "Epoch 2/2\n\r" in out


def test_progbar_pads_a_shorter_redraw_with_spaces(clock, capsys):
    bar = Progbar(100, dynamic_display=True, stateless_metrics=())
    clock.now += 1.0  # 100ms/step on both lines, ETA 9s then 8s: only the values differ
    bar.update(10, [("loss", 12345.678)])
    clock.now += 1.0
    bar.update(20, [("loss", 1.0)])
    frames = capsys.readouterr().out.split("\r")[1:]
    widths = [len(ANSI.sub("", f)) for f in frames]
    assert widths[0] == widths[1]  # "1.0000" padded to the width of "12345.6780"
    assert frames[1].endswith("loss: 1.0000    ")


def test_progbar_verbose_2_prints_one_summary_line_per_epoch(clock, monkeypatch, capsys):
    progbar_fit(clock, verbose=2, dynamic=True, monkeypatch=monkeypatch)
    line = "1875/1875 - 2s - 1ms/step - accuracy: 0.9239 - loss: 0.3186"
    line += " - val_accuracy: 0.9500 - val_loss: 0.2000"
    assert capsys.readouterr().out == f"Epoch 1/2\n{line}\nEpoch 2/2\n{line}\n"


def test_progbar_single_epoch_has_no_epoch_line_and_verbose_0_is_silent(clock, monkeypatch, capsys):
    progbar_fit(clock, verbose=1, dynamic=False, monkeypatch=monkeypatch, epochs=1)
    assert (
        capsys.readouterr().out == FINAL + "\n"
    )  # Keras 3 prints "Epoch 1/1" only when epochs > 1
    fit(StandInModel(), [], [{"loss": 1.0}] * 2, verbose=0)
    assert capsys.readouterr().out == ""


def test_progbar_learning_rate_from_callbacks_comes_last(clock, monkeypatch, capsys):
    monkeypatch.setattr(_progbar, "is_dynamic_display", lambda: False)
    reduce = callbacks.ReduceLROnPlateau(monitor="val_loss")
    fit(StandInModel(learning_rate=0.001), [reduce], [{"loss": 0.5, "val_loss": 0.25}], verbose=2)
    assert capsys.readouterr().out.endswith(
        " - loss: 0.5000 - val_loss: 0.2500 - learning_rate: 1.0000e-03\n"
    )


def test_progbar_redraws_at_most_every_interval_except_the_last(clock, capsys):
    bar = Progbar(10, dynamic_display=True, stateless_metrics=())
    bar.update(1, [("loss", 1.0)])
    clock.now += 0.01
    bar.update(2, [("loss", 0.9)])  # within 0.05 s: not drawn
    clock.now += 0.01
    bar.update(10, [("loss", 0.8)])  # the last update is always drawn
    frames = [ANSI.sub("", f) for f in capsys.readouterr().out.split("\r")[1:]]
    assert [f.split()[0] for f in frames] == ["1/10", "10/10"]
    assert frames[1].endswith("loss: 0.8000\n")


def test_progbar_averages_stateless_metrics_like_keras(clock, capsys):
    # Keras's default: a value counts for the steps since the last update: (1 * 1 + 4 * 2) / 3.
    bar = Progbar(10, dynamic_display=False, verbose=1)
    bar.update(1, [("loss", 1.0)])
    bar.update(3, [("loss", 4.0)])
    bar.update(3, finalize=True)
    assert capsys.readouterr().out.endswith("- loss: 3.0000\n")
    with pytest.raises(ValueError, match="not both"):
        Progbar(10, stateful_metrics=["a"], stateless_metrics=["b"])


def test_progbar_time_per_step_leaves_out_the_first_step(clock, capsys):
    # Step 1 takes 10 s; steps 2..10 take 0.002 s each: 2ms/step, not (10 + 0.018) / 10.
    bar = Progbar(10, verbose=2, dynamic_display=False)
    clock.now += 10.0
    bar.update(1)
    clock.now += 0.018
    bar.update(10)
    assert capsys.readouterr().out == "10/10 - 10s - 2ms/step\n"


def test_progbar_logger_for_evaluate_and_predict(clock, monkeypatch, capsys):
    monkeypatch.setattr(_progbar, "is_dynamic_display", lambda: False)
    cb_list = callbacks.CallbackList(
        None, add_progbar=True, model=StandInModel(), verbose=1, epochs=1, steps=313
    )
    cb_list.on_test_begin()
    clock.now += 0.5
    cb_list.on_test_batch_end(155, {"loss": 0.5, "accuracy": 0.8})
    clock.now += 0.5
    cb_list.on_test_batch_end(312, {"loss": 0.4, "accuracy": 0.9})
    cb_list.on_test_end({"loss": 0.4, "accuracy": 0.9})
    # 1 s / 313 steps = 3.19 ms/step; metrics sorted by name.
    assert capsys.readouterr().out == (
        "313/313 " + BAR + " 1s 3ms/step - accuracy: 0.9000 - loss: 0.4000\n"
    )
    cb_list.on_predict_begin()
    clock.now += 0.2
    cb_list.on_predict_batch_end(312, {"outputs": np.zeros(3)})
    cb_list.on_predict_end()
    assert capsys.readouterr().out == "313/313 " + BAR + " 0s 639us/step\n"


def test_progbar_logger_is_silent_for_validation_inside_fit(clock, monkeypatch, capsys):
    monkeypatch.setattr(_progbar, "is_dynamic_display", lambda: False)
    cb_list = callbacks.CallbackList(
        None, add_progbar=True, model=StandInModel(), verbose=1, epochs=1, steps=4
    )
    cb_list.on_train_begin()
    cb_list.on_epoch_begin(0)
    cb_list.on_train_batch_end(3, {"loss": 1.0})
    cb_list.on_test_begin()
    cb_list.on_test_batch_end(1, {"loss": 2.0})
    cb_list.on_test_end({"loss": 2.0})
    cb_list.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
    assert (
        capsys.readouterr().out == "4/4 " + BAR + " 0s 0s/step - loss: 1.0000 - val_loss: 2.0000\n"
    )
