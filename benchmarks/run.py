"""The benchmark runner: ``python -m benchmarks [--quick] [--only NAME] [--json out.json]``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from benchmarks import cold, ours, report
from benchmarks.entry import TOLERANCE, installed, run_entry
from benchmarks.isolated import all_entries, run_isolated
from benchmarks.machine import header, machine_info
from benchmarks.paired import run_pair
from benchmarks.results import Row, WorkloadResult
from benchmarks.timing import Config
from benchmarks.workloads import WORKLOADS, Entry, Workload

FULL = Config(repeats=7, min_sample_s=0.05, budget_s=15.0)
QUICK = Config(repeats=3, min_sample_s=0.005, budget_s=1.0)


def cold_rows(workload: Workload, size: int) -> list[Row]:
    rows = []
    for backend in ours.BACKENDS:
        starts = cold.run_starts(workload.name, backend, size)
        for start, data in starts.items():
            if backend == "python" and start == "warm":
                continue  # the Python backend keeps no on-disk cache: every start is cold
            row = Row("gen", f"ad.grad [{backend}] {start} start")
            if "error" in data:
                row.status, row.note = "n/a", str(data["error"])
            else:
                row.median_s, row.samples = float(data["first_call_s"]), 1
                row.note = (
                    f"import adcompiler {report.fmt_time(float(data['import_s']))}, "
                    f"2nd call {report.fmt_time(float(data['second_call_s']))}"
                )
                if backend != "python":
                    row.note += f", optimised code in place at {report.fmt_time(float(data['optimised_s']))}"
            rows.append(row)
    return rows


def _rank(entry: Entry) -> tuple[int, int]:
    """Function rows first; then references, hand-written/Numba baselines, ours, the peers."""
    if entry.name in (report.PRIMAL, report.HAND):
        group = 0
    elif entry.name.startswith(("hand-written", "numba")):
        group = 1
    else:
        group = 2 if ours.is_ours(entry.name) else 3
    return (0 if entry.kind == "f" else 1), group


def run_workload(
    workload: Workload, size: int, cfg: Config, with_cold: bool, with_paired: bool, log: bool
) -> WorkloadResult:
    args = workload.make_args(size)
    value = workload.primal(*args)
    hand = workload.hand_grad(*args)
    entries = sorted(all_entries(workload), key=_rank)
    result = WorkloadResult(workload.name, workload.summary, workload.size_label, size)
    for entry in entries:
        if log:
            print(f"  {workload.name}: {entry.kind} {entry.name} ...", file=sys.stderr, flush=True)
        if entry.isolate and installed(entry):
            result.rows.append(run_isolated(workload.name, entry, size, cfg))
        else:
            result.rows.append(run_entry(entry, args, size, value if entry.kind == "f" else hand, cfg))
    if with_paired:
        for pair in workload.pairs:
            if log:
                print(
                    f"  {workload.name}: {pair.ours} / {pair.peer}, paired ...", file=sys.stderr, flush=True
                )
            result.pairs.append(run_pair(workload.name, pair, size, cfg))
    if with_cold:
        result.rows.extend(cold_rows(workload, size))
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, few repeats: a smoke run")
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        choices=sorted(WORKLOADS),
        help="run only this workload (repeatable)",
    )
    p.add_argument("--size", type=int, help="override every selected workload's size")
    p.add_argument("--repeats", type=int, help="samples per entry")
    p.add_argument("--no-cold", action="store_true", help="skip the fresh-process cold-start rows")
    p.add_argument("--no-paired", action="store_true", help="skip the paired ratios (alternated samples)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    cfg = QUICK if opts.quick else FULL
    if opts.repeats:
        cfg = dataclasses.replace(cfg, repeats=opts.repeats)
    machine = machine_info()
    print(header(machine), flush=True)
    results = []
    for name in opts.only or list(WORKLOADS):
        w = WORKLOADS[name]
        size = opts.size or (w.quick_size if opts.quick else w.size)
        results.append(run_workload(w, size, cfg, not opts.no_cold, not opts.no_paired, not opts.quiet))
    print()
    print(report.format_table(results))
    print()
    if any(r.pairs for r in results):
        print(report.format_pairs(results))
        print()
    print(report.LEGEND)
    if opts.json:
        config = {**asdict(cfg), "quick": opts.quick, "tolerance": TOLERANCE}
        report.write_json(opts.json, machine, config, results)
        print(f"\nwrote {opts.json}")
    return 0
