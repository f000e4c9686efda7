"""Train a small multilayer perceptron classifier with stochastic gradient descent.

The gradient of the cross-entropy loss with respect to all four parameter arrays comes from
``ad.grad(loss, wrt=(0, 1, 2, 3))``: one generated reverse-mode function returning a tuple
of gradients. The LLVM backend is used when it works on this machine, else the Python one.

    python examples/mlp_sgd.py
"""

from __future__ import annotations

import sys
import time

import numpy as np

import adcompiler as ad


def loss(W1, b1, W2, b2, X, Y):
    """Mean cross-entropy of a one-hidden-layer tanh network; ``Y`` is one-hot."""
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    zmax = ad.stop_gradient(np.max(z, axis=1, keepdims=True))  # softmax is shift-invariant
    log_norm = np.log(np.sum(np.exp(z - zmax), axis=1, keepdims=True)) + zmax
    return -np.sum(Y * (z - log_norm)) / X.shape[0]


def spirals(n_per_class: int, classes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved noisy spirals in the plane: not linearly separable."""
    X, labels = [], []
    for c in range(classes):
        r = np.linspace(0.1, 1.0, n_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + 0.2 * rng.normal(size=n_per_class)
        X.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        labels.append(np.full(n_per_class, c))
    return np.concatenate(X), np.concatenate(labels)


def gradient_function(params: tuple[np.ndarray, ...], X: np.ndarray, Y: np.ndarray):
    """``ad.grad`` of the loss on the LLVM backend if it compiles and agrees, else on Python."""
    reference = ad.grad(loss, wrt=(0, 1, 2, 3))
    expected = reference(*params, X, Y)
    try:
        fast = ad.grad(loss, wrt=(0, 1, 2, 3), backend="llvm")
        got = fast(*params, X, Y)
        if all(np.allclose(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(got, expected)):
            return fast, "llvm"
        reason = "its gradient differs from the Python backend's"
    except Exception as e:  # the LLVM backend is optional: fall back to generated Python
        reason = f"{type(e).__name__}: {str(e).splitlines()[0]}"
    print(f"LLVM backend not used ({reason})")
    return reference, "python"


def main() -> int:
    rng = np.random.default_rng(0)
    classes, hidden = 3, 16
    X, labels = spirals(100, classes, rng)
    Y = np.eye(classes)[labels]
    params = [
        rng.normal(size=(2, hidden)),
        np.zeros(hidden),
        rng.normal(size=(hidden, classes)) / np.sqrt(hidden),
        np.zeros(classes),
    ]
    dloss, backend = gradient_function(tuple(params), X, Y)
    print(f"gradient: ad.grad(loss, wrt=(0, 1, 2, 3)) on the {backend} backend")

    start = time.perf_counter()
    first = loss(*params, X, Y)
    lr, batch = 0.5, 32
    for epoch in range(1, 61):
        order = rng.permutation(len(X))
        for k in range(0, len(X), batch):
            rows = order[k : k + batch]
            grads = dloss(*params, X[rows], Y[rows])
            params = [p - lr * g for p, g in zip(params, grads)]
        if epoch % 10 == 0:
            h = np.tanh(X @ params[0] + params[1])
            accuracy = np.mean(np.argmax(h @ params[2] + params[3], axis=1) == labels)
            print(f"epoch {epoch:3d}  loss {loss(*params, X, Y):.4f}  accuracy {accuracy:.1%}")
    final = loss(*params, X, Y)
    print(f"loss {first:.4f} -> {final:.4f} in {time.perf_counter() - start:.2f} s")
    return 0 if final < 0.5 * first else 1


if __name__ == "__main__":
    sys.exit(main())
