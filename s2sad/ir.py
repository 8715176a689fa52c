"""The structured SSA IR: small slotted nodes, a text dump, and ``verify``.

A ``Function`` holds a list of statements. Control flow stays structured, like
MLIR's ``scf`` dialect: an ``If`` owns its two branches and yields one value per
out; a ``Loop`` (``for`` or ``while``) owns its body and names its loop-carried
values explicitly (``carried``/``inits``/``nexts``/``results``). There is no goto
graph. Values are named by strings chosen by the namer, so they read like the
user's code (``x``, ``x_1``). In-place writes (``SetItem``, ``ListMethod``) bind a
new name for the array or list they change.

Invariants that ``verify`` checks:

* every name is defined (parameter, assignment, enclosing region or function)
  before use, with region scoping: a name bound in a branch or loop body is not
  visible after it in an SSA function (only through outs and results);
* in an ``ssa`` function every name is bound once (an ``If`` out may also be bound
  inside a branch by the statement computing it; loop-carried names are re-bound
  at the end of each iteration, by construction);
* in a ``flat`` function (what ``lower`` produces) the operands of every
  expression are atoms: ``Name``, ``Const`` or ``Ref`` (slices and index tuples
  of atoms count as atoms);
* an ``If`` yields as many values per branch as it has outs; a ``Loop`` has as
  many inits, nexts and results as carried values.

Expressions in non-flat functions (what ``reverse`` and ``forward`` produce) may nest.

The meaning of the regions for an analysis is coded once, in two walkers an analysis subclasses
with its facts and the transfer of the other statements:

* ``Forward``: each arm of an ``If`` is walked from the facts before it (the arms bind different
  names, but for an out an arm may bind: what an arm found of it is forgotten after the arm), and
  each out gets the join of the facts of what the arms yield. A ``Loop``'s carried values start
  with their inits' facts; each round binds them (and a ``for`` loop's targets, from ``iter``),
  walks the condition and the body, and joins the nexts' facts in, until a round changes nothing
  (``widen`` may give up on a lattice of unbounded height); the results get the carried values'
  facts. Hooks with defaults that change nothing: ``arm`` walks one arm (a subclass may note where it
  is), ``carry`` says what a next value's fact gives the iteration after (an analysis telling
  iterations apart ages it), ``result`` what a result gets. ``Reach`` is the set-valued case: which
  names a value reading any name of the set reaches (on some path); ``Every`` the set of names a fact
  holds for on every path; ``Environment`` the case of one fact per name in a dict.
* ``Backward``: an out's fact flows to what each arm yields, then the arms are walked back. A
  result's fact flows to its carried value; each round, the carried values' facts flow to the
  nexts and the body and the condition are walked back, until the carried values' facts (or what
  ``settled`` shows) stop changing; then they flow to the inits. Tests, ``iter``, ``cond`` and
  ``exit`` go to ``control``.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar, Union

__all__ = [
    "Loc", "Expr", "Name", "Const", "Ref", "BinOp", "UnaryOp", "Compare", "Call", "Attr",
    "Subscript", "Slice", "Tuple", "List", "Dict", "Closure", "Starred", "SetItem", "ListMethod", "Stmt", "Assign", "Do", "Return", "Del", "If", "Loop",
    "Function", "Params", "IRError", "verify", "dump", "to_ast", "children", "names_read", "walk",
    "exprs", "hashable", "renumber", "rename", "substitute", "map_children", "map_exprs", "Forward", "Environment", "Reach", "Every", "Backward",
]

UNKNOWN = object()  # the value of a Ref that could not be resolved at transform time


@dataclass(slots=True, frozen=True)
class Loc:
    """Where a statement came from: the user's file, line, column and line text."""

    file: str
    line: int
    col: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


# ----- expressions -----


@dataclass(slots=True)
class Name:
    id: str


@dataclass(slots=True)
class Const:
    value: object


@dataclass(slots=True)
class Ref:
    """An object from outside the function (global, closure cell, builtin), by dotted path.

    ``value`` is the object the path resolved to at transform time (``UNKNOWN`` if
    it could not be resolved statically); the generated code still looks the path
    up at run time, so rebinding a global is honoured.
    """

    path: tuple[str, ...]
    value: object = UNKNOWN
    helper: bool = False  # s2sad's own (np, unbroadcast, ...): bound by name at load time
    root: object = None  # a helper's first path element, when it is not one of s2sad's namespaces

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    def __deepcopy__(self, memo: dict) -> Ref:
        return Ref(self.path, self.value, self.helper, self.root)  # the referenced object is shared, never copied


@dataclass(slots=True)
class BinOp:
    op: str  # Python spelling: '+', '-', '*', '/', '//', '%', '**', '@'
    left: Expr
    right: Expr


@dataclass(slots=True)
class UnaryOp:
    op: str  # '-', '+', 'not', '~'
    operand: Expr


@dataclass(slots=True)
class Compare:
    op: str  # '<', '<=', '==', '!=', '>', '>=', 'is', 'is not', 'in', 'not in'
    left: Expr
    right: Expr


@dataclass(slots=True)
class Call:
    func: Expr
    args: list[Expr]
    kwargs: list[tuple[str, Expr]] = field(default_factory=list)


@dataclass(slots=True)
class Starred:
    """``*value`` among a call's positional arguments (``**value`` is a keyword named None)."""

    value: Expr


@dataclass(slots=True)
class Attr:
    value: Expr
    attr: str


@dataclass(slots=True)
class Subscript:
    value: Expr
    index: Expr


@dataclass(slots=True)
class Slice:
    lower: Expr | None
    upper: Expr | None
    step: Expr | None


@dataclass(slots=True)
class Tuple:
    items: list[Expr]


@dataclass(slots=True)
class List:
    items: list[Expr]


@dataclass(slots=True)
class Dict:
    keys: list[Expr]
    values: list[Expr]


