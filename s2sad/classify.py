"""What an assignment of a flat SSA function computes: its kind, its rule and its operands (``Prim``).

``primitive`` classifies an assignment: a copy, a container literal, an unpacking, a call of a
rule (``CALL``), of a function without a derivative (``NONDIFF``) or without a rule (``MISSING``),
into user code (``TRANSFORM``), a nested function (``CLOSURE``), an in-place write (``SETITEM``,
``LISTOP``) or a derivative of a function value (``DERIVE``). ``diff_operands`` are the operands a
cotangent can flow to.
"""

from __future__ import annotations

import enum
import operator
import types
from dataclasses import dataclass, field

from . import ir
from .resolve import (
    Callee,
    CustomRule,
    DerivativeFunction,
    FunctionValue,
    NonDifferentiable,
    RuleCall,
    UserFunction,
    resolve,
    resolve_func,
)
from .rules import (
    ATTRIBUTES,
    BINOP_FUNCS,
    CLOSURE_DERIVATIVES,
    FIELD,
    FUNCTION_VALUE_VJPS,
    METHODS,
    RECEIVER_ONLY_METHODS,
    UNARYOP_FUNCS,
    WRITER_METHODS,
    WRITERS,
    Rule,
    bind,
    lookup,
)

__all__ = ["Prim", "Kind", "primitive", "COPY", "CALL", "CONTAINER", "UNPACK", "NONDIFF", "MISSING", "TRANSFORM", "CLOSURE",
           "SETITEM", "LISTOP", "DERIVE", "method_receiver", "diff_operands", "calls", "writes_into_argument",
           "names_in"]

class Kind(enum.Enum):
    """What an assignment computes (``Prim.kind``): a type the checker tells apart, not a string."""

    COPY = "copy"  # y = x
    CALL = "call"  # a call of a primitive (``Prim.rule``)
    CONTAINER = "container"  # a tuple, list or dict display
    UNPACK = "unpack"  # a, b = t
    NONDIFF = "nondiff"  # a call no derivative flows through
    MISSING = "missing"  # a call of a callable without a rule
    TRANSFORM = "transform"  # a call into user code
    CLOSURE = "closure"  # making a nested function
    SETITEM = "setitem"  # an in-place write: x[i] = v
    LISTOP = "listop"  # an in-place write: xs.append / extend / pop
    DERIVE = "derive"  # s2sad.grad(f) of a function value: it captures what f captured


COPY, CALL, CONTAINER, UNPACK, NONDIFF, MISSING = Kind.COPY, Kind.CALL, Kind.CONTAINER, Kind.UNPACK, Kind.NONDIFF, \
    Kind.MISSING
TRANSFORM, CLOSURE, SETITEM, LISTOP, DERIVE = Kind.TRANSFORM, Kind.CLOSURE, Kind.SETITEM, Kind.LISTOP, Kind.DERIVE


@dataclass(slots=True)
class Prim:
    """What an assignment computes: its kind, rule and positional/keyword operands."""

    kind: Kind
    rule: Rule | None = None
    args: list[ir.Expr] = field(default_factory=list)
    kwargs: dict[str, ir.Expr] = field(default_factory=dict)
    callee: object = None  # MISSING: the callable without a rule; TRANSFORM: the function, None if dynamic
    func: ir.Expr | None = None  # TRANSFORM: the called expression (a local, or a method of one)
    starred: list[ir.Expr] = field(default_factory=list)  # passed with * or ** (and what follows a *)


def _of_callable(fn: object, args: list[ir.Expr], kwargs: dict[str, ir.Expr], func: ir.Expr | None = None) -> Prim:
    return _of_callee(resolve(fn), args, kwargs, func)


