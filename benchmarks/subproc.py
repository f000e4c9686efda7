"""Run ``python -m benchmarks.<module> ...`` in a fresh interpreter and read its last JSON line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_json(
    module: str,
    args: list[str],
    timeout_s: float,
    env: dict[str, str | None] | None = None,
    cpus: set[int] | None = None,
) -> dict[str, Any]:
    """The child's last stdout line as JSON; any failure comes back as ``{"error": ...}``.

    ``env`` adds to (or overrides, or with None removes from) this process's environment;
    ``cpus`` confines the child to those CPUs from its start, before any library sizes a
    thread pool.
    """
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", f"benchmarks.{module}", *args]
    child_env = {**os.environ, **(env or {}), "PYTHONPATH": path}
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            env={k: v for k, v in child_env.items() if v is not None},
            preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        if proc.returncode < 0:
            return {"error": f"crashed: {signal.Signals(-proc.returncode).name}"}
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    return data if isinstance(data, dict) else {"error": f"unexpected output: {lines[-1][:80]}"}
