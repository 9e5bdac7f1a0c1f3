"""Tests for fastmlp.initializers: statistics against the Keras formulas, seeding, dtypes, and
get / serialize round trips."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from fastmlp import initializers

FAN_IN, FAN_OUT = 784, 128
KERNEL = (FAN_IN, FAN_OUT)

RANDOM_CLASSES = [
    initializers.RandomNormal,
    initializers.RandomUniform,
    initializers.TruncatedNormal,
    initializers.VarianceScaling,
    initializers.GlorotUniform,
    initializers.GlorotNormal,
    initializers.HeUniform,
    initializers.HeNormal,
    initializers.LecunUniform,
    initializers.LecunNormal,
]
ALL_CLASSES = [initializers.Zeros, initializers.Ones, initializers.Constant, *RANDOM_CLASSES]

# An instance of every class with non-default arguments where it has any.
NON_DEFAULT_INSTANCES = [
    initializers.Zeros(),
    initializers.Ones(),
    initializers.Constant(value=0.25),
    initializers.RandomNormal(mean=1.0, stddev=2.0, seed=3),
    initializers.RandomUniform(minval=-1.0, maxval=2.0, seed=4),
    initializers.TruncatedNormal(mean=-1.0, stddev=0.5, seed=5),
    initializers.VarianceScaling(scale=3.0, mode="fan_avg", distribution="uniform", seed=6),
    initializers.GlorotUniform(seed=7),
    initializers.GlorotNormal(seed=8),
    initializers.HeUniform(seed=9),
    initializers.HeNormal(seed=10),
    initializers.LecunUniform(seed=11),
    initializers.LecunNormal(seed=12),
]

SNAKE_NAMES = {
    "zeros": initializers.Zeros,
    "ones": initializers.Ones,
    "constant": initializers.Constant,
    "random_normal": initializers.RandomNormal,
    "random_uniform": initializers.RandomUniform,
    "truncated_normal": initializers.TruncatedNormal,
    "glorot_uniform": initializers.GlorotUniform,
    "glorot_normal": initializers.GlorotNormal,
    "he_uniform": initializers.HeUniform,
    "he_normal": initializers.HeNormal,
    "lecun_uniform": initializers.LecunUniform,
    "lecun_normal": initializers.LecunNormal,
    "variance_scaling": initializers.VarianceScaling,
}


def truncated_unit_normal_std(a: float = 2.0) -> float:
    """Std of N(0, 1) truncated to [-a, a]: sqrt(1 - 2 a phi(a) / (Phi(a) - Phi(-a)))."""
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(a / math.sqrt(2))  # Phi(a) - Phi(-a)
    return math.sqrt(1 - 2 * a * phi / mass)


def draw(init, shape=KERNEL, seed=0, dtype=None):
    return init(shape, dtype=dtype, rng=np.random.default_rng(seed))


def assert_mean_near(values: np.ndarray, mean: float, std: float) -> None:
    # Five standard errors: fails for a wrong formula, not for sampling noise.
    assert abs(values.astype(np.float64).mean() - mean) < 5 * std / math.sqrt(values.size)


# --- statistics --------------------------------------------------------------------------


# (class, uniform?, variance written from the Keras docstrings for a (784, 128) kernel)
VARIANCE_FORMULAS = [
    (initializers.GlorotUniform, True, 2 / (FAN_IN + FAN_OUT)),
    (initializers.GlorotNormal, False, 2 / (FAN_IN + FAN_OUT)),
    (initializers.HeUniform, True, 2 / FAN_IN),
    (initializers.HeNormal, False, 2 / FAN_IN),
    (initializers.LecunUniform, True, 1 / FAN_IN),
    (initializers.LecunNormal, False, 1 / FAN_IN),
]


@pytest.mark.parametrize(("cls", "uniform", "variance"), VARIANCE_FORMULAS)
def test_variance_scaling_presets_match_keras_formulas(cls, uniform, variance):
    w = draw(cls()).astype(np.float64)
    std = math.sqrt(variance)
    assert w.shape == KERNEL
    assert abs(w.std() / std - 1) < 0.02
    assert_mean_near(w, 0.0, std)
    if uniform:
        limit = math.sqrt(3 * variance)  # e.g. Glorot: sqrt(6 / (fan_in + fan_out))
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.99 * limit
    else:
        # Truncated at 2 stddev of the untruncated draw, whose stddev is std / 0.8796...
        bound = 2 * std / truncated_unit_normal_std()
        assert np.abs(w).max() <= bound * (1 + 1e-6)
        assert np.abs(w).max() > 0.95 * bound


def test_glorot_uniform_kernel_within_limit_with_uniform_std():
    w = initializers.GlorotUniform(seed=1)(KERNEL)
    limit = math.sqrt(6 / (784 + 128))
    assert np.all(np.abs(w) <= limit)
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)


def test_he_normal_std_is_sqrt_two_over_fan_in():
    w = initializers.HeNormal(seed=2)(KERNEL)
    assert w.std() == pytest.approx(math.sqrt(2 / 784), rel=0.03)


def test_truncated_stddev_constant_matches_closed_form():
    assert truncated_unit_normal_std() == pytest.approx(0.87962566103423978, rel=1e-12)


def test_random_normal_mean_and_std():
    w = initializers.RandomNormal(mean=1.5, stddev=2.0)((400, 250), rng=np.random.default_rng(0))
    assert w.std() == pytest.approx(2.0, rel=0.02)
    assert_mean_near(w, 1.5, 2.0)


def test_random_normal_defaults_are_keras_defaults():
    init = initializers.RandomNormal()
    assert (init.mean, init.stddev, init.seed) == (0.0, 0.05, None)
    assert draw(init).std() == pytest.approx(0.05, rel=0.02)


def test_random_uniform_bounds_mean_and_std():
    lo, hi = -1.0, 3.0
    w = draw(initializers.RandomUniform(minval=lo, maxval=hi))
    assert w.min() >= lo
    assert w.max() <= hi
    assert w.std() == pytest.approx((hi - lo) / math.sqrt(12), rel=0.02)
    assert_mean_near(w, (lo + hi) / 2, (hi - lo) / math.sqrt(12))


def test_random_uniform_defaults_are_keras_defaults():
    w = draw(initializers.RandomUniform())
    assert w.min() >= -0.05
    assert w.max() <= 0.05
    assert w.max() - w.min() > 0.099


def test_truncated_normal_never_beyond_two_stddev_and_has_truncated_std():
    mean, stddev = 0.5, 0.2
    w = draw(initializers.TruncatedNormal(mean=mean, stddev=stddev)).astype(np.float64)
    assert np.all(np.abs(w - mean) <= 2 * stddev * (1 + 1e-6))
    assert np.abs(w - mean).max() > 1.95 * stddev  # truncated at 2, not earlier
    assert w.std() == pytest.approx(stddev * truncated_unit_normal_std(), rel=0.02)
    assert_mean_near(w, mean, stddev)


@pytest.mark.parametrize(
    ("mode", "n"),
    [("fan_in", FAN_IN), ("fan_out", FAN_OUT), ("fan_avg", (FAN_IN + FAN_OUT) / 2)],
)
def test_variance_scaling_modes_use_the_right_fan(mode, n):
    scale = 3.0
    w = draw(initializers.VarianceScaling(scale=scale, mode=mode, distribution="uniform"))
    limit = math.sqrt(3 * scale / n)
    assert np.abs(w).max() <= limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)


def test_variance_scaling_untruncated_normal_std_and_tails():
    w = draw(initializers.VarianceScaling(scale=2.0, distribution="untruncated_normal"))
    std = math.sqrt(2.0 / FAN_IN)
    assert w.std() == pytest.approx(std, rel=0.02)
    assert np.abs(w).max() > 3 * std  # not truncated


def test_variance_scaling_defaults_and_normal_alias():
    init = initializers.VarianceScaling()
    assert (init.scale, init.mode, init.distribution, init.seed) == (
        1.0,
        "fan_in",
        "truncated_normal",
        None,
    )
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"


@pytest.mark.parametrize(
    ("shape", "fans"),
    [((), (1, 1)), ((10,), (10, 10)), ((784, 128), (784, 128)), ((3, 3, 16, 32), (144, 288))],
)
def test_compute_fans_follows_keras_rules(shape, fans):
    assert initializers.compute_fans(shape) == fans


def test_one_dimensional_shape_uses_its_length_as_both_fans():
    n = 50_000
    w = initializers.HeUniform(seed=0)(n)
    assert w.shape == (n,)
    limit = math.sqrt(6 / n)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit


def test_empty_shape_does_not_divide_by_zero():
    assert initializers.GlorotUniform(seed=0)((0, 5)).shape == (0, 5)


def test_zeros_ones_constant_fill_values():
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()((2, 3)), np.ones((2, 3)))
    np.testing.assert_array_equal(initializers.Constant(-2.5)((4,)), np.full(4, -2.5))
    assert initializers.Constant().value == 0.0


# --- seeding -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_same_seed_gives_same_array_and_is_stable_across_calls(cls):
    a = cls(seed=42)((30, 20))
    b = cls(seed=42)((30, 20))
    np.testing.assert_array_equal(a, b)
    init = cls(seed=42)
    np.testing.assert_array_equal(init((30, 20)), init((30, 20)))


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_different_seeds_give_different_arrays(cls):
    assert not np.array_equal(cls(seed=1)((30, 20)), cls(seed=2)((30, 20)))


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_own_seed_takes_precedence_over_rng(cls):
    init = cls(seed=5)
    a = init((30, 20), rng=np.random.default_rng(0))
    b = init((30, 20), rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, cls(seed=5)((30, 20)))


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_unseeded_initializer_draws_from_given_rng(cls):
    init = cls()
    a = init((30, 20), rng=np.random.default_rng(7))
    b = init((30, 20), rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    # One generator per model: consecutive layers get different draws.
    rng = np.random.default_rng(7)
    first, second = init((30, 20), rng=rng), init((30, 20), rng=rng)
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_unseeded_without_rng_differs_between_calls(cls):
    init = cls()
    assert not np.array_equal(init((30, 20)), init((30, 20)))


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_invalid_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="`seed` must be None or a non-negative integer"):
        initializers.GlorotUniform(seed=seed)


def test_seed_accepts_numpy_integer():
    np.testing.assert_array_equal(
        initializers.HeNormal(seed=np.int64(3))((4, 4)), initializers.HeNormal(seed=3)((4, 4))
    )


def test_rng_of_wrong_type_is_rejected():
    with pytest.raises(TypeError, match=r"`rng` must be a numpy.random.Generator"):
        initializers.GlorotUniform()((2, 2), rng=np.random.RandomState(0))


# --- dtypes and shapes -------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_default_dtype_is_float32_and_float64_on_request(cls):
    assert cls()((3, 4)).dtype == np.float32
    assert cls()((3, 4), dtype="float64").dtype == np.float64
    assert cls()((3, 4), dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_float32_and_float64_draws_agree_for_the_same_seed(cls):
    w32 = cls(seed=0)((10, 10))
    w64 = cls(seed=0)((10, 10), dtype="float64")
    np.testing.assert_allclose(w32, w64, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_random_initializer_rejects_integer_dtype(cls):
    with pytest.raises(ValueError, match="`dtype` must be a floating dtype"):
        cls()((2, 2), dtype="int32")


def test_constant_initializers_accept_integer_dtype():
    assert initializers.Zeros()((2,), dtype="int32").dtype == np.int32
    np.testing.assert_array_equal(initializers.Constant(3)((2,), dtype="int64"), [3, 3])


def test_shape_may_be_an_int_or_list():
    assert initializers.Ones()(5).shape == (5,)
    assert initializers.GlorotUniform()([3, 4]).shape == (3, 4)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="negative"):
        initializers.Zeros()((2, -1))
    with pytest.raises(TypeError, match="`shape` must be an int or a sequence of ints"):
        initializers.Zeros()((2.5, 3))


# --- argument validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scale": 0.0}, "`scale` must be a positive float"),
        ({"scale": -1.0}, "`scale` must be a positive float"),
        ({"mode": "fan_sum"}, "`mode` must be one of"),
        ({"distribution": "cauchy"}, "`distribution` must be one of"),
    ],
)
def test_variance_scaling_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        initializers.VarianceScaling(**kwargs)


def test_random_uniform_rejects_inverted_bounds():
    with pytest.raises(ValueError, match="`minval` must not exceed `maxval`"):
        initializers.RandomUniform(minval=1.0, maxval=0.0)


@pytest.mark.parametrize("stddev", [float("nan"), float("inf"), "0.1"])
def test_random_normal_rejects_non_finite_stddev(stddev):
    with pytest.raises(ValueError, match="`stddev` must be a finite number"):
        initializers.RandomNormal(stddev=stddev)


def test_constant_rejects_non_scalar():
    with pytest.raises(ValueError, match="`value` must be a scalar"):
        initializers.Constant([1.0, 2.0])


# --- get / serialize / deserialize -------------------------------------------------------


@pytest.mark.parametrize("init", NON_DEFAULT_INSTANCES, ids=lambda i: type(i).__name__)
def test_serialize_round_trip_through_json(init):
    config = initializers.serialize(init)
    assert config["class_name"] == type(init).__name__
    restored = initializers.deserialize(json.loads(json.dumps(config)))
    assert type(restored) is type(init)
    assert restored.get_config() == init.get_config()
    np.testing.assert_array_equal(restored((6, 5)), init((6, 5)))
    assert type(initializers.get(config)) is type(init)


@pytest.mark.parametrize("init", NON_DEFAULT_INSTANCES, ids=lambda i: type(i).__name__)
def test_from_config_round_trip(init):
    restored = type(init).from_config(init.get_config())
    assert restored.get_config() == init.get_config()


def test_configs_match_keras_keys():
    assert initializers.GlorotUniform(seed=1).get_config() == {"seed": 1}
    assert initializers.RandomNormal().get_config() == {"seed": None, "mean": 0.0, "stddev": 0.05}
    assert initializers.RandomUniform().get_config() == {
        "seed": None,
        "minval": -0.05,
        "maxval": 0.05,
    }
    assert initializers.VarianceScaling().get_config() == {
        "seed": None,
        "scale": 1.0,
        "mode": "fan_in",
        "distribution": "truncated_normal",
    }
    assert initializers.Constant(2).get_config() == {"value": 2.0}
    assert initializers.Zeros().get_config() == {}


@pytest.mark.parametrize(("name", "cls"), SNAKE_NAMES.items())
def test_get_snake_case_and_class_names(name, cls):
    assert type(initializers.get(name)) is cls
    assert type(initializers.get(cls.__name__)) is cls
    assert getattr(initializers, name) is cls  # Keras exports the alias as the class


def test_glorot_he_lecun_are_variance_scaling_presets():
    for cls in (initializers.GlorotUniform, initializers.HeNormal, initializers.LecunUniform):
        assert issubclass(cls, initializers.VarianceScaling)
    he = initializers.HeUniform()
    assert (he.scale, he.mode, he.distribution) == (2.0, "fan_in", "uniform")
    glorot = initializers.GlorotNormal()
    assert (glorot.scale, glorot.mode, glorot.distribution) == (1.0, "fan_avg", "truncated_normal")


def test_get_passes_through_none_and_instances_and_builds_classes():
    assert initializers.get(None) is None
    init = initializers.HeNormal(seed=1)
    assert initializers.get(init) is init
    assert type(initializers.get(initializers.LecunNormal)) is initializers.LecunNormal


def test_get_wraps_plain_function_and_ignores_rng():
    def halves(shape, dtype=None):
        return np.full(shape, 0.5, dtype=dtype)

    init = initializers.get(halves)
    assert isinstance(init, initializers.Initializer)
    w = init((2, 3), rng=np.random.default_rng(0))
    np.testing.assert_array_equal(w, np.full((2, 3), 0.5))
    assert w.dtype == np.float32
    with pytest.raises(NotImplementedError, match="cannot be serialized"):
        initializers.serialize(init)


def test_wrapped_function_with_wrong_shape_is_rejected():
    init = initializers.get(lambda shape, dtype=None: np.zeros(3))
    with pytest.raises(ValueError, match=r"returned shape \(3,\), expected \(2, 2\)"):
        init((2, 2))


def test_keras_style_subclass_without_rng_still_works():
    class Twos(initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return np.full(shape, 2.0, dtype=dtype or "float32")

    w = Twos()((2, 2), dtype="float64", rng=np.random.default_rng(0))
    np.testing.assert_array_equal(w, np.full((2, 2), 2.0))
    assert w.dtype == np.float64


def test_custom_subclass_round_trips_with_custom_objects():
    class Scaled(initializers.Initializer):
        def __init__(self, factor=1.0):
            self.factor = factor

        def __call__(self, shape, dtype=None, rng=None):
            return np.full(shape, self.factor, dtype=dtype or "float32")

        def get_config(self):
            return {"factor": self.factor}

    config = initializers.serialize(Scaled(3.0))
    restored = initializers.deserialize(config, custom_objects={"Scaled": Scaled})
    assert restored.factor == 3.0


def test_deserialize_ignores_keras_extra_keys():
    config = {
        "module": "keras.initializers",
        "class_name": "GlorotUniform",
        "config": {"seed": 3},
        "registered_name": None,
    }
    assert initializers.deserialize(config).get_config() == {"seed": 3}


def test_unknown_name_error_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown initializer 'foo'\. Expected one of: ") as info:
        initializers.get("foo")
    for name in SNAKE_NAMES:
        assert name in str(info.value)


def test_misspelled_name_gets_a_suggestion():
    with pytest.raises(ValueError, match="Did you mean 'glorot_uniform'"):
        initializers.get("glorot_unifrom")


def test_unknown_class_name_in_config_is_rejected():
    with pytest.raises(ValueError, match="Unknown initializer 'Orthogonal'"):
        initializers.deserialize({"class_name": "Orthogonal", "config": {}})


def test_config_with_bad_keys_is_rejected():
    with pytest.raises(ValueError, match="Invalid config for initializer GlorotUniform"):
        initializers.deserialize({"class_name": "GlorotUniform", "config": {"scale": 2.0}})


@pytest.mark.parametrize("identifier", [3, 1.5, ["glorot_uniform"], int])
def test_get_rejects_bad_types_naming_argument_and_valid_names(identifier):
    with pytest.raises(TypeError, match="`identifier` must be None, an Initializer") as info:
        initializers.get(identifier)
    assert "glorot_uniform" in str(info.value)


def test_deserialize_rejects_non_dict():
    with pytest.raises(TypeError, match="must be a dict with a string 'class_name'"):
        initializers.deserialize({"config": {}})


def test_serialize_rejects_non_initializer():
    with pytest.raises(TypeError, match="expects an Initializer"):
        initializers.serialize("glorot_uniform")


def test_repr_shows_config():
    assert repr(initializers.HeNormal(seed=1)) == "HeNormal(seed=1)"


def test_docstring_examples_run():
    result = doctest.testmod(initializers, extraglobs={"np": np})
    assert result.attempted > 0
    assert result.failed == 0
