"""The LLVM backend on integer positions: ``argmax``/``argmin`` along an axis, and indexing
with integer arrays (gathers, scatters, and ``index_add``, the adjoint of a gather).

Through the public API: ``ad.jit(f)`` against NumPy running ``f``, ``ad.grad(f,
backend="llvm")`` against the Python backend and finite differences. Shapes, indices
(negative, repeated) and values vary under hypothesis; each compiled function is made once,
at import, so the examples reuse its machine code.
"""

from __future__ import annotations

import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import adcompiler as ad
from tests.leaks import assert_only_results_stay_allocated

# values with ties (few distinct values), infinities and NaNs: where argmax's rules show
TIE_PRONE = st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 2.0, np.inf, np.nan])


def matrices(elements: st.SearchStrategy = TIE_PRONE, min_side: int = 1) -> st.SearchStrategy:
    shapes = hnp.array_shapes(min_dims=2, max_dims=2, min_side=min_side, max_side=5)
    return hnp.arrays(np.float64, shapes, elements=elements)


# --------------------------------------------------------------------------- argmax, argmin
def argmax_rows(x):
    return np.argmax(x, axis=1)


def argmin_cols(x):
    return np.argmin(x, axis=0)


def argmax_last_keepdims(x):
    return np.argmax(x, axis=-1, keepdims=True)


def argmin_flat_keepdims(x):
    return np.argmin(x, keepdims=True)


def argmax_of_bools(x):
    return np.argmax(x > 0.0, axis=0)


ARG_FUNCTIONS = [argmax_rows, argmin_cols, argmax_last_keepdims, argmin_flat_keepdims, argmax_of_bools]
ARG_JIT = {f: ad.jit(f) for f in ARG_FUNCTIONS}


@pytest.mark.parametrize("f", ARG_FUNCTIONS, ids=lambda f: f.__name__)
@given(x=matrices())
def test_argmax_argmin_along_an_axis_match_numpy(f, x):
    """First occurrence wins, the first NaN wins; keepdims keeps the axis (or every axis)."""
    got = ARG_JIT[f](x)
    expected = f(x)
    assert got.dtype == np.int64 and got.shape == expected.shape
    assert np.array_equal(got, expected)


def test_argmax_along_an_axis_of_a_3d_array_and_of_a_strided_view():
    def f(x):
        return np.argmax(x, axis=1) + 10 * np.argmin(x[:, 1:, ::-1], axis=2)

    x = np.random.default_rng(0).normal(size=(3, 5, 4))
    assert np.array_equal(ad.jit(f)(x), f(x))


def test_argmax_along_an_empty_axis_raises_like_numpy():
    jitted = ARG_JIT[argmax_rows]
    assert ARG_JIT[argmin_cols](np.zeros((3, 0))).shape == (0,)  # no element to find: fine
    for shape in [(3, 0), (0, 0)]:
        with pytest.raises(ValueError, match="empty sequence"):
            argmax_rows(np.zeros(shape))
        with pytest.raises(ValueError, match="empty sequence"):
            jitted(np.zeros(shape))


def test_argmax_in_a_gradient_picks_the_entry():
    def loss(x):
        k = np.argmax(x, axis=1)
        return np.sum(np.sin(x) * k[:, None])

    x = np.random.default_rng(1).normal(size=(4, 3))
    got = ad.grad(loss, backend="llvm")(x)
    assert np.allclose(got, ad.grad(loss)(x), rtol=1e-12)
    assert_grad_close(got, numerical_grad(loss, (x,)))


