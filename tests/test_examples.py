"""Every script in examples/ runs to completion (exit 0) in seconds: each checks its own result
(the loss decreased, the parameters were recovered, the gradients agree) and says so."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))
#: what each example prints when it succeeded
SUCCESS = {
    "demo.py": "OK",
    "mlp_sgd.py": "accuracy",
    "pendulum_fit.py": "OK: parameters recovered",
    "logistic_regression.py": "final loss",
    "straight_through.py": "OK: integer weights recovered",
    "parallel_gradient.py": "OK: the data-parallel gradient equals the single-process one",
}


def test_every_example_is_listed():
    assert {p.name for p in EXAMPLES} == set(SUCCESS)


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script):
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=script.parent
    )
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout}\n{done.stderr}"
    assert SUCCESS[script.name] in done.stdout
    assert elapsed < 30, f"{script.name} took {elapsed:.1f} s: examples must run in seconds"
