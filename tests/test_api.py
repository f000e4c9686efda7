"""The public API on the kinds of functions users write, checked against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import user_functions as uf

import adcompiler as ad
from adcompiler.check import numerical_grad

RNG = np.random.default_rng(3)


def fd(f, *args, wrt=0):
    return numerical_grad(f, args, wrt)


def close(a, b, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def test_seed_examples():
    assert ad.grad(uf.poly)(3.0) == pytest.approx(8.0)
    g = ad.grad(uf.affine_sq, wrt=(0, 1, 2))(2.0, 3.0, 1.0)
    assert g == pytest.approx((42.0, 28.0, 14.0))
    close(
        ad.grad(uf.chained, wrt=(0, 1))(0.7, -1.2),
        (fd(uf.chained, 0.7, -1.2), fd(uf.chained, 0.7, -1.2, wrt=1)),
    )


@pytest.mark.parametrize("x", [2.0, 0.3, -0.4, -2.5])
def test_branches(x):
    close(ad.grad(uf.branching)(x), fd(uf.branching, x))


def test_newton_while_loop():
    for a in (2.0, 9.0, 0.25):
        close(ad.grad(uf.newton_sqrt)(a), 0.5 / np.sqrt(a), rtol=1e-8)


def test_ode_loop_with_carried_state():
    g = ad.grad(uf.pendulum, wrt=("damping", "length"))(0.3, 1.2)
    close(g, (fd(uf.pendulum, 0.3, 1.2), fd(uf.pendulum, 0.3, 1.2, wrt=1)), rtol=1e-5)


def test_inplace_writes_in_a_loop():
    x = RNG.normal(size=7)
    before = x.copy()
    close(ad.grad(uf.smooth_inplace)(x), fd(uf.smooth_inplace, x))
    assert np.array_equal(x, before), "the gradient must not modify its input"


def test_logistic_regression():
    X, w = RNG.normal(size=(20, 3)), RNG.normal(size=3)
    y = (RNG.uniform(size=20) > 0.5).astype(float)
    close(ad.grad(uf.logistic_loss)(w, X, y), fd(uf.logistic_loss, w, X, y))


def test_mlp():
    X = RNG.normal(size=(6, 5))
    Y = np.eye(3)[RNG.integers(0, 3, size=6)]
    params = [
        RNG.normal(size=(5, 4)) * 0.5,
        RNG.normal(size=4) * 0.1,
        RNG.normal(size=(4, 3)) * 0.5,
        np.zeros(3),
    ]
    grads = ad.grad(uf.mlp_loss, wrt=(0, 1, 2, 3))(*params, X, Y)
    for k, g in enumerate(grads):
        close(g, fd(uf.mlp_loss, *params, X, Y, wrt=k), rtol=1e-5)


def test_reductions_and_broadcasting():
    x = RNG.normal(size=(3, 4))
    close(ad.grad(uf.reductions)(x), fd(uf.reductions, x), rtol=1e-5)
    row, s = RNG.normal(size=4), 1.7
    g = ad.grad(uf.broadcasting, wrt=(0, 1, 2))(x, row, s)
    for k, got in enumerate(g):
        close(got, fd(uf.broadcasting, x, row, s, wrt=k))


def test_early_return_in_loop():
    x = np.array([1.0, 1.2, 0.5, 2.0, 0.1])
    for n in (2, 5):
        close(ad.grad(uf.early_exit)(x, n), fd(uf.early_exit, x, n))


def test_value_and_grad_and_vjp():
    x = RNG.normal(size=4)
    value, g = ad.value_and_grad(uf.reductions)(x.reshape(2, 2))
    assert value == pytest.approx(uf.reductions(x.reshape(2, 2)))
    ct = RNG.normal(size=4)
    got = ad.vjp(uf.vector_out)(x, ct)
    J = np.array([fd(lambda x, i=i: uf.vector_out(x)[i], x) for i in range(4)])
    close(got, ct @ J)


def test_source_runs_on_its_own():
    g = ad.grad(uf.smooth_inplace)
    x = RNG.normal(size=6)
    expected = g(x)
    namespace: dict = {}
    exec(compile(g.source, "<generated>", "exec"), namespace)
    close(namespace[g.__name__](x), expected)


def test_forward_equals_reverse():
    x = RNG.normal(size=(3, 4))
    close(ad.grad(uf.reductions, mode="forward")(x), ad.grad(uf.reductions)(x), rtol=1e-12)
    close(
        ad.grad(uf.pendulum, wrt=(0, 1), mode="forward")(0.3, 1.2),
        ad.grad(uf.pendulum, wrt=(0, 1))(0.3, 1.2),
        rtol=1e-12,
    )


def test_jvp_and_jacobian():
    x, v = RNG.normal(size=4), RNG.normal(size=4)
    J = np.array([fd(lambda x, i=i: uf.vector_out(x)[i], x) for i in range(4)])
    value, tangent = ad.jvp(uf.vector_out)(x, v)
    close(value, uf.vector_out(x))
    close(tangent, J @ v)
    close(ad.jacobian(uf.vector_out, mode="forward")(x), J)
    close(ad.jacobian(uf.vector_out, mode="reverse")(x), J)


def test_hessian_of_quadratic_form():
    A = RNG.normal(size=(4, 4))
    x = RNG.normal(size=4)
    close(ad.hessian(uf.quadratic_form)(x, A), (A + A.T) / 2 - np.diag(np.sin(x)), rtol=1e-10)


def test_third_derivative():
    g3 = ad.grad(ad.grad(ad.grad(uf.cubic_sin)))
    for x in (0.3, -1.1):
        assert g3(x) == pytest.approx(6 - np.cos(x), rel=1e-12)


def test_straight_through_estimator():
    w, x = RNG.normal(size=5), RNG.normal(size=5)
    target = RNG.normal(size=5)
    g = ad.grad(uf.quantized_loss)(w, x, target)
    q = np.round(w * 4.0) / 4.0
    close(g, 2 * (q * x - target) * x)  # round passes the gradient straight through
    assert "round_ste" in ad.grad(uf.quantized_loss).source


def test_check_grad_catches_a_wrong_rule():
    x = RNG.normal(size=3)
    ad.check_grad(uf.uses_right_square, x, modes=("reverse",))
    with pytest.raises(ad.GradCheckError, match="index"):
        ad.check_grad(uf.uses_wrong_square, x, modes=("reverse",))


def test_stop_gradient():
    assert ad.grad(uf.frozen)(3.0) == pytest.approx(3.0)


def test_errors():
    with pytest.raises(ad.NotDifferentiableError, match="vjp"):
        ad.grad(uf.vector_out)(np.ones(3))
    with pytest.raises(ad.NotDifferentiableError, match="'n'.*int"):
        ad.grad(uf.int_param, wrt="n")(1.0, 3)


def test_debug_names_the_line_and_the_sweep():
    with pytest.raises(ad.NumericError, match=r"reverse sweep[\s\S]*return np.sqrt\(y\)"):
        ad.grad(uf.sqrt_shift, debug=True)(1.0)
    assert ad.grad(uf.sqrt_shift, debug=True)(2.0) == pytest.approx(0.5)
    assert "check_finite" not in ad.grad(uf.sqrt_shift).source


def test_has_aux():
    w, x = 0.7, RNG.normal(size=5)
    g, aux = ad.grad(uf.with_aux, has_aux=True)(w, x)
    assert aux == pytest.approx(np.mean(np.tanh(w * x)))
    close(g, fd(lambda w, x: uf.with_aux(w, x)[0], w, x))
    (loss, aux2), g2 = ad.value_and_grad(uf.with_aux, has_aux=True)(w, x)
    assert (
        loss == pytest.approx(uf.with_aux(w, x)[0]) and aux2 == pytest.approx(aux) and g2 == pytest.approx(g)
    )


def test_intermediates():
    w, x = 0.4, RNG.normal(size=5)
    g, bars = ad.grad(uf.two_layer, intermediates=("h",))(w, x)
    close(bars["h"], 2 * np.sin(w * x))
    close(g, fd(uf.two_layer, w, x))


def test_loop_over_an_array_it_also_updates():
    y, A = RNG.normal(size=3), RNG.normal(size=(2, 3))
    for k in (0, 1):
        close(ad.grad(uf.iterate_over_carried, wrt=k)(y, A), fd(uf.iterate_over_carried, y, A, wrt=k))


def test_carried_value_assigned_from_outside_the_loop():
    assert ad.grad(uf.carried_from_outer, wrt=(0, 1, 2))(0.55, 0.9, -1.2) == pytest.approx((0.5, 0.0, 1.0))


def test_loop_that_runs_no_iteration_passes_its_initial_value_through():
    x = np.array([-0.1, 0.46, 0.4, -0.18])
    close(ad.grad(uf.loop_may_not_run)(x, -1.4, 0.3), fd(uf.loop_may_not_run, x, -1.4, 0.3))
    close(ad.grad(uf.loop_may_not_run, mode="forward")(x, -1.4, 0.3), fd(uf.loop_may_not_run, x, -1.4, 0.3))


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_variance_and_standard_deviation(backend):
    x = RNG.normal(size=(4, 3))
    expected = (
        np.std(x)
        + np.sum(np.var(x, axis=0, ddof=1))
        + np.sum(x.var(axis=1, keepdims=True))
        + np.std(x, axis=(0, 1), ddof=2)
        + np.sum(x.std(axis=-1) * np.arange(4))
    )
    value, g = ad.value_and_grad(uf.spread, backend=backend)(x)
    assert value == pytest.approx(expected, rel=1e-14)
    close(g, fd(uf.spread, x))
    # closed form: d std(x) / dx = (x - mean(x)) / (n std(x))
    close(
        ad.grad(uf.std_of, backend=backend)(x),
        (x - np.mean(x)) / (x.size * np.std(x)),
        rtol=1e-12,
        atol=1e-15,
    )


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_running_sums(backend):
    x, M = RNG.normal(size=5), RNG.normal(size=(3, 4))
    if backend == "llvm":  # the running sums themselves, added in NumPy's order
        assert ad.jit(uf.running_sums)(x, M) == uf.running_sums(x, M)
    gx, gM = ad.grad(uf.running_sums, wrt=(0, 1), backend=backend)(x, M)
    close(gx, fd(uf.running_sums, x, M))
    close(gM, fd(uf.running_sums, x, M, wrt=1))
    # closed form for the vector part: d sum(cumsum(x)^2) / dx_j = 2 sum_{i >= j} cumsum(x)_i
    c = np.cumsum(x)
    close(gx, 2 * np.cumsum(c[::-1])[::-1], rtol=1e-13, atol=1e-14)
    close(
        ad.hessian(uf.running_sums, backend=backend)(x, M),
        2 * np.minimum.outer(np.arange(5, 0, -1), np.arange(5, 0, -1)),
        rtol=1e-13,
        atol=1e-13,
    )


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_a_list_argument_is_the_array_it_makes(backend):
    g = ad.grad(uf.std_of, backend=backend)
    x = [0.5, -1.0, 2.0]
    close(g(x), g(np.array(x)), rtol=0, atol=0)
    assert ad.jit(uf.std_of)([1, 2, 3]) == pytest.approx(np.std([1, 2, 3]), rel=1e-15)
