"""Scalar semantics of every elementwise op, as *kernels* on LLVM scalars.

A kernel computes one element: ``kernel(lw, args, dtypes, out) -> value`` where ``args`` are
LLVM scalars of IR dtypes ``dtypes`` and ``out`` is the result dtype. The same kernel serves a
scalar op and the inner loop of an array op (``elementwise.py``).

Semantics are NumPy's (the ops are the NumPy functions of the same names): IEEE floats (1/0
is inf, log(-1) is nan), ``//`` and ``%`` floor like Python on negative numbers, ``maximum``
propagates NaN. Integers wrap at 64 bits; integer division by zero raises ZeroDivisionError.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from .types import F64, I1, I64

if TYPE_CHECKING:
    from .lower import Lowerer

Kernel = Callable[["Lowerer", list[ir.Value], list[str], str], ir.Value]


# --------------------------------------------------------------------------- conversions
def cast(lw: Lowerer, v: ir.Value, src: str, dst: str) -> ir.Value:
    """Python/NumPy conversion of a scalar between dtypes (float -> int truncates)."""
    b = lw.builder
    if src == dst:
        return v
    if dst == "bool":
        return truth(lw, v, src)
    if src == "bool":
        return b.zext(v, I64) if dst == "i64" else b.uitofp(v, F64)
    if dst == "f64":
        return b.sitofp(v, F64)
    fn = lw.rt.intrinsic("llvm.fptosi.sat", [I64, F64], ir.FunctionType(I64, [F64]))
    return b.call(fn, [v])


def truth(lw: Lowerer, v: ir.Value, dtype: str) -> ir.Value:
    if dtype == "bool":
        return v
    if dtype == "f64":
        return lw.builder.fcmp_unordered("!=", v, ir.Constant(F64, 0.0))
    return lw.builder.icmp_signed("!=", v, ir.Constant(I64, 0))


def _promoted(lw: Lowerer, args: list[ir.Value], dtypes: list[str], to: str) -> list[ir.Value]:
    return [cast(lw, a, d, to) for a, d in zip(args, dtypes)]


def _common(dtypes: list[str]) -> str:
    """The dtype two operands are compared in (bools compare as integers)."""
    return "f64" if "f64" in dtypes else "i64"


# --------------------------------------------------------------------------- arithmetic
def _binary(int_op: Callable | None, float_op: Callable) -> Kernel:
    """A kernel that promotes both operands to ``out`` and picks the integer or float form."""

    def kernel(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
        x, y = _promoted(lw, args, dtypes, out)
        if out == "f64":
            return float_op(lw, x, y)
        assert int_op is not None
        return int_op(lw, x, y)

    return kernel


def _check_nonzero(lw: Lowerer, y: ir.Value) -> None:
    is_zero = lw.builder.icmp_signed("==", y, ir.Constant(I64, 0))
    lw.fail_if(is_zero, ZeroDivisionError, "integer division or modulo by zero")


def _int_floordiv(lw: Lowerer, x: ir.Value, y: ir.Value) -> ir.Value:
    b = lw.builder
    _check_nonzero(lw, y)
    q, r = b.sdiv(x, y), b.srem(x, y)
    return b.sub(q, b.zext(_floor_adjust(lw, r, y), I64))


def _int_mod(lw: Lowerer, x: ir.Value, y: ir.Value) -> ir.Value:
    b = lw.builder
    _check_nonzero(lw, y)
    r = b.srem(x, y)
    return b.select(_floor_adjust(lw, r, y), b.add(r, y), r)


def _floor_adjust(lw: Lowerer, r: ir.Value, y: ir.Value) -> ir.Value:
    """C division truncates; Python floors: adjust when the remainder's sign differs from y's."""
    b = lw.builder
    zero = ir.Constant(I64, 0)
    return b.and_(b.icmp_signed("!=", r, zero), b.icmp_signed("<", b.xor(r, y), zero))


def _float_divmod(lw: Lowerer, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    """NumPy's ``npy_divmod``: floor quotient and remainder with the divisor's sign."""
    b, f = lw.builder, lw.fmf
    zero = ir.Constant(F64, 0.0)
    mod = b.frem(x, y, flags=f)
    div = b.fdiv(b.fsub(x, mod, flags=f), y, flags=f)
    fix = b.and_(
        b.fcmp_unordered("!=", mod, zero), b.xor(b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero))
    )
    mod = b.select(fix, b.fadd(mod, y, flags=f), mod)
    div = b.select(fix, b.fsub(div, ir.Constant(F64, 1.0), flags=f), div)
    floordiv = b.call(lw.rt.math("floor"), [div])
    round_up = b.fcmp_ordered(">", b.fsub(div, floordiv, flags=f), ir.Constant(F64, 0.5))
    floordiv = b.select(round_up, b.fadd(floordiv, ir.Constant(F64, 1.0), flags=f), floordiv)
    by_zero = b.fcmp_ordered("==", y, zero)
    return b.select(by_zero, b.fdiv(x, y, flags=f), floordiv), mod


def _int_pow(lw: Lowerer, x: ir.Value, y: ir.Value) -> ir.Value:
    b = lw.builder
    negative = b.icmp_signed("<", y, ir.Constant(I64, 0))
    lw.fail_if(negative, ValueError, "integers to negative integer powers are not allowed")
    fn, fb = lw.rt.helper("adc_ipow", ir.FunctionType(I64, [I64, I64]))
    if fb is not None:  # exponentiation by squaring
        base, exp = fn.args
        entry, loop, done = fb.block, fn.append_basic_block("loop"), fn.append_basic_block("done")
        fb.branch(loop)
        fb.position_at_end(loop)
        acc_phi, base_phi, exp_phi = fb.phi(I64), fb.phi(I64), fb.phi(I64)
        odd = fb.trunc(exp_phi, I1)
        acc = fb.select(odd, fb.mul(acc_phi, base_phi), acc_phi)
        next_exp = fb.ashr(exp_phi, ir.Constant(I64, 1))
        next_base = fb.mul(base_phi, base_phi)
        for phi, start, again in (
            (acc_phi, ir.Constant(I64, 1), acc),
            (base_phi, base, next_base),
            (exp_phi, exp, next_exp),
        ):
            phi.add_incoming(start, entry)
            phi.add_incoming(again, loop)
        fb.cbranch(fb.icmp_signed(">", next_exp, ir.Constant(I64, 0)), loop, done)
        fb.position_at_end(done)
        fb.ret(acc)
    return b.call(fn, [x, y])


def _float_extreme(pick_first: str) -> Callable:
    """NumPy's maximum/minimum: ``x`` if it wins or is NaN, else ``y`` (so NaN propagates)."""

    def op(lw: Lowerer, x: ir.Value, y: ir.Value) -> ir.Value:
        b = lw.builder
        first = b.or_(b.fcmp_ordered(pick_first, x, y), b.fcmp_unordered("uno", x, x))
        return b.select(first, x, y)

    return op


