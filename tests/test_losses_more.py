"""The Keras 3 losses the engine gained: Huber, LogCosh, MeanSquaredLogarithmicError,
MeanAbsolutePercentageError, Poisson, KLDivergence, SquaredHinge, CategoricalHinge and
CosineSimilarity.

The engine's value (through `model.evaluate`) against NumPy formulas written here from Keras 3's
definitions, on points where its clips and kinks bite; its gradient against central finite
differences, and at the kinks and clips against TensorFlow's rules written out; sample weights;
names, configs and saving; the mse / mae / accuracy metrics beside them; bad arguments; the GPU
engine's refusal. Keras itself is compared in test_losses_keras.py.

A linear layer on the identity makes the model's output exactly y_pred: x = I (n samples of n
features), W = y_pred, b = 0; the gradient in W is then d(mean loss)/d(y_pred) itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import _accuracy_rules, layers, losses, metrics, models, optimizers
from test_normalization import numeric_gradient

EPS = 1e-7  # Keras's epsilon


# -- Keras 3's formulas (keras/src/losses/losses.py), per sample ---------------------------------


def pm1(y):
    """{0, 1} labels as {-1, +1} (all of them {0, 1}); others unchanged."""
    return 2 * y - 1 if np.isin(y, (0, 1)).all() else y


def ref_huber(y, p, delta=1.0):
    e = p - y
    quadratic = np.abs(e) <= delta
    return np.mean(np.where(quadratic, 0.5 * e**2, delta * np.abs(e) - 0.5 * delta**2), axis=1)


def ref_log_cosh(y, p):
    return np.mean(np.log(np.cosh(p - y)), axis=1)


def ref_msle(y, p):
    return np.mean((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2, axis=1)


def ref_mape(y, p):
    return 100 * np.mean(np.abs((y - p) / np.maximum(np.abs(y), EPS)), axis=1)


def ref_poisson(y, p):
    return np.mean(p - y * np.log(p + EPS), axis=1)


def ref_kld(y, p):
    t, q = np.clip(y, EPS, 1), np.clip(p, EPS, 1)
    return np.sum(t * (np.log(t) - np.log(q)), axis=1)


def ref_squared_hinge(y, p):
    return np.mean(np.maximum(1 - pm1(y) * p, 0) ** 2, axis=1)


def ref_categorical_hinge(y, p):
    pos = np.sum(y * p, axis=1)
    neg = np.max((1 - y) * p, axis=1)
    return np.maximum(neg - pos + 1, 0)


def ref_cosine(y, p):
    def unit(v):
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), EPS)

    return -np.sum(unit(y) * unit(p), axis=1)


# -- cases: points where the clips and kinks bite, and smooth points for finite differences ------


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[], losses.Loss]
    reference: Callable[[np.ndarray, np.ndarray], np.ndarray]
    y: np.ndarray  # targets as passed to fit / evaluate
    p: np.ndarray  # predictions at the clips and kinks
    smooth_y: np.ndarray  # targets and predictions away from every kink, for finite differences
    smooth_p: np.ndarray


R = np.random.default_rng(7)
A = np.array
ONE_HOT = np.eye(3)[R.integers(0, 3, 6)]
SIGNS = R.choice([-1.0, 1.0], (6, 3))

CASES = [
    Case(
        "huber",
        losses.Huber,
        ref_huber,
        np.zeros((4, 3)),
        A([[0.2, -0.5, 0.5], [1.0, -1.0, 0.0], [3.0, -2.5, 0.99], [-1.01, 10.0, -0.3]]),
        R.normal(size=(6, 3)),
        R.normal(scale=2, size=(6, 3)),
    ),
    Case(
        "huber-delta-0.5",
        lambda: losses.Huber(delta=0.5),
        lambda y, p: ref_huber(y, p, 0.5),
        np.zeros((4, 3)),
        A([[0.2, -0.5, 0.5], [1.0, -1.0, 0.0], [3.0, -2.5, 0.49], [-0.51, 10.0, -0.3]]),
        R.normal(size=(6, 3)),
        R.normal(scale=2, size=(6, 3)),
    ),
    Case(
        "log_cosh",
        losses.LogCosh,
        ref_log_cosh,
        A([[0.0, 1.0, -2.0], [5.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
        A([[0.0, 1.001, -32.0], [-30.0, 1e-3, 0.7], [40.0, -5.0, 2.0]]),
        R.normal(size=(6, 3)),
        R.normal(scale=2, size=(6, 3)),
    ),
    Case(
        "msle",
        losses.MeanSquaredLogarithmicError,
        ref_msle,
        A([[0.0, 1.0, 3.0], [-1.0, 0.5, 1e-9], [2.0, 2.0, 0.0]]),
        A([[-2.0, 0.0, 1e-9], [2e-7, 0.5, 10.0], [1e-7, 1.5, -1e-3]]),
        R.uniform(0, 3, (6, 3)),
        np.c_[R.uniform(0.1, 3, (6, 2)), -R.uniform(0.5, 1, 6)],  # a clipped column: flat
    ),
    Case(
        "mape",
        losses.MeanAbsolutePercentageError,
        ref_mape,
        A([[0.0, 1.0, -2.0], [0.5, 1e-9, 3.0], [2.0, -1e-3, 0.0]]),
        A([[0.3, 1.0, -1.0], [0.0, 2e-9, 3.3], [2.0, 1e-3, -4e-8]]),
        SIGNS * R.uniform(0.5, 2, (6, 3)),
        SIGNS * R.uniform(0.5, 2, (6, 3)) + R.choice([-1, 1], (6, 3)) * R.uniform(0.2, 1, (6, 3)),
    ),
    Case(
        "poisson",
        losses.Poisson,
        ref_poisson,
        A([[0.0, 1.0, 2.0], [5.0, 0.0, 3.0]]),
        A([[0.5, 1.0, 2e-8], [0.0, 3.0, 4.0]]),
        R.integers(0, 5, (6, 3)).astype(float),
        R.uniform(0.2, 3, (6, 3)),
    ),
    Case(
        "kld",
        losses.KLDivergence,
        ref_kld,
        A([[0.2, 0.8, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.3, 0.3, 0.4]]),
        A([[0.1, 1.5, 0.3], [1e-9, -0.2, 0.9], [1.0, 0.0, 0.5], [1e-7, 1.0, 0.2]]),
        R.dirichlet(np.ones(3), 6),
        np.c_[R.uniform(0.05, 0.95, (6, 2)), R.uniform(1.1, 2, 6)],  # a clipped column: flat
    ),
    Case(
        "squared_hinge-01",
        losses.SquaredHinge,
        ref_squared_hinge,
        A([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]]),
        A([[0.5, 2.0], [1.0, -0.3], [-1.0, 0.2], [-3.0, 0.0]]),  # margin 0 at (1, 0) and (2, 0)
        R.integers(0, 2, (6, 3)).astype(float),
        R.normal(scale=1.5, size=(6, 3)),
    ),
    Case(
        "squared_hinge-pm1",
        losses.SquaredHinge,
        ref_squared_hinge,
        A([[-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]]),
        A([[0.5, 2.0], [1.0, -0.3], [-1.0, 0.2]]),
        SIGNS,
        R.normal(scale=1.5, size=(6, 3)),
    ),
    Case(
        "categorical_hinge",
        losses.CategoricalHinge,
        ref_categorical_hinge,
        np.eye(3)[[0, 1, 2, 0]],
        # margin < 0 with tied others; margin 0; every score negative; tied others, margin > 0
        A([[2.0, 0.5, 0.5], [0.5, 1.5, 0.2], [-1.0, -2.0, -0.5], [0.1, 0.7, 0.7]]),
        ONE_HOT,
        ONE_HOT * 0.3 + R.normal(scale=0.5, size=(6, 3)),
    ),
    Case(
        "cosine_similarity",
        losses.CosineSimilarity,
        ref_cosine,
        A([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, -1.0, 0.5], [3.0, 1.0, 1.0]]),
        # parallel; zero target; zero prediction; opposite; a norm below eps (it counts as eps)
        A([[2.0, 4.0, 4.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, 1.0, -0.5], [1e-9, 0, 0]]),
        R.normal(size=(6, 3)),
        R.normal(size=(6, 3)),
    ),
]
IDS = [case.id for case in CASES]


def linear_model(p, loss, dtype="float64", learning_rate=1.0, **compile_kw):
    """A model whose output on np.eye(n) is p exactly (W = p, b = 0), trained by plain SGD."""
    n, k = p.shape
    model = fm.Sequential([layers.Input(shape=(n,)), layers.Dense(k)], dtype=dtype)
    model.set_weights([p, np.zeros(k)])
    model.compile(optimizer=optimizers.SGD(learning_rate), loss=loss, **compile_kw)
    return model


def engine_at(loss: losses.Loss, p: np.ndarray):
    """The C++ network of `linear_model` (float64) with its loss set as a model sets it."""
    model = linear_model(p, loss)
    model.predict(np.eye(p.shape[0]), verbose=0)  # (builds the engine)
    return model._engine, np.eye(p.shape[0])


def output_gradient(loss: losses.Loss, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The engine's d(mean loss)/d(y_pred): the W part of its gradient on the identity."""
    engine, x = engine_at(loss, p)
    _, g = engine.loss_and_gradient(x, loss.prepare_targets(y))
    return g[: p.size].reshape(p.shape)


