# SYMBOLIC NAMESPACES. In this file `np`, `math`, `rt`, `rn`, `py`, `linalg`, `special` and the like are
# not the modules: they are `rules._Namespace`s, whose calls build IR on symbolic operands (`rules.Sym`)
# when a rule runs, at transform time. `np.cos(x)` here emits the text `np.cos(x)`; it computes nothing.
# The real modules are imported under other names (`numpy`, `_math`, `_sp`, ...).
"""``scipy.integrate.odeint``, registered when scipy is installed: differentiated with respect to
``y0``, ``t`` and the entries of ``args`` (reverse mode by the adjoint method, forward mode by the
forward sensitivity equations; ``runtime_integrate`` integrates them).

``func`` itself is not differentiated: a value that carries a gradient reaches it through
``args``, never as something it captured (a ``func`` that captures one is refused at your
line). A derivative of the reverse-mode helper transforms its twin written in differentiable
code (``runtime_integrate.odeint_vjp_source``), so second derivatives are given.
"""

from __future__ import annotations

import scipy.integrate as _integrate

from . import runtime_integrate
from .rules import NONDIFFERENTIABLE, REQUIRED, NotConst, Sym, _Namespace, defrule

__all__: list[str] = []

ri = _Namespace("", runtime_integrate, scalar_out=False)  # the derivatives' helpers, emitted by their bare names

# odeint's parameters after ``args``, for those passed by position
_LATER = ("Dfun", "col_deriv", "full_output", "ml", "mu", "rtol", "atol", "tcrit", "h0", "hmax", "hmin", "ixpr",
          "mxstep", "mxhnil", "mxordn", "mxords", "printmessg", "tfirst")


def _options(rest: tuple[Sym, ...], kwargs: dict[str, Sym]) -> dict[str, Sym]:
    """The call's options as keywords (those passed by position named), ``full_output`` refused: with it,
    odeint returns a tuple whose dictionary of diagnostics s2sad does not differentiate."""
    options = {**dict(zip(_LATER, rest)), **kwargs}
    full = options.pop("full_output", None)
    if full is not None and (full.const is NotConst or full.const):
        raise NotImplementedError("odeint with full_output is not differentiated; call it without full_output")
    return options


def _reverse(g, ans, func, y0, t, args=(), *rest, **kwargs):
    bars = ri.odeint_vjp(g, ans, func, y0, t, args, **_options(rest, kwargs))
    return None, bars[0], bars[1], bars[2], *(None,) * len(rest)


def _forward(ans, dots, func, y0, t, args=(), *rest, **kwargs):
    y0_dot, t_dot, args_dot = (*dots, None, None, None)[1:4]  # (args not passed: no tangent)
    return ri.odeint_jvp(ans, func, y0, t, args, y0_dot, t_dot, args_dot, **_options(rest, kwargs))


_HELD = ("odeint differentiates y0, t and the entries of args=; a value that carries a gradient that func reads "
         "must reach it through args (odeint calls func(y, t, *args)), not as a value func captured or as another "
         "argument. Write `def func(y, t, theta): ...` and call odeint(func, y0, t, args=(theta,)).")
defrule(_integrate.odeint, "scipy.integrate.odeint", _reverse, diff=(1, 2, 3), forward=_forward,
        params=(("func", REQUIRED), ("y0", REQUIRED), ("t", REQUIRED), ("args", ())), held=_HELD)
# the second derivatives' source reads these for functions and sizes, never for values with a gradient
NONDIFFERENTIABLE.update([runtime_integrate.augmented, runtime_integrate.scalar_tolerance])
