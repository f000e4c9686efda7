"""Random statements and function bodies.

:class:`FuncGen` writes the body of one function as a list of source lines. It keeps a
:class:`~progen.scope.Scope` of the variables in scope with their static bounds, and only
emits updates that keep those bounds valid (see :mod:`progen.scope` for the loop rules):
a loop picks the variables it carries before its body is generated, accumulators get a
bound that covers every iteration, and everything else defined outside the loop is
read-only inside it. Array element writes only target arrays created by a constructor in
the generated code (never an argument, so the program never mutates its inputs).
"""

from __future__ import annotations

from collections.abc import Callable

from .context import Ctx, HelperSig
from .exprs import BMAX, ExprGen
from .scope import KEEP_BOUND, Kind, Mode, Scope, Var
from .text import MUL, Expr, binop, indent, int_lit, lit, view_roots

#: Largest bound an accumulator may reach; beyond, carried values are only contracted.
ACCUM_MAX = 60.0
#: Per-iteration growth allowed for an accumulator: ``+ ACC_STEP`` or ``* ACC_FACTOR``.
ACC_STEP = 1.6
ACC_FACTOR = 1.16

_PREFIX = {Kind.F: "t", Kind.V: "v", Kind.W: "r", Kind.M: "mat"}


class FuncGen:
    """Generates the body of one function."""

    def __init__(
        self, ctx: Ctx, avail: frozenset[Kind], returns: tuple[Kind, ...], helpers: list[HelperSig]
    ) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.avail = avail
        self.returns = returns
        self.helpers = helpers
        #: Statements left before only simple statements are generated (bounds length).
        self.budget = ctx.cfg.max_lines
        #: Names whose arrays must never be returned or stored as views (helper params).
        self.protect: set[str] = set()
        #: Max bound over every return statement, per returned value.
        self.return_bounds = [0.0] * len(returns)

    # ---- blocks -------------------------------------------------------------------------

    def body(self, scope: Scope) -> list[str]:
        """The whole function body, ending with a return statement."""
        cfg = self.ctx.cfg
        lines: list[str] = []
        if cfg.enabled("misc_statements") and self.ctx.coin(0.2):
            lines.append('"""A generated test program."""')
        count = self.rng.randint(cfg.min_statements, cfg.max_statements)
        lines += self.block(scope, count, nesting=0)
        lines += self.return_stmt(scope)
        return lines

    def block(self, scope: Scope, count: int, nesting: int) -> list[str]:
        lines: list[str] = []
        for _ in range(count if self.budget > 0 else min(count, 1)):
            lines += self.stmt(scope, nesting)
        return lines

    def stmt(self, scope: Scope, nesting: int) -> list[str]:
        ctx = self.ctx
        options: list[tuple[float, Callable[[Scope, int], list[str]]]] = [
            (4.0, self.assign_new),
        ]
        if self._free_floats(scope):
            options.append((1.5, self.reassign))
        if any(v.mode in (Mode.ACCUM, Mode.KEEP) for v in scope.floats()):
            options.append((3.0, self.carried_update))
        if ctx.on("tuples"):
            options.append((0.6, self.tuple_assign))
        if ctx.on("array_writes") and self._array_kinds():
            options.append((0.8, self.new_buffer))
            if any(v.owned and v.mode is Mode.FREE for v in scope.floats()):
                options.append((1.2, self.free_write))
        self.budget -= 1
        if nesting < ctx.cfg.max_nesting and self.budget > 4:
            if ctx.on("if_else"):
                options.append((1.5, self.if_stmt))
            loops_ok = scope.loop_depth == 0 or ctx.on("nested_loops")
            if loops_ok and ctx.on("for_loops"):
                options.append((1.5, self.for_stmt))
            if loops_ok and ctx.on("while_loops"):
                options.append((0.7, self.while_stmt))
            if scope.in_loop and ctx.on("break_continue") and ctx.on("if_else"):
                options.append((0.6, self.break_continue))
            if ctx.on("early_return") and ctx.on("if_else"):
                options.append((0.4, self.early_return))
        if ctx.on("misc_statements"):
            options.append((0.15, self.misc))
        _, make = self.rng.choices(options, weights=[w for w, _ in options])[0]
        return make(scope, nesting)

    def exprs(self, scope: Scope) -> ExprGen:
        return ExprGen(self.ctx, scope, self.avail)

    def _array_kinds(self) -> list[Kind]:
        return [k for k in (Kind.V, Kind.W, Kind.M) if k in self.avail]

    def _free_floats(self, scope: Scope) -> list[Var]:
        return [v for v in scope.floats() if v.mode is Mode.FREE]

    def _pick_kind(self) -> Kind:
        kinds = sorted(self.avail, key=lambda k: k.value)
        weights = [3.0 if k is Kind.F else 1.5 for k in kinds]
        return self.rng.choices(kinds, weights=weights)[0]

    # ---- simple statements -------------------------------------------------------------

    def assign_new(self, scope: Scope, nesting: int) -> list[str]:
        kind = self._pick_kind()
        e = self.unaliased(scope, self.exprs(scope).expr(kind))
        name = self.ctx.fresh(_PREFIX[kind])
        scope.define(Var(name, kind, e.bound))
        return [f"{name} = {e.text}"]

    def reassign(self, scope: Scope, nesting: int) -> list[str]:
        var = self.rng.choice(self._free_floats(scope))
        gen = self.exprs(scope)
        in_place = False
        if self.ctx.on("aug_assign") and self.ctx.coin(0.6):
            op = self.rng.choice(["+=", "-=", "*="])
            e = gen.small(var.kind) if op == "*=" else gen.expr(var.kind)
            bound = var.bound * e.bound if op == "*=" else var.bound + e.bound
            if var.kind.is_array and not var.owned:  # in place would mutate an alias
                line = f"{var.name} = {var.name} {op[0]} {e.at(MUL + 1)}"
            else:
                in_place = var.kind.is_array
                line = f"{var.name} {op} {e.text}"
        else:
            e = gen.expr(var.kind)
            if self.ctx.coin(0.5):  # x = x <op> e, reading the old value
                op = self.rng.choice(["+", "-", "*"])
                old = Expr(var.name, var.kind, var.bound)
                b = var.bound * e.bound if op == "*" else var.bound + e.bound
                e = binop(op, old, e, var.kind, b)
            e = self.unaliased(scope, e)
            bound = e.bound
            line = f"{var.name} = {e.text}"
        var.owned = var.owned and in_place
        if bound > BMAX:  # keep the value bounded: squash on the next line
            squashed = self.exprs(scope).squash(Expr(var.name, var.kind, bound))
            var.bound, var.owned = squashed.bound, False
            return [line, f"{var.name} = {squashed.text}"]
        var.bound = bound
        return [line]

    def unaliased(self, scope: Scope, e: Expr) -> Expr:
        """``e``, or a copy of it if it may be a view of an array that gets written to."""
        if not e.kind.is_array:
            return e
        owned = {v.name for v in scope.floats() if v.owned} | self.protect
        if view_roots(e.text) & owned:
            if self.ctx.on("constructors"):
                return Expr(f"{e.atom()}.copy()", e.kind, e.bound)
            return binop("*", lit(1.0), e, e.kind, e.bound)
        return e

    def tuple_assign(self, scope: Scope, nesting: int) -> list[str]:
        rng, gen = self.rng, self.exprs(scope)
        tuple_helpers = [s for s in self.helpers if len(s.returns) > 1 and self._callable(s)]
        if tuple_helpers and rng.random() < 0.5:
            sig = rng.choice(tuple_helpers)
            args = gen.helper_args(sig, 1)
            names = [self.ctx.fresh(_PREFIX[k]) for k in sig.returns]
            for name, k, b in zip(names, sig.returns, sig.return_bounds, strict=True):
                scope.define(Var(name, k, b))
            return [f"{', '.join(names)} = {sig.name}({args})"]
        free = self._free_floats(scope)
        pairs = [(a, b) for a in free for b in free if a.name < b.name and a.kind is b.kind]
        if pairs and rng.random() < 0.3:
            a, b = rng.choice(pairs)
            a.bound, b.bound = b.bound, a.bound
            a.owned = b.owned = False
            return [f"{a.name}, {b.name} = {b.name}, {a.name}"]
        k1, k2 = self._pick_kind(), self._pick_kind()
        e1, e2 = self.unaliased(scope, gen.expr(k1)), self.unaliased(scope, gen.expr(k2))
        n1, n2 = self.ctx.fresh(_PREFIX[k1]), self.ctx.fresh(_PREFIX[k2])
        scope.define(Var(n1, k1, e1.bound))
        scope.define(Var(n2, k2, e2.bound))
        return [f"{n1}, {n2} = {e1.text}, {e2.text}"]

    def _callable(self, sig: HelperSig) -> bool:
        return all(k in self.avail for _, k in sig.params)

    def new_buffer(self, scope: Scope, nesting: int) -> list[str]:
        """A fresh array that later statements may write into."""
        rng, ctx = self.rng, self.ctx
        kind = rng.choice(self._array_kinds())
        shape = {Kind.V: str(ctx.cols), Kind.W: str(ctx.rows), Kind.M: f"({ctx.rows}, {ctx.cols})"}[kind]
        like = scope.of_kind(kind)
        form = rng.randrange(5)
        if form == 0 or (form >= 3 and not like):
            text, bound = f"np.zeros({shape})", 0.0
        elif form == 1:
            text, bound = f"np.ones({shape})", 1.0
        elif form == 2:
            c = lit(round(rng.uniform(-1, 1), 2))
            text, bound = f"np.full({shape}, {c.text})", c.bound
        elif form == 3:
            src = rng.choice(like)
            text, bound = rng.choice([f"{src.name}.copy()", f"np.copy({src.name})"]), src.bound
        else:
            src = rng.choice(like)
            text, bound = rng.choice(
                [(f"np.zeros_like({src.name})", 0.0), (f"np.ones_like({src.name})", 1.0)]
            )
        name = ctx.fresh("buf")
        scope.define(Var(name, kind, bound, owned=True))
        return [f"{name} = {text}"]

    def _target(self, gen: ExprGen, var: Var) -> tuple[str, Kind]:
        """A subscript target in ``var`` and the kind of the value it holds."""
        rng, ctx = self.rng, self.ctx
        if ctx.on("masks") and rng.random() < 0.15:
            return f"{var.name}[{gen.mask(var.kind)}]", Kind.F
        if var.kind is Kind.M:
            form = rng.randrange(4)
            if form == 0 and Kind.V in self.avail:
                return f"{var.name}[{gen.index(ctx.rows)}]", Kind.V
            if form == 1 and Kind.W in self.avail and ctx.on("slicing"):
                return f"{var.name}[:, {gen.index(ctx.cols)}]", Kind.W
            return f"{var.name}[{gen.index(ctx.rows)}, {gen.index(ctx.cols)}]", Kind.F
        if ctx.on("slicing") and rng.random() < 0.2:
            return f"{var.name}[{rng.choice(['1:', ':-1', '::2'])}]", Kind.F
        return f"{var.name}[{gen.index(ctx.length(var.kind))}]", Kind.F

    def free_write(self, scope: Scope, nesting: int) -> list[str]:
        var = self.rng.choice([v for v in scope.floats() if v.owned and v.mode is Mode.FREE])
        gen = self.exprs(scope)
        target, kind = self._target(gen, var)
        e = gen.expr(kind)
        if self.ctx.on("aug_assign") and self.ctx.coin(0.5):
            var.bound += e.bound
            line = f"{target} += {e.text}"
        else:
            var.bound = max(var.bound, e.bound)
            line = f"{target} = {e.text}"
        if var.bound > BMAX:
            e = gen.small(kind)
            var.bound = max(var.bound - BMAX, e.bound)
            return [f"{target} = {e.text}"]
        return [line]

    def misc(self, scope: Scope, nesting: int) -> list[str]:
        ints = scope.ints()
        if ints and self.ctx.coin(0.6):
            v = self.rng.choice(ints)
            return [f"assert {v.name} >= {v.lo}"]
        return ["pass"]

    # ---- loop-carried updates ---------------------------------------------------------

    def carried_update(self, scope: Scope, nesting: int) -> list[str]:
        carried = [v for v in scope.floats() if v.mode in (Mode.ACCUM, Mode.KEEP)]
        return self.update_carried(scope, self.rng.choice(carried))

    def update_carried(self, scope: Scope, var: Var) -> list[str]:
        """One bound-preserving update of a loop-carried variable."""
        rng, gen = self.rng, self.exprs(scope)
        accumulate = var.mode is Mode.ACCUM and not var.accum_used and rng.random() < 0.7
        if var.owned and self.ctx.on("array_writes") and rng.random() < 0.6:
            target, kind = self._target(gen, var)
        else:
            target, kind = var.name, var.kind
        step = gen.small(kind)
        if target == var.name and kind.is_array and view_roots(step.text):
            step = gen.squash(step)
        # in-place updates of a whole array are only safe on arrays we created
        aug = self.ctx.on("aug_assign") and (target != var.name or not kind.is_array or var.owned)
        if accumulate:
            var.accum_used = True
            c = lit(round(rng.uniform(0.1, 1.0), 2))
            form = rng.randrange(4)
            if form == 0 and aug:
                return [f"{target} += {binop('*', c, step, kind, 1.0).text}"]
            if form == 1 and aug:
                return [f"{target} -= {binop('*', c, step, kind, 1.0).text}"]
            if form == 2 and target == var.name:
                factor = f"1.0 + 0.1 * {step.at(MUL + 1)}"
                if aug:
                    return [f"{target} *= {factor}"]
                return [f"{target} = {target} * ({factor})"]
            return [f"{target} = {target} + {binop('*', c, step, kind, 1.0).text}"]
        if rng.random() < 0.4:
            return [f"{target} = {step.text}"]
        k = rng.choice([0.5, 0.8, 0.9])
        old = f"{k!r} * {target}"
        return [f"{target} = {old} + {round(1 - k, 2)!r} * {step.at(MUL + 1)}"]

    # ---- control flow -------------------------------------------------------------------

    def if_stmt(self, scope: Scope, nesting: int) -> list[str]:
        rng, cfg = self.rng, self.ctx.cfg
        n_elif = rng.choice([0, 0, 0, 1, 1, 2])
        has_else = rng.random() < 0.7
        join_kind = self._pick_kind() if has_else and rng.random() < 0.6 else None
        join_name = self.ctx.fresh(_PREFIX[join_kind]) if join_kind else ""
        join_bound = 0.0
        lines: list[str] = []
        branches: list[Scope] = []
        for b in range(1 + n_elif + (1 if has_else else 0)):
            inner = scope.copy()
            if b < 1 + n_elif:
                c = self.exprs(scope).cond()
                lines.append(f"{'if' if b == 0 else 'elif'} {c.text}:")
            else:
                lines.append("else:")
            body = self.block(inner, rng.randint(1, cfg.max_block_statements), nesting + 1)
            if join_kind:
                e = self.unaliased(inner, self.exprs(inner).expr(join_kind))
                join_bound = max(join_bound, e.bound)
                body.append(f"{join_name} = {e.text}")
            lines += indent(body)
            branches.append(inner)
        self._merge(scope, branches)
        if join_kind:
            scope.define(Var(join_name, join_kind, join_bound))
        return lines

    def _merge(self, scope: Scope, branches: list[Scope]) -> None:
        """After an if: the bound of each outer variable is the max over the branches."""
        for name, var in scope.vars.items():
            for br in branches:
                other = br.vars[name]
                var.bound = max(var.bound, other.bound)
                var.owned = var.owned and other.owned
                var.accum_used = var.accum_used or other.accum_used

    def break_continue(self, scope: Scope, nesting: int) -> list[str]:
        c = self.exprs(scope).cond()
        word = self.rng.choice(["break", "continue"])
        if word == "continue":
            scope.loop_flags["continue"] = True
        return [f"if {c.text}:", f"    {word}"]

    def early_return(self, scope: Scope, nesting: int) -> list[str]:
        c = self.exprs(scope).cond()
        return [f"if {c.text}:", *indent(self.return_stmt(scope))]

    def _choose_carried(self, scope: Scope, trips: int) -> tuple[Scope, list[str], list[Var]]:
        """The scope of a loop body: carried variables get modes and loop-wide bounds."""
        rng = self.rng
        pre: list[str] = []
        if self.ctx.on("array_writes") and self._array_kinds() and rng.random() < 0.35:
            pre = self.new_buffer(scope, 0)
        inner = scope.copy()
        inner.local_names = []
        candidates = [v for v in inner.floats() if v.mode is not Mode.FROZEN]
        rng.shuffle(candidates)
        carried: list[Var] = []
        want = rng.randint(1, 3)
        for var in candidates:
            if len(carried) >= want:
                break
            if pre and var.name != scope.local_names[-1] and not carried and rng.random() < 0.5:
                continue
            grown = (var.bound + ACC_STEP * trips) * ACC_FACTOR**trips
            if var.mode is Mode.FREE and grown <= ACCUM_MAX and rng.random() < 0.7:
                var.mode, var.bound = Mode.ACCUM, max(KEEP_BOUND, grown)
            elif var.mode is Mode.FREE or var.bound >= KEEP_BOUND:
                var.mode, var.bound = Mode.KEEP, max(KEEP_BOUND, var.bound)
            else:
                continue
            var.accum_used = False
            carried.append(var)
        carried_names = {v.name for v in carried}
        for var in inner.vars.values():
            if var.name not in carried_names:
                var.mode = Mode.FROZEN
        inner.loop_depth = scope.loop_depth + 1
        inner.trips = trips
        inner.in_loop = True
        inner.loop_flags = {}
        return inner, pre, carried

    def _loop_body(self, inner: Scope, carried: list[Var], nesting: int) -> list[str]:
        """Statements of a loop body, with at least one update of each carried variable."""
        rng = self.rng
        n = rng.randint(1, self.ctx.cfg.max_block_statements) if self.budget > 0 else 1
        plan: list[Var | None] = [None] * n + list(carried)
        rng.shuffle(plan)
        lines: list[str] = []
        for item in plan:  # generated in order: each statement sees the ones before
            if item is None:
                lines += self.stmt(inner, nesting + 1)
            else:
                lines += self.update_carried(inner, inner.vars[item.name])
        return lines

    def _after_loop(self, scope: Scope, inner: Scope, carried: list[Var]) -> None:
        for var in carried:
            outer = scope.vars[var.name]
            outer.bound = max(outer.bound, var.bound)
            outer.owned = outer.owned and var.owned
        for name, var in scope.vars.items():  # bounds raised by nested updates
            outer_bound = inner.vars[name].bound
            var.bound = max(var.bound, outer_bound)

    def for_stmt(self, scope: Scope, nesting: int) -> list[str]:
        rng, ctx = self.rng, self.ctx
        if ctx.on("for_over_array") and rng.random() < 0.25:
            return self._for_over_array(scope, nesting)
        header, lo, hi, trips = self._range(scope)
        inner, pre, carried = self._choose_carried(scope, trips)
        idx = self._index_name(scope)
        inner.vars[idx] = Var(idx, Kind.I, 0.0, Mode.FROZEN, lo=lo, hi=hi, is_index=True)
        body = self._loop_body(inner, carried, nesting)
        self._after_loop(scope, inner, carried)
        return [*pre, f"for {idx} in {header}:", *indent(body)]

    def _index_name(self, scope: Scope) -> str:
        for name in ("i", "j", "k", "l2", "q"):
            if name not in scope.vars:
                return name
        return self.ctx.fresh("ix")

    def _range(self, scope: Scope) -> tuple[str, int, int, int]:
        """A ``range(...)`` header, the index range ``[lo, hi)`` and a trip-count bound."""
        rng, ctx = self.rng, self.ctx
        arrays = [v for v in scope.vars.values() if v.kind in (Kind.V, Kind.W)]
        mats = scope.of_kind(Kind.M)
        n = scope.vars.get("n")
        form = rng.randrange(8)
        if form == 0 and arrays:
            a = rng.choice(arrays)
            size = ctx.length(a.kind)
            text = rng.choice([f"len({a.name})", f"{a.name}.shape[0]"])
            return f"range({text})", 0, size, size
        if form == 1 and mats:
            m = rng.choice(mats)
            axis = rng.randint(0, 1)
            size = ctx.rows if axis == 0 else ctx.cols
            return f"range({m.name}.shape[{axis}])", 0, size, size
        if form == 2 and n is not None:
            return "range(n)", 0, ctx.n_max, ctx.n_max
        if form == 3:
            size = rng.choice([ctx.cols, ctx.rows])
            return f"range({size} - 1, -1, -1)", 0, size, size
        if form == 4:
            size = rng.choice([ctx.cols, ctx.rows])
            return f"range(1, {size})", 1, size, size - 1
        if form == 5:
            hi = rng.randint(3, 6)
            return f"range(0, {hi}, 2)", 0, hi, (hi + 1) // 2
        size = rng.choice([ctx.cols, ctx.rows, rng.randint(2, 5)])
        return f"range({size})", 0, size, size

    def _for_over_array(self, scope: Scope, nesting: int) -> list[str]:
        rng, ctx = self.rng, self.ctx
        sources = [v for v in scope.floats() if v.kind.is_array and not v.owned]
        sources = [v for v in sources if v.kind is not Kind.M or Kind.V in self.avail]
        if not sources:
            return self.assign_new(scope, nesting)
        src = rng.choice(sources)
        if src.kind is Kind.M:
            if Kind.W in self.avail and ctx.on("matmul") and rng.random() < 0.3:  # .T is a matmul feature
                it, item_kind, trips = f"{src.name}.T", Kind.W, ctx.cols
            else:
                it, item_kind, trips = src.name, Kind.V, ctx.rows
        else:
            it, item_kind, trips = src.name, Kind.F, ctx.length(src.kind)
        inner, pre, carried = self._choose_carried(scope, trips)
        item = ctx.fresh({Kind.F: "xi", Kind.V: "row", Kind.W: "col"}[item_kind])
        inner.vars[item] = Var(item, item_kind, src.bound, Mode.FROZEN)
        body = self._loop_body(inner, carried, nesting)
        self._after_loop(scope, inner, carried)
        return [*pre, f"for {item} in {it}:", *indent(body)]

    def while_stmt(self, scope: Scope, nesting: int) -> list[str]:
        rng, ctx = self.rng, self.ctx
        counter = ctx.fresh("k")
        if "n" in scope.vars and rng.random() < 0.3:
            limit, trips = "n", ctx.n_max
        else:
            trips = rng.randint(2, 5)
            limit = str(trips)
        scope.define(Var(counter, Kind.I, 0.0, lo=0, hi=trips + 1))
        inner, pre, carried = self._choose_carried(scope, trips)
        inner.vars[counter].mode = Mode.FROZEN
        test = f"{counter} < {limit}"
        if ctx.on("bool_ops") and rng.random() < 0.3:
            c = self.exprs(inner).cond()
            test = f"{test} and {c.at(6)}"
        body = self._loop_body(inner, carried, nesting)
        step = f"{counter} += 1" if ctx.on("aug_assign") else f"{counter} = {counter} + 1"
        body = [step, *body] if inner.loop_flags.get("continue") or rng.random() < 0.5 else [*body, step]
        self._after_loop(scope, inner, carried)
        return [*pre, f"{counter} = 0", f"while {test}:", *indent(body)]

    # ---- returns ------------------------------------------------------------------------

    def return_stmt(self, scope: Scope) -> list[str]:
        """``return`` of this function's result kinds, built mostly from local variables."""
        parts = []
        for i, kind in enumerate(self.returns):
            e = self.unaliased(scope, self.result(scope, kind))
            self.return_bounds[i] = max(self.return_bounds[i], e.bound)
            parts.append(e.text)
        return [f"return {', '.join(parts)}"]

    def result(self, scope: Scope, kind: Kind) -> Expr:
        """A combination of up to three variables (locals first) as a value of ``kind``."""
        rng, gen = self.rng, self.exprs(scope)
        floats = scope.floats()
        locals_ = [v for v in floats if v.name in scope.local_names or v.mode is not Mode.FROZEN]
        pool = locals_ if locals_ and rng.random() < 0.85 else floats
        picks = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
        terms = [self._as_kind(gen, v, kind) for v in picks]
        terms = [t for t in terms if t is not None] or [gen.expr(kind, 1)]
        if rng.random() < 0.3:
            terms.append(gen.expr(kind, 1))
        total = terms[0]
        for t in terms[1:]:
            total = binop("+", total, t, kind, total.bound + t.bound)
        return total if total.bound <= 4 * BMAX else gen.squash(total)

    def _as_kind(self, gen: ExprGen, var: Var, kind: Kind) -> Expr | None:
        e = Expr(var.name, var.kind, var.bound)
        if var.kind is kind:
            return e
        if kind is Kind.F and self.ctx.on("reductions"):
            if self.rng.random() < 0.5:
                sq = binop("**", e, int_lit(2), var.kind, e.bound**2)
                return Expr(f"np.sum({sq.text})", Kind.F, sq.bound * self.ctx.size(var.kind))
            return Expr(f"np.mean({e.text})", Kind.F, e.bound)
        if var.kind is Kind.F and kind.is_array and self.ctx.on("broadcasting"):
            return binop("*", e, gen.expr(kind, 0), kind, e.bound * BMAX)
        return None


__all__ = ["FuncGen"]
