"""Resolving a callee: what differentiating a call to a given object means.

``resolve(fn)`` answers once, for the analyses and for both modes, whether a call of ``fn`` is
differentiated by a rule of the table (``RuleCall``), by a rule the user registered or a
checkpoint (``CustomRule``), by transforming Python source (``UserFunction``), through the
generated code of a derivative s2sad made (``DerivativeFunction``: a grad function, a vjp
handle), is not differentiable (``NonDifferentiable``), or has no rule (``Missing``). ``resolve_func``
resolves the called expression of an IR call: a local or a parameter is a ``FunctionValue``,
known only when the call runs. A ``functools.wraps`` wrapper that only forwards is resolved as the
function it wraps; a namedtuple or dataclass class, called to make one from its fields, has a rule
(``rules.record_rule``). ``call_target`` says which parameters a call's differentiated arguments bind
to, entries of ``*args`` and ``**kwargs`` included (``bind_slots``).

A derivative s2sad made says what stands for it: a function with a ``__s2sad_source__``
attribute, or an object (or the object a bound method is bound to) whose class has one;
``__s2sad_source__(obj, dynamic)`` returns the function to transform in its place. One whose Python
depends on the arguments of the call (``linker.star_vjp``) has a ``__s2sad_source_for__(args, kwargs)``
instead, and is resolved as a ``FunctionValue``. That keeps this module below the run time and the user API.
"""

from __future__ import annotations

import functools
import inspect
import os
import types
from dataclasses import dataclass

from . import ir, primitives  # noqa: F401  (every rule declared before the first lookup)
from .custom import Checkpointed
from .errors import S2SADSyntaxError
from .frontend import DYNAMIC, forwarded
from .rules import FRULES, NONDIFFERENTIABLE, Rule, custom_rule, lookup, record_rule

__all__ = ["Callee", "RuleCall", "CustomRule", "UserFunction", "DerivativeFunction", "FunctionValue",
           "NonDifferentiable", "Missing", "resolve", "resolve_func", "derivative_source", "call_target", "bind_slots",
           "plain"]


@dataclass(frozen=True, slots=True)
class RuleCall:
    """A primitive of the rule table: its template is inlined."""

    rule: Rule


@dataclass(frozen=True, slots=True)
class CustomRule:
    """A callable with a rule the user registered (``rrule``/``frule``), or a checkpointed function:
    generated code calls it through a handle."""

    fn: object


@dataclass(frozen=True, slots=True)
class UserFunction:
    """A Python function (or a method of a global object) whose source is transformed."""

    fn: object


@dataclass(frozen=True, slots=True)
class DerivativeFunction:
    """A derivative s2sad made (a grad function, a vjp handle): ``source``, the generated code that
    computes it, is transformed in its place (a derivative of a derivative)."""

    fn: object
    source: object


@dataclass(frozen=True, slots=True)
class FunctionValue:
    """A local or a parameter: the function is known only when the call runs (``vjp_of``)."""


@dataclass(frozen=True, slots=True)
class NonDifferentiable:
    """No gradient flows through the call: its result is a constant."""


@dataclass(frozen=True, slots=True)
class Missing:
    """No rule, and no source s2sad may transform. ``fn`` is None where the callee is unknown."""

    fn: object = None


Callee = RuleCall | CustomRule | UserFunction | DerivativeFunction | FunctionValue | NonDifferentiable | Missing

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def resolve(fn: object) -> Callee:
    """What differentiating a call of ``fn`` means (see the module docstring). A user's rule wins over
    everything else; s2sad's own functions are differentiated only through rules, never transformed."""
    if fn is ir.UNKNOWN:
        return Missing()
    fn = forwarded(fn)  # a functools.wraps wrapper that only forwards: the function it wraps
    if custom_rule(fn) is not None or custom_rule(fn, FRULES) is not None or isinstance(fn, Checkpointed):
        return CustomRule(fn)
    source = derivative_source(fn)
    if source is not None:
        return DerivativeFunction(fn, source)
    if isinstance(fn, types.FunctionType) and "__s2sad_source_for__" in fn.__dict__:
        return FunctionValue()  # the Python standing for it depends on the arguments: found when called
    if isinstance(fn, functools.partial):
        return FunctionValue()  # the function it calls, with what it binds, when called (``linker._dynamic``)
    rule = lookup(fn) or record_rule(fn)  # (a namedtuple or dataclass made from its fields)
    if rule is not None:
        return RuleCall(rule)
    try:
        if fn in NONDIFFERENTIABLE:
            return NonDifferentiable()
    except TypeError:  # unhashable
        pass
    if (isinstance(fn, types.FunctionType) or (
            isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType))) and not _internal(fn):
        return UserFunction(fn)
    return Missing(fn)


