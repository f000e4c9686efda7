"""``loop_sum``: ``s += sin(x[i]) * x[i]**2 + 0.5*x[i]`` over 10^6 elements, in loop form."""

from __future__ import annotations

import math

import numpy as np

from benchmarks import peers
from benchmarks.problems.loop_sum import loop_sum
from benchmarks.workloads.base import Args, Entry, Pair, Thunk, Workload

# Autograd and PyTorch differentiate ``x[i]`` by scattering into a fresh zero array of
# x's size, so the loop form costs O(n^2) time there.
QUADRATIC_LIMIT = 2_000
QUADRATIC = "O(n^2): each x[i] adjoint is a full-size array"


def make_args(n: int) -> Args:
    return (np.random.default_rng(0).uniform(-2.0, 2.0, n),)


def hand_grad(x: np.ndarray) -> tuple[np.ndarray]:
    """What an expert writes in NumPy: the adjoint of every iteration at once."""
    return (np.cos(x) * x * x + 2.0 * x * np.sin(x) + 0.5,)


def adjoint_loop(x: np.ndarray) -> np.ndarray:
    """The adjoint as an expert writes it for Numba.

    The forward sweep is empty: ``s`` enters each iteration linearly, so the reverse
    sweep needs no tape, only ``s_bar = 1`` and each ``x[i]``.
    """
    n = x.shape[0]
    x_bar = np.empty(n)
    s_bar = 1.0
    for i in range(n - 1, -1, -1):
        xi = x[i]
        x_bar[i] = s_bar * (math.cos(xi) * xi * xi + 2.0 * xi * math.sin(xi) + 0.5)
    return x_bar


def _numba_f(args: Args) -> Thunk:
    f = peers.njit(loop_sum)
    return lambda: f(*args)


def _numba_grad(args: Args) -> Thunk:
    g = peers.njit(adjoint_loop)
    return lambda: (g(*args),)


def _autograd(args: Args) -> Thunk:
    ag, anp = peers.autograd()

    def f(x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + anp.sin(x[i]) * x[i] ** 2 + 0.5 * x[i]
        return s

    g = ag.grad(f)
    return lambda: g(*args)


def _jax(args: Args) -> Thunk:
    jx, jnp, lax = peers.jax()

    def f(x):
        def body(i, s):
            return s + jnp.sin(x[i]) * x[i] ** 2 + 0.5 * x[i]

        return lax.fori_loop(0, x.shape[0], body, jnp.zeros((), x.dtype))

    g = jx.jit(jx.grad(f))
    jargs = tuple(jnp.asarray(a) for a in args)
    return lambda: jx.block_until_ready(g(*jargs))


def _torch(args: Args) -> Thunk:
    th = peers.torch()
    x = th.tensor(args[0], dtype=th.float64, requires_grad=True)

    def run() -> object:
        s = th.zeros((), dtype=th.float64)
        for i in range(x.shape[0]):
            s = s + th.sin(x[i]) * x[i] ** 2 + 0.5 * x[i]
        return th.autograd.grad(s, [x])[0]

    return run


WORKLOAD = Workload(
    name="loop_sum",
    summary="for i: s += sin(x[i])*x[i]**2 + 0.5*x[i]  (scalar loop)",
    primal=loop_sum,
    wrt=(0,),
    make_args=make_args,
    size=1_000_000,
    quick_size=10_000,
    size_label="n",
    hand_grad=hand_grad,
    peers=(
        Entry("numba njit", "f", _numba_f, requires="numba"),
        Entry("hand-written numba", "grad", _numba_grad, requires="numba"),
        Entry("autograd", "grad", _autograd, QUADRATIC_LIMIT, QUADRATIC, requires="autograd"),
        Entry("jax jit(grad) fori_loop", "grad", _jax, requires="jax", isolate=True),
        Entry("torch", "grad", _torch, QUADRATIC_LIMIT, QUADRATIC, requires="torch", isolate=True),
    ),
    pairs=(
        Pair("ad.jit [llvm]", "numba njit", 1.2),
        Pair("ad.grad [llvm]", "hand-written numba", 1.3),
        Pair("ad.grad [llvm]", "ad.jit [llvm]", 3.0),
        Pair("ad.grad [llvm]", "jax jit(grad) fori_loop", 1.0),
    ),
)
