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

from .frontend import _at, _load, all_nodes, child_nodes, fresh_name
from .lower import _always_raises, _exposed_in_loop, _may_raise, _scope_loads, _stores, _surely_bound, _unsure

__all__ = ["desugar", "comprehensions", "maps", "matches", "tries"]

NEVER, MAYBE, ALWAYS = "never", "maybe", "always"


@dataclass(slots=True)
class _Loop:
    broke: str | None  # set when the loop must stop after this iteration (break, return)
    skipped: str | None  # set by `continue` where code after it needs guarding

    def stop(self, like: gast.AST) -> gast.Assign:
        """``broke = True``: the loop stops after this iteration (a ``break`` or ``return`` in it, which gave it
        ``broke``)."""
        assert self.broke is not None, "an exit from a loop made without its flag"
        return _assign(self.broke, _true(like), like)


def desugar(tree: gast.FunctionDef, taken: set[str] | None = None) -> gast.FunctionDef:
    """Rewrite ``tree`` in place so it has no early exits (see the module docstring). ``taken``: the
    names in ``tree``, where the caller has them."""
    if taken is None:
        taken = {n.id for n in all_nodes(tree) if isinstance(n, gast.Name)}  # all scopes: never shadow
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


def _walk(node: gast.AST, statements: bool = False):
    """``gast.walk`` within one function: nested ``def`` and ``lambda`` have their own returns. With
    ``statements``, not into expressions (where no statement lies)."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        if not isinstance(n, _FUNCTIONS) and not (statements and isinstance(n, gast.expr)):
            todo += reversed(child_nodes(n))


_FUNCTIONS = (gast.FunctionDef, gast.Lambda)


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
            if isinstance(loop, (gast.For, gast.While)) and any(
                    isinstance(n, gast.Return) for b in (loop.body, loop.orelse) for s in b for n in _walk(s)):
                return True
    return False


def _partial_exits(stmts: list[gast.stmt], in_loop: bool) -> bool:
    """Does some ``if`` exit on only some of its paths (so the code after it needs a flag)?"""
    for s in stmts:
        for node in _own_nodes(s) if in_loop else _walk(s):
            if isinstance(node, gast.If) and MAYBE in (_exits(node.body, in_loop), _exits(node.orelse, in_loop)):
                return True
            if isinstance(node, (gast.For, gast.While)) and _exits_stmt(node, in_loop) != NEVER:
                return True
            if isinstance(node, gast.With) and _exits(node.body, in_loop) == MAYBE:  # nothing absorbs the rest
                return True
            if isinstance(node, gast.Try) and (_exits_stmt(node, in_loop) == MAYBE or (
                    node.orelse and _exits(node.body, in_loop) != NEVER)):  # its `else` is guarded
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
    if isinstance(s, gast.Return) or (in_loop and isinstance(s, (gast.Break, gast.Continue))):
        return ALWAYS
    if isinstance(s, gast.If):
        a, b = _exits(s.body, in_loop), _exits(s.orelse, in_loop)
        return a if a == b else MAYBE
    if isinstance(s, gast.With):
        return _exits(s.body, in_loop)
    if isinstance(s, gast.Try):  # the body and `else` run, or a handler does; then `finally`
        if _exits(s.finalbody, in_loop) != NEVER:
            return _exits(s.finalbody, in_loop)
        paths = {_exits(s.body + s.orelse, in_loop), *(_exits(h.body, in_loop) for h in s.handlers)}
        return paths.pop() if len(paths) == 1 else MAYBE
    if isinstance(s, (gast.For, gast.While)):  # a `return` in it, or an exit in its `else`
        returns = any(isinstance(n, gast.Return) for n in _walk(s))
        return MAYBE if returns or _exits(s.orelse, in_loop) != NEVER else NEVER
    return NEVER


class _Desugar:
    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.result: str | None = None
        self.returned: str | None = None

    def fresh(self, base: str) -> str:
        return fresh_name(base, self.taken)

    def needs_result(self, body: list[gast.stmt]) -> bool:
        """True when some ``return`` is not the function's last top-level statement."""
        returns = [n for s in body for n in _walk(s, statements=True) if isinstance(n, gast.Return)]
        return bool(returns) and not (len(returns) == 1 and body[-1] is returns[0])

    def block(self, stmts: list[gast.stmt], loop: _Loop | None, top: bool = False) -> list[gast.stmt]:
        """Desugar one statement list; ``top``: the function's own body, where nothing follows."""
        out: list[gast.stmt] = []
        for i, s in enumerate(stmts):
            rest = stmts[i + 1:]
            if isinstance(s, gast.Return):
                self.return_(s, loop, bool(top and not rest), out)
                return out
            if isinstance(s, gast.Break | gast.Continue):
                assert loop is not None  # (Python compiles them only inside a loop)
                if isinstance(s, gast.Break):
                    out.append(loop.stop(s))
                elif loop.skipped:  # (a `continue` needs no flag where nothing after it is guarded)
                    out.append(_assign(loop.skipped, _true(s), s))
                return out
            if isinstance(s, gast.If) and self.if_(s, rest, loop, out):
                return out
            if isinstance(s, gast.With) and self.with_(s, rest, loop, out):
                return out
            if isinstance(s, (gast.For, gast.While)) and self.loop_in_block(s, rest, loop, out):
                return out
            if isinstance(s, gast.Try) and self.try_(s, rest, loop, out):
                return out
            if not isinstance(s, (gast.If, gast.With, gast.For, gast.While, gast.Try)):
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
            out.append(loop.stop(s))

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
        return self.placed(s, kind, rest, loop, out)

    def try_(self, s: gast.Try, rest: list[gast.stmt], loop: _Loop | None, out: list[gast.stmt]) -> bool:
        """As ``if_``, for a ``try`` (its body, handlers, ``else`` and ``finally`` desugared in place)."""
        kind = _exits_stmt(s, loop is not None)
        body_exits = _exits(s.body, loop is not None) != NEVER
        s.body = self.block(s.body, loop)
        for h in s.handlers:
            h.body = self.block(h.body, loop) or [_at(gast.Pass(), h)]
        if s.orelse and body_exits:  # an exit in the body skips `else`
            s.orelse = [self.guard(s.orelse, loop, s)]
        else:
            s.orelse = self.block(s.orelse, loop)
        s.finalbody = self.block(s.finalbody, loop)
        return self.placed(s, kind, rest, loop, out)

    def placed(self, s: gast.stmt, kind: str, rest: list[gast.stmt], loop: _Loop | None, out: list[gast.stmt]
               ) -> bool:
        """Append ``s``, desugared, which exits ``kind`` (never, maybe, always): the ``rest`` after it is
        dropped where it always exits and guarded where it may; True when the ``rest`` was taken care of."""
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
        returns = body_returns or any(isinstance(n, gast.Return) for b in s.orelse for n in _walk(b))
        out += self.loop(s, loop)
        if rest and else_exits:
            assert loop is not None  # (else_exits: only inside a loop)
            if body_returns:  # a `return` in the loop's body leaves this loop too
                assert self.returned is not None  # (made for a function with a return inside a loop)
                out.append(_at(gast.If(_load(self.returned), [loop.stop(s)], []), s))
            out.append(self.guard(rest, loop, s))
            return True
        if self.returned and may_return and returns and (rest or loop is not None):
            # a `return` inside the loop: leave the enclosing loop too (even where nothing
            # follows in its body), or skip the rest
            if loop is not None:
                out.append(_at(gast.If(_load(self.returned), [loop.stop(s)],
                                       self.block(rest, loop)), s))
            else:
                out.append(_at(gast.If(_not_any([self.returned], s), self.block(rest, loop), []), s))
            return True
        return False

    def guard(self, rest: list[gast.stmt], loop: _Loop | None, like: gast.AST) -> gast.If:
        """``if not <exit flags>: rest`` after a statement that exits on some paths."""
        flags = [f for f in ((loop.broke, loop.skipped) if loop else (self.returned,)) if f]
        assert flags, "a partial exit without its flag: _partial_exits and the flags disagree"
        return _at(gast.If(_not_any(flags, like), self.block(rest, loop), []), like)

    def loop(self, s: gast.For | gast.While, outer: _Loop | None) -> list[gast.stmt]:
        _items_by_key(s)
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
        if me.broke is not None:  # (stops)
            before.append(_assign(me.broke, _at(gast.Constant(False, None), s), s))
            s.body.append(_at(gast.If(_load(me.broke), [_at(gast.Break(), s)], []), s))
            if s.orelse:
                after = _at(gast.If(_not_any([me.broke], s), self.block(s.orelse, outer), []), s)
                s.orelse = []
                return [*before, s, after]
        after_else = self.block(s.orelse, outer) if s.orelse else []
        s.orelse = []
        return [*before, s, *after_else]


