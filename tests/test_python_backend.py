"""The Python backend: typed IR built by hand → source text → compiled function.

Golden tests pin the shape of small generated modules (what a reader sees); the others
run generated code against NumPy written directly.
"""

from __future__ import annotations

import inspect
import math
import shutil
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import pytest

from adcompiler.backends.python import compile_module, emit_module
from adcompiler.backends.python.emit import CONTROL_EMITTERS, STATEMENTS
from adcompiler.backends.python.exprs import EXPRS
from adcompiler.custom import custom_vjp
from adcompiler.errors import Loc, NumericError
from adcompiler.ir.builder import Builder
from adcompiler.ir.core import Function, Region, Value
from adcompiler.ir.ops import OPS
from adcompiler.ir.types import BOOL, F64, I64, Tensor
from adcompiler.ir.verifier import verify

A1 = Tensor("f64", 1)
A2 = Tensor("f64", 2)
IDX = [("idx",)]

SOURCES: list[str] = []  # every module generated here, for the ruff test


# --------------------------------------------------------------------------- helpers
def func(name: str, **params) -> tuple[Function, Builder]:
    body = Region([Value(t, n) for n, t in params.items()])
    return Function(name, body, list(params)), Builder(body)


def region(b: Builder, *args: tuple[str | None, object]) -> tuple[Region, Builder]:
    r = Region([Value(t, n) for n, t in args])
    return r, b.child(r)


def build(fn: Function, *returns: Value):
    fn.body.yields = list(returns)
    verify(fn)
    mod = emit_module(fn)
    SOURCES.append(mod.source)
    return mod, compile_module(mod, fn.name)


def golden(fn: Function, *returns: Value) -> str:
    mod, _ = build(fn, *returns)
    return mod.source


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def c(b: Builder, value) -> Value:
    return b.const(value)


# --------------------------------------------------------------------------- golden text
def test_straight_line_inlines_single_use_temporaries():
    fn, b = func("f", x=F64, y=F64)
    x, y = fn.params
    z = b.add(b.sin(b.mul(x, y)), c(b, 2.0), hint="z")
    assert golden(fn, b.mul(z, z)) == src(
        """
        import math


        def f(x, y):
            z = math.sin(x * y) + 2.0
            return z * z
        """
    )


def test_names_are_reused_when_the_old_value_is_dead():
    fn, b = func("f", x=F64)
    (x,) = fn.params
    x1 = b.add(x, c(b, 1.0), hint="x")
    x2 = b.mul(x1, x1, hint="x")
    y = b.sub(x2, x, hint="y")  # the parameter is still live: the second x must be renamed
    assert golden(fn, b.tuple(y, x2)) == src(
        """
        def f(x):
            x1 = x + 1.0
            x1 = x1 * x1
            y = x1 - x
            return y, x1
        """
    )


def test_temporaries_used_twice_get_short_names():
    fn, b = func("f", a=A1)
    (a,) = fn.params
    t = b.exp(a)
    assert golden(fn, b.div(t, b.sum(t))) == src(
        """
        import numpy as np


        def f(a):
            t = np.exp(a)
            return t / np.sum(t)
        """
    )


def test_for_loop_carries_one_variable():
    fn, b = func("total", x=A1, n=I64)
    x, n = fn.params
    body, bb = region(b, ("i", I64), ("acc", F64))
    i, acc = body.args
    body.yields = [bb.add(acc, bb.getitem(x, i, index=IDX), hint="acc")]
    (s,) = b.for_(c(b, 0), n, c(b, 1), [c(b, 0.0)], body, [F64], hints=["acc"])
    mod, f = build(fn, s)
    assert mod.source == src(
        """
        def total(x, n):
            acc = 0.0
            for i in range(n):
                acc = acc + x[i]
            return acc
        """
    )
    assert f(np.arange(5.0), 5) == 10.0


def test_loop_swap_is_one_parallel_assignment():
    fn, b = func("fib", n=I64)
    (n,) = fn.params
    body, bb = region(b, (None, I64), ("a", F64), ("b", F64))
    _, a, bv = body.args
    body.yields = [bv, bb.add(a, bv)]
    ra, _ = b.for_(c(b, 0), n, c(b, 1), [c(b, 0.0), c(b, 1.0)], body, [F64, F64], hints=["a", "b"])
    mod, f = build(fn, ra)
    assert mod.source == src(
        """
        def fib(n):
            a = 0.0
            b = 1.0
            for _ in range(n):
                a, b = b, a + b
            return a
        """
    )
    assert f(10) == 55.0


def test_in_place_write_in_a_loop_to_an_owned_array():
    fn, b = func("double", x=A1)
    (x,) = fn.params
    n = b.len(x)
    y0 = b.zeros_like(x, hint="y")
    body, bb = region(b, ("i", I64), ("y", A1))
    i, y = body.args
    v = bb.mul(bb.getitem(x, i, index=IDX), c(bb, 2.0))
    body.yields = [bb.setitem(y, v, i, index=IDX, hint="y")]
    (out,) = b.for_(c(b, 0), n, c(b, 1), [y0], body, [A1], hints=["y"])
    mod, f = build(fn, out)
    assert mod.source == src(
        """
        import numpy as np


        def double(x):
            y = np.zeros_like(x)
            for i in range(len(x)):
                y[i] = x[i] * 2.0
            return y
        """
    )
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 2.0, 4.0])


