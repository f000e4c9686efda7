"""The calling convention, Python side: Python arguments in, Python floats and NumPy arrays out.

The native side is ``adc_entry`` (:mod:`.entry`). Here: one ctypes ``PYFUNCTYPE`` call: the GIL stays held, so one preallocated result
record per function is safe. Array arguments are checked by dtype identity and rank (and
converted only when they differ); returned arrays wrap the native block without a copy, and
their base object drops its reference when NumPy frees the array. Code compiled for
contiguous last axes refuses other arguments with :data:`STRIDED` (see ``compiled``).
"""

from __future__ import annotations

import ctypes
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...errors import ADTypeError
from ...ir.types import NoneT, Tensor, TupleT, Type
from .native import LIVE

_NUMPY = {"f64": np.dtype(np.float64), "i64": np.dtype(np.int64), "bool": np.dtype(np.bool_)}
_CTYPE = {"f64": ctypes.c_double, "i64": ctypes.c_int64, "bool": ctypes.c_bool}
#: byte offsets in PyArrayObject of: data, dimensions, strides
ARRAY_DATA, ARRAY_DIMS, ARRAY_STRIDES = 16, 32, 40
#: per array parameter (tuples flattened, in order): which axes have length 1, or None for
#: none; ``()`` when no axis of any array parameter has length 1
Pattern = tuple[tuple[bool, ...] | None, ...]
#: the status of code compiled for contiguous last axes called with an array whose last axis
#: is strided (status codes above 0 are exceptions; this one is not an error)
STRIDED = -1


class StridedArguments(Exception):
    """The code called is compiled for arrays whose last axis is contiguous, and an argument's
    is not: the caller runs the code compiled for any strides instead."""


def _numpy_layout_ok() -> bool:
    a = np.zeros((3, 4))[:, ::2]
    base = id(a)
    dims = ctypes.c_void_p.from_address(base + ARRAY_DIMS).value
    strides = ctypes.c_void_p.from_address(base + ARRAY_STRIDES).value
    return (
        ctypes.c_void_p.from_address(base + ARRAY_DATA).value == a.ctypes.data
        and tuple((ctypes.c_int64 * 2).from_address(dims)) == a.shape
        and tuple((ctypes.c_int64 * 2).from_address(strides)) == a.strides
    )


_LAYOUT_OK = _numpy_layout_ok()


# --------------------------------------------------------------------------- Python side
def _leaf_ctypes(t: Type) -> list[Any]:
    """The fields of a result of type ``t`` in the record (see ``types.leaf_types``): a
    scalar; an array's data, meminfo, shape and strides; a tuple's leaves."""
    if isinstance(t, Tensor):
        if t.rank == 0:
            return [_CTYPE[t.dtype]]
        return [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_int64] * (2 * t.rank)
    if isinstance(t, TupleT):
        return [c for e in t.elts for c in _leaf_ctypes(e)]
    return []


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
    size, typestr = _NUMPY[dtype].itemsize, _NUMPY[dtype].str

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
            n = len(_leaf_ctypes(e))
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
    name: str,
    params: list[Type],
    returns: list[Type],
    address: int,
    errors: list[tuple[type[BaseException], str]],
) -> Callable[..., Any]:
    """The Python function calling ``adc_entry`` at ``address``: the code of function ``name``
    taking arguments of types ``params`` and returning values of types ``returns``."""
    if not _LAYOUT_OK and any(isinstance(t, Tensor) and t.rank for t in params):
        raise ADTypeError(
            "the LLVM backend cannot handle array arguments with this NumPy "
            '(unexpected PyArrayObject layout); use backend="python"'
        )
    leaves = [c for t in returns for c in _leaf_ctypes(t)]
    record_type = type(
        "Record", (ctypes.Structure,), {"_fields_": [(f"f{i}", c) for i, c in enumerate(leaves)]}
    )
    argtypes = [c for t in params for c in _abi_ctypes(t)]
    cfunc = ctypes.PYFUNCTYPE(ctypes.c_int32, *argtypes, ctypes.c_void_p)(address)
    record = record_type()
    record_address = ctypes.addressof(record)  # an int converts faster than a pointer object
    readers, start = [], 0
    for t in returns:
        n = len(_leaf_ctypes(t))
        readers.append(_reader(t, [f"f{i}" for i in range(start, start + n)]))
        start += n
    single = readers[0] if len(readers) == 1 else None
    converters = [_argument(t) for t in params]
    nparams = len(params)

    def fail(status: int) -> None:
        if status == STRIDED:
            raise StridedArguments
        exc, message = errors[status - 1]
        raise exc(message)

    if all(c is None for c in converters):  # scalars only: the fast path

        def call(*args: Any) -> Any:
            if len(args) != nparams:
                raise TypeError(f"{name}() takes {nparams} arguments ({len(args)} given)")
            status = cfunc(*args, record_address)
            if status:
                fail(status)
            return single(record) if single else tuple(r(record) for r in readers)

        return call

    def call_general(*args: Any) -> Any:
        if len(args) != nparams:
            raise TypeError(f"{name}() takes {nparams} arguments ({len(args)} given)")
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


def pattern_of(params: Sequence[Type]) -> Callable[[Sequence[Any]], Pattern]:
    """The function computing a call's :data:`Pattern` from its arguments (it runs on every
    call of a compiled function with array parameters: the usual case returns early)."""

    def leaf(t: Type) -> Callable[[Any], list]:
        if isinstance(t, TupleT):
            parts = [leaf(e) for e in t.elts]
            return lambda value: [x for part, v in zip(parts, value) for x in part(v)]
        if isinstance(t, Tensor) and t.rank:
            rank = t.rank

            def axes(value: Any) -> list:
                shape = value.shape if type(value) is np.ndarray else np.shape(value)
                if 1 not in shape or len(shape) != rank:  # a wrong rank fails in the call itself
                    return [None]
                return [tuple(d == 1 for d in shape)]

            return axes
        return lambda value: []

    getters = [leaf(t) for t in params]

    def pattern(args: Sequence[Any]) -> Pattern:
        axes = tuple(x for get, value in zip(getters, args) for x in get(value))
        return axes if any(axes) else ()  # the usual case: no axis of length 1

    if any(isinstance(t, TupleT) for t in params):
        return pattern
    arrays = [k for k, t in enumerate(params) if isinstance(t, Tensor) and t.rank]

    def usual(args: Sequence[Any]) -> Pattern:
        """The same, returning at once in the usual case (arrays only at the top level)."""
        for k in arrays:
            a = args[k]
            if 1 in (a.shape if type(a) is np.ndarray else np.shape(a)):
                return pattern(args)
        return ()

    return usual
