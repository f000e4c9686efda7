"""The command line, tried as a user would: `adcompiler show | check | graph FILE.py:FUNC`."""

import shutil
import subprocess
import sys
import textwrap

import pytest

from adcompiler import cli

USER_FILE = """
import numpy as np
import adcompiler as ad
from helper import SCALE


def seed(w, x, b):
    L = (w * x + b) ** 2
    return L


def model(w, x):
    total = 0.0
    for i in range(x.shape[0]):
        total += np.sin(w * x[i]) * SCALE
    return total


@ad.custom_vjp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defvjp
def _(x, out, g):
    return g * np.exp(x)  # wrong on purpose: should be g / (1 + exp(-x))


def wrong(w):
    return np.sum(softplus(2.0 * w))


@ad.grad
def decorated(x):
    return 3.0 * x * x


def vector(x):
    return np.sin(x)


def gram(x):
    return np.sum(x @ x.T)


NOT_A_FUNCTION = 3
POINT = np.linspace(-1.0, 1.0, 5)
"""


@pytest.fixture
def user_file(tmp_path):
    """A user's module that imports a sibling module (its folder must be on sys.path)."""
    (tmp_path / "helper.py").write_text("SCALE = 2.0\n")
    path = tmp_path / "usercode.py"
    path.write_text(textwrap.dedent(USER_FILE))
    return path


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# ----------------------------------------------------------------------------- show
def test_show_prints_the_generic_gradient(capsys, user_file):
    status, out, err = run(capsys, "show", f"{user_file}:seed")
    assert status == 0, err
    assert "def grad_seed(w, x, b):" in out
    compile(out, "shown", "exec")  # the printed gradient is valid Python


def test_show_specialised_with_wrt_and_modes(capsys, user_file):
    status, out, _ = run(
        capsys, "show", f"{user_file}:seed", "--args", "2.0, 3.0, 1.0", "--wrt", "w", "--wrt", "b"
    )
    assert status == 0
    assert "with respect to w, b" in out and "return w_bar, b_bar" in out
    status, out, _ = run(
        capsys, "show", f"{user_file}:model", "--args", "0.5, np.ones(3)", "--mode", "forward"
    )
    assert status == 0 and "forward mode" in out
    status, out, _ = run(capsys, "show", f"{user_file}:model", "--args", "0.5, POINT")  # module globals
    assert status == 0 and "for i in reversed(range(" in out


def test_show_ir_and_llvm_ir(capsys, user_file):
    status, out, _ = run(capsys, "show", f"{user_file}:seed", "--args", "2.0, 3.0, 1.0", "--ir")
    assert status == 0 and out.startswith("func grad_seed(") or "\nfunc grad_seed(" in out
    status, out, err = run(capsys, "show", f"{user_file}:seed", "--args", "2.0, 3.0, 1.0", "--llvm-ir")
    assert status == 0, err
    assert "define" in out


def test_show_of_a_decorated_function_shows_its_derivative(capsys, user_file):
    status, out, _ = run(capsys, "show", f"{user_file}:decorated")
    assert status == 0 and "def grad_decorated(x):" in out


def test_show_without_types_asks_for_args(capsys, user_file):
    status, out, err = run(capsys, "show", f"{user_file}:gram")  # matmul's adjoint needs ranks
    assert status == 2 and "pass example arguments with --args" in err and "Traceback" not in err
    status, out, err = run(capsys, "show", f"{user_file}:gram", "--args", "np.ones((2, 3))")
    assert status == 0 and "def grad_gram(x):" in out


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "missing.py:f"], "no such file: missing.py"),
        (["show", "{file}"], "expected FILE.py:FUNC"),
        (["show", "{file}:nope"], "has no function 'nope' (functions defined there: "),
        (["show", "{file}:NOT_A_FUNCTION"], "is a int, not a function"),
        (["show", "{file}:seed", "--args", "2.0, (3"], "cannot evaluate --args"),
        (["show", "{file}:seed", "--args", "2.0, 3.0"], "missing a required argument: 'b'"),
        (["show", "{file}:seed", "--wrt", "z"], "no parameter named 'z'"),
        (["check", "{file}:seed", "--args", "2.0, 3.0, 1.0", "--wrt", "q"], "no parameter 'q'"),
        (
            ["graph", "{file}:seed", "--args", "2.0, 3.0, 1.0", "-o", "{dir}/x.jpg"],
            "use a .dot, .svg, .png or .pdf",
        ),
        (["show", "{file}:vector", "--args", "np.ones(2)"], "returns an array"),
    ],
)
def test_mistakes_give_one_line_and_status_2(capsys, user_file, argv, message):
    argv = [a.format(file=user_file, dir=user_file.parent) for a in argv]
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert message in err
    assert err.startswith(f"adcompiler {argv[0]}: error: ") and "Traceback" not in err


