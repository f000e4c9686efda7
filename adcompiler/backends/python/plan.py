"""Every decision about a function's Python form, made before a line is written.

In order: which writes happen in place (:mod:`.ownership`, on the IR's own liveness),
which values are inlined into their single user, the liveness of what remains as
variables, which values share a variable, and the names.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from ...ir.core import Function, Op, Region, Value
from . import exprs
from .liveness import Liveness
from .naming import Groups, allocate
from .ownership import WRITES, Ownership
from .program import CONTROL, Program

#: longest inlined expression; longer ones get a line of their own
MAX_INLINED = 60
#: longest combined operands of a top-level statement before the longest inlined one is
#: named (4 less per level of indentation)
MAX_OPERANDS = 72


@dataclass
class Plan:
    prog: Program
    own: Ownership
    inline: set[Value]
    live: Liveness
    names: dict[Value, str]

    def inplace(self, op: Op) -> bool:
        return self.own.inplace.get(op, False)

    def copies_init(self, op: Op, slot: int) -> bool:
        return (op, slot) in self.own.copy_init


def make_plan(fn: Function, reserved: set[str]) -> Plan:
    prog = Program(fn)
    own = Ownership(prog, Liveness(prog, set()))
    inline = _Inliner(prog, own).inline
    live = Liveness(prog, inline)
    groups = _coalesce(prog, live, own)
    values = [v for v in prog.order if v not in inline and (v.op is None or v.op not in prog.dead)]
    fixed = dict(zip(fn.params, fn.param_names))
    names = allocate(values, groups, fixed, prog.order, _preference(prog), reserved)
    return Plan(prog, own, inline, live, names)


# --------------------------------------------------------------------------- inlining
class _Placeholders:
    """A context for measuring expressions before names exist."""

    ieee = False

    def constant(self, value: Any, hint: str | None) -> ast.expr:
        if isinstance(value, (int, float, bool, str, tuple)) or value is None:
            return exprs.literal(value)
        return exprs.name(hint or "CONST")

    def rule_callable(self, op: Op) -> ast.expr:
        return exprs.name("rule")


class _Inliner:
    """Inlines a value into its one user when that reads as a person would write it.

    A value is inlined when it has no user-given name, is used once, in its own region
    (never into a loop body, which would recompute it), by an expression or statement
    that is not an in-place write to it, and when no in-place write between its
    definition and its use could change what it reads.
    """

    def __init__(self, prog: Program, own: Ownership) -> None:
        self.prog = prog
        self.own = own
        self.inline: set[Value] = set()
        self.expr: dict[Value, ast.expr] = {}
        self.leaves: dict[Value, frozenset[Value]] = {}
        self.ctx = _Placeholders()
        self._region(prog.fn.body, 1)

    def _of(self, v: Value) -> ast.expr:
        return self.expr[v] if v in self.inline else exprs.name(v.hint or "t00")  # as long as most temps

    def _leaves(self, v: Value) -> frozenset[Value]:
        return self.leaves[v] if v in self.inline else frozenset((v,))

    def _region(self, region: Region, depth: int) -> None:
        """``depth``: the indentation the region's statements get (deeper lines hold less)."""
        room = max(MAX_OPERANDS - 4 * depth, 40)
        for index, op in enumerate(region.ops):
            if op in self.prog.dead:
                continue
            for sub in op.regions:
                self._region(sub, depth + (op.name != "checkpoint"))
            returned = self._returned_tuple(op)
            for operands in [[v] for v in op.operands] if returned else [op.operands]:
                self._fit(operands, room)
            if op.name in ("const", "undef"):
                self._take(op)
            elif self._candidate(op, region, index):
                expr = exprs.expression(op, [self._of(v) for v in op.operands], self.ctx)
                if returned or len(ast.unparse(expr)) <= min(MAX_INLINED, room):
                    self._take(op, expr)
        yielded = [v for v in self.prog.yielded(region) if v.op is None or not self._returned_tuple(v.op)]
        self._fit(yielded, room)

    def _returned_tuple(self, op: Op) -> bool:
        """A tuple built only to be returned: ``return a, b`` however long (one per line)."""
        if op.name != "tuple":
            return False
        uses = self.prog.uses_of(op.result)
        return len(uses) == 1 and uses[0].user is None and uses[0].region is self.prog.fn.body

    def _take(self, op: Op, expr: ast.expr | None = None) -> None:
        v = op.result
        self.inline.add(v)
        self.expr[v] = expr if expr is not None else exprs.expression(op, [], self.ctx)
        self.leaves[v] = frozenset().union(*(self._leaves(o) for o in op.operands))

    def _candidate(self, op: Op, region: Region, index: int) -> bool:
        if (
            op.name not in exprs.EXPRS
            or not op.opdef.pure
            or len(op.results) != 1
            or self.own.inplace.get(op)
        ):
            return False
        v = op.result
        uses = self.prog.uses_of(v)
        if v.hint is not None or len(uses) != 1 or uses[0].region is not region:
            return False
        user = uses[0].user
        if user is not None and (user.name in WRITES or self.own.inplace.get(user)) and user.operands[0] is v:
            return False  # the target of an in-place write is a variable
        end = len(region.ops) if user is None else self.prog.index_of[user]
        leaves = frozenset().union(*(self._leaves(o) for o in op.operands))
        return not self._written_between(region, index, end, leaves)

    def _written_between(self, region: Region, start: int, end: int, leaves: frozenset[Value]) -> bool:
        storages = {self.own.storage(v) for v in leaves}
        return any(
            self.own.inplace.get(q) and self.own.storage(q.operands[0]) in storages
            for op in region.ops[start + 1 : end]
            for q in op.walk()
        )

    def _fit(self, operands: list[Value], room: int) -> None:
        """Name the longest inlined operands until the statement reads comfortably."""
        while True:
            inlined = [v for v in operands if v in self.inline and v.op.name not in ("const", "undef")]
            lengths = {v: len(ast.unparse(self._of(v))) for v in operands}
            if not inlined or sum(lengths.values()) <= room:
                return
            self.inline.discard(max(inlined, key=lambda v: lengths[v]))


