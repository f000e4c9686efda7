"""The on-disk cache of machine code, so that a second process skips LLVM.

Entries live under ``$ADCOMPILER_CACHE_DIR`` (default ``~/.cache/adcompiler/llvm``; the
empty string turns caching off). A key names everything that decides the entry, and is
hashed together with the :func:`environment` -- Python, NumPy, llvmlite, the CPU, adcompiler's own
sources, the BLAS linked. Two kinds of entries:

- *object*: ``NAME.o`` (the object file) and ``NAME.meta`` (the exceptions its status codes
  stand for, its optimised LLVM IR), keyed by the printed IR of the function and the options;
- *warm*: ``NAME.warm``, keyed by what a transformed function is before any IR is made (see
  ``transforms/warm.py``), naming its object entry and holding what calling it needs: a
  warm start loads it without parsing, differentiating, or importing llvmlite.

Writes are atomic (a concurrent reader sees all or nothing) and their failures only cost
speed. This module imports neither llvmlite nor the compiler.
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ...digest import digest
from . import native


def cache_dir() -> Path | None:
    """Where entries go; None when caching is off (``ADCOMPILER_CACHE_DIR=""``)."""
    path = os.environ.get("ADCOMPILER_CACHE_DIR", str(Path.home() / ".cache" / "adcompiler" / "llvm"))
    return Path(path) if path else None


@functools.cache
def environment() -> str:
    """Everything besides the function and the options that decides the machine code."""
    import llvmlite  # the package only: its version, not the binding

    stats: list[str] = []
    _stat_sources(str(Path(__file__).parents[2]), stats)
    linked = native.find()  # object code calling BLAS is built for its integer width, and links to it
    return "|".join(
        [
            sys.version,
            np.__version__,
            llvmlite.__version__,
            _cpu(),
            digest("\n".join(stats).encode()),
            f"blas={linked.origin if linked else None}",
        ]
    )


def _stat_sources(folder: str, out: list[str]) -> None:
    """Size and modification time of every source file of adcompiler: any edit to the
    compiler makes new entries (stat, not read: this runs in every warm start)."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir() and entry.name != "__pycache__":
            _stat_sources(entry.path, out)
        elif entry.name.endswith(".py"):
            st = entry.stat()
            out.append(f"{entry.path}:{st.st_size}:{st.st_mtime_ns}")


def _cpu() -> str:
    """The CPU model and features (what LLVM's host detection reads from the same CPU)."""
    try:
        first = Path("/proc/cpuinfo").read_text().split("\n\n", 1)[0]
    except OSError:
        import platform

        return f"{platform.machine()}:{platform.processor()}"
    wanted = ("model name", "flags", "Features", "CPU implementer", "CPU part", "vendor_id")
    return ";".join(line for line in first.splitlines() if line.split(":", 1)[0].strip() in wanted)


def entry_name(key: str) -> str:
    return digest(f"{environment()}\n{key}".encode())


def load_object(name: str) -> tuple[bytes, dict] | None:
    """The object file and metadata of the object entry ``name``, or None."""
    root = cache_dir()
    if root is None:
        return None
    try:
        obj = (root / f"{name}.o").read_bytes()
    except OSError:
        return None
    meta = _read(root / f"{name}.meta")
    return None if meta is None else (obj, meta)


def store_object(name: str, obj: bytes, meta: dict) -> None:
    _write(name, {".o": obj, ".meta": _pickled(meta) or b""})


def load_warm(key: str) -> Any | None:
    root = cache_dir()
    return None if root is None else _read(root / f"{entry_name(key)}.warm")


def store_warm(key: str, entry: Any) -> None:
    data = _pickled(entry)
    if data is not None:  # else something in it cannot be stored: the next process takes the long way
        _write(entry_name(key), {".warm": data})


def _read(path: Path) -> Any | None:
    try:
        return pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        return None


def _pickled(value: Any) -> bytes | None:
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return None


def _write(name: str, files: dict[str, bytes]) -> None:
    root = cache_dir()
    if root is None:
        return
    import tempfile

    try:
        root.mkdir(parents=True, exist_ok=True)
        for suffix, data in files.items():
            fd, tmp = tempfile.mkstemp(dir=root)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, root / f"{name}{suffix}")
    except OSError:
        pass
