"""One framework's benchmark run, in a process of its own (started by run.py, not by hand).

    python bench/worker.py CONFIG.json RESULT.json

CONFIG names the framework module (impl_*.py next to this file), its options and the workloads;
the data arrive as .npz files that run.py wrote once, so that every framework trains on the same
arrays and no framework but fastmlp loads fastmlp's engine (and its OpenMP runtime) into its
process. The timing loops live here, once for all frameworks; an impl_*.py module only builds
models and runs epochs, in the way its framework's users would.
"""

from __future__ import annotations

import importlib
import json
import statistics
import sys
import time
import traceback
import warnings
from typing import Any

import numpy as np

WARMUP_STEPS = 10  # minibatches trained before the timed epochs (first-call costs, tracing)
PREDICT_WARMUP_CALLS = 2
WIDE_DATA_SEED = 0  # the same synthetic set for every framework and repetition
GEMM_WARMUP_CALLS, GEMM_BLOCKS = 3, 3


def _say(text: str) -> None:
    print(f"    {text}", file=sys.stderr, flush=True)


def _seconds(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def lecture(
    fw: Any,
    data: dict[str, np.ndarray],
    cfg: dict[str, Any],
    batch_size: int,
    epochs: int,
    l2: float,
) -> dict[str, Any]:
    """Times `epochs` whole epochs of the lecture model; returns each epoch's seconds."""
    x, y = data["x_train"][: cfg["samples"]], data["y_train"][: cfg["samples"]]
    train = fw.prepare(x, y)
    warm = fw.prepare(x[: WARMUP_STEPS * batch_size], y[: WARMUP_STEPS * batch_size])
    test = fw.prepare(data["x_test"], data["y_test"])
    model = fw.lecture_model(l2=l2, seed=cfg["seed"])
    fw.train_epoch(model, warm, batch_size)
    epoch_s = [_seconds(fw.train_epoch, model, train, batch_size) for _ in range(epochs)]
    accuracy = None
    if getattr(fw, "trains", True):
        predicted = np.asarray(fw.predict(model, test)).argmax(axis=1)
        accuracy = float(np.mean(predicted == data["y_test"]))
    return {"epoch_s": epoch_s, "accuracy": accuracy, "model": model, "test": test}


def subnormal_count(weights: list[Any]) -> int:
    """Weights (and biases) that are subnormal floats after training: what makes products slow
    where flush-to-zero / denormals-are-zero is off."""
    count = 0
    for w in weights:
        a = np.asarray(w)
        count += int(np.count_nonzero((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)))
    return count


def predict(fw: Any, model: Any, test: Any, calls: int) -> dict[str, Any]:
    """Milliseconds of one predict call on the 10,000 test samples, `calls` times."""
    for _ in range(PREDICT_WARMUP_CALLS):
        fw.predict(model, test)
    return {"ms": [1000 * _seconds(fw.predict, model, test) for _ in range(calls)]}


def playground(fw: Any, data: dict[str, np.ndarray], cfg: dict[str, Any]) -> dict[str, Any]:
    """Steps per second of the 2-8-8-1 tanh net (SGD 0.03, batch 10, 500 points).

    Calibrates a number of epochs that lasts about cfg["playground_seconds"], then times it
    three times: short calls would measure the per-call overhead of `fit`, not the steps.
    """
    x, y = data["x"], data["y"]
    steps_per_epoch = -(-x.shape[0] // 10)
    train = fw.prepare(x, y)
    model = fw.playground_model(seed=cfg["seed"])
    fw.train_playground(model, train, 1)
    epochs, elapsed = 1, 0.0
    while elapsed < 0.2 * cfg["playground_seconds"]:
        epochs *= 4 if elapsed < 0.02 * cfg["playground_seconds"] else 2
        elapsed = _seconds(fw.train_playground, model, train, epochs)
    epochs = max(1, round(epochs * cfg["playground_seconds"] / elapsed))
    seconds = [_seconds(fw.train_playground, model, train, epochs) for _ in range(3)]
    return {
        "steps_per_s": [epochs * steps_per_epoch / s for s in seconds],
        "steps_per_call": epochs * steps_per_epoch,
    }


def wide_data(width: int, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic but learnable: x ~ N(0, 1) float32, label = argmax of x T for a fixed random
    teacher T (width, 10). The same arrays in every worker (a fixed seed)."""
    rng = np.random.default_rng(WIDE_DATA_SEED)
    x = rng.standard_normal((samples, width), dtype=np.float32)
    teacher = rng.standard_normal((width, 10), dtype=np.float32)
    return x, np.argmax(x @ teacher, axis=1).astype(np.int64)


def wide(fw: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    """The wide model (width-width-width-10) trained by `fit` calls of cfg["wide_epochs"] epochs,
    one untimed, then cfg["wide_calls"] timed; and the seconds of one float32 width x width
    product through the framework's own BLAS on its device, in the same process."""
    width, batch, epochs = cfg["wide_width"], cfg["wide_batch"], cfg["wide_epochs"]
    x, y = wide_data(width, cfg["wide_samples"])
    train = fw.prepare(x, y)
    model = fw.wide_model(width, seed=cfg["seed"])
    fw.train_epochs(model, train, batch, epochs)
    call_s = [
        _seconds(fw.train_epochs, model, train, batch, epochs) for _ in range(cfg["wide_calls"])
    ]
    # Accuracy on the training set: a check that the timed steps did train (chance is ~0.1).
    accuracy = float(np.mean(np.asarray(fw.predict(model, train)).argmax(axis=1) == y))
    return {
        "width": width,
        "batch": batch,
        "samples": cfg["wide_samples"],
        "epochs": epochs,
        "call_s": call_s,
        "train_accuracy": accuracy,
        "gemm_s": gemm(fw, width, cfg["gemm_calls"]),
    }


def gemm(fw: Any, n: int, calls: int) -> list[float]:
    """Seconds per float32 (n, n) @ (n, n) product, one number per block of `calls` products;
    the device is synchronized before each block's clock starts and before it stops."""
    a, b = fw.gemm_operands(n)
    for _ in range(GEMM_WARMUP_CALLS):
        fw.matmul(a, b)
    fw.synchronize()
    blocks = []
    for _ in range(GEMM_BLOCKS):
        start = time.perf_counter()
        for _ in range(calls):
            fw.matmul(a, b)
        fw.synchronize()
        blocks.append((time.perf_counter() - start) / calls)
    return blocks


def _blas() -> list[dict[str, Any]]:
    """Which BLAS / OpenMP libraries this process loaded, their kernels and thread counts."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [
        {**{k: lib.get(k) for k in keys}, "file": lib.get("filepath", "").rsplit("/", 1)[-1]}
        for lib in threadpool_info()
    ]


def _list(values: list[float], fmt: str = ".3f") -> str:
    return ", ".join(format(v, fmt) for v in values)


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    module = importlib.import_module(cfg["module"])
    fw = module.Framework(**cfg.get("options", {}))
    mnist = dict(np.load(cfg["mnist"]))
    for split in ("x_train", "x_test"):  # pixels 0-255 -> [0, 1], float32, as the lecture does
        mnist[split] = mnist[split].astype(np.float32) / 255
    out: dict[str, Any] = {"versions": fw.versions(), "threads": fw.threads(), "results": {}}
    res = out["results"]
    workloads = cfg["workloads"]
    if "lecture" in workloads:
        res["lecture"] = {}
        for bs in cfg["batch_sizes"]:
            run_ = lecture(fw, mnist, cfg, bs, cfg["epochs"], l2=0.0)
            res["lecture"][str(bs)] = {k: run_[k] for k in ("epoch_s", "accuracy")}
            _say(f"batch {bs}: epochs {_list(run_['epoch_s'])} s, accuracy {run_['accuracy']}")
            if bs == cfg["batch_sizes"][0] and "predict" in workloads:
                res["predict"] = predict(fw, run_["model"], run_["test"], cfg["predict_calls"])
                _say(f"predict: median {statistics.median(res['predict']['ms']):.2f} ms")
    if "playground" in workloads:
        res["playground"] = playground(fw, dict(np.load(cfg["playground"])), cfg)
        _say(f"playground: {_list(res['playground']['steps_per_s'], '.0f')} steps/s")
    if "l2" in workloads:
        run_ = lecture(fw, mnist, cfg, cfg["l2_batch_size"], cfg["l2_epochs"], l2=cfg["l2"])
        res["l2"] = {k: run_[k] for k in ("epoch_s", "accuracy")}
        if hasattr(fw, "weights"):
            res["l2"]["subnormal_weights"] = subnormal_count(fw.weights(run_["model"]))
        count = res["l2"].get("subnormal_weights")
        _say(
            f"L2: epochs {_list(run_['epoch_s'])} s"
            + ("" if count is None else f", {count} subnormal weights")
        )
    if "wide" in workloads:
        res["wide"] = wide(fw, cfg)
        w = res["wide"]
        _say(
            f"wide {w['width']}: fit calls {_list(w['call_s'])} s, "
            f"GEMM {_list([1000 * t for t in w['gemm_s']])} ms, accuracy {w['train_accuracy']:.3f}"
        )
    if hasattr(fw, "extra"):
        res["extra"] = fw.extra()
    out["blas"] = _blas()  # after the work, so that lazily loaded libraries are listed too
    return out


def main() -> None:
    config_path, result_path = sys.argv[1], sys.argv[2]
    with open(config_path) as f:
        cfg = json.load(f)
    warnings.simplefilter("ignore")  # peers' deprecation chatter must not reach the table
    try:
        out = run(cfg)
    except NotImplementedError as exc:  # this build of the framework cannot do what is asked
        out = {"unsupported": str(exc)}
    except Exception as exc:  # noqa: BLE001 -- reported in the table; the others go on
        traceback.print_exc()
        out = {"error": f"{type(exc).__name__}: {exc}"}
    with open(result_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
