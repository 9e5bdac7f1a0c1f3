"""Property-based tests (hypothesis): whatever the model, data and settings, nothing crashes.

For random small models (1-3 Dense layers, any activation, float32 or float64), finite data and
sane learning rates: fit / evaluate / predict never crash and never give NaN; predictions have the
right shape and range (softmax rows sum to 1, sigmoid outputs lie in [0, 1]); set_weights takes any
finite arrays of the right shapes and refuses others with ValueError / TypeError; a saved file
loads back exactly, and any single corruption of it loads exactly or raises ValueError.

The default run tries a few examples per test; set FASTMLP_HYPOTHESIS_EXAMPLES (e.g. 2500 for
10,000+ examples over the four tests) for the dedicated run that bench/reliability.py makes.
"""

from __future__ import annotations

import collections
import os
import tempfile
from typing import Any

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, models, optimizers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

EXAMPLES = int(os.environ.get("FASTMLP_HYPOTHESIS_EXAMPLES", "15"))
RUN = collections.Counter()  # examples run per test (bench/reliability.py prints it)

property_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the first example builds and warms up the engine
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ACTIVATIONS = [
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "leaky_relu",
    "hard_sigmoid",
]
# (output activation, loss, kind of target)
HEADS = [
    ("softmax", "sparse_categorical_crossentropy", "labels"),
    ("softmax", "categorical_crossentropy", "one_hot"),
    (None, "sparse_categorical_crossentropy_logits", "labels"),
    ("sigmoid", "binary_crossentropy", "binary"),
    (None, "mse", "real"),
    (None, "mae", "real"),
    ("tanh", "hinge", "pm1"),
]


def _optimizer(name: str, lr: float) -> optimizers.Optimizer:
    """A sane learning rate for inputs in [-3, 3]: small enough that nothing explodes in 40 steps."""
    if name == "sgd":
        return optimizers.SGD(min(lr, 1e-3), momentum=0.5)
    if name == "adam":
        return optimizers.Adam(lr)
    if name == "rmsprop":
        return optimizers.RMSprop(lr)
    return optimizers.Adagrad(lr)


@st.composite
def problems(draw: st.DrawFn) -> dict[str, Any]:
    """A compiled model and finite data that fit it."""
    dtype = draw(st.sampled_from(["float32", "float64"]))
    features = draw(st.integers(1, 6))
    samples = draw(st.integers(1, 20))
    hidden = draw(st.lists(st.tuples(st.integers(1, 8), st.sampled_from(ACTIVATIONS)), max_size=2))
    head, loss, target = draw(st.sampled_from(HEADS))
    outputs = (
        draw(st.integers(2, 4)) if target in ("labels", "one_hot") else draw(st.integers(1, 3))
    )
    stack: list[Any] = [layers.Input(shape=(features,))]
    for units, activation in hidden:
        stack.append(layers.Dense(units, activation=activation))
    if draw(st.booleans()):
        stack.append(layers.Dropout(draw(st.floats(0.0, 0.5))))
    stack.append(layers.Dense(outputs, activation=head))
    model = fm.Sequential(stack, seed=draw(st.integers(0, 2**32)), dtype=dtype)
    opt = _optimizer(
        draw(st.sampled_from(["sgd", "adam", "rmsprop", "adagrad"])), draw(st.floats(1e-4, 1e-2))
    )
    if loss == "sparse_categorical_crossentropy_logits":
        loss = fm.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    x = draw(
        hnp.arrays(
            np.float64,
            (samples, features),
            elements=st.floats(-3, 3, allow_nan=False, allow_infinity=False),
        )
    )
    labels = draw(hnp.arrays(np.int64, samples, elements=st.integers(0, outputs - 1)))
    y = {
        "labels": labels,
        "one_hot": np.eye(outputs)[labels],
        "binary": (draw(hnp.arrays(np.float64, (samples, outputs), elements=st.floats(0, 1)))),
        "real": draw(hnp.arrays(np.float64, (samples, outputs), elements=st.floats(-5, 5))),
        "pm1": np.where(draw(hnp.arrays(np.bool_, (samples, outputs))), 1.0, -1.0),
    }[target]
    return {"model": model, "x": x, "y": y, "head": head, "outputs": outputs}


def check_predictions(out: np.ndarray, samples: int, outputs: int, head: str | None) -> None:
    assert out.shape == (samples, outputs)
    assert np.isfinite(out).all()
    if head == "softmax":
        tol = 1e-5 if out.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=tol)
        assert (out >= 0).all()
    if head == "sigmoid":
        assert ((out >= 0) & (out <= 1)).all()
    if head == "tanh":
        assert ((out >= -1) & (out <= 1)).all()


