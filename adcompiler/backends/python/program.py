"""Where every op sits and who uses each value: the facts every later analysis starts from.

Dead code is found here once (a mark-live pass from the returned values and the ops with
effects), so that no later step names, inlines or emits it: a careful person would not
write it either. That includes loop slots that only feed themselves (a carried value
whose result is never read), which a use count alone cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...ir.core import Function, Op, Region, Value

#: ops whose regions get their own structural treatment in every analysis
CONTROL = frozenset({"if", "for", "while", "checkpoint"})


@dataclass(frozen=True, eq=False)
class Use:
    """One use of a value: operand ``index`` of ``user`` (an op of ``region``), or yield ``index``."""

    user: Op | None
    region: Region
    index: int = 0


class Program:
    """Structure, live code and use lists of one function."""

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
        self.live: set[Value] = set()
        self.live_slots: set[tuple[Op, int]] = set()
        self.needed: set[Op] = set()
        self._mark_live()
        self.dead = {op for op in self.region_of if self._is_dead(op)}
        self.uses = {v: [u for u in us if self._use_is_live(u)] for v, us in self._all_uses.items()}

    def uses_of(self, v: Value) -> list[Use]:
        return self.uses.get(v, [])

    def is_used(self, v: Value) -> bool:
        return bool(self.uses.get(v))

    def slot_live(self, op: Op, k: int) -> bool:
        """Whether carried slot ``k`` of a loop matters (its result or its variable is read)."""
        return (op, k) in self.live_slots

    def yielded(self, region: Region) -> list[Value]:
        """The values ``region`` yields into live results or slots."""
        return [v for k, v in enumerate(region.yields) if self._use_is_live(Use(None, region, k))]

    # ------------------------------------------------------------------ structure
    def _walk(self, region: Region) -> None:
        for a in region.args:
            self.order[a] = len(self.order)
        for i, op in enumerate(region.ops):
            self.region_of[op] = region
            self.index_of[op] = i
            for k, v in enumerate(op.operands):
                self._all_uses.setdefault(v, []).append(Use(op, region, k))
            for r in op.regions:
                self.parent[r] = op
                self._walk(r)
            for v in op.results:
                self.order[v] = len(self.order)
        for k, v in enumerate(region.yields):
            self._all_uses.setdefault(v, []).append(Use(None, region, k))

    # ------------------------------------------------------------------ live code
    def _mark_live(self) -> None:
        self._work: list[Value] = []
        for v in self.fn.body.yields:
            self._mark(v)
        for op in self.region_of:
            if not op.opdef.pure and not op.regions and op.name != "comment":  # a note keeps nothing alive
                self._need(op)
                for v in op.operands:
                    self._mark(v)
        while self._work:
            v = self._work.pop()
            owner = v.owner
            if isinstance(owner, Op):
                self._result_live(owner, owner.results.index(v))
            elif isinstance(owner, Region) and owner in self.parent:
                self._arg_live(self.parent[owner], owner, owner.args.index(v))

    def _mark(self, v: Value) -> None:
        if v not in self.live:
            self.live.add(v)
            self._work.append(v)

    def _need(self, op: Op | None) -> None:
        """``op`` must run: so must the control flow around it, and what decides that flow."""
        while op is not None and op not in self.needed:
            self.needed.add(op)
            if op.name == "if":
                self._mark(op.operands[0])
            elif op.name == "for":
                for v in op.operands[:3]:
                    self._mark(v)
            elif op.name == "while":
                self._mark(op.regions[0].yields[0])
            op = self.parent.get(self.region_of[op])

    def _slot(self, op: Op, k: int) -> None:
        if (op, k) in self.live_slots:
            return
        self.live_slots.add((op, k))
        self._need(op)
        first = 3 if op.name == "for" else 0
        self._mark(op.operands[first + k])
        self._mark(op.regions[-1].yields[k])

    def _result_live(self, op: Op, k: int) -> None:
        if op.name in ("for", "while"):
            self._slot(op, k)
        elif op.name == "if" and op.regions[0].yields[k] is op.regions[1].yields[k]:
            self._mark(op.regions[0].yields[k])  # the same value either way: no need to branch
        elif op.name in ("if", "checkpoint"):
            self._need(op)
            for region in op.regions:
                self._mark(region.yields[k])
        else:
            for v in op.operands:
                self._mark(v)

    def _arg_live(self, op: Op, region: Region, k: int) -> None:
        if op.name == "for":
            if k == 0:
                self._need(op)
            else:
                self._slot(op, k - 1)
        elif op.name == "while":
            self._slot(op, k)
        else:  # checkpoint: the argument is the operand
            self._mark(op.operands[k])

    def _is_dead(self, op: Op) -> bool:
        if not op.opdef.pure and not op.regions:
            return False
        return op not in self.needed and not any(r in self.live for r in op.results)

    def _use_is_live(self, use: Use) -> bool:
        """Whether marking went through this use (a loop's initial value feeds only its slot)."""
        user = use.user
        if user is not None:
            if user in self.dead:
                return False
            if user.name == "for" and use.index >= 3:
                return self.slot_live(user, use.index - 3)
            if user.name == "while":
                return self.slot_live(user, use.index)
            if user.name == "checkpoint":
                return user.regions[0].args[use.index] in self.live
            return True
        op = self.parent.get(use.region)
        if op is None:
            return True  # the function's return
        if op.name in ("for", "while"):
            if op.name == "while" and use.region is op.regions[0]:
                return op in self.needed  # the loop's condition
            return self.slot_live(op, use.index)
        return op.results[use.index] in self.live
