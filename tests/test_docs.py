"""Every ```python block of every docs/*.md file runs.

The blocks of one file run in order, as one script, in a fresh process. They are written to a
real ``.py`` file first, because adcompiler reads functions with ``inspect.getsource``, which
needs a file. Each block keeps its line numbers from the markdown file (the lines between
blocks are left blank), so a traceback's line number is the line in the markdown.
Blocks tagged ```text, ```console or anything else are not run.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


def script_of(markdown: str) -> str:
    """The python blocks of ``markdown`` at their own line numbers, everything else blank."""
    lines = [""] * (markdown.count("\n") + 1)
    for match in FENCE.finditer(markdown):
        if match.group(1) != "python":
            continue
        first = markdown.count("\n", 0, match.start(2))
        for k, line in enumerate(match.group(2).splitlines()):
            lines[first + k] = line
    return "\n".join(lines) + "\n"


def documents_with_code() -> list[Path]:
    return [p for p in sorted(DOCS.glob("*.md")) if script_of(p.read_text()).strip()]


def test_script_of_keeps_line_numbers():
    markdown = "# t\n\n```python\nx = 1\n```\n\n```console\n$ no\n```\n```python\ny = x\n```\n"
    script = script_of(markdown).splitlines()
    assert script[3] == "x = 1" and script[10] == "y = x" and "$ no" not in script


def test_the_tutorial_has_code():
    assert DOCS / "tutorial.md" in documents_with_code()


@pytest.mark.parametrize("document", documents_with_code(), ids=lambda p: p.name)
def test_code_blocks_run(document, tmp_path):
    script = tmp_path / f"{document.stem}.py"
    script.write_text(script_of(document.read_text()))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, (
        f"a python block of docs/{document.name} failed (line numbers are the markdown's):\n{done.stderr}"
    )
