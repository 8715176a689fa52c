"""Mutation: which names share memory, which in-place writes are safe, what to snapshot.

The forward pass performs ``x[i] = v`` and ``xs.append(v)`` in place, exactly as
the user's code does, so forward semantics (aliasing included) are NumPy's and
Python's. The IR gives each write a new SSA version of the array. That is sound
only if no *other* name for the same memory is read after the write (its IR
value would be stale), so:

* a write into memory that carries a gradient and came from outside (an
  argument, a global) is refused: it would mutate the user's input; ``x op= v``
  on such memory, where it is not known to be an array, computes a new value
  (``rebound_input(x)`` checks it: a number or tuple is rebound, as in Python; an
  array or a list raises when the derivative runs);
* a read of another name for written memory after the write (a view ``r = x[0]``,
  a list holding it, a name that is ``x`` on one path only), for a value that reaches
  the result, is refused at the user's line. A name the lowering knows for the same
  object (``z = x``) is rebound at the write (``aliases``), and a write that is one only
  if a value is an array, not a number, is checked to be on a number when it runs;
* a value the pullback reads whose memory a later write (or a later iteration)
  may change is snapshotted right where it is used, and only then; one it reads for its
  shape only is measured there by a stand-in (``runtime.shape_like``), never copied.

Memory is named where it is made; an object made inside a loop is a new one in
each iteration, so what an earlier iteration made (kept in a carried list) is
another object than the one a write changes now.
"""

from __future__ import annotations

import dis
import inspect
import types
import weakref
from collections import Counter
from dataclasses import dataclass, field

import numpy

from . import ir, runtime
from .activity import Analysis, analyze
from .classify import CALL, CLOSURE, CONTAINER, COPY, NONDIFF, TRANSFORM, UNPACK, Prim, calls, writes_into_argument
from .errors import NoDerivativeRuleError, S2SADSyntaxError, SourceUnavailableError
from .frontend import cell_contents, library_cells, library_value
from .resolve import plain
from .rules import INPLACE_FUNCS, INPLACE_OPS
from .ssa import lowered_ir

__all__ = ["Mutation", "analyzed", "analyze_mutation", "value_reads", "inplace_write", "Effects", "effects", "call_effects"]
# arrays of indices (as np.array of a list or a mask is): indexing with one copies
_INDEX_ARRAYS = {numpy.arange, numpy.flatnonzero, numpy.argsort, numpy.argwhere}
OLDER = "'"  # suffix of a memory name: the object made there in an earlier iteration of a loop


@dataclass(slots=True)
class Mutation:
    """What the reverse pass needs to know about in-place writes.

    Memory is named by the name that created it (a parameter, a fresh result); each
    name *may* share the memory in ``points`` (a call into user code may return any
    argument), so a later statement never merges what earlier ones kept apart.
    """

    points: dict[str, set[str]] = field(default_factory=dict)  # name -> memory it may share
    contains: dict[str, set[str]] = field(default_factory=dict)  # memory of a container -> memory it holds
    placed: dict[tuple[str, str], set[int]] = field(default_factory=dict)  # (container, held) -> statement ids (``sid``)
    fresh: dict[str, tuple[int, ...]] = field(default_factory=dict)  # memory made new each time -> loops it is in
    writes: list[ir.Assign] = field(default_factory=list)
    bases: dict[int, tuple[str, ...]] = field(default_factory=dict)  # write.sid -> the names written into
    calls: dict[int, tuple] = field(default_factory=dict)  # write.sid -> (the user function writing there, the
    # line of its write, why its IR could not be made: its writes then a guess)
    lists: set[str] = field(default_factory=set)  # memory changed by list methods
    order: dict[int, int] = field(default_factory=dict)  # stmt.sid -> preorder position
    loops: dict[int, tuple[int, ...]] = field(default_factory=dict)  # stmt.sid -> enclosing loops
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
                todo += [h for h in self.held(r) for h in (h, self.aged(h))]
        return seen

    def held(self, r: str) -> set[str]:
        """What the container memory ``r`` holds (an older iteration's object: what that one's holds)."""
        return self.contains.get(r, set()) | self.contains.get(r.rstrip(OLDER), set())

    def aged(self, r: str, loop: int | None = None) -> str:
        """``r`` as an older iteration's object (of ``loop``, or of any loop): memory made inside the loop
        is a new object each iteration, so an older one is never the current one."""
        made_in = self.fresh.get(r)
        return r + OLDER if made_in and (loop is None or loop in made_in) else r

    def reaches_at(self, name: str, write: ir.Assign) -> set[str]:
        """The memory ``name`` may share or hold, as ``write`` runs: what a container holds counts
        where it was put there before the write (or, in a loop around both, in an earlier iteration,
        where an object made in that loop is an older one)."""
        at, around = self.order[write.sid], set(self.loops[write.sid])
        seen, todo = set(), list(self.mem(name))
        while todo:
            r = todo.pop()
            if r in seen:
                continue
            seen.add(r)
            for h in self.held(r):
                if r.endswith(OLDER):  # what an older container holds was put there in its iteration
                    todo.append(self.aged(h))
                    continue
                for i in self.placed.get((r, h), ()):
                    if self.order[i] < at:
                        todo.append(h)
                    todo += [self.aged(h, loop) for loop in around & set(self.loops[i])]
        return seen

    def base(self, write: ir.Assign) -> str:
        return self.bases[write.sid][0]

    def hit(self, write: ir.Assign) -> set[str]:
        """The memory ``write`` may change: a call may write into anything its arguments hold."""
        reach = self.reaches if write.sid in self.calls else self.mem
        return {r for b in self.bases[write.sid] for r in reach(b)}

    def written(self, name: str) -> bool:
        """May a write change ``name``'s memory (also as an older iteration's object)?"""
        if not self.writes:
            return False
        r = self.reaches(name)
        r |= {self.aged(h) for h in r}
        return any(self.hit(w) & r for w in self.writes)

    def changes_after(self, name: str, stmt: ir.Stmt) -> bool:
        """May a write to ``name``'s memory run after ``stmt``: later in the code, or in a later iteration
        (where memory made in the loop is an older iteration's object: ``y = np.max(...)`` saved on
        the tape, then ``y += ...`` in the next iteration)?"""
        r = self.reaches(name)
        here = self.order[stmt.sid]
        loops = set(self.loops[stmt.sid])
        for w in self.writes:
            hit, around = self.hit(w), loops & set(self.loops[w.sid])
            if hit & r and (self.order[w.sid] > here or around):
                return True
            if hit & {self.aged(h, loop) for h in r for loop in around}:
                return True
        return False

    def changed_by(self, name: str, stmt: ir.Stmt) -> bool:
        """Does ``stmt`` itself write into ``name``'s memory (an in-place operator reading its operand)?"""
        return stmt.sid in self.bases and bool(self.hit(stmt) & self.reaches(name))

    def structure_changes(self, name: str) -> bool:
        """Is ``name``'s memory a list that grows or shrinks (so even its length must be snapshotted)?"""
        return bool(self.mem(name) & self.lists)

    def exclusive(self, a: ir.Stmt, b: ir.Stmt) -> bool:
        """Are ``a`` and ``b`` on different branches of one ``if`` (never both run)?"""
        sa = dict(self.sides[_point(a)])
        return any(i in sa and sa[i] != side for i, side in self.sides[_point(b)])


