"""Lowering calls: NumPy, math and builtin functions, array methods, adcompiler's markers,
the user's helper functions (inlined) and functions with user-defined derivatives.

Each supported library function is one line of a table: a handler that takes the call's
arguments (:class:`Args`) and builds its ops. Array methods reuse the NumPy handlers with the
receiver as the first argument (``x.sum(axis=0)`` is ``np.sum(x, axis=0)``).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..ir.clone import clone_op, clone_region
from ..ir.core import Region, Value
from .resolve import Constant, Custom, Helper, LibFunc, ModuleRef, NeedsConstant

if TYPE_CHECKING:
    from .expressions import ExprLowering

_REQUIRED = object()


class Args:
    """A call's arguments, taken by position or keyword; :meth:`done` refuses leftovers."""

    def __init__(
        self, ctx: ExprLowering, node: ast.Call, name: str, receiver: ast.expr | None = None
    ) -> None:
        self.ctx = ctx
        self.node = node
        self.name = name
        self.pos: list[ast.expr] = ([receiver] if receiver is not None else []) + list(node.args)
        self.kw: dict[str, ast.expr] = {k.arg: k.value for k in node.keywords if k.arg is not None}
        self.used: set[int] = set()

    def take(self, i: int | None, name: str, default: Any = _REQUIRED) -> ast.expr | Any:
        """The argument node at position ``i`` or keyword ``name``; ``default`` when absent."""
        if i is not None and i < len(self.pos):
            if name in self.kw:
                self.ctx.error(f"{self.name}() got two values for {name!r}", self.node)
            self.used.add(i)
            return self.pos[i]
        if name in self.kw:
            return self.kw.pop(name)
        if default is _REQUIRED:
            self.ctx.error(f"{self.name}() is missing the argument {name!r}", self.node)
        return default

    def value(self, i: int | None, name: str, default: Any = _REQUIRED) -> Value:
        node = self.take(i, name, default)
        return self.ctx.expr(node) if isinstance(node, ast.AST) else self.ctx.const(node)

    def static(self, i: int | None, name: str, default: Any = _REQUIRED) -> Any:
        node = self.take(i, name, default)
        return self.ctx.static(node, f"{name!r} of {self.name}()") if isinstance(node, ast.AST) else node

    def rest(self, start: int) -> list[ast.expr]:
        """The positional arguments from ``start`` on (``*args``)."""
        self.used.update(range(start, len(self.pos)))
        return self.pos[start:]

    def float_dtype(self, i: int | None = None) -> None:
        """Accept ``dtype=float`` (or np.float64); adcompiler's arrays are float64."""
        node = self.take(i, "dtype", None)
        if node is None:
            return
        sym = self.ctx.symbol_of(node) if isinstance(node, ast.Name | ast.Attribute) else None
        if sym not in (LibFunc("builtin", "float"), LibFunc("numpy", "float64")):
            self.ctx.error(f"{self.name}(): only dtype=float is supported", node)

    def done(self) -> None:
        extra = [str(i + 1) for i in range(len(self.pos)) if i not in self.used]
        if extra or self.kw:
            what = ", ".join([f"argument {i}" for i in extra] + [f"{k}=" for k in self.kw])
            self.ctx.error(f"{self.name}(): {what} not supported", self.node)


Handler = Callable[[Args], Value]


def _finish(a: Args, value: Value) -> Value:
    a.done()
    return value


def _unary(op: str) -> Handler:
    return lambda a: _finish(a, a.ctx.b.op(op, a.value(0, "x")))


def _binary(op: str) -> Handler:
    return lambda a: _finish(a, a.ctx.b.op(op, a.value(0, "x1"), a.value(1, "x2")))


def _reduce(op: str) -> Handler:
    def handler(a: Args) -> Value:
        x = a.value(0, "a")
        axis = a.static(1, "axis", None)
        keepdims = bool(a.static(None, "keepdims", False))
        return _finish(a, a.ctx.b.op(op, x, axis=axis, keepdims=True if keepdims else None))

    return handler


def _shape_value(a: Args, node: ast.expr) -> Value:
    """A shape argument: an int, a tuple literal of ints, or a tuple value (``x.shape``)."""
    if isinstance(node, ast.Tuple | ast.List):
        return a.ctx.b.tuple(*(a.ctx.expr(e) for e in node.elts))
    return a.ctx.expr(node)


