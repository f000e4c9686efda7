"""The data a run produces: one row per (workload, implementation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

RowKind = Literal["f", "grad", "gen"]
Status = Literal["ok", "n/a", "skipped", "WRONG"]


@dataclass
class Row:
    kind: RowKind
    """``f``: the function; ``grad``: its gradient; ``gen``: generating the gradient, cold."""
    name: str
    status: Status = "ok"
    note: str = ""
    """Why a row is n/a, skipped or wrong; extra facts for ``gen`` rows."""
    median_s: float | None = None
    min_s: float | None = None
    samples: int = 0
    number: int = 0
    first_call_s: float | None = None
    """Preparing plus the first call: compilation for JITs, code generation for ours."""
    rel_error: float | None = None
    """Against the NumPy function (``f`` rows) or the hand-written NumPy gradient."""


@dataclass
class PairedRow:
    """``ours / peer`` from samples taken turn about, each entry in its own process (``benchmarks/paired.py``)."""

    ours: str
    peer: str
    target: float
    cores: str = ""
    """``Pair.cores``: as configured (""), pinned to one CPU ("1"), or all with default threads."""
    cpus: int = 0
    """How many CPUs the process timing the pair could use."""
    status: Status = "ok"
    note: str = ""
    """Why there is no ratio (an entry not installed, failed or wrong)."""
    median: float | None = None
    """Median of the per-pair ratios."""
    q1: float | None = None
    q3: float | None = None
    """Quartiles of the per-pair ratios: half of the pairs fall between them."""
    pairs: int = 0


@dataclass
class WorkloadResult:
    name: str
    summary: str
    size_label: str
    size: int
    rows: list[Row] = field(default_factory=list)
    pairs: list[PairedRow] = field(default_factory=list)

    def median(self, name: str) -> float | None:
        for row in self.rows:
            if row.name == name and row.status == "ok":
                return row.median_s
        return None
