"""Functions as users write them, for the API tests (the compiler reads their source here)."""

import math

import numpy as np

import adcompiler as ad


def poly(x):
    return x * x + 2 * x + 1


def affine_sq(w, x, b):
    return (w * x + b) ** 2


def chained(x, y):
    a = x * y
    b = np.sin(a)
    c = a + b
    d = c * x
    return d / (1.0 + y * y)


def branching(x):
    if x > 1.0:
        y = x**3
    elif x > -1.0:
        y = 2.0 * x
    else:
        y = -x * x
    return y + 1.0


def newton_sqrt(a):
    """sqrt(a) by Newton's method; the derivative flows through every iteration."""
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def pendulum(damping, length, steps=200):
    theta, omega = 1.0, 0.0
    dt = 0.01
    for _ in range(steps):
        alpha = -9.81 / length * math.sin(theta) - damping * omega
        theta = theta + dt * omega
        omega = omega + dt * alpha
    return theta * theta + 0.1 * omega * omega


def smooth_inplace(x):
    y = x.copy()
    for i in range(1, len(x) - 1):
        y[i] = 0.25 * x[i - 1] + 0.5 * x[i] + 0.25 * x[i + 1]
    y[0] += y[-1] * 0.5
    return np.sum(y * y * x)


def softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def logistic_loss(w, X, y):
    z = X @ w
    return np.mean(softplus(z) - y * z)


def logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    logp = logits - logsumexp(logits, 1)
    return -np.sum(Y * logp) / X.shape[0]


def reductions(x):
    a = np.sum(x, axis=0)
    b = np.mean(x, axis=1, keepdims=True)
    c = np.max(x * x, axis=1)
    return np.sum(a * a) + np.sum(b * x) + np.sum(c) + x.sum() * x.mean()


def broadcasting(x, row, s):
    return np.sum((x + row) * s - row * row)


def early_exit(x, n):
    total = 0.0
    for i in range(n):
        total = total + x[i] * x[i]
        if total > 3.0:
            return total * 2.0
    return total


def quadratic_form(x, A):
    return 0.5 * x @ A @ x + np.sum(np.sin(x))


def cubic_sin(x):
    return x**3 + np.sin(x)


@ad.custom_vjp
def round_ste(x):
    return np.round(x)


@round_ste.defvjp
def _round_ste_vjp(x, out, g):
    return g


def quantized_loss(w, x, target):
    return np.sum((round_ste(w * 4.0) / 4.0 * x - target) ** 2)


@ad.custom_vjp
def wrong_square(x):
    return x * x


@wrong_square.defvjp
def _wrong_square_vjp(x, out, g):
    return g * x  # wrong on purpose: should be 2 * g * x


def uses_wrong_square(x):
    return np.sum(wrong_square(x))


@ad.custom_vjp
def right_square(x):
    return x * x


@right_square.defvjp
def _right_square_vjp(x, out, g):
    return 2.0 * g * x


def uses_right_square(x):
    return np.sum(right_square(x))


def frozen(x):
    return x * ad.stop_gradient(x)


def vector_out(x):
    return np.sin(x) * x[0]


def int_param(x, n):
    return x * n


def sqrt_shift(x):
    y = x - 1.0
    return np.sqrt(y)


def with_aux(w, x):
    h = np.tanh(w * x)
    loss = np.sum(h * h)
    return loss, np.mean(h)


def two_layer(w, x):
    h = np.sin(w * x)
    out = np.sum(h * h)
    return out


def rnn_loss(W, U, xs):
    """An Elman RNN over a sequence; the loss reads the last hidden state."""
    h = np.zeros(W.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
    return np.sum(h * h)


def nested_loops(a, n):
    total = 0.0
    x = a
    for _ in range(n):
        for j in range(3):
            x = np.sin(x) + 0.1 * j + a * 0.01
        total = total + x * x
    return total


def data_dependent_while(x):
    """The trip count depends on x: halve until small, then accumulate."""
    y = x
    k = 0
    s = 0.0
    while y > 0.01:
        y = y * 0.5 + 0.001 * np.sin(y)
        s = s + y * y
        k = k + 1
    return s + k


def iterate_over_carried(y, A):
    """The loop iterates over v's first value while updating v (the generator found this)."""
    v = y[::-1]
    for item in v:
        v = v + 0.9 * np.cos(A[1] / (2.0 + np.cos(item)))
    return np.mean(v)


def carried_from_outer(a, c, b):
    """A carried variable set to an outer value in the loop (the generator found this)."""
    for _ in range(1, 3):
        c = b
        a = 0.5 * a + 0.5
    return a + c + a


def loop_may_not_run(x, a, t4):
    """The while loop overwrites t5 but may run no iteration (the generator found this)."""
    t5 = 0.5
    for i in range(0, 5, 2):
        t5 = 0.9 * t5 + 0.1 * x[(i + 1) % 4]
    k = 0
    while k < 3 and np.sum(x) >= 100.0:
        k += 1
        t5 = math.atan(a * t4)
    return t5


def spread(x):
    """np.var / np.std, functions and methods, with axis=, ddof= and keepdims=."""
    return (
        np.std(x)
        + np.sum(np.var(x, axis=0, ddof=1))
        + x.var(axis=1, keepdims=True).sum()
        + np.std(x, axis=(0, 1), ddof=2)
        + np.sum(x.std(axis=-1) * np.arange(x.shape[0]))
    )


def std_of(x):
    return np.std(x)


def running_sums(x, M):
    """np.cumsum of a vector, along each axis of a matrix, and flattened."""
    c = np.cumsum(x)
    return (
        np.sum(c**2)
        + np.sum(np.cumsum(M, axis=0) * M)
        + np.sum(M.cumsum(axis=-1) ** 3)
        + np.sum(np.cumsum(M) * np.arange(M.size))
    )
