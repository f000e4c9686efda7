"""Lowering statements and control flow: a function's AST → structured SSA IR.

The lowering keeps an environment (variable name → current value). Straight-line code
rebinds names; an ``if`` lowers each branch with a copy of the environment and yields the
variables that differ; a loop carries the variables its body assigns (see :mod:`.liveness`).

``break``, ``continue`` and ``return`` assign hidden flag variables (``.break`` ...). After a
statement that may have set a flag, the rest of the block is guarded by ``if not flag``
(inside the guard the flag is known to be False again, so guards do not pile up); a loop
whose body may ``break`` or ``return`` becomes a ``while`` whose condition tests the flags,
so its trip count is exact. The returned value is the hidden variable ``.retval``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from ..ir.core import Function, Region, Value
from ..ir.types import NONE
from .expressions import BINOPS, ExprLowering
from .liveness import (
    BREAK,
    CONTINUE,
    FLAGS,
    HIDDEN_HINTS,
    RETURNED,
    RETVAL,
    Liveness,
    assigned,
    target_names,
)
from .resolve import LibFunc, as_constant, is_missing


class FunctionLowering(ExprLowering):
    """Lowers one function definition; helpers it calls are parsed separately and inlined."""

    liveness = Liveness()

    def lower(self, fdef: ast.FunctionDef) -> Function:
        names = [a.arg for a in fdef.args.posonlyargs + fdef.args.args]
        region = self.b.region
        self.function_region = region
        for name in names:
            self.env[name] = region.add_arg(Value(None, name))
            if name in self.statics:
                self.env[name] = self.const(self.statics[name])
        body = _skip_docstring(fdef.body)
        if not _always_returns(body):
            self.error(f"{fdef.name} does not return a value on every path", fdef)
        self.block(body, frozenset())
        region.yields = [self.env[RETVAL]]
        return Function(fdef.name, region, names, self.loc(fdef), defaults=self._defaults(fdef, names))

    def _defaults(self, fdef: ast.FunctionDef, names: list[str]) -> dict[str, object]:
        values = self.pyfunc.__defaults__ or ()
        defaults = {}
        for name, value, node in zip(names[len(names) - len(values) :], values, fdef.args.defaults):
            const = as_constant(value)
            if is_missing(const):
                self.error(f"the default value of {name!r} must be a number, a bool, None or a tuple", node)
            defaults[name] = const
        return defaults

    # ------------------------------------------------------------------ bindings
    def bind(self, name: str, value: Value) -> None:
        """Bind a variable; a value not named yet takes the variable's name as its hint."""
        self.env[name] = value
        if value.hint is None and name not in HIDDEN_HINTS:
            value.hint = name

    def _initial(self, name: str) -> Value:
        """The value of a hidden flag before it is set (False), or a placeholder."""
        if name in FLAGS:
            return self.const(False)
        return self.b.op("undef", result_types=[NONE])

    def _is_const(self, value: Value, expected: bool) -> bool:
        op = value.op
        return op is not None and op.name == "const" and op.attrs["value"] is expected

    # ------------------------------------------------------------------ statements
    def block(self, stmts: list[ast.stmt], out: frozenset[str]) -> None:
        """Lower ``stmts``; ``out`` is what is live after them. Stops at a definite exit and
        guards the rest of the block after a statement that may exit."""
        outs = self.liveness.block(stmts, out)
        for k, stmt in enumerate(stmts):
            rest = stmts[k + 1 :]
            if isinstance(stmt, ast.If) and self._returns_early(stmt, rest):
                # `if c: return a` then code that returns: the code is the else branch
                cond = self.expr(stmt.test)
                self.b.loc = self.loc(stmt)
                then, orelse = stmt.body, stmt.orelse + rest
                self.branch(cond, lambda t=then: self.block(t, out), lambda e=orelse: self.block(e, out), out)
                return
            self.stmt(stmt, outs[k])
            pending = [f for f in FLAGS if f in self.env and not self._is_const(self.env[f], False)]
            if not pending:
                continue
            if rest and not any(self._is_const(self.env[f], True) for f in pending):
                self.b.loc = self.loc(rest[0])
                flags = [self.env[f] for f in pending]
                stop = flags[0]
                for f in flags[1:]:
                    stop = self.b.op("or", stop, f)

                def guarded(pending: list[str] = pending, rest: list[ast.stmt] = rest) -> None:
                    for f in pending:
                        self.env[f] = self.const(False)
                    self.block(rest, out)

                self.branch(self.b.op("not", stop), guarded, lambda: None, out)
            return

    def _returns_early(self, stmt: ast.If, rest: list[ast.stmt]) -> bool:
        """An ``if`` whose body returns, followed by code that returns, outside any loop."""
        return not self.liveness.loops and _always_returns(stmt.body) and _always_returns(stmt.orelse + rest)

    def stmt(self, node: ast.stmt, out: frozenset[str]) -> None:
        self.b.loc = self.loc(node)
        if isinstance(node, ast.Assign):
            self._assign(node.targets, node.value)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._assign([node.target], node.value)
        elif isinstance(node, ast.AugAssign):
            self._augassign(node)
        elif isinstance(node, ast.If):
            cond = self.expr(node.test)
            self.b.loc = self.loc(node)
            self.branch(cond, lambda: self.block(node.body, out), lambda: self.block(node.orelse, out), out)
        elif isinstance(node, ast.For):
            self._for(node, out)
        elif isinstance(node, ast.While):
            self._while(node, out)
        elif isinstance(node, ast.Return):
            if node.value is None:
                self.error("a function adcompiler compiles must return a value", node)
            self.env[RETVAL] = self.expr(node.value)
            self.env[RETURNED] = self.const(True)
        elif isinstance(node, ast.Break):
            self.env[BREAK] = self.const(True)
        elif isinstance(node, ast.Continue):
            self.env[CONTINUE] = self.const(True)
        elif isinstance(node, ast.Assert):
            message = None if node.msg is None else self.static(node.msg, "an assert message")
            if not isinstance(message, str | None):
                self.error("an assert message must be a string literal", node)
            self.b.op("assert", self.expr(node.test), message=message)
        elif isinstance(node, ast.Expr):
            if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                self.expr(node.value)  # a string is a comment; any other value is discarded
        # ast.Pass: nothing; the gate let no other statement through

    def _assign(self, targets: list[ast.expr], value_node: ast.expr) -> None:
        target = targets[0]
        if (
            len(targets) == 1
            and isinstance(target, ast.Tuple | ast.List)
            and isinstance(value_node, ast.Tuple)
            and len(target.elts) == len(value_node.elts)
        ):  # a, b = b, a: evaluate every right-hand side first
            values = [self.expr(v) for v in value_node.elts]
            for t, v in zip(target.elts, values):
                self.assign_target(t, v)
            return
        value = self.expr(value_node)
        for t in targets:
            self.assign_target(t, value)

    def assign_target(self, target: ast.expr, value: Value) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, value)
        elif isinstance(target, ast.Tuple | ast.List):
            for k, elt in enumerate(target.elts):
                self.assign_target(elt, self.b.getitem(value, self.const(k), index=(("idx",),)))
        elif isinstance(target, ast.Subscript):
            name = self._subscript_base(target)
            index, parts = self.index(target.slice)
            self.bind_new(name, self.b.setitem(self.env[name], value, *parts, index=index))
        else:
            self.error("only names and subscripts of names can be assigned to", target)

    def bind_new(self, name: str, value: Value) -> None:
        """Bind the new version of a variable (e.g. the array after ``x[i] = v``)."""
        value.hint = name
        self.env[name] = value

    def _subscript_base(self, target: ast.Subscript) -> str:
        if not isinstance(target.value, ast.Name):
            self.error(
                "only subscripts of a variable can be assigned to: write x[i, j] = v, not x[i][j] = v", target
            )
        name = target.value.id
        if name not in self.env:
            self.error(f"{name!r} is assigned to before it is defined", target)
        return name

    def _augassign(self, node: ast.AugAssign) -> None:
        target = node.target
        if isinstance(target, ast.Name):
            if target.id not in self.env:
                self.error(f"{target.id!r} is updated before it is defined", node)
            self.bind(target.id, self.b.op(BINOPS[type(node.op)], self.env[target.id], self.expr(node.value)))
        elif isinstance(target, ast.Subscript):
            name = self._subscript_base(target)
            index, parts = self.index(target.slice)
            x = self.env[name]
            old = self.b.getitem(x, *parts, index=index)
            new = self.b.op(BINOPS[type(node.op)], old, self.expr(node.value))
            self.bind_new(name, self.b.setitem(x, new, *parts, index=index))
        else:
            self.error("only names and subscripts of names can be updated", node)

    # ------------------------------------------------------------------ branches
    def branch(
        self, cond: Value, then: Callable[[], None], orelse: Callable[[], None], out: frozenset[str]
    ) -> None:
        """An ``if`` op over two branches that rebind variables; yields what changed."""
        outer = self.env
        loc = self.b.loc
        regions, envs = [], []
        for build in (then, orelse):
            region = Region()
            self.env = dict(outer)
            self.in_region(region, build)
            regions.append(region)
            envs.append(self.env)
        self.env = dict(outer)
        self.b.loc = loc
        names = [
            n
            for n in dict.fromkeys([*envs[0], *envs[1]])
            if any(e.get(n) is not outer.get(n) for e in envs)
            and (n in outer or n in out or n in HIDDEN_HINTS)
        ]
        kept = []
        for name in names:
            values = []
            for region, env in zip(regions, envs):
                v = env.get(name) or outer.get(name)
                if v is None:
                    self.in_region(
                        region, lambda name=name, values=values: values.append(self._initial(name))
                    )
                else:
                    values.append(v)
            consts = [v.op.attrs["value"] for v in values if v.op is not None and v.op.name == "const"]
            if len(consts) == 2 and _same_scalar(*consts):
                self.env[name] = self.const(consts[0])  # e.g. both branches return
                continue
            kept.append(name)
            for region, v in zip(regions, values):
                region.yields.append(v)
        results = self.b.if_(cond, regions[0], regions[1], [None] * len(kept), [_hint(n) for n in kept])
        for name, value in zip(kept, results):
            self.env[name] = value

    # ------------------------------------------------------------------ loops
    def _carried(self, candidates: list[str], head: frozenset[str]) -> list[str]:
        """The loop's carried variables: assigned in its body, and defined before it or live
        at its head; plus the flags it may set."""
        special = (BREAK, RETURNED, RETVAL)
        return [n for n in dict.fromkeys(candidates) if n in self.env or n in head or n in special]

    def _inits(self, carried: list[str]) -> list[Value]:
        return [self._initial(n) if n == BREAK or n not in self.env else self.env[n] for n in carried]

    def _iteration(self, node: ast.For) -> tuple[Value, Value, Value, Callable[[Value], None], str]:
        """``range(...)``, ``enumerate(x)``, ``zip(x, y)`` or an array's rows: the index range and
        how to bind the loop target from the index."""
        it, target = node.iter, node.target
        func = self.symbol_of(it.func) if isinstance(it, ast.Call) else None
        zero, one = lambda: self.const(0), lambda: self.const(1)
        if func == LibFunc("builtin", "range") and isinstance(it, ast.Call):
            if it.keywords or not 1 <= len(it.args) <= 3:
                self.error("range() takes 1 to 3 positional arguments", it)
            bounds = [self.expr(a) for a in it.args]
            if len(bounds) == 1:
                bounds = [zero(), bounds[0]]
            lo, hi, step = bounds if len(bounds) == 3 else (*bounds, one())
            hint = target.id if isinstance(target, ast.Name) else "i"
            return lo, hi, step, lambda i: self.assign_target(target, i), hint
        if func in (LibFunc("builtin", "enumerate"), LibFunc("builtin", "zip")) and isinstance(it, ast.Call):
            if it.keywords or not it.args or (func.name == "enumerate" and len(it.args) != 1):
                self.error(f"{func.name}() arguments not supported", it)
            seqs = [self.expr(a) for a in it.args]
            n = self.b.len(seqs[0])
            for s in seqs[1:]:
                n = self.b.minimum(n, self.b.len(s))
            if not isinstance(target, ast.Tuple) or len(target.elts) != len(seqs) + (
                func.name == "enumerate"
            ):
                self.error(f"unpack each item of {func.name}() into names: for a, b in ...", target)

            def bind_items(i: Value) -> None:
                elts = list(target.elts)
                if func.name == "enumerate":
                    self.assign_target(elts.pop(0), i)
                for elt, s in zip(elts, seqs):
                    self.assign_target(elt, self.b.getitem(s, i, index=(("idx",),)))

            return zero(), n, one(), bind_items, "i"
        seq = self.expr(it)
        bind_row = lambda i: self.assign_target(target, self.b.getitem(seq, i, index=(("idx",),)))
        return zero(), self.b.len(seq), one(), bind_row, "i"

    def _for(self, node: ast.For, out: frozenset[str]) -> None:
        lo, hi, step, bind_target, hint = self._iteration(node)
        self.b.loc = self.loc(node)
        head = self.liveness.loop_head(node, out)
        body_assigns = assigned(node.body)
        carried = self._carried(target_names(node.target) + body_assigns, head)
        if BREAK in body_assigns or RETURNED in body_assigns:
            self._for_as_while(node, out, head, carried, (lo, hi, step), bind_target, hint)
            return
        inits = self._inits(carried)
        body = Region([Value(None, hint)] + [Value(None, _hint(n)) for n in carried])
        outer = self.env
        self.env = dict(outer) | dict(zip(carried, body.args[1:]))

        def build() -> None:
            bind_target(body.args[0])
            self._loop_body(node, out, head)
            body.yields = [self.env[n] for n in carried]

        self.in_region(body, build)
        self.b.loc = self.loc(node)
        results = self.b.for_(lo, hi, step, inits, body, [None] * len(carried), [_hint(n) for n in carried])
        self._after_loop(outer, carried, results)

    def _for_as_while(self, node, out, head, carried, bounds, bind_target, hint) -> None:
        """A ``for`` that may break or return: a ``while`` over a hidden counter."""
        lo, hi, step = bounds

        def test(i: Value) -> Value:
            op = step.op
            if op is not None and op.name == "const":
                return self.b.op("lt" if op.attrs["value"] > 0 else "gt", i, hi)
            return self.b.where(self.b.gt(step, self.const(0)), self.b.lt(i, hi), self.b.gt(i, hi))

        self._while_loop(
            node, out, head, carried, (hint, lo), test, bind_target, lambda i: self.b.add(i, step)
        )

    def _while(self, node: ast.While, out: frozenset[str]) -> None:
        head = self.liveness.loop_head(node, out)
        carried = self._carried(assigned(node.body), head)
        forever = isinstance(node.test, ast.Constant) and node.test.value is True
        self._while_loop(node, out, head, carried, None, None if forever else lambda _: self.expr(node.test))

    def _while_loop(
        self,
        node: ast.For | ast.While,
        out: frozenset[str],
        head: frozenset[str],
        carried: list[str],
        counter: tuple[str, Value] | None,
        test: Callable[[Value | None], Value] | None,
        bind_target: Callable[[Value], None] | None = None,
        advance: Callable[[Value], Value] | None = None,
    ) -> None:
        """A ``while`` op carrying ``carried`` (and a hidden counter); its condition is False
        once a ``break`` or ``return`` flag is set, else ``test``."""
        inits = ([counter[1]] if counter else []) + self._inits(carried)
        hints = ([counter[0]] if counter else []) + [_hint(n) for n in carried]
        n_extra = len(inits) - len(carried)
        cond = Region([Value(None, h) for h in hints])
        body = Region([Value(None, h) for h in hints])
        outer = self.env
        stops = [n for n in (BREAK, RETURNED) if n in carried]

        def build_cond() -> None:
            self.env = dict(outer) | dict(zip(carried, cond.args[n_extra:]))
            i = cond.args[0] if counter else None
            stop = None
            for f in stops:
                stop = self.env[f] if stop is None else self.b.op("or", stop, self.env[f])
            if stop is None:
                cond.yields = [test(i) if test else self.const(True)]
            elif test is None:
                cond.yields = [self.b.op("not", stop)]
            else:
                cond.yields = [self.select(stop, lambda: self.const(False), lambda: test(i))]

        def build_body() -> None:
            self.env = dict(outer) | dict(zip(carried, body.args[n_extra:]))
            for f in stops:  # the condition let this iteration run: the flags are False
                self.env[f] = self.const(False)
            if bind_target is not None:
                bind_target(body.args[0])
            self._loop_body(node, out, head)
            extra = [advance(body.args[0])] if advance is not None else []
            body.yields = extra + [self.env[n] for n in carried]

        self.in_region(cond, build_cond)
        self.in_region(body, build_body)
        self.env = outer
        self.b.loc = self.loc(node)
        results = self.b.while_(inits, cond, body, [None] * len(inits), hints)
        self._after_loop(outer, carried, results[n_extra:])

    def _loop_body(self, node: ast.For | ast.While, out: frozenset[str], head: frozenset[str]) -> None:
        if any(isinstance(n, ast.Continue) for n in _own_statements(node.body)):
            self.env[CONTINUE] = self.const(False)
        saved = self.liveness
        self.liveness = Liveness(((out, head), *saved.loops))
        try:
            self.block(node.body, head)
        finally:
            self.liveness = saved

    def _after_loop(self, outer: dict[str, Value], carried: list[str], results: list[Value]) -> None:
        self.env = dict(outer)
        for name, value in zip(carried, results):
            if name != BREAK:  # a loop's break flag is its own; the enclosing loop's is unchanged
                self.env[name] = value


def _hint(name: str) -> str:
    return HIDDEN_HINTS.get(name, name)


def _same_scalar(a: object, b: object) -> bool:
    return isinstance(a, bool | int | float) and type(a) is type(b) and a == b


def _skip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return body[1:]
    return body


def _own_statements(stmts: list[ast.stmt]):
    """Statements of a loop body, not descending into nested loops."""
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _own_statements(stmt.body)
            yield from _own_statements(stmt.orelse)


def _always_returns(stmts: list[ast.stmt]) -> bool:
    """Whether every path through ``stmts`` ends in a ``return`` (Python's rule, plus
    ``while True`` loops that only ``return``)."""
    for stmt in stmts:
        if isinstance(stmt, ast.Return):
            return True
        if isinstance(stmt, ast.If) and _always_returns(stmt.body) and _always_returns(stmt.orelse):
            return True
        if (
            isinstance(stmt, ast.While)
            and isinstance(stmt.test, ast.Constant)
            and stmt.test.value is True
            and not any(isinstance(s, ast.Break) for s in _own_statements(stmt.body))
        ):
            return True
    return False
