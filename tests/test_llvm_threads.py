"""Large elementwise loops of the LLVM backend run on several threads (``parallel.py``,
``threads.py``): the results are those of serial code (``threads=1``) to the bit, for the
primal and the gradient, with broadcasting, strided views and 2-D arrays; small loops stay
serial; ``$ADCOMPILER_NUM_THREADS`` is honoured; two Python threads may call one compiled
gradient at once; a parallel loop may sit in the user's own ``for`` loop.

The code for threads comes later: the first code of a function runs its loops serially,
and the first call that runs a large one has the code for threads compiled in the
background (``ad.wait_for_compiles`` waits for it); ``threads=N`` compiles it at once.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from finite_diff import assert_grad_close, numerical_grad

import adcompiler as ad
from adcompiler.backends.llvm import live_allocations, threads
from adcompiler.backends.llvm.parallel import THRESHOLD
from benchmarks.problems.rosenbrock import rosenbrock
from tests.scripts import run_script

RNG = np.random.default_rng(11)
#: above the threshold whatever an element costs
N = THRESHOLD + 12_345


@pytest.fixture(autouse=True)
def two_threads():
    """At least two threads, whatever the machine has: the split is what is tested."""
    before = threads.num_threads()
    threads.set_num_threads(max(before, 2))
    yield
    threads.set_num_threads(before)


def elementwise(x, y):
    return np.exp(-x * x) * y + np.sin(x) / (1.0 + y * y)


def broadcast(a, r, c):
    """A (rows, cols) matrix with a column ``r`` and a row ``c``: 2-D loops over rows."""
    return np.sum(np.tanh(a * r + c) ** 2)


def stepped(x, n):
    """The user's own loop around whole-array operations."""
    for k in range(n):
        x = np.sin(x) * 0.5 + x * (0.1 * k)
    return x


def stepped_loss(x):
    y = x
    for k in range(3):
        y = np.cos(y) * 0.5 + x * (0.1 * k)
    return np.sum(y * y)


def pair(f, grad=False):
    """The function compiled with the default count of threads, and serially."""
    g = ad.grad(f) if grad else f
    return ad.jit(g), ad.jit(g, threads=1)


def assert_parallel_equals_serial(parallel, serial, *args):
    """The first call runs serial code, the call after the compiles in the background runs
    the code for threads: both give the serial results to the bit."""
    want = serial(*args)
    first = parallel(*args)
    ad.wait_for_compiles()
    before = threads.parallel_regions()
    got = parallel(*args)
    assert threads.parallel_regions() > before, "no loop ran on threads"
    assert np.array_equal(first, want)
    assert np.array_equal(got, want)
    return got


def test_elementwise_primal_is_bit_identical():
    x, y = RNG.normal(size=N), RNG.normal(size=N)
    got = assert_parallel_equals_serial(*pair(elementwise), x, y)
    np.testing.assert_allclose(got, elementwise(x, y), rtol=1e-13, atol=1e-14)


def test_strided_views_and_broadcast_scalars():
    x = RNG.normal(size=2 * N)
    y = RNG.normal(size=N)
    got = assert_parallel_equals_serial(*pair(elementwise), x[::2], y)
    np.testing.assert_allclose(got, elementwise(x[::2], y), rtol=1e-13, atol=1e-14)
    got = assert_parallel_equals_serial(*pair(elementwise), x[::-2], np.float64(0.5) + 0 * y)
    np.testing.assert_allclose(got, elementwise(x[::-2], 0.5 + 0 * y), rtol=1e-13, atol=1e-14)


def test_rosenbrock_gradient_is_bit_identical():
    x = RNG.uniform(-1.5, 1.5, N)
    got = assert_parallel_equals_serial(*pair(rosenbrock, grad=True), x)
    want = ad.grad(rosenbrock)(x)  # the Python backend: NumPy
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-12)


