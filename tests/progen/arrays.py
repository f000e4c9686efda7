"""Expression productions that involve arrays: reductions, matmul, where, reshapes.

:class:`ArrayProductions` is a base of :class:`~progen.exprs.ExprGen`; it holds the
productions that build a value from arrays of other kinds (a scalar from a reduction or
a dot product, a vector from a matrix, a matrix from an outer product ...).
"""

from __future__ import annotations

import random

from .context import Ctx
from .scope import Kind, Scope
from .text import CMP, MUL, Expr, binop, call, lit, method


class ArrayProductions:
    """Array productions; the generic machinery (``expr``, ``small``...) is in ExprGen."""

    ctx: Ctx
    rng: random.Random
    scope: Scope
    avail: frozenset[Kind]

    def expr(self, kind: Kind, depth: int | None = None) -> Expr:
        raise NotImplementedError

    def small(self, kind: Kind, depth: int | None = None) -> Expr:
        raise NotImplementedError

    def squash(self, e: Expr) -> Expr:
        raise NotImplementedError

    def _reduce(self, src: Kind, depth: int) -> Expr:
        rng, ctx = self.rng, self.ctx
        arr = self.expr(src, depth)
        size = ctx.size(src)
        names = ["sum", "sum", "mean", "prod"]
        if ctx.on("max_min_reductions"):
            names += ["max", "min"]
        name = rng.choice(names)
        if name == "prod":
            arr = binop("+", lit(1.0), binop("*", lit(0.5), self.squash(arr), src, 0.8), src, 1.8)
            return call("np.prod", arr, kind=Kind.F, bound=1.8**size)
        bound = arr.bound * (size if name == "sum" else 1)
        if src is Kind.M and ctx.on("axis_reductions") and rng.random() < 0.15:
            return call(f"np.{name}", arr, "axis=(0, 1)", kind=Kind.F, bound=bound)
        if rng.random() < 0.4:
            return method(arr, name, kind=Kind.F, bound=bound)
        return call(f"np.{name}", arr, kind=Kind.F, bound=bound)

    def _dot_scalar(self, depth: int) -> Expr:
        rng = self.rng
        k = rng.choice([k for k in (Kind.V, Kind.W) if k in self.avail])
        a, b = self.expr(k, depth), self.expr(k, depth)
        bound = a.bound * b.bound * self.ctx.length(k)
        form = rng.randrange(4)
        if form == 0:
            return call("np.dot", a, b, kind=Kind.F, bound=bound)
        if form == 1:
            return binop("@", a, b, Kind.F, bound)
        if form == 2:
            return method(a, "dot", b, kind=Kind.F, bound=bound)
        return call("np.matmul", a, b, kind=Kind.F, bound=bound)

    def _slice_reduce(self, depth: int) -> Expr:
        """A scalar from slices: ``np.sum(x[1:] * y[:-1])`` or ``np.dot(x[::2], y[::2])``."""
        rng, ctx = self.rng, self.ctx
        kinds = [k for k in (Kind.V, Kind.W) if k in self.avail]
        if Kind.M in self.avail and ctx.on("reductions"):
            kinds.append(Kind.M)
        k = rng.choice(kinds)
        a, b = self.expr(k, depth), self.expr(k, depth)
        if k is Kind.M:
            s1, s2 = rng.choice([("1:, :", ":-1, :"), (":, 1:", ":, :-1"), ("1:", ":-1")])
        else:
            s1, s2 = rng.choice([("1:", ":-1"), ("::2", "::2"), (":1", "-1:"), ("::-1", ":")])
        bound = a.bound * b.bound * ctx.size(k)
        use_sum = rng.random() < 0.5 or k is Kind.M or not ctx.on("matmul")
        if use_sum and ctx.on("reductions"):
            return Expr(f"np.sum({a.atom()}[{s1}] * {b.atom()}[{s2}])", Kind.F, bound)
        return Expr(f"np.dot({a.atom()}[{s1}], {b.atom()}[{s2}])", Kind.F, bound)

    def mask(self, kind: Kind, depth: int | None = None) -> str:
        """A boolean array of ``kind``'s shape: ``c > t`` (its margin is checked like any
        comparison, so no entry sits on the threshold)."""
        c = self.small(kind, depth)
        thr = lit(round(self.rng.uniform(-0.6, 0.6), 2))
        return f"{c.at(CMP + 1)} {self.rng.choice(['>', '<'])} {thr.text}"

    def _masked_sum(self, depth: int) -> Expr:
        """The sum of the entries a mask selects: ``np.sum(a[c > t])`` (maybe of none)."""
        k = self.rng.choice([k for k in (Kind.V, Kind.W, Kind.M) if k in self.avail])
        a = self.expr(k, depth)
        return Expr(f"np.sum({a.atom()}[{self.mask(k, depth)}])", Kind.F, a.bound * self.ctx.size(k))

    def _where(self, kind: Kind, depth: int) -> Expr:
        rng = self.rng
        a, b = self.expr(kind, depth), self.expr(kind, depth)
        bound = max(a.bound, b.bound)
        form = rng.randrange(4)
        if form == 0:
            c = self.small(kind, depth)
            thr = lit(rng.uniform(-0.6, 0.6))
            op = rng.choice([">", "<"])
            return call("np.where", f"{c.at(CMP + 1)} {op} {thr.text}", a, b, kind=kind, bound=bound)
        if form == 1:
            return call(rng.choice(["np.maximum", "np.minimum"]), a, b, kind=kind, bound=bound)
        if form == 2:
            lo = round(rng.uniform(-1.0, -0.2), 2)
            hi = round(rng.uniform(0.2, 1.0), 2)
            return call("np.clip", a, repr(lo), repr(hi), kind=kind, bound=max(-lo, hi))
        return call("np.abs", a, kind=kind, bound=a.bound)

    def _axis_reduce(self, kind: Kind, depth: int) -> Expr:
        rng, ctx = self.rng, self.ctx
        m = self.expr(Kind.M, depth)
        axis = 0 if kind is Kind.V else rng.choice([1, -1])
        names = ["sum", "mean", "sum"] + (["max", "min"] if ctx.on("max_min_reductions") else [])
        name = rng.choice(names)
        size = ctx.rows if axis == 0 else ctx.cols
        bound = m.bound * (size if name == "sum" else 1)
        if rng.random() < 0.3:
            return method(m, name, f"axis={axis}", kind=kind, bound=bound)
        return call(f"np.{name}", m, f"axis={axis}", kind=kind, bound=bound)

    def _keepdims(self, depth: int) -> Expr:
        rng = self.rng
        m, red = self.expr(Kind.M, depth), self.expr(Kind.M, depth)
        name = rng.choice(["sum", "mean"])
        axis = rng.choice([0, 1])
        size = self.ctx.rows if axis == 0 else self.ctx.cols
        rb = red.bound * (size if name == "sum" else 1)
        r = call(f"np.{name}", red, f"axis={axis}", "keepdims=True", kind=Kind.M, bound=rb)
        op = rng.choice(["+", "-", "*"])
        return binop(op, m, r, Kind.M, m.bound * rb if op == "*" else m.bound + rb)

    def _matmul_ok(self, kind: Kind) -> bool:
        if Kind.M not in self.avail:
            return False
        needs = {Kind.V: (Kind.W,), Kind.W: (Kind.V,), Kind.M: (Kind.V, Kind.W)}[kind]
        return all(k in self.avail for k in needs)

    def _matmul(self, kind: Kind, depth: int) -> Expr:
        rng, ctx = self.rng, self.ctx
        m = self.expr(Kind.M, depth)
        if kind is Kind.W:
            v = self.expr(Kind.V, depth)
            bound = m.bound * v.bound * ctx.cols
            form = rng.randrange(3)
            if form == 0:
                return binop("@", m, v, kind, bound)
            if form == 1:
                return call("np.dot", m, v, kind=kind, bound=bound)
            return method(m, "dot", v, kind=kind, bound=bound)
        if kind is Kind.V and ctx.on("constructors") and self.scope.of_kind(kind) and ctx.coin(0.15):
            v = self.expr(Kind.V, depth)
            return binop("@", Expr(f"np.eye({ctx.cols})", Kind.M, 1.0), v, kind, v.bound)
        if kind is Kind.V:
            w = self.expr(Kind.W, depth)
            bound = m.bound * w.bound * ctx.rows
            form = rng.randrange(3)
            if form == 0:
                return binop("@", Expr(f"{m.atom()}.T", Kind.M, m.bound), w, kind, bound)
            if form == 1:
                return binop("@", w, m, kind, bound)
            return call("np.matmul", w, m, kind=kind, bound=bound)
        w, v = self.expr(Kind.W, depth), self.expr(Kind.V, depth)
        return call("np.outer", w, v, kind=kind, bound=w.bound * v.bound)

    def _construct(self, kind: Kind, depth: int) -> Expr:
        rng, ctx = self.rng, self.ctx
        s = self.expr(Kind.F, depth)
        shape = {Kind.V: str(ctx.cols), Kind.W: str(ctx.rows), Kind.M: f"({ctx.rows}, {ctx.cols})"}[kind]
        form = rng.randrange(3)
        if form == 0:
            return call("np.full", shape, s, kind=kind, bound=s.bound)
        if form == 1:
            ones = Expr(f"np.ones({shape})", kind, 1.0)
            return binop("*", s, ones, kind, s.bound)
        like = [v for v in self.scope.of_kind(kind)]
        if like:
            z = Expr(f"np.zeros_like({rng.choice(like).name})", kind, 0.0)
            return binop("+", z, s, kind, s.bound)
        return binop("+", Expr(f"np.zeros({shape})", kind, 0.0), s, kind, s.bound)

    def _reverse(self, kind: Kind, depth: int) -> Expr:
        a = self.expr(kind, depth)
        sl = "::-1" if kind is not Kind.M or self.ctx.coin(0.5) else ":, ::-1"
        return Expr(f"{a.atom()}[{sl}]", kind, a.bound)

    def _reshape(self, kind: Kind, depth: int) -> Expr:
        rng, ctx = self.rng, self.ctx
        matmul = ctx.on("matmul")
        if kind is Kind.V and matmul and Kind.M in self.avail and Kind.W in self.avail:
            m, w = self.expr(Kind.M, depth), self.expr(Kind.W, depth)
            if rng.random() < 0.5:
                mt = Expr(f"np.transpose({m.text})", Kind.M, m.bound)
                return binop("@", mt, w, kind, m.bound * w.bound * ctx.rows)
            text = f"{m.atom()}.reshape({ctx.cols}, {ctx.rows}) @ {w.atom()}"
            return Expr(text, kind, m.bound * w.bound * ctx.rows, MUL)
        if kind is Kind.M:
            if ctx.rows == 2 and Kind.V in self.avail and rng.random() < 0.7:
                a, b = self.expr(Kind.V, depth), self.expr(Kind.V, depth)
                return Expr(f"np.stack([{a.text}, {b.text}])", kind, max(a.bound, b.bound))
            if ctx.cols == 2 and Kind.W in self.avail and rng.random() < 0.7:
                a, b = self.expr(Kind.W, depth), self.expr(Kind.W, depth)
                text = f"np.stack([{a.text}, {b.text}], axis=1)"
                return Expr(text, kind, max(a.bound, b.bound))
            m = self.expr(Kind.M, depth)
            if ctx.on("slicing"):
                text = f"np.concatenate([{m.atom()}[1:], {m.atom()}[:1]], axis=0)"
            else:
                text = f"np.transpose({m.atom()}.reshape({ctx.cols}, {ctx.rows}))"
            return Expr(text, kind, m.bound)
        a = self.expr(kind, depth)
        if not ctx.on("slicing"):
            return Expr(f"{a.atom()}.reshape({ctx.length(kind)})", kind, a.bound)
        k = rng.randint(1, ctx.length(kind) - 1)
        text = f"np.concatenate([{a.atom()}[{k}:], {a.atom()}[:{k}]])"
        return Expr(text, kind, a.bound)
