"""Arrays proven unique (``backends/llvm/uniqueness.py``) are written with no copy-on-write test.

A new array that a loop carries and writes, and that nothing else refers to, is written in
place with no run-time test of its reference count and no copying branch: the write-once
gradient of ``loop_sum`` allocates once.
Every array that may be shared -- through a view, a tuple, a tape, a second carried value, or
a caller's array -- keeps its test and copies: results equal the Python backend's (whose
names bind values: ``z = y`` then ``y[i] = v`` leaves ``z`` as it was) and, where NumPy's
views agree with that, NumPy's.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from llvmlite import ir as llvm_ir

import adcompiler as ad
from adcompiler.backends.llvm.analysis import Plan
from adcompiler.backends.llvm.lower import Lowerer
from adcompiler.errors import UnsupportedSyntaxError
from adcompiler.ir.core import Function
from adcompiler.ir.types import F64, Tensor
from adcompiler.transforms.base import Transformed
from benchmarks.problems.loop_sum import loop_sum
from tests.leaks import allocation_calls
from tests.test_llvm_backend import A1, IDX, _for, jit

X = np.array([0.5, -1.5, 2.0, 0.25, -0.75, 1.25])


def _carried_unique(fn: Function) -> list[bool]:
    """Per array a ``for`` loop carries (loops in walk order): whether it is proven unique."""
    unique = Plan(fn).unique
    return [
        a in unique
        for op in fn.walk()
        if op.name == "for"
        for a in op.regions[0].args[1:]
        if isinstance(a.type, Tensor) and a.type.rank
    ]


def _tests_at_run_time(fn: Function) -> bool:
    """Whether the LLVM code of ``fn``, before optimisation, tests a reference count."""
    module = llvm_ir.Module(name=fn.name)
    Lowerer(fn, module, fastmath=False, boundscheck=True).build()
    return re.search(r'call i1 @"?adc_is_unique', str(module)) is not None


def _agree(f, x: np.ndarray, numpy_too: bool) -> Transformed:
    """The LLVM value and gradient == the Python backend's (== NumPy's value when
    ``numpy_too``); the caller's array is never written. Returns the LLVM derivative."""
    g = ad.value_and_grad(f, backend="llvm")
    given = x.copy()
    value, grad = g(given)
    want_value, want_grad = ad.value_and_grad(f)(x.copy())
    assert np.array_equal(given, x)
    assert value == pytest.approx(want_value, rel=1e-14)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-13, atol=1e-15)
    assert ad.jit(f)(x.copy()) == pytest.approx(want_value, rel=1e-14)
    if numpy_too:
        assert value == pytest.approx(f(x.copy()), rel=1e-14)
    return g


# ----------------------------------------------------------------------------- proven unique
def fill(x):
    y = np.empty(len(x))
    for i in range(len(x)):
        y[i] = np.sin(x[i]) * x[i]
    return np.sum(y * x)


def nested_fill(x):
    y = np.empty((len(x), len(x)))
    for i in range(len(x)):
        for j in range(len(x)):
            y[i, j] = x[i] * x[j]
    return np.sum(y * y)


def test_write_once_gradient_has_no_copy_on_write_test():
    """loop_sum's gradient fills ``empty`` in its one loop: one allocation (no copying branch
    in the loop)."""
    g = ad.grad(loop_sum, backend="llvm")
    for n in (1, 2, 5, 1000):
        x = np.random.default_rng(n).uniform(-2.0, 2.0, n)
        np.testing.assert_allclose(g(x), ad.grad(loop_sum)(x), rtol=1e-14)
    fn = g._shown_ir()
    assert _carried_unique(fn) == [True] and not _tests_at_run_time(fn)
    assert allocation_calls(g.llvm_ir) == 1  # the gradient's: the loop has no copying branch


@pytest.mark.parametrize("f", [fill, nested_fill])
def test_filled_arrays_are_unique(f):
    """A fresh array a loop (or a nest of loops) writes: unique in the function and in its
    gradient's forward sweep; the compiled function allocates it and nothing else."""
    g = _agree(f, X, numpy_too=True)
    loops = 1 if f is fill else 2  # the forward sweep's come first
    assert _carried_unique(g._shown_ir())[:loops] == [True] * loops
    primal = ad.jit(f)
    primal(X)
    assert _carried_unique(primal._shown_ir()) == [True] * loops
    assert not _tests_at_run_time(primal._shown_ir())


# ----------------------------------------------------------------------------- may be shared
def kept_view(x):
    y = np.zeros(len(x))
    head = y[:2]  # a view of y, read after y is written
    for i in range(len(x)):
        y[i] = x[i] * 3.0
    return np.sum(y * x) + np.sum(head * x[:2])


def kept_in_tuple(x):
    y = np.zeros(len(x))
    pair = (y, 1.0)
    for i in range(len(x)):
        y[i] = x[i]
    return np.sum(pair[0] * x) + np.sum(y * x)


def second_name(x):
    y = np.zeros(len(x))
    z = y
    for i in range(len(x)):
        y[i] = x[i] * 2.0
        z[len(x) - 1 - i] = x[i]
    return np.sum(y * x) + np.sum(z * x)


def passed_on(x):
    """``prev`` and ``y`` are carried with the same array after each iteration."""
    y = np.zeros(len(x))
    prev = np.zeros(len(x))
    s = 0.0
    for i in range(len(x)):
        y[i] = x[i] * 2.0
        s = s + np.sum(prev * x)
        prev = y
    return s


