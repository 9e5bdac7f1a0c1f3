#!/usr/bin/env bash
# One session on a GPU machine: build the engine there, run the GPU tests, example 08 and the
# benchmark's GPU column. Run from the repository root:
#
#     bash bench/gpu_check.sh [tests] [example] [bench]      (default: all three)
#
# Needs: python3 with NumPy, pybind11, CMake, Ninja, a C++17 compiler, CuPy and (for the PyTorch
# rows) a CUDA build of torch. Where Eigen is not installed, put the cmeel-eigen wheel in .whl/
# (pip download --no-deps -d .whl cmeel-eigen); every wheel there is installed into /tmp/site.
# MNIST comes from $FASTMLP_DATA (default: .data/ in the repository, then ../shared/data).
# Logs and the benchmark's JSON go to $OUT (default /tmp/fastmlp-gpu-check).
# BENCH_ARGS overrides the benchmark's arguments.
set -u
OUT=${OUT:-/tmp/fastmlp-gpu-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
STAGES=${*:-tests example bench}
export PYTHONUNBUFFERED=1
if [ -z "${FASTMLP_DATA:-}" ]; then
  if [ -d .data/mnist ]; then FASTMLP_DATA=$PWD/.data; else FASTMLP_DATA=$PWD/../shared/data; fi
fi
export FASTMLP_DATA

stage() { echo; echo "== $1 ($(date -u +%H:%M:%S))"; }

stage "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
$PY -c "import sys, numpy, cupy; print('python', sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__, 'CUDA runtime', cupy.cuda.runtime.runtimeGetVersion())"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tail -1

if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi

stage "build"
build=build/gpu-check
if ! { cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$(command -v "$PY")" \
         -Dpybind11_DIR="$($PY -m pybind11 --cmakedir)" && cmake --build $build -j "$(nproc)"; } >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  exit 1
fi
cp --remove-destination $build/_core*.so python/fastmlp/
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
$PY -c "import fastmlp as fm; print('fastmlp', fm.__version__, 'gpu:', fm.backend.gpu.unavailable_reason() or 'usable')"

status=0
if [[ " $STAGES " == *" tests "* ]]; then
  stage "GPU tests"
  timeout 420 $PY -m pytest -q -p no:cacheprovider -W default -rfEs --durations=8 -m gpu \
    tests/test_gpu_engine.py 2>&1 | tee "$OUT/tests-gpu.log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  stage "device tests"
  timeout 120 $PY -m pytest -q -p no:cacheprovider -W default -rfEs tests/test_devices.py tests/test_gpu_kernels.py 2>&1 | tee "$OUT/tests-devices.log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
if [[ " $STAGES " == *" example "* ]]; then
  stage "example 08"
  timeout 180 $PY examples/08_gpu_mnist.py --epochs 5 --batch-size 32 2>&1 | tee "$OUT/example08.log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
if [[ " $STAGES " == *" bench "* ]]; then
  stage "benchmark"
  # shellcheck disable=SC2086
  timeout 600 $PY bench/run.py --frameworks gpu ${BENCH_ARGS:---batch-sizes 32,256,4096 --repeats 3 --epochs 3} \
    --json "$OUT/bench-gpu.json" 2>"$OUT/bench-gpu.log"
  [ $? = 0 ] || { status=1; tail -30 "$OUT/bench-gpu.log"; }
fi
stage "done: status $status"
exit $status
