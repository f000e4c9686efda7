"""Custom derivative rules in machine code: the LLVM backend compiles a ``@custom_vjp`` /
``@custom_jvp`` function and its rules from their source, and gets what the Python backend
(which calls them) gets; a rule it cannot read is a clear error, never a wrong answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.ir.types import Tensor
from adcompiler.transforms.warm import warm_key
from tests.finite_diff import numerical_grad


# ---------------------------------------------------------------- a straight-through estimator
@ad.custom_vjp
def clip_st(x):
    return np.clip(x, -1.0, 1.0)


@clip_st.defvjp
def _clip_st_vjp(x, out, g):
    return g  # straight through: the clip is treated as the identity


def clipped_loop(w):
    s = 0.0
    for i in range(w.shape[0]):
        s += clip_st(w[i] * 2.0) ** 2
    return s


def clipped_array(w):
    return np.sum(clip_st(w * 2.0) ** 2)


@pytest.mark.parametrize("loss", [clipped_loop, clipped_array])
def test_a_straight_through_estimator(loss):
    w = np.linspace(-1.0, 1.0, 9)
    # d/dw clip(2w)^2 with the clip's derivative taken as 1: 2 clip(2w) * 2
    expected = 4.0 * np.clip(2.0 * w, -1.0, 1.0)
    got = ad.grad(loss, backend="llvm")(w)
    assert np.allclose(got, expected, rtol=1e-14, atol=0)
    assert np.array_equal(got, ad.grad(loss)(w))
    assert ad.jit(loss)(w) == pytest.approx(loss(w), rel=1e-14)


# ---------------------------------------------------------------- a numerically stable rule
@ad.custom_vjp
def softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


@softplus.defvjp
def _softplus_vjp(x, out, g):
    # sigmoid(x) = exp(x - softplus(x)): never exp of a large positive number
    return g * np.exp(x - out)


def total_softplus(x, scale):
    return np.sum(softplus(scale * x))


def test_a_numerically_stable_rule_on_arrays():
    x = np.array([-800.0, -3.0, -0.5, 0.0, 0.25, 2.0, 800.0])
    g = ad.grad(total_softplus, wrt=(0, 1), backend="llvm")
    gx, gscale = g(x, 1.5)
    sigmoid = 0.5 * (1.0 + np.tanh(0.5 * 1.5 * x))
    assert np.all(np.isfinite(gx))
    assert np.allclose(gx, 1.5 * sigmoid, rtol=1e-13, atol=1e-300)
    assert gscale == pytest.approx(np.sum(x * sigmoid), rel=1e-13)
    py = ad.grad(total_softplus, wrt=(0, 1))(x, 1.5)
    assert np.allclose(gx, py[0], rtol=1e-15, atol=0) and gscale == pytest.approx(py[1], rel=1e-15)
    inner = x[1:-1]  # finite differences where the function is not flat
    fd = numerical_grad(total_softplus, (inner, 1.5), (0, 1))
    got = ad.grad(total_softplus, wrt=(0, 1), backend="llvm")(inner, 1.5)
    assert np.allclose(got[0], fd[0], rtol=1e-7) and got[1] == pytest.approx(fd[1], rel=1e-7)


# ---------------------------------------------------------------- several inputs, int zeros
@ad.custom_vjp
def scaled(x, k):
    return x * k


@scaled.defvjp
def _scaled_vjp(x, k, out, g):
    return g * k, 0  # k is treated as a constant: an int zero, made a float by the backend


def uses_scaled(x, k):
    s = 0.0
    for _ in range(3):
        s = s + scaled(x + s, k)
    return s


def test_a_rule_for_several_inputs_returns_a_tuple():
    g = ad.grad(uses_scaled, wrt=(0, 1), backend="llvm")
    gx, gk = g(0.7, 1.3)
    # s' = s + (x + s) k, k held constant: ds'/dx = ds/dx + (1 + ds/dx) k
    ds = 0.0
    for _ in range(3):
        ds = ds + (1.0 + ds) * 1.3
    assert gx == pytest.approx(ds, rel=1e-14)
    assert gk == 0.0 and isinstance(gk, float)
    assert (gx, gk) == pytest.approx(ad.grad(uses_scaled, wrt=(0, 1))(0.7, 1.3), rel=1e-15)


# ---------------------------------------------------------------- forward mode
@ad.custom_jvp
def safe_sqrt(x):
    return math.sqrt(x)


@safe_sqrt.defjvp
def _safe_sqrt_jvp(x, t):
    return t / (2.0 * math.sqrt(x)) if x > 0.0 else 0.0


def uses_sqrt(x):
    return safe_sqrt(x * x) + safe_sqrt(x)


def test_a_jvp_rule_in_forward_mode():
    compiled, called = ad.jvp(uses_sqrt, backend="llvm"), ad.jvp(uses_sqrt)
    for x in (0.0, 0.5, 2.0):
        assert compiled(x, 1.0) == pytest.approx(called(x, 1.0), rel=1e-15)
    # d/dx sqrt(x^2) = 2x / (2|x|) = 1, and at x = 0 the rule says 0 where sqrt's is infinite
    assert compiled(0.0, 1.0)[1] == 0.0
    assert compiled(2.0, 1.0)[1] == pytest.approx(1.0 + 0.5 / math.sqrt(2.0), rel=1e-15)


# ---------------------------------------------------------------- what cannot be compiled
@ad.custom_vjp
def opaque(x):
    return x * 2.0


opaque.defvjp(lambda x, out, g: 2.0 * g)


def uses_opaque(x):
    return opaque(x) ** 2


def test_a_rule_without_readable_source_is_a_clear_error():
    with pytest.raises(ad.ADTypeError) as info:
        ad.grad(uses_opaque, backend="llvm")(1.5)
    text = str(info.value)
    assert "the VJP rule of opaque" in text and "lambda" in text and 'backend="python"' in text
    assert "test_llvm_custom.py" in text and "return opaque(x) ** 2" in text  # the user's call
    assert ad.grad(uses_opaque)(1.5) == pytest.approx(12.0)  # the Python backend calls it


@ad.custom_vjp
def wrong_shape(x):
    return x * 2.0


@wrong_shape.defvjp
def _wrong_shape_vjp(x, out, g):
    return np.sum(g)


def test_a_rule_returning_the_wrong_rank_is_a_clear_error():
    with pytest.raises(ad.ADTypeError, match="the VJP rule of wrong_shape returns"):
        ad.grad(lambda_free_sum, backend="llvm")(np.ones(3))


def lambda_free_sum(x):
    return np.sum(wrong_shape(x))


# ---------------------------------------------------------------- warm starts
def test_custom_rules_are_part_of_the_warm_key():
    g = ad.grad(clipped_array, backend="llvm")
    types = (Tensor("f64", 1),)
    before = warm_key(g, types)
    assert before is not None and warm_key(g, types) == before
    previous = clip_st.vjp
    clip_st.defvjp(lambda x, out, g: g * 0.5)
    try:
        assert warm_key(ad.grad(clipped_array, backend="llvm"), types) not in (None, before)
    finally:
        clip_st.defvjp(previous)
