"""The focal cross-entropies, BinaryFocalCrossentropy and CategoricalFocalCrossentropy (Keras 3's).

References independent of the code under test: Keras 3's formulas written here in NumPy (per
sample, the batch mean, sample weights), central finite differences of a whole model's loss in
float64 (test_gradients.py's cases, on every engine mode: fused with a sigmoid, on logits, on
probabilities), and Keras 3.15 itself in a subprocess where it is installed: the same per-sample
values, the same gradients (TensorFlow's GradientTape), and after three epochs of SGD from the
same weights on the same batches, the same weights and history. Then names, configs, saving, the
accuracy each loss calls for, and the arguments they refuse.
"""

from __future__ import annotations

import json

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import _core, layers, losses, models, optimizers
from keras_run import run_keras
from test_gradients import FUSED, LOGITS, PROBABILITIES, Case, forward, mlp, penalty, to_spec_kwargs
from test_gradients import relative_error as gradient_error
from test_losses_keras import FUNCTIONS_SCRIPT, KERAS_SCRIPT, _train_data
from test_losses_keras import _training_model as keras_training_model
from test_losses_more import linear_model, output_gradient

EPS = 1e-7  # Keras's epsilon
A = np.array
R = np.random.default_rng(2024)
BFC, CFC = losses.BinaryFocalCrossentropy, losses.CategoricalFocalCrossentropy


# -- Keras 3's formulas (keras/src/losses/losses.py), per sample ---------------------------------


def sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def ref_binary(y, p, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
               label_smoothing=0.0):  # fmt: skip
    """mean(w (1 - p_t)^gamma bce); on logits bce is TensorFlow's sigmoid_cross_entropy_with_logits
    (Keras's backend finds the logits behind the sigmoid), else from p clipped to [eps, 1 - eps]."""
    t = y * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        prob, bce = sigmoid(p), np.logaddexp(0, p) - t * p
    else:
        c = np.clip(p, EPS, 1 - EPS)
        prob, bce = p, -t * np.log(c) - (1 - t) * np.log1p(-c)
    p_t = t * prob + (1 - t) * (1 - prob)
    weight = alpha * t + (1 - alpha) * (1 - t) if apply_class_balancing else 1.0
    return np.mean(weight * (1 - p_t) ** gamma * bce, axis=-1)


def ref_categorical(y, p, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0):
    """sum(alpha (1 - q)^gamma (-t log q)), q = clip(p / sum(p)), p = softmax(z) on logits."""
    t = y * (1 - label_smoothing) + label_smoothing / y.shape[-1]
    if from_logits:
        z = p - p.max(-1, keepdims=True)
        p = np.exp(z - np.log(np.exp(z).sum(-1, keepdims=True)))
    q = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return np.sum(alpha * (1 - q) ** gamma * (-t * np.log(q)), axis=-1)


LABELS = R.integers(0, 2, (6, 4)).astype(float)
PROBS = R.uniform(0.05, 0.95, (6, 4))
Z = R.normal(scale=3, size=(6, 4))
ONE_HOT = np.eye(3)[R.integers(0, 3, 6)]
DISTRIBUTIONS = R.dirichlet(np.ones(3), 6)

