"""Runs a script with Keras 3 in a subprocess, for the tests that compare with Keras: TensorFlow's
threads and settings stay out of the test process. The test is skipped where Keras is missing or
cannot be imported, and fails where the script fails after the import."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest


def run_keras(script: str, *args: str, stdin: str | None = None, timeout: float = 300) -> str:
    """`python -c script args...` with Keras on TensorFlow; its stdout."""
    try:
        if importlib.util.find_spec("keras") is None:
            pytest.skip("Keras is not installed")
    except ValueError:
        pytest.skip("Keras is not installed")
    # (a marker after the import: a script that fails after it is a failure, not a skip)
    script = "import keras, sys\nprint('<keras imported>', file=sys.stderr, flush=True)\n" + script
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin", "KERAS_BACKEND": "tensorflow"},
    )
    if done.returncode != 0:
        if "<keras imported>" in done.stderr:
            pytest.fail(f"the Keras script failed:\n{done.stderr[-3000:]}")
        pytest.skip(f"Keras could not run here: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout
