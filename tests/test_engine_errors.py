"""The C++ engine's own checks: bad input reaches `_core` as a ValueError with a message that says
what was expected and what came, never as a crash or a silent wrong answer."""

from __future__ import annotations

import numpy as np
import pytest
from fastmlp import _core

DENSE, ACTIVATION, DROPOUT = 0, 1, 2
TANH, SOFTMAX = 3, 4
SPARSE_CE, MSE = 0, 3
ADAM = 1
NETWORKS = [_core.NetworkF64, _core.NetworkF32]


def make_net(network=_core.NetworkF64, loss: int = MSE):
    """3 -> Dense(4, tanh) -> Dense(3, softmax)."""
    layers = [
        _core.LayerSpec(DENSE, units=4, activation=TANH),
        _core.LayerSpec(DENSE, units=3, activation=SOFTMAX),
    ]
    net = network(3, layers, 0)
    net.set_loss(loss)
    net.set_params(np.linspace(-1, 1, net.param_count))
    return net


# Every entry point that takes (x, y), as a function of (net, x, y).
WITH_TARGETS = {
    "loss_and_gradient": lambda net, x, y: net.loss_and_gradient(x, y),
    "train_on_batch": lambda net, x, y: net.train_on_batch(x, y),
    "evaluate": lambda net, x, y: net.evaluate(x, y, 4),
}


# --- shapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("network", NETWORKS, ids=["f64", "f32"])
@pytest.mark.parametrize("call", list(WITH_TARGETS))
def test_rejects_wrong_feature_count(network, call):
    with pytest.raises(ValueError, match=r"x: expected 3 features, got shape \(5, 4\)"):
        WITH_TARGETS[call](make_net(network), np.zeros((5, 4)), np.zeros((5, 3)))


def test_predict_rejects_wrong_feature_count():
    with pytest.raises(ValueError, match=r"x: expected 3 features, got shape \(2, 2\)"):
        make_net().predict(np.zeros((2, 2)), 8)


@pytest.mark.parametrize("call", list(WITH_TARGETS))
def test_rejects_y_rows_different_from_x_rows(call):
    with pytest.raises(ValueError, match=r"y: expected 5 rows \(one per sample of x\), got 4"):
        WITH_TARGETS[call](make_net(), np.zeros((5, 3)), np.zeros((4, 3)))


@pytest.mark.parametrize("call", list(WITH_TARGETS))
def test_rejects_y_with_wrong_column_count(call):
    with pytest.raises(ValueError, match="y: expected 3 columns for this loss, got 2"):
        WITH_TARGETS[call](make_net(), np.zeros((5, 3)), np.zeros((5, 2)))


def test_sparse_labels_must_be_one_column():
    net = make_net(loss=SPARSE_CE)
    with pytest.raises(ValueError, match="y: expected 1 columns for this loss, got 3"):
        net.loss_and_gradient(np.zeros((5, 3)), np.zeros((5, 3)))


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros(3), np.zeros((1, 3)), "x: expected a 2-D array, got 1-D"),
        (np.zeros((1, 1, 3)), np.zeros((1, 3)), "x: expected a 2-D array, got 3-D"),
        (np.zeros((1, 3)), np.zeros(3), "y: expected a 2-D array, got 1-D"),
    ],
    ids=["x_1d", "x_3d", "y_1d"],
)
@pytest.mark.parametrize("call", list(WITH_TARGETS))
def test_rejects_arrays_that_are_not_2d(call, x, y, message):
    with pytest.raises(ValueError, match=message):
        WITH_TARGETS[call](make_net(), x, y)


def test_predict_rejects_1d_x():
    with pytest.raises(ValueError, match="x: expected a 2-D array, got 1-D"):
        make_net().predict(np.zeros(3), 8)


def test_rejects_an_empty_batch():
    with pytest.raises(ValueError, match="x: expected at least one sample, got 0"):
        make_net().train_on_batch(np.zeros((0, 3)), np.zeros((0, 3)))


