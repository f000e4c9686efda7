"""What compiled code links against besides its own functions, found without LLVM.

Object code refers to a few symbols by name: the C library's allocator, libm, the
process-wide count of live allocations (``adc_live``), the BLAS routines NumPy links
(``adc_dgemm64``...) and what parallel loops need (:mod:`.threads`: the pool, pthreads).
Both linkers -- LLVM's (:mod:`.jit`) and our own loader of cached object files
(:mod:`.loader`) -- take their addresses from here. This module imports
neither llvmlite nor the compiler: loading cached code must stay cheap.

BLAS: NumPy's wheels ship OpenBLAS built with 64-bit integers (``numpy.libs/*openblas64*``,
symbols ``scipy_dgemm_64_`` in NumPy 2, ``dgemm_64_`` in 1.26), already loaded by ``import
numpy`` -- so finding it costs a ``dlopen`` of a loaded library, and it honours the same
thread settings as NumPy. A NumPy built against another BLAS falls back to SciPy's
(``scipy.linalg.cython_blas.__pyx_capi__``, a documented Cython API, 32-bit integers), which
costs about 0.2 s to load.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

from . import threads

#: the process-wide count of live allocations, linked into every module as ``adc_live``
#: (updated without atomics: compiled code and the wrapper's ``_Owner`` only run holding the GIL)
LIVE = ctypes.c_int64(0)

#: symbols defined here, by name: the address each resolves to
_SYMBOLS: dict[str, int] = {"adc_live": ctypes.addressof(LIVE), **threads.symbols()}


def live_allocations() -> int:
    """How many arrays and tapes compiled code allocated that are not freed yet (in this process)."""
    return LIVE.value


def add_symbol(name: str, address: int) -> None:
    _SYMBOLS[name] = address


def symbols() -> dict[str, int]:
    """The symbols of the runtime and of the BLAS found, by name."""
    found = find()
    if found is not None:
        for routine, address in zip(ROUTINES, found.addresses):
            _SYMBOLS.setdefault(found.symbol(routine), address)
    return _SYMBOLS


#: the routines used, and their names in NumPy's bundled OpenBLAS (ILP64), newest wheels first
ROUTINES = ("dgemm", "dgemv")
_NUMPY_NAMES = ("scipy_{}_64_", "{}_64_")


class Blas:
    """Where ``dgemm`` and ``dgemv`` are and how wide their integer arguments are. (A plain
    class: this module is imported by every warm start, and a dataclass costs a millisecond.)"""

    def __init__(self, addresses: tuple[int, ...], int_bits: int, origin: str) -> None:
        self.addresses = addresses  # in the order of ROUTINES
        self.int_bits = int_bits  # 64 for ILP64 builds (NumPy's own), 32 for LP64 (SciPy's)
        self.origin = origin  # part of the cache key: object code is built for one integer width

    def symbol(self, routine: str) -> str:
        """What object code calls: named by integer width, so no code calls the wrong build."""
        return f"adc_{routine}{self.int_bits}"


@functools.cache
def find() -> Blas | None:
    """NumPy's own BLAS, else SciPy's, else None."""
    return _numpy_blas() or _scipy_blas()


def _numpy_blas() -> Blas | None:
    package = Path(np.__file__).parent
    for lib in sorted([*package.parent.glob("numpy.libs/*openblas*"), *package.glob(".dylibs/*openblas*")]):
        try:
            handle = ctypes.CDLL(str(lib))
        except OSError:
            continue
        for pattern in _NUMPY_NAMES:
            fns = [getattr(handle, pattern.format(r), None) for r in ROUTINES]
            if all(fn is not None for fn in fns):
                addresses = tuple(ctypes.cast(fn, ctypes.c_void_p).value or 0 for fn in fns)
                return Blas(addresses, 64, f"{lib.name}:{pattern}")
    return None


def _scipy_blas() -> Blas | None:
    try:
        from scipy.linalg import cython_blas
    except ImportError:
        return None
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    capsules = [cython_blas.__pyx_capi__[r] for r in ROUTINES]
    addresses = tuple(api.PyCapsule_GetPointer(c, api.PyCapsule_GetName(c)) for c in capsules)
    return Blas(addresses, 32, "scipy")
