"""Reverse mode: a function's adjoint, as IR.

The adjoint of a function is its *forward sweep* (the primal ops) followed by its *reverse
sweep* (adjoint ops in reverse order). Regions are reversed as regions:

* an ``if`` becomes an ``if`` on the same condition whose branches recompute the primal
  branch and then run its adjoint; adjoints of outer values are threaded through as results;
* a loop becomes a ``for`` over the same iterations, reversed. Its forward sweep pushes, at
  the start of each iteration, the carried values the reverse body reads; the reverse body
  pops them, recomputes what it needs of the iteration (the simplifier drops the rest), and
  runs the adjoint of the body. Adjoints of the carried values are carried backwards;
  adjoints of values from outside the loop are accumulated in carried values too.
  ``while`` loops count their iterations in the forward sweep.

Storing intermediates instead of recomputing them, and loop checkpointing, are planned by
:mod:`adcompiler.ad.checkpoint`; this module is the mechanism.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import naming
from ..errors import NotDifferentiableError
from ..ir.builder import Builder
from ..ir.clone import clone_into
from ..ir.core import Function, Op, Region, Value
from ..ir.types import I64, Tensor
from ..passes.activity import Activity, differentiable_operands
from ..passes.shapes import same_shape
from ..passes.simplify import eliminate_dead
from . import rules
from .checkpoint import MemoryBudget, Revolve, worth_storing
from .revolve import RevolveEmitter, state_bytes, trip_count
from .sym import Sym, broadcast_to, call, shape, size, sum_to, to_float

_ELEMENTWISE = ("unary", "binary", "ternary", "cast")


# ----------------------------------------------------------------------------- scopes
class _Scope:
    """What the reverse sweep of one region sees: primal values and current adjoints."""

    def __init__(self, parent: _Scope | None, region: Region | None) -> None:
        self.parent = parent
        self.primal: dict[Value, Value] = {}  # primal value -> a value usable here
        self.bars: dict[Value, Value | None] = {}  # primal value -> its adjoint so far
        self.defined: set[Value] = set()  # primal values defined in the region
        if region is not None:
            self.defined.update(region.args)
            for op in region.ops:
                self.defined.update(op.results)
        self.loops: dict[Op, _LoopStash] = {}  # active loops forward-swept in this region

    def lookup(self, v: Value) -> Value:
        if v in self.primal:
            return self.primal[v]
        if self.parent is None:
            raise NotDifferentiableError(f"internal: no value for {v} in the reverse sweep")
        return self.parent.lookup(v)

    def get_bar(self, v: Value) -> Value | None:
        if v in self.bars:
            return self.bars[v]
        if v in self.defined or self.parent is None:
            return None
        return self.import_bar(v)

    def import_bar(self, v: Value) -> Value | None:
        raise NotImplementedError

    def set_bar(self, v: Value, bar: Value) -> None:
        if bar.hint is None and bar.op is not None and bar.op.name != "const":
            bar.hint = naming.adjoint(v.hint)
        self.bars[v] = bar


class _TopScope(_Scope):
    """The function body: the forward sweep's values are in scope as they are."""


class _BranchScope(_Scope):
    """An ``if`` branch: adjoints of outer values are read from the parent and yielded back."""

    def __init__(self, parent: _Scope, region: Region) -> None:
        super().__init__(parent, region)
        self.threaded: dict[Value, Value | None] = {}  # outer value -> its adjoint before the if

    def import_bar(self, v: Value) -> Value | None:
        old = self.parent.get_bar(v)
        self.threaded[v] = old
        self.bars[v] = old
        return old


class _LoopScope(_Scope):
    """A loop body: carried values are popped, outer adjoints accumulate in carried values."""

    def __init__(self, parent: _Scope, body: Region, carried: Sequence[Value], tapes: _Tapes) -> None:
        super().__init__(parent, body)
        self.region = Region()
        self.carried = set(carried)
        self.tapes = tapes
        self.pops: dict[Value, Op] = {}  # carried block argument or stored value -> its pop
        self.accumulators: list[tuple[Value, Value]] = []  # (outer value, block argument)
        #: values of the body the forward sweep stores for the reverse (not recomputed)
        self.stored: set[Value] = set()
        #: whether values may be stored (Revolve feeds the reverse body the state only)
        self.may_store = True

    def lookup(self, v: Value) -> Value:
        if (v in self.carried or v in self.stored) and v not in self.primal:
            popped = Value(v.type, v.hint)
            op = Op(_opdef("pop"), [], [popped], {"tape": self.tapes.new(v.hint)})
            self.region.ops.insert(len(self.pops), op)
            self.pops[v] = op
            self.primal[v] = popped
        return super().lookup(v)

    def import_bar(self, v: Value) -> Value | None:
        acc = self.region.add_arg(Value(v.type, naming.adjoint(v.hint)))
        self.accumulators.append((v, acc))
        self.bars[v] = acc
        return acc


