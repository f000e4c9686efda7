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


def child_environment() -> dict[str, str]:
    """This process's environment, with the project first on the child's ``PYTHONPATH``."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def run_json(
    module: str, args: list[str], timeout_s: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The child's last stdout line as JSON; any failure comes back as ``{"error": ...}``.

    ``env`` adds to (or overrides) this process's environment.
    """
    cmd = [sys.executable, "-m", f"benchmarks.{module}", *args]
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            env={**child_environment(), **(env or {})},
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
