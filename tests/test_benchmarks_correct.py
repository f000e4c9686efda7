"""The benchmarks' reference gradients are right: hand-written NumPy against central finite
differences, and every peer (Numba adjoints, autograd, JAX, PyTorch when installed) against it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchmarks.entry import rel_error
from benchmarks.workloads import WORKLOADS, Entry, Workload

SMALL = {"rosenbrock": 40, "mlp": 5, "logreg": 60, "loop_sum": 40, "pendulum": 300}
H = 1e-6


def _shifted(args: tuple[Any, ...], i: int, v: Any, h: float) -> tuple[Any, ...]:
    return tuple(a + h * v if k == i else a for k, a in enumerate(args))


def _directional_fd(f: Any, args: tuple[Any, ...], i: int, v: Any) -> float:
    return (f(*_shifted(args, i, v, H)) - f(*_shifted(args, i, v, -H))) / (2 * H)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_hand_grad_matches_finite_differences_along_random_directions(name: str) -> None:
    w = WORKLOADS[name]
    args = w.make_args(SMALL[name])
    grads = w.hand_grad(*args)
    assert len(grads) == len(w.wrt)
    rng = np.random.default_rng(1)
    for g, i in zip(grads, w.wrt):  # one input at a time, so a small one can't hide in a big one
        assert np.shape(g) == np.shape(args[i])
        for _ in range(3):
            v = rng.normal(size=np.shape(args[i]))
            v = float(v) if np.ndim(v) == 0 else v
            exact = float(np.sum(np.asarray(g) * v))
            fd = _directional_fd(w.primal, args, i, v)
            assert fd == pytest.approx(exact, rel=1e-6, abs=1e-8), f"{name}: input {i}"


@pytest.mark.parametrize("name", ["rosenbrock", "loop_sum"])
def test_hand_grad_matches_finite_differences_coordinatewise(name: str) -> None:
    w = WORKLOADS[name]
    (x,) = w.make_args(10)
    (g,) = w.hand_grad(x)
    fd = np.array([_directional_fd(w.primal, (x,), 0, e) for e in np.eye(x.size)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


def _peer_cases() -> list[Any]:
    return [pytest.param(w, e, id=f"{w.name}-{e.name}") for w in WORKLOADS.values() for e in w.peers]


@pytest.mark.parametrize(("workload", "entry"), _peer_cases())
def test_peer_agrees_with_reference(workload: Workload, entry: Entry) -> None:
    size = min(SMALL[workload.name], entry.max_size or SMALL[workload.name])
    args = workload.make_args(size)
    try:
        thunk = entry.factory(args)
    except ModuleNotFoundError as e:
        pytest.skip(f"{e.name} not installed")
    want = workload.primal(*args) if entry.kind == "f" else workload.hand_grad(*args)
    assert rel_error(thunk(), want) <= 1e-9
