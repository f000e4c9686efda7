"""``debug=True``: a check after every op that makes a float, naming the op, the user's line
and the sweep it belongs to. The first NaN or infinity raises :class:`~adcompiler.errors.NumericError`
(PyTorch's anomaly detection, pointing at source lines). Without the flag there are no checks.
"""

from __future__ import annotations

from collections.abc import Callable

from ..ir.builder import Builder
from ..ir.core import Function, Op, Region, Value
from ..ir.types import Tensor

_UNCHECKED = ("const", "check_finite", "pop", "undef")


def insert_checks(fn: Function, sweep_of: Callable[[int], str]) -> Function:
    """Check every float result; ``sweep_of(k)`` names the sweep of the k-th top-level op
    (ops nested in its regions belong to the same sweep)."""
    ops: list[Op] = []
    for k, op in enumerate(fn.body.ops):
        ops += _checked(op, sweep_of(k))
    fn.body.ops = ops
    return fn


def _checked(op: Op, sweep: str) -> list[Op]:
    """``op`` followed by checks of its float results (and checks inside its regions)."""
    for region in op.regions:
        inner: list[Op] = []
        for o in region.ops:
            inner += _checked(o, sweep)
        region.ops = inner
    if op.name in _UNCHECKED:
        return [op]
    return [op] + [_check(op, r, sweep) for r in op.results if _is_float(r)]


def _is_float(v: Value) -> bool:
    return isinstance(v.type, Tensor) and v.type.dtype == "f64"


def _check(op: Op, value: Value, sweep: str) -> Op:
    what = f"non-finite value from {op.name} in the {sweep} sweep"
    if op.loc is not None:
        what += f"\n{op.loc.show()}"
    scratch = Region()
    Builder(scratch, op.loc).op("check_finite", value, what=what)
    return scratch.ops[0]
