"""``mlp``: softmax cross-entropy of a 784-128-10 tanh MLP on a batch, grad w.r.t. W1, b1, W2, b2."""

from __future__ import annotations

import numpy as np

from benchmarks import peers
from benchmarks.problems.mlp import mlp_loss
from benchmarks.workloads.base import Args, Entry, Pair, Thunk, Workload

N_IN, N_HIDDEN, N_OUT = 784, 128, 10


def make_args(batch: int) -> Args:
    rng = np.random.default_rng(0)
    W1 = rng.normal(0.0, 1.0 / np.sqrt(N_IN), (N_IN, N_HIDDEN))
    b1 = rng.normal(0.0, 0.1, N_HIDDEN)
    W2 = rng.normal(0.0, 1.0 / np.sqrt(N_HIDDEN), (N_HIDDEN, N_OUT))
    b2 = rng.normal(0.0, 0.1, N_OUT)
    X = rng.uniform(0.0, 1.0, (batch, N_IN))
    Y = np.eye(N_OUT)[rng.integers(0, N_OUT, batch)]
    return W1, b1, W2, b2, X, Y


def hand_grad(W1, b1, W2, b2, X, Y) -> tuple[np.ndarray, ...]:
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    z = logits - np.max(logits, axis=1, keepdims=True)
    p = np.exp(z)
    p /= np.sum(p, axis=1, keepdims=True)
    d_logits = (p - Y) / X.shape[0]  # Y is one-hot: each row sums to 1
    d_pre = (d_logits @ W2.T) * (1.0 - h * h)
    return X.T @ d_pre, d_pre.sum(axis=0), h.T @ d_logits, d_logits.sum(axis=0)


def _autograd(args: Args) -> Thunk:
    ag, anp = peers.autograd()

    def f(W1, b1, W2, b2, X, Y):
        h = anp.tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        z = logits - anp.max(logits, axis=1, keepdims=True)
        logp = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return -anp.sum(Y * logp) / X.shape[0]

    g = ag.grad(f, (0, 1, 2, 3))
    return lambda: g(*args)


def _jax(args: Args) -> Thunk:
    jx, jnp, _ = peers.jax()

    def f(W1, b1, W2, b2, X, Y):
        h = jnp.tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        z = logits - jnp.max(logits, axis=1, keepdims=True)
        logp = z - jnp.log(jnp.sum(jnp.exp(z), axis=1, keepdims=True))
        return -jnp.sum(Y * logp) / X.shape[0]

    g = jx.jit(jx.grad(f, argnums=(0, 1, 2, 3)))
    jargs = tuple(jnp.asarray(a) for a in args)
    return lambda: jx.block_until_ready(g(*jargs))


def _torch(args: Args) -> Thunk:
    th = peers.torch()
    t = [th.tensor(a, dtype=th.float64) for a in args]
    params = t[:4]
    for p in params:
        p.requires_grad_(True)
    W1, b1, W2, b2, X, Y = t

    def run() -> object:
        h = th.tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        z = logits - th.max(logits, dim=1, keepdim=True).values
        logp = z - th.log(th.sum(th.exp(z), dim=1, keepdim=True))
        return th.autograd.grad(-th.sum(Y * logp) / X.shape[0], params)

    return run


WORKLOAD = Workload(
    name="mlp",
    summary="softmax cross-entropy of a 784-128-10 tanh MLP, grad w.r.t. (W1, b1, W2, b2)",
    primal=mlp_loss,
    wrt=(0, 1, 2, 3),
    make_args=make_args,
    size=256,
    quick_size=32,
    size_label="batch",
    hand_grad=hand_grad,
    peers=(
        Entry("autograd", "grad", _autograd, requires="autograd"),
        Entry("jax jit(grad)", "grad", _jax, requires="jax", isolate=True),
        Entry("torch", "grad", _torch, requires="torch", isolate=True),
    ),
    pairs=(
        # BLAS and XLA run the products on every core: compared on one core and on all
        Pair("ad.grad [llvm]", "jax jit(grad)", 1.2, cores="1"),
        Pair("ad.grad [llvm]", "jax jit(grad)", 1.2, cores="all"),
        Pair("ad.grad [python]", "jax jit(grad)", 1.2, cores="1"),
        Pair("ad.grad [python]", "jax jit(grad)", 1.2, cores="all"),
    ),
)