class _LoopStash:
    """A loop's reverse body, made before its forward sweep (which must push what it pops)."""

    def __init__(self, scope: _LoopScope, active: list[int]) -> None:
        self.scope = scope
        self.active = active  # positions of the carried values that have adjoints
        self.count: Value | None = None  # while loops: the trip count, from the forward sweep
        self.revolve = False  # checkpointed (binomial schedule) rather than taped


class LoopPlan:
    """What the reverse sweep keeps of one loop: per-iteration tapes or Revolve snapshots."""

    def __init__(self, op: Op, taped: list[Value], policy: Revolve | MemoryBudget | None) -> None:
        self.op = op
        self.taped = taped  # the carried values saved for each iteration (tapes)
        self.policy = policy
        first = 1 if op.name == "for" else 0
        self.state = op.regions[-1].args[first:]  # what a Revolve snapshot holds

    @property
    def line(self) -> int | None:
        return self.op.loc.line if self.op.loc is not None else None

    def describe(self) -> str:
        where = f"loop at line {self.line}" if self.line else "loop"
        if self.policy is None:
            names = ", ".join(v.hint or "?" for v in self.taped) or "nothing"
            return f"{where}: tape of ({names}) at every iteration; the reverse sweep recomputes the rest"
        names = ", ".join(v.hint or "?" for v in self.state)
        return f"{where}: binomial checkpointing ({self.policy}) of ({names}); nothing taped per iteration"


