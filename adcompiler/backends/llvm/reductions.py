"""Reductions (``sum`` ... ``argmax``, ``sum_to``) and products (``dot``, ``matmul``, ``outer``).

All are loops that read their operand through a reader, so a fused elementwise operand is
computed inside the reduction loop. A full reduction accumulates in a stack slot (promoted
to a register by LLVM); a reduction over some axes accumulates into its output array.
Float sums over a run of elements -- a vector, the last axis, a C-contiguous array -- add
in NumPy's pairwise order (``pairwise``), so they equal NumPy's bit for bit.
Loop order follows the input's C order: ``matmul`` runs i, k, j so the inner loop walks rows;
products of f64 matrices go to BLAS when it is available (``blas``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from llvmlite import ir

from ...ir.core import Op
from . import blas
from .arrays import dims, fill, view
from .elementwise import (
    alloc_array,
    broadcast_shapes,
    broadcast_strides,
    counted_loop,
    element_ptr,
    guard_of,
    index_product,
    known_not_one,
    known_one,
    load,
    loop_nest,
    materialize,
    reader,
    shape_of,
    store,
)
from .pairwise import pairwise_sum, pairwise_sum_run
from .scalar import KERNELS, cast
from .types import I1, I64, SCALAR, ArrayVal, Deferred, Lowered, unsupported

if TYPE_CHECKING:
    from .lower import Lowerer

_ZERO, _ONE = ir.Constant(I64, 0), ir.Constant(I64, 1)
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1

#: reduction -> (combining kernel, identity for floats, identity for ints, needs a non-empty input)
_REDUCTIONS = {
    "sum": ("add", 0.0, 0, False),
    "mean": ("add", 0.0, 0, False),
    "prod": ("mul", 1.0, 1, False),
    "max": ("maximum", float("-inf"), _INT_MIN, True),
    "min": ("minimum", float("inf"), _INT_MAX, True),
}


def _axes(op: Op, rank: int) -> list[int]:
    axis = op.attrs.get("axis")
    if axis is None:
        return list(range(rank))
    return sorted({a % rank for a in (axis if isinstance(axis, (tuple, list)) else (axis,))})


def _reduce(name: str):
    kernel_name, float_init, int_init, nonempty = _REDUCTIONS[name]
    kernel = KERNELS[kernel_name]

    def rule(lw: Lowerer, op: Op) -> Lowered:
        x, xt, out = lw.get(op.operands[0]), op.operands[0].type, op.results[0].type
        acc_dtype = "f64" if name == "mean" else out.dtype
        if not xt.rank:
            return cast(lw, x, xt.dtype, out.dtype)
        shape = shape_of(x)
        axes = _axes(op, xt.rank)
        count = index_product(lw, [shape[k] for k in axes])
        if nonempty:
            lw.fail_if(
                lw.builder.icmp_signed("==", count, _ZERO),
                ValueError,
                f"zero-size array to reduction operation {name} which has no identity",
            )
        init = ir.Constant(SCALAR[acc_dtype], float_init if acc_dtype == "f64" else int_init)
        read = reader(lw, x, xt.rank)
        # NumPy's order for float sums (a cast operand NumPy sums in buffered chunks: not those;
        # nor sums exact in any order)
        pairwise = kernel_name == "add" and xt.dtype == "f64" and not _exact_in_any_order(op)
        dtypes = [acc_dtype, acc_dtype]

        def combine(acc: ir.Value, index: Sequence[ir.Value]) -> ir.Value:
            return kernel(lw, [acc, cast(lw, read(index), xt.dtype, acc_dtype)], dtypes, acc_dtype)

        def finish(total: ir.Value) -> ir.Value:
            return (
                lw.builder.fdiv(total, lw.builder.sitofp(count, total.type), flags=lw.fmf)
                if name == "mean"
                else total
            )

        if not out.rank:
            return finish(
                _flat_sum(lw, op, x, shape, read) if pairwise else _accumulate(lw, shape, init, combine)
            )
        keep = bool(op.attrs.get("keepdims"))
        result = alloc_array(lw, acc_dtype, [(_ONE if k in axes else d) for k, d in enumerate(shape)])
        inner = xt.rank - len(axes)
        if axes == list(range(inner, xt.rank)):  # trailing axes: each row folds in a register
            run = _runs(lw, x) if pairwise and len(axes) == 1 else None

            def row(outer: list[ir.Value]) -> None:
                if run is not None:
                    total = run(outer, shape[-1])
                elif pairwise and len(axes) == 1:
                    total = pairwise_sum(lw, shape[-1], lambda i: read([*outer, i]), _cost_of(lw, op))
                elif pairwise and not inner:  # every axis, keeping them
                    total = _flat_sum(lw, op, x, shape, read)
                else:
                    total = _accumulate(
                        lw, shape[inner:], init, lambda acc, index: combine(acc, outer + index)
                    )
                store(lw, result, outer + [_ZERO] * len(axes), finish(total))

            loop_nest(lw, shape[:inner], row)
        else:  # other axes: sweep the input once in memory order, adding into the result
            fill(lw, result, init)

            def visit(index: list[ir.Value]) -> None:
                at = [(_ZERO if k in axes else i) for k, i in enumerate(index)]
                store(lw, result, at, combine(load(lw, result, at), index))

            loop_nest(lw, shape, visit)
            if name == "mean":
                loop_nest(
                    lw, result.shape, lambda index: store(lw, result, index, finish(load(lw, result, index)))
                )
        if keep:
            return result
        kept = [k for k in range(xt.rank) if k not in axes]
        return ArrayVal(
            result.dtype,
            result.data,
            result.meminfo,
            [result.shape[k] for k in kept],
            [result.strides[k] for k in kept],
        )

    return rule


def _accumulate(lw: Lowerer, shape: Sequence[ir.Value], init: ir.Value, step: Callable) -> ir.Value:
    """Fold ``step(acc, index)`` over every index of ``shape`` in C order."""
    slot = lw.alloca(init.type)
    lw.builder.store(init, slot)
    loop_nest(lw, shape, lambda index: lw.builder.store(step(lw.builder.load(slot), index), slot))
    return lw.builder.load(slot)


def _exact_in_any_order(op: Op) -> bool:
    """Whether the f64 elements the sum ``op`` adds are each 0.0 or 1.0 (a bool made float,
    as the adjoint of ``max`` counts ties): every partial sum is then an integer below 2**53,
    so any order of the additions gives NumPy's pairwise sum, and one running sum will do --
    the pairwise recursion, inlined where the operand is fused, was a fifth of the LLVM IR
    of a softmax network's gradient."""
    x = op.operands[0].op
    return x is not None and x.name == "float" and x.operands[0].type.dtype == "bool"


