"""Liveness of Python variables, and which values may never share one (interference).

The analysis runs over the code as it will be emitted: a value that is inlined has no
variable, and what its expression reads is read where the expression lands. Control
flow is modelled by the moves the emitter writes (or avoids by coalescing):

* ``for``: ``args := inits`` before the loop, ``args := yields`` at the end of the body,
  ``results := args`` on exit; the loop head is a fixed point (values used in the body
  stay live around the back edge).
* ``while``: the carried variables are the ``cond`` region's arguments; the body's
  arguments are moved from them, the body's yields moved back.
* ``if``: each branch moves its yields into the results; ``checkpoint`` binds its
  arguments to the operands and moves its yields into the results.

Two values interfere when one is live where the other is defined; values defined at the
same point (parameters, a loop's block arguments, the results of one op) always do.
"""

from __future__ import annotations

from collections.abc import Iterable

from ...ir.core import Op, Region, Value
from .program import Program


class Liveness:
    """``live_after[op]``: the values read after ``op``; ``adj``: the interference graph."""

    def __init__(self, prog: Program, inline: set[Value]) -> None:
        self.prog = prog
        self.inline = inline
        self.live_after: dict[Op, frozenset[Value]] = {}
        #: values live at a loop's head (before each trip), per ``for``/``while`` op
        self.head: dict[Op, frozenset[Value]] = {}
        self.adj: dict[Value, set[Value]] = {}
        self._reads: dict[Value, frozenset[Value]] = {}
        fn = prog.fn
        live_in = self._region(fn.body, self.reads_all(fn.returns))
        self._define(fn.params, live_in)

    def reads(self, v: Value) -> frozenset[Value]:
        """The variables evaluating ``v`` reads: itself, or the leaves of its inlined expression."""
        cached = self._reads.get(v)
        if cached is None:
            if v in self.inline:
                assert v.op is not None
                cached = self.reads_all(v.op.operands)
            else:
                cached = frozenset((v,))
            self._reads[v] = cached
        return cached

    def reads_all(self, values: Iterable[Value]) -> frozenset[Value]:
        out: set[Value] = set()
        for v in values:
            out |= self.reads(v)
        return frozenset(out)

    def interferes(self, a: Value, b: Value) -> bool:
        return b in self.adj.get(a, ())

    # ------------------------------------------------------------------ the walk
    def _define(self, defs: Iterable[Value], live: Iterable[Value]) -> None:
        defs = [d for d in defs if d not in self.inline]
        live = set(live)
        for d in defs:
            others = (live | set(defs)) - {d}
            self.adj.setdefault(d, set()).update(others)
            for w in others:
                self.adj.setdefault(w, set()).add(d)

    def _region(self, region: Region, live_out: Iterable[Value]) -> set[Value]:
        live = set(live_out)
        for op in reversed(region.ops):
            if op in self.prog.dead or (op.results and op.results[0] in self.inline):
                continue
            self.live_after[op] = frozenset(live)
            step = _CONTROL_STEPS.get(op.name, Liveness._simple)
            live = step(self, op, live)
        return live

    def _simple(self, op: Op, live: set[Value]) -> set[Value]:
        self._define(op.results, live)
        return (live - set(op.results)) | self.reads_all(op.operands)

    def _if(self, op: Op, live: set[Value]) -> set[Value]:
        self._define(op.results, live)
        mid = live - set(op.results)
        then, orelse = op.regions
        live_then = self._region(then, mid | self.reads_all(self.prog.yielded(then)))
        live_else = self._region(orelse, mid | self.reads_all(self.prog.yielded(orelse)))
        if op not in self.prog.needed:  # every result is the same value either way: no branch
            return live_then | live_else
        return live_then | live_else | self.reads(op.operands[0])

    def _for(self, op: Op, live: set[Value]) -> set[Value]:
        lo, hi, step, *inits = op.operands
        body = op.regions[0]
        index, *args = body.args
        self._define(op.results, live)
        exit_live = (live - set(op.results)) | {a for a, r in zip(args, op.results) if r in live}
        head = set(exit_live)
        while True:
            self._define(args, head)  # the moves args := yields at the end of the body
            body_in = self._region(body, (head - set(args)) | self.reads_all(self.prog.yielded(body)))
            self._define([index], body_in | set(args))
            new_head = exit_live | (body_in - {index})
            if new_head == head:
                break
            head = new_head
        self.head[op] = frozenset(head)
        return (head - set(args)) | self.reads_all([lo, hi, step, *inits])

    def _while(self, op: Op, live: set[Value]) -> set[Value]:
        cond, body = op.regions
        carried, body_args = cond.args, body.args
        self._define(op.results, live)
        exit_live = (live - set(op.results)) | {c for c, r in zip(carried, op.results) if r in live}
        head = set(exit_live)
        while True:
            self._define(carried, head)  # the moves carried := yields at the end of the body
            body_in = self._region(body, (head - set(carried)) | self.reads_all(self.prog.yielded(body)))
            self._define(body_args, body_in)  # the moves body_args := carried
            needs = (body_in - set(body_args)) | {c for c, b in zip(carried, body_args) if b in body_in}
            new_head = self._region(cond, exit_live | needs | self.reads_all(self.prog.yielded(cond)))
            if new_head == head:
                break
            head = new_head
        self.head[op] = frozenset(head)
        return (head - set(carried)) | self.reads_all(op.operands)

    def _checkpoint(self, op: Op, live: set[Value]) -> set[Value]:
        region = op.regions[0]
        self._define(op.results, live)
        inner = self._region(region, (live - set(op.results)) | self.reads_all(self.prog.yielded(region)))
        for a, v in zip(region.args, op.operands):  # ``a = v``: equal values may share a variable
            self._define([a], inner - {v})
        self._define(region.args, ())
        return (inner - set(region.args)) | self.reads_all(op.operands)


_CONTROL_STEPS = {
    "if": Liveness._if,
    "for": Liveness._for,
    "while": Liveness._while,
    "checkpoint": Liveness._checkpoint,
}
