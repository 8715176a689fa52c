"""Inline: calls of small functions of the caller's own module, written into the caller.

For a derivative made for the argument types, a call ``z = g(a, b)`` of a plain function
``g`` (no closure, no rule of the user's, defined in the caller's module) becomes ``g``'s
lowered statements: its names renamed into the caller's, its parameters bound to the
arguments, its returned value bound to ``z``. The derivative is then made for the whole, so
``g``'s values get the types and shapes the caller's arguments give them (a helper called
on floats drops ``unbroadcast``), and the fused gradient calls no vjp and builds no pullback
closure (a loop would keep one per call on its tape). Transitively: calls in what was
written in are considered in turn, never a function into its own body.

Left as calls (and made for their arguments' types when the caller's analysis knows them,
see ``linker.VJP.specialised``): functions of other modules (a name they read would be read in
the caller's globals), recursion, functions larger than ``MAX_STATEMENTS``, functions writing
in place (``x[i] = v``, ``xs.append``, ``a -= v``: the refusals name the call, ``mutation.effects``)
or to globals, functions defining functions, calls with ``*args``, and functions whose global
names the caller uses for its own variables.
"""

from __future__ import annotations

import types

from . import ir
from .activity import globals_written
from .classify import TRANSFORM, primitive
from .errors import NoDerivativeRuleError, S2SADSyntaxError, SourceUnavailableError
from .facts import specialisable
from .frontend import Source
from .mutation import effects
from .naming import Namer
from .ssa import lowered_ir

__all__ = ["inline_calls"]

MAX_STATEMENTS = 60  # statements a callee may have to be written into its caller
MAX_ADDED = 600  # statements inlining may add to one function
ROUNDS = 4  # nesting depth of calls written in

_CONSTANT_DEFAULTS = (int, float, bool, str, type(None))


def inline_calls(fn: ir.Function, src: Source, namer: Namer) -> bool:
    """Write the inlinable calls of ``fn`` (``src`` lowered) into it, in place; True if any was. What the
    callees' transforms relied on of the module's globals joins ``src.globals_read``."""
    user_fn = src.fn
    chains: dict[int, frozenset] = {}  # sid of a statement written in -> the functions it came through
    budget = [MAX_ADDED]
    lowered: dict = {}  # callee -> its source and lowered IR (or None), lowered once
    bound = _names(fn.body) | set(fn.params.names()) | set(user_fn.__code__.co_freevars)
    changed = False
    for _ in range(ROUNDS):
        if not _block(fn, fn.body, src, namer, chains, budget, bound, lowered):
            break
        changed = True
    return changed


def _block(fn: ir.Function, stmts: list[ir.Stmt], src: Source, namer: Namer, chains: dict, budget: list,
           bound: set[str], lowered: dict) -> bool:
    changed = False
    i = 0
    while i < len(stmts):
        s = stmts[i]
        for region in (s.body, s.orelse) if isinstance(s, ir.If) else (s.cond_body, s.body) \
                if isinstance(s, ir.Loop) else ():
            changed |= _block(fn, region, src, namer, chains, budget, bound, lowered)
        written = _inline(fn, s, src, namer, chains, budget, bound, lowered) if isinstance(s, ir.Assign) else None
        if written is None:
            i += 1
            continue
        stmts[i:i + 1] = written
        i += len(written)
        changed = True
    return changed