def _cost_of(lw: Lowerer, op: Op) -> int:
    """What an element of the operand of the reduction ``op`` costs to read (see ``analysis``)."""
    x = op.operands[0].op
    return lw.plan.element_cost(x) if x in lw.plan.fused else 1


def _flat_sum(lw: Lowerer, op: Op, x: Lowered, shape: list[ir.Value], read: Callable) -> ir.Value:
    """The sum of every f64 element of ``x`` as NumPy's ``np.sum(x)`` adds them."""
    if len(shape) == 1:
        run = _runs(lw, x, halves=True)
        if run is not None:
            return run([], shape[0])
        return pairwise_sum(lw, shape[0], lambda i: read([i]), _cost_of(lw, op), halves=True)
    count = index_product(lw, shape)
    if isinstance(x, Deferred):  # NumPy sums the C-contiguous temporary it made: one run
        temp = materialize(lw, x)
        total = pairwise_sum_run(lw, temp.data, count, _ONE, halves=True)
        lw.decref(temp)
        return total
    # an array: one run if C-contiguous; otherwise NumPy's order depends on how its iterator
    # buffers, and the sum is taken in C order
    b = lw.builder
    contiguous, expected = ir.Constant(I1, 1), _ONE
    for d, s in zip(reversed(shape), reversed(x.strides)):
        fits = b.or_(b.icmp_signed("==", s, expected), b.icmp_signed("==", d, _ONE))
        contiguous, expected = b.and_(contiguous, fits), b.mul(expected, d)
    init = ir.Constant(SCALAR["f64"], 0.0)
    with b.if_else(contiguous) as (then, otherwise):
        with then:
            run = pairwise_sum_run(lw, x.data, count, _ONE, halves=True)
            run_block = b.block
        with otherwise:
            nested = _accumulate(
                lw, shape, init, lambda acc, index: KERNELS["add"](lw, [acc, read(index)], ["f64"] * 2, "f64")
            )
            nested_block = b.block
    total = b.phi(init.type)
    total.add_incoming(run, run_block)
    total.add_incoming(nested, nested_block)
    return total


