"""The public API: ``grad``, ``value_and_grad``, ``vjp`` ... (see DESIGN.md).

Every transformation returns a :class:`Transformed` function. It is specialised to the type
signature of its arguments on each new signature (as Numba does), and each specialisation's
IR, generated source and compiled code are cached. A transformed function is itself a valid
input to another transformation: its derivative IR is IR again (higher order).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from . import naming
from .ad.reverse import ReverseAD
from .errors import ADError, NotDifferentiableError
from .frontend import parse_function
from .ir.builder import Builder
from .ir.core import Function, Value
from .ir.types import DYN, UNKNOWN, Tensor, TupleT, Type
from .passes.manager import PassManager
from .passes.simplify import simplify
from .passes.typeinfer import arg_types_of, infer_types

WrtSpec = int | str | Sequence[int | str]


class Transformed:
    """A function adcompiler compiled: callable, with ``.source`` and ``.ir`` to read."""

    #: the user's function this was made from (for names, signature, defaults)
    root: Callable
    backend: str = "python"

    def __init__(self) -> None:
        self._ir_cache: dict[tuple, Function] = {}
        self._compiled: dict[tuple, Any] = {}
        self._last: tuple | None = None
        #: seconds spent in each pass, over every specialisation
        self.timings: dict[str, float] = {}

    def _run(self, fn: Function, *passes: tuple[str, Callable[[Function], Function]]) -> Function:
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
        sig = inspect.signature(self.root)
        extra = self._n_extra_args()
        if extra:
            args, tail = args[:-extra], args[-extra:]
        else:
            tail = ()
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.__name__}: {e}") from None
        bound.apply_defaults()
        return list(bound.args) + list(tail)

    def _n_extra_args(self) -> int:
        return 0

    def _compile(self, key: tuple) -> Callable:
        if key not in self._compiled:
            fn = self.typed_ir(key)
            self._compiled[key] = _compile(fn, self.backend, self)
        return self._compiled[key]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self._bind(args, kwargs)
        try:
            key = tuple(arg_types_of(values))
        except TypeError as e:
            raise ADError(f"{self.__name__}: {e}") from None
        compiled = self._compile(key)
        self._last = key
        return compiled(*values)

    def _shown_key(self) -> tuple:
        return self._last if self._last is not None else self._generic_types()

    @property
    def ir(self) -> str:
        """The IR text of the last specialisation called (or of a generic one, before any call)."""
        return str(self.typed_ir(self._shown_key()))

    @property
    def source(self) -> str:
        """Readable Python source of this function: a complete module defining ``__name__``."""
        from .backends.python import emit_module

        fn = self.typed_ir(self._shown_key())
        return emit_module(fn, docstring=self._docstring()).source

    @property
    def llvm_ir(self) -> str:
        """With ``backend="llvm"``: the optimised LLVM IR of the last specialisation called."""
        if self.backend != "llvm":
            raise ADError(f"{self.__name__} uses the {self.backend} backend; ask for backend='llvm'")
        return self._compile(self._shown_key()).llvm_ir

    @property
    def asm(self) -> str:
        """With ``backend="llvm"``: the machine code of the last specialisation called."""
        if self.backend != "llvm":
            raise ADError(f"{self.__name__} uses the {self.backend} backend; ask for backend='llvm'")
        return self._compile(self._shown_key()).asm

    def _docstring(self) -> str | None:
        return None

    def __repr__(self) -> str:
        return f"<adcompiler {self.__name__}>"


def _compile(fn: Function, backend: str, owner: Transformed) -> Callable:
    if backend == "python":
        from .backends.python import compile_module, emit_module

        return compile_module(emit_module(fn, docstring=owner._docstring()), fn.name)
    if backend == "llvm":
        from .backends.llvm import compile_function

        return compile_function(fn)
    raise ValueError(f"unknown backend {backend!r}: use 'python' or 'llvm'")


# ----------------------------------------------------------------------------- primal
class Primal(Transformed):
    """The user's function itself, as IR (what ``jit`` compiles and the transformations read)."""

    def __init__(self, pyfunc: Callable, backend: str = "python") -> None:
        super().__init__()
        if isinstance(pyfunc, Transformed):
            raise TypeError("Primal wraps a plain Python function")
        self.root = pyfunc
        self.backend = backend

    @property
    def __name__(self) -> str:
        return self.root.__name__

    def untyped_ir(self) -> Function:
        return parse_function(self.root)

    def _build_ir(self, arg_types):
        return self._run(
            self.untyped_ir(), ("typeinfer", lambda fn: infer_types(fn, arg_types)), ("simplify", simplify)
        )

    def _generic_types(self):
        return tuple(DYN for _ in self.untyped_ir().params)


