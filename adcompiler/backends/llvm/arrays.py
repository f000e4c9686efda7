"""Arrays: indexing and views, functional updates written in place, creation, shape ops.

Basic indexing (ints, slices, ``None``, ``...``) makes a view: the same data and meminfo with
new shape and strides. ``setitem`` writes in place when it holds the only reference to an
array this function allocated -- its operand at its last use (``Plan.movable``) and a
reference count of 1, proven before lowering (``uniqueness``) or tested at run time -- and
copies once otherwise, so the caller's arrays are never written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from llvmlite import ir

from ...ir.core import Op, Value
from ...ir.types import NoneT, Tensor, TupleT
from . import masks
from .control import range_length
from .elementwise import (
    Reader,
    alloc_array,
    assign,
    broadcast_shapes,
    check_fits,
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
from .scalar import KERNELS, cast
from .types import ELEMENT, I1, I8P, I64, ArrayVal, Deferred, Lowered, unsupported

if TYPE_CHECKING:
    from .lower import Lowerer

_ZERO, _ONE = ir.Constant(I64, 0), ir.Constant(I64, 1)


# --------------------------------------------------------------------------- helpers
def constant_array(lw: Lowerer, value: np.ndarray) -> Lowered:
    """A module constant as read-only global data (never owned, so never written)."""
    dtype = {"f": "f64", "i": "i64", "b": "bool"}[value.dtype.kind]
    if value.ndim == 0:
        return ir.Constant({"f64": ir.DoubleType(), "i64": I64, "bool": I1}[dtype], value.item())
    flat = np.ascontiguousarray(value).ravel()
    elem = ELEMENT[dtype]
    init = ir.Constant(
        ir.ArrayType(elem, max(flat.size, 1)), [int(x) if dtype != "f64" else float(x) for x in flat] or [0]
    )
    glob = ir.GlobalVariable(lw.module, init.type, lw.module.get_unique_name("adc_const"))
    glob.global_constant, glob.linkage, glob.initializer = True, "internal", init
    data = lw.builder.gep(glob, [ir.Constant(I64, 0), ir.Constant(I64, 0)], inbounds=True)
    strides = [int(np.prod(value.shape[k + 1 :], dtype=np.int64)) for k in range(value.ndim)]
    return ArrayVal(
        dtype,
        data,
        ir.Constant(I8P, None),
        [ir.Constant(I64, d) for d in value.shape],
        [ir.Constant(I64, s) for s in strides],
    )


def copy_array(lw: Lowerer, a: ArrayVal) -> ArrayVal:
    return materialize(lw, a)


def all_finite(lw: Lowerer, a: ArrayVal) -> ir.Value:
    ok = lw.alloca(I1)
    lw.builder.store(ir.Constant(I1, 1), ok)
    finite = KERNELS["isfinite"]

    def visit(index: list[ir.Value]) -> None:
        b = lw.builder
        b.store(b.and_(b.load(ok), finite(lw, [load(lw, a, index)], ["f64"], "bool")), ok)

    loop_nest(lw, a.shape, visit)
    return lw.builder.load(ok)


def dims(lw: Lowerer, v: Value) -> list[ir.Value]:
    """A shape operand (an int or a tuple of ints) as a list of i64, checked non-negative."""
    out = _shape_operand(lw, v)
    if v.op is not None and v.op.name == "shape":  # an array's own shape: never negative
        return out
    for d in out:
        lw.fail_if(lw.builder.icmp_signed("<", d, _ZERO), ValueError, "negative dimensions are not allowed")
    return out


def fill(lw: Lowerer, a: ArrayVal, value: ir.Value) -> ArrayVal:
    loop_nest(lw, a.shape, lambda index: store(lw, a, index, value))
    return a


def view(
    lw: Lowerer, a: ArrayVal, data: ir.Value, shape: list[ir.Value], strides: list[ir.Value]
) -> ArrayVal:
    """A view into ``a``'s memory: it holds its own reference to the block."""
    lw.rt.incref(lw.builder, a.meminfo)
    return ArrayVal(a.dtype, data, a.meminfo, shape, strides)


