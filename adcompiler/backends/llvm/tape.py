"""Tapes of reverse mode: ``push``/``pop`` on a growable native stack per tape name.

A tape is a ``{record*, length, capacity}`` slot on the stack of the call, its records the
flattened leaves of the pushed value (an array record holds a reference to its block). The
buffer doubles when full and is freed, with any records left on it, when the call ends.

A ``for`` loop knows its trip count before its first iteration, so the pushes its body makes
exactly once per iteration are reserved for up front (:func:`reserve`): one ``realloc``
before the loop, and each push inside is a plain store with no capacity test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ...ir.core import Op
from ...ir.types import Type
from .elementwise import counted_loop
from .types import I8P, I32, I64, Lowered, flatten, has_arrays, leaf_types, unflatten, unsupported

if TYPE_CHECKING:
    from .lower import Lowerer

_INITIAL_CAPACITY = 16
_NULL = ir.Constant(I8P, None)


class Tape:
    __slots__ = ("type", "record", "slot")

    def __init__(self, type: Type, record: ir.LiteralStructType, slot: ir.Value) -> None:
        self.type, self.record = type, record
        #: pointer to the {record*, i64 length, i64 capacity} slot
        self.slot = slot

    def field(self, b: ir.IRBuilder, k: int) -> ir.Value:
        return b.gep(self.slot, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True)


def _tape(lw: Lowerer, op: Op, t: Type) -> Tape:
    name = op.attrs["tape"]
    tape = lw.tapes.get(name)
    if tape is None:
        record = ir.LiteralStructType(leaf_types(t))
        slot = lw.alloca(ir.LiteralStructType([record.as_pointer(), I64, I64]), name=f"tape.{name}")
        tape = Tape(t, record, slot)
        eb = lw.entry_builder
        eb.store(ir.Constant(record.as_pointer(), None), tape.field(eb, 0))
        eb.store(ir.Constant(I64, 0), tape.field(eb, 1))
        eb.store(ir.Constant(I64, 0), tape.field(eb, 2))
        lw.tapes[name] = tape
    elif tape.type != t:
        raise unsupported(f"tape {name!r} holding both {tape.type} and {t}", op.loc)
    return tape


def _sizeof(b: ir.IRBuilder, ty: ir.Type) -> ir.Value:
    """``sizeof(ty)`` as the address of element 1 of a null array (no target data needed)."""
    return b.ptrtoint(b.gep(ir.Constant(ty.as_pointer(), None), [ir.Constant(I64, 1)]), I64)


def _grow(lw: Lowerer, tape: Tape, capacity: ir.Value) -> None:
    b = lw.builder
    old = b.bitcast(b.load(tape.field(b, 0)), I8P)
    new = b.call(lw.rt.libc("realloc"), [old, b.mul(capacity, _sizeof(b, tape.record))])
    lw.fail_if(b.icmp_unsigned("==", new, _NULL), MemoryError, "out of memory growing a tape")
    b.store(b.bitcast(new, tape.record.as_pointer()), tape.field(b, 0))
    b.store(capacity, tape.field(b, 2))
    lw.rt.count(b, b.zext(b.icmp_unsigned("==", old, _NULL), I64))  # the first growth allocates


def reserve(lw: Lowerer, loop: Op, trips: ir.Value) -> None:
    """Make room for ``trips`` more records on each tape ``loop``'s body pushes once per iteration."""
    for op in loop.regions[0].ops:
        if op.name != "push":
            continue
        tape = _tape(lw, op, op.operands[0].type)
        b = lw.builder
        needed = b.add(b.load(tape.field(b, 1)), trips)
        with b.if_then(b.icmp_signed(">", needed, b.load(tape.field(b, 2))), likely=False):
            _grow(lw, tape, needed)
        lw.reserved_pushes.add(op)


def _push(lw: Lowerer, op: Op) -> None:
    t = op.operands[0].type
    value = lw.take(op, 0)  # the tape keeps the reference
    tape = _tape(lw, op, t)
    b = lw.builder
    length = b.load(tape.field(b, 1))
    if op not in lw.reserved_pushes:
        full = b.icmp_signed("==", length, b.load(tape.field(b, 2)))
        with b.if_then(full, likely=False):
            capacity = b.load(tape.field(b, 2))
            _grow(
                lw,
                tape,
                b.select(
                    b.icmp_signed("==", capacity, ir.Constant(I64, 0)),
                    ir.Constant(I64, _INITIAL_CAPACITY),
                    b.shl(capacity, ir.Constant(I64, 1)),
                ),
            )
    record = b.gep(b.load(tape.field(b, 0)), [length], inbounds=True)
    for k, leaf in enumerate(flatten(value, t)):
        b.store(leaf, b.gep(record, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True))
    b.store(b.add(length, ir.Constant(I64, 1)), tape.field(b, 1))


def _pop(lw: Lowerer, op: Op) -> Lowered:
    t = op.results[0].type
    tape = _tape(lw, op, t)
    b = lw.builder
    length = b.load(tape.field(b, 1))
    lw.fail_if(
        b.icmp_signed("==", length, ir.Constant(I64, 0)),
        IndexError,
        f"pop from the empty tape {op.attrs['tape']!r}",
    )
    length = b.sub(length, ir.Constant(I64, 1))
    b.store(length, tape.field(b, 1))
    return _load_record(b, tape, length)


def _load_record(b: ir.IRBuilder, tape: Tape, index: ir.Value) -> Lowered:
    record = b.gep(b.load(tape.field(b, 0)), [index], inbounds=True)
    leaves = [
        b.load(b.gep(record, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True))
        for k in range(len(tape.record.elements))
    ]
    return unflatten(tape.type, iter(leaves))


def release_tapes(lw: Lowerer) -> None:
    """At the end of the call: drop the arrays still on the tapes, free the buffers."""
    for tape in lw.tapes.values():
        b = lw.builder
        if has_arrays(tape.type):
            counted_loop(
                lw,
                b.load(tape.field(b, 1)),
                lambda i, tape=tape: lw.decref(_load_record(lw.builder, tape, i)),
            )
            b = lw.builder
        buffer = b.bitcast(b.load(tape.field(b, 0)), I8P)
        b.call(lw.rt.libc("free"), [buffer])
        lw.rt.count(b, b.neg(b.zext(b.icmp_unsigned("!=", buffer, _NULL), I64)))


LOWERINGS = {"push": _push, "pop": _pop}
