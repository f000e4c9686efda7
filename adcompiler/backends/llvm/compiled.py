"""A compiled function: machine code per pattern of its arguments, from the cache or from LLVM.

The machine code is specialised to which axes of the array arguments have length 1
(:func:`~.wrapper.pattern_of`): broadcasting is then decided at compile time, so the loops
carry no zero-stride selects and the adjoints of broadcasts no run-time versions. Calls with
another pattern (a column vector where there was a matrix, say) get their own code, once.

Code that reads elements of array arguments (``x[i]``) is specialised to *contiguous* arrays
too -- the last axis of each has its elements next to each other, as in every array NumPy
makes (Numba's ``C`` layout) -- so that an element's address needs no stride (see
``Lowerer.element_stride``). Looking at the strides here would cost every call; the code
looks itself and answers :data:`~.wrapper.STRIDED` to a strided argument (``x[::2]``, a
transposed matrix), and such calls run code made for any strides, compiled at the first of
them. Code reading no element is the same for every layout: it checks nothing, serves all.

Code comes in tiers, as in the JITs of Java and JavaScript, so that a first call waits for
little compiling: a function's first code (:attr:`Code.tier` 0) is compiled *quick* --
LLVM's ``-O3`` without vectorising or unrolling loops (``jit.optimize``), a third to a half
of the work on the benchmarks' gradients, code as fast on scalar loops and up to a few
times slower on vectorisable ones -- and its optimised code (tier 1), from the same LLVM IR,
on a thread of its own (``background``; LLVM runs without the GIL), which replaces the quick
code in this object once done, and becomes the warm cache entry (quick code is never
cached). Code for threads comes later still (``parallel``'s docstring says why): the code of
a function compiled without a count of threads runs its loops serially, and a call that ran
a large loop the code for threads would split (``threads.threads_wanted``) has that code
(tier 2) compiled in the background too. Every tier gives the same results to the bit.
:func:`wait_for_compiles` waits for the compiles in the background; ``llvm_ir`` and ``asm``
wait for them, and show the code that calls take from then on.

Code comes, in order, from a *warm* cache entry (no IR needed: the function's IR is not
even made), from an *object* cache entry (keyed by the printed IR), or from LLVM. Loading it
goes through :mod:`.loader` where it can, else through LLVM's JIT linker. Only the last two
ways import the compiler and llvmlite (see ``cache``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...digest import digest
from ...errors import NumericError
from ...ir.core import Function
from ...ir.types import Tensor, Type
from . import background, cache, library, loader, native, threads
from .wrapper import Pattern, StridedArguments, make_caller, pattern_of

#: exceptions the compiled code raises, by name (the cache stores names)
_EXCEPTIONS = {
    e.__name__: e
    for e in (IndexError, ZeroDivisionError, ValueError, AssertionError, MemoryError, NumericError)
}
Errors = list[tuple[type[BaseException], str]]


class Code:
    """Loaded machine code of one specialisation; keep it alive as long as its caller."""

    def __init__(self, memory: Any, llvm_ir: str, errors: Errors, asks: bool, quick: bool = False) -> None:
        self.memory = memory  # a loader.LoadedObject or a jit.LoadedByLLVM
        self.llvm_ir = llvm_ir  # the optimised LLVM IR
        self.errors = errors
        self.asks = asks  # serial code whose large loops ask for code for threads
        self.quick = quick  # compiled without vectorising, the fully optimised code to come

    @property
    def tier(self) -> int:
        """0: quick code; 1: optimised; 2: optimised, and no code for threads to ask for."""
        return 0 if self.quick else 1 if self.asks else 2

    @property
    def asm(self) -> str:
        from . import jit

        return jit.assembly(self.llvm_ir)


class Unoptimised:
    """LLVM IR compiled quickly so far, and what its fully optimised code will need."""

    def __init__(self, name: str, text: str, meta: dict[str, Any], errors: Errors) -> None:
        self.name, self.text, self.meta, self.errors = name, text, meta, errors

    def optimise(self, use_cache: bool) -> Code:
        """The fully optimised code (stored in the object cache)."""
        from . import jit

        llvm_ir, obj = jit.compile_module(self.text)
        meta = {**self.meta, "llvm_ir": llvm_ir}
        if use_cache:
            cache.store_object(self.name, obj, meta)
        return _code(obj, llvm_ir, self.errors, meta["parallel"], meta["asks"], meta["library"])


class WarmEntry:
    """What a warm start needs to call the code of a function it has not made the IR of."""

    __slots__ = ("obj", "name", "params", "returns")

    def __init__(self, obj: str, name: str, params: tuple[Type, ...], returns: tuple[Type, ...]) -> None:
        self.obj = obj  # the object entry
        self.name, self.params, self.returns = name, params, returns


class CompiledFunction:
    """A compiled IR function; call it like the original.

    ``ir`` makes the typed IR function (called only when no cache entry has the code);
    ``warm_key`` is what the function is before its IR is made (None: no warm entries).
    """

    def __init__(
        self,
        name: str,
        params: Sequence[Type],
        ir: Callable[[], Function],
        options: dict[str, Any],
        args: Sequence[Any] | None,
        warm_key: str | None = None,
    ) -> None:
        self.__name__ = name
        self._ir, self._options, self._warm_key = ir, options, warm_key
        self._pattern = pattern_of(params)
        #: per pattern: the machine code for contiguous arrays and its caller
        self._code: dict[Pattern, tuple[Code, Callable[..., Any]]] = {}
        #: per pattern: the machine code for any strides and its caller, made when first needed
        self._strided: dict[Pattern, tuple[Code, Callable[..., Any]]] = {}
        #: the code the last call ran: its pattern, and whether it was the strided code
        self._last: tuple[Pattern, bool] = (self._pattern(args) if args is not None else (), False)
        self._only_scalars = not any(isinstance(t, Tensor) and t.rank for t in params)
        #: the (pattern, contiguous) whose code for threads is compiled or being compiled
        self._asked: set[tuple[Pattern, bool]] = set()
        #: code replaced by a later tier, kept loaded while this function lives
        self._replaced: list[Code] = []
        self._installing = threading.Lock()
        #: the caller of calls with scalars only (one pattern, one layout)
        self._call = self._specialise(self._last[0], contiguous=True)

    def _warm_name(self, pattern: Pattern, contiguous: bool) -> str | None:
        """The key of the warm entry of one pattern and layout (None: no warm entries)."""
        if self._warm_key is None or not self._options["cache"]:
            return None
        layout = "contiguous" if contiguous else "strided"
        return f"{self._warm_key}\npattern={pattern} {layout}\n{sorted(self._options.items())}"

    def _specialise(self, pattern: Pattern, contiguous: bool) -> Callable[..., Any]:
        """The caller of the code for ``pattern`` and the layout, loaded, else compiled
        quickly with the optimised code compiled in the background (see the docstring)."""
        warm = self._warm_name(pattern, contiguous)
        entry = cache.load_warm(warm) if warm is not None else None
        code = _load(entry.obj) if entry is not None else None
        if entry is not None and code is not None:
            return self._install(pattern, contiguous, entry, code, compiled=False)
        library.use_cached()
        fn = self._ir()
        entry, code, unoptimised = self._compile(fn, pattern, contiguous, quick=self._options["tiered"])
        library.prepare()
        if unoptimised is not None:
            later = entry
            background.run(
                lambda: self._install(
                    pattern, contiguous, later, unoptimised.optimise(self._options["cache"])
                ),
                "optimised code",
            )
        return self._install(pattern, contiguous, entry, code)

    def _compile(
        self, fn: Function, pattern: Pattern, contiguous: bool, quick: bool, for_threads: bool = False
    ) -> tuple[WarmEntry, Code, Unoptimised | None]:
        options = self._options
        threads = options.get("threads")
        name, code, unoptimised = _machine_code(
            fn,
            pattern,
            options["fastmath"],
            options["boundscheck"],
            options["cache"],
            contiguous,
            threads,
            ask_for_threads=threads is None and not for_threads,
            quick=quick,
        )
        entry = WarmEntry(name, fn.name, tuple(p.type for p in fn.params), tuple(r.type for r in fn.returns))
        return entry, code, unoptimised

    def _install(
        self, pattern: Pattern, contiguous: bool, entry: WarmEntry, code: Code, compiled: bool = True
    ) -> Callable[..., Any]:
        """Make ``code`` the one calls with ``pattern`` and the layout take -- unless code of a
        later tier is there already -- and, optimised and just ``compiled``, the warm cache
        entry's."""
        address = code.memory.address("adc_entry")
        call = make_caller(entry.name, list(entry.params), list(entry.returns), address, code.errors)
        if code.asks:
            call = self._asking(call, pattern, contiguous)
        table = self._code if contiguous else self._strided
        with self._installing:  # compiles in the background install from their own threads
            found = table.get(pattern)
            if found is not None and found[0].tier >= code.tier:
                return found[1]
            if found is not None:
                # a call on another thread may be running the code replaced: it stays loaded
                self._replaced.append(found[0])
            table[pattern] = (code, call)
            self._call = call  # the last made: the one when there is one
            if compiled and not code.quick:
                warm = self._warm_name(pattern, contiguous)
                if warm is not None:
                    cache.store_warm(warm, entry)
        return call

    def _asking(self, call: Callable[..., Any], pattern: Pattern, contiguous: bool) -> Callable[..., Any]:
        """``call`` (serial code), which has the code for threads compiled in the background
        the first time a call runs a large loop."""

        def asking(*args: Any) -> Any:
            try:
                return call(*args)
            finally:
                if threads.threads_wanted() and (pattern, contiguous) not in self._asked:
                    self._asked.add((pattern, contiguous))
                    background.run(lambda: self._for_threads(pattern, contiguous), "code for threads")

        return asking

    def _for_threads(self, pattern: Pattern, contiguous: bool) -> None:
        entry, code, _ = self._compile(self._ir(), pattern, contiguous, quick=False, for_threads=True)
        self._install(pattern, contiguous, entry, code)

    def __call__(self, *args: Any) -> Any:
        if self._only_scalars:  # one specialisation: no pattern to look for
            return self._call(*args)
        pattern = self._pattern(args)
        code = self._code.get(pattern)
        call = code[1] if code is not None else self._specialise(pattern, contiguous=True)
        self._last = (pattern, False)
        try:
            return call(*args)
        except StridedArguments:  # the code for contiguous arrays refused a strided one
            pass
        code = self._strided.get(pattern)
        call = code[1] if code is not None else self._specialise(pattern, contiguous=False)
        self._last = (pattern, True)
        return call(*args)

    @property
    def llvm_ir(self) -> str:
        """The optimised LLVM IR of the code calls like the last one run, once the compiles
        in the background have ended (the optimised code, or the code for threads, in place
        of the last call's)."""
        background.wait()
        return self._last_code().llvm_ir

    @property
    def asm(self) -> str:
        background.wait()
        return self._last_code().asm

    def _last_code(self) -> Code:
        pattern, strided = self._last
        return (self._strided if strided else self._code)[pattern][0]