@dataclass(slots=True)
class Closure:
    """A nested ``def`` or a ``lambda`` of the user's, kept as the user wrote it.

    ``node`` is its stdlib ``ast`` (``FunctionDef`` or ``Lambda``); ``captured``
    are the outer values it reads, each bound once in the enclosing function, so
    the nested code's names are the IR's names. As a value it is a container of
    its captures: its cotangent is a dict from captured name to cotangent.
    """

    node: object
    captured: list[Expr]
    names: list[str] = field(default_factory=list)  # the nested function's names for ``captured``
    defaults: list[str] = field(default_factory=list)  # those of ``names`` only its default values read

    def __deepcopy__(self, memo: dict) -> Closure:
        return Closure(self.node, [copy.deepcopy(c, memo) for c in self.captured], list(self.names),
                       list(self.defaults))


@dataclass(slots=True)
class SetItem:
    """``base[index] = value``, in place; the statement's target names ``base`` after the write."""

    base: Expr
    index: Expr
    value: Expr


@dataclass(slots=True)
class ListMethod:
    """``base.append(x)``, ``.extend(xs)`` or ``.pop(i)`` on a list, in place.

    The statement's target names the list after the change; for ``pop`` the
    target is ``(popped, list)``.
    """

    base: Expr
    method: str
    args: list[Expr]


Expr = Union[Name, Const, Ref, BinOp, UnaryOp, Compare, Call, Starred, Attr, Subscript, Slice, Tuple, List, Dict,
             Closure, SetItem, ListMethod]
ATOMS = (Name, Const, Ref)

# ----- statements -----


# Every statement gets an id when it is made, which analyses key their results by (``stmt.sid``): a copy
# (``clone``) is a new statement with an id of its own, and an id is never reused, as ``id()`` may be.
_SIDS = itertools.count(1)


@dataclass(slots=True)
class Assign:
    """``target = value``; a tuple target unpacks (``a, b = value``)."""

    target: str | tuple[str, ...]
    value: Expr
    loc: Loc | None = None
    sid: int = field(default_factory=_SIDS.__next__, init=False, compare=False, repr=False)  # (see ``_SIDS``)

    @property
    def targets(self) -> tuple[str, ...]:
        return self.target if isinstance(self.target, tuple) else (self.target,)


@dataclass(slots=True)
class Do:
    """Evaluate ``value`` for its effect (``print(x)``, ``tape.append(...)``)."""

    value: Expr
    loc: Loc | None = None
    sid: int = field(default_factory=_SIDS.__next__, init=False, compare=False, repr=False)  # (see ``_SIDS``)


@dataclass(slots=True)
class Del:
    """``del a, b``: names nothing reads any more, dropped so the arrays they hold are freed (the fused
    gradient's temporaries, which would otherwise live until it returns)."""

    names: list[str]
    loc: Loc | None = None
    sid: int = field(default_factory=_SIDS.__next__, init=False, compare=False, repr=False)  # (see ``_SIDS``)


@dataclass(slots=True)
class Return:
    value: Expr
    loc: Loc | None = None
    sid: int = field(default_factory=_SIDS.__next__, init=False, compare=False, repr=False)  # (see ``_SIDS``)


@dataclass(slots=True)
class If:
    """``if test: body else: orelse``; each branch ends by yielding one value per out.

    Like MLIR's ``scf.if``: after the statement, ``outs[k]`` holds ``yields[0][k]``
    if the then-branch ran, else ``yields[1][k]``.
    """

    test: Expr
    body: list[Stmt]
    orelse: list[Stmt]
    outs: list[str] = field(default_factory=list)
    yields: tuple[list[Expr], list[Expr]] = field(default_factory=lambda: ([], []))
    loc: Loc | None = None
    # "with": ``with test: body``, the branch always taken, run inside the context manager ``test``
    # (for its effect on the primal: the pullback runs outside it). "try": ``try: body`` /
    # ``except test: orelse``; ``outs[0]`` is True where the body completed (the pullback's test).
    kind: str = "if"
    sid: int = field(default_factory=_SIDS.__next__, init=False, compare=False, repr=False)  # (see ``_SIDS``)


@dataclass(slots=True)
class Loop:
    """A ``for`` or ``while`` loop with explicit loop-carried values (like ``scf.for``/``scf.while``).

    ``carried`` names hold the carried values inside the body; they start as
    ``inits`` and are re-bound to ``nexts`` at the end of every iteration (the one
    place an SSA name is bound more than once). ``for``: ``target`` is bound to
    each element of ``iter``. ``while``: ``cond_body`` then ``cond`` run before each
    iteration. When ``exit`` (evaluated at the end of an iteration, after the
    re-binding) is true the loop stops: that is how ``break`` is lowered. After the
    loop, ``results[k]`` holds the final value of ``carried[k]``.
    """

    kind: str  # "for" or "while"
    body: list[Stmt]
    target: str | tuple[str, ...] | None = None
    iter: Expr | None = None
    cond_body: list[Stmt] = field(default_factory=list)
    cond: Expr | None = None
    carried: list[str] = field(default_factory=list)
    inits: list[Expr] = field(default_factory=list)
    nexts: list[Expr] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    exit: Expr | None = None
    loc: Loc | None = None
    sid: int = field(default_factory=_SIDS.__next__, init=False, compare=False, repr=False)  # (see ``_SIDS``)

    @property
    def targets(self) -> tuple[str, ...]:
        if self.target is None:
            return ()
        return self.target if isinstance(self.target, tuple) else (self.target,)


@dataclass(slots=True)
class Params:
    """A signature by name: defaults live on the function object, not in the IR."""

    posonly: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    vararg: str | None = None
    kwonly: list[str] = field(default_factory=list)
    kwarg: str | None = None

    def names(self) -> list[str]:
        out = [*self.posonly, *self.args]
        if self.vararg:
            out.append(self.vararg)
        out += self.kwonly
        if self.kwarg:
            out.append(self.kwarg)
        return out

    @property
    def positional(self) -> list[str]:
        return [*self.posonly, *self.args]


