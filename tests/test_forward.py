"""Forward mode (and derivatives of derivatives) on the shapes of code that broke them, against
finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad, numerical_jacobian

import adcompiler as ad
from adcompiler.errors import NotDifferentiableError
from benchmarks.problems.loop_sum import loop_sum


def nested_early_return(a, x, n):
    if a[0] > 0.0:
        v = 2.0 * a
    else:
        if n > 1:
            return np.sum(a**2)
        v = np.cos(x)  # inactive here, active in the other branch
    return np.sum(v * a)


def loop_early_return(a, x, k):
    if a[0] > 0.0:
        v = 2.0 * a
    else:
        for i in range(3):
            if i >= k:
                return np.sum(a**2)
            v = np.cos(x) + i  # undefined after the loop if it returned in its first iteration
    return np.sum(v * a)


def sin_dot(w, x):
    return np.sum(np.sin(w * x))


@pytest.mark.parametrize(
    "transform",
    [
        lambda f: ad.grad(f, mode="forward"),
        lambda f: ad.value_and_grad(f, mode="forward"),
        lambda f: ad.jacobian(f, mode="forward"),
        ad.hessian,
    ],
    ids=["grad", "value_and_grad", "jacobian", "hessian"],
)
def test_ir_before_a_call_asks_for_one(transform) -> None:
    """Batched tangents need every rank, which only a call gives: a clear error, not a
    TypeError from inside a rule; after a call, the IR of that signature."""
    g = transform(sin_dot)
    for attribute in ("ir", "source"):
        with pytest.raises(NotDifferentiableError, match=r"before it knows its argument types.*call it once"):
            getattr(g, attribute)
    w, x = np.array([0.3, -0.2]), np.array([1.5, 0.7])
    g(w, x)
    assert "array<f64,1>" in g.ir
    assert g.__name__ in g.source


def test_jvp_ir_before_a_call_is_generic() -> None:
    """One tangent needs no rank: ``jvp`` shows a generic version before any call."""
    assert "f64|array<f64>" in ad.jvp(sin_dot).ir


@pytest.mark.parametrize(("a0", "n"), [(0.5, 0), (-0.5, 0), (-0.5, 2)])
def test_early_return_leaves_an_inactive_branch_value_undefined(a0: float, n: int) -> None:
    """The tangent of ``v`` is a zero shaped like ``v`` where ``v`` has none: it must be built
    where ``v`` is defined, not after the inner ``if`` (whose early-return path leaves ``v``
    undefined). Generator seeds 1800 and 1868."""
    a, x = np.array([a0, 0.3, -1.2]), np.array([0.1, 0.7, -0.4])
    got = ad.grad(nested_early_return, mode="forward")(a, x, n)
    assert_grad_close(got, numerical_grad(nested_early_return, (a, x, n), 0), rtol=1e-6, atol=1e-8)
    value, tangent = ad.jvp(nested_early_return)(a, x, n, np.ones(3))
    assert value == pytest.approx(nested_early_return(a, x, n))
    assert tangent == pytest.approx(float(np.sum(got)))


@pytest.mark.parametrize(("a0", "k"), [(0.5, 0), (-0.5, 0), (-0.5, 2), (-0.5, 5)])
def test_early_return_in_a_loop_leaves_an_inactive_carried_value_undefined(a0: float, k: int) -> None:
    """The same through a loop: the loop carries the tangent of ``v``."""
    a, x = np.array([a0, 0.3, -1.2]), np.array([0.1, 0.7, -0.4])
    got = ad.grad(loop_early_return, mode="forward")(a, x, k)
    assert_grad_close(got, numerical_grad(loop_early_return, (a, x, k), 0), rtol=1e-6, atol=1e-8)


def relax(y):
    for _ in range(3):
        y = 0.8 * y + 0.2 * np.sin(y)
    return np.sum(y)  # its adjoint does not read y: only the tape links y to the reverse sweep


def scalar_loop(a):
    x = a
    for _ in range(3):
        x = np.sin(x) * a
    return x


def test_hessian_through_the_tapes_of_a_loop() -> None:
    """Forward over reverse: the reverse sweep reads the loop's values from its tapes, so the
    tangents must go through the tapes too (activity links each push to its pop). The
    Hessians were zero. Generator seed 2131 (and many others) with ``ad.hessian``."""
    y = np.array([0.3, -0.2, 1.1])
    grad = ad.grad(relax)
    expected = np.array([numerical_grad(lambda y, i=i: grad(y)[i], (y,), 0) for i in range(3)])
    assert_grad_close(ad.hessian(relax)(y), expected, rtol=1e-6, atol=1e-8)
    assert_grad_close(
        ad.hessian(scalar_loop)(0.7), numerical_grad(ad.grad(scalar_loop), (0.7,), 0), rtol=1e-6, atol=1e-8
    )


def test_reverse_over_reverse_through_the_tapes_of_a_loop() -> None:
    assert_grad_close(
        ad.grad(ad.grad(scalar_loop))(0.7),
        numerical_grad(ad.grad(scalar_loop), (0.7,), 0),
        rtol=1e-6,
        atol=1e-8,
    )


def scaled_rotations(A, y, a):
    for _ in range(2):
        M = A * a
        y = np.tanh(M.T @ y)
    return np.sum(y**2) * a


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_grad_of_grad_of_a_loop_with_a_matmul(backend: str) -> None:
    """grad of a derivative of loops is taken in forward mode; w.r.t. one float scalar that
    is one direction, pushed unbatched. A batched tangent (leading axis of 1 direction)
    made the tangent of ``M`` rank 3, and the LLVM backend raised ADTypeError on the matmul.
    Generator seed 3 (grad_of_grad_llvm in tests/test_programs.py)."""
    A = np.array([[0.45, 0.08], [0.72, -0.52]])
    y = np.array([0.3, -0.6])
    inner = ad.grad(scaled_rotations, wrt=2)
    expected = numerical_grad(inner, (A, y, 0.8), 2)
    assert_grad_close(ad.grad(inner, wrt=2, backend=backend)(A, y, 0.8), expected, rtol=1e-6, atol=1e-8)
    assert_grad_close(
        ad.hessian(scaled_rotations, wrt=2, backend=backend)(A, y, 0.8), expected, rtol=1e-6, atol=1e-8
    )


def nested_loop_writes(B, A):
    for _ in range(2):
        buf = np.copy(A)
        for i in range(2):
            for _ in range(2):
                buf[:, i] = np.tanh(buf[:, i] - B[:, i])
                A = 0.9 * A + 0.1 * B
                buf[i, i] = 0.8 * buf[i, i] + 0.2 * np.max(A[:, i])
            A = np.arctan(buf)
            buf[0, i] += 0.99
    return np.sum(A)


def test_jvp_of_writes_in_nested_loops_compiles() -> None:
    """The Python backend's in-place analysis of the JVP's loops went round a cycle of
    decisions for ever (compiling never ended); a cycle now keeps its copies. Generator
    seed 148 (test_jvp in tests/test_programs.py)."""
    B = np.array([[0.3, -0.1, 0.5], [0.2, 0.4, -0.6]])
    A = np.array([[0.1, 0.7, -0.2], [-0.5, 0.3, 0.9]])
    tangent = np.array([[1.0, -0.5, 0.2], [0.3, 0.8, -1.0]])
    value, derivative = ad.jvp(nested_loop_writes, wrt=0)(B, A, tangent)
    assert value == pytest.approx(nested_loop_writes(B, A), rel=1e-12)
    expected = np.sum(numerical_grad(nested_loop_writes, (B, A), 0) * tangent)
    assert_grad_close(derivative, expected, rtol=1e-6, atol=1e-8)


def spread_times_number(a, x):
    r = np.zeros(3) + a
    return np.sum((r * x)[::-1])


def spread_times_number_summed(a, x):
    return np.sum((np.zeros(3) + a) * x) * a


@pytest.mark.parametrize("f", [spread_times_number, spread_times_number_summed])
def test_tangent_of_a_number_spread_over_an_array_times_a_number(f) -> None:
    """The tangent of ``zeros(3) + a`` w.r.t. the number ``a`` is ``broadcast_to(a_dot,
    shape(r))``; simplifying ``broadcast_to(c, s) * x`` to ``c * x`` is right only when ``x``
    has the product's shape. With ``x`` a number too, the tangent of ``r * x`` became a
    number: indexing it raised IndexError, summing it lost the factor 3. Generator seed 359
    (test_jvp in tests/test_programs.py)."""
    a, x = 0.7, -1.3
    expected = numerical_grad(f, (a, x), 0)
    value, derivative = ad.jvp(f, wrt=0)(a, x, 0.4)
    assert value == pytest.approx(f(a, x), rel=1e-12)
    assert_grad_close(derivative, 0.4 * expected, rtol=1e-6, atol=1e-8)
    assert_grad_close(ad.grad(f, wrt=0, mode="forward")(a, x), expected, rtol=1e-6, atol=1e-8)
    assert_grad_close(ad.jacobian(f, wrt=0, mode="forward")(a, x), expected, rtol=1e-6, atol=1e-8)
    assert_grad_close(
        ad.grad(f, wrt=(0, 1), mode="forward")(a, x), numerical_grad(f, (a, x), (0, 1)), rtol=1e-6, atol=1e-8
    )
    hessian = numerical_grad(ad.grad(f, wrt=0), (a, x), 0)
    assert_grad_close(ad.hessian(f, wrt=0)(a, x), hessian, rtol=1e-6, atol=1e-8)


def test_jacobian_of_a_number_spread_over_an_array_times_a_number() -> None:
    """The same product as an array result: its Jacobian w.r.t. ``a`` is a column of 3."""

    def f(a, x):
        return (np.zeros(3) + a) * x

    expected = numerical_jacobian(f, (0.7, -1.3), 0)
    assert_grad_close(ad.jacobian(f, wrt=0, mode="forward")(0.7, -1.3), expected, rtol=1e-6, atol=1e-8)
    assert_grad_close(ad.jacobian(f, wrt=0)(0.7, -1.3), expected, rtol=1e-6, atol=1e-8)


def early_return_then_square(x, y):
    if x[0] > 0.0:
        v = 0.1 * np.arange(2)
    else:
        if np.sum(y) > 0.0:
            return np.mean(x)
        v = x
    return np.sum(v**2)


def early_return_then_times(x, y):
    if x[0] > 0.0:
        v = 0.1 * np.arange(2)
    else:
        if np.sum(y) > 0.0:
            return np.mean(x)
        v = x
    return np.sum(v * y)


@pytest.mark.parametrize("y0", [0.4, -0.4])
def test_second_derivative_past_an_early_return(y0: float) -> None:
    """Where ``f`` returned early, ``v`` is undefined and the reverse sweep's adjoint of ``v``
    is ``zeros_like(v)``; its tangent, a zero of the directions times ``shape(v)``, read the
    shape of nothing (AttributeError). It is now ``zeros_like`` of the tangent of ``v``,
    undefined where ``v`` is: ``v`` carries one even where it has none by activity (w.r.t.
    ``y`` in ``early_return_then_times``). Generator seed 509 (test_second_order, hessian)."""
    x, y = np.array([-0.5, -0.8]), np.array([y0, 0.1])
    grad = ad.grad(early_return_then_square, wrt=0)
    expected = numerical_jacobian(grad, (x, y), 0)
    assert_grad_close(ad.hessian(early_return_then_square, wrt=0)(x, y), expected, rtol=1e-6, atol=1e-8)
    assert_grad_close(ad.jacobian(grad, wrt=0, mode="forward")(x, y), expected, rtol=1e-6, atol=1e-8)
    grad = ad.grad(early_return_then_times, wrt=0)
    expected = numerical_jacobian(grad, (x, y), 1)
    assert_grad_close(ad.jacobian(grad, wrt=1, mode="forward")(x, y), expected, rtol=1e-6, atol=1e-8)


def writes_of_both(x, a):
    y = x * a
    for i in range(x.shape[0]):
        y[i] = np.tanh(y[i] + a * x[i])
        y[(i + 1) % x.shape[0]] += a * y[i]
    return y


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_a_write_whose_array_and_value_both_have_tangents_writes_once(backend: str) -> None:
    """The tangent of ``y[i] = v`` with tangents for both ``y`` and ``v`` is ``y_dot[i] =
    v_dot``; it was ``y_dot[i] = 0`` plus a dense array of zeros holding ``v_dot``, so the
    Hessian of a loop of n element writes cost O(n^3) (O(n^2) per write in batched mode)."""
    x = np.array([0.3, -1.2, 0.8, 2.0, -0.4])
    hessian = ad.hessian(loop_sum, backend=backend)
    expected = np.diag(-np.sin(x) * x**2 + 4 * x * np.cos(x) + 2 * np.sin(x))
    assert_grad_close(hessian(x), expected, rtol=1e-12, atol=1e-14)
    if backend == "python":
        assert "np.zeros" not in hessian.source.split("for i in reversed")[1]  # nothing dense in the loop
    for wrt in (0, 1):
        jac = ad.jacobian(writes_of_both, wrt=wrt, mode="forward", backend=backend)(x, 0.7)
        assert_grad_close(jac, numerical_jacobian(writes_of_both, (x, 0.7), wrt), rtol=1e-6, atol=1e-8)
        tangent = np.linspace(0.5, -1.0, 5) if wrt == 0 else 1.0
        value, derivative = ad.jvp(writes_of_both, wrt=wrt, backend=backend)(x, 0.7, tangent)
        assert np.allclose(value, writes_of_both(x.copy(), 0.7), rtol=1e-14)
        assert_grad_close(derivative, jac @ tangent if wrt == 0 else jac, rtol=1e-12, atol=1e-14)
