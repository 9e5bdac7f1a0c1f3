"""Choosing a device: names, clear errors where a GPU is missing, moving a model between engines."""

from __future__ import annotations

import threading

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import backend, layers
from fastmlp.backend import gpu


def _model(device=None, seed=3):
    model = fm.Sequential(
        [
            layers.Input(shape=(4,)),
            layers.Dense(8, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ],
        seed=seed,
        device=device,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("cpu", "cpu"), ("CPU", "cpu"), ("numpy", "numpy"), ("gpu", "gpu:0"), ("cuda", "gpu:0"),
     ("cuda:1", "gpu:1"), (" gpu:2 ", "gpu:2")],
)  # fmt: skip
def test_device_names_have_one_canonical_form(name, expected):
    assert backend.canonical(name) == expected


@pytest.mark.parametrize("name", ["tpu", "gpu:", "gpu:-1", "cuda:x", "", "gpu0"])
def test_unknown_device_names_are_refused_with_the_choices(name):
    with pytest.raises(ValueError, match="device must be 'cpu', 'gpu'"):
        fm.Sequential(device=name)


@pytest.mark.parametrize("value", [0, None.__class__, ["gpu"]])
def test_device_must_be_a_string(value):
    with pytest.raises(TypeError, match="device must be a string"):
        backend.canonical(value)


@pytest.mark.skipif(gpu.is_available(), reason="a GPU is usable here")
@pytest.mark.parametrize("ask", [lambda: fm.Sequential(device="gpu"), lambda: fm.set_device("cuda"),
                                 lambda: _model().to("gpu")])  # fmt: skip
def test_asking_for_a_missing_gpu_says_what_is_missing(ask):
    with pytest.raises(backend.GPUUnavailableError, match="device='gpu' cannot be used") as info:
        ask()
    assert ("CuPy is not installed" in str(info.value) and "fastmlp[gpu]" in str(info.value)) or (
        "no usable CUDA GPU" in str(info.value) or "no CUDA GPU" in str(info.value)
    )
    assert fm.get_device() == "cpu"  # a refused set_device changes nothing


def test_unavailable_reason_and_is_available_agree():
    assert gpu.is_available() == (gpu.unavailable_reason() is None)


def test_cupy_is_not_imported_by_cpu_work():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, fastmlp as fm\n"
        "m = fm.Sequential([fm.layers.Input(shape=(2,)), fm.layers.Dense(1)])\n"
        "m.compile(loss='mse'); m.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)\n"
        "fm.backend.gpu.is_available() if False else None\n"
        "print('cupy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_set_device_chooses_the_engine_of_new_models():
    try:
        fm.set_device("numpy")
        assert fm.get_device() == "numpy"
        model = _model()
        assert model.device == "numpy"
        assert type(model._engine).__name__ == "ArrayNetwork"
        assert _model(device="cpu").device == "cpu"
    finally:
        fm.set_device("cpu")
    assert _model().device == "cpu"


def test_a_model_moves_between_engines_with_weights_and_optimizer_state():
    x, y = _data()
    reference, moved = _model(seed=5), _model(seed=5)
    reference.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    moved.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert moved.to("numpy") is moved and moved.device == "numpy"
    moved.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)  # Adam resumes its moments
    assert moved.optimizer.iterations == reference.optimizer.iterations == 8
    for a, b in zip(moved.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    moved.to("cpu")
    np.testing.assert_allclose(
        moved.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-4, atol=1e-6
    )
    before = moved.get_weights()
    moved.to("cpu")  # already there: nothing happens
    assert all(np.array_equal(a, b) for a, b in zip(before, moved.get_weights()))


def test_an_unbuilt_model_moves_before_it_has_an_engine():
    model = fm.Sequential([layers.Dense(2)], device="cpu").to("numpy")
    model.compile(loss="mse")
    model.fit(np.ones((8, 3)), np.zeros((8, 2)), verbose=0)
    assert model.device == "numpy" and model.count_params() == 8


def test_a_model_trained_off_the_cpu_engine_saves_and_loads_on_the_cpu(tmp_path):
    x, y = _data()
    model = _model(device="numpy")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    loaded = fm.models.load_model(tmp_path / "m.fastmlp")
    assert loaded.device == "cpu"
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-7
    )
    assert loaded.optimizer.iterations == model.optimizer.iterations


def test_a_second_thread_gets_a_clear_error_not_a_race():
    model = _model(device="numpy")
    x, _ = _data(n=4096)
    model.build((None, 4))
    engine, errors = model._engine, []
    engine._lock.acquire()  # as if another thread were inside a call
    try:
        thread = threading.Thread(
            target=lambda: errors.append(_catch(lambda: model.predict(x, verbose=0)))
        )
        thread.start()
        thread.join()
    finally:
        engine._lock.release()
    assert errors and isinstance(errors[0], RuntimeError) and "another thread" in str(errors[0])
    assert model.predict(x, verbose=0).shape == (4096, 3)


def _catch(call):
    try:
        call()
    except RuntimeError as error:
        return error
    return None


def test_engine_refuses_bad_shapes_with_the_cpu_engines_messages():
    model = _model(device="numpy")
    model.build((None, 4))
    engine = model._engine
    with pytest.raises(ValueError, match=r"x: expected 4 features, got shape \(2, 5\)"):
        engine.predict(np.zeros((2, 5)), 2)
    with pytest.raises(ValueError, match="y: expected 2 rows"):
        engine.evaluate(np.zeros((2, 4)), np.zeros((3, 1)), 2)
    with pytest.raises(ValueError, match="params: expected a flat array of 67 values"):
        engine.set_params(np.zeros(3))
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        engine.predict(np.zeros((2, 4)), 0)
    with pytest.raises(ValueError, match="learning_rate must be a finite number"):
        engine.set_learning_rate(float("nan"))
