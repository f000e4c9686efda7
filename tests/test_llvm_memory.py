"""The LLVM backend frees what it allocates, when a call returns and when it raises.

``live_allocations()`` counts the arrays and tape buffers compiled code has allocated and not
freed, in the whole process: an exact count, where the process's memory size would only
show a leak through the allocator's noise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backends.llvm import live_allocations

CALLS = 2000
X = np.linspace(0.1, 1.0, 1000)


# Each function allocates arrays (one live to the end, one carried by the loop, one per
# iteration), pushes arrays onto the gradient's tape in its loop, and with k = BAD raises in
# the iteration i = 4 with all of those live; with k = GOOD it returns.
GOOD, BAD = 0, 300


def out_of_bounds(x, k):
    y = np.sin(x) * 2.0
    acc = np.zeros_like(x)
    s = 0.0
    for i in range(6):
        z = y * (i + 1.0)
        acc = acc + z * x
        s = s + np.sum(acc * z) + z[k * i]
    return s


def failed_assert(x, k):
    y = np.sin(x) * 2.0
    acc = np.zeros_like(x)
    s = 0.0
    for i in range(6):
        z = y * (i + 1.0)
        acc = acc + z * x
        assert k * i < 1000, "k too large"
        s = s + np.sum(acc * z)
    return s


def int_division_by_zero(x, k):
    y = np.sin(x) * 2.0
    acc = np.zeros_like(x)
    s = 0.0
    for i in range(6):
        z = y * (i + 1.0)
        acc = acc + z * x
        s = s + np.sum(acc * z) * (6 // (1200 - k * i) + 1)
    return s


def shapes_differ(x, k):
    y = np.sin(x) * 2.0
    s = 0.0
    i = 0
    while i < 6:
        z = y * (i + 1.0)
        s = s + np.sum(z * x[k * (i // 4) :])
        i += 1
    return s


def gather_out_of_bounds(x, k):
    y = np.sin(x) * 2.0
    acc = np.zeros_like(x)
    s = 0.0
    for i in range(6):
        z = y * (i + 1.0)
        acc = acc + z * x
        s = s + np.sum(acc * z) + np.sum(z[np.arange(3) + k * i])
    return s


RAISING = [
    (out_of_bounds, IndexError),
    (gather_out_of_bounds, IndexError),
    (failed_assert, AssertionError),
    (int_division_by_zero, ZeroDivisionError),
    (shapes_differ, ValueError),
]
TRANSFORMS = {"jit": ad.jit, "grad": lambda f: ad.grad(f, backend="llvm")}


@pytest.mark.parametrize("transform", TRANSFORMS.values(), ids=TRANSFORMS.keys())
@pytest.mark.parametrize("f,exc", RAISING, ids=[f.__name__ for f, _ in RAISING])
def test_a_raising_call_frees_what_it_allocated(transform, f, exc):
    compiled = transform(f)
    good = compiled(X, GOOD)  # compiles; holds its result, if an array, across the loop
    before = live_allocations()
    for _ in range(CALLS):
        with pytest.raises(exc):
            compiled(X, BAD)
    assert live_allocations() == before
    assert np.allclose(compiled(X, GOOD), good)


def test_returned_arrays_live_as_long_as_their_numpy_arrays():
    g = ad.grad(out_of_bounds, backend="llvm")
    g(X, GOOD)
    before = live_allocations()
    grads = [g(X, GOOD) for _ in range(CALLS)]
    # one block per gradient: every temporary and every tape buffer went when its call did
    assert live_allocations() == before + CALLS
    assert all(np.array_equal(a, grads[0]) for a in grads)
    del grads
    assert live_allocations() == before


def test_views_returned_together_share_one_block():
    def views(x):
        y = np.exp(x)
        return y[1:], y[::2], y

    f = ad.jit(views)
    before = live_allocations()
    tail, even, whole = f(X)
    assert live_allocations() == before + 1
    assert np.allclose(tail, np.exp(X)[1:]) and np.allclose(even, np.exp(X)[::2])
    del whole, tail
    assert live_allocations() == before + 1  # ``even`` still reads the block
    assert np.allclose(even, np.exp(X)[::2])
    del even
    assert live_allocations() == before


def test_scalar_tapes_are_freed_after_each_gradient():
    def pendulum(theta, omega, n):
        for _ in range(n):
            acc = -9.81 * math.sin(theta) - 0.1 * omega
            theta, omega = theta + 0.01 * omega, omega + 0.01 * acc
        return theta + omega

    g = ad.grad(pendulum, wrt=(0, 1), backend="llvm")
    g(1.0, 0.0, 10)
    before = live_allocations()
    for n in range(CALLS):
        g(1.0, 0.0, n % 50)
    assert live_allocations() == before


def test_products_of_stacks_free_their_temporaries():
    def stacked(a, b):
        return np.tanh(a * 2.0) @ b + 1.0

    f = ad.jit(stacked)
    a, b = np.ones((3, 4, 5)), np.ones((2, 1, 5, 6))
    expected = stacked(a, b)
    before = live_allocations()
    out = f(a, b)
    assert live_allocations() == before + 1 and np.allclose(out, expected)
    del out
    for _ in range(CALLS):
        with pytest.raises(ValueError):
            f(a, b[:, :, :4])
    assert live_allocations() == before