def wait_for_compiles() -> None:
    """Wait until the code compiled in the background (``background``) is in use."""
    background.wait()


def compile_function(
    fn: Function,
    *,
    fastmath: bool = False,
    boundscheck: bool = True,
    cache: bool = True,
    args: Sequence[Any] | None = None,
    threads: int | None = None,
    tiered: bool = True,
) -> CompiledFunction:
    """Compile a typed IR function (raises ADTypeError naming what the backend cannot handle),
    specialised first to ``args`` (sample arguments) or else to arrays with no axis of length 1.
    ``threads``: how many threads large loops may use (None: ``threads.num_threads()`` when
    they run; 1: serial code); ``tiered``: quick code first (see the module's docstring)."""
    options = {
        "fastmath": fastmath,
        "boundscheck": boundscheck,
        "cache": cache,
        "threads": threads,
        "tiered": tiered,
    }
    return CompiledFunction(fn.name, [p.type for p in fn.params], lambda: fn, options, args)


def _machine_code(
    fn: Function,
    pattern: Pattern,
    fastmath: bool,
    boundscheck: bool,
    use_cache: bool,
    contiguous: bool = True,
    threads: int | None = None,
    ask_for_threads: bool = False,
    quick: bool = False,
) -> tuple[str, Code, Unoptimised | None]:
    """The machine code of ``fn`` for one pattern and layout (``contiguous``: for arrays whose
    last axis is, the usual code), the name of its object entry, and when the code was
    compiled ``quick`` (not vectorised) what the optimised code needs: from the on-disk cache
    (optimised), else from LLVM. ``threads``: see :func:`compile_function`;
    ``ask_for_threads``: serial code that asks for code for threads (see ``parallel``)."""
    shared = library.shared(fastmath)
    name = _object_key(fn, fastmath, boundscheck, pattern, contiguous, threads, ask_for_threads, shared)
    hit = _load(name) if use_cache else None
    if hit is not None:
        return name, hit, None
    from llvmlite import ir

    from . import jit
    from .entry import build_entry
    from .lower import Lowerer

    module = ir.Module(name=fn.name)
    lowerer = Lowerer(
        fn,
        module,
        fastmath=fastmath,
        boundscheck=boundscheck,
        ones=pattern,
        contiguous=contiguous,
        threads=threads,
        ask_for_threads=ask_for_threads,
        shared=shared,
    )
    core = lowerer.build()
    errors = lowerer.errors
    build_entry(fn, module, core, errors, lowerer.assumes_contiguous)
    text = str(module)
    parallel, asks = "adc_pool_worker" in module.globals, "adc_threads_wanted" in module.globals
    uses_library = any(name in module.globals and module.globals[name].is_declaration for name in shared)
    meta = {
        "errors": [(e.__name__, m) for e, m in errors],
        "parallel": parallel,
        "asks": asks,
        "library": uses_library,
    }
    unoptimised = Unoptimised(name, text, meta, errors)
    if not quick:
        return name, unoptimised.optimise(use_cache), None
    llvm_ir, obj = jit.compile_module(text, quick=True)
    return name, _code(obj, llvm_ir, errors, parallel, asks, uses_library, quick=True), unoptimised


