"""Compiles on threads of their own, while the caller goes on (no llvmlite here).

LLVM runs without the GIL (llvmlite calls it through ``ctypes``, and its own lock keeps
calls from two threads apart), so a compile on another thread overlaps Python work on this
one: the code for threads of a function whose loop turned out large (``compiled``), and the
library of shared helpers while a function's IR is being made (``library``).

The threads are not daemons: at exit the interpreter waits for a compile to end rather
than unload LLVM under it. A fork waits for them too: a child forked in the middle of a
compile would inherit llvmlite's lock held by a thread it does not have, and hang at its
own first compile.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from typing import Any

_running: set[threading.Thread] = set()


def run(work: Callable[[], Any], what: str) -> threading.Thread:
    """Start ``work()``, a compile of ``what``, on a thread of its own. An exception there is
    a bug; it becomes a warning, and whoever needs the result does the work again."""

    def target() -> None:
        try:
            work()
        except Exception as e:
            warnings.warn(f"adcompiler: compiling {what} in the background failed: {e!r}", stacklevel=1)
        finally:
            _running.discard(thread)

    thread = threading.Thread(target=target, name=f"adcompiler: {what}")
    _running.add(thread)
    thread.start()
    return thread


def wait() -> None:
    """Wait until every compile started here has ended (but the caller's own)."""
    for thread in list(_running):
        if thread is not threading.current_thread():
            thread.join()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=wait)
