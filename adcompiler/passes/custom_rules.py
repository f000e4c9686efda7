"""Inline the user's custom derivative rules, for machine code that cannot call Python.

The Python backend calls a ``@custom_vjp`` function and its rules by name. The LLVM backend
compiles them instead, as JAX traces a custom rule: each ``custom_call`` (the function),
``custom_vjp_call`` (its VJP rule) and ``custom_jvp_call`` (its JVP rule) is replaced by the IR
of that Python function, read from its source and typed with the call's operands, as a helper
is. A function or rule adcompiler cannot read (a call into a C library, a lambda) is an
``ADTypeError`` at the call, quoting why.
"""

from __future__ import annotations

from ..errors import ADError, ADTypeError
from ..frontend import parse_function
from ..ir.builder import Builder
from ..ir.clone import clone_function, clone_op
from ..ir.core import Function, Op, Region, Value
from ..ir.types import Tensor, TupleT, Type
from .simplify import replace_uses, simplify
from .typeinfer import infer_types

#: which of the rule object's functions each op calls, and what the error calls it
_CALLED = {
    "custom_call": ("fn", "the function"),
    "custom_vjp_call": ("vjp", "the VJP rule"),
    "custom_jvp_call": ("jvp", "the JVP rule"),
}


def inline_custom_rules(fn: Function) -> Function:
    """``fn`` with every custom call replaced by the body it calls (a new function when there
    are any: ``fn`` may be shared with other backends)."""
    if not any(op.name in _CALLED for op in fn.walk()):
        return fn
    fn = clone_function(fn)
    subst: dict[Value, Value] = {}
    _inline_region(fn.body, subst)
    replace_uses(fn.body, subst)
    return simplify(fn)


def _inline_region(region: Region, subst: dict[Value, Value]) -> None:
    ops: list[Op] = []
    for op in region.ops:
        for r in op.regions:
            _inline_region(r, subst)
        if op.name in _CALLED:
            ops.extend(_inline(op, subst))
        else:
            ops.append(op)
    region.ops = ops


def _inline(op: Op, subst: dict[Value, Value]) -> list[Op]:
    """The ops computing ``op``'s results from the body of the Python function it calls;
    ``subst`` learns which value stands for each result."""
    field, what = _CALLED[op.name]
    rule = op.attrs["rule"]
    name = getattr(rule, "__name__", "a custom function")
    operands = [subst.get(v, v) for v in op.operands]
    try:
        callee = simplify(infer_types(parse_function(getattr(rule, field)), [v.type for v in operands]))
    except ADError as e:
        reason = e.message.rstrip(".")
        raise ADTypeError(
            f"the LLVM backend compiles {what} of {name} from its source, and cannot: {reason}; "
            'use backend="python" to call it from Python',
            op.loc,
        ) from e
    vmap: dict[Value, Value] = dict(zip(callee.params, operands))
    region = Region([], [clone_op(o, vmap) for o in callee.body.ops])
    (returned,) = callee.returns
    returned = vmap.get(returned, returned)
    b = Builder(region, op.loc)
    one_tuple = len(op.results) == 1 and isinstance(op.result.type, TupleT)
    if isinstance(returned.type, TupleT) and not one_tuple and len(returned.type.elts) == len(op.results):
        values = [b.tuple_get(returned, index=k) for k in range(len(op.results))]
    elif len(op.results) == 1:
        values = [returned]
    else:
        raise ADTypeError(
            f"{what} of {name} returns {returned.type}; it must return one value per argument "
            f"({len(op.results)}), as a tuple",
            op.loc,
        )
    for result, value in zip(op.results, values):
        subst[result] = _as_type(b, value, result.type, f"{what} of {name}", op)
    return region.ops


def _as_type(b: Builder, value: Value, want: Type, what: str, op: Op) -> Value:
    """``value`` as the type the call's result has: an int or bool becomes a float of the
    same rank (``return 0`` for a zero cotangent); a rank that differs is an error."""
    got = value.type
    if got == want:
        return value
    if isinstance(got, Tensor) and isinstance(want, Tensor) and got.rank == want.rank and want.dtype == "f64":
        return b.op("float", value)
    raise ADTypeError(f"{what} returns {got} where {want} is expected", op.loc)
