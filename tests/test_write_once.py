"""Write-once gradients (``passes.write_once``) and indices known to be in bounds (LLVM).

A zeroed adjoint that one loop fills element by element, each element exactly once, is
allocated with ``empty`` and stored into; anything less certain keeps adding into zeros.
Every case: the LLVM gradient == the Python backend's == central finite differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backends.llvm.compiled import _machine_code
from adcompiler.ir.builder import Builder
from adcompiler.ir.core import Function, Region, Value
from adcompiler.ir.interp import run
from adcompiler.ir.types import I64, Tensor
from adcompiler.passes.typeinfer import arg_types_of
from adcompiler.passes.write_once import write_once
from adcompiler.transforms.base import Primal
from benchmarks.problems.loop_sum import loop_sum
from tests.finite_diff import assert_grad_close, numerical_grad

RNG = np.random.default_rng(3)
X = RNG.uniform(-2.0, 2.0, 7)
A = RNG.uniform(-2.0, 2.0, (5, 3))


def _check(f, *args):
    """Both backends agree with finite differences; returns the gradient's IR text."""
    g = ad.grad(f, backend="llvm")
    compiled = g(*args)
    python = ad.grad(f)(*args)
    np.testing.assert_allclose(compiled, python, rtol=1e-12, atol=1e-14)
    assert_grad_close(compiled, numerical_grad(f, args, 0), rtol=1e-6, atol=1e-9)
    return g.ir


def _writes(ir: str) -> bool:
    """Whether the gradient stores into ``empty`` (else it adds into zeros)."""
    if "empty" in ir:
        assert "zeros" not in ir and "index_add" not in ir and "setitem" in ir
        return True
    assert "index_add" in ir
    return False


# ----------------------------------------------------------------------------- rewritten
def by_len(x):
    s = 0.0
    for i in range(len(x)):
        s += math.exp(0.1 * x[i]) * s + x[i]
    return s


def rows(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += np.sum(np.sin(a[i]) * a[i])
    return s


def under_if(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            s += x[i] ** 3
    return s


def two_loops(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += math.sin(x[i])
    for i in range(x.shape[0]):
        s += s * x[i]
    return s


@pytest.mark.parametrize(
    "f, arg", [(loop_sum, X), (by_len, X), (rows, A), (under_if, X)], ids=lambda v: getattr(v, "__name__", "")
)
def test_written_once(f, arg):
    assert _writes(_check(f, arg))


def test_the_later_loop_adds_onto_the_earlier_one():
    ir = _check(two_loops, X)  # the reverse sweep's first loop writes, the second adds
    assert "zeros" not in ir and ir.count("setitem") == 1 and ir.count("index_add") == 1


def test_readable_source():
    g = ad.grad(loop_sum)
    g(X)
    assert "x_bar = np.empty(x.shape)" in g.source and "x_bar[i] = " in g.source


# ----------------------------------------------------------------------------- kept
def fewer(x, n):
    s = 0.0
    for i in range(n):
        s += math.sin(x[i])
    return s


def all_but_last(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += math.sin(x[i])
    return s


def from_one(x):
    s = 0.0
    for i in range(1, x.shape[0]):
        s += math.sin(x[i])
    return s


def step_two(x):
    s = 0.0
    for i in range(0, x.shape[0], 2):
        s += math.sin(x[i])
    return s


def mirrored(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += math.sin(x[x.shape[0] - 1 - i]) * s
    return s


def other_axis(a):
    s = 0.0
    for j in range(a.shape[1]):
        s += np.sum(np.sin(a[j]))
    return s


def two_writes(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += math.sin(x[i]) * x[i - 1]
    return s


def row_and_element(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += np.sum(np.sin(a[i])) * a[i, 0]
    return s


def breaks(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 1.5:
            break
        s += math.sin(x[i])
    return s


def returns(x):
    s = 0.0
    for i in range(x.shape[0]):
        if s > 1.0:
            return s * x[i]
        s += math.sin(x[i]) ** 2
    return s


@pytest.mark.parametrize(
    "f, args",
    [
        (fewer, (X, 4)),
        (all_but_last, (X,)),
        (from_one, (X,)),
        (step_two, (X,)),
        (mirrored, (X,)),
        (other_axis, (RNG.uniform(-2.0, 2.0, (3, 3)),)),
        (two_writes, (X,)),
        (row_and_element, (A,)),
        (breaks, (X,)),
        (returns, (X,)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_kept_adding(f, args):
    assert not _writes(_check(f, *args))


def _accumulation(variant: str = "") -> Function:
    """``out = zeros_like(x); for i in reversed(range(len(x))): out[i] += x[i]`` as the AD
    writes it (``index_add``); each ``variant`` must keep adding into zeros."""
    x = Value(Tensor("f64", 1), "x")
    fn = Function("acc", Region([x]), ["x"])
    b = Builder(fn.body)
    n = b.tuple_get(b.shape(x), index=0)
    zeros = b.zeros_like(x)
    body = Region([Value(I64, "i"), Value(Tensor("f64", 1), "out")])
    i, out = body.args
    inner = b.child(body)
    v = inner.getitem(x, i, index=[("idx",)])
    if variant == "read":  # out[i] += x[i] + out[0]
        v = inner.add(v, inner.getitem(out, inner.const(0), index=[("idx",)]))
    at = inner.sub(n, inner.add(i, inner.const(1))) if variant == "mirrored" else i
    written = inner.index_add(out, v, at, index=[("idx",)])
    if variant == "twice":
        written = inner.index_add(written, v, i, index=[("idx",)])
    body.yields = [written]
    step = b.const(2 if variant == "step" else 1)
    (result,) = b.for_(b.const(0), n, step, [zeros], body, [zeros.type], reverse=True)
    fn.body.yields = [b.tuple(result, zeros) if variant == "shared" else result]
    return fn


@pytest.mark.parametrize("variant", ["", "read", "mirrored", "twice", "step", "shared"])
def test_write_once_pass(variant):
    fn = _accumulation(variant)
    before, expected = str(fn), run(fn, X)
    write_once(fn)
    assert (str(fn) != before) == (variant == "")
    np.testing.assert_array_equal(np.asarray(run(fn, X)), np.asarray(expected))


# ----------------------------------------------------------------------------- bounds
def _bounds_checks(f, *args) -> int:
    """How many index checks the LLVM code of ``f`` itself keeps."""
    fn = Primal(f).typed_ir(tuple(arg_types_of(list(args))))
    _, code, _ = _machine_code(fn, (), fastmath=False, boundscheck=True, use_cache=False)
    return sum("out of bounds" in message for _, message in code.errors)


@pytest.mark.parametrize("f", [loop_sum, by_len, rows, from_one, step_two], ids=lambda f: f.__name__)
def test_loop_index_within_the_length_is_not_checked(f):
    arg = A if f is rows else X
    assert _bounds_checks(f, arg) == 0
    np.testing.assert_allclose(ad.jit(f)(arg), f(arg), rtol=1e-12)


@pytest.mark.parametrize(
    "f, args",
    [(fewer, (X, 4)), (mirrored, (X,)), (other_axis, (A,)), (two_writes, (X,))],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_other_indices_are_checked(f, args):
    assert _bounds_checks(f, *args) >= 1


def test_a_loop_bound_past_the_length_raises():
    with pytest.raises(IndexError):
        ad.jit(fewer)(X, X.shape[0] + 1)
