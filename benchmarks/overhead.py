"""The overhead of one call: a function of two floats that does almost nothing, called through
each way of running it (and its gradient), in nanoseconds per call.

    python -m benchmarks.overhead [--repeats 7]

Plain Python is the floor; Numba's ``njit`` and JAX's ``jit`` (when installed) are the peers.
The rows of ours show what dispatch on the argument types, the ctypes call and boxing the
result cost.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .timing import Config, measure


def entries() -> list[tuple[str, Callable[..., Any], Callable[..., Any]]]:
    """(name, function, its reference) for every way of running ``tiny`` that imports here."""
    import adcompiler as ad

    from . import peers
    from .problems.tiny import tiny

    def dtiny(x: float, y: float) -> tuple[float, float]:
        return y, x

    rows: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
        ("python", tiny, tiny),
        ("ad.jit [llvm]", ad.jit(tiny), tiny),
        ("ad.grad [python]", ad.grad(tiny, wrt=(0, 1)), dtiny),
        ("ad.grad [llvm]", ad.grad(tiny, wrt=(0, 1), backend="llvm"), dtiny),
    ]
    try:
        rows.append(("numba njit", peers.njit(tiny), tiny))
    except ImportError:
        pass
    try:
        jx, _, _ = peers.jax()
        rows.append(("jax jit", jx.jit(tiny), tiny))
        rows.append(("jax jit(grad)", jx.jit(jx.grad(tiny, argnums=(0, 1))), dtiny))
    except ImportError:
        pass
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    x, y = 1.5, -0.25
    print(f"{'entry':<18} {'per call':>10}  {'x python':>8}")
    floor = None
    for name, fn, reference in entries():
        got, want = fn(x, y), reference(x, y)  # compiles, and checks it computes the same
        if tuple(map(float, got if isinstance(got, tuple) else (got,))) != tuple(
            map(float, want if isinstance(want, tuple) else (want,))
        ):
            print(f"{name:<18} {'WRONG':>10}")
            continue
        seconds = measure(lambda: fn(x, y), Config(repeats=args.repeats, budget_s=2.0)).median_s  # noqa: B023
        floor = floor or seconds
        print(f"{name:<18} {seconds * 1e9:>7.0f} ns  {seconds / floor:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
