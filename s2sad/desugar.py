"""Desugar: early exits -> structured control flow, on the gast tree before lowering.

Expects a ``FunctionDef`` from the front end. Guarantees on the result:

* the only ``return`` is the last top-level statement;
* ``continue`` is gone; the only ``break`` is the last statement of a loop body,
  in the exact form ``if <flag>: break`` (lowering turns it into the loop's exit);
* ``for ... else`` / ``while ... else`` are gone.

How: an ``if`` whose branches either always exit or never do absorbs the
statements after it into its non-exiting branches (no flag needed, and the code
reads like the original). Where an exit happens only on some paths, the exit sets
a flag (``broke``, ``skipped``, ``returned``) and the statements after it are
guarded with ``if not <flag>:``. A ``return`` inside a loop stores its value,
sets ``returned`` and leaves every enclosing loop. Every new node carries the
location of the statement it came from, so comments and errors keep the user's
lines.
"""

from __future__ import annotations

import builtins
import copy
from dataclasses import dataclass

import gast

__all__ = ["desugar", "cells", "comprehensions", "matches"]

NEVER, MAYBE, ALWAYS = "never", "maybe", "always"


@dataclass(slots=True)
class _Loop:
    broke: str | None  # set when the loop must stop after this iteration (break, return)
    skipped: str | None  # set by `continue` where code after it needs guarding


def desugar(tree: gast.FunctionDef) -> gast.FunctionDef:
    """Rewrite ``tree`` in place so it has no early exits (see the module docstring)."""
    taken = {n.id for n in gast.walk(tree) if isinstance(n, gast.Name)}  # all scopes: never shadow
    d = _Desugar(taken)
    body = tree.body
    if d.needs_result(body):
        d.result = d.fresh("result")
        d.returned = d.fresh("returned") if _returns_in_loop(body) or _partial_exits(body, False) else None
        first = body[0]
        head = [_assign(d.result, gast.Constant(None, None), first)]
        if d.returned:
            head.append(_assign(d.returned, gast.Constant(False, None), first))
        new = head + d.block(body, None, top=True)
        last = body[-1]
        tree.body = new + [_at(gast.Return(_load(d.result)), last)]
    else:
        tree.body = d.block(body, None)
    return tree


def _walk(node: gast.AST):
    """``gast.walk`` within one function: nested ``def`` and ``lambda`` have their own returns."""
    yield node
    if not isinstance(node, gast.FunctionDef | gast.Lambda):
        for child in gast.iter_child_nodes(node):
            yield from _walk(child)


def _at(node: gast.AST, like: gast.AST) -> gast.AST:
    gast.copy_location(node, like)
    for child in gast.walk(node):
        if not hasattr(child, "lineno") and hasattr(like, "lineno"):
            gast.copy_location(child, like)
    return node


def _load(name: str) -> gast.Name:
    return gast.Name(name, gast.Load(), None, None)


def _assign(name: str, value: gast.expr, like: gast.AST) -> gast.Assign:
    return _at(gast.Assign([gast.Name(name, gast.Store(), None, None)], value, None), like)


def _true(like: gast.AST) -> gast.Constant:
    return _at(gast.Constant(True, None), like)


def _not_any(flags: list[str], like: gast.AST) -> gast.expr:
    tests = [_load(f) for f in flags]
    test = tests[0] if len(tests) == 1 else gast.BoolOp(gast.Or(), tests)
    return _at(gast.UnaryOp(gast.Not(), test), like)


def _returns_in_loop(stmts: list[gast.stmt]) -> bool:
    for node in stmts:
        for loop in _walk(node):
            if isinstance(loop, gast.For | gast.While) and any(
                    isinstance(n, gast.Return) for b in (loop.body, loop.orelse) for s in b for n in _walk(s)):
                return True
    return False


def _partial_exits(stmts: list[gast.stmt], in_loop: bool) -> bool:
    """Does some ``if`` exit on only some of its paths (so the code after it needs a flag)?"""
    for s in stmts:
        for node in _own_nodes(s) if in_loop else _walk(s):
            if isinstance(node, gast.If) and MAYBE in (_exits(node.body, in_loop), _exits(node.orelse, in_loop)):
                return True
            if isinstance(node, gast.For | gast.While) and _exits_stmt(node, in_loop) != NEVER:
                return True
            if isinstance(node, gast.With) and _exits(node.body, in_loop) == MAYBE:  # nothing absorbs the rest
                return True
    return False


def _exits(stmts: list[gast.stmt], in_loop: bool) -> str:
    """Whether ``stmts`` leave the enclosing block: never, on some paths, or always.

    Counts ``return`` always, and ``break``/``continue`` when they belong to the
    loop around ``stmts`` (not to a loop nested inside them).
    """
    kind = NEVER
    for s in stmts:
        k = _exits_stmt(s, in_loop)
        if k == ALWAYS:
            return ALWAYS
        if k == MAYBE:
            kind = MAYBE
    return kind


