"""Generated source → a function whose code lives in a real file.

The file is written to a cache directory (``$ADCOMPILER_CACHE_DIR``, else
``~/.cache/adcompiler/python``, else the system's temporary directory) and registered in
:mod:`linecache`, so tracebacks, ``pdb`` and ``inspect.getsource`` show the generated
code. Files and compiled code objects are cached by a hash of the source.
"""

from __future__ import annotations

import linecache
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import CodeType

from ...digest import digest
from .module import EmittedModule
from .naming import sanitize

_CODE: dict[str, CodeType] = {}


def cache_dir() -> Path:
    """Where generated modules are written (created on first use)."""
    configured = os.environ.get("ADCOMPILER_CACHE_DIR")
    candidates = [Path(configured)] if configured else []
    candidates += [
        Path.home() / ".cache" / "adcompiler" / "python",
        Path(tempfile.gettempdir()) / "adcompiler-python",
    ]
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    raise OSError("no writable directory for generated code; set ADCOMPILER_CACHE_DIR")


def write_module(mod: EmittedModule, name: str) -> Path:
    """The file holding ``mod.source`` (written once per distinct source)."""
    short = digest(mod.source.encode())[:16]
    path = cache_dir() / f"{sanitize(name)}_{short}.py"
    if not path.exists() or path.read_text() != mod.source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(mod.source)
        tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    linecache.cache[str(path)] = (len(mod.source), None, mod.source.splitlines(True), str(path))
    return path


def compile_module(mod: EmittedModule, name: str) -> Callable:
    """Run ``mod`` as a module (with ``mod.globals`` injected) and return its function ``name``."""
    path = write_module(mod, name)
    code = _CODE.get(str(path))
    if code is None:
        code = _CODE[str(path)] = compile(mod.source, str(path), "exec")
    namespace: dict[str, object] = {"__name__": f"adcompiler_generated.{path.stem}", "__file__": str(path)}
    exec(code, namespace)
    namespace.update(mod.globals)  # replaces the module's ``name = None`` placeholders
    return namespace[name]
