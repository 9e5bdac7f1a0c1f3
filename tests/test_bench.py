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

import numpy as np
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
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run_bench(folder: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """`run.py --quick ARGS` in a subprocess: its markdown and its JSON (skips without MNIST)."""
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
    out = folder / "quick.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", *args, "--json", str(out)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, f"run.py failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout, json.loads(out.read_text())


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    return run_bench(tmp_path_factory.mktemp("bench"), "--frameworks", "fastmlp,numpy")


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
    # L2 decay drives weights into subnormal floats where nothing flushes them (NumPy by hand);
    # fastmlp's flush-to-zero leaves none (they become exact zeros).
    assert report["summary"]["numpy"]["l2"]["subnormal_weights"] > 0
    assert report["summary"]["fastmlp"]["l2"]["subnormal_weights"] == 0
    assert "0 subnormal weights" in report["markdown"]
    assert report["targets"][0]["workload"] == "lecture model, batch 32"
    assert report["markdown"].startswith("fastmlp benchmark")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subnormal_count_counts_only_nonzero_values_below_the_smallest_normal(dtype) -> None:
    worker = bench_module("worker")
    tiny = np.finfo(dtype).tiny
    w = np.array([0.0, -0.0, tiny, -tiny, tiny / 2, -tiny / 4, 1.0, np.nan], dtype=dtype)
    assert worker.subnormal_count([w, w[4:6].reshape(1, 2)]) == 4
    assert worker.subnormal_count([]) == 0


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


# -- the wide workload and the GPU column, as far as a CPU can run them -------------------------

WIDE_SMALL = {
    "wide_width": 16,
    "wide_batch": 32,
    "wide_samples": 512,
    "wide_epochs": 10,
    "wide_calls": 2,
    "gemm_calls": 2,
    "seed": 0,
}


@pytest.fixture
def sparse_setting_kept() -> Any:
    """impl_fastmlp.Framework sets fastmlp's sparse-inputs switch for its process: restore it."""
    import fastmlp

    before = fastmlp.config.get_sparse_inputs()
    yield
    fastmlp.config.set_sparse_inputs(before)


def wide_framework(name: str) -> Any:
    if name == "torch":
        pytest.importorskip("torch")
        return bench_module("impl_torch").Framework(threads=1)
    return bench_module("impl_fastmlp").Framework(device=name)


@pytest.mark.parametrize("name", ["cpu", "numpy", "torch"])
def test_wide_workload_trains_and_times_the_gemm_on_the_cpu(
    name: str, sparse_setting_kept: Any
) -> None:
    worker = bench_module("worker")
    out = worker.wide(wide_framework(name), dict(WIDE_SMALL))
    assert (out["width"], out["batch"], out["samples"], out["epochs"]) == (16, 32, 512, 10)
    assert len(out["call_s"]) == 2 and min(out["call_s"]) > 0
    assert len(out["gemm_s"]) == worker.GEMM_BLOCKS and min(out["gemm_s"]) > 0
    # Labels from a linear teacher: 30 epochs of a 16-16-16-10 net beat chance (about 0.1) easily
    # (0.65 for fastmlp, 0.82 for PyTorch).
    assert 0.4 < out["train_accuracy"] <= 1


def test_wide_data_is_the_same_in_every_worker_and_learnable() -> None:
    worker = bench_module("worker")
    x, y = worker.wide_data(32, 1000)
    x2, y2 = worker.wide_data(32, 1000)
    assert x.dtype == np.float32 and x.shape == (1000, 32) and y.shape == (1000,)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert len(np.unique(y)) == 10  # every class appears: a 10-way problem, not a constant


def test_fastmlp_row_without_cuda_graphs_sets_the_switch_for_its_process(
    monkeypatch: pytest.MonkeyPatch, sparse_setting_kept: Any
) -> None:
    monkeypatch.delenv("FASTMLP_CUDA_GRAPHS", raising=False)
    bench_module("impl_fastmlp").Framework(device="numpy", cuda_graphs=False)
    assert os.environ["FASTMLP_CUDA_GRAPHS"] == "0"


def test_torch_cuda_graph_row_needs_cuda() -> None:
    torch = pytest.importorskip("torch")
    impl = bench_module("impl_torch")
    with pytest.raises(ValueError, match="cuda_graph=True needs device='cuda'"):
        impl.Framework(device="cpu", cuda_graph=True)
    if not torch.cuda.is_available():  # reported as "not supported" by the worker
        with pytest.raises(NotImplementedError, match="no CUDA"):
            impl.Framework(device="cuda", cuda_graph=True)


def test_wide_model_flops_match_a_count_of_its_products() -> None:
    report = bench_module("report")
    width, n = 4096, 8192
    sizes = [width, width, width, 10]
    products = []  # (rows, inner, cols) of every matrix product of one step on n samples
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        products.append((n, fan_in, fan_out))  # forward: x W
        products.append((fan_in, n, fan_out))  # weight gradient: x^T g
        if k > 0:  # input gradient g W^T; the first layer's (the data's) is never needed
            products.append((n, fan_out, fan_in))
    assert report.wide_sizes(width) == sizes
    assert report.train_flops(sizes, n) == sum(2 * r * i * c for r, i, c in products)
    assert report.gemm_flops(3) == 2 * 27  # 9 outputs, 3 multiplies and 3 adds each
    a = np.arange(9.0).reshape(3, 3)
    assert report.gemm_flops(3) == 2 * a.size * a.shape[1]


def gpu_report(torch_cuda: dict[str, Any] | None) -> dict[str, Any]:
    """A synthetic run of the GPU column: fastmlp-gpu measured; torch-cuda as given or absent."""
    width = 4096
    report_module = bench_module("report")
    flops = report_module.train_flops(report_module.wide_sizes(width), 20 * 8192)  # one call's
    fastmlp_results = {
        "lecture": {"32": {"epoch_s": [0.5, 0.6], "accuracy": 0.975}},
        "wide": {
            "width": width,
            "batch": 4096,
            "samples": 8192,
            "epochs": 20,
            "call_s": [flops / 42e12, flops / 40e12, flops / 44e12],
            "gemm_s": [2 * width**3 / 50e12] * 3,
            "train_accuracy": 0.9,
        },
    }
    frameworks = {
        "fastmlp-gpu": {"label": "fastmlp on the GPU", "status": "ok", "threads": 1},
        "torch-cuda": {"label": "PyTorch eager on the GPU", "status": "not supported (no CUDA)"},
    }
    runs = [{"framework": "fastmlp-gpu", "repeat": 0, "results": fastmlp_results}]
    if torch_cuda is not None:
        frameworks["torch-cuda"]["status"] = "ok"
        runs.append({"framework": "torch-cuda", "repeat": 0, "results": torch_cuda})
    settings = {
        "samples": 60_000,
        "batch_sizes": [32],
        "workloads": ["lecture", "predict", "playground", "l2", "wide"],
        "epochs": 2,
        "repeats": 1,
        "quick": False,
        "l2": 1e-4,
        "l2_epochs": 5,
        "l2_batch_size": 32,
        "wide_width": width,
    }
    machine = {"cpu": "x", "logical_cpus": 2, "simd": "avx2", "python": "3"}
    machine.update(loadavg_start=[0.0], loadavg_end=[0.0])
    report = {"date": "today", "machine": machine, "settings": settings}
    report.update(frameworks=frameworks, runs=runs)
    report["summary"] = report_module.summarize(runs, settings)
    report["targets"] = report_module.check_targets(report)
    report["markdown"] = report_module.markdown(report)
    return report


def test_gpu_targets_with_pytorch_cuda_missing_are_not_measured_and_the_table_holds() -> None:
    report = gpu_report(None)
    wide = report["summary"]["fastmlp-gpu"]["wide"]
    assert wide["gemm_tflops"]["median"] == pytest.approx(50)
    assert wide["tflops"]["median"] == pytest.approx(42)
    assert (wide["tflops"]["min"], wide["tflops"]["max"]) == pytest.approx((40, 44))
    targets = {t["workload"]: t for t in report["targets"]}
    batch32 = targets["GPU: lecture model, batch 32"]
    assert (batch32["fastmlp"], batch32["pytorch"], batch32["met"]) == (0.55, None, None)
    assert batch32["floor"] is None
    ratio = targets["GPU: wide model 4096-4096-4096-10"]
    assert ratio["fastmlp"] == pytest.approx(42 / 50)
    assert ratio["met"] is True
    md = report["markdown"]
    assert "| PyTorch eager on the GPU | – | not supported (no CUDA) |" in md
    assert "wide model TFLOP/s · GEMM TFLOP/s · ratio" in md
    assert "Wide model: 4096-4096-4096-10" in md
    assert "42.0 (40.0–44.0) · 50.0 (50.0–50.0) · 84%" in md


def test_gpu_target_at_batch_32_compares_with_pytorch_cuda_from_the_same_run() -> None:
    report = gpu_report({"lecture": {"32": {"epoch_s": [2.0], "accuracy": 0.97}}})
    targets = {t["workload"]: t for t in report["targets"]}
    batch32 = targets["GPU: lecture model, batch 32"]
    assert (batch32["pytorch"], batch32["met"]) == (2.0, True)  # 2.0 / 0.55
    assert "3.64× faster" in report["markdown"]
    # the CPU rows' targets stay unmeasured: no CPU row ran
    assert targets["lecture model, batch 32"]["met"] is None


def test_cpu_only_runs_show_no_gpu_targets() -> None:
    report = bench_module("report")
    summary = report.summarize([], {"samples": 60_000})
    targets = report.check_targets({"summary": summary, "frameworks": {"fastmlp": {}}})
    assert not [t for t in targets if t["workload"].startswith("GPU")]


def test_wide_runs_on_the_gpu_rows_by_default_and_on_cpu_rows_when_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))  # run.py imports report.py as a sibling
    run = bench_module("run")
    rows = {v.key: v for v in run.variants(2)}
    every = list(run.ALL_WORKLOADS)
    assert "wide" in rows["fastmlp-gpu"].runs(every, named=False)
    assert "wide" in rows["torch-cuda-graph"].runs(every, named=False)
    assert "wide" not in rows["fastmlp"].runs(every, named=False)
    assert rows["fastmlp"].runs(["wide"], named=True) == ["wide"]
    assert rows["torch"].runs(["wide"], named=True) == ["wide"]
    assert rows["numpy"].runs(["wide"], named=True) == []
    quick_gpu = [v.key for v in run.select(run.variants(2), "gpu", quick=True)]
    assert quick_gpu == ["fastmlp-gpu", "torch-cuda"]
    every_gpu = [v.key for v in run.select(run.variants(2), "gpu", quick=False)]
    assert every_gpu == ["fastmlp-gpu", "torch-cuda", "fastmlp-gpu-eager", "torch-cuda-graph"]
    assert rows["fastmlp-gpu-eager"].options == {"device": "gpu", "cuda_graphs": False}
    assert rows["torch-cuda-graph"].options == {"device": "cuda", "cuda_graph": True}


def test_quick_run_of_the_wide_workload_on_the_cpu_fills_its_column(tmp_path: Path) -> None:
    stdout, report = run_bench(
        tmp_path,
        *("--frameworks", "fastmlp,numpy", "--workloads", "wide"),
        *("--wide-width", "16", "--wide-batch", "32", "--wide-samples", "256"),
        *("--wide-epochs", "2"),
    )
    assert report["frameworks"]["numpy"]["status"] == "ok"  # ran, with nothing to run
    assert "wide" not in report["summary"].get("numpy", {})
    wide = report["summary"]["fastmlp"]["wide"]
    assert (wide["width"], wide["batch"], wide["samples"], wide["epochs"]) == (16, 32, 256, 2)
    assert wide["tflops"]["n"] == 3 and wide["gemm_tflops"]["n"] == 3
    assert wide["ratio"]["median"] > 0
    assert "wide model TFLOP/s · GEMM TFLOP/s · ratio" in stdout
    assert "GPU:" not in stdout  # no GPU row ran: no GPU targets
