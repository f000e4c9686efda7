"""Entries that run in a fresh process: ``python -m benchmarks.isolated NAME ENTRY SIZE CONFIG``.

Once JAX (XLA) or PyTorch (OpenMP) has run, its idle threads compete with OpenBLAS for the
cores and slow down the NumPy entries timed after it (3x on ``mlp`` with 2 cores); and
machine code from an LLVM backend can crash its process. Such entries are marked
``isolate=True`` and timed here, each in its own interpreter.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from benchmarks.entry import run_entry
from benchmarks.results import Row
from benchmarks.subproc import run_json
from benchmarks.timing import Config
from benchmarks.workloads.base import Entry, Workload


def run_isolated(workload: str, entry: Entry, size: int, cfg: Config, timeout_s: float = 900.0) -> Row:
    """``run_entry`` for ``entry`` of ``workload``, in a fresh interpreter."""
    data = run_json("isolated", [workload, entry.name, str(size), json.dumps(asdict(cfg))], timeout_s)
    if "error" in data:
        return Row(entry.kind, entry.name, status="n/a", note=str(data["error"]))
    return Row(**data)


def all_entries(workload: Workload) -> list[Entry]:
    """The references (the NumPy function, the hand-written gradient), the peers and ours."""
    from benchmarks import ours, report
    from benchmarks.workloads.base import bind

    return [
        Entry(report.PRIMAL, "f", bind(workload.primal)),
        Entry(report.HAND, "grad", bind(workload.hand_grad)),
        *workload.peers,
        *ours.entries(workload),
    ]


def find_entry(workload: Workload, name: str) -> Entry:
    """The entry of ``workload`` named ``name``."""
    return next(e for e in all_entries(workload) if e.name == name)


def main(argv: list[str]) -> int:
    from benchmarks.workloads import WORKLOADS

    workload = WORKLOADS[argv[0]]
    entry = find_entry(workload, argv[1])
    size, cfg = int(argv[2]), Config(**json.loads(argv[3]))
    args = workload.make_args(size)
    reference = workload.primal(*args) if entry.kind == "f" else workload.hand_grad(*args)
    print(json.dumps(asdict(run_entry(entry, args, size, reference, cfg))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
