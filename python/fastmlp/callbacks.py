"""Keras 3 callbacks: hooks that `fit`, `evaluate` and `predict` call.

The training loop runs many minibatch steps in C++ per call and wakes up between chunks of about
0.1 s. A callback that overrides a batch hook (`on_train_batch_begin` / `_end`, `on_batch_begin`
/ `_end`, the test and predict ones) gets it after every batch, as in Keras: the loop then runs
one step per call (a few tens of microseconds more per step). Without one, the progress bar and
the library's own callbacks see `on_train_batch_end(batch, logs)` once per chunk, with `batch`
the index of the last step done in the epoch; `logs` are the running means of the epoch so far.

A callback may use of its model only `stop_training`, `get_weights()`, `set_weights()`,
`optimizer.learning_rate`, `history`, and `save()` / `save_weights()` (ModelCheckpoint).
"""

from __future__ import annotations

from typing import Any

from ._progbar import Progbar, print_msg

Logs = dict[str, Any]


class Callback:
    """Base class of callbacks: every hook does nothing until a subclass overrides it.

    `params` holds the loop's settings (`verbose`, `epochs`, `steps`); `model` is the model
    being trained. `on_batch_begin` / `on_batch_end` are the Keras aliases of the train hooks.
    """

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self._model: Any = None

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self._model = model

    @property
    def model(self) -> Any:
        return self._model

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_train_begin(self, logs: Logs | None = None) -> None: ...
    def on_train_end(self, logs: Logs | None = None) -> None: ...
    def on_test_begin(self, logs: Logs | None = None) -> None: ...
    def on_test_end(self, logs: Logs | None = None) -> None: ...
    def on_predict_begin(self, logs: Logs | None = None) -> None: ...
    def on_predict_end(self, logs: Logs | None = None) -> None: ...


_BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def _needs_every_batch(callback: Callback, kind: str) -> bool:
    """Whether `callback` has its own batch hooks of `kind` ("train", "test", "predict"), in its
    class or set on the instance (LambdaCallback). The library's callbacks that are content with
    chunks of steps (progress bar, NaN check, checkpoints by step count) say so with
    `_chunked_batch_hooks` in the class that defines the hooks (a user's subclass overriding
    one is called after every batch)."""
    for hook in _BATCH_HOOKS[kind]:
        if hook in vars(callback):
            return True
        owner = next(c for c in type(callback).__mro__ if hook in vars(c))
        if owner is not Callback and not vars(owner).get("_chunked_batch_hooks", False):
            return True
    return False


def _pythonify_logs(logs: Logs) -> Logs:
    """Flattens nested dicts, turns numbers into Python floats and sorts by name, `val_` last.

    The order is the order of the progress bar and of `History.history`, as in Keras 3:
    `accuracy, loss, val_accuracy, val_loss`.
    """
    result: Logs = {}
    for key, value in logs.items():
        if isinstance(value, dict):
            result.update(_pythonify_logs(value))
            continue
        try:
            result[key] = float(value)
        except (TypeError, ValueError):
            result[key] = value
    return dict(sorted(result.items(), key=lambda item: (item[0].startswith("val_"), item[0])))


def _flatten(callbacks: Any) -> list[Callback]:
    if isinstance(callbacks, (list, tuple)):
        return [cb for item in callbacks for cb in _flatten(item)]
    if not isinstance(callbacks, Callback):
        raise TypeError(
            f"callbacks must hold fastmlp.callbacks.Callback objects, got {type(callbacks).__name__} "
            f"{callbacks!r}"
        )
    return [callbacks]


