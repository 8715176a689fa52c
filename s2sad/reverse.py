"""Reverse mode: a flat SSA function -> its vjp, a forward pass plus a nested pullback.

Expects ``simplify``'s output. Produces ``f_vjp(*params) -> (out, f_pullback)``
where ``f_pullback(out_bar)`` returns one cotangent per differentiated parameter.

* The forward pass is the user's statements. The pullback reads forward values
  through the closure, so straight-line code and branches save nothing extra.
* Each active statement's adjoint is inlined from its rule's template.
* Cotangents: the first contribution assigns (or aliases), later ones add, never
  in place; a value that never receives one is a symbolic zero and its adjoint
  is skipped, and so is an entry of a tuple, list or dict literal that no read
  with a constant key brought one back to (in straight-line code). Zeros are materialised only where control flow joins (a branch or
  loop iteration that contributed nothing) and for parameters left without one.
* ``if``: the pullback branches on the same test; where the branches leave a
  cotangent in different variables, each assigns one common name.
* Loops: each iteration appends what its adjoint reads and the iteration itself
  defines (carried values at iteration start, the loop target, temporaries) to a
  list, the loop's *tape* (of an array the adjoint only measures, a stand-in of its
  shape and dtype, ``shape_like``); values a nested branch defines are exported through
  that branch's outs first. The pullback replays ``for ... in reversed(tape)``,
  so it can be called more than once. Loop-invariant values are read through the
  closure, never saved. Cotangents of carried values and of outer values that the
  body reads live in one variable each across iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ir, runtime
from .activity import Analysis, analyze
from .callee_facts import callee_result
from .classify import CALL, CLOSURE, CONTAINER, COPY, DERIVE, LISTOP, SETITEM, TRANSFORM, UNPACK
from .complexity import real_cotangent
from .custom import Checkpointed
from .errors import NoDerivativeRuleError, S2SADSyntaxError
from .linker import VJP, CheckpointHandle, RRuleHandle
from .modes import check_rules, helper, packed_keywords, zeros
from .mutation import Mutation, analyzed, value_reads
from .naming import Namer
from .resolve import call_target
from .rules import Sym, custom_rule, lookup
from .simplify import name_shared
from .statics import Items

__all__ = ["Pullback", "reverse"]


@dataclass(slots=True)
class Pullback:
    """Reverse mode's pieces: the vjp, and what ``fuse`` makes the fused gradient of (the forward
    statements, the seed, the pullback's statements and the cotangents returned)."""

    vjp: ir.Function
    primal: ir.Function  # the function differentiated (its forward pass with tapes)
    forward: list[ir.Stmt]
    out: ir.Expr  # the value returned
    seed: str  # the name of the cotangent of ``out``
    pullback: list[ir.Stmt]
    grads: list[ir.Expr]  # one cotangent per differentiated parameter
    analysis: Analysis
    bars: dict[str, str]  # name -> its cotangent variable, the same on every path


def _container_call(e: ir.Expr) -> bool:
    """``e`` calls a rule whose result may be a tuple or list (``array_adjoint``, ``getitem_adjoint``), or
    gives a function value's cotangent (a dict over what it captured)."""
    if not (isinstance(e, ir.Call) and isinstance(e.func, ir.Ref)):
        return False
    rule = lookup(e.func.value)
    return (rule is not None and rule.container) or e.func.value is runtime.captures_adjoint


