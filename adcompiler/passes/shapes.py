"""Shape equality known without running: which values surely have the same shape.

Elementwise ops keep the shape of their array operands when those all share one; copies,
``setitem`` and ``zeros_like`` keep their operand's. This is what lets the adjoint of
``x * y`` skip summing back over broadcast axes when ``x`` and ``y`` are known alike.

On top of it: which values are surely an array's length (:func:`is_length`), and which loop
indices are surely in bounds (:func:`in_bounds`, what lets the LLVM backend skip checks).
"""

from __future__ import annotations

from ..ir.core import Op, Value
from ..ir.types import Tensor

_SAME_AS_FIRST = ("copy", "zeros_like", "ones_like", "full_like", "setitem", "index_add")


def shape_key(v: Value, memo: dict[int, Value] | None = None) -> Value:
    """A representative value with the same shape as ``v`` (``v`` itself when unknown)."""
    memo = {} if memo is None else memo
    if id(v) not in memo:
        memo[id(v)] = _shape_key(v, memo)
    return memo[id(v)]


def _shape_key(v: Value, memo: dict[int, Value]) -> Value:
    op = v.op
    if op is None or not isinstance(v.type, Tensor):
        return v
    family = op.opdef.family
    if family in ("unary", "cast") or op.name in _SAME_AS_FIRST:
        return shape_key(op.operands[0], memo)
    if op.name == "broadcast_to":
        shape_op = op.operands[1].op
        if shape_op is not None and shape_op.name == "shape":
            return shape_key(shape_op.operands[0], memo)
    if family in ("binary", "compare", "ternary"):
        arrays = [x for x in op.operands if not (isinstance(x.type, Tensor) and x.type.rank == 0)]
        if not arrays or any(getattr(x.type, "rank", None) != v.type.rank for x in arrays):
            return v
        keys = {id(k): k for k in (shape_key(x, memo) for x in arrays)}
        if len(keys) == 1:
            return next(iter(keys.values()))
    return v


def same_shape(a: Value, b: Value) -> bool:
    return shape_key(a) is shape_key(b)


def is_length(n: Value, array: Value, axis: int = 0) -> bool:
    """Whether ``n`` is surely ``array.shape[axis]``."""
    op = array.op
    if op is not None and op.name in ("zeros", "ones", "empty", "full"):
        dims = op.operands[0]  # zeros(n), zeros((n, ...)) or zeros(z.shape)
        if dims is n:
            return axis == 0
        if dims.op is None or dims.op.name not in ("tuple", "shape"):
            return False
        if dims.op.name == "tuple":
            return axis < len(dims.op.operands) and dims.op.operands[axis] is n
        array = dims.op.operands[0]
    op = n.op
    if op is not None and op.name == "len":
        return axis == 0 and same_shape(op.operands[0], array)
    if op is not None and op.name == "tuple_get" and op.attrs["index"] == axis:
        shape = op.operands[0].op
        return shape is not None and shape.name == "shape" and same_shape(shape.operands[0], array)
    return False


def in_bounds(loop: Op, array: Value, axis: int) -> bool:
    """Whether each index ``loop`` runs through is in range for ``array``'s axis ``axis``:
    the loop is ``range(lo, n, step)`` with constants ``lo >= 0`` and ``step > 0`` and
    ``n = array.shape[axis]`` (``reversed`` or not)."""
    lo, step = int_const(loop.operands[0]), int_const(loop.operands[2])
    return (
        lo is not None
        and lo >= 0
        and step is not None
        and step > 0
        and is_length(loop.operands[1], array, axis)
    )


def int_const(v: Value) -> int | None:
    """The value of an integer constant (not a bool), else None."""
    op = v.op
    if op is None or op.name != "const" or type(op.attrs["value"]) is not int:
        return None
    return op.attrs["value"]