class CallbackList(Callback):
    """Calls every hook on a list of callbacks at once, as Keras 3's `CallbackList`.

    Args:
        callbacks: A callback or a (nested) list of callbacks. Defaults to `None`.
        add_history: Add a `History` unless the list has one; `model.history` is set to it.
            Defaults to `False`.
        add_progbar: Add a `ProgbarLogger` (last) unless the list has one. Defaults to `False`.
        model: The model the callbacks act on. Defaults to `None`.
        **params: Passed to every callback's `set_params`: `verbose`, `epochs`, `steps`.
    """

    def __init__(
        self,
        callbacks: Any = None,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ) -> None:
        super().__init__()
        self.callbacks: list[Callback] = _flatten(callbacks) if callbacks else []
        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self._progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    @property
    def history(self) -> History | None:
        """The `History` in the list (added or given), if any."""
        return self._history

    def every_batch(self, kind: str) -> bool:
        """Whether a callback needs the batch hooks of `kind` ("train", "test" or "predict")
        after every batch rather than once per chunk of steps."""
        return any(_needs_every_batch(cb, kind) for cb in self.callbacks)

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model: Any) -> None:
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_batch_begin", batch, logs or {})

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_batch_end", batch, _pythonify_logs(logs or {}))

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._call("on_epoch_begin", epoch, logs if logs is not None else {})

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        # Tidied in place, and the same dict goes to every callback, so what a callback adds
        # (ReduceLROnPlateau's "learning_rate") reaches the History and the caller's dict.
        logs = logs if logs is not None else {}
        tidy = _pythonify_logs(logs)
        logs.clear()
        logs.update(tidy)
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_train_batch_begin", batch, logs or {})

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_train_batch_end", batch, _pythonify_logs(logs or {}))

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_test_batch_begin", batch, logs or {})

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_test_batch_end", batch, _pythonify_logs(logs or {}))

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_predict_batch_begin", batch, logs or {})

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_predict_batch_end", batch, logs or {})

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._call("on_train_begin", logs if logs is not None else {})

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._call("on_train_end", logs if logs is not None else {})

    def on_test_begin(self, logs: Logs | None = None) -> None:
        self._call("on_test_begin", logs if logs is not None else {})

    def on_test_end(self, logs: Logs | None = None) -> None:
        self._call("on_test_end", _pythonify_logs(logs or {}))

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._call("on_predict_begin", logs if logs is not None else {})

    def on_predict_end(self, logs: Logs | None = None) -> None:
        self._call("on_predict_end", logs if logs is not None else {})


class History(Callback):
    """Records the logs of every epoch: `history["loss"][i]` is the loss of epoch `epoch[i]`."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self


class ProgbarLogger(Callback):
    """Prints `Epoch 1/5` and the Keras 3 progress bar to stdout (verbose 1 or 2 from `params`).

    Logs arrive as running means, so they are shown as given, not averaged again.
    """

    _chunked_batch_hooks = True

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.progbar: Progbar | None = None
        self.target: int | None = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._called_in_fit = True  # validation inside fit stays silent

    def on_test_begin(self, logs: Logs | None = None) -> None:
        if not self._called_in_fit:
            self._reset_progbar()

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._reset_progbar()

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._reset_progbar()
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._update_progbar(batch, None)  # predictions are not metrics

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._finalize_progbar(logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs: Logs | None = None) -> None:
        self._finalize_progbar(logs)

    def _reset_progbar(self) -> None:
        self.seen = 0
        self.progbar = Progbar(self.target, verbose=self.verbose, stateless_metrics=())

    def _update_progbar(self, batch: int, logs: Logs | None) -> None:
        if self.progbar is None:
            self._reset_progbar()
        self.seen = batch + 1  # one-based
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs: Logs | None) -> None:
        if self.progbar is None:
            self._reset_progbar()
        if self.target is None:
            self.target = self.progbar.target = self.seen
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)


# The user-facing callbacks live in modules of their own; they are part of this one's API.
from fastmlp._backup import BackupAndRestore
from fastmlp._monitoring import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from fastmlp._user_callbacks import (
    CSVLogger,
    LambdaCallback,
    LearningRateScheduler,
    TerminateOnNaN,
)

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
