"""The derivative graph of scalar code: SSA values as nodes, local partials on edges, one graph per region.

Seed 004's 微分グラフ: the expression DAG with each edge ``u -> v`` labelled by the
expression of ``∂v/∂u``. The labels come from the rule table: a reverse template
run with the cotangent ``1.0`` (``Sym`` arithmetic drops the ``1.0 *``) gives, for
each operand, its local partial, e.g. ``math.sin``'s ``g * math.cos(x)`` gives
``math.cos(x)``. ∂f/∂x is the sum, over all paths from ``x`` to ``f``, of the
products of the labels along the path.

Control flow makes regions, each a straight-line graph of its own: the function
body, each arm of a branch, each loop body. In its enclosing graph a branch or loop
is a ``Compound``: its outs (results) are nodes whose incoming edges carry the
region's Jacobian, named ``D{out}_d{column}`` and computed at run time by the
generated code (the taken arm's, or the loop body's chained over the iterations).
A region's columns are the values it reads from outside (``Outer`` nodes, named as
the enclosing graph names them) and, for a loop body, the carried values; its rows
(``outputs``) are what the arm yields or the body passes to the next iteration.
An array parameter read at an index known only at run time (``x[i]`` in a loop) is
an ``Element`` source: its column block is a vector over the array, and it reaches
the enclosing graph as a vector-valued label (the function body expands it into
one edge per element).

Invariants of a ``Graph``:

* ``nodes`` are in a topological order: every edge goes from an earlier node to a later one;
* every node is a statically scalar, active SSA value: an ``Input`` (function body: a
  differentiated scalar parameter, or an element ``x[k]`` at a constant index of a
  differentiated 1-D array parameter), an ``Outer`` column, an ``Element``, a ``Result``
  of a compound, or a rule call (its ``ir.Assign``); a copy ``y = x`` is the same node as ``x``;
* there is at most one edge per pair of nodes (``x * x`` gives one edge labelled
  ``x + x``), and labels read only primal names bound up to the head's statement;
* every active value a statement reads is a node (or an element of an array
  parameter): anything else is refused, never treated as a constant.

What cannot be factored raises ``NotFactorable`` naming the user's line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from . import ir, runtime
from .activity import analyze
from .classify import CALL, COPY
from .facts import is_scalar, range_target
from .naming import Namer
from .rules import Sym

__all__ = ["Graph", "Input", "Outer", "Element", "Result", "Compound", "NotFactorable", "build", "text", "dot",
           "partial_name"]


class NotFactorable(Exception):
    """The function is not scalar code the graph covers; ``str()`` says what and where."""

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


@dataclass(slots=True, frozen=True)
class Outer:
    """A region's column: the enclosing graph's node of that name, or (``carried``) a loop's carried value."""

    carried: bool = False


@dataclass(slots=True)
class Element:
    """``v = x[i]``: element ``i`` (known at run time) of the array parameter ``param`` of length ``size``."""

    param: str
    index: ir.Expr
    size: int
    stmt: ir.Assign


@dataclass(slots=True, frozen=True)
class Vector:
    """The column block of array parameter ``param`` in a dependency set (see ``Graph.depends``)."""

    param: str


@dataclass(eq=False)
class Compound:
    """A branch or loop inside a graph: its regions, and the labels of its Jacobian's entries."""

    stmt: ir.If | ir.Loop
    regions: list[Graph]  # the two arms, or the loop body
    outs: list[str]  # its active outs (results): nodes of the enclosing graph
    labels: dict[tuple[str, str], str]  # (column node, out) -> the name of ∂out/∂column
    vector_labels: dict[tuple[str, str], str]  # (array parameter, out) -> the name of its vector block
    sizes: dict[str, int]  # array parameter -> length, for its vector blocks
    carried: list[str] = field(default_factory=list)  # loop: the active carried values, one per out
    inits: list[str | None] = field(default_factory=list)  # loop: the node each starts as (None: a constant)
    pattern: list[set] = field(default_factory=list)  # loop: what each carried value may depend on

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(c for c, _ in self.labels))

    def read(self, k: int) -> bool:
        """Out ``k`` has a label: something after the compound reads it."""
        return self.outs[k] in self._labelled

    @functools.cached_property
    def _labelled(self) -> set[str]:  # (asked once the graph is built)
        return {o for _, o in self.labels} | {o for _, o in self.vector_labels}


