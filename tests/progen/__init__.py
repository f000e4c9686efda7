"""progen: a random program generator for adcompiler's Python subset (the test oracle).

Usage::

    import progen
    prog = progen.generate(seed=7, config=progen.ProgramConfig().without("while_loops"))
    f = prog.load(tmp_path)          # writes a real .py file and imports it
    f(*prog.fresh_args())            # == prog.value
    print(prog.describe())           # seed, config, args and numbered source

``python -m progen SEED [--without FEATURE ...]`` (from ``tests/``) prints a program.
"""

from .check import MarginError, instrument
from .config import FEATURES, ProgramConfig
from .program import ENTRY, GeneratorError, Program, generate, validate
from .strategies import programs, seeds

__all__ = [
    "ENTRY",
    "FEATURES",
    "GeneratorError",
    "MarginError",
    "Program",
    "ProgramConfig",
    "generate",
    "instrument",
    "programs",
    "seeds",
    "validate",
]
