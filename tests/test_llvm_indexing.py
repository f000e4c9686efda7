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