# (id, the loss's arguments, y, y_pred): smooth points, and points where the clips bite
BINARY = [
    ("default", {}, LABELS, PROBS),
    ("soft-targets", {}, R.uniform(size=(6, 4)), PROBS),
    ("balanced", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5}, LABELS, PROBS),
    ("gamma-0", {"gamma": 0.0}, LABELS, PROBS),
    ("smoothed", {"label_smoothing": 0.2, "gamma": 3.0}, LABELS, PROBS),
    ("logits", {"from_logits": True}, LABELS, Z),
    (
        "logits-balanced-smoothed",
        {"from_logits": True, "apply_class_balancing": True, "alpha": 0.9, "label_smoothing": 0.1},
        LABELS,
        Z,
    ),
    (
        "logits-large",
        {"from_logits": True, "gamma": 0.5},
        A([[0.0, 1.0, 1.0]]),
        A([[30, -40, 25.0]]),
    ),
    (
        "clipped",
        {"gamma": 1.5},
        A([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]]),
        A([[0.0, 1.0, 1e-9, 1 - 1e-9], [0.0, 1.0, 0.3, 1e-8]]),
    ),
]
CATEGORICAL = [
    ("default", {}, ONE_HOT, DISTRIBUTIONS),
    ("alpha-gamma", {"alpha": 0.6, "gamma": 0.5}, ONE_HOT, DISTRIBUTIONS),
    ("gamma-0", {"gamma": 0.0, "alpha": 1.0}, ONE_HOT, DISTRIBUTIONS),
    ("soft-targets", {"gamma": 3.0}, DISTRIBUTIONS[::-1], DISTRIBUTIONS),
    ("unnormalised", {}, ONE_HOT, R.uniform(0.1, 0.9, (6, 3))),  # rescaled to sum to one
    ("smoothed", {"label_smoothing": 0.1}, ONE_HOT, DISTRIBUTIONS),
    ("logits", {"from_logits": True, "alpha": 0.5}, ONE_HOT, R.normal(scale=2, size=(6, 3))),
    ("logits-smoothed", {"from_logits": True, "label_smoothing": 0.3}, ONE_HOT, Z[:, :3]),
    ("clipped", {}, np.eye(3)[[0, 1, 2]], A([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0], [1e-9, 0.2, 2.0]])),
]
VALUE_CASES = [(f"binary-{i}", BFC, kw, ref_binary, y, p) for i, kw, y, p in BINARY]
VALUE_CASES += [(f"categorical-{i}", CFC, kw, ref_categorical, y, p) for i, kw, y, p in CATEGORICAL]
VALUE_IDS = [case[0] for case in VALUE_CASES]


# -- values in NumPy ----------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "cls", "kwargs", "ref", "y", "p"), VALUE_CASES, ids=VALUE_IDS)
def test_call_gives_the_formula_per_sample(key, cls, kwargs, ref, y, p) -> None:
    np.testing.assert_allclose(cls(**kwargs).call(y, p), ref(y, p, **kwargs), rtol=1e-13, atol=0)


@pytest.mark.parametrize(("key", "cls", "kwargs", "ref", "y", "p"), VALUE_CASES, ids=VALUE_IDS)
def test_the_loss_is_the_batch_mean_and_weighs_samples(key, cls, kwargs, ref, y, p) -> None:
    loss, per = cls(**kwargs), ref(y, p, **kwargs)
    assert loss(y, p) == pytest.approx(per.mean(), rel=1e-13)
    w = np.random.default_rng(1).uniform(0, 2, len(p))
    assert loss(y, p, sample_weight=w) == pytest.approx(np.sum(w * per) / len(p), rel=1e-13)
    assert np.ndim(loss.call(y[0], p[0])) == 0  # one 1-D sample: a scalar
    assert loss.call(y[0], p[0]) == pytest.approx(per[0], rel=1e-13)


def test_functions_take_keras_arguments() -> None:
    kwargs = {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.0, "label_smoothing": 0.1}
    np.testing.assert_array_equal(
        losses.binary_focal_crossentropy(LABELS, Z, from_logits=True, **kwargs),
        BFC(from_logits=True, **kwargs).call(LABELS, Z),
    )
    np.testing.assert_array_equal(
        losses.categorical_focal_crossentropy(ONE_HOT, DISTRIBUTIONS, alpha=0.7, gamma=0.5),
        CFC(alpha=0.7, gamma=0.5).call(ONE_HOT, DISTRIBUTIONS),
    )


