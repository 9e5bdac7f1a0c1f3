"""layers.Normalization (Keras's, axis=-1): its values against the formula in NumPy, its gradient
against finite differences, its statistics untouched by every optimizer, adapt, summary counts,
saving, and the bad inputs it refuses."""

from __future__ import annotations

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, optimizers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 4)) * [1.0, 10.0, 100.0, 0.1] + [5.0, -3.0, 50.0, 0.0]
Y = X @ np.array([[1.0], [0.1], [0.01], [10.0]]) + 2.0


def numeric_gradient(engine, x, y, h: float = 1e-6) -> np.ndarray:
    """Central differences of the engine's loss in each of its parameters (left as they were)."""
    params = engine.get_params()
    numeric = np.zeros_like(params)
    for i in range(params.size):
        for sign in (1, -1):
            p = params.copy()
            p[i] += sign * h
            engine.set_params(p)
            numeric[i] += sign * engine.loss_and_gradient(x, y)[0] / (2 * h)
    engine.set_params(params)
    return numeric


def _standardize(x, mean, variance, invert=False):
    sd = np.maximum(np.sqrt(variance), 1e-7)
    return mean + x * sd if invert else (x - mean) / sd


@pytest.mark.parametrize("invert", [False, True])
def test_values_match_the_formula_adapted_standalone_and_in_a_model(invert) -> None:
    norm = layers.Normalization(invert=invert)
    norm.adapt(X)
    mean, variance = X.mean(axis=0), X.var(axis=0)
    np.testing.assert_allclose(norm(X), _standardize(X, mean, variance, invert), rtol=1e-12)
    model = fm.Sequential([layers.Input(shape=(4,)), norm], dtype="float64")
    np.testing.assert_allclose(
        model.predict(X, verbose=0), _standardize(X, mean, variance, invert), rtol=1e-12
    )
    got_mean, got_variance, count = norm.get_weights()
    np.testing.assert_allclose(got_mean, mean, rtol=1e-15)
    np.testing.assert_allclose(got_variance, variance, rtol=1e-15)
    assert count == len(X) and count.shape == ()


def test_axis_none_and_the_keras_regression_tutorials_lines() -> None:
    """TensorFlow's "Basic regression" tutorial: a one-feature normalizer with axis=None, its
    mean, the layer called by itself, a Dense(1) on top trained on the mean absolute error."""
    horsepower = X[:, 2]
    normalizer = layers.Normalization(input_shape=[1], axis=None)
    normalizer.adapt(horsepower[:, None])
    assert normalizer.mean == pytest.approx(horsepower.mean())
    first = horsepower[:1, None]
    assert normalizer(first)[0, 0] == pytest.approx(
        (horsepower[0] - horsepower.mean()) / horsepower.std()
    )
    model = fm.Sequential([normalizer, layers.Dense(units=1)])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.1), loss="mean_absolute_error")
    history = model.fit(horsepower, Y, epochs=100, verbose=0, validation_split=0.2)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    # (a 1-D x for a one-feature model is samples of one value, as Keras takes it)
    np.testing.assert_array_equal(
        model.predict(horsepower[:10], verbose=0), model.predict(horsepower[:10, None], verbose=0)
    )
    both = layers.Normalization(axis=None)
    both.adapt(X[:, :2])  # one mean and variance over both columns
    np.testing.assert_allclose(both(X[:3, :2]), (X[:3, :2] - X[:, :2].mean()) / X[:, :2].std())


