"""NumPy's pairwise summation, so that float sums are NumPy's to the last bit.

``np.add.reduce`` over a run of elements (a 1-D array, a row of the last axis, a
C-contiguous array as a whole) calls ``pairwise_sum`` (numpy/_core/src/umath/
loops_utils.h.src): fewer than 8 elements are added in order; up to 128 go to eight
accumulators, element ``i`` to accumulator ``i % 8``, combined as
``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``, the last ``n % 8`` added after;
longer runs split at ``n // 2`` rounded down to a multiple of 8, each half summed so.
The result is added to the reduction's initial 0.0.

Besides matching NumPy, the eight independent accumulators make the loop throughput-bound
(LLVM's SLP vectoriser packs them) where one running sum waits for each addition.

The recursion is run by a loop over an explicit stack of tasks (a range to sum, or "add the
top two partial sums"): the elements are read through a reader that may be a fused
elementwise expression, which a recursive helper function could not take.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from .elementwise import counted_loop
from .types import F64, I64

if TYPE_CHECKING:
    from .lower import Lowerer

_BLOCK = 128  # NumPy's PW_BLOCKSIZE
_LANES = 8
#: each split replaces a task by three and halves the range: 128 tasks cover 2**63 elements
_STACK = 128
#: the "add the top two partial sums" task
_COMBINE = -1


def _i(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def pairwise_sum(lw: Lowerer, n: ir.Value, read: Callable[[ir.Value], ir.Value]) -> ir.Value:
    """``0.0 + sum(read(i) for i in range(n))`` (f64 elements) in NumPy's pairwise order."""
    b = lw.builder
    starts, lengths = lw.alloca(ir.ArrayType(I64, _STACK)), lw.alloca(ir.ArrayType(I64, _STACK))
    sums = lw.alloca(ir.ArrayType(F64, _STACK))
    tasks, depth = lw.alloca(I64), lw.alloca(I64)

    def slot(array: ir.Value, k: ir.Value) -> ir.Value:
        return b.gep(array, [_i(0), k], inbounds=True)

    def push(start: ir.Value, length: ir.Value) -> None:
        t = b.load(tasks)
        b.store(start, slot(starts, t))
        b.store(length, slot(lengths, t))
        b.store(b.add(t, _i(1)), tasks)

    fn = b.function
    head, pop, combine, expand, split, leaf, done = (
        fn.append_basic_block(f"pairwise.{name}")
        for name in ("head", "pop", "combine", "expand", "split", "leaf", "done")
    )
    b.store(_i(0), tasks)
    b.store(_i(0), depth)
    push(_i(0), n)
    b.branch(head)

    b.position_at_end(head)
    t = b.load(tasks)
    b.cbranch(b.icmp_signed(">", t, _i(0)), pop, done)

    b.position_at_end(pop)
    t = b.sub(t, _i(1))
    start, length = b.load(slot(starts, t)), b.load(slot(lengths, t))
    b.store(t, tasks)
    b.cbranch(b.icmp_signed("==", length, _i(_COMBINE)), combine, expand)

    b.position_at_end(combine)
    d = b.sub(b.load(depth), _i(1))
    left, right = slot(sums, b.sub(d, _i(1))), slot(sums, d)
    b.store(b.fadd(b.load(left), b.load(right), flags=lw.fmf), left)
    b.store(d, depth)
    b.branch(head)

    b.position_at_end(expand)
    b.cbranch(b.icmp_signed(">", length, _i(_BLOCK)), split, leaf)

    b.position_at_end(split)  # the left half, then the right, then their sum (a stack: reversed)
    half = b.and_(b.lshr(length, _i(1)), _i(-_LANES))
    push(_i(0), _i(_COMBINE))
    push(b.add(start, half), b.sub(length, half))
    push(start, half)
    b.branch(head)

    b.position_at_end(leaf)
    total = _block_sum(lw, start, length, read)
    d = b.load(depth)
    b.store(total, slot(sums, d))
    b.store(b.add(d, _i(1)), depth)
    b.branch(head)

    b.position_at_end(done)
    return b.fadd(ir.Constant(F64, 0.0), b.load(slot(sums, _i(0))), flags=lw.fmf)


def _block_sum(lw: Lowerer, start: ir.Value, n: ir.Value, read: Callable[[ir.Value], ir.Value]) -> ir.Value:
    """NumPy's sum of at most 128 elements from ``start``.

    The accumulators start at -0.0, which adds exactly (so each starts as NumPy's, at its
    first element); below 8 elements they stay -0.0 and the elements are added in order
    after them, as NumPy adds them after 0.0 -- equal but for the sign of a zero, which the
    final ``0.0 +`` removes.
    """
    b = lw.builder
    accumulators = [lw.alloca(F64) for _ in range(_LANES)]
    for acc in accumulators:
        b.store(ir.Constant(F64, -0.0), acc)
    whole = b.and_(n, _i(-_LANES))

    def lanes(j: ir.Value) -> None:
        base = b.add(start, b.mul(j, _i(_LANES)))
        for k, acc in enumerate(accumulators):
            b.store(b.fadd(b.load(acc), read(b.add(base, _i(k))), flags=lw.fmf), acc)

    counted_loop(lw, b.lshr(whole, _i(3)), lanes, name="lanes")
    r = [b.load(acc) for acc in accumulators]
    while len(r) > 1:
        r = [b.fadd(r[k], r[k + 1], flags=lw.fmf) for k in range(0, len(r), 2)]
    total = lw.alloca(F64)
    b.store(r[0], total)
    rest = b.add(start, whole)
    counted_loop(
        lw,
        b.sub(n, whole),
        lambda i: b.store(b.fadd(b.load(total), read(b.add(rest, i)), flags=lw.fmf), total),
        name="rest",
    )
    return b.load(total)
