"""The textual form of the IR: stable, readable, and compared as text in tests.

    func f(%x: f64, %n: i64) -> f64 {
      %s = for %i = range(0, %n, 1) carry(%acc = 0.0) -> f64 {   # line 4
        %acc.1 = add %acc, %x : f64
        yield %acc.1
      }
      return %s
    }

Constants are printed where they are used; values are named after the user's variables
(``%acc``, ``%acc.1``) or numbered (``%0``).
"""

from __future__ import annotations

from .core import Function, Op, Region, Value


class _Names:
    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.taken: set[str] = set()
        self.counter = 0

    def define(self, v: Value) -> str:
        if v.hint:
            name, k = v.hint, 0
            while name in self.taken:
                k += 1
                name = f"{v.hint}.{k}"
        else:
            name = str(self.counter)
            self.counter += 1
        self.taken.add(name)
        self.names[id(v)] = name
        return "%" + name

    def use(self, v: Value) -> str:
        op = v.op
        if op is not None and op.name == "const":
            return repr(op.attrs["value"])
        return "%" + self.names.get(id(v), f"?{v.hint or ''}")


def _attrs(op: Op) -> str:
    shown = {k: v for k, v in op.attrs.items() if v is not None and k not in ("value", "rule")}
    if "rule" in op.attrs and op.attrs["rule"] is not None:
        shown["rule"] = getattr(op.attrs["rule"], "__name__", str(op.attrs["rule"]))
    if "index" in shown and op.name != "tuple_get":
        shown["index"] = _index_text(shown["index"])
    if not shown:
        return ""
    return " {" + ", ".join(f"{k}={v}" for k, v in shown.items()) + "}"


def _index_text(index) -> str:
    parts = []
    for item in index:
        if item[0] == "idx":
            parts.append("#")
        elif item[0] == "slice":
            parts.append(":".join("#" if has else "" for has in item[1:3]) + (":#" if item[3] else ""))
        elif item[0] == "newaxis":
            parts.append("None")
        else:
            parts.append("...")
    return "[" + ", ".join(parts) + "]"


def _types(values: list[Value]) -> str:
    return ", ".join(str(v.type) for v in values)


class _Printer:
    def __init__(self) -> None:
        self.names = _Names()
        self.lines: list[str] = []

    def region(self, region: Region, depth: int, keyword: str = "yield") -> None:
        for op in region.ops:
            self.op(op, depth)
        pad = "  " * depth
        if region.yields or keyword == "yield":
            self.lines.append(f"{pad}{keyword} " + ", ".join(self.names.use(v) for v in region.yields))

    def op(self, op: Op, depth: int) -> None:
        if op.name == "const":
            return
        pad = "  " * depth
        n = self.names
        where = f"  # line {op.loc.line}" if op.loc is not None else ""
        if op.name == "if":
            lhs = self._lhs(op)
            self.lines.append(f"{pad}{lhs}if {n.use(op.operands[0])} -> ({_types(op.results)}) {{{where}")
            self.region(op.regions[0], depth + 1)
            self.lines.append(f"{pad}}} else {{")
            self.region(op.regions[1], depth + 1)
            self.lines.append(f"{pad}}}")
            return
        if op.name == "for":
            body = op.regions[0]
            lo, hi, step, *inits = op.operands
            rng = f"range({n.use(lo)}, {n.use(hi)}, {n.use(step)})"
            if op.attrs.get("reverse"):
                rng = f"reversed({rng})"
            index = n.define(body.args[0])
            carry = ", ".join(f"{n.define(a)} = {n.use(i)}" for a, i in zip(body.args[1:], inits))
            lhs = self._lhs(op)
            self.lines.append(
                f"{pad}{lhs}for {index} in {rng} carry({carry}) -> ({_types(op.results)}) {{{where}"
            )
            self.region(body, depth + 1)
            self.lines.append(f"{pad}}}")
            return
        if op.name == "while":
            cond, body = op.regions
            carry = ", ".join(f"{n.define(a)} = {n.use(i)}" for a, i in zip(cond.args, op.operands))
            lhs = self._lhs(op)
            self.lines.append(f"{pad}{lhs}while carry({carry}) -> ({_types(op.results)}) {{{where}")
            self.region(cond, depth + 1, keyword="condition")
            self.lines.append(f"{pad}}} do ({', '.join(n.define(a) for a in body.args)}) {{")
            self.region(body, depth + 1)
            self.lines.append(f"{pad}}}")
            return
        if op.regions:  # checkpoint and other region ops: args are bound to the operands
            region = op.regions[0]
            args = ", ".join(f"{n.define(a)} = {n.use(v)}" for a, v in zip(region.args, op.operands))
            lhs = self._lhs(op)
            self.lines.append(f"{pad}{lhs}{op.name}({args}){_attrs(op)} -> ({_types(op.results)}) {{{where}")
            self.region(region, depth + 1)
            self.lines.append(f"{pad}}}")
            return
        operands = ", ".join(n.use(v) for v in op.operands)
        lhs = self._lhs(op)
        types = f" : {_types(op.results)}" if op.results else ""
        self.lines.append(f"{pad}{lhs}{op.name} {operands}{_attrs(op)}{types}{where}".replace("  {", " {"))

    def _lhs(self, op: Op) -> str:
        if not op.results:
            return ""
        return ", ".join(self.names.define(r) for r in op.results) + " = "


def print_function(fn: Function) -> str:
    p = _Printer()
    params = ", ".join(f"{p.names.define(a)}: {a.type}" for a in fn.params)
    rtypes = _types(fn.returns)
    for note in fn.notes:
        p.lines.append(f"# {note}")
    p.lines.append(f"func {fn.name}({params}) -> ({rtypes}) {{")
    p.region(fn.body, 1, keyword="return")
    p.lines.append("}")
    return "\n".join(p.lines)


def print_region(region: Region) -> str:
    p = _Printer()
    p.region(region, 0)
    return "\n".join(p.lines)