def view_carried(x):
    """A view of the written array is carried to the next iteration."""
    y = np.zeros(len(x))
    head = np.zeros(2)
    s = 0.0
    for i in range(len(x)):
        s = s + np.sum(head * x[:2])
        y[i] = x[i]
        head = y[:2]
    return s


def taped(x):
    """The gradient's forward sweep pushes y onto a tape in every iteration, then writes it."""
    y = np.zeros(len(x))
    s = 0.0
    for i in range(len(x)):
        y[i] = x[i] ** 2
        s = s + np.sum(y * x)
    return s


def written_in_a_branch(x):
    y = np.zeros(len(x))
    for i in range(len(x)):
        if x[i] > 0.0:
            y[i] = x[i] ** 2
    return np.sum(y * x)


def input_written(x):
    for i in range(len(x)):
        x[i] = x[i] * 2.0
    return np.sum(x * x)


#: (function, whether NumPy's views give the Python backend's value, whether the function
#: itself shares the array -- else only its gradient does)
SHARED = [
    (view_carried, False, True),
    (taped, True, False),
    (written_in_a_branch, True, True),
    (input_written, True, True),
]


#: programs whose value differs from NumPy's: a write that another name or view sharing the
#: array would see, read afterwards. The frontend refuses them (``frontend/aliasing.py``), so
#: such sharing reaches the backend only from the gradient's own tapes (``taped``)
NUMPY_WOULD_SHOW_THE_WRITE = [kept_view, kept_in_tuple, second_name, passed_on]


@pytest.mark.parametrize(
    "f", NUMPY_WOULD_SHOW_THE_WRITE, ids=[f.__name__ for f in NUMPY_WOULD_SHOW_THE_WRITE]
)
def test_writes_numpy_would_show_elsewhere_are_refused(f):
    with pytest.raises(UnsupportedSyntaxError, match="share one array"):
        ad.jit(f)(X)


@pytest.mark.parametrize("f,numpy_too,primal_shares", SHARED, ids=[f.__name__ for f, *_ in SHARED])
def test_arrays_that_may_be_shared_keep_their_test(f, numpy_too, primal_shares):
    g = _agree(f, X, numpy_too)
    # the array the user's loop writes (the first one carried) is not proven unique
    gradient = g._shown_ir()
    assert _carried_unique(gradient)[0] is False and _tests_at_run_time(gradient)
    primal = ad.jit(f)
    primal(X)
    assert _carried_unique(primal._shown_ir())[0] is not primal_shares


def test_carried_values_swapped_each_iteration():
    """``a, b = b with [i] = 1, a``: each array is written every other iteration, always
    the only reference (proven) -- and the results are those of the plain loop."""

    def build(b, x):
        def step(c, i, p, q):
            return [q, c.setitem(p, c.float(i), i, index=IDX)]

        a0, b0 = b.zeros(b.len(x)), b.zeros(b.len(x))
        return _for(b, b.const(0), b.len(x), b.const(1), [a0, b0], step, [A1, A1])

    fn = jit("swap", [("x", A1)], build)
    got = fn(np.zeros(5))
    want_a, want_b = np.zeros(5), np.zeros(5)
    for i in range(5):
        want_a, want_b = want_b, want_a.copy()
        want_b[i] = i
    assert np.array_equal(got[0], want_a) and np.array_equal(got[1], want_b)


def test_one_array_as_two_carried_values_is_copied():
    """Both carried values start as the same array: neither is unique, the first write copies."""

    def build(b, x):
        def step(c, i, p, q):
            return [c.setitem(p, c.float(i), i, index=IDX), q]

        z = b.zeros(b.len(x))
        return _for(b, b.const(0), b.len(x), b.const(1), [z, z], step, [A1, A1])

    fn = jit("twice", [("x", A1)], build)
    got = fn(np.zeros(4))
    assert np.array_equal(got[0], np.arange(4.0)) and np.array_equal(got[1], np.zeros(4))


def test_an_array_kept_in_a_tuple_is_copied():
    """``t = (z,)`` holds a reference to z when the loop takes z over: the loop writes a copy."""

    def build(b, x):
        z = b.zeros(b.len(x))
        kept = b.tuple(z)

        def step(c, i, a):
            return [c.setitem(a, c.float(i), i, index=IDX)]

        (filled,) = _for(b, b.const(0), b.len(x), b.const(1), [z], step, [A1])
        return [kept, filled]

    (kept,), filled = jit("kept", [("x", A1)], build)(np.zeros(4))
    assert np.array_equal(kept, np.zeros(4)) and np.array_equal(filled, np.arange(4.0))


def test_an_array_yielded_twice_is_copied():
    """The body yields its written array as both carried values: in the next iteration the
    write to one must not show in the other (it reads ``b[i]`` after ``a[i] = i``)."""

    def build(b, x):
        def step(c, i, a, prev, s):
            written = c.setitem(a, c.float(i), i, index=IDX)
            return [written, written, c.add(s, c.getitem(prev, i, index=IDX))]

        inits = [b.zeros(b.len(x)), b.zeros(b.len(x)), b.const(0.0)]
        return _for(b, b.const(0), b.len(x), b.const(1), inits, step, [A1, A1, F64])

    a, prev, s = jit("twice", [("x", A1)], build)(np.zeros(5))
    assert np.array_equal(a, np.arange(5.0)) and np.array_equal(prev, a) and s == 0.0