def test_gamma_0_gives_back_the_crossentropies() -> None:
    np.testing.assert_allclose(
        losses.binary_focal_crossentropy(LABELS, PROBS, gamma=0.0),
        losses.binary_crossentropy(LABELS, PROBS),
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        losses.categorical_focal_crossentropy(ONE_HOT, DISTRIBUTIONS, alpha=0.4, gamma=0.0),
        0.4 * losses.categorical_crossentropy(ONE_HOT, DISTRIBUTIONS),
        rtol=1e-14,
    )


# -- the engine's value and gradient ------------------------------------------------------------


@pytest.mark.parametrize(("key", "cls", "kwargs", "ref", "y", "p"), VALUE_CASES, ids=VALUE_IDS)
def test_engine_value_matches_the_formula(key, cls, kwargs, ref, y, p) -> None:
    """On probabilities or logits (a linear layer on the identity outputs y_pred itself), in
    float64, with sample weights too, and in float32."""
    per, n = ref(y, p, **kwargs), len(p)
    model = linear_model(p, cls(**kwargs))
    assert model.evaluate(np.eye(n), y, verbose=0) == pytest.approx(per.mean(), rel=1e-12)
    w = np.random.default_rng(1).uniform(0, 2, n)
    weighted = model.evaluate(np.eye(n), y, sample_weight=w, verbose=0)
    assert weighted == pytest.approx(np.sum(w * per) / n, rel=1e-12)
    if not key.endswith("clipped"):  # (float32 clips at 1 - 1.19e-7, not 1 - 1e-7)
        model32 = linear_model(p, cls(**kwargs), dtype="float32")
        assert model32.evaluate(np.eye(n), y, verbose=0) == pytest.approx(per.mean(), rel=1e-5)


SMOOTH = [case for case in VALUE_CASES if not case[0].endswith(("clipped", "large"))]


@pytest.mark.parametrize(
    ("key", "cls", "kwargs", "ref", "y", "p"), SMOOTH, ids=[case[0] for case in SMOOTH]
)
def test_output_gradient_matches_finite_differences_of_the_formula(key, cls, kwargs, ref, y, p):
    g = output_gradient(cls(**kwargs), y, p)
    numeric = np.zeros_like(p)
    h = 1e-6
    for i in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (ref(y, up, **kwargs).mean() - ref(y, down, **kwargs).mean()) / (2 * h)
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)


def test_no_gradient_flows_through_the_clip() -> None:
    """Keras clips probabilities with TensorFlow's clip_by_value: outside [eps, 1 - eps] only the
    focal factor's own slope is left (binary); the categorical loss's clip stops everything."""
    y, p = A([[1.0, 0.0]]), A([[1e-9, 1.5]])
    g = output_gradient(BFC(gamma=2.0), y, p)
    # d/dp (1 - p_t)^2 bce at a constant bce: -2 (1 - p) bce for t = 1, 2 p bce for t = 0
    bce = A([-np.log(EPS), -np.log(1 - (1 - EPS))])
    np.testing.assert_allclose(g, A([[-2 * (1 - 1e-9) * bce[0], 2 * 1.5 * bce[1]]]) / 2, rtol=1e-12)
    g = output_gradient(CFC(), A([[1.0, 0.0]]), A([[0.0, 1.0]]))  # q = (0, 1): both clipped
    np.testing.assert_array_equal(g, np.zeros((1, 2)))


KIND = {"binary": BFC.kind, "categorical": CFC.kind}
# (loss, output activation, from_logits, the engine's mode): fused with a sigmoid (the binary
# loss reads the logits behind it, as Keras's on TensorFlow), on logits, on probabilities
HEADS = [
    ("binary", "sigmoid", False, FUSED),
    ("binary", "hard_sigmoid", False, PROBABILITIES),
    ("binary", "softmax", False, PROBABILITIES),
    ("binary", "linear", True, LOGITS),
    ("binary", "tanh", True, LOGITS),
    ("categorical", "softmax", False, PROBABILITIES),
    ("categorical", "sigmoid", False, PROBABILITIES),
    ("categorical", "linear", True, LOGITS),
    ("categorical", "elu", True, LOGITS),
]
PARAMS = {
    "default": {},
    "balanced": {"gamma": 0.5, "alpha": 0.3, "class_balancing": True},
    "gamma-0": {"gamma": 0.0, "alpha": 0.6},
    "gamma-3": {"gamma": 3.0, "alpha": 0.9, "class_balancing": True},
}
HIDDEN = ["tanh", "elu", "softplus", "gelu", "sigmoid", "selu"]


