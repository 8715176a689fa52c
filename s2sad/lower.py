"""Lowering: gast ``FunctionDef`` -> flat SSA ``ir.Function``.

Expects a ``frontend.Source``. Guarantees: every nested expression becomes a
statement whose operands are atoms; every local is assigned once, its versions
named ``x``, ``x_1``, ... after the user's name; outside names become ``Ref`` with
the object they resolved to now; each statement carries the user's ``Loc``.
Syntax outside the supported subset raises ``S2SADSyntaxError`` at the user's line.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import functools
import importlib
import linecache
import types
from collections import Counter

import gast
import numpy

from . import ir, runtime, runtime_numpy
from .aliases import Aliases
from .closures import WRITTEN, free_names, rename_free, stores
from .frontend import Source, _at, _imported, all_nodes, child_nodes, forwarded
from .naming import Namer
from .rules import INPLACE_FUNCS

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
_AFTER_LOOP = "<a for loop's variable after the loop>"
# callables that call a function handed to them before they return, and keep no reference to it
_CONSUMERS = (sorted, min, max, functools.reduce, numpy.apply_along_axis)  # env value: its last value is not kept
_UNSUPPORTED = {
    gast.Nonlocal: "`nonlocal` declarations",
    gast.Delete: "`del`", gast.Import: "`import` inside the function",
    gast.ImportFrom: "`import` inside the function", gast.AsyncFunctionDef: "`async def`",
    gast.ListComp: "list comprehensions",
    gast.SetComp: "set comprehensions", gast.DictComp: "dict comprehensions",
    gast.GeneratorExp: "generator expressions", gast.Starred: "`*` unpacking",
    gast.NamedExpr: "`:=`", gast.Yield: "`yield`", gast.YieldFrom: "`yield from`",
    gast.Await: "`await`", gast.JoinedStr: "f-strings", gast.Set: "set literals",
}


def lower(src: Source, namer: Namer, free_inputs: tuple[str, ...] = ()) -> ir.Function:
    """Lower ``src.tree`` to a flat SSA function, naming values through ``namer``.

    ``free_inputs`` are closure variables to differentiate: each is copied into a
    local at entry (recorded in ``Function.inputs``) so it can carry a cotangent.
    """
    return _Lowering(src, namer).function(free_inputs)


_OWN_SCOPES = (gast.FunctionDef, gast.Lambda, gast.ClassDef)


def _scope(node: gast.AST, top: bool = True):
    """The nodes of one function scope, depth first: nested ``def``/``lambda`` are yielded, not entered."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        if (top and n is node) or not isinstance(n, _OWN_SCOPES):
            todo += reversed(child_nodes(n))