def _as_transformed(f: Callable | Transformed) -> Transformed:
    return f if isinstance(f, Transformed) else _primal(f)


@functools.lru_cache(maxsize=None)
def _primal(f: Callable) -> Primal:
    if not callable(f):
        raise TypeError(f"expected a function, got {type(f).__name__}")
    return Primal(f)


# ----------------------------------------------------------------------------- reverse mode
def _resolve_wrt(wrt: WrtSpec, names: list[str], fn_name: str) -> tuple[list[int], bool]:
    """Parameter positions of ``wrt`` and whether the caller asked for a tuple."""
    many = isinstance(wrt, (tuple, list))
    items = list(wrt) if many else [wrt]
    out = []
    for w in items:
        if isinstance(w, str):
            if w not in names:
                raise NotDifferentiableError(f"{fn_name} has no parameter named {w!r} (parameters: {', '.join(names)})")
            out.append(names.index(w))
        elif isinstance(w, int) and not isinstance(w, bool):
            if not -len(names) <= w < len(names):
                raise NotDifferentiableError(f"{fn_name} has {len(names)} parameters; wrt={w} is out of range")
            out.append(w % len(names))
        else:
            raise TypeError(f"wrt must be an int, a parameter name or a tuple of them, not {w!r}")
    return out, many


class Derivative(Transformed):
    """A derivative of another transformed function (reverse mode)."""

    def __init__(self, of: Transformed, kind: str, wrt: WrtSpec, backend: str, checkpoint: Any = "auto") -> None:
        super().__init__()
        self.of = of
        self.kind = kind  # "grad" | "value_and_grad" | "vjp"
        self.root = of.root
        self.backend = backend
        self.checkpoint = checkpoint
        self.param_names = list(inspect.signature(self.root).parameters)
        self.wrt, self.many = _resolve_wrt(wrt, self.param_names, of.__name__)

    @property
    def __name__(self) -> str:
        return naming.derivative_function(self.kind, self.of.__name__)

    def _n_extra_args(self) -> int:
        return 1 if self.kind == "vjp" else 0

    def _generic_types(self):
        inner = self.of._generic_types()
        return inner + ((UNKNOWN,) if self.kind == "vjp" else ())

    def _docstring(self) -> str:
        names = ", ".join(self.param_names[k] for k in self.wrt)
        what = {"grad": "Gradient", "value_and_grad": "Value and gradient", "vjp": "Vector-Jacobian product"}
        return f"{what[self.kind]} of {self.of.__name__} with respect to {names}. Generated by adcompiler."

    def _build_ir(self, arg_types):
        primal_types = arg_types[:-1] if self.kind == "vjp" else arg_types
        primal = self.of.typed_ir(primal_types)
        self._check_wrt(primal)
        out = primal.returns[0]
        self._check_output(primal, out)
        cotangent_type = arg_types[-1] if self.kind == "vjp" else None

        def seeds(b: Builder, fn: Function) -> list[tuple[Value, Value]]:
            if self.kind != "vjp":
                return [(out, b.const(1.0))]
            name = naming.adjoint(out.hint or "out")
            ct = fn.body.add_arg(Value(cotangent_type, name))
            fn.param_names.append(name)
            return _tuple_seeds(b, out, ct)

        def pack(b: Builder, value: Value, grads: list[Value]) -> Value:
            g = b.tuple(*grads) if self.many else grads[0]
            return b.tuple(value, g) if self.kind == "value_and_grad" else g

        return self._run(
            primal, ("reverse", lambda fn: ReverseAD(fn, self.wrt).build(self.__name__, seeds, pack)), ("simplify", simplify)
        )

    def _check_wrt(self, primal: Function) -> None:
        for k in self.wrt:
            t = primal.params[k].type
            if not (isinstance(t, Tensor) and t.is_float):
                kind = "an int" if t == Tensor("i64", 0) else "a bool" if t == Tensor("bool", 0) else str(t)
                raise NotDifferentiableError(
                    f"cannot differentiate {self.of.__name__} with respect to '{self.param_names[k]}': "
                    f"it is {kind}; pass a float (or a float64 array)",
                    primal.loc,
                )

    def _check_output(self, primal: Function, out: Value) -> None:
        if self.kind == "vjp":
            return
        t = out.type
        if isinstance(t, Tensor) and t.rank in (0, None):
            return
        shape = "a tuple" if isinstance(t, TupleT) else f"an array of rank {getattr(t, 'rank', '?')}"
        raise NotDifferentiableError(
            f"{self.kind} needs a function that returns a scalar, but {self.of.__name__} returns {shape}; "
            "use ad.vjp(f) for vector-Jacobian products or ad.jacobian(f)",
            primal.loc,
        )


