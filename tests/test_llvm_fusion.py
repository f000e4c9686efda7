"""The LLVM backend's fusion and matrix products: fast paths agree with NumPy, and so do the
paths they fall back to (broadcast axes of length 1, strided matrices, empty arrays).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.backends.llvm import blas, native
from benchmarks.problems.rosenbrock import rosenbrock
from tests.leaks import allocation_calls, assert_only_results_stay_allocated
from tests.test_llvm_backend import A1, A2, I64, jit

RNG = np.random.default_rng(1)


def test_rosenbrock_gradient_is_one_allocation_and_exact():
    g = ad.grad(rosenbrock, backend="llvm")
    for n in (2, 3, 1000):
        x = RNG.random(n)
        assert np.array_equal(g(x), ad.grad(rosenbrock)(x))
    (compiled,) = g._compiled.values()
    assert allocation_calls(compiled.llvm_ir) == 1  # the gradient itself; no temporaries
    assert "gather" not in compiled.llvm_ir  # unit-stride loads, vectorised


@pytest.mark.parametrize("yshape", [(4, 5), (1, 5), (4, 1), (1, 1)])
def test_fused_sum_to_both_paths(yshape):
    """``sum_to`` read through (equal shapes) or summing axes of length 1 inside its consumer."""
    fn = jit(
        "st",
        [("x", A2), ("y", A2)],
        lambda b, x, y: b.mul(b.sum_to(b.mul(x, y), b.shape(y)), b.const(2.0)),
    )
    x, y = RNG.random((4, 5)), RNG.random(yshape)
    expect = 2.0 * np.sum(x * y, axis=tuple(k for k, d in enumerate(yshape) if d == 1), keepdims=True)
    assert np.allclose(fn(x, y), expect, rtol=1e-14)


def test_recomputed_and_shape_only_values():
    """A cheap value with two consumers is computed by each; one only sized is never computed."""

    def build(b, x):
        t = b.sub(b.mul(x, x), b.const(1.0))
        unused = b.exp(b.add(t, x))
        return [b.add(t, x), b.sum(t), b.size(unused), b.mul(b.broadcast_to(b.const(3.0), b.shape(x)), t)]

    fn = jit("rc", [("x", A1)], build)
    x = RNG.random(7)
    got = fn(x)
    t = x * x - 1.0
    assert np.array_equal(got[0], t + x) and got[1] == pytest.approx(t.sum(), rel=1e-15)
    assert got[2] == 7 and np.array_equal(got[3], 3.0 * t)


def test_broadcast_with_length_one_axes_keeps_numpy_results():
    fn = jit("bc", [("x", A2), ("y", A2)], lambda b, x, y: b.sum(b.mul(b.add(x, y), y), axis=0))
    for xs, ys in (((3, 4), (1, 4)), ((3, 1), (3, 4)), ((1, 1), (2, 3))):
        x, y = RNG.random(xs), RNG.random(ys)
        assert np.allclose(fn(x, y), np.sum((x + y) * y, axis=0), rtol=1e-14)


MATRICES = {
    "contiguous": lambda a: a,
    "transposed": lambda a: np.ascontiguousarray(a.T).T,
    "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],  # no unit stride: the loop nest
}


@pytest.mark.parametrize("left", list(MATRICES))
@pytest.mark.parametrize("right", list(MATRICES))
def test_matmul_layouts(left, right):
    fn = jit("mm", [("a", A2), ("c", A2)], lambda b, a, c: b.matmul(a, c))
    a, c = MATRICES[left](RNG.random((5, 3))), MATRICES[right](RNG.random((3, 4)))
    assert np.allclose(fn(a, c), a @ c, rtol=1e-13)


@pytest.mark.parametrize("shapes", [((1, 3), (3, 1)), ((0, 3), (3, 2)), ((2, 0), (0, 3)), ((4, 1), (1, 5))])
def test_matmul_edge_shapes(shapes):
    fn = jit("mm", [("a", A2), ("c", A2)], lambda b, a, c: b.dot(a, c))
    a, c = RNG.random(shapes[0]), RNG.random(shapes[1])
    assert np.allclose(fn(a, c), a @ c, rtol=1e-13)


def _matvec():
    return jit("mm", [("a", A2), ("c", A1)], lambda b, a, c: b.matmul(a, b.expand_dims(c, axis=1)))


def test_matrix_products_use_blas_when_available():
    fn = _matvec()
    found = blas.find()
    assert (found is not None and found.symbol("dgemm") in fn.llvm_ir) or (
        found is None and "adc_dgemm" not in fn.llvm_ir
    )
    a, c = RNG.random((300, 200)), RNG.random(200)
    assert np.allclose(fn(a, c)[:, 0], a @ c, rtol=1e-12)


@pytest.mark.parametrize("source", ["numpy", "scipy"])
def test_each_blas_source_computes_the_product(source, monkeypatch):
    """NumPy's ILP64 OpenBLAS and SciPy's LP64 BLAS, each called with its own integer width."""
    found = native._numpy_blas() if source == "numpy" else native._scipy_blas()
    if found is None:
        pytest.skip(f"no BLAS from {source} on this machine")
    blas.register(found)
    monkeypatch.setattr(native, "find", lambda: found)
    monkeypatch.setattr(blas, "find", lambda: found)
    fn = _matvec()
    assert f"adc_dgemm{found.int_bits}" in fn.llvm_ir
    a, c = RNG.random((70, 50)), RNG.random(50)
    assert np.allclose(fn(a, c)[:, 0], a @ c, rtol=1e-12)
    assert np.allclose(fn(a.T.copy().T, c)[:, 0], a @ c, rtol=1e-12)
    mv = jit("mv", [("a", A2), ("v", A1)], lambda b, a, v: b.matmul(a, v))
    assert f"adc_dgemv{found.int_bits}" in mv.llvm_ir
    assert np.allclose(mv(a, c), a @ c, rtol=1e-12) and np.allclose(mv(a.T.copy().T, c), a @ c, rtol=1e-12)


def test_recomputed_value_keeps_its_operands_until_its_last_consumer():
    """The operands of a value recomputed by two consumers live until the later one computes.

    ``p`` is read by ``c2`` (for ``r``) and by ``c1`` (for ``s``, last): the write into ``a``
    in between must copy, not reuse ``a``'s memory that ``s`` still reads.
    """

    def build(b, x):
        a = b.copy(x)
        p = b.mul(a, b.const(2.0))
        c1 = b.add(p, b.const(1.0))
        c2 = b.mul(p, b.const(3.0))
        r = b.add(c2, b.const(0.5))
        a2 = b.setitem(a, b.const(9.0), b.const(0), index=(("idx",),))
        return [r, a2, b.sum(c1)]

    fn = jit("late", [("x", A1)], build)
    x = RNG.random(6)
    r, a2, s = fn(x)
    assert np.array_equal(r, 6.0 * x + 0.5) and a2[0] == 9.0
    assert s == pytest.approx(np.sum(2.0 * x + 1.0), rel=1e-15)


def test_summing_copy_of_a_versioned_op_is_compiled_plainly():
    """A fused ``sum_to`` to a shape only known at run time (here: two ints) is versioned.
    The copy that really sums is not vectorised or unrolled (it rarely runs; optimising it
    hard doubles compile time); the other copy is vectorised."""
    fn = jit(
        "st",
        [("x", A2), ("y", A2), ("m", I64), ("n", I64)],
        lambda b, x, y, m, n: b.mul(b.sum_to(b.mul(x, y), b.tuple(m, n)), b.const(2.0)),
    )
    assert re.search(r'!"llvm.loop.vectorize.enable", i1 (false|0)', fn.llvm_ir)
    assert "<4 x double>" in fn.llvm_ir or "<2 x double>" in fn.llvm_ir or "<8 x double>" in fn.llvm_ir
    x, y = RNG.random((4, 5)), RNG.random((4, 5))
    assert np.array_equal(fn(x, y, 4, 5), 2.0 * (x * y))
    assert np.allclose(fn(x, y, 1, 5), 2.0 * np.sum(x * y, axis=0, keepdims=True), rtol=1e-14)


def test_specialised_to_axes_of_length_one():
    """The code is specialised to which axes of the array arguments have length 1: with none,
    broadcasting is decided at compile time (no versioned copy, no stride selects); each
    other pattern compiles its own code, and every one gives NumPy's result."""
    fn = jit(
        "st",
        [("x", A2), ("y", A2)],
        lambda b, x, y: b.mul(b.sum_to(b.mul(x, y), b.shape(y)), b.const(2.0)),
    )
    assert not re.search(r'!"llvm.loop.vectorize.enable", i1 (false|0)', fn.llvm_ir)
    x = RNG.random((4, 5))
    for yshape in [(4, 5), (1, 5), (4, 1), (1, 1), (4, 5), (1, 5)]:
        y = RNG.random(yshape)
        expect = 2.0 * np.sum(x * y, axis=tuple(k for k, d in enumerate(yshape) if d == 1), keepdims=True)
        assert np.allclose(fn(x, y), expect, rtol=1e-14)
    with pytest.raises(ValueError, match="broadcast"):
        fn(x, RNG.random((3, 5)))


