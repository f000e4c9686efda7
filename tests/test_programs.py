"""Differential test of adcompiler on randomly generated programs: the test oracle.

Each test id is one generated program (``seed=N``, see :mod:`progen`). For each program
the gradient computed by adcompiler, w.r.t. each float argument in turn, w.r.t. all of
them at once (a tuple), and w.r.t. one of them by parameter name, is compared with
central finite differences (:mod:`finite_diff`); ``value_and_grad`` must return the
plain Python value; and the generated source (``ad.grad(f).source``), run on its own in
a fresh namespace, must give the same gradient.

Running::

    pytest tests/test_programs.py                       # 200 programs (CI)
    ADCOMPILER_PROGRAMS=5000 pytest tests/test_programs.py -q    # the long run
    ADCOMPILER_PROGRAMS=1000 ADCOMPILER_PROGRAM_SEED0=5000 pytest tests/test_programs.py
    ADCOMPILER_MODE_PROGRAMS=5000 ...   # other modes/backends on every program too
    ADCOMPILER_HIGHER_PROGRAMS=5000 ... # jvp, vjp and second derivatives on every program
    pytest tests/test_programs.py -k "seed=123]"         # one program, every mode
    cd tests && python -m progen 123                     # print program 123

Failure messages carry the seed, the sample arguments and the numbered source.

The same oracle checks other modes and backends through *hooks*: functions
``(f, wrt) -> gradient function`` in :data:`GRAD_MODES` (forward mode, the LLVM backend,
Revolve checkpointing) and ``f -> compiled primal`` for ``ad.jit``. They run on the
first quarter of the programs by default (``ADCOMPILER_MODE_PROGRAMS``), since LLVM
compilation is slow. Every mode must handle every generated program: none is skipped.
The LLVM hooks also check that a call leaves no native allocation behind but its results.

``test_jvp``, ``test_vjp`` and ``test_second_order`` check ``ad.jvp`` (along a random
tangent), ``ad.vjp`` (a random cotangent), ``ad.hessian`` and ``grad(grad(f))`` (also
through LLVM, on a quarter of them) on the first eighth of the programs by default
(``ADCOMPILER_HIGHER_PROGRAMS``); second derivatives against central differences of the
reverse gradient, and Hessians for symmetry.

``test_harness_*`` run the whole harness with a fake ``grad`` (4th-order finite
differences with another step, and a fake ``.source``): they check the oracle itself and
need no compiler (but the one for second derivatives, whose reference is the compiler's
gradient).
"""

from __future__ import annotations

import copy
import functools
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import progen
import pytest
from finite_diff import assert_grad_close, numerical_grad, numerical_jacobian, numerical_jvp
from progen import Program, ProgramConfig

import adcompiler as ad
from adcompiler.backends.llvm import live_allocations

