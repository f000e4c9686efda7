"""THE table of derivative rules: for every differentiable op, its JVP and its VJP, side by side.

Rules are written as math on :class:`~adcompiler.ad.sym.Sym` values, one function per operand
(as in HIPS autograd and JAX): only the rules of active operands are called.

* ``vjp(g, y, *xs, **attrs)`` for operand k: the contribution of the output cotangent ``g``
  to operand k's adjoint (``y`` is the primal result, ``xs`` the primal operands).
* ``jvp(t, y, *xs, **attrs)`` for operand k: the contribution of operand k's tangent ``t`` to
  the output tangent.

For elementwise ops the reverse pass sums contributions back to each operand's shape
(broadcasting's adjoint); all other rules return correctly shaped values themselves.
Ops without derivatives are listed in ``ir.ops.NON_DIFFERENTIABLE``; control flow, tapes and
custom rules are handled by the transformations themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..errors import NotDifferentiableError
from .sym import (
    Sym,
    broadcast_to,
    call,
    cos,
    cosh,
    dot,
    exp,
    expand_dims,
    getitem,
    log,
    matmul,
    outer,
    reshape,
    setitem,
    shape,
    sign,
    sinh,
    size,
    sqrt,
    sum_to,
    to_float,
    transpose,
    where,
)
from .sym import floor as floor_
from .sym import sin as sin_

Rule = Callable[..., Sym]

VJP: dict[str, tuple[Rule | None, ...]] = {}
JVP: dict[str, tuple[Rule | None, ...]] = {}


def defvjp(name: str, *rules: Rule | None) -> None:
    VJP[name] = rules


def defjvp(name: str, *rules: Rule | None) -> None:
    JVP[name] = rules


def linear(name: str, n: int = 1) -> None:
    """A linear op: its tangent is the op applied to the tangent (vjp given separately)."""
    JVP[name] = tuple(_applied_to_tangent(name, k) for k in range(n))


def _applied_to_tangent(name: str, k: int) -> Rule:
    def rule(t: Sym, y: Sym, *xs: Sym, **attrs) -> Sym:
        return call(name, *[t if j == k else x for j, x in enumerate(xs)], **attrs)

    return rule


def elementwise(name: str, dydx: Callable[..., Sym]) -> None:
    """A unary map y = f(x) with derivative ``dydx(y, x)``: both rules from one formula."""
    defvjp(name, lambda g, y, x: g * dydx(y, x))
    defjvp(name, lambda t, y, x: t * dydx(y, x))


class Scatter:
    """A contribution to ``x[index]`` only: accumulated with ``index_add`` (no dense zeros)."""

    __slots__ = ("g", "parts", "index")

    def __init__(self, g: Sym, parts: tuple[Sym, ...], index: tuple) -> None:
        self.g, self.parts, self.index = g, parts, index


# ------------------------------------------------------------------ elementwise maps
elementwise("sin", lambda y, x: cos(x))
elementwise("cos", lambda y, x: -sin_(x))
elementwise("tan", lambda y, x: 1.0 + y * y)
elementwise("exp", lambda y, x: y)
elementwise("exp2", lambda y, x: y * math.log(2.0))
elementwise("expm1", lambda y, x: y + 1.0)
elementwise("log", lambda y, x: 1.0 / x)
elementwise("log2", lambda y, x: 1.0 / (x * math.log(2.0)))
elementwise("log10", lambda y, x: 1.0 / (x * math.log(10.0)))
elementwise("log1p", lambda y, x: 1.0 / (1.0 + x))
elementwise("sqrt", lambda y, x: 0.5 / y)
elementwise("tanh", lambda y, x: 1.0 - y * y)
elementwise("sinh", lambda y, x: cosh(x))
elementwise("cosh", lambda y, x: sinh(x))
elementwise("arctan", lambda y, x: 1.0 / (1.0 + x * x))
elementwise("arcsin", lambda y, x: 1.0 / sqrt(1.0 - x * x))
elementwise("arccos", lambda y, x: -1.0 / sqrt(1.0 - x * x))
elementwise("abs", lambda y, x: sign(x))
elementwise("square", lambda y, x: 2.0 * x)

# identities
defvjp("neg", lambda g, y, x: -g)
defjvp("neg", lambda t, y, x: -t)
defvjp("float", lambda g, y, x: g)
defjvp("float", lambda t, y, x: t)
defvjp("copy", lambda g, y, x: g)
defjvp("copy", lambda t, y, x: t)

# ------------------------------------------------------------------ elementwise binary
defvjp("add", lambda g, y, a, b: g, lambda g, y, a, b: g)
defjvp("add", lambda t, y, a, b: t, lambda t, y, a, b: t)
defvjp("sub", lambda g, y, a, b: g, lambda g, y, a, b: -g)
defjvp("sub", lambda t, y, a, b: t, lambda t, y, a, b: -t)
defvjp("mul", lambda g, y, a, b: g * b, lambda g, y, a, b: g * a)
defjvp("mul", lambda t, y, a, b: t * b, lambda t, y, a, b: a * t)
# y / b grouped: in a loop where a and b are invariant, so is y / b, and it is hoisted
defvjp("div", lambda g, y, a, b: g / b, lambda g, y, a, b: -g * (y / b))
defjvp("div", lambda t, y, a, b: t / b, lambda t, y, a, b: -t * (y / b))
defvjp("pow", lambda g, y, a, p: g * p * a ** (p - 1), lambda g, y, a, p: g * y * log(a))
defjvp("pow", lambda t, y, a, p: t * p * a ** (p - 1), lambda t, y, a, p: t * y * log(a))
defvjp("maximum", lambda g, y, a, b: where(a >= b, g, 0.0), lambda g, y, a, b: where(a >= b, 0.0, g))
defjvp("maximum", lambda t, y, a, b: where(a >= b, t, 0.0), lambda t, y, a, b: where(a >= b, 0.0, t))
defvjp("minimum", lambda g, y, a, b: where(a <= b, g, 0.0), lambda g, y, a, b: where(a <= b, 0.0, g))
defjvp("minimum", lambda t, y, a, b: where(a <= b, t, 0.0), lambda t, y, a, b: where(a <= b, 0.0, t))
defvjp("logaddexp", lambda g, y, a, b: g * exp(a - y), lambda g, y, a, b: g * exp(b - y))
defjvp("logaddexp", lambda t, y, a, b: t * exp(a - y), lambda t, y, a, b: t * exp(b - y))
defvjp("arctan2", lambda g, y, a, b: g * b / (a * a + b * b), lambda g, y, a, b: -g * a / (a * a + b * b))
defjvp("arctan2", lambda t, y, a, b: t * b / (a * a + b * b), lambda t, y, a, b: -t * a / (a * a + b * b))
defvjp("mod", lambda g, y, a, b: g, lambda g, y, a, b: -g * floor_(a / b))
defjvp("mod", lambda t, y, a, b: t, lambda t, y, a, b: -t * floor_(a / b))
defvjp("where", None, lambda g, y, c, a, b: where(c, g, 0.0), lambda g, y, c, a, b: where(c, 0.0, g))
defjvp("where", None, lambda t, y, c, a, b: where(c, t, 0.0), lambda t, y, c, a, b: where(c, 0.0, t))


def _clip_rule(operand: int) -> Rule:
    """np.clip is ``minimum(maximum(x, lo), hi)``: the derivative flows to whichever of x, lo,
    hi the result is (hi wins when lo > hi, as in NumPy)."""

    def rule(g: Sym, y: Sym, x: Sym, lo: Sym, hi: Sym) -> Sym:
        under_hi = call("maximum", x, lo) <= hi
        if operand == 0:
            return where((x >= lo) & under_hi, g, 0.0)
        if operand == 1:
            return where((x < lo) & under_hi, g, 0.0)
        return where(under_hi, 0.0, g)

    return rule


defvjp("clip", _clip_rule(0), _clip_rule(1), _clip_rule(2))
defjvp("clip", _clip_rule(0), _clip_rule(1), _clip_rule(2))


# ------------------------------------------------------------------ reductions
def _unreduce(g: Sym, x: Sym, axis, keepdims) -> Sym:
    """``g`` (shaped like a reduction of ``x``) broadcast back to ``x``'s shape."""
    if x.rank == 0:
        return g
    if axis is not None and not keepdims:
        g = expand_dims(g, axis=axis)
    return broadcast_to(g, shape(x))


