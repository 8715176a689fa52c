"""Static facts of the values of a flat SSA function, found at transform time.

Which names are statically scalars (shape ``()``) and what is known of containers' entries
(``scalars_and_shapes``, with ``statics``' facts; given the arguments' shapes, concrete shapes
too: ``concrete_dims``), classes of names of equal shapes (``same_shapes``), static kinds (array,
int, list, tuple, dict: ``static_kinds``, which makes ``+`` on a list a join), names that hold ints
(``int_names``), numbers (``number_names``), arrays (``array_names``), containers
(``container_names``) and complex values (``complex_names``). ``activity.analyze`` gathers them.
The forward ones over regions are ``ir.Forward`` analyses. The scalar and shape passes assume a
loop's carried value keeps its fact and drop (``widen``) what an iteration breaks; every assignment
sets its target's fact exactly (a loop's body is walked again with less known).
"""

from __future__ import annotations

import builtins
import math
import operator
import types
from collections.abc import Callable

import numpy as np

from . import ir, runtime
from .classify import (
    CALL,
    CLOSURE,
    CONTAINER,
    COPY,
    DERIVE,
    LISTOP,
    NONDIFF,
    SETITEM,
    TRANSFORM,
    UNPACK,
    Prim,
    calls,
    diff_operands,
    names_in,
)
from .rules import ADD_OR_JOIN, CONCAT, INPLACE_OPS, MUL_OR_REPEAT, REPEAT, RULES, custom_rule
from .statics import ANY, OTHER, SCALAR, Items, entry, join, of_value, unpacked

__all__ = ["scalars_and_shapes", "concrete_dims", "same_shapes", "static_kinds", "int_names", "number_names",
           "array_names", "container_names", "used_as_container", "written_in_place", "complex_names", "any_complex",
           "is_complex", "static_fact", "static_scalar", "is_scalar", "range_target", "specialisable", "holds_shape",
           "Calls"]


def static_fact(e: ir.Expr, scalars: set[str], dims: dict[str, tuple[int, ...]], parts: dict[str, Items]) -> object:
    """What ``scalars``, ``dims`` and ``parts`` say of ``e`` (see ``statics``); a tuple literal is not looked into."""
    if static_scalar(e, scalars):
        return SCALAR
    if isinstance(e, ir.Const):
        return OTHER if e.value is None or isinstance(e.value, str) else None
    if isinstance(e, ir.Name):
        return dims.get(e.id) or parts.get(e.id)  # (shape (): a NumPy scalar or a 0-d array)
    return None


def static_scalar(e: ir.Expr, scalars: set[str]) -> bool:
    """``e`` is a name known to hold a scalar, or a number constant."""
    return (isinstance(e, ir.Name) and e.id in scalars) or (
        isinstance(e, ir.Const) and isinstance(e.value, (int, float)))


def scalars_and_shapes(body: list[ir.Stmt], prims: dict[int, Prim], scalar_params: set[str], names: list[str],
                       dims: dict[str, tuple[int, ...]] | None, facts: dict[str, object], calls: Calls) -> tuple:
    """Scalars, containers' entries and (given the parameters' shapes) shapes; and the calls resolved.

    Calls with only scalar (and container-of-scalar) arguments are resolved by the scalar pass, those
    with arrays by the shape pass, whose results the scalar pass is then given (``hints``) and run
    again, until the shape pass finds what the scalar pass was given; if they do not settle, the
    shape pass's results are not fed back."""
    shaped = dims is not None and bool(dims or facts)
    for attempt in range(_ROUNDS + 1):
        if attempt == _ROUNDS:
            calls.hints = {}
        scalars, parts = _scalars(body, prims, scalar_params, names, facts, calls)
        resolved = dict(calls.found)
        if not shaped:
            return scalars, parts, {}, resolved
        found, parts = concrete_dims(body, prims, dims, scalars, facts, calls)
        resolved.update(calls.found)
        if calls.found == calls.hints or attempt == _ROUNDS:
            return scalars, parts, found, resolved
        calls.hints = calls.found
    raise AssertionError("unreachable")


_ROUNDS = 4  # rounds of the scalar and shape passes feeding each other what calls return


def holds_shape(fact: object) -> bool:
    """A fact holding an array's shape (so known only to a derivative specific to the arguments' shapes)."""
    if isinstance(fact, Items):
        return any(map(holds_shape, fact.facts))
    return isinstance(fact, tuple)


def written_in_place(stmts: list[ir.Stmt], prims: dict[int, Prim]) -> set[str]:
    """Names ``y op= v`` may change in place, or a call into user code may write into."""
    return {n for s in stmts if isinstance(s, ir.Assign) and (prims[s.sid].kind == TRANSFORM or calls(s.value, INPLACE_OPS))
            for n in names_in([*prims[s.sid].args, *prims[s.sid].kwargs.values()])}


# of shape (), their results are numbers (a NumPy scalar, never a 0-d array), as are ufuncs', reductions'
# and an array's items
_NUMBER_RESULTS = (operator.add, operator.sub, operator.mul, operator.truediv, operator.pow, operator.mod,
                   operator.neg, operator.pos, builtins.abs, builtins.pow, builtins.float)