def test_a_carried_parameter_is_copied_once_before_the_loop():
    fn, b = func("scale", y=A1, n=I64)
    y, n = fn.params
    body, bb = region(b, ("i", I64), ("y", A1))
    i, ya = body.args
    v = bb.mul(bb.getitem(ya, i, index=IDX), c(bb, 2.0))
    body.yields = [bb.setitem(ya, v, i, index=IDX, hint="y")]
    (out,) = b.for_(c(b, 0), n, c(b, 1), [y], body, [A1], hints=["y"])
    mod, f = build(fn, out)
    assert mod.source == src(
        """
        def scale(y, n):
            y = y.copy()
            for i in range(n):
                y[i] = y[i] * 2.0
            return y
        """
    )
    arg = np.arange(4.0)
    np.testing.assert_array_equal(f(arg, 4), [0.0, 2.0, 4.0, 6.0])
    np.testing.assert_array_equal(arg, [0.0, 1.0, 2.0, 3.0])


def test_setitem_copies_a_parameter_once_then_writes_in_place():
    fn, b = func("f", x=A1)
    (x,) = fn.params
    x1 = b.setitem(x, c(b, 1.0), c(b, 0), index=IDX, hint="x")
    x2 = b.setitem(x1, c(b, 2.0), c(b, 1), index=IDX, hint="x")
    assert golden(fn, x2) == src(
        """
        def f(x):
            x = x.copy()
            x[0] = 1.0
            x[1] = 2.0
            return x
        """
    )


def test_setitem_copies_when_the_old_array_is_still_used():
    fn, b = func("f", x=A1)
    (x,) = fn.params
    y = b.mul(x, c(b, 2.0), hint="y")
    y2 = b.setitem(y, c(b, 0.0), b.const(0), index=[("slice", False, True, False)], hint="z")
    mod, f = build(fn, b.tuple(y, y2))
    assert mod.source == src(
        """
        def f(x):
            y = x * 2.0
            z = y.copy()
            z[:0] = 0.0
            return y, z
        """
    )


def test_if_branches_assign_the_result_variable():
    fn, b = func("f", x=F64)
    (x,) = fn.params
    then, tb = region(b)
    then.yields = [tb.mul(x, c(tb, 2.0), hint="y")]
    orelse, eb = region(b)
    orelse.yields = [eb.neg(x, hint="y")]
    (y,) = b.if_(b.gt(x, c(b, 0.0)), then, orelse, [F64], hints=["y"])
    mod, f = build(fn, b.add(y, c(b, 1.0)))
    assert mod.source == src(
        """
        def f(x):
            if x > 0.0:
                y = x * 2.0
            else:
                y = -x
            return y + 1.0
        """
    )
    assert (f(3.0), f(-2.0)) == (7.0, 3.0)


def test_if_with_an_unchanged_value_has_no_else():
    fn, b = func("f", x=F64, c=BOOL)
    x, cond = fn.params
    then, tb = region(b)
    then.yields = [tb.add(x, c(tb, 1.0), hint="x")]
    orelse, _ = region(b)
    orelse.yields = [x]
    (x2,) = b.if_(cond, then, orelse, [F64], hints=["x"])
    assert golden(fn, x2) == src(
        """
        def f(x, c):
            if c:
                x = x + 1.0
            return x
        """
    )


def test_while_with_an_expression_condition():
    fn, b = func("grow", x=F64)
    (x,) = fn.params
    cond, cb = region(b, ("x", F64))
    cond.yields = [cb.lt(cond.args[0], c(cb, 100.0))]
    body, bb = region(b, ("x", F64))
    body.yields = [bb.mul(body.args[0], c(bb, 2.0), hint="x")]
    (r,) = b.while_([x], cond, body, [F64], hints=["x"])
    mod, f = build(fn, r)
    assert mod.source == src(
        """
        def grow(x):
            while x < 100.0:
                x = x * 2.0
            return x
        """
    )
    assert f(3.0) == 192.0


def test_while_with_statements_in_its_condition():
    fn, b = func("f", x=F64)
    (x,) = fn.params
    cond, cb = region(b, ("x", F64))
    s = cb.sin(cond.args[0], hint="s")
    cond.yields = [cb.lt(cb.mul(s, s), c(cb, 0.5))]
    body, bb = region(b, ("x", F64))
    body.yields = [bb.add(body.args[0], c(bb, 0.1), hint="x")]
    (r,) = b.while_([x], cond, body, [F64], hints=["x"])
    mod, f = build(fn, r)
    assert mod.source == src(
        """
        import math


        def f(x):
            while True:
                s = math.sin(x)
                if not s * s < 0.5:
                    break
                x = x + 0.1
            return x
        """
    )
    expected = 0.0
    while math.sin(expected) ** 2 < 0.5:
        expected += 0.1
    assert f(0.0) == expected


