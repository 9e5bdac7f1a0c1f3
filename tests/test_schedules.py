"""Learning-rate schedules (fastmlp.optimizers.schedules): their values against formulas written
here with the math module (and against Keras's own classes where Keras is installed), and their
use in training: every step of fit / train_on_batch takes its own rate, checked against NumPy
gradient descent and Adam written here, on both engines and on the sparse fused path.
"""

from __future__ import annotations

import copy
import json
import math
import pickle

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import callbacks, layers, optimizers
from fastmlp.optimizers import schedules
from keras_run import run_keras

STEPS = np.arange(0, 400)


def _exponential(s, lr0, steps, rate, staircase=False):
    p = s / steps
    return lr0 * rate ** (math.floor(p) if staircase else p)


def _inverse_time(s, lr0, steps, rate, staircase=False):
    p = s / steps
    return lr0 / (1 + rate * (math.floor(p) if staircase else p))


def _piecewise(s, boundaries, values):
    for b, v in zip(boundaries, values):
        if s <= b:
            return v
    return values[-1]


def _polynomial(s, lr0, steps, end=1e-4, power=1.0, cycle=False):
    if cycle:
        steps = steps * max(1, math.ceil(s / steps))
    else:
        s = min(s, steps)
    return (lr0 - end) * (1 - s / steps) ** power + end


def _cosine(s, lr0, steps, alpha=0.0, warmup_target=None, warmup_steps=0):
    if warmup_target is not None:
        s = min(s, steps + warmup_steps)
        if s < warmup_steps:
            return lr0 + (warmup_target - lr0) * s / warmup_steps
        s, lr0 = s - warmup_steps, warmup_target
    s = min(s, steps)
    return lr0 * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / steps)) + alpha)


def _restarts(s, lr0, first, t_mul=2.0, m_mul=1.0, alpha=0.0):
    # walk the periods one by one: no closed form, unlike the class
    start, length, restart = 0.0, float(first), 0
    while s >= start + length:
        start, length, restart = start + length, length * t_mul, restart + 1
    cosine = 0.5 * m_mul**restart * (1 + math.cos(math.pi * (s - start) / length))
    return lr0 * ((1 - alpha) * cosine + alpha)


CASES = [
    (schedules.ExponentialDecay(0.1, 50, 0.5), lambda s: _exponential(s, 0.1, 50, 0.5)),
    (
        schedules.ExponentialDecay(0.1, 50, 0.5, staircase=True),
        lambda s: _exponential(s, 0.1, 50, 0.5, True),
    ),
    (schedules.InverseTimeDecay(0.2, 30, 0.7), lambda s: _inverse_time(s, 0.2, 30, 0.7)),
    (
        schedules.InverseTimeDecay(0.2, 30, 0.7, staircase=True),
        lambda s: _inverse_time(s, 0.2, 30, 0.7, True),
    ),
    (
        schedules.PiecewiseConstantDecay([100, 250], [0.1, 0.01, 0.001]),
        lambda s: _piecewise(s, [100, 250], [0.1, 0.01, 0.001]),
    ),
    (schedules.PolynomialDecay(0.1, 300), lambda s: _polynomial(s, 0.1, 300)),
    (
        schedules.PolynomialDecay(0.1, 70, end_learning_rate=0.01, power=2.0, cycle=True),
        lambda s: _polynomial(s, 0.1, 70, 0.01, 2.0, True),
    ),
    (schedules.CosineDecay(0.1, 300, alpha=0.1), lambda s: _cosine(s, 0.1, 300, 0.1)),
    (
        schedules.CosineDecay(0.0, 200, warmup_target=0.1, warmup_steps=50),
        lambda s: _cosine(s, 0.0, 200, 0.0, 0.1, 50),
    ),
    (schedules.CosineDecayRestarts(0.1, 40), lambda s: _restarts(s, 0.1, 40)),
    (
        schedules.CosineDecayRestarts(0.1, 40, t_mul=1.0, m_mul=0.5, alpha=0.05),
        lambda s: _restarts(s, 0.1, 40, 1.0, 0.5, 0.05),
    ),
]
IDS = [f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize(("schedule", "formula"), CASES, ids=IDS)
def test_schedule_values_match_the_formulas(schedule, formula) -> None:
    expected = np.array([formula(int(s)) for s in STEPS])
    np.testing.assert_allclose(schedule.rates(0, len(STEPS)), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(schedule.rates(123, 7), expected[123:130], rtol=1e-12, atol=1e-15)
    assert float(schedule(17)) == pytest.approx(formula(17), rel=1e-12, abs=1e-15)


KERAS_SCRIPT = """
import json, sys
import keras
specs = json.loads(sys.stdin.read())
out = []
for spec in specs:
    cls = getattr(keras.optimizers.schedules, spec["class_name"])
    schedule = cls.from_config(spec["config"])
    out.append([float(schedule(step)) for step in spec["steps"]])
print(json.dumps(out))
"""


def test_schedule_values_match_keras_where_installed() -> None:
    """Keras computes in float32: agreement to float32 rounding (run in a subprocess, so that
    TensorFlow's threads and settings stay out of this process)."""
    steps = [0, 1, 2, 29, 30, 31, 49, 50, 51, 70, 99, 100, 101, 139, 140, 141, 250, 251, 399]
    specs = [{**schedules.serialize(s), "steps": steps} for s, _ in CASES]
    stdout = run_keras(KERAS_SCRIPT, stdin=json.dumps(specs))
    keras_values = json.loads(stdout.strip().splitlines()[-1])
    for (schedule, _), theirs in zip(CASES, keras_values):
        ours = [float(schedule(s)) for s in steps]
        np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-9, err_msg=repr(schedule))


# -- training -----------------------------------------------------------------------------------

N, IN, BATCH = 40, 3, 8
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, IN))
Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3


