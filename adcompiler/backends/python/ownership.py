"""Which array writes may happen in place, and which loops need one copy up front.

``y2 = setitem(y, v, idx)`` is a new array in the IR; writing ``y[idx] = v`` instead is
only correct when nobody can observe the old ``y`` afterwards. We track *storage
classes*: values that may share memory (views, in-place chains, values merged by control
flow) are in one class (a union-find). A write is in place when its target's class

* is **owned**: every storage in it was allocated by this function (not a parameter, a
  module constant, a value popped off a tape or returned by a user's rule);
* has not **escaped**: no member was pushed on a tape, put in a tuple or handed to a
  user's rule (someone else holds a reference we cannot see);
* has no member live after the write, and the target is not a read-only view
  (``broadcast_to``).

Loops are analysed to a fixed point: the storage a carried value has in one trip is the
one its yield had in the previous trip. When the body writes a carried array in place
but the initial value cannot be consumed (a parameter, or still used later), the emitter
copies it once before the loop rather than once per trip. The decisions can cycle
instead of settling (nested loops re-analysed from changing starts); then every copy made
in the cycle is kept for good (copying is always correct), which ends it.
"""

from __future__ import annotations

from ...ir.core import Op, Region, Value
from ...ir.types import Tensor
from .liveness import Liveness
from .program import Program

#: ops whose array result is newly allocated memory
FRESH = frozenset(
    "sin cos tan exp exp2 expm1 log log2 log10 log1p sqrt tanh sinh cosh arctan arcsin arccos "
    "neg abs square sign floor ceil round not isfinite "
    "add sub mul div floordiv mod pow maximum minimum logaddexp arctan2 "
    "lt le gt ge eq ne and or where clip "
    "sum prod max min mean argmax argmin dot matmul outer concatenate stack "
    "zeros ones empty full zeros_like ones_like copy full_like arange linspace eye".split()
)
#: ops whose result may share memory with their first operand
VIEWS = frozenset("getitem reshape transpose expand_dims stop_gradient sum_to broadcast_to".split())
#: views NumPy makes read-only
READONLY = frozenset({"broadcast_to"})
#: ops after which someone we cannot see holds a reference to their operands
ESCAPES = frozenset("push tuple custom_call custom_vjp_call custom_jvp_call".split())
#: functional updates the emitter may turn into in-place writes (and ``add``, when it
#: accumulates into an array of the result's shape: ``x_bar += g``)
WRITES = frozenset({"setitem", "index_add"})

#: the casts are a copy for arrays of known rank (``.astype``) and may alias otherwise
_CASTS = frozenset({"float", "int", "bool"})


class Storage:
    """A union-find node: a set of values that may share memory."""

    __slots__ = ("parent", "owned", "escaped")

    def __init__(self, owned: bool) -> None:
        self.parent: Storage | None = None
        self.owned = owned
        self.escaped = False

    def find(self) -> Storage:
        node = self
        while node.parent is not None:
            node = node.parent
        return node


def union(a: Storage, b: Storage) -> Storage:
    a, b = a.find(), b.find()
    if a is b:
        return a
    b.parent = a
    a.owned = a.owned and b.owned
    a.escaped = a.escaped or b.escaped
    return a


