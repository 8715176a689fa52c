# SYMBOLIC NAMESPACES. In this file `np`, `math`, `rt`, `rn`, `py`, `linalg`, `special` and the like are
# not the modules: they are `rules._Namespace`s, whose calls build IR on symbolic operands (`rules.Sym`)
# when a rule runs, at transform time. `np.cos(x)` here emits the text `np.cos(x)`; it computes nothing.
# The real modules are imported under other names (`numpy`, `_math`, `_sp`, ...).
"""More of NumPy: ``sinc``, layout (``rot90``, ``rollaxis``, ``hsplit``/``vsplit``/``dsplit``, ``ediff1d``,
``meshgrid``, ``partition``), ``gradient``, the ``nan*`` reductions, ``average`` with weights, ``trapezoid``, signals and
polynomials (``convolve``, ``correlate``, ``polyval``, ``interp`` in the values), ``select``,
``cross`` along any axes, and ``math.prod``.

Each adjoint and tangent is written with functions that have rules, so it differentiates
again; the few helpers it calls (``interp_adjoint``, ``select_adjoint``) have rules in
``rules_runtime``. A reduction's tangent is its adjoint at a cotangent of ones, summed
against the tangent (``_reduction_forward``).
"""

from __future__ import annotations

import math as _math

import numpy

from . import runtime_numpy
from .rules import NONDIFFERENTIABLE, NotConst, _Namespace, defrule, np, plus, rt, sym, ub

__all__: list[str] = []

rn = _Namespace("", runtime_numpy, scalar_out=False)


def _const(s, name: str, default=None):
    if s is None:
        return default
    if s.const is NotConst:
        raise NotImplementedError(f"{name} must be a constant here")
    return s.const


# ----- sinc: sin(πx) / (πx), 1 at 0 -----

_PI = _math.pi
_SMALL = 1e-3  # below it, the derivative's Taylor series (its error there is below 1e-16)


def _sinc_slope(x, ans):
    """d sinc/dx = (cos(πx) - sinc(x)) / x, and its series -π²x/3 + π⁴x³/30 near 0 (exact at 0, to any order)."""
    small = np.abs(x) < _SMALL
    safe = np.where(small, 1.0, x)  # (the formula's branch, kept finite where the series is used)
    series = x * (-(_PI ** 2) / 3.0 + x * x * (_PI ** 4 / 30.0))
    return np.where(small, series, (np.cos(_PI * safe) - np.sinc(safe)) / safe)


defrule(numpy.sinc, "numpy.sinc", lambda g, ans, x: (g * _sinc_slope(x, ans),), elementwise=True)

# ----- layout -----

defrule(numpy.rot90, "numpy.rot90", lambda g, ans, m, k=None, axes=None: (
    np.rot90(g, -(k or sym(1)), axes or sym((0, 1))),), diff=(0,), linear="joint", view=True)
for _name, _axis in (("vsplit", 0), ("dsplit", 2)):
    defrule(getattr(numpy, _name), f"numpy.{_name}", (lambda a: lambda g, ans, x, sections: (rn.unsplit(g, x, a),))(_axis),
            diff=(0,), container=True, linear="joint", returns="list")  # (a new list of views of x)
defrule(numpy.hsplit, "numpy.hsplit", lambda g, ans, x, sections: (rn.unsplit(g, x, np.minimum(np.ndim(x) - 1, 1)),),
        diff=(0,), container=True, linear="joint", returns="list")


defrule(numpy.rollaxis, "numpy.rollaxis", lambda g, ans, x, axis, start=0: (rn.rollaxis_adjoint(g, x, axis, start),),
        diff=(0,), linear="joint", view=True)
defrule(runtime_numpy.rollaxis_adjoint, "rollaxis_adjoint", lambda h, ans, g, x, axis, start: (
    np.rollaxis(h, axis, start), None, None, None), diff=(0,), zero=(1,), linear="joint")
defrule(numpy.real_if_close, "numpy.real_if_close", lambda g, ans, a, tol=None: (g,), diff=(0,),
        linear="joint", view=True)  # (real input: the value itself; complex numbers are refused)


