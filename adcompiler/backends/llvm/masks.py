"""Boolean masks in an index (``x[x > 0]``, ``x[:, m] = v``): their positions, as NumPy does.

NumPy reads a mask of rank ``k`` as the ``k`` integer arrays of ``m.nonzero()`` indexing the
``k`` axes it stands for, and so do we: the positions of the true elements, in C order, are
counted, then written into ``k`` new ``i64`` arrays, which :func:`.arrays.index_view` hands
to its :class:`~.arrays.Gather` like any integer array. Reads (``getitem``), writes
(``setitem``) and their adjoints (``index_add``) then follow the gather's rules: the result's
length is the count, known only when the mask is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ...errors import Loc
from ...ir.types import Tensor, Type
from .elementwise import alloc_array, load, loop_nest, store
from .types import I64, ArrayVal, unsupported

if TYPE_CHECKING:
    from .lower import Lowerer


def is_mask(t: Type | None) -> bool:
    """Whether an index operand of type ``t`` is a boolean mask (not a scalar bool)."""
    return isinstance(t, Tensor) and t.dtype == "bool" and bool(t.rank)


def axes_taken(types: list[Type | None]) -> int:
    """How many more axes the masks among index operands of ``types`` take than one each."""
    return sum(t.rank - 1 for t in types if is_mask(t))


def positions(
    lw: Lowerer, mask: ArrayVal, a: ArrayVal, axis: int, loc: Loc | None
) -> list[tuple[ArrayVal, ir.Value, ir.Value, int]]:
    """``mask.nonzero()`` indexing ``a`` from ``axis`` on: per axis of the mask, a new array
    of the positions along it, with that axis's length, stride and number. Fails with
    NumPy's IndexError unless the mask's shape is that of the axes it stands for."""
    if axis + mask.rank > a.rank:
        raise unsupported("a boolean mask with more axes than the array has left", loc)
    b = lw.builder
    for k, d in enumerate(mask.shape):
        if d is not a.shape[axis + k]:
            lw.fail_if(
                b.icmp_signed("!=", d, a.shape[axis + k]),
                IndexError,
                f"boolean index did not match indexed array along axis {axis + k}",
            )
    count = lw.alloca(I64)
    b.store(ir.Constant(I64, 0), count)

    def add(index: list[ir.Value]) -> None:  # no branch: this loop vectorises
        b.store(b.add(b.load(count), b.zext(load(lw, mask, index), I64)), count)

    loop_nest(lw, mask.shape, add)
    n = b.load(count)
    out = [alloc_array(lw, "i64", [n]) for _ in mask.shape]
    b.store(ir.Constant(I64, 0), count)

    def write(index: list[ir.Value]) -> None:
        with b.if_then(load(lw, mask, index)):
            at = b.load(count)
            for dest, i in zip(out, index):
                store(lw, dest, [at], i)
            b.store(b.add(at, ir.Constant(I64, 1)), count)

    loop_nest(lw, mask.shape, write)
    return [(dest, a.shape[axis + k], a.strides[axis + k], axis + k) for k, dest in enumerate(out)]
