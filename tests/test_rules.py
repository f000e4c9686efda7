"""Every derivative rule of the table, checked against central finite differences.

The cases come from the op table itself: an op registered without a case here fails
``test_every_op_is_covered``, so a new op is covered the moment it is registered. Each case
builds ``loss = sum(op(xs) * w)`` as IR (``w`` a fixed random weight, so permuted or
mis-summed adjoints show), and checks the reverse-mode gradient, the JVP and the batched
JVP (forward-mode gradients) against finite differences of the primal.
"""

from __future__ import annotations

import numpy as np
import pytest

from adcompiler.ad.forward import ForwardAD
from adcompiler.ad.reverse import ReverseAD
from adcompiler.ad.rules import JVP, VJP
from adcompiler.backends.python import compile_module, emit_module
from adcompiler.check import numerical_grad as numerical_gradient
from adcompiler.ir.builder import Builder
from adcompiler.ir.core import Function, Region, Value
from adcompiler.ir.interp import run
from adcompiler.ir.ops import NON_DIFFERENTIABLE, OPS
from adcompiler.ir.types import type_of_python_value
from adcompiler.ir.verifier import verify
from adcompiler.passes.simplify import simplify

RNG = np.random.default_rng(7)


def _arg(spec: str):
    """A sample input: s scalar, v (4,), m (3, 4), r (1, 4), c (3, 1), q (4, 4), w (4, 2), and
    stacks of matrices t (2, 3, 4), k (2, 4, 2), p (5, 1, 4, 4); a trailing + draws from
    [0.5, 2] (positive), a trailing u from [-0.6, 0.6] (inside the unit interval)."""
    shape = {"s": (), "v": (4,), "m": (3, 4), "r": (1, 4), "c": (3, 1), "q": (4, 4), "w": (4, 2),
             "t": (2, 3, 4), "k": (2, 4, 2), "p": (5, 1, 4, 4)}[spec[0]]  # fmt: skip
    lo, hi = (0.5, 2.0) if spec.endswith("+") else (-0.6, 0.6) if spec.endswith("u") else (-1.5, 1.5)
    x = RNG.uniform(lo, hi, size=shape)
    return float(x) if shape == () else x


def C(value):
    """A constant operand (an int index, a shape tuple...), not differentiated."""
    return ("const", value)


