# SYMBOLIC NAMESPACES. In this file `np`, `math`, `rt`, `rn`, `py`, `linalg`, `special` and the like are
# not the modules: they are `rules._Namespace`s, whose calls build IR on symbolic operands (`rules.Sym`)
# when a rule runs, at transform time. `np.cos(x)` here emits the text `np.cos(x)`; it computes nothing.
# The real modules are imported under other names (`numpy`, `_math`, `_sp`, ...).
"""scipy.stats rules on the public API: the distributions' methods, keyed by the bound method.

``from scipy.stats import norm; norm.logpdf(x, m, s)`` and ``scipy.stats.norm.logpdf(x,
loc=m, scale=s)`` both call the bound method ``scipy.stats.norm.logpdf``; the rule's
``params`` move ``loc=``/``scale=`` (and shape keywords) to their positions, so they are
differentiated like positional arguments.

A location-scale family is described by its standardised log density's derivatives,
with ``z = (x - loc) / scale`` and ``w`` the incoming cotangent: ``dz(w, z, *shape)`` is
``w * dL/dz`` and ``dshape(w, z, *shape)`` the ``w * dL/dshape`` terms. The six methods
follow from them: ``logpdf``/``pdf`` with respect to the value, loc, scale and shape;
``cdf``, ``logcdf``, ``sf`` and ``logsf`` with respect to the value, loc and scale, whose
adjoints call the distribution's ``pdf``/``logpdf`` (so they differentiate again). A
shape parameter of a cdf-like method is not differentiated: one that carries a gradient
is refused at the user's line.
"""

from __future__ import annotations

import math as _math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as _np
import scipy.special as _sp
import scipy.stats as _st

from . import runtime_scipy
from .ir import UnaryOp
from .rules import REQUIRED, Sym, _Namespace, defrule, np, rt, sym

__all__: list[str] = []

special = _Namespace("special", _sp, scalar_out=False)
linalg = _Namespace("np.linalg", _np.linalg, scalar_out=False)


def _to(c: Sym, a: Sym) -> Sym:
    """``c`` summed back to ``a``'s shape where broadcasting may have made it larger."""
    if (a.scalar and c.scalar) or (a.shape is not None and a.shape == c.shape):
        return c
    return rt.unbroadcast(c, a.like)


def _given(s: Sym | None, default: float | None) -> Sym | None:
    """An argument the call set to something other than its default (None: left at it)."""
    return None if s is None or s.const == default else s


@dataclass(frozen=True)
class _Family:
    name: str
    shapes: tuple[str, ...]
    dz: Callable[..., Sym]
    dshape: Callable[..., tuple[Sym, ...]] = lambda w, z, *shape: ()

    @property
    def dist(self):
        return getattr(_st, self.name)

    @property
    def params(self) -> tuple[tuple[str, object], ...]:
        return (("x", REQUIRED), *((s, REQUIRED) for s in self.shapes), ("loc", 0.0), ("scale", 1.0))

    def split(self, args: tuple[Sym, ...]):
        """The value, the shape parameters, and loc and scale where they are not their defaults."""
        n = len(self.shapes)
        rest = [*args[1 + n:], None, None]
        return args[0], list(args[1:1 + n]), _given(rest[0], 0.0), _given(rest[1], 1.0)


def _over(a: Sym, b: Sym) -> Sym:
    """``a / b``, a leading minus kept outside (so a later negation cancels it)."""
    return -((-a) / b) if isinstance(a.expr, UnaryOp) and a.expr.op == "-" else a / b


def _standard(x: Sym, loc: Sym | None, scale: Sym | None) -> Sym:
    z = x if loc is None else x - loc
    return z if scale is None else z / scale


def _place(fam: _Family, args, x_bar, shape_bars, loc_bar, scale_bar) -> tuple:
    x, shape, loc, scale = fam.split(args)
    out = [_to(x_bar, x), *(None if b is None else _to(b, s) for s, b in zip(shape, shape_bars)),
           None if loc is None else _to(loc_bar, loc), None if scale is None else _to(scale_bar, scale)]
    return tuple(out[:len(args)])


def _positional(params: tuple, args: tuple, kwargs: dict) -> tuple:
    """The operands in parameter order: keywords the binding left in place (those not
    differentiated) put at their positions, skipped ones at their defaults."""
    if not kwargs:
        return args
    names = [name for name, _ in params]
    unknown = set(kwargs) - set(names[len(args):])
    if unknown:
        raise NotImplementedError(f"argument {min(unknown)}= is not supported")
    gaps = params[len(args):max(names.index(k) for k in kwargs) + 1]
    if any(n not in kwargs and d is REQUIRED for n, d in gaps):
        raise NotImplementedError("a required argument is missing")
    return (*args, *(kwargs[n] if n in kwargs else sym(d) for n, d in gaps))


def _density(fam: _Family, log: bool) -> Callable:
    """``logpdf`` (``log``) or ``pdf``: every argument differentiated."""
    def rev(g, ans, *args):
        x, shape, loc, scale = fam.split(args)
        z = _standard(x, loc, scale)
        w = g if log else g * ans
        x_bar = fam.dz(w, z, *shape)
        x_bar = x_bar if scale is None else _over(x_bar, scale)
        scale_bar = None if scale is None else (-x_bar) * z - w / scale
        return _place(fam, args, x_bar, fam.dshape(w, z, *shape), -x_bar, scale_bar)
    return rev