def test_training_on_it_equals_training_on_standardized_data() -> None:
    """Its forward pass is the standardization: a net behind it trains as the same net on
    standardized inputs, weights equal to rounding."""
    norm = layers.Normalization(input_shape=(4,))
    norm.adapt(X)
    a = fm.Sequential([norm, layers.Dense(6, activation="tanh"), layers.Dense(1)], dtype="float64")
    b = fm.Sequential(
        [layers.Input(shape=(4,)), layers.Dense(6, activation="tanh"), layers.Dense(1)],
        dtype="float64",
    )
    b.set_weights(a.get_weights()[3:])
    for model in (a, b):
        model.compile(optimizers.SGD(0.05), "mse")
    a.fit(X, Y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    b.fit(
        _standardize(X, X.mean(0), X.var(0)), Y, batch_size=16, epochs=3, shuffle=False, verbose=0
    )
    for wa, wb in zip(a.get_weights()[3:], b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("invert", [False, True])
def test_gradient_through_it_matches_finite_differences(invert) -> None:
    mean, variance = np.array([0.5, -1.0, 2.0]), np.array([4.0, 0.25, 9.0])
    model = fm.Sequential(
        [
            layers.Input(shape=(4,)),
            layers.Dense(3, activation="tanh"),
            layers.Normalization(mean=mean, variance=variance, invert=invert),
            layers.Dense(2),
        ],
        dtype="float64",
        seed=3,
    )
    model.compile("sgd", "mse")
    engine, x, y = model._engine, X[:10] / 10, RNG.normal(size=(10, 2))
    params = engine.get_params()
    _, grad = engine.loss_and_gradient(x, y)
    numeric = numeric_gradient(engine, x, y)
    stats = slice(15, 15 + 7)  # the Normalization's mean, variance, count: no gradient
    assert not grad[stats].any()
    keep = np.ones(params.size, bool)
    keep[stats] = False
    np.testing.assert_allclose(grad[keep], numeric[keep], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "optimizer",
    [
        optimizers.SGD(0.1, momentum=0.9),
        optimizers.Adam(0.01),
        optimizers.AdamW(0.01, weight_decay=0.1),
        optimizers.RMSprop(0.01, clipnorm=0.5),
        optimizers.Adagrad(0.1),
        optimizers.Adadelta(1.0),
        optimizers.Nadam(0.01),
        optimizers.Adamax(0.01),
        optimizers.Lion(1e-3, weight_decay=0.1),
        optimizers.Ftrl(0.1, l2_shrinkage_regularization_strength=0.01),
    ],
    ids=lambda o: type(o).__name__,
)
def test_no_optimizer_changes_the_statistics(optimizer) -> None:
    norm = layers.Normalization(input_shape=(4,))
    norm.adapt(X)
    model = fm.Sequential([norm, layers.Dense(1)], dtype="float64")
    model.compile(optimizer, "mse")
    before = norm.get_weights()
    model.fit(X, Y, epochs=3, verbose=0)
    for a, b in zip(before, norm.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.get_weights()[3], before[0][:, None])  # the Dense trained


def test_summary_counts_and_weights_lists_as_keras(capsys) -> None:
    norm = layers.Normalization(input_shape=(4,))
    model = fm.Sequential([norm, layers.Dense(2)])
    model.summary()
    out = capsys.readouterr().out
    assert "Non-trainable params: 9" in out and "Trainable params: 10" in out
    assert norm.trainable_weights == [] and len(norm.non_trainable_weights) == 3
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 3


def test_adapt_after_build_reaches_the_engine_and_saving_keeps_the_statistics(tmp_path) -> None:
    norm = layers.Normalization()
    model = fm.Sequential([layers.Input(shape=(4,)), norm, layers.Dense(1)], dtype="float64")
    model.predict(X[:2], verbose=0)  # built with mean 0, variance 1
    norm.adapt(X)
    np.testing.assert_allclose(
        model.predict(X, verbose=0),
        _standardize(X, X.mean(0), X.var(0)) @ model.get_weights()[3] + model.get_weights()[4],
        rtol=1e-10,
    )
    model.save(tmp_path / "m.fastmlp")
    loaded = fm.models.load_model(tmp_path / "m.fastmlp")
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    given = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 1.0])
    again = layers.Normalization.from_config(given.get_config())
    np.testing.assert_array_equal(again(np.ones((1, 2))), [[0.0, -1.0]])