# --------------------------------------------------------------------------- variables
def _coalesce(prog: Program, live: Liveness, own: Ownership) -> Groups:
    """Group values that should share a variable, most valuable first."""
    groups = Groups(live)
    fixed = dict(zip(prog.fn.params, prog.fn.param_names))
    inner: list[tuple[Value, Value]] = []  # saves a move in every trip of a loop
    outer: list[tuple[Value, Value]] = []  # saves a move before or after a block
    for op in prog.region_of:
        if op in prog.dead:
            continue
        if own.inplace.get(op):
            if not groups.merge(op.operands[0], op.result, fixed):
                own.inplace[op] = False  # cannot share the variable: write into a copy
        elif op.name in CONTROL:
            _control_pairs(op, own, inner, outer)
    for a, b in inner + outer:
        if a not in live.inline and b not in live.inline:
            groups.merge(a, b, fixed)
    return groups


def _control_pairs(op: Op, own: Ownership, inner: list, outer: list) -> None:
    if op.name in ("for", "while"):
        first = 3 if op.name == "for" else 0
        carried = op.regions[0].args[1:] if op.name == "for" else op.regions[0].args
        body = op.regions[-1]
        for k, arg in enumerate(carried):
            if op.name == "while":
                inner.append((arg, body.args[k]))
            inner.append((arg, body.yields[k]))
            outer.append((arg, op.results[k]))
            if (op, k) not in own.copy_init:  # a copy is a move of its own
                outer.append((arg, op.operands[first + k]))
    elif op.name == "if":
        for k, r in enumerate(op.results):
            outer.extend([(r, op.regions[0].yields[k]), (r, op.regions[1].yields[k])])
    else:  # checkpoint: arguments bound to the operands
        region = op.regions[0]
        outer.extend(zip(region.args, op.operands))
        outer.extend(zip(op.results, region.yields))


def _preference(prog: Program) -> dict[Value, int]:
    """Whose hint names a group: a loop's variable, then a branch's result, then the rest."""
    pref: dict[Value, int] = {}
    for op in prog.region_of:
        if op.name in ("for", "while"):
            for region in op.regions:
                for a in region.args[1:] if op.name == "for" else region.args:
                    pref[a] = 0
        if op.name in CONTROL:
            for r in op.results:
                pref.setdefault(r, 1)
    return pref
