"""The GPU engine (backend/engine.py) against the C++ engine, from the same weights and batches.

Each test runs on "numpy" (the GPU engine's code with the kernels' NumPy twins, on any machine)
and on "gpu" (CuPy and fastmlp's CUDA kernels; skipped with the reason where CuPy or a GPU is
missing). The reference is the C++ CPU engine, itself checked against finite differences, NumPy
formulas and PyTorch in the other test modules. Tolerances are the issue's: relative error
<= 1e-5 in float64 and <= 1e-3 in float32 after 100 steps.
"""

from __future__ import annotations

import gc

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, losses, optimizers, regularizers
from fastmlp.backend import gpu

GPU_REASON = gpu.unavailable_reason() or ""
DEVICES = [
    "numpy",
    pytest.param(
        "gpu",
        marks=[pytest.mark.gpu, pytest.mark.skipif(not gpu.is_available(), reason=GPU_REASON)],
    ),
]
TOLERANCE = {"float64": 1e-5, "float32": 1e-3}
ACTIVATIONS = [
    "linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign",
    "leaky_relu", "exponential", "hard_sigmoid",
]  # fmt: skip


def _data(n=160, features=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    labels = (x[:, 0] * x[:, 1] + 0.5 * x[:, 2] > 0).astype(int) + (x[:, 3] > 1).astype(int)
    return x, labels


def _pair(make, device, dtype="float64"):
    """Two models with the same initial weights: one on the CPU engine, one on `device`."""
    cpu_model = make(dtype, "cpu")
    dev_model = make(dtype, device)
    dev_model.set_weights(cpu_model.get_weights())
    return cpu_model, dev_model


def _relative_error(a, b):
    a, b = np.concatenate([w.ravel() for w in a]), np.concatenate([w.ravel() for w in b])
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30))


def _train_both(make, device, dtype, x, y, batch_size=16, epochs=10, **fit):
    """fit without shuffling (same batches): 160 samples / 16 = 10 steps x 10 epochs = 100 steps."""
    models = _pair(make, device, dtype)
    histories = [
        m.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0, **fit)
        for m in models
    ]
    return models, histories


def _mlp(hidden="tanh", last="softmax", units=3, loss="sparse_categorical_crossentropy",
         optimizer=None, metrics=("accuracy",), extra=(), **dense):  # fmt: skip
    def make(dtype, device):
        model = fm.Sequential(
            [
                layers.Input(shape=(6,)),
                layers.Dense(8, activation=hidden, **dense),
                *[layer() for layer in extra],
                layers.Dense(units, activation=last),
            ],
            seed=7,
            dtype=dtype,
            device=device,
        )
        opt = optimizer() if optimizer else optimizers.Adam(learning_rate=0.01)
        model.compile(optimizer=opt, loss=loss, metrics=list(metrics))
        return model

    return make


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lecture_shape_model_matches_cpu_engine_after_100_steps(device, dtype):
    x, labels = _data()
    (cpu_model, dev_model), (h_cpu, h_dev) = _train_both(_mlp("relu"), device, dtype, x, labels)
    assert _relative_error(cpu_model.get_weights(), dev_model.get_weights()) <= TOLERANCE[dtype]
    np.testing.assert_allclose(h_dev.history["loss"], h_cpu.history["loss"], rtol=TOLERANCE[dtype])
    np.testing.assert_allclose(h_dev.history["accuracy"], h_cpu.history["accuracy"], atol=1e-9)
    np.testing.assert_allclose(
        dev_model.predict(x, verbose=0),
        cpu_model.predict(x, verbose=0),
        rtol=TOLERANCE[dtype],
        atol=1e-6,
    )
    ev_cpu, ev_dev = (
        cpu_model.evaluate(x, labels, verbose=0),
        dev_model.evaluate(x, labels, verbose=0),
    )
    np.testing.assert_allclose(ev_dev, ev_cpu, rtol=TOLERANCE[dtype])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_matches_cpu_engine(device, activation):
    x, labels = _data()
    y = np.tanh(x[:, :2]) if activation != "softmax" else np.eye(2)[labels % 2]
    loss = "categorical_crossentropy" if activation == "softmax" else "mse"
    make = _mlp(hidden=activation, last=activation, units=2, loss=loss, metrics=("mae",))
    (cpu_model, dev_model), (h_cpu, h_dev) = _train_both(make, device, "float64", x * 0.5, y)
    assert _relative_error(cpu_model.get_weights(), dev_model.get_weights()) <= 1e-5
    np.testing.assert_allclose(h_dev.history["mae"], h_cpu.history["mae"], rtol=1e-5)


