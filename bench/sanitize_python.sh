#!/usr/bin/env bash
# Run the Python test suite against an AddressSanitizer + UndefinedBehaviorSanitizer build of the
# extension fastmlp._core: a heap overflow, use-after-free or undefined behaviour anywhere in the
# C++ engine reached from Python aborts the run with a report instead of passing silently.
#
#   bench/sanitize_python.sh                 # the default test run (-m "not slow")
#   bench/sanitize_python.sh tests/test_saving.py -x   # any pytest arguments
#
# The interpreter itself is not instrumented, so libasan is preloaded and leak detection is off
# (CPython keeps objects alive until exit by design; leaks are measured by tests/test_stress.py).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
build="$root/build/asan"
pkg="$build/pkg/fastmlp"

echo "== configure and build the sanitized extension in build/asan =="
pybind11_dir="$(python -c 'import pybind11; print(pybind11.get_cmake_dir())')"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTMLP_SANITIZE=ON \
  -DFASTMLP_BUILD_PYTHON=ON -DFASTMLP_BUILD_TESTS=OFF -Dpybind11_DIR="$pybind11_dir" >/dev/null
cmake --build "$build"
core="$(ls "$build"/_core*.so)"

echo "== assemble a package folder: python/fastmlp with the sanitized _core =="
rm -rf "$build/pkg"
mkdir -p "$pkg"
for entry in "$root"/python/fastmlp/*; do
  case "$(basename "$entry")" in
    _core*.so | __pycache__) ;;
    *) ln -s "$entry" "$pkg/$(basename "$entry")" ;;
  esac
done
ln -s "$core" "$pkg/$(basename "$core")"

libasan="$(gcc -print-file-name=libasan.so)"
libubsan="$(gcc -print-file-name=libubsan.so)"
export LD_PRELOAD="$libasan:$libubsan"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONPATH="$build/pkg"
# Each test file's own subprocesses inherit these variables, so they run sanitized too.

python - <<'EOF'
import fastmlp, fastmlp._core as core
print("fastmlp from", fastmlp.__file__)
print("_core from  ", core.__file__)
EOF

echo "== pytest under ASan + UBSan =="
if [ "$#" -eq 0 ]; then
  set -- -m "not slow" -p no:cacheprovider
fi
python -m pytest "$@"