def _linear(device="cpu", optimizer=None):
    model = fm.Sequential(
        [layers.Input(shape=(IN,)), layers.Dense(1)], seed=3, dtype="float64", device=device
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _reference(w0, rates, adam=False, batch=BATCH, epochs=3):
    """Minibatch descent in order (no shuffling) on the mean squared error, one rate a step."""
    W, b = w0[0].copy(), w0[1].copy()
    m = [np.zeros_like(W), np.zeros_like(b)]
    v = [np.zeros_like(W), np.zeros_like(b)]
    t = 0
    for _ in range(epochs):
        for i in range(0, N, batch):
            xb, yb = X[i : i + batch], Y[i : i + batch]
            r = xb @ W + b - yb
            grads = [2 * xb.T @ r / len(xb), 2 * r.sum(0) / len(xb)]
            lr = rates[t]
            t += 1
            for k, (p, g) in enumerate(zip((W, b), grads)):
                if adam:  # Keras's Adam: alpha = lr sqrt(1 - b2^t) / (1 - b1^t)
                    m[k] += (g - m[k]) * 0.1
                    v[k] += (g * g - v[k]) * 0.001
                    alpha = lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
                    p -= alpha * m[k] / (np.sqrt(v[k]) + 1e-7)
                else:
                    p -= lr * g
    return [W, b]


DEVICES = ["cpu", "numpy"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("adam", [False, True], ids=["sgd", "adam"])
@pytest.mark.parametrize("per_batch", [False, True], ids=["chunks", "batch-hooks"])
def test_fit_takes_each_steps_rate_from_the_schedule(device, adam, per_batch) -> None:
    schedule = schedules.ExponentialDecay(0.05 if not adam else 0.02, 4, 0.6)
    opt = (
        optimizers.Adam(learning_rate=schedule) if adam else optimizers.SGD(learning_rate=schedule)
    )
    model = _linear(device, opt)
    w0 = model.get_weights()
    hooks = [callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None)]
    model.fit(X, Y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0,
              callbacks=hooks if per_batch else None)  # fmt: skip
    expected = _reference(w0, schedule.rates(0, 15), adam)
    for ours, theirs in zip(model.get_weights(), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
    assert model.optimizer.iterations == 15
    assert model.optimizer.learning_rate == pytest.approx(float(schedule(15)), rel=1e-15)


@pytest.mark.parametrize("device", DEVICES)
def test_train_on_batch_and_a_second_fit_continue_the_schedule(device) -> None:
    schedule = schedules.PiecewiseConstantDecay([2, 6], [0.1, 0.03, 0.0])
    model = _linear(device, optimizers.SGD(learning_rate=schedule))
    w0 = model.get_weights()
    for i in range(0, N, BATCH):  # steps 0..4 (epoch 1 by hand)
        model.train_on_batch(X[i : i + BATCH], Y[i : i + BATCH])
    model.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)  # steps 5..14
    expected = _reference(w0, schedule.rates(0, 15))
    for ours, theirs in zip(model.get_weights(), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)


def test_a_constant_schedule_trains_bit_for_bit_as_the_float_rate() -> None:
    class Constant(schedules.LearningRateSchedule):
        def __call__(self, step):
            return 0.01

    a = _linear(optimizer=optimizers.Adam(learning_rate=Constant()))
    b = _linear(optimizer=optimizers.Adam(learning_rate=0.01))
    for model in (a, b):
        model.fit(X, Y, batch_size=7, epochs=4, verbose=0)  # (shuffled: same seed)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_sparse_fused_path_takes_the_schedule_as_the_dense_path() -> None:
    """Inputs mostly zero: the first layer's weights are updated row by row during the backward
    pass (the step's rate is fixed before it); the dense products must give the same weights."""
    rng = np.random.default_rng(1)
    x = (rng.random((256, 64)) < 0.1).astype(np.float32) * rng.random((256, 64)).astype(np.float32)
    y = rng.integers(0, 4, 256)
    schedule = schedules.CosineDecay(0.0, 20, warmup_target=0.01, warmup_steps=10)
    results = []
    for sparse, rate in ((True, schedule), (False, schedule), (True, 0.01)):
        fm.config.set_sparse_inputs(sparse)
        try:
            model = fm.Sequential(
                [layers.Input(shape=(64,)), layers.Dense(32, activation="relu"), layers.Dense(4)],
                seed=5,
            )
            model.compile(optimizers.Adam(learning_rate=rate), "sparse_categorical_crossentropy")
            model.fit(x, y, batch_size=32, epochs=4, verbose=0)
            results.append(model.get_weights())
        finally:
            fm.config.set_sparse_inputs(True)
    for a, b in zip(results[0], results[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # the schedule mattered: with its end rate from the start, the first layer ends elsewhere
    assert np.abs(results[2][0] - results[0][0]).max() > 1e-3


@pytest.mark.parametrize("device", DEVICES)
def test_engine_refuses_a_step_the_table_does_not_cover_and_changes_nothing(device) -> None:
    model = _linear(device, optimizers.SGD(learning_rate=0.1))
    engine = model._engine
    engine.set_learning_rates(5, np.array([0.1, 0.2]))  # steps 5 and 6; the next is step 0
    before = model.get_weights()
    with pytest.raises(RuntimeError, match="none given for step 0"):
        engine.train_on_batch(X[:8], Y[:8])
    assert engine.iterations == 0
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="finite numbers >= 0"):
        engine.set_learning_rates(0, np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="finite numbers >= 0"):
        engine.set_learning_rates(0, np.array([-0.1]))
    with pytest.raises(ValueError, match="first step"):
        engine.set_learning_rates(-1, np.array([0.1]))
    engine.set_learning_rates(0, np.array([]))  # empty: the constant rate again
    engine.train_on_batch(X[:8], Y[:8])
    r = X[:8] @ before[0] + before[1] - Y[:8]
    np.testing.assert_allclose(model.get_weights()[0], before[0] - 0.1 * 2 * X[:8].T @ r / 8)
    np.testing.assert_allclose(model.get_weights()[1], before[1] - 0.1 * 2 * r.sum(0) / 8)


def test_the_learning_rate_is_read_only_under_a_schedule_as_in_keras() -> None:
    schedule = schedules.InverseTimeDecay(0.1, 1, 1.0)
    model = _linear(optimizer=optimizers.SGD(learning_rate=schedule))
    assert model.optimizer.learning_rate == pytest.approx(0.1)
    with pytest.raises(TypeError, match="not settable"):
        model.optimizer.learning_rate = 0.5
    with pytest.raises(TypeError, match="not settable"):
        model.fit(X, Y, epochs=2, verbose=0,
                  callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.01)])  # fmt: skip
    model.fit(X, Y, batch_size=N, epochs=3, verbose=0)
    assert model.optimizer.learning_rate == pytest.approx(0.1 / (1 + model.optimizer.iterations))


