"""Simplification, iterated to a fixed point: constant folding and algebraic identities,
common-subexpression elimination, dead-code elimination (including dead loop-carried
values and dead branch results).

Run on primal and derivative alike: the AD rules are written plainly (``g * 1.0`` is left
for this pass), and this pass is what makes the generated code read as if written by hand.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

from ..ir.core import Function, Op, Region, Value
from ..ir.types import Tensor
from .shapes import shape_key

# scalar constant folding: op name -> Python function
_FOLD: dict[str, Callable] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "neg": operator.neg,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
    "not": operator.not_,
    "float": float,
    "int": int,
    "bool": bool,
    "abs": abs,
    "maximum": max,
    "minimum": min,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "sin": math.sin,
    "cos": math.cos,
    "square": lambda x: x * x,
}


def simplify(fn: Function) -> Function:
    """Simplify ``fn`` in place until nothing changes; returns it."""
    for _ in range(10):
        changed = _Rewriter().region(fn.body, {})
        changed |= _fuse_tapes(fn.body)
        changed |= eliminate_dead(fn.body, set())
        if not changed:
            break
    return fn


def _const_value(v: Value):
    op = v.op
    if op is not None and op.name == "const":
        return op.attrs["value"]
    return _NOT_CONST


_NOT_CONST = object()


def _is_scalar_const(v: Value) -> bool:
    c = _const_value(v)
    return c is not _NOT_CONST and isinstance(c, (int, float, bool)) and not isinstance(c, type(None))


class _Rewriter:
    """Folding, identities and CSE over a region, replacing values through ``subst``."""

    def __init__(self) -> None:
        self.subst: dict[Value, Value] = {}
        self.changed = False

    def region(self, region: Region, available: dict) -> bool:
        scope = dict(available)  # CSE: an op in an enclosing region is visible here
        kept: list[Op] = []
        for op in region.ops:
            op.operands = [self.subst.get(v, v) for v in op.operands]
            for r in op.regions:
                self.region(r, scope)
            if op.name in _SHAPE_QUERIES and shape_key(op.operands[0]) is not op.operands[0]:
                # the shape of `a * b + c` is the shape of `a` (when known alike): no need to
                # keep the expression alive for its shape
                op.operands = [shape_key(op.operands[0])]
                self.changed = True
            replacement = self._rewrite(op, kept)
            if replacement is not None:
                self.subst[op.result] = replacement
                self.changed = True
                continue
            key = _cse_key(op)
            if key is not None:
                if key in scope:
                    for old, new in zip(op.results, scope[key].results):
                        self.subst[old] = new
                    self.changed = True
                    continue
                scope[key] = op
            kept.append(op)
        region.ops = kept
        region.yields = [self.subst.get(v, v) for v in region.yields]
        return self.changed

    def _rewrite(self, op: Op, kept: list[Op]) -> Value | None:
        """A value equal to ``op``'s single result, or None to keep the op."""
        if len(op.results) != 1 or not op.opdef.pure or op.regions:
            return None
        out = op.result
        args = op.operands
        if op.name in _FOLD and args and all(_is_scalar_const(a) for a in args):
            try:
                value = _FOLD[op.name](*(_const_value(a) for a in args))
            except (ArithmeticError, ValueError):
                return None
            if isinstance(out.type, Tensor) and out.type.dtype == "f64" and not isinstance(value, bool):
                value = float(value)
            folded = Value(out.type, out.hint)
            kept.append(Op(_const_op().opdef, [], [folded], {"value": value}, [], op.loc))
            return folded
        same_type = [a for a in args if a.type == out.type]

        def const_is(v: Value, c: float) -> bool:
            value = _const_value(v)
            return value is not _NOT_CONST and isinstance(value, (int, float)) and value == c

        if op.name in ("add", "sub", "mul") and len(args) == 2:  # two numbers spread over one shape
            spread = [_spread_over(a) for a in args]
            if spread[0] and spread[1] and spread[0][1] is spread[1][1]:
                combined = _append(kept, op, op.name, [spread[0][0], spread[1][0]], scalar=True)
                return _append(kept, op, "broadcast_to", [combined, spread[0][1]])
        if op.name in ("mul", "div"):
            scalar = _broadcast_scalar(args[0], args[1], out) if op.name == "mul" else None
            if scalar is not None:  # broadcast_to(c, shape(y)) * y  ->  c * y
                return _append(kept, op, "mul", [scalar, args[1]])
            scalar = _broadcast_scalar(args[1], args[0], out)
            if scalar is not None:
                return _append(kept, op, op.name, [args[0], scalar])
        if op.name == "mul":
            if const_is(args[1], 1) and args[0] in same_type:
                return args[0]
            if const_is(args[0], 1) and args[1] in same_type:
                return args[1]
        if op.name == "add":
            if const_is(args[1], 0) and args[0] in same_type:
                return args[0]
            if const_is(args[0], 0) and args[1] in same_type:
                return args[1]
        if op.name in ("sub", "div", "pow") and args[0] in same_type:
            if const_is(args[1], 0 if op.name == "sub" else 1):
                return args[0]
        if op.name == "where" and _is_scalar_const(args[0]):
            chosen = args[1] if _const_value(args[0]) else args[2]
            if chosen.type == out.type:
                return chosen
        if op.name == "floordiv" and const_is(args[1], 1) and args[0] in same_type:
            return args[0]
        if op.name == "add" and args[0] is args[1] and getattr(out.type, "dtype", None) == "f64":  # x + x
            return _append(kept, op, "mul", [_const_like(kept, op, 2.0), args[0]])
        if op.name == "neg" and args[0].op is not None and args[0].op.name == "neg":
            return args[0].op.operands[0]
        if op.name == "tuple_get" and args[0].op is not None and args[0].op.name == "tuple":
            return args[0].op.operands[op.attrs["index"]]
        if op.name in ("stop_gradient",) or (op.name in ("float",) and args[0].type == out.type):
            return args[0] if op.name == "float" else None
        if (
            op.name == "sum_to"
            and isinstance(out.type, Tensor)
            and args[0].type == out.type
            and out.type.rank == 0
        ):
            return args[0]
        if op.name == "reshape" and const_is(args[1], -1) and args[0].type == out.type:  # a vector, flattened
            return args[0]
        return None