@dataclass(slots=True)
class Result:
    """An out of a branch or a result of a loop."""

    compound: Compound


Node = ir.Assign | Input | Outer | Element | Result


@dataclass(eq=False)
class Graph:
    fn: ir.Function  # the lowered function the graph is (a region) of
    forward: list[ir.Stmt]  # the region's statements (the function body's but the return)
    nodes: dict[str, Node] = field(default_factory=dict)  # node -> what it is
    edges: dict[tuple[str, str], ir.Expr] = field(default_factory=dict)  # (tail, head) -> ∂head/∂tail
    outputs: list[ir.Expr] = field(default_factory=list)  # one per row: a node's name, or a zero
    array_output: bool = False  # function body: rows of np.array([...]), else one scalar
    sizes: dict[str, int | None] = field(default_factory=dict)  # function body: wrt parameter -> its length
    vectors: dict[str, list[tuple[str, ir.Expr | None]]] = field(default_factory=dict)
    # array parameter -> its vector sources here: (Element node, index) or (Result node, its vector label)
    compounds: dict[int, Compound] = field(default_factory=dict)  # stmt.sid -> the compound it is
    title: str = ""  # what the region is: "then", "else", "body"

    def inputs(self) -> dict[Input, str]:
        """Each input (column) read by the function -> its node."""
        return {v: n for n, v in self.nodes.items() if isinstance(v, Input)}

    def columns(self) -> list[str]:
        """The values the region reads from outside (not a loop's carried values)."""
        return [n for n, v in self.nodes.items() if isinstance(v, Outer) and not v.carried]

    def depends(self) -> dict[str, frozenset]:
        """Each node -> the columns (and ``Vector`` blocks) it depends on."""
        preds: dict[str, list[str]] = {}
        for t, h in self.edges:
            preds.setdefault(h, []).append(t)
        deps: dict[str, frozenset] = {}
        for n, v in self.nodes.items():
            own = {n} if isinstance(v, Outer | Input) else set()
            if isinstance(v, Element):
                own.add(Vector(v.param))
            if isinstance(v, Result):
                own |= {Vector(p) for p, o in v.compound.vector_labels if o == n}
            deps[n] = frozenset(own.union(*(deps[p] for p in preds.get(n, ()))))
        return deps


def build(fn: ir.Function, sizes: dict[str, int | None], others: set[str] = frozenset(),
          namer: Namer | None = None, arrays: set[str] = frozenset()) -> Graph:
    """The derivative graph of ``fn`` w.r.t. the parameters in ``sizes`` (name -> array length, None for a
    scalar); ``others`` and ``arrays`` are parameters not differentiated known to hold scalars, and 1-D
    arrays of numbers; ``namer`` names the labels of branches' and loops' Jacobians."""
    *forward, ret = fn.body
    for p, n in sizes.items():
        if n is not None and n < 0:
            raise NotFactorable(f"argument {p} is neither a scalar nor a 1-D array", fn.loc)
    ctx = _Context(fn, sizes, namer or Namer(), arrays)
    ctx.analyze(others)
    g = Graph(fn, forward, {p: Input(p) for p, n in sizes.items() if n is None}, sizes=sizes, title=fn.name)
    top = _Region(ctx, None, g)
    top.alias.update({p: p for p in g.nodes})
    outputs = _outputs(forward, ret)
    assembly = {s.sid for s in forward if isinstance(s, ir.Assign) and s.target in outputs.assembly}
    top.statements([s for s in forward if s.sid not in assembly])
    g.array_output = outputs.array
    g.outputs = [top.scalar_row(o, ret.loc) for o in outputs.items]
    return g


