"""The benchmark suite (bench/) runs end to end: `run.py --quick` prints its tables and writes JSON.

No speed is asserted here: timings depend on the machine and its load. The quick run needs MNIST
in $FASTMLP_DATA/mnist (skipped, with the reason, otherwise) and takes about 20 s on 2 cores.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def bench_module(name: str) -> ModuleType:
    """bench/<name>.py, loaded from its file (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    root = os.environ.get("FASTMLP_DATA")
    if not root:
        pytest.skip("FASTMLP_DATA is not set: point it at a folder holding mnist/")
    missing = [f for f in MNIST_FILES if not (Path(root) / "mnist" / f).is_file()]
    if missing:
        pytest.skip(f"FASTMLP_DATA={root}: mnist/ lacks {', '.join(missing)}")
    import fastmlp

    env = dict(os.environ)
    package_root = str(Path(fastmlp.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--quick",
            "--frameworks",
            "fastmlp,numpy",
            "--json",
            str(out),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, f"run.py failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout, json.loads(out.read_text())


def test_quick_run_prints_one_table_row_per_framework(quick_run: tuple[str, Any]) -> None:
    stdout, _ = quick_run
    rows = [line for line in stdout.splitlines() if line.startswith("| ")]
    header = next(r for r in rows if r.startswith("| framework | threads |"))
    for column in (
        "batch 32 s/epoch",
        "batch 256 s/epoch",
        "predict 10k ms",
        "playground steps/s",
        "L2 epoch 5 / epoch 1",
    ):
        assert column in header
    assert any(r.startswith("| fastmlp | ") for r in rows)
    assert any(r.startswith("| NumPy by hand | ") for r in rows)
    assert "QUICK smoke run" in stdout  # extrapolated numbers say so


def test_quick_run_json_holds_every_workload_for_every_framework(
    quick_run: tuple[str, Any],
) -> None:
    _, report = quick_run
    assert report["settings"]["quick"] is True
    assert report["machine"]["cpu"] and report["machine"]["logical_cpus"] >= 1
    assert set(report["frameworks"]) == {"fastmlp", "numpy"}
    for key, fw in report["frameworks"].items():
        assert fw["status"] == "ok", fw
        assert fw["versions"], key
        s = report["summary"][key]
        for bs in ("32", "256"):
            lecture = s["lecture"][bs]
            assert lecture["s_per_epoch"]["median"] > 0
            assert lecture["gflops"] > 0
            assert 0 <= lecture["accuracy"]["median"] <= 1
            assert lecture["extrapolated"] is True
        assert s["predict"]["ms"]["median"] > 0
        assert s["playground"]["steps_per_s"]["median"] > 0
        assert len(s["l2"]["s_per_epoch"]) == 5 and s["l2"]["ratio"]["median"] > 0
    assert report["targets"][0]["workload"] == "lecture model, batch 32"
    assert report["markdown"].startswith("fastmlp benchmark")


def test_one_epoch_of_the_lecture_model_is_27_3_gflop() -> None:
    report = bench_module("report")
    assert report.forward_flops([784, 128, 64, 10], 1) == 2 * (784 * 128 + 128 * 64 + 64 * 10)
    assert report.train_flops([784, 128, 64, 10], 60_000) / 1e9 == pytest.approx(27.26, abs=0.01)


def test_summary_pools_repetitions_into_median_and_range() -> None:
    report = bench_module("report")
    runs = [
        {
            "framework": "x",
            "results": {"lecture": {"32": {"epoch_s": [1.0, 3.0], "accuracy": 0.9}}},
        },
        {"framework": "x", "results": {"lecture": {"32": {"epoch_s": [2.0], "accuracy": 0.8}}}},
        {"framework": "y", "error": "ImportError: no module"},
    ]
    summary = report.summarize(runs, {"samples": 60_000})
    st = summary["x"]["lecture"]["32"]["s_per_epoch"]
    assert (st["median"], st["min"], st["max"], st["n"]) == (2.0, 1.0, 3.0, 3)
    assert "y" not in summary
