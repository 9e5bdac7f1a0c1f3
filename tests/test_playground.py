"""Tests for fastmlp.playground: feature crosses, the Playground experiment, pictures and the CLI.

The training rule is checked against a NumPy step of the playground's own rule (nn.ts); learning
is checked on the lecture's cases; pictures are read back from PNG and their pixels inspected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fastmlp as fm
import numpy as np
import pytest
from fastmlp.datasets import playground as pgd
from fastmlp.playground import Playground, features, layer_outputs
from fastmlp.playground.__main__ import main as cli_main

ORANGE = np.array([245, 147, 34]) / 255
BLUE = np.array([8, 119, 189]) / 255
ALPHA = 160 / 255  # the playground's heatmap opacity over white


# -- features -----------------------------------------------------------------------------------
def test_features_compute_each_cross_in_the_order_given():
    x = np.array([[1.5, -2.0], [0.0, 3.0]])
    out = features(x, ["sin(x2)", "x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)"])
    a, b = x[:, 0], x[:, 1]
    expected = np.stack([np.sin(b), a, b, a**2, b**2, a * b, np.sin(a)], axis=1)
    np.testing.assert_allclose(out, expected)


def test_features_accept_the_playgrounds_ids_and_other_spellings():
    x = np.array([[2.0, 3.0]])
    for spelling in ["xSquared", "X1**2", "x1²", " x1 ^ 2 "]:
        np.testing.assert_allclose(features(x, [spelling]), [[4.0]])
    np.testing.assert_allclose(features(x, ["x", "y", "xTimesY", "sinY"]), [[2, 3, 6, np.sin(3)]])


def test_features_reject_unknown_names_duplicates_and_wrong_shapes():
    with pytest.raises(ValueError, match=r"Unknown feature 'x3'\. Expected some of: x1, x2"):
        features(np.zeros((1, 2)), ["x3"])
    with pytest.raises(ValueError, match="once"):
        features(np.zeros((1, 2)), ["x1", "x"])
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        features(np.zeros((3, 3)), ["x1"])
    with pytest.raises(TypeError, match="list of feature names"):
        features(np.zeros((1, 2)), "x1")


# -- the experiment -----------------------------------------------------------------------------
def test_playground_builds_data_split_and_network_from_its_settings():
    pg = Playground("xor", features=["x1", "x2", "x1*x2"], hidden=(3, 2), ratio=0.7, seed=1)
    assert pg.x_train.shape == (350, 2) and pg.x_test.shape == (150, 2)
    assert set(np.unique(pg.y_train)) == {-1.0, 1.0}
    assert [layer.units for layer in pg.model.layers] == [3, 2, 1]
    assert pg.model.input_shape == (None, 3)
    assert pg.history == {"loss": [], "test_loss": [], "accuracy": [], "test_accuracy": []}
    assert "xor" in repr(pg) and "3-3-2-1" in repr(pg)


def test_playground_mode_uses_tanh_output_sgd_at_half_rate_and_the_playgrounds_init():
    pg = Playground("circle", hidden=(5, 4), learning_rate=0.1, seed=0)
    assert pg.model.layers[-1].activation.__name__ == "tanh"
    assert isinstance(pg.model.optimizer, fm.optimizers.SGD)
    assert pg.model.optimizer.learning_rate == pytest.approx(0.05)
    kernels = np.concatenate([k.ravel() for k, _ in pg.weights])
    biases = np.concatenate([b for _, b in pg.weights])
    assert np.all(np.abs(kernels) <= 0.5) and kernels.std() > 0.2  # U(-0.5, 0.5)
    np.testing.assert_allclose(biases, 0.1)


def test_modern_mode_uses_sigmoid_cross_entropy_adam_and_glorot():
    pg = Playground("circle", hidden=(8,), mode="modern", seed=0)
    assert pg.model.layers[-1].activation.__name__ == "sigmoid"
    assert isinstance(pg.model.loss, fm.losses.BinaryCrossentropy)
    assert isinstance(pg.model.optimizer, fm.optimizers.Adam)
    kernel, bias = pg.weights[0]
    assert np.all(np.abs(kernel) <= np.sqrt(6 / (2 + 8))) and not bias.any()


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("sgd", fm.optimizers.SGD),
        ("adam", fm.optimizers.Adam),
        ("adadelta", fm.optimizers.Adadelta),
        ("RMSprop", fm.optimizers.RMSprop),
        ("adagrad", fm.optimizers.Adagrad),
    ],
)
@pytest.mark.parametrize("mode", ["playground", "modern"])
def test_optimizer_by_name_gets_the_learning_rate_halved_only_for_playground_sgd(name, cls, mode):
    pg = Playground("circle", hidden=(2,), learning_rate=0.02, optimizer=name, mode=mode, seed=0)
    assert type(pg.model.optimizer) is cls
    assert pg.learning_rate == 0.02 and pg.optimizer == name.lower()
    halved = mode == "playground" and name == "sgd"
    assert pg.model.optimizer.learning_rate == pytest.approx(0.01 if halved else 0.02)
    assert f"optimizer={name.lower()}" in repr(pg)


def test_adams_first_step_is_the_learning_rate_in_playground_mode():
    """Adam's first step is lr·g/|g| per weight: the factor 2 of the engine's loss cancels."""
    pg = Playground(
        "circle", hidden=(3,), learning_rate=0.01, optimizer="adam", batch_size=250, seed=0
    )
    before = pg.model.get_weights()
    pg.fit(1)  # one step: the 250 training points are one batch
    steps = np.concatenate([np.abs(a - b).ravel() for a, b in zip(pg.model.get_weights(), before)])
    np.testing.assert_allclose(steps, 0.01, rtol=0.02)  # (epsilon 1e-7 for tiny gradients)


def test_optimizer_object_is_used_as_it_is_with_its_own_rate():
    optimizer = fm.optimizers.Adadelta(learning_rate=1.0)
    pg = Playground("xor", hidden=(4,), optimizer=optimizer, seed=0).fit(2)
    assert pg.model.optimizer is optimizer and pg.learning_rate == 1.0
    assert pg.optimizer_name == "adadelta" and len(pg.history["loss"]) == 2
    with pytest.raises(ValueError, match=r"learning_rate=0\.1 with an optimizer object.*not both"):
        Playground("xor", optimizer=fm.optimizers.SGD(0.1), learning_rate=0.1)


@pytest.mark.parametrize(
    ("optimizer", "name"),
    [
        ("sgd", "sgd"),
        (fm.optimizers.SGD(0.1), "sgd"),  # the learning rate is said apart
        (fm.optimizers.SGD(0.1, momentum=0.9, nesterov=True), "sgd (momentum 0.9, nesterov)"),
        (fm.optimizers.Adam(0.01, amsgrad=True, clipnorm=1.0), "adam (amsgrad, clipnorm 1)"),
        (fm.optimizers.RMSprop(rho=0.8, name="rms"), "rms (rho 0.8)"),
    ],
)
def test_optimizer_name_says_the_settings_that_differ_from_the_defaults(optimizer, name):
    pg = Playground("xor", optimizer=optimizer, seed=0)
    assert pg.optimizer_name == name and f"optimizer={name} " in repr(pg)


@pytest.mark.parametrize("bad", ["lbfgs", 3, fm.optimizers.SGD])
def test_optimizer_must_be_a_name_or_an_optimizer_object(bad):
    with pytest.raises(ValueError, match="optimizer must be one of sgd, adam, adamw, rmsprop"):
        Playground("circle", optimizer=bad)


def test_zero_init_sets_every_weight_and_bias_to_zero():
    pg = Playground("circle", hidden=(3,), init="zeros", seed=0)
    assert all(not k.any() and not b.any() for k, b in pg.weights)


@pytest.mark.parametrize("regularization", ["l2", "l1"])
def test_playground_step_matches_the_playgrounds_rule(regularization):
    """One batch: w -= lr·mean(dE/dw) + lr·rate·R'(w) with E = ½(o - y)², biases unregularised."""
    lr, rate = 0.3, 0.05
    pg = Playground(
        "circle",
        hidden=(3,),
        learning_rate=lr,
        regularization=regularization,
        regularization_rate=rate,
        n_samples=40,
        batch_size=20,  # the 20 training points make one batch
        seed=2,
    )
    (w1, b1), (w2, b2) = [(k.astype(np.float64), b.astype(np.float64)) for k, b in pg.weights]
    x, y = pg.x_train, pg.y_train[:, None]
    h = np.tanh(x @ w1 + b1)
    o = np.tanh(h @ w2 + b2)
    dz2 = (o - y) * (1 - o**2)  # dE/do = o - y for E = ½(o - y)²
    dz1 = (dz2 @ w2.T) * (1 - h**2)
    n = len(x)
    penalty = (lambda w: w) if regularization == "l2" else np.sign  # L2 = ½w², L1 = |w|
    expected = [
        w1 - lr * (x.T @ dz1) / n - lr * rate * penalty(w1),
        b1 - lr * dz1.mean(axis=0),
        w2 - lr * (h.T @ dz2) / n - lr * rate * penalty(w2),
        b2 - lr * dz2.mean(axis=0),
    ]
    pg.fit(1)
    for got, want in zip(pg.model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_history_grows_by_one_entry_per_epoch_and_matches_the_engines_predictions():
    pg = Playground("gauss", hidden=(2,), seed=3).fit(4).fit(3)
    assert pg.epoch == 7
    assert all(len(values) == 7 for values in pg.history.values())
    out = pg.model.predict(features(pg.x_test, ["x1", "x2"]), verbose=0)[:, 0]
    assert pg.history["test_loss"][-1] == pytest.approx(0.5 * np.mean((out - pg.y_test) ** 2), 1e-5)
    assert pg.history["test_accuracy"][-1] == pytest.approx(np.mean(np.sign(out) == pg.y_test))
    assert pg.evaluate() == pytest.approx({key: v[-1] for key, v in pg.history.items()})


def test_modern_mode_reports_cross_entropy_and_predicts_on_the_pm1_scale():
    pg = Playground("gauss", hidden=(), mode="modern", seed=0).fit(5)
    p = pg.model.predict(features(pg.x_test, ["x1", "x2"]), verbose=0)[:, 0]
    np.testing.assert_allclose(pg.predict(pg.x_test), 2 * p - 1, atol=1e-5)
    t = (pg.y_test > 0).astype(float)
    bce = -np.mean(t * np.log(np.clip(p, 1e-7, 1)) + (1 - t) * np.log(np.clip(1 - p, 1e-7, 1)))
    assert pg.history["test_loss"][-1] == pytest.approx(bce, rel=1e-4)


def test_same_seed_gives_the_same_experiment():
    a = Playground("spiral", hidden=(4,), noise=0.2, mode="modern", seed=11).fit(5)
    b = Playground("spiral", hidden=(4,), noise=0.2, mode="modern", seed=11).fit(5)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.history == b.history


def test_data_seed_keeps_the_data_while_seed_changes_the_initial_weights():
    a = Playground("gauss", hidden=(2,), seed=1, data_seed=5)
    b = Playground("gauss", hidden=(2,), seed=2, data_seed=5)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.weights[0][0], b.weights[0][0])


