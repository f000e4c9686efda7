"""Structured control flow -> basic blocks: ``if`` joins with phis, loops carry values in phis.

Carried values are flattened into leaves (an array is several phis), so LLVM sees plain
scalars it can keep in registers. Loops are emitted in rotated form (guard, body, latch
test), the shape LLVM's loop passes expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from llvmlite import ir

from ...ir.core import Op, Value
from . import tape
from .scalar import truth
from .types import I64, Lowered, flatten, leaf_types, unflatten

if TYPE_CHECKING:
    from .lower import Lowerer


def _phis(lw: Lowerer, results: Sequence[Value]) -> list[list[ir.PhiInstr]]:
    """One list of leaf phis per result value, at the current position."""
    return [[lw.builder.phi(t) for t in leaf_types(r.type)] for r in results]


def _add_incoming(
    phis: list[list[ir.PhiInstr]], values: Sequence[Lowered], results: Sequence[Value], block
) -> None:
    for group, value, r in zip(phis, values, results):
        for phi, leaf in zip(group, flatten(value, r.type)):
            phi.add_incoming(leaf, block)


def _values(phis: list[list[ir.PhiInstr]], results: Sequence[Value]) -> list[Lowered]:
    return [unflatten(r.type, iter(group)) for group, r in zip(phis, results)]


def _yields(lw: Lowerer, op: Op, region_index: int, args: Sequence[Lowered]) -> list[Lowered]:
    """Lower a region and convert its yields to the types of ``op``'s results."""
    region = op.regions[region_index]
    out = lw.lower_region(region, args)
    return [lw.coerce(v, y.type, r.type) for v, y, r in zip(out, region.yields, op.results)]


def _if(lw: Lowerer, op: Op) -> list[Lowered]:
    b = lw.builder
    cond = truth(lw, lw.get(op.operands[0]), op.operands[0].type.dtype)
    fn = b.function
    then_bb, else_bb, join_bb = (
        fn.append_basic_block("then"),
        fn.append_basic_block("else"),
        fn.append_basic_block("endif"),
    )
    b.cbranch(cond, then_bb, else_bb)
    arms = []
    for index, bb in enumerate((then_bb, else_bb)):
        b.position_at_end(bb)
        arms.append((_yields(lw, op, index, []), b.block))
        b.branch(join_bb)
    b.position_at_end(join_bb)
    phis = _phis(lw, op.results)
    for values, block in arms:
        _add_incoming(phis, values, op.results, block)
    return _values(phis, op.results)


def range_length(lw: Lowerer, lo: ir.Value, hi: ir.Value, step: ir.Value) -> ir.Value:
    """``len(range(lo, hi, step))`` for a non-zero ``step`` (also the length of a slice)."""
    b = lw.builder
    zero, one = ir.Constant(I64, 0), ir.Constant(I64, 1)
    up = b.icmp_signed(">", step, zero)
    span = b.select(up, b.sub(hi, lo), b.sub(lo, hi))
    stride = b.select(up, step, b.neg(step))
    count = b.add(b.udiv(b.sub(span, one), stride), one)
    return b.select(b.icmp_signed(">", span, zero), count, zero)


def _trip_count(lw: Lowerer, lo: ir.Value, hi: ir.Value, step: ir.Value) -> ir.Value:
    lw.fail_if(
        lw.builder.icmp_signed("==", step, ir.Constant(I64, 0)), ValueError, "range() arg 3 must not be zero"
    )
    return range_length(lw, lo, hi, step)


def _for(lw: Lowerer, op: Op) -> list[Lowered]:
    b = lw.builder
    lo, hi, step = (lw.index(v) for v in op.operands[:3])
    inits = [
        lw.coerce(lw.take(op, 3 + j), v.type, r.type)
        for j, (v, r) in enumerate(zip(op.operands[3:], op.results))
    ]
    n = _trip_count(lw, lo, hi, step)
    tape.reserve(lw, op, n)
    fn = b.function
    pre = b.block
    body_bb, exit_bb = fn.append_basic_block("for.body"), fn.append_basic_block("for.end")
    b.cbranch(b.icmp_signed(">", n, ir.Constant(I64, 0)), body_bb, exit_bb)

    b.position_at_end(body_bb)
    k = b.phi(I64, "k")
    k.add_incoming(ir.Constant(I64, 0), pre)
    carried = _phis(lw, op.results)
    _add_incoming(carried, inits, op.results, pre)
    position = b.sub(b.sub(n, ir.Constant(I64, 1)), k) if op.attrs.get("reverse") else k
    i = b.add(lo, b.mul(position, step))
    lw.loops[op.regions[0].args[0]] = op
    nexts = _yields(lw, op, 0, [i, *_values(carried, op.results)])
    latch = b.block
    k_next = b.add(k, ir.Constant(I64, 1))
    k.add_incoming(k_next, latch)
    _add_incoming(carried, nexts, op.results, latch)
    b.cbranch(b.icmp_signed("<", k_next, n), body_bb, exit_bb)

    b.position_at_end(exit_bb)
    results = _phis(lw, op.results)
    _add_incoming(results, inits, op.results, pre)
    _add_incoming(results, nexts, op.results, latch)
    return _values(results, op.results)


def _while(lw: Lowerer, op: Op) -> list[Lowered]:
    b = lw.builder
    inits = [
        lw.coerce(lw.take(op, j), v.type, r.type) for j, (v, r) in enumerate(zip(op.operands, op.results))
    ]
    fn = b.function
    pre = b.block
    cond_bb, body_bb, exit_bb = (fn.append_basic_block(f"while.{s}") for s in ("cond", "body", "end"))
    b.branch(cond_bb)

    b.position_at_end(cond_bb)
    carried = _phis(lw, op.results)
    _add_incoming(carried, inits, op.results, pre)
    state = _values(carried, op.results)
    (go,) = lw.lower_region(op.regions[0], state)
    b.cbranch(truth(lw, go, op.regions[0].yields[0].type.dtype), body_bb, exit_bb)

    b.position_at_end(body_bb)
    nexts = _yields(lw, op, 1, state)
    _add_incoming(carried, nexts, op.results, b.block)
    b.branch(cond_bb)

    b.position_at_end(exit_bb)
    return state


def _checkpoint(lw: Lowerer, op: Op) -> list[Lowered]:
    """A checkpointed call runs its body inline; recomputation is the AD pass's business."""
    args = [lw.take(op, i) for i in range(len(op.operands))]
    return _yields(lw, op, 0, args)


LOWERINGS = {"if": _if, "for": _for, "while": _while, "checkpoint": _checkpoint}
