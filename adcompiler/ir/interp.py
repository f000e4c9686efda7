"""The reference interpreter of the IR: each op is the NumPy (or Python) function
it stands for, and control flow runs directly.

It needs no types, so it runs the frontend's untyped IR as well as typed IR after any
pass: comparing ``run(fn, *args)`` with the Python function is the frontend's main check,
and comparing it before and after a pass checks the pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adcompiler.ir.core import Function, Op, Region, Value


def run(fn: Function, *args: Any) -> Any:
    """Evaluate ``fn`` on ``args``: its one returned value, or a tuple of several."""
    if len(args) != len(fn.params):
        raise TypeError(f"{fn.name} takes {len(fn.params)} arguments, got {len(args)}")
    interp = _Interpreter()
    results = interp.region(fn.body, list(args), {})
    return results[0] if len(results) == 1 else tuple(results)


def _index(op: Op, parts: Sequence[Any]) -> tuple:
    """The Python subscript described by ``op.attrs['index']`` and its operand values."""
    items: list[Any] = []
    pos = 0
    for item in op.attrs["index"]:
        kind = item[0]
        if kind == "idx":
            items.append(parts[pos])
            pos += 1
        elif kind == "slice":
            bounds = []
            for has in item[1:]:
                bounds.append(parts[pos] if has else None)
                pos += has
            items.append(slice(*bounds))
        elif kind == "newaxis":
            items.append(None)
        else:
            items.append(Ellipsis)
    return tuple(items)


def _getitem(op: Op, x: Any, *parts: Any) -> Any:
    index = _index(op, parts)
    if isinstance(x, tuple):
        (i,) = index
        return x[i]
    return x[index]


def _setitem(op: Op, x: Any, v: Any, *parts: Any) -> Any:
    out = np.array(x, copy=True)
    out[_index(op, parts)] = v
    return out


def _index_add(op: Op, x: Any, v: Any, *parts: Any) -> Any:
    out = np.array(x, dtype=np.result_type(x, v), copy=True)
    np.add.at(out, _index(op, parts), v)
    return out


def _sum_to(x: Any, shape: Any) -> Any:
    """Sum ``x`` down to ``shape`` (undo NumPy broadcasting)."""
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    x = np.asarray(x)
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead))) if lead > 0 else x
    axes = tuple(k for k, n in enumerate(shape) if n == 1 and x.shape[k] != 1)
    out = x.sum(axis=axes, keepdims=True) if axes else x
    return out.reshape(shape) if shape else out.sum()


def _cast(kind: type) -> Callable[[Any], Any]:
    def cast(x: Any) -> Any:
        if isinstance(x, np.ndarray) and x.ndim > 0:
            return x.astype({float: np.float64, int: np.int64, bool: np.bool_}[kind])
        return kind(x)

    return cast


def _reduce(f: Callable) -> Callable:
    return lambda op, x: f(x, axis=op.attrs.get("axis"), keepdims=bool(op.attrs.get("keepdims")))


def _arg_reduce(f: Callable) -> Callable:
    def reduce(op: Op, x: Any) -> Any:
        axis, keepdims = op.attrs.get("axis"), bool(op.attrs.get("keepdims"))
        return f(x, axis=axis, keepdims=keepdims) if keepdims else f(x, axis=axis)

    return reduce


def _assert(op: Op, cond: Any) -> None:
    if not np.all(cond):
        raise AssertionError(op.attrs.get("message"))


def _check_finite(op: Op, x: Any) -> None:
    if not np.all(np.isfinite(x)):
        raise FloatingPointError(f"non-finite value: {op.attrs.get('what')}")


def _cumsum(op: Op, x: Any) -> Any:
    axis = op.attrs["axis"]
    if not op.attrs.get("reverse"):
        return np.cumsum(x, axis=axis)
    return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)


#: ops whose value depends only on their operands
_PLAIN: dict[str, Callable[..., Any]] = {
    **{name: getattr(np, name) for name in (
        "sin cos tan exp exp2 expm1 log log2 log10 log1p sqrt tanh sinh cosh arctan arcsin arccos "
        "abs square sign floor ceil round isfinite maximum minimum logaddexp arctan2 where clip "
        "dot matmul outer zeros ones empty full zeros_like ones_like full_like arange eye "
        "broadcast_to"
    ).split()},
    "neg": np.negative, "not": np.logical_not, "and": np.logical_and, "or": np.logical_or,
    "float": _cast(float), "int": _cast(int), "bool": _cast(bool),
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: np.true_divide(a, b), "floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b,
    "pow": lambda a, b: a**b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "shape": np.shape, "len": len, "size": np.size, "ndim": np.ndim,
    "reshape": np.reshape, "sum_to": _sum_to, "copy": np.copy,
    "linspace": lambda a, b, n: np.linspace(a, b, int(n)),
    "tuple": lambda *xs: tuple(xs), "tuple_cat": lambda *ts: sum((tuple(t) for t in ts), ()), "stop_gradient": lambda x: x, "undef": lambda: None,
}  # fmt: skip

#: ops that read their attributes: f(op, *operands)
_WITH_ATTRS: dict[str, Callable[..., Any]] = {
    **{name: _reduce(getattr(np, name)) for name in "sum prod max min mean".split()},
    "argmax": _arg_reduce(np.argmax), "argmin": _arg_reduce(np.argmin),
    "transpose": lambda op, x: np.transpose(x, op.attrs.get("axes")),
    "cumsum": _cumsum,
    "expand_dims": lambda op, x: np.expand_dims(x, op.attrs["axis"]),
    "concatenate": lambda op, *xs: np.concatenate(xs, axis=op.attrs.get("axis") or 0),
    "stack": lambda op, *xs: np.stack(xs, axis=op.attrs.get("axis") or 0),
    "getitem": _getitem, "setitem": _setitem, "index_add": _index_add,
    "tuple_get": lambda op, t: t[op.attrs["index"]],
    "custom_call": lambda op, *xs: op.attrs["rule"](*xs),
    "assert": _assert, "check_finite": _check_finite, "comment": lambda op: None,
}  # fmt: skip


class _Interpreter:
    def __init__(self) -> None:
        #: the named tapes of push/pop
        self.tapes: dict[str, list[Any]] = {}

    def region(self, region: Region, args: list[Any], env: dict[Value, Any]) -> list[Any]:
        env = dict(env)
        env.update(zip(region.args, args))
        for op in region.ops:
            values = self.op(op, [env[v] for v in op.operands], env)
            env.update(zip(op.results, values))
        return [env[v] for v in region.yields]

    def op(self, op: Op, operands: list[Any], env: dict[Value, Any]) -> list[Any]:
        name = op.name
        if name == "const":
            return [op.attrs["value"]]
        if name == "if":
            branch = op.regions[0] if operands[0] else op.regions[1]
            return self.region(branch, [], env)
        if name == "for":
            lo, hi, step, *carried = operands
            indices = range(int(lo), int(hi), int(step))
            for i in reversed(indices) if op.attrs.get("reverse") else indices:
                carried = self.region(op.regions[0], [i, *carried], env)
            return carried
        if name == "while":
            cond, body = op.regions
            carried = operands
            while self.region(cond, carried, env)[0]:
                carried = self.region(body, carried, env)
            return carried
        if name == "checkpoint":
            return self.region(op.regions[0], operands, env)
        if name in ("custom_vjp_call", "custom_jvp_call"):
            rule = op.attrs["rule"]
            result = (rule.vjp if name == "custom_vjp_call" else rule.jvp)(*operands)
            return list(result) if len(op.results) > 1 else [result]
        if name == "push":
            self.tapes.setdefault(op.attrs["tape"], []).append(operands[0])
            return []
        if name == "pop":
            return [self.tapes[op.attrs["tape"]].pop()]
        if name in _PLAIN:
            result = _PLAIN[name](*operands)
        elif name in _WITH_ATTRS:
            result = _WITH_ATTRS[name](op, *operands)
        else:
            raise NotImplementedError(f"ir_interp: no semantics for op {name!r}")
        return [] if not op.results else [result]
