"""The library: helper functions every module calls, compiled once, not into every module.

Some helpers are the same in every module: NumPy's pairwise sum (``pairwise``), allocating
a block and counting its references (``runtime``). Compiled into each module, they were
the same work again for LLVM each time -- the pairwise sum alone was a tenth of the work of
compiling a network's gradient. So they live in a module of their own, the library: its
object code is made once and kept in the on-disk cache like a function's (``cache``), and
loaded once per process; modules declare the helpers (``Runtime.shared``) and link to the
library's, through the symbols both linkers take (``native.add_symbol``).

Modules call the library once it is loaded: from the cache (:func:`use_cached`, before a
function is lowered), or compiled in this process. A process that finds no library compiles
its first functions with the helpers of their own, as before, and the library on a thread of
its own once that first compile is done (:func:`prepare`): compiled earlier, it held
llvmlite's lock (one LLVM call at a time) while the first function waited to compile. The
functions compiled after it, and the next processes, call it. Code that calls it loads it
first (:func:`load`).

Nothing is lost to inlining: each of these helpers is called, never inlined, anyway; its
declaration carries what callers may assume of it (``noalias`` results, reading only its
arguments' memory). Code compiled with ``fastmath=True`` defines its own pairwise sum,
whose additions may be reordered.

This module imports neither llvmlite nor the compiler until it has to compile.
"""

from __future__ import annotations

import threading
from typing import Any

from . import background, cache, native

#: the helpers the library defines (each module's ``Runtime`` declares the ones it calls)
NAMES = ("adc_alloc", "adc_alloc_zero", "adc_incref", "adc_decref", "adc_pairwise_f64")
_FASTMATH = frozenset(NAMES) - {"adc_pairwise_f64"}

_lock = threading.Lock()
#: the library's object code, once loaded (never unloaded: modules loaded later call into it)
_memory: list[Any] = []
#: the compile in the background, while it runs
_compiling: list[threading.Thread] = []


def shared(fastmath: bool) -> frozenset[str]:
    """The helpers a module compiled now with ``fastmath`` declares, taking them from the
    library: none while it is not loaded."""
    if not _memory:
        return frozenset()
    return _FASTMATH if fastmath else frozenset(NAMES)


def use_cached() -> None:
    """A function is about to be lowered: load the library if the cache has it."""
    with _lock:
        if not _memory and not _compiling:
            found = cache.load_object(_entry())
            if found is not None:
                _install(found[0])


def prepare() -> None:
    """Have the library compiled in the background, if it is not loaded: for the functions
    compiled later in this process, and for the next processes."""
    with _lock:
        if not _memory and not _compiling:
            _compiling.append(background.run(_compile_and_install, "the library"))


def load() -> None:
    """Make sure the library is loaded (its symbols resolve): before linking code calling it."""
    with _lock:
        pending = list(_compiling)
    for thread in pending:
        thread.join()
    with _lock:
        if _memory:
            return
        found = cache.load_object(_entry())
        _install(found[0] if found is not None else _compile())


def _compile_and_install() -> None:
    try:
        obj = _compile()
        with _lock:
            if not _memory:
                _install(obj)
    finally:
        with _lock:
            _compiling.clear()


def _compile() -> bytes:
    """The library's object code, compiled (and stored in the cache)."""
    from llvmlite import ir

    from ...ir.core import Function, Region
    from . import jit, pairwise
    from .lower import Lowerer
    from .runtime import Runtime

    module = ir.Module(name="adc_library")
    # the part of a lowerer the helpers are written with, on a function with no ops
    lw = Lowerer(Function("adc_library", Region(), []), module, fastmath=False, boundscheck=True)
    lw.rt = Runtime(module, exported=True)
    lw.builder = lw.entry_builder = ir.IRBuilder()  # nothing emitted outside the helpers
    lw.rt.alloc_function(zero=False)
    lw.rt.alloc_function(zero=True)
    lw.rt.count_function(+1)
    lw.rt.count_function(-1)
    pairwise.sum_function(lw)
    llvm_ir, obj = jit.compile_module(str(module))
    cache.store_object(_entry(), obj, {"llvm_ir": llvm_ir})
    return obj


def _install(obj: bytes) -> None:
    """Load the object code and publish its helpers' addresses (the caller holds the lock)."""
    from .compiled import link

    memory = link(obj)
    keep = getattr(memory, "keep", None)
    if keep is not None:
        keep()  # never unmapped, not even at exit: code calling it may run until the end
    for name in NAMES:
        native.add_symbol(name, memory.address(name))
    _memory.append(memory)


def _entry() -> str:
    """The name of the library's entry in the cache (whose key covers adcompiler's sources)."""
    return cache.entry_name("the library: " + " ".join(NAMES))
