"""Transformed functions cross process boundaries: they pickle by reference to the user's
module-level function, and a worker process regenerates the same derivative."""

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import adcompiler as ad


def loss(w, X, y):
    r = np.tanh(X @ w) - y
    return np.sum(r * r)


def looped(x, n):
    s = 0.0
    for _ in range(n):
        s = s + np.sin(x * s) + x
    return s


def scalar(x, y):
    return x * x * y + np.exp(x * y)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4))
    return rng.normal(size=4), X, np.tanh(X @ rng.normal(size=4))


def test_sharded_gradient_in_worker_processes_equals_the_local_one(data):
    w, X, y = data
    dloss = ad.grad(loss)
    shards = np.array_split(np.arange(len(X)), 4)
    # spawned workers inherit nothing: only the pickled reference reaches them
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        parts = list(pool.map(dloss, [w] * len(shards), [X[s] for s in shards], [y[s] for s in shards]))
        whole = pool.submit(dloss, w, X, y).result()
    local = dloss(w, X, y)
    np.testing.assert_allclose(np.sum(parts, axis=0), local, rtol=1e-12)
    np.testing.assert_array_equal(whole, local)


@pytest.mark.parametrize(
    ("make", "args"),
    [
        (lambda: ad.grad(loss), "data"),
        (lambda: ad.grad(looped), (0.3, 5)),
        (lambda: ad.value_and_grad(scalar, wrt=(0, "y")), (0.5, 1.5)),
        (lambda: ad.jvp(scalar), (0.5, 1.5, 1.0)),
        (lambda: ad.hessian(scalar), (0.5, 1.5)),
        (lambda: ad.grad(ad.grad(scalar)), (0.5, 1.5)),
        (lambda: ad.grad(scalar, mode="forward"), (0.5, 1.5)),
    ],
    ids=["grad", "grad-loop", "value_and_grad", "jvp", "hessian", "grad-grad", "forward"],
)
def test_pickle_round_trip(make, args, data):
    f = make()
    args = data if args == "data" else args
    copy = pickle.loads(pickle.dumps(f))
    assert type(copy) is type(f) and copy.__name__ == f.__name__
    assert_same(copy(*args), f(*args))


def assert_same(got, expected):
    """Equal results, tuples (value and gradient, several gradients) compared part by part."""
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_same(g, e)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_pickle_is_a_reference_not_code():
    blob = pickle.dumps(ad.grad(loss))
    assert b"test_parallel" in blob and b"loss" in blob
    assert b"def grad_loss" not in blob and len(blob) < 1000