def test_tape_push_and_pop_in_a_reversed_loop():
    fn, b = func("f", x=F64, n=I64)
    x, n = fn.params
    fwd, fb = region(b, (None, I64), ("x", F64))
    fb.push(fwd.args[1], tape="x_tape")
    fwd.yields = [fb.sin(fwd.args[1], hint="x")]
    (xn,) = b.for_(c(b, 0), n, c(b, 1), [x], fwd, [F64], hints=["x"])
    rev, rb = region(b, (None, I64), ("x_bar", F64))
    xi = rb.pop(tape="x_tape", result_types=[F64], hint="x")
    rev.yields = [rb.mul(rev.args[1], rb.cos(xi), hint="x_bar")]
    (g,) = b.for_(c(b, 0), n, c(b, 1), [c(b, 1.0)], rev, [F64], hints=["x_bar"], reverse=True)
    mod, f = build(fn, xn, g)
    assert mod.source == src(
        """
        import math


        def f(x, n):
            x_tape = []
            for _ in range(n):
                x_tape.append(x)
                x = math.sin(x)
            x_bar = 1.0
            for _ in reversed(range(n)):
                x1 = x_tape.pop()
                x_bar = x_bar * math.cos(x1)
            return x, x_bar
        """
    )
    value, grad = f(0.3, 3)
    assert value == math.sin(math.sin(math.sin(0.3)))
    assert grad == pytest.approx(math.cos(0.3) * math.cos(math.sin(0.3)) * math.cos(math.sin(math.sin(0.3))))


def test_comments_show_the_user_line_once():
    fn, b = func("f", x=F64)
    (x,) = fn.params
    b.loc = Loc("model.py", 3, 4, "    y = x * x + 1.0\n")
    y = b.add(b.mul(x, x), c(b, 1.0), hint="y")
    b.loc = Loc("model.py", 4, 4, "    z = y * y\n")
    z = b.mul(y, y, hint="z")
    w = b.mul(z, y, hint="w")
    fn.notes.append("checkpoint plan: store everything")
    assert golden(fn, w) == src(
        """
        # checkpoint plan: store everything


        def f(x):
            # line 3: y = x * x + 1.0
            y = x * x + 1.0
            # line 4: z = y * y
            z = y * y
            w = z * y
            return w
        """
    )


def test_docstring_and_header_comments():
    fn, b = func("f", x=F64)
    fn.body.yields = [fn.params[0]]
    mod = emit_module(fn, docstring="Identity.\n\nReturns x.", header_comments=["Generated by a test"])
    assert mod.source == src(
        '''
        # Generated by a test


        def f(x):
            """Identity.

            Returns x.
            """
            return x
        '''
    )


# --------------------------------------------------------------------------- every op family
def run_op(name: str, *args, **attrs):
    """Build ``name`` on parameters holding ``args``, emit, compile and call it."""
    from adcompiler.ir.types import type_of_python_value

    fn, b = func(f"op_{name}", **{f"a{k}": type_of_python_value(v) for k, v in enumerate(args)})
    result = b.op(name, *fn.params, **attrs)
    _, f = build(fn, result)
    return f(*args)


X = np.array([0.1, 0.5, 0.9])
M = np.arange(6.0).reshape(2, 3) / 7

UNARY = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1,
    "log": np.log, "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt,
    "tanh": np.tanh, "sinh": np.sinh, "cosh": np.cosh, "arctan": np.arctan, "arcsin": np.arcsin,
    "arccos": np.arccos, "neg": np.negative, "abs": np.abs, "square": np.square, "sign": np.sign,
    "floor": np.floor, "ceil": np.ceil, "round": np.round, "isfinite": np.isfinite,
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops_on_scalars_and_arrays(name):
    ref = UNARY[name]
    assert run_op(name, 0.3) == pytest.approx(ref(0.3))
    if name not in ("log", "log2", "log10", "sqrt"):  # math raises outside the domain, NumPy gives nan
        assert run_op(name, -0.3) == pytest.approx(ref(-0.3))
    np.testing.assert_allclose(run_op(name, X), ref(X))


BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "floordiv": np.floor_divide, "mod": np.mod, "pow": np.power, "maximum": np.maximum,
    "minimum": np.minimum, "logaddexp": np.logaddexp, "arctan2": np.arctan2, "lt": np.less,
    "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal, "eq": np.equal, "ne": np.not_equal,
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_on_scalars_arrays_and_mixes(name):
    ref = BINARY[name]
    for a, b_ in [(0.7, 0.3), (0.3, 0.7), (X, 0.5), (0.5, X), (X, X[::-1].copy()), (M, X)]:
        np.testing.assert_allclose(run_op(name, a, b_), ref(a, b_))


def test_logical_ops():
    for a, b_ in [(True, False), (True, True), (np.array([True, False]), np.array([True, True]))]:
        np.testing.assert_array_equal(run_op("and", a, b_), np.logical_and(a, b_))
        np.testing.assert_array_equal(run_op("or", a, b_), np.logical_or(a, b_))
    assert run_op("not", True) is False
    np.testing.assert_array_equal(run_op("not", np.array([True, False])), [False, True])