def _scope_loads(tree: gast.FunctionDef | gast.Lambda):
    """The ``Name`` loads that read ``tree``'s scope: its own (an augmented assignment's target
    too: ``a /= b`` reads ``a``), and those of nested functions that are not local to them
    (parameters and assigned names are)."""
    for node in _scope(tree):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            yield node
        elif isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
            yield node.target
        elif node is not tree and isinstance(node, (gast.FunctionDef, gast.Lambda)):
            own = {a.id for a in gast.walk(node.args) if isinstance(a, gast.Name)}
            own |= {n.id for n in _scope(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
            yield from (n for n in _scope_loads(node) if n.id not in own)


def _loop_scope(node: gast.AST):
    """The nodes of one loop body: nested loops (lowered on their own, each with its own
    exit) and nested functions are yielded, not entered."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        if not isinstance(n, _OWN_LOOPS):
            todo += reversed(child_nodes(n))


_OWN_LOOPS = (gast.For, gast.While, gast.FunctionDef, gast.Lambda)


def _assigned_names(tree: gast.FunctionDef, scope: list[gast.AST] | None = None) -> list[str]:
    """Locals in first-assignment order (Python scoping: assigned anywhere means local); ``scope``:
    ``list(_scope(tree))``, if at hand."""
    seen: dict[str, None] = {}
    for node in _scope(tree) if scope is None else scope:
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            seen.setdefault(node.id, None)
        elif isinstance(node, gast.FunctionDef) and node is not tree:
            seen.setdefault(node.name, None)
    return list(seen)


class _Loads:
    """The ``Name`` loads that read a function's scope (``_scope_loads``), indexed: how often each
    name is read, which nodes are loads, and each name by its last read's position (ascending)."""

    def __init__(self, loads: list[gast.Name]) -> None:
        self.counts = Counter(n.id for n in loads)
        self.ids = Counter(id(n) for n in loads)
        last: dict[str, tuple[int, int]] = {}
        for n in loads:
            pos = (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))
            last[n.id] = max(pos, last.get(n.id, pos))
        ordered = sorted(last.items(), key=lambda item: item[1])
        self.last_positions = [pos for _, pos in ordered]
        self.last_names = [name for name, _ in ordered]


class _Lowering:
    def __init__(self, src: Source, namer: Namer) -> None:
        self.src = src
        self.namer = namer
        self.body: list[ir.Stmt] = []
        self.temps: set[str] = set()
        self.env: dict[str, str] = {}  # user name -> current SSA name
        self.loc: ir.Loc | None = None
        self.imports: dict[str, ir.Ref] = {}  # names bound by `import` or `class` inside the function
        self.classes: set[int] = set()  # ids of those classes: their attributes are resolved now
        self.loops: list[gast.For | gast.While] = []  # the loops being lowered, innermost last
        self.carried: set[str] = set()  # user names the enclosing loops carry to their next iteration
        self.loop_loads: dict[int, set[str]] = {}  # id of a loop -> the names its scope reads
        self.calling: tuple[gast.Call | None, ir.Expr | None] = (None, None)  # the call being lowered, its callee
        self.outs: dict[int, str] = {}  # id(a call with `out=a`) -> `a`: the call's value is that object
        self.same = Aliases()  # the user's names bound to one object (`z = y`): a write through one rebinds them
        self.same_after = Aliases()  # what the last region left
        args = src.tree.args
        self.params = ir.Params(
            posonly=[a.id for a in args.posonlyargs],
            args=[a.id for a in args.args],
            vararg=args.vararg.id if args.vararg else None,
            kwonly=[a.id for a in args.kwonlyargs],
            kwarg=args.kwarg.id if args.kwarg else None,
        )
        # names declared `global`: each read is a read of the module's globals, each write a store there
        scope = list(_scope(src.tree))
        self.globals_ = {n for s in scope if isinstance(s, gast.Global) for n in s.names}
        self.ordered_locals = [n for n in dict.fromkeys([*self.params.names(), *_assigned_names(src.tree, scope)])
                               if n not in self.globals_]
        self.locals = set(self.ordered_locals)
        nested = [m for n in scope if n is not src.tree and isinstance(n, _OWN_SCOPES) for m in all_nodes(n)]
        for node in [*scope, *nested]:  # (every node of the tree)
            if isinstance(node, gast.Name) and node.id not in self.locals:
                namer.reserve(node.id)  # outside names are never shadowed
        for node in scope:
            if isinstance(node, gast.Call):
                setattr(node, WRITTEN, self.written(node))
        self.stores = Counter(n.id for n in scope if isinstance(n, gast.Name)
                              and isinstance(n.ctx, gast.Store) and n.id not in self.globals_)
        for p in self.params.names():
            self.env[p] = namer.claim(p)
        self.unversioned = set(self.locals) - set(self.params.names())
        for name in self.unversioned:
            namer.reserve(name)  # the user's names win over temporaries

    # ----- statements -----

    def function(self, free_inputs: tuple[str, ...] = ()) -> ir.Function:
        tree = self.src.tree
        inputs = {}
        for name in free_inputs:
            self.loc = self.src.loc(tree)
            inputs[name] = self.emit(ir.Ref((name,), self.src.lookup(name)), name).id
            self.temps.discard(inputs[name])
            self.env[name] = inputs[name]
        body = list(tree.body)
        if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # docstring
        self.block(body)
        if not self.body or not isinstance(self.body[-1], ir.Return):
            self.body.append(ir.Return(ir.Const(None), self.src.loc(tree)))
        return ir.Function(tree.name, self.params, self.body, self.src.loc(tree), temps=self.temps,
                           inputs=inputs)

    def block(self, stmts: list[gast.stmt]) -> None:
        for stmt in stmts:
            self.loc = self.src.loc(stmt)
            if self.stmt(stmt):
                break

    def region(self, stmts: list[gast.stmt], binds: list[tuple[gast.Name, ir.Expr]] = ()
               ) -> tuple[list[ir.Stmt], dict[str, str]]:
        """Lower ``stmts`` as a nested block (after binding each of ``binds``' names to its value): its
        statements and the names it leaves bound."""
        outer_body, outer_env, outer_loc, outer_same = self.body, self.env, self.loc, self.same
        self.body, self.env, self.same = [], dict(outer_env), outer_same.copy()
        try:
            for target, value in binds:
                self.assign(target, value)
            self.block(stmts)
            self.same_after = self.same
            return self.body, self.env
        finally:
            self.body, self.env, self.loc, self.same = outer_body, outer_env, outer_loc, outer_same

    def stmt(self, node: gast.stmt) -> bool:
        """Lower one statement; True when it was a ``return`` (the rest is unreachable)."""
        if isinstance(node, gast.FunctionDef):
            self.function_def(node)
        elif isinstance(node, gast.If):
            self.if_stmt(node)
        elif isinstance(node, gast.With):
            self.with_stmt(node)
        elif isinstance(node, gast.Try):
            self.try_stmt(node)
        elif isinstance(node, (gast.For, gast.While)):
            self.loop(node)
        elif isinstance(node, gast.Assign) and len(node.targets) == 1 and self.list_method(node.value, node.targets[0]):
            pass
        elif isinstance(node, gast.Assign):
            value = self.expr(node.value)
            if len(node.targets) > 1:
                value = self.to_atom(value, _temp_hint(node.value))
            for target in node.targets:
                self.assign(target, value)
            source = node.value.id if isinstance(node.value, gast.Name) else self.outs.get(id(node.value))
            if len(node.targets) == 1 and source is not None and isinstance(value, ir.Name) \
                    and isinstance(node.targets[0], gast.Name) and node.targets[0].id not in self.globals_:
                self.same.join(node.targets[0].id, source)  # `z = y`, `z = np.sin(x, out=y)`: z is y's object
        elif isinstance(node, gast.AnnAssign):
            if node.value is None:
                return False
            self.assign(node.target, self.expr(node.value))
        elif isinstance(node, gast.AugAssign):
            self.aug_assign(node)
        elif isinstance(node, gast.Return):
            value = self.atom(node.value) if node.value is not None else ir.Const(None)
            self.body.append(ir.Return(value, self.loc))
            return True
        elif isinstance(node, gast.Expr):
            if self.list_method(node.value, None):
                pass
            elif not isinstance(node.value, gast.Constant):
                self.atom(node.value)  # kept for its side effects (print, ...)
        elif isinstance(node, (gast.Pass, gast.Global)):
            pass
        elif isinstance(node, gast.ClassDef):
            self.namespace_class(node)
        elif isinstance(node, gast.Raise):
            self.raise_(node)
            return True  # what follows in the block never runs
        elif isinstance(node, gast.Assert):
            exc = gast.Call(gast.Name("AssertionError", gast.Load(), None, None), [node.msg] if node.msg else [], [])
            fail = gast.copy_location(gast.Raise(gast.copy_location(exc, node), None), node)
            self.if_stmt(gast.copy_location(gast.If(gast.UnaryOp(gast.Not(), node.test), [fail], []), node))
        elif isinstance(node, gast.Delete):
            self.delete(node)
        elif isinstance(node, (gast.Import, gast.ImportFrom)):
            self.import_(node)
        else:
            raise self.unsupported(node)
        return False

    def function_def(self, node: gast.FunctionDef) -> None:
        """A nested ``def``: a closure value bound to its name."""
        if node.decorator_list:
            raise self.src.syntax_error("decorators on nested functions are not supported yet", node)
        closure = self.closure(node)
        if self.stores[node.name] or self.env.get(node.name, node.name) != node.name:
            raise self.src.syntax_error(f"the name {node.name!r} is bound more than once", node)
        self.body.append(ir.Assign(self.new_version(node.name), closure, self.loc))

    def aug_assign(self, node: gast.AugAssign) -> None:
        op = _BINOPS[type(node.op)]
        if isinstance(node.target, gast.Subscript):
            # x[i] += v is NumPy's buffered update: read x[i], combine, write back (the last
            # write wins for a duplicate index, so each index changes once)
            base, index = self.store_target(node.target)
            right = self.atom(node.value)
            old = self.emit(ir.Subscript(base, index), _temp_hint(node.target))
            new = self.emit(ir.BinOp(op, old, right), _TEMP_NAMES[op])
            self.body.append(ir.Assign(self.new_version(node.target.value.id), ir.SetItem(base, index, new),
                                       self.loc))
            self.refresh(node.target.value.id, in_place=True)
        elif isinstance(node.target, gast.Name):
            # y op= v is operator.iop(y, v): in place for an array or a list (every alias sees it),
            # a new value for a number or a tuple; the analysis tells which it can
            right = self.atom(node.value)
            left = self.load_name(node.target)
            fn = INPLACE_FUNCS[op]
            value = ir.Call(ir.Ref((fn.__name__,), fn, helper=True), [left, right])
            if node.target.id in self.globals_:
                self.assign(node.target, value)
            else:  # (the name keeps its other names: the write may be in place)
                self.body.append(ir.Assign(self.new_version(node.target.id), value, self.loc))
                self.refresh(node.target.id, in_place=False)
        else:
            raise self.src.syntax_error("augmented assignment to an attribute is not supported yet", node)

    def raise_(self, node: gast.Raise) -> None:
        args = [] if node.exc is None else [self.to_atom(self.expr(node.exc), "error")]
        args += [] if node.cause is None else [self.to_atom(self.expr(node.cause), "cause")]
        self.body.append(ir.Do(ir.Call(ir.Ref(("throw",), runtime.throw, helper=True), args), self.loc))

    def delete(self, node: gast.Delete) -> None:
        for target in node.targets:
            if not (isinstance(target, gast.Name) and target.id in self.env):
                raise self.src.syntax_error("s2sad supports `del` of local names only", target)
            del self.env[target.id]
            self.same.drop(target.id)

    def import_(self, node: gast.Import | gast.ImportFrom) -> None:
        """``import m as n`` / ``from m import f`` inside the function: imported now, as the call would."""
        for alias in node.names:
            if alias.name == "*":
                raise self.src.syntax_error("`from ... import *` is not allowed inside a function", node)
            if isinstance(node, gast.Import):
                module = importlib.import_module(alias.name)
                bound = alias.asname or alias.name.split(".")[0]
                value = module if alias.asname else importlib.import_module(bound)
            else:
                package = self.src.fn.__module__ if node.level else None
                module = importlib.import_module("." * node.level + (node.module or ""), package)
                bound = alias.asname or alias.name
                value = getattr(module, alias.name, None)
                if value is None:
                    value = importlib.import_module(f"{module.__name__}.{alias.name}")
            if bound in self.stores:
                raise self.src.syntax_error(f"{bound!r} is imported and also assigned in this function", node)
            self.imports[bound] = ir.Ref((bound,), value, helper=True)

    def namespace_class(self, node: gast.ClassDef) -> None:
        """A class used as a namespace (constants and functions) is made now, as the call would make it.

        It may read globals and its own names, not the function's variables; reads of its attributes
        are resolved now (``Config.lr``) and calls of its functions are differentiated as any other.
        """
        if node.decorator_list or node.bases or node.keywords:
            raise self.src.syntax_error("s2sad supports a class inside the function only as a namespace "
                                        "(no bases or decorators)", node)
        outer = set(self.locals) | set(self.src.freevars) | set(self.imports)
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in outer:
                raise self.src.syntax_error(
                    f"this class reads {n.id!r}, a variable of the function around it; s2sad supports a "
                    "class inside the function as a namespace of constants and functions only", n)
        if self.stores[node.name] or node.name in self.imports:
            raise self.src.syntax_error(f"the name {node.name!r} is bound more than once", node)
        # compiled from the file's own text (its functions are checked against it when transformed), in a
        # function of its own, so that they read the class (`Config.lr`) through a closure cell
        lines = linecache.getlines(self.src.file)[node.lineno - 1:node.end_lineno]
        indent = " " * (node.col_offset + self.src.col_shift)
        text = "\n" * (node.lineno - 2) + "def make():\n" + "".join(lines) + f"\n{indent}return {node.name}\n"
        module = ast.parse(text)
        imported = sorted(_imported(self.src.file))  # `np.f(x)` compiles differently where `np` is imported
        if imported:
            module.body.insert(0, ast.If(ast.Constant(False), [ast.Import([ast.alias(n) for n in imported])], []))
        namespace: dict = {}
        exec(compile(ast.fix_missing_locations(module), self.src.file, "exec"), self.src.fn.__globals__, namespace)
        cls = namespace["make"]()
        self.classes.add(id(cls))
        self.imports[node.name] = ir.Ref((node.name,), cls, helper=True)

    def assign(self, target: gast.expr, value: ir.Expr) -> None:
        """Bind ``target`` to ``value`` (an atom, or an operation the first time it is bound)."""
        if isinstance(target, gast.Name) and target.id in self.globals_:
            ref = ir.Ref(("set_global",), runtime.set_global, helper=True)
            args = [self.module_globals(), ir.Const(target.id), self.to_atom(value, target.id)]
            self.body.append(ir.Do(ir.Call(ref, args), self.loc))
        elif isinstance(target, gast.Name):
            self.same.drop(target.id)
            self.body.append(ir.Assign(self.new_version(target.id), value, self.loc))
        elif isinstance(target, (gast.Tuple, gast.List)):
            if any(isinstance(e, gast.Starred) for e in target.elts):
                self.starred(target, self.to_atom(value, "tup"))
                return
            tup = self.to_atom(value, "tup")
            simple = all(isinstance(e, gast.Name) for e in target.elts)
            if simple:
                for e in target.elts:
                    self.same.drop(e.id)
                names = tuple(self.new_version(e.id) for e in target.elts)
                self.body.append(ir.Assign(names, tup, self.loc))
            else:
                names = tuple(self.namer.fresh("part") for _ in target.elts)
                self.temps.update(names)
                self.body.append(ir.Assign(names, tup, self.loc))
                for e, n in zip(target.elts, names):
                    self.assign(e, ir.Name(n))
        elif isinstance(target, gast.Subscript):
            base, index = self.store_target(target)
            item = self.to_atom(value, "value")
            self.body.append(ir.Assign(self.new_version(target.value.id), ir.SetItem(base, index, item), self.loc))
            self.refresh(target.value.id, in_place=True)
        else:
            raise self.src.syntax_error("assignment to an attribute is not supported yet", target)

    def starred(self, target: gast.Tuple | gast.List, value: ir.Expr) -> None:
        """``first, *rest, last = xs`` -> ``first = xs[0]``, ``rest = list(xs[1:-1])``, ``last = xs[-1]``
        (an iterator is made a sequence first; too few values raise IndexError)."""
        seq = self.emit(ir.Call(ir.Ref(("sequence",), runtime.sequence, helper=True), [value]), "seq")
        star = next(i for i, e in enumerate(target.elts) if isinstance(e, gast.Starred))
        after = len(target.elts) - star - 1
        for i, e in enumerate(target.elts):
            if i < star:
                self.assign(e, ir.Subscript(seq, ir.Const(i)))
            elif i > star:
                self.assign(e, ir.Subscript(seq, ir.Const(i - len(target.elts))))
            else:
                part = self.emit(ir.Subscript(seq, ir.Slice(ir.Const(star) if star else None,
                                                            ir.Const(-after) if after else None, None)), "part")
                self.assign(e.value, ir.Call(_builtin("list"), [part]))

    def store_target(self, target: gast.Subscript) -> tuple[ir.Name, ir.Expr]:
        """The array (a local name) and index of ``name[index] = ...``."""
        if not (isinstance(target.value, gast.Name) and target.value.id in self.locals):
            raise self.src.syntax_error(
                "s2sad supports writes into local arrays and lists only (`name[index] = value`); "
                "copy a global or a nested item into a local name first", target)
        return self.load_name(target.value), self.index(target.slice)

    def list_method(self, node: gast.expr, target: gast.expr | None) -> bool:
        """``xs.append(v)``, ``xs.extend(vs)``, ``[v =] xs.pop([i])`` on a local: in place, versioned."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute)
                and node.func.attr in ("append", "extend", "pop") and isinstance(node.func.value, gast.Name)
                and node.func.value.id in self.locals and not node.keywords):
            return False
        if node.func.attr == "pop" and target is not None and not isinstance(target, gast.Name):
            return False
        base = self.load_name(node.func.value)
        args = [self.atom(a) for a in self._no_starred(node.args)]
        version = self.new_version(node.func.value.id)
        if node.func.attr == "pop":
            if target is not None:
                self.same.drop(target.id)
            popped = self.new_version(target.id) if target is not None else self.namer.fresh("popped")
            out: str | tuple[str, ...] = (popped, version)
        else:
            out = version
        self.body.append(ir.Assign(out, ir.ListMethod(base, node.func.attr, args), self.loc))
        self.refresh(node.func.value.id, in_place=True)
        return True

    # ----- control flow -----

    def if_stmt(self, node: gast.If) -> None:
        self.branch(self.atom(node.test), node.body, node.orelse, node)

    def branch(self, test: ir.Expr, then: list[gast.stmt], orelse_: list[gast.stmt], node: gast.AST) -> None:
        """``if test: then else: orelse_`` (``node`` the statement: what is read outside it is joined)."""
        loc = self.loc
        body, then_env = self.region(then)
        then_same = self.same_after
        orelse, else_env = self.region(orelse_)
        self.same = then_same.meet(self.same_after)
        # a variable only the branches read is not joined, unless a loop reads it again or carries it
        used = self.read_later(node) | self.carried
        then_env = {v: n for v, n in then_env.items() if v in used or self.env.get(v) == n}
        else_env = {v: n for v, n in else_env.items() if v in used or self.env.get(v) == n}
        merged = self.merge(body, then_env, orelse, else_env)
        self.body.append(ir.If(test, body, orelse, *merged, loc=loc))

    def try_stmt(self, node: gast.Try) -> None:
        """``try: body / except E [as e]: handler / else: rest``: a branch on whether the body completed,
        recorded (``completed``) for the pullback as an ``if`` records its branch. (``desugar.tries``
        leaves one ``except`` clause and no ``finally``; several clauses are an ``if`` on the exception.)

        The body either completes or raises; where it raised, the derivative keeps what the body's
        statements that completed set only up to the last statement that may raise (``unsure``). A name
        set before that, read by the handler or after the statement without the handler setting it, is
        refused.
        """
        handler = node.handlers[0]
        read = {n.id for s in handler.body for n in _scope(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
        later = set() if _always_raises(handler.body) else self.after_try(node) - _surely_bound(handler.body)
        unsure = sorted(_unsure(node.body) & (read | later))
        if unsure:
            raise self.src.syntax_error(
                f"{unsure[0]!r} is set in this `try` block inside a loop, `with` or nested `try` that may stop "
                f"partway, and read where the `except` (or `finally`) block may have run instead; s2sad cannot "
                f"tell which value it holds there, so it cannot differentiate that exactly. Set {unsure[0]!r} "
                f"in the `except` block too, or move that statement out of the `try`", node)
        catches = self.to_atom(self.expr(handler.type), "caught") if handler.type is not None else _builtin("BaseException")
        loc = self.loc
        body, then_env = self.region(node.body)
        body_same = self.same_after
        caught = ir.Call(ir.Ref(("caught_exception",), runtime.caught_exception, helper=True), [])
        orelse, else_env = self.region(handler.body, [(handler.name, caught)] if handler.name is not None else [])
        self.same = body_same.meet(self.same_after)
        used = self.read_later(node) | {n.id for s in node.orelse for n in _scope(s) if isinstance(n, gast.Name)}
        then_env = {v: n for v, n in then_env.items() if v in used or self.env.get(v) == n}
        else_env = {v: n for v, n in else_env.items() if v in used or self.env.get(v) == n}
        outs, (yt, ye) = self.merge(body, then_env, orelse, else_env)
        completed = self.namer.fresh("completed")
        self.temps.add(completed)
        self.body.append(ir.If(catches, body, orelse, [completed, *outs], ([ir.Const(True), *yt], [ir.Const(False), *ye]),
                               loc, kind="try"))
        if node.orelse:  # runs where the body completed, outside the `try`
            self.branch(ir.Name(completed), node.orelse, [], node)

    def with_stmt(self, node: gast.With) -> None:
        """``with a, b: body``: a region always taken, run inside each context manager in turn."""
        item, rest = node.items[0], node.items[1:]
        if item.optional_vars is not None:
            names = _target_names(item.optional_vars)
            if not isinstance(item.optional_vars, gast.Name) or names[0] in self.loaded_outside(item.optional_vars):
                raise self.src.syntax_error("s2sad supports `with ... as name` only where the name is not read "
                                            "yet; drop `as` or read the value another way", item.optional_vars)
        context = self.atom(item.context_expr)
        loc = self.loc
        inner = [gast.copy_location(gast.With(rest, node.body, None), node)] if rest else node.body
        body, env = self.region(inner)
        self.same = self.same.meet(self.same_after)
        used = self.read_later(node)
        env = {v: n for v, n in env.items() if v in used or self.env.get(v) == n}
        outs, (yields, _) = self.merge(body, env, [], dict(self.env))
        self.body.append(ir.If(context, body, [], outs, (yields, [ir.Const(None)] * len(outs)), loc, kind="with"))

    def merge(self, body, then_env, orelse, else_env) -> tuple[list[str], tuple[list[ir.Expr], list[ir.Expr]]]:
        """The If's outs: one per user variable the branches leave bound to different values.

        The out takes the name a branch computed it under (and the other branch's
        definition is renamed to match), so the generated code reads
        ``if c: y = a`` / ``else: y = b`` rather than copying at the end of each branch.
        """
        outs, yt, ye = [], [], []
        # names bound at any depth (of a loop, its results: what stays bound after it)
        bound_then, bound_else = ({n for s in ir.walk(b) for n in ir.bound(s, region=False)}
                                  for b in (body, orelse))
        for var in dict.fromkeys([*then_env, *else_env]):
            a, b = then_env.get(var), else_env.get(var)
            if _AFTER_LOOP in (a, b):
                self.env[var] = _AFTER_LOOP
                continue
            if a == b:
                if a is not None:
                    self.env[var] = a
                continue
            if a in bound_then:
                out = a
            elif b in bound_else:
                out = b
            else:
                out = self.new_version(var)
            if a in bound_then and a != out:
                ir.rename(body, {a: out})
                a = out
            if b in bound_else and b != out:
                ir.rename(orelse, {b: out})
                b = out
            self.env[var] = out
            outs.append(out)
            yt.append(ir.Name(a) if a else ir.Const(None))
            ye.append(ir.Name(b) if b else ir.Const(None))
        return outs, (yt, ye)

    def choice(self, test: ir.Expr, then: gast.expr | ir.Expr, orelse: gast.expr | ir.Expr, hint: str) -> ir.Name:
        """``then if test else orelse`` as an If with one out; gast operands are evaluated lazily."""
        loc = self.loc
        branches = []
        for part in (then, orelse):
            outer_body = self.body
            self.body = []
            value = part if not isinstance(part, gast.AST) else self.atom(part)
            branches.append((self.body, value))
            self.body = outer_body
        out = self.namer.fresh(hint)
        self.temps.add(out)
        (body, a), (orelse_, b) = branches
        self.body.append(ir.If(test, body, orelse_, [out], ([a], [b]), loc=loc))
        return ir.Name(out)

    def loop(self, node: gast.For | gast.While) -> None:
        loc = self.loc
        exit_flag, body_nodes = _exit_flag(list(node.body))
        for n in (m for b in body_nodes for m in _loop_scope(b)):
            if isinstance(n, (gast.Break, gast.Continue, gast.Return)):
                raise self.src.syntax_error("internal: early exit left after desugaring", n)
        for name in _rebound(node):  # (what the body rebinds is another object in the next iteration)
            self.same.drop(name)
        assigned = _stores(body_nodes) | ({exit_flag} if exit_flag else set())
        assigned |= {other for name in assigned for other in self.same.others(name)}  # (rebound by a write)
        later = self.loaded_after(node)
        spent = _loop_targets_only(body_nodes)  # left holding an inner loop's last element: not carried
        again = _read_first(body_nodes)  # (bound only in the loop: None before its first iteration)
        bound = {v for v in self.env if self.env[v] != _AFTER_LOOP}  # (not an earlier loop's spent variable)
        carried = [v for v in self.ordered_locals if v in assigned - spent and (v in bound or v in later | again)]
        kind, iter_, prelude = "while", None, None
        if isinstance(node, gast.For):
            kind = "for"
            iter_, prelude = self.iteration(node)
            carried = [v for v in carried if v not in _target_names(node.target)]
        loaded = {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
        for v in carried:
            if self.env.get(v) == _AFTER_LOOP and v in loaded:
                raise self.after_loop(v, node)
        inits = [ir.Name(self.env[v]) if self.env.get(v, _AFTER_LOOP) != _AFTER_LOOP else ir.Const(None)
                 for v in carried]
        outer_env, outer_carried, outer_same = dict(self.env), self.carried, self.same.copy()
        self.carried = self.carried | set(carried)
        for v in carried:
            self.new_version(v)
        cond_body, cond = [], None
        self.loops.append(node)
        if isinstance(node, gast.While):
            outer_body = self.body
            self.body = []
            cond = self.atom(node.test)
            cond_body, self.body = self.body, outer_body
            target = None
            body_stmts, body_env = self.region(body_nodes)
        else:
            target, body_stmts, body_env = self.for_body(node, iter_, prelude, body_nodes)
        self.loops.pop()
        headers = [self.env[v] for v in carried]
        for v in carried:
            if body_env[v] == _AFTER_LOOP:  # also an inner loop's variable: its last value is not kept
                raise self.after_loop(v, node)
        nexts = [ir.Name(body_env[v]) for v in carried]
        exit_ = ir.Name(body_env[exit_flag]) if exit_flag else None
        self.env, self.carried, self.same = outer_env, outer_carried, outer_same
        results = [self.new_version(v) for v in carried]
        targets = _target_names(node.target) if isinstance(node, gast.For) else []
        for t in [*targets, *spent]:  # its last value is not kept: reading it is refused
            self.env[t] = _AFTER_LOOP
        self.body.append(ir.Loop(kind, body_stmts, target, iter_, cond_body, cond, headers, inits, nexts,
                                 results, exit_, loc))

    def iteration(self, node: gast.For):
        """What a for loop iterates: ``range(...)`` directly, sequences by index.

        Returns the IR iterable and, for sequences, a ``prelude`` (the index name
        and the element reads to bind at the top of each iteration).
        """
        it = node.iter
        fn = it.func if isinstance(it, gast.Call) else None
        fname = fn.id if isinstance(fn, gast.Name) else None
        resolved = self.src.lookup(fname) if fname and fname not in self.locals else None
        if resolved is range:
            return ir.Call(_builtin("range"), [self.atom(a) for a in it.args]), None
        if resolved in (enumerate, zip, reversed):
            if it.keywords or (resolved is not zip and len(it.args) != 1):
                raise self.src.syntax_error(f"only {fname}(sequence) is supported in for loops", it)
            seqs = [self.sequence(a) for a in it.args]
        else:
            seqs, resolved = [self.sequence(it)], None
        lengths = [self.emit(ir.Call(_builtin("len"), [s]), "n") for s in seqs]
        n = lengths[0] if len(lengths) == 1 else self.emit(ir.Call(_builtin("min"), lengths), "n")
        if resolved is reversed:
            start = self.emit(ir.BinOp("-", n, ir.Const(1)), "last")
            return ir.Call(_builtin("range"), [start, ir.Const(-1), ir.Const(-1)]), (resolved, seqs)
        return ir.Call(_builtin("range"), [n]), (resolved, seqs)

    def sequence(self, node: gast.expr) -> ir.Expr:
        """What a loop iterates, as a name it can index: a list or tuple display as it is, anything
        else through ``sequence`` (a list, tuple or array itself; a dict's keys, a dict view or an
        iterator as a list), so that element reads are differentiated like ``xs[k]``."""
        seq = self.atom(node)
        if isinstance(node, (gast.List, gast.Tuple)) and isinstance(seq, ir.Name):
            return seq
        fn = ir.Ref(("sequence",), runtime.sequence, helper=True)
        return self.emit(ir.Call(fn, [seq]), f"{node.id}_seq" if isinstance(node, gast.Name) else "seq")

    def for_body(self, node: gast.For, iter_: ir.Expr, prelude, body_nodes):
        """Bind the loop target(s), then lower the body; returns (IR target, body, env)."""
        outer_body = self.body
        self.body = []
        try:
            if prelude is None:
                target = self.bind_target(node.target)
            else:
                resolved, seqs = prelude
                elements = node.target
                if resolved is enumerate:
                    if not (isinstance(elements, gast.Tuple) and len(elements.elts) == 2):
                        raise self.src.syntax_error("use `for i, x in enumerate(xs)`", elements)
                    index_node, elements = elements.elts
                    target = self.bind_target(index_node)
                    index = ir.Name(target)
                else:
                    target = self.namer.fresh("k")
                    self.temps.add(target)
                    index = ir.Name(target)
                if resolved is zip:
                    if not (isinstance(elements, gast.Tuple) and len(elements.elts) == len(seqs)):
                        raise self.src.syntax_error("unpack each zipped sequence to a name", elements)
                    parts = list(zip(elements.elts, seqs))
                else:
                    parts = [(elements, seqs[0])]
                for t, seq in parts:
                    self.assign(t, ir.Subscript(seq, index))
            body, env = self.region(body_nodes)
            return target, self.body + body, env
        finally:
            self.body = outer_body

    def bind_target(self, target: gast.expr) -> str | tuple[str, ...]:
        if any(isinstance(n, gast.Name) and n.id in self.globals_ for n in gast.walk(target)):
            raise self.src.syntax_error("s2sad does not support a `global` as a loop variable; "
                                        "assign it in the loop body", target)
        if isinstance(target, gast.Name):
            return self.new_version(target.id)
        if isinstance(target, gast.Tuple) and all(isinstance(e, gast.Name) for e in target.elts):
            return tuple(self.new_version(e.id) for e in target.elts)
        raise self.src.syntax_error("this loop target is not supported yet (use names)", target)

    def refresh(self, name: str, in_place: bool) -> None:
        """After a write through ``name``, its other names are bound to the new version: ``z = y_1``
        (``in_place``), or, after ``y op= v``, ``y_1`` where that is the same object (an array or a list
        changed in place) and the old value otherwise (a number rebound)."""
        new = ir.Name(self.env[name])
        for other in self.same.others(name):
            old = self.env.get(other)
            if old is None or old == _AFTER_LOOP:
                self.same.drop(other)
            elif in_place:
                self.body.append(ir.Assign(self.new_version(other), new, self.loc))
            else:
                test = self.emit(ir.Compare("is", new, ir.Name(old)), "same")
                out = self.new_version(other)
                self.body.append(ir.If(test, [], [], [out], ([new], [ir.Name(old)]), loc=self.loc))

    def loaded_after(self, node: gast.AST) -> set[str]:
        """Names of this scope the function reads after ``node`` ends (by source position): a
        nested function's reads of its own locals are not reads of ours (a generated pullback
        replays a loop variable of the same name)."""
        loads = self.scope_loads
        k = bisect.bisect_right(loads.last_positions, (node.end_lineno, node.end_col_offset))
        return set(loads.last_names[k:])

    def loaded_outside(self, node: gast.AST) -> set[str]:
        """Names of this scope read anywhere but inside ``node``."""
        loads = self.scope_loads
        inside = Counter()
        for n in gast.walk(node):
            if id(n) in loads.ids:
                inside[n.id] += loads.ids[id(n)]
        return {name for name, count in loads.counts.items() if count > inside[name]}

    def read_later(self, node: gast.AST) -> set[str]:
        """Names that may be read after ``node`` runs: outside it, and inside it too where a loop
        around it runs it again (the next iteration reads what this one left)."""
        again = set()
        if self.loops:
            loop = self.loops[-1]
            if id(loop) not in self.loop_loads:
                self.loop_loads[id(loop)] = {n.id for n in _scope_loads(loop)}
            again = self.loop_loads[id(loop)]
        return self.loaded_outside(node) | again

    def after_try(self, node: gast.Try) -> set[str]:
        """Names that may be read after ``node`` ran: outside it, and, inside the loop around it, before the
        next iteration binds them again (``read_later`` without what the next iteration binds first)."""
        return self.loaded_outside(node) | (_exposed_in_loop(self.loops[-1]) if self.loops else set())

    @functools.cached_property
    def scope_loads(self) -> _Loads:
        return _Loads(list(_scope_loads(self.src.tree)))

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
            if isinstance(base, ir.Ref) and (_is_namespace(base.value) or id(base.value) in self.classes):
                return _attr_ref(base, node.attr)
            return ir.Attr(base, node.attr)
        if isinstance(node, gast.BinOp):
            return ir.BinOp(_BINOPS[type(node.op)], self.atom(node.left), self.atom(node.right))
        if isinstance(node, gast.UnaryOp):
            operand = self.atom(node.operand)
            if isinstance(operand, ir.Const) and isinstance(node.op, (gast.USub, gast.UAdd)):
                return ir.Const(-operand.value if isinstance(node.op, gast.USub) else operand.value)
            return ir.UnaryOp(_UNARYOPS[type(node.op)], operand)
        if isinstance(node, gast.Compare):
            return self.compare(node)
        if isinstance(node, gast.Lambda):
            return self.closure(node)
        if isinstance(node, gast.IfExp):
            return self.choice(self.atom(node.test), node.body, node.orelse, "choice")
        if isinstance(node, gast.BoolOp):
            value = self.atom(node.values[0])
            for operand in node.values[1:]:  # `a and b` is `b if a else a`; `a or b` is `a if a else b`
                both = isinstance(node.op, gast.And)
                value = self.choice(value, operand if both else value, value if both else operand,
                                    "both" if both else "either")
            return value
        if isinstance(node, gast.Call):
            callee = self.static_value(node.func)  # (the builtins lowered to what they build)
            built = self.dict_call(node) if callee is builtins.dict else self.zip_call(node) if callee is zip else None
            if built is not None:
                return built
            call = self.call(node)
            written = self.output_form(node, call)
            return call if written is None else written
        if isinstance(node, gast.Subscript):
            return ir.Subscript(self.atom(node.value), self.index(node.slice))
        if isinstance(node, (gast.Tuple, gast.List)) and any(isinstance(e, gast.Starred) for e in node.elts):
            return self.joined(node)
        if isinstance(node, gast.Tuple):
            return ir.Tuple([self.atom(e) for e in node.elts])
        if isinstance(node, gast.List):
            return ir.List([self.atom(e) for e in node.elts])
        if isinstance(node, gast.NamedExpr):
            value = self.atom(node.value)
            self.assign(node.target, value)
            return self.load_name(gast.Name(node.target.id, gast.Load(), None, None))
        if isinstance(node, gast.JoinedStr):
            return self.fstring(node)
        if isinstance(node, gast.Dict):
            if any(k is None for k in node.keys):  # `{**a, 'k': v}`: the parts merged
                return self.merged([(None, v) if k is None else (k, v) for k, v in zip(node.keys, node.values)])
            return ir.Dict([self.atom(k) for k in node.keys], [self.atom(v) for v in node.values])
        raise self.unsupported(node)

    def compare(self, node: gast.Compare) -> ir.Expr:
        """``a < b``; a chain ``a < b < c`` reads ``b`` once and ``c`` only when ``a < b``."""
        left = self.atom(node.left)
        right = self.atom(node.comparators[0])
        result: ir.Expr = ir.Compare(_CMPOPS[type(node.ops[0])], left, right)
        for op, comparator in zip(node.ops[1:], node.comparators[1:]):
            done = self.to_atom(result, "cmp")
            outer_body = self.body
            self.body = []
            nxt = self.atom(comparator)
            step = self.emit(ir.Compare(_CMPOPS[type(op)], right, nxt), "cmp")
            then_body, self.body = self.body, outer_body
            out = self.namer.fresh("cmp")
            self.temps.add(out)
            self.body.append(ir.If(done, then_body, [], [out], ([step], [done]), loc=self.loc))
            result, right = ir.Name(out), nxt
        return result

    def fstring(self, node: gast.JoinedStr) -> ir.Expr:
        """``f"a{x!r:>8}"`` -> ``''.join(('a', format(repr(x), '>8')))``, as Python evaluates it."""
        if all(isinstance(v, gast.Constant) for v in node.values):  # a format spec without fields
            return ir.Const("".join(v.value for v in node.values))
        parts = []
        for v in node.values:
            if not isinstance(v, gast.FormattedValue):
                parts.append(self.atom(v))
                continue
            value = self.atom(v.value)
            if v.conversion in (ord("r"), ord("s"), ord("a")):
                value = self.emit(ir.Call(_builtin({"r": "repr", "s": "str", "a": "ascii"}[chr(v.conversion)]),
                                          [value]), "text")
            spec = [self.atom(v.format_spec)] if v.format_spec is not None else []
            parts.append(self.emit(ir.Call(_builtin("format"), [value, *spec]), "text"))
        if len(parts) == 1 and isinstance(node.values[0], gast.FormattedValue):
            return parts[0]
        return ir.Call(ir.Attr(ir.Const(""), "join"), [ir.Tuple(parts)])

    def merged(self, entries: list[tuple[gast.expr | str | None, gast.expr]], first: list[gast.expr] = ()
               ) -> ir.Expr:
        """A dict built of parts (``{**a, 'k': v}``, ``dict(a, k=v)``): ``merged((a, {'k': v}))``. An entry
        ``(None, m)`` is a mapping's; ``first``: a mapping or iterable of pairs before them."""
        parts: list[ir.Expr] = [self.atom(a) for a in first]
        for key, value in entries:
            if key is None:
                parts.append(self.atom(value))
                continue
            k = ir.Const(key) if isinstance(key, str) else self.atom(key)
            if parts and isinstance(parts[-1], ir.Dict):
                parts[-1].keys.append(k)
                parts[-1].values.append(self.atom(value))
            else:
                parts.append(ir.Dict([k], [self.atom(value)]))
        parts = [self.emit(p, "part") if isinstance(p, ir.Dict) else p for p in parts]
        return ir.Call(_helper(runtime.merged), [self.emit(ir.Tuple(parts), "parts")])

    def dict_call(self, node: gast.Call) -> ir.Expr | None:
        """``dict(k=v)`` -> ``{'k': v}``, ``dict(a, k=v)`` and ``dict(**m)`` -> ``merged(...)``, for a call of
        the builtin ``dict``; None for ``dict(a)`` (a call of its rule) and ``dict(*xs)``."""
        if not node.keywords or len(node.args) > 1 or any(isinstance(a, gast.Starred) for a in node.args):
            return None
        if not node.args and all(kw.arg is not None for kw in node.keywords):
            return ir.Dict([ir.Const(kw.arg) for kw in node.keywords], [self.atom(kw.value) for kw in node.keywords])
        return self.merged([(kw.arg, kw.value) for kw in node.keywords], node.args)

    def zip_call(self, node: gast.Call) -> ir.Expr | None:
        """``zip(a, b)``, ``zip(*xs)`` as a value -> ``zipped((a, b))``, ``zipped(tuple(xs))`` (see
        ``runtime.zipped``), for a call of the builtin ``zip``; None with keywords (``strict=``)."""
        if node.keywords:
            return None
        if any(isinstance(a, gast.Starred) for a in node.args):
            parts = self.atom(_at(gast.Tuple(list(node.args), gast.Load()), node))
        else:  # (each read as a sequence: an iterator, `reversed(l)`, is read once, into a list)
            parts = ir.Tuple([self.sequence(a) for a in node.args])
        return ir.Call(_helper(runtime.zipped), [parts if isinstance(parts, ir.Name) else self.emit(parts, "parts")])

    def call(self, node: gast.Call) -> ir.Call:
        if isinstance(node.func, gast.Attribute):
            base = self.atom(node.func.value)
            if isinstance(base, ir.Ref) and (_is_namespace(base.value) or id(base.value) in self.classes):
                func = _attr_ref(base, node.func.attr)
            else:
                func = ir.Attr(base, node.func.attr)  # a method call: receiver stays an atom
        else:
            outer, self.calling = self.calling, (node, None)
            func = self.atom(node.func)
            self.calling = outer
        outer, self.calling = self.calling, (node, func)
        args = self.star_filled(func, node)
        if args is None:
            args = [ir.Starred(self.atom(a.value)) if isinstance(a, gast.Starred) else self.atom(a) for a in node.args]
        kwargs = [(kw.arg, self.atom(kw.value)) for kw in node.keywords]  # arg None: `**mapping`
        self.calling = outer
        return ir.Call(func, args, kwargs)

    def written(self, node: gast.Call) -> str | None:
        """The local array a call writes into where it is one of NumPy's writes s2sad lowers to the write
        it is (``np.copyto``, ``np.putmask``, ``np.place``, a ufunc with ``out=``), found from the object
        its function names now; None for any other call."""
        fn = self.static_value(node.func)
        params = _output_params(fn) if ir.hashable(fn) else None
        given = _bind_call(params, node) if params is not None else None
        target = given.get(params[0] if fn in _WRITERS else "out") if given is not None else None
        if target is None or not _kept_casting(given.get("casting")):
            return None
        target = target[0].elts[0] if isinstance(target[0], gast.Tuple) and len(target[0].elts) == 1 else target[0]
        if isinstance(target, gast.Name) and target.id in self.locals:
            return target.id
        return None

    def static_value(self, node: gast.expr) -> object:
        """The object an outside name or a module's attribute refers to now (``UNKNOWN``: anything else)."""
        if isinstance(node, gast.Name) and node.id not in self.locals and node.id not in self.globals_:
            return self.src.lookup(node.id)
        if isinstance(node, gast.Attribute):
            base = self.static_value(node.value)
            known = isinstance(base, types.ModuleType) or (isinstance(base, numpy.ufunc) and node.attr == "at")
            return getattr(base, node.attr, ir.UNKNOWN) if known else ir.UNKNOWN
        return ir.UNKNOWN

    def output_form(self, node: gast.Call, call: ir.Call) -> ir.Expr | None:
        """A NumPy call that writes into a local array (``written``), lowered to the write it is
        (``a[...] = v``), so that the mutation analysis sees it. Returns the call's value (None; with
        ``out=``, the array written), or None for any other call (one writing elsewhere stays a call,
        refused where a derivative is involved)."""
        name = getattr(node, WRITTEN, None)
        if name is None:
            return None
        static = self.static_value(node.func)
        fn = call.func.value if isinstance(call.func, ir.Ref) else static
        if fn != static:  # (compared by equality: `np.add.at` is made anew each time it is read)
            return None
        params = _output_params(fn)
        args = {k: v for k, (_, v) in _bind_call(params, node, call).items()}
        base = self.load_name(gast.Name(name, gast.Load(), None, None))
        if isinstance(fn, numpy.ufunc):
            index, value = ir.Const(Ellipsis), self.emit(ir.Call(call.func, [args[p] for p in params[:fn.nin]]), fn.__name__)
        else:
            index, value = getattr(self, params[0] + "_write")(base, args)
        given = _GIVEN_VALUES.get(fn)  # (NumPy casts these safely; a copy or a ufunc's result, by same_kind)
        casting = args.get("casting", ir.Const("safe" if given else "same_kind"))
        self.emit(ir.Call(_helper(runtime.check_cast), [args[given] if given else value, base, casting]), "checked")
        self.body.append(ir.Assign(self.new_version(name), ir.SetItem(base, index, value), self.loc))
        self.refresh(name, in_place=True)
        if isinstance(fn, numpy.ufunc):
            self.outs[id(node)] = name
            return self.load_name(gast.Name(name, gast.Load(), None, None))
        return ir.Const(None)

    def dst_write(self, a: ir.Name, args: dict[str, ir.Expr]) -> tuple[ir.Expr, ir.Expr]:
        """``np.copyto(a, src, where=m)``: ``a[...] = np.where(m, src, a)`` (without ``where``, ``src``)."""
        where = args.get("where")
        if where is None or (isinstance(where, ir.Const) and where.value is True):
            return ir.Const(Ellipsis), args["src"]
        return ir.Const(Ellipsis), self.emit(ir.Call(_np("where"), [where, args["src"], a]), "copied")

    def acc_write(self, a: ir.Name, args: dict[str, ir.Expr]) -> tuple[ir.Expr, ir.Expr]:
        """``np.add.at(a, indices, b)``: ``a[...] = scattered(a, indices, b)`` (a repeated index adds again)."""
        return ir.Const(Ellipsis), self.emit(ir.Call(_helper(runtime_numpy.scattered), [a, args["indices"],
                                                                                          args["b"]]), "scattered")

    def a_write(self, a: ir.Name, args: dict[str, ir.Expr]) -> tuple[ir.Expr, ir.Expr]:
        """``np.putmask(a, mask, values)``: where ``mask`` (of ``a``'s size) holds, ``a.flat[n]`` becomes
        ``values.flat[n % values.size]``: ``a[...] = np.where(mask, values cycled to a's shape, a)``."""
        shape = self.emit(ir.Call(_np("shape"), [a]), "shape")
        mask = self.emit(ir.Call(_np("reshape"), [args["mask"], shape]), "mask")
        values = self.emit(ir.Call(_helper(runtime_numpy.cycled), [args["values"], shape]), "values")
        return ir.Const(Ellipsis), self.emit(ir.Call(_np("where"), [mask, values, a]), "masked")

    def arr_write(self, a: ir.Name, args: dict[str, ir.Expr]) -> tuple[ir.Expr, ir.Expr]:
        """``np.place(a, mask, vals)``: the N places ``mask`` (of ``a``'s size) holds at, in order, get the
        first N of ``vals``, repeated cyclically: ``a[mask] = vals cycled to N``."""
        shape = self.emit(ir.Call(_np("shape"), [a]), "shape")
        held = self.emit(ir.Call(_np("not_equal"), [args["mask"], ir.Const(0)]), "held")
        mask = self.emit(ir.Call(_np("reshape"), [held, shape]), "mask")
        n = self.emit(ir.Call(_np("count_nonzero"), [mask]), "n")
        return mask, self.emit(ir.Call(_helper(runtime_numpy.cycled), [args["vals"], n]), "values")

    def joined(self, node: gast.Tuple | gast.List) -> ir.Expr:
        """``(a, *xs, b)`` as ``(a,) + tuple(xs) + (b,)`` (a list: ``list``), joins s2sad differentiates."""
        kind, make = (ir.Tuple, "tuple") if isinstance(node, gast.Tuple) else (ir.List, "list")
        parts, plain = [], []
        for e in node.elts:
            if isinstance(e, gast.Starred):
                if plain:
                    parts.append(self.emit(kind(plain), make))
                    plain = []
                parts.append(self.emit(ir.Call(_builtin(make), [self.atom(e.value)]), make))
            else:
                plain.append(self.atom(e))
        if plain:
            parts.append(self.emit(kind(plain), make))
        value = parts[0]
        for part in parts[1:]:
            value = self.emit(ir.BinOp("+", value, part), "joined")
        return value

    def star_filled(self, func: ir.Expr, node: gast.Call) -> list[ir.Expr] | None:
        """For ``f(a, *xs)`` calling a function known now whose parameters after ``a`` have no defaults and
        there is no ``*args``: the arguments with ``xs`` unpacked into as many names as they fill
        (``x0, x1 = xs; f(a, x0, x1)``), so each is differentiated as a plain argument. None otherwise."""
        fn = forwarded(func.value) if isinstance(func, ir.Ref) else None
        if not (isinstance(fn, types.FunctionType) and len(node.args) >= 1 and isinstance(node.args[-1], gast.Starred)
                and not any(isinstance(a, gast.Starred) for a in node.args[:-1])):
            return None
        code, k = fn.__code__, len(node.args) - 1
        filled = code.co_varnames[k:code.co_argcount]
        first_default = code.co_argcount - len(fn.__defaults__ or ())
        if code.co_flags & 0x04 or code.co_argcount <= k or code.co_argcount > first_default \
                or any(kw.arg in filled or kw.arg is None for kw in node.keywords):
            return None
        plain = [self.atom(a) for a in node.args[:-1]]
        seq = self.atom(node.args[-1].value)
        names = tuple(self.namer.fresh(f"{p}_arg") for p in filled)
        self.temps.update(names)
        self.body.append(ir.Assign(names, seq, self.loc))
        return [*plain, *map(ir.Name, names)]

    def index(self, node: gast.expr) -> ir.Expr:
        if isinstance(node, gast.Slice):
            parts = (None if p is None else self.atom(p) for p in (node.lower, node.upper, node.step))
            return ir.Slice(*parts)
        if isinstance(node, gast.Tuple):
            return ir.Tuple([self.index(e) for e in node.elts])
        return self.atom(node)

    def closure(self, node: gast.FunctionDef | gast.Lambda) -> ir.Closure:
        """A nested function, kept as written, reading the version of each of our variables current
        here (renamed to it where that is not the user's name): a closure reads its variables when
        called, and ``closures.captures`` has made those that may change after this point
        parameters of a named nested function. Where it could not, the change is refused."""
        captured, names, defaults, renamed = [], [], [], {}
        in_body = set(free_names(node, defaults=False))
        for name in free_names(node):
            if name not in self.locals:
                continue  # a global or a builtin: read when called, as usual
            if name in in_body and (name in self.stored_after(node) or (
                    name in self.loop_stores() and not self.consumed(node))):  # (a default is read when made)
                raise self.src.syntax_error(
                    f"this nested function captures {name!r}, which is rebound or changed after the function "
                    "is made (a closure reads it when it is called); s2sad follows that for a nested function "
                    "called by its name, not for one passed on or kept. Bind the value to a name that does "
                    "not change, or pass it as an argument", node)
            if isinstance(node, gast.FunctionDef) and name == node.name:
                raise self.src.syntax_error("s2sad does not support a nested function that calls itself yet; "
                                            "define it at module level", node)
            if self.env.get(name, _AFTER_LOOP) == _AFTER_LOOP:
                raise self.src.syntax_error(
                    f"this nested function captures {name!r}, which is not bound before it (or is a loop's "
                    "variable after the loop)", node)
            version = self.env[name]
            captured.append(ir.Name(version))
            names.append(version)
            if name not in in_body:
                defaults.append(version)
            if version != name:
                renamed[name] = version
        return ir.Closure(gast.gast_to_ast(rename_free(node, renamed) if renamed else node), captured, names,
                          defaults)

    def loop_stores(self) -> set[str]:
        """Names the loops around this point rebind or change (a closure made in one iteration may
        be called in the next)."""
        return _stores(self.loops)

    def consumed(self, node: gast.FunctionDef | gast.Lambda) -> bool:
        """Is ``node`` a lambda called right where it is made, or handed to a callable known to call it
        before returning and not keep it?"""
        call, func = self.calling
        if call is None or isinstance(node, gast.FunctionDef):
            return False
        if node is call.func:
            return True
        handed = any(node is a for a in [*call.args, *(k.value for k in call.keywords)])
        return handed and isinstance(func, ir.Ref) and any(func.value is c for c in _CONSUMERS)

    def stored_after(self, node: gast.AST) -> set[str]:
        """Names bound or changed in place by code after ``node`` (by source position)."""
        end = (node.end_lineno, node.end_col_offset)
        later = [n for n in gast.walk(self.src.tree) if isinstance(n, gast.stmt) and not isinstance(
            n, gast.FunctionDef) and (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)) > end]
        return _stores(later)

    def module_globals(self) -> ir.Ref:
        return ir.Ref(("module_globals",), self.src.fn.__globals__, helper=True)

    def load_name(self, node: gast.Name) -> ir.Expr:
        name = node.id
        if name in self.globals_:  # read now: a write by this function or a callee is seen
            return self.emit(ir.Subscript(self.module_globals(), ir.Const(name)), name)
        if self.env.get(name) == _AFTER_LOOP:
            raise self.after_loop(name, node)
        if name in self.imports:
            return self.imports[name]
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

    def after_loop(self, name: str, node: gast.AST) -> Exception:
        return self.src.syntax_error(f"reading the loop variable {name!r} after the loop is not supported yet; "
                                     "assign it to another name inside the loop", node)

    def unsupported(self, node: gast.AST) -> Exception:
        what = _UNSUPPORTED.get(type(node), f"`{type(node).__name__}`")
        return self.src.syntax_error(f"s2sad does not support {what} yet", node)