def number_names(body: list[ir.Stmt], prims: dict[int, Prim], params: set[str], scalars: set[str],
                 dims: dict[str, tuple[int, ...]], literals: dict[str, list[ir.Expr]]) -> set[str]:
    """Names that hold a number (a Python or NumPy scalar, never a 0-d array): the scalar parameters
    (``params``, classified by the arguments' types); of shape ``()`` (``dims``, or statically scalar),
    an array's item, a reduction, a ``math`` function's, an operator's or a ufunc's result; an item of a
    tuple of numbers; a branch's or a loop's value that is a number on every path. Being of shape ``()``
    is not enough: ``np.where``, ``np.array`` and the like give 0-d arrays, which ``y op= v`` writes into."""
    results = {id(r) for f, r in RULES.items() if isinstance(f, np.ufunc) or any(f is g for g in _NUMBER_RESULTS)}

    def number(s: ir.Assign, p: Prim, held) -> bool:
        if p.kind != CALL:
            return False
        if calls(s.value, (runtime.immutable,)):  # checked when the derivative runs
            return True
        if p.rule.item and isinstance(p.args[0], ir.Name) and p.args[0].id in literals:
            return all(held(i) for i in literals[p.args[0].id])  # an item of a tuple of numbers
        return (dims.get(s.target) == () or s.target in scalars) and (
            p.rule.reduction or p.rule.item or p.rule.scalar_only or id(p.rule) in results)

    return _holding(body, prims, params & scalars, number, numbers=True)


_MAKERS = {np.array, np.asarray, np.zeros, np.ones, np.empty, np.full, np.zeros_like, np.ones_like, np.empty_like,
           np.full_like, np.arange, np.linspace, np.eye, np.identity, np.copy}


def array_names(body: list[ir.Stmt], prims: dict[int, Prim], dims: dict[str, tuple[int, ...]], params: set[str]
            ) -> set[str]:
    """Names taken to hold NumPy arrays (``y op= v`` on one is an in-place write): the array
    parameters of a typed derivative, names of a known shape with at least one axis; made by
    ``np.array``, ``np.zeros``, ... or ``a.copy()`` of one; an elementwise result of one. (Taking
    a number for an array only refuses a write s2sad would otherwise check when it runs.)"""
    def array(s: ir.Assign, p: Prim, held) -> bool:
        if calls(s.value, _MAKERS):
            return True
        if p.kind == SETITEM:
            return held(p.args[0])
        return p.kind == CALL and (p.rule.elementwise or p.rule is RULES[np.copy]) and any(map(held, p.args))

    return _holding(body, prims, {*params, *(n for n, d in dims.items() if d)}, array)


def _holding(body: list[ir.Stmt], prims: dict[int, Prim], start: set[str], fact, numbers: bool = False) -> set[str]:
    """``start`` grown by the assignments ``fact(s, prim, held)`` holds for (``held(e)``: is ``e`` known;
    with ``numbers``, a number constant is), copies, and branch and loop values known on every path (a
    loop's carried value is assumed known where its start is, and dropped if an iteration's is not)."""
    return _Holding(prims, start, fact, numbers).run(body).known


class _Holding(ir.Every):
    """The names ``_holding`` finds: what holds on every path (the names of ``start`` always)."""

    def __init__(self, prims: dict[int, Prim], start: set[str], fact, numbers: bool) -> None:
        super().__init__(start)
        self.prims, self.fact, self.numbers = prims, fact, numbers

    def of(self, e: ir.Expr | None) -> bool:
        return super().of(e) or (self.numbers and isinstance(e, ir.Const) and type(e.value) in (int, float))

    def targets(self, s: ir.Loop) -> None:
        pass  # (not known)

    def transfer(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign) and isinstance(s.target, str):
            p = self.prims[s.sid]
            self.bind(s.target, self.of(p.args[0]) if p.kind == COPY else self.fact(s, p, self.of))


def same_shapes(body: list[ir.Stmt], prims: dict[int, Prim], scalars: set[str], anchors: list[str],
                dims: dict[str, tuple[int, ...]]) -> tuple[dict[str, str], bool]:
    """Names whose shapes are equal by construction: an elementwise result has the shape its
    array operands share (a scalar operand does not change it). Lets ``unbroadcast`` go.

    With concrete shapes (``dims``), every name with the shape of an *anchor* (a parameter
    or a name the function body binds outside loops and branches: bound wherever the
    pullback reads a shape) joins the first such anchor's class; returns whether that
    joined classes construction kept apart.
    """
    classes = _Classes(prims, scalars).run(body)
    same, rep = classes.same, classes.rep
    specific = False
    by_dims = {}
    for a in anchors:  # the class's name in the pullback's shape-only reads (``Sym.like``)
        if dims.get(a):
            by_dims.setdefault(dims[a], rep(a))
    for n, d in dims.items():
        target = by_dims.get(d)
        if target is not None and rep(n) != rep(target):
            specific = True
            same[rep(n)] = rep(target)
    return {n: rep(n) for n in same}, specific


class _Classes(ir.Forward):
    """The forward analysis of ``same_shapes``: ``same`` links a name to one of its class (``rep`` follows the
    links); an operand's fact is its class's name, ``"()"`` for a scalar. A branch's out, or a loop's carried
    value, is in the class every path gives it (a carried value kept only while iterations keep it)."""

    def __init__(self, prims: dict[int, Prim], scalars: set[str]) -> None:
        self.prims, self.scalars = prims, scalars
        self.same: dict[str, str] = {}

    def rep(self, n: str) -> str:
        while self.same.get(n, n) != n:
            n = self.same[n]
        return n

    def of(self, e: ir.Expr | None) -> str | None:
        if isinstance(e, ir.Const) and isinstance(e.value, (int, float)):
            return "()"
        if isinstance(e, ir.Name):
            return "()" if e.id in self.scalars else self.rep(e.id)
        return None

    def bind(self, name: str, fact: object) -> None:
        if isinstance(fact, str) and fact not in ("()", name):
            self.same[name] = fact
        else:
            self.forget(name)

    def forget(self, name: str) -> None:
        self.same.pop(name, None)

    def join(self, a: object, b: object) -> object:
        return a if a == b else None

    def targets(self, s: ir.Loop) -> None:
        for t in s.targets:
            self.forget(t)

    def transfer(self, s: ir.Stmt) -> None:
        if not isinstance(s, ir.Assign) or isinstance(s.target, tuple):
            return
        p, fact = self.prims[s.sid], None
        if p.kind == COPY and isinstance(p.args[0], ir.Name):
            fact = self.rep(p.args[0].id)
        elif p.kind == CALL and p.rule.elementwise and not p.kwargs:
            shapes = {self.of(a) for a in p.args} - {"()"}
            if len(shapes) == 1 and None not in shapes:
                fact = shapes.pop()
        self.bind(s.target, fact)


