"""Tests for fastmlp.regularizers: penalties against NumPy formulas, coefficients(),
validation, and get / serialize round trips."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
from fastmlp import regularizers


@pytest.fixture
def weights() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(20, 7))


# --- penalties ---------------------------------------------------------------------------


def test_l1_penalty_matches_numpy(weights):
    assert regularizers.L1(0.3)(weights) == pytest.approx(0.3 * np.abs(weights).sum())


def test_l2_penalty_matches_numpy_without_half_factor(weights):
    assert regularizers.L2(0.1)(weights) == pytest.approx(0.1 * (weights**2).sum())


def test_l2_keras_docstring_example():
    # keras.regularizers.Regularizer docstring: L2(2.) on ones((5, 5)) gives 50.0.
    assert regularizers.L2(2.0)(np.ones((5, 5))) == pytest.approx(50.0)


def test_l1l2_penalty_matches_numpy(weights):
    expected = 0.01 * np.abs(weights).sum() + 0.002 * np.square(weights).sum()
    assert regularizers.L1L2(l1=0.01, l2=0.002)(weights) == pytest.approx(expected)


def test_penalty_is_python_float_and_accepts_lists_and_float32():
    value = regularizers.L1(0.5)([[1.0, -2.0], [3.0, 0.0]])
    assert type(value) is float
    assert value == pytest.approx(3.0)
    w32 = np.array([1.5, -0.5], dtype=np.float32)
    assert regularizers.L2(1.0)(w32) == pytest.approx(2.5)


def test_zero_coefficient_terms_are_skipped():
    # As in Keras: a zero factor adds nothing even for infinite weights (no 0 * inf = nan).
    assert regularizers.L1L2(l1=0.0, l2=0.0)(np.array([np.inf])) == 0.0


def test_defaults_are_keras_defaults():
    assert regularizers.L1().l1 == 0.01
    assert regularizers.L2().l2 == 0.01
    assert (regularizers.L1L2().l1, regularizers.L1L2().l2) == (0.0, 0.0)
    assert regularizers.L1(None).l1 == 0.01
    assert (regularizers.L1L2(None, None).l1, regularizers.L1L2(None, None).l2) == (0.0, 0.0)


def test_base_regularizer_penalty_is_zero():
    assert regularizers.Regularizer()(np.ones(3)) == 0.0


# --- coefficients ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reg", "pair"),
    [
        (regularizers.L1(0.3), (0.3, 0.0)),
        (regularizers.L2(0.2), (0.0, 0.2)),
        (regularizers.L1L2(l1=0.1, l2=0.4), (0.1, 0.4)),
        (regularizers.l1_l2(), (0.01, 0.01)),
    ],
)
def test_coefficients_give_l1_l2_pair(reg, pair):
    assert reg.coefficients() == pair
    assert all(type(c) is float for c in reg.coefficients())


@pytest.mark.parametrize(
    "reg",
    [regularizers.L1(0.3), regularizers.L2(0.2), regularizers.L1L2(l1=0.1, l2=0.4)],
    ids=lambda r: type(r).__name__,
)
def test_engine_gradient_formula_matches_penalty_gradient(reg):
    # The engine adds l1*sign(w) + 2*l2*w to the gradient; check it against central
    # differences of the penalty itself.
    w = np.random.default_rng(1).normal(size=(4, 3))
    l1, l2 = reg.coefficients()
    engine_grad = l1 * np.sign(w) + 2 * l2 * w
    eps = 1e-6
    numeric = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        step = np.zeros_like(w)
        step[idx] = eps
        numeric[idx] = (reg(w + step) - reg(w - step)) / (2 * eps)
    np.testing.assert_allclose(engine_grad, numeric, rtol=1e-5, atol=1e-7)


def test_custom_regularizer_coefficients_raise():
    class Orthogonalish(regularizers.Regularizer):
        def __call__(self, x):
            return float(np.sum(np.asarray(x) ** 4))

    with pytest.raises(NotImplementedError, match="does not reduce to an L1/L2 penalty"):
        Orthogonalish().coefficients()


def test_subclass_changing_the_penalty_does_not_inherit_coefficients():
    class CubicL2(regularizers.L2):
        def __call__(self, x):
            return self.l2 * float(np.sum(np.abs(np.asarray(x)) ** 3))

    with pytest.raises(NotImplementedError, match="CubicL2 does not reduce"):
        CubicL2(0.1).coefficients()


def test_subclass_may_declare_its_own_coefficients():
    class HalfL2(regularizers.L2):
        def __call__(self, x):
            return 0.5 * super().__call__(x)

        def coefficients(self):
            return 0.0, 0.5 * self.l2

    assert HalfL2(0.2).coefficients() == (0.0, 0.1)


def test_subclass_keeping_the_penalty_keeps_coefficients():
    class NamedL1(regularizers.L1):
        pass

    assert NamedL1(0.2).coefficients() == (0.2, 0.0)


def test_function_regularizer_coefficients_raise():
    reg = regularizers.get(lambda x: 0.0)
    with pytest.raises(NotImplementedError):
        reg.coefficients()


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.1", True, [0.1]])
@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda v: regularizers.L1(v), "l1"),
        (lambda v: regularizers.L2(v), "l2"),
        (lambda v: regularizers.L1L2(l1=v), "l1"),
        (lambda v: regularizers.L1L2(l2=v), "l2"),
    ],
)
def test_bad_coefficients_are_rejected_naming_the_argument(make, name, bad):
    with pytest.raises(ValueError, match=f"Invalid value for argument `{name}`"):
        make(bad)


def test_numpy_and_int_coefficients_are_accepted_as_floats():
    reg = regularizers.L1L2(l1=np.float32(0.5), l2=1)
    assert reg.coefficients() == (0.5, 1.0)
    assert json.dumps(reg.get_config()) == '{"l1": 0.5, "l2": 1.0}'


# --- get / serialize / deserialize -------------------------------------------------------


@pytest.mark.parametrize(
    "reg",
    [regularizers.L1(0.3), regularizers.L2(0.002), regularizers.L1L2(l1=0.1, l2=0.4)],
    ids=lambda r: type(r).__name__,
)
def test_serialize_round_trip_through_json(reg):
    config = regularizers.serialize(reg)
    assert config["class_name"] == type(reg).__name__
    restored = regularizers.deserialize(json.loads(json.dumps(config)))
    assert type(restored) is type(reg)
    assert restored.get_config() == reg.get_config()
    assert restored.coefficients() == reg.coefficients()
    assert regularizers.get(config).coefficients() == reg.coefficients()
    assert type(reg).from_config(reg.get_config()).get_config() == reg.get_config()


@pytest.mark.parametrize(
    ("name", "cls", "pair"),
    [
        ("l1", regularizers.L1, (0.01, 0.0)),
        ("l2", regularizers.L2, (0.0, 0.01)),
        ("l1_l2", regularizers.L1L2, (0.01, 0.01)),
        ("L1", regularizers.L1, (0.01, 0.0)),
        ("L2", regularizers.L2, (0.0, 0.01)),
        ("L1L2", regularizers.L1L2, (0.0, 0.0)),
    ],
)
def test_get_by_name(name, cls, pair):
    reg = regularizers.get(name)
    assert type(reg) is cls
    assert reg.coefficients() == pair


def test_aliases_match_keras():
    assert regularizers.l1 is regularizers.L1
    assert regularizers.l2 is regularizers.L2
    assert regularizers.l1_l2(l1=0.2).get_config() == {"l1": 0.2, "l2": 0.01}


def test_get_passes_through_none_and_instances_and_builds_classes():
    assert regularizers.get(None) is None
    reg = regularizers.L2(0.5)
    assert regularizers.get(reg) is reg
    assert regularizers.get(regularizers.L1).coefficients() == (0.01, 0.0)


def test_get_wraps_plain_function():
    reg = regularizers.get(lambda x: 2.0 * float(np.sum(x)))
    assert isinstance(reg, regularizers.Regularizer)
    assert reg(np.ones(3)) == 6.0
    with pytest.raises(NotImplementedError, match="cannot be serialized"):
        regularizers.serialize(reg)


def test_deserialize_ignores_keras_extra_keys():
    config = {
        "module": "keras.regularizers",
        "class_name": "L1L2",
        "config": {"l1": 0.0, "l2": 0.05},
        "registered_name": None,
    }
    assert regularizers.deserialize(config).coefficients() == (0.0, 0.05)


def test_custom_subclass_round_trips_with_custom_objects():
    class Scaled(regularizers.L2):
        pass

    config = regularizers.serialize(Scaled(0.3))
    restored = regularizers.deserialize(config, custom_objects={"Scaled": Scaled})
    assert type(restored) is Scaled
    assert restored.coefficients() == (0.0, 0.3)


def test_unknown_name_error_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown regularizer 'foo'\. Expected one of: ") as info:
        regularizers.get("foo")
    for name in ("l1", "l2", "l1_l2"):
        assert f"{name}," in str(info.value) or f"{name}." in str(info.value)


def test_misspelled_name_gets_a_suggestion():
    with pytest.raises(ValueError, match="Did you mean 'l1_l2'"):
        regularizers.get("l1_l3")


def test_config_with_bad_keys_is_rejected():
    with pytest.raises(ValueError, match="Invalid config for regularizer L1"):
        regularizers.deserialize({"class_name": "L1", "config": {"l2": 0.1}})


def test_config_with_bad_value_is_rejected():
    with pytest.raises(ValueError, match="Invalid value for argument `l2`"):
        regularizers.deserialize({"class_name": "L2", "config": {"l2": -1.0}})


@pytest.mark.parametrize("identifier", [3, 0.01, ["l2"], int])
def test_get_rejects_bad_types_naming_argument_and_valid_names(identifier):
    with pytest.raises(TypeError, match="`identifier` must be None, a Regularizer") as info:
        regularizers.get(identifier)
    assert "l1_l2" in str(info.value)


def test_deserialize_rejects_non_dict():
    with pytest.raises(TypeError, match="must be a dict with a string 'class_name'"):
        regularizers.deserialize(["L1"])


def test_serialize_rejects_non_regularizer():
    with pytest.raises(TypeError, match="expects a Regularizer"):
        regularizers.serialize("l2")


def test_base_get_config_raises_and_repr_survives():
    reg = regularizers.Regularizer()
    with pytest.raises(NotImplementedError):
        reg.get_config()
    assert repr(reg) == "Regularizer(...)"
    assert repr(regularizers.L2(0.5)) == "L2(l2=0.5)"


def test_docstring_examples_run():
    result = doctest.testmod(regularizers, extraglobs={"np": np})
    assert result.attempted > 0
    assert result.failed == 0