def test_layer_outputs_agree_with_the_engine():
    pg = Playground("circle", hidden=(4, 3), activation="relu", seed=0).fit(2)
    inputs = features(pg.x_test, ["x1", "x2"])
    outputs = layer_outputs(pg.model, inputs)
    assert [o.shape[1] for o in outputs] == [2, 4, 3, 1]
    np.testing.assert_allclose(outputs[-1], pg.model.predict(inputs, verbose=0), atol=1e-5)
    assert all(np.all(o >= 0) for o in outputs[1:-1])  # ReLU layers


def test_history_holds_python_floats_and_predict_takes_no_points():
    pg = Playground("xor", hidden=(3,), seed=0).fit(2)
    assert all(type(v) is float for values in pg.history.values() for v in values)
    assert all(type(v) is float for v in pg.evaluate().values())
    assert pg.predict(np.empty((0, 2))).shape == (0,)


def test_neuron_outputs_list_features_hidden_layers_and_output():
    pg = Playground("circle", features=["x1^2", "x2^2", "x1"], hidden=(2,), seed=0)
    points = np.array([[1.0, 2.0], [-3.0, 0.5]])
    inputs, hidden, output = pg.neuron_outputs(points)
    np.testing.assert_allclose(inputs, [[1, 4, 1], [9, 0.25, -3]])
    assert hidden.shape == (2, 2)
    # float64 NumPy for the pictures, the engine (float32) for predict: equal to float32 rounding
    np.testing.assert_allclose(output[:, 0], pg.predict(points), rtol=1e-5, atol=1e-6)


def test_spiral_is_learned_by_an_8_8_tanh_network_on_x1_x2():
    for seed in range(3):
        pg = Playground(
            "spiral", features=["x1", "x2"], hidden=(8, 8), activation="tanh",
            mode="modern", learning_rate=0.01, seed=seed,
        ).fit(1500)  # fmt: skip
        assert pg.history["test_accuracy"][-1] >= 0.9, f"seed {seed}"


def test_circle_stays_near_chance_without_hidden_layers():
    for seed in range(3):
        pg = Playground("circle", hidden=(), seed=seed).fit(200)
        assert pg.history["test_accuracy"][-1] <= 0.7, f"seed {seed}"


def test_circle_is_learned_without_hidden_layers_from_squared_features():
    for seed in range(3):
        pg = Playground("circle", features=["x1^2", "x2^2"], hidden=(), seed=seed).fit(100)
        assert pg.history["test_accuracy"][-1] >= 0.95, f"seed {seed}"


def test_regression_reports_losses_but_no_accuracy():
    pg = Playground("reg_plane", hidden=(), seed=0).fit(20)
    assert set(pg.history) == {"loss", "test_loss"}
    assert pg.model.layers[-1].activation.__name__ == "linear"
    assert pg.history["test_loss"][-1] < 1e-3  # the target is linear in x1, x2
    with pytest.raises(ValueError, match="classification"):
        pg.accuracy(pg.x_test, pg.y_test)


def test_custom_data_with_01_labels_is_classification_on_pm1_labels():
    x, y = pgd.gauss(n_samples=200, seed=0, labels="01")
    pg = Playground((x, y), hidden=(), seed=0).fit(20)
    assert pg.dataset == "custom" and pg.classification
    assert set(np.unique(pg.y_train)) == {-1.0, 1.0}
    assert pg.history["test_accuracy"][-1] > 0.95


def _points(n=200, seed=0):
    return np.random.default_rng(seed).normal(scale=3, size=(n, 2))


