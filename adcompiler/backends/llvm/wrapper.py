"""The calling convention: Python arguments in, Python floats and NumPy arrays out.

Native side, ``adc_entry(abi args..., record*) -> i32``: scalars arrive as ``double``,
``i64`` or ``i8`` (bool); an array arrives as its ``PyArrayObject*``, whose data pointer,
shape and strides the entry reads straight from the object (the layout NumPy has kept since
1.7, checked once at import) -- no Python-side unboxing. Tuples are flattened.

Python side, one ctypes ``PYFUNCTYPE`` call: the GIL stays held, so one preallocated result
record per function is safe. Array arguments are checked by dtype identity and rank (and
converted only when they differ); returned arrays wrap the native block without a copy, and
their base object drops its reference when NumPy frees the array.
"""

from __future__ import annotations

import ctypes
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from llvmlite import ir

from ...ir.core import Function
from ...ir.types import NoneT, Tensor, TupleT, Type
from .runtime import LIVE
from .types import ELEMENT, I1, I8, I8P, I32, I64, ITEMSIZE, SCALAR, leaf_types, unsupported

_NUMPY = {"f64": np.dtype(np.float64), "i64": np.dtype(np.int64), "bool": np.dtype(np.bool_)}
_CTYPE = {"f64": ctypes.c_double, "i64": ctypes.c_int64, "bool": ctypes.c_bool}
#: byte offsets in PyArrayObject of: data, dimensions, strides
_DATA, _DIMS, _STRIDES = 16, 32, 40


def _numpy_layout_ok() -> bool:
    a = np.zeros((3, 4))[:, ::2]
    base = id(a)
    dims = ctypes.c_void_p.from_address(base + _DIMS).value
    strides = ctypes.c_void_p.from_address(base + _STRIDES).value
    return (
        ctypes.c_void_p.from_address(base + _DATA).value == a.ctypes.data
        and tuple((ctypes.c_int64 * 2).from_address(dims)) == a.shape
        and tuple((ctypes.c_int64 * 2).from_address(strides)) == a.strides
    )


_LAYOUT_OK = _numpy_layout_ok()


# --------------------------------------------------------------------------- native entry
def abi_types(t: Type) -> list[ir.Type]:
    if isinstance(t, Tensor):
        if t.rank:
            return [I8P]
        return [I8 if t.dtype == "bool" else SCALAR[t.dtype]]
    if isinstance(t, TupleT):
        return [a for e in t.elts for a in abi_types(e)]
    return []


def build_entry(fn: Function, module: ir.Module, core: ir.Function, errors: list) -> None:
    """``adc_entry``: unbox the ABI arguments into ``adc_core``'s parameters and call it."""
    record_ptr = core.args[-1].type
    fnty = ir.FunctionType(I32, [a for p in fn.params for a in abi_types(p.type)] + [record_ptr])
    entry = ir.Function(module, fnty, "adc_entry")
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    args = iter(entry.args[:-1])
    core_args: list[ir.Value] = []
    misaligned = ir.Constant(I1, 0)
    for p in fn.params:
        misaligned = b.or_(misaligned, _unbox(b, p.type, args, core_args))
    if any(isinstance(p.type, Tensor) and p.type.rank for p in fn.params):
        errors.append((ValueError, "array strides must be multiples of the item size"))
        code = ir.Constant(I32, len(errors))
        with b.if_then(misaligned, likely=False):
            b.ret(code)
    b.ret(b.call(core, [*core_args, entry.args[-1]]))


def _unbox(b: ir.IRBuilder, t: Type, args, out: list[ir.Value]) -> ir.Value:
    """Append ``t``'s core parameters to ``out``; returns whether an array's strides are unusable."""
    bad = ir.Constant(I1, 0)
    if isinstance(t, TupleT):
        for e in t.elts:
            bad = b.or_(bad, _unbox(b, e, args, out))
        return bad
    if isinstance(t, NoneT):
        return bad
    arg = next(args)
    if not t.rank:
        out.append(b.trunc(arg, I1) if t.dtype == "bool" else arg)
        return bad

    def field(offset: int, ty: ir.Type) -> ir.Value:
        return b.load(b.bitcast(b.gep(arg, [ir.Constant(I64, offset)]), ty.as_pointer()))

    out.append(b.bitcast(field(_DATA, I8P), ELEMENT[t.dtype].as_pointer()))
    dims, strides = field(_DIMS, I64.as_pointer()), field(_STRIDES, I64.as_pointer())
    for k in range(t.rank):  # a length is never negative: LLVM may drop checks that need it
        length = b.load(b.gep(dims, [ir.Constant(I64, k)]))
        length.set_metadata("range", b.module.add_metadata([ir.Constant(I64, 0), ir.Constant(I64, 2**63 - 1)]))
        out.append(length)
    size = ITEMSIZE[t.dtype]
    for k in range(t.rank):
        stride = b.load(b.gep(strides, [ir.Constant(I64, k)]))
        if size > 1:
            bad = b.or_(bad, b.icmp_signed("!=", b.srem(stride, ir.Constant(I64, size)), ir.Constant(I64, 0)))
            stride = b.sdiv(stride, ir.Constant(I64, size))
        out.append(stride)
    return bad


# --------------------------------------------------------------------------- Python side
def _ctype(ty: ir.Type) -> Any:
    if isinstance(ty, ir.PointerType):
        return ctypes.c_void_p
    if isinstance(ty, ir.DoubleType):
        return ctypes.c_double
    return {1: ctypes.c_bool, 8: ctypes.c_bool, 64: ctypes.c_int64}[ty.width]