def _runs(
    lw: Lowerer, x: Lowered, halves: bool = False
) -> Callable[[list[ir.Value], ir.Value], ir.Value] | None:
    """For an array ``x`` (None for a fused operand): ``run(outer, n)``, the pairwise sum of
    the ``n`` elements of ``x[*outer, :]``, broadcast as a reader reads them (``halves``: see
    ``pairwise_sum_run``)."""
    if not isinstance(x, ArrayVal):
        return None
    strides = broadcast_strides(lw, x)  # once, outside the loops over the rows
    rows = ArrayVal(x.dtype, x.data, x.meminfo, x.shape, strides)
    return lambda outer, n: pairwise_sum_run(
        lw, element_ptr(lw, rows, [*outer, _ZERO]), n, strides[-1], halves
    )


def _arg_extreme(better: str):
    """``argmax``/``argmin``: the position of the first best element, the first NaN winning;
    of the flattened array, or along ``axis`` into an array of positions (NumPy's rules)."""

    def rule(lw: Lowerer, op: Op) -> Lowered:
        x, xt, out = lw.get(op.operands[0]), op.operands[0].type, op.results[0].type
        shape, read = shape_of(x), reader(lw, x, xt.rank)
        axis = op.attrs.get("axis")
        empty = f"attempt to get {op.name} of an empty sequence"
        if axis is None:
            lw.fail_if(lw.builder.icmp_signed("==", index_product(lw, shape), _ZERO), ValueError, empty)
            where = _first_best(lw, better, xt.dtype, shape, read)
            # keepdims: the position in an array with an axis of length 1 per axis of x
            return fill(lw, alloc_array(lw, "i64", [_ONE] * out.rank), where) if out.rank else where
        if not xt.rank:
            raise unsupported(f"{op.name} of a scalar with an axis", op.loc)
        k = axis % xt.rank
        # NumPy raises when the axis is empty, even where the result would have no elements
        lw.fail_if(lw.builder.icmp_signed("==", shape[k], _ZERO), ValueError, empty)
        result = alloc_array(lw, "i64", shape[:k] + [_ONE] + shape[k + 1 :])

        def along(outer: list[ir.Value]) -> None:
            where = _first_best(
                lw, better, xt.dtype, [shape[k]], lambda i: read(outer[:k] + list(i) + outer[k:])
            )
            store(lw, result, outer[:k] + [_ZERO] + outer[k:], where)

        loop_nest(lw, shape[:k] + shape[k + 1 :], along)
        if op.attrs.get("keepdims"):
            return result
        return ArrayVal(
            "i64",
            result.data,
            result.meminfo,
            result.shape[:k] + result.shape[k + 1 :],
            result.strides[:k] + result.strides[k + 1 :],
        )

    return rule


