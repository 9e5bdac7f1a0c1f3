"""models.clone_model: a new model with the architecture of the one given and newly initialised
weights, compiled anew as the original is (Keras 3's behaviour), never sharing a weight with it.
"""

from __future__ import annotations

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, optimizers
from fastmlp.models import clone_model

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 4))
Y = np.eye(3)[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1).astype(int)]


def _model(seed: int = 3, compiled: bool = True) -> fm.Sequential:
    model = fm.Sequential(
        [
            layers.Input(shape=(4,)),
            layers.Dense(8, activation="relu", name="hidden"),
            layers.Dropout(0.1),
            layers.Dense(3, activation="softmax", name="out"),
        ],
        seed=seed,
    )
    if compiled:
        model.compile(optimizers.Adam(0.01), "categorical_crossentropy", metrics=["accuracy"])
    return model


def test_clone_has_the_same_config_and_the_weights_a_new_model_starts_with() -> None:
    model = _model()
    initial = model.get_weights()
    model.fit(X, Y, epochs=3, verbose=0)
    clone = clone_model(model)
    assert clone is not model
    assert clone.get_config() == model.get_config()
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    assert all(new is not old for new, old in zip(clone.layers, model.layers))
    # weights drawn anew from the config's seed: those the original started from, not its trained
    for new, start, trained in zip(clone.get_weights(), initial, model.get_weights()):
        np.testing.assert_array_equal(new, start)
        if start.any():
            assert not np.array_equal(new, trained)
    again = fm.Sequential.from_config({**model.get_config(), "seed": None})
    assert not np.array_equal(again.get_weights()[0], clone.get_weights()[0])


def test_clone_of_a_compiled_model_is_compiled_anew_as_in_keras_3() -> None:
    model = _model()
    model.fit(X, Y, epochs=2, verbose=0)
    clone = clone_model(model)
    assert clone.compiled
    assert clone.optimizer is not model.optimizer
    assert clone.optimizer.get_config() == model.optimizer.get_config()
    assert clone.optimizer.iterations == 0 < model.optimizer.iterations
    assert type(clone.loss) is type(model.loss)
    assert clone.loss.get_config() == model.loss.get_config()
    assert clone.metrics_names == model.metrics_names


def test_clone_of_an_uncompiled_model_is_not_compiled() -> None:
    clone = clone_model(_model(compiled=False))
    assert not clone.compiled
    with pytest.raises(ValueError, match="compile"):
        clone.fit(X, Y, verbose=0)


def test_training_the_clone_leaves_the_original_as_it_was() -> None:
    model = _model()
    model.fit(X, Y, epochs=1, verbose=0)
    before, steps = model.get_weights(), model.optimizer.iterations
    clone = clone_model(model)
    clone.fit(X, Y, epochs=3, verbose=0)
    for now, then in zip(model.get_weights(), before):
        np.testing.assert_array_equal(now, then)
    assert model.optimizer.iterations == steps


def test_clone_of_an_unbuilt_model_builds_on_fit() -> None:
    model = fm.Sequential([layers.Dense(4, activation="tanh"), layers.Dense(3)], seed=1)
    model.compile("sgd", "mse")
    clone = clone_model(model)
    assert not clone.built
    clone.fit(X, Y, verbose=0)
    assert clone.built and not model.built


def test_clone_of_a_nested_model_shares_no_weights() -> None:
    inner = fm.Sequential([layers.Input(shape=(4,)), layers.Dense(8, activation="relu")], seed=0)
    outer = fm.Sequential([inner, layers.Dense(3, activation="softmax")], seed=0)
    outer.compile("adam", "categorical_crossentropy")
    inner_before, outer_before = inner.get_weights(), outer.get_weights()
    clone = clone_model(outer)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in outer.layers]
    clone.fit(X, Y, epochs=3, verbose=0)
    assert not np.array_equal(clone.get_weights()[0], outer_before[0])
    for now, then in zip(inner.get_weights() + outer.get_weights(), inner_before + outer_before):
        np.testing.assert_array_equal(now, then)


@pytest.mark.parametrize("built", [True, False])
def test_clone_keeps_the_statistics_of_an_adapted_normalization(built: bool) -> None:
    normalizer = layers.Normalization(input_shape=(4,) if built else None)
    normalizer.adapt(X * 3 + 1)
    model = fm.Sequential([normalizer, layers.Dense(3)], seed=0)
    clone = clone_model(model)
    clone.build((None, 4))
    np.testing.assert_allclose(clone.layers[0].mean, (X * 3 + 1).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(clone.layers[0].variance, (X * 3 + 1).var(axis=0), rtol=1e-5)
    expected = (X - (X * 3 + 1).mean(axis=0)) / (X * 3 + 1).std(axis=0)
    np.testing.assert_allclose(clone.layers[0](X), expected, rtol=1e-5, atol=1e-6)


def test_clone_keeps_a_learning_rate_schedule_fresh() -> None:
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    model = _model(compiled=False)
    model.compile(optimizers.SGD(schedule), "categorical_crossentropy")
    model.fit(X, Y, epochs=2, verbose=0)
    clone = clone_model(model)
    assert clone.optimizer.learning_rate == pytest.approx(0.1)
    assert model.optimizer.learning_rate < 0.1


def test_clone_stays_on_the_models_device() -> None:
    model = fm.Sequential([layers.Input(shape=(4,)), layers.Dense(3)], seed=0, device="numpy")
    model.compile("adam", "mse")
    clone = clone_model(model)
    assert clone.device == "numpy"
    clone.fit(X, Y, verbose=0)


def test_clone_model_refuses_what_is_not_a_model() -> None:
    with pytest.raises(TypeError, match="Sequential"):
        clone_model(layers.Dense(3))


def test_clone_model_is_where_keras_has_it() -> None:
    from fastmlp import keras

    assert keras.models.clone_model is fm.models.clone_model is clone_model
