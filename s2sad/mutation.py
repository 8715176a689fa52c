"""Mutation: which names share memory, which in-place writes are safe, what to snapshot.

The forward pass performs ``x[i] = v`` and ``xs.append(v)`` in place, exactly as
the user's code does, so forward semantics (aliasing included) are NumPy's and
Python's. The IR gives each write a new SSA version of the array. That is sound
only if no *other* name for the same memory is read after the write (its IR
value would be stale), so:

* a write into memory that carries a gradient and came from outside (an
  argument, a global) is refused: it would mutate the user's input;
* a write through a view or an alias (``r = x[0]; r[1] = v``), or a read of an
  older name for written memory after the write, is refused at the user's line;
* a value the pullback reads whose memory a later write (or a later iteration)
  may change is snapshotted right where it is used, and only then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy

from . import ir
from .activity import CALL, CLOSURE, CONTAINER, COPY, TRANSFORM, UNPACK, Analysis
from .errors import S2SADSyntaxError

__all__ = ["Mutation", "analyze_mutation"]
_VIEW_FUNCS = {
    numpy.reshape, numpy.ravel, numpy.transpose, numpy.swapaxes, numpy.moveaxis, numpy.squeeze,
    numpy.expand_dims, numpy.broadcast_to, numpy.asarray, numpy.atleast_1d, numpy.atleast_2d, numpy.atleast_3d,
    numpy.diagonal, numpy.flip, numpy.fliplr, numpy.flipud, numpy.real,
}
_VIEW_RULES = {"x[index]", "ndarray.T", "ndarray.real"}
_VIEW_METHODS = {"view", "reshape", "ravel", "transpose", "swapaxes", "squeeze", "diagonal"}


@dataclass(slots=True)
class Mutation:
    """What the reverse pass needs to know about in-place writes."""

    parent: dict[str, str] = field(default_factory=dict)  # union-find over names sharing memory
    contains: dict[str, set[str]] = field(default_factory=dict)  # container name -> names of its elements
    writes: list[ir.Assign] = field(default_factory=list)
    lists: set[str] = field(default_factory=set)  # class roots changed by list methods
    order: dict[int, int] = field(default_factory=dict)  # id(statement) -> preorder position
    loops: dict[int, tuple[int, ...]] = field(default_factory=dict)  # id(statement) -> enclosing loops

    def root(self, name: str) -> str:
        while self.parent.get(name, name) != name:
            name = self.parent[name]
        return name

    def union(self, a: str, b: str) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[ra] = rb

    def holds(self, name: str, element: str) -> None:
        """``name`` (a list, tuple, dict or closure) holds a reference to ``element``."""
        self.contains.setdefault(name, set()).add(element)

    def reaches(self, name: str) -> set[str]:
        """Roots of the memory ``name`` shares or reaches through the containers it is."""
        seen, todo = set(), [name]
        while todo:
            n = todo.pop()
            r = self.root(n)
            if r in seen:
                continue
            seen.add(r)
            todo += [e for c, items in self.contains.items() if self.root(c) == r for e in items]
        return seen

    def written(self, name: str) -> bool:
        r = self.reaches(name)
        return any(self.root(w.value.base.id) in r for w in self.writes)

    def changes_after(self, name: str, stmt: ir.Stmt) -> bool:
        """May a write to ``name``'s memory run after ``stmt`` (later in the code, or a later iteration)?"""
        r = self.reaches(name)
        here = self.order[id(stmt)]
        loops = set(self.loops[id(stmt)])
        return any(self.root(w.value.base.id) in r and (self.order[id(w)] > here or loops & set(self.loops[id(w)]))
                   for w in self.writes)

    def structure_changes(self, name: str) -> bool:
        """Is ``name``'s memory a list that grows or shrinks (so even its length must be snapshotted)?"""
        return self.root(name) in {self.root(n) for n in self.lists}