def _attr_ref(base: ir.Ref, attr: str) -> ir.Ref:
    """``module.attr``; a module imported inside the function stays the root it is bound by."""
    root = (base.root or base.value) if base.helper else None
    return ir.Ref((*base.path, attr), getattr(base.value, attr, ir.UNKNOWN), base.helper, root)


# NumPy functions that write into an array they are given, lowered to that write: their parameters,
# the array written first (``_Lowering.output_form``)
_WRITERS = {
    numpy.copyto: ("dst", "src", "casting", "where"),
    numpy.add.at: ("acc", "indices", "b"),  # (a bound method: found by equality)
    numpy.putmask: ("a", "mask", "values"),
    numpy.place: ("arr", "mask", "vals"),
}
_GIVEN_VALUES = {numpy.putmask: "values", numpy.place: "vals"}


def _output_params(fn: object) -> tuple[str, ...] | None:
    """The parameters of a NumPy call ``output_form`` lowers (None: not one): the array written first,
    a ufunc's inputs, then ``out``."""
    if isinstance(fn, numpy.ufunc):
        return (*(f"x{i}" for i in range(fn.nin)), "out", "casting") if fn.nout == 1 else None
    return _WRITERS.get(fn)


def _bind_call(params: tuple[str, ...], node: gast.Call, call: ir.Call | None = None) -> dict[str, tuple] | None:
    """Each parameter a call passes: its argument as written, and as lowered in ``call``. None: ``*``/``**``,
    or an argument that is not among ``params``."""
    if any(isinstance(a, gast.Starred) for a in node.args) or len(node.args) > len(params):
        return None
    args, kwargs = (call.args, [v for _, v in call.kwargs]) if call is not None else (node.args, node.keywords)
    given = dict(zip(params, zip(node.args, args)))
    for kw, value in zip(node.keywords, kwargs):
        if kw.arg not in params or kw.arg in given:
            return None
        given[kw.arg] = (kw.value, value)
    return given


