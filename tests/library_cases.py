"""Cases for the library rules (scipy.stats, more of scipy.special, math, linear algebra, ...).

``CASES[name]`` lists ``(f, args[, options])`` for the rule called ``name``, as
``test_rules.explicit`` does; every ``f`` returns a scalar, so its gradient can be
checked again (``test_library_rules``: reverse over reverse and forward over reverse).
"""

from __future__ import annotations

import functools
import math

import numpy as np

try:
    import scipy.signal as ss
    import scipy.special as sp
    import scipy.stats as st
except ImportError:  # scipy is optional
    ss = sp = st = None

rng = np.random.default_rng(1)


@functools.cache
def C(shape, low=-1.5, high=1.5):
    """A constant array: the same one every call (finite differences evaluate a case many times)."""
    x = rng.uniform(low, high, shape)
    return x if shape != () else float(x)


# ----- scipy.stats -----

# name: (shape parameters, where z = (x - loc) / scale lies)
FAMILIES = {
    "norm": ((), (-1.5, 1.5)), "t": ((3.5,), (-1.5, 1.5)), "gamma": ((2.5,), (0.4, 2.5)),
    "beta": ((2.5, 1.7), (0.2, 0.8)), "chi2": ((3.3,), (0.4, 2.5)), "expon": ((), (0.3, 2.5)),
    "laplace": ((), (0.2, 1.5)), "cauchy": ((), (-1.5, 1.5)), "logistic": ((), (-1.5, 1.5)),
}
LOC, SCALE = 0.3, 1.4


def _family_cases(name: str, method: str) -> list:
    shapes, (low, high) = FAMILIES[name]
    fn = getattr(getattr(st, name), method)
    z = C((4,), low, high)
    x = LOC + SCALE * z
    n = len(shapes)
    if name == "laplace":  # both sides of the kink
        z = z * np.array([1.0, -1.0, 1.0, -1.0])
        x = LOC + SCALE * z
    s = shapes
    if n == 0:
        out = [(lambda x: np.sum(fn(x) ** 2), (z,)),  # loc and scale left at their defaults
               (lambda x, loc, scale: np.sum(fn(x, loc=loc, scale=scale)), (x, LOC, SCALE)),
               (lambda loc, scale: np.sum(fn(x * 1.0, loc, scale) * x), (np.full(4, LOC), SCALE))]
    elif n == 1:
        out = [(lambda x: np.sum(fn(x, s[0]) ** 2), (z,)),
               (lambda x, loc, scale: np.sum(fn(x, s[0], loc=loc, scale=scale)), (x, LOC, SCALE)),
               (lambda loc, scale: np.sum(fn(x * 1.0, s[0], loc, scale) * x), (np.full(4, LOC), SCALE))]
    else:
        out = [(lambda x: np.sum(fn(x, s[0], s[1]) ** 2), (z,)),
               (lambda x, loc, scale: np.sum(fn(x, s[0], s[1], loc=loc, scale=scale)), (x, LOC, SCALE)),
               (lambda loc, scale: np.sum(fn(x * 1.0, s[0], s[1], loc, scale) * x), (np.full(4, LOC), SCALE))]
    if method in ("logpdf", "pdf") and n == 1:  # the shape parameter too, positional and by keyword
        out.append((lambda x, a: np.sum(fn(x, a, LOC, SCALE)), (x, s[0])))
        by_name = (lambda d: np.sum(fn(x, df=d, scale=SCALE))) if st_shapes(name) == "df" else (
            lambda d: np.sum(fn(x, a=d, scale=SCALE)))
        out.append((by_name, (s[0],)))
    if method in ("logpdf", "pdf") and n == 2:
        out.append((lambda x, a, b: np.sum(fn(x, a, b, LOC, SCALE)), (x, *s)))
        out.append((lambda a, b: np.sum(fn(x, b=b, a=a, scale=SCALE)), s))
    return out


def st_shapes(name: str) -> str:
    return getattr(st, name).shapes


def _poisson_cases(method: str) -> list:
    fn = getattr(st.poisson, method)
    k = np.array([0.0, 1.0, 3.0, 5.0])
    return [(lambda mu: np.sum(fn(k, mu)), (2.3,)),
            (lambda mu: np.sum(fn(k + 1.0, mu=mu, loc=1.0) ** 2), (C((4,), 1.5, 3.0),))]


