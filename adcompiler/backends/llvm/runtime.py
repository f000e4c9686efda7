"""The native runtime: C library and math declarations, reference-counted buffers.

An array the compiled code allocates lives in one ``malloc`` block: a 32-byte header (the
*meminfo*: the reference count, then the links of a list), then the elements. Every lowered
array value owns one reference; views share the block and add a reference. The Python wrapper
hands returned blocks to NumPy arrays whose base object drops the last reference
(``wrapper._Owner``). A null meminfo marks memory the function does not own (the caller's
arrays, constants): never written, never freed.

Each call links the blocks it allocates into a list whose head lives in its stack frame,
and a block leaves the list when it is freed. A call that fails frees whatever is still on
its list -- the temporaries, loop-carried arrays and results that were live where it failed --
so a raise leaks nothing without the lowering tracking what is live at each ``fail_if``. A
call that returns leaves only its results on the list and drops the list with its frame: from
then on only ``_Owner`` frees those blocks, and nothing reads their links again.

``live_allocations()`` counts the blocks and tape buffers allocated and not yet freed in the
whole process: the compiled code and the wrapper keep it, and tests use it to prove that no
call leaks.
"""

from __future__ import annotations

from llvmlite import ir

from .types import F64, I1, I8P, I32, I64

#: a block's header: reference count, previous and next block on the call's list
BLOCK = ir.LiteralStructType([I64, I8P, I8P])
#: bytes before the first element of an allocated block (keeps elements 16-byte aligned)
HEADER = 32
_COUNT, _PREV, _NEXT = 0, 1, 2

_LIBC = {
    "malloc": (I8P, [I64]),
    "calloc": (I8P, [I64, I64]),
    "realloc": (I8P, [I8P, I64]),
    "free": (ir.VoidType(), [I8P]),
}

#: math functions that only exist in libm; everything else goes through LLVM intrinsics
_LIBM = {"expm1", "log1p", "sinh", "cosh", "tanh", "tan", "atan", "asin", "acos", "atan2"}


