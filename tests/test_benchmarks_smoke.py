"""The benchmark runner runs end to end at a tiny size and reports, rather than raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import cold
from benchmarks.entry import run_entry
from benchmarks.run import main
from benchmarks.timing import Config
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
