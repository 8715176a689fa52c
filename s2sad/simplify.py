"""Simplify: clean-ups on a flat SSA function before differentiation.

Expects ``lower``'s output; keeps every invariant ``verify`` checks. It removes
work the user's spelling implies but the computation does not need, so both the
forward pass and the pullback get shorter:

* common subexpressions: a pure operation computed again on the same operands
  (``x**2`` twice in one line) reuses the first result; a value computed inside a
  branch or loop body is reused only inside it, and none computed before an in-place
  write or a call that may write into what it is given (``np.copyto``, ``a.fill``, a
  function of yours: the operands' memory may have changed);
* a ``math`` function of constants is the float it gives (``math.sqrt(2.0)``);
* reads of a tuple literal at a constant index become the item itself, and unpacking one
  (``x, y = y, x``, ``a, b, c = helper(...)`` once the helper is written in) binds each name
  to its item;
* temporaries that merely copy another value are replaced by that value, and
  temporaries left unread that cannot raise (literals, copies) are dropped.

A repeat bound to one of the user's names stays as a copy (``b = a``), so the
user's names survive. Only operations known to be pure are merged: operators,
comparisons and calls of functions in the rule table (never ``out=``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

from . import ir
from .rules import INPLACE_OPS, METHODS, NONDIFFERENTIABLE, WRITER_METHODS, WRITERS, lookup

__all__ = ["simplify", "name_shared"]


def simplify(fn: ir.Function) -> ir.Function:
    """Return ``fn`` with common subexpressions merged and temporary copies removed."""
    s = _Simplifier(fn.temps)
    body = s.block(fn.body, {}, {})
    body = _drop_dead_temporaries(body, fn.temps)
    return ir.Function(fn.name, fn.params, body, fn.loc, fn.ssa, fn.flat, fn.doc, fn.temps, fn.inputs)


class _Simplifier:
    def __init__(self, temps: set[str]) -> None:
        self.temps = temps
        self.subst: dict[str, ir.Expr] = {}  # SSA names are unique, so one map serves all scopes

    def sub(self, e: ir.Expr | None) -> ir.Expr | None:
        return None if e is None else ir.substitute(e, self.subst)

    def block(self, stmts: list[ir.Stmt], seen: dict[object, str], tuples: dict[str, list[ir.Expr]]
              ) -> list[ir.Stmt]:
        """Simplify one block; ``seen`` and ``tuples`` are this scope's (copied for nested ones)."""
        out: list[ir.Stmt] = []
        for stmt in stmts:
            writes = isinstance(stmt, (ir.If, ir.Loop)) and any(_writes(s) for s in ir.walk([stmt]))
            if isinstance(stmt, ir.If):
                stmt.test = self.sub(stmt.test)
                stmt.body = self.block(stmt.body, dict(seen), dict(tuples))
                stmt.orelse = self.block(stmt.orelse, dict(seen), dict(tuples))
                stmt.yields = tuple([self.sub(y) for y in ys] for ys in stmt.yields)
            elif isinstance(stmt, ir.Loop):  # (a write in the body: a later iteration reads what it changed)
                inner = {} if writes else seen
                stmt.inits = [self.sub(e) for e in stmt.inits]
                stmt.iter = self.sub(stmt.iter)
                stmt.cond_body = self.block(stmt.cond_body, dict(inner), dict(tuples))
                stmt.cond = self.sub(stmt.cond)
                stmt.body = self.block(stmt.body, dict(inner), dict(tuples))
                stmt.nexts = [self.sub(e) for e in stmt.nexts]
                stmt.exit = self.sub(stmt.exit)
            elif _writes(stmt):  # (before the unpacking below: a write's value is never a tuple literal, but
                stmt.value = self.sub(stmt.value)  # a write must always clear what was seen)
                seen.clear()  # (what was computed before may read memory this changes, through another name)
            elif isinstance(stmt, ir.Assign) and isinstance(stmt.target, tuple) \
                    and len(_tuple_items(self.sub(stmt.value), tuples) or ()) == len(stmt.target):
                items = _tuple_items(self.sub(stmt.value), tuples)  # a, b = b, a: each name its item
                out += self.block([ir.Assign(t, item, stmt.loc) for t, item in zip(stmt.target, items)], seen, tuples)
                continue
            elif isinstance(stmt, ir.Assign) and isinstance(stmt.target, str):
                value = _folded(_forward_tuple_item(self.sub(stmt.value), tuples))
                key = _key(value)
                if key is not None and key in seen:
                    value = ir.Name(seen[key])
                elif key is not None:
                    seen[key] = stmt.target
                if isinstance(value, ir.Tuple):
                    tuples[stmt.target] = value.items
                if stmt.target in self.temps and isinstance(value, (ir.Name, ir.Const)):
                    self.subst[stmt.target] = value
                    continue
                stmt = ir.Assign(stmt.target, value, stmt.loc)
            elif isinstance(stmt, (ir.Assign, ir.Do, ir.Return)):
                stmt.value = self.sub(stmt.value)
            if writes:
                seen.clear()
            out.append(stmt)
        return out