def _int_extreme(pick_first: str) -> Callable:
    return lambda lw, x, y: lw.builder.select(lw.builder.icmp_signed(pick_first, x, y), x, y)


def _logaddexp(lw: Lowerer, x: ir.Value, y: ir.Value) -> ir.Value:
    """NumPy's: exact for equal arguments (infinities too), log1p(exp(-|x-y|)) otherwise."""
    b, f, m = lw.builder, lw.fmf, lw.rt.math
    diff = b.fsub(x, y, flags=f)
    big = b.select(b.fcmp_ordered(">", diff, ir.Constant(F64, 0.0)), x, y)
    absdiff = b.call(m("fabs"), [diff])
    tail = b.call(m("log1p"), [b.call(m("exp"), [b.fneg(absdiff, flags=f)])])
    general = b.select(b.fcmp_unordered("uno", diff, diff), diff, b.fadd(big, tail, flags=f))
    same = b.fadd(x, ir.Constant(F64, math.log(2.0)), flags=f)
    return b.select(b.fcmp_ordered("==", x, y), same, general)


def _fbin(name: str) -> Callable:
    return lambda lw, x, y: getattr(lw.builder, name)(x, y, flags=lw.fmf)


def _ibin(name: str) -> Callable:
    return lambda lw, x, y: getattr(lw.builder, name)(x, y)


def _math2(name: str) -> Callable:
    return lambda lw, x, y: lw.builder.call(lw.rt.math(name, 2), [x, y], fastmath=lw.fmf)


