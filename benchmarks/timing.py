"""timeit-style timing: warm-up, auto-ranged loop count, median over repeats, a time budget."""

from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import dataclass

from benchmarks.workloads.base import Thunk


@dataclass(frozen=True)
class Config:
    repeats: int = 7
    """Samples per entry (fewer when one call is slow, see ``budget_s``)."""
    min_sample_s: float = 0.05
    """Fast calls are looped until one sample takes at least this long."""
    budget_s: float = 15.0
    """Rough cap on the time spent sampling one entry."""
    first_call_as_sample_s: float = 30.0
    """A first call slower than this is the only sample (JIT compilation takes less)."""


@dataclass(frozen=True)
class Timing:
    median_s: float
    min_s: float
    samples: int
    number: int
    """Calls per sample."""


def _once(thunk: Thunk) -> float:
    t0 = time.perf_counter()
    thunk()
    return time.perf_counter() - t0


def measure(thunk: Thunk, cfg: Config, first_call_s: float = 0.0) -> Timing:
    """Time ``thunk`` (already called once, so compiled): per-call median over samples.

    A call slower than the whole budget is timed once. A first call (``first_call_s``) slower
    than ``cfg.first_call_as_sample_s`` is taken as that one sample, rather than repeated.
    """
    if first_call_s >= max(cfg.budget_s, cfg.first_call_as_sample_s):
        return Timing(first_call_s, first_call_s, 1, 1)
    single = _once(thunk)  # warm-up, and an estimate of one call
    if single >= cfg.budget_s:
        return Timing(single, single, 1, 1)
    number = max(1, math.ceil(cfg.min_sample_s / max(single, 1e-9)))
    repeats = max(1, min(cfg.repeats, int(cfg.budget_s / (number * single))))
    samples = []
    gc_was_enabled = gc.isenabled()
    try:
        for _ in range(repeats):
            gc.collect()
            gc.disable()
            t0 = time.perf_counter()
            for _ in range(number):
                thunk()
            samples.append((time.perf_counter() - t0) / number)
            if gc_was_enabled:
                gc.enable()
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(statistics.median(samples), min(samples), len(samples), number)
