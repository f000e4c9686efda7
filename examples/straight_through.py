"""Train through ``np.round`` with a straight-through estimator (``@ad.custom_vjp``).

Rounding has derivative zero almost everywhere, so the true gradient of a loss that rounds
its weights gives gradient descent nothing to follow. The straight-through estimator
pretends, in the backward pass only, that rounding was the identity: the forward pass keeps
the integer weights, the backward pass passes the cotangent through unchanged. In adcompiler
that is a custom VJP rule, and the generated gradient calls it by name. Compiled with
``backend="llvm"``, the function and its rule are compiled from their source instead.

    python examples/straight_through.py
"""

from __future__ import annotations

import sys

import numpy as np

import adcompiler as ad


@ad.custom_vjp
def quantize(x):
    """Round to the nearest integer (the forward pass)."""
    return np.round(x)


@quantize.defvjp
def quantize_vjp(x, out, g):
    """Straight through: the cotangent of the rounded value goes to ``x`` unchanged."""
    return g


def loss(w, X, y):
    """Mean squared error of a linear model whose weights are rounded to integers."""
    r = X @ quantize(w) - y
    return np.mean(r * r)


def loss_true_round(w, X, y):
    """The same model with plain ``np.round``: its exact gradient is zero."""
    r = X @ np.round(w) - y
    return np.mean(r * r)


def main() -> int:
    rng = np.random.default_rng(3)
    w_int = np.array([3.0, -2.0, 1.0, 0.0, 4.0])  # the integer weights to recover
    X = rng.normal(size=(200, 5))
    y = X @ w_int
    w = 0.3 * rng.normal(size=5)  # latent float weights; the model uses round(w)

    exact = ad.grad(loss_true_round)(w, X, y)
    print(f"exact gradient through np.round: {exact}  (nothing to descend)")

    dloss = ad.value_and_grad(loss)
    w0 = w
    first, _ = dloss(w, X, y)
    for it in range(61):
        value, g = dloss(w, X, y)
        if it % 10 == 0:
            print(f"iter {it:2d}  loss {value:8.4f}  round(w) = {np.round(w).astype(int)}")
        w = w - 0.05 * g
    print("the generated gradient calls the rule by name:")
    print("\n".join("    " + line for line in dloss.source.splitlines() if "quantize" in line))
    compiled = ad.value_and_grad(loss, backend="llvm")  # the rule compiled, not called
    same = all(np.allclose(a, b, rtol=1e-12, atol=0) for a, b in zip(compiled(w0, X, y), dloss(w0, X, y)))
    print(f"backend='llvm' gives the same loss and gradient: {same}")
    value = loss(w, X, y)
    ok = same and value < 1e-12 < first and np.array_equal(np.round(w), w_int)
    print("OK: integer weights recovered" if ok else "did not converge")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
