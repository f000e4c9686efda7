"""IR types as LLVM types, and the shape of a lowered value.

While lowering, an IR value is held as a Python object built from LLVM values:

* a scalar is one LLVM value (``double``, ``i64`` or ``i1``);
* an array is an :class:`ArrayVal`: its fields are separate LLVM values, not an LLVM struct,
  so shapes and strides are plain SSA values that LLVM can hoist and fold;
* a fused, not yet computed elementwise array is a :class:`Deferred` (see ``elementwise``),
  a fused chain of slices added to zeros a :class:`Scatter` (see ``scatter``);
* a tuple is a Python tuple of lowered values, ``None`` is ``None``.

Where values must pass through memory or phis (loop carries, tapes, the return record)
they are *flattened* into leaves: for an array ``data, meminfo, *shape, *strides``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from llvmlite import ir

from ...errors import ADTypeError, Loc
from ...ir.types import NoneT, Tensor, TupleT, Type

F64 = ir.DoubleType()
I64 = ir.IntType(64)
I32 = ir.IntType(32)
I8 = ir.IntType(8)
I1 = ir.IntType(1)
I8P = I8.as_pointer()

#: register type of a scalar of each dtype
SCALAR = {"f64": F64, "i64": I64, "bool": I1}
#: type of an array element in memory (NumPy stores bools as one byte)
ELEMENT = {"f64": F64, "i64": I64, "bool": I8}
ITEMSIZE = {"f64": 8, "i64": 8, "bool": 1}


class ArrayVal:
    """An n-d strided array. ``strides`` count elements, not bytes.

    ``meminfo`` points at the reference-counted allocation that owns ``data`` (a null pointer
    for memory the function does not own: the caller's arrays and constants). Views share the
    meminfo of the array they look into.
    """

    __slots__ = ("dtype", "data", "meminfo", "shape", "strides")

    def __init__(
        self, dtype: str, data: ir.Value, meminfo: ir.Value, shape: list[ir.Value], strides: list[ir.Value]
    ) -> None:
        self.dtype, self.data, self.meminfo, self.shape, self.strides = dtype, data, meminfo, shape, strides

    @property
    def rank(self) -> int:
        return len(self.shape)


class Deferred:
    """An elementwise array not computed yet: ``load(index)`` yields the element at ``index``.

    It exists only between a fused op and its consumers in the same region, which evaluate
    it inside their own loops (fusion: no temporary array). ``guard``, when set, is a
    run-time condition under which a cheaper ``load`` is valid (a ``sum_to`` that sums
    nothing; see ``elementwise.guard_of``): consumers are then emitted twice, see :meth:`~.lower.Lowerer.lower_op`.
    """

    __slots__ = ("dtype", "shape", "load", "guard")

    def __init__(
        self,
        dtype: str,
        shape: list[ir.Value],
        load: Callable[[Sequence[ir.Value]], ir.Value],
        guard: ir.Value | None = None,
    ) -> None:
        self.dtype, self.shape, self.load, self.guard = dtype, shape, load, guard

    @property
    def rank(self) -> int:
        return len(self.shape)


class Slice:
    """One term of a :class:`Scatter`: ``value`` (of ``dtype``) added to ``[start:stop]``
    along the scatter's axis."""

    __slots__ = ("value", "dtype", "start", "stop")

    def __init__(
        self, value: ArrayVal | Deferred | ir.Value, dtype: str, start: ir.Value, stop: ir.Value
    ) -> None:
        self.value, self.dtype, self.start, self.stop = value, dtype, start, stop


class Scatter:
    """A new f64 array of zeros with slices along ``axis`` added to it, not written yet.

    Like a Deferred it exists only between fused ops of one region (a chain of ``index_add``
    on ``zeros``, see ``scatter``); the last op of the chain writes it, once. ``guard`` is
    the conjunction of its terms' guards (see :class:`Deferred`).
    """

    __slots__ = ("shape", "terms", "axis", "guard")

    def __init__(
        self,
        shape: list[ir.Value],
        terms: list[Slice],
        axis: int | None = None,
        guard: ir.Value | None = None,
    ) -> None:
        self.shape, self.terms = shape, terms
        #: the axis the slices are along (None until the first is added)
        self.axis = axis
        self.guard = guard


Lowered = ir.Value | ArrayVal | Deferred | Scatter | tuple | None


def unsupported(what: str, loc: Loc | None = None) -> ADTypeError:
    return ADTypeError(f'the LLVM backend cannot handle {what}; use backend="python"', loc)


def check_type(t: Type | None, loc: Loc | None = None) -> Type:
    """``t`` if the backend can represent it (a fully known type), else an ADTypeError."""
    if isinstance(t, Tensor) and t.dtype in SCALAR and t.rank is not None:
        return t
    if isinstance(t, TupleT):
        for e in t.elts:
            check_type(e, loc)
        return t
    if isinstance(t, NoneT):
        return t
    raise unsupported(f"a value of type {t} (types must be fully known)", loc)


def array_ptr(dtype: str) -> ir.PointerType:
    return ELEMENT[dtype].as_pointer()


def leaf_types(t: Type) -> list[ir.Type]:
    """The LLVM types of the leaves of a value of IR type ``t``."""
    if isinstance(t, Tensor):
        if t.rank == 0:
            return [SCALAR[t.dtype]]
        return [array_ptr(t.dtype), I8P] + [I64] * (2 * t.rank)
    if isinstance(t, TupleT):
        return [lt for e in t.elts for lt in leaf_types(e)]
    return []


def flatten(value: Lowered, t: Type) -> list[ir.Value]:
    """The leaves of ``value`` (an array must be materialised first)."""
    if isinstance(t, Tensor):
        if t.rank == 0:
            return [value]
        assert isinstance(value, ArrayVal), value
        return [value.data, value.meminfo, *value.shape, *value.strides]
    if isinstance(t, TupleT):
        return [leaf for v, e in zip(value, t.elts) for leaf in flatten(v, e)]
    return []


def unflatten(t: Type, leaves: Iterator[ir.Value]) -> Lowered:
    """Rebuild a lowered value of type ``t`` from an iterator over its leaves."""
    if isinstance(t, Tensor):
        if t.rank == 0:
            return next(leaves)
        data, meminfo = next(leaves), next(leaves)
        shape = [next(leaves) for _ in range(t.rank)]
        strides = [next(leaves) for _ in range(t.rank)]
        return ArrayVal(t.dtype, data, meminfo, shape, strides)
    if isinstance(t, TupleT):
        return tuple(unflatten(e, leaves) for e in t.elts)
    return None


def arrays_in(value: Lowered) -> Iterator[ArrayVal]:
    """Every array a lowered value holds (the references it owns)."""
    if isinstance(value, ArrayVal):
        yield value
    elif isinstance(value, tuple):
        for v in value:
            yield from arrays_in(v)


def has_arrays(t: Type | None) -> bool:
    """Whether values of type ``t`` hold array references (and so take part in ownership)."""
    if isinstance(t, Tensor):
        return bool(t.rank)
    if isinstance(t, TupleT):
        return any(has_arrays(e) for e in t.elts)
    return False


def zero_value(t: Type) -> Lowered:
    """A harmless value of type ``t`` (for ``undef`` and ``None`` joined with a type)."""
    if isinstance(t, Tensor):
        if t.rank == 0:
            return ir.Constant(SCALAR[t.dtype], 0)
        zero = ir.Constant(I64, 0)
        return ArrayVal(
            t.dtype,
            ir.Constant(array_ptr(t.dtype), None),
            ir.Constant(I8P, None),
            [zero] * t.rank,
            [zero] * t.rank,
        )
    if isinstance(t, TupleT):
        return tuple(zero_value(e) for e in t.elts)
    return None