def _count(x: Sym, y: Sym) -> Sym:
    """How many elements of ``x`` each element of ``y`` reduces."""
    return to_float(size(x)) / size(y)


def _extremum_vjp(g: Sym, y: Sym, x: Sym, axis=None, keepdims=None) -> Sym:
    """Ties share the cotangent equally (as JAX does)."""
    hit = to_float(x.eq(_unreduce(y, x, axis, keepdims)))
    return _unreduce(g, x, axis, keepdims) * hit / call("sum", hit, axis=axis, keepdims=True)


defvjp("sum", lambda g, y, x, axis=None, keepdims=None: _unreduce(g, x, axis, keepdims))
linear("sum")
defvjp("mean", lambda g, y, x, axis=None, keepdims=None: _unreduce(g / _count(x, y), x, axis, keepdims))
defjvp("mean", lambda t, y, x, axis=None, keepdims=None: call("mean", t, axis=axis, keepdims=keepdims))
defvjp("prod", lambda g, y, x, axis=None, keepdims=None: _unreduce(g * y, x, axis, keepdims) / x)
defjvp(
    "prod",
    lambda t, y, x, axis=None, keepdims=None: call(
        "sum", t * _unreduce(y, x, axis, keepdims) / x, axis=axis, keepdims=keepdims
    ),
)
defvjp("max", _extremum_vjp)
defvjp("min", _extremum_vjp)


