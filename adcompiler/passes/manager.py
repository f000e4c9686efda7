"""The pass manager: runs named passes in order, verifies the IR after each one when asked,
times them, and dumps the IR after a named pass on demand.

``ADCOMPILER_DUMP=after:reverse`` prints the IR after the pass named ``reverse``
(``after:all`` after every pass); ``ADCOMPILER_VERIFY=1`` runs the verifier after every pass
(the test suite sets it).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from ..ir.core import Function
from ..ir.verifier import verify

Pass = Callable[[Function], Function]


class PassManager:
    def __init__(self, passes: list[tuple[str, Pass]], timings: dict[str, float]) -> None:
        self.passes = passes
        #: seconds spent in each pass over this manager's runs
        self.timings = timings

    def add(self, name: str, run: Pass) -> PassManager:
        self.passes.append((name, run))
        return self

    def run(self, fn: Function) -> Function:
        dump = os.environ.get("ADCOMPILER_DUMP", "")
        check = os.environ.get("ADCOMPILER_VERIFY", "") not in ("", "0")
        for name, run in self.passes:
            start = time.perf_counter()
            fn = run(fn)
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
            if check:
                verify(fn)
            if dump in (f"after:{name}", "after:all"):
                print(f"// IR after {name}\n{fn}\n", file=sys.stderr)
        return fn
