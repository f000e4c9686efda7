"""``pendulum``: explicit Euler of a damped pendulum, grad of a final-state loss w.r.t. (damping, length)."""

from __future__ import annotations

import math

import numpy as np

from benchmarks import peers
from benchmarks.problems.pendulum import G, pendulum
from benchmarks.workloads.base import Args, Entry, Pair, Thunk, Workload


def make_args(steps: int) -> Args:
    return 0.3, 1.2, steps


def hand_grad(damping: float, length: float, steps: int) -> tuple[float, float]:
    """The adjoint in plain Python: forward sweep taping the state, then reverse sweep."""
    dt = 10.0 / steps
    thetas: list[float] = []
    omegas: list[float] = []
    theta, omega = 1.0, 0.0
    for _ in range(steps):
        thetas.append(theta)
        omegas.append(omega)
        alpha = -(G / length) * math.sin(theta) - damping * omega
        theta, omega = theta + dt * omega, omega + dt * alpha
    theta_bar, omega_bar = 2.0 * (theta - 0.5), 0.2 * omega
    damping_bar = length_bar = 0.0
    for k in range(steps - 1, -1, -1):
        theta, omega = thetas[k], omegas[k]
        alpha_bar = dt * omega_bar
        damping_bar -= alpha_bar * omega
        length_bar += alpha_bar * (G / (length * length)) * math.sin(theta)
        theta_bar, omega_bar = (
            theta_bar - alpha_bar * (G / length) * math.cos(theta),
            omega_bar + dt * theta_bar - alpha_bar * damping,
        )
    return damping_bar, length_bar


def adjoint_arrays(damping: float, length: float, steps: int) -> tuple[float, float]:
    """The same adjoint as an expert writes it for Numba: the tape is two preallocated arrays."""
    dt = 10.0 / steps
    thetas = np.empty(steps)
    omegas = np.empty(steps)
    theta = 1.0
    omega = 0.0
    for k in range(steps):
        thetas[k] = theta
        omegas[k] = omega
        alpha = -(G / length) * math.sin(theta) - damping * omega
        theta = theta + dt * omega
        omega = omega + dt * alpha
    theta_bar = 2.0 * (theta - 0.5)
    omega_bar = 0.2 * omega
    damping_bar = 0.0
    length_bar = 0.0
    for k in range(steps - 1, -1, -1):
        alpha_bar = dt * omega_bar
        damping_bar -= alpha_bar * omegas[k]
        length_bar += alpha_bar * (G / (length * length)) * math.sin(thetas[k])
        new_theta_bar = theta_bar - alpha_bar * (G / length) * math.cos(thetas[k])
        omega_bar = omega_bar + dt * theta_bar - alpha_bar * damping
        theta_bar = new_theta_bar
    return damping_bar, length_bar


def _numba_f(args: Args) -> Thunk:
    f = peers.njit(pendulum)
    return lambda: f(*args)


def _numba_grad(args: Args) -> Thunk:
    g = peers.njit(adjoint_arrays)
    return lambda: g(*args)


def _autograd(args: Args) -> Thunk:
    ag, anp = peers.autograd()

    def f(damping, length, steps):
        dt = 10.0 / steps
        theta, omega = 1.0, 0.0
        for _ in range(steps):
            alpha = -(G / length) * anp.sin(theta) - damping * omega
            theta, omega = theta + dt * omega, omega + dt * alpha
        return (theta - 0.5) ** 2 + 0.1 * omega**2

    g = ag.grad(f, (0, 1))
    return lambda: g(*args)


def _jax(args: Args) -> Thunk:
    jx, jnp, lax = peers.jax()
    damping, length, steps = args
    dt = 10.0 / steps

    def f(damping, length):
        def body(_, state):
            theta, omega = state
            alpha = -(G / length) * jnp.sin(theta) - damping * omega
            return theta + dt * omega, omega + dt * alpha

        theta, omega = lax.fori_loop(0, steps, body, (jnp.float64(1.0), jnp.float64(0.0)))
        return (theta - 0.5) ** 2 + 0.1 * omega**2

    g = jx.jit(jx.grad(f, argnums=(0, 1)))
    jargs = (jnp.float64(damping), jnp.float64(length))
    return lambda: jx.block_until_ready(g(*jargs))


def _torch(args: Args) -> Thunk:
    th = peers.torch()
    damping0, length0, steps = args
    damping = th.tensor(damping0, dtype=th.float64, requires_grad=True)
    length = th.tensor(length0, dtype=th.float64, requires_grad=True)
    dt = 10.0 / steps

    def run() -> object:
        theta = th.tensor(1.0, dtype=th.float64)
        omega = th.tensor(0.0, dtype=th.float64)
        for _ in range(steps):
            alpha = -(G / length) * th.sin(theta) - damping * omega
            theta, omega = theta + dt * omega, omega + dt * alpha
        return th.autograd.grad((theta - 0.5) ** 2 + 0.1 * omega**2, [damping, length])

    return run


WORKLOAD = Workload(
    name="pendulum",
    summary="explicit Euler of a damped pendulum over 10 s, grad of final-state loss w.r.t. (damping, length)",
    primal=pendulum,
    wrt=(0, 1),
    make_args=make_args,
    size=100_000,
    quick_size=1_000,
    size_label="steps",
    hand_grad=hand_grad,
    peers=(
        Entry("numba njit", "f", _numba_f, requires="numba"),
        Entry("hand-written numba", "grad", _numba_grad, requires="numba"),
        Entry("autograd", "grad", _autograd, requires="autograd"),
        Entry("jax jit(grad) fori_loop", "grad", _jax, requires="jax", isolate=True),
        Entry("torch", "grad", _torch, requires="torch", isolate=True),
    ),
    pairs=(
        Pair("ad.jit [llvm]", "numba njit", 1.2),
        Pair("ad.grad [llvm]", "hand-written numba", 1.3),
        Pair("ad.grad [llvm]", "ad.jit [llvm]", 3.0),
        Pair("ad.grad [llvm]", "jax jit(grad) fori_loop", 1.0),
    ),
)
