"""Which variables a block assigns, and which are live: the facts that decide what an ``if``
or a loop must carry.

A structured op hands back only the values it yields. An ``if`` yields the variables a branch
assigns that exist before it or are read after it; a loop carries the variables its body
assigns that exist before it or are live at its head (read after the loop, or read in the
body before being assigned). Liveness is computed on the AST, conservatively: a name counted
live that is not only costs a placeholder value that simplification removes.

``break``, ``continue`` and ``return`` are lowered to assignments of hidden flag variables
(:data:`BREAK`, :data:`CONTINUE`, :data:`RETURNED` and the returned value :data:`RETVAL`),
so the same machinery carries them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

BREAK = ".break"
CONTINUE = ".continue"
RETURNED = ".returned"
RETVAL = ".retval"
FLAGS = (BREAK, CONTINUE, RETURNED)
#: how hidden variables are named in the IR
HIDDEN_HINTS = {BREAK: "broke", CONTINUE: "continued", RETURNED: "returned", RETVAL: "retval"}


def reads(node: ast.AST | None) -> set[str]:
    """Names read anywhere in ``node``."""
    if node is None:
        return set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def target_names(target: ast.expr) -> list[str]:
    """Names (re)bound by an assignment target: ``x``, ``a, b``, and ``x`` of ``x[i]``."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [n for elt in target.elts for n in target_names(elt)]
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        return [target.value.id]
    return []


def _bound_names(target: ast.expr) -> list[str]:
    """Names an assignment target overwrites (not ``x`` of ``x[i] = v``: that reads ``x``)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [n for elt in target.elts for n in _bound_names(elt)]
    return []


def assigned(stmts: Iterable[ast.stmt], own_loop: bool = True) -> list[str]:
    """Variables the statements assign, in order of first assignment, flags included.

    ``break`` counts for the loop whose body this is (``own_loop``), not for enclosing ones;
    ``continue`` is never carried (it is reset every iteration).
    """
    names: dict[str, None] = {}
    for stmt in stmts:
        for name in _assigned_stmt(stmt, own_loop):
            names.setdefault(name, None)
    return list(names)


def _assigned_stmt(stmt: ast.stmt, own_loop: bool) -> list[str]:
    if isinstance(stmt, ast.Assign):
        return [n for t in stmt.targets for n in target_names(t)]
    if isinstance(stmt, ast.AugAssign | ast.AnnAssign):
        return target_names(stmt.target)
    if isinstance(stmt, ast.Return):
        return [RETURNED, RETVAL]
    if isinstance(stmt, ast.Break):
        return [BREAK] if own_loop else []
    if isinstance(stmt, ast.If):
        return assigned(stmt.body, own_loop) + assigned(stmt.orelse, own_loop)
    if isinstance(stmt, ast.For):
        return target_names(stmt.target) + assigned(stmt.body, own_loop=False)
    if isinstance(stmt, ast.While):
        return assigned(stmt.body, own_loop=False)
    return []


class Liveness:
    """Backward liveness over statements; ``loops`` holds, for each enclosing loop, what is
    live after a ``break`` (after the loop) and after a ``continue`` (at the loop head)."""

    def __init__(self, loops: tuple[tuple[frozenset[str], frozenset[str]], ...] = ()) -> None:
        self.loops = loops

    def block(self, stmts: list[ast.stmt], out: frozenset[str]) -> list[frozenset[str]]:
        """What is live after each statement of ``stmts`` when ``out`` is live after them."""
        outs = [out] * len(stmts)
        live = out
        for k in range(len(stmts) - 1, -1, -1):
            outs[k] = live
            live = self.stmt(stmts[k], live)
        return outs

    def before(self, stmts: list[ast.stmt], out: frozenset[str]) -> frozenset[str]:
        live = out
        for stmt in reversed(stmts):
            live = self.stmt(stmt, live)
        return live

    def loop_head(self, loop: ast.For | ast.While, out: frozenset[str]) -> frozenset[str]:
        """Live at the head of ``loop`` (before the test or the target's assignment)."""
        test = reads(loop.test) if isinstance(loop, ast.While) else set()
        killed = set(target_names(loop.target)) if isinstance(loop, ast.For) else set()
        head = out | test
        while True:
            inner = Liveness(((out, head), *self.loops))
            new = out | test | (inner.before(loop.body, head) - killed)
            if new == head:
                return head
            head = new

    def stmt(self, stmt: ast.stmt, out: frozenset[str]) -> frozenset[str]:
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            killed = {n for t in targets for n in _bound_names(t)}
            used = reads(stmt.value) | {n for t in targets if isinstance(t, ast.Subscript) for n in reads(t)}
            return frozenset((out - killed) | used)
        if isinstance(stmt, ast.AugAssign):
            target = stmt.target
            return frozenset(out | reads(stmt.value) | reads(target) | set(target_names(target)))
        if isinstance(stmt, ast.Return):
            return frozenset(reads(stmt.value))
        if isinstance(stmt, ast.Break):
            return self.loops[0][0] if self.loops else out
        if isinstance(stmt, ast.Continue):
            return self.loops[0][1] if self.loops else out
        if isinstance(stmt, ast.If):
            return frozenset(reads(stmt.test) | self.before(stmt.body, out) | self.before(stmt.orelse, out))
        if isinstance(stmt, ast.For):
            return frozenset(reads(stmt.iter) | self.loop_head(stmt, out))
        if isinstance(stmt, ast.While):
            return self.loop_head(stmt, out)
        return frozenset(out | reads(stmt))