class _Context:
    """What every region of one function shares: the analysis, the element reads, the namer."""

    def __init__(self, fn: ir.Function, sizes: dict[str, int | None], namer: Namer, constant: set[str]) -> None:
        self.fn, self.sizes, self.namer = fn, sizes, namer
        stmts = list(ir.walk(fn.body))
        arrays = {p for p, n in sizes.items() if n is not None}
        seqs = {s.target: s.value.args[0].id for s in stmts if _sequence_of(s, arrays | constant)}  # x_seq -> x
        self.sequences = {s.sid for s in stmts if _sequence_of(s, arrays)}  # what only the elements of x are read of
        self.ints = ints = _ints(fn.body)
        self.reads: dict[int, Input | tuple[str, ir.Expr]] = {}  # sid of an element read -> Input, or (parameter, index)
        constant_reads = set()  # ids of reads of elements of arrays not differentiated
        for s in stmts:
            if not (isinstance(s, ir.Assign) and isinstance(s.value, ir.Subscript)
                    and isinstance(s.value.value, ir.Name) and _int_index(s.value.index, ints)):
                continue
            x, k = seqs.get(s.value.value.id, s.value.value.id), s.value.index
            if x in arrays:
                self.reads[s.sid] = Input(x, k.value % sizes[x]) if isinstance(k, ir.Const) else (x, k)
            elif x in constant:
                constant_reads.add(s.sid)
        self.elements = set(self.reads) | constant_reads
        self.binders: dict[str, list[ir.Assign]] = {}  # name -> the statements binding it (an out: one per arm)
        for s in stmts:
            for t in s.targets if isinstance(s, ir.Assign) else ():
                self.binders.setdefault(t, []).append(s)

    def analyze(self, others: set[str]) -> None:
        """Activity and scalars, told what the analysis cannot see: scalar arguments and ints, and,
        assumed then checked to a fixed point (as the analysis does for carried values), names bound
        by element reads (every other statement binding them must give a scalar too) and names
        unpacked from a tuple of scalars (``a, b = b, a + b``)."""
        self.unpacked = _unpacked(list(ir.walk(self.fn.body)))
        known = {p for p, n in self.sizes.items() if n is None} | set(others) | self.ints
        reads = {t for t, ss in self.binders.items() if any(s.sid in self.elements for s in ss)}
        unpacked = set(self.unpacked)
        while True:
            self.an = analyze(self.fn, list(self.sizes), known | reads | unpacked)
            scalars = self.an.scalars
            broken = {t for t in reads if not all(s.sid in self.elements or is_scalar(self.an.prims[s.sid], scalars)
                                                  for s in self.binders[t])}
            broken |= {t for t in unpacked if not _scalar_item(self.unpacked[t], scalars)}
            if not broken:
                return
            reads -= broken
            unpacked -= broken

    def only_unpacked(self, name: str) -> bool:
        """Every statement reading ``name`` unpacks it (``a, b = name``)."""
        readers = [s for s in ir.walk(self.fn.body) if isinstance(s, ir.Assign) and name in ir.names_read(s.value)]
        return bool(readers) and all(isinstance(s.target, tuple) and s.value == ir.Name(name) for s in readers)