def test_given_statistics_are_constants_with_no_weights_as_keras(tmp_path) -> None:
    # Keras 3: Normalization(mean=..., variance=...) makes constant tensors, not weights: its
    # model's get_weights() is the Dense layer's alone, so a Keras model's weights set straight
    # in; the statistics still act, survive a file, and adapt() makes them weights again.
    mean, variance = X.mean(0), X.var(0)
    norm = layers.Normalization(mean=mean, variance=variance)
    model = fm.Sequential([layers.Input(shape=(4,)), norm, layers.Dense(1)], dtype="float64")
    kernel, bias = RNG.normal(size=(4, 1)), np.array([0.5])
    assert [w.shape for w in model.get_weights()] == [(4, 1), (1,)]
    assert model.count_params() == 5 and norm.count_params() == 0 and norm.get_weights() == []
    model.set_weights([kernel, bias])
    want = _standardize(X, mean, variance) @ kernel + bias
    np.testing.assert_allclose(model.predict(X, verbose=0), want, rtol=1e-12)
    np.testing.assert_array_equal(norm.mean, mean)
    np.testing.assert_array_equal(norm.variance, variance)
    model.save(tmp_path / "given.fastmlp")
    loaded = fm.models.load_model(tmp_path / "given.fastmlp")
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    norm.adapt(X[:10])
    assert [w.shape for w in model.get_weights()] == [(4,), (4,), (), (4, 1), (1,)]
    np.testing.assert_allclose(norm.mean, X[:10].mean(0), rtol=1e-12)


def test_files_that_held_given_statistics_as_weights_still_load(tmp_path) -> None:
    # fastmlp wrote a given Normalization's mean, variance and count among the weights before
    # they became constants: such a file loads, with the values it holds (set_weights could
    # make them differ from the config's).
    import json
    import zipfile

    adapted = layers.Normalization()
    model = fm.Sequential([layers.Input(shape=(4,)), adapted, layers.Dense(1)], dtype="float64")
    adapted.adapt(X)
    model.save(tmp_path / "new.fastmlp")
    with zipfile.ZipFile(tmp_path / "new.fastmlp") as src:
        members = {name: src.read(name) for name in src.namelist()}
    config = json.loads(members["config.json"])
    layer = next(c for c in config["model"]["layers"] if c["class_name"] == "Normalization")
    layer["config"].update(mean=[0.0] * 4, variance=[1.0] * 4)  # what the config said
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "old.fastmlp", "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
    old = fm.models.load_model(tmp_path / "old.fastmlp")
    assert len(old.get_weights()) == 2  # constants now
    np.testing.assert_array_equal(old.layers[0].mean, X.mean(0))  # the file's values
    np.testing.assert_array_equal(old.predict(X, verbose=0), model.predict(X, verbose=0))
    twin = fm.Sequential(
        [layers.Input(shape=(4,)), layers.Normalization(mean=0.0, variance=1.0), layers.Dense(1)],
        dtype="float64",
    )
    twin.load_weights(tmp_path / "old.fastmlp")
    np.testing.assert_array_equal(twin.predict(X, verbose=0), model.predict(X, verbose=0))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: layers.Normalization(axis=0), NotImplementedError, "only axis=-1"),
        (lambda: layers.Normalization(axis=(0, 1)), NotImplementedError, "and axis=None"),
        (lambda: layers.Normalization(mean=1.0), ValueError, "both `mean` and `variance`"),
        (
            lambda: layers.Normalization(mean=0.0, variance=-1.0),
            ValueError,
            "variance must be >= 0",
        ),
        (
            lambda: layers.Normalization().adapt(np.ones(3)),
            ValueError,
            r"shape \(samples, features\)",
        ),
        (lambda: layers.Normalization().adapt([[np.nan]]), ValueError, "NaN or infinity"),
        (lambda: layers.Normalization()(X), ValueError, "call adapt"),
        (
            lambda: fm.Sequential(
                [layers.Input(shape=(4,)), layers.Normalization(mean=[0, 0], variance=[1, 1])]
            ).predict(X),
            ValueError,
            "hold 2 values, the inputs 4 features",
        ),
        (
            lambda: fm.Sequential(
                [layers.Input(shape=(4,)), layers.Normalization(), layers.Dense(1)], device="numpy"
            ).predict(X),
            NotImplementedError,
            "Normalization is computed by the CPU engine only",
        ),
    ],
)
def test_bad_inputs_are_refused_by_name(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()
