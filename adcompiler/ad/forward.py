"""Forward mode: tangents pushed alongside the primal ops, as IR.

Every active value ``x`` gets a tangent ``x_dot`` computed right after it from the JVP rules
(:mod:`adcompiler.ad.rules`). Control flow carries tangents as extra results and carried
values; tapes of reverse-mode IR get a tangent tape beside them (forward-over-reverse).

With ``batched=True`` each tangent has a leading axis of n directions: one sweep computes n
directional derivatives (forward-mode gradients, Jacobians and Hessians).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import naming
from ..errors import NotDifferentiableError
from ..ir.builder import Builder
from ..ir.core import Function, Op, Region, Value
from ..ir.types import NoneT, Tensor, TupleT
from ..passes.activity import Activity, can_carry_derivative, differentiable_operands
from ..passes.shapes import same_shape, shape_key
from . import rules
from .sym import Sym

_ELEMENTWISE = ("unary", "binary", "ternary", "cast", "compare")


class ForwardAD:
    """Builds the JVP of ``fn`` with respect to the parameters ``wrt``."""

    def __init__(self, fn: Function, wrt: Sequence[int], batched: bool = False) -> None:
        self.fn = fn
        self.wrt = list(wrt)
        self.batched = batched
        self.activity = Activity(fn, wrt)
        self.n: Value | None = None  # number of directions (batched)
        self._tangent_taped: set[str] = set()  # tapes that have a tangent tape beside them
        self._undef_carriers, self._may_be_undef = _undef_carriers(fn, self.activity)
        if batched:
            self._check_ranks()

    def _check_ranks(self) -> None:
        """Batched tangents carry the directions on a leading axis, and the rules line the other
        axes up by rank: every value with a tangent needs a known rank (a generic signature,
        before any call, has none)."""
        ops = [(None, self.fn.params), *((op, op.results) for op in self.fn.walk())]
        for op, values in ops:
            for v in values:
                if self.activity.is_active(v) and v.type.rank is None:
                    raise NotDifferentiableError(
                        "forward-mode gradients and Jacobians need the rank of every array they "
                        "differentiate, known from the arguments of a call",
                        op.loc if op is not None else self.fn.loc,
                    )

    def build(
        self,
        name: str,
        seeds: Callable[[Builder, Function, list[Value]], list[Value]],
        pack: Callable[[Builder, Value, Value], Value],
    ) -> Function:
        """``seeds(b, fn, params)`` gives the tangent of each ``wrt`` parameter (and may add
        parameters); ``pack(b, value, tangent)`` makes the returned value."""
        params = [Value(p.type, p.hint) for p in self.fn.params]
        out = Function(
            name, Region(params), list(self.fn.param_names), self.fn.loc, defaults=dict(self.fn.defaults)
        )
        b = Builder(out.body)
        env: dict[Value, Value] = dict(zip(self.fn.params, params))
        tan: dict[Value, Value] = {}
        for k, t in zip(self.wrt, seeds(b, out, params)):
            tan[self.fn.params[k]] = t
        if self.batched and tan:
            self.n = b.tuple_get(b.shape(next(iter(tan.values()))), index=0, hint="n")
        self._region(self.fn.body, b, env, tan)
        result = self.fn.returns[0]
        value = env[result]
        tangent = self._tangent_or_zero(b, result, env, tan)
        out.body.yields = [pack(b, value, tangent)]
        return out

    # ------------------------------------------------------------------ regions and ops
    def _region(self, region: Region, b: Builder, env: dict, tan: dict) -> None:
        for op in region.ops:
            self._op(op, b, env, tan)

    def _op(self, op: Op, b: Builder, env: dict, tan: dict) -> None:
        b.loc = op.loc
        if op.name == "if":
            self._if(op, b, env, tan)
        elif op.name in ("for", "while"):
            self._loop(op, b, env, tan)
        elif op.name == "checkpoint":
            region = op.regions[0]
            for a, v in zip(region.args, op.operands):
                env[a] = env[v]
                if v in tan:
                    tan[a] = tan[v]
            self._region(region, b, env, tan)
            for r, y in zip(op.results, region.yields):
                env[r] = env[y]
                if y in tan:
                    tan[r] = tan[y]
        else:
            new = b.op(
                op.name,
                *(env[v] for v in op.operands),
                result_types=[r.type for r in op.results],
                hint=op.results[0].hint if op.results else None,
                **op.attrs,
            )
            results = new if isinstance(new, list) else [] if new is None else [new]
            env.update(zip(op.results, results))
            self._tangent(op, b, env, tan)

    def _tangent(self, op: Op, b: Builder, env: dict, tan: dict) -> None:
        if op.name in ("push", "pop"):
            self._tape(op, b, env, tan)
            return
        active = [k for k in differentiable_operands(op) if op.operands[k] in tan]
        if not active or not any(
            self.activity.is_active(r) or isinstance(r.type, TupleT) for r in op.results
        ):
            return
        if op.name in ("tuple", "concatenate", "stack"):
            self._structural(op, b, env, tan)
            return
        if op.name == "tuple_get":
            tan[op.result] = b.tuple_get(tan[op.operands[0]], index=op.attrs["index"])
            return
        if op.name == "custom_call":
            self._custom(op, b, env, tan)
            return
        if op.name in rules.JVP_WRITE and active == [0, 1]:
            write = (rules.JVP_WRITE_BATCHED if self.batched else rules.JVP_WRITE)[op.name]
            tx, tv = (Sym(tan[op.operands[k]], b) for k in (0, 1))
            t = write(tx, tv, Sym(env[op.result], b), *(Sym(env[v], b) for v in op.operands), **op.attrs)
            t.v.hint = naming.tangent(op.result.hint)
            tan[op.result] = t.v
            return
        table = (rules.JVP_BATCHED.get(op.name) if self.batched else None) or rules.JVP.get(op.name)
        if table is None:
            raise NotDifferentiableError(f"no forward-mode rule for {op.name}", op.loc)
        y = Sym(env[op.result], b)
        xs = [Sym(env[v], b) for v in op.operands]
        total: Sym | None = None
        elementwise = op.opdef.family in _ELEMENTWISE
        for k in active:
            rule = table[k] if k < len(table) else None
            if rule is None:
                continue
            t = Sym(tan[op.operands[k]], b)
            if self.batched and elementwise:
                t = rules._expand_batch(t, y.rank)
            try:
                c = rule(t, y, *xs, **op.attrs)
            except NotDifferentiableError as e:
                raise NotDifferentiableError(e.message, op.loc) from None
            total = c if total is None else total + c
        if total is None:
            return
        scalar = isinstance(op.result.type, Tensor) and op.result.type.rank == 0
        if elementwise and not scalar and not all(same_shape(op.operands[k], op.result) for k in active):
            total = Sym(self._broadcast(b, total.v, env[op.result]), b)
        total.v.hint = naming.tangent(op.result.hint)
        tan[op.result] = total.v

    def _structural(self, op: Op, b: Builder, env: dict, tan: dict) -> None:
        """Tangents of ops that gather their operands: the op applied to the tangents."""
        parts = [self._tangent_or_zero(b, v, env, tan) for v in op.operands]
        attrs = dict(op.attrs)
        if self.batched and op.name in ("concatenate", "stack"):
            axis = attrs.get("axis") or 0
            attrs["axis"] = axis + 1 if axis >= 0 else axis
        tan[op.result] = b.op(op.name, *parts, hint=naming.tangent(op.result.hint), **attrs)

    def _tape(self, op: Op, b: Builder, env: dict, tan: dict) -> None:
        """A tangent tape beside each tape: pushed and popped in the same order."""
        tape = op.attrs["tape"] + naming.TANGENT_SUFFIX
        if op.name == "push":
            v = op.operands[0]
            if self.activity.is_active(v) or v in tan:
                b.push(self._tangent_or_zero(b, v, env, tan), tape=tape)
                self._tangent_taped.add(op.attrs["tape"])
            return
        if op.attrs["tape"] in self._tangent_taped:
            tan[op.result] = b.op(
                "pop",
                tape=tape,
                result_types=[self._tangent_type(op.result)],
                hint=naming.tangent(op.result.hint),
            )

    def _tangent_type(self, v: Value):
        t = v.type
        if self.batched and isinstance(t, Tensor) and t.rank is not None:
            return Tensor(t.dtype, t.rank + 1)
        return t

    def _custom(self, op: Op, b: Builder, env: dict, tan: dict) -> None:
        rule = op.attrs["rule"]
        if getattr(rule, "jvp", None) is None:
            raise NotDifferentiableError(
                f"{getattr(rule, '__name__', 'this function')} has a custom derivative rule but no JVP "
                "(use .defjvp, or differentiate it in reverse mode)",
                op.loc,
            )
        if self.batched:
            raise NotDifferentiableError(
                "a custom JVP rule takes one tangent; forward-mode gradients push many at once: "
                "use mode='reverse' for this function",
                op.loc,
            )
        args = [env[v] for v in op.operands]
        ts = [self._tangent_or_zero(b, v, env, tan) for v in op.operands]
        tan[op.result] = b.op(
            "custom_jvp_call",
            *args,
            *ts,
            rule=rule,
            result_types=[op.result.type],
            hint=naming.tangent(op.result.hint),
        )

    # ------------------------------------------------------------------ control flow
    def _carries(self, result: Value, *args: Value) -> bool:
        """Whether a result of an ``if`` or a loop (whose carried arguments are ``args``) gets
        a tangent."""
        return result in self._undef_carriers or any(self.activity.is_active(v) for v in (result, *args))

    def _if(self, op: Op, b: Builder, env: dict, tan: dict) -> None:
        active = [k for k, r in enumerate(op.results) if self._carries(r)]
        regions = []
        for region in op.regions:
            new = Region()
            rb = Builder(new, op.loc)
            inner_env, inner_tan = dict(env), dict(tan)
            self._region(region, rb, inner_env, inner_tan)
            new.yields = [inner_env[y] for y in region.yields] + [
                self._tangent_or_zero(rb, region.yields[k], inner_env, inner_tan, op.results[k])
                for k in active
            ]
            regions.append(new)
        types = [r.type for r in op.results] + [self._tangent_type(op.results[k]) for k in active]
        hints = [r.hint for r in op.results] + [naming.tangent(op.results[k].hint) for k in active]
        results = b.if_(env[op.operands[0]], regions[0], regions[1], types, hints)
        env.update(zip(op.results, results))
        for k, t in zip(active, results[len(op.results) :]):
            tan[op.results[k]] = t

    def _loop(self, op: Op, b: Builder, env: dict, tan: dict) -> None:
        body = op.regions[-1]
        first = 1 if op.name == "for" else 0
        carried = body.args[first:]
        inits = op.operands[3:] if op.name == "for" else op.operands
        active = [k for k, a in enumerate(carried) if self._carries(op.results[k], a)]
        init_tans = [self._tangent_or_zero(b, inits[k], env, tan, carried[k]) for k in active]

        def new_region(region: Region, with_index: bool) -> tuple[Region, dict, dict]:
            args = [Value(a.type, a.hint) for a in region.args]
            targs = [Value(self._tangent_type(carried[k]), naming.tangent(carried[k].hint)) for k in active]
            new = Region(args + targs)
            inner_env, inner_tan = dict(env), dict(tan)
            inner_env.update(zip(region.args, args))
            offset = 1 if with_index else 0
            for k, t in zip(active, targs):
                inner_tan[region.args[offset + k]] = t
            return new, inner_env, inner_tan

        regions = []
        if op.name == "while":
            cond = op.regions[0]
            new_cond, cenv, ctan = new_region(cond, False)
            self._region(cond, Builder(new_cond, op.loc), cenv, ctan)
            new_cond.yields = [cenv[cond.yields[0]]]
            regions.append(new_cond)
        new_body, benv, btan = new_region(body, op.name == "for")
        bb = Builder(new_body, op.loc)
        self._region(body, bb, benv, btan)
        new_body.yields = [benv[y] for y in body.yields] + [
            self._tangent_or_zero(bb, body.yields[k], benv, btan, carried[k]) for k in active
        ]
        regions.append(new_body)
        types = [r.type for r in op.results] + [self._tangent_type(carried[k]) for k in active]
        hints = [r.hint for r in op.results] + [naming.tangent(op.results[k].hint) for k in active]
        operands = [env[v] for v in op.operands] + init_tans
        results = [Value(t, h) for t, h in zip(types, hints)]
        new_op = Op(op.opdef, operands, results, dict(op.attrs), regions, op.loc)
        b.region.ops.append(new_op)
        env.update(zip(op.results, results))
        for k, t in zip(active, results[len(op.results) :]):
            tan[op.results[k]] = t

    # ------------------------------------------------------------------ zeros and shapes
    def _tangent_or_zero(
        self, b: Builder, v: Value, env: dict, tan: dict, carried: Value | None = None
    ) -> Value:
        """The tangent of ``v``, or a zero for it (``carried``: the ``if`` or loop result it flows into).

        A zero shaped like a value that may be undefined here (``zeros_like(v5)`` after an
        early return left ``v5`` undefined: what the reverse sweep yields for the adjoint of
        ``v5`` where nothing used it) is built from that value's tangent, undefined exactly
        where the value is, rather than by reading the shape of nothing."""
        if v in tan:
            return tan[v]
        source = shape_key(v)
        if source is not v and source in tan and source in self._may_be_undef:
            return b.zeros_like(tan[source])
        return self._zero(b, env[v], carried)

    def _zero(self, b: Builder, like: Value, carried: Value | None = None) -> Value:
        """A zero tangent for a value like ``like`` (a placeholder for an undefined value, whose
        tangent no one reads: a variable first assigned inside a loop or branch)."""
        t = like.type
        if isinstance(t, NoneT) and carried is not None:
            return b.op("undef", result_types=[self._tangent_type(carried)])
        if self.batched:
            if not isinstance(t, Tensor) or t.rank is None:
                raise NotDifferentiableError(
                    "forward-mode gradients need every rank known: call the function first"
                )
            shape = b.tuple_cat(b.tuple(self.n), b.shape(like)) if t.rank else b.tuple(self.n)
            return b.zeros(shape)
        if isinstance(t, Tensor) and t.rank == 0:
            return b.const(0.0)
        return (
            b.zeros_like(like)
            if not (isinstance(t, Tensor) and t.dtype != "f64")
            else b.float(b.zeros_like(like))
        )

    def _broadcast(self, b: Builder, t: Value, like: Value) -> Value:
        """``t`` broadcast to the shape of ``like``'s tangent."""
        shape = b.shape(like)
        if self.batched:
            shape = b.tuple_cat(b.tuple(self.n), shape)
        return b.broadcast_to(t, shape)


