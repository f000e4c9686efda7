"""Name resolution: what a name that is not a local variable refers to.

A free name is looked up like Python does at call time — the function's closure, then its
module's globals, then builtins — but once, when the function is parsed: a module-level
constant that the program changes later keeps the value it had at parse time (arrays are
copied so that this is true of them too).

What a name can refer to is a :data:`Symbol`: a module adcompiler knows (NumPy, math,
adcompiler itself), a library function, a constant, a helper function to inline, a function
with a user-defined derivative, or something opaque that is refused where it is used.
"""

from __future__ import annotations

import builtins
import math
import types
from typing import Any

import numpy as np

from ..errors import Loc, UnsupportedSyntaxError


class ModuleRef:
    """A module: ``kind`` is ``numpy``, ``math``, ``ad`` or ``other``; ``path`` the dotted
    submodule inside it (``linalg``); ``name`` how the user's code spells it."""

    __slots__ = ("kind", "path", "name", "obj")

    def __init__(self, kind: str, path: str, name: str, obj: Any) -> None:
        self.kind, self.path, self.name, self.obj = kind, path, name, obj


class LibFunc:
    """A library function: ``lib`` is ``numpy``, ``math``, ``builtin`` or ``ad``; ``name`` its
    (dotted) name in that library, e.g. ``linalg.norm``. Whether adcompiler supports it is
    decided by the call tables. Equal to another of the same function (the only symbol
    compared: ``func == LibFunc("builtin", "range")``)."""

    __slots__ = ("lib", "name")

    def __init__(self, lib: str, name: str) -> None:
        self.lib, self.name = lib, name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LibFunc) and (self.lib, self.name) == (other.lib, other.name)

    def __hash__(self) -> int:
        return hash((self.lib, self.name))


class Constant:
    """A compile-time constant (float, int, bool, None, ndarray or a tuple of them)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Helper:
    """A plain Python function of the user's: inlined where it is called."""

    __slots__ = ("func",)

    def __init__(self, func: types.FunctionType) -> None:
        self.func = func


class Custom:
    """A function with a user-defined derivative (``@ad.custom_vjp``/``@ad.custom_jvp``)."""

    __slots__ = ("rule", "name")

    def __init__(self, rule: Any, name: str) -> None:
        self.rule, self.name = rule, name


class Opaque:
    """Anything else: refused with a message naming it, where it is used."""

    __slots__ = ("name", "obj")

    def __init__(self, name: str, obj: Any) -> None:
        self.name, self.obj = name, obj


Symbol = ModuleRef | LibFunc | Constant | Helper | Custom | Opaque

#: libraries whose functions are recognised when imported by name (``from math import sin``)
_LIBS: tuple[tuple[str, Any], ...] = (("builtin", builtins), ("math", math), ("numpy", np))

_MISSING = object()


def lookup_free_name(pyfunc: types.FunctionType, name: str) -> Symbol | None:
    """What the free name ``name`` of ``pyfunc`` refers to; None when it is not defined."""
    value = _MISSING
    code = pyfunc.__code__
    if name in code.co_freevars and pyfunc.__closure__ is not None:
        cell = pyfunc.__closure__[code.co_freevars.index(name)]
        try:
            value = cell.cell_contents
        except ValueError:  # a closure variable not assigned yet
            return None
    if value is _MISSING:
        value = pyfunc.__globals__.get(name, _MISSING)
    if value is _MISSING:
        value = getattr(builtins, name, _MISSING)
    if value is _MISSING:
        return None
    return classify(value, name)


def classify(value: Any, name: str) -> Symbol:
    """The symbol of a Python object the user's code refers to as ``name``."""
    if isinstance(value, types.ModuleType):
        return _module(value, name)
    const = as_constant(value)
    if const is not _MISSING:
        return Constant(const)
    if hasattr(value, "_adcompiler_custom_rule"):
        return Custom(value._adcompiler_custom_rule, getattr(value, "__name__", name))
    lib_name = getattr(value, "__name__", None)
    if isinstance(lib_name, str):
        for lib, module in _LIBS:
            if getattr(module, lib_name, None) is value:
                return LibFunc(lib, lib_name)
    if isinstance(value, types.FunctionType):
        if (value.__module__ or "").split(".")[0] == "adcompiler":
            return LibFunc("ad", value.__name__)
        return Helper(value)
    return Opaque(name, value)


def member(module: ModuleRef, attr: str, loc: Loc) -> Symbol:
    """``module.attr``: a submodule, a library function or a constant."""
    dotted = f"{module.name}.{attr}"
    if module.kind == "other":
        raise UnsupportedSyntaxError(f"{dotted} is not a function adcompiler can differentiate", loc)
    if module.kind == "ad":  # adcompiler's own markers; the call tables know them
        return LibFunc("ad", attr)
    value = getattr(module.obj, attr, _MISSING)
    if value is _MISSING:
        raise UnsupportedSyntaxError(f"module {module.name!r} has no attribute {attr!r}", loc)
    if isinstance(value, types.ModuleType):
        path = f"{module.path}.{attr}" if module.path else attr
        return ModuleRef(module.kind, path, dotted, value)
    if value is None or isinstance(value, float):  # np.newaxis, np.pi, math.inf, ...
        return Constant(value)
    return LibFunc(module.kind, f"{module.path}.{attr}" if module.path else attr)


def _module(value: types.ModuleType, name: str) -> ModuleRef:
    full = value.__name__
    root, _, path = full.partition(".")
    kind = {"numpy": "numpy", "math": "math", "adcompiler": "ad"}.get(root, "other")
    if kind == "math" and path:
        kind = "other"
    return ModuleRef(kind, path if kind in ("numpy", "ad") else "", name, value)


def as_constant(value: Any) -> Any:
    """``value`` as an IR constant (NumPy scalars become Python scalars, arrays are copied),
    or ``_MISSING`` when it is not a constant adcompiler supports."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.astype(np.float64 if value.dtype.kind == "f" else value.dtype).copy()
    if isinstance(value, tuple):
        items = [as_constant(v) for v in value]
        return _MISSING if any(i is _MISSING for i in items) else tuple(items)
    return _MISSING


def is_missing(value: Any) -> bool:
    return value is _MISSING


class NeedsConstant(UnsupportedSyntaxError):
    """A parameter is used where only a constant will do (``np.sum(x, axis=axis)``): the
    caller retries with the constant its call passes."""
