"""Building IR: ``b.mul(x, y)`` appends a ``mul`` op to the current region and returns its value.

Every op name in :data:`~adcompiler.ir.ops.OPS` is a method (names that are Python keywords
go through :meth:`Builder.op`: ``b.op("and", x, y)``). Result types come from the op's type
rule, so a builder over typed values builds typed IR.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import Loc
from .core import Op, Region, Value
from .ops import OPS
from .types import Type


class Builder:
    """Appends ops to ``region``; ``loc`` is stamped on every op it builds."""

    def __init__(self, region: Region, loc: Loc | None = None) -> None:
        self.region = region
        self.loc = loc

    # ------------------------------------------------------------------ generic
    def op(
        self,
        name: str,
        *operands: Value,
        hint: str | None = None,
        result_types: Sequence[Type] | None = None,
        regions: Sequence[Region] = (),
        **attrs: Any,
    ) -> Any:
        """Append op ``name``; returns its value (one result), None (none) or a list."""
        opdef = OPS[name]
        for a in opdef.attrs:
            attrs.setdefault(a, None)
        if result_types is None:
            assert opdef.type_rule is not None, f"{name} needs result_types"
            result_types = opdef.type_rule([v.type for v in operands], attrs)
        results = [Value(t, hint) for t in result_types]
        op = Op(opdef, list(operands), results, attrs, list(regions), self.loc)
        self.region.ops.append(op)
        if len(results) == 1:
            return results[0]
        return results if results else None

    def __getattr__(self, name: str):
        if name in OPS:
            return lambda *operands, **kw: self.op(name, *operands, **kw)
        raise AttributeError(name)

    def const(self, value: Any, hint: str | None = None) -> Value:
        return self.op("const", value=value, hint=hint)

    def child(self, region: Region) -> Builder:
        """A builder for a nested region, with the same location."""
        return Builder(region, self.loc)

    # ------------------------------------------------------------------ control flow
    def if_(
        self, cond: Value, then: Region, orelse: Region, types: Sequence[Type], hints=None
    ) -> list[Value]:
        return self._control("if", [cond], [then, orelse], types, hints)

    def for_(
        self,
        lo: Value,
        hi: Value,
        step: Value,
        inits: Sequence[Value],
        body: Region,
        types: Sequence[Type],
        hints=None,
        reverse: bool = False,
    ) -> list[Value]:
        """``body.args`` are the index then the carried values; it yields the carried values."""
        return self._control("for", [lo, hi, step, *inits], [body], types, hints, reverse=reverse)

    def while_(
        self, inits: Sequence[Value], cond: Region, body: Region, types: Sequence[Type], hints=None
    ) -> list[Value]:
        """``cond`` and ``body`` both take the carried values; cond yields one bool."""
        return self._control("while", list(inits), [cond, body], types, hints)

    def _control(self, name, operands, regions, types, hints, **attrs) -> list[Value]:
        hints = list(hints) if hints is not None else [None] * len(types)
        results = [Value(t, h) for t, h in zip(types, hints)]
        op = Op(OPS[name], operands, results, attrs, regions, self.loc)
        self.region.ops.append(op)
        return results
