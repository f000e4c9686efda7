"""Pictures of a computation (``adcompiler.graph``): forward values and adjoints in DOT text."""

import re
import shutil
import subprocess

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.graph import format_value, graph


def seed(w, x, b):
    L = (w * x + b) ** 2
    return L


def looped(x, n):
    s = 0.0
    for i in range(n):  # noqa: B007 - the picture shows the loop index
        if s > 1.0:
            s = s * 0.5
        s = s + np.sin(x) * s + x
    return s


def counted(h):
    k = 0
    while k < 3:
        h = h * 0.9
        k += 1
    return np.sum(h * h)


@ad.custom_vjp
def quantize(x):
    return np.round(x)


@quantize.defvjp
def _(x, out, g):
    return g


def block(x):
    a = np.sin(x)
    return a * np.exp(a)


def mixed(x, w):
    assert x > 0.0, "x must be positive"
    h = ad.checkpoint(block)(x)
    q = quantize(w * h)
    return np.sum(q * w)


def vector_out(x):
    return np.sin(x)


def label_of(dot: str, name: str) -> str:
    """The label of the node whose value is named ``name``."""
    match = re.search(rf"\[label=<<b>{re.escape(name)}</b>(.*?)>(?:, peripheries=2)?\];", dot)
    assert match, f"no node {name!r} in\n{dot}"
    return match.group(1)


def test_seed_example_shows_values_and_adjoints():
    dot = graph(seed, 2.0, 3.0, 1.0)
    assert "value 7<" in dot  # w*x + b
    L = label_of(dot, "L")
    assert "value 49" in L and "L_bar 1" in L
    assert "w_bar 42" in label_of(dot, "w")
    assert "x_bar 28" in label_of(dot, "x")
    assert "b_bar 14" in label_of(dot, "b")
    assert "line " in L and "(w * x + b) ** 2" in L  # the user's source line
    assert "pow(%1, 2)" in L  # the constant folded into the label


def test_adjoint_edges_run_backwards_dashed():
    dot = graph(seed, 2.0, 3.0, 1.0)
    forward = re.findall(r"^\s*(v\d+) -> (v\d+);$", dot, re.M)
    backward = re.findall(r"^\s*(v\d+) -> (v\d+) \[style=dashed", dot, re.M)
    assert forward and sorted(backward) == sorted((b, a) for a, b in forward)


def test_wrt_limits_the_adjoints():
    dot = graph(seed, 2.0, 3.0, 1.0, wrt="w")
    assert "w_bar 42" in dot
    assert "x_bar" not in label_of(dot, "x") and "b_bar" not in label_of(dot, "b")


def test_loops_and_branches_are_clusters():
    dot = graph(looped, 0.5, 3)
    assert re.search(r"subgraph cluster_for_\d+ \{", dot)
    assert re.search(r"subgraph cluster_if_\d+ \{", dot)
    assert "for i in range(0, n, 1)" in dot
    assert "starts at 0" in label_of(dot, "s")  # the loop's initial value, a folded constant
    assert 'label="next"' in dot  # the carried value's back edge
    # the loop result is a top-level value: it has a value and the seed adjoint
    result = re.findall(r"result of for<br/>.*?value ([\d.]+)", dot)
    assert result and float(result[0]) == pytest.approx(looped(0.5, 3), rel=1e-5)
    assert "x_bar" in label_of(dot, "x")


def test_while_loop_and_arrays():
    dot = graph(counted, np.array([1.0, 2.0, 3.0, 4.0]))
    assert re.search(r"subgraph cluster_while_\d+ \{", dot)
    assert "subgraph cluster_condition_" in dot and "subgraph cluster_body_" in dot
    h = label_of(dot, "h")
    assert "value array(4,) [1, 2, 3, …]" in h
    assert "h_bar array(4,) [1.06288, 2.12576" in h  # 2 * 0.9**6 * h


def test_custom_rules_checkpoints_and_asserts():
    dot = graph(mixed, 0.3, np.array([1.0, 2.0]))
    assert re.search(r"subgraph cluster_checkpoint_\d+ \{", dot)
    assert "quantize(%3)" in label_of(dot, "q") and "value array(2,) [0, 1]" in label_of(dot, "q")
    assert 'label="assert(%0)", shape=plain' in dot
    assert "value 0.397128" in label_of(dot, "h")  # sin(0.3) * exp(sin(0.3))


def test_non_scalar_output_has_values_but_no_adjoints():
    dot = graph(vector_out, np.zeros(2))
    assert "_bar" not in dot and "no adjoints" in dot


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (7.0, "7"),
        (0.125, "0.125"),
        (3, "3"),
        (True, "True"),
        (np.arange(5.0), "array(5,) [0, 1, 2, …]"),
        ((1, 2.5), "(1, 2.5)"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("args", [(seed, 2.0, 3.0, 1.0), (looped, 0.5, 3), (counted, np.ones(3))])
def test_graphviz_accepts_the_dot_text(args):
    done = subprocess.run(["dot", "-Tsvg"], input=graph(*args), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout
