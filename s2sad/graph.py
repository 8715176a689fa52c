"""The derivative graph of straight-line scalar code: SSA values as nodes, local partials on edges.

Seed 004's 微分グラフ: the expression DAG with each edge ``u -> v`` labelled by the
expression of ``∂v/∂u``. The labels come from the rule table: a reverse template
run with the cotangent ``1.0`` (``Sym`` arithmetic drops the ``1.0 *``) gives, for
each operand, its local partial, e.g. ``math.sin``'s ``g * math.cos(x)`` gives
``math.cos(x)``. ∂f/∂x is the sum, over all paths from ``x`` to ``f``, of the
products of the labels along the path.

Invariants of a ``Graph``:

* ``nodes`` are in program order, which is a topological order: every edge goes
  from an earlier node to a later one;
* every node is a statically scalar, active SSA value (inputs first, each a
  differentiated scalar parameter or a constant-index read ``x[k]`` of a
  differentiated 1-D array parameter); a copy ``y = x`` is the same node as ``x``;
* there is at most one edge per pair of nodes (``x * x`` gives one edge labelled
  ``x + x``), and labels read only primal names bound up to the head's statement;
* ``outputs`` are the returned scalar, or the items of a returned
  ``np.array([...])`` literal (an item that is no node has a zero row).

What is not straight-line scalar code raises ``NotFactorable`` naming the user's line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import ir
from .activity import CALL, COPY, Analysis, analyze
from .rules import Sym

__all__ = ["Graph", "Input", "NotFactorable", "build", "text", "dot"]


class NotFactorable(Exception):
    """The function is not straight-line scalar code; ``str()`` says what and where."""

    def __init__(self, what: str, loc: ir.Loc | None) -> None:
        where = f" at {loc.file}:{loc.line}: {loc.text.strip()}" if loc is not None else ""
        super().__init__(what + where)


@dataclass(slots=True, frozen=True)
class Input:
    """One Jacobian column: parameter ``param`` (element ``index`` of it, for an array)."""

    param: str
    index: int | None = None

    def __str__(self) -> str:
        return self.param if self.index is None else f"{self.param}[{self.index}]"


@dataclass
class Graph:
    fn: ir.Function  # the lowered function the graph is of
    forward: list[ir.Stmt]  # its statements but the return
    nodes: dict[str, ir.Assign | Input]  # node -> its statement, or the input it is
    edges: dict[tuple[str, str], ir.Expr] = field(default_factory=dict)  # (tail, head) -> ∂head/∂tail
    outputs: list[ir.Expr] = field(default_factory=list)  # one per Jacobian row
    array_output: bool = False  # rows of np.array([...]), else one scalar
    sizes: dict[str, int | None] = field(default_factory=dict)  # wrt parameter -> its length (None: a scalar)

    def inputs(self) -> dict[Input, str]:
        """Each input (column) read by the function -> its node."""
        return {v: n for n, v in self.nodes.items() if isinstance(v, Input)}


def build(fn: ir.Function, sizes: dict[str, int | None], others: set[str] = frozenset()) -> Graph:
    """The derivative graph of ``fn`` w.r.t. the parameters in ``sizes`` (name -> array length, None for a
    scalar); ``others`` are parameters not differentiated known to hold scalars."""
    *forward, ret = fn.body
    for p, n in sizes.items():
        if n is not None and n < 0:
            raise NotFactorable(f"argument {p} is neither a scalar nor a 1-D array", fn.loc)
    reads = _element_reads(forward, sizes)
    known = {p for p, n in sizes.items() if n is None} | others | set(reads)
    an = _analyze(fn, forward, sizes, known)
    unpacked = _unpacked(forward)
    g = Graph(fn, forward, {p: Input(p) for p, n in sizes.items() if n is None}, sizes=sizes)
    alias = {p: p for p in g.nodes}  # SSA name -> its node
    first: dict[Input, str] = {}  # an array element -> the first name it was read into
    outputs = _outputs(forward, ret)
    assembly = {id(s) for s in forward if isinstance(s, ir.Assign) and s.target in outputs.assembly}
    for s in forward:
        if isinstance(s, ir.If | ir.Loop):
            raise NotFactorable("a branch or loop (factoring handles straight-line code)", s.loc)
        if not isinstance(s, ir.Assign) or id(s) in assembly or not any(t in an.active for t in s.targets):
            continue
        if s.target in reads:
            alias[s.target] = first.setdefault(reads[s.target], s.target)
            g.nodes.setdefault(alias[s.target], reads[s.target])
        elif isinstance(s.value, ir.Tuple) and _only_unpacked(forward, s.target):
            continue  # a tuple literal only unpacked: its names are its items
        elif isinstance(s.target, tuple) and all(t in unpacked for t in s.target):
            alias.update({t: alias[unpacked[t].id] for t in s.target if ir.Name(t) != unpacked[t]
                          and isinstance(unpacked[t], ir.Name) and unpacked[t].id in alias})
        else:
            _add_statement(g, an, s, alias)
    g.array_output = outputs.array
    g.outputs = [ir.Name(alias[o.id]) if isinstance(o, ir.Name) and o.id in alias else ir.Const(0.0)
                 for o in outputs.items]
    return g


def _element_reads(forward: list[ir.Stmt], sizes: dict[str, int | None]) -> dict[str, Input]:
    """``t = x[k]`` for an array parameter ``x`` and a constant ``k``: name -> the input it reads."""
    out = {}
    for s in forward:
        if (isinstance(s, ir.Assign) and isinstance(s.value, ir.Subscript) and isinstance(s.value.value, ir.Name)
                and sizes.get(s.value.value.id) is not None and isinstance(s.value.index, ir.Const)
                and type(s.value.index.value) is int):
            x, k = s.value.value.id, s.value.index.value
            out[s.target] = Input(x, k % sizes[x])
    return out


def _analyze(fn: ir.Function, forward: list[ir.Stmt], sizes: dict[str, int | None], known: set[str]) -> Analysis:
    """Activity and scalars, told what the analysis cannot see: ``known`` scalars (scalar arguments,
    element reads) and names unpacked from a tuple of scalars (``k, r = 3.0, 1.0``), to a fixed point."""
    unpacked = _unpacked(forward)
    while True:
        an = analyze(fn, list(sizes), known)
        more = {t for t, item in unpacked.items() if _scalar_item(item, an.scalars)} - known
        if not more:
            return an
        known = known | more


def _only_unpacked(forward: list[ir.Stmt], name: str) -> bool:
    """Every statement reading ``name`` unpacks it (``a, b = name``)."""
    readers = [s for s in forward if isinstance(s, ir.Assign) and name in ir.names_read(s.value)]
    return bool(readers) and all(isinstance(s.target, tuple) and s.value == ir.Name(name) for s in readers)


def _scalar_item(e: ir.Expr, scalars: set[str]) -> bool:
    return (isinstance(e, ir.Const) and type(e.value) in (int, float)) or (isinstance(e, ir.Name) and e.id in scalars)


def _unpacked(forward: list[ir.Stmt]) -> dict[str, ir.Expr]:
    """``a, b = tup`` where ``tup = (p, q)`` is a tuple literal: a -> p, b -> q."""
    literals = {s.target: s.value.items for s in forward
                if isinstance(s, ir.Assign) and isinstance(s.target, str) and isinstance(s.value, ir.Tuple)}
    return {t: item for s in forward
            if isinstance(s, ir.Assign) and isinstance(s.target, tuple) and isinstance(s.value, ir.Name)
            and len(literals.get(s.value.id, ())) == len(s.target)
            for t, item in zip(s.target, literals[s.value.id])}


def _add_statement(g: Graph, an: Analysis, s: ir.Assign, alias: dict[str, str]) -> None:
    """One active assignment: a copy joins its operand's node; a rule call adds a node and its edges."""
    p = an.prims[id(s)]
    if isinstance(s.target, tuple) or s.target not in an.scalars:
        raise NotFactorable(f"{ir.expr_str(s.value)} is not statically a scalar", s.loc)
    if p.kind == COPY and isinstance(p.args[0], ir.Name):
        alias[s.target] = alias[p.args[0].id]
        return
    if p.kind != CALL:
        raise NotFactorable(f"{ir.expr_str(s.value)} is not a primitive with a derivative rule", s.loc)
    one = Sym(ir.Const(1.0), True)
    contributions = p.rule.reverse(one, an.sym(ir.Name(s.target)), *map(an.sym, p.args),
                                   **{k: an.sym(v) for k, v in p.kwargs.items()})
    g.nodes[s.target] = s
    alias[s.target] = s.target
    for arg, c in zip(p.args, contributions):
        if c is None or not isinstance(arg, ir.Name) or arg.id not in alias:
            continue
        key = (alias[arg.id], s.target)
        label = _fold(c.expr)
        g.edges[key] = ir.BinOp("+", g.edges[key], label) if key in g.edges else label


