# SYMBOLIC NAMESPACES. In this file `np`, `fft` and `rf` are not the modules: they are
# `rules._Namespace`s, whose calls build IR on symbolic operands (`rules.Sym`) when a rule runs, at
# transform time. The real modules are imported under other names (`numpy`, `runtime_fft`).
"""Complex intermediates: ``numpy.fft``, ``real``/``imag``/``conj``/``angle``, and the rules exact on
complex operands as they are written.

Cotangents follow JAX's convention (README, Conventions; ``complexity``): for a real result f, the
cotangent ``c`` of a complex z has ``df = Re(sum(c * dz))``. A complex-linear map's cotangent is its
transpose (``runtime_fft``); ``real`` passes a (real) cotangent on, ``imag`` multiplies it by ``-1j``,
``conj`` conjugates it, ``angle``'s is ``-1j * g / z`` (d angle = Im(dz / z)). ``n``/``s``, ``axis``/``axes``
and ``norm`` pass on to the helpers as they are written.
"""

from __future__ import annotations

import numpy

from . import (
    rules_runtime,  # noqa: F401  (declared first: its helpers' rules are marked below)
    runtime_fft,
    shapes,
)
from .rules import ATTRIBUTES, METHODS, RULES, Sym, _Namespace, defrule, np, sym
from .rules_numpy import _args, _const

__all__: list[str] = []

fft = _Namespace("np.fft", numpy.fft, scalar_out=False)
rf = _Namespace("", runtime_fft, scalar_out=False)  # adjoint helpers, emitted by their bare names


def _plan(nd: str, args: tuple, kwargs: dict) -> tuple[Sym | None, Sym | tuple | None, Sym | None]:
    """``(s, axes, norm)`` of a call of a transform with ``nd`` dimensions ("1", "2" or "n"), its array
    first (``n`` as ``s`` of one axis). Computed lengths are fine, but ``s`` given without ``axes`` (the
    last ``len(s)`` axes; deprecated by NumPy) must be a constant."""
    if nd == "1":
        b = _args(("n", "axis", "norm", "out"), args, kwargs)
        return b.get("n"), (b.get("axis", -1),), b.get("norm")
    b = _args(("s", "axes", "norm", "out"), args, kwargs)
    s, axes = b.get("s"), b.get("axes", sym((-2, -1)) if nd == "2" else None)
    if (axes is None or axes.const is None) and s is not None and s.const is not None:
        axes = sym(tuple(range(-len(_const(s, "s (without axes=)")), 0)))
    return s, axes, b.get("norm")


def _last(s: Sym | None, nd: str) -> Sym | None:
    """The last transformed length ``s`` asks for (None: the array's)."""
    if s is None or s.const is None:
        return None
    if nd == "1":
        return s
    lengths = s.const
    return s[-1] if not isinstance(lengths, tuple | list) else sym(lengths[-1])


def _complex(nd: str, inverse: bool):
    def rule(g, ans, x, *args, **kwargs):
        _, axes, norm = _plan(nd, args, kwargs)
        return (rf.fft_adjoint(g, x, axes, norm, inverse),)
    return rule


def _real(nd: str):
    def rule(g, ans, x, *args, **kwargs):
        s, axes, norm = _plan(nd, args, kwargs)
        return (rf.rfft_adjoint(g, x, _last(s, nd), axes, norm),)
    return rule


def _real_part(c: Sym, operand: Sym) -> Sym:
    """A cotangent ``c`` of ``operand``: its real part where ``operand`` is real. (Where a complex result
    has a real operand, reverse mode takes it: ``complexity.real_cotangent``; these results are real.)"""
    return c if operand.complex else np.real(c)


def _inverse_real(nd: str):
    def rule(g, ans, w, *args, **kwargs):
        _, axes, norm = _plan(nd, args, kwargs)
        return (_real_part(rf.irfft_adjoint(g, w, axes, norm), w),)
    return rule


for _suffix, _nd in (("", "1"), ("2", "2"), ("n", "n")):
    for _name, _make, _result in ((f"fft{_suffix}", _complex(_nd, False), "always"),
                                  (f"ifft{_suffix}", _complex(_nd, True), "always"),
                                  (f"rfft{_suffix}", _real(_nd), "always"),
                                  (f"irfft{_suffix}", _inverse_real(_nd), "never")):
        defrule(getattr(numpy.fft, _name), f"numpy.fft.{_name}", _make, diff=(0,), linear="joint",
                complex_ok=True, complex_result=_result)

defrule(numpy.fft.fftshift, "numpy.fft.fftshift", lambda g, ans, x, axes=None: (fft.ifftshift(g, axes=axes),),
        diff=(0,), linear="joint", shape=shapes.same, complex_ok=True)
defrule(numpy.fft.ifftshift, "numpy.fft.ifftshift", lambda g, ans, x, axes=None: (fft.fftshift(g, axes=axes),),
        diff=(0,), linear="joint", shape=shapes.same, complex_ok=True)

# the helpers, for derivatives of derivatives: each *_adjoint and its *_like are each other's transposes
_HELPERS = [
    (runtime_fft.fft_adjoint, lambda h, ans, g, x, axes, norm, inv: (rf.fft_like(h, g, axes, norm, inv),), "always"),
    (runtime_fft.fft_like, lambda h, ans, g, like, axes, norm, inv: (rf.fft_adjoint(h, g, axes, norm, inv),),
     "always"),
    (runtime_fft.rfft_adjoint, lambda h, ans, g, x, n, axes, norm: (_real_part(rf.rfft_like(h, g, n, axes, norm), g),),
     "never"),
    (runtime_fft.rfft_like, lambda h, ans, g, like, n, axes, norm: (rf.rfft_adjoint(h, g, n, axes, norm),), "always"),
    (runtime_fft.irfft_adjoint, lambda h, ans, t, w, axes, norm: (rf.irfft_like(h, t, axes, norm),), "always"),
    (runtime_fft.irfft_like, lambda h, ans, c, like, axes, norm: (_real_part(rf.irfft_adjoint(h, c, axes, norm), c),),
     "never"),
]
for _fn, _rev, _result in _HELPERS:
    defrule(_fn, _fn.__name__, lambda h, ans, *args, _rev=_rev: (*_rev(h, ans, *args), *[None] * (len(args) - 1)),
            diff=(0,), linear="joint", zero=(1,), complex_ok=True, complex_result=_result)


# ----- parts of a complex value -----

def _degrees(v, deg):
    """``v`` in degrees where ``deg`` is true (``np.angle(z, deg=True)``)."""
    return v * (180.0 / numpy.pi) if _const(deg, "deg", False) else v


# (of a real value, imag and angle are constant: no cotangent)
defrule(numpy.imag, "numpy.imag", lambda g, ans, z: (-(g * 1j) if z.complex else None,), diff=(0,), linear="joint",
        shape=shapes.elementwise, complex_ok=True, complex_result="never")
defrule(numpy.angle, "numpy.angle", lambda g, ans, z, deg=None: (-(_degrees(g, deg) * 1j) / z if z.complex else None,),
        diff=(0,),
        forward=lambda ans, dots, z, deg=None: _degrees(np.imag(dots[0] / z), deg), shape=shapes.same,
        complex_ok=True, complex_result="never")
ATTRIBUTES.update(imag=RULES[numpy.imag])
METHODS.update(conj=numpy.conj, conjugate=numpy.conj)

# (the rules exact on complex operands as written, holomorphic (g * f'(z)) and complex-linear maps, say so
# where each is declared: ``defrule(..., complex_ok=True)``)