def _first_best(
    lw: Lowerer,
    better: str,
    dtype: str,
    shape: Sequence[ir.Value],
    read: Callable[[list[ir.Value]], ir.Value],
) -> ir.Value:
    """The C-order position of the first element of ``shape`` (non-empty) that compares
    ``better`` than all before it, a NaN beating any number."""
    kind = "f64" if dtype == "f64" else "i64"
    best = lw.alloca(SCALAR[kind])
    where, position = lw.alloca(I64), lw.alloca(I64)
    b = lw.builder
    b.store(cast(lw, read([_ZERO] * len(shape)), dtype, kind), best)
    for slot in (where, position):
        b.store(_ZERO, slot)

    def visit(index: list[ir.Value]) -> None:
        b = lw.builder
        v, current, k = cast(lw, read(index), dtype, kind), b.load(best), b.load(position)
        if kind == "f64":
            nan_first = b.and_(b.fcmp_unordered("uno", v, v), b.fcmp_ordered("ord", current, current))
            wins = b.or_(b.fcmp_ordered(better, v, current), nan_first)
        else:
            wins = b.icmp_signed(better, v, current)
        b.store(b.select(wins, v, current), best)
        b.store(b.select(wins, k, b.load(where)), where)
        b.store(b.add(k, _ONE), position)

    loop_nest(lw, shape, visit)
    return lw.builder.load(where)


def _sum_to(lw: Lowerer, op: Op) -> Lowered:
    """Sum ``x`` down to ``shape``: leading axes and axes where ``shape`` has 1 are summed."""
    x, xt, out = lw.get(op.operands[0]), op.operands[0].type, op.results[0].type
    if not xt.rank:
        return cast(lw, x, xt.dtype, out.dtype)
    shape = shape_of(x)
    read = reader(lw, x, xt.rank)
    if not out.rank:
        if xt.dtype == out.dtype == "f64":
            return _flat_sum(lw, op, x, shape, read)
        return _accumulate(
            lw,
            shape,
            ir.Constant(SCALAR[out.dtype], 0),
            lambda acc, index: KERNELS["add"](
                lw, [acc, cast(lw, read(index), xt.dtype, out.dtype)], [out.dtype] * 2, out.dtype
            ),
        )
    target = _sum_to_target(lw, op, shape)
    b = lw.builder
    lead = xt.rank - len(target)
    # per axis: summed (index 0 in the result), kept (the same index), or decided at run time
    summed = [
        False if d is have or known_not_one(lw, d) else True if known_one(d) else b.icmp_signed("==", d, _ONE)
        for d, have in zip(target, shape[lead:])
    ]
    if not lead and all(s is False for s in summed) and xt.dtype == out.dtype:  # the identity: no copy
        if isinstance(x, Deferred):
            x = materialize(lw, x)
            return ArrayVal(x.dtype, x.data, x.meminfo, list(target), x.strides)
        return view(lw, x, x.data, list(target), x.strides)
    result = alloc_array(lw, out.dtype, target, zero=True)

    def visit(index: list[ir.Value]) -> None:
        at = [
            i if s is False else _ZERO if s is True else lw.builder.select(s, _ZERO, i)
            for s, i in zip(summed, index[lead:])
        ]
        total = KERNELS["add"](
            lw, [load(lw, result, at), cast(lw, read(index), xt.dtype, out.dtype)], [out.dtype] * 2, out.dtype
        )
        store(lw, result, at, total)

    loop_nest(lw, shape, visit)
    return result


def _sum_to_target(lw: Lowerer, op: Op, shape: list[ir.Value]) -> list[ir.Value]:
    """The target shape of a ``sum_to``, checked against the shape of the array summed."""
    target = dims(lw, op.operands[1])
    if len(target) > len(shape):
        raise unsupported("sum_to a shape of higher rank than the array", op.loc)
    b = lw.builder
    for d, have in zip(target, shape[len(shape) - len(target) :]):
        if d is not have:
            bad = b.and_(b.icmp_signed("!=", d, have), b.icmp_signed("!=", d, _ONE))
            lw.fail_if(bad, ValueError, "sum_to: the array does not broadcast to the target shape")
    return target