# --------------------------------------------------------------------------- indexing
def _wrap_index(lw: Lowerer, i: ir.Value, n: ir.Value, axis: int) -> ir.Value:
    """Python's negative indices, then (unless disabled) the bounds check."""
    b = lw.builder
    i = b.select(b.icmp_signed("<", i, _ZERO), b.add(i, n), i)
    if lw.boundscheck:
        lw.fail_if(b.icmp_unsigned(">=", i, n), IndexError, f"index out of bounds for axis {axis}")
    return i


def _slice_bound(lw: Lowerer, v: ir.Value, n: ir.Value, down: ir.Value) -> ir.Value:
    """``PySlice_AdjustIndices`` for one bound given by the user."""
    b = lw.builder
    v = b.select(b.icmp_signed("<", v, _ZERO), b.add(v, n), v)
    low = b.select(down, ir.Constant(I64, -1), _ZERO)
    high = b.select(down, b.sub(n, _ONE), n)
    v = b.select(b.icmp_signed("<", v, _ZERO), low, v)
    return b.select(b.icmp_signed(">=", v, n), high, v)


def slice_range(lw: Lowerer, n: ir.Value, lo: ir.Value | None, hi: ir.Value | None, step: ir.Value | None):
    """(start, length, step) of ``range(n)[lo:hi:step]``."""
    b = lw.builder
    if step is None:
        step = _ONE
    else:
        lw.fail_if(b.icmp_signed("==", step, _ZERO), ValueError, "slice step cannot be zero")
    down = b.icmp_signed("<", step, _ZERO)
    start = _slice_bound(lw, lo, n, down) if lo is not None else b.select(down, b.sub(n, _ONE), _ZERO)
    stop = _slice_bound(lw, hi, n, down) if hi is not None else b.select(down, ir.Constant(I64, -1), n)
    length = _trimmed_length(lw, n, lo, hi, step) or range_length(lw, start, stop, step)
    return start, length, step


def _trimmed_length(
    lw: Lowerer, n: ir.Value, lo: ir.Value | None, hi: ir.Value | None, step: ir.Value | None
) -> ir.Value | None:
    """The length of a slice that trims constants off the ends of a parameter's axis
    (``x[1:]``, ``x[:-1]``, ``x[1:-1]``, ``x[2:]``): ``max(n - c, 0)``, made once per ``c`` in
    the entry block and shared. Slices of the same length then have the very same dim, so
    ``x[1:] - x[:-1]`` needs no broadcast check and its adjoint's ``sum_to`` no run-time
    version. None for any other slice."""
    head = 0 if lo is None else lo.constant if isinstance(lo, ir.Constant) else None
    tail = 0 if hi is None else hi.constant if isinstance(hi, ir.Constant) else None
    if head is None or tail is None or head < 0 or tail > 0 or (hi is not None and tail == 0):
        return None
    if step is not None and not (isinstance(step, ir.Constant) and step.constant == 1):
        return None
    c = head - tail
    if c == 0:  # the whole axis
        return n
    if isinstance(n, ir.Constant):
        return ir.Constant(I64, max(n.constant - c, 0))
    if not (isinstance(n, ir.Argument) and n.parent is lw.entry_builder.function):
        return None
    key = (id(n), c)
    if key not in lw.trimmed:
        b, by = lw.entry_builder, ir.Constant(I64, c)
        lw.trimmed[key] = b.select(b.icmp_signed(">", n, by), b.sub(n, by), _ZERO)
    return lw.trimmed[key]


class Gather:
    """The integer arrays of an index (NumPy's advanced indexing), after its basic part.

    ``x[index]`` is, at each position ``b`` of ``batch`` (the arrays' shapes broadcast), the
    basic window -- the slices and new axes -- at an offset made of the arrays' elements at
    ``b``, each a position along its axis (wrapped and checked like an int). The batch axes
    go where the arrays and ints of the index stand when they are adjacent; else first.
    """

    __slots__ = ("batch", "at", "arrays", "made")

    def __init__(
        self,
        batch: list[ir.Value],
        at: int,
        arrays: list[tuple[Reader, ir.Value, ir.Value, int]],
        made: list[ArrayVal],
    ) -> None:
        self.batch = batch
        #: how many window axes come before the batch axes in the result
        self.at = at
        #: per array: its reader over ``batch``, and the length and stride of the axis it indexes
        self.arrays = arrays
        #: arrays made for the index (a mask's positions), released after :meth:`visit`
        self.made = made

    def shape(self, window: Sequence[ir.Value]) -> list[ir.Value]:
        """The shape of ``x[index]``, given the shape of the basic window."""
        return [*window[: self.at], *self.batch, *window[self.at :]]

    def visit(self, lw: Lowerer, window: ArrayVal, body: Callable[[ArrayVal, list[ir.Value]], None]) -> None:
        """``body(window at b, b)`` for each position ``b`` of the batch, in C order."""

        def at(b: list[ir.Value]) -> None:
            offset = _ZERO
            for read, n, stride, axis in self.arrays:
                offset = lw.builder.add(offset, lw.builder.mul(_wrap_index(lw, read(b), n, axis), stride))
            ptr = lw.builder.gep(window.data, [offset], inbounds=True)
            body(ArrayVal(window.dtype, ptr, window.meminfo, window.shape, window.strides), b)

        loop_nest(lw, self.batch, at)
        for a in self.made:
            lw.rt.decref(lw.builder, a.meminfo)


