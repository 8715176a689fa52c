"""Lowering: gast ``FunctionDef`` -> flat SSA ``ir.Function``.

Expects a ``frontend.Source``. Guarantees: every nested expression becomes a
statement whose operands are atoms; every local is assigned once, its versions
named ``x``, ``x_1``, ... after the user's name; outside names become ``Ref`` with
the object they resolved to now; each statement carries the user's ``Loc``.
Syntax outside the supported subset raises ``S2SADSyntaxError`` at the user's line.
"""

from __future__ import annotations

import types

import gast

from . import ir
from .frontend import Source
from .naming import Namer

__all__ = ["lower"]

_BINOPS = {
    gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.FloorDiv: "//",
    gast.Mod: "%", gast.Pow: "**", gast.MatMult: "@", gast.BitAnd: "&", gast.BitOr: "|",
    gast.BitXor: "^", gast.LShift: "<<", gast.RShift: ">>",
}
_UNARYOPS = {gast.USub: "-", gast.UAdd: "+", gast.Not: "not", gast.Invert: "~"}
_CMPOPS = {
    gast.Lt: "<", gast.LtE: "<=", gast.Eq: "==", gast.NotEq: "!=", gast.Gt: ">", gast.GtE: ">=",
    gast.Is: "is", gast.IsNot: "is not", gast.In: "in", gast.NotIn: "not in",
}
_TEMP_NAMES = {
    "+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod", "**": "pow",
    "@": "matmul", "&": "and_", "|": "or_", "^": "xor", "<<": "lshift", ">>": "rshift",
}
_UNSUPPORTED = {
    gast.If: "`if` statements", gast.For: "`for` loops", gast.While: "`while` loops",
    gast.Break: "`break`", gast.Continue: "`continue`", gast.With: "`with` blocks",
    gast.Try: "`try` blocks", gast.Raise: "`raise`", gast.Assert: "`assert`",
    gast.FunctionDef: "nested `def`", gast.ClassDef: "`class` definitions",
    gast.Global: "`global` declarations", gast.Nonlocal: "`nonlocal` declarations",
    gast.Delete: "`del`", gast.Import: "`import` inside the function",
    gast.ImportFrom: "`import` inside the function", gast.AsyncFunctionDef: "`async def`",
    gast.IfExp: "conditional expressions (`a if c else b`)", gast.BoolOp: "`and` / `or`",
    gast.Lambda: "`lambda`", gast.ListComp: "list comprehensions",
    gast.SetComp: "set comprehensions", gast.DictComp: "dict comprehensions",
    gast.GeneratorExp: "generator expressions", gast.Starred: "`*` unpacking",
    gast.NamedExpr: "`:=`", gast.Yield: "`yield`", gast.YieldFrom: "`yield from`",
    gast.Await: "`await`", gast.JoinedStr: "f-strings", gast.Set: "set literals",
}


def lower(src: Source, namer: Namer) -> ir.Function:
    """Lower ``src.tree`` to a flat SSA function, naming values through ``namer``."""
    return _Lowering(src, namer).function()


def _assigned_names(tree: gast.FunctionDef) -> list[str]:
    """Locals in first-assignment order (Python scoping: assigned anywhere means local)."""
    seen: dict[str, None] = {}
    for node in gast.walk(tree):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            seen.setdefault(node.id, None)
    return list(seen)