def _writes(s: ir.Stmt) -> bool:
    """``s`` may change memory in place: ``x[i] = v``, ``xs.append(v)``, ``y op= v`` (an array or a list), and
    a call of anything but a function or array method with a rule, or not differentiable, that writes
    nothing (``np.copyto(a, v)``, ``a.fill(v)``, ``out=``, a function of yours, a function value)."""
    e = s.value if isinstance(s, (ir.Assign, ir.Do)) else None
    if isinstance(e, (ir.SetItem, ir.ListMethod)):
        return True
    if not isinstance(e, ir.Call):
        return False
    if any(k == "out" for k, _ in e.kwargs):
        return True
    if isinstance(e.func, ir.Attr) and not isinstance(e.func.value, ir.Ref):  # a method of a local object
        return e.func.attr in WRITER_METHODS or e.func.attr not in METHODS
    fn = getattr(e.func.value.value, e.func.attr, None) if isinstance(e.func, ir.Attr) else (
        e.func.value if isinstance(e.func, ir.Ref) else None)  # (None: a function value)
    try:
        return fn in INPLACE_OPS or fn in WRITERS or not (lookup(fn) is not None or fn in NONDIFFERENTIABLE)
    except TypeError:  # unhashable
        return True


def _drop_dead_temporaries(body: list[ir.Stmt], temps: set[str]) -> list[ir.Stmt]:
    """Remove temporaries nobody reads whose value cannot raise (literals and copies).

    A statement bound to a user's name, or one that could raise, is always kept.
    """
    read = {n for s in ir.walk(body) for e in ir.exprs(s) for n in ir.names_read(e)}

    def keep(stmts: list[ir.Stmt]) -> list[ir.Stmt]:
        kept = []
        for s in stmts:
            if isinstance(s, ir.Assign) and isinstance(s.target, str) and s.target in temps \
                    and s.target not in read and isinstance(s.value, (*ir.ATOMS, ir.Tuple, ir.List)):
                continue
            if isinstance(s, ir.If):
                s.body, s.orelse = keep(s.body), keep(s.orelse)
            elif isinstance(s, ir.Loop):
                s.cond_body, s.body = keep(s.cond_body), keep(s.body)
            kept.append(s)
        return kept

    return keep(body)


def _folded(value: ir.Expr) -> ir.Expr:
    """A ``math`` function of number constants (``math.sqrt(2.0)``) as the float it gives; else ``value``."""
    if not (isinstance(value, ir.Call) and isinstance(value.func, ir.Ref) and not value.kwargs
            and getattr(value.func.value, "__module__", None) == "math"
            and all(isinstance(a, ir.Const) and type(a.value) in (int, float) for a in value.args)):
        return value
    try:
        result = value.func.value(*(a.value for a in value.args))
    except (ValueError, OverflowError, TypeError, ZeroDivisionError):
        return value  # (raised where the code runs, as written)
    return ir.Const(result) if type(result) is float and math.isfinite(result) else value


def _tuple_items(value: ir.Expr, tuples: dict[str, list[ir.Expr]]) -> list[ir.Expr] | None:
    """The items of the tuple literal ``value`` names (None if it names none)."""
    return tuples.get(value.id) if isinstance(value, ir.Name) else None


def _forward_tuple_item(value: ir.Expr, tuples: dict[str, list[ir.Expr]]) -> ir.Expr:
    if isinstance(value, ir.Subscript) and isinstance(value.value, ir.Name) and value.value.id in tuples:
        items = tuples[value.value.id]
        i = value.index.value if isinstance(value.index, ir.Const) else None
        if type(i) is int and -len(items) <= i < len(items):
            return items[i]
    return value


