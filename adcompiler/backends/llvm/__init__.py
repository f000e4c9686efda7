"""The LLVM backend: typed IR -> machine code, called like the Python function.

    compiled = compile_function(fn, fastmath=False, boundscheck=True)
    compiled(x, n, arr)          # Python floats/ints/bools and NumPy arrays in and out
    compiled.llvm_ir             # the optimised LLVM IR
    compiled.asm                 # the machine code, as assembly
    live_allocations()           # arrays and tapes compiled code allocated and nobody freed yet

Modules: ``types`` (IR types as LLVM values), ``analysis`` (fusion and array lifetimes),
``lower`` (the op table and the function), ``scalar`` / ``elementwise`` / ``reductions`` /
``arrays`` / ``control`` / ``tape`` (the op rules), ``blas`` (matrix products through
BLAS), ``runtime`` (allocation, reference counts),
``wrapper`` (calling convention) and ``jit`` (optimisation, machine code, cache).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from llvmlite import ir

from ...errors import NumericError
from ...ir.core import Function
from . import jit
from .lower import LOWERINGS, Lowerer
from .runtime import live_allocations
from .wrapper import build_entry, make_caller

#: exceptions the compiled code raises, by name (the cache stores names)
_EXCEPTIONS = {
    e.__name__: e
    for e in (IndexError, ZeroDivisionError, ValueError, AssertionError, MemoryError, NumericError)
}


class CompiledFunction:
    """A compiled IR function; call it like the original."""

    def __init__(
        self, fn: Function, machine: jit.Machine, errors: list[tuple[type[BaseException], str]]
    ) -> None:
        self.__name__ = fn.name
        self._machine = machine  # owns the code: keep it alive as long as the caller
        self._call = make_caller(fn, machine.address("adc_entry"), errors)

    def __call__(self, *args: Any) -> Any:
        return self._call(*args)

    @property
    def llvm_ir(self) -> str:
        return self._machine.llvm_ir

    @property
    def asm(self) -> str:
        return self._machine.asm


def compile_function(
    fn: Function, *, fastmath: bool = False, boundscheck: bool = True, cache: bool = True
) -> CompiledFunction:
    """Compile a typed IR function (raises ADTypeError naming what the backend cannot handle)."""
    key = _key(fn, fastmath, boundscheck)
    hit = jit.cache_load(key) if cache else None
    if hit is not None:
        machine, meta = hit
        errors = [(_EXCEPTIONS[name], message) for name, message in meta["errors"]]
        return CompiledFunction(fn, machine, errors)
    module = ir.Module(name=fn.name)
    lowerer = Lowerer(fn, module, fastmath=fastmath, boundscheck=boundscheck)
    core = lowerer.build()
    errors = lowerer.errors
    build_entry(fn, module, core, errors)
    machine, obj = jit.compile_module(str(module))
    if cache:
        jit.cache_store(key, machine, obj, {"errors": [(e.__name__, m) for e, m in errors]})
    return CompiledFunction(fn, machine, errors)


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
