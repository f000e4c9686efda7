"""User-defined derivative rules: ``@custom_vjp`` and ``@custom_jvp``.

    @ad.custom_vjp
    def quantize(x):
        return np.round(x)

    @quantize.defvjp
    def _(x, out, g):          # primal inputs, primal output, output cotangent
        return g               # cotangent of each positional input (a tuple if several)

The function is called as it is in the primal (its body need not be readable by adcompiler:
it may call into a C library), and the rule replaces its derivative. Generated code calls
both by name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class CustomFunction:
    """A function with user-supplied derivative rules."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.vjp: Callable | None = None
        self.jvp: Callable | None = None
        functools.update_wrapper(self, fn)
        #: how the frontend recognises a function with a custom rule
        self._adcompiler_custom_rule = self

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def defvjp(self, rule: Callable) -> Callable:
        """``rule(*inputs, out, g)`` returns the cotangent of each input (a tuple if several)."""
        self.vjp = rule
        return rule

    def defjvp(self, rule: Callable) -> Callable:
        """``rule(*inputs, *tangents)`` returns the output tangent."""
        self.jvp = rule
        return rule

    def __repr__(self) -> str:
        return f"<custom rule {self.__name__}>"

    def __reduce__(self):  # pickled by reference, like the function it wraps
        return (getattr, (__import__(self.__module__, fromlist=["_"]), self.__qualname__))


def custom_vjp(fn: Callable) -> CustomFunction:
    """Give ``fn`` a reverse-mode rule with ``.defvjp``."""
    return fn if isinstance(fn, CustomFunction) else CustomFunction(fn)


def custom_jvp(fn: Callable) -> CustomFunction:
    """Give ``fn`` a forward-mode rule with ``.defjvp``."""
    return fn if isinstance(fn, CustomFunction) else CustomFunction(fn)