def index_view(
    lw: Lowerer, a: ArrayVal, op: Op, first: int
) -> tuple[ir.Value, list[ir.Value], list[ir.Value], Gather | None]:
    """Apply ``op``'s index to ``a``: (pointer to the first element, shape, strides) of its
    basic part -- the whole index unless it holds integer arrays, which the Gather describes."""
    b = lw.builder
    operands = iter(op.operands[first:])
    given = list(op.attrs["index"])
    items = list(given)
    used = sum(1 for it in items if it[0] in ("idx", "slice")) + masks.axes_taken(
        [v.type for v in op.operands[first:]]
    )
    if ("ellipsis",) in items:
        at = items.index(("ellipsis",))
        items[at : at + 1] = [("slice", False, False, False)] * (a.rank - used)
    else:
        items += [("slice", False, False, False)] * (a.rank - used)
    offset = _ZERO
    shape, strides, axis = [], [], 0
    arrays: list[tuple[ArrayVal, ir.Value, ir.Value, int]] = []
    made: list[ArrayVal] = []
    before: int | None = None  # how many window axes come before the first int or array
    for item in items:
        if item[0] == "newaxis":
            shape.append(_ONE)
            strides.append(_ZERO)
            continue
        if axis >= a.rank:
            raise unsupported("an index with more entries than the array has axes", op.loc)
        n, s = a.shape[axis], a.strides[axis]
        if item[0] == "idx":
            v = next(operands)
            if before is None:
                before = len(shape)
            if masks.is_mask(v.type):  # the integer arrays of its positions, one per axis it takes
                found = masks.positions(lw, lw.get(v), a, axis, op.loc)
                arrays += found
                made += [x for x, *_ in found]
                axis += len(found)
                continue
            if isinstance(v.type, Tensor) and v.type.rank and v.type.dtype == "i64":
                arrays.append((lw.get(v), n, s, axis))
            elif isinstance(v.type, Tensor) and v.type.rank == 0 and v.type.dtype == "i64":
                i = (
                    lw.get(v)
                    if lw.in_bounds(v, op.operands[0], axis)
                    else _wrap_index(lw, lw.get(v), n, axis)
                )
                offset = b.add(offset, b.mul(i, lw.element_stride(s)))
            else:
                raise unsupported(f"indexing with a {v.type}", op.loc)
        else:
            bounds = [slice_bound_operand(lw, next(operands)) if has else None for has in item[1:]]
            start, length, step = slice_range(lw, n, *bounds)
            offset = b.add(offset, b.mul(start, s))
            shape.append(length)
            strides.append(b.mul(s, step))
        axis += 1
    ptr = b.gep(a.data, [offset], inbounds=True)
    if not arrays:
        return ptr, shape, strides, None
    batch = broadcast_shapes(
        lw,
        [x.shape for x, *_ in arrays],
        (IndexError, "shape mismatch: indexing arrays could not be broadcast together"),
    )
    # NumPy keeps the batch axes in place only when no slice, new axis or ellipsis stands
    # between two ints or arrays of the index as written
    ints = [k for k, it in enumerate(given) if it[0] == "idx"]
    adjacent = ints[-1] - ints[0] == len(ints) - 1
    readers = [(reader(lw, x, len(batch)), n, s, k) for x, n, s, k in arrays]
    return ptr, shape, strides, Gather(batch, before if adjacent and before is not None else 0, readers, made)