@pytest.mark.parametrize(("schedule", "formula"), CASES, ids=IDS)
def test_config_round_trip(schedule, formula) -> None:
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    again = schedules.deserialize(config)
    assert type(again) is type(schedule)
    assert again.get_config() == schedule.get_config()
    np.testing.assert_array_equal(again.rates(0, 300), schedule.rates(0, 300))
    opt = optimizers.get(json.loads(json.dumps(optimizers.serialize(optimizers.SGD(schedule)))))
    np.testing.assert_array_equal(opt._schedule.rates(0, 300), schedule.rates(0, 300))


class HalfEvery10(schedules.LearningRateSchedule):  # (module level: picklable)
    def __init__(self, start=0.1):
        self.start = start

    def __call__(self, step):
        return self.start * 0.5 ** (step // 10)

    def get_config(self):
        return {"start": self.start}


@pytest.mark.parametrize("schedule", [schedules.CosineDecayRestarts(0.05, 7), HalfEvery10(0.05)])
def test_save_load_pickle_and_deepcopy_resume_on_the_schedule(tmp_path, schedule) -> None:
    model = _linear(optimizer=optimizers.Adam(learning_rate=schedule))
    model.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0)
    path = tmp_path / "m.fastmlp"
    model.save(path)
    custom = {"HalfEvery10": HalfEvery10}
    if isinstance(schedule, HalfEvery10):
        with pytest.raises(ValueError, match=r"HalfEvery10.*custom_objects"):
            fm.models.load_model(path)
    copies = [
        fm.models.load_model(path, custom_objects=custom),
        pickle.loads(pickle.dumps(model)),
        copy.deepcopy(model),
    ]
    model.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0)
    for other in copies:
        assert type(other.optimizer._schedule) is type(schedule)
        assert other.optimizer.iterations == 10
        other.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0)
        for a, b in zip(other.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_a_schedule_of_your_own_is_called_once_a_step_with_an_int() -> None:
    seen = []

    class Recording(schedules.LearningRateSchedule):
        def __call__(self, step):
            seen.append(step)
            return 0.01

    model = _linear(optimizer=optimizers.SGD(learning_rate=Recording()))
    model.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0)
    assert seen == list(range(10))
    assert all(type(s) is int for s in seen)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-0.5, ValueError, r"Bad gave -0.5 at step 3; expected a finite number >= 0"),
        (float("nan"), ValueError, r"gave nan at step 3"),
        ("fast", TypeError, r"returned 'fast' at step 0; expected a number"),
    ],
)
def test_bad_values_of_a_schedule_stop_fit_before_the_step(value, error, message) -> None:
    class Bad(schedules.LearningRateSchedule):
        def __call__(self, step):
            return value if step >= 3 or isinstance(value, str) else 0.01

    model = _linear(optimizer=optimizers.SGD(learning_rate=Bad()))
    before = model.get_weights()
    with pytest.raises(error, match=message):
        model.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0)
    assert model.optimizer.iterations == 0  # (the epoch's rates are computed before its steps)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: schedules.ExponentialDecay(0.1, 0, 0.5),
            r"decay_steps must be a finite number > 0",
        ),
        (lambda: schedules.ExponentialDecay(-0.1, 10, 0.5), r"initial_learning_rate.*>= 0"),
        (lambda: schedules.CosineDecay(0.1, float("inf")), r"decay_steps.*finite"),
        (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0), r"t_mul.*> 0"),
        (lambda: schedules.PiecewiseConstantDecay([10], [0.1]), r"1 less than the length"),
        (lambda: schedules.PiecewiseConstantDecay([10, 5], [0.1, 0.2, 0.3]), r"increasing"),
        (
            lambda: schedules.PiecewiseConstantDecay(["a"], [0.1, 0.2]),
            r"boundaries must be numbers",
        ),
        (lambda: schedules.PolynomialDecay(0.1, 10, power=True), r"power must be a number"),
        (lambda: schedules.LearningRateSchedule()(0), r"must override `__call__"),
        (lambda: schedules.deserialize({"class_name": "Nope", "config": {}}), r"Unknown.*'Nope'"),
        (
            lambda: schedules.deserialize({"class_name": "CosineDecay", "config": {"x": 1}}),
            r"Invalid config for learning-rate schedule CosineDecay",
        ),
        (
            lambda: schedules.deserialize({"class_name": "Nope", "config": {}}, {"Nope": dict}),
            r"custom_objects\['Nope'\] must be a LearningRateSchedule subclass",
        ),
    ],
)
def test_bad_arguments_are_refused_by_name(make, message) -> None:
    with pytest.raises((TypeError, ValueError, NotImplementedError), match=message):
        make()