def _trim(b, x, lo: int | None, hi: int | None):
    """``x[lo:hi]`` in the IR."""
    bounds = [b.const(v) for v in (lo, hi) if v is not None]
    return b.getitem(x, *bounds, index=(("slice", lo is not None, hi is not None, False),))


def test_slices_trimming_the_same_count_share_their_length():
    """``x[1:]``, ``x[:-1]`` and ``x[2:-1]``... of a parameter: slices trimming as many
    elements off its axis have the very same length, so combining them needs no broadcast
    check, and Rosenbrock's gradient no versioned copy for a ``sum_to`` that might sum."""

    def build(b, x):
        pairs = [(1, None, None, -1), (2, -1, None, -3), (0, -2, 1, -1), (None, None, 0, None)]
        return [b.sub(_trim(b, x, *p[:2]), _trim(b, x, *p[2:])) for p in pairs]

    fn = jit("tr", [("x", A1)], build)
    for n in range(6):
        x = RNG.random(n)
        expect = [x[1:] - x[:-1], x[2:-1] - x[:-3], x[0:-2] - x[1:-1], x[:] - x[0:]]
        assert all(np.array_equal(g, e) for g, e in zip(fn(x), expect))
    mismatched = jit("mm", [("x", A1)], lambda b, x: b.sub(_trim(b, x, 1, None), _trim(b, x, 2, None)))
    with pytest.raises(ValueError, match="broadcast"):
        mismatched(RNG.random(4))
    g = ad.grad(rosenbrock, backend="llvm")
    g(RNG.random(5))
    assert not re.search(r'!"llvm.loop.vectorize.enable", i1 (false|0)', g.llvm_ir)


