"""The structured SSA IR: small slotted nodes, a text dump, and ``verify``.

A ``Function`` holds a list of statements. Control flow stays structured
(statements own nested blocks); there is no goto graph. Values are named by
strings chosen by the namer, so they read like the user's code (``x``, ``x_1``).

Invariants that ``verify`` checks:

* every name is defined (parameter, assignment, enclosing function) before use;
* in an ``ssa`` function every name is assigned once;
* in a ``flat`` function (what ``lower`` produces) the operands of every
  expression are atoms: ``Name``, ``Const`` or ``Ref`` (slices and index tuples
  of atoms count as atoms).

Expressions in non-flat functions (what ``reverse`` produces) may nest.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Iterator, Union

__all__ = [
    "Loc", "Expr", "Name", "Const", "Ref", "BinOp", "UnaryOp", "Compare", "Call", "Attr",
    "Subscript", "Slice", "Tuple", "List", "Dict", "Stmt", "Assign", "Return", "Function",
    "Params", "IRError", "verify", "dump", "to_ast", "children", "names_read",
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

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


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


Expr = Union[Name, Const, Ref, BinOp, UnaryOp, Compare, Call, Attr, Subscript, Slice, Tuple, List, Dict]
ATOMS = (Name, Const, Ref)

# ----- statements -----


@dataclass(slots=True)
class Assign:
    """``target = value``; a tuple target unpacks (``a, b = value``)."""

    target: str | tuple[str, ...]
    value: Expr
    loc: Loc | None = None

    @property
    def targets(self) -> tuple[str, ...]:
        return self.target if isinstance(self.target, tuple) else (self.target,)


@dataclass(slots=True)
class Return:
    value: Expr
    loc: Loc | None = None


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


Stmt = Union[Assign, Return, Function]


class IRError(AssertionError):
    """``verify`` found a broken invariant; the message names the statement."""


# ----- traversal -----


def children(e: Expr) -> Iterator[Expr]:
    """The direct sub-expressions of ``e``."""
    if isinstance(e, BinOp | Compare):
        yield e.left
        yield e.right
    elif isinstance(e, UnaryOp):
        yield e.operand
    elif isinstance(e, Call):
        yield e.func
        yield from e.args
        for _, v in e.kwargs:
            yield v
    elif isinstance(e, Attr):
        yield e.value
    elif isinstance(e, Subscript):
        yield e.value
        yield e.index
    elif isinstance(e, Slice):
        yield from (p for p in (e.lower, e.upper, e.step) if p is not None)
    elif isinstance(e, Tuple | List):
        yield from e.items
    elif isinstance(e, Dict):
        yield from e.keys
        yield from e.values


def names_read(e: Expr) -> Iterator[str]:
    """Every local name ``e`` reads, in order."""
    if isinstance(e, Name):
        yield e.id
    for c in children(e):
        yield from names_read(c)


def _is_flat_operand(e: Expr) -> bool:
    if isinstance(e, ATOMS):
        return True
    if isinstance(e, Slice | Tuple):  # index expressions: x[1:n, ::2]
        return all(_is_flat_operand(c) for c in children(e))
    return False


def _is_flat(e: Expr) -> bool:
    if isinstance(e, Call):
        func_ok = isinstance(e.func, ATOMS) or (isinstance(e.func, Attr) and isinstance(e.func.value, ATOMS))
        return func_ok and all(_is_flat_operand(a) for a in e.args) and all(_is_flat_operand(v) for _, v in e.kwargs)
    return all(_is_flat_operand(c) for c in children(e))


# ----- verify -----


def verify(fn: Function, outer: frozenset[str] = frozenset()) -> None:
    """Check the invariants in the module docstring; raise ``IRError`` naming the statement."""
    defined = set(outer) | set(fn.params.names())
    if len(defined - set(outer)) != len(fn.params.names()):
        raise IRError(f"{fn.name}: duplicate parameter names {fn.params.names()}")
    for stmt in fn.body:
        _verify_stmt(fn, stmt, defined)


def _verify_stmt(fn: Function, stmt: Stmt, defined: set[str]) -> None:
    where = f"in {fn.name}: {_stmt_line(stmt)}"
    if isinstance(stmt, Function):
        if stmt.name in defined and fn.ssa:
            raise IRError(f"{stmt.name} assigned twice {where}")
        defined.add(stmt.name)
        verify(stmt, frozenset(defined))
        return
    value = stmt.value
    for name in names_read(value):
        if name not in defined:
            raise IRError(f"{name} used before it is defined {where}")
    if fn.flat and not _is_flat(value):
        raise IRError(f"nested expression in a flat function {where}")
    if isinstance(stmt, Assign):
        for t in stmt.targets:
            if fn.ssa and t in defined:
                raise IRError(f"{t} assigned twice {where}")
            defined.add(t)


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
    raise TypeError(f"not an IR expression: {e!r}")


def _index_ast(e: Expr) -> ast.expr:
    """Inside brackets, slices print as ``a:b:c``."""
    if isinstance(e, Slice):
        return ast.Slice(*(None if p is None else to_ast(p) for p in (e.lower, e.upper, e.step)))
    if isinstance(e, Tuple):
        return ast.Tuple([_index_ast(i) for i in e.items], ast.Load())
    return to_ast(e)


def expr_str(e: Expr) -> str:
    return ast.unparse(to_ast(e))


def _stmt_line(stmt: Stmt) -> str:
    if isinstance(stmt, Assign):
        return f"{', '.join(stmt.targets)} = {expr_str(stmt.value)}"
    if isinstance(stmt, Return):
        return f"return {expr_str(stmt.value)}"
    return f"def {stmt.name}({', '.join(stmt.params.names())})"


def dump(fn: Function, indent: str = "") -> str:
    """A compact text dump of the IR, one statement a line, with the user's line number."""
    lines = [f"{indent}func {fn.name}({', '.join(fn.params.names())})  ssa={fn.ssa} flat={fn.flat}"]
    for stmt in fn.body:
        if isinstance(stmt, Function):
            lines.append(dump(stmt, indent + "  "))
            continue
        where = f"  # line {stmt.loc.line}" if stmt.loc else ""
        lines.append(f"{indent}  {_stmt_line(stmt)}{where}")
    return "\n".join(lines)
