"""Mutation: which names share memory, which in-place writes are safe, what to snapshot.

The forward pass performs ``x[i] = v`` and ``xs.append(v)`` in place, exactly as
the user's code does, so forward semantics (aliasing included) are NumPy's and
Python's. The IR gives each write a new SSA version of the array. That is sound
only if no *other* name for the same memory is read after the write (its IR
value would be stale), so:

* a write into memory that carries a gradient and came from outside (an
  argument, a global) is refused: it would mutate the user's input; ``x op= v``
  on such memory, where it is not known to be an array, computes a new value
  instead (the input is left as it was);
* a write through a view or an alias (``r = x[0]; r[1] = v``), or a read of an
  older name for written memory after the write, is refused at the user's line;
* a value the pullback reads whose memory a later write (or a later iteration)
  may change is snapshotted right where it is used, and only then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy

from . import ir, runtime
from .activity import CALL, CLOSURE, CONTAINER, COPY, TRANSFORM, UNPACK, Analysis
from .rules import INPLACE_FUNCS, INPLACE_OPS
from .errors import S2SADSyntaxError

__all__ = ["Mutation", "analyze_mutation", "inplace_write"]
_VIEW_FUNCS = {
    numpy.reshape, numpy.ravel, numpy.transpose, numpy.swapaxes, numpy.moveaxis, numpy.squeeze,
    numpy.expand_dims, numpy.broadcast_to, numpy.asarray, numpy.atleast_1d, numpy.atleast_2d, numpy.atleast_3d,
    numpy.diagonal, numpy.flip, numpy.fliplr, numpy.flipud, numpy.real, runtime.sequence,
}
_VIEW_RULES = {"x[index]", "ndarray.T", "ndarray.real"}
_VIEW_METHODS = {"view", "reshape", "ravel", "transpose", "swapaxes", "squeeze", "diagonal"}


@dataclass(slots=True)
class Mutation:
    """What the reverse pass needs to know about in-place writes.

    Memory is named by the name that created it (a parameter, a fresh result); each
    name *may* share the memory in ``points`` (a call into user code may return any
    argument), so a later statement never merges what earlier ones kept apart.
    """

    points: dict[str, set[str]] = field(default_factory=dict)  # name -> memory it may share
    contains: dict[str, set[str]] = field(default_factory=dict)  # memory of a container -> memory it holds
    writes: list[ir.Assign] = field(default_factory=list)
    bases: dict[int, str] = field(default_factory=dict)  # id(write) -> the name written into
    lists: set[str] = field(default_factory=set)  # memory changed by list methods
    order: dict[int, int] = field(default_factory=dict)  # id(statement) -> preorder position
    loops: dict[int, tuple[int, ...]] = field(default_factory=dict)  # id(statement) -> enclosing loops
    sides: dict[int, tuple[tuple[int, bool], ...]] = field(default_factory=dict)  # id -> enclosing (if, branch)

    def mem(self, name: str) -> set[str]:
        return self.points.get(name) or {name}

    def reaches(self, name: str) -> set[str]:
        """The memory ``name`` may share, or reach through the containers it is."""
        seen, todo = set(), list(self.mem(name))
        while todo:
            r = todo.pop()
            if r not in seen:
                seen.add(r)
                todo += self.contains.get(r, ())
        return seen

    def base(self, write: ir.Assign) -> str:
        return self.bases[id(write)]

    def written(self, name: str) -> bool:
        r = self.reaches(name)
        return any(self.mem(self.base(w)) & r for w in self.writes)

    def changes_after(self, name: str, stmt: ir.Stmt) -> bool:
        """May a write to ``name``'s memory run after ``stmt`` (later in the code, or a later iteration)?"""
        r = self.reaches(name)
        here = self.order[id(stmt)]
        loops = set(self.loops[id(stmt)])
        return any(self.mem(self.base(w)) & r and (self.order[id(w)] > here or loops & set(self.loops[id(w)]))
                   for w in self.writes)

    def changed_by(self, name: str, stmt: ir.Stmt) -> bool:
        """Does ``stmt`` itself write into ``name``'s memory (an in-place operator reading its operand)?"""
        return id(stmt) in self.bases and bool(self.mem(self.bases[id(stmt)]) & self.reaches(name))

    def structure_changes(self, name: str) -> bool:
        """Is ``name``'s memory a list that grows or shrinks (so even its length must be snapshotted)?"""
        return bool(self.mem(name) & self.lists)

    def exclusive(self, a: ir.Stmt, b: ir.Stmt) -> bool:
        """Are ``a`` and ``b`` on different branches of one ``if`` (never both run)?"""
        sa = dict(self.sides[id(a)])
        return any(i in sa and sa[i] != side for i, side in self.sides[id(b)])


