"""`Sequential.compile`: its arguments checked and resolved, then the engine set up for them.

A compile that fails leaves the model's optimizer, loss and metrics as they were, and its engine
set up for them again (the optimizer's state included).
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastmlp import _accuracy_rules
from fastmlp import losses as losses_module
from fastmlp import metrics as metrics_module
from fastmlp import optimizers as optimizers_module
from fastmlp._validation import warn_user


def compile_model(
    self: Any,
    optimizer: Any,
    loss: Any,
    loss_weights: Any,
    metrics: Any,
    weighted_metrics: Any,
) -> None:
    """`Sequential.compile` (less the arguments it accepts and ignores), for `self`."""
    if metrics is None and _looks_like_metrics(loss_weights):
        # tf.keras 2's positional order compile(optimizer, loss, metrics): a list of metric
        # names is no loss weight
        metrics, loss_weights = loss_weights, None
    if loss_weights is not None:
        raise NotImplementedError(
            "loss_weights is not supported: it weights the losses of a model's several outputs, "
            "and a Sequential model has one"
        )
    optimizer = optimizers_module.get(optimizer)
    loss = losses_module.get(loss)
    compiled_metrics = _metric_list(metrics, "metrics")
    weighted = _metric_list(weighted_metrics, "weighted_metrics")
    named = named_metrics(compiled_metrics, weighted)
    names = [name for name, _, _ in named]
    if len(set(names)) != len(names) or "loss" in names:
        raise ValueError(f"metric names must be unique and not 'loss', got {names}")
    _accuracy_rules.check_targets_agree(compiled_metrics + weighted, loss)
    _warn_probabilities_as_logits(self, loss)
    previous = (self.optimizer, self.loss, self.compiled_metrics, self.compiled_weighted_metrics)
    # (first: a busy engine refuses here, before anything changed)
    state = self._engine.get_optimizer_state() if self.built and self.loss else None
    (
        self.optimizer,
        self.loss,
        self.compiled_metrics,
        self.compiled_weighted_metrics,
    ) = optimizer, loss, compiled_metrics, weighted
    if self.built:
        try:
            self._configure_engine(self._engine)
            if optimizer is previous[0] and state is not None:
                # the same optimizer object goes on where it was, as Keras's keeps its
                # variables (its step count, a schedule's position, Adam's moments)
                with contextlib.suppress(ValueError):  # (its settings changed their slots)
                    self._engine.set_optimizer_state(*state)
        except Exception:  # a bad setting, or the engine busy in another thread's fit
            (
                self.optimizer,
                self.loss,
                self.compiled_metrics,
                self.compiled_weighted_metrics,
            ) = previous
            if self.loss is not None:
                # What the failed call may have changed (nothing, if the engine was busy),
                # the optimizer's slots and step count included.
                with contextlib.suppress(RuntimeError):
                    self._configure_engine(self._engine)
                    self._engine.set_optimizer_state(*state)
            raise


def _metric_list(metrics: Any, argument: str) -> list[metrics_module.Metric]:
    """The Metric objects of compile's `metrics` or `weighted_metrics` (None: none); the names
    within one list must differ."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, metrics_module.Metric)):
        raise TypeError(f"{argument} must be a list, e.g. {argument}=['accuracy']")
    compiled = [metrics_module.get(m) for m in metrics]
    for m in compiled:
        if getattr(m, "top_k", None) is not None:
            raise NotImplementedError(
                f"{argument}: {m.name} has top_k={m.top_k}, which the engine does not count; "
                "use the metric on its own (update_state on model.predict's output)"
            )
    names = [m.name for m in compiled]
    if len(set(names)) != len(names):
        raise ValueError(f"{argument}: metric names must be unique, got {names}")
    return compiled


def named_metrics(
    metrics: list[metrics_module.Metric], weighted: list[metrics_module.Metric]
) -> list[tuple[str, metrics_module.Metric, bool]]:
    """(name in the logs, metric, whether weighted) of the compiled metrics, the plain ones first,
    named as Keras 3's CompileMetrics.result names them: a weighted metric whose name is taken is
    "weighted_" + name, and "weighted_<name>_<i>" (i = 1, 2, ...) where that is taken too."""
    named = [(m.name, m, False) for m in metrics]
    counters = dict.fromkeys((m.name for m in metrics), 1)
    for m in weighted:
        name = m.name
        if name in counters:
            name = f"weighted_{m.name}"
            if name in counters:
                index = counters[name]
                counters[name] += 1
                name = f"{name}_{index}"
        counters.setdefault(name, 1)
        named.append((name, m, True))
    return named


def _warn_probabilities_as_logits(self: Any, loss: losses_module.Loss) -> None:
    """As Keras: a warning for from_logits=True on an output of softmax or sigmoid."""
    if not getattr(loss, "from_logits", False):
        return
    last = next((layer for layer in reversed(self._layers) if hasattr(layer, "activation")), None)
    name = getattr(getattr(last, "activation", None), "__name__", "")
    if name in ("softmax", "sigmoid"):
        warn_user(
            f"{loss.default_name} received from_logits=True, but the model's output layer "
            f"applies {name}: its outputs are probabilities, not logits. Was this intended?",
            UserWarning,
        )


def _looks_like_metrics(value: Any) -> bool:
    """A non-empty list or tuple of metric names or Metric objects."""
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(isinstance(v, (str, metrics_module.Metric)) for v in value)
    )