def _items_by_key(s: gast.For | gast.While) -> None:
    """``for k, v in d.items(): body`` -> ``for k in d.keys(): v = d[k]; body`` (``d`` a name the body does not change):
    a key is then the dict's key, which carries no gradient (``k.startswith("W")`` is no use of one), and the
    value an item read."""
    it, target = getattr(s, "iter", None), getattr(s, "target", None)
    if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and it.func.attr == "items"
            and not it.args and not it.keywords and isinstance(it.func.value, gast.Name)
            and isinstance(target, (gast.Tuple, gast.List)) and len(target.elts) == 2
            and all(isinstance(e, gast.Name) for e in target.elts)):
        return
    d = it.func.value.id
    if d in _stores(s.body) or d in {e.id for e in target.elts}:
        return
    key, value = target.elts
    keys = gast.Call(gast.Attribute(_load(d), "keys", gast.Load()), [], [])
    s.iter, s.target = _at(keys, it), gast.Name(key.id, gast.Store(), None, None)
    read = gast.Subscript(_load(d), _load(key.id), gast.Load())
    s.body.insert(0, _at(gast.Assign([gast.Name(value.id, gast.Store(), None, None)], read, None), s))


def _own_nodes(node: gast.AST):
    """The nodes of ``node`` that belong to the current loop (not to loops nested inside)."""
    yield node
    if isinstance(node, (gast.For, gast.While)):  # its `else` runs in the current loop
        for s in node.orelse:
            yield from _own_nodes(s)
        return
    if isinstance(node, (gast.FunctionDef, gast.Lambda)):
        return
    for child in gast.iter_child_nodes(node):
        yield from _own_nodes(child)