def slice_bound_operand(lw: Lowerer, v: Value) -> ir.Value | None:
    """A slice bound as an i64, or None where the user gave ``None``."""
    return None if isinstance(v.type, NoneT) else lw.index(v)


def _getitem(lw: Lowerer, op: Op) -> Lowered:
    a = lw.get(op.operands[0])
    if not isinstance(a, ArrayVal):
        raise unsupported(f"indexing a value of type {op.operands[0].type}", op.loc)
    ptr, shape, strides, gather = index_view(lw, a, op, 1)
    if gather is not None:  # a gather copies
        out = alloc_array(lw, a.dtype, gather.shape(shape))

        def copy(window: ArrayVal, b: list[ir.Value]) -> None:
            dest = _batch_window(lw, out, gather, b)
            loop_nest(lw, shape, lambda index: store(lw, dest, index, load(lw, window, index)))

        gather.visit(lw, ArrayVal(a.dtype, ptr, a.meminfo, shape, strides), copy)
        return out
    if not shape:
        value = lw.builder.load(ptr)
        return lw.builder.trunc(value, I1) if a.dtype == "bool" else value
    return view(lw, a, ptr, shape, strides)


def _batch_window(lw: Lowerer, a: ArrayVal, gather: Gather, b: list[ir.Value]) -> ArrayVal:
    """The window of ``a`` (shaped like ``x[index]``) at batch position ``b``: its other axes."""
    at, end = gather.at, gather.at + len(b)
    ptr = element_ptr(lw, a, [_ZERO] * at + b + [_ZERO] * (a.rank - end))
    return ArrayVal(a.dtype, ptr, a.meminfo, a.shape[:at] + a.shape[end:], a.strides[:at] + a.strides[end:])


def writable(lw: Lowerer, op: Op) -> ArrayVal:
    """Operand 0 of ``op`` as an array this op may write: itself when unique, else a copy.

    A broadcast view (a zero stride along an axis longer than 1) is copied too: its
    elements share memory, and a write to one would change them all. An array the analysis
    proved unique (``Plan.unique``) is written with no test at all.
    """
    if not lw.can_move(op, 0):
        return copy_array(lw, lw.get(op.operands[0]))
    a = lw.take(op, 0)
    if op.operands[0] in lw.plan.unique:
        return a

    def copied() -> ArrayVal:
        new = copy_array(lw, a)
        lw.rt.decref(lw.builder, a.meminfo)
        return new

    if isinstance(a.meminfo, ir.Constant):
        return copied()
    b = lw.builder
    in_place = lw.rt.is_unique(b, a.meminfo)
    for dim, stride in zip(a.shape, a.strides):
        in_place = b.and_(in_place, b.or_(b.icmp_signed("!=", stride, _ZERO), b.icmp_signed("<=", dim, _ONE)))
    return lw.choose(in_place, lambda: a, copied, op.results[0].type)


def _update(combine: str | None):
    """``setitem`` (``combine`` None) and ``index_add`` (``combine`` "add")."""

    def rule(lw: Lowerer, op: Op) -> ArrayVal:
        target = writable(lw, op)
        ptr, shape, strides, gather = index_view(lw, target, op, 2)
        window = ArrayVal(target.dtype, ptr, target.meminfo, shape, strides)
        full = shape if gather is None else gather.shape(shape)
        v, vt = lw.get(op.operands[1]), op.operands[1].type
        if len(shape_of(v)) > len(full):
            raise unsupported(f"assigning a {vt} to a part of rank {len(full)}", op.loc)
        plain = reader(lw, v, len(full))

        def value(dest: ArrayVal, index: Sequence[ir.Value], at: Sequence[ir.Value]) -> ir.Value:
            """The new element at ``index`` of ``dest``: ``at`` in the value."""
            new = cast(lw, plain(at), vt.dtype, target.dtype)
            if combine is None:
                return new
            return KERNELS[combine](lw, [load(lw, dest, index), new], [target.dtype] * 2, target.dtype)

        if gather is None:
            assign(lw, window, shape_of(v), lambda index: value(window, index, index))
            return target
        check_fits(lw, full, shape_of(v))
        k = gather.at

        def write(dest: ArrayVal, b: list[ir.Value]) -> None:
            # element after element: a repeated index adds up (np.add.at) or its last write
            # wins (setitem), as in NumPy
            loop_nest(lw, shape, lambda i: store(lw, dest, i, value(dest, i, [*i[:k], *b, *i[k:]])))

        gather.visit(lw, window, write)
        return target

    return rule


