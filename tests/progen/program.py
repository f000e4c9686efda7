"""Whole programs: signature, helpers, sample arguments, validation and loading.

``generate(seed, config)`` returns a :class:`Program`: the source text of a module with
an entry function ``loss`` (and the helpers it calls), sample arguments, and the value
of ``loss`` at them. The same ``(seed, config)`` always gives the same program. A
candidate whose sample point is too close to a branch threshold or kink, or whose value
is too large, is rejected and the next attempt (a sub-seed) is tried; the attempt number
is part of the program's description.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import check
from .config import ProgramConfig
from .context import Ctx, HelperSig
from .scope import Kind, Scope, Var
from .stmts import FuncGen
from .text import indent

#: Attempts per seed before giving up (each attempt is a different candidate program).
MAX_ATTEMPTS = 200
#: Largest accepted |loss| at the sample point.
MAX_VALUE = 1e6
#: Upper bound of the int parameter ``n`` (its sample value is in 1..N_MAX).
N_MAX = 4
#: Bound on float argument entries.
ARG_BOUND = 1.5

ENTRY = "loss"


class GeneratorError(Exception):
    """The generator produced a program that does not run (a bug in the generator)."""


@dataclass(frozen=True)
class Program:
    """A generated program with sample arguments."""

    seed: int
    attempt: int
    config: ProgramConfig
    source: str
    arg_names: tuple[str, ...]
    #: Sample arguments, in parameter order (floats, float64 arrays, and maybe an int).
    args: tuple[Any, ...]
    #: Value of the entry function at ``args`` (plain Python run).
    value: float
    entry: str = ENTRY
    rejected: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def float_args(self) -> tuple[int, ...]:
        """Indices of the differentiable arguments (float scalars and float arrays)."""
        return tuple(i for i, a in enumerate(self.args) if isinstance(a, float | np.ndarray))

    @property
    def module_name(self) -> str:
        digest = hashlib.sha1(self.source.encode()).hexdigest()[:10]
        return f"progen_s{self.seed}_a{self.attempt}_{digest}"

    def fresh_args(self) -> tuple[Any, ...]:
        """A deep copy of the sample arguments (callees may not mutate ours)."""
        return copy.deepcopy(self.args)

    def write(self, directory: Path | str) -> Path:
        """Write the module into ``directory`` and return its path."""
        path = Path(directory) / f"{self.module_name}.py"
        if not path.exists():
            path.write_text(self.source)
        return path

    def load(self, directory: Path | str) -> Callable[..., Any]:
        """Write the module into ``directory``, import it, return the entry function.

        The module lives in a real file, so ``inspect.getsource`` works on its functions.
        """
        name = self.module_name
        if name in sys.modules:
            return getattr(sys.modules[name], self.entry)
        path = self.write(directory)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return getattr(module, self.entry)

    def describe(self) -> str:
        """Seed, config, sample arguments and numbered source: for failure messages."""
        args = ", ".join(
            f"{n}={f'np.array({a.tolist()!r})' if isinstance(a, np.ndarray) else repr(a)}"
            for n, a in zip(self.arg_names, self.args, strict=True)
        )
        numbered = "\n".join(f"{i + 1:3d}  {line}" for i, line in enumerate(self.source.splitlines()))
        return (
            f"generated program seed={self.seed} (attempt {self.attempt})\n"
            f"reproduce: progen.generate({self.seed}, {self.config!r})\n"
            f"args: {args}\nvalue: {self.value!r}\n{numbered}"
        )


def generate(seed: int, config: ProgramConfig | None = None, smooth: bool = True) -> Program:
    """The program for ``seed`` under ``config`` (deterministic).

    With ``smooth`` (the default), candidates at whose sample point finite differences
    are unreliable are rejected too (this costs a finite-difference gradient).
    """
    config = config or ProgramConfig()
    rejected: dict[str, int] = {}
    for attempt in range(MAX_ATTEMPTS):
        rng = random.Random(f"progen/{seed}/{attempt}")
        source, names, args = build(rng, config, seed, attempt)
        reason, value = validate(source, args, smooth)
        if reason is None:
            return Program(seed, attempt, config, source, names, args, value, rejected=rejected)
        rejected[reason] = rejected.get(reason, 0) + 1
    raise GeneratorError(f"seed {seed}: no valid program in {MAX_ATTEMPTS} attempts: {rejected}")


def validate(source: str, args: tuple[Any, ...], smooth: bool = True) -> tuple[str | None, float]:
    """Run ``source`` instrumented and plain; a rejection reason or None, and the value.

    Margin violations, oversized values and (with ``smooth``) points where finite
    differences are unreliable are rejections; any other error means the generator
    wrote a broken program and raises :class:`GeneratorError`.
    """
    plain = run_source(source, copy.deepcopy(args))
    try:
        checked = run_source(check.instrument(source), copy.deepcopy(args), check.RUNTIME)
    except check.MarginError:
        return "margin", math.nan
    except Exception as exc:  # noqa: BLE001 -- reported with the source
        raise GeneratorError(f"instrumented run failed: {exc!r}\n{source}") from exc
    if not isinstance(plain, float):
        raise GeneratorError(f"loss returned {type(plain).__name__}, not float\n{source}")
    if not math.isfinite(plain) or abs(plain) > MAX_VALUE:
        return "value", math.nan
    if checked != plain:
        raise GeneratorError(f"instrumented value {checked} != plain {plain}\n{source}")
    if smooth and not _smooth_at(source, args, plain):
        return "not smooth", math.nan
    return None, float(plain)


#: Gradients larger than this (relative to max(1, |value|)) are rejected.
MAX_GRAD = 1e4
#: Two finite-difference schemes must agree this well (relative to the gradient scale).
SMOOTH_RTOL = 1e-6


def _smooth_at(source: str, args: tuple[Any, ...], value: float) -> bool:
    """Whether finite differences are trustworthy at ``args``.

    Compares the 2nd-order gradient (step ~6e-6) with the 4th-order one at a much larger
    step (1e-3): they disagree near a kink or branch threshold within ~2e-3 of the
    sample point, and where the function is so curved (e.g. a chaotic loop) that finite
    differences cannot serve as an oracle. Huge gradients are rejected too.
    """
    numerical_grad = _finite_diff().numerical_grad
    namespace: dict[str, Any] = {"__name__": "progen_smooth"}
    exec(compile(source, "<progen>", "exec"), namespace)  # noqa: S102
    fn = namespace[ENTRY]
    wrt = [i for i, a in enumerate(args) if isinstance(a, float | np.ndarray)]
    fine = numerical_grad(fn, args, wrt)
    coarse = numerical_grad(fn, args, wrt, order=4, rel_step=1e-3)
    scale = max(1.0, abs(value), *(float(np.max(np.abs(g))) for g in fine if np.size(g)))
    if scale > MAX_GRAD * max(1.0, abs(value)):
        return False
    return all(
        float(np.max(np.abs(np.asarray(f) - np.asarray(c)), initial=0.0)) <= SMOOTH_RTOL * scale
        for f, c in zip(fine, coarse, strict=True)
    )


def _finite_diff() -> Any:
    """The ``finite_diff`` module next to this package (tests/finite_diff.py)."""
    tests_dir = str(Path(__file__).resolve().parents[1])
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    return importlib.import_module("finite_diff")


def run_source(source: str, args: tuple[Any, ...], extra: dict[str, Any] | None = None) -> Any:
    """Execute module ``source`` in a fresh namespace and call its entry on ``args``."""
    namespace: dict[str, Any] = {"__name__": "progen_check", **(extra or {})}
    try:
        exec(compile(source, "<progen>", "exec"), namespace)  # noqa: S102
        before = copy.deepcopy(args)
        with np.errstate(all="raise"):
            value = namespace[ENTRY](*args)
    except check.MarginError:
        raise
    except Exception as exc:
        raise GeneratorError(f"program raised {exc!r}\n{source}") from exc
    for a, b in zip(args, before, strict=True):
        if isinstance(a, np.ndarray) and not np.array_equal(a, b):
            raise GeneratorError(f"program mutated an argument\n{source}")
    return value


# ---- building ---------------------------------------------------------------------------


def build(
    rng: random.Random, config: ProgramConfig, seed: int = 0, attempt: int = 0
) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
    """A candidate program: its source, parameter names and sample arguments."""
    ctx = Ctx(rng, config, rows=rng.randint(2, 3), cols=rng.randint(2, 4), n_max=N_MAX)
    params = _main_params(ctx)
    if ctx.on("module_constants") and ctx.coin(0.5):
        for name in rng.sample(["SCALE", "OFFSET", "DECAY"], rng.randint(1, 2)):
            ctx.constants[name] = round(rng.uniform(-1.0, 1.0), 2)
    main_kinds = {k for _, k in params}
    main_avail = _avail(main_kinds, ctx)

    helper_defs: list[str] = []
    if ctx.on("helpers") and ctx.coin(0.6):
        for h in range(rng.randint(1, config.max_helpers)):
            text, sig = _helper(ctx, f"helper{h}", main_avail)
            helper_defs.append(text)
            ctx.helpers.append(sig)

    scope = Scope()
    for name, kind in params:
        if kind is Kind.I:
            scope.vars[name] = Var(name, kind, N_MAX, lo=1, hi=N_MAX + 1)
        else:
            scope.vars[name] = Var(name, kind, ARG_BOUND)
    signature = [name for name, _ in params]
    if ctx.on("default_args") and ctx.coin(0.25):
        scope.vars["gamma"] = Var("gamma", Kind.F, 0.5)
        signature.append("gamma=0.5")
    gen = FuncGen(ctx, frozenset(main_avail), (Kind.F,), list(ctx.helpers))
    body = gen.body(scope)

    lines = [
        f"# Generated by tests/progen: seed={seed}, attempt={attempt}.",
        "import math",
        "",
        "import numpy as np",
        "",
    ]
    lines += [f"{name} = {value!r}" for name, value in ctx.constants.items()]
    for text in helper_defs:
        lines += ["", "", text]
    lines += ["", "", f"def {ENTRY}({', '.join(signature)}):", *indent(body)]
    source = "\n".join(lines).replace("\n\n\n\n", "\n\n\n").lstrip("\n") + "\n"
    args = tuple(_sample(ctx, kind) for _, kind in params)
    return source, tuple(name for name, _ in params), args


def _main_params(ctx: Ctx) -> list[tuple[str, Kind]]:
    rng = ctx.rng
    params: list[tuple[str, Kind]] = [(name, Kind.F) for name in ["a", "b", "c"][: rng.randint(1, 3)]]
    if ctx.on("arrays"):
        params += [(name, Kind.V) for name in ["x", "y"][: rng.randint(1, 2)]]
        if ctx.on("matrices") and ctx.coin(0.7):
            params += [(name, Kind.M) for name in ["A", "B"][: rng.choice([1, 1, 2])]]
        if ctx.coin(0.35):
            params.append(("z", Kind.W))
    rng.shuffle(params)
    if ctx.on("int_param") and ctx.coin(0.4):
        params.insert(rng.randint(0, len(params)), ("n", Kind.I))
    return params


def _avail(kinds: set[Kind], ctx: Ctx) -> set[Kind]:
    """The kinds a function can build from parameters of ``kinds``."""
    avail = set(kinds) | {Kind.F}
    avail.discard(Kind.I)
    if Kind.M in avail:
        if ctx.on("axis_reductions") or ctx.on("indexing") and ctx.on("slicing"):
            avail |= {Kind.V, Kind.W}
        elif ctx.on("indexing"):
            avail.add(Kind.V)
            if ctx.on("matmul"):
                avail.add(Kind.W)
        elif ctx.on("matmul"):
            if Kind.V in avail:
                avail.add(Kind.W)
            elif Kind.W in avail:
                avail.add(Kind.V)
    return avail


def _helper(ctx: Ctx, name: str, main_avail: set[Kind]) -> tuple[str, HelperSig]:
    """A helper function definition (source text) and its signature."""
    rng, cfg = ctx.rng, ctx.cfg
    kinds = sorted(main_avail, key=lambda k: k.value)
    weights = [3.0 if k is Kind.F else 1.0 for k in kinds]
    param_kinds = rng.choices(kinds, weights=weights, k=rng.randint(1, 3))
    params = tuple((f"p{i}", k) for i, k in enumerate(param_kinds))
    defaults = (("scale", 0.5),) if ctx.on("default_args") and ctx.coin(0.4) else ()
    avail = _avail(set(param_kinds), ctx)
    ret_kinds = sorted(avail, key=lambda k: k.value)
    returns: tuple[Kind, ...] = (
        rng.choices(ret_kinds, weights=[4.0 if k is Kind.F else 1.0 for k in ret_kinds])[0],
    )
    if ctx.on("tuples") and ctx.coin(0.3):
        returns = (returns[0], rng.choice(ret_kinds))
    visible = list(ctx.helpers) if ctx.on("nested_helpers") else []
    saved = ctx.helpers
    ctx.helpers = visible
    scope = Scope()
    sig_proto = HelperSig(name, params, defaults, returns, ())
    for pname, kind in params:
        scope.vars[pname] = Var(pname, kind, sig_proto.param_bound)
    for pname, _ in defaults:
        scope.vars[pname] = Var(pname, Kind.F, 1.0)
    small = cfg.with_(
        min_statements=1,
        max_statements=max(1, cfg.max_statements // 2),
        max_nesting=min(2, cfg.max_nesting),
        max_lines=max(4, cfg.max_lines // 3),
    )
    ctx.cfg = small
    gen = FuncGen(ctx, frozenset(avail), returns, visible)
    gen.protect = {p for p, k in params if k.is_array}
    body = gen.body(scope)
    ctx.cfg, ctx.helpers = cfg, saved
    plist = [p for p, _ in params] + [f"{p}={v!r}" for p, v in defaults]
    text = "\n".join([f"def {name}({', '.join(plist)}):", *indent(body)])
    sig = HelperSig(name, params, defaults, returns, tuple(gen.return_bounds))
    return text, sig


def _sample(ctx: Ctx, kind: Kind) -> Any:
    rng = ctx.rng
    if kind is Kind.I:
        return rng.randint(1, N_MAX)
    if kind is Kind.F:
        return rng.uniform(-ARG_BOUND, ARG_BOUND)
    shape = {Kind.V: (ctx.cols,), Kind.W: (ctx.rows,), Kind.M: (ctx.rows, ctx.cols)}[kind]
    size = int(np.prod(shape))
    return np.array([rng.uniform(-1.0, 1.0) for _ in range(size)]).reshape(shape)
