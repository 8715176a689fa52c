"""Forward mode: a flat SSA function -> its jvp, tangent statements beside the primal ones.

Expects ``simplify``'s output. Produces ``f_jvp(*params, *, x_dot, ...) -> (out, out_dot)``
with one keyword-only tangent parameter per differentiated parameter. After each
active statement comes its tangent (``y = np.sin(x)``; ``y_dot = x_dot * np.cos(x)``),
from the primitive's forward rule (see ``rules.Rule``). Zero tangents are
symbolic and skipped; they are materialised only where control flow joins. An
``if`` yields its outs' tangents from both branches; a loop carries each active
value's tangent beside it, so forward mode saves nothing per iteration. Calls into
user functions call their jvp: ``z, z_dot = g_jvp(a, tangents=(a_dot,))``.
"""

from __future__ import annotations

import copy

from . import ir
from .activity import Analysis, analyze
from .classify import CALL, CLOSURE, CONTAINER, COPY, DERIVE, LISTOP, MISSING, SETITEM, TRANSFORM, UNPACK
from .errors import NoDerivativeRuleError, S2SADSyntaxError
from .linker import JVP, FRuleHandle
from .modes import check_rules, helper, no_rule_error, packed_keywords, zeros
from .mutation import Mutation, analyzed, inplace_write
from .naming import Namer
from .resolve import call_target
from .rules import FRULES, INPLACE_FUNCS, INPLACE_OPS, Sym, custom_rule
from .simplify import name_shared

__all__ = ["forward"]


def forward(fn: ir.Function, namer: Namer, wrt: list[str], scalar_params: set[str],
            tree_params: set[str] = frozenset(), typed: bool = False, first: int | None = None,
            captured: tuple[str, ...] = (), dims: dict[str, tuple[int, ...]] | None = None) -> ir.Function:
    """Build the jvp of ``fn`` with respect to the parameters ``wrt``: its tangents are keyword-only parameters
    or, with ``first``, one tuple after the first ``first`` parameters (see ``tangents_first``), where the
    closure variables ``captured``, ending ``wrt``, have one dict of tangents by name, last. ``dims``: the
    array parameters' shapes, where the jvp may assume them."""
    fn = copy.deepcopy(fn)
    ir.renumber(fn.body)  # (its own statements: analyses key results by ``sid``)
    def analysis_checked() -> Analysis:
        found = analyze(fn, wrt, scalar_params, tree_params, dims, typed=typed)
        check_rules(fn.body[:-1], found, fn.body[-1].value)
        return found

    analysis, mutation = analyzed(fn, analysis_checked)  # the same writes are refused as in reverse mode
    tangent = _Tangent(analysis, namer, mutation)
    dot_params = []
    for w in wrt:
        tangent.dots[w] = ir.Name(namer.fresh(f"{w}_dot"))
        dot_params.append(tangent.dots[w].id)
    body = tangent.block(fn.body[:-1])
    ret = fn.body[-1]
    out_dot = tangent.dot_or_zero(ret.value)
    body.append(ir.Return(ir.Tuple([ret.value, out_dot]), ret.loc))
    params = copy.copy(fn.params)
    if first is not None:
        return tangents_first(ir.Function(namer.fresh(f"{fn.name}_jvp"), params, body, fn.loc, ssa=True, flat=False),
                              namer, dot_params, first, captured)
    params.kwonly = [*fn.params.kwonly, *dot_params]
    return ir.Function(namer.fresh(f"{fn.name}_jvp"), params, body, fn.loc, ssa=True, flat=False)


