"""Where every op sits and who uses each value: the facts every later analysis starts from.

Dead pure ops (their results never used, transitively) are found here once, so that no
later step names, inlines or emits them: a careful person would not write them either.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...ir.core import Function, Op, Region, Value

#: ops whose regions get their own structural treatment in every analysis
CONTROL = frozenset({"if", "for", "while", "checkpoint"})


@dataclass(frozen=True, eq=False)
class Use:
    """One use of a value: by ``user`` (an op of ``region``), or by ``region``'s yields."""

    user: Op | None
    region: Region


class Program:
    """Structure and use lists of one function."""

    def __init__(self, fn: Function) -> None:
        self.fn = fn
        #: the op a region belongs to (absent for the function body)
        self.parent: dict[Region, Op] = {}
        #: the region holding an op, and its index there
        self.region_of: dict[Op, Region] = {}
        self.index_of: dict[Op, int] = {}
        #: program order of definitions: sorting by it gives the order of the source
        self.order: dict[Value, int] = {}
        self._all_uses: dict[Value, list[Use]] = {}
        self._walk(fn.body)
        self.dead = self._find_dead()
        self.uses: dict[Value, list[Use]] = {
            v: [u for u in us if u.user not in self.dead] for v, us in self._all_uses.items()
        }

    def uses_of(self, v: Value) -> list[Use]:
        return self.uses.get(v, [])

    def is_used(self, v: Value) -> bool:
        return bool(self.uses.get(v))

    def enclosing(self, region: Region) -> Region | None:
        """The region around ``region``'s op (None for the function body)."""
        op = self.parent.get(region)
        return None if op is None else self.region_of[op]

    def _walk(self, region: Region) -> None:
        for a in region.args:
            self.order[a] = len(self.order)
        for i, op in enumerate(region.ops):
            self.region_of[op] = region
            self.index_of[op] = i
            for v in op.operands:
                self._all_uses.setdefault(v, []).append(Use(op, region))
            for r in op.regions:
                self.parent[r] = op
                self._walk(r)
            for v in op.results:
                self.order[v] = len(self.order)
        for v in region.yields:
            self._all_uses.setdefault(v, []).append(Use(None, region))

    def _find_dead(self) -> set[Op]:
        """Pure, region-free ops whose results are unused once other dead ops are gone."""
        count = {v: len(us) for v, us in self._all_uses.items()}
        dead: set[Op] = set()
        work = [op for op in self.region_of if self._removable(op, count)]
        while work:
            op = work.pop()
            if op in dead:
                continue
            dead.add(op)
            for v in op.operands:
                count[v] -= 1
                if v.op is not None and v.op not in dead and self._removable(v.op, count):
                    work.append(v.op)
        return dead

    @staticmethod
    def _removable(op: Op, count: dict[Value, int]) -> bool:
        return op.opdef.pure and not op.regions and all(count.get(r, 0) == 0 for r in op.results)
