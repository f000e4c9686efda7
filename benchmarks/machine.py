"""What the numbers were measured on."""

from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = ("numpy", "llvmlite", "numba", "autograd", "jax", "torch", "adcompiler")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _blas() -> str:
    try:
        import numpy as np

        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # the layout of numpy's build info varies across versions
        return "?"


def machine_info() -> dict[str, object]:
    """CPU, cores, Python and the versions of every package that takes part."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "blas": _blas(),
        "threads_env": {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")},
        "versions": {name: _version(name) for name in PACKAGES},
    }


def header(info: dict[str, object]) -> str:
    versions = info["versions"]
    assert isinstance(versions, dict)
    installed = ", ".join(f"{k} {v}" for k, v in versions.items() if v) or "-"
    missing = ", ".join(k for k, v in versions.items() if not v) or "-"
    return "\n".join(
        [
            f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable)",
            f"python {info['python']} on {info['platform']}, BLAS {info['blas']}",
            f"packages: {installed}",
            f"not installed: {missing}",
        ]
    )
