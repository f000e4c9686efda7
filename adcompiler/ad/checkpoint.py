"""Checkpointing policies: what the reverse sweep stores and what it recomputes.

The mechanism lives in :mod:`adcompiler.ad.reverse` (tapes) and :mod:`adcompiler.ad.revolve`
(binomial checkpointing); this module only decides, per value (:func:`worth_storing`) and per
loop:

* ``"tape"``: store the loop's carried state at every iteration; the reverse sweep pops it
  and recomputes what it needs of the iteration (cheap elementwise work). Memory grows with
  the trip count.
* ``"revolve"``: keep ``k`` snapshots of the carried state and recompute segments of the
  loop on the binomial schedule of Griewank and Walther (Revolve), which needs the fewest
  recomputed iterations possible for ``k`` snapshots. Memory no longer grows with the trip
  count.

Users choose with ``ad.grad(f, checkpoint=...)``:

* ``None``: tapes;
* ``"auto"`` (the default): tapes while the tapes of the arguments' loops fit
  :data:`AUTO_BUDGET`, estimated at each call from the trip counts the arguments give
  (``g.plan``); beyond it, Revolve with as many snapshots as the budget holds;
* ``ad.Revolve(snapshots=k)``: every loop (innermost loops keep tapes) on a Revolve schedule;
* ``ad.MemoryBudget(bytes)`` or a number of bytes: Revolve with as many snapshots as the
  budget holds, computed at run time from the size of the loop's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

from ..ir.core import Op
from ..ir.types import Tensor

#: ``checkpoint="auto"`` switches from tapes to Revolve above this many bytes of tape
AUTO_BUDGET = 256 * 2**20


@dataclass(frozen=True)
class Revolve:
    """Binomial checkpointing with ``snapshots`` copies of a loop's state (the loop's start
    counts as one)."""

    snapshots: int

    def __post_init__(self) -> None:
        if not isinstance(self.snapshots, int) or self.snapshots < 1:
            raise ValueError(f"Revolve needs at least one snapshot, got {self.snapshots!r}")


@dataclass(frozen=True)
class MemoryBudget:
    """Revolve with as many snapshots as ``bytes`` holds (at least two)."""

    bytes: int

    def __post_init__(self) -> None:
        if self.bytes <= 0:
            raise ValueError(f"a memory budget must be positive, got {self.bytes!r}")


Policy = None | str | Revolve | MemoryBudget | int | float


def normalise(policy: Policy) -> None | Revolve | MemoryBudget:
    """The policy as an object (None means tapes)."""
    if policy is None or policy == "auto":
        return None
    if isinstance(policy, (Revolve, MemoryBudget)):
        return policy
    if isinstance(policy, (int, float)) and not isinstance(policy, bool):
        return MemoryBudget(int(policy))
    raise ValueError(
        f"checkpoint must be None, 'auto', ad.Revolve(snapshots=k), ad.MemoryBudget(bytes) or a number of bytes, "
        f"not {policy!r}"
    )


# ----------------------------------------------------------------------------- store or recompute
# Inside a taped loop the reverse sweep recomputes, from the popped carried state, the values
# of the iteration it needs. That is the cheapest choice for elementwise and indexing work
# (a few flops per element read); what costs more to recompute than to read back is stored
# instead: products of matrices and vectors (O(n^2) work for O(n) values), reductions of whole
# arrays (O(n) work for one value) and calls the compiler cannot see into (custom rules).
_STORED_OPS = frozenset({"dot", "matmul", "outer", "custom_call"})


def worth_storing(op: Op) -> bool:
    """Whether the reverse sweep should pop ``op``'s result rather than recompute it."""
    if op.name in _STORED_OPS:
        return True
    if op.opdef.family == "reduce":
        t = op.operands[0].type
        return isinstance(t, Tensor) and t.rank != 0
    return False


# ----------------------------------------------------------------------------- the schedule
# The schedule reverses ``t`` iterations holding the state at the first one in a snapshot,
# with ``s`` snapshots in all. It splits at ``m``: advance to m, snapshot, reverse [m, t) with
# s - 1 snapshots, then [0, m) with s. Its cost  m + p(t - m, s - 1) + p(m, s)  is convex in m
# (p(x, s), the fewest recomputed iterations, is convex in x, its slope the number of sweeps
# r_s(x): the least r with beta(s, r) >= x, beta(a, b) = C(a + b, a)). The best m is the
# first where the cost stops falling:  1 + r_s(m + 1) >= r_(s-1)(t - m).  Taking the values of
# r_s(m + 1) in turn (k = 1, 2, ...) finds it in a few steps; the tests check the schedule
# against Griewank's bound  p(t, s) = r t - beta(s + 1, r - 1)  and a brute-force search.


def beta(s: int, r: int) -> int:
    return comb(s + r, s)


def split(t: int, free: int) -> int:
    """Where to place the next snapshot when reversing ``t > 1`` iterations with ``free > 0``
    free snapshots (plus the one holding the start)."""
    s = free + 1
    k = 1
    while True:
        lowest = max(beta(s, k - 1), t - beta(s - 1, k + 1), 1)  # m + 1 > beta(s, k - 1)
        if lowest <= min(beta(s, k) - 1, t - 1):
            return lowest
        k += 1


def optimal_advances(t: int, snapshots: int) -> int:
    """Griewank's minimal number of recomputed iterations to reverse ``t`` iterations with
    ``snapshots`` snapshots (the start included)."""
    if t <= 1:
        return 0
    s = snapshots
    r = 0
    while beta(s, r) < t:
        r += 1
    return r * t - beta(s + 1, r - 1) if r else 0


def schedule_advances(t: int, snapshots: int) -> int:
    """The iterations the generated schedule recomputes (the same algorithm, run in Python)."""
    frames = [(0, t, snapshots - 1)] if t > 0 else []
    advances = 0
    while frames:
        start, end, free = frames.pop()
        if end - start == 1:
            continue
        if free == 0:
            advances += end - 1 - start
            frames.append((start, end - 1, 0))
            continue
        m = start + split(end - start, free)
        advances += m - start
        frames.append((start, m, free))
        frames.append((m, end, free - 1))
    return advances