_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
_SCOPES = (gast.FunctionDef, gast.Lambda, gast.ClassDef)


def maps(tree: gast.FunctionDef, src, nodes: list[gast.AST]) -> gast.FunctionDef:
    """``map(f, xs)`` -> ``(f(x) for x in xs)``, ``map(f, xs, ys)`` -> ``(f(x, y) for x, y in zip(xs, ys))``,
    where ``map`` is the builtin and ``f`` a name, an attribute or a lambda (read at each item as ``map``
    reads it once: its value cannot change between them); the comprehensions pass then writes the loops.
    ``nodes``: the tree's nodes (``frontend.all_nodes``)."""
    names = [n for n in nodes if isinstance(n, gast.Name)]
    stored = {n.id for n in names if isinstance(n.ctx, gast.Store)}
    if "map" in stored or src.lookup("map") is not builtins.map or ("zip" in stored or src.lookup("zip") is not zip):
        return tree
    taken = {n.id for n in names}
    for node in nodes:
        for field, value in gast.iter_fields(node):
            if isinstance(value, list):
                value[:] = [_mapped(v, taken) for v in value]
            elif isinstance(value, gast.Call):
                setattr(node, field, _mapped(value, taken))
    return tree


def _mapped(node, taken: set[str]):
    """``node`` as a generator expression where it is a ``map`` call ``maps`` rewrites; else ``node``."""
    if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "map"
            and len(node.args) >= 2 and not node.keywords and not any(isinstance(a, gast.Starred) for a in node.args)
            and isinstance(node.args[0], (gast.Name, gast.Attribute, gast.Lambda))):
        return node
    fn, iterables = node.args[0], [_mapped(a, taken) for a in node.args[1:]]
    names = [fresh_name("item", taken) for _ in iterables]
    target = gast.Name(names[0], gast.Store(), None, None) if len(names) == 1 else gast.Tuple(
        [gast.Name(n, gast.Store(), None, None) for n in names], gast.Store())
    source = iterables[0] if len(iterables) == 1 else gast.Call(_load("zip"), iterables, [])
    call = gast.Call(fn, [_load(n) for n in names], [])
    return _at(gast.GeneratorExp(call, [gast.comprehension(target, source, [], 0)]), node)


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
    if not any(_contains_comprehension(s) for s in tree.body):
        return tree  # (nothing to rewrite, and no builtin looked up: a derivative relies on none)
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
    if isinstance(node, (gast.Lambda, gast.FunctionDef)) and old in {
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
        if isinstance(s, (gast.FunctionDef, gast.ClassDef)):
            return [s]
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(s, field, None), list):
                inner = int(field == "body" and isinstance(s, (gast.For, gast.While)))
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
                and isinstance(e.args[0], (gast.GeneratorExp, gast.ListComp)):
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
        stored |= {n.name for c in s.cases for n in gast.walk(c) if isinstance(n, (gast.MatchAs, gast.MatchStar)) and n.name}
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
            elif isinstance(match_args := getattr(cls, "__match_args__", None), tuple) \
                    and len(match_args) >= len(p.patterns):
                attrs = [*match_args[:len(p.patterns)], *attrs]
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


