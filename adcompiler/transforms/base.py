"""Transformed functions: the user's function (and, in the sibling modules, its derivatives),
specialised per call signature.

Every transformation returns a :class:`Transformed` function. It is specialised to the type
signature of its arguments on each new signature (as Numba does), and each specialisation's
IR, generated source and compiled code are cached. A transformed function is itself a valid
input to another transformation: its derivative IR is IR again (higher order).
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ADError, NotDifferentiableError, UnsupportedSyntaxError
from ..ir.core import Function
from ..ir.types import DYN, Tensor, Type, type_of_python_value

WrtSpec = int | str | Sequence[int | str]


@dataclass(frozen=True)
class Options:
    """What a user can ask of a transformation besides ``wrt``, ``mode`` and ``backend``."""

    #: None | "auto" | Revolve(snapshots=k) | MemoryBudget(bytes) | a number of bytes
    checkpoint: Any = "auto"
    #: check every value of both sweeps for NaN/inf, naming the op and line
    debug: bool = False
    #: the function returns ``(loss, aux)``; aux is passed through
    has_aux: bool = False
    #: names of local variables whose adjoints are returned too (what ``retain_grad`` gives)
    intermediates: tuple[str, ...] = ()


class Transformed:
    """A function adcompiler compiled: callable, with ``.source`` and ``.ir`` to read."""

    #: the user's function this was made from (for names, signature, defaults)
    root: Callable
    backend: str = "python"
    #: the LLVM backend's options (``fastmath``, ``boundscheck``, ``threads``): what
    #: ``jit(f, ...)`` asked
    compile_options: tuple[tuple[str, Any], ...] = ()

    def __init__(self) -> None:
        self._ir_cache: dict[tuple, Function] = {}
        self._compiled: dict[tuple, Any] = {}
        self._last: tuple | None = None
        #: per signature: the key of its warm cache entries (see ``warm.py``), made once
        self._warm_keys: dict[tuple, str | None] = {}
        #: seconds spent in each pass, over every specialisation
        self.timings: dict[str, float] = {}
        #: per signature: the positions of its array arguments (which one call may share)
        self._array_args: dict[tuple, list[int]] = {}

    def _run(self, fn: Function, *passes: tuple[str, Callable[[Function], Function]]) -> Function:
        from ..passes.manager import PassManager

        manager = PassManager(list(passes), self.timings)
        return manager.run(fn)

    # ------------------------------------------------------------------ to be provided
    def _build_ir(self, arg_types: tuple[Type, ...]) -> Function:
        raise NotImplementedError

    def _generic_types(self) -> tuple[Type, ...]:
        raise NotImplementedError

    @property
    def __name__(self) -> str:  # noqa: A003 - mirrors functions
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def typed_ir(self, arg_types: Sequence[Type]) -> Function:
        """This function's IR specialised to ``arg_types`` (typed and simplified)."""
        key = tuple(arg_types)
        if key not in self._ir_cache:
            self._ir_cache[key] = self._build_ir(key)
        return self._ir_cache[key]

    def _bind(self, args: tuple, kwargs: dict) -> list[Any]:
        """Arguments in parameter order, defaults filled in (the root function's signature)."""
        extra = self._n_extra_args()
        if not kwargs and self._n_positional >= 0 and len(args) == self._n_positional + extra:
            # the usual call, every argument by position: nothing to bind
            return list(args)
        if extra:
            args, tail = args[:-extra], args[-extra:]
        else:
            tail = ()
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.__name__}: {e}") from None
        bound.apply_defaults()
        return list(bound.args) + list(tail)

    def _n_extra_args(self) -> int:
        return 0

    @functools.cached_property
    def _signature(self) -> inspect.Signature:
        return inspect.signature(self.root)

    @functools.cached_property
    def _n_positional(self) -> int:
        """How many arguments a call passing all of them by position has (-1: no such call,
        the function takes ``*args`` or keyword-only parameters)."""
        kinds = [p.kind for p in self._signature.parameters.values()]
        plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return len(kinds) if all(k in plain for k in kinds) else -1

    def _warm_key(self, key: tuple) -> str | None:
        if key not in self._warm_keys:
            from .warm import warm_key

            self._warm_keys[key] = warm_key(self, key)
        return self._warm_keys[key]

    def _compile(self, key: tuple, args: Sequence[Any] | None = None) -> Callable:
        """The compiled code for the signature ``key`` (``args``: a sample call, which the
        LLVM backend specialises to first)."""
        if key not in self._compiled:
            self._compiled[key] = _compile(self, key, args)
        return self._compiled[key]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self._bind(args, kwargs)
        return self._call_bound(values, self._signature_of(values))

    def _signature_of(self, values: list[Any]) -> tuple:
        """The types of bound arguments: the key of a specialisation."""
        try:
            return tuple(map(type_of_python_value, values))
        except TypeError as e:
            raise ADError(f"{self.__name__}: {e}") from None

    def _call_bound(self, values: list[Any], key: tuple) -> Any:
        compiled = self._compile(key, values)
        self._last = key
        arrays = self._array_args.get(key)
        if arrays is None:
            arrays = self._array_args[key] = [
                k for k, t in enumerate(key) if isinstance(t, Tensor) and t.rank
            ]
        if len(arrays) > 1 and _may_share(values, arrays):
            _check_shared_arguments(self, values)
        return compiled(*values)

    def _shown_ir(self) -> Function:
        """The IR shown by ``.source``/``.ir``: the last signature called, else a generic one."""
        if self._last is not None:
            return self.typed_ir(self._last)
        try:
            return self.typed_ir(self._generic_types())
        except ADError as e:
            raise type(e)(
                f"{self.__name__} cannot be shown before it knows its argument types ({e.message}); "
                "call it once, then read .ir or .source"
            ) from None

    @property
    def ir(self) -> str:
        """The IR text of the last specialisation called (or of a generic one, before any call)."""
        return str(self._shown_ir())

    @property
    def source(self) -> str:
        """Readable Python source of this function: a complete module defining ``__name__``."""
        from ..backends.python import emit_module

        return emit_module(self._shown_ir(), docstring=self._docstring()).source

    @property
    def llvm_ir(self) -> str:
        """With ``backend="llvm"``: the optimised LLVM IR of the last specialisation called."""
        return self._last_compiled("llvm_ir").llvm_ir

    @property
    def asm(self) -> str:
        """With ``backend="llvm"``: the machine code of the last specialisation called."""
        return self._last_compiled("asm").asm

    def _last_compiled(self, what: str) -> Any:
        if self.backend != "llvm":
            raise ADError(f"{self.__name__} uses the {self.backend} backend; ask for backend='llvm'")
        if self._last is None:  # machine code is made for the types of the arguments only
            raise ADError(
                f"{self.__name__} is compiled for the types of its arguments: call it once, then read .{what}"
            )
        return self._compile(self._last)

    def _docstring(self) -> str | None:
        return None

    def __reduce__(self):
        """Pickled by reference to the user's function and the transformation's parameters:
        the other process regenerates (or finds in its cache) the same code."""
        return (_rebuild, (type(self), self._args, self.backend, self.compile_options))

    def graph(self, *args: Any, wrt: WrtSpec | None = None) -> str:
        """The computation at ``args`` as Graphviz DOT: forward values and adjoints per op."""
        from ..graph import graph

        return graph(self.root if isinstance(self, Primal) else self, *args, wrt=wrt)

    def with_backend(self, backend: str, **options: Any) -> Transformed:
        """The same function compiled by another backend (``options``: the backend's own)."""
        clone = copy.copy(self)
        Transformed.__init__(clone)
        clone.backend = backend
        clone.compile_options = tuple(sorted(options.items()))
        return clone

    def __repr__(self) -> str:
        return f"<adcompiler {self.__name__}>"


