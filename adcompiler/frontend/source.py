"""Reading a function's source and mapping AST positions back to the user's file.

``ast.parse`` needs the function's text dedented (methods, functions nested in other
functions), but every :class:`~adcompiler.errors.Loc` must name the line and column in the
user's file as it is: this module keeps both views side by side.
"""

from __future__ import annotations

import ast
import inspect
import linecache
from typing import Any

from ..errors import Loc, UnsupportedSyntaxError


class Source:
    """A function's source: its file, first line, indentation and original lines."""

    __slots__ = ("file", "first_line", "indent", "lines", "func")

    def __init__(self, file: str, first_line: int, indent: int, lines: tuple[str, ...], func: str) -> None:
        self.file, self.first_line, self.indent, self.lines, self.func = file, first_line, indent, lines, func

    def loc(self, node: ast.AST | None) -> Loc:
        """Where ``node`` (of the dedented parse) is in the user's file."""
        lineno = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        text = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        shift = self.indent if not text[: self.indent].strip() else len(text) - len(text.lstrip())
        return Loc(self.file, self.first_line + lineno - 1, col + shift, text.rstrip("\n"), self.func)


def _dedent(line: str, indent: int) -> str:
    """``line`` without the function's indentation (less indented lines: without any)."""
    if not line.strip():
        return "\n"
    return line[indent:] if not line[:indent].strip() else line.lstrip()


def _parse_block(name: str, file: str, lines: list[str], first_line: int) -> tuple[Source, ast.Module]:
    """The function's :class:`Source` and the parse of its (dedented) lines."""
    first_line = max(first_line, 1)
    indent = len(lines[0]) - len(lines[0].lstrip())
    source = Source(file, first_line, indent, tuple(lines), name)
    return source, ast.parse("".join(_dedent(ln, indent) for ln in lines))


def _block(pyfunc: Any, file: str) -> tuple[list[str], int]:
    """The lines of the ``def`` of ``pyfunc`` (decorators included) and the number of the
    first, as ``inspect.getsourcelines`` finds them but without its tokenizer, which
    compiles its regular expressions on first use (~4 ms of a cold start): from the first
    line of the code object to the last line any of its instructions comes from, then on
    while lines are blank or indented deeper than the ``def`` (an ``else: pass`` compiles to
    no instruction). LookupError if the file's lines are not at hand."""
    code = pyfunc.__code__
    lines = linecache.getlines(file, pyfunc.__globals__)
    first = code.co_firstlineno
    if not 0 < first <= len(lines) or not hasattr(code, "co_positions"):  # (Python 3.10 has none)
        raise LookupError(file)
    indent = _indentation(lines[first - 1])
    end = max(first, _last_line(code))
    while end < len(lines) and (not lines[end].strip() or _indentation(lines[end]) > indent):
        end += 1
    while end > first and not lines[end - 1].strip():
        end -= 1
    return lines[first - 1 : end], first


def _last_line(code: Any) -> int:
    """The last line that an instruction of ``code`` or of the code nested in it comes from."""
    last = max((end for _, end, _, _ in code.co_positions() if end is not None), default=0)
    for const in code.co_consts:
        if hasattr(const, "co_positions"):
            last = max(last, _last_line(const))
    return last


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip())


def _code_loc(pyfunc: Any) -> Loc:
    """The best location for a function whose source cannot be parsed."""
    code = getattr(pyfunc, "__code__", None)
    name = getattr(pyfunc, "__name__", repr(pyfunc))
    if code is None:
        return Loc("<unknown>", 0, 0, "", name)
    line = linecache.getline(code.co_filename, code.co_firstlineno)
    return Loc(code.co_filename, code.co_firstlineno, 0, line.rstrip("\n"), name)


def check_is_function(pyfunc: Any) -> None:
    """Refuse what is not a plain ``def`` function (lambdas, builtins, callable objects)."""
    name = getattr(pyfunc, "__name__", repr(pyfunc))
    if name == "<lambda>":
        raise UnsupportedSyntaxError(
            "lambda functions are not supported: define the function with def", _code_loc(pyfunc)
        )
    if not inspect.isfunction(pyfunc):
        raise UnsupportedSyntaxError(f"{name!r} is not a plain Python function", _code_loc(pyfunc))


def read_function(pyfunc: Any) -> tuple[ast.FunctionDef, Source]:
    """The ``def`` of ``pyfunc`` (decorators stripped) and its :class:`Source`."""
    check_is_function(pyfunc)
    name = pyfunc.__name__
    try:
        original = inspect.unwrap(pyfunc)  # as inspect reads it: a decorator's wrapper is not the source
        file = inspect.getsourcefile(original) or original.__code__.co_filename
        try:
            source, module = _parse_block(name, file, *_block(original, file))
        except (LookupError, SyntaxError):  # not delimited the quick way: Python's tokenizer does it
            source, module = _parse_block(name, file, *inspect.getsourcelines(pyfunc))
    except (OSError, TypeError) as exc:
        raise UnsupportedSyntaxError(
            f"cannot read the source of {name!r} ({exc}); adcompiler needs functions defined in a file",
            _code_loc(pyfunc),
        ) from None
    except SyntaxError as exc:
        raise UnsupportedSyntaxError(
            f"cannot parse the source of {name!r}: {exc.msg}", _code_loc(pyfunc)
        ) from None
    defs = [n for n in module.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not defs:
        raise UnsupportedSyntaxError(f"cannot find the def of {name!r} in its source", _code_loc(pyfunc))
    fdef = defs[0]
    if isinstance(fdef, ast.AsyncFunctionDef):
        raise UnsupportedSyntaxError("async functions are not supported", source.loc(fdef))
    return fdef, source
