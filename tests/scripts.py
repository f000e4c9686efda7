"""Running a test's script in a fresh interpreter, as a user's next process would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_script(tmp_path: Path, source: str, *args: str, **env: str) -> str:
    """Run ``source`` with ``args`` in a new Python process whose cache of compiled code is
    ``tmp_path / "cache"`` (the same for every script of a test), this checkout importable,
    and the environment variables ``env`` set; its standard output (it must exit with 0, within
    five minutes: a script that hangs fails)."""
    script = tmp_path / "script.py"
    script.write_text(source)
    variables = {**os.environ, "ADCOMPILER_CACHE_DIR": str(tmp_path / "cache"), **env}
    variables["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parents[1]), variables.get("PYTHONPATH", "")]
    )
    done = subprocess.run(
        [sys.executable, str(script), *args],
        env=variables,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout
