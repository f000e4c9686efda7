"""A few top-level values of a function, as a program that runs without the IR.

``checkpoint="auto"`` sizes a gradient's tapes from the arguments of each call: a loop's
bounds and the initial values of what it carries. A :class:`Slice` keeps the pure ops those
values need (usually none: they are parameters or constants) in a form a warm cache entry
stores, so a warm start decides the budget without making the IR, and imports the
interpreter only for the ops it must run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Function, Value


class Slice:
    """Top-level ``values`` of ``fn`` as a small program of the pure ops they need. A value
    that would need a loop or an impure op computes to None (a plan must be cheap to make)."""

    def __init__(self, fn: Function, values: Sequence[Value]) -> None:
        defined_by = {id(r): op for op in fn.body.ops for r in op.results}
        #: where each value is: ("arg", k), ("const", value) or ("op", step, result); None if
        #: it cannot be computed here
        where: dict[int, tuple | None] = {id(p): ("arg", k) for k, p in enumerate(fn.params)}
        #: (op name, operand places, attributes, number of results), in order
        self.steps: list[tuple[str, list[tuple], dict[str, Any], int]] = []

        def place(v: Value) -> tuple | None:
            if id(v) in where:
                return where[id(v)]
            op = defined_by.get(id(v))
            found = None
            if op is not None and op.name == "const":
                found = ("const", op.attrs["value"])
            elif op is not None and not op.regions and op.opdef.pure:
                operands = [place(x) for x in op.operands]
                if None not in operands:
                    self.steps.append((op.name, operands, dict(op.attrs), len(op.results)))
                    for k, r in enumerate(op.results):
                        where[id(r)] = ("op", len(self.steps) - 1, k)
                    found = where[id(v)]
            where[id(v)] = found
            return found

        self.outputs = [place(v) for v in values]

    def run(self, args: Sequence[Any]) -> list[Any]:
        """The values at ``args`` (the function's arguments)."""
        results: list[list[Any]] = []

        def get(at: tuple) -> Any:
            if at[0] == "op":
                return results[at[1]][at[2]]
            return args[at[1]] if at[0] == "arg" else at[1]

        if self.steps:
            from .core import Op, Value
            from .interp import _Interpreter
            from .ops import OPS

            interp = _Interpreter()
            for name, operands, attrs, n in self.steps:
                op = Op(OPS[name], [], [Value(None) for _ in range(n)], attrs)
                results.append(interp.op(op, [get(at) for at in operands], {}))
        return [None if at is None else get(at) for at in self.outputs]
