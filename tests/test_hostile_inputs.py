"""More hostile and careless inputs over the public API, beyond tests/test_validation.py.

`test_validation.py` holds the first ~90 cases (shapes, NaN, dtypes, labels, call order, ...); this
table adds the ones it lacks: other dtypes (datetime, structured, bytes, float64 values beyond
float32), wrong kinds of y for each loss, NaN in validation data, absurd and non-integer numbers
for every numeric argument, the rest of the call-order and set_weights mistakes, and the layer and
optimizer arguments not covered there. Each raises ValueError or TypeError (NotImplementedError
for a Keras feature fastmlp lacks) with a message naming the argument.

Inputs that are odd but valid must WORK and give the same numbers as a clean C-contiguous copy:
Fortran-ordered, strided, negative-stride, broadcast and read-only views, memory maps, lists,
small integer and float16 dtypes, and batch sizes far beyond the sample count (10**9 and 2**63 are
one batch; the engine must not allocate 10**9 rows, which the RSS check makes sure of).

The whole table also runs in a fresh interpreter, so a crash in C++ fails a test instead of
killing the run. A case may carry `bug=` to document a library bug as a strict xfail until it is
fixed. The five bugs it found first are fixed: float64 values beyond float32's range became inf
(in x and in set_weights), batch_size=2**63 overflowed int64, strings were accepted as callbacks,
an unbuilt layer's set_weights said "expects 0 weight arrays", get_layer raised a bare IndexError.
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
from fastmlp import callbacks, layers, losses, metrics, optimizers

FEATURES, CLASSES, SAMPLES = 4, 3, 12
_rng = np.random.default_rng(1)
X = _rng.normal(size=(SAMPLES, FEATURES))
LABELS = np.arange(SAMPLES) % CLASSES


def classifier(compiled: bool = True, loss: str = "sparse_categorical_crossentropy"):
    """4 -> 3 softmax, built and (by default) compiled with SGD."""
    model = fm.Sequential(
        [layers.Input(shape=(FEATURES,)), layers.Dense(CLASSES, activation="softmax")], seed=0
    )
    if compiled:
        model.compile(optimizer="sgd", loss=loss)
    return model


def with_output(units: int, activation: str | None, loss: str):
    """4 -> units, compiled with `loss`."""
    model = fm.Sequential(
        [layers.Input(shape=(FEATURES,)), layers.Dense(units, activation=activation)], seed=0
    )
    model.compile(optimizer="sgd", loss=loss)
    return model


def fit(make: Callable[[], Any] = classifier, x: Any = X, y: Any = LABELS, **kwargs: Any):
    kwargs.setdefault("verbose", 0)
    return lambda: make().fit(x, y, **kwargs)


def set_weights(change: Callable[[list[np.ndarray]], Any]):
    def run():
        model = classifier()
        model.set_weights(change(model.get_weights()))

    return run


def popped_empty():
    """Predict with a model whose only layer was popped."""
    model = classifier()
    model.pop()
    return model.predict(X, verbose=0)


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[], Any]
    error: type[BaseException] | tuple[type[BaseException], ...]
    match: str
    bug: str = ""  # a library bug: the case is a strict xfail until it is fixed


CASES = [
    # -- dtypes and kinds of x the first table lacks --------------------------------------------
    Case(
        "x-datetime64",
        lambda: classifier().predict(np.zeros((2, FEATURES), "datetime64[s]"), verbose=0),
        TypeError,
        r"x must hold real numbers .*got datetime64",
    ),
    Case(
        "x-structured",
        lambda: classifier().predict(np.zeros(2, dtype=[("a", "f8")] * 1), verbose=0),
        TypeError,
        r"x must hold real numbers .*got structured dtype",
    ),
    Case(
        "x-bytes",
        lambda: classifier().predict(b"\x00" * 32, verbose=0),
        TypeError,
        r"x must be a numeric array, got bytes",
    ),
    Case(
        "x-dict",
        lambda: classifier().predict({"a": X}, verbose=0),
        TypeError,
        r"x must hold real numbers .*got object dtype",
    ),
    Case(
        "x-generator",
        lambda: classifier().predict((row for row in X), verbose=0),
        TypeError,
        r"x: generators, iterators and datasets \(generator\) are not supported",
    ),
    Case(
        "x-numpy-scalar",
        lambda: classifier().predict(np.float64(1.0), verbose=0),
        ValueError,
        r"x must be an array of samples, got a scalar",
    ),
    Case(
        "x-float64-beyond-float32-range",
        lambda: classifier().predict(np.full((2, FEATURES), 1e300), verbose=0),
        ValueError,
        r"x holds values too large for float32 \(largest 3\.4e\+38\); rescale it or use",
    ),
    # -- y of the wrong kind --------------------------------------------------------------------
    Case(
        "y-complex",
        fit(y=LABELS.astype(np.complex64)),
        TypeError,
        r"y must hold real numbers .*got complex dtype",
    ),
    Case("y-object", fit(y=LABELS.astype(object)), TypeError, r"y must hold real numbers .*object"),
    Case(
        "x-generator-of-batches",
        fit(x=((X[i : i + 8], LABELS[i : i + 8]) for i in range(0, SAMPLES, 8)), y=None),
        TypeError,
        r"x: generators, iterators and datasets \(generator\) are not supported; pass all",
    ),
    Case(
        "predict-iterator-of-rows",
        lambda: classifier().predict(iter(X), verbose=0),
        TypeError,
        r"x: generators, iterators and datasets \(\w*iterator\) are not supported",
    ),
    Case(
        "y-inf",
        fit(lambda: with_output(2, None, "mse"), y=np.full((SAMPLES, 2), np.inf)),
        ValueError,
        r"y contains NaN or infinity",
    ),
    Case("y-scalar", fit(y=1.0), ValueError, r"y must be an array of samples, got a scalar"),
    Case(
        "y-ragged-lists",
        fit(y=[[0], [1, 2]] * (SAMPLES // 2)),
        ValueError,
        r"y could not be converted to an array",
    ),
    Case(
        "sparse-ce-label-1e300",
        fit(y=np.full(SAMPLES, 1e300)),
        ValueError,
        r"y: sparse_categorical_crossentropy expects integer class labels in \[0, 3\)",
    ),
    Case(
        "mse-y-3d",
        fit(lambda: with_output(2, None, "mse"), y=np.zeros((SAMPLES, 2, 1))),
        ValueError,
        r"y: mean_squared_error expects targets of shape \(12, 2\) .*got shape \(12, 2, 1\)",
    ),
    Case(
        "mse-y-wrong-width",
        fit(lambda: with_output(2, None, "mse"), y=np.zeros((SAMPLES, 3))),
        ValueError,
        r"y: mean_squared_error expects targets of shape \(12, 2\)",
    ),
    Case(
        "categorical-ce-one-hot-too-wide",
        fit(lambda: classifier(loss="categorical_crossentropy"), y=np.eye(4)[LABELS]),
        ValueError,
        r"y: categorical_crossentropy expects targets of shape \(12, 3\) .*got shape \(12, 4\)",
    ),
    Case(
        "binary-ce-y-wrong-width",
        fit(lambda: with_output(1, "sigmoid", "binary_crossentropy"), y=np.zeros((SAMPLES, 3))),
        ValueError,
        r"y: binary_crossentropy expects targets of shape \(12, 1\)",
    ),
    Case(
        "hinge-labels-0-and-2",
        fit(lambda: with_output(1, None, "hinge"), y=(LABELS > 0) * 2.0),
        ValueError,
        r"y: hinge expects labels in \{-1, \+1\}",
    ),
    Case(
        "validation-data-x-nan",
        fit(validation_data=(np.full((2, FEATURES), np.nan), LABELS[:2])),
        ValueError,
        r"validation_data contains NaN",
    ),
    Case(
        "validation-data-y-short",
        fit(validation_data=(X, LABELS[:3])),
        ValueError,
        r"x and y of validation_data must have the same number of samples",
    ),
    Case(
        "validation-data-label-out-of-range",
        fit(validation_data=(X, LABELS + 5)),
        ValueError,
        r"y of validation_data: sparse_categorical_crossentropy expects .*\[0, 3\)",
    ),
    # -- numbers that are not counts ------------------------------------------------------------
    Case("epochs-string", fit(epochs="3"), TypeError, r"epochs must be an integer >= 0, got '3'"),
    Case("epochs-nan", fit(epochs=float("nan")), TypeError, r"epochs must be an integer .*nan"),
    Case("epochs-inf", fit(epochs=float("inf")), TypeError, r"epochs must be an integer .*inf"),
    Case("epochs-true", fit(epochs=True), TypeError, r"epochs must be an integer >= 0, got True"),
    Case(
        "initial-epoch-0.5",
        fit(initial_epoch=0.5),
        TypeError,
        r"initial_epoch must be an integer >= 0, got 0\.5",
    ),
    Case("batch-size-string", fit(batch_size="32"), TypeError, r"batch_size .*got '32'"),
    Case(
        "validation-freq-0",
        fit(validation_data=(X, LABELS), validation_freq=0),
        ValueError,
        r"validation_freq must be an integer >= 1, got 0",
    ),
    Case(
        "validation-batch-size-0",
        fit(validation_data=(X, LABELS), validation_batch_size=0),
        ValueError,
        r"batch_size must be an integer >= 1, got 0",
    ),
    Case(
        "validation-split-string",
        fit(validation_split="0.1"),
        ValueError,
        r"validation_split must be a number in \[0, 1\), got '0\.1'",
    ),
    Case("verbose-string", fit(verbose="loud"), ValueError, r"verbose must be 'auto', 0, 1 or 2"),
    Case(
        "steps-per-epoch",
        fit(steps_per_epoch=3),
        NotImplementedError,
        r"steps_per_epoch is not supported",
    ),
    Case(
        "layer-trainable-string",
        lambda: setattr(classifier().layers[0], "trainable", "no"),
        TypeError,
        r"trainable must be True or False, got 'no'",
    ),
    Case(
        "sequential-trainable-string",
        lambda: fm.Sequential([layers.Dense(2)], trainable="False"),
        TypeError,
        r"trainable must be True or False, got 'False'",
    ),
    Case(
        "callbacks-of-strings",
        fit(callbacks=["early_stopping"]),
        TypeError,
        r"callbacks must hold fastmlp\.callbacks\.Callback objects, got str 'early_stopping'",
    ),
    # -- calls in the wrong order ---------------------------------------------------------------
    Case(
        "test-on-batch-before-compile",
        lambda: classifier(compiled=False).test_on_batch(X, LABELS),
        ValueError,
        r"test_on_batch: call model\.compile\(",
    ),
    Case(
        "evaluate-without-y",
        lambda: classifier().evaluate(X, verbose=0),
        ValueError,
        r"evaluate needs targets y",
    ),
    Case(
        "train-on-batch-without-y",
        lambda: classifier().train_on_batch(X),
        ValueError,
        r"train_on_batch needs targets y",
    ),
    Case(
        "predict-on-batch-empty",
        lambda: classifier().predict_on_batch(np.zeros((0, FEATURES))),
        ValueError,
        r"x is empty: expected at least one sample, got shape \(0, 4\)",
    ),
    Case("predict-after-popping-every-layer", popped_empty, ValueError, r"model has no layers"),
    Case(
        "build-without-shape",
        lambda: fm.Sequential([layers.Dense(2)]).build(),
        ValueError,
        r"build needs input_shape, e\.g\. model\.build\(\(None, 784\)\)",
    ),
    Case(
        "build-with-zero-features",
        lambda: fm.Sequential([layers.Dense(2)]).build((None, 0)),
        ValueError,
        r"input_shape \(without the batch dimension\) must be a non-empty tuple of positive",
    ),
    Case(
        "layer-set-weights-before-build",
        lambda: layers.Dense(2).set_weights([np.zeros((2, 2)), np.zeros(2)]),
        ValueError,
        r"layer '.*' is not built yet: add it to a model with a known input shape",
    ),
    Case(
        "get-layer-index-out-of-range",
        lambda: classifier().get_layer(index=7),
        ValueError,
        r"get_layer: index 7 is out of range: the model has 1 layers",
    ),
    # -- set_weights ----------------------------------------------------------------------------
    Case(
        "set-weights-transposed-kernel",
        set_weights(lambda w: [w[0].T, w[1]]),
        ValueError,
        r"weights\[0\] of layer '.*': expected shape \(4, 3\), got \(3, 4\)",
    ),
    Case(
        "set-weights-complex",
        set_weights(lambda w: [w[0].astype(complex), w[1]]),
        TypeError,
        r"weights\[0\] of layer '.*' must hold real numbers .*complex",
    ),
    Case(
        "set-weights-object",
        set_weights(lambda w: [w[0].astype(object), w[1]]),
        TypeError,
        r"weights\[0\] of layer '.*' must hold real numbers .*object",
    ),
    Case(
        "set-weights-none-entry",
        set_weights(lambda w: [None, w[1]]),
        ValueError,
        r"weights\[0\] of layer '.*' is required, got None",
    ),
    Case(
        "set-weights-dict",
        set_weights(lambda w: {"kernel": w[0]}),
        TypeError,
        r"weights must be a list of arrays, got dict",
    ),
    Case(
        "set-weights-empty-list",
        set_weights(lambda w: []),
        ValueError,
        r"set_weights expects 2 arrays \(see get_weights\(\)\), got 0",
    ),
    Case(
        "layer-set-weights-one-array",
        lambda: classifier().layers[0].set_weights([np.zeros((FEATURES, CLASSES))]),
        ValueError,
        r"layer '.*' expects 2 weight arrays, got 1",
    ),
    Case(
        "set-weights-beyond-float32-range",
        set_weights(lambda w: [np.full(w[0].shape, 1e39), w[1]]),
        ValueError,
        r"weights\[0\] of layer '.*' holds values too large for float32",
    ),
    # -- models, layers, optimizers, losses -----------------------------------------------------
    Case(
        "model-beyond-any-memory",  # 9e12 parameters: 33,528 GiB of float32 weights
        lambda: fm.Sequential([layers.Input(shape=(8,)), layers.Dense(10**12)]).count_params(),
        MemoryError,
        r"a model of 9,000,000,000,000 parameters does not fit in memory: 33,527\.6 GiB of "
        r"float32 .* the largest layer is 'dense.*', with 9,000,000,000,000 parameters",
    ),
    Case("seed-float", lambda: fm.Sequential(seed=1.5), ValueError, r"seed must be a non-negative"),
    Case("seed-true", lambda: fm.Sequential(seed=True), ValueError, r"seed .*got True"),
    Case(
        "dtype-int32", lambda: fm.Sequential(dtype="int32"), ValueError, r"dtype must be 'float32'"
    ),
    Case(
        "dtype-unknown",
        lambda: fm.Sequential(dtype="floaty"),
        ValueError,
        r"dtype must be 'float32' or 'float64', got 'floaty'",
    ),
    Case(
        "dtype-bfloat16",
        lambda: fm.Sequential(dtype="bfloat16"),
        ValueError,
        r"dtype must be 'float32' or 'float64', got 'bfloat16'",
    ),
    Case(
        "dtype-mixed-precision-policy",
        lambda: fm.Sequential(
            dtype={"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}
        ),
        ValueError,
        r"dtype: mixed precision \('mixed_float16'\) is not supported",
    ),
    Case(
        "layer-dtype-unknown",
        lambda: layers.Dense(2, dtype="int8"),
        ValueError,
        r"dtype must be 'float32' or 'float64', got 'int8'",
    ),
    Case(
        "layer-constraint",
        lambda: layers.Dense(2, kernel_constraint="max_norm"),
        NotImplementedError,
        r"Dense: kernel_constraint is not supported",
    ),
    Case(
        "add-a-string",
        lambda: fm.Sequential().add("dense"),
        TypeError,
        r"Sequential\.add expects a fastmlp layer or a Sequential model, got str",
    ),
    Case(
        "add-the-same-layer-twice",
        lambda: fm.Sequential([layers.Dense(2, name="twice")] * 2),
        ValueError,
        r"layer '.*' is already in a model",
    ),
    Case(
        "input-not-first",
        lambda: fm.Sequential([layers.Dense(2), layers.Input(shape=(3,))]),
        ValueError,
        r"Input must come first",
    ),
    Case(
        "duplicate-layer-names",
        lambda: fm.Sequential([layers.Dense(2, name="a"), layers.Dense(2, name="a")]),
        ValueError,
        r"a layer named 'a' is already in the model; names must be unique",
    ),
    Case("pop-empty-model", lambda: fm.Sequential().pop(), ValueError, r"no layers to pop"),
    Case(
        "get-layer-unknown-name",
        lambda: classifier().get_layer("nope"),
        ValueError,
        r"No layer named 'nope'",
    ),
    Case(
        "dense-unexpected-argument",
        lambda: layers.Dense(2, foo=1),
        TypeError,
        r"Dense got unexpected arguments: \['foo'\]",
    ),
    Case(
        "dense-unknown-initializer",
        lambda: layers.Dense(2, kernel_initializer="nope"),
        ValueError,
        r"Unknown initializer 'nope'",
    ),
    Case(
        "dense-unknown-regularizer",
        lambda: layers.Dense(2, kernel_regularizer="l3"),
        ValueError,
        r"kernel_regularizer: Unknown regularizer 'l3'",
    ),
    Case("dropout-rate-nan", lambda: layers.Dropout(float("nan")), ValueError, r"rate .*got nan"),
    Case("dropout-rate-string", lambda: layers.Dropout("0.5"), ValueError, r"rate .*got '0\.5'"),
    Case(
        "input-shape-negative",
        lambda: layers.Input(shape=(-3,)),
        ValueError,
        r"input_shape must be a non-empty tuple of positive integers, got \(-3,\)",
    ),
    Case(
        "activation-layer-unknown",
        lambda: layers.Activation("nope"),
        ValueError,
        r"Unknown activation 'nope'",
    ),
    Case(
        "optimizer-keras2-lr-argument",
        lambda: optimizers.Adam(lr=0.1),
        TypeError,
        r"Adam got unexpected arguments: \['lr'\]",
    ),
    Case(
        "optimizer-learning-rate-string",
        lambda: optimizers.SGD(learning_rate="0.1"),
        TypeError,
        r"learning_rate must be a number, got '0\.1'",
    ),
    Case("sgd-momentum-1", lambda: optimizers.SGD(momentum=1.0), ValueError, r"momentum .*1\.0"),
    Case("rmsprop-rho-negative", lambda: optimizers.RMSprop(rho=-0.1), ValueError, r"rho must"),
    Case("clipvalue-nan", lambda: optimizers.SGD(clipvalue=float("nan")), ValueError, r"clipvalue"),
    Case(
        "learning-rate-set-negative-after-compile",
        lambda: setattr(classifier().optimizer, "learning_rate", -1.0),
        ValueError,
        r"learning_rate must be >= 0\.0, got -1\.0",
    ),
    Case(
        "loss-from-unknown-dict",
        lambda: classifier(compiled=False).compile("sgd", {"class_name": "Evil"}),
        ValueError,
        r"Unknown loss class 'Evil'",
    ),
    Case(
        "metric-int",
        lambda: classifier(compiled=False).compile("sgd", "mse", metrics=[3]),
        TypeError,
        r"metrics must hold names or fastmlp\.metrics\.Metric objects, got int",
    ),
    Case(
        "metric-named-loss",
        lambda: classifier(compiled=False).compile(
            "sgd", "mse", metrics=[metrics.MeanAbsoluteError(name="loss")]
        ),
        ValueError,
        r"metric names must be unique and not 'loss'",
    ),
    Case(
        "mse-metric-with-sparse-labels",
        lambda: classifier(compiled=False).compile(
            "sgd", "sparse_categorical_crossentropy", metrics=["mse"]
        ),
        ValueError,
        r"metrics: \['mse'\] need one target per output",
    ),
    Case(
        "label-smoothing-negative",
        lambda: losses.CategoricalCrossentropy(label_smoothing=-0.1),
        ValueError,
        r"label_smoothing must be in \[0, 1\)",
    ),
    Case(
        "to-categorical-negative-label",
        lambda: fm.utils.to_categorical([-1, 2]),
        ValueError,
        r"to_categorical: labels must be >= 0",
    ),
    Case(
        "to-categorical-infinite-label",
        lambda: fm.utils.to_categorical([1.0, np.inf]),
        ValueError,
        r"to_categorical: y must hold integer class labels",
    ),
    Case(
        "model-from-json-wrong-class",
        lambda: fm.models.model_from_json('{"class_name": "Functional"}'),
        ValueError,
        r"expected a Sequential model's JSON, got class_name 'Functional'",
    ),
    Case(
        "early-stopping-unknown-mode",
        lambda: callbacks.EarlyStopping(mode="sideways"),
        UserWarning,  # as Keras: a warning, then "auto"
        r"EarlyStopping mode 'sideways' is unknown",
    ),
]


# -- odd but valid inputs: these must work, with the numbers of a clean copy --------------------


def _memmap(tmp: str) -> np.ndarray:
    path = os.path.join(tmp, "x.dat")
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    return np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)


def _read_only(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    out.setflags(write=False)
    return out


VIEWS: dict[str, Callable[[str], Any]] = {
    "fortran-order": lambda tmp: np.asfortranarray(X),
    "every-other-column": lambda tmp: np.repeat(X, 2, axis=1)[:, ::2],
    "every-other-row": lambda tmp: np.repeat(X, 2, axis=0)[::2],
    "negative-strides": lambda tmp: X[::-1][::-1],
    "read-only": lambda tmp: _read_only(X),
    "read-only-fortran-float32": lambda tmp: _read_only(np.asfortranarray(X, dtype=np.float32)),
    "broadcast-rows": lambda tmp: np.broadcast_to(X[:1], X.shape),
    "memmap-read-only": _memmap,
    "nested-lists": lambda tmp: X.tolist(),
    "transposed-of-transposed": lambda tmp: np.ascontiguousarray(X.T).T,
}


def _clean_for(name: str) -> np.ndarray:
    if name == "broadcast-rows":
        return np.repeat(X[:1], SAMPLES, axis=0)
    if name == "read-only-fortran-float32":
        return X.astype(np.float32)
    return X


def check_view_works(name: str, tmp: str) -> None:
    """fit / evaluate / predict on the view give exactly the numbers of a contiguous copy."""
    x = VIEWS[name](tmp)
    clean = _clean_for(name)
    labels = _read_only(LABELS) if "read-only" in name else LABELS
    results = []
    for data in (x, clean):
        model = classifier()
        model.fit(data, labels, epochs=2, batch_size=5, verbose=0)
        results.append((model.predict(data, verbose=0), model.evaluate(data, labels, verbose=0)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        assert not x.flags.writeable  # still read-only: fastmlp never writes into the input


def check_small_dtypes_work() -> None:
    for dtype in (np.uint8, np.int16, np.bool_, np.float16):
        data = (np.abs(X) * 10).astype(dtype)
        out = classifier().predict(data, verbose=0)
        expected = classifier().predict(data.astype(np.float64), verbose=0)
        np.testing.assert_array_equal(out, expected)


def check_set_weights_views_work() -> None:
    model = classifier()
    kernel, bias = model.get_weights()
    new_kernel = np.asfortranarray(kernel + 1.0)
    new_bias = _read_only(np.repeat(bias - 1.0, 2)[::2])
    model.set_weights([new_kernel, new_bias])
    got_kernel, got_bias = model.get_weights()
    np.testing.assert_array_equal(got_kernel, kernel + np.float32(1.0))
    np.testing.assert_array_equal(got_bias, bias - np.float32(1.0))


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def check_huge_batch_size_is_one_batch() -> int:
    """batch_size=10**9 trains one step per epoch, predicts and evaluates; returns RSS growth."""
    model = classifier()
    model.fit(X, LABELS, batch_size=5, epochs=1, verbose=0)  # warm up allocations
    steps, before = model.optimizer.iterations, rss_bytes()
    model.fit(X, LABELS, batch_size=10**9, epochs=3, verbose=0)
    model.predict(X, batch_size=10**9, verbose=0)
    model.evaluate(X, LABELS, batch_size=10**9, verbose=0)
    model.fit(X, LABELS, batch_size=10**9, epochs=1, validation_data=(X, LABELS), verbose=0)
    for huge in (2**63, 10**30):  # beyond int64 too: still one batch, not an overflow
        model.fit(X, LABELS, batch_size=huge, epochs=1, verbose=0)
        model.predict(X, batch_size=huge, verbose=0)
        model.evaluate(X, LABELS, batch_size=huge, verbose=0)
        model.fit(
            X, LABELS, epochs=1, validation_data=(X, LABELS), validation_batch_size=huge, verbose=0
        )
    growth = rss_bytes() - before
    assert model.optimizer.iterations == steps + 4 + 2 + 2  # one step per epoch in a huge batch
    # 10**9 rows of 4 float32 would be 16 GB; allow for allocator noise only.
    assert growth < 32 << 20, f"RSS grew by {growth} bytes for batch_size=10**9"
    return growth


# -- the tests ----------------------------------------------------------------------------------


def interpreter_still_fine() -> None:
    out = classifier().predict(X, verbose=0)
    assert out.shape == (SAMPLES, CLASSES) and np.isfinite(out).all()


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(reason=f"library bug: {case.bug}", strict=True)] if case.bug else []
    return pytest.param(case, id=case.id, marks=marks)


def expect(case: Case) -> None:
    """Run `case`; AssertionError unless it raises its error with a matching message."""
    if case.error is UserWarning:
        with pytest.warns(UserWarning, match=case.match):
            case.run()
        return
    try:
        case.run()
    except case.error as err:
        if not re.search(case.match, str(err)):
            raise AssertionError(f"{case.id}: message {str(err)!r} !~ {case.match!r}") from err
    except Exception as err:
        raise AssertionError(f"{case.id}: {type(err).__name__}: {err}") from err
    else:
        raise AssertionError(f"{case.id}: nothing raised")


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_input_raises_clear_error(case: Case) -> None:
    expect(case)
    interpreter_still_fine()


def test_battery_is_large_and_new() -> None:
    import test_validation

    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len([c for c in CASES if not c.bug]) >= 40
    assert not set(ids) & {case.id for case in test_validation.CASES}


@pytest.mark.parametrize("name", list(VIEWS))
def test_odd_but_valid_views_work_like_a_contiguous_copy(name, tmp_path) -> None:
    check_view_works(name, str(tmp_path))


def test_small_integer_bool_and_float16_inputs_work() -> None:
    check_small_dtypes_work()


def test_set_weights_accepts_non_contiguous_and_read_only_arrays() -> None:
    check_set_weights_views_work()


def test_huge_batch_size_is_one_batch_without_a_huge_allocation() -> None:
    check_huge_batch_size_is_one_batch()


# -- the whole battery in a fresh interpreter ----------------------------------------------------


def run_battery(tmp: str) -> str:
    """Every case and every valid view; used by the subprocess. Returns a summary line."""
    import warnings

    checked = 0
    for case in CASES:
        if case.bug:
            continue  # known bugs are not crashes; they are xfails in the main run
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            expect(case)
        interpreter_still_fine()
        checked += 1
    for name in VIEWS:
        check_view_works(name, tmp)
    check_small_dtypes_work()
    check_set_weights_views_work()
    growth = check_huge_batch_size_is_one_batch()
    return f"OK {checked} {len(VIEWS)} {growth}"


def test_battery_survives_in_a_subprocess(tmp_path) -> None:
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(fm.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    script = (
        f"import sys; sys.path.insert(0, {tests_dir!r}); import test_hostile_inputs as t; "
        f"print(t.run_battery({str(tmp_path)!r}))"
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
    last = proc.stdout.strip().splitlines()[-1].split()
    assert last[:3] == ["OK", str(len([c for c in CASES if not c.bug])), str(len(VIEWS))]
