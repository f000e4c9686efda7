"""``g.plan(*args)``: what a gradient's reverse sweep keeps in memory, loop by loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir.core import Function
from ..ir.types import Tensor


@dataclass
class LoopReport:
    """One loop's share of a gradient's memory."""

    line: int | None
    strategy: str
    #: bytes saved per iteration (tapes) or per snapshot (Revolve)
    bytes_each: int | None
    iterations: int | None
    #: the estimated total, in bytes (None when the trip count depends on the data)
    total_bytes: int | None
    #: forward iterations run in all, per iteration of the loop (the plain sweep included)
    forward_sweeps: float | None
    text: str


@dataclass
class MemoryPlan:
    """``g.plan(*args)``: what a gradient stores, loop by loop."""

    loops: list[LoopReport]

    @property
    def total_bytes(self) -> int | None:
        totals = [r.total_bytes for r in self.loops]
        return None if None in totals else sum(totals)  # type: ignore[arg-type]

    def __str__(self) -> str:
        if not self.loops:
            return "no loops: the reverse sweep reads the forward sweep's values, nothing is taped"
        return "\n".join(r.text for r in self.loops)


def _nbytes(value: Any) -> int:
    return int(np.asarray(value).nbytes) if value is not None else 8


def loop_report(plan: Any, primal: Function, args: list[Any]) -> LoopReport:
    from ..ad.checkpoint import MemoryBudget, Revolve, optimal_advances
    from ..ir.interp import evaluate

    op = plan.op
    iterations = None
    if op.name == "for":
        lo, hi, step = (evaluate(primal, v, args) for v in op.operands[:3])
        if None not in (lo, hi, step):
            iterations = len(range(int(lo), int(hi), int(step)))
    inits = op.operands[3:] if op.name == "for" else op.operands
    carried = op.regions[-1].args[(1 if op.name == "for" else 0):]
    sizes = {a: _nbytes(evaluate(primal, init, args)) for a, init in zip(carried, inits)}
    where = f"loop at line {plan.line}" if plan.line else "loop"
    count = f"{iterations:,} iterations" if iterations is not None else "a trip count known only when it runs"
    if plan.policy is None:
        # carried values have the sizes of their initial values; stored intermediates that are
        # arrays (a matrix product...) are sized only when the loop runs
        unsized = [v for v in plan.taped if v not in sizes and not (isinstance(v.type, Tensor) and v.type.rank == 0)]
        each = sum(sizes.get(v, 8) for v in plan.taped if v not in unsized)
        total = None if iterations is None or unsized else each * iterations
        size = _human(total) if total is not None else f"{_human(each)} per iteration"
        if unsized:
            size += " plus " + ", ".join(v.hint or f"the result of line {plan.line}" for v in unsized)
        text = f"{where}: {count}, tape {size}; the reverse sweep recomputes each iteration once (2 forward sweeps)"
        return LoopReport(plan.line, "tape", each, iterations, total, 2.0, text)
    each = sum(sizes.values())
    k = plan.policy.snapshots if isinstance(plan.policy, Revolve) else max(2, plan.policy.bytes // max(each, 1))
    total = k * each
    sweeps = None if iterations is None else 2.0 + optimal_advances(iterations, k) / max(iterations, 1)
    budget = f" (budget {_human(plan.policy.bytes)})" if isinstance(plan.policy, MemoryBudget) else ""
    rerun = f", {sweeps:.2f} forward sweeps" if sweeps is not None else ""
    text = f"{where}: {count}, Revolve with {k} snapshots of {_human(each)}: {_human(total)}{budget}{rerun}"
    return LoopReport(plan.line, "revolve", each, iterations, total, sweeps, text)


def _human(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
