"""Refusing writes whose meaning depends on NumPy's reference semantics.

The IR gives arrays value semantics: ``y[i] = v`` makes a new value that only the name ``y``
sees. In NumPy, every name and view sharing ``y``'s array sees the write too. Where another
name may share the written array *and is read afterwards*, the compiled function would
silently compute something other than Python does, so the write is refused here, before
lowering, with both names and where they came to share one array.

The analysis runs on the AST, forward, and is conservative: a binding may share an array
when it is a name, a view (a basic subscript, ``.T``, ``reshape``, ``np.asarray``...), a
branch between such values, or a loop over rows; arithmetic, copies, reductions and fancy
or mask indexing make new arrays. Loops are iterated to a fixed point, so a write in one
iteration and a read of a sharing name in the next are seen; whether a name is read later
is the liveness of :mod:`.liveness`, back-edges included.

A helper that writes into one of its parameters mutates its caller's array in NumPy: its
:class:`Summary` says which parameters it writes, which other parameters it reads after such a
write, and which its result may share; the caller refuses the call when it reads that array
(under any name) afterwards, or passes it (or a view of it) for a parameter read after the write.

What only types tell is supplied by :class:`TypeFacts`, gathered from the typed IR of each
call signature (``passes/aliasing.py`` runs this analysis again with them): whether a subscript
by integers alone leaves an axis (``m[0]`` of a matrix is a view; ``y[i]`` of a vector is a
number), and whether ``y += v`` updates an array. Without them (the check at parse time), such
a subscript is taken to be a number and ``y += v`` a rebinding unless the binding of ``y``
shows an array: what the typed check then refuses, the parse-time check lets through.
"""

from __future__ import annotations

import ast
import inspect
import types
import weakref
from collections.abc import Iterator

from ..errors import ADError, Loc, UnsupportedSyntaxError
from .expressions import BINOPS
from .gate import check_function
from .liveness import Liveness, target_names
from .resolve import Custom, Helper, LibFunc, ModuleRef, Symbol, lookup_free_name, member
from .sharing import Origin, Row, Sharing, Summary, TypeFacts
from .sharing import argument_name as _argument
from .source import Source, read_function

#: NumPy functions whose result may be a view of their first argument (``a``)
_VIEW_FUNCTIONS = frozenset({"asarray", "reshape", "transpose"})
#: array methods whose result may be a view of the array
_VIEW_METHODS = frozenset({"reshape", "transpose", "ravel"})
#: NumPy functions that always return an array
_ARRAY_FUNCTIONS = frozenset(
    "zeros ones empty full zeros_like ones_like full_like arange linspace eye array copy asarray "
    "concatenate stack reshape transpose cumsum outer".split()
)
#: NumPy reductions: a scalar unless they take an axis
_REDUCTIONS = frozenset("sum mean prod max min amax amin argmax argmin var std dot linalg.norm".split())
#: array methods that always return an array
_ARRAY_METHODS = frozenset({"copy", "reshape", "transpose", "ravel", "flatten", "cumsum"})
#: adcompiler's markers that return their argument itself when run as plain Python
_IDENTITY_MARKERS = frozenset({"stop_gradient"})


