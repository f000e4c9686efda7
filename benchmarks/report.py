"""The table a run prints, and its JSON form."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from benchmarks.ours import BACKENDS, is_ours
from benchmarks.results import PairedRow, Row, WorkloadResult

PRIMAL = "numpy (as written)"
HAND = "hand-written numpy"
OURS_GRAD = tuple(f"ad.grad [{b}]" for b in BACKENDS)

HEADINGS = (
    "workload",
    "kind",
    "entry",
    "median",
    "1st call",
    "x f",
    "x hand",
    *(f"{name.split()[-1][1:-1]}/this" for name in OURS_GRAD),
    "note",
)
LEGEND = """\
median    per call, median over repeats after warm-up (timeit-style)
1st call  preparing + first call: JIT compilation, or for ad.* generating the code
x f       this / the user's NumPy function      x hand  this / the hand-written NumPy gradient
python/this, llvm/this   ad.grad [python|llvm] / this entry  (< 1: ours is faster)
gen rows  ad.grad start-up in a fresh process (first call: parse, differentiate, generate, compile, run);
          cold = empty on-disk cache, warm = a second process reading it"""


def fmt_time(s: float | None) -> str:
    if s is None:
        return ""
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _ratio(a: float | None, b: float | None) -> str:
    return "" if a is None or b is None or b <= 0.0 else f"{a / b:.3g}"


def _cells(result: WorkloadResult, row: Row) -> list[str]:
    ok = row.status == "ok"
    median = row.median_s if ok else None
    hand = result.median(HAND) if row.kind == "grad" else None
    vs_ours = [
        _ratio(result.median(ours), median) if row.kind == "grad" and not is_ours(row.name) else ""
        for ours in OURS_GRAD
    ]
    return [
        "",
        row.kind,
        row.name,
        fmt_time(median) if ok else row.status,
        fmt_time(row.first_call_s) if row.kind != "gen" else "",
        _ratio(median, result.median(PRIMAL)) if row.kind != "gen" else "",
        _ratio(median, hand),
        *vs_ours,
        row.note,
    ]


def format_table(results: list[WorkloadResult]) -> str:
    """One table for the whole run, a block of rows per workload."""
    body: list[list[str]] = []
    for result in results:
        title = f"{result.name} ({result.size_label}={result.size:,})"
        rows = [_cells(result, row) for row in result.rows]
        if rows:
            rows[0][0] = title
        body.append([])  # separator
        body.extend(rows)
    table = [list(HEADINGS), *body]
    widths = [max((len(r[i]) for r in table if r), default=0) for i in range(len(HEADINGS) - 1)]
    right = {3, 4, 5, 6, 7, 8}
    lines = []
    for r in table:
        if not r:
            lines.append("-" * (sum(widths) + 2 * len(widths) + 4))
            continue
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append(("  ".join(cells) + "  " + r[-1]).rstrip())
    return "\n".join(lines)


PAIRED_HEADINGS = ("workload", "ours", "/ peer", "cores", "target", "median", "quartiles", "pairs", "")
PAIRED_LEGEND = """\
paired    ours / peer, each in a fresh process of its own, their samples taken turn about, so
          that both see the same load; median and quartiles of the per-pair ratios. target: at most
cores     blank: as the run is configured; 1: both pinned to one CPU (every library one thread);
          all: every CPU, each library with its default threads (no *_NUM_THREADS variables)"""


def _paired_cells(result: WorkloadResult, row: PairedRow) -> list[str]:
    if row.status != "ok" or row.median is None:
        numbers = ["", row.status, "", ""]
    else:
        verdict = "met" if row.median <= row.target else "over"
        numbers = [f"{row.median:.2f}", f"{row.q1:.2f}-{row.q3:.2f}", str(row.pairs), verdict]
    return [
        result.name,
        row.ours,
        row.peer,
        row.cores,
        f"{row.target:g}",
        *numbers[:3],
        numbers[3] or row.note,
    ]


def format_pairs(results: list[WorkloadResult]) -> str:
    """The paired ratios, one line per pair, with the target each is read against."""
    table = [list(PAIRED_HEADINGS)]
    for result in results:
        table.extend(_paired_cells(result, row) for row in result.pairs)
    widths = [max(len(r[i]) for r in table) for i in range(len(PAIRED_HEADINGS) - 1)]
    right = {4, 5, 6, 7}
    lines = [
        (
            "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
            + "  "
            + r[-1]
        ).rstrip()
        for r in table
    ]
    return "\n".join([*lines, "", PAIRED_LEGEND])


def write_json(
    path: Path, machine: dict[str, object], config: dict[str, object], results: list[WorkloadResult]
) -> None:
    data = {
        "machine": machine,
        "config": config,
        "workloads": [
            {
                **{k: v for k, v in asdict(r).items() if k not in ("rows", "pairs")},
                "rows": [asdict(row) for row in r.rows],
                "pairs": [asdict(pair) for pair in r.pairs],
            }
            for r in results
        ],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