def test_2d_broadcast_gradient_is_bit_identical():
    rows = N // 300 + 1
    a = RNG.normal(size=(rows, 300))
    r, c = RNG.normal(size=(rows, 1)), RNG.normal(size=(1, 300))
    f = ad.grad(broadcast, wrt=(0, 1, 2))
    parallel, serial = ad.jit(f, threads=2), ad.jit(f, threads=1)  # compiled for threads at once
    before = threads.parallel_regions()
    got, want = parallel(a, r, c), serial(a, r, c)
    assert threads.parallel_regions() > before
    for g, w, p in zip(got, want, ad.grad(broadcast, wrt=(0, 1, 2))(a, r, c)):
        assert np.array_equal(g, w)
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-12)


def test_gradient_matches_python_backend_and_finite_differences():
    grad = ad.grad(stepped_loss, backend="llvm")
    x = RNG.normal(size=N)
    np.testing.assert_allclose(grad(x), ad.grad(stepped_loss)(x), rtol=1e-12, atol=1e-14)
    small = RNG.normal(size=7)
    assert_grad_close(grad(small), numerical_grad(stepped_loss, (small,)))


def test_parallel_loop_inside_a_user_loop():
    x = RNG.normal(size=N)
    got = assert_parallel_equals_serial(*pair(stepped), x, 4)
    np.testing.assert_allclose(got, stepped(x, 4), rtol=1e-13)
    g_par, g_ser = pair(stepped_loss, grad=True)
    assert_parallel_equals_serial(g_par, g_ser, x)


def total(x):
    return np.sum(x)


def fused_mean(x):
    return np.mean(np.exp(-x * x) * 3.0 - x)


@pytest.mark.parametrize(
    "f, make",
    [
        (total, lambda: RNG.normal(size=N)),  # an array in memory
        (total, lambda: RNG.normal(size=(N // 100, 100))),  # a C-contiguous matrix: one run
        (total, lambda: RNG.normal(size=2 * N)[::2]),  # strided
        (total, lambda: -0.0 * np.ones(N)),  # zeros' signs survive the halves
        (fused_mean, lambda: RNG.normal(size=N)),  # a fused operand
        (rosenbrock, lambda: RNG.uniform(-1.5, 1.5, N)),
    ],
)
def test_sums_add_their_halves_on_two_threads_as_numpy(f, make):
    """NumPy's pairwise sum splits at the top level: the halves' sums on two threads give
    the same bits as one thread (and as NumPy, where the elements are NumPy's)."""
    x = make()
    got = assert_parallel_equals_serial(*pair(f), x)
    if f is not fused_mean:  # exp is ours, not NumPy's
        assert got == f(x) and np.signbit(got) == np.signbit(f(x))


def test_small_loops_stay_serial(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """... and never ask for code for threads (an empty cache: no code for threads in it)."""
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))
    x, y = RNG.normal(size=1000), RNG.normal(size=1000)
    f = ad.jit(elementwise)
    f(x, y)
    before = threads.parallel_regions()
    assert np.array_equal(f(x, y), ad.jit(elementwise, threads=1)(x, y))
    assert threads.parallel_regions() == before
    assert "adc_threads_wanted" in f.llvm_ir and "adc_parallel_run" not in f.llvm_ir


def test_the_first_tier_has_no_code_for_threads_until_a_loop_is_large(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))
    f = ad.jit(elementwise)
    x = RNG.normal(size=N)
    f(x[:100], x[:100])
    assert "adc_parallel_run" not in f.llvm_ir
    f(x, x)  # large: asks
    ad.wait_for_compiles()
    # the code of the last call's pattern and layout, which calls now run
    assert "adc_parallel_run" in f.llvm_ir and "adc_threads_wanted" not in f.llvm_ir


def test_threads_option_compiles_code_for_threads_at_once():
    f = ad.jit(elementwise, threads=2)
    x = RNG.normal(size=N)
    before = threads.parallel_regions()
    assert np.array_equal(f(x, x), ad.jit(elementwise, threads=1)(x, x))
    assert threads.parallel_regions() > before
    assert "adc_threads_wanted" not in f.llvm_ir


def test_threads_option_one_compiles_serial_code():
    f = ad.jit(elementwise, threads=1)
    x = RNG.normal(size=N)
    f(x, x)
    assert "adc_parallel_run" not in f.llvm_ir
    with pytest.raises(ValueError, match="threads"):
        ad.jit(elementwise, threads=0)


def test_set_num_threads_one_keeps_compiled_code_serial(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))
    f = ad.jit(elementwise)
    x, y = RNG.normal(size=N), RNG.normal(size=N)
    ad.set_num_threads(1)
    try:
        want = f(x, y)  # serial code does not ask for threads it may not use
        assert "adc_parallel_run" not in f.llvm_ir  # (after the compiles in the background)
        ad.set_num_threads(2)
        f(x, y)
        ad.wait_for_compiles()
        ad.set_num_threads(1)
        assert ad.get_num_threads() == 1
        before = threads.parallel_regions()
        assert np.array_equal(f(x, y), want)
        assert threads.parallel_regions() == before
    finally:
        ad.set_num_threads(2)
    assert ad.get_num_threads() == 2
    before = threads.parallel_regions()
    assert np.array_equal(f(x, y), want)
    assert threads.parallel_regions() > before
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            ad.set_num_threads(bad)


