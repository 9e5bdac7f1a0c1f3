"""Every reliability figure of issue 7, measured again on this machine.

    PYTHONPATH=python python bench/reliability.py [--examples 2500] [--cycles 1000] [--quick]

Prints: RSS growth over build/fit/predict/delete and save/load cycles, Ctrl-C latency during fit
(and, for comparison, during one long predict call), whether two models trained in two threads
equal the same models trained one after the other, what happens when two threads share one model,
how fast a diverging run is stopped, the hostile-input and hostile-file batteries (with the peak
allocation while rejecting a hostile file), and the number of hypothesis examples run
(--examples per property test; 2500 x 4 tests = 10,000). The helpers are those of the tests in
tests/test_stress.py, tests/test_saving.py, tests/test_hostile_inputs.py and
tests/test_properties.py, so the script measures exactly what the tests assert.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent.parent / "tests"


def section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def leaks(stress, cycles: int) -> None:
    section("memory")
    growth = stress.rss_growth(cycles)
    print(f"RSS growth over {cycles} build/fit/predict/delete cycles: {growth / 2**20:.2f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        n = max(cycles // 3, 10)
        growth = stress.rss_growth(n, lambda i: stress.save_load_cycle(i, tmp), warmup=30)
    print(f"RSS growth over {n} save/load cycles: {growth / 2**20:.2f} MB")


def interrupts(stress, trials: int) -> None:
    section("Ctrl-C")
    rng = np.random.default_rng(1)
    x = rng.random((2048, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=2048)
    for batch_size in (32, 256):
        latencies, exact = [], True
        for trial in range(trials):
            model = stress.lecture_model(seed=trial)
            latencies.append(stress.interrupted_fit(model, x, y, batch_size, 0.3))
            steps = model.optimizer.iterations
            replayed = stress.replay(trial, x, y, batch_size, steps)
            exact &= all(np.array_equal(a, b) for a, b in zip(model.get_weights(), replayed))
        print(
            f"fit, lecture model, batch {batch_size}: SIGINT -> KeyboardInterrupt in "
            f"median {1e3 * statistics.median(latencies):.1f} ms, max {1e3 * max(latencies):.1f} ms "
            f"over {trials} trials; weights = replay of the completed steps: {exact}"
        )
    # One engine call that is not split into chunks: predict over a large array.
    model = stress.lecture_model()
    big, _ = model._prepare(np.random.default_rng(2).random((200_000, 784), dtype=np.float32))
    start = time.perf_counter()
    model._engine.predict(big, 1024)
    duration = time.perf_counter() - start
    main = threading.get_ident()
    sent: list[float] = []

    def interrupt() -> None:
        sent.append(time.perf_counter())
        signal.pthread_kill(main, signal.SIGINT)

    timer = threading.Timer(0.1, interrupt)
    timer.start()
    try:
        model._engine.predict(big, 1024)
        time.sleep(duration + 1)  # a signal that came after the call lands here
    except KeyboardInterrupt:
        latency = time.perf_counter() - sent[0]
    print(
        f"predict of 200,000 x 784 (one engine call, {duration:.2f} s): SIGINT 0.1 s into it "
        f"-> KeyboardInterrupt after {1e3 * latency:.0f} ms (the call is not interruptible)"
    )


def threads(stress) -> None:
    section("threads")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1024, 8))
    y = rng.integers(0, 3, size=1024)
    for batch_size in (16, 256):
        seq = [stress.train(seed, batch_size, x, y) for seed in (11, 12)]
        thr = stress.run_in_threads(
            [lambda s=s, b=batch_size: stress.train(s, b, x, y) for s in (11, 12)]
        )
        same = all(np.array_equal(a, b) for s, t in zip(seq, thr) for a, b in zip(s, t))
        print(f"two models in two threads (batch {batch_size}) == one after the other: {same}")
    model = stress.small_model(7)
    xs = rng.normal(size=(512, 8)).astype(np.float32)
    ys = rng.integers(0, 3, size=512)
    outcomes = stress.run_in_threads([lambda: stress.hammer(model, xs, ys, 3.0) for _ in range(2)])
    ok, busy = sum(o["ok"] for o in outcomes), sum(o["busy"] for o in outcomes)
    finite = all(np.isfinite(w).all() for w in model.get_weights())
    print(
        f"one model, two threads hammering it for 3 s: {ok} calls ran, {busy} refused with "
        f"RuntimeError ('this model is being used by another thread'), no other error; "
        f"weights finite afterwards: {finite}"
    )


def divergence(stress) -> None:
    section("divergence")
    from fastmlp import callbacks

    rng = np.random.default_rng(4)
    x = rng.normal(size=(4096, 8)) * 10
    y = rng.normal(size=(4096, 1)) * 10
    model = stress.diverging_model()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(
            x, y, epochs=10**6, batch_size=32, verbose=0, callbacks=[callbacks.TerminateOnNaN()]
        )
    messages = sorted({str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)})
    print(
        f"SGD(learning_rate=1e3) with TerminateOnNaN: stopped after "
        f"{time.perf_counter() - start:.3f} s, {len(history.history['loss'])} epoch(s), "
        f"warning {messages}"
    )


def batteries() -> None:
    section("hostile inputs and files")
    import test_hostile_inputs
    import test_saving
    import test_validation

    bugs = [c.id for c in test_hostile_inputs.CASES if c.bug]
    print(
        f"malformed inputs: {len(test_validation.CASES)} (test_validation) + "
        f"{len(test_hostile_inputs.CASES) - len(bugs)} (test_hostile_inputs) clear errors, "
        f"{len(test_hostile_inputs.VIEWS)} odd-but-valid views that work; known bugs: {bugs}"
    )
    from fastmlp import models

    peaks, failures = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, (make, _match)) in enumerate(test_saving.HOSTILE.items()):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            path = make(folder)
            tracemalloc.start()
            try:
                models.load_model(path)
                failures.append(name)
            except ValueError:
                pass
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    print(
        f"hostile model files: {len(peaks)} rejected with ValueError "
        f"(accepted by mistake: {failures or 'none'}); largest peak allocation while rejecting "
        f"one: {max(peaks) / 2**20:.2f} MB (the zip bombs expand to 40 MB and 16 MB)"
    )


def properties(examples: int) -> None:
    section("hypothesis")
    os.environ["FASTMLP_HYPOTHESIS_EXAMPLES"] = str(examples)
    import test_properties

    start = time.perf_counter()
    for name in dir(test_properties):
        if name.startswith("test_"):
            getattr(test_properties, name)()
    total = sum(test_properties.RUN.values())
    print(
        f"{total} examples in {time.perf_counter() - start:.0f} s, none failing: "
        + ", ".join(f"{k} {v}" for k, v in sorted(test_properties.RUN.items()))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2500, help="per property test")
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=5, help="Ctrl-C trials per batch size")
    parser.add_argument("--quick", action="store_true", help="50 examples, 200 cycles, 2 trials")
    args = parser.parse_args()
    if args.quick:
        args.examples, args.cycles, args.trials = 50, 200, 2
    sys.path.insert(0, str(TESTS))
    warnings.simplefilter("error")  # as the test suite: a warning is a failure
    import fastmlp
    import test_stress

    print(f"fastmlp {fastmlp.__version__} from {Path(fastmlp.__file__).parent}")
    print(f"engine: {fastmlp._core.build_info()}, {os.cpu_count()} CPUs")
    leaks(test_stress, args.cycles)
    interrupts(test_stress, args.trials)
    threads(test_stress)
    divergence(test_stress)
    batteries()
    properties(args.examples)


if __name__ == "__main__":
    main()
