"""Run one entry: prepare it, check its result against the reference, time it.

Every failure becomes a row ("n/a", "skipped", "WRONG"), never an exception.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from typing import Any

import numpy as np

from benchmarks.results import Row
from benchmarks.timing import Config, measure
from benchmarks.workloads.base import Args, Entry, Thunk

TOLERANCE = 1e-6
"""Largest relative error (max-norm) accepted against the reference result."""


def reason(e: BaseException) -> str:
    if isinstance(e, ModuleNotFoundError) and e.name:
        return f"{e.name} not installed"
    first = (str(e).strip().splitlines() or [""])[0]
    text = f"{type(e).__name__}: {first}" if first else type(e).__name__
    return text if len(text) <= 100 else text[:97] + "..."


def _arrays(x: Any) -> list[np.ndarray]:
    items = x if isinstance(x, tuple | list) else (x,)
    out = []
    for item in items:
        if hasattr(item, "detach"):  # a torch tensor
            item = item.detach().cpu().numpy()
        out.append(np.asarray(item, dtype=np.float64))
    return out


def rel_error(got: Any, want: Any) -> float:
    """Largest max-norm error over the components, relative to each reference component."""
    g, w = _arrays(got), _arrays(want)
    if len(g) != len(w) or any(a.shape != b.shape for a, b in zip(g, w)):
        return float("inf")
    errs = [
        float(np.max(np.abs(a - b), initial=0.0)) / max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
        for a, b in zip(g, w)
    ]
    return max(errs, default=0.0)


def installed(entry: Entry) -> bool:
    """Whether the module the entry needs (if any) can be imported."""
    return not entry.requires or importlib.util.find_spec(entry.requires) is not None


def prepare(entry: Entry, args: Args, size: int, reference: Any) -> tuple[Row, Thunk | None]:
    """Prepare ``entry`` and call it once: its row, and the thunk when its result is right.

    The row's status says why there is no thunk (not installed, skipped, failed, wrong).
    """
    row = Row(entry.kind, entry.name)
    if not installed(entry):
        row.status, row.note = "n/a", f"{entry.requires} not installed"
        return row, None
    if entry.max_size is not None and size > entry.max_size:
        row.status, row.note = "skipped", f"{entry.limit_reason} (runs up to {entry.max_size:,})"
        return row, None
    try:
        t0 = time.perf_counter()
        thunk = entry.factory(args)
        out = thunk()
        row.first_call_s = time.perf_counter() - t0
        settle()
    except Exception as e:
        row.status, row.note = "n/a", reason(e)
        return row, None
    row.rel_error = rel_error(out, reference)
    if not row.rel_error <= TOLERANCE:
        row.status, row.note = "WRONG", f"relative error {row.rel_error:.2e}"
        return row, None
    return row, thunk


def settle() -> None:
    """Let compiles in the background finish: adcompiler compiles a function's code for
    threads once a call finds a loop large, and timing measures the code calls settle on."""
    ad = sys.modules.get("adcompiler")
    if ad is not None:
        ad.wait_for_compiles()


def run_entry(entry: Entry, args: Args, size: int, reference: Any, cfg: Config) -> Row:
    """Prepare, call once and check, then time; every failure becomes a row, not an exception."""
    row, thunk = prepare(entry, args, size, reference)
    if thunk is None:
        return row
    try:
        timing = measure(thunk, cfg, row.first_call_s or 0.0)
    except Exception as e:
        row.status, row.note = "n/a", reason(e)
        return row
    row.median_s, row.min_s, row.samples, row.number = (
        timing.median_s,
        timing.min_s,
        timing.samples,
        timing.number,
    )
    if row.samples < cfg.repeats:
        row.note = f"{row.samples} of {cfg.repeats} samples: time budget"
    return row