def _atom_key(e: ir.Expr) -> object:
    if isinstance(e, ir.Name):
        return ("name", e.id)
    if isinstance(e, ir.Const):
        return ("const", type(e.value), e.value) if ir.hashable(e.value) else None
    if isinstance(e, ir.Ref):
        return ("ref", e.path, id(e.value))
    return None


def _key(e: ir.Expr) -> object:
    """A hashable key equal for two pure expressions that must compute the same value."""
    if isinstance(e, (ir.BinOp, ir.Compare)):
        parts = (_atom_key(e.left), _atom_key(e.right))
        return None if None in parts else (type(e).__name__, e.op, *parts)
    if isinstance(e, ir.UnaryOp):
        part = _atom_key(e.operand)
        return None if part is None else ("unary", e.op, part)
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and lookup(e.func.value) is not None:
        args = tuple(_atom_key(a) for a in e.args)
        kwargs = tuple((k, _atom_key(v)) for k, v in e.kwargs)
        if None in args or any(v is None or k == "out" for k, v in kwargs):
            return None
        return ("call", _atom_key(e.func), args, kwargs)
    return None


# ----- a rule's output: what it computes more than once, computed once and named -----

_SHAPE_QUERIES = {"shape", "ndim", "size", "len"}
_OPERATOR_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul", "**": "pow", "%": "mod"}


def name_shared(exprs: list[ir.Expr], fresh: Callable[[str], str]) -> tuple[list[tuple[str, ir.Expr]], list[ir.Expr]]:
    """``(definitions, exprs)``: the expressions a rule emitted, with every call or operator they compute
    more than once (a factor such as ``np.swapaxes(u, -1, -2)`` read three times) computed once, by a
    definition ``(name, value)`` taken from ``fresh``, in the order they must run. Each shared
    subexpression is named from the outside in (the largest first, then those repeated inside it)."""
    defs: dict[str, ir.Expr] = {}
    while True:
        memo: dict[int, tuple] = {}
        nodes = [(n, _structure(n, memo)) for r in [*exprs, *defs.values()] for n in _preorder(r) if _worth_naming(n)]
        counts = Counter(key for _, key in nodes)
        repeated = [(n, key) for n, key in nodes if counts[key] > 1]
        if not repeated:
            return _in_order(defs), exprs
        shared, key = max(repeated, key=lambda nk: sum(1 for _ in _preorder(nk[0])))  # (the first of the largest)
        name = fresh(_hint(shared))
        exprs = [_replace(e, key, name) for e in exprs]
        defs = {n: _replace(v, key, name) for n, v in defs.items()}
        defs[name] = shared


def _in_order(defs: dict[str, ir.Expr]) -> list[tuple[str, ir.Expr]]:
    """The definitions, each after those it reads (first named first, otherwise)."""
    out: list[tuple[str, ir.Expr]] = []

    def visit(name: str) -> None:
        if name in defs and all(n != name for n, _ in out):
            for read in ir.names_read(defs[name]):
                visit(read)
            out.append((name, defs[name]))

    for name in defs:
        visit(name)
    return out


def _preorder(e: ir.Expr):
    yield e
    for c in ir.children(e):
        yield from _preorder(c)


def _worth_naming(e: ir.Expr) -> bool:
    if isinstance(e, ir.BinOp):
        return True
    if not isinstance(e, ir.Call):
        return False
    func = e.func
    name = func.path[-1] if isinstance(func, ir.Ref) else func.attr if isinstance(func, ir.Attr) else None
    return name not in _SHAPE_QUERIES


def _hint(e: ir.Expr) -> str:
    if isinstance(e, ir.BinOp):
        return _OPERATOR_NAMES.get(e.op, "tmp")
    if isinstance(e.func, ir.Ref):  # (a bare name is a helper's or a function's: its result gets its own)
        return e.func.path[-1] if len(e.func.path) > 1 else f"{e.func.path[0]}_out"
    return e.func.attr if isinstance(e.func, ir.Attr) else "tmp"


_PLAIN = (int, float, str, bool, type(None))