def reverse(fn: ir.Function, namer: Namer, wrt: list[str], scalar_params: set[str],
            tree_params: set[str] = frozenset(), dims: dict[str, tuple[int, ...]] | None = None,
            typed: bool = False, facts: dict[str, object] | None = None,
            spread: dict[str, list[tuple[object, str]]] | None = None,
            captured: tuple[str, ...] | None = None, split: list[tuple[str, object]] | None = None,
            any_kind: bool = False) -> Pullback:
    """Build the vjp of ``fn`` with respect to the parameters ``wrt`` (``tree_params`` hold pytrees;
    ``dims``: array parameters' shapes the result may assume, see ``Analysis.shape_specific``, and
    ``facts`` what the pytree parameters hold). ``typed``: made for the argument types (``scalar_params``,
    ``tree_params``), so a call whose arguments' types are known calls a vjp made for them. ``spread``: the
    pytree parameters read only once per key, at the entry (``entries``), and those reads: such a
    parameter's cotangent is the literal of its entries' ones. ``captured``: the closure variables that end
    ``wrt``, whose cotangents the pullback gives as a dict. ``split``: per argument, the parameter it binds to
    and its index in ``*args`` or key in ``**kwargs`` (or None): the pullback gives one cotangent per argument.
    ``any_kind``: made for arguments of any type (see ``activity.analyze``)."""
    fn = ir.Function(fn.name, fn.params, ir.clone(fn.body), fn.loc, fn.ssa, fn.flat, fn.doc, fn.temps, fn.inputs)
    # (a copy: the forward pass gains tapes; the caller's IR stays as lowered)
    def analysis_checked() -> Analysis:
        found = analyze(fn, wrt, scalar_params, tree_params, dims, typed, facts, callee_result if typed else None,
                        any_kind)
        check_rules(fn.body[:-1], found, fn.body[-1].value)
        return found

    analysis, mutation = analyzed(fn, analysis_checked)  # (the return reads too)
    ret = fn.body[-1]
    assert isinstance(ret, ir.Return), "lower guarantees a final return"
    forward = fn.body[:-1]

    out = ret.value
    returns_active = isinstance(out, ir.Name) and out.id in analysis.active
    seed = namer.fresh(f"{out.id}_bar" if returns_active else "out_bar")
    adj = _Adjoint(analysis, namer, mutation)
    spread = spread or {}
    adj.deferred = {name for reads in spread.values() for _, name in reads}  # (their adjoint: the literal below)
    for stmt in ir.walk(forward):  # name the pullbacks of calls in the order the calls are made
        p = analysis.prims.get(stmt.sid)
        if p is not None and p.kind == TRANSFORM and any(t in analysis.active for t in stmt.targets):
            base = _name(p.callee) if p.callee is not None else ir.expr_str(p.func).split(".")[-1]
            adj.pullback_names[stmt.sid] = namer.fresh(f"{base}_pullback")
    if returns_active:
        adj.bars[out.id] = ir.Name(seed)
    adj.block(forward)
    fn.temps = fn.temps | adj.temps
    grads = [_entries_bar(p, spread[p], facts[p], adj) if p in spread and facts else adj.bars.get(p)
             or zeros(p, analysis.scalars) for p in wrt]
    n = len(grads) - len(captured or ())
    given = grads[:n] if split is None else [_entry(dict(zip(wrt, grads))[name], key) for name, key in split]
    if captured is not None:
        given.append(ir.Dict([ir.Const(c) for c in captured], grads[n:]))
    pullback = ir.Function(
        namer.fresh(f"{fn.name}_pullback"), ir.Params(args=[seed]),
        [*adj.out, ir.Return(ir.Tuple(given))], ret.loc, ssa=False, flat=False,
    )
    vjp = ir.Function(
        namer.fresh(f"{fn.name}_vjp"), fn.params,
        [*forward, pullback, ir.Return(ir.Tuple([out, ir.Name(pullback.name)]), ret.loc)],
        fn.loc, ssa=True, flat=False,
    )
    return Pullback(vjp, fn, forward, out, seed, adj.out, grads, analysis, adj.canonical)


def _entry(bar: ir.Expr, key: object) -> ir.Expr:
    """The cotangent of an argument that filled the entry ``key`` of ``*args`` or ``**kwargs`` (None: a named
    parameter, whose cotangent is ``bar``)."""
    return bar if key is None else ir.Subscript(bar, ir.Const(key))


def _entries_bar(param: str, reads: list[tuple[object, str]], items: Items, adj: _Adjoint) -> ir.Expr:
    """The cotangent of a pytree parameter read once per key at the entry: the literal of its entries'
    cotangents (zeros for an entry not read, or that received none)."""
    names = dict(reads)
    values = []
    for key, fact in zip(items.keys, items.facts):
        name = names.get(key)
        bar = adj.bars.get(name) if name is not None else None
        entry = ir.Name(name) if name is not None else ir.Subscript(ir.Name(param), ir.Const(key))
        if bar is None:
            bar = ir.Const(0.0) if name in adj.an.scalars else ir.Call(helper("zeros_like"), [entry])
        elif _may_hold_dict(fact):  # (a dict's cotangent may lack entries: a function value's has one only
            # where it was called (``captured_adjoint``); a reader of a dict literal's cotangent reads every key)
            bar = ir.Call(helper("add_bars"), [ir.Call(helper("zeros_like"), [entry]), bar])
        values.append(bar)
    if items.kind == "dict":
        return ir.Dict([ir.Const(k) for k in items.keys], values)
    return ir.List(values) if items.kind == "list" else ir.Tuple(values)


def _may_hold_dict(fact: object) -> bool:
    """A value of this fact may be or hold a dict (None: a record, not known)."""
    if isinstance(fact, Items):
        return fact.kind == "dict" or any(map(_may_hold_dict, fact.facts))
    return fact is None


def _check_covered(p, contributions, active: set[str], loc: ir.Loc | None) -> None:
    """The invariant the analysis keeps (``activity.check_uses``): an operand carrying a derivative is one
    its rule differentiates (``diff``: a None there is the rule's exact zero, as ``sign`` gives the 1-norm's
    second derivative) or declares of derivative exactly zero (``zero``), and the rule gives an entry for
    every operand. Anything else is a bug of s2sad's, stopped here rather than taken for a zero."""
    contributions = list(contributions)
    diff = range(len(p.args)) if p.rule.diff is None else p.rule.diff
    if p.rule.item:  # an index or key carries no gradient wherever indexing succeeds (``check_uses``)
        diff = [*diff, 1]
    for i, arg in enumerate(p.args):
        if isinstance(arg, ir.Name) and arg.id in active and i not in p.rule.zero and (
                i >= len(contributions) or (contributions[i] is None and i not in diff)):
            where = f" at {loc.file}:{loc.line}" if loc is not None else ""
            raise AssertionError(f"s2sad internal error: the rule for {p.rule.name} gives no cotangent to its "
                                 f"argument {i} ({arg.id!r}), which carries a derivative{where}; please report it")