def _cumulative(fam: _Family, log: bool, upper: bool) -> Callable:
    """``cdf``/``sf`` (``upper``) and their logs: the value, loc and scale differentiated."""
    ns = _Namespace(fam.name, fam.dist, scalar_out=False)

    def rev(g, ans, *args, **kwargs):
        given, args = len(args), _positional(fam.params, args, kwargs)
        x, shape, loc, scale = fam.split(args)
        k = g * (np.exp(ns.logpdf(*args) - ans) if log else ns.pdf(*args))
        k = -k if upper else k
        scale_bar = None if scale is None else _over((-k) * _standard(x, loc, None), scale)
        return _place(fam, args, k, [None] * len(shape), -k, scale_bar)[:given]
    return rev


def _digamma(a: Sym) -> Sym:
    return special.digamma(a)


def _t_df(w, z, df):
    zz = z * z
    return (w * (0.5 * (_digamma(0.5 * (df + 1.0)) - _digamma(0.5 * df)) - 0.5 / df - 0.5 * np.log1p(zz / df)
                 + 0.5 * (df + 1.0) * zz / (df * (df + zz))),)


def _beta_shapes(w, z, a, b):
    both = _digamma(a + b)
    return w * (np.log(z) - _digamma(a) + both), w * (np.log1p(-z) - _digamma(b) + both)


FAMILIES = [
    _Family("norm", (), lambda w, z: -(w * z)),
    _Family("t", ("df",), lambda w, z, df: -(w * (df + 1.0) * z / (df + z * z)), _t_df),
    _Family("gamma", ("a",), lambda w, z, a: w * ((a - 1.0) / z - 1.0),
            lambda w, z, a: (w * (np.log(z) - _digamma(a)),)),
    _Family("beta", ("a", "b"), lambda w, z, a, b: w * ((a - 1.0) / z - (b - 1.0) / (1.0 - z)), _beta_shapes),
    _Family("chi2", ("df",), lambda w, z, df: w * ((0.5 * df - 1.0) / z - 0.5),
            lambda w, z, df: (w * (0.5 * np.log(0.5 * z) - 0.5 * _digamma(0.5 * df)),)),
    _Family("expon", (), lambda w, z: -w),
    _Family("laplace", (), lambda w, z: -(w * np.sign(z))),
    _Family("cauchy", (), lambda w, z: -(2.0 * w * z / (1.0 + z * z))),
    _Family("logistic", (), lambda w, z: -(w * np.tanh(0.5 * z))),
]

for _fam in FAMILIES:
    _n = len(_fam.shapes)
    _values = (0, 1 + _n, 2 + _n)  # x, loc, scale: what the cdf-like methods differentiate
    for _method, _rev, _diff in [
        ("logpdf", _density(_fam, True), None), ("pdf", _density(_fam, False), None),
        ("cdf", _cumulative(_fam, False, False), _values), ("logcdf", _cumulative(_fam, True, False), _values),
        ("sf", _cumulative(_fam, False, True), _values), ("logsf", _cumulative(_fam, True, True), _values),
    ]:
        defrule(getattr(_fam.dist, _method), f"scipy.stats.{_fam.name}.{_method}", _rev, diff=_diff,
                elementwise=True, params=_fam.params)

# ----- poisson: the rate differentiated (the count is discrete) -----

_poisson = _Namespace("poisson", _st.poisson, scalar_out=False)


def _count(k: Sym, loc: Sym | None) -> Sym:
    loc = _given(loc, 0.0)
    return k if loc is None else k - loc


def _poisson_mass(log: bool) -> Callable:
    def rev(g, ans, k, mu, loc=None):
        w = g if log else g * ans
        return None, _to(w * (_count(k, loc) / mu - 1.0), mu), None
    return rev


def _poisson_cumulative(log: bool, upper: bool) -> Callable:
    """d/dmu P(K <= n) = -pmf(n, mu), n = floor(k - loc)."""
    def rev(g, ans, k, mu, loc=None):
        n = np.floor(_count(k, loc))
        k_bar = g * (np.exp(_poisson.logpmf(n, mu) - ans) if log else _poisson.pmf(n, mu))
        return None, _to(k_bar if upper else -k_bar, mu), None
    return rev


for _method, _rev in [("logpmf", _poisson_mass(True)), ("pmf", _poisson_mass(False)),
                      ("cdf", _poisson_cumulative(False, False)), ("logcdf", _poisson_cumulative(True, False)),
                      ("sf", _poisson_cumulative(False, True)), ("logsf", _poisson_cumulative(True, True))]:
    defrule(getattr(_st.poisson, _method), f"scipy.stats.poisson.{_method}", _rev, diff=(1,), elementwise=True,
            params=(("k", REQUIRED), ("mu", REQUIRED), ("loc", 0.0)))

