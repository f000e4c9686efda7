"""The LLVM backend's vectorisable ``exp``/``tanh`` (``vmath``) and NumPy's pairwise sums
(``pairwise``): faithful to within one ulp, and equal to NumPy's sums bit for bit."""

from __future__ import annotations

import math
import re
import struct
from fractions import Fraction

import llvmlite.binding as llvm
import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad
from hypothesis import given
from hypothesis import strategies as st

import adcompiler as ad
from adcompiler.backends.llvm import vmath

RNG = np.random.default_rng(20261201)


def exp_of(x):
    return np.exp(x)


def tanh_of(x):
    return np.tanh(x)


EXP, TANH = ad.jit(exp_of), ad.jit(tanh_of)


def ulp_error(got: np.ndarray, x: np.ndarray, f) -> np.ndarray:
    """|got - f(x)| in units of the last place of the rounded result, the reference taken in
    ``long double`` (64-bit significand on x86: 11 bits to spare)."""
    exact = f(x.astype(np.longdouble))
    with np.errstate(over="ignore"):
        rounded = exact.astype(np.float64)
    error = np.abs(got.astype(np.longdouble) - exact) / np.spacing(np.abs(rounded)).astype(np.longdouble)
    error[(got == rounded) | (np.isnan(got) & np.isnan(rounded))] = 0
    return error


needs_long_double = pytest.mark.skipif(
    np.finfo(np.longdouble).nmant < 63, reason="the ulp reference needs an 80-bit long double"
)


@needs_long_double
@pytest.mark.parametrize(
    "lo, hi",
    [(-750.0, 712.0), (-5.0, 5.0), (-745.2, -708.0), (700.0, 709.8), (-1e-3, 1e-3)],
    ids=["whole range", "moderate", "subnormal results", "near overflow", "small"],
)
def test_exp_is_within_one_ulp(lo, hi):
    x = RNG.uniform(lo, hi, 1_000_000)
    assert ulp_error(EXP(x), x, np.exp).max() < 1.0


@needs_long_double
@pytest.mark.parametrize(
    "lo, hi",
    [(-25.0, 25.0), (-1.5, 1.5), (0.2, 0.3), (0.5, 0.7), (19.0, 19.2)],
    ids=["whole range", "moderate", "branch point", "tanh near 1/2", "rounding to 1"],
)
def test_tanh_is_within_one_ulp(lo, hi):
    x = RNG.uniform(lo, hi, 1_000_000)
    assert ulp_error(TANH(x), x, np.tanh).max() < 1.0


@needs_long_double
def test_tiny_arguments():
    x = RNG.choice([-1.0, 1.0], 1_000_000) * 10 ** RNG.uniform(-323, 0, 1_000_000)
    assert ulp_error(EXP(x), x, np.exp).max() < 1.0
    assert ulp_error(TANH(x), x, np.tanh).max() < 1.0


SPECIAL = np.array(
    [np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 1e-310, -1e-310, 709.782712893384, 709.79,
     -745.13, -745.14, -746.0, 800.0, -800.0, 19.1, -19.1, 20.0, 1e300, -1e300]
)  # fmt: skip


def test_special_values_are_numpys():
    with np.errstate(over="ignore"):
        for ours, numpy in ((EXP, np.exp), (TANH, np.tanh)):
            got, want = ours(SPECIAL), numpy(SPECIAL)
            assert np.array_equal(got, want, equal_nan=True)
            assert np.array_equal(np.signbit(got), np.signbit(want))  # tanh(-0.0) is -0.0


def test_scalar_code_keeps_libm():
    """Scalars are computed by libm, as Python's math module does."""

    def f(x):
        return np.exp(x) + np.tanh(x)

    for x in RNG.uniform(-3, 3, 20).tolist():
        assert ad.jit(f)(x) == math.exp(x) + math.tanh(x)


@given(st.lists(st.floats(-30, 30), min_size=1, max_size=40))
def test_equal_to_the_python_backend(values):
    x = np.array(values)
    for f in (exp_of, tanh_of):
        assert np.allclose(ad.jit(f)(x), f(x), rtol=1e-12, atol=1e-12)


def test_gradients_through_exp_and_tanh():
    def f(w, x):
        return np.sum(np.tanh(x * w) * np.exp(-w * w))

    w, x = RNG.normal(size=50), RNG.normal(size=50)
    assert_grad_close(ad.jit(ad.grad(f))(w, x), numerical_grad(f, (w, x)), rtol=1e-7)


# --------------------------------------------------------------------------- pairwise sums
def total(x):
    return np.sum(x)


def average(x):
    return np.mean(x)


def rows(x):
    return np.sum(x, axis=-1)


def rows_kept(x):
    return np.sum(x, axis=-1, keepdims=True)


def all_kept(x):
    return np.sum(x, keepdims=True)


def dot_sum(x, y):
    return np.sum(x * y)


def dot_rows(x, y):
    return np.sum(x * y, axis=-1)


