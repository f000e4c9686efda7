"""Pictures of a computation: the primal graph with its forward values and its adjoints.

    from adcompiler.graph import graph
    print(graph(loss, 2.0, 3.0, 1.0))      # Graphviz DOT text; `dot -Tsvg` draws it

What PyTorch and JAX users picture when they hear "computation graph" is drawn from the IR
the compiler really differentiates (not from a trace): one node per primal op, labelled with
the user's variable name, the op and its source line; the value it had at the given
arguments; and, in red, its adjoint (``x_bar``, the derivative of the output with respect to
it), with dashed red edges showing the adjoint flowing back along each use. Loops and branches
are clusters holding their body: their inner values change from iteration to iteration, so
values and adjoints are shown for the values of the function body (loop results included).

Both sets of numbers come from the reference interpreter (:mod:`adcompiler.ir.interp`):
forward values from the typed primal IR, adjoints from the reverse-mode function that
:class:`~adcompiler.ad.reverse.ReverseAD` builds, made to return every adjoint it computes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import naming
from .ir.core import Function, Op, Region, Value
from .ir.types import Tensor, type_of_python_value
from .transforms import Transformed, as_transformed

#: entries of an array shown in a label
_SHOWN_ENTRIES = 3


def graph(f: Callable | Transformed, *args: Any, wrt: int | str | Sequence[int | str] | None = None) -> str:
    """Graphviz DOT text of ``f``'s computation at ``args``: forward values and adjoints.

    ``wrt`` names the inputs whose adjoints flow back (an int, a parameter name or a tuple);
    by default every float input, so a picture shows the gradient with respect to each leaf.
    Adjoints are drawn only when ``f`` returns a float scalar.
    """
    transformed = as_transformed(f)
    values = _bind(transformed.root, args) if not isinstance(f, Transformed) else list(args)
    primal = transformed.typed_ir(tuple(type_of_python_value(v) for v in values))
    positions = _wrt_positions(primal, wrt)
    out = primal.returns[0]
    forward = _forward_values(primal, values)
    adjoints: dict[Value, Any] = {}
    if not (isinstance(out.type, Tensor) and out.type.rank == 0 and out.type.is_float):
        missing = "the output is not a float scalar"
    elif not positions:
        missing = "no float input to differentiate with respect to"
    else:
        try:
            adjoints, missing = _adjoint_values(primal, values, positions), ""
        except NotImplementedError as e:  # an op the reference interpreter cannot run yet
            missing = str(e)
    return _Drawer(primal, values, forward, adjoints, missing).dot()


def _bind(fn: Callable, args: tuple) -> list[Any]:
    """The arguments in parameter order, defaults filled in (as a call would)."""
    bound = inspect.signature(fn).bind(*args)
    bound.apply_defaults()
    return list(bound.args)


def _wrt_positions(primal: Function, wrt: int | str | Sequence[int | str] | None) -> list[int]:
    if wrt is None:
        return [k for k, p in enumerate(primal.params) if isinstance(p.type, Tensor) and p.type.is_float]
    items = list(wrt) if isinstance(wrt, (tuple, list)) else [wrt]
    return [primal.param_names.index(w) if isinstance(w, str) else w % len(primal.params) for w in items]


def _top_values(region: Region) -> list[Value]:
    """The values defined directly in ``region`` (arguments and op results; no constants)."""
    values = list(region.args)
    for op in region.ops:
        if op.name != "const":
            values += op.results
    return values


def _returning(fn: Function, region: Region, values: list[Value]) -> Function:
    """``fn`` with ``region`` as its body, made to return ``values`` as one tuple."""
    from .ir.builder import Builder

    b = Builder(region, fn.loc)
    region.yields = [b.tuple(*values)]
    return Function(fn.name, region, list(fn.param_names), fn.loc)


def _forward_values(primal: Function, args: list[Any]) -> dict[Value, Any]:
    """The value of every top-level primal value at ``args`` (a copy returns them all)."""
    from .ir.clone import clone_region
    from .ir.interp import run

    vmap: dict[Value, Value] = {}
    body = clone_region(primal.body, vmap)
    wanted = _top_values(primal.body)
    results = run(_returning(primal, body, [vmap[v] for v in wanted]), *args)
    return dict(zip(wanted, results))


def _adjoint_values(primal: Function, args: list[Any], wrt: list[int]) -> dict[Value, Any]:
    """The adjoint of every top-level primal value that has one, seeding the output with 1."""
    from .ad.reverse import ReverseAD
    from .ir.interp import run

    ad = ReverseAD(primal, wrt)
    built = ad.build(
        f"adjoints_{primal.name}",
        lambda b, fn: [(primal.returns[0], b.const(1.0))],
        lambda b, value, grads: b.tuple(value, *grads),
    )
    items = list(ad.adjoints.items())
    results = run(_returning(built, built.body, [bar for _, bar in items]), *args)
    return {v: value for (v, _), value in zip(items, results)}


def format_value(x: Any) -> str:
    """A short text for a value: scalars in full, arrays as shape and first entries."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.6g}"
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return format_value(x.item())
        flat = x.ravel()
        head = ", ".join(format_value(e) for e in flat[:_SHOWN_ENTRIES])
        more = ", …" if flat.size > _SHOWN_ENTRIES else ""
        return f"array{x.shape} [{head}{more}]"
    if isinstance(x, tuple):
        return "(" + ", ".join(format_value(e) for e in x) + ")"
    return type(x).__name__