def _may_share(values: list[Any], positions: list[int]) -> bool:
    arrays = [values[k] for k in positions if isinstance(values[k], np.ndarray)]
    return any(np.may_share_memory(a, b) for k, a in enumerate(arrays) for b in arrays[k + 1 :])


def _check_shared_arguments(owner: Transformed, values: list[Any]) -> None:
    """Refuse a call passing one array (or views of it) for two parameters of the user's
    function when it writes into one and then reads the other: NumPy would show the write
    through both, adcompiler's value semantics would not."""
    from ..passes.aliasing import typed_summary

    primal = _primal(owner.root)
    n = len(values) - owner._n_extra_args()
    fn = primal.typed_ir(primal._signature_of(values[:n]))
    summary = typed_summary(owner.root, fn)
    names = fn.param_names
    for param, others in summary.reads_after.items():
        for other in others:
            a, b = values[names.index(param)], values[names.index(other)]
            if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and _shares_memory(a, b):
                raise UnsupportedSyntaxError(
                    f"{owner.root.__name__}() writes into its parameter {param} (at line "
                    f"{summary.writes[param].line}) and reads its parameter {other} afterwards, and this "
                    f"call passes arrays sharing memory for both: in NumPy the write also changes {other}; "
                    f"adcompiler gives arrays value semantics, so it would not: pass a copy for {param}",
                    summary.writes[param],
                )


