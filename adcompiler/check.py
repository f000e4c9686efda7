"""``check_grad``: derivatives compared with central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import ADError

_EPS = np.finfo(float).eps


class GradCheckError(ADError, AssertionError):
    """A derivative disagrees with finite differences."""


def numerical_grad(f: Callable, args: Sequence[Any], k: int) -> np.ndarray | float:
    """Central differences of scalar ``f`` in argument ``k``, a step chosen per entry
    (``eps**(1/3) * max(1, |x|)``, which balances truncation and rounding error)."""
    x = np.array(args[k], dtype=float)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        h = _EPS ** (1 / 3) * max(1.0, abs(float(x[idx])))
        values = []
        for sign in (1.0, -1.0):
            moved = x.copy()
            moved[idx] += sign * h
            call = list(args)
            call[k] = moved if x.ndim else float(moved)
            values.append(float(f(*call)))
        out[idx] = (values[0] - values[1]) / (2 * h)
    return out if x.ndim else float(out)


def check_grad(
    f: Callable,
    *args: Any,
    wrt: int | Sequence[int] = 0,
    modes: Sequence[str] = ("reverse", "forward"),
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> None:
    """Raise :class:`GradCheckError` naming the worst entry if a gradient of ``f`` (in each of
    ``modes``) differs from central finite differences; return None when all agree."""
    from .api import grad

    positions = list(wrt) if isinstance(wrt, (tuple, list)) else [wrt]
    name = getattr(f, "__name__", "f")
    for k in positions:
        expected = np.asarray(numerical_grad(f, args, k))
        for mode in modes:
            got = np.asarray(grad(f, wrt=k, mode=mode)(*args), dtype=float)
            if got.shape != expected.shape:
                raise GradCheckError(
                    f"{mode}-mode gradient of {name} has shape {got.shape}, expected {expected.shape}"
                )
            error = np.abs(got - expected) / (atol + rtol * np.abs(expected))
            if error.size and np.max(error) > 1.0:
                worst = (
                    tuple(int(i) for i in np.unravel_index(np.argmax(error), error.shape))
                    if error.ndim
                    else ()
                )
                g, e = float(got[worst]), float(expected[worst])
                rel = abs(g - e) / max(abs(e), 1e-300)
                raise GradCheckError(
                    f"{mode}-mode gradient of {name} with respect to argument {k} disagrees with finite "
                    f"differences at index {worst if worst else '()'}: got {g!r}, finite differences {e!r} "
                    f"(relative error {rel:.3g})"
                )
