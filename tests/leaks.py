"""A check shared by the LLVM tests: compiled calls leave only their results allocated."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from adcompiler.backends.llvm import live_allocations

#: (compiled function, arguments, arguments that raise or None, the exception raised)
Call = tuple[Callable, tuple, tuple | None, type[BaseException] | None]


def assert_only_results_stay_allocated(calls: Sequence[Call]) -> None:
    """Each call returns one new array and frees every other block; a call that raises (50
    times over) frees all."""
    for f, args, raising, exc in calls:
        f(*args)  # compiled
        before = live_allocations()
        out = f(*args)
        assert live_allocations() == before + 1
        del out
        assert live_allocations() == before
        if raising is not None:
            for _ in range(50):
                with pytest.raises(exc):
                    f(*raising)
            assert live_allocations() == before
