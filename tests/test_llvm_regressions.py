"""LLVM-backend bugs the program generator found beyond the seeds CI runs (seeds 1000-1600),
each pinned down by a small function: compiled gradient == Python-backend gradient == finite
differences.
"""

from __future__ import annotations

import numpy as np

import adcompiler as ad
from tests.finite_diff import assert_grad_close, numerical_grad
from tests.test_llvm_backend import A1, A2, jit

RNG = np.random.default_rng(7)


def _check(f, *args, wrt=(0, 1)):
    compiled = ad.grad(f, wrt=wrt, backend="llvm")(*args)
    python = ad.grad(f, wrt=wrt)(*args)
    for c, p in zip(compiled, python):
        assert np.allclose(c, p, rtol=1e-12, atol=1e-14)
    assert_grad_close(compiled, numerical_grad(f, args, wrt), rtol=1e-6, atol=1e-9)


def column_and_rows(A, b):
    # A's adjoint is a broadcast (of the rows' sums adjoint), then the column's adjoint is
    # added into it in place: the write must not go through the zero-stride view
    column = A[:, -2] - b
    rows = np.sum(A, axis=-1)
    return np.mean(rows) + np.mean(column)


def test_index_add_into_a_broadcast_adjoint_copies_it_first():
    _check(column_and_rows, RNG.random((3, 4)), 0.3)


def min_over_all_axes(A, b):
    return np.min(A, axis=(0, 1)) * b + np.max(A, axis=(0, 1))


def test_adjoint_of_a_reduction_over_every_axis():
    """The adjoint expands a scalar back to rank 2 (``expand_dims`` of a scalar)."""
    _check(min_over_all_axes, RNG.random((3, 4)), 0.3)


def test_broadcast_to_of_a_fused_operand_that_is_not_fused_itself():
    """``broadcast_to`` read whole by a matrix product: its fused operand is computed at the
    broadcast shape."""
    fn = jit(
        "bf",
        [("x", A1), ("m", A2)],
        lambda b, x, m: b.matmul(b.broadcast_to(b.mul(x, x), b.shape(m)), m),
    )
    x, m = RNG.random(4), RNG.random((4, 4))
    assert np.allclose(fn(x, m), np.broadcast_to(x * x, (4, 4)) @ m, rtol=1e-13)
