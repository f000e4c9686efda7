"""Write-once arrays: a zeroed array that one loop fills element by element, each element
exactly once, is allocated without zeroing and stored into rather than added to.

The adjoint of ``x[i]`` read in ``for i in range(len(x))`` accumulates into zeros::

    x_bar = np.zeros_like(x)                     x_bar = np.empty(x.shape)
    for i in reversed(range(x.shape[0])):   ->   for i in reversed(range(x.shape[0])):
        x_bar[i] += t                                x_bar[i] = t

which pays for zeroing the array (or for faulting in fresh pages) and a read per element,
where a hand-written adjoint stores into ``np.empty``. The rewrite is sound only when the
loop surely writes every element of the array exactly once and nothing reads it before
that, so it asks for all of:

* the array is ``zeros``/``zeros_like`` of float64, and its only use starts a value
  carried by a ``for`` loop;
* the loop runs ``range(0, n, 1)`` (forwards or reversed), ``n`` the array's length on
  axis 0 — a ``for`` always runs its whole range: ``break`` and ``return`` turn a loop into
  a ``while``;
* in the body, the carried array's only use is one ``index_add`` at exactly the induction
  variable, directly in the body (not under an ``if``), whose result is only yielded back
  as the carried value (no second write, no read).
"""

from __future__ import annotations

from ..ir.core import Function, Op, Region, Value
from ..ir.ops import OPS
from ..ir.types import Tensor
from .shapes import int_const, is_length

#: the places a value is used: (op, operand position) or (region, yield position)
Uses = dict[int, list[tuple[Op | Region, int]]]


def write_once(fn: Function) -> Function:
    """Rewrite every write-once accumulation of ``fn`` in place; returns ``fn``."""
    uses = _uses(fn.body)
    for region in _regions(fn.body):
        for op in list(region.ops):
            if op.name != "for":
                continue
            for k, init in enumerate(op.operands[3:]):
                write = _write_once(op, k, uses)
                if write is not None:
                    _rewrite(fn.body, init.op, write)
    return fn


def _write_once(loop: Op, k: int, uses: Uses) -> Op | None:
    """The ``index_add`` to turn into a store when carried value ``k`` of ``loop`` is a
    zeroed array the loop fills exactly once, element by element; else None."""
    init = loop.operands[3 + k]
    lo, hi, step = loop.operands[:3]
    t = init.type
    if init.op is None or init.op.name not in ("zeros", "zeros_like"):
        return None
    if not (isinstance(t, Tensor) and t.dtype == "f64" and t.rank):
        return None
    if uses.get(id(init)) != [(loop, 3 + k)] or int_const(lo) != 0 or int_const(step) != 1:
        return None
    if not is_length(hi, init):
        return None
    body = loop.regions[0]
    index, carried = body.args[0], body.args[1 + k]
    if len(uses.get(id(carried), [])) != 1:
        return None
    write, position = uses[id(carried)][0]
    if not (isinstance(write, Op) and write.name == "index_add" and position == 0 and write in body.ops):
        return None
    if tuple(write.attrs["index"]) != (("idx",),) or write.operands[2] is not index:
        return None
    if uses.get(id(write.result)) != [(body, k)]:
        return None
    return write


def _rewrite(top: Region, zeros: Op, write: Op) -> None:
    """``zeros`` becomes ``empty`` of the same shape and ``write`` a ``setitem``."""
    region = next(r for r in _regions(top) if zeros in r.ops)
    at = region.ops.index(zeros)
    new: list[Op] = []
    dims = zeros.operands[0]
    if zeros.name == "zeros_like":
        dims = Value(OPS["shape"].type_rule([dims.type], {})[0])
        new.append(Op(OPS["shape"], [zeros.operands[0]], [dims], loc=zeros.loc))
    new.append(Op(OPS["empty"], [dims], zeros.results, loc=zeros.loc))
    region.ops[at : at + 1] = new
    body = next(r for r in _regions(top) if write in r.ops)
    at = body.ops.index(write)
    body.ops[at] = Op(OPS["setitem"], write.operands, write.results, write.attrs, loc=write.loc)


def _regions(region: Region):
    yield region
    for op in region.ops:
        for r in op.regions:
            yield from _regions(r)


def _uses(top: Region) -> Uses:
    uses: Uses = {}
    for region in _regions(top):
        for op in region.ops:
            for position, v in enumerate(op.operands):
                uses.setdefault(id(v), []).append((op, position))
        for position, v in enumerate(region.yields):
            uses.setdefault(id(v), []).append((region, position))
    return uses