# -- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_engine_value_matches_the_formula_where_clips_and_kinks_bite(case) -> None:
    n = case.p.shape[0]
    value = linear_model(case.p, case.make()).evaluate(np.eye(n), case.y, batch_size=n, verbose=0)
    expected = float(np.mean(case.reference(case.y, case.p)))
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-13)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_engine_value_matches_the_formula_in_float32(case) -> None:
    n = case.p.shape[0]
    model = linear_model(case.p, case.make(), dtype="float32")
    value = model.evaluate(np.eye(n), case.y, batch_size=n, verbose=0)
    y32, p32 = (v.astype(np.float32).astype(np.float64) for v in (case.y, case.p))
    assert value == pytest.approx(float(np.mean(case.reference(y32, p32))), rel=2e-6, abs=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_numpy_call_matches_the_formula(case) -> None:
    expected = float(np.mean(case.reference(case.y, case.p)))
    assert case.make()(case.y, case.p) == pytest.approx(expected, rel=1e-12, abs=1e-13)


def test_log_cosh_stays_finite_where_cosh_overflows() -> None:
    # cosh(800) overflows float64; log(cosh(e)) = |e| - log(2) there
    value = linear_model(A([[800.0, -900.0]]), losses.LogCosh()).evaluate(
        np.eye(1), A([[0.0, 0.0]]), verbose=0
    )
    assert value == pytest.approx(850 - np.log(2), rel=1e-15)


# -- gradients ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_matches_finite_differences(case) -> None:
    loss = case.make()
    engine, x = engine_at(loss, case.smooth_p)
    y = np.ascontiguousarray(loss.prepare_targets(case.smooth_y))
    _, g = engine.loss_and_gradient(x, y)
    g_fd = numeric_gradient(engine, x, y)
    assert np.linalg.norm(g_fd) > 1e-3, "degenerate case: the gradient vanishes"
    error = np.linalg.norm(g - g_fd) / np.linalg.norm(g_fd)
    assert error < 1e-7, f"relative error {error:.2e}"


def tf_rules_gradient(name: str, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """d(mean loss)/dp of one sample (y, p: (1, k)) by TensorFlow's rules at kinks and clips:
    d|x| = sign(x) (0 at 0); maximum(x, c) and minimum(x, c) pass to x at a tie; clip_by_value
    passes inside its closed range only; reduce_max shares among its ties."""
    k = p.shape[1]
    e = p - y
    if name == "huber-at-delta":  # |e| <= delta: the quadratic side, e
        return np.where(np.abs(e) <= 0.5, e, 0.5 * np.sign(e)) / k
    if name == "mape-at-zero-error":
        return 100 * np.sign(e) / np.maximum(np.abs(y), EPS) / k
    if name == "msle-at-eps":
        m = np.maximum(p, EPS)
        d = np.log1p(m) - np.log1p(np.maximum(y, EPS))
        return np.where(p >= EPS, 2 * d / (1 + m), 0.0) / k
    if name == "kld-at-the-clip-ends":
        t = np.clip(y, EPS, 1)
        return np.where((p >= EPS) & (p <= 1), -t / np.clip(p, EPS, 1), 0.0)
    if name == "hinge-at-margin-0":
        return np.where(1 - y * p >= 0, -y, 0.0) / k
    if name == "squared_hinge-at-margin-0":
        return -2 * y * np.maximum(1 - y * p, 0) / k
    if name.startswith("categorical_hinge"):
        others = (1 - y) * p
        ties = others == others.max()
        margin = others.max() - (y * p).sum() + 1
        return (np.where(ties, (1 - y) / ties.sum(), 0.0) - y) * (margin >= 0)
    if name == "cosine-at-zero-prediction":  # the norm counts as eps: -y / |y| / eps
        return -y / np.linalg.norm(y) / EPS
    raise AssertionError(name)


KINKS = {
    "huber-at-delta": (lambda: losses.Huber(0.5), A([[0.0, 1.0, 2.0]]), A([[0.5, 0.5, 2.0]])),
    "mape-at-zero-error": (losses.MeanAbsolutePercentageError, A([[2.0, 0.0]]), A([[2.0, 1.0]])),
    "msle-at-eps": (losses.MeanSquaredLogarithmicError, A([[1.0, 1.0, 1.0]]), A([[EPS, -1, 0]])),
    "kld-at-the-clip-ends": (
        losses.KLDivergence,
        A([[0.3, 0.3, 0.2, 0.1, 0.1]]),
        A([[EPS, 1.0, 1.5, 1e-9, 0.4]]),
    ),
    "hinge-at-margin-0": (losses.Hinge, A([[1.0, -1.0, 1.0]]), A([[1.0, -1.0, 2.0]])),
    "squared_hinge-at-margin-0": (losses.SquaredHinge, A([[1.0, -1.0]]), A([[1.0, -1.0]])),
    "categorical_hinge-at-margin-0": (
        losses.CategoricalHinge,
        A([[0.0, 1.0, 0.0]]),
        A([[0.5, 1.5, 0.2]]),
    ),
    "categorical_hinge-tied-others": (
        losses.CategoricalHinge,
        A([[0.0, 1.0, 0.0]]),
        A([[0.5, 0.7, 0.5]]),
    ),
    "categorical_hinge-true-class-among-the-ties": (
        losses.CategoricalHinge,
        A([[0.0, 1.0, 0.0]]),
        A([[-0.5, 0.7, -0.5]]),  # (1 - y) * p: -0.5, 0, -0.5: the max is the true class's 0
    ),
    "cosine-at-zero-prediction": (losses.CosineSimilarity, A([[1.0, 2.0]]), A([[0.0, 0.0]])),
}


@pytest.mark.parametrize("name", list(KINKS))
def test_gradient_at_kinks_and_clips_follows_tensorflow(name) -> None:
    make, y, p = KINKS[name]
    expected = tf_rules_gradient(name, y, p)
    assert np.abs(expected).max() > 0 or name == "squared_hinge-at-margin-0"
    np.testing.assert_allclose(output_gradient(make(), y, p), expected, rtol=1e-12, atol=1e-300)


# -- sample weights -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sample_weights_weigh_the_value_and_the_gradient(case) -> None:
    """Keras's sum_over_batch_size: sum_i w_i l_i / n; the step of SGD(1) from W is the gradient
    of that, checked by central differences of the weighted value."""
    y, p = case.smooth_y, case.smooth_p
    n = p.shape[0]
    w = np.linspace(0.0, 2.0, n)
    model = linear_model(p, case.make())
    value = model.evaluate(np.eye(n), y, batch_size=n, sample_weight=w, verbose=0)
    expected = float(np.sum(w * case.reference(y, p)) / n)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-13)

    def weighted(q):
        model.set_weights([q, np.zeros(p.shape[1])])
        return model.evaluate(np.eye(n), y, batch_size=n, sample_weight=w, verbose=0)

    h, fd = 1e-6, np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        step = np.zeros_like(p)
        step[idx] = h
        fd[idx] = (weighted(p + step) - weighted(p - step)) / (2 * h)
    model.set_weights([p, np.zeros(p.shape[1])])
    model.train_on_batch(np.eye(n), y, sample_weight=w)
    g = p - model.get_weights()[0]  # SGD(learning_rate=1): W - 1 * dL/dW
    assert np.linalg.norm(g - fd) < 1e-7 * np.linalg.norm(fd)
    assert not g[0].any()  # weight 0: no gradient


# -- names, configs, saving ---------------------------------------------------------------------

NAMES = {
    "huber": losses.Huber,
    "huber_loss": losses.Huber,
    "log_cosh": losses.LogCosh,
    "logcosh": losses.LogCosh,
    "msle": losses.MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": losses.MeanSquaredLogarithmicError,
    "mape": losses.MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": losses.MeanAbsolutePercentageError,
    "poisson": losses.Poisson,
    "kld": losses.KLDivergence,
    "kl_divergence": losses.KLDivergence,
    "kullback_leibler_divergence": losses.KLDivergence,
    "squared_hinge": losses.SquaredHinge,
    "categorical_hinge": losses.CategoricalHinge,
    "cosine_similarity": losses.CosineSimilarity,
}
FUNCTIONS = {
    losses.huber: losses.Huber,
    losses.log_cosh: losses.LogCosh,
    losses.logcosh: losses.LogCosh,
    losses.mean_squared_logarithmic_error: losses.MeanSquaredLogarithmicError,
    losses.msle: losses.MeanSquaredLogarithmicError,
    losses.mean_absolute_percentage_error: losses.MeanAbsolutePercentageError,
    losses.mape: losses.MeanAbsolutePercentageError,
    losses.poisson: losses.Poisson,
    losses.kl_divergence: losses.KLDivergence,
    losses.kld: losses.KLDivergence,
    losses.kullback_leibler_divergence: losses.KLDivergence,
    losses.squared_hinge: losses.SquaredHinge,
    losses.categorical_hinge: losses.CategoricalHinge,
    losses.cosine_similarity: losses.CosineSimilarity,
}
DEFAULT_NAMES = {  # Keras 3's
    losses.Huber: "huber_loss",
    losses.LogCosh: "log_cosh",
    losses.MeanSquaredLogarithmicError: "mean_squared_logarithmic_error",
    losses.MeanAbsolutePercentageError: "mean_absolute_percentage_error",
    losses.Poisson: "poisson",
    losses.KLDivergence: "kl_divergence",
    losses.SquaredHinge: "squared_hinge",
    losses.CategoricalHinge: "categorical_hinge",
    losses.CosineSimilarity: "cosine_similarity",
}


@pytest.mark.parametrize(("name", "cls"), list(NAMES.items()), ids=list(NAMES))
def test_get_by_name_alias_and_class_name(name, cls) -> None:
    assert type(losses.get(name)) is cls
    assert type(losses.get(name.upper())) is cls
    assert type(losses.get(cls.__name__)) is cls


def test_functions_give_the_class_and_its_value() -> None:
    case = {c.id: c for c in CASES}
    for fn, cls in FUNCTIONS.items():
        assert type(losses.get(fn)) is cls
        assert fn.__name__ in losses.__all__ and cls.__name__ in losses.__all__
        c = next(c for c in CASES if c.make().__class__ is cls)
        # one loss per sample, as Keras's functions
        np.testing.assert_allclose(fn(c.y, c.p), c.reference(c.y, c.p), rtol=1e-12)
    np.testing.assert_allclose(
        losses.huber(case["huber"].y, case["huber"].p, delta=0.5),
        ref_huber(case["huber"].y, case["huber"].p, 0.5),
        rtol=1e-12,
    )


def test_default_names_are_keras_names() -> None:
    for cls, name in DEFAULT_NAMES.items():
        assert cls().name == name


@pytest.mark.parametrize(
    "loss",
    [
        losses.Huber(delta=0.25, name="h"),
        losses.LogCosh(),
        losses.MeanSquaredLogarithmicError(),
        losses.MeanAbsolutePercentageError(name="pct"),
        losses.Poisson(),
        losses.KLDivergence(),
        losses.SquaredHinge(),
        losses.CategoricalHinge(),
        losses.CosineSimilarity(),
    ],
    ids=lambda loss: type(loss).__name__,
)
def test_config_round_trips_through_json(loss) -> None:
    data = json.loads(json.dumps(losses.serialize(loss)))
    again = losses.deserialize(data)
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert type(loss).from_config(loss.get_config()).get_config() == loss.get_config()


def test_huber_config_keeps_delta_and_cosine_its_axis() -> None:
    assert losses.Huber(0.25).get_config() == {"name": "huber_loss", "delta": 0.25}
    assert losses.CosineSimilarity().get_config() == {"name": "cosine_similarity", "axis": -1}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_saved_model_loads_with_its_loss(case, tmp_path) -> None:
    loss = case.make()
    model = linear_model(case.smooth_p, loss, learning_rate=0.01)
    n = case.smooth_p.shape[0]
    model.fit(np.eye(n), case.smooth_y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    loaded = models.load_model(tmp_path / "m.fastmlp")
    assert type(loaded.loss) is type(loss) and loaded.loss.get_config() == loss.get_config()
    x, y = np.eye(n), case.smooth_y
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    # ... and trains on as the original does (Huber's delta reached the loaded engine)
    for m in (model, loaded):
        m.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_huber_delta_reaches_the_engine() -> None:
    case = CASES[0]
    n = case.p.shape[0]
    values = [
        linear_model(case.p, losses.Huber(delta)).evaluate(np.eye(n), case.y, verbose=0)
        for delta in (0.5, 1.0, 2.0)
    ]
    expected = [float(np.mean(ref_huber(case.y, case.p, d))) for d in (0.5, 1.0, 2.0)]
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    assert len(set(values)) == 3


# -- metrics ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_mse_and_mae_compare_outputs_with_the_targets_as_passed(case) -> None:
    y, p = case.smooth_y, case.smooth_p
    n = p.shape[0]
    model = linear_model(p, case.make(), metrics=["mse", "mae"])
    logs = model.evaluate(np.eye(n), y, verbose=0, return_dict=True)
    assert logs["mse"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)
    assert logs["mae"] == pytest.approx(np.mean(np.abs(p - y)), rel=1e-12)


@pytest.mark.parametrize(
    ("loss", "y", "p", "expected"),
    [
        # the losses on one-hot targets or distributions: argmaxes, as categorical cross-entropy
        pytest.param(
            losses.CategoricalHinge(),
            np.eye(3)[[0, 1, 2]],
            A([[2, 1, 0], [0, 1, 2], [0, 0, 1]]),
            2,
            id="categorical_hinge-argmax",
        ),
        pytest.param(
            losses.KLDivergence(),
            A([[0.7, 0.3], [0.2, 0.8]]),
            A([[0.6, 0.4], [0.6, 0.4]]),
            1,
            id="kld-argmax",
        ),
        pytest.param(
            losses.CosineSimilarity(),
            A([[1, 0], [0, 1]]),
            A([[0.9, 0.1], [0.6, 0.4]]),
            1,
            id="cosine-argmax",
        ),
        # squared hinge as hinge: the sign against {-1, +1} labels ({0, 1} converted)
        pytest.param(
            losses.SquaredHinge(),
            A([[0], [1], [1]]),
            A([[-0.2], [0.1], [-0.4]]),
            2,
            id="squared_hinge-01-sign",
        ),
        pytest.param(
            losses.SquaredHinge(),
            A([[-1], [1], [1]]),
            A([[0.3], [0.1], [-0.4]]),
            1,
            id="squared_hinge-pm1-sign",
        ),
        # regression losses as mean squared error: one output thresholds at 0.5 ...
        pytest.param(
            losses.Huber(), A([[0], [1], [1]]), A([[0.4], [0.6], [0.45]]), 2, id="huber-0.5"
        ),
        pytest.param(
            losses.Poisson(), A([[0], [1], [1]]), A([[0.4], [0.6], [0.45]]), 2, id="poisson-0.5"
        ),
        # ... and several compare argmaxes
        pytest.param(
            losses.LogCosh(),
            np.eye(2)[[0, 1]],
            A([[0.2, 0.1], [0.3, 0.1]]),
            1,
            id="log_cosh-argmax",
        ),
    ],
)
def test_accuracy_is_the_kind_the_loss_calls_for(loss, y, p, expected) -> None:
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    model = linear_model(p, loss, metrics=["accuracy"])
    logs = model.evaluate(np.eye(len(p)), y, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(expected / len(p))


def test_accuracy_rules_of_the_new_losses() -> None:
    acc, onehot, labels = metrics.Accuracy(), np.eye(3), A([[1.0], [0.0]])
    for loss in (losses.CategoricalHinge(), losses.KLDivergence(), losses.CosineSimilarity()):
        assert _accuracy_rules.accuracy_rule(acc, loss, onehot) == _accuracy_rules.accuracy_rule(
            acc, losses.CategoricalCrossentropy(), onehot
        )
    pm = losses.SquaredHinge().prepare_targets(labels)
    assert _accuracy_rules.accuracy_rule(
        acc, losses.SquaredHinge(), pm
    ) == _accuracy_rules.accuracy_rule(acc, losses.Hinge(), pm)


# -- bad arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: losses.Huber(delta=0), ValueError, r"Huber: delta must be a finite number > 0"),
        (lambda: losses.Huber(delta=-1.5), ValueError, r"delta .* got -1\.5"),
        (lambda: losses.Huber(delta=float("nan")), ValueError, r"delta must be a finite"),
        (lambda: losses.Huber(delta=float("inf")), ValueError, r"delta must be a finite"),
        (lambda: losses.Huber(delta="1"), TypeError, r"delta must be a number > 0, got '1'"),
        (lambda: losses.Huber(delta=True), TypeError, r"delta must be a number"),
        (lambda: losses.huber([[0.0]], [[1.0]], delta=0), ValueError, r"delta"),
        (lambda: losses.CosineSimilarity(axis=0), ValueError, r"axis must be -1.* got 0"),
        (lambda: losses.CosineSimilarity(axis=1), ValueError, r"axis must be -1"),
        (lambda: losses.cosine_similarity([[1.0]], [[1.0]], axis=0), ValueError, r"axis"),
        (lambda: losses.get("huber_los"), ValueError, r"Unknown loss 'huber_los'.*huber_loss"),
    ],
)
def test_bad_arguments_are_refused_by_name(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()


def test_the_engine_refuses_a_delta_that_is_not_positive() -> None:
    engine, _ = engine_at(losses.MeanSquaredError(), np.zeros((2, 2)))
    for delta in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"huber: delta must be a finite number > 0"):
            engine.set_loss(losses.Huber.kind, False, delta)


def test_squared_hinge_refuses_labels_other_than_pm1_or_01() -> None:
    model = linear_model(np.zeros((2, 1)), losses.SquaredHinge())
    with pytest.raises(ValueError, match=r"squared_hinge expects labels in \{-1, \+1\}"):
        model.fit(np.eye(2), A([0.5, 1.0]), verbose=0)


# -- the GPU engine (its NumPy twin here) -------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_gpu_engine_refuses_the_new_losses_by_name(case) -> None:
    loss = case.make()
    message = rf"loss '{loss.default_name}' is computed by the CPU engine only"
    model = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(3)], device="numpy")
    with pytest.raises(NotImplementedError, match=message):
        model.compile(optimizer="sgd", loss=loss)
        model.fit(np.ones((2, 3)), np.ones((2, 3)), verbose=0)
    model = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(3)])
    model.compile(optimizer="sgd", loss=loss)
    expected = model.predict(np.ones((1, 3)), verbose=0)
    with pytest.raises(NotImplementedError, match=message):
        model.to("numpy")
    assert model._device == "cpu"  # the model stays where it was, and works
    np.testing.assert_array_equal(model.predict(np.ones((1, 3)), verbose=0), expected)
