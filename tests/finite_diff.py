"""Finite-difference gradients and a gradient comparison that explains its failures.

``numerical_grad(f, args, wrt)`` differentiates a scalar-valued ``f`` with central
differences with respect to one argument (``wrt=1``) or several (``wrt=(0, 2)``); each
argument is a float or a float array of any shape, and its gradient has the same shape.
The step is chosen per entry: ``h = rel_step * max(1, |x|)``, with ``rel_step`` near the
optimum for the stencil (``eps**(1/3)`` for the 2nd-order stencil, ``eps**(1/5)`` for
the 4th-order one), and rounded so that ``x + h`` is exactly representable.

``numerical_jacobian(g, args, wrt)`` does the same for a float- or array-valued ``g``
(shape ``out.shape + in.shape``: the Hessian, as differences of a gradient), and
``numerical_jvp(f, args, wrt, tangent)`` differentiates ``f`` along one direction.

``assert_grad_close(got, expected, rtol, atol)`` compares (nested tuples of) scalars and
arrays; on failure it names the worst entry, its index, both values and the relative
error.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

EPS = float(np.finfo(np.float64).eps)

#: Stencils: offsets (in steps) and weights (divided by the step).
_STENCILS: dict[int, tuple[tuple[float, ...], tuple[float, ...]]] = {
    2: ((1.0, -1.0), (0.5, -0.5)),
    4: ((2.0, 1.0, -1.0, -2.0), (-1 / 12, 8 / 12, -8 / 12, 1 / 12)),
}


def default_step(order: int) -> float:
    """The relative step that balances truncation and rounding error for ``order``."""
    return EPS ** (1.0 / (order + 1))


def numerical_grad(
    f: Callable[..., Any],
    args: Sequence[Any],
    wrt: int | Sequence[int] = 0,
    *,
    order: int = 2,
    rel_step: float | None = None,
) -> Any:
    """Central-difference gradient of scalar ``f(*args)`` w.r.t. ``args[wrt]``.

    ``wrt`` is an index or a sequence of indices; a sequence gives a tuple of gradients.
    A float argument gives a float, an array argument an array of the same shape.
    ``f`` is always called on fresh copies of ``args``.
    """
    if not isinstance(wrt, int):
        return tuple(numerical_grad(f, args, i, order=order, rel_step=rel_step) for i in wrt)
    return numerical_jacobian(lambda *a: float(f(*a)), args, wrt, order=order, rel_step=rel_step)


def numerical_jacobian(
    g: Callable[..., Any],
    args: Sequence[Any],
    wrt: int,
    *,
    order: int = 2,
    rel_step: float | None = None,
) -> Any:
    """Central-difference Jacobian of ``g(*args)`` (a float or an array) w.r.t. ``args[wrt]``.

    Shaped ``out.shape + in.shape``; a float when both are scalars. The step is chosen per
    input entry, as in :func:`numerical_grad`.
    """
    offsets, weights = _stencil(order)
    rel = default_step(order) if rel_step is None else rel_step
    x0 = args[wrt]
    is_scalar = not isinstance(x0, np.ndarray)
    base = np.array(x0, dtype=np.float64)

    def at(x: np.ndarray) -> np.ndarray:
        call_args = [copy.deepcopy(a) for a in args]
        call_args[wrt] = float(x) if is_scalar else x
        return np.array(g(*call_args), dtype=np.float64)

    columns = []
    for idx in np.ndindex(base.shape):
        xi = float(base[idx])
        h = rel * max(1.0, abs(xi))
        h = (xi + h) - xi  # exactly representable step
        total: Any = 0.0
        for off, w in zip(offsets, weights, strict=True):
            x = base.copy()
            x[idx] = xi + off * h
            total = total + w * at(x)
        columns.append(total / h)
    # Stacked columns are in.shape + out.shape: move the input axes last.
    stacked = np.array(columns).reshape(base.shape + columns[0].shape)
    jac = np.moveaxis(stacked, range(base.ndim), range(-base.ndim, 0))
    return float(jac) if jac.ndim == 0 else jac


def numerical_jvp(
    f: Callable[..., Any],
    args: Sequence[Any],
    wrt: Sequence[int],
    tangents: Sequence[Any],
    *,
    order: int = 2,
    rel_step: float | None = None,
) -> float:
    """Central-difference derivative of scalar ``f`` along ``tangents`` (one per ``wrt``).

    The derivative at ``t = 0`` of ``f`` with ``args[wrt[k]] + t * tangents[k]``. The step
    is ``rel_step * max(1, |x|)`` over all entries of the ``wrt`` arguments, divided by the
    largest |tangent| entry: no entry moves further than :func:`numerical_grad` moves it.
    """
    offsets, weights = _stencil(order)
    rel = default_step(order) if rel_step is None else rel_step
    bases = [np.array(args[i], dtype=np.float64) for i in wrt]
    dirs = [np.array(t, dtype=np.float64) for t in tangents]
    x_max = max((float(np.max(np.abs(b))) for b in bases if b.size), default=0.0)
    v_max = max((float(np.max(np.abs(d))) for d in dirs if d.size), default=0.0)
    if v_max == 0.0:
        return 0.0
    h = rel * max(1.0, x_max) / v_max

    def at(t: float) -> float:
        call_args = [copy.deepcopy(a) for a in args]
        for i, b, d in zip(wrt, bases, dirs, strict=True):
            x = b + t * d
            call_args[i] = x if isinstance(args[i], np.ndarray) else float(x)
        return float(f(*call_args))

    return sum(w * at(off * h) for off, w in zip(offsets, weights, strict=True)) / h


def _stencil(order: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if order not in _STENCILS:
        raise ValueError(f"order must be one of {sorted(_STENCILS)}")
    return _STENCILS[order]


def assert_grad_close(
    got: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-8, *, context: str = ""
) -> None:
    """Assert ``|got - expected| <= atol + rtol * |expected|`` entrywise.

    ``got`` and ``expected`` are floats, arrays, or (nested) tuples of them, with the same
    structure and shapes. The failure message names the worst entry (by how far it is
    outside the tolerance), its index, both values and the relative error, followed by
    ``context`` (e.g. the program's seed and source).
    """
    problems = _compare(got, expected, rtol, atol, path="")
    if problems:
        message = "gradient mismatch: " + problems
        if context:
            message += "\n\n" + context
        raise AssertionError(message)


def _compare(got: Any, expected: Any, rtol: float, atol: float, path: str) -> str:
    if isinstance(expected, tuple):
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            return f"{path or 'result'}: expected a tuple of {len(expected)}, got {_kind(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            problem = _compare(g, e, rtol, atol, f"{path}[{i}]")
            if problem:
                return problem
        return ""
    where = path or "gradient"
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{where}: expected numbers, got {_kind(got)}"
    e = np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape:
        return f"{where}: shape {g.shape} != expected shape {e.shape}"
    if not np.all(np.isfinite(g)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0]) if g.ndim else ()
        return f"{where}: non-finite entry at index {bad}: got {g[bad]!r}, expected {e[bad]!r}"
    err = np.abs(g - e)
    excess = err - (atol + rtol * np.abs(e))
    if not np.any(excess > 0):
        return ""
    worst = np.unravel_index(int(np.argmax(excess)), g.shape) if g.ndim else ()
    gv, ev = float(g[worst]), float(e[worst])
    rel = abs(gv - ev) / abs(ev) if ev != 0 else float("inf")
    n_bad = int(np.sum(excess > 0))
    return (
        f"{where}: {n_bad} of {max(g.size, 1)} entries differ; worst at index "
        f"{tuple(int(i) for i in worst)}: got {gv!r}, expected {ev!r}, "
        f"abs err {abs(gv - ev):.3g}, rel err {rel:.3g} (rtol={rtol:g}, atol={atol:g})"
    )


def _kind(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array{x.shape}"
    return type(x).__name__