@pytest.mark.parametrize("command", ["show", "check"])
def test_ad_errors_show_the_source_location(capsys, user_file, command):
    status, _, err = run(capsys, command, f"{user_file}:seed", "--args", "2, 3.0, 1.0")
    assert status == 2
    first, *location = err.splitlines()
    assert "it is an int; pass a float" in first
    assert f'File "{user_file}", line' in location[0]


def test_a_broken_user_module_is_one_line(capsys, tmp_path):
    (tmp_path / "broken.py").write_text("import numpy as np\nx = 1 +\n")
    (tmp_path / "raising.py").write_text("raise RuntimeError('no data here')\n")
    status, _, err = run(capsys, "show", f"{tmp_path / 'broken.py'}:f")
    assert status == 2 and "syntax error at line 2" in err
    status, _, err = run(capsys, "show", f"{tmp_path / 'raising.py'}:f")
    assert status == 2 and "RuntimeError: no data here" in err


def test_no_traceback_from_a_subprocess(user_file):
    done = subprocess.run(
        [sys.executable, "-m", "adcompiler", "show", f"{user_file}:seed", "--args", "1, 2, 3"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stdout == ""


# ----------------------------------------------------------------------------- check
def test_check_passes_on_a_right_function(capsys, user_file):
    status, out, _ = run(capsys, "check", f"{user_file}:model", "--args", "0.7, POINT")
    assert status == 0
    assert "adcompiler (reverse)" in out and "adcompiler (forward)" in out and "finite diff." in out
    assert "OK: reverse and forward modes agree" in out


def test_check_reports_the_worst_entry_of_a_wrong_custom_rule(capsys, user_file):
    status, out, _ = run(capsys, "check", f"{user_file}:wrong", "--args", "np.linspace(-1, 1, 5)")
    assert status == 1
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("(")]
    assert len(rows) == 5 and all(row[-1] == "FAIL" for row in rows)
    assert "forward mode not checked" in out  # the rule has no JVP: reverse mode is checked alone
    fail = out.splitlines()[-1]
    assert fail.startswith("FAIL: reverse-mode gradient of wrong") and "index (" in fail and "4" in fail


def test_check_with_several_wrt_and_big_arrays(capsys, user_file):
    status, out, _ = run(
        capsys, "check", f"{user_file}:seed", "--args", "2.0, 3.0, 1.0", "--wrt", "w", "--wrt", "b"
    )
    assert status == 0 and "d seed / d w:" in out and "d seed / d b:" in out
    status, out, _ = run(
        capsys, "check", f"{user_file}:model", "--args", "0.3, np.linspace(0, 1, 40)", "--wrt", "x"
    )
    assert status == 0 and "largest errors shown, of 40" in out


# ----------------------------------------------------------------------------- graph
def test_graph_writes_dot_with_the_seed_adjoints(capsys, user_file, tmp_path):
    out_file = tmp_path / "seed.dot"
    status, out, _ = run(capsys, "graph", f"{user_file}:seed", "--args", "2.0, 3.0, 1.0", "-o", out_file)
    assert status == 0 and f"wrote {out_file}" in out
    dot = out_file.read_text()
    for text in ("value 7<", "value 49", "w_bar 42", "x_bar 28", "b_bar 14"):
        assert text in dot


def test_graph_to_stdout(capsys, user_file):
    status, out, _ = run(capsys, "graph", f"{user_file}:seed", "--args", "2.0, 3.0, 1.0")
    assert status == 0 and out.startswith('digraph "seed"') and "x_bar 28" in out


def test_graph_without_graphviz_writes_dot_and_says_so(capsys, user_file, tmp_path, monkeypatch):
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    status, _, err = run(
        capsys, "graph", f"{user_file}:seed", "--args", "2.0, 3.0, 1.0", "-o", tmp_path / "g.svg"
    )
    assert status == 0
    assert "not installed" in err and f"dot -Tsvg {tmp_path / 'g.dot'} -o {tmp_path / 'g.svg'}" in err
    assert "b_bar 14" in (tmp_path / "g.dot").read_text()
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_svg_through_graphviz(capsys, user_file, tmp_path):
    status, _, err = run(
        capsys, "graph", f"{user_file}:model", "--args", "0.5, np.ones(3)", "-o", tmp_path / "g.svg"
    )
    assert status == 0, err
    assert "<svg" in (tmp_path / "g.svg").read_text()


# ----------------------------------------------------------------------------- help
def test_help_has_examples():
    done = subprocess.run([sys.executable, "-m", "adcompiler", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for command in ("show", "check", "graph", "--args", "examples:"):
        assert command in done.stdout
    for command in ("show", "check", "graph"):
        sub = subprocess.run(
            [sys.executable, "-m", "adcompiler", command, "--help"], capture_output=True, text=True
        )
        assert sub.returncode == 0 and "FILE.py:FUNC" in sub.stdout and "examples:" in sub.stdout


@pytest.mark.skipif(shutil.which("adcompiler") is None, reason="the console script is not installed")
def test_console_script(user_file):
    done = subprocess.run(["adcompiler", "show", f"{user_file}:seed"], capture_output=True, text=True)
    assert done.returncode == 0 and "def grad_seed" in done.stdout
