"""What the aliasing check (:mod:`.aliasing`) knows: which names may share an array
(:class:`Sharing`, with the :class:`Origin` of each pair), what a function does to its
arguments' arrays (:class:`Summary`), and what types tell it (:class:`TypeFacts`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Loc


@dataclass(frozen=True)
class Origin:
    """Where two names came to share one array: the binding statement, its line, the name it
    bound, and the copy that would avoid the sharing."""

    text: str
    line: int
    target: str
    fix: str


@dataclass(frozen=True)
class Summary:
    """What a helper does to its caller's arrays: the parameters it may write into (with
    where), for each of them the other parameters whose arrays it may read after such a write
    (or return), and the parameters its result may share."""

    writes: dict[str, Loc]
    returns: frozenset[str]
    reads_after: dict[str, frozenset[str]] = field(default_factory=dict)
    #: without types: the positions (``TypeFacts``'s keys) whose types would have mattered
    asked: frozenset[tuple] = frozenset()


@dataclass(frozen=True)
class TypeFacts:
    """What the typed IR of one call signature says about the user's expressions, by source
    position ``(file, line, col)`` (the position every op keeps of the expression it was
    lowered from)."""

    #: subscripts by integers alone whose result holds an array (a row of a matrix, an array
    #: item of a tuple): positions with the depth of the subscript in a chain (``m[0][1]``:
    #: ``m[0]`` is 0, the outer one 1), as several start at one position
    views: frozenset[tuple[str, int, int, int]] = frozenset()
    #: ``y op= v`` statements whose ``y`` is an array (updated in place): positions with the op
    updated: frozenset[tuple[str, int, int, str]] = frozenset()


def argument_name(param: str) -> str:
    """The name standing for the caller's array bound to ``param`` (never an identifier)."""
    return f"<argument {param}>"


@dataclass
class Sharing:
    """Which names may share an array: a symmetric relation, each pair with its origin; and
    which names are known to hold arrays (``y += v`` writes in place only into an array)."""

    pairs: dict[str, dict[str, Origin]] = field(default_factory=dict)
    arrays: set[str] = field(default_factory=set)

    def copy(self) -> Sharing:
        return Sharing({name: dict(others) for name, others in self.pairs.items()}, set(self.arrays))

    def sharers(self, name: str) -> dict[str, Origin]:
        """The names other than ``name`` that may share its array."""
        return self.pairs.get(name, {})

    def join(self, other: Sharing) -> Sharing:
        """What may share after either of two paths."""
        joined = self.copy()
        for name, others in other.pairs.items():
            for sharer, origin in others.items():
                joined.pairs.setdefault(name, {}).setdefault(sharer, origin)
        joined.arrays |= other.arrays
        return joined

    def same_as(self, other: Sharing) -> bool:
        shape = lambda s: ({n: set(o) for n, o in s.pairs.items() if o}, s.arrays)
        return shape(self) == shape(other)

    def bind(self, target: str, sources: set[str], origin: Origin, is_array: bool = False) -> None:
        """``target`` is rebound to a value that may share the arrays of ``sources``."""
        shared = {s: origin for s in sources}
        for source in sources:
            for sharer, earlier in self.sharers(source).items():
                shared.setdefault(sharer, earlier)
        shared.pop(target, None)
        for sharer in self.pairs.pop(target, {}):
            self.pairs[sharer].pop(target, None)
        self.pairs[target] = shared
        for sharer, how in shared.items():
            self.pairs.setdefault(sharer, {})[target] = how
        self.arrays.discard(target)
        if is_array:
            self.arrays.add(target)