def _sum_to_deferred(lw: Lowerer, op: Op) -> Deferred:
    """A fused ``sum_to`` that keeps the rank: usually the identity, so its consumers read through.

    The adjoint of broadcasting sums the axes where the operand had length 1. An axis of the
    target known not to be 1 (or the operand's own dim) is never summed, one known to be 1
    always is; for the others, when none is summed at run time (the guard) an element is
    just the element read. Otherwise each element sums its axes in a small loop of its own,
    in the same order as the unfused rule adds them.
    """
    x, xt, out = lw.get(op.operands[0]), op.operands[0].type, op.results[0].type
    shape = shape_of(x)
    target = _sum_to_target(lw, op, shape)
    read = reader(lw, x, xt.rank)
    b = lw.builder
    kept = [d is have or known_not_one(lw, d) or known_one(have) for d, have in zip(target, shape)]
    summed_now = [not k and known_one(d) for k, d in zip(kept, target)]
    unknown = [not k and not s for k, s in zip(kept, summed_now)]
    guard = guard_of(lw, [x])
    for d, have, u in zip(target, shape, unknown):
        if u:
            cond = b.icmp_signed("==", d, have)
            guard = cond if guard is None else b.and_(guard, cond)
    zero = ir.Constant(SCALAR[out.dtype], 0)
    yes, no = ir.Constant(I1, 1), ir.Constant(I1, 0)
    # whether each axis is summed, and its extent: when the guard fails, and when it holds
    tested = [
        b.icmp_signed("==", d, _ONE) if u else yes if s else no
        for d, s, u in zip(target, summed_now, unknown)
    ]
    fixed = [yes if s else no for s in summed_now]
    when_held = (fixed, [have if s else _ONE for have, s in zip(shape, summed_now)])
    when_failed = (
        (tested, [b.select(c, have, _ONE) for c, have in zip(tested, shape)]) if any(unknown) else when_held
    )

    def element(index: Sequence[ir.Value]) -> ir.Value:
        dynamic = any(unknown) and not lw.guards_hold
        if not dynamic and not any(summed_now):
            return cast(lw, read(index), xt.dtype, out.dtype)
        summed, extents = when_failed if dynamic else when_held

        def add(acc: ir.Value, inner: Sequence[ir.Value]) -> ir.Value:
            at = [lw.builder.select(c, j, i) for c, j, i in zip(summed, inner, index)]
            value = cast(lw, read(at), xt.dtype, out.dtype)
            return KERNELS["add"](lw, [acc, value], [out.dtype] * 2, out.dtype)

        return _accumulate(lw, extents, zero, add)

    return Deferred(out.dtype, target, element, guard)


# --------------------------------------------------------------------------- products
def _product_rule(name: str):
    """``dot`` and ``matmul`` (``dot`` also takes scalars), NumPy's for every rank."""

    def rule(lw: Lowerer, op: Op) -> Lowered:
        (a, at), (c, ct) = ((lw.get(v), v.type) for v in op.operands)
        out = op.results[0].type
        if name == "dot" and (at.rank == 0 or ct.rank == 0):
            ra, rc = reader(lw, a, out.rank), reader(lw, c, out.rank)  # a scalar times an array
            dtypes = [at.dtype, ct.dtype]
            shape = shape_of(a) or shape_of(c)
            product = Deferred(
                out.dtype, shape, lambda index: KERNELS["mul"](lw, [ra(index), rc(index)], dtypes, out.dtype)
            )
            return materialize(lw, product) if out.rank else product.load([])
        sa, sc = shape_of(a), shape_of(c)
        # the axis summed over: the last of a, the last but one of c (its only one if a vector)
        lw.fail_if(
            lw.builder.icmp_signed("!=", sa[-1], sc[-min(ct.rank, 2)]),
            ValueError,
            f"{name}: shapes are not aligned",
        )
        dt = out.dtype
        if name == "dot" and ct.rank > 2:
            return _dot_stacks(lw, a, c, dt)
        if at.rank > 2 or ct.rank > 2:  # (dot of a stack by a matrix or a vector is matmul's)
            return _batched_product(lw, a, c, dt)
        if at.rank == 1 and ct.rank == 1:
            return _product_loops(lw, a, c, dt, None)
        result = alloc_array(lw, dt, sa[:-1] + sc[1:], zero=True)
        _matrix_product(lw, a, c, dt, result)
        return result

    return rule