def test_casts():
    assert run_op("float", 3) == 3.0 and isinstance(run_op("float", 3), float)
    assert run_op("int", 3.7) == 3
    assert run_op("bool", 0.0) is False
    assert run_op("float", np.array([1, 2])).dtype == np.float64
    assert run_op("int", np.array([1.5, 2.5])).dtype.kind == "i"


def test_where_and_clip():
    assert run_op("where", True, 1.0, 2.0) == 1.0
    np.testing.assert_array_equal(run_op("where", X > 0.4, X, 0.0), np.where(X > 0.4, X, 0.0))
    assert run_op("clip", 3.0, 0.0, 1.0) == 1.0
    np.testing.assert_array_equal(run_op("clip", X, 0.2, 0.6), np.clip(X, 0.2, 0.6))


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "argmax", "argmin"])
def test_reductions(name):
    ref = getattr(np, name)
    for axis, keepdims in [(None, False), (0, False), (1, True), ((0, 1), False), (None, True)]:
        if name.startswith("arg") and (isinstance(axis, tuple) or keepdims):
            continue
        kw = {"keepdims": True} if keepdims else {}
        np.testing.assert_allclose(run_op(name, M, axis=axis, keepdims=keepdims), ref(M, axis=axis, **kw))


def test_linear_algebra():
    np.testing.assert_allclose(run_op("dot", X, X), X @ X)
    np.testing.assert_allclose(run_op("matmul", M, X), M @ X)
    np.testing.assert_allclose(run_op("outer", X, X), np.outer(X, X))


def test_shape_queries_and_rearrangements():
    assert run_op("shape", M) == (2, 3)
    assert run_op("shape", 2.0) == ()
    assert (run_op("len", M), run_op("size", M), run_op("ndim", M)) == (2, 6, 2)
    np.testing.assert_array_equal(run_op("transpose", M), M.T)
    cube = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(run_op("transpose", cube, axes=(1, 0, 2)), cube.transpose(1, 0, 2))
    np.testing.assert_array_equal(run_op("reshape", M, (3, 2)), M.reshape(3, 2))
    np.testing.assert_array_equal(run_op("reshape", M, 6), M.reshape(6))
    np.testing.assert_array_equal(run_op("broadcast_to", X, (2, 3)), np.broadcast_to(X, (2, 3)))
    np.testing.assert_array_equal(run_op("sum_to", M, (3,)), M.sum(axis=0))
    np.testing.assert_array_equal(run_op("sum_to", M, (2, 1)), M.sum(axis=1, keepdims=True))
    assert run_op("sum_to", M, ()) == pytest.approx(M.sum())
    np.testing.assert_array_equal(run_op("expand_dims", X, axis=0), X[None])
    np.testing.assert_array_equal(run_op("concatenate", X, X, axis=0), np.concatenate([X, X]))
    np.testing.assert_array_equal(run_op("concatenate", M, M, axis=1), np.concatenate([M, M], axis=1))
    np.testing.assert_array_equal(run_op("stack", X, X, axis=1), np.stack([X, X], axis=1))
    np.testing.assert_array_equal(run_op("stack", 1.0, 2.0, axis=0), np.array([1.0, 2.0]))


def test_getitem_subscripts():
    cube = np.arange(24.0).reshape(2, 3, 4)
    sl = ("slice", True, True, False)
    assert run_op("getitem", M, 1, 2, index=[("idx",), ("idx",)]) == M[1, 2]
    np.testing.assert_array_equal(run_op("getitem", M, 1, 1, 3, index=[("idx",), sl]), M[1, 1:3])
    np.testing.assert_array_equal(
        run_op("getitem", cube, -1, index=[("ellipsis",), ("slice", False, False, True)]), cube[..., ::-1]
    )
    np.testing.assert_array_equal(
        run_op("getitem", X, index=[("newaxis",), ("slice", False, False, False)]), X[None, :]
    )
    np.testing.assert_array_equal(run_op("getitem", X, np.array([2, 0]), index=IDX), X[[2, 0]])
    np.testing.assert_array_equal(run_op("getitem", X, X > 0.3, index=IDX), X[X > 0.3])


