"""The frontend's IR, printed and compared as text for a handful of small functions."""

from __future__ import annotations

import textwrap

import numpy as np

import adcompiler as ad
from adcompiler.frontend import parse_function
from adcompiler.ir.verifier import verify


def _ir(func) -> str:
    fn = parse_function(func)
    verify(fn)
    return "\n".join(line.split("  # line")[0].rstrip() for line in str(fn).splitlines())


def _expect(func, text: str) -> None:
    assert _ir(func) == textwrap.dedent(text).strip()


def if_elif(x):
    if x > 1.0:
        y = x * 2.0
    elif x < 0.0:
        y = -x
    else:
        y = x
    return y


def test_if_elif():
    _expect(
        if_elif,
        """
        func if_elif(%x: None) -> (None) {
          %0 = gt %x, 1.0 : None
          %y = if %0 -> (None) {
            %y.1 = mul %x, 2.0 : None
            yield %y.1
          } else {
            %1 = lt %x, 0.0 : None
            %y.2 = if %1 -> (None) {
              %y.3 = neg %x : None
              yield %y.3
            } else {
              yield %x
            }
            yield %y.2
          }
          return %y
        }
        """,
    )


def for_carry(x, n):
    s = 0.0
    for i in range(n):
        t = x * i
        s = s + t
    return s


def test_for_with_carry():
    # t is a loop temporary: not carried
    _expect(
        for_carry,
        """
        func for_carry(%x: None, %n: None) -> (None) {
          %s.1 = for %i in range(0, %n, 1) carry(%s = 0.0) -> (None) {
            %t = mul %x, %i : None
            %s.2 = add %s, %t : None
            yield %s.2
          }
          return %s.1
        }
        """,
    )


def while_break(x):
    while True:
        x = x * 2.0
        if x > 10.0:
            break
    return x


def test_while_with_break():
    _expect(
        while_break,
        """
        func while_break(%x: None) -> (None) {
          %x.2, %broke.1 = while carry(%x.1 = %x, %broke = False) -> (None, None) {
            %0 = not %broke : None
            condition %0
          } do (%x.3, %broke.2) {
            %x.4 = mul %x.3, 2.0 : None
            %1 = gt %x.4, 10.0 : None
            %broke.3 = if %1 -> (None) {
              yield True
            } else {
              yield False
            }
            yield %x.4, %broke.3
          }
          return %x.2
        }
        """,
    )


def return_in_loop(x):
    for i in range(len(x)):
        if x[i] > 0.0:
            return x[i]
    return 0.0


def test_early_return_in_loop():
    # the loop becomes a while (exact trip count); the code after it is guarded
    _expect(
        return_in_loop,
        """
        func return_in_loop(%x: None) -> (None) {
          %0 = len %x : i64
          %1 = undef  : none
          %i.1, %returned.1, %retval.1 = while carry(%i = 0, %returned = False, %retval = %1) -> (None, None, None) {
            %2 = if %returned -> (None) {
              yield False
            } else {
              %3 = lt %i, %0 : None
              yield %3
            }
            condition %2
          } do (%i.2, %returned.2, %retval.2) {
            %4 = getitem %x, %i.2 {index=[#]} : None
            %5 = gt %4, 0.0 : None
            %returned.3, %retval.3 = if %5 -> (None, None) {
              %6 = getitem %x, %i.2 {index=[#]} : None
              yield True, %6
            } else {
              yield False, %retval.2
            }
            %7 = add %i.2, 1 : None
            yield %7, %returned.3, %retval.3
          }
          %8 = not %returned.1 : None
          %returned.4, %retval.4 = if %8 -> (None, None) {
            yield True, 0.0
          } else {
            yield %returned.1, %retval.1
          }
          return %retval.4
        }
        """,
    )


def set_items(x, i):
    y = np.zeros(4)
    y[i] = x
    y[1:3] += x * 2.0
    return y


def test_setitem():
    _expect(
        set_items,
        """
        func set_items(%x: None, %i: None) -> (array<f64,1>) {
          %y = zeros 4 : array<f64,1>
          %y.1 = setitem %y, %x, %i {index=[#]} : array<f64,1>
          %0 = getitem %y.1, 1, 3 {index=[#:#]} : array<f64,1>
          %1 = mul %x, 2.0 : None
          %2 = add %0, %1 : None
          %y.2 = setitem %y.1, %2, 1, 3 {index=[#:#]} : array<f64,1>
          return %y.2
        }
        """,
    )


