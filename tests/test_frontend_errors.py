"""Every construct outside the subset is refused with an ADError naming the user's file,
line and source line."""

from __future__ import annotations

import inspect
import random

import numpy as np
import pytest

from adcompiler.errors import ADError, UnsupportedSyntaxError
from adcompiler.frontend import parse_function


def uses_try(x):
    try:
        y = x
    except ValueError:
        y = 0.0
    return y


def uses_with(x):
    with open("f") as fh:  # noqa: F841
        y = x
    return y


def uses_yield(x):
    yield x


def uses_lambda(x):
    f = lambda t: t * 2  # noqa: F841
    return x


G = 1.0


def uses_global(x):
    global G
    return x + G


def uses_class(x):
    class A:
        pass

    return x


def uses_comprehension(x):
    return sum([t * 2 for t in x])


def uses_random(x):
    return x * random.random()


def uses_unknown_name(x):
    return x * undefined_thing  # noqa: F821


def recursive(x, n):
    if n == 0:
        return x
    return recursive(x * 2.0, n - 1)


def uses_fstring(x):
    assert x > 0, f"bad {x}"
    return x


def uses_star_args(*xs):
    return xs[0]


def uses_nested_def(x):
    def inner(t):
        return t

    return inner(x)


def uses_unsupported_numpy(x):
    return np.fft.fft(x)


def uses_method(x):
    return x.cumprod()


def no_return(x):
    y = x * 2  # noqa: F841


def some_paths_return(x):
    if x > 0:
        return x


def returns_nothing(x):
    if x > 0:
        return
    return x


def uses_dtype(n):
    return np.zeros(n, dtype=int)


def uses_walrus(x):
    if (y := x * 2) > 1:
        return y
    return x


def uses_del(x):
    y = x
    del y
    return x


def _line_of(func, text: str) -> int:
    lines, start = inspect.getsourcelines(func)
    return start + next(k for k, line in enumerate(lines) if text in line)


CASES = [
    (uses_try, "try:", "try/except"),
    (uses_with, "with open", "with"),
    (uses_yield, "yield x", "yield"),
    (uses_lambda, "lambda t", "lambda"),
    (uses_global, "global G", "global"),
    (uses_class, "class A", "class"),
    (uses_comprehension, "for t in x", "comprehension"),
    (uses_random, "random.random()", "random.random is not a function adcompiler can differentiate"),
    (uses_unknown_name, "undefined_thing", "'undefined_thing' is not defined"),
    (recursive, "return recursive(", "recursion"),
    (uses_fstring, 'f"bad', "f-strings"),
    (uses_star_args, "def uses_star_args", "*args"),
    (uses_nested_def, "def inner", "nested function"),
    (uses_unsupported_numpy, "np.fft.fft", "np.fft.fft is not a function"),
    (uses_method, "x.cumprod()", ".cumprod()"),
    (no_return, "def no_return", "does not return a value on every path"),
    (some_paths_return, "def some_paths_return", "does not return a value on every path"),
    (returns_nothing, "        return\n", "must return a value"),
    (uses_dtype, "dtype=int", "dtype=float"),
    (uses_walrus, ":=", ":="),
    (uses_del, "del y", "del"),
]


@pytest.mark.parametrize("func, marker, message", CASES, ids=[c[0].__name__ for c in CASES])
def test_refused_with_location(func, marker, message):
    with pytest.raises(UnsupportedSyntaxError) as info:
        parse_function(func)
    text = str(info.value)
    line = _line_of(func, marker)
    assert message in text
    assert __file__ in text
    assert f"line {line}," in text
    assert marker.strip() in text  # the offending source line is shown
    assert info.value.loc.line == line


def test_lambda_function_refused():
    with pytest.raises(UnsupportedSyntaxError, match="lambda"):
        parse_function(lambda x: x)


def test_not_a_function():
    with pytest.raises(ADError, match="not a plain Python function"):
        parse_function(np.sin)
