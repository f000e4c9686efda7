"""What the aliasing check (:mod:`.aliasing`) knows: which names may share an array
(:class:`Sharing`, with the :class:`Origin` of each pair), what a function does to its
arguments' arrays (:class:`Summary`), and what types tell it (:class:`TypeFacts`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import Loc


@dataclass(frozen=True)
class Row:
    """An integer index into the first axis of ``base``: ``key + offset``, ``key`` a name (or
    ``""``: the constant ``offset``), and the least value it can take (None: not known)."""

    base: str
    key: str
    offset: int
    least: int | None

    def apart_from(self, other: Row) -> bool:
        """Whether the two index different rows of one array: ``t`` and ``t + 1``, both known
        never negative (a negative index counts from the end: ``t - 1`` at ``t = 0`` may be
        the row ``t + n - 1`` names)."""
        return (
            self.base == other.base
            and self.key == other.key
            and self.offset != other.offset
            and self.least is not None
            and other.least is not None
            and min(self.least, other.least) >= 0
        )


@dataclass(frozen=True)
class Origin:
    """Where two names came to share one array: the binding statement, its line, the name it
    bound, the copy that would avoid the sharing, and where the binding is one row of an
    array (``h = H[t]``), which row, so that writes into other rows are told apart."""

    text: str
    line: int
    target: str
    fix: str
    row: Row | None = None


class Summary:
    """What a helper does to its caller's arrays: the parameters it may write into (with
    where), for each of them the other parameters whose arrays it may read after such a write
    (or return), and the parameters its result may share."""

    __slots__ = ("writes", "returns", "reads_after", "asked")

    def __init__(
        self,
        writes: dict[str, Loc],
        returns: frozenset[str],
        reads_after: dict[str, frozenset[str]] | None = None,
        asked: frozenset[tuple] = frozenset(),
    ) -> None:
        self.writes, self.returns = writes, returns
        self.reads_after = reads_after if reads_after is not None else {}
        #: without types: the positions (``TypeFacts``'s keys) whose types would have mattered
        self.asked = asked


class TypeFacts:
    """What the typed IR of one call signature says about the user's expressions, by source
    position ``(file, line, col)`` (the position every op keeps of the expression it was
    lowered from)."""

    __slots__ = ("views", "updated")

    def __init__(
        self,
        views: frozenset[tuple[str, int, int, int]],
        updated: frozenset[tuple[str, int, int, str]],
    ) -> None:
        #: subscripts by integers alone whose result holds an array (a row of a matrix, an
        #: array item of a tuple): positions with the depth of the subscript in a chain
        #: (``m[0][1]``: ``m[0]`` is 0, the outer one 1), as several start at one position
        self.views = views
        #: ``y op= v`` statements whose ``y`` is an array (updated in place): positions with the op
        self.updated = updated


def argument_name(param: str) -> str:
    """The name standing for the caller's array bound to ``param`` (never an identifier)."""
    return f"<argument {param}>"


class Sharing:
    """Which names may share an array: a symmetric relation, each pair with its origin; and
    which names are known to hold arrays (``y += v`` writes in place only into an array)."""

    __slots__ = ("pairs", "arrays", "least")

    def __init__(
        self,
        pairs: dict[str, dict[str, Origin]] | None = None,
        arrays: set[str] | None = None,
        least: dict[str, int] | None = None,
    ) -> None:
        self.pairs = pairs if pairs is not None else {}
        self.arrays = arrays if arrays is not None else set()
        #: the least value of each name a ``for`` over ``range`` binds (until it is rebound)
        self.least = least if least is not None else {}

    def copy(self) -> Sharing:
        return Sharing(
            {name: dict(others) for name, others in self.pairs.items()}, set(self.arrays), dict(self.least)
        )

    def sharers(self, name: str) -> dict[str, Origin]:
        """The names other than ``name`` that may share its array."""
        return self.pairs.get(name, {})

    def join(self, other: Sharing) -> Sharing:
        """What may share after either of two paths."""
        joined = self.copy()
        for name, others in other.pairs.items():
            for sharer, origin in others.items():
                mine = joined.pairs.setdefault(name, {}).setdefault(sharer, origin)
                if mine.row != origin.row:  # a different row on each path: not told apart
                    joined.pairs[name][sharer] = replace(mine, row=None)
        joined.arrays |= other.arrays
        joined.least = {n: min(v, other.least[n]) for n, v in self.least.items() if n in other.least}
        return joined

    def same_as(self, other: Sharing) -> bool:
        shape = lambda s: (
            {n: {sharer: o.row for sharer, o in others.items()} for n, others in s.pairs.items() if others},
            s.arrays,
            s.least,
        )
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
        self.rebound(target)

    def rebound(self, name: str) -> None:
        """``name`` holds a new value: rows indexed by it are no longer known."""
        self.least.pop(name, None)
        for others in self.pairs.values():
            for sharer, origin in others.items():
                if origin.row is not None and origin.row.key == name:
                    others[sharer] = replace(origin, row=None)