class _Tapes:
    """Unique tape names for one function."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, hint: str | None) -> str:
        base = naming.tape(hint)
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}{k}"
        self.used.add(name)
        return name


def _opdef(name: str):
    from ..ir.ops import OPS

    return OPS[name]


def _zero(b: Builder, like: Value) -> Value:
    """A zero adjoint shaped like ``like``."""
    if isinstance(like.type, Tensor) and like.type.rank == 0:
        return b.const(0.0)
    return b.zeros_like(like)


# ----------------------------------------------------------------------------- the transformation
class ReverseAD:
    """Builds the adjoint of ``fn`` with respect to the parameters ``wrt``."""

    def __init__(
        self,
        fn: Function,
        wrt: Sequence[int],
        outputs: Sequence[Value] | None = None,
        checkpoint: Revolve | MemoryBudget | None = None,
    ) -> None:
        self.fn = fn
        self.wrt = list(wrt)
        self.activity = Activity(fn, wrt, outputs)
        self.tapes = _Tapes()
        #: loops outside any other loop are checkpointed by this policy (None: tapes)
        self.checkpoint = checkpoint
        #: what the reverse sweep stores for each loop outside other loops, for ``g.plan``
        self.loop_plans: list[LoopPlan] = []

    # ---------------------------------------------------------------- entry point
    def build(
        self, name: str, seeds: Callable[[Builder, Function], list[tuple[Value, Value]]], pack
    ) -> Function:
        """The adjoint function.

        ``seeds(b, fn)`` gives (primal output, its cotangent) pairs and may append parameters to
        ``fn`` (a cotangent); ``pack(b, value, grads)`` makes the returned value.
        """
        params = [Value(p.type, p.hint) for p in self.fn.params]
        out = Function(
            name, Region(params), list(self.fn.param_names), self.fn.loc, defaults=dict(self.fn.defaults)
        )
        b = Builder(out.body)
        top = _TopScope(None, self.fn.body)
        top.primal.update(zip(self.fn.params, params))
        b.comment(text="forward sweep")
        for op in self.fn.body.ops:
            self._forward_op(op, top, b, recompute=False)
        #: where the forward sweep ends in the adjoint's body (jacobians reuse it for every row)
        self.forward_end = len(out.body.ops)
        b.comment(text="reverse sweep")
        for primal_out, cotangent in seeds(b, out):
            if self.activity.is_active(primal_out):
                self._add_bar(top, b, primal_out, cotangent)
        for op in reversed(self.fn.body.ops):
            self._adjoint_op(op, top, b)
        grads = []
        for k in self.wrt:
            p = self.fn.params[k]
            bar = top.get_bar(p)
            grads.append(bar if bar is not None else _zero(b, top.lookup(p)))
        value = top.lookup(self.fn.returns[0])
        #: the adjoint of each top-level primal value, as a value of the adjoint function
        self.adjoints = {v: bar for v, bar in top.bars.items() if bar is not None}
        #: each top-level primal value's counterpart in the forward sweep
        self.forward_values = dict(top.primal)
        out.body.yields = [pack(b, value, grads)]
        return out

    def adjoint_or_zero(self, b: Builder, v: Value) -> Value:
        """The adjoint of top-level primal value ``v`` (zero when nothing flowed into it)."""
        bar = self.adjoints.get(v)
        return bar if bar is not None else _zero(b, self.forward_values[v])

    # ---------------------------------------------------------------- forward sweep
    def _forward_op(self, op: Op, scope: _Scope, b: Builder, recompute: bool) -> None:
        if recompute and not op.opdef.pure and op.name not in ("push", "pop"):
            return  # checks ran in the forward sweep already
        if recompute and isinstance(scope, _LoopScope) and scope.may_store and worth_storing(op):
            scope.stored.update(op.results)  # popped when needed, not recomputed
            return
        b.loc = op.loc
        if op.name in ("for", "while") and self.activity.op_is_active(op):
            stash = self._stash_loop(op, scope, may_store=not self._revolves(scope))
            stash.revolve = self._revolves(scope)
            if isinstance(scope, _TopScope):
                plan = LoopPlan(op, list(stash.scope.pops), self.checkpoint if stash.revolve else None)
                self.loop_plans.append(plan)
                if plan.taped or stash.revolve:  # a loop whose reverse needs nothing goes unremarked
                    b.comment(text=plan.describe())
            new = self._augmented_loop(op, scope, b, stash)
            scope.loops[op] = stash
        else:
            new = clone_into(b, op, scope.lookup)
        scope.primal.update(zip(op.results, new.results))

    def _stash_loop(self, op: Op, scope: _Scope, may_store: bool) -> _LoopStash:
        """The loop's reverse body, built first so that the forward sweep knows what to push."""
        body = op.regions[-1]
        first = 1 if op.name == "for" else 0
        carried = body.args[first:]
        loop = _LoopScope(scope, body, carried, self.tapes)
        loop.may_store = may_store
        rb = Builder(loop.region, op.loc)
        index = loop.region.add_arg(Value(I64, body.args[0].hint if first else None))
        if first:
            loop.primal[body.args[0]] = index
        active = [k for k, a in enumerate(carried) if self._carried_active(op, k)]
        # every carried adjoint is an argument before any seed: seeding a yield that is an
        # outer value adds an accumulator argument, and those come after
        bars = [loop.region.add_arg(Value(carried[k].type, naming.adjoint(carried[k].hint))) for k in active]
        for k, bar in zip(active, bars):
            self._add_bar(loop, rb, body.yields[k], bar)
        self._reverse_region(body, loop, rb)
        yields = []
        for j, k in enumerate(active):
            bar = loop.get_bar(carried[k])
            yields.append(bar if bar is not None else _zero(rb, loop.region.args[1 + j]))
        loop.region.yields = yields + [loop.bars[v] for v, _ in loop.accumulators]
        _prune(loop.region)
        loop.pops = {a: p for a, p in loop.pops.items() if p in loop.region.ops}
        return _LoopStash(loop, active)

    def _revolves(self, scope: _Scope) -> bool:
        """Whether a loop in ``scope`` is checkpointed (Revolve) rather than taped."""
        return self.checkpoint is not None and isinstance(scope, _TopScope)

    def _carried_active(self, op: Op, k: int) -> bool:
        body = op.regions[-1]
        first = 1 if op.name == "for" else 0
        return self.activity.is_active(body.args[first + k]) or self.activity.is_active(op.results[k])

    def _augmented_loop(self, op: Op, scope: _Scope, b: Builder, stash: _LoopStash) -> Op:
        """The loop, pushing at the start of each iteration the carried values its reverse pops."""
        count_init = b.const(0) if op.name == "while" else None
        inner: dict[Value, Value] = {}
        new = clone_into(b, op, scope.lookup, inner)
        body = new.regions[-1]
        pushes, stores = [], []
        for v, pop in stash.scope.pops.items() if not stash.revolve else ():
            push = Op(_opdef("push"), [inner[v]], [], {"tape": pop.attrs["tape"]}, [], op.loc)
            (stores if v in stash.scope.stored else pushes).append(push)
        body.ops[0:0] = pushes  # the carried state, as the iteration starts
        body.ops += stores  # values too costly to recompute, once computed
        if op.name == "while":  # count the iterations: the reverse sweep runs as many
            count_arg = Value(I64, "n_iter")
            body.add_arg(count_arg)
            new.regions[0].add_arg(Value(I64, "n_iter"))
            nb = Builder(body, op.loc)
            body.yields.append(nb.add(count_arg, nb.const(1), hint="n_iter"))
            new.operands.append(count_init)
            count = Value(I64, "n_iter")
            count.owner = new
            new.results.append(count)
            stash.count = count
        return new

    # ---------------------------------------------------------------- reverse sweep
    def _reverse_region(self, region: Region, scope: _Scope, b: Builder) -> None:
        """Recompute ``region``'s primal ops, then run their adjoints in reverse order."""
        for op in region.ops:
            self._forward_op(op, scope, b, recompute=True)
        for op in reversed(region.ops):
            self._adjoint_op(op, scope, b)

    def _adjoint_op(self, op: Op, scope: _Scope, b: Builder) -> None:
        if not self.activity.op_is_active(op):
            return
        b.loc = op.loc
        if op.name == "if":
            self._adjoint_if(op, scope, b)
            return
        if op.name in ("for", "while"):
            self._adjoint_loop(op, scope, b)
            return
        if op.name == "checkpoint":
            self._adjoint_checkpoint(op, scope, b)
            return
        bars = [scope.get_bar(r) for r in op.results]
        if all(g is None for g in bars):
            return
        if op.name == "custom_call":
            self._adjoint_custom(op, scope, b, bars)
            return
        table = rules.VJP.get(op.name)
        if table is None:
            raise NotDifferentiableError(f"no derivative rule for {op.name}", op.loc)
        (g,) = bars
        y = Sym(scope.lookup(op.result), b)
        xs = [Sym(scope.lookup(v), b) for v in op.operands]
        elementwise = op.opdef.family in _ELEMENTWISE
        uniform = _uniform(g) if elementwise else None
        # an adjoint that is one number spread over an array (the adjoint of a sum) enters the
        # rule as that number: `200 * t` rather than `ones * 100 * 2 * t`
        gs = Sym(uniform if uniform is not None else g, b)
        attrs = {k: v for k, v in op.attrs.items()}
        # last operand first: setitem's value is read before its array is cleared (in place)
        for k in reversed(differentiable_operands(op)):
            x = op.operands[k]
            rule = table[k] if k < len(table) else None
            if rule is None or not self.activity.is_active(x):
                continue
            try:
                contribution = rule(gs, y, *xs, **attrs)
            except NotDifferentiableError as e:
                raise NotDifferentiableError(e.message, op.loc) from None
            if isinstance(contribution, rules.Scatter):
                self._add_scatter(scope, b, x, contribution)
                continue
            if uniform is not None:
                contribution = _spread(contribution, xs[k], y)
            elif elementwise:
                contribution = _fit(contribution, xs[k], x, op.result)
            self._add_bar(scope, b, x, contribution.v)

    def _add_bar(self, scope: _Scope, b: Builder, v: Value, contribution: Value) -> None:
        if not isinstance(v.type, Tensor):
            return
        contribution = _fit_rank(b, contribution, v, scope)
        current = scope.get_bar(v)
        if current is None:
            scope.set_bar(v, contribution)
        else:
            scope.set_bar(v, b.add(current, contribution, hint=naming.adjoint(v.hint)))

    def _add_scatter(self, scope: _Scope, b: Builder, x: Value, s: rules.Scatter) -> None:
        current = scope.get_bar(x)
        if current is None:
            current = b.zeros_like(scope.lookup(x))
        parts = [p.v for p in s.parts]
        scope.set_bar(x, b.index_add(current, s.g.v, *parts, index=s.index, hint=naming.adjoint(x.hint)))

    # ---------------------------------------------------------------- control flow
    def _adjoint_if(self, op: Op, scope: _Scope, b: Builder) -> None:
        cond = scope.lookup(op.operands[0])
        branches = []
        for region in op.regions:
            branch = _BranchScope(scope, region)
            new_region = Region()
            bb = Builder(new_region, op.loc)
            for res, y in zip(op.results, region.yields):
                bar = scope.get_bar(res)
                if bar is not None and self.activity.is_active(res):
                    self._add_bar(branch, bb, y, bar)
            self._reverse_region(region, branch, bb)
            branches.append((branch, new_region, bb))
        outer: list[Value] = []
        for branch, _, _ in branches:
            outer += [v for v in branch.threaded if v not in outer]
        for branch, region, bb in branches:
            for v in outer:
                bar = branch.bars.get(v) if v in branch.threaded else scope.get_bar(v)
                region.yields.append(bar if bar is not None else _zero(bb, scope.lookup(v)))
        if not outer:
            return
        types = [v.type for v in outer]
        results = b.if_(cond, branches[0][1], branches[1][1], types, [naming.adjoint(v.hint) for v in outer])
        for v, r in zip(outer, results):
            scope.bars[v] = r

    def _adjoint_checkpoint(self, op: Op, scope: _Scope, b: Builder) -> None:
        """Recompute the checkpointed call's body, then its adjoint (its inputs are in scope)."""
        region = op.regions[0]
        inner = _BranchScope(scope, region)
        inner.primal.update(zip(region.args, (scope.lookup(v) for v in op.operands)))
        for res, y in zip(op.results, region.yields):
            bar = scope.get_bar(res)
            if bar is not None and self.activity.is_active(res):
                self._add_bar(inner, b, y, bar)
        self._reverse_region(region, inner, b)
        for v in inner.threaded:  # replace first: an operand may also be used inside the body
            if inner.bars[v] is not None:
                scope.bars[v] = inner.bars[v]
        for a, v in zip(region.args, op.operands):
            bar = inner.bars.get(a)
            if bar is not None and self.activity.is_active(v):
                self._add_bar(scope, b, v, bar)

    def _adjoint_loop(self, op: Op, scope: _Scope, b: Builder) -> None:
        stash = scope.loops[op]
        loop = stash.scope
        body = op.regions[-1]
        first = 1 if op.name == "for" else 0
        inits = op.operands[3:] if op.name == "for" else op.operands
        active = stash.active
        init_bars = []
        for k in active:
            bar = scope.get_bar(op.results[k])
            init_bars.append(bar if bar is not None else _zero(b, scope.lookup(op.results[k])))
        for v, _ in loop.accumulators:
            bar = scope.get_bar(v)
            init_bars.append(bar if bar is not None else _zero(b, scope.lookup(v)))
        if op.name == "for":
            lo, hi, step = (scope.lookup(v) for v in op.operands[:3])
        else:
            lo, hi, step = b.const(0), stash.count, b.const(1)
        if stash.revolve:
            trips = trip_count(b, lo, hi, step) if op.name == "for" else stash.count
            results = self._revolve(op, scope, b, stash, init_bars, trips)
        else:
            types = [a.type for a in loop.region.args[1:]]
            hints = [a.hint for a in loop.region.args[1:]]
            backwards = not op.attrs.get("reverse")  # the adjoint of a reversed loop runs forwards
            results = b.for_(lo, hi, step, init_bars, loop.region, types, hints, reverse=backwards)
        # accumulators replace the adjoint they started from: before adding what flows out of
        # the carried values, which may be the same outer value (`for v in xs` carrying xs)
        for (v, _), res in zip(loop.accumulators, results[len(active) :]):
            scope.bars[v] = res
        for k, res in zip(active, results):
            if self.activity.is_active(inits[k]):
                self._add_bar(scope, b, inits[k], res)
        del body, first

    def _revolve(
        self, op: Op, scope: _Scope, b: Builder, stash: _LoopStash, bar_inits: list[Value], trips: Value
    ) -> list[Value]:
        """The loop's reverse sweep on a binomial checkpointing schedule."""
        if op.attrs.get("reverse"):
            raise NotDifferentiableError("binomial checkpointing of a reversed loop is not supported", op.loc)
        inits = op.operands[3:] if op.name == "for" else op.operands
        policy = self.checkpoint
        if isinstance(policy, Revolve):
            snapshots = b.const(policy.snapshots)
        else:
            state = [scope.lookup(v) for v in inits]
            fits = b.floordiv(b.const(policy.bytes), state_bytes(b, state))
            snapshots = b.maximum(fits, b.const(2), hint="snapshots")
        emitter = RevolveEmitter(op, b, scope.lookup, stash.scope.region, stash.scope.pops, self.tapes.new)
        return emitter.emit(trips, snapshots, bar_inits)

    def _adjoint_custom(self, op: Op, scope: _Scope, b: Builder, bars: list[Value | None]) -> None:
        rule = op.attrs["rule"]
        if getattr(rule, "vjp", None) is None:
            raise NotDifferentiableError(
                f"{rule.__name__} has a custom derivative rule but no VJP (use .defvjp)", op.loc
            )
        args = [scope.lookup(v) for v in op.operands]
        out = scope.lookup(op.result)
        types = [v.type for v in op.operands]
        results = b.op("custom_vjp_call", *args, out, bars[0], rule=rule, result_types=types)
        results = results if isinstance(results, list) else [results]
        for v, r in zip(op.operands, results):
            if self.activity.is_active(v):
                self._add_bar(scope, b, v, r)