def tries(tree: gast.FunctionDef, src) -> gast.FunctionDef:
    """``try`` statements -> the form lowering takes: one ``except`` clause and no ``finally``, on the
    gast tree after ``desugar`` (early exits inside a ``try`` are flags by then).

    Lowering differentiates ``try: body / except E: handler`` as a branch on whether the body
    completed, which is exact where no name the body may have set before it raised is read on the
    path where it raised (``lower._unsure``). Several ``except`` clauses become one, catching them
    all, and an ``if``/``elif`` on ``isinstance`` of the exception (so the pullback records which
    handler ran, as an ``if`` records its branch). Where that check fails, or there is a ``finally``,
    the body is split into groups of statements that each pass it: each group runs in a ``try`` that
    keeps the exception (``exc``), later groups only where none was raised, and the handlers after,
    as an ``if`` on it. With ``finally`` the groups catch every exception (the handlers' and ``else``'s
    too), the ``finally`` block follows, and then the exception no handler took is raised again: it
    runs on every path, with the values each name held there. What cannot be made exact (a name a
    loop or ``with`` inside the body sets, read where it may have stopped partway) is refused at the
    user's line, and so is ``except*``.
    """
    _Tries(tree, src).block(tree.body, [])
    return tree


class _Tries:
    def __init__(self, tree: gast.FunctionDef, src) -> None:
        self.tree = tree
        self.src = src
        self.d = _Desugar({n.id for n in gast.walk(tree) if isinstance(n, gast.Name)})

    def block(self, stmts: list[gast.stmt], loops: list[gast.stmt]) -> list[gast.stmt]:
        stmts[:] = [t for s in stmts for t in self.stmt(s, loops)]
        return stmts

    def stmt(self, s: gast.stmt, loops: list[gast.stmt]) -> list[gast.stmt]:
        if isinstance(s, _SCOPES):
            return [s]
        star = getattr(gast, "TryStar", None)
        if star is not None and isinstance(s, star):
            raise self.src.syntax_error("s2sad does not support `except*` (exception groups)", s)
        inner = [*loops, s] if isinstance(s, (gast.For, gast.While)) else loops
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(s, field, None), list):
                self.block(getattr(s, field), inner)
        for h in getattr(s, "handlers", ()):
            self.block(h.body, loops)
        if not isinstance(s, gast.Try):
            return [s]
        if not s.finalbody:
            inline = self.inline(s)
            if not self.unsure(inline.body, inline.handlers[0].body, inline, loops):
                return [inline]
        return self.expanded(s, loops)

    # ----- one `except` clause -----

    def inline(self, s: gast.Try) -> gast.Try:
        """``s`` with its clauses as one: ``except (A, B) as exc: if isinstance(exc, A): ... else: ...``."""
        if len(s.handlers) == 1:
            return s
        exc = self.d.fresh("exc")
        handler = gast.ExceptHandler(self.catching(s), gast.Name(exc, gast.Store(), None, None),
                                     self.dispatch(s.handlers, exc, self.unmatched(s, exc)))
        return _at(gast.Try(s.body, [_at(handler, s.handlers[0])], s.orelse, []), s)

    def catching(self, s: gast.Try, final: bool = False) -> gast.expr:
        """What ``s``'s groups catch: its one clause's types, else everything (``dispatch`` tells them apart)."""
        if len(s.handlers) == 1 and s.handlers[0].type is not None and not (final or s.finalbody):
            return s.handlers[0].type
        return _at(_load("BaseException"), s)

    def unmatched(self, s: gast.Try, exc: str) -> list[gast.stmt] | None:
        """What runs where no clause of ``s`` matches the exception: ``raise`` it again (None: every one matches)."""
        if (len(s.handlers) == 1 and s.handlers[0].type is not None) or s.handlers[-1].type is None:
            return None
        return [_at(gast.Raise(_at(_load(exc), s), None), s.handlers[-1])]

    def dispatch(self, handlers: list[gast.ExceptHandler], exc: str, unmatched: list[gast.stmt] | None,
                 wrap=None) -> list[gast.stmt]:
        """``if isinstance(exc, A): [e = exc;] handler_a elif ... else: unmatched``: the handler Python would
        run (``unmatched`` None: the last one runs without a test). ``wrap`` (for ``finally``): each handler's
        code as ``groups``, after ``exc`` is set to None (it took it)."""
        chain: list[gast.stmt] = unmatched or []
        for k, h in reversed(list(enumerate(handlers))):
            body = list(h.body)
            name = h.name.id if h.name is not None else None
            if _bare_raises(body):  # outside the `except` block, `raise` names the exception it re-raises
                name = name or (self.d.fresh("caught") if wrap else exc)
                _reraise(body, name)
            if wrap is not None:
                body = [_assign(exc, _at(gast.Constant(None, None), h), h), *wrap(body)]
            if name is not None and name != exc:
                body.insert(0, _assign(name, _at(_load(exc), h), h))
            if (unmatched is None and k == len(handlers) - 1) or h.type is None:
                chain = body
                continue
            test = _at(gast.Call(_load("isinstance"), [_at(_load(exc), h), copy.deepcopy(h.type)], []), h)
            chain = [_at(gast.If(test, body, chain), h)]
        return chain

    # ----- groups -----

    def expanded(self, s: gast.Try, loops: list[gast.stmt], final: bool = False) -> list[gast.stmt]:
        """``s`` as groups of statements each in its own ``try`` keeping the exception, then the handlers (and
        ``finally``) as ``if``s on it. ``final`` (implied by a ``finally``): every exception is kept, the
        handlers' and ``else``'s too, and raised again at the end where no clause took it."""
        exc = self.d.fresh("exc")
        final = final or bool(s.finalbody)
        catch = self.catching(s, final)
        out = [_assign(exc, _at(gast.Constant(None, None), s), s), *self.groups(s.body, exc, catch, loops)]
        else_ = self.groups(s.orelse, exc, catch, loops) if final else s.orelse
        wrap = (lambda body: self.groups(body, exc, catch, loops)) if final else None
        handlers = self.dispatch(s.handlers, exc, [] if final else self.unmatched(s, exc), wrap) if s.handlers else []
        raised = _at(gast.Compare(_load(exc), [gast.IsNot()], [gast.Constant(None, None)]), s)
        if handlers or else_:
            out.append(_at(gast.If(raised, handlers or [_at(gast.Pass(), s)], else_), s))
        if final:
            last = (s.finalbody or s.orelse or s.handlers[-1].body or s.body)[-1]
            again = _at(gast.Compare(_load(exc), [gast.IsNot()], [gast.Constant(None, None)]), last)
            out += [*s.finalbody, _at(gast.If(again, [_at(gast.Raise(_load(exc), None), last)], []), last)]
        return out

    def groups(self, stmts: list[gast.stmt], exc: str, catch: gast.expr, loops) -> list[gast.stmt]:
        """``stmts`` in as few groups as lowering differentiates exactly, each ``try: group / except catch as exc:
        pass``, the second and later under ``if exc is None:``. A loop or ``if`` that would leave a name read
        where the exception is handled half-set has its own body in groups (``protect``), and a group of its own."""
        out: list[gast.stmt] = []
        group: list[gast.stmt] = []

        def flush(wrap: bool = True) -> None:
            if not group:
                return
            handler = _at(gast.ExceptHandler(copy.deepcopy(catch), gast.Name(exc, gast.Store(), None, None),
                                             [_at(gast.Pass(), group[0])]), group[0])
            wrapped = [_at(gast.Try(list(group), [handler], [], []), group[0])] \
                if wrap and any(map(_may_raise, group)) else group[:]
            none = _at(gast.Compare(_load(exc), [gast.Is()], [gast.Constant(None, None)]), group[0])
            out.extend(wrapped if not out else [_at(gast.If(none, wrapped, []), group[0])])
            group.clear()

        todo = list(stmts)
        while todo:
            s = todo.pop(0)
            if not self.unsure(group + [s], [], None, loops):
                group.append(s)
                continue
            flush()
            if not self.unsure([s], [], None, loops):
                group.append(s)
            elif isinstance(s, gast.Try):  # a `try` inside: its parts as statements, each exact
                todo[:0] = self.expanded(s, loops, final=True)
            elif isinstance(s, (gast.For, gast.While, gast.If)):
                *prelude, protected = self.protect(s, exc, catch, loops)
                for p in prelude:  # (a `try` of its own)
                    group.append(p)
                    flush(wrap=False)
                group.append(protected)  # a group of its own: what follows runs only where it raised nothing
                flush(wrap=not isinstance(protected, gast.While))
            else:
                name = sorted(self.unsure([s], [], None, loops))[0]
                raise self.src.syntax_error(
                    f"{name!r} is set inside this `with` block, which may stop partway when it raises, and is "
                    f"read where the exception is handled; s2sad cannot tell which value it holds there, so it "
                    f"cannot differentiate that exactly. Set {name!r} again in the `except` block, or move this "
                    f"statement out of the `try`", s)
        flush()
        return out

    def protect(self, s: gast.For | gast.While | gast.If, exc: str, catch: gast.expr, loops) -> list[gast.stmt]:
        """``s`` with its own code in ``groups``: a loop stops at the first exception (``while``'s test runs in
        a group too, before each iteration), so each name holds what it held where the exception was raised.
        Marked ``protected``: lowering counts nothing it sets as half-set (``lower._unsure``)."""
        s.protected = True
        if isinstance(s, gast.If):
            s.body = self.groups(s.body, exc, catch, loops)
            s.orelse = self.groups(s.orelse, exc, catch, loops)
            return [s]
        body, tail = s.body, []
        last = body[-1] if body else None
        if isinstance(last, gast.If) and len(last.body) == 1 and isinstance(last.body[0], gast.Break):
            body, tail = body[:-1], [last]  # desugar's `if broke: break` stays last
        body = self.groups(body, exc, catch, [*loops, s])
        raised = _at(gast.Compare(_load(exc), [gast.IsNot()], [gast.Constant(None, None)]), s)
        prelude = []
        if isinstance(s, gast.While):
            go = self.d.fresh("go")

            def test() -> gast.Try:  # `go = <test>`, False where it raised
                handler = _at(gast.ExceptHandler(copy.deepcopy(catch), gast.Name(exc, gast.Store(), None, None),
                                                 [_assign(go, _at(gast.Constant(False, None), s), s)]), s)
                return _at(gast.Try([_assign(go, copy.deepcopy(s.test), s)], [handler], [], []), s)

            prelude = [test()]
            body.append(_at(gast.If(raised, [_assign(go, _at(gast.Constant(False, None), s), s)], [test()]), s))
            s.test = _load(go)
        elif tail:
            body.append(_at(gast.If(raised, [_assign(tail[0].test.id, _true(s), s)], []), s))
        else:
            stop = self.d.fresh("stop")
            tail = [_assign(stop, raised, s), _at(gast.If(_load(stop), [_at(gast.Break(), s)], []), s)]
        s.body = body + tail
        return [*prelude, s]

    def unsure(self, body: list[gast.stmt], handler: list[gast.stmt], node: gast.AST | None, loops) -> set[str]:
        """Lowering's check (``lower.try_stmt``) of ``try: body / except: handler``: the names the body may
        have set before it raised that are read where the handler ran (``node`` the ``try``; None: a group
        of statements not yet in one)."""
        inside = {id(n) for part in (node,) if part is not None for n in gast.walk(part)}
        inside |= {id(n) for s in body + handler for n in gast.walk(s)}
        read = {n.id for s in handler for n in gast.walk(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
        later = {n.id for n in _scope_loads(self.tree) if id(n) not in inside}
        later |= _exposed_in_loop(loops[-1]) if loops else set()
        later = set() if handler and _always_raises(handler) else later - _surely_bound(handler)
        return _unsure(body) & (read | later)


def _walk_handler(stmts: list[gast.stmt]):
    """The nodes of a handler's own code: not nested functions, nor the handlers of a ``try`` inside it
    (where ``raise`` re-raises their exception)."""
    for s in stmts:
        todo = [s]
        while todo:
            node = todo.pop()
            yield node
            if isinstance(node, (*_SCOPES, gast.ExceptHandler)):
                continue
            todo += gast.iter_child_nodes(node)


def _bare_raises(stmts: list[gast.stmt]) -> bool:
    return any(isinstance(n, gast.Raise) and n.exc is None for n in _walk_handler(stmts))


def _reraise(stmts: list[gast.stmt], name: str) -> None:
    for n in _walk_handler(stmts):
        if isinstance(n, gast.Raise) and n.exc is None:
            n.exc = _at(_load(name), n)
