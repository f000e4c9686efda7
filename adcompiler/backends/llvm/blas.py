"""Matrix products through BLAS ``dgemm`` when one is at hand, else the backend's loop nest.

A naive loop nest runs several times slower than a tuned ``dgemm`` already at 200 x 200
(no cache blocking, no register tiling), and the products dominate the gradient of any
dense network. The BLAS used is the one NumPy itself links, else SciPy's (found by
:mod:`.native`, which says how); object code calls it under the symbols ``adc_dgemm64`` and
``adc_dgemv64`` (or ``32``), so cached object code links again in a new process. Without
either (or for operands whose layout BLAS cannot describe: strides that are not unit along
one axis) the product falls back to the loop nest, at run time.

The Fortran interface is column-major; a row-major ``C = A @ B`` is computed as
``C^T = B^T A^T``, each operand passed as it lies in memory, transposed by a flag.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import llvmlite.binding as llvm
from llvmlite import ir

from . import native
from .native import ROUTINES, Blas, find
from .types import F64, I8, I64, ArrayVal

if TYPE_CHECKING:
    from .lower import Lowerer

_ZERO, _ONE = ir.Constant(I64, 0), ir.Constant(I64, 1)


def register(found: Blas | None) -> None:
    """Tell both linkers (LLVM's and :mod:`.loader`) where the routines are, before object code
    calling them loads."""
    if found is not None:
        for routine, address in zip(ROUTINES, found.addresses):
            native.add_symbol(found.symbol(routine), address)
            llvm.add_symbol(found.symbol(routine), address)


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


Loops = Callable[[ArrayVal, ArrayVal, ArrayVal], None]


def product(lw: Lowerer, a: ArrayVal, c: ArrayVal, out: ArrayVal, loops: Loops) -> None:
    """``out = a @ c`` for f64 operands of rank 1 or 2 (``out`` new and zeroed), by a call to
    a helper function of the module: one per kind of product, made at its first use. It
    checks the layouts, calls BLAS or runs ``loops(a, c, out)``. Inlined at every product,
    the checks and the fallback loops would be most of the code LLVM optimises for a network."""
    kind = "matvec" if c.rank == 1 else "vecmat" if a.rank == 1 else "matmul"
    helper = lw.module.globals.get(f"adc_{kind}_f64") or _helper(lw, kind, (a.rank, c.rank, out.rank), loops)
    lw.builder.call(helper, [leaf for x in (a, c, out) for leaf in (x.data, *x.shape, *x.strides)])


def _helper(lw: Lowerer, kind: str, ranks: tuple[int, ...], loops: Loops) -> ir.Function:
    fnty = ir.FunctionType(
        ir.VoidType(), [t for rank in ranks for t in [F64.as_pointer()] + [I64] * (2 * rank)]
    )
    fn = _function(lw, f"adc_{kind}_f64", fnty)
    fallback = _fallback(lw, kind, fnty, ranks, loops) if find() is not None else None
    if fallback is not None:
        # checks of the layouts and a call, once per product: nothing to gain from LLVM's
        # optimisation, which cost as much as a tenth of the work of compiling a network's
        # gradient (its chains of selects keep InstCombine busy)
        fn.attributes.add("optnone")
    with lw.out_of_line(fn):
        a, c, out = _operands(fn, ranks)
        out.data.add_attribute("noalias")  # a new array: the loops may vectorise
        if fallback is None:  # no BLAS: the loops are the product
            run_loops = lambda: loops(a, c, out)  # noqa: E731
        else:
            run_loops = lambda: lw.builder.call(fallback, list(fn.args))  # noqa: E731
        if kind == "matvec":
            matvec(lw, a, c, out, run_loops)
        elif kind == "vecmat":  # v @ c is c^T @ v
            matvec(lw, _transposed(c), a, out, run_loops)
        else:
            matmul(lw, a, c, out, run_loops)
        lw.builder.ret_void()
    return fn


def _fallback(
    lw: Lowerer, kind: str, fnty: ir.FunctionType, ranks: tuple[int, ...], loops: Loops
) -> ir.Function:
    """The loops standing in for BLAS where it cannot read an operand's layout (strided
    along both axes, say), as a function LLVM does not optimise (``optnone``): they seldom
    run, and optimised they were a tenth of the work of compiling a network's gradient."""
    fn = _function(lw, f"adc_{kind}_loops_f64", fnty)
    fn.attributes.add("optnone")
    fn.attributes.add("cold")
    with lw.out_of_line(fn):
        a, c, out = _operands(fn, ranks)
        loops(a, c, out)
        lw.builder.ret_void()
    return fn


