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