class _Region:
    """Builds one region's graph; ``parent`` is the enclosing region's builder (None: the function body)."""

    def __init__(self, ctx: _Context, parent: _Region | None, g: Graph) -> None:
        self.ctx, self.parent, self.g = ctx, parent, g
        self.alias: dict[str, str] = {}  # SSA name -> its node
        self.constants: dict[str, ir.Expr] = {}  # SSA name -> the constant (or inactive value) it holds here
        self.first: dict[Input | tuple, str] = {}  # an element (at a constant or run-time index) -> its node here

    # ----- names to nodes -----

    def node(self, name: str) -> str | None:
        """The node holding SSA value ``name`` here (a column for a value from outside); None: no node."""
        if name in self.alias:
            return self.alias[name]
        if self.parent is None:
            return None
        outer = self.parent.node(name)
        return None if outer is None else self.column(outer, name)

    def column(self, outer: str, name: str | None = None) -> str:
        self.g.nodes.setdefault(outer, Outer())
        if name is not None:
            self.alias[name] = outer
        return outer

    def element(self, inp: Input, name: str | None) -> str:
        """The node of a constant element of an array parameter, made here (and outside) on first use: named
        ``name`` if read here (an SSA name), else (read in a region inside) ``x_k``."""
        node = self.first.get(inp)
        if node is None:
            if self.parent is None:
                node = name or self.ctx.namer.fresh(f"{inp.param}_{inp.index}")
                self.g.nodes[node] = inp
            else:
                node = self.column(self.parent.element(inp, None))
            self.first[inp] = node
        if name is not None:
            self.alias[name] = node
        return node

    def operand(self, e: ir.Expr, loc: ir.Loc | None) -> str | None:
        """The node ``e`` reads, None for a constant; an active value that is no node is refused."""
        if not isinstance(e, ir.Name):
            return None
        node = self.node(e.id)
        if node is None and e.id in self.ctx.an.active and self.constant(e.id) is None:
            raise NotFactorable(f"{e.id} is not a scalar the derivative graph holds", loc)
        return node

    def constant(self, name: str) -> ir.Expr | None:
        """What SSA value ``name`` holds in this region (or one it is in) when it is active only in name: a
        constant, or a value no differentiated argument reaches (copied into an out, or a tuple's item)."""
        here = self.constants.get(name)
        return here if here is not None or self.parent is None else self.parent.constant(name)

    def row(self, e: ir.Expr, loc: ir.Loc | None) -> ir.Expr:
        node = self.operand(e, loc)
        return ir.Const(0.0) if node is None else ir.Name(node)

    def scalar_row(self, e: ir.Expr, loc: ir.Loc | None) -> ir.Expr:
        """``row``, for a value returned, yielded by a branch or carried by a loop: a constant one must be a
        scalar too."""
        row = self.row(e, loc)
        value = self.constant(e.id) or e if isinstance(e, ir.Name) else e
        if row == ir.Const(0.0) and not _scalar_item(value, self.ctx.an.scalars | self.ctx.ints):
            raise NotFactorable(f"{ir.expr_str(e)} is not statically a scalar", loc)
        return row

    # ----- statements -----

    def statements(self, stmts: list[ir.Stmt]) -> None:
        for s in stmts:
            if isinstance(s, ir.Assign):
                self.assign(s)
            elif isinstance(s, ir.If):
                self.branch(s)
            elif isinstance(s, ir.Loop):
                self.loop(s)
            elif isinstance(s, ir.Return):
                raise NotFactorable("a return inside a branch or loop", s.loc)

    def assign(self, s: ir.Assign) -> None:
        an = self.ctx.an
        if not any(t in an.active for t in s.targets):
            return
        read = self.ctx.reads.get(s.sid)
        if isinstance(read, Input):
            self.element(read, s.target)
        elif read is not None:
            if self.parent is None:
                raise NotFactorable("an element read at an index known only at run time, outside a loop", s.loc)
            x, index = read
            same = (x, index.id if isinstance(index, ir.Name) else index.value)
            if same not in self.first:  # x[i] read again in the region is the same node
                self.first[same] = s.target
                self.g.nodes[s.target] = Element(x, index, self.ctx.sizes[x], s)
                self.g.vectors.setdefault(x, []).append((s.target, index))
            self.alias[s.target] = self.first[same]
        elif s.sid in self.ctx.sequences:
            return  # an array parameter under another name: only its elements are read
        elif isinstance(s.value, ir.Tuple) and self.ctx.only_unpacked(s.target):
            return  # a tuple literal only unpacked: its names are its items
        elif isinstance(s.target, tuple) and all(t in self.ctx.unpacked for t in s.target):
            for t in s.target:
                item = self.ctx.unpacked[t]
                node = self.operand(item, s.loc)
                if node is not None:
                    self.alias[t] = node
                else:
                    self.constants[t] = item  # (active only as part of a tuple with an active item)
        else:
            self.call(s)

    def call(self, s: ir.Assign) -> None:
        """One active assignment: a copy joins its operand's node; a rule call adds a node and its edges."""
        an = self.ctx.an
        p = an.prims[s.sid]
        nodes = {a.id for a in [*p.args, *p.kwargs.values()] if isinstance(a, ir.Name) and self.node(a.id)}
        if isinstance(s.target, tuple) or not (s.target in an.scalars or is_scalar(p, an.scalars | nodes)):
            raise NotFactorable(f"{ir.expr_str(s.value)} is not statically a scalar", s.loc)
        if p.kind == COPY:
            source = p.args[0]
            node = self.operand(source, s.loc)
            if node is not None:
                self.alias[s.target] = node
            else:  # (an out copied from a constant in one arm)
                self.constants[s.target] = (self.constant(source.id) or source) if isinstance(source, ir.Name) else source
            return
        if p.kind != CALL or any(isinstance(v, ir.Name) and v.id in an.active for v in p.kwargs.values()):
            raise NotFactorable(f"{ir.expr_str(s.value)} is not a primitive with a derivative rule", s.loc)
        scalars = an.scalars | nodes | {s.target}  # every node is a scalar

        def sym(e: ir.Expr) -> Sym:
            known = an.sym(e)
            return Sym(known.expr, known.scalar or (isinstance(e, ir.Name) and e.id in scalars), known.shape, known.ndim)

        contributions = p.rule.reverse(Sym(ir.Const(1.0), True), sym(ir.Name(s.target)), *map(sym, p.args),
                                       **{k: sym(v) for k, v in p.kwargs.items()})
        nodes = [self.operand(a, s.loc) for a in p.args]
        self.g.nodes[s.target] = s
        self.alias[s.target] = s.target
        for node, c in zip(nodes, contributions):
            if node is None:
                continue
            if c is None:
                raise NotFactorable(f"{ir.expr_str(s.value)} treats a differentiated operand as a constant", s.loc)
            self.edge(node, s.target, _fold(c.expr))

    def child(self, stmts: list[ir.Stmt], title: str) -> _Region:
        return _Region(self.ctx, self, Graph(self.ctx.fn, stmts, title=title))

    def branch(self, s: ir.If) -> None:
        """An ``if`` with active outs: each arm a region; the outs' edges carry the taken arm's Jacobian."""
        active = [k for k, o in enumerate(s.outs) if o in self.ctx.an.active]
        if not active:
            return
        if s.kind != "if":
            raise NotFactorable(f"a value computed under '{s.kind}'", s.loc)
        arms = []
        for title, body, yields in (("then", s.body, s.yields[0]), ("else", s.orelse, s.yields[1])):
            arm = self.child(body, title)
            arm.statements(body)
            arm.g.outputs = [arm.scalar_row(yields[k], s.loc) for k in active]
            arms.append(arm.g)
        outs = [s.outs[k] for k in active]
        reach = [a | b for a, b in zip(*map(_row_depends, arms))]
        self.compound(Compound(s, arms, outs, {}, {}, {}), reach, [c for arm in arms for c in arm.columns()])

    def loop(self, s: ir.Loop) -> None:
        """A loop with active carried values: its body a region whose columns include them."""
        an = self.ctx.an
        active = [k for k, c in enumerate(s.carried) if c in an.active]
        for c, r in zip(s.carried, s.results):  # an out bound in each arm, active for the other arm's value:
            if c not in an.active and r in an.active:  # here no differentiated argument reaches it
                self.constants[r] = ir.Name(r)
        if not active:
            return
        bound = {t for st in ir.walk(s.cond_body) if isinstance(st, ir.Assign) for t in st.targets}
        if bound & self.ctx.an.active:
            raise NotFactorable("a loop condition computing a differentiated value", s.loc)
        carried = [s.carried[k] for k in active]
        body = self.child(s.body, "body")
        for c in carried:
            body.g.nodes[c] = Outer(carried=True)
            body.alias[c] = c
        body.statements(s.body)
        body.g.outputs = [body.scalar_row(s.nexts[k], s.loc) for k in active]
        inits = [self.scalar_row(s.inits[k], s.loc) for k in active]
        inits = [i.id if isinstance(i, ir.Name) else None for i in inits]
        rows = _row_depends(body.g)
        pattern = [{i} if i is not None else set() for i in inits]
        while True:  # what each carried value may depend on, after any number of iterations
            grown = [p | {d for d in row if d not in carried}
                     | set().union(*(pattern[carried.index(d)] for d in row if d in carried))
                     for p, row in zip(pattern, rows)]
            if grown == pattern:
                break
            pattern = grown
        outs = [s.results[k] for k in active]
        columns = [i for i in inits if i is not None] + body.g.columns()
        self.compound(Compound(s, [body.g], outs, {}, {}, {}, carried, inits, pattern), pattern, columns)

    def compound(self, c: Compound, reach: list, columns: list[str]) -> None:
        """Add ``c``'s outs as nodes, with an edge from each column they may depend on."""
        namer = self.ctx.namer
        c.sizes.update({x: self.ctx.sizes[x] for region in c.regions for x in region.vectors})
        for out, deps in zip(c.outs, reach):
            if out not in self.ctx.an.active:  # a loop's result nobody reads
                continue
            for col in dict.fromkeys(columns):
                if col in deps:
                    c.labels[col, out] = namer.fresh(partial_name(out, col, factored=True))
            for x in c.sizes:
                if Vector(x) in deps:
                    c.vector_labels[x, out] = namer.fresh(partial_name(out, x, factored=True))
        self.g.compounds[c.stmt.sid] = c
        elements = {}  # the function body: a vector block is one edge per element, from its node
        if self.parent is None:
            elements = {(x, k): self.element(Input(x, k), None) for x, _ in c.vector_labels for k in range(c.sizes[x])}
        for out in c.outs:
            if out in self.ctx.an.active:
                self.g.nodes[out] = Result(c)
                self.alias[out] = out
        for (col, out), label in c.labels.items():
            self.edge(col, out, ir.Name(label))
        for (x, out), label in c.vector_labels.items():
            if self.parent is not None:
                self.g.vectors.setdefault(x, []).append((out, ir.Name(label)))
                continue
            for k in range(c.sizes[x]):
                self.edge(elements[x, k], out, ir.Subscript(ir.Name(label), ir.Const(k)))

    def edge(self, tail: str, head: str, label: ir.Expr) -> None:
        """Add ``label`` to the edge ``tail -> head`` (two operands, or two paths in a compound, may meet)."""
        key = (tail, head)
        self.g.edges[key] = ir.BinOp("+", self.g.edges[key], label) if key in self.g.edges else label