def _extremum_jvp(t: Sym, y: Sym, x: Sym, axis=None, keepdims=None) -> Sym:
    hit = to_float(x.eq(_unreduce(y, x, axis, keepdims)))
    return call("sum", t * hit, axis=axis, keepdims=keepdims) / call("sum", hit, axis=axis, keepdims=keepdims)


defjvp("max", _extremum_jvp)
defjvp("min", _extremum_jvp)


# ------------------------------------------------------------------ linear algebra
def _stacked(name: str, a: Sym, b: Sym) -> bool:
    """Whether a product involves a stack of matrices (rank > 2) and multiplies it as
    ``matmul`` does; so does ``dot``, unless ``b`` is the stack."""
    ra, rb = a.rank, b.rank
    return bool(ra and rb and max(ra, rb) > 2 and (name == "matmul" or rb <= 2))


def _matrix_rule(name: str, operand: int) -> Rule:
    """Adjoints of ``dot``/``matmul`` for ranks up to 2 (ranks 0 behave like ``mul``), and of
    products of stacks of matrices."""

    def rule(g: Sym, y: Sym, a: Sym, b: Sym) -> Sym:
        ra, rb = a.rank, b.rank
        if _stacked(name, a, b):
            return _stacked_matmul_vjp(operand, g, a, b)
        if name == "dot" and ra and rb is not None and rb > 2:
            return _dot_by_stack_vjp(operand, g, a, b)
        if ra is None or rb is None:
            raise NotDifferentiableError(
                f"{name} of arrays of unknown rank: its adjoint depends on the ranks"
            )
        if ra == 0 or rb == 0:
            other = b if operand == 0 else a
            mine = a if operand == 0 else b
            return sum_to(g * other, shape(mine)) if mine.rank else call("sum", g * other)
        if operand == 0:
            if rb == 1:
                return g * b if ra == 1 else outer(g, b)  # (1,1) vector; (2,1) matrix-vector
            return dot(g, b.T) if ra == 2 else dot(b, g)  # (2,2); (1,2): v @ A
        if ra == 1:
            return g * a if rb == 1 else outer(a, g)
        return dot(a.T, g)  # (2,1) and (2,2)

    return rule


def _swap_last(x: Sym) -> Sym:
    """A stack of matrices, each transposed (NumPy's ``np.swapaxes(x, -1, -2)``)."""
    r = x.rank
    return transpose(x, axes=(*range(r - 2), r - 1, r - 2))


