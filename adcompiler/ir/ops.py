"""Every op of the IR: its signature, attributes and type rule, one line each.

Ops are grouped in families that share a type rule (elementwise, reductions, shape ops,
control flow...). The derivative rules of each op live in :mod:`adcompiler.ad.rules`, its
Python emission in :mod:`adcompiler.backends.python.emit` and its LLVM lowering in
:mod:`adcompiler.backends.llvm`; a test checks every table covers every op here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .types import (
    BOOL,
    F64,
    I64,
    NONE,
    UNKNOWN,
    NoneT,
    Tensor,
    TupleT,
    Type,
    broadcast_rank,
    promote_dtype,
    type_of_python_value,
)

TypeRule = Callable[[Sequence[Type], dict[str, Any]], list[Type]]


class OpDef:
    """The kind of an op: everything about it that is not a derivative or a backend."""

    __slots__ = ("name", "family", "type_rule", "attrs", "pure", "n_regions", "doc")

    def __init__(
        self,
        name: str,
        family: str,
        type_rule: TypeRule | None,
        attrs: tuple[str, ...] = (),
        pure: bool = True,
        n_regions: int = 0,
        doc: str = "",
    ) -> None:
        self.name, self.family = name, family
        #: computes result types from operand types (None for ops whose result types are
        #: fixed when they are built: pop, undef, control flow)
        self.type_rule = type_rule
        #: names of the attributes this op takes
        self.attrs = attrs
        #: no side effects: may be removed when unused, merged when equal (CSE)
        self.pure = pure
        #: number of regions (control flow)
        self.n_regions = n_regions
        #: a one-line description, shown by the printer's legend and in docs
        self.doc = doc


OPS: dict[str, OpDef] = {}


def _register(opdef: OpDef) -> OpDef:
    assert opdef.name not in OPS, opdef.name
    OPS[opdef.name] = opdef
    return opdef


# --------------------------------------------------------------------------- type rules
def _tensors(types: Sequence[Type]) -> list[Tensor] | None:
    """The operand types as tensors, or None when any is not known yet."""
    if any(t is None for t in types):
        return None
    return [t if isinstance(t, Tensor) else UNKNOWN for t in types]


def _untyped(n: int = 1) -> list[Type]:
    return [None] * n  # type: ignore[list-item]


def _float_map(types, attrs):
    """sin, exp, ...: float result, the operand's rank."""
    ts = _tensors(types)
    return _untyped() if ts is None else [Tensor("f64", ts[0].rank)]


def _same_map(types, attrs):
    """neg, abs, floor...: the operand's dtype (bools count as ints), its rank."""
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    dtype = "i64" if ts[0].dtype == "bool" else ts[0].dtype
    return [Tensor(dtype, ts[0].rank)]


def _cast(dtype: str) -> TypeRule:
    def rule(types, attrs):
        ts = _tensors(types)
        return _untyped() if ts is None else [Tensor(dtype, ts[0].rank)]

    return rule


def _arith(types, attrs):
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    dtype = promote_dtype(*(t.dtype for t in ts))
    if dtype == "bool":
        dtype = "i64"
    return [Tensor(dtype, broadcast_rank(*(t.rank for t in ts)))]


def _float_arith(types, attrs):
    ts = _tensors(types)
    return _untyped() if ts is None else [Tensor("f64", broadcast_rank(*(t.rank for t in ts)))]


def _compare(types, attrs):
    ts = _tensors(types)
    return _untyped() if ts is None else [Tensor("bool", broadcast_rank(*(t.rank for t in ts)))]


def _where(types, attrs):
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    return [Tensor(promote_dtype(ts[1].dtype, ts[2].dtype), broadcast_rank(*(t.rank for t in ts)))]


def _axes(attrs) -> tuple[int, ...] | None:
    axis = attrs.get("axis")
    if axis is None:
        return None
    return tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)


def _reduced_rank(rank: int | None, attrs) -> int | None:
    axes = _axes(attrs)
    if attrs.get("keepdims"):
        return rank
    if axes is None:
        return 0
    return None if rank is None else rank - len(axes)


