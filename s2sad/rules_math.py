# SYMBOLIC NAMESPACES. In this file `np`, `math`, `rt`, `rn`, `py`, `linalg`, `special` and the like are
# not the modules: they are `rules._Namespace`s, whose calls build IR on symbolic operands (`rules.Sym`)
# when a rule runs, at transform time. `np.cos(x)` here emits the text `np.cos(x)`; it computes nothing.
# The real modules are imported under other names (`numpy`, `_math`, `_sp`, ...).
"""More of ``math`` (and their NumPy twins where NumPy lacked a rule): the error function,
``hypot`` of any number of arguments, ``atan2``, ``copysign``, unit conversions, ``fsum``
and ``dist``. ``math.gamma``/``math.lgamma`` need ``scipy.special.digamma`` and are
registered with the scipy rules.
"""

from __future__ import annotations

import math as _math

import numpy

from . import runtime_numpy
from .rules import _Namespace, defrule, math, np

__all__: list[str] = []

rn = _Namespace("", runtime_numpy, scalar_out=False)
_TWO_OVER_SQRT_PI = 2.0 / _math.sqrt(_math.pi)

defrule(_math.erf, "math.erf", lambda g, ans, x: (g * _TWO_OVER_SQRT_PI * math.exp(-(x * x)),), elementwise=True)
defrule(_math.erfc, "math.erfc", lambda g, ans, x: (-(g * _TWO_OVER_SQRT_PI * math.exp(-(x * x))),),
        elementwise=True)
defrule(_math.hypot, "math.hypot", lambda g, ans, *xs: tuple(rn.safe_divide(g * x, ans) for x in xs), elementwise=True)
defrule(_math.atan2, "math.atan2", lambda g, ans, y, x: (g * x / (x * x + y * y), -(g * y / (x * x + y * y))),
        elementwise=True)
defrule(_math.degrees, "math.degrees", lambda g, ans, x: (g * (180.0 / _math.pi),), elementwise=True)
defrule(_math.radians, "math.radians", lambda g, ans, x: (g * (_math.pi / 180.0),), elementwise=True)
# copysign(x, y) = |x| sign(y): the sign of y is read, never differentiated


def _signs(m):
    return lambda x, y: m.copysign(1.0, x) * m.copysign(1.0, y)


def _copysign_forward(m):
    return lambda ans, dots, x, y: (dots[0] if dots[0] is not None else 0.0 * x) * _signs(m)(x, y)


defrule(_math.copysign, "math.copysign", lambda g, ans, x, y: (g * _signs(math)(x, y), None), diff=(0,), zero=(1,),
        elementwise=True, forward=_copysign_forward(math))
defrule(numpy.copysign, "numpy.copysign", lambda g, ans, x, y: (rn.unbroadcast(g * _signs(np)(x, y), x), None),
        diff=(0,), zero=(1,), elementwise=True, forward=_copysign_forward(np))
defrule(_math.fsum, "math.fsum", lambda g, ans, seq: (rn.builtin_sum_adjoint(g, seq),), linear="joint")


def _dist(g, ans, p, q):
    towards = rn.safe_divide(g * (np.asarray(p) - np.asarray(q)), ans)  # 0 where p == q, as linalg.norm
    return rn.array_adjoint(towards, p), rn.array_adjoint(-towards, q)


def _dist_forward(ans, dots, p, q):
    p_dot, q_dot = (None if d is None else np.asarray(d) for d in dots)
    if p_dot is None:
        assert q_dot is not None  # a forward rule runs only when some input's tangent is nonzero
        step = -q_dot
    else:
        step = p_dot if q_dot is None else p_dot - q_dot
    return rn.safe_divide(np.sum((np.asarray(p) - np.asarray(q)) * step), ans)


defrule(_math.dist, "math.dist", _dist, forward=_dist_forward)
