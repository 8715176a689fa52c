# SYMBOLIC NAMESPACES. In this file `np`, `math`, `rt`, `rn`, `py`, `linalg`, `special` and the like are
# not the modules: they are `rules._Namespace`s, whose calls build IR on symbolic operands (`rules.Sym`)
# when a rule runs, at transform time. `np.cos(x)` here emits the text `np.cos(x)`; it computes nothing.
# The real modules are imported under other names (`numpy`, `_math`, `_sp`, ...).
"""More of ``scipy.special`` (gamma and Bessel families, the normal cdf and its inverse, ``betainc`` in
x) and ``scipy.signal``'s ``convolve`` and ``correlate``, registered when scipy is installed. Each adjoint is written with functions that have rules themselves (a
Bessel function's derivative is a sum of its neighbours in order), so every rule here
differentiates again. An order or shape argument (``v`` of ``jv``, ``n`` of ``polygamma``, ``a``
of ``gammainc``) is not differentiated: one that carries a gradient is refused at your line.
"""

from __future__ import annotations

import math as _math

import scipy.signal as _ss
import scipy.special as _sp

from . import rules_scipy_linalg, rules_stats, runtime_scipy  # noqa: F401  (registers scipy.linalg and scipy.stats)
from .rules import NONDIFFERENTIABLE, REQUIRED, NotConst, _Namespace, defrule, np, sym, ub

__all__: list[str] = []

special = _Namespace("special", _sp, scalar_out=False)
_SQRT_PI = _math.sqrt(_math.pi)
_SQRT_2PI = _math.sqrt(2.0 * _math.pi)

# ----- one argument: (g, ans, x) -> x_bar -----


def _rgamma_slope(x, ans):
    """d(1/Γ)/dx = -ψ(x)/Γ(x); left of 1/2 from the reflection 1/Γ(x) = sin(πx) Γ(1-x)/π, finite at the
    poles of Γ (0, -1, -2, ...), where 1/Γ is 0 and ψ infinite (exact there, to any order)."""
    left = x < 0.5
    r = np.where(left, x, 0.0)  # (each branch kept finite where the other is used)
    s = np.where(left, 1.0, x)
    reflected = special.gamma(1.0 - r) * (np.cos(_math.pi * r) - np.sin(_math.pi * r) * special.digamma(1.0 - r) / _math.pi)
    return np.where(left, reflected, -(ans * special.digamma(s)))


_UNARY = {
    "gamma": lambda g, ans, x: g * ans * special.digamma(x),
    "rgamma": lambda g, ans, x: g * _rgamma_slope(x, ans),
    "erfinv": lambda g, ans, x: g * (0.5 * _SQRT_PI) * np.exp(ans * ans),
    "erfcinv": lambda g, ans, x: -(g * (0.5 * _SQRT_PI) * np.exp(ans * ans)),
    "erfcx": lambda g, ans, x: g * (2.0 * x * ans - 2.0 / _SQRT_PI),
    "ndtr": lambda g, ans, x: g * np.exp(-0.5 * (x * x)) / _SQRT_2PI,
    "log_ndtr": lambda g, ans, x: g * np.exp(-0.5 * (x * x) - ans) / _SQRT_2PI,
    "log_expit": lambda g, ans, x: g * special.expit(-x),
    "ndtri": lambda g, ans, x: g * _SQRT_2PI * np.exp(0.5 * (ans * ans)),
    "i0": lambda g, ans, x: g * special.i1(x),
    "i1": lambda g, ans, x: g * 0.5 * (special.i0(x) + special.iv(2.0, x)),
    "i0e": lambda g, ans, x: g * (special.i1e(x) - np.sign(x) * ans),
    "i1e": lambda g, ans, x: g * (0.5 * (special.i0e(x) + special.ive(2.0, x)) - np.sign(x) * ans),
    "j0": lambda g, ans, x: -(g * special.j1(x)),
    "j1": lambda g, ans, x: g * 0.5 * (special.j0(x) - special.jv(2.0, x)),
    "y0": lambda g, ans, x: -(g * special.y1(x)),
    "y1": lambda g, ans, x: g * 0.5 * (special.y0(x) - special.yv(2.0, x)),
}
for _name, _d in _UNARY.items():
    if not hasattr(_sp, _name):  # (log_expit: scipy 1.8)
        continue
    defrule(getattr(_sp, _name), f"scipy.special.{_name}", (lambda d: lambda g, ans, x: (d(g, ans, x),))(_d),
            elementwise=True)

defrule(_math.gamma, "math.gamma", lambda g, ans, x: (g * ans * special.digamma(x),), elementwise=True)
defrule(_math.lgamma, "math.lgamma", lambda g, ans, x: (g * special.digamma(x),), elementwise=True)