def _load(name: str) -> Code | None:
    """The code of an object entry, loaded; None if there is no such entry."""
    found = cache.load_object(name)
    if found is None:
        return None
    obj, meta = found
    errors = [(_EXCEPTIONS[e], message) for e, message in meta["errors"]]
    return _code(obj, meta["llvm_ir"], errors, meta["parallel"], meta["asks"], meta["library"])


def _code(
    obj: bytes,
    llvm_ir: str,
    errors: Errors,
    parallel: bool,
    asks: bool,
    uses_library: bool,
    quick: bool = False,
) -> Code:
    """Load an object file (the library first, if it calls it); code with parallel loops
    offers the pool its thread function."""
    if uses_library:
        library.load()
    code = Code(link(obj), llvm_ir, errors, asks, quick)
    if parallel:
        threads.adopt(code.memory, code.memory.address("adc_pool_worker"))
    return code


def link(obj: bytes) -> Any:
    """Load an object file: by our loader where it handles the file, else by LLVM's."""
    if loader.supported():
        try:
            return loader.load(obj, native.symbols())
        except loader.LoadError:
            pass
    from . import jit

    return jit.LoadedByLLVM(obj)


def _object_key(
    fn: Function,
    fastmath: bool,
    boundscheck: bool,
    pattern: Pattern,
    contiguous: bool,
    threads: int | None,
    ask_for_threads: bool,
    shared: frozenset[str],
) -> str:
    """The name of the object entry of ``fn``: its printed IR, plus what printing leaves out
    (source positions and array constants), the options, the pattern and the layout. (The
    count of threads is in the code only when the function was compiled with one.)"""
    parts = [
        str(fn),
        f"fastmath={fastmath} boundscheck={boundscheck} threads={threads} ask={ask_for_threads}",
        f"library={sorted(shared)}",
        f"pattern={pattern} contiguous={contiguous}",
    ]
    for op in fn.walk():
        parts.append(str(op.loc))
        value = op.attrs.get("value")
        if isinstance(value, np.ndarray):
            parts.append(value.dtype.str + str(value.shape) + digest(np.ascontiguousarray(value).tobytes()))
    return cache.entry_name("\n".join(parts))