def concrete_dims(body: list[ir.Stmt], prims: dict[int, Prim], params: dict[str, tuple[int, ...]], scalars: set[str],
                  facts: dict[str, object], calls: Calls) -> tuple[dict[str, tuple[int, ...]], dict[str, Items]]:
    """Concrete shapes that the parameters' shapes determine: elementwise broadcasting, integer
    indexing (a for loop's element too), reductions over constant axes, matrix products, ``.T``, in-place writes; values
    carried by a loop whose iterations keep their shape; entries of tuples, lists and dicts (from the
    arguments' ``facts``, literals, tuple assignments) and results of calls ``calls`` resolves. Names
    left out are not known; names known to be scalars have shape ``()`` whatever their operands
    (``math.sin``, ``float``). Returns the shapes and the containers' ``Items``."""
    found = _Dims(prims, dict(params), {n: f for n, f in facts.items() if isinstance(f, Items)}, scalars, calls)
    calls.start()
    found.run(body)
    return found.dims, found.parts


class _Dims(ir.Forward):
    """The forward analysis of ``concrete_dims``. A name's fact is the pair (its shape, its ``Items``), either
    None where not known; ``dims`` and ``parts`` hold them; ``consts`` the ints and tuples of ints the shapes
    determine (``x.shape[1]``). A loop's carried value is assumed to keep its shape and entries; one an
    iteration changes is dropped (``widen``)."""

    def __init__(self, prims: dict[int, Prim], dims: dict[str, tuple[int, ...]], parts: dict[str, Items],
                 scalars: set[str], calls: Calls) -> None:
        self.prims, self.dims, self.parts, self.scalars, self.calls = prims, dims, parts, scalars, calls
        self.ints = calls.ints  # targets of `for ... in range(...)`
        self.consts: dict[str, object] = {}

    def shape(self, e: ir.Expr) -> tuple[int, ...] | None:
        if isinstance(e, ir.Const) and type(e.value) in (int, float):
            return ()
        return self.dims.get(e.id) if isinstance(e, ir.Name) else None

    def of(self, e: ir.Expr | None) -> tuple:
        return self.shape(e) if e is not None else None, self.parts.get(e.id) if isinstance(e, ir.Name) else None

    def bind(self, name: str, fact: object) -> None:
        self.forget(name)
        d, items = fact
        if d is not None:
            self.dims[name] = d
        elif items is not None:
            self.parts[name] = items

    def forget(self, name: str) -> None:
        self.dims.pop(name, None)
        self.parts.pop(name, None)

    def join(self, a: object, b: object) -> tuple:
        if a[0] is not None and a[0] == b[0]:
            return a[0], None
        return None, join(a[1], b[1])

    def widen(self, before: list, after: list, rounds: int) -> list:
        return [b if a == b else (None, None) for b, a in zip(before, after)]

    def targets(self, s: ir.Loop) -> None:
        if range_target(s):
            self.ints.add(s.target)

    def static(self, e: ir.Expr) -> object:
        return static_fact(e, self.scalars, self.dims, self.parts)

    def fact(self, f: object) -> tuple:
        """The pair of a static fact (``statics``)."""
        return ((), None) if f == SCALAR else (f, None) if isinstance(f, tuple) else (
            None, f if isinstance(f, Items) else None)

    def transfer(self, s: ir.Stmt) -> None:
        if not isinstance(s, ir.Assign):
            return
        p = self.prims[s.sid]
        if isinstance(s.target, tuple):
            facts = unpacked(self.static(p.args[0]), len(s.targets)) if p.kind == UNPACK else None
            for t, f in zip(s.targets, facts or [None] * len(s.targets)):
                self.bind(t, self.fact(f))
            return
        d = () if s.target in self.scalars else self.assign(p)
        if d is not None:
            self.bind(s.target, (d, None))
            return
        d = self.created(s)
        self.bind(s.target, (d, None) if d is not None else self.fact(_fact_of(s, p, self.static, self.calls)))
        if (c := self.shape_value(s)) is not None:
            self.consts[s.target] = c
        else:  # (a loop's body is analysed again when an assumption about a shape fails)
            self.consts.pop(s.target, None)

    def assign(self, p: Prim) -> tuple[int, ...] | None:
        args = [self.shape(a) for a in p.args]
        if p.kind == COPY or p.kind == SETITEM:
            return args[0]
        if p.kind != CALL or None in args[:1] or p.rule.shape is None:
            return None
        return p.rule.shape(args, p.args, p.kwargs, self.ints)  # the rule's declared shape transfer

    def const(self, e: ir.Expr) -> object:
        if isinstance(e, ir.Const):
            return e.value if type(e.value) is int else None
        return self.consts.get(e.id) if isinstance(e, ir.Name) else None

    def shape_value(self, s: ir.Assign) -> object:
        """What ``s`` computes, where it is an int or a tuple of ints the known shapes fix."""
        v, dims, const = s.value, self.dims, self.const
        if isinstance(v, ir.Attr) and isinstance(v.value, ir.Name) and v.value.id in dims:
            d = dims[v.value.id]
            return {"shape": d, "ndim": len(d), "size": math.prod(d)}.get(v.attr)
        if isinstance(v, ir.Subscript) and isinstance(const(v.value), tuple) and type(const(v.index)) is int:
            t, i = const(v.value), const(v.index)
            return t[i] if -len(t) <= i < len(t) else None
        if isinstance(v, ir.Tuple):
            items = [const(i) for i in v.items]
            return tuple(items) if all(type(i) is int for i in items) else None
        if isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) and len(v.args) == 1 and not v.kwargs \
                and isinstance(v.args[0], ir.Name) and v.args[0].id in dims:
            d = dims[v.args[0].id]
            if v.func.value in (np.shape,):
                return d
            if v.func.value is len and d:
                return d[0]
        return None

    def created(self, s: ir.Assign) -> tuple[int, ...] | None:
        """The shape of an array ``np.zeros(shape)`` (``ones``, ``empty``, ``full``, ``*_like``) makes."""
        v = s.value
        if not (isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) and v.args):
            return None
        fn, first = v.func.value, v.args[0]
        if fn in (np.zeros_like, np.ones_like, np.empty_like, np.full_like) and not any(
                k == "shape" for k, _ in v.kwargs):
            return self.shape(first) if isinstance(first, ir.Name) and first.id not in self.scalars else None
        if fn in (np.zeros, np.ones, np.empty, np.full):
            shape = self.const(first)
            return (shape,) if type(shape) is int else shape if isinstance(shape, tuple) else None
        return None


