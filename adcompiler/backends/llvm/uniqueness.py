"""Arrays surely unique when they are written: the copy-on-write test decided at compile time.

``setitem`` and ``index_add`` write in place when they take over their array's reference
(``Plan.movable``) and, at run time, the block's reference count is 1 (``arrays.writable``);
otherwise they copy. In a loop that fills a new array element by element -- a write-once
gradient, ``y[i] = ...`` into ``np.empty`` -- that test runs in every iteration, and its
copying branch (an allocation, a copy loop) keeps LLVM from vectorising the loop and from
keeping its values in registers. Where this analysis proves the count is 1, the test and the
copy are not emitted.

A value is *unique* when, at the op that takes over its reference, the block is referenced by
that value alone, with no axis broadcast (a zero stride). It is when

* it is *fresh*: the result of an op that makes a new block (``empty``, ``zeros``,
  ``copy``...) or of ``setitem``/``index_add`` themselves (the array they wrote when that was
  unique and not broadcast, else a new copy), or a value a ``for`` loop carries (the body's
  argument or the loop's result) whose initial value is unique and moved into the loop and
  whose yielded value is unique and handed over, so that every iteration receives the only
  reference;
* and every use of it but the one taking it over only reads it (:func:`_borrows`): no view,
  tuple, tape record, branch result or second carried value gets a reference to the block.

A caller's array (a parameter) or a module constant is never fresh: it keeps its copy. The
carried values of loops are solved optimistically -- all assumed fresh, then any whose initial
or yielded value is not unique dropped, until nothing changes (a carried value passed on
untouched is unique when nothing else is wrong with it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...ir.core import Op, Region, Value
from ...ir.ops import ELEMENTWISE_FAMILIES
from ...ir.types import Tensor
from .types import has_arrays

if TYPE_CHECKING:
    from .analysis import Plan

#: ops whose result is the one reference to a block, no axis broadcast (see the module docstring)
_FRESH = frozenset("empty zeros ones full zeros_like ones_like full_like copy setitem index_add".split())
#: ops that read only the shape of their operand 0 and make a new block
_SHAPE_ONLY = frozenset("shape len size ndim zeros_like ones_like full_like".split())
#: ops with effects that only read their operands (``push`` keeps a reference: not here)
_CHECKS = frozenset(("assert", "check_finite"))

#: a use of a value: (op, operand index), or (None, region) for a region's ``yield``
Use = tuple[Op | None, int | Region]


def _borrows(op: Op, index: int) -> bool:
    """Whether ``op`` reads operand ``index`` without keeping a reference to its block."""
    if op.opdef.family in ELEMENTWISE_FAMILIES:  # a scalar, a new array, or fused into a consumer
        return True
    if op.name in ("getitem", "setitem", "index_add") and index >= 1:  # indices, values copied in
        return True
    if op.name in _SHAPE_ONLY and index == 0:
        return True
    return (
        not op.regions
        and (op.opdef.pure or op.name in _CHECKS)
        and not any(has_arrays(r.type) for r in op.results)
    )


def _is_array(v: Value) -> bool:
    return isinstance(v.type, Tensor) and v.type.rank > 0


class _Carried:
    """One array a ``for`` loop carries."""

    def __init__(self, loop: Op, j: int) -> None:
        self.loop = loop
        self.body = loop.regions[0]
        #: where the initial value is among the loop's operands (after lo, hi, step)
        self.operand = 3 + j
        self.init = loop.operands[self.operand]
        self.arg = self.body.args[1 + j]  # after the loop index
        self.yielded = self.body.yields[j]
        self.result = loop.results[j]


def unique_arrays(fn_body: Region, plan: Plan) -> set[Value]:
    """The array values that are unique whenever an op takes over their reference."""
    uses: dict[Value, list[Use]] = {}
    home: dict[Value, Region] = {}
    carries: list[_Carried] = []
    _collect(fn_body, uses, home, carries)

    def handed(v: Value) -> bool:  # the yield of its own region takes over its reference
        region = home[v]
        return v in plan.owned[region] and region.yields.count(v) == 1

    def alone(v: Value) -> bool:
        """Every use of ``v`` but one that takes it over only reads it."""
        takers = [u for u in uses.get(v, []) if not (u[0] is not None and _borrows(u[0], u[1]))]
        if not takers:
            return True
        if len(takers) > 1:
            return False
        op, where = takers[0]
        return (op, where) in plan.movable if op is not None else where is home[v] and handed(v)

    carried = {v: c for c in carries for v in (c.arg, c.result)}
    fresh_carries = set(carries)  # assumed fresh until shown otherwise
    while True:
        unique = {
            v
            for v in home
            if _is_array(v)
            and alone(v)
            and (
                (v.op is not None and v.op.name in _FRESH and v.op not in plan.fused)
                or (v in carried and carried[v] in fresh_carries)
            )
        }
        failed = {
            c
            for c in fresh_carries
            if not (
                c.init in unique
                and (c.loop, c.operand) in plan.movable
                and c.yielded in unique
                and home[c.yielded] is c.body
                and handed(c.yielded)
            )
        }
        if not failed:
            return unique
        fresh_carries -= failed


def _collect(
    region: Region, uses: dict[Value, list[Use]], home: dict[Value, Region], carries: list[_Carried]
) -> None:
    """Every value's uses and defining region, and the arrays ``for`` loops carry."""
    for a in region.args:
        home[a] = region
    for op in region.ops:
        for r in op.results:
            home[r] = region
        for i, v in enumerate(op.operands):
            uses.setdefault(v, []).append((op, i))
        for inner in op.regions:
            _collect(inner, uses, home, carries)
        if op.name == "for":
            carries.extend(_Carried(op, j) for j, r in enumerate(op.results) if _is_array(r))
    for v in region.yields:
        uses.setdefault(v, []).append((None, region))
