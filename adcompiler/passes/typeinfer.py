"""Type inference: specialise a function to a call signature (as Numba does).

Given the types of the arguments, compute the type of every value; loop-carried values
are iterated to a fixed point over :func:`~adcompiler.ir.types.join` (``s = 0`` that
becomes a float in the loop is a float). Returns a typed copy; the input is untouched.

Also resolves what only types can tell: ``t[0]`` on a tuple becomes ``tuple_get``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ADTypeError
from ..ir.clone import clone_function
from ..ir.core import Function, Op, Region
from ..ir.ops import OPS
from ..ir.types import (
    NONE,
    NoneT,
    Tensor,
    TupleT,
    Type,
    TypeJoinError,
    broadcast_rank,
    join,
    type_of_python_value,
)

_MAX_ITERATIONS = 20


def infer_types(fn: Function, arg_types: Sequence[Type]) -> Function:
    """A copy of ``fn`` with every value typed for arguments of ``arg_types``."""
    typed = clone_function(fn)
    if len(arg_types) != len(typed.params):
        raise ADTypeError(f"{fn.name} takes {len(typed.params)} arguments, got {len(arg_types)}", fn.loc)
    for p, t in zip(typed.params, arg_types):
        p.type = t
    _region(typed.body)
    return typed


def _join(a: Type | None, b: Type | None, op: Op, what: str) -> Type:
    if a is None:
        return b
    if b is None:
        return a
    try:
        return join(a, b)
    except TypeJoinError as e:
        raise ADTypeError(
            f"{what} is {e} on different paths; a variable must keep its rank", op.loc
        ) from None


def _region(region: Region) -> None:
    for op in region.ops:
        _op(op)


def _op(op: Op) -> None:
    if op.name == "if":
        for r in op.regions:
            _region(r)
        then, orelse = op.regions
        for res, a, b in zip(op.results, then.yields, orelse.yields):
            res.type = _join(a.type, b.type, op, f"'{res.hint or 'a value'}'")
        return
    if op.name in ("for", "while"):
        _loop(op)
        return
    if op.name in ("checkpoint", "custom_call") and op.regions:
        region = op.regions[0]
        for a, v in zip(region.args, op.operands):
            a.type = v.type
        _region(region)
        for res, y in zip(op.results, region.yields):
            res.type = y.type
        return
    if op.name == "getitem" and isinstance(op.operands[0].type, TupleT):
        _tuple_index(op)
    if op.name == "custom_call":
        op.result.type = _custom_result_type(op)
        return
    if op.opdef.type_rule is None:
        return  # pop, undef: typed when built
    types = op.opdef.type_rule([v.type for v in op.operands], op.attrs)
    for r, t in zip(op.results, types):
        r.type = t


def _custom_result_type(op: Op) -> Type:
    """The type a custom-rule function returns: inferred from its body when adcompiler can
    read it, else (a call into a C library) the broadcast of its arguments, as a ufunc's."""
    from ..errors import ADError
    from ..frontend import parse_function

    arg_types = [v.type for v in op.operands]
    try:
        inner = infer_types(parse_function(op.attrs["rule"].fn), arg_types)
        return inner.returns[0].type
    except (ADError, TypeError, OSError):
        ranks = [t.rank for t in arg_types if isinstance(t, Tensor)]
        return Tensor("f64", broadcast_rank(*ranks) if ranks else 0)


def _tuple_index(op: Op) -> None:
    """``t[k]`` with a constant ``k`` on a tuple is ``tuple_get``."""
    index = op.attrs["index"]
    part = op.operands[1] if len(op.operands) == 2 else None
    const = part.op if part is not None else None
    if len(index) != 1 or index[0] != ("idx",) or const is None or const.name != "const":
        raise ADTypeError("a tuple can only be indexed with a constant integer", op.loc)
    k = const.attrs["value"]
    n = len(op.operands[0].type.elts)
    if not -n <= k < n:
        raise ADTypeError(f"tuple index {k} out of range for a tuple of {n}", op.loc)
    op.opdef = OPS["tuple_get"]
    op.operands = op.operands[:1]
    op.attrs = {"index": k % n}


def _loop(op: Op) -> None:
    """Iterate the body until the carried types stop changing."""
    if op.name == "for":
        body = op.regions[0]
        inits = op.operands[3:]
        body.args[0].type = join(op.operands[0].type, join(op.operands[1].type, op.operands[2].type))
        carried_args = body.args[1:]
        regions = [body]
    else:
        cond, body = op.regions
        inits = op.operands
        carried_args = body.args
        regions = [cond, body]
    types = [v.type if not isinstance(v.type, NoneT) else None for v in inits]
    for _ in range(_MAX_ITERATIONS):
        for arg_list in [carried_args] if op.name == "for" else [cond.args, body.args]:
            for a, t in zip(arg_list, types):
                a.type = t if t is not None else NONE
        for r in regions:
            _region(r)
        new = [
            _join(
                t, y.type if not isinstance(y.type, NoneT) else None, op, f"'{y.hint or 'a carried value'}'"
            )
            for t, y in zip(types, body.yields)
        ]
        if new == types:
            break
        types = new
    else:
        raise ADTypeError("the types of loop-carried values do not settle", op.loc)
    for r, t in zip(op.results, types):
        r.type = t if t is not None else NONE


def arg_types_of(values: Sequence[object]) -> list[Type]:
    """The call signature of run-time arguments."""
    return [type_of_python_value(v) for v in values]