def _create(op: str) -> Handler:
    def handler(a: Args) -> Value:
        shape = _shape_value(a, a.take(0, "shape"))
        fill = [a.value(1, "fill_value")] if op == "full" else []
        a.float_dtype(2 if op == "full" else 1)
        return _finish(a, a.ctx.b.op(op, shape, *fill))

    return handler


def _like(op: str) -> Handler:
    def handler(a: Args) -> Value:
        x = a.value(0, "a")
        fill = [a.value(1, "fill_value")] if op == "full_like" else []
        a.float_dtype()
        return _finish(a, a.ctx.b.op(op, x, *fill))

    return handler


def _sequence(a: Args, i: int, name: str) -> list[Value]:
    node = a.take(i, name)
    if not isinstance(node, ast.Tuple | ast.List):
        a.ctx.error(f"{a.name}() needs a list or tuple written out, e.g. [a, b]", node)
    return [a.ctx.expr(e) for e in node.elts]


def _join(op: str) -> Handler:
    def handler(a: Args) -> Value:
        xs = _sequence(a, 0, "arrays")
        return _finish(a, a.ctx.b.op(op, *xs, axis=a.static(1, "axis", 0)))

    return handler


def _array_literal(a: Args, node: ast.expr) -> Value:
    """``np.array([[a, b], [c, d]])``: nested lists become stacks along axis 0."""
    if isinstance(node, ast.Tuple | ast.List):
        return a.ctx.b.stack(*(_array_literal(a, e) for e in node.elts), axis=0)
    return a.ctx.expr(node)


def _array(a: Args) -> Value:
    node = a.take(0, "object")
    a.float_dtype(1)
    if isinstance(node, ast.Tuple | ast.List):
        return _finish(a, _array_literal(a, node))
    return _finish(a, a.ctx.b.copy(a.ctx.expr(node)))


def _asarray(a: Args) -> Value:
    x = a.value(0, "a")
    a.float_dtype(1)
    return _finish(a, x)


def _arange(a: Args) -> Value:
    first = a.value(0, "start")
    second = a.take(1, "stop", None)
    lo, hi = (a.ctx.const(0), first) if second is None else (first, a.ctx.expr(second))
    step = a.value(2, "step", 1)
    a.float_dtype(3)
    return _finish(a, a.ctx.b.arange(lo, hi, step))


def _reshape(a: Args) -> Value:
    x = a.value(0, "a")
    node = a.kw.pop("shape", None) or a.kw.pop("newshape", None) or a.take(1, "shape")
    return _finish(a, a.ctx.b.reshape(x, _shape_value(a, node)))


def _transpose(a: Args) -> Value:
    x = a.value(0, "a")
    axes = a.static(1, "axes", None)
    return _finish(a, a.ctx.b.transpose(x, axes=axes))


def _round(a: Args) -> Value:
    x = a.value(0, "a")
    if a.static(1, "decimals", 0) != 0:
        a.ctx.error("round() with decimals is not supported", a.node)
    return _finish(a, a.ctx.b.round(x))


def _norm(a: Args) -> Value:
    x = a.value(0, "x")
    b = a.ctx.b
    return _finish(a, b.sqrt(b.sum(b.mul(x, x))))


def _cumsum(a: Args) -> Value:
    """``np.cumsum``: along ``axis``, or over the flattened array when it is None."""
    b = a.ctx.b
    x = a.value(0, "a")
    axis = a.static(1, "axis", None)
    a.float_dtype(2)
    if axis is None:
        x, axis = b.reshape(x, b.const(-1)), 0
    elif not isinstance(axis, int) or isinstance(axis, bool):
        a.ctx.error(f"{a.name}(): axis must be an int or None", a.node)
    return _finish(a, b.op("cumsum", x, axis=axis))