def _kept_casting(casting: tuple[gast.expr, ir.Expr] | None) -> bool:
    """A ``casting=`` that never changes a float array's values (NumPy's default ``same_kind``, or
    ``unsafe``): the write casts as ``a[...] = v`` does. Another one is kept as the call."""
    return casting is None or (isinstance(casting[0], gast.Constant) and casting[0].value in ("same_kind", "unsafe"))


def _np(name: str) -> ir.Ref:
    return ir.Ref(("np", name), getattr(numpy, name), helper=True)


def _helper(fn: object) -> ir.Ref:
    return ir.Ref((fn.__name__,), fn, helper=True)


def _builtin(name: str) -> ir.Ref:
    """A builtin the lowering itself calls (bound by load if the user shadows the name)."""
    return ir.Ref((name,), getattr(builtins, name), helper=True)


def _stores(stmts: list[gast.stmt]) -> set[str]:
    """Names ``stmts`` rebind, write into (``x[i] = v``) or change with a list method."""
    return stores(n for s in stmts for n in _scope(s))


def _rebound(loop: gast.For | gast.While) -> set[str]:
    """Names ``loop`` binds to another value (its variable too; not ``y op= v``, which may keep the object)."""
    aug = {id(n.target) for n in _scope(loop) if isinstance(n, gast.AugAssign)}
    return {n.id for n in _scope(loop) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))
            and id(n) not in aug}


