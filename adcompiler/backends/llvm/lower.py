"""Typed IR function -> LLVM function, op by op through the table :data:`LOWERINGS`.

The generated function ``adc_core(param leaves..., record*) -> i32`` takes the parameters
flattened (an array as ``data, *shape, *strides``; it borrows them and never writes them),
stores the returned values' leaves into ``record`` and returns a status: 0, or the index + 1
of an entry of :attr:`Lowerer.errors` (the exception the wrapper raises). Every exit goes
through one block that frees the tapes and, when the call failed, every array still
allocated (see ``runtime``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from llvmlite import ir

from ...errors import NumericError
from ...ir.core import Function, Op, Region, Value
from ...ir.types import NoneT, Tensor, TupleT, Type
from ...passes import shapes
from . import arrays, control, elementwise, reductions, scatter, tape
from .analysis import Plan
from .parallel import NotParallel
from .runtime import Runtime
from .scalar import cast, truth
from .types import (
    ELEMENT,
    I32,
    I64,
    SCALAR,
    ArrayVal,
    Lowered,
    arrays_in,
    check_type,
    flatten,
    leaf_types,
    unflatten,
    unsupported,
    zero_value,
)
from .wrapper import Pattern

Rule = Callable[["Lowerer", Op], Any]


class Lowerer:
    """Lowers one function into ``module``; the state every op rule works with."""

    def __init__(
        self,
        fn: Function,
        module: ir.Module,
        *,
        fastmath: bool,
        boundscheck: bool,
        ones: Pattern = (),
        contiguous: bool = False,
        threads: int | None = None,
        ask_for_threads: bool = False,
        shared: frozenset[str] = frozenset(),
    ) -> None:
        self.fn = fn
        #: which axes of the array parameters have length 1 (see :func:`pattern_of`)
        self.ones = ones
        #: whether element reads may take the last axis of every array parameter to be
        #: contiguous (see :meth:`element_stride`), and whether one did: the entry checks then
        self.contiguous = contiguous
        self.assumes_contiguous = False
        #: the strides of the parameters' last axes (LLVM values, by identity) when ``contiguous``
        self.unit_strides: dict[int, ir.Value] = {}
        #: dims (LLVM values, by identity) known not to be 1: see ``elementwise.known_not_one``
        self.not_one: dict[int, ir.Value] = {}
        #: meminfos (LLVM values, by identity) of blocks this call allocated: never null where
        #: they are used (``elementwise.alloc_array`` leaves the function when one is)
        self.allocated: dict[int, ir.Value] = {}
        #: shared lengths of slices trimming a constant off a parameter's axis, by (dim, constant)
        #: (see ``arrays.slice_range``)
        self.trimmed: dict[tuple[int, int], ir.Value] = {}
        self.module = module
        self.rt = Runtime(module, shared=shared)
        self.plan = Plan(fn)
        #: fast-math flags put on every float instruction
        self.fmf: tuple[str, ...] = ("fast",) if fastmath else ()
        self.boundscheck = boundscheck
        #: how many threads large loops may use (``parallel``): None for the process's count
        #: at run time, 1 for serial code
        self.threads = threads
        #: serial code that asks for the code for threads: loops run serially and ask for
        #: the code that runs them on threads when they are large (``parallel.ask``)
        self.ask_for_threads = ask_for_threads and threads != 1
        #: while emitting a loop body that asks for threads: whether it could run in a chunk
        #: function still (``parallel.ask``; None elsewhere)
        self.outlinable: bool | None = None
        #: the chunk function a loop body is being emitted into (see ``parallel.split_loop``)
        self.chunk: ir.Function | None = None
        #: the exceptions the function can raise: status k means errors[k - 1]
        self.errors: list[tuple[type[BaseException], str]] = []
        self.values: dict[Value, Lowered] = {}
        self.tapes: dict[str, tape.Tape] = {}
        #: pushes whose loop reserved their room before its first iteration
        self.reserved_pushes: set[Op] = set()
        #: the ``for`` op of each loop index (by the index value): see :meth:`in_bounds`
        self.loops: dict[Value, Op] = {}
        #: the op being lowered (its location goes into error messages)
        self.current_op: Op | None = None
        self._moved: set[Value] = set()
        #: the head of the call's list of allocated blocks, made at the first allocation
        self._blocks: ir.Value | None = None
        #: while emitting a consumer of guarded Deferreds: whether this copy runs when the
        #: guards hold (None outside such consumers)
        self.guards_hold: bool | None = None
        #: while emitting code that seldom runs (see :meth:`rarely`)
        self.in_rare_code = False
        self.builder: ir.IRBuilder
        self.entry_builder: ir.IRBuilder
        #: the exit block's phi of the status code (None while emitting out of line)
        self.status: ir.PhiInstr | None = None

    # ------------------------------------------------------------------ the function
    def build(self) -> ir.Function:
        """Emit ``adc_core``; its parameters are :func:`param_leaf_types` of the function."""
        _check_types(self.fn)
        params = self.fn.params
        record = ir.LiteralStructType([t for v in self.fn.returns for t in leaf_types(v.type)])
        fnty = ir.FunctionType(
            I32, [t for p in params for t in param_leaf_types(p.type)] + [record.as_pointer()]
        )
        core = ir.Function(self.module, fnty, "adc_core")
        core.linkage = "internal"
        # left a call from ``adc_entry``: inlined there, the whole body went through LLVM's
        # function simplification pipeline a second time (a third of the optimisation work)
        core.attributes.add("noinline")
        for arg in core.args:
            if isinstance(arg.type, ir.PointerType):  # the caller's arrays: only read, never kept
                arg.add_attribute("noalias")
                arg.add_attribute("captures(none)")
        entry, body = core.append_basic_block("entry"), core.append_basic_block("body")
        self.exit_block = core.append_basic_block("exit")
        self.entry_builder = ir.IRBuilder(entry)
        self.builder = ir.IRBuilder(self.exit_block)
        self.status = self.builder.phi(I32, "status")
        self.builder = ir.IRBuilder(body)

        leaves, ones = iter(core.args), iter(self.ones)
        inputs = [self._param_value(p.type, leaves, ones) for p in params]
        results = self.lower_region(self.fn.body, inputs)
        out = [self.owned_copy(v, r.type) for v, r in zip(results, self.fn.returns)]
        record_ptr = core.args[-1]
        for i, leaf in enumerate(leaf for v, r in zip(out, self.fn.returns) for leaf in flatten(v, r.type)):
            self.builder.store(leaf, self.builder.gep(record_ptr, [ir.Constant(I32, 0), ir.Constant(I32, i)]))
        self.status.add_incoming(ir.Constant(I32, 0), self.builder.block)
        self.builder.branch(self.exit_block)

        self.builder.position_at_end(self.exit_block)
        tape.release_tapes(self)
        if self._blocks is not None:
            # a failed call skipped the releases after the op that failed, so what they would
            # have freed is still on the list (a call that returns leaves only its results)
            failed = self.builder.icmp_unsigned("!=", self.status, ir.Constant(I32, 0))
            with self.builder.if_then(failed, likely=False):
                self.rt.free_list(self.builder, self._blocks)
        self.builder.ret(self.status)
        self.entry_builder.branch(body)
        return core

    def _param_value(
        self, t: Type, leaves: Iterator[ir.Value], ones: Iterator[tuple[bool, ...] | None]
    ) -> Lowered:
        """A parameter from its leaves. The call's :func:`pattern_of` says which axes have
        length 1: those become the constant 1, the others are known not to be 1, so that
        broadcasting is decided here rather than by every loop at run time."""
        if isinstance(t, Tensor) and t.rank:
            data = next(leaves)
            null = ir.Constant(ir.IntType(8).as_pointer(), None)
            shape, strides = [next(leaves) for _ in range(t.rank)], [next(leaves) for _ in range(t.rank)]
            axes_of_one = next(ones, None) or (False,) * t.rank
            for k, one in enumerate(axes_of_one):
                if one:
                    shape[k] = ir.Constant(I64, 1)
                else:
                    self.not_one[id(shape[k])] = shape[k]
            if self.contiguous:
                self.unit_strides[id(strides[-1])] = strides[-1]
            return ArrayVal(t.dtype, data, null, shape, strides)
        if isinstance(t, TupleT):
            return tuple(self._param_value(e, leaves, ones) for e in t.elts)
        return unflatten(t, leaves)

    # ------------------------------------------------------------------ regions and ops
    def lower_region(self, region: Region, args: Sequence[Lowered]) -> list[Lowered]:
        """Lower ``region`` with its arguments bound; returns its yields, each with a reference."""
        for a, v in zip(region.args, args):
            self.values[a] = v
        for v in self.plan.release_at_start.get(region, ()):
            self.decref(self.values[v])
        for op in region.ops:
            self.lower_op(op)
        owned, handed = self.plan.owned[region], set()
        out = []
        for v in region.yields:
            if v in owned and v not in handed:
                handed.add(v)  # the last use: the yield takes over the reference
            else:
                self.incref(self.values[v])
            out.append(self.values[v])
        return out

    def lower_op(self, op: Op) -> None:
        if op in self.plan.unneeded:  # only the shape of a scalar is asked of it (see analysis)
            for r in op.results:
                self.values[r] = zero_value(r.type)
            return
        rule = LOWERINGS.get(op.name)
        if rule is None:
            raise unsupported(f"the op `{op.name}`", op.loc)
        outer_op, outer_moved = self.current_op, self._moved
        self.current_op, self._moved = op, set()
        if op in self.plan.fused:
            result = FUSED_LOWERINGS[op.name](self, op)
        else:
            guard = elementwise.guard_of(self, [self.values[v] for v in op.operands])
            result = rule(self, op) if guard is None else self._versioned(guard, rule, op)
        results = result if isinstance(result, list) else [result] if op.results else []
        for r, v in zip(op.results, results):
            self.values[r] = v
        for v in self.plan.release_after.get(op, ()):
            if v not in self._moved:
                self.decref(self.values[v])
        self.current_op, self._moved = outer_op, outer_moved

    def _versioned(self, guard: ir.Value, rule: Rule, op: Op) -> Lowered:
        """Emit ``op`` twice: reading fused operands the cheap way when ``guard`` holds.

        The guard says that every fused ``sum_to`` sums nothing (shapes equal at run time) --
        almost always in gradients. That copy reads each element straight through; the
        other sums in an inner loop per element.
        """

        def emit(hold: bool) -> Lowered:
            self.guards_hold = hold
            try:
                if hold:
                    return rule(self, op)
                with self.rarely():
                    return rule(self, op)
            finally:
                self.guards_hold = None

        return self.choose(guard, lambda: emit(True), lambda: emit(False), op.results[0].type)

    @contextlib.contextmanager
    def rarely(self) -> Iterator[None]:
        """Code emitted inside seldom runs (the summing copy of a versioned op): its loops are
        not vectorised or unrolled. (The loops standing in for BLAS are not optimised at all:
        see ``blas``.) Optimising them as hard as
        the rest would double compile time for code that rarely runs."""
        outer, self.in_rare_code = self.in_rare_code, True
        try:
            yield
        finally:
            self.in_rare_code = outer

    @contextlib.contextmanager
    def out_of_line(self, fn: ir.Function) -> Iterator[None]:
        """Emit into ``fn``, a helper function of the module, instead of ``adc_core``: it
        gets its own entry block for stack memory. Code emitted there cannot fail."""
        saved = self.builder, self.entry_builder, self.status
        entry, body = fn.append_basic_block("entry"), fn.append_basic_block("body")
        self.entry_builder, self.builder = ir.IRBuilder(entry), ir.IRBuilder(body)
        self.status = None  # fail_if has no exit block to branch to here
        try:
            yield
        finally:
            self.entry_builder.branch(body)
            self.builder, self.entry_builder, self.status = saved

    @contextlib.contextmanager
    def in_chunk(self, chunk: ir.Function) -> Iterator[None]:
        """Code emitted inside is a loop body outlined into ``chunk`` to run on threads: it
        must not fail, allocate or count references (:class:`~.parallel.NotParallel`)."""
        outer, self.chunk = self.chunk, chunk
        try:
            yield
        finally:
            self.chunk = outer

    # ------------------------------------------------------------------ values and references
    def get(self, v: Value) -> Lowered:
        """The lowered value of ``v``, borrowed for the duration of the current op."""
        return self.values[v]

    def take(self, op: Op, index: int) -> Lowered:
        """Operand ``index`` of ``op`` with a reference of its own: taken over at its last use."""
        v = op.operands[index]
        if self.can_move(op, index):
            self._moved.add(v)
        else:
            self.incref(self.values[v])
        return self.values[v]

    def can_move(self, op: Op, index: int) -> bool:
        return (op, index) in self.plan.movable

    def incref(self, value: Lowered) -> None:
        for a in arrays_in(value):
            self._not_in_chunk(a.meminfo)
            self.rt.incref(self.builder, a.meminfo)

    def decref(self, value: Lowered) -> None:
        for a in arrays_in(value):
            self._not_in_chunk(a.meminfo)
            self.rt.decref(self.builder, a.meminfo)

    def _not_in_chunk(self, meminfo: ir.Value | None = None) -> None:
        """Raise NotParallel in a loop body outlined to run on threads, and note it in one
        that would be (a null ``meminfo`` is memory nobody counts: no code, so allowed)."""
        if isinstance(meminfo, ir.Constant):
            return
        if self.chunk is not None:
            raise NotParallel
        if self.outlinable:
            self.outlinable = False

    def owned_copy(self, value: Lowered, t: Type) -> Lowered:
        """``value`` with every array in memory the function allocated (what it may return)."""
        if isinstance(value, tuple):
            return tuple(self.owned_copy(v, e) for v, e in zip(value, t.elts))
        if not isinstance(value, ArrayVal):
            return value
        if isinstance(value.meminfo, ir.Constant):
            return arrays.copy_array(self, value)
        if id(value.meminfo) in self.allocated:
            # surely ours: no run-time test, and no copy for LLVM to read before removing it
            return value
        borrowed = self.builder.icmp_unsigned("==", value.meminfo, ir.Constant(value.meminfo.type, None))
        return self.choose(borrowed, lambda: arrays.copy_array(self, value), lambda: value, t)

    def coerce(self, value: Lowered, src: Type, dst: Type) -> Lowered:
        """Convert a yielded value to the (joined) type of the op result it becomes."""
        if src == dst:
            return value
        if isinstance(src, NoneT):
            return zero_value(dst)
        if isinstance(src, TupleT) and isinstance(dst, TupleT):
            return tuple(self.coerce(v, s, d) for v, s, d in zip(value, src.elts, dst.elts))
        if isinstance(src, Tensor) and isinstance(dst, Tensor) and src.rank == dst.rank == 0:
            return cast(self, value, src.dtype, dst.dtype)
        raise unsupported(f"a value that is {src} on one path and {dst} on another", self.loc)

    def choose(
        self, cond: ir.Value, if_true: Callable[[], Lowered], if_false: Callable[[], Lowered], t: Type
    ) -> Lowered:
        """Run one of two code generators at run time; a phi joins their values of type ``t``."""
        b = self.builder
        fn = b.function
        then_bb, else_bb, join_bb = fn.append_basic_block(), fn.append_basic_block(), fn.append_basic_block()
        b.cbranch(cond, then_bb, else_bb)
        incoming = []
        for bb, gen in ((then_bb, if_true), (else_bb, if_false)):
            b.position_at_end(bb)
            leaves = flatten(gen(), t)
            incoming.append((leaves, b.block))
            b.branch(join_bb)
        b.position_at_end(join_bb)
        phis = []
        for i, ty in enumerate(leaf_types(t)):
            phi = b.phi(ty)
            for leaves, block in incoming:
                phi.add_incoming(leaves[i], block)
            phis.append(phi)
        return unflatten(t, iter(phis))

    # ------------------------------------------------------------------ errors and helpers
    @property
    def loc(self):
        return self.current_op.loc if self.current_op is not None else self.fn.loc

    def fail_if(self, cond: ir.Value, exc: type[BaseException], message: str) -> None:
        """If ``cond`` holds at run time, leave the function raising ``exc(message)``."""
        self._not_in_chunk()
        assert self.status is not None, "code emitted out of line cannot fail"
        if self.loc is not None:
            message = f"{message} (at {self.loc})"
        entry = (exc, message)
        if entry not in self.errors:
            self.errors.append(entry)
        code = ir.Constant(I32, self.errors.index(entry) + 1)
        b = self.builder
        cont_bb = b.function.append_basic_block()
        b.cbranch(cond, self.exit_block, cont_bb).set_weights([1, 1000])
        self.status.add_incoming(code, b.block)
        b.position_at_end(cont_bb)

    def blocks(self) -> ir.Value:
        """The head of the list of blocks the call allocates (``runtime.Runtime.alloc``)."""
        self._not_in_chunk()
        assert self.status is not None, "code emitted out of line cannot allocate"
        if self._blocks is None:
            self._blocks = self.rt.new_list(self.entry_builder)
        return self._blocks

    def alloca(self, ty: ir.Type, name: str = "") -> ir.Value:
        """Stack memory for the whole call (allocated in the entry block, so never in a loop)."""
        return self.entry_builder.alloca(ty, name=name)

    def scalar(self, v: Value, dtype: str) -> ir.Value:
        """Scalar operand ``v`` converted to ``dtype``."""
        return cast(self, self.values[v], v.type.dtype, dtype)

    def index(self, v: Value) -> ir.Value:
        return self.scalar(v, "i64")

    def element_stride(self, stride: ir.Value) -> ir.Value:
        """The stride an element read (``x[i]``) steps by along an axis of stride ``stride``.

        In code for contiguous arrays, that of a parameter's last axis is the constant 1 (the
        entry checks it): ``x[i]`` in a loop then addresses ``data + 8*i`` as Numba's code for
        C-contiguous arrays does, not ``data + stride*i`` -- once LLVM unrolled such a loop,
        ``i*stride``, ``(i+1)*stride``... took more registers than a loop calling ``sin`` has
        left, and were reloaded from the stack on the way to the elements. Array operations
        keep the run-time stride: LLVM's vectoriser checks it is 1 and versions the loop on
        it, together with the zero strides of axes that may have length 1; given the
        constant, it folded those into the index and gathered.
        """
        if id(stride) not in self.unit_strides:
            return stride
        self.assumes_contiguous = True
        return ir.Constant(I64, 1)

    def in_bounds(self, index: Value, array: Value, axis: int) -> bool:
        """Whether ``index`` is surely a position along ``array``'s axis ``axis`` (not
        negative, below the length): then it needs neither wrapping nor a bounds check."""
        loop = self.loops.get(index)
        return loop is not None and shapes.in_bounds(loop, array, axis)


def param_leaf_types(t: Type) -> list[ir.Type]:
    """How ``adc_core`` receives a parameter of type ``t``: leaves without meminfo (borrowed)."""
    if isinstance(t, Tensor) and t.rank:
        return [ELEMENT[t.dtype].as_pointer()] + [I64] * (2 * t.rank)
    if isinstance(t, TupleT):
        return [lt for e in t.elts for lt in param_leaf_types(e)]
    return leaf_types(t)


def _check_types(fn: Function) -> None:
    for p in fn.params:
        check_type(p.type, fn.loc)
    for op in fn.walk():
        for r in op.results:
            check_type(r.type, op.loc)
        for region in op.regions:
            for a in region.args:
                check_type(a.type, op.loc)


# --------------------------------------------------------------------------- small ops
def _const(lw: Lowerer, op: Op) -> Lowered:
    return _constant(lw, op.attrs["value"], op.results[0].type)


def _constant(lw: Lowerer, value: Any, t: Type) -> Lowered:
    if isinstance(t, TupleT):
        return tuple(_constant(lw, v, e) for v, e in zip(value, t.elts))
    if isinstance(t, NoneT):
        return None
    if t.rank == 0:
        return ir.Constant(SCALAR[t.dtype], bool(value) if t.dtype == "bool" else value)
    return arrays.constant_array(
        lw, np.asarray(value, dtype={"f64": np.float64, "i64": np.int64, "bool": np.bool_}[t.dtype])
    )


def _tuple(lw: Lowerer, op: Op) -> Lowered:
    return tuple(lw.take(op, i) for i in range(len(op.operands)))


def _tuple_cat(lw: Lowerer, op: Op) -> Lowered:
    return tuple(item for i in range(len(op.operands)) for item in lw.take(op, i))


def _tuple_get(lw: Lowerer, op: Op) -> Lowered:
    item = lw.get(op.operands[0])[op.attrs["index"]]
    lw.incref(item)
    return item


def _identity(lw: Lowerer, op: Op) -> Lowered:
    return lw.take(op, 0)


def _undef(lw: Lowerer, op: Op) -> Lowered:
    return zero_value(op.results[0].type)


def _assert(lw: Lowerer, op: Op) -> None:
    cond = truth(lw, lw.get(op.operands[0]), op.operands[0].type.dtype)
    lw.fail_if(lw.builder.not_(cond), AssertionError, op.attrs.get("message") or "assertion failed")


def _check_finite(lw: Lowerer, op: Op) -> None:
    x, t = lw.get(op.operands[0]), op.operands[0].type
    if not isinstance(t, Tensor) or t.dtype != "f64":
        return
    finite = (
        arrays.all_finite(lw, x)
        if t.rank
        else lw.builder.fcmp_ordered(
            "<", lw.builder.call(lw.rt.math("fabs"), [x]), ir.Constant(x.type, float("inf"))
        )
    )
    lw.fail_if(
        lw.builder.not_(finite), NumericError, f"non-finite value in {op.attrs.get('what') or 'a value'}"
    )


#: op name -> how a fused op becomes a Deferred (see ``analysis.Plan.fused``)
FUSED_LOWERINGS: dict[str, Rule] = {
    **elementwise.FUSED_LOWERINGS,
    **arrays.FUSED_LOWERINGS,
    **reductions.FUSED_LOWERINGS,
    **scatter.FUSED_LOWERINGS,
}

#: op name -> lowering rule; elementwise ops go through one rule for scalars and arrays
LOWERINGS: dict[str, Rule] = {
    "const": _const,
    "tuple": _tuple,
    "tuple_cat": _tuple_cat,
    "tuple_get": _tuple_get,
    "stop_gradient": _identity,
    "undef": _undef,
    "assert": _assert,
    "check_finite": _check_finite,
    "comment": lambda lw, op: None,  # a note for readers of generated source: no code
    **elementwise.LOWERINGS,
    **control.LOWERINGS,
    **arrays.LOWERINGS,
    **reductions.LOWERINGS,
    **scatter.LOWERINGS,  # after arrays': it falls back to their index_add
    **tape.LOWERINGS,
}
