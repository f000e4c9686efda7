"""Random expressions of a given kind, with a static bound on their magnitude.

Every expression generator returns an :class:`~progen.text.Expr` whose ``bound`` is an
upper bound on the absolute value of its entries given the bounds of the variables it
reads. Functions whose domain is restricted are only used in safe forms: ``log(1 + u**2)``,
``sqrt(1 + u**2)``, ``u / (1 + v**2)``, ``exp`` of a bounded argument, ``tan(0.5 *
tanh(u))``. Whatever grows past :data:`BMAX` is squashed (``np.tanh(u)`` ...).

Non-smooth operations (``abs``, ``min``/``max``, ``np.maximum``, ``np.where``, max
reductions, comparisons) are generated freely: the program validator
(:mod:`progen.check`) rejects a program whose sample point is too close to a kink.
"""

from __future__ import annotations

import math

from .arrays import ArrayProductions
from .context import Ctx, HelperSig, Production
from .scope import Kind, Scope, Var
from .text import (
    ADD,
    AND,
    NOT,
    OR,
    TERNARY,
    Expr,
    binop,
    call,
    cond_expr,
    int_lit,
    lit,
    neg,
)

#: Expressions with a larger bound are squashed.
BMAX = 10.0
#: Largest argument bound for exp/sinh/cosh.
EXP_ARG_MAX = 2.5


