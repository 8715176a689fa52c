"""Reverse mode: a flat SSA function -> its vjp, a forward pass plus a nested pullback.

Expects ``lower``'s output. Produces ``f_vjp(*params) -> (out, f_pullback)`` where
``f_pullback(out_bar)`` returns one cotangent per differentiated parameter. The
forward pass is the user's statements unchanged; the pullback reads them through
the closure, so straight-line code saves nothing extra. Each active statement's
adjoint is inlined from its rule's template. Cotangents: the first contribution
assigns (or aliases), later ones add; a value that never receives one is a
symbolic zero and its adjoint is skipped; only parameters still zero at the end
are materialised with ``zeros_like``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy

from . import ir, runtime
from .activity import CALL, CONTAINER, COPY, MISSING, UNPACK, Analysis, analyze
from .errors import NoDerivativeRuleError
from .frontend import Source
from .naming import Namer
from .rules import Sym, rule_name

__all__ = ["Derivative", "reverse"]

_HELPER_ROOTS = {"np": numpy, "math": math}


@dataclass(slots=True)
class Derivative:
    """The vjp function's IR and the helper objects it refers to by name."""

    function: ir.Function
    bindings: dict[str, object]


def reverse(fn: ir.Function, src: Source, namer: Namer, wrt: list[str], scalar_params: set[str]) -> Derivative:
    """Build the vjp of ``fn`` with respect to the parameters ``wrt``."""
    analysis = analyze(fn, wrt, scalar_params)
    ret = fn.body[-1]
    assert isinstance(ret, ir.Return), "lower guarantees a final return"
    forward = fn.body[:-1]
    _check_rules(forward, analysis, src)

    out = ret.value
    returns_active = isinstance(out, ir.Name) and out.id in analysis.active
    seed = namer.fresh(f"{out.id}_bar" if returns_active else "out_bar")
    adj = _Adjoint(analysis, namer)
    if returns_active:
        adj.bars[out.id] = ir.Name(seed)
    for stmt in reversed(forward):
        adj.stmt(stmt)
    grads = [adj.bars.get(p) or ir.Call(ir.Ref(("zeros_like",), runtime.zeros_like, helper=True), [ir.Name(p)])
             for p in wrt]
    pullback = ir.Function(
        namer.fresh(f"{fn.name}_pullback"), ir.Params(args=[seed]),
        [*adj.body, ir.Return(ir.Tuple(grads))], ret.loc, ssa=False, flat=False,
    )
    vjp = ir.Function(
        namer.fresh(f"{fn.name}_vjp"), fn.params,
        [*forward, pullback, ir.Return(ir.Tuple([out, ir.Name(pullback.name)]), ret.loc)],
        fn.loc, ssa=True, flat=False,
    )
    return Derivative(vjp, _bind_helpers(vjp, src, namer))


def _check_rules(forward: list[ir.Stmt], analysis: Analysis, src: Source) -> None:
    """A call with no rule is an error only where a cotangent must pass through it."""
    for stmt in forward:
        if not isinstance(stmt, ir.Assign):
            continue
        p = analysis.prims[id(stmt)]
        if p.kind == MISSING and any(t in analysis.active for t in stmt.targets):
            raise _no_rule_error(p.callee, stmt.loc)


def _no_rule_error(callee: object, loc: ir.Loc) -> NoDerivativeRuleError:
    if callee is None:
        what, hint = "a callable that could not be resolved when differentiating", ""
    elif isinstance(callee, str):
        what, hint = f"the method or attribute {callee}", ""
    else:
        what = rule_name(callee)
        hint = (" It is a Python function: calls into other Python functions are not transformed yet."
                if hasattr(callee, "__code__") else "")
    return NoDerivativeRuleError(
        f"s2sad has no derivative rule for {what}, called at {loc.file}:{loc.line}:\n    {loc.text}\n"
        f"and a gradient must flow through it.{hint} Reverse rules are one-line entries in "
        "s2sad/rules.py (`defrule(fn, name, lambda g, ans, *args: ...)`); a public registration "
        "API (`s2sad.rrule`) is planned. If no gradient should flow through it, compute it from "
        "values that do not depend on the differentiated arguments."
    )