def _abi_ctypes(t: Type) -> list[Any]:
    if isinstance(t, Tensor):
        return [ctypes.py_object] if t.rank else [_CTYPE[t.dtype]]
    if isinstance(t, TupleT):
        return [c for e in t.elts for c in _abi_ctypes(e)]
    return []


_libc = ctypes.CDLL(None)
_free = _libc.free
_free.argtypes = [ctypes.c_void_p]
_free.restype = None


class _Owner:
    """The base of a returned array: holds one reference to the native block."""

    __slots__ = ("__array_interface__", "meminfo")

    def __init__(self, meminfo: int, interface: dict) -> None:
        self.meminfo = meminfo
        self.__array_interface__ = interface

    def __del__(self) -> None:
        count = ctypes.c_int64.from_address(self.meminfo)
        count.value -= 1
        if count.value == 0:
            _free(self.meminfo)
            LIVE.value -= 1


def _array_reader(dtype: str, rank: int, fields: list[str]) -> Callable[[Any], np.ndarray]:
    data_f, meminfo_f, *rest = fields
    shape_f, strides_f = rest[:rank], rest[rank:]
    size, typestr = ITEMSIZE[dtype], _NUMPY[dtype].str

    def read(record: Any) -> np.ndarray:
        interface = {
            "data": (getattr(record, data_f) or 0, False),
            "shape": tuple(getattr(record, f) for f in shape_f),
            "strides": tuple(getattr(record, f) * size for f in strides_f),
            "typestr": typestr,
            "version": 3,
        }
        return np.asarray(_Owner(getattr(record, meminfo_f), interface))

    return read


def _reader(t: Type, fields: list[str]) -> Callable[[Any], Any]:
    """A function of the record returning the Python value of type ``t`` from ``fields``."""
    if isinstance(t, TupleT):
        readers, start = [], 0
        for e in t.elts:
            n = len(leaf_types(e))
            readers.append(_reader(e, fields[start : start + n]))
            start += n
        return lambda record: tuple(r(record) for r in readers)
    if isinstance(t, NoneT):
        return lambda record: None
    if t.rank:
        return _array_reader(t.dtype, t.rank, fields)
    return operator.attrgetter(*fields)


def _argument(t: Type) -> Callable[[Any], list[Any]] | None:
    """Converts one Python argument to its ABI values; None for a scalar passed as it is."""
    if isinstance(t, Tensor) and not t.rank:
        return None
    if isinstance(t, NoneT):
        return lambda value: []
    if isinstance(t, TupleT):
        parts = [(_argument(e) or (lambda value: [value])) for e in t.elts]
        return lambda value: [x for part, v in zip(parts, value) for x in part(v)]
    dtype, rank = _NUMPY[t.dtype], t.rank

    def array(value: Any) -> list[Any]:
        if type(value) is not np.ndarray or value.dtype is not dtype or value.ndim != rank:
            value = np.asarray(value, dtype=dtype)
            if value.ndim != rank:
                raise TypeError(f"expected an array of rank {rank}, got rank {value.ndim}")
        return [value]

    return array


def make_caller(
    fn: Function, address: int, errors: list[tuple[type[BaseException], str]]
) -> Callable[..., Any]:
    """The Python function calling ``adc_entry`` at ``address``."""
    if not _LAYOUT_OK and any(isinstance(p.type, Tensor) and p.type.rank for p in fn.params):
        raise unsupported("array arguments with this NumPy (unexpected PyArrayObject layout)", fn.loc)
    leaves = [lt for r in fn.returns for lt in leaf_types(r.type)]
    record_type = type(
        "Record", (ctypes.Structure,), {"_fields_": [(f"f{i}", _ctype(t)) for i, t in enumerate(leaves)]}
    )
    argtypes = [c for p in fn.params for c in _abi_ctypes(p.type)]
    cfunc = ctypes.PYFUNCTYPE(ctypes.c_int32, *argtypes, ctypes.c_void_p)(address)
    record = record_type()
    record_address = ctypes.addressof(record)  # an int converts faster than a pointer object
    readers, start = [], 0
    for r in fn.returns:
        n = len(leaf_types(r.type))
        readers.append(_reader(r.type, [f"f{i}" for i in range(start, start + n)]))
        start += n
    single = readers[0] if len(readers) == 1 else None
    converters = [_argument(p.type) for p in fn.params]
    nparams = len(fn.params)

    def fail(status: int) -> None:
        exc, message = errors[status - 1]
        raise exc(message)

    if all(c is None for c in converters):  # scalars only: the fast path

        def call(*args: Any) -> Any:
            if len(args) != nparams:
                raise TypeError(f"{fn.name}() takes {nparams} arguments ({len(args)} given)")
            status = cfunc(*args, record_address)
            if status:
                fail(status)
            return single(record) if single else tuple(r(record) for r in readers)

        return call

    def call_general(*args: Any) -> Any:
        if len(args) != nparams:
            raise TypeError(f"{fn.name}() takes {nparams} arguments ({len(args)} given)")
        flat: list[Any] = []
        for convert, value in zip(converters, args):
            if convert is None:
                flat.append(value)
            else:
                flat.extend(convert(value))
        status = cfunc(*flat, record_address)
        if status:
            fail(status)
        return single(record) if single else tuple(r(record) for r in readers)

    return call_general