def _exits_stmt(s: gast.stmt, in_loop: bool) -> str:
    if isinstance(s, gast.Return) or (in_loop and isinstance(s, gast.Break | gast.Continue)):
        return ALWAYS
    if isinstance(s, gast.If):
        a, b = _exits(s.body, in_loop), _exits(s.orelse, in_loop)
        return a if a == b else MAYBE
    if isinstance(s, gast.With):
        return _exits(s.body, in_loop)
    if isinstance(s, gast.For | gast.While):  # a `return` in it, or an exit in its `else`
        returns = any(isinstance(n, gast.Return) for n in _walk(s))
        return MAYBE if returns or _exits(s.orelse, in_loop) != NEVER else NEVER
    return NEVER


class _Desugar:
    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.result: str | None = None
        self.returned: str | None = None

    def fresh(self, base: str) -> str:
        name, n = base, 0
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    def needs_result(self, body: list[gast.stmt]) -> bool:
        """True when some ``return`` is not the function's last top-level statement."""
        returns = [n for s in body for n in _walk(s) if isinstance(n, gast.Return)]
        return bool(returns) and not (len(returns) == 1 and body[-1] is returns[0])

    def block(self, stmts: list[gast.stmt], loop: _Loop | None, top: bool = False) -> list[gast.stmt]:
        """Desugar one statement list; ``top``: the function's own body, where nothing follows."""
        out: list[gast.stmt] = []
        for i, s in enumerate(stmts):
            rest = stmts[i + 1:]
            if isinstance(s, gast.Return):
                self.return_(s, loop, bool(top and not rest), out)
                return out
            if isinstance(s, gast.Break):
                out.append(_assign(loop.broke, _true(s), s))
                return out
            if isinstance(s, gast.Continue):
                if loop.skipped:
                    out.append(_assign(loop.skipped, _true(s), s))
                return out
            if isinstance(s, gast.If) and self.if_(s, rest, loop, out):
                return out
            if isinstance(s, gast.With) and self.with_(s, rest, loop, out):
                return out
            if isinstance(s, gast.For | gast.While) and self.loop_in_block(s, rest, loop, out):
                return out
            if not isinstance(s, gast.If | gast.With | gast.For | gast.While):
                out.append(s)
        return out

    def return_(self, s: gast.Return, loop: _Loop | None, last: bool, out: list[gast.stmt]) -> None:
        """``return v``: the result and the exit flags set (``last``: nothing follows in the function)."""
        if self.result is None:  # the function's single final return
            out.append(s)
            return
        value = s.value if s.value is not None else _at(gast.Constant(None, None), s)
        out.append(_assign(self.result, value, s))
        if self.returned and not last:
            out.append(_assign(self.returned, _true(s), s))
        if loop is not None:
            out.append(_assign(loop.broke, _true(s), s))

    def if_(self, s: gast.If, rest: list[gast.stmt], loop: _Loop | None, out: list[gast.stmt]) -> bool:
        """Append the desugared ``if`` (and, where it may exit, the ``rest`` it guards); True when the
        ``rest`` was taken care of."""
        kinds = (_exits(s.body, loop is not None), _exits(s.orelse, loop is not None))
        s.body = self.block(s.body, loop)
        s.orelse = self.block(s.orelse, loop)
        out.append(s)
        if NEVER == kinds[0] == kinds[1] or not rest:
            return False
        if MAYBE not in kinds:  # each branch always or never exits: absorb the rest
            for branch, kind in ((s.body, kinds[0]), (s.orelse, kinds[1])):
                if kind == NEVER:
                    branch.extend(self.block(rest, loop))
            return True
        out.append(self.guard(rest, loop, s))
        return True

    def with_(self, s: gast.With, rest: list[gast.stmt], loop: _Loop | None, out: list[gast.stmt]) -> bool:
        """As ``if_``, for a ``with`` block."""
        kind = _exits(s.body, loop is not None)
        s.body = self.block(s.body, loop)
        out.append(s)
        if kind == ALWAYS:
            return True
        if kind == MAYBE and rest:
            out.append(self.guard(rest, loop, s))
            return True
        return False

    def loop_in_block(self, s: gast.For | gast.While, rest: list[gast.stmt], loop: _Loop | None,
                      out: list[gast.stmt]) -> bool:
        """As ``if_``, for a loop (inside ``loop``, or None)."""
        # before the loop is rewritten: its `else` may leave the loop around it
        else_exits = loop is not None and _exits(s.orelse, True) != NEVER
        may_return = _exits_stmt(s, loop is not None) == MAYBE
        body_returns = any(isinstance(n, gast.Return) for b in s.body for n in _walk(b))
        out += self.loop(s, loop)
        if rest and else_exits:
            if body_returns:  # a `return` in the loop's body leaves this loop too
                out.append(_at(gast.If(_load(self.returned), [_assign(loop.broke, _true(s), s)], []), s))
            out.append(self.guard(rest, loop, s))
            return True
        if self.returned and may_return and (rest or loop is not None):
            # a `return` inside the loop: leave the enclosing loop too (even where nothing
            # follows in its body), or skip the rest
            if loop is not None:
                out.append(_at(gast.If(_load(self.returned), [_assign(loop.broke, _true(s), s)],
                                       self.block(rest, loop)), s))
            else:
                out.append(_at(gast.If(_not_any([self.returned], s), self.block(rest, loop), []), s))
            return True
        return False

    def guard(self, rest: list[gast.stmt], loop: _Loop | None, like: gast.AST) -> gast.If:
        """``if not <exit flags>: rest`` after a statement that exits on some paths."""
        flags = [f for f in (loop.broke, loop.skipped) if f] if loop else [self.returned]
        assert flags and all(flags), "a partial exit without its flag: _partial_exits and the flags disagree"
        return _at(gast.If(_not_any(flags, like), self.block(rest, loop), []), like)

    def loop(self, s: gast.For | gast.While, outer: _Loop | None) -> list[gast.stmt]:
        body_nodes = [n for b in s.body for n in _own_nodes(b)]
        has_break = any(isinstance(n, gast.Break) for n in body_nodes)
        has_continue = any(isinstance(n, gast.Continue) for n in body_nodes)
        # `return` counts at any depth: it leaves nested loops too
        has_return = any(isinstance(n, gast.Return) for b in s.body for n in _walk(b))
        before: list[gast.stmt] = []
        stops = has_break or has_return
        me = _Loop(self.fresh("broke") if stops else None,
                   self.fresh("skipped") if has_continue and _partial_exits(s.body, True) else None)
        body = self.block(s.body, me)
        if me.skipped:
            body.insert(0, _assign(me.skipped, _at(gast.Constant(False, None), s), s))
        s.body = body
        if stops:
            before.append(_assign(me.broke, _at(gast.Constant(False, None), s), s))
            s.body.append(_at(gast.If(_load(me.broke), [_at(gast.Break(), s)], []), s))
            if s.orelse:
                after = _at(gast.If(_not_any([me.broke], s), self.block(s.orelse, outer), []), s)
                s.orelse = []
                return [*before, s, after]
        after_else = self.block(s.orelse, outer) if s.orelse else []
        s.orelse = []
        return [*before, s, *after_else]