def _reduce(dtype_of: Callable[[str | None], str | None]) -> TypeRule:
    def rule(types, attrs):
        ts = _tensors(types)
        if ts is None:
            return _untyped()
        return [Tensor(dtype_of(ts[0].dtype), _reduced_rank(ts[0].rank, attrs))]

    return rule


def _scan(types, attrs):
    """A running sum: the operand's shape, bools summed as ints."""
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    return [Tensor("i64" if ts[0].dtype == "bool" else ts[0].dtype, ts[0].rank)]


def _dot(types, attrs):
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    a, b = ts[0].rank, ts[1].rank
    dtype = promote_dtype(ts[0].dtype, ts[1].dtype)
    if a is None or b is None:
        return [Tensor(dtype, None)]
    if a == 0 or b == 0:
        return [Tensor(dtype, a + b)]
    return [Tensor(dtype, a + b - 2 if b >= 2 else a - 1)]


def _matmul(types, attrs):
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    a, b = ts[0].rank, ts[1].rank
    dtype = promote_dtype(ts[0].dtype, ts[1].dtype)
    if a is None or b is None:
        return [Tensor(dtype, None)]
    if a == 1 and b == 1:
        return [Tensor(dtype, 0)]
    if a == 1 or b == 1:
        return [Tensor(dtype, max(a, b) - 1)]
    return [Tensor(dtype, max(a, b))]


def _outer(types, attrs):
    ts = _tensors(types)
    return _untyped() if ts is None else [Tensor(promote_dtype(ts[0].dtype, ts[1].dtype), 2)]


def _first(types, attrs):
    """The type of the first operand (transpose, copy, setitem, zeros_like...)."""
    return [types[0]]


def _shape_len(t: Type | None) -> int | None:
    """How many dimensions a shape operand (an int or a tuple of ints) describes."""
    if isinstance(t, TupleT):
        return len(t.elts)
    if isinstance(t, Tensor) and t.rank == 0:
        return 1
    return None


def _from_shape(dtype: str, shape_operand: int = 0) -> TypeRule:
    def rule(types, attrs):
        if types[shape_operand] is None:
            return _untyped()
        return [Tensor(dtype, _shape_len(types[shape_operand]))]

    return rule


def _reshape(types, attrs):
    if types[0] is None or types[1] is None:
        return _untyped()
    return [Tensor(types[0].dtype, _shape_len(types[1]))]


def _sum_to(types, attrs):
    if types[0] is None or types[1] is None:
        return _untyped()
    return [Tensor(types[0].dtype, _shape_len(types[1]))]


def _expand_dims(types, attrs):
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    rank = ts[0].rank
    return [Tensor(ts[0].dtype, None if rank is None else rank + len(_axes(attrs) or ()))]


def _shape(types, attrs):
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    rank = ts[0].rank
    return [UNKNOWN if rank is None else TupleT((I64,) * rank)]


def _concatenate(types, attrs):
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    return [Tensor(promote_dtype(*(t.dtype for t in ts)), ts[0].rank)]


def _stack(types, attrs):
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    rank = ts[0].rank
    return [Tensor(promote_dtype(*(t.dtype for t in ts)), None if rank is None else rank + 1)]


def _arange(types, attrs):
    ts = _tensors(types)
    if ts is None:
        return _untyped()
    dtype = promote_dtype(*(t.dtype for t in ts))
    return [Tensor("i64" if dtype == "bool" else dtype, 1)]


