"""Callbacks a user adds to `fit`: LearningRateScheduler, TerminateOnNaN, CSVLogger, LambdaCallback.

They are public as `fastmlp.callbacks.X`. The ones that watch a metric (EarlyStopping,
ReduceLROnPlateau, ModelCheckpoint) are in _monitoring.py; the base class and the machinery `fit`
drives them with (CallbackList, History, ProgbarLogger) are in callbacks.py.
"""

from __future__ import annotations

import collections.abc
import csv
import inspect
import numbers
import os
from typing import Any, Callable

import numpy as np

from fastmlp._progbar import print_msg
from fastmlp._validation import warn_user
from fastmlp.callbacks import Callback, Logs


def _takes_two_args(schedule: Callable[..., Any]) -> bool:
    """Whether `schedule` accepts `(epoch, lr)`; Keras 3 tries that first, then `(epoch)`."""
    try:
        signature = inspect.signature(schedule)
    except (TypeError, ValueError):  # some builtins have no signature: assume the new API
        return True
    try:
        signature.bind(0, 0.0)
    except TypeError:
        return False
    return True


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch from `schedule(epoch, lr)`.

    Args:
        schedule: A function of the epoch index (from 0) and the current learning rate that
            returns the new learning rate; a function of the epoch alone also works.
        verbose: 1 prints the learning rate set at each epoch. Defaults to `0`.

    Example: `LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.9)`.
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        if _takes_two_args(self.schedule):
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        else:
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, numbers.Real) or isinstance(learning_rate, bool):
            raise TypeError(
                f"The output of the `schedule` function should be a float. Got: {learning_rate!r}"
            )
        optimizer.learning_rate = float(learning_rate)
        if self.verbose > 0:
            print_msg(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{float(learning_rate)}."
            )

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stops training, with a warning, when the loss becomes NaN or infinite.

    Checked after every chunk of steps (about 0.1 s of training) and at the end of every epoch.

    Args:
        raise_error: Raise `RuntimeError` at once instead of stopping gracefully with
            `model.stop_training = True`. Defaults to `False`.
    """

    _chunked_batch_hooks = True  # a NaN loss stays NaN: a chunk's end finds it

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def _check(self, where: str, logs: Logs | None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or np.isfinite(loss) or self.model.stop_training:
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at {where}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        warn_user(f"{where}: Invalid loss, terminating training", RuntimeWarning)
        self.model.stop_training = True

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._check(f"Batch {batch}", logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._check(f"Epoch {epoch + 1}", logs)


class CSVLogger(Callback):
    """Streams the logs of every epoch to a CSV file: a header `epoch,<sorted names>`, then rows.

    Args:
        filename: Path of the CSV file, e.g. `"run/log.csv"`.
        separator: The string between fields. Defaults to `","`.
        append: Append to an existing file (no second header) instead of overwriting it.
            Defaults to `False`.
    """

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self.writer: csv.DictWriter[str] | None = None
        self.csv_file: Any = None
        self.append_header = True

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self.append_header = not f.readline()
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        mode = "a" if self.append else "w"
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")  # noqa: SIM115
        self.writer, self.keys = None, None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}

        def handle_value(value: Any) -> Any:
            is_scalar = isinstance(value, str) or (
                isinstance(value, np.ndarray) and value.ndim == 0
            )
            if not is_scalar and isinstance(value, collections.abc.Iterable):
                return f'"[{", ".join(map(str, value))}]"'
            return value

        if self.keys is None:
            self.keys = sorted(logs)
        if self.writer is None:
            dialect = type("CustomDialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch", *self.keys], dialect=dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch, **{key: handle_value(logs.get(key, "NA")) for key in self.keys}}
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class LambdaCallback(Callback):
    """A callback made of functions, e.g. `LambdaCallback(on_epoch_end=lambda epoch, logs: ...)`.

    Args:
        on_epoch_begin: `f(epoch, logs)` at the start of every epoch. Defaults to `None`.
        on_epoch_end: `f(epoch, logs)` at the end of every epoch. Defaults to `None`.
        on_train_begin: `f(logs)` when training starts. Defaults to `None`.
        on_train_end: `f(logs)` when training ends. Defaults to `None`.
        on_train_batch_begin: `f(batch, logs)` before every batch. Defaults to `None`.
        on_train_batch_end: `f(batch, logs)` after every batch. Defaults to `None`.
        **kwargs: Any other hook of `Callback`, by name, e.g. `on_test_end=f`.
    """

    def __init__(
        self,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_train_begin: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
        on_train_batch_begin: Callable[..., Any] | None = None,
        on_train_batch_end: Callable[..., Any] | None = None,
        **kwargs: Callable[..., Any],
    ) -> None:
        super().__init__()
        self.__dict__.update(kwargs)
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        self.__dict__.update({name: f for name, f in hooks.items() if f is not None})