def engine_params(loss: str, params: dict) -> dict:
    """The set_loss arguments of the loss (the categorical one has no class balancing)."""
    return {k: v for k, v in params.items() if loss == "binary" or k != "class_balancing"}


def focal_case(head, params: dict, hard: bool, seed: int, reg: str = "l2") -> Case:
    """test_gradients.Case (3 -> 5 -> 4 -> 3, parameters away from the clips) with a focal loss
    and its targets: {0, 1} labels or soft ones; one-hot, or smoothed one-hot ones."""
    loss, output, from_logits, _ = head
    hidden = HIDDEN[seed % len(HIDDEN)]
    case = Case(mlp(hidden, output, reg), "bce" if loss == "binary" else "ce", from_logits, seed)
    rng = np.random.default_rng(seed)
    if loss == "binary":
        y = rng.integers(0, 2, case.y.shape) if hard else rng.uniform(size=case.y.shape)
    else:
        y = np.eye(case.k)[rng.integers(0, case.k, len(case.y))]
        y = y if hard else 0.9 * y + 0.1 / case.k
    case.y = y.astype(np.float64)
    case.net.set_loss(KIND[loss], from_logits, **engine_params(loss, params))
    return case


def reference_value(case: Case, head, params: dict) -> float:
    """Keras's loss of the model's output (or of its last logits where there are some) + the
    penalties, from test_gradients' NumPy forward pass."""
    loss, _, from_logits, mode = head
    a, pre = forward(case.layers, case.params, case.x)
    logits = from_logits or mode == FUSED
    out = pre[-1][1] if mode == FUSED else a
    kw = {"gamma": params.get("gamma", 2.0), "alpha": params.get("alpha", 0.25)}
    if loss == "binary":
        balance = params.get("class_balancing", False)
        per = ref_binary(case.y, out, balance, from_logits=logits, **kw)
    else:
        per = ref_categorical(case.y, out, from_logits=logits, **kw)
    return float(per.mean()) + penalty(case.layers, case.params)


def head_cases():
    for i, head in enumerate(HEADS):
        for j, name in enumerate(PARAMS):
            for hard in (True, False):
                seed = 100 * i + 10 * j + hard
                label = f"{head[0]}-{head[1]}-{'logits' if head[2] else 'probs'}-{name}"
                yield pytest.param(
                    head, PARAMS[name], hard, seed, id=f"{label}-{'hard' if hard else 'soft'}"
                )


@pytest.mark.parametrize(("head", "params", "hard", "seed"), list(head_cases()))
def test_whole_model_gradient_matches_finite_differences(head, params, hard, seed) -> None:
    case = focal_case(head, params, hard, seed)
    assert case.net.loss_mode == head[3]
    value, g = case.net.loss_and_gradient(case.x, case.y)
    assert value == pytest.approx(reference_value(case, head, params), rel=1e-10, abs=1e-13)
    numeric = case.finite_difference_gradient()
    assert np.linalg.norm(numeric) > 1e-4, "degenerate case: the gradient vanishes"
    assert gradient_error(g, numeric) < 1e-6


