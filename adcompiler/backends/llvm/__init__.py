"""The LLVM backend: typed IR -> machine code, called like the Python function.

    compiled = compile_function(fn, fastmath=False, boundscheck=True)
    compiled(x, n, arr)          # Python floats/ints/bools and NumPy arrays in and out
    compiled.llvm_ir             # the optimised LLVM IR
    compiled.asm                 # the machine code, as assembly
    live_allocations()           # arrays and tapes compiled code allocated and nobody freed yet

Modules: ``types`` (IR types as LLVM values), ``analysis`` (fusion and array lifetimes),
``lower`` (the op table and the function), ``scalar`` / ``elementwise`` / ``reductions`` /
``arrays`` / ``scatter`` / ``control`` / ``tape`` (the op rules), ``blas`` (matrix products through
BLAS), ``parallel`` (large loops outlined to run on threads, and the pool's code),
``runtime`` (allocation, reference counts), ``entry`` (the native entry point) and
``jit`` (optimisation and object code, through llvmlite) make code. ``compiled`` (the
compiled function), ``wrapper`` (the calling convention, Python side), ``cache`` (on disk),
``loader`` (object files into memory), ``native`` (the symbols code links to) and
``threads`` (the thread count and the pool's state) run it,
without importing llvmlite or the lowering: a warm start from the cache needs neither.
"""

from __future__ import annotations

from .compiled import CompiledFunction, compile_function
from .native import live_allocations

__all__ = ["CompiledFunction", "compile_function", "live_allocations"]
