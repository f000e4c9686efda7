"""Warm starts: a second process calls the cached machine code without parsing or
differentiating -- it imports neither the compiler nor llvmlite -- and any change to what the
code was made from makes it again.

Each case runs a user module from ``tmp_path`` in fresh interpreters sharing one cache
directory, and compares with the Python backend in this process.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backends.llvm import compile_function, loader, native
from adcompiler.backends.llvm.compiled import link
from adcompiler.ir.builder import Builder
from adcompiler.ir.core import Function, Region, Value
from adcompiler.ir.types import Tensor

pytestmark = pytest.mark.skipif(not loader.supported(), reason="the ELF loader is for Linux on x86-64")

MODEL = """\
import math
import os

import numpy as np

SCALE = float(os.environ.get("SCALE", "2.0"))


def helper(x):
    return math.sin(x) * SCALE


def loss(a, b, n):
    s = 0.0
    for i in range(n):
        s = 0.5 * s + helper(a * i + s) * b
    return s


def norm(x):
    return np.sum(np.tanh(x) * x)
"""

SCRIPT = """\
import json, sys
import numpy as np
import adcompiler as ad
import model

g = ad.grad(model.loss, wrt=(0, 1), backend="llvm")
value = g(0.3, 1.5, 50)
f = ad.jit(model.norm)
x = np.linspace(-1.0, 2.0, 7)
norm, column = f(x), f(x[:1])
plan = str(g.plan(0.3, 1.5, 10**9))
loaded = {
    "compiler": sorted(m for m in ("adcompiler.frontend", "adcompiler.ad.reverse", "adcompiler.passes.typeinfer")
                       if m in sys.modules),
    "llvmlite": "llvmlite.binding" in sys.modules,
    "subprocess": "subprocess" in sys.modules,  # ctypes.util.find_library runs ldconfig
}
# what a user inspects works after a warm start too (the assembly is made from the stored IR)
shown = {"llvm_ir": f.llvm_ir, "asm": "adc_entry" in f.asm, "source": "def grad_loss" in g.source}
print(json.dumps({**loaded, **shown,
    "grad": list(value), "norm": norm, "column": column, "plan": plan,
}))
"""


def _run(tmp_path, **env: str) -> dict:
    (tmp_path / "run.py").write_text(SCRIPT)
    environ = {
        **os.environ,
        "ADCOMPILER_CACHE_DIR": str(tmp_path / "cache"),
        # the model, and the adcompiler under test (not whichever one is installed)
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.path.dirname(os.path.dirname(ad.__file__))]),
        **env,
    }
    done = subprocess.run(
        [sys.executable, str(tmp_path / "run.py")], env=environ, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _expected(tmp_path, scale: float = 2.0) -> tuple:
    """The gradient by the Python backend, of the module as it is on disk now."""
    spec = importlib.util.spec_from_file_location(f"model_{len(os.listdir(tmp_path))}", tmp_path / "model.py")
    module = importlib.util.module_from_spec(spec)
    os.environ["SCALE"] = str(scale)
    try:
        spec.loader.exec_module(module)
    finally:
        del os.environ["SCALE"]
    return ad.grad(module.loss, wrt=(0, 1))(0.3, 1.5, 50)


def test_a_second_process_imports_neither_the_compiler_nor_llvmlite(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    cold, warm = _run(tmp_path), _run(tmp_path)
    assert len(cold["compiler"]) == 3 and cold["llvmlite"]
    assert not cold["subprocess"]  # a cold start starts no other process
    assert warm["compiler"] == [] and not warm["llvmlite"]
    assert warm["grad"] == cold["grad"] and warm["norm"] == cold["norm"] and warm["column"] == cold["column"]
    assert warm["plan"] == cold["plan"] and "Revolve" in warm["plan"]  # the budget is decided without the IR
    assert warm["llvm_ir"] == cold["llvm_ir"] and warm["asm"] and warm["source"]
    assert np.allclose(warm["grad"], _expected(tmp_path), rtol=1e-12)
    x = np.linspace(-1.0, 2.0, 7)
    assert np.isclose(warm["norm"], np.sum(np.tanh(x) * x), rtol=1e-13)


def test_an_edited_helper_is_compiled_again(tmp_path):
    """The helper's bytecode is part of the key: same lines, another body."""
    (tmp_path / "model.py").write_text(MODEL)
    before = _run(tmp_path)
    (tmp_path / "model.py").write_text(MODEL.replace("math.sin(x)", "math.cos(x)"))
    after = _run(tmp_path)
    assert after["compiler"] and after["grad"] != before["grad"]
    assert np.allclose(after["grad"], _expected(tmp_path), rtol=1e-12)
    again = _run(tmp_path)
    assert again["compiler"] == [] and again["grad"] == after["grad"]


