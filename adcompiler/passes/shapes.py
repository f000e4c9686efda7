"""Shape equality known without running: which values surely have the same shape.

Elementwise ops keep the shape of their array operands when those all share one; copies,
``setitem`` and ``zeros_like`` keep their operand's. This is what lets the adjoint of
``x * y`` skip summing back over broadcast axes when ``x`` and ``y`` are known alike.
"""

from __future__ import annotations

from ..ir.core import Value
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