def _of_callee(c: Callee, args: list[ir.Expr], kwargs: dict[str, ir.Expr], func: ir.Expr | None = None) -> Prim:
    if isinstance(c, RuleCall):
        return Prim(CALL, c.rule, *bind(c.rule, args, kwargs))
    if isinstance(c, NonDifferentiable):
        return Prim(NONDIFF, None, args, kwargs)
    if isinstance(c, (CustomRule, UserFunction)):
        return Prim(TRANSFORM, None, args, kwargs, callee=c.fn, func=func)
    if isinstance(c, DerivativeFunction):  # a derivative called in differentiated code: differentiate its code
        return Prim(TRANSFORM, None, args, kwargs, callee=c.source, func=func)
    if isinstance(c, FunctionValue):  # found when called
        return Prim(TRANSFORM, None, args, kwargs, func=func)
    return Prim(MISSING, None, args, kwargs, callee=c.fn)


def primitive(stmt: ir.Assign) -> Prim:
    """Classify ``stmt`` (an assignment in a flat function)."""
    v = stmt.value
    if isinstance(v, ir.SetItem):
        return Prim(SETITEM, None, [v.base, v.value], {"index": v.index})
    if isinstance(v, ir.ListMethod):
        return Prim(LISTOP, None, [v.base, *v.args])
    if isinstance(stmt.target, tuple):
        return Prim(UNPACK, None, [v])
    if isinstance(v, (ir.Name, ir.Const)):
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
        # np.r_[a, b]: a primitive of its own, whose operands are the entries (np.r_[t] stays an index,
        # refused where t carries a derivative: a t holding a tuple would be the entries)
        indexed = lookup(v.value.value) if isinstance(v.value, ir.Ref) else None
        if indexed is not None and indexed.subscript and isinstance(v.index, ir.Tuple):
            return Prim(CALL, indexed, list(v.index.items))
        return _of_callable(operator.getitem, [v.value, v.index], {})
    if isinstance(v, (ir.Tuple, ir.List)):
        return Prim(CONTAINER, None, list(v.items))
    if isinstance(v, ir.Dict):
        return Prim(CONTAINER, None, list(v.values))
    if isinstance(v, ir.Closure):
        return Prim(CLOSURE, None, list(v.captured))
    if isinstance(v, ir.Attr):
        if v.attr in ATTRIBUTES:
            rule = ATTRIBUTES[v.attr]
            return Prim(CALL, rule, [v.value]) if rule else Prim(NONDIFF, None, [v.value])
        return Prim(CALL, FIELD, [v.value, ir.Const(v.attr)])  # a namedtuple's or dataclass's field
    if isinstance(v, ir.Call):
        if any(isinstance(a, ir.Starred) for a in v.args) or any(k is None for k, _ in v.kwargs):
            return _unpacking_call(v)
        kwargs = dict(v.kwargs)
        if isinstance(v.func, ir.Attr):  # method call
            receiver = v.func.value
            if isinstance(receiver, ir.Ref) and receiver.value is not ir.UNKNOWN:
                bound = getattr(receiver.value, v.func.attr, ir.UNKNOWN)  # a method of a global object or class
                if isinstance(bound, types.MethodType) or (  # (a classmethod is bound to its class)
                        isinstance(receiver.value, type) and isinstance(bound, types.FunctionType)):  # a staticmethod
                    return _of_callable(bound, list(v.args), kwargs, v.func)
            fn = METHODS.get(v.func.attr)  # an ndarray method: the receiver is the first argument
            if fn is not None:
                return _of_callable(fn, [receiver, *v.args], kwargs)
            if isinstance(receiver, ir.Name):  # a method of a local object: found when called
                return Prim(TRANSFORM, None, list(v.args), kwargs, func=v.func)
            return Prim(MISSING, None, [receiver, *v.args], kwargs, callee=f".{v.func.attr}()")
        if isinstance(v.func, ir.Ref) and _derives_closure(v.func.value, v):
            return Prim(DERIVE, None, list(v.args), kwargs)
        return _of_callee(resolve_func(v.func), list(v.args), kwargs, v.func)
    raise TypeError(f"unexpected IR value {v!r}")


def method_receiver(p: Prim) -> ir.Name | None:
    """The local object ``p`` calls a method of, found only when called (``obj.m(...)``); None for the
    methods in ``RECEIVER_ONLY_METHODS`` (their result carries nothing of the receiver)."""
    if p.kind == TRANSFORM and isinstance(p.func, ir.Attr) and isinstance(p.func.value, ir.Name) \
            and p.func.attr not in RECEIVER_ONLY_METHODS:
        return p.func.value
    return None