@dataclass(slots=True)
class Function:
    name: str
    params: Params
    body: list[Stmt]
    loc: Loc | None = None
    ssa: bool = True
    flat: bool = True
    doc: str | None = None
    temps: set[str] = field(default_factory=set)  # names lowering invented (not the user's)
    inputs: dict[str, str] = field(default_factory=dict)  # closure variable -> its local copy, if differentiated


Stmt = Union[Assign, Do, Return, If, Loop, Function, Del]


class IRError(AssertionError):
    """``verify`` found a broken invariant; the message names the statement."""


# ----- traversal -----


_NO_CHILDREN = ()
_CHILDREN: dict[type, Callable] = {
    BinOp: lambda e: (e.left, e.right),
    Compare: lambda e: (e.left, e.right),
    UnaryOp: lambda e: (e.operand,),
    Call: lambda e: (e.func, *e.args, *[v for _, v in e.kwargs]) if e.kwargs else (e.func, *e.args),
    Attr: lambda e: (e.value,),
    Starred: lambda e: (e.value,),
    Subscript: lambda e: (e.value, e.index),
    Slice: lambda e: tuple(p for p in (e.lower, e.upper, e.step) if p is not None),
    Tuple: lambda e: e.items,
    List: lambda e: e.items,
    Dict: lambda e: (*e.keys, *e.values),
    Closure: lambda e: e.captured,
    SetItem: lambda e: (e.base, e.index, e.value),
    ListMethod: lambda e: (e.base, *e.args),
}


def hashable(v: object) -> bool:
    """Can ``v`` be a key (a constant compared by value, a callable looked up in a table)?"""
    try:
        hash(v)
    except TypeError:
        return False
    return True


def children(e: Expr) -> tuple[Expr, ...] | list[Expr]:
    """The direct sub-expressions of ``e`` (a table by node type: this is the hottest
    function of the transform)."""
    get = _CHILDREN.get(type(e))
    return _NO_CHILDREN if get is None else get(e)


def names_read(e: Expr) -> list[str]:
    """Every local name ``e`` reads, in order."""
    out: list[str] = []
    _names_into(e, out)
    return out


def _names_into(e: Expr, out: list[str]) -> None:
    if type(e) is Name:
        out.append(e.id)
        return
    get = _CHILDREN.get(type(e))
    if get is not None:
        for c in get(e):
            _names_into(c, out)


def exprs(stmt: Stmt) -> Iterator[Expr]:
    """The expressions ``stmt`` itself evaluates (not those of statements nested in it)."""
    if isinstance(stmt, (Assign, Do, Return)):
        yield stmt.value
    elif isinstance(stmt, If):
        yield stmt.test
        for ys in stmt.yields:
            yield from ys
    elif isinstance(stmt, Loop):
        yield from stmt.inits
        yield from (e for e in (stmt.iter, stmt.cond, stmt.exit) if e is not None)
        yield from stmt.nexts


def map_exprs(stmts: list[Stmt], f) -> None:
    """Replace every expression ``e`` that ``stmts`` evaluate by ``f(e)`` (in place, through regions)."""
    for s in walk(stmts):
        if isinstance(s, (Assign, Do, Return)):
            s.value = f(s.value)
        elif isinstance(s, If):
            s.test = f(s.test)
            s.yields = tuple([f(y) for y in ys] for ys in s.yields)
        elif isinstance(s, Loop):
            s.inits, s.nexts = [f(e) for e in s.inits], [f(e) for e in s.nexts]
            s.iter, s.cond, s.exit = (None if e is None else f(e) for e in (s.iter, s.cond, s.exit))


def rename(stmts: list[Stmt], mapping: dict[str, str]) -> None:
    """Rename names bound or read in ``stmts`` (in place, through nested regions)."""
    map_exprs(stmts, lambda e: rename_expr(e, mapping))

    def new(t):
        return tuple(mapping.get(n, n) for n in t) if isinstance(t, tuple) else mapping.get(t, t)

    for s in walk(stmts):
        if isinstance(s, Assign):
            s.target = new(s.target)
        elif isinstance(s, If):
            s.outs = [mapping.get(o, o) for o in s.outs]
        elif isinstance(s, Loop):
            s.carried = [mapping.get(c, c) for c in s.carried]
            s.results = [mapping.get(r, r) for r in s.results]
            if s.target is not None:
                s.target = new(s.target)


def rename_expr(e: Expr, mapping: dict[str, str]) -> Expr:
    """``e`` with local names replaced by ``mapping`` (a new tree; ``e`` is unchanged)."""
    return substitute(e, {k: Name(v) for k, v in mapping.items()})


def substitute(e: Expr, subst: dict[str, Expr]) -> Expr:
    """``e`` with each local name in ``subst`` replaced by its expression (``e`` itself where it reads none:
    expressions are never changed in place, so they may be shared)."""
    if not subst:
        return e
    if isinstance(e, Name):
        return subst.get(e.id, e)
    if not any(n in subst for n in names_read(e)):
        return e
    return map_children(e, lambda c: substitute(c, subst))


