"""Codegen: ``ir.Function`` -> Python source text and a line map.

Guarantees: the text is valid Python; above each group of statements that came
from one user line sits a comment ``# line N: <the user's line>``; ``linemap``
sends each generated line number to the user's ``Loc``. ``bind_helpers`` first gives
every reference to a helper object (``np``, ``unbroadcast``, a callee's vjp handle) a name.
"""

from __future__ import annotations

import ast
from collections import Counter

from . import ir, runtime
from .frontend import Source
from .naming import Namer
from .rules import NAMESPACES

__all__ = ["emit", "bind_helpers"]


def emit(fn: ir.Function, header: str) -> tuple[str, dict[int, ir.Loc]]:
    """Source of ``fn`` under a one-line ``header`` comment, and its line map."""
    out = _Printer(_all_reads(fn))
    out.line(f"# {header}")
    out.function(fn, 0)
    return "\n".join(out.lines) + "\n", out.linemap


def signature(params: ir.Params) -> str:
    parts = list(params.posonly)
    if params.posonly:
        parts.append("/")
    parts += params.args
    if params.vararg:
        parts.append(f"*{params.vararg}")
    elif params.kwonly:
        parts.append("*")
    parts += params.kwonly
    if params.kwarg:
        parts.append(f"**{params.kwarg}")
    return ", ".join(parts)


def statement(stmt: ir.Assign | ir.Do | ir.Return | ir.Del) -> str:
    if isinstance(stmt, ir.Del):
        return f"del {', '.join(stmt.names)}"
    if isinstance(stmt, ir.Return):
        v = stmt.value
        if isinstance(v, ir.Tuple) and len(v.items) > 1:
            return "return " + ", ".join(ir.expr_str(i) for i in v.items)
        return f"return {ir.expr_str(v)}"
    if isinstance(stmt, ir.Do):
        v = stmt.value
        if isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) and v.func.value is runtime.throw:
            return " ".join(["raise", *(ir.expr_str(a) for a in v.args[:1]), *(f"from {ir.expr_str(a)}" for a in v.args[1:])])
        return ir.expr_str(v)
    v = stmt.value
    if isinstance(v, ir.Closure) and isinstance(v.node, ast.FunctionDef):
        return ast.unparse(v.node)  # the user's nested def, as written
    if isinstance(v, (ir.SetItem, ir.ListMethod)):  # in place: the user's statement, then its new name
        if isinstance(v, ir.SetItem):
            text = f"{ir.expr_str(ir.Subscript(v.base, v.index))} = {ir.expr_str(v.value)}"
            after = stmt.target
        else:
            text = ir.expr_str(v)
            if v.method == "pop":
                text, after = f"{stmt.target[0]} = {text}", stmt.target[1]
            else:
                after = stmt.target
        if after != v.base.id:
            text += f"\n{after} = {v.base.id}"
        return text
    return f"{targets(stmt)} = {ir.expr_str(v)}"


def targets(stmt: ir.Assign) -> str:
    """``a``, ``a, b``, or ``(a,)`` for a one-name unpacking."""
    if isinstance(stmt.target, tuple) and len(stmt.target) == 1:
        return f"({stmt.target[0]},)"
    return ", ".join(stmt.targets)


def _all_reads(fn: ir.Function) -> Counter:
    """How often each name is read anywhere in ``fn``, nested functions included."""
    names: Counter = Counter()
    for s in ir.walk(fn.body):
        if isinstance(s, ir.Function):
            names.update(_all_reads(s))
        for e in ir.exprs(s):
            for n in ir.names_read(e):  # (not ``update``: it asks first whether they are a mapping)
                names[n] = names.get(n, 0) + 1
    return names