# --------------------------------------------------------------------------- gathers
@st.composite
def matrix_and_positions(draw: st.DrawFn, axis: int = 0, ndim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A matrix and an int array of positions along ``axis``: negative, repeated, maybe empty."""
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 4)))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-10, 10)))
    n = shape[axis]
    idx_shape = hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=0, max_side=4)
    return x, draw(hnp.arrays(np.int64, idx_shape, elements=st.integers(-n, n - 1)))


def rows(x, idx):
    return x[idx]


def columns(x, idx):
    return x[:, idx]


def rows_from_one(x, idx):
    return x[idx, 1:]


def row_then_columns(x, idx):
    return x[-1, idx]  # an int next to the array: the batch axis stays in place


def of_a_reversed_view(x, idx):
    return x[::-1][idx] * 2.0


GATHERS = [(rows, 0), (columns, 1), (rows_from_one, 0), (row_then_columns, 1), (of_a_reversed_view, 0)]
GATHER_JIT = {f: ad.jit(f) for f, _ in GATHERS}


@pytest.mark.parametrize("f,axis", GATHERS, ids=[f.__name__ for f, _ in GATHERS])
@given(data=st.data())
def test_gathers_match_numpy(f, axis, data):
    x, idx = data.draw(matrix_and_positions(axis))
    got, expected = GATHER_JIT[f](x, idx), f(x, idx)
    assert got.shape == expected.shape and np.array_equal(got, expected)


def two_arrays(x, idx, jdx):
    return x[idx[:, None], jdx]  # (k, 1) and (l,) broadcast to (k, l)


TWO_ARRAYS_JIT = ad.jit(two_arrays)


@given(data=st.data())
def test_a_pair_of_index_arrays_broadcast(data):
    x, idx = data.draw(matrix_and_positions(0))
    jdx = data.draw(
        hnp.arrays(np.int64, st.integers(0, 4), elements=st.integers(-x.shape[1], x.shape[1] - 1))
    )
    got, expected = TWO_ARRAYS_JIT(x, idx, jdx), two_arrays(x, idx, jdx)
    assert got.shape == expected.shape and np.array_equal(got, expected)


@given(data=st.data())
def test_a_2d_index_array(data):
    x, idx = data.draw(matrix_and_positions(0, ndim=2))
    got = GATHER_JIT[rows](x, idx)
    assert got.shape == idx.shape + x.shape[1:] and np.array_equal(got, x[idx])


def test_where_the_batch_axes_go_in_a_3d_array():
    """NumPy puts the batch axes first when a slice, a new axis or an ellipsis stands
    between the arrays and ints of the index; else where they stand."""

    def split(x, i, j):
        return x[i, :, j], x[0, :, j], x[:, i, ..., j], x[i, None, j], x[:, i, j, ...], x[:, None, i, 0]

    rng = np.random.default_rng(2)
    x, i, j = rng.normal(size=(5, 3, 4)), np.array([0, -1, 2]), np.array([[1], [-2]])
    for got, expected in zip(ad.jit(split)(x, i, j), split(x, i, j), strict=True):
        assert got.shape == expected.shape and np.array_equal(got, expected)


def test_picking_one_entry_per_row_with_positions_from_argmax():
    def picked(x):
        return x[np.arange(x.shape[0]), np.argmax(x, axis=1)]

    x = np.random.default_rng(3).normal(size=(6, 4))
    assert np.array_equal(ad.jit(picked)(x), x.max(axis=1))


def test_an_index_out_of_bounds_raises_index_error():
    x = np.arange(12.0).reshape(4, 3)
    for f, bad in [(rows, [0, 4]), (rows, [-5]), (columns, [1, 3]), (row_then_columns, [-4, 0])]:
        with pytest.raises(IndexError):
            f(x, np.array(bad))
        with pytest.raises(IndexError, match="out of bounds"):
            GATHER_JIT[f](x, np.array(bad))
    with pytest.raises(IndexError, match="out of bounds"):
        LOSS_GRAD[loss_rows](x, np.array([4]))


def pair(x, i, j):
    return x[i, j]


def test_index_arrays_of_shapes_that_do_not_broadcast_raise_index_error():
    x, idx, jdx = np.ones((4, 3)), np.array([0, 1]), np.array([0, 1, 2])
    with pytest.raises(IndexError):
        pair(x, idx, jdx)
    with pytest.raises(IndexError, match="shape mismatch"):
        ad.jit(pair)(x, idx, jdx)


def test_without_boundscheck_a_gather_wraps_negative_indices_unchecked():
    checked, unchecked = GATHER_JIT[rows], ad.jit(rows, boundscheck=False)
    x, idx = np.arange(12.0).reshape(4, 3), np.array([-1, 0, -4, 3])
    assert np.array_equal(unchecked(x, idx), x[idx])
    checked(x, idx)  # both compiled for these arguments (earlier tests called it with others)
    assert len(unchecked.llvm_ir) < len(checked.llvm_ir)


# --------------------------------------------------------------------------- scatters
def scatter(x, idx):
    y = np.zeros(7)
    y[idx] = x  # repeated positions: the last write wins
    return y


def scatter_add(x, idx):
    y = np.ones(7)
    y[idx] += x  # NumPy's buffered +=: a repeated position gets one of the sums, not all
    return y


def scatter_columns(x, idx):
    m = np.zeros((3, 7))
    m[:, idx] = x
    m[1:, idx] = 0.5
    return m


SCATTERS = [scatter, scatter_add, scatter_columns]
SCATTER_JIT = {f: ad.jit(f) for f in SCATTERS}


@pytest.mark.parametrize("f", SCATTERS, ids=lambda f: f.__name__)
@given(idx=hnp.arrays(np.int64, st.integers(0, 9), elements=st.integers(-7, 6)), seed=st.integers(0, 99))
def test_scatters_match_numpy(f, idx, seed):
    x = np.random.default_rng(seed).normal(size=idx.shape)
    assert np.array_equal(SCATTER_JIT[f](x, idx), f(x, idx))


def test_a_scatter_never_writes_its_input():
    def write(y, idx):
        y[idx] = 1.0
        return y

    y, idx = np.zeros(5), np.array([1, -1])
    assert np.array_equal(ad.jit(write)(y, idx), [0, 1, 0, 0, 1]) and not y.any()


def test_a_scatter_out_of_bounds_raises_index_error():
    with pytest.raises(IndexError, match="out of bounds"):
        SCATTER_JIT[scatter](np.ones(2), np.array([0, 7]))


# --------------------------------------------------------------------------- gradients
def loss_rows(x, idx):
    return np.sum(np.sin(x[idx]) * np.arange(1.0, x.shape[1] + 1.0))


def loss_columns_and_entries(x, idx):
    return np.sum(x[:, idx] ** 2) + np.sum(x[-1, idx] * x[0, idx]) + np.sum(np.cos(x[idx, 1:]))


def loss_scatter(x, idx):
    y = np.zeros(x.shape[0] + 2)
    y[idx] = x[:, 0] * 3.0
    y[idx] += x[:, 1] ** 2
    return np.sum(y * y * np.arange(y.shape[0]))


LOSSES = [loss_rows, loss_columns_and_entries, loss_scatter]
LOSS_GRAD = {f: ad.grad(f, backend="llvm") for f in LOSSES}


@pytest.mark.parametrize("f", LOSSES, ids=lambda f: f.__name__)
@given(idx=hnp.arrays(np.int64, st.integers(1, 8), elements=st.integers(-3, 2)), seed=st.integers(0, 99))
def test_gradients_through_gathers_and_scatters_match_the_python_backend(f, idx, seed):
    """Repeated positions (3 rows, up to 8 positions): the adjoint of a gather adds them up."""
    x = np.random.default_rng(seed).normal(size=(3, 3))
    if f is loss_scatter:
        idx = idx[:3]
        x = np.random.default_rng(seed).normal(size=(len(idx), 3))
    got, expected = LOSS_GRAD[f](x, idx), ad.grad(f)(x, idx)
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-12)


# A scatter to a repeated position (2 and -4 name the same row) has a derivative only
# through its last write.
@pytest.mark.parametrize(
    "f,idx",
    [(loss_rows, [2, -1, 0, 2]), (loss_columns_and_entries, [2, -1, 0, 2]), (loss_scatter, [2, -1, 0, -4])],
)
def test_gradients_through_gathers_and_scatters_match_finite_differences(f, idx):
    idx = np.array(idx)
    x = np.random.default_rng(4).normal(size=(4, 3))
    assert_grad_close(LOSS_GRAD[f](x, idx), numerical_grad(lambda x: f(x, idx), (x,)))


# --------------------------------------------------------------------------- memory
def test_gathers_scatters_and_argmax_leave_only_their_results_allocated():
    """A call returns one new array and frees every other; a call that raises frees all."""
    x, idx, bad = np.random.default_rng(5).normal(size=(4, 3)), np.array([2, -1, 2, 0]), np.array([0, 3])
    calls = [  # (compiled, arguments, arguments that raise IndexError)
        (GATHER_JIT[columns], (x, idx), (x, bad)),
        (TWO_ARRAYS_JIT, (x, idx, idx), (x, idx, bad)),
        (SCATTER_JIT[scatter_columns], (x[:3, :2], idx[:2]), (x[:3, :2], bad * 3)),
        (ARG_JIT[argmax_rows], (x,), None),
        (LOSS_GRAD[loss_columns_and_entries], (x[:3], idx), (x[:3], bad)),
    ]
    assert_only_results_stay_allocated([(f, args, raising, IndexError) for f, args, raising in calls])