def _fold(e: ir.Expr) -> ir.Expr:
    """A template with the cotangent ``1.0`` put in, tidied: ``-(1.0)`` is ``-1.0``, ``-1.0 * x`` is ``-x``."""
    if isinstance(e, ir.UnaryOp) and e.op == "-":
        inner = _fold(e.operand)
        return ir.Const(-inner.value) if isinstance(inner, ir.Const) else ir.UnaryOp("-", inner)
    if isinstance(e, ir.BinOp) and e.op in ("*", "/"):
        left, right = _fold(e.left), _fold(e.right)
        if e.op == "*" and left in (ir.Const(1.0), ir.Const(-1.0)):
            left, right = right, left
        if right in (ir.Const(1.0), ir.Const(-1.0)):
            return left if right.value == 1.0 else _fold(ir.UnaryOp("-", left))
        return ir.BinOp(e.op, left, right)
    return e


@dataclass
class _Outputs:
    items: list[ir.Expr]
    array: bool
    assembly: set[str]  # the names that only assemble the output (the list and the array)


def _outputs(forward: list[ir.Stmt], ret: ir.Return) -> _Outputs:
    """The returned scalar, or the items of a returned ``np.array([...])``."""
    defs = {s.target: s for s in forward if isinstance(s, ir.Assign) and isinstance(s.target, str)}
    out = ret.value
    made = defs.get(out.id) if isinstance(out, ir.Name) else None
    if (made is not None and isinstance(made.value, ir.Call) and isinstance(made.value.func, ir.Ref)
            and made.value.func.value in (np.array, np.asarray) and len(made.value.args) == 1
            and not made.value.kwargs and isinstance(made.value.args[0], ir.Name)):
        items = defs.get(made.value.args[0].id)
        if items is not None and isinstance(items.value, ir.List | ir.Tuple):
            if any(isinstance(i, ir.List | ir.Tuple) for i in items.value.items):
                raise NotFactorable("a nested array output", ret.loc)
            return _Outputs(list(items.value.items), True, {out.id, items.target})
    containers = ir.Tuple | ir.List | ir.Dict
    if isinstance(out, containers) or (made is not None and isinstance(made.value, containers)):
        raise NotFactorable("a container output (return a scalar or np.array([...]) of scalars)", ret.loc)
    return _Outputs([out], False, set())