SUMS = {f: ad.jit(f) for f in (total, average, rows, rows_kept, all_kept, dot_sum, dot_rows)}


def spread(*shape):
    """Values over six orders of magnitude and both signs: sums that rounding tells apart."""
    return RNG.standard_normal(shape) * 10 ** RNG.uniform(-3, 3, shape)


@pytest.mark.parametrize("n", [*range(0, 300), 511, 512, 513, 1000, 1031, 4097, 65536, 1_000_003])
def test_sums_of_vectors_are_numpys(n):
    x, y = spread(n), spread(n)
    assert SUMS[total](x) == np.sum(x)
    assert SUMS[dot_sum](x, y) == np.sum(x * y)
    assert SUMS[total](x[::3]) == np.sum(x[::3])  # NumPy sums a strided vector pairwise too
    assert SUMS[total](x[::-1]) == np.sum(x[::-1])
    assert np.array_equal(SUMS[all_kept](x), np.sum(x, keepdims=True))
    if n:
        assert SUMS[average](x) == np.mean(x)


@pytest.mark.parametrize(
    "shape", [(3, 5), (4, 100), (7, 300), (5, 1000), (300, 7), (2, 3, 129), (1, 1000), (1000, 1)]
)
def test_sums_of_arrays_and_rows_are_numpys(shape):
    x, y = spread(*shape), spread(*shape)
    assert SUMS[total](x) == np.sum(x)  # C-contiguous: one run
    assert SUMS[dot_sum](x, y) == np.sum(x * y)  # NumPy's temporary, then one run
    assert np.array_equal(SUMS[all_kept](x), np.sum(x, keepdims=True))
    assert np.array_equal(SUMS[rows](x), np.sum(x, axis=-1))
    assert np.array_equal(SUMS[rows](x[..., ::2]), np.sum(x[..., ::2], axis=-1))
    assert np.array_equal(SUMS[rows_kept](x), np.sum(x, axis=-1, keepdims=True))
    assert np.array_equal(SUMS[dot_rows](x, y), np.sum(x * y, axis=-1))


def test_sums_of_non_contiguous_arrays_add_in_order():
    """NumPy's order for these depends on its iterator's buffering: summed in C order."""
    x = spread(40, 30)[:, ::2]
    assert SUMS[total](x) == pytest.approx(np.sum(x), rel=1e-12)
    assert SUMS[total](x.T) == pytest.approx(np.sum(x), rel=1e-12)


def test_signed_zeros_and_non_finite_sums():
    for n in (1, 20):
        assert (
            repr(float(SUMS[total](np.array([-0.0] * n))))
            == repr(float(np.sum(np.array([-0.0] * n))))
            == "0.0"
        )
    assert np.isnan(SUMS[total](np.array([np.inf, -np.inf] * 10)))
    assert SUMS[total](np.array([1.0, np.inf] * 100)) == np.inf


@given(st.lists(st.floats(-1e6, 1e6), max_size=300))
def test_sums_equal_numpys(values):
    x = np.array(values, dtype=np.float64)
    assert SUMS[total](x) == np.sum(x)


def exp_total(x):
    return np.sum(np.exp(x))


def exp_rows(x):
    return np.sum(np.exp(x), axis=-1)


COSTLY = {f: ad.jit(f) for f in (exp_total, exp_rows)}


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 300, 1031, 65536])
def test_sums_of_costly_expressions_are_numpys(n):
    """A costly fused operand is computed into a buffer, block by block: still NumPy's order."""
    x = RNG.uniform(-5, 5, n)
    assert COSTLY[exp_total](x) == np.sum(EXP(x))
    assert COSTLY[exp_total](x[::3]) == np.sum(EXP(x[::3]))
    m = RNG.uniform(-5, 5, (3, n))
    assert np.array_equal(COSTLY[exp_rows](m), np.sum(EXP(m), axis=-1))


def test_a_costly_summed_expression_is_emitted_once():
    """Not once per accumulator: one loop computes it (vectorised, and its scalar remainder)."""
    g = COSTLY[exp_total]
    g(RNG.normal(size=100))
    first_coefficient = "0x" + struct.pack(">d", vmath._EXP_POLY[-1]).hex().upper()
    assert g.llvm_ir.count(first_coefficient) <= 2


def test_sums_of_arrays_call_one_helper():
    def f(x, y):
        return np.sum(x) + np.sum(np.sum(y, axis=-1)) + np.mean(x)

    g = ad.jit(f)
    x, y = spread(50), spread(4, 30)
    assert g(x, y) == f(x, y)
    assert len(re.findall(r"^(?:define|declare) .*@adc_pairwise_f64\(", g.llvm_ir, re.MULTILINE)) == 1
    assert len(re.findall(r"call .*@adc_pairwise_f64\(", g.llvm_ir)) >= 2


def test_gradient_of_a_pairwise_sum():
    def f(x):
        return np.sum(np.sin(x) * x) + np.mean(np.sum(np.outer(x, x), axis=-1))

    x = RNG.normal(size=300)
    assert_grad_close(ad.jit(ad.grad(f))(x), numerical_grad(f, (x,)), rtol=1e-6)