def analyzed(fn: ir.Function, analyze_fn) -> tuple[Analysis, Mutation]:
    """``analyze_fn()`` (the analysis of ``fn``) and ``fn``'s mutation analysis: again where that checks
    arguments by statements it adds (see ``analyze_mutation``)."""
    while True:
        analysis = analyze_fn()
        try:
            return analysis, analyze_mutation(fn.body, analysis, fn.params.names(), fn.temps)
        except _Changed:
            pass


class _Changed(Exception):
    """The mutation analysis added statements to the function: analyse it again."""


def analyze_mutation(body: list[ir.Stmt], analysis: Analysis, params: list[str], temps: set[str] = frozenset()
                     ) -> Mutation:
    """Memory sharing and the write checks of the module docstring; raises ``S2SADSyntaxError``.
    ``temps``: names lowering invented; an error names the user's variable they view instead.

    A write the checks would refuse that is a write only if a value turns out not to be a number
    (``y op= v``, or a call of a function that may write into an argument, on values not known to be
    arrays, lists or dicts) is taken for what it is on a number, and the value is checked to be one
    when the derivative runs (``runtime.immutable``). A checked argument is a statement added before
    the call: ``_Changed`` asks ``analyzed`` for a new analysis."""
    while True:
        if _fold_identity_tests(body, analysis):
            raise _Changed
        m, copied, problem = _checked(body, analysis, params, temps)
        for w in copied:  # (where the value turns out to be an array or a list, rebound_input refuses it)
            _rebind(body, w, runtime.rebound_input)
        if copied:
            raise _Changed
        if problem is None:
            return m
        write, error = problem
        if _maybe_number(write, analysis):
            _rebind(body, write, runtime.immutable)
            raise _Changed
        arguments = m.bases.get(write.sid, ()) if write.sid in m.calls else ()
        if not arguments or not all(_may_hold_number(n, analysis) for n in arguments):
            raise error
        _check_values(body, write, arguments, runtime.immutable, temps)
        raise _Changed


def _checked(body: list[ir.Stmt], analysis: Analysis, params: list[str], temps: set[str]):
    """``(Mutation, the writes x op= v into arguments to compute as new values instead, None or
    (write, error) for the first write the checks refuse)``."""
    points = _Points(analysis, params, calls_alias=True)
    m, defs, reads = points.solve(body)
    firm_points = points  # calls return fresh memory (the same analysis where no call of a function value met it)
    if points.aliased:
        firm_points = _Points(analysis, params, calls_alias=False)
    firm = firm_points.solve(body)[0] if firm_points is not points else m
    external = {r for n in [*params, *firm_points.external] for r in firm.mem(n)}
    copied = []  # `x op= v` on an input: computed into a new array, the input left as it was
    for w in m.writes:
        base, loc = m.base(w), w.loc
        ext = firm.hit(w) & external
        if ext and any(firm.mem(n) & ext for n in analysis.active) and _inplace_op(w.value) \
                and not ext & analysis.dims.keys():  # (an argument known to be an array is refused)
            copied.append(w)
        elif ext and any(firm.mem(n) & ext for n in analysis.active):
            return m, copied, (w, _unread(m, w) or S2SADSyntaxError(
                f"{_writer(m, w)} writes into {base!r}, memory that came from an argument or a global and carries a "
                "gradient; s2sad never mutates your inputs. Copy it first (x = x.copy())", loc))
    kept = {w.sid for w in copied}  # (these change no memory)
    for name, use in reads:  # an older name for written memory, read after the write, for a value that
        # reaches the result (a derivative flows through the read only then)
        if name not in defs or not m.written(name) or (
                isinstance(use, ir.Assign) and not set(use.targets) & analysis.useful):
            continue
        for w in m.writes:
            if w.sid in kept or name in w.targets or use is w or m.exclusive(w, use) \
                    or not m.hit(w) & m.reaches_at(name, w) or points.not_the_written(name, use, w):
                continue
            at = (m.order[_point(use)], m.loops[_point(use)])
            if _between(points.reaching(name, at), (m.order[w.sid], m.loops[w.sid]), at):
                while name in temps and name in points.origin:  # (`for r in y` iterates y_seq, a view of y)
                    name = points.origin[name]
                if w.sid in m.calls:
                    return m, copied, (w, _unread(m, w) or S2SADSyntaxError(
                        f"{_writer(m, w)} may change {name!r} in place, and {name!r} is read after this call; "
                        "s2sad cannot follow a change made inside a called function. Pass a copy (.copy()), "
                        "or return the new value from the function", w.loc))
                return m, copied, (w, _shares_memory_error(name, w))
    return m, copied, _stale_across_iterations(body, m, analysis, kept)


