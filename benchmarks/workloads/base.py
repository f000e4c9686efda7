"""What a workload is: the user's function, its data, a hand-written gradient, and peers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Args = tuple[Any, ...]
Thunk = Callable[[], object]
"""A zero-argument call to time (the arguments are bound in advance, as with ``timeit``)."""
Factory = Callable[[Args], Thunk]
"""Prepares one implementation for given arguments (converts data, compiles) → a thunk."""
Kind = Literal["f", "grad"]


@dataclass(frozen=True)
class Entry:
    """One implementation to time: of the function (``kind="f"``) or of its gradient."""

    name: str
    kind: Kind
    factory: Factory
    max_size: int | None = None
    """Above this size the entry is skipped (``limit_reason`` says why)."""
    limit_reason: str = ""
    requires: str = ""
    """The module it needs; when that is not installed the row says so, without trying."""
    isolate: bool = False
    """Time it in a fresh process (see ``benchmarks/isolated.py``): JAX's and PyTorch's thread
    pools would slow down every entry timed after them."""


Cores = Literal["", "1", "all"]


@dataclass(frozen=True)
class Pair:
    """Two entries timed in one process with alternating samples (``benchmarks/paired.py``).

    Timed apart, in separate processes minutes apart, two entries see different loads on a
    shared machine, and their ratio moves by up to 1.5x between runs. Alternated samples see
    the same load, so the ratio of each pair of samples is steady even when the times are not.
    """

    ours: str
    peer: str
    target: float
    """The ratio ``ours / peer`` we hold ourselves to (at most)."""
    cores: Cores = ""
    """Where both run: ``""`` as the run is configured (its environment, e.g.
    ``OPENBLAS_NUM_THREADS=1``); ``"1"`` pinned to one CPU, so that every library runs on one
    thread (OpenBLAS, XLA and ours size their thread pools by the CPUs a process may use);
    ``"all"`` on every CPU the run may use, each library with its default threads (thread-count
    variables such as ``OPENBLAS_NUM_THREADS`` removed), as a user would run them."""


@dataclass(frozen=True)
class Workload:
    """A benchmark problem. ``hand_grad`` returns one array/float per ``wrt`` position."""

    name: str
    summary: str
    primal: Callable[..., Any]
    wrt: tuple[int, ...]
    make_args: Callable[[int], Args]
    size: int
    quick_size: int
    size_label: str
    hand_grad: Callable[..., tuple[Any, ...]]
    peers: tuple[Entry, ...] = ()
    pairs: tuple[Pair, ...] = ()

    @property
    def wrt_arg(self) -> int | tuple[int, ...]:
        """``wrt`` as adcompiler takes it: an int for one input, else a tuple."""
        return self.wrt[0] if len(self.wrt) == 1 else self.wrt


def bind(fn: Callable[..., object]) -> Factory:
    """The factory that calls ``fn`` on the arguments unchanged."""
    return lambda args: lambda: fn(*args)