@pytest.mark.parametrize(
    "xshape, bshape", [((3, 4), (4,)), ((3, 4), (1, 4)), ((3, 1), (4,)), ((1, 4), (3, 4)), ((1, 1), (1,))]
)
def test_gradient_of_broadcasting_in_every_pattern(xshape, bshape):
    """The adjoint of a broadcast (``sum_to``) sums exactly the broadcast axes, whichever
    axes of length 1 the code was specialised to."""

    def f(x, b):
        return np.sum(np.sin(x + b) * (x * b))

    g = ad.grad(f, wrt=(0, 1), backend="llvm")
    reference = ad.grad(f, wrt=(0, 1))
    x, b = RNG.random(xshape), RNG.random(bshape)
    for got, want in zip(g(x, b), reference(x, b)):
        assert got.shape == want.shape and np.allclose(got, want, rtol=1e-13, atol=0)


def test_broadcast_operands_of_fused_chains_read_through_zero_strides():
    """No per-element selects for broadcasting: a Deferred of shape (1, n) read at (i, j)
    lands on row 0 through its arrays' zero strides, in every broadcasting combination."""
    fn = jit("bc", [("x", A2), ("y", A2)], lambda b, x, y: b.add(b.exp(b.mul(x, x)), b.sin(y)))
    for xs, ys in [((3, 4), (1, 4)), ((1, 4), (3, 4)), ((3, 1), (1, 4)), ((1, 1), (3, 4)), ((3, 4), (3, 4))]:
        x, y = RNG.random(xs), RNG.random(ys)
        assert np.allclose(fn(x, y), np.exp(x * x) + np.sin(y), rtol=1e-14, atol=0)
    assert "vector.body" in fn.llvm_ir
    assert "select" not in fn.llvm_ir.split("vector.body", 1)[-1].split("middle.block", 1)[0]


@pytest.mark.parametrize("layout", ["contiguous", "strided", "reversed", "transposed"])
def test_matrix_vector_products_through_blas(layout):
    """``A @ v`` and ``v @ A`` as BLAS products of a one-column/one-row matrix, falling back
    to loops where BLAS cannot describe the layout (a reversed vector)."""
    mv = jit("mv", [("a", A2), ("v", A1)], lambda b, a, v: b.matmul(a, v))
    vm = jit("vm", [("v", A1), ("a", A2)], lambda b, v, a: b.matmul(v, a))
    found = blas.find()
    assert found is None or found.symbol("dgemv") in mv.llvm_ir and found.symbol("dgemv") in vm.llvm_ir
    a, v = RNG.random((6, 5)), RNG.random(10)
    v = {"contiguous": v[:5], "strided": v[::2], "reversed": v[::-2], "transposed": v[:5]}[layout]
    if layout == "transposed":
        a = RNG.random((5, 6)).T
    assert np.allclose(mv(a, v), a @ v, rtol=1e-13)
    w = RNG.random(6)
    assert np.allclose(vm(w, a), w @ a, rtol=1e-13)