class _Printer:
    def __init__(self, read: Counter) -> None:
        self.read = read  # a loop result nobody reads is not printed; a test read once is inlined
        self.lines: list[str] = []
        self.linemap: dict[int, ir.Loc] = {}
        self.last: ir.Loc | None = None

    def line(self, text: str, loc: ir.Loc | None = None) -> None:
        self.lines.append(text)
        if loc is not None:
            self.linemap[len(self.lines)] = loc

    def comment(self, loc: ir.Loc | None, pad: str) -> None:
        if loc is not None and loc != self.last:
            self.line(f"{pad}# line {loc.line}: {loc.text}")
            self.last = loc

    def function(self, fn: ir.Function, depth: int) -> None:
        pad = "    " * depth
        self.line(f"{pad}def {fn.name}({signature(fn.params)}):", fn.loc)
        if fn.doc:
            self.line(f'{pad}    """{fn.doc}"""')
        self.last = None
        self.block(fn.body, depth + 1)
        self.last = None

    def block(self, stmts: list[ir.Stmt], depth: int) -> None:
        pad = "    " * depth
        start = len(self.lines)
        for stmt in stmts:
            if isinstance(stmt, ir.Function):
                self.function(stmt, depth)
            elif isinstance(stmt, ir.If):
                self.if_(stmt, depth)
            elif isinstance(stmt, ir.Loop):
                self.loop(stmt, depth)
            else:
                self.comment(stmt.loc, pad)
                for text in statement(stmt).split("\n"):
                    self.line(pad + text, stmt.loc)
        if len(self.lines) == start:
            self.line(pad + "pass")

    def bind(self, names: list[str], values: list[ir.Expr], depth: int, loc: ir.Loc | None) -> None:
        for name, value in zip(names, values):
            if not (isinstance(value, ir.Name) and value.id == name):
                self.line(f"{'    ' * depth}{name} = {ir.expr_str(value)}", loc)

    def if_(self, stmt: ir.If, depth: int) -> None:
        pad = "    " * depth
        self.comment(stmt.loc, pad)
        then = _binds(stmt.outs, stmt.yields[0], None)
        if stmt.kind == "try":  # the outs are bound last in the body (names and constants: they cannot raise)
            self.line(f"{pad}try:", stmt.loc)
            self.block(_then(stmt.body, then), depth + 1)
            handler, bound = stmt.orelse, ""
            if handler and isinstance(handler[0], ir.Assign) and _caught(handler[0].value):  # `except E as e`
                name = handler[0].target
                if name in stmt.outs:  # Python unbinds `e` after the block: a copy is an out
                    caught = next(c for c in (f"caught{k or ''}" for k in range(len(self.read) + 1)) if c not in self.read)
                    handler = [ir.Assign(name, ir.Name(caught), handler[0].loc), *handler[1:]]
                    name = caught
                else:
                    handler = handler[1:]
                bound = f" as {name}"
            self.line(f"{pad}except {ir.expr_str(stmt.test)}{bound}:")
            self.block(_then(handler, _binds(stmt.outs, stmt.yields[1], None)), depth + 1)
            return
        self.line(f"{pad}{'with' if stmt.kind == 'with' else 'if'} {ir.expr_str(stmt.test)}:", stmt.loc)
        self.block(_then(stmt.body, then), depth + 1)
        if (stmt.orelse or stmt.outs) and stmt.kind == "if":
            self.line(f"{pad}else:")
            self.block(_then(stmt.orelse, _binds(stmt.outs, stmt.yields[1], None)), depth + 1)

    def loop(self, stmt: ir.Loop, depth: int) -> None:
        pad = "    " * depth
        self.comment(stmt.loc, pad)
        self.bind(stmt.carried, stmt.inits, depth, stmt.loc)
        updates = _binds(stmt.carried, stmt.nexts, stmt.loc)
        if stmt.exit is not None:
            updates.append(ir.If(stmt.exit, [_BREAK], [], loc=stmt.loc))
        if stmt.kind == "for":
            self.line(f"{pad}for {', '.join(stmt.targets)} in {ir.expr_str(stmt.iter)}:", stmt.loc)
            self.block(stmt.body + updates, depth + 1)
        elif not stmt.cond_body or self.inline_test(stmt):
            test = stmt.cond_body[0].value if stmt.cond_body else stmt.cond
            self.line(f"{pad}while {ir.expr_str(test)}:", stmt.loc)
            self.block(stmt.body + updates, depth + 1)
        else:
            self.line(f"{pad}while True:", stmt.loc)
            stop = ir.If(ir.UnaryOp("not", stmt.cond), [_BREAK], [], loc=stmt.loc)
            self.block(stmt.cond_body + [stop] + stmt.body + updates, depth + 1)
        used = [(r, ir.Name(c)) for r, c in zip(stmt.results, stmt.carried) if r in self.read]
        self.bind([r for r, _ in used], [c for _, c in used], depth, stmt.loc)


    def inline_test(self, stmt: ir.Loop) -> bool:
        """``while i < n:`` when the condition is one operation whose result nothing else reads."""
        body = stmt.cond_body
        return (len(body) == 1 and isinstance(body[0], ir.Assign) and isinstance(stmt.cond, ir.Name)
                and body[0].target == stmt.cond.id and self.read[stmt.cond.id] == 1)


