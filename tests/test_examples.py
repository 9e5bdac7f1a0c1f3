"""Every program in examples/ runs to completion (with short epoch counts) and saves its pictures.

Examples 01-06 need matplotlib; example 07 needs the MNIST files in $FASTMLP_DATA/mnist/.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import fastmlp
import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def example(name: str) -> dict:
    """The example's module namespace, loaded without running its command line."""
    return runpy.run_path(str(EXAMPLES / name), run_name="example")


def read_png(path: Path):
    mpimg = pytest.importorskip("matplotlib.image")
    assert path.is_file(), f"{path.name} was not written"
    return mpimg.imread(path)


@pytest.fixture(autouse=True)
def needs_matplotlib(request):
    if "mnist" not in request.node.name:
        pytest.importorskip("matplotlib")


def test_01_logistic_regression_prints_weights_and_saves_the_boundary(tmp_path, capsys):
    result = example("01_logistic_regression.py")["main"](epochs=10, out=tmp_path)
    assert result["test_accuracy"] > 0.95
    assert result["w1"] > 0 and result["w2"] > 0  # blue sits at (2, 2)
    assert "w1 = " in capsys.readouterr().out
    assert read_png(tmp_path / "01_logistic_regression.png").shape[:2] == (500, 500)


def test_02_three_noisy_runs_find_similar_weights(tmp_path):
    rows = example("02_logistic_regression_noise.py")["main"](epochs=10, out=tmp_path)
    assert len(rows) == 3
    assert all(0 < row["angle"] < 90 for row in rows)  # w points into the first quadrant
    assert read_png(tmp_path / "02_logistic_regression_noise.png").shape[:2] == (540, 1500)


def test_03_circle_needs_a_hidden_layer_or_squared_features(tmp_path):
    results = example("03_circle_hidden_neurons.py")["main"](epochs=40, out=tmp_path)
    accuracies = list(results.values())
    assert accuracies[0] < 0.75 and accuracies[2] > 0.95
    read_png(tmp_path / "03_circle.png")
    read_png(tmp_path / "03_circle_neurons.png")


def test_04_spiral_runs_both_networks(tmp_path):
    results = example("04_spiral_wider_network.py")["main"](epochs=20, out=tmp_path)
    assert len(results) == 2
    read_png(tmp_path / "04_spiral.png")
    assert read_png(tmp_path / "04_spiral_overview.png").shape[:2] == (550, 1300)


def test_05_compares_four_activations(tmp_path):
    results = example("05_activations_deep_net.py")["main"](epochs=40, out=tmp_path)
    assert list(results) == ["linear", "sigmoid", "relu", "tanh"]
    assert results["relu"] > 0.9 and results["linear"] < 0.75
    read_png(tmp_path / "05_activations.png")


def test_06_zero_initialisation_tanh_learns_nothing_sigmoid_learns_with_equal_neurons(
    tmp_path, capsys
):
    results = example("06_zero_initialisation.py")["main"](epochs=1000, out=tmp_path)
    assert results["random U(-0.5, 0.5), tanh"] > 0.95 and results["zeros, tanh"] < 0.6
    # what the docstring says: zero-initialised sigmoid neurons learn, but stay equal
    assert results["zeros, sigmoid"] > 0.95
    out = capsys.readouterr().out
    sigmoid_line = next(line for line in out.splitlines() if line.startswith("zeros, sigmoid"))
    assert sigmoid_line.endswith("distinct neurons per hidden layer: [1, 1]")
    assert "every weight still 0: True" in out
    read_png(tmp_path / "06_zero_init.png")
    read_png(tmp_path / "06_zero_init_neurons.png")


def test_readme_logistic_regression_snippet_is_logistic_regression(tmp_path, monkeypatch):
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```python\n")[1:]
    snippet = next(block.split("```")[0] for block in blocks if "logistic regression" in block)
    monkeypatch.chdir(tmp_path)  # it saves circle.png
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 (the README's own code, run as a reader would)
    model = namespace["pg"].model
    assert model.layers[-1].activation.__name__ == "sigmoid" and len(model.layers) == 1
    assert isinstance(model.loss, fastmlp.losses.BinaryCrossentropy)
    assert namespace["pg"].history["test_accuracy"][-1] > 0.95
    read_png(tmp_path / "circle.png")


def test_an_example_runs_as_a_script_with_its_options(tmp_path):
    script = EXAMPLES / "01_logistic_regression.py"
    env = dict(os.environ)
    package_dir = str(Path(fastmlp.__file__).resolve().parents[1])  # the fastmlp this test uses
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_dir, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(script), "--epochs", "2", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "01_logistic_regression.png").is_file()