@pytest.mark.parametrize("head", HEADS[:2] + HEADS[5:6], ids=lambda h: f"{h[0]}-{h[1]}")
def test_gradient_with_l1_penalties_and_float32_agreement(head) -> None:
    case = focal_case(head, PARAMS["balanced"], True, 7, reg="l1l2")
    value, g = case.net.loss_and_gradient(case.x, case.y)
    assert gradient_error(g, case.finite_difference_gradient()) < 1e-6
    specs = [_core.LayerSpec(**to_spec_kwargs(layer)) for layer in case.layers]
    net32 = _core.NetworkF32(case.x.shape[1], specs, 0)
    net32.set_loss(KIND[head[0]], head[2], **engine_params(head[0], PARAMS["balanced"]))
    net32.set_params(case.params.astype(np.float32))
    value32, g32 = net32.loss_and_gradient(case.x.astype(np.float32), case.y.astype(np.float32))
    assert value32 == pytest.approx(value, rel=1e-5)
    assert gradient_error(g32.astype(np.float64), g) < 1e-4


def test_fused_outputs_are_the_probabilities_metrics_see() -> None:
    """With a sigmoid output the engine reads the logits and overwrites the outputs with their
    sigmoid: accuracy thresholds those at 0.5, as predict's."""
    z = A([[2.0, -1.0], [-0.5, 0.3], [4.0, 0.1]])
    y = A([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    model = fm.Sequential(
        [layers.Input(shape=(3,)), layers.Dense(2, activation="sigmoid")], dtype="float64"
    )
    model.set_weights([z, np.zeros(2)])
    model.compile(optimizer="sgd", loss=BFC(), metrics=["accuracy"])
    assert model._engine.loss_mode == FUSED
    logs = model.evaluate(np.eye(3), y, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(np.mean((z > 0) == (y > 0.5)))
    assert logs["loss"] == pytest.approx(ref_binary(y, z, from_logits=True).mean(), rel=1e-12)
    np.testing.assert_allclose(model.predict(np.eye(3), verbose=0), sigmoid(z), rtol=1e-15)


# -- accuracy, names, configs, saving -----------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "y", "p", "expected"),
    [
        # binary focal: every output thresholded at 0.5, or at 0 on logits (as binary CE's)
        (BFC(), A([[1.0, 0.0], [0.0, 0.0]]), A([[0.6, 0.7], [0.2, 0.9]]), 2 / 4),
        (BFC(from_logits=True), A([[1.0, 0.0], [0.0, 1.0]]), A([[0.4, -0.7], [-2.0, 0.3]]), 4 / 4),
        (BFC(), A([[1.0], [0.0], [1.0]]), A([[0.6], [0.4], [0.45]]), 2 / 3),
        # categorical focal: argmax against argmax, as categorical CE's
        (CFC(), np.eye(3)[[0, 2]], A([[0.5, 0.3, 0.2], [0.6, 0.1, 0.3]]), 1 / 2),
        (CFC(from_logits=True), np.eye(3)[[1, 2]], A([[-1.0, 2.0, 0.0], [3.0, 0.0, -1.0]]), 1 / 2),
    ],
)
def test_accuracy_is_the_kind_the_loss_calls_for(loss, y, p, expected) -> None:
    model = linear_model(p, loss, metrics=["accuracy"])
    logs = model.evaluate(np.eye(len(p)), y, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(expected)


def test_names_and_aliases() -> None:
    for name, cls in (("binary_focal_crossentropy", BFC), ("categorical_focal_crossentropy", CFC)):
        assert type(losses.get(name)) is cls and cls().name == name
        assert type(losses.get(cls.__name__)) is cls
        assert type(losses.get(getattr(losses, name))) is cls
        assert name in losses.__all__ and cls.__name__ in losses.__all__


def test_config_round_trips_through_json() -> None:
    binary = BFC(apply_class_balancing=True, alpha=0.4, gamma=1.5, from_logits=True, name="bf")
    assert binary.get_config() == {
        "name": "bf", "from_logits": True, "label_smoothing": 0.0,
        "apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5,
    }  # fmt: skip
    assert CFC(alpha=0.5, gamma=3, label_smoothing=0.1).get_config() == {
        "name": "categorical_focal_crossentropy", "from_logits": False, "label_smoothing": 0.1,
        "alpha": 0.5, "gamma": 3.0,
    }  # fmt: skip
    for loss in (binary, CFC(alpha=0.5, gamma=3, from_logits=True)):
        again = losses.deserialize(json.loads(json.dumps(losses.serialize(loss))))
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
        assert type(loss).from_config(loss.get_config()).get_config() == loss.get_config()
        assert repr(loss).startswith(type(loss).__name__ + "(")


@pytest.mark.parametrize(
    ("loss", "last", "units", "y"),
    [
        (BFC(apply_class_balancing=True, alpha=0.4, gamma=1.5), "sigmoid", 2, LABELS[:, :2]),
        (CFC(alpha=0.6, gamma=0.5, label_smoothing=0.1), "softmax", 3, ONE_HOT),
    ],
    ids=["binary", "categorical"],
)
def test_a_saved_model_loads_with_its_loss_and_trains_on_alike(loss, last, units, y, tmp_path):
    model = fm.Sequential(
        [layers.Input(shape=(4,)), layers.Dense(5, activation="tanh"), layers.Dense(units, last)],
        dtype="float64",
        seed=1,
    )
    model.compile(optimizer=optimizers.SGD(0.1), loss=loss, metrics=["accuracy"])
    x = np.random.default_rng(5).normal(size=(6, 4))
    model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    loaded = models.load_model(tmp_path / "m.fastmlp")
    assert type(loaded.loss) is type(loss) and loaded.loss.get_config() == loss.get_config()
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    histories = [
        m.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0) for m in (model, loaded)
    ]
    assert histories[0].history == histories[1].history
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_gamma_and_alpha_reach_the_engine() -> None:
    y, p = LABELS, PROBS
    for kwargs in ({"gamma": 0.0}, {"gamma": 4.0}, {"apply_class_balancing": True, "alpha": 0.1}):
        model = linear_model(p, BFC(**kwargs))
        got = model.evaluate(np.eye(len(p)), y, verbose=0)
        assert got == pytest.approx(ref_binary(y, p, **kwargs).mean(), rel=1e-12)
    values = {
        linear_model(DISTRIBUTIONS, CFC(alpha=a, gamma=g)).evaluate(np.eye(6), ONE_HOT, verbose=0)
        for a, g in ((0.25, 2.0), (0.5, 2.0), (0.25, 1.0))
    }
    assert len(values) == 3


# -- bad arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: BFC(gamma=-1),
            ValueError,
            r"BinaryFocalCrossentropy: gamma must be a finite .* -1",
        ),
        (lambda: CFC(gamma=-0.5), ValueError, r"CategoricalFocalCrossentropy: gamma .* got -0\.5"),
        (lambda: BFC(gamma=float("nan")), ValueError, r"gamma must be a finite number >= 0"),
        (lambda: CFC(gamma=float("inf")), ValueError, r"gamma must be a finite number >= 0"),
        (lambda: BFC(gamma="2"), TypeError, r"gamma must be a number >= 0, got '2'"),
        (lambda: CFC(gamma=True), TypeError, r"gamma must be a number >= 0, got True"),
        (lambda: BFC(gamma=None), TypeError, r"gamma must be a number"),
        (lambda: BFC(alpha=1.5), ValueError, r"alpha must be a number in \[0, 1\], got 1\.5"),
        (lambda: CFC(alpha=-0.1), ValueError, r"alpha must be a number in \[0, 1\], got -0\.1"),
        (lambda: CFC(alpha=float("nan")), ValueError, r"alpha must be a number in \[0, 1\]"),
        (lambda: BFC(alpha="0.25"), TypeError, r"alpha must be a number in \[0, 1\], got '0\.25'"),
        (lambda: BFC(alpha=False), TypeError, r"alpha must be a number .* got False"),
        (lambda: CFC(alpha=[0.25, 0.75]), TypeError, r"alpha must be a number .* got \[0\.25"),
        (lambda: BFC(label_smoothing=1.0), ValueError, r"label_smoothing must be in \[0, 1\)"),
        (lambda: CFC(label_smoothing="0.1"), TypeError, r"label_smoothing must be a number"),
        (lambda: losses.binary_focal_crossentropy([[1.0]], [[0.5]], gamma=-2), ValueError, "gamma"),
        (
            lambda: losses.categorical_focal_crossentropy([[1.0]], [[1.0]], alpha=2),
            ValueError,
            "alpha",
        ),
    ],
)
def test_bad_arguments_are_refused_by_name(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("device", ["cpu", "numpy"])
@pytest.mark.parametrize(
    ("kind", "name"),
    [(BFC.kind, "binary"), (CFC.kind, "categorical")],
    ids=["binary", "categorical"],
)
def test_the_engines_refuse_bad_arguments_too(device, kind, name) -> None:
    model = linear_model(PROBS, BFC())
    if device == "numpy":
        model.to("numpy")
    model.predict(np.eye(6), verbose=0)
    engine = model._engine
    for gamma in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=rf"{name}_focal_crossentropy: gamma must be a finite"):
            engine.set_loss(kind, False, gamma=gamma)
    for alpha in (-0.5, 1.01, float("nan")):
        with pytest.raises(ValueError, match=rf"{name}_focal_crossentropy: alpha must be a number"):
            engine.set_loss(kind, False, alpha=alpha)


