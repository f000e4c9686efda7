"""Derivatives of ``matmul`` of stacks of matrices (rank > 2), every case of NumPy's: batch
axes broadcast (a weight shared by the stack, batch axes of length 1 or missing), a vector
on either side, ``@`` as well as ``np.matmul`` -- in reverse mode on both backends, in
forward mode, and forward over reverse (Hessians), against central finite differences and
the closed form ``dA = dC @ B^T``, ``dB = A^T @ dC`` summed over broadcast batch axes."""

from __future__ import annotations

import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad, numerical_jacobian
from hypothesis import given, settings

import adcompiler as ad
from tests.strategies import stacks


def squares(a, b):
    return np.sum(np.matmul(a, b) ** 2)


def squares_at(a, b):
    return np.sum((a @ b) ** 2)


def attention(q, k, v):
    s = q @ np.transpose(k, (0, 2, 1)) / 2.0
    e = np.exp(s - np.max(s, axis=-1, keepdims=True))
    return np.sum(np.tanh((e / np.sum(e, axis=-1, keepdims=True)) @ v))


def recurrent(w, h, n):
    for _ in range(n):
        h = np.tanh(h @ w)
    return np.sum(h)


def product(a, b):
    return np.matmul(a, b)


def dot_by_stack(a, b):
    return np.sum(np.dot(a, b) ** 2)


SHAPES = [
    ((2, 3, 4), (2, 4, 5)),  # stack @ stack
    ((2, 3, 4), (4, 5)),  # a weight shared by the stack
    ((3, 4), (2, 4, 5)),  # a matrix shared by the stack
    ((4,), (2, 4, 5)),  # vector @ stack
    ((2, 3, 4), (4,)),  # stack @ vector
    ((5, 1, 3, 4), (2, 4, 6)),  # batch ranks differ, a length-1 axis broadcast
    ((1, 3, 4), (2, 4, 5)),
    ((2, 2, 3, 4), (2, 1, 4, 5)),
]
IDS = [f"{sa}@{sb}" for sa, sb in SHAPES]


def _sum_to(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``x`` summed over the axes broadcasting added or stretched to reach its shape."""
    x = x.sum(axis=tuple(range(x.ndim - len(shape))))
    return x.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def closed_form(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of ``sum((a @ b) ** 2)``: ``dC = 2 C``; a vector is a matrix of one row
    (``a``) or one column (``b``) for the product, the axis removed after."""
    A = a[None, :] if a.ndim == 1 else a
    B = b[:, None] if b.ndim == 1 else b
    dC = 2.0 * (A @ B)
    dA = _sum_to(dC @ np.swapaxes(B, -1, -2), A.shape)
    dB = _sum_to(np.swapaxes(A, -1, -2) @ dC, B.shape)
    return dA.reshape(a.shape), dB.reshape(b.shape)


def _operands(rng: np.random.Generator, sa, sb) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=sa), rng.normal(size=sb)


