"""Before lowering: which ops to skip, which array ops to fuse, and where each array
reference dies.

Skipped: pure ops whose results nothing needs but the ``size``, ``ndim`` or ``shape`` of a
scalar (constants). A gradient asks ``np.size(np.mean(softplus))`` of the primal's loss to
scale its seed; the mean, and the ``log1p`` it sums, need not run. The IR keeps them (its
dead-code elimination sees a use), and so does the Python backend's source.

Ownership is static and per region: every array-holding value owns one reference and is
owned by the region that defines it (op results, block arguments). It is released right
after its last use in that region -- a use inside a nested region counts at the op holding
the region, so a value used in a loop body outlives the loop. An op may *take over* the
reference of an operand at its last use (``Plan.movable``): that is how ``setitem`` writes in
place without copying when the old array is dead, the same rule as the Python backend.

Fusion: an elementwise op (or ``broadcast_to``, or a ``sum_to`` that keeps the rank) is not
computed where it stands but by each consumer, inside the consumer's own loop, when every
use is one of

* a consumer that reads it element by element in the same region (:func:`_consumes_fused`),
* an op that only looks at its shape (``size``, ``shape``, ``zeros_like``...: the shape of a
  fused value is known without computing it),
* another fused op that is never computed (only its shape is used).

With more than one consumer the elements are computed again by each: that is cheaper than a
temporary (a write, a read and fresh pages) as long as the recomputed expression is cheap,
which :func:`_cost` estimates. A fused op reads its operands when its (last) consumer runs,
so its uses count at that consumer's position.

A chain ``zeros -> index_add -> ... -> index_add`` of slices along one axis (the adjoint of
reading several slices of an array) is fused the same way: each op of it but the last is
computed by the next, and the last writes the array once (see ``scatter``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from ...ir.core import Function, Op, Region, Value
from ...ir.ops import ELEMENTWISE_FAMILIES
from ...ir.types import Tensor
from .types import has_arrays
from .uniqueness import unique_arrays

#: reductions that can consume a fused elementwise operand in their own loop
_FUSING_REDUCTIONS = frozenset("sum prod max min mean".split())
#: ops that give a constant for a scalar operand, whatever its value
_SCALAR_SHAPE = frozenset("shape size ndim".split())
#: ops that read only the shape of their operand 0
_SHAPE_ONLY = frozenset("shape len size ndim zeros_like ones_like full_like".split())
#: elementwise ops about as cheap as a load (recomputing them costs ~nothing)
_CHEAP = frozenset(
    "add sub mul neg abs square maximum minimum where clip lt le gt ge eq ne and or not float bool".split()
)
#: how many element operations a fused op may cost per extra consumer (see :func:`_cost`)
_RECOMPUTE_BUDGET = 6
#: the most slices a fused chain adds to its zeros: each segment of the result gets the loop
#: of the set of slices covering it, so the code grows as ``2 ** terms``
MAX_SCATTER_TERMS = 4


def _fusible(op: Op) -> bool:
    """Whether ``op`` can be lowered as a :class:`~.types.Deferred` (computed by its consumers)."""
    if len(op.results) != 1 or not isinstance(op.results[0].type, Tensor) or not op.results[0].type.rank:
        return False
    if op.opdef.family in ELEMENTWISE_FAMILIES or op.name == "broadcast_to":
        return True
    return op.name == "sum_to" and op.operands[0].type.rank == op.results[0].type.rank


def _consumes_fused(op: Op, index: int) -> bool:
    """Whether ``op`` can evaluate its operand ``index`` element by element, in its own loop."""
    if op.opdef.family in ELEMENTWISE_FAMILIES:
        return bool(op.results[0].type.rank)
    if op.name in _FUSING_REDUCTIONS or op.name in ("sum_to", "broadcast_to"):
        return index == 0
    if op.name == "dot":  # each element is read once only in a dot of two vectors
        return all(v.type.rank == 1 for v in op.operands)
    return op.name in ("setitem", "index_add") and index == 1


def sliced_axis(op: Op) -> int | None:
    """The axis along which an ``index_add`` adds, when its index is slices of step 1 of
    which at most one is bounded (``x[1:]``, ``x[:, :-1]``); else None."""
    items = op.attrs["index"]
    if len(items) > op.results[0].type.rank or any(it[0] != "slice" or it[3] for it in items):
        return None
    bounded = [k for k, it in enumerate(items) if it[1] or it[2]]
    return None if len(bounded) > 1 else bounded[0] if bounded else 0


def _shape_only(op: Op, index: int) -> bool:
    return op.name in _SHAPE_ONLY and index == 0


def _uses_inside(op: Op) -> Iterator[Value]:
    """Every value ``op`` reads: its operands and whatever its regions read."""
    yield from op.operands
    for region in op.regions:
        for inner in region.ops:
            yield from _uses_inside(inner)
        yield from region.yields


def _cost(op: Op) -> int:
    """Rough cost of one element of ``op`` in cheap operations (a transcendental is many)."""
    if op.name in _CHEAP or op.name in ("broadcast_to", "sum_to"):
        return 1
    if op.name == "pow" and op.operands[1].op is not None and op.operands[1].op.name == "const":
        return 1 if op.operands[1].op.attrs["value"] in (2, 2.0) else 8  # x ** 2 is x * x
    return 2 if op.name in ("div", "sqrt") else 8


def _unneeded(fn: Function) -> set[Op]:
    """The pure ops (without regions) whose every result is used only by such ops or by the
    ``size``/``ndim``/``shape`` of a scalar."""
    ops = list(fn.walk())  # a definition comes before its uses
    users: dict[Value, list[Op | None]] = {v: [None] for v in fn.body.yields}
    for op in ops:
        for v in op.operands:
            users.setdefault(v, []).append(op)
        for region in op.regions:
            for v in region.yields:
                users.setdefault(v, []).append(None)
    unneeded: set[Op] = set()
    for op in reversed(ops):  # users first
        if not op.opdef.pure or op.regions:
            continue
        if all(
            user is not None
            and (
                user in unneeded
                or (user.name in _SCALAR_SHAPE and isinstance(v.type, Tensor) and not v.type.rank)
            )
            for v in op.results
            for user in users.get(v, [])
        ):
            unneeded.add(op)
    return unneeded


class Plan:
    """The result of the analysis, consulted by the lowerer op by op."""

    def __init__(self, fn: Function) -> None:
        #: ops nothing needs (see the module's docstring): not lowered
        self.unneeded: set[Op] = _unneeded(fn)
        #: ops lowered as :class:`~.types.Deferred`, computed by their consumers
        self.fused: set[Op] = set()
        #: the ops that compute each fused op's elements (not those reading only its shape)
        self.consumers: dict[Op, list[Op]] = {}
        #: fused ops whose elements nobody reads (only their shape is used)
        self.never_read: set[Op] = set()
        #: values whose reference ends right after an op (unless the op took it over)
        self.release_after: dict[Op, list[Value]] = {}
        #: owned region arguments that are never used
        self.release_at_start: dict[Region, list[Value]] = {}
        #: (op, operand index) pairs where the op may take over the operand's reference
        self.movable: set[tuple[Op, int]] = set()
        #: values each region owns (the yield hands them over)
        self.owned: dict[Region, set[Value]] = {}
        self._find_fusions(fn)
        self._find_scatters(fn.body)
        self._region(fn.body, owns_args=True)
        #: arrays whose reference is the only one to their block when an op takes it over
        #: (``setitem`` writes them in place with no run-time test): see ``uniqueness``
        self.unique: set[Value] = unique_arrays(fn.body, self)

    def element_cost(self, op: Op) -> int:
        """What one element of the fused op ``op`` costs its consumer (see :func:`_cost`),
        the fused ops it reads included."""
        return _cost(op) + sum(self.element_cost(v.op) for v in op.operands if v.op in self.fused)

    # ------------------------------------------------------------------ fusion
    def _find_fusions(self, fn: Function) -> None:
        users: dict[Value, list[tuple[Op | None, int]]] = {}
        where: dict[Op, Region] = {}
        position: dict[Op, int] = {}
        regions = [fn.body]
        while regions:
            region = regions.pop()
            for k, op in enumerate(region.ops):
                if op in self.unneeded:
                    continue
                where[op], position[op] = region, k
                for i, v in enumerate(op.operands):
                    users.setdefault(v, []).append((op, i))
                regions.extend(op.regions)
            for v in region.yields:
                users.setdefault(v, []).append((None, 0))
        # the cost of one element of a fused op, its fusible producers included
        tree: dict[Op, int] = {}
        for op in where:  # definitions come before uses in each region
            if _fusible(op):
                inner = [tree[v.op] for v in op.operands if v.op in tree]
                tree[op] = _cost(op) + sum(t for t in inner if t <= _RECOMPUTE_BUDGET)
        for op in sorted(tree, key=lambda o: -position[o]):  # consumers first
            region = where[op]
            real = []
            for user, index in users.get(op.results[0], []):
                if user is not None and (_shape_only(user, index) or user in self.never_read):
                    continue
                if user is None or where[user] is not region or not _consumes_fused(user, index):
                    break
                real.append(user)
            else:
                if len(real) <= 1 or tree[op] * (len(real) - 1) <= _RECOMPUTE_BUDGET:
                    self.fused.add(op)
                    self.consumers[op] = real
                    if not real:
                        self.never_read.add(op)

    def _find_scatters(self, region: Region) -> None:
        """Fuse each chain ``zeros -> index_add -> ...`` (f64, slices along one axis, each
        result used only by the next op) into its last op, at most MAX_SCATTER_TERMS long."""
        ops = [op for op in region.ops if op not in self.unneeded]
        uses = Counter(v for op in ops for v in _uses_inside(op))
        uses.update(region.yields)
        user: dict[Value, tuple[Op, int]] = {}
        for op in ops:
            for i, v in enumerate(op.operands):
                user.setdefault(v, (op, i))
            for inner in op.regions:
                self._find_scatters(inner)
        for op in ops:
            t = op.results[0].type if op.name in ("zeros", "zeros_like") else None
            if not isinstance(t, Tensor) or t.dtype != "f64" or not t.rank:
                continue
            chain, axis = [op], None
            while len(chain) <= MAX_SCATTER_TERMS:
                v = chain[-1].results[0]
                if uses[v] != 1 or v not in user:
                    break
                nxt, index = user[v]
                if nxt.name != "index_add" or index != 0 or nxt.operands[1].type.rank > t.rank:
                    break
                ax = sliced_axis(nxt)
                if ax is None or axis not in (None, ax):
                    break
                chain.append(nxt)
                axis = ax
            for producer, consumer in zip(chain, chain[1:]):
                self.fused.add(producer)
                self.consumers[producer] = [consumer]

    # ------------------------------------------------------------------ lifetimes
    def _region(self, region: Region, owns_args: bool) -> None:
        owned = {v for v in region.args if owns_args and has_arrays(v.type)}
        owned |= {
            r
            for op in region.ops
            if op not in self.fused and op not in self.unneeded
            for r in op.results
            if has_arrays(r.type)
        }
        self.owned[region] = owned
        end = len(region.ops)
        # a fused op's reads happen where its consumer is; consumers come later in the region
        consumer_pos: dict[Op, int] = {}
        for k in range(end - 1, -1, -1):  # consumers come after the op: decided first
            op = region.ops[k]
            for v in op.operands:
                if v.op in self.fused and op in self.consumers[v.op]:
                    at = consumer_pos.get(op, k)
                    consumer_pos[v.op] = max(at, consumer_pos.get(v.op, at))
        last: dict[Value, int] = {}
        count: Counter[tuple[Value, int]] = Counter()
        for k, op in enumerate(region.ops):
            if op in self.unneeded:
                continue
            pos = consumer_pos.get(op, k)
            for v in _uses_inside(op):
                if v in owned:
                    last[v] = max(last.get(v, -1), pos)
                    count[v, pos] += 1
        for v in region.yields:
            if v in owned:
                last[v] = end
        for v in owned:
            pos = last.get(v)
            if pos is None:  # never used: release where it is defined
                if v.op is None:
                    self.release_at_start.setdefault(region, []).append(v)
                else:
                    self.release_after.setdefault(v.op, []).append(v)
            elif pos < end:
                user = region.ops[pos]
                self.release_after.setdefault(user, []).append(v)
                if count[v, pos] == 1 and user not in self.fused and v in user.operands:
                    self.movable.add((user, user.operands.index(v)))
        for op in region.ops:
            for i, inner in enumerate(op.regions):
                # a while loop's condition only looks at the carried values; its body owns them
                self._region(inner, owns_args=not (op.name == "while" and i == 0))
