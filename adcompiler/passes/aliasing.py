"""The aliasing check again, with types: what NumPy's reference semantics change that only
ranks show.

The frontend's check (``frontend/aliasing.py``) runs on the AST before types are known. Run
after type inference, this pass tells it, by source position, what the typed IR knows
(:class:`~adcompiler.frontend.aliasing.TypeFacts`): which subscripts by integers alone leave an
axis (``r = m[0]`` of a matrix is a view of ``m``), and which ``y += v`` find an array in ``y``
(an update in place). The check then refuses what these make visible.

It also reads the functions of custom rules (``@custom_vjp``/``@custom_jvp``), typed with each
call's operands: the Python backend calls them as they are written, so a write into a parameter
would change the array passed to them (which the rule and the caller read too) while the LLVM
backend, which compiles them, gives it value semantics. Such a write is refused at the call.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable

from ..errors import ADError, UnsupportedSyntaxError
from ..frontend.aliasing import check_aliasing_typed, summarise_custom
from ..frontend.expressions import BINOPS
from ..frontend.sharing import Summary, TypeFacts
from ..ir.core import Function, Op
from ..ir.types import Tensor, TupleT, Type

_SUBSCRIPTS = ("getitem", "tuple_get")
#: the ops an augmented assignment ``y op= v`` lowers to
_UPDATES = frozenset(BINOPS.values())


def check_typed_aliasing(pyfunc: Callable) -> Callable[[Function], Function]:
    """The pass for the user's function ``pyfunc``: refuses, returns the IR unchanged."""

    def run(fn: Function) -> Function:
        typed_summary(pyfunc, fn)
        return fn

    return run


def typed_summary(pyfunc: Callable, fn: Function) -> Summary:
    """Check ``pyfunc`` with what its typed IR ``fn`` says; what it does to its arguments."""
    summary = check_aliasing_typed(pyfunc, type_facts(fn.walk()))
    for op in fn.walk():
        if op.name == "custom_call":
            _check_custom(op)
    return summary


def type_facts(ops: Iterable[Op]) -> TypeFacts:
    """What typed ops say about the expressions they were lowered from (see ``TypeFacts``)."""
    views: set[tuple[str, int, int, int]] = set()
    updated: set[tuple[str, int, int, str]] = set()
    for op in ops:
        loc = op.loc
        if loc is None:
            continue
        if op.name in _SUBSCRIPTS and _holds_array(op.result.type) and _by_integers(op):
            views.add((loc.file, loc.line, loc.col, _depth(op)))
        elif op.name in _UPDATES and _holds_array(op.operands[0].type):
            updated.add((loc.file, loc.line, loc.col, op.name))
    return TypeFacts(frozenset(views), frozenset(updated))


def _holds_array(t: Type | None) -> bool:
    """An array (rank known and not 0), or a tuple holding one."""
    if isinstance(t, Tensor):
        return bool(t.rank)
    return isinstance(t, TupleT) and any(_holds_array(e) for e in t.elts)


def _by_integers(op: Op) -> bool:
    """A subscript whose index parts are all scalars (no array: fancy indexing copies)."""
    return all(isinstance(v.type, Tensor) and v.type.rank == 0 for v in op.operands[1:])


def _depth(op: Op) -> int:
    """How many subscripts at the same position ``op``'s operand is (``m[0][1]``: 1)."""
    inner = op.operands[0].op
    if inner is not None and inner.name in _SUBSCRIPTS and inner.loc == op.loc:
        return 1 + _depth(inner)
    return 0


#: which functions of a custom rule are called, and the types of their parameters
_RULE_PARAMS: dict[str, Callable[[list[Type], Type], list[Type]]] = {
    "fn": lambda args, out: args,
    "vjp": lambda args, out: [*args, out, out],
    "jvp": lambda args, out: [*args, *args],
}


def _check_custom(op: Op) -> None:
    """Refuse a custom rule whose function (or rule) writes into one of its parameters."""
    from ..frontend import parse_function
    from .typeinfer import infer_types

    rule = op.attrs["rule"]
    arg_types = [v.type for v in op.operands]
    for field, param_types in _RULE_PARAMS.items():
        func = getattr(rule, field, None)
        if not isinstance(func, types.FunctionType):
            continue
        try:  # typed as the call types it, for its ranks; else without types
            facts = type_facts(
                infer_types(parse_function(func), param_types(arg_types, op.result.type)).walk()
            )
        except (ADError, OSError, TypeError):
            facts = None
        summary = summarise_custom(func, facts)
        if summary is None or not summary.writes:
            continue
        param, where = next(iter(summary.writes.items()))
        what = "" if field == "fn" else f"the {field.upper()} rule of "
        raise UnsupportedSyntaxError(
            f"{what}{rule.__name__}() writes into its parameter {param} (at line {where.line}); Python "
            "runs it as written (the Python backend calls it), so the write would change the "
            "caller's array, which the caller and the derivative rules may read afterwards, while "
            "adcompiler's value semantics would not: write into a copy "
            f"({param} = {param}.copy() at the top of {func.__name__})",
            op.loc,
        )