@pytest.mark.parametrize("f", [squares, squares_at])
@pytest.mark.parametrize("sa, sb", SHAPES, ids=IDS)
def test_reverse_mode_against_closed_form_and_finite_differences(f, sa, sb, rng):
    a, b = _operands(rng, sa, sb)
    expected = closed_form(a, b)
    assert_grad_close(numerical_grad(f, [a, b], (0, 1)), expected, rtol=1e-6)
    assert_grad_close(ad.grad(f, wrt=(0, 1))(a, b), expected, rtol=1e-12, atol=1e-12)
    assert_grad_close(ad.grad(f, wrt=(0, 1), backend="llvm")(a, b), expected, rtol=1e-12, atol=1e-12)
    assert_grad_close(ad.jit(ad.grad(f, wrt=1))(a, b), expected[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sa, sb", SHAPES, ids=IDS)
def test_forward_mode_against_closed_form(sa, sb, rng):
    """Forward mode pushes a tangent per entry along a leading axis, which must not meet the
    other operand's batch axes (a stack times a shared weight broadcast them together)."""
    a, b = _operands(rng, sa, sb)
    expected = closed_form(a, b)
    assert_grad_close(ad.grad(squares, wrt=(0, 1), mode="forward")(a, b), expected, rtol=1e-12, atol=1e-12)
    for wrt in (0, 1):
        jacobian = ad.jacobian(product, wrt=wrt, mode="forward")(a, b)
        assert_grad_close(jacobian, numerical_jacobian(product, [a, b], wrt), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("sa, sb", SHAPES, ids=IDS)
@pytest.mark.parametrize("wrt", [0, 1])
def test_hessian_forward_over_reverse(sa, sb, wrt, rng):
    a, b = _operands(rng, sa, sb)
    expected = numerical_jacobian(lambda *xs: closed_form(*xs)[wrt], [a, b], wrt)
    assert_grad_close(ad.hessian(squares, wrt=wrt)(a, b), expected, rtol=1e-6, atol=1e-8)
    assert_grad_close(ad.hessian(squares, wrt=wrt, backend="llvm")(a, b), expected, rtol=1e-6, atol=1e-8)


def test_generated_source_reads_as_the_math():
    a, b = np.ones((5, 1, 3, 4)), np.ones((2, 4, 6))
    g = ad.grad(squares_at, wrt=(0, 1))
    g(a, b)
    assert "unbroadcast(t @ np.swapaxes(b, -1, -2), a.shape)" in g.source
    assert "unbroadcast(np.swapaxes(a, -1, -2) @ t, b.shape)" in g.source


def test_attention(rng):
    q, k, v = (rng.normal(size=(2, 3, 4)) for _ in range(3))
    expected = numerical_grad(attention, [q, k, v], (0, 1, 2))
    assert_grad_close(ad.grad(attention, wrt=(0, 1, 2))(q, k, v), expected, rtol=1e-6, atol=1e-9)
    assert_grad_close(
        ad.grad(attention, wrt=(0, 1, 2), backend="llvm")(q, k, v), expected, rtol=1e-6, atol=1e-9
    )


def test_in_a_loop(rng):
    """A stack carried through a loop: taped, or recomputed from snapshots."""
    w, h = 0.5 * rng.normal(size=(4, 4)), rng.normal(size=(2, 3, 4))
    expected = numerical_grad(recurrent, [w, h, 5], (0, 1))
    assert_grad_close(ad.grad(recurrent, wrt=(0, 1))(w, h, 5), expected, rtol=1e-6, atol=1e-9)
    assert_grad_close(ad.grad(recurrent, wrt=(0, 1), backend="llvm")(w, h, 5), expected, rtol=1e-6, atol=1e-9)
    revolve = ad.grad(recurrent, wrt=(0, 1), checkpoint=ad.Revolve(snapshots=2))
    assert_grad_close(revolve(w, h, 5), expected, rtol=1e-6, atol=1e-9)
    gradient = ad.grad(recurrent)
    hessian = numerical_jacobian(lambda *args: gradient(*args), [w, h, 5], 0)
    assert_grad_close(ad.hessian(recurrent)(w, h, 5), hessian, rtol=1e-5, atol=1e-8)


def test_dot_of_a_stack_by_a_matrix_is_matmul(rng):
    a, b = _operands(rng, (2, 3, 4), (4, 5))
    assert_grad_close(ad.grad(dot_by_stack, wrt=(0, 1))(a, b), closed_form(a, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sa, sb", [((3, 4), (2, 4, 5)), ((4,), (3, 4, 2)), ((2, 3, 4), (2, 2, 4, 3))])
def test_dot_by_a_stack(sa, sb, rng):
    """``np.dot(a, b)`` with ``b`` a stack pairs every row of ``a`` with every matrix of ``b``
    (``y[I, J, k] = sum_l a[I, l] b[J, l, k]``), in every mode and both backends."""
    a, b = _operands(rng, sa, sb)
    y = np.dot(a, b)
    # closed form: d sum(y^2) = 2 y; da[I, l] = sum_{J,k} 2 y[I, J, k] b[J, l, k], and db likewise
    ia, jb = a.ndim - 1, b.ndim - 2
    da = np.tensordot(
        2 * y, b, axes=(list(range(ia, ia + jb)) + [y.ndim - 1], list(range(jb)) + [b.ndim - 1])
    )
    db = np.moveaxis(np.tensordot(a, 2 * y, axes=(list(range(ia)), list(range(ia)))), 0, -2)
    for backend in ("python", "llvm"):
        assert_grad_close(
            ad.grad(dot_by_stack, wrt=(0, 1), backend=backend)(a, b), (da, db), rtol=1e-12, atol=1e-12
        )
    assert_grad_close(
        ad.grad(dot_by_stack, wrt=(0, 1), mode="forward")(a, b), (da, db), rtol=1e-12, atol=1e-12
    )
    assert_grad_close((da, db), numerical_grad(dot_by_stack, [a, b], (0, 1)), rtol=1e-6)


@given(operands=stacks())
def test_any_broadcast_against_closed_form(operands):
    a, b = operands
    expected = closed_form(a, b)
    assert_grad_close(ad.grad(squares, wrt=(0, 1))(a, b), expected, rtol=1e-10, atol=1e-10)
    assert_grad_close(ad.grad(squares, wrt=(0, 1), mode="forward")(a, b), expected, rtol=1e-10, atol=1e-10)


@settings(max_examples=10)
@given(operands=stacks())
def test_any_broadcast_llvm(operands):
    a, b = operands
    assert_grad_close(
        ad.grad(squares, wrt=(0, 1), backend="llvm")(a, b), closed_form(a, b), rtol=1e-10, atol=1e-10
    )
