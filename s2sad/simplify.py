"""Simplify: clean-ups on a flat SSA function before differentiation.

Expects ``lower``'s output; keeps every invariant ``verify`` checks. It removes
work the user's spelling implies but the computation does not need, so both the
forward pass and the pullback get shorter:

* common subexpressions: a pure operation computed again on the same operands
  (``x**2`` twice in one line) reuses the first result;
* reads of a tuple literal at a constant index become the item itself;
* temporaries that merely copy another value are replaced by that value, and
  temporaries left unread that cannot raise (literals, copies) are dropped.

A repeat bound to one of the user's names stays as a copy (``b = a``), so the
user's names survive. Only operations known to be pure are merged: operators,
comparisons and calls of functions in the rule table (never ``out=``).
"""

from __future__ import annotations

from . import ir
from .rules import lookup

__all__ = ["simplify"]


def simplify(fn: ir.Function) -> ir.Function:
    """Return ``fn`` with common subexpressions merged and temporary copies removed."""
    subst: dict[str, ir.Expr] = {}
    seen: dict[object, str] = {}
    tuples: dict[str, list[ir.Expr]] = {}
    body: list[ir.Stmt] = []
    for stmt in fn.body:
        value = _substitute(stmt.value, subst)
        if isinstance(stmt, ir.Return):
            body.append(ir.Return(value, stmt.loc))
            continue
        if isinstance(stmt.target, str):
            value = _forward_tuple_item(value, tuples)
            key = _key(value)
            if key is not None and key in seen:
                value = ir.Name(seen[key])
            elif key is not None:
                seen[key] = stmt.target
            if isinstance(value, ir.Tuple):
                tuples[stmt.target] = value.items
            if stmt.target in fn.temps and isinstance(value, ir.Name | ir.Const):
                subst[stmt.target] = value
                continue
        body.append(ir.Assign(stmt.target, value, stmt.loc))
    body = _drop_dead_temporaries(body, fn.temps)
    return ir.Function(fn.name, fn.params, body, fn.loc, fn.ssa, fn.flat, fn.doc, fn.temps)


def _drop_dead_temporaries(body: list[ir.Stmt], temps: set[str]) -> list[ir.Stmt]:
    """Remove temporaries nobody reads whose value cannot raise (literals and copies).

    A statement bound to a user's name, or one that could raise, is always kept.
    """
    read: set[str] = set()
    kept: list[ir.Stmt] = []
    for stmt in reversed(body):
        if isinstance(stmt, ir.Assign) and isinstance(stmt.target, str) and stmt.target in temps \
                and stmt.target not in read and isinstance(stmt.value, (*ir.ATOMS, ir.Tuple, ir.List)):
            continue
        read.update(ir.names_read(stmt.value))
        kept.append(stmt)
    return kept[::-1]


def _forward_tuple_item(value: ir.Expr, tuples: dict[str, list[ir.Expr]]) -> ir.Expr:
    if isinstance(value, ir.Subscript) and isinstance(value.value, ir.Name) and value.value.id in tuples:
        items = tuples[value.value.id]
        i = value.index.value if isinstance(value.index, ir.Const) else None
        if type(i) is int and -len(items) <= i < len(items):
            return items[i]
    return value


def _substitute(e: ir.Expr, subst: dict[str, ir.Expr]) -> ir.Expr:
    if not subst:
        return e
    if isinstance(e, ir.Name):
        return subst.get(e.id, e)
    if isinstance(e, ir.Const | ir.Ref):
        return e
    if isinstance(e, ir.BinOp):
        return ir.BinOp(e.op, _substitute(e.left, subst), _substitute(e.right, subst))
    if isinstance(e, ir.Compare):
        return ir.Compare(e.op, _substitute(e.left, subst), _substitute(e.right, subst))
    if isinstance(e, ir.UnaryOp):
        return ir.UnaryOp(e.op, _substitute(e.operand, subst))
    if isinstance(e, ir.Call):
        return ir.Call(_substitute(e.func, subst), [_substitute(a, subst) for a in e.args],
                       [(k, _substitute(v, subst)) for k, v in e.kwargs])
    if isinstance(e, ir.Attr):
        return ir.Attr(_substitute(e.value, subst), e.attr)
    if isinstance(e, ir.Subscript):
        return ir.Subscript(_substitute(e.value, subst), _substitute(e.index, subst))
    if isinstance(e, ir.Slice):
        return ir.Slice(*(None if p is None else _substitute(p, subst) for p in (e.lower, e.upper, e.step)))
    if isinstance(e, ir.Tuple):
        return ir.Tuple([_substitute(i, subst) for i in e.items])
    if isinstance(e, ir.List):
        return ir.List([_substitute(i, subst) for i in e.items])
    if isinstance(e, ir.Dict):
        return ir.Dict([_substitute(k, subst) for k in e.keys], [_substitute(v, subst) for v in e.values])
    raise TypeError(f"not an IR expression: {e!r}")


def _atom_key(e: ir.Expr) -> object:
    if isinstance(e, ir.Name):
        return ("name", e.id)
    if isinstance(e, ir.Const):
        return ("const", type(e.value), e.value) if _hashable(e.value) else None
    if isinstance(e, ir.Ref):
        return ("ref", e.path, id(e.value))
    return None


def _hashable(v: object) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _key(e: ir.Expr) -> object:
    """A hashable key equal for two pure expressions that must compute the same value."""
    if isinstance(e, ir.BinOp | ir.Compare):
        parts = (_atom_key(e.left), _atom_key(e.right))
        return None if None in parts else (type(e).__name__, e.op, *parts)
    if isinstance(e, ir.UnaryOp):
        part = _atom_key(e.operand)
        return None if part is None else ("unary", e.op, part)
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and lookup(e.func.value) is not None:
        args = tuple(_atom_key(a) for a in e.args)
        kwargs = tuple((k, _atom_key(v)) for k, v in e.kwargs)
        if None in args or any(v is None or k == "out" for k, v in kwargs):
            return None
        return ("call", _atom_key(e.func), args, kwargs)
    return None