# ----- printing -----


def partial_name(head: str, tail: str) -> str:
    """The name of ``∂head/∂tail`` in printed graphs and generated code: ``dhead_dtail``."""
    return f"d{head}_d{tail}"


def text(g: Graph) -> str:
    """The graph as text, one node a line with the partials on its incoming edges."""
    ins = ", ".join(f"{n} = {v}" if n != str(v) else n for v, n in g.inputs().items())
    outs = ", ".join(ir.expr_str(o) for o in g.outputs)
    where = f" ({g.fn.loc})" if g.fn.loc else ""
    lines = [f"# derivative graph of {g.fn.name}{where}: {len(g.nodes)} nodes, {len(g.edges)} edges",
             f"# inputs: {ins}", f"# outputs: {outs}"]
    width = max((len(_node_text(n, v)) for n, v in g.nodes.items()), default=0)
    for n, v in g.nodes.items():
        partials = [f"d{n}/d{t} = {ir.expr_str(label)}" for (t, h), label in g.edges.items() if h == n]
        lines.append(f"{_node_text(n, v):<{width}}    {'   '.join(partials)}".rstrip())
    return "\n".join(lines) + "\n"


def _node_text(n: str, v: ir.Assign | Input) -> str:
    if isinstance(v, Input):
        return n if n == str(v) else f"{n} = {v}"
    return f"{n} = {ir.expr_str(v.value)}"


def dot(g: Graph) -> str:
    """The graph in Graphviz DOT, drawn as the seed draws it: inputs at the bottom, outputs on top."""
    outs = {o.id for o in g.outputs if isinstance(o, ir.Name)}
    lines = [f"digraph {g.fn.name} {{", "  rankdir=BT;", '  node [shape=box, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for n, v in g.nodes.items():
        shape = ", shape=ellipse" if isinstance(v, Input) else ", peripheries=2" if n in outs else ""
        body = str(v) if isinstance(v, Input) else ir.expr_str(v.value)
        label = n if body == n else f"{n}\\n{body}"
        lines.append(f'  {n} [label="{_escape(label)}"{shape}];')
    for (t, h), label in g.edges.items():
        lines.append(f'  {t} -> {h} [label="{_escape(ir.expr_str(label))}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(s: str) -> str:
    return s.replace('"', '\\"')