class _Analysis:
    """The forward sharing analysis of one function; raises at the first refused write."""

    def __init__(
        self,
        pyfunc: types.FunctionType,
        fdef: ast.FunctionDef,
        source: Source,
        facts: TypeFacts | None = None,
        refusing: bool = True,
    ) -> None:
        self.pyfunc = pyfunc
        self.source = source
        #: what the typed IR says (None: the check at parse time, before types are known)
        self.facts = facts
        #: False: only summarise (a custom rule's function, which Python runs as written)
        self.refusing = refusing
        self.params = [a.arg for a in fdef.args.posonlyargs + fdef.args.args]
        self.locals = set(self.params) | {
            n.id for n in ast.walk(fdef) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        #: the helpers' summaries with ``facts`` (those without are cached for good)
        self.typed_summaries: dict[types.FunctionType, Summary] = {}
        self.writes: dict[str, Loc] = {}
        self.reads_after: dict[str, set[str]] = {}
        #: the positions whose types were asked for and not known (this function's and its helpers')
        self.asked: set[tuple] = set()
        self.returns: set[str] = set()
        #: for each enclosing loop, the states at its ``break`` and ``continue`` statements
        self.jumps: list[list[Sharing]] = []

    def run(self, body: list[ast.stmt]) -> Summary:
        state = Sharing()
        for param in self.params:
            state.bind(param, {_argument(param)}, Origin("", 0, param, ""))
        self.block(body, frozenset(), state, Liveness())
        reads_after = {p: frozenset(qs) for p, qs in self.reads_after.items()}
        return Summary(self.writes, frozenset(self.returns), reads_after, frozenset(self.asked))

    # ------------------------------------------------------------------ statements
    def block(self, stmts: list[ast.stmt], out: frozenset[str], state: Sharing, live: Liveness) -> Sharing:
        for stmt, after in zip(stmts, live.block(stmts, out)):
            state = self.stmt(stmt, after, state, live)
        return state

    def stmt(self, stmt: ast.stmt, out: frozenset[str], state: Sharing, live: Liveness) -> Sharing:
        self.check_calls(stmt, out, state, live)
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if stmt.value is not None:
                for target in targets:
                    self.assign(target, stmt.value, stmt, out, state)
        elif isinstance(stmt, ast.AugAssign):
            self.augassign(stmt, out, state)
        elif isinstance(stmt, ast.Return):
            returned = self.sources(stmt.value, state) if stmt.value is not None else set()
            for name in returned | {s for n in returned for s in state.sharers(n)}:
                self.returns.update(p for p in self.params if name == _argument(p))
        elif isinstance(stmt, ast.Break | ast.Continue) and self.jumps:
            self.jumps[-1].append(state.copy())
        elif isinstance(stmt, ast.If):
            then = self.block(stmt.body, out, state.copy(), live)
            return then.join(self.block(stmt.orelse, out, state.copy(), live))
        elif isinstance(stmt, ast.For | ast.While):
            return self.loop(stmt, out, state, live)
        return state

    def assign(
        self, target: ast.expr, value: ast.expr, stmt: ast.stmt, out: frozenset[str], state: Sharing
    ) -> None:
        """Bind ``target`` to ``value``; pairs up ``a, b = y, x``; a subscript is a write."""
        if isinstance(target, ast.Subscript):
            self.write(target, f"writing {ast.unparse(target.value)}[...]", stmt, out, state)
        elif isinstance(target, ast.Name):
            text = ast.unparse(stmt).split("\n")[0]
            fix = f"{target.id} = {self.copied(value, state)}"
            row = self.row_viewed(value, state)
            origin = Origin(text, self.source.loc(stmt).line, target.id, fix, row)
            state.bind(target.id, self.sources(value, state), origin, self.is_array(value, state))
        elif isinstance(target, ast.Tuple | ast.List):
            pairs = isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts)
            for k, elt in enumerate(target.elts):
                self.assign(elt, value.elts[k] if pairs else value, stmt, out, state)

    def copied(self, value: ast.expr, state: Sharing) -> str:
        """``value`` written so that it shares no array: a tuple copies its sharing items."""
        if isinstance(value, ast.Tuple):
            items = [self.copied(e, state) if self.sources(e, state) else ast.unparse(e) for e in value.elts]
            return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
        return f"{ast.unparse(value)}.copy()"

    def augassign(self, stmt: ast.AugAssign, out: frozenset[str], state: Sharing) -> None:
        """``a[i] += v`` writes into ``a``; on an array, ``a += v`` does too (in place). Whether
        ``a`` is an array is known when its binding says so, or from the typed IR."""
        target = stmt.target
        if isinstance(target, ast.Subscript):
            self.write(target, f"writing {ast.unparse(target.value)}[...]", stmt, out, state)
        elif isinstance(target, ast.Name) and (target.id in state.arrays or self.updates_array(stmt)):
            self.write(target, f"updating {target.id} in place ({ast.unparse(stmt)})", stmt, out, state)
        elif isinstance(target, ast.Name):  # a number: rebound
            state.rebound(target.id)

    def updates_array(self, stmt: ast.AugAssign) -> bool:
        """Whether the typed IR says ``y op= v`` finds an array in ``y``."""
        loc = self.source.loc(stmt)
        return self.ask((loc.file, loc.line, loc.col, BINOPS[type(stmt.op)]), "updated")

    def write(self, target: ast.expr, what: str, stmt: ast.stmt, out: frozenset[str], state: Sharing) -> None:
        """A write into the array of the name ``target`` (or of ``target``'s base)."""
        names = target_names(target)
        if not names:
            return  # x[i][j] = v: refused by the lowering
        name = names[0]
        state.arrays.add(name)  # what is written into by subscript is an array
        self.note_write({name, *state.sharers(name)}, set(out), stmt, state)
        row = self.row_written(target, state)
        for sharer, origin in state.sharers(name).items():
            if row is not None and origin.row is not None and row.apart_from(origin.row):
                continue  # h = H[t]; H[t + 1] = v: another row
            if sharer in out:
                self.refuse(
                    f"{what} also changes {sharer} in NumPy (they share one array: {origin.text} at "
                    f"line {origin.line}); adcompiler gives arrays value semantics, so it would not: "
                    f"make {origin.target} a copy ({origin.fix})",
                    stmt,
                )

    def note_write(self, written: set[str], after: set[str], node: ast.AST, state: Sharing) -> None:
        """For the summary: the parameters whose arrays a write at ``node`` may change, and the
        other parameters whose arrays a name read ``after`` it may hold."""
        for param in self.params:
            if _argument(param) not in written:
                continue
            self.writes.setdefault(param, self.source.loc(node))
            read = self.reads_after.setdefault(param, set())
            for other in self.params:
                if other != param and after & set(state.sharers(_argument(other))):
                    read.add(other)

    def loop(self, stmt: ast.For | ast.While, out: frozenset[str], state: Sharing, live: Liveness) -> Sharing:
        """Iterate the body until what may share at the loop head stops growing; ``break``
        and ``continue`` states join both the head and the exit (conservative)."""
        head_live = live.loop_head(stmt, out)
        inner = Liveness(((out, head_live), *live.loops))
        head = state
        while True:
            entry = head.copy()
            if isinstance(stmt, ast.For):
                self.bind_loop_target(stmt, entry)
            else:  # the test runs at every iteration's head, where the body's sharing reaches
                self.check_calls(stmt, out, head, live)
            self.jumps.append([])
            end = self.block(stmt.body, head_live, entry, inner)
            for jumped in self.jumps.pop():
                end = end.join(jumped)
            grown = head.join(end)
            if grown.same_as(head):
                return grown
            head = grown

    def bind_loop_target(self, stmt: ast.For, state: Sharing) -> None:
        """``for row in m`` binds views of ``m``; ``enumerate`` and ``zip`` views of theirs."""
        it, target = stmt.iter, stmt.target
        line = self.source.loc(stmt).line
        text = f"for {ast.unparse(target)} in {ast.unparse(it)}"

        def bind(name_node: ast.expr, sources: set[str]) -> None:
            for name in target_names(name_node):
                state.bind(name, sources, Origin(text, line, name, f"{name} = {name}.copy()"))

        func = self.symbol(it.func) if isinstance(it, ast.Call) else None
        if isinstance(it, ast.Call) and func == LibFunc("builtin", "range"):
            bind(target, set())
            least = _least_of_range(it)
            if least is not None and isinstance(target, ast.Name):
                state.least[target.id] = least
        elif isinstance(it, ast.Call) and func in (
            LibFunc("builtin", "enumerate"),
            LibFunc("builtin", "zip"),
        ):
            elts = list(target.elts) if isinstance(target, ast.Tuple | ast.List) else [target]
            if func.name == "enumerate" and elts:
                bind(elts.pop(0), set())
            for k, elt in enumerate(elts):
                bind(elt, self.sources(it.args[k], state) if k < len(it.args) else set())
        else:
            bind(target, self.sources(it, state))

    # ------------------------------------------------------------------ rows
    def row_viewed(self, value: ast.expr, state: Sharing) -> Row | None:
        """The row ``value`` views, where it is one whole row of a name's array: ``H[t]``,
        ``H[t + 1, :]``."""
        if not (isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name)):
            return None
        index = value.slice
        first, rest = (
            (index.elts[0], index.elts[1:]) if isinstance(index, ast.Tuple) and index.elts else (index, [])
        )
        whole = all(isinstance(e, ast.Slice) and e.lower is e.upper is e.step is None for e in rest)
        if not whole or not self.may_be_view(value, state):
            return None
        return _row(value.value.id, first, state)

    def row_written(self, target: ast.expr, state: Sharing) -> Row | None:
        """The row a subscript write lies in: ``H[t + 1] = v``, ``H[t + 1, j] = v``, ``H[t + 1][j] = v``."""
        while isinstance(target, ast.Subscript) and isinstance(target.value, ast.Subscript):
            target = target.value
        if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)):
            return None
        index = target.slice
        first = index.elts[0] if isinstance(index, ast.Tuple) and index.elts else index
        return _row(target.value.id, first, state)

    # ------------------------------------------------------------------ helper calls
    def check_calls(self, stmt: ast.stmt, out: frozenset[str], state: Sharing, live: Liveness) -> None:
        """Refuse a call to a helper that writes into an array the caller reads afterwards."""
        for expr in _own_expressions(stmt):
            for call in (n for n in ast.walk(expr) if isinstance(n, ast.Call)):
                helper = self.helper_of(call)
                if helper is None:
                    continue
                summary = self.summary_of(helper)
                if summary.writes:
                    self.check_helper_writes(
                        stmt, call, helper, summary, self.live_after_call(stmt, call, out, live), state
                    )

    def check_helper_writes(
        self,
        stmt: ast.stmt,
        call: ast.Call,
        helper: types.FunctionType,
        summary: Summary,
        after: set[str],
        state: Sharing,
    ) -> None:
        """Refuse the call when an array the helper writes into is read afterwards: by the
        caller (under any name), or by the helper itself as another parameter, bound to the
        same array by this call (``h(y, y)``, ``h(y, y[1:])``)."""
        args = _bind_arguments(helper, call)
        for param, where in summary.writes.items():
            arg = args.get(param)
            if arg is None:
                continue
            written = self.sources(arg, state)
            sharing = written | {s for n in written for s in state.sharers(n)}
            later = [q for q in sorted(summary.reads_after.get(param, ())) if q in args]
            self.note_write(
                sharing, after | {s for q in later for s in self.sources(args[q], state)}, call, state
            )
            also = [q for q in later if self.sources(args[q], state) & sharing]
            read = sorted(sharing & after)
            if not read and not also:
                continue
            passed = ast.unparse(arg)
            if read:
                reader = f"{read[0]} is read after the call"
            else:
                reader = (
                    f"it is also passed as {also[0]} ({ast.unparse(args[also[0]])}), which "
                    f"{helper.__name__}() reads after that write"
                )
            self.refuse(
                f"{helper.__name__}() writes into its parameter {param} (at line {where.line}), which in "
                f"NumPy also changes the caller's array {passed}, and {reader}; adcompiler gives arrays "
                f"value semantics, so it would not: pass a copy ({passed}.copy())",
                call,
            )

    def live_after_call(
        self, stmt: ast.stmt, call: ast.Call, out: frozenset[str], live: Liveness
    ) -> set[str]:
        """Names read after ``call`` returns: after the statement, and elsewhere in it."""
        inside = {id(n) for n in ast.walk(call)}
        elsewhere = {
            n.id
            for expr in _own_expressions(stmt)
            for n in ast.walk(expr)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in inside
        }
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            bound = {n for t in targets for n in target_names(t) if not isinstance(t, ast.Subscript)}
            return (set(out) - bound) | elsewhere
        if isinstance(stmt, ast.If):
            return set(live.before(stmt.body, out) | live.before(stmt.orelse, out)) | elsewhere
        if isinstance(stmt, ast.For | ast.While):
            return set(live.loop_head(stmt, out)) | elsewhere
        if isinstance(stmt, ast.AugAssign):
            return set(out) | elsewhere | set(target_names(stmt.target))
        return set(out) | elsewhere

    # ------------------------------------------------------------------ expressions
    def sources(self, node: ast.expr, state: Sharing) -> set[str]:
        """The names whose arrays the value of ``node`` may share (empty: a new array)."""
        if isinstance(node, ast.Name):
            return {node.id} if node.id in self.locals else set()
        if isinstance(node, ast.Subscript):
            return self.sources(node.value, state) if self.may_be_view(node, state) else set()
        if isinstance(node, ast.Attribute):
            return self.sources(node.value, state) if node.attr == "T" else set()
        if isinstance(node, ast.IfExp):
            return self.sources(node.body, state) | self.sources(node.orelse, state)
        if isinstance(node, ast.BoolOp | ast.Tuple | ast.List):
            elts = node.values if isinstance(node, ast.BoolOp) else node.elts
            return {s for e in elts for s in self.sources(e, state)}
        if isinstance(node, ast.Call):
            return self.call_sources(node, state)
        return set()

    def may_be_view(self, node: ast.Subscript, state: Sharing) -> bool:
        """Whether a subscript returns a view: a basic index with a slice, ``None`` or ``...``;
        not one indexing with an array, a list or a comparison (fancy or mask indexing, which
        copies). By integers alone, it is a view when it leaves an axis (``m[0]`` of a matrix),
        which only the typed IR tells (:class:`TypeFacts`); without it, it is taken to be a
        number, as ``y[i]`` of a vector is (``a = y[0]; y[0] = y[1]; y[1] = a`` swaps)."""
        index = node.slice
        elts = index.elts if isinstance(index, ast.Tuple) else [index]
        if any(isinstance(e, ast.List | ast.Compare) or self.is_array(e, state) for e in elts):
            return False
        if any(
            isinstance(e, ast.Slice) or (isinstance(e, ast.Constant) and e.value in (None, Ellipsis))
            for e in elts
        ):
            return True
        return self.leaves_axis(node)

    def leaves_axis(self, node: ast.Subscript) -> bool:
        """Whether the typed IR says a subscript by integers holds an array (a row, a tuple's
        array item)."""
        loc = self.source.loc(node)
        depth, inner = 0, node.value
        while isinstance(inner, ast.Subscript) and self.source.loc(inner) == loc:
            depth, inner = depth + 1, inner.value
        return self.ask((loc.file, loc.line, loc.col, depth), "views")

    def ask(self, position: tuple, what: str) -> bool:
        """What the typed IR says at ``position`` (no types: False, and the question is noted)."""
        if self.facts is None:
            self.asked.add(position)
            return False
        return position in getattr(self.facts, what)

    def is_array(self, node: ast.expr, state: Sharing) -> bool:
        """Whether ``node`` is known to be an array (False: a scalar, or not known)."""
        if isinstance(node, ast.Name):
            return node.id in state.arrays
        if isinstance(node, ast.Subscript):
            elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return any(
                isinstance(e, ast.Slice) or (isinstance(e, ast.Constant) and e.value is None) for e in elts
            ) or self.leaves_axis(node)
        if isinstance(node, ast.Attribute):
            return node.attr == "T" and self.is_array(node.value, state)
        if isinstance(node, ast.BinOp):
            return self.is_array(node.left, state) or self.is_array(node.right, state)
        if isinstance(node, ast.UnaryOp):
            return self.is_array(node.operand, state)
        if isinstance(node, ast.IfExp):
            return self.is_array(node.body, state) or self.is_array(node.orelse, state)
        if not isinstance(node, ast.Call) or isinstance(node.func, ast.Call):
            return False
        sym = self.symbol(node.func)
        if sym is None and isinstance(node.func, ast.Attribute):
            return node.func.attr in _ARRAY_METHODS
        if not (isinstance(sym, LibFunc) and sym.lib == "numpy"):
            return False
        if sym.name in _ARRAY_FUNCTIONS:
            return True
        if sym.name in _REDUCTIONS and not any(k.arg == "axis" for k in node.keywords) and len(node.args) < 2:
            return False
        return any(self.is_array(a, state) for a in node.args)

    def call_sources(self, call: ast.Call, state: Sharing) -> set[str]:
        func = call.func
        first = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "a"), None)
        helper = self.helper_of(call)
        if helper is not None:
            args = _bind_arguments(helper, call)
            return {
                s for p in self.summary_of(helper).returns if p in args for s in self.sources(args[p], state)
            }
        sym = self.symbol(func) if not isinstance(func, ast.Call) else None
        if sym is None and isinstance(func, ast.Attribute) and func.attr in _VIEW_METHODS:
            return self.sources(func.value, state)
        if isinstance(sym, Custom):  # the user's function: its result may be anything
            return {s for a in call.args for s in self.sources(a, state)}
        is_view = isinstance(sym, LibFunc) and (
            (sym.lib == "numpy" and sym.name in _VIEW_FUNCTIONS)
            or (sym.lib == "ad" and sym.name in _IDENTITY_MARKERS)
        )
        return self.sources(first, state) if is_view and first is not None else set()

    def summary_of(self, helper: types.FunctionType) -> Summary:
        """What a helper does to its arguments (with this analysis's types, when it has them)."""
        if self.facts is None:
            summary = summarise(helper)
            self.asked |= summary.asked
            return summary
        return summarise(helper, self.facts, self.typed_summaries)

    def helper_of(self, call: ast.Call) -> types.FunctionType | None:
        """The helper a call runs: ``h(...)`` or ``ad.checkpoint(h)(...)``."""
        func = call.func
        if isinstance(func, ast.Call) and self.symbol(func.func) == LibFunc("ad", "checkpoint") and func.args:
            func = func.args[0]
        sym = self.symbol(func)
        return sym.func if isinstance(sym, Helper) else None

    def symbol(self, node: ast.expr) -> Symbol | None:
        """What a free name or dotted name refers to (None: a local value, or unknown)."""
        if isinstance(node, ast.Name):
            return None if node.id in self.locals else lookup_free_name(self.pyfunc, node.id)
        if isinstance(node, ast.Attribute):
            base = self.symbol(node.value)
            if isinstance(base, ModuleRef):
                try:
                    return member(base, node.attr, self.source.loc(node))
                except UnsupportedSyntaxError:
                    return None  # the lowering reports it
        return None

    def refuse(self, message: str, node: ast.AST) -> None:
        if self.refusing:
            raise UnsupportedSyntaxError(message, self.source.loc(node))


