"""Checkpointing: every schedule gives the gradient storing everything gives, and the
binomial schedule recomputes exactly as few iterations as Revolve's optimum."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import user_functions as uf
from hypothesis import given, settings
from hypothesis import strategies as st

import adcompiler as ad
from adcompiler.ad.checkpoint import optimal_advances, schedule_advances

RNG = np.random.default_rng(11)
SCHEDULES = [ad.Revolve(1), ad.Revolve(2), ad.Revolve(3), ad.Revolve(40), ad.MemoryBudget(100), 10_000]


@cache
def _brute_force(t: int, free: int) -> int:
    """The fewest recomputed iterations, by trying every split."""
    if t <= 1:
        return 0
    if free == 0:
        return t * (t - 1) // 2
    return min(m + _brute_force(t - m, free - 1) + _brute_force(m, free) for m in range(1, t))


def test_schedule_is_optimal_against_brute_force():
    for t in range(1, 70):
        for snapshots in range(1, 7):
            assert (
                schedule_advances(t, snapshots)
                == _brute_force(t, snapshots - 1)
                == optimal_advances(t, snapshots)
            )


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 50_000), st.integers(1, 200))
def test_schedule_reaches_griewanks_bound(t, snapshots):
    assert schedule_advances(t, snapshots) == optimal_advances(t, snapshots)


def _close(a, b):
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=str)
def test_pendulum(schedule):
    stored = ad.grad(uf.pendulum, wrt=(0, 1), checkpoint=None)(0.3, 1.2, 157)
    _close(ad.grad(uf.pendulum, wrt=(0, 1), checkpoint=schedule)(0.3, 1.2, 157), stored)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=str)
def test_rnn_with_array_state(schedule):
    W, U = RNG.normal(size=(4, 4)) * 0.5, RNG.normal(size=(4, 3))
    xs = RNG.normal(size=(23, 3))
    stored = ad.grad(uf.rnn_loss, wrt=(0, 1, 2))(W, U, xs)
    _close(ad.grad(uf.rnn_loss, wrt=(0, 1, 2), checkpoint=schedule)(W, U, xs), stored)


@pytest.mark.parametrize("schedule", SCHEDULES[:3], ids=str)
def test_nested_loops(schedule):
    stored = ad.grad(uf.nested_loops)(0.7, 12)
    _close(ad.grad(uf.nested_loops, checkpoint=schedule)(0.7, 12), stored)


@pytest.mark.parametrize("x", [0.3, 5.0, 123.0])
def test_while_loop_with_data_dependent_trip_count(x):
    stored = ad.grad(uf.data_dependent_while)(x)
    for schedule in SCHEDULES[:3]:
        _close(ad.grad(uf.data_dependent_while, checkpoint=schedule)(x), stored)


def test_in_place_array_writes_in_the_loop():
    x = RNG.normal(size=11)
    stored = ad.grad(uf.smooth_inplace)(x)
    _close(ad.grad(uf.smooth_inplace, checkpoint=ad.Revolve(2))(x), stored)


def test_zero_iterations():
    assert ad.grad(uf.pendulum, checkpoint=ad.Revolve(2))(0.3, 1.2, 0) == 0.0


def test_the_schedule_is_visible_in_the_source():
    g = ad.grad(uf.pendulum, wrt=(0, 1), checkpoint=ad.Revolve(3))
    g(0.3, 1.2, 10)
    assert "Revolve" in g.source and "theta_snapshots" in g.source
    assert "Revolve" not in ad.grad(uf.pendulum, wrt=(0, 1)).source


def test_bad_policies():
    with pytest.raises(ValueError):
        ad.Revolve(0)
    with pytest.raises(ValueError):
        ad.grad(uf.pendulum, checkpoint="sometimes")(0.3, 1.2)


def test_plan_reports_memory_before_running():
    taped = ad.grad(uf.pendulum, wrt=(0, 1)).plan(0.3, 1.2, 1_000_000)
    assert taped.total_bytes == 16 * 1_000_000  # theta and omega at every step
    assert "1,000,000 iterations" in str(taped)
    revolved = ad.grad(uf.pendulum, wrt=(0, 1), checkpoint=ad.Revolve(100)).plan(0.3, 1.2, 1_000_000)
    assert revolved.total_bytes == 100 * 16
    (loop,) = revolved.loops
    assert loop.forward_sweeps == pytest.approx(2 + optimal_advances(1_000_000, 100) / 1_000_000)
    assert "nothing is taped" in str(ad.grad(uf.poly).plan(1.0))


def _loop_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += np.sin(x[i]) * x[i]
    return s


@pytest.mark.parametrize("checkpoint", [None, ad.Revolve(10), ad.MemoryBudget(500)])
def test_the_budget_check_weighs_what_the_plan_reports(checkpoint):
    """``checkpoint="auto"`` asks at every call what each loop stores
    (``LoopShape.stored_bytes``): the plan's total, without making its report."""
    g = ad.grad(uf.pendulum, wrt=(0, 1), checkpoint=checkpoint)
    args = (0.3, 1.2, 1000)
    g(*args)
    values = g._bind(args, {})
    (loop,) = g._loops_of(g._signature_of(values))
    assert loop.stored_bytes(values) == g.plan(*args).total_bytes


def test_a_loop_that_tapes_nothing_is_not_sized(monkeypatch):
    from adcompiler.ir.slice import Slice

    g = ad.grad(_loop_sum)
    x = RNG.random(5)
    g(x)
    monkeypatch.setattr(Slice, "run", lambda self, args: pytest.fail("sized a loop that stores nothing"))
    values = g._bind((x,), {})
    (loop,) = g._loops_of(g._signature_of(values))
    assert loop.stored_bytes(values) == 0
    np.testing.assert_allclose(g(x), np.cos(x) * x + np.sin(x), rtol=1e-14)


def test_auto_checkpoints_beyond_the_default_budget(monkeypatch):
    from adcompiler.transforms import reverse

    monkeypatch.setattr(reverse, "AUTO_BUDGET", 1000)  # 16 B per step: more than 62 steps
    g = ad.grad(uf.pendulum, wrt=(0, 1))
    _close(g(0.3, 1.2, 200), ad.grad(uf.pendulum, wrt=(0, 1), checkpoint=None)(0.3, 1.2, 200))
    assert "Revolve" in str(g.plan(0.3, 1.2, 200)) and "tape" in str(g.plan(0.3, 1.2, 50))
    # the checkpointed variant is compiled as the user asked: jit's options reach it
    fast = ad.jit(g, fastmath=True)
    _close(fast(0.3, 1.2, 200), g(0.3, 1.2, 200))
    assert " fast " in fast._auto_budgeted.llvm_ir
