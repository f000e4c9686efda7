"""Start-up of ``ad.grad`` in a fresh process: ``python -m benchmarks.cold NAME BACKEND SIZE``.

Prints one JSON line: the import time of adcompiler, the first call (parse, differentiate,
generate code, compile, run), a second call, and when the optimised code was in place (the
LLVM backend compiles a first call's code quickly and the optimised code in the background:
``ad.wait_for_compiles``), from the start of the first call; or ``{"error": ...}``. ``run_starts`` runs it
twice on one empty on-disk cache: *cold* (nothing cached: LLVM compiles) and *warm* (a
second process, as a user's next run: the object code comes from the cache). Python's own
bytecode cache is on in both, as in an installed package.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from typing import Any

from benchmarks.subproc import run_json


def _measure(name: str, backend: str, size: int) -> dict[str, float]:
    from benchmarks.ours import make_grad
    from benchmarks.workloads import WORKLOADS

    workload = WORKLOADS[name]
    args = workload.make_args(size)  # numpy is imported by now: not counted below
    t0 = time.perf_counter()
    import adcompiler

    t1 = time.perf_counter()
    g = make_grad(workload, backend)
    g(*args)
    t2 = time.perf_counter()
    g(*args)
    t3 = time.perf_counter()
    adcompiler.wait_for_compiles()
    return {
        "import_s": t1 - t0,
        "first_call_s": t2 - t1,
        "second_call_s": t3 - t2,
        "optimised_s": time.perf_counter() - t1,
    }


def run_starts(name: str, backend: str, size: int, timeout_s: float = 600.0) -> dict[str, dict[str, Any]]:
    """``{"cold": ..., "warm": ...}``, each measured in a new interpreter; errors come back as
    ``{"error": ...}``."""
    with tempfile.TemporaryDirectory(prefix="adc-cache-") as cache:
        env = {"ADCOMPILER_CACHE_DIR": cache, "PYTHONDONTWRITEBYTECODE": ""}
        return {
            start: run_json("cold", [name, backend, str(size)], timeout_s, env) for start in ("cold", "warm")
        }


def main(argv: list[str]) -> int:
    name, backend, size = argv[0], argv[1], int(argv[2])
    try:
        result: dict[str, object] = dict(_measure(name, backend, size))
    except Exception as e:  # reported as n/a by the runner
        result = {"error": f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