def range_target(s: ir.Stmt) -> str | None:
    """The target of ``for t in range(...)``: an int, a different one on every iteration."""
    if isinstance(s, ir.Loop) and s.kind == "for" and isinstance(s.target, str) and isinstance(s.iter, ir.Call) \
            and isinstance(s.iter.func, ir.Ref) and s.iter.func.value is range:
        return s.target
    return None


def used_as_container(stmts: list[ir.Stmt], prims: dict[int, Prim]) -> set[str]:
    """Names indexed, unpacked, iterated or passed to user code: what may hold a tuple, list or dict
    (unless an operator other than ``+`` and ``*`` applies to it: then it is a number or an array)."""
    out: set[str] = set()
    numbers: set[str] = set()
    for s in stmts:
        if isinstance(s, ir.Assign):
            p = prims[s.sid]
            if p.kind == CALL and p.rule.elementwise and not p.rule.sequences:
                numbers |= names_in(p.args)
            if p.kind == UNPACK or p.kind == TRANSFORM or (p.kind == CALL and p.rule.item):
                out |= names_in(p.args[:1] if p.kind == CALL else [*p.args, *p.kwargs.values(), *p.starred])
        elif isinstance(s, ir.Loop) and s.iter is not None:
            out |= names_in([s.iter])
    return out - numbers


def container_names(body: list[ir.Stmt], prims: dict[int, Prim], trees: set[str]) -> set[str]:
    """Names that may hold a tuple, list, dict or function: their cotangents add entry by entry. A
    call into user code may return any of them."""
    out = set(trees)
    out |= {p.func.id for p in prims.values() if p.kind == TRANSFORM and isinstance(p.func, ir.Name)}
    for s in ir.walk(body):  # results that may be tuples: a user function's, a rule's with several (slogdet, split)
        p = prims.get(s.sid)
        if p is not None and (p.kind == TRANSFORM or (p.kind == CALL and p.rule.container)):
            out.update(s.targets)
    return _Containers(out, prims).run(body).found  # items of containers may be containers


class _Containers(ir.Reach):
    def __init__(self, found: set[str], prims: dict[int, Prim]) -> None:
        super().__init__(found)
        self.prims = prims

    def transfer(self, s: ir.Stmt) -> None:
        if not isinstance(s, ir.Assign):
            return
        p = self.prims[s.sid]
        base = p.args[0] if p.args else None
        if p.kind in (CONTAINER, CLOSURE, LISTOP, TRANSFORM, DERIVE) or (p.kind == CALL and p.rule.returns) \
                or _container_result(p, self.found) or (
                isinstance(base, ir.Name) and base.id in self.found
                and (p.kind in (COPY, UNPACK, SETITEM) or (p.rule is not None and p.rule.item))):
            self.found.update(s.targets)


_SEQ_KINDS = {"list", "tuple", "seq", "tree"}


def static_kinds(body: list[ir.Stmt], prims: dict[int, Prim], scalars: set[str], trees: set[str],
                 dims: dict[str, tuple[int, ...]], positional: list[str], parts: dict[str, Items],
                 packed: dict[str, str], any_kind: bool = False) -> dict[str, str]:
    """What each name statically is, where that is known: ``"array"`` (a number or an array: operators
    are arithmetic), ``"int"``, ``"list"``, ``"tuple"``, ``"seq"`` (one of the two), ``"dict"``,
    ``"tree"`` (a pytree argument). A ``+`` or ``*`` that meets a list or tuple is re-classified
    here as joining or repeating it (``prims`` is updated in place), never differentiated as arithmetic.
    A positional parameter is a pytree (``trees``: each derivative is made for its arguments' types)
    or not a list or tuple; ``packed`` names ``*args`` and ``**kwargs``. Names of known shape (``dims``) are
    arrays, those of known entries (``parts``) their containers. ``any_kind``: a ``+`` of two values of
    unknown kind is told a join from arithmetic at run time (see ``activity.analyze``).
    """
    kinds: dict[str, object] = {n: f.kind for n, f in parts.items()}
    kinds.update({n: "array" for n in [*scalars, *dims, *positional]})
    kinds.update({n: "tree" for n in trees if n in positional})  # (a captured value in ``trees`` may be anything)
    kinds.update(packed)  # `*args`, `**kwargs`
    _Kinds(prims, scalars, kinds, any_kind).run(body)
    return {n: k for n, k in kinds.items() if isinstance(k, str)}