def _mvn(method: str) -> list:
    fn = getattr(st.multivariate_normal, method)
    a = C((3, 3))
    cov = a @ a.T + 2.0 * np.eye(3)
    xs, m = C((5, 3)), C((3,))

    def spd(b):
        return b @ b.T + 2.0 * np.eye(3)

    return [(lambda x, mean, b: np.sum(fn(x, mean, spd(b))), (xs, m, a)),
            (lambda x, b: fn(x, mean=m, cov=spd(b)), (xs[0], a)),
            (lambda x: fn(x, cov=cov), (xs[1],)),
            (lambda mean: np.sum(fn(xs, mean=mean, cov=cov, allow_singular=False) ** 2), (m,))]


def _dirichlet(method: str) -> list:
    fn = getattr(st.dirichlet, method)
    alpha = np.array([1.5, 2.0, 3.2])

    def on_simplex(y):
        return y / np.sum(y, axis=0)

    return [(lambda y: fn(on_simplex(y), alpha), (C((3,), 0.5, 2.0),)),
            (lambda y, a: np.sum(fn(on_simplex(y), a)), (C((3, 4), 0.5, 2.0), alpha)),
            (lambda a: fn(on_simplex(C((3,), 0.5, 2.0)), alpha=a), (alpha,))]


# ----- scipy.special -----

SPECIAL_DOMAIN = {"gamma": (0.5, 3.0), "rgamma": (0.5, 3.0), "erfinv": (-0.8, 0.8), "erfcinv": (0.2, 1.8),
                  "ndtri": (0.1, 0.9), "y0": (0.5, 3.0), "y1": (0.5, 3.0), "log_ndtr": (-3.0, 2.0),
                  "i0e": (0.2, 2.0), "i1e": (0.2, 2.0)}


def _unary(fn, low: float, high: float) -> list:
    return [(lambda x: np.sum(fn(x) ** 2), (C((4,), low, high),)), (lambda x: fn(x) * 2.0, (C((), low, high),))]


def _ordered(fn, order) -> list:
    return [(lambda x: np.sum(fn(order, x) ** 2), (C((4,), 0.5, 2.5),)), (lambda x: fn(order, x) * 3.0, (1.3,))]