# ----- an order (not differentiated), then x: (g, ans, v, x) -> x_bar -----

_ORDERED = {
    "jv": lambda g, ans, v, x: g * 0.5 * (special.jv(v - 1.0, x) - special.jv(v + 1.0, x)),
    "yv": lambda g, ans, v, x: g * 0.5 * (special.yv(v - 1.0, x) - special.yv(v + 1.0, x)),
    "yn": lambda g, ans, n, x: g * 0.5 * (special.yn(n - 1, x) - special.yn(n + 1, x)),
    "iv": lambda g, ans, v, x: g * 0.5 * (special.iv(v - 1.0, x) + special.iv(v + 1.0, x)),
    "ive": lambda g, ans, v, x: g * (0.5 * (special.ive(v - 1.0, x) + special.ive(v + 1.0, x)) - np.sign(x) * ans),
    "kv": lambda g, ans, v, x: -(g * 0.5 * (special.kv(v - 1.0, x) + special.kv(v + 1.0, x))),
    "kve": lambda g, ans, v, x: g * (ans - 0.5 * (special.kve(v - 1.0, x) + special.kve(v + 1.0, x))),
    "polygamma": lambda g, ans, n, x: g * special.polygamma(n + 1, x),
    # the regularised incomplete gamma functions, with respect to x: ± x^(a-1) e^(-x) / Γ(a)
    "gammainc": lambda g, ans, a, x: g * np.exp((a - 1.0) * np.log(x) - x - special.gammaln(a)),
    "gammaincc": lambda g, ans, a, x: -(g * np.exp((a - 1.0) * np.log(x) - x - special.gammaln(a))),
}
for _name, _dx in _ORDERED.items():
    defrule(getattr(_sp, _name), f"scipy.special.{_name}",
            (lambda d: lambda g, ans, v, x: (None, ub(d(g, ans, v, x), x, v)))(_dx), diff=(1,), elementwise=True)

# ----- the beta function and the multivariate log-gamma -----


def _beta_bars(g, a, b):
    both = special.digamma(a + b)
    return ub(g * (special.digamma(a) - both), a, b), ub(g * (special.digamma(b) - both), b, a)


defrule(_sp.beta, "scipy.special.beta", lambda g, ans, a, b: _beta_bars(g * ans, a, b), elementwise=True)
defrule(_sp.betaln, "scipy.special.betaln", lambda g, ans, a, b: _beta_bars(g, a, b), elementwise=True)


def _multigammaln(g, ans, a, d):
    """d/da log Γ_d(a) = Σ_{j<d} ψ(a - j/2), for a constant dimension ``d`` of at least 1 (SciPy gives a
    constant number for a smaller one: neither elementwise nor this derivative)."""
    n = d.const
    if type(n) is not int or n < 1:
        raise NotImplementedError("the dimension d must be a constant positive integer")
    total = special.digamma(a)
    for j in range(1, n):
        total = total + special.digamma(a - 0.5 * j)
    return g * total, None


defrule(_sp.multigammaln, "scipy.special.multigammaln", _multigammaln, diff=(0,), elementwise=True,
        params=(("a", REQUIRED), ("d", REQUIRED)))


# ----- the regularised incomplete beta function, in x: x^(a-1) (1-x)^(b-1) / B(a, b) -----

defrule(_sp.betainc, "scipy.special.betainc", lambda g, ans, a, b, x: (None, None, ub(g * np.exp(
    (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - special.betaln(a, b)), x, ans)), diff=(2,), elementwise=True)
NONDIFFERENTIABLE.add(_sp.gammasgn)

# ----- scipy.signal: convolve and correlate (N-d, any mode), bilinear -----

signal = _Namespace("scipy_signal", _ss, scalar_out=False)
rs = _Namespace("", runtime_scipy, scalar_out=False)


def _signal(kind: str):
    def reverse(g, ans, in1, in2, mode=None, method=None):
        m = sym("full") if mode is None else mode
        if m.const is NotConst:
            raise NotImplementedError("the mode must be a constant")
        return rs.signal_adjoint(g, in1, in2, m, kind, 0), rs.signal_adjoint(g, in1, in2, m, kind, 1), None, None
    return reverse


for _kind in ("convolve", "correlate"):
    defrule(getattr(_ss, _kind), f"scipy.signal.{_kind}", _signal(_kind), diff=(0, 1), linear="multi",
            params=(("in1", REQUIRED), ("in2", REQUIRED)))
# (signal_adjoint's own rules: rules_runtime)
