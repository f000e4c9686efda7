"""Validation of generated programs: run them instrumented, reject near-kink samples.

A generated program may branch on data (``if s > 0.3``), or use non-smooth functions
(``abs``, ``min``, ``np.maximum``, ``np.clip``, ``np.max``). Its derivative at the sample
point is well defined, and finite differences agree with it, only if the sample point is
not close to a kink. :func:`instrument` rewrites the source so that every such operation
also checks its distance to the kink, and raises :class:`MarginError` when that distance
is below ``MARGIN * max(1, |operands|)``. The instrumented source is only used for
validation; tests use the plain source.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

#: Minimum relative distance from a branch threshold or kink at the sample point.
MARGIN = 5e-3


class MarginError(Exception):
    """The sample point is too close to a branch threshold or a kink."""


_CMP_OPS: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
_CMP_FUNCS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _is_int(x: object) -> bool:
    return isinstance(x, int | np.integer) or (
        isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.integer)
    )


def _margin(a: object, b: object, what: str) -> None:
    if _is_int(a) and _is_int(b):
        return
    aa, bb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    gap = float(np.min(np.abs(aa - bb))) if np.size(aa - bb) else math.inf
    scale = max(1.0, float(np.max(np.abs(aa))), float(np.max(np.abs(bb))))
    if not gap >= MARGIN * scale:
        raise MarginError(f"{what}: operands {a!r} and {b!r} are {gap:.3g} apart")


def _ck_cmp(ops: tuple[str, ...], *xs: Any) -> Any:
    results = []
    for op, a, b in zip(ops, xs, xs[1:], strict=False):
        _margin(a, b, f"comparison {op}")
        results.append(_CMP_FUNCS[op](a, b))
    if len(results) == 1:
        return results[0]
    return all(bool(r) for r in results)


def _ck_abs(func: Callable[[Any], Any], x: Any) -> Any:
    _margin(x, 0.0, "abs")
    return func(x)


def _ck_pair(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if len(args) == 2 and not kwargs:
        _margin(args[0], args[1], getattr(func, "__name__", "min/max"))
    return func(*args, **kwargs)


def _ck_clip(x: Any, lo: Any, hi: Any) -> Any:
    _margin(x, lo, "clip low")
    _margin(x, hi, "clip high")
    return np.clip(x, lo, hi)


def _ck_reduce(name: str, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.max``/``np.min``: the top two entries along the axis must be apart."""
    arr = np.asarray(x, dtype=float)
    if axis is None or isinstance(axis, tuple):  # generated tuple axes cover all axes
        flat, ax = arr.reshape(-1), 0
    else:
        flat, ax = arr, axis
    if flat.shape[ax] >= 2:
        s = np.sort(flat, axis=ax)
        top = np.take(s, [-1, -2] if name == "max" else [0, 1], axis=ax)
        first, second = np.take(top, 0, axis=ax), np.take(top, 1, axis=ax)
        _margin(first, second, f"{name} reduction")
    return getattr(np, name)(arr, axis=axis, keepdims=keepdims)


RUNTIME: dict[str, Any] = {
    "_ck_cmp": _ck_cmp,
    "_ck_abs": _ck_abs,
    "_ck_pair": _ck_pair,
    "_ck_clip": _ck_clip,
    "_ck_reduce": _ck_reduce,
}


def _name(node: ast.expr) -> str:
    """``np.max`` → "np.max", ``abs`` → "abs", anything else → ""."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return ""


class _Instrument(ast.NodeTransformer):
    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        ops = ast.Tuple([ast.Constant(_CMP_OPS[type(op)]) for op in node.ops], ast.Load())
        return ast.Call(ast.Name("_ck_cmp", ast.Load()), [ops, node.left, *node.comparators], [])

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        name = _name(node.func)
        call = ast.Name
        if name in ("abs", "np.abs", "math.fabs"):
            return ast.Call(call("_ck_abs", ast.Load()), [node.func, *node.args], [])
        if name in ("min", "max", "np.maximum", "np.minimum"):
            return ast.Call(call("_ck_pair", ast.Load()), [node.func, *node.args], node.keywords)
        if name == "np.clip":
            return ast.Call(call("_ck_clip", ast.Load()), node.args, [])
        if name in ("np.max", "np.min", "np.amax", "np.amin"):
            red = ast.Constant(name.split(".")[1].lstrip("a"))
            return ast.Call(call("_ck_reduce", ast.Load()), [red, *node.args], node.keywords)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("max", "min") and not name:
            red = ast.Constant(func.attr)
            return ast.Call(call("_ck_reduce", ast.Load()), [red, func.value, *node.args], node.keywords)
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("max", "min")
            and name
            and not (name.startswith(("np.", "math.")))
        ):
            red = ast.Constant(func.attr)
            return ast.Call(call("_ck_reduce", ast.Load()), [red, func.value, *node.args], node.keywords)
        return node


def instrument(source: str) -> str:
    """``source`` with every comparison and kinked operation checked for its margin."""
    tree = _Instrument().visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))
