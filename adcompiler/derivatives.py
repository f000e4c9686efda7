"""Transformed functions: the user's function and its derivatives, specialised per call signature.

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

from . import naming
from .ad.checkpoint import normalise as checkpoint_policy
from .ad.debug import insert_checks
from .ad.forward import ForwardAD
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

    def _shown_ir(self) -> Function:
        """The IR shown by ``.source``/``.ir``: the last signature called, else a generic one."""
        if self._last is not None:
            return self.typed_ir(self._last)
        try:
            return self.typed_ir(self._generic_types())
        except ADError as e:
            raise ADError(
                f"{self.__name__} cannot be shown before it knows its argument types ({e.message}); "
                "call it once, then read .source"
            ) from None

    @property
    def ir(self) -> str:
        """The IR text of the last specialisation called (or of a generic one, before any call)."""
        return str(self._shown_ir())

    @property
    def source(self) -> str:
        """Readable Python source of this function: a complete module defining ``__name__``."""
        from .backends.python import emit_module

        return emit_module(self._shown_ir(), docstring=self._docstring()).source

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

    def __reduce__(self):
        """Pickled by reference to the user's function and the transformation's parameters:
        the other process regenerates (or finds in its cache) the same code."""
        return (_rebuild, (type(self), self._args, self.backend))

    def graph(self, *args: Any, wrt: WrtSpec | None = None) -> str:
        """The computation at ``args`` as Graphviz DOT: forward values and adjoints per op."""
        from .graph import graph

        return graph(self.root if isinstance(self, Primal) else self, *args, wrt=wrt)

    def with_backend(self, backend: str) -> Transformed:
        """The same function compiled by another backend."""
        clone = copy.copy(self)
        Transformed.__init__(clone)
        clone.backend = backend
        return clone

    def __repr__(self) -> str:
        return f"<adcompiler {self.__name__}>"


def _rebuild(cls: type, args: tuple, backend: str) -> Transformed:
    made = cls(*args)
    made.backend = backend
    return made


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
        self._args = (pyfunc, backend)

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


def as_transformed(f: Callable | Transformed) -> Transformed:
    return f if isinstance(f, Transformed) else _primal(f)


@functools.cache
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

    def __init__(self, of: Transformed, kind: str, wrt: WrtSpec, backend: str, options: Options = Options()) -> None:
        super().__init__()
        self.of = of
        self.kind = kind  # "grad" | "value_and_grad" | "vjp"
        self._args = (of, kind, wrt, backend, options)
        self.root = of.root
        self.backend = backend
        self.options = options
        self.param_names = list(inspect.signature(self.root).parameters)
        self.wrt, self.many = _resolve_wrt(wrt, self.param_names, of.__name__)
        self._loop_plans: dict[tuple, list] = {}

    @property
    def __name__(self) -> str:
        return naming.derivative_function(self.kind, self.of.__name__)

    def plan(self, *args: Any, **kwargs: Any) -> MemoryPlan:
        """What the reverse sweep will keep in memory for these arguments, before running it:
        per loop, the strategy, the bytes stored and the iterations recomputed."""
        values = self._bind(args, kwargs)
        key = tuple(arg_types_of(values))
        self.typed_ir(key)
        primal_values = values[:-1] if self.kind == "vjp" else values
        primal = self.of.typed_ir(key[:-1] if self.kind == "vjp" else key)
        return MemoryPlan([_loop_report(p, primal, primal_values) for p in self._loop_plans.get(key, [])])

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
        if _has_tapes(primal):  # a derivative of loops: differentiate it in forward mode
            if self.kind == "vjp":
                raise NotDifferentiableError(
                    f"vjp of {self.of.__name__}, a reverse-mode derivative of loops, is not supported; "
                    "use ad.jvp, ad.jacobian(..., mode='forward') or ad.hessian",
                    primal.loc,
                )
            wrt = tuple(self.wrt) if self.many else self.wrt[0]
            return ForwardDerivative(self.of, self.kind, wrt, self.backend, self.options)._build_ir(arg_types)
        self._check_wrt(primal)
        out, aux = _split_aux(primal, self.options.has_aux)
        self._check_output(primal, out)
        cotangent_type = arg_types[-1] if self.kind == "vjp" else None
        ad = ReverseAD(primal, self.wrt, [out], checkpoint_policy(self.options.checkpoint))
        intermediates = [_local(primal, name) for name in self.options.intermediates]

        def seeds(b: Builder, fn: Function) -> list[tuple[Value, Value]]:
            if self.kind != "vjp":
                return [(out, b.const(1.0))]
            name = naming.adjoint(out.hint or "out")
            ct = fn.body.add_arg(Value(cotangent_type, name))
            fn.param_names.append(name)
            return _tuple_seeds(b, out, ct)

        def pack(b: Builder, value: Value, grads: list[Value]) -> Value:
            g = b.tuple(*grads) if self.many else grads[0]
            if aux is not None:
                loss, aux_value = b.tuple_get(value, index=0), b.tuple_get(value, index=1)
                result = b.tuple(b.tuple(loss, aux_value), g) if self.kind == "value_and_grad" else b.tuple(g, aux_value)
            else:
                result = b.tuple(value, g) if self.kind == "value_and_grad" else g
            if intermediates:
                bars = [ad.adjoint_or_zero(b, v) for v in intermediates]
                result = b.tuple(result, b.tuple(*bars))
            return result

        self._loop_plans[arg_types] = ad.loop_plans
        passes = [("reverse", lambda fn: ad.build(self.__name__, seeds, pack))]
        if self.options.debug:
            passes.append(("debug", lambda fn: insert_checks(fn, lambda k: "forward" if k < ad.forward_end else "reverse")))
        return self._run(primal, *passes, ("simplify", simplify))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = super().__call__(*args, **kwargs)
        if self.options.intermediates:  # the adjoints of named locals, by name
            result, bars = result
            return result, dict(zip(self.options.intermediates, bars))
        return result

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


@dataclass
class LoopReport:
    """One loop's share of a gradient's memory."""

    line: int | None
    strategy: str
    #: bytes saved per iteration (tapes) or per snapshot (Revolve)
    bytes_each: int | None
    iterations: int | None
    #: the estimated total, in bytes (None when the trip count depends on the data)
    total_bytes: int | None
    #: forward iterations run in all, per iteration of the loop (the plain sweep included)
    forward_sweeps: float | None
    text: str


@dataclass
class MemoryPlan:
    """``g.plan(*args)``: what a gradient stores, loop by loop."""

    loops: list[LoopReport]

    @property
    def total_bytes(self) -> int | None:
        totals = [r.total_bytes for r in self.loops]
        return None if None in totals else sum(totals)  # type: ignore[arg-type]

    def __str__(self) -> str:
        if not self.loops:
            return "no loops: the reverse sweep reads the forward sweep's values, nothing is taped"
        return "\n".join(r.text for r in self.loops)


def _nbytes(value: Any) -> int:
    return int(np.asarray(value).nbytes) if value is not None else 8


def _loop_report(plan: Any, primal: Function, args: list[Any]) -> LoopReport:
    from .ad.checkpoint import MemoryBudget, Revolve, optimal_advances
    from .ir.interp import evaluate

    op = plan.op
    iterations = None
    if op.name == "for":
        lo, hi, step = (evaluate(primal, v, args) for v in op.operands[:3])
        if None not in (lo, hi, step):
            iterations = len(range(int(lo), int(hi), int(step)))
    inits = op.operands[3:] if op.name == "for" else op.operands
    carried = op.regions[-1].args[(1 if op.name == "for" else 0):]
    sizes = {a: _nbytes(evaluate(primal, init, args)) for a, init in zip(carried, inits)}
    where = f"loop at line {plan.line}" if plan.line else "loop"
    count = f"{iterations:,} iterations" if iterations is not None else "a trip count known only when it runs"
    if plan.policy is None:
        each = sum(sizes[a] for a in plan.taped)
        total = None if iterations is None else each * iterations
        size = _human(total) if total is not None else f"{_human(each)} per iteration"
        text = f"{where}: {count}, tape {size}; the reverse sweep recomputes each iteration once (2 forward sweeps)"
        return LoopReport(plan.line, "tape", each, iterations, total, 2.0, text)
    each = sum(sizes.values())
    k = plan.policy.snapshots if isinstance(plan.policy, Revolve) else max(2, plan.policy.bytes // max(each, 1))
    total = k * each
    sweeps = None if iterations is None else 2.0 + optimal_advances(iterations, k) / max(iterations, 1)
    budget = f" (budget {_human(plan.policy.bytes)})" if isinstance(plan.policy, MemoryBudget) else ""
    rerun = f", {sweeps:.2f} forward sweeps" if sweeps is not None else ""
    text = f"{where}: {count}, Revolve with {k} snapshots of {_human(each)}: {_human(total)}{budget}{rerun}"
    return LoopReport(plan.line, "revolve", each, iterations, total, sweeps, text)


def _human(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _split_aux(primal: Function, has_aux: bool) -> tuple[Value, Value | None]:
    """The differentiated output and, with ``has_aux``, the auxiliary one."""
    out = primal.returns[0]
    if not has_aux:
        return out, None
    op = out.op
    if op is None or op.name != "tuple" or len(op.operands) != 2:
        raise NotDifferentiableError(
            f"with has_aux=True, {primal.name} must return a pair (value to differentiate, auxiliary data)",
            primal.loc,
        )
    return op.operands[0], op.operands[1]


def _local(primal: Function, name: str) -> Value:
    """The last top-level value bound to the user's variable ``name``."""
    for op in reversed(primal.body.ops):
        for r in op.results:
            if r.hint == name:
                return r
    raise NotDifferentiableError(
        f"{primal.name} has no variable {name!r} assigned outside loops and branches "
        "(intermediates must be top-level locals)",
        primal.loc,
    )