# --------------------------------------------------------------------------- shapes
def _shape(lw: Lowerer, op: Op) -> tuple:
    return tuple(shape_of(lw.get(op.operands[0])))


def _len(lw: Lowerer, op: Op) -> ir.Value:
    shape = shape_of(lw.get(op.operands[0]))
    if not shape:
        raise unsupported("len() of a scalar", op.loc)
    return shape[0]


def _size(lw: Lowerer, op: Op) -> ir.Value:
    return index_product(lw, shape_of(lw.get(op.operands[0])))


def _ndim(lw: Lowerer, op: Op) -> ir.Value:
    return ir.Constant(I64, op.operands[0].type.rank)


def _transpose(lw: Lowerer, op: Op) -> ArrayVal:
    a = lw.get(op.operands[0])
    axes = op.attrs.get("axes") or tuple(reversed(range(a.rank)))
    axes = [ax % a.rank for ax in axes]
    return view(lw, a, a.data, [a.shape[k] for k in axes], [a.strides[k] for k in axes])


def _expand_dims(lw: Lowerer, op: Op) -> ArrayVal:
    a = lw.get(op.operands[0])
    axis = op.attrs["axis"]
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    if not isinstance(a, ArrayVal):  # a scalar: an array of ones in every axis
        return fill(lw, alloc_array(lw, op.operands[0].type.dtype, [_ONE] * len(axes)), a)
    rank = a.rank + len(axes)
    new = {ax % rank for ax in axes}
    shape, strides, rest = [], [], iter(zip(a.shape, a.strides))
    for k in range(rank):
        d, s = (_ONE, _ZERO) if k in new else next(rest)
        shape.append(d)
        strides.append(s)
    return view(lw, a, a.data, shape, strides)


def _broadcast_to(lw: Lowerer, op: Op) -> ArrayVal:
    a, t = lw.get(op.operands[0]), op.operands[0].type
    if isinstance(a, Deferred):  # its operand was fused into it: computed at the new shape
        return materialize(lw, _broadcast_deferred(lw, op))
    shape = dims(lw, op.operands[1])
    if not isinstance(a, ArrayVal):  # a scalar: fill a new array
        return fill(lw, alloc_array(lw, t.dtype, shape), a)
    b = lw.builder
    strides = []
    for k, (d, have) in enumerate(zip(shape, _check_broadcast(lw, a.shape, shape))):
        stride = a.strides[k - (len(shape) - a.rank)] if have is not None else None
        if have is None or known_one(have) and not known_one(d):
            strides.append(_ZERO)
        elif have is d or known_not_one(lw, have):  # then it must equal d
            strides.append(stride)
        else:
            strides.append(b.select(b.icmp_signed("==", have, d), stride, _ZERO))
    return view(lw, a, a.data, shape, strides)


def _broadcast_deferred(lw: Lowerer, op: Op) -> Deferred:
    """A fused ``broadcast_to``: each element is read from the operand (no array at all)."""
    a = lw.get(op.operands[0])
    shape = dims(lw, op.operands[1])
    _check_broadcast(lw, shape_of(a), shape)
    return Deferred(op.operands[0].type.dtype, shape, reader(lw, a, len(shape)), guard_of(lw, [a]))


def _check_broadcast(lw: Lowerer, have: list[ir.Value], shape: list[ir.Value]) -> list[ir.Value | None]:
    """Fail unless ``have`` broadcasts to ``shape``; ``have`` aligned to ``shape`` (None: new axis)."""
    b = lw.builder
    aligned: list[ir.Value | None] = [None] * (len(shape) - len(have)) + list(have)
    for d, h in zip(shape, aligned):
        if h is not None and h is not d:
            bad = b.and_(b.icmp_signed("!=", h, d), b.icmp_signed("!=", h, _ONE))
            lw.fail_if(bad, ValueError, "array cannot be broadcast to the requested shape")
    return aligned