def map_children(e: Expr, f: Callable[[Expr], Expr]) -> Expr:
    """``e`` with ``f`` applied to each direct sub-expression (a new node, or ``e`` itself where ``f``
    changed none of them: expressions are never changed in place; ``e`` is unchanged)."""
    if isinstance(e, ATOMS):
        return e
    if isinstance(e, BinOp):
        left, right = f(e.left), f(e.right)
        return e if left is e.left and right is e.right else BinOp(e.op, left, right)
    if isinstance(e, Compare):
        left, right = f(e.left), f(e.right)
        return e if left is e.left and right is e.right else Compare(e.op, left, right)
    if isinstance(e, UnaryOp):
        operand = f(e.operand)
        return e if operand is e.operand else UnaryOp(e.op, operand)
    if isinstance(e, Call):
        func, args, kwargs = f(e.func), [f(a) for a in e.args], [(k, f(v)) for k, v in e.kwargs]
        if func is e.func and all(map(operator.is_, args, e.args)) \
                and all(v is old for (_, v), (_, old) in zip(kwargs, e.kwargs)):
            return e
        return Call(func, args, kwargs)
    if isinstance(e, Attr):
        value = f(e.value)
        return e if value is e.value else Attr(value, e.attr)
    if isinstance(e, Starred):
        return Starred(f(e.value))
    if isinstance(e, Subscript):
        value, index = f(e.value), f(e.index)
        return e if value is e.value and index is e.index else Subscript(value, index)
    if isinstance(e, Slice):
        return Slice(*(None if p is None else f(p) for p in (e.lower, e.upper, e.step)))
    if isinstance(e, Tuple):
        return Tuple([f(i) for i in e.items])
    if isinstance(e, List):
        return List([f(i) for i in e.items])
    if isinstance(e, Dict):
        return Dict([f(k) for k in e.keys], [f(v) for v in e.values])
    if isinstance(e, Closure):
        return Closure(e.node, [f(c) for c in e.captured], e.names, e.defaults)
    if isinstance(e, SetItem):
        return SetItem(f(e.base), f(e.index), f(e.value))
    if isinstance(e, ListMethod):
        return ListMethod(f(e.base), e.method, [f(a) for a in e.args])
    raise TypeError(f"not an IR expression: {e!r}")


def clone(stmts: list[Stmt]) -> list[Stmt]:
    """A copy of ``stmts`` and their regions that can be edited freely; the expressions are
    shared (no pass changes an expression in place: they build new ones)."""
    out = []
    for s in stmts:
        s = _shallow(s)
        if isinstance(s, If):
            s.body, s.orelse = clone(s.body), clone(s.orelse)
            s.outs, s.yields = list(s.outs), (list(s.yields[0]), list(s.yields[1]))
        elif isinstance(s, Loop):
            s.cond_body, s.body = clone(s.cond_body), clone(s.body)
            s.carried, s.inits, s.nexts, s.results = list(s.carried), list(s.inits), list(s.nexts), list(s.results)
        out.append(s)
    return out


def renumber(stmts: list[Stmt]) -> None:
    """New ids for ``stmts`` and the statements in their regions (after ``copy.deepcopy``, which keeps them)."""
    for s in walk(stmts):
        s.sid = next(_SIDS)


def _shallow(s: Stmt) -> Stmt:
    """``copy.copy(s)`` for the statement classes (the copy module's generic path is slow): the class
    called with the statement's fields."""
    fields = _FIELDS.get(type(s))
    if fields is None:
        names = [f.name for f in dataclasses.fields(s) if f.init]  # (not ``sid``: the copy gets its own)
        getter = operator.attrgetter(*names)
        fields = _FIELDS[type(s)] = getter if len(names) > 1 else lambda s: (getter(s),)
    return type(s)(*fields(s))


_FIELDS: dict[type, Callable] = {}


def walk(stmts: list[Stmt], into_loops: bool = True) -> Iterator[Stmt]:
    """Every statement in ``stmts`` and, depth first, in their regions (not nested functions; not
    loop bodies unless ``into_loops``)."""
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, If):
            yield from walk(stmt.body, into_loops)
            yield from walk(stmt.orelse, into_loops)
        elif isinstance(stmt, Loop) and into_loops:
            yield from walk(stmt.cond_body)
            yield from walk(stmt.body)


def bound(stmt: Stmt, region: bool = True) -> tuple[str, ...]:
    """The names ``stmt`` itself binds (not the statements in its regions): an assignment's targets,
    an ``if``'s outs, a loop's results and, with ``region``, its carried values and targets (bound at
    the start of each iteration, inside it)."""
    if isinstance(stmt, Assign):
        return stmt.targets
    if isinstance(stmt, If):
        return tuple(stmt.outs)
    if isinstance(stmt, Loop):
        return (*stmt.carried, *stmt.targets, *stmt.results) if region else tuple(stmt.results)
    return ()


def used(stmt: Stmt) -> list[str]:
    """The names ``stmt`` itself reads, in order (its expressions; not the statements in its regions)."""
    return [n for e in exprs(stmt) for n in names_read(e)]


def bound_in(stmts: list[Stmt], into_loops: bool = True) -> set[str]:
    """The names ``stmts`` and the statements in their regions bind (not in loops unless ``into_loops``:
    then a loop binds its results only)."""
    return {n for s in walk(stmts, into_loops) for n in bound(s, region=into_loops)}


def _is_flat_operand(e: Expr) -> bool:
    if isinstance(e, ATOMS):
        return True
    if isinstance(e, Starred):
        return isinstance(e.value, ATOMS)
    if isinstance(e, (Slice, Tuple)):  # index expressions: x[1:n, ::2]
        return all(_is_flat_operand(c) for c in children(e))
    return False


def _is_flat(e: Expr) -> bool:
    if isinstance(e, SetItem):
        return isinstance(e.base, Name) and _is_flat_operand(e.index) and isinstance(e.value, ATOMS)
    if isinstance(e, Call):
        func_ok = isinstance(e.func, ATOMS) or (isinstance(e.func, Attr) and isinstance(e.func.value, ATOMS))
        return func_ok and all(_is_flat_operand(a) for a in e.args) and all(_is_flat_operand(v) for _, v in e.kwargs)
    return all(_is_flat_operand(c) for c in children(e))


# ----- dataflow -----


