"""Fit the damping and the length of a damped pendulum to noisy observations.

The simulation is explicit Euler in a plain Python loop; ``ad.grad`` differentiates through
every step (its reverse sweep pops the states the forward sweep taped), and gradient descent
recovers the parameters that generated the data.

    python examples/pendulum_fit.py
"""

from __future__ import annotations

import sys

import numpy as np

import adcompiler as ad

G = 9.81  # m/s^2
DT = 0.01  # s
STEPS = 300


def trajectory_loss(damping, length, theta0, observed):
    """Mean squared distance between the simulated angle and the observations, step by step."""
    theta, omega = theta0, 0.0
    total = 0.0
    for k in range(observed.shape[0]):
        total += (theta - observed[k]) ** 2
        alpha = -(G / length) * np.sin(theta) - damping * omega
        theta, omega = theta + DT * omega, omega + DT * alpha
    return total / observed.shape[0]


def simulate(damping: float, length: float, theta0: float) -> np.ndarray:
    """The angles the loss compares with, recorded by the same Euler scheme (the data)."""
    out, theta, omega = np.empty(STEPS), theta0, 0.0
    for k in range(STEPS):
        out[k] = theta
        theta, omega = theta + DT * omega, omega + DT * (-(G / length) * np.sin(theta) - damping * omega)
    return out


def main() -> int:
    rng = np.random.default_rng(1)
    true_damping, true_length, theta0 = 0.6, 1.3, 1.0
    observed = simulate(true_damping, true_length, theta0) + 0.02 * rng.normal(size=STEPS)

    grad = ad.value_and_grad(trajectory_loss, wrt=("damping", "length"))
    damping, length = 0.2, 0.9  # initial guess
    rates = (4.0, 1.0)  # gradient descent steps: the loss is more curved in the length
    first = None
    for it in range(201):
        value, (g_damping, g_length) = grad(damping, length, theta0, observed)
        first = value if first is None else first
        if it % 50 == 0:
            print(f"iter {it:3d}  loss {value:.6f}  damping {damping:.4f}  length {length:.4f}")
        damping -= rates[0] * g_damping
        length -= rates[1] * g_length
    print(f"true values      damping {true_damping:.4f}  length {true_length:.4f}")
    ok = value < 0.01 * first and abs(damping - true_damping) < 0.05 and abs(length - true_length) < 0.05
    print("OK: parameters recovered" if ok else "did not converge")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
