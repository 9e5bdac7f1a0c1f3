"""Optimizers with Keras 3's names, arguments and defaults; the update itself runs in C++.

Example:
    >>> model.compile(optimizer=fastmlp.optimizers.Adam(learning_rate=1e-3), loss="mse")
"""

from __future__ import annotations

from typing import Any

from fastmlp.optimizers import schedules
from fastmlp.optimizers._base import Optimizer, _check_number
from fastmlp.optimizers._more import Adamax, Ftrl, Lion, Nadam

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Ftrl",
    "Lion",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "get",
    "schedules",
]


class SGD(Optimizer):
    """Gradient descent with optional momentum: m = momentum*m - lr*g; w += m.

    Args:
        learning_rate: Defaults to 0.01.
        momentum: Defaults to 0.0.
        nesterov: Use Nesterov momentum: w += momentum*m - lr*g. Defaults to False.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see `Optimizer`).
    """

    _kind = 0
    _hyper = ("momentum", "nesterov")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = _check_number(momentum, "momentum", 0.0, 1.0)
        self.nesterov = bool(nesterov)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with Keras's defaults.

    Args:
        learning_rate: Defaults to 0.001.
        beta_1: Decay of the first-moment estimate. Defaults to 0.9.
        beta_2: Decay of the second-moment estimate. Defaults to 0.999.
        epsilon: Added to sqrt(v) in the denominator. Defaults to 1e-7.
        amsgrad: Use the maximum of past second moments. Defaults to False.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see `Optimizer`).
    """

    _kind = 1
    _hyper = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _check_number(beta_1, "beta_1", 0.0, 1.0)
        self.beta_2 = _check_number(beta_2, "beta_2", 0.0, 1.0)
        self.epsilon = _check_number(epsilon, "epsilon")
        self.amsgrad = bool(amsgrad)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Args:
        learning_rate: Defaults to 0.001.
        weight_decay: Defaults to 0.004.
        **kwargs: beta_1, beta_2, epsilon, amsgrad (see `Adam`), clipnorm, clipvalue, ...
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """RMSprop: v = rho*v + (1-rho)*g^2; w -= lr*g / sqrt(v + epsilon).

    Args:
        learning_rate: Defaults to 0.001.
        rho: Decay of the moving average of squared gradients. Defaults to 0.9.
        momentum: Defaults to 0.0.
        epsilon: Defaults to 1e-7.
        centered: Divide by the variance estimate instead of the raw second moment. Defaults to False.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see `Optimizer`).
    """

    _kind = 2
    _hyper = ("rho", "momentum", "epsilon", "centered")

    def __init__(
        self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        self.rho = _check_number(rho, "rho", 0.0, 1.0)
        self.momentum = _check_number(momentum, "momentum", 0.0, 1.0)
        self.epsilon = _check_number(epsilon, "epsilon")
        self.centered = bool(centered)


class Adagrad(Optimizer):
    """Adagrad: acc += g^2; w -= lr*g / sqrt(acc + epsilon).

    Args:
        learning_rate: Defaults to 0.001.
        initial_accumulator_value: Starting value of the accumulator. Defaults to 0.1.
        epsilon: Defaults to 1e-7.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see `Optimizer`).
    """

    _kind = 3
    _hyper = ("initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _check_number(
            initial_accumulator_value, "initial_accumulator_value"
        )
        self.epsilon = _check_number(epsilon, "epsilon")


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012) with Keras's defaults.

    Args:
        learning_rate: Defaults to 0.001.
        rho: Decay rate of the running averages. Defaults to 0.95.
        epsilon: Defaults to 1e-7.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see `Optimizer`).
    """

    _kind = 4
    _hyper = ("rho", "epsilon")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _check_number(rho, "rho", 0.0, 1.0)
        self.epsilon = _check_number(epsilon, "epsilon")


_CLASSES: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "nadam": Nadam,
    "adamax": Adamax,
    "lion": Lion,
    "ftrl": Ftrl,
}


def get(identifier: str | Optimizer | dict[str, Any]) -> Optimizer:
    """Return an optimizer for a name ("adam"), an Optimizer, a class or a serialized dict.

    Raises:
        ValueError: for an unknown name.
        TypeError: for anything else.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Unknown optimizer {identifier!r}. Expected one of: {', '.join(_CLASSES)}"
            )
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(
        f"optimizer must be a name or a fastmlp.optimizers.Optimizer, got {type(identifier).__name__}"
    )


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Return {"class_name": ..., "config": ...}."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
    """Rebuild an optimizer from `serialize`'s output (a learning-rate schedule class of your own
    is looked up in `custom_objects`)."""
    classes = {cls.__name__: cls for cls in _CLASSES.values()}
    cls = classes.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(f"Unknown optimizer class {config.get('class_name')!r}")
    return cls.from_config(dict(config.get("config", {})), custom_objects)
