"""Dominator-tree factoring of a derivative graph (Guenter's D*) into one Jacobian function.

∂o/∂i is the sum over the paths from i to o of the products of their labels. The
paths are factored along dominator trees, as D* does, and every factor is computed
once and shared by all input/output pairs:

* the chain: the nodes on every path from a to b are the post-dominators of a up to b
  (in the post-dominator tree of the output), so ``P(a, b)``, the path sum, is the
  product ``F(a, c) · P(c, b)`` along the chain, ``c`` the immediate post-dominator
  of ``a``; the suffix products ``P(c, o)`` are shared by every input whose chain
  passes ``c`` (as reverse accumulation shares them);
* a factor subgraph between two consecutive chain nodes, ``F(a, b)``, has no node on
  every path: it is the sum over a's edges into it of ``label · P(s, b)``, and the
  edges whose heads share a post-dominator ``z`` below b are summed there first, into
  one factored edge ``a -> z`` (the subgraph ``[a, z]``, collapsed innermost first);
* ``P`` and ``F`` are memoised by their endpoints: a pair meeting a subgraph another
  pair met reuses its factored edge.

The same with dominator trees from the inputs (prefix products, forward accumulation's
sharing) is the other direction; each region keeps whichever of the two multiplies
less. Trees come from Cooper, Harvey and Kennedy's intersection walk, which on a DAG in
topological order needs one pass: the work is linear in the graph per tree, and in
the factored edges made.

Branches and loops (``graph.Compound``): each region is factored on its own. A branch
becomes an ``if`` whose arms each also yield their region's Jacobian (the taken arm's
is the one used); a loop carries the Jacobian of its carried values with respect to
what the loop reads, chained per iteration, by whichever plan needs the fewest
operations per iteration (``_Step.plan``): forward (``J = J_body(i) @ J``, carried along)
or in reverse (taped, then swept from the last iteration back), each either with the
body's factored Jacobian or through the body's graph (``_Reduced``: each column, or row,
pushed node by node, after eliminating the nodes not worth a name; a body of cheap,
sparse steps has fewer edges than its Jacobian has entries). A loop in the function body
may also be swept back from the function's rows instead of its results read after it
(``_Emitter._seeded``), where they are fewer. The enclosing graph factors on with these
as its edges' labels.

Generated code names a local partial ``dhead_dtail`` (as the graph prints it) and a
factored edge ``Dhead_dtail``; the function computes the primal values its labels
read, the labels, the factored edges, and returns the Jacobian, all in one pass.
"""

from __future__ import annotations

import heapq
import inspect
import itertools
import os
import types
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import ir
from .codegen import bind_helpers, emit
from .frontend import globals_check
from .graph import Compound, Element, Graph, Input, NotFactorable, Result, Vector, build, partial_name
from .graph import dot as graph_dot
from .graph import text as graph_text
from .load import LINEMAPS, load
from .naming import Namer
from .pytree import leaves
from .ssa import lowered_ir

__all__ = ["factor", "dominators", "factored", "Factored", "FactoredJacobian", "sizes_of", "graph_source", "onehot"]

_serial = itertools.count(1)

_ONE, _MINUS_ONE, _ZERO = ir.Const(1.0), ir.Const(-1.0), ir.Const(0.0)


def onehot(n: int, index: int, value: float) -> np.ndarray:
    """``n`` zeros with ``value`` at ``index``: the column block of an element read at a run-time index."""
    out = np.zeros(n)
    out[index] = value
    return out


# ----- dominator trees -----


def dominators(edges: dict[int, tuple[str, str]], root: str, order: dict[str, int], forward: bool) -> dict[str, str]:
    """Immediate dominators from ``root`` (post-dominators when not ``forward``), the root mapping to
    itself, over the nodes ``root`` reaches (that reach ``root``)."""
    nxt: dict[str, list[str]] = {}
    for t, h in edges.values():
        a, b = (t, h) if forward else (h, t)
        nxt.setdefault(a, []).append(b)
    return _idoms(root, nxt, order if forward else {n: -k for n, k in order.items()})


def _idoms(root: str, nxt: dict[str, list[str]], rank: dict[str, int]) -> dict[str, str]:
    """Cooper-Harvey-Kennedy on the DAG ``root`` reaches along ``nxt``: in a topological order (``rank``)
    every predecessor is done first, so one pass suffices; ``intersect`` walks two nodes up the tree to
    their meeting point."""
    seen, todo = {root}, [root]
    preds: dict[str, list[str]] = {}
    while todo:
        n = todo.pop()
        for m in nxt.get(n, ()):
            preds.setdefault(m, []).append(n)
            if m not in seen:
                seen.add(m)
                todo.append(m)
    idom = {root: root}

    def intersect(x: str, y: str) -> str:
        while x != y:
            while rank[x] > rank[y]:
                x = idom[x]
            while rank[y] > rank[x]:
                y = idom[y]
        return x

    for node in sorted(seen, key=rank.__getitem__):
        if node != root:
            ps = preds[node]
            new = ps[0]
            for p in ps[1:]:
                new = intersect(p, new)
            idom[node] = new
    return idom


class _Tree:
    """A (post-)dominator tree, with the interval of each node's subtree for ancestor tests."""

    def __init__(self, idom: dict[str, str], root: str) -> None:
        self.idom = idom
        kids: dict[str, list[str]] = {}
        for n, p in idom.items():
            if n != p:
                kids.setdefault(p, []).append(n)
        self.enter: dict[str, int] = {}
        self.leave: dict[str, int] = {}
        clock, stack = 0, [(root, False)]
        while stack:
            n, done = stack.pop()
            if done:
                self.leave[n] = clock
                continue
            self.enter[n] = clock
            clock += 1
            stack.append((n, True))
            stack.extend((k, False) for k in kids.get(n, ()))

    def above(self, a: str, n: str) -> bool:
        """``a`` is ``n`` or one of its (post-)dominators."""
        return n in self.enter and self.enter[a] <= self.enter[n] and self.leave[n] <= self.leave[a]


# ----- path sums over one graph -----


