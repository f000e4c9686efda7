"""``exp`` and ``tanh`` as straight-line LLVM IR, for loops over arrays.

libm is a call per element, which keeps LLVM's loop vectoriser out of every loop computing
an ``exp`` or a ``tanh``. These are written instead as range reduction + polynomial, with
special cases (overflow, underflow, infinities, NaN) handled by clamping and ``select`` --
no branches, no calls -- so a loop calling them vectorises (as XLA's do). Each is a small
internal function of the module marked ``alwaysinline``: LLVM inlines it before
vectorising, and the unoptimised IR holds one copy.

Both are faithful (error below one ulp; tests/test_vmath.py measures them against
``long double`` references). Scalar code keeps libm (``scalar.py``), which is correctly
rounded nearly always; only the elementwise loops use these.

No fast-math flags: the order of every operation here is part of the error analysis.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from llvmlite import ir

from .scalar import Kernel, cast
from .types import F64, I64

if TYPE_CHECKING:
    from .lower import Lowerer

# exp(x) = 2**k * exp(r), r = x - k*ln2 with |r| <= ln2/2, ln2 split in two (fdlibm's):
# _LN2_HI has 32 significant bits, so k*_LN2_HI is exact for |k| < 2**21.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
#: adding 1.5 * 2**52 rounds to an integer, whose value is then the low bits of the sum
_SHIFT = 6755399441055744.0
#: exp(r) - 1 - r = r*r*(1/2! + r/3! + ... + r**12/14!): the Taylor series, truncated where
#: its remainder r**15/15! < 1e-19 for |r| <= ln2/2
_EXP_POLY = [1.0 / math.factorial(j) for j in range(2, 15)]
#: exp(x) is inf above 709.79 and rounds to 0 below -745.14: clamping x keeps k in range
_EXP_LO, _EXP_HI = -746.0, 710.0

# tanh(x) = x + x*s*P(s)/Q(s), s = x*x, for |x| < 0.25 (Cephes' tanh.c fits it up to 0.625,
# but it is the less accurate branch); (1 - F)/(1 + F) above, F = exp(-2|x|) in two parts
_TANH_P = [-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3]
_TANH_Q = [1.0, 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3]
_TANH_SMALL = 0.25
#: tanh(x) rounds to 1 above 19.1; clamping keeps exp(-2|x|) a normal number
_TANH_BIG = 20.0


def _c(v: float) -> ir.Constant:
    return ir.Constant(F64, v)


class _Emit:
    """The few operations the functions below are written in, on one builder."""

    def __init__(self, lw: Lowerer, b: ir.IRBuilder) -> None:
        self.lw, self.b = lw, b

    def fmuladd(self, x: ir.Value, y: ir.Value, z: ir.Value) -> ir.Value:
        """x*y + z, fused where the CPU can (only inside polynomials: either is accurate)."""
        fn = self.lw.rt.intrinsic("llvm.fmuladd", [F64], ir.FunctionType(F64, [F64] * 3))
        return self.b.call(fn, [x, y, z])

    def fma(self, x: ir.Value, y: ir.Value, z: ir.Value) -> ir.Value:
        """x*y + z rounded once (exact residuals need it)."""
        fn = self.lw.rt.intrinsic("llvm.fma", [F64], ir.FunctionType(F64, [F64] * 3))
        return self.b.call(fn, [x, y, z])

    def horner(self, x: ir.Value, coefficients: list[float]) -> ir.Value:
        """The polynomial with ``coefficients`` (highest degree first) at ``x``."""
        acc: ir.Value = _c(coefficients[0])
        for c in coefficients[1:]:
            acc = self.fmuladd(acc, x, _c(c))
        return acc

    def clamp(self, x: ir.Value, lo: float, hi: float) -> ir.Value:
        """x limited to [lo, hi]; NaN stays NaN (LLVM's ``maximum``/``minimum`` propagate it)."""
        fnty = ir.FunctionType(F64, [F64, F64])
        up = self.b.call(self.lw.rt.intrinsic("llvm.maximum", [F64], fnty), [x, _c(lo)])
        return self.b.call(self.lw.rt.intrinsic("llvm.minimum", [F64], fnty), [up, _c(hi)])

    def pow2(self, k: ir.Value) -> ir.Value:
        """2**k for an i64 k in [-1022, 1023], built from its bits."""
        b = self.b
        return b.bitcast(b.shl(b.add(k, ir.Constant(I64, 1023)), ir.Constant(I64, 52)), F64)

    def exp_parts(self, x: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
        """(k, h, t) with exp(x) = 2**k * (h + t) to about 2**-60 relative, |t| < 0.07, for
        x in [-746, 710] (or NaN: then h is NaN)."""
        b = self.b
        shifted = b.fadd(b.fmul(x, _c(_INV_LN2)), _c(_SHIFT))
        kd = b.fsub(shifted, _c(_SHIFT))
        k = b.sub(b.bitcast(shifted, I64), b.bitcast(_c(_SHIFT), I64))
        hi = b.fsub(x, b.fmul(kd, _c(_LN2_HI)))  # exact (Sterbenz)
        lo = b.fmul(kd, _c(_LN2_LO))
        r = b.fsub(hi, lo)
        r_err = b.fsub(b.fsub(hi, r), lo)  # r + r_err = hi - lo (Fast2Sum)
        poly = b.fmul(b.fmul(r, r), self.horner(r, _EXP_POLY[::-1]))
        h = b.fadd(_c(1.0), r)
        h_err = b.fadd(b.fsub(_c(1.0), h), r)  # h + h_err = 1 + r exactly
        t = b.fadd(h_err, b.fadd(poly, r_err))  # exp(r + r_err) = 1 + r + poly + r_err + O(2**-80)
        return k, h, t


def _function(lw: Lowerer, name: str, body) -> ir.Function:
    """The module's ``double name(double)``, built by ``body(emit, x)`` on first use."""
    fn, fb = lw.rt.helper(name, ir.FunctionType(F64, [F64]))
    if fb is not None:
        fn.attributes.add("alwaysinline")
        fn.attributes.add("readnone")
        fb.ret(body(_Emit(lw, fb), fn.args[0]))
    return fn


def _exp(e: _Emit, x: ir.Value) -> ir.Value:
    b = e.b
    k, h, t = e.exp_parts(e.clamp(x, _EXP_LO, _EXP_HI))
    # 2**k in two factors, each a normal number for k in [-1077, 1025]: the first product is
    # exact, the second rounds once (to a subnormal, to 0 or to inf where it must)
    k1 = b.ashr(k, ir.Constant(I64, 1))
    return b.fmul(b.fmul(b.fadd(h, t), e.pow2(k1)), e.pow2(b.sub(k, k1)))


def _tanh(e: _Emit, x: ir.Value) -> ir.Value:
    b = e.b
    a = b.call(e.lw.rt.math("fabs"), [x])
    small = b.fcmp_unordered("<", a, _c(_TANH_SMALL))  # NaN goes this way, and stays NaN
    s = b.fmul(x, x)
    # large |x|: F = exp(-2|x|) = f + f_err, then (1 - F)/(1 + F) as n/d in two parts each
    k, h, t = e.exp_parts(b.fmul(e.clamp(a, 0.0, _TANH_BIG), _c(-2.0)))
    ht = b.fadd(h, t)
    scale = e.pow2(k)  # k in [-58, 0]: exact scaling
    f, f_err = b.fmul(ht, scale), b.fmul(b.fadd(b.fsub(h, ht), t), scale)
    d = b.fadd(_c(1.0), f)
    d_err = b.fadd(b.fadd(b.fsub(_c(1.0), d), f), f_err)
    n = b.fsub(_c(1.0), f)
    n_err = b.fsub(b.fsub(b.fsub(_c(1.0), n), f), f_err)
    # the one division, shared: P(s)/Q(s) for small |x|, 1/d for large
    ratio = b.fdiv(
        b.select(small, e.horner(s, _TANH_P), _c(1.0)),
        b.select(small, e.horner(s, _TANH_Q), d),
    )
    q = b.fmul(n, ratio)
    residual = b.fadd(e.fma(b.fneg(q), d, n), b.fsub(n_err, b.fmul(q, d_err)))  # n/d - q, times d
    large = b.fadd(q, b.fmul(residual, ratio))
    magnitude = b.select(small, b.fadd(a, b.fmul(a, b.fmul(s, ratio))), large)
    copysign = e.lw.rt.intrinsic("llvm.copysign", [F64], ir.FunctionType(F64, [F64, F64]))
    return b.call(copysign, [magnitude, x])  # tanh is odd: tanh(-0.0) is -0.0


_BODIES = {"exp": _exp, "tanh": _tanh}


def _kernel(name: str) -> Kernel:
    def kernel(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
        x = cast(lw, args[0], dtypes[0], "f64")
        return lw.builder.call(_function(lw, f"adc_v{name}", _BODIES[name]), [x])

    return kernel


#: kernels for elementwise loops over arrays, in place of ``scalar.KERNELS``' libm calls
VECTOR_KERNELS: dict[str, Kernel] = {name: _kernel(name) for name in _BODIES}