# --- sparse labels ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "shown"),
    [(3.0, "3.000000"), (-1.0, "-1.000000"), (1.5, "1.500000"), (np.nan, "nan")],
    ids=["too_large", "negative", "not_integer", "nan"],
)
@pytest.mark.parametrize("call", list(WITH_TARGETS))
def test_rejects_sparse_labels_outside_the_classes(call, label, shown):
    y = np.array([[0.0], [2.0], [label]])
    expected = rf"labels must be integers in \[0, 3\), got {shown}"
    with pytest.raises(ValueError, match=expected):
        WITH_TARGETS[call](make_net(loss=SPARSE_CE), np.zeros((3, 3)), y)


def test_failed_step_leaves_parameters_and_optimizer_untouched():
    net = make_net(loss=SPARSE_CE)
    net.set_optimizer(_core.OptimizerConfig(ADAM))
    before = net.get_params()
    with pytest.raises(ValueError, match="labels must be integers"):
        net.train_on_batch(np.ones((3, 3)), np.array([[0.0], [1.0], [7.0]]))
    np.testing.assert_array_equal(net.get_params(), before)
    assert net.get_optimizer_state() == (0, [], [])
    # ... and the model is still usable (its lock was released).
    sums = net.train_on_batch(np.ones((3, 3)), np.array([[0.0], [1.0], [2.0]]))
    assert (sums.steps, net.iterations) == (1, 1)


def test_sparse_crossentropy_needs_two_output_units():
    net = _core.NetworkF64(3, [_core.LayerSpec(DENSE, units=1)], 0)
    with pytest.raises(ValueError, match="needs an output layer with >= 2 units, got 1"):
        net.set_loss(SPARSE_CE)


# --- layers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("units", [0, -2])
def test_dense_units_must_be_positive(units):
    with pytest.raises(ValueError, match=f"layer 0: Dense units must be > 0, got {units}"):
        _core.NetworkF64(3, [_core.LayerSpec(DENSE, units=units)], 0)


@pytest.mark.parametrize(
    ("rate", "shown"),
    [(1.0, "1.000000"), (-0.1, "-0.100000"), (np.nan, "nan")],
    ids=["one", "negative", "nan"],
)
def test_dropout_rate_must_be_in_0_1(rate, shown):
    layers = [_core.LayerSpec(DENSE, units=2), _core.LayerSpec(DROPOUT, rate=rate)]
    with pytest.raises(
        ValueError, match=rf"layer 1: Dropout rate must be in \[0, 1\), got {shown}"
    ):
        _core.NetworkF64(3, layers, 0)


def test_network_needs_layers_and_inputs():
    with pytest.raises(ValueError, match="at least one layer is required"):
        _core.NetworkF64(3, [], 0)
    with pytest.raises(ValueError, match="input_dim must be > 0, got 0"):
        _core.NetworkF64(0, [_core.LayerSpec(DENSE, units=2)], 0)


@pytest.mark.parametrize("field", ["kernel_l1", "kernel_l2", "bias_l1", "bias_l2"])
def test_regularizer_factors_must_be_non_negative(field):
    spec = _core.LayerSpec(DENSE, units=2, **{field: -0.1})
    what = field.split("_")[0]
    with pytest.raises(ValueError, match=f"{what}_regularizer: l1 and l2 must be finite"):
        _core.NetworkF64(3, [spec], 0)


# --- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("network", NETWORKS, ids=["f64", "f32"])
@pytest.mark.parametrize(
    "shape", [(30,), (32,), (1, 31), (0,)], ids=["short", "long", "2d", "empty"]
)
def test_set_params_rejects_wrong_size(network, shape):
    net = make_net(network)
    assert net.param_count == 31
    before = net.get_params()
    with pytest.raises(ValueError, match="params: expected a flat array of 31 values"):
        net.set_params(np.zeros(shape))
    np.testing.assert_array_equal(net.get_params(), before)