class _PathSums:
    """``entry(i, o)``: the sum over paths i -> o of the label products, factored and memoised.

    ``reverse``: chains along the post-dominator tree of each output (suffix products
    shared); else along the dominator tree of each input (prefix products). The factored
    edges it makes are ``assigned`` in an order where each follows what it reads; their
    names are stand-ins until ``statements`` names them (so a trial costs no names).
    """

    def __init__(self, nodes: list[str], labels: dict[tuple[str, str], ir.Expr], reverse: bool) -> None:
        self.reverse = reverse
        self.rank = {n: k for k, n in enumerate(nodes)}
        self.back = {n: -k for n, k in self.rank.items()}  # a topological order of the reversed graph
        self.succ: dict[str, list[str]] = {}
        self.pred: dict[str, list[str]] = {}
        for t, h in labels:
            self.succ.setdefault(t, []).append(h)
            self.pred.setdefault(h, []).append(t)
        self.labels = labels
        self.reach: dict[str, int] = {}  # node -> the bit set of the nodes it reaches
        for n in reversed(nodes):
            bits = 1 << self.rank[n]
            for s in self.succ.get(n, ()):
                bits |= self.reach[s]
            self.reach[n] = bits
        self.trees: dict[str, _Tree] = {}
        self.memo: dict[tuple, ir.Expr] = {}
        self.plans: dict[tuple, tuple] = {}
        self.assigned: list[tuple[ir.Name, ir.Expr]] = []

    def entry(self, i: str, o: str) -> ir.Expr:
        if i == o:
            return _ONE
        if not (self.reach[i] >> self.rank[o]) & 1:
            return _ZERO
        root = o if self.reverse else i
        if root not in self.trees:
            nxt, rank = (self.pred, self.back) if self.reverse else (self.succ, self.rank)
            self.trees[root] = _Tree(_idoms(root, nxt, rank), root)
        return self._value(("P", i, o), self.trees[root])

    def multiplications(self) -> int:
        return sum(_ops(e) for _, e in self.assigned)

    def statements(self, namer: Namer) -> list[ir.Assign]:
        """The factored edges, each named for good."""
        for name, _ in self.assigned:
            name.id = namer.fresh(name.id)
        return [ir.Assign(name.id, e) for name, e in self.assigned]

    def _value(self, key: tuple, tree: _Tree) -> ir.Expr:
        """Memoised ``P`` and ``F`` (see the module docstring), each computed after what it needs."""
        stack = [key]
        while stack:
            k = stack[-1]
            if k in self.memo:
                stack.pop()
                continue
            if k not in self.plans:
                self.plans[k] = self._plan(k, tree)
            needs = [d for d in self._needs(k) if d not in self.memo]
            if needs:
                stack += needs
                continue
            stack.pop()
            self.memo[k] = self._product(k) if k[0] == "P" else self._factor(k)
            del self.plans[k]
        return self.memo[key]

    def _plan(self, key: tuple, tree: _Tree):
        """``P``: the next node on the chain (None: the chain is one factor subgraph). ``F``: the edges out
        of a into ``[a, b]`` (into b from ``[a, b]``) and their grouping bottom-up by lowest common
        post-dominators (dominators): ``kids[z]`` are the nodes whose sums are added at z."""
        kind, a, b = key
        if kind == "P":
            c = tree.idom[a] if self.reverse else tree.idom[b]
            return None if c == (b if self.reverse else a) else c
        if self.reverse:
            items = {s: self.labels[a, s] for s in self.succ[a] if tree.above(b, s)}
            far, rank = b, self.rank
        else:
            items = {p: self.labels[p, b] for p in self.pred[b] if tree.above(a, p)}
            far, rank = a, self.back
        at = {s: [s] for s in items}  # tree node -> the group roots that have climbed to it
        heap = [(rank[s], s) for s in items if s != far]
        heapq.heapify(heap)
        kids: dict[str, list[str]] = {}
        while heap:
            _, z = heapq.heappop(heap)
            climbed = at.pop(z)
            if len(climbed) > 1 or z in items:
                kids[z] = [y for y in climbed if y != z]
                climbed = [z]
            up = tree.idom[z]
            if up not in at:
                at[up] = []
                if up != far:
                    heapq.heappush(heap, (rank[up], up))
            at[up] += climbed
        kids[far] = [y for y in at.get(far, []) if y != far]
        return items, kids

    def _needs(self, key: tuple) -> list[tuple]:
        kind, a, b = key
        plan = self.plans[key]
        if kind == "P":
            if plan is None:
                return [("F", a, b)]
            return [("F", a, plan), ("P", plan, b)] if self.reverse else [("P", a, plan), ("F", plan, b)]
        return [self._path(y, z) for z, ys in plan[1].items() for y in ys]

    def _path(self, near: str, far: str) -> tuple:
        return ("P", near, far) if self.reverse else ("P", far, near)

    def _sum_of(self, key: tuple) -> ir.Expr:
        return _ONE if key[1] == key[2] else self.memo[key]

    def _product(self, key: tuple) -> ir.Expr:
        _, a, b = key
        first, *rest = self._needs(key)
        if not rest:
            return self.memo[first]
        return self._name(_times(self.memo[first], self.memo[rest[0]]), a, b)

    def _factor(self, key: tuple) -> ir.Expr:
        """Σ label · P over the grouped edges; a group's sum at z is the factored edge between the near end
        and z, shared when it is the whole path sum between them."""
        _, a, b = key
        items, kids = self.plans[key]
        far = b if self.reverse else a
        sums: dict[str, ir.Expr] = {}
        for z in sorted(kids, key=self.rank.__getitem__, reverse=not self.reverse):
            terms = [items[z]] if z in items else []
            for y in kids[z]:
                p = self._sum_of(self._path(y, z))
                terms.append(_times(sums[y], p) if self.reverse else _times(p, sums[y]))
            if z == far:
                return self._name(_sum(terms), a, b)
            ends = ("P", a, z) if self.reverse else ("P", z, b)
            whole = self._whole(z, items, kids)
            if whole and ends in self.memo:
                sums[z] = self.memo[ends]
                continue
            sums[z] = self._name(_sum(terms), *ends[1:])
            if whole:
                self.memo[ends] = sums[z]
        raise AssertionError("the far end closes every group")

    def _whole(self, z: str, items: dict, kids: dict) -> bool:
        """Every edge of the near end connected to z is grouped under z: the group's sum is the whole
        path sum between the near end and z. (An edge connected to z is connected to the far end, so
        it is among ``items``.)"""
        under, todo = set(), [z]
        while todo:
            y = todo.pop()
            under.add(y)
            todo += kids.get(y, [])
        return all(y in under or not self._connects(y, z) for y in items)

    def _connects(self, y: str, z: str) -> bool:
        near, far = (y, z) if self.reverse else (z, y)
        return bool((self.reach[near] >> self.rank[far]) & 1)

    def _name(self, e: ir.Expr, a: str, b: str) -> ir.Expr:
        if _atom(e):
            return e
        name = ir.Name(partial_name(b, a, factored=True))
        self.assigned.append((name, e))
        return name


# ----- a loop body's graph, for pushing columns (rows) through it -----


