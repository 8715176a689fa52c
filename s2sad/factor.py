"""Dominator-tree factoring of a derivative graph (Guenter's D*) into one Jacobian function.

For each input/output pair (i, o), on the edges lying on paths from i to o:

* the dominator tree from i and the post-dominator tree from o (Cooper, Harvey and
  Kennedy's intersection walk; on a DAG in topological order it needs one pass);
* a factor subgraph ``[a, b]`` is every edge on a path from a to b, where
  ``a = idom(b)`` or ``b = ipdom(a)``, with more than one edge. The innermost (its
  endpoints closest in program order) is collapsed first into one edge ``a -> b`` carrying the sum over its paths of the
  products of their labels; then the subgraph's edges no other path needs are deleted:
  those whose head b post-dominates (when a dominates b: every path through such an
  edge reaches b, so it is counted by the new edge) or whose tail a dominates (when
  b post-dominates a). Each step keeps the sum over all paths from i to o; when
  nothing is left to factor, one path is left, and the product along it is ∂o/∂i.
  Its partial products from the output end (from the input end when there are more
  outputs than inputs) are shared by the pairs whose paths end (begin) alike, as
  reverse (forward) accumulation shares them.

A factored edge is keyed by its endpoints and the edges it replaced: a pair that
meets the same subgraph reuses it, so factored edges are computed once and shared
by every input/output pair. Generated code names a local partial ``dhead_dtail``
(as the graph prints it) and a factored edge ``Dhead_dtail``; the function computes
the primal values its labels read, the labels, the factored edges, and returns the
Jacobian, all in one pass.
"""

from __future__ import annotations

import itertools
import os
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from . import ir
from .codegen import emit
from .frontend import globals_check
from .graph import Graph, Input, NotFactorable, build, partial_name
from .graph import dot as graph_dot
from .graph import text as graph_text
from .load import load
from .naming import Namer
from .reverse import _bind_helpers
from .transform import LINEMAPS, lowered_ir

__all__ = ["factor", "dominators", "factored", "Factored", "FactoredJacobian", "sizes_of", "graph_source"]

_serial = itertools.count(1)

_ONE, _MINUS_ONE = ir.Const(1.0), ir.Const(-1.0)


def factor(g: Graph, namer: Namer, params: ir.Params, name: str) -> ir.Function:
    """The function ``name(*params)`` returning the Jacobian of ``g`` (a tuple, one per wrt parameter)."""
    f = _Factoring(g, namer)
    inputs = g.inputs()
    jacobians = []
    for p, size in g.sizes.items():
        columns = [Input(p)] if size is None else [Input(p, k) for k in range(size)]
        rows = [[f.entry(inputs.get(c), o) for c in columns] for o in g.outputs]
        jacobians.append(_assemble(rows, size is not None, g.array_output))
    body = _live([*f.interleaved(), *f.out], jacobians)
    return ir.Function(name, params, [*body, ir.Return(ir.Tuple(jacobians))], g.fn.loc,
                       ssa=True, flat=False)