def _reshape(lw: Lowerer, op: Op) -> ArrayVal:
    """A view of the array if it is C-contiguous, else of a contiguous copy; ``-1`` is inferred."""
    b = lw.builder
    a = lw.get(op.operands[0])
    if not isinstance(a, ArrayVal):
        raise unsupported("reshaping a scalar", op.loc)
    size = index_product(lw, a.shape)
    minus_one = ir.Constant(I64, -1)
    shape = _shape_operand(lw, op.operands[1])
    known = index_product(lw, [b.select(b.icmp_signed("==", d, minus_one), _ONE, d) for d in shape])
    inferred = b.sdiv(size, b.select(b.icmp_signed("==", known, _ZERO), _ONE, known))
    shape = [b.select(b.icmp_signed("==", d, minus_one), inferred, d) for d in shape]
    lw.fail_if(
        b.icmp_signed("!=", index_product(lw, shape), size),
        ValueError,
        "cannot reshape array: the sizes differ",
    )
    contiguous, expect = ir.Constant(I1, 1), _ONE
    for d, s in zip(reversed(a.shape), reversed(a.strides)):
        contiguous = b.and_(contiguous, b.or_(b.icmp_signed("==", s, expect), b.icmp_signed("==", d, _ONE)))
        expect = b.mul(expect, d)

    def shared() -> ArrayVal:
        lw.rt.incref(lw.builder, a.meminfo)
        return a

    flat = lw.choose(contiguous, shared, lambda: copy_array(lw, a), op.operands[0].type)
    strides, step = [], _ONE
    for d in reversed(shape):
        strides.insert(0, step)
        step = b.mul(step, d)
    return ArrayVal(a.dtype, flat.data, flat.meminfo, shape, strides)


def _shape_operand(lw: Lowerer, v: Value) -> list[ir.Value]:
    value, t = lw.get(v), v.type
    if isinstance(t, TupleT):
        return [cast(lw, x, e.dtype, "i64") for x, e in zip(value, t.elts)]
    return [lw.index(v)]


# --------------------------------------------------------------------------- creation
def _create(value: float | None, zero: bool = False):
    def rule(lw: Lowerer, op: Op) -> ArrayVal:
        t = op.results[0].type
        a = alloc_array(lw, t.dtype, dims(lw, op.operands[0]), zero=zero)
        return a if value is None else fill(lw, a, ir.Constant(ir.DoubleType(), value))

    return rule


def _like(value: float | None):
    def rule(lw: Lowerer, op: Op) -> ArrayVal:
        t = op.results[0].type
        a = alloc_array(lw, t.dtype, shape_of(lw.get(op.operands[0])), zero=value == 0)
        if value is None:  # full_like: the value operand
            return fill(lw, a, lw.scalar(op.operands[1], t.dtype))
        return a if value == 0 else fill(lw, a, cast(lw, ir.Constant(I64, int(value)), "i64", t.dtype))

    return rule


def _full(lw: Lowerer, op: Op) -> ArrayVal:
    t = op.results[0].type
    return fill(lw, alloc_array(lw, t.dtype, dims(lw, op.operands[0])), lw.scalar(op.operands[1], t.dtype))


def _copy(lw: Lowerer, op: Op) -> ArrayVal:
    return copy_array(lw, lw.get(op.operands[0]))


def _arange(lw: Lowerer, op: Op) -> ArrayVal:
    b = lw.builder
    t = op.results[0].type
    lo, hi, step = (lw.scalar(v, t.dtype) for v in op.operands)
    if t.dtype == "f64":
        f = lw.fmf
        n = b.call(lw.rt.math("ceil"), [b.fdiv(b.fsub(hi, lo, flags=f), step, flags=f)])
        n = b.select(b.fcmp_ordered(">", n, ir.Constant(n.type, 0.0)), b.fptosi(n, I64), _ZERO)
    else:
        lw.fail_if(b.icmp_signed("==", step, _ZERO), ValueError, "arange: step cannot be zero")
        n = range_length(lw, lo, hi, step)
    out = alloc_array(lw, t.dtype, [n])

    def body(i: ir.Value) -> None:
        k = cast(lw, i, "i64", t.dtype)
        x = b.fadd(lo, b.fmul(k, step)) if t.dtype == "f64" else b.add(lo, b.mul(k, step))
        store(lw, out, [i], x)

    counted_loop(lw, n, body)
    return out