SL = ("slice", False, False, False)
# op -> list of (operands, attrs)
CASES: dict[str, list[tuple[list, dict]]] = {
    **{
        name: [(["s"], {}), (["v"], {})]
        for name in "sin cos tan exp exp2 expm1 tanh sinh cosh arctan neg square float copy".split()
    },
    **{name: [(["s+"], {}), (["m+"], {})] for name in "log log2 log10 log1p sqrt".split()},
    "abs": [(["s+"], {}), (["v+"], {})],
    "arcsin": [(["su"], {}), (["vu"], {})],
    "arccos": [(["su"], {}), (["vu"], {})],
    **{name: [(["s", "s"], {}), (["v", "s"], {}), (["m", "r"], {}), (["c", "r"], {})]
       for name in "add sub mul logaddexp arctan2".split()},
    "div": [(["s", "s+"], {}), (["m", "v+"], {}), (["s", "c+"], {})],
    "pow": [(["s+", "s"], {}), (["v+", "s"], {}), (["m+", "r"], {}), (["v+", C(3)], {})],
    "mod": [(["s+", C(0.7)], {}), (["v+", C(0.7)], {})],
    "maximum": [(["v", "v"], {}), (["m", "s"], {})],
    "minimum": [(["v", "v"], {}), (["m", "r"], {})],
    "where": [([("cond", np.array([True, False, True, False])), "v", "v"], {}), ([("cond", True), "s", "m"], {})],
    "clip": [(["v", C(-0.5), C(0.5)], {}), (["m", "s", "r"], {})],
    "sum": [(["m"], {"axis": None}), (["m"], {"axis": 0}), (["m"], {"axis": 1, "keepdims": True}),
            (["m"], {"axis": (0, 1)}), (["v"], {"axis": -1})],
    "mean": [(["m"], {"axis": None}), (["m"], {"axis": 1}), (["m"], {"axis": 0, "keepdims": True})],
    "prod": [(["v+"], {"axis": None}), (["m+"], {"axis": 1})],
    "max": [(["v"], {"axis": None}), (["m"], {"axis": 1}), (["m"], {"axis": 0, "keepdims": True})],
    "min": [(["v"], {"axis": None}), (["m"], {"axis": 0})],
    "dot": [(["v", "v"], {}), (["m", "v"], {}), (["v", "q"], {}), (["m", "w"], {}), (["s", "v"], {}),
            (["t", "w"], {}), (["t", "v"], {}), (["m", "k"], {}), (["v", "k"], {}), (["t", "k"], {})],
    "matmul": [(["v", "v"], {}), (["m", "v"], {}), (["v", "q"], {}), (["m", "w"], {}),
               (["t", "k"], {}), (["t", "w"], {}), (["m", "k"], {}), (["v", "k"], {}), (["t", "v"], {}),
               (["p", "k"], {})],
    "outer": [(["v", "v"], {})],
    "cumsum": [(["v"], {"axis": 0}), (["m"], {"axis": 1}), (["m"], {"axis": -2, "reverse": True})],
    "transpose": [(["m"], {"axes": None}), (["m"], {"axes": (1, 0)})],
    "reshape": [(["m", C((4, 3))], {}), (["m", C(12)], {})],
    "broadcast_to": [(["r", C((3, 4))], {}), (["s", C((2, 3))], {})],
    "sum_to": [(["m", C((1, 4))], {}), (["m", C((4,))], {})],
    "expand_dims": [(["v"], {"axis": 0}), (["m"], {"axis": (0, 3)})],
    "concatenate": [(["v", "v", "v"], {"axis": 0}), (["m", "m"], {"axis": 1}), (["m", "m"], {"axis": -2})],
    "stack": [(["s", "s", "s"], {"axis": 0}), (["v", "v"], {"axis": 1})],
    "getitem": [
        (["v", C(2)], {"index": (("idx",),)}),
        (["m", C(1), C(-1)], {"index": (("idx",), ("idx",))}),
        (["m", C(1), C(3)], {"index": (SL, ("slice", True, True, False))}),
        (["v", C(1), C(2)], {"index": (("slice", True, False, True),)}),
        (["m", ("ints", np.array([0, 2, 0]))], {"index": (("idx",),)}),
        (["v"], {"index": (("newaxis",), SL)}),
    ],
    "setitem": [
        (["v", "s", C(1)], {"index": (("idx",),)}),
        (["m", "v", C(2)], {"index": (("idx",),)}),
        (["m", "s", C(1), C(3)], {"index": (SL, ("slice", True, True, False))}),
        (["v", "v", ("ints", np.array([0, 1, 1, 3]))], {"index": (("idx",),)}),  # the last write counts
    ],
    "index_add": [
        (["v", "s", C(1)], {"index": (("idx",),)}),
        (["v", "v", ("ints", np.array([0, 1, 1, 3]))], {"index": (("idx",),)}),
    ],
    "full": [([C((2, 3)), "s"], {})],
    "full_like": [(["m", "s"], {})],
}  # fmt: skip

#: ops that are not elementwise-on-floats, checked elsewhere: control flow, tapes, custom rules
STRUCTURAL = {"if", "for", "while", "checkpoint", "push", "pop", "custom_call", "custom_vjp_call",
              "custom_jvp_call", "const", "tuple", "tuple_get", "tuple_cat"}  # fmt: skip


def test_every_op_is_covered():
    for name in OPS:
        if name in NON_DIFFERENTIABLE or name in STRUCTURAL:
            continue
        assert name in CASES, f"op {name} has no finite-difference case in tests/test_rules.py"
        assert name in VJP, f"op {name} has no VJP rule"
        assert name in JVP, f"op {name} has no JVP rule"