def _inline(fn: ir.Function, s: ir.Assign, src: Source, namer: Namer, chains: dict, budget: list,
            bound: set[str], lowered: dict) -> list[ir.Stmt] | None:
    """The statements standing for the call ``s``, or None where it stays a call."""
    user_fn = src.fn
    if not isinstance(s.target, str) or not isinstance(s.value, ir.Call):
        return None
    p = primitive(s)
    g = specialisable(p) if p.kind == TRANSFORM else None
    chain = chains.get(s.sid, frozenset())
    if g is None or g is user_fn or g in chain or g.__globals__ is not user_fn.__globals__ \
            or g.__code__.co_flags & (0x04 | 0x08) or globals_written(g) or effects(g).writes:
        return None
    if g not in lowered:
        lowered[g] = _lowered(g)
    if lowered[g] is None:
        return None
    callee_src, original = lowered[g]
    callee = ir.Function(original.name, original.params, ir.clone(original.body), temps=original.temps)
    size = sum(1 for _ in ir.walk(callee.body))
    if size > MAX_STATEMENTS or size > budget[0]:
        return None
    roots = _outside_roots(callee.body)
    if roots & bound:
        return None  # a global of the callee's the caller uses as a variable
    binding = _bind(g, callee, s)
    if binding is None:
        return None
    budget[0] -= size
    src.globals_read.update(callee_src.globals_read)
    rename = {n: namer.fresh(n) for n in sorted(_names(callee.body) | set(callee.params.names()))}
    for r in roots:
        namer.reserve(r)
    body = callee.body
    ir.rename(body, rename)
    fn.temps.update(rename[n] for n in [*callee.temps, *callee.params.names()] if n in rename)
    # (the callee's own names stay names: an out a branch binds is bound on both paths, not a temporary)
    bound.update(rename.values())
    ret = body.pop()
    params = [ir.Assign(rename[name], value, s.loc) for name, value in binding]
    out = [*params, *body, ir.Assign(s.target, ret.value, s.loc)]
    inner = chain | {g}
    for t in ir.walk(out):
        chains[t.sid] = inner
    return out


def _lowered(g: types.FunctionType) -> tuple[Source, ir.Function] | None:
    """``g``'s source and ``g`` lowered (a fresh copy), if it can be written into a caller."""
    try:
        callee_src, _, callee = lowered_ir(g)
    except (S2SADSyntaxError, NoDerivativeRuleError, SourceUnavailableError):
        return None  # (the call reports it, when it runs)
    for t in ir.walk(callee.body):
        if isinstance(t, ir.Function) or any(_unsafe(e) for e in ir.exprs(t)):
            return None
    return callee_src, callee


def _unsafe(e: ir.Expr) -> bool:
    """A closure, an in-place write or a read of the module's globals (``global``): left as a call."""
    if isinstance(e, ir.Closure | ir.SetItem | ir.ListMethod):
        return True
    if isinstance(e, ir.Ref) and e.helper and e.path == ("module_globals",):
        return True
    return any(_unsafe(c) for c in ir.children(e))


def _bind(g: types.FunctionType, callee: ir.Function, s: ir.Assign) -> list[tuple[str, ir.Expr]] | None:
    """Each parameter of ``g`` with the expression it is bound to at the call ``s`` (its default where
    not passed); None where that is not a plain binding."""
    params = callee.params  # (no *args or **kwargs: see ``_inline``)
    call = s.value
    values: dict[str, ir.Expr] = dict(zip(params.positional, call.args))
    for k, v in call.kwargs:
        if k is None or k in values or k not in params.names() or k in params.posonly:
            return None
        values[k] = v
    defaults = dict(zip(params.positional[len(params.positional) - len(g.__defaults__ or ()):], g.__defaults__ or ()))
    defaults.update(g.__kwdefaults__ or {})
    for name in params.names():
        if name not in values:
            default = defaults.get(name, _MISSING)
            if type(default) not in _CONSTANT_DEFAULTS:
                return None
            values[name] = ir.Const(default)
    return [(name, values[name]) for name in params.names()]


_MISSING = object()


def _names(stmts: list[ir.Stmt]) -> set[str]:
    """Every local name ``stmts`` bind or read."""
    out: set[str] = set()
    for t in ir.walk(stmts):
        for e in ir.exprs(t):
            out.update(ir.names_read(e))
        if isinstance(t, ir.Assign):
            out.update(t.targets)
        elif isinstance(t, ir.If):
            out.update(t.outs)
        elif isinstance(t, ir.Loop):
            out.update([*t.carried, *t.targets, *t.results])
    return out


def _outside_roots(stmts: list[ir.Stmt]) -> set[str]:
    """The first names of the outside objects ``stmts`` read by name when they run (globals, builtins)."""
    out: set[str] = set()

    def visit(e: ir.Expr) -> None:
        if isinstance(e, ir.Ref) and not e.helper:
            out.add(e.path[0])
        for c in ir.children(e):
            visit(c)

    for t in ir.walk(stmts):
        for e in ir.exprs(t):
            visit(e)
    return out