# ----- multivariate_normal: logpdf and pdf with respect to x, mean and cov -----

_HALF_LOG_2PI = 0.5 * _math.log(2.0 * _math.pi)


def _mvn_parts(x: Sym, mean: Sym | None, cov: Sym | None):
    """The residual solved against the covariance, one row per point (``C⁻¹ (x - mean)``)."""
    if cov is not None and cov.scalar:
        raise NotImplementedError("a scalar cov: pass a covariance matrix")
    r = x if mean is None else x - mean
    return r if cov is None else np.transpose(linalg.solve(cov, np.transpose(r)))


def _mvn_reverse(log: bool) -> Callable:
    def rev(g, ans, x, mean=None, cov=None, *rest, **kwargs):
        mean, cov = _given(mean, None), _given(cov, 1)
        w = g if log else g * ans
        sol = _mvn_parts(x, mean, cov)
        x_bar = -(np.expand_dims(w, -1) * sol)
        cov_bar = None
        if cov is not None:
            d = np.shape(cov)[-1]
            weighted = np.reshape(np.expand_dims(w, -1) * sol, (-1, d))
            cov_bar = 0.5 * (weighted.T @ np.reshape(sol, (-1, d))) - (0.5 * np.sum(w)) * linalg.inv(cov)
        return (x_bar, None if mean is None else rt.unbroadcast(-x_bar, mean), cov_bar, *[None] * len(rest))
    return rev


def _mvn_forward(log: bool) -> Callable:
    def fwd(ans, dots, x, mean=None, cov=None, *rest, **kwargs):
        mean, cov = _given(mean, None), _given(cov, 1)
        sol = _mvn_parts(x, mean, cov)
        x_dot, mean_dot, cov_dot = (list(dots) + [None, None])[:3]
        shift = None if x_dot is None else -x_dot
        if mean_dot is not None:
            shift = mean_dot if shift is None else shift + mean_dot
        out = None if shift is None else np.sum(sol * shift, axis=-1)
        if cov_dot is not None and cov is not None:
            quad = 0.5 * np.sum((sol @ cov_dot) * sol, axis=-1) - 0.5 * np.trace(linalg.solve(cov, cov_dot))
            out = quad if out is None else out + quad
        return out if log else ans * out
    return fwd


for _method, _log in [("logpdf", True), ("pdf", False)]:
    defrule(getattr(_st.multivariate_normal, _method), f"scipy.stats.multivariate_normal.{_method}",
            _mvn_reverse(_log), diff=(0, 1, 2), forward=_mvn_forward(_log),
            params=(("x", REQUIRED), ("mean", None), ("cov", 1)))

def _mvn_entropy_cov(cov):
    if cov is None or cov.scalar:
        raise NotImplementedError("multivariate_normal.entropy with a scalar cov: pass a covariance matrix")
    return cov


# entropy = ½ log det(2πe cov): ½ cov⁻ᵀ; the mean changes nothing
defrule(_st.multivariate_normal.entropy, "scipy.stats.multivariate_normal.entropy", lambda g, ans, mean=None, cov=None: (
    None, 0.5 * g * np.swapaxes(linalg.inv(_mvn_entropy_cov(cov)), -1, -2)), diff=(1,), zero=(0,),
        forward=lambda ans, dots, mean=None, cov=None: 0.5 * np.trace(linalg.solve(_mvn_entropy_cov(cov), dots[1])),
        params=(("mean", None), ("cov", 1)))

# ----- dirichlet: logpdf and pdf with respect to x (all k components) and alpha -----


rs = _Namespace("", runtime_scipy, scalar_out=False)


def _dirichlet_reverse(log: bool) -> Callable:
    def rev(g, ans, x, alpha):
        w = g if log else g * ans
        a = rs.components(alpha, x)  # alpha along x's first axis
        x_bar = w * (a - 1.0) / x
        per_point = np.reshape(w * np.log(x), (np.size(alpha), -1))
        alpha_bar = np.sum(per_point, axis=1) + np.sum(w) * (_digamma(np.sum(alpha)) - _digamma(alpha))
        return x_bar, alpha_bar
    return rev


def _dirichlet_forward(log: bool) -> Callable:
    def fwd(ans, dots, x, alpha):
        out = None
        if dots[0] is not None:
            out = np.sum((rs.components(alpha, x) - 1.0) * dots[0] / x, axis=0)
        if dots[1] is not None:
            da = dots[1] * (_digamma(np.sum(alpha)) - _digamma(alpha))
            part = np.sum(rs.components(dots[1], x) * np.log(x), axis=0) + np.sum(da)
            out = part if out is None else out + part
        return out if log else ans * out
    return fwd


for _method, _log in [("logpdf", True), ("pdf", False)]:
    defrule(getattr(_st.dirichlet, _method), f"scipy.stats.dirichlet.{_method}", _dirichlet_reverse(_log),
            forward=_dirichlet_forward(_log), params=(("x", REQUIRED), ("alpha", REQUIRED)))

defrule(runtime_scipy.components, "components", lambda h, ans, alpha, x: (np.reshape(h, np.shape(alpha)), None),
        diff=(0,), linear="joint", zero=(1,))