def _row_depends(g: Graph) -> list[frozenset]:
    """What each of ``g``'s rows may depend on."""
    deps = g.depends()
    return [deps.get(o.id, frozenset()) if isinstance(o, ir.Name) else frozenset() for o in g.outputs]


def _int_index(k: ir.Expr, ints: set[str]) -> bool:
    return (isinstance(k, ir.Name) and k.id in ints) or (isinstance(k, ir.Const) and type(k.value) is int)


def _sequence_of(s: ir.Stmt, arrays: set[str]) -> bool:
    """``x_seq = sequence(x)`` for an array parameter ``x`` among ``arrays`` (a ``for`` loop over ``x``)."""
    return (isinstance(s, ir.Assign) and isinstance(s.target, str) and isinstance(s.value, ir.Call)
            and isinstance(s.value.func, ir.Ref) and s.value.func.value is runtime.sequence
            and len(s.value.args) == 1 and isinstance(s.value.args[0], ir.Name) and s.value.args[0].id in arrays)


def _ints(body: list[ir.Stmt]) -> set[str]:
    """Names every binding of which is a Python int: ``range`` targets, ``len(...)``, int constants,
    ``+ - * // %`` of ints, and values carried or joined from ints (a carried value assumed one where
    its start is, and dropped if an iteration's is not)."""
    return _Ints().run(body).known


