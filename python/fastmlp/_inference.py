"""The inference loops of `Sequential`: evaluate, predict and their one-batch forms; and what
fit (_training.py) shares with them: the engine's sums added up over calls, the batch size, the
per-sample weights of sample_weight / class_weight.

evaluate and predict call the engine on blocks of rows (about PART_ROWS) with the GIL released,
so that Ctrl-C is seen between the calls.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastmlp import callbacks as callbacks_module
from fastmlp._validation import positive_int, verbosity

PART_ROWS = 65536  # rows per engine call in evaluate / predict (tens of ms for the lecture model)
_COUNT_FIELDS = ("correct", "compared", "squared_error", "absolute_error")
_SUM_FIELDS = ("samples", "loss", *_COUNT_FIELDS)

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


def _unsupported(**kwargs: Any) -> None:
    for name, value in kwargs.items():
        if value is not None:
            raise NotImplementedError(f"{name} is not supported by fastmlp yet")


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