def _own_nodes(node: gast.AST):
    """The nodes of ``node`` that belong to the current loop (not to loops nested inside)."""
    yield node
    if isinstance(node, gast.For | gast.While):  # its `else` runs in the current loop
        for s in node.orelse:
            yield from _own_nodes(s)
        return
    if isinstance(node, gast.FunctionDef | gast.Lambda):
        return
    for child in gast.iter_child_nodes(node):
        yield from _own_nodes(child)


def cells(tree: gast.FunctionDef, src) -> gast.FunctionDef:
    """Make writes through ``nonlocal`` explicit, on the gast tree before lowering.

    A nested ``def`` that writes ``acc`` of ``tree`` through ``nonlocal acc`` takes
    ``acc`` as a keyword-only parameter and returns its new value beside its result;
    each call, a statement ``add(v)`` or ``y = add(v)``, becomes ``add_result, acc =
    add(v, acc=acc)`` (or ``y, acc = ...``), so the write is a rebinding the
    derivative follows like any other. Any other use of such a function, and a
    ``nonlocal`` s2sad cannot make explicit, raises ``S2SADSyntaxError`` (``src``
    makes it at the user's line).
    """
    taken = {n.id for n in gast.walk(tree) if isinstance(n, gast.Name)}
    writers = {}
    for node in _own_scope(tree):
        if isinstance(node, gast.FunctionDef) and node is not tree:
            _nested_nonlocals(node, src)
            declared = next((s for s in gast.walk(node) if isinstance(s, gast.Global)), None)
            if declared is not None:
                raise src.syntax_error("s2sad cannot follow a write to a global from a nested function; "
                                       "return the value instead", declared)
            names = list(dict.fromkeys(n for s in _own_scope(node) if isinstance(s, gast.Nonlocal) for n in s.names))
            if names:
                _return_cells(node, names)
                writers[node.name] = names
    if writers:
        _rebind_at_calls(tree, writers, taken, src)
    return tree


