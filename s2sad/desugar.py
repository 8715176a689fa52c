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

from dataclasses import dataclass

import gast

__all__ = ["desugar"]

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
                if self.result is None:  # the function's single final return
                    out.append(s)
                    return out
                value = s.value if s.value is not None else _at(gast.Constant(None, None), s)
                out.append(_assign(self.result, value, s))
                if self.returned and not (top and not rest):
                    out.append(_assign(self.returned, _true(s), s))
                if loop is not None:
                    out.append(_assign(loop.broke, _true(s), s))
                return out
            if isinstance(s, gast.Break):
                out.append(_assign(loop.broke, _true(s), s))
                return out
            if isinstance(s, gast.Continue):
                if loop.skipped:
                    out.append(_assign(loop.skipped, _true(s), s))
                return out
            if isinstance(s, gast.If):
                kinds = (_exits(s.body, loop is not None), _exits(s.orelse, loop is not None))
                s.body = self.block(s.body, loop)
                s.orelse = self.block(s.orelse, loop)
                out.append(s)
                if NEVER == kinds[0] == kinds[1] or not rest:
                    continue
                if MAYBE not in kinds:  # each branch always or never exits: absorb the rest
                    for branch, kind in ((s.body, kinds[0]), (s.orelse, kinds[1])):
                        if kind == NEVER:
                            branch.extend(self.block(rest, loop))
                    return out
                out.append(self.guard(rest, loop, s))
                return out
            if isinstance(s, gast.For | gast.While):
                # before the loop is rewritten: its `else` may leave the loop around it
                else_exits = loop is not None and _exits(s.orelse, True) != NEVER
                may_return = _exits_stmt(s, loop is not None) == MAYBE
                body_returns = any(isinstance(n, gast.Return) for b in s.body for n in _walk(b))
                out += self.loop(s, loop)
                if rest and else_exits:
                    if body_returns:  # a `return` in the loop's body leaves this loop too
                        out.append(_at(gast.If(_load(self.returned), [_assign(loop.broke, _true(s), s)], []), s))
                    out.append(self.guard(rest, loop, s))
                    return out
                if rest and self.returned and may_return:
                    # a `return` inside the loop: leave the enclosing loop too, or skip the rest
                    if loop is not None:
                        out.append(_at(gast.If(_load(self.returned), [_assign(loop.broke, _true(s), s)],
                                               self.block(rest, loop)), s))
                    else:
                        out.append(_at(gast.If(_not_any([self.returned], s), self.block(rest, loop), []), s))
                    return out
                continue
            out.append(s)
        return out

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
