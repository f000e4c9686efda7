"""Copying IR with a value map: used by inlining, specialisation and the AD sweeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .core import Function, Op, Region, Value

if TYPE_CHECKING:
    from .builder import Builder


def clone_value(v: Value) -> Value:
    return Value(v.type, v.hint)


def clone_op(op: Op, vmap: dict[Value, Value]) -> Op:
    """A copy of ``op`` (and its regions) whose operands are looked up in ``vmap``.

    Values not in ``vmap`` are used as they are (values of enclosing scopes that did not
    change). The copy's results are added to ``vmap``.
    """
    operands = [vmap.get(v, v) for v in op.operands]
    regions = [clone_region(r, vmap) for r in op.regions]
    results = [clone_value(r) for r in op.results]
    for old, new in zip(op.results, results):
        vmap[old] = new
    return Op(op.opdef, operands, results, dict(op.attrs), regions, op.loc)


def clone_region(region: Region, vmap: dict[Value, Value]) -> Region:
    args = [clone_value(a) for a in region.args]
    for old, new in zip(region.args, args):
        vmap[old] = new
    ops = [clone_op(op, vmap) for op in region.ops]
    return Region(args, ops, [vmap.get(v, v) for v in region.yields])


def clone_function(fn: Function, name: str | None = None) -> Function:
    vmap: dict[Value, Value] = {}
    body = clone_region(fn.body, vmap)
    return Function(name or fn.name, body, list(fn.param_names), fn.loc, list(fn.notes), dict(fn.defaults))


def clone_into(
    b: Builder, op: Op, lookup: Callable[[Value], Value], inner: dict[Value, Value] | None = None
) -> Op:
    """Append a copy of ``op`` whose free operands are found through ``lookup``; ``inner``
    (if given) receives the copy of every value defined inside ``op``'s regions."""
    inner = {} if inner is None else inner

    def get(v: Value) -> Value:
        return inner[v] if v in inner else lookup(v)

    def region(r: Region) -> Region:
        new = Region([Value(a.type, a.hint) for a in r.args])
        inner.update(zip(r.args, new.args))
        for o in r.ops:
            new.ops.append(op_copy(o))
        new.yields = [get(v) for v in r.yields]
        return new

    def op_copy(o: Op) -> Op:
        operands = [get(v) for v in o.operands]
        regions = [region(r) for r in o.regions]
        results = [Value(r.type, r.hint) for r in o.results]
        inner.update(zip(o.results, results))
        return Op(o.opdef, operands, results, dict(o.attrs), regions, o.loc)

    new_op = op_copy(op)
    b.region.ops.append(new_op)
    return new_op