def test_a_global_with_another_value_is_compiled_again(tmp_path):
    """A module constant is read at parse time: a process where it differs makes its own code."""
    (tmp_path / "model.py").write_text(MODEL)
    _run(tmp_path)
    other = _run(tmp_path, SCALE="3.0")
    assert other["compiler"]
    assert np.allclose(other["grad"], _expected(tmp_path, scale=3.0), rtol=1e-12)


# --------------------------------------------------------------------------- the loader
def _function(name: str, build, rank: int = 0) -> Function:
    """``f(x)`` returning ``build(builder, x)``, for ``x`` a float or an array of ``rank``."""
    x = Value(Tensor("f64", rank), "x")
    fn = Function(name, Region([x]), ["x"])
    out = build(Builder(fn.body), x)
    fn.body.yields = list(out) if isinstance(out, list) else [out]
    return fn


def test_loaded_code_calls_libm_and_the_runtime(monkeypatch):
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", "")
    compiled = compile_function(_function("tanh_sum", lambda b, x: [b.tanh(x), b.sum(x)], rank=1))
    assert isinstance(compiled._code[()][0].memory, loader.LoadedObject)
    x = np.linspace(-3.0, 3.0, 11)
    before = native.live_allocations()
    y, total = compiled(x)
    assert np.allclose(y, np.tanh(x), rtol=1e-15, atol=0) and total == pytest.approx(np.sum(x), abs=1e-15)
    assert native.live_allocations() == before + 1  # the array returned, freed with it
    del y
    assert native.live_allocations() == before


def test_what_the_loader_cannot_load_goes_to_llvm(monkeypatch):
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", "")
    with pytest.raises(loader.LoadError):
        loader.load(b"not an object file" * 8, native.symbols())

    def refuse(obj, symbols):
        raise loader.LoadError("refused")

    monkeypatch.setattr(loader, "load", refuse)
    compiled = compile_function(_function("sq", lambda b, x: b.mul(x, x)))
    assert not isinstance(compiled._code[()][0].memory, loader.LoadedObject)
    assert compiled(3.0) == 9.0


def test_an_unknown_symbol_is_a_load_error():
    from adcompiler.backends.llvm import jit

    text = """
    declare double @adc_no_such_function(double)
    define double @f(double %x) {
      %y = call double @adc_no_such_function(double %x)
      ret double %y
    }
    """
    _, obj = jit.compile_module(textwrap.dedent(text))
    with pytest.raises(loader.LoadError, match="adc_no_such_function"):
        loader.load(obj, native.symbols())
    native.add_symbol("adc_no_such_function", ctypes.cast(ctypes.CDLL(None).labs, ctypes.c_void_p).value)
    try:
        memory = link(obj)
        assert isinstance(memory, loader.LoadedObject) and memory.address("f")
    finally:
        del native._SYMBOLS["adc_no_such_function"]


def test_the_key_does_not_change_when_the_ir_is_made():
    """What holds references to the code's names and constants (the IR does: its variable
    names) must not change the key (``marshal.dumps`` of the code would)."""
    from adcompiler.transforms.warm import warm_key
    from benchmarks.problems.pendulum import pendulum  # whose marshalled code did change

    g = ad.grad(pendulum, wrt=(0, 1), backend="llvm")
    key = g._signature_of([0.1, 1.0, 10])
    before = warm_key(g, key)
    g.typed_ir(key)
    assert warm_key(g, key) == before