class _Factoring:
    """The edges of the graph and the factored ones, shared by all pairs, and the statements computing them."""

    def __init__(self, g: Graph, namer: Namer) -> None:
        self.g, self.namer = g, namer
        self.order = {n: k for k, n in enumerate(g.nodes)}
        self.ends: list[tuple[str, str]] = list(g.edges)  # edge id -> (tail, head)
        self.values: list[ir.Expr] = []  # edge id -> the expression of its label (a name, if not an atom)
        self.bound: dict[str, list[ir.Assign]] = {}  # node -> its partials that needed a name
        for (tail, head), label in g.edges.items():
            if not isinstance(label, ir.Name | ir.Const):
                var = namer.fresh(partial_name(head, tail))
                self.bound.setdefault(head, []).append(ir.Assign(var, label, g.nodes[head].loc))
                label = ir.Name(var)
            self.values.append(label)
        self.shared: dict[tuple, int] = {}  # (a, b, replaced edge ids) -> the factored edge
        self.chains: dict[tuple[int, ...], int] = {}  # a path's edges from one end -> the edge of their product
        self.out: list[ir.Stmt] = []  # factored edges, each after those it reads

    def interleaved(self) -> list[ir.Stmt]:
        """The primal statements, each followed by the partials on the edges into its value."""
        out = []
        for s in self.g.forward:
            out.append(s)
            if isinstance(s, ir.Assign) and isinstance(s.target, str):
                out += self.bound.get(s.target, [])
        return out

    def entry(self, i: str | None, o: ir.Expr) -> ir.Expr:
        """∂o/∂i (zero if i is not read or no path leads from it to o)."""
        if i is None or not isinstance(o, ir.Name):
            return ir.Const(0.0)
        if i == o.id:
            return _ONE
        edges = _between(self._edges(range(len(self.g.edges))), i, o.id)  # the graph's own edges
        if not edges:
            return ir.Const(0.0)
        while (step := self._smallest_factor(edges, i, o.id)) is not None:
            edges = _between(self._collapse(edges, *step), i, o.id)
        return self.values[self._chain(edges, i)]

    def _chain(self, edges: dict[int, tuple[str, str]], i: str) -> int:
        """The edge for the product along the one path left from ``i``. Its suffixes are kept (its prefixes
        when there are more outputs than inputs), so pairs that end (start) the same way share them."""
        after = {t: e for e, (t, h) in edges.items()}
        path = [after[i]]
        while self.ends[path[-1]][1] in after:
            path.append(after[self.ends[path[-1]][1]])
        suffixes = len(self.g.outputs) <= len(self.g.inputs())
        steps = path[::-1] if suffixes else path
        done = steps[0]
        for k in range(1, len(steps)):
            key = tuple(steps[:k + 1])
            if key not in self.chains:
                (a, _), (_, b) = self.ends[steps[k] if suffixes else done], self.ends[done if suffixes else steps[k]]
                product = _times(self.values[steps[k]], self.values[done]) if suffixes else \
                    _times(self.values[done], self.values[steps[k]])
                self.chains[key] = self._new_edge(a, b, product)
            done = self.chains[key]
        return done

    def _edges(self, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        return {e: self.ends[e] for e in ids}

    def _smallest_factor(self, edges: dict[int, tuple[str, str]], i: str, o: str):
        """The innermost factor subgraph ``[a, b]`` (endpoints closest in program order) and which of its
        edges go, or None. ``[idom(b), b]`` has more than one edge exactly when b has several edges in,
        ``[a, ipdom(a)]`` when a has several out: no subgraph needs walking to find them."""
        dom = dominators(edges, i, self.order, forward=True)
        pdom = dominators(edges, o, self.order, forward=False)
        ins: dict[str, int] = {}
        outs: dict[str, int] = {}
        for t, h in edges.values():
            ins[h] = ins.get(h, 0) + 1
            outs[t] = outs.get(t, 0) + 1
        pairs = [(dom[b], b, "dom") for b, k in ins.items() if k > 1]
        pairs += [(a, pdom[a], "pdom") for a, k in outs.items() if k > 1]
        if not pairs:
            return None
        a, b, kind = min(pairs, key=lambda p: (self.order[p[1]] - self.order[p[0]], self.order[p[1]], p[2]))
        if kind == "dom":  # a dominates b: an edge into a node b post-dominates has all its paths through b
            return a, b, lambda e: _dominated(pdom, edges[e][1], b)
        return a, b, lambda e: _dominated(dom, edges[e][0], a)

    def _collapse(self, edges: dict[int, tuple[str, str]], a: str, b: str, goes: Callable[[int], bool]
                  ) -> dict[int, tuple[str, str]]:
        """Replace the subgraph ``[a, b]`` of ``edges`` by one factored edge; drop the edges ``goes`` picks."""
        sub = _between(edges, a, b)
        key = (a, b, frozenset(sub))
        if key not in self.shared:
            self.shared[key] = self._new_edge(a, b, self._path_sum(sub, a, b))
        kept = {e: ends for e, ends in edges.items() if e not in sub or not goes(e)}
        kept[self.shared[key]] = (a, b)
        return kept

    def _new_edge(self, a: str, b: str, value: ir.Expr) -> int:
        if not isinstance(value, ir.Name | ir.Const):
            var = self.namer.fresh(f"D{b}_d{a}")
            self.out.append(ir.Assign(var, value))
            value = ir.Name(var)
        self.ends.append((a, b))
        self.values.append(value)
        return len(self.ends) - 1

    def _path_sum(self, sub: dict[int, tuple[str, str]], a: str, b: str) -> ir.Expr:
        """Σ over paths a -> b in ``sub`` of the products of labels, by accumulation in topological order;
        a node with several edges out gets its partial sum named (``Dnode_da``)."""
        into: dict[str, list[int]] = {}
        fanout: dict[str, int] = {}
        for e, (t, h) in sub.items():
            into.setdefault(h, []).append(e)
            fanout[t] = fanout.get(t, 0) + 1
        acc: dict[str, ir.Expr | None] = {a: None}  # None: the empty product
        for node in sorted(into, key=self.order.__getitem__):
            terms = [_times(acc[sub[e][0]], self.values[e]) for e in sorted(into[node])]
            total = _sum(terms)
            if node != b and fanout.get(node, 0) > 1 and not isinstance(total, ir.Name | ir.Const):
                var = self.namer.fresh(f"D{node}_d{a}")
                self.out.append(ir.Assign(var, total))
                total = ir.Name(var)
            acc[node] = total
        return acc[b]


def dominators(edges: dict[int, tuple[str, str]], root: str, order: dict[str, int], forward: bool) -> dict[str, str]:
    """Immediate dominators from ``root`` (post-dominators when not ``forward``), the root mapping to itself.

    Cooper-Harvey-Kennedy: in a topological order every predecessor is done first,
    so one pass suffices; ``intersect`` walks two nodes up the tree to their meeting point.
    """
    preds: dict[str, list[str]] = {}
    for t, h in edges.values():
        src, dst = (t, h) if forward else (h, t)
        preds.setdefault(dst, []).append(src)
    rank = order if forward else {n: -k for n, k in order.items()}
    idom = {root: root}

    def intersect(x: str, y: str) -> str:
        while x != y:
            while rank[x] > rank[y]:
                x = idom[x]
            while rank[y] > rank[x]:
                y = idom[y]
        return x

    for node in sorted(preds, key=rank.__getitem__):
        done = [p for p in preds[node] if p in idom]
        if node != root and done:
            new = done[0]
            for p in done[1:]:
                new = intersect(p, new)
            idom[node] = new
    return idom


def _dominated(idom: dict[str, str], node: str, by: str) -> bool:
    """``by`` is ``node`` or one of its (post-)dominators."""
    while node != by:
        if idom[node] == node:
            return False
        node = idom[node]
    return True


def _between(edges: dict[int, tuple[str, str]], a: str, b: str) -> dict[int, tuple[str, str]]:
    """The edges on paths from a to b."""
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for t, h in edges.values():
        succ.setdefault(t, []).append(h)
        pred.setdefault(h, []).append(t)
    after, before = _reach(a, succ), _reach(b, pred)
    return {e: (t, h) for e, (t, h) in edges.items() if t in after and h in before}


def _reach(start: str, nxt: dict[str, list[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for m in nxt.get(todo.pop(), ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def _times(acc: ir.Expr | None, label: ir.Expr) -> ir.Expr:
    """``acc * label``, without multiplying by ±1 (``acc`` None: the empty product)."""
    if acc is None or acc == _ONE:
        return label
    if acc == _MINUS_ONE:
        return _times(label, acc)
    if label == _ONE:
        return acc
    if label == _MINUS_ONE:
        return ir.UnaryOp("-", acc)
    return ir.BinOp("*", acc, label)


def _sum(terms: list[ir.Expr]) -> ir.Expr:
    """``t0 + t1 + ...``, writing ``+ -t`` as ``- t``."""
    total = terms[0]
    for t in terms[1:]:
        negated = isinstance(t, ir.UnaryOp) and t.op == "-"
        total = ir.BinOp("-", total, t.operand) if negated else ir.BinOp("+", total, t)
    return total


def _assemble(rows: list[list[ir.Expr]], array_input: bool, array_output: bool) -> ir.Expr:
    """One parameter's Jacobian: a scalar, a vector, or a matrix (outputs by input elements)."""
    array = ir.Ref(("np", "array"), np.array, helper=True)
    if not array_output:
        return ir.Call(array, [ir.List(rows[0])]) if array_input else rows[0][0]
    if not array_input:
        return ir.Call(array, [ir.List([r[0] for r in rows])])
    return ir.Call(array, [ir.List([ir.List(r) for r in rows])])


def _live(stmts: list[ir.Stmt], results: list[ir.Expr]) -> list[ir.Stmt]:
    """The straight-line ``stmts`` that ``results`` need, in order."""
    need = {n for r in results for n in ir.names_read(r)}
    kept = []
    for s in reversed(stmts):
        if isinstance(s, ir.Assign) and not need & set(s.targets):
            continue
        need |= set(ir.names_read(s.value))
        kept.append(s)
    return kept[::-1]


# ----- the pipeline: lowered IR -> graph -> factored function -> loaded -----


@dataclass
class Factored:
    """The factored Jacobian of one function for one kind of arguments, or why there is none."""

    graph: Graph | None
    text: str  # the generated function's source, or the note saying what runs instead
    function: types.FunctionType | None  # returns a tuple, one Jacobian per differentiated parameter
    reason: str | None = None  # why the function could not be factored
    fresh: Callable[[], bool] = lambda: True  # the module still holds the globals it relied on


def factored(fn: types.FunctionType, sizes: dict[str, int | None], others: set[str]) -> Factored:
    """Factor ``fn``'s Jacobian w.r.t. the parameters in ``sizes`` (name -> array length, None for a scalar);
    ``others``: the parameters not differentiated that hold scalars."""
    src, namer, lowered = lowered_ir(fn)
    try:
        g = build(lowered, sizes, others)
    except NotFactorable as e:
        note = (f"# s2sad: the Jacobian of {fn.__qualname__} cannot be factored: {e}.\n"
                "# s2sad.jacobian(method='factored') runs jacrev (one pullback per output) when the function "
                "has no more outputs than inputs, else jacfwd (one jvp per input).\n")
        return Factored(None, note, None, str(e), globals_check(fn.__globals__, src.globals_read))
    jac = factor(g, namer, lowered.params, namer.fresh(f"{fn.__name__}_jacobian"))
    cells = {name: types.CellType(obj) for name, obj in _bind_helpers([jac], src, namer).items()}
    cells.update(src.freevars)
    where = f"{os.path.basename(src.file)}:{src.tree.lineno}"
    header = (f"s2sad: Jacobian of {fn.__qualname__} ({where}) with respect to {', '.join(sizes)}, "
              "dominator-factored")
    text, linemap = emit(jac, header)
    filename = f"<s2sad: factored Jacobian of {fn.__qualname__} ({where}) #{next(_serial)}>"
    LINEMAPS[filename] = linemap
    return Factored(g, text, load(text, filename, jac.name, fn.__globals__, cells, fn.__defaults__,
                                  fn.__kwdefaults__), None, globals_check(fn.__globals__, src.globals_read))


def sizes_of(fn: types.FunctionType, wrt: list[str], args: tuple | None) -> tuple[dict[str, int | None], set[str]]:
    """What factoring is specialised on: each differentiated argument's length (None: a scalar), and
    the other positional parameters that hold scalars (all scalars when no ``args`` are given)."""
    params = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    if args is None:
        return dict.fromkeys(wrt), set(params) - set(wrt)
    sizes, others = {}, set()
    for name, a in zip(params, args):
        ndim = np.ndim(a)
        if name in wrt:
            sizes[name] = None if ndim == 0 else len(a) if ndim == 1 else -1  # -1: refused by ``build``
        elif ndim == 0 and isinstance(a, int | float | np.number):
            others.add(name)
    return {w: sizes[w] for w in wrt}, others


def graph_source(fn: types.FunctionType, wrt: list[str], stage: str, args: list | None) -> str:
    """``source(fn, stage=...)`` for ``"graph"``, ``"dot"`` and ``"factored"``."""
    made = factored(fn, *sizes_of(fn, wrt, args))
    if stage == "factored" or made.graph is None:
        return made.text
    return graph_text(made.graph) if stage == "graph" else graph_dot(made.graph)


class FactoredJacobian:
    """``s2sad.jacobian(fun, method="factored")``: one factored function per kind of arguments, or a fallback."""

    def __init__(self, fun: types.FunctionType, nums: tuple[int, ...], jacrev: Callable, jacfwd: Callable) -> None:
        self.fun, self.nums, self.jacrev, self.jacfwd = fun, nums, jacrev, jacfwd
        code = fun.__code__
        self.wrt = [code.co_varnames[i % code.co_argcount] for i in nums]
        self.table: dict[tuple, Callable] = {}

    def __call__(self, *args, **kwargs):
        key = tuple((type(a), np.shape(a)) for a in args)
        made = self.table.get(key)
        if made is None or not made[1]():  # (made again where a function it read was redefined)
            made = self.table[key] = self._make(args, kwargs)
        return made[0](*args, **kwargs)

    def _make(self, args: tuple, kwargs: dict) -> tuple[Callable, Callable[[], bool]]:
        made = factored(self.fun, *sizes_of(self.fun, self.wrt, args))
        if made.function is not None:
            return made.function, made.fresh
        inputs = sum(int(np.size(args[i])) for i in self.nums)
        outputs = int(np.size(self.fun(*args, **kwargs)))
        return (self.jacrev if outputs <= inputs else self.jacfwd), made.fresh  # both given a tuple argnums