class ExprGen(ArrayProductions):
    """Generates expressions over the variables of a scope."""

    def __init__(self, ctx: Ctx, scope: Scope, avail: frozenset[Kind]) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.scope = scope
        self.avail = avail

    # ---- entry points -------------------------------------------------------------------

    def expr(self, kind: Kind, depth: int | None = None) -> Expr:
        """A random expression of ``kind`` with bound at most :data:`BMAX`."""
        if depth is None:
            depth = self.rng.randint(1, self.ctx.cfg.max_expr_depth)
        leaves = self._leaves(kind)
        prods = leaves if depth <= 0 else leaves + self._nodes(kind)
        if not prods:  # no variable of this kind yet: build it from other kinds
            prods = self._from_other_kinds(kind)
            depth = 1
        weights = [w for w, _ in prods]
        _, make = self.rng.choices(prods, weights=weights)[0]
        e = make(depth - 1)
        return self.squash(e) if e.bound > BMAX else e

    def bounded(self, kind: Kind, limit: float, depth: int | None = None) -> Expr:
        """An expression of ``kind`` with bound at most ``limit`` (squashed if needed)."""
        e = self.expr(kind, depth)
        return e if e.bound <= limit else self.squash(e)

    def squash(self, e: Expr) -> Expr:
        """``e`` through a bounded smooth function (bound at most 1.6)."""
        ctx = self.ctx
        if e.kind is Kind.F and not ctx.on("scalar_math"):
            if ctx.on("math_module"):
                f = self.rng.choice(["math.tanh", "math.sin", "math.atan"])
                return call(f, e, kind=e.kind, bound=1.6)
            sq = binop("**", e, int_lit(2), Kind.F, 0.0)
            den = binop("+", lit(1.0), sq, Kind.F, 0.0)
            return binop("/", e, den, Kind.F, 0.5)
        f = self.rng.choice(["np.tanh", "np.tanh", "np.sin", "np.cos", "np.arctan"])
        if e.kind is Kind.F and ctx.on("math_module") and ctx.coin(0.3):
            f = {"np.arctan": "math.atan"}.get(f, f.replace("np.", "math."))
        return call(f, e, kind=e.kind, bound=1.6 if "arctan" in f or "atan" in f else 1.0)

    def small(self, kind: Kind, depth: int | None = None) -> Expr:
        """An expression with bound at most 1.6 (always squashed unless a leaf is small)."""
        return self.bounded(kind, 1.6, depth)

    # ---- leaves ---------------------------------------------------------------------------

    def _leaves(self, kind: Kind) -> list[Production]:
        ctx, prods = self.ctx, []
        for var in self.scope.of_kind(kind):
            prods.append((3.0, lambda d, v=var: Expr(v.name, kind, v.bound)))
        if kind is Kind.F:
            prods.append((1.0, lambda d: lit(self.rng.choice([-1, 1]) * self._const())))
            for name, value in ctx.constants.items():
                prods.append((0.7, lambda d, n=name, x=value: Expr(n, Kind.F, abs(x))))
            if ctx.on("int_float_mix") and self.scope.ints():
                prods.append((0.6, self._int_mix))
            if ctx.on("indexing"):
                for var in self.scope.vars.values():
                    if var.kind.is_array:
                        prods.append((1.0, lambda d, v=var: self._element(v)))
        elif ctx.on("indexing") and (kind is Kind.V or kind is Kind.W and ctx.on("slicing")):
            for var in self.scope.of_kind(Kind.M):
                prods.append((0.8, lambda d, v=var, k=kind: self._row_or_col(v, k)))
        if kind is Kind.V and ctx.on("constructors"):
            prods.append((0.3, lambda d: self._arange()))
        return prods

    def _const(self) -> float:
        return self.rng.choice([0.5, 0.25, 0.75, 1.5, 2.0, 0.1, 0.3, 1.0, 0.9, 1.25])

    def _int_mix(self, depth: int) -> Expr:
        iv = self.rng.choice(self.scope.ints())
        c = lit(self._const())
        bound = max(abs(iv.lo), abs(iv.hi))
        if self.ctx.coin(0.3):
            return call("float", iv.name, kind=Kind.F, bound=bound)
        if self.ctx.coin(0.5):
            return binop("*", c, Expr(iv.name, Kind.I, bound), Kind.F, c.bound * bound)
        den = binop("+", Expr(iv.name, Kind.I, bound), int_lit(1), Kind.I, bound + 1)
        return binop("/", c, den, Kind.F, c.bound)

    def index(self, size: int) -> str:
        """An int index expression valid for an axis of length ``size``."""
        rng = self.rng
        good = [v for v in self.scope.indices() if v.lo >= 0]
        if good and rng.random() < 0.8:
            v = rng.choice(good)
            options = []
            if v.hi <= size:
                options += [v.name, v.name, f"{size - 1} - {v.name}"]
            if v.lo >= 1 and v.hi <= size + 1:
                options.append(f"{v.name} - 1")
            options += [f"{v.name} % {size}", f"({v.name} + 1) % {size}"]
            if self.ctx.on("builtins_minmax_abs"):
                options.append(f"min({v.name}, {size - 1})")
            return rng.choice(options)
        return str(rng.randint(-size, size - 1))

    def _element(self, var: Var) -> Expr:
        if var.kind is Kind.M:
            i, j = self.index(self.ctx.rows), self.index(self.ctx.cols)
            text = f"{var.name}[{i}, {j}]" if self.ctx.coin(0.7) else f"{var.name}[{i}][{j}]"
        else:
            text = f"{var.name}[{self.index(self.ctx.length(var.kind))}]"
        return Expr(text, Kind.F, var.bound)

    def _row_or_col(self, var: Var, kind: Kind) -> Expr:
        if kind is Kind.V:
            i = self.index(self.ctx.rows)
            sliced = self.ctx.on("slicing") and self.ctx.coin(0.4)
            text = f"{var.name}[{i}, :]" if sliced else f"{var.name}[{i}]"
        else:
            text = f"{var.name}[:, {self.index(self.ctx.cols)}]"
        return Expr(text, kind, var.bound)

    def _arange(self) -> Expr:
        c = self.ctx.cols
        scale = self.rng.choice([0.1, 0.25, 0.5])
        return binop("*", lit(scale), Expr(f"np.arange({c})", Kind.V, c), Kind.V, scale * c)

    # ---- compound expressions ----------------------------------------------------------

    def _nodes(self, kind: Kind) -> list[Production]:
        ctx = self.ctx
        prods: list[Production] = [(3.0, lambda d: self._arith(kind, d))]
        if kind is not Kind.F or ctx.on("scalar_math") or ctx.on("math_module"):
            prods.append((2.0, lambda d: self._unary(kind, d)))
        prods.append((0.8, lambda d: self._safe_div(kind, d)))
        if ctx.on("ternary"):
            prods.append((0.3, lambda d: self._ternary(kind, d)))
        if kind is Kind.F:
            if ctx.on("builtins_minmax_abs"):
                prods.append((0.6, self._builtin_minmax))
            for src in (Kind.V, Kind.W, Kind.M):
                if src in self.avail and ctx.on("reductions"):
                    prods.append((1.2, lambda d, s=src: self._reduce(s, d)))
            if ctx.on("matmul") and Kind.V in self.avail:
                prods.append((0.8, self._dot_scalar))
            if (
                ctx.on("slicing")
                and (ctx.on("reductions") or ctx.on("matmul"))
                and (Kind.V in self.avail or Kind.W in self.avail)
            ):
                prods.append((0.5, self._slice_reduce))
            if ctx.on("masks") and ctx.on("reductions") and self.avail & {Kind.V, Kind.W, Kind.M}:
                prods.append((0.4, self._masked_sum))
        else:
            if ctx.on("where"):
                prods.append((0.8, lambda d: self._where(kind, d)))
            if ctx.on("axis_reductions") and Kind.M in self.avail and kind is not Kind.M:
                prods.append((0.8, lambda d: self._axis_reduce(kind, d)))
            if ctx.on("matmul") and self._matmul_ok(kind):
                prods.append((0.8, lambda d: self._matmul(kind, d)))
            if ctx.on("constructors") and ctx.on("broadcasting"):
                prods.append((0.3, lambda d: self._construct(kind, d)))
            if ctx.on("slicing"):
                prods.append((0.4, lambda d: self._reverse(kind, d)))
            if ctx.on("reshape_stack"):
                prods.append((0.4, lambda d: self._reshape(kind, d)))
            if kind is Kind.M and ctx.on("axis_reductions") and ctx.on("broadcasting"):
                prods.append((0.6, self._keepdims))
        for sig in ctx.helpers:
            if sig.returns == (kind,) and all(k in self.avail for _, k in sig.params):
                prods.append((0.7, lambda d, s=sig: self.helper_call(s, d)))
        return prods

    def _from_other_kinds(self, kind: Kind) -> list[Production]:
        """Productions of ``kind`` that only recurse into kinds with variables."""
        prods: list[Production] = []
        if self.ctx.on("axis_reductions") and Kind.M in self.avail and kind is not Kind.M:
            prods.append((1.0, lambda d: self._axis_reduce(kind, d)))
        if self.ctx.on("matmul") and self._matmul_ok(kind):
            prods.append((1.0, lambda d: self._matmul(kind, d)))
        if not prods:
            raise AssertionError(f"cannot build a {kind} from {self.avail}")
        return prods

    def operand_kinds(self, kind: Kind) -> list[tuple[Kind, Kind]]:
        """Operand kind pairs whose elementwise combination has kind ``kind``."""
        pairs = [(kind, kind)]
        if kind is not Kind.F and self.ctx.on("broadcasting"):
            pairs += [(kind, Kind.F), (Kind.F, kind)]
            if kind is Kind.M and Kind.V in self.avail:
                pairs += [(Kind.M, Kind.V), (Kind.V, Kind.M)]
        return pairs

    def _arith(self, kind: Kind, depth: int) -> Expr:
        lk, rk = self.rng.choice(self.operand_kinds(kind))
        op = self.rng.choice(["+", "-", "*", "*", "+"])
        left, right = self.expr(lk, depth), self.expr(rk, depth)
        if op == "*":
            bound = left.bound * right.bound
        else:
            bound = left.bound + right.bound
        e = binop(op, left, right, kind, bound)
        if self.ctx.coin(0.1):
            e = neg(e)
        return e

    def _safe_div(self, kind: Kind, depth: int) -> Expr:
        num = self.expr(kind, depth)
        dk = self.rng.choice([k for k, _ in self.operand_kinds(kind)] + [Kind.F])
        den_arg = self.expr(dk, depth - 1)
        if self.ctx.coin(0.5) or (dk is Kind.F and not self.ctx.on("scalar_math")):
            sq = binop("**", den_arg, int_lit(2), dk, den_arg.bound**2)
            den = binop("+", lit(1.0), sq, dk, 1.0 + sq.bound)
        else:
            den = binop("+", lit(2.0), self._np_fn("cos", den_arg, dk), dk, 3.0)
        return binop("/", num, den, kind, num.bound)

    def _np_fn(self, name: str, arg: Expr, kind: Kind) -> Expr:
        """``np.name(arg)`` (or ``math.name`` on a scalar when only math is allowed)."""
        if kind is Kind.F and (not self.ctx.on("scalar_math") or self.ctx.coin(0.3)):
            if self.ctx.on("math_module"):
                mname = {"arctan": "atan"}.get(name, name)
                return call(f"math.{mname}", arg, kind=kind, bound=1.0)
        return call(f"np.{name}", arg, kind=kind, bound=1.0)

    def _unary(self, kind: Kind, depth: int) -> Expr:
        rng, ctx = self.rng, self.ctx
        u = self.expr(kind, depth)
        b = u.bound
        use_math = (
            kind is Kind.F and ctx.on("math_module") and (not ctx.on("scalar_math") or rng.random() < 0.4)
        )
        p = "math." if use_math else "np."
        name = rng.choice(
            [
                "sin",
                "cos",
                "tanh",
                "arctan",
                "exp",
                "log",
                "sqrt",
                "square",
                "sinh",
                "cosh",
                "tan",
                "log1p",
                "power",
                "exp2",
                "logaddexp",
                "abs",
                "neg",
            ]
        )
        if use_math and name in ("square", "exp2", "logaddexp", "power", "abs", "tan"):
            name = rng.choice(["sin", "exp", "log", "sqrt", "atan"])
        if name == "abs" and not (ctx.on("where") or ctx.on("builtins_minmax_abs")):
            name = "tanh"
        if name in ("exp", "sinh", "cosh", "exp2") and b > EXP_ARG_MAX:
            u, b = self.squash(u), 1.6
        sq = binop("**", u, int_lit(2), kind, b * b)
        one_plus_sq = binop("+", lit(1.0), sq, kind, 1 + b * b)
        if name in ("sin", "cos", "tanh"):
            return call(p + name, u, kind=kind, bound=1.0)
        if name in ("arctan", "atan"):
            return call(p + ("atan" if use_math else "arctan"), u, kind=kind, bound=1.6)
        if name in ("exp", "sinh", "cosh"):
            return call(p + name, u, kind=kind, bound=math.cosh(b) if name != "exp" else math.exp(b))
        if name == "exp2":
            return call("np.exp2", u, kind=kind, bound=2.0**b)
        if name == "log":
            if rng.random() < 0.5:
                return call(p + "log", one_plus_sq, kind=kind, bound=math.log(1 + b * b))
            arg = binop("+", lit(2.0), call(p + "sin", u, kind=kind, bound=1.0), kind, 3.0)
            return call(p + "log", arg, kind=kind, bound=math.log(3.0))
        if name == "sqrt":
            return call(p + "sqrt", one_plus_sq, kind=kind, bound=math.sqrt(1 + b * b))
        if name == "log1p":
            return call(p + "log1p", sq, kind=kind, bound=math.log1p(b * b))
        if name == "square":
            if rng.random() < 0.5:
                return call("np.square", u, kind=kind, bound=b * b)
            return sq
        if name == "tan":
            inner = binop("*", lit(0.5), call("np.tanh", u, kind=kind, bound=1.0), kind, 0.5)
            return call("np.tan", inner, kind=kind, bound=0.6)
        if name == "power":
            expo = rng.choice(["0.5", "-0.5", "1.5"])
            return call("np.power", one_plus_sq, expo, kind=kind, bound=(1 + b * b) ** 1.5)
        if name == "logaddexp":
            v = self.expr(kind, depth)
            return call("np.logaddexp", u, v, kind=kind, bound=max(b, v.bound) + 0.7)
        if name == "abs":
            f = "abs" if kind is Kind.F and ctx.on("builtins_minmax_abs") and rng.random() < 0.6 else "np.abs"
            if f == "np.abs" and not ctx.on("where"):
                f = "abs"
            return call(f, u, kind=kind, bound=b)
        return neg(u)

    def _ternary(self, kind: Kind, depth: int) -> Expr:
        a, b = self.expr(kind, depth), self.expr(kind, depth)
        c = self.cond(depth)
        text = f"{a.at(TERNARY + 1)} if {c.at(TERNARY + 1)} else {b.at(TERNARY)}"
        return Expr(text, kind, max(a.bound, b.bound), TERNARY)

    def _builtin_minmax(self, depth: int) -> Expr:
        a, b = self.expr(Kind.F, depth), self.expr(Kind.F, depth)
        f = self.rng.choice(["min", "max"])
        return call(f, a, b, kind=Kind.F, bound=max(a.bound, b.bound))

    # ---- helper calls ---------------------------------------------------------------------

    def helper_args(self, sig: HelperSig, depth: int) -> str:
        """Argument text for a call of ``sig`` (each argument within the param bound)."""
        args = [self.bounded(k, sig.param_bound, max(depth, 0)).text for _, k in sig.params]
        for name, _ in sig.defaults:
            if self.ctx.coin(0.5):
                value = round(self.rng.uniform(-1.0, 1.0), 2)
                args.append(f"{name}={value!r}" if self.ctx.coin(0.7) else repr(value))
        return ", ".join(args)

    def helper_call(self, sig: HelperSig, depth: int) -> Expr:
        text = f"{sig.name}({self.helper_args(sig, depth)})"
        return Expr(text, sig.returns[0], sig.return_bounds[0])

    # ---- conditions -----------------------------------------------------------------------

    def cond(self, depth: int = 1) -> Expr:
        """A boolean condition: data-dependent (threshold tests) or on ints."""
        rng, ctx = self.rng, self.ctx
        ints = self.scope.ints()
        if ints and rng.random() < 0.35:
            return self._int_cond(ints)
        c = self._data_cond(depth)
        if ctx.on("bool_ops") and rng.random() < 0.25:
            form = rng.randrange(3)
            if form == 0:
                other = self._int_cond(ints) if ints and rng.random() < 0.5 else self._data_cond(depth)
                op, prec = rng.choice([("and", AND), ("or", OR)])
                return cond_expr(f"{c.at(prec)} {op} {other.at(prec + 1)}", prec)
            if form == 1:
                return cond_expr(f"not {c.at(NOT)}", NOT)
            s = self.small(Kind.F, depth)
            lo = round(rng.uniform(-1.2, 0.0), 2)
            hi = round(rng.uniform(0.1, 1.2), 2)
            return cond_expr(f"{lo!r} < {s.at(ADD)} < {hi!r}")
        return c

    def _data_cond(self, depth: int) -> Expr:
        rng = self.rng
        s = self.small(Kind.F, depth)
        if rng.random() < 0.2:
            t = self.small(Kind.F, depth)
            return cond_expr(f"{s.at(ADD)} {rng.choice(['<', '>'])} {t.at(ADD)}")
        thr = lit(round(rng.uniform(-0.8, 0.8) * min(s.bound, 1.2), 2))
        op = rng.choice(["<", ">", "<=", ">="])
        return cond_expr(f"{s.at(ADD)} {op} {thr.at(ADD)}")

    def _int_cond(self, ints: list[Var]) -> Expr:
        rng = self.rng
        v = rng.choice(ints)
        k = rng.randint(v.lo, max(v.lo, v.hi - 1))
        form = rng.randrange(4)
        if form == 0:
            return cond_expr(f"{v.name} % 2 == {rng.randint(0, 1)}")
        if form == 1:
            return cond_expr(f"{v.name} {rng.choice(['<', '>', '<=', '>=', '!='])} {k}")
        if form == 2 and len(ints) > 1:
            other = rng.choice([u for u in ints if u is not v])
            return cond_expr(f"{v.name} {rng.choice(['<', '==', '!='])} {other.name}")
        return cond_expr(f"{v.name} == {k}")


__all__ = ["BMAX", "ExprGen"]