def _shares_memory_error(name: str, w: ir.Assign) -> S2SADSyntaxError:
    what = "array" if not _inplace_op(w.value) else "value"
    return S2SADSyntaxError(
        f"{name!r} shares memory with the {what} written here and is read after this write; "
        "s2sad cannot follow that. Copy it before the write (.copy()), or read the array after "
        "the write instead", w.loc)


def _stale_across_iterations(body: list[ir.Stmt], m: Mutation, analysis: Analysis, kept: set[int]):
    """A write inside a loop, through another name, into the memory of a value the loop carries, where
    that value is read in a later iteration or after the loop: the carried value (the next one of the
    iteration before, the result after the loop) was bound before the write, so the reads that follow
    it in the order of the code do not see it as stale. ``(write, error)``, or None."""
    for loop in (s for s in ir.walk(body) if isinstance(s, ir.Loop)):
        inside = list(ir.walk(loop.body))
        sids, sources = {s.sid for s in inside}, _sources(inside)
        writes = [w for w in m.writes if w.sid in sids and w.sid not in kept]
        for c, n, result in zip(loop.carried, loop.nexts, loop.results):
            if not {c, result} & analysis.useful or not isinstance(n, ir.Name):
                continue
            versions = {c, *_traced(n.id, sources)[0]}  # (the names the next value is made from in the body)
            for w in writes:
                if set(w.targets) & versions:
                    continue
                held = _traced(n.id, sources, lambda at: not m.exclusive(w, at))[1]  # (what the next value holds
                # where the write ran: a write into another object is the tape's business)
                if m.hit(w) & {mem for v in held for mem in m.reaches_at(v, w)}:
                    return w, _shares_memory_error(c, w)
    return None


def _traced(name: str, sources: dict[str, list[tuple[object, str]]], follow=lambda at: True
            ) -> tuple[set[str], set[str]]:
    """The names ``name`` is a version of, through copies, in-place writes and a branch's arms (the edges of
    ``sources`` at a point ``follow`` takes), and among them the ones that hold an object of their own (made
    by something else than a copy or an in-place write)."""
    seen, leaves, todo = set(), set(), [name]
    while todo:
        v = todo.pop()
        if v in seen:
            continue
        seen.add(v)
        edges = [src for at, src in sources.get(v, ()) if at is None or follow(at)]
        if v not in sources or v in edges:  # (itself, on an arm that makes it by something else)
            leaves.add(v)
        todo.extend(src for src in edges if src != v)
    return seen, leaves


def _sources(stmts: list[ir.Stmt]) -> dict[str, list[tuple[object, str]]]:
    """For each name ``stmts`` bind, the names it is a version of: what it copies, the object an in-place
    write changed, a branch's yields (each with the arm's list of yields, which stands for where it ends),
    a loop's carried value and its init and next."""
    out: dict[str, list[tuple[object, str]]] = {}
    for s in stmts:
        if isinstance(s, ir.Assign) and isinstance(s.target, str):
            v = s.value
            base = v if isinstance(v, ir.Name) else v.base if isinstance(v, ir.SetItem | ir.ListMethod) else (
                v.args[0] if _inplace_op(v) else None)
            if isinstance(base, ir.Name):  # (an out bound inside an arm: a source of the out on that arm)
                out.setdefault(s.target, []).append((s, base.id))
            elif s.target in out:
                out[s.target].append((s, s.target))  # (made by something else there: the name itself)
        elif isinstance(s, ir.If):
            for k, o in enumerate(s.outs):
                out.setdefault(o, []).extend((ys, ys[k].id) for ys in s.yields
                                             if isinstance(ys[k], ir.Name) and ys[k].id != o)
        elif isinstance(s, ir.Loop):
            for c, i, n, r in zip(s.carried, s.inits, s.nexts, s.results):
                out[r] = out[c] = [(None, e.id) for e in (i, n) if isinstance(e, ir.Name)]
    return out


def _rebind(body: list[ir.Stmt], w: ir.Assign, check) -> None:
    """``y_1 = y op= v`` as ``check(y)`` (it raises where ``y`` is an array or a list, which Python would
    change in place) and ``y_1 = y op v``, a new value."""
    op = next(op for op, f in INPLACE_FUNCS.items() if f is w.value.func.value)
    _insert_before(body, w, [ir.Do(ir.Call(ir.Ref((check.__name__,), check, helper=True), [w.value.args[0]]), w.loc)])
    w.value = ir.BinOp(op, *w.value.args)


def _insert_before(body: list[ir.Stmt], stmt: ir.Stmt, stmts: list[ir.Stmt]) -> None:
    block = next(b for b in _blocks(body) if any(s is stmt for s in b))
    at = next(i for i, s in enumerate(block) if s is stmt)
    block[at:at] = stmts


def _maybe_number(w: ir.Assign, analysis: Analysis) -> bool:
    """Is ``w`` ``y op= v`` on a value that may be a number?"""
    return _inplace_op(w.value) and isinstance(w.value.args[0], ir.Name) and _may_hold_number(w.value.args[0].id,
                                                                                            analysis)


def _may_hold_number(name: str, analysis: Analysis) -> bool:
    """``name`` is not known to hold an array, a list or a dict."""
    return name not in analysis.arrays and analysis.kinds.get(name) not in ("list", "dict")


