"""adcompiler in one page: differentiate a loss with a loop and a branch, show the generated
derivative, and check it against central finite differences.

    python examples/demo.py
"""

from __future__ import annotations

import sys

import numpy as np

import adcompiler as ad

DELTA = 1.0  # Huber threshold


def loss(w, x, y):
    """Mean Huber loss of a linear model, accumulated row by row, plus an L2 penalty."""
    total = 0.0
    for i in range(x.shape[0]):
        r = np.dot(x[i], w) - y[i]
        if abs(r) <= DELTA:
            total += 0.5 * r * r
        else:
            total += DELTA * (abs(r) - 0.5 * DELTA)
    return total / x.shape[0] + 0.01 * np.sum(w * w)


def central_differences(f, w, *rest, h=1e-6):
    """d f / d w, one coordinate at a time: (f(w + h e_k) - f(w - h e_k)) / 2h."""
    g = np.zeros_like(w)
    for k in range(w.size):
        e = np.zeros_like(w)
        e[k] = h
        g[k] = (f(w + e, *rest) - f(w - e, *rest)) / (2 * h)
    return g


def main() -> int:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    w_true = np.array([1.0, -2.0, 0.5, 3.0])
    y = x @ w_true + rng.standard_t(2.0, size=50)  # heavy-tailed noise: both branches are taken
    w = w_true + 0.3 * rng.normal(size=4)

    dloss = ad.grad(loss)  # d loss / d w (the first argument)
    exact = dloss(w, x, y)  # generated for these argument types, compiled and cached
    print("# ---- generated source of ad.grad(loss) ----")
    print(dloss.source)

    approx = central_differences(loss, w, x, y)
    err = float(np.max(np.abs(exact - approx)))
    np.set_printoptions(precision=10)
    print(f"loss(w)             = {loss(w, x, y):.10f}")
    print(f"ad.grad(loss)(w)    = {exact}")
    print(f"finite differences  = {approx}")
    print(f"max abs difference  = {err:.2e}")
    ok = err <= 1e-6 * max(1.0, float(np.max(np.abs(approx))))
    print("OK: the gradient matches finite differences" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