def test_binary_focal_refuses_targets_outside_0_1() -> None:
    model = linear_model(PROBS[:2, :2], BFC())
    with pytest.raises(ValueError, match=r"binary_focal_crossentropy expects targets in \[0, 1\]"):
        model.fit(np.eye(2), A([[0.0, 1.0], [-1.0, 1.0]]), verbose=0)


# -- Keras 3 itself -----------------------------------------------------------------------------

# (id, loss, output units, output activation, targets, scale of the output layer's kernel)
TRAINING = [
    ("train-binary-sigmoid", BFC(), 2, "sigmoid", "labels", 1.0),
    (
        "train-binary-sigmoid-balanced-smoothed",
        BFC(apply_class_balancing=True, alpha=0.4, gamma=1.5, label_smoothing=0.1),
        3,
        "sigmoid",
        "labels",
        1.0,
    ),
    ("train-binary-logits", BFC(from_logits=True, gamma=3.0), 2, "linear", "labels", 1.0),
    # saturated sigmoids (|z| up to 69): Keras reads the logits, not the clipped probabilities
    (
        "train-binary-sigmoid-saturated",
        BFC(apply_class_balancing=True),
        1,
        "sigmoid",
        "labels",
        30.0,
    ),
    ("train-categorical-softmax", CFC(), 3, "softmax", "one_hot", 1.0),
    (
        "train-categorical-logits-smoothed",
        CFC(alpha=0.6, gamma=0.5, from_logits=True, label_smoothing=0.1),
        3,
        "linear",
        "one_hot",
        1.0,
    ),
    ("train-categorical-sigmoid", CFC(gamma=3.0), 4, "sigmoid", "one_hot", 1.0),
]