def _special() -> dict[str, list]:
    out = {}
    for name in ("gamma", "rgamma", "erfinv", "erfcinv", "erfcx", "ndtr", "log_ndtr", "log_expit", "ndtri", "i0", "i1",
                 "i0e", "i1e", "j0", "j1", "y0", "y1"):
        out[f"scipy.special.{name}"] = _unary(getattr(sp, name), *SPECIAL_DOMAIN.get(name, (-1.5, 1.5)))
    x = C((4,), 0.5, 2.5)
    for name, order in [("jv", 1.5), ("yv", 0.5), ("yn", 2), ("iv", 2.5), ("ive", 1.0), ("kv", 0.7), ("kve", 1.3),
                        ("polygamma", 1), ("gammainc", 1.7), ("gammaincc", 2.2)]:
        out[f"scipy.special.{name}"] = _ordered(getattr(sp, name), order)
    out["scipy.special.polygamma"].append((lambda x: np.sum(sp.polygamma(np.array([0, 1, 2, 3]), x)), (x,)))
    out["scipy.special.beta"] = [(lambda a, b: np.sum(sp.beta(a, b) ** 2), (x, C((), 0.5, 2.0))),
                                 (lambda a, b: sp.beta(a, b), (1.2, 0.7))]
    out["scipy.special.betaln"] = [(lambda a, b: np.sum(sp.betaln(a, b) ** 2), (x, C((2, 1), 0.5, 2.0)))]
    out["scipy.special.multigammaln"] = [(lambda a: sp.multigammaln(a, 3) ** 2, (2.7,)),
                                         (lambda a: np.sum(sp.multigammaln(a, d=2)), (x + 1.0,))]
    out["scipy.special.betainc"] = [(lambda t: np.sum(sp.betainc(2.5, C((4,), 0.5, 2.0), t) ** 2), (C((4,), 0.1, 0.9),)),
                                    (lambda t: sp.betainc(0.7, 1.5, t), (0.3,))]
    a34 = C((3, 4))
    b34 = C((3, 4), 0.5, 2.0)
    out["scipy.signal.convolve"] = [(lambda a, k: np.sum(ss.convolve(a, k) ** 2), (a34, C((2, 3)))),
                                    (lambda a, k: np.sum(ss.convolve(a, k, mode="same") ** 3), (C((6,)), C((3,)))),
                                    (lambda a, k: np.sum(ss.convolve(a, k, "valid") * C((2, 2))), (a34, C((2, 3))))]
    out["scipy.signal.correlate"] = [(lambda a, k: np.sum(ss.correlate(a, k) ** 2), (a34, C((2, 3)))),
                                     (lambda a, k: np.sum(ss.correlate(a, k, mode="valid") ** 3), (C((6,)), C((3,)))),
                                     (lambda a, k: np.sum(ss.correlate(in2=k, in1=a, mode="same") ** 2), (a34, C((3, 2))))]
    from s2sad import runtime_scipy as rs

    out["signal_adjoint"] = [(lambda g, k: np.sum(np.sin(rs.signal_adjoint(g, a34, k, "full", "convolve", 0))),
                              (C((4, 6)), C((2, 3)))),
                             (lambda g, a: np.sum(np.sin(rs.signal_adjoint(g, a, C((2, 3)), "same", "correlate", 1))),
                              (a34, a34))]
    out["scipy.stats.multivariate_normal.entropy"] = [
        (lambda x: st.multivariate_normal.entropy(cov=x @ x.T + np.eye(3)) ** 2, (C((3, 3)),)),
        (lambda m, x: st.multivariate_normal.entropy(m, x @ x.T + np.eye(2)) * 3.0, (C((2,)), C((2, 2))))]
    out["scipy.special.logsumexp"] = [
        (lambda a: np.sum(sp.logsumexp(a, axis=1) ** 2), (a34,)),
        (lambda a: sp.logsumexp(a), (a34,)),
        (lambda a: np.sum(sp.logsumexp(a, axis=(0, 1), keepdims=True) ** 2), (a34,)),
        (lambda a, b: sp.logsumexp(a, b=b), (a34, b34)),
        (lambda a, b: np.sum(sp.logsumexp(a, axis=1, b=b) ** 2), (a34, b34[0])),
        (lambda a, b: np.sum(sp.logsumexp(a, axis=0, b=b, keepdims=True) ** 2), (a34, b34)),
        (lambda a: np.sum(sp.logsumexp(a, axis=1, return_sign=True)[0] ** 2), (a34,)),
        (lambda a, b: np.sum(sp.logsumexp(a, 1, b * np.array([1.0, -0.1, 1.0, 1.0]), return_sign=True)[0] ** 2),
         (a34, b34)),
    ]
    return out


# ----- math -----


