"""A damped pendulum integrated with explicit Euler over 10 seconds."""

import math

G = 9.81


def pendulum(damping, length, steps):
    dt = 10.0 / steps
    theta = 1.0
    omega = 0.0
    for _ in range(steps):
        alpha = -(G / length) * math.sin(theta) - damping * omega
        theta = theta + dt * omega
        omega = omega + dt * alpha
    return (theta - 0.5) ** 2 + 0.1 * omega**2