class Runtime:
    """Declarations and helper functions of one LLVM module, created on first use.

    ``shared``: the helpers the module only declares, defined once in the library module
    (``library``); ``exported``: the helpers defined are the library's own (so not private).
    """

    def __init__(
        self, module: ir.Module, shared: frozenset[str] = frozenset(), exported: bool = False
    ) -> None:
        self.module = module
        self.shared, self.exported = shared, exported
        self._fns: dict[str, ir.Function] = {}
        self._live: ir.GlobalVariable | None = None

    def libc(self, name: str) -> ir.Function:
        if name not in self._fns:
            ret, args = _LIBC[name]
            self._fns[name] = ir.Function(self.module, ir.FunctionType(ret, args), name)
        return self._fns[name]

    def count(self, builder: ir.IRBuilder, delta: int | ir.Value) -> None:
        """Add ``delta`` (an i64) to the process-wide count of live allocations."""
        if self._live is None:
            self._live = ir.GlobalVariable(self.module, I64, "adc_live")
        if isinstance(delta, int):
            delta = ir.Constant(I64, delta)
        builder.store(builder.add(builder.load(self._live), delta), self._live)

    def math(self, name: str, nargs: int = 1) -> ir.Function:
        """``double name(double...)``: an LLVM intrinsic or a libm function without side effects."""
        key = f"math.{name}"
        if key not in self._fns:
            fnty = ir.FunctionType(F64, [F64] * nargs)
            if name in _LIBM:
                fn = ir.Function(self.module, fnty, name)
                # no errno reads anywhere, so the calls can be hoisted, merged and vectorised
                fn.attributes.add("readnone")
                fn.attributes.add("nounwind")
            else:
                fn = self.module.declare_intrinsic(f"llvm.{name}", [F64], fnty)
            self._fns[key] = fn
        return self._fns[key]

    def intrinsic(self, name: str, types: list[ir.Type], fnty: ir.FunctionType) -> ir.Function:
        return self.module.declare_intrinsic(name, types, fnty)

    # ------------------------------------------------------------------ reference counts
    def helper(
        self, name: str, fnty: ir.FunctionType, attributes: tuple[str, ...] = ()
    ) -> tuple[ir.Function, ir.IRBuilder | None]:
        """A helper function with function ``attributes``: (function, builder at its entry,
        or None if already built or if the library defines it)."""
        if name in self._fns:
            return self._fns[name], None
        fn = ir.Function(self.module, fnty, name)
        self._fns[name] = fn
        for attribute in ("nounwind", *attributes):
            fn.attributes.add(attribute)
        return fn, ir.IRBuilder(fn.append_basic_block("entry")) if self.defines(fn) else None

    def defines(self, fn: ir.Function) -> bool:
        """Whether this module defines the helper ``fn`` (else it stays a declaration of the
        library's); a definition is private to the module, unless it is the library."""
        if fn.name in self.shared:
            return False
        if not self.exported:
            fn.linkage = "internal"
        return True

    def new_list(self, builder: ir.IRBuilder) -> ir.Value:
        """The head of an empty list of blocks, in the stack memory ``builder`` allocates from."""
        head = builder.alloca(BLOCK, name="blocks")
        me = builder.bitcast(head, I8P)
        builder.store(me, _field(builder, head, _PREV))
        builder.store(me, _field(builder, head, _NEXT))
        return head

    def alloc(self, builder: ir.IRBuilder, nbytes: ir.Value, zero: bool, blocks: ir.Value) -> ir.Value:
        """A new block on the list ``blocks``, with ``nbytes`` of elements and reference count 1;
        null if out of memory."""
        return builder.call(self.alloc_function(zero), [nbytes, blocks])

    def alloc_function(self, zero: bool) -> ir.Function:
        """``i8* adc_alloc(i64 nbytes, list*)`` (``adc_alloc_zero``: with the elements zeroed)."""
        # called, not inlined: a dozen allocations inlined were a sixth of a network
        # gradient's LLVM IR
        fn, b = self.helper(
            "adc_alloc_zero" if zero else "adc_alloc",
            ir.FunctionType(I8P, [I64, BLOCK.as_pointer()]),
            ("noinline",),
        )
        if not fn.return_value.attributes:  # a new block aliases nothing, as malloc's does not
            fn.return_value.add_attribute("noalias")
        if b is not None:
            size, head = fn.args
            total = b.add(size, ir.Constant(I64, HEADER))
            if zero:
                block = b.call(self.libc("calloc"), [total, ir.Constant(I64, 1)])
            else:
                block = b.call(self.libc("malloc"), [total])
            ok = b.icmp_unsigned("!=", block, ir.Constant(I8P, None))
            with b.if_then(ok, likely=True):
                header = b.bitcast(block, BLOCK.as_pointer())
                b.store(ir.Constant(I64, 1), _field(b, header, _COUNT))
                after = b.load(_field(b, head, _NEXT))
                b.store(b.bitcast(head, I8P), _field(b, header, _PREV))
                b.store(after, _field(b, header, _NEXT))
                b.store(block, _field(b, b.bitcast(after, BLOCK.as_pointer()), _PREV))
                b.store(block, _field(b, head, _NEXT))
                self.count(b, +1)
            b.ret(block)
        return fn

    def free_list(self, builder: ir.IRBuilder, blocks: ir.Value) -> None:
        """Free every block still on the list ``blocks``, whatever its reference count."""
        fn, b = self.helper("adc_free_list", ir.FunctionType(ir.VoidType(), [BLOCK.as_pointer()]))
        if b is not None:
            (head,) = fn.args
            end, first = b.bitcast(head, I8P), b.load(_field(b, head, _NEXT))
            entry = b.block
            test, body, done = (fn.append_basic_block(name) for name in ("test", "free", "done"))
            b.branch(test)
            b.position_at_end(test)
            node = b.phi(I8P, "node")
            node.add_incoming(first, entry)
            b.cbranch(b.icmp_unsigned("==", node, end), done, body)
            b.position_at_end(body)
            after = b.load(_field(b, b.bitcast(node, BLOCK.as_pointer()), _NEXT))
            b.call(self.libc("free"), [node])
            self.count(b, -1)
            node.add_incoming(after, body)
            b.branch(test)
            b.position_at_end(done)
            b.ret_void()
        builder.call(fn, [blocks])

    def incref(self, builder: ir.IRBuilder, meminfo: ir.Value) -> None:
        self._adjust(builder, meminfo, +1)

    def decref(self, builder: ir.IRBuilder, meminfo: ir.Value) -> None:
        self._adjust(builder, meminfo, -1)

    def _adjust(self, builder: ir.IRBuilder, meminfo: ir.Value, delta: int) -> None:
        if isinstance(meminfo, ir.Constant):  # a null meminfo: memory nobody here owns
            return
        builder.call(self.count_function(delta), [meminfo])

    def count_function(self, delta: int) -> ir.Function:
        """``void adc_incref(i8* meminfo)`` (``delta`` +1), ``adc_decref`` (-1: frees the block
        at zero); a null meminfo is left alone."""
        name = "adc_incref" if delta > 0 else "adc_decref"
        # called, not inlined, as the allocations (see ``alloc_function``)
        fn, b = self.helper(name, ir.FunctionType(ir.VoidType(), [I8P]), ("noinline",))
        if b is not None:
            mi = fn.args[0]
            with b.if_then(b.icmp_unsigned("!=", mi, ir.Constant(I8P, None))):
                header = b.bitcast(mi, BLOCK.as_pointer())
                count_ptr = _field(b, header, _COUNT)
                count = b.add(b.load(count_ptr), ir.Constant(I64, delta))
                b.store(count, count_ptr)
                if delta < 0:
                    with b.if_then(b.icmp_signed("==", count, ir.Constant(I64, 0))):
                        before, after = b.load(_field(b, header, _PREV)), b.load(_field(b, header, _NEXT))
                        b.store(after, _field(b, b.bitcast(before, BLOCK.as_pointer()), _NEXT))
                        b.store(before, _field(b, b.bitcast(after, BLOCK.as_pointer()), _PREV))
                        b.call(self.libc("free"), [mi])
                        self.count(b, -1)
            b.ret_void()
        return fn

    def is_unique(self, builder: ir.IRBuilder, meminfo: ir.Value) -> ir.Value:
        """True when the block is owned here and nothing else refers to it (safe to write)."""
        if isinstance(meminfo, ir.Constant):
            return ir.Constant(I1, 0)
        fn, b = self.helper("adc_is_unique", ir.FunctionType(I1, [I8P]))
        if b is not None:
            mi = fn.args[0]
            owned = b.icmp_unsigned("!=", mi, ir.Constant(I8P, None))
            with b.if_then(owned):
                one = b.icmp_signed("==", b.load(b.bitcast(mi, I64.as_pointer())), ir.Constant(I64, 1))
                b.ret(one)
            b.ret(ir.Constant(I1, 0))
        return builder.call(fn, [meminfo])

    def data_of(self, builder: ir.IRBuilder, meminfo: ir.Value, elem: ir.Type) -> ir.Value:
        """The first element of a block."""
        return builder.bitcast(
            builder.gep(meminfo, [ir.Constant(I64, HEADER)], inbounds=True), elem.as_pointer()
        )


def _field(b: ir.IRBuilder, header: ir.Value, k: int) -> ir.Value:
    """Pointer to field ``k`` of a block header (or of a list head)."""
    return b.gep(header, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True)
