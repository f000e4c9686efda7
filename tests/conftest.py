"""Shared fixtures and hypothesis profiles for the test suite.

Hypothesis profiles (select with ``HYPOTHESIS_PROFILE=dev``; default ``ci``):

- ``ci``: no deadline, modest number of examples;
- ``dev``: no deadline, many more examples.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Make the test helpers (``progen``, ``finite_diff``) importable however pytest is run.
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=500,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def program_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory for generated program modules (real files: inspect.getsource works)."""
    return tmp_path_factory.mktemp("progen")


@pytest.fixture
def tmp_module_dir(tmp_path: Path) -> Path:
    """A fresh per-test directory for modules a test writes and imports."""
    path = tmp_path / "modules"
    path.mkdir()
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator (same numbers in every run)."""
    return np.random.default_rng(20240601)


@pytest.fixture
def py_rng() -> random.Random:
    """A seeded ``random.Random``."""
    return random.Random(20240601)