def _derives_closure(fn: object, v: ir.Call) -> bool:
    """``s2sad.grad(f)`` of a local function value ``f`` (``argnums`` a constant), or the vjp of one that
    derivative code takes (``vjp_of(f, ...)``): the derivative function reads what ``f`` captured, so
    it carries their cotangents as ``f`` does."""
    try:
        if fn in FUNCTION_VALUE_VJPS:
            return bool(v.args) and isinstance(v.args[0], ir.Name)
        if fn not in CLOSURE_DERIVATIVES:
            return False
    except TypeError:  # unhashable
        return False
    return len(v.args) == 1 and isinstance(v.args[0], ir.Name) and all(
        k == "argnums" and isinstance(e, ir.Const) for k, e in v.kwargs)


def _unpacking_call(v: ir.Call) -> Prim:
    """A call with ``*args`` or ``**kwargs``: values passed through, never differentiated through the star."""
    fn = v.func.value if isinstance(v.func, ir.Ref) else None
    plain = primitive(ir.Assign("_", ir.Call(v.func, [a for a in v.args if not isinstance(a, ir.Starred)],
                                             [(k, e) for k, e in v.kwargs if k is not None])))
    if plain.kind in (NONDIFF, TRANSFORM):
        cut = next(i for i, a in enumerate([*v.args, None]) if a is None or isinstance(a, ir.Starred))
        return Prim(plain.kind, None, list(v.args[:cut]), dict(plain.kwargs), plain.callee, plain.func,
                    starred=[a.value if isinstance(a, ir.Starred) else a for a in v.args[cut:]]
                    + [e for k, e in v.kwargs if k is None])
    return Prim(MISSING, None, [a.value if isinstance(a, ir.Starred) else a for a in v.args]
                + [e for k, e in v.kwargs if k is None], dict(plain.kwargs),
                callee=fn if fn is not None else "a call with * or ** arguments")


def diff_operands(p: Prim) -> list[ir.Expr]:
    """The operands a cotangent can flow to."""
    if p.kind == NONDIFF:
        return []
    if p.kind in (SETITEM, LISTOP):
        return list(p.args)
    if p.kind == DERIVE:
        return p.args[:1]
    if p.kind == CALL and p.rule is not None and p.rule.diff is not None:
        return [p.args[i] for i in p.rule.diff if i < len(p.args)]
    if p.kind == TRANSFORM:  # a local function value carries the cotangents of what it captured
        return [*p.args, *p.kwargs.values(), *p.starred, *([p.func] if isinstance(p.func, ir.Name) else []),
                *([receiver] if (receiver := method_receiver(p)) is not None else [])]
    return [*p.args, *p.kwargs.values()] if p.kind == MISSING else list(p.args)


def calls(v: ir.Expr, fns) -> bool:
    """``v`` is a call of one of the functions ``fns``."""
    return isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) and any(v.func.value is f for f in fns)


def writes_into_argument(v: ir.Expr) -> bool:
    """Is ``v`` a call that writes into an array it is given (``out=``, SciPy's ``overwrite_a=True``,
    ``np.copyto``, ``a.fill``)?"""
    if not isinstance(v, ir.Call):
        return False
    if any(k == "out" or (k is not None and k.startswith("overwrite_") and not (isinstance(e, ir.Const) and not e.value))
           for k, e in v.kwargs):  # (a None key: **kwargs)
        return True
    if isinstance(v.func, ir.Attr) and not isinstance(v.func.value, ir.Ref):
        return v.func.attr in WRITER_METHODS  # a method of a local array
    if isinstance(v.func, ir.Attr) and isinstance(v.func.value, ir.Ref):  # a method of a global object (np.add.at)
        fn = getattr(v.func.value.value, v.func.attr, None)
    else:
        fn = v.func.value if isinstance(v.func, ir.Ref) else None
    try:
        return fn in WRITERS
    except TypeError:  # unhashable
        return False


def names_in(exprs) -> set[str]:
    return {n for e in exprs if e is not None for n in ir.names_read(e)}
