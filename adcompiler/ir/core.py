"""The structured SSA IR: values, ops, regions, functions.

* A :class:`Value` is an identity with a type and, when it came from a user variable, a
  ``hint`` (the variable's name). Printers and backends choose the final names.
* An :class:`Op` has operands (values), results (values it defines), attributes (constants
  declared by its :class:`~adcompiler.ir.ops.OpDef`) and, for control flow, regions.
* A :class:`Region` is a list of ops with block arguments (``args``) and a terminator
  (``yields``): the values it hands back to its op. Regions may use values of the regions
  that enclose them.
* A :class:`Function` is a region whose arguments are the parameters and whose yields are
  the returned values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import Loc
from .types import Type

if TYPE_CHECKING:
    from .ops import OpDef


class Value:
    """An SSA value: defined once, by an op result or as a region argument."""

    __slots__ = ("type", "hint", "owner")

    def __init__(self, type: Type | None, hint: str | None = None) -> None:
        self.type = type
        #: the user's variable name this value was assigned to, if any
        self.hint = hint
        #: the op that defines it, or the region it is an argument of
        self.owner: Op | Region | None = None

    def __repr__(self) -> str:
        return f"<Value {self.hint or '?'}: {self.type} @{id(self) % 100000}>"

    @property
    def op(self) -> Op | None:
        """The defining op (None for region arguments)."""
        return self.owner if isinstance(self.owner, Op) else None


class Op:
    """One operation. Its kind (signature, type rule, attributes) is ``self.opdef``."""

    __slots__ = ("opdef", "operands", "results", "attrs", "regions", "loc")

    def __init__(
        self,
        opdef: OpDef,
        operands: list[Value],
        results: list[Value],
        attrs: dict[str, Any] | None = None,
        regions: list[Region] | None = None,
        loc: Loc | None = None,
    ) -> None:
        self.opdef = opdef
        self.operands = list(operands)
        self.results = list(results)
        self.attrs = dict(attrs or {})
        self.regions = list(regions or [])
        #: where in the user's source this op comes from
        self.loc = loc
        for r in self.results:
            r.owner = self

    @property
    def name(self) -> str:
        return self.opdef.name

    @property
    def result(self) -> Value:
        """The single result of a one-result op."""
        assert len(self.results) == 1, self.name
        return self.results[0]

    def __repr__(self) -> str:
        return f"<Op {self.name} {self.attrs}>"

    def walk(self) -> Iterator[Op]:
        """This op and every op nested in its regions, outer before inner."""
        yield self
        for region in self.regions:
            yield from region.walk()


class Region:
    """A block with arguments, a list of ops and a terminator ``yields``."""

    def __init__(
        self, args: list[Value] | None = None, ops: list[Op] | None = None, yields: list[Value] | None = None
    ) -> None:
        self.args: list[Value] = args if args is not None else []
        for a in self.args:
            a.owner = self
        self.ops: list[Op] = ops if ops is not None else []
        self.yields: list[Value] = yields if yields is not None else []

    def add_arg(self, value: Value) -> Value:
        value.owner = self
        self.args.append(value)
        return value

    def walk(self) -> Iterator[Op]:
        for op in self.ops:
            yield from op.walk()


class Function:
    """A function: parameters are ``body.args``, the returned values ``body.yields``."""

    def __init__(
        self,
        name: str,
        body: Region,
        param_names: list[str],
        loc: Loc | None = None,
        notes: list[str] | None = None,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        self.name, self.body = name, body
        #: parameter names as the user wrote them (same order as ``body.args``)
        self.param_names = param_names
        self.loc = loc
        #: free-form facts later stages attach (e.g. the checkpoint plan), printed as comments
        self.notes = notes if notes is not None else []
        #: default values of parameters that have one (Python constants), by parameter name
        self.defaults: dict[str, Any] = defaults if defaults is not None else {}

    @property
    def params(self) -> list[Value]:
        return self.body.args

    @property
    def returns(self) -> list[Value]:
        return self.body.yields

    def walk(self) -> Iterator[Op]:
        return self.body.walk()

    def __str__(self) -> str:
        from .printer import print_function

        return print_function(self)