def square_plus(a, b=1.0):
    sq = a * a
    return sq + b


def uses_helper(x):
    y = square_plus(x)
    return square_plus(y, b=x)


def test_helper_inlining():
    # helper-local names are kept (the backend makes them unique); locs stay the helper's
    _expect(
        uses_helper,
        """
        func uses_helper(%x: None) -> (None) {
          %sq = mul %x, %x : None
          %y = add %sq, 1.0 : None
          %sq.1 = mul %y, %y : None
          %0 = add %sq.1, %x : None
          return %0
        }
        """,
    )
    inlined = next(op for op in parse_function(uses_helper).walk() if op.name == "mul")
    assert inlined.loc.func == "square_plus"


def ad_markers(x):
    y = ad.stop_gradient(x) * x
    return ad.checkpoint(square_plus)(y, 2.0)


def test_ad_markers():
    _expect(
        ad_markers,
        """
        func ad_markers(%x: None) -> (None) {
          %0 = stop_gradient %x : None
          %y = mul %0, %x : None
          %1 = checkpoint(%a = %y, %b = 2.0) -> (None) {
            %sq = mul %a, %a : None
            %2 = add %sq, %b : None
            yield %2
          }
          return %1
        }
        """,
    )


def test_params_defaults_and_locations():
    fn = parse_function(square_plus)
    assert fn.param_names == ["a", "b"]
    assert fn.defaults == {"b": 1.0}
    assert all(p.type is None for p in fn.params)
    assert fn.loc.file == __file__ and fn.loc.line == square_plus.__code__.co_firstlineno
    mul = fn.body.ops[0]
    assert mul.loc.line == fn.loc.line + 1 and mul.loc.source_line.strip() == "sq = a * a"
    assert mul.loc.col == mul.loc.source_line.index("a * a")


def test_nested_and_decorated_functions():
    def decorate(f):
        return f

    class Holder:
        @staticmethod
        @decorate
        def method(x):
            if x > 0:
                return x
            return -x

    fn = parse_function(Holder.method)
    verify(fn)
    assert fn.loc.line == Holder.method.__code__.co_firstlineno + 2
    op = next(op for op in fn.walk() if op.name == "gt")
    assert op.loc.source_line.strip() == "if x > 0:"
    assert op.loc.col == op.loc.source_line.index("x > 0")


def test_cached_and_fresh_copies():
    a, b = parse_function(if_elif), parse_function(if_elif)
    assert a is not b and str(a) == str(b)


def custom(x):
    return x


custom._adcompiler_custom_rule = "the rule"


def calls_custom(x):
    return custom(x * 2.0)


def test_custom_call():
    op = next(op for op in parse_function(calls_custom).walk() if op.name == "custom_call")
    assert op.attrs["rule"] == "the rule"


ENDS = '''
import functools


def trailing_pass(x):
    if x > 0.0:
        return x
    else:
        pass


def continued_to_the_margin(x):
    return (x +
1.0)


def note_at_the_end(x):
    return x
    """a note
at the margin"""


def decorate(f):
    @functools.wraps(f)
    def wrapper(*args):
        return f(*args)

    return wrapper


@decorate
def decorated(x):
    y = x * 2.0
    # a comment
    return y


def one_line(x): return x + 1.0
'''


def test_the_source_reader_finds_where_each_function_ends(tmp_path, monkeypatch):
    """As inspect does, without its tokenizer (or with it, where the quick way cannot tell)."""
    import ast
    import importlib
    import inspect

    from adcompiler.frontend.source import read_function

    (tmp_path / "function_ends.py").write_text(ENDS)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("function_ends")
    for name in ("trailing_pass", "continued_to_the_margin", "note_at_the_end", "decorated", "one_line"):
        fdef, source = read_function(getattr(module, name))
        lines, first = inspect.getsourcelines(getattr(module, name))
        assert source.first_line == first
        assert ast.dump(fdef) == ast.dump(ast.parse(textwrap.dedent("".join(lines))).body[0])
