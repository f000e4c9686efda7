"""Tiers of optimisation (``backends/llvm/compiled.py``): a first call runs code compiled
quick (LLVM without vectorising loops) while the optimised code compiles in the background
and takes over; every tier computes the same bits; only optimised code is cached;
``ad.jit(f, tiered=False)`` compiles the optimised code before the first call runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backends.llvm import jit
from tests.scripts import run_script

RNG = np.random.default_rng(5)


def smooth(x, y):
    """Loops that vectorise: the quick code and the optimised code differ most here."""
    z = np.exp(-x * x) * np.tanh(y) + np.sqrt(np.abs(x)) / (1.0 + y * y)
    return np.sum(z * z) + np.mean(np.maximum(x, y))


def recurrence(x, n):
    s = 0.0
    for i in range(n):
        s = 0.5 * s + np.sin(x[i]) * x[i]
    return s


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch, tmp_path) -> list[bool]:
    """Whether each LLVM compile from now on is quick (an empty cache: everything compiles)."""
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))
    from adcompiler.backends.llvm import library

    library.load()  # so that only the functions' modules are counted
    made: list[bool] = []
    compile_module = jit.compile_module

    def counting(text: str, quick: bool = False) -> tuple[str, bytes]:
        made.append(quick)
        return compile_module(text, quick)

    monkeypatch.setattr(jit, "compile_module", counting)
    return made


def leaves(result: object) -> list[np.ndarray]:
    return [np.asarray(r) for r in (result if isinstance(result, tuple) else (result,))]


def inputs() -> list[tuple[np.ndarray, np.ndarray]]:
    special = np.array([0.0, -0.0, 1e-310, -1e-310, 700.0, -745.5, 20.0, -20.0, np.inf, -np.inf])
    out = [(RNG.normal(size=n), RNG.normal(size=n)) for n in (1, 3, 7, 64, 1001)]
    return [*out, (special, special[::-1].copy()), (RNG.normal(size=(9, 13)), RNG.normal(size=(9, 13)))]


@pytest.mark.parametrize(
    "make", [lambda f: ad.jit(f), lambda f: ad.jit(ad.grad(f, wrt=(0, 1)))], ids=["f", "grad"]
)
def test_quick_and_optimised_code_compute_the_same_bits(compiles: list[bool], make):
    g = make(smooth)
    for x, y in inputs():
        first = g(x, y)  # the quick code of this pattern, on its first call
        ad.wait_for_compiles()
        again = g(x, y)  # the optimised code
        for a, b in zip(leaves(first), leaves(again)):
            assert np.array_equal(a, b, equal_nan=True)
    assert compiles[0] is True and False in compiles


def test_the_optimised_code_takes_over_and_is_what_is_cached(compiles: list[bool]):
    g = ad.jit(recurrence)
    x = RNG.normal(size=100)
    assert g(x, 100) == recurrence(x, 100)
    ad.wait_for_compiles()
    assert compiles == [True, False]  # one quick compile, then one optimised
    del compiles[:]
    again = ad.jit(recurrence)  # a new function object: the warm cache entry
    assert again(x, 100) == recurrence(x, 100)
    ad.wait_for_compiles()
    assert compiles == []  # the optimised code, from the cache: no quick code stored


def test_untiered_code_is_optimised_before_the_first_call(compiles: list[bool]):
    g = ad.jit(smooth, tiered=False)
    x, y = RNG.normal(size=50), RNG.normal(size=50)
    assert np.isclose(g(x, y), smooth(x, y), rtol=1e-13)
    assert compiles == [False]  # before waiting for anything
    ad.wait_for_compiles()
    assert compiles == [False]
    with pytest.raises(ValueError, match="tiered"):
        ad.jit(smooth, tiered="no")


_FORK = """
import os
import numpy as np, adcompiler as ad

def f(x):
    return np.sum(np.exp(-x * x))

def h(x):
    return np.sum(np.tanh(x) * x)

x = np.linspace(-1.0, 1.0, 1001)
ad.jit(f)(x)  # its optimised code compiles in the background: the fork waits for it
pid = os.fork()
if pid == 0:  # the child compiles a function of its own
    os._exit(0 if np.isclose(ad.jit(h)(x), h(x), rtol=1e-13) else 1)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


def test_a_fork_during_a_compile_in_the_background(tmp_path: Path):
    """The child of a fork can compile: it did not inherit llvmlite's lock held by a
    compile in the background (a fork waits for those)."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    assert run_script(tmp_path, _FORK).split() == ["0"]
