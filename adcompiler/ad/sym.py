"""Symbolic values for writing derivative rules as math: ``g * cos(x)``.

A :class:`Sym` wraps an IR value and the builder of the region a rule is emitting into;
its operators and the functions below append ops. Python numbers mix in as constants.
"""

from __future__ import annotations

from typing import Any

from ..ir.builder import Builder
from ..ir.core import Value


class Sym:
    __slots__ = ("v", "b")

    def __init__(self, v: Value, b: Builder) -> None:
        self.v = v
        self.b = b

    def _lift(self, other: Any) -> Value:
        if isinstance(other, Sym):
            return other.v
        if isinstance(other, Value):
            return other
        return self.b.const(other)

    def _bin(self, name: str, other: Any, flip: bool = False) -> Sym:
        a, c = self.v, self._lift(other)
        if flip:
            a, c = c, a
        return Sym(self.b.op(name, a, c), self.b)

    def __add__(self, o):
        return self._bin("add", o)

    def __radd__(self, o):
        return self._bin("add", o, True)

    def __sub__(self, o):
        return self._bin("sub", o)

    def __rsub__(self, o):
        return self._bin("sub", o, True)

    def __mul__(self, o):
        return self._bin("mul", o)

    def __rmul__(self, o):
        return self._bin("mul", o, True)

    def __truediv__(self, o):
        return self._bin("div", o)

    def __rtruediv__(self, o):
        return self._bin("div", o, True)

    def __pow__(self, o):
        return self._bin("pow", o)

    def __matmul__(self, o):
        return self._bin("matmul", o)

    def __lt__(self, o):
        return self._bin("lt", o)

    def __le__(self, o):
        return self._bin("le", o)

    def __gt__(self, o):
        return self._bin("gt", o)

    def __ge__(self, o):
        return self._bin("ge", o)

    def __and__(self, o):
        return self._bin("and", o)

    def __neg__(self):
        return Sym(self.b.neg(self.v), self.b)

    def eq(self, o: Any) -> Sym:
        return self._bin("eq", o)

    @property
    def type(self):
        return self.v.type

    @property
    def rank(self) -> int | None:
        return getattr(self.v.type, "rank", None)

    @property
    def T(self) -> Sym:
        return call("transpose", self)


def call(name: str, *args: Any, **attrs: Any) -> Sym:
    """Apply op ``name``; the first Sym among ``args`` provides the builder."""
    b = next(a.b for a in args if isinstance(a, Sym))
    values = [a.v if isinstance(a, Sym) else a if isinstance(a, Value) else b.const(a) for a in args]
    return Sym(b.op(name, *values, **attrs), b)


def _fn(name: str):
    def apply(*args: Any, **attrs: Any) -> Sym:
        return call(name, *args, **attrs)

    apply.__name__ = name
    return apply


sin, cos, exp, log, sqrt, sinh, cosh = (_fn(n) for n in ("sin", "cos", "exp", "log", "sqrt", "sinh", "cosh"))
sign, floor, square, where, tanh = (_fn(n) for n in ("sign", "floor", "square", "where", "tanh"))
dot, matmul, outer, transpose = (_fn(n) for n in ("dot", "matmul", "outer", "transpose"))
reshape, broadcast_to, sum_to, expand_dims = (
    _fn(n) for n in ("reshape", "broadcast_to", "sum_to", "expand_dims")
)
shape, size, zeros_like, to_float = _fn("shape"), _fn("size"), _fn("zeros_like"), _fn("float")
reduce_sum = _fn("sum")
getitem, setitem = _fn("getitem"), _fn("setitem")
