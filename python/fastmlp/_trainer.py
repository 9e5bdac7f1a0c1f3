"""`Trainer`: what trains and runs a model (compile, fit, evaluate, predict and their one-batch
forms), as Keras 3's Trainer (keras/src/trainers/trainer.py).

A base class of `Sequential` (through `_model.Model`), whose engine and layers its methods use.
compile resolves its arguments in _compiling.py; the loops of fit and train_on_batch live in
_training.py, those of evaluate, predict and their one-batch forms in _inference.py.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from fastmlp import _accuracy_rules, _compiling, _confusion, _inference, _training, _validation
from fastmlp import layers as layers_module
from fastmlp import metrics as metrics_module


def _in_turn(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` holding its model's call lock: the same calls from other threads wait for it to
    end (a server's threads can share a model; its calls take turns, as one thread's would), and
    its own callbacks may call the model again (the lock is reentrant)."""

    @functools.wraps(method)
    def in_turn(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._call_lock:
            return method(self, *args, **kwargs)

    return in_turn


class Trainer:
    """compile, fit, evaluate and predict, for `Sequential` (see models.py)."""

    # -- compile ------------------------------------------------------------------------------
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        loss_weights: Any = None,
        metrics: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool = False,
        steps_per_execution: int = 1,
        jit_compile: Any = "auto",
        auto_scale_loss: bool = True,
    ) -> None:
        """Choose the optimizer, the loss and the metrics.

        Args:
            optimizer: Name or `optimizers.Optimizer`. Defaults to "rmsprop" (as Keras).
            loss: Name or `losses.Loss`, e.g. "sparse_categorical_crossentropy".
            metrics: List of names or `metrics.Metric`, e.g. ["accuracy"]. Defaults to None.
            weighted_metrics: Metrics (as `metrics`) that weight each sample by its weight from
                `sample_weight` (or `class_weight` in fit); without weights they equal the
                unweighted ones. One named as one of `metrics` is logged as "weighted_<name>",
                as Keras. Defaults to None.
            loss_weights: Not supported (single-output models); must be None. (A list of metric
                names third, tf.keras 2's positional order, is the metrics.)
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: Accepted and ignored:
                the engine always runs compiled C++ over whole chunks of steps.
        """
        _compiling.compile_model(self, optimizer, loss, loss_weights, metrics, weighted_metrics)

    @property
    def compiled(self) -> bool:
        return self.loss is not None

    @property
    def metrics_names(self) -> list[str]:
        """The names in the logs: "loss", then the metrics' (the weighted ones last)."""
        return ["loss", *(name for name, _, _ in self._named_metrics())]

    def reset_metrics(self) -> None:
        """Keras's: forget the metrics' accumulated state. fit, evaluate and train_on_batch
        count afresh at every call (the engine keeps no counts between calls); this resets the
        compiled metric objects' own state, from `update_state` used on them directly."""
        for metric in (*self.compiled_metrics, *self.compiled_weighted_metrics):
            metric.reset_state()

    def _named_metrics(self) -> list[tuple[str, metrics_module.Metric, bool]]:
        """(name in the logs, metric, whether weighted) of the compiled metrics."""
        return _compiling.named_metrics(self.compiled_metrics, self.compiled_weighted_metrics)

    def _all_metrics(self) -> list[metrics_module.Metric]:
        """The metrics the engine counts for: the plain and the weighted ones."""
        return self.compiled_metrics + self.compiled_weighted_metrics

    def _configure_engine(self, engine: Any) -> None:
        engine.set_loss(self.loss.kind, self.loss.from_logits, **self.loss.engine_params)
        self.optimizer._attach(engine)
        self._rates_cover = None  # (the engine forgot a schedule's rates)
        if self._l1_clipping and hasattr(engine, "set_l1_clipping"):  # (the GPU engine has not)
            engine.set_l1_clipping(True)
        metrics = self._all_metrics()
        sources = {m.source for m in metrics}
        engine.set_error_metrics("mse" in sources, "mae" in sources)
        _confusion.check_outputs(metrics, engine.output_dim)
        engine.set_confusion_thresholds(_confusion.thresholds_of(metrics))
        engine.set_rank_counts("ranks" in sources)
        engine.set_max_counts(any(getattr(m, "uses_max_counts", False) for m in metrics))
        engine.set_weighted_metrics(bool(self.compiled_weighted_metrics))

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise ValueError(f"{what}: call model.compile(optimizer=..., loss=...) first")

    # -- data ---------------------------------------------------------------------------------
    _prepare = _validation.prepare  # (the data of a call, checked and converted)

    def _use_targets(self, targets: np.ndarray, target_map: tuple[float, float]) -> None:
        """How the engine's metrics read these (prepared) targets: the accuracy rule, and for
        mse / mae the map back to the targets as passed."""
        rules = {
            _accuracy_rules.accuracy_rule(m, self.loss, targets, self._signed_targets)
            for m in self._all_metrics()
            if m.source == "accuracy"
        }
        if len(rules) > 1:
            raise ValueError("metrics: use one kind of accuracy per model")
        rule = rules.pop() if rules else _accuracy_rules.AccuracyRule()
        self._engine.set_accuracy(rule.mode, rule.output_threshold, rule.target_threshold)
        self._engine.set_error_targets(*target_map)
        metrics = self._all_metrics()
        if any(m.source == "confusion" for m in metrics):
            # positive: above a target passed as 0, as the loss prepared it (label smoothing,
            # {-1, +1})
            zero = self.loss.prepare_targets(np.zeros((1, targets.shape[1])))[0, 0]
            thresholds = _confusion.thresholds_of(metrics)
            self._engine.set_confusion_thresholds(thresholds, float(zero))

    def _logs(self, sums: dict[str, Any], prefix: str = "") -> dict[str, float]:
        n = max(sums["samples"], 1)
        logs = {f"{prefix}loss": sums["loss"] / n}
        plain = self._with_counts(sums)
        weighted = plain
        if sums.get("weighted") is not None:  # (else no sample weights: the plain counts)
            weighted = self._with_counts(
                {**sums["weighted"], "samples": sums["weighted"]["weight"]}
            )
        for name, m, is_weighted in self._named_metrics():
            logs[prefix + name] = m.result_of(weighted if is_weighted else plain)
        return logs

    def _with_counts(self, sums: dict[str, Any]) -> dict[str, Any]:
        """sums, with one `_confusion.Counts` of its confusion counts for every metric of a log."""
        metrics = self._all_metrics()
        if not any(m.source == "confusion" for m in metrics):
            return sums
        thresholds = _confusion.thresholds_of(metrics)
        counts = _confusion.Counts(thresholds, sums["positive_buckets"], sums["negative_buckets"])
        return {**sums, "counts": counts}

    # -- training and inference (the loops live in _training.py and _inference.py) ------------
    fit = _in_turn(_training.fit)
    evaluate = _in_turn(_inference.evaluate)
    predict = _in_turn(_inference.predict)
    train_on_batch = _in_turn(_training.train_on_batch)
    test_on_batch = _in_turn(_inference.test_on_batch)
    predict_on_batch = _in_turn(_inference.predict_on_batch)

    def __call__(self, x: Any, training: bool | None = None) -> np.ndarray:
        """Predictions for x, without a progress bar, as a NumPy array.

        Args:
            x: Samples.
            training: As Keras's: None or False is inference. True (dropout active) is taken
                only by models whose Dropout layers drop nothing (none, or rate 0): they compute
                the same either way. Defaults to None.
        """
        if training and any(
            isinstance(layer, layers_module.Dropout) and layer.rate > 0 for layer in self._layers
        ):
            raise NotImplementedError(
                "model(x, training=True) with Dropout is not supported: fit applies dropout; "
                "call the model with training=False (or no argument) for predictions"
            )
        return self.predict(x, verbose=0)
