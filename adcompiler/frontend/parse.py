"""``parse_function``: a Python function → untyped IR, cached per function object.

Helpers a function calls are parsed the same way (and cached) before being inlined; the
stack of functions being parsed catches recursion, which the IR cannot express.
"""

from __future__ import annotations

import inspect
import types
import weakref

from ..errors import Loc, UnsupportedSyntaxError
from ..ir.clone import clone_function
from ..ir.core import Function
from .aliasing import check_aliasing
from .gate import check_function
from .lower import FunctionLowering
from .source import check_is_function, read_function

_cache: weakref.WeakKeyDictionary[types.FunctionType, dict[tuple, Function]] = weakref.WeakKeyDictionary()
_parsing: list[types.FunctionType] = []


def parse_function(pyfunc: types.FunctionType) -> Function:
    """The untyped IR of ``pyfunc``: parameters and most values have type None.

    Module-level names are read when the function is first parsed (and cached): changing a
    global constant afterwards does not change the compiled function.
    Returns a fresh copy each call, so callers may transform it in place.
    """
    return clone_function(_parse(pyfunc, None))


def _parse(pyfunc: types.FunctionType, call_loc: Loc | None, statics: tuple = ()) -> Function:
    """The cached IR of ``pyfunc`` (shared: never modify it). ``call_loc`` is the call that
    asks for it, when it is a helper; ``statics`` binds parameters to constants."""
    func = inspect.unwrap(pyfunc)
    check_is_function(func)
    cached = _cache.get(func, {}).get(statics)
    if cached is not None:
        return cached
    if func in _parsing:
        raise UnsupportedSyntaxError(
            f"recursive call to {func.__name__}(): adcompiler does not support recursion", call_loc
        )
    _parsing.append(func)
    try:
        fdef, source = read_function(func)
        check_function(fdef, source)
        check_aliasing(func, fdef, source)
        fn = FunctionLowering(func, source, _parse, statics).lower(fdef)
    finally:
        _parsing.pop()
    _cache.setdefault(func, {})[statics] = fn
    return fn
