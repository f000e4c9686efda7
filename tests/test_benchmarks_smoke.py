"""The benchmark runner runs end to end at a tiny size and reports, rather than raises."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks import cold
from benchmarks.entry import run_entry
from benchmarks.run import main
from benchmarks.timing import Config, Local, PairedTiming, measure_paired
from benchmarks.workloads import Entry


def test_runner_quick_tiny(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    argv = ["--quick", "--size", "30", "--repeats", "1", "--no-cold", "-q", "--json", str(out)]
    assert main([*argv, "--only", "rosenbrock", "--only", "pendulum"]) == 0
    printed = capsys.readouterr().out
    assert "machine:" in printed and "hand-written numpy" in printed
    data = json.loads(out.read_text())
    assert [w["name"] for w in data["workloads"]] == ["rosenbrock", "pendulum"]
    for w in data["workloads"]:
        rows = {r["name"]: r for r in w["rows"]}
        assert rows["numpy (as written)"]["status"] == "ok"
        assert rows["hand-written numpy"]["status"] == "ok"
        assert all(r["status"] != "WRONG" or r["name"].startswith("ad.") for r in w["rows"])
    pendulum_pairs = data["workloads"][1]["pairs"]
    assert ("ad.grad [llvm]", "hand-written numba") in {(p["ours"], p["peer"]) for p in pendulum_pairs}
    assert "paired    ours / peer" in printed


def test_a_failing_entry_is_reported_not_raised() -> None:
    def broken(args: tuple[object, ...]) -> object:
        raise RuntimeError("boom\nsecond line")

    row = run_entry(Entry("broken", "grad", broken), (), 1, 0.0, Config(1, 0.0, 1.0))
    assert (row.status, row.note) == ("n/a", "RuntimeError: boom")


def test_a_wrong_entry_is_flagged() -> None:
    row = run_entry(Entry("off", "f", lambda args: lambda: 1.1), (), 1, 1.0, Config(1, 0.0, 1.0))
    assert row.status == "WRONG" and row.median_s is None


def test_cold_and_warm_starts_answer() -> None:
    """Both fresh processes run the gradient; the second finds the first's object code."""
    starts = cold.run_starts("rosenbrock", "llvm", 10, timeout_s=120)
    assert set(starts) == {"cold", "warm"}
    for data in starts.values():
        assert "error" not in data, data
        assert float(data["first_call_s"]) > 0 and float(data["second_call_s"]) > 0


def test_call_overhead_runs_every_entry_and_checks_it(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import overhead

    assert overhead.main(["--repeats", "1"]) == 0
    printed = capsys.readouterr().out
    for name in ("python", "ad.jit [llvm]", "ad.grad [python]", "ad.grad [llvm]"):
        assert f"\n{name} " in printed
    assert "WRONG" not in printed


def test_paired_quantiles_interpolate() -> None:
    timing = PairedTiming([4.0, 1.0, 3.0, 2.0, 5.0])
    assert [timing.quantile(q) for q in (0.0, 0.25, 0.5, 0.75, 1.0)] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert PairedTiming([1.0, 2.0]).quantile(0.5) == 1.5


def test_paired_samples_alternate_and_respect_the_budget() -> None:
    calls: list[str] = []
    cfg = Config(repeats=1, min_sample_s=0.0, budget_s=1.0, pairs=5)
    timing = measure_paired(Local(lambda: calls.append("a")), Local(lambda: calls.append("b")), cfg)
    assert len(timing.ratios) == 5 and all(r > 0 for r in timing.ratios)
    # one call each to estimate, then a-b, b-a, a-b, ...: neither always runs second
    assert "".join(calls) == "ab" + "ab" + "ba" + "ab" + "ba" + "ab"


def test_a_pair_runs_in_a_fresh_process_and_is_reported() -> None:
    from benchmarks.paired import run_pair
    from benchmarks.report import format_pairs
    from benchmarks.results import WorkloadResult
    from benchmarks.workloads.base import Pair

    cfg = Config(repeats=1, min_sample_s=0.001, budget_s=1.0, pairs=3)
    row = run_pair("pendulum", Pair("ad.grad [llvm]", "hand-written numpy", 1.3), 30, cfg, timeout_s=120)
    assert row.status == "ok", row.note
    assert row.pairs >= 3 and row.q1 is not None and row.q3 is not None and row.median is not None
    assert 0 < row.q1 <= row.median <= row.q3
    missing = run_pair("pendulum", Pair("ad.grad [llvm]", "no such peer", 1.0), 30, cfg, timeout_s=120)
    assert missing.status == "n/a"
    result = WorkloadResult("pendulum", "", "steps", 30, pairs=[row, missing])
    lines = format_pairs([result]).splitlines()
    assert lines[1].startswith("pendulum") and lines[1].rstrip().endswith(("met", "over"))
    assert "n/a" in lines[2]


def test_a_pair_on_one_core_is_pinned_to_one_cpu() -> None:
    from benchmarks.paired import run_pair
    from benchmarks.workloads.base import Pair

    cfg = Config(repeats=1, min_sample_s=0.001, budget_s=1.0, pairs=3)
    one = run_pair(
        "pendulum", Pair("ad.grad [llvm]", "hand-written numpy", 1.3, cores="1"), 30, cfg, timeout_s=120
    )
    assert one.status == "ok", one.note
    assert (one.cores, one.cpus) == ("1", 1)
    every = run_pair(
        "pendulum", Pair("ad.grad [llvm]", "hand-written numpy", 1.3, cores="all"), 30, cfg, timeout_s=120
    )
    assert every.status == "ok", every.note
    assert every.cpus == len(os.sched_getaffinity(0))
