"""Python variable names for IR values: the user's names, reused where SSA split them.

Values are first *coalesced* into groups that must or should share one variable (an
in-place write and its target; a loop's initial value, carried value, yield and result;
an ``if``'s results and the branch values they come from), as long as no two members
interfere. Each group then takes the first free spelling of its hint (``x``, then
``x1``, ``x2``...): a name is free when no interfering group holds it, so ``x = x + 1``
comes out as the user wrote it. Temporaries without a hint are ``t``, ``t1``..., each its
own: reusing a dead temporary's name would make two unrelated values look like one.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Iterable

from ...ir.core import Value
from .liveness import Liveness

#: names generated code relies on: never used for a variable
RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {"np", "math"}

TEMP = "t"


def sanitize(hint: str) -> str:
    """A valid identifier close to ``hint`` (IR hints may carry dots or primes)."""
    name = re.sub(r"\W", "_", hint)
    if not name or name[0].isdigit():
        name = "v" + name
    return name


def spellings(base: str) -> Iterable[str]:
    """``base``, then ``base1``, ``base2``... (``w1_1`` when base already ends in a digit)."""
    yield base
    sep = "_" if base[-1].isdigit() else ""
    k = 1
    while True:
        yield f"{base}{sep}{k}"
        k += 1


def unique(base: str, taken: set[str]) -> str:
    """The first spelling of ``base`` that is not in ``taken`` (which it is then added to)."""
    for name in spellings(base):
        if name not in taken:
            taken.add(name)
            return name
    raise AssertionError("unreachable")


class Groups:
    """Union-find of values that share a variable, with the interference of whole groups."""

    def __init__(self, live: Liveness) -> None:
        self.live = live
        self.parent: dict[Value, Value] = {}
        self.members: dict[Value, list[Value]] = {}

    def find(self, v: Value) -> Value:
        root = v
        while self.parent.get(root, root) is not root:
            root = self.parent[root]
        if root is not v:
            self.parent[v] = root
        return root

    def group(self, v: Value) -> list[Value]:
        return self.members.get(self.find(v), [v])

    def conflict(self, a: list[Value], b: list[Value]) -> bool:
        adj = self.live.adj
        b_set = set(b)
        return any(adj.get(m, set()) & b_set for m in a)

    def merge(self, a: Value, b: Value, fixed: dict[Value, str]) -> bool:
        """Put ``a`` and ``b`` in one group unless some members interfere; True if they are."""
        ra, rb = self.find(a), self.find(b)
        if ra is rb:
            return True
        ga, gb = self.group(ra), self.group(rb)
        names = {fixed[m] for m in ga + gb if m in fixed}
        if len(names) > 1 or self.conflict(ga, gb):
            return False
        self.parent[rb] = ra
        self.members[ra] = ga + gb
        self.members.pop(rb, None)
        return True


def allocate(
    values: list[Value],
    groups: Groups,
    fixed: dict[Value, str],
    order: dict[Value, int],
    preference: dict[Value, int],
    reserved: set[str],
) -> dict[Value, str]:
    """A name for each of ``values`` (already coalesced in ``groups``), in program order.

    ``fixed`` pins parameters to the user's names; ``preference`` ranks whose hint a group
    takes (lower first: the names the user sees for a loop or branch variable).
    """
    roots: dict[Value, list[Value]] = {}
    for v in values:
        roots.setdefault(groups.find(v), []).append(v)
    holders: dict[str, list[list[Value]]] = {}
    names: dict[Value, str] = {}

    def first_def(members: list[Value]) -> tuple[int, int]:
        return (0 if any(m in fixed for m in members) else 1, min(order[m] for m in members))

    for members in sorted(roots.values(), key=first_def):
        pinned = [fixed[m] for m in members if m in fixed]
        if pinned:
            name = pinned[0]
        else:
            hinted = [m for m in members if m.hint]
            best = min(hinted, key=lambda m: (preference.get(m, 9), order[m]), default=None)
            base = sanitize(best.hint) if best is not None and best.hint else TEMP
            # a temporary never takes over another one's name: ``t = f(t)`` would read as one value
            name = next(
                n
                for n in spellings(base)
                if n not in reserved
                and not (base == TEMP and n in holders)
                and not any(groups.conflict(members, g) for g in holders.get(n, ()))
            )
        holders.setdefault(name, []).append(members)
        for m in members:
            names[m] = name
    return names
