"""What reverse and forward mode share: references to run-time helpers, and refusing calls no rule
differentiates before either mode builds anything."""

from __future__ import annotations

import builtins

from . import ir, runtime
from .activity import Analysis, check_uses
from .classify import MISSING, method_receiver
from .complexity import check_complex
from .errors import NoDerivativeRuleError
from .linker import VJP_OF_HIGHER_ORDER, jvp_of, star_jvp, star_vjp, vjp_of
from .load import LINEMAPS
from .rules import FIELD, rule_name

__all__ = ["helper", "zeros", "packed_keywords", "check_rules", "no_rule_error"]


def helper(name: str) -> ir.Ref:
    """A reference to the run-time helper ``name`` (``runtime``'s, the linker's, or a builtin), bound by name
    when the function is emitted (``codegen.bind_helpers``)."""
    obj = {"vjp_of": vjp_of, "jvp_of": jvp_of, "star_vjp": star_vjp, "star_jvp": star_jvp}.get(name) or getattr(runtime, name, None) or getattr(builtins, name)
    return ir.Ref((name,), obj, helper=True)


def zeros(name: str, scalars: set[str] = frozenset()) -> ir.Expr:
    """A zero materialised where a symbolic one cannot stand: ``0.0`` for a name in ``scalars`` (statically
    a number: the gradient returned is cast to its argument's type), else ``zeros_like(name)``."""
    return ir.Const(0.0) if name in scalars else ir.Call(helper("zeros_like"), [ir.Name(name)])


def packed_keywords(kwargs: list[tuple[str | None, ir.Expr]], values: list[ir.Expr]) -> ir.Expr:
    """The dict a call's keywords ``kwargs`` (``k=v``, and ``**kw`` with the key None) pass, made of ``values``
    (the ``v`` and ``kw`` themselves, or their tangents) by ``join_kwargs``, which has a rule: a derivative of
    the code passing it is taken through it (``dict()`` where there is none)."""
    if not kwargs:
        return ir.Call(helper("dict"), [])
    like = [e if k is None else ir.Const(k) for k, e in kwargs]
    return ir.Call(helper("join_kwargs"), [ir.Tuple(values), ir.Tuple(like)])


def check_rules(forward: list[ir.Stmt], analysis: Analysis, returned: ir.Expr) -> None:
    """A call with no rule is an error only where a cotangent must pass through it; a method s2sad
    has no rule for, of a container or object that carries a gradient, is an error wherever it is
    called (it may change the container in place). Any other use of a derivative that no rule
    differentiates is refused by ``check_uses``, and a complex value no rule is exact on by
    ``check_complex``."""
    check_uses(forward, analysis)
    check_complex(forward, analysis, [returned])
    for stmt in ir.walk(forward):
        if isinstance(stmt, ir.Assign):
            p = analysis.prims[stmt.sid]
            if p.kind == MISSING and any(t in analysis.active for t in stmt.targets):
                raise no_rule_error(p.callee, stmt.loc)
            if p.rule is FIELD and stmt.target in analysis.active and _kind(p.args[0], analysis) == "array":
                raise no_rule_error(f".{p.args[1].value}", stmt.loc)  # (known to be an array: no field to read)
            receiver = method_receiver(p)
            if receiver is not None and receiver.id in analysis.varied:
                loc = stmt.loc
                raise NoDerivativeRuleError(
                    f"s2sad has no derivative rule for the method .{p.func.attr}() of a list, dict or object that "
                    f"carries a gradient, called at {loc.file}:{loc.line}:\n    {loc.text}\n"
                    "s2sad differentiates list.append/extend/pop, dict item writes, dict.items/values/keys/get "
                    "and NumPy's array methods; rewrite this with those (or copy into a new list), or register "
                    "a rule for a function that does it with `@s2sad.rrule`.")


def _kind(e: ir.Expr, analysis: Analysis) -> str | None:
    return analysis.kinds.get(e.id) if isinstance(e, ir.Name) else None


def no_rule_error(callee: object, loc: ir.Loc) -> NoDerivativeRuleError:
    """The error for a call of ``callee``, which has no rule, that a derivative must pass through."""
    refusal = getattr(callee, "__s2sad_refusal__", None)  # a helper that says why it has no rule
    if refusal is not None:
        user = (LINEMAPS.get(loc.file) or {}).get(loc.line, loc)  # the user's line the generated one came from
        return NoDerivativeRuleError(f"{refusal}, at {user.file}:{user.line}:\n    {user.text.strip()}")
    if callee is jvp_of:  # (code calling vjp_of or star_vjp is differentiated through the Python they stand for)
        return NoDerivativeRuleError(VJP_OF_HIGHER_ORDER + f" (at {loc.file}:{loc.line}: {loc.text.strip()})")
    if callee is runtime.captures_adjoint:
        return NoDerivativeRuleError(
            "derivatives of derivatives of code that calls s2sad.grad of a closure over a value that carries a "
            "derivative (so also a third derivative of code calling a lambda or nested def that captures one) "
            f"are not supported yet (at {loc.file}:{loc.line}: {loc.text.strip()}); pass the value as an argument "
            "of the function instead")
    if callee is None:
        what = "a callable that could not be resolved when differentiating"
    elif isinstance(callee, str):
        what = f"the method or attribute {callee}"
    else:
        what = rule_name(callee)
    return NoDerivativeRuleError(
        f"s2sad has no derivative rule for {what}, called at {loc.file}:{loc.line}:\n    {loc.text}\n"
        "and a gradient must flow through it. Register one with `@s2sad.rrule(fn)` (a function "
        "returning the value and a pullback; see the README), or, if no gradient should flow "
        "through it, mark it with `s2sad.nondifferentiable(fn)`."
    )
