"""The command line: see a derivative, check it and draw it without writing code.

    adcompiler show  model.py:loss --args "np.ones(3), 2.0"        # the generated gradient
    adcompiler check model.py:loss --args "np.ones(3), 2.0"        # against finite differences
    adcompiler graph model.py:loss --args "2.0, 3.0, 1.0" -o g.svg  # forward values and adjoints

The user's file is imported as a module (its folder on ``sys.path``, so its own imports work)
and ``FUNC`` looked up in it. Derivatives are specialised to argument types, so ``--args`` gives
example arguments: a Python expression list evaluated with ``np`` (NumPy), ``math`` and the
module's own globals in scope.

Every failure the user can cause (a wrong path, a missing function, bad ``--args``, an
:class:`~adcompiler.errors.ADError`) ends in a one-line message on stderr (plus the source
location lines of an ADError) and exit status 2; never a Python traceback (``--traceback``
shows one, for bug reports). ``check`` exits 1 when a gradient is wrong.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import __version__
from .api import grad
from .check import GradCheckError, check_grad, numerical_grad
from .errors import ADError
from .graph import graph
from .transforms import Transformed

#: what `check` prints at most per argument (the entries with the largest errors)
_MAX_ROWS = 20
_GRAPHVIZ_FORMATS = (".svg", ".png", ".pdf")

EXAMPLES = """\
examples:
  adcompiler show model.py:loss                        generic gradient source (when types allow)
  adcompiler show model.py:loss --args "np.ones(3), X, y"   specialised to these arguments
  adcompiler show model.py:loss --args "w0, X, y" --wrt w --wrt b --mode forward
  adcompiler show model.py:loss --args "w0, X, y" --ir         the SSA IR of the gradient
  adcompiler show model.py:loss --args "w0, X, y" --llvm-ir    the LLVM IR (LLVM backend)
  adcompiler check model.py:loss --args "np.linspace(0, 1, 4), 2.0"
  adcompiler graph seed.py:loss --args "2.0, 3.0, 1.0" -o loss.svg
  adcompiler graph seed.py:loss --args "2.0, 3.0, 1.0"          DOT text on stdout

--args is a Python expression list, evaluated with np (NumPy), math and the globals of
FILE.py in scope: module-level data can be passed by name.
"""


class CLIError(Exception):
    """A mistake in the command (path, function, arguments): reported in one line, exit 2."""


# ----------------------------------------------------------------------------- loading
def load_target(target: str) -> tuple[Any, ModuleType]:
    """``FILE.py:FUNC`` → (the object named FUNC in FILE.py, the module)."""
    path_text, sep, name = target.rpartition(":")
    if not sep or not path_text or not name:
        raise CLIError(f"expected FILE.py:FUNC, got {target!r}")
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise CLIError(f"no such file: {path_text}")
    module = _import_file(path)
    if not hasattr(module, name):
        functions = sorted(
            k for k, v in vars(module).items() if inspect.isfunction(v) and v.__module__ == module.__name__
        )
        listing = f" (functions defined there: {', '.join(functions)})" if functions else ""
        raise CLIError(f"{path_text} has no function {name!r}{listing}")
    obj = getattr(module, name)
    if not callable(obj):
        raise CLIError(f"{path_text}:{name} is a {type(obj).__name__}, not a function")
    return obj, module


def _import_file(path: Path) -> ModuleType:
    """Import ``path`` as a module named after it, so that ``inspect.getsource`` (which the
    compiler reads functions with) and the file's own imports work as in a script."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem if path.stem not in sys.modules else f"_adcompiler_cli_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CLIError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise CLIError(f"cannot import {path}: syntax error at line {e.lineno}: {e.msg}") from None
    except Exception as e:  # the user's module failed at import time: say what and where
        raise CLIError(f"cannot import {path}: {type(e).__name__}: {e}") from None
    return module


