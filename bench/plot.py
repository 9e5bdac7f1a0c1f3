"""Seconds per MNIST epoch of the lecture model by batch size, one line per framework.

    python bench/run.py --batch-sizes 16,32,64,128,256,512 --workloads lecture
    python bench/plot.py [bench/results/latest.json] [--out bench/results/epoch_time_by_batch_size.png]

Reads the JSON that run.py wrote; draws the medians with min–max bars on log-log axes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter
from report import DISTURBED_CPUS, used_runs

RESULTS = Path(__file__).resolve().parent / "results"


def series(
    report: dict[str, Any],
) -> list[tuple[str, list[int], list[float], list[float], list[float]]]:
    """(label, batch sizes, medians, mins, maxes) per framework with lecture-model timings."""
    out = []
    for key, fw in report["frameworks"].items():
        lecture = report["summary"].get(key, {}).get("lecture", {})
        if not lecture:
            continue
        sizes = sorted(int(bs) for bs in lecture)
        st = [lecture[str(bs)]["s_per_epoch"] for bs in sizes]
        out.append(
            (
                fw["label"],
                sizes,
                [s["median"] for s in st],
                [s["min"] for s in st],
                [s["max"] for s in st],
            )
        )
    return out


def plot(report: dict[str, Any], out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9.5, 4.8), dpi=120)
    for label, sizes, med, lo, hi in series(report):
        yerr = [[m - a for m, a in zip(med, lo)], [b - m for m, b in zip(med, hi)]]
        style: dict[str, Any] = {"linewidth": 1.4}
        if label == "fastmlp":
            style = {"linewidth": 2.6, "zorder": 3}
        elif "floor" in label:  # not a framework: the GEMMs alone
            style = {"linewidth": 1.2, "linestyle": "--", "color": "0.45"}
        ax.errorbar(
            sizes, med, yerr=yerr, marker="o", markersize=4, capsize=3, label=label, **style
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 0.1, 1, 10: not 10^-1
    sizes = sorted({bs for _, s, *_ in series(report) for bs in s})
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel("seconds per epoch (60,000 samples), lower is better")
    m = report["machine"]
    quick = " — QUICK smoke run, extrapolated" if report["settings"]["quick"] else ""
    used = [run for runs in used_runs(report["runs"]).values() for run in runs]
    if any(run.get("others_cpus", 0.0) > DISTURBED_CPUS for run in used):
        quick += " — busy machine: times inflated"
    gpus = sorted(
        {
            fw["versions"]["gpu"]
            for fw in report["frameworks"].values()
            if fw.get("versions", {}).get("gpu")
        }
    )
    ax.set_title(
        f"MLP 784-128-64-10, Adam, MNIST{quick}\n{', '.join(gpus) + ' with ' if gpus else ''}"
        f"{m['cpu']}, {m['logical_cpus']} CPUs, {report['date'][:10]}",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("json", nargs="?", type=Path, default=RESULTS / "latest.json")
    p.add_argument("--out", type=Path, default=RESULTS / "epoch_time_by_batch_size.png")
    args = p.parse_args(argv)
    report = json.loads(args.json.read_text())
    if not series(report):
        raise SystemExit(f"{args.json} has no lecture-model timings to plot")
    print(plot(report, args.out))


if __name__ == "__main__":
    main()