def _broadcast_scalar(v: Value, other: Value, out: Value) -> Value | None:
    """``c`` when ``v`` is ``broadcast_to(c, s)`` of a scalar ``c`` and ``out = v (op) other``
    needs no broadcast for its shape.

    It is ``other`` that must surely have ``out``'s shape: dropping the broadcast leaves
    ``c (op) other``, shaped like ``other``. That ``v`` has ``out``'s shape is not enough:
    with ``other`` a number, ``c (op) other`` would be a number where an array is due.
    """
    op = v.op
    if op is None or op.name != "broadcast_to":
        return None
    c = op.operands[0]
    if not (isinstance(c.type, Tensor) and c.type.rank == 0):
        return None
    numbers = isinstance(out.type, Tensor) and out.type.rank == 0
    return c if numbers or shape_key(other) is shape_key(out) else None


def _spread_over(v: Value) -> tuple[Value, Value] | None:
    """(number, shape) when ``v`` is ``broadcast_to(number, shape)``."""
    op = v.op
    if op is None or op.name != "broadcast_to":
        return None
    c = op.operands[0]
    return (c, op.operands[1]) if isinstance(c.type, Tensor) and c.type.rank == 0 else None


def _append(kept: list[Op], like: Op, name: str, operands: list[Value], scalar: bool = False) -> Value:
    """A new op ``name`` standing for ``like``'s result (or for a number, with ``scalar``)."""
    from ..ir.ops import OPS

    out = like.result
    kind = Tensor(out.type.dtype, 0) if scalar else out.type
    new = Value(kind, None if scalar else out.hint)
    kept.append(Op(OPS[name], operands, [new], {}, [], like.loc))
    return new


def _const_like(kept: list[Op], like: Op, value: float) -> Value:
    from ..ir.ops import OPS
    from ..ir.types import F64

    c = Value(F64)
    kept.append(Op(OPS["const"], [], [c], {"value": value}, [], like.loc))
    return c


def _const_op() -> Op:
    from ..ir.ops import OPS

    return Op(OPS["const"], [], [], {"value": 0})


def _cse_key(op: Op):
    if not op.opdef.pure or op.regions or not op.results:
        return None
    try:
        attrs = tuple(sorted((k, _hashable(v)) for k, v in op.attrs.items()))
    except TypeError:
        return None
    if op.name == "const":
        value = op.attrs["value"]
        if not isinstance(value, (int, float, bool, type(None))):
            return None
        return ("const", type(value), attrs, str(op.result.type))
    operands = tuple(id(v) for v in op.operands)
    if op.name in _COMMUTATIVE:  # a * b and b * a are one value
        operands = tuple(sorted(operands))
    return (op.name, operands, attrs)


_SHAPE_QUERIES = frozenset(("shape", "size", "len", "ndim"))
_COMMUTATIVE = frozenset("add mul maximum minimum eq ne and or logaddexp".split())


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    hash(v)
    return v


