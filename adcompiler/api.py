"""The public API (DESIGN.md): every transformation, in one place.

Each returns a :class:`~adcompiler.derivatives.Transformed` function: call it, read its
``.source`` and ``.ir``, or transform it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .derivatives import (
    Derivative,
    ForwardDerivative,
    Primal,
    ReverseJacobian,
    Transformed,
    WrtSpec,
    as_transformed,
)
from .errors import ADError, NotDifferentiableError

_MODES = ("reverse", "forward")


def _mode(mode: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    return mode


def grad(
    f: Callable | None = None,
    wrt: WrtSpec = 0,
    *,
    mode: str = "reverse",
    backend: str = "python",
    checkpoint: Any = "auto",
) -> Any:
    """The gradient of a scalar function with respect to ``wrt`` (an int, a name or a tuple)."""
    if f is None:  # @grad(wrt=...)
        return lambda g: grad(g, wrt, mode=mode, backend=backend, checkpoint=checkpoint)
    if _mode(mode) == "forward":
        return ForwardDerivative(as_transformed(f), "grad", wrt, backend)
    return Derivative(as_transformed(f), "grad", wrt, backend, checkpoint)


def value_and_grad(
    f: Callable, wrt: WrtSpec = 0, *, mode: str = "reverse", backend: str = "python", checkpoint: Any = "auto"
) -> Transformed:
    """``(f(*args), grad(f)(*args))``, computed together."""
    if _mode(mode) == "forward":
        return ForwardDerivative(as_transformed(f), "value_and_grad", wrt, backend)
    return Derivative(as_transformed(f), "value_and_grad", wrt, backend, checkpoint)


def vjp(f: Callable, wrt: WrtSpec = 0, *, backend: str = "python", checkpoint: Any = "auto") -> Transformed:
    """``g(*args, cotangent)``: the cotangent of ``f``'s output pulled back to ``wrt``."""
    return Derivative(as_transformed(f), "vjp", wrt, backend, checkpoint)


def jvp(f: Callable, wrt: WrtSpec = 0, *, backend: str = "python") -> Transformed:
    """``g(*args, tangent) -> (f(*args), directional derivative)``; a tuple of tangents for a
    tuple ``wrt``."""
    return ForwardDerivative(as_transformed(f), "jvp", wrt, backend)


def jacobian(f: Callable, wrt: WrtSpec = 0, *, mode: str = "reverse", backend: str = "python") -> Transformed:
    """The Jacobian, shaped ``out.shape + in.shape``. Forward mode pushes one tangent per input
    entry (cheaper when inputs are few), reverse mode one cotangent per output entry."""
    if _mode(mode) == "forward":
        return ForwardDerivative(as_transformed(f), "jacobian", wrt, backend)
    return ReverseJacobian(as_transformed(f), wrt, backend)


def hessian(f: Callable, wrt: int | str = 0, *, backend: str = "python") -> Transformed:
    """The Hessian of a scalar function: forward mode over reverse mode."""
    if isinstance(wrt, (tuple, list)):
        raise NotDifferentiableError("hessian takes one wrt argument; use jacobian(grad(f, wrt=(...)))")
    return ForwardDerivative(Derivative(as_transformed(f), "grad", wrt, "python"), "jacobian", wrt, backend)


def jit(f: Callable | Transformed) -> Transformed:
    """``f`` compiled to machine code through LLVM; ``jit(grad(f))`` compiles the gradient."""
    if isinstance(f, Transformed):
        return f.with_backend("llvm")
    return Primal(f, backend="llvm")


def stop_gradient(x: Any) -> Any:
    """Inside differentiated code: ``x`` as a constant (no derivative flows through it)."""
    return x


def checkpoint(fn: Callable) -> Callable:
    """Inside differentiated code, ``checkpoint(g)(...)`` recomputes ``g``'s body in the reverse
    sweep instead of storing its intermediates. Called directly, it is ``g``."""
    return fn


__all__ = [
    "ADError",
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "jacobian",
    "hessian",
    "jit",
    "stop_gradient",
    "checkpoint",
]