def _check_values(body: list[ir.Stmt], stmt: ir.Assign, names, check, temps: set[str]) -> None:
    """Before ``stmt``, ``n_checked = check(n)`` for each of ``names``, and ``stmt`` reads that."""
    taken = {t for s in ir.walk(body) if isinstance(s, ir.Assign) for t in s.targets}
    checked = {}
    for n in dict.fromkeys(names):
        new = f"{n}_checked"
        while new in taken:
            new += "_"
        checked[n] = new
        temps.add(new)
    stmts = [ir.Assign(c, ir.Call(ir.Ref((check.__name__,), check, helper=True), [ir.Name(n)]), stmt.loc)
             for n, c in checked.items()]
    stmt.value = ir.substitute(stmt.value, {n: ir.Name(c) for n, c in checked.items()})
    _insert_before(body, stmt, stmts)


def _fold_identity_tests(body: list[ir.Stmt], analysis: Analysis) -> bool:
    """``same = y_1 is z; if same: ... else: ...`` where ``y_1 = y op v`` made a new object (it rebound a
    number): the ``else`` branch, inline. True if one was folded."""
    made = {t: s for s in ir.walk(body) if isinstance(s, ir.Assign) for t in s.targets}
    reads = Counter(n for s in ir.walk(body) for e in ir.exprs(s) for n in ir.names_read(e))
    for block in _blocks(body):
        for i, s in enumerate(block):
            test = made.get(s.test.id) if isinstance(s, ir.If) and isinstance(s.test, ir.Name) else None
            if test is None or not (isinstance(test.value, ir.Compare) and test.value.op == "is"
                                    and isinstance(test.value.left, ir.Name)):
                continue
            new = made.get(test.value.left.id)
            if new is not None and (isinstance(new.value, ir.BinOp) or (
                    _inplace_op(new.value) and inplace_write(new, analysis) is None)):
                others = Counter(n for x in ir.walk(body) for n in _binds(x))  # (an out also a branch's or loop's)
                kept = {n for x in ir.walk(body) if isinstance(x, ir.Assign) and isinstance(x.value, ir.Closure)
                        for n in x.value.names}  # (a nested function reads its captures by these names)
                renamed = {o: y.id for o, y in zip(s.outs, s.yields[1])
                           if isinstance(y, ir.Name) and others[o] == 1 and o not in kept}
                block[i:i + 1] = [*s.orelse, *(ir.Assign(o, y, s.loc) for o, y in zip(s.outs, s.yields[1])
                                               if o not in renamed and y != ir.Name(o))]  # (the else bound o itself)
                ir.rename(body, renamed)
                if reads[s.test.id] == 1:  # (the test read it alone)
                    next(b for b in _blocks(body) if any(x is test for x in b)).remove(test)
                return True
    return False


def _binds(s: ir.Stmt) -> list[str]:
    if isinstance(s, ir.Assign):
        return list(s.targets)
    if isinstance(s, ir.If):
        return list(s.outs)
    if isinstance(s, ir.Loop):
        return [*s.carried, *s.results]
    return []


def _blocks(body: list[ir.Stmt]):
    """``body`` and every statement list nested in it."""
    yield body
    for s in body:
        if isinstance(s, ir.If):
            yield from _blocks(s.body)
            yield from _blocks(s.orelse)
        elif isinstance(s, ir.Loop):
            yield from _blocks(s.cond_body)
            yield from _blocks(s.body)


def _writer(m: Mutation, w: ir.Assign) -> str:
    """``"this"``, or for a call the function and the line where it writes into what it is given."""
    fn, loc, _ = m.calls.get(w.sid, (None, None, None))
    if fn is None:
        return "this"
    where = f" at {loc.file}:{loc.line}: {loc.text.strip()}" if loc is not None else ""
    return f"{getattr(fn, '__qualname__', fn)}(...), called here (it writes into what it is given{where}),"


def _unread(m: Mutation, w: ir.Assign) -> Exception | None:
    """Where ``w`` is a call of a function whose IR could not be made (no source, a construct s2sad
    refuses), so that its writes are a guess: why (the error to report instead of the guessed write)."""
    return m.calls.get(w.sid, (None, None, None))[2]


def _between(d, w, u) -> bool:
    """May the write at ``w`` run after the definition ``d`` and before the use ``u``?"""
    (dp, dl), (wp, wl), (up, ul) = d, w, u
    if dp < wp < up:
        return True
    shared = set(wl) & set(ul)
    return any(loop not in dl for loop in shared)  # a loop around both, entered after the definition


def _point(at: ir.Stmt | list) -> int:
    """The key of a point of the code: a statement's ``sid``, or, for the list of values a branch yields
    (which stands for where the branch ends), the list's identity."""
    return id(at) if isinstance(at, list) else at.sid


def _inplace_op(v: ir.Expr) -> bool:
    """``operator.imul(y, v)``: the lowering of ``y *= v`` on a name."""
    return isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) and v.func.value in INPLACE_OPS


def inplace_write(s: ir.Assign, analysis: Analysis) -> str | None:
    """The name ``s`` writes into in place: ``x[i] = v``, a list method, or ``y op= v`` on a value
    that is not statically immutable (a number, an item of an array or a tuple rebinds; an array or a
    list changes)."""
    v = s.value
    if isinstance(v, (ir.SetItem, ir.ListMethod)):
        return v.base.id
    if _inplace_op(v) and isinstance(v.args[0], ir.Name):
        name = v.args[0].id
        if name not in analysis.numbers and analysis.kinds.get(name) != "tuple":
            return name
    return None


