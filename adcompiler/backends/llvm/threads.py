"""The pool of threads that large array loops run on, process side (no llvmlite).

Compiled code splits a large elementwise loop over threads (``parallel``). The pool is a
struct in memory this module allocates, linked into compiled code as ``adc_pool``; its
threads run code that ``parallel`` emits into every module with parallel loops. The first
such module loaded gives the pool its thread function (:func:`adopt`) and is kept loaded
for the life of the process: the pool's threads run its code. They are started by the
first loop that wants them (``pthread_create``) and then wait on a condition variable.

- ``adc_threads_wanted``: set by serial code when it ran a loop that the function's code
  for threads would split (``parallel``'s docstring says why that code comes later).
- ``adc_threads``: how many threads a loop may use when the function was compiled without a
  count of its own (``jit(f, threads=N)``). It is read when a loop runs, so cached code
  follows :func:`set_num_threads`. Default: the CPUs this process may run on, or
  ``$ADCOMPILER_NUM_THREADS``.
- the pool's ``busy`` word: set while a parallel region runs. A region that finds it set
  (code called from a second Python thread, or a region inside a region) runs on its
  caller's thread alone: regions never overlap, and never nest.
- the C library's pthreads (in libc since glibc 2.34), found by ``ctypes`` and registered
  with both linkers like the BLAS routines (``native.symbols``).
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

#: the variable that overrides the default count
ENVIRONMENT = "ADCOMPILER_NUM_THREADS"

#: the pool's fields: byte offsets into ``adc_pool`` (``parallel`` reads and writes them)
GENERATION, CLAIM, DONE, STARTED, JOB_FN, JOB_CONTEXT, JOB_N, JOB_CHUNKS = range(0, 64, 8)
WORKER, BUSY, REGIONS = 64, 72, 80
MUTEX, WORK_READY, WORK_DONE = 128, 192, 256  # pthread_mutex_t, pthread_cond_t (<= 64 bytes each)
POOL_BYTES = 320
#: the pthread functions compiled code calls
PTHREAD = (
    "pthread_create",
    "pthread_detach",
    "pthread_mutex_lock",
    "pthread_mutex_unlock",
    "pthread_cond_wait",
    "pthread_cond_broadcast",
)


def default_threads() -> int:
    """``$ADCOMPILER_NUM_THREADS`` if set (a positive integer), else the CPUs this process may
    use (so also when the variable is not a positive integer, with a warning)."""
    value = os.environ.get(ENVIRONMENT, "").strip()
    if value:
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count >= 1:
            return count
        import warnings

        warnings.warn(f"{ENVIRONMENT}={value!r} is not a positive integer: ignored", stacklevel=2)
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1


_THREADS = ctypes.c_int64(default_threads())
#: set by serial code when a loop the code for threads would split is large
#: (``parallel.ask``): the wrapper then has that code compiled (``compiled``)
_WANTED = ctypes.c_int64(0)
_libc = ctypes.CDLL(None)
_libc.calloc.restype, _libc.calloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_size_t]
#: the pool, never freed (its threads wait on it until the process ends, interpreter shutdown
#: included); all zeros is its initial state, mutex and condition variables included
_POOL: int = _libc.calloc(1, POOL_BYTES) or 0
if not _POOL:
    raise MemoryError("cannot allocate the thread pool")


def num_threads() -> int:
    """How many threads a large loop may use (code compiled without ``threads=``)."""
    return _THREADS.value


def set_num_threads(count: int) -> None:
    """Set the count :func:`num_threads` returns, for code already compiled too."""
    if int(count) < 1:
        raise ValueError("the number of threads must be at least 1")
    _THREADS.value = int(count)


def threads_wanted() -> bool:
    """Whether a large loop asked for code that runs it on threads since the last time this
    was asked (compiled code runs holding the GIL: the call just made asked)."""
    if not _WANTED.value:
        return False
    _WANTED.value = 0
    return True


def _field(offset: int) -> ctypes.c_int64:
    return ctypes.c_int64.from_address(_POOL + offset)


def parallel_regions() -> int:
    """How many loops ran on more than one thread in this process."""
    return _field(REGIONS).value


def pool_threads() -> int:
    """How many threads the pool has started (besides the callers')."""
    return _field(STARTED).value


def adopt(memory: Any, worker: int) -> None:
    """Code was loaded with parallel loops: ``worker`` is the address of its pool thread
    function, in ``memory`` (its loaded object). The first becomes the pool's, and stays
    loaded until the process ends (interpreter shutdown included: the threads wait in it)."""
    if not _field(WORKER).value:
        keep = getattr(memory, "keep", None)
        if keep is not None:
            keep()  # no unmapping at exit
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(memory))  # never collected
        _field(WORKER).value = worker


def _after_fork() -> None:
    """A forked child has none of the pool's threads: it starts its own."""
    ctypes.memset(_POOL + MUTEX, 0, POOL_BYTES - MUTEX)
    for offset in (STARTED, BUSY):
        _field(offset).value = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def symbols() -> dict[str, int]:
    """The addresses compiled code links to for its threads, by name."""
    table = {
        "adc_threads": ctypes.addressof(_THREADS),
        "adc_threads_wanted": ctypes.addressof(_WANTED),
        "adc_pool": _POOL,
    }
    for name in PTHREAD:
        fn = getattr(_libc, name, None)
        if fn is None:  # glibc before 2.34: in libpthread
            fn = getattr(ctypes.CDLL("libpthread.so.0"), name)
        table[name] = ctypes.cast(fn, ctypes.c_void_p).value or 0
    return table
