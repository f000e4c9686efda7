"""adcompiler's entries. Any failure becomes an "n/a (reason)" row, never a crash."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from benchmarks.workloads.base import Args, Entry, Thunk, Workload

BACKENDS = ("python", "llvm")


def fresh(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A new function object with the same code, so no cache keyed on the object is hit."""
    assert isinstance(fn, types.FunctionType)
    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__qualname__ = fn.__qualname__
    new.__module__ = fn.__module__
    new.__doc__ = fn.__doc__
    return new


def make_grad(workload: Workload, backend: str) -> Callable[..., Any]:
    """``ad.grad(f, wrt=...)`` for the python backend (the default), else with ``backend=``."""
    import adcompiler as ad

    kwargs: dict[str, Any] = {} if backend == "python" else {"backend": backend}
    return ad.grad(fresh(workload.primal), wrt=workload.wrt_arg, **kwargs)


def _grad_factory(workload: Workload, backend: str) -> Callable[[Args], Thunk]:
    def factory(args: Args) -> Thunk:
        g = make_grad(workload, backend)
        return lambda: g(*args)

    return factory


def _jit_factory(workload: Workload) -> Callable[[Args], Thunk]:
    def factory(args: Args) -> Thunk:
        import adcompiler as ad

        f = ad.jit(fresh(workload.primal))
        return lambda: f(*args)

    return factory


def entries(workload: Workload) -> tuple[Entry, ...]:
    """``ad.jit(f)``, ``ad.grad(f)`` and ``ad.grad(f, backend="llvm")``.

    The LLVM entries run in a fresh process each: machine code that crashes takes down
    that process only, and the row says so.
    """
    return (
        Entry("ad.jit [llvm]", "f", _jit_factory(workload), isolate=True),
        *(
            Entry(f"ad.grad [{b}]", "grad", _grad_factory(workload, b), isolate=b != "python")
            for b in BACKENDS
        ),
    )


def is_ours(name: str) -> bool:
    return name.startswith("ad.")
