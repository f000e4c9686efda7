"""The LLVM backend behind the public API: ``jit`` and ``grad(backend="llvm")`` agree with Python."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given

import adcompiler as ad
from tests.strategies import stacks


def loop_sum(x):
    s = 0.0
    for i in range(len(x)):
        s += math.sin(x[i]) * x[i] ** 2 + 0.5 * x[i]
    return s


def pendulum(theta, omega, n):
    for _ in range(n):
        acc = -9.81 * math.sin(theta) - 0.1 * omega
        theta, omega = theta + 0.01 * omega, omega + 0.01 * acc
    return theta + omega


def mlp(w, x, y):
    h = np.tanh(x @ w)
    return np.mean((h.sum(axis=1) - y) ** 2)


def rnn(w, xs):
    h = 0.0
    for t in range(len(xs)):
        h = np.tanh(w * h + xs[t])
    return h * h


def halvings(x):
    y = x * x if x > 0 else -x
    k = 0
    while y > 1e-3:
        y = y / 2
        k += 1
    return y + k


RNG = np.random.default_rng(0)
CASES = [
    (loop_sum, (RNG.random(50),)),
    (pendulum, (1.0, 0.0, 200)),
    (mlp, (RNG.random((3, 4)), RNG.random((5, 3)), RNG.random(5))),
    (rnn, (0.5, RNG.random(10))),
    (halvings, (3.0,)),
    (halvings, (-2.0,)),
]


@pytest.mark.parametrize("f,args", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_jit_matches_python(f, args):
    assert np.allclose(ad.jit(f)(*args), f(*args))


@pytest.mark.parametrize("f,args", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_llvm_gradient_matches_python_backend(f, args):
    assert np.allclose(ad.grad(f, backend="llvm")(*args), ad.grad(f)(*args))


def test_jit_options_reach_the_backend():
    """``jit(f, fastmath=True)`` puts fast-math flags on the float arithmetic (off by
    default); ``boundscheck=False`` drops the index checks, ``jit(grad(f), ...)`` takes them too."""
    x = np.linspace(0.0, 1.0, 1000)
    plain, fast = ad.jit(loop_sum), ad.jit(loop_sum, fastmath=True)
    assert plain(x) == ad.jit(loop_sum)(x) and np.isclose(fast(x), plain(x), rtol=1e-12)
    assert " fast " in fast.llvm_ir and " fast " not in plain.llvm_ir

    def pick(v, i):
        return v[i] * 2.0

    v = np.arange(5.0)
    checked = ad.jit(pick)
    with pytest.raises(IndexError):
        checked(v, 7)
    unchecked = ad.jit(pick, boundscheck=False)
    assert unchecked(v, 3) == 6.0 and unchecked(v, -1) == 8.0
    assert len(unchecked.llvm_ir) < len(checked.llvm_ir)  # no bounds test, no error exit
    fast_grad = ad.jit(ad.grad(loop_sum), fastmath=True)
    assert np.allclose(fast_grad(x), ad.grad(loop_sum)(x), rtol=1e-12) and " fast " in fast_grad.llvm_ir


# --------------------------------------------------------------------------- stacks of matrices
def matmul(a, b):
    return a @ b


def dot(a, b):
    return np.dot(a, b)


MATMUL, DOT = ad.jit(matmul), ad.jit(dot)


@given(operands=stacks())
def test_matmul_of_stacks_broadcasts_the_batch_axes(operands):
    a, b = operands
    got, expected = MATMUL(a, b), a @ b
    assert got.shape == expected.shape and np.allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_matmul_and_dot_of_stacks_of_views_and_of_ints():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(3, 6, 5))
    # strided and transposed stacks: each matrix a view BLAS reads transposed, or not at all
    a_view, b_view = a[:, ::-2].transpose(0, 1, 3, 2), b[:, 1:5, ::2]  # (2, 2, 5, 4) @ (3, 4, 3)
    with pytest.raises(ValueError):
        a_view @ b_view  # batch axes (2, 2) and (3,) do not broadcast
    with pytest.raises(ValueError, match="broadcast"):
        MATMUL(a_view, b_view)
    b_view = b[:1, 1:5, ::2]  # (1, 4, 3)
    assert np.allclose(MATMUL(a_view, b_view), a_view @ b_view, rtol=1e-12)
    with pytest.raises(ValueError, match="not aligned"):
        MATMUL(a, b)  # (.., 4, 5) @ (.., 6, 5)
    ints = np.arange(24).reshape(2, 3, 4)
    assert np.array_equal(MATMUL(ints, ints[0].T), ints @ ints[0].T)
    # dot by a stack pairs every row of a with every matrix of b: not matmul's rule
    c, d = rng.normal(size=(3, 4)), rng.normal(size=(2, 4, 5))
    assert DOT(c, d).shape == (3, 2, 5) and np.allclose(DOT(c, d), np.dot(c, d), rtol=1e-12)
    e = rng.normal(size=(5, 2))
    assert np.allclose(DOT(a, e), np.dot(a, e), rtol=1e-12)  # a stack by a matrix: matmul's rule


def mlp_outputs(w, x):
    return np.tanh(x @ w).sum(axis=1)


def test_forward_jacobian_and_hessian_compile_their_batched_products():
    """Forward mode carries one tangent per input entry along a new axis: ``x @ w_dot`` is a
    matmul of a matrix by a stack."""
    w, x, y = RNG.random((3, 4)), RNG.random((5, 3)), RNG.random(5)
    jac = ad.jacobian(mlp_outputs, mode="forward", backend="llvm")(w, x)
    assert jac.shape == (5, 3, 4)
    assert np.allclose(jac, ad.jacobian(mlp_outputs, mode="forward")(w, x), rtol=1e-12)
    hess = ad.hessian(mlp, backend="llvm")(w, x, y)
    assert hess.shape == (3, 4, 3, 4) and np.allclose(hess, ad.hessian(mlp)(w, x, y), rtol=1e-10)


def test_llvm_ir_before_any_call_asks_for_one():
    """Machine code exists per argument types: before a call there is none to show."""
    compiled = ad.jit(loop_sum)
    with pytest.raises(ad.ADError, match=r"call it once, then read \.llvm_ir"):
        _ = compiled.llvm_ir
    with pytest.raises(ad.ADError, match="backend='llvm'"):
        _ = ad.grad(loop_sum).asm
    compiled(np.ones(3))
    assert "adc_entry" in compiled.llvm_ir and "adc_entry" in compiled.asm
