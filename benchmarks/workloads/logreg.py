"""``logreg``: L2-regularised logistic regression with a stable softplus, grad w.r.t. (w, b)."""

from __future__ import annotations

import numpy as np

from benchmarks import peers
from benchmarks.problems.logreg import LAM, logreg_loss
from benchmarks.workloads.base import Args, Entry, Thunk, Workload

N_FEATURES = 100


def make_args(n: int) -> Args:
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 1.0, (n, N_FEATURES))
    w_true = rng.normal(0.0, 1.0, N_FEATURES)
    y = np.where(X @ w_true + rng.normal(0.0, 2.0, n) > 0.0, 1.0, -1.0)
    w = rng.normal(0.0, 0.1, N_FEATURES)
    return w, 0.1, X, y


def hand_grad(w, b, X, y) -> tuple[np.ndarray, float]:
    m = -y * (X @ w + b)
    sig = 0.5 * (1.0 + np.tanh(0.5 * m))  # softplus'(m) = sigmoid(m), without overflow
    dz = -y * sig / X.shape[0]
    return X.T @ dz + LAM * w, float(np.sum(dz))


def _autograd(args: Args) -> Thunk:
    ag, anp = peers.autograd()

    def f(w, b, X, y):
        m = -y * (X @ w + b)
        softplus = anp.maximum(m, 0.0) + anp.log1p(anp.exp(-anp.abs(m)))
        return anp.mean(softplus) + 0.5 * LAM * anp.sum(w * w)

    g = ag.grad(f, (0, 1))
    return lambda: g(*args)


def _jax(args: Args) -> Thunk:
    jx, jnp, _ = peers.jax()

    def f(w, b, X, y):
        m = -y * (X @ w + b)
        softplus = jnp.maximum(m, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(m)))
        return jnp.mean(softplus) + 0.5 * LAM * jnp.sum(w * w)

    g = jx.jit(jx.grad(f, argnums=(0, 1)))
    jargs = tuple(jnp.asarray(a) for a in args)
    return lambda: jx.block_until_ready(g(*jargs))


def _torch(args: Args) -> Thunk:
    th = peers.torch()
    w, b, X, y = (th.tensor(a, dtype=th.float64) for a in args)
    w.requires_grad_(True)
    b.requires_grad_(True)

    def run() -> object:
        m = -y * (X @ w + b)
        softplus = th.clamp(m, min=0.0) + th.log1p(th.exp(-th.abs(m)))
        return th.autograd.grad(th.mean(softplus) + 0.5 * LAM * th.sum(w * w), [w, b])

    return run


WORKLOAD = Workload(
    name="logreg",
    summary=f"logistic loss + L2, n samples x {N_FEATURES} features, grad w.r.t. (w, b)",
    primal=logreg_loss,
    wrt=(0, 1),
    make_args=make_args,
    size=100_000,
    quick_size=2_000,
    size_label="n",
    hand_grad=hand_grad,
    peers=(
        Entry("autograd", "grad", _autograd, requires="autograd"),
        Entry("jax jit(grad)", "grad", _jax, requires="jax", isolate=True),
        Entry("torch", "grad", _torch, requires="torch", isolate=True),
    ),
)