def _variance(std: bool) -> Handler:
    """``np.var``/``np.std`` as NumPy computes them: the deviations from the mean, squared,
    summed over ``axis`` and divided by ``n - ddof`` (the square root of that for ``std``)."""

    def handler(a: Args) -> Value:
        b = a.ctx.b
        x = a.value(0, "a")
        axis = a.static(1, "axis", None)
        a.float_dtype(2)
        ddof = a.static(4, "ddof", 0)
        keepdims = True if a.static(5, "keepdims", False) else None
        deviation = b.sub(x, b.op("mean", x, axis=axis, keepdims=True))
        squares = b.mul(deviation, deviation)
        if ddof == 0:
            var = b.op("mean", squares, axis=axis, keepdims=keepdims)
        else:
            count = b.floordiv(b.size(x), b.size(b.op("sum", squares, axis=axis, keepdims=True)))
            var = b.div(b.op("sum", squares, axis=axis, keepdims=keepdims), b.sub(count, b.const(ddof)))
        return _finish(a, b.sqrt(var) if std else var)

    return handler


_NUMPY_UNARY = (
    "sin cos tan exp exp2 expm1 log log2 log10 log1p sqrt tanh sinh cosh arctan arcsin arccos "
    "abs square sign floor ceil isfinite"
)
NUMPY: dict[str, Handler] = {
    **{name: _unary(name) for name in _NUMPY_UNARY.split()},
    "absolute": _unary("abs"), "fabs": _unary("abs"), "negative": _unary("neg"),
    "float64": _unary("float"), "round": _round, "around": _round, "copy": _unary("copy"),
    **{name: _binary(name) for name in "maximum minimum logaddexp arctan2 dot matmul outer".split()},
    "power": _binary("pow"), "add": _binary("add"), "subtract": _binary("sub"),
    "multiply": _binary("mul"), "divide": _binary("div"), "true_divide": _binary("div"),
    **{name: _reduce(name) for name in "sum mean prod max min argmax argmin".split()},
    "amax": _reduce("max"), "amin": _reduce("min"), "var": _variance(std=False), "std": _variance(std=True),
    "cumsum": _cumsum,
    "where": lambda a: _finish(a, a.ctx.b.where(a.value(0, "condition"), a.value(1, "x"), a.value(2, "y"))),
    "clip": lambda a: _finish(a, a.ctx.b.clip(a.value(0, "a"), a.value(1, "a_min"), a.value(2, "a_max"))),
    **{name: _create(name) for name in "zeros ones empty full".split()},
    **{name: _like(name) for name in "zeros_like ones_like full_like".split()},
    "arange": _arange,
    "linspace": lambda a: _finish(a, a.ctx.b.linspace(a.value(0, "start"), a.value(1, "stop"), a.value(2, "num", 50))),
    "eye": lambda a: _finish(a, a.ctx.b.eye(a.value(0, "N"))),
    "reshape": _reshape, "transpose": _transpose,
    "concatenate": _join("concatenate"), "stack": _join("stack"),
    "array": _array, "asarray": _asarray, "linalg.norm": _norm,
}  # fmt: skip


def _log(a: Args) -> Value:
    x = a.value(0, "x")
    base = a.take(1, "base", None)
    result = a.ctx.b.log(x) if base is None else a.ctx.b.div(a.ctx.b.log(x), a.ctx.b.log(a.ctx.expr(base)))
    return _finish(a, result)


def _rounding(op: str) -> Handler:
    """math.floor/ceil return ints."""
    return lambda a: _finish(a, a.ctx.b.int(a.ctx.b.op(op, a.value(0, "x"))))


def _hypot(a: Args) -> Value:
    b = a.ctx.b
    x, y = a.value(0, "x"), a.value(1, "y")
    return _finish(a, b.sqrt(b.add(b.mul(x, x), b.mul(y, y))))


MATH: dict[str, Handler] = {
    **{name: _unary(name) for name in "sin cos tan exp exp2 expm1 log1p log2 log10 sqrt tanh sinh cosh isfinite".split()},
    "atan": _unary("arctan"), "asin": _unary("arcsin"), "acos": _unary("arccos"), "fabs": _unary("abs"),
    "atan2": _binary("arctan2"), "pow": _binary("pow"), "log": _log, "hypot": _hypot,
    "floor": _rounding("floor"), "ceil": _rounding("ceil"),
}  # fmt: skip


