"""The new losses against Keras 3 itself, where it is installed (in a subprocess, so that
TensorFlow's threads and settings stay out of this process): the same y_true / y_pred give the same
value (float32 and float64) and the same gradient (TensorFlow's GradientTape), at the clips and
kinks of test_losses_more.py too; three epochs of SGD give the same weights; the names agree.
"""

from __future__ import annotations

import json

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, losses, optimizers
from keras_run import run_keras
from test_losses_more import CASES, KINKS, NAMES, linear_model

KERAS_SCRIPT = """
import json, sys
import numpy as np
import keras, tensorflow as tf

spec = json.load(open(sys.argv[1]))
data = np.load(sys.argv[2])
out = {}
for case in spec["values"]:
    cls = getattr(keras.losses, case["class_name"])
    y, p = data[case["id"] + "/y"], data[case["id"] + "/p"]
    for dtype in ("float32", "float64"):
        loss = cls(**case["config"], dtype=dtype)
        pv = tf.Variable(p.astype(dtype))
        with tf.GradientTape() as tape:
            value = loss(y.astype(dtype), pv)
        out[case["id"] + "/value/" + dtype] = np.float64(value.numpy())
        out[case["id"] + "/grad/" + dtype] = tape.gradient(value, pv).numpy().astype(np.float64)
keras.config.set_floatx("float64")
for case in spec["train"]:
    key = case["id"]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"),
        keras.layers.Dense(case["units"], activation=case["activation"])])
    model.set_weights([data[key + "/w" + str(i)] for i in range(4)])
    loss = getattr(keras.losses, case["class_name"])(**case["config"])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    x, y = data[key + "/x"], data[key + "/y"]
    out[key + "/evaluated"] = np.float64(model.evaluate(x, y, batch_size=len(x), verbose=0))
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    out[key + "/history"] = np.asarray(history.history["loss"], dtype=np.float64)
    for i, w in enumerate(model.get_weights()):
        out[key + "/trained" + str(i)] = w
names = {c: getattr(keras.losses, c)().name for c in spec["classes"]}
known = {}
for name in spec["names"]:
    try:
        known[name] = keras.losses.get(name).__name__
    except ValueError:  # not a name Keras 3 knows
        pass
np.savez(sys.argv[3], **out)
print(json.dumps({"names": names, "known": known}))
"""

KERAS_ARGS = {"Huber": ("delta",), "CosineSimilarity": ("axis",)}


def keras_config(loss: losses.Loss) -> dict:
    """The loss's arguments as Keras's class takes them (no name)."""
    config = loss.get_config()
    return {k: config[k] for k in KERAS_ARGS.get(type(loss).__name__, ())}


def _train_data(seed: int, units: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 4))
    if kind == "regression":
        return x, rng.normal(scale=2.0, size=(40, units))
    if kind == "distribution":
        return x, rng.dirichlet(np.ones(units), 40)
    if kind == "one_hot":
        return x, np.eye(units)[rng.integers(0, units, 40)]
    return x, rng.integers(0, 2, (40, units)).astype(float)  # {0, 1} labels


# (id, loss, units, output activation, targets)
TRAINING = [
    ("train-huber", losses.Huber(delta=0.5), 2, None, "regression"),
    ("train-kld", losses.KLDivergence(), 3, "softmax", "distribution"),
    ("train-categorical_hinge", losses.CategoricalHinge(), 3, None, "one_hot"),
    ("train-squared_hinge", losses.SquaredHinge(), 1, None, "labels"),
]


def _training_model(loss, units, activation):
    model = fm.Sequential(
        [
            layers.Input(shape=(4,)),
            layers.Dense(5, activation="tanh"),
            layers.Dense(units, activation=activation),
        ],
        dtype="float64",
        seed=3,
    )
    model.compile(optimizer=optimizers.SGD(0.1), loss=loss)
    return model