def _structure(e: ir.Expr, memo: dict[int, tuple]) -> tuple:
    """A key equal for two expressions that compute the same value: the same operations on the same
    names, constants and outside objects."""
    key = memo.get(id(e))
    if key is None:
        if isinstance(e, ir.Name):
            key = ("name", e.id)
        elif isinstance(e, ir.Const):
            plain = isinstance(e.value, _PLAIN) or (isinstance(e.value, tuple) and all(isinstance(v, _PLAIN) for v in e.value))
            key = ("const", type(e.value).__name__, repr(e.value) if plain else id(e.value))
        elif isinstance(e, ir.Ref):
            key = ("ref", e.path, id(e.value))
        else:
            key = (type(e).__name__, _label(e), *(_structure(c, memo) for c in ir.children(e)))
        memo[id(e)] = key
    return key


def _label(e: ir.Expr) -> object:
    """What tells apart two nodes of ``e``'s type with the same children."""
    if isinstance(e, (ir.BinOp, ir.UnaryOp, ir.Compare)):
        return e.op
    if isinstance(e, ir.Attr):
        return e.attr
    if isinstance(e, ir.Call):
        return tuple(k for k, _ in e.kwargs)
    if isinstance(e, ir.Slice):
        return tuple(p is None for p in (e.lower, e.upper, e.step))
    if isinstance(e, ir.ListMethod):
        return e.method
    if isinstance(e, ir.Closure):
        return id(e.node), tuple(e.names)
    return None


def _replace(e: ir.Expr, key: tuple, name: str) -> ir.Expr:
    if _worth_naming(e) and _structure(e, {}) == key:
        return ir.Name(name)
    return ir.map_children(e, lambda c: _replace(c, key, name))


def split_tuples(fn: ir.Function, namer) -> bool:
    """Give each entry of a tuple that is only built, copied, carried by loops, joined by branches,
    unpacked and read at constant indices a name of its own (in place; True if any was split).

    ``state = (x, v)`` carried by a loop and unpacked in it becomes two carried values: the entries
    keep what is known of them (floats stay floats), and their cotangents are plain values rather
    than tuples added entry by entry. A tuple used any other way (returned, passed to a call, its
    length taken) is left whole, with every tuple it is copied to or from."""
    graph = _TupleGraph(fn.body)
    split = graph.splittable()
    if not split:
        return False
    binds: dict[str, int] = {}
    for t in ir.walk(fn.body):
        for name in (t.targets if isinstance(t, ir.Assign) else t.outs if isinstance(t, ir.If) else ()):
            binds[name] = binds.get(name, 0) + 1
    entries = {t: [namer.fresh(f"{t}_{i}") for i in range(n)] for t, n in split.items()}
    fn.temps.update(e for t, es in entries.items() if t in fn.temps and binds.get(t, 0) <= 1 for e in es)
    fn.body = _split_block(fn.body, entries)
    return True


