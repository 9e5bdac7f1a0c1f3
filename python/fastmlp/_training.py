"""The training loops of `Sequential`: fit and train_on_batch.

Each call into the engine runs a chunk of minibatch steps (about CHUNK_SECONDS of work) with the
GIL released; between chunks Python draws the progress bar, runs callbacks and lets Ctrl-C through.
fit validates with the loop of evaluate (_inference.py), which also holds what both share: the
engine's sums added up over calls, the batch size and the per-sample weights.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from fastmlp import callbacks as callbacks_module
from fastmlp._inference import (
    _add,
    _batch_size,
    _evaluate,
    _result,
    _sample_weights,
    _sums,
    _unsupported,
    _zero,
)
from fastmlp._validation import all_finite, fraction, nonfinite, positive_int, verbosity, warn_user

CHUNK_SECONDS = 0.1  # how long the engine runs before Python wakes up


def schedule_rates(model: Any, engine: Any, count: int) -> None:
    """Before an engine call of up to `count` steps of a model whose learning rate is a schedule:
    the rates of those steps into its engine, unless the rates given before cover them (the first
    call of an epoch gives the whole epoch's, so a schedule is evaluated once a step). Kept by the
    model, not the optimizer: one optimizer may serve several models."""
    schedule = model.optimizer._schedule
    if schedule is None:
        return
    first = int(engine.iterations)
    cover = model._rates_cover
    if cover is not None and cover[0] is engine and cover[1] <= first and first + count <= cover[2]:
        return
    engine.set_learning_rates(first, schedule.rates(first, count))
    model._rates_cover = (engine, first, first + count)


def _warn_if_nothing_trains(engine: Any) -> None:
    """Keras's warning for a model with no trainable weights (its steps change nothing and do
    not count in optimizer.iterations)."""
    if not engine.trains():
        warn_user("The model does not have any trainable weights.")


def fit(
    self,
    x: Any = None,
    y: Any = None,
    batch_size: int | None = None,
    epochs: int = 1,
    verbose: Any = "auto",
    callbacks: Any = None,
    validation_split: float = 0.0,
    validation_data: Any = None,
    shuffle: bool = True,
    class_weight: Any = None,
    sample_weight: Any = None,
    initial_epoch: int = 0,
    steps_per_epoch: Any = None,
    validation_steps: Any = None,
    validation_batch_size: int | None = None,
    validation_freq: int = 1,
) -> Any:
    """Train the model for a number of epochs.

    Args:
        x: Samples, shape (samples, *input_shape); any real dtype, converted once. A CuPy array
            is used on the GPU where it is (a GPU model) or copied to the host (a CPU model).
        y: Targets: class labels (samples,) for sparse cross-entropy, else (samples, outputs).
        batch_size: Samples per gradient step. Defaults to 32.
        epochs: Index of the last epoch (as Keras: trains epochs - initial_epoch epochs). Defaults to 1.
        verbose: "auto" (= 1), 0 (silent), 1 (progress bar), 2 (one line per epoch). Defaults to "auto".
        callbacks: List of `callbacks.Callback`. Defaults to None.
        validation_split: Fraction of the data, taken from the end before shuffling, held out for
            validation. Defaults to 0.0.
        validation_data: (x_val, y_val), or (x_val, y_val, sample_weight), evaluated at the end
            of each epoch. Defaults to None.
        shuffle: Reshuffle the training samples every epoch. Defaults to True.
        initial_epoch: Epoch to start from (to resume training). Defaults to 0.
        validation_batch_size: Defaults to batch_size.
        validation_freq: Validate every this many epochs. Defaults to 1.
        class_weight: {class index: weight} (1 for classes left out): each sample's loss
            times its class's weight (the class of a one-hot target is its argmax, of a single
            column its rounded value), and its weight in the weighted metrics. CPU engine.
            Defaults to None.
        sample_weight: One weight per sample for its loss, as Keras: the batch's loss is
            sum(w_i * loss_i) / batch size; and for compile's weighted_metrics (`metrics` are
            not weighted). CPU engine. Defaults to None.
        steps_per_epoch, validation_steps: not supported; must be None.

    Returns:
        A `callbacks.History` whose `.history` maps "loss", metric names and "val_..." to lists.
    """
    self._require_compiled("fit")
    _unsupported(steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
    batch_size = _batch_size(batch_size)
    val_batch_size = _batch_size(validation_batch_size, batch_size)
    epochs = positive_int(epochs, "epochs", minimum=0)
    initial_epoch = positive_int(initial_epoch, "initial_epoch", minimum=0)
    validation_freq = positive_int(validation_freq, "validation_freq")
    verbose = verbosity(verbose)
    validation_split = fraction(validation_split, "validation_split")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True or False, got {shuffle!r}")

    # The GPU engine (and its NumPy twin) checks x for NaN / infinity where x is copied to (_place).
    host_check = self.device == "cpu"
    # With nothing of the user's run between steps (no callbacks), the CPU engine checks the
    # first epoch's batches as it compresses them, instead of a pass over all of x before it
    # (MNIST: 5 ms, 5% of an epoch at batch 256); a bad value then puts the model back as it
    # was before this fit (the epoch loop below) and raises the same error. (An unbuilt model
    # has no engine yet: it is checked before, as with callbacks.)
    deferred = (
        host_check
        and not callbacks
        and epochs > initial_epoch
        and not getattr(self._engine, "l1_clipping", True)  # (its state is not put back)
    )
    y_given = y
    x, y = self._prepare(x, y, check_finite=host_check and not deferred, training="fit")
    if y is None:
        raise ValueError("fit needs targets y")
    w = _sample_weights(self, sample_weight, class_weight, y_given, x.shape[0])
    val, target_map, val_w = None, self._target_map, None
    val_map = target_map
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight)"
            )
        val = self._prepare(
            validation_data[0], validation_data[1], name="validation_data", check_finite=host_check
        )
        val_map = self._target_map
        if len(validation_data) == 3:
            val_w = _sample_weights(
                self, validation_data[2], None, None, val[0].shape[0], "validation_data[2]"
            )
    elif validation_split > 0:
        split = int(x.shape[0] * (1 - validation_split))
        if split == 0 or split == x.shape[0]:
            raise ValueError(
                f"validation_split={validation_split} leaves no samples for training or validation "
                f"out of {x.shape[0]}"
            )
        val, x, y = (x[split:], y[split:]), x[:split], y[:split]
        if deferred and not all_finite(val[0]):  # (rows no training step reads)
            raise nonfinite("x")
        if w is not None:  # (class_weight weights the training batches only, as Keras)
            val_w, w = (w[split:] if sample_weight is not None else None), w[:split]
    self._use_targets(y, target_map)

    engine = self._engine
    _warn_if_nothing_trains(engine)
    place = getattr(engine, "to_device", None)  # a GPU engine: one copy of the data for the fit
    y_host, val_y_host = y, None if val is None else val[1]  # the accuracy rule reads the host copy
    if place is not None:
        x, y = _place(engine, x, "x"), place(y)
        name = "validation_data" if validation_data is not None else "x"  # (else: split off x)
        val = None if val is None else (_place(engine, val[0], name), place(val[1]))
    n = x.shape[0]
    batch_size = min(batch_size, n)  # a batch larger than the data is the whole data
    steps = math.ceil(n / batch_size)
    cbs = callbacks_module.CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        model=self,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
    )
    self.stop_training = False
    with self._calling("fit"):
        self._initial_epoch = None  # (BackupAndRestore sets the epoch it restored)
        cbs.on_train_begin()
        if self._initial_epoch is not None:
            initial_epoch = self._initial_epoch
        logs: dict[str, float] = {}
        # Epochs shorter than a chunk run whole in the engine, several per call, when nothing needs
        # Python between them (no callback but History, no progress bar, no validation): the
        # playground's thousands of epochs. The first epoch runs as any other, to time one.
        whole_epochs = (
            cbs.callbacks == [cbs.history]
            and val is None
            and w is None
            and self.optimizer._schedule is None  # (its rates are given per call)
            and hasattr(engine, "train_epochs")
        )
        per_call = 1 if cbs.every_batch("train") else steps  # steps per engine call at most
        epoch, short = initial_epoch, False
        before = _engine_state(engine) if deferred else None  # (until the first epoch is done)
        while epoch < epochs:
            if whole_epochs and short:
                for sums in engine.train_epochs(
                    x, y, batch_size, epochs - epoch, bool(shuffle), CHUNK_SECONDS
                ):
                    logs = self._logs(_sums(sums))
                    cbs.history.on_epoch_end(epoch, logs)  # the only callback, called directly
                    epoch += 1
                self._share_weights()
                continue
            began = time.perf_counter()
            cbs.on_epoch_begin(epoch)
            engine.begin_epoch(n, bool(shuffle))
            totals, done = _zero(), 0
            while not engine.epoch_done:
                cbs.on_train_batch_begin(done)
                schedule_rates(self, engine, steps - done)  # (the rest of the epoch: once)
                check = {"check_x": True} if before is not None else {}  # (the CPU engine's)
                try:
                    sums = engine.train_steps(x, y, batch_size, per_call, CHUNK_SECONDS, w, **check)
                except ValueError:
                    if before is not None:  # (a bad value of x, or a bad label, found mid-epoch)
                        _set_engine_state(engine, before)
                        self._share_weights()
                    raise
                self._share_weights()  # (the same layers in other models: nested Sequential)
                _add(totals, sums)
                done += sums.steps
                logs = self._logs(totals)
                cbs.on_train_batch_end(done - 1, logs)
                if self.stop_training:
                    break
            logs = self._logs(totals)
            if val is not None and (epoch + 1) % validation_freq == 0:
                # As Keras's fit, the validation calls the test hooks of the same callbacks.
                self._use_targets(val_y_host, val_map)
                cbs.on_test_begin()
                val_logs = self._logs(_evaluate(self, val[0], val[1], val_batch_size, cbs, val_w))
                cbs.on_test_end(val_logs)
                logs.update({f"val_{name}": value for name, value in val_logs.items()})
                self._use_targets(y_host, target_map)
            before = None  # (every row of x has been through a checked step)
            cbs.on_epoch_end(epoch, logs)
            short = time.perf_counter() - began < CHUNK_SECONDS
            epoch += 1
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history


def _engine_state(engine: Any) -> tuple[Any, ...]:
    """What a training step changes in the engine: parameters (moving statistics included),
    optimizer state, random generator (L1 clipping's dead weights are not in it)."""
    return engine.get_params(), engine.get_optimizer_state(), engine.get_rng_state()


def _set_engine_state(engine: Any, state: tuple[Any, ...]) -> None:
    params, optimizer, rng = state
    engine.set_params(params)
    engine.set_optimizer_state(*optimizer)
    engine.set_rng_state(rng)


def _place(engine: Any, x: Any, name: str) -> Any:
    """x in the GPU engine's memory, checked there for NaN / infinity (before any step)."""
    x = engine.to_device(x)
    if not engine.all_finite(x):
        raise nonfinite(name)
    return x


def train_on_batch(
    self,
    x: Any,
    y: Any = None,
    sample_weight: Any = None,
    class_weight: Any = None,
    return_dict: bool = False,
) -> Any:
    """One gradient step on exactly this batch; returns its loss (and metrics, as evaluate)."""
    self._require_compiled("train_on_batch")
    y_given = y
    x, y = self._prepare(x, y, training="batch")
    if y is None:
        raise ValueError("train_on_batch needs targets y")
    w = _sample_weights(self, sample_weight, class_weight, y_given, x.shape[0])
    _warn_if_nothing_trains(self._engine)
    schedule_rates(self, self._engine, 1)
    logs = self._logs(_sums(self._engine.train_on_batch(x, y, w)))
    self._share_weights()
    return _result(logs, return_dict)