def _tuple_seeds(b: Builder, out: Value, ct: Value) -> list[tuple[Value, Value]]:
    """A cotangent for each part of a tuple output (or the one output)."""
    op = out.op
    if isinstance(out.type, TupleT) and op is not None and op.name == "tuple":
        return [(part, b.tuple_get(ct, index=k)) for k, part in enumerate(op.operands)]
    return [(out, ct)]




def _has_tapes(fn: Function) -> bool:
    return any(op.name in ("push", "pop") for op in fn.walk())


def _check_float_params(of: Transformed, primal: Function, wrt: list[int], names: list[str]) -> None:
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
class ForwardDerivative(Transformed):
    """Forward-mode derivatives: ``jvp``, forward-mode ``grad`` and forward ``jacobian``.

    ``grad`` and ``jacobian`` push one tangent per input entry in a single sweep (a batched
    tangent with a leading axis of n directions), not n sweeps.
    """

    def __init__(self, of: Transformed, kind: str, wrt: WrtSpec, backend: str, options: Options = Options()) -> None:
        super().__init__()
        self.of = of
        self.kind = kind  # "jvp" | "grad" | "value_and_grad" | "jacobian"
        self.options = options
        self._args = (of, kind, wrt, backend, options)
        self.root = of.root
        self.backend = backend
        self.param_names = list(inspect.signature(self.root).parameters)
        self.wrt, self.many = _resolve_wrt(wrt, self.param_names, of.__name__)

    @property
    def __name__(self) -> str:
        return naming.derivative_function(self.kind, self.of.__name__)

    def _n_extra_args(self) -> int:
        return 1 if self.kind == "jvp" else 0

    def _generic_types(self):
        inner = self.of._generic_types()
        return inner + ((UNKNOWN,) if self.kind == "jvp" else ())

    def _docstring(self) -> str:
        names = ", ".join(self.param_names[k] for k in self.wrt)
        what = {
            "jvp": "Jacobian-vector product",
            "grad": "Gradient (forward mode)",
            "value_and_grad": "Value and gradient (forward mode)",
            "jacobian": "Jacobian (forward mode)",
        }
        return f"{what[self.kind]} of {self.of.__name__} with respect to {names}. Generated by adcompiler."

    def _build_ir(self, arg_types):
        primal_types = arg_types[:-1] if self.kind == "jvp" else arg_types
        primal = self.of.typed_ir(primal_types)
        _check_float_params(self.of, primal, self.wrt, self.param_names)
        out = primal.returns[0]
        if self.kind in ("grad", "value_and_grad") and not (isinstance(out.type, Tensor) and out.type.rank in (0, None)):
            raise NotDifferentiableError(
                f"grad needs a function that returns a scalar, but {self.of.__name__} returns {out.type}; "
                "use ad.jacobian(f)",
                primal.loc,
            )
        if self.kind == "jvp":
            build = self._jvp(primal, arg_types[-1])
        else:
            build = self._batched(primal)
        passes = [("forward", build)]
        if self.options.debug:
            passes.append(("debug", lambda fn: insert_checks(fn, lambda k: "forward")))
        return self._run(primal, *passes, ("simplify", simplify))

    def _jvp(self, primal: Function, tangent_type: Type) -> Callable[[Function], Function]:
        def seeds(b: Builder, fn: Function, params: list[Value]) -> list[Value]:
            hint = "tangents" if self.many else naming.tangent(self.param_names[self.wrt[0]])
            t = fn.body.add_arg(Value(tangent_type, hint))
            fn.param_names.append(hint)
            if not self.many:
                return [t]
            return [b.tuple_get(t, index=k, hint=naming.tangent(self.param_names[w])) for k, w in enumerate(self.wrt)]

        return lambda fn: ForwardAD(fn, self.wrt).build(self.__name__, seeds, lambda b, v, t: b.tuple(v, t))

    def _batched(self, primal: Function) -> Callable[[Function], Function]:
        """One sweep with an identity basis of tangents: row i of the result is d out / d x_i."""
        spans: list[tuple[Value, Value, Value]] = []  # (offset, size, param) per wrt

        def seeds(b: Builder, fn: Function, params: list[Value]) -> list[Value]:
            offset = b.const(0)
            for k in self.wrt:
                p = params[k]
                size = b.const(1) if p.type.rank == 0 else b.size(p)
                spans.append((offset, size, p))
                offset = b.add(offset, size)
            total = offset
            basis = b.eye(total, hint="basis")
            tangents = []
            for off, size, p in spans:
                rows = basis
                if len(self.wrt) > 1:
                    rows = b.getitem(basis, off, b.add(off, size), index=(("slice", False, False, False),
                                                                         ("slice", True, True, False)))
                shape = b.tuple_cat(b.tuple(total), b.shape(p)) if p.type.rank else b.tuple(total)
                tangents.append(b.reshape(rows, shape, hint=naming.tangent(p.hint)))
            return tangents

        def pack(b: Builder, value: Value, tangent: Value) -> Value:
            parts = []
            for off, size, p in spans:
                block = tangent
                if len(self.wrt) > 1:
                    block = b.getitem(tangent, off, b.add(off, size), index=(("slice", True, True, False),))
                parts.append(self._arrange(b, block, value, p))
            grads = b.tuple(*parts) if self.many else parts[0]
            return b.tuple(value, grads) if self.kind == "value_and_grad" else grads

        return lambda fn: ForwardAD(fn, self.wrt, batched=True).build(self.__name__, seeds, pack)

    def _arrange(self, b: Builder, block: Value, value: Value, p: Value) -> Value:
        """Rows of derivatives (n, *out) as the answer: ``grad`` shaped like ``p``, the Jacobian
        shaped ``out.shape + p.shape``."""
        out_rank = value.type.rank
        if self.kind in ("grad", "value_and_grad") or out_rank == 0:
            if p.type.rank == 0:
                return b.getitem(block, b.const(0), index=(("idx",),), hint=naming.adjoint(p.hint))
            return b.reshape(block, b.shape(p), hint=naming.adjoint(p.hint))
        moved = b.transpose(block, axes=(*range(1, out_rank + 1), 0))
        if p.type.rank == 0:
            return b.reshape(moved, b.shape(value), hint="jacobian")
        return b.reshape(moved, b.tuple_cat(b.shape(value), b.shape(p)), hint="jacobian")