class _Walk:
    """What both directions share: a body's statements visited in ``order``, an ``If`` handed to
    ``branch``, a ``Loop`` to ``loop``, any other statement to ``transfer``."""

    def run(self: _W, body: list[Stmt]) -> _W:
        self.block(body)
        return self

    def order(self, stmts: list[Stmt]) -> Iterable[Stmt]:
        return stmts

    def block(self, stmts: list[Stmt]) -> None:
        for s in self.order(stmts):
            if isinstance(s, If):
                self.branch(s)
            elif isinstance(s, Loop):
                self.loop(s)
            else:
                self.transfer(s)

    def branch(self, s: If) -> None:
        raise NotImplementedError

    def loop(self, s: Loop) -> None:
        raise NotImplementedError

    def transfer(self, s: Stmt) -> None:
        """What a statement other than an ``If`` or a ``Loop`` does to the facts (by default nothing)."""


_W = TypeVar("_W", bound=_Walk)


class Forward(_Walk):
    """A forward dataflow analysis over a body of structured statements (see the module docstring).

    A subclass says what a fact is and how a statement other than an ``If`` or a ``Loop`` changes
    the facts (``transfer``); this class walks the regions. ``of(e)``: the fact of an operand (a
    yield, an init, a next, an iteration's ``iter``); ``bind(name, fact)`` and ``forget(name)`` change
    the environment; ``join(a, b)``: the fact of a value that is ``a`` on one path and ``b`` on another.
    """

    def branch(self, s: If) -> None:
        """Each arm from the facts before the ``If``; an out gets the join of what the arms yield (an out
        bound inside an arm holds there on that path only: it is forgotten after each arm)."""
        sides = []
        for k, yields in enumerate(s.yields):
            self.arm(s, k)
            sides.append([self.of(y) for y in yields])
            for o in s.outs:
                self.forget(o)
        for o, a, b in zip(s.outs, *sides):
            self.bind(o, self.join(a, b))

    def loop(self, s: Loop) -> None:
        """The carried values start as their inits' facts and are joined with their nexts' at the end of
        each iteration, until that changes nothing (``widen`` may give up on a fact still changing); then
        the results get the carried values' facts."""
        carried = [self.of(i) for i in s.inits]
        for rounds in itertools.count():
            for c, f in zip(s.carried, carried):
                self.bind(c, f)
            if s.targets:
                self.targets(s)
            self.block(s.cond_body)
            self.block(s.body)
            joined = [self.join(f, self.carry(s, k, self.of(n))) for k, (f, n) in enumerate(zip(carried, s.nexts))]
            if joined == carried:
                break
            carried = self.widen(carried, joined, rounds)
        for k, (r, f) in enumerate(zip(s.results, carried)):
            self.bind(r, self.result(s, k, f))

    def arm(self, s: If, k: int) -> None:
        """Walk arm ``k`` of ``s`` (0: ``body``, 1: ``orelse``). A subclass may note where it is around it."""
        self.block((s.body, s.orelse)[k])

    def carry(self, s: Loop, k: int, fact: object) -> object:
        """What the fact of ``s``'s next value ``k`` gives its carried value in the iteration after (by
        default that fact: an analysis whose facts tell iterations apart, or that knows no iteration
        follows another, may say otherwise)."""
        return fact

    def result(self, s: Loop, k: int, fact: object) -> object:
        """The fact of ``s``'s result ``k``, from its carried value's fact ``fact`` once the loop settled (by
        default that fact; where ``carry`` changes a next's fact, the last iteration's next value as it
        is may be wanted too)."""
        return fact

    def targets(self, s: Loop) -> None:
        """Bind a ``for`` loop's targets: by default each to the fact of what it iterates."""
        fact = self.of(s.iter)
        for t in s.targets:
            self.bind(t, fact)

    def widen(self, before: list, after: list, rounds: int) -> list:
        """The carried values' facts for the next iteration, after ``rounds`` rounds."""
        return after

    def of(self, e: Expr | None) -> object:
        raise NotImplementedError

    def bind(self, name: str, fact: object) -> None:
        raise NotImplementedError

    def forget(self, name: str) -> None:
        raise NotImplementedError

    def join(self, a: object, b: object) -> object:
        raise NotImplementedError


class Environment(Forward):
    """A forward analysis keeping a fact per name in the dict ``env`` (None: nothing known); a constant
    operand's fact is ``constant(value)``."""

    env: dict[str, object]

    def constant(self, value: object) -> object:
        return None

    def of(self, e: Expr | None) -> object:
        if isinstance(e, Const):
            return self.constant(e.value)
        return self.env.get(e.id) if isinstance(e, Name) else None

    def bind(self, name: str, fact: object) -> None:
        self.env[name] = fact

    def forget(self, name: str) -> None:
        self.env.pop(name, None)


class Reach(Forward):
    """A forward analysis whose fact is whether a name is in the set ``found`` (reached by the values
    it starts with): a value reaches its target when any name it reads is in the set. What a name
    may hold on some path: once in the set, it stays (an out bound in an arm too, and the names the
    set starts with)."""

    def __init__(self, found: set[str]) -> None:
        self.found = found

    def of(self, e: Expr | None) -> bool:
        return e is not None and any(n in self.found for n in names_read(e))

    def bind(self, name: str, fact: object) -> None:
        if fact:
            self.found.add(name)

    def forget(self, name: str) -> None:
        pass

    def join(self, a: object, b: object) -> bool:
        return bool(a or b)


class Every(Forward):
    """A forward analysis whose fact is whether a name is in the set ``known``: what holds on every path
    (joined by "and"; a loop's carried value is assumed to hold where its start does, and dropped if an
    iteration's next value does not). The names ``start`` hold wherever they are bound."""

    def __init__(self, start: set[str] = frozenset()) -> None:
        self.start, self.known = start, set(start)

    def of(self, e: Expr | None) -> bool:
        return isinstance(e, Name) and e.id in self.known

    def bind(self, name: str, fact: object) -> None:
        if fact:
            self.known.add(name)
        else:
            self.forget(name)

    def forget(self, name: str) -> None:
        if name not in self.start:
            self.known.discard(name)

    def join(self, a: object, b: object) -> bool:
        return bool(a and b)