def _fit(contribution: Sym, x: Sym, primal_x: Value, primal_y: Value) -> Sym:
    """Sum an elementwise contribution back to its operand's shape (broadcasting's adjoint)."""
    rank = x.rank
    if rank == 0:
        return contribution if contribution.rank == 0 else call("sum", contribution)
    if same_shape(primal_x, primal_y):
        return contribution
    return sum_to(contribution, shape(x))


def _uniform(g: Value) -> Value | None:
    """``c`` when the adjoint ``g`` is ``broadcast_to(c, shape)`` of a number ``c``."""
    op = g.op
    if op is None or op.name != "broadcast_to":
        return None
    c = op.operands[0]
    return c if isinstance(c.type, Tensor) and c.type.rank == 0 else None


def _spread(c: Sym, x: Sym, y: Sym) -> Sym:
    """The adjoint of operand ``x`` of an elementwise op whose result ``y`` has a uniform
    adjoint, from the rule's contribution ``c`` computed with that one number.

    A number spread over ``y`` sums, over the axes ``x`` was broadcast along, to that number
    times ``size(y) / size(x)``: still one number spread, now over ``x``. An array
    contribution is spread over ``y`` when it may be smaller, then summed down to ``x``."""
    if c.rank == 0:
        if not same_shape(x.v, y.v):
            # an empty x makes y empty too: any factor will do, but not 0 / 0
            c = c * (to_float(size(y)) / call("maximum", size(x), 1))
        return c if x.rank == 0 else broadcast_to(c, shape(x))
    full = c if same_shape(c.v, y.v) else broadcast_to(c, shape(y))
    if x.rank == 0:
        return call("sum", full)
    return full if same_shape(x.v, y.v) else sum_to(full, shape(x))


