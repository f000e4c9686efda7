"""The frontend's main correctness check: each program runs as Python and as IR (parsed by
the frontend, evaluated by ``ir_interp``) on the same inputs, and the results must agree."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adcompiler.frontend import parse_function
from adcompiler.ir.interp import run
from adcompiler.ir.verifier import verify

WEIGHTS = np.array([0.5, -1.0, 2.0])
PAIR = (2, 3.5)
SCALE = 1.5


def straight(x, y):
    z = x * y + np.sin(x) - y / 3.0
    w = z**2 % 5.0 + math.exp(-abs(x)) + x // 2
    return w - math.sqrt(y) * math.pi + (-z) + (+z)


def branches(x):
    if x > 2.0:
        y = x * 2
    elif x < -1.0:
        y = -x
    else:
        y = x + 10.0
    return y


def branch_no_else(x):
    y = 1.0
    if x > 0:
        y = x * 3
        z = y + 1
    else:
        z = 0.0
    return y + z


def loop_carry(x, n):
    s = 0.0
    p = 1.0
    for i in range(n):
        s = s + x * i
        p *= 1.1
    return s + p


def loop_range_args(x):
    s = 0.0
    for i in range(2, 11, 3):
        s += i * x
    for j in range(10, 0, -2):
        s -= j
    return s


def while_break(x):
    acc = 0.0
    i = 0
    while True:
        acc += x[i]
        if acc > 3.0:
            break
        i += 1
    return acc


def while_cond(x):
    k = 0
    v = x
    while v < 100.0 and k < 50:
        v = v * 1.7 + 1.0
        k += 1
        if k % 3 == 0:
            continue
        v += 0.5
    return v + k


def early_return_loop(x):
    for i in range(len(x)):
        if x[i] > 2.0:
            return x[i] * 10.0
    return -1.0


def early_return_if(x):
    if x < 0:
        return -x
    y = x * 2
    if y > 10:
        return y - 10
    return y


def continue_for(x):
    total = 0.0
    for i in range(len(x)):
        if x[i] < 0:
            continue
        total += x[i]
        if total > 5:
            continue
        total += 0.1
    return total


def nested_break(X):
    total = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            if X[i, j] < 0:
                break
            total += X[i, j]
        total *= 1.01
    return total


def nested_return(X):
    s = 0.0
    for i in range(X.shape[0]):
        j = 0
        while j < X.shape[1]:
            s += X[i, j]
            if s > 4.0:
                return s * 100
            j += 1
    return s


def setitem_ops(x):
    y = np.zeros(6)
    y[1:4] = x[:3]
    y[0] += 1.0
    y[-1] = x[-1] * 2
    y[4:] += 3.0
    z = np.ones((3, 4))
    z[1, 2] = 7.0
    z[:, 0] = x[:3]
    z[2] *= 2.0
    return y.sum() + z.sum() + z[1, 2]


def slices(X):
    a = X[1:, :-1].sum()
    b = X[::2, ::-1].sum()
    c = X[-1].sum() + X[:, 1].sum()
    d = X[None, :, 0].sum() + X[..., 1].sum()
    e = X[np.array([0, 2])].sum()
    f = X[X > 0.5].sum()
    return a + b * 2 + c * 3 + d * 4 + e * 5 + f * 6


def reductions(X):
    a = np.sum(X, axis=0)
    b = X.mean(axis=1, keepdims=True)
    c = np.max(X) - X.min() + np.prod(X[0])
    d = np.argmax(X[:, 0]) + X.argmin()
    e = np.amax(X, axis=(0, 1))
    return a.sum() + b.sum() + c + d + e + np.mean(X)


def helper_inner(a, b=3.0):
    t = a * b
    return t + SCALE


def helper_outer(a, scale):
    return helper_inner(a, b=scale) * helper_inner(a)


def helpers(x):
    y = helper_outer(x, 2.0)
    return y + helper_inner(y, 0.5)


def rows(X):
    acc = np.zeros(X.shape[1])
    for row in X:
        acc = acc + row * row
    return acc.sum()


def enum_zip(x, y):
    s = 0.0
    for i, v in enumerate(x):
        s += i * v
    for a, b in zip(x, y):
        s += a * b
    return s


def ternary_boolops(x, y):
    a = x if x > y else y
    b = (x > 0 and y > 0) or x < -5
    c = 0 < x < 3
    d = x and y
    e = not (x > 1)
    return a + b + c + d + e


def unpacking(x, y):
    a, b = x, y
    a, b = b, a
    t = (a, b * 2)
    c, d = t
    n, m = np.ones((2, 3)).shape
    return a - b + c * d + n * m


def arrays(x):
    v = np.array([x, x * 2, 3.0])
    M = np.array([[1.0, x], [x, 2.0]])
    c = np.concatenate([v, v * 2], axis=0)
    s = np.stack((v, v), axis=1)
    return v.sum() + M.sum() + c.sum() + s[1, 1] + len(c)


def linalg(A, x):
    y = A @ x
    z = np.dot(A.T, y)
    o = np.outer(x, x)
    r = A.reshape(-1).sum() + A.reshape(3, 2).T.sum() + np.transpose(A).sum()
    return z.sum() + o.sum() + r + np.matmul(x, x) + x.dot(x)


def creation(n):
    a = np.arange(n)
    b = np.arange(1, n)
    c = np.arange(0.0, 2.0, 0.5)
    d = np.linspace(0.0, 1.0, 5)
    e = np.eye(3)
    f = np.full((2, 2), 3.0) + np.zeros(3).sum() + np.ones((1, 2)) + np.full_like(d, 2.0).sum()
    g = np.zeros_like(d) + np.ones_like(d) * 2
    return a.sum() + b.sum() + c.sum() + d.sum() + e.sum() + f.sum() + g.sum()


def constants(x):
    return (x * WEIGHTS).sum() + PAIR[0] * PAIR[1] + SCALE + np.pi + math.e


def builtins(x, y):
    return (
        min(x, y)
        + max(x, y, 0.5)
        + abs(x - y)
        + sum((x, y, 1.0))
        + float(3)
        + int(2.7)
        + round(y)
        + max(np.array([x, y]))
    )


def math_funcs(x):
    return (
        math.floor(x) + math.ceil(x) + math.log(x, 2) + math.log(x) + math.hypot(x, 2.0)
        + math.atan2(x, 1.0) + math.pow(x, 1.5) + math.fabs(-x) + math.log10(x) + math.expm1(0.1)
    )  # fmt: skip


def numpy_funcs(x):
    a = np.maximum(x, 0.3) + np.minimum(x, 0.6) + np.where(x > 0.5, x, -x) + np.clip(x, 0.2, 0.7)
    b = np.exp2(x) + np.power(x, 2) + np.square(x) + np.logaddexp(x, x) + np.copy(x) + np.sign(x - 0.5)
    c = np.floor(x * 3) + np.ceil(x * 3) + np.round(x * 3) + np.tanh(x) + np.arctan(x) + np.abs(x - 1)
    return a.sum() + b.sum() + c.sum() + np.isfinite(x).sum() + np.float64(2)


def first_defined_in_loop(n):
    for i in range(n):
        last = i * 2.0
    return last


def defined_in_if(x):
    if x > 0:
        y = x
    if x > 0:
        return y
    return 0.0


def while_return(x):
    k = 0
    while True:
        k += 1
        if x * k > 10:
            return k * 1.0


def multi_return(x):
    return x * 2, x + 1


def loop_tuple_carry(x):
    best, arg = -1.0, -1
    for i in range(len(x)):
        if x[i] > best:
            best, arg = x[i], i
    return best + arg


def assert_and_pass(x):
    assert x > 0, "x must be positive"
    if x > 100:
        pass
    return x


def loop_aug_setitem(x):
    out = np.zeros(len(x))
    for i in range(1, len(x)):
        out[i] = out[i - 1] + x[i]
        out[i - 1] *= 0.5
    return out


def float_loop_index(x):
    i = 0
    total = 0.0
    while i < 10:
        i += 1
        if i == 5:
            break
        total += x * i
    return total + i


VEC = np.array([0.3, 1.2, -0.7, 2.5, 0.9])
MAT = np.array([[0.3, 1.2, -0.7], [2.5, 0.9, 0.1], [0.4, -0.2, 1.1]])
RECT = np.array([[0.3, 1.2, -0.7], [2.5, 0.9, 0.1]])

CASES = [
    (straight, (1.3, 2.0)),
    (branches, (3.0,)), (branches, (-2.0,)), (branches, (0.5,)),
    (branch_no_else, (1.0,)), (branch_no_else, (-1.0,)),
    (loop_carry, (0.7, 5)),
    (loop_range_args, (1.5,)),
    (while_break, (VEC,)),
    (while_cond, (1.0,)),
    (early_return_loop, (VEC,)), (early_return_loop, (VEC * 0.1,)),
    (early_return_if, (-3.0,)), (early_return_if, (2.0,)), (early_return_if, (7.0,)),
    (continue_for, (VEC * 3,)),
    (nested_break, (MAT,)),
    (nested_return, (MAT,)), (nested_return, (MAT * 0.1,)),
    (setitem_ops, (VEC,)),
    (slices, (MAT,)),
    (reductions, (MAT,)),
    (helpers, (1.2,)),
    (rows, (MAT,)),
    (enum_zip, (VEC, VEC[::-1].copy())),
    (ternary_boolops, (1.0, 2.0)), (ternary_boolops, (-6.0, 2.0)), (ternary_boolops, (2.0, 0.0)),
    (unpacking, (1.0, 2.0)),
    (arrays, (1.5,)),
    (linalg, (RECT, np.array([1.0, 2.0, 3.0]))),
    (creation, (4,)),
    (constants, (np.array([1.0, 2.0, 3.0]),)),
    (builtins, (1.3, 2.6)),
    (math_funcs, (2.5,)),
    (numpy_funcs, (VEC * 0.3,)),
    (first_defined_in_loop, (4,)),
    (defined_in_if, (2.0,)), (defined_in_if, (-2.0,)),
    (while_return, (1.5,)),
    (multi_return, (2.0,)),
    (loop_tuple_carry, (VEC,)),
    (assert_and_pass, (3.0,)),
    (loop_aug_setitem, (VEC,)),
    (float_loop_index, (0.5,)),
]  # fmt: skip


def _copy(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


@pytest.mark.parametrize("func, args", CASES, ids=[f"{f.__name__}-{k}" for k, (f, _) in enumerate(CASES)])
def test_ir_matches_python(func, args):
    fn = parse_function(func)
    verify(fn)
    expected = func(*_copy(args))
    got = run(fn, *_copy(args))
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-12)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_assert_fails_in_ir():
    with pytest.raises(AssertionError, match="x must be positive"):
        run(parse_function(assert_and_pass), -1.0)