LOSS_CASES = {
    "sparse_ce_fused": ("softmax", 3, "sparse_categorical_crossentropy", "labels"),
    "sparse_ce_probabilities": ("sigmoid", 3, "sparse_categorical_crossentropy", "labels"),
    "sparse_ce_logits": (
        "linear",
        3,
        losses.SparseCategoricalCrossentropy(from_logits=True),
        "labels",
    ),
    "categorical_ce_fused": ("softmax", 3, "categorical_crossentropy", "onehot"),
    "categorical_ce_smoothed": (
        "softmax",
        3,
        losses.CategoricalCrossentropy(label_smoothing=0.1),
        "onehot",
    ),
    "categorical_ce_probabilities": ("sigmoid", 3, "categorical_crossentropy", "onehot"),
    "categorical_ce_logits": (
        "linear",
        3,
        losses.CategoricalCrossentropy(from_logits=True),
        "onehot",
    ),
    "binary_ce_fused": ("sigmoid", 3, "binary_crossentropy", "onehot"),
    "binary_ce_probabilities": ("hard_sigmoid", 3, "binary_crossentropy", "onehot"),
    "binary_ce_logits": ("linear", 3, losses.BinaryCrossentropy(from_logits=True), "onehot"),
    "mse": ("linear", 3, "mse", "onehot"),
    "mae": ("linear", 3, "mae", "onehot"),
    "hinge": ("tanh", 3, "hinge", "pm1"),
    "logistic": ("linear", 1, losses.LogisticLoss(), "pm1"),
    "binary_focal_fused": ("sigmoid", 3, "binary_focal_crossentropy", "onehot"),
    "binary_focal_probabilities": (
        "hard_sigmoid",
        3,
        losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=1.5),
        "onehot",
    ),
    "binary_focal_logits": (
        "linear",
        3,
        losses.BinaryFocalCrossentropy(from_logits=True, label_smoothing=0.1, gamma=0.5),
        "onehot",
    ),
    "categorical_focal_softmax": ("softmax", 3, "categorical_focal_crossentropy", "onehot"),
    "categorical_focal_probabilities": (
        "sigmoid",
        3,
        losses.CategoricalFocalCrossentropy(alpha=0.6, gamma=1.0),
        "onehot",
    ),
    "categorical_focal_logits": (
        "linear",
        3,
        losses.CategoricalFocalCrossentropy(from_logits=True, label_smoothing=0.1, gamma=3.0),
        "onehot",
    ),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_every_loss_matches_cpu_engine(device, case):
    last, units, loss, target = LOSS_CASES[case]
    x, labels = _data()
    y = {
        "labels": labels,
        "onehot": np.eye(3)[labels],
        "pm1": np.where(np.eye(3)[labels][:, :units] > 0, 1.0, -1.0),
    }[target]
    make = _mlp(last=last, units=units, loss=loss)
    (cpu_model, dev_model), (h_cpu, h_dev) = _train_both(make, device, "float64", x, y)
    assert _relative_error(cpu_model.get_weights(), dev_model.get_weights()) <= 1e-5
    np.testing.assert_allclose(h_dev.history["loss"], h_cpu.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(h_dev.history["accuracy"], h_cpu.history["accuracy"], atol=1e-9)


OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.05),
    "momentum": lambda: optimizers.SGD(0.05, momentum=0.9),
    "nesterov": lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: optimizers.Adam(0.01),
    "amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.01, weight_decay=0.05),
    "rmsprop": lambda: optimizers.RMSprop(0.005),
    "rmsprop_centered_momentum": lambda: optimizers.RMSprop(0.005, momentum=0.5, centered=True),
    "adagrad": lambda: optimizers.Adagrad(0.05),
    "adadelta": lambda: optimizers.Adadelta(1.0),
    "nadam": lambda: optimizers.Nadam(0.01, weight_decay=0.05),
    "adamax": lambda: optimizers.Adamax(0.01),
    "lion": lambda: optimizers.Lion(1e-3),
    "ftrl": lambda: optimizers.Ftrl(0.1, l1_regularization_strength=1e-3, beta=0.1),
    "clipnorm": lambda: optimizers.SGD(0.5, clipnorm=0.1),
    "clipvalue": lambda: optimizers.Adam(0.01, clipvalue=0.01),
    "global_clipnorm": lambda: optimizers.SGD(0.5, global_clipnorm=0.2),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_matches_cpu_engine(device, name):
    x, labels = _data()
    make = _mlp(optimizer=OPTIMIZERS[name])
    for dtype in ("float64", "float32"):
        (cpu_model, dev_model), _ = _train_both(make, device, dtype, x, labels)
        assert _relative_error(cpu_model.get_weights(), dev_model.get_weights()) <= TOLERANCE[dtype]
        cpu_state, dev_state = (
            cpu_model._engine.get_optimizer_state(),
            dev_model._engine.get_optimizer_state(),
        )
        assert cpu_state[0] == dev_state[0] == 100
        assert len(cpu_state[1]) == len(dev_state[1])


