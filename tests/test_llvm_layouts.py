"""Element reads of contiguous arrays: the LLVM backend's code for ``x[i]`` takes the last axis
of every array argument to be contiguous (as NumPy makes arrays, and Numba's ``C`` layout),
checks that in its entry, and leaves strided arguments to code made for any strides -- made
once, at the first of them, and giving the same results.
"""

from __future__ import annotations

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backends.llvm import jit, library, live_allocations
from benchmarks.problems.loop_sum import loop_sum

RNG = np.random.default_rng(7)


def weighted_rows(a, w):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += a[i, j] * w[j] + 0.25 * a[i, j] * a[i, j]
    return s


def reversed_read(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = 0.5 * s + x[-1 - i]
    return s


def sum_of_sines(x):
    return np.sum(np.sin(x))


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The LLVM modules optimised from now on (the disk cache off: each specialisation
    compiles, quickly and then optimised in the background: count after
    ``ad.wait_for_compiles()``)."""
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", "")
    library.load()  # compiled now if need be: only the functions' modules are counted
    made: list[str] = []
    compile_module = jit.compile_module

    def counting(text: str, quick: bool = False) -> tuple[str, bytes]:
        if not quick:
            made.append(text)
        return compile_module(text, quick)

    monkeypatch.setattr(jit, "compile_module", counting)
    return made


def test_element_reads_of_a_contiguous_array_need_no_stride(compiles):
    """``x[i]`` addresses ``data + 8*i``: no multiple of a stride (which took the registers
    of the unrolled loop around ``sin``); a strided ``x`` runs its own code, compiled once."""
    f = ad.jit(loop_sum)
    x = RNG.uniform(-2.0, 2.0, 1000)
    assert f(x) == loop_sum(x)
    assert "mul i64" not in f.llvm_ir
    for view in (x[::2], x[::-1], x[1::3]):
        assert f(view) == loop_sum(view)
    assert "mul i64" in f.llvm_ir  # the strided code: i * stride
    assert f(x) == loop_sum(x)
    assert "mul i64" not in f.llvm_ir
    ad.wait_for_compiles()
    assert len(compiles) == 2


def _layouts(a: np.ndarray, w: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same values in memory laid out every way NumPy can hand them over."""
    wide = np.zeros((a.shape[0], 3 * a.shape[1]))
    wide[:, ::3] = a
    column = np.zeros((a.shape[0], 5))
    column[:, 2] = a[:, 0]
    return [
        (a, w),
        (np.asfortranarray(a), w),
        (wide[:, ::3], w),
        (a[::-1, ::-1][::-1, ::-1], w[::-1][::-1]),
        (a, np.repeat(w, 2)[::2]),
        (np.broadcast_to(a[:1], a.shape), np.broadcast_to(w[:1], w.shape)),  # zero strides
        (column[:, 2:3], w[:1]),  # a last axis of one element: its stride addresses nothing
        (a[:0], w),
        (a[:, :0], w[:0]),
    ]


def test_every_layout_gives_the_python_result(compiles):
    a, w = RNG.random((4, 6)), RNG.random(6)
    f = ad.jit(weighted_rows)
    for x, v in _layouts(a, w) * 2:  # twice: the second round compiles nothing
        assert f(x, v) == weighted_rows(x, v)
    # contiguous, strided, and for last axes of length 1 (another pattern; contiguous)
    ad.wait_for_compiles()
    assert len(compiles) == 3
    g = ad.jit(reversed_read)
    for x in (w, w[::-1], w[::2], w[:1], w[:0]):
        assert g(x) == reversed_read(x)


def test_the_gradient_reads_strided_arrays_too():
    g, reference = ad.grad(loop_sum, backend="llvm"), ad.grad(loop_sum)
    x = RNG.uniform(-2.0, 2.0, 50)
    for view in (x, x[::2], x[::-1], x):
        assert np.array_equal(g(view), reference(view))


def test_code_without_element_reads_serves_every_layout(compiles):
    """Array operations read the run-time stride (LLVM versions their loops on it being one):
    their code checks nothing and takes strided arrays as they come, with no second compile."""
    f = ad.jit(sum_of_sines)
    x = RNG.random(100)
    for view in (x, x[::2], x[::-1]):
        assert np.isclose(f(view), sum_of_sines(view), rtol=1e-14)
    ad.wait_for_compiles()
    assert len(compiles) == 1


def test_errors_and_allocations_of_strided_calls():
    """A strided call runs the strided code's checks (bounds, strides that are not whole
    elements) and, like any call, leaves nothing allocated."""

    def first_ten(x):
        s = 0.0
        for i in range(10):
            s += x[i]
        return s

    f = ad.jit(first_ten)
    x = RNG.random(30)
    before = live_allocations()
    assert f(x[::2]) == first_ten(x[::2])
    with pytest.raises(IndexError):
        f(x[::4])
    with pytest.raises(IndexError):
        f(x[:5])
    bytes_apart = np.lib.stride_tricks.as_strided(np.zeros(40), shape=(12,), strides=(12,))
    with pytest.raises(ValueError, match="multiples of the item size"):
        f(bytes_apart)
    assert live_allocations() == before


def test_each_layout_has_its_own_cache_entries(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """Code for contiguous and for strided arrays are two warm entries: a second function
    object (a new process, as far as the cache knows) loads both, compiling nothing."""
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))
    x = RNG.random(20)
    f = ad.jit(loop_sum)
    assert (f(x), f(x[::2])) == (loop_sum(x), loop_sum(x[::2]))
    ad.wait_for_compiles()  # the optimised code becomes the warm entries

    def refuse(text: str, quick: bool = False) -> tuple[str, bytes]:
        raise AssertionError("compiled again")

    monkeypatch.setattr(jit, "compile_module", refuse)
    again = ad.jit(loop_sum)
    assert (again(x[::2]), again(x)) == (loop_sum(x[::2]), loop_sum(x))
