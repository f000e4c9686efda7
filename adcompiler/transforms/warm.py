"""What a transformed function is before its IR is made: the key of its warm cache entries.

A warm start (a user's second run) must find the machine code without parsing the source:
parsing, differentiating and lowering is most of a warm start's time, and the printed IR is
what keys the object files. So the key here is made from what the IR is made of:

- the chain of transformations (``grad`` of ``jit``..., their ``wrt`` and options);
- every Python function read: its bytecode (instructions, constants, names, file and line
  numbers -- the lines that error messages quote), its defaults, and the
  value of every global and closure variable its code names (a module by name, a number or
  an array by value, a helper function by the same key, recursively);
- the argument types, and (added by the backend) which axes have length 1 and the options.

A ``@custom_vjp``/``@custom_jvp`` function is fingerprinted by its function and rules, which
the backend compiles from their source. Anything whose value cannot be fingerprinted -- an
object of a user's class -- gives no key: that function takes the long way, with its object
code still cached by IR. Names the bytecode mentions but never reads as a
global (attribute names like ``shape``) add a harmless ``-`` or a value the code ignores.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

import numpy as np

from ..custom import CustomFunction
from ..digest import digest
from .base import Transformed

#: libraries whose functions are known by name (the frontend's call tables), never read as source
_LIBRARIES = ("numpy", "math", "builtins")
_MISSING = object()


class _Unknown(Exception):
    """A value with no fingerprint."""


def warm_key(t: Transformed, arg_types: tuple) -> str | None:
    """The key of ``t`` specialised to ``arg_types``, or None if it cannot be made."""
    try:
        return f"{_transformed(t, {})}\nargs={arg_types}"
    except (_Unknown, RecursionError):
        return None


def _transformed(t: Transformed, seen: dict[int, str]) -> str:
    parts = [type(t).__module__, type(t).__qualname__, t.backend, repr(t.compile_options)]
    parts += [_value(a, seen) for a in t._args]
    return _digest(parts)


def _function(f: types.FunctionType, seen: dict[int, str]) -> str:
    if id(f) in seen:  # recursion between helpers: named, not expanded again
        return seen[id(f)]
    seen[id(f)] = f"function {f.__module__}.{f.__qualname__}"
    code = f.__code__
    parts = [f.__module__ or "", f.__qualname__, _code(code)]
    parts += [_value(d, seen) for d in f.__defaults__ or ()]
    parts += [f"{k}={_value(v, seen)}" for k, v in sorted((f.__kwdefaults__ or {}).items())]
    for name in sorted(_names(code)):
        parts.append(f"{name}={_value(f.__globals__.get(name, _MISSING), seen)}")
    for name, cell in zip(code.co_freevars, f.__closure__ or ()):
        try:
            contents = cell.cell_contents
        except ValueError:  # a cell not filled yet
            contents = _MISSING
        parts.append(f"{name}:={_value(contents, seen)}")
    return _digest(parts)


def _code(code: types.CodeType) -> str:
    """The bytecode of ``code`` and of the code nested in it, with its constants, names and
    positions. (Not ``marshal.dumps``: it marks objects that have other references, so its
    bytes change when anything else holds one of the constants.)"""
    parts = [
        code.co_code.hex(),
        code.co_linetable.hex(),
        code.co_filename,
        str(code.co_firstlineno),
        ",".join(code.co_names),
        ",".join(code.co_varnames),
        ",".join(code.co_freevars),
        ",".join(code.co_cellvars),
        f"{code.co_argcount},{code.co_posonlyargcount},{code.co_kwonlyargcount},{code.co_flags}",
        *(_constant(c) for c in code.co_consts),
    ]
    return _digest(parts)


def _constant(c: Any) -> str:
    if isinstance(c, types.CodeType):
        return _code(c)
    if isinstance(c, tuple):
        return f"({','.join(_constant(e) for e in c)})"
    if isinstance(c, frozenset):  # its order follows string hashes, which vary per process
        return f"{{{','.join(sorted(_constant(e) for e in c))}}}"
    return f"{type(c).__name__}:{c!r}"


def _names(code: types.CodeType) -> set[str]:
    """The global (and attribute) names of ``code`` and of the code nested in it."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _names(c)
    return names


def _value(v: Any, seen: dict[int, str]) -> str:
    if v is _MISSING:
        return "-"
    if v is None or isinstance(v, (bool, int, float, complex, str, bytes, np.generic)):
        return f"{type(v).__name__}:{v!r}"
    if isinstance(v, (tuple, list)):
        return f"{type(v).__name__}({','.join(_value(e, seen) for e in v)})"
    if isinstance(v, np.ndarray):
        data = digest(np.ascontiguousarray(v).tobytes())
        return f"array:{v.dtype.str}{v.shape}:{data}"
    if isinstance(v, types.ModuleType):
        return f"module {v.__name__}"
    if isinstance(v, Transformed):
        return _transformed(v, seen)
    if isinstance(v, CustomFunction):
        return f"custom({','.join(_value(f, seen) for f in (v.fn, v.vjp, v.jvp))})"
    module = getattr(v, "__module__", None) or ""
    library = module.split(".")[0]
    if library == "adcompiler" and dataclasses.is_dataclass(v) and not isinstance(v, type):
        # options: Options, Revolve, MemoryBudget
        fields = ",".join(f"{f.name}={_value(getattr(v, f.name), seen)}" for f in dataclasses.fields(v))
        return f"{type(v).__qualname__}({fields})"
    if callable(v) and (
        library in _LIBRARIES or (library == "adcompiler" and isinstance(v, types.FunctionType))
    ):
        return f"library {module}.{getattr(v, '__qualname__', getattr(v, '__name__', '?'))}"
    if isinstance(v, types.FunctionType):
        return _function(v, seen)
    raise _Unknown(type(v).__name__)


def _digest(parts: list[str]) -> str:
    return digest("\n".join(parts).encode())