def _linspace(lw: Lowerer, op: Op) -> ArrayVal:
    """NumPy's: ``a + i * (b - a) / (n - 1)``, the last element exactly ``b``."""
    b = lw.builder
    lo, hi = lw.scalar(op.operands[0], "f64"), lw.scalar(op.operands[1], "f64")
    n = lw.index(op.operands[2])
    lw.fail_if(
        b.icmp_signed("<", n, _ZERO), ValueError, "linspace: the number of samples must be non-negative"
    )
    out = alloc_array(lw, "f64", [n])
    div = b.sitofp(b.select(b.icmp_signed(">", n, _ONE), b.sub(n, _ONE), _ONE), lo.type)
    step = b.fdiv(b.fsub(hi, lo), div)
    counted_loop(lw, n, lambda i: store(lw, out, [i], b.fadd(lo, b.fmul(b.sitofp(i, lo.type), step))))
    last = b.icmp_signed(">", n, _ONE)
    with b.if_then(last):
        store(lw, out, [b.sub(n, _ONE)], hi)
    return out


def _eye(lw: Lowerer, op: Op) -> ArrayVal:
    n = lw.index(op.operands[0])
    lw.fail_if(lw.builder.icmp_signed("<", n, _ZERO), ValueError, "negative dimensions are not allowed")
    out = alloc_array(lw, "f64", [n, n], zero=True)
    counted_loop(lw, n, lambda i: store(lw, out, [i, i], ir.Constant(ir.DoubleType(), 1.0)))
    return out


def _join(stack: bool):
    """``concatenate`` (along an existing axis) and ``stack`` (along a new one)."""

    def rule(lw: Lowerer, op: Op) -> ArrayVal:
        b = lw.builder
        t = op.results[0].type
        axis = (op.attrs.get("axis") or 0) % t.rank
        parts: list[tuple[Lowered, str, list[ir.Value]]] = []
        for v in op.operands:
            value = lw.get(v)
            if stack and isinstance(value, ArrayVal):
                value = _with_axis(value, axis)
            shape = shape_of(value) or [_ONE]
            parts.append((value, v.type.dtype, shape))
        shape = list(parts[0][2])
        for _, _, other in parts[1:]:
            for k, (d, e) in enumerate(zip(shape, other)):
                if k != axis:
                    lw.fail_if(
                        b.icmp_signed("!=", d, e),
                        ValueError,
                        "all the input array dimensions except the joined axis must match",
                    )
            shape[axis] = b.add(shape[axis], other[axis])
        out = alloc_array(lw, t.dtype, shape)
        start = _ZERO
        for value, dtype, part_shape in parts:
            ptr = b.gep(out.data, [b.mul(start, out.strides[axis])], inbounds=True)
            window = ArrayVal(t.dtype, ptr, out.meminfo, part_shape, out.strides)
            read = reader(lw, value, len(part_shape))
            assign(
                lw,
                window,
                shape_of(value),
                lambda index, read=read, dtype=dtype: cast(lw, read(index), dtype, t.dtype),
            )
            start = b.add(start, part_shape[axis])
        return out

    return rule


def _with_axis(a: ArrayVal, axis: int) -> ArrayVal:
    return ArrayVal(
        a.dtype,
        a.data,
        a.meminfo,
        a.shape[:axis] + [_ONE] + a.shape[axis:],
        a.strides[:axis] + [_ZERO] + a.strides[axis:],
    )


LOWERINGS = {
    "getitem": _getitem,
    "setitem": _update(None),
    "index_add": _update("add"),
    "shape": _shape,
    "len": _len,
    "size": _size,
    "ndim": _ndim,
    "transpose": _transpose,
    "expand_dims": _expand_dims,
    "broadcast_to": _broadcast_to,
    "reshape": _reshape,
    "zeros": _create(None, zero=True),
    "ones": _create(1.0),
    "empty": _create(None),
    "full": _full,
    "zeros_like": _like(0),
    "ones_like": _like(1),
    "full_like": _like(None),
    "copy": _copy,
    "arange": _arange,
    "linspace": _linspace,
    "eye": _eye,
    "concatenate": _join(stack=False),
    "stack": _join(stack=True),
}
FUSED_LOWERINGS = {"broadcast_to": _broadcast_deferred}
