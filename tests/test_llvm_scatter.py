"""The LLVM backend's one-pass write of slices added to zeros (``backends/llvm/scatter.py``).

Gradients of functions reading several slices of an array end in a chain ``zeros_like ->
index_add -> index_add ...``; the backend writes it once, segment by segment. Each case is
checked against the Python backend (which runs NumPy's ``x_bar[a:b] += v`` one after the
other) and central finite differences, on 1-D and 2-D arrays, with bounds that are negative,
out of range, empty, of length 1 and overlapping; the chains it must not fuse still work.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad

import adcompiler as ad
from adcompiler.backends.llvm import live_allocations
from benchmarks.problems.rosenbrock import rosenbrock
from tests.test_llvm_backend import A1, A2, I64, jit

RNG = np.random.default_rng(7)


def windows(x, a, b, c, d):
    """Two slices with bounds given at run time: the gradient adds into [c:d], then [a:b]."""
    return np.sum(np.sin(x[a:b]) ** 2) + np.sum(np.cos(x[c:d]) * 3.0)


def stencil(x):
    return np.sum((x[2:] - 2.0 * x[1:-1] + x[:-2]) ** 2)


def ends(x):
    """Slices of length 1 at both ends, and one overlapping both."""
    return np.sum(x[-1:] * x[:1]) + np.sum(x[:-1] ** 3)


def five_slices(x):
    """More slices than one fused chain takes: the last is added as NumPy does."""
    return np.sum(x[4:] * x[3:-1] * x[2:-2] * x[1:-3] * x[:-4])


def columns(x):
    """Slices along axis 1 of a matrix."""
    return np.sum((x[:, 1:] - x[:, :-1] ** 2) ** 2)


# chains whose first slice is not fused (a step, two bounded axes, an int index): the
# zeros are allocated and the slices added one by one, as before
def strided(x):
    return np.sum(x[1:] * x[:-1]) + np.sum(x[::2] ** 2)


def corners(x):
    return np.sum(x[1:, 1:] * x[:-1, :-1])


def with_int(x):
    return np.sum(x[1:] ** 2) * x[0]


def int_after_slices(x):
    """A chain fused up to an int index, which then adds in place."""
    return x[0] * np.sum(x[1:] ** 2)


FUSED = [rosenbrock, stencil, ends, five_slices]
FALLBACK = [strided, with_int, corners]
LLVM = {f: ad.grad(f, backend="llvm") for f in [*FUSED, *FALLBACK, windows, columns, int_after_slices]}
PYTHON = {f: ad.grad(f) for f in LLVM}


def _check(f, *args):
    """The same gradient as the Python backend's (to the last bit where no libm call is
    involved) and as finite differences."""
    got = LLVM[f](*args)
    expect = PYTHON[f](*args)
    assert np.allclose(got, expect, rtol=1e-14, atol=1e-300)
    if got.size:
        assert_grad_close(got, numerical_grad(f, args, 0))
    return got, expect


def _llvm_ir(f, *args) -> str:
    """The LLVM IR of ``f``'s gradient compiled for ``args``."""
    g = ad.grad(f, backend="llvm")
    g(*args)
    return g.llvm_ir


@pytest.mark.parametrize("f", FUSED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(1,), (2,), (3,), (5,), (6,), (40,), (1, 3), (2, 3), (7, 4)], ids=str)
def test_fused_chains_match_numpy(f, shape):
    got, expect = _check(f, RNG.uniform(-1.5, 1.5, shape))
    if f is not ends:  # no power but squares: bit for bit
        assert np.array_equal(got, expect)


@pytest.mark.parametrize("f", FUSED, ids=lambda f: f.__name__)
def test_fused_chains_write_the_gradient_once(f):
    llvm_ir = _llvm_ir(f, RNG.random(8))
    assert "@adc_alloc_zero(" not in llvm_ir  # no zeroing pass
    assert "@adc_alloc(" in llvm_ir


@pytest.mark.parametrize("f", FALLBACK, ids=lambda f: f.__name__)
def test_chains_that_are_not_fused_still_match(f):
    x = RNG.uniform(-1.5, 1.5, (6, 5) if f is corners else (9,))
    _check(f, x)
    assert "@adc_alloc_zero(" in _llvm_ir(f, x)  # the zeros the slices are added to, as before


def test_a_chain_fused_up_to_an_int_index():
    for n in (1, 2, 9):
        _check(int_after_slices, RNG.uniform(-1.0, 1.0, n))


def test_bounds_at_run_time():
    """Every combination of negative, out-of-range, empty and overlapping bounds, one compile."""
    bounds = (-12, -4, -1, 0, 1, 3, 5, 12)
    for n in (1, 2, 6):
        x = RNG.uniform(-1.0, 1.0, n)
        for a, b, c, d in itertools.product(bounds, repeat=4):
            got, expect = LLVM[windows](x, a, b, c, d), PYTHON[windows](x, a, b, c, d)
            assert np.allclose(got, expect, rtol=1e-14, atol=0), (n, a, b, c, d)
    x = RNG.uniform(-1.0, 1.0, (5, 3))  # the leading axis of a matrix, finite differences too
    for a, b, c, d in [(1, 4, 0, 5), (-2, 5, 0, -4), (2, 2, 1, 3), (4, -9, -1, 12)]:
        _check(windows, x, a, b, c, d)
    _check(windows, RNG.uniform(-1.0, 1.0, 11), 2, 9, -7, -1)


def test_slices_along_the_second_axis():
    for shape in [(3, 5), (1, 2), (4, 1), (0, 3)]:
        _check(columns, RNG.uniform(-1.0, 1.0, shape))
    assert "@adc_alloc_zero(" not in _llvm_ir(columns, RNG.random((3, 5)))


def test_no_allocation_outlives_its_call():
    for f in [*FUSED, windows]:
        args = (RNG.random(7),) + ((1, -1, 0, 4) if f is windows else ())
        LLVM[f](*args)
        before = live_allocations()
        out = LLVM[f](*args)
        assert live_allocations() == before + 1
        del out
        assert live_allocations() == before


def _scatter(b, x, v, lo, hi, w):
    """``z = zeros_like(x); z[lo:hi] += v; z[1:] += w`` (``w``: a scalar broadcast)."""
    z = b.index_add(b.zeros_like(x), v, lo, hi, index=(("slice", True, True, False),))
    return b.index_add(z, w, b.const(1), index=(("slice", True, False, False),))


def test_values_broadcast_into_the_slices_and_mismatches_raise():
    fn = jit(
        "sc",
        [("x", A2), ("v", A1), ("lo", I64), ("hi", I64)],
        lambda b, x, v, lo, hi: _scatter(b, x, v, lo, hi, b.const(2.0)),
    )
    x = np.zeros((5, 3))
    for lo, hi, v in [(0, 5, RNG.random(3)), (-2, 9, RNG.random(1)), (3, 1, RNG.random(3))]:
        expect = np.zeros_like(x)
        expect[lo:hi] += v
        expect[1:] += 2.0
        assert np.array_equal(fn(x, v, lo, hi), expect)
    before = live_allocations()
    with pytest.raises(ValueError, match="broadcast"):
        fn(x, RNG.random(2), 0, 5)
    assert live_allocations() == before