def _build(name: str, operands: list, attrs: dict, args: list):
    """``loss(*float_args, w) = sum(op(...) * w)`` as typed IR; returns it and the op's value."""
    params = [Value(type_of_python_value(a)) for a in args]
    body = Region(params)
    b = Builder(body)
    values, it = [], iter(params)
    for spec in operands:
        if isinstance(spec, tuple) and spec[0] == "const":
            values.append(b.const(spec[1]))
        else:
            values.append(next(it))
    out = b.op(name, *values, **attrs)
    return body, b, out, list(it)


def _case(name, operands, attrs):
    args = [
        _arg(s) if isinstance(s, str) else s[1]
        for s in operands
        if not (isinstance(s, tuple) and s[0] == "const")
    ]
    # the op alone, to learn its output's shape
    body, b, out, _ = _build(name, operands, attrs, args)
    body.yields = [out]
    shape = np.shape(run(Function("probe", body, [f"x{k}" for k in range(len(args))]), *args))
    weight = RNG.uniform(0.5, 1.5, size=shape)
    weight = float(weight) if shape == () else weight
    body, b, out, _ = _build(name, operands, attrs, args + [weight])
    w = body.args[-1]
    body.yields = [b.sum(b.mul(out, w)) if shape else b.mul(out, w)]
    fn = Function("loss", body, [f"x{k}" for k in range(len(args))] + ["w"])
    verify(fn)
    floats = [k for k, a in enumerate(args) if np.asarray(a).dtype == float]
    return fn, args + [weight], floats


def _ids():
    for name, cases in CASES.items():
        for k, (operands, attrs) in enumerate(cases):
            yield pytest.param(name, operands, attrs, id=f"{name}-{k}")


@pytest.mark.parametrize("name, operands, attrs", list(_ids()))
def test_rule_against_finite_differences(name, operands, attrs):
    fn, args, floats = _case(name, operands, attrs)
    primal = lambda *a: run(fn, *a)  # noqa: E731
    expected = [numerical_gradient(primal, args, k) for k in floats]

    adjoint = ReverseAD(fn, floats).build(
        "grad",
        lambda b, f: [(fn.returns[0], b.const(1.0))],
        lambda b, v, g: b.tuple(*g) if len(g) > 1 else g[0],
    )
    verify(adjoint)
    adjoint = simplify(adjoint)
    verify(adjoint)
    compiled = compile_module(emit_module(adjoint), "grad")
    grads = compiled(*args)
    for got, exp in zip(grads if len(floats) > 1 else [grads], expected):
        np.testing.assert_allclose(got, exp, rtol=1e-6, atol=1e-8, err_msg=f"reverse {name}")

    directions = [RNG.normal(size=np.shape(args[k])) for k in floats]
    directions = [float(d) if np.ndim(d) == 0 else d for d in directions]

    def seeds(b, f, params):
        tangents = []
        for d in directions:
            tangents.append(f.body.add_arg(Value(type_of_python_value(d))))
            f.param_names.append(f"t{len(tangents)}")
        return tangents

    tangent_fn = simplify(ForwardAD(fn, floats).build("jvp", seeds, lambda b, v, t: t))
    verify(tangent_fn)
    got = run(tangent_fn, *args, *directions)
    exp = sum(np.sum(e * d) for e, d in zip(expected, directions))
    np.testing.assert_allclose(got, exp, rtol=1e-6, atol=1e-8, err_msg=f"forward {name}")


@pytest.mark.parametrize("name, operands, attrs", list(_ids()))
def test_batched_rule_against_finite_differences(name, operands, attrs):
    """One sweep with a tangent per input entry gives the whole gradient."""
    fn, args, floats = _case(name, operands, attrs)
    k = floats[0]
    expected = numerical_gradient(lambda *a: run(fn, *a), args, k)

    def seeds(b, f, params):
        p = params[k]
        if p.type.rank == 0:
            return [b.reshape(b.const(1.0), b.tuple(b.const(1)))]
        return [b.reshape(b.eye(b.size(p)), b.tuple_cat(b.tuple(b.size(p)), b.shape(p)))]

    batched = simplify(ForwardAD(fn, [k], batched=True).build("grad", seeds, lambda b, v, t: t))
    verify(batched)
    got = run(batched, *args)
    np.testing.assert_allclose(np.reshape(got, np.shape(expected)), expected, rtol=1e-6, atol=1e-8)
