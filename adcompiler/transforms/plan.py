"""``g.plan(*args)``: what a gradient's reverse sweep keeps in memory, loop by loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir.core import Function
from ..ir.types import Tensor

if TYPE_CHECKING:
    from ..ir.slice import Slice


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
    if value is None or type(value) in (float, int):  # 8 bytes, as NumPy's: no array made
        return 8
    return int(np.asarray(value).nbytes)


@dataclass
class LoopShape:
    """What the report of one loop needs, without the IR (a warm cache entry stores it): the
    loop's bounds and initial carried values as a :class:`~..ir.slice.Slice` of the primal,
    and which carried values are taped."""

    line: int | None
    policy: Any  # None (tapes), Revolve or MemoryBudget
    is_for: bool
    #: computes [lo, hi, step] (for loops) and then the carried values' initial values
    inputs: Slice
    #: per taped value: its place among the carried values (None: not carried), whether it
    #: is a scalar, its name
    taped: list[tuple[int | None, bool, str | None]]

    @classmethod
    def of(cls, plan: Any, primal: Function) -> LoopShape:
        from ..ir.slice import Slice

        op = plan.op
        is_for = op.name == "for"
        inits = op.operands[3:] if is_for else op.operands
        carried = op.regions[-1].args[(1 if is_for else 0) :]
        bounds = list(op.operands[:3]) if is_for else []
        place = {id(a): k for k, a in enumerate(carried)}
        taped = [
            (place.get(id(v)), isinstance(v.type, Tensor) and v.type.rank == 0, v.hint) for v in plan.taped
        ]
        return cls(plan.line, plan.policy, is_for, Slice(primal, [*bounds, *inits]), taped)

    def stored_bytes(self, args: list[Any]) -> int | None:
        """What the loop stores for ``args`` (the total of :meth:`report`, None when it depends
        on the data), without the report: ``checkpoint="auto"`` asks at every call."""
        if self.policy is None and not self.taped:
            return 0  # the reverse sweep needs nothing of this loop's iterations
        iterations, values = self._run(args)
        if self.policy is None:
            return self._tape(iterations, values)[1]
        return self._snapshots(values)[1]

    def report(self, args: list[Any]) -> LoopReport:
        from ..ad.checkpoint import MemoryBudget, optimal_advances

        iterations, values = self._run(args)
        where = f"loop at line {self.line}" if self.line else "loop"
        count = (
            f"{iterations:,} iterations" if iterations is not None else "a trip count known only when it runs"
        )
        if self.policy is None:
            each, total, unsized = self._tape(iterations, values)
            size = _human(total) if total is not None else f"{_human(each)} per iteration"
            if unsized:
                size += " plus " + ", ".join(hint or f"the result of line {self.line}" for hint in unsized)
            text = f"{where}: {count}, tape {size}; the reverse sweep recomputes each iteration once (2 forward sweeps)"
            return LoopReport(self.line, "tape", each, iterations, total, 2.0, text)
        k, total, each = self._snapshots(values)
        policy = self.policy
        sweeps = None if iterations is None else 2.0 + optimal_advances(iterations, k) / max(iterations, 1)
        budget = f" (budget {_human(policy.bytes)})" if isinstance(policy, MemoryBudget) else ""
        rerun = f", {sweeps:.2f} forward sweeps" if sweeps is not None else ""
        text = (
            f"{where}: {count}, Revolve with {k} snapshots of {_human(each)}: {_human(total)}{budget}{rerun}"
        )
        return LoopReport(self.line, "revolve", each, iterations, total, sweeps, text)

    def _run(self, args: list[Any]) -> tuple[int | None, list[Any]]:
        """The trip count at ``args`` (None when the data decide it) and the carried values'
        initial values."""
        values = self.inputs.run(args)
        if not self.is_for:
            return None, values
        (lo, hi, step), values = values[:3], values[3:]
        if None in (lo, hi, step):
            return None, values
        return len(range(int(lo), int(hi), int(step))), values

    def _tape(self, iterations: int | None, values: list[Any]) -> tuple[int, int | None, list[str | None]]:
        """Bytes taped per iteration, in all (None when unknown), and the taped arrays that are
        sized only when the loop runs (stored intermediates: a matrix product...)."""
        # carried values have the sizes of their initial values
        unsized = [hint for k, scalar, hint in self.taped if k is None and not scalar]
        each = sum(
            8 if k is None else _nbytes(values[k]) for k, scalar, _ in self.taped if k is not None or scalar
        )
        return each, None if iterations is None or unsized else each * iterations, unsized

    def _snapshots(self, values: list[Any]) -> tuple[int, int, int]:
        """Revolve's snapshots: how many, their bytes in all, and the bytes of one."""
        from ..ad.checkpoint import Revolve

        each = sum(_nbytes(v) for v in values)
        policy = self.policy
        k = policy.snapshots if isinstance(policy, Revolve) else max(2, policy.bytes // max(each, 1))
        return k, k * each, each


def _human(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
