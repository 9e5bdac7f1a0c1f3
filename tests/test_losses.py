"""Losses: the NumPy `__call__` of each class against a formula written here, `get` /
`serialize` / `deserialize`, and the C++ engine's loss (through `model.evaluate`) against the same
formulas on `model.predict`'s output, including the fused softmax / sigmoid paths and logits of
about +-200, where only a log-sum-exp form stays finite.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, losses

EPS = 1e-7  # Keras clips probabilities to [EPS, 1 - EPS] before a log


# -- reference formulas (independent of fastmlp) -------------------------------------------------


def logsumexp(z: np.ndarray) -> np.ndarray:
    """log(sum_j exp(z_j)) per row, stable: np.logaddexp never overflows."""
    return np.logaddexp.reduce(z, axis=1)


def ref_sparse_ce(labels, p):
    picked = p[np.arange(len(labels)), np.asarray(labels, dtype=int)]
    return np.mean(-np.log(np.clip(picked, EPS, 1 - EPS)))


def ref_sparse_ce_logits(labels, z):
    picked = z[np.arange(len(labels)), np.asarray(labels, dtype=int)]
    return np.mean(logsumexp(z) - picked)


def smooth_categorical(y, smoothing):
    return y * (1 - smoothing) + smoothing / y.shape[1]


def ref_cce(y, p, smoothing=0.0):
    y = smooth_categorical(y, smoothing)
    return np.mean(-np.sum(y * np.log(np.clip(p, EPS, 1 - EPS)), axis=1))


def ref_cce_logits(y, z, smoothing=0.0):
    y = smooth_categorical(y, smoothing)
    return np.mean(np.sum(y * (logsumexp(z)[:, None] - z), axis=1))


def smooth_binary(t, smoothing):
    return t * (1 - smoothing) + 0.5 * smoothing


def ref_bce(t, p, smoothing=0.0):
    t = smooth_binary(t, smoothing)
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))


def ref_bce_logits(t, z, smoothing=0.0):
    # -t log(sigmoid z) - (1 - t) log(1 - sigmoid z) = log(1 + e^z) - t z
    t = smooth_binary(t, smoothing)
    return np.mean(np.logaddexp(0.0, z) - t * z)


def ref_mse(y, p):
    return np.mean((p - y) ** 2)


def ref_mae(y, p):
    return np.mean(np.abs(p - y))


def pm1(y):
    """{0, 1} labels as {-1, +1}; {-1, +1} labels unchanged."""
    y = np.asarray(y, dtype=float)
    return 2 * y - 1 if np.isin(y, (0, 1)).all() else y


def ref_hinge(y, p):
    return np.mean(np.maximum(1 - pm1(y) * p, 0))


def ref_logistic(y, s):
    return np.mean(np.logaddexp(0.0, -pm1(y) * s))


# -- data -----------------------------------------------------------------------------------------

RNG = np.random.default_rng(0)
N, K = 12, 4
LABELS = RNG.integers(0, K, N)
ONE_HOT = np.eye(K)[LABELS]
SOFT = RNG.dirichlet(np.ones(K), N)  # soft targets: rows sum to 1
LOGITS = RNG.normal(scale=2.0, size=(N, K))
LOGITS_ON = {"from_logits": True}
PROBS = RNG.dirichlet(np.ones(K), N)
BIN_T = RNG.integers(0, 2, (N, 3)).astype(float)
BIN_SOFT = RNG.uniform(size=(N, 3))
BIN_P = RNG.uniform(0.01, 0.99, size=(N, 3))
BIN_Z = RNG.normal(scale=3.0, size=(N, 3))
VALUES = RNG.normal(size=(N, 3))
TARGETS = RNG.normal(size=(N, 3))
PM1 = RNG.choice([-1.0, 1.0], size=(N, 1))
SCORES = RNG.normal(scale=2.0, size=(N, 1))


# -- NumPy __call__ against the formulas ----------------------------------------------------------

NUMPY_CASES = [
    pytest.param(losses.SparseCategoricalCrossentropy(), LABELS, PROBS, ref_sparse_ce, id="scce"),
    pytest.param(
        losses.SparseCategoricalCrossentropy(from_logits=True),
        LABELS,
        LOGITS,
        ref_sparse_ce_logits,
        id="scce-logits",
    ),
    pytest.param(losses.CategoricalCrossentropy(), ONE_HOT, PROBS, ref_cce, id="cce"),
    pytest.param(losses.CategoricalCrossentropy(), SOFT, PROBS, ref_cce, id="cce-soft-targets"),
    pytest.param(
        losses.CategoricalCrossentropy(from_logits=True),
        ONE_HOT,
        LOGITS,
        ref_cce_logits,
        id="cce-logits",
    ),
    pytest.param(
        losses.CategoricalCrossentropy(label_smoothing=0.2),
        ONE_HOT,
        PROBS,
        lambda y, p: ref_cce(y, p, 0.2),
        id="cce-label-smoothing",
    ),
    pytest.param(
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        ONE_HOT,
        LOGITS,
        lambda y, z: ref_cce_logits(y, z, 0.1),
        id="cce-logits-label-smoothing",
    ),
    pytest.param(losses.BinaryCrossentropy(), BIN_T, BIN_P, ref_bce, id="bce"),
    pytest.param(losses.BinaryCrossentropy(), BIN_SOFT, BIN_P, ref_bce, id="bce-soft-targets"),
    pytest.param(
        losses.BinaryCrossentropy(from_logits=True), BIN_T, BIN_Z, ref_bce_logits, id="bce-logits"
    ),
    pytest.param(
        losses.BinaryCrossentropy(label_smoothing=0.2),
        BIN_T,
        BIN_P,
        lambda t, p: ref_bce(t, p, 0.2),
        id="bce-label-smoothing",
    ),
    pytest.param(
        losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.3),
        BIN_T,
        BIN_Z,
        lambda t, z: ref_bce_logits(t, z, 0.3),
        id="bce-logits-label-smoothing",
    ),
    pytest.param(losses.MeanSquaredError(), TARGETS, VALUES, ref_mse, id="mse"),
    pytest.param(losses.MeanAbsoluteError(), TARGETS, VALUES, ref_mae, id="mae"),
    pytest.param(losses.Hinge(), PM1, SCORES, ref_hinge, id="hinge-pm1"),
    pytest.param(losses.Hinge(), (PM1 + 1) / 2, SCORES, ref_hinge, id="hinge-01"),
    pytest.param(losses.LogisticLoss(), PM1, SCORES, ref_logistic, id="logistic-pm1"),
    pytest.param(losses.LogisticLoss(), (PM1 + 1) / 2, SCORES, ref_logistic, id="logistic-01"),
]


@pytest.mark.parametrize(("loss", "y_true", "y_pred", "reference"), NUMPY_CASES)
def test_numpy_call_matches_formula(loss, y_true, y_pred, reference) -> None:
    value = loss(y_true, y_pred)
    assert type(value) is float
    assert value == pytest.approx(reference(y_true, y_pred), rel=1e-12, abs=1e-12)


def test_clipping_keeps_probability_losses_finite() -> None:
    # p = 0 and p = 1 hit the [EPS, 1 - EPS] clip: -log(EPS) per wrong answer, not inf.
    worst = -np.log(EPS)
    assert losses.SparseCategoricalCrossentropy()([0, 1], [[0.0, 1.0], [1.0, 0.0]]) == (
        pytest.approx(worst)
    )
    assert losses.CategoricalCrossentropy()([[1.0, 0.0]], [[0.0, 1.0]]) == pytest.approx(worst)
    assert losses.BinaryCrossentropy()([[1.0, 0.0]], [[0.0, 1.0]]) == pytest.approx(worst)
    assert losses.BinaryCrossentropy()([[1.0, 0.0]], [[1.0, 0.0]]) == pytest.approx(-np.log1p(-EPS))


@pytest.mark.parametrize(
    ("loss", "y_true", "y_pred", "expected"),
    [
        pytest.param(
            losses.CategoricalCrossentropy(from_logits=True),
            [[1.0, 0.0]],
            [[-1000.0, 1000.0]],
            2000.0,
            id="cce",
        ),
        pytest.param(
            losses.BinaryCrossentropy(from_logits=True),
            [[1.0, 0.0]],
            [[-1000.0, 1000.0]],
            1000.0,
            id="bce",
        ),
        pytest.param(
            losses.LogisticLoss(), [[1.0], [-1.0]], [[-1000.0], [1000.0]], 1000.0, id="logistic"
        ),
    ],
)
def test_numpy_logit_losses_are_stable_at_1000(loss, y_true, y_pred, expected) -> None:
    assert loss(y_true, y_pred) == pytest.approx(expected, rel=1e-12)


def test_numpy_sparse_ce_from_logits_is_stable_at_1000() -> None:
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    assert loss([0], [[-1000.0, 1000.0]]) == pytest.approx(2000.0, rel=1e-12)


def test_function_forms_give_one_loss_per_sample_as_keras() -> None:
    """Keras's loss functions give one loss per sample; their mean is the class's value."""
    cases = [
        (losses.sparse_categorical_crossentropy, {}, LABELS, PROBS, ref_sparse_ce),
        (losses.sparse_categorical_crossentropy, LOGITS_ON, LABELS, LOGITS, ref_sparse_ce_logits),
        (losses.categorical_crossentropy, {}, ONE_HOT, PROBS, ref_cce),
        (losses.categorical_crossentropy, LOGITS_ON, ONE_HOT, LOGITS, ref_cce_logits),
        (losses.binary_crossentropy, {}, BIN_T, BIN_P, ref_bce),
        (losses.binary_crossentropy, LOGITS_ON, BIN_T, BIN_Z, ref_bce_logits),
        (losses.mean_squared_error, {}, TARGETS, VALUES, ref_mse),
        (losses.mean_absolute_error, {}, TARGETS, VALUES, ref_mae),
        (losses.hinge, {}, PM1, SCORES, ref_hinge),
        (losses.logistic, {}, PM1, SCORES, ref_logistic),
    ]
    for fn, kwargs, y, p, ref in cases:
        per = fn(y, p, **kwargs)
        n = np.asarray(p).shape[0]
        assert per.shape == (n,), fn.__name__
        for i in range(n):  # each sample's loss is the reference on that sample alone
            assert per[i] == pytest.approx(ref(np.asarray(y)[i : i + 1], np.asarray(p)[i : i + 1]))
        assert float(np.mean(per)) == pytest.approx(ref(y, p))


def test_a_loss_object_reduces_as_keras_with_sample_weights() -> None:
    loss = losses.CategoricalCrossentropy()
    w = np.linspace(0.5, 2.0, PROBS.shape[0])
    per = loss.call(ONE_HOT, PROBS)
    assert loss(ONE_HOT, PROBS, sample_weight=w) == pytest.approx(np.sum(w * per) / len(per))
    assert loss(ONE_HOT, PROBS, sample_weight=2.0) == pytest.approx(2 * np.mean(per))
    with pytest.raises(ValueError, match="sample_weight"):
        loss(ONE_HOT, PROBS, sample_weight=w[:-1])
    with pytest.raises(ValueError, match="does not match"):
        loss(ONE_HOT[:-1], PROBS)


def test_a_one_dimensional_prediction_is_one_sample_as_in_keras() -> None:
    y, p = np.array([0.0, 1.0, 0.0]), np.array([0.2, 0.7, 0.1])
    # one sample of three outputs: a distribution for the categorical loss
    assert losses.CategoricalCrossentropy()(y, p) == pytest.approx(-np.log(0.7))
    assert losses.categorical_crossentropy(y, p) == pytest.approx(-np.log(0.7))
    assert np.ndim(losses.categorical_crossentropy(y, p)) == 0
    assert losses.sparse_categorical_crossentropy(1, p) == pytest.approx(-np.log(0.7))
    # the elementwise losses: the mean over the outputs
    assert losses.MeanSquaredError()(y, p) == pytest.approx(np.mean((p - y) ** 2))
    assert losses.binary_crossentropy(y, p) == pytest.approx(ref_bce(y, p))


# -- get / serialize / deserialize ----------------------------------------------------------------

NAMES = {
    "sparse_categorical_crossentropy": losses.SparseCategoricalCrossentropy,
    "categorical_crossentropy": losses.CategoricalCrossentropy,
    "binary_crossentropy": losses.BinaryCrossentropy,
    "mean_squared_error": losses.MeanSquaredError,
    "mse": losses.MeanSquaredError,
    "mean_absolute_error": losses.MeanAbsoluteError,
    "mae": losses.MeanAbsoluteError,
    "hinge": losses.Hinge,
    "logistic": losses.LogisticLoss,
}
CLASSES = sorted(set(NAMES.values()), key=lambda cls: cls.__name__)
FUNCTIONS = {
    losses.sparse_categorical_crossentropy: losses.SparseCategoricalCrossentropy,
    losses.categorical_crossentropy: losses.CategoricalCrossentropy,
    losses.binary_crossentropy: losses.BinaryCrossentropy,
    losses.mean_squared_error: losses.MeanSquaredError,
    losses.mean_absolute_error: losses.MeanAbsoluteError,
    losses.hinge: losses.Hinge,
    losses.logistic: losses.LogisticLoss,
}


@pytest.mark.parametrize(("name", "cls"), list(NAMES.items()), ids=list(NAMES))
def test_get_by_name(name, cls) -> None:
    assert type(losses.get(name)) is cls
    assert type(losses.get(name.upper())) is cls


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_get_by_class_and_object(cls) -> None:
    assert type(losses.get(cls)) is cls
    assert type(losses.get(cls.__name__)) is cls  # Keras takes class names as strings too
    loss = cls()
    assert losses.get(loss) is loss


@pytest.mark.parametrize(
    ("fn", "cls"), list(FUNCTIONS.items()), ids=[fn.__name__ for fn in FUNCTIONS]
)
def test_get_by_function(fn, cls) -> None:
    assert type(losses.get(fn)) is cls


def test_default_names_are_keras_names() -> None:
    for name, cls in NAMES.items():
        if name not in ("mse", "mae"):
            assert cls().name == name


@pytest.mark.parametrize(
    "loss",
    [
        losses.SparseCategoricalCrossentropy(from_logits=True, name="scce"),
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        losses.BinaryCrossentropy(label_smoothing=0.25, name="bce"),
        losses.MeanSquaredError(name="my_mse"),
        losses.MeanAbsoluteError(),
        losses.Hinge(),
        losses.LogisticLoss(name="lr"),
    ],
    ids=lambda loss: type(loss).__name__,
)
def test_serialize_deserialize_round_trip(loss) -> None:
    data = json.loads(json.dumps(losses.serialize(loss)))
    assert data["class_name"] == type(loss).__name__
    again = losses.deserialize(data)
    assert type(again) is type(loss)
    assert again.get_config() == loss.get_config()
    assert type(losses.get(data)) is type(loss)
    assert type(loss).from_config(loss.get_config()).get_config() == loss.get_config()


def test_config_keeps_from_logits_and_label_smoothing() -> None:
    config = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2).get_config()
    assert config == {"name": "binary_crossentropy", "from_logits": True, "label_smoothing": 0.2}


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown loss 'crossentropy'\. Expected one of: .*mse"):
        losses.get("crossentropy")


def test_unknown_class_name_in_deserialize() -> None:
    with pytest.raises(ValueError, match=r"Unknown loss class 'Dice'"):
        losses.deserialize({"class_name": "Dice", "config": {}})


def test_get_refuses_none_and_python_functions() -> None:
    with pytest.raises(ValueError, match=r"loss is required"):
        losses.get(None)
    with pytest.raises(TypeError, match=r"custom Python losses are not supported"):
        losses.get(lambda y_true, y_pred: 0.0)


# -- the engine's loss agrees --------------------------------------------------------------------

IN = 5
X = np.random.default_rng(1).normal(size=(16, IN))
N_ENGINE = X.shape[0]
_t = np.random.default_rng(2)
E_LABELS = _t.integers(0, K, N_ENGINE)
E_ONE_HOT = np.eye(K)[E_LABELS]
E_BIN = _t.integers(0, 2, (N_ENGINE, 3)).astype(float)
E_TARGETS = _t.normal(size=(N_ENGINE, 3))
E_PM1 = _t.choice([-1.0, 1.0], size=(N_ENGINE, 1))


@dataclass(frozen=True)
class EngineCase:
    id: str
    units: int
    activation: str | None
    loss: Callable[[], losses.Loss]
    y: np.ndarray
    reference: Callable[[np.ndarray, np.ndarray], float]  # reference(y, model output)
    logits_reference: Callable[[np.ndarray, np.ndarray], float] | None = None  # (y, x W + b)
    probabilities_layer: bool = (
        False  # a Dropout(0) after the output: the engine sees probabilities
    )


ENGINE_CASES = [
    EngineCase(
        "scce-softmax-fused",
        K,
        "softmax",
        losses.SparseCategoricalCrossentropy,
        E_LABELS,
        ref_sparse_ce,
        ref_sparse_ce_logits,
    ),
    EngineCase(
        "scce-from-logits",
        K,
        None,
        lambda: losses.SparseCategoricalCrossentropy(from_logits=True),
        E_LABELS,
        ref_sparse_ce_logits,
        ref_sparse_ce_logits,
    ),
    EngineCase(
        "scce-softmax-probabilities",
        K,
        "softmax",
        losses.SparseCategoricalCrossentropy,
        E_LABELS,
        ref_sparse_ce,
        probabilities_layer=True,
    ),
    EngineCase(
        "cce-softmax-fused",
        K,
        "softmax",
        losses.CategoricalCrossentropy,
        E_ONE_HOT,
        ref_cce,
        ref_cce_logits,
    ),
    EngineCase(
        "cce-from-logits",
        K,
        None,
        lambda: losses.CategoricalCrossentropy(from_logits=True),
        E_ONE_HOT,
        ref_cce_logits,
        ref_cce_logits,
    ),
    EngineCase(
        "cce-softmax-fused-label-smoothing",
        K,
        "softmax",
        lambda: losses.CategoricalCrossentropy(label_smoothing=0.2),
        E_ONE_HOT,
        lambda y, p: ref_cce(y, p, 0.2),
        lambda y, z: ref_cce_logits(y, z, 0.2),
    ),
    EngineCase(
        "cce-from-logits-label-smoothing",
        K,
        None,
        lambda: losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        E_ONE_HOT,
        lambda y, z: ref_cce_logits(y, z, 0.1),
        lambda y, z: ref_cce_logits(y, z, 0.1),
    ),
    EngineCase(
        "cce-softmax-probabilities",
        K,
        "softmax",
        losses.CategoricalCrossentropy,
        E_ONE_HOT,
        ref_cce,
        probabilities_layer=True,
    ),
    EngineCase(
        "bce-sigmoid-fused",
        3,
        "sigmoid",
        losses.BinaryCrossentropy,
        E_BIN,
        ref_bce,
        ref_bce_logits,
    ),
    EngineCase(
        "bce-from-logits",
        3,
        None,
        lambda: losses.BinaryCrossentropy(from_logits=True),
        E_BIN,
        ref_bce_logits,
        ref_bce_logits,
    ),
    EngineCase(
        "bce-sigmoid-fused-label-smoothing",
        3,
        "sigmoid",
        lambda: losses.BinaryCrossentropy(label_smoothing=0.2),
        E_BIN,
        lambda t, p: ref_bce(t, p, 0.2),
        lambda t, z: ref_bce_logits(t, z, 0.2),
    ),
    EngineCase(
        "bce-sigmoid-probabilities",
        3,
        "sigmoid",
        losses.BinaryCrossentropy,
        E_BIN,
        ref_bce,
        probabilities_layer=True,
    ),
    EngineCase("mse-linear", 3, None, losses.MeanSquaredError, E_TARGETS, ref_mse),
    EngineCase("mae-linear", 3, None, losses.MeanAbsoluteError, E_TARGETS, ref_mae),
    EngineCase("hinge-tanh-pm1", 1, "tanh", losses.Hinge, E_PM1, ref_hinge),
    EngineCase("hinge-linear-01", 1, None, losses.Hinge, (E_PM1 + 1) / 2, ref_hinge),
    EngineCase(
        "logistic-linear-pm1", 1, None, losses.LogisticLoss, E_PM1, ref_logistic, ref_logistic
    ),
    EngineCase(
        "logistic-linear-01",
        1,
        None,
        losses.LogisticLoss,
        (E_PM1 + 1) / 2,
        ref_logistic,
        ref_logistic,
    ),
]


def engine_model(case: EngineCase, scale: float, dtype: str = "float64") -> tuple[Any, np.ndarray]:
    """A compiled one-layer model with fixed weights; returns it and its logits x W + b."""
    stack: list[Any] = [
        layers.Input(shape=(IN,)),
        layers.Dense(case.units, activation=case.activation),
    ]
    if case.probabilities_layer:
        stack.append(layers.Dropout(0.0))
    model = fm.Sequential(stack, seed=0, dtype=dtype)
    model.compile(optimizer="sgd", loss=case.loss())
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(IN, case.units))
    bias = rng.normal(size=case.units)
    z = X @ kernel + bias
    factor = scale / np.abs(z).max()  # the largest |logit| is `scale`
    kernel, bias = kernel * factor, bias * factor
    model.set_weights([kernel, bias])
    return model, X @ kernel + bias


@pytest.mark.parametrize("case", ENGINE_CASES, ids=[case.id for case in ENGINE_CASES])
def test_engine_loss_matches_formula_on_predict_output(case: EngineCase) -> None:
    model, _ = engine_model(case, scale=4.0)
    out = model.predict(X, verbose=0)
    expected = case.reference(case.y, out)
    assert model.evaluate(X, case.y, verbose=0) == pytest.approx(expected, rel=1e-10, abs=1e-10)
    assert model.evaluate(X, case.y, batch_size=5, verbose=0) == pytest.approx(
        expected, rel=1e-10, abs=1e-10
    )
    assert model.test_on_batch(X, case.y) == pytest.approx(expected, rel=1e-10, abs=1e-10)
    # The class's own NumPy __call__ gives the same number.
    assert model.loss(case.y, out) == pytest.approx(expected, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("case", ENGINE_CASES, ids=[case.id for case in ENGINE_CASES])
def test_engine_loss_is_finite_and_stable_at_logits_200(case: EngineCase) -> None:
    model, z = engine_model(case, scale=200.0)
    assert np.abs(z).max() == pytest.approx(200.0)
    out = model.predict(X, verbose=0)
    assert np.isfinite(out).all()
    loss = model.evaluate(X, case.y, verbose=0)
    assert np.isfinite(loss)
    if case.logits_reference is not None:
        # Fused and logits paths: the log-sum-exp form on x W + b, never log(0) or a clip.
        expected = case.logits_reference(case.y, z)
    else:
        # Probabilities (clipped to [EPS, 1 - EPS], as Keras) or plain values.
        expected = case.reference(case.y, out)
    assert loss == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_fused_loss_at_logits_200_exceeds_the_clip_bound() -> None:
    # With the clip, a wrong answer costs at most -log(EPS) ~ 16.1; the fused path must not clip.
    case = ENGINE_CASES[0]
    model, z = engine_model(case, scale=200.0)
    per_sample = logsumexp(z) - z[np.arange(N_ENGINE), case.y]
    assert per_sample.max() > 100
    assert model.evaluate(X, case.y, verbose=0) == pytest.approx(per_sample.mean(), rel=1e-10)


@pytest.mark.parametrize(
    "case", [c for c in ENGINE_CASES if c.logits_reference is not None], ids=lambda c: c.id
)
def test_float32_engine_loss_is_finite_at_logits_200(case: EngineCase) -> None:
    model, z = engine_model(case, scale=200.0, dtype="float32")
    loss = model.evaluate(X, case.y, verbose=0)
    assert np.isfinite(loss)
    assert loss == pytest.approx(case.logits_reference(case.y, z), rel=1e-4)


def test_train_on_batch_reports_the_loss_before_its_step() -> None:
    case = ENGINE_CASES[3]
    model, _ = engine_model(case, scale=4.0)
    before = model.evaluate(X, case.y, verbose=0)
    assert model.train_on_batch(X, case.y) == pytest.approx(before, rel=1e-10)


@pytest.mark.parametrize(
    ("activation", "loss", "warns"),
    [
        ("softmax", lambda: fm.losses.SparseCategoricalCrossentropy(from_logits=True), True),
        ("sigmoid", lambda: fm.losses.BinaryCrossentropy(from_logits=True), True),
        (None, lambda: fm.losses.SparseCategoricalCrossentropy(from_logits=True), False),
        ("softmax", lambda: fm.losses.SparseCategoricalCrossentropy(), False),
    ],
)
def test_from_logits_on_probabilities_warns_as_keras(activation, loss, warns):
    model = fm.Sequential([fm.Input(shape=(3,)), fm.layers.Dense(4, activation=activation)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.compile("adam", loss())
    messages = [str(w.message) for w in caught]
    assert any("from_logits=True, but the model's output layer" in m for m in messages) == warns


@pytest.mark.parametrize(
    ("last", "warns"),
    [
        (lambda: [fm.layers.Dense(1, activation="softmax")], True),
        (lambda: [fm.layers.Dense(1), fm.layers.Softmax()], True),
        (
            lambda: [fm.layers.Dense(1), fm.layers.Activation("softmax"), fm.layers.Dropout(0.1)],
            True,
        ),
        (lambda: [fm.layers.Dense(2, activation="softmax")], False),
        (lambda: [fm.layers.Dense(1, activation="sigmoid")], False),
    ],
)
def test_a_softmax_over_one_unit_warns_as_keras_at_the_users_line(last, warns):
    model = fm.Sequential([fm.Input(shape=(3,)), *last()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.compile("adam", "binary_crossentropy")
    ours = [
        w for w in caught if "softmax over axis -1 of a tensor of shape (None, 1)" in str(w.message)
    ]
    assert len(ours) == int(warns)
    if warns:
        assert ours[0].filename == __file__  # the user's line, not the library's