class _Ints(ir.Every):
    """The forward analysis of ``_ints``: a name's fact is whether it holds an int."""

    def of(self, e: ir.Expr | None) -> bool:
        if isinstance(e, ir.Const):
            return type(e.value) is int
        if isinstance(e, ir.BinOp):
            return e.op in ("+", "-", "*", "//", "%") and self.of(e.left) and self.of(e.right)
        return super().of(e) or (isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and e.func.value is len
                                 and len(e.args) == 1 and not e.kwargs)

    def targets(self, s: ir.Loop) -> None:
        for t in s.targets:
            self.bind(t, range_target(s) is not None)

    def transfer(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign):
            for t in s.targets:
                self.bind(t, isinstance(s.target, str) and self.of(s.value))


def _scalar_item(e: ir.Expr, scalars: set[str]) -> bool:
    return (isinstance(e, ir.Const) and type(e.value) in (int, float)) or (isinstance(e, ir.Name) and e.id in scalars)


def _unpacked(stmts: list[ir.Stmt]) -> dict[str, ir.Expr]:
    """``a, b = tup`` where ``tup = (p, q)`` is a tuple literal: a -> p, b -> q."""
    literals = {s.target: s.value.items for s in stmts
                if isinstance(s, ir.Assign) and isinstance(s.target, str) and isinstance(s.value, ir.Tuple)}
    return {t: item for s in stmts
            if isinstance(s, ir.Assign) and isinstance(s.target, tuple) and isinstance(s.value, ir.Name)
            and len(literals.get(s.value.id, ())) == len(s.target)
            for t, item in zip(s.target, literals[s.value.id])}


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