def _min_max(op: str) -> Handler:
    """``min(a, b, ...)`` is an elementwise chain; ``min(x)`` of one array reduces it."""

    def handler(a: Args) -> Value:
        nodes = a.rest(0)
        if not nodes:
            a.ctx.error(f"{a.name}() needs arguments", a.node)
        values = [a.ctx.expr(n) for n in nodes]
        if len(values) == 1:
            return _finish(a, a.ctx.b.op(op, values[0]))
        result = values[0]
        for v in values[1:]:
            result = a.ctx.b.op("minimum" if op == "min" else "maximum", result, v)
        return _finish(a, result)

    return handler


def _builtin_sum(a: Args) -> Value:
    """``sum(x)`` adds ``x``'s items along its first axis; ``sum((a, b))`` adds a, b."""
    node = a.take(0, "iterable")
    start = a.value(1, "start", None) if (len(a.pos) > 1 or "start" in a.kw) else None
    b = a.ctx.b
    if isinstance(node, ast.Tuple | ast.List):
        items = [a.ctx.expr(e) for e in node.elts]
        total = items[0] if items else b.const(0)
        for v in items[1:]:
            total = b.add(total, v)
    else:
        total = b.sum(a.ctx.expr(node), axis=0)
    return _finish(a, total if start is None else b.add(start, total))


def _python_round(a: Args) -> Value:
    if a.take(1, "ndigits", None) is not None:
        a.ctx.error("round() with ndigits is not supported", a.node)
    return _finish(a, a.ctx.b.int(a.ctx.b.round(a.value(0, "number"))))


BUILTIN: dict[str, Handler] = {
    "len": _unary("len"), "abs": _unary("abs"), "float": _unary("float"), "int": _unary("int"),
    "bool": _unary("bool"), "min": _min_max("min"), "max": _min_max("max"), "sum": _builtin_sum,
    "pow": _binary("pow"), "round": _python_round,
}  # fmt: skip

AD: dict[str, Handler] = {"stop_gradient": _unary("stop_gradient")}


def _method_reshape(a: Args) -> Value:
    x = a.value(0, "a")
    dims = a.rest(1)
    if len(dims) == 1:
        shape = _shape_value(a, dims[0])
    else:
        shape = a.ctx.b.tuple(*(a.ctx.expr(d) for d in dims))
    return _finish(a, a.ctx.b.reshape(x, shape))


def _method_transpose(a: Args) -> Value:
    x = a.value(0, "a")
    axes = tuple(a.ctx.static(n, "transpose axes") for n in a.rest(1))
    if len(axes) == 1 and isinstance(axes[0], tuple):
        axes = axes[0]
    return _finish(a, a.ctx.b.transpose(x, axes=axes or None))


def _flatten(a: Args) -> Value:
    return _finish(a, a.ctx.b.reshape(a.value(0, "a"), a.ctx.const(-1)))


METHODS: dict[str, Handler] = {
    **{name: NUMPY[name] for name in "sum mean max min prod argmax argmin var std cumsum dot copy".split()},
    "reshape": _method_reshape, "transpose": _method_transpose, "flatten": _flatten, "ravel": _flatten,
}  # fmt: skip

_TABLES: dict[str, tuple[dict[str, Handler], str]] = {
    "numpy": (NUMPY, "np."),
    "math": (MATH, "math."),
    "builtin": (BUILTIN, ""),
    "ad": (AD, "ad."),
}