def _partition(g, ans, a, kth, axis=None, kind=None, order=None):
    axis = sym(-1) if axis is None else axis
    where = rn.partition_order(a, ans, axis)
    flat = axis.const is None
    bar = rn.take_along_axis_adjoint(g, np.ravel(a) if flat else a, where, 0 if flat else axis)
    return np.reshape(bar, np.shape(a)) if flat else bar, None


def _partition_forward(ans, dots, a, kth, axis=None, kind=None, order=None):
    axis = sym(-1) if axis is None else axis
    flat = axis.const is None
    return np.take_along_axis(np.ravel(dots[0]) if flat else dots[0], rn.partition_order(a, ans, axis),
                              0 if flat else axis)


defrule(numpy.partition, "numpy.partition", _partition, diff=(0,), forward=_partition_forward)
NONDIFFERENTIABLE.update([runtime_numpy.partition_order, numpy.argpartition])


def _gradient(g, ans, f, *spacings, axis=None, edge_order=None):
    order = _const(edge_order, "edge_order", 1)
    return (rn.gradient_adjoint(g, f, spacings, axis, order), *(None for _ in spacings))


defrule(numpy.gradient, "numpy.gradient", _gradient, diff=(0,), linear="joint", container=True)
# the adjoint and np.gradient (as gradient_of, with its spacings in a tuple) are each other's transposes
defrule(runtime_numpy.gradient_adjoint, "gradient_adjoint", lambda h, ans, g, f, spacings, axis, edge_order: (
    rn.gradient_of(h, spacings, axis, edge_order), None, None, None, None), diff=(0,), zero=(1,), linear="joint",
        container=(0,))
defrule(runtime_numpy.gradient_of, "gradient_of", lambda h, ans, f, spacings, axis, edge_order: (
    rn.gradient_adjoint(h, f, spacings, axis, edge_order), None, None, None), diff=(0,), linear="joint",
        container=True)


def _ediff1d(g, ans, x, to_end=None, to_begin=None):
    if to_end is not None or to_begin is not None:
        raise NotImplementedError("ediff1d with to_begin= or to_end= is not supported: concatenate them to the result")
    return (np.reshape(rn.diff_adjoint(g, np.ravel(x), 1, -1), np.shape(x)),)


defrule(numpy.ediff1d, "numpy.ediff1d", _ediff1d, diff=(0,), linear="joint")


def _meshgrid(g, ans, *xs, indexing=None, sparse=None, copy=None):
    if _const(sparse, "sparse", False):
        raise NotImplementedError("meshgrid with sparse=True is not supported")
    n, xy = len(xs), _const(indexing, "indexing", "xy") == "xy"
    own = [(1 if i == 0 else 0 if i == 1 else i) if xy and n > 1 else i for i in range(n)]
    return tuple(np.reshape(np.sum(g[i], axis=tuple(k for k in range(n) if k != own[i])), np.shape(x))
                 for i, x in enumerate(xs))


defrule(numpy.meshgrid, "numpy.meshgrid", _meshgrid, container=True, linear="joint")

# ----- nan reductions: NaN entries take no part (their cotangent is 0) -----


def _axis_keep(axis=None, dtype=None, out=None, keepdims=None, **kwargs):
    if out is not None:
        raise NotImplementedError("out= is not differentiable")
    return axis or sym(None), keepdims or sym(False)


def _spread(g, x, axis, keepdims):
    return rt.unreduce(g, x.like, axis=axis, keepdims=keepdims)


def _present(x):
    return np.logical_not(np.isnan(x))


def _count(x, axis):
    return np.sum(_present(x), axis=axis, keepdims=True)


def _nansum(g, ans, x, *args, **kwargs):
    axis, keepdims = _axis_keep(*args, **kwargs)
    return (np.where(np.isnan(x), 0.0, _spread(g, x, axis, keepdims)),)


def _nanmean(g, ans, x, *args, **kwargs):
    axis, keepdims = _axis_keep(*args, **kwargs)
    return (np.where(np.isnan(x), 0.0, _spread(g, x, axis, keepdims) / _count(x, axis)),)


