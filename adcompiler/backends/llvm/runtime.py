"""The native runtime: C library and math declarations, reference-counted buffers.

An array the compiled code allocates lives in one ``malloc`` block: a 16-byte header holding
the reference count (the *meminfo*), then the elements. Every lowered array value owns one
reference; views share the block and add a reference. The Python wrapper hands returned
blocks to NumPy arrays whose base object drops the last reference (``wrapper._Owner``).
A null meminfo marks memory the function does not own (the caller's arrays, constants):
never written, never freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import llvmlite.binding as llvm
from llvmlite import ir

from . import blas
from .types import F64, I1, I8P, I64

#: bytes before the first element of an allocated block (keeps elements 16-byte aligned)
HEADER = 16

_LIBC = {
    "malloc": (I8P, [I64]),
    "calloc": (I8P, [I64, I64]),
    "realloc": (I8P, [I8P, I64]),
    "free": (ir.VoidType(), [I8P]),
}

#: math functions that only exist in libm; everything else goes through LLVM intrinsics
_LIBM = {"expm1", "log1p", "sinh", "cosh", "tanh", "tan", "atan", "asin", "acos", "atan2"}


def load_native_libraries() -> None:
    """Make libc and libm symbols visible to the JIT linker (once per process)."""
    if getattr(load_native_libraries, "done", False):
        return
    for name in ("c", "m"):
        path = ctypes.util.find_library(name)
        if path:
            llvm.load_library_permanently(path)
    blas.register(blas.find())
    load_native_libraries.done = True  # type: ignore[attr-defined]


class Runtime:
    """Declarations and helper functions of one LLVM module, created on first use."""

    def __init__(self, module: ir.Module) -> None:
        self.module = module
        self._fns: dict[str, ir.Function] = {}

    def libc(self, name: str) -> ir.Function:
        if name not in self._fns:
            ret, args = _LIBC[name]
            self._fns[name] = ir.Function(self.module, ir.FunctionType(ret, args), name)
        return self._fns[name]

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
    def helper(self, name: str, fnty: ir.FunctionType) -> tuple[ir.Function, ir.IRBuilder | None]:
        """A private helper function: (function, builder at its entry or None if already built)."""
        if name in self._fns:
            return self._fns[name], None
        fn = ir.Function(self.module, fnty, name)
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        self._fns[name] = fn
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def alloc(self, builder: ir.IRBuilder, nbytes: ir.Value, zero: bool) -> ir.Value:
        """A new block with ``nbytes`` of elements and reference count 1; null if out of memory."""
        fn, b = self.helper("adc_alloc_zero" if zero else "adc_alloc", ir.FunctionType(I8P, [I64]))
        if b is not None:
            total = b.add(fn.args[0], ir.Constant(I64, HEADER))
            if zero:
                block = b.call(self.libc("calloc"), [total, ir.Constant(I64, 1)])
            else:
                block = b.call(self.libc("malloc"), [total])
            ok = b.icmp_unsigned("!=", block, ir.Constant(I8P, None))
            with b.if_then(ok, likely=True):
                b.store(ir.Constant(I64, 1), b.bitcast(block, I64.as_pointer()))
            b.ret(block)
        return builder.call(fn, [nbytes])

    def incref(self, builder: ir.IRBuilder, meminfo: ir.Value) -> None:
        self._adjust(builder, meminfo, "adc_incref", +1)

    def decref(self, builder: ir.IRBuilder, meminfo: ir.Value) -> None:
        self._adjust(builder, meminfo, "adc_decref", -1)

    def _adjust(self, builder: ir.IRBuilder, meminfo: ir.Value, name: str, delta: int) -> None:
        if isinstance(meminfo, ir.Constant):  # a null meminfo: memory nobody here owns
            return
        fn, b = self.helper(name, ir.FunctionType(ir.VoidType(), [I8P]))
        if b is not None:
            mi = fn.args[0]
            with b.if_then(b.icmp_unsigned("!=", mi, ir.Constant(I8P, None))):
                count_ptr = b.bitcast(mi, I64.as_pointer())
                count = b.add(b.load(count_ptr), ir.Constant(I64, delta))
                b.store(count, count_ptr)
                if delta < 0:
                    with b.if_then(b.icmp_signed("==", count, ir.Constant(I64, 0))):
                        b.call(self.libc("free"), [mi])
            b.ret_void()
        builder.call(fn, [meminfo])

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
