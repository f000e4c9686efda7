"""IR types.

A value is a :class:`Tensor` (scalars are rank-0 tensors: a Python float, int or bool)
or a :class:`TupleT`. ``rank=None`` means "scalar or array, not known until run time",
which is what a function's parameters are when no call signature is known yet; ``dtype=None``
means the element type is unknown too (an unannotated, non-differentiated parameter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DTYPES = ("bool", "i64", "f64")  # ordered by promotion


@dataclass(frozen=True)
class Tensor:
    """A scalar (``rank == 0``) or an n-d NumPy array of ``dtype``."""

    dtype: str | None
    rank: int | None

    def __post_init__(self) -> None:
        # types key every compiled specialisation, so each call hashes its arguments' types
        object.__setattr__(self, "_hash", hash((self.dtype, self.rank)))

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        dtype = self.dtype or "?"
        if self.rank == 0:
            return dtype
        if self.rank is None:
            return f"{dtype}|array<{dtype}>"
        return f"array<{dtype},{self.rank}>"

    @property
    def is_float(self) -> bool:
        """Could carry a derivative: f64, or unknown dtype."""
        return self.dtype in ("f64", None)

    @property
    def is_scalar(self) -> bool:
        return self.rank == 0

    @property
    def is_array(self) -> bool:
        return self.rank is not None and self.rank > 0


@dataclass(frozen=True)
class TupleT:
    """A fixed-length tuple (also the type of ``x.shape``)."""

    elts: tuple[Type, ...]

    def __str__(self) -> str:
        return "(" + ", ".join(str(t) for t in self.elts) + ")"

    is_float = False
    is_scalar = False
    is_array = False


@dataclass(frozen=True)
class NoneT:
    """The type of ``None`` (a placeholder, e.g. a missing slice bound)."""

    def __str__(self) -> str:
        return "none"

    is_float = False
    is_scalar = False
    is_array = False


Type = Tensor | TupleT | NoneT

F64 = Tensor("f64", 0)
I64 = Tensor("i64", 0)
BOOL = Tensor("bool", 0)
NONE = NoneT()
DYN = Tensor("f64", None)  # float scalar or float array, rank unknown
UNKNOWN = Tensor(None, None)


def array(dtype: str, rank: int) -> Tensor:
    return Tensor(dtype, rank)


def promote_dtype(*dtypes: str | None) -> str | None:
    """NumPy/Python promotion over bool < i64 < f64; unknown stays unknown."""
    if any(d is None for d in dtypes):
        return None
    return max(dtypes, key=DTYPES.index)


def broadcast_rank(*ranks: int | None) -> int | None:
    if any(r is None for r in ranks):
        return None
    return max(ranks)


class TypeJoinError(Exception):
    """Two types that no value can have at once (caught and re-raised with a location)."""


def join(a: Type, b: Type) -> Type:
    """The least type holding both: used where control flow merges (if, loop carry)."""
    if a == b:
        return a
    if isinstance(a, TupleT) and isinstance(b, TupleT) and len(a.elts) == len(b.elts):
        return TupleT(tuple(join(x, y) for x, y in zip(a.elts, b.elts)))
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        dtype = promote_dtype(a.dtype, b.dtype)
        if a.rank == b.rank:
            return Tensor(dtype, a.rank)
        if a.rank is None or b.rank is None:
            return Tensor(dtype, None)
        if a.rank == 0 or b.rank == 0:
            # a scalar that becomes an array (``acc = 0.0; acc = acc + row``): NumPy broadcasting
            return Tensor(dtype, max(a.rank, b.rank))
        raise TypeJoinError(f"an array of rank {a.rank} and an array of rank {b.rank}")
    if isinstance(a, NoneT):
        return b
    if isinstance(b, NoneT):
        return a
    raise TypeJoinError(f"{a} and {b}")


#: the type of each (NumPy dtype, rank) of argument seen
_ARRAY_TYPES: dict[tuple[np.dtype, int], Tensor] = {}


def type_of_python_value(value: object) -> Type:
    """The IR type of a run-time argument (the call signature a function is specialised to)."""
    exact = _EXACT.get(type(value))  # the usual scalars, at the cost of one lookup
    if exact is not None:
        return exact
    if isinstance(value, (bool, np.bool_)):
        return BOOL
    if isinstance(value, (int, np.integer)):
        return I64
    if isinstance(value, (float, np.floating)):
        return F64
    if isinstance(value, np.ndarray):
        known = _ARRAY_TYPES.get((value.dtype, value.ndim))
        if known is not None:  # one object per array type: keys compare by identity
            return known
        dtype = {"b": "bool", "i": "i64", "u": "i64", "f": "f64"}.get(value.dtype.kind)
        if dtype is None:
            raise TypeError(f"arrays of dtype {value.dtype} are not supported")
        return _ARRAY_TYPES.setdefault((value.dtype, value.ndim), Tensor(dtype, value.ndim))
    if isinstance(value, tuple):
        return TupleT(tuple(type_of_python_value(v) for v in value))
    if isinstance(value, list):
        return type_of_python_value(np.asarray(value))
    if value is None:
        return NONE
    raise TypeError(f"values of type {type(value).__name__} are not supported")


_EXACT: dict[type, Type] = {float: F64, int: I64, bool: BOOL}