def _matrix_product(lw: Lowerer, a: Lowered, c: Lowered, dt: str, result: ArrayVal) -> None:
    """``result = a @ c`` for operands of rank 1 or 2, not both vectors (``result`` zeroed)."""
    if isinstance(a, ArrayVal) and isinstance(c, ArrayVal) and a.dtype == c.dtype == "f64":
        blas.product(lw, a, c, result, lambda a, c, result: _product_loops(lw, a, c, dt, result))
    else:
        _product_loops(lw, a, c, dt, result)


def _batched_product(lw: Lowerer, a: ArrayVal, c: ArrayVal, dt: str) -> ArrayVal:
    """``matmul`` of stacks of matrices (or vectors): the 2-D product of each pair, the axes
    before the last two (the last one of a vector) broadcast as NumPy's."""
    core_a, core_c = min(a.rank, 2), min(c.rank, 2)
    lead_a, lead_c = a.rank - core_a, c.rank - core_c
    batch = broadcast_shapes(lw, [a.shape[:lead_a], c.shape[:lead_c]])
    rows = a.shape[-2:-1] if core_a == 2 else []
    cols = c.shape[-1:] if core_c == 2 else []
    result = alloc_array(lw, dt, batch + rows + cols, zero=True)
    # a batch axis of length 1 is read at 0 for every position along it: a zero stride
    stride_a, stride_c = broadcast_strides(lw, a)[:lead_a], broadcast_strides(lw, c)[:lead_c]

    def at(x: ArrayVal, strides: list[ir.Value], lead: int, b: list[ir.Value]) -> ArrayVal:
        """The matrix (or vector) of the stack ``x`` at batch position ``b``."""
        offset = _ZERO
        for i, s in zip(b[len(b) - lead :], strides):
            offset = lw.builder.add(offset, lw.builder.mul(i, s))
        ptr = lw.builder.gep(x.data, [offset], inbounds=True)
        return ArrayVal(x.dtype, ptr, x.meminfo, x.shape[lead:], x.strides[lead:])

    def each(b: list[ir.Value]) -> None:
        out = at(result, result.strides, len(batch), b)
        _matrix_product(lw, at(a, stride_a, lead_a, b), at(c, stride_c, lead_c, b), dt, out)

    loop_nest(lw, batch, each)
    return result


def _dot_stacks(lw: Lowerer, a: Lowered, c: Lowered, dt: str) -> ArrayVal:
    """``dot`` by an array of rank 3 or more, NumPy's: ``r[I, J, k] = sum_m a[I, m] c[J, m, k]``
    -- every row of ``a`` with every matrix of ``c`` (rare: a loop nest, no BLAS)."""
    sa, sc = shape_of(a), shape_of(c)
    result = alloc_array(lw, dt, sa[:-1] + sc[:-2] + sc[-1:])
    read_a, read_c = reader(lw, a, len(sa)), reader(lw, c, len(sc))
    lead = len(sa) - 1
    zero = ir.Constant(SCALAR[dt], 0)

    def element(index: list[ir.Value]) -> None:
        def term(acc: ir.Value, m: list[ir.Value]) -> ir.Value:
            x = cast(lw, read_a(index[:lead] + m), a.dtype, dt)
            y = cast(lw, read_c(index[lead:-1] + m + index[-1:]), c.dtype, dt)
            return KERNELS["add"](lw, [acc, KERNELS["mul"](lw, [x, y], [dt, dt], dt)], [dt, dt], dt)

        store(lw, result, index, _accumulate(lw, [sa[-1]], zero, term))

    loop_nest(lw, result.shape, element)
    return result


