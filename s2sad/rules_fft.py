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

import builtins
import operator
from dataclasses import replace

import numpy

from . import (
    rules_runtime,  # noqa: F401  (declared first: its helpers' rules are marked below)
    runtime,
    runtime_fft,
    runtime_numpy,
    shapes,
)
from .rules import ATTRIBUTES, INPLACE_FUNCS, METHODS, RULES, Sym, _Namespace, allow_complex, defrule, np, sym
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
        forward=lambda ans, dots, z, deg=None: _degrees(np.imag(dots[0] / z), deg), shape=shapes.elementwise,
        complex_ok=True, complex_result="never")
_real_attr, _transpose = ATTRIBUTES["real"], ATTRIBUTES["T"]
assert _real_attr is not None and _transpose is not None
ATTRIBUTES.update(imag=RULES[numpy.imag], real=replace(_real_attr, complex_ok=True, complex_result="never"),
                  T=replace(_transpose, complex_ok=True))
allow_complex(numpy.real, result="never")
RULES[numpy.real] = replace(RULES[numpy.real], forward=lambda ans, dots, x: np.real(dots[0]) if x.complex else dots[0])
allow_complex(numpy.conj)
METHODS.update(conj=numpy.conj, conjugate=numpy.conj)

# ----- rules exact on complex operands as written: holomorphic (g * f'(z)) and complex-linear maps -----

allow_complex(
    operator.add, operator.sub, operator.mul, operator.truediv, operator.pow, operator.neg, operator.pos,
    *(INPLACE_FUNCS[op] for op in "+-*/"), INPLACE_FUNCS["**"],
    numpy.add, numpy.subtract, numpy.multiply, numpy.divide, numpy.power, numpy.negative, numpy.positive,
    numpy.exp, numpy.log, numpy.sqrt, numpy.square, numpy.sin, numpy.cos, numpy.sinh, numpy.cosh, numpy.tanh,
    numpy.expm1, numpy.reciprocal,
    numpy.sum, numpy.mean, numpy.reshape, numpy.ravel, numpy.transpose, numpy.squeeze, numpy.expand_dims,
    numpy.flip, numpy.roll, numpy.concatenate, numpy.stack, numpy.where, numpy.broadcast_to, numpy.copy,
    operator.getitem, operator.matmul, numpy.matmul, numpy.dot, numpy.tensordot, numpy.outer, numpy.inner,
    numpy.kron, numpy.einsum, numpy.trace, numpy.diag, numpy.diagonal, numpy.cumsum, numpy.diff, numpy.tile,
    numpy.take,
    runtime.unbroadcast, runtime.unreduce, runtime.getitem_adjoint, runtime.broadcast_like,
    runtime_numpy.unconcatenate, runtime_numpy.unstack, runtime.matmul_lhs_adjoint, runtime.matmul_rhs_adjoint,
    runtime.dot_lhs_adjoint, runtime.dot_rhs_adjoint, runtime_numpy.reduce_to, runtime_numpy.tensordot_adjoint,
    runtime_numpy.inner_adjoint, runtime_numpy.kron_adjoint, runtime_numpy.einsum_adjoint, runtime_numpy.trace_adjoint,
    runtime_numpy.diag_adjoint, runtime_numpy.diagonal_adjoint, runtime_numpy.cumsum_adjoint,
    runtime_numpy.diff_adjoint, runtime_numpy.tile_adjoint, runtime_numpy.take_adjoint, runtime.add_bars, runtime.add_at,
    runtime.snapshot, runtime.immutable, runtime.setitem_adjoint, runtime.setitem_value_adjoint, runtime.sequence,
    runtime.sequence_adjoint, runtime.tuple_adjoint, builtins.reversed, builtins.list, builtins.tuple,
    runtime.add_adjoint, runtime.add_transpose,
)