# --------------------------------------------------------------------------- comparisons
def _compare(op: str) -> Kernel:
    def kernel(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
        common = _common(dtypes)
        x, y = _promoted(lw, args, dtypes, common)
        if common == "f64":  # != is true when either is NaN, like Python
            return (lw.builder.fcmp_unordered if op == "!=" else lw.builder.fcmp_ordered)(op, x, y)
        return lw.builder.icmp_signed(op, x, y)

    return kernel


def _logical(name: str) -> Kernel:
    def kernel(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
        x, y = (truth(lw, a, d) for a, d in zip(args, dtypes))
        return getattr(lw.builder, name)(x, y)

    return kernel


# --------------------------------------------------------------------------- unary
def _float_map(fname: str) -> Kernel:
    """sin, exp, ...: converted to float, then an intrinsic or libm call."""

    def kernel(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
        x = cast(lw, args[0], dtypes[0], "f64")
        return lw.builder.call(lw.rt.math(fname), [x], fastmath=lw.fmf)

    return kernel


def _same_map(int_op: Callable, float_op: Callable) -> Kernel:
    """neg, abs, floor, ...: keep the dtype (bools count as ints)."""

    def kernel(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
        x = cast(lw, args[0], dtypes[0], out)
        return float_op(lw, x) if out == "f64" else int_op(lw, x)

    return kernel


def _sign_float(lw: Lowerer, x: ir.Value) -> ir.Value:
    b = lw.builder
    zero = ir.Constant(F64, 0.0)
    pos = b.uitofp(b.fcmp_ordered(">", x, zero), F64)
    neg = b.uitofp(b.fcmp_ordered("<", x, zero), F64)
    return b.select(b.fcmp_unordered("uno", x, x), x, b.fsub(pos, neg))


def _sign_int(lw: Lowerer, x: ir.Value) -> ir.Value:
    b = lw.builder
    zero = ir.Constant(I64, 0)
    return b.sub(b.zext(b.icmp_signed(">", x, zero), I64), b.zext(b.icmp_signed("<", x, zero), I64))


def _identity(lw: Lowerer, x: ir.Value) -> ir.Value:
    return x


def _fcall(name: str) -> Callable:
    return lambda lw, x: lw.builder.call(lw.rt.math(name), [x], fastmath=lw.fmf)


def _not(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
    return lw.builder.not_(truth(lw, args[0], dtypes[0]))


def _isfinite(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
    if dtypes[0] != "f64":
        return ir.Constant(I1, 1)
    magnitude = lw.builder.call(lw.rt.math("fabs"), [args[0]])
    return lw.builder.fcmp_ordered("<", magnitude, ir.Constant(F64, math.inf))


def _to_int(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
    if dtypes[0] == "f64":
        finite = _isfinite(lw, args, dtypes, out)
        lw.fail_if(lw.builder.not_(finite), ValueError, "cannot convert float NaN or infinity to integer")
    return cast(lw, args[0], dtypes[0], "i64")


def _to(dtype: str) -> Kernel:
    return lambda lw, args, dtypes, out: cast(lw, args[0], dtypes[0], dtype)


# --------------------------------------------------------------------------- ternary
def _where(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
    c = truth(lw, args[0], dtypes[0])
    a, b = _promoted(lw, args[1:], dtypes[1:], out)
    return lw.builder.select(c, a, b)


def _clip(lw: Lowerer, args: list[ir.Value], dtypes: list[str], out: str) -> ir.Value:
    """NumPy's clip: minimum(maximum(x, lo), hi)."""
    x, lo, hi = _promoted(lw, args, dtypes, out)
    if out == "f64":
        return _float_extreme("<=")(lw, _float_extreme(">=")(lw, x, lo), hi)
    return _int_extreme("<=")(lw, _int_extreme(">=")(lw, x, lo), hi)


# --------------------------------------------------------------------------- the table
_MATH = {"arctan": "atan", "arcsin": "asin", "arccos": "acos"}

KERNELS: dict[str, Kernel] = {
    "add": _binary(_ibin("add"), _fbin("fadd")),
    "sub": _binary(_ibin("sub"), _fbin("fsub")),
    "mul": _binary(_ibin("mul"), _fbin("fmul")),
    "div": _binary(None, _fbin("fdiv")),
    "floordiv": _binary(_int_floordiv, lambda lw, x, y: _float_divmod(lw, x, y)[0]),
    "mod": _binary(_int_mod, lambda lw, x, y: _float_divmod(lw, x, y)[1]),
    "pow": _binary(_int_pow, _math2("pow")),
    "maximum": _binary(_int_extreme(">="), _float_extreme(">=")),
    "minimum": _binary(_int_extreme("<="), _float_extreme("<=")),
    "logaddexp": _binary(None, _logaddexp),
    "arctan2": _binary(None, _math2("atan2")),
    "lt": _compare("<"),
    "le": _compare("<="),
    "gt": _compare(">"),
    "ge": _compare(">="),
    "eq": _compare("=="),
    "ne": _compare("!="),
    "and": _logical("and_"),
    "or": _logical("or_"),
    **{
        name: _float_map(_MATH.get(name, name))
        for name in "sin cos tan exp exp2 expm1 log log2 log10 log1p sqrt tanh sinh cosh arctan arcsin arccos".split()
    },
    "neg": _same_map(lambda lw, x: lw.builder.neg(x), lambda lw, x: lw.builder.fneg(x, flags=lw.fmf)),
    "abs": _same_map(
        lambda lw, x: lw.builder.select(
            lw.builder.icmp_signed("<", x, ir.Constant(I64, 0)), lw.builder.neg(x), x
        ),
        _fcall("fabs"),
    ),
    "square": _same_map(
        lambda lw, x: lw.builder.mul(x, x), lambda lw, x: lw.builder.fmul(x, x, flags=lw.fmf)
    ),
    "sign": _same_map(_sign_int, _sign_float),
    "floor": _same_map(_identity, _fcall("floor")),
    "ceil": _same_map(_identity, _fcall("ceil")),
    "round": _same_map(_identity, _fcall("roundeven")),  # NumPy rounds halves to even
    "not": _not,
    "isfinite": _isfinite,
    "float": _to("f64"),
    "int": _to_int,
    "bool": _to("bool"),
    "where": _where,
    "clip": _clip,
}
