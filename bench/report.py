"""From the workers' raw timings to medians, GFLOP/s, the markdown tables and the targets check."""

from __future__ import annotations

import json
import statistics
from typing import Any

LECTURE = [784, 128, 64, 10]
PLAYGROUND = [2, 8, 8, 1]
MNIST_TRAIN, MNIST_TEST, PLAYGROUND_BATCH = 60_000, 10_000, 10
# A run during which other processes used more CPU than this (on average) is "disturbed": a
# two-thread BLAS or OpenMP loop then waits at every barrier for its descheduled second thread.
DISTURBED_CPUS = 0.2
GPU_PAIR = ("fastmlp-gpu", "torch-cuda")  # issue 6's targets: fastmlp on the GPU, PyTorch on CUDA


def forward_flops(sizes: list[int], samples: int) -> int:
    """2 n (sum of fan_in * fan_out): one multiply and one add per weight and sample."""
    return 2 * samples * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def train_flops(sizes: list[int], samples: int) -> int:
    """Forward + backward. Backward is two GEMMs per layer (weight and input gradients), twice the
    forward, less the first layer's input gradient, which nobody needs: 27.3 GFLOP per MNIST epoch
    of the lecture model."""
    fwd = forward_flops(sizes, samples)
    return fwd + 2 * fwd - 2 * samples * sizes[0] * sizes[1]


def wide_sizes(width: int) -> list[int]:
    """The wide model: width inputs, two relu layers of width units, 10 softmax outputs."""
    return [width, width, width, 10]


def gemm_flops(n: int) -> int:
    """(n, n) @ (n, n): n^2 outputs, each n multiplies and n adds."""
    return 2 * n**3


def stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def used_runs(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per framework, the successful runs that enter the medians: the undisturbed ones if there
    are any (other processes used at most DISTURBED_CPUS meanwhile), else all of them."""
    by_fw: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        if "results" in run:
            by_fw.setdefault(run["framework"], []).append(run)
    return {
        fw: [r for r in ok if r.get("others_cpus", 0.0) <= DISTURBED_CPUS] or ok
        for fw, ok in by_fw.items()
    }


def summarize(runs: list[dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
    """Pools the repetitions' numbers per framework: medians and min–max over all epochs/calls.

    Epoch times are reported per 60,000 samples; in a quick run (fewer samples per epoch) they are
    scaled up and marked "extrapolated". Disturbed runs are left out where quieter ones exist.
    """
    scale = MNIST_TRAIN / settings["samples"]
    out: dict[str, Any] = {}
    for fw, used in used_runs(runs).items():
        results = [r["results"] for r in used]
        s: dict[str, Any] = {"runs_used": [r["repeat"] for r in used if "repeat" in r]}
        lectures = [r["lecture"] for r in results if "lecture" in r]
        if lectures:
            s["lecture"] = {}
            for bs in lectures[0]:
                epochs = [t * scale for r in lectures for t in r[bs]["epoch_s"]]
                per_epoch = stats(epochs)
                s["lecture"][bs] = {
                    "s_per_epoch": per_epoch,
                    "gflops": train_flops(LECTURE, MNIST_TRAIN) / per_epoch["median"] / 1e9,
                    "accuracy": stats(
                        [r[bs]["accuracy"] for r in lectures if r[bs]["accuracy"] is not None]
                    ),
                    "extrapolated": scale != 1,
                }
        predicts = [ms for r in results if "predict" in r for ms in r["predict"]["ms"]]
        if predicts:
            ms = stats(predicts)
            gflops = forward_flops(LECTURE, MNIST_TEST) / (ms["median"] / 1000) / 1e9
            s["predict"] = {"ms": ms, "gflops": gflops}
        steps = [v for r in results if "playground" in r for v in r["playground"]["steps_per_s"]]
        if steps:
            sps = stats(steps)
            flops_per_step = train_flops(PLAYGROUND, PLAYGROUND_BATCH)
            s["playground"] = {"steps_per_s": sps, "gflops": sps["median"] * flops_per_step / 1e9}
        l2 = [r["l2"] for r in results if "l2" in r]
        if l2:
            n = len(l2[0]["epoch_s"])
            s["l2"] = {
                "ratio": stats([r["epoch_s"][-1] / r["epoch_s"][0] for r in l2]),
                "epochs": n,
                "s_per_epoch": [
                    statistics.median(r["epoch_s"][k] * scale for r in l2) for k in range(n)
                ],
                "accuracy": stats([r["accuracy"] for r in l2 if r["accuracy"] is not None]),
            }
            counts = [r["subnormal_weights"] for r in l2 if "subnormal_weights" in r]
            if counts:
                s["l2"]["subnormal_weights"] = max(counts)  # the worst repetition
        wides = [r["wide"] for r in results if "wide" in r]
        if wides:
            s["wide"] = summarize_wide(wides)
        extra = [r["extra"] for r in results if "extra" in r]
        if extra:
            s["sgemm_peak_gflops"] = stats([e["sgemm_peak_gflops"] for e in extra])
        out[fw] = s
    return out


def summarize_wide(wides: list[dict[str, Any]]) -> dict[str, Any]:
    """TFLOP/s of the wide model's `fit` calls and of the same process's GEMMs, pooled over the
    repetitions; the ratio of the two is taken per repetition (same process, same moment)."""
    first = wides[0]
    flops = train_flops(wide_sizes(first["width"]), first["epochs"] * first["samples"])
    gemm = gemm_flops(first["width"])
    train_rates = [[flops / t / 1e12 for t in w["call_s"]] for w in wides]
    gemm_rates = [[gemm / t / 1e12 for t in w["gemm_s"]] for w in wides]
    return {
        **{k: first[k] for k in ("width", "batch", "samples", "epochs")},
        "tflop_per_call": flops / 1e12,
        "tflops": stats([r for rates in train_rates for r in rates]),
        "gemm_tflops": stats([r for rates in gemm_rates for r in rates]),
        "ratio": stats(
            [statistics.median(t) / statistics.median(g) for t, g in zip(train_rates, gemm_rates)]
        ),
        "train_accuracy": stats([w["train_accuracy"] for w in wides]),
    }


def _num(v: float) -> str:
    if v >= 1000:
        return f"{v:,.0f}"
    for limit, fmt in ((100, ".0f"), (10, ".1f"), (1, ".2f"), (0.1, ".3f")):
        if v >= limit:
            return format(v, fmt)
    return f"{v:.2g}"


def _cell(st: dict[str, float] | None, gflops: float | None = None) -> str:
    if not st:
        return "–"
    text = _num(st["median"])
    if st["n"] > 1:
        text += f" ({_num(st['min'])}–{_num(st['max'])})"
    if gflops is not None:
        text += f" · {_num(gflops)} GFLOP/s"
    return text


def results_table(report: dict[str, Any]) -> str:
    """One row per framework; a column per lecture batch size and per other workload that ran."""
    settings, summary = report["settings"], report["summary"]
    est = " (extrapolated)" if settings["samples"] != MNIST_TRAIN else ""
    sizes = [str(bs) for bs in settings["batch_sizes"]]
    ran = settings["workloads"]
    head = ["framework", "threads"] + [f"batch {bs} s/epoch{est}" for bs in sizes]
    columns = []  # (title, cell maker for a framework's summary)
    if "predict" in ran:
        columns.append(
            ("predict 10k ms", lambda s: _cell(s["predict"]["ms"], s["predict"]["gflops"]))
        )
    if "playground" in ran:
        columns.append(("playground steps/s", lambda s: _cell(s["playground"]["steps_per_s"])))
    if "l2" in ran:
        columns.append((f"L2 epoch {settings['l2_epochs']} / epoch 1", _l2_cell))
    if any("wide" in s for s in summary.values()):
        columns.append(("wide model TFLOP/s · GEMM TFLOP/s · ratio", _wide_cell))
    head += [title for title, _ in columns]
    head.append(f"test acc after {settings['epochs']} epochs (batch {' / '.join(sizes)})")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, fw in report["frameworks"].items():
        if fw["status"] != "ok":
            row = [fw["label"], "–", fw["status"], *["–"] * (len(head) - 3)]
            lines.append("| " + " | ".join(row) + " |")
            continue
        s = summary.get(key, {})
        lec = s.get("lecture", {})
        row = [fw["label"], str(fw.get("threads", "?"))]
        row += [
            _cell(lec[bs]["s_per_epoch"], lec[bs]["gflops"]) if bs in lec else "–" for bs in sizes
        ]
        for _, make in columns:
            try:
                row.append(make(s))
            except KeyError:  # this framework does not run that workload
                row.append("–")
        accuracies = [lec[bs]["accuracy"] if bs in lec else None for bs in sizes]
        row.append(" / ".join(_num(a["median"]) if a else "–" for a in accuracies))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _l2_cell(s: dict[str, Any]) -> str:
    per_epoch = s["l2"]["s_per_epoch"]
    cell = f"{_cell(s['l2']['ratio'])} · {_num(per_epoch[0])} → {_num(per_epoch[-1])} s"
    if "subnormal_weights" in s["l2"]:
        cell += f" · {s['l2']['subnormal_weights']:,} subnormal weights"
    return cell


def _wide_cell(s: dict[str, Any]) -> str:
    w = s["wide"]
    return f"{_cell(w['tflops'])} · {_cell(w['gemm_tflops'])} · {w['ratio']['median']:.0%}"


def _median(summary: dict[str, Any], *path: str) -> float | None:
    """summary[path...]["median"] (or the number at the path), None where it was not measured."""
    node: Any = summary
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node["median"] if isinstance(node, dict) else node


def check_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """fastmlp against issue 4's targets, PyTorch eager (2 threads) from the same run; and, where
    the GPU column ran, fastmlp on the GPU against issue 6's, PyTorch eager on CUDA alongside.

    Each row: workload, target, fastmlp's and PyTorch's medians, unit, met (None: not measured).
    """
    summary = report["summary"]
    fm, pt, floor = (summary.get(k, {}) for k in ("fastmlp", "torch", "floor"))
    rows = []

    def row(
        workload: str,
        target: str,
        path: tuple[str, ...],
        unit: str,
        ok: Any,
        pair: tuple[dict[str, Any], dict[str, Any]] = (fm, pt),
        floor: dict[str, Any] = floor,
    ) -> None:
        a, b = _median(pair[0], *path), _median(pair[1], *path)
        met = None if a is None else ok(a, b)  # ok may say None: its yardstick is missing
        rows.append(
            {
                "workload": workload,
                "target": target,
                "fastmlp": a,
                "pytorch": b,
                "floor": _median(floor, *path) if unit in ("s", "ms") else None,
                "unit": unit,
                "met": None if met is None else bool(met),
            }
        )

    def faster(limit: float, factor: float | None) -> Any:  # times: lower is better
        return lambda a, b: a <= limit and (factor is None or (b is not None and b / a >= factor))

    row(
        "lecture model, batch 32",
        "≤ 0.20 s/epoch, ≥ 8× PyTorch eager",
        ("lecture", "32", "s_per_epoch"),
        "s",
        faster(0.20, 8),
    )
    row(
        "lecture model, batch 256",
        "≤ 0.10 s/epoch, ≥ 3× PyTorch eager",
        ("lecture", "256", "s_per_epoch"),
        "s",
        faster(0.10, 3),
    )
    row("predict on 10,000 samples", "≤ 6 ms", ("predict", "ms"), "ms", faster(6.0, None))
    row(
        "playground 2-8-8-1, batch 10",
        "≥ 500,000 steps/s, ≥ 100× PyTorch eager",
        ("playground", "steps_per_s"),
        "steps/s",
        lambda a, b: a >= 500_000 and b is not None and a / b >= 100,
    )
    row(
        "L2 1e-4 on MNIST, 5 epochs",
        "epoch 5 within 10% of epoch 1",
        ("l2", "ratio"),
        "× epoch 1",
        lambda a, b: a <= 1.10,
    )
    row(
        "MNIST test accuracy, batch 32",
        "≥ 0.97",
        ("lecture", "32", "accuracy"),
        "",
        lambda a, b: a >= 0.97,
    )
    if any(k in report["frameworks"] for k in GPU_PAIR):
        gpu = (summary.get(GPU_PAIR[0], {}), summary.get(GPU_PAIR[1], {}))
        row(
            "GPU: lecture model, batch 32",
            "≥ 3× PyTorch CUDA eager",
            ("lecture", "32", "s_per_epoch"),
            "s",
            lambda a, b: None if b is None else b / a >= 3,
            gpu,
            {},  # the CPU's GEMM floor says nothing about a GPU
        )
        row(
            "GPU: wide model {0}-{0}-{0}-10".format(report["settings"].get("wide_width", 4096)),
            "training ≥ 80% of the GEMM rate (same run)",
            ("wide", "ratio"),
            "× GEMM rate",
            lambda a, b: a >= 0.8,
            gpu,
            {},
        )
    return rows


def targets_table(rows: list[dict[str, Any]], quick: bool) -> str:
    lines = [
        "| workload | target | fastmlp | PyTorch eager | fastmlp vs PyTorch | dense GEMMs alone | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fm, pt, unit = r["fastmlp"], r["pytorch"], r["unit"]
        ratio = "–"
        if fm and pt and unit in ("s", "ms", "steps/s"):
            speedup = pt / fm if unit in ("s", "ms") else fm / pt
            ratio = f"{_num(speedup)}× faster" if speedup >= 1 else f"{_num(1 / speedup)}× slower"
        met = {True: "yes", False: "**no**", None: "–"}[r["met"]]
        if quick and r["met"] is not None:
            met += " (quick run: not a measurement)"
        lines.append(
            f"| {r['workload']} | {r['target']} | {_fmt(fm, unit)} | {_fmt(pt, unit)} | {ratio} "
            f"| {_fmt(r.get('floor'), unit)} | {met} |"
        )
    return "\n".join(lines)


def _fmt(v: float | None, unit: str) -> str:
    return "–" if v is None else f"{_num(v)} {unit}".strip()


def header(report: dict[str, Any]) -> str:
    m, st = report["machine"], report["settings"]
    lines = [
        (
            f"fastmlp benchmark, {report['date']}: {m['cpu']}, {m['logical_cpus']} logical CPUs "
            f"({m['simd']}), load average {m['loadavg_start'][0]:.2f} at start, "
            f"{m['loadavg_end'][0]:.2f} at end; Python {m['python']}."
        ),
        (
            f"Real MNIST ({st['samples']:,} training samples per epoch, 10,000 test), "
            f"{st['repeats']} repetition(s) of {st['epochs']} epoch(s) per batch size, one process "
            "per framework and repetition, frameworks alternating; cells: median (min–max) · GFLOP/s."
        ),
    ]
    peak = report["summary"].get("floor", {}).get("sgemm_peak_gflops")
    if peak:
        lines.append(
            f"SGEMM on 2048×2048 float32 through NumPy's BLAS: {_num(peak['median'])} GFLOP/s, "
            'the machine\'s practical peak; the row "the dense GEMMs alone" is the 8 matrix '
            "products of every training step and nothing else: the floor of an epoch with that "
            "BLAS for dense products. fastmlp's first layer skips MNIST's zero pixels (81%), so "
            "it does less arithmetic than that row; its GFLOP/s count the dense arithmetic."
        )
    if st["samples"] != MNIST_TRAIN:
        lines.append(
            f"**QUICK smoke run**: epochs of {st['samples']:,} samples, s/epoch extrapolated "
            f"×{MNIST_TRAIN / st['samples']:g} to 60,000 samples. Not a result to quote."
        )
    ok = [run for run in report["runs"] if "results" in run]
    used = [run for runs in used_runs(report["runs"]).values() for run in runs]
    if len(used) < len(ok):
        lines.append(
            f"{len(ok) - len(used)} of {len(ok)} framework runs were disturbed (other processes "
            f"used more than {DISTURBED_CPUS} CPU meanwhile) and are left out of the medians; "
            "the JSON keeps them under `runs`."
        )
    others = [run["others_cpus"] for run in used if "others_cpus" in run]
    if others and max(others) > DISTURBED_CPUS:
        lines.append(
            f"**Warning**: other processes were running: they used up to {max(others):.2f} of the "
            f"{m['logical_cpus']} CPUs on average during a framework's run (median "
            f"{statistics.median(others):.2f}). Times are inflated and noisy; the fastest (min) "
            "is the better guide. Rerun on a quiet machine for numbers to quote."
        )
    changed = [
        report["frameworks"][key]["label"]
        for key, runs in used_runs(report["runs"]).items()
        if len({json.dumps(r.get("versions"), sort_keys=True) for r in runs}) > 1
    ]
    if changed:
        lines.append(
            f"**Warning**: {', '.join(changed)} changed between repetitions (versions or engine "
            "build differ): the pooled numbers mix builds; see `runs` in the JSON."
        )
    return "\n\n".join(lines)


def versions_table(report: dict[str, Any]) -> str:
    lines = ["| framework | versions | BLAS / OpenMP seen in its process |", "|---|---|---|"]
    for fw in report["frameworks"].values():
        versions = ", ".join(f"{k} {v}" for k, v in fw.get("versions", {}).items())
        blas = "; ".join(
            " ".join(str(b[k]) for k in ("internal_api", "version", "architecture") if b.get(k))
            + f" ×{b.get('num_threads')}"
            for b in fw.get("blas", [])
            if "internal_api" in b
        )
        lines.append(f"| {fw['label']} | {versions or fw['status']} | {blas or '–'} |")
    return "\n".join(lines)


def wide_note(report: dict[str, Any]) -> list[str]:
    """What the wide model's column means, if any row ran it."""
    wides = [s["wide"] for s in report["summary"].values() if "wide" in s]
    if not wides:
        return []
    w = wides[0]
    n = w["width"]
    return [
        (
            f"Wide model: {n}-{n}-{n}-10 relu/relu/softmax, Adam 1e-3, sparse cross-entropy, float32, "
            f"batch {w['batch']}, {w['samples']:,} synthetic samples (Gaussian inputs, labels from a "
            f"fixed random linear teacher), one `fit` of {w['epochs']} epochs timed 3 times after an "
            f"untimed one: {_num(w['tflop_per_call'])} TFLOP per call (forward, weight and input "
            "gradients; not the first layer's input gradient). GEMM: float32 "
            f"{n}×{n} @ {n}×{n} through the row's own BLAS on its device (cuBLAS via CuPy or "
            "torch.matmul on a GPU; NumPy's or PyTorch's BLAS on the CPU), no TF32, in the same "
            "process; ratio: training TFLOP/s ÷ GEMM TFLOP/s, median per repetition."
        )
    ]


def markdown(report: dict[str, Any]) -> str:
    parts = [
        header(report),
        results_table(report),
        (
            "Lecture model: 784-128-64-10 relu/relu/softmax, Adam 1e-3, sparse cross-entropy, "
            "27.3 GFLOP per epoch. Predict: 10,000 test samples in one call, 2.2 GFLOP. "
            "Playground: 2-8-8-1 tanh, SGD 0.03, batch 10, 500 points. L2: the lecture model "
            f"with L2 {report['settings']['l2']:g} on its kernels, batch "
            f"{report['settings']['l2_batch_size']}: ratio of the last epoch's time to the "
            "first's, then the median seconds of both (a ratio well above 1 means subnormal "
            "floats), then how many weights and biases were subnormal after the last epoch (the "
            "most of any repetition): a count that the machine's speed cannot move."
        ),
        *wide_note(report),
        (
            "fastmlp against the targets of issue 4 (PyTorch eager from the same run) and, where "
            "the GPU column ran, fastmlp on the GPU against those of issue 6 (PyTorch eager on CUDA):"
        ),
        targets_table(report["targets"], report["settings"]["quick"]),
        versions_table(report),
    ]
    return "\n\n".join(parts) + "\n"