def _training_model(loss: losses.Loss, units: int, activation: str, scale: float):
    """test_losses_keras.py's model (4 -> 5 tanh -> units), its output kernel times `scale`."""
    model = keras_training_model(loss, units, activation)
    weights = model.get_weights()
    weights[2] = weights[2] * scale
    model.set_weights(weights)
    return model


def run_keras_cases(tmp) -> dict[str, np.ndarray]:
    """Everything Keras computes for this module, by test_losses_keras.py's scripts: the values
    and gradients of the loss objects, the trainings; and the per-sample values of the functions."""
    arrays, values, train, functions = {}, [], [], []
    for key, cls, kwargs, _, y, p in VALUE_CASES:
        arrays[key + "/y"], arrays[key + "/p"] = y, p
        values.append({"id": key, "class_name": cls.__name__, "config": kwargs})
        name = "binary_focal_crossentropy" if cls is BFC else "categorical_focal_crossentropy"
        functions.append(
            {"id": key, "function": name, "y": y.tolist(), "p": p.tolist(), "kwargs": kwargs}
        )
    for i, (key, loss, units, activation, kind, scale) in enumerate(TRAINING):
        arrays[key + "/x"], arrays[key + "/y"] = _train_data(i, units, kind)
        for j, w in enumerate(_training_model(loss, units, activation, scale).get_weights()):
            arrays[f"{key}/w{j}"] = w
        config = {k: v for k, v in loss.get_config().items() if k != "name"}
        train.append(
            {
                "id": key,
                "class_name": type(loss).__name__,
                "config": config,
                "units": units,
                "activation": activation,
            }
        )
    spec = {"values": values, "train": train, "classes": [], "names": []}
    (tmp / "spec.json").write_text(json.dumps(spec))
    np.savez(tmp / "in.npz", **arrays)
    run_keras(KERAS_SCRIPT, *(str(tmp / f) for f in ("spec.json", "in.npz", "out.npz")))
    results = dict(np.load(tmp / "out.npz"))
    per_sample = run_keras(FUNCTIONS_SCRIPT, stdin=json.dumps(functions)).strip().splitlines()
    for key, value in json.loads(per_sample[-1]).items():
        results[key + "/per_sample"] = np.asarray(value)
    return results