def resolve_func(func: ir.Expr) -> Callee:
    """The callee of an IR call of ``func`` (not a method call)."""
    if isinstance(func, ir.Name) or (isinstance(func, ir.Ref) and func.value is DYNAMIC):
        return FunctionValue()
    return resolve(func.value if isinstance(func, ir.Ref) else ir.UNKNOWN)


def derivative_source(fn: object, dynamic: bool = False) -> object | None:
    """For a derivative s2sad made, the function to transform in its place (None for anything else).
    ``dynamic``: it is a value met when differentiated code runs (see ``api.differentiable``)."""
    for obj in (fn, getattr(fn, "__self__", None)):  # (a handle's bound ``__call__``)
        source_of = obj.__dict__.get("__s2sad_source__") if isinstance(obj, types.FunctionType) else getattr(
            type(obj), "__s2sad_source__", None)  # (read from the class: an object's __getattr__ may answer anything)
        if source_of is not None:
            return source_of(obj, dynamic)
    return None


def _internal(fn: object) -> bool:
    """A function of s2sad's own source: differentiated only through a rule, never transformed."""
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
    return code is not None and os.path.dirname(os.path.abspath(code.co_filename)) == _PACKAGE


def plain(fn: object) -> object:
    """A checkpointed function's own function (``fn`` itself otherwise)."""
    return fn.fn if isinstance(fn, Checkpointed) else fn


def call_target(fn: object, func: ir.Expr | None, positions: list[int], keywords: list[str], loc: ir.Loc
                ) -> tuple[types.FunctionType, list[ir.Expr], tuple[str, ...], list[tuple[str, object]]]:
    """For a call into user code of ``fn`` (through ``func``) with differentiated arguments at
    ``positions`` and ``keywords``: the function to differentiate, the receiver to pass it first (a
    method of a global object or class), the parameters those arguments bind to and, per argument,
    where (see ``bind_slots``: an argument may fill an entry of ``*args`` or ``**kwargs``)."""
    fn, receiver = plain(fn), []
    if isinstance(fn, types.MethodType):  # a method of a global object, passed its receiver first
        receiver = [func.value if isinstance(func, ir.Attr) else  # `obj.method(x)`: the global read again
                    ir.Ref((f"{fn.__name__}_self",), fn.__self__, helper=True)]  # a global bound method: bound
        fn = fn.__func__
    assert isinstance(fn, types.FunctionType), "resolve: a call into user code calls a Python function"
    try:
        wrt, slots = bind_slots(fn, tuple(positions), tuple(keywords), len(receiver))
    except TypeError as e:
        raise S2SADSyntaxError(str(e), loc) from None
    return fn, receiver, wrt, slots


def bind_slots(fn: types.FunctionType, positions: tuple[int, ...], keywords: tuple[str, ...], shift: int = 0
               ) -> tuple[tuple[str, ...], list[tuple[str, object]]]:
    """The parameters of ``fn`` that the arguments at ``positions`` (counted after ``shift`` bound first)
    and the ``keywords`` bind to: ``(wrt, slots)``, the parameters to differentiate (each once, in order)
    and, per argument, its parameter and its index in ``*args`` or key in ``**kwargs`` (None for a named one)."""
    code = fn.__code__
    positional = code.co_varnames[:code.co_argcount]
    named = code.co_varnames[code.co_posonlyargcount:code.co_argcount + code.co_kwonlyargcount]
    rest = code.co_varnames[code.co_argcount + code.co_kwonlyargcount:][:2]
    star = rest[0] if code.co_flags & inspect.CO_VARARGS else None
    stars = rest[bool(star)] if code.co_flags & inspect.CO_VARKEYWORDS else None
    found: list[tuple[str | None, object]] = [
        (positional[p + shift], None) if p + shift < len(positional) else (star, p + shift - len(positional))
        for p in positions]
    found += [(k, None) if k in named else (stars, k) for k in keywords]
    slots = [(name, key) for name, key in found if name is not None]
    if len(slots) < len(found):
        raise TypeError(f"{fn.__qualname__} takes no such argument: a differentiated argument binds to no parameter")
    return tuple(dict.fromkeys(name for name, _ in slots)), slots
