"""The LLVM backend behind the public API: ``jit`` and ``grad(backend="llvm")`` agree with Python."""

from __future__ import annotations

import math

import numpy as np
import pytest

import adcompiler as ad


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