class _Adjoint:
    """Builds the pullback body, statement by statement, in reverse order."""

    def __init__(self, analysis: Analysis, namer: Namer) -> None:
        self.an = analysis
        self.namer = namer
        self.bars: dict[str, ir.Expr] = {}  # name -> its cotangent (a Name)
        self.owned: set[str] = set()  # names whose cotangent variable this pullback assigned
        self.body: list[ir.Stmt] = []
        self.loc: ir.Loc | None = None

    def sym(self, e: ir.Expr) -> Sym:
        scalar = (isinstance(e, ir.Name) and e.id in self.an.scalars) or (
            isinstance(e, ir.Const) and isinstance(e.value, int | float))
        return Sym(e, scalar)

    def stmt(self, stmt: ir.Stmt) -> None:
        if not isinstance(stmt, ir.Assign) or not any(t in self.an.active for t in stmt.targets):
            return
        self.loc = stmt.loc
        p = self.an.prims[id(stmt)]
        if p.kind == UNPACK:
            parts = [self.bars.get(t) for t in stmt.targets]
            if all(g is None for g in parts):
                return
            zeros = ir.Ref(("zeros_like",), runtime.zeros_like, helper=True)
            parts = [g or ir.Call(zeros, [ir.Name(t)]) for g, t in zip(parts, stmt.targets)]
            helper = ir.Ref(("tuple_bar",), runtime.tuple_bar, helper=True)
            self.add(stmt.value, ir.Call(helper, [stmt.value, *parts]))
            return
        g = self.bars.get(stmt.target)
        if g is None:
            return  # symbolic zero: nothing flows back
        if p.kind == COPY:
            self.add(p.args[0], g)
        elif p.kind == CONTAINER:
            keys = stmt.value.keys if isinstance(stmt.value, ir.Dict) else [ir.Const(i) for i in range(len(p.args))]
            for item, key in zip(p.args, keys):
                self.add(item, ir.Subscript(g, key))
        elif p.kind == CALL:
            args = [self.sym(a) for a in p.args]
            kwargs = {k: self.sym(v) for k, v in p.kwargs.items()}
            ans = self.sym(ir.Name(stmt.target))
            try:
                contributions = p.rule.reverse(Sym(g, ans.scalar), ans, *args, **kwargs)
            except (TypeError, NotImplementedError) as e:
                raise NoDerivativeRuleError(
                    f"s2sad's rule for {p.rule.name} does not support this call, at "
                    f"{self.loc.file}:{self.loc.line}:\n    {self.loc.text}\n({e})") from None
            for arg, c in zip(p.args, contributions):
                if c is not None:
                    self.add(arg, c.expr)

    def add(self, target: ir.Expr, contribution: ir.Expr) -> None:
        """Accumulate ``contribution`` into ``target``'s cotangent (if ``target`` is active)."""
        if not isinstance(target, ir.Name) or target.id not in self.an.active:
            return
        name = target.id
        current = self.bars.get(name)
        if current is None and isinstance(contribution, ir.Name):
            self.bars[name] = contribution  # alias: no copy for a plain hand-through
            return
        if current is None:
            value = contribution
        elif name in self.an.containers:  # `+` would concatenate tuples
            value = ir.Call(ir.Ref(("add_bars",), runtime.add_bars, helper=True), [current, contribution])
        else:
            value = ir.BinOp("+", current, contribution)
        if name in self.owned:
            bar = current.id
        else:
            bar = self.namer.fresh(f"{name}_bar")
            self.owned.add(name)
            self.bars[name] = ir.Name(bar)
        self.body.append(ir.Assign(bar, value, self.loc))


def _bind_helpers(fn: ir.Function, src: Source, namer: Namer) -> dict[str, object]:
    """Give every helper reference a name: the user's own if it means the same object."""
    chosen: dict[int, str] = {}
    bindings: dict[str, object] = {}
    for ref in _helper_refs(fn):
        root = ref.path[0]
        obj = _HELPER_ROOTS.get(root) if len(ref.path) > 1 else ref.value
        if id(obj) not in chosen:
            if src.lookup(root) is obj:
                chosen[id(obj)] = root
            else:
                name = namer.fresh(root)
                chosen[id(obj)] = name
                bindings[name] = obj
        ref.path = (chosen[id(obj)], *ref.path[1:])
    return bindings


def _helper_refs(fn: ir.Function):
    for stmt in fn.body:
        if isinstance(stmt, ir.Function):
            yield from _helper_refs(stmt)
        else:
            yield from _refs_in(stmt.value)


def _refs_in(e: ir.Expr):
    if isinstance(e, ir.Ref) and e.helper:
        yield e
    for c in ir.children(e):
        yield from _refs_in(c)