def _dot_by_stack_vjp(operand: int, g: Sym, a: Sym, b: Sym) -> Sym:
    """``y = np.dot(a, B)`` with ``B`` a stack (rank > 2) pairs every row of ``a`` with every
    matrix of ``B``: ``y[I, J, k] = sum_l a[I, l] B[J, l, k]``. Flattened it is one matrix
    product, ``(a as (M, L)) @ (B with its axis l first, as (L, J*k))``, whose adjoints are
    reshaped back."""
    rb = b.rank
    l_first = (rb - 2, *range(rb - 2), rb - 1)  # B[J, l, k] -> B'[l, J, k]
    b_l = transpose(b, axes=l_first)
    n_l = call("tuple_get", shape(b_l), index=0)
    b2 = reshape(b_l, call("tuple", n_l, -1))
    a2 = reshape(a, call("tuple", -1, n_l))
    g2 = reshape(g, call("tuple", call("floordiv", size(a), n_l), -1))
    if operand == 0:
        return reshape(g2 @ b2.T, shape(a))
    return transpose(reshape(a2.T @ g2, shape(b_l)), axes=_inverse_axes(l_first))


def _stacked_matmul_vjp(operand: int, g: Sym, a: Sym, b: Sym) -> Sym:
    """``C = A @ B`` with a stack (rank > 2): ``dA = dC @ B^T`` and ``dB = A^T @ dC`` at each
    batch position, summed over the batch axes the operand was broadcast along (``sum_to``,
    e.g. a weight shared by the whole stack). A vector operand is a matrix of one row (``a``)
    or one column (``b``) whose axis ``C``, and so ``dC``, lacks."""
    if operand == 0:
        if b.rank == 1:
            d = expand_dims(g, axis=-1) * b  # (..., n, 1) * (k,): an outer product per position
        elif a.rank == 1:
            d = expand_dims(g, axis=-2) @ _swap_last(b)  # (..., 1, m) @ (..., m, k), summed to (k,)
        else:
            d = g @ _swap_last(b)
        return sum_to(d, shape(a))
    if a.rank == 1:
        d = expand_dims(a, axis=-1) * expand_dims(g, axis=-2)  # (k, 1) * (..., 1, m)
    elif b.rank == 1:
        d = expand_dims(g, axis=-2) @ a  # (..., 1, n) @ (..., n, k), summed to (k,)
    else:
        d = _swap_last(a) @ g
    return sum_to(d, shape(b))


defvjp("dot", _matrix_rule("dot", 0), _matrix_rule("dot", 1))
defvjp("matmul", _matrix_rule("matmul", 0), _matrix_rule("matmul", 1))
defvjp("outer", lambda g, y, a, b: dot(g, b), lambda g, y, a, b: dot(g.T, a))
for _name in ("dot", "matmul", "outer"):
    defjvp(_name, lambda t, y, a, b, _n=_name: call(_n, t, b), lambda t, y, a, b, _n=_name: call(_n, a, t))


# ------------------------------------------------------------------ shapes
def _inverse_axes(axes) -> tuple[int, ...] | None:
    if axes is None:
        return None
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a] = i
    return tuple(inverse)


# a running sum's adjoint is the running sum from the other end
defvjp(
    "cumsum",
    lambda g, y, x, axis=None, reverse=None: call("cumsum", g, axis=axis, reverse=not reverse or None),
)
linear("cumsum")
defvjp("transpose", lambda g, y, x, axes=None: transpose(g, axes=_inverse_axes(axes)))
linear("transpose")
defvjp("reshape", lambda g, y, x, s: reshape(g, shape(x)), None)
linear("reshape", 2)
defvjp("broadcast_to", lambda g, y, x, s: sum_to(g, shape(x)), None)
linear("broadcast_to", 2)
defvjp("sum_to", lambda g, y, x, s: broadcast_to(g, shape(x)), None)
linear("sum_to", 2)
defvjp("expand_dims", lambda g, y, x, axis=None: reshape(g, shape(x)))
linear("expand_dims")


def _along(axis: int, rank: int, item: tuple, parts: list) -> tuple[tuple, list]:
    """An index selecting ``item`` along ``axis`` and everything along the other axes."""
    axis = axis % rank if rank else 0
    return (("slice", False, False, False),) * axis + (item,), parts


def _concat_part(k: int) -> Rule:
    def rule(g: Sym, y: Sym, *xs: Sym, axis=0) -> Sym:
        axis = 0 if axis is None else axis
        lengths = [call("tuple_get", shape(x), index=axis % x.rank) for x in xs[: k + 1]]
        start = lengths[0] * 0 if k == 0 else lengths[0]
        for n in lengths[1:k]:
            start = start + n
        stop = start + lengths[k] if k else lengths[0]
        index, parts = _along(axis, xs[k].rank, ("slice", k > 0, True, False), [start, stop] if k else [stop])
        return getitem(g, *parts, index=index)

    return rule