def partial_name(head: str, tail: str, factored: bool = False) -> str:
    """The name of ``∂head/∂tail`` in printed graphs and generated code: ``dhead_dtail`` for an edge's
    local partial, ``Dhead_dtail`` for a factored one (a sum over paths)."""
    return f"{'D' if factored else 'd'}{head}_d{tail}"


def text(g: Graph) -> str:
    """The graph as text, one node a line with the partials on its incoming edges; a branch or loop
    shows its regions indented above its outs."""
    ins = ", ".join(f"{n} = {v}" if n != str(v) else n for v, n in g.inputs().items())
    outs = ", ".join(ir.expr_str(o) for o in g.outputs)
    where = f" ({g.fn.loc})" if g.fn.loc else ""
    lines = [f"# derivative graph of {g.fn.name}{where}: {len(g.nodes)} nodes, {len(g.edges)} edges",
             f"# inputs: {ins}", f"# outputs: {outs}"]
    _region_lines(g, "", lines)
    return "\n".join(lines) + "\n"


def _region_lines(g: Graph, pad: str, lines: list[str]) -> None:
    into: dict[str, list[str]] = {}
    for (t, h), label in g.edges.items():
        into.setdefault(h, []).append(f"d{h}/d{t} = {ir.expr_str(label)}")
    for x, sources in g.vectors.items():
        for n, how in sources:
            if isinstance(g.nodes[n], Result):
                into.setdefault(n, []).append(f"d{n}/d{x}[:] = {ir.expr_str(how)}")
    width = max((len(_node_text(n, v)) for n, v in g.nodes.items() if not isinstance(v, Result)), default=0)
    shown: set[int] = set()
    for n, v in g.nodes.items():
        if isinstance(v, Result) and id(v.compound) not in shown:
            shown.add(id(v.compound))
            _compound_lines(v.compound, pad, lines)
        lines.append(f"{pad}{_node_text(n, v):<{width}}    {'   '.join(into.get(n, []))}".rstrip())