def _nanextreme(fill: float):
    def rev(g, ans, x, *args, **kwargs):
        axis, keepdims = _axis_keep(*args, **kwargs)
        return (rn.max_adjoint(g, np.where(np.isnan(x), fill, x), ans, axis, keepdims),)
    return rev


def _nanprod(g, ans, x, *args, **kwargs):
    axis, keepdims = _axis_keep(*args, **kwargs)
    return (np.where(np.isnan(x), 0.0, rn.prod_adjoint(g, np.where(np.isnan(x), 1.0, x), ans, axis, keepdims)),)


def _moment_args(axis=None, dtype=None, out=None, ddof=None, keepdims=None, **kwargs):
    if out is not None:
        raise NotImplementedError("out= is not differentiable")
    return axis or sym(None), ddof or sym(0), keepdims or sym(False)


def _nanvar_scaled(g, x, axis, ddof, keepdims):
    centered = np.where(np.isnan(x), 0.0, x - np.nanmean(x, axis=axis, keepdims=True))  # (no NaN in what is kept)
    return _spread(g, x, axis, keepdims) * centered * 2.0 / (_count(x, axis) - ddof)


def _nanvar(g, ans, x, *args, **kwargs):
    return (_nanvar_scaled(g, x, *_moment_args(*args, **kwargs)),)


def _nanstd(g, ans, x, *args, **kwargs):
    return (_nanvar_scaled(g / (2.0 * ans), x, *_moment_args(*args, **kwargs)),)


def _reduction_forward(reverse, names=("axis", "dtype", "out", "keepdims")):
    """The tangent of a reduction: its adjoint at a cotangent of ones, summed against the tangent (0 at NaN)."""
    def fwd(ans, dots, x, *args, **kwargs):
        bound = {**dict(zip(names, args)), **kwargs}
        weights = reverse(np.ones_like(ans), ans, x, *args, **kwargs)[0]
        return np.sum(weights * np.where(np.isnan(x), 0.0, dots[0]), axis=bound.get("axis") or sym(None), keepdims=bound.get("keepdims") or sym(False))
    return fwd


_MOMENT = ("axis", "dtype", "out", "ddof", "keepdims")
for _fn, _rev, _names in [
    (numpy.nansum, _nansum, None), (numpy.nanmean, _nanmean, None), (numpy.nanmax, _nanextreme(-numpy.inf), None),
    (numpy.nanmin, _nanextreme(numpy.inf), None), (numpy.nanprod, _nanprod, None), (numpy.nanvar, _nanvar, _MOMENT),
    (numpy.nanstd, _nanstd, _MOMENT),
]:
    defrule(_fn, f"numpy.{_fn.__name__}", _rev, diff=(0,), reduction=True,
            forward=_reduction_forward(_rev, *([_names] if _names else [])))


def _nancumsum(g, ans, x, axis=None, **kwargs):
    return (np.where(np.isnan(x), 0.0, rn.cumsum_adjoint(g, x, axis or sym(None))),)


defrule(numpy.nancumsum, "numpy.nancumsum", _nancumsum, diff=(0,),
        forward=lambda ans, dots, x, axis=None, **k: np.cumsum(np.where(np.isnan(x), 0.0, dots[0]), axis=axis or sym(None))
        if axis is not None else np.reshape(np.cumsum(np.where(np.isnan(x), 0.0, dots[0])), np.shape(ans)))

# ----- average with weights, trapezoid -----

NONDIFFERENTIABLE.add(runtime_numpy.weights_shape)


def _average_scale(g, ans, a, axis, weights, keepdims):
    """(the weights as they broadcast against ``a``, g / Σw spread over ``a``, the mean spread over ``a``)."""
    w = np.reshape(weights, rn.weights_shape(a, weights, axis))  # 1-D weights along axis, as NumPy reads them
    total = np.sum(w * np.ones_like(a), axis=axis, keepdims=True)
    return w, _spread(g, a, axis, keepdims) / total, _spread(ans, a, axis, keepdims)


