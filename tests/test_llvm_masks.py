"""The LLVM backend on boolean masks: ``x[m]``, ``x[:, m]``, ``x[m] = v``, ``x[m] += v``.

A mask selects, in C order, the elements (or rows, or columns) where it is true: the
result's length is known only once the mask is read. ``ad.jit(f)`` is checked against NumPy
running ``f``; every derivative (reverse, forward, ``vjp``, ``jvp``, Hessian, ``grad(grad)``)
against the Python backend and central finite differences. Masks (random, all false, all
true) come from hypothesis, from comparisons of the arguments, and from loops. Each compiled
function is made once, at import, so the examples reuse its machine code.
"""

from __future__ import annotations

import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad, numerical_jacobian
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import adcompiler as ad
from tests.leaks import assert_only_results_stay_allocated

VALUES = st.floats(-3, 3, allow_nan=False)


@st.composite
def array_and_mask(draw: st.DrawFn, ndim: int, mask_ndim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An array of rank ``ndim`` and a mask over its leading ``mask_ndim`` axes (all of them
    by default): random, all false or all true; empty axes included."""
    shape = draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=0, max_side=5))
    x = draw(hnp.arrays(np.float64, shape, elements=VALUES))
    mask_shape = shape[: ndim if mask_ndim is None else mask_ndim]
    kind = draw(st.sampled_from(["random", "none", "all"]))
    if kind == "random":
        return x, draw(hnp.arrays(np.bool_, mask_shape))
    return x, np.full(mask_shape, kind == "all")


# --------------------------------------------------------------------------- reads
def select(x, m):
    return x[m]


def select_columns(x, m):
    return x[:, m]


def select_positive(x):
    return x[x > 0.0] * 2.0


def select_by_other(x, y):
    return x[(y > 0.5) & (x < 1.0)]


def select_then_slice(x, m):
    return x[m, 1:]


def select_rows_of_last(x, m):
    return x[-1, m]  # an int next to the mask: the selected axis stays in place


SELECT_JIT = {
    f: ad.jit(f) for f in [select, select_columns, select_positive, select_by_other, select_then_slice]
}


@pytest.mark.parametrize("ndim", [1, 2, 3])
@given(data=st.data())
def test_a_mask_of_the_arrays_shape_selects_its_elements_in_c_order(ndim, data):
    x, m = data.draw(array_and_mask(ndim))
    got, expected = SELECT_JIT[select](x, m), select(x, m)
    assert got.shape == expected.shape and np.array_equal(got, expected)
    got = SELECT_JIT[select](x.T, m.T)  # a strided view: still C order of the view
    assert np.array_equal(got, select(x.T, m.T))


@given(data=st.data())
def test_a_mask_on_the_leading_axis_selects_rows(data):
    x, m = data.draw(array_and_mask(2, mask_ndim=1))
    assert np.array_equal(SELECT_JIT[select](x, m), x[m])
    if x.shape[1] > 0:
        assert np.array_equal(SELECT_JIT[select_then_slice](x, m), x[m, 1:])
    x3, m3 = data.draw(array_and_mask(3, mask_ndim=2))
    got = SELECT_JIT[select](x3, m3)
    assert got.shape == x3[m3].shape and np.array_equal(got, x3[m3])


@given(data=st.data())
def test_a_mask_after_a_slice_selects_columns(data):
    x, m = data.draw(array_and_mask(2))
    m = m[0] if x.shape[0] else np.zeros(x.shape[1], bool)
    got = SELECT_JIT[select_columns](x, m)
    assert got.shape == x[:, m].shape and np.array_equal(got, x[:, m])


@given(data=st.data())
def test_masks_from_comparisons_of_the_arguments(data):
    x, _ = data.draw(array_and_mask(2))
    y = data.draw(hnp.arrays(np.float64, x.shape, elements=VALUES))
    assert np.array_equal(SELECT_JIT[select_positive](x), select_positive(x))
    assert np.array_equal(SELECT_JIT[select_by_other](x, y), select_by_other(x, y))


def test_where_the_selected_axis_goes_next_to_ints():
    """NumPy's rule for an int beside a mask, as for an int beside an index array."""

    def split(x, r, m, c):
        return x[0, :, c], x[:, 1, c], x[1, m, :], x[..., c], x[r, None], x[None, :, m, 2]

    x = np.arange(60.0).reshape(3, 4, 5)
    r, m, c = (
        np.array([True, False, True]),
        np.array([True, False, True, True]),
        np.array([0, 1, 1, 0, 1], bool),
    )
    for got, expected in zip(ad.jit(split)(x, r, m, c), split(x, r, m, c), strict=True):
        assert got.shape == expected.shape and np.array_equal(got, expected)
    g = ad.jit(select_rows_of_last)
    assert np.array_equal(g(x[0], c), x[0][-1, c])


# --------------------------------------------------------------------------- writes
def write_scalar(x, m):
    y = x * 1.0
    y[m] = -1.0
    return y


def write_array(x, m, v):
    y = x * 1.0
    y[m] = v
    return y


def add_to_selected(x, m):
    y = x * 1.0
    y[m] += np.arange(1.0, np.sum(m) + 1.0)
    return y


def write_rows(x, m):
    y = x * 1.0
    y[m] = x[0] * 2.0  # a row broadcast to every selected row
    return y


WRITE_JIT = {f: ad.jit(f) for f in [write_scalar, write_array, add_to_selected, write_rows]}


@pytest.mark.parametrize("ndim", [1, 2])
@given(data=st.data())
def test_writes_through_a_mask_match_numpy(ndim, data):
    x, m = data.draw(array_and_mask(ndim))
    v = np.linspace(-1.0, 1.0, int(m.sum()))
    assert np.array_equal(WRITE_JIT[write_scalar](x, m), write_scalar(x, m))
    assert np.array_equal(WRITE_JIT[write_array](x, m, v), write_array(x, m, v))
    assert np.array_equal(WRITE_JIT[add_to_selected](x, m), add_to_selected(x, m))


@given(data=st.data())
def test_writing_rows_through_a_mask(data):
    x, m = data.draw(array_and_mask(2, mask_ndim=1))
    if x.shape[0]:
        assert np.array_equal(WRITE_JIT[write_rows](x, m), write_rows(x, m))


def test_a_write_never_changes_its_input_and_a_value_of_length_one_broadcasts():
    def clamp(y):
        y[y > 1.0] = 1.0
        return y

    y = np.array([0.5, 2.0, 3.0])
    assert np.array_equal(ad.jit(clamp)(y), [0.5, 1.0, 1.0]) and y[1] == 2.0
    x, m = np.arange(4.0), np.array([True, False, True, True])
    assert np.array_equal(WRITE_JIT[write_array](x, m, np.array([7.0])), write_array(x, m, np.array([7.0])))


# --------------------------------------------------------------------------- errors
def test_a_mask_of_another_shape_raises_index_error():
    x = np.ones((3, 4))
    for f, m in [
        (select, np.ones((3, 3), bool)),
        (select, np.ones(2, bool)),
        (select_columns, np.ones(5, bool)),
    ]:
        with pytest.raises(IndexError):
            f(x, m)
        with pytest.raises(IndexError, match="boolean index did not match"):
            SELECT_JIT[f](x, m)
    with pytest.raises(IndexError, match="boolean index did not match"):
        WRITE_JIT[write_scalar](x, np.ones((4, 3), bool))
    with pytest.raises(IndexError, match="boolean index did not match"):
        GRADS[loss_of_mask](x, np.ones((3, 3), bool))


def test_a_value_of_another_length_raises_value_error():
    x, m = np.arange(5.0), np.array([True, False, True, True, False])
    for v in [np.ones(2), np.ones(4), np.ones(0)]:
        with pytest.raises(ValueError):
            write_array(x, m, v)
        with pytest.raises(ValueError, match="broadcast"):
            WRITE_JIT[write_array](x, m, v)


def test_masks_leave_only_their_results_allocated():
    """A call returns one new array and frees the rest (the mask's positions too); a call
    that raises frees all."""
    x = np.random.default_rng(0).normal(size=(4, 3))
    m, bad = x > 0.0, np.ones((4, 4), bool)
    calls = [  # (compiled, arguments, arguments that raise, the exception)
        (SELECT_JIT[select], (x, m), (x, bad), IndexError),
        (SELECT_JIT[select_columns], (x, m[0]), (x, bad[0]), IndexError),
        (WRITE_JIT[write_array], (x, m, np.ones(m.sum())), (x, m, np.ones(m.sum() + 1)), ValueError),
        (GRADS[loss_of_mask], (x, m), (x, bad), IndexError),
        (GRADS[loss_in_a_loop], (x,), None, None),
        (FORWARD[loss_rewritten], (x,), None, None),
    ]
    assert_only_results_stay_allocated(calls)


# --------------------------------------------------------------------------- derivatives
def loss_of_mask(x, m):
    return np.sum(np.sin(x[m]) * x[m])


def loss_positive(x):
    y = x[x > 0.5]
    return np.sum(y * y)


def loss_by_other(x, y):
    return np.sum(np.exp(x[y > 0.0]) * y[y > 0.0])


def loss_rewritten(x):
    z = x * 1.0
    z[x > 0.5] = 2.0 * x[x > 0.5] ** 2
    z[z < 0.0] = 0.0
    return np.sum(z**2)


def loss_added(x):
    z = np.sin(x)
    z[x > 0.0] += x[x > 0.0] ** 3
    return np.sum(z * z)


def loss_rows(x):
    r = x[np.sum(x, axis=1) > 0.0]
    return np.sum(r[:, 1:] ** 2) + np.sum(np.cos(x[:, x[0] > 0.0]))


def loss_in_a_loop(x):
    s = 0.0
    z = x * 1.0
    for i in range(3):
        keep = z > 0.3 * i
        s = s + np.sum(np.sin(z[keep]) * (i + 1.0))
        z[keep] = z[keep] * 0.5
    return s + np.sum(z**2)


LOSSES = [loss_positive, loss_rewritten, loss_added, loss_rows, loss_in_a_loop]
GRADS = {f: ad.grad(f, backend="llvm") for f in [*LOSSES, loss_of_mask, loss_by_other]}
FORWARD = {f: ad.grad(f, backend="llvm", mode="forward") for f in LOSSES}


def away_from_thresholds(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Values at least 0.05 from every threshold the losses compare with (so finite
    differences see the same masks)."""
    x = np.random.default_rng(seed).uniform(-1.5, 1.5, size=shape)
    for t in (0.0, 0.3, 0.5, 0.6):
        x = np.where(np.abs(x - t) < 0.05, t + 0.1, x)
    return x


CASES = [(f, shape) for f in LOSSES for shape in [(7,), (4, 5)] if f is not loss_rows or len(shape) == 2]


@pytest.mark.parametrize("f,shape", CASES, ids=[f"{f.__name__}-{len(s)}d" for f, s in CASES])
def test_gradients_match_the_python_backend_and_finite_differences(f, shape):
    x = away_from_thresholds(shape, seed=len(shape))
    expected = ad.grad(f)(x)
    for got in (GRADS[f](x), FORWARD[f](x), ad.value_and_grad(f, backend="llvm")(x)[1]):
        assert np.allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert_grad_close(expected, numerical_grad(f, (x,)))
    assert ad.value_and_grad(f, backend="llvm")(x)[0] == pytest.approx(f(x), rel=1e-12)


@pytest.mark.parametrize("ndim", [1, 2])
@given(data=st.data())
def test_gradients_through_random_masks(ndim, data):
    x, m = data.draw(array_and_mask(ndim))
    got, expected = GRADS[loss_of_mask](x, m), ad.grad(loss_of_mask)(x, m)
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-12)
    if x.size:  # finite differences need an entry to move
        assert_grad_close(got, numerical_grad(lambda x: loss_of_mask(x, m), (x,)))


def test_gradients_with_a_mask_from_another_argument():
    x, y = away_from_thresholds((3, 4), 5), away_from_thresholds((3, 4), 6)
    g = ad.grad(loss_by_other, wrt=(0, 1), backend="llvm")
    got = g(x, y)
    for a, b in zip(got, ad.grad(loss_by_other, wrt=(0, 1))(x, y), strict=True):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12)
    assert_grad_close(got, numerical_grad(loss_by_other, (x, y), wrt=(0, 1)))


def test_vjp_and_jvp_of_a_selection():
    x = away_from_thresholds((3, 4), 7)
    n = int(np.sum(x > 0.0))
    ct, t = np.linspace(-1.0, 1.0, n), np.random.default_rng(8).normal(size=x.shape)
    vjp = ad.vjp(select_positive, backend="llvm")(x, ct)
    assert np.allclose(vjp, ad.vjp(select_positive)(x, ct), rtol=1e-12)
    assert_grad_close(vjp, numerical_grad(lambda x: np.dot(select_positive(x), ct), (x,)))
    value, tangent = ad.jvp(select_positive, backend="llvm")(x, t)
    assert np.array_equal(value, select_positive(x))
    jacobian = numerical_jacobian(select_positive, (x,), 0)
    assert_grad_close(tangent, np.tensordot(jacobian, t, axes=t.ndim))


@pytest.mark.parametrize("f", [loss_positive, loss_rewritten, loss_rows], ids=lambda f: f.__name__)
def test_hessians(f):
    x = away_from_thresholds((3, 4), 9)
    got = ad.hessian(f, backend="llvm")(x)
    assert np.allclose(got, ad.hessian(f)(x), rtol=1e-12, atol=1e-12)
    assert_grad_close(got, numerical_jacobian(ad.grad(f), (x,), 0), rtol=1e-4, atol=1e-6)


def test_second_derivative_of_a_scale():
    def f(a, x):
        y = a * x
        return np.sum(y[x > 0.0] ** 3)

    x = away_from_thresholds((5,), 10)
    got = ad.grad(ad.grad(f), backend="llvm")(1.5, x)
    assert got == pytest.approx(ad.grad(ad.grad(f))(1.5, x), rel=1e-12)
    assert got == pytest.approx(6.0 * 1.5 * np.sum(x[x > 0.0] ** 3), rel=1e-12)