class Backward(_Walk):
    """A backward dataflow analysis over a body of structured statements (see the module docstring).

    ``fact(name)``: what is known of a name from the statements after it; ``flow(e, fact)``: the names
    ``e`` reads get ``fact`` (joined with what they have); ``transfer(s)``: what a statement other than
    an ``If`` or a ``Loop`` does; ``control(e)``: what a test, a loop's ``iter``, ``cond`` or ``exit``
    does (by default nothing).
    """

    def order(self, stmts: list[Stmt]) -> Iterable[Stmt]:
        return reversed(stmts)

    def branch(self, s: If) -> None:
        """What each arm yields gets its out's fact; then the arms, then the test."""
        for o, a, b in zip(s.outs, *s.yields):
            fact = self.fact(o)
            self.flow(a, fact)
            self.flow(b, fact)
        self.block(s.body)
        self.block(s.orelse)
        self.control(s.test)

    def loop(self, s: Loop) -> None:
        """A carried value gets its result's fact; each iteration, a next gets its carried value's fact,
        then the body and the condition are walked back, until a round leaves ``settled`` unchanged;
        then the inits get the carried values' facts."""
        for r, c in zip(s.results, s.carried):
            self.flow(Name(c), self.fact(r))
        while True:
            before = self.settled(s)
            for c, n in zip(s.carried, s.nexts):
                self.flow(n, self.fact(c))
            self.control(s.exit)
            self.block(s.body)
            self.control(s.cond)
            self.block(s.cond_body)
            if self.settled(s) == before:
                break
        self.control(s.iter)
        for c, i in zip(s.carried, s.inits):
            self.flow(i, self.fact(c))

    def settled(self, s: Loop) -> object:
        """What a round of ``s`` must leave unchanged for the walk to stop: by default the carried
        values' facts (an analysis whose facts are per name, and a name an out of several ``If``s bound
        in their arms, says more)."""
        return [self.fact(c) for c in s.carried]

    def control(self, e: Expr | None) -> None:
        """What a value that steers control (a test, an ``iter``, a ``cond``, an ``exit``) gets."""

    def fact(self, name: str) -> object:
        raise NotImplementedError

    def flow(self, e: Expr, fact: object) -> None:
        raise NotImplementedError




# ----- verify -----


def verify(fn: Function, outer: frozenset[str] = frozenset()) -> None:
    """Check the invariants in the module docstring; raise ``IRError`` naming the statement."""
    defined = set(outer) | set(fn.params.names())
    if len(defined - set(outer)) != len(fn.params.names()):
        raise IRError(f"{fn.name}: duplicate parameter names {fn.params.names()}")
    _Verifier(fn, set(defined)).block(fn.body, defined)


class _Verifier:
    def __init__(self, fn: Function, scope: set[str]) -> None:
        self.fn = fn
        # Every name bound so far at any depth: what a nested function may read
        # (Python scoping; whether the path that binds it ran is the adjoint's job).
        self.scope = scope

    def fail(self, msg: str, stmt: Stmt) -> IRError:
        return IRError(f"{msg} in {self.fn.name}: {_stmt_line(stmt)}")

    def use(self, e: Expr | None, defined: set[str], stmt: Stmt, operand: bool = False) -> None:
        if e is None:
            return
        for name in names_read(e):
            if name not in defined:
                raise self.fail(f"{name} used before it is defined", stmt)
        if self.fn.flat and not (_is_flat_operand(e) if operand else _is_flat(e)):
            raise self.fail("nested expression in a flat function", stmt)

    def bind(self, names, defined: set[str], stmt: Stmt) -> None:
        for t in names:
            if self.fn.ssa and t in defined:
                raise self.fail(f"{t} assigned twice", stmt)
            defined.add(t)
            self.scope.add(t)

    def block(self, stmts: list[Stmt], defined: set[str]) -> None:
        for stmt in stmts:
            self.stmt(stmt, defined)

    def stmt(self, stmt: Stmt, defined: set[str]) -> None:
        if isinstance(stmt, Function):
            self.bind([stmt.name], defined, stmt)
            verify(stmt, frozenset(self.scope))
        elif isinstance(stmt, Assign):
            self.use(stmt.value, defined, stmt)
            self.bind(stmt.targets, defined, stmt)
        elif isinstance(stmt, (Do, Return)):
            self.use(stmt.value, defined, stmt)
        elif isinstance(stmt, Del):
            for name in stmt.names:
                self.use(Name(name), defined, stmt, operand=True)
                defined.discard(name)
        elif isinstance(stmt, If):
            self.use(stmt.test, defined, stmt, operand=True)
            for branch, yields in zip((stmt.body, stmt.orelse), stmt.yields):
                if len(yields) != len(stmt.outs):
                    raise self.fail(f"{len(stmt.outs)} outs but a branch yields {len(yields)} values", stmt)
                inner = set(defined)
                self.block(branch, inner)
                for y in yields:
                    self.use(y, inner, stmt, operand=True)
                if not self.fn.ssa:
                    defined |= inner
            self.bind(stmt.outs, defined, stmt)
        elif isinstance(stmt, Loop):
            n = len(stmt.carried)
            if not len(stmt.inits) == len(stmt.nexts) == len(stmt.results) == n:
                raise self.fail("carried, inits, nexts and results differ in length", stmt)
            for e in stmt.inits:
                self.use(e, defined, stmt, operand=True)
            self.use(stmt.iter, defined, stmt)
            inner = set(defined)
            self.bind(stmt.carried, inner, stmt)
            self.block(stmt.cond_body, inner)
            self.use(stmt.cond, inner, stmt, operand=True)
            self.bind(stmt.targets, inner, stmt)
            self.block(stmt.body, inner)
            for e in stmt.nexts:
                self.use(e, inner, stmt, operand=True)
            self.use(stmt.exit, inner, stmt, operand=True)
            if not self.fn.ssa:
                defined |= inner
            self.bind(stmt.results, defined, stmt)


