"""Elementwise ops on arrays: broadcasting, loop nests, and fusion.

An elementwise op with an array result becomes a :class:`~.types.Deferred`: the broadcast
shape (checked once, before any loop) and a function that computes one element from its
operands' elements. If the analysis fused the op, the Deferred is handed to its consumer,
which evaluates it inside its own loop -- ``sum(sin(x) * y)`` is one loop and no temporary.
Otherwise it is materialised at once into a new C-contiguous array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from llvmlite import ir

from ...ir.core import Op
from .scalar import KERNELS
from .types import ELEMENT, I8, I64, ITEMSIZE, ArrayVal, Deferred, Lowered, Scatter
from .vmath import VECTOR_KERNELS

if TYPE_CHECKING:
    from .lower import Lowerer

Reader = Callable[[Sequence[ir.Value]], ir.Value]


# --------------------------------------------------------------------------- loops
def counted_loop(
    lw: Lowerer,
    n: ir.Value,
    body: Callable[[ir.Value], None],
    name: str = "loop",
    start: ir.Value | None = None,
) -> None:
    """``for i in range(start, n): body(i)`` (``start`` 0 by default), emitted at the current
    position (rotated, guarded)."""
    b = lw.builder
    fn = b.function
    pre = b.block
    start = ir.Constant(I64, 0) if start is None else start
    body_bb, exit_bb = fn.append_basic_block(f"{name}.body"), fn.append_basic_block(f"{name}.end")
    b.cbranch(b.icmp_signed("<", start, n), body_bb, exit_bb)
    b.position_at_end(body_bb)
    i = b.phi(I64, "i")
    i.add_incoming(start, pre)
    body(i)
    i_next = b.add(i, ir.Constant(I64, 1), flags=("nuw", "nsw"))
    i.add_incoming(i_next, b.block)
    latch = b.cbranch(b.icmp_signed("<", i_next, n), body_bb, exit_bb)
    latch.set_metadata("llvm.loop", _loop_id(lw.module, vectorize=not lw.in_rare_code))
    b.position_at_end(exit_bb)


def _loop_id(module: ir.Module, vectorize: bool) -> ir.MDValue:
    """Loop metadata: never unrolled; vectorised unless in code that seldom runs (see
    ``Lowerer.rarely``).

    These loops walk arrays: the vectoriser already interleaves them for instruction-level
    parallelism, and unrolling the result on top made a quarter of the work LLVM does to
    compile a network's gradient, for little speed. (The user's own loops are not these:
    ``control`` lowers them, and LLVM unrolls them as it sees fit.)
    """
    options = [module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")])]
    if not vectorize:
        options.append(
            module.add_metadata(
                [ir.MetaDataString(module, "llvm.loop.vectorize.enable"), ir.Constant(ir.IntType(1), 0)]
            )
        )
    # a loop ID's first operand is the ID itself; the placeholder keeps each loop's ID unique
    loop_id = module.add_metadata([ir.MetaDataString(module, f"loop {len(module.metadata)}"), *options])
    loop_id.operands = (loop_id, *options)
    return loop_id


def loop_nest(
    lw: Lowerer,
    shape: Sequence[ir.Value],
    body: Callable[[list[ir.Value]], None],
    leading: tuple[ir.Value, ir.Value] | None = None,
) -> None:
    """Visit every index of ``shape`` in C order (last axis innermost); ``leading``: only the
    indices whose first is in ``range(lo, hi)``."""

    def level(k: int, index: list[ir.Value]) -> None:
        if k == len(shape):
            body(index)
        elif k == 0 and leading is not None:
            lo, hi = leading
            counted_loop(lw, hi, lambda i: level(1, [i]), name="axis0", start=lo)
        else:
            counted_loop(lw, shape[k], lambda i: level(k + 1, [*index, i]), name=f"axis{k}")

    level(0, [])


def parallel_loop_nest(
    lw: Lowerer, shape: Sequence[ir.Value], body: Callable[[list[ir.Value]], None]
) -> None:
    """:func:`loop_nest` whose leading axis is split over threads when the loop is large
    (``parallel.split_loop``): for loops writing a new array, whose ``body`` reads other
    memory only."""
    from .parallel import split_loop  # which imports this module

    if not shape:
        loop_nest(lw, shape, body)
        return
    split_loop(lw, shape, lambda lo, hi: loop_nest(lw, shape, body, leading=(lo, hi)))


# --------------------------------------------------------------------------- index arithmetic
# i64 arithmetic on indices, shapes and strides, the constants 0 and 1 folded here: left to
# LLVM, ``add 0, i`` and ``mul i, 1`` were a tenth of the instructions of a network's
# gradient, each built, printed and parsed before LLVM removes it.
_INT64 = range(-(2**63), 2**63)


def index_mul(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    for u, v in ((x, y), (y, x)):
        if isinstance(u, ir.Constant):
            if u.constant == 1:
                return v
            if u.constant == 0:
                return u
            if isinstance(v, ir.Constant) and u.constant * v.constant in _INT64:
                return ir.Constant(I64, u.constant * v.constant)
    return b.mul(x, y)


def index_add(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    for u, v in ((x, y), (y, x)):
        if isinstance(u, ir.Constant) and u.constant == 0:
            return v
    return b.add(x, y)


def index_product(lw: Lowerer, values: Sequence[ir.Value]) -> ir.Value:
    """The product of the i64 ``values`` (1 for none)."""
    n: ir.Value = ir.Constant(I64, 1)
    for d in values:
        n = index_mul(lw.builder, n, d)
    return n


def element_ptr(lw: Lowerer, a: ArrayVal, index: Sequence[ir.Value]) -> ir.Value:
    b = lw.builder
    offset: ir.Value = ir.Constant(I64, 0)
    for i, s in zip(index, a.strides):
        offset = index_add(b, offset, index_mul(b, i, s))
    return b.gep(a.data, [offset], inbounds=True)


def load(lw: Lowerer, a: ArrayVal, index: Sequence[ir.Value]) -> ir.Value:
    value = lw.builder.load(element_ptr(lw, a, index))
    return lw.builder.trunc(value, ir.IntType(1)) if a.dtype == "bool" else value


def store(lw: Lowerer, a: ArrayVal, index: Sequence[ir.Value], value: ir.Value) -> None:
    if a.dtype == "bool":
        value = lw.builder.zext(value, I8)
    lw.builder.store(value, element_ptr(lw, a, index))


# --------------------------------------------------------------------------- broadcasting
def known_one(d: ir.Value) -> bool:
    """Whether the dim ``d`` is 1 when the code is compiled (a keepdims axis, say)."""
    return isinstance(d, ir.Constant) and d.constant == 1


def known_not_one(lw: Lowerer, d: ir.Value) -> bool:
    """Whether the dim ``d`` is known not to be 1: an axis of a parameter that was not 1 in
    the call this code is specialised to, or a dim broadcasting took from one."""
    return id(d) in lw.not_one or (isinstance(d, ir.Constant) and d.constant != 1)


def broadcast_shapes(
    lw: Lowerer,
    shapes: Sequence[Sequence[ir.Value]],
    error: tuple[type[BaseException], str] = (ValueError, "operands could not be broadcast together"),
) -> list[ir.Value]:
    """NumPy's broadcast of several shapes; raises ``error`` when they do not match.

    A dim known not to be 1 is the result wherever it takes part (the others must equal it
    or be 1), and a dim known to be 1 never is: only dims known neither way need a select.
    """
    b = lw.builder
    rank = max((len(s) for s in shapes), default=0)
    one = ir.Constant(I64, 1)
    out: list[ir.Value] = []
    for k in range(rank):
        dims = [s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0]
        dims = [d for d in dims if not known_one(d)] or dims[:1]
        dims.sort(key=lambda d: not known_not_one(lw, d))  # a known dim first: it wins
        dim = dims[0]
        for other in dims[1:]:
            if other is dim:
                continue
            clash = b.icmp_signed("!=", dim, other)
            if not known_not_one(lw, dim):
                clash = b.and_(clash, b.icmp_signed("!=", dim, one))
            if not known_not_one(lw, other):
                clash = b.and_(clash, b.icmp_signed("!=", other, one))
            lw.fail_if(clash, *error)
            if not known_not_one(lw, dim):
                dim = b.select(b.icmp_signed("==", dim, one), other, dim)
        out.append(dim)
    return out


def reader(lw: Lowerer, value: Lowered, out_rank: int) -> Reader:
    """Element access to ``value`` (a scalar, an array or a Deferred) broadcast to ``out_rank``.

    The returned function takes an index into the broadcast shape and returns the element in
    the value's own dtype. Axes of length 1 are read at 0 through a zero stride computed
    here, once, outside the loops -- so the address stays an affine function of the loop
    counters, which LLVM vectorises. A Deferred is read at the same index: its own arrays
    were given zero strides the same way, and a fused ``sum_to`` reads its summed axes from
    its inner loop, so an index along an axis of length 1 never reaches memory.
    """
    if isinstance(value, ArrayVal):
        view = ArrayVal(value.dtype, value.data, value.meminfo, value.shape, broadcast_strides(lw, value))
        skip = out_rank - value.rank
        return lambda index: load(lw, view, index[skip:])
    if isinstance(value, Deferred):
        skip = out_rank - value.rank
        return lambda index: value.load(index[skip:])
    return lambda index: value


def broadcast_strides(lw: Lowerer, a: ArrayVal) -> list[ir.Value]:
    """The strides of ``a`` with a zero stride on each axis of length 1."""
    b = lw.builder
    zero, one = ir.Constant(I64, 0), ir.Constant(I64, 1)

    def stride(d: ir.Value, s: ir.Value) -> ir.Value:
        if known_not_one(lw, d):
            return s
        return zero if known_one(d) else b.select(b.icmp_signed("==", d, one), zero, s)

    return [stride(d, s) for d, s in zip(a.shape, a.strides)]


def shape_of(value: Lowered) -> list[ir.Value]:
    return list(value.shape) if isinstance(value, (ArrayVal, Deferred)) else []


def guard_of(lw: Lowerer, values: Sequence[Lowered]) -> ir.Value | None:
    """When the Deferreds (and Scatters) among ``values`` can be read the cheap way (None:
    always): the conjunction of their own guards (a fused ``sum_to`` that sums nothing at
    run time)."""
    b = lw.builder
    guards = [v.guard for v in values if isinstance(v, (Deferred, Scatter)) and v.guard is not None]
    if not guards:
        return None
    guard = guards[0]
    for g in guards[1:]:
        guard = b.and_(guard, g)
    return guard


def deferred(lw: Lowerer, op: Op) -> Deferred:
    """The elementwise op as a Deferred over the broadcast shape of its operands (computed in
    loops, so with the vectorisable ``exp``/``tanh`` of ``vmath``)."""
    kernel = VECTOR_KERNELS.get(op.name) or KERNELS[op.name]
    out = op.results[0].type
    values = [lw.get(v) for v in op.operands]
    dtypes = [v.type.dtype for v in op.operands]
    shape = broadcast_shapes(lw, [shape_of(v) for v in values])
    readers = [reader(lw, v, out.rank) for v in values]
    return Deferred(
        out.dtype,
        shape,
        lambda index: kernel(lw, [r(index) for r in readers], dtypes, out.dtype),
        guard_of(lw, values),
    )


def alloc_array(lw: Lowerer, dtype: str, shape: Sequence[ir.Value], zero: bool = False) -> ArrayVal:
    """A new C-contiguous array that this function owns (MemoryError if malloc fails)."""
    b = lw.builder
    strides: list[ir.Value] = []
    count: ir.Value = ir.Constant(I64, 1)
    for dim in reversed(shape):
        strides.insert(0, count)
        count = index_mul(b, count, dim)
    nbytes = index_mul(b, count, ir.Constant(I64, ITEMSIZE[dtype]))
    meminfo = lw.rt.alloc(b, nbytes, zero, lw.blocks())
    lw.fail_if(b.icmp_unsigned("==", meminfo, ir.Constant(meminfo.type, None)), MemoryError, "out of memory")
    lw.allocated[id(meminfo)] = meminfo
    return ArrayVal(dtype, lw.rt.data_of(b, meminfo, ELEMENT[dtype]), meminfo, list(shape), strides)


def materialize(lw: Lowerer, value: ArrayVal | Deferred) -> ArrayVal:
    """A new C-contiguous array holding the elements of ``value``."""
    out = alloc_array(lw, value.dtype, value.shape)
    read = reader(lw, value, value.rank)
    parallel_loop_nest(lw, out.shape, lambda index: store(lw, out, index, read(index)))
    return out


def assign(lw: Lowerer, target: ArrayVal, shape: Sequence[ir.Value], read: Reader) -> None:
    """``target[...] = value`` for a value of ``shape``, broadcast to the target, read by ``read``."""
    check_fits(lw, target.shape, shape)
    loop_nest(lw, target.shape, lambda index: store(lw, target, index, read(index)))


def check_fits(lw: Lowerer, target: Sequence[ir.Value], shape: Sequence[ir.Value]) -> None:
    """Fail unless a value of ``shape`` broadcasts to ``target`` (a write's destination)."""
    full = broadcast_shapes(lw, [target, shape])
    for have, want in zip(full, target):
        if have is not want:  # the value may broadcast to the target, never widen it
            bad = lw.builder.icmp_signed("!=", have, want)
            lw.fail_if(bad, ValueError, "could not broadcast the value into the target shape")


# --------------------------------------------------------------------------- op rules
def _elementwise(lw: Lowerer, op: Op) -> Lowered:
    out = op.results[0].type
    if out.rank == 0:
        args = [lw.get(v) for v in op.operands]
        return KERNELS[op.name](lw, args, [v.type.dtype for v in op.operands], out.dtype)
    return materialize(lw, deferred(lw, op))


LOWERINGS = {name: _elementwise for name in KERNELS}
#: how a fused op becomes a Deferred (``arrays`` and ``reductions`` add theirs)
FUSED_LOWERINGS = {name: deferred for name in KERNELS}
