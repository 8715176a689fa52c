"""Complex intermediates: which values may hold complex numbers, and refusing them where no rule is exact.

s2sad differentiates real-valued functions of real arguments that compute with complex values in
between (``np.abs(np.fft.rfft(x)) ** 2``), with JAX's convention for a complex value's cotangent: for a
real result f, the cotangent of z is ``c`` with ``df = Re(sum(c * dz))`` (README, Conventions). In it a
holomorphic function's rule is the real one (``g * f'(z)``) and a complex-linear map's cotangent is its
transpose (no conjugate): the rules that hold as written, or were written for complex operands, declare
``complex_ok`` (``rules.Rule``).

``facts.complex_names`` finds, at transform time, the names that may be complex: those computed from a
complex constant, a complex global or a rule whose result is always complex (``fft``), through any rule but
those whose result never is (``real``, ``abs``, ``irfft``). ``check_complex`` refuses a use no rule is known to
differentiate exactly on a complex value; ``real_cotangent`` keeps the cotangent of a real operand of a
complex result real (its real part: the transpose of the embedding of the reals into the complex numbers).

Arguments, closure cells and what a function of the user's returns are taken to be real: a
differentiated argument is (``grad`` refuses a complex one); a complex value passed to or returned by a
function of the user's, or captured by a nested one, where a derivative is involved is refused at the
call, the return or the capture; and where a complex argument or captured variable the transform could
not see meets a value carrying a derivative, the real argument's cotangent (or a real output's tangent)
comes out complex, which ``api`` refuses when the derivative runs rather than cast it.
"""

from __future__ import annotations

import numpy as np

from . import ir
from .activity import Analysis
from .classify import CALL, CLOSURE, CONTAINER, COPY, LISTOP, SETITEM, TRANSFORM, UNPACK
from .errors import NoDerivativeRuleError
from .facts import any_complex, is_complex
from .rules import CONSTANT_ON_REALS, lookup, rule_name

__all__ = ["check_complex", "real_cotangent"]

# constructs whose cotangents are parts of another's, or place one in zeros: exact on complex values
_MOVING = (COPY, CONTAINER, UNPACK, LISTOP, SETITEM)


def check_complex(stmts: list[ir.Stmt], analysis: Analysis, returned: list[ir.Expr]) -> None:
    """Refuse, at the user's line, a value that may be complex where a derivative is involved and no rule
    is known exact on complex values: a rule without ``complex_ok``, a construct that does more than move
    values (a call of a function of the user's, ...), ``np.sign``, and a complex result that carries a
    gradient (only intermediates)."""
    for stmt in ir.walk(stmts):
        what = _inexact_use(stmt, analysis) if isinstance(stmt, ir.Assign) else None
        if what is not None:
            raise NoDerivativeRuleError(
                f"s2sad does not differentiate {what}, at {_where(stmt.loc)}\ns2sad "
                "differentiates complex intermediates through numpy.fft, real, imag, conj, angle, abs and "
                "arithmetic (see the README's Conventions); take the real part or magnitude first.")
    for e in returned:
        if isinstance(e, ir.Name) and e.id in analysis.complex and e.id in analysis.varied:
            raise NoDerivativeRuleError(
                "s2sad differentiates real-valued functions only: this returns a complex value that carries a "
                f"gradient{_at(e, stmts)}. Return its real part, imaginary part or magnitude (np.real, np.imag, "
                "np.abs), or pass complex values between your functions as pairs of real arrays.")


def _inexact_use(stmt: ir.Assign, analysis: Analysis) -> str | None:
    """What ``stmt`` applies to a complex value where a derivative is involved with no rule exact on
    complex values (None: nothing)."""
    p, cx = analysis.prims[stmt.sid], analysis.complex
    operands = [*p.args, *p.kwargs.values(), *p.starred]
    fn = stmt.value.func.value if isinstance(stmt.value, ir.Call) and isinstance(stmt.value.func, ir.Ref) else None
    if fn is not None and any(fn is f for f in CONSTANT_ON_REALS):  # (its result carries no derivative)
        varied = any(isinstance(e, ir.Name) and e.id in cx and e.id in analysis.varied for e in operands)
        return f"{rule_name(fn)} on a complex value" if varied else None
    if not any(t in analysis.active for t in stmt.targets) or not any_complex(operands, cx) or p.kind in _MOVING:
        return None
    if p.kind == CALL and p.rule is not None:
        return None if p.rule.complex_ok else f"{p.rule.name} on a complex value"
    if p.kind == CLOSURE:  # (its body, transformed on its own, takes what it captures to be real)
        return f"a nested function ({ir.expr_str(stmt.value).split(',')[0].lstrip('<')}) capturing a complex value"
    return f"{'a function of yours' if p.kind == TRANSFORM else ir.expr_str(stmt.value)} on a complex value"


def _where(loc: ir.Loc | None) -> str:
    return f"{loc.file}:{loc.line}:\n    {loc.text}" if loc is not None else "an unknown line"


def _at(e: ir.Name, stmts: list[ir.Stmt]) -> str:
    for stmt in ir.walk(stmts):
        if isinstance(stmt, ir.Assign) and e.id in stmt.targets and stmt.loc is not None:
            return f" (computed at {stmt.loc.file}:{stmt.loc.line}: {stmt.loc.text.strip()})"
    return ""


def real_cotangent(analysis: Analysis, operand: ir.Expr, result: str, contribution: ir.Expr) -> ir.Expr:
    """The cotangent ``contribution`` of ``operand`` from a complex ``result``: its real part where the
    operand is real (a real value's cotangent is real)."""
    if result in analysis.complex and not is_complex(operand, analysis.complex) and not _real_valued(contribution):
        return ir.Call(ir.Ref(("np", "real"), np.real, helper=True), [contribution])
    return contribution


def _real_valued(e: ir.Expr) -> bool:
    """``e`` calls a function whose result is never complex (``rfft_adjoint``, ``np.real``)."""
    rule = lookup(e.func.value) if isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) else None
    return rule is not None and rule.complex_result == "never"