def tangents_first(jvp: ir.Function, namer: Namer, dots: list[str], first: int, captured: tuple[str, ...]
                   ) -> ir.Function:
    """``jvp`` taking the tangents ``dots`` as one tuple after its first ``first`` parameters (a method's
    receiver), unpacked on entry; the tangents of the closure variables ``captured`` (the last of ``dots``)
    come as one dict by name: the form code calling a function value's jvp is differentiated through
    (``linker.jvp_of_tangents_first``)."""
    tangents = namer.fresh("tangents")
    n = len(dots) - len(captured)
    by_name = namer.fresh("captured_dot") if captured else None
    entry: list[ir.Stmt] = [ir.Assign((*dots[:n], *([by_name] if by_name else [])), ir.Name(tangents), jvp.loc)]
    entry += [ir.Assign(dot, ir.Subscript(ir.Name(by_name), ir.Const(name)), jvp.loc)
              for name, dot in zip(captured, dots[n:])]
    params = copy.copy(jvp.params)
    positional = [*params.posonly, *params.args]  # (all passed by position)
    params.posonly, params.args = [], [*positional[:first], tangents, *positional[first:]]
    return ir.Function(jvp.name, params, [*entry, *jvp.body], jvp.loc, ssa=True, flat=False)


class _Tangent:
    def __init__(self, analysis, namer: Namer, mutation: Mutation) -> None:
        self.an = analysis
        self.namer = namer
        self.mutation = mutation
        self.dots: dict[str, ir.Expr] = {}  # name -> its tangent (a Name); absent: zero
        self.loc = None

    def dot(self, e: ir.Expr) -> ir.Expr | None:
        return self.dots.get(e.id) if isinstance(e, ir.Name) else None

    def dot_or_zero(self, e: ir.Expr) -> ir.Expr:
        return self.dot(e) or _zeros_of(e)

    def bind(self, name: str, value: ir.Expr, out: list[ir.Stmt]) -> None:
        """``name``'s tangent is ``value``: a plain name is reused, an expression gets ``name_dot``."""
        if isinstance(value, ir.Name):
            self.dots[name] = value
            return
        var = self.namer.fresh(f"{name}_dot")
        out.append(ir.Assign(var, value, self.loc))
        self.dots[name] = ir.Name(var)

    def block(self, stmts: list[ir.Stmt]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for stmt in stmts:
            if isinstance(stmt, ir.If):
                out.append(self.if_(stmt))
            elif isinstance(stmt, ir.Loop):
                out.append(self.loop(stmt))
            else:
                out.append(stmt)
                if isinstance(stmt, ir.Assign) and any(t in self.an.active for t in stmt.targets):
                    mark = len(out)
                    self.assign(stmt, out)
                    self.save_overwritten(stmt, out, mark)
        return out

    def save_overwritten(self, stmt: ir.Assign, out: list[ir.Stmt], mark: int) -> None:
        """``y *= v`` changes ``y`` in place: a tangent that reads the old ``y``, or another name for its
        memory (``v`` itself, in ``y *= (y if c else y)``), reads a copy taken before."""
        base = inplace_write(stmt, self.an)
        tangents = out[mark:]
        if base is None:
            return
        read = dict.fromkeys(n for s in tangents for n in ir.names_read(s.value))
        saved = {n: ir.Name(self.namer.fresh(f"{n}_saved")) for n in read  # (the new value's own name: after)
                 if n == base or (n not in stmt.targets and self.mutation.changed_by(n, stmt))}
        for s in tangents:
            s.value = ir.substitute(s.value, saved)
        for n, snap in reversed(saved.items()):
            out.insert(mark - 1, ir.Assign(snap.id, ir.Call(helper("snapshot"), [ir.Name(n)]), stmt.loc))

    # ----- one assignment -----

    def assign(self, stmt: ir.Assign, out: list[ir.Stmt]) -> None:
        self.loc = stmt.loc
        p = self.an.prims[stmt.sid]
        dots = [self.dot(a) for a in p.args]
        if p.kind == UNPACK:
            d = self.dot(stmt.value)
            if d is not None:
                names = tuple(self.namer.fresh(f"{t}_dot") for t in stmt.targets)
                out.append(ir.Assign(names, d, self.loc))  # (an inactive item, an int, has none: not kept)
                self.dots.update({t: ir.Name(n) for t, n in zip(stmt.targets, names) if t in self.an.active})
            return
        if p.kind == CALL and all(dots[i] is None for i in _differentiated(p.rule, len(dots))) \
                and not any(self.dot(v) for v in p.kwargs.values()):
            return  # every differentiated input's tangent is zero (another is read for its shape only)
        if p.kind in (COPY, DERIVE):  # a derivative function's tangent: the one of the function it derives
            if dots[0] is not None:
                self.bind(stmt.target, dots[0], out)
        elif p.kind in (CONTAINER, CLOSURE):
            items = [d or _zeros_of(a) for a, d in zip(p.args, dots)]
            if p.kind == CLOSURE:  # a function value's tangent: a dict over what it captured
                value = ir.Dict([ir.Const(n) for n in stmt.value.names], items)
            else:
                value = ir.Dict(list(stmt.value.keys), items) if isinstance(stmt.value, ir.Dict) else (
                ir.List(items) if isinstance(stmt.value, ir.List) else ir.Tuple(items))
            self.bind(stmt.target, value, out)
        elif p.kind == CALL:
            tangent = self.rule(stmt, p, dots)
            if tangent is not None:  # (None: the tangents that reach it have a zero derivative)
                defs, (value,) = name_shared([tangent.expr], self.namer.fresh)
                out += [ir.Assign(name, e, self.loc) for name, e in defs]
                self.bind(stmt.target, value, out)
        elif p.kind == SETITEM:
            x, v = p.args
            value = ir.Call(helper("setitem_jvp"), [self.dot_or_zero(x), p.kwargs["index"], self.dot_or_zero(v)])
            self.bind(stmt.target, value, out)
        elif p.kind == LISTOP:
            self.list_method(stmt, p, out)
        elif p.kind == TRANSFORM:
            self.call(stmt, p, out)
        elif p.kind == MISSING:
            raise no_rule_error(p.callee, self.loc)

    def rule(self, stmt: ir.Assign, p, dots: list[ir.Expr | None]) -> Sym:
        rule = p.rule
        syms = [self.an.sym(a) for a in p.args]
        kwargs = {k: self.an.sym(v) for k, v in p.kwargs.items()}
        ans = self.an.sym(ir.Name(stmt.target))
        dsyms = [None if d is None else Sym(d, s.scalar, s.shape) for d, s in zip(dots, syms)]
        try:
            if rule.forward is not None:
                return rule.forward(ans, dsyms, *syms, **kwargs)
            diff = _differentiated(rule, len(p.args))
            if rule.elementwise:  # the reverse template with the tangent as cotangent
                total = None
                for i, d in enumerate(dsyms):
                    if d is not None and i in diff:
                        part = rule.reverse(d, ans, *syms, **kwargs)[i]
                        part = Sym(_without_unbroadcast(part.expr), part.scalar, part.shape)
                        total = part if total is None else total + part
                return total if _tangent_spans(syms, dsyms, ans) else Sym(
                    ir.Call(helper("broadcast_like"), [total.expr, ans.expr]), ans.scalar, ans.shape)
            if rule.linear is not None:  # the call applied to the tangents, where the reverse rule takes it (it
                rule.reverse(ans, ans, *syms, **kwargs)  # refuses what makes it affine: np.diff(x, prepend=1.0))
            if rule.linear == "joint":
                return Sym(_rebuild(stmt.value, {i: (dots[i] or _zeros_of(p.args[i])) for i in diff}, p))
            if rule.linear == "multi":
                parts = [Sym(_rebuild(stmt.value, {i: dots[i]}, p)) for i in diff if dots[i] is not None]
                total = parts[0]
                for part in parts[1:]:
                    total = total + part
                return total
        except (TypeError, NotImplementedError) as e:
            raise NoDerivativeRuleError(
                f"s2sad's forward rule for {rule.name} does not support this call, at "
                f"{self.loc.file}:{self.loc.line}:\n    {self.loc.text}\n({e})") from None
        raise NoDerivativeRuleError(
            f"s2sad has no forward-mode rule for {rule.name}, called at {self.loc.file}:{self.loc.line}:\n"
            f"    {self.loc.text}\nIt has a reverse-mode rule: use grad or vjp here.")

    def list_method(self, stmt: ir.Assign, p, out: list[ir.Stmt]) -> None:
        method = stmt.value.method
        lst, args = p.args[0], p.args[1:]
        if method == "pop":
            popped, after = stmt.targets
            if self.dot(lst) is None:  # (zeros made from the values after the change)
                self.bind(popped, zeros(popped), out)
                self.bind(after, zeros(after), out)
                return
            pair = (self.namer.fresh(f"{popped}_dot"), self.namer.fresh(f"{after}_dot"))
            out.append(ir.Assign(pair, ir.Call(helper("list_pop_jvp"), [self.dot(lst), *args]), self.loc))
            self.dots[popped], self.dots[after] = ir.Name(pair[0]), ir.Name(pair[1])
            return
        items = self.dot_or_zero(args[0])
        added = ir.List([items]) if method == "append" else items
        before = self.dot(lst) or ir.Const(None)  # a zero is made from the list after the change
        self.bind(stmt.target, ir.Call(helper("list_jvp"), [ir.Name(stmt.target), before, added]), out)

    def call(self, stmt: ir.Assign, p, out: list[ir.Stmt]) -> None:
        """``z = g(a)`` becomes ``z, z_dot = g_jvp(a, tangents=(a_dot,))``."""
        active = self.an.active
        if any(isinstance(a, ir.Name) and a.id in active for a in p.starred):
            self.star_call(stmt, p)
            return
        positions = [i for i, a in enumerate(p.args) if isinstance(a, ir.Name) and a.id in active]
        keywords = [k for k, v in p.kwargs.items() if isinstance(v, ir.Name) and v.id in active]
        captures = isinstance(p.func, ir.Name) and p.func.id in active
        if not positions and not keywords and not captures:
            return
        fn = p.callee
        if fn is not None and custom_rule(fn, FRULES) is not None:
            if keywords:
                raise S2SADSyntaxError("a value carrying a tangent is passed by keyword to a function with "
                                       "a custom rule; pass it positionally", self.loc)
            handle = FRuleHandle(custom_rule(fn, FRULES), tuple(positions))
            self.pair(stmt, ir.Ref((f"{getattr(fn, '__name__', 'f')}_frule",), handle, helper=True), [],
                      [self.dot_or_zero(p.args[i]) for i in positions])
            return
        if fn is not None and custom_rule(fn) is not None and getattr(fn, "__code__", None) is None:
            raise NoDerivativeRuleError(
                f"{getattr(fn, '__name__', fn)} has a custom reverse rule (s2sad.rrule) and no source, and forward "
                f"mode needs a forward rule, at {self.loc.file}:{self.loc.line}: register one with @s2sad.frule")
        if fn is not None:  # (a checkpointed function: forward mode saves nothing anyway)
            fn, receiver, wrt, slots = call_target(fn, p.func, positions, keywords, self.loc)
            func = ir.Ref((f"{fn.__name__}_jvp",), JVP.of(fn, wrt).call, helper=True)
            operands = [p.args[i] for i in positions] + [p.kwargs[k] for k in keywords]
            self.pair(stmt, func, receiver, [self.packed(fn, name, slots, operands, p, len(receiver)) for name in wrt])
            return
        spec = [p.func, ir.Const(tuple(positions)), ir.Const(tuple(keywords)), ir.Const(captures)]
        func = ir.Call(helper("jvp_of"), spec)
        tangents = [self.dot_or_zero(p.args[i]) for i in positions] + [self.dot_or_zero(p.kwargs[k]) for k in keywords]
        if captures:
            tangents.append(self.dots[p.func.id])
        self.pair(stmt, func, [], tangents)

    def star_call(self, stmt: ir.Assign, p) -> None:
        """``z = f(a, *xs, **kw)`` with a derivative passed with ``*`` or ``**``: ``z, z_dot = star_jvp(f, (a, *xs),
        {**kw}, (a_dot, *xs_dot), {**kw_dot})``, the arguments bound when it runs (and, for a function value
        carrying a derivative, the tangents of what it captured last)."""
        call = stmt.value
        dots = [ir.Starred(self.dot_or_zero(a.value)) if isinstance(a, ir.Starred) else self.dot_or_zero(a)
                for a in call.args]
        packed = [ir.Tuple(list(call.args)), packed_keywords(call.kwargs, [v for _, v in call.kwargs]), ir.Tuple(dots),
                  packed_keywords(call.kwargs, [self.dot_or_zero(v) for _, v in call.kwargs])]
        dot = self.namer.fresh(f"{stmt.target}_dot")
        self.dots[stmt.target] = ir.Name(dot)
        stmt.target = (stmt.target, dot)
        func = call.func if p.callee is None else ir.Ref((getattr(p.callee, "__name__", "f"),), p.callee, helper=True)
        if isinstance(func, ir.Name) and func.id in self.an.active:  # the tangents of what it captured
            packed.append(self.dots[func.id])
        stmt.value = ir.Call(helper("star_jvp"), [func, *packed])

    def packed(self, fn, name: str, slots: list, operands: list[ir.Expr], p, shift: int) -> ir.Expr:
        """The tangent of ``fn``'s parameter ``name``: of the argument bound to it (``operands`` in ``slots``'
        order), or for ``*args`` a tuple (``**kwargs``: a dict) of every argument it receives, zeros for those
        without one."""
        i, key = next((i, key) for i, (n, key) in enumerate(slots) if n == name)
        if key is None:
            return self.dot_or_zero(operands[i])
        code = fn.__code__
        if isinstance(key, str):
            named = set(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
            extra = [(k, v) for k, v in p.kwargs.items() if k not in named]
            return ir.Dict([ir.Const(k) for k, _ in extra], [self.dot_or_zero(v) for _, v in extra])
        return ir.Tuple([self.dot_or_zero(a) for a in p.args[max(code.co_argcount - shift, 0):]])

    def pair(self, stmt: ir.Assign, func: ir.Expr, receiver: list[ir.Expr], tangents: list[ir.Expr]) -> None:
        """Rewrite ``z = f(args)`` to ``z, z_dot = func(*receiver, args, tangents=(...))``."""
        target = stmt.target
        dot = self.namer.fresh(f"{target}_dot")
        stmt.target = (target, dot)
        stmt.value = ir.Call(func, [*receiver, *stmt.value.args], [*stmt.value.kwargs, ("tangents", ir.Tuple(tangents))])
        self.dots[target] = ir.Name(dot)

    # ----- regions -----

    def if_(self, stmt: ir.If) -> ir.If:
        dots0 = dict(self.dots)
        branches = []
        for body, yields in ((stmt.body, stmt.yields[0]), (stmt.orelse, stmt.yields[1])):
            self.dots = dict(dots0)
            branches.append((self.block(body), yields, self.dots))
        self.dots = dots0
        outs, extra = [], ([], [])
        for k, name in enumerate(stmt.outs):
            if name not in self.an.active:
                continue
            ds = [branch_dots.get(y.id) if isinstance(y, ir.Name) else None
                  for _, ys, branch_dots in branches for y in [ys[k]]]
            if all(d is None for d in ds):
                continue
            var = self.namer.fresh(f"{name}_dot")
            outs.append(var)
            for j, ((_, ys, _), d) in enumerate(zip(branches, ds)):
                if d is None:
                    d = _zeros_of(ys[k])
                extra[j].append(_atom(d, var, branches[j][0], self))
            self.dots[name] = ir.Name(var)
        return ir.If(stmt.test, branches[0][0], branches[1][0], [*stmt.outs, *outs],
                     ([*stmt.yields[0], *extra[0]], [*stmt.yields[1], *extra[1]]), stmt.loc, stmt.kind)

    def loop(self, stmt: ir.Loop) -> ir.Loop:
        if any(t in self.an.active for t in stmt.targets):
            raise S2SADSyntaxError("the elements of this iterable carry a gradient; assign the iterable to a "
                                   "name first", stmt.loc)
        active = [k for k, c in enumerate(stmt.carried) if c in self.an.active]
        headers, inits = [], []
        for k in active:
            c, init = stmt.carried[k], stmt.inits[k]
            headers.append(self.namer.fresh(f"{c}_dot"))
            inits.append(self.dot_or_zero(init))
            self.dots[c] = ir.Name(headers[-1])
        cond_body = self.block(stmt.cond_body)  # a condition carries no tangent (comparisons)
        body = self.block(stmt.body)
        nexts = [_atom(self.dot_or_zero(stmt.nexts[k]), f"{stmt.carried[k]}_next_dot",
                       body, self) for k in active]
        results = []
        for k, h in zip(active, headers):
            results.append(self.namer.fresh(f"{stmt.results[k]}_dot"))
            self.dots[stmt.results[k]] = ir.Name(results[-1])
        return ir.Loop(stmt.kind, body, stmt.target, stmt.iter, cond_body, stmt.cond,
                       [*stmt.carried, *headers], [*stmt.inits, *inits], [*stmt.nexts, *nexts],
                       [*stmt.results, *results], stmt.exit, stmt.loc)


def _differentiated(rule, n: int) -> range | tuple[int, ...]:
    """The positions of the ``n`` operands whose tangents ``rule`` differentiates."""
    return range(n) if rule.diff is None else tuple(i for i in rule.diff if i < n)


def _zeros_of(e: ir.Expr) -> ir.Expr:
    """The zero tangent of ``e``: ``0.0`` for a Python number (``None`` for another constant), else
    zeros of its shape, dtype and structure."""
    if isinstance(e, ir.Const):
        return ir.Const(0.0 if isinstance(e.value, int | float) else None)
    return ir.Call(helper("zeros_like"), [e])


def _atom(e: ir.Expr, hint: str, block: list[ir.Stmt], tangent: _Tangent) -> ir.Expr:
    """``e`` as a name or constant, binding it at the end of ``block`` if it is an expression."""
    if isinstance(e, ir.ATOMS):
        return e
    name = tangent.namer.fresh(hint)
    block.append(ir.Assign(name, e, tangent.loc))
    return ir.Name(name)


def _rebuild(value: ir.Expr, replaced: dict[int, ir.Expr], p) -> ir.Expr:
    """``value`` (a call, operator, subscript or attribute) with operand ``i`` (of the primitive ``p``: keywords
    a rule differentiates are bound to their positions) replaced; an in-place operator (``y @= w``) becomes
    the plain one, so that no tangent is changed in place."""
    if isinstance(value, ir.Call) and isinstance(value.func, ir.Ref) and value.func.value in INPLACE_OPS:
        op = next(o for o, f in INPLACE_FUNCS.items() if f is value.func.value)
        value = ir.BinOp(op, *value.args)
    if isinstance(value, ir.BinOp):
        ops = [replaced.get(i, o) for i, o in enumerate((value.left, value.right))]
        return ir.BinOp(value.op, *ops)
    if isinstance(value, ir.UnaryOp):
        return ir.UnaryOp(value.op, replaced.get(0, value.operand))
    if isinstance(value, ir.Subscript):
        return ir.Subscript(replaced.get(0, value.value), value.index)
    if isinstance(value, ir.Attr):
        return ir.Attr(replaced.get(0, value.value), value.attr)
    if isinstance(value.func, ir.Attr) and not isinstance(value.func.value, ir.Ref):  # method: receiver is 0
        receiver = replaced.get(0, value.func.value)
        args = [replaced.get(i + 1, a) for i, a in enumerate(value.args)]
        return ir.Call(ir.Attr(receiver, value.func.attr), args, value.kwargs)
    return ir.Call(value.func, [replaced.get(i, a) for i, a in enumerate(p.args)], list(p.kwargs.items()))


def _tangent_spans(syms: list[Sym], dsyms: list[Sym | None], ans: Sym) -> bool:
    """An elementwise result's tangent has the result's shape: every operand without a tangent is a
    scalar or has the shape of one with a tangent (else the tangent must be broadcast to it)."""
    shapes = {s.shape for s, d in zip(syms, dsyms) if d is not None and s.shape is not None}
    return ans.scalar or ans.shape in shapes or all(
        s.scalar or s.shape in shapes for s, d in zip(syms, dsyms) if d is None)


def _without_unbroadcast(e: ir.Expr) -> ir.Expr:
    """A reverse template's contribution as a tangent: a tangent broadcasts the way its
    operand did, so the template's ``unbroadcast`` calls are left out."""
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and e.func.path == ("unbroadcast",):
        return _without_unbroadcast(e.args[0])
    return ir.map_children(e, _without_unbroadcast)