class _Kinds(ir.Environment):
    """The kinds of ``static_kinds``: a ``range`` loop's target is an int, other loops' targets are not known."""

    def __init__(self, prims: dict[int, Prim], scalars: set[str], kinds: dict[str, object], any_kind: bool) -> None:
        self.prims, self.scalars, self.env, self.any_kind = prims, scalars, kinds, any_kind

    def constant(self, value: object) -> object:
        return "int" if type(value) is int else "array" if isinstance(value, (float, complex)) else None

    def join(self, a: object, b: object) -> object:
        return _join_kinds(a, b)

    def targets(self, s: ir.Loop) -> None:
        if (t := range_target(s)) is not None:
            self.env[t] = "int"

    def transfer(self, s: ir.Stmt) -> None:
        if not isinstance(s, ir.Assign):
            return
        p = _operator_on_containers(self.prims, s, self.of, self.any_kind)
        if isinstance(s.target, tuple):
            if p.kind == LISTOP:
                self.env[s.targets[-1]] = "list"
            return
        kind = _kind_of(p, s.value, self.of)
        if s.target in self.scalars and kind is None:
            kind = "array"
        if kind is not None:
            self.env[s.target] = kind


def _kind_of(p: Prim, v: ir.Expr, of) -> str | None:
    """The kind (see ``static_kinds``) of the value ``p`` computes, given the kinds ``of`` its operands."""
    if p.kind in (COPY, SETITEM):
        return of(p.args[0])
    if p.kind == CONTAINER:
        return {ir.List: "list", ir.Tuple: "tuple", ir.Dict: "dict"}[type(v)]
    if p.kind == LISTOP:
        return "list"
    if p.kind != CALL:
        return None
    args = [of(a) for a in p.args]
    if p.rule.returns and p.rule.view:  # (``sequence``: its operand as it is, an array's too)
        return args[0] if args and args[0] in _SEQ_KINDS else None
    if p.rule.returns:
        return p.rule.returns
    if p.rule.reduction or (p.rule.elementwise and all(k in ("array", "int") for k in args)):
        return "array"
    if p.rule.elementwise and not p.rule.sequences:
        return "array"  # (no other operator applies to a list, tuple or dict)
    if p.rule.item:
        return "array" if args[0] == "array" else None
    return "array" if p.rule.numeric else None


def _join_kinds(a: object, b: object) -> object:
    """The kind of a value that is of kind ``a`` on one path and ``b`` on another."""
    if a == b:
        return a
    return "seq" if {a, b} <= {"list", "tuple", "seq"} else None


def _operator_on_containers(prims: dict[int, Prim], s: ir.Assign, of, any_kind: bool = False) -> Prim:
    """``s``'s primitive, with ``+`` and ``*`` (and ``+=``, ``*=``) on a list or tuple made joining and
    repeating, and ``x * n`` (``n`` an int, ``x`` of unknown kind) told apart at run time; with ``any_kind``,
    so is ``x + y`` of two values of unknown kind."""
    p = prims[s.sid]
    if p.kind != CALL or len(p.args) != 2 or p.kwargs:
        return p
    op = p.rule.sequences
    if op is None or p.rule.returns:
        return p
    kinds = [of(a) for a in p.args]
    seq = [k in _SEQ_KINDS for k in kinds]
    rule = None
    if op == "join" and any(seq):
        rule = CONCAT
    elif op == "repeat" and any(seq):
        rule = REPEAT[seq.index(True)]
    elif op == "repeat" and "int" in kinds and None in kinds:
        rule = MUL_OR_REPEAT[kinds.index(None)]
    elif op == "join" and kinds == [None, None] and any_kind:
        rule = ADD_OR_JOIN
    if rule is not None:
        p = prims[s.sid] = Prim(CALL, rule, list(p.args))
    return p


def _container_result(p: Prim, containers: set[str]) -> bool:
    """A rule's result that is a tuple or list, always or because an argument is one."""
    if p.kind != CALL or p.rule.container is False:
        return False
    return p.rule.container is True or bool(names_in([p.args[i] for i in p.rule.container if i < len(p.args)])
                                            & containers)


_INT = "int"  # a Python int or bool, or an array of bools (also a pattern below)

_NOTHING = "nothing"  # None, or the elements of an empty list: joined with a pattern, that pattern


def int_names(body: list[ir.Stmt], prims: dict[int, Prim]) -> set[str]:
    """Names statically known to hold a Python int or bool (or an array of bools), or None: an int
    constant, a ``range`` loop's variable, a comparison, integer arithmetic on them, and what is read
    back out of tuples and lists that hold them in known places (a derivative's own tape:
    ``tape.append((v, i))`` ... ``v, i = tape[k]``). A *pattern* is ``"int"``, ``"nothing"``,
    ``("tuple", (pattern, ...))``, ``("list", element pattern)`` or None (unknown)."""
    pats = _Patterns(prims).run(body).env
    return {n for n, p in pats.items() if p in (_INT, _NOTHING)}


