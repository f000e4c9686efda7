"""Checks the invariants of the IR; run after every pass in tests.

* every value is defined exactly once, before its uses, in its region or an enclosing one;
* control-flow ops have the regions, arguments and yields their kind asks for;
* attributes are the ones the op declares.
"""

from __future__ import annotations

from .core import Function, Op, Region, Value
from .ops import OPS


class VerifyError(Exception):
    """The IR broke an invariant: a bug in a pass, never in the user's code."""


def verify(fn: Function) -> None:
    defined: set[int] = set()
    _region(fn.body, [set(id(a) for a in fn.params)], defined, fn)
    for a in fn.params:
        if id(a) in defined:
            raise VerifyError(f"parameter {a} defined twice")


def _define(v: Value, scope: set[int], defined: set[int], where: str) -> None:
    if id(v) in defined:
        raise VerifyError(f"{v} defined twice ({where})")
    defined.add(id(v))
    scope.add(id(v))


def _check_use(v: Value, scopes: list[set[int]], where: str) -> None:
    if not any(id(v) in s for s in scopes):
        raise VerifyError(f"{v} used before it is defined or out of scope, in {where}")


def _region(region: Region, scopes: list[set[int]], defined: set[int], fn: Function) -> None:
    scope = scopes[-1]
    for op in region.ops:
        _op(op, scopes, defined, fn)
        for r in op.results:
            if r.owner is not op:
                raise VerifyError(f"{r} of {op.name} does not point back at its op")
            _define(r, scope, defined, op.name)
    for v in region.yields:
        _check_use(v, scopes, "a yield")


def _op(op: Op, scopes: list[set[int]], defined: set[int], fn: Function) -> None:
    if OPS.get(op.name) is not op.opdef:
        raise VerifyError(f"unknown op {op.name}")
    for v in op.operands:
        _check_use(v, scopes, op.name)
    extra = set(op.attrs) - set(op.opdef.attrs)
    if extra:
        raise VerifyError(f"{op.name} has undeclared attributes {sorted(extra)}")
    if len(op.regions) != op.opdef.n_regions:
        raise VerifyError(f"{op.name} has {len(op.regions)} regions, expects {op.opdef.n_regions}")
    shape = _control_shape(op)
    for region, (n_args, n_yields) in zip(op.regions, shape):
        if len(region.args) != n_args or len(region.yields) != n_yields:
            raise VerifyError(
                f"{op.name}: region has {len(region.args)} args / {len(region.yields)} yields, "
                f"expects {n_args} / {n_yields}"
            )
        inner: set[int] = set()
        for a in region.args:
            if a.owner is not region:
                raise VerifyError(f"argument {a} of {op.name} does not point back at its region")
            _define(a, inner, defined, f"{op.name} argument")
        _region(region, [*scopes, inner], defined, fn)


def _control_shape(op: Op) -> list[tuple[int, int]]:
    """(number of block arguments, number of yields) expected of each region."""
    n = len(op.results)
    if op.name == "if":
        return [(0, n), (0, n)]
    if op.name == "for":
        carried = len(op.operands) - 3
        if carried != n:
            raise VerifyError(f"for carries {carried} values but has {n} results")
        return [(1 + n, n)]
    if op.name == "while":
        if len(op.operands) != n:
            raise VerifyError(f"while carries {len(op.operands)} values but has {n} results")
        return [(n, 1), (n, n)]
    if op.name in ("checkpoint", "custom_call") and op.regions:
        return [(len(op.operands), n)]
    return []
