"""Binomial checkpointing (Revolve) of a loop's reverse sweep, emitted as IR.

The forward sweep runs the loop plainly, storing nothing. The reverse sweep keeps at most
``k`` snapshots of the loop's carried state and follows the schedule of
:mod:`adcompiler.ad.checkpoint`: a stack of frames ``(start, end, free)``, each an interval
of iterations to reverse whose start state is the top snapshot, with ``free`` more snapshots
it may use:

* one iteration left: restore it, run its adjoint (the loop's reverse body, fed the
  restored state through the same tapes the tape strategy uses), drop the frame;
* no free snapshot: advance to the last iteration, run its adjoint, shorten the frame;
* otherwise: advance to the split point, snapshot, and reverse the right part first.

Everything is ordinary IR (a ``while`` loop, tapes for the snapshot and frame stacks), so
both backends run it and the generated source shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import naming
from ..ir.builder import Builder
from ..ir.clone import clone_into
from ..ir.core import Op, Region, Value
from ..ir.types import BOOL, I64, Tensor


class RevolveEmitter:
    """Emits the checkpointed reverse sweep of one loop."""

    def __init__(
        self,
        op: Op,
        b: Builder,
        lookup: Callable[[Value], Value],
        reverse_body: Region,
        pops: dict[Value, Op],
        new_tape: Callable[[str | None], str],
    ) -> None:
        self.op = op
        self.b = b
        self.lookup = lookup
        self.reverse_body = reverse_body  # args: index, adjoints...; the loop's reverse body
        self.pops = pops  # carried block argument -> the pop of it in the reverse body
        self.new_tape = new_tape
        body = op.regions[-1]
        self.first = 1 if op.name == "for" else 0
        self.body = body
        self.carried = body.args[self.first :]

    # ------------------------------------------------------------------ entry point
    def emit(self, trips: Value, snapshots: Value, bar_inits: Sequence[Value]) -> list[Value]:
        """The reverse sweep; returns the adjoints the reverse body yields, after the loop."""
        b = self.b
        inits = self.op.operands[3:] if self.op.name == "for" else self.op.operands
        state = [self.lookup(v) for v in inits]
        self.snaps = [self.new_tape(naming.snapshot(a.hint)) for a in self.carried]
        self.frame_tapes = [self.new_tape(name) for name in ("frame_start", "frame_end", "frame_free")]
        names = ", ".join(a.hint or "state" for a in self.carried)
        b.comment(text=f"Revolve: binomial checkpointing of ({names}): few snapshots, the rest recomputed")
        for v, tape in zip(state, self.snaps):
            b.push(v, tape=tape)
        self._push_frame(b, b.const(0), trips, b.sub(snapshots, b.const(1)))
        frames = b.int(b.gt(trips, b.const(0)), hint="frames")

        cond = Region([Value(I64, "frames")] + [Value(v.type, v.hint) for v in bar_inits])
        cb = Builder(cond, self.op.loc)
        cond.yields = [cb.gt(cond.args[0], cb.const(0))]
        loop = Region([Value(I64, "frames")] + [Value(v.type, v.hint) for v in bar_inits])
        self._step(Builder(loop, self.op.loc), loop.args[0], loop.args[1:], loop)
        types = [a.type for a in loop.args]
        results = b.while_([frames, *bar_inits], cond, loop, types, [a.hint for a in loop.args])
        return results[1:]

    # ------------------------------------------------------------------ one step of the schedule
    def _step(self, b: Builder, frames: Value, bars: list[Value], loop: Region) -> None:
        free = b.pop(tape=self.frame_tapes[2], result_types=[I64], hint="free")
        end = b.pop(tape=self.frame_tapes[1], result_types=[I64], hint="end")
        start = b.pop(tape=self.frame_tapes[0], result_types=[I64], hint="start")
        state = [b.pop(tape=t, result_types=[a.type], hint=a.hint) for t, a in zip(self.snaps, self.carried)]
        for v, t in zip(state, self.snaps):  # restore: the snapshot stays for later
            b.push(v, tape=t)
        length = b.sub(end, start, hint="length")
        types = [I64] + [v.type for v in bars]

        last = Region()  # one iteration left: its adjoint; the frame and its snapshot go
        lb = Builder(last, self.op.loc)
        new_bars = self._reverse_step(lb, start, state, bars)
        left = lb.sub(frames, lb.const(1), hint="frames")
        drop = Region()
        db = Builder(drop, self.op.loc)
        for t, a in zip(self.snaps, self.carried):
            db.pop(tape=t, result_types=[a.type])
        lb.if_(lb.gt(left, lb.const(0)), drop, Region(), [])
        last.yields = [left, *new_bars]

        walk = Region()  # no free snapshot: recompute up to the last iteration
        wb = Builder(walk, self.op.loc)
        final = wb.sub(end, wb.const(1), hint="last")
        walked = self._advance(wb, start, final, state)
        walk_bars = self._reverse_step(wb, final, walked, bars)
        self._push_frame(wb, start, final, wb.const(0))
        walk.yields = [frames, *walk_bars]

        split = Region()  # advance to the split point, snapshot, reverse the right part first
        sb = Builder(split, self.op.loc)
        middle = sb.add(start, self._split(sb, length, free), hint="middle")
        advanced = self._advance(sb, start, middle, state)
        for v, t in zip(advanced, self.snaps):
            sb.push(v, tape=t)
        self._push_frame(sb, start, middle, free)
        self._push_frame(sb, middle, end, sb.sub(free, sb.const(1)))
        split.yields = [sb.add(frames, sb.const(1), hint="frames"), *bars]

        more = Region()
        mb = Builder(more, self.op.loc)
        more.yields = mb.if_(mb.eq(free, mb.const(0)), walk, split, types, [None] * len(types))
        loop.yields = b.if_(b.eq(length, b.const(1)), last, more, types, ["frames"] + [v.hint for v in bars])

    def _push_frame(self, b: Builder, start: Value, end: Value, free: Value) -> None:
        for v, tape in zip((start, end, free), self.frame_tapes):
            b.push(v, tape=tape)

    def _index(self, b: Builder, j: Value) -> Value:
        """The loop index of iteration ``j``."""
        if self.op.name != "for":
            return j
        lo, _, step = (self.lookup(v) for v in self.op.operands[:3])
        return b.add(lo, b.mul(j, step), hint=self.body.args[0].hint)

    def _advance(self, b: Builder, start: Value, stop: Value, state: list[Value]) -> list[Value]:
        """The state after running iterations [start, stop) from ``state``: the primal body."""
        body = Region([Value(I64, "j")] + [Value(a.type, a.hint) for a in self.carried])
        bb = Builder(body, self.op.loc)
        vmap: dict[Value, Value] = dict(zip(self.carried, body.args[1:]))
        if self.first:
            vmap[self.body.args[0]] = self._index(bb, body.args[0])
        for op in self.body.ops:
            if not op.opdef.pure and op.name not in ("push", "pop"):
                continue  # checks ran in the forward sweep
            new = clone_into(bb, op, lambda v: vmap[v] if v in vmap else self.lookup(v))
            vmap.update(zip(op.results, new.results))
        body.yields = [vmap.get(y) or self.lookup(y) for y in self.body.yields]
        types = [a.type for a in self.carried]
        return b.for_(start, stop, b.const(1), state, body, types, [a.hint for a in self.carried])

    def _reverse_step(self, b: Builder, j: Value, state: list[Value], bars: list[Value]) -> list[Value]:
        """The adjoint of iteration ``j`` from the state at its start: the loop's reverse body,
        its pops fed by pushes of that state."""
        for arg, pop in self.pops.items():
            b.push(state[self.carried.index(arg)], tape=pop.attrs["tape"])
        region = self.reverse_body
        vmap: dict[Value, Value] = {region.args[0]: self._index(b, j) if self.first else j}
        vmap.update(zip(region.args[1:], bars))
        for op in region.ops:
            new = clone_into(b, op, lambda v: vmap.get(v, v))
            vmap.update(zip(op.results, new.results))
        return [vmap.get(y, y) for y in region.yields]

    def _split(self, b: Builder, t: Value, free: Value) -> Value:
        """:func:`adcompiler.ad.checkpoint.split` as IR: the optimal next snapshot."""
        s = b.add(free, b.const(1), hint="s")
        # carried: k, beta(s, k - 1), beta(s, k), beta(s - 1, k + 1), the answer, found
        one = b.const(1)
        inits = [
            one,
            one,
            b.add(s, one),
            b.floordiv(b.mul(b.add(s, one), s), b.const(2)),
            one,
            b.const(False),
        ]
        types = [I64] * 5 + [BOOL]
        hints = ["k", "beta_below", "beta", "beta_right", "split", "found"]
        cond = Region([Value(t_, h) for t_, h in zip(types, hints)])
        cb = Builder(cond)
        cond.yields = [cb.op("not", cond.args[5])]
        body = Region([Value(t_, h) for t_, h in zip(types, hints)])
        bb = Builder(body)
        k, below, beta_k, beta_right, _, _ = body.args
        lowest = bb.maximum(bb.maximum(below, bb.sub(t, beta_right)), one, hint="split")
        highest = bb.minimum(bb.sub(beta_k, one), bb.sub(t, one))
        k1 = bb.add(k, one, hint="k")
        grow = bb.add(s, k1)
        body.yields = [
            k1,
            beta_k,
            bb.floordiv(bb.mul(beta_k, grow), k1),
            bb.floordiv(bb.mul(beta_right, grow), bb.add(k1, one)),
            lowest,
            bb.le(lowest, highest),
        ]
        b.comment(text="the next snapshot: the split with the fewest recomputations (Griewank & Walther)")
        results = b.while_(inits, cond, body, types, hints)
        return results[4]


def trip_count(b: Builder, lo: Value, hi: Value, step: Value) -> Value:
    """``len(range(lo, hi, step))`` as IR."""
    if step.op is not None and step.op.name == "const" and step.op.attrs["value"] == 1:
        return b.maximum(b.sub(hi, lo), b.const(0), hint="trips")
    sign = b.where(b.gt(step, b.const(0)), b.const(1), b.const(-1))
    n = b.floordiv(b.sub(b.add(b.sub(hi, lo), step), sign), step)
    return b.maximum(n, b.const(0), hint="trips")


def state_bytes(b: Builder, state: Sequence[Value]) -> Value:
    """The bytes one snapshot of ``state`` takes."""
    total = b.const(0)
    for v in state:
        size = b.size(v) if isinstance(v.type, Tensor) and v.type.rank else b.const(1)
        total = b.add(total, b.mul(size, b.const(8)))
    return total