def _undef_carriers(fn: Function, activity: Activity) -> tuple[set[Value], set[Value]]:
    """The inactive results of ``if`` ops and loops that must carry a tangent all the same, and
    the values that may be undefined at run time (``undef`` and the ``if`` and loop results it
    may flow into, with the loops' carried arguments).

    Where an active branch or loop value comes from a source without a tangent, its tangent
    is a zero shaped like the source. If that source is itself an ``if`` or loop result that
    may be undefined at run time (a branch that returned early yields ``undef``), a zero built
    after it would read the shape of nothing. So the source's own ``if`` or loop carries the
    tangent instead: the zero is then built inside the branches that define the value, and is
    ``undef`` where the value is. The same holds for a source only shaped like such a result
    (``zeros_like(v)``): its zero is built from the tangent the result carries.
    """
    sources: dict[Value, list[Value]] = {}  # an if/loop result -> the values that flow into it
    result_of: dict[Value, Value] = {}  # a loop's carried argument -> the loop's result
    active: set[Value] = set()  # if/loop results that carry a tangent by activity
    undef: set[Value] = set()
    for op in fn.walk():
        if op.name == "undef":
            undef.add(op.result)
        elif op.name == "if":
            for k, r in enumerate(op.results):
                sources[r] = [region.yields[k] for region in op.regions]
                if activity.is_active(r):
                    active.add(r)
        elif op.name in ("for", "while"):
            body = op.regions[-1]
            first = 1 if op.name == "for" else 0
            inits = op.operands[3:] if op.name == "for" else op.operands
            for k, r in enumerate(op.results):
                sources[r] = [inits[k], body.yields[k]]
                for region in op.regions:
                    result_of[region.args[first + k]] = r
                if activity.is_active(r) or activity.is_active(body.args[first + k]):
                    active.add(r)
    changed = True
    while changed:  # may be undefined: to a fixed point, as loops carry values around
        changed = False
        for r, srcs in sources.items():
            if r not in undef and any(result_of.get(s, s) in undef for s in srcs):
                undef.add(r)
                changed = True
    carriers: set[Value] = set()
    work = list(active)
    while work:
        for source in sources[work.pop()]:
            # the zero for an inactive source is shaped like it, so like its shape's source
            # too (see ForwardAD._tangent_or_zero)
            shaped = [source] if activity.is_active(source) else [source, shape_key(source)]
            for s in (result_of.get(v, v) for v in shaped):
                if (
                    s in sources
                    and s in undef
                    and s not in active
                    and s not in carriers
                    and can_carry_derivative(s)
                ):
                    carriers.add(s)
                    work.append(s)
    return carriers, undef | {a for a, r in result_of.items() if r in undef}
