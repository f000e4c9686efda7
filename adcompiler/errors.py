"""Errors raised by adcompiler.

Every error that concerns user code carries a :class:`Loc` and prints the user's file,
line and column, with the offending source line and a caret under the column.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Loc:
    """A position in the user's source: where an IR op came from."""

    file: str
    line: int
    col: int = 0
    source_line: str = ""
    func: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col + 1}"

    def show(self) -> str:
        """The position, the source line and a caret under the column."""
        text = f'  File "{self.file}", line {self.line}, column {self.col + 1}'
        if self.func:
            text += f", in {self.func}"
        if self.source_line:
            stripped = self.source_line.rstrip()
            indent = len(stripped) - len(stripped.lstrip())
            text += f"\n    {stripped.lstrip()}\n    {' ' * max(self.col - indent, 0)}^"
        return text


class ADError(Exception):
    """Base class of every error adcompiler raises about the user's code or request."""

    def __init__(self, message: str, loc: Loc | None = None) -> None:
        self.message = message
        self.loc = loc
        super().__init__(self._format())

    def _format(self) -> str:
        if self.loc is None:
            return self.message
        return f"{self.message}\n{self.loc.show()}"


class UnsupportedSyntaxError(ADError):
    """A construct outside the supported Python subset."""


class NotDifferentiableError(ADError):
    """A derivative that cannot be taken (integer input, non-scalar grad, no rule...)."""


class ADTypeError(ADError):
    """Types that the chosen backend or the IR cannot handle."""


class NumericError(ADError):
    """A non-finite value detected by ``debug=True`` checks."""