def _then(branch: list[ir.Stmt], binds: list[ir.Stmt]) -> list[ir.Stmt]:
    """A branch and the binding of its outs, which never run after a ``raise`` that ends it."""
    last = branch[-1] if branch else None
    if isinstance(last, ir.Do) and isinstance(last.value, ir.Call) and isinstance(last.value.func, ir.Ref) \
            and last.value.func.value is runtime.throw:
        return branch
    return branch + binds


def _caught(e: ir.Expr) -> bool:
    return isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and e.func.value is runtime.caught_exception


_BREAK = ir.Do(ir.Name("break"))  # printed as the statement `break`


def _binds(names: list[str], values: list[ir.Expr], loc: ir.Loc | None) -> list[ir.Stmt]:
    """``names = values`` at once (a loop's next values, a branch's outs): copies in their order
    unless one would overwrite a name a later one reads (``v_dot = a_dot; w_dot = v_dot``), then
    in an order where none does, and a tuple assignment for the names that swap in a cycle."""
    pending = [(n, v) for n, v in zip(names, values) if not (isinstance(v, ir.Name) and v.id == n)]
    out = []
    while pending:
        read = [ir.names_read(v) for _, v in pending]
        free = next((i for i, (n, _) in enumerate(pending)
                     if not any(n in r for j, r in enumerate(read) if j != i)), None)
        if free is None:
            out.append(ir.Assign(tuple(n for n, _ in pending), ir.Tuple([v for _, v in pending]), loc))
            break
        out.append(ir.Assign(*pending.pop(free), loc))
    return out


def bind_helpers(fns: list[ir.Function], src: Source, namer: Namer) -> dict[str, object]:
    """Give every helper reference a name: the user's own if it means the same object. Returns the
    objects the other names stand for, which ``load`` binds as closure cells."""
    chosen: dict[int, str] = {}
    bindings: dict[str, object] = {}
    refs = {id(ref): ref for fn in fns for ref in _helper_refs(fn)}  # statements are shared
    for ref in refs.values():
        root = ref.path[0]
        obj = ref.value if len(ref.path) == 1 else ref.root if ref.root is not None else NAMESPACES[root]
        if id(obj) not in chosen:
            if src.holds(root, obj):
                chosen[id(obj)] = root
            else:
                name = namer.fresh(root)
                chosen[id(obj)] = name
                bindings[name] = obj
        ref.path = (chosen[id(obj)], *ref.path[1:])
    return bindings


def _helper_refs(fn: ir.Function) -> list[ir.Ref]:
    out: list[ir.Ref] = []
    for stmt in ir.walk(fn.body):
        if isinstance(stmt, ir.Function):
            out += _helper_refs(stmt)
        else:
            for e in ir.exprs(stmt):
                _refs_in(e, out)
    return out


def _refs_in(e: ir.Expr, out: list[ir.Ref]) -> None:
    if type(e) is ir.Ref:
        if e.helper:
            out.append(e)
        return
    for c in ir.children(e):
        _refs_in(c, out)