def _math() -> dict[str, list]:
    from s2sad import runtime_numpy as rn

    return {
        "math.erf": [(lambda x: math.erf(x) * 2.0, (0.4,))], "math.erfc": [(lambda x: math.erfc(x) ** 2, (-0.7,))],
        "math.gamma": [(lambda x: math.gamma(x), (1.7,))], "math.lgamma": [(lambda x: math.lgamma(x) ** 2, (0.6,))],
        "math.hypot": [(lambda x, y: math.hypot(x, y), (0.3, -1.2)),
                       (lambda x, y, z: math.hypot(x, y, z) * x, (0.3, -1.2, 2.0))],
        "math.atan2": [(lambda y, x: math.atan2(y, x), (0.3, -1.2)), (lambda y, x: math.atan2(y, x) ** 2, (-0.5, 0.8))],
        "math.copysign": [(lambda x, y: math.copysign(x * x, y) * x, (0.3, -1.2)),
                          (lambda x: math.copysign(x, -2.0) ** 3, (0.7,))],
        "numpy.copysign": [(lambda x, y: np.sum(np.copysign(x, y) ** 3), (C((3,)), C((2, 3))))],
        "math.degrees": [(lambda x: math.degrees(x) ** 2, (0.3,))],
        "math.radians": [(lambda x: math.radians(x) ** 2, (20.0,))],
        "math.fsum": [(lambda x, y: math.fsum([x, y * y, x * y]) ** 2, (0.3, 1.2)),
                      (lambda x: math.fsum(x) ** 2, (C((4,)),))],
        "math.dist": [(lambda p, q: math.dist(p, q) ** 2 + math.dist(p, (0.0, 1.0)), ((0.3, 1.2), (-0.5, 0.4))),
                      (lambda p, q: math.dist(p, q) * p[0], (C((3,)), C((3,), 2.0, 3.0)))],
        "builtin_sum_adjoint": [(lambda g: np.sum(rn.builtin_sum_adjoint(g, C((3, 2)) ** 2)), (C((2,)),)),
                                (lambda g: sum(rn.builtin_sum_adjoint(g, [1.0, 2.0, 3.0])) ** 2, (0.7,))],
        "sum_items": [(lambda a, b: rn.sum_items([a, b * a], 1.0) ** 2, (0.3, 1.2)),
                      (lambda h: np.sum(rn.sum_items(h, C((2,))) ** 2), (C((3, 2)),))],
        "cast_like": [(lambda g: np.sum(rn.cast_like(g, C((2,))) ** 2), (C((2,)),))],
        "array_adjoint": [(lambda g: np.sum(rn.array_adjoint(g, [1.0, C((2,))])[1] ** 2), (C((2, 2)),))],
    }


# ----- numpy.linalg -----


def _linalg() -> dict[str, list]:
    la = np.linalg
    a33, sym = C((3, 3)), C((3, 3)) + C((3, 3)).T + np.diag([0.0, 2.0, 4.0])
    nonsym = np.triu(a33) + np.diag([0.0, 2.0, 4.0]) + 0.2 * np.tril(a33, -1)  # real, distinct eigenvalues
    return {
        "numpy.linalg.matrix_power": [(lambda a: np.sum(la.matrix_power(a, 3) * a33), (a33,)),
                                      (lambda a: np.sum(la.matrix_power(a, 1) ** 2) + np.sum(la.matrix_power(a, 0)),
                                       (a33,)),
                                      (lambda a: np.sum(la.matrix_power(a, 2) ** 2), (C((2, 3, 3)),))],
        "numpy.linalg.eigvalsh": [(lambda s: np.sum(la.eigvalsh(s + s.T) * np.arange(3.0)), (sym,)),
                                  (lambda s: np.sum(la.eigvalsh(s + s.T) ** 3), (sym,))],
        "numpy.linalg.svd": [(lambda a: np.sum(la.svd(a, compute_uv=False) ** 3), (C((3, 4)),)),
                             (lambda a: _svd_loss(la.svd(a, full_matrices=False)), (C((4, 3)),)),
                             (lambda a: _svd_loss(la.svd(a, full_matrices=False)), (C((3, 4)),)),
                             (lambda a: _svd_loss(la.svd(a)), (a33,)),
                             (lambda a: np.sum(la.svd(a, compute_uv=False) * np.arange(1.0, 3.0)), (C((2, 3, 2)),))],
        "numpy.linalg.pinv": [(lambda a: np.sum(la.pinv(a) * C((4, 3))), (C((3, 4)),)),
                              (lambda a: np.sum(la.pinv(a) ** 2), (C((4, 2)),))],
        "numpy.linalg.eig": [(lambda a: _eig_loss(la.eig(a)), (nonsym,))],
        "numpy.linalg.eigvals": [(lambda a: np.sum(la.eigvals(a) * np.arange(3.0)), (nonsym,)),
                                 (lambda a: np.sum(la.eigvals(a) ** 3), (nonsym,))],
        "numpy.linalg.qr": [(lambda a: _qr_loss(la.qr(a)), (C((4, 3)),)), (lambda a: _qr_loss(la.qr(a)), (a33,))],
        "numpy.linalg.lstsq": [(lambda a, b: np.sum(la.lstsq(a, b)[0] ** 2), (C((5, 3)), C((5,)))),
                               (lambda a, b: np.sum(la.lstsq(a, b, rcond=None)[0] * C((3, 2))), (C((4, 3)), C((4, 2))))],
    }