def _own_scope(node: gast.AST, top: bool = True):
    """The nodes of one function scope: nested ``def``/``lambda`` are yielded, not entered."""
    yield node
    if top or not isinstance(node, gast.FunctionDef | gast.Lambda):
        for child in gast.iter_child_nodes(node):
            yield from _own_scope(child, False)


def _bound_in(fn: gast.FunctionDef) -> set[str]:
    params = {a.id for a in gast.walk(fn.args) if isinstance(a, gast.Name)}
    return params | {n.id for n in _own_scope(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def _nested_nonlocals(fn: gast.FunctionDef, src) -> None:
    """A ``nonlocal`` deeper down must name a variable of the function around it (made explicit
    when that function is differentiated), not one of ``tree``."""
    for node in _own_scope(fn):
        if isinstance(node, gast.FunctionDef) and node is not fn:
            local = _bound_in(fn)
            for s in _own_scope(node):
                if isinstance(s, gast.Nonlocal) and not set(s.names) <= local:
                    raise src.syntax_error("s2sad supports `nonlocal` only for a variable of the function "
                                           "directly around the nested function", s)
            _nested_nonlocals(node, src)


def _return_cells(fn: gast.FunctionDef, names: list[str]) -> None:
    fn.args.kwonlyargs += [gast.Name(n, gast.Param(), None, None) for n in names]
    fn.args.kw_defaults += [None] * len(names)
    for node in list(_own_scope(fn)):
        if isinstance(node, gast.Return):
            value = node.value or _at(gast.Constant(None, None), node)
            node.value = _at(gast.Tuple([value, *map(_load, names)], gast.Load()), node)
    fn.body = [s for s in fn.body if not isinstance(s, gast.Nonlocal)]
    for node in _own_scope(fn):
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if node is not fn and isinstance(stmts, list):
                setattr(node, field, [s for s in stmts if not isinstance(s, gast.Nonlocal)] or [_at(gast.Pass(), node)])
    last = fn.body[-1] if fn.body else fn
    fn.body.append(_at(gast.Return(gast.Tuple([gast.Constant(None, None), *map(_load, names)], gast.Load())), last))


def _rebind_at_calls(tree: gast.FunctionDef, writers: dict[str, list[str]], taken: set[str], src) -> None:
    calls = set()
    for node in _own_scope(tree):
        if node is not tree and isinstance(node, gast.FunctionDef | gast.Lambda):
            continue
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list):
                setattr(node, field, [_rebound(s, writers, taken, calls) for s in stmts])
    for node in gast.walk(tree):
        if isinstance(node, gast.Name) and node.id in writers and isinstance(node.ctx, gast.Load) \
                and id(node) not in calls:
            raise src.syntax_error(
                f"{node.id!r} writes {', '.join(map(repr, writers[node.id]))} with `nonlocal`; s2sad follows "
                f"such a function only where it is called as a statement (`{node.id}(...)` or "
                f"`y = {node.id}(...)`), not used as a value", node)


def _rebound(s: gast.stmt, writers: dict[str, list[str]], taken: set[str], calls: set[int]) -> gast.stmt:
    """``add(v)`` -> ``add_result, acc = add(v, acc=acc)``; ``y = add(v)`` -> ``y, acc = ...``."""
    value = s.value if isinstance(s, gast.Expr | gast.Assign) else None
    if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id in writers) \
            or (isinstance(s, gast.Assign) and len(s.targets) != 1):
        return s
    name = value.func.id
    calls.add(id(value.func))
    value.keywords += [gast.keyword(n, _load(n)) for n in writers[name]]
    if isinstance(s, gast.Assign):
        first = s.targets[0]
    else:
        fresh = f"{name}_result"
        while fresh in taken:
            fresh += "_"
        first = gast.Name(fresh, gast.Store(), None, None)
    stores = [gast.Name(n, gast.Store(), None, None) for n in writers[name]]
    return _at(gast.Assign([gast.Tuple([first, *stores], gast.Store())], value, None), s)


_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
_SCOPES = (gast.FunctionDef, gast.Lambda, gast.ClassDef)


def comprehensions(tree: gast.FunctionDef, src) -> gast.FunctionDef:
    """Comprehensions and generator expressions -> loops that build their value, on the gast tree.

    ``ys = [f(x) for x in xs if c]`` becomes ``ys = []`` / ``for x in xs: if c: ys.append(f(x))``;
    a dict comprehension writes items, a set comprehension is ``set`` of a list, a generator
    expression is built as a list, and ``sum(<generator>)`` adds as it goes. The loops are written
    before the statement holding the comprehension (inside the branch of an ``x if c else y``, an
    ``and``/``or`` or a ``while`` test whose evaluation it belongs to). A comprehension variable
    keeps its name unless the function uses that name elsewhere (then it gets a fresh one: it
    does not leak, as in Python 3). Nested functions are transformed on their own.
    """
    c = _Comprehensions(tree, src)
    tree.body = c.block(tree.body)
    return tree


