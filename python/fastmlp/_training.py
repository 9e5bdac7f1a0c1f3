"""The loops of `Sequential`: fit, evaluate, predict and their one-batch forms.

Each call into the engine runs a chunk of minibatch steps (about CHUNK_SECONDS of work) with the
GIL released; between chunks Python draws the progress bar, runs callbacks and lets Ctrl-C through.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from fastmlp import callbacks as callbacks_module
from fastmlp._validation import fraction, positive_int, verbosity, warn_user

CHUNK_SECONDS = 0.1  # how long the engine runs before Python wakes up
PART_ROWS = 65536  # rows per engine call in evaluate / predict (tens of ms for the lecture model)
_COUNT_FIELDS = ("correct", "compared", "squared_error", "absolute_error")
_SUM_FIELDS = ("samples", "loss", *_COUNT_FIELDS)


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


# arrays, when confusion metrics / top-k accuracies / F-scores count
_BUCKET_FIELDS = ("positive_buckets", "negative_buckets", "ranks", "max_counts")


def _add(totals: dict[str, Any], sums: Any) -> None:
    _add_fields(totals, sums, _SUM_FIELDS)
    weighted = getattr(sums, "weighted", None)  # (the counts weighted by the sample weights)
    if weighted is not None:
        if totals["weighted"] is None:
            totals["weighted"] = dict.fromkeys(("weight", *_COUNT_FIELDS, *_BUCKET_FIELDS), 0.0)
        _add_fields(totals["weighted"], weighted, ("weight", *_COUNT_FIELDS))


def _add_fields(totals: dict[str, Any], sums: Any, fields: tuple[str, ...]) -> None:
    for field in fields:
        totals[field] += getattr(sums, field)
    for field in _BUCKET_FIELDS:
        counts = getattr(sums, field, None)
        if counts is not None and counts.size:
            totals[field] = totals[field] + counts  # (a new array: logs keep theirs)


def _zero() -> dict[str, Any]:
    return {**dict.fromkeys(_SUM_FIELDS + _BUCKET_FIELDS, 0.0), "weighted": None}


def _batch_size(batch_size: Any, default: int = 32) -> int:
    return default if batch_size is None else positive_int(batch_size, "batch_size")


def _sample_weights(
    self: Any, sample_weight: Any, class_weight: Any, y: Any, n: int, name: str = "sample_weight"
) -> np.ndarray | None:
    """Per-sample loss weights from Keras's sample_weight (n numbers) or class_weight ({class
    index: weight}, 1 for classes it does not name; the class of a one-hot row is its argmax, of
    a single column its rounded value), in the model's dtype; None for neither."""
    if sample_weight is None and class_weight is None:
        return None
    if sample_weight is not None and class_weight is not None:
        raise ValueError("You cannot use class_weight and sample_weight at the same time")
    if self.device != "cpu":
        raise NotImplementedError(
            "sample_weight / class_weight are supported by the CPU engine only (yet)"
        )
    if class_weight is not None:
        if not isinstance(class_weight, dict) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in class_weight
        ):
            raise TypeError(
                f"class_weight must be a dict {{class index: weight}}, got {class_weight!r}"
            )
        labels = np.asarray(y.get() if hasattr(y, "get") else y)
        if labels.ndim > 1:
            labels = np.argmax(labels, axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
        labels = np.round(labels.astype(np.float64)).astype(np.int64).reshape(-1)
        weights = np.array([float(class_weight.get(int(c), 1.0)) for c in labels])
    else:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.ndim == 2 and weights.shape[1] == 1:
            weights = weights[:, 0]
        if weights.shape != (n,):
            raise ValueError(
                f"{name}: expected one weight per sample, shape ({n},), got {weights.shape}"
            )
    if not np.isfinite(weights).all():
        raise ValueError(f"{name}: weights must be finite numbers")
    return np.ascontiguousarray(weights, dtype=self.dtype)


def _warn_if_nothing_trains(engine: Any) -> None:
    """Keras's warning for a model with no trainable weights (its steps change nothing and do
    not count in optimizer.iterations)."""
    if not engine.trains():
        warn_user("The model does not have any trainable weights.")


def _unsupported(**kwargs: Any) -> None:
    for name, value in kwargs.items():
        if value is not None:
            raise NotImplementedError(f"{name} is not supported by fastmlp yet")


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
    y_given = y
    x, y = self._prepare(x, y, check_finite=host_check, training="fit")
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
                sums = engine.train_steps(x, y, batch_size, per_call, CHUNK_SECONDS, w)
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
            cbs.on_epoch_end(epoch, logs)
            short = time.perf_counter() - began < CHUNK_SECONDS
            epoch += 1
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history


def _place(engine: Any, x: Any, name: str) -> Any:
    """x in the GPU engine's memory, checked there for NaN / infinity (before any step)."""
    x = engine.to_device(x)
    if not engine.all_finite(x):
        raise ValueError(f"{name} contains NaN or infinity; clean or impute it first")
    return x


def _parts(x: Any, batch_size: int, whole: bool = True) -> list[Any]:
    """Row blocks of about PART_ROWS (whole batches), so that Ctrl-C is seen between engine calls;
    whole=False: one batch per block."""
    rows = max(batch_size, PART_ROWS // batch_size * batch_size) if whole else batch_size
    return [x[i : i + rows] for i in range(0, x.shape[0], rows)]


def _evaluate(
    model: Any, x: Any, y: Any, batch_size: int, cbs: Any = None, w: np.ndarray | None = None
) -> dict[str, float]:
    """Sums of the engine's evaluation of (x, y), one block of rows per call; one batch per call
    with its test hooks when a callback of `cbs` needs them after every batch."""
    every = cbs is not None and cbs.every_batch("test")
    totals, offset = _zero(), 0
    for step, part in enumerate(_parts(x, batch_size, whole=not every)):
        rows = part.shape[0]
        if every:
            cbs.on_test_batch_begin(step)
        part_w = None if w is None else w[offset : offset + rows]
        sums = model._engine.evaluate(
            part, y[offset : offset + rows], min(batch_size, rows), part_w
        )
        _add(totals, sums)
        offset += rows
        if every:
            cbs.on_test_batch_end(step, model._logs(totals))
    return totals


def _sums(sums: Any) -> dict[str, float]:
    totals = _zero()
    _add(totals, sums)
    return totals


def evaluate(
    self,
    x: Any = None,
    y: Any = None,
    batch_size: int | None = None,
    verbose: Any = "auto",
    sample_weight: Any = None,
    steps: Any = None,
    callbacks: Any = None,
    return_dict: bool = False,
) -> Any:
    """Loss and metrics on (x, y), in inference mode (no dropout).

    Args:
        x: Samples.
        y: Targets.
        batch_size: Defaults to 32.
        verbose: "auto" (= 1) prints one progress-bar line, 0 is silent. Defaults to "auto".
        sample_weight: One weight per sample for its loss and the weighted metrics (as in fit).
            Defaults to None.
        callbacks: Callbacks for the test hooks. Defaults to None.
        return_dict: Return {"loss": ..., "accuracy": ...} instead of a list. Defaults to False.

    Returns:
        The loss if there are no metrics, else [loss, *metrics] (or a dict with return_dict).
    """
    self._require_compiled("evaluate")
    _unsupported(steps=steps)
    batch_size = _batch_size(batch_size)
    verbose = verbosity(verbose)
    y_given = y
    x, y = self._prepare(x, y)
    if y is None:
        raise ValueError("evaluate needs targets y")
    w = _sample_weights(self, sample_weight, None, y_given, x.shape[0])
    n_steps = math.ceil(x.shape[0] / batch_size)
    cbs = callbacks_module.CallbackList(
        callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=n_steps
    )
    with self._calling("evaluate"):
        cbs.on_test_begin()
        every = cbs.every_batch("test")
        logs = self._logs(_evaluate(self, x, y, batch_size, cbs, w))
        if not every:
            cbs.on_test_batch_end(n_steps - 1, logs)
        cbs.on_test_end(logs)
        return _result(logs, return_dict)


def predict(
    self,
    x: Any,
    batch_size: int | None = None,
    verbose: Any = "auto",
    steps: Any = None,
    callbacks: Any = None,
) -> np.ndarray:
    """Outputs of the model for x, in inference mode, as an array (samples, outputs).

    Args:
        x: Samples.
        batch_size: Defaults to 32. Results do not depend on it; the engine may use larger blocks.
        verbose: "auto" (= 1) prints one progress-bar line, 0 is silent. Defaults to "auto".
        callbacks: Callbacks for the predict hooks. Defaults to None.
    """
    _unsupported(steps=steps)
    batch_size = _batch_size(batch_size)
    verbose = verbosity(verbose)
    x, _ = self._prepare(x, check_finite=False)  # the engine checks, without a pass of its own
    n_steps = math.ceil(x.shape[0] / batch_size)
    cbs = callbacks_module.CallbackList(
        callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=n_steps
    )
    with self._calling("predict"):
        cbs.on_predict_begin()
        if cbs.every_batch("predict"):  # one batch per call, its outputs in the logs (as Keras)
            outs = []
            for step, part in enumerate(_parts(x, batch_size, whole=False)):
                cbs.on_predict_batch_begin(step)
                outs.append(self._engine.predict(part, part.shape[0], True))
                cbs.on_predict_batch_end(step, {"outputs": outs[-1]})
        else:
            # Rows are independent, so blocks larger than batch_size give the same numbers, faster.
            block = max(batch_size, 1024)
            outs = [
                self._engine.predict(part, min(block, part.shape[0]), True)
                for part in _parts(x, block)
            ]
            cbs.on_predict_batch_end(n_steps - 1, {})
        out = outs[0] if len(outs) == 1 else np.concatenate(outs)  # no copy in the common case
        cbs.on_predict_end()
        return out


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


def test_on_batch(
    self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
) -> Any:
    """Loss (and metrics) on exactly this batch, without training."""
    self._require_compiled("test_on_batch")
    y_given = y
    x, y = self._prepare(x, y)
    if y is None:
        raise ValueError("test_on_batch needs targets y")
    w = _sample_weights(self, sample_weight, None, y_given, x.shape[0])
    sums = self._engine.evaluate(x, y, x.shape[0], w)
    return _result(self._logs(_sums(sums)), return_dict)


def predict_on_batch(self, x: Any) -> np.ndarray:
    """Outputs for exactly this batch, without a progress bar."""
    x, _ = self._prepare(x)
    return self._engine.predict(x, x.shape[0])


def _result(logs: dict[str, float], return_dict: bool) -> Any:
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values
