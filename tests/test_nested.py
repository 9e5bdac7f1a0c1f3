"""A Sequential inside a Sequential (Keras's nested models): the outer model's layers are twins of
the inner model's, sharing their weights both ways and their trainable flags; checked against
NumPy forward passes written here and against the models' own weights.
"""

from __future__ import annotations

import gc

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 5))
LABELS = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _forward(weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """relu hidden layers and a linear last Dense, from [W, b, W, b, ...]."""
    h = x
    for i in range(0, len(weights), 2):
        h = h @ weights[i] + weights[i + 1]
        if i + 2 < len(weights):
            h = np.maximum(h, 0.0)
    return h


def _logits_model(**kwargs) -> fm.Sequential:
    model = fm.Sequential(
        [
            layers.Input(shape=(5,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(3),
        ],
        seed=1,
        dtype="float64",
        **kwargs,
    )
    model.compile("adam", fm.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_the_quickstarts_probability_model_follows_the_trained_model() -> None:
    """TensorFlow's beginner quickstart: tf.keras.Sequential([model, tf.keras.layers.Softmax()])."""
    model = _logits_model()
    model.fit(X, LABELS, epochs=2, verbose=0)
    probability_model = fm.Sequential([model, layers.Softmax()], dtype="float64")
    expected = _softmax(_forward(model.get_weights(), X))
    np.testing.assert_allclose(probability_model(X), expected, rtol=1e-12)
    assert [w.shape for w in probability_model.get_weights()] == [
        w.shape for w in model.get_weights()
    ]
    # the inner model trains on: the outer one computes with the new weights
    model.fit(X, LABELS, epochs=3, verbose=0)
    expected = _softmax(_forward(model.get_weights(), X))
    np.testing.assert_allclose(probability_model.predict(X, verbose=0), expected, rtol=1e-12)


def test_training_the_outer_model_trains_the_inner_ones_layers() -> None:
    base = fm.Sequential(
        [layers.Input(shape=(5,)), layers.Dense(6, activation="relu")], seed=2, dtype="float64"
    )
    model = fm.Sequential([base, layers.Dense(3)], seed=3, dtype="float64")
    model.compile("sgd", fm.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = base.get_weights()
    same = []  # during fit, at each epoch's end, the base already has the epoch's weights
    check = fm.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: same.append(
            np.array_equal(base.get_weights()[0], model.get_weights()[0])
        )
    )
    model.fit(X, LABELS, batch_size=16, epochs=2, verbose=0, callbacks=[check])
    assert same == [True, True]
    after = base.get_weights()
    assert not np.allclose(before[0], after[0])
    for ours, theirs in zip(after, model.get_weights()[:2]):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(
        base.predict(X, verbose=0), np.maximum(X @ after[0] + after[1], 0), rtol=1e-12
    )
    model.train_on_batch(X[:8], LABELS[:8])
    np.testing.assert_array_equal(base.get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_frozen_base_stays_as_it_was_and_the_flag_is_shared(when: str) -> None:
    """Transfer learning: base.trainable = False, then train a head on top of it."""
    base = fm.Sequential(
        [layers.Input(shape=(5,)), layers.Dense(6, activation="relu")], seed=2, dtype="float64"
    )
    if when == "before":
        base.trainable = False
    model = fm.Sequential([base, layers.Dense(3)], seed=3, dtype="float64")
    if when == "after":
        base.trainable = False
    assert not model.layers[0].trainable
    model.compile("adam", fm.losses.SparseCategoricalCrossentropy(from_logits=True))
    frozen, head = base.get_weights(), model.get_weights()[2:]
    model.fit(X, LABELS, epochs=2, verbose=0)
    for a, b in zip(base.get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(model.get_weights()[2], head[0])
    model.layers[0].trainable = True  # the twin's flag reaches the base's layer too
    assert base.layers[0].trainable


def test_set_weights_on_either_side_reaches_the_other() -> None:
    model = _logits_model()
    outer = fm.Sequential([model, layers.Softmax()], dtype="float64")
    outer.build((None, 5))
    new = [w + 1.0 for w in model.get_weights()]
    outer.set_weights(new)
    for a, b in zip(model.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    model.layers[0].set_weights([np.zeros((5, 8)), np.ones(8)])
    np.testing.assert_array_equal(outer.layers[0].get_weights()[1], np.ones(8))


def test_an_inner_model_built_later_takes_the_outer_models_weights() -> None:
    inner = fm.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)], dtype="float64")
    outer = fm.Sequential([layers.Input(shape=(5,)), inner], seed=5, dtype="float64")
    outer.compile("sgd", "mse")
    outer.fit(X, X[:, :2], epochs=1, verbose=0)
    assert not inner.built
    inner.build((None, 5))
    for a, b in zip(inner.get_weights(), outer.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(inner.predict(X, verbose=0), outer.predict(X, verbose=0), rtol=1e-12)


def test_the_outer_model_saves_and_loads_as_a_flat_model(tmp_path) -> None:
    model = _logits_model()
    outer = fm.Sequential([model, layers.Softmax()], dtype="float64")
    path = tmp_path / "outer.fastmlp"
    outer.save(path)
    loaded = fm.models.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        "Dense", "Dropout", "Dense", "Softmax"
    ]  # fmt: skip
    np.testing.assert_allclose(loaded.predict(X, verbose=0), outer.predict(X, verbose=0))


def test_weights_reach_every_model_that_shares_them_however_far() -> None:
    """An inner model in two outer ones, and a chain (a inside b inside c): training or setting
    any of them reaches all."""
    a = _logits_model()
    b = fm.Sequential([a, layers.Softmax(name="soft_b")], dtype="float64")
    c = fm.Sequential([a, layers.Softmax(name="soft_c")], dtype="float64")
    d = fm.Sequential([b, layers.Activation("linear", name="lin_d")], dtype="float64")
    for model in (b, c, d):
        model.build((None, 5))
    b.compile("adam", "sparse_categorical_crossentropy")
    b.fit(X, LABELS, epochs=2, verbose=0)
    for model in (a, c, d):
        for ours, theirs in zip(model.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    d.set_weights([np.zeros_like(w) for w in d.get_weights()])
    assert all(not w.any() for model in (a, b, c) for w in model.get_weights())


def test_a_model_added_after_layers_must_take_their_output() -> None:
    inner = fm.Sequential([layers.Input(shape=(10,)), layers.Dense(3)])
    outer = fm.Sequential([layers.Input(shape=(5,)), layers.Dense(4)])
    with pytest.raises(ValueError, match=r"takes samples of shape \(10,\), the layers before it "):
        outer.add(inner)
    assert len(outer.layers) == 1


def test_a_discarded_outer_model_leaves_the_inner_one_working() -> None:
    model = _logits_model()
    outer = fm.Sequential([model, layers.Softmax()])
    outer.predict(X, verbose=0)
    del outer
    gc.collect()
    assert all(len(layer._twins) == 0 for layer in model.layers)
    model.fit(X, LABELS, epochs=1, verbose=0)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda m: m.add(m), ValueError, "cannot be added to itself"),
        (lambda m: fm.Sequential([m, m]), ValueError, r"layers named like this model's"),
        (lambda m: fm.Sequential([fm.Sequential()]), ValueError, "has no layers"),
        (
            lambda m: fm.Sequential([layers.Input(shape=(4,)), m]).predict(np.ones((1, 4))),
            ValueError,
            r"\(5,\)",
        ),
        (lambda m: fm.Sequential([object()]), TypeError, "a fastmlp layer or a Sequential model"),
    ],
)
def test_bad_nestings_are_refused(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make(_logits_model())
