"""Slices added to a new array of zeros, written in one pass.

The adjoint of reading ``x[a:b]`` adds the slice's cotangent into ``zeros_like(x)``, so a
function reading several slices of one array (Rosenbrock's ``x[1:]`` and ``x[:-1]``, a
stencil) gets a chain ``zeros -> index_add -> index_add ...``. Op by op, that is a zeroed
allocation and then one pass per slice over the result. ``analysis.Plan`` fuses such a chain:
each op of it becomes a :class:`~.types.Scatter` (the shape and the slices so far), and the
last one writes the array once, without zeroing it first. Along the sliced axis the result
splits into segments where slices begin and end; each segment is written by the loop for
the set of slices covering it, as ``0.0`` plus their elements in the order they were added
-- NumPy's sums, to the bit -- with each slice's value computed right there when it is a
fused Deferred.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from llvmlite import ir

from ...ir.core import Op
from .analysis import sliced_axis
from .arrays import LOWERINGS as ARRAY_LOWERINGS
from .arrays import dims, slice_bound_operand, slice_range
from .elementwise import (
    alloc_array,
    check_fits,
    counted_loop,
    guard_of,
    loop_nest,
    reader,
    shape_of,
    store,
)
from .parallel import split_loop
from .scalar import KERNELS, cast
from .types import F64, I64, ArrayVal, Lowered, Scatter, Slice

if TYPE_CHECKING:
    from .lower import Lowerer

_ZERO = ir.Constant(I64, 0)


def _zeros(lw: Lowerer, op: Op) -> Scatter:
    """A fused ``zeros`` or ``zeros_like``: nothing is allocated yet."""
    v = op.operands[0]
    return Scatter(dims(lw, v) if op.name == "zeros" else shape_of(lw.get(v)), [])


def _add_slice(lw: Lowerer, op: Op) -> Scatter:
    """A fused ``index_add`` (``analysis.sliced_axis`` says which axis its slice bounds)."""
    base = lw.get(op.operands[0])
    assert isinstance(base, Scatter)
    axis = sliced_axis(op)
    assert axis is not None
    items = op.attrs["index"]
    _, has_lo, has_hi, _ = items[axis] if axis < len(items) else ("slice", False, False, False)
    bounds = iter(op.operands[2:])  # only the bounded slice has operands
    lo = slice_bound_operand(lw, next(bounds)) if has_lo else None
    hi = slice_bound_operand(lw, next(bounds)) if has_hi else None
    start, length, _ = slice_range(lw, base.shape[axis], lo, hi, None)
    v = lw.get(op.operands[1])
    check_fits(lw, [*base.shape[:axis], length, *base.shape[axis + 1 :]], shape_of(v))
    term = Slice(v, op.operands[1].type.dtype, start, lw.builder.add(start, length))
    return Scatter(base.shape, [*base.terms, term], axis, guard_of(lw, [base, v]))


def _index_add(lw: Lowerer, op: Op) -> Lowered:
    """The last ``index_add`` of a fused chain writes the array; any other is NumPy's."""
    if isinstance(lw.get(op.operands[0]), Scatter):
        return _write(lw, _add_slice(lw, op))
    return ARRAY_LOWERINGS["index_add"](lw, op)


def _write(lw: Lowerer, s: Scatter) -> ArrayVal:
    out = alloc_array(lw, "f64", s.shape)  # not zeroed: every element is written below
    axis = s.axis
    assert axis is not None
    reads = [reader(lw, t.value, len(s.shape)) for t in s.terms]

    def element(covering: Sequence[int], index: list[ir.Value]) -> None:
        total = ir.Constant(F64, 0.0)
        for k in covering:
            t = s.terms[k]
            at = [*index[:axis], lw.builder.sub(index[axis], t.start), *index[axis + 1 :]]
            value = cast(lw, reads[k](at), t.dtype, "f64")
            total = KERNELS["add"](lw, [total, value], ["f64", "f64"], "f64")
        store(lw, out, index, total)

    def row(outer: list[ir.Value], lo: ir.Value, hi: ir.Value) -> None:
        """Positions ``lo`` to ``hi`` along the sliced axis, after the indices ``outer``."""
        _sweep(
            lw,
            lo,
            hi,
            s.terms,
            lambda covering, i: loop_nest(
                lw, s.shape[axis + 1 :], lambda inner: element(covering, [*outer, i, *inner])
            ),
        )

    def rows(lo: ir.Value, hi: ir.Value) -> None:
        """The part of the array whose first index is in ``range(lo, hi)``."""
        if axis == 0:
            row([], lo, hi)
        else:
            loop_nest(lw, s.shape[:axis], lambda outer: row(outer, _ZERO, s.shape[axis]), leading=(lo, hi))

    split_loop(lw, s.shape, rows)
    return out


def _sweep(
    lw: Lowerer,
    lo: ir.Value,
    n: ir.Value,
    terms: Sequence[Slice],
    body: Callable[[Sequence[int], ir.Value], None],
) -> None:
    """``body(covering, i)`` for each ``i`` in ``range(lo, n)``, ``covering`` the terms whose
    ``[start:stop]`` hold ``i``: one loop per segment of positions covered alike.

    At each segment start ``p``: the segment ends at the first bound of a term past ``p``
    (or at ``n``), and the terms covering it are those with ``start <= p < stop``, a bit
    each in the mask that selects its loop. At most two segments per term, plus one.
    """
    b = lw.builder
    fn = b.function
    pre = b.block
    head, split, latch, done = (
        fn.append_basic_block(f"scatter.{name}") for name in ("head", "split", "next", "end")
    )
    b.branch(head)
    b.position_at_end(head)
    p = b.phi(I64, "p")
    p.add_incoming(lo, pre)
    b.cbranch(b.icmp_signed("<", p, n), split, done)

    b.position_at_end(split)
    q, mask = n, _ZERO
    for k, t in enumerate(terms):
        for bound in (t.start, t.stop):
            q = b.select(b.and_(b.icmp_signed(">", bound, p), b.icmp_signed("<", bound, q)), bound, q)
        inside = b.and_(b.icmp_signed("<=", t.start, p), b.icmp_signed("<", p, t.stop))
        mask = b.or_(mask, b.shl(b.zext(inside, I64), ir.Constant(I64, k)))
    cases = [fn.append_basic_block(f"scatter.mask{m}") for m in range(2 ** len(terms))]
    switch = b.switch(mask, cases[0])
    for m, block in enumerate(cases):
        if m:
            switch.add_case(ir.Constant(I64, m), block)
        b.position_at_end(block)
        covering = [k for k in range(len(terms)) if m >> k & 1]
        counted_loop(lw, b.sub(q, p), lambda j, covering=covering: body(covering, lw.builder.add(p, j)))
        b.branch(latch)

    b.position_at_end(latch)
    p.add_incoming(q, latch)
    b.branch(head)
    b.position_at_end(done)


LOWERINGS = {"index_add": _index_add}
FUSED_LOWERINGS = {"zeros": _zeros, "zeros_like": _zeros, "index_add": _add_slice}
