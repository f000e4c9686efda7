"""Self-tests of the program generator: programs run, configs are honoured, coverage.

``ADCOMPILER_GENERATOR_PROGRAMS`` (default 1000) sets how many programs are run as
plain Python.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

from . import FEATURES, MarginError, Program, ProgramConfig, generate, instrument, programs
from .program import run_source

N_PLAIN = int(os.environ.get("ADCOMPILER_GENERATOR_PROGRAMS", "1000"))
CHUNK = 100


@functools.cache
def default_program(seed: int) -> Program:
    return generate(seed)


@pytest.mark.parametrize("start", range(0, N_PLAIN, CHUNK))
def test_programs_run_as_plain_python(start: int, tmp_path: Path) -> None:
    """Generated programs import from real files and return the recorded finite float."""
    for seed in range(start, min(start + CHUNK, N_PLAIN)):
        prog = default_program(seed)
        fn = prog.load(tmp_path)
        assert inspect.getsource(fn).startswith("def loss(")
        value = fn(*prog.fresh_args())
        assert isinstance(value, float) and math.isfinite(value), prog.describe()
        assert value == prog.value, prog.describe()
        lines = len(prog.source.splitlines())
        assert 5 <= lines <= 120, prog.describe()


def test_generation_is_deterministic() -> None:
    for seed in (0, 7, 123):
        a, b = generate(seed), generate(seed)
        assert a.source == b.source
        assert all(np.array_equal(x, y) for x, y in zip(a.args, b.args, strict=True))


@given(programs())
def test_hypothesis_strategy(prog: Program) -> None:
    value = run_source(prog.source, prog.fresh_args())
    assert value == prog.value


def test_margin_check_rejects_near_threshold() -> None:
    source = "import numpy as np\n\ndef loss(a):\n    if a > 0.3:\n        return a * a\n    return a\n"
    checked = instrument(source)
    from .check import RUNTIME

    assert run_source(checked, (0.9,), RUNTIME) == 0.81
    with pytest.raises(MarginError):
        run_source(checked, (0.3001,), RUNTIME)
    with pytest.raises(MarginError):
        run_source(instrument(source.replace("a > 0.3", "abs(a) > 5.0")), (1e-5,), RUNTIME)


# ---- feature switches ---------------------------------------------------------------------


def _nodes(prog: Program) -> list[ast.AST]:
    return list(ast.walk(ast.parse(prog.source)))


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        base = node.value
        return f"{base.id}.{node.attr}" if isinstance(base, ast.Name) else f".{node.attr}"
    return ""


def _uses(prog: Program, *names: str) -> bool:
    """Whether the source uses any of ``np.f``/``math.f``/``.method``/``name(`` in names."""
    for node in _nodes(prog):
        if _dotted(node) in names:
            return True
        if isinstance(node, ast.Attribute) and f".{node.attr}" in names:
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if f"{node.func.id}(" in names:
                return True
    return False


def _has(prog: Program, *types: type[ast.AST]) -> bool:
    return any(isinstance(n, types) for n in _nodes(prog))


def _funcs(prog: Program) -> list[ast.FunctionDef]:
    return [n for n in _nodes(prog) if isinstance(n, ast.FunctionDef)]


def _early_return(prog: Program) -> bool:
    return any(
        sum(isinstance(n, ast.Return) for n in ast.walk(f)) > 1 or not isinstance(f.body[-1], ast.Return)
        for f in _funcs(prog)
    )


def _nested_loop(prog: Program) -> bool:
    loops = [n for n in _nodes(prog) if isinstance(n, ast.For | ast.While)]
    return any(isinstance(m, ast.For | ast.While) and m is not n for n in loops for m in ast.walk(n))


def _helpers_call_helpers(prog: Program) -> bool:
    for f in _funcs(prog):
        if f.name.startswith("helper"):
            for n in ast.walk(f):
                if (
                    isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Name)
                    and n.func.id.startswith("helper")
                ):
                    return True
    return False


def _tuple_assign(prog: Program) -> bool:
    return any(
        isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Tuple) for n in _nodes(prog)
    ) or any(isinstance(n, ast.Return) and isinstance(n.value, ast.Tuple) for n in _nodes(prog))


#: For each feature with a syntactic footprint: does a program use it?
FOOTPRINTS: dict[str, Callable[[Program], bool]] = {
    "math_module": lambda p: any(_dotted(n).startswith("math.") for n in _nodes(p)),
    "arrays": lambda p: any(isinstance(a, np.ndarray) for a in p.args),
    "matrices": lambda p: any(isinstance(a, np.ndarray) and a.ndim == 2 for a in p.args),
    "reductions": lambda p: _uses(p, "np.sum", "np.mean", "np.prod", ".sum", ".mean"),
    "axis_reductions": lambda p: any(
        isinstance(n, ast.Call)
        and _dotted(n.func).split(".")[-1] in ("sum", "mean", "max", "min")
        and any(k.arg in ("axis", "keepdims") for k in n.keywords)
        for n in _nodes(p)
    ),
    "max_min_reductions": lambda p: _uses(p, "np.max", "np.min", ".max", ".min"),
    "matmul": lambda p: _has(p, ast.MatMult) or _uses(p, "np.dot", "np.matmul", "np.outer", ".dot", ".T"),
    "where": lambda p: _uses(p, "np.where", "np.maximum", "np.minimum", "np.clip", "np.abs"),
    "builtins_minmax_abs": lambda p: _uses(p, "min(", "max(", "abs("),
    "if_else": lambda p: _has(p, ast.If, ast.IfExp),
    "ternary": lambda p: _has(p, ast.IfExp),
    "bool_ops": lambda p: (
        _has(p, ast.BoolOp, ast.Not) or any(isinstance(n, ast.Compare) and len(n.ops) > 1 for n in _nodes(p))
    ),
    "for_loops": lambda p: _has(p, ast.For),
    "nested_loops": _nested_loop,
    "while_loops": lambda p: _has(p, ast.While),
    "for_over_array": lambda p: any(
        isinstance(n, ast.For) and not (isinstance(n.iter, ast.Call) and _uses_range(n.iter))
        for n in _nodes(p)
    ),
    "break_continue": lambda p: _has(p, ast.Break, ast.Continue),
    "early_return": _early_return,
    "slicing": lambda p: _has(p, ast.Slice),
    "array_writes": lambda p: any(
        isinstance(n, ast.Assign | ast.AugAssign)
        and isinstance(n.targets[0] if isinstance(n, ast.Assign) else n.target, ast.Subscript)
        for n in _nodes(p)
    ),
    "constructors": lambda p: _uses(
        p,
        "np.zeros",
        "np.ones",
        "np.full",
        "np.zeros_like",
        "np.ones_like",
        "np.arange",
        "np.eye",
        "np.copy",
        ".copy",
    ),
    "reshape_stack": lambda p: _uses(p, ".reshape", "np.transpose", "np.concatenate", "np.stack"),
    "helpers": lambda p: len(_funcs(p)) > 1,
    "nested_helpers": _helpers_call_helpers,
    "default_args": lambda p: any(f.args.defaults for f in _funcs(p)),
    "tuples": _tuple_assign,
    "aug_assign": lambda p: _has(p, ast.AugAssign),
    "int_param": lambda p: "n" in p.arg_names,
    "module_constants": lambda p: any(isinstance(n, ast.Assign) for n in ast.parse(p.source).body),
    "masks": lambda p: any(
        isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Compare) for n in _nodes(p)
    ),
    "misc_statements": lambda p: (
        _has(p, ast.Pass, ast.Assert) or any(ast.get_docstring(f) for f in _funcs(p))
    ),
}


def _uses_range(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id == "range"


def test_every_feature_has_a_footprint_or_is_semantic() -> None:
    semantic = {"scalar_math", "broadcasting", "indexing", "int_float_mix"}
    assert set(FOOTPRINTS) | semantic == set(FEATURES)


@pytest.mark.parametrize("feature", sorted(FOOTPRINTS))
def test_feature_appears_when_on(feature: str) -> None:
    """With every feature on, each feature shows up in some of the first 300 programs."""
    assert any(FOOTPRINTS[feature](default_program(seed)) for seed in range(300)), feature


@pytest.mark.parametrize("feature", FEATURES)
def test_feature_absent_when_off(feature: str, tmp_path: Path) -> None:
    """Switching a feature off removes it (and the programs still run)."""
    config = ProgramConfig().without(feature)
    for seed in range(40):
        prog = generate(seed, config)
        assert run_source(prog.source, prog.fresh_args()) == prog.value
        if feature in FOOTPRINTS:
            assert not FOOTPRINTS[feature](prog), f"{feature} used:\n{prog.describe()}"


@pytest.mark.parametrize(
    "config",
    [
        ProgramConfig.only(),
        ProgramConfig.only("scalar_math"),
        ProgramConfig.only("math_module", "if_else", "for_loops"),
        ProgramConfig.only("arrays", "broadcasting", "reductions"),
        ProgramConfig.scalar_only(),
        ProgramConfig.straight_line(),
        ProgramConfig().with_(max_statements=15, max_lines=40, max_nesting=4),
    ],
    ids=["nothing", "scalar", "scalar-control", "arrays", "scalar_only", "straight", "big"],
)
def test_restricted_configs(config: ProgramConfig) -> None:
    for seed in range(60):
        prog = generate(seed, config)
        assert run_source(prog.source, prog.fresh_args()) == prog.value
        for feature, used in FOOTPRINTS.items():
            if not config.enabled(feature):
                assert not used(prog), f"{feature} used:\n{prog.describe()}"