def _contains_comprehension(node: gast.AST) -> bool:
    return any(isinstance(n, _COMPREHENSIONS) for n in _walk(node))


def _outside_names(node: gast.AST, bound: frozenset = frozenset()):
    """The names read or bound anywhere except as a comprehension's own variable."""
    if isinstance(node, gast.Name):
        if node.id not in bound:
            yield node.id
        return
    if isinstance(node, _COMPREHENSIONS):
        inner = bound | {n.id for g in node.generators for n in gast.walk(g.target) if isinstance(n, gast.Name)}
        yield from _outside_names(node.generators[0].iter, bound)
        parts = [*(p for g in node.generators for p in (g.target, *g.ifs)),
                 *(g.iter for g in node.generators[1:]),
                 *((node.key, node.value) if isinstance(node, gast.DictComp) else (node.elt,))]
        for p in parts:
            yield from _outside_names(p, inner)
        return
    for child in gast.iter_child_nodes(node):
        yield from _outside_names(child, bound)


def _rename(node: gast.AST, old: str, new: str) -> None:
    """Rename ``old`` to ``new`` where it means the same variable (not under a rebinding)."""
    if isinstance(node, gast.Name):
        if node.id == old:
            node.id = new
        return
    if isinstance(node, _COMPREHENSIONS) and old in {n.id for g in node.generators for n in gast.walk(g.target)
                                                      if isinstance(n, gast.Name)}:
        _rename(node.generators[0].iter, old, new)
        return
    if isinstance(node, gast.Lambda | gast.FunctionDef) and old in {
            a.id for a in gast.walk(node.args) if isinstance(a, gast.Name)}:
        return
    for child in gast.iter_child_nodes(node):
        _rename(child, old, new)