@pytest.mark.parametrize(
    ("low", "high"),
    [(1, 2), (-1.0, 0.0), (0.25, 0.75), ("cat", "dog"), (3, 7)],
)
def test_custom_data_with_two_label_values_is_classification_with_a_note(low, high):
    x = _points()
    labels = np.where(x[:, 0] > 0, high, low)  # ints stay ints, strings strings
    with pytest.warns(UserWarning) as record:
        pg = Playground((x, labels), hidden=(), seed=0).fit(20)
    assert [str(w.message) for w in record] == [
        (
            f"dataset: labels {low!r} and {high!r} taken as the two classes, {low!r} as -1 "
            f"(orange) and {high!r} as +1 (blue); say problem='classification' to take them so "
            "without this note, or problem='regression' if they are real targets"
        )
    ]
    assert record[0].filename == __file__  # points at the caller's line
    assert pg.classification and pg.classes == (low, high)
    assert "accuracy" in pg.history and pg.history["test_accuracy"][-1] > 0.95
    split_labels = np.where(pg.x_train[:, 0] > 0, 1.0, -1.0)
    np.testing.assert_array_equal(pg.y_train, split_labels)  # the larger label is +1 (blue)
    # said explicitly: the same experiment, without the note (warnings are errors here)
    same = Playground((x, labels), hidden=(), seed=0, problem="classification").fit(20)
    assert same.history == pg.history


@pytest.mark.parametrize(
    "labels", [np.array([-1, 1]), np.array([0.0, 1.0]), np.array([False, True])]
)
def test_custom_data_with_pm1_or_01_or_bool_labels_needs_no_note(labels):
    x = _points()
    pg = Playground((x, labels[(x[:, 1] > 0).astype(int)]), hidden=(), seed=0)
    assert pg.classification and pg.classes == tuple(labels.tolist())
    assert set(np.unique(pg.y_train)) == {-1.0, 1.0}


def test_custom_data_with_three_classes_is_refused_pointing_to_sequential():
    x = _points()
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)  # 0, 1, 2
    message = (
        r"dataset: the labels take 3 values \(0, 1, 2\), but the playground classifies two "
        r"classes only, as the TensorFlow Playground does \(if they are real targets, not "
        r"classes, pass problem='regression'\)\. For 3 classes, train a fastmlp\.Sequential "
        r"that ends in Dense\(3, activation='softmax'\).*decision_boundary\(model, "
    )
    with pytest.raises(ValueError, match=message):
        Playground((x, labels))
    with pytest.raises(ValueError, match=r"take 4 values \(a, b, c, d\).* two classes only"):
        Playground((x, np.array(list("abcd"))[labels + (x[:, 0] > 2)]))
    # whole numbers as regression targets, when said so
    pg = Playground((x, labels), problem="regression", seed=0)
    assert not pg.classification and pg.classes is None
    assert set(np.unique(pg.y_train)) == {0.0, 1.0, 2.0} and set(pg.history) == {
        "loss",
        "test_loss",
    }


def test_custom_data_with_real_targets_is_regression():
    x = _points()
    pg = Playground((x, np.tanh(x[:, 0] / 3)), hidden=(), seed=0).fit(5)
    assert not pg.classification and pg.classes is None
    np.testing.assert_allclose(pg.y_train, np.tanh(pg.x_train[:, 0] / 3))
    assert set(pg.history) == {"loss", "test_loss"}


@pytest.mark.parametrize(
    ("labels", "kwargs", "message"),
    [
        (np.arange(200) / 7, {"problem": "classification"}, r"needs labels of two values, got 200"),
        (np.array(["a", "b"] * 100), {"problem": "regression"}, "regression needs numbers"),
        (np.full(200, 5.0), {}, "every label is 5; classification needs two classes"),
        (np.full(200, 5.0), {"problem": "classification"}, "every label is 5; .* two classes"),
        (np.r_[np.nan, np.zeros(199)], {}, "finite numbers; some are NaN"),
        (np.zeros((200, 2)), {}, r"one label per point, shape \(200,\), got shape \(200, 2\)"),
        (np.zeros(199), {}, r"one label per point, shape \(200,\), got shape \(199,\)"),
        (np.zeros(200), {"problem": "binary"}, "problem must be one of classification, regression"),
    ],
)
def test_custom_labels_that_cannot_be_used_are_refused_with_the_reason(labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Playground((_points(), labels), **kwargs)


def test_problem_must_fit_a_named_dataset():
    assert Playground("circle", problem="classification", seed=0).classes == (-1, 1)
    assert Playground("reg_plane", problem="regression", seed=0).classes is None
    with pytest.raises(ValueError, match="problem='regression' does not fit circle, a classif"):
        Playground("circle", problem="regression")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dataset": "moons"}, ValueError, "Unknown playground dataset"),
        ({"mode": "keras"}, ValueError, "mode must be one of playground, modern"),
        ({"init": "he"}, ValueError, "init must be one of"),
        ({"regularization": "l3"}, ValueError, "regularization must be one of l1, l2"),
        ({"hidden": (4, 0)}, ValueError, "positive integers"),
        ({"features": ["x1", "cos(x1)"]}, ValueError, "Unknown feature"),
        ({"activation": "wiggle"}, ValueError, "Unknown activation"),
        ({"dataset": (np.zeros((3, 3)), np.zeros(3))}, ValueError, r"shape \(n, 2\)"),
        # the value the user typed, not the halved rate SGD gets in playground mode
        ({"learning_rate": -0.1}, ValueError, r"learning_rate must be .*>= 0, got -0\.1$"),
        ({"learning_rate": "fast"}, TypeError, "learning_rate must be a number"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer, got 0"),
        ({"batch_size": 2.5}, ValueError, r"batch_size must be a positive integer, got 2\.5"),
        ({"regularization_rate": -1.0}, ValueError, "regularization_rate must be"),
        ({"ratio": "half"}, TypeError, "ratio must be a number"),
    ],
)
def test_playground_rejects_bad_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        Playground(**kwargs)


@pytest.mark.parametrize("hidden", [0, (), []])
def test_playground_takes_0_or_an_empty_tuple_for_no_hidden_layer(hidden):
    pg = Playground("circle", hidden=hidden, seed=0)
    assert pg.hidden == () and [layer.units for layer in pg.model.layers] == [1]
    with pytest.raises(ValueError, match=r"or \(\) or 0 for no hidden layer; got \(4, 0\)"):
        Playground("circle", hidden=(4, 0))


def test_half_set_regularization_warns_naming_both_settings():
    with pytest.warns(
        UserWarning, match="regularization l1 does nothing with regularization_rate 0"
    ):
        Playground("circle", regularization="l1", seed=0)
    with pytest.warns(
        UserWarning, match="regularization_rate 0.01 does nothing without regularization"
    ):
        Playground("circle", regularization_rate=0.01, seed=0)
    # set fully, or not at all: no warning (the test run turns warnings into errors)
    Playground("circle", regularization="l2", regularization_rate=0.01, seed=0)
    Playground("circle", regularization="none", seed=0)


# -- pictures -----------------------------------------------------------------------------------
def png(fig, tmp_path, name="picture.png"):
    """Save `fig`, read the file back: an (height, width, 3) float array."""
    mpimg = pytest.importorskip("matplotlib.image")
    path = tmp_path / name
    fig.savefig(path)
    return mpimg.imread(path)[..., :3]


def share(image, colour, tol=0.03):
    """Fraction of pixels within `tol` of `colour` in every channel."""
    return float(np.mean(np.all(np.abs(image - colour) <= tol, axis=-1)))


@pytest.fixture(scope="module")
def trained():
    pytest.importorskip("matplotlib")
    return Playground("circle", hidden=(4, 2), seed=0).fit(60)


def test_decision_boundary_png_has_the_playgrounds_colours(trained, tmp_path):
    from fastmlp.playground import decision_boundary

    image = png(decision_boundary(trained, discretize=True), tmp_path)
    assert image.shape == (500, 500, 3)
    # heatmap: orange outside, blue inside, both at the playground's opacity over white
    assert share(image, ALPHA * ORANGE + (1 - ALPHA), tol=0.01) > 0.1
    assert share(image, ALPHA * BLUE + (1 - ALPHA), tol=0.01) > 0.03
    # points: full colours
    assert share(image, ORANGE, tol=0.06) > 0.002
    assert share(image, BLUE, tol=0.06) > 0.002
    assert share(image, np.zeros(3), tol=0.1) > 0.002  # black edges of test points