class _Points(ir.Forward):
    """The may-share analysis, on ``ir.Forward``: a name's fact is ``(the memory it may share, whether it may
    be part of another object)``, joined by union; what an ``If``'s outs, a ``Loop``'s carried values and
    results may share comes from the walker. ``points`` and ``contains`` grow over the whole body (what a
    container holds is not tied to a point of the code), so ``solve`` walks it again until a round adds
    nothing. The first time a round reaches a statement it records where it is (``Mutation.order``,
    ``loops``, ``sides``), the names it binds (``defs``) and the names it reads (``reads``)."""

    def __init__(self, analysis: Analysis, params: list[str], calls_alias: bool, summary: bool = False) -> None:
        self.an = analysis
        self.params = params
        self.calls_alias = calls_alias  # a user function may return (part of) an argument
        self.aliased = False  # ``calls_alias`` made a call's result share memory with its arguments
        self.summary = summary  # finding a function's effects: a writer call (np.copyto) is a write
        self.origin: dict[str, str] = {}  # a view -> the name it looks into
        self.external: set[str] = set()

    def solve(self, body: list[ir.Stmt]):
        """``(Mutation, defs, reads)`` for ``body``, walked until a round adds nothing."""
        points: dict[str, set[str]] = {}
        contains: dict[str, set[str]] = {}
        placed: dict[tuple[str, str], set[int]] = {}
        fresh: dict[str, tuple[int, ...]] = {}
        self.bound: set[str] = set()  # names assigned in some round (before that, a name holds nothing yet)
        self.parts: set[str] = set()  # names that may be part of another object (a view, an item)
        self.tests: dict[str, tuple[str, str, ir.Stmt]] = {}  # t -> (a, b, stmt): t = a is b
        self.unlike: dict[tuple[str, int], str] = {}  # (b, _point(use)) -> a: b read where it is not a
        self.looped = False
        while True:
            size = sum(map(len, points.values())) + sum(map(len, contains.values())) + len(self.bound)
            self.m = Mutation(points, contains, placed, fresh)
            self.reads: list[tuple[str, object]] = []
            self.advanced: set[str] = set()  # index lists and masks: indexing with them copies
            self.defs: dict[str, tuple] = {p: (-1, ()) for p in self.params}
            self.earlier: dict[str, list[tuple]] = {}
            self.loops: tuple[int, ...] = ()  # the loops around the statement being walked
            self.sides: tuple[tuple[int, bool], ...] = ()  # the arms around it: (if, then-arm?)
            self.run(body)
            if sum(map(len, points.values())) + sum(map(len, contains.values())) + len(self.bound) == size:
                return self.m, self.defs, self.reads
            if not self.looped and not self.m.writes:
                # settled in one round: without loops every name is visited after the statement binding it,
                # and without writes what memory holds changes only where it is made, so another round
                # would find the same
                return self.m, self.defs, self.reads

    def of(self, e: ir.Expr | None) -> tuple[set[str], bool]:
        return set(self.mems(e)), isinstance(e, ir.Name) and e.id in self.parts  # (a copy: ``points`` grows)

    def bind(self, name: str, fact) -> None:
        """``name`` may share the memory of ``fact`` (its own if none is known), and be a part of an object."""
        mem, part = fact
        self.flow(name, mem or {name})
        if part:
            self.parts.add(name)

    def forget(self, name: str) -> None:
        pass  # (what a name may share on some path, it may share)

    def join(self, a, b) -> tuple[set[str], bool]:
        return a[0] | b[0], a[1] or b[1]

    def carry(self, s: ir.Loop, k: int, fact) -> tuple[set[str], bool]:
        """An object the body made is an older one in the next iteration; no iteration follows another in
        ``for i in range(1)``."""
        if _runs_once(s):
            return set(), False
        return {self.m.aged(r, s.sid) for r in fact[0]}, fact[1]

    def result(self, s: ir.Loop, k: int, fact) -> tuple[set[str], bool]:
        """What the carried value may share (its own memory where it started with none known), or the last
        iteration's next value (made in that iteration: not an older object)."""
        return self.join(self.of(ir.Name(s.carried[k])), self.of(s.nexts[k]))

    def targets(self, s: ir.Loop) -> None:
        """An element of what the loop iterates: a part of it, or what it holds."""
        held = {r for n in ir.names_read(s.iter) for r in self.m.mem(n) | self.elements(n)}
        for t in s.targets:
            self.bind(t, (held, True))

    def transfer(self, s: ir.Stmt) -> None:
        if self.place(s) and isinstance(s, ir.Assign):
            for t in s.targets:
                self.defs[t] = (self.m.order[s.sid], self.loops)
        if isinstance(s, ir.Assign):
            self.assign(s)
            self.bound.update(s.targets)

    def branch(self, s: ir.If) -> None:
        """``if a is b``: ``b`` is read for its identity (see ``identity_test``); the outs are bound after it."""
        first = self.place(s)
        if first:
            self.identity_test(s)
        super().branch(s)
        if first:
            self.over(s.outs, self.loops)

    def arm(self, s: ir.If, k: int) -> None:
        """Arm ``k`` of ``s`` runs only where ``s``'s test is true (0) or false (1); its yields are read where
        it ends."""
        around = self.sides
        self.sides = (*around, (s.sid, k == 0))
        super().arm(s, k)
        self.yielded(s.outs, s.yields[k])
        self.sides = around

    def loop(self, s: ir.Loop) -> None:
        """The body is inside ``s`` (not in ``for i in range(1)``, where no iteration follows another)."""
        self.looped = True
        around, first = self.loops, self.place(s)
        self.loops = around if _runs_once(s) else (*around, s.sid)
        if first:
            for n in (*s.carried, *s.targets):  # re-bound at the start of each iteration
                self.defs[n] = (self.m.order[s.sid] + 0.5, self.loops)
        super().loop(s)
        self.loops = around
        if first:
            self.over(s.results, around)

    def place(self, s: ir.Stmt) -> bool:
        """Record where ``s`` is and the names it reads, if this round has not reached it yet (a loop's
        body is walked again until its carried values settle): whether it had not."""
        m = self.m
        if s.sid in m.order:
            return False
        m.order[s.sid], m.loops[s.sid], m.sides[s.sid] = len(m.order), self.loops, self.sides
        for e in ir.exprs(s) if not isinstance(s, ir.If) else [s.test]:  # (shapes survive a write)
            self.reads.extend((n, s) for n in value_reads(e, m))
        return True

    def flow(self, target: str, sources) -> None:
        self.m.points.setdefault(target, set()).update(sources)

    def elements(self, name: str) -> set[str]:
        return {e for r in self.m.mem(name) for e in self.m.held(r)}

    def put(self, container: str, held, s: ir.Stmt) -> None:
        """``s`` puts the memory ``held`` into the container memory ``container``."""
        self.m.contains.setdefault(container, set()).update(held)
        for h in held:
            self.m.placed.setdefault((container, h), set()).add(s.sid)

    def made(self, s: ir.Assign) -> None:
        """``s``'s targets are new objects each time it runs."""
        for t in s.targets:
            self.m.fresh[t] = self.m.loops[s.sid]

    def wrote(self, s: ir.Assign, bases) -> None:
        """``s`` writes into the memory of the names ``bases``."""
        if s.sid not in self.m.bases:  # (once: a loop's body is walked again)
            self.m.writes.append(s)
        self.m.bases[s.sid] = tuple(bases)

    def over(self, names: list[str], loops: tuple[int, ...]) -> None:
        """``names``, an if's outs or a loop's results, are bound where it is over. One may be the name an arm
        or the body bound already (and yields): a read of it inside reads that earlier binding (``reaching``)."""
        for n in names:
            if n in self.defs:
                self.earlier.setdefault(n, []).append(self.defs[n])
            self.defs[n] = (len(self.m.order) - 0.5, loops)

    def reaching(self, name: str, use_at: tuple) -> tuple:
        """The binding of ``name`` a read at ``use_at`` sees: the last one, or an earlier one the read
        comes before."""
        d = self.defs[name]
        if use_at[0] < d[0]:
            d = max((e for e in self.earlier.get(name, ()) if e[0] < use_at[0]), default=d)
        return d

    def part_of(self, target: str, *sources: ir.Expr) -> None:
        if any(isinstance(e, ir.Name) and e.id in self.parts for e in sources):
            self.parts.add(target)

    def mems(self, e: ir.Expr | None) -> set[str]:
        """The memory ``e`` may share; none yet for a name no round has reached (a loop's next value)."""
        bound = isinstance(e, ir.Name) and (e.id in self.bound or e.id in self.m.points or e.id in self.defs)
        return self.m.mem(e.id) if bound else set()

    def identity_test(self, s: ir.If) -> None:
        """``if a is b: ... else: ...`` (what the lowering writes for ``z`` after ``y op= v`` where ``z`` was
        ``y``'s object: ``if y_1 is z: z_1 = y_1 else: z_1 = z``): ``b`` is read by the test for its
        identity, and in the ``else`` branch where it is not ``a``."""
        if isinstance(s.test, ir.Name) and s.test.id in self.tests:
            a, b, test = self.tests[s.test.id]
            for use in [test, s.yields[1], *ir.walk(s.orelse)]:
                self.unlike[(b, _point(use))] = a

    def not_the_written(self, name: str, use, w: ir.Assign) -> bool:
        """Is ``use`` a read of ``name`` that sees only its identity, or runs only where ``name`` is not the
        object ``w`` wrote into (``name`` is a whole object, not a part of one, holding nothing written)?"""
        a = self.unlike.get((name, _point(use)))
        m = self.m
        return a is not None and a in w.targets and not {name, a} & self.parts \
            and not (m.reaches_at(name, w) - m.mem(name)) & m.hit(w)

    def yielded(self, outs: list[str], ys: list[ir.Expr]) -> None:
        """The values a branch yields are read where the branch ends (the list stands for that point), for
        the outs that reach the result (as an assignment's reads count only then)."""
        m = self.m
        if _point(ys) in m.order:
            return
        m.order[_point(ys)], m.loops[_point(ys)], m.sides[_point(ys)] = len(m.order), self.loops, self.sides
        self.reads.extend((n, ys) for o, y in zip(outs, ys) if o in self.an.useful for n in ir.names_read(y))

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
        p = self.an.prims.get(s.sid)
        kind = p.kind if p else None
        names = list(ir.names_read(v))
        self.note(s)
        if isinstance(v, ir.Subscript) and _advanced(v.index, self.advanced):
            self.made(s)
            return  # an array indexed with a list or a mask: a copy (a list or dict indexed so raises)
        if self.summary and writes_into_argument(v):  # np.copyto(a, b), a.fill(v), out=
            self.wrote(s, names)
            m.calls[s.sid] = (None, s.loc, None)
        if kind in (CONTAINER, CLOSURE) or (kind == CALL and p.rule.holds):  # (a record holds its fields)
            self.made(s)
            for t in s.targets:
                for n in names:
                    self.put(t, m.mem(n), s)
            return
        if kind == UNPACK and isinstance(v, ir.Name) and self.an.literals.get(v.id) is not None \
                and len(self.an.literals[v.id]) == len(s.targets):  # a tuple literal: item by item
            for t, item in zip(s.targets, self.an.literals[v.id]):
                if isinstance(item, ir.Name):
                    self.flow(t, m.mem(item.id))
                    self.part_of(t, item)
            return
        if kind == TRANSFORM:
            self.call(s, p, names)
            return
        viewed = _view_sources(p, v, self.an) if kind == CALL else None
        if kind == CALL and p.rule.returns and viewed is None:  # list(xs), d.values(): a new container
            self.made(s)
            for t in s.targets:  # holding what xs holds (or views of the array xs)
                for n in names:
                    self.put(t, self.elements(n) or m.mem(n), s)
            return
        if self.taken_out(s, p):
            return
        if kind == UNPACK or (kind == COPY and isinstance(v, ir.Name)):
            sources = names  # unpacking takes out elements
        elif viewed is not None:  # declared with the rule (x[i], x.T, np.reshape, ...)
            sources = viewed
        else:
            if kind in (CALL, NONDIFF):  # (a rule's result is a new array; a function's may be anything)
                self.made(s)
            return
        self.shares(s, sources, copy=kind == COPY)

    def shares(self, s: ir.Assign, sources: list[str], copy: bool) -> None:
        """``s``'s targets may share the memory of ``sources``: they are the same object (``copy``), or a view
        of one or what one holds (an item taken out of a container)."""
        m = self.m
        for t in s.targets:
            for n in sources:
                self.flow(t, m.mem(n) if copy else m.mem(n) | self.elements(n))
            if not copy or set(sources) & self.parts:
                self.parts.add(t)
            if sources:
                self.origin[t] = sources[0]

    def note(self, s: ir.Assign) -> None:
        """Record an identity test ``t = a is b``, and names holding index arrays or masks."""
        v = s.value
        if isinstance(v, ir.Compare) and v.op == "is" and isinstance(v.left, ir.Name) and isinstance(v.right, ir.Name):
            self.tests[s.target] = (v.left.id, v.right.id, s)
        if isinstance(v, (ir.List, ir.Compare)) or calls(v, _INDEX_ARRAYS) or (
                calls(v, (numpy.array, numpy.asarray)) and _advanced(v.args[0], self.advanced)):
            self.advanced.update(s.targets)  # (np.array of a list of indices or a mask, np.arange, ...)

    def taken_out(self, s: ir.Assign, p: Prim | None) -> bool:
        """Is ``s`` a number (it shares no memory), an item of a list, tuple or dict (what the container
        holds, not a view of it) or a dict's keys (a new list)? Recorded if so."""
        if all(t in self.an.numbers for t in s.targets):
            return True
        base = p.args[0].id if p is not None and p.kind == CALL and p.args and isinstance(p.args[0], ir.Name) else None
        if base is not None and p.rule.item and self.an.kinds.get(base) in ("list", "tuple", "seq", "dict"):
            for t in s.targets:
                self.flow(t, self.elements(base) or {t})
                self.parts.add(t)
            return True
        if base is not None and calls(s.value, (runtime.sequence,)) and self.an.kinds.get(base) == "dict":
            self.made(s)
            return True
        return False

    def call(self, s: ir.Assign, p, names: list[str]) -> None:
        """A call into user code: a write into the arguments it may change, a view of those it may return."""
        m, summary = self.m, call_effects(p, self.an)
        if summary is None:  # a function value: its writes are checked when it is called
            returned = names if self.calls_alias else []
            self.aliased |= self.calls_alias
        else:
            written, returned, m.calls[s.sid] = summary
            if written:
                self.wrote(s, written)
                m.lists.update(r for n in written for r in m.reaches(n))  # a list may change length
        for t in s.targets:
            for n in returned:
                self.flow(t, m.mem(n) | self.elements(n))
            if returned:
                self.parts.add(t)

    def write(self, s: ir.Assign, base: str) -> None:
        m, v = self.m, s.value
        self.wrote(s, [base])
        self.flow(s.targets[-1], m.mem(base))  # the new version is the same memory
        held: set[str] = set()
        if isinstance(v, ir.ListMethod):
            m.lists.update(m.mem(base))
            if v.method == "pop":  # the popped value was an element
                self.flow(s.targets[0], self.elements(base) or {s.targets[0]})
                self.parts.add(s.targets[0])
            for a in v.args:  # the list now holds what was appended (for extend: the items' elements)
                if isinstance(a, ir.Name) and v.method == "append":
                    held |= m.mem(a.id)
                elif isinstance(a, ir.Name) and v.method == "extend":
                    held |= self.elements(a.id) or m.mem(a.id)
        elif isinstance(v, ir.SetItem):
            if base in self.an.containers:  # (a dict may gain a key)
                m.lists.update(m.mem(base))
            if isinstance(v.value, ir.Name) and base in self.an.containers:
                held |= m.mem(v.value.id)  # a list or dict keeps a reference; an array store copies
        elif isinstance(v.args[1], ir.Name) and self.an.kinds.get(base) != "array":  # `xs += ys` on a list
            m.lists.update(m.mem(base))
            held |= self.elements(v.args[1].id)
        for r in m.mem(base):
            self.put(r, held, s)