def _stack_part(k: int) -> Rule:
    def rule(g: Sym, y: Sym, *xs: Sym, axis=0) -> Sym:
        axis = 0 if axis is None else axis
        index, parts = _along(axis, y.rank, ("idx",), [k])
        return getitem(g, *parts, index=index)

    return rule


class _PerOperand(tuple):
    """Rules for variadic ops: the k-th rule is made on demand."""

    def __new__(cls, make: Callable[[int], Rule]):
        obj = super().__new__(cls, ())
        obj.make = make
        return obj

    def __getitem__(self, k):  # type: ignore[override]
        return self.make(k)

    def __len__(self) -> int:
        return 1 << 30


VJP["concatenate"] = _PerOperand(_concat_part)
VJP["stack"] = _PerOperand(_stack_part)
JVP["concatenate"] = _PerOperand(lambda k: None)
JVP["stack"] = _PerOperand(lambda k: None)


# ------------------------------------------------------------------ indexing
def _getitem_vjp(g: Sym, y: Sym, x: Sym, *parts: Sym, index=None) -> Scatter:
    return Scatter(g, parts, index)


defvjp("getitem", _getitem_vjp)
JVP["getitem"] = (lambda t, y, x, *parts, index=None: getitem(t, *parts, index=index),)


def _setitem_vjp_v(g: Sym, y: Sym, x: Sym, v: Sym, *parts: Sym, index=None) -> Sym:
    picked = getitem(g, *parts, index=index)
    if any((p.rank or 0) > 0 for p in parts):  # an index array may name an element twice
        picked = picked * _last_writes(picked, g, parts, index)
    return _fit(picked, v)


def _last_writes(picked: Sym, g: Sym, parts: tuple[Sym, ...], index) -> Sym:
    """1.0 at each position of ``x[index]`` that is the last write to its element, else 0.0:
    only the last of repeated writes reaches the result (NumPy's ``x[[2, 2]] = v`` keeps
    ``v[1]``), so only it has a gradient. Numbered writes are scattered, read back, and
    each position keeps its number only where no later write overwrote it."""
    number = reshape(to_float(call("arange", 1, size(picked) + 1, 1)), shape(picked))
    marks = setitem(call("zeros_like", g), number, *parts, index=index)
    return to_float(getitem(marks, *parts, index=index).eq(number))


defvjp(
    "setitem",
    lambda g, y, x, v, *parts, index=None: setitem(g, 0.0, *parts, index=index),
    _setitem_vjp_v,
)
defvjp(
    "index_add",
    lambda g, y, x, v, *parts, index=None: g,
    lambda g, y, x, v, *parts, index=None: _fit(getitem(g, *parts, index=index), v),
)


def _setitem_jvp_x(t: Sym, y: Sym, x: Sym, v: Sym, *parts: Sym, index=None) -> Sym:
    return setitem(t, 0.0, *parts, index=index)


def _setitem_jvp_v(t: Sym, y: Sym, x: Sym, v: Sym, *parts: Sym, index=None) -> Sym:
    # a write, like the primal: of repeated writes to an element the last one counts
    return setitem(call("zeros_like", y), t, *parts, index=index)


def _index_add_jvp_v(t: Sym, y: Sym, x: Sym, v: Sym, *parts: Sym, index=None) -> Sym:
    return call("index_add", call("zeros_like", y), t, *parts, index=index)


JVP["setitem"] = (_setitem_jvp_x, _setitem_jvp_v)
JVP["index_add"] = (lambda t, y, x, v, *p, index=None: t, _index_add_jvp_v)


def _fit(contribution: Sym, like: Sym) -> Sym:
    """Sum a contribution down to the shape of ``like`` (the adjoint of broadcasting)."""
    if like.rank == 0:
        return contribution if contribution.rank == 0 else call("sum", contribution)
    return sum_to(contribution, shape(like))


# ------------------------------------------------------------------ creation
defvjp("full", None, lambda g, y, s, v: _fit(g, v))
defjvp("full", None, lambda t, y, s, v: broadcast_to(t, s))
defvjp("full_like", None, lambda g, y, x, v: _fit(g, v))
defjvp("full_like", None, lambda t, y, x, v: broadcast_to(t, shape(x)))