def analyze_mutation(body: list[ir.Stmt], analysis: Analysis, params: list[str]) -> Mutation:
    """Memory sharing and the write checks of the module docstring; raises ``S2SADSyntaxError``."""
    m, views, defs, reads = _Points(analysis, params, calls_alias=True).run(body)
    firm_points = _Points(analysis, params, calls_alias=False)  # calls return fresh memory
    firm = firm_points.run(body)[0]
    external = {r for n in [*params, *firm_points.external] for r in firm.mem(n)}
    copied = []  # `x op= v` on an input: computed into a new array, the input left as it was
    for w in m.writes:
        base, loc = m.base(w), w.loc
        ext = firm.mem(base) & external
        if ext and any(firm.mem(n) & ext for n in analysis.active) and _inplace_op(w.value) \
                and not ext & analysis.dims.keys():  # (an argument known to be an array is refused)
            copied.append(w)
        elif ext and any(firm.mem(n) & ext for n in analysis.active):
            raise S2SADSyntaxError(
                f"this writes into {base!r}, memory that came from an argument or a global and carries a "
                "gradient; s2sad never mutates your inputs. Copy it first (x = x.copy())", loc)
        if base in views and not _inplace_op(w.value):
            raise S2SADSyntaxError(
                f"this writes through {base!r}, a view or alias of another array; s2sad cannot follow "
                "the change to the array it shares memory with. Write into that array directly, or "
                "copy the view first (.copy())", loc)
    for name, use in reads:  # an older name for written memory, read after the write
        if name not in defs or not m.written(name):
            continue
        reached = m.reaches(name)
        for w in m.writes:
            if not m.mem(m.base(w)) & reached or name in w.targets or use is w or m.exclusive(w, use):
                continue
            if _between(defs[name], (m.order[id(w)], m.loops[id(w)]), (m.order[id(use)], m.loops[id(use)])):
                what = "array" if not _inplace_op(w.value) else "value"
                raise S2SADSyntaxError(
                    f"{name!r} shares memory with the {what} written here and is read after this write; "
                    "s2sad cannot follow that. Copy it before the write (.copy()), or read the array after "
                    "the write instead", w.loc)
    for w in copied:
        w.value = ir.BinOp(next(op for op, f in INPLACE_FUNCS.items() if f is w.value.func.value), *w.value.args)
        m.writes.remove(w)
    return m


def _between(d, w, u) -> bool:
    """May the write at ``w`` run after the definition ``d`` and before the use ``u``?"""
    (dp, dl), (wp, wl), (up, ul) = d, w, u
    if dp < wp < up:
        return True
    shared = set(wl) & set(ul)
    return any(loop not in dl for loop in shared)  # a loop around both, entered after the definition


def _inplace_op(v: ir.Expr) -> bool:
    """``operator.imul(y, v)``: the lowering of ``y *= v`` on a name."""
    return isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) and v.func.value in INPLACE_OPS


def inplace_write(s: ir.Assign, analysis: Analysis) -> str | None:
    """The name ``s`` writes into in place: ``x[i] = v``, a list method, or ``y op= v`` on a value
    that is not statically immutable (a number or a tuple rebinds; an array or a list changes)."""
    v = s.value
    if isinstance(v, ir.SetItem | ir.ListMethod):
        return v.base.id
    if _inplace_op(v) and isinstance(v.args[0], ir.Name):
        name = v.args[0].id
        if name not in analysis.scalars and analysis.kinds.get(name) != "tuple":
            return name
    return None