def _row(base: str, index: ast.expr, state: Sharing) -> Row | None:
    """``base[index]`` as a :class:`Row`, where ``index`` is a name plus or minus an integer
    constant, or a constant."""
    key, offset = "", 0
    if isinstance(index, ast.BinOp) and isinstance(index.op, ast.Add | ast.Sub):
        name, number = index.left, index.right
        if isinstance(index.op, ast.Add) and isinstance(name, ast.Constant):
            name, number = number, name
        if not (isinstance(name, ast.Name) and _is_int(number)):
            return None
        key, offset = name.id, number.value if isinstance(index.op, ast.Add) else -number.value
    elif isinstance(index, ast.Name):
        key = index.id
    elif _is_int(index):
        offset = index.value
    else:
        return None
    least = offset if not key else state.least[key] + offset if key in state.least else None
    return Row(base, key, offset, least)


def _is_int(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _least_of_range(call: ast.Call) -> int | None:
    """The least value ``range(...)`` gives, when its start is a constant and its step a
    positive one (or absent)."""
    args = call.args
    if len(args) == 1 and not call.keywords:
        return 0
    if len(args) in (2, 3) and not call.keywords and _is_int(args[0]):
        if len(args) == 2 or (_is_int(args[2]) and args[2].value > 0):
            return args[0].value
    return None


def _own_expressions(stmt: ast.stmt) -> Iterator[ast.expr]:
    """The expressions a statement evaluates itself (not those of the blocks it holds)."""
    if isinstance(stmt, ast.Assign):
        yield from stmt.targets
        yield stmt.value
    elif isinstance(stmt, ast.AugAssign | ast.AnnAssign):
        yield stmt.target
        if stmt.value is not None:
            yield stmt.value
    elif isinstance(stmt, ast.Return | ast.Expr) and stmt.value is not None:
        yield stmt.value
    elif isinstance(stmt, ast.If | ast.While | ast.Assert):
        yield stmt.test
    elif isinstance(stmt, ast.For):
        yield stmt.iter


def _bind_arguments(helper: types.FunctionType, call: ast.Call) -> dict[str, ast.expr]:
    """The argument expressions a call binds to the helper's parameters."""
    code = helper.__code__
    params = code.co_varnames[: code.co_argcount]
    bound = dict(zip(params, call.args))
    bound.update((k.arg, k.value) for k in call.keywords if k.arg in params)
    return bound


_summaries: weakref.WeakKeyDictionary[types.FunctionType, Summary] = weakref.WeakKeyDictionary()
#: each function's parsed source, kept for the checks with types (one per call signature)
_read: weakref.WeakKeyDictionary[types.FunctionType, tuple[ast.FunctionDef, Source]] = (
    weakref.WeakKeyDictionary()
)
#: helpers being summarised: a recursive call is refused by the lowering, not here
_summarising: set[types.FunctionType] = set()


def check_aliasing(pyfunc: types.FunctionType, fdef: ast.FunctionDef, source: Source) -> Summary:
    """Refuse a write that another name sharing the array would see in NumPy; return what
    the function does to its parameters' arrays (cached). Types are not known yet."""
    _read[pyfunc] = fdef, source
    summary = _summaries.get(pyfunc)
    if summary is None:
        summary = _analyse(pyfunc, fdef, source, None)
        _summaries[pyfunc] = summary
    return summary


def check_aliasing_typed(pyfunc: types.FunctionType, facts: TypeFacts) -> Summary:
    """The same check knowing what the typed IR of one call signature says (``facts``): it
    refuses what needs ranks to be seen (rows taken by integers, ``y += v`` on arrays). Run
    again only when a fact answers a question the check without types asked."""
    fdef, source = _function(pyfunc)
    untyped = check_aliasing(inspect.unwrap(pyfunc), fdef, source)
    if not untyped.asked & (facts.views | facts.updated):
        return untyped
    return _analyse(pyfunc, fdef, source, facts)


def summarise_custom(func: types.FunctionType, facts: TypeFacts | None = None) -> Summary | None:
    """Which parameters a custom rule's function (or rule) writes into; None when adcompiler
    cannot read it (Python runs it as written: its own sharing is NumPy's, never refused)."""
    try:
        fdef, source = _function(func)
        return _analyse(inspect.unwrap(func), fdef, source, facts, refusing=False)
    except (ADError, OSError, TypeError):
        return None


def _analyse(
    pyfunc: types.FunctionType,
    fdef: ast.FunctionDef,
    source: Source,
    facts: TypeFacts | None,
    refusing: bool = True,
) -> Summary:
    _summarising.add(pyfunc)
    try:
        return _Analysis(pyfunc, fdef, source, facts, refusing).run(fdef.body)
    finally:
        _summarising.discard(pyfunc)


def _function(pyfunc: types.FunctionType) -> tuple[ast.FunctionDef, Source]:
    """The ``def`` of a function and its source, read once (refusing what the gate refuses)."""
    pyfunc = inspect.unwrap(pyfunc)
    read = _read.get(pyfunc)
    if read is None:
        fdef, source = read_function(pyfunc)
        check_function(fdef, source)
        read = _read[pyfunc] = fdef, source
    return read


def summarise(
    helper: types.FunctionType,
    facts: TypeFacts | None = None,
    cache: dict[types.FunctionType, Summary] | None = None,
) -> Summary:
    """A helper's :class:`Summary`, reading its source (refusing what the gate refuses); with
    ``facts``, cached in ``cache`` (those facts hold for one call signature only)."""
    helper = inspect.unwrap(helper)
    summaries = _summaries if facts is None else cache
    summary = summaries.get(helper)
    if summary is not None:
        return summary
    if helper in _summarising:
        return Summary({}, frozenset())
    fdef, source = _function(helper)
    summary = summaries[helper] = _analyse(helper, fdef, source, facts)
    return summary