# ------------------------------------------------------------------ batched tangents
# Forward-mode gradients and Jacobians push n tangents at once: each tangent carries a
# leading batch axis. Elementwise rules work unchanged (NumPy aligns axes from the right);
# the ops below index axes from the left and need the batch axis skipped.
JVP_BATCHED: dict[str, tuple[Rule | None, ...]] = {}


def _shift(axis):
    """Axis numbers of the primal, as axes of a batched tangent."""
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        return tuple(_shift(a) for a in axis)
    return axis + 1 if axis >= 0 else axis


def _all_but_batch(x: Sym):
    return tuple(range(1, x.rank + 1))


def _batched_reduce(name: str) -> Rule:
    def rule(t: Sym, y: Sym, x: Sym, axis=None, keepdims=None) -> Sym:
        axes = _all_but_batch(x) if axis is None else _shift(axis)
        if name in ("sum", "mean"):
            return call(name, t, axis=axes, keepdims=keepdims)
        if name == "prod":
            return call("sum", t * _unreduce(y, x, axis, keepdims) / x, axis=axes, keepdims=keepdims)
        hit = to_float(x.eq(_unreduce(y, x, axis, keepdims)))
        return call("sum", t * hit, axis=axes, keepdims=keepdims) / call(
            "sum", hit, axis=axis, keepdims=keepdims
        )

    return rule


for _name in ("sum", "mean", "prod", "max", "min"):
    JVP_BATCHED[_name] = (_batched_reduce(_name),)


def _expand_batch(t: Sym, rank: int) -> Sym:
    """``t`` with singleton axes after the batch axis, up to ``rank + 1`` axes in all."""
    missing = rank + 1 - t.rank
    return t if missing <= 0 else expand_dims(t, axis=tuple(range(1, 1 + missing)))


def _batched_stacked_matmul(operand: int, t: Sym, y: Sym, a: Sym, b: Sym) -> Sym:
    """A product with a stack (rank > 2), as ``matmul``: the axis of directions must not meet
    the other operand's batch axes, so singleton axes after it make it a batch axis of its own.
    A vector becomes a matrix of one row (``a``) or one column (``b``), its axis dropped after."""
    vector = (a if operand == 0 else b).rank == 1
    s = expand_dims(t, axis=1 if operand == 0 else 2) if vector else t
    s = _expand_batch(s, max(a.rank, b.rank))
    product = matmul(s, b) if operand == 0 else matmul(a, s)
    return reshape(product, _with_batch(t, shape(y))) if vector else product


def _batched_matrix_b(name: str) -> Rule:
    def rule(t: Sym, y: Sym, a: Sym, b: Sym) -> Sym:
        if a.rank == 0:
            return a * t
        if b.rank == 0:
            return _expand_batch(t, y.rank) * a
        if _stacked(name, a, b):
            return _batched_stacked_matmul(1, t, y, a, b)
        if b.rank > 2:  # dot by a stack: the directions' axis comes after a's leading axes
            d, r = dot(a, t), a.rank - 1
            return transpose(d, axes=(r, *range(r), *range(r + 1, d.rank))) if r else d
        if b.rank == 1:
            return matmul(t, a.T)  # (n, m) @ (m, k)
        return matmul(a, t)  # broadcasts over the batch axis

    return rule


def _batched_matrix_a(name: str) -> Rule:
    def rule(t: Sym, y: Sym, a: Sym, b: Sym) -> Sym:
        if a.rank == 0:
            return _expand_batch(t, y.rank) * b
        if b.rank == 0:
            return t * b
        if _stacked(name, a, b):
            return _batched_stacked_matmul(0, t, y, a, b)
        return call(name, t, b)

    return rule


JVP_BATCHED["dot"] = (_batched_matrix_a("dot"), _batched_matrix_b("dot"))
JVP_BATCHED["matmul"] = (_batched_matrix_a("matmul"), _batched_matrix_b("matmul"))
JVP_BATCHED["outer"] = (
    lambda t, y, a, b: expand_dims(t, axis=2) * b,
    lambda t, y, a, b: expand_dims(a, axis=1) * expand_dims(t, axis=1),
)


