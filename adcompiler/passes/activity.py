"""Activity analysis: which values carry a derivative.

A value is *varied* when it depends differentiably on a ``wrt`` input, *useful* when the
output depends differentiably on it; it is *active* when both, and only active values get
adjoints (reverse mode) or tangents (forward mode). Integers, booleans and the results of
non-differentiable ops (comparisons, ``floor``, ``stop_gradient``, ...) are never active.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..ir.core import Function, Op, Region, Value
from ..ir.ops import NON_DIFFERENTIABLE
from ..ir.types import Tensor


def can_carry_derivative(v: Value) -> bool:
    t = v.type
    return isinstance(t, Tensor) and t.is_float


def differentiable_operands(op: Op) -> list[int]:
    """Positions of the operands a derivative can flow through."""
    if op.name in NON_DIFFERENTIABLE:
        return []
    if op.name == "for":
        return list(range(3, len(op.operands)))
    return [k for k, v in enumerate(op.operands) if can_carry_derivative(v)]


class Activity:
    """The active values of a function for a choice of ``wrt`` parameters."""

    def __init__(self, fn: Function, wrt: Iterable[int], outputs: Iterable[Value] | None = None) -> None:
        self.varied: set[Value] = {fn.params[k] for k in wrt if can_carry_derivative(fn.params[k])}
        # a tape (of reverse-mode IR) links each push to a pop: a value pushed varied is popped
        # varied, and a value is useful when what is popped from its tape is
        self._varied_tapes: set[str] = set()
        self._useful_tapes: set[str] = set()
        _to_fixed_point(lambda: self._forward(fn.body), self._varied_tapes)
        self.useful: set[Value] = set(v for v in (outputs if outputs is not None else fn.returns))
        _to_fixed_point(lambda: self._backward(fn.body), self._useful_tapes)

    def is_active(self, v: Value) -> bool:
        return v in self.varied and v in self.useful and can_carry_derivative(v)

    def op_is_active(self, op: Op) -> bool:
        return any(self.is_active(r) for r in op.results)

    # ------------------------------------------------------------------ varied: forward
    def _forward(self, region: Region) -> None:
        for op in region.ops:
            self._forward_op(op)

    def _vary(self, v: Value) -> bool:
        if v in self.varied or not can_carry_derivative(v):
            return False
        self.varied.add(v)
        return True

    def _forward_op(self, op: Op) -> None:
        if op.name == "push":
            if op.operands[0] in self.varied:
                self._varied_tapes.add(op.attrs["tape"])
            return
        if op.name == "pop":
            if op.attrs["tape"] in self._varied_tapes:
                self._vary(op.result)
            return
        if op.name == "if":
            for r in op.regions:
                self._forward(r)
            for k, res in enumerate(op.results):
                if any(r.yields[k] in self.varied for r in op.regions):
                    self._vary(res)
            return
        if op.name in ("for", "while"):
            body = op.regions[-1]
            first = 1 if op.name == "for" else 0
            inits = op.operands[3:] if op.name == "for" else op.operands
            carried = body.args[first:]
            for a, init in zip(carried, inits):
                if init in self.varied:
                    self._vary(a)
            while True:  # a carried value varies if it varies in any iteration
                self._forward(body)
                grew = False
                for a, y in zip(carried, body.yields):
                    if y in self.varied:
                        grew |= self._vary(a)
                if not grew:
                    break
            if op.name == "while":
                for a, b in zip(op.regions[0].args, carried):
                    if b in self.varied:
                        self._vary(a)
                self._forward(op.regions[0])
            for r, a in zip(op.results, carried):
                if a in self.varied:
                    self._vary(r)
            return
        if op.regions:  # checkpoint, custom_call with a body: region args bound to operands
            region = op.regions[0]
            for a, v in zip(region.args, op.operands):
                if v in self.varied:
                    self._vary(a)
            self._forward(region)
            for r, y in zip(op.results, region.yields):
                if y in self.varied:
                    self._vary(r)
            return
        if any(op.operands[k] in self.varied for k in differentiable_operands(op)):
            for r in op.results:
                self._vary(r)

    # ------------------------------------------------------------------ useful: backward
    def _backward(self, region: Region) -> None:
        for op in reversed(region.ops):
            self._backward_op(op)

    def _use(self, v: Value) -> bool:
        if v in self.useful:
            return False
        self.useful.add(v)
        return True

    def _backward_op(self, op: Op) -> None:
        if op.name == "push":
            if op.attrs["tape"] in self._useful_tapes:
                self._use(op.operands[0])
            return
        if not op.regions and not any(r in self.useful for r in op.results):
            return  # (control flow is entered all the same: it may push to a useful tape)
        if op.name == "pop":
            self._useful_tapes.add(op.attrs["tape"])
            return
        if op.name == "if":
            for k, res in enumerate(op.results):
                if res in self.useful:
                    for r in op.regions:
                        self._use(r.yields[k])
            for r in op.regions:
                self._backward(r)
            return
        if op.name in ("for", "while"):
            body = op.regions[-1]
            first = 1 if op.name == "for" else 0
            inits = op.operands[3:] if op.name == "for" else op.operands
            carried = body.args[first:]
            for res, y, a in zip(op.results, body.yields, carried):
                if res in self.useful:
                    self._use(y)
                    self._use(a)  # a loop that runs no iteration returns its initial values
            while True:
                self._backward(body)
                grew = False
                for a, y in zip(carried, body.yields):
                    if a in self.useful:
                        grew |= self._use(y)
                if not grew:
                    break
            for a, init in zip(carried, inits):
                if a in self.useful:
                    self._use(init)
            return
        if op.regions:
            region = op.regions[0]
            for res, y in zip(op.results, region.yields):
                if res in self.useful:
                    self._use(y)
            self._backward(region)
            for a, v in zip(region.args, op.operands):
                if a in self.useful:
                    self._use(v)
            return
        for k in differentiable_operands(op):
            self._use(op.operands[k])


def _to_fixed_point(sweep: Callable[[], None], tapes: set[str]) -> None:
    """Run ``sweep`` until it adds no tape to ``tapes``: where a sweep visits one end of a
    tape before the other against the flow (a loop body that pops before it pushes), what it
    learns at the later end reaches the earlier one only on the next sweep."""
    while True:
        before = len(tapes)
        sweep()
        if len(tapes) == before:
            return