def test_two_python_threads_call_one_gradient():
    grad = ad.grad(rosenbrock, backend="llvm")
    inputs = [RNG.uniform(-1.5, 1.5, N) for _ in range(4)]
    want = [ad.jit(ad.grad(rosenbrock), threads=1)(x) for x in inputs]
    errors: list[str] = []

    def work(k: int) -> None:
        for _ in range(10):
            if not np.array_equal(grad(inputs[k]), want[k]):
                errors.append(f"input {k}")

    runners = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in runners:
        t.start()
    for t in runners:
        t.join()
    assert not errors


def test_no_leaks():
    x = RNG.normal(size=N)
    f = ad.jit(elementwise)
    f(x, x)
    ad.wait_for_compiles()
    before = live_allocations()
    out = f(x, x)
    assert live_allocations() == before + 1
    del out
    assert live_allocations() == before


_CHILD = """
import numpy as np, adcompiler as ad
from adcompiler.backends.llvm import threads
from adcompiler.backends.llvm.parallel import THRESHOLD
x = np.linspace(0.0, 1.0, THRESHOLD + 1000)
def f(x):
    return np.sin(x) * x
g = ad.jit(f)
g(x)
ad.wait_for_compiles()
g(x)
print(threads.num_threads(), threads.parallel_regions(), threads.pool_threads())
"""


@pytest.mark.parametrize("count", [1, 3])
def test_environment_variable_sets_the_count(tmp_path: Path, count: int):
    out = run_script(tmp_path, _CHILD, **{threads.ENVIRONMENT: str(count)})
    threads_used, regions, started = map(int, out.split())
    assert threads_used == count
    assert regions == (0 if count == 1 else 1)
    assert started == count - 1


_FORK = """
import os
import numpy as np, adcompiler as ad
from adcompiler.backends.llvm import threads
from adcompiler.backends.llvm.parallel import THRESHOLD
from benchmarks.problems.rosenbrock import rosenbrock
from tests.scripts import run_script
threads.set_num_threads(2)
x = np.linspace(-1.0, 1.0, THRESHOLD + 1000)
grad = ad.grad(rosenbrock, backend="llvm")
grad(x)
ad.wait_for_compiles()  # no compile in the background at the fork
want = grad(x)  # the pool has started in this process
pid = os.fork()
if pid == 0:  # the child: whether the gradient is right, and whether it ran on threads
    before = threads.parallel_regions()
    right = np.array_equal(grad(x), want)
    print(right, threads.parallel_regions() > before, flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_starts_its_own_pool(tmp_path: Path):
    """After ``fork`` the child has none of the pool's threads: its regions start new ones.
    (In a process of its own: this one may have JAX's threads, which fork warns about.)"""
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    assert run_script(tmp_path, _FORK).split() == ["True", "True", "0"]


def test_the_cache_keeps_the_code_for_threads(tmp_path: Path):
    """A second process starts with the code for threads the first one compiled: both of
    its calls run on threads, where the first process's first call ran serially."""
    two = {threads.ENVIRONMENT: "2"}
    runs = [run_script(tmp_path, _CHILD, **two).split() for _ in range(2)]
    assert runs == [["2", "1", "1"], ["2", "2", "1"]]
