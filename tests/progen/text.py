"""Source-text building blocks: expressions with precedence and bounds, literals, names."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .scope import Kind

# Python operator precedences (higher binds tighter).
ATOM = 100
POW = 15
UNARY = 14
MUL = 13
ADD = 12
CMP = 7
NOT = 6
AND = 5
OR = 4
TERNARY = 3

_BIN_PREC = {"+": ADD, "-": ADD, "*": MUL, "/": MUL, "@": MUL, "%": MUL, "**": POW}


@dataclass(frozen=True)
class Expr:
    """A generated expression: its source text, kind, bound on |entries|, precedence."""

    text: str
    kind: Kind
    bound: float
    prec: int = ATOM

    def atom(self) -> str:
        """The text, parenthesised unless it is already an atom."""
        return self.text if self.prec >= ATOM else f"({self.text})"

    def at(self, prec: int) -> str:
        """The text, parenthesised if it binds looser than ``prec``."""
        return self.text if self.prec >= prec else f"({self.text})"


def lit(value: float) -> Expr:
    """A float literal (negative literals get unary precedence)."""
    text = repr(round(float(value), 3))
    return Expr(text, Kind.F, abs(float(value)), UNARY if value < 0 else ATOM)


def int_lit(value: int) -> Expr:
    return Expr(str(value), Kind.I, abs(value), UNARY if value < 0 else ATOM)


def binop(op: str, left: Expr, right: Expr, kind: Kind, bound: float) -> Expr:
    """``left op right`` with the minimal parentheses."""
    prec = _BIN_PREC[op]
    if op == "**":
        text = f"{left.at(prec + 1)} ** {right.at(UNARY)}"
    else:
        text = f"{left.at(prec)} {op} {right.at(prec + 1)}"
    return Expr(text, kind, bound, prec)


def call(func: str, *args: Expr | str, kind: Kind, bound: float) -> Expr:
    """``func(args...)``; string arguments are inserted verbatim (keywords, literals)."""
    parts = [a if isinstance(a, str) else a.text for a in args]
    return Expr(f"{func}({', '.join(parts)})", kind, bound)


def method(obj: Expr, name: str, *args: Expr | str, kind: Kind, bound: float) -> Expr:
    """``obj.name(args...)``."""
    parts = [a if isinstance(a, str) else a.text for a in args]
    return Expr(f"{obj.atom()}.{name}({', '.join(parts)})", kind, bound)


def neg(e: Expr) -> Expr:
    return Expr(f"-{e.at(UNARY)}", e.kind, e.bound, UNARY)


def cond_expr(text: str, prec: int = CMP) -> Expr:
    """A boolean condition (kind F is a placeholder: conditions are only used as tests)."""
    return Expr(text, Kind.F, 1.0, prec)


def indent(lines: list[str], levels: int = 1) -> list[str]:
    pad = "    " * levels
    return [pad + line if line else line for line in lines]


_VIEW_METHODS = {"reshape", "transpose", "view", "ravel"}


def view_roots(text: str) -> set[str]:
    """Names whose storage the array value of expression ``text`` may share (a view).

    Plain names, subscripts, ``.T``, ``reshape``/``transpose`` and conditional
    expressions of those return views; everything else (arithmetic, ufuncs, copies)
    builds a new array.
    """
    return _roots(ast.parse(text, mode="eval").body)


def _roots(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Subscript):
        return _roots(node.value)
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return _roots(node.value)
    if isinstance(node, ast.IfExp):
        return _roots(node.body) | _roots(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        func = node.func
        if isinstance(func.value, ast.Name) and func.value.id == "np":
            if func.attr in _VIEW_METHODS and node.args:
                return _roots(node.args[0])
            return set()
        if func.attr in _VIEW_METHODS:
            return _roots(func.value)
    return set()