@pytest.mark.parametrize("device", DEVICES)
def test_regularizers_match_cpu_engine_in_weights_and_loss(device):
    x, labels = _data()
    make = _mlp(
        kernel_regularizer=regularizers.L1L2(l1=1e-3, l2=1e-2),
        bias_regularizer=regularizers.L2(1e-2),
        optimizer=lambda: optimizers.SGD(0.1),
    )
    (cpu_model, dev_model), (h_cpu, h_dev) = _train_both(make, device, "float64", x, labels)
    assert _relative_error(cpu_model.get_weights(), dev_model.get_weights()) <= 1e-5
    np.testing.assert_allclose(h_dev.history["loss"], h_cpu.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(
        dev_model.evaluate(x, labels, verbose=0),
        cpu_model.evaluate(x, labels, verbose=0),
        rtol=1e-5,
    )


@pytest.mark.parametrize("device", DEVICES)
def test_activation_layer_and_validation_data_match_cpu_engine(device):
    x, labels = _data()
    make = _mlp(extra=(lambda: layers.Activation("relu"), lambda: layers.Dropout(0.0)))
    (cpu_model, dev_model), (h_cpu, h_dev) = _train_both(
        make, device, "float64", x[:120], labels[:120], validation_data=(x[120:], labels[120:])
    )
    assert _relative_error(cpu_model.get_weights(), dev_model.get_weights()) <= 1e-5
    np.testing.assert_allclose(h_dev.history["val_loss"], h_cpu.history["val_loss"], rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_gradient_matches_cpu_engine_and_finite_differences(device):
    x, labels = _data(n=20)
    cpu_model, dev_model = _pair(_mlp(hidden="softplus"), device)
    y = labels.reshape(-1, 1).astype(float)
    loss_cpu, g_cpu = cpu_model._engine.loss_and_gradient(x, y)
    loss_dev, g_dev = dev_model._engine.loss_and_gradient(x, y)
    assert loss_dev == pytest.approx(loss_cpu, rel=1e-12)
    np.testing.assert_allclose(g_dev, g_cpu, rtol=1e-9, atol=1e-12)
    engine, params, h = dev_model._engine, dev_model._engine.get_params(), 1e-6
    for i in np.random.default_rng(1).choice(params.size, 12, replace=False):
        shifted = [params.copy(), params.copy()]
        shifted[0][i] += h
        shifted[1][i] -= h
        values = []
        for p in shifted:
            engine.set_params(p)
            values.append(engine.loss_and_gradient(x, y)[0])
        assert (values[0] - values[1]) / (2 * h) == pytest.approx(g_dev[i], rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("device", DEVICES)
def test_dropout_trains_and_is_off_at_inference(device):
    x, labels = _data(n=400)
    make = _mlp(hidden="relu", extra=(lambda: layers.Dropout(0.5),))
    cpu_model, dev_model = _pair(make, device)
    np.testing.assert_allclose(
        dev_model.predict(x, verbose=0), cpu_model.predict(x, verbose=0), rtol=1e-12
    )
    engine = dev_model._engine
    y = labels.reshape(-1, 1).astype(float)
    # Inverted dropout: each mask entry is 0 or 2, about half of them 2, and new at each step.
    engine.train_on_batch(x, y)
    mask = engine.ops.to_host(engine._masks[1][:400])
    assert set(np.unique(mask)) <= {0.0, 2.0}
    assert 0.45 < np.mean(mask == 2.0) < 0.55
    engine.train_on_batch(x, y)
    assert np.mean(engine.ops.to_host(engine._masks[1][:400]) != mask) > 0.3
    history = dev_model.fit(x, labels, epochs=30, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("device", DEVICES)
def test_shuffled_epochs_visit_every_sample_once_in_a_new_order(device):
    x, labels = _data(n=100)
    model = _mlp()("float64", device)
    model.fit(x, labels, epochs=1, verbose=0)
    engine = model._engine
    orders = []
    for _ in range(2):
        engine.begin_epoch(100, True)
        orders.append(engine.ops.to_host(engine._order))
    for order in orders:
        assert sorted(order.tolist()) == list(range(100))
    assert orders[0].tolist() != orders[1].tolist()
    history = model.fit(x, labels, epochs=3, batch_size=10, verbose=0)
    assert len(history.history["loss"]) == 3


@pytest.mark.parametrize("device", DEVICES)
def test_train_on_batch_and_test_on_batch_match_cpu_engine(device):
    x, labels = _data(n=32)
    cpu_model, dev_model = _pair(_mlp(), device)
    for _ in range(5):
        a = cpu_model.train_on_batch(x, labels)
        b = dev_model.train_on_batch(x, labels)
        np.testing.assert_allclose(b, a, rtol=1e-9)
    np.testing.assert_allclose(
        dev_model.test_on_batch(x, labels), cpu_model.test_on_batch(x, labels), rtol=1e-9
    )


GPU_ONLY = [p for p in DEVICES if not isinstance(p, str)]


@pytest.mark.parametrize("device", GPU_ONLY)
def test_replayed_cuda_graphs_give_the_eager_steps_results(device, monkeypatch):
    x, labels = _data(n=320)
    results = []
    for graphs in ("0", "1"):
        monkeypatch.setenv("FASTMLP_CUDA_GRAPHS", graphs)
        model = _mlp(extra=(lambda: layers.Dropout(0.2),))("float32", device)
        model.fit(x, labels, epochs=3, batch_size=32, verbose=0)
        results.append(model.get_weights())
        engine = model._engine
        assert engine.ops.graph_error is None
        assert bool(engine._graphs) == (graphs == "1")
    for eager, replayed in zip(*results):
        np.testing.assert_array_equal(eager, replayed)


@pytest.mark.slow
@pytest.mark.parametrize("device", GPU_ONLY)
def test_lecture_model_reaches_097_on_mnist_in_5_epochs(device):
    (x, y), (x_test, y_test) = fm.datasets.mnist.load_data()
    model = fm.Sequential(
        [
            layers.Flatten(input_shape=(28, 28)),
            layers.Dense(128, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        seed=0,
        device=device,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x / 255.0, y, epochs=5, verbose=0)
    assert model.evaluate(x_test / 255.0, y_test, verbose=0)[1] >= 0.97
    cpu = fm.Sequential.from_config(model.get_config()).to("cpu")
    cpu.build((None, 28, 28))
    cpu.set_weights(model.get_weights())
    np.testing.assert_allclose(
        cpu.predict(x_test[:500] / 255.0, verbose=0),
        model.predict(x_test[:500] / 255.0, verbose=0),
        atol=1e-4,
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("where", ["x", "validation_data", "validation_split", "predict"])
def test_nan_in_host_inputs_is_refused_before_any_step(device, where):
    """The GPU engine checks float32 x (used as it is, no conversion that would check it) for
    NaN / infinity on the device it copied x to, not on the host."""
    x, labels = _data()
    x = x.astype(np.float32)
    bad = x.copy()
    bad[150, 4] = (
        np.inf if where == "predict" else np.nan
    )  # (in the part validation_split holds out)
    model = _mlp()("float32", device)
    model.fit(x[:32], labels[:32], epochs=1, verbose=0)
    before = model.get_weights()
    with pytest.raises(
        ValueError,
        match=f"^{'validation_data' if where == 'validation_data' else 'x'} contains NaN",
    ):
        if where == "x":
            model.fit(bad, labels, verbose=0)
        elif where == "validation_data":
            model.fit(x, labels, validation_data=(bad, labels), verbose=0)
        elif where == "validation_split":
            model.fit(bad, labels, validation_split=0.25, verbose=0)
        else:
            model.predict(bad, verbose=0)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("device", GPU_ONLY)
def test_cupy_inputs_give_the_results_of_host_inputs(device):
    cupy = pytest.importorskip("cupy")
    x, labels = _data(n=320)
    x = x.astype(np.float32)  # used where it is: no conversion
    runs = []
    for wrap in (np.asarray, cupy.asarray):
        model = _mlp()("float32", device)
        history = model.fit(
            wrap(x), wrap(labels), epochs=2, batch_size=32, verbose=0,
            validation_data=(wrap(x[:64]), wrap(labels[:64])),
        )  # fmt: skip
        runs.append(
            (
                model.get_weights(),
                history.history,
                model.evaluate(wrap(x), wrap(labels), verbose=0),
                model.predict(wrap(x), verbose=0),
                model.train_on_batch(wrap(x[:32]), wrap(labels[:32])),
            )
        )
    (w_host, h_host, e_host, p_host, t_host), (w_dev, h_dev, e_dev, p_dev, t_dev) = runs
    for a, b in zip(w_host, w_dev):
        np.testing.assert_array_equal(a, b)
    for key in h_host:  # loss sums are added with atomics: the same up to their order
        np.testing.assert_allclose(h_host[key], h_dev[key], rtol=1e-6)
    np.testing.assert_allclose(e_host, e_dev, rtol=1e-6)
    np.testing.assert_array_equal(p_host, p_dev)
    assert isinstance(p_dev, np.ndarray)
    np.testing.assert_allclose(t_host, t_dev, rtol=1e-6)


@pytest.mark.parametrize("device", GPU_ONLY)
def test_cupy_inputs_are_checked_on_the_gpu_and_copied_for_a_cpu_model(device):
    cupy = pytest.importorskip("cupy")
    x, labels = _data()
    x = x.astype(np.float32)  # used where it is: no conversion, which would check it too
    model = _mlp()("float32", device)
    model.fit(cupy.asarray(x[:32]), cupy.asarray(labels[:32]), epochs=1, verbose=0)
    before = model.get_weights()
    bad = cupy.asarray(x)
    bad[100, 2] = cupy.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        model.fit(bad, cupy.asarray(labels), verbose=0)
    with pytest.raises(ValueError, match="x contains NaN"):
        model.predict(bad, verbose=0)
    with pytest.raises(ValueError, match="expects samples of shape"):
        model.fit(cupy.asarray(x[:, :5]), cupy.asarray(labels), verbose=0)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    cpu = _mlp()("float32", "cpu")  # a CPU model takes CuPy arrays too: copied to the host
    cpu.set_weights([cupy.asarray(w) for w in model.get_weights()])
    np.testing.assert_allclose(
        cpu.predict(cupy.asarray(x), verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize("device", GPU_ONLY)
def test_a_model_collected_during_another_models_capture_leaves_it_intact(device, monkeypatch):
    """Destroying a cuBLAS handle synchronizes the device, which would end a capture under way:
    a collected model's handle is destroyed later, outside any capture."""
    x, labels = _data(n=320)
    other = _mlp()("float32", device)
    other.fit(x[:64], labels[:64], epochs=1, verbose=0)
    held = [other]
    del other
    model = _mlp()("float32", device)
    engine = model._engine
    step = engine._gathered_step

    def step_that_collects(*args):
        if engine.ops.stream.is_capturing() and held:
            held.clear()
            gc.collect()
        step(*args)

    monkeypatch.setattr(engine, "_gathered_step", step_that_collects)
    model.fit(x, labels, epochs=2, batch_size=32, verbose=0)
    assert not held
    assert engine.ops.graph_error is None
    assert engine._graphs


@pytest.mark.parametrize("device", DEVICES)
def test_error_metrics_use_the_targets_as_passed_like_the_cpu_engine(device):
    """mse / mae against y as passed, where the loss prepared other targets ({0, 1} -> {-1, +1}
    for the hinge loss; label smoothing): training and validation sets each with their own."""
    x, labels = _data()
    y01 = (labels[:, None] > 0).astype(float)
    cases = [
        (_mlp(last="tanh", units=1, loss="hinge", metrics=("mae", "mse")), y01, 2 * y01 - 1),
        (
            _mlp(loss=losses.CategoricalCrossentropy(label_smoothing=0.2), metrics=("mse", "mae")),
            np.eye(3)[labels],
            np.eye(3)[(labels + 1) % 3],
        ),
    ]
    for make, y, y_val in cases:
        models = _pair(make, device)
        histories = [
            m.fit(
                x, y, batch_size=16, epochs=2, shuffle=False, validation_data=(x, y_val), verbose=0
            )
            for m in models
        ]
        for key in histories[0].history:
            np.testing.assert_allclose(
                histories[1].history[key], histories[0].history[key], rtol=1e-9
            )
        p = models[1].predict(x, verbose=0)
        logs = models[1].evaluate(x, y_val, verbose=0, return_dict=True)
        assert logs["mse"] == pytest.approx(np.mean((p - y_val) ** 2), rel=1e-9)
        assert logs["mae"] == pytest.approx(np.mean(np.abs(p - y_val)), rel=1e-9)
