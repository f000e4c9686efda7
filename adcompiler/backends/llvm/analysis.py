"""Before lowering: which elementwise ops to fuse, and where each array reference dies.

Ownership is static and per region: every array-holding value owns one reference and is
owned by the region that defines it (op results, block arguments). It is released right
after its last use in that region -- a use inside a nested region counts at the op holding
the region, so a value used in a loop body outlives the loop. An op may *take over* the
reference of an operand at its last use (``Plan.movable``): that is how ``setitem`` writes in
place without copying when the old array is dead, the same rule as the Python backend.

A fused elementwise op reads its operands when its consumer runs, so its uses count at the
consumer's position.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from ...ir.core import Function, Op, Region, Value
from ...ir.ops import ELEMENTWISE_FAMILIES
from .types import has_arrays

#: reductions that can consume a fused elementwise operand in their own loop
_FUSING_REDUCTIONS = frozenset("sum prod max min mean".split())


def _consumes_fused(op: Op, index: int) -> bool:
    """Whether ``op`` can evaluate its operand ``index`` element by element, in its own loop."""
    if op.opdef.family in ELEMENTWISE_FAMILIES:
        return bool(op.results[0].type.rank)
    if op.name in _FUSING_REDUCTIONS or op.name == "sum_to":
        return index == 0
    if op.name == "dot":  # each element is read once only in a dot of two vectors
        return all(v.type.rank == 1 for v in op.operands)
    return op.name in ("setitem", "index_add") and index == 1


def _uses_inside(op: Op) -> Iterator[Value]:
    """Every value ``op`` reads: its operands and whatever its regions read."""
    yield from op.operands
    for region in op.regions:
        for inner in region.ops:
            yield from _uses_inside(inner)
        yield from region.yields


class Plan:
    """The result of the analysis, consulted by the lowerer op by op."""

    def __init__(self, fn: Function) -> None:
        #: elementwise ops lowered as :class:`~.types.Deferred`, computed by their consumer
        self.fused: set[Op] = set()
        #: values whose reference ends right after an op (unless the op took it over)
        self.release_after: dict[Op, list[Value]] = {}
        #: owned region arguments that are never used
        self.release_at_start: dict[Region, list[Value]] = {}
        #: (op, operand index) pairs where the op may take over the operand's reference
        self.movable: set[tuple[Op, int]] = set()
        #: values each region owns (the yield hands them over)
        self.owned: dict[Region, set[Value]] = {}
        self._find_fusions(fn)
        self._region(fn.body, owns_args=True)

    # ------------------------------------------------------------------ fusion
    def _find_fusions(self, fn: Function) -> None:
        users: dict[Value, list[tuple[Op | None, int]]] = {}
        where: dict[Op, Region] = {}
        regions = [fn.body]
        while regions:
            region = regions.pop()
            for op in region.ops:
                where[op] = region
                for i, v in enumerate(op.operands):
                    users.setdefault(v, []).append((op, i))
                regions.extend(op.regions)
            for v in region.yields:
                users.setdefault(v, []).append((None, 0))
        for op, region in where.items():
            if op.opdef.family not in ELEMENTWISE_FAMILIES or not op.results[0].type.rank:
                continue
            uses = users.get(op.results[0], [])
            if len(uses) == 1:
                user, index = uses[0]
                if user is not None and where[user] is region and _consumes_fused(user, index):
                    self.fused.add(op)

    # ------------------------------------------------------------------ lifetimes
    def _region(self, region: Region, owns_args: bool) -> None:
        owned = {v for v in region.args if owns_args and has_arrays(v.type)}
        owned |= {r for op in region.ops if op not in self.fused for r in op.results if has_arrays(r.type)}
        self.owned[region] = owned
        end = len(region.ops)
        # a fused op's reads happen where its consumer is; consumers come later in the region
        consumer_pos: dict[Op, int] = {}
        for k in range(end - 1, -1, -1):
            op = region.ops[k]
            for v in op.operands:
                if v.op in self.fused:
                    consumer_pos[v.op] = consumer_pos.get(op, k)
        last: dict[Value, int] = {}
        count: Counter[tuple[Value, int]] = Counter()
        for k, op in enumerate(region.ops):
            pos = consumer_pos.get(op, k)
            for v in _uses_inside(op):
                if v in owned:
                    last[v] = max(last.get(v, -1), pos)
                    count[v, pos] += 1
        for v in region.yields:
            if v in owned:
                last[v] = end
        for v in owned:
            pos = last.get(v)
            if pos is None:  # never used: release where it is defined
                if v.op is None:
                    self.release_at_start.setdefault(region, []).append(v)
                else:
                    self.release_after.setdefault(v.op, []).append(v)
            elif pos < end:
                user = region.ops[pos]
                self.release_after.setdefault(user, []).append(v)
                if count[v, pos] == 1 and user not in self.fused and v in user.operands:
                    self.movable.add((user, user.operands.index(v)))
        for op in region.ops:
            for i, inner in enumerate(op.regions):
                # a while loop's condition only looks at the carried values; its body owns them
                self._region(inner, owns_args=not (op.name == "while" and i == 0))
