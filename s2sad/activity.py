"""Analyses over a flat SSA function: what each statement computes, activity, scalars.

``primitive`` says which rule governs an assignment. ``analyze`` returns the
active names (those that depend on a differentiated parameter *and* reach the
returned value; only they get cotangents) and the names statically known to have
shape ``()`` -- Python or NumPy scalars -- so the adjoint can leave out
``unbroadcast``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

from . import ir
from .rules import ATTRIBUTES, BINOP_FUNCS, METHODS, NONDIFFERENTIABLE, UNARYOP_FUNCS, Rule, lookup

__all__ = ["Prim", "primitive", "analyze", "Analysis"]

COPY, CALL, CONTAINER, UNPACK, NONDIFF, MISSING = "copy", "call", "container", "unpack", "nondiff", "missing"


@dataclass(slots=True)
class Prim:
    """What an assignment computes: its kind, rule and positional/keyword operands."""

    kind: str
    rule: Rule | None = None
    args: list[ir.Expr] = field(default_factory=list)
    kwargs: dict[str, ir.Expr] = field(default_factory=dict)
    callee: object = None  # for MISSING: the callable (or a description) without a rule


def _of_callable(fn: object, args: list[ir.Expr], kwargs: dict[str, ir.Expr]) -> Prim:
    if fn is ir.UNKNOWN:
        return Prim(MISSING, None, args, kwargs)
    rule = lookup(fn)
    if rule is not None:
        return Prim(CALL, rule, args, kwargs)
    try:
        if fn in NONDIFFERENTIABLE:
            return Prim(NONDIFF, None, args, kwargs)
    except TypeError:
        pass
    return Prim(MISSING, None, args, kwargs, callee=fn)


def primitive(stmt: ir.Assign) -> Prim:
    """Classify ``stmt`` (an assignment in a flat function)."""
    v = stmt.value
    if isinstance(stmt.target, tuple):
        return Prim(UNPACK, None, [v])
    if isinstance(v, ir.Name | ir.Const):
        return Prim(COPY, None, [v])
    if isinstance(v, ir.Ref):
        return Prim(NONDIFF)
    if isinstance(v, ir.BinOp):
        return _of_callable(BINOP_FUNCS.get(v.op, ir.UNKNOWN), [v.left, v.right], {})
    if isinstance(v, ir.UnaryOp):
        return _of_callable(UNARYOP_FUNCS[v.op], [v.operand], {})
    if isinstance(v, ir.Compare):
        return Prim(NONDIFF, None, [v.left, v.right])
    if isinstance(v, ir.Subscript):
        return _of_callable(operator.getitem, [v.value, v.index], {})
    if isinstance(v, ir.Tuple | ir.List):
        return Prim(CONTAINER, None, list(v.items))
    if isinstance(v, ir.Dict):
        return Prim(CONTAINER, None, list(v.values))
    if isinstance(v, ir.Attr):
        if v.attr in ATTRIBUTES:
            rule = ATTRIBUTES[v.attr]
            return Prim(CALL, rule, [v.value]) if rule else Prim(NONDIFF, None, [v.value])
        return Prim(MISSING, None, [v.value], callee=f".{v.attr}")
    if isinstance(v, ir.Call):
        kwargs = dict(v.kwargs)
        if isinstance(v.func, ir.Attr):  # method call: the receiver is the first argument
            fn = METHODS.get(v.func.attr)
            if fn is None:
                return Prim(MISSING, None, [v.func.value, *v.args], kwargs, callee=f".{v.func.attr}()")
            return _of_callable(fn, [v.func.value, *v.args], kwargs)
        fn = v.func.value if isinstance(v.func, ir.Ref) else ir.UNKNOWN
        return _of_callable(fn, list(v.args), kwargs)
    raise TypeError(f"unexpected IR value {v!r}")


@dataclass(slots=True)
class Analysis:
    prims: dict[int, Prim]  # id(stmt) -> Prim
    active: set[str]
    scalars: set[str]
    containers: set[str]  # tuple, list and dict literals: their cotangents add entry by entry


def _diff_operands(p: Prim) -> list[ir.Expr]:
    """The operands a cotangent can flow to."""
    if p.kind == NONDIFF:
        return []
    if p.kind == CALL and p.rule.diff is not None:
        return [p.args[i] for i in p.rule.diff if i < len(p.args)]
    return [*p.args, *p.kwargs.values()] if p.kind == MISSING else list(p.args)


def analyze(fn: ir.Function, wrt: list[str], scalar_params: set[str]) -> Analysis:
    """Activity (varied and useful) and static scalar-ness for every name in ``fn``."""
    assigns = [s for s in fn.body if isinstance(s, ir.Assign)]
    prims = {id(s): primitive(s) for s in assigns}
    varied = set(wrt)
    scalars = set(scalar_params)
    for s in assigns:
        p = prims[id(s)]
        ops = _diff_operands(p)
        if any(isinstance(o, ir.Name) and o.id in varied for o in ops):
            varied.update(s.targets)
        if _is_scalar(p, scalars):
            scalars.update(s.targets)
    # Backwards: math.* accepts only scalars, and an elementwise result of shape ()
    # means every operand had shape () (broadcasting never shrinks a shape).
    for s in reversed(assigns):
        p = prims[id(s)]
        if p.kind == CALL and (p.rule.name.startswith("math.") or (p.rule.elementwise and s.target in scalars)):
            scalars.update(a.id for a in p.args if isinstance(a, ir.Name))
    ret = next(s for s in fn.body if isinstance(s, ir.Return))
    useful = {n for n in ir.names_read(ret.value)}
    for s in reversed(assigns):
        if any(t in useful for t in s.targets):
            useful.update(o.id for o in _diff_operands(prims[id(s)]) if isinstance(o, ir.Name))
    containers = {s.target for s in assigns if prims[id(s)].kind == CONTAINER}
    return Analysis(prims, varied & useful, scalars, containers)


def _is_scalar(p: Prim, scalars: set[str]) -> bool:
    def known(e: ir.Expr) -> bool:
        return (isinstance(e, ir.Name) and e.id in scalars) or (
            isinstance(e, ir.Const) and isinstance(e.value, int | float))

    if p.kind == COPY:
        return known(p.args[0])
    if p.kind == CALL and p.rule.name.startswith("math."):
        return True  # math functions always return a Python float
    if p.kind == CALL and p.rule.elementwise:
        return all(known(a) for a in p.args)
    if p.kind == CALL and p.rule.reduction:
        return len(p.args) == 1 and not p.kwargs
    return False