def test_creation():
    np.testing.assert_array_equal(run_op("zeros", (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(run_op("ones", 3), np.ones(3))
    assert run_op("empty", (2, 2)).shape == (2, 2)
    np.testing.assert_array_equal(run_op("full", (2,), 7.0), [7.0, 7.0])
    np.testing.assert_array_equal(run_op("zeros_like", M), np.zeros_like(M))
    np.testing.assert_array_equal(run_op("ones_like", M), np.ones_like(M))
    np.testing.assert_array_equal(run_op("full_like", X, 2.0), np.full_like(X, 2.0))
    assert (run_op("zeros_like", 2.0), run_op("ones_like", 2.0), run_op("full_like", 2.0, 3)) == (
        0.0,
        1.0,
        3.0,
    )
    copied = run_op("copy", X)
    assert copied is not X and np.array_equal(copied, X)
    np.testing.assert_array_equal(run_op("arange", 1, 7, 2), np.arange(1, 7, 2))
    np.testing.assert_array_equal(run_op("linspace", 0.0, 1.0, 5), np.linspace(0.0, 1.0, 5))
    np.testing.assert_array_equal(run_op("eye", 3), np.eye(3))


def test_tuples_and_identity():
    assert run_op("tuple", 1.0, 2) == (1.0, 2)
    assert run_op("tuple_get", (1.0, 2), index=1) == 2
    assert run_op("stop_gradient", 2.5) == 2.5


# --------------------------------------------------------------------------- writes and tapes
def test_index_add_in_place_on_an_owned_adjoint():
    fn, b = func("f", x=A1, g=F64, i=I64)
    x, g, i = fn.params
    x_bar = b.zeros_like(x, hint="x_bar")
    x_bar = b.index_add(x_bar, g, i, index=IDX, hint="x_bar")
    x_bar = b.index_add(x_bar, g, c(b, 0), index=IDX, hint="x_bar")
    mod, f = build(fn, x_bar)
    assert mod.source == src(
        """
        import numpy as np


        def f(x, g, i):
            x_bar = np.zeros_like(x)
            x_bar[i] += g
            x_bar[0] += g
            return x_bar
        """
    )
    np.testing.assert_array_equal(f(X, 2.0, 0), [4.0, 0.0, 0.0])


def test_index_add_with_an_integer_array_accumulates_repeats():
    fn, b = func("f", x=A1, v=A1, idx=Tensor("i64", 1))
    x, v, idx = fn.params
    y = b.index_add(x, v, idx, index=IDX, hint="y")
    y = b.index_add(y, v, idx, index=[("slice", False, False, False), ("idx",)][1:], hint="y")
    mod, f = build(fn, y)
    assert "np.add.at(y, idx, v)" in mod.source and "y = x.copy()" in mod.source
    x0 = np.zeros(3)
    out = f(x0, np.ones(3), np.array([1, 1, 2]))
    np.testing.assert_array_equal(out, [0.0, 4.0, 2.0])
    np.testing.assert_array_equal(x0, np.zeros(3))


def test_index_add_with_slices_and_an_index_array():
    fn, b = func("f", m=A2, v=A2, idx=Tensor("i64", 1))
    m, v, idx = fn.params
    y = b.index_add(b.copy(m), v, idx, index=[("slice", False, False, False), ("idx",)], hint="y")
    mod, f = build(fn, y)
    assert "np.add.at(y, (slice(None), idx), v)" in mod.source
    expected = M.copy()
    np.add.at(expected, (slice(None), [0, 0]), np.ones((2, 2)))
    np.testing.assert_array_equal(f(M, np.ones((2, 2)), np.array([0, 0])), expected)


def test_index_add_with_an_index_array_and_a_slice_with_only_a_start():
    # slice(1) would mean [:1]: the start must stay a start
    fn, b = func("f", m=A2, v=A2, idx=Tensor("i64", 1))
    m, v, idx = fn.params
    y = b.index_add(b.copy(m), v, idx, b.const(1), index=[("idx",), ("slice", True, False, False)], hint="y")
    mod, f = build(fn, y)
    assert "np.add.at(y, (idx, slice(1, None)), v)" in mod.source
    expected = M.copy()
    np.add.at(expected, ([1, 1], slice(1, None)), np.ones((2, 1)))
    np.testing.assert_array_equal(f(M, np.ones((2, 1)), np.array([1, 1])), expected)


def test_a_value_on_a_tape_is_never_written_afterwards():
    fn, b = func("f", x=A1, n=I64)
    x, n = fn.params
    body, bb = region(b, ("i", I64), ("y", A1))
    i, y = body.args
    bb.push(y, tape="y_tape")
    body.yields = [bb.setitem(y, c(bb, 5.0), i, index=IDX, hint="y")]
    (out,) = b.for_(c(b, 0), n, c(b, 1), [b.copy(x, hint="y")], body, [A1], hints=["y"])
    first = b.pop(tape="y_tape", result_types=[A1], hint="first")
    mod, f = build(fn, out, first)
    assert "y = y.copy()\n        y[i] = 5.0" in mod.source
    final, last_pushed = f(np.zeros(3), 3)
    np.testing.assert_array_equal(final, [5.0, 5.0, 5.0])
    np.testing.assert_array_equal(last_pushed, [5.0, 5.0, 0.0])


def test_a_view_of_a_live_array_is_copied_before_writing():
    fn, b = func("f", x=A1)
    (x,) = fn.params
    y = b.mul(x, c(b, 2.0), hint="y")
    row = b.getitem(y, c(b, 1), index=[("slice", True, False, False)], hint="row")
    row2 = b.setitem(row, c(b, 0.0), c(b, 0), index=IDX, hint="row")
    mod, f = build(fn, y, row2)
    assert "row = row.copy()" in mod.source
    y_out, row_out = f(np.ones(3))
    np.testing.assert_array_equal(y_out, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(row_out, [0.0, 2.0])


def test_broadcast_views_are_never_written():
    fn, b = func("f", x=A1)
    (x,) = fn.params
    wide = b.broadcast_to(b.mul(x, c(b, 1.0)), b.const((2, 3)), hint="wide")
    out = b.setitem(wide, c(b, 0.0), c(b, 0), index=IDX, hint="wide")
    _, f = build(fn, out)
    np.testing.assert_array_equal(f(np.ones(3)), [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])


def test_inputs_are_never_mutated():
    fn, b = func("f", x=A1, m=A2, idx=Tensor("i64", 1))
    x, m, idx = fn.params
    x2 = b.setitem(x, c(b, 9.0), c(b, 0), index=IDX, hint="x")
    m2 = b.index_add(m, c(b, 1.0), idx, index=IDX, hint="m")
    m3 = b.setitem(b.getitem(m2, c(b, 0), index=IDX), c(b, 7.0), c(b, 1), index=IDX, hint="row")
    t = b.transpose(m, hint="t")
    t2 = b.setitem(t, c(b, -1.0), c(b, 0), index=IDX, hint="t")
    x_args, m_args = np.arange(3.0), np.arange(6.0).reshape(2, 3)
    _, f = build(fn, x2, m2, m3, t2)
    f(x_args, m_args, np.array([0, 0]))
    np.testing.assert_array_equal(x_args, np.arange(3.0))
    np.testing.assert_array_equal(m_args, np.arange(6.0).reshape(2, 3))


def test_checkpoint_region_is_inlined_with_its_arguments_bound():
    fn, b = func("f", x=F64)
    (x,) = fn.params
    inner, ib = region(b, ("u", F64))
    inner.yields = [ib.mul(ib.sin(inner.args[0]), c(ib, 3.0), hint="v")]
    v = b.op("checkpoint", x, regions=[inner], result_types=[F64], hint="v")
    mod, f = build(fn, b.add(v, x))
    assert mod.source == src(
        """
        import math


        def f(x):
            v = math.sin(x) * 3.0
            return v + x
        """
    )
    assert f(0.5) == math.sin(0.5) * 3.0 + 0.5


def test_checks_and_asserts():
    fn, b = func("f", x=A1)
    (x,) = fn.params
    b.op("assert", b.gt(b.len(x), c(b, 0)), message="x must not be empty")
    y = b.log(x, hint="y")
    b.check_finite(y, what="y at line 2")
    mod, f = build(fn, y)
    assert mod.source == src(
        """
        import numpy as np

        from adcompiler.runtime import check_finite


        def f(x):
            assert len(x) > 0, 'x must not be empty'
            y = np.log(x)
            check_finite(y, 'y at line 2')
            return y
        """
    )
    with pytest.raises(NumericError, match="y at line 2"), np.errstate(divide="ignore"):
        f(np.array([0.0, 1.0]))
    with pytest.raises(AssertionError):
        f(np.array([]))


def test_undef_is_none():
    fn, b = func("f", c=BOOL, x=F64)
    cond, x = fn.params
    then, tb = region(b)
    then.yields = [tb.mul(x, x, hint="y")]
    orelse, eb = region(b)
    orelse.yields = [eb.undef(result_types=[F64])]
    (y,) = b.if_(cond, then, orelse, [F64], hints=["y"])
    _, f = build(fn, y)
    assert (f(True, 3.0), f(False, 3.0)) == (9.0, None)


# --------------------------------------------------------------------------- module-level names
@custom_vjp
def cube(x):
    return x**3


@cube.defvjp
def _(x, out, g):
    return 3 * x**2 * g


def test_an_importable_rule_is_imported_and_called_like_the_user_does():
    fn, b = func("f", x=F64)
    (x,) = fn.params
    y = b.op("custom_call", x, rule=cube, result_types=[F64], hint="y")
    x_bar = b.op("custom_vjp_call", x, y, c(b, 1.0), rule=cube, result_types=[F64], hint="x_bar")
    mod, f = build(fn, y, x_bar)
    assert mod.source == src(
        f"""
        from {cube.__module__} import cube


        def f(x):
            y = cube(x)
            x_bar = cube.vjp(x, y, 1.0)
            return y, x_bar
        """
    )
    assert f(2.0) == (8.0, 12.0)


def test_a_local_rule_is_injected_with_a_comment():
    def halve(x):
        return x / 2

    rule = custom_vjp(halve)
    fn, b = func("f", x=F64)
    mod, f = build(fn, b.op("custom_call", fn.params[0], rule=rule, result_types=[F64]))
    assert mod.globals == {"halve": rule}
    assert mod.source.startswith("# halve: the rule object 'halve' defined in ")
    assert "; set by compile_module\nhalve = None\n" in mod.source
    assert "return halve(x)" in mod.source
    assert f(4.0) == 2.0


def test_constants_small_arrays_are_literals_big_ones_injected():
    fn, b = func("f", x=A1)
    (x,) = fn.params
    small = b.const(np.array([1.0, -2.0, 3.0]))
    big = b.const(np.arange(100.0), hint="w")
    y = b.add(b.mul(x, small), b.getitem(big, c(b, 3), index=[("slice", False, True, False)]))
    mod, f = build(fn, b.add(y, c(b, math.pi)))
    assert "return x * np.array([1.0, -2.0, 3.0]) + W[:3] + math.pi" in mod.source
    assert mod.globals["W"] is big.op.attrs["value"]
    assert "# W: an array of shape (100,) and dtype float64" in mod.source
    np.testing.assert_allclose(f(np.ones(3)), np.array([1.0, -1.0, 5.0]) + math.pi)


def test_special_float_literals():
    fn, b = func("f")
    mod, f = build(fn, b.tuple(c(b, math.inf), c(b, -math.inf), c(b, -1.5), c(b, math.e)))
    assert "return math.inf, -math.inf, -1.5, math.e" in mod.source
    assert f() == (math.inf, -math.inf, -1.5, math.e)


# --------------------------------------------------------------------------- compiling and running
def _failing_function():
    fn, b = func("fails", x=F64)
    (x,) = fn.params
    b.loc = Loc("model.py", 7, 4, "    return 1.0 / x\n")
    mod, f = build(fn, b.div(c(b, 1.0), x))
    return mod, f


def test_compiled_code_lives_in_a_real_file():
    mod, f = _failing_function()
    path = f.__code__.co_filename
    with open(path) as fh:
        assert fh.read() == mod.source
    assert inspect.getsource(f) == mod.source[mod.source.index("def fails") :]
    with pytest.raises(ZeroDivisionError) as info:
        f(0.0)
    shown = "".join(traceback.format_tb(info.tb))
    assert path in shown and "return 1.0 / x" in shown


def test_compile_module_reuses_the_cached_file():
    mod, f = _failing_function()
    again = compile_module(emit_module_of(mod), "fails")
    assert again.__code__.co_filename == f.__code__.co_filename


def emit_module_of(mod):
    return type(mod)(mod.source, dict(mod.globals))


def test_generated_modules_run_standalone(tmp_path):
    fn, b = func("standalone", x=A1)
    (x,) = fn.params
    y = b.setitem(b.mul(x, c(b, 2.0)), c(b, 0.0), c(b, 0), index=IDX, hint="y")
    mod, _ = build(fn, b.sum_to(y, b.const(())))
    path = tmp_path / "standalone.py"
    path.write_text(mod.source + "\nprint(standalone(__import__('numpy').arange(4.0)))\n")
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "12.0"
    namespace: dict = {}
    exec(compile(mod.source, "standalone.py", "exec"), namespace)
    assert namespace["standalone"](np.arange(4.0)) == 12.0


# --------------------------------------------------------------------------- generated == interpreted
@pytest.mark.parametrize("seed", range(40))
def test_generated_gradients_match_the_reference_interpreter(seed, program_dir):
    """The emitted code computes exactly what the derivative IR means, and mutates no input."""
    import progen

    import adcompiler as ad
    from adcompiler.ir import interp

    try:
        prog = progen.generate(seed)
    except Exception as e:  # the generator's own tests cover it
        pytest.skip(f"progen cannot generate seed {seed}: {e!r}")
    f = prog.load(program_dir)
    g = ad.grad(f, wrt=prog.float_args)
    args = prog.fresh_args()
    got = g(*args)
    for before, after in zip(prog.args, args):
        assert not isinstance(after, np.ndarray) or np.array_equal(before, after), prog.describe()
    bound = inspect.signature(f).bind(*prog.fresh_args())
    bound.apply_defaults()
    expected = interp.run(g.typed_ir(g._last), *bound.args)
    for x, y in zip(got, expected):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-13, err_msg=prog.describe())


# --------------------------------------------------------------------------- completeness
def test_every_op_has_an_emission_rule():
    structural = set(CONTROL_EMITTERS)
    covered = set(EXPRS) | set(STATEMENTS) | structural
    assert set(OPS) <= covered, sorted(set(OPS) - covered)
    assert not (set(EXPRS) & set(STATEMENTS)), "an op is emitted one way"
    assert covered <= set(OPS), sorted(covered - set(OPS))


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_generated_sources_are_ruff_clean(tmp_path):
    assert SOURCES, "runs after the tests that generate code"
    for k, source in enumerate(SOURCES):
        (tmp_path / f"m{k}.py").write_text(source)
    out = subprocess.run(
        ["ruff", "check", "--isolated", "--line-length", "110", "--select", "E,F,W,I", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout


# --------------------------------------------------------------------------- scalar semantics
def test_a_power_that_could_leave_the_reals_is_math_pow():
    fn, b = func("f", x=F64, y=F64)
    x, y = fn.params
    mod, f = build(fn, b.tuple(b.pow(x, y), b.pow(x, c(b, 2.0)), b.pow(c(b, 2.0), y)))
    assert "return math.pow(x, y), x ** 2.0, 2.0 ** y" in mod.source
    assert f(4.0, 0.5) == (2.0, 16.0, 2.0**0.5)
    with pytest.raises(ValueError):  # not a complex number
        f(-8.0, 0.5)


def test_debug_checks_make_scalars_follow_numpy():
    fn, b = func("f", x=F64)
    (x,) = fn.params
    y = b.div(c(b, 0.5), b.sqrt(x), hint="y")
    b.check_finite(y, what="y")
    mod, f = build(fn, y)
    assert mod.source == src(
        """
        import numpy as np

        from adcompiler.runtime import check_finite


        def f(x):
            # debug checks: NumPy floats, so that inf and nan reach them instead of raising
            x = np.float64(x)
            y = 0.5 / np.sqrt(x)
            check_finite(y, 'y')
            return y
        """
    )
    with pytest.raises(NumericError), np.errstate(divide="ignore"):
        f(0.0)


def test_comment_ops_open_a_paragraph():
    fn, b = func("f", x=F64)
    (x,) = fn.params
    b.op("comment", text="forward sweep")
    b.loc = Loc("m.py", 2, 4, "    y = x * x\n")
    y = b.mul(x, x, hint="y")
    b.loc = None
    b.op("comment", text="reverse sweep")
    assert golden(fn, b.add(y, b.mul(x, c(b, 2.0)))) == src(
        """
        def f(x):
            # forward sweep
            # line 2: y = x * x
            y = x * x

            # reverse sweep
            return y + x * 2.0
        """
    )


def test_adjoint_accumulation_is_in_place_when_shapes_surely_agree():
    fn, b = func("f", x=A1, g=A2, h=A1)
    x, g, h = fn.params
    x_bar = b.mul(x, c(b, 2.0), hint="x_bar")
    x_bar = b.add(x_bar, b.sum_to(g, b.shape(x)), hint="x_bar")  # same shape as x: in place
    x_bar = b.add(x_bar, c(b, 1.0), hint="x_bar")  # a scalar: in place
    y_bar = b.add(b.mul(x, c(b, 3.0), hint="y_bar"), h, hint="y_bar")  # h could broadcast x up
    mod, f = build(fn, x_bar, y_bar)
    assert mod.source == src(
        """
        from adcompiler.runtime import unbroadcast


        def f(x, g, h):
            x_bar = x * 2.0
            x_bar += unbroadcast(g, x.shape)
            x_bar += 1.0
            y_bar = x * 3.0
            y_bar = y_bar + h
            return x_bar, y_bar
        """
    )
    xs, gs = np.arange(3.0), np.ones((2, 3))
    got_x, got_y = f(xs, gs, np.ones((4, 3)))
    np.testing.assert_array_equal(got_x, xs * 2 + 3)
    assert got_y.shape == (4, 3)


def test_accumulating_into_a_broadcast_view_copies():
    fn, b = func("f", s=F64, x=A1)
    s, x = fn.params
    wide = b.sum_to(b.broadcast_to(s, b.shape(x)), b.shape(x), hint="s_bar")
    total = b.add(wide, x, hint="s_bar")
    mod, f = build(fn, total)
    assert "+=" not in mod.source
    np.testing.assert_array_equal(f(2.0, np.arange(3.0)), [2.0, 3.0, 4.0])


def test_a_branch_left_with_only_comments_is_empty():
    fn, b = func("f", x=F64, c=BOOL)
    x, cond = fn.params
    then, tb = region(b)
    tb.op("comment", text="nothing happens here")
    orelse, _ = region(b)
    b.if_(cond, then, orelse, [])
    loop, lb = region(b, (None, I64))
    lb.op("comment", text="nor here")
    b.for_(c(b, 0), c(b, 3), c(b, 1), [], loop, [])
    mod, f = build(fn, x)
    compile(mod.source, "f.py", "exec")
    assert f(1.0, True) == 1.0


def test_trailing_defaults_are_in_the_signature():
    fn, b = func("f", x=F64, scale=F64, shift=F64)
    fn.defaults = {"scale": 2.0, "shift": -1.0}
    x, scale, shift = fn.params
    mod, f = build(fn, b.add(b.mul(x, scale), shift))
    assert "def f(x, scale=2.0, shift=-1.0):" in mod.source
    assert f(3.0) == 5.0


def test_returned_tuples_stay_tuples_and_wrap_when_long():
    fn, b = func("f", x=F64)
    (x,) = fn.params
    mod, f = build(fn, b.tuple(b.sin(x)))
    assert "return math.sin(x)," in mod.source and f(0.0) == (0.0,)
    fn, b = func("g", a_long_parameter_name=A1)
    (p,) = fn.params
    parts = [b.zeros_like(p) for _ in range(6)]
    mod, g = build(fn, b.tuple(*parts))
    assert "    return (\n        np.zeros_like(a_long_parameter_name),\n" in mod.source
    assert len(g(np.ones(2))) == 6


def test_a_branch_on_nothing_is_no_branch():
    fn, b = func("f", x=F64, a=F64)
    x, a = fn.params
    then, _ = region(b)
    then.yields = [x]
    orelse, _ = region(b)
    orelse.yields = [x]
    (y,) = b.if_(b.lt(a, c(b, 0.5), hint="t"), then, orelse, [F64], hints=["y"])
    assert golden(fn, b.mul(y, c(b, 2.0))) == src(
        """
        def f(x, a):
            return x * 2.0
        """
    )