# ----- printing -----

_BINOPS = {
    "+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div, "//": ast.FloorDiv, "%": ast.Mod,
    "**": ast.Pow, "@": ast.MatMult, "&": ast.BitAnd, "|": ast.BitOr, "^": ast.BitXor,
    "<<": ast.LShift, ">>": ast.RShift,
}
_UNARYOPS = {"-": ast.USub, "+": ast.UAdd, "not": ast.Not, "~": ast.Invert}
_CMPOPS = {
    "<": ast.Lt, "<=": ast.LtE, "==": ast.Eq, "!=": ast.NotEq, ">": ast.Gt, ">=": ast.GtE,
    "is": ast.Is, "is not": ast.IsNot, "in": ast.In, "not in": ast.NotIn,
}
BINOP_OF_AST = {v: k for k, v in _BINOPS.items()}
UNARYOP_OF_AST = {v: k for k, v in _UNARYOPS.items()}
CMPOP_OF_AST = {v: k for k, v in _CMPOPS.items()}


def to_ast(e: Expr) -> ast.expr:
    """The stdlib ``ast`` expression for ``e`` (``ast.unparse`` prints it)."""
    if isinstance(e, Name):
        return ast.Name(e.id, ast.Load())
    if isinstance(e, Const):
        if isinstance(e.value, (int, float)) and not isinstance(e.value, bool) and e.value < 0:
            # a negative number is a unary minus: printed bare, `-1.5 ** 2` would be -(1.5 ** 2)
            return ast.UnaryOp(ast.USub(), ast.Constant(-e.value))
        return ast.Constant(e.value)
    if isinstance(e, Ref):
        node: ast.expr = ast.Name(e.path[0], ast.Load())
        for part in e.path[1:]:
            node = ast.Attribute(node, part, ast.Load())
        return node
    if isinstance(e, BinOp):
        return ast.BinOp(to_ast(e.left), _BINOPS[e.op](), to_ast(e.right))
    if isinstance(e, UnaryOp):
        return ast.UnaryOp(_UNARYOPS[e.op](), to_ast(e.operand))
    if isinstance(e, Compare):
        return ast.Compare(to_ast(e.left), [_CMPOPS[e.op]()], [to_ast(e.right)])
    if isinstance(e, Call):
        return ast.Call(
            to_ast(e.func), [to_ast(a) for a in e.args], [ast.keyword(k, to_ast(v)) for k, v in e.kwargs]
        )
    if isinstance(e, Starred):
        return ast.Starred(to_ast(e.value), ast.Load())
    if isinstance(e, Attr):
        return ast.Attribute(to_ast(e.value), e.attr, ast.Load())
    if isinstance(e, Subscript):
        return ast.Subscript(to_ast(e.value), _index_ast(e.index), ast.Load())
    if isinstance(e, Slice):  # a slice outside brackets is a slice object
        parts = [ast.Constant(None) if p is None else to_ast(p) for p in (e.lower, e.upper, e.step)]
        return ast.Call(ast.Name("slice", ast.Load()), parts, [])
    if isinstance(e, Tuple):
        return ast.Tuple([to_ast(i) for i in e.items], ast.Load())
    if isinstance(e, List):
        return ast.List([to_ast(i) for i in e.items], ast.Load())
    if isinstance(e, Dict):
        return ast.Dict([to_ast(k) for k in e.keys], [to_ast(v) for v in e.values])
    if isinstance(e, Closure):
        return e.node
    if isinstance(e, SetItem):  # shown in IR dumps as a call; codegen prints the statement form
        return ast.Call(ast.Name("setitem", ast.Load()), [to_ast(e.base), _index_ast(e.index), to_ast(e.value)], [])
    if isinstance(e, ListMethod):
        return ast.Call(ast.Attribute(to_ast(e.base), e.method, ast.Load()), [to_ast(a) for a in e.args], [])
    raise TypeError(f"not an IR expression: {e!r}")


def _index_ast(e: Expr) -> ast.expr:
    """Inside brackets, slices print as ``a:b:c``."""
    if isinstance(e, Slice):
        return ast.Slice(*(None if p is None else to_ast(p) for p in (e.lower, e.upper, e.step)))
    if isinstance(e, Tuple):
        return ast.Tuple([_index_ast(i) for i in e.items], ast.Load())
    return to_ast(e)


def boolean_valued(e: Expr) -> bool:
    """``e`` is a comparison, a logical operation or a test (``np.isfinite``): ``1.0 * e`` is a number, not
    ``e`` (a mask)."""
    if isinstance(e, UnaryOp) and e.op in ("not", "~"):
        return True
    return isinstance(e, Compare) or (isinstance(e, Call) and isinstance(e.func, Ref) and (
        e.func.path[-1] in _BOOLEAN_CALLS or _boolean_ufunc(e.func.value)))


_BOOLEAN_CALLS = {"logical_not", "logical_and", "logical_or", "logical_xor",  # (ufuncs with an object loop too)
                  "isclose", "isin", "isposinf", "isneginf", "iscomplex", "isreal"}  # (not ufuncs)


def _boolean_ufunc(f: object) -> bool:
    """A NumPy ufunc whose every loop returns bools (``np.isfinite``, ``np.greater``, ...)."""
    types = getattr(f, "types", None) if type(f).__name__ == "ufunc" else None
    return bool(types) and all(t.endswith("?") for t in types)


def expr_str(e: Expr) -> str:
    if isinstance(e, Closure) and isinstance(e.node, ast.FunctionDef):
        return f"<def {e.node.name}, capturing {', '.join(map(expr_str, e.captured)) or 'nothing'}>"
    try:
        return _text(e, _TEST)
    except _Unusual:
        return ast.unparse(to_ast(e))