_SHAPE_ONLY = {"unbroadcast": 1, "unreduce": 1, "zeros_like": 0, "shape": 0, "size": 0, "ndim": 0, "getitem_adjoint": 1}


def value_reads(e: ir.Expr, mutation: Mutation):
    """Names whose *values* ``e`` reads: not those it reads only for their shape (an in-place write keeps
    an array's shape; a list method changes a list's length)."""
    if isinstance(e, ir.Name):
        yield e.id
        return
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and e.func.path[-1] in _SHAPE_ONLY:
        k = _SHAPE_ONLY[e.func.path[-1]]
        for i, a in enumerate(e.args):
            if i == k and isinstance(a, ir.Name) and not mutation.structure_changes(a.id):
                continue
            yield from value_reads(a, mutation)
        return
    for c in ir.children(e):
        yield from value_reads(c, mutation)


def _runs_once(loop: ir.Loop) -> bool:
    """Is ``loop`` ``for ... in range(c)`` with constant bounds giving at most one iteration?"""
    it = loop.iter
    return loop.kind == "for" and calls(it, (range,)) and all(
        isinstance(a, ir.Const) and type(a.value) is int for a in it.args) and len(range(*(a.value for a in it.args))) <= 1


def _advanced(index: ir.Expr, advanced: set[str]) -> bool:
    """``index`` holds a list of integers or a mask (NumPy's advanced indexing, which copies)."""
    items = index.items if isinstance(index, ir.Tuple) else [index]
    return any(isinstance(i, ir.Name) and i.id in advanced for i in items)