def test_decision_boundary_of_a_sequential_model(tmp_path):
    pytest.importorskip("matplotlib")
    from fastmlp.playground import decision_boundary

    x, y = pgd.gauss(n_samples=200, seed=0)
    model = fm.Sequential([fm.layers.Input(shape=(2,)), fm.layers.Dense(1)], seed=0)
    model.compile(optimizer=fm.optimizers.SGD(0.05), loss="logistic")
    model.fit(x, y, batch_size=10, epochs=5, verbose=0)
    image = png(decision_boundary(model, train=(x, y), title="logistic"), tmp_path)
    assert image.shape == (500, 500, 3)
    assert share(image, ALPHA * ORANGE + (1 - ALPHA), tol=0.04) > 0.05
    assert share(image, ALPHA * BLUE + (1 - ALPHA), tol=0.04) > 0.05


def _xor_model(extra, activation=None):
    """A 2-8-1 model on xor with `extra` layers between its Dense layers, trained a little."""
    x, y = pgd.xor(n_samples=200, seed=0, labels="01")
    model = fm.Sequential(
        [
            fm.layers.Input(shape=(2,)),
            fm.layers.Dense(8, activation),
            *extra,
            fm.layers.Dense(1, "sigmoid"),
        ],
        seed=0,
    )
    model.compile(optimizer=fm.optimizers.Adam(0.05), loss="binary_crossentropy")
    model.fit(x, y, batch_size=10, epochs=20, verbose=0)
    return model, (x, y)


def test_layer_outputs_fold_activation_layers_and_skip_dropout():
    model, (x, _) = _xor_model([fm.layers.Activation("relu"), fm.layers.Dropout(0.3)])
    outputs = layer_outputs(model, x)
    assert [o.shape[1] for o in outputs] == [2, 8, 1]
    assert np.all(outputs[1] >= 0) and np.any(outputs[1] == 0)  # the ReLU of the Activation layer
    np.testing.assert_allclose(outputs[-1], model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize(
    ("dense_activation", "extra"),
    [
        ("tanh", lambda: [fm.layers.Dropout(0.2)]),
        (None, lambda: [fm.layers.Activation("tanh")]),
        (None, lambda: [fm.layers.ReLU(), fm.layers.Dropout(0.1)]),
    ],
    ids=["dropout", "activation", "relu-dropout"],
)
def test_pictures_draw_models_with_dropout_and_activation_layers(dense_activation, extra, tmp_path):
    pytest.importorskip("matplotlib")
    from fastmlp.playground import decision_boundary, network_diagram, neuron_grid

    model, data = _xor_model(extra(), dense_activation)
    image = png(decision_boundary(model, train=data), tmp_path)
    assert share(image, ALPHA * ORANGE + (1 - ALPHA), tol=0.04) > 0.05
    assert share(image, ALPHA * BLUE + (1 - ALPHA), tol=0.04) > 0.05
    # rows: inputs, the hidden Dense layer (its Activation folded in), output; 8 columns
    assert png(neuron_grid(model), tmp_path).shape[:2] == (3 * 150 + 50, 8 * 150 + 90)
    assert png(network_diagram(model), tmp_path).shape[:2] == (int(0.75 * 8 * 100 + 120), 580)


def test_pictures_refuse_layers_they_cannot_draw_with_a_clear_message():
    pytest.importorskip("matplotlib")
    from fastmlp.playground import decision_boundary

    model = fm.Sequential(
        [fm.layers.Input(shape=(2,)), fm.layers.Activation("tanh"), fm.layers.Dense(1)], seed=0
    )
    with pytest.raises(ValueError, match=r"before the first Dense layer.*support Dense layers"):
        decision_boundary(model)


def test_neuron_grid_png_has_one_map_per_unit(trained, tmp_path):
    from fastmlp.playground import neuron_grid

    image = png(neuron_grid(trained), tmp_path)
    # rows: inputs, 2 hidden layers, output; 4 columns (the widest layer); 1.5 inch per map
    assert image.shape == (int((4 * 1.5 + 0.5) * 100), int((4 * 1.5 + 0.9) * 100), 3)
    assert share(image, ORANGE, tol=0.04) > 0.01 and share(image, BLUE, tol=0.04) > 0.01


def test_network_diagram_png_shows_nodes_and_coloured_links(trained, tmp_path):
    from fastmlp.playground import network_diagram

    image = png(network_diagram(trained), tmp_path)
    assert image.shape == (int(0.75 * 4 * 100 + 120), int(1.6 * 4 * 100 + 100), 3)
    assert share(image, ORANGE, tol=0.06) > 0.002 and share(image, BLUE, tol=0.06) > 0.002
    assert share(image, np.ones(3), tol=0.01) > 0.5  # a white page


def test_loss_curves_png_draws_test_black_and_training_grey(trained, tmp_path):
    from fastmlp.playground import loss_curves

    image = png(loss_curves(trained), tmp_path)
    assert image.shape == (350, 600, 3)
    assert share(image, np.zeros(3), tol=0.05) > 0.002
    assert share(image, np.full(3, 0x77 / 255), tol=0.03) > 0.001
    compared = png(loss_curves({"a": trained, "b": trained.history}), tmp_path, "two.png")
    assert share(compared, np.array([31, 119, 180]) / 255, tol=0.05) > 1e-4  # C0 blue
    assert share(compared, np.array([255, 127, 14]) / 255, tol=0.05) > 1e-4  # C1 orange


def test_loss_curves_of_a_playground_start_at_epoch_0_before_training():
    pytest.importorskip("matplotlib")
    from fastmlp.playground import loss_curves

    pg = Playground("circle", hidden=(2,), seed=0)
    untrained = pg.evaluate()
    assert pg.before_training is None
    pg.fit(5)
    assert pg.before_training == untrained and len(pg.history["loss"]) == 5  # Keras's history
    test_line, training_line = loss_curves(pg).axes[0].lines
    np.testing.assert_array_equal(test_line.get_xdata(), np.arange(6))
    assert test_line.get_ydata()[0] == untrained["test_loss"]
    assert list(training_line.get_ydata()) == [untrained["loss"], *pg.history["loss"]]
    # a history dict holds the losses after each epoch: from epoch 1
    (line, _) = loss_curves(pg.history).axes[0].lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 6))


def test_loss_curves_of_a_playground_say_its_dataset_network_and_epoch(trained):
    from fastmlp.playground import loss_curves

    history = trained.history
    assert loss_curves(trained).axes[0].get_title() == (
        "circle: network 2-4-2-1, tanh, epoch 60\n"
        f"test loss {history['test_loss'][-1]:.3g}, training loss {history['loss'][-1]:.3g}"
    )
    # a history dict does not know them; a title given is kept
    assert loss_curves(history).axes[0].get_title().startswith("test loss ")
    assert loss_curves(trained, title="loss").axes[0].get_title() == "loss"


