"""Closures: what a nested function exchanges with the function around it, made explicit on the
gast tree before lowering.

A Python closure reads an enclosing variable when it is *called*, and may write it through
``nonlocal``. The lowering gives every binding of a variable its own SSA name, so:

* ``cells``: a nested ``def`` writing through ``nonlocal`` returns the new values, and each call
  rebinds them;
* ``captures``: a nested function reading a variable that may change after the function is made
  (rebound or written in place later in the code, or in a later iteration of a loop around it)
  takes it as a keyword-only parameter, and each call passes the variable there: the value the
  closure would read at that call.

Guarantees: every variable a nested function still reads from the function around it keeps its
value from where the nested function is made on (a named one); the lowering snapshots it there.
What cannot be made explicit (such a function used as a value, not called by its name) raises
``S2SADSyntaxError`` at the user's line.
"""

from __future__ import annotations

import copy

import gast

from .frontend import _at, _load, fresh_name

__all__ = ["cells", "captures", "free_names", "rename_free", "stores"]

_SCOPES = (gast.FunctionDef, gast.Lambda, gast.ClassDef)
# methods that change a list, dict or array in place: a closure sees the change
_MUTATORS = {"append", "extend", "pop", "insert", "remove", "clear", "update", "setdefault", "sort", "reverse",
             "popitem", "fill"}


def _own(node: gast.AST, top: bool = True):
    """The nodes of one scope: nested functions and classes are yielded, not entered."""
    yield node
    if top or not isinstance(node, _SCOPES):
        for child in gast.iter_child_nodes(node):
            yield from _own(child, False)


def _body(fn: gast.FunctionDef | gast.Lambda) -> list[gast.AST]:
    return fn.body if isinstance(fn, gast.FunctionDef) else [fn.body]


def _body_nodes(fn: gast.FunctionDef | gast.Lambda):
    """The nodes of ``fn``'s own scope, its parameters, defaults and decorators left out."""
    for part in _body(fn):
        yield from _own(part, False)


def _params(fn: gast.FunctionDef | gast.Lambda) -> set[str]:
    a = fn.args
    return {p.id for p in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if p is not None}


def _bound(fn: gast.FunctionDef | gast.Lambda) -> set[str]:
    """The names local to ``fn``: its parameters, what it assigns, the functions it defines."""
    out = _params(fn)
    for n in _body_nodes(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            out.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.ClassDef)):
            out.add(n.name)
    return out


def _defaults(fn: gast.FunctionDef | gast.Lambda) -> list[gast.expr]:
    return [d for d in [*fn.args.defaults, *fn.args.kw_defaults] if d is not None]


