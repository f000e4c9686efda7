"""The LLVM backend: typed IR -> machine code, called like the Python function.

    compiled = compile_function(fn, fastmath=False, boundscheck=True)
    compiled(x, n, arr)          # Python floats/ints/bools and NumPy arrays in and out
    compiled.llvm_ir             # the optimised LLVM IR
    compiled.asm                 # the machine code, as assembly
    live_allocations()           # arrays and tapes compiled code allocated and nobody freed yet

Modules: ``types`` (IR types as LLVM values), ``analysis`` (fusion and array lifetimes),
``lower`` (the op table and the function), ``scalar`` / ``elementwise`` / ``reductions`` /
``arrays`` / ``scatter`` / ``control`` / ``tape`` (the op rules), ``blas`` (matrix products
through BLAS), ``runtime`` (allocation, reference counts),
``wrapper`` (calling convention) and ``jit`` (optimisation, machine code, cache).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from llvmlite import ir

from ...errors import NumericError
from ...ir.core import Function
from . import jit
from .lower import LOWERINGS, Lowerer, Pattern, pattern_of
from .runtime import live_allocations
from .types import has_arrays
from .wrapper import build_entry, make_caller

#: exceptions the compiled code raises, by name (the cache stores names)
_EXCEPTIONS = {
    e.__name__: e
    for e in (IndexError, ZeroDivisionError, ValueError, AssertionError, MemoryError, NumericError)
}


class CompiledFunction:
    """A compiled IR function; call it like the original.

    The machine code is specialised to which axes of the array arguments have length 1
    (:func:`~.lower.pattern_of`): broadcasting is then decided at compile time, so the
    loops carry no zero-stride selects and the adjoints of broadcasts no run-time versions.
    Calls with another pattern (a column vector where there was a matrix, say) compile
    their own code, once.
    """

    def __init__(self, fn: Function, options: dict[str, bool], args: Sequence[Any] | None) -> None:
        self.__name__ = fn.name
        self._fn, self._options = fn, options
        self._pattern = pattern_of([p.type for p in fn.params])
        #: per pattern: the machine code (kept alive as long as its caller) and the caller
        self._code: dict[Pattern, tuple[jit.Machine, Callable[..., Any]]] = {}
        self._last: Pattern = self._pattern(args) if args is not None else ()
        self._call = self._specialise(self._last)
        self._only_scalars = not any(has_arrays(p.type) for p in fn.params)

    def _specialise(self, pattern: Pattern) -> Callable[..., Any]:
        machine, errors = _machine_code(self._fn, pattern, **self._options)
        call = make_caller(self._fn, machine.address("adc_entry"), errors)
        self._code[pattern] = (machine, call)
        return call

    def __call__(self, *args: Any) -> Any:
        if self._only_scalars:  # one specialisation: no pattern to look for
            return self._call(*args)
        pattern = self._pattern(args)
        code = self._code.get(pattern)
        call = code[1] if code is not None else self._specialise(pattern)
        self._last = pattern
        return call(*args)

    @property
    def llvm_ir(self) -> str:
        """The optimised LLVM IR of the code the last call ran."""
        return self._code[self._last][0].llvm_ir

    @property
    def asm(self) -> str:
        return self._code[self._last][0].asm


def compile_function(
    fn: Function,
    *,
    fastmath: bool = False,
    boundscheck: bool = True,
    cache: bool = True,
    args: Sequence[Any] | None = None,
) -> CompiledFunction:
    """Compile a typed IR function (raises ADTypeError naming what the backend cannot handle),
    specialised first to ``args`` (sample arguments) or else to arrays with no axis of length 1."""
    return CompiledFunction(fn, {"fastmath": fastmath, "boundscheck": boundscheck, "cache": cache}, args)


def _machine_code(
    fn: Function, pattern: Pattern, *, fastmath: bool, boundscheck: bool, cache: bool
) -> tuple[jit.Machine, list[tuple[type[BaseException], str]]]:
    """The machine code of ``fn`` for one pattern: from the on-disk cache, else from LLVM."""
    key = _key(fn, fastmath, boundscheck) + f"\npattern={pattern}"
    hit = jit.cache_load(key) if cache else None
    if hit is not None:
        machine, meta = hit
        return machine, [(_EXCEPTIONS[name], message) for name, message in meta["errors"]]
    module = ir.Module(name=fn.name)
    lowerer = Lowerer(fn, module, fastmath=fastmath, boundscheck=boundscheck, ones=pattern)
    core = lowerer.build()
    errors = lowerer.errors
    build_entry(fn, module, core, errors)
    machine, obj = jit.compile_module(str(module))
    if cache:
        jit.cache_store(key, machine, obj, {"errors": [(e.__name__, m) for e, m in errors]})
    return machine, errors


def _key(fn: Function, fastmath: bool, boundscheck: bool) -> str:
    """The printed IR, plus what printing leaves out: source positions and array constants."""
    parts = [str(fn), f"fastmath={fastmath} boundscheck={boundscheck}"]
    for op in fn.walk():
        parts.append(str(op.loc))
        value = op.attrs.get("value")
        if isinstance(value, np.ndarray):
            parts.append(
                value.dtype.str
                + str(value.shape)
                + hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
            )
    return "\n".join(parts)


__all__ = ["CompiledFunction", "LOWERINGS", "compile_function", "live_allocations"]