class _Reduced:
    """The body's graph from the carried values to the rows, for pushing the columns of the carried
    Jacobian through it (``reverse``: the rows of its adjoint back through it) without forming the body's
    Jacobian: a body of cheap, sparse steps has fewer edges than its Jacobian has entries.

    Edges are kept in the direction of the push (``reverse``: the graph's edges turned round). An
    intermediate node is eliminated (each edge into it joined with each edge out of it into a factored
    edge, computed once per iteration) where that saves more, over the ``weight`` columns (rows) pushed,
    than it costs, as vertex elimination does; the rest is pushed through node by node."""

    def __init__(self, nodes: list[str], labels: dict[tuple[str, str], ir.Expr], carried: list[str],
                 rows: list[str], weight: int, reverse: bool) -> None:
        self.reverse = reverse
        ahead = _closure(carried, labels, forward=True)
        live = ahead & _closure(rows, labels, forward=False)
        self.order = [n for n in (nodes[::-1] if reverse else nodes) if n in live]
        self.seeded, self.kept = (set(rows), set(carried)) if reverse else (set(carried), set(rows))
        self.pred: dict[str, dict[str, ir.Expr]] = {n: {} for n in self.order}  # node -> {tail: label}
        self.succ: dict[str, dict[str, None]] = {n: {} for n in self.order}  # (a dict: ordered)
        for (t, h), label in labels.items():
            if t in live and h in live:
                a, b = (h, t) if reverse else (t, h)
                self.pred[b][a] = label
                self.succ[a][b] = None
        self.made: list[tuple[ir.Name, ir.Expr]] = []  # the factored edges, named by ``statements``
        self.fixed = 0  # their operations, once per iteration
        self._eliminate(weight)

    def statements(self, namer: Namer) -> list[ir.Assign]:
        for name, _ in self.made:
            name.id = namer.fresh(name.id)
        return [ir.Assign(name.id, e) for name, e in self.made]

    def labels(self) -> list[ir.Expr]:
        return [label for ins in self.pred.values() for label in ins.values()]

    def cost(self, seed_sets: list[tuple[int, set[str]]]) -> int:
        """Operations per iteration: the factored edges, and each push (its weight, the nodes it seeds)."""
        total, edges, grouped = self.fixed, [(a, b) for b in self.order for a in self.pred[b]], {}
        for weight, seeds in seed_sets:
            key = frozenset(seeds) & frozenset(self.order)
            grouped[key] = grouped.get(key, 0) + weight
        for seeds, weight in grouped.items():
            reached = _closure(sorted(seeds), edges, forward=True)
            total += weight * sum(self._push_cost(v, self.pred[v]) for v in reached)
        return total

    def push(self, seeds: dict[str, ir.Expr], name: Callable[[str], str], namer: Namer
             ) -> tuple[list[ir.Assign], dict[str, ir.Expr]]:
        """The statements pushing one column (row) whose values at the seeded nodes are ``seeds``, and its
        values at the kept nodes (a value read further on is named ``name(node)``)."""
        values: dict[str, ir.Expr] = {}
        code = []
        for v in self.order:
            terms = [seeds[v]] if v in seeds else []
            for u, label in self.pred[v].items():
                if u in values:
                    terms.append(_times(values[u], label) if self.reverse else _times(label, values[u]))
            if not terms:
                continue
            value = _sum(terms)
            if self.succ[v] and not _atom(value):
                var = namer.fresh(name(v))
                code.append(ir.Assign(var, value))
                value = ir.Name(var)
            values[v] = value
        return code, {v: e for v, e in values.items() if v in self.kept}

    def _push_cost(self, v: str, ins: dict[str, ir.Expr]) -> int:
        if not ins:
            return 0
        return _costly(list(ins.values())) + len(ins) - 1 + (v in self.seeded)

    def _eliminate(self, weight: int) -> None:
        """Greedily, the node whose elimination saves most, while one saves anything (or costs nothing)."""
        gain = {v: self._delta(v, weight) for v in self.order if v not in self.seeded and v not in self.kept}
        while gain:
            v = min(gain, key=gain.__getitem__)
            if gain[v] > 0:
                return
            touched = {*self.pred[v], *self.succ[v], *(u for w in self.succ[v] for u in self.pred[w])}
            self._remove(v)
            del gain[v]
            for n in touched:
                if n in gain:
                    gain[n] = self._delta(n, weight)

    def _joined(self, v: str) -> tuple[int, dict[str, dict[str, ir.Expr]]]:
        """The operations joining v's edges pairwise, and the new edges into each of its successors."""
        ops, into = 0, {}
        for w in self.succ[v]:
            ins = {u: e for u, e in self.pred[w].items() if u != v}
            out = self.pred[w][v]
            for u, e in self.pred[v].items():
                path = _times(e, out) if not self.reverse else _times(out, e)
                ops += _ops(path) + (u in ins)
                ins[u] = _sum([ins[u], path]) if u in ins else path
            into[w] = ins
        return ops, into

    def _delta(self, v: str, weight: int) -> int:
        ops, into = self._joined(v)
        change = -self._push_cost(v, self.pred[v])
        change += sum(self._push_cost(w, ins) - self._push_cost(w, self.pred[w]) for w, ins in into.items())
        return ops + weight * change

    def _remove(self, v: str) -> None:
        ops, into = self._joined(v)
        self.fixed += ops
        for w, ins in into.items():
            for u, e in ins.items():
                if not _atom(e) and e is not self.pred[w].get(u):
                    head, tail = (u, w) if self.reverse else (w, u)
                    name = ir.Name(partial_name(head, tail, factored=True))
                    self.made.append((name, e))
                    ins[u] = name
            self.pred[w] = ins
        for u in self.pred[v]:
            del self.succ[u][v]
            self.succ[u].update(self.succ[v])
        self.order.remove(v)
        del self.pred[v], self.succ[v]