def analyze_mutation(body: list[ir.Stmt], analysis: Analysis, params: list[str]) -> Mutation:
    """Alias classes and the write checks of the module docstring; raises ``S2SADSyntaxError``."""
    m = Mutation()
    views: set[str] = set()  # names that may be views or aliases of memory another name owns
    external = set(params)
    defs: dict[str, tuple[int, tuple[int, ...]]] = {}  # name -> (position, loops) of its definition
    reads: list[tuple[str, ir.Stmt]] = []

    def visit(stmts: list[ir.Stmt], loops: tuple[int, ...]) -> None:
        for s in stmts:
            m.order[id(s)] = len(m.order)
            m.loops[id(s)] = loops
            for e in ir.exprs(s):
                reads.extend((n, s) for n in ir.names_read(e))
            if isinstance(s, ir.Assign):
                for t in s.targets:
                    defs[t] = (m.order[id(s)], loops)
                _assign(m, s, analysis, views, external)
            elif isinstance(s, ir.If):
                visit(s.body, loops)
                visit(s.orelse, loops)
                for o, a, b in zip(s.outs, *s.yields):
                    defs[o] = (m.order[id(s)], loops)
                    for y in (a, b):
                        if isinstance(y, ir.Name):
                            m.union(o, y.id)
            elif isinstance(s, ir.Loop):
                inner = (*loops, id(s))
                for c, i, n in zip(s.carried, s.inits, s.nexts):
                    defs[c] = (m.order[id(s)] + 0.5, inner)  # re-bound at the start of each iteration
                    for y in (i, n):
                        if isinstance(y, ir.Name):
                            m.union(c, y.id)
                for t in s.targets:
                    defs[t] = (m.order[id(s)] + 0.5, inner)
                    for n in ir.names_read(s.iter):
                        m.union(t, n)
                visit(s.cond_body, inner)
                visit(s.body, inner)
                for r, c in zip(s.results, s.carried):
                    defs[r] = (len(m.order) - 0.5, loops)  # bound when the loop is over
                    m.union(r, c)

    visit(body, ())
    ext_roots = {m.root(n) for n in external}
    for w in m.writes:
        base = w.value.base.id
        loc = w.loc
        if m.root(base) in ext_roots and any(m.root(n) == m.root(base) for n in analysis.active):
            raise S2SADSyntaxError(
                f"this writes into {base!r}, memory that came from an argument or a global and carries a "
                "gradient; s2sad never mutates your inputs. Copy it first (x = x.copy())", loc)
        if base in views:
            raise S2SADSyntaxError(
                f"this writes through {base!r}, a view or alias of another array; s2sad cannot follow "
                "the change to the array it shares memory with. Write into that array directly, or "
                "copy the view first (.copy())", loc)
    for name, use in reads:  # an older name for written memory, read after the write
        if name not in defs or not m.written(name):
            continue
        reached = m.reaches(name)
        for w in m.writes:
            if m.root(w.value.base.id) not in reached or name in w.targets or use is w:
                continue
            if _between(defs[name], (m.order[id(w)], m.loops[id(w)]), (m.order[id(use)], m.loops[id(use)])):
                raise S2SADSyntaxError(
                    f"{name!r} shares memory with the array written here and is read after this write; "
                    "s2sad cannot follow that. Copy it before the write (.copy()), or read the array after "
                    "the write instead", w.loc)
    return m


def _between(d, w, u) -> bool:
    """May the write at ``w`` run after the definition ``d`` and before the use ``u``?"""
    (dp, dl), (wp, wl), (up, ul) = d, w, u
    if dp < wp < up:
        return True
    shared = set(wl) & set(ul)
    return any(loop not in dl for loop in shared)  # a loop around both, entered after the definition


def _assign(m: Mutation, s: ir.Assign, analysis: Analysis, views: set[str], external: set[str]) -> None:
    """Record how ``s`` relates names to memory: the same memory (a union) or held in a container."""
    v = s.value
    if isinstance(v, ir.Ref):
        external.update(s.targets)
        return
    if isinstance(v, ir.SetItem | ir.ListMethod):
        m.writes.append(s)
        m.union(s.targets[-1], v.base.id)  # the new version is the same memory
        if isinstance(v, ir.ListMethod) and v.method == "pop":  # the popped value was an element
            for element in list(m.contains.get(v.base.id, ())):
                m.union(s.targets[0], element)
            m.contains.setdefault(s.targets[-1], set()).update(m.contains.get(v.base.id, ()))
        if isinstance(v, ir.ListMethod):
            m.lists.add(v.base.id)
            for a in v.args:  # the list now holds what was appended (for extend: the items' elements)
                if isinstance(a, ir.Name) and v.method == "append":
                    m.holds(v.base.id, a.id)
                elif isinstance(a, ir.Name) and v.method == "extend":
                    for element in m.contains.get(a.id, {a.id}):
                        m.holds(v.base.id, element)
        elif isinstance(v.value, ir.Name) and v.base.id in analysis.containers:
            m.holds(v.base.id, v.value.id)  # a list or dict keeps a reference; an array store copies
        return
    p = analysis.prims.get(id(s))
    kind = p.kind if p else None
    names = list(ir.names_read(v))
    if kind in (CONTAINER, CLOSURE):
        for t in s.targets:
            for n in names:
                m.holds(t, n)
        return
    if kind in (TRANSFORM, UNPACK) or (kind == COPY and isinstance(v, ir.Name)):
        sources = names  # a user function may return any argument; unpacking takes out elements
    elif (kind == CALL and (p.rule.name in _VIEW_RULES or _is_view_call(v))) or (
            isinstance(v, ir.Call) and isinstance(v.func, ir.Attr) and v.func.attr in _VIEW_METHODS):
        sources = [n for n in ir.names_read(_viewed(v))]  # a view of its first operand only
    else:
        return
    if sources:
        for t in s.targets:
            for n in sources:
                m.union(t, n)
                for element in m.contains.get(n, ()):  # an item taken out of a container
                    m.union(t, element)
            views.add(t)


def _viewed(v: ir.Expr) -> ir.Expr:
    """The operand a view expression looks into (not its index or shape arguments)."""
    if isinstance(v, ir.Subscript | ir.Attr):
        return v.value
    if isinstance(v.func, ir.Attr):
        return v.func.value
    return v.args[0] if v.args else ir.Const(None)


def _is_view_call(v: ir.Expr) -> bool:
    return isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) and v.func.value in _VIEW_FUNCS

