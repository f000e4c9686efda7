"""A loader of x86-64 ELF object files: cached machine code runs without LLVM.

LLVM's own JIT linker needs ``llvmlite.binding``, whose import alone costs 20-30 ms -- more
than a warm start may take in all. The object files this backend makes are simple: one
module, the large code model (every reference to another section or to a symbol outside is
an absolute 64-bit relocation), no thread-local data, no C++ exceptions, no constructors. So
loading one is: copy its allocated sections into fresh pages, patch the relocations with the
addresses of the sections and of the symbols the runtime defines (:func:`.native.symbols`,
else ``dlsym`` in the process: libc, libm), and make the code pages executable.

Anything else -- another architecture or file format, a relocation kind not handled below, a
symbol that does not resolve -- raises :class:`LoadError`, and the caller loads the file with
LLVM instead. ``.eh_frame`` is not loaded: nothing unwinds through this code.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
import sys
import weakref

_ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")

_EM_X86_64, _ET_REL = 62, 1
_SHT_SYMTAB, _SHT_RELA, _SHT_NOBITS = 2, 4, 8
_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR = 1, 2, 4
_SHN_UNDEF, _SHN_ABS = 0, 0xFFF1
_STT_SECTION = 3
# relocation kinds: S = symbol address, A = addend, P = address patched, G = the GOT slot's
_R_64, _R_PC32, _R_PLT32, _R_GOTPCREL, _R_32, _R_32S, _R_PC64, _R_GOTPCRELX, _R_REX_GOTPCRELX = (
    1, 2, 4, 9, 10, 11, 24, 41, 42,
)  # fmt: skip
_GOT_KINDS = (_R_GOTPCREL, _R_GOTPCRELX, _R_REX_GOTPCRELX)
#: ``jmp *0(%rip)`` followed by the 8-byte target: a call through PLT32 to a far symbol
_STUB = b"\xff\x25\x00\x00\x00\x00"
_STUB_SIZE = 16

_libc = ctypes.CDLL(None, use_errno=True)
_mmap = _libc.mmap
_mmap.restype, _mmap.argtypes = ctypes.c_void_p, [
    ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long,
]  # fmt: skip
_mprotect = _libc.mprotect
_mprotect.restype, _mprotect.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_munmap = _libc.munmap
_munmap.restype, _munmap.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t]


class LoadError(Exception):
    """This object file is not one the loader handles (LLVM's linker should load it)."""


class _Section:
    __slots__ = ("name", "kind", "flags", "offset", "size", "link", "info", "align")

    def __init__(
        self, name: str, kind: int, flags: int, offset: int, size: int, link: int, info: int, align: int
    ):
        self.name, self.kind, self.flags, self.offset, self.size = name, kind, flags, offset, size
        self.link, self.info, self.align = link, info, align


class LoadedObject:
    """An object file's code and data in this process's memory: keep it alive while its
    functions may be called (its pages are unmapped when it is collected)."""

    def __init__(self, base: int, size: int, symbols: dict[str, int]) -> None:
        self._symbols = symbols
        self._unmap = weakref.finalize(self, _munmap, base, size)

    def keep(self) -> None:
        """Never unmap the pages, not even at exit (threads run this code until the end)."""
        self._unmap.detach()

    def address(self, name: str) -> int:
        try:
            return self._symbols[name]
        except KeyError:
            raise LoadError(f"no function {name!r} in the object file") from None


def supported() -> bool:
    """Whether this process can use the loader at all (Linux on x86-64)."""
    return sys.platform.startswith("linux") and os.uname().machine == "x86_64"


def load(obj: bytes, runtime: dict[str, int]) -> LoadedObject:
    """Load the relocatable object file ``obj``; its undefined symbols resolve to ``runtime``
    first, then to what the process has loaded."""
    ident, etype, machine, *_, shoff, _flags, _ehsize, _phsize, _phnum, shentsize, shnum, shstrndx = (
        _ELF_HEADER.unpack_from(obj)
    )
    if ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1 or etype != _ET_REL or machine != _EM_X86_64:
        raise LoadError("not a 64-bit little-endian x86-64 relocatable ELF file")
    raw = [_SECTION.unpack_from(obj, shoff + k * shentsize) for k in range(shnum)]
    names_at = raw[shstrndx][4]
    sections = [
        _Section(_cstr(obj, names_at + r[0]), r[1], r[2], r[4], r[5], r[6], r[7], max(r[8], 1)) for r in raw
    ]
    loaded = [k for k, s in enumerate(sections) if s.flags & _SHF_ALLOC and s.size and s.name != ".eh_frame"]
    symtab = next((k for k, s in enumerate(sections) if s.kind == _SHT_SYMTAB), None)
    if symtab is None:
        raise LoadError("no symbol table")
    symbols = _symbols(obj, sections, symtab)
    relocations = [
        (s.info, _RELA.iter_unpack(obj[s.offset : s.offset + s.size]))
        for s in sections
        if s.kind == _SHT_RELA and s.info in loaded
    ]
    relocations = [(target, list(relas)) for target, relas in relocations]
    far = sorted(
        {symbols[info >> 32] for _, relas in relocations for _, info, _ in relas if _is_far(info, symbols)}
    )

    # the layout: code (and the stubs, the GOT), then read-only data, then writable data,
    # each group on pages of its own so that each gets its own protection
    page = mmap.PAGESIZE
    groups = [
        [k for k in loaded if sections[k].flags & _SHF_EXECINSTR],
        [k for k in loaded if not sections[k].flags & (_SHF_EXECINSTR | _SHF_WRITE)],
        [k for k in loaded if sections[k].flags & _SHF_WRITE and not sections[k].flags & _SHF_EXECINSTR],
    ]
    offsets: dict[int, int] = {}
    spans, cursor = [], 0
    for g, members in enumerate(groups):
        start = cursor
        for k in members:
            cursor = _align(cursor, sections[k].align)
            offsets[k] = cursor
            cursor += sections[k].size
        if g == 0:
            cursor = _align(cursor, 16)
            stubs_at, cursor = cursor, cursor + _STUB_SIZE * len(far)
            got_at, cursor = cursor, cursor + 8 * len(far)
        cursor = _align(cursor, page)
        spans.append((start, cursor - start))
    size = max(cursor, page)
    base = _mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if base in (None, ctypes.c_void_p(-1).value):
        raise MemoryError("mmap failed to map memory for machine code")
    result = LoadedObject(base, size, {})  # unmaps the pages if anything below fails
    for k in loaded:
        s = sections[k]
        if s.kind != _SHT_NOBITS:  # fresh pages are zero, as .bss must be
            ctypes.memmove(base + offsets[k], obj[s.offset : s.offset + s.size], s.size)

    def address_of(name: str, shndx: int, value: int) -> int:
        """The address of a symbol (S)."""
        if shndx == _SHN_UNDEF:
            return _resolve(name, runtime)
        if shndx == _SHN_ABS:
            return value
        if shndx not in offsets:
            raise LoadError(f"a relocation refers to section {sections[shndx].name!r}, which is not loaded")
        return base + offsets[shndx] + value

    stub = {sym: base + stubs_at + _STUB_SIZE * i for i, sym in enumerate(far)}
    got = {sym: base + got_at + 8 * i for i, sym in enumerate(far)}
    for sym in far:
        target = struct.pack("<Q", address_of(*sym))
        ctypes.memmove(stub[sym], _STUB + target, len(_STUB) + 8)
        ctypes.memmove(got[sym], target, 8)
    for target, relas in relocations:
        for offset, info, addend in relas:
            kind, sym = info & 0xFFFFFFFF, symbols[info >> 32]
            where = base + offsets[target] + offset
            if kind in _GOT_KINDS:
                _patch32(where, got[sym] + addend - where, signed=True)
                continue
            s = stub[sym] if sym in stub else address_of(*sym)
            if kind == _R_64:
                ctypes.memmove(where, struct.pack("<Q", (s + addend) & 0xFFFFFFFFFFFFFFFF), 8)
            elif kind == _R_PC64:
                ctypes.memmove(where, struct.pack("<q", s + addend - where), 8)
            elif kind in (_R_PC32, _R_PLT32):
                _patch32(where, s + addend - where, signed=True)
            elif kind in (_R_32, _R_32S):
                _patch32(where, s + addend, signed=kind == _R_32S)
            else:
                raise LoadError(f"relocation kind {kind} is not handled")

    protections = (mmap.PROT_READ | mmap.PROT_EXEC, mmap.PROT_READ, mmap.PROT_READ | mmap.PROT_WRITE)
    for (start, length), prot in zip(spans, protections):
        if length and _mprotect(base + start, length, prot) != 0:
            raise OSError(ctypes.get_errno(), "mprotect failed on machine code pages")
    result._symbols.update(
        (name, base + offsets[shndx] + value) for name, shndx, value in symbols if name and shndx in offsets
    )
    return result


def _symbols(obj: bytes, sections: list[_Section], symtab: int) -> list[tuple[str, int, int]]:
    """(name, section index, value) of every symbol; a section symbol is named ''."""
    table, names_at = sections[symtab], sections[sections[symtab].link].offset
    out = []
    for name, info, _other, shndx, value, _size in _SYMBOL.iter_unpack(
        obj[table.offset : table.offset + table.size]
    ):
        out.append(("" if info & 0xF == _STT_SECTION else _cstr(obj, names_at + name), shndx, value))
    return out


def _is_far(info: int, symbols: list[tuple[str, int, int]]) -> bool:
    """Whether a relocation reaches its symbol through a GOT slot, or calls an external one
    (which may be more than 2 GB away) by a 32-bit offset: those symbols get a slot and a stub."""
    kind, (_name, shndx, _value) = info & 0xFFFFFFFF, symbols[info >> 32]
    return kind in _GOT_KINDS or (kind == _R_PLT32 and shndx == _SHN_UNDEF)


_process = ctypes.CDLL(None)
_libm: list[ctypes.CDLL] = []


def _resolve(name: str, runtime: dict[str, int]) -> int:
    if name in runtime:
        return runtime[name]
    for library in (_process, *_math_library()):
        try:
            return ctypes.cast(getattr(library, name), ctypes.c_void_p).value or 0
        except AttributeError:
            continue
    raise LoadError(f"the symbol {name!r} is not defined in this process")


def _math_library() -> list[ctypes.CDLL]:
    if not _libm:
        try:
            _libm.append(ctypes.CDLL("libm.so.6"))
        except OSError:
            pass
    return _libm


def _patch32(where: int, value: int, signed: bool) -> None:
    lo, hi = (-(2**31), 2**31 - 1) if signed else (0, 2**32 - 1)
    if not lo <= value <= hi:
        raise LoadError("a 32-bit relocation does not reach its target")
    ctypes.memmove(where, struct.pack("<i" if signed else "<I", value), 4)


def _align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def _cstr(data: bytes, at: int) -> str:
    return data[at : data.index(b"\0", at)].decode()