def _svd_loss(usv):
    u, s, vh = usv
    return np.sum(s * np.arange(1.0, s.size + 1.0)) + np.sum(u[:, 0] ** 3) + np.sum(vh[0] * vh[-1] ** 2)


def _eig_loss(wv):
    w, v = wv
    return np.sum(w * np.arange(3.0)) + np.sum(v[:, 0] ** 4) + np.sum(v[1] * v[2])


def _qr_loss(qr):
    q, r = qr
    return np.sum(q[:, 0] ** 3) + np.sum(r * r[0])


HOLES = np.array([[False, True, False, False], [True, False, False, False], [False, False, True, False]])


def _holes(x):
    return np.where(HOLES, np.nan, x)


def _numpy_more() -> dict[str, list]:
    from s2sad import runtime_numpy as rn

    a34, b4 = C((3, 4)), C((4,))
    nans = C((3, 4))  # NaN put in where HOLES is True (its derivative there is 0)
    xs = np.cumsum(C((4,), 0.2, 1.0))
    return {
        "numpy.sinc": [(lambda x: np.sum(np.sinc(x) ** 2), (np.array([0.0, 1e-4, -0.3, 0.7, 1.5]),)),
                       (lambda x: np.sinc(x) * x, (0.0,))],
        "numpy.rollaxis": [(lambda x: np.sum(np.rollaxis(x, 2) * C((4, 2, 3))), (C((2, 3, 4)),)),
                           (lambda x: np.sum(np.rollaxis(x, 0, 3) ** 3 * C((3, 4, 2))), (C((2, 3, 4)),)),
                           (lambda x: np.sum(np.rollaxis(x, -1, -2) ** 2 * C((2, 4, 3))), (C((2, 3, 4)),))],
        "numpy.fft.fftshift": [(lambda x: np.sum(np.fft.fftshift(x) * C((3, 4))), (a34,)),
                               (lambda x: np.sum(np.fft.fftshift(x, axes=1) ** 3 * C((3, 4))), (a34,))],
        "numpy.fft.ifftshift": [(lambda x: np.sum(np.fft.ifftshift(x) ** 3 * C((5,))), (C((5,)),))],
        "numpy.real_if_close": [(lambda x: np.sum(np.real_if_close(x) ** 3), (a34,))],
        "numpy.partition": [(lambda x: np.sum(np.partition(x, 1) * C((3, 4))), (a34,)),
                            (lambda x: np.sum(np.partition(x, (0, 2), axis=0) ** 3 * C((3, 4))), (a34,)),
                            (lambda x: np.sum(np.partition(x, 5, axis=None) ** 2 * np.arange(12.0)), (a34,))],
        "numpy.gradient": [(lambda x: np.sum(np.gradient(x) ** 2 * C((5,))), (C((5,)),)),
                           (lambda x: np.sum(np.gradient(x, 0.5, axis=1, edge_order=2) ** 3), (C((3, 5)),)),
                           (lambda x: np.sum(np.gradient(x, 2.0, 0.5)[0] * np.gradient(x)[1]), (C((4, 3)),))],
        **({"numpy.astype": [(lambda x: np.sum(np.astype(x, np.float64) ** 3), (a34,))]} if hasattr(np, "astype") else {}),
        "rollaxis_adjoint": [(lambda g: np.sum(np.sin(rn.rollaxis_adjoint(g, C((2, 3, 4)), 2, 0)) * C((2, 3, 4))),
                              (C((4, 2, 3)),))],
        "gradient_adjoint": [(lambda g: np.sum(np.sin(rn.gradient_adjoint(g, C((5,)), (), None, 1))), (C((5,)),)),
                             (lambda g, h: np.sum(np.sin(rn.gradient_adjoint((g, h), C((4, 3)), (0.5,), None, 2))),
                              (C((4, 3)), C((4, 3))))],
        "gradient_of": [(lambda f: np.sum(np.sin(rn.gradient_of(f, (), 0, 1))), (C((5, 2)),)),
                        (lambda f: np.sum(np.sin(rn.gradient_of(f, (2.0, 0.5), None, 2)[1])), (C((4, 3)),))],
        "numpy.rot90": [(lambda x: np.sum(np.rot90(x) * C((4, 3))), (a34,)),
                        (lambda x: np.sum(np.rot90(x, 3, axes=(1, 2)) ** 3), (C((2, 3, 4)),))],
        "numpy.hsplit": [(lambda x: np.sum(np.hsplit(x, 2)[1] ** 3), (a34,)), (lambda x: np.sum(np.hsplit(x, 2)[0] ** 3), (b4,))],
        "numpy.vsplit": [(lambda x: np.sum(np.vsplit(x, [1])[1] ** 3), (a34,))],
        "numpy.dsplit": [(lambda x: np.sum(np.dsplit(x, 2)[0] ** 3), (C((2, 3, 4)),))],
        "numpy.ediff1d": [(lambda x: np.sum(np.ediff1d(x) ** 3), (a34,))],
        "numpy.meshgrid": [(lambda x, y: np.sum(np.meshgrid(x, y)[0] ** 2 * np.meshgrid(x, y)[1]), (b4, C((3,)))),
                           (lambda x, y, z: np.sum(np.meshgrid(x, y, z, indexing="ij")[2] ** 3 * np.transpose(np.meshgrid(z, y, x)[2], (2, 0, 1))),
                            (C((2,)), C((3,)), b4))],
        "numpy.nansum": [(lambda x: np.nansum(_holes(x) ** 3), (nans,)), (lambda x: np.sum(np.nansum(_holes(x), axis=1) ** 2), (nans,))],
        "numpy.nanmean": [(lambda x: np.nanmean(_holes(x) ** 3), (nans,)),
                          (lambda x: np.sum(np.nanmean(_holes(x), axis=0, keepdims=True) ** 2), (nans,))],
        "numpy.nanmax": [(lambda x: np.nanmax(_holes(x)) ** 2 + np.sum(np.nanmax(_holes(x), axis=1) ** 2), (nans,))],
        "numpy.nanmin": [(lambda x: np.nanmin(_holes(x)) ** 2 + np.sum(np.nanmin(_holes(x), axis=0) ** 2), (nans,))],
        "numpy.nanprod": [(lambda x: np.nanprod(_holes(x)) + np.sum(np.nanprod(_holes(x), axis=1) ** 2), (nans,))],
        "numpy.nanvar": [(lambda x: np.nanvar(_holes(x)) + np.sum(np.nanvar(_holes(x), axis=1, ddof=1) ** 2), (nans,))],
        "numpy.nanstd": [(lambda x: np.nanstd(_holes(x)) + np.sum(np.nanstd(_holes(x), axis=0) ** 2), (nans,))],
        "numpy.nancumsum": [(lambda x: np.sum(np.nancumsum(_holes(x), axis=1) ** 2) + np.sum(np.nancumsum(_holes(x)) * 0.5), (nans,))],
        "numpy.average": [(lambda a, w: np.average(a, weights=w) ** 2, (b4, C((4,), 0.5, 2.0))),
                          (lambda a, w: np.sum(np.average(a, axis=0, weights=w) ** 2), (a34, C((3,), 0.5, 2.0))),
                          (lambda a, w: np.sum(np.average(a, 1, w, keepdims=True) ** 2), (a34, C((3, 4), 0.5, 2.0))),
                          (lambda a: np.sum(np.average(a, axis=1) ** 2), (a34,))],
        "numpy.trapezoid": [(lambda y: np.trapezoid(y ** 2), (b4,)),
                            (lambda y, x: np.trapezoid(y ** 2, x) ** 2, (b4, xs)),
                            (lambda y: np.sum(np.trapezoid(y, dx=0.5, axis=0) ** 2), (a34,)),
                            (lambda y, x: np.sum(np.trapezoid(y, x=x) ** 2), (a34, xs))],
        "math.prod": [(lambda x, y: math.prod([x, y, x * y]) + math.prod((x, y), start=2.0), (0.3, 1.2)),
                      (lambda x: math.prod(x) ** 2, (C((3,)),))],
        "numpy.convolve": [(lambda a, v: np.sum(np.convolve(a, v) ** 2), (C((5,)), C((3,)))),
                           (lambda a, v: np.sum(np.convolve(a, v, "same") ** 2), (C((3,)), C((5,)))),
                           (lambda a, v: np.sum(np.convolve(a, v, mode="valid") ** 3), (C((5,)), C((2,))))],
        "numpy.correlate": [(lambda a, v: np.sum(np.correlate(a, v) ** 2), (C((5,)), C((3,)))),
                            (lambda a, v: np.sum(np.correlate(a, v, "same") ** 2), (C((3,)), C((4,)))),
                            (lambda a, v: np.sum(np.correlate(a, v, mode="full") ** 3), (C((4,)), C((2,))))],
        "numpy.polyval": [(lambda p, x: np.sum(np.polyval(p, x) ** 2), (C((3,)), C((4,)))),
                          (lambda p, x: np.polyval(p, x) ** 2, (C((4,)), 0.7)),
                          (lambda p, x: np.sum(np.polyval(p, x) ** 2), (C((1,)), C((2, 2))))],
        "numpy.interp": [(lambda fp: np.sum(np.interp(C((5,), -0.5, 3.5), np.arange(4.0), fp) ** 2), (b4,)),
                         (lambda fp: np.interp(1.25, [0.0, 1.0, 3.0], fp) ** 3, (C((3,)),))],
        "numpy.select": [(lambda a, b: np.sum(np.select([b4 > 0, b4 < 0.5], [a, b * a], 0.1) ** 2), (b4, C((4,)))),
                         (lambda a, d: np.sum(np.select([b4 > 0], [a ** 2], default=d) ** 2), (b4, 0.3))],
        "interp_adjoint": [(lambda g: np.sum(rn.interp_adjoint(g, C((5,), -0.5, 3.5), np.arange(4.0), b4) ** 2),
                            (C((5,)),))],
        "select_adjoint": [(lambda g: np.sum(rn.select_adjoint(g, [b4 > 0, b4 < 0.5], [b4, 0.0])[0] ** 2) +
                            rn.select_adjoint(g, [b4 > 0, b4 < 0.5], [b4, 0.0])[1] ** 2, (C((4,)),))],
        "numpy.cross": [(lambda a, b: np.sum(np.cross(a, b, axis=0) ** 2), (a34[:, :3].T.copy(), C((3, 3)))),
                        (lambda a, b: np.sum(np.cross(a, b, axisa=0, axisb=1, axisc=0) * C((3, 2))), (C((3, 2)), C((2, 3)))),
                        (lambda a, b: np.sum(np.cross(a, b) * C((3,))), (C((3,)), C((3,))))],
    }