class Ownership:
    """The decisions: ``inplace[op]`` for every write, ``copy_init`` (loop op, slot) pairs."""

    def __init__(self, prog: Program, live: Liveness) -> None:
        self.prog = prog
        self.live = live
        self.inplace: dict[Op, bool] = {}
        self.copy_init: set[tuple[Op, int]] = set()
        self.node: dict[Value, Storage] = {}
        self.readonly: set[Value] = set()
        #: the class each in-place write wrote into (to find loops writing their carry)
        self.wrote: dict[Op, Storage] = {}
        #: writes and (loop op, slot) initial values copied for good, to end a cycle of decisions
        self.forced_copies: set[Op] = set()
        self.forced_copy_init: set[tuple[Op, int]] = set()
        self.shapes = ShapeKeys()
        for p in prog.fn.params:
            self.node[p] = Storage(owned=False)
        self._region(prog.fn.body)

    def storage(self, v: Value) -> Storage:
        node = self.node.get(v)
        if node is None:  # constants and other values no analysis step saw: not ours
            node = self.node[v] = Storage(owned=False)
        return node.find()

    # ------------------------------------------------------------------ the walk
    def _region(self, region: Region) -> None:
        for op in region.ops:
            if op in self.prog.dead:
                continue
            step = _STEPS.get(op.name)
            if step is None:
                step = _family_step(op.name)
            step(self, op)

    def _fresh(self, op: Op) -> None:
        for r in op.results:
            self.node[r] = Storage(owned=True)

    def _foreign(self, op: Op) -> None:
        for r in op.results:
            self.node[r] = Storage(owned=False)

    def _view(self, op: Op) -> None:
        if _is_scalar(op.result) or (
            op.name == "getitem" and any(_is_array_index(v) for v in op.operands[1:])
        ):
            self._fresh(op)  # an element is a new Python scalar; advanced indexing copies
            return
        x = op.operands[0]
        self.node[op.result] = self.storage(x)
        if op.name in READONLY or x in self.readonly:
            self.readonly.add(op.result)

    def _cast(self, op: Op) -> None:
        t = op.result.type
        if isinstance(t, Tensor) and t.rank is not None:
            self._fresh(op)
        else:
            self._view(op)

    def _escape(self, op: Op) -> None:
        for v in op.operands:
            self.storage(v).escaped = True
        self._foreign(op)

    def _write(self, op: Op) -> None:
        x = op.operands[0]
        node = self.storage(x)
        ok = (
            op not in self.forced_copies
            and node.owned
            and not node.escaped
            and x not in self.readonly
            and not any(self.storage(w) is node for w in self._live_after(op))
        )
        self.inplace[op] = ok
        if ok:
            self.node[op.result] = node
            self.wrote[op] = node
        else:
            self.node[op.result] = Storage(owned=True)  # a copy
            self.wrote.pop(op, None)

    def _live_after(self, op: Op) -> list[Value]:
        """Values live after ``op`` that already have a storage (its own results are not it)."""
        return [w for w in self.live.live_after.get(op, ()) if w in self.node and w not in op.results]

    def _if(self, op: Op) -> None:
        then, orelse = op.regions
        self._region(then)
        self._region(orelse)
        for r, a, b in zip(op.results, then.yields, orelse.yields):
            self.node[r] = union(self.storage(a), self.storage(b))
            if a in self.readonly or b in self.readonly:
                self.readonly.add(r)

    def _checkpoint(self, op: Op) -> None:
        region = op.regions[0]
        for a, v in zip(region.args, op.operands):
            self.node[a] = self.storage(v)
            if v in self.readonly:
                self.readonly.add(a)
        self._region(region)
        for r, y in zip(op.results, region.yields):
            self.node[r] = self.storage(y)

    def _for(self, op: Op) -> None:
        body = op.regions[0]
        self.node[body.args[0]] = Storage(owned=False)
        self._loop(op, op.operands[3:], [body.args[1:]], [body], body.yields)

    def _while(self, op: Op) -> None:
        cond, body = op.regions
        self._loop(op, op.operands, [cond.args, body.args], [cond, body], body.yields)

    def _loop(
        self,
        op: Op,
        inits: list[Value],
        arg_lists: list[list[Value]],
        regions: list[Region],
        yields: list[Value],
    ) -> None:
        """Analyse the loop's regions until the decisions in them stop changing."""
        carried = arg_lists[0]
        head = self.live.head.get(op, frozenset()) - set(carried)
        inside = self._inside(op)  # once: a walk per write made nested loops' analysis slow
        # optimistic start: each carried value owns its storage (as if copied up front)
        starts = [Storage(owned=True) for _ in carried]
        seen: list[tuple[dict[Op, bool], set[int]]] = []
        while True:
            for args in arg_lists:
                for a, node, init, y in zip(args, starts, inits, yields):
                    self.node[a] = node
                    if init in self.readonly or y in self.readonly:
                        self.readonly.add(a)
            for region in regions:
                self._region(region)
            written = {n.find() for q, n in self.wrote.items() if q in inside}
            decisions = (
                {q: self.inplace[q] for q in inside if q in self.inplace},
                {k for k in range(len(carried)) if (op, k) in self.copy_init},
            )
            if seen and decisions == seen[-1]:
                break
            if decisions in seen:  # a cycle: keep each copy any of its states made
                for inplace, copied in seen[seen.index(decisions) :]:
                    self.forced_copies.update(q for q, ok in inplace.items() if not ok)
                    self.forced_copy_init.update((op, k) for k in copied)
            seen.append(decisions)
            starts = self._next_starts(op, inits, starts, yields, written, head)
        for r, a in zip(op.results, carried):  # on exit: what the last trip carried
            self.node[r] = self.storage(a)
            if a in self.readonly:
                self.readonly.add(r)

    def _next_starts(self, op, inits, starts, yields, written, head) -> list[Storage]:
        """The carried storages of the next trip: the initial value's (or a copy's) and the yield's."""
        claimed: set[Storage] = set()
        out = []
        for k, (init, start, y) in enumerate(zip(inits, starts, yields)):
            init_node = self.storage(init)
            consumable = (
                init_node.owned
                and not init_node.escaped
                and init_node not in claimed
                and not any(self.storage(w) is init_node for w in head if w in self.node)
            )
            claimed.add(init_node)
            if (op, k) in self.forced_copy_init or (start.find() in written and not consumable):
                self.copy_init.add((op, k))
                entry = Storage(owned=True)
            else:
                self.copy_init.discard((op, k))
                entry = init_node
            out.append(union(entry, self.storage(y)))
        return out

    def _inside(self, op: Op) -> dict[Op, None]:
        """The ops nested in ``op``, in order (a dict: constant-time membership)."""
        return {q: None for r in op.regions for q in r.walk()}