@pytest.fixture(scope="module")
def keras_results(tmp_path_factory):
    """Everything Keras computes here, from one subprocess: (arrays, names)."""
    tmp = tmp_path_factory.mktemp("keras")
    arrays, values, train = {}, [], []
    for case in CASES:
        arrays[case.id + "/y"], arrays[case.id + "/p"] = case.y, case.p
        loss = case.make()
        values.append(
            {"id": case.id, "class_name": type(loss).__name__, "config": keras_config(loss)}
        )
    for name, (make, y, p) in KINKS.items():
        arrays[name + "/y"], arrays[name + "/p"] = y, p
        loss = make()
        values.append({"id": name, "class_name": type(loss).__name__, "config": keras_config(loss)})
    for i, (key, loss, units, activation, kind) in enumerate(TRAINING):
        arrays[key + "/x"], arrays[key + "/y"] = _train_data(i, units, kind)
        for j, w in enumerate(_training_model(loss, units, activation).get_weights()):
            arrays[f"{key}/w{j}"] = w
        train.append(
            {
                "id": key,
                "class_name": type(loss).__name__,
                "config": keras_config(loss),
                "units": units,
                "activation": activation,
            }
        )
    classes = sorted({type(case.make()).__name__ for case in CASES})
    spec = {"values": values, "train": train, "classes": classes, "names": list(NAMES)}
    (tmp / "spec.json").write_text(json.dumps(spec))
    np.savez(tmp / "in.npz", **arrays)
    stdout = run_keras(
        KERAS_SCRIPT, *(str(tmp / f) for f in ("spec.json", "in.npz", "out.npz")), timeout=600
    )
    return dict(np.load(tmp / "out.npz")), json.loads(stdout.strip().splitlines()[-1])


def _engine_value_and_gradient(loss, y, p, dtype):
    """The engine's mean loss and d(mean loss)/dp (the W part of its gradient on x = I)."""
    model = linear_model(p, loss, dtype=dtype)
    model.predict(np.eye(len(p)), verbose=0)  # (builds the engine)
    targets = np.ascontiguousarray(loss.prepare_targets(y), dtype=dtype)
    value, g = model._engine.loss_and_gradient(np.eye(len(p), dtype=dtype), targets)
    return value, g[: p.size].reshape(p.shape)


ALL = [(case.id, case.make, case.y, case.p) for case in CASES]
ALL += [(name, make, y, p) for name, (make, y, p) in KINKS.items()]


@pytest.mark.parametrize(("key", "make", "y", "p"), ALL, ids=[a[0] for a in ALL])
def test_value_and_gradient_match_keras(keras_results, key, make, y, p) -> None:
    theirs, _ = keras_results
    value, g = _engine_value_and_gradient(make(), y, p, np.float64)
    # Keras's LogCosh subtracts log(2) computed in float32: 1.9e-9 more than log(2) in float64
    offset = 2e-9 if key.startswith("log_cosh") else 1e-13
    assert value == pytest.approx(theirs[key + "/value/float64"], rel=1e-12, abs=offset)
    expected = theirs[key + "/grad/float64"]
    if key.startswith("msle"):
        # Keras's MSLE takes its epsilon as a float32 tensor, 1.0000000117e-7 in float64: there
        # p = 1e-7 is below it (no gradient), here at it (a tie passes); float32 agrees below.
        keep = p != 1e-7
        g, expected = g[keep], expected[keep]
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    value32, g32 = _engine_value_and_gradient(make(), y, p, np.float32)
    assert value32 == pytest.approx(theirs[key + "/value/float32"], rel=1e-5, abs=1e-6)
    scale = np.abs(theirs[key + "/grad/float32"]).max()
    np.testing.assert_allclose(g32, theirs[key + "/grad/float32"], rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize(
    ("key", "loss", "units", "activation", "kind"), TRAINING, ids=[t[0] for t in TRAINING]
)
def test_three_epochs_of_sgd_give_keras_weights(keras_results, key, loss, units, activation, kind):
    theirs, _ = keras_results
    x, y = _train_data([t[0] for t in TRAINING].index(key), units, kind)
    model = _training_model(loss, units, activation)
    start = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    trained = model.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(trained, start))  # (it trained)
    for i, ours in enumerate(trained):
        np.testing.assert_allclose(ours, theirs[f"{key}/trained{i}"], rtol=1e-10, atol=1e-12)