def _tuple_seeds(b: Builder, out: Value, ct: Value) -> list[tuple[Value, Value]]:
    """A cotangent for each part of a tuple output (or the one output)."""
    op = out.op
    if isinstance(out.type, TupleT) and op is not None and op.name == "tuple":
        return [(part, b.tuple_get(ct, index=k)) for k, part in enumerate(op.operands)]
    return [(out, ct)]


def _derivative(kind: str, f, wrt, backend, checkpoint) -> Derivative:
    return Derivative(_as_transformed(f), kind, wrt, backend, checkpoint)


def grad(
    f: Callable | None = None,
    wrt: WrtSpec = 0,
    *,
    mode: str = "reverse",
    backend: str = "python",
    checkpoint: Any = "auto",
) -> Any:
    """The gradient of a scalar function with respect to ``wrt`` (an int, a name or a tuple)."""
    if f is None:  # used as @grad(wrt=...)
        return lambda g: grad(g, wrt, mode=mode, backend=backend, checkpoint=checkpoint)
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    if mode == "forward":
        from .forward_api import forward_grad

        return forward_grad(_as_transformed(f), wrt, backend)
    return _derivative("grad", f, wrt, backend, checkpoint)


def value_and_grad(f: Callable, wrt: WrtSpec = 0, *, backend: str = "python", checkpoint: Any = "auto") -> Derivative:
    """``(f(*args), grad(f)(*args))`` computed in one sweep."""
    return _derivative("value_and_grad", f, wrt, backend, checkpoint)


def vjp(f: Callable, wrt: WrtSpec = 0, *, backend: str = "python", checkpoint: Any = "auto") -> Derivative:
    """``g(*args, cotangent)``: the cotangent pulled back through ``f`` (any output shape)."""
    return _derivative("vjp", f, wrt, backend, checkpoint)


def jit(f: Callable | Transformed) -> Transformed:
    """``f`` compiled to machine code through LLVM (``jit(grad(f))`` compiles the gradient)."""
    if isinstance(f, Derivative):
        return Derivative(f.of, f.kind, _wrt_spec(f), "llvm", f.checkpoint)
    if isinstance(f, Transformed):
        raise ADError(f"jit of {f.__name__} is not supported; pass backend='llvm' to the transformation")
    return Primal(f, backend="llvm")


def _wrt_spec(d: Derivative) -> WrtSpec:
    return tuple(d.wrt) if d.many else d.wrt[0]


def stop_gradient(x: Any) -> Any:
    """Inside differentiated code: ``x`` as a constant (no derivative flows through it)."""
    return x


def checkpoint(fn: Callable) -> Callable:
    """Inside differentiated code: ``checkpoint(g)(...)`` recomputes ``g``'s body in the reverse
    sweep instead of storing its intermediates. Called directly, it is ``g``."""
    return fn