def _is_array_index(v: Value) -> bool:
    """An index operand that triggers NumPy's advanced (copying) indexing."""
    t = v.type
    return not (isinstance(t, Tensor) and t.rank == 0) and not _is_none(v)


def _is_scalar(v: Value) -> bool:
    return isinstance(v.type, Tensor) and v.type.rank == 0


def _is_none(v: Value) -> bool:
    return v.op is not None and v.op.name == "const" and v.op.attrs.get("value") is None


def _family_step(name: str):
    if name in FRESH:
        return Ownership._fresh
    if name in VIEWS:
        return Ownership._view
    if name in _CASTS:
        return Ownership._cast
    if name in ESCAPES:
        return Ownership._escape
    if name in WRITES:
        return Ownership._write
    return Ownership._foreign


def _accumulates(self: Ownership, op: Op) -> bool:
    """``a + b`` that may be ``a += b``: an array result surely of ``a``'s shape and dtype.

    Only into a named variable (``x_bar += g``, an adjoint accumulating): a temporary is
    better inlined into the expression that uses it.
    """
    a, b = op.operands
    ta, tr = a.type, op.result.type
    if op.result.hint is None:
        return False
    if not (isinstance(ta, Tensor) and isinstance(tr, Tensor) and ta.is_array and ta == tr):
        return False
    return _is_scalar(b) or self.shapes.key(a) is self.shapes.key(b)


class ShapeKeys:
    """:func:`~adcompiler.passes.shapes.shape_key`, memoised (it is exponential on long
    chains of elementwise ops) and seeing through ``sum_to(g, x.shape)``."""

    _SAME_AS_FIRST = frozenset(("copy", "zeros_like", "ones_like", "full_like", "setitem", "index_add"))

    def __init__(self) -> None:
        self._keys: dict[Value, Value] = {}

    def key(self, v: Value) -> Value:
        known = self._keys.get(v)
        if known is None:
            known = self._keys[v] = self._key(v)
        return known

    def _key(self, v: Value) -> Value:
        op = v.op
        if op is None or not isinstance(v.type, Tensor):
            return v
        family = op.opdef.family
        if family in ("unary", "cast") or op.name in self._SAME_AS_FIRST:
            return self.key(op.operands[0])
        if op.name in ("sum_to", "broadcast_to", "reshape"):
            shape = op.operands[1].op
            return self.key(shape.operands[0]) if shape is not None and shape.name == "shape" else v
        if family in ("binary", "compare", "ternary"):
            arrays = [x for x in op.operands if not _is_scalar(x)]
            if not arrays or any(getattr(x.type, "rank", None) != v.type.rank for x in arrays):
                return v
            keys = {self.key(x) for x in arrays}
            if len(keys) == 1:
                return keys.pop()
        return v


def _add(self: Ownership, op: Op) -> None:
    if _accumulates(self, op):
        self._write(op)
    else:
        self._fresh(op)


_STEPS = {
    "add": _add,
    "if": Ownership._if,
    "for": Ownership._for,
    "while": Ownership._while,
    "checkpoint": Ownership._checkpoint,
}