def _fit_rank(b: Builder, c: Value, v: Value, scope: _Scope) -> Value:
    """Sum a contribution whose rank exceeds its target's (a scalar carried into an array)."""
    target, got = v.type, c.type
    if not isinstance(target, Tensor) or not isinstance(got, Tensor) or got.rank == target.rank:
        return c
    if target.rank == 0:
        return b.sum(c)
    if got.rank is not None and target.rank is not None and got.rank > target.rank:
        return b.sum_to(c, b.shape(scope.lookup(v)))
    return c


def _prune(region: Region) -> None:
    """Drop ops of ``region`` whose results are unused, pops included (their pushes go too)."""
    for op in region.ops:  # dead code inside branches must not keep a pop alive
        for r in op.regions:
            eliminate_dead(r, set())
    live: set[int] = {id(v) for v in region.yields}
    kept: list[Op] = []
    for op in reversed(region.ops):
        removable = op.opdef.pure or op.name == "pop"
        if op.regions:
            removable = removable and not any(not o.opdef.pure for r in op.regions for o in r.walk())
        if removable and not any(id(r) in live for r in op.results):
            continue
        kept.append(op)
        live.update(id(v) for v in op.operands)
        for r in op.regions:
            for inner in r.walk():
                live.update(id(v) for v in inner.operands)
            for inner_region in _regions(op):
                live.update(id(v) for v in inner_region.yields)
    kept.reverse()
    region.ops = kept


def _regions(op: Op):
    for r in op.regions:
        yield r
        for inner in r.walk():
            yield from inner.regions