class _Comprehensions:
    def __init__(self, tree: gast.FunctionDef, src) -> None:
        self.src = src
        self.taken = {n.id for n in gast.walk(tree) if isinstance(n, gast.Name)}
        self.outside = set(_outside_names(tree))
        stored = {n.id for n in gast.walk(tree) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        self.builtins = {b.__name__ for b in (sum, list, set) if src.lookup(b.__name__) is b} - stored
        self.d = _Desugar(self.taken)
        self.depth = 0  # loops around the code being rewritten

    def block(self, stmts: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for s in stmts:
            out += self.stmt(s)
        return out

    def stmt(self, s: gast.stmt) -> list[gast.stmt]:
        """``s`` with its comprehensions replaced, preceded by the loops that compute them."""
        if isinstance(s, gast.FunctionDef | gast.ClassDef):
            return [s]
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(s, field, None), list):
                inner = int(field == "body" and isinstance(s, gast.For | gast.While))
                self.depth += inner
                setattr(s, field, self.block(getattr(s, field)))
                self.depth -= inner
        for handler in getattr(s, "handlers", ()):
            handler.body = self.block(handler.body)
        for case in getattr(s, "cases", ()):
            case.body = self.block(case.body)
        if isinstance(s, gast.While) and _contains_comprehension(s.test):
            return [self.while_(s)]
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                and (isinstance(s.value, gast.DictComp) or (isinstance(s.value, gast.ListComp) and not self.copies)) \
                and s.targets[0].id not in {
                    n.id for n in gast.walk(s.value) if isinstance(n, gast.Name)}:
            pre: list[gast.stmt] = []
            self.comprehension(s.value, pre, s.targets[0].id)  # built in the user's own name
            return pre
        pre = []
        for field, value in gast.iter_fields(s):
            if field in ("body", "orelse", "finalbody", "handlers", "cases"):
                continue
            if isinstance(value, gast.expr):
                setattr(s, field, self.expr(value, pre))
            elif isinstance(value, list):
                setattr(s, field, [self.expr(v, pre) if isinstance(v, gast.expr) else self.items(v, pre)
                                   for v in value])
        return [*pre, s]

    def items(self, item: gast.AST, pre: list[gast.stmt]) -> gast.AST:
        """A ``with`` item: its context expression, evaluated before the statement."""
        if isinstance(item, gast.withitem):
            item.context_expr = self.expr(item.context_expr, pre)
        return item

    def while_(self, s: gast.While) -> gast.While:
        """``while <test with a comprehension>: body`` -> ``while True: <loops>; if not test: break; body``."""
        if s.orelse:
            raise self.src.syntax_error("s2sad does not support a comprehension in the test of a "
                                        "`while ... else` loop yet; compute it in the loop body", s)
        pre: list[gast.stmt] = []
        test = self.expr(s.test, pre)
        stop = _at(gast.If(_at(gast.UnaryOp(gast.Not(), test), s), [_at(gast.Break(), s)], []), s)
        s.test = _true(s)
        s.body = [*pre, stop, *s.body]
        return s

    def expr(self, e: gast.expr, pre: list[gast.stmt]) -> gast.expr:
        """``e`` with its comprehensions replaced by names; the statements computing them go to ``pre``."""
        if not _contains_comprehension(e) or isinstance(e, gast.Lambda):
            return e
        if isinstance(e, _COMPREHENSIONS):
            return self.comprehension(e, pre)
        if isinstance(e, gast.Call) and "sum" in self.builtins and isinstance(e.func, gast.Name) and e.func.id == "sum" \
                and len(e.args) in (1, 2) and not e.keywords \
                and isinstance(e.args[0], gast.GeneratorExp | gast.ListComp):
            start = self.expr(e.args[1], pre) if len(e.args) == 2 else _at(gast.Constant(0, None), e)
            return self.total(e.args[0], start, pre)
        if isinstance(e, gast.IfExp):
            return self.lazy(e, pre)
        if isinstance(e, gast.BoolOp) and any(map(_contains_comprehension, e.values[1:])):
            return self.boolean(e, pre)
        if isinstance(e, gast.Compare) and any(map(_contains_comprehension, e.comparators[1:])):
            raise self.src.syntax_error("s2sad does not support a comprehension in a chained comparison "
                                        "yet; compute it first", e)
        for field, value in gast.iter_fields(e):
            if isinstance(value, gast.expr):
                setattr(e, field, self.expr(value, pre))
            elif isinstance(value, list):
                setattr(e, field, [self.expr(v, pre) if isinstance(v, gast.expr) else self.keyword(v, pre)
                                   for v in value])
        return e

    def keyword(self, kw: gast.AST, pre: list[gast.stmt]) -> gast.AST:
        if isinstance(kw, gast.keyword):
            kw.value = self.expr(kw.value, pre)
        return kw

    def lazy(self, e: gast.IfExp, pre: list[gast.stmt]) -> gast.Name:
        """``a if c else b`` holding a comprehension -> an ``if`` statement, so only one branch runs."""
        name = self.d.fresh("choice")
        test = self.expr(e.test, pre)
        branches = []
        for part in (e.body, e.orelse):
            block: list[gast.stmt] = []
            value = self.expr(part, block)
            branches.append([*block, _assign(name, value, part)])
        pre.append(_at(gast.If(test, *branches), e))
        return _at(_load(name), e)

    def boolean(self, e: gast.BoolOp, pre: list[gast.stmt]) -> gast.Name:
        """``a and b`` -> ``t = a`` / ``if t: t = b`` (``or``: ``if not t``), so ``b`` runs only when needed."""
        name = self.d.fresh("either" if isinstance(e.op, gast.Or) else "both")
        pre.append(_assign(name, self.expr(e.values[0], pre), e))
        for operand in e.values[1:]:  # `t = a; if t: t = b; if t: t = c`: a falsy t skips the rest
            inner: list[gast.stmt] = []
            inner.append(_assign(name, self.expr(operand, inner), operand))
            test = _load(name) if isinstance(e.op, gast.And) else _not_any([name], e)
            pre.append(_at(gast.If(_at(test, e), inner, []), operand))
        return _at(_load(name), e)

    def comprehension(self, e: gast.expr, pre: list[gast.stmt], name: str | None = None) -> gast.expr:
        """The loops building ``e``'s value into ``name`` (a fresh one by default); returns its value."""
        self.scope(e)
        kind = {gast.ListComp: "listcomp", gast.SetComp: "setcomp", gast.DictComp: "dictcomp",
                gast.GeneratorExp: "genexp"}[type(e)]
        name = name or self.d.fresh(kind)
        empty = gast.Dict([], []) if isinstance(e, gast.DictComp) else gast.List([], gast.Load())
        pre.append(_assign(name, _at(empty, e), e))

        def leaf() -> list[gast.stmt]:
            block: list[gast.stmt] = []
            if isinstance(e, gast.DictComp):
                key = self.expr(e.key, block)
                value = self.expr(e.value, block)
                target = gast.Subscript(gast.Name(name, gast.Load(), None, None), key, gast.Store())
                block.append(_at(gast.Assign([target], value, None), e.value))
            else:
                value = self.expr(e.elt, block)
                append = gast.Call(gast.Attribute(_load(name), "append", gast.Load()), [value], [])
                block.append(_at(gast.Expr(append), e.elt))
            return block

        pre += self.loops(e.generators, leaf, e)
        if isinstance(e, gast.SetComp) or (self.copies and not isinstance(e, gast.DictComp)):
            # inside a loop, a list built in place each iteration is handed on as a copy: the same
            # name would otherwise hold, for the analysis of writes, the lists of every iteration
            return _at(gast.Call(_load("set" if isinstance(e, gast.SetComp) else "list"), [_load(name)], []), e)
        return _at(_load(name), e)

    @property
    def copies(self) -> bool:
        return self.depth > 0 and "list" in self.builtins

    def total(self, e: gast.GeneratorExp | gast.ListComp, start: gast.expr, pre: list[gast.stmt]) -> gast.Name:
        """``sum(f(x) for x in xs)`` -> ``total = 0`` / ``for x in xs: total = total + f(x)``."""
        self.scope(e)
        name = self.d.fresh("total")
        pre.append(_assign(name, start, e))

        def leaf() -> list[gast.stmt]:
            block: list[gast.stmt] = []
            value = self.expr(e.elt, block)
            block.append(_assign(name, _at(gast.BinOp(_load(name), gast.Add(), value), e.elt), e.elt))
            return block

        pre += self.loops(e.generators, leaf, e)
        return _at(_load(name), e)

    def scope(self, e: gast.expr) -> None:
        """Give ``e``'s variables fresh names where the function uses the same name otherwise."""
        for g in e.generators:
            for n in [n for n in gast.walk(g.target) if isinstance(n, gast.Name)]:
                if n.id in self.outside:
                    old, new = n.id, self.d.fresh(n.id)
                    for part in [*(p for g2 in e.generators for p in (g2.target, *g2.ifs)),
                                 *(g2.iter for g2 in e.generators[1:]),
                                 *((e.key, e.value) if isinstance(e, gast.DictComp) else (e.elt,))]:
                        _rename(part, old, new)

    def loops(self, generators: list[gast.comprehension], leaf, like: gast.AST) -> list[gast.stmt]:
        """``for`` loops (and ``if`` filters) over ``generators``, with ``leaf()`` innermost."""
        if not generators:
            return leaf()
        g, rest = generators[0], generators[1:]
        if getattr(g, "is_async", 0):
            raise self.src.syntax_error("s2sad does not support `async for` in comprehensions", like)
        out: list[gast.stmt] = []
        iter_ = self.expr(g.iter, out)
        self.depth += 1
        body = self.filters(g.ifs, lambda: self.loops(rest, leaf, like))
        self.depth -= 1
        out.append(_at(gast.For(g.target, iter_, body, [], None), g.iter))
        return out

    def filters(self, ifs: list[gast.expr], inner) -> list[gast.stmt]:
        if not ifs:
            return inner()
        block: list[gast.stmt] = []
        test = self.expr(ifs[0], block)
        block.append(_at(gast.If(test, self.filters(ifs[1:], inner), []), ifs[0]))
        return block


_SELF_MATCHING = (bool, bytearray, bytes, dict, float, frozenset, int, list, set, str, tuple)


def matches(tree: gast.FunctionDef, src) -> gast.FunctionDef:
    """``match`` statements -> ``if``/``elif`` chains, on the gast tree before lowering.

    The subject is evaluated once (into ``subject`` unless it is a name no case rebinds); each case
    tests its pattern, then its guard, and binds its captures at the top of its body. Value
    (``==``), singleton (``is``), capture, wildcard, ``|`` (without captures) and class patterns
    (``isinstance`` and the attributes named by keyword or by ``__match_args__``) are supported;
    sequence and mapping patterns raise ``S2SADSyntaxError``. A capture is bound only when its case
    runs (Python leaves it bound after a guard fails too).
    """
    taken = {n.id for n in gast.walk(tree) if isinstance(n, gast.Name)}
    m = _Matches(src, _Desugar(taken))
    for node in reversed([tree, *(n for s in tree.body for n in _walk(s))]):  # inner first: a case body moves into an `if`
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and any(isinstance(s, gast.Match) for s in stmts):
                setattr(node, field, [t for s in stmts for t in (m.match(s) if isinstance(s, gast.Match) else [s])])
        for part in [*getattr(node, "handlers", ()), *getattr(node, "cases", ())]:
            if any(isinstance(s, gast.Match) for s in part.body):
                part.body = [t for s in part.body for t in (m.match(s) if isinstance(s, gast.Match) else [s])]
    return tree


class _Matches:
    def __init__(self, src, d: _Desugar) -> None:
        self.src = src
        self.d = d

    def match(self, s: gast.Match) -> list[gast.stmt]:
        for name in ("isinstance",):
            if self.src.lookup(name) is not getattr(builtins, name):
                raise self.src.syntax_error(f"s2sad desugars `match` with the builtin {name!r}, which this "
                                            "module rebinds", s)
        pre: list[gast.stmt] = []
        stored = {n.id for c in s.cases for n in gast.walk(c) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        stored |= {n.name for c in s.cases for n in gast.walk(c) if isinstance(n, gast.MatchAs | gast.MatchStar) and n.name}
        if isinstance(s.subject, gast.Name) and s.subject.id not in stored:
            subject = s.subject.id
        else:
            subject = self.d.fresh("subject")
            pre.append(_assign(subject, s.subject, s))
        orelse: list[gast.stmt] = []
        for case in reversed(s.cases):
            tests, binds = self.pattern(case.pattern, _at(_load(subject), case.pattern))
            if case.guard is not None:
                tests.append(_Substitute(dict(binds)).visit(case.guard))
            body = [*(_at(gast.Assign([gast.Name(n, gast.Store(), None, None)], e, None), case.pattern)
                      for n, e in binds), *case.body] or [_at(gast.Pass(), case.pattern)]
            if not tests:
                orelse = body
                continue
            test = tests[0] if len(tests) == 1 else _at(gast.BoolOp(gast.And(), tests), case.pattern)
            orelse = [_at(gast.If(test, body, orelse), case.pattern)]
        return [*pre, *orelse]

    def pattern(self, p: gast.AST, value: gast.expr) -> tuple[list[gast.expr], list[tuple[str, gast.expr]]]:
        """The tests ``value`` must pass to match ``p``, and the names ``p`` binds (to expressions)."""
        if isinstance(p, gast.MatchValue):
            return [_at(gast.Compare(value, [gast.Eq()], [p.value]), p)], []
        if isinstance(p, gast.MatchSingleton):
            return [_at(gast.Compare(value, [gast.Is()], [gast.Constant(p.value, None)]), p)], []
        if isinstance(p, gast.MatchAs):
            tests, binds = self.pattern(p.pattern, value) if p.pattern is not None else ([], [])
            return tests, binds + ([(p.name, value)] if p.name else [])
        if isinstance(p, gast.MatchOr):
            options = [self.pattern(q, value) for q in p.patterns]
            if any(b for _, b in options):
                raise self.src.syntax_error("s2sad does not support captures inside `|` patterns yet", p)
            parts = [_and(t, q) for (t, _), q in zip(options, p.patterns)]
            return [_at(gast.BoolOp(gast.Or(), parts), p)], []
        if isinstance(p, gast.MatchClass):
            return self.class_pattern(p, value)
        raise self.src.syntax_error("s2sad supports value, capture, `|` and class patterns in `match`; "
                                    "not sequence or mapping patterns yet", p)

    def class_pattern(self, p: gast.MatchClass, value: gast.expr):
        tests = [_at(gast.Call(_load("isinstance"), [value, p.cls], []), p)]
        binds: list[tuple[str, gast.expr]] = []
        attrs = list(p.kwd_attrs)
        if p.patterns:
            cls = self.resolve(p.cls)
            if cls in _SELF_MATCHING and len(p.patterns) == 1:
                t, b = self.pattern(p.patterns[0], value)
                tests += t
                binds += b
            elif isinstance(getattr(cls, "__match_args__", None), tuple) and len(cls.__match_args__) >= len(p.patterns):
                attrs = [*cls.__match_args__[:len(p.patterns)], *attrs]
            else:
                raise self.src.syntax_error("s2sad matches positional class patterns only for a class it can "
                                            "see now with `__match_args__`; name the attributes instead", p)
        positional = [] if self.resolve(p.cls) in _SELF_MATCHING else p.patterns
        for attr, q in zip(attrs, [*positional, *p.kwd_patterns]):
            t, b = self.pattern(q, _at(gast.Attribute(value, attr, gast.Load()), q))
            tests += t
            binds += b
        return tests, binds

    def resolve(self, e: gast.expr) -> object:
        if isinstance(e, gast.Name):
            return self.src.lookup(e.id)
        if isinstance(e, gast.Attribute):
            return getattr(self.resolve(e.value), e.attr, None)
        return None


def _and(tests: list[gast.expr], like: gast.AST) -> gast.expr:
    if not tests:
        return _true(like)
    return tests[0] if len(tests) == 1 else _at(gast.BoolOp(gast.And(), tests), like)


class _Substitute(gast.NodeTransformer):
    """A guard's reads of its case's captures, replaced by what they capture (read before binding)."""

    def __init__(self, binds: dict[str, gast.expr]) -> None:
        self.binds = binds

    def visit_Name(self, node: gast.Name) -> gast.expr:
        if isinstance(node.ctx, gast.Load) and node.id in self.binds:
            return _at(copy.deepcopy(self.binds[node.id]), node)
        return node
