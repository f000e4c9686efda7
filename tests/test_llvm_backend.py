"""The LLVM backend: compiled results equal NumPy/Python computations of the same IR.

Functions are built directly with the IR builder (no frontend), so each test pins down one
backend feature: scalar ops, control flow, arrays and views, tapes, fusion, errors, cache.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from adcompiler import wait_for_compiles
from adcompiler.backends.llvm import compile_function
from adcompiler.backends.llvm.lower import LOWERINGS
from adcompiler.errors import ADTypeError
from adcompiler.ir.builder import Builder
from adcompiler.ir.core import Function, Region, Value
from adcompiler.ir.ops import OPS
from adcompiler.ir.types import BOOL, F64, I64, Tensor

A1, A2 = Tensor("f64", 1), Tensor("f64", 2)
IDX = (("idx",),)


def make(name: str, params: list[tuple[str, object]], build) -> Function:
    """A function whose body ``build(b, *params)`` returns the value (or list of values) to return."""
    values = [Value(t, n) for n, t in params]
    body = Region(values)
    out = build(Builder(body), *values)
    body.yields = list(out) if isinstance(out, list) else [out]
    return Function(name, body, [n for n, _ in params])


def jit(name, params, build, **kw):
    return compile_function(make(name, params, build), cache=False, **kw)


def close(a, b) -> bool:
    return np.allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)


# --------------------------------------------------------------------------- scalars
BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "floordiv": np.floor_divide,
    "mod": np.mod,
    "pow": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "logaddexp": np.logaddexp,
    "arctan2": np.arctan2,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "eq": np.equal,
    "ne": np.not_equal,
    "and": np.logical_and,
    "or": np.logical_or,
}
UNARY = {
    **{
        n: getattr(np, n)
        for n in "sin cos tan exp exp2 expm1 log log2 log10 log1p sqrt tanh sinh cosh "
        "arctan arcsin arccos abs square sign floor ceil round isfinite".split()
    },
    "neg": np.negative,
    "not": np.logical_not,
}
SCALAR_TYPES = {"f64": F64, "i64": I64, "bool": BOOL}
PY = {"f64": float, "i64": int, "bool": bool}
NP_DTYPE = {"f64": np.float64, "i64": np.int64, "bool": np.int64}
SAMPLES = {
    "f64": [-7.5, -2.0, -0.5, 0.0, 0.3, 1.0, 2.5, 3.0, math.inf, math.nan],
    "i64": [-7, -2, -1, 0, 1, 2, 3, 10],
    "bool": [False, True],
}


@pytest.mark.parametrize(
    "dx,dy",
    [("f64", "f64"), ("i64", "i64"), ("f64", "i64"), ("i64", "f64"), ("bool", "i64"), ("bool", "bool")],
)
def test_binary_ops_match_numpy(dx, dy):
    ints = "f64" not in (dx, dy)
    names = list(BINARY)
    fn = jit(
        "binary",
        [("x", SCALAR_TYPES[dx]), ("y", SCALAR_TYPES[dy])],
        lambda b, x, y: b.tuple(*[b.op(n, x, y) for n in names]),
    )
    for x in SAMPLES[dx]:
        for y in SAMPLES[dy]:
            if ints and y <= 0:
                continue  # integer division by zero and negative integer powers raise, tested below
            got = fn(x, y)
            for n, g in zip(names, got):
                with np.errstate(all="ignore"):
                    # the IR computes with bools as Python does: as the integers 0 and 1
                    want = BINARY[n](np.array(x, dtype=NP_DTYPE[dx]), np.array(y, dtype=NP_DTYPE[dy]))
                assert close(g, want), (n, x, y, g, want)


@pytest.mark.parametrize("dtype", ["f64", "i64", "bool"])
def test_unary_ops_match_numpy(dtype):
    names = list(UNARY)
    fn = jit("unary", [("x", SCALAR_TYPES[dtype])], lambda b, x: b.tuple(*[b.op(n, x) for n in names]))
    for x in SAMPLES[dtype]:
        got = fn(x)
        for n, g in zip(names, got):
            with np.errstate(all="ignore"):  # bools count as ints
                want = UNARY[n](NP_DTYPE[dtype](x))
            assert close(g, want), (n, x, g, want)
            assert type(g) is (
                bool
                if OPS[n].type_rule([SCALAR_TYPES[dtype]], {})[0].dtype == "bool"
                else PY[OPS[n].type_rule([SCALAR_TYPES[dtype]], {})[0].dtype]
            ), (n, g)


def test_casts_where_clip():
    fn = jit(
        "casts",
        [("x", F64), ("n", I64), ("c", BOOL)],
        lambda b, x, n, c: b.tuple(
            b.float(n),
            b.int(x),
            b.bool(x),
            b.int(c),
            b.where(c, x, n),
            b.clip(x, b.const(-1.0), n),
            b.where(b.gt(x, b.const(0.0)), n, b.const(-1)),
        ),
    )
    for x, n, c in [(2.7, 3, True), (-2.7, -1, False), (0.0, 0, True), (5.5, 2, False)]:
        assert fn(x, n, c) == (
            float(n),
            int(x),
            bool(x),
            int(c),
            x if c else float(n),
            float(np.clip(x, -1.0, n)),
            n if x > 0 else -1,
        )


def test_int_division_by_zero_raises():
    fn = jit("fdiv", [("x", I64), ("y", I64)], lambda b, x, y: b.floordiv(x, y))
    assert fn(-7, 2) == -4
    with pytest.raises(ZeroDivisionError):
        fn(1, 0)


def test_int_power():
    fn = jit("ipow", [("x", I64), ("y", I64)], lambda b, x, y: b.pow(x, y))
    assert [fn(3, k) for k in range(6)] == [3**k for k in range(6)]
    assert fn(-2, 5) == -32
    with pytest.raises(ValueError):
        fn(2, -1)


def test_float_to_int_of_nan_raises():
    fn = jit("toint", [("x", F64)], lambda b, x: b.int(x))
    assert fn(-3.9) == -3
    with pytest.raises(ValueError):
        fn(math.nan)


# --------------------------------------------------------------------------- control flow
def _if(b, cond, then, orelse, types):
    t, e = Region(), Region()
    t.yields = then(b.child(t))
    e.yields = orelse(b.child(e))
    return b.if_(cond, t, e, types)


def test_if_with_results_and_promotion():
    def build(b, x):
        return _if(
            b,
            b.gt(x, b.const(0.0)),
            lambda c: [c.sin(x), c.const(1)],
            lambda c: [c.const(2), c.const(7)],
            [F64, I64],
        )

    fn = jit("branch", [("x", F64)], build)
    assert fn(1.0) == (math.sin(1.0), 1)
    assert fn(-1.0) == (2.0, 7)


def _for(b, lo, hi, step, inits, body, types, reverse=False):
    args = [Value(I64, "i")] + [Value(t, "c") for t in types]
    region = Region(args)
    region.yields = body(b.child(region), *args)
    return b.for_(lo, hi, step, inits, region, types, reverse=reverse)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(
    "lo,hi,step", [(0, 10, 1), (2, 11, 3), (10, 0, -1), (10, -3, -4), (5, 5, 1), (5, 0, 1), (0, 5, -1)]
)
def test_for_ranges(lo, hi, step, reverse):
    # a history-dependent carry (acc * 3 + i) pins down the order of iteration
    def build(b, lo_, hi_, st):
        return _for(
            b,
            lo_,
            hi_,
            st,
            [b.const(0), b.const(0)],
            lambda c, i, acc, n: [c.add(c.mul(acc, c.const(3)), i), c.add(n, c.const(1))],
            [I64, I64],
            reverse=reverse,
        )

    fn = jit("loop", [("lo", I64), ("hi", I64), ("step", I64)], build)
    order = list(range(lo, hi, step))
    if reverse:
        order.reverse()
    acc = 0
    for i in order:
        acc = acc * 3 + i
    assert fn(lo, hi, step) == (acc, len(order))


def test_for_zero_step_raises():
    fn = jit(
        "loop0",
        [("s", I64)],
        lambda b, s: _for(b, b.const(0), b.const(3), s, [b.const(0)], lambda c, i, a: [c.add(a, i)], [I64]),
    )
    with pytest.raises(ValueError):
        fn(0)


def test_nested_loops():
    def build(b, n):
        def outer(c, i, acc):
            return _for(c, c.const(0), i, c.const(1), [acc], lambda d, j, a: [d.add(a, d.mul(i, j))], [I64])

        return _for(b, b.const(0), n, b.const(1), [b.const(0)], outer, [I64])

    fn = jit("nested", [("n", I64)], build)
    assert fn(7) == sum(i * j for i in range(7) for j in range(i))


def test_while_collatz():
    def build(b, n):
        cond = Region([Value(I64, "n"), Value(I64, "k")])
        cond.yields = [b.child(cond).ne(cond.args[0], b.const(1))]
        body = Region([Value(I64, "n"), Value(I64, "k")])
        c = b.child(body)
        m, k = body.args
        even = c.eq(c.mod(m, c.const(2)), c.const(0))
        nxt = _if(
            c,
            even,
            lambda d: [d.floordiv(m, d.const(2))],
            lambda d: [d.add(d.mul(m, d.const(3)), d.const(1))],
            [I64],
        )[0]
        body.yields = [nxt, c.add(k, c.const(1))]
        return b.while_([n, b.const(0)], cond, body, [I64, I64])[1]

    fn = jit("collatz", [("n", I64)], build)

    def steps(n):
        k = 0
        while n != 1:
            n, k = (n // 2 if n % 2 == 0 else 3 * n + 1), k + 1
        return k

    assert [fn(n) for n in range(1, 30)] == [steps(n) for n in range(1, 30)]


def test_pendulum_scalar_loop():
    fn = jit("pendulum", [("theta", F64), ("omega", F64), ("n", I64)], _pendulum)
    th, om = 1.0, 0.0
    for _ in range(1000):
        th, om = th + 0.01 * om, om + 0.01 * (-9.81 * math.sin(th) - 0.1 * om)
    assert close(fn(1.0, 0.0, 1000), th + om)


def _pendulum(b, theta, omega, n):
    def step(c, i, th, om):
        acc = c.sub(c.mul(c.const(-9.81), c.sin(th)), c.mul(c.const(0.1), om))
        return [c.add(th, c.mul(c.const(0.01), om)), c.add(om, c.mul(c.const(0.01), acc))]

    th, om = _for(b, b.const(0), n, b.const(1), [theta, omega], step, [F64, F64])
    return b.add(th, om)


def test_tuple_return_and_tuple_get():
    fn = jit("tup", [("x", F64), ("n", I64)], lambda b, x, n: b.tuple_get(b.tuple(n, b.tuple(x, n)), index=1))
    assert fn(1.5, 3) == (1.5, 3)
    fn2 = jit("two", [("x", F64)], lambda b, x: [x, b.mul(x, x)])
    assert fn2(3.0) == (3.0, 9.0)


# --------------------------------------------------------------------------- arrays
def _loop_sum(b, x):
    def step(c, i, s):
        xi = c.getitem(x, i, index=IDX)
        term = c.add(c.mul(c.sin(xi), c.pow(xi, c.const(2))), c.mul(c.const(0.5), xi))
        return [c.add(s, term)]

    return _for(b, b.const(0), b.len(x), b.const(1), [b.const(0.0)], step, [F64])[0]


def test_loop_sum_over_array_and_strided_view():
    fn = jit("loop_sum", [("x", A1)], _loop_sum)
    x = np.random.default_rng(0).random(1001)
    for arr in (x, x[::3], x[::-2], x[5:5]):
        assert close(fn(arr), float(np.sum(np.sin(arr) * arr**2 + 0.5 * arr)))


def test_getitem_negative_index_and_bounds_check():
    fn = jit("get", [("x", A2), ("i", I64), ("j", I64)], lambda b, x, i, j: b.getitem(x, i, j, index=IDX * 2))
    x = np.arange(12.0).reshape(3, 4)
    for i, j in [(0, 0), (2, 3), (-1, -1), (-3, 1)]:
        assert fn(x, i, j) == x[i, j]
    for i, j in [(3, 0), (0, 4), (-4, 0)]:
        with pytest.raises(IndexError):
            fn(x, i, j)
    unchecked = jit(
        "get", [("x", A1), ("i", I64)], lambda b, x, i: b.getitem(x, i, index=IDX), boundscheck=False
    )
    assert unchecked(np.arange(5.0), -2) == 3.0


@pytest.mark.parametrize(
    "lo,hi,step",
    [
        (None, None, None),
        (1, None, None),
        (None, -1, None),
        (1, 8, 2),
        (None, None, -1),
        (8, 1, -3),
        (-100, 100, 3),
        (5, 2, None),
    ],
)
def test_slices_are_views_with_python_semantics(lo, hi, step):
    has = tuple(v is not None for v in (lo, hi, step))

    def build(b, x):
        bounds = [b.const(v) for v in (lo, hi, step) if v is not None]
        return b.getitem(x, *bounds, index=(("slice", *has),))

    fn = jit("sl", [("x", A1)], build)
    x = np.arange(10.0)
    assert np.array_equal(fn(x), x[lo:hi:step])
    assert np.array_equal(fn(x[::2]), x[::2][lo:hi:step])


def test_2d_views_newaxis_ellipsis_shape_len():
    def build(b, x):
        row = b.getitem(x, b.const(1), index=(("idx",), ("ellipsis",)))
        col = b.getitem(x, b.const(-1), index=(("slice", False, False, False), ("idx",)))
        t = b.getitem(x, index=(("newaxis",), ("slice", False, False, False)))
        return [row, col, t, b.shape(x), b.len(x), b.size(x), b.ndim(x)]

    fn = jit("views", [("x", A2)], build)
    x = np.arange(12.0).reshape(3, 4)
    row, col, t, shape, n, size, ndim = fn(x)
    assert np.array_equal(row, x[1, ...]) and np.array_equal(col, x[:, -1]) and np.array_equal(t, x[None, :])
    assert (shape, n, size, ndim) == ((3, 4), 3, 12, 2)


def _fill_loop(b, x):
    """for i in range(len(x)): x[i] = x[i] * i -- the first write copies, the rest are in place."""

    def step(c, i, a):
        return [c.setitem(a, c.mul(c.getitem(a, i, index=IDX), c.float(i)), i, index=IDX)]

    return _for(b, b.const(0), b.len(x), b.const(1), [x], step, [A1])[0]


def test_setitem_in_a_loop_never_mutates_the_input():
    fn = jit("fill", [("x", A1)], _fill_loop)
    x = np.arange(6.0) + 1.0
    before = x.copy()
    out = fn(x)
    assert np.array_equal(out, before * np.arange(6.0))
    assert np.array_equal(x, before)
    assert out.base is not None and out.flags.writeable


def test_setitem_copies_when_the_old_array_is_still_used():
    def build(b, x):
        z = b.zeros(b.len(x))
        z2 = b.setitem(z, b.const(5.0), b.const(0), index=IDX)
        z3 = b.setitem(z2, b.const(7.0), b.const(1), index=IDX)
        return [z2, z3]  # z2 is used after z3 is made: z3 must be a copy

    a, c = jit("keep", [("x", A1)], build)(np.ones(3))
    assert np.array_equal(a, [5, 0, 0]) and np.array_equal(c, [5, 7, 0])


def test_setitem_of_slices_broadcasts():
    def build(b, x, v):
        y = b.setitem(x, v, b.const(1), index=(("slice", True, False, False),))
        return b.setitem(y, b.const(-1.0), b.const(0), index=(("idx",), ("slice", False, False, False)))

    fn = jit("sets", [("x", A2), ("v", A1)], build)
    x = np.zeros((3, 4))
    want = x.copy()
    want[1:] = np.arange(4.0)
    want[0, :] = -1.0
    assert np.array_equal(fn(x, np.arange(4.0)), want)
    assert not x.any()
    with pytest.raises(ValueError):
        fn(x, np.arange(3.0))


def test_creation_ops():
    def build(b, n, x):
        return [
            b.zeros(n),
            b.ones(b.tuple(n, b.const(2))),
            b.full(n, b.const(3)),
            b.zeros_like(x),
            b.ones_like(x),
            b.full_like(x, b.const(2.5)),
            b.copy(x),
            b.arange(b.const(1), n, b.const(2)),
            b.linspace(b.const(0.0), b.const(1.0), n),
            b.eye(n),
            b.shape(b.empty(b.tuple(n, n))),
        ]

    fn = jit("create", [("n", I64), ("x", A1)], build)
    x = np.arange(3.0)[::-1]
    got = fn(5, x)
    want = [
        np.zeros(5),
        np.ones((5, 2)),
        np.full(5, 3),
        np.zeros_like(x),
        np.ones_like(x),
        np.full_like(x, 2.5),
        x.copy(),
        np.arange(1, 5, 2),
        np.linspace(0.0, 1.0, 5),
        np.eye(5),
        (5, 5),
    ]
    for g, w in zip(got, want):
        assert np.array_equal(g, w) and np.asarray(g).dtype == np.asarray(w).dtype, (g, w)
    with pytest.raises(ValueError):
        fn(-1, x)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean"])
@pytest.mark.parametrize(
    "axis,keepdims", [(None, False), (0, False), (1, False), (-1, True), ((0, 1), False)]
)
def test_reductions(name, axis, keepdims):
    fn = jit(name, [("x", A2)], lambda b, x: b.op(name, x, axis=axis, keepdims=keepdims))
    x = np.random.default_rng(1).random((4, 5)) - 0.5
    for arr in (x, x[::-1, ::2]):
        assert close(fn(arr), getattr(np, name)(arr, axis=axis, keepdims=keepdims))


def test_empty_max_raises_and_argmax():
    fn = jit("mx", [("x", A1)], lambda b, x: [b.max(x), b.argmax(x), b.argmin(x)])
    x = np.array([3.0, -1.0, 7.0, 7.0, -1.0])
    assert fn(x) == (7.0, 2, 1)
    with pytest.raises(ValueError):
        fn(np.zeros(0))


def test_dot_matmul_outer():
    fn = jit(
        "lin",
        [("a", A2), ("b", A2), ("v", A1)],
        lambda b, a, m, v: [
            b.dot(v, v),
            b.matmul(a, m),
            b.dot(a, v),
            b.dot(v, a),
            b.outer(v, v),
            b.dot(b.const(2.0), v),
        ],
    )
    rng = np.random.default_rng(2)
    a, m, v = rng.random((3, 3)), rng.random((3, 3)), rng.random(3)
    for g, w in zip(fn(a, m, v), [v @ v, a @ m, a @ v, v @ a, np.outer(v, v), 2.0 * v]):
        assert close(g, w)
    with pytest.raises(ValueError):
        fn(a, rng.random((2, 3)), v)


# --------------------------------------------------------------------------- elementwise and fusion
def test_elementwise_broadcasting_and_fusion():
    def build(b, x, y):
        return [b.sum(b.mul(b.sin(x), y)), b.add(x, b.op("neg", y)), b.mul(b.exp(x), b.const(2.0))]

    fn = jit("ew", [("x", A2), ("y", A1)], build)
    x, y = np.random.default_rng(3).random((3, 4)), np.arange(4.0)
    s, d, e = fn(x, y)
    assert close(s, np.sum(np.sin(x) * y)) and close(d, x - y) and close(e, np.exp(x) * 2.0)
    with pytest.raises(ValueError):
        fn(x, np.arange(3.0))


def test_fused_chain_allocates_nothing():
    fn = jit("fused", [("x", A1), ("y", A1)], lambda b, x, y: b.sum(b.mul(b.sin(x), b.add(y, b.const(1.0)))))
    x, y = np.linspace(0, 1, 7), np.linspace(1, 2, 7)
    assert close(fn(x, y), np.sum(np.sin(x) * (y + 1.0)))
    assert "adc_alloc" not in fn.llvm_ir  # neither adc_alloc nor adc_alloc_zero


def test_sum_to_unbroadcasts():
    def build(b, g):
        return [b.sum_to(g, b.tuple(b.const(1), b.const(4))), b.sum_to(g, b.const(4)), b.sum_to(g, b.tuple())]

    fn = jit("st", [("g", A2)], build)
    g = np.random.default_rng(4).random((3, 4))
    a, c, s = fn(g)
    assert close(a, g.sum(0, keepdims=True)) and close(c, g.sum(0)) and close(s, g.sum())


def test_shape_ops():
    def build(b, x):
        return [
            b.transpose(x),
            b.reshape(x, b.tuple(b.const(-1))),
            b.expand_dims(x, axis=0),
            b.broadcast_to(b.getitem(x, b.const(0), index=IDX), b.tuple(b.const(2), b.const(4))),
            b.concatenate(x, x, axis=1),
            b.stack(x, x, axis=0),
            b.stack(b.const(1.0), b.const(2.0), axis=0),
        ]

    fn = jit("shapes", [("x", A2)], build)
    x = np.arange(12.0).reshape(3, 4)
    for arr in (x, x[:, ::-1]):
        want = [
            arr.T,
            arr.reshape(-1),
            arr[None],
            np.broadcast_to(arr[0], (2, 4)),
            np.concatenate([arr, arr], 1),
            np.stack([arr, arr]),
            np.array([1.0, 2.0]),
        ]
        for g, w in zip(fn(arr), want):
            assert np.array_equal(g, w)


# --------------------------------------------------------------------------- tapes
def test_tape_push_in_loop_pop_in_reversed_loop():
    """The shape of a reverse sweep: push x*i forward, pop backwards, fold in pop order."""

    def build(b, x, n):
        def forward(c, i, a):
            c.push(c.mul(a, c.float(i)), tape="t")
            c.push(i, tape="k")
            c.push(c.full(c.const(2), a), tape="arrays")
            return [c.add(a, c.const(1.0))]

        def backward(c, i, acc):
            v, k, arr = (
                c.op("pop", tape="t", result_types=[F64]),
                c.op("pop", tape="k", result_types=[I64]),
                c.op("pop", tape="arrays", result_types=[A1]),
            )
            return [c.add(c.mul(acc, c.const(0.5)), c.add(c.mul(v, c.float(c.sub(i, k))), c.sum(arr)))]

        (a,) = _for(b, b.const(0), n, b.const(1), [x], forward, [F64])
        return _for(b, b.const(0), n, b.const(1), [a], backward, [F64], reverse=True)[0]

    fn = jit("tape", [("x", F64), ("n", I64)], build)

    def ref(x, n):
        tape = []
        a = x
        for i in range(n):
            tape.append((a * i, i, 2 * a))
            a += 1.0
        acc = a
        for i in reversed(range(n)):
            v, k, s = tape.pop()
            acc = acc * 0.5 + (v * (i - k) + s)
        return acc

    for n in (0, 1, 5, 100):
        assert close(fn(1.5, n), ref(1.5, n))


def test_pop_from_empty_tape_raises():
    fn = jit("empty", [("x", F64)], lambda b, x: b.op("pop", tape="t", result_types=[F64]))
    with pytest.raises(IndexError):
        fn(1.0)


# --------------------------------------------------------------------------- the rest
def test_unsupported_op_names_the_op_and_python_backend():
    def build(b, x):
        return b.op("custom_call", x, rule=None, result_types=[F64])

    with pytest.raises(ADTypeError, match=r"custom_call.*backend=\"python\""):
        jit("bad", [("x", F64)], build)


def test_llvm_ir_and_asm_text():
    fn = jit("txt", [("x", F64)], lambda b, x: b.sin(x))
    assert "define" in fn.llvm_ir and "llvm.sin.f64" in fn.llvm_ir
    assert "adc_entry" in fn.asm


def test_object_code_cache_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))
    fn = make("cached", [("x", A1)], _loop_sum)
    first = compile_function(fn)
    wait_for_compiles()  # the optimised code is compiled (and stored) in the background
    stored = set(tmp_path.glob("*.o"))
    assert stored  # the function's (and the library's, were it compiled here)
    second = compile_function(make("cached", [("x", A1)], _loop_sum))
    x = np.arange(5.0)
    assert second(x) == first(x) and second.llvm_ir == first.llvm_ir
    assert set(tmp_path.glob("*.o")) == stored  # nothing compiled again


#: ops with a lowering; the set may grow, never shrink
SUPPORTED = set(
    "const float int bool sin cos tan exp exp2 expm1 log log2 log10 log1p sqrt tanh sinh cosh arctan arcsin "
    "arccos neg abs square sign floor ceil round not isfinite add sub mul floordiv mod pow maximum minimum div "
    "logaddexp arctan2 lt le gt ge eq ne and or where clip sum prod max min mean argmax argmin dot matmul outer "
    "shape len size ndim transpose reshape broadcast_to sum_to expand_dims concatenate stack getitem setitem "
    "index_add zeros ones empty full zeros_like ones_like copy full_like arange linspace eye tuple tuple_get "
    "tuple_cat stop_gradient push pop undef assert check_finite comment if for while checkpoint".split()
)


def test_lowering_table_covers_the_supported_ops():
    """Lowerings are one dict keyed by op name; the supported set may grow, never shrink."""
    assert SUPPORTED <= set(LOWERINGS), sorted(SUPPORTED - set(LOWERINGS))
    assert set(LOWERINGS) <= set(OPS), sorted(set(LOWERINGS) - set(OPS))
    # every op but the calls of custom rules, which are inlined before lowering
    # (passes/custom_rules.py; tests/test_llvm_custom.py)
    assert sorted(set(OPS) - set(LOWERINGS)) == ["custom_call", "custom_jvp_call", "custom_vjp_call"]


def test_returning_a_parameter_returns_a_copy():
    fn = jit("ident", [("x", A1)], lambda b, x: [x, b.stop_gradient(x)])
    x = np.arange(4.0)
    a, c = fn(x)
    assert np.array_equal(a, x) and not np.shares_memory(a, x) and np.array_equal(c, x)


def test_index_add_checkpoint_tuple_cat_undef():
    def build(b, x, n):
        y = b.index_add(x, b.const(1.0), b.const(0), index=IDX)
        region = Region([Value(A1, "z")])
        inner = b.child(region)
        region.yields = [inner.mul(region.args[0], inner.const(2.0))]
        z = b.op("checkpoint", y, regions=[region], result_types=[A1])
        t = b.tuple_cat(b.shape(z), b.tuple(n))
        return [z, t, b.op("undef", result_types=[F64])]

    z, t, u = jit("misc", [("x", A1), ("n", I64)], build)(np.ones(3), 7)
    assert np.array_equal(z, [4.0, 2.0, 2.0]) and t == (3, 7) and u == 0.0


def test_assert_and_check_finite():
    from adcompiler.errors import NumericError

    def build(b, x, v):
        b.op("assert", b.gt(x, b.const(0.0)), message="x must be positive")
        b.op("check_finite", v, what="v")
        return x

    fn = jit("checks", [("x", F64), ("v", A1)], build)
    assert fn(1.0, np.ones(2)) == 1.0
    with pytest.raises(AssertionError, match="x must be positive"):
        fn(-1.0, np.ones(2))
    with pytest.raises(NumericError):
        fn(1.0, np.array([1.0, np.nan]))


def test_fastmath_compiles_with_fast_flags():
    fn = jit("fast", [("x", A1)], _loop_sum, fastmath=True)
    x = np.linspace(0, 1, 1000)
    assert np.isclose(fn(x), np.sum(np.sin(x) * x**2 + 0.5 * x))
    assert " fast " in fn.llvm_ir
