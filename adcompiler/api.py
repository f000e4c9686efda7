"""The public API (DESIGN.md): every transformation, in one place.

Each returns a :class:`~adcompiler.transforms.Transformed` function: call it, read its
``.source`` and ``.ir``, or transform it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ADError, NotDifferentiableError
from .transforms import (
    Derivative,
    ForwardDerivative,
    Options,
    ReverseJacobian,
    Transformed,
    WrtSpec,
    as_transformed,
)

_MODES = ("reverse", "forward")


def _mode(mode: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    return mode


def _reverse_or_forward(
    kind: str, f: Callable, wrt: WrtSpec, mode: str, backend: str, options: Options
) -> Transformed:
    if _mode(mode) == "forward":
        if options.has_aux or options.intermediates:
            raise ADError("has_aux and intermediates are available in reverse mode (mode='reverse')")
        return ForwardDerivative(as_transformed(f), kind, wrt, backend, options)
    return Derivative(as_transformed(f), kind, wrt, backend, options)


def grad(
    f: Callable | None = None,
    wrt: WrtSpec = 0,
    *,
    mode: str = "reverse",
    backend: str = "python",
    checkpoint: Any = "auto",
    debug: bool = False,
    has_aux: bool = False,
    intermediates: tuple[str, ...] = (),
) -> Any:
    """The gradient of a scalar function with respect to ``wrt`` (an int, a name or a tuple).

    ``has_aux=True``: ``f`` returns ``(loss, aux)`` and the gradient comes back as ``(grad, aux)``.
    ``intermediates=("h",)``: also return ``{"h": adjoint of h}`` (what ``retain_grad`` gives).
    ``debug=True``: raise :class:`NumericError` at the first NaN/inf, naming the op and line.
    """
    options = Options(checkpoint, debug, has_aux, tuple(intermediates))
    if f is None:  # @grad(wrt=...)
        return lambda g: _reverse_or_forward("grad", g, wrt, mode, backend, options)
    return _reverse_or_forward("grad", f, wrt, mode, backend, options)


def value_and_grad(
    f: Callable,
    wrt: WrtSpec = 0,
    *,
    mode: str = "reverse",
    backend: str = "python",
    checkpoint: Any = "auto",
    debug: bool = False,
    has_aux: bool = False,
    intermediates: tuple[str, ...] = (),
) -> Transformed:
    """``(f(*args), grad(f)(*args))``, computed together (``((loss, aux), grad)`` with has_aux)."""
    options = Options(checkpoint, debug, has_aux, tuple(intermediates))
    return _reverse_or_forward("value_and_grad", f, wrt, mode, backend, options)


def vjp(
    f: Callable, wrt: WrtSpec = 0, *, backend: str = "python", checkpoint: Any = "auto", debug: bool = False
) -> Transformed:
    """``g(*args, cotangent)``: the cotangent of ``f``'s output pulled back to ``wrt``."""
    return Derivative(as_transformed(f), "vjp", wrt, backend, Options(checkpoint, debug))


def jvp(f: Callable, wrt: WrtSpec = 0, *, backend: str = "python", debug: bool = False) -> Transformed:
    """``g(*args, tangent) -> (f(*args), directional derivative)``; a tuple of tangents for a
    tuple ``wrt``."""
    return ForwardDerivative(as_transformed(f), "jvp", wrt, backend, Options(debug=debug))


def jacobian(
    f: Callable, wrt: WrtSpec = 0, *, mode: str = "reverse", backend: str = "python", debug: bool = False
) -> Transformed:
    """The Jacobian, shaped ``out.shape + in.shape``. Forward mode pushes one tangent per input
    entry (cheaper when inputs are few), reverse mode one cotangent per output entry."""
    if _mode(mode) == "forward":
        return ForwardDerivative(as_transformed(f), "jacobian", wrt, backend, Options(debug=debug))
    return ReverseJacobian(as_transformed(f), wrt, backend)


def hessian(f: Callable, wrt: int | str = 0, *, backend: str = "python", debug: bool = False) -> Transformed:
    """The Hessian of a scalar function: forward mode over reverse mode."""
    if isinstance(wrt, (tuple, list)):
        raise NotDifferentiableError("hessian takes one wrt argument; use jacobian(grad(f, wrt=(...)))")
    inner = Derivative(as_transformed(f), "grad", wrt, "python", Options(debug=debug))
    return ForwardDerivative(inner, "jacobian", wrt, backend, Options(debug=debug))


def set_num_threads(count: int) -> None:
    """How many threads a large whole-array loop of compiled code may use, from now on (code
    compiled without ``jit(f, threads=N)``, already compiled code included), as Numba's
    ``set_num_threads``. The default: the CPUs the process may use, or
    ``$ADCOMPILER_NUM_THREADS``."""
    from .backends.llvm import threads

    threads.set_num_threads(_thread_count(count))


def _thread_count(count: object) -> int:
    """``count`` if it is a positive integer (a bool is not), else ValueError."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"the number of threads must be a positive integer, not {count!r}")
    return count


def get_num_threads() -> int:
    """How many threads a large whole-array loop of compiled code may use (``set_num_threads``)."""
    from .backends.llvm import threads

    return threads.num_threads()


def wait_for_compiles() -> None:
    """Wait until code compiled in the background is in use. A function compiled without
    ``jit(f, threads=N)`` first runs its loops serially; the first call that runs a large
    loop has the code for threads compiled on a thread of its own, which later calls use
    once it is done. Call this before timing such code."""
    from .backends.llvm import compiled

    compiled.wait_for_compiles()


def jit(
    f: Callable | Transformed,
    *,
    fastmath: bool = False,
    boundscheck: bool = True,
    threads: int | None = None,
    tiered: bool = True,
) -> Transformed:
    """``f`` compiled to machine code through LLVM; ``jit(grad(f))`` compiles the gradient.

    ``fastmath=True`` lets LLVM reassociate and contract float arithmetic (results may differ
    from Python's in the last bits; NaN and inf are assumed away); ``boundscheck=False``
    drops the index checks (an index out of bounds then reads or writes stray memory).
    ``threads``: how many threads a large whole-array loop may run on (its elements split
    between them; the results are the same to the bit). By default as many as the CPUs the
    process may use, or ``$ADCOMPILER_NUM_THREADS``, and that code is compiled only once a
    call finds a loop large, in the background (see :func:`wait_for_compiles`);
    ``threads=N`` compiles it at once, and ``threads=1`` compiles serial code.

    ``tiered``: a first call runs code compiled quickly (LLVM without vectorising loops) while
    the optimised code compiles in the background; ``tiered=False`` compiles the optimised
    code before the first call runs, for a first call that runs long.
    """
    if threads is not None:
        _thread_count(threads)
    if not isinstance(tiered, bool):
        raise ValueError(f"tiered must be True or False, not {tiered!r}")
    options: dict[str, Any] = {"fastmath": fastmath, "boundscheck": boundscheck, "tiered": tiered}
    if threads is not None:  # as before when not given: the same warm cache keys
        options["threads"] = threads
    return as_transformed(f).with_backend("llvm", **options)


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