@property_settings
@given(
    problem=problems(),
    batch_size=st.one_of(st.integers(1, 25), st.just(10**9)),
    epochs=st.integers(0, 2),
    shuffle=st.booleans(),
)
def test_fit_evaluate_predict_never_crash_nor_give_nan(problem, batch_size, epochs, shuffle):
    RUN["fit_evaluate_predict"] += 1
    model, x, y = problem["model"], problem["x"], problem["y"]
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=shuffle, verbose=0)
    for values in history.history.values():
        assert np.isfinite(values).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())
    loss = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    assert np.isfinite(list(loss.values())).all()
    check_predictions(model.predict(x, verbose=0), len(x), problem["outputs"], problem["head"])
    check_predictions(model.predict_on_batch(x), len(x), problem["outputs"], problem["head"])
    model.train_on_batch(x, y)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def _garbage() -> st.SearchStrategy[Any]:
    """Values that may not be a valid weight array (some are: those of the right shape)."""
    return st.one_of(
        st.none(),
        st.text(max_size=3),
        st.floats(),
        st.lists(st.floats(), max_size=3),
        hnp.arrays(np.complex128, hnp.array_shapes(max_dims=2, max_side=4)),
        hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=5)),
        st.builds(lambda: np.array([object()])),
    )


def _acceptable(value: Any, shape: tuple[int, ...]) -> bool:
    """Whether set_weights should take `value` for an array of `shape`."""
    if value is None or isinstance(value, str):
        return False
    arr = np.asarray(value)
    if arr.shape != shape or arr.dtype.kind not in "biuf":
        return False
    with np.errstate(over="ignore"):  # values beyond float32's range are refused too
        return bool(np.isfinite(arr.astype(np.float32)).all())


@property_settings
@given(
    features=st.integers(1, 5),
    units=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    use_bias=st.booleans(),
    data=st.data(),
)
def test_set_weights_takes_any_finite_arrays_of_the_right_shapes(features, units, use_bias, data):
    RUN["set_weights"] += 1
    model = fm.Sequential(
        [layers.Input(shape=(features,))] + [layers.Dense(u, use_bias=use_bias) for u in units],
        seed=0,
    )
    shapes = [w.shape for w in model.get_weights()]
    new = [
        data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e6, 1e6))) for shape in shapes
    ]
    if data.draw(st.booleans()):  # non-contiguous views must work as well
        new = [np.asfortranarray(w) for w in new]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want.astype(np.float32))
    before = model.get_weights()
    index = data.draw(st.integers(0, len(new) - 1))
    bad = list(new)
    bad[index] = data.draw(_garbage())
    if _acceptable(bad[index], shapes[index]):
        model.set_weights(bad)
        return
    with pytest.raises((ValueError, TypeError)):
        model.set_weights(bad)
    for got, want in zip(model.get_weights(), before):  # a refused list changes nothing
        np.testing.assert_array_equal(got, want)


@property_settings
@given(problem=problems(), include_optimizer=st.booleans())
def test_save_and_load_round_trip_exactly(problem, include_optimizer):
    RUN["save_load"] += 1
    model = problem["model"]
    model.fit(problem["x"], problem["y"], batch_size=4, epochs=1, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.fastmlp")
        model.save(path, include_optimizer=include_optimizer)
        loaded = models.load_model(path)
    assert loaded.get_config() == model.get_config()
    for got, want in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        loaded.predict(problem["x"], verbose=0), model.predict(problem["x"], verbose=0)
    )
    if include_optimizer:
        assert loaded.optimizer.iterations == model.optimizer.iterations


def _saved_bytes() -> tuple[bytes, list[np.ndarray]]:
    model = fm.Sequential(
        [layers.Input(shape=(3,)), layers.Dense(4, activation="relu"), layers.Dense(2)], seed=7
    )
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 3)), np.zeros((8, 2)), verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.fastmlp")
        model.save(path)
        with open(path, "rb") as f:
            return f.read(), model.get_weights()


SAVED, SAVED_WEIGHTS = _saved_bytes()


@property_settings
@given(
    edit=st.one_of(
        st.tuples(st.just("flip"), st.integers(0, len(SAVED) - 1), st.integers(1, 255)),
        st.tuples(st.just("truncate"), st.integers(0, len(SAVED) - 1), st.just(0)),
        st.tuples(st.just("insert"), st.integers(0, len(SAVED)), st.integers(0, 255)),
        st.tuples(st.just("delete"), st.integers(0, len(SAVED) - 1), st.just(0)),
    )
)
def test_a_corrupted_file_loads_exactly_or_raises_value_error(edit):
    RUN["corrupted_load"] += 1
    kind, pos, value = edit
    data = bytearray(SAVED)
    if kind == "flip":
        data[pos] ^= value
    elif kind == "truncate":
        del data[pos:]
    elif kind == "insert":
        data.insert(pos, value)
    else:
        del data[pos]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.fastmlp")
        with open(path, "wb") as f:
            f.write(bytes(data))
        try:
            loaded = models.load_model(path)
        except ValueError:
            return
    # A change that the checks let through must not have changed what the model computes.
    for got, want in zip(loaded.get_weights(), SAVED_WEIGHTS):
        np.testing.assert_array_equal(got, want)