class _Patterns(ir.Environment):
    """The patterns of ``int_names``; a loop's carried value whose pattern still changes after four rounds is
    unknown."""

    def __init__(self, prims: dict[int, Prim]) -> None:
        self.prims, self.env = prims, dict[str, object]()

    def constant(self, value: object) -> object:  # (None: what a derivative binds where a branch did not run)
        return _INT if type(value) in (int, bool) else _NOTHING if value is None else None

    def join(self, a: object, b: object) -> object:
        return _join(a, b)

    def widen(self, before: list, after: list, rounds: int) -> list:
        return after if rounds < 4 else [None if a != b else a for b, a in zip(before, after)]

    def targets(self, s: ir.Loop) -> None:
        pattern = _INT if range_target(s) else _element(self.of(s.iter))
        items = [pattern] if len(s.targets) == 1 else _pattern_items(pattern, len(s.targets))
        self.env.update(zip(s.targets, items))

    def transfer(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign):
            self.env.update(_assigned_patterns(s, self.prims[s.sid], self.of))


def _assigned_patterns(s: ir.Assign, p: Prim, of: Callable[[ir.Expr], object]) -> dict[str, object]:
    """The patterns (see ``int_names``) assignment ``s`` gives its targets, from the patterns ``of`` its operands."""
    v = s.value
    if isinstance(v, ir.Compare):
        return {s.target: _INT}  # a bool, or an array of them
    if p.kind == UNPACK:
        return dict(zip(s.targets, _pattern_items(of(p.args[0]), len(s.targets))))
    if p.kind == COPY:
        return {s.target: of(p.args[0])}
    if p.kind == CONTAINER and isinstance(v, ir.Tuple):
        return {s.target: ("tuple", tuple(of(i) for i in v.items))}
    if p.kind == CONTAINER and isinstance(v, ir.List):
        return {s.target: ("list", _join_all([of(i) for i in v.items]))}
    if p.kind == LISTOP:
        element = _element(of(p.args[0]))
        if v.method == "pop":
            return {s.targets[0]: element, s.targets[1]: of(p.args[0])}
        added = of(p.args[1]) if v.method == "append" else _element(of(p.args[1]))
        return {s.target: ("list", _join(element, added))}
    if p.kind == CALL and p.rule.item:
        return {s.target: _indexed(of(p.args[0]), p.args[1], of(p.args[1]))}
    if p.kind == CALL and p.rule.ints and not p.kwargs:
        return {s.target: of(p.args[0]) if len(p.args) == 1 else _INT if all(of(a) == _INT for a in p.args) else None}
    if p.kind == SETITEM and of(p.args[0]) == _INT:
        return {s.target: _INT}  # an integer array written into stays one: what is written is truncated
    if p.kind in (NONDIFF, CALL) and isinstance(v, ir.Call) and _integer_type(_dtype_of(v, p)):
        return {s.target: _INT}  # np.zeros(n, dtype=int), x.astype(int): an int carries no derivative
    return {}


def _dtype_of(v: ir.Call, p: Prim) -> object:
    """The constant ``dtype`` of a call: a keyword, or an operand at the rule's parameter of that name
    (``Rule.params``: ``x.astype(int)``, ``np.full(n, v, int)``); None where not known."""
    e = dict(v.kwargs).get("dtype")
    names = [name for name, _ in p.rule.params] if p.kind == CALL else []
    if e is None and "dtype" in names and names.index("dtype") < len(p.args):
        e = p.args[names.index("dtype")]
    return e.value if isinstance(e, ir.Const | ir.Ref) else None


def _integer_type(t: object) -> bool:
    try:
        return np.issubdtype(np.dtype(t), np.integer) or np.dtype(t) == np.bool_
    except TypeError:
        return False


def _join(a: object, b: object) -> object:
    """The pattern both ``a`` and ``b`` match."""
    if a == _NOTHING or a == b:
        return b
    if b == _NOTHING:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "list":
        return ("list", _join(a[1], b[1]))
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "tuple" and len(a[1]) == len(b[1]):
        return ("tuple", tuple(_join(x, y) for x, y in zip(a[1], b[1])))
    return None


def _join_all(patterns: list[object]) -> object:
    out = _NOTHING
    for p in patterns:
        out = _join(out, p)
    return out


def _element(pattern: object) -> object:
    """The pattern of any one element of a list or tuple of ``pattern``."""
    if isinstance(pattern, tuple) and pattern[0] == "list":
        return pattern[1]
    if isinstance(pattern, tuple) and pattern[0] == "tuple":
        return _join_all(list(pattern[1]))
    return None


def _pattern_items(pattern: object, n: int) -> list[object]:
    """The patterns of the ``n`` items unpacked from a value of ``pattern``."""
    if isinstance(pattern, tuple) and pattern[0] == "tuple" and len(pattern[1]) == n:
        return list(pattern[1])
    return [_element(pattern)] * n


def _indexed(pattern: object, index: ir.Expr, index_pattern: object) -> object:
    """The pattern of ``x[index]`` for ``x`` of ``pattern``: an element for an int index."""
    if isinstance(index, ir.Const) and type(index.value) is int and isinstance(pattern, tuple) \
            and pattern[0] == "tuple" and -len(pattern[1]) <= index.value < len(pattern[1]):
        return pattern[1][index.value]
    return _element(pattern) if index_pattern == _INT else None


def _scalars(body: list[ir.Stmt], prims: dict[int, Prim], params: set[str], names: list[str],
             facts: dict[str, object], calls: Calls) -> tuple[set[str], dict[str, Items]]:
    """Names statically of shape ``()``, and what is known of the entries of tuples, lists and dicts
    (``Items`` of ``SCALAR`` facts, from literals, the arguments' ``facts`` and calls); carried values
    optimistically, then checked. ``names``: all the parameters (a use that needs a scalar tells about
    them, as about the function's other names)."""
    calls.start()
    found = _Scalars(prims, params, {n: f for n, f in facts.items() if isinstance(f, Items)}, calls, body, names)
    found.run(body)
    return found.scalars, found.parts


