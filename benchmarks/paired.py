"""Paired ratios: ``python -m benchmarks.paired NAME OURS PEER TARGET SIZE CONFIG``.

Both entries are prepared and checked in one fresh process, then timed with alternating
samples (``timing.measure_paired``): on a shared machine the load changes from one minute to
the next, and two entries timed minutes apart can come out 1.5x closer or further apart than
they are. The ratio of samples taken side by side is what the targets are read against.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict

from benchmarks.entry import prepare, reason
from benchmarks.isolated import find_entry
from benchmarks.results import PairedRow
from benchmarks.subproc import run_json
from benchmarks.timing import Config, measure_paired
from benchmarks.workloads.base import Pair

#: what sets a library's thread count: removed where a pair runs with every library's defaults
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "ADCOMPILER_NUM_THREADS")


def run_pair(workload: str, pair: Pair, size: int, cfg: Config, timeout_s: float = 900.0) -> PairedRow:
    """The paired ratio of ``pair`` in a fresh interpreter (machine code may crash it), on the
    cores the pair asks for."""
    argv = [workload, pair.ours, pair.peer, str(pair.target), str(size), json.dumps(asdict(cfg)), pair.cores]
    env: dict[str, str | None] = {}
    cpus = None
    if pair.cores == "1":
        cpus = {min(os.sched_getaffinity(0))}
    elif pair.cores == "all":
        env = dict.fromkeys(THREAD_VARIABLES)
    data = run_json("paired", argv, timeout_s, env, cpus)
    if "error" in data:
        return PairedRow(pair.ours, pair.peer, pair.target, pair.cores, status="n/a", note=str(data["error"]))
    return PairedRow(**data)


def main(argv: list[str]) -> int:
    from benchmarks.workloads import WORKLOADS

    workload = WORKLOADS[argv[0]]
    pair = Pair(argv[1], argv[2], float(argv[3]), cores=argv[6])  # type: ignore[arg-type]
    size, cfg = int(argv[4]), Config(**json.loads(argv[5]))
    args = workload.make_args(size)
    result = PairedRow(pair.ours, pair.peer, pair.target, pair.cores, cpus=len(os.sched_getaffinity(0)))
    thunks = []
    for name in (pair.ours, pair.peer):
        entry = find_entry(workload, name)
        reference = workload.primal(*args) if entry.kind == "f" else workload.hand_grad(*args)
        row, thunk = prepare(entry, args, size, reference)
        if thunk is None:
            result.status, result.note = row.status, f"{name}: {row.note}"
            print(json.dumps(asdict(result)))
            return 0
        thunks.append(thunk)
    try:
        timing = measure_paired(thunks[0], thunks[1], cfg)
    except Exception as e:
        result.status, result.note = "n/a", reason(e)
    else:
        result.median, result.q1, result.q3 = (timing.quantile(q) for q in (0.5, 0.25, 0.75))
        result.pairs = len(timing.ratios)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
