"""State shared while generating one program: randomness, config, shapes, helpers."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import ProgramConfig
from .scope import Kind
from .text import Expr


@dataclass(frozen=True)
class HelperSig:
    """The signature of a generated helper function, as seen by its callers."""

    name: str
    params: tuple[tuple[str, Kind], ...]
    #: Keyword parameters with float defaults (name, default).
    defaults: tuple[tuple[str, float], ...]
    returns: tuple[Kind, ...]
    return_bounds: tuple[float, ...]
    #: Bound the helper assumes for its array/float parameters.
    param_bound: float = 2.0


@dataclass
class Ctx:
    """Everything shared while generating one program."""

    rng: random.Random
    cfg: ProgramConfig
    rows: int  # R
    cols: int  # C
    n_max: int
    constants: dict[str, float] = field(default_factory=dict)
    helpers: list[HelperSig] = field(default_factory=list)
    counter: int = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def on(self, feature: str) -> bool:
        return self.cfg.enabled(feature)

    def size(self, kind: Kind) -> int:
        return {Kind.V: self.cols, Kind.W: self.rows, Kind.M: self.rows * self.cols}.get(kind, 1)

    def length(self, kind: Kind) -> int:
        """Length of the first axis."""
        return self.cols if kind is Kind.V else self.rows

    def coin(self, p: float) -> bool:
        return self.rng.random() < p


#: A weighted way of building an expression: ``(weight, make(depth) -> Expr)``.
Production = tuple[float, Callable[[int], Expr]]
