"""Checks shared by the LLVM tests: compiled calls leave only their results allocated; how
many allocations compiled code makes."""

from __future__ import annotations

import re
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


def allocation_calls(llvm_ir: str) -> int:
    """The calls allocating a block in optimised LLVM IR (the library's helpers ``adc_alloc``
    and ``adc_alloc_zero``: ``runtime.Runtime.alloc_function``)."""
    return len(re.findall(r"call .*@(adc_alloc|adc_alloc_zero)\(", llvm_ir))
