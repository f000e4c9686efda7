"""Checkpointing's memory/time trade-off: the damped pendulum's gradient (explicit Euler,
``--steps`` steps, LLVM backend) with every step taped and with Revolve at several snapshot
counts, each configuration in a fresh process, peak RSS above the process's baseline.

    python -m benchmarks.checkpointing [--steps 10000000] [--snapshots 10 30 100 300] [--svg docs/checkpointing.svg]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from .subproc import run_json

CHILD = "checkpointing"


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def child(steps: int, snapshots: int) -> dict:
    """One configuration, measured in this (fresh) process."""
    import adcompiler as ad

    from .problems.pendulum import pendulum

    policy = None if snapshots == 0 else ad.Revolve(snapshots)
    g = ad.grad(pendulum, wrt=(0, 1), backend="llvm", checkpoint=policy)
    g(0.3, 1.2, 10)  # compile (and warm up) on a short run
    baseline = _peak_rss_bytes()
    start = time.perf_counter()
    grads = g(0.3, 1.2, steps)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_bytes": _peak_rss_bytes() - baseline, "grad": list(grads)}


def _forward_seconds(steps: int) -> float:
    import adcompiler as ad

    from .problems.pendulum import pendulum

    f = ad.jit(pendulum)
    f(0.3, 1.2, 10)
    start = time.perf_counter()
    f(0.3, 1.2, steps)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=10_000_000)
    parser.add_argument("--snapshots", type=int, nargs="*", default=[10, 30, 100, 300])
    parser.add_argument("--svg", help="write the trade-off plot here")
    parser.add_argument("--child", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0

    from adcompiler.ad.checkpoint import optimal_advances

    forward = _forward_seconds(args.steps)
    rows = []
    for snapshots in [0, *args.snapshots]:
        result = run_json(CHILD, ["--child", str(args.steps), str(snapshots)], timeout_s=1800)
        if "error" in result:
            print(f"snapshots={snapshots}: {result['error']}", file=sys.stderr)
            continue
        predicted = 2.0 if snapshots == 0 else 2.0 + optimal_advances(args.steps, snapshots) / args.steps
        rows.append((snapshots, result, predicted))
    stored = rows[0][1] if rows and rows[0][0] == 0 else None
    print(
        f"damped pendulum, {args.steps:,} explicit Euler steps, gradient w.r.t. (damping, length), LLVM backend"
    )
    print(f"the function itself: {forward * 1e3:.1f} ms")
    print(
        f"{'schedule':<16}{'peak memory':>14}{'of taped':>10}{'time':>11}{'x f':>7}{'forward sweeps':>16}{'same grad':>11}"
    )
    for snapshots, result, predicted in rows:
        name = "tape every step" if snapshots == 0 else f"Revolve({snapshots})"
        share = (
            f"{result['peak_bytes'] / stored['peak_bytes']:.1%}" if stored and stored["peak_bytes"] else "-"
        )
        same = "yes" if stored and result["grad"] == stored["grad"] else "no"
        print(
            f"{name:<16}{result['peak_bytes'] / 1e6:>11.1f} MB{share:>10}{result['seconds'] * 1e3:>8.0f} ms"
            f"{result['seconds'] / forward:>7.1f}{predicted:>16.2f}{same:>11}"
        )
    if args.svg and rows:
        _plot(args.svg, rows)
    return 0


def _plot(path: str, rows: list) -> None:
    """A small SVG: peak memory against time, one point per schedule (no plotting library)."""
    width, height, pad = 520, 320, 60
    xs = [r[1]["seconds"] for r in rows]
    ys = [max(r[1]["peak_bytes"], 1) / 1e6 for r in rows]
    x_max, y_max = max(xs) * 1.1, max(ys) * 1.1

    def px(x: float) -> float:
        return pad + (width - 2 * pad) * x / x_max

    def py(y: float) -> float:
        return height - pad - (height - 2 * pad) * y / y_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
        f'<text x="{width / 2}" y="{height - 20}" text-anchor="middle">gradient time (s)</text>',
        f'<text x="15" y="{height / 2}" transform="rotate(-90 15 {height / 2})" text-anchor="middle">peak memory (MB)</text>',
    ]
    for (snapshots, _, _), x, y in zip(rows, xs, ys):
        label = "taped" if snapshots == 0 else f"k={snapshots}"
        parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="steelblue"/>')
        parts.append(f'<text x="{px(x) + 6:.1f}" y="{py(y) - 6:.1f}">{label}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    sys.exit(main())