def test_a_count_of_ties_is_one_running_sum():
    """The adjoint of ``max`` divides by the number of ties, a sum of 0.0s and 1.0s: exact in
    any order, so it is not added pairwise (no stack of tasks, no eight lanes)."""

    def f(x):
        return np.sum(np.max(x, axis=1, keepdims=True) * x)

    g = ad.jit(ad.grad(f))
    x = np.round(RNG.normal(size=(5, 300)))  # rows with ties, longer than a block of 128
    assert np.array_equal(g(x), ad.grad(f)(x))
    assert "[128 x i64]" not in g.llvm_ir


# --------------------------------------------------------------------------- the algorithm, bit for bit
def _fma(x: float, y: float, z: float) -> float:
    """x*y + z rounded once (CPython's int division rounds correctly)."""
    return float(Fraction(x) * Fraction(y) + Fraction(z))


#: ``llvm.fmuladd`` is fused where the CPU has FMA (x86: with it, LLVM always fuses)
_FMULADD = _fma if "+fma" in llvm.get_host_cpu_features().flatten() else lambda x, y, z: x * y + z


def _horner(x: float, coefficients: list[float]) -> float:
    acc = coefficients[0]
    for c in coefficients[1:]:
        acc = _FMULADD(acc, x, c)
    return acc


def _pow2(k: int) -> float:
    return struct.unpack("<d", struct.pack("<q", (k + 1023) << 52))[0]


def _bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


def _exp_parts(x: float) -> tuple[int, float, float]:
    shifted = x * vmath._INV_LN2 + vmath._SHIFT
    kd = shifted - vmath._SHIFT
    k = _bits(shifted) - _bits(vmath._SHIFT)
    hi = x - kd * vmath._LN2_HI
    lo = kd * vmath._LN2_LO
    r = hi - lo
    r_err = (hi - r) - lo
    poly = (r * r) * _horner(r, vmath._EXP_POLY[::-1])
    h = 1.0 + r
    h_err = (1.0 - h) + r
    return k, h, h_err + (poly + r_err)


def exp_reference(x: float) -> float:
    """``vmath``'s exp, one operation at a time in Python."""
    if math.isnan(x):
        return x
    k, h, t = _exp_parts(min(max(x, vmath._EXP_LO), vmath._EXP_HI))
    k1 = k >> 1
    return (h + t) * _pow2(k1) * _pow2(k - k1)


def tanh_reference(x: float) -> float:
    """``vmath``'s tanh, one operation at a time in Python."""
    if math.isnan(x):
        return x
    a, s = abs(x), x * x
    if a < vmath._TANH_SMALL:
        ratio = _horner(s, vmath._TANH_P) / _horner(s, vmath._TANH_Q)
        return math.copysign(a + a * (s * ratio), x)
    k, h, t = _exp_parts(min(a, vmath._TANH_BIG) * -2.0)
    ht, scale = h + t, _pow2(k)
    f, f_err = ht * scale, ((h - ht) + t) * scale
    d = 1.0 + f
    d_err = ((1.0 - d) + f) + f_err
    n = 1.0 - f
    n_err = ((1.0 - n) - f) - f_err
    ratio = 1.0 / d
    q = n * ratio
    residual = _fma(-q, d, n) + (n_err - q * d_err)
    return math.copysign(q + residual * ratio, x)


def _inputs() -> np.ndarray:
    """Special values, the edges of overflow and underflow, and a spread between."""
    edges = np.array([709.78, 709.782712893384, -708.4, -744.4, -745.1332191019411, 0.25, 19.06])
    near = np.concatenate([np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
    rng = np.random.default_rng(7)
    spread = [rng.uniform(lo, hi, 400) for lo, hi in [(-750, 712), (-5, 5), (-745.2, -708), (700, 709.8),
                                                      (-0.3, 0.3), (-20, 20)]]  # fmt: skip
    tiny = rng.choice([-1.0, 1.0], 200) * 10 ** rng.uniform(-323, -1, 200)
    return np.concatenate([SPECIAL, edges, -edges, near, tiny, *spread])


@pytest.mark.parametrize(
    "ours, reference", [(EXP, exp_reference), (TANH, tanh_reference)], ids=["exp", "tanh"]
)
def test_every_path_computes_the_algorithm_bit_for_bit(ours, reference):
    """The vectorised loop, its scalar remainder and a strided loop all give the bits of the
    algorithm written out in Python."""
    x = _inputs()
    want = np.array([reference(v) for v in x.tolist()])
    with np.errstate(over="ignore"):
        whole = ours(x)
        strided = ours(np.repeat(x, 3)[::3])
        remainders = np.concatenate([ours(x[i : i + 3]) for i in range(0, len(x), 3)])
    for got in (whole, strided, remainders):
        assert np.array_equal(got.view(np.int64), want.view(np.int64))
