"""Value kinds, variables and scopes used while generating a program.

The generator keeps, for every variable in scope, its *kind* (a float scalar, a 1-d array
of one of two lengths, a 2-d array, an int) and a *bound*: an upper bound on the absolute
value of every entry, computed statically. Bounds keep programs finite: any expression
whose bound grows past a limit is squashed through a bounded function (``np.tanh`` ...).

Loops make bounds subtle (a loop-carried value is updated many times), so each variable
also has an assignment *mode* in the current scope:

- ``FREE``: defined in the current block (or the current loop iteration); any update.
- ``ACCUM``: carried by the innermost loop, may be accumulated into once per iteration
  (its bound already covers every iteration), and updated by bound-preserving forms.
- ``KEEP``: carried by an enclosing loop: only bound-preserving updates (contractions
  ``v = tanh(...)`` and damped averages ``v = 0.5 * v + 0.5 * tanh(...)``).
- ``FROZEN``: read-only here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Kind(enum.Enum):
    """The static type of a generated value."""

    F = "f"  # float scalar
    V = "v"  # 1-d float64 array of length C ("column count")
    W = "w"  # 1-d float64 array of length R ("row count")
    M = "m"  # 2-d float64 array of shape (R, C)
    I = "i"  # noqa: E741  -- Python int

    @property
    def is_array(self) -> bool:
        return self in (Kind.V, Kind.W, Kind.M)


class Mode(enum.Enum):
    """How a variable may be assigned in the current scope (see module docstring)."""

    FREE = "free"
    ACCUM = "accum"
    KEEP = "keep"
    FROZEN = "frozen"


#: Bound of a carried value updated only by contractions/damped averages.
KEEP_BOUND = 1.6


@dataclass
class Var:
    """A variable in scope."""

    name: str
    kind: Kind
    bound: float
    mode: Mode = Mode.FREE
    #: The array was created here by a constructor: element writes may not alias inputs.
    owned: bool = False
    #: For ints: the half-open range ``[lo, hi)`` of values it takes.
    lo: int = 0
    hi: int = 1
    #: Ints usable as array indices (loop indices); counters are not.
    is_index: bool = False
    #: An ACCUM variable whose one accumulation per iteration has been used.
    accum_used: bool = False


@dataclass
class Scope:
    """The variables visible in a block, with their bounds and modes."""

    vars: dict[str, Var] = field(default_factory=dict)
    #: Names defined in this block (dropped when the block ends unless joined).
    local_names: list[str] = field(default_factory=list)
    #: Loop nesting level of this block (0 = function body).
    loop_depth: int = 0
    #: Trip-count bound of the innermost loop (1 outside loops).
    trips: int = 1
    #: Whether ``break``/``continue`` are allowed (innermost enclosing loop exists).
    in_loop: bool = False
    #: Facts about the innermost loop, shared by the scopes of its body's branches:
    #: ``"continue"`` is set when a ``continue`` was emitted (while loops then count
    #: at the top of the body).
    loop_flags: dict[str, bool] = field(default_factory=dict)

    def copy(self) -> Scope:
        """A copy whose variables can be changed without touching this scope."""
        return Scope(
            vars={k: replace(v) for k, v in self.vars.items()},
            local_names=[],
            loop_depth=self.loop_depth,
            trips=self.trips,
            in_loop=self.in_loop,
            loop_flags=self.loop_flags,
        )

    def of_kind(self, kind: Kind) -> list[Var]:
        return [v for v in self.vars.values() if v.kind is kind]

    def floats(self) -> list[Var]:
        return [v for v in self.vars.values() if v.kind is not Kind.I]

    def define(self, var: Var) -> Var:
        """Add (or redefine) a variable as FREE in this block."""
        var.mode = Mode.FREE
        if var.name not in self.vars and var.name not in self.local_names:
            self.local_names.append(var.name)
        self.vars[var.name] = var
        return var

    def indices(self) -> list[Var]:
        return [v for v in self.vars.values() if v.kind is Kind.I and v.is_index]

    def ints(self) -> list[Var]:
        return [v for v in self.vars.values() if v.kind is Kind.I]