class _TupleGraph:
    """How tuples flow in a function: each name's definition (a literal, a copy, a loop's carried
    value or result, a branch's out, or anything else), the links those make, and the reads."""

    def __init__(self, body: list[ir.Stmt]) -> None:
        self.kind: dict[str, object] = {}  # name -> its literal's length, or "link", or "other"
        self.links: list[tuple[str, ir.Expr]] = []
        self.reads: list[tuple[str, object]] = []  # (name, ("unpack", n) / ("index", k) / None: any other)
        for s in ir.walk(body):
            self.stmt(s)

    def define(self, name: str, kind: object) -> None:
        self.kind[name] = kind if name not in self.kind else "other"  # (an out bound in a branch too)

    def read(self, e: ir.Expr | None, how: object = None) -> None:
        if e is not None:
            self.reads += [(n, how) for n in ir.names_read(e)]

    def stmt(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign):
            v = s.value
            if isinstance(s.target, tuple):
                for t in s.targets:
                    self.define(t, "other")
                self.read(v, ("unpack", len(s.target)) if isinstance(v, ir.Name) else None)
            elif isinstance(v, ir.Tuple):
                self.define(s.target, len(v.items))
                self.read(v)
            elif isinstance(v, ir.Name):
                self.define(s.target, "link")
                self.links.append((s.target, v))
            else:
                self.define(s.target, "other")
                index = v.index.value if isinstance(v, ir.Subscript) and isinstance(v.index, ir.Const) else None
                if type(index) is int and isinstance(v.value, ir.Name):
                    self.read(v.value, ("index", index))
                else:
                    self.read(v)
        elif isinstance(s, (ir.Do, ir.Return)):
            self.read(s.value)
        elif isinstance(s, ir.If):
            self.read(s.test)
            for o, a, b in zip(s.outs, *s.yields):
                self.define(o, "link")
                self.links += [(o, a), (o, b)]
        elif isinstance(s, ir.Loop):
            for c, i, n, r in zip(s.carried, s.inits, s.nexts, s.results):
                self.define(c, "link")
                self.define(r, "link")
                self.links += [(c, i), (c, n), (r, ir.Name(c))]
            for t in s.targets:
                self.define(t, "other")
            for e in (s.iter, s.cond, s.exit):
                self.read(e)

    def splittable(self) -> dict[str, int]:
        """The names to split, with their tuples' length: whole groups of linked names, each defined by
        a literal or a link, whose literals have one length, read only by unpacking it or at an index."""
        parent = {n: n for n in self.kind}

        def root(n: str) -> str:
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        bad = set()
        for a, b in self.links:
            if isinstance(b, ir.Name) and b.id in parent:
                parent[root(a)] = root(b.id)
            else:
                bad.add(a)  # linked to a constant or to something defined outside (a parameter)
        lengths: dict[str, set] = {}
        for n, k in self.kind.items():
            if k == "other":
                bad.add(n)
            elif k != "link":
                lengths.setdefault(root(n), set()).add(k)
        bad = {root(n) for n in bad}
        for r, ks in lengths.items():
            if len(ks) != 1:
                bad.add(r)
        size = {r: next(iter(ks)) for r, ks in lengths.items() if r not in bad}
        for n, how in self.reads:
            if n in parent and root(n) in size:
                n_ = size[root(n)]
                if how is None or (how[0] == "unpack" and how[1] != n_) or (
                        how[0] == "index" and not -n_ <= how[1] < n_):
                    del size[root(n)]
        return {n: size[root(n)] for n in self.kind if root(n) in size}


def _split_block(stmts: list[ir.Stmt], entries: dict[str, list[str]]) -> list[ir.Stmt]:
    out = []
    for s in stmts:
        if isinstance(s, ir.If):
            s.body, s.orelse = _split_block(s.body, entries), _split_block(s.orelse, entries)
            s.outs, s.yields = _split_pairs(s.outs, s.yields, entries)
        elif isinstance(s, ir.Loop):
            s.cond_body, s.body = _split_block(s.cond_body, entries), _split_block(s.body, entries)
            carried, inits, nexts, results = [], [], [], []
            for c, i, n, r in zip(s.carried, s.inits, s.nexts, s.results):
                if c in entries:
                    carried += entries[c]
                    inits += [ir.Name(e) for e in entries[i.id]]
                    nexts += [ir.Name(e) for e in entries[n.id]]
                    results += entries[r]
                else:
                    carried.append(c), inits.append(i), nexts.append(n), results.append(r)
            s.carried, s.inits, s.nexts, s.results = carried, inits, nexts, results
        elif isinstance(s, ir.Assign):
            out += _split_assign(s, entries)
            continue
        out.append(s)
    return out


def _split_pairs(outs: list[str], yields: tuple, entries: dict[str, list[str]]) -> tuple[list[str], tuple]:
    new_outs, new_yields = [], ([], [])
    for k, o in enumerate(outs):
        if o in entries:
            new_outs += entries[o]
            for side in (0, 1):
                new_yields[side].extend(ir.Name(e) for e in entries[yields[side][k].id])
        else:
            new_outs.append(o)
            for side in (0, 1):
                new_yields[side].append(yields[side][k])
    return new_outs, new_yields


def _split_assign(s: ir.Assign, entries: dict[str, list[str]]) -> list[ir.Stmt]:
    v = s.value
    if isinstance(s.target, str) and s.target in entries:
        items = v.items if isinstance(v, ir.Tuple) else [ir.Name(e) for e in entries[v.id]]
        return [ir.Assign(e, item, s.loc) for e, item in zip(entries[s.target], items)]
    if isinstance(s.target, tuple) and isinstance(v, ir.Name) and v.id in entries:
        return [ir.Assign(t, ir.Name(e), s.loc) for t, e in zip(s.target, entries[v.id])]
    if isinstance(v, ir.Subscript) and isinstance(v.value, ir.Name) and v.value.id in entries:
        es = entries[v.value.id]
        return [ir.Assign(s.target, ir.Name(es[v.index.value % len(es)]), s.loc)]
    return [s]