def test_default_names_and_aliases_match_keras(keras_results) -> None:
    _, found = keras_results
    for class_name, name in found["names"].items():
        assert getattr(losses, class_name)().name == name
    for alias, keras_name in found["known"].items():  # what keras.losses.get resolves it to
        assert type(losses.get(alias)) is type(losses.get(keras_name))
    assert {"huber", "kld", "msle", "mape", "log_cosh", "cosine_similarity"} <= set(found["known"])


FUNCTIONS_SCRIPT = """
import json, sys
import numpy as np
import keras
keras.config.set_floatx("float64")
out = {}
for case in json.load(sys.stdin):
    fn = getattr(keras.losses, case["function"])
    y, p = np.array(case["y"], dtype="float64"), np.array(case["p"], dtype="float64")
    out[case["id"]] = np.asarray(fn(y, p, **case["kwargs"]), dtype="float64").tolist()
print(json.dumps(out))
"""


def test_loss_functions_give_keras_per_sample_losses() -> None:
    """fastmlp.losses.<function>(y, p) equals keras.losses.<function>(y, p): one loss per sample
    (a scalar for a 1-D sample), for every function both have."""
    rng = np.random.default_rng(11)
    probs, labels = rng.dirichlet(np.ones(4), 5), rng.integers(0, 4, 5)
    values, targets = rng.uniform(0.1, 3.0, (5, 4)), rng.uniform(0.1, 3.0, (5, 4))
    signs = rng.choice([-1.0, 1.0], (5, 4))
    cases = [
        ("sparse_categorical_crossentropy", labels, probs, {}),
        ("categorical_crossentropy", np.eye(4)[labels], probs, {}),
        ("categorical_crossentropy", np.eye(4)[labels], np.log(probs), {"from_logits": True}),
        ("binary_crossentropy", (targets > 1.5).astype(float), probs, {}),
        ("mean_squared_error", targets, values, {}),
        ("mean_absolute_error", targets, values, {}),
        ("hinge", signs, values - 1.5, {}),
        ("huber", targets, values, {"delta": 0.5}),
        ("log_cosh", targets, values, {}),
        ("mean_squared_logarithmic_error", targets, values, {}),
        ("mean_absolute_percentage_error", targets, values, {}),
        ("poisson", targets, values, {}),
        ("kl_divergence", probs, rng.dirichlet(np.ones(4), 5), {}),
        ("squared_hinge", signs, values - 1.5, {}),
        ("categorical_hinge", np.eye(4)[labels], values, {}),
        ("cosine_similarity", targets, values, {}),
        ("categorical_crossentropy", np.eye(4)[labels[0]], probs[0], {}),  # one 1-D sample
    ]
    spec = [
        {"id": str(i), "function": f, "y": y.tolist(), "p": p.tolist(), "kwargs": kw}
        for i, (f, y, p, kw) in enumerate(cases)
    ]
    want = json.loads(run_keras(FUNCTIONS_SCRIPT, stdin=json.dumps(spec)).strip().splitlines()[-1])
    for i, (f, y, p, kw) in enumerate(cases):
        got = getattr(losses, f)(y, p, **kw)
        assert np.shape(got) == np.shape(want[str(i)]), f
        # (Keras's float64 log_cosh subtracts a float32 log(2): 1.9e-9 lower, see the README)
        atol = 3e-9 if f == "log_cosh" else 1e-15
        np.testing.assert_allclose(got, want[str(i)], rtol=1e-12, atol=atol, err_msg=f)
