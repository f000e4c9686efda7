"""Matrix products through BLAS ``dgemm`` when one is at hand, else the backend's loop nest.

A naive loop nest runs several times slower than a tuned ``dgemm`` already at 200 x 200
(no cache blocking, no register tiling), and the products dominate the gradient of any
dense network. The BLAS used is the one NumPy itself links: its wheels ship OpenBLAS built
with 64-bit integers (``numpy.libs/*openblas64*``, symbols ``scipy_dgemm_64_`` in NumPy 2,
``dgemm_64_`` in 1.26), already loaded by ``import numpy`` -- so finding it costs a
``dlopen`` of a loaded library, and it honours the same thread settings as NumPy. A NumPy
built against another BLAS falls back to SciPy's (``scipy.linalg.cython_blas.__pyx_capi__``,
a documented Cython API, 32-bit integers), which costs about 0.2 s to load. The JIT linker
learns the address under the symbol ``adc_dgemm64`` (or ``32``), so cached object code links again in a
new process. Without either (or for operands whose layout BLAS cannot describe: strides
that are not unit along one axis) the product falls back to the loop nest, at run time.

The Fortran interface is column-major; a row-major ``C = A @ B`` is computed as
``C^T = B^T A^T``, each operand passed as it lies in memory, transposed by a flag.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir

from .types import F64, I8, I64, ArrayVal

if TYPE_CHECKING:
    from .lower import Lowerer

_ZERO, _ONE = ir.Constant(I64, 0), ir.Constant(I64, 1)

#: dgemm's name in NumPy's bundled OpenBLAS (ILP64), newest wheels first
_NUMPY_SYMBOLS = ("scipy_dgemm_64_", "dgemm_64_")


@dataclass(frozen=True)
class Blas:
    """Where ``dgemm`` is and how wide its integer arguments are."""

    address: int
    int_bits: int  # 64 for ILP64 builds (NumPy's own), 32 for LP64 (SciPy's)
    origin: str  # part of the cache key: object code is built for one integer width

    @property
    def int_type(self) -> ir.IntType:
        return ir.IntType(self.int_bits)

    @property
    def symbol(self) -> str:
        """What object code calls: named by integer width, so no code calls the wrong build."""
        return f"adc_dgemm{self.int_bits}"


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
        for symbol in _NUMPY_SYMBOLS:
            fn = getattr(handle, symbol, None)
            if fn is not None:
                return Blas(ctypes.cast(fn, ctypes.c_void_p).value or 0, 64, f"{lib.name}:{symbol}")
    return None


def _scipy_blas() -> Blas | None:
    try:
        from scipy.linalg import cython_blas
    except ImportError:
        return None
    capsule = cython_blas.__pyx_capi__["dgemm"]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return Blas(api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule)), 32, "scipy")


def register(found: Blas | None) -> None:
    """Tell the JIT linker where ``found.symbol`` is (before object code calling it loads)."""
    if found is not None:
        llvm.add_symbol(found.symbol, found.address)


def _layout(lw: Lowerer, a: ArrayVal, row_major: bool, int_max: ir.Constant) -> tuple[ir.Value, ir.Value]:
    """(usable, leading dimension) of matrix ``a`` read row-major, or column-major."""
    b = lw.builder
    (rows, cols), (s0, s1) = a.shape, a.strides
    if not row_major:  # column-major is the transpose read row-major
        rows, cols, s0, s1 = cols, rows, s1, s0
    one_col, one_row = b.icmp_signed("<=", cols, _ONE), b.icmp_signed("<=", rows, _ONE)
    width = b.select(one_col, _ONE, cols)
    ok = b.and_(b.or_(one_col, b.icmp_signed("==", s1, _ONE)), b.or_(one_row, b.icmp_signed(">=", s0, width)))
    ld = b.select(one_row, width, s0)
    return b.and_(ok, b.icmp_signed("<=", ld, int_max)), ld


def matmul(lw: Lowerer, a: ArrayVal, c: ArrayVal, out: ArrayVal, fallback: Callable[[], None]) -> None:
    """``out = a @ c`` for f64 matrices: ``dgemm`` if the layouts allow, else ``fallback()``."""
    found = find()
    if found is None:
        fallback()
        return
    b = lw.builder
    int_max = ir.Constant(I64, 2 ** (found.int_bits - 1) - 1)
    m, k, n = a.shape[0], a.shape[1], c.shape[1]
    ok = ir.Constant(ir.IntType(1), 1)
    for d in (m, k, n):
        ok = b.and_(ok, b.and_(b.icmp_signed(">", d, _ZERO), b.icmp_signed("<=", d, int_max)))
    flags, lds = [], []
    for x in (c, a):  # in BLAS's column-major view the operands come in this order
        row_ok, row_ld = _layout(lw, x, row_major=True, int_max=int_max)
        col_ok, col_ld = _layout(lw, x, row_major=False, int_max=int_max)
        ok = b.and_(ok, b.or_(row_ok, col_ok))
        flags.append(b.select(row_ok, ir.Constant(I8, ord("N")), ir.Constant(I8, ord("T"))))
        lds.append(b.select(row_ok, row_ld, col_ld))
    with b.if_else(ok, likely=True) as (blas, loops):
        with blas:
            _call(lw, found, flags, [n, m, k], [c.data, a.data], lds, out.data, n)
        with loops:
            fallback()


def _call(
    lw: Lowerer,
    found: Blas,
    flags: list[ir.Value],
    dims: list[ir.Value],
    operands: list[ir.Value],
    lds: list[ir.Value],
    result: ir.Value,
    ldc: ir.Value,
) -> None:
    b = lw.builder
    int_type = found.int_type
    fn = lw.module.globals.get(found.symbol)
    if fn is None:
        p8, pi, pf = I8.as_pointer(), int_type.as_pointer(), F64.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [p8, p8, pi, pi, pi, pf, pf, pi, pf, pi, pf, pf, pi])
        fn = ir.Function(lw.module, fnty, found.symbol)

    def slot(ty: ir.Type, value: ir.Value) -> ir.Value:
        ptr = lw.alloca(ty)
        b.store(value, ptr)
        return ptr

    def integer(v: ir.Value) -> ir.Value:
        return slot(int_type, v if int_type == I64 else b.trunc(v, int_type))

    ta, tb = (slot(I8, f) for f in flags)
    alpha, beta = slot(F64, ir.Constant(F64, 1.0)), slot(F64, ir.Constant(F64, 0.0))
    (x, y), (ldx, ldy) = operands, lds
    b.call(fn, [ta, tb, *map(integer, dims), alpha, x, integer(ldx), y, integer(ldy), beta, result, integer(ldc)])
