"""timeit-style timing: warm-up, auto-ranged loop count, median over repeats, a time budget."""

from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import dataclass
from typing import Protocol

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
    pairs: int = 21
    """Pairs of alternated samples for a paired ratio (fewer within ``budget_s``)."""


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
    number = _number(single, cfg)
    repeats = max(1, min(cfg.repeats, int(cfg.budget_s / (number * single))))
    samples = [_sample(thunk, number) for _ in range(repeats)]
    return Timing(statistics.median(samples), min(samples), len(samples), number)


@dataclass(frozen=True)
class PairedTiming:
    ratios: list[float]
    """``a / b`` per pair of samples, in the order taken."""

    def quantile(self, q: float) -> float:
        """The ``q``-quantile of the ratios (linear interpolation; 0.5 is the median)."""
        ordered = sorted(self.ratios)
        pos = q * (len(ordered) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class Sampler(Protocol):
    """What a paired measurement needs of one entry, wherever it runs."""

    def once(self) -> float:
        """Seconds of one call."""

    def sample(self, number: int) -> float:
        """Seconds per call over ``number`` calls."""


@dataclass(frozen=True)
class Local:
    """A :class:`Sampler` of a thunk of this process."""

    thunk: Thunk

    def once(self) -> float:
        return _once(self.thunk)

    def sample(self, number: int) -> float:
        return _sample(self.thunk, number)


def measure_paired(a: Sampler, b: Sampler, cfg: Config) -> PairedTiming:
    """Ratios of per-call times of ``a`` and ``b`` (both already called once), samples alternated.

    Each pair takes a sample of ``a`` and then one of ``b``, the order swapped every other pair
    so that neither always runs in the other's wake.
    """
    single_a, single_b = a.once(), b.once()
    number_a, number_b = _number(single_a, cfg), _number(single_b, cfg)
    per_pair = number_a * single_a + number_b * single_b
    pairs = max(3, min(cfg.pairs, int(cfg.budget_s / per_pair)))
    ratios = []
    for k in range(pairs):
        if k % 2:
            t_b = b.sample(number_b)
            t_a = a.sample(number_a)
        else:
            t_a = a.sample(number_a)
            t_b = b.sample(number_b)
        ratios.append(t_a / t_b)
    return PairedTiming(ratios)


def _number(single_s: float, cfg: Config) -> int:
    """Calls per sample, so that one sample lasts at least ``cfg.min_sample_s``."""
    return max(1, math.ceil(cfg.min_sample_s / max(single_s, 1e-9)))


def _sample(thunk: Thunk, number: int) -> float:
    """Seconds per call over ``number`` calls, with the garbage collector off."""
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            thunk()
        return (time.perf_counter() - t0) / number
    finally:
        if gc_was_enabled:
            gc.enable()