@pytest.fixture(scope="module")
def keras_results(tmp_path_factory):
    return run_keras_cases(tmp_path_factory.mktemp("keras"))


@pytest.mark.parametrize(("key", "cls", "kwargs", "ref", "y", "p"), VALUE_CASES, ids=VALUE_IDS)
def test_per_sample_values_and_gradients_match_keras(keras_results, key, cls, kwargs, ref, y, p):
    theirs = keras_results
    name = "binary_focal_crossentropy" if cls is BFC else "categorical_focal_crossentropy"
    np.testing.assert_allclose(
        getattr(losses, name)(y, p, **kwargs), theirs[key + "/per_sample"], rtol=1e-13, atol=1e-16
    )
    model = linear_model(p, cls(**kwargs))
    value = model.evaluate(np.eye(len(p)), y, verbose=0)
    assert value == pytest.approx(float(theirs[key + "/value/float64"]), rel=1e-13)
    expected = theirs[key + "/grad/float64"]
    g = output_gradient(cls(**kwargs), y, p)
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-13 * np.abs(expected).max())
    model32 = linear_model(p, cls(**kwargs), dtype="float32")
    value32 = model32.evaluate(np.eye(len(p)), y, verbose=0)
    assert value32 == pytest.approx(float(theirs[key + "/value/float32"]), rel=1e-5)


@pytest.mark.parametrize(
    ("key", "loss", "units", "activation", "kind", "scale"), TRAINING, ids=[t[0] for t in TRAINING]
)
def test_three_epochs_of_sgd_give_keras_weights(keras_results, key, loss, units, activation,
                                                kind, scale):  # fmt: skip
    theirs = keras_results
    x, y = _train_data([t[0] for t in TRAINING].index(key), units, kind)
    model = _training_model(loss, units, activation, scale)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(theirs[key + "/evaluated"], rel=1e-13)
    start = model.get_weights()
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    trained = model.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(trained, start))  # (it trained)
    np.testing.assert_allclose(history.history["loss"], theirs[key + "/history"], rtol=1e-12)
    for i, ours in enumerate(trained):
        np.testing.assert_allclose(ours, theirs[f"{key}/trained{i}"], rtol=1e-11, atol=1e-13)


def test_saturated_sigmoids_are_read_through_their_logits(keras_results) -> None:
    """The case above where it matters: the clipped probabilities would give another loss."""
    key, loss, units, activation, kind, scale = TRAINING[3]
    x, y = _train_data(3, units, kind)
    model = _training_model(loss, units, activation, scale)
    p = model.predict(x, verbose=0)
    clipped = ref_binary(y, p, apply_class_balancing=True).mean()
    assert abs(clipped - keras_results[key + "/evaluated"]) > 1e-3 * clipped