# ``ast.unparse``'s precedences (``ast._Precedence``): an operand is parenthesised where its context asks
# for more than its own
_TEST, _NOT, _CMP, _FACTOR, _POWER, _ATOM = 4, 7, 8, 15, 16, 18
_OPERATOR_PRECEDENCE = {"|": 9, "^": 10, "&": 11, "<<": 12, ">>": 12, "+": 13, "-": 13, "*": 14, "/": 14, "//": 14,
                        "%": 14, "@": 14, "**": _POWER}
_INFINITE = (float("inf"), float("-inf"))


class _Unusual(Exception):
    """An expression ``_text`` leaves to ``ast.unparse``."""


def _text(e: Expr, context: int) -> str:
    """``ast.unparse(to_ast(e))`` for ``e`` in a context of precedence ``context``, without building the
    syntax tree (for the expressions printing meets most; ``_Unusual`` for the others)."""
    kind = type(e)
    if kind is Name:
        return e.id
    if kind is BinOp and e.op in _OPERATOR_PRECEDENCE:
        own = _OPERATOR_PRECEDENCE[e.op]
        left, right = (own + 1, own) if e.op == "**" else (own, own + 1)
        text = f"{_text(e.left, left)} {e.op} {_text(e.right, right)}"
        return f"({text})" if context > own else text
    if kind is Const:
        value = e.value
        if (type(value) not in (float, int, bool, str) and value is not None) or value != value or value in _INFINITE:
            raise _Unusual  # (infinities, nan, complex numbers, bytes, ...)
        if type(value) in (int, float) and value < 0:
            return f"(-{-value!r})" if context > _FACTOR else f"-{-value!r}"
        return repr(value)
    if kind is Call:
        args = [_text(a, _TEST) for a in e.args]
        args += [f"{k}={_text(v, _TEST)}" if k is not None else f"**{_text(v, _TEST)}" for k, v in e.kwargs]
        return f"{_text(e.func, _ATOM)}({', '.join(args)})"
    if kind is Ref:
        return ".".join(e.path)
    if kind is UnaryOp:
        own = _NOT if e.op == "not" else _FACTOR
        text = f"{e.op}{' ' if own == _NOT else ''}{_text(e.operand, own)}"
        return f"({text})" if context > own else text
    if kind is Attr:
        if isinstance(e.value, Const):
            raise _Unusual
        return f"{_text(e.value, _ATOM)}.{e.attr}"
    if kind is Subscript and not isinstance(e.index, (Slice, Tuple)):
        return f"{_text(e.value, _ATOM)}[{_text(e.index, _TEST)}]"
    if kind is Compare:
        text = f"{_text(e.left, _CMP + 1)} {e.op} {_text(e.right, _CMP + 1)}"
        return f"({text})" if context > _CMP else text
    if kind is Starred:
        return f"*{_text(e.value, 9)}"
    raise _Unusual


def _stmt_line(stmt: Stmt) -> str:
    if isinstance(stmt, Assign):
        lhs = f"({stmt.target[0]},)" if isinstance(stmt.target, tuple) and len(stmt.target) == 1 \
            else ", ".join(stmt.targets)
        return f"{lhs} = {expr_str(stmt.value)}"
    if isinstance(stmt, Do):
        return expr_str(stmt.value)
    if isinstance(stmt, Return):
        return f"return {expr_str(stmt.value)}"
    if isinstance(stmt, Del):
        return f"del {', '.join(stmt.names)}"
    if isinstance(stmt, If):
        return f"{stmt.kind} {expr_str(stmt.test)} -> ({', '.join(stmt.outs)})"
    if isinstance(stmt, Loop):
        head = (f"for {', '.join(stmt.targets)} in {expr_str(stmt.iter)}" if stmt.kind == "for"
                else f"while {expr_str(stmt.cond)}")
        return f"{head} carry ({', '.join(stmt.carried)}) -> ({', '.join(stmt.results)})"
    return f"def {stmt.name}({', '.join(stmt.params.names())})"


def dump(fn: Function, indent: str = "") -> str:
    """A compact text dump of the IR, one statement a line, with the user's line number."""
    lines = [f"{indent}func {fn.name}({', '.join(fn.params.names())})  ssa={fn.ssa} flat={fn.flat}"]
    _dump_block(fn.body, indent + "  ", lines)
    return "\n".join(lines)


def _dump_block(stmts: list[Stmt], indent: str, lines: list[str]) -> None:
    for stmt in stmts:
        if isinstance(stmt, Function):
            lines.append(dump(stmt, indent))
            continue
        where = f"  # line {stmt.loc.line}" if stmt.loc else ""
        lines.append(f"{indent}{_stmt_line(stmt)}{where}")
        if isinstance(stmt, If):
            for name, branch, yields in (("then", stmt.body, stmt.yields[0]), ("else", stmt.orelse, stmt.yields[1])):
                lines.append(f"{indent}  {name}:")
                _dump_block(branch, indent + "    ", lines)
                lines.append(f"{indent}    yield {', '.join(expr_str(y) for y in yields)}")
        elif isinstance(stmt, Loop):
            if stmt.carried:
                inits = ", ".join(f"{c} = {expr_str(i)}" for c, i in zip(stmt.carried, stmt.inits))
                lines.append(f"{indent}  init {inits}")
            if stmt.cond_body:
                lines.append(f"{indent}  cond:")
                _dump_block(stmt.cond_body, indent + "    ", lines)
            lines.append(f"{indent}  body:")
            _dump_block(stmt.body, indent + "    ", lines)
            if stmt.carried:
                lines.append(f"{indent}    next {', '.join(expr_str(e) for e in stmt.nexts)}")
            if stmt.exit is not None:
                lines.append(f"{indent}    exit if {expr_str(stmt.exit)}")
