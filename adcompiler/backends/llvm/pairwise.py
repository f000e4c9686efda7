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
top two partial sums"); a run of at most 128 elements (a row, say) skips the stack.

A run in memory (an array, a row of one) is summed by one helper function,
``adc_pairwise_f64(data, n, stride)``, which every such sum calls: inlined at each sum,
the stack, the eight lanes and the rest were a third of the LLVM IR of a network's
gradient. It is compiled once, in the library module (``library``), except for code
compiled with ``fastmath=True``, whose additions may be reordered: there it is the module's. A fused elementwise operand (``np.sum(x * y)``) has no memory to point at, so
its sum runs the stack where it is, and each leaf reads the elements itself: a cheap one
(``x * y``) once per lane, as the helper reads memory; a costly one (an ``exp``, a longer
expression) would be nine copies of it that way, so the leaf computes its elements into a
buffer on the stack instead -- one copy of the expression, in a loop LLVM vectorises --
and sums the buffer with the helper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from . import parallel
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
_HELPER = "adc_pairwise_f64"

Read = Callable[[ir.Value], ir.Value]
_QUAD = ir.VectorType(F64, 4)

#: the most a fused element may cost (see ``analysis``) to be read by each lane itself
_CHEAP = 4


def _i(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def pairwise_sum_run(
    lw: Lowerer, data: ir.Value, n: ir.Value, stride: ir.Value, halves: bool = False
) -> ir.Value:
    """``0.0 + sum(data[i * stride] for i in range(n))`` (f64 elements) in NumPy's pairwise
    order; ``halves``: when large, on two threads (see :func:`_on_threads`)."""

    def part(start: ir.Value, length: ir.Value) -> ir.Value:
        b = lw.builder  # the chunk's, when emitted for threads
        return b.call(sum_function(lw), [b.gep(data, [b.mul(start, stride)], inbounds=True), length, stride])

    return _on_threads(lw, n, 1, part) if halves else lw.builder.call(sum_function(lw), [data, n, stride])


def pairwise_sum(lw: Lowerer, n: ir.Value, read: Read, cost: int, halves: bool = False) -> ir.Value:
    """``0.0 + sum(read(i) for i in range(n))`` (f64 elements, computed by ``read``, each
    costing ``cost`` cheap operations: see ``analysis``) in NumPy's pairwise order;
    ``halves``: when large, on two threads (see :func:`_on_threads`)."""
    if halves:
        return _on_threads(
            lw,
            n,
            cost,
            lambda start, length: pairwise_sum(lw, length, lambda i: read(lw.builder.add(start, i)), cost),
        )
    if cost <= _CHEAP:
        return _stack_sum(lw, n, lambda start, length: _block_sum(lw, start, length, read))
    buffer = lw.alloca(ir.ArrayType(F64, _BLOCK))
    first = lw.builder.gep(buffer, [_i(0), _i(0)], inbounds=True)

    def leaf(start: ir.Value, length: ir.Value) -> ir.Value:
        b = lw.builder
        counted_loop(
            lw,
            length,
            lambda i: b.store(read(b.add(start, i)), b.gep(buffer, [_i(0), i], inbounds=True)),
            name="leaf",
        )
        return pairwise_sum_run(lw, first, length, _i(1))  # at most one block: its sum

    return _stack_sum(lw, n, leaf)


def _on_threads(
    lw: Lowerer, n: ir.Value, cost: int, part: Callable[[ir.Value, ir.Value], ir.Value]
) -> ir.Value:
    """The pairwise sum of ``range(n)``, ``part(start, length)`` giving ``0.0 +`` the pairwise
    sum of a range: when the sum is large (``parallel``), its two halves on two threads.

    The pairwise sum of more than 128 elements is the sum of its halves' pairwise sums, split
    at ``n // 2`` rounded down to a multiple of 8; each ``part`` adds ``0.0`` first, which
    changes only a ``-0.0``, and so changes the sum of the two only where both are ``-0.0``
    -- where the ``0.0 +`` of the whole removes the difference. So the result is the serial
    one to the bit. (The chunk sums ``range(n)`` whole, in one part, when the sum is small.)
    """
    b = lw.builder
    if parallel.asking(lw):
        large = b.and_(parallel.large(lw, n, cost), b.icmp_signed(">", n, _i(_BLOCK)))
        return parallel.ask(lw, large, lambda: part(_i(0), n))
    if not parallel.outlining(lw):
        return part(_i(0), n)
    threaded = parallel.large(lw, n, cost)
    threaded = b.and_(threaded, b.icmp_signed(">", n, _i(_BLOCK)))  # else no halves to add
    half = b.and_(b.lshr(n, _i(1)), _i(-_LANES))
    sums = lw.alloca(ir.ArrayType(F64, 2))

    def body(lo: ir.Value, hi: ir.Value) -> None:
        def task(t: ir.Value) -> None:  # the whole when small; else the half t
            b = lw.builder  # the chunk's
            second = b.icmp_signed("==", t, _i(1))
            start = b.select(second, half, _i(0))
            length = b.select(threaded, b.select(second, b.sub(n, half), half), n)
            b.store(part(start, length), b.gep(sums, [_i(0), t], inbounds=True))

        counted_loop(lw, hi, task, name="halves", start=lo)

    if not parallel.split(lw, _i(1), threaded, body, threaded_n=_i(2)):
        return part(_i(0), n)
    first = b.load(b.gep(sums, [_i(0), _i(0)], inbounds=True))
    second = b.load(b.gep(sums, [_i(0), _i(1)], inbounds=True))
    both = b.fadd(ir.Constant(F64, 0.0), b.fadd(first, second, flags=lw.fmf), flags=lw.fmf)
    return b.select(threaded, both, first)


def sum_function(lw: Lowerer) -> ir.Function:
    """The module's ``double adc_pairwise_f64(double* data, i64 n, i64 stride)``."""
    fn = lw.module.globals.get(_HELPER)
    if fn is not None:
        return fn
    fn = ir.Function(lw.module, ir.FunctionType(F64, [F64.as_pointer(), I64, I64]), _HELPER)
    for attribute in ("noinline", "nounwind", "readonly", "argmemonly"):  # what its callers may assume
        fn.attributes.add(attribute)
    if not lw.rt.defines(fn):
        return fn
    data, n, stride = fn.args
    outer_rare, lw.in_rare_code = lw.in_rare_code, False
    try:
        with lw.out_of_line(fn):
            b = lw.builder

            def at(i: ir.Value, step: ir.Value | None) -> ir.Value:
                return b.load(b.gep(data, [i if step is None else b.mul(i, step)], inbounds=True))

            def leaf(start: ir.Value, length: ir.Value) -> ir.Value:
                # a contiguous run (the usual one) reads whole vectors; a strided one, elements
                with b.if_else(b.icmp_signed("==", stride, _i(1))) as (contiguous, strided):
                    with contiguous:
                        dense = _block_sum(lw, start, length, lambda i: at(i, None), _quads(lw, data))
                        dense_block = b.block
                    with strided:
                        sparse = _block_sum(lw, start, length, lambda i: at(i, stride))
                        sparse_block = b.block
                total = b.phi(F64)
                total.add_incoming(dense, dense_block)
                total.add_incoming(sparse, sparse_block)
                return total

            b.ret(_stack_sum(lw, n, leaf))
    finally:
        lw.in_rare_code = outer_rare
    return fn


def _stack_sum(lw: Lowerer, n: ir.Value, leaf: Callable[[ir.Value, ir.Value], ir.Value]) -> ir.Value:
    """``0.0 +`` the pairwise sum of ``range(n)``, ``leaf(start, length)`` summing each block."""
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
    big, head, pop, combine, expand, split, leaf_bb, done = (
        fn.append_basic_block(f"pairwise.{name}")
        for name in ("big", "head", "pop", "combine", "expand", "split", "leaf", "done")
    )
    b.store(_i(0), tasks)
    b.store(_i(0), depth)
    first = b.block
    b.cbranch(b.icmp_signed(">", n, _i(_BLOCK)), big, leaf_bb)  # one block (a row, say): no stack

    b.position_at_end(big)
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
    b.cbranch(b.icmp_signed(">", length, _i(_BLOCK)), split, leaf_bb)

    b.position_at_end(split)  # the left half, then the right, then their sum (a stack: reversed)
    half = b.and_(b.lshr(length, _i(1)), _i(-_LANES))
    push(_i(0), _i(_COMBINE))
    push(b.add(start, half), b.sub(length, half))
    push(start, half)
    b.branch(head)

    b.position_at_end(leaf_bb)
    leaf_start, leaf_length = b.phi(I64), b.phi(I64)
    leaf_start.add_incoming(_i(0), first)
    leaf_start.add_incoming(start, expand)
    leaf_length.add_incoming(n, first)
    leaf_length.add_incoming(length, expand)
    total = leaf(leaf_start, leaf_length)
    d = b.load(depth)
    b.store(total, slot(sums, d))
    b.store(b.add(d, _i(1)), depth)
    b.branch(head)

    b.position_at_end(done)
    return b.fadd(ir.Constant(F64, 0.0), b.load(slot(sums, _i(0))), flags=lw.fmf)


def _quads(lw: Lowerer, data: ir.Value) -> Callable[[ir.Value], ir.Value]:
    """``quad(i)``: the four elements ``data[i:i + 4]`` as one vector."""
    b = lw.builder

    def quad(i: ir.Value) -> ir.Value:
        return b.load(b.bitcast(b.gep(data, [i], inbounds=True), _QUAD.as_pointer()), align=8)

    return quad


def _block_sum(
    lw: Lowerer, start: ir.Value, n: ir.Value, read: Read, quad: Callable[[ir.Value], ir.Value] | None = None
) -> ir.Value:
    """NumPy's sum of at most 128 elements from ``start``.

    The accumulators start at -0.0, which adds exactly (so each starts as NumPy's, at its
    first element); below 8 elements they stay -0.0 and the elements are added in order
    after them, as NumPy adds them after 0.0 -- equal but for the sign of a zero, which the
    final ``0.0 +`` removes.

    With ``quad`` (elements in memory, read four at a time) the eight accumulators are two
    vectors of four lanes, lane ``k`` of the pair adding the elements ``i % 8 == k``: the
    same additions in the same order, written as LLVM's SLP vectoriser would pack them --
    left to it, packing them was a fifth of the work of compiling the sum's helper.
    """
    b = lw.builder
    whole = b.and_(n, _i(-_LANES))
    if quad is None:
        accumulators = [lw.alloca(F64) for _ in range(_LANES)]
        for acc in accumulators:
            b.store(ir.Constant(F64, -0.0), acc)

        def lanes(j: ir.Value) -> None:
            base = b.add(start, b.mul(j, _i(_LANES)))
            for k, acc in enumerate(accumulators):
                b.store(b.fadd(b.load(acc), read(b.add(base, _i(k))), flags=lw.fmf), acc)

        counted_loop(lw, b.lshr(whole, _i(3)), lanes, name="lanes")
        r = [b.load(acc) for acc in accumulators]
    else:
        halves = [lw.alloca(_QUAD) for _ in range(2)]
        for half in halves:
            b.store(ir.Constant(_QUAD, [ir.Constant(F64, -0.0)] * 4), half)

        def quads(j: ir.Value) -> None:
            base = b.add(start, b.mul(j, _i(_LANES)))
            for h, half in enumerate(halves):
                b.store(b.fadd(b.load(half), quad(b.add(base, _i(4 * h))), flags=lw.fmf), half)

        counted_loop(lw, b.lshr(whole, _i(3)), quads, name="lanes")
        r = [b.extract_element(b.load(half), _i(k)) for half in halves for k in range(4)]
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