class _Scalars(ir.Forward):
    """The forward analysis of ``_scalars``: a name's fact is ``SCALAR``, its ``Items`` or None (not known);
    ``scalars`` and ``parts`` hold them. A loop's carried value is assumed to keep its fact; one an iteration
    changes is dropped (``widen``). At the end of each block, the uses that need a scalar tell about
    the operands bound in it or on entering it (``entered``). The names ``given`` are scalars wherever they
    are bound (the scalar parameters, and what a caller knows)."""

    def __init__(self, prims: dict[int, Prim], given: set[str], parts: dict[str, Items], calls: Calls,
                 body: list[ir.Stmt], params: list[str]) -> None:
        self.prims, self.given, self.scalars, self.parts, self.calls = prims, given, set(given), parts, calls
        self.body, self.params = body, set(params)
        self.loops: list[ir.Loop] = []  # the loops around the statement being walked, innermost last

    def of(self, e: ir.Expr | None) -> object:
        if e is not None and static_scalar(e, self.scalars):
            return SCALAR
        if isinstance(e, ir.Const):
            return OTHER if e.value is None or isinstance(e.value, str) else None
        return self.parts.get(e.id) if isinstance(e, ir.Name) else None

    def bind(self, name: str, fact: object) -> None:
        self.forget(name)
        if fact == SCALAR:
            self.scalars.add(name)
        elif isinstance(fact, Items):
            self.parts[name] = fact

    def forget(self, name: str) -> None:
        if name not in self.given:
            self.scalars.discard(name)
        self.parts.pop(name, None)

    def join(self, a: object, b: object) -> object:
        return join(a, b)

    def widen(self, before: list, after: list, rounds: int) -> list:
        return [b if a == b else None for b, a in zip(before, after)]

    def loop(self, s: ir.Loop) -> None:
        self.loops.append(s)
        super().loop(s)
        self.loops.pop()

    def entered(self, stmts: list[ir.Stmt]) -> set[str]:
        """The names bound on entering the block ``stmts``: the function's parameters; a loop's carried
        values, and in its body its targets; none in an arm."""
        if stmts is self.body:
            return self.params
        loop = self.loops[-1] if self.loops else None
        if loop is not None and stmts is loop.body:
            return {*loop.carried, *loop.targets}
        return set(loop.carried) if loop is not None and stmts is loop.cond_body else set()

    def targets(self, s: ir.Loop) -> None:
        if range_target(s):
            self.calls.ints.add(s.target)
        for t in s.targets:
            self.forget(t)

    def block(self, stmts: list[ir.Stmt]) -> None:
        super().block(stmts)
        _scalar_operands(stmts, self.prims, self.scalars, self.entered(stmts))

    def transfer(self, s: ir.Stmt) -> None:
        if not isinstance(s, ir.Assign):
            return
        p = self.prims[s.sid]
        if isinstance(s.target, tuple):
            facts = unpacked(self.of(p.args[0]), len(s.targets)) if p.kind == UNPACK else None
            for t, f in zip(s.targets, facts or [None] * len(s.targets)):
                self.bind(t, f)
        else:
            self.bind(s.target, SCALAR if is_scalar(p, self.scalars) else _fact_of(s, p, self.of, self.calls))


def _scalar_operands(stmts: list[ir.Stmt], prims: dict[int, Prim], scalars: set[str], entered: set[str]) -> None:
    """Backwards: math.* accepts only scalars, and an elementwise result of shape ()
    means every operand had shape () (broadcasting never shrinks a shape). Only for
    operands bound in this block (or on entering it, ``entered``): the use runs wherever they
    are bound, which a use in a branch or a loop body does not."""
    here = {*entered, *(n for s in stmts for n in ir.bound(s, region=False))}
    for s in reversed(stmts):
        if isinstance(s, ir.Assign):
            p = prims[s.sid]
            if p.kind == CALL and (p.rule.scalar_only or (p.rule.elementwise and s.target in scalars)):
                scalars.update(a.id for a in p.args if isinstance(a, ir.Name) and a.id in here)


class Calls:
    """Calls into user code resolved for what their arguments are.

    ``specialise(fn, signature)`` (given for a derivative made for its argument types) analyses the
    callee for the facts of its positional parameters (``_signature``: arguments and defaults) and returns the fact of its result (None if
    it cannot). ``found`` holds the calls the last pass resolved, ``stmt.sid -> (signature, result)``;
    ``hints`` results the shape pass found, for the scalar pass (see ``analyze``)."""

    def __init__(self, specialise=None) -> None:
        self.specialise = specialise
        self.ints: set[str] = set()  # targets of `for ... in range(...)`: ints (not bools, unlike ``int_names``)
        self.found: dict[int, tuple] = {}
        self.hints: dict[int, tuple] = {}

    def start(self) -> None:
        self.found = {}

    def result(self, s: ir.Assign, p: Prim, fact) -> object:
        fn = specialisable(p) if self.specialise is not None else None
        if fn is None:
            return None
        signature = _signature(fn, p, fact)
        if signature is None or None in signature:  # (a loop's body walked again knows less than before)
            self.found.pop(s.sid, None)
            hint = self.hints.get(s.sid)
            return None if hint is None else hint[1]
        out = self.specialise(fn, signature)
        self.found[s.sid] = (signature, out)
        return out


def _signature(fn: types.FunctionType, p: Prim, fact) -> tuple | None:
    """The facts of what each positional parameter of ``fn`` is bound to by the call ``p``: an argument
    (positional or by keyword) or its default (a derivative made for them assumes every positional
    parameter has its fact); None where the call binds them otherwise."""
    code = fn.__code__
    names = code.co_varnames[:code.co_argcount]
    bound = dict(zip(names, p.args))
    for k, v in p.kwargs.items():
        if k in names[code.co_posonlyargcount:]:
            if k in bound:
                return None  # (the call raises)
            bound[k] = v
    defaults = fn.__defaults__ or ()
    first = len(names) - len(defaults)
    if any(n not in bound and i < first for i, n in enumerate(names)):
        return None  # (the call raises)
    return tuple(fact(bound[n]) if n in bound else of_value(defaults[i - first]) for i, n in enumerate(names))