def evaluate_args(text: str, module: ModuleType) -> list[Any]:
    """The example arguments: ``text`` as the items of a Python list."""
    namespace = {**vars(module), "np": np, "numpy": np, "math": math}
    try:
        values = eval(f"[{text}\n]", namespace)  # noqa: S307 - the user's own command line
    except Exception as e:
        raise CLIError(f"cannot evaluate --args {text!r}: {type(e).__name__}: {e}") from None
    return values


def parse_wrt(items: Sequence[str] | None) -> int | str | tuple[int | str, ...]:
    """``--wrt`` values: parameter names or positions; several make a tuple."""
    if not items:
        return 0
    parsed = tuple(int(w) if w.lstrip("-").isdigit() else w for w in items)
    return parsed if len(parsed) > 1 else parsed[0]


def _plain(obj: Any) -> Callable:
    """The user's own function (a function already decorated with ``@ad.grad`` gives its root)."""
    return obj.root if isinstance(obj, Transformed) else obj


def _run(what: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; errors of the user's code (or shapes) become one-line messages."""
    try:
        return fn(*args, **kwargs)
    except ADError:
        raise
    except Exception as e:
        raise CLIError(f"{what} raised {type(e).__name__}: {e}") from None


# ----------------------------------------------------------------------------- show
def cmd_show(ns: argparse.Namespace) -> int:
    obj, module = load_target(ns.target)
    backend = "llvm" if ns.llvm_ir else ns.backend
    if isinstance(obj, Transformed):  # already a derivative (@ad.grad): show it as it is
        if ns.wrt or ns.mode:
            raise CLIError(
                f"{ns.target} is already transformed ({obj!r}); --wrt and --mode apply to plain functions"
            )
        g = obj.with_backend(backend) if backend != obj.backend else obj
    else:
        g = grad(obj, parse_wrt(ns.wrt), mode=ns.mode or "reverse", backend=backend)
    if ns.args is not None:
        args = evaluate_args(ns.args, module)
        _run(f"{g.__name__}({ns.args})", g, *args)  # specialises to these argument types
    try:
        text = g.llvm_ir if ns.llvm_ir else g.ir if ns.ir else g.source
    except ADError as e:
        if ns.args is not None:
            raise
        raise CLIError(
            f"{g.__name__} depends on the argument types: pass example arguments with --args, "
            f'e.g. --args "np.ones(3), 2.0" (why: {e.message.splitlines()[0]})'
        ) from None
    print(text.rstrip("\n"))
    return 0


# ----------------------------------------------------------------------------- check
def _positions(fn: Callable, wrt: int | str | tuple[int | str, ...]) -> list[int]:
    names = list(inspect.signature(fn).parameters)
    out = []
    for w in wrt if isinstance(wrt, tuple) else (wrt,):
        if isinstance(w, str):
            if w not in names:
                raise CLIError(f"{fn.__name__} has no parameter {w!r} (parameters: {', '.join(names)})")
            out.append(names.index(w))
        elif -len(names) <= w < len(names):
            out.append(w % len(names))
        else:
            raise CLIError(f"{fn.__name__} has {len(names)} parameters; --wrt {w} is out of range")
    return out


def _table(
    name: str, got: dict[str, np.ndarray], expected: np.ndarray, rtol: float, atol: float
) -> list[str]:
    """One row per entry: index, each mode's value, finite differences, relative error, status."""
    modes = list(got)
    diff = np.max([np.abs(g - expected) for g in got.values()], axis=0)
    bad = diff > atol + rtol * np.abs(expected)
    # relative to the larger of the two; below atol both are "zero" and the absolute error says more
    scale = np.maximum(np.abs(expected), np.max([np.abs(g) for g in got.values()], axis=0))
    relative = scale > atol
    rel = np.where(relative, diff / np.where(relative, scale, 1.0), diff)
    indices = list(np.ndindex(expected.shape))
    shown = indices
    if len(indices) > _MAX_ROWS:  # the entries that matter: the largest errors, in index order
        order = np.argsort(-(diff / (atol + rtol * np.abs(expected))).ravel(), kind="stable")[:_MAX_ROWS]
        shown = [indices[k] for k in sorted(order)]
    header = ["index"] + [f"adcompiler ({m})" for m in modes] + ["finite diff.", "rel. error", ""]
    rows = [
        [str(idx) if idx else "-"]
        + [f"{float(got[m][idx]):.9g}" for m in modes]
        + [
            f"{float(expected[idx]):.9g}",
            f"{float(rel[idx]):.2e}" + ("" if relative[idx] else " (abs)"),
            "FAIL" if bad[idx] else "ok",
        ]
        for idx in shown
    ]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    lines = [f"d {name}:"] + [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [header, *rows]
    ]
    if len(shown) < len(indices):
        lines.append(f"  ({len(shown)} entries with the largest errors shown, of {len(indices)})")
    return lines


def cmd_check(ns: argparse.Namespace) -> int:
    obj, module = load_target(ns.target)
    fn = _plain(obj)
    args = evaluate_args(ns.args, module)
    names = list(inspect.signature(fn).parameters)
    positions = _positions(fn, parse_wrt(ns.wrt))
    modes = [ns.mode] if ns.mode else ["reverse", "forward"]
    working: list[str] = []
    skipped: dict[str, ADError] = {}
    for k in positions:
        expected = np.asarray(_run(f"{fn.__name__}({ns.args})", numerical_grad, fn, args, k), dtype=float)
        got: dict[str, np.ndarray] = {}
        for mode in modes:
            if mode in skipped:
                continue
            try:
                value = _run(f"the {mode}-mode gradient", grad(fn, wrt=k, mode=mode), *args)
            except ADError as e:  # e.g. forward mode of a custom_vjp rule: check the other mode
                skipped[mode] = e
                continue
            got[mode] = np.asarray(value, dtype=float)
            if got[mode].shape != expected.shape:
                raise CLIError(f"{mode}-mode gradient has shape {got[mode].shape}, expected {expected.shape}")
        if not got:
            break
        print("\n".join(_table(f"{fn.__name__} / d {names[k]}", got, expected, ns.rtol, ns.atol)))
        working = list(got)
    if not working:  # no mode can differentiate it: the reason, with its source location
        raise next(iter(skipped.values()))
    for mode, error in skipped.items():
        print(f"{mode} mode not checked: {error.message.splitlines()[0]}")
    try:
        check_grad(fn, *args, wrt=positions, modes=working, rtol=ns.rtol, atol=ns.atol)
    except GradCheckError as e:
        print(f"FAIL: {e}")
        return 1
    print(
        f"OK: {' and '.join(working)} mode{'s agree' if len(working) > 1 else ' agrees'} with finite "
        f"differences (rtol={ns.rtol:g}, atol={ns.atol:g})"
    )
    return 0


# ----------------------------------------------------------------------------- graph
def cmd_graph(ns: argparse.Namespace) -> int:
    obj, module = load_target(ns.target)
    fn = _plain(obj)
    args = evaluate_args(ns.args, module)
    wrt = parse_wrt(ns.wrt) if ns.wrt else None
    text = _run(f"{fn.__name__}({ns.args})", graph, fn, *args, wrt=wrt)
    if ns.output is None:
        print(text, end="")
        return 0
    out = Path(ns.output)
    suffix = out.suffix.lower()
    if suffix in (".dot", ".gv"):
        _write(out, text)
        print(f"wrote {out}")
        return 0
    if suffix not in _GRAPHVIZ_FORMATS:
        raise CLIError(f"cannot write {out.name}: use a .dot, .svg, .png or .pdf file")
    dot = shutil.which("dot")
    if dot is None:  # Graphviz is optional: keep the DOT text and say how to draw it
        fallback = out.with_suffix(".dot")
        _write(fallback, text)
        print(
            f"Graphviz's `dot` program is not installed, so the graph was written as DOT text to {fallback}.\n"
            f"Install Graphviz (apt install graphviz, brew install graphviz or conda install graphviz), then:\n"
            f"  dot -T{suffix[1:]} {fallback} -o {out}",
            file=sys.stderr,
        )
        return 0
    done = subprocess.run(
        [dot, f"-T{suffix[1:]}", "-o", str(out)], input=text, text=True, capture_output=True
    )
    if done.returncode != 0:
        raise CLIError(f"Graphviz's dot failed to draw {out}: {done.stderr.strip()}")
    print(f"wrote {out}")
    return 0


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as e:
        raise CLIError(f"cannot write {path}: {e.strerror}") from None


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adcompiler",
        description="See, check and draw the derivatives adcompiler generates for a function in a file.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"adcompiler {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show Python tracebacks (for bug reports)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help,
            description=description,
            epilog=EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("target", metavar="FILE.py:FUNC", help="the function FUNC defined in FILE.py")
        sub.add_argument(
            "--wrt",
            action="append",
            metavar="NAME",
            help="differentiate with respect to this parameter (name or position); repeat for several",
        )
        return sub

    show = command(
        "show",
        "print the generated derivative",
        "Print the gradient adcompiler generates for FUNC: readable Python source (default), its IR "
        "(--ir) or its LLVM IR (--llvm-ir). Without --args, the generic version is shown when the "
        "types allow it.",
    )
    show.add_argument("--mode", choices=("reverse", "forward"), help="reverse (default) or forward mode")
    show.add_argument(
        "--backend", choices=("python", "llvm"), default="python", help="code generator (default python)"
    )
    shown = show.add_mutually_exclusive_group()
    shown.add_argument("--ir", action="store_true", help="print the SSA IR instead of Python source")
    shown.add_argument("--llvm-ir", action="store_true", help="print the LLVM IR (implies --backend llvm)")
    show.add_argument("--args", metavar='"..."', help='example arguments, e.g. --args "np.ones(3), 2.0"')
    show.set_defaults(run=cmd_show)

    check = command(
        "check",
        "compare the gradient with finite differences",
        "Compare adcompiler's gradient of FUNC at --args with central finite differences, entry by "
        "entry. Exit status 1 (naming the worst entry) when they disagree.",
    )
    check.add_argument("--args", metavar='"..."', required=True, help="the point to check the gradient at")
    check.add_argument("--mode", choices=("reverse", "forward"), help="check one mode only (default: both)")
    check.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance (default 1e-5)")
    check.add_argument("--atol", type=float, default=1e-7, help="absolute tolerance (default 1e-7)")
    check.set_defaults(run=cmd_check)

    draw = command(
        "graph",
        "draw the computation with forward values and adjoints",
        "Draw FUNC's computation at --args: each op with its variable name, source line and value, and "
        "the adjoint flowing back (by default with respect to every float argument). Writes DOT; SVG, "
        "PNG and PDF need Graphviz's `dot` program.",
    )
    draw.add_argument("--args", metavar='"..."', required=True, help="the point to evaluate the graph at")
    draw.add_argument(
        "-o", "--output", metavar="OUT", help="out.svg, out.png, out.pdf or out.dot (default: DOT on stdout)"
    )
    draw.set_defaults(run=cmd_graph)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 a failed check, 2 an error)."""
    ns = build_parser().parse_args(argv)
    try:
        return ns.run(ns)
    except BrokenPipeError:  # `adcompiler show ... | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except (CLIError, ADError) as e:
        if ns.traceback:
            raise
        print(f"adcompiler {ns.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug in adcompiler itself: still one line, with a way to see more
        if ns.traceback:
            raise
        print(
            f"adcompiler {ns.command}: internal error: {type(e).__name__}: {e} (rerun with --traceback and report it)",
            file=sys.stderr,
        )
        return 2


__all__ = ["CLIError", "build_parser", "evaluate_args", "load_target", "main"]