def _average(g, ans, a, axis=None, weights=None, returned=None, keepdims=None):
    if _const(returned, "returned", False):
        raise NotImplementedError("average with returned=True is not supported: compute the weight sum with np.sum")
    axis, keepdims = axis or sym(None), keepdims or sym(False)
    if weights is None or weights.const is None:
        return (_spread(g, a, axis, keepdims) * (np.size(ans) / np.size(a.like)),)
    w, scale, mean = _average_scale(g, ans, a, axis, weights, keepdims)
    return scale * w, None, np.reshape(rt.unbroadcast(scale * (a - mean), w), np.shape(weights))


def _average_forward(ans, dots, a, axis=None, weights=None, returned=None, keepdims=None):
    kd = keepdims or sym(False)
    parts = [None if dots[0] is None else np.sum(_average(np.ones_like(ans), ans, a, axis, weights, returned, keepdims)[0]
                                                 * dots[0], axis=axis or sym(None), keepdims=kd)]
    if len(dots) > 2 and dots[2] is not None:
        w, scale, mean = _average_scale(np.ones_like(ans), ans, a, axis or sym(None), weights, kd)
        w_dot = np.reshape(dots[2], np.shape(w))
        parts.append(np.sum(scale * (a - mean) * w_dot, axis=axis or sym(None), keepdims=kd))
    return plus(*parts)


defrule(numpy.average, "numpy.average", _average, diff=(0, 2), forward=_average_forward,
        params=(("a", None), ("axis", None), ("weights", None)))


def _along(v, axis, first: bool):
    """``v`` without its last (``first``: its first) entry along ``axis``."""
    n = np.shape(v)[axis] - 1
    return np.take(v, np.arange(n) + (0 if not first else 1), axis=axis)


def _pad_one(v, axis, before: bool):
    zero = np.zeros_like(np.take(v, [0], axis=axis))
    return np.concatenate((zero, v) if before else (v, zero), axis=axis)


def _trapezoid_parts(y, x, dx, axis):
    steps = np.diff(x, axis=axis) if x is not None and x.const is not None else (dx or sym(1.0))
    mids = 0.5 * (_along(y, axis, False) + _along(y, axis, True))
    return steps, mids


def _trapezoid(g, ans, y, x=None, dx=None, axis=None):
    """Σ dᵢ (yᵢ + yᵢ₊₁) / 2 along ``axis``: ȳ = g (dᵢ₋₁ + dᵢ) / 2 (0 past the ends), x̄ the adjoint of diff."""
    axis = axis or sym(-1)
    steps, mids = _trapezoid_parts(y, x, dx, axis)
    gk = np.expand_dims(g, axis)
    full = steps * np.ones_like(mids)
    y_bar = gk * 0.5 * (_pad_one(full, axis, True) + _pad_one(full, axis, False))
    x_bar = None if x is None or x.const is None else rt.unbroadcast(rn.diff_adjoint(gk * mids, mids, 1, axis), x)
    return y_bar, x_bar


def _trapezoid_forward(ans, dots, y, x=None, dx=None, axis=None):
    axis = axis or sym(-1)
    steps, mids = _trapezoid_parts(y, x, dx, axis)
    parts = [None if dots[0] is None else np.sum(steps * 0.5 * (_along(dots[0], axis, False)
                                                                 + _along(dots[0], axis, True)), axis=axis)]
    if len(dots) > 1 and dots[1] is not None:
        parts.append(np.sum(np.diff(dots[1], axis=axis) * mids, axis=axis))
    return plus(*parts)


defrule(numpy.trapezoid, "numpy.trapezoid", _trapezoid, diff=(0, 1), forward=_trapezoid_forward,
        params=(("y", None), ("x", None)))

# ----- math.prod -----


def _math_prod(g, ans, seq, start=None):
    values = np.asarray(seq)
    scale = g if start is None else g * start
    return (rn.array_adjoint(rn.prod_adjoint(scale, values, np.prod(values), None, False), seq),)


defrule(_math.prod, "math.prod", _math_prod, diff=(0,),
        forward=lambda ans, dots, seq, start=None: np.sum(
            _math_prod(1.0, ans, seq, start)[0] * np.asarray(dots[0])))

# ----- cross along any axes -----


def _cross_axes(axisa=None, axisb=None, axisc=None, axis=None):
    if axis is not None:
        return axis, axis, axis
    return axisa or sym(-1), axisb or sym(-1), axisc or sym(-1)