class _Lowering:
    def __init__(self, src: Source, namer: Namer) -> None:
        self.src = src
        self.namer = namer
        self.body: list[ir.Stmt] = []
        self.temps: set[str] = set()
        self.env: dict[str, str] = {}  # user name -> current SSA name
        self.loc: ir.Loc | None = None
        args = src.tree.args
        self.params = ir.Params(
            posonly=[a.id for a in args.posonlyargs],
            args=[a.id for a in args.args],
            vararg=args.vararg.id if args.vararg else None,
            kwonly=[a.id for a in args.kwonlyargs],
            kwarg=args.kwarg.id if args.kwarg else None,
        )
        self.locals = set(self.params.names()) | set(_assigned_names(src.tree))
        for node in gast.walk(src.tree):
            if isinstance(node, gast.Name) and node.id not in self.locals:
                namer.reserve(node.id)  # outside names are never shadowed
        for p in self.params.names():
            self.env[p] = namer.claim(p)
        self.unversioned = set(self.locals) - set(self.params.names())
        for name in self.unversioned:
            namer.reserve(name)  # the user's names win over temporaries

    # ----- statements -----

    def function(self) -> ir.Function:
        tree = self.src.tree
        body = list(tree.body)
        if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # docstring
        for stmt in body:
            self.loc = self.src.loc(stmt)
            if self.stmt(stmt):
                break
        if not self.body or not isinstance(self.body[-1], ir.Return):
            self.body.append(ir.Return(ir.Const(None), self.src.loc(tree)))
        return ir.Function(tree.name, self.params, self.body, self.src.loc(tree), temps=self.temps)

    def stmt(self, node: gast.stmt) -> bool:
        """Lower one statement; True when it was a ``return`` (the rest is unreachable)."""
        if isinstance(node, gast.Assign):
            value = self.expr(node.value)
            if len(node.targets) > 1:
                value = self.to_atom(value, _temp_hint(node.value))
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, gast.AnnAssign):
            if node.value is None:
                return False
            self.assign(node.target, self.expr(node.value))
        elif isinstance(node, gast.AugAssign):
            if not isinstance(node.target, gast.Name):
                raise self.src.syntax_error(
                    "augmented assignment to a subscript or attribute is not supported yet "
                    "(in-place NumPy updates need mutation support)", node)
            op = _BINOPS[type(node.op)]
            right = self.atom(node.value)
            left = self.load_name(node.target)
            self.assign(node.target, ir.BinOp(op, left, right))
        elif isinstance(node, gast.Return):
            value = self.atom(node.value) if node.value is not None else ir.Const(None)
            self.body.append(ir.Return(value, self.loc))
            return True
        elif isinstance(node, gast.Expr):
            if not isinstance(node.value, gast.Constant):
                self.atom(node.value)  # kept for its side effects (print, ...)
        elif isinstance(node, gast.Pass):
            pass
        else:
            raise self.unsupported(node)
        return False

    def assign(self, target: gast.expr, value: ir.Expr) -> None:
        """Bind ``target`` to ``value`` (an atom, or an operation the first time it is bound)."""
        if isinstance(target, gast.Name):
            self.body.append(ir.Assign(self.new_version(target.id), value, self.loc))
        elif isinstance(target, gast.Tuple | gast.List):
            if any(isinstance(e, gast.Starred) for e in target.elts):
                raise self.src.syntax_error("starred unpacking (`a, *b = ...`) is not supported yet", target)
            tup = self.to_atom(value, "tup")
            simple = all(isinstance(e, gast.Name) for e in target.elts)
            if simple:
                names = tuple(self.new_version(e.id) for e in target.elts)
                self.body.append(ir.Assign(names, tup, self.loc))
            else:
                names = tuple(self.namer.fresh("part") for _ in target.elts)
                self.temps.update(names)
                self.body.append(ir.Assign(names, tup, self.loc))
                for e, n in zip(target.elts, names):
                    self.assign(e, ir.Name(n))
        else:
            what = "a subscript" if isinstance(target, gast.Subscript) else "an attribute"
            raise self.src.syntax_error(
                f"assignment to {what} is not supported yet (in-place updates need mutation support)", target)

    def new_version(self, user_name: str) -> str:
        if user_name in self.unversioned:
            self.unversioned.discard(user_name)
            name = user_name
        else:
            name = self.namer.fresh(user_name)
        self.env[user_name] = name
        return name

    # ----- expressions -----

    def emit(self, value: ir.Expr, hint: str) -> ir.Name:
        """A new temporary bound to ``value``."""
        name = self.namer.fresh(hint)
        self.temps.add(name)
        self.body.append(ir.Assign(name, value, self.loc))
        return ir.Name(name)

    def to_atom(self, value: ir.Expr, hint: str) -> ir.Expr:
        return value if isinstance(value, ir.ATOMS) else self.emit(value, hint)

    def atom(self, node: gast.expr) -> ir.Expr:
        return self.to_atom(self.expr(node), _temp_hint(node))

    def expr(self, node: gast.expr) -> ir.Expr:
        """Lower ``node`` so that its operands are atoms; the result may be one operation."""
        if isinstance(node, gast.Constant):
            return ir.Const(node.value)
        if isinstance(node, gast.Name):
            return self.load_name(node)
        if isinstance(node, gast.Attribute):
            base = self.atom(node.value)
            if isinstance(base, ir.Ref) and _is_namespace(base.value):
                return ir.Ref((*base.path, node.attr), getattr(base.value, node.attr, ir.UNKNOWN))
            return ir.Attr(base, node.attr)
        if isinstance(node, gast.BinOp):
            return ir.BinOp(_BINOPS[type(node.op)], self.atom(node.left), self.atom(node.right))
        if isinstance(node, gast.UnaryOp):
            operand = self.atom(node.operand)
            if isinstance(operand, ir.Const) and isinstance(node.op, gast.USub | gast.UAdd):
                return ir.Const(-operand.value if isinstance(node.op, gast.USub) else operand.value)
            return ir.UnaryOp(_UNARYOPS[type(node.op)], operand)
        if isinstance(node, gast.Compare):
            if len(node.ops) != 1:
                raise self.src.syntax_error("chained comparisons (`a < b < c`) are not supported yet", node)
            return ir.Compare(_CMPOPS[type(node.ops[0])], self.atom(node.left), self.atom(node.comparators[0]))
        if isinstance(node, gast.Call):
            return self.call(node)
        if isinstance(node, gast.Subscript):
            return ir.Subscript(self.atom(node.value), self.index(node.slice))
        if isinstance(node, gast.Tuple):
            return ir.Tuple([self.atom(e) for e in self._no_starred(node.elts)])
        if isinstance(node, gast.List):
            return ir.List([self.atom(e) for e in self._no_starred(node.elts)])
        if isinstance(node, gast.Dict):
            if any(k is None for k in node.keys):
                raise self.src.syntax_error("`**` in dict literals is not supported yet", node)
            return ir.Dict([self.atom(k) for k in node.keys], [self.atom(v) for v in node.values])
        raise self.unsupported(node)

    def call(self, node: gast.Call) -> ir.Call:
        if isinstance(node.func, gast.Attribute):
            base = self.atom(node.func.value)
            if isinstance(base, ir.Ref) and _is_namespace(base.value):
                func = ir.Ref((*base.path, node.func.attr), getattr(base.value, node.func.attr, ir.UNKNOWN))
            else:
                func = ir.Attr(base, node.func.attr)  # a method call: receiver stays an atom
        else:
            func = self.atom(node.func)
        args = [self.atom(a) for a in self._no_starred(node.args)]
        kwargs = []
        for kw in node.keywords:
            if kw.arg is None:
                raise self.src.syntax_error("`**kwargs` in calls is not supported yet", kw.value)
            kwargs.append((kw.arg, self.atom(kw.value)))
        return ir.Call(func, args, kwargs)

    def index(self, node: gast.expr) -> ir.Expr:
        if isinstance(node, gast.Slice):
            parts = (None if p is None else self.atom(p) for p in (node.lower, node.upper, node.step))
            return ir.Slice(*parts)
        if isinstance(node, gast.Tuple):
            return ir.Tuple([self.index(e) for e in node.elts])
        return self.atom(node)

    def load_name(self, node: gast.Name) -> ir.Expr:
        name = node.id
        if name in self.env:
            return ir.Name(self.env[name])
        if name in self.locals:
            raise self.src.syntax_error(f"local variable {name!r} is read before it is assigned", node)
        return ir.Ref((name,), self.src.lookup(name))

    def _no_starred(self, elts: list[gast.expr]) -> list[gast.expr]:
        for e in elts:
            if isinstance(e, gast.Starred):
                raise self.src.syntax_error("`*` unpacking in calls and literals is not supported yet", e)
        return elts

    def unsupported(self, node: gast.AST) -> Exception:
        what = _UNSUPPORTED.get(type(node), f"`{type(node).__name__}`")
        return self.src.syntax_error(f"s2sad does not support {what} yet", node)


def _is_namespace(value: object) -> bool:
    """Attribute chains are resolved at transform time only through modules (no side effects)."""
    return isinstance(value, types.ModuleType)


def _temp_hint(node: gast.expr) -> str:
    if isinstance(node, gast.BinOp):
        return _TEMP_NAMES[_BINOPS[type(node.op)]]
    if isinstance(node, gast.UnaryOp):
        return "neg" if isinstance(node.op, gast.USub) else "unary"
    if isinstance(node, gast.Call):
        f = node.func
        return f.attr if isinstance(f, gast.Attribute) else f.id if isinstance(f, gast.Name) else "call"
    if isinstance(node, gast.Subscript):
        return f"{node.value.id}_item" if isinstance(node.value, gast.Name) else "item"
    if isinstance(node, gast.Attribute):
        return node.attr
    if isinstance(node, gast.Compare):
        return "cmp"
    return "tmp"
