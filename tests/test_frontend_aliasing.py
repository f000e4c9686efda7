"""Writes into arrays that another live name shares are refused; the safe patterns give NumPy's
value and gradient.

Each refused function marks the statement that makes two names share one array with
``# origin`` and the refused write (or call) with ``# write``: the error must be at the write
and name both variables and the origin's line.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad

import adcompiler as ad
from adcompiler.errors import UnsupportedSyntaxError


# ---------------------------------------------------------------- refused: a later read sees the write
def plain_copy(x):
    y = x * 2.0
    z = y  # origin
    y[0] = 5.0  # write
    return np.sum(z)


def slice_view(x):
    y = x * 2.0
    v = y[1:]  # origin
    y[1] = 7.0  # write
    return np.sum(v)


def write_through_view(x):
    y = x * 2.0
    v = y[1:]  # origin
    v[0] = 7.0  # write
    return np.sum(y)


def tuple_unpacking(x):
    y = x * 2.0
    a, b = y, x  # origin
    y[0] = 1.0  # write
    return np.sum(a) + np.sum(b)


def conditional_alias(x):
    y = x * 2.0
    w = x * 3.0
    z = y if x[0] > 0.5 else w  # origin
    y[0] = 1.0  # write
    return np.sum(z)


def augmented_write(x):
    y = x * 2.0
    z = y  # origin
    y[1:] += 1.0  # write
    return np.sum(z * z)


def masked_write(x):
    y = x * 2.0
    z = y  # origin
    y[y > 1.0] = 0.0  # write
    return np.sum(z)


def whole_array_in_place(x):
    y = np.zeros(3) + x
    z = y  # origin
    y += 1.0  # write
    return np.sum(z * z)


def column_of_matrix(m):
    a = m * 1.0
    c = a[:, 1]  # origin
    a[0, 1] = 0.0  # write
    return np.sum(c)


def transposed(m):
    a = m * 1.0
    t = a.T  # origin
    a[0, 1] = 0.0  # write
    return np.sum(t * t)


def reshaped(m):
    a = m * 1.0
    r = np.reshape(a, (-1,))  # origin
    a[0, 1] = 0.0  # write
    return np.sum(r * r)


def reshape_method(m):
    a = m * 1.0
    r = a.reshape(-1)  # origin
    r[0] = 0.0  # write
    return np.sum(a)


def new_axis(x):
    y = x * 2.0
    e = y[None]  # origin
    y[0] = 0.0  # write
    return np.sum(e)


def as_array(x):
    y = x * 2.0
    z = np.asarray(y)  # origin
    z[0] = 0.0  # write
    return np.sum(y)


def rows_of_loop(m):
    a = m * 1.0
    for row in a:  # origin
        row[0] = 0.0  # write
    return np.sum(a)


def across_iterations(x):
    y = x * 2.0
    z = x * 0.0
    s = 0.0
    for i in range(3):
        s = s + np.sum(z)
        z = y  # origin
        y[i] = 1.0  # write
    return s


def read_after_loop(x):
    y = x * 2.0
    z = y  # origin
    for i in range(3):
        y[i] = y[i] * 3.0  # write
    return np.sum(z)


def _write_first(p):
    p[0] = 0.0
    return np.sum(p)


def helper_writes_argument(x):
    y = x * 2.0  # origin
    s = _write_first(y)  # write
    return s + np.sum(y)


def helper_writes_shared_argument(x):
    y = x * 2.0
    z = y  # origin
    s = _write_first(y)  # write
    return s + np.sum(z)


# what only types show: a row taken by integers alone, an in-place update of an array
def row_of_matrix(m):
    a = m * 1.0
    r = a[0]  # origin
    a[0, 1] = 0.0  # write
    return np.sum(r)


def write_through_row(m):
    a = m * 1.0
    r = a[1]  # origin
    r[0] = 0.0  # write
    return np.sum(a * a)


def row_swap(m):
    a = m * 1.0
    t = a[0]  # origin
    a[0] = a[1]  # write
    a[1] = t
    return np.sum(a * np.arange(3.0))


def item_of_tuple(x):
    y = x * 2.0
    t = (y, x)  # origin
    u = t[0]
    y[0] = 1.0  # write
    return np.sum(u)


def in_place_on_unknown(x):
    z = x  # origin
    x += 1.0  # write
    return np.sum(z * z)


def _first_row(p):
    return p[0]


def row_from_helper(m):
    a = m * 1.0
    r = _first_row(a)  # origin
    a[0, 0] = 0.0  # write
    return np.sum(r)


def _write_then_read(p, q):
    p[0] = 0.0
    return np.sum(q * q)


def helper_same_array_twice(x):
    y = x * 2.0
    return _write_then_read(y, y)  # write


def helper_array_and_its_view(x):
    y = x * 2.0
    return _write_then_read(y, y[::-1])  # write


def _bump(p):
    p += 1.0
    return np.sum(p)


def helper_updates_argument_in_place(x):
    y = x * 2.0
    s = _bump(y)  # write
    return s + np.sum(y)


# rows told apart by their indices: only where both are known never negative
def row_index_moved(m):
    a = m * 1.0
    for i in range(1):
        h = a[i]  # origin
        i += 1
        a[i - 1, 0] = 0.0  # write
        s = np.sum(h)
    return s


def row_index_rebound_by_a_loop(m):
    a = m * 1.0
    s = 0.0
    for i in range(1):
        h = a[i]  # origin
        for i in range(1, 2):
            a[i - 1, 0] = 0.0  # write
        s = np.sum(h)
    return s


def row_wrapping_around(m):
    a = m * 1.0
    s = 0.0
    for t in range(2):
        h = a[t]  # origin
        a[t - 2] = h * 2.0  # write
        s = s + np.sum(h * h)
    return s


REFUSED = [
    (plain_copy, "y", "z"),
    (slice_view, "y", "v"),
    (write_through_view, "v", "y"),
    (tuple_unpacking, "y", "a"),
    (conditional_alias, "y", "z"),
    (augmented_write, "y", "z"),
    (masked_write, "y", "z"),
    (whole_array_in_place, "y", "z"),
    (column_of_matrix, "a", "c"),
    (transposed, "a", "t"),
    (reshaped, "a", "r"),
    (reshape_method, "r", "a"),
    (new_axis, "y", "e"),
    (as_array, "z", "y"),
    (rows_of_loop, "row", "a"),
    (across_iterations, "y", "z"),
    (read_after_loop, "y", "z"),
    (helper_writes_argument, "p", "y"),
    (helper_writes_shared_argument, "p", "z"),
    (row_of_matrix, "a", "r"),
    (write_through_row, "r", "a"),
    (row_swap, "a", "t"),
    (item_of_tuple, "y", "u"),
    (in_place_on_unknown, "x", "z"),
    (row_from_helper, "a", "r"),
    (helper_same_array_twice, "_write_then_read() writes into its parameter p", "also passed as q (y)"),
    (
        helper_array_and_its_view,
        "_write_then_read() writes into its parameter p",
        "also passed as q (y[::-1])",
    ),
    (helper_updates_argument_in_place, "_bump() writes into its parameter p", "y is read after the call"),
    (row_index_moved, "a", "h"),
    (row_index_rebound_by_a_loop, "a", "h"),
    (row_wrapping_around, "a", "h"),
]


def _marked_line(fn, marker: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    (k,) = [k for k, line in enumerate(lines) if line.rstrip().endswith(f"# {marker}")]
    return first + k


def _argument(fn) -> np.ndarray:
    name = next(iter(inspect.signature(fn).parameters))
    return np.array([[0.3, 0.7, 1.1], [0.2, 0.9, 1.4]]) if name == "m" else np.array([0.3, 0.7, 1.1])


@pytest.mark.parametrize("fn, written, sharer", REFUSED, ids=[f.__name__ for f, *_ in REFUSED])
def test_refused(fn, written: str, sharer: str) -> None:
    with pytest.raises(UnsupportedSyntaxError) as info:
        ad.grad(fn)(_argument(fn))
    error = info.value
    assert error.loc is not None and error.loc.line == _marked_line(fn, "write"), error
    assert error.loc.file == inspect.getsourcefile(fn) and error.loc.source_line.strip()
    assert written in error.message and sharer in error.message, error.message
    if not fn.__name__.startswith("helper"):
        assert f"line {_marked_line(fn, 'origin')}" in error.message, error.message
        assert "value semantics" in error.message and ".copy()" in error.message


def test_refused_by_llvm_jit_too() -> None:
    with pytest.raises(UnsupportedSyntaxError, match=r"writing y\[...\] also changes z"):
        ad.jit(plain_copy)(_argument(plain_copy))


def test_helper_refusal_names_helper_and_parameter() -> None:
    with pytest.raises(UnsupportedSyntaxError) as info:
        ad.grad(helper_writes_argument)(_argument(helper_writes_argument))
    message = info.value.message
    assert "_write_first() writes into its parameter p" in message
    write_line = inspect.getsourcelines(_write_first)[1] + 1  # p[0] = 0.0
    assert f"(at line {write_line})" in message
    assert "y is read after the call" in message


# ---------------------------------------------------------------- accepted: NumPy's value and gradient
def fresh_buffer(x):
    buf = np.zeros(3)
    for i in range(3):
        buf[i] = x[i] * x[i]
    return np.sum(buf)


def copy_then_write(x):
    y = x.copy()
    y[0] = 1.0
    return np.sum(y * x)


def rebound_by_arithmetic(x):
    y = x * 2.0
    y = y * 2.0
    y[0] = 1.0
    return np.sum(y * y)


def rebound_after_alias(x):
    y = x * 2.0
    z = y
    y = y + 1.0
    y[0] = 0.0
    return np.sum(z) + np.sum(y * y)


def alias_never_read_again(x):
    y = x * 2.0
    z = y
    s = np.sum(z)
    y[0] = 5.0
    return s + np.sum(y * y)


def write_into_parameter(x):
    x[0] = 1.0
    return np.sum(x * x)


def copies_do_not_share(x):
    y = x * 2.0
    a = np.copy(y)
    b = np.array(y)
    c = y[y > 0.5]
    d = y[np.arange(0, 3, 2)]
    e = np.zeros_like(y) + y
    y[0] = 9.0
    return np.sum(a) + np.sum(b) + np.sum(c) + np.sum(d) + np.sum(e * e) + np.sum(y)


def scalar_element_update(x):
    s = x[0]
    s += x[1] * 2.0
    t = x[2]
    t *= s
    return s + t + np.sum(x)


def helper_result_discarded(x):
    y = x * 2.0
    return _write_first(y)


def write_in_loop_alias_dead(x):
    y = x * 1.0
    for i in range(3):
        z = y
        s = np.sum(z)
        y[i] = s * x[i]
    return np.sum(y)


def swap_elements(x):
    y = x * 1.0
    first = y[0]
    y[0] = y[-1]
    y[-1] = first
    return np.sum(y * np.arange(3.0))


def old_value_kept(x):
    u = x.copy()
    for i in range(1, u.shape[0] - 1):
        old = u[i]
        u[i] = 0.5 * (u[i - 1] + u[i + 1])
        u[i] += 0.1 * old
    return np.sum(u**2)


def row_copied(m):
    a = m * 1.0
    r = a[0].copy()
    a[0, 1] = 0.0
    return np.sum(r * r) + np.sum(a * a)


def row_read_before_write(m):
    a = m * 1.0
    r = a[0]
    s = np.sum(r * r)
    a[0, 1] = 0.0
    return s + np.sum(a * a)


def rows_updated(m):
    a = m * 1.0
    for i in range(2):
        row = a[i]
        a[i] = row * row + 1.0
    return np.sum(a * m)


def matrix_elements_swapped(m):
    a = m * 1.0
    e = a[0, 1]
    a[0, 1] = a[1, 0]
    a[1, 0] = e
    return np.sum(a * m)


def element_by_chained_subscripts(m):
    a = m * 1.0
    e = a[0][1]
    a[0, 1] = 0.0
    return e * e + np.sum(a * a)


def rows_swapped_through_a_copy(m):
    a = m * 1.0
    t = a[0].copy()
    a[0] = a[1]
    a[1] = t
    return np.sum(a * m)


def in_place_on_scalar(x):
    s = x[0]
    t = s
    s += x[1]
    return s * t


def in_place_unshared(x):
    y = x * 2.0
    y += x
    return np.sum(y * y)


def _read_then_write(p, q):
    s = np.sum(q * q)
    p[0] = 0.0
    return s + np.sum(p * p)


def helper_same_array_read_first(x):
    y = x * 2.0
    return _read_then_write(y, y)


@ad.custom_vjp
def _zero_first_of_copy(x):
    x = x.copy()
    x[0] = 0.0
    return x * 2.0


@_zero_first_of_copy.defvjp
def _zero_first_of_copy_vjp(x, out, g):
    g = g * 2.0
    g[0] = 0.0
    return g


def custom_rule_writes_copies(x):
    y = x * 1.0
    return np.sum(_zero_first_of_copy(y) * x) + np.sum(y)


def rows_stepped_in_time(m):
    a = np.zeros((3, 3))
    a[0] = m[0]
    total = 0.0
    for t in range(2):
        h = a[t]
        a[t + 1] = np.tanh(h * m[1] + 0.5)
        total = total + np.sum(h * h)
    return total + np.sum(a * a)


def row_written_from_the_one_before(m):
    a = m * 1.0
    for t in range(1, 2):
        before = a[t - 1, :]
        a[t] = a[t] + before
        a[t, 0] = 0.5 * before[2]
    return np.sum(a * m)


def rows_by_constants(m):
    a = m * 1.0
    r = a[0]
    a[1] = r * 3.0
    return np.sum(r) + np.sum(a * a)


ACCEPTED = [
    swap_elements,
    old_value_kept,
    fresh_buffer,
    copy_then_write,
    rebound_by_arithmetic,
    rebound_after_alias,
    alias_never_read_again,
    write_into_parameter,
    copies_do_not_share,
    scalar_element_update,
    helper_result_discarded,
    write_in_loop_alias_dead,
    row_copied,
    row_read_before_write,
    rows_updated,
    matrix_elements_swapped,
    element_by_chained_subscripts,
    rows_swapped_through_a_copy,
    in_place_on_scalar,
    in_place_unshared,
    helper_same_array_read_first,
    custom_rule_writes_copies,
    rows_stepped_in_time,
    row_written_from_the_one_before,
    rows_by_constants,
]


@pytest.mark.parametrize("fn", ACCEPTED, ids=[f.__name__ for f in ACCEPTED])
@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_accepted_matches_numpy(fn, backend: str) -> None:
    """The value (``ad.jit``) and the gradient of each backend against NumPy."""
    x = _argument(fn)
    original = x.copy()
    expected = fn(x.copy())
    assert np.isclose(ad.jit(fn)(x), expected)  # the LLVM backend
    assert_grad_close(ad.grad(fn, backend=backend)(x), numerical_grad(fn, (x,)), rtol=1e-6, atol=1e-8)
    assert np.array_equal(x, original)  # adcompiler never modifies the caller's array


def test_row_refused_by_llvm_jit_too() -> None:
    with pytest.raises(UnsupportedSyntaxError, match=r"writing a\[...\] also changes r"):
        ad.jit(row_of_matrix)(_argument(row_of_matrix))


# ---------------------------------------------------------------- custom rules: Python runs them as written
@ad.custom_vjp
def _zero_first(x):
    x[0] = 0.0
    return x * 2.0


@_zero_first.defvjp
def _zero_first_vjp(x, out, g):
    return 2.0 * g


def custom_writes_parameter(x):
    y = x * 1.0
    return np.sum(_zero_first(y))  # write


@ad.custom_vjp
def _doubled(x):
    return x * 2.0


@_doubled.defvjp
def _doubled_vjp(x, out, g):
    g *= 2.0
    return g


def custom_rule_writes_parameter(x):
    return np.sum(_doubled(x) * x)  # write


@pytest.mark.parametrize(
    "fn, message",
    [
        (custom_writes_parameter, "_zero_first() writes into its parameter x"),
        (custom_rule_writes_parameter, "the VJP rule of _doubled() writes into its parameter g"),
    ],
)
@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_custom_rule_writing_into_parameter_refused(fn, message: str, backend: str) -> None:
    x = np.array([0.3, 0.7, 1.1])
    with pytest.raises(UnsupportedSyntaxError) as info:
        ad.grad(fn, backend=backend)(x)
    assert message in info.value.message and ".copy()" in info.value.message, info.value.message
    assert info.value.loc.line == _marked_line(fn, "write")
    assert np.array_equal(x, [0.3, 0.7, 1.1])


# ---------------------------------------------------------------- one array for two parameters
def writes_first_reads_second(x, y):
    x[0] = 0.0  # write
    return np.sum(y * y)


def reads_second_then_writes_first(x, y):
    s = np.sum(y * y)
    x[0] = 0.0
    return s + np.sum(x * x)


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_same_array_for_two_parameters_refused(backend: str) -> None:
    a = np.array([0.3, 0.7, 1.1])
    for x, y in [(a, a), (a, a[::-1]), (a[1:], a[:2])]:
        with pytest.raises(UnsupportedSyntaxError) as info:
            ad.grad(writes_first_reads_second, backend=backend)(x, y)
        message = info.value.message
        assert "writes_first_reads_second() writes into its parameter x" in message, message
        assert "reads its parameter y afterwards" in message and "sharing memory" in message, message
        assert info.value.loc.line == _marked_line(writes_first_reads_second, "write")
    with pytest.raises(UnsupportedSyntaxError, match="sharing memory"):
        ad.jit(writes_first_reads_second)(a, a)
    assert np.array_equal(a, [0.3, 0.7, 1.1])


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_same_array_for_two_parameters_accepted(backend: str) -> None:
    """Arrays that share no memory, or a function that reads before it writes: NumPy's answer."""
    a = np.array([0.3, 0.7, 1.1])
    grad = ad.grad(writes_first_reads_second, backend=backend)
    assert np.array_equal(grad(a, a.copy()), np.zeros(3))
    assert np.array_equal(grad(a[:1], a[1:]), np.zeros(1))  # disjoint views of one array
    fn = reads_second_then_writes_first
    b = a.copy()
    expected = fn(b, b)  # NumPy: the write also lands in y, which is not read afterwards
    assert np.isclose(ad.jit(fn)(a, a), expected)
    got = ad.grad(fn, backend=backend)(a, a)
    assert_grad_close(got, numerical_grad(fn, (a, a)), rtol=1e-6, atol=1e-8)
    assert np.array_equal(a, [0.3, 0.7, 1.1])
