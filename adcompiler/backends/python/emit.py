"""Statements and control flow: a planned function body as lines of Python.

Pure ops come from :data:`.exprs.EXPRS`; ops that are statements (writes, tapes, checks)
from :data:`STATEMENTS` below; ``if``/``for``/``while``/``checkpoint`` from
:data:`CONTROL_EMITTERS`. Carried values that could not share a variable are moved with
one (parallel when needed) assignment at the edge of their block.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ...ir.core import Op, Region, Value
from . import exprs
from .exprs import call, index_expr, is_array, name
from .plan import Plan

INDENT = "    "
#: generated lines stay within the project's line length
MAX_LINE = 110


class Emitter:
    """Writes the lines of one function body; ``ctx`` is the module being emitted."""

    def __init__(
        self, plan: Plan, ctx: exprs.Context, tapes: dict[str, str], note: Callable[[ast.AST], None]
    ) -> None:
        self.plan = plan
        self.ctx = ctx
        self.tapes = tapes
        self.note = note
        self.lines: list[str] = []
        self._last_line: tuple[str, int] | None = None

    # ------------------------------------------------------------------ helpers
    def expr(self, v: Value) -> ast.expr:
        if v in self.plan.inline:
            op = v.op
            return exprs.expression(op, [self.expr(o) for o in op.operands], self.ctx)
        return name(self.plan.names[v])

    def src(self, node: ast.AST) -> str:
        self.note(node)
        return ast.unparse(node)

    def src_list(self, values: list[ast.expr]) -> str:
        """``a, b`` for ``return a, b`` and ``a, b = b, a``; one tuple value unpacks the same way."""
        if len(values) == 1 and isinstance(values[0], ast.Tuple) and values[0].elts:
            values = values[0].elts
            if len(values) == 1:
                return self.src(values[0]) + ","  # ``return a,``: still a tuple
        return ", ".join(self.src(v) for v in values)

    def ret(self, values: list[ast.expr]) -> None:
        """``return a, b``; one value a line when that is too long."""
        line = "return " + self.src_list(values)
        if len(INDENT + line) <= MAX_LINE:
            self.put(1, line)
            return
        if len(values) == 1 and isinstance(values[0], ast.Tuple):
            values = values[0].elts
        self.put(1, "return (")
        for v in values:
            self.put(2, f"{self.src(v)},")
        self.put(1, ")")

    def var(self, v: Value) -> str:
        return self.plan.names[v]

    def put(self, depth: int, text: str) -> None:
        self.lines.append(INDENT * depth + text)

    def used(self, v: Value) -> bool:
        return self.plan.prog.is_used(v)

    @contextmanager
    def captured(self) -> Iterator[list[str]]:
        """Lines written inside the ``with`` go to the yielded list instead."""
        saved, self.lines = self.lines, []
        try:
            yield self.lines
        finally:
            self.lines = saved

    def moves(self, depth: int, pairs: list[tuple[str, ast.expr]]) -> None:
        """Assign each target its value, as if all at once (``a, b = b, a``)."""
        pairs = [(t, e) for t, e in pairs if not _same(t, e)]
        targets = [t for t, _ in pairs]
        clobbered = any(
            isinstance(node, ast.Name) and node.id in targets[:i]
            for i, (_, e) in enumerate(pairs)
            for node in ast.walk(e)
        )
        if clobbered:
            line = f"{', '.join(targets)} = {self.src_list([e for _, e in pairs])}"
            if len(INDENT * depth + line) <= MAX_LINE:
                self.put(depth, line)
                return
            self.put(depth, f"{', '.join(targets)} = (")  # one value a line, still all at once
            for _, e in pairs:
                self.put(depth + 1, f"{self.src(e)},")
            self.put(depth, ")")
        else:
            for t, e in pairs:
                self.put(depth, f"{t} = {self.src(e)}")

    def comment(self, op: Op, depth: int) -> None:
        """``# line N: source`` when ``op`` starts a user line other than the previous one."""
        loc = op.loc
        if loc is None or (loc.file, loc.line) == self._last_line:
            return
        self._last_line = (loc.file, loc.line)
        source = loc.source_line.strip()
        text = f"# line {loc.line}: {source}" if source else f"# line {loc.line}"
        room = MAX_LINE - len(INDENT * depth)
        self.put(depth, text if len(text) <= room else text[: room - 4] + " ...")

    # ------------------------------------------------------------------ ops
    def region(self, region: Region, depth: int) -> None:
        for op in region.ops:
            if op in self.plan.prog.dead or self._is_inlined(op):
                continue
            if op.name != "comment":
                self.comment(op, depth)
            emitter = STATEMENTS.get(op.name) or CONTROL_EMITTERS.get(op.name) or Emitter.assign
            emitter(self, op, depth)

    def assign(self, op: Op, depth: int) -> None:
        if self.plan.inplace(op):  # an accumulation into an array this function owns
            value, sign = self.expr(op.operands[1]), "+"
            if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
                value, sign = value.operand, "-"
            self.put(depth, f"{self.var(op.result)} {sign}= {self.src(value)}")
            return
        value = self.src(exprs.expression(op, [self.expr(v) for v in op.operands], self.ctx))
        targets = [self.var(r) if self.used(r) else "_" for r in op.results]
        if all(t == "_" for t in targets):
            self.put(depth, value)
        else:
            self.put(depth, f"{', '.join(targets)} = {value}")

    def _target(self, op: Op, depth: int) -> str:
        """The variable a write goes to: the array itself, or a fresh copy of it."""
        target = self.var(op.result)
        if not self.plan.inplace(op):
            x = op.operands[0]
            copy = call(exprs.attr(self.expr(x), "copy")) if is_array(x) else call("np.copy", self.expr(x))
            self.put(depth, f"{target} = {self.src(copy)}")
        return target

    def setitem(self, op: Op, depth: int) -> None:
        x, v, *parts = op.operands
        target = self._target(op, depth)
        sub = ast.Subscript(name(target), index_expr(op.attrs["index"], [self.expr(p) for p in parts]))
        self.put(depth, f"{self.src(sub)} = {self.src(self.expr(v))}")

    def index_add(self, op: Op, depth: int) -> None:
        x, v, *parts = op.operands
        target = self._target(op, depth)
        index = op.attrs["index"]
        part_exprs = [self.expr(p) for p in parts]
        if any(_is_int_array(p) for p in parts):  # repeated indices must add up: np.add.at
            at = call("np.add.at", name(target), index_expr(index, part_exprs, as_call=True), self.expr(v))
            self.put(depth, self.src(at))
        else:
            sub = ast.Subscript(name(target), index_expr(index, part_exprs))
            self.put(depth, f"{self.src(sub)} += {self.src(self.expr(v))}")

    def push(self, op: Op, depth: int) -> None:
        tape = name(self.tapes[op.attrs["tape"]])
        self.put(depth, self.src(call(exprs.attr(tape, "append"), self.expr(op.operands[0]))))

    def pop(self, op: Op, depth: int) -> None:
        value = f"{self.tapes[op.attrs['tape']]}.pop()"
        self.put(depth, f"{self.var(op.result)} = {value}" if self.used(op.result) else value)

    def assert_(self, op: Op, depth: int) -> None:
        message = op.attrs.get("message")
        stmt = ast.Assert(self.expr(op.operands[0]), None if message is None else ast.Constant(message))
        self.put(depth, self.src(stmt))

    def check_finite(self, op: Op, depth: int) -> None:
        what = op.attrs["what"]
        line = self.src(call("check_finite", self.expr(op.operands[0]), ast.Constant(what)))
        if len(INDENT * depth + line) <= MAX_LINE:
            self.put(depth, line)
            return
        self.put(depth, "check_finite(")  # a long message: one of its lines per line
        self.put(depth + 1, f"{self.src(self.expr(op.operands[0]))},")
        room = MAX_LINE - len(INDENT * (depth + 1)) - 4
        for part in what.splitlines(keepends=True):
            for k in range(0, len(part), room):
                self.put(depth + 1, ast.unparse(ast.Constant(part[k : k + room])))
        self.put(depth, ")")

    def comment_op(self, op: Op, depth: int) -> None:
        """A note for readers (``# reverse sweep``): a paragraph of its own."""
        if self.lines and not self.lines[-1].rstrip().endswith(":"):
            self.lines.append("")
        width = MAX_LINE - len(INDENT * depth) - 2
        for line in op.attrs["text"].splitlines():
            for part in textwrap.wrap(line, width) or [""]:
                self.put(depth, f"# {part}".rstrip())
        self._last_line = None  # the next statement names its user line again

    # ------------------------------------------------------------------ control flow
    def if_(self, op: Op, depth: int) -> None:
        if op not in self.plan.prog.needed:  # each live result is one value either way
            self.moves(depth, self._yield_moves(op.results, op.regions[0].yields))
            return
        cond = self.expr(op.operands[0])
        branches = []
        for region in op.regions:
            with self.captured() as lines:
                self.region(region, depth + 1)
                self.moves(depth + 1, self._yield_moves(op.results, region.yields))
            branches.append(lines)
        then, orelse = (lines if _has_code(lines) else [] for lines in branches)
        if not then and not orelse:
            return
        if not then:
            then, orelse, cond = orelse, [], ast.UnaryOp(ast.Not(), cond)
        self.put(depth, f"if {self.src(cond)}:")
        self.lines.extend(then)
        if orelse and self._only_an_if(op, op.regions[1]):  # else: if ... → elif ...
            orelse = [line[len(INDENT) :] for line in orelse]
            first = next(k for k, line in enumerate(orelse) if not line.lstrip().startswith("#"))
            orelse[first] = orelse[first].replace("if ", "elif ", 1)
            self.lines.extend(orelse)
        elif orelse:
            self.put(depth, "else:")
            self.lines.extend(orelse)

    def _only_an_if(self, op: Op, region: Region) -> bool:
        """Whether ``region`` emits one ``if`` statement and nothing else."""
        emitted = [q for q in region.ops if q not in self.plan.prog.dead and not self._is_inlined(q)]
        moves = [(t, e) for t, e in self._yield_moves(op.results, region.yields) if not _same(t, e)]
        return (
            len(emitted) == 1
            and emitted[0].name == "if"
            and emitted[0] in self.plan.prog.needed
            and not moves
        )

    def _is_inlined(self, op: Op) -> bool:
        return bool(op.results) and op.results[0] in self.plan.inline

    def for_(self, op: Op, depth: int) -> None:
        lo, hi, step, *inits = op.operands
        body = op.regions[0]
        index, *args = body.args
        self.moves(depth, self._entry_moves(op, args, inits))
        bounds = [lo, hi, step]
        if _is_int(step, 1):
            bounds = [hi] if _is_int(lo, 0) else [lo, hi]
        loop = call("range", *(self.expr(b) for b in bounds))
        if op.attrs.get("reverse"):
            loop = call("reversed", loop)
        self.put(depth, f"for {self.var(index) if self.used(index) else '_'} in {self.src(loop)}:")
        self._body(op, body, args, depth)
        self.moves(depth, self._yield_moves(op.results, args))

    def while_(self, op: Op, depth: int) -> None:
        cond, body = op.regions
        carried = cond.args
        self.moves(depth, self._entry_moves(op, carried, op.operands))
        with self.captured() as test:
            self.region(cond, depth + 1)
        if _has_code(test):
            self.put(depth, "while True:")
            self.lines.extend(test)
            self.put(depth + 1, f"if {self.src(ast.UnaryOp(ast.Not(), self.expr(cond.yields[0])))}:")
            self.put(depth + 2, "break")
        else:
            self.put(depth, f"while {self.src(self.expr(cond.yields[0]))}:")
        entry = [(self.var(b), name(self.var(c))) for c, b in zip(carried, body.args) if self.used(b)]
        self._body(op, body, carried, depth, entry, started=_has_code(test))
        self.moves(depth, self._yield_moves(op.results, carried))

    def checkpoint(self, op: Op, depth: int) -> None:
        region = op.regions[0]
        self.moves(
            depth, [(self.var(a), self.expr(v)) for a, v in zip(region.args, op.operands) if self.used(a)]
        )
        self.region(region, depth)
        self.moves(depth, self._yield_moves(op.results, region.yields))

    def _body(
        self,
        op: Op,
        body: Region,
        carried: list[Value],
        depth: int,
        entry: list[tuple[str, ast.expr]] = (),
        started: bool = False,
    ) -> None:
        """A loop body between the moves into its arguments and those of its yields."""
        with self.captured() as lines:
            self.moves(depth + 1, list(entry))
            self.region(body, depth + 1)
            live = [k for k in range(len(carried)) if self.plan.prog.slot_live(op, k)]
            self.moves(depth + 1, [(self.var(carried[k]), self.expr(body.yields[k])) for k in live])
        if not _has_code(lines) and not started:
            lines.append(INDENT * (depth + 1) + "pass")
        self.lines.extend(lines)

    def _entry_moves(self, op: Op, carried: list[Value], inits: list[Value]) -> list[tuple[str, ast.expr]]:
        pairs = []
        for k, (a, init) in enumerate(zip(carried, inits)):
            if not self.plan.prog.slot_live(op, k):
                continue
            value = self.expr(init)
            if self.plan.copies_init(op, k):
                value = call(exprs.attr(value, "copy")) if is_array(init) else call("np.copy", value)
            pairs.append((self.var(a), value))
        return pairs

    def _yield_moves(self, results: list[Value], values: list[Value]) -> list[tuple[str, ast.expr]]:
        return [(self.var(r), self.expr(v)) for r, v in zip(results, values) if self.used(r)]


def _has_code(lines: list[str]) -> bool:
    """Whether a block holds a statement (comments alone do not make a block)."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in lines)


def _same(target: str, value: ast.expr) -> bool:
    return isinstance(value, ast.Name) and value.id == target


def _is_int(v: Value, number: int) -> bool:
    value = exprs.const_value(v)
    return type(value) is int and value == number


def _is_int_array(v: Value) -> bool:
    """An index operand that may repeat positions (an integer array, or unknown)."""
    t = v.type
    rank = getattr(t, "rank", None)
    return rank != 0 and getattr(t, "dtype", None) != "bool" and exprs.const_value(v) is not None


#: ops emitted as statements of their own
STATEMENTS: dict[str, Callable[[Emitter, Op, int], None]] = {
    "setitem": Emitter.setitem,
    "index_add": Emitter.index_add,
    "push": Emitter.push,
    "pop": Emitter.pop,
    "assert": Emitter.assert_,
    "check_finite": Emitter.check_finite,
    "comment": Emitter.comment_op,
}

CONTROL_EMITTERS: dict[str, Callable[[Emitter, Op, int], None]] = {
    "if": Emitter.if_,
    "for": Emitter.for_,
    "while": Emitter.while_,
    "checkpoint": Emitter.checkpoint,
}