def _quote(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, line breaks as DOT's ``\\n``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _Drawer:
    """Writes the DOT text: nodes and clusters in program order, then the edges."""

    def __init__(
        self,
        fn: Function,
        args: list[Any],
        forward: dict[Value, Any],
        adjoints: dict[Value, Any],
        missing: str,
    ) -> None:
        self.fn = fn
        self.args = args
        self.forward = forward
        self.adjoints = adjoints
        #: why there are no adjoints, if there are none
        self.missing = missing
        self.out_name = fn.returns[0].hint or "out"
        self.node_ids: dict[Value, str] = {}
        self.names: dict[Value, str] = {}
        self.taken: set[str] = set()
        self.lines: list[str] = []
        self.edges: list[str] = []
        self.clusters = 0
        self.effects = 0

    # ---------------------------------------------------------------- names
    def name(self, v: Value) -> str:
        """The user's variable name (``y``, ``y.1`` when reassigned) or ``%0`` for temporaries."""
        if v not in self.names:
            if v.hint:
                name, k = v.hint, 0
                while name in self.taken:
                    k += 1
                    name = f"{v.hint}.{k}"
            else:
                name = f"%{sum(1 for n in self.taken if n.startswith('%'))}"
            self.taken.add(name)
            self.names[v] = name
        return self.names[v]

    def operand(self, v: Value) -> str:
        """How an operand reads in a label: constants folded in, other values by name."""
        op = v.op
        if op is not None and op.name == "const":
            return (
                format_value(op.attrs["value"])
                if not isinstance(op.attrs["value"], str)
                else repr(op.attrs["value"])
            )
        return self.name(v)

    # ---------------------------------------------------------------- nodes
    def node(self, v: Value, what: str, loc_text: str, pad: str) -> None:
        """A node for value ``v``: its name, what defines it, the line, value and adjoint."""
        import html

        node_id = f"v{len(self.node_ids)}"
        self.node_ids[v] = node_id
        rows = [f"<b>{html.escape(self.name(v))}</b> = {html.escape(what)}"]
        if loc_text:
            rows.append(f'<font point-size="9" color="gray30">{html.escape(loc_text)}</font>')
        if v in self.forward:
            rows.append(f"value {html.escape(format_value(self.forward[v]))}")
        if v in self.adjoints:
            bar = naming.adjoint(self.name(v))
            rows.append(
                f'<font color="red3">{html.escape(bar)} {html.escape(format_value(self.adjoints[v]))}</font>'
            )
        extra = ", peripheries=2" if v is self.fn.returns[0] else ""
        self.lines.append(f"{pad}{node_id} [label=<{'<br/>'.join(rows)}>{extra}];")

    def edge(self, src: Value, dst: str, label: str = "", back: bool = True, style: str = "") -> None:
        """A forward edge from ``src`` to node ``dst``, and the adjoint flowing back along it."""
        if src not in self.node_ids:  # constants are folded into the labels
            return
        attrs = [f"label={_quote(label)}"] if label else []
        if style:
            attrs.append(style)
        self.edges.append(
            f"  {self.node_ids[src]} -> {dst}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";"
        )
        if back and src in self.adjoints:
            self.edges.append(
                f"  {dst} -> {self.node_ids[src]} [style=dashed, color=red3, constraint=false];"
            )

    @staticmethod
    def where(op: Op) -> str:
        if op.loc is None:
            return ""
        text = op.loc.source_line.strip()
        return f"line {op.loc.line}: {text}" if text else f"line {op.loc.line}"

    # ---------------------------------------------------------------- regions and ops
    def region(self, region: Region, pad: str) -> None:
        """A node per op result (constants folded into their users' labels), a cluster per
        control op, and edges from each operand."""
        for op in region.ops:
            if op.name == "const":
                continue
            if op.regions:
                self.control(op, pad)
                continue
            callee = op.attrs["rule"].__name__ if op.name == "custom_call" else op.name
            what = f"{callee}({', '.join(self.operand(v) for v in op.operands)})"
            for r in op.results:
                self.node(r, what, self.where(op), pad)
            if op.results:
                target = self.node_ids[op.results[0]]
            else:  # an op run for its effect (assert)
                self.effects += 1
                target = f"effect{self.effects}"
                self.lines.append(f"{pad}{target} [label={_quote(what)}, shape=plain];")
            for v in op.operands:
                self.edge(v, target)

    def control(self, op: Op, pad: str) -> None:
        """A loop, branch or checkpointed call: a cluster holding its regions."""
        self.clusters += 1
        inner = pad + "  "
        self.lines.append(f"{pad}subgraph cluster_{op.name}_{self.clusters} {{")
        self.lines.append(f"{inner}label={_quote(self.header(op))}; style=rounded; color=gray50;")
        first = 1 if op.name == "for" else 0
        if op.name == "for":
            index = op.regions[0].args[0]
            self.node(index, "loop index", "", inner)
            for bound in op.operands[:3]:
                self.edge(bound, self.node_ids[index], back=False)
        entry = op.regions[-1]
        carried_inits = op.operands[3:] if op.name == "for" else op.operands
        if op.name == "if":
            test = f"if{self.clusters}"
            self.lines.append(
                f"{inner}{test} [label={_quote('if ' + self.operand(op.operands[0]))}, shape=diamond];"
            )
            self.edge(op.operands[0], test, back=False)
            for region, label in zip(op.regions, ("then", "else")):
                self.subcluster(region, label, inner)
        elif op.name == "while":
            self.carried(entry.args, carried_inits, inner)
            self.subcluster(op.regions[0], "condition", inner, bind_to=entry.args)
            self.subcluster(entry, "body", inner)
        else:
            self.carried(
                entry.args[first:], carried_inits, inner, "argument" if op.name == "checkpoint" else ""
            )
            self.region(entry, inner)
        self.lines.append(f"{pad}}}")
        self.results(op, pad, first)

    def carried(self, args: list[Value], inits: list[Value], pad: str, role: str = "") -> None:
        """Nodes for a region's carried values (or a checkpoint's arguments), fed by their inits."""
        for a, init in zip(args, inits):
            self.node(a, role or f"carried, starts at {self.operand(init)}", "", pad)
            self.edge(init, self.node_ids[a], "" if role else "init")

    def subcluster(self, region: Region, label: str, pad: str, bind_to: list[Value] | None = None) -> None:
        """A region of a control op (a branch, a while loop's condition or body) as a cluster."""
        self.clusters += 1
        self.lines.append(f"{pad}subgraph cluster_{label}_{self.clusters} {{")
        self.lines.append(f"{pad}  label={_quote(label)}; style=dashed; color=gray70;")
        if bind_to is not None:  # a while condition reads the same carried values as the body
            for a, same in zip(region.args, bind_to):
                self.names[a] = self.name(same)
                self.node_ids[a] = self.node_ids[same]
        self.region(region, pad + "  ")
        self.lines.append(f"{pad}}}")

    def results(self, op: Op, pad: str, first: int) -> None:
        """The op's results, outside its cluster, fed by what each region yields."""
        for k, r in enumerate(op.results):
            self.node(r, f"result of {op.name}", self.where(op), pad)
            body = op.regions[-1]
            if op.name == "if":
                for region, label in zip(op.regions, ("then", "else")):
                    self.edge(region.yields[k], self.node_ids[r], label)
            elif k < len(body.yields):
                self.edge(body.yields[k], self.node_ids[r], "final" if op.name != "checkpoint" else "")
                carried = body.args[first + k] if op.name in ("for", "while") else None
                if carried is not None and carried is not body.yields[k]:  # the next iteration's value
                    self.edge(
                        body.yields[k],
                        self.node_ids[carried],
                        "next",
                        back=False,
                        style="style=dotted, constraint=false",
                    )

    def header(self, op: Op) -> str:
        """A cluster's title: the loop or branch as the IR has it, and the user's line."""
        where = self.where(op)
        if op.name == "for":
            lo, hi, step = (self.operand(v) for v in op.operands[:3])
            rng = f"range({lo}, {hi}, {step})"
            if op.attrs.get("reverse"):
                rng = f"reversed({rng})"
            text = f"for {self.name(op.regions[0].args[0])} in {rng}"
        elif op.name == "if":
            text = f"if {self.operand(op.operands[0])}"
        else:
            text = op.name
        return f"{text}   ({where})" if where else text

    # ---------------------------------------------------------------- the whole picture
    def dot(self) -> str:
        for p in self.fn.params:
            self.node(p, "input", "", "  ")
        self.region(self.fn.body, "  ")
        call = ", ".join(f"{n}={format_value(a)}" for n, a in zip(self.fn.param_names, self.args))
        legend = "solid: forward values"
        if self.adjoints:
            legend += f"; dashed red: adjoints flowing back (x_bar = d{self.out_name}/dx)"
        elif self.missing:
            legend += f"; no adjoints: {self.missing}"
        if any(op.regions for op in self.fn.body.ops):
            legend += "\nvalues inside loops, branches and checkpointed calls are not shown (they change per iteration)"
        title = f"{self.fn.name}({call})\n{legend}"
        head = [
            f"digraph {_quote(self.fn.name)} {{",
            f"  label={_quote(title)}; labelloc=t; fontname=Helvetica;",
            "  node [shape=box, style=rounded, fontname=Helvetica, fontsize=11];",
            "  edge [fontname=Helvetica, fontsize=9];",
        ]
        return "\n".join(head + self.lines + self.edges + ["}"]) + "\n"