def _view_sources(p: Prim, v: ir.Expr, analysis: Analysis) -> list[str] | None:
    """The names a call's result may share memory with, as its rule declares (``Rule.view``); None: a new
    value. Where the operands' concrete shapes tell it is one, the derivative serves those shapes only."""
    view = p.rule.view
    if view == "operands":
        return [a.id for a in p.args if isinstance(a, ir.Name)]
    if callable(view):
        told = []

        def shape(e: ir.Expr) -> tuple | None:
            told.append(d := analysis.dims.get(e.id) if isinstance(e, ir.Name) else None)
            return d

        if not view(p.args, p.kwargs, shape):
            analysis.shape_specific |= any(d is not None for d in told)
            return None
    return list(ir.names_read(_viewed(v))) if view else None


def _viewed(v: ir.Expr) -> ir.Expr:
    """The operand a view expression looks into (not its index or shape arguments)."""
    if isinstance(v, (ir.Subscript, ir.Attr)):
        return v.value
    if isinstance(v.func, ir.Attr):
        return v.func.value
    return v.args[0] if v.args else ir.Const(None)



@dataclass(frozen=True, slots=True)
class Effects:
    """What a call into a user function may do to the memory it is given: the parameters (and
    captured variables) it may write into, each with the line of a write, and those its result
    may be or hold."""

    writes: dict[str, ir.Loc | None]
    returns: frozenset[str]
    unread: Exception | None = None  # why its IR could not be made, where the writes are a guess from its bytecode


_EFFECTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # code object -> {library cells: Effects}
_PENDING: list[list] = []  # [code, approximation, tentative]: effects being found (recursion)


def effects(fn: types.FunctionType) -> Effects:
    """``fn``'s effects, from its lowered IR (a recursive call sees a least fixed point)."""
    code, library = fn.__code__, library_cells(fn)
    if library in _EFFECTS.get(code, {}):
        return _EFFECTS[code][library]
    for i, (c, approximation, _) in enumerate(_PENDING):
        if c is code:
            for frame in _PENDING[i + 1:]:
                frame[2] = True  # found with an approximation: not final, not cached
            return approximation
    frame = [code, Effects({}, frozenset()), False]
    _PENDING.append(frame)
    try:
        while True:
            found = _effects(fn)
            if (found.writes.keys(), found.returns) == (frame[1].writes.keys(), frame[1].returns):
                break
            frame[1] = found
    finally:
        _PENDING.pop()
    if not frame[2]:
        _EFFECTS.setdefault(code, {})[library] = found
    return found


def _effects(fn: types.FunctionType) -> Effects:
    code = fn.__code__
    captured = tuple(name for name, cell in zip(code.co_freevars, fn.__closure__ or ())
                     if not library_value(cell_contents(cell)))  # (a library callable is read now: see library_cells)
    try:
        lowered = lowered_ir(fn, captured, dynamic_cells=True)[2]
        analysis = analyze(lowered, [], set())
    except (S2SADSyntaxError, NoDerivativeRuleError, SourceUnavailableError, OSError) as e:
        return _from_bytecode(code, e)
    names = {n: n for n in lowered.params.names()} | {local: free for free, local in lowered.inputs.items()}
    m = _Points(analysis, list(names), calls_alias=True, summary=True).solve(lowered.body[:-1])[0]
    writes = {}
    for local, name in names.items():
        w = next((w for w in m.writes if m.hit(w) & m.reaches(local)), None)
        if w is not None:
            writes[name] = w.loc
    result = {r for n in ir.names_read(lowered.body[-1].value) for r in m.reaches(n)}
    return Effects(writes, frozenset(names[n] for n in names if n in result))


def _from_bytecode(code: types.CodeType, reason: Exception) -> Effects:
    """With no IR (``reason``): every parameter and captured variable, if the code writes anything or calls
    anything (none for s2sad's derivative code, which never writes into its inputs)."""
    if code.co_filename.startswith("<s2sad"):
        return Effects({}, frozenset())
    names = [*code.co_varnames[:code.co_argcount + code.co_kwonlyargcount
                                + bool(code.co_flags & inspect.CO_VARARGS)
                                + bool(code.co_flags & inspect.CO_VARKEYWORDS)], *code.co_freevars]
    writes = any(i.opname in ("STORE_SUBSCR", "DELETE_SUBSCR", "STORE_ATTR", "CALL", "CALL_FUNCTION_EX")
                 or (i.opname == "BINARY_OP" and i.argrepr.endswith("=")) for i in dis.get_instructions(code))
    return Effects(dict.fromkeys(names) if writes else {}, frozenset(names), reason if writes else None)


def call_effects(p: Prim, analysis: Analysis) -> tuple[list[str], list[str], tuple] | None:
    """For a call into user code: the names of the caller's it may write into, those its result may
    share, and (the function, the line of a write); None for a function known only when called."""
    fn, shift = p.callee, 0
    if fn is None:
        return None
    fn = plain(fn)
    if isinstance(fn, types.MethodType):  # a method of a global object: its receiver is no local memory
        fn, shift = fn.__func__, 1
    if not isinstance(fn, types.FunctionType):  # a rule the user registered for a callable with no source
        return [], [], (fn, None)
    e, code = effects(fn), fn.__code__
    named = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    rest = code.co_varnames[len(named):len(named) + 2]  # *args, **kwargs (where present)
    star = rest[0] if code.co_flags & inspect.CO_VARARGS else None
    stars = rest[bool(star)] if code.co_flags & inspect.CO_VARKEYWORDS else None
    bound = [(named[i + shift] if i + shift < code.co_argcount else star, a) for i, a in enumerate(p.args)]
    bound += [(k if k in named else stars, v) for k, v in p.kwargs.items()]
    bound += [(None, a) for a in p.starred]  # any parameter
    written = [n for param, a in bound if param in e.writes or (param is None and e.writes)
               for n in ir.names_read(a) if n not in analysis.numbers]
    returned = [n for param, a in bound if param in e.returns or (param is None and e.returns)
                for n in ir.names_read(a)]
    loc = next((e.writes[param] for param, a in bound if param in e.writes), None)
    return written, returned, (fn, loc, e.unread)
