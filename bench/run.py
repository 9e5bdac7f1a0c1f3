"""fastmlp against PyTorch, scikit-learn, NumPy and Keras on real MNIST, side by side.

    python bench/run.py [--quick] [--frameworks fastmlp,torch,sklearn,numpy,keras,gpu]
                        [--batch-sizes 32,256] [--repeats N] [--epochs N] [--json out.json]
                        [--workloads ...] [--wide-width 4096] [--wide-batch 4096]

Each framework that is installed runs in a process of its own per repetition (bench/worker.py),
so that thread pools, BLAS libraries and allocators never share a process; the frameworks take
turns within each repetition, in a rotated order, so that a slow spell of the machine does not
land on one of them. Prints a markdown table; writes the raw timings and the summary as JSON
(bench/results/latest.json unless --json says otherwise). See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import report as report_module

BENCH = Path(__file__).resolve().parent
DEFAULT_JSON = BENCH / "results" / "latest.json"
CPU_WORKLOADS = ("lecture", "predict", "playground", "l2")
# "wide" (4096-4096-4096-10 against the GEMM rate) runs by default on the GPU rows only: on a
# CPU it takes minutes. --workloads wide runs it on the fastmlp and PyTorch CPU rows too.
ALL_WORKLOADS = (*CPU_WORKLOADS, "wide")
GPU_WORKLOADS = ("lecture", "predict", "wide")
# Old OpenBLAS builds need these set on this machine; current NumPy and PyTorch wheels choose their
# own kernels, and a forced core type would benchmark the wrong one. Removed for every worker.
UNSET_FOR_WORKERS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
WORKER_TIMEOUT_S = 3600


@dataclass
class Variant:
    """One row of the table: a framework (family) with fixed options, in its own process."""

    key: str
    family: str  # what --frameworks names
    module: str  # impl_*.py
    label: str
    packages: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    workloads: tuple[str, ...] = CPU_WORKLOADS  # what it runs unless --workloads says otherwise
    on_request: tuple[str, ...] = ()  # what it runs only when --workloads names it
    extra: bool = False  # a second row of the family, left out of --quick runs

    def runs(self, workloads: list[str], named: bool) -> list[str]:
        """The workloads of `workloads` this row runs; `named`: --workloads was given."""
        return [w for w in workloads if w in self.workloads or (named and w in self.on_request)]


def variants(cores: int) -> list[Variant]:
    two = min(2, cores)
    out = [
        Variant(
            "fastmlp", "fastmlp", "impl_fastmlp", "fastmlp", ("fastmlp",), on_request=("wide",)
        ),
        # The same engine with its sparse first layer off: every product a dense GEMM.
        Variant(
            "fastmlp-dense",
            "fastmlp",
            "impl_fastmlp",
            "fastmlp, dense products only (set_sparse_inputs(False))",
            ("fastmlp",),
            {"sparse_inputs": False},
            ("lecture", "predict"),
            extra=True,
        ),
        Variant(
            "torch",
            "torch",
            "impl_torch",
            f"PyTorch eager, {two} threads",
            ("torch",),
            {"threads": two},
            on_request=("wide",),
        ),
        Variant(
            "torch-fused",
            "torch",
            "impl_torch",
            "PyTorch eager, Adam(fused=True)",
            ("torch",),
            {"threads": two, "fused": True},
            ("lecture",),
            extra=True,
        ),
    ]
    if cores > 2:
        out.append(
            Variant(
                "torch-allcores",
                "torch",
                "impl_torch",
                f"PyTorch eager, {cores} threads",
                ("torch",),
                {"threads": cores},
                ("lecture",),
                extra=True,
            )
        )
    out += [
        Variant("sklearn", "sklearn", "impl_sklearn", "scikit-learn MLPClassifier", ("sklearn",)),
        Variant("numpy", "numpy", "impl_numpy", "NumPy by hand", ("numpy",)),
        Variant("keras", "keras", "impl_keras", "Keras / TensorFlow fit", ("keras", "tensorflow")),
        # The GPU column (--frameworks gpu): the lecture model, predict and the wide model on an
        # NVIDIA GPU; reported as not supported where CuPy, a CUDA build of torch or a GPU is
        # missing. Try --batch-sizes 32,256,4096.
        Variant(
            "fastmlp-gpu",
            "gpu",
            "impl_fastmlp",
            "fastmlp on the GPU (CuPy, CUDA graphs)",
            ("fastmlp", "cupy"),
            {"device": "gpu"},
            GPU_WORKLOADS,
        ),
        Variant(
            "torch-cuda",
            "gpu",
            "impl_torch",
            "PyTorch eager on the GPU (CUDA)",
            ("torch",),
            {"device": "cuda"},
            GPU_WORKLOADS,
        ),
        # What CUDA-graph replay brings to fastmlp (FASTMLP_CUDA_GRAPHS=0 in its worker), and
        # PyTorch with the same trick: its whole training step captured and replayed.
        Variant(
            "fastmlp-gpu-eager",
            "gpu",
            "impl_fastmlp",
            "fastmlp on the GPU, CUDA graphs off",
            ("fastmlp", "cupy"),
            {"device": "gpu", "cuda_graphs": False},
            ("lecture", "wide"),
            extra=True,
        ),
        Variant(
            "torch-cuda-graph",
            "gpu",
            "impl_torch",
            "PyTorch on the GPU, whole step captured as a CUDA graph",
            ("torch",),
            {"device": "cuda", "cuda_graph": True},
            ("lecture", "wide"),
            extra=True,
        ),
        Variant(
            "floor",
            "floor",
            "impl_floor",
            "the dense GEMMs alone (NumPy's BLAS)",
            ("numpy",),
            workloads=("lecture", "predict"),
            extra=True,
        ),
    ]
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run in under a minute: 1 repetition, epochs of 10,000 samples "
        "(extrapolated, and labelled so), fastmlp/torch/numpy unless --frameworks",
    )
    p.add_argument(
        "--frameworks",
        help="comma-separated: fastmlp,torch,sklearn,numpy,keras,gpu (or one row: "
        "fastmlp-dense, torch-fused, floor, fastmlp-gpu, torch-cuda, fastmlp-gpu-eager, "
        "torch-cuda-graph); default: all",
    )
    p.add_argument(
        "--batch-sizes",
        default="32,256",
        help="lecture-model batch sizes, comma-separated (default 32,256)",
    )
    p.add_argument("--repeats", type=int, help="repetitions per framework (default 3, quick 1)")
    p.add_argument(
        "--epochs", type=int, help="timed epochs per batch size and repetition (default 5, quick 1)"
    )
    p.add_argument(
        "--workloads",
        help=f"comma-separated subset of {','.join(ALL_WORKLOADS)} (default: each row's own: "
        f"{','.join(CPU_WORKLOADS)} on the CPU, {','.join(GPU_WORKLOADS)} on the GPU)",
    )
    p.add_argument(
        "--wide-width", type=int, default=4096, help="width of the wide model (default 4096)"
    )
    p.add_argument(
        "--wide-batch", type=int, default=4096, help="batch size of the wide model (default 4096)"
    )
    p.add_argument(
        "--wide-samples",
        type=int,
        default=8192,
        help="synthetic training samples of the wide model (default 8192)",
    )
    p.add_argument(
        "--wide-epochs",
        type=int,
        default=20,
        help="epochs per timed `fit` call of the wide model (default 20: 40 steps, ~0.5 s on an H200)",
    )
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where the JSON goes")
    p.add_argument(
        "--summarize",
        type=Path,
        metavar="JSON",
        help="run nothing: recompute the summary and tables of a saved run, rewrite it, print it",
    )
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    named = args.workloads is not None
    workloads = [w for w in args.workloads.split(",") if w] if named else list(ALL_WORKLOADS)
    unknown = sorted(set(workloads) - set(ALL_WORKLOADS))
    if unknown:
        sys.exit(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(ALL_WORKLOADS)}"
        )
    if "predict" in workloads and "lecture" not in workloads:
        sys.exit(
            "--workloads predict needs lecture too: it predicts with the trained lecture model"
        )
    return {
        "quick": quick,
        "repeats": args.repeats or (1 if quick else 3),
        "epochs": args.epochs or (1 if quick else 5),
        "batch_sizes": [int(b) for b in args.batch_sizes.split(",")],
        "samples": 10_000 if quick else 60_000,
        "l2": 1e-4,
        "l2_batch_size": 32,
        "l2_epochs": 5,
        "playground_seconds": 0.2 if quick else 1.0,
        "predict_calls": 5 if quick else 20,
        "workloads": workloads,
        "workloads_named": named,
        "wide_width": args.wide_width,
        "wide_batch": args.wide_batch,
        "wide_samples": args.wide_samples,
        "wide_epochs": args.wide_epochs,
        "wide_calls": 3,  # timed `fit` calls, after one untimed
        "gemm_calls": 20,  # products per timed block, 3 blocks after a warm-up
    }


def select(all_variants: list[Variant], names: str | None, quick: bool) -> list[Variant]:
    if names is None:
        wanted = ["fastmlp", "torch", "numpy"] if quick else None
        return [
            v
            for v in all_variants
            if (wanted is None or v.family in wanted) and not (quick and v.extra)
        ]
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {v.family for v in all_variants} | {v.key for v in all_variants}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        sys.exit(
            f"unknown framework(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
        )
    return [
        v
        for v in all_variants
        if v.key in wanted or (v.family in wanted and not (quick and v.extra))
    ]


def installed(v: Variant) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in v.packages)


def machine() -> dict[str, Any]:
    cpu, flags = platform.processor() or "unknown CPU", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and cpu.startswith(("unknown", "x86")):
                    cpu = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = value.split()
    except OSError:
        pass
    simd = [f for f in flags if f.startswith(("sse", "ssse", "avx", "fma", "amx", "f16c"))]
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "simd": " ".join(simd) or "unknown",
        "flags": " ".join(flags),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_start": list(os.getloadavg()),
    }


def write_data(folder: Path) -> tuple[Path, Path]:
    """MNIST (through fastmlp's loader, $FASTMLP_DATA) and the playground's circle, once for all."""
    from fastmlp.datasets import mnist

    (x, y), (xt, yt) = mnist.load_data()
    mnist_path = folder / "mnist.npz"
    np.savez(
        mnist_path,
        x_train=x.reshape(len(x), -1),
        y_train=y.astype(np.int64),
        x_test=xt.reshape(len(xt), -1),
        y_test=yt.astype(np.int64),
    )
    # The playground's "circle": 250 points inside radius 2.5 (+1), 250 from 3.5 to 5 (-1).
    rng = np.random.default_rng(0)
    r = np.concatenate([rng.uniform(0, 2.5, 250), rng.uniform(3.5, 5, 250)])
    angle = rng.uniform(0, 2 * np.pi, 500)
    px = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1).astype(np.float32)
    py = np.where(r < 2.5, 1.0, -1.0).astype(np.float32).reshape(-1, 1)
    playground_path = folder / "playground.npz"
    np.savez(playground_path, x=px, y=py)
    return mnist_path, playground_path


def worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET_FOR_WORKERS}
    import fastmlp  # workers import the fastmlp this process found, even via a PYTHONPATH

    root = str(Path(fastmlp.__file__).resolve().parents[1])
    paths = env.get("PYTHONPATH", "").split(os.pathsep)
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in paths if p]])
    return env


def run_worker(
    v: Variant, cfg: dict[str, Any], folder: Path, env: dict[str, str]
) -> dict[str, Any]:
    """worker.py for one framework and repetition. Its progress lines and any traceback go to
    our stderr; our stdout carries only the markdown."""
    cfg_path, out_path = folder / f"{v.key}.cfg.json", folder / f"{v.key}.out.json"
    out_path.unlink(missing_ok=True)
    cfg_path.write_text(json.dumps(cfg))
    start, busy, ours = time.perf_counter(), _busy_cpu_s(), _children_cpu_s()
    try:
        proc = subprocess.run(
            [sys.executable, str(BENCH / "worker.py"), str(cfg_path), str(out_path)],
            check=False,
            env=env,
            stdout=sys.stderr,
            timeout=WORKER_TIMEOUT_S,
        )
        if out_path.exists():
            out = json.loads(out_path.read_text())
        else:
            out = {"error": f"worker exited with status {proc.returncode} (its output is above)"}
    except subprocess.TimeoutExpired:
        out = {"error": f"timed out after {WORKER_TIMEOUT_S} s"}
    out["wall_s"] = time.perf_counter() - start
    if busy is not None:
        others = (_busy_cpu_s() - busy) - (_children_cpu_s() - ours)
        out["others_cpus"] = max(0.0, others / out["wall_s"])
    return out


def _busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has been busy (/proc/stat), None where there is no /proc."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(t) for t in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_all(
    runnable: list[Variant], settings: dict[str, Any], frameworks: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every repetition of every framework, each in its own worker; the order rotates per
    repetition. Updates `frameworks` with what the workers report (versions, threads, errors)."""
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fastmlp-bench-") as tmp:
        folder = Path(tmp)
        mnist_path, playground_path = write_data(folder)
        env = worker_env()
        for rep in range(settings["repeats"]):
            shift = rep % max(1, len(runnable))
            for v in runnable[shift:] + runnable[:shift]:
                cfg = {
                    **settings,
                    "module": v.module,
                    "options": v.options,
                    "workloads": v.runs(settings["workloads"], settings["workloads_named"]),
                    "seed": rep,
                    "mnist": str(mnist_path),
                    "playground": str(playground_path),
                }
                print(f"[{rep + 1}/{settings['repeats']}] {v.label}", file=sys.stderr, flush=True)
                out = run_worker(v, cfg, folder, env)
                problem = out.get("error") or out.get("unsupported") or "done"
                print(f"    {problem} in {out['wall_s']:.1f} s", file=sys.stderr, flush=True)
                runs.append({"framework": v.key, "repeat": rep, **out})
                fw = frameworks[v.key]
                if "unsupported" in out:
                    fw["status"] = f"not supported ({out['unsupported']})"
                elif "error" in out:
                    fw["status"], fw["error"] = f"error: {out['error']}", out["error"]
                else:
                    fw.update(versions=out["versions"], threads=out["threads"], blas=out["blas"])
    return runs


def finish(report: dict[str, Any], path: Path) -> None:
    """Summary, targets and markdown from the raw runs; writes the JSON, prints the markdown."""
    report["summary"] = report_module.summarize(report["runs"], report["settings"])
    report["targets"] = report_module.check_targets(report)
    report["markdown"] = report_module.markdown(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    print(report["markdown"])
    print(f"JSON: {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summarize:
        finish(json.loads(args.summarize.read_text()), args.summarize)
        return 0
    settings = settings_from(args)
    chosen = select(variants(os.cpu_count() or 1), args.frameworks, settings["quick"])
    mach = machine()
    started = datetime.datetime.now(datetime.timezone.utc)
    frameworks = {
        v.key: {
            "label": v.label,
            "status": "ok" if installed(v) else "not installed",
            "options": v.options,
            "versions": {},
        }
        for v in chosen
    }
    runs = run_all([v for v in chosen if frameworks[v.key]["status"] == "ok"], settings, frameworks)
    for v in chosen:  # installed, but no run got as far as reporting versions
        fw = frameworks[v.key]
        if not fw["versions"] and fw["status"] != "not installed":
            fw["versions"] = {p: _version(p) for p in v.packages}
    mach["loadavg_end"] = list(os.getloadavg())
    report = {
        "schema": 1,
        "date": started.isoformat(timespec="seconds"),
        "duration_s": (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(),
        "machine": mach,
        "settings": settings,
        "unset_environment": [k for k in UNSET_FOR_WORKERS if k in os.environ],
        "frameworks": frameworks,
        "runs": runs,
    }
    finish(report, args.json)
    return 1 if any(fw["status"].startswith("error") for fw in frameworks.values()) else 0


def _version(package: str) -> str:
    dist = {"sklearn": "scikit-learn"}.get(package, package)
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
