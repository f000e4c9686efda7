"""A whole module: header comments, imports, module-level names, the function.

The module imports only what its code uses (``math``, ``numpy``, helpers of
:mod:`adcompiler.runtime`, the user's importable rules). Objects that have no literal and
cannot be imported (large arrays, rules defined in ``__main__``) are module-level names
whose values travel in :attr:`EmittedModule.globals`; a comment says where each comes from.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...ir.core import Function, Op
from ...ir.types import F64
from . import exprs
from .emit import INDENT, MAX_LINE, Emitter
from .naming import RESERVED, sanitize, unique
from .plan import make_plan

#: what :mod:`adcompiler.runtime` offers generated code
RUNTIME_HELPERS = ("unbroadcast", "check_finite")
#: what each custom op calls on its rule object (None: the object itself, like the user's code)
_RULE_FIELDS = {"custom_call": None, "custom_vjp_call": "vjp", "custom_jvp_call": "jvp"}
#: arrays up to this size are written as literals, if NumPy infers their dtype from one
MAX_LITERAL_ARRAY = 16
_LITERAL_DTYPES = (np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_))


@dataclass
class EmittedModule:
    """Python source of a module defining one function, and the objects it needs injected."""

    source: str
    globals: dict[str, object] = field(default_factory=dict)


class ModuleContext:
    """Names at module level: imports, injected objects, tapes. Implements :class:`exprs.Context`."""

    def __init__(self, fn: Function) -> None:
        self.taken: set[str] = set(RESERVED) | set(RUNTIME_HELPERS) | {fn.name}
        self.globals: dict[str, object] = {}
        self.global_notes: list[str] = []
        self.imports: dict[str, dict[str, str]] = {}  # module -> {name there: name here}
        self.used: set[str] = set()
        self._constants: dict[int, ast.expr] = {}
        self._rules: dict[tuple[int, str], ast.expr] = {}
        self.tapes: dict[str, str] = {}
        #: debug checks in the function: scalars follow NumPy (see :mod:`.exprs`)
        self.ieee = any(op.name == "check_finite" for op in fn.walk())
        for op in fn.walk():
            self._prepare(op)

    def _prepare(self, op: Op) -> None:
        if op.name in ("push", "pop") and op.attrs["tape"] not in self.tapes:
            self.tapes[op.attrs["tape"]] = unique(sanitize(op.attrs["tape"]), self.taken)
        elif op.name == "const":
            self._constants[id(op.attrs["value"])] = self._constant(op.attrs["value"], op.result.hint)
        elif op.name.startswith("custom_"):
            self._rules[(id(op.attrs["rule"]), op.name)] = self._rule(op)

    # ------------------------------------------------------------------ exprs.Context
    def constant(self, value: Any, hint: str | None) -> ast.expr:
        return self._constants.get(id(value)) or self._constant(value, hint)

    def rule_callable(self, op: Op) -> ast.expr:
        return self._rules[(id(op.attrs["rule"]), op.name)]

    def note(self, node: ast.AST) -> None:
        """Record the module-level names an expression uses (for the imports)."""
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                self.used.add(n.id)

    # ------------------------------------------------------------------ constants and rules
    def _constant(self, value: Any, hint: str | None) -> ast.expr:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, (bool, int, float, str)) or value is None:
            return exprs.literal(value)
        if isinstance(value, tuple) and all(
            isinstance(v, (bool, int, float, str)) or v is None for v in value
        ):
            return exprs.literal(value)
        if (
            isinstance(value, np.ndarray)
            and 0 < value.size <= MAX_LITERAL_ARRAY
            and value.dtype in _LITERAL_DTYPES
        ):
            return exprs.call("np.array", _list_literal(value.tolist()))
        what = (
            f"an array of shape {value.shape} and dtype {value.dtype}"
            if isinstance(value, np.ndarray)
            else (f"a {type(value).__name__}")
        )
        return self._inject(value, (hint or "CONST").upper(), f"{what}, a constant of the source program")

    def _rule(self, op: Op) -> ast.expr:
        """What a custom op calls: the rule object (imported, or injected) or its ``.vjp``/``.jvp``."""
        rule = op.attrs["rule"]
        field = _RULE_FIELDS[op.name]
        if field is None and not callable(rule):
            field = "fn"
        ref = _importable(rule)
        if ref is not None:
            holder = exprs.name(self._import(*ref))
        else:
            label = getattr(rule, "__name__", None) or type(rule).__name__
            where = getattr(rule, "__module__", None) or "an unimportable module"
            holder = self._inject(rule, sanitize(label), f"the rule object {label!r} defined in {where}")
        return holder if field is None else exprs.attr(holder, field)

    def _import(self, module: str, attr_name: str) -> str:
        names = self.imports.setdefault(module, {})
        if attr_name not in names:
            names[attr_name] = unique(attr_name, self.taken)
        return names[attr_name]

    def _inject(self, value: object, base: str, description: str) -> ast.expr:
        for key, known in self.globals.items():
            if known is value:
                return exprs.name(key)
        key = unique(base, self.taken)
        self.globals[key] = value
        self.global_notes += [f"# {key}: {description}; set by compile_module", f"{key} = None"]
        return exprs.name(key)

    # ------------------------------------------------------------------ the header
    def import_lines(self) -> list[str]:
        groups = []
        if "math" in self.used:
            groups.append(["import math"])
        if "np" in self.used:
            groups.append(["import numpy as np"])
        helpers = [h for h in RUNTIME_HELPERS if h in self.used]
        local = [f"from adcompiler.runtime import {', '.join(helpers)}"] if helpers else []
        for module, names in sorted(self.imports.items()):
            parts = [
                n if alias == n else f"{n} as {alias}" for n, alias in names.items() if alias in self.used
            ]
            if parts:
                local.append(f"from {module} import {', '.join(parts)}")
        if local:
            groups.append(local)
        return [line for group in groups for line in [*group, ""]]


def _list_literal(items: Any) -> ast.expr:
    if isinstance(items, list):
        return ast.List([_list_literal(v) for v in items], ast.Load())
    return exprs.literal(items)


def _importable(obj: object) -> tuple[str, str] | None:
    """(module, name) when ``from module import name`` gives back ``obj`` itself."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(module, str) or module == "__main__" or not isinstance(qualname, str):
        return None
    if not qualname.isidentifier() or module not in sys.modules:
        return None
    if getattr(sys.modules[module], qualname, None) is not obj:
        return None
    return module, qualname


