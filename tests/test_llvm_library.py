"""The library of helpers compiled once (``backends/llvm/library.py``): once it is loaded,
modules declare the pairwise sum, the allocations and the reference counts instead of
defining them; a cold process compiles the library once whatever it compiles besides, a
warm one loads it from the cache without LLVM; code compiled with ``fastmath=True`` keeps a
pairwise sum of its own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backends.llvm import library, native
from tests.scripts import run_script


def total(x):
    return np.sum(x * x)


def plain(x):
    return np.sum(x)


def scaled(x):
    y = np.exp(-x) * 2.0
    return y / np.sum(y)


def definitions(llvm_ir: str, name: str) -> list[str]:
    return re.findall(rf"^(define|declare)\b.*@{name}\(", llvm_ir, flags=re.MULTILINE)


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The library loaded (compiled if need be), and no cached code of the functions here."""
    library.load()
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))


def test_modules_declare_the_helpers(loaded: None):
    x = np.linspace(-1.0, 1.0, 1001)
    f = ad.jit(scaled)  # allocates, counts references and sums
    np.testing.assert_allclose(f(x), scaled(x), rtol=1e-12)
    for name in ("adc_pairwise_f64", "adc_alloc"):
        assert definitions(f.llvm_ir, name) == ["declare"], name
    assert set(library.NAMES) <= set(native.symbols())  # what both linkers resolve
    g = ad.jit(total)
    assert g(x) == total(x)  # NumPy's pairwise order, to the bit


def test_fastmath_code_sums_with_its_own_helper(loaded: None):
    x = np.linspace(-1.0, 1.0, 1001)
    f = ad.jit(plain, fastmath=True)  # an array in memory: summed by the helper
    np.testing.assert_allclose(f(x), plain(x), rtol=1e-12, atol=1e-12)
    assert definitions(f.llvm_ir, "adc_pairwise_f64") == ["define"]
    assert definitions(f.llvm_ir, "adc_alloc") in ([], ["declare"])


def test_without_the_library_modules_define_the_helpers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """What a process that found no library compiles first (the library then compiles in the
    background, not holding up that first compile)."""
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(library, "_memory", [])
    monkeypatch.setattr(library, "prepare", lambda: None)
    x = np.linspace(-1.0, 1.0, 1001)
    f = ad.jit(scaled)
    np.testing.assert_allclose(f(x), scaled(x), rtol=1e-12)
    for name in ("adc_pairwise_f64", "adc_alloc"):
        assert definitions(f.llvm_ir, name) == ["define"], name


_CHILD = """
import json, sys
import numpy as np, adcompiler as ad

compiles = []
if sys.argv[1] == "cold":
    from adcompiler.backends.llvm import jit

    compile_module = jit.compile_module
    jit.compile_module = lambda text, quick=False: compiles.append(quick) or compile_module(text, quick)

def total(x):
    return np.sum(x * x)

def scaled(x):
    y = np.exp(-x) * 2.0
    return y / np.sum(y)

x = np.linspace(-1.0, 1.0, 1001)
ok = ad.jit(total)(x) == total(x) and np.allclose(ad.jit(scaled)(x), scaled(x), rtol=1e-12)
ok = ok and np.allclose(ad.grad(total, backend="llvm")(x), 2 * x, rtol=1e-12)
ad.wait_for_compiles()
print(json.dumps({"ok": bool(ok), "compiles": len(compiles), "llvmlite": "llvmlite.binding" in sys.modules}))
"""


def test_the_library_is_compiled_once_and_then_loaded_from_the_cache(tmp_path: Path):
    runs = [json.loads(run_script(tmp_path, _CHILD, start)) for start in ("cold", "warm")]
    # three functions, each quickly then optimised, and the library; then nothing: LLVM is
    # not even imported
    assert runs == [
        {"ok": True, "compiles": 7, "llvmlite": True},
        {"ok": True, "compiles": 0, "llvmlite": False},
    ]