def test_keras_spellings_reach_the_schedules() -> None:
    import fastmlp as tf
    from fastmlp import keras

    assert keras.optimizers.schedules.ExponentialDecay is schedules.ExponentialDecay
    assert tf.keras.optimizers.schedules.CosineDecay is schedules.CosineDecay
    assert fm.optimizers.schedules.PiecewiseConstantDecay is schedules.PiecewiseConstantDecay


def test_one_optimizer_with_a_schedule_serves_two_models() -> None:
    """The rates go to the engine of the model that trains (the optimizer was compiled into the
    other one last); each model counts its own steps."""
    schedule = schedules.ExponentialDecay(0.05, 4, 0.6)
    opt = optimizers.SGD(learning_rate=schedule)
    a, b = _linear(optimizer=opt), _linear(optimizer=opt)
    w0 = a.get_weights()
    a.fit(X, Y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    for ours, theirs in zip(a.get_weights(), _reference(w0, schedule.rates(0, 15))):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
    b.fit(X, Y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    for ours, theirs in zip(b.get_weights(), a.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_schedule_is_called_once_a_step_however_an_epoch_is_chunked(monkeypatch) -> None:
    from fastmlp import _training

    calls = []

    class Counting(schedules.LearningRateSchedule):
        def __call__(self, step):
            calls.append(step)
            return 0.01

    monkeypatch.setattr(_training, "CHUNK_SECONDS", 1e-9)  # an engine call a step
    model = _linear(optimizer=optimizers.SGD(learning_rate=Counting()))
    model.fit(X, Y, batch_size=2, epochs=2, verbose=0)
    assert sorted(calls) == list(range(40))
