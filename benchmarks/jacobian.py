"""Jacobians of a map from R^n to R^m in forward and in reverse mode, across n and m.

Forward mode pushes n tangents (one sweep with a batch of n directions); reverse mode pulls
back m cotangents (one reverse sweep per output). Theory: forward wins when n << m, reverse
when m << n.

    python -m benchmarks.jacobian [--repeats 7]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .timing import Config, measure

SHAPES = [(2, 500), (10, 500), (50, 500), (200, 200), (500, 50), (500, 10), (500, 2)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    import adcompiler as ad

    from .problems.jacobian_map import layer

    rng = np.random.default_rng(0)
    print(
        f"{'n (inputs)':>10} {'m (outputs)':>12} {'forward':>11} {'reverse':>11} {'reverse/forward':>16}  faster"
    )
    for n, m in SHAPES:
        x, A, b = rng.normal(size=n), rng.normal(size=(m, n)) / np.sqrt(n), rng.normal(size=m)
        forward = ad.jacobian(layer, mode="forward")
        reverse = ad.jacobian(layer, mode="reverse")
        np.testing.assert_allclose(forward(x, A, b), reverse(x, A, b), rtol=1e-10, atol=1e-12)
        cfg = Config(repeats=args.repeats, budget_s=5.0)
        t_fwd = measure(lambda: forward(x, A, b), cfg).median_s  # noqa: B023 - measured at once
        t_rev = measure(lambda: reverse(x, A, b), cfg).median_s  # noqa: B023
        faster = "forward" if t_fwd < t_rev else "reverse"
        print(
            f"{n:>10} {m:>12} {t_fwd * 1e3:>8.2f} ms {t_rev * 1e3:>8.2f} ms {t_rev / t_fwd:>16.2f}  {faster}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