def free_names(fn: gast.FunctionDef | gast.Lambda, defaults: bool = True) -> list[str]:
    """The names nested function ``fn`` reads from the scopes around it, in order: its body's
    (those of functions nested in it included) and, with ``defaults``, its default values'
    (evaluated where ``fn`` is made)."""
    out: dict[str, None] = {}
    if defaults:
        for d in _defaults(fn):
            out.update((n.id, None) for n in _own(d) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load))
    bound = _bound(fn)
    for n in _body_nodes(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id not in bound:
            out[n.id] = None
        elif isinstance(n, (gast.FunctionDef, gast.Lambda)):
            out.update((name, None) for name in free_names(n) if name not in bound)
    return list(out)


def rename_free(fn: gast.FunctionDef | gast.Lambda, names: dict[str, str]) -> gast.FunctionDef | gast.Lambda:
    """A copy of ``fn`` reading ``names[x]`` wherever it reads the enclosing variable ``x``."""
    fn = copy.deepcopy(fn)
    for d in _defaults(fn):
        _rename_in(d, names)
    _rename_body(fn, names)
    return fn


def _rename_body(fn: gast.FunctionDef | gast.Lambda, names: dict[str, str]) -> None:
    bound = _bound(fn)
    live = {k: v for k, v in names.items() if k not in bound}
    for part in _body(fn):
        _rename_in(part, live)


def _rename_in(node: gast.AST, names: dict[str, str]) -> None:
    for n in _own(node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in names:
            n.id = names[n.id]
        elif n is not node and isinstance(n, (gast.FunctionDef, gast.Lambda)):
            for d in _defaults(n):
                _rename_in(d, names)
            _rename_body(n, names)


WRITTEN = "s2sad_writes"  # on a call the lowering makes a write (np.copyto(x, v), out=x): the name x


def _locals(tree: gast.FunctionDef, nodes) -> set[str]:
    """The names ``tree`` binds (``nodes``: its scope's): ``np.sort(y)`` changes no ``np`` (a mutator's name
    counts as a change of a variable only where that variable is local)."""
    return _params(tree) | {name for n in nodes for name in _stored(n) if not isinstance(n, gast.Call)}


def stores(nodes) -> set[str]:
    """Names ``nodes`` (of one scope) rebind or change in place: ``x = ...``, ``x[i] = v``,
    ``x.append(v)``, ``np.copyto(x, v)`` (marked ``WRITTEN`` by the lowering), a ``def x``."""
    return {name for n in nodes for name in _stored(n)}


def _stored(n: gast.AST) -> list[str]:
    if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
        return [n.id]
    if isinstance(n, gast.Subscript) and isinstance(n.ctx, (gast.Store, gast.Del)) and isinstance(n.value, gast.Name):
        return [n.value.id]
    if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name) \
            and n.func.attr in _MUTATORS:
        return [n.func.value.id]
    if isinstance(n, gast.Call) and getattr(n, WRITTEN, None):
        return [getattr(n, WRITTEN)]
    if isinstance(n, gast.FunctionDef):
        return [n.name]
    return []


# ----- nonlocal -----


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
    for node in _own(tree):
        if isinstance(node, gast.FunctionDef) and node is not tree:
            _nested_nonlocals(node, src)
            declared = next((s for s in gast.walk(node) if isinstance(s, gast.Global)), None)
            if declared is not None:
                raise src.syntax_error("s2sad cannot follow a write to a global from a nested function; "
                                       "return the value instead", declared)
            names = list(dict.fromkeys(n for s in _own(node) if isinstance(s, gast.Nonlocal) for n in s.names))
            if names:
                _return_cells(node, names)
                writers[node.name] = names
    if writers:
        _rebind_at_calls(tree, writers, taken, src)
    return tree


def _nested_nonlocals(fn: gast.FunctionDef, src) -> None:
    """A ``nonlocal`` deeper down must name a variable of the function around it (made explicit
    when that function is differentiated), not one of ``tree``."""
    for node in _own(fn):
        if isinstance(node, gast.FunctionDef) and node is not fn:
            local = _bound(fn)
            for s in _own(node):
                if isinstance(s, gast.Nonlocal) and not set(s.names) <= local:
                    raise src.syntax_error("s2sad supports `nonlocal` only for a variable of the function "
                                           "directly around the nested function", s)
            _nested_nonlocals(node, src)


def _return_cells(fn: gast.FunctionDef, names: list[str]) -> None:
    fn.args.kwonlyargs += [gast.Name(n, gast.Param(), None, None) for n in names]
    fn.args.kw_defaults += [None] * len(names)
    for node in list(_own(fn)):
        if isinstance(node, gast.Return):
            value = node.value or _at(gast.Constant(None, None), node)
            node.value = _at(gast.Tuple([value, *map(_load, names)], gast.Load()), node)
    fn.body = [s for s in fn.body if not isinstance(s, gast.Nonlocal)]
    for node in _own(fn):
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if node is not fn and isinstance(stmts, list):
                setattr(node, field, [s for s in stmts if not isinstance(s, gast.Nonlocal)] or [_at(gast.Pass(), node)])
    last = fn.body[-1] if fn.body else fn
    fn.body.append(_at(gast.Return(gast.Tuple([gast.Constant(None, None), *map(_load, names)], gast.Load())), last))


def _rebind_at_calls(tree: gast.FunctionDef, writers: dict[str, list[str]], taken: set[str], src) -> None:
    calls: set[int] = set()
    for node in _own(tree):
        if node is not tree and isinstance(node, (gast.FunctionDef, gast.Lambda)):
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
    value = s.value if isinstance(s, (gast.Expr, gast.Assign)) else None
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


# ----- captures -----


def captures(tree: gast.FunctionDef, src) -> gast.FunctionDef:
    """Pass to each named nested function, at each call, the variables it reads that may change
    after it is made (see the module docstring), and the default values it is called with that read
    the function's variables; ``src`` makes errors at the user's line."""
    _Defaults(tree).rewrite()
    while _Captures(tree, src).round():
        pass  # a call passing a variable inside another nested function makes that one read it
    return tree


class _Captures:
    """One round over ``tree``: which named nested functions read a variable that varies."""

    def __init__(self, tree: gast.FunctionDef, src) -> None:
        self.tree, self.src = tree, src
        self.loops: dict[int, tuple[int, ...]] = {}  # id(node) -> the loops around it
        self.where: dict[int, tuple[int, int]] = {}
        self.nodes = list(self._walk(tree, ()))
        self.locals = _locals(tree, self.nodes)

    def _walk(self, node: gast.AST, loops: tuple[int, ...], top: bool = True):
        self.loops[id(node)] = loops
        yield node
        if not top and isinstance(node, _SCOPES):
            return
        inner = (*loops, id(node)) if isinstance(node, (gast.For, gast.While)) else loops
        for child in gast.iter_child_nodes(node):
            yield from self._walk(child, inner, False)

    def round(self) -> bool:
        defs: dict[str, list[gast.FunctionDef | gast.Lambda]] = {}
        makers: set[int] = set()  # the bindings of those names that make the functions (or None)
        for n in self.nodes:
            if isinstance(n, gast.FunctionDef) and n is not self.tree:
                defs.setdefault(n.name, []).append(n)
                makers.add(id(n))
            elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
                if isinstance(n.value, gast.Lambda):
                    defs.setdefault(n.targets[0].id, []).append(n.value)
                if isinstance(n.value, gast.Lambda) or (isinstance(n.value, gast.Constant) and n.value.value is None):
                    makers.add(id(n.targets[0]))
        changed = False
        for holder, fns in defs.items():
            varying = list(dict.fromkeys(x for fn in fns for x in free_names(fn, defaults=False)
                                         if x in self.locals and x != holder and self.varies(x, fn)))
            if varying:
                self.check_bindings(holder, fns, makers, varying[0])
                changed |= self.pass_at_calls(holder, fns, varying)
        return changed

    def varies(self, name: str, fn: gast.AST) -> bool:
        """May ``name`` change after ``fn`` is made: later in the code, or in a loop around both?"""
        end = (fn.end_lineno, fn.end_col_offset)
        around = set(self.loops[id(fn)])
        return any(name in _stored(n) and (_start(n) > end or around & set(self.loops[id(n)]))
                   for n in self.nodes if n is not fn)

    def check_bindings(self, holder: str, fns: list, makers: set[int], name: str) -> None:
        """Every binding of ``holder`` must make such a function (or be ``None``)."""
        for n in self.nodes:
            if holder in _stored(n) and id(n) not in makers:
                raise self.src.syntax_error(
                    f"the nested function {holder!r} captures {name!r}, which is rebound after {holder!r} is "
                    f"made (a closure reads it when called), and {holder!r} is also bound to another value "
                    f"here; s2sad follows such a function only where the name is bound to it alone", n)

    def pass_at_calls(self, holder: str, fns: list, varying: list[str]) -> bool:
        """``def g(y, *, a)``, and ``g(x)`` -> ``g(x, a=a)`` at every call; a use of ``g`` that is not a
        call is refused."""
        changed = False
        for fn in fns:
            new = [x for x in varying if x not in _params(fn)]
            fn.args.kwonlyargs += [gast.Name(x, gast.Param(), None, None) for x in new]
            fn.args.kw_defaults += [None] * len(new)
            changed |= bool(new)
        for name, call, shadowed in _uses(self.tree, holder):
            if call is None:
                raise self.src.syntax_error(
                    f"{holder!r} is a nested function that captures {varying[0]!r}, which is rebound after "
                    f"{holder!r} is made (a closure reads it when called); s2sad follows that where "
                    f"{holder!r} is called by its name, not where it is used as a value, as here. Pass "
                    f"{varying[0]!r} to it as an argument instead", name)
            given = {k.arg for k in call.keywords}
            for x in varying:
                if x in given:
                    continue
                if x in shadowed:
                    raise self.src.syntax_error(
                        f"this call of {holder!r} is inside a function with a variable {x!r} of its own, and "
                        f"{holder!r} reads the {x!r} around it; rename one of them", call)
                call.keywords.append(_at(gast.keyword(x, _load(x)), call))
                changed = True
        return changed


class _Defaults:
    """``def h(y, k=k)`` (or ``h = lambda y, k=k: ...``) called only by its name: the default is bound to a
    fresh name where ``h`` is made, and each call that leaves ``k`` out passes it (the default left is
    ``None``, which no call uses), so a derivative
    reaches ``k`` through the call's argument (a default value is kept by the function object, where no
    derivative follows it). Where ``h`` is also used as a value, the lowering records the defaults'
    reads and the analysis refuses one that carries a derivative."""

    def __init__(self, tree: gast.FunctionDef) -> None:
        self.tree = tree
        nodes = list(_own(tree))
        self.locals = _locals(tree, nodes)
        self.taken = {n.id for n in gast.walk(tree) if isinstance(n, gast.Name)}
        self.made: list[tuple[str, gast.FunctionDef | gast.Lambda, gast.stmt]] = []
        for n in nodes:
            if isinstance(n, gast.FunctionDef) and n is not tree:
                self.made.append((n.name, n, n))
            elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) \
                    and isinstance(n.value, gast.Lambda):
                self.made.append((n.targets[0].id, n.value, n))

    def rewrite(self) -> None:
        holders = [h for h, _, _ in self.made]
        for holder, fn, stmt in self.made:
            if holders.count(holder) == 1 and self.reads_locals(fn) and self.called_only(holder):
                self.pass_defaults(holder, fn, stmt)

    def reads_locals(self, fn: gast.FunctionDef | gast.Lambda) -> bool:
        return any(map(self.reads_locals_in, _defaults(fn)))

    def reads_locals_in(self, default: gast.expr) -> bool:
        return any(isinstance(n, gast.Name) and n.id in self.locals for n in gast.walk(default))

    def called_only(self, holder: str) -> bool:
        """Is every use of ``holder`` a call naming its arguments plainly (no ``*``, ``**``)?"""
        uses = list(_uses(self.tree, holder))
        return bool(uses) and all(call is not None and not any(isinstance(a, gast.Starred) for a in call.args)
                                  and all(k.arg is not None for k in call.keywords) for _, call, _ in uses)

    def pass_defaults(self, holder: str, fn: gast.FunctionDef | gast.Lambda, stmt: gast.stmt) -> None:
        a = fn.args
        positional = [*a.posonlyargs, *a.args]
        first = len(positional) - len(a.defaults)
        slots: list[tuple[gast.Name, list, int, int | None]] = [
            (positional[first + i], a.defaults, i, first + i) for i in range(len(a.defaults))]
        slots += [(p, a.kw_defaults, i, None) for i, p in enumerate(a.kwonlyargs) if a.kw_defaults[i] is not None]
        bound = []
        for p, defaults, i, index in slots:
            if not self.reads_locals_in(defaults[i]):
                continue
            name = fresh_name(f"{holder}_{p.id}_default", self.taken)
            bound.append(_at(gast.Assign([gast.Name(name, gast.Store(), None, None)], defaults[i], None), stmt))
            defaults[i] = _at(gast.Constant(None, None), defaults[i])  # (never used: every call passes it)
            for _, call, _ in _uses(self.tree, holder):
                if (index is None or len(call.args) <= index) and p.id not in {k.arg for k in call.keywords}:
                    call.keywords.append(_at(gast.keyword(p.id, _load(name)), call))
        body = _holding_body(self.tree, stmt)
        at = next(k for k, s in enumerate(body) if s is stmt)
        body[at:at] = bound


def _holding_body(tree: gast.AST, stmt: gast.stmt) -> list[gast.stmt]:
    """The statement list ``stmt`` is in."""
    for node in gast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list) and any(s is stmt for s in body):
                return body
    raise AssertionError("a statement outside the tree")


def _start(node: gast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _uses(node: gast.AST, name: str, shadowed: frozenset = frozenset(), top: bool = True):
    """``(name_node, call or None, names bound by the nested functions around it)`` for each read of
    the variable ``name`` of the scope ``node`` is in: ``call`` where it is the function a call calls."""
    nodes = list(_own(node, top))
    called = {id(n.func): n for n in nodes if isinstance(n, gast.Call) and isinstance(n.func, gast.Name)}
    for n in nodes:
        if isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load):
            yield n, called.get(id(n)), shadowed
        elif isinstance(n, (gast.FunctionDef, gast.Lambda)) and not (top and n is node):
            for d in _defaults(n):
                yield from _uses(d, name, shadowed, False)
            if name not in _bound(n):
                for part in _body(n):
                    yield from _uses(part, name, shadowed | _bound(n), False)