class _Points:
    """The may-share analysis: propagated over the body to a fixed point (loops feed back)."""

    def __init__(self, analysis: Analysis, params: list[str], calls_alias: bool) -> None:
        self.an = analysis
        self.params = params
        self.calls_alias = calls_alias  # a user function may return (part of) an argument
        self.external: set[str] = set()

    def run(self, body: list[ir.Stmt]):
        points: dict[str, set[str]] = {}
        contains: dict[str, set[str]] = {}
        while True:
            size = sum(map(len, points.values())) + sum(map(len, contains.values()))
            self.m = Mutation(points, contains)
            self.views, self.defs, self.reads = set(), {}, []
            self.visit(body, (), ())
            if sum(map(len, points.values())) + sum(map(len, contains.values())) == size:
                return self.m, self.views, self.defs, self.reads

    def flow(self, target: str, sources) -> None:
        self.m.points.setdefault(target, set()).update(sources)

    def elements(self, name: str) -> set[str]:
        return {e for r in self.m.mem(name) for e in self.m.contains.get(r, ())}

    def visit(self, stmts: list[ir.Stmt], loops: tuple[int, ...], sides: tuple) -> None:
        m = self.m
        for s in stmts:
            m.order[id(s)] = len(m.order)
            m.loops[id(s)] = loops
            m.sides[id(s)] = sides
            for e in ir.exprs(s):
                self.reads.extend((n, s) for n in ir.names_read(e))
            if isinstance(s, ir.Assign):
                for t in s.targets:
                    self.defs[t] = (m.order[id(s)], loops)
                self.assign(s)
            elif isinstance(s, ir.If):
                self.visit(s.body, loops, (*sides, (id(s), True)))
                self.visit(s.orelse, loops, (*sides, (id(s), False)))
                for o, a, b in zip(s.outs, *s.yields):
                    self.defs[o] = (m.order[id(s)], loops)
                    self.flow(o, {r for y in (a, b) if isinstance(y, ir.Name) for r in m.mem(y.id)} or {o})
            elif isinstance(s, ir.Loop):
                inner = (*loops, id(s))
                for c, i, n in zip(s.carried, s.inits, s.nexts):
                    self.defs[c] = (m.order[id(s)] + 0.5, inner)  # re-bound at the start of each iteration
                    self.flow(c, {r for y in (i, n) if isinstance(y, ir.Name) for r in m.mem(y.id)} or {c})
                for t in s.targets:
                    self.defs[t] = (m.order[id(s)] + 0.5, inner)
                    self.flow(t, {r for n in ir.names_read(s.iter) for r in m.mem(n) | self.elements(n)} or {t})
                self.visit(s.cond_body, inner, sides)
                self.visit(s.body, inner, sides)
                for r, c in zip(s.results, s.carried):
                    self.defs[r] = (len(m.order) - 0.5, loops)  # bound when the loop is over
                    self.flow(r, m.mem(c))

    def assign(self, s: ir.Assign) -> None:
        """Record what memory ``s``'s targets may share, and what containers now hold."""
        m, v = self.m, s.value
        if isinstance(v, ir.Ref):
            self.external.update(s.targets)
            return
        base = inplace_write(s, self.an)
        if base is not None:
            self.write(s, base)
            return
        p = self.an.prims.get(id(s))
        kind = p.kind if p else None
        names = list(ir.names_read(v))
        if kind in (CONTAINER, CLOSURE):
            for t in s.targets:
                for n in names:
                    for r in m.mem(n):
                        m.contains.setdefault(t, set()).add(r)
            return
        if kind == UNPACK and isinstance(v, ir.Name) and self.an.literals.get(v.id) is not None                 and len(self.an.literals[v.id]) == len(s.targets):  # a tuple literal: item by item
            for t, item in zip(s.targets, self.an.literals[v.id]):
                if isinstance(item, ir.Name):
                    self.flow(t, m.mem(item.id))
                    self.views.add(t)
            return
        if kind == TRANSFORM and not self.calls_alias:
            return
        if kind == CALL and p.rule.returns and not _is_view_call(v):  # list(xs), d.values(): a new container
            for t in s.targets:  # holding what xs holds (or views of the array xs)
                for n in names:
                    m.contains.setdefault(t, set()).update(self.elements(n) or m.mem(n))
            return
        if kind in (TRANSFORM, UNPACK) or (kind == COPY and isinstance(v, ir.Name)):
            sources = names  # a user function may return any argument; unpacking takes out elements
        elif (kind == CALL and (p.rule.name in _VIEW_RULES or _is_view_call(v))) or (
                isinstance(v, ir.Call) and isinstance(v.func, ir.Attr) and v.func.attr in _VIEW_METHODS):
            sources = list(ir.names_read(_viewed(v)))  # a view of its first operand only
        else:
            return
        for t in s.targets:
            for n in sources:
                self.flow(t, m.mem(n) | self.elements(n))  # an item taken out of a container, too
            if sources:
                self.views.add(t)

    def write(self, s: ir.Assign, base: str) -> None:
        m, v = self.m, s.value
        m.writes.append(s)
        m.bases[id(s)] = base
        self.flow(s.targets[-1], m.mem(base))  # the new version is the same memory
        held: set[str] = set()
        if isinstance(v, ir.ListMethod):
            m.lists.update(m.mem(base))
            if v.method == "pop":  # the popped value was an element
                self.flow(s.targets[0], self.elements(base) or {s.targets[0]})
            for a in v.args:  # the list now holds what was appended (for extend: the items' elements)
                if isinstance(a, ir.Name) and v.method == "append":
                    held |= m.mem(a.id)
                elif isinstance(a, ir.Name) and v.method == "extend":
                    held |= self.elements(a.id) or m.mem(a.id)
        elif isinstance(v, ir.SetItem):
            if isinstance(v.value, ir.Name) and base in self.an.containers:
                held |= m.mem(v.value.id)  # a list or dict keeps a reference; an array store copies
        elif isinstance(v.args[1], ir.Name) and self.an.kinds.get(base) != "array":  # `xs += ys` on a list
            m.lists.update(m.mem(base))
            held |= self.elements(v.args[1].id)
        for r in m.mem(base):
            m.contains.setdefault(r, set()).update(held)


def _viewed(v: ir.Expr) -> ir.Expr:
    """The operand a view expression looks into (not its index or shape arguments)."""
    if isinstance(v, ir.Subscript | ir.Attr):
        return v.value
    if isinstance(v.func, ir.Attr):
        return v.func.value
    return v.args[0] if v.args else ir.Const(None)


def _is_view_call(v: ir.Expr) -> bool:
    return isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) and v.func.value in _VIEW_FUNCS

