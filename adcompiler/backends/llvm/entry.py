"""The native entry point ``adc_entry``, which the Python side (:mod:`.wrapper`) calls.

``adc_entry(abi args..., record*) -> i32``: scalars arrive as ``double``, ``i64`` or ``i8``
(bool); an array arrives as its ``PyArrayObject*``, whose data pointer, shape and strides the
entry reads straight from the object (the layout NumPy has kept since 1.7, checked once at
import by :mod:`.wrapper`) -- no Python-side unboxing. Tuples are flattened.

LLVM does not optimise it (``optnone``): it runs once per call, and a few more instructions
there are nothing next to the Python call around it.

Code whose element reads take the last axis of every array argument to be contiguous (see
``Lowerer.element_stride``) checks that first: the entry returns :data:`~.wrapper.STRIDED`
when an array's last axis of 2 or more elements is strided (with fewer, its stride addresses
nothing), and the caller runs code made for any strides instead.
"""

from __future__ import annotations

from llvmlite import ir

from ...ir.core import Function
from ...ir.types import NoneT, Tensor, TupleT, Type
from .types import ELEMENT, I1, I8, I8P, I32, I64, ITEMSIZE, SCALAR
from .wrapper import ARRAY_DATA, ARRAY_DIMS, ARRAY_STRIDES, STRIDED


def abi_types(t: Type) -> list[ir.Type]:
    if isinstance(t, Tensor):
        if t.rank:
            return [I8P]
        return [I8 if t.dtype == "bool" else SCALAR[t.dtype]]
    if isinstance(t, TupleT):
        return [a for e in t.elts for a in abi_types(e)]
    return []


def build_entry(fn: Function, module: ir.Module, core: ir.Function, errors: list, contiguous: bool) -> None:
    """``adc_entry``: unbox the ABI arguments into ``adc_core``'s parameters and call it;
    ``contiguous``: ``adc_core`` takes the last axis of every array to be contiguous."""
    record_ptr = core.args[-1].type
    fnty = ir.FunctionType(I32, [a for p in fn.params for a in abi_types(p.type)] + [record_ptr])
    entry = ir.Function(module, fnty, "adc_entry")
    # straight-line code run once per call, next to a Python call of ~50,000 instructions:
    # LLVM's optimisation made nothing measurably faster and cost a twentieth of the work of
    # compiling a network's gradient (``adc_core`` comes out the same)
    entry.attributes.add("noinline")
    entry.attributes.add("optnone")
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    args = iter(entry.args[:-1])
    core_args: list[ir.Value] = []
    misaligned = strided = ir.Constant(I1, 0)
    for p in fn.params:
        bad, apart = _unbox(b, p.type, args, core_args)
        misaligned, strided = b.or_(misaligned, bad), b.or_(strided, apart)
    if any(isinstance(p.type, Tensor) and p.type.rank for p in fn.params):
        if contiguous:
            with b.if_then(strided, likely=False):
                b.ret(ir.Constant(I32, STRIDED))
        errors.append((ValueError, "array strides must be multiples of the item size"))
        code = ir.Constant(I32, len(errors))
        with b.if_then(misaligned, likely=False):
            b.ret(code)
    b.ret(b.call(core, [*core_args, entry.args[-1]]))


def _unbox(b: ir.IRBuilder, t: Type, args, out: list[ir.Value]) -> tuple[ir.Value, ir.Value]:
    """Append ``t``'s core parameters to ``out``; returns whether an array's strides are
    unusable, and whether the elements along an array's last axis are apart in memory."""
    bad = strided = ir.Constant(I1, 0)
    if isinstance(t, TupleT):
        for e in t.elts:
            more_bad, more_strided = _unbox(b, e, args, out)
            bad, strided = b.or_(bad, more_bad), b.or_(strided, more_strided)
        return bad, strided
    if isinstance(t, NoneT):
        return bad, strided
    arg = next(args)
    if not t.rank:
        out.append(b.trunc(arg, I1) if t.dtype == "bool" else arg)
        return bad, strided

    def field(offset: int, ty: ir.Type) -> ir.Value:
        return b.load(b.bitcast(b.gep(arg, [ir.Constant(I64, offset)]), ty.as_pointer()))

    out.append(b.bitcast(field(ARRAY_DATA, I8P), ELEMENT[t.dtype].as_pointer()))
    dims, strides = field(ARRAY_DIMS, I64.as_pointer()), field(ARRAY_STRIDES, I64.as_pointer())
    lengths = []
    for k in range(t.rank):  # a length is never negative: LLVM may drop checks that need it
        length = b.load(b.gep(dims, [ir.Constant(I64, k)]))
        length.set_metadata(
            "range", b.module.add_metadata([ir.Constant(I64, 0), ir.Constant(I64, 2**63 - 1)])
        )
        lengths.append(length)
    out.extend(lengths)
    size = ITEMSIZE[t.dtype]
    for k in range(t.rank):
        stride = b.load(b.gep(strides, [ir.Constant(I64, k)]))
        if k == t.rank - 1:
            apart = b.icmp_signed("!=", stride, ir.Constant(I64, size))
            strided = b.and_(apart, b.icmp_signed(">", lengths[k], ir.Constant(I64, 1)))
        if size > 1:
            bad = b.or_(bad, b.icmp_signed("!=", b.srem(stride, ir.Constant(I64, size)), ir.Constant(I64, 0)))
            stride = b.sdiv(stride, ir.Constant(I64, size))
        out.append(stride)
    return bad, strided