def _getitem(types, attrs):
    if any(t is None for t in types):
        return _untyped()
    x, idx = types[0], list(types[1:])
    if isinstance(x, TupleT):  # indexing a tuple with a constant goes through tuple_get
        return [UNKNOWN]
    rank = x.rank
    advanced: list[int | None] = []
    pos = 0
    removed = added = 0
    for item in attrs["index"]:
        kind = item[0]
        if kind == "idx":
            t = idx[pos]
            pos += 1
            if isinstance(t, Tensor) and t.rank == 0:
                removed += 1
            elif isinstance(t, Tensor) and t.dtype == "bool":  # a mask: its axes become one
                advanced.append(1 if t.rank is not None else None)
                removed += t.rank or 0
            else:  # an integer array: advanced indexing
                advanced.append(t.rank if isinstance(t, Tensor) else None)
                removed += 1
        elif kind == "slice":
            pos += sum(item[1:])
        elif kind == "newaxis":
            added += 1
    if rank is None or any(a is None for a in advanced):
        return [Tensor(x.dtype, None)]
    adv_rank = max(advanced) if advanced else 0
    return [Tensor(x.dtype, rank - removed + added + adv_rank)]


def _tuple(types, attrs):
    if any(t is None for t in types):
        return _untyped()
    return [TupleT(tuple(types))]


def _tuple_get(types, attrs):
    t = types[0]
    if t is None:
        return _untyped()
    if isinstance(t, TupleT):
        return [t.elts[attrs["index"]]]
    return [UNKNOWN]


def _tuple_cat(types, attrs):
    if any(not isinstance(t, TupleT) for t in types):
        return _untyped()
    return [TupleT(tuple(e for t in types for e in t.elts))]


def _const(types, attrs):
    v = attrs["value"]
    if isinstance(v, bool):
        return [BOOL]
    if isinstance(v, int):
        return [I64]
    if isinstance(v, float):
        return [F64]
    if v is None:
        return [NONE]
    if isinstance(v, tuple):
        return [TupleT(tuple(_const((), {"value": x})[0] for x in v))]
    return [type_of_python_value(v)]  # a NumPy array or scalar (module-level constants)


def _none(types, attrs):
    return []


# --------------------------------------------------------------------------- the table
def _family(family: str, rule: TypeRule | None, names: str, attrs: tuple[str, ...] = (), **kw):
    for name in names.split():
        _register(OpDef(name, family, rule, attrs, **kw))


# constants and conversions
_register(OpDef("const", "const", _const, ("value",), doc="a Python constant"))
_family("cast", _cast("f64"), "float")
_family("cast", _cast("i64"), "int")
_family("cast", _cast("bool"), "bool")

# elementwise maps: float results
_family(
    "unary",
    _float_map,
    "sin cos tan exp exp2 expm1 log log2 log10 log1p sqrt tanh sinh cosh arctan arcsin arccos",
)
# elementwise maps keeping the dtype
_family("unary", _same_map, "neg abs square sign floor ceil round")
_family("unary", _cast("bool"), "not isfinite")

# elementwise binary ops (NumPy broadcasting)
_family("binary", _arith, "add sub mul floordiv mod pow maximum minimum")
_family("binary", _float_arith, "div logaddexp arctan2")
_family("compare", _compare, "lt le gt ge eq ne and or")
_register(OpDef("where", "ternary", _where))
_register(OpDef("clip", "ternary", _arith))

# reductions over ``axis`` (None, an int or a tuple), with ``keepdims``
_family("reduce", _reduce(lambda d: "i64" if d == "bool" else d), "sum prod max min", ("axis", "keepdims"))
_family("reduce", _reduce(lambda d: "f64"), "mean", ("axis", "keepdims"))
_family("reduce", _reduce(lambda d: "i64"), "argmax argmin", ("axis", "keepdims"))

# running sums along one axis (an int: the frontend flattens for ``axis=None``); ``reverse``
# sums from the end (the adjoint of a running sum)
_register(OpDef("cumsum", "scan", _scan, ("axis", "reverse"), doc="np.cumsum"))

# linear algebra
_register(OpDef("dot", "linalg", _dot))
_register(OpDef("matmul", "linalg", _matmul))
_register(OpDef("outer", "linalg", _outer))