def test_cli_loss_picture_is_titled_with_the_dataset_and_network(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    titles = []
    save = Figure.savefig
    monkeypatch.setattr(
        Figure,
        "savefig",
        lambda fig, *a, **k: (titles.append(fig.axes[0].get_title()), save(fig, *a, **k)),
    )
    args = ["--dataset", "xor", "--hidden", "3", "--epochs", "2", "--quiet", "--seed", "0"]
    assert cli_main([*args, "--picture", "loss", "--out", str(tmp_path / "loss.png")]) == 0
    assert titles[0].startswith("xor: network 2-3-1, tanh, epoch 2\ntest loss ")


def test_loss_curves_show_small_losses_and_keep_the_axis_label_inside():
    pytest.importorskip("matplotlib")
    from fastmlp.playground import loss_curves

    fig = loss_curves({"loss": [1.6e-4, 1.2e-4, 1e-4], "test_loss": [1.7e-4, 1.3e-4, 1.1e-4]})
    ax = fig.axes[0]
    assert ax.get_title() == "test loss 0.00011, training loss 0.0001"
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()  # lays the figure out as savefig does
    assert ax.yaxis.label.get_window_extent().x0 >= 0  # "loss" is not cut off at the left


@pytest.fixture(scope="module")
def fit_history():
    """The History of a small softmax model's fit, with validation data and accuracy."""
    x, y = pgd.gauss(n_samples=200, seed=0, labels="01")
    model = fm.Sequential([fm.layers.Input(shape=(2,)), fm.layers.Dense(2, "softmax")], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, model.fit(x, y, epochs=6, validation_split=0.25, verbose=0)


def _lines(ax):
    return {line.get_label(): line for line in ax.lines}


def test_loss_curves_draw_a_fit_history_with_its_metrics_beside(fit_history, tmp_path):
    pytest.importorskip("matplotlib")
    from fastmlp.playground import loss_curves

    _, history = fit_history
    h = history.history
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for source in (history, h):  # the History, or its dict
        fig = loss_curves(source)
        loss_ax, metric_ax = fig.axes
        lines = _lines(loss_ax)
        assert list(lines) == ["validation loss", "training loss"]
        for label, key in [("validation loss", "val_loss"), ("training loss", "loss")]:
            np.testing.assert_array_equal(lines[label].get_xdata(), np.arange(1, 7))  # epochs
            np.testing.assert_allclose(lines[label].get_ydata(), h[key])
        assert loss_ax.get_title() == (
            f"validation loss {h['val_loss'][-1]:.3g}, training loss {h['loss'][-1]:.3g}"
        )
        metric_lines = _lines(metric_ax)
        assert list(metric_lines) == ["validation accuracy", "training accuracy"]
        np.testing.assert_allclose(metric_lines["training accuracy"].get_ydata(), h["accuracy"])
        assert metric_ax.get_ylabel() == "accuracy"
        assert metric_ax.get_title().startswith("validation accuracy ")
        legend = [t.get_text() for t in loss_ax.get_legend().get_texts()]
        assert legend == ["validation loss", "training loss"]
    image = png(loss_curves(history), tmp_path)
    assert image.shape == (350, 1000, 3)
    assert share(image, np.zeros(3), tol=0.05) > 0.002  # validation curves black
    assert share(image, np.full(3, 0x77 / 255), tol=0.03) > 0.001  # training curves grey
    # the loss alone, when asked, or drawn into an Axes
    assert len(loss_curves(history, metrics=False).axes) == 1
    assert png(loss_curves(history, metrics=False), tmp_path).shape == (350, 600, 3)


def test_loss_curves_of_a_history_count_epochs_after_initial_epoch(fit_history):
    pytest.importorskip("matplotlib")
    from fastmlp.playground import loss_curves

    model, _ = fit_history
    x, y = pgd.gauss(n_samples=50, seed=1, labels="01")
    more = model.fit(x, y, initial_epoch=6, epochs=9, verbose=0)
    assert more.epoch == [6, 7, 8]
    (line,) = loss_curves(more).axes[0].lines  # no validation data: the training loss only
    np.testing.assert_array_equal(line.get_xdata(), [7, 8, 9])
    assert line.get_label() == "training loss"


def test_loss_curves_take_a_dict_with_only_the_training_loss():
    pytest.importorskip("matplotlib")
    from fastmlp.playground import loss_curves

    fig = loss_curves({"loss": [0.9, 0.5, 0.4]})
    (ax,) = fig.axes
    assert list(_lines(ax)) == ["training loss"] and ax.get_title() == "training loss 0.4"


def test_loss_curves_compare_fit_histories_and_playgrounds(fit_history, trained):
    from fastmlp.playground import loss_curves

    _, history = fit_history
    fig = loss_curves({"softmax": history, "playground": trained})
    (ax,) = fig.axes  # comparing: the losses only
    assert list(_lines(ax)) == [
        "softmax: validation",
        "softmax: training",
        "playground: test",
        "playground: training",
    ]
    assert ax.get_title() == ""


def test_loss_curves_of_a_playground_add_accuracy_only_when_asked(trained):
    from fastmlp.playground import loss_curves

    assert len(loss_curves(trained).axes) == 1  # the playground's chart: the loss
    _, accuracy = loss_curves(trained, metrics=True).axes
    lines = _lines(accuracy)
    assert list(lines) == ["test accuracy", "training accuracy"]
    np.testing.assert_allclose(
        lines["test accuracy"].get_ydata()[1:], trained.history["test_accuracy"]
    )


@pytest.mark.parametrize(
    ("source", "kwargs", "error", "message"),
    [
        (
            [0.5, 0.4],
            {},
            TypeError,
            r"expects a Playground, a fit history \(the History .*; got list",
        ),
        ({"a": [0.5], "b": 3}, {}, ValueError, "needs the training loss under 'loss'"),
        (
            {"accuracy": [0.5], "val_accuracy": [0.6]},
            {},
            ValueError,
            r"needs the training loss under 'loss' \(as model.fit logs it\); the history has 'acc",
        ),
        ({"run": {"val_loss": [1.0]}}, {}, ValueError, "the history of 'run' has 'val_loss'"),
        ({"run": "loss"}, {}, TypeError, "got str of 'run'"),
        ({}, {}, ValueError, "got an empty dict"),
        ({"loss": [1.0]}, {"metrics": True}, ValueError, "needs metric curves, and this history"),
        (
            {"a": {"loss": [1.0]}, "b": {"loss": [2.0]}},
            {"metrics": True},
            ValueError,
            "needs one run only",
        ),
    ],
)
def test_loss_curves_say_what_is_missing(source, kwargs, error, message):
    pytest.importorskip("matplotlib")
    from fastmlp.playground import loss_curves

    with pytest.raises(error, match=message):
        loss_curves(source, **kwargs)


def test_loss_curves_leave_out_a_curve_not_logged_every_epoch():
    pytest.importorskip("matplotlib")
    from fastmlp.playground import loss_curves

    history = {"loss": [1.0, 0.8, 0.7, 0.6], "val_loss": [0.9, 0.65]}  # validation_freq=2
    with pytest.warns(UserWarning, match="leaves out 'val_loss': 2 values for the 4 epochs") as w:
        fig = loss_curves(history)
    assert w[0].filename == __file__
    with pytest.warns(UserWarning, match="leaves out 'val_loss' of 'run'") as w:
        loss_curves({"run": history})
    assert w[0].filename == __file__
    assert list(_lines(fig.axes[0])) == ["training loss"]


def test_colour_scale_and_title_of_a_sigmoid_model_say_probability(tmp_path):
    pytest.importorskip("matplotlib")
    from fastmlp.playground import decision_boundary

    x, y = pgd.gauss(n_samples=200, seed=0, labels="01")
    model = fm.Sequential([fm.layers.Input(shape=(2,)), fm.layers.Dense(1, "sigmoid")], seed=0)
    model.compile(optimizer=fm.optimizers.SGD(0.1), loss="binary_crossentropy")
    model.fit(x, y, epochs=10, verbose=0)
    plane, scale = decision_boundary(model, train=(x, y)).axes[:2]
    assert [t.get_text() for t in scale.get_xticklabels()] == ["0", "0.5", "1"]
    assert "probability" in scale.get_title()
    assert (
        plane.get_title() == f"{model.name}: network 2-1, sigmoid output\ntraining accuracy 1.000"
    )
    # the playground's tanh output is on -1 ... 1
    scale = decision_boundary(Playground("gauss", seed=0)).axes[1]
    assert [t.get_text() for t in scale.get_xticklabels()] == ["-1", "0", "1"]


# -- models with an output unit per class ----------------------------------------------------
GREY = np.array([0xE8, 0xEA, 0xEB]) / 255
GREEN = np.array([0x2C, 0xA0, 0x2C]) / 255  # the third class: tab10's green
CLASSES = np.stack([ORANGE, BLUE, GREEN])


@pytest.fixture(scope="module")
def three_classes():
    """A 2-8-3 softmax model trained on three blobs (labels 0, 1, 2), and its data."""
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    centres = np.array([[-3, -3], [3, -3], [0, 3]])
    labels = rng.integers(0, 3, 300)
    x = centres[labels] + rng.normal(size=(300, 2))
    model = fm.Sequential(
        [fm.layers.Input((2,)), fm.layers.Dense(8, "relu"), fm.layers.Dense(3, "softmax")], seed=0
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=100, verbose=0)
    return model, x, labels


def _plane_pixels(fig, image, points):
    """The colours of the PNG `image` of `fig` at `points` of its first Axes' data coordinates."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    xy = fig.axes[0].transData.transform(points)
    rows = (image.shape[0] - xy[:, 1]).astype(int)
    return image[rows, xy[:, 0].astype(int)]


def test_multiclass_boundary_colours_the_argmax_class_shaded_by_its_probability(
    three_classes, tmp_path
):
    from fastmlp.playground import decision_boundary

    model, _, _ = three_classes
    fig = decision_boundary(model)  # no points: every pixel of the plane is the heatmap
    image = png(fig, tmp_path)
    assert image.shape == (522, 500, 3)  # 0.11 inch more per class beyond the first
    axis = np.linspace(-5.7, 5.7, 40)
    points = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    p = model.predict(points, verbose=0).astype(np.float64)
    best = p.argmax(axis=1)
    t = (p.max(axis=1) - 1 / 3) / (2 / 3)  # grey at 1/3 (no preference), full colour at 1
    expected = ALPHA * (GREY + t[:, None] * (CLASSES[best] - GREY)) + (1 - ALPHA)
    pixels = _plane_pixels(fig, image, points)
    error = np.abs(pixels - expected).max(axis=1)
    assert np.median(error) < 0.01 and np.mean(error < 0.05) > 0.97
    # where the model is fairly sure, the pixel is nearest to its class's colour at that shade
    sure = t > 0.4
    shades = ALPHA * (GREY + t[sure, None, None] * (CLASSES[None] - GREY)) + (1 - ALPHA)
    nearest = np.linalg.norm(pixels[sure, None] - shades, axis=-1).argmin(axis=1)
    assert sure.mean() > 0.5 and np.mean(nearest == best[sure]) > 0.99
    assert {0, 1, 2} <= set(best[sure].tolist())  # three regions


def test_multiclass_boundary_colours_points_by_class_from_sparse_or_one_hot_labels(
    three_classes, tmp_path
):
    from fastmlp.playground import decision_boundary

    model, x, labels = three_classes
    sparse = decision_boundary(model, train=(x[:200], labels[:200]), test=(x[200:], labels[200:]))
    train_points, test_points = sparse.axes[0].collections
    np.testing.assert_allclose(train_points.get_facecolors()[:, :3], CLASSES[labels[:200]])
    np.testing.assert_allclose(test_points.get_facecolors()[:, :3], CLASSES[labels[200:]])
    one_hot = np.eye(3)[labels]
    same = decision_boundary(model, train=(x[:200], one_hot[:200]), test=(x[200:], labels[200:]))
    np.testing.assert_array_equal(png(sparse, tmp_path, "a.png"), png(same, tmp_path, "b.png"))
    accuracy = np.mean(model.predict(x[:200], verbose=0).argmax(axis=1) == labels[:200])
    test_accuracy = np.mean(model.predict(x[200:], verbose=0).argmax(axis=1) == labels[200:])
    assert accuracy > 0.95  # the audit's case: an accurate model, drawn as such
    assert sparse.axes[0].get_title() == (
        f"{model.name}: network 2-8-3, softmax output\n"
        f"training accuracy {accuracy:.3f}, test accuracy {test_accuracy:.3f}"
    )


def test_multiclass_boundary_has_a_key_of_the_classes(three_classes):
    from fastmlp.playground import decision_boundary

    model, x, labels = three_classes
    key = decision_boundary(model, train=(x, labels)).axes[1]
    assert [t.get_text() for t in key.get_yticklabels()] == ["class 0", "class 1", "class 2"]
    assert [t.get_text() for t in key.get_xticklabels()] == ["1/3", "0.5", "1"]
    assert key.get_title() == "probability of the predicted class"
    stripes = key.images[0].get_array()  # a row per class: grey to its colour at the heatmap's
    np.testing.assert_allclose(stripes[:, 0], np.tile(ALPHA * GREY + 1 - ALPHA, (3, 1)), atol=1e-6)
    np.testing.assert_allclose(stripes[:, -1], ALPHA * CLASSES + 1 - ALPHA, atol=1e-6)
    named = decision_boundary(model, class_names=["a", "b", "c"], discretize=True).axes[1]
    assert [t.get_text() for t in named.get_yticklabels()] == ["a", "b", "c"]
    assert named.get_title() == "predicted class"
    # inside an Axes: a legend of the classes, and of the points unless key=False
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    decision_boundary(model, train=(x, labels), ax=ax)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "class 0",
        "class 1",
        "class 2",
        "training data",
    ]
    patches = legend.get_patches()
    np.testing.assert_allclose(
        [h.get_facecolor()[:3] for h in patches], ALPHA * CLASSES + 1 - ALPHA
    )
    ax = Figure().add_subplot()
    decision_boundary(model, train=(x, labels), ax=ax, key=False)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1", "class 2"]


def test_multiclass_boundary_of_logits_takes_their_softmax(three_classes, tmp_path):
    from fastmlp.playground import decision_boundary

    model, x, labels = three_classes
    logits = fm.Sequential(
        [fm.layers.Input((2,)), fm.layers.Dense(8, "relu"), fm.layers.Dense(3)], seed=0
    )
    logits.compile("adam", fm.losses.SparseCategoricalCrossentropy(from_logits=True))
    logits.set_weights(model.get_weights())  # the same network, its softmax left to the loss
    fig = decision_boundary(logits, train=(x, labels))
    assert fig.axes[1].get_title() == "softmax probability of the predicted class"
    same = decision_boundary(model, train=(x, labels), title=fig.axes[0].get_title())
    a, b = png(fig, tmp_path, "a.png"), png(same, tmp_path, "b.png")
    plane = (slice(60, 450), slice(60, 450))  # the plane (the keys' titles differ)
    np.testing.assert_allclose(a[plane], b[plane], atol=2 / 255)


def test_multiclass_neuron_grid_shows_each_class_probability(three_classes):
    from fastmlp.playground import neuron_grid

    model, _, _ = three_classes
    fig = neuron_grid(model, resolution=30, class_names=["a", "b", "c"])
    tiles = fig.axes[-3:]
    assert [ax.get_title() for ax in tiles] == ["P(a)", "P(b)", "P(c)"]
    axis = np.linspace(-6, 6, 30)
    points = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    p = model.predict(points, verbose=0).astype(np.float64)
    for c, ax in enumerate(tiles):  # grey (probability 0) to the class's colour (1)
        expected = GREY + p[:, c, None] * (CLASSES[c] - GREY)
        np.testing.assert_allclose(ax.images[0].get_array().reshape(-1, 3), expected, atol=1e-5)
    assert [ax.get_title() for ax in neuron_grid(model).axes[-3:]] == [
        "P(class 0)",
        "P(class 1)",
        "P(class 2)",
    ]


@pytest.mark.parametrize("units", [2, 3])
def test_network_diagram_draws_a_node_per_class(three_classes, units, tmp_path):
    from fastmlp.playground import network_diagram

    model = fm.Sequential(
        [fm.layers.Input((2,)), fm.layers.Dense(4, "tanh"), fm.layers.Dense(units, "softmax")]
    )
    fig = network_diagram(model)
    (ax,) = fig.axes
    assert f"{units} classes" in [t.get_text() for t in ax.texts]
    assert len(ax.images) == 2 + 4 + units
    last = ax.images[-units:]  # each output unit's probability: grey to its class's colour
    for c, image in enumerate(last):
        tile = image.get_array().reshape(-1, 3)
        t = (tile - GREY) @ (CLASSES[c] - GREY) / np.sum((CLASSES[c] - GREY) ** 2)
        np.testing.assert_allclose(tile, GREY + t[:, None] * (CLASSES[c] - GREY), atol=1e-6)
    assert png(fig, tmp_path).shape[:2] == (int(0.75 * 4 * 100 + 120), 580)


def test_binary_softmax_over_two_units_takes_one_hot_labels(tmp_path):
    pytest.importorskip("matplotlib")
    from fastmlp.playground import decision_boundary

    x, y = pgd.gauss(n_samples=100, seed=0, labels="01")
    y = y.astype(int)
    model = fm.Sequential([fm.layers.Input((2,)), fm.layers.Dense(2, "softmax")], seed=0)
    model.compile("adam", "categorical_crossentropy")
    sparse = png(decision_boundary(model, train=(x, y)), tmp_path, "a.png")
    one_hot = png(decision_boundary(model, train=(x, np.eye(2)[y])), tmp_path, "b.png")
    np.testing.assert_array_equal(sparse, one_hot)
    assert sparse.shape == (500, 500, 3)  # the binary picture, with its -1 ... 1 scale


@pytest.mark.parametrize(
    ("labels", "kwargs", "message"),
    [
        (
            np.full(300, 3),
            {},
            r"train labels of a model with 3 classes must be class numbers 0 to 2",
        ),
        (np.full(300, 0.5), {}, "must be class numbers 0 to 2 .*; got 0.5"),
        (np.zeros((300, 2)), {}, r"or one-hot rows of 3; got shape \(300, 2\)"),
        (None, {"class_names": ["a", "b"]}, "class_names: the model has 3 classes, got 2 names"),
    ],
)
def test_multiclass_pictures_refuse_labels_that_are_not_its_classes(
    three_classes, labels, kwargs, message
):
    from fastmlp.playground import decision_boundary

    model, x, _ = three_classes
    with pytest.raises(ValueError, match=message):
        decision_boundary(model, train=None if labels is None else (x, labels), **kwargs)


def test_class_names_are_refused_for_binary_pictures():
    pytest.importorskip("matplotlib")
    from fastmlp.playground import decision_boundary, neuron_grid

    model = fm.Sequential([fm.layers.Input((2,)), fm.layers.Dense(1, "sigmoid")])
    with pytest.raises(ValueError, match=r"output unit per class.*binary \(1 unit\)"):
        decision_boundary(model, class_names=["no", "yes"])
    with pytest.raises(ValueError, match="a Playground is binary"):
        neuron_grid(Playground("xor", seed=0), class_names=["no", "yes"])


def test_boundary_pictures_say_which_points_are_training_and_test_data(trained):
    pytest.importorskip("matplotlib")
    from fastmlp.playground import decision_boundary, overview

    def keys(fig):
        legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        return [[t.get_text() for t in legend.get_texts()] for legend in legends]

    assert keys(decision_boundary(trained)) == [["training data", "test data"]]
    assert keys(decision_boundary(trained, show_test=False)) == [["training data"]]
    assert keys(decision_boundary(trained, key=False)) == []
    assert keys(overview(trained)) == [
        ["training data", "test data"],
        ["test loss", "training loss"],
    ]
    markers = decision_boundary(trained).legends[0].legend_handles
    assert [m.get_markeredgecolor() for m in markers] == ["white", "black"]


def test_regression_training_points_get_a_dark_ring_to_show_on_the_pale_heatmap(trained, tmp_path):
    from fastmlp.playground import decision_boundary, overview

    pg = Playground("reg_gauss", hidden=(4,), seed=0).fit(3)
    fig = decision_boundary(pg)
    outline, training, _ = fig.axes[0].collections  # the ring, the points, the test points
    np.testing.assert_array_equal(outline.get_offsets(), training.get_offsets())
    np.testing.assert_allclose(outline.get_edgecolors()[0, :3], [0x55 / 255] * 3)
    assert outline.get_linewidths()[0] > training.get_linewidths()[0]  # a ring outside
    np.testing.assert_allclose(training.get_edgecolors()[0, :3], [1, 1, 1])  # still white-edged
    dark = np.full(3, 0x55 / 255)
    ringed = share(png(fig, tmp_path), dark, tol=0.08)
    assert ringed > 0.01
    assert share(png(overview(pg), tmp_path, "o.png"), dark, tol=0.08) > 0.003
    (key,) = fig.legends
    assert [t.get_text() for t in key.get_texts()] == ["training data", "test data"]
    # classification keeps the playground's points: white edges only
    assert len(decision_boundary(trained).axes[0].collections) == 2
    # (dark grey there: the text's antialiased edges)
    assert share(png(decision_boundary(trained), tmp_path, "c.png"), dark, tol=0.08) < ringed / 3


def test_overview_png_is_the_playgrounds_screen(trained, tmp_path):
    from fastmlp.playground import overview

    image = png(overview(trained, discretize=True), tmp_path)
    assert image.shape == (550, 1300, 3)
    assert share(image, ALPHA * ORANGE + (1 - ALPHA), tol=0.01) > 0.01


def test_overview_title_states_the_settings_that_tell_runs_apart():
    pytest.importorskip("matplotlib")
    from fastmlp.playground import overview

    def title(**settings):
        fig = overview(Playground("spiral", hidden=(8, 8), seed=0, **settings))
        return [text.get_text() for text in fig.texts]  # the suptitle, then the details line

    headline, details = title(
        optimizer=fm.optimizers.SGD(0.03, momentum=0.9, nesterov=True),
        noise=0.2,
        regularization="l2",
        regularization_rate=0.001,
        batch_size=20,
        ratio=0.7,
    )
    assert headline == (
        "spiral: network 2-8-8-1, tanh, sgd (momentum 0.9, nesterov), learning rate 0.03, "
        "playground mode"
    )
    assert details == (
        "noise 0.2, L2 rate 0.001, batch size 20, train ratio 0.7, playground init, seed 0"
    )
    assert title(init="zeros", data_seed=4)[1] == (
        "noise 0, no regularization, batch size 10, train ratio 0.5, zeros init, seed 0, "
        "data seed 4"
    )
    # every setting changed alone changes the title
    base = title()
    for settings in [
        {"noise": 0.1},
        {"batch_size": 5},
        {"ratio": 0.6},
        {"regularization": "l1", "regularization_rate": 0.01},
        {"optimizer": fm.optimizers.SGD(0.03, momentum=0.5)},
        {"learning_rate": 0.1},
        {"mode": "modern"},
        {"init": "glorot"},
    ]:
        assert title(**settings) != base, settings


def test_pictures_explain_how_to_install_matplotlib(monkeypatch):
    from fastmlp.playground import decision_boundary

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=r'pip install "fastmlp\[plot\]"'):
        decision_boundary(Playground("circle", seed=0))


def test_importing_the_playground_does_not_import_matplotlib():
    code = "import sys, fastmlp.playground; print(sys.modules.get('matplotlib') is not None)"
    package_dir = str(Path(fm.__file__).resolve().parents[1])  # the fastmlp under test
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([package_dir, os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"


# -- command line -------------------------------------------------------------------------------
def test_cli_trains_prints_progress_and_saves_a_picture(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "spiral.png"
    args = ["--dataset", "spiral", "--hidden", "8,8", "--activation", "tanh", "--epochs", "20"]
    assert cli_main([*args, "--seed", "0", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "epoch 20/20" in text and "final after 20 epochs" in text and "test loss" in text
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize("name", ["reg-plane", "reg_plane", "Reg-Gauss"])
def test_cli_takes_dataset_names_as_the_python_api_does(name, capsys):
    assert cli_main(["--dataset", name, "--epochs", "2", "--quiet"]) == 0
    assert "final after 2 epochs" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli_main(["--dataset", "reg-circle"])
    assert "invalid choice" in capsys.readouterr().err


def test_cli_accepts_no_hidden_layer_and_rejects_bad_sizes(capsys):
    assert cli_main(["--hidden", "0", "--features", "x1^2,x2^2", "--epochs", "3", "--quiet"]) == 0
    assert "final after 3 epochs" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--hidden", "8,x"])
    assert exit_info.value.code == 2
    assert "units per hidden layer" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--regularization", "l1"],
            "--regularization l1 does nothing with --regularization-rate 0",
        ),
        (["--regularization-rate", "0.01"], "--regularization-rate 0.01 does nothing without"),
    ],
)
def test_cli_warns_when_only_half_of_the_regularization_is_given(args, message, capsys):
    assert cli_main([*args, "--epochs", "1", "--quiet", "--seed", "0"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {message}" in err and err.count("warning") == 1
    cli_main(
        ["--regularization", "l1", "--regularization-rate", "0.01", "--epochs", "1", "--quiet"]
    )
    assert "warning" not in capsys.readouterr().err


def test_cli_optimizer_option_trains_with_that_optimizer(capsys):
    assert cli_main(["--optimizer", "adadelta", "--learning-rate", "1", "--epochs", "2"]) == 0
    assert "optimizer=adadelta" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--optimizer", "lbfgs"])
    assert exit_info.value.code == 2 and "invalid choice: 'lbfgs'" in capsys.readouterr().err


def test_cli_help_shows_every_default_once(capsys):
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    raw = capsys.readouterr().out
    options = raw.split("show this help message and exit")[1].split("\n  --")[1:]
    assert len(options) == 20
    text = " ".join(raw.split())  # argparse wraps lines
    for option in options:
        assert option.count("(default:") == 1, option
    assert "None" not in text
    for shown in ["--epochs EPOCHS epochs to train (default: 300)", "(default: 0.03)",
                  "--seed SEED of the weights, the data and the shuffling (default: a random one",
                  "--batch-size BATCH_SIZE samples per gradient step (default: 10)",
                  "--quiet print only the final result (default: off)"]:  # fmt: skip
        assert shown in text


def test_cli_help_gives_feature_names_that_need_no_shell_quotes(capsys):
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "among x1, x2, x1^2, x2^2, x1x2, sinx1, sinx2, which need no quotes in a shell" in text
    names = "x1,x2,x1^2,x2^2,x1x2,sinx1,sinx2"
    assert cli_main(["--features", names, "--epochs", "1", "--seed", "0"]) == 0
    assert "features=['x1', 'x2', 'x1^2', 'x2^2', 'x1*x2', 'sin(x1)', 'sin(x2)']" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "argument --batch-size: expected an integer >= 1, got '0'"),
        (["--batch-size", "2.5"], "argument --batch-size: expected an integer >= 1, got '2.5'"),
        (["--epochs", "0"], "argument --epochs: expected an integer >= 1, got '0'"),
        (["--learning-rate", "-0.1"], "argument --learning-rate: expected a finite number >= 0"),
        (["--regularization-rate", "nan"], "argument --regularization-rate: expected a finite"),
        (["--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
        (["--n-samples", "1"], "argument --n-samples: expected an integer >= 2, got '1'"),
        (["--ratio", "1.5"], "ratio=1.5 leaves no samples"),
        (["--out", "no_such_dir/x.png"], "argument --out: folder 'no_such_dir' does not exist"),
    ],
)
def test_cli_refuses_bad_arguments_before_training(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main([*args, "--epochs", "1"] if "--epochs" not in args else args)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""  # nothing trained, no header printed
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("picture", ["decision_boundary", "neuron_grid", "network_diagram"])
def test_pictures_of_a_model_they_cannot_draw_say_why(picture):
    draw = getattr(fm.playground, picture)
    with pytest.raises(ValueError, match=r"not built: fit it first, or begin it with Input"):
        draw(fm.Sequential([fm.layers.Dense(1)]))
    three = fm.Sequential([fm.layers.Input((3,)), fm.layers.Dense(1, activation="sigmoid")])
    with pytest.raises(ValueError, match=r"it takes 3 input features, the picture gives it 2"):
        draw(three)
    pytest.importorskip("matplotlib")  # (the refusals above come before matplotlib is needed)
    draw(three, features=["x1", "x2", "x1*x2"])  # (named, the three inputs draw)


def test_a_diverging_playground_warns_and_its_loss_panel_says_so():
    # Learning rate 10 on reg_plane: the loss is NaN from the first epoch. The student is told
    # at the fit line, and the picture shows where (instead of an empty panel around x = 0).
    pg = Playground("reg_plane", hidden=(8, 8), activation="relu", learning_rate=10, seed=0)
    with pytest.warns(RuntimeWarning, match=r"not finite from epoch 1 on \(learning rate 10") as w:
        pg.fit(30)
    assert w[0].filename == __file__
    fig = fm.playground.loss_curves(pg)
    (ax,) = fig.axes
    notes = [t.get_text() for t in ax.texts]
    assert any("not finite from epoch 1" in note for note in notes)
    left, right = ax.get_xlim()
    assert -1 < left < 0 and 30 < right < 31  # epochs 0 (before training) to 30
    lines = [line for line in ax.get_lines() if line.get_label() == "training loss"]
    assert lines and lines[0].get_marker() == "o"  # its one finite point, before training
    # (a finite run draws as before: no note, no markers)
    fine = Playground("reg_plane", hidden=(4,), learning_rate=0.01, seed=0).fit(5)
    (ax,) = fm.playground.loss_curves(fine).axes
    assert not ax.texts and all(line.get_marker() in (None, "None") for line in ax.get_lines())


def test_custom_points_with_nan_are_refused_when_the_playground_is_made():
    x = np.random.default_rng(0).normal(size=(20, 2))
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"dataset: the points x contain NaN or infinity"):
        Playground((x, np.arange(20) % 2))
    with pytest.raises(ValueError, match=r"dataset: the labels must be finite numbers"):
        Playground((np.nan_to_num(x), np.where(np.arange(20) == 3, np.nan, 1.0)))
