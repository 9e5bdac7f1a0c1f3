"""Callbacks that watch a metric: EarlyStopping, ReduceLROnPlateau and ModelCheckpoint.

Keras 3's arguments and logic ("monitor", "mode", "min_delta", "patience", "save_best_only", ...).
They are public as `fastmlp.callbacks.X`.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from fastmlp._progbar import print_msg
from fastmlp._validation import warn_user
from fastmlp.callbacks import Callback, Logs


def _checked_mode(owner: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        warn_user(f"{owner} mode '{mode}' is unknown, fallback to auto mode.")
        return "auto"
    return mode


def _maximizes(monitor: str, mode: str, model: Any = None) -> bool:
    """Mode "max"; or "auto" with a monitor that is one of the model's metrics whose direction is
    up (accuracies, precision, recall, AUC, F-scores; as Keras 3 asks the metric), or, for any
    other name, named after accuracy or AUC; else minimise.

    Raises:
        ValueError: in "auto" mode, for a metric with no direction (true_positives, ...).
    """
    if mode != "auto":
        return mode == "max"
    name = monitor.removeprefix("val_")
    named = model._named_metrics() if hasattr(model, "_named_metrics") else []
    for log_name, metric, _ in named:  # (by the name in the logs: "weighted_accuracy", ...)
        if log_name == name:
            if metric.direction is None:
                raise ValueError(
                    f"monitor={monitor!r}: {type(metric).__name__} has no better direction; "
                    "pass mode='max' or mode='min'"
                )
            return metric.direction == "up"
    return "acc" in monitor or "auc" in monitor


class EarlyStopping(Callback):
    """Stops training when a monitored quantity has stopped improving.

    Args:
        monitor: Quantity to monitor. Defaults to `"val_loss"`.
        min_delta: Smallest change that counts as an improvement. Defaults to `0`.
        patience: Epochs without improvement after which training stops. Defaults to `0`.
        verbose: 1 prints a message when the callback acts. Defaults to `0`.
        mode: `"min"`, `"max"` or `"auto"` (the metric's direction; max for other names with
            "acc"/"auc"). Defaults to `"auto"`.
        baseline: A value to beat; epochs that do not beat it count against patience.
            Defaults to `None`.
        restore_best_weights: Restore, at the end of training, the weights of the epoch with the
            best value. Defaults to `False`.
        start_from_epoch: Epochs of warm-up before monitoring starts. Defaults to `0`.

    Example: `EarlyStopping(monitor="loss", patience=3)` stops after 3 epochs without a lower loss.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = _checked_mode("EarlyStopping", mode)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._maximize = _maximizes(monitor, self.mode)
        self.on_train_begin()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._maximize = _maximizes(self.monitor, self.mode, self.model)
        self.wait = 0
        self.stopped_epoch = 0
        self.best = -math.inf if self._maximize else math.inf
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch = 0

    def _is_improvement(self, value: float, reference: float) -> bool:
        if self._maximize:
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Patience restarts only when the epoch beats both the best and the baseline.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs: Logs | None) -> float | None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warn_user(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs)}",
            )
        return value


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` when a monitored quantity stops improving.

    Args:
        monitor: Quantity to monitor. Defaults to `"val_loss"`.
        factor: `new_lr = lr * factor`; must be below 1. Defaults to `0.1`.
        patience: Epochs without improvement before a reduction. Defaults to `10`.
        verbose: 1 prints a message at each reduction. Defaults to `0`.
        mode: `"min"`, `"max"` or `"auto"` (the metric's direction; max for other names with
            "acc"/"auc"). Defaults to `"auto"`.
        min_delta: Smallest change that counts as an improvement. Defaults to `1e-4`.
        cooldown: Epochs to wait after a reduction before counting again. Defaults to `0`.
        min_lr: Lower bound on the learning rate. Defaults to `0.0`.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.mode = _checked_mode("ReduceLROnPlateau", mode)
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = min_lr
        self._reset()

    def _reset(self) -> None:
        self._maximize = _maximizes(self.monitor, self.mode, self.model)
        self.best = -math.inf if self._maximize else math.inf
        self.cooldown_counter = 0
        self.wait = 0

    def _improves(self, value: float, best: float) -> bool:
        if self._maximize:
            return value > best + self.min_delta
        return value < best - self.min_delta

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warn_user(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is "
                f"not available. Available metrics are: {','.join(logs)}.",
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(current, self.best):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            old_lr = float(self.model.optimizer.learning_rate)
            if self.wait >= self.patience and old_lr > np.float32(self.min_lr):
                new_lr = max(old_lr * self.factor, self.min_lr)
                self.model.optimizer.learning_rate = new_lr
                if self.verbose > 0:
                    print_msg(
                        f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing "
                        f"learning rate to {new_lr}."
                    )
                self.cooldown_counter, self.wait = self.cooldown, 0


class ModelCheckpoint(Callback):
    """Saves the model (`model.save`) or its weights (`model.save_weights`) during training.

    Args:
        filepath: Where to save; may hold `{epoch}` and log names, e.g.
            `"ckpt/{epoch:02d}-{val_loss:.2f}.fastmlp"` (epoch counted from 1).
        monitor: Quantity compared when `save_best_only`. Defaults to `"val_loss"`.
        verbose: 1 prints a message at each save. Defaults to `0`.
        save_best_only: Save only when `monitor` improves on the best so far.
            Defaults to `False`.
        save_weights_only: Save the weights only. Defaults to `False`.
        mode: `"min"`, `"max"` or `"auto"` (the metric's direction; max for other names with
            "acc"/"auc"). Defaults to `"auto"`.
        save_freq: `"epoch"`, or an integer: save once that many steps have passed since the
            last save, at the end of a chunk of steps (about 0.1 s). Defaults to `"epoch"`.
        initial_value_threshold: Initial best value to beat when `save_best_only`.
            Defaults to `None`.
    """

    _chunked_batch_hooks = True  # counts the steps of each chunk

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__()
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq}. Expected save_freq are 'epoch' or integer "
                "values"
            )
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _checked_mode("ModelCheckpoint", mode)
        self.save_freq = save_freq
        self._maximize = _maximizes(monitor, self.mode)
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)
        else:
            self.best = -math.inf if self._maximize else math.inf
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = -1

    def on_train_begin(self, logs: Logs | None = None) -> None:
        # (the model's metrics tell the direction; a best value already found stays)
        maximize = _maximizes(self.monitor, self.mode, self.model)
        if maximize != self._maximize and math.isinf(self.best):
            self.best = -math.inf if maximize else math.inf
        self._maximize = maximize

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._current_epoch = epoch
        self._last_batch_seen = -1

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            return
        # A chunk may cover many steps: count them all (indices restart at 0 each epoch).
        self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save(self, epoch: int, logs: Logs, filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warn_user(f"Can save best model only with {self.monitor} available.")
            return True
        improved = current > self.best if self._maximize else current < self.best
        if self.verbose > 0:
            best = f"{self.best:.5f}"
            print_msg(
                f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                f"saving model to {filepath}"
                if improved
                else f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}"
            )
        if improved:
            self.best = current
        return improved

    def _save_model(self, epoch: int, batch: int | None, logs: Logs | None) -> None:
        logs = logs or {}
        try:
            if batch is None or "batch" in logs:
                filepath = self.filepath.format(epoch=epoch + 1, **logs)
            else:
                filepath = self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}'
            ) from e
        if not self._should_save(epoch, logs, filepath):
            return
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)
