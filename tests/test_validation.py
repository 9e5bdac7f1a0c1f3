"""Bad input gets a clear Python exception, never a crash.

Each case asserts the exception type (ValueError for a wrong value, TypeError for a wrong kind of
object) and that the message names the argument and what was expected, then checks that the
interpreter still works by running a tiny predict. `test_battery_survives_in_a_subprocess` runs
every case again in a fresh interpreter, so that a hard crash (a segfault or an abort in C++)
shows up as a failed test instead of killing the test run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, losses, optimizers, regularizers

FEATURES, CLASSES, SAMPLES = 784, 10, 8
_rng = np.random.default_rng(0)
X = _rng.normal(size=(SAMPLES, FEATURES))
LABELS = np.arange(SAMPLES) % CLASSES
ONE_HOT = np.eye(CLASSES)[LABELS]


def classifier(loss: Any = "sparse_categorical_crossentropy", compiled: bool = True):
    """784 -> 10 softmax, built (Input) and, by default, compiled."""
    model = fm.Sequential(
        [layers.Input(shape=(FEATURES,)), layers.Dense(CLASSES, activation="softmax")], seed=0
    )
    if compiled:
        model.compile(optimizer="sgd", loss=loss)
    return model


def binary_classifier():
    model = fm.Sequential(
        [layers.Input(shape=(FEATURES,)), layers.Dense(1, activation="sigmoid")], seed=0
    )
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    return model


def unbuilt():
    """A model that does not know its input shape yet."""
    return fm.Sequential([layers.Dense(3)], seed=0)


def x_with(value: float) -> np.ndarray:
    x = X.copy()
    x[3, 5] = value
    return x


def fit(make: Callable[[], Any] = classifier, x: Any = X, y: Any = LABELS, **kwargs: Any):
    """A case that builds a fresh model with `make` and fits it."""
    kwargs.setdefault("verbose", 0)
    return lambda: make().fit(x, y, **kwargs)


def set_lr_nan():
    opt = optimizers.Adam()
    opt.learning_rate = float("nan")


def set_weights(make_weights: Callable[[list[np.ndarray]], list[Any]]):
    def run():
        model = classifier()
        model.set_weights(make_weights(model.get_weights()))

    return run


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[], Any]
    error: type[BaseException]
    match: str  # regex the message must contain: the argument and what was expected


def _u(pattern: str) -> str:
    """Escape a literal message fragment for `match`."""
    return re.escape(pattern)


CASES = [
    # -- shapes of x ----------------------------------------------------------------------------
    Case(
        "x-783-features-for-784",
        fit(x=X[:, :783]),
        ValueError,
        r"x: the model expects samples of shape \(784,\), got samples of shape \(783,\)",
    ),
    Case(
        "predict-x-783-features-for-784",
        lambda: classifier().predict(X[:, :783], verbose=0),
        ValueError,
        r"x: .*\(784,\).*\(783,\)",
    ),
    Case(
        "x-1d",
        lambda: classifier().predict(X[0], verbose=0),
        ValueError,
        r"x: expected a 2-D array of shape \(samples, 784\), got a 1-D array of shape \(784,\)",
    ),
    Case(
        "x-3d-for-flat-model",
        lambda: classifier().predict(X[:, :, None], verbose=0),
        ValueError,
        r"x: the model expects samples of shape \(784,\), got samples of shape \(784, 1\)",
    ),
    Case(
        "x-empty",
        fit(x=np.zeros((0, FEATURES)), y=np.zeros(0)),
        ValueError,
        r"x is empty: expected at least one sample, got shape \(0, 784\)",
    ),
    Case(
        "x-zero-features",
        lambda: unbuilt().predict(np.zeros((4, 0)), verbose=0),
        ValueError,
        r"x has no features: got shape \(4, 0\)",
    ),
    Case(
        "x-ragged-lists",
        lambda: classifier().predict([[1.0, 2.0], [3.0]], verbose=0),
        ValueError,
        r"x could not be converted to an array",
    ),
    Case("x-none", lambda: classifier().predict(None, verbose=0), ValueError, r"x is required"),
    # -- values of x and y ----------------------------------------------------------------------
    Case("x-nan", fit(x=x_with(np.nan)), ValueError, r"x contains NaN"),
    Case("x-inf", fit(x=x_with(np.inf)), ValueError, r"x contains NaN or infinity"),
    Case(
        "predict-x-minus-inf",
        lambda: classifier().predict(x_with(-np.inf), verbose=0),
        ValueError,
        r"x contains NaN or infinity",
    ),
    Case(
        "y-nan",
        fit(y=np.where(LABELS == 3, np.nan, LABELS)),
        ValueError,
        r"y contains NaN",
    ),
    Case(
        "x-object-dtype",
        lambda: classifier().predict(X.astype(object), verbose=0),
        TypeError,
        r"x must hold real numbers \(float, int or bool\), got object dtype",
    ),
    Case(
        "x-complex-dtype",
        lambda: classifier().predict(X.astype(np.complex128), verbose=0),
        TypeError,
        r"x must hold real numbers \(float, int or bool\), got complex dtype complex128",
    ),
    Case(
        "x-string",
        lambda: classifier().predict("0.5, 0.25", verbose=0),
        TypeError,
        r"x must be a numeric array, got str",
    ),
    Case(
        "x-string-array",
        lambda: classifier().predict(np.full((2, FEATURES), "a"), verbose=0),
        TypeError,
        r"x must hold real numbers .*got string dtype",
    ),
    Case(
        "y-string-array",
        fit(y=np.array(["cat"] * SAMPLES)),
        TypeError,
        r"y must hold real numbers .*got string dtype",
    ),
    Case(
        "x-and-y-lengths-differ",
        fit(y=LABELS[:7]),
        ValueError,
        r"x and y must have the same number of samples: x has 8, y has 7",
    ),
    # -- targets for the loss -------------------------------------------------------------------
    Case(
        "sparse-ce-label-10-of-10-classes",
        fit(y=np.where(LABELS == 3, 10, LABELS)),
        ValueError,
        r"y: sparse_categorical_crossentropy expects integer class labels in \[0, 10\) "
        r"\(the output layer has 10 units\), got 10",
    ),
    Case(
        "sparse-ce-label-minus-1",
        fit(y=np.where(LABELS == 3, -1, LABELS)),
        ValueError,
        r"y: sparse_categorical_crossentropy expects integer class labels in \[0, 10\).*got -1",
    ),
    Case(
        "sparse-ce-label-2.5",
        fit(y=np.where(LABELS == 3, 2.5, LABELS)),
        ValueError,
        r"y: sparse_categorical_crossentropy expects integer class labels in \[0, 10\).*got 2\.5",
    ),
    Case(
        "sparse-ce-one-hot-y",
        fit(y=ONE_HOT),
        ValueError,
        r"y: sparse_categorical_crossentropy expects integer class labels of shape \(8,\), "
        r"got shape \(8, 10\) \(one-hot targets need loss='categorical_crossentropy'\)",
    ),
    Case(
        "train-on-batch-label-out-of-range",
        lambda: classifier().train_on_batch(X, np.full(SAMPLES, 12)),
        ValueError,
        r"labels in \[0, 10\).*got 12",
    ),
    Case(
        "categorical-ce-integer-y",
        fit(lambda: classifier("categorical_crossentropy")),
        ValueError,
        r"y: categorical_crossentropy expects targets of shape \(8, 10\) .*got shape \(8, 1\); "
        r"these look like integer class labels \(0 to 7\): use loss='sparse_categorical_crossentropy'",
    ),
    Case(
        "binary-ce-integer-labels-for-10-outputs",
        fit(lambda: classifier("binary_crossentropy")),
        ValueError,
        r"y: binary_crossentropy expects targets of shape \(8, 10\).*these look like integer class "
        r"labels.*sparse_categorical_crossentropy.*to_categorical",
    ),
    Case(  # (a regression on counts: no hint about class labels)
        "mse-integer-targets-for-10-outputs",
        fit(lambda: classifier("mse")),
        ValueError,
        r"y: mean_squared_error expects targets of shape \(8, 10\) to match the output layer, "
        r"got shape \(8, 1\)$",
    ),
    Case(
        "predict-one-image-without-batch-axis",
        lambda: fm.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(2)]).predict(
            np.zeros((28, 28)), verbose=0
        ),
        ValueError,
        r"x: the model expects samples of shape \(28, 28\).*for one sample add a batch axis: "
        r"x\[None\]",
    ),
    Case(
        "binary-ce-plus-minus-one-labels",
        fit(binary_classifier, y=np.where(LABELS % 2 == 0, -1.0, 1.0)),
        ValueError,
        r"y: binary_crossentropy expects targets in \[0, 1\], got values from -1 to 1: for labels "
        r"in \{-1, \+1\} pass \(y \+ 1\) / 2, or use loss='logistic'",
    ),
    Case(
        "optimizer-lr-spelling",
        lambda: optimizers.Adam(lr=0.01),
        TypeError,
        r"Adam got unexpected arguments: \['lr'\] \(`lr` is called `learning_rate`",
    ),
    Case(
        "binary-ce-y-above-1",
        fit(binary_classifier, y=np.full(SAMPLES, 2.0)),
        ValueError,
        r"y: binary_crossentropy expects targets in \[0, 1\]",
    ),
    Case(
        "binary-ce-y-below-0",
        fit(binary_classifier, y=np.full(SAMPLES, -0.5)),
        ValueError,
        r"y: binary_crossentropy expects targets in \[0, 1\]",
    ),
    Case(
        "sparse-ce-with-one-output-unit",
        lambda: fm.Sequential([layers.Input(shape=(3,)), layers.Dense(1)], seed=0).compile(
            optimizer="sgd", loss="sparse_categorical_crossentropy"
        ),
        ValueError,
        r"sparse_categorical_crossentropy needs an output layer with >= 2 units, got 1",
    ),
    # -- fit / evaluate / predict arguments -----------------------------------------------------
    Case(
        "batch-size-0", fit(batch_size=0), ValueError, r"batch_size must be an integer >= 1, got 0"
    ),
    Case("batch-size-minus-1", fit(batch_size=-1), ValueError, r"batch_size .*>= 1, got -1"),
    Case("batch-size-2.5", fit(batch_size=2.5), TypeError, r"batch_size .*>= 1, got 2\.5"),
    Case("batch-size-true", fit(batch_size=True), TypeError, r"batch_size .*>= 1, got True"),
    Case(
        "predict-batch-size-0",
        lambda: classifier().predict(X, batch_size=0, verbose=0),
        ValueError,
        r"batch_size must be an integer >= 1, got 0",
    ),
    Case(
        "evaluate-batch-size-0",
        lambda: classifier().evaluate(X, LABELS, batch_size=0, verbose=0),
        ValueError,
        r"batch_size must be an integer >= 1, got 0",
    ),
    Case("epochs-minus-1", fit(epochs=-1), ValueError, r"epochs must be an integer >= 0, got -1"),
    Case("epochs-1.5", fit(epochs=1.5), TypeError, r"epochs must be an integer >= 0, got 1\.5"),
    Case(
        "initial-epoch-minus-1",
        fit(initial_epoch=-1),
        ValueError,
        r"initial_epoch must be an integer >= 0, got -1",
    ),
    Case("verbose-3", fit(verbose=3), ValueError, r"verbose must be 'auto', 0, 1 or 2, got 3"),
    Case(
        "validation-split-1.0",
        fit(validation_split=1.0),
        ValueError,
        r"validation_split must be a number in \[0, 1\), got 1\.0",
    ),
    Case(
        "validation-split-minus-0.1",
        fit(validation_split=-0.1),
        ValueError,
        r"validation_split must be a number in \[0, 1\), got -0\.1",
    ),
    Case(
        "validation-data-not-a-pair",
        fit(validation_data=X),
        ValueError,
        r"validation_data must be a tuple \(x_val, y_val\)",
    ),
    Case(
        "validation-data-quadruple",
        fit(validation_data=(X, LABELS, LABELS, LABELS)),
        ValueError,
        r"validation_data must be a tuple \(x_val, y_val\) or \(x_val, y_val, sample_weight\)",
    ),
    Case(
        "validation-data-wrong-features",
        fit(validation_data=(X[:, :700], LABELS)),
        ValueError,
        r"validation_data: the model expects samples of shape \(784,\), got samples of shape \(700,\)",
    ),
    Case("shuffle-string", fit(shuffle="yes"), TypeError, r"shuffle must be True or False"),
    Case(
        "sample-weight-wrong-length",
        fit(sample_weight=np.ones(SAMPLES + 1)),
        ValueError,
        rf"sample_weight: expected one weight per sample, shape \({SAMPLES},\)",
    ),
    Case(
        "class-weight-not-a-dict",
        fit(class_weight=[1.0, 2.0]),
        TypeError,
        r"class_weight must be a dict \{class index: weight\}",
    ),
    Case("fit-without-y", fit(y=None), ValueError, r"fit needs targets y"),
    # -- order of calls -------------------------------------------------------------------------
    Case(
        "fit-before-compile",
        fit(lambda: classifier(compiled=False)),
        ValueError,
        r"fit: call model\.compile\(optimizer=\.\.\., loss=\.\.\.\) first",
    ),
    Case(
        "evaluate-before-compile",
        lambda: classifier(compiled=False).evaluate(X, LABELS, verbose=0),
        ValueError,
        r"evaluate: call model\.compile\(optimizer=\.\.\., loss=\.\.\.\) first",
    ),
    Case(
        "train-on-batch-before-compile",
        lambda: classifier(compiled=False).train_on_batch(X, LABELS),
        ValueError,
        r"train_on_batch: call model\.compile\(",
    ),
    Case(
        "count-params-before-shape-known",
        lambda: unbuilt().count_params(),
        ValueError,
        r"count_params: the model is not built yet; give the first layer input_shape=",
    ),
    Case(
        "get-weights-before-shape-known",
        lambda: unbuilt().get_weights(),
        ValueError,
        r"get_weights: the model is not built yet; .*layers\.Input\(shape=\.\.\.\)",
    ),
    Case(
        "set-weights-before-shape-known",
        lambda: unbuilt().set_weights([np.zeros((2, 3)), np.zeros(3)]),
        ValueError,
        r"set_weights: the model is not built yet",
    ),
    Case(
        "output-shape-before-shape-known",
        lambda: unbuilt().output_shape,
        ValueError,
        r"output_shape: the model is not built yet",
    ),
    Case(
        "predict-on-model-without-layers",
        lambda: fm.Sequential(seed=0).predict(X, verbose=0),
        ValueError,
        r"the model has no layers",
    ),
    # -- set_weights ----------------------------------------------------------------------------
    Case(
        "set-weights-wrong-count",
        set_weights(lambda w: w[:1]),
        ValueError,
        r"set_weights expects 2 arrays \(see get_weights\(\)\), got 1",
    ),
    Case(
        "set-weights-wrong-shape",
        set_weights(lambda w: [w[0][:-1], w[1]]),
        ValueError,
        r"weights\[0\] of layer '.*': expected shape \(784, 10\), got \(783, 10\)",
    ),
    Case(
        "set-weights-not-a-list",
        set_weights(lambda w: w[0]),
        TypeError,
        r"weights must be a list of arrays, got ndarray",
    ),
    Case(
        "set-weights-string",
        set_weights(lambda w: [w[0], "zeros"]),
        TypeError,
        r"weights\[1\] of layer '.*' must be a numeric array, got str",
    ),
    # -- layers ---------------------------------------------------------------------------------
    Case(
        "dense-units-0",
        lambda: layers.Dense(0),
        ValueError,
        r"Dense: units must be a positive integer, got 0",
    ),
    Case(
        "dense-units-minus-3",
        lambda: layers.Dense(-3),
        ValueError,
        r"units .*positive integer, got -3",
    ),
    Case(
        "dense-units-2.5",
        lambda: layers.Dense(2.5),
        ValueError,
        r"units .*positive integer, got 2\.5",
    ),
    Case(
        "dense-units-string",
        lambda: layers.Dense("3"),
        ValueError,
        r"units .*positive integer, got '3'",
    ),
    Case(
        "dropout-rate-1.0",
        lambda: layers.Dropout(1.0),
        ValueError,
        r"Dropout: rate must be a number in \[0, 1\), got 1\.0",
    ),
    Case(
        "dropout-rate-minus-0.1",
        lambda: layers.Dropout(-0.1),
        ValueError,
        r"Dropout: rate must be a number in \[0, 1\), got -0\.1",
    ),
    Case(
        "input-without-shape",
        lambda: layers.Input(),
        ValueError,
        r"Input needs shape=, the shape of one sample, e\.g\. shape=\(784,\)",
    ),
    Case(
        "input-shape-with-zero",
        lambda: layers.Input(shape=(0,)),
        ValueError,
        r"input_shape must be a non-empty tuple of positive integers, got \(0,\)",
    ),
    Case(
        "input-shape-none-dimension",
        lambda: layers.Input(shape=(None,)),
        ValueError,
        r"input_shape must be a non-empty tuple of positive integers, got \(None,\)",
    ),
    Case(
        "dense-on-2d-samples-without-flatten",
        lambda: fm.Sequential([layers.Input(shape=(28, 28)), layers.Dense(3)], seed=0).predict(
            np.zeros((2, 28, 28)), verbose=0
        ),
        ValueError,
        r"expects flat samples \(features,\), got samples of shape \(28, 28\); "
        r"add layers\.Flatten\(\) before it",
    ),
    Case(
        "unknown-activation",
        lambda: layers.Dense(3, activation="relux"),
        ValueError,
        r"Unknown activation 'relux'\. Expected one of: .*\brelu\b",
    ),
    Case(
        "activation-lambda",
        lambda: layers.Dense(3, activation=lambda z: z),
        TypeError,
        r"activation .* is not one the C\+\+ engine implements; pass one of: .*\brelu\b",
    ),
    Case(
        "activation-int",
        lambda: layers.Dense(3, activation=3),
        TypeError,
        r"activation must be a string, a function of fastmlp\.activations or None, got int",
    ),
    Case(
        "regularizer-negative",
        lambda: regularizers.L2(-0.1),
        ValueError,
        r"`l2`: expected a finite, non-negative float\. Received: l2=-0\.1",
    ),
    Case(
        "dense-regularizer-negative-l1",
        lambda: layers.Dense(3, kernel_regularizer=regularizers.L1L2(l1=-1.0)),
        ValueError,
        r"`l1`: expected a finite, non-negative float\. Received: l1=-1\.0",
    ),
    # -- compile --------------------------------------------------------------------------------
    Case(
        "unknown-loss",
        lambda: classifier(compiled=False).compile(optimizer="sgd", loss="msex"),
        ValueError,
        r"Unknown loss 'msex'\. Expected one of: .*\bmse\b",
    ),
    Case(
        "loss-lambda",
        lambda: classifier(compiled=False).compile(optimizer="sgd", loss=lambda t, p: 0.0),
        TypeError,
        r"loss must be a name, a fastmlp\.losses\.Loss or one of its functions, got function",
    ),
    Case(
        "loss-missing",
        lambda: classifier(compiled=False).compile(optimizer="sgd"),
        ValueError,
        r"loss is required",
    ),
    Case(
        "unknown-optimizer",
        lambda: classifier(compiled=False).compile(optimizer="sgdx", loss="mse"),
        ValueError,
        r"Unknown optimizer 'sgdx'\. Expected one of: sgd, adam",
    ),
    Case(
        "optimizer-int",
        lambda: classifier(compiled=False).compile(optimizer=3, loss="mse"),
        TypeError,
        r"optimizer must be a name or a fastmlp\.optimizers\.Optimizer, got int",
    ),
    Case(
        "unknown-metric",
        lambda: classifier(compiled=False).compile("sgd", "mse", metrics=["accurcy"]),
        ValueError,
        r"Unknown metric 'accurcy'\. Expected one of: accuracy",
    ),
    Case(
        "metrics-string-not-list",
        lambda: classifier(compiled=False).compile("sgd", "mse", metrics="accuracy"),
        TypeError,
        r"metrics must be a list, e\.g\. metrics=\['accuracy'\]",
    ),
    Case(
        "metrics-duplicate-names",
        lambda: classifier(compiled=False).compile("sgd", "mse", metrics=["mae", "mae"]),
        ValueError,
        r"metric names must be unique",
    ),
    # -- optimizers -----------------------------------------------------------------------------
    Case(
        "optimizer-negative-learning-rate",
        lambda: optimizers.SGD(learning_rate=-0.1),
        ValueError,
        r"learning_rate must be >= 0\.0, got -0\.1",
    ),
    Case(
        "adam-beta-1-equal-1",
        lambda: optimizers.Adam(beta_1=1.0),
        ValueError,
        r"beta_1 must be in \[0\.0, 1\.0\), got 1\.0",
    ),
    Case(
        "optimizer-learning-rate-set-to-nan",
        set_lr_nan,
        ValueError,
        r"learning_rate must be a finite number, got nan",
    ),
    Case(
        "optimizer-learning-rate-function",
        lambda: optimizers.Adam(learning_rate=lambda step: 0.1),
        TypeError,
        r"learning_rate must be a float or a fastmlp.optimizers.schedules.LearningRateSchedule",
    ),
    Case(
        "optimizer-clipnorm-and-global-clipnorm",
        lambda: optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0),
        ValueError,
        r"pass at most one of clipnorm and global_clipnorm",
    ),
    Case(
        "model-dtype-float16",
        lambda: fm.Sequential(dtype="float16"),
        ValueError,
        r"dtype must be 'float32' or 'float64', got 'float16'",
    ),
    Case(
        "loss-label-smoothing-1",
        lambda: losses.CategoricalCrossentropy(label_smoothing=1.0),
        ValueError,
        r"label_smoothing must be in \[0, 1\), got 1\.0",
    ),
]


def interpreter_still_fine() -> None:
    """A tiny model still predicts: nothing was left broken by the error."""
    model = fm.Sequential([layers.Input(shape=(2,)), layers.Dense(1)], seed=0)
    out = model.predict(np.ones((3, 2)), verbose=0)
    assert out.shape == (3, 1)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_raises_clear_error(case: Case) -> None:
    with pytest.raises(case.error, match=case.match):
        case.run()
    interpreter_still_fine()


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


# -- a failed call leaves the model as it was ---------------------------------------------------


def two_layer_model():
    model = fm.Sequential(
        [layers.Input(shape=(4,)), layers.Dense(3, activation="relu"), layers.Dense(2)],
        seed=0,
        dtype="float64",
    )
    return model


def _bad_last(weights: list[np.ndarray], value: Any) -> list[Any]:
    new = [w + 1.0 for w in weights]  # valid new values for every array but the last
    new[-1] = value
    return new


@pytest.mark.parametrize(
    ("make_bad", "error"),
    [
        pytest.param(lambda w: [w_ + 1.0 for w_ in w[:3]], ValueError, id="too-few-arrays"),
        pytest.param(lambda w: [*w, w[-1]], ValueError, id="too-many-arrays"),
        pytest.param(lambda w: _bad_last(w, np.zeros(3)), ValueError, id="last-wrong-shape"),
        pytest.param(lambda w: _bad_last(w, np.array([0j, 1j])), TypeError, id="last-complex"),
        pytest.param(lambda w: _bad_last(w, [[0.0], [0.0, 1.0]]), ValueError, id="last-ragged"),
        pytest.param(lambda w: _bad_last(w, "zeros"), TypeError, id="last-string"),
    ],
)
def test_failed_set_weights_leaves_weights_unchanged(make_bad, error) -> None:
    model = two_layer_model()
    before = model.get_weights()
    with pytest.raises(error, match=r"weights|arrays"):
        model.set_weights(make_bad(before))
    after = model.get_weights()
    assert len(after) == len(before)
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)
    interpreter_still_fine()


def test_failed_layer_set_weights_leaves_weights_unchanged() -> None:
    model = two_layer_model()
    layer = model.layers[0]
    kernel, bias = layer.get_weights()
    with pytest.raises(ValueError, match=r"weights\[1\] of layer .* expected shape \(3,\)"):
        layer.set_weights([kernel + 1.0, np.zeros(4)])
    new_kernel, new_bias = layer.get_weights()
    np.testing.assert_array_equal(new_kernel, kernel)
    np.testing.assert_array_equal(new_bias, bias)


def test_summary_before_shape_known_prints_unbuilt_table() -> None:
    # As Keras 3: summary() of an unbuilt model prints the layers with "(unbuilt)", no error.
    lines: list[str] = []
    model = unbuilt()
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "unbuilt" in text
    assert "Total params: 0" in text
    interpreter_still_fine()


def test_failed_compile_keeps_previous_configuration() -> None:
    model = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(1)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r">= 2 units"):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert isinstance(model.loss, losses.MeanSquaredError)
    assert isinstance(model.optimizer, optimizers.SGD)


def test_fit_keeps_refusing_an_invalid_loss() -> None:
    model = fm.Sequential([layers.Dense(1)], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = np.ones((6, 3)), np.zeros(6)
    with pytest.raises(ValueError, match=r">= 2 units"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r">= 2 units"):
        model.fit(x, y, verbose=0)


def test_label_smoothing_string_names_the_argument() -> None:
    with pytest.raises(TypeError, match=r"label_smoothing"):
        losses.CategoricalCrossentropy(label_smoothing="0.1")


# -- the whole battery in a fresh interpreter ----------------------------------------------------


def run_battery() -> int:
    """Run every case; raise AssertionError on a wrong or missing error. Used by the subprocess."""
    for case in CASES:
        try:
            case.run()
        except case.error as err:
            if not re.search(case.match, str(err)):
                raise AssertionError(f"{case.id}: message {str(err)!r} !~ {case.match!r}") from err
        else:
            raise AssertionError(f"{case.id}: no {case.error.__name__} raised")
        interpreter_still_fine()
    return len(CASES)


def test_battery_survives_in_a_subprocess() -> None:
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(fm.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    script = (
        f"import sys; sys.path.insert(0, {tests_dir!r}); import test_validation as t; "
        "print('OK', t.run_battery())"
    )
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip().splitlines()[-1] == f"OK {len(CASES)}"


@pytest.mark.parametrize("device", ["cpu", "numpy"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("first", ["dense", "zero_dense", "activation", "dropout"])
def test_predict_refuses_nan_and_infinity_found_by_the_engine(device, bad, first):
    import fastmlp as fm

    head = {
        "dense": [fm.layers.Dense(4)],
        "zero_dense": [fm.layers.Dense(4, kernel_initializer="zeros")],  # x W = 0 * inf = NaN
        "activation": [fm.layers.Activation("tanh"), fm.layers.Dense(4)],
        "dropout": [fm.layers.Dropout(0.5), fm.layers.Dense(4)],
    }[first]
    model = fm.Sequential([fm.layers.Input(shape=(3,)), *head, fm.layers.Dense(2)], device=device)
    x = np.ones((3000, 3), dtype=np.float32)  # three of the engine's 1024-row blocks
    x[2500, 1] = bad
    with pytest.raises(ValueError, match="x contains NaN or infinity"):
        model.predict(x, verbose=0)
    x[2500, 1] = 1.0
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_predict_accepts_finite_inputs_whose_products_overflow():
    import fastmlp as fm

    model = fm.Sequential(
        [fm.layers.Input(shape=(2,)), fm.layers.Dense(3, kernel_initializer="ones")]
    )
    x = np.full((4, 2), 3e38, dtype=np.float32)  # finite, but x W overflows float32
    out = model.predict(x, verbose=0)
    assert np.isinf(out).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_finite_check_of_large_arrays_sees_every_element(dtype, bad):
    from fastmlp._validation import _FINITE_CHUNK, all_finite

    size = 5 * (3 * _FINITE_CHUNK // 5 + 7)  # rows of 5; three chunks and a partial one
    x = np.ones(size, dtype=dtype)
    assert all_finite(x.reshape(-1, 5))
    for at in (0, _FINITE_CHUNK - 1, _FINITE_CHUNK, 2 * _FINITE_CHUNK + 1, size - 1):
        x[at] = bad
        assert not all_finite(x.reshape(-1, 5)), at
        strided = x.reshape(-1, 5)[:, ::2]  # not contiguous: checked whole
        assert all_finite(strided) == bool(np.isfinite(strided).all())
        x[at] = 1.0
    assert all_finite(x.reshape(-1, 5))


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, ">f4"])
def test_the_engines_finite_check_sees_every_element_in_every_thread(threads, dtype):
    # Arrays of a million values and more are split over the threads, each scanned in blocks of
    # 65,536: a bad value at every edge of a part or block, against NumPy's own check.
    from fastmlp import _core
    from fastmlp._validation import all_finite

    size = 5 * ((3 << 20) // 5 + 1)
    x = np.ones(size, dtype=dtype)
    saved = _core.get_num_threads()
    _core.set_num_threads(threads)
    try:
        assert all_finite(x.reshape(-1, 5)) and all_finite(x)
        edges = [1, 65535, 65536, size // 3, size // 2 - 1, size // 2, size // 2 + 65536, size - 1]
        for at in edges:
            for bad in (np.nan, np.inf, -np.inf):
                x[at] = bad
                assert not all_finite(x), (at, bad)
                assert not all_finite(x.reshape(-1, 5)), (at, bad)
            x[at] = np.finfo(x.dtype).max  # the largest finite value and the smallest subnormal
            x[at - 1] = np.finfo(x.dtype).smallest_subnormal
            assert all_finite(x) and bool(np.isfinite(x).all())
            x[at], x[at - 1] = 1.0, 1.0
    finally:
        _core.set_num_threads(saved)


def test_set_weights_takes_nan_with_a_warning_as_keras():
    # Not bad input but a state training can reach: get_weights -> set_weights must round-trip
    # it (Keras takes it silently); the warning names the array and points at the user's line.
    model = classifier()
    weights = model.get_weights()
    weights[1][2], weights[1][3] = np.nan, -np.inf
    with pytest.warns(RuntimeWarning, match=r"weights\[1\] of layer '.*' contain NaN") as record:
        model.set_weights(weights)
    assert record[0].filename == __file__
    after = model.get_weights()
    assert np.isnan(after[1][2]) and after[1][3] == -np.inf
    assert np.isfinite(np.delete(after[1], [2, 3])).all()
    np.testing.assert_array_equal(after[0], weights[0])


@pytest.mark.parametrize("kind", ["csr_matrix", "csc_matrix", "coo_array"])
def test_scipy_sparse_inputs_train_and_predict_as_their_dense_arrays(kind):
    # As in Keras 3, a SciPy sparse matrix is an input: the same numbers as its dense array.
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    x = rng.random((64, 12)) * (rng.random((64, 12)) < 0.2)
    y = (x.sum(axis=1) > np.median(x.sum(axis=1))).astype(int)

    def run(inputs):
        model = fm.Sequential(
            [layers.Input(shape=(12,)), layers.Dense(4), layers.Dense(1, activation="sigmoid")],
            seed=0,
        )
        model.compile(optimizer="adam", loss="binary_crossentropy")
        history = model.fit(inputs, y, epochs=2, verbose=0, validation_data=(inputs, y))
        return model.predict(inputs, verbose=0), model.evaluate(inputs, y, verbose=0), history

    dense, converted = run(x), run(getattr(sparse, kind)(x))
    np.testing.assert_array_equal(converted[0], dense[0])
    assert converted[1] == dense[1] and converted[2].history == dense[2].history


def test_a_scipy_sparse_input_too_large_to_densify_says_so():
    sparse = pytest.importorskip("scipy.sparse")
    huge = sparse.csr_matrix((10**7, 10**7))  # 800 TB as a dense float64 array
    with pytest.raises(MemoryError, match=r"x: a SciPy sparse matrix of shape \(10000000, "):
        classifier().predict(huge, verbose=0)
    interpreter_still_fine()


def test_dtype_takes_keras_policies_and_a_layer_of_another_dtype_warns():
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float64"}}
    assert fm.Sequential(dtype=policy).dtype == np.float64
    assert fm.Sequential(dtype=np.float32).dtype == np.float32
    model = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(2, dtype="float64")])
    with pytest.warns(
        UserWarning, match=r"layer 'dense.*' asks for dtype float64; .* float32"
    ) as w:
        model.build()
    assert w[0].filename == __file__
    assert model.get_weights()[0].dtype == np.float32


def _sparse_rows(rng: np.random.Generator, n: int, density: float) -> np.ndarray:
    """MNIST-like rows: mostly zeros (the engine's sparse first layer), else uniform [0, 1)."""
    x = rng.random((n, FEATURES)).astype(np.float32)
    x[rng.random((n, FEATURES)) > density] = 0.0
    return x


def _state(model: Any) -> tuple[Any, ...]:
    engine = model._engine
    it, slots, scalars = engine.get_optimizer_state()
    return (
        [w.copy() for w in model.get_weights()],
        it,
        [s.copy() for s in slots],
        scalars,
        engine.get_rng_state(),
    )


def _assert_same_state(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    for wa, wb in zip(a[0], b[0]):
        np.testing.assert_array_equal(wa, wb)
    assert a[1] == b[1] and a[3] == b[3] and a[4] == b[4]
    assert len(a[2]) == len(b[2])
    for sa, sb in zip(a[2], b[2]):
        np.testing.assert_array_equal(sa, sb)


@pytest.mark.parametrize("inputs", ["sparse", "dense"])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("verbose", [0, 1])  # (1: one engine call per batch)
@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_fit_finds_a_bad_value_mid_epoch_and_puts_the_model_back(
    inputs, shuffle, verbose, bad, capsys
):
    # Without callbacks, fit leaves x's check to the engine, batch by batch in the first epoch
    # (the steps before the bad row are done by then): the model must come back exactly as it
    # was before the call, trained before or not, and train on as if the call had not happened.
    rng = np.random.default_rng(7)
    n = 1200
    # (float32: the model's dtype, so that x is used as it is: a converted x is checked on its way)
    x = (
        _sparse_rows(rng, n, 0.15)
        if inputs == "sparse"
        else rng.normal(size=(n, FEATURES)).astype(np.float32)
    )
    y = rng.integers(0, CLASSES, n)

    def model() -> Any:
        m = fm.Sequential(
            [
                layers.Input(shape=(FEATURES,)),
                layers.Dense(64, "relu"),
                layers.Dense(CLASSES, "softmax"),
            ],
            seed=3,
        )
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return m

    for trained_before in (False, True):
        m, twin = model(), model()
        if trained_before:
            for each in (m, twin):
                each.fit(x[:200], y[:200], batch_size=32, epochs=1, verbose=0)
        before = _state(m)
        bad_x = x.copy()
        bad_x[n - 5, 17] = bad  # in the last batch when not shuffled
        with pytest.raises(ValueError, match="x contains NaN or infinity"):
            m.fit(bad_x, y, batch_size=32, epochs=3, shuffle=shuffle, verbose=verbose)
        _assert_same_state(_state(m), before)
        h1 = m.fit(x, y, batch_size=32, epochs=2, shuffle=shuffle, verbose=0)
        assert m._engine.last_batch_sparse == (inputs == "sparse")  # (which check ran)
        h2 = twin.fit(x, y, batch_size=32, epochs=2, shuffle=shuffle, verbose=0)
        assert h1.history["loss"] == h2.history["loss"]
        _assert_same_state(_state(m), _state(twin))
    capsys.readouterr()


def test_fit_checks_x_itself_where_it_is_not_left_to_the_engine():
    # With a callback, or rows held out by validation_split, x is checked before any step.
    x, y = X.copy(), LABELS
    x[SAMPLES - 1, 0] = np.nan
    m = classifier()
    before = _state(m)
    seen = []
    cb = fm.callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs: seen.append(batch))
    with pytest.raises(ValueError, match="x contains NaN or infinity"):
        m.fit(x, y, batch_size=2, epochs=1, callbacks=[cb], verbose=0)
    assert seen == []  # refused before the first batch
    with pytest.raises(ValueError, match="x contains NaN or infinity"):
        m.fit(
            x, y, batch_size=2, epochs=1, validation_split=0.25, verbose=0
        )  # (the bad row held out)
    with pytest.raises(ValueError, match="x contains NaN or infinity"):
        m.fit(x, y, epochs=0, verbose=0)  # no epoch to check it in
    _assert_same_state(_state(m), before)