# --- unknown codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [17, -1, 99])
def test_unknown_activation_code(code):
    with pytest.raises(ValueError, match=f"activation: unknown code {code}"):
        _core.LayerSpec(DENSE, units=2, activation=code)


@pytest.mark.parametrize("code", [18, -1])
def test_unknown_loss_code(code):
    with pytest.raises(ValueError, match=f"loss: unknown code {code}"):
        make_net().set_loss(code)


@pytest.mark.parametrize("code", [9, -1])
def test_unknown_optimizer_code(code):
    with pytest.raises(ValueError, match="OptimizerConfig: unknown optimizer kind"):
        _core.OptimizerConfig(code)


@pytest.mark.parametrize("code", [6, -1])  # (5: PReLU)
def test_unknown_layer_kind(code):
    with pytest.raises(ValueError, match="LayerSpec: unknown layer kind"):
        _core.LayerSpec(code)


# --- optimizer settings -------------------------------------------------------------------------


BAD_SETTINGS = {
    "learning_rate_negative": ("learning_rate", -0.1, "learning_rate must be a finite number >= 0"),
    "learning_rate_inf": ("learning_rate", np.inf, "learning_rate must be a finite number >= 0"),
    "learning_rate_nan": ("learning_rate", np.nan, "learning_rate must be a finite number >= 0"),
    "momentum_negative": ("momentum", -0.5, "momentum must be a finite number >= 0"),
    "epsilon_negative": ("epsilon", -1e-7, "epsilon must be a finite number >= 0"),
    "weight_decay_negative": ("weight_decay", -0.01, "weight_decay must be a finite number >= 0"),
    "initial_accumulator_negative": (
        "initial_accumulator_value",
        -0.1,
        "initial_accumulator_value must be a finite number >= 0",
    ),
    "beta_1_one": ("beta_1", 1.0, r"beta_1 must be in \[0, 1\)"),
    "beta_2_negative": ("beta_2", -0.1, r"beta_2 must be in \[0, 1\)"),
    "rho_one": ("rho", 1.0, r"rho must be in \[0, 1\)"),
}


@pytest.mark.parametrize(("field", "value", "message"), BAD_SETTINGS.values(), ids=BAD_SETTINGS)
def test_set_optimizer_rejects_bad_settings(field, value, message):
    config = _core.OptimizerConfig(ADAM)
    setattr(config, field, value)
    net = make_net()
    with pytest.raises(ValueError, match=f"optimizer: {message}"):
        net.set_optimizer(config)
    net.set_optimizer(_core.OptimizerConfig(ADAM))  # still usable


def test_set_learning_rate_rejects_negative():
    net = make_net()
    net.set_optimizer(_core.OptimizerConfig(ADAM))
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0, got -1"):
        net.set_learning_rate(-1.0)


@pytest.mark.parametrize("argument", ["clipnorm", "clipvalue", "global_clipnorm"])
def test_set_clipping_rejects_negative(argument):
    with pytest.raises(ValueError, match="clipping values must be finite and >= 0"):
        make_net().set_clipping(**{argument: -1.0})


def test_set_optimizer_state_rejects_wrong_slots():
    net = make_net()
    net.set_optimizer(_core.OptimizerConfig(ADAM))
    with pytest.raises(ValueError, match="expected 2 slot arrays, got 1"):
        net.set_optimizer_state(0, [np.zeros(31)], [])
    with pytest.raises(ValueError, match="each slot must hold 31 values"):
        net.set_optimizer_state(0, [np.zeros(31), np.zeros(30)], [])
    with pytest.raises(ValueError, match="iterations must be >= 0"):
        net.set_optimizer_state(-1, [], [])
    with pytest.raises(ValueError, match=r"expected 0 scalar values .*got 1"):
        net.set_optimizer_state(0, [np.zeros(31), np.zeros(31)], [0.5])
