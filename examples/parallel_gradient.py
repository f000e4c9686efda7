"""A data-parallel gradient: shards of the data in worker processes, gradients summed.

A transformed function pickles *by reference*: ``pickle.dumps(ad.grad(loss))`` holds the
name of the module-level function ``loss`` and the transformation's parameters, not code.
Each worker regenerates (and caches) the same derivative, so ``ad.grad(loss)`` can be handed
to a ``ProcessPoolExecutor`` like any function. The workers are spawned, as on macOS and
Windows, so nothing is inherited from this process.

    python examples/parallel_gradient.py
"""

from __future__ import annotations

import multiprocessing
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import adcompiler as ad

WORKERS = 2


def loss(w, X, y):
    """Sum of squared residuals of a linear model with a tanh link: a sum over rows, so the
    gradient on the whole data set is the sum of the gradients on its shards."""
    r = np.tanh(X @ w) - y
    return np.sum(r * r)


def sharded_gradient(pool: ProcessPoolExecutor, dloss, w, X, y, shards) -> np.ndarray:
    """The gradient on the whole data: one task per shard, the shards' gradients summed."""
    parts = pool.map(dloss, [w] * len(shards), [X[s] for s in shards], [y[s] for s in shards])
    return np.sum(list(parts), axis=0)


def main() -> int:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(4000, 8))
    y = np.tanh(X @ rng.normal(size=8)) + 0.05 * rng.normal(size=4000)
    w = np.zeros(8)
    shards = np.array_split(np.arange(len(X)), 4 * WORKERS)

    dloss = ad.grad(loss)
    print(f"pickle.dumps(ad.grad(loss)) is {len(pickle.dumps(dloss))} bytes: a reference, not code")
    local = dloss(w, X, y)

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=context) as pool:
        sharded = sharded_gradient(pool, dloss, w, X, y, shards)
        error = float(np.max(np.abs(sharded - local)) / np.max(np.abs(local)))
        print(
            f"{len(shards)} shards on {WORKERS} processes; relative difference from one process: {error:.1e}"
        )
        first = loss(w, X, y)
        for step in range(1, 31):
            w = w - 2e-4 * sharded_gradient(pool, dloss, w, X, y, shards)
            if step % 10 == 0:
                print(f"step {step:2d}  loss {loss(w, X, y):.3f}")
    ok = error < 1e-12 and loss(w, X, y) < 0.1 * first
    print("OK: the data-parallel gradient equals the single-process one" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