# --------------------------------------------------------------------------- dispatch
def lower_call(ctx: ExprLowering, node: ast.Call) -> Value:
    """Lower the call ``node`` to ops (a library function, a method, a helper...)."""
    func = node.func
    text = ast.unparse(func)
    if isinstance(func, ast.Call) and ctx.symbol_of(func.func) == LibFunc("ad", "checkpoint"):
        return _checkpoint(ctx, node, func)
    sym = ctx.symbol_of(func)
    if sym is None:
        if isinstance(func, ast.Attribute) and func.attr in METHODS:
            return METHODS[func.attr](Args(ctx, node, text, receiver=func.value))
        if isinstance(func, ast.Attribute):
            ctx.error(f".{func.attr}() is not an array method adcompiler supports", node)
        ctx.error(f"{text} is a value, not a function", node)
    if isinstance(sym, LibFunc):
        table, prefix = _TABLES[sym.lib]
        handler = table.get(sym.name)
        if handler is None:
            if sym.lib == "builtin" and sym.name in ("range", "enumerate", "zip"):
                ctx.error(f"{sym.name}() is only supported as the iterable of a for loop", node)
            if sym.lib == "ad" and sym.name == "checkpoint":
                ctx.error("use ad.checkpoint(f)(args...) to call f with checkpointing", node)
            ctx.error(f"{prefix}{sym.name} is not a function adcompiler can differentiate", node)
        return handler(Args(ctx, node, text))
    if isinstance(sym, Helper):
        helper, args = _inline_helper(ctx, node, sym.func, text)
        vmap: dict[Value, Value] = dict(zip(helper.params, args))
        for op in helper.body.ops:
            ctx.b.region.ops.append(clone_op(op, vmap))
        (result,) = helper.returns
        return vmap.get(result, result)
    if isinstance(sym, Custom):
        args = [ctx.expr(a) for a in node.args]
        if node.keywords:
            ctx.error(f"{text}(): keyword arguments are not supported for custom-derivative functions", node)
        return ctx.b.op("custom_call", *args, rule=sym.rule, result_types=[None])
    what = "a module" if isinstance(sym, ModuleRef) else "a constant" if isinstance(sym, Constant) else None
    if what is not None:
        ctx.error(f"{text} is {what}, not a function", node)
    ctx.error(f"{text} is not a function adcompiler can differentiate", node)


def _inline_helper(ctx: ExprLowering, node: ast.Call, func: Any, text: str) -> tuple[Any, list[Value]]:
    """The helper's IR and its arguments; a helper that needs a parameter to be a constant
    (an ``axis``) is specialised to the constants this call passes."""
    helper = None
    try:
        helper = ctx.parse_helper(func, ctx.loc(node), ())
    except NeedsConstant as e:
        needs = e
    if helper is not None:
        return helper, _helper_args(ctx, node, helper, text)
    sig = inspect.signature(func)
    names = list(sig.parameters)
    bound = {n: p.default for n, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}
    probe = _helper_args(ctx, node, _Signature(names, bound), text)
    statics = tuple(
        (n, v.op.attrs["value"])
        for n, v in zip(names, probe)
        if v.op is not None
        and v.op.name == "const"
        and isinstance(v.op.attrs["value"], (int, float, bool, tuple))
    )
    if not statics:
        raise needs
    helper = ctx.parse_helper(func, ctx.loc(node), statics)
    return helper, probe


class _Signature:
    """Parameter names and defaults, enough to bind a call's arguments."""

    def __init__(self, param_names: list[str], defaults: dict[str, Any]) -> None:
        self.param_names = param_names
        self.defaults = defaults


def _helper_args(ctx: ExprLowering, node: ast.Call, helper: Any, text: str) -> list[Value]:
    """The values bound to a helper's parameters: positional, keyword, then defaults."""
    names = helper.param_names
    if len(node.args) > len(names):
        ctx.error(f"{text}() takes {len(names)} arguments but {len(node.args)} were given", node)
    bound: dict[str, Value] = {n: ctx.expr(a) for n, a in zip(names, node.args)}
    for kw in node.keywords:
        if kw.arg not in names or kw.arg in bound:
            ctx.error(f"{text}() got an unexpected or repeated argument {kw.arg!r}", node)
        bound[kw.arg] = ctx.expr(kw.value)
    for name in names:
        if name not in bound:
            if name not in helper.defaults:
                ctx.error(f"{text}() is missing the argument {name!r}", node)
            bound[name] = ctx.const(helper.defaults[name])
    return [bound[n] for n in names]


def _checkpoint(ctx: ExprLowering, node: ast.Call, inner: ast.Call) -> Value:
    """``ad.checkpoint(h)(args)``: a checkpoint op whose region is ``h``'s body."""
    if len(inner.args) != 1 or inner.keywords:
        ctx.error("ad.checkpoint takes one function", inner)
    sym = ctx.symbol_of(inner.args[0])
    if not isinstance(sym, Helper):
        ctx.error("ad.checkpoint needs a plain Python function defined in a file", inner)
    helper, args = _inline_helper(ctx, node, sym.func, ast.unparse(inner))
    vmap: dict[Value, Value] = {}
    region: Region = clone_region(helper.body, vmap)
    return ctx.b.op("checkpoint", *args, result_types=[None], regions=[region])


__all__ = ["lower_call", "NUMPY", "MATH", "BUILTIN", "METHODS"]