def _shares_memory(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        return bool(np.shares_memory(a, b, max_work=10_000))
    except getattr(np, "exceptions", np).TooHardError:
        return True  # too costly to tell: as if they did


def _rebuild(cls: type, args: tuple, backend: str, compile_options: tuple) -> Transformed:
    made = cls(*args)
    made.backend = backend
    made.compile_options = compile_options
    return made


def _compile(owner: Transformed, key: tuple, args: Sequence[Any] | None) -> Callable:
    if owner.backend == "python":
        from ..backends.python import compile_module, emit_module

        fn = owner.typed_ir(key)
        compiled = compile_module(emit_module(fn, docstring=owner._docstring()), fn.name)
        if not any(isinstance(t, Tensor) and t.rank for t in key):
            return compiled

        def lists_as_arrays(*args: Any) -> Any:
            # a list is typed as the array it makes (as the LLVM backend's wrapper passes it)
            return compiled(*(np.asarray(a) if type(a) is list else a for a in args))

        return lists_as_arrays
    if owner.backend == "llvm":
        # no IR yet: the machine code may come from a warm cache entry, which needs none
        from ..backends.llvm import CompiledFunction

        options = {
            "fastmath": False,
            "boundscheck": True,
            "cache": True,
            "threads": None,
            "tiered": True,
            **dict(owner.compile_options),
        }

        def make_ir() -> Function:
            from ..passes.custom_rules import inline_custom_rules

            return inline_custom_rules(owner.typed_ir(key))  # machine code cannot call Python

        return CompiledFunction(owner.__name__, list(key), make_ir, options, args, owner._warm_key(key))
    raise ValueError(f"unknown backend {owner.backend!r}: use 'python' or 'llvm'")


# ----------------------------------------------------------------------------- primal
class Primal(Transformed):
    """The user's function itself, as IR (what ``jit`` compiles and the transformations read)."""

    def __init__(self, pyfunc: Callable, backend: str = "python") -> None:
        super().__init__()
        if isinstance(pyfunc, Transformed):
            raise TypeError("Primal wraps a plain Python function")
        self.root = pyfunc
        self.backend = backend
        self._args = (pyfunc, backend)

    @property
    def __name__(self) -> str:
        return self.root.__name__

    def untyped_ir(self) -> Function:
        from ..frontend import parse_function

        return parse_function(self.root)

    def _build_ir(self, arg_types):
        from ..passes.aliasing import check_typed_aliasing
        from ..passes.simplify import simplify
        from ..passes.typeinfer import infer_types

        return self._run(
            self.untyped_ir(),
            ("typeinfer", lambda fn: infer_types(fn, arg_types)),
            ("aliasing", check_typed_aliasing(self.root)),
            ("simplify", simplify),
        )

    def _generic_types(self):
        return tuple(DYN for _ in self.untyped_ir().params)


def as_transformed(f: Callable | Transformed) -> Transformed:
    return f if isinstance(f, Transformed) else _primal(f)


@functools.cache
def _primal(f: Callable) -> Primal:
    if not callable(f):
        raise TypeError(f"expected a function, got {type(f).__name__}")
    return Primal(f)


# ----------------------------------------------------------------------------- reverse mode
def resolve_wrt(wrt: WrtSpec, names: list[str], fn_name: str) -> tuple[list[int], bool]:
    """Parameter positions of ``wrt`` and whether the caller asked for a tuple."""
    many = isinstance(wrt, (tuple, list))
    items = list(wrt) if many else [wrt]
    out = []
    for w in items:
        if isinstance(w, str):
            if w not in names:
                raise NotDifferentiableError(
                    f"{fn_name} has no parameter named {w!r} (parameters: {', '.join(names)})"
                )
            out.append(names.index(w))
        elif isinstance(w, int) and not isinstance(w, bool):
            if not -len(names) <= w < len(names):
                raise NotDifferentiableError(
                    f"{fn_name} has {len(names)} parameters; wrt={w} is out of range"
                )
            out.append(w % len(names))
        else:
            raise TypeError(f"wrt must be an int, a parameter name or a tuple of them, not {w!r}")
    return out, many


def has_tapes(fn: Function) -> bool:
    return any(op.name in ("push", "pop") for op in fn.walk())


def check_float_params(of: Transformed, primal: Function, wrt: list[int], names: list[str]) -> None:
    for k in wrt:
        t = primal.params[k].type
        if not (isinstance(t, Tensor) and t.is_float):
            kind = "an int" if t == Tensor("i64", 0) else "a bool" if t == Tensor("bool", 0) else str(t)
            raise NotDifferentiableError(
                f"cannot differentiate {of.__name__} with respect to '{names[k]}': "
                f"it is {kind}; pass a float (or a float64 array)",
                primal.loc,
            )


# ----------------------------------------------------------------------------- forward mode