def _name(fn: object) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def _reads(stmts: list[ir.Stmt]) -> list[str]:
    """Names read anywhere in ``stmts`` (nested regions included), in order."""
    return list(dict.fromkeys(n for s in ir.walk(stmts) for n in ir.used(s)))


def _export(stmts: list[ir.Stmt], names: set[str]) -> None:
    """Make ``names`` bound inside branches of ``stmts``' ifs visible after them (None elsewhere)."""
    for s in stmts:
        if not isinstance(s, ir.If):
            continue
        _export(s.body, names)
        _export(s.orelse, names)
        then, orelse = ir.bound_in(s.body, into_loops=False), ir.bound_in(s.orelse, into_loops=False)
        for name in sorted(names & (then | orelse) - set(s.outs)):
            s.outs.append(name)
            s.yields[0].append(ir.Name(name) if name in then else ir.Const(None))
            s.yields[1].append(ir.Name(name) if name in orelse else ir.Const(None))


class _Adjoint:
    """Builds the pullback, statement by statement, in reverse order."""

    def __init__(self, analysis: Analysis, namer: Namer, mutation: Mutation) -> None:
        self.an = analysis
        self.namer = namer
        self.mutation = mutation
        self.bars: dict[str, ir.Expr] = {}  # name -> its cotangent now (a Name)
        self.owned: dict[str, str] = {}  # name -> the variable this path assigned its cotangent to
        self.canonical: dict[str, str] = {}  # name -> its cotangent variable, the same on every path
        self.pullback_names: dict[int, str] = {}  # sid of a call statement -> its pullback's name
        self.buffers: set[str] = set()  # cotangent variables holding fresh zeros nobody else references
        self.tuple_like: set[str] = set()  # names given a cotangent that may be a tuple (``array_adjoint(g, p)``)
        # cotangent variable -> the constant keys of the only entries that may be nonzero, in straight-line code
        self.reached: dict[str, frozenset] = {}
        self.out: list[ir.Stmt] = []  # the pullback block being written
        self.loc: ir.Loc | None = None
        self.temps: set[str] = set()  # names given to what a rule's contributions share (``name_shared``)
        self.later: set[str] = set()  # names the forward statements after the one differentiated now bind
        self.deferred: set[str] = set()  # entries of pytree parameters read at the entry: no adjoint here
        self.stand_ins: set[str] = set()  # names of what ``shape_like`` gave, for reads of a shape only

    # ----- helpers -----

    def emit(self, target: str, value: ir.Expr) -> None:
        self.out.append(ir.Assign(target, value, self.loc))

    def variable(self, name: str) -> str:
        """The variable that holds ``name``'s cotangent: one name on every path, so joins need no copies."""
        if name not in self.canonical:
            self.canonical[name] = self.namer.fresh(f"{name}_bar")
        self.owned[name] = self.canonical[name]
        return self.owned[name]

    def add(self, target: ir.Expr, contribution: ir.Expr) -> None:
        """Accumulate ``contribution`` into ``target``'s cotangent (if ``target`` is active)."""
        if not isinstance(target, ir.Name) or target.id not in self.an.active:
            return
        name = target.id
        current = self.bars.get(name)
        if _container_call(contribution):
            self.tuple_like.add(name)
        if current is None and isinstance(contribution, ir.Name) and name not in self.owned:
            self.bars[name] = contribution  # alias: no copy for a plain hand-through
            return
        if current is None:
            value = contribution
        elif (isinstance(current, ir.Name) and current.id in self.buffers and isinstance(contribution, ir.Call)
              and isinstance(contribution.func, ir.Ref) and contribution.func.path == ("getitem_adjoint",)):
            # an element read in a loop: add into the buffer in place, not a dense zeros-and-add
            g, _, index = contribution.args
            value = ir.Call(helper("add_at"), [current, g, index])
        elif name in self.an.containers or name in self.tuple_like or self.an.kinds.get(name) not in ("array", "int"):
            # `+` would join lists and tuples: a cotangent that may be one is added entry by entry
            value = ir.Call(helper("add_bars"), [current, contribution])
        elif isinstance(contribution, ir.UnaryOp) and contribution.op == "-":
            value = ir.BinOp("-", current, contribution.operand)
        else:
            value = ir.BinOp("+", current, contribution)
        bar = self.owned.get(name) or self.variable(name)
        if current != ir.Name(bar):  # (added into itself, a buffer stays one: the sum is fresh, or in place)
            self.buffers.discard(bar)
        reached = self.entries_reached(current, contribution)
        self.emit(bar, value)
        self.bars[name] = ir.Name(bar)
        if reached is None:
            self.reached.pop(bar, None)
        else:
            self.reached[bar] = reached

    def entries_reached(self, current: ir.Expr | None, contribution: ir.Expr) -> frozenset | None:
        """The constant keys of the entries a container's cotangent may hold nonzero after adding
        ``contribution`` to ``current``; None when any entry may."""
        if not (isinstance(contribution, ir.Call) and isinstance(contribution.func, ir.Ref)
                and contribution.func.path == ("getitem_adjoint",)):
            return None
        key = contribution.args[2]
        if not (isinstance(key, ir.Const) and type(key.value) in (int, str)):
            return None
        if current is None:
            return frozenset([key.value])
        before = self.reached.get(current.id) if isinstance(current, ir.Name) else None
        return None if before is None else before | {key.value}

    def entry_reached(self, g: ir.Expr, key: object, size: int) -> bool:
        """May the entry at ``key`` (of a literal with ``size`` entries) of cotangent ``g`` be nonzero?"""
        reached = self.reached.get(g.id) if isinstance(g, ir.Name) else None
        if reached is None:
            return True
        return any(k == key or (type(k) is int and type(key) is int and k % max(size, 1) == key) for k in reached)

    def settle(self, name: str, var: str, value: ir.Expr | None, block: list[ir.Stmt]) -> None:
        """At a join, make variable ``var`` hold ``name``'s cotangent ``value`` (zero if None)."""
        value = value if value is not None else zeros(name, self.an.scalars)
        if value != ir.Name(var):
            block.append(ir.Assign(var, value, self.loc))
            if not isinstance(value, ir.Call):
                self.buffers.discard(var)  # now it may share an object with another cotangent

    # ----- statements -----

    def block(self, stmts: list[ir.Stmt]) -> None:
        self.reached.clear()  # what entries a cotangent reached is known within straight-line code only
        for i in range(len(stmts) - 1, -1, -1):
            stmt = stmts[i]
            self.later.update(ir.bound(stmt, region=False))  # (read by the pullback, a name bound later is as it ends)
            if isinstance(stmt, ir.Assign):
                before, after = self.assign(stmt)
                stmts[i + 1:i + 1] = after  # snapshots go right after the statement
                stmts[i:i] = before  # or before it, of what it changes in place itself
            elif isinstance(stmt, ir.If):
                stmts[i:i] = self.if_(stmt)  # (what its joins' zeros measure, taken where the if starts)
                self.reached.clear()
            elif isinstance(stmt, ir.Loop):
                stmts[i:i] = self.loop(stmt)  # (its tape, and what its zeros measure, taken where it starts)
                self.reached.clear()

    def assign(self, stmt: ir.Assign) -> tuple[list[ir.Stmt], list[ir.Stmt]]:
        """The adjoint of one assignment; returns snapshots to insert before and after it in the forward pass."""
        if not any(t in self.an.active for t in stmt.targets) or stmt.target in self.deferred:
            return [], []
        self.loc = stmt.loc
        p = self.an.prims[stmt.sid]
        if p.kind == LISTOP and stmt.value.method == "pop":
            self.list_pop(stmt)
            return [], []
        if p.kind == UNPACK:
            parts = [self.bars.get(t) for t in stmt.targets]
            if all(g is None for g in parts):
                return [], []
            parts = [g or zeros(t, self.an.scalars) for g, t in zip(parts, stmt.targets)]
            items = self.an.parts.get(stmt.value.id) if isinstance(stmt.value, ir.Name) else None
            if items is not None and items.kind in ("tuple", "list") and len(items.keys) == len(parts):
                self.add(stmt.value, ir.Tuple(parts) if items.kind == "tuple" else ir.List(parts))  # (known)
            else:
                self.add(stmt.value, ir.Call(helper("tuple_adjoint"), [stmt.value, *parts]))
            return [], []
        g = self.bars.get(stmt.target)
        if g is None:
            return [], []  # symbolic zero: nothing flows back
        mark = len(self.out)
        if p.kind == COPY:
            self.add(p.args[0], g)
        elif p.kind == CONTAINER:
            keys = stmt.value.keys if isinstance(stmt.value, ir.Dict) else [ir.Const(i) for i in range(len(p.args))]
            for item, key in zip(p.args, keys):  # an entry nothing read back gets a symbolic zero
                if not isinstance(key, ir.Const) or self.entry_reached(g, key.value, len(p.args)):
                    self.add(item, ir.Subscript(g, key))
        elif p.kind == CLOSURE:  # a function value's cotangent is a dict over what it captured
            for item, name in zip(p.args, stmt.value.names):  # (no entry: it was not called)
                self.add(item, ir.Call(helper("captured_adjoint"), [g, ir.Const(name), item]))
        elif p.kind == DERIVE:  # its cotangent covers what the function it derives captured
            self.add(p.args[0], ir.Call(helper("captures_adjoint"), [g, p.args[0]]))
        elif p.kind == TRANSFORM:
            self.call(stmt, p, g)
        elif p.kind == SETITEM:
            taken = self.setitem(stmt, p, g)
            before, after = self.snapshots(stmt, mark)
            return taken + before, after
        elif p.kind == LISTOP:
            self.list_method(stmt, p, g)
        elif p.kind == CALL:
            self.rule(stmt, p, g)
        return self.snapshots(stmt, mark)

    def setitem(self, stmt: ir.Assign, p, g: ir.Expr) -> list[ir.Stmt]:
        """``x[index] = v``: the old entries were overwritten, v got what reached them. A list or dict holds v
        as it is (an array broadcasts it), and its entry may change shape or kind: the zero left there is one
        of what it held, taken before the write (``overwritten_like``; the statement returned, to insert before it)."""
        x, v, index = p.args[0], p.args[1], p.kwargs["index"]
        was = self.namer.fresh(f"{x.id}_was") if x.id in self.an.containers else None  # (an array keeps its shape)
        read = [g, index, *([ir.Name(was)] if was is not None else [])]
        self.add(x, ir.Call(helper("setitem_adjoint"), [*read]))
        v_bar = ir.Call(helper("setitem_value_adjoint"), [*read])
        if was is None or self.an.kinds.get(x.id) not in ("list", "dict"):  # (perhaps an array: v is broadcast)
            v_bar = ir.Call(helper("unbroadcast"), [v_bar, v])
        self.add(v, real_cotangent(self.an, v, stmt.target, v_bar))
        return [] if was is None else [ir.Assign(was, ir.Call(helper("overwritten_like"), [x, index]), stmt.loc)]

    def rule(self, stmt: ir.Assign, p, g: ir.Expr) -> None:
        """A primitive: its rule's reverse template, run on the operands as Syms, inlined."""
        args = [self.an.sym(a) for a in p.args]
        kwargs = {k: self.an.sym(v) for k, v in p.kwargs.items()}
        ans = self.an.sym(ir.Name(stmt.target))
        try:
            contributions = p.rule.reverse(Sym(g, ans.scalar, ans.shape), ans, *args, **kwargs)  # g has ans's shape
        except (TypeError, NotImplementedError) as e:
            raise NoDerivativeRuleError(
                f"s2sad's rule for {p.rule.name} does not support this call, at "
                f"{self.loc.file}:{self.loc.line}:\n    {self.loc.text}\n({e})") from None
        _check_covered(p, contributions, self.an.active, self.loc)
        parts = [(arg, real_cotangent(self.an, arg, stmt.target, c.expr)) for arg, c in zip(p.args, contributions)
                 if c is not None and isinstance(arg, ir.Name) and arg.id in self.an.active]
        defs, exprs = name_shared([e for _, e in parts], self.namer.fresh)  # (odeint_vjp(...)[0], [1]: one call)
        for name, value in defs:
            self.emit(name, value)
            self.temps.add(name)
        for (arg, _), e in zip(parts, exprs):
            self.add(arg, e)

    def list_method(self, stmt: ir.Assign, p, g: ir.Expr) -> None:
        """``xs.append(v)``, ``xs.extend(ys)``: the cotangent's last entries go to what was added."""
        lst, args = p.args[0], p.args[1:]
        if stmt.value.method == "append":
            self.add(lst, ir.Subscript(g, ir.Slice(None, ir.Const(-1), None)))
            self.add(args[0], ir.Subscript(g, ir.Const(-1)))
        else:  # extend
            rest = ir.BinOp("-", ir.Call(helper("len"), [g]), ir.Call(helper("len"), [args[0]]))
            self.add(lst, ir.Subscript(g, ir.Slice(None, rest, None)))
            self.add(args[0], ir.Call(helper("list_tail_adjoint"), [g, args[0]]))

    def snapshots(self, stmt: ir.Assign, mark: int) -> tuple[list[ir.Stmt], list[ir.Stmt]]:
        """Make the adjoint just written read copies of values a later write would change, and stand-ins
        (``shape_like``) of those it only measures: taken after ``stmt``, or before it where ``stmt`` itself
        changes them (``y *= v`` reads the old ``y``). So the pullback never reads memory written after
        the point it reads it for, and the derivative can be differentiated again."""
        m, written = self.mutation, self.out[mark:]
        values = dict.fromkeys(n for s in written for n in value_reads(s.value, m))
        measured = dict.fromkeys(n for s in written for n in ir.names_read(s.value) if n not in values)
        reads = {n: "snapshot" for n in values} | {n: "shape_like" for n in measured}
        reads = {n: how for n, how in reads.items() if m.written(n) and n not in self.later - set(stmt.targets)}
        # (a write changes no shape: a stand-in is taken after the statement, where what it measures is bound)
        before = [n for n in reads if reads[n] == "snapshot" and n not in stmt.targets and m.changed_by(n, stmt)]
        after = [n for n in reads if n not in before and (m.changes_after(n, stmt) or (
            reads[n] == "shape_like" and n not in stmt.targets and m.changed_by(n, stmt)))]
        copies = {n: self.namer.fresh(f"{n}_saved" if reads[n] == "snapshot" else f"{n}_like") for n in [*before, *after]}
        self.stand_ins.update(c for n, c in copies.items() if reads[n] == "shape_like")
        for s in written:
            s.value = ir.substitute(s.value, {n: ir.Name(c) for n, c in copies.items()})
        return tuple([ir.Assign(copies[n], ir.Call(helper(reads[n]), [ir.Name(n)]), stmt.loc) for n in names]
                     for names in (before, after))

    def list_pop(self, stmt: ir.Assign) -> None:
        """``v = xs.pop(i)``: v's cotangent goes back into the list's at i."""
        popped, after = stmt.targets
        g, gv = self.bars.get(after), self.bars.get(popped)
        if g is None and gv is None:
            return
        args = [g or zeros(after, self.an.scalars), gv or ir.Const(None), ir.Name(popped), *stmt.value.args]
        self.add(stmt.value.base, ir.Call(helper("list_pop_adjoint"), args))

    def call(self, stmt: ir.Assign, p, g: ir.Expr) -> None:
        """A call into user code: the forward pass calls its vjp, the pullback its pullback.

        ``z = g(a, b)`` becomes ``z, g_pullback = g_vjp(a, b)`` in the forward pass
        and ``a_bar, b_bar = g_pullback(z_bar)`` in the pullback. A callee known
        only at run time goes through ``vjp_of``.
        """
        active = self.an.active
        if any(isinstance(a, ir.Name) and a.id in active for a in p.starred):
            self.star_call(stmt, p, g)
            return
        positions = [i for i, a in enumerate(p.args) if isinstance(a, ir.Name) and a.id in active]
        keywords = [k for k, v in p.kwargs.items() if isinstance(v, ir.Name) and v.id in active]
        operands = [p.args[i] for i in positions] + [p.kwargs[k] for k in keywords]
        captures = isinstance(p.func, ir.Name) and p.func.id in active
        if captures:
            operands.append(p.func)
        if not operands:
            return
        func, receiver, slots = self.callee_vjp(stmt, p, positions, keywords, captures)
        if any(key is not None for _, key in slots):
            self.packed_call(stmt, g, func, receiver, slots, operands)
            return
        pullback = self.pullback_names[stmt.sid]
        stmt.target = (stmt.target, pullback)
        stmt.value = ir.Call(func, [*receiver, *stmt.value.args], stmt.value.kwargs)
        targets, later, seen = [], [], set()
        for operand in operands:
            name = operand.id
            if name not in self.bars and name not in self.owned and name not in seen:
                seen.add(name)
                targets.append(self.variable(name))  # the first contribution: unpack straight into it
                self.bars[name] = ir.Name(targets[-1])
            else:
                part = self.namer.fresh(f"{name}_bar_part")
                targets.append(part)
                later.append((operand, part))
        self.emit(tuple(targets), ir.Call(ir.Name(pullback), [g]))
        for operand, part in later:
            self.add(operand, ir.Name(part))

    def star_call(self, stmt: ir.Assign, p, g: ir.Expr) -> None:
        """``z = f(a, *xs, k=v, **kw)`` where a value passed with ``*`` or ``**`` carries a derivative:
        ``star_vjp`` binds the arguments when it runs, and the pullback gives one cotangent per argument
        (a tuple, a dict), split back into the operands (``split_star``, ``split_kwargs``), then that of
        what a function value that carries a derivative captured."""
        call = stmt.value
        pullback = self.pullback_names[stmt.sid]
        packed = [ir.Tuple(list(call.args)), packed_keywords(call.kwargs, [v for _, v in call.kwargs])]
        stmt.target = (stmt.target, pullback)
        func = call.func if p.callee is None else ir.Ref((f"{_name(p.callee)}",), p.callee, helper=True)
        captures = isinstance(func, ir.Name) and func.id in self.an.active  # (its captures' cotangents, last)
        stmt.value = ir.Call(helper("star_vjp"), [func, *packed, *([ir.Const(True)] if captures else [])])
        args_bar, kwargs_bar = self.namer.fresh("args_bar"), self.namer.fresh("kwargs_bar")
        func_bar = (self.namer.fresh(f"{func.id}_bar_part"),) if captures else ()
        self.emit((args_bar, kwargs_bar, *func_bar), ir.Call(ir.Name(pullback), [g]))
        if captures:
            self.add(func, ir.Name(func_bar[0]))
        # (operand, what split_star/split_kwargs is told of it: None or the sequence; the keyword or the mapping)
        positional = [(a.value, a.value) if isinstance(a, ir.Starred) else (a, ir.Const(None)) for a in call.args]
        keywords = [(v, v if k is None else ir.Const(k)) for k, v in call.kwargs]
        for bar, parts, split in ((args_bar, positional, "split_star"), (kwargs_bar, keywords, "split_kwargs")):
            if not any(isinstance(o, ir.Name) and o.id in self.an.active for o, _ in parts):
                continue
            names = tuple(self.namer.fresh("part_bar") for _ in parts)
            self.emit(names, ir.Call(helper(split), [ir.Name(bar), ir.Tuple([like for _, like in parts])]))
            for (operand, _), name in zip(parts, names):
                self.add(operand, ir.Name(name))

    def packed_call(self, stmt: ir.Assign, g: ir.Expr, func: ir.Expr, receiver: list[ir.Expr], slots: list,
                    operands: list[ir.Expr]) -> None:
        """A call whose differentiated arguments bind to the callee's ``*args`` or ``**kwargs``: its pullback
        gives that parameter's cotangent (a tuple, a dict), and each argument's is the entry it filled."""
        pullback = self.pullback_names[stmt.sid]
        stmt.target = (stmt.target, pullback)
        stmt.value = ir.Call(func, [*receiver, *stmt.value.args], stmt.value.kwargs)
        parts = {name: self.namer.fresh(f"{name}_bar_part") for name, _ in slots}
        self.emit(tuple(parts.values()), ir.Call(ir.Name(pullback), [g]))
        for operand, (name, key) in zip(operands, slots):
            self.add(operand, ir.Name(parts[name]) if key is None else ir.Subscript(ir.Name(parts[name]), ir.Const(key)))

    def callee_vjp(self, stmt: ir.Assign, p, positions: list[int], keywords: list[str], captures: bool
                   ) -> tuple[ir.Expr, list[ir.Expr], list[tuple[str, object]]]:
        """What the forward pass calls instead of the callee, the receiver it passes first and where each
        differentiated argument binds (``resolve.bind_slots``; none but for a call into user code): the
        user's rrule, a checkpoint's handle, a handle to the callee's vjp, or ``vjp_of`` for a callee known
        only at run time."""
        fn = p.callee
        if fn is not None and custom_rule(fn) is not None:  # the user's rrule, called as it is
            if keywords:
                raise S2SADSyntaxError("a value carrying a gradient is passed by keyword to a function with "
                                       "a custom rule; pass it positionally", self.loc)
            return ir.Ref((f"{_name(fn)}_rrule",), RRuleHandle(custom_rule(fn), tuple(positions)), helper=True), [], []
        if fn is not None:  # known now: bind a handle to its vjp
            target, receiver, wrt, slots = call_target(fn, p.func, positions, keywords, self.loc)
            checkpointed = isinstance(fn, Checkpointed)
            if checkpointed and any(key is not None for _, key in slots):
                raise S2SADSyntaxError(f"a differentiated argument of the checkpointed {target.__qualname__} binds "
                                       "to *args or **kwargs; pass it to a named parameter", self.loc)
            if checkpointed:
                handle = CheckpointHandle(target, wrt)
            else:
                handle = VJP.of(target, wrt).call
                signature = self.an.calls.get(stmt.sid)
                if signature is not None and not receiver:  # made for what is passed, now
                    handle = handle.__self__.specialised(signature) or handle
            return ir.Ref((f"{target.__name__}_vjp",), handle, helper=True), receiver, slots
        spec = [p.func, ir.Const(tuple(positions)), ir.Const(tuple(keywords)), ir.Const(captures)]
        return ir.Call(helper("vjp_of"), spec), [], []

    def if_(self, stmt: ir.If) -> list[ir.Stmt]:
        """The adjoint of an ``if``; returns the stand-ins its joins' zeros read, to take before it."""
        self.loc = stmt.loc
        bars0, owned0, out0, buffers0 = dict(self.bars), dict(self.owned), self.out, set(self.buffers)
        branches, buffers = [], []
        for body, yields in ((stmt.body, stmt.yields[0]), (stmt.orelse, stmt.yields[1])):
            self.bars, self.owned, self.out, self.buffers = dict(bars0), dict(owned0), [], set(buffers0)
            for name, y in zip(stmt.outs, yields):
                self.bars.pop(name, None)
                self.owned.pop(name, None)
                if name in bars0:
                    self.add(y, bars0[name])
            self.block(body)
            branches.append((self.out, self.bars, self.owned))
            buffers.append(self.buffers)
        self.bars, self.owned, self.out = bars0, owned0, out0
        self.buffers = buffers[0] & buffers[1]  # a buffer after the if only where both branches leave one
        self.loc = stmt.loc
        local = ir.bound_in(stmt.body) | ir.bound_in(stmt.orelse) | set(stmt.outs)
        taken: list[ir.Stmt] = []
        (then, then_bars, then_owned), (orelse, else_bars, else_owned) = branches
        for name in dict.fromkeys([*then_bars, *else_bars]):
            a, b = then_bars.get(name), else_bars.get(name)
            if name in local or a == b:
                if name not in local and a is not None:
                    self.bars[name] = a
                    if name in then_owned and then_owned.get(name) == else_owned.get(name):
                        self.owned[name] = then_owned[name]
                continue
            var = self.variable(name)
            zero = self.zero_at(name, stmt, taken) if a is None or b is None else None
            self.settle(name, var, a if a is not None else zero, then)
            self.settle(name, var, b if b is not None else zero, orelse)
            self.bars[name], self.owned[name] = ir.Name(var), var
        if stmt.kind == "with":  # always taken: its pullback runs outside the context manager
            self.out += then
        elif then or orelse:  # a `try` records whether its body completed
            test = ir.Name(stmt.outs[0]) if stmt.kind == "try" else stmt.test
            self.out.append(ir.If(test, then, orelse, loc=stmt.loc))
        return taken

    def zero_at(self, name: str, stmt: ir.If | ir.Loop, taken: list[ir.Stmt]) -> ir.Expr:
        """The zero cotangent of ``name`` where a branch of ``stmt`` gave it none, or where the pullback of the
        loop ``stmt`` starts adding into it: made, when the pullback runs, from what ``name`` is at ``stmt``
        (a stand-in, or a copy of a list or dict), where a later write may change it (``xs.pop()``, or
        ``d['p'] = v`` of another shape, after it)."""
        m = self.mutation
        if name in self.an.scalars or not (m.written(name) and m.changes_after(name, stmt)):
            return zeros(name, self.an.scalars)
        how = "shape_like" if self.an.kinds.get(name, "array") == "array" else "snapshot"
        saved = self.namer.fresh(f"{name}_like" if how == "shape_like" else f"{name}_saved")
        if how == "shape_like":
            self.stand_ins.add(saved)
        taken.append(ir.Assign(saved, ir.Call(helper(how), [ir.Name(name)]), stmt.loc))
        return zeros(saved)

    def loop(self, stmt: ir.Loop) -> list[ir.Stmt]:
        """Write the loop's pullback; return the statements to put before the loop: what its zeros measure
        and the one creating its tape (none: not active)."""
        if any(t in self.an.active for t in stmt.targets):
            loc = stmt.loc
            raise S2SADSyntaxError(
                "the elements of this iterable carry a gradient, but s2sad differentiates loops over "
                "range(...), enumerate/zip/reversed of sequences, and names of lists, tuples or arrays; "
                "assign the iterable to a name first", loc)
        active = [k for k, c in enumerate(stmt.carried) if c in self.an.active]
        local = set(stmt.carried) | set(stmt.targets) | ir.bound_in(stmt.cond_body) | ir.bound_in(stmt.body)
        nexts = [e.id for k, e in enumerate(stmt.nexts) if k in active and isinstance(e, ir.Name)]
        outer = [n for n in _reads(stmt.body) + nexts if n in self.an.active and n not in local]
        if not active and not outer:
            return []
        self.loc = stmt.loc
        taken: list[ir.Stmt] = []
        headers = self.loop_headers(stmt, active, outer, taken)
        before, self.out = self.out, []
        # Iteration start (in reverse): the next values take the carried cotangents.
        for k in active:
            c, nxt = stmt.carried[k], stmt.nexts[k]
            if isinstance(nxt, ir.Name) and nxt.id == c:
                self.bars[c], self.owned[c] = ir.Name(headers[c]), headers[c]
                continue
            self.bars.pop(c, None)
            self.owned[c] = headers[c]
            if isinstance(nxt, ir.Name) and nxt.id in local:
                var = self.variable(nxt.id)
                self.emit(var, ir.Name(headers[c]))
                self.bars[nxt.id] = ir.Name(var)
            else:
                self.add(nxt, ir.Name(headers[c]))
        self.block(stmt.body)
        self.loc = stmt.loc
        for k in active:
            c = stmt.carried[k]
            self.settle(c, headers[c], self.bars.get(c), self.out)
            self.bars[c] = ir.Name(headers[c])
        for name in dict.fromkeys(outer):
            self.settle(name, self.owned[name], self.bars.get(name), self.out)
            self.bars[name] = ir.Name(self.owned[name])
        body, self.out = self.out, before
        tape = self.tape(stmt, body, local)
        for k in active:
            self.add(stmt.inits[k], ir.Name(headers[stmt.carried[k]]))
        return [*taken, tape]

    def loop_headers(self, stmt: ir.Loop, active: list[int], outer: list[str], taken: list[ir.Stmt]
                     ) -> dict[str, str]:
        """One cotangent variable per active carried value (returned, by carried name) and per outer value
        the body reads, alive across iterations, set before the pullback's loop (``taken``: what the zeros
        of outer values measure, see ``zero_at``)."""
        headers = {}
        for k in active:
            c, r = stmt.carried[k], stmt.results[k]
            headers[c] = self.variable(c)
            self.emit(headers[c], self.bars.get(r) or zeros(r, self.an.scalars))
        for name in dict.fromkeys(outer):
            current = self.bars.get(name)
            var = self.variable(name)
            if current is None:
                self.emit(var, self.zero_at(name, stmt, taken))
                if name not in self.an.scalars:
                    self.buffers.add(var)  # a fresh array only this pullback holds: reads can scatter into it
            elif current != ir.Name(var):
                self.emit(var, current)
            self.bars[name] = ir.Name(var)
        return headers

    def measured(self, body: list[ir.Stmt], needed: list[str]) -> set[str]:
        """The names of ``needed`` that the iteration's adjoint ``body`` reads for their shape and dtype only
        (``value_reads``) and that may be arrays: the tape keeps a stand-in (``shape_like``), so it neither
        keeps an array alive only to measure it nor holds one a later write changes."""
        read = {n for s in ir.walk(body) for e in ir.exprs(s) for n in value_reads(e, self.mutation)}
        return {n for n in needed if n not in read and n not in self.an.numbers and n not in self.stand_ins
                and self.an.kinds.get(n, "array") == "array"}

    def tape(self, stmt: ir.Loop, body: list[ir.Stmt], local: set[str]) -> ir.Assign:
        """Record on a tape what the iteration's adjoint ``body`` reads of the iteration's own values
        (nested loops' tapes, created in the body while it was differentiated, included); write the
        pullback's loop over it; return the statement creating the tape."""
        local |= ir.bound_in(stmt.body)
        nested = ir.bound_in(stmt.body) - ir.bound_in(stmt.body, into_loops=False)
        needed = [n for n in _reads(body) if n in local and n not in nested]
        _export(stmt.body, set(needed))
        tape = self.namer.fresh("tape")
        measured = self.measured(body, needed)
        saved = [ir.Call(helper("shape_like"), [ir.Name(n)]) if n in measured else ir.Name(n) for n in needed]
        record: ir.Expr = ir.Tuple(saved) if len(saved) != 1 else saved[0]
        if not needed:
            record = ir.Const(None)
        stmt.body.append(ir.Do(ir.Call(ir.Attr(ir.Name(tape), "append"), [record]), stmt.loc))
        target = tuple(needed) if len(needed) > 1 else needed[0] if needed else "_"
        self.out.append(ir.Loop("for", body, target, ir.Call(helper("reversed"), [ir.Name(tape)]),
                                loc=stmt.loc))
        return ir.Assign(tape, ir.List([]), stmt.loc)