def _function(lw: Lowerer, name: str, fnty: ir.FunctionType) -> ir.Function:
    fn = ir.Function(lw.module, fnty, name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    return fn


def _operands(fn: ir.Function, ranks: tuple[int, ...]) -> list[ArrayVal]:
    """The three arrays ``fn`` takes (a, c, out), from its parameters."""
    leaves = iter(fn.args)
    null = ir.Constant(I8.as_pointer(), None)
    return [
        ArrayVal(
            "f64", next(leaves), null, [next(leaves) for _ in range(r)], [next(leaves) for _ in range(r)]
        )
        for r in ranks
    ]


def _transposed(a: ArrayVal) -> ArrayVal:
    return ArrayVal(a.dtype, a.data, a.meminfo, a.shape[::-1], a.strides[::-1])


def matmul(lw: Lowerer, a: ArrayVal, c: ArrayVal, out: ArrayVal, fallback: Callable[[], None]) -> None:
    """``out = a @ c`` for f64 matrices: ``dgemm`` if the layouts allow, else ``fallback()``."""
    found = find()
    if found is None:
        fallback()
        return
    b = lw.builder
    int_max = ir.Constant(I64, 2 ** (found.int_bits - 1) - 1)
    m, k, n = a.shape[0], a.shape[1], c.shape[1]
    ok = _dims_ok(lw, (m, k, n), int_max)
    flags, lds = [], []
    for x in (c, a):  # in BLAS's column-major view the operands come in this order
        row_ok, row_ld = _layout(lw, x, row_major=True, int_max=int_max)
        col_ok, col_ld = _layout(lw, x, row_major=False, int_max=int_max)
        ok = b.and_(ok, b.or_(row_ok, col_ok))
        flags.append(b.select(row_ok, ir.Constant(I8, ord("N")), ir.Constant(I8, ord("T"))))
        lds.append(b.select(row_ok, row_ld, col_ld))
    with b.if_else(ok, likely=True) as (blas, loops):
        with blas:
            (fc, fa), (ldc, lda) = flags, lds
            _call(
                lw,
                found,
                "dgemm",
                [fc, fa],
                [n, m, k, _F64(1.0), c.data, ldc, a.data, lda, _F64(0.0), out.data, n],
            )
        with loops:
            fallback()


def matvec(lw: Lowerer, a: ArrayVal, x: ArrayVal, out: ArrayVal, fallback: Callable[[], None]) -> None:
    """``out = a @ x`` for an f64 matrix and vector (``out`` contiguous): ``dgemv`` if the
    layouts allow, else ``fallback()``. (``dgemm`` with one column would copy all of ``a``
    into its packing buffer first: several times slower on a tall matrix.)"""
    found = find()
    if found is None:
        fallback()
        return
    b = lw.builder
    int_max = ir.Constant(I64, 2 ** (found.int_bits - 1) - 1)
    (rows, cols), (inc,) = a.shape, x.strides
    inc = b.select(b.icmp_signed("<=", cols, _ONE), _ONE, inc)
    ok = b.and_(
        _dims_ok(lw, (rows, cols), int_max),
        b.and_(b.icmp_signed(">=", inc, _ONE), b.icmp_signed("<=", inc, int_max)),
    )
    # BLAS sees column-major memory: a row-major ``a`` is the transpose of what it reads
    row_ok, row_ld = _layout(lw, a, row_major=True, int_max=int_max)
    col_ok, col_ld = _layout(lw, a, row_major=False, int_max=int_max)
    ok = b.and_(ok, b.or_(row_ok, col_ok))
    trans = b.select(row_ok, ir.Constant(I8, ord("T")), ir.Constant(I8, ord("N")))
    m, n = b.select(row_ok, cols, rows), b.select(row_ok, rows, cols)
    lda = b.select(row_ok, row_ld, col_ld)
    with b.if_else(ok, likely=True) as (blas, loops):
        with blas:
            _call(
                lw,
                found,
                "dgemv",
                [trans],
                [m, n, _F64(1.0), a.data, lda, x.data, inc, _F64(0.0), out.data, _ONE],
            )
        with loops:
            fallback()


def _F64(value: float) -> ir.Constant:
    return ir.Constant(F64, value)


def _dims_ok(lw: Lowerer, dims: Sequence[ir.Value], int_max: ir.Constant) -> ir.Value:
    """Every dimension positive (BLAS rejects empty operands) and within BLAS's integers."""
    b = lw.builder
    ok = ir.Constant(ir.IntType(1), 1)
    for d in dims:
        ok = b.and_(ok, b.and_(b.icmp_signed(">", d, _ZERO), b.icmp_signed("<=", d, int_max)))
    return ok


def _call(lw: Lowerer, found: Blas, routine: str, flags: list[ir.Value], args: list[ir.Value]) -> None:
    """Call a Fortran BLAS routine: every argument by reference -- the flags (chars), then
    ``args``: i64 values become BLAS integers, doubles and pointers to doubles pass as they are."""
    b = lw.builder
    int_type = ir.IntType(found.int_bits)

    def slot(ty: ir.Type, value: ir.Value) -> ir.Value:
        ptr = lw.alloca(ty)
        b.store(value, ptr)
        return ptr

    def by_reference(v: ir.Value) -> ir.Value:
        if v.type == F64:
            return slot(F64, v)
        if v.type == I64:
            return slot(int_type, v if int_type == I64 else b.trunc(v, int_type))
        return v  # already a pointer (the arrays)

    values = [slot(I8, f) for f in flags] + [by_reference(v) for v in args]
    name = found.symbol(routine)
    fn = lw.module.globals.get(name)
    if fn is None:
        fn = ir.Function(lw.module, ir.FunctionType(ir.VoidType(), [v.type for v in values]), name)
    b.call(fn, values)