def _read_first(stmts: list[gast.stmt]) -> set[str]:
    """Names ``stmts`` may read before they bind them (by statement, then by source position within one):
    in a loop body, what an iteration may read from the one before. (Statements come in order; a loop
    written for a comprehension reads its element, left of its ``for``, after binding its variables.)"""
    first: dict[str, tuple] = {}
    reads = []
    for i, stmt in enumerate(stmts):
        for n in _scope(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                first[n.id] = min(first.get(n.id, (i, *_position(n))), (i, *_position(n)))
            elif isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                reads.append((n.id, (i, *_position(n))))
            elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
                line, col = _position(n.target)
                reads.append((n.target.id, (i, line, col - 0.5)))  # read before it is written
    return {name for name, at in reads if name in first and at < first[name]}


def _position(node: gast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _surely_bound(stmts: list[gast.stmt]) -> set[str]:
    """Names ``stmts`` bind on every path that goes on after them (by their top-level assignments,
    and those of both branches of an ``if``, or of the one that does not raise)."""
    out = set()
    for s in stmts:
        if isinstance(s, gast.If):
            then, orelse = _surely_bound(s.body), _surely_bound(s.orelse)
            out |= orelse if _always_raises(s.body) else then if _always_raises(s.orelse) else then & orelse
        elif isinstance(s, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
            out |= {n.id for t in (s.targets if isinstance(s, gast.Assign) else [s.target]) for n in gast.walk(t)
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    return out


def _exposed_in_loop(loop: gast.For | gast.While) -> set[str]:
    """Names an iteration of ``loop`` may read before binding them (its test and iterable too)."""
    head = [loop.iter] if isinstance(loop, gast.For) else [loop.test]
    bound = set(_target_names(loop.target)) if isinstance(loop, gast.For) else set()
    return {n.id for h in head for n in _scope_loads(h)} | _exposed(loop.body, bound)


def _exposed(stmts: list[gast.stmt], bound: set[str]) -> set[str]:
    """Names ``stmts`` may read before they bind them (``bound``: bound already; updated)."""
    out = set()
    for s in stmts:
        if isinstance(s, gast.If):
            out |= {n.id for n in _scope_loads(s.test)} - bound
            out |= _exposed(s.body, set(bound)) | _exposed(s.orelse, set(bound))
        elif isinstance(s, gast.With):
            out |= {n.id for i in s.items for n in _scope_loads(i)} - bound
            out |= _exposed(s.body, set(bound))
        elif isinstance(s, gast.Try):  # (a handler may run after any part of the body)
            out |= _exposed(s.body + s.orelse, set(bound)) | _exposed(s.finalbody, set(bound))
            out |= {n.id for h in s.handlers for n in _scope_loads(h)} - bound
        else:
            out |= {n.id for n in _scope_loads(s)} - bound
        bound |= _surely_bound([s])
    return out


def _always_raises(stmts: list[gast.stmt]) -> bool:
    """``stmts`` end in ``raise`` on every path: what follows them never runs."""
    last = stmts[-1] if stmts else None
    return isinstance(last, gast.Raise) or (
        isinstance(last, gast.If) and _always_raises(last.body) and _always_raises(last.orelse))


def _may_raise(s: gast.stmt) -> bool:
    """Whether ``s`` may raise: anything but ``pass``, binding a name to a constant or a name, and an ``if``
    on a name (or its negation) of such statements (the flags ``desugar`` writes)."""
    if isinstance(s, gast.Pass):
        return False
    if isinstance(s, gast.Assign):
        return not (all(isinstance(t, gast.Name) for t in s.targets) and isinstance(s.value, (gast.Constant, gast.Name)))
    if isinstance(s, gast.If):
        test = s.test.operand if isinstance(s.test, gast.UnaryOp) and isinstance(s.test.op, gast.Not) else s.test
        return not isinstance(test, (gast.Name, gast.Constant)) or any(map(_may_raise, s.body + s.orelse))
    return not _catches_all(s)


def _catches_all(s: gast.stmt) -> bool:
    """A ``try`` that catches every exception (``except BaseException``, as generated code does) and whose
    handler, ``else`` and ``finally`` cannot raise: it never raises, nor stops partway."""
    return isinstance(s, gast.Try) and any(
        h.type is None or (isinstance(h.type, gast.Name) and h.type.id == "BaseException") for h in s.handlers) \
        and not any(map(_may_raise, [*(t for h in s.handlers for t in h.body), *s.orelse, *s.finalbody]))


def _unsure(stmts: list[gast.stmt]) -> set[str]:
    """Names ``stmts`` may have set when they raise partway: those set by a statement a statement that
    may raise follows, and inside a loop, ``with`` or ``try`` (which may raise after setting them); a
    simple statement that raises sets nothing."""
    out = set()
    for i, s in enumerate(stmts):
        if any(map(_may_raise, stmts[i + 1:])):
            out |= _stores([s])
        if getattr(s, "protected", False) or _catches_all(s):  # (``protected``: its code is in groups, ``desugar.tries``)
            continue
        if isinstance(s, gast.If):
            out |= _unsure(s.body) | _unsure(s.orelse)
        elif isinstance(s, (gast.For, gast.While, gast.With, gast.Try)):
            out |= _stores([s])
    return out


def _exit_flag(body: list[gast.stmt]) -> tuple[str | None, list[gast.stmt]]:
    """The flag of desugar's ``if broke: break`` ending a loop body, and the body without it (or None and
    the body)."""
    last = body[-1] if body else None
    if isinstance(last, gast.If) and len(last.body) == 1 and isinstance(last.body[0], gast.Break) \
            and not last.orelse and isinstance(last.test, gast.Name):
        return last.test.id, body[:-1]
    return None, body


def _loop_targets_only(stmts: list[gast.stmt]) -> set[str]:
    """Names ``stmts`` bind only as the variables of ``for`` loops."""
    targets = {id(n) for s in stmts for f in _scope(s) if isinstance(f, gast.For) for n in gast.walk(f.target)}
    stores = [n for s in stmts for n in _scope(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)]
    return {n.id for n in stores} - {n.id for n in stores if id(n) not in targets}


def _target_names(target: gast.expr) -> list[str]:
    return [n.id for n in gast.walk(target) if isinstance(n, gast.Name)]


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
    if isinstance(node, gast.Lambda):
        return "fn"
    return "tmp"
