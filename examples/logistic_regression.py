"""Logistic regression, written the numerically stable way, trained by gradient descent and
then by Newton's method with the Hessian that ``ad.hessian`` generates.

``log(1 + exp(-m))`` overflows for margins ``m`` below about -710; the same quantity written as
``max(-m, 0) + log1p(exp(-|m|))`` never does, and adcompiler differentiates the stable form as
written (through ``maximum`` and ``abs``), so the gradient is stable too.

    python examples/logistic_regression.py
"""

from __future__ import annotations

import sys

import numpy as np

import adcompiler as ad

L2 = 1e-3


def softplus_neg(m):
    """``log(1 + exp(-m))`` without overflow: ``max(-m, 0) + log1p(exp(-|m|))``."""
    return np.maximum(-m, 0.0) + np.log1p(np.exp(-np.abs(m)))


def loss(w, X, y):
    """Mean logistic loss of labels ``y`` in {-1, +1}, plus a small L2 penalty."""
    margins = y * (X @ w)
    return np.mean(softplus_neg(margins)) + L2 * np.sum(w * w)


def naive_loss(w, X, y):
    """The textbook formula: overflows to inf when a margin is very negative."""
    return np.mean(np.log(1.0 + np.exp(-y * (X @ w)))) + L2 * np.sum(w * w)


def main() -> int:
    rng = np.random.default_rng(2)
    n, d = 400, 5
    X = np.hstack([rng.normal(size=(n, d - 1)), np.ones((n, 1))])  # last column: the bias
    w_true = np.array([2.0, -1.0, 0.5, 1.5, -0.5])
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-X @ w_true)), 1.0, -1.0)

    far = np.full(d, -400.0)  # a terrible starting point: margins of thousands
    with np.errstate(over="ignore"):
        print(f"at w = -400: naive loss {naive_loss(far, X, y):.4g}, stable loss {loss(far, X, y):.6g}")
    print(f"stable gradient there is finite: {bool(np.all(np.isfinite(ad.grad(loss)(far, X, y))))}")

    dloss = ad.value_and_grad(loss)
    w = np.zeros(d)
    first, _ = dloss(w, X, y)
    for it in range(101):
        value, g = dloss(w, X, y)
        if it % 25 == 0:
            print(f"gradient descent  iter {it:3d}  loss {value:.6f}  |grad| {np.linalg.norm(g):.2e}")
        w = w - 1.0 * g

    hessian = ad.hessian(loss)
    for it in range(5):  # Newton: w <- w - H^-1 g, quadratic convergence near the minimum
        value, g = dloss(w, X, y)
        print(f"Newton            iter {it:3d}  loss {value:.10f}  |grad| {np.linalg.norm(g):.2e}")
        w = w - np.linalg.solve(hessian(w, X, y), g)
    value, g = dloss(w, X, y)
    accuracy = np.mean(np.sign(X @ w) == y)
    print(f"final loss {value:.10f}, |grad| {np.linalg.norm(g):.1e}, training accuracy {accuracy:.1%}")
    print(f"w = {np.round(w, 2)}  (generated from {w_true})")
    ok = value < first and np.linalg.norm(g) < 1e-8
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