def specialisable(p: Prim) -> types.FunctionType | None:
    """The user function ``p`` calls by name, if a transform for its arguments' facts can stand for it:
    a plain function (no closure, no rule of the user's), positional arguments that bind to parameters."""
    fn = p.callee
    if not isinstance(fn, types.FunctionType) or fn.__closure__ or p.starred or custom_rule(fn) is not None \
            or not isinstance(p.func, ir.Ref) or len(p.args) > fn.__code__.co_argcount:
        return None
    return fn


def _fact_of(s: ir.Assign, p: Prim, fact, calls: Calls) -> object:
    """What is known of the value ``s`` binds, from the facts of its operands (``fact``): a container
    literal's entries, an entry read with a constant key (or an index known to be an int), a copy,
    the result of a call into user code that ``calls`` resolves."""
    if p.kind == COPY:
        return fact(p.args[0])
    if p.kind == CONTAINER:
        v = s.value
        if isinstance(v, ir.Dict):
            if not all(isinstance(k, ir.Const) for k in v.keys):
                return None
            return Items("dict", tuple(k.value for k in v.keys), tuple(fact(e) for e in v.values))
        return Items("list" if isinstance(v, ir.List) else "tuple", tuple(range(len(v.items))),
                     tuple(fact(e) for e in v.items))
    if p.kind == CALL and p.rule.item and len(p.args) == 2:
        container, index = fact(p.args[0]), p.args[1]
        if isinstance(index, ir.Const):
            return entry(container, index.value)
        if isinstance(container, Items) and (container.kind == "dict" or (
                isinstance(index, ir.Name) and index.id in calls.ints)):
            return entry(container, ANY)
        return None
    if p.kind == CALL and p.rule is RULES[runtime.sequence]:  # what a for loop iterates: a tuple or list as it is
        f = fact(p.args[0])
        return f if isinstance(f, Items) and f.kind != "dict" else None
    if p.kind == TRANSFORM:
        return calls.result(s, p, fact)
    return None


def is_scalar(p: Prim, scalars: set[str]) -> bool:
    def known(e: ir.Expr) -> bool:
        return static_scalar(e, scalars)

    if p.kind == COPY:
        return known(p.args[0])
    if p.kind == CALL and p.rule.scalar_only:
        return True  # math functions always return a Python float
    if p.kind == CALL and (p.rule.elementwise or p.rule.view == "operands"):  # (max(a, b): a or b itself)
        return all(known(a) for a in p.args)
    if p.kind == CALL and p.rule.reduction:
        return len(p.args) == 1 and not p.kwargs
    return False


def complex_names(body: list[ir.Stmt], prims: dict[int, Prim]) -> set[str]:
    """The names that may hold a complex number or array (loops and branches to a fixed point): computed
    from a complex constant or global, or by a rule whose result is always complex (``fft``), through any
    rule but those whose result never is (``real``, ``abs``), and any construct but a comparison and a
    call of a function of the user's (a complex result that carries a gradient is refused at its return:
    ``complexity``). Arguments are taken to be real."""
    return _Complex(set(), prims).run(body).found


class _Complex(ir.Reach):
    def __init__(self, found: set[str], prims: dict[int, Prim]) -> None:
        super().__init__(found)
        self.prims = prims

    def of(self, e: ir.Expr | None) -> bool:
        return e is not None and is_complex(e, self.found)

    def transfer(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign) and _complex_result(self.prims[s.sid], s.value, self.found):
            self.found.update(s.targets)


def _complex_result(p: Prim, value: ir.Expr, found: set[str]) -> bool:
    if p.kind == CALL and p.rule.complex_result is not None:
        return p.rule.complex_result == "always"
    if p.kind == CALL:  # (an index, an axis or a size read from a complex list is not what makes it complex)
        held = [e for e in [*p.args, *p.kwargs.values()] if isinstance(e, ir.Const | ir.Ref)]
        return any_complex([*diff_operands(p), *held], found)
    if p.kind == NONDIFF and ir.boolean_valued(value):
        return False
    if p.kind == TRANSFORM:  # (a complex result that carries a gradient is refused at its return)
        return False
    return is_complex(value, found)


def any_complex(exprs, found: set[str]) -> bool:
    return any(is_complex(e, found) for e in exprs if e is not None)


def is_complex(e: ir.Expr, found: set[str]) -> bool:
    if isinstance(e, ir.Slice) or (isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and e.func.value is slice):
        return False  # bounds and steps: a complex step counts points (``np.r_[0:1:5j]``)
    if isinstance(e, ir.Name):
        return e.id in found
    if isinstance(e, ir.Const):
        return _complex_value(e.value)
    if isinstance(e, ir.Ref):
        return _complex_value(e.value)
    return any_complex(ir.children(e), found)


def _complex_value(v: object) -> bool:
    """A complex number or array, or a complex dtype or type (``astype(complex)``, ``dtype=np.complex128``)."""
    if isinstance(v, complex | np.complexfloating) or (isinstance(v, np.ndarray) and np.iscomplexobj(v)):
        return True
    if isinstance(v, tuple):
        return any(map(_complex_value, v))
    if isinstance(v, type) and issubclass(v, complex | np.complexfloating):
        return True
    return isinstance(v, np.dtype) and v.kind == "c"
