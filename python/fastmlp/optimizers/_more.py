"""Keras 3's other optimizers (public as `fastmlp.optimizers.X`): Nadam and Adamax, two variants
of Adam; Lion, which steps by the sign of a momentum; and Ftrl, per-coordinate rates with L1 and
L2 regularisation. Their arguments and defaults are Keras's (keras/src/optimizers/*.py); the
update runs in C++ (optimizer.hpp).
"""

from __future__ import annotations

import math
from typing import Any

from fastmlp.optimizers._base import Optimizer, _check_number


class _AdamVariant(Optimizer):
    """The arguments Nadam and Adamax share with Adam (but amsgrad)."""

    _hyper = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _check_number(beta_1, "beta_1", 0.0, 1.0)
        self.beta_2 = _check_number(beta_2, "beta_2", 0.0, 1.0)
        self.epsilon = _check_number(epsilon, "epsilon")


class Nadam(_AdamVariant):
    """Adam with Nesterov momentum (Dozat, 2016), as Keras computes it.

    The momentum follows Keras's schedule u_t = beta_1 * (1 - 0.5 * 0.96**t); the running product
    of the u_t is part of the optimizer's state (saved and restored with its slots).

    Args:
        learning_rate: Defaults to 0.001.
        beta_1: Decay of the first-moment estimate. Defaults to 0.9.
        beta_2: Decay of the second-moment estimate. Defaults to 0.999.
        epsilon: Added to sqrt(v_hat) in the denominator. Defaults to 1e-7.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see `Optimizer`).
    """

    _kind = 5


class Adamax(_AdamVariant):
    """Adamax (Kingma & Ba, 2015, section 7.1): Adam with the infinity norm.

    m = beta_1*m + (1-beta_1)*g; u = max(beta_2*u, |g|); w -= lr / (1 - beta_1**t) * m / (u + eps).

    Args:
        learning_rate: Defaults to 0.001.
        beta_1: Decay of the first-moment estimate. Defaults to 0.9.
        beta_2: Decay of the weighted infinity norm. Defaults to 0.999.
        epsilon: Added to u in the denominator. Defaults to 1e-7.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see `Optimizer`).
    """

    _kind = 6


class Lion(Optimizer):
    """Lion (Chen et al., 2023): every weight moves by the learning rate, in the direction of the
    sign of a momentum.

    w -= lr * sign(beta_1*m + (1-beta_1)*g); m = beta_2*m + (1-beta_2)*g. Its steps are larger
    than Adam's: a learning rate 3-10x smaller than AdamW's, and a weight decay 3-10x larger, keep
    a similar strength.

    Args:
        learning_rate: Defaults to 0.001.
        beta_1: Weight of the momentum in the step's direction, in (0, 1] (at 0, Lion would be
            SignSGD). Defaults to 0.9.
        beta_2: Decay of the momentum, in [0, 1]. Defaults to 0.99.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see `Optimizer`).
    """

    _kind = 7
    _hyper = ("beta_1", "beta_2")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _check_number(beta_1, "beta_1")
        if not 0 < self.beta_1 <= 1:
            raise ValueError(
                f"beta_1 must be in (0, 1] (at 0, Lion degenerates to SignSGD), got {beta_1!r}"
            )
        self.beta_2 = _check_number(beta_2, "beta_2")
        if self.beta_2 > 1:
            raise ValueError(f"beta_2 must be in [0, 1], got {beta_2!r}")


class Ftrl(Optimizer):
    """FTRL-Proximal, "Follow The Regularized Leader" (McMahan et al., 2013), as Keras computes it.

    Per weight: n += g**2; z += g - (n**p - n_before**p) / lr * w; then
    w = (clip(z, -l1, l1) - z) / (n**p / lr + 2 * (l2 + beta / (2 * lr))), with
    p = -learning_rate_power (the gradient g includes 2 * l2_shrinkage * w).

    Args:
        learning_rate: Must be > 0 (the update divides by it). Defaults to 0.001.
        learning_rate_power: How the per-weight rates decrease, <= 0 (0: fixed rates).
            Defaults to -0.5.
        initial_accumulator_value: Starting value of n, >= 0. Defaults to 0.1.
        l1_regularization_strength: >= 0; weights whose |z| stays below it are exactly 0.
            Defaults to 0.0.
        l2_regularization_strength: The stabilising L2 penalty of the paper, >= 0. Defaults to 0.0.
        l2_shrinkage_regularization_strength: A magnitude penalty, as an L2 term in the loss,
            >= 0. Defaults to 0.0.
        beta: The paper's beta, >= 0. Defaults to 0.0.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see `Optimizer`).
    """

    _kind = 8
    _hyper = (
        "learning_rate_power",
        "initial_accumulator_value",
        "l1_regularization_strength",
        "l2_regularization_strength",
        "l2_shrinkage_regularization_strength",
        "beta",
    )

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power=-0.5,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        l2_shrinkage_regularization_strength=0.0,
        beta=0.0,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.learning_rate_power = _check_number(
            learning_rate_power, "learning_rate_power", -math.inf
        )
        if self.learning_rate_power > 0:
            raise ValueError(
                f"learning_rate_power must be <= 0 (0: fixed rates), got {learning_rate_power!r}"
            )
        for key, value in (
            ("initial_accumulator_value", initial_accumulator_value),
            ("l1_regularization_strength", l1_regularization_strength),
            ("l2_regularization_strength", l2_regularization_strength),
            ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength),
            ("beta", beta),
        ):
            setattr(self, key, _check_number(value, key))

    def _check_learning_rate(self, value: Any) -> float:
        value = super()._check_learning_rate(value)
        if value == 0:
            raise ValueError(
                f"learning_rate must be > 0 for Ftrl (its update divides by it), got {value!r}"
            )
        return value