def emit_module(
    fn: Function, *, docstring: str | None = None, header_comments: list[str] = ()
) -> EmittedModule:
    """The source of a module that defines ``fn.name`` (see the package docstring)."""
    ctx = ModuleContext(fn)
    plan = make_plan(fn, ctx.taken | set(ctx.tapes.values()))
    body = Emitter(plan, ctx, ctx.tapes, ctx.note)
    if docstring:
        body.put(1, _docstring(docstring))
    floats = [plan.names[p] for p in fn.params if p.type == F64 and plan.prog.is_used(p)]
    if ctx.ieee and floats:
        body.put(1, "# debug checks: NumPy floats, so that inf and nan reach them instead of raising")
        body.moves(1, [(name, exprs.call("np.float64", exprs.name(name))) for name in floats])
    for tape in dict.fromkeys(ctx.tapes.values()):
        body.put(1, f"{tape} = []")
    body.region(fn.body, 1)
    if fn.returns:
        body.ret([body.expr(v) for v in fn.returns])
    elif len(body.lines) == (1 if docstring else 0):
        body.put(1, "pass")
    header = [
        f"# {part}".rstrip()
        for text in [*header_comments, *fn.notes]
        for line in text.splitlines() or [""]
        for part in textwrap.wrap(line, MAX_LINE - 2) or [""]
    ]
    lines = [*header, *([""] if header else []), *ctx.import_lines()]
    if ctx.global_notes:  # placeholders, so that the module reads (and lints) as complete
        lines += [*ctx.global_notes, ""]
    lines += ["", f"def {fn.name}({_signature(fn, ctx)}):", *body.lines]
    source = "\n".join(lines).lstrip("\n") + "\n"
    return EmittedModule(source, dict(ctx.globals))


def _signature(fn: Function, ctx: ModuleContext) -> str:
    """The parameters, with the user's defaults on the trailing ones that have one."""
    defaults = getattr(fn, "defaults", {})
    names = list(fn.param_names)
    first = len(names)
    while first > 0 and names[first - 1] in defaults:
        first -= 1
    shown = [ast.unparse(ctx.constant(defaults[n], n)) for n in names[first:]]
    ctx.note(ast.parse(", ".join(shown) or "None"))
    return ", ".join(names[:first] + [f"{n}={d}" for n, d in zip(names[first:], shown)])


def _docstring(text: str) -> str:
    if '"""' in text or "\\" in text:
        return repr(text)
    first, *rest = text.strip("\n").splitlines()
    if not rest:
        return f'"""{first}"""'
    indented = [INDENT + line if line.strip() else "" for line in rest]
    return "\n".join([f'"""{first}', *indented, f'{INDENT}"""'])
