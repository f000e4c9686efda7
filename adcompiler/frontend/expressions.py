"""Lowering expressions: AST expression → one IR value appended to the current region.

Statements and control flow build on this in :mod:`.lower`; calls to library functions are
in :mod:`.calls`.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Callable
from typing import Any, NoReturn

from ..errors import ADError, Loc, UnsupportedSyntaxError
from ..ir.builder import Builder
from ..ir.core import Function, Region, Value
from . import calls
from .resolve import Constant, ModuleRef, NeedsConstant, Opaque, Symbol, lookup_free_name, member
from .source import Source

BINOPS: dict[type, str] = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floordiv",
    ast.Mod: "mod", ast.Pow: "pow", ast.MatMult: "matmul",
    # on NumPy boolean arrays, & and | are the elementwise logical operators
    ast.BitAnd: "and", ast.BitOr: "or",
}  # fmt: skip
_COMPARES: dict[type, str] = {
    ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne",
}  # fmt: skip
_ATTRIBUTES = {"shape": "shape", "ndim": "ndim", "size": "size"}

#: parses (and caches) a helper function's IR; the call site's Loc names a recursive call; the
#: tuple binds parameters to the constants a call site passes (``axis=1``)
HelperParser = Callable[[types.FunctionType, Loc, tuple], Function]


class ExprLowering:
    """State shared by all lowering: the current region's builder and the variables in scope."""

    def __init__(
        self, pyfunc: types.FunctionType, source: Source, parse_helper: HelperParser, statics: tuple = ()
    ) -> None:
        self.pyfunc = pyfunc
        #: parameters bound to constants by the call site being inlined
        self.statics = dict(statics)
        self.src = source
        self.parse_helper = parse_helper
        self.b = Builder(Region())
        #: the value each variable in scope is bound to
        self.env: dict[str, Value] = {}

    # ------------------------------------------------------------------ helpers
    def loc(self, node: ast.AST) -> Loc:
        return self.src.loc(node)

    def error(self, message: str, node: ast.AST, cls: type[ADError] = UnsupportedSyntaxError) -> NoReturn:
        raise cls(message, self.loc(node))

    def const(self, value: Any) -> Value:
        return self.b.const(value)

    def in_region(self, region: Region, build: Callable[[], None]) -> None:
        """Run ``build`` with the builder appending to ``region``."""
        saved = self.b.region
        self.b.region = region
        try:
            build()
        finally:
            self.b.region = saved

    def symbol_of(self, node: ast.expr) -> Symbol | None:
        """What a name or dotted name refers to when it is not a value in scope (else None)."""
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return None
            sym = lookup_free_name(self.pyfunc, node.id)
            if sym is None:
                self.error(f"name {node.id!r} is not defined", node)
            return sym
        if isinstance(node, ast.Attribute):
            base = self.symbol_of(node.value)
            if isinstance(base, ModuleRef):
                return member(base, node.attr, self.loc(node))
        return None

    def static(self, node: ast.expr, what: str) -> Any:
        """The compile-time value of ``node`` (an axis, a dtype, ...)."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self.static(node.operand, what)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return -value
        if isinstance(node, ast.Tuple | ast.List):
            return tuple(self.static(e, what) for e in node.elts)
        if isinstance(node, ast.Name) and node.id in self.env:
            op = self.env[node.id].op
            if op is not None and op.name == "const":
                return op.attrs["value"]
            if op is None and self.env[node.id].owner is self.function_region:
                self.error(
                    f"{what} must be a constant known when the function is compiled", node, NeedsConstant
                )
        elif isinstance(node, ast.Name | ast.Attribute):
            sym = self.symbol_of(node)
            if isinstance(sym, Constant):
                return sym.value
        self.error(f"{what} must be a constant known when the function is compiled", node)

    # ------------------------------------------------------------------ expressions
    def expr(self, node: ast.expr) -> Value:
        """Lower ``node``; its ops get ``node``'s location."""
        saved = self.b.loc
        self.b.loc = self.loc(node)
        try:
            return self._expr(node)
        finally:
            self.b.loc = saved

    def _expr(self, node: ast.expr) -> Value:
        if isinstance(node, ast.Constant):
            if node.value is Ellipsis or isinstance(node.value, str):
                self.error(f"{type(node.value).__name__} values are not supported here", node)
            return self.const(node.value)
        if isinstance(node, ast.Name | ast.Attribute):
            return self._name_or_attribute(node)
        if isinstance(node, ast.BinOp):
            return self.b.op(BINOPS[type(node.op)], self.expr(node.left), self.expr(node.right))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
                value = node.operand.value  # -1.0 is a constant, not neg(1.0)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return self.const(-value)
            x = self.expr(node.operand)
            if isinstance(node.op, ast.UAdd):
                return x
            return self.b.op("neg" if isinstance(node.op, ast.USub) else "not", x)
        if isinstance(node, ast.BoolOp):
            return self._short_circuit(isinstance(node.op, ast.And), node.values)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            return self.select(
                self.expr(node.test), lambda: self.expr(node.body), lambda: self.expr(node.orelse)
            )
        if isinstance(node, ast.Call):
            return calls.lower_call(self, node)
        if isinstance(node, ast.Subscript):
            x = self.expr(node.value)
            index, parts = self.index(node.slice)
            return self.b.getitem(x, *parts, index=index)
        if isinstance(node, ast.Tuple):
            return self.b.tuple(*(self.expr(e) for e in node.elts))
        if isinstance(node, ast.List):
            self.error(
                "lists are only supported inside np.array, np.concatenate and np.stack; use a tuple", node
            )
        self.error(f"this expression ({type(node).__name__}) is not supported", node)

    def _name_or_attribute(self, node: ast.Name | ast.Attribute) -> Value:
        if isinstance(node, ast.Name) and node.id in self.env:
            return self.env[node.id]
        sym = self.symbol_of(node)
        if isinstance(sym, Constant):
            return self.const(sym.value)
        if sym is not None:
            kind = "a module" if isinstance(sym, ModuleRef) else "a function"
            if isinstance(sym, Opaque):
                kind = f"a {type(sym.obj).__name__}"
            self.error(f"{ast.unparse(node)} is {kind}, not a value adcompiler supports", node)
        assert isinstance(node, ast.Attribute)  # a name in scope returned above
        x = self.expr(node.value)
        if node.attr == "T":
            return self.b.transpose(x)
        if node.attr in _ATTRIBUTES:
            return self.b.op(_ATTRIBUTES[node.attr], x)
        self.error(f"the attribute .{node.attr} is not supported (only .shape .T .ndim .size)", node)

    def select(self, cond: Value, then: Callable[[], Value], orelse: Callable[[], Value]) -> Value:
        """``then() if cond else orelse()`` as an ``if`` op: only the taken side is evaluated."""
        regions = []
        for build in (then, orelse):
            region = Region()
            self.in_region(region, lambda build=build, region=region: region.yields.append(build()))
            regions.append(region)
        return self.b.if_(cond, regions[0], regions[1], [None])[0]

    def _short_circuit(self, is_and: bool, operands: list[ast.expr]) -> Value:
        """Python's ``a and b`` is ``b if a else a``; ``a or b`` is ``a if a else b``."""
        first = self.expr(operands[0])
        if len(operands) == 1:
            return first
        rest = lambda: self._short_circuit(is_and, operands[1:])
        return self.select(first, rest, lambda: first) if is_and else self.select(first, lambda: first, rest)

    def _compare(self, node: ast.Compare) -> Value:
        """``a < b < c`` is ``(a < b) and (b < c)``, with ``b`` evaluated once."""
        left = self.expr(node.left)
        result = None
        for op, right_node in zip(node.ops, node.comparators):
            right = self.expr(right_node)
            test = self.b.op(_COMPARES[type(op)], left, right)
            result = test if result is None else self.b.op("and", result, test)
            left = right
        assert result is not None
        return result

    def index(self, node: ast.expr) -> tuple[tuple[tuple, ...], list[Value]]:
        """A subscript as the ``index`` attribute of getitem/setitem and its operands."""
        elts = node.elts if isinstance(node, ast.Tuple) else [node]
        index: list[tuple] = []
        parts: list[Value] = []
        for e in elts:
            if isinstance(e, ast.Slice):
                bounds = (e.lower, e.upper, e.step)
                index.append(("slice", *(b is not None for b in bounds)))
                parts.extend(self.expr(b) for b in bounds if b is not None)
            elif isinstance(e, ast.Constant) and e.value is Ellipsis:
                index.append(("ellipsis",))
            elif self._is_none(e):
                index.append(("newaxis",))
            else:
                index.append(("idx",))
                parts.append(self.expr(e))
        return tuple(index), parts

    def _is_none(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return node.value is None
        if isinstance(node, ast.Name | ast.Attribute):
            sym = self.symbol_of(node)
            return isinstance(sym, Constant) and sym.value is None
        return False