_PIVOTS = np.array([2, 2, 2], dtype=np.int32)  # (rows 0 and 2 swapped)
_BANDED = C((4, 5)) + np.array([[0.0], [0.0], [4.0], [0.0]])  # (l, u) = (1, 2): the diagonal on row 2


def _scipy_linalg() -> dict[str, list]:
    import scipy.linalg as sl

    from s2sad import runtime_scipy as rs

    a33, b3 = C((3, 3)), C((3,))
    low = np.tril(a33) + 3.0 * np.eye(3)
    spd = a33 @ a33.T + 3.0 * np.eye(3)
    return {
        "scipy.linalg.inv": [(lambda a: np.sum(sl.inv(a) ** 2), (spd,))],
        "scipy.linalg.det": [(lambda a: sl.det(a) ** 2, (spd,))],
        "scipy.linalg.solve_triangular": [
            (lambda t, b: np.sum(sl.solve_triangular(t, b, lower=True) ** 2), (low, b3)),
            (lambda t, b: np.sum(sl.solve_triangular(t, b, trans=1) ** 2), (low.T.copy(), C((3, 2)))),
            (lambda t, b: np.sum(sl.solve_triangular(t, b, trans="T", lower=True, unit_diagonal=True) ** 2), (low, b3)),
            (lambda t: np.sum(sl.solve_triangular(t, b3, lower=True) ** 3), (a33 + 3.0 * np.eye(3),))],
        "scipy.linalg.cholesky": [(lambda x: np.sum(sl.cholesky(x @ x.T + 3.0 * np.eye(3)) * a33), (a33,)),
                                  (lambda x: np.sum(sl.cholesky(x @ x.T + 3.0 * np.eye(3), lower=True) ** 3), (a33,))],
        "scipy.linalg.cho_factor": [  # (a symmetric input: the factor reads one triangle, its gradient is symmetric)
            (lambda x, b: np.sum(sl.cho_solve(sl.cho_factor(x @ x.T + 3.0 * np.eye(3)), b) ** 2), (a33, b3)),
            (lambda x, b: np.sum(sl.cho_solve(sl.cho_factor(x @ x.T + 3.0 * np.eye(3), lower=True), b) ** 2),
             (a33, C((3, 2))))],
        "scipy.linalg.cho_solve": [(lambda a, b: np.sum(sl.cho_solve((a, True), b) ** 2), (low, b3)),
                                   (lambda a, b: np.sum(sl.cho_solve((a, False), b) ** 2), (low.T.copy(), C((3, 2))))],
        "scipy.linalg.lu_factor": [  # (pivoting: the rows of a33 are reordered)
            (lambda a: np.sum(sl.lu_factor(a)[0] ** 2), (a33,)),
            (lambda a, b: np.sum(sl.lu_solve(sl.lu_factor(a), b) ** 2), (a33, b3)),
            (lambda a, b: np.sum(sl.lu_solve(sl.lu_factor(a), b, trans=1) * C((3, 2))), (a33 + np.eye(3), C((3, 2))))],
        "scipy.linalg.lu_solve": [(lambda lu, b: np.sum(sl.lu_solve((lu, _PIVOTS), b) ** 2), (a33 + 3.0 * np.eye(3), b3)),
                                  (lambda lu, b: np.sum(sl.lu_solve((lu, _PIVOTS), b, trans=2) ** 3),
                                   (a33 + 3.0 * np.eye(3), C((3, 2))))],
        "scipy.linalg.solve_banded": [(lambda ab, b: np.sum(sl.solve_banded((1, 2), ab, b) ** 2), (_BANDED, C((5,)))),
                                      (lambda ab, b: np.sum(sl.solve_banded((2, 0), ab, b) ** 3), (_BANDED[1:], C((5, 2))))],
        "banded_transpose": [(lambda ab: np.sum(np.sin(rs.banded_transpose(ab, (1, 2)))), (_BANDED,))],
        "banded_outer": [(lambda x, y: np.sum(np.sin(rs.banded_outer(x, y, (1, 2)))), (C((5,)), C((5,)))),
                         (lambda x, y: np.sum(np.sin(rs.banded_outer(x, y, (2, 0)))), (C((5, 2)), C((5, 2))))],
        "banded_matmul": [(lambda ab, x: np.sum(np.sin(rs.banded_matmul(ab, x, (1, 2)))), (_BANDED, C((5,)))),
                          (lambda ab, x: np.sum(np.sin(rs.banded_matmul(ab, x, (2, 0)))), (_BANDED[1:], C((5, 2))))],
        "scipy.linalg.sqrtm": [(lambda a: np.sum(sl.sqrtm(a) ** 3), (spd,)),
                               (lambda x: np.sum(sl.sqrtm(x @ x.T + np.eye(3)) * a33), (a33,))],
        "scipy.linalg.expm": [(lambda a: np.sum(sl.expm(a) * a33), (0.5 * a33,)),
                              (lambda a: np.sum(sl.expm(a) ** 2), (0.5 * a33,))],
        "scipy.linalg.solve_sylvester": [(lambda a, b, q: np.sum(sl.solve_sylvester(a, b, q) ** 2),
                                          (spd, spd.T + np.eye(3), a33))],
    }


def cases() -> dict[str, list]:
    out = {**_math(), **_linalg(), **_numpy_more()}
    if st is None:
        return out
    out.update(_special())
    out.update(_scipy_linalg())
    methods = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")
    for name in FAMILIES:
        for method in methods:
            out[f"scipy.stats.{name}.{method}"] = _family_cases(name, method)
    for method in ("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"):
        out[f"scipy.stats.poisson.{method}"] = _poisson_cases(method)
    for method in ("logpdf", "pdf"):
        out[f"scipy.stats.multivariate_normal.{method}"] = _mvn(method)
        out[f"scipy.stats.dirichlet.{method}"] = _dirichlet(method)
    from s2sad import runtime_scipy

    out["components"] = [(lambda a: np.sum(runtime_scipy.components(a, C((3, 2))) * C((3, 2))), (C((3,)),))]
    return out


CASES = cases()