N_PROGRAMS = int(os.environ.get("ADCOMPILER_PROGRAMS", "200"))
SEED0 = int(os.environ.get("ADCOMPILER_PROGRAM_SEED0", "0"))
SEEDS = [pytest.param(s, id=f"seed={s}") for s in range(SEED0, SEED0 + N_PROGRAMS)]
#: Programs for the other modes and backends (LLVM compiles are slow): a quarter by default.
N_MODE_PROGRAMS = int(os.environ.get("ADCOMPILER_MODE_PROGRAMS", str(max(1, N_PROGRAMS // 4))))
MODE_SEEDS = SEEDS[:N_MODE_PROGRAMS]
#: Programs for jvp, vjp and second derivatives (Hessians and grad of grad compile two
#: derivatives, each larger than the first): an eighth by default.
N_HIGHER_PROGRAMS = int(os.environ.get("ADCOMPILER_HIGHER_PROGRAMS", str(max(1, N_PROGRAMS // 8))))
HIGHER_SEEDS = SEEDS[:N_HIGHER_PROGRAMS]

#: Tolerances of the comparison with (2nd-order, eps**(1/3)-step) finite differences.
RTOL = 1e-5
#: Relative tolerance between two gradients computed by the compiler (exact math).
RTOL_SAME = 1e-10

Wrt = int | str | tuple[int, ...]
GradHook = Callable[[Callable[..., Any], Wrt], Callable[..., Any]]
#: ``(f, k) -> function of f's arguments`` giving the second derivative w.r.t. ``args[k]``.
SecondHook = Callable[[Callable[..., Any], int], Callable[..., Any]]


def atol_for(prog: Program, expected: Any) -> float:
    """Absolute tolerance: finite-difference noise scales with |f| and the gradient."""
    flat = [np.max(np.abs(e)) for e in (expected if isinstance(expected, tuple) else (expected,))]
    scale = max([1.0, abs(prog.value), *(float(x) for x in flat if np.size(x))])
    return 1e-7 * scale


def atol_second(grad: Any, expected: Any) -> float:
    """Absolute tolerance of a second derivative, checked against central differences of the
    reverse gradient ``grad`` (itself checked against differences of f).

    The same step and RTOL as for gradients: the reverse gradient is exact up to rounding,
    like f, so differencing it has the same rounding noise (~eps * |grad| / step, 4e-11
    relative) and truncation error (step**2 / 6 times a 4th derivative of f, 6e-12 times
    it) as differencing f; so the absolute part scales with |grad| and the result, as
    :func:`atol_for` scales with |f| and the gradient.
    """
    scale = max(1.0, float(np.max(np.abs(grad), initial=0.0)), float(np.max(np.abs(expected), initial=0.0)))
    return 1e-7 * scale


# ---- programs ---------------------------------------------------------------------------


@functools.cache
def program(seed: int, config: ProgramConfig = ProgramConfig()) -> Program:
    """The generated program for ``seed`` (cached: every mode tests the same program)."""
    return progen.generate(seed, config)


def wrt_choices(prog: Program) -> list[Wrt]:
    """Each float argument in turn, all of them as a tuple, and one by parameter name."""
    floats = list(prog.float_args)
    choices: list[Wrt] = [*floats]
    if len(floats) > 1:
        choices.append(tuple(floats))
    pick = random.Random(prog.seed).choice(floats)
    choices.append(prog.arg_names[pick])
    return choices


def wrt_index(prog: Program, wrt: Wrt) -> int | tuple[int, ...]:
    return prog.arg_names.index(wrt) if isinstance(wrt, str) else wrt


def expected_grad(prog: Program, fn: Callable[..., Any], wrt: Wrt) -> Any:
    return numerical_grad(fn, prog.args, wrt_index(prog, wrt))


def check_gradients(prog: Program, fn: Callable[..., Any], hook: GradHook, every_wrt: bool = True) -> None:
    """The oracle: ``hook(fn, wrt)(*args)`` matches finite differences.

    ``every_wrt``: for every choice of :func:`wrt_choices`; else only w.r.t. all float
    arguments at once (one compilation: for slow backends).
    """
    for wrt in wrt_choices(prog) if every_wrt else [tuple(prog.float_args)]:
        expected = expected_grad(prog, fn, wrt)
        got = hook(fn, wrt)(*prog.fresh_args())
        assert_grad_close(
            got,
            expected,
            RTOL,
            atol_for(prog, expected),
            context=f"wrt={wrt!r}\n{prog.describe()}",
        )


def check_value_and_grad(prog: Program, fn: Callable[..., Any], hook: GradHook) -> None:
    """``hook(fn, wrt)(*args)`` returns ``(f(*args), gradient)``."""
    for wrt in wrt_choices(prog)[-2:]:
        value, grad = hook(fn, wrt)(*prog.fresh_args())
        assert np.isclose(value, prog.value, rtol=1e-12, atol=1e-12), (
            f"value {value!r} != f(*args) = {prog.value!r}\n{prog.describe()}"
        )
        expected = expected_grad(prog, fn, wrt)
        assert_grad_close(
            grad,
            expected,
            RTOL,
            atol_for(prog, expected),
            context=f"value_and_grad, wrt={wrt!r}\n{prog.describe()}",
        )


def check_standalone_source(prog: Program, fn: Callable[..., Any], hook: GradHook) -> None:
    """``g.source`` run alone in a fresh namespace defines ``g.__name__``, same results."""
    for wrt in wrt_choices(prog)[-2:]:
        g = hook(fn, wrt)
        want = g(*prog.fresh_args())  # specialises g: .source shows the typed derivative
        source = g.source
        namespace: dict[str, Any] = {"__name__": f"standalone_{prog.module_name}"}
        exec(compile(source, f"<grad source of {prog.module_name}>", "exec"), namespace)  # noqa: S102
        name = g.__name__
        assert name in namespace, f"g.source does not define {name!r}\n{source}"
        got = namespace[name](*prog.fresh_args())
        assert_grad_close(
            got,
            want,
            RTOL_SAME,
            1e-12,
            context=f"standalone g.source, wrt={wrt!r}\n{source}\n{prog.describe()}",
        )


def check_primal(prog: Program, compiled: Callable[..., Any]) -> None:
    """A compiled primal returns the plain Python value."""
    value = compiled(*prog.fresh_args())
    assert np.isclose(value, prog.value, rtol=1e-12, atol=1e-12), (
        f"compiled value {value!r} != f(*args) = {prog.value!r}\n{prog.describe()}"
    )


def random_like(rng: np.random.Generator, x: Any) -> Any:
    """A random tangent for ``x``: entries uniform in [-1, 1], a float for a float."""
    v = rng.uniform(-1.0, 1.0, size=np.shape(x))
    return v if isinstance(x, np.ndarray) else float(v)


def check_jvp(prog: Program, fn: Callable[..., Any], hook: GradHook) -> None:
    """``hook(fn, wrt)(*args, tangent)`` is ``(f(*args), derivative along tangent)``, the
    derivative against central differences along the same (random) tangent."""
    rng = np.random.default_rng(prog.seed)
    for wrt in wrt_choices(prog):
        index = wrt_index(prog, wrt)
        indices = index if isinstance(index, tuple) else (index,)
        tangents = tuple(random_like(rng, prog.args[i]) for i in indices)
        tangent = tangents if isinstance(index, tuple) else tangents[0]
        value, got = hook(fn, wrt)(*prog.fresh_args(), tangent)
        assert np.isclose(value, prog.value, rtol=1e-12, atol=1e-12), (
            f"jvp value {value!r} != f(*args) = {prog.value!r}, wrt={wrt!r}\n{prog.describe()}"
        )
        # Differences along a tangent with entries in [-1, 1], no step longer than
        # numerical_grad's: one more gradient entry, of t -> f(x + t v), same tolerance.
        expected = numerical_jvp(fn, prog.args, indices, tangents)
        assert_grad_close(
            got,
            expected,
            RTOL,
            atol_for(prog, expected),
            context=f"jvp, wrt={wrt!r}, tangent={tangent!r}\n{prog.describe()}",
        )


def check_vjp(prog: Program, fn: Callable[..., Any], hook: GradHook) -> None:
    """``hook(fn, wrt)(*args, cotangent)`` is ``cotangent * gradient`` (the output is a float)."""
    rng = np.random.default_rng(prog.seed + 1)
    for wrt in wrt_choices(prog):
        cotangent = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.0))
        got = hook(fn, wrt)(*prog.fresh_args(), cotangent)
        grad = expected_grad(prog, fn, wrt)
        expected = tuple(cotangent * g for g in grad) if isinstance(grad, tuple) else cotangent * grad
        # Scaling by the cotangent scales the finite-difference error, hence the atol.
        assert_grad_close(
            got,
            expected,
            RTOL,
            abs(cotangent) * atol_for(prog, grad),
            context=f"vjp, wrt={wrt!r}, cotangent={cotangent!r}\n{prog.describe()}",
        )


def second_order_wrt(prog: Program, scalar_only: bool) -> int:
    """The argument to differentiate twice: a float argument (a float scalar if
    ``scalar_only``), picked by the seed."""
    floats = [i for i in prog.float_args if not (scalar_only and isinstance(prog.args[i], np.ndarray))]
    return random.Random(f"second/{prog.seed}").choice(floats)


def check_second_order(
    prog: Program, fn: Callable[..., Any], hook: SecondHook, k: int, reference: GradHook
) -> None:
    """``hook(fn, k)(*args)`` (the second derivative w.r.t. ``args[k]``) matches central
    differences of the gradient ``reference(fn, k)``; a Hessian is symmetric."""
    grad = reference(fn, k)
    expected = numerical_jacobian(grad, prog.args, k)
    got = hook(fn, k)(*prog.fresh_args())
    context = f"second derivative w.r.t. {prog.arg_names[k]!r}\n{prog.describe()}"
    assert_grad_close(got, expected, RTOL, atol_second(grad(*prog.fresh_args()), expected), context=context)
    if isinstance(prog.args[k], np.ndarray):
        # The same number by two rounding paths (d/dx_j of dF/dx_i and the other way):
        # rounding only, relative to the Hessian's scale.
        n = prog.args[k].size
        square = np.reshape(got, (n, n))
        scale = max(1.0, float(np.max(np.abs(square))))
        assert_grad_close(square, square.T, RTOL_SAME, RTOL_SAME * scale, context="symmetry, " + context)


# ---- hooks: one per mode/backend ---------------------------------------------------------


def reverse_python(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
    return ad.grad(f, wrt=wrt)


def value_and_grad_python(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
    return ad.value_and_grad(f, wrt=wrt)


def forward_python(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
    return ad.grad(f, wrt=wrt, mode="forward")


def leak_checked(compiled: Callable[..., Any]) -> Callable[..., Any]:
    """``compiled``, checking that each call leaves allocated nothing but what it returns."""

    def call(*args: Any) -> Any:
        before = live_allocations()
        out = compiled(*args)
        kept = copy.deepcopy(out)  # NumPy's own copies: dropping ``out`` frees the compiled arrays
        del out
        assert live_allocations() == before, f"{live_allocations() - before} native allocations leaked"
        return kept

    return call


def reverse_llvm(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
    return leak_checked(ad.grad(f, wrt=wrt, backend="llvm"))


def reverse_revolve(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
    return ad.grad(f, wrt=wrt, checkpoint=ad.Revolve(snapshots=2))


def primal_jit(f: Callable[..., Any]) -> Callable[..., Any]:
    return leak_checked(ad.jit(f))


def jvp_python(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
    return ad.jvp(f, wrt=wrt)


def vjp_python(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
    return ad.vjp(f, wrt=wrt)


def hessian_python(f: Callable[..., Any], k: int) -> Callable[..., Any]:
    return ad.hessian(f, wrt=k)


def grad_of_grad_python(f: Callable[..., Any], k: int) -> Callable[..., Any]:
    return ad.grad(ad.grad(f, wrt=k), wrt=k)


def grad_of_grad_llvm(f: Callable[..., Any], k: int) -> Callable[..., Any]:
    return leak_checked(ad.grad(ad.grad(f, wrt=k), wrt=k, backend="llvm"))


@dataclass(frozen=True)
class GradMode:
    """A way of computing gradients, checked against the same oracle."""

    name: str
    hook: GradHook
    #: The programs this mode must handle (restrict when a backend supports less).
    config: ProgramConfig = ProgramConfig()
    #: Check every wrt choice (else only all float arguments at once: one compilation).
    every_wrt: bool = True


GRAD_MODES = [
    GradMode("forward", forward_python),
    GradMode("llvm", reverse_llvm, every_wrt=False),
    GradMode("revolve", reverse_revolve, every_wrt=False),
]


@dataclass(frozen=True)
class SecondOrderMode:
    """A way of computing second derivatives w.r.t. one argument, checked the same way."""

    name: str
    hook: SecondHook
    #: Only w.r.t. float scalars (``grad`` of ``grad`` needs a scalar inner gradient).
    scalar_only: bool
    #: Run on the first 1/``share`` of the higher-order programs (LLVM compiles are slow).
    share: int = 1


SECOND_ORDER_MODES = [
    SecondOrderMode("hessian", hessian_python, scalar_only=False),
    SecondOrderMode("grad_of_grad", grad_of_grad_python, scalar_only=True),
    SecondOrderMode("grad_of_grad_llvm", grad_of_grad_llvm, scalar_only=True, share=4),
]
SECOND_ORDER_CASES = [
    pytest.param(seed.values[0], mode, id=f"{seed.id}-{mode.name}")
    for mode in SECOND_ORDER_MODES
    for seed in HIGHER_SEEDS[: max(1, len(HIGHER_SEEDS) // mode.share)]
]


# ---- the differential tests --------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_reverse_grad(seed: int, program_dir: Path) -> None:
    """``ad.grad(f, wrt=...)`` agrees with finite differences."""
    prog = program(seed)
    check_gradients(prog, prog.load(program_dir), reverse_python)


@pytest.mark.parametrize("seed", SEEDS)
def test_value_and_grad(seed: int, program_dir: Path) -> None:
    """``ad.value_and_grad`` returns the plain value and the right gradient."""
    prog = program(seed)
    check_value_and_grad(prog, prog.load(program_dir), value_and_grad_python)


@pytest.mark.parametrize("seed", SEEDS)
def test_standalone_source(seed: int, program_dir: Path) -> None:
    """``ad.grad(f).source`` runs on its own and gives the same gradient."""
    prog = program(seed)
    check_standalone_source(prog, prog.load(program_dir), reverse_python)


@pytest.mark.parametrize("mode", [pytest.param(m, id=m.name) for m in GRAD_MODES])
@pytest.mark.parametrize("seed", MODE_SEEDS)
def test_grad_modes(seed: int, mode: GradMode, program_dir: Path) -> None:
    """Forward mode, the LLVM backend and Revolve checkpointing against the oracle."""
    prog = program(seed, mode.config)
    check_gradients(prog, prog.load(program_dir), mode.hook, mode.every_wrt)


@pytest.mark.parametrize("seed", MODE_SEEDS)
def test_jit_primal(seed: int, program_dir: Path) -> None:
    """``ad.jit(f)`` computes the same value as plain Python."""
    prog = program(seed)
    check_primal(prog, primal_jit(prog.load(program_dir)))


@pytest.mark.parametrize("seed", HIGHER_SEEDS)
def test_jvp(seed: int, program_dir: Path) -> None:
    """``ad.jvp`` gives the value and the derivative along a random tangent."""
    prog = program(seed)
    check_jvp(prog, prog.load(program_dir), jvp_python)


@pytest.mark.parametrize("seed", HIGHER_SEEDS)
def test_vjp(seed: int, program_dir: Path) -> None:
    """``ad.vjp`` pulls a random cotangent of the (float) output back to the arguments."""
    prog = program(seed)
    check_vjp(prog, prog.load(program_dir), vjp_python)


@pytest.mark.parametrize(("seed", "mode"), SECOND_ORDER_CASES)
def test_second_order(seed: int, mode: SecondOrderMode, program_dir: Path) -> None:
    """Hessians and grad of grad against differences of the (FD-checked) reverse gradient."""
    prog = program(seed)
    k = second_order_wrt(prog, mode.scalar_only)
    check_second_order(prog, prog.load(program_dir), mode.hook, k, reverse_python)


# ---- self-tests of the harness (no compiler needed) --------------------------------------

HARNESS_SEEDS = [pytest.param(s, id=f"seed={s}") for s in range(SEED0, SEED0 + min(N_PROGRAMS, 60))]


class FakeGrad:
    """Stands in for ``ad.grad(f, wrt)``: 4th-order finite differences, another step.

    ``source`` is a standalone module (the program's source plus a finite-difference
    routine) defining a function named ``__name__``, like the real generated source.
    """

    def __init__(self, prog: Program, f: Callable[..., Any], wrt: Wrt) -> None:
        self.f, self.index = f, wrt_index(prog, wrt)
        self.__name__ = f"fake_grad_{prog.entry}"
        self.source = prog.source + _FAKE_SOURCE.format(name=self.__name__, entry=prog.entry, wrt=self.index)

    def __call__(self, *args: Any) -> Any:
        return numerical_grad(self.f, args, self.index, order=4, rel_step=1e-4)


_FAKE_SOURCE = """

def {name}(*args):
    import copy
    def one(i):
        x0 = args[i]
        base = np.array(x0, dtype=np.float64)
        out = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            xi = float(base[idx])
            h = 1e-4 * max(1.0, abs(xi))
            h = (xi + h) - xi
            total = 0.0
            for off, w in ((2.0, -1 / 12), (1.0, 8 / 12), (-1.0, -8 / 12), (-2.0, 1 / 12)):
                x = base.copy()
                x[idx] = xi + off * h
                call = [copy.deepcopy(a) for a in args]
                call[i] = x if isinstance(x0, np.ndarray) else float(x)
                total += w * float({entry}(*call))
            out[idx] = total / h
        return out if isinstance(x0, np.ndarray) else float(out)
    wrt = {wrt!r}
    return one(wrt) if isinstance(wrt, int) else tuple(one(i) for i in wrt)
"""


def _fake_hook(prog: Program) -> GradHook:
    return lambda f, wrt: FakeGrad(prog, f, wrt)


@pytest.mark.parametrize("seed", HARNESS_SEEDS)
def test_harness_with_fake_grad(seed: int, program_dir: Path) -> None:
    """The whole harness passes when ``grad`` is a (different) finite difference."""
    prog = program(seed)
    fn = prog.load(program_dir)
    hook = _fake_hook(prog)
    check_gradients(prog, fn, hook)
    check_standalone_source(prog, fn, hook)

    def value_and_fake_grad(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
        return lambda *args: (f(*args), hook(f, wrt)(*args))

    check_value_and_grad(prog, fn, value_and_fake_grad)

    def fake_jvp(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
        def g(*args: Any) -> tuple[float, float]:
            *primals, tangent = args
            grads = hook(f, wrt)(*primals)
            pairs = zip(grads, tangent, strict=True) if isinstance(wrt, tuple) else [(grads, tangent)]
            return f(*primals), float(sum(np.sum(gi * ti) for gi, ti in pairs))

        return g

    def fake_vjp(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
        def g(*args: Any) -> Any:
            *primals, cotangent = args
            grads = hook(f, wrt)(*primals)
            return tuple(cotangent * gi for gi in grads) if isinstance(grads, tuple) else cotangent * grads

        return g

    check_jvp(prog, fn, fake_jvp)
    check_vjp(prog, fn, fake_vjp)


def test_harness_catches_wrong_second_derivatives(program_dir: Path) -> None:
    """A Hessian off by 1e-3 in one entry fails, and so does one off by 1e-8 antisymmetrically
    (inside RTOL, but not symmetric); the true one passes. (The reference gradient is the
    compiler's: differences of a finite-difference gradient would be too noisy.)"""
    prog = next(p for p in map(program, range(50)) if any(isinstance(a, np.ndarray) for a in p.args))
    fn = prog.load(program_dir)
    k = next(i for i in prog.float_args if isinstance(prog.args[i], np.ndarray))
    n = prog.args[k].size

    def perturbed(change: np.ndarray) -> SecondHook:
        def hook(f: Callable[..., Any], k: int) -> Callable[..., Any]:
            hessian = ad.hessian(f, wrt=k)
            return lambda *args: hessian(*args) + change.reshape(np.shape(args[k]) * 2)

        return hook

    check_second_order(prog, fn, hessian_python, k, reverse_python)
    one_entry = np.zeros((n, n))
    one_entry[-1, 0] = 1e-3 * (1.0 + np.max(np.abs(ad.hessian(fn, wrt=k)(*prog.fresh_args()))))
    with pytest.raises(AssertionError, match="worst at index"):
        check_second_order(prog, fn, perturbed(one_entry), k, reverse_python)
    with pytest.raises(AssertionError, match="symmetry"):
        check_second_order(
            prog, fn, perturbed(1e-8 * (one_entry - one_entry.T) / one_entry[-1, 0]), k, reverse_python
        )


def test_harness_catches_a_wrong_gradient(program_dir: Path) -> None:
    """A gradient off by 1e-3 in one entry fails, and the message shows the program."""
    prog = next(
        p for p in map(program, range(50)) if any(isinstance(prog_arg, np.ndarray) for prog_arg in p.args)
    )
    fn = prog.load(program_dir)

    def wrong(f: Callable[..., Any], wrt: Wrt) -> Callable[..., Any]:
        def g(*args: Any) -> Any:
            grad = numerical_grad(f, args, wrt_index(prog, wrt))
            first = grad[0] if isinstance(grad, tuple) else grad
            if isinstance(first, np.ndarray):
                first.flat[-1] += 1e-3 * (1 + abs(first.flat[-1]))
                return grad
            return (
                (first + 1e-3 * (1 + abs(first)), *grad[1:])
                if isinstance(grad, tuple)
                else (first + 1e-3 * (1 + abs(first)))
            )

        return g

    with pytest.raises(AssertionError) as info:
        check_gradients(prog, fn, wrong)
    message = str(info.value)
    assert "worst at index" in message
    assert f"seed={prog.seed}" in message
    assert "def loss(" in message


def test_finite_diff_matches_analytic(rng: np.random.Generator) -> None:
    """``numerical_grad`` on functions with known gradients, scalars and arrays."""
    a = rng.normal(size=(3, 4))
    x = rng.normal(size=4)
    s = 0.7

    def f(s: float, x: np.ndarray, a: np.ndarray) -> float:
        return float(np.sin(s) * np.sum((a @ x) ** 2) + np.sum(np.exp(a)))

    gs, gx, ga = numerical_grad(f, (s, x, a), (0, 1, 2))
    assert isinstance(gs, float)
    y = a @ x
    assert_grad_close(gs, np.cos(s) * np.sum(y**2), 1e-7, 1e-9)
    assert_grad_close(gx, np.sin(s) * 2 * a.T @ y, 1e-7, 1e-9)
    assert_grad_close(ga, np.sin(s) * 2 * np.outer(y, x) + np.exp(a), 1e-7, 1e-9)
    g4 = numerical_grad(f, (s, x, a), 2, order=4)
    assert_grad_close(g4, ga, 1e-8, 1e-10)

    def grad_x(s: float, x: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.sin(s) * 2 * a.T @ (a @ x)

    assert_grad_close(numerical_jacobian(grad_x, (s, x, a), 1), np.sin(s) * 2 * a.T @ a, 1e-7, 1e-9)
    assert_grad_close(numerical_jacobian(grad_x, (s, x, a), 0), np.cos(s) * 2 * a.T @ y, 1e-7, 1e-9)
    assert isinstance(numerical_jacobian(lambda s, x, a: np.sin(s), (s, x, a), 0), float)
    v, w = rng.normal(size=4), 0.3
    assert_grad_close(numerical_jvp(f, (s, x, a), (1, 0), (v, w)), np.dot(gx, v) + gs * w, 1e-7, 1e-9)


def test_assert_grad_close_reports_worst_entry() -> None:
    expected = (1.0, np.array([[1.0, 2.0], [3.0, 4.0]]))
    got = (1.0, np.array([[1.0, 2.0], [3.1, 4.0]]))
    with pytest.raises(AssertionError, match=r"\[1\]: 1 of 4 entries differ; worst at index \(1, 0\)"):
        assert_grad_close(got, expected, rtol=1e-5, atol=0.0, context="ctx")
    with pytest.raises(AssertionError, match="shape"):
        assert_grad_close(np.zeros(3), np.zeros(4))
    with pytest.raises(AssertionError, match="non-finite"):
        assert_grad_close(np.array([1.0, np.nan]), np.ones(2))
    assert_grad_close((1.0, np.ones(2)), (1.0 + 1e-9, np.ones(2)), rtol=1e-6)
