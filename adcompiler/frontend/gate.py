"""The front gate: reject everything outside the supported Python subset before lowering.

Checking up front, on the whole function, means the user hears about the first construct
adcompiler cannot handle, at its line, instead of a half-lowered function failing later.
The gate is a whitelist: a node type it does not know is refused.
"""

from __future__ import annotations

import ast

from ..errors import UnsupportedSyntaxError
from .source import Source

#: constructs users try, and how the error names them
_REFUSED: dict[type, str] = {
    ast.Try: "try/except",
    ast.With: "with statements",
    ast.AsyncWith: "async with",
    ast.AsyncFor: "async for",
    ast.AsyncFunctionDef: "async functions",
    ast.Await: "await",
    ast.Yield: "yield (generators)",
    ast.YieldFrom: "yield from (generators)",
    ast.Lambda: "lambda",
    ast.Global: "global declarations",
    ast.Nonlocal: "nonlocal declarations",
    ast.ClassDef: "class definitions",
    ast.FunctionDef: "nested function definitions",
    ast.ListComp: "list comprehensions",
    ast.SetComp: "set comprehensions",
    ast.DictComp: "dict comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.Starred: "star-arguments and starred assignments",
    ast.Delete: "del",
    ast.NamedExpr: "assignment expressions (:=)",
    ast.Import: "import inside the function",
    ast.ImportFrom: "import inside the function",
    ast.Raise: "raise",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.Match: "match statements",
    ast.Is: "`is` comparisons",
    ast.IsNot: "`is not` comparisons",
    ast.In: "`in` comparisons",
    ast.NotIn: "`not in` comparisons",
    ast.LShift: "bit shifts",
    ast.RShift: "bit shifts",
    ast.BitXor: "the ^ operator",
}
if hasattr(ast, "TryStar"):
    _REFUSED[ast.TryStar] = "try/except*"

_ALLOWED: tuple[type, ...] = (
    # statements
    ast.Assign, ast.AugAssign, ast.AnnAssign, ast.If, ast.For, ast.While, ast.Break,
    ast.Continue, ast.Return, ast.Pass, ast.Assert, ast.Expr,
    # expressions
    ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Attribute,
    ast.Subscript, ast.Slice, ast.Name, ast.Constant, ast.Tuple, ast.List, ast.keyword,
    # operators and contexts
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.expr_context,
)  # fmt: skip


def check_function(fdef: ast.FunctionDef, source: Source) -> None:
    """Raise :class:`UnsupportedSyntaxError` at the first construct outside the subset."""
    args = fdef.args
    for what, present in (
        ("*args", args.vararg is not None),
        ("**kwargs", args.kwarg is not None),
        ("keyword-only parameters", bool(args.kwonlyargs)),
    ):
        if present:
            raise UnsupportedSyntaxError(
                f"{what} are not supported in {fdef.name}'s parameters", source.loc(fdef)
            )
    for stmt in fdef.body:
        _check(stmt, source)


def _check(node: ast.AST, source: Source) -> None:
    refused = _REFUSED.get(type(node))
    if refused is not None:
        raise UnsupportedSyntaxError(f"adcompiler does not support {refused}", source.loc(node))
    if not isinstance(node, _ALLOWED):
        raise UnsupportedSyntaxError(
            f"this construct ({type(node).__name__}) is not supported by adcompiler", source.loc(node)
        )
    if isinstance(node, ast.For | ast.While) and node.orelse:
        raise UnsupportedSyntaxError("else clauses on loops are not supported", source.loc(node))
    if isinstance(node, ast.keyword) and node.arg is None:
        raise UnsupportedSyntaxError("**kwargs in calls are not supported", source.loc(node))
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes | complex):
        raise UnsupportedSyntaxError(
            f"{type(node.value).__name__} constants are not supported", source.loc(node)
        )
    for child in ast.iter_child_nodes(node):
        _check(child, source)
