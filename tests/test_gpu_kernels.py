"""The CUDA kernels without a GPU: they compile, and every launch passes what the kernel expects.

A kernel launched with one argument too few, or an int where it takes a double, is not caught by
CuPy: it reads garbage. So each `_launch` call in _cuda.py is checked against the kernel's
signature in kernels.cu, argument by argument; and where CuPy's NVRTC is installed (a GPU is not
needed), the whole file is compiled for three GPU generations.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[1] / "python" / "fastmlp" / "backend"
SOURCE = (BACKEND / "kernels.cu").read_text()
# A NumPy scalar constructor for each scalar parameter type of the kernels.
SCALARS = {"i64": "int64", "int": "int32", "double": "float64", "u64": "uint64"}


def _signatures() -> dict[str, list[str]]:
    """Kernel name -> parameter types, from the __global__ declarations."""
    found = {}
    for match in re.finditer(r"__global__\s+void\s+(\w+)\s*\(([^)]*)\)", SOURCE):
        params = [" ".join(p.split()[:-1]) for p in match.group(2).replace("\n", " ").split(",")]
        found[match.group(1)] = params
    return found


def _launches() -> list[tuple[str, list[ast.expr], int]]:
    tree = ast.parse((BACKEND / "_cuda.py").read_text())
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "_launch":
            name = node.args[0]
            assert isinstance(name, ast.Constant), "launch the kernels by literal name"
            calls.append((name.value, node.args[2:], node.lineno))
    return calls


def _scalar_type(arg: ast.expr) -> str | None:
    """'float64' for np.float64(...), None for anything else (an array, a name)."""
    func = arg.func if isinstance(arg, ast.Call) else None
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "np"
    ):
        return func.attr
    return None


def test_every_kernel_is_declared_and_instantiated():
    signatures = _signatures()
    launched = {name for name, _, _ in _launches()}
    templates = set(re.findall(r"template <typename T>\s*__global__\s+void\s+(\w+)", SOURCE))
    plain = set(signatures) - templates
    text = (BACKEND / "_cuda.py").read_text()
    for name in templates:
        assert f'"{name}"' in text.split("PLAIN")[0], f"{name} is not in TEMPLATES"
    for name in plain:
        assert f'"{name}"' in text, f"{name} is not in PLAIN"
    assert launched <= set(signatures)
    assert set(signatures) <= launched, f"never launched: {set(signatures) - launched}"


@pytest.mark.parametrize("launch", _launches(), ids=lambda launch: f"{launch[0]}@{launch[2]}")
def test_each_launch_passes_the_kernels_parameters(launch):
    name, args, line = launch
    params = _signatures()[name]
    assert len(args) == len(params), (
        f"_cuda.py:{line}: {name} takes {len(params)} arguments, got {len(args)}"
    )
    for i, (param, arg) in enumerate(zip(params, args)):
        given = _scalar_type(arg)
        if "*" in param:
            assert given is None, (
                f"_cuda.py:{line}: {name} argument {i} ({param}) is a pointer, got np.{given}"
            )
        elif param in SCALARS:
            assert given == SCALARS[param], (
                f"_cuda.py:{line}: {name} argument {i} is {param}: wrap it in np.{SCALARS[param]}, got {given}"
            )
        else:
            pytest.fail(f"kernels.cu: {name} has a parameter of unexpected type {param!r}")


@pytest.mark.parametrize("arch", [75, 80, 90])
def test_kernels_compile_with_nvrtc(arch):
    pytest.importorskip("cupy", reason="CuPy is not installed (pip install 'fastmlp[gpu]')")
    from cupy.cuda import nvrtc
    from fastmlp.backend._cuda import OPTIONS

    templates = re.findall(r"template <typename T>\s*__global__\s+void\s+(\w+)", SOURCE)
    plain = set(_signatures()) - set(templates)
    expressions = [f"{name}<{t}>" for name in templates for t in ("float", "double")] + sorted(
        plain
    )
    try:
        program = nvrtc.createProgram(SOURCE, "kernels.cu", [], [])
    except Exception as error:  # noqa: BLE001 - the NVRTC library itself is missing
        pytest.skip(f"NVRTC is not usable here: {error}")
    supported = getattr(nvrtc, "getSupportedArchs", None)  # NVRTC >= 11.2
    if supported is not None and arch not in supported():
        pytest.skip(f"this NVRTC does not compile for compute_{arch}")
    for expression in expressions:
        nvrtc.addNameExpression(program, expression)
    try:
        nvrtc.compileProgram(program, [*OPTIONS, f"-arch=compute_{arch}"])
    except nvrtc.NVRTCError:
        pytest.fail(nvrtc.getProgramLog(program))
    for expression in expressions:
        assert nvrtc.getLoweredName(program, expression)
