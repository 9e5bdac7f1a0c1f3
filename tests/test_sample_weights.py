"""sample_weight and class_weight (Keras's): each sample's loss and gradient times its weight,
still divided by the batch size ("sum_over_batch_size"); metrics unweighted. Against NumPy."""

from __future__ import annotations

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, optimizers
from test_sparse_inputs import on_both_paths

N, FEATURES, CLASSES = 48, 5, 3
_rng = np.random.default_rng(0)
X = _rng.normal(size=(N, FEATURES))
LABELS = _rng.integers(0, CLASSES, N)
W = _rng.uniform(0.1, 3.0, N)


def linear_softmax(seed: int = 0, device: str = "cpu") -> fm.Sequential:
    m = fm.Sequential(
        [fm.Input(shape=(FEATURES,)), layers.Dense(CLASSES, activation="softmax")],
        seed=seed,
        dtype="float64",
        device=device,
    )
    m.compile(optimizers.SGD(0.5), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def numpy_probs(weights, x):
    z = x @ weights[0] + weights[1]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def test_evaluate_weights_each_samples_loss_and_divides_by_the_count():
    m = linear_softmax()
    p = numpy_probs(m.get_weights(), X)
    losses = -np.log(p[np.arange(N), LABELS])
    logs = m.evaluate(X, LABELS, sample_weight=W, batch_size=16, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(np.sum(W * losses) / N, rel=1e-12)
    plain = m.evaluate(X, LABELS, verbose=0, return_dict=True)
    assert logs["accuracy"] == plain["accuracy"]  # metrics are not weighted (Keras's compile)
    assert plain["loss"] == pytest.approx(np.mean(losses), rel=1e-12)
    single = m.test_on_batch(X, LABELS, sample_weight=W, return_dict=True)
    assert single["loss"] == pytest.approx(logs["loss"], rel=1e-12)


@pytest.mark.parametrize(
    ("loss", "activation", "targets"),
    [
        ("mse", None, lambda: _rng.normal(size=(N, CLASSES))),
        ("mae", None, lambda: _rng.normal(size=(N, CLASSES))),
        ("binary_crossentropy", "sigmoid", lambda: _rng.integers(0, 2, (N, CLASSES)) * 1.0),
        ("categorical_crossentropy", "softmax", lambda: np.eye(CLASSES)[LABELS]),
        ("hinge", "tanh", lambda: np.where(_rng.random((N, CLASSES)) < 0.5, -1.0, 1.0)),
    ],
)
def test_every_loss_is_weighted_per_sample(loss, activation, targets):
    y = targets()
    m = fm.Sequential(
        [fm.Input(shape=(FEATURES,)), layers.Dense(CLASSES, activation=activation)],
        dtype="float64",
    )
    m.compile("sgd", loss)
    per_sample = np.array(
        [m.evaluate(X[i : i + 1], y[i : i + 1], verbose=0) for i in range(N)]
    )  # each sample's own loss, from the engine unweighted
    got = m.evaluate(X, y, sample_weight=W, verbose=0)
    assert got == pytest.approx(np.sum(W * per_sample) / N, rel=1e-10)


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_with_sample_weights_is_weighted_gradient_descent(shuffle):
    # One batch of all samples: shuffled, its rows (and their weights) come in another order,
    # the same gradient up to rounding.
    m = linear_softmax()
    kernel, bias = m.get_weights()
    history = m.fit(X, LABELS, sample_weight=W, batch_size=N, epochs=3, shuffle=shuffle, verbose=0)
    onehot = np.eye(CLASSES)[LABELS]
    losses = []
    for _ in range(3):
        p = numpy_probs([kernel, bias], X)
        losses.append(float(np.sum(W * -np.log(p[np.arange(N), LABELS])) / N))
        d = W[:, None] * (p - onehot) / N
        kernel, bias = kernel - 0.5 * X.T @ d, bias - 0.5 * d.sum(axis=0)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-11)
    np.testing.assert_allclose(m.get_weights()[0], kernel, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(m.get_weights()[1], bias, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("form", ["labels", "one-hot"])
def test_class_weight_is_the_sample_weight_of_each_samples_class(form):
    class_weight = {0: 2.0, 2: 0.25}  # class 1: weight 1
    by_class = np.array([class_weight.get(c, 1.0) for c in LABELS])
    runs = []
    for kw in ({"class_weight": class_weight}, {"sample_weight": by_class}):
        m = linear_softmax(seed=3)
        if form == "one-hot":
            m.compile(optimizers.SGD(0.5), "categorical_crossentropy")
            y = np.eye(CLASSES)[LABELS]
        else:
            y = LABELS
        history = m.fit(X, y, batch_size=16, epochs=2, verbose=0, **kw)
        runs.append((history.history["loss"], m.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_validation_weights_and_split_weights():
    m = linear_softmax()
    wv = np.linspace(0.5, 2.0, N)
    history = m.fit(X, LABELS, epochs=1, validation_data=(X, LABELS, wv), verbose=0)
    expected = m.evaluate(X, LABELS, sample_weight=wv, verbose=0)[0]
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-12)
    m = linear_softmax()
    history = m.fit(X, LABELS, sample_weight=W, epochs=1, validation_split=0.25, verbose=0)
    expected = m.evaluate(X[36:], LABELS[36:], sample_weight=W[36:], verbose=0)[0]
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-12)
    # class_weight weights the training batches only (Keras): the held-out loss is unweighted.
    m = linear_softmax()
    history = m.fit(
        X, LABELS, class_weight={0: 5.0, 1: 0.1}, epochs=1, validation_split=0.25, verbose=0
    )
    expected = m.evaluate(X[36:], LABELS[36:], verbose=0)[0]
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("threads", [1, 2])
def test_weighted_training_on_sparse_inputs_matches_the_dense_path(threads):
    rng = np.random.default_rng(4)
    # (600 rows: evaluate takes sparse inputs in chunks of 256 rows, each with its weights)
    x = (rng.random((600, 784)) * (rng.random((600, 784)) < 0.2)).astype(np.float32)
    y = rng.integers(0, 10, 600)
    w = rng.uniform(0.0, 2.0, 600)

    def run(sparse: bool):
        m = fm.Sequential(
            [fm.Input(shape=(784,)), layers.Dense(32, activation="relu"), layers.Dense(10)],
            seed=5,
        )
        m.compile(optimizers.Adam(0.01), fm.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = m.fit(x, y, sample_weight=w, batch_size=64, epochs=2, verbose=0)
        assert m._engine.last_batch_sparse == sparse
        loss = m.evaluate(x, y, sample_weight=w, verbose=0)
        return history.history["loss"], loss, m.get_weights()

    results = on_both_paths(threads, run)
    (sparse_hist, sparse_loss, sparse_w), (dense_hist, dense_loss, dense_w) = results
    np.testing.assert_allclose(sparse_hist, dense_hist, rtol=1e-4)
    assert sparse_loss == pytest.approx(dense_loss, rel=1e-4)
    for a, b in zip(sparse_w, dense_w):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-5)


def test_bad_weights_are_refused_naming_the_argument():
    m = linear_softmax()
    with pytest.raises(ValueError, match="class_weight and sample_weight at the same time"):
        m.fit(X, LABELS, sample_weight=W, class_weight={0: 1.0}, verbose=0)
    with pytest.raises(
        ValueError, match=r"sample_weight: expected one weight per sample, shape \(48,\)"
    ):
        m.fit(X, LABELS, sample_weight=W[:10], verbose=0)
    with pytest.raises(ValueError, match="sample_weight: weights must be finite"):
        m.evaluate(X, LABELS, sample_weight=np.full(N, np.nan), verbose=0)
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        m.fit(X, LABELS, class_weight=[1.0, 2.0, 3.0], verbose=0)
    with pytest.raises(ValueError, match=r"validation_data\[2\]: expected one weight"):
        m.fit(X, LABELS, validation_data=(X, LABELS, W[:3]), verbose=0)
    twin = linear_softmax(device="numpy")
    with pytest.raises(NotImplementedError, match="CPU engine only"):
        twin.fit(X, LABELS, sample_weight=W, verbose=0)