def _cross(g, ans, a, b, **kwargs):
    """c = a × b: <g, a × b> = <a, b × g> = <b, g × a>, each vector read along its own axis."""
    ia, ib, ic = _cross_axes(**kwargs)
    return (ub(np.cross(b, g, axisa=ib, axisb=ic, axisc=ia), a, b), ub(np.cross(g, a, axisa=ic, axisb=ia, axisc=ib), b, a))


defrule(numpy.cross, "numpy.cross", _cross, linear="multi")

# ----- signals and polynomials -----


def _full_cotangent(g, a, v, mode, default: str):
    """``g`` placed in the full convolution's length (zeros where ``mode`` cut it)."""
    mode = _const(mode, "mode", default)
    if mode == "full":
        return g
    k = np.minimum(np.size(a), np.size(v)) - 1  # 'valid' cut k from each end, 'same' k in all
    if mode == "valid":
        return np.pad(g, sym((k, k)))
    lo = np.floor_divide(k, 2)
    return np.pad(g, sym((lo, k - lo)))


def _convolve(g, ans, a, v, mode=None):
    """c = a * v: ā = g ⋆ v and v̄ = g ⋆ a (correlations over the full length)."""
    full = _full_cotangent(g, a, v, mode, "full")
    return np.correlate(full, v, "valid"), np.correlate(full, a, "valid")


def _correlate(g, ans, a, v, mode=None):
    """correlate(a, v) = convolve(a, v[::-1])."""
    full = _full_cotangent(g, a, v, mode, "valid")
    return np.correlate(full, np.flip(v), "valid"), np.flip(np.correlate(full, a, "valid"))


defrule(numpy.convolve, "numpy.convolve", _convolve, linear="multi")
defrule(numpy.correlate, "numpy.correlate", _correlate, linear="multi")


def _polyval(g, ans, p, x):
    """Σ pᵢ xᴺ⁻¹⁻ⁱ: p̄ᵢ = Σ g xᴺ⁻¹⁻ⁱ (over x's entries), x̄ = g p'(x)."""
    n = np.size(p)
    powers = np.expand_dims(x, -1) ** np.arange(n - 1.0, -1.0, -1.0)
    p_bar = np.sum(np.reshape(np.expand_dims(g, -1) * powers, (-1, n)), axis=0)
    return p_bar, ub(g * _slope(p, x), x, p)


def _slope(p, x):
    """p'(x), with a leading zero coefficient (so a constant p has one)."""
    return np.polyval(np.concatenate((np.zeros(1), p[:-1] * np.arange(np.size(p) - 1.0, 0.0, -1.0))), x)


def _polyval_forward(ans, dots, p, x):
    return plus(None if dots[0] is None else np.polyval(dots[0], x),
                 None if dots[1] is None else dots[1] * _slope(p, x))


defrule(numpy.polyval, "numpy.polyval", _polyval, forward=_polyval_forward)


def _interp(g, ans, x, xp, fp, left=None, right=None, period=None):
    if any(v is not None and v.const is not None for v in (left, right, period)):
        raise NotImplementedError("interp with left=, right= or period= is not supported")
    return None, None, rn.interp_adjoint(g, x, xp, fp)


defrule(numpy.interp, "numpy.interp", _interp, diff=(2,), linear="joint")

# ----- select -----

NONDIFFERENTIABLE.add(runtime_numpy.any_of)


def _select(g, ans, condlist, choicelist, default=None):
    default_bar = None if default is None else rt.unbroadcast(np.where(rn.any_of(condlist), 0.0, g), default)
    return None, rn.select_adjoint(g, condlist, choicelist), default_bar


def _select_forward(ans, dots, condlist, choicelist, default=None):
    choices = dots[1] if dots[1] is not None else rt.zeros_like(choicelist)
    return np.select(condlist, choices, dots[2] if len(dots) > 2 and dots[2] is not None else 0.0)


defrule(numpy.select, "numpy.select", _select, diff=(1, 2), forward=_select_forward,
        params=(("condlist", None), ("choicelist", None), ("default", 0)))