@pytest.mark.parametrize(
    "name",
    [path.name for path in sorted(EXAMPLES.glob("*.py")) if path.name[:2] not in ("07", "08")],
)
def test_a_picture_example_without_matplotlib_says_how_to_install_it(tmp_path, name):
    # A stand-in matplotlib package that cannot be imported, first on the path: each example
    # stops at once (before any training) with fastmlp's ImportError, which names the extra.
    (tmp_path / "matplotlib").mkdir()
    (tmp_path / "matplotlib" / "__init__.py").write_text("raise ImportError('no matplotlib')\n")
    env = dict(os.environ)
    package_dir = str(Path(fastmlp.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), package_dir]))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--epochs", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        'ImportError: fastmlp.playground pictures need matplotlib: pip install "fastmlp[plot]"'
    )
    assert "epoch" not in done.stdout.lower() and not list(tmp_path.glob("*.png"))


def test_07_keras_mnist_one_epoch(monkeypatch, capsys):
    root = os.environ.get("FASTMLP_DATA")
    if not root:
        pytest.skip("FASTMLP_DATA is not set: point it at a folder holding mnist/")
    missing = [f for f in MNIST_FILES if not (Path(root) / "mnist" / f).is_file()]
    if missing:
        pytest.skip(f"FASTMLP_DATA={root}: mnist/ lacks {', '.join(missing)}")
    monkeypatch.setattr(sys, "argv", ["07_keras_mnist.py"])
    accuracy = example("07_keras_mnist.py")["main"](epochs=1, verbose=0)
    assert accuracy > 0.9
    assert "Total params" in capsys.readouterr().out


def test_09_optimizers_compares_six_runs_and_saves_the_picture(tmp_path):
    root = os.environ.get("FASTMLP_DATA")
    if not root or any(not (Path(root) / "mnist" / f).is_file() for f in MNIST_FILES):
        pytest.skip("FASTMLP_DATA is not set to a folder holding mnist/")
    results = example("09_optimizers.py")["main"](epochs=1, out=tmp_path, samples=3000)
    assert len(results) == 6
    assert results["Adam (0.001)"] > results["SGD (0.01)"] + 0.05
    assert results["SGD + momentum 0.9"] > results["SGD (0.01)"]
    assert results["Adadelta (1.0)"] > results["Adadelta (0.001)"] + 0.3
    assert (tmp_path / "09_optimizers.png").is_file()


def test_10_class_weight_finds_more_of_a_rare_class(tmp_path):
    root = os.environ.get("FASTMLP_DATA")
    if not root or any(not (Path(root) / "mnist" / f).is_file() for f in MNIST_FILES):
        pytest.skip("FASTMLP_DATA is not set to a folder holding mnist/")
    ns = example("10_imbalanced.py")
    results = ns["main"](epochs=1, out=tmp_path, samples=20000)
    plain, weighted = results.values()
    assert weighted["recall"] > plain["recall"] + 0.2
    assert plain["recall"] < 0.5  # (the plain network says "8" rarely, if ever)
    assert plain["accuracy"] > 0.9 and min(plain["auc"], weighted["auc"]) > 0.8
    assert (tmp_path / "10_imbalanced.png").is_file()
    # the drawn curve's area is the exact ROC AUC (the rank statistic)
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.2).astype(float)
    p = np.round(rng.random(500) * 0.5 + 0.4 * y, 2)  # with ties
    positives, negatives = p[y == 1], p[y == 0]
    exact = np.mean(positives[:, None] > negatives) + np.mean(positives[:, None] == negatives) / 2
    assert ns["curves"](p, y)["area"] == pytest.approx(exact, abs=0.02)


def test_08_gpu_mnist_runs_the_gpu_engine_and_moves_the_weights_to_the_cpu(capsys):
    root = os.environ.get("FASTMLP_DATA")
    if not root or any(not (Path(root) / "mnist" / f).is_file() for f in MNIST_FILES):
        pytest.skip("FASTMLP_DATA does not hold mnist/")
    accuracy = example("08_gpu_mnist.py")["main"](epochs=1, batch_size=256, device="numpy")
    out = capsys.readouterr().out
    assert accuracy > 0.9
    assert "numpy: test accuracy" in out
    difference = float(out.rsplit("probabilities", 1)[1])
    assert difference < 1e-4
