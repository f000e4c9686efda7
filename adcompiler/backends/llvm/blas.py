"""Matrix products through BLAS ``dgemm`` when one is at hand, else the backend's loop nest.

A naive loop nest runs several times slower than a tuned ``dgemm`` already at 200 x 200
(no cache blocking, no register tiling), and the products dominate the gradient of any
dense network. SciPy exports the BLAS it links as C function pointers
(``scipy.linalg.cython_blas.__pyx_capi__``, a documented Cython API): the JIT linker learns
that address under the symbol ``adc_dgemm``, so cached object code links again in a new
process. Without SciPy (or for operands whose layout BLAS cannot describe: strides that are
not unit along one axis) the product falls back to the loop nest, at run time.

The Fortran interface is column-major; a row-major ``C = A @ B`` is computed as
``C^T = B^T A^T``, each operand passed as it lies in memory, transposed by a flag.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import llvmlite.binding as llvm
from llvmlite import ir

from .types import F64, I8, I32, I64, ArrayVal

if TYPE_CHECKING:
    from .lower import Lowerer

SYMBOL = "adc_dgemm"
_ZERO, _ONE = ir.Constant(I64, 0), ir.Constant(I64, 1)
_INT_MAX = ir.Constant(I64, 2**31 - 1)  # BLAS takes 32-bit ints (SciPy's LP64 interface)


@functools.cache
def dgemm_address() -> int | None:
    """The address of SciPy's ``dgemm``, or None without SciPy."""
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
    return api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))


def register() -> None:
    """Tell the JIT linker where ``adc_dgemm`` is (before any object code is loaded)."""
    address = dgemm_address()
    if address is not None:
        llvm.add_symbol(SYMBOL, address)


def _layout(lw: Lowerer, a: ArrayVal, row_major: bool) -> tuple[ir.Value, ir.Value]:
    """(usable, leading dimension) of matrix ``a`` read row-major, or column-major."""
    b = lw.builder
    (rows, cols), (s0, s1) = a.shape, a.strides
    if not row_major:  # column-major is the transpose read row-major
        rows, cols, s0, s1 = cols, rows, s1, s0
    one_col, one_row = b.icmp_signed("<=", cols, _ONE), b.icmp_signed("<=", rows, _ONE)
    width = b.select(one_col, _ONE, cols)
    ok = b.and_(b.or_(one_col, b.icmp_signed("==", s1, _ONE)), b.or_(one_row, b.icmp_signed(">=", s0, width)))
    ld = b.select(one_row, width, s0)
    return b.and_(ok, b.icmp_signed("<=", ld, _INT_MAX)), ld


def matmul(lw: Lowerer, a: ArrayVal, c: ArrayVal, out: ArrayVal, fallback: Callable[[], None]) -> None:
    """``out = a @ c`` for f64 matrices: ``dgemm`` if the layouts allow, else ``fallback()``."""
    if dgemm_address() is None:
        fallback()
        return
    b = lw.builder
    m, k, n = a.shape[0], a.shape[1], c.shape[1]
    ok = ir.Constant(ir.IntType(1), 1)
    for d in (m, k, n):
        ok = b.and_(ok, b.and_(b.icmp_signed(">", d, _ZERO), b.icmp_signed("<=", d, _INT_MAX)))
    flags, lds = [], []
    for x in (c, a):  # in BLAS's column-major view the operands come in this order
        row_ok, row_ld = _layout(lw, x, row_major=True)
        col_ok, col_ld = _layout(lw, x, row_major=False)
        ok = b.and_(ok, b.or_(row_ok, col_ok))
        flags.append(b.select(row_ok, ir.Constant(I8, ord("N")), ir.Constant(I8, ord("T"))))
        lds.append(b.select(row_ok, row_ld, col_ld))
    with b.if_else(ok, likely=True) as (blas, loops):
        with blas:
            _call(lw, flags, [n, m, k], [c.data, a.data], lds, out.data, n)
        with loops:
            fallback()


def _call(
    lw: Lowerer,
    flags: list[ir.Value],
    dims: list[ir.Value],
    operands: list[ir.Value],
    lds: list[ir.Value],
    result: ir.Value,
    ldc: ir.Value,
) -> None:
    b = lw.builder
    fn = lw.module.globals.get(SYMBOL)
    if fn is None:
        p8, p32, pf = I8.as_pointer(), I32.as_pointer(), F64.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [p8, p8, p32, p32, p32, pf, pf, p32, pf, p32, pf, pf, p32])
        fn = ir.Function(lw.module, fnty, SYMBOL)

    def slot(ty: ir.Type, value: ir.Value) -> ir.Value:
        ptr = lw.alloca(ty)
        b.store(value, ptr)
        return ptr

    def int32(v: ir.Value) -> ir.Value:
        return slot(I32, b.trunc(v, I32))

    ta, tb = (slot(I8, f) for f in flags)
    alpha, beta = slot(F64, ir.Constant(F64, 1.0)), slot(F64, ir.Constant(F64, 0.0))
    (x, y), (ldx, ldy) = operands, lds
    b.call(fn, [ta, tb, *map(int32, dims), alpha, x, int32(ldx), y, int32(ldy), beta, result, int32(ldc)])