def _compound_lines(c: Compound, pad: str, lines: list[str]) -> None:
    s = c.stmt
    if isinstance(s, ir.If):
        lines.append(f"{pad}if {ir.expr_str(s.test)}:  # line {s.loc.line if s.loc else '?'}, outs {', '.join(c.outs)}")
    else:
        test = next((st.value for st in s.cond_body if isinstance(st, ir.Assign) and ir.Name(st.target) == s.cond),
                    s.cond)
        head = f"for {', '.join(s.targets)} in {ir.expr_str(s.iter)}" if s.kind == "for" else \
            f"while {ir.expr_str(test)}"
        lines.append(f"{pad}{head}:  # line {s.loc.line if s.loc else '?'}, carries "
                     + ", ".join(f"{c_} -> {o}" for c_, o in zip(c.carried, c.outs)))
    for region in c.regions:
        rows = ", ".join(ir.expr_str(o) for o in region.outputs)
        lines.append(f"{pad}  {region.title}: -> {rows}")
        _region_lines(region, pad + "    ", lines)


def _node_text(n: str, v: Node) -> str:
    if isinstance(v, Input):
        return n if n == str(v) else f"{n} = {v}"
    if isinstance(v, Outer):
        return f"{n}  (carried)" if v.carried else f"{n}  (from outside)"
    if isinstance(v, Element):
        return f"{n} = {v.param}[{ir.expr_str(v.index)}]"
    if isinstance(v, Result):
        return f"{n} = {'branch' if isinstance(v.compound.stmt, ir.If) else 'loop'} out"
    return f"{n} = {ir.expr_str(v.value)}"


def dot(g: Graph) -> str:
    """The graph in Graphviz DOT, drawn as the seed draws it: inputs at the bottom, outputs on top;
    each region of a branch or loop a cluster."""
    lines = [f"digraph {g.fn.name} {{", "  rankdir=BT;", '  node [shape=box, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    _dot_region(g, "", "  ", lines, iter(range(1, 10 ** 9)))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_region(g: Graph, prefix: str, pad: str, lines: list[str], serial) -> None:
    outs = {o.id for o in g.outputs if isinstance(o, ir.Name)}
    for n, v in g.nodes.items():
        shape = ", shape=ellipse" if isinstance(v, Input | Outer | Element) else ", peripheries=2" if n in outs else ""
        body = _node_text(n, v).partition(" = ")[2] if not isinstance(v, Outer) else ""
        label = n if not body or body == n else f"{n}\\n{body}"
        lines.append(f'{pad}{prefix}{n} [label="{_escape(label)}"{shape}];')
    for c in dict.fromkeys(v.compound for v in g.nodes.values() if isinstance(v, Result)):
        for region in c.regions:
            k = next(serial)
            lines.append(f'{pad}subgraph cluster_{k} {{')
            lines.append(f'{pad}  label="{_escape(_cluster_title(c, region))}";')
            _dot_region(region, f"r{k}_", pad + "  ", lines, serial)
            lines.append(f"{pad}}}")
            link = "[style=dashed, arrowhead=none]"  # a value from outside to its column; a row to its out
            lines += [f"{pad}{prefix}{n} -> r{k}_{n} {link};" for n in region.columns()]
            lines += [f"{pad}r{k}_{o.id} -> {prefix}{out} {link};" for o, out in zip(region.outputs, c.outs)
                      if isinstance(o, ir.Name) and out in g.nodes]
    for (t, h), label in g.edges.items():
        lines.append(f'{pad}{prefix}{t} -> {prefix}{h} [label="{_escape(ir.expr_str(label))}"];')


def _cluster_title(c: Compound, region: Graph) -> str:
    line = c.stmt.loc.line if c.stmt.loc else "?"
    kind = "if" if isinstance(c.stmt, ir.If) else c.stmt.kind
    return f"{kind} (line {line}): {region.title}"


def _escape(s: str) -> str:
    return s.replace('"', '\\"')
