"""Each pure op as a Python expression: ONE table keyed by op name.

A rule gets the op, the expressions of its operands (names, or inlined expressions) and
the emission context (for constants and user rules that need a module-level name) and
returns an ``ast`` expression; ``ast.unparse`` later adds exactly the parentheses that
precedence needs. Float scalars (rank 0) use ``math`` and operators, which are faster
than NumPy on Python floats; arrays and values of unknown rank use NumPy.

Python floats are loud where NumPy is quiet: ``1.0 / 0.0`` and ``math.log(-1.0)`` raise
instead of giving inf or nan. That is the better default for generated code (an error at
the line that caused it), but never a *silent* difference: ``(-8.0) ** 0.5`` would be a
complex number, so a power that could leave the reals is written ``math.pow``, which
raises. With ``debug=True`` checks in the function (``ctx.ieee``), scalars follow NumPy
so that inf and nan reach the checks that name the user's line.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ...ir.core import Op, Value
from ...ir.types import Tensor


class Context(Protocol):
    """What a rule may ask of the module being emitted."""

    def constant(self, value: Any, hint: str | None) -> ast.expr:
        """A literal, or the module-level name of a constant that has no literal."""

    def rule_callable(self, op: Op) -> ast.expr:
        """An expression naming the function a ``custom_*`` op calls."""

    #: scalars follow NumPy (IEEE inf/nan) rather than Python's exceptions
    ieee: bool


Rule = Callable[[Op, list[ast.expr], Context], ast.expr]


# --------------------------------------------------------------------------- ast helpers
def name(ident: str) -> ast.expr:
    return ast.Name(ident, ast.Load())


def attr(obj: ast.expr, field: str) -> ast.expr:
    return ast.Attribute(obj, field, ast.Load())


def call(func: ast.expr | str, *args: ast.expr, **kwargs: ast.expr) -> ast.expr:
    if isinstance(func, str):
        first, *fields = func.split(".")
        func = name(first)
        for field in fields:
            func = attr(func, field)
    return ast.Call(func, list(args), [ast.keyword(k, v) for k, v in kwargs.items()])


def literal(value: Any) -> ast.expr:
    """A Python literal, written as a person would (``math.pi``, ``-1.0``, ``math.inf``)."""
    if isinstance(value, tuple):
        return ast.Tuple([literal(v) for v in value], ast.Load())
    if isinstance(value, float):
        if math.isnan(value):
            return attr(name("math"), "nan")
        if math.isinf(value) or value == math.pi or value == math.e:
            text = "inf" if math.isinf(value) else ("pi" if abs(value) == math.pi else "e")
            positive = attr(name("math"), text)
            return positive if value > 0 else ast.UnaryOp(ast.USub(), positive)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def const_value(v: Value) -> Any:
    """The value of a constant operand, or ``NotImplemented`` when it is not a constant."""
    if v.op is not None and v.op.name == "const":
        return v.op.attrs["value"]
    return NotImplemented


def is_scalar(v: Value) -> bool:
    return isinstance(v.type, Tensor) and v.type.rank == 0


def is_array(v: Value) -> bool:
    return isinstance(v.type, Tensor) and v.type.is_array


def index_expr(index: Sequence[tuple], parts: Sequence[ast.expr], as_call: bool = False) -> ast.expr:
    """The subscript ``index`` describes (see ``getitem`` in docs/internals.md).

    ``as_call`` spells slices ``slice(lo, hi)``, for functions taking an index object
    (``np.add.at``).
    """
    items: list[ast.expr] = []
    rest = iter(parts)
    for item in index:
        kind = item[0]
        if kind == "idx":
            items.append(next(rest))
        elif kind == "slice":
            lo, hi, step = (next(rest) if has else None for has in item[1:4])
            if as_call:
                bounds = [b if b is not None else ast.Constant(None) for b in (lo, hi, step)]
                # slice(a) means slice(None, a): a lone start keeps its stop, slice(a, None)
                while len(bounds) > 1 and _is_none_literal(bounds[-1]) and (len(bounds) > 2 or lo is None):
                    bounds.pop()
                items.append(call("slice", *bounds))
            else:
                items.append(ast.Slice(lo, hi, step))
        elif kind == "newaxis":
            items.append(ast.Constant(None))
        else:
            items.append(ast.Constant(Ellipsis))
    if len(items) == 1:
        return items[0]
    return ast.Tuple(items, ast.Load())


def _is_none_literal(e: ast.expr) -> bool:
    return isinstance(e, ast.Constant) and e.value is None


# --------------------------------------------------------------------------- rule makers
def _unary(math_name: str | None, np_name: str) -> Rule:
    def rule(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
        if math_name is not None and is_scalar(op.operands[0]) and not ctx.ieee:
            return call(f"math.{math_name}", a[0])
        return call(f"np.{np_name}", a[0])

    return rule


def _scalar_or(scalar: Rule, array: str, raises: bool = False) -> Rule:
    """``scalar`` when every operand is a scalar, else the NumPy function ``array``.

    ``raises``: the scalar form can raise where NumPy gives inf (so not under ``ctx.ieee``).
    """

    def rule(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
        if all(is_scalar(v) for v in op.operands) and not (raises and ctx.ieee):
            return scalar(op, a, ctx)
        return call(f"np.{array}", *a)

    return rule


def _pow(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    x, y = op.operands
    if is_scalar(x) and is_scalar(y) and not ctx.ieee and not _stays_real(x, y):
        return call("math.pow", *a)
    return ast.BinOp(a[0], ast.Pow(), a[1])


def _stays_real(x: Value, y: Value) -> bool:
    """``x ** y`` on Python numbers cannot be complex: integer exponent or non-negative base."""
    exponent, base = const_value(y), const_value(x)
    if y.type.dtype in ("i64", "bool") or (isinstance(exponent, float) and exponent.is_integer()):
        return True
    return isinstance(base, (int, float)) and base >= 0


def _binop(operator: ast.operator) -> Rule:
    return lambda op, a, ctx: ast.BinOp(a[0], operator, a[1])


def _add_or_sub(subtract: bool) -> Rule:
    """``a + -b`` reads ``a - b`` (and ``a - -b`` reads ``a + b``): the same in IEEE arithmetic."""

    def rule(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
        right = a[1]
        if isinstance(right, ast.UnaryOp) and isinstance(right.op, ast.USub):
            return ast.BinOp(a[0], ast.Add() if subtract else ast.Sub(), right.operand)
        return ast.BinOp(a[0], ast.Sub() if subtract else ast.Add(), right)

    return rule


def _compare(operator: ast.cmpop) -> Rule:
    return lambda op, a, ctx: ast.Compare(a[0], [operator], [a[1]])


def _np(fname: str) -> Rule:
    return lambda op, a, ctx: call(f"np.{fname}", *a)


def _integral_keeps(np_name: str) -> Rule:
    """floor/ceil/round: identity on integer scalars (NumPy would give a float)."""

    def rule(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
        x = op.operands[0]
        if is_scalar(x) and x.type.dtype == "i64":
            return a[0]
        return call(f"np.{np_name}", a[0])

    return rule


def _cast(builtin: str) -> Rule:
    def rule(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
        x = op.operands[0]
        if is_scalar(x):
            return call(builtin, a[0])
        if is_array(x):
            return call(attr(a[0], "astype"), name(builtin))
        return call("np.asarray", a[0], dtype=name(builtin))

    return rule


def _reduce(fname: str) -> Rule:
    def rule(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
        kwargs: dict[str, ast.expr] = {}
        if op.attrs.get("axis") is not None:
            kwargs["axis"] = literal(
                tuple(op.attrs["axis"]) if isinstance(op.attrs["axis"], list) else op.attrs["axis"]
            )
        if op.attrs.get("keepdims"):
            kwargs["keepdims"] = ast.Constant(True)
        return call(f"np.{fname}", a[0], **kwargs)

    return rule


def _array_attr(field: str, np_name: str) -> Rule:
    """``x.shape`` on arrays; ``np.shape(x)`` when ``x`` may be a Python scalar."""

    def rule(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
        if is_array(op.operands[0]):
            return attr(a[0], field)
        return call(f"np.{np_name}", a[0])

    return rule


def _like(fill: float) -> Rule:
    """zeros_like / ones_like: a literal for scalars."""

    def rule(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
        x = op.operands[0]
        if is_scalar(x):
            return literal(_typed_scalar(fill, x.type.dtype))
        return call("np.zeros_like" if fill == 0 else "np.ones_like", a[0])

    return rule


def _typed_scalar(value: float, dtype: str | None) -> Any:
    if dtype == "bool":
        return bool(value)
    if dtype == "i64":
        return int(value)
    return float(value)


def _full_like(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    x = op.operands[0]
    if is_scalar(x):
        return call({"bool": "bool", "i64": "int"}.get(x.type.dtype, "float"), a[1])
    return call("np.full_like", *a)


def _copy(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    x = op.operands[0]
    if is_scalar(x):
        return a[0]
    if is_array(x):
        return call(attr(a[0], "copy"))
    return call("np.copy", a[0])


def _cumsum(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    """``np.cumsum``; reversed (the adjoint of one), the running sum from the end."""
    axis = op.attrs["axis"]
    vector = op.operands[0].type.rank == 1
    if not op.attrs.get("reverse"):
        return call("np.cumsum", a[0]) if vector else call("np.cumsum", a[0], axis=literal(axis))
    if vector:
        backwards = ast.Slice(None, None, literal(-1))
        return ast.Subscript(
            call("np.cumsum", ast.Subscript(a[0], backwards, ast.Load())), backwards, ast.Load()
        )
    return call(
        "np.flip", call("np.cumsum", call("np.flip", a[0], literal(axis)), axis=literal(axis)), literal(axis)
    )


def _transpose(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    axes = op.attrs.get("axes")
    if axes is None and is_array(op.operands[0]):
        return attr(a[0], "T")
    if axes is None:
        return call("np.transpose", a[0])
    r = len(axes)
    if r > 2 and tuple(axes) == (*range(r - 2), r - 1, r - 2):  # a stack of matrices, each transposed
        return call("np.swapaxes", a[0], literal(-1), literal(-2))
    return call("np.transpose", a[0], literal(tuple(axes)))


def _reshape(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    if is_array(op.operands[0]):
        dims = a[1].elts if isinstance(a[1], ast.Tuple) and a[1].elts else [a[1]]
        return call(attr(a[0], "reshape"), *dims)
    return call("np.reshape", *a)


def _axis_kw(op: Op, default: int = 0) -> dict[str, ast.expr]:
    axis = op.attrs.get("axis")
    return {} if axis is None or axis == default else {"axis": literal(axis)}


def _concatenate(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    return call("np.concatenate", ast.List(a, ast.Load()), **_axis_kw(op))


def _stack(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    if all(is_scalar(v) for v in op.operands) and not _axis_kw(op):
        return call("np.array", ast.List(a, ast.Load()))
    return call("np.stack", ast.List(a, ast.Load()), **_axis_kw(op))


def _getitem(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    return ast.Subscript(a[0], index_expr(op.attrs["index"], a[1:]), ast.Load())


def _arange(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    lo, _, step = (const_value(v) for v in op.operands)
    if type(step) is int and step == 1:  # NumPy's defaults, exactly (1.0 would make floats)
        return call("np.arange", a[1]) if type(lo) is int and lo == 0 else call("np.arange", *a[:2])
    return call("np.arange", *a)


def _where(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    if all(is_scalar(v) for v in op.operands):
        return ast.IfExp(a[0], a[1], a[2])
    return call("np.where", *a)


def _logical(bool_op: ast.boolop, np_name: str) -> Rule:
    def rule(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
        if all(is_scalar(v) and v.type.dtype == "bool" for v in op.operands):
            return ast.BoolOp(bool_op, a)
        return call(f"np.{np_name}", *a)

    return rule


def _not(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    if is_scalar(op.operands[0]):
        return ast.UnaryOp(ast.Not(), a[0])
    return call("np.logical_not", a[0])


def _custom(op: Op, a: list[ast.expr], ctx: Context) -> ast.expr:
    return ast.Call(ctx.rule_callable(op), a, [])


# --------------------------------------------------------------------------- THE table
_MATH_UNARY = {  # op: the math module's name for it (None: NumPy only)
    "sin": "sin", "cos": "cos", "tan": "tan", "exp": "exp", "expm1": "expm1", "log": "log",
    "log2": "log2", "log10": "log10", "log1p": "log1p", "sqrt": "sqrt", "tanh": "tanh",
    "sinh": "sinh", "cosh": "cosh", "arctan": "atan", "arcsin": "asin", "arccos": "acos",
    "isfinite": "isfinite", "sign": None,
}  # fmt: skip

EXPRS: dict[str, Rule] = {
    **{op: _unary(m, op) for op, m in _MATH_UNARY.items()},
    "const": lambda op, a, ctx: ctx.constant(op.attrs["value"], op.result.hint),
    "undef": lambda op, a, ctx: ast.Constant(None),
    "float": _cast("float"),
    "int": _cast("int"),
    "bool": _cast("bool"),
    "exp2": _scalar_or(lambda op, a, ctx: ast.BinOp(ast.Constant(2.0), ast.Pow(), a[0]), "exp2", raises=True),
    "neg": lambda op, a, ctx: ast.UnaryOp(ast.USub(), a[0]),
    "abs": _scalar_or(lambda op, a, ctx: call("abs", a[0]), "abs"),
    "square": _scalar_or(
        lambda op, a, ctx: ast.BinOp(a[0], ast.Pow(), ast.Constant(2)), "square", raises=True
    ),
    "floor": _integral_keeps("floor"),
    "ceil": _integral_keeps("ceil"),
    "round": _integral_keeps("round"),
    "not": _not,
    "add": _add_or_sub(subtract=False),
    "sub": _add_or_sub(subtract=True),
    "mul": _binop(ast.Mult()),
    "div": _binop(ast.Div()),
    "floordiv": _binop(ast.FloorDiv()),
    "mod": _binop(ast.Mod()),
    "pow": _pow,
    "maximum": _scalar_or(lambda op, a, ctx: call("max", *a), "maximum"),
    "minimum": _scalar_or(lambda op, a, ctx: call("min", *a), "minimum"),
    "logaddexp": _np("logaddexp"),
    "arctan2": _scalar_or(lambda op, a, ctx: call("math.atan2", *a), "arctan2"),
    "lt": _compare(ast.Lt()),
    "le": _compare(ast.LtE()),
    "gt": _compare(ast.Gt()),
    "ge": _compare(ast.GtE()),
    "eq": _compare(ast.Eq()),
    "ne": _compare(ast.NotEq()),
    "and": _logical(ast.And(), "logical_and"),
    "or": _logical(ast.Or(), "logical_or"),
    "where": _where,
    "clip": _scalar_or(lambda op, a, ctx: call("min", call("max", a[0], a[1]), a[2]), "clip"),
    **{r: _reduce(r) for r in ("sum", "prod", "max", "min", "mean", "argmax", "argmin")},
    "dot": _np("dot"),
    "matmul": _binop(ast.MatMult()),
    "outer": _np("outer"),
    "shape": _array_attr("shape", "shape"),
    "len": lambda op, a, ctx: call("len", a[0]),
    "size": _array_attr("size", "size"),
    "ndim": _array_attr("ndim", "ndim"),
    "cumsum": _cumsum,
    "transpose": _transpose,
    "reshape": _reshape,
    "broadcast_to": _np("broadcast_to"),
    "sum_to": lambda op, a, ctx: call("unbroadcast", *a),
    "expand_dims": lambda op, a, ctx: call("np.expand_dims", a[0], literal(op.attrs["axis"])),
    "concatenate": _concatenate,
    "stack": _stack,
    "getitem": _getitem,
    "zeros": _np("zeros"),
    "ones": _np("ones"),
    "empty": _np("empty"),
    "full": _np("full"),
    "zeros_like": _like(0.0),
    "ones_like": _like(1.0),
    "full_like": _full_like,
    "copy": _copy,
    "arange": _arange,
    "linspace": _np("linspace"),
    "eye": _np("eye"),
    "tuple": lambda op, a, ctx: ast.Tuple(a, ast.Load()),
    "tuple_get": lambda op, a, ctx: ast.Subscript(a[0], ast.Constant(op.attrs["index"]), ast.Load()),
    "tuple_cat": lambda op, a, ctx: functools.reduce(lambda x, y: ast.BinOp(x, ast.Add(), y), a),
    "stop_gradient": lambda op, a, ctx: a[0],
    "custom_call": _custom,
    "custom_vjp_call": _custom,
    "custom_jvp_call": _custom,
}


def expression(op: Op, args: list[ast.expr], ctx: Context) -> ast.expr:
    return EXPRS[op.name](op, args, ctx)
