"""Paired ratios: two entries, each in a process of its own, their samples alternated.

On a shared machine the load changes from one minute to the next, and two entries timed
minutes apart can come out 1.5x closer or further apart than they are. Samples taken turn
about (``timing.measure_paired``) see the same load, so their ratio is what the targets are
read against. Each entry runs in a fresh process of its own, as a user would run it: JAX's
and PyTorch's thread pools, once started, slow down OpenBLAS in the same process (see
``benchmarks/isolated.py``), and machine code may crash its process.

    python -m benchmarks.paired serve NAME ENTRY SIZE

is one such process: it prepares and checks the entry, says so in a JSON line, then answers
each line ``once`` or a number of calls with a JSON line of seconds per call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any

from benchmarks.entry import prepare, reason
from benchmarks.isolated import find_entry
from benchmarks.results import PairedRow
from benchmarks.subproc import ROOT, child_environment
from benchmarks.timing import Config, Local, measure_paired
from benchmarks.workloads.base import Pair

#: what sets a library's thread count: removed where a pair runs with every library's defaults
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "ADCOMPILER_NUM_THREADS")


class EntryFailed(Exception):
    """An entry could not be prepared, or its process stopped answering."""


class Remote:
    """A :class:`timing.Sampler` of an entry served by a process of its own."""

    def __init__(self, workload: str, entry: str, size: int, cores: str) -> None:
        env = child_environment()
        cpus = None
        if cores == "1":
            cpus = {min(os.sched_getaffinity(0))}
        elif cores == "all":
            env = {k: v for k, v in env.items() if k not in THREAD_VARIABLES}
        self.name = entry
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.paired", "serve", workload, entry, str(size)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
        )
        self.cpus = self._answer()["cpus"]

    def _answer(self) -> dict[str, Any]:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            code = self.proc.poll()
            raise EntryFailed(f"{self.name}: {'crashed' if code and code < 0 else 'stopped'}") from None
        if "error" in data:
            raise EntryFailed(f"{self.name}: {data['error']}")
        return data

    def _ask(self, request: str) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        return float(self._answer()["s"])

    def once(self) -> float:
        return self._ask("once")

    def sample(self, number: int) -> float:
        return self._ask(str(number))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def run_pair(workload: str, pair: Pair, size: int, cfg: Config, timeout_s: float = 900.0) -> PairedRow:
    """The paired ratio of ``pair``, each entry in a fresh process on the cores the pair asks
    for; a failure (not installed, wrong, crashed, out of time) comes back as a row saying so."""
    result = PairedRow(pair.ours, pair.peer, pair.target, pair.cores)
    remotes: list[Remote] = []
    watchdog = threading.Timer(timeout_s, lambda: [r.proc.kill() for r in remotes])
    watchdog.start()
    try:
        for name in (pair.ours, pair.peer):
            remotes.append(Remote(workload, name, size, pair.cores))
        timing = measure_paired(remotes[0], remotes[1], cfg)
    except (EntryFailed, OSError) as e:
        result.status, result.note = (
            "n/a",
            str(e) if watchdog.is_alive() else f"timed out after {timeout_s:.0f} s",
        )
        return result
    finally:
        watchdog.cancel()
        for remote in remotes:
            remote.close()
    result.cpus = min(r.cpus for r in remotes)
    result.median, result.q1, result.q3 = (timing.quantile(q) for q in (0.5, 0.25, 0.75))
    result.pairs = len(timing.ratios)
    return result


def serve(workload_name: str, entry_name: str, size: int) -> int:
    """Prepare one entry, then time it on request (the other end of :class:`Remote`)."""
    from benchmarks.workloads import WORKLOADS

    workload = WORKLOADS[workload_name]
    try:
        entry = find_entry(workload, entry_name)
        args = workload.make_args(size)
        reference = workload.primal(*args) if entry.kind == "f" else workload.hand_grad(*args)
        row, thunk = prepare(entry, args, size, reference)
    except StopIteration:
        print(json.dumps({"error": f"no entry {entry_name!r}"}), flush=True)
        return 0
    except Exception as e:
        print(json.dumps({"error": reason(e)}), flush=True)
        return 0
    if thunk is None:
        print(json.dumps({"error": f"{row.status}: {row.note}" if row.note else row.status}), flush=True)
        return 0
    print(json.dumps({"cpus": len(os.sched_getaffinity(0))}), flush=True)
    local = Local(thunk)
    for request in sys.stdin:
        request = request.strip()
        seconds = local.once() if request == "once" else local.sample(int(request))
        print(json.dumps({"s": seconds}), flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        sys.exit("usage: python -m benchmarks.paired serve NAME ENTRY SIZE")
    sys.exit(serve(sys.argv[2], sys.argv[3], int(sys.argv[4])))