def _product_loops(lw: Lowerer, a: Lowered, c: Lowered, dt: str, result: ArrayVal | None) -> ir.Value | None:
    """``a @ c`` as a loop nest (operands of rank 1 or 2, already checked aligned): into
    ``result`` (zeroed), or returned when both are vectors."""
    at, ct = (v.dtype for v in (a, c))
    sa, sc = shape_of(a), shape_of(c)
    inner = sa[-1]
    read_a, read_c = reader(lw, a, len(sa)), reader(lw, c, len(sc))

    def term(acc: ir.Value, ia: list[ir.Value], ic: list[ir.Value]) -> ir.Value:
        x, y = cast(lw, read_a(ia), at, dt), cast(lw, read_c(ic), ct, dt)
        prod = KERNELS["mul"](lw, [x, y], [dt, dt], dt)
        return KERNELS["add"](lw, [acc, prod], [dt, dt], dt)

    zero = ir.Constant(SCALAR[dt], 0)
    if result is None:
        return _accumulate(lw, [inner], zero, lambda acc, k: term(acc, k, k))
    rows = sa[0] if len(sa) == 2 else _ONE

    def update(i: ir.Value, k: ir.Value, j: ir.Value) -> None:  # r[i, j] += a[i, k] c[k, j]
        at_ij = [i, j] if len(sa) == 2 else [j]
        ia = [i, k] if len(sa) == 2 else [k]
        store(lw, result, at_ij, term(load(lw, result, at_ij), ia, [k, j]))

    def row(i: ir.Value) -> None:  # y[i] = sum_k a[i, k] c[k]
        store(lw, result, [i], _accumulate(lw, [inner], zero, lambda acc, k: term(acc, [i, k[0]], k)))

    if len(sc) == 1:
        counted_loop(lw, sa[0], row)
    else:
        counted_loop(
            lw,
            rows,
            lambda i: counted_loop(lw, inner, lambda k: counted_loop(lw, sc[1], lambda j: update(i, k, j))),
        )
    return None


def _outer(lw: Lowerer, op: Op) -> ArrayVal:
    (a, at), (c, ct) = ((lw.get(v), v.type) for v in op.operands)
    if at.rank != 1 or ct.rank != 1:
        raise unsupported("outer of arrays that are not vectors", op.loc)
    dt = op.results[0].type.dtype
    ra, rc = reader(lw, a, 1), reader(lw, c, 1)
    result = alloc_array(lw, dt, [shape_of(a)[0], shape_of(c)[0]])

    def visit(index: list[ir.Value]) -> None:
        x, y = cast(lw, ra(index[:1]), at.dtype, dt), cast(lw, rc(index[1:]), ct.dtype, dt)
        store(lw, result, index, KERNELS["mul"](lw, [x, y], [dt, dt], dt))

    loop_nest(lw, result.shape, visit)
    return result


def _cumsum(lw: Lowerer, op: Op) -> ArrayVal:
    """A running sum along one axis, added in order as NumPy's ``cumsum`` adds (``reverse``:
    from the end), each line of the axis carried in a register."""
    x, xt, dt = lw.get(op.operands[0]), op.operands[0].type, op.result.type.dtype
    shape = shape_of(x)
    axis = op.attrs["axis"] % xt.rank
    n = shape[axis]
    read = reader(lw, x, xt.rank)
    result = alloc_array(lw, dt, shape)
    add = KERNELS["add"]
    b = lw.builder

    def line(others: list[ir.Value]) -> None:
        total = lw.alloca(SCALAR[dt])
        b.store(ir.Constant(SCALAR[dt], 0.0 if dt == "f64" else 0), total)

        def step(i: ir.Value) -> None:
            k = b.sub(b.sub(n, _ONE), i) if op.attrs.get("reverse") else i
            at = [*others[:axis], k, *others[axis:]]
            running = add(lw, [b.load(total), cast(lw, read(at), xt.dtype, dt)], [dt, dt], dt)
            b.store(running, total)
            store(lw, result, at, running)

        counted_loop(lw, n, step, name="scan")

    loop_nest(lw, shape[:axis] + shape[axis + 1 :], line)
    return result


LOWERINGS = {
    **{name: _reduce(name) for name in _REDUCTIONS},
    "argmax": _arg_extreme(">"),
    "argmin": _arg_extreme("<"),
    "sum_to": _sum_to,
    "dot": _product_rule("dot"),
    "matmul": _product_rule("matmul"),
    "outer": _outer,
    "cumsum": _cumsum,
}
FUSED_LOWERINGS = {"sum_to": _sum_to_deferred}
