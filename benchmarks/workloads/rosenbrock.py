"""``rosenbrock``: a vectorised sum over 10^6 elements."""

from __future__ import annotations

import numpy as np

from benchmarks import peers
from benchmarks.problems.rosenbrock import rosenbrock
from benchmarks.workloads.base import Args, Entry, Pair, Thunk, Workload


def make_args(n: int) -> Args:
    return (np.random.default_rng(0).uniform(-1.5, 1.5, n),)


def hand_grad(x: np.ndarray) -> tuple[np.ndarray]:
    head = x[:-1]
    a = x[1:] - head**2
    g = np.zeros_like(x)
    g[:-1] = -400.0 * a * head - 2.0 * (1.0 - head)
    g[1:] += 200.0 * a
    return (g,)


def _autograd(args: Args) -> Thunk:
    ag, anp = peers.autograd()

    def f(x):
        return anp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    g = ag.grad(f)
    return lambda: g(*args)


def _jax(args: Args) -> Thunk:
    jx, jnp, _ = peers.jax()

    def f(x):
        return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    g = jx.jit(jx.grad(f))
    jargs = tuple(jnp.asarray(a) for a in args)
    return lambda: jx.block_until_ready(g(*jargs))


def _torch(args: Args) -> Thunk:
    th = peers.torch()
    x = th.tensor(args[0], dtype=th.float64, requires_grad=True)

    def run() -> object:
        loss = th.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
        return th.autograd.grad(loss, [x])[0]

    return run


WORKLOAD = Workload(
    name="rosenbrock",
    summary="np.sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2), vectorised",
    primal=rosenbrock,
    wrt=(0,),
    make_args=make_args,
    size=1_000_000,
    quick_size=10_000,
    size_label="n",
    hand_grad=hand_grad,
    peers=(
        Entry("autograd", "grad", _autograd, requires="autograd"),
        Entry("jax jit(grad)", "grad", _jax, requires="jax", isolate=True),
        Entry("torch", "grad", _torch, requires="torch", isolate=True),
    ),
    # XLA splits large fused loops over every core: compared on one core and on all
    pairs=(
        Pair("ad.grad [llvm]", "jax jit(grad)", 1.0, cores="1"),
        Pair("ad.grad [llvm]", "jax jit(grad)", 1.0, cores="all"),
    ),
)