# ----------------------------------------------------------------------------- reverse jacobian
class ReverseJacobian(Transformed):
    """The Jacobian in reverse mode: one reverse sweep per output entry, sharing one forward
    sweep when the function has no loops (their tapes are consumed by each sweep)."""

    def __init__(self, of: Transformed, wrt: WrtSpec, backend: str) -> None:
        super().__init__()
        self.of = of
        self._args = (of, wrt, backend)
        self.root = of.root
        self.backend = backend
        self.param_names = list(inspect.signature(self.root).parameters)
        self.wrt, self.many = _resolve_wrt(wrt, self.param_names, of.__name__)

    @property
    def __name__(self) -> str:
        return naming.derivative_function("jacobian", self.of.__name__)

    def _generic_types(self):
        return self.of._generic_types()

    def _docstring(self) -> str:
        names = ", ".join(self.param_names[k] for k in self.wrt)
        return f"Jacobian (reverse mode) of {self.of.__name__} with respect to {names}. Generated by adcompiler."

    def _build_ir(self, arg_types):
        primal = self.of.typed_ir(arg_types)
        _check_float_params(self.of, primal, self.wrt, self.param_names)
        out = primal.returns[0]
        if not isinstance(out.type, Tensor) or out.type.rank is None:
            raise NotDifferentiableError(f"jacobian needs an array or scalar output, got {out.type}", primal.loc)
        return self._run(primal, ("reverse", self._rows), ("simplify", simplify))

    def _rows(self, primal: Function) -> Function:
        from .ir.clone import clone_into
        from .ir.core import Region

        out = primal.returns[0]
        ad = ReverseAD(primal, self.wrt)

        def seeds(b: Builder, fn: Function) -> list[tuple[Value, Value]]:
            ct = fn.body.add_arg(Value(out.type, naming.adjoint(out.hint or "out")))
            return [(out, ct)]

        vjp = ad.build("vjp", seeds, lambda b, value, grads: b.tuple(value, *grads))
        result = vjp.body.yields[0].op
        value_v, grads_v = result.operands[0], result.operands[1:]
        ct_param = vjp.params[-1]
        shared = 0 if _has_tapes(vjp) else ad.forward_end

        params = [Value(p.type, p.hint) for p in primal.params]
        fn = Function(self.__name__, Region(params), list(primal.param_names), primal.loc)
        b = Builder(fn.body)
        vmap: dict[Value, Value] = dict(zip(vjp.params, params))
        for op in vjp.body.ops[:shared]:
            new = clone_into(b, op, lambda v: vmap[v])
            vmap.update(zip(op.results, new.results))
        if shared:
            value = vmap[value_v]
        else:  # the value, from a plain forward sweep, for the output's shape
            pmap: dict[Value, Value] = dict(zip(primal.params, params))
            for op in primal.body.ops:
                new = clone_into(b, op, lambda v: pmap[v])
                pmap.update(zip(op.results, new.results))
            value = pmap[out]
        m = b.const(1) if out.type.rank == 0 else b.size(value)
        inits, sizes = [], []
        for k in self.wrt:
            p = params[k]
            size = b.const(1) if p.type.rank == 0 else b.size(p)
            sizes.append(size)
            inits.append(b.zeros(b.tuple(m, size), hint="jacobian"))
        body = Region([Value(Tensor("i64", 0), "row")] + [Value(v.type, "jacobian") for v in inits])
        bb = Builder(body, primal.loc)
        row = body.args[0]
        one_hot = bb.index_add(bb.zeros(m), bb.const(1.0), row, index=(("idx",),))
        ct = bb.getitem(one_hot, bb.const(0), index=(("idx",),)) if out.type.rank == 0 else bb.reshape(
            one_hot, bb.shape(value))
        ct.hint = naming.adjoint(out.hint or "out")
        inner = dict(vmap)
        inner[ct_param] = ct
        for op in vjp.body.ops[shared:]:
            new = clone_into(bb, op, lambda v: inner[v])
            inner.update(zip(op.results, new.results))
        body.yields = [
            bb.setitem(acc, bb.reshape(inner[g], bb.tuple(size)), row, index=(("idx",),), hint="jacobian")
            for acc, g, size in zip(body.args[1:], grads_v, sizes)
        ]
        rows = b.for_(b.const(0), m, b.const(1), inits, body, [v.type for v in inits], ["jacobian"] * len(inits))
        parts = []
        for J, k in zip(rows, self.wrt):
            p = params[k]
            shape = b.tuple_cat(b.shape(value), b.shape(p)) if out.type.rank else b.shape(p)
            if out.type.rank == 0 and p.type.rank == 0:
                parts.append(b.getitem(J, b.const(0), b.const(0), index=(("idx",), ("idx",))))
            else:
                parts.append(b.reshape(J, shape, hint="jacobian"))
        fn.body.yields = [b.tuple(*parts) if self.many else parts[0]]
        return fn