def _batched_transpose(t: Sym, y: Sym, x: Sym, axes=None) -> Sym:
    axes = tuple(reversed(range(x.rank))) if axes is None else axes
    return transpose(t, axes=(0, *(a + 1 for a in axes)))


JVP_BATCHED["transpose"] = (_batched_transpose,)
JVP_BATCHED["cumsum"] = (
    lambda t, y, x, axis=None, reverse=None: call("cumsum", t, axis=_shift(axis), reverse=reverse),
)


def _with_batch(t: Sym, s: Sym) -> Sym:
    """The shape tuple ``(n, *s)``: a batched tangent's shape for a primal of shape ``s``."""
    n = call("tuple_get", shape(t), index=0)
    return call("tuple_cat", call("tuple", n), s)


JVP_BATCHED["reshape"] = (lambda t, y, x, s: reshape(t, _with_batch(t, shape(y))), None)
JVP_BATCHED["broadcast_to"] = (
    lambda t, y, x, s: broadcast_to(_expand_batch(t, y.rank), _with_batch(t, shape(y))),
    None,
)


def _batched_sum_to(t: Sym, y: Sym, x: Sym, s: Sym) -> Sym:
    """Sum ``(n, *big)`` down to ``(n, *s)``: pad ``s`` with ones so the batch axis lines up."""
    ones = Sym(t.b.op("tuple", *(t.b.const(1) for _ in range(t.rank - 1 - y.rank))), t.b)
    padded = call("tuple_cat", call("tuple", call("tuple_get", shape(t), index=0)), ones, shape(y))
    return reshape(sum_to(t, padded), _with_batch(t, shape(y)))


JVP_BATCHED["sum_to"] = (_batched_sum_to, None)
JVP_BATCHED["expand_dims"] = (lambda t, y, x, axis=None: expand_dims(t, axis=_shift(axis)),)


def _batched_index(index: tuple) -> tuple:
    return (("slice", False, False, False), *index)


JVP_BATCHED["getitem"] = (lambda t, y, x, *p, index=None: getitem(t, *p, index=_batched_index(index)),)


def _batched_write_v(write: str) -> Rule:
    """The tangents of the value written by ``setitem`` (the last of repeated writes to an
    element counts) or ``index_add`` (they add up): the same write, of every direction."""

    def rule(t: Sym, y: Sym, x: Sym, v: Sym, *p: Sym, index=None) -> Sym:
        slot = getitem(y, *p, index=index)
        zeros = call("zeros", _with_batch(t, shape(y)))
        return call(write, zeros, _expand_batch(t, slot.rank), *p, index=_batched_index(index))

    return rule


def _joint_write(write: str, batched: bool) -> Callable[..., Sym]:
    """The tangent of ``write(x, v, *parts)`` when both ``x`` and ``v`` have one: the same
    write of v's tangent into x's. (The sum of the two operands' rules would add a dense
    array of zeros holding v's tangent: O(size of x) per write, O(n^2) in a loop of writes.)"""

    def rule(tx: Sym, tv: Sym, y: Sym, x: Sym, v: Sym, *p: Sym, index=None) -> Sym:
        if not batched:
            return call(write, tx, tv, *p, index=index)
        slot = getitem(y, *p, index=index)
        return call(write, tx, _expand_batch(tv, slot.rank), *p, index=_batched_index(index))

    return rule


#: tangents of writes whose array and value both have tangents, unbatched and batched
JVP_WRITE = {w: _joint_write(w, batched=False) for w in ("setitem", "index_add")}
JVP_WRITE_BATCHED = {w: _joint_write(w, batched=True) for w in ("setitem", "index_add")}

JVP_BATCHED["setitem"] = (
    lambda t, y, x, v, *p, index=None: setitem(t, 0.0, *p, index=_batched_index(index)),
    _batched_write_v("setitem"),
)
JVP_BATCHED["index_add"] = (lambda t, y, x, v, *p, index=None: t, _batched_write_v("index_add"))
JVP_BATCHED["full"] = (
    None,
    lambda t, y, s, v: broadcast_to(_expand_batch(t, y.rank), _with_batch(t, shape(y))),
)
JVP_BATCHED["full_like"] = (
    None,
    lambda t, y, x, v: broadcast_to(_expand_batch(t, y.rank), _with_batch(t, shape(y))),
)