def _closure(start: list[str], edges, forward: bool) -> set[str]:
    """The nodes reachable from ``start`` along ``edges`` (against them when not ``forward``)."""
    nxt: dict[str, list[str]] = {}
    for t, h in edges:
        a, b = (t, h) if forward else (h, t)
        nxt.setdefault(a, []).append(b)
    seen, todo = set(start), list(start)
    while todo:
        for m in nxt.get(todo.pop(), ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


# ----- regions: their code and their Jacobians -----


@dataclass
class _Solved:
    """A region's code (its statements with labels and factored edges) and its Jacobian's entries."""

    code: list[ir.Stmt]
    entries: list[list[ir.Expr]]  # [row][column]
    blocks: list[list[ir.Expr | None]]  # [row][vector column]: None where the block is zero
    labels: dict[tuple[str, str], ir.Expr]  # the graph's edges, each label a name or a constant
    sums: _PathSums  # the path sums the entries are


@dataclass
class _Row:
    """A row a loop's adjoint sweep carries: ``inits`` its adjoint w.r.t. each carried value at the end of
    the iterations, and the name of its entry for each column it may depend on."""

    name: str
    inits: dict[int, ir.Expr]
    labels: dict[str | Vector, str]


@dataclass
class _Pending:
    """A loop run and taped, whose adjoint sweep waits for the rows of the function's Jacobian."""

    c: Compound
    step: _Step
    sparse: _Reduced
    tape: str
    taped: list[str]


class _Emitter:
    """Generates each region's code, branches and loops included, with the factored Jacobian's entries."""

    def __init__(self, namer: Namer) -> None:
        self.namer = namer

    def region(self, g: Graph, columns: list[str], vectors: list[str], top: bool = False,
               named: bool = True) -> _Solved:
        """``top``: the function body, whose loops may sweep back the function's rows (see ``_seeded``);
        not ``named``: the path sums' statements are left to the caller (a loop body's may be others)."""
        labels: dict[tuple[str, str], ir.Expr] = {}
        bound: dict[str, list[ir.Assign]] = {}  # node -> the partials into it that needed a name
        for (tail, head), label in g.edges.items():
            if not _atom(label):
                var = self.namer.fresh(partial_name(head, tail))
                node = g.nodes[head]
                loc = node.compound.stmt.loc if isinstance(node, Result) else node.loc
                bound.setdefault(head, []).append(ir.Assign(var, label, loc))
                label = ir.Name(var)
            labels[tail, head] = label
        rows = [o.id if isinstance(o, ir.Name) else None for o in g.outputs]
        code: list[ir.Stmt] = []
        pending: list[_Pending] = []
        for s in g.forward:
            c = g.compounds.get(s.sid)
            if c is not None:
                if isinstance(s, ir.If):
                    code += self.branch(c)
                else:
                    stmts, later = self.loop(c, len(_closure(c.outs, g.edges, True) & set(rows)) if top else None)
                    code += stmts
                    pending += [later] if later is not None else []
                code += [a for out in c.outs for a in bound.get(out, [])]
                continue
            code.append(s)
            if isinstance(s, ir.Assign) and isinstance(s.target, str):
                code += bound.get(s.target, [])
        nodes = list(g.nodes)
        for later in reversed(pending):
            code += self._seeded(later, g, nodes, labels, rows)
        sources = [c for c in columns if c in nodes]
        sources += [n for x in vectors for n, _ in g.vectors.get(x, ())]
        sums = _cheaper(nodes, labels, sources, [r for r in rows if r is not None],
                        reverse=len(rows) <= len(columns) + sum(map(len, g.vectors.values())))
        entries = [[sums.entry(c, r) if r is not None and c in nodes else _ZERO for c in columns] for r in rows]
        blocks = [[self._block(g, sums, x, r) if r is not None else None for x in vectors] for r in rows]
        code += sums.statements(self.namer) if named else []
        return _Solved(code, entries, blocks, labels, sums)

    def _block(self, g: Graph, sums: _PathSums, x: str, row: str) -> ir.Expr | None:
        """Row ``row``'s vector block for array parameter ``x``: its elements read at run-time indices
        put in place, and the blocks of the branches and loops it reads, each times the path sum."""
        terms = []
        for node, how in g.vectors.get(x, ()):
            p = sums.entry(node, row)
            if p == _ZERO:
                continue
            if isinstance(g.nodes[node], Element):
                size = g.nodes[node].size
                terms.append(ir.Call(ir.Ref(("onehot",), onehot, helper=True), [ir.Const(size), how, p]))
            else:
                terms.append(_times(p, how))
        return _sum(terms) if terms else None

    # ----- a branch: each arm yields its Jacobian too -----

    def branch(self, c: Compound) -> list[ir.Stmt]:
        s = c.stmt
        columns, vectors = c.columns, list(c.sizes)
        arms = []
        for g in c.regions:
            solved = self.region(g, columns, vectors)
            values = [solved.entries[c.outs.index(out)][columns.index(col)] for col, out in c.labels]
            values += [solved.blocks[c.outs.index(out)][vectors.index(x)] or _zeros(c.sizes[x])
                       for x, out in c.vector_labels]
            arms.append((solved.code, values))
        outs = [*s.outs, *c.labels.values(), *c.vector_labels.values()]
        yields = ([*s.yields[0], *arms[0][1]], [*s.yields[1], *arms[1][1]])
        return [ir.If(s.test, arms[0][0], arms[1][0], outs, yields, s.loc, s.kind)]

    # ----- a loop: the body's Jacobian chained over the iterations -----

    def loop(self, c: Compound, outputs: int | None = None) -> tuple[list[ir.Stmt], _Pending | None]:
        """The loop carrying its Jacobian, by the cheapest of the plans ``_Step.plan`` weighs; ``outputs``:
        in the function body, how many of the function's rows the loop's results reach."""
        body = c.regions[0]
        outer = [col for col in c.columns if col in body.nodes]
        vectors = list(c.sizes)
        solved = self.region(body, c.carried + outer, vectors, named=False)
        step = _Step(c, solved, outer, vectors)
        plan, sparse, sums = step.plan(outputs)
        if sums is not solved.sums:  # the path sums from the columns from outside only
            for k, row in enumerate(step.row_nodes()):
                for i, col in enumerate(outer):
                    solved.entries[k][len(c.carried) + i] = sums.entry(col, row) if row is not None else _ZERO
                solved.blocks[k] = [self._block(body, sums, x, row) if row is not None else None for x in vectors]
        solved.code += sums.statements(self.namer)
        if plan == "forward":
            return self._forward(c, step, sparse), None
        stmts, tape, taped = self._taped(c, step, sparse)
        if plan == "seeded":
            return stmts, _Pending(c, step, sparse, tape, taped)
        rows = [_Row(c.outs[r], {j: _ONE if r == j else _ZERO for j in sorted(reach)},
                     {col: _label(c, col, c.outs[r]) for col in step.columns(r)})
                for r, reach in zip(step.rows(), map(step.reach().__getitem__, step.rows()))]
        sweep, done = self._sweep(c, step, sparse, tape, taped, rows)
        return [*stmts, *sweep, *(ir.Assign(name, value, c.stmt.loc) for name, value in done.items()
                                  if value != ir.Name(name))], None

    def _forward(self, c: Compound, step: _Step, sparse: _Reduced | None) -> list[ir.Stmt]:
        """``J = J_body(i) @ J`` each iteration: the Jacobian of the carried values carried along, updated
        in place at the end of the body, one column at a time (each column's entries at once: they read
        the column as it was); ``sparse``: each column pushed through the body's graph instead."""
        s, code = c.stmt, list(step.solved.code)
        names: dict[tuple[int, object], str] = {}  # (carried k, column) -> its entry's name
        for k, carried in enumerate(c.carried):
            for col in step.columns(k):
                names[k, col] = self.namer.fresh(partial_name(carried, _column_name(col), factored=True))
        if sparse is not None:
            code += sparse.statements(self.namer)
        rows = step.row_nodes()
        for col in step.all_columns():
            pushed: dict[str, ir.Expr] = {}
            if sparse is not None:
                seeds = {c.carried[j]: ir.Name(names[j, col]) for j in range(len(c.carried)) if (j, col) in names}
                column = _column_name(col)
                stmts, pushed = sparse.push(seeds, lambda v: partial_name(v, column, factored=True), self.namer)
                code += stmts
            update = {}
            for k in range(len(c.carried)):
                if (k, col) not in names:
                    continue
                if sparse is None:
                    terms = [_times(step.carried_entry(k, j), ir.Name(names[j, col]))
                             for j in step.nonzero[k] if (j, col) in names]
                else:
                    terms = [pushed[rows[k]]] if rows[k] in pushed else []
                own = step.outer_entry(k, col)
                value = _sum(terms + [own] if own is not None else terms) if terms or own is not None else _ZERO
                if value != ir.Name(names[k, col]):
                    update[names[k, col]] = value
            code += _at_once(update, s.loc)
        inits = [_zeros(c.sizes[col.param]) if isinstance(col, Vector) else _ONE if c.inits[k] == col else _ZERO
                 for k, col in names]
        results = [_label(c, col, c.outs[k]) if c.read(k) else name for (k, col), name in names.items()]
        entries = list(names.values())
        return [ir.Loop(s.kind, code, s.target, s.iter, s.cond_body, s.cond, [*s.carried, *entries],
                        [*s.inits, *inits], [*s.nexts, *map(ir.Name, entries)], [*s.results, *results], s.exit,
                        s.loc)]

    def _taped(self, c: Compound, step: _Step, sparse: _Reduced | None) -> tuple[list[ir.Stmt], str, list[str]]:
        """The loop, taping what the sweep reads of each iteration: the body's Jacobian (``sparse``: its
        graph's labels, and the entries of the columns from outside)."""
        s, code = c.stmt, list(step.solved.code)
        for k, blocks in enumerate(step.solved.blocks):  # a vector block is taped by name
            for j, block in enumerate(blocks):
                if block is not None and not _atom(block):
                    var = self.namer.fresh(partial_name(step.row_name(k), step.vectors[j], factored=True))
                    code.append(ir.Assign(var, block))
                    blocks[j] = ir.Name(var)
        if sparse is None:
            read = step.all_entries()
        else:
            code += sparse.statements(self.namer)
            read = [*sparse.labels(), *step.outer_entries()]
        taped = list(dict.fromkeys(e.id for e in read if isinstance(e, ir.Name)))
        tape = self.namer.fresh("tape")
        push = ir.Tuple([ir.Name(n) for n in taped]) if len(taped) != 1 else ir.Name(taped[0])
        append = ir.Do(ir.Call(ir.Attr(ir.Name(tape), "append"), [push]), s.loc)
        loop = ir.Loop(s.kind, [*code, append], s.target, s.iter, s.cond_body, s.cond, s.carried,
                       s.inits, s.nexts, s.results, s.exit, s.loc)
        return [ir.Assign(tape, ir.List([]), s.loc), loop], tape, taped

    def _sweep(self, c: Compound, step: _Step, sparse: _Reduced | None, tape: str, taped: list[str],
               rows: list[_Row]) -> tuple[list[ir.Stmt], dict[str, ir.Expr]]:
        """The taped iterations from the last back, each row's adjoint w.r.t. the carried values updated
        (``sparse``: pushed back through the body's graph) and its entries for the columns from outside
        accumulated; then each row's entry for each of its columns, by name."""
        s, n = c.stmt, len(c.carried)
        # adjoint[r, j]: ∂row r/∂(carried j before the iterations swept so far); grads[r, col]: the rest
        adjoint = {(r, j): self.namer.fresh(partial_name(row.name, c.carried[j], factored=True))
                   for r, row in enumerate(rows) for j in row.inits}
        grads = {(r, col): name for r, row in enumerate(rows) for col, name in row.labels.items()
                 if any(step.outer_entry(k, col) is not None for k in row.inits)}  # accumulate into the labels
        sweep_code: list[ir.Stmt] = []  # the rest first (it reads the adjoints as they were), then the adjoints
        for (r, col), name in grads.items():
            terms = [_times(ir.Name(adjoint[r, k]), step.outer_entry(k, col)) for k in range(n)
                     if (r, k) in adjoint and step.outer_entry(k, col) is not None]
            sweep_code.append(ir.Assign(name, _sum([ir.Name(name), *terms]), s.loc))
        nodes = step.row_nodes()
        for r, row in enumerate(rows):
            if sparse is not None:
                seeds: dict[str, list[ir.Expr]] = {}
                for k in row.inits:
                    if nodes[k] is not None:
                        seeds.setdefault(nodes[k], []).append(ir.Name(adjoint[r, k]))
                stmts, pushed = sparse.push({v: _sum(ts) for v, ts in seeds.items()},
                                            lambda v: partial_name(row.name, v, factored=True), self.namer)
                sweep_code += stmts
            update = {}
            for j in row.inits:
                if sparse is not None:
                    update[adjoint[r, j]] = pushed.get(c.carried[j], _ZERO)
                    continue
                terms = [_times(ir.Name(adjoint[r, k]), step.carried_entry(k, j)) for k in range(n)
                         if (r, k) in adjoint and j in step.nonzero[k]]
                update[adjoint[r, j]] = _sum(terms) if terms else _ZERO
            sweep_code += _at_once({a: e for a, e in update.items() if e != ir.Name(a)}, s.loc)
        carried = [*adjoint.values(), *grads.values()]
        inits = [rows[r].inits[j] for r, j in adjoint]
        inits += [_zeros(c.sizes[col.param]) if isinstance(col, Vector) else _ZERO for _, col in grads]
        target = tuple(taped) if len(taped) != 1 else taped[0]
        reversed_tape = ir.Call(ir.Ref(("reversed",), reversed, helper=True), [ir.Name(tape)])
        sweep = ir.Loop("for", sweep_code, target, reversed_tape, [], None, carried, inits,
                        list(map(ir.Name, carried)), carried, None, s.loc)
        done = {}  # a column a carried value starts as: its adjoint joins the label
        for r, row in enumerate(rows):
            for col, name in row.labels.items():
                terms = [ir.Name(grads[r, col])] if (r, col) in grads else []
                terms += [ir.Name(adjoint[r, j]) for j in range(n) if (r, j) in adjoint and c.inits[j] == col]
                done[name] = _sum(terms) if terms else _ZERO
        return [sweep], done

    # ----- a loop in the function body swept back from the function's rows -----

    def _seeded(self, later: _Pending, g: Graph, nodes: list[str], labels: dict[tuple[str, str], ir.Expr],
                rows: list[str | None]) -> list[ir.Stmt]:
        """The sweep of a taped loop from each row of the function (fewer than the loop's results read
        after it), seeded with ∂row/∂result, the path sums from the results to the rows, computed first;
        then the graph rerouted around the results (``_reroute``). ``nodes``, ``labels`` and ``rows`` are
        updated in place; loops are done from the last one back."""
        c, step = later.c, later.step
        results = [out for out in c.outs if out in nodes]
        sinks = list(dict.fromkeys(r for r in rows if r is not None))
        sums = _cheaper(nodes, labels, results, sinks, reverse=len(sinks) <= len(results))
        code: list[ir.Stmt] = list(sums.statements(self.namer))
        reach = step.reach()
        seeded = []
        for sink in sinks:
            inits = {j: sums.entry(out, sink) for j, out in enumerate(c.outs) if out in results}
            inits = {j: e for j, e in inits.items() if e != _ZERO}
            if not inits:
                continue
            ks = set().union(*(reach[j] for j in inits))
            cols = [col for col in step.all_columns() if any(col in c.pattern[k] for k in ks)]
            seeded.append(_Row(sink, {j: inits.get(j, _ZERO) for j in sorted(ks)},
                               {col: _label(c, col, sink) if sink in results  # (the same: the loop's label)
                                else self.namer.fresh(partial_name(sink, _column_name(col), True)) for col in cols}))
        sweep, done = self._sweep(c, step, later.sparse, later.tape, later.taped, seeded)
        return code + sweep + self._reroute(c, seeded, done, g, nodes, labels, rows)

    def _reroute(self, c: Compound, seeded: list[_Row], done: dict[str, ir.Expr], g: Graph, nodes: list[str],
                 labels: dict[tuple[str, str], ir.Expr], rows: list[str | None]) -> list[ir.Stmt]:
        """The graph without the loop's results: each row's entries for the loop's columns (``done``) are
        edges from the columns into the row's node instead (its own where the row is a result or has no
        edges out; else a new node the row's node joins, so that no other row reads them again); and the
        statements naming the entries."""
        code: list[ir.Stmt] = []
        gone = set(c.outs) & set(nodes)
        for key in [key for key in labels if gone & set(key)]:
            del labels[key]
        nodes[:] = [n for n in nodes if n not in gone]
        elements = {(v.param, v.index): n for n, v in g.nodes.items() if isinstance(v, Input)}
        for row in seeded:
            sink = row.name
            if sink in gone:
                nodes.append(sink)
            elif any(t == sink for t, _ in labels):
                joined = self.namer.fresh(f"{sink}_all")
                nodes.append(joined)
                labels[sink, joined] = _ONE
                rows[:] = [joined if r == sink else r for r in rows]
                sink = joined
            for col, name in row.labels.items():
                if done[name] == _ZERO:
                    continue
                if done[name] != ir.Name(name):
                    code.append(ir.Assign(name, done[name], c.stmt.loc))
                if not isinstance(col, Vector):
                    code += self._join(labels, col, sink, ir.Name(name))
                    continue
                for k in range(c.sizes[col.param]):
                    code += self._join(labels, elements[col.param, k], sink, ir.Subscript(ir.Name(name), ir.Const(k)))
        return code

    def _join(self, labels: dict[tuple[str, str], ir.Expr], tail: str, head: str, label: ir.Expr) -> list[ir.Assign]:
        """The edge ``tail -> head`` labelled ``label``, added to the one there may be (named anew)."""
        if (tail, head) not in labels:
            labels[tail, head] = label
            return []
        var = self.namer.fresh(partial_name(head, tail, factored=True))
        old, labels[tail, head] = labels[tail, head], ir.Name(var)
        return [ir.Assign(var, ir.BinOp("+", old, label))]


class _Step:
    """One iteration's Jacobian (the body's), as the loop chains it, and what each way of chaining costs."""

    def __init__(self, c: Compound, solved: _Solved, outer: list[str], vectors: list[str]) -> None:
        self.c, self.solved, self.outer, self.vectors = c, solved, outer, vectors
        n = len(c.carried)
        self.nonzero = [[j for j in range(n) if solved.entries[k][j] != _ZERO] for k in range(n)]  # ∂next_k/∂carried_j

    def plan(self, outputs: int | None) -> tuple[str, _Reduced | None, _PathSums]:
        """The cheapest way to chain, by operations per iteration (the body's path sums included):
        ``"forward"`` or ``"reverse"`` with the body's Jacobian (``_Reduced`` None) or pushed through its
        graph, or ``"seeded"``: in reverse from the function's ``outputs`` rows, where they are fewer than
        the results read after the loop. (A body whose Jacobian is constant has nothing to tape.) Also the
        path sums the plan needs: the body's Jacobian, or (pushed through the graph) the columns from
        outside's entries only."""
        dense = self.solved.sums.multiplications()
        plans: list[tuple[int, str, _Reduced | None]] = [(dense + self.forward_cost(), "forward", None)]
        taped = any(isinstance(e, ir.Name) or not _atom(e) for e in self.all_entries())
        body, labels, rows = self.c.regions[0], self.solved.labels, self.row_nodes()
        nodes, sinks = list(body.nodes), [r for r in rows if r is not None]
        sources = [col for col in self.outer if col in body.nodes]
        sources += [v for x in self.vectors for v, _ in body.vectors.get(x, ())]
        outer = _cheaper(nodes, labels, sources, sinks, reverse=len(sinks) <= len(sources))
        carried = self.c.carried
        columns = [(self._weight(col), {c for c, pattern in zip(carried, self.c.pattern) if col in pattern})
                   for col in self.all_columns()]
        pushed = _Reduced(nodes, labels, carried, sinks, sum(w for w, _ in columns), reverse=False)
        own = outer.multiplications()
        plans.append((own + pushed.cost(columns), "forward", pushed))
        if taped:
            reach = self.reach()
            plans.append((dense + self.reverse_cost(), "reverse", None))
            back = [(1, {rows[k] for k in reach[r] if rows[k] is not None}) for r in self.rows()]
            pulled = _Reduced(nodes, labels, carried, sinks, len(back), reverse=True)
            grads = sum(self._grads_cost(reach[r]) for r in self.rows())
            plans.append((own + pulled.cost(back) + self._tape_cost(pulled) + grads, "reverse", pulled))
            if outputs is not None and outputs < len(self.rows()):
                seeded = _Reduced(nodes, labels, carried, sinks, outputs, reverse=True)
                every = set(range(len(carried)))
                plans.append((own + seeded.cost([(outputs, set(sinks))]) + self._tape_cost(seeded)
                              + outputs * self._grads_cost(every), "seeded", seeded))
        _, plan, sparse = min(plans, key=lambda p: p[0])
        return plan, sparse, self.solved.sums if sparse is None else outer

    def _tape_cost(self, graph: _Reduced) -> int:
        """The values an iteration tapes for a sweep through ``graph``."""
        return sum(not isinstance(e, ir.Const) for e in [*graph.labels(), *self.outer_entries()])

    def carried_entry(self, k: int, j: int) -> ir.Expr:
        """∂next_k/∂carried_l."""
        return self.solved.entries[k][j]

    def outer_entry(self, k: int, col: str | Vector) -> ir.Expr | None:
        """∂next_k/∂col for a value from outside, or its vector block; None where zero."""
        if isinstance(col, Vector):
            return self.solved.blocks[k][self.vectors.index(col.param)]
        if col not in self.outer:
            return None
        e = self.solved.entries[k][len(self.c.carried) + self.outer.index(col)]
        return None if e == _ZERO else e

    def outer_entries(self) -> list[ir.Expr]:
        """The entries of the columns from outside, and the vector blocks."""
        cols = self.all_columns()
        return [e for k in range(len(self.c.carried)) for col in cols if (e := self.outer_entry(k, col)) is not None]

    def columns(self, k: int) -> list[str | Vector]:
        """What carried value k may depend on, in column order."""
        return [col for col in self.all_columns() if col in self.c.pattern[k]]

    def all_columns(self) -> list[str | Vector]:
        return [*self.c.columns, *(Vector(x) for x in self.c.sizes)]

    def row_name(self, k: int) -> str:
        row = self.c.regions[0].outputs[k]
        return row.id if isinstance(row, ir.Name) else self.c.carried[k]

    def row_nodes(self) -> list[str | None]:
        """The body's node each carried value's next value is (None: a constant)."""
        return [o.id if isinstance(o, ir.Name) else None for o in self.c.regions[0].outputs]

    def all_entries(self) -> list[ir.Expr]:
        n = len(self.c.carried)
        return [e for k in range(n) for e in [*self.solved.entries[k], *self.solved.blocks[k]] if e is not None]

    def rows(self) -> list[int]:
        """The carried values whose results are read after the loop."""
        return [k for k in range(len(self.c.carried)) if self.c.read(k)]

    def reach(self) -> list[set[int]]:
        """For each out, the carried values it depends on at the start of some iteration."""
        reach = [{r} for r in range(len(self.c.carried))]
        while True:
            grown = [a.union(*(self.nonzero[k] for k in a)) for a in reach]
            if grown == reach:
                return reach
            reach = grown

    def _weight(self, col: str | Vector) -> int:
        return self.c.sizes[col.param] if isinstance(col, Vector) else 1

    def forward_cost(self) -> int:
        """Operations per iteration carrying ``J`` along."""
        cost, n = 0, len(self.c.carried)
        for k in range(n):
            for col in self.columns(k):
                factors = [self.carried_entry(k, j) for j in self.nonzero[k] if col in self.c.pattern[j]]
                own = self.outer_entry(k, col) is not None
                cost += self._weight(col) * (_costly(factors) + max(len(factors) + own - 1, 0))
        return cost

    def reverse_cost(self) -> int:
        """Operations per iteration taping the body's Jacobian and sweeping it back."""
        cost, reach = sum(not isinstance(e, ir.Const) for e in self.all_entries()), self.reach()
        for r in self.rows():
            for j in reach[r]:
                factors = [self.carried_entry(k, j) for k in reach[r] if j in self.nonzero[k]]
                cost += _costly(factors) + max(len(factors) - 1, 0)
            cost += self._grads_cost(reach[r])
        return cost

    def _grads_cost(self, reach: set[int]) -> int:
        """Operations per iteration accumulating one row's entries for the columns from outside."""
        cost = 0
        for col in self.all_columns():
            owns = [self.outer_entry(k, col) for k in reach if self.outer_entry(k, col) is not None]
            cost += self._weight(col) * (_costly(owns) + len(owns))
        return cost


def _at_once(update: dict[str, ir.Expr], loc: ir.Loc | None) -> list[ir.Assign]:
    """``name = value`` for all at once: each value reads the names as they were."""
    if len(update) <= 1:
        return [ir.Assign(name, value, loc) for name, value in update.items()]
    return [ir.Assign(tuple(update), ir.Tuple(list(update.values())), loc)]


def _costly(factors: list[ir.Expr]) -> int:
    """The multiplications by ``factors`` (by ±1 there is none)."""
    return sum(f not in (_ONE, _MINUS_ONE) for f in factors)


def _column_name(col: str | Vector) -> str:
    return col.param if isinstance(col, Vector) else col


def _label(c: Compound, col: str | Vector, out: str) -> str:
    return c.vector_labels[col.param, out] if isinstance(col, Vector) else c.labels[col, out]


def _cheaper(nodes: list[str], labels: dict[tuple[str, str], ir.Expr], sources: list[str], sinks: list[str],
             reverse: bool) -> _PathSums:
    """The path sums from ``sources`` to ``sinks`` factored along post-dominator trees and along dominator
    trees: the one with fewer multiplications (on a tie, ``reverse`` says which)."""
    trials = []
    for direction in (reverse, not reverse):
        sums = _PathSums(nodes, labels, direction)
        for o in sinks:
            for i in sources:
                sums.entry(i, o)
        trials.append(sums)
    return min(trials, key=_PathSums.multiplications)


def factor(g: Graph, namer: Namer, params: ir.Params, name: str) -> ir.Function:
    """The function ``name(*params)`` returning the Jacobian of ``g`` (a tuple, one per wrt parameter)."""
    inputs = g.inputs()
    columns = [(p, Input(p) if size is None else Input(p, k)) for p, size in g.sizes.items()
               for k in range(1 if size is None else size)]
    nodes = [inputs.get(inp) for _, inp in columns]
    read = list(dict.fromkeys(n for n in nodes if n is not None))  # the columns the function reads
    where = {n: j for j, n in enumerate(read)}
    solved = _Emitter(namer).region(g, read, [], top=True)
    jacobians = []
    for p, size in g.sizes.items():
        rows = [[solved.entries[k][where[n]] if n is not None else _ZERO
                 for (q, _), n in zip(columns, nodes) if q == p] for k in range(len(g.outputs))]
        jacobians.append(_assemble(rows, size is not None, g.array_output))
    body = _live(solved.code, {n for j in jacobians for n in ir.names_read(j)})
    return ir.Function(name, params, [*body, ir.Return(ir.Tuple(jacobians))], g.fn.loc, ssa=True, flat=False)


# ----- expressions -----


def _atom(e: ir.Expr) -> bool:
    """A name, a constant, or an element of a named vector: used as is, never named."""
    return isinstance(e, ir.Name | ir.Const) or (
        isinstance(e, ir.Subscript) and isinstance(e.value, ir.Name) and isinstance(e.index, ir.Const))


def _ops(e: ir.Expr) -> int:
    """The multiplications and divisions in ``e``."""
    own = isinstance(e, ir.BinOp) and e.op in ("*", "/")
    return own + sum(_ops(c) for c in ir.children(e))


def _zeros(n: int) -> ir.Expr:
    return ir.Call(ir.Ref(("np", "zeros"), np.zeros, helper=True), [ir.Const(n)])


def _times(acc: ir.Expr | None, label: ir.Expr) -> ir.Expr:
    """``acc * label``, without multiplying by ±1 or two constants (``acc`` None: the empty product)."""
    if acc is None or acc == _ONE:
        return label
    if label == _ONE:
        return acc
    if isinstance(acc, ir.Const) and isinstance(label, ir.Const):
        return ir.Const(acc.value * label.value)
    if acc == _MINUS_ONE or label == _MINUS_ONE:
        other = label if acc == _MINUS_ONE else acc
        return other.operand if isinstance(other, ir.UnaryOp) and other.op == "-" else ir.UnaryOp("-", other)
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


# ----- dead code -----


def _live(stmts: list[ir.Stmt], need: set[str]) -> list[ir.Stmt]:
    """The statements of ``stmts`` that compute ``need`` or have an effect, with their arms and bodies pruned
    alike; ``need`` grows by what they read."""
    kept = []
    for s in reversed(stmts):
        if isinstance(s, ir.Assign) and not isinstance(s.value, ir.SetItem | ir.ListMethod):
            if not need & set(s.targets):
                continue
        elif isinstance(s, ir.If) and s.kind == "if":
            s = _live_branch(s, need)
            if s is None:
                continue
        elif isinstance(s, ir.Loop):
            s = _live_loop(s, need)
            if s is None:
                continue
        need |= _reads(s)
        kept.append(s)
    return kept[::-1]


def _live_branch(s: ir.If, need: set[str]) -> ir.If | None:
    keep = [k for k, o in enumerate(s.outs) if o in need]
    if not keep and not _effects(s.body + s.orelse):
        return None
    arms = [_live(arm, {n for k in keep for n in ir.names_read(ys[k])}) for arm, ys in zip((s.body, s.orelse), s.yields)]
    return ir.If(s.test, arms[0], arms[1], [s.outs[k] for k in keep],
                 tuple([ys[k] for k in keep] for ys in s.yields), s.loc, s.kind)


def _live_loop(s: ir.Loop, need: set[str]) -> ir.Loop | None:
    """A loop keeps the carried values whose results are needed and those its kept statements read."""
    keep = {k for k, r in enumerate(s.results) if r in need}
    if not keep and not _effects(s.body + s.cond_body):
        return None
    while True:
        wanted = {n for k in keep for n in ir.names_read(s.nexts[k])}
        wanted |= {n for e in (s.exit, s.cond) if e is not None for n in ir.names_read(e)}
        body = _live(s.body, set(wanted))
        reads = set().union(*map(_reads, body), *map(_reads, s.cond_body), wanted)
        more = {k for k, c in enumerate(s.carried) if c in reads} - keep
        if not more:
            break
        keep |= more
    ks = sorted(keep)
    return ir.Loop(s.kind, body, s.target, s.iter, s.cond_body, s.cond, [s.carried[k] for k in ks],
                   [s.inits[k] for k in ks], [s.nexts[k] for k in ks], [s.results[k] for k in ks], s.exit, s.loc)


def _reads(s: ir.Stmt) -> set[str]:
    """Every name ``s`` reads, in its regions too."""
    return {n for st in ir.walk([s]) for e in ir.exprs(st) for n in ir.names_read(e)}


def _effects(stmts: list[ir.Stmt]) -> bool:
    """Some statement does something besides binding names: a call for its effect, a write in place."""
    return any(isinstance(s, ir.Do) or (isinstance(s, ir.Assign) and isinstance(s.value, ir.SetItem | ir.ListMethod))
               or (isinstance(s, ir.If) and s.kind != "if") for s in ir.walk(stmts))


# ----- the pipeline: lowered IR -> graph -> factored function -> loaded -----


@dataclass
class Factored:
    """The factored Jacobian of one function for one kind of arguments, or why there is none."""

    graph: Graph | None
    text: str  # the generated function's source, or the note saying what runs instead
    function: types.FunctionType | None  # returns a tuple, one Jacobian per differentiated parameter
    reason: str | None = None  # why the function could not be factored
    fresh: Callable[[], bool] = lambda: True  # the module still holds the globals it relied on


def factored(fn: types.FunctionType, sizes: dict[str, int | None], others: set[str],
             arrays: set[str] = frozenset()) -> Factored:
    """Factor ``fn``'s Jacobian w.r.t. the parameters in ``sizes`` (name -> array length, None for a scalar);
    ``others`` and ``arrays``: the parameters not differentiated that hold scalars, and 1-D arrays of numbers."""
    src, namer, lowered = lowered_ir(fn)
    try:
        g = build(lowered, sizes, others, namer, arrays)
    except NotFactorable as e:
        note = (f"# s2sad: the Jacobian of {fn.__qualname__} cannot be factored: {e}.\n"
                "# s2sad.jacobian(method='factored') runs jacrev (one pullback per output) when the function "
                "has no more outputs than inputs, else jacfwd (one jvp per input).\n")
        return Factored(None, note, None, str(e), globals_check(fn.__globals__, src.globals_read))
    jac = factor(g, namer, lowered.params, namer.fresh(f"{fn.__name__}_jacobian"))
    cells = {name: types.CellType(obj) for name, obj in bind_helpers([jac], src, namer).items()}
    cells.update(src.freevars)
    where = f"{os.path.basename(src.file)}:{src.tree.lineno}"
    header = (f"s2sad: Jacobian of {fn.__qualname__} ({where}) with respect to {', '.join(sizes)}, "
              "dominator-factored")
    text, linemap = emit(jac, header)
    filename = f"<s2sad: factored Jacobian of {fn.__qualname__} ({where}) #{next(_serial)}>"
    LINEMAPS[filename] = linemap
    return Factored(g, text, load(text, filename, jac.name, fn.__globals__, cells, fn.__defaults__,
                                  fn.__kwdefaults__), None, globals_check(fn.__globals__, src.globals_read))


def sizes_of(fn: types.FunctionType, wrt: list[str], args: tuple | None, kwargs: dict | None = None
             ) -> tuple[dict[str, int | None], set[str], set[str]]:
    """What factoring is specialised on: each differentiated argument's length (None: a scalar), and
    the other parameters that hold scalars (all scalars when no ``args`` are given) and that hold 1-D
    arrays of numbers, their defaults included."""
    params = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    if args is None:
        return dict.fromkeys(wrt), set(params) - set(wrt), set()
    bound = inspect.signature(fn).bind(*args, **(kwargs or {}))
    bound.apply_defaults()
    sizes, others, arrays = {}, set(), set()
    for name in params:
        a = bound.arguments.get(name)
        ndim = np.ndim(a)
        if name in wrt:
            sizes[name] = None if ndim == 0 else len(a) if ndim == 1 else -1  # -1: refused by ``build``
        elif ndim == 0 and isinstance(a, int | float | np.number):
            others.add(name)
        elif ndim == 1 and isinstance(a, np.ndarray) and a.dtype.kind in "iuf":
            arrays.add(name)
    return {w: sizes[w] for w in wrt}, others, arrays


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
        self.table: dict[tuple, tuple[Callable, Callable[[], bool]]] = {}

    def __call__(self, *args, **kwargs):
        key = tuple((k, type(a), np.shape(a), getattr(a, "dtype", None))
                    for k, a in [*enumerate(args), *sorted(kwargs.items())])
        made = self.table.get(key)
        if made is None or not made[1]():  # (made again where a function it read was redefined)
            made = self.table[key] = self._make(args, kwargs)
        return made[0](*args, **kwargs)

    def _make(self, args: tuple, kwargs: dict) -> tuple[Callable, Callable[[], bool]]:
        made = factored(self.fun, *sizes_of(self.fun, self.wrt, args, kwargs))
        if made.function is not None:
            return made.function, made.fresh
        inputs = sum(int(np.size(args[i])) for i in self.nums)
        outputs = sum(int(np.size(leaf)) for leaf in leaves(self.fun(*args, **kwargs)))
        return (self.jacrev if outputs <= inputs else self.jacfwd), made.fresh  # both given a tuple argnums