# shapes: queries, views and rearrangements
_register(OpDef("shape", "shape", _shape, doc="x.shape"))
_family("shape", lambda t, a: [I64], "len size ndim")
_register(OpDef("transpose", "shape", _first, ("axes",)))
_register(OpDef("reshape", "shape", _reshape, doc="reshape(x, shape)"))
_register(OpDef("broadcast_to", "shape", _reshape, doc="broadcast_to(x, shape)"))
_register(OpDef("sum_to", "shape", _sum_to, doc="sum x down to shape: the adjoint of broadcasting"))
_register(OpDef("expand_dims", "shape", _expand_dims, ("axis",)))
_register(OpDef("concatenate", "shape", _concatenate, ("axis",)))
_register(OpDef("stack", "shape", _stack, ("axis",)))

# indexing: ``index`` describes the subscript, its int/array/slice-bound parts are operands.
# items: ("idx",) one operand; ("slice", has_lo, has_hi, has_step); ("newaxis",); ("ellipsis",)
_register(OpDef("getitem", "index", _getitem, ("index",), doc="x[index]"))
_register(OpDef("setitem", "index", _first, ("index",), doc="x with x[index] = v (a new value)"))
_register(OpDef("index_add", "index", _first, ("index",), doc="x with x[index] += v (a new value)"))

# creation
_family("create", _from_shape("f64"), "zeros ones empty")
_register(
    OpDef(
        "full", "create", lambda t, a: _from_shape(promote_dtype(t[1].dtype, "i64") if t[1] else "f64")(t, a)
    )
)
_family("create", _first, "zeros_like ones_like copy")
_register(OpDef("full_like", "create", _first))
_register(OpDef("arange", "create", _arange))
_register(OpDef("linspace", "create", lambda t, a: [Tensor("f64", 1)]))
_register(OpDef("eye", "create", lambda t, a: [Tensor("f64", 2)]))

# tuples
_register(OpDef("tuple", "tuple", _tuple))
_register(OpDef("tuple_get", "tuple", _tuple_get, ("index",)))
_register(OpDef("tuple_cat", "tuple", _tuple_cat, doc="a + b for tuples (shapes)"))

# automatic differentiation
_register(OpDef("stop_gradient", "ad", _first, doc="x, a constant for AD"))
_register(OpDef("custom_call", "ad", None, ("rule",), doc="a function with a user-defined derivative"))
_register(OpDef("custom_vjp_call", "ad", None, ("rule",), doc="the user's adjoint rule, called"))
_register(OpDef("custom_jvp_call", "ad", None, ("rule",), doc="the user's tangent rule, called"))
_register(OpDef("push", "tape", _none, ("tape",), pure=False, doc="save a value on a tape"))
_register(OpDef("pop", "tape", None, ("tape",), pure=False, doc="take the last value off a tape"))
_register(OpDef("undef", "ad", None, doc="a placeholder for a branch that defines nothing"))

# checks and notes
_register(OpDef("assert", "check", _none, ("message",), pure=False))
_register(
    OpDef("comment", "check", _none, ("text",), pure=False, doc="a note for readers of the generated code")
)
_register(OpDef("check_finite", "check", _none, ("what",), pure=False, doc="debug=True checks"))

# structured control flow; result types are joins of the regions' yields
_register(OpDef("if", "control", None, n_regions=2, doc="if cond {then} else {else}"))
_register(
    OpDef("for", "control", None, ("reverse",), n_regions=1, doc="for i in range(lo, hi, step) carry(...)")
)
_register(OpDef("while", "control", None, n_regions=2, doc="while carry(...) cond {...} body {...}"))
_register(OpDef("checkpoint", "control", None, n_regions=1, doc="a call whose body is recomputed in reverse"))

ELEMENTWISE_FAMILIES = ("unary", "binary", "compare", "ternary", "cast")

#: ops that never carry a derivative: their results are constants for AD
NON_DIFFERENTIABLE = frozenset(
    "int bool sign floor ceil round not isfinite floordiv lt le gt ge eq ne and or "
    "argmax argmin shape len size ndim zeros ones empty eye arange linspace zeros_like ones_like "
    "stop_gradient undef assert check_finite comment".split()
)

__all__ = ["OPS", "OpDef", "ELEMENTWISE_FAMILIES", "NON_DIFFERENTIABLE", "NoneT", "BOOL", "F64", "I64"]