# ----------------------------------------------------------------------------- tapes
def _fuse_tapes(region: Region) -> bool:
    """A pop right after the push of the same tape gives back the pushed value: drop both
    (what binomial checkpointing's restore-then-reverse leaves behind)."""
    changed = False
    for op in region.ops:
        for r in op.regions:
            changed |= _fuse_tapes(r)
    pending: dict[str, int] = {}  # tape -> position of its last push with nothing since
    drop: set[int] = set()
    subst: dict[Value, Value] = {}
    for k, op in enumerate(region.ops):
        touched = {o.attrs["tape"] for r in op.regions for o in r.walk() if o.name in ("push", "pop")}
        for tape in touched:
            pending.pop(tape, None)
        if op.name == "push":
            pending[op.attrs["tape"]] = k
        elif op.name == "pop":
            k_push = pending.pop(op.attrs["tape"], None)
            if k_push is not None:
                subst[op.result] = region.ops[k_push].operands[0]
                drop |= {k, k_push}
    if not drop:
        return changed
    region.ops = [op for k, op in enumerate(region.ops) if k not in drop]
    replace_uses(region, subst)
    return True


def replace_uses(region: Region, subst: dict[Value, Value]) -> None:
    """Use ``subst[v]`` for every use of ``v`` in ``region`` and the regions inside it."""
    for op in region.walk():
        op.operands = [subst.get(v, v) for v in op.operands]
    for r in _all_regions(region):
        r.yields = [subst.get(v, v) for v in r.yields]


def _all_regions(region: Region):
    yield region
    for op in region.ops:
        for r in op.regions:
            yield from _all_regions(r)


# ----------------------------------------------------------------------------- DCE
def eliminate_dead(region: Region, outer_live: set[int]) -> bool:
    """Remove ops whose results nobody needs; ``outer_live``: ids used after this region."""
    changed = False
    live: set[int] = set(outer_live) | {id(v) for v in region.yields}
    kept: list[Op] = []
    for op in reversed(region.ops):
        needed = any(id(r) in live for r in op.results) or not op.opdef.pure
        if op.regions:
            changed |= _trim_control(op, live)
            needed = needed or _has_effects(op)
        if not needed:
            changed = True
            continue
        kept.append(op)
        live.update(id(v) for v in op.operands)
        for r in op.regions:
            live |= _uses_in(r)
    kept.reverse()
    region.ops = kept
    return changed


def _has_effects(op: Op) -> bool:
    return any(not inner.opdef.pure for r in op.regions for inner in r.walk())


def _uses_in(region: Region) -> set[int]:
    """Ids of every value used inside ``region`` (free or not)."""
    used = {id(v) for v in region.yields}
    for op in region.walk():
        used.update(id(v) for v in op.operands)
        for r in op.regions:
            used.update(id(v) for v in r.yields)
    return used


def _trim_control(op: Op, live_after: set[int]) -> bool:
    """Drop results of ``if``/``for``/``while`` that nobody needs, then clean the regions."""
    changed = False
    keep = [k for k, r in enumerate(op.results) if id(r) in live_after]
    if op.name == "if":
        if len(keep) < len(op.results):
            changed = True
            op.results = [op.results[k] for k in keep]
            for r in op.regions:
                r.yields = [r.yields[k] for k in keep]
        for r in op.regions:
            changed |= eliminate_dead(r, set())
        return changed
    if op.name in ("for", "while"):
        body = op.regions[-1]
        first = 1 if op.name == "for" else 0
        carried = set(keep)
        while True:  # a carried value is live if a live one, the condition or an effect needs it
            needed = _needed_in_body(op, carried)
            more = {k for k, a in enumerate(body.args[first:]) if id(a) in needed} - carried
            if op.name == "while":
                more |= {
                    k for k, a in enumerate(op.regions[0].args) if id(a) in _uses_in(op.regions[0])
                } - carried
            if not more:
                break
            carried |= more
        drop = [k for k in range(len(op.results)) if k not in carried]
        if drop:
            changed = True
            kept = sorted(carried)
            n_fixed = 3 if op.name == "for" else 0
            op.operands = op.operands[:n_fixed] + [op.operands[n_fixed + k] for k in kept]
            op.results = [op.results[k] for k in kept]
            body.args = body.args[:first] + [body.args[first + k] for k in kept]
            body.yields = [body.yields[k] for k in kept]
            if op.name == "while":
                cond = op.regions[0]
                cond.args = [cond.args[k] for k in kept]
        for r in op.regions:
            changed |= eliminate_dead(r, set())
        return changed
    for r in op.regions:
        changed |= eliminate_dead(r, set())
    return changed


def _needed_in_body(op: Op, carried: set[int]) -> set[int]:
    """Ids of the values a loop body needs to yield the ``carried`` values and do its effects."""
    body = op.regions[-1]
    live = {id(body.yields[k]) for k in carried}
    for inner in reversed(body.ops):
        if (
            any(id(r) in live for r in inner.results)
            or not inner.opdef.pure
            or (inner.regions and _has_effects(inner))
        ):
            live.update(id(v) for v in inner.operands)
            for r in inner.regions:
                live |= _uses_in(r)
    return live
