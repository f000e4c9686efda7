"""Hypothesis strategies over generated programs (shrinking works on the seed)."""

from __future__ import annotations

from hypothesis import strategies as st

from .config import ProgramConfig
from .program import Program, generate


def seeds() -> st.SearchStrategy[int]:
    """Program seeds."""
    return st.integers(min_value=0, max_value=2**31 - 1)


def programs(config: ProgramConfig | None = None) -> st.SearchStrategy[Program]:
    """Generated programs under ``config`` (reproducible from the seed shown on failure)."""
    return seeds().map(lambda seed: generate(seed, config))