def test_products_share_one_out_of_line_helper():
    """Every matrix product of a kind calls one helper function of the module (layout checks,
    BLAS, fallback loops): compiled once, not once per product. Each layout still computes
    NumPy's product, through BLAS or the loops."""

    def f(x, w, v):
        return np.sum((x @ w) @ v + x @ (w @ v))

    g = ad.jit(f)
    x, w, v = RNG.random((6, 5)), RNG.random((5, 4)), RNG.random((4, 3))
    for xs in (x, x.T.copy().T, x[::-1], x[:, ::-1]):
        assert np.isclose(g(xs, w, v), f(xs, w, v), rtol=1e-13)
    assert len(re.findall(r"define internal \w* ?void @adc_matmul_f64\(", g.llvm_ir)) == 1
    gradient = ad.grad(f, wrt=(0, 1), backend="llvm")(x[::-1], w, v)
    for got, want in zip(gradient, ad.grad(f, wrt=(0, 1))(x[::-1], w, v)):
        assert np.allclose(got, want, rtol=1e-13)


@pytest.mark.skipif(blas.find() is None, reason="without BLAS the loops are the product, optimised")
def test_loops_standing_in_for_blas_are_not_optimised():
    """They run only for layouts BLAS cannot read: one function, which LLVM does not optimise."""

    def f(x, w):
        return x @ w

    g = ad.jit(f)
    x, w = RNG.random((6, 5)), RNG.random((5, 4))
    strided = MATRICES["strided"](x)
    assert np.allclose(g(strided, w), strided @ w, rtol=1e-14)
    (loops,) = re.findall(r"define internal .*@adc_matmul_loops_f64\(.*#(\d+)", g.llvm_ir)
    assert "optnone" in re.search(rf"^attributes #{loops} = {{(.*)}}", g.llvm_ir, re.MULTILINE).group(1)


@pytest.mark.skipif(blas.find() is None, reason="without BLAS the loops are the product, optimised")
def test_the_call_to_blas_is_not_optimised():
    """Checks of the layouts and a call, once per product: LLVM does not optimise them."""

    def f(x, w, v):
        return (x @ w) @ v

    g = ad.jit(f)
    x, w, v = RNG.random((6, 5)), RNG.random((5, 4)), RNG.random(4)
    assert np.allclose(g(x, w, v), f(x, w, v), rtol=1e-14)
    for helper in ("matmul", "matvec"):
        (attrs,) = re.findall(rf"define internal .*@adc_{helper}_f64\(.*#(\d+)", g.llvm_ir)
        assert "optnone" in re.search(rf"^attributes #{attrs} = {{(.*)}}", g.llvm_ir, re.MULTILINE).group(1)


def test_a_value_only_sized_as_a_scalar_is_not_computed():
    """The gradient of a mean scales by ``np.size`` of the primal's mean: the mean itself, and
    the ``log1p`` it sums, are not computed (the IR and the Python source keep them)."""

    def loss(w, x):
        m = x @ w
        return np.mean(np.maximum(m, 0.0) + np.log1p(np.exp(-np.abs(m))))

    g = ad.grad(loss, backend="llvm")
    w, x = RNG.normal(size=5), RNG.normal(size=(40, 5))
    assert np.allclose(g(w, x), ad.grad(loss)(w, x), rtol=1e-13, atol=1e-15)
    assert "log1p" in g.source
    assert "log1p" not in g.llvm_ir


def test_arrays_read_only_by_values_not_computed_are_freed():
    def loss(x):
        h = np.tanh(x @ x)  # an array of its own, read by the mean that is not computed
        return np.mean(h * h + np.log1p(h * h))

    g = ad.grad(loss, backend="llvm")
    x = RNG.normal(size=(6, 6))
    assert np.allclose(g(x), ad.grad(loss)(x), rtol=1e-13)
    assert_only_results_stay_allocated([(g, (x,), (np.ones((6, 5)),), ValueError)])
