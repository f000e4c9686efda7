"""The Python backend: typed IR → the source of a readable module → a compiled function.

``emit_module(fn)`` writes a complete module defining ``fn.name`` that needs only NumPy,
``math`` and :mod:`adcompiler.runtime` (plus :attr:`EmittedModule.globals` for objects that
have no literal and cannot be imported); ``compile_module(mod, name)`` runs it from a real
file and returns the function.

How the code is shaped, step by step: :mod:`.program` (uses, dead code) →
:mod:`.ownership` (in-place writes) → :mod:`.plan` (inlining, coalescing, names via
:mod:`.liveness` and :mod:`.naming`) → :mod:`.emit` (statements, control flow; pure ops
through the table in :mod:`.exprs`) → :mod:`.module` (imports, header).
"""

from .compile import cache_dir, compile_module
from .module import EmittedModule, emit_module

__all__ = ["EmittedModule", "cache_dir", "compile_module", "emit_module"]
