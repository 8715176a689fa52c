# SYMBOLIC NAMESPACES. In this file `np`, `math`, `rt`, `rn`, `py`, `linalg`, `special` and the like are
# not the modules: they are `rules._Namespace`s, whose calls build IR on symbolic operands (`rules.Sym`)
# when a rule runs, at transform time. `np.cos(x)` here emits the text `np.cos(x)`; it computes nothing.
# The real modules are imported under other names (`numpy`, `_math`, `_sp`, ...).
"""The NumPy (and optional scipy.special) rule library, registered into ``rules.RULES``.

Each entry is the primitive and its reverse template side by side, one line
where the adjoint is one expression; adjoints whose form depends on shapes or
arguments call a named helper in ``runtime`` (``unconcatenate``,
``max_adjoint``, ...), so the generated line still says what it does. A rule that
does not support an argument raises ``NotImplementedError`` with the reason,
which the user sees at their line. Conventions (README): ``maximum``/``minimum``
ties send half to each side; ``max``/``min`` reductions split a tie equally;
``clip`` passes the whole gradient to ``x`` on the closed interval.
"""

from __future__ import annotations

import builtins as _builtins
import dataclasses
import math as _math
import operator

import numpy

from . import ir, runtime_numpy, shapes
from .rules import (
    ATTRIBUTES,
    METHODS,
    NONDIFFERENTIABLE,
    REQUIRED,
    RULES,
    WRITERS,
    NotConst,
    Rule,
    Sym,
    _Namespace,
    constant_other_than,
    declare,
    defrule,
    log_base,
    np,
    py,
    rt,
    sym,
    ub,
)

rn = _Namespace("", runtime_numpy, scalar_out=False)  # adjoint helpers, emitted by their bare names

__all__: list[str] = []


def _const(s: Sym | None, name: str, default=None):
    """The value of an argument that must be a constant at the call site."""
    if s is None:
        return default
    if s.const is NotConst:
        raise NotImplementedError(f"{name} must be a constant here")
    return s.const


def _args(names: tuple[str, ...], args: tuple, kwargs: dict) -> dict:
    """Bind positional and keyword Syms to ``names`` (NumPy's parameter order)."""
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise NotImplementedError(f"argument {k}= is not supported")
        bound[k] = v
    if bound.get("out") is not None:
        raise NotImplementedError("out= is not differentiable")
    return bound


# ----- elementwise unary -----

_UNARY = {
    "reciprocal": lambda g, ans, x: -g * (ans * ans),
    "cbrt": lambda g, ans, x: g / (3.0 * (ans * ans)),
    "deg2rad": lambda g, ans, x: g * (_math.pi / 180.0),
    "radians": lambda g, ans, x: g * (_math.pi / 180.0),
    "rad2deg": lambda g, ans, x: g * (180.0 / _math.pi),
    "degrees": lambda g, ans, x: g * (180.0 / _math.pi),
    "positive": lambda g, ans, x: g,
    "fabs": lambda g, ans, x: g * np.sign(x),
    "real": lambda g, ans, x: g,
    "conj": lambda g, ans, x: np.conj(g),  # (a complex cotangent is conjugated: README, Conventions)
    "nan_to_num": lambda g, ans, x: g * np.isfinite(x),
}
# (a complex value met in between: the tangent of its real part or conjugate is that of the tangent)
_UNARY_FORWARD = {"real": lambda ans, dots, x: np.real(dots[0]) if x.complex else dots[0],
                  "conj": lambda ans, dots, x: np.conj(dots[0])}
for _name, _d in _UNARY.items():  # (real, conj and positive are linear; numpy.real returns a view)
    defrule(getattr(numpy, _name), f"numpy.{_name}", (lambda d: lambda g, ans, x: (d(g, ans, x),))(_d),
            diff=(0,), elementwise=True, linear="joint" if _name in ("real", "conj", "positive") else None,
            forward=_UNARY_FORWARD.get(_name), view=_name in ("real", "conj"),  # (x.conj() of a real x is x)
            complex_ok=_name in ("reciprocal", "positive", "real", "conj"),
            complex_result="never" if _name == "real" else None)

# ----- elementwise binary (each cotangent unbroadcast to its operand) -----


def _maximum(g, ans, x, y):
    return ub(rn.max_weight(g, x, y), x, y), ub(rn.max_weight(g, y, x), y, x)


def _minimum(g, ans, x, y):
    return ub(rn.max_weight(g, y, x), x, y), ub(rn.max_weight(g, x, y), y, x)


_BINARY = {
    "maximum": _maximum, "fmax": _maximum,
    "minimum": _minimum, "fmin": _minimum,
    "mod": lambda g, ans, x, y: (ub(g, x, y), ub(-g * np.floor_divide(x, y), y, x)),
    "fmod": lambda g, ans, x, y: (ub(g, x, y), ub(-g * np.trunc(x / y), y, x)),
    "arctan2": lambda g, ans, x, y: (ub(g * y / (x * x + y * y), x, y), ub(-g * x / (x * x + y * y), y, x)),
    "hypot": lambda g, ans, x, y: (ub(rn.safe_divide(g * x, ans), x, y), ub(rn.safe_divide(g * y, ans), y, x)),
    "logaddexp": lambda g, ans, x, y: (ub(g * np.exp(x - ans), x, y), ub(g * np.exp(y - ans), y, x)),
    "logaddexp2": lambda g, ans, x, y: (ub(g * np.exp2(x - ans), x, y), ub(g * np.exp2(y - ans), y, x)),
    "float_power": lambda g, ans, x, y: (ub(g * y * np.float_power(x, y - 1.0), x, y),
                                         ub(g * ans * log_base(x), y, x)),
}
for _name, _rev in _BINARY.items():
    defrule(getattr(numpy, _name), f"numpy.{_name}", _rev, elementwise=True)
defrule(operator.mod, "%", _BINARY["mod"], elementwise=True, ints=True)

# ----- reductions -----


def _reduction(helper: str, names=("a", "axis", "dtype", "out", "keepdims")):
    def rev(g, ans, x, *args, **kwargs):
        b = _args(names, (x, *args), kwargs)
        if x.scalar:
            return (g,)
        axis, keepdims = b.get("axis", sym(None)), b.get("keepdims", sym(False))
        return (getattr(rn, helper)(g, x, ans, axis, keepdims),)
    return rev


def _reduced(weights: Sym, x_dot: Sym | float, axis, keepdims) -> Sym:
    """``sum(x_dot * weights)`` over the reduced axes: the tangent of a reduction."""
    return np.sum(x_dot * weights, axis=axis if axis is not None else None,
                  keepdims=keepdims if keepdims is not None else False)


def _reduction_forward(helper: str):
    def fwd(ans, dots, x, *args, **kwargs):
        b = _args(("a", "axis", "dtype", "out", "keepdims"), (x, *args), kwargs)
        axis, keepdims = b.get("axis", sym(None)), b.get("keepdims", sym(False))
        return _reduced(getattr(rn, helper)(1.0, x, ans, axis, keepdims), dots[0], axis, keepdims)
    return fwd


for _fn, _name, _helper in [
    (numpy.prod, "numpy.prod", "prod_adjoint"),
    (numpy.max, "numpy.max", "max_adjoint"), (numpy.amax, "numpy.amax", "max_adjoint"),
    (numpy.min, "numpy.min", "max_adjoint"), (numpy.amin, "numpy.amin", "max_adjoint"),
]:
    defrule(_fn, _name, _reduction(_helper), diff=(0,), reduction=True, forward=_reduction_forward(_helper))


def _moment(helper: str):
    def rev(g, ans, x, *args, **kwargs):
        b = _args(("a", "axis", "dtype", "out", "ddof", "keepdims"), (x, *args), kwargs)
        return (getattr(rn, helper)(g, x, ans, b.get("axis", sym(None)), b.get("ddof", sym(0)),
                                    b.get("keepdims", sym(False))),)
    return rev


def _moment_forward(g, ans, dots, x, *args, **kwargs):
    b = _args(("a", "axis", "dtype", "out", "ddof", "keepdims"), (x, *args), kwargs)
    axis, ddof, keepdims = b.get("axis", sym(None)), b.get("ddof", sym(0)), b.get("keepdims", sym(False))
    weights = rn.var_adjoint(g, x, ans, axis, ddof, keepdims)
    return _reduced(weights, dots[0], axis, keepdims)


defrule(numpy.var, "numpy.var", _moment("var_adjoint"), diff=(0,), reduction=True,
        forward=lambda ans, dots, x, *a, **k: _moment_forward(1.0, ans, dots, x, *a, **k))
defrule(numpy.std, "numpy.std", _moment("std_adjoint"), diff=(0,), reduction=True,
        forward=lambda ans, dots, x, *a, **k: _moment_forward(1.0 / (2.0 * ans), ans, dots, x, *a, **k))

# ----- shape operations: each adjoint puts the cotangent back in the input's shape -----
# (all linear: forward mode applies them to the tangent; ``view``: the result may share the input's memory)

_back = lambda g, ans, x, *args, **kwargs: (np.reshape(g, np.shape(x)),)  # noqa: E731
for _name in ("reshape", "ravel", "expand_dims", "squeeze"):
    defrule(getattr(numpy, _name), f"numpy.{_name}", _back, diff=(0,), linear="joint", view=True, complex_ok=True)
for _name in ("atleast_1d", "atleast_2d", "atleast_3d"):  # (of one array: of more, a tuple, refused)
    defrule(getattr(numpy, _name), f"numpy.{_name}", lambda g, ans, x: (np.reshape(g, np.shape(x)),), diff=(0,),
            linear="joint", view=True)
defrule(numpy.copy, "numpy.copy", lambda g, ans, x, *a, **k: (g,), diff=(0,), linear="joint", shape=shapes.copied, complex_ok=True)
defrule(numpy.asarray, "numpy.asarray", lambda g, ans, x, *a, **k: (rn.cast_like(g, x),), diff=(0,), linear="joint",
        view=True, shape=shapes.copied, params=(("a", REQUIRED), ("dtype", None)))
defrule(numpy.array, "numpy.array", lambda g, ans, x, *a, **k: (rn.array_adjoint(g, x),), diff=(0,), linear="joint",
        shape=shapes.copied, params=(("object", REQUIRED), ("dtype", None)))


def _transpose(g, ans, x, *args, **kwargs):
    axes = kwargs.get("axes", args[0] if len(args) == 1 else Sym(ir.Tuple([a.expr for a in args])) if args else None)
    if axes is None or axes.const is None:
        return (np.transpose(g),)
    return (np.transpose(g, np.argsort(axes)),)


defrule(numpy.transpose, "numpy.transpose", _transpose, diff=(0,), linear="joint", view=True, complex_ok=True)
defrule(numpy.swapaxes, "numpy.swapaxes", lambda g, ans, x, a, b: (np.swapaxes(g, a, b),), diff=(0,), linear="joint",
        view=True)
defrule(numpy.moveaxis, "numpy.moveaxis", lambda g, ans, x, s, d: (np.moveaxis(g, d, s),), diff=(0,), linear="joint",
        view=True)
defrule(numpy.broadcast_to, "numpy.broadcast_to", lambda g, ans, x, shape, **k: (rt.unbroadcast(g, x),),
        diff=(0,), linear="joint", view=True, complex_ok=True)
defrule(numpy.flip, "numpy.flip", lambda g, ans, x, axis=None: (np.flip(g, axis),), diff=(0,), linear="joint",
        view=True, complex_ok=True)
defrule(numpy.fliplr, "numpy.fliplr", lambda g, ans, x: (np.fliplr(g),), diff=(0,), linear="joint", view=True)
defrule(numpy.flipud, "numpy.flipud", lambda g, ans, x: (np.flipud(g),), diff=(0,), linear="joint", view=True)
defrule(numpy.roll, "numpy.roll", lambda g, ans, x, shift, axis=None: (np.roll(g, np.negative(shift), axis),),
        diff=(0,), linear="joint", complex_ok=True)
defrule(numpy.triu, "numpy.triu", lambda g, ans, x, k=0: (np.triu(g, k),), diff=(0,), linear="joint")
defrule(numpy.tril, "numpy.tril", lambda g, ans, x, k=0: (np.tril(g, k),), diff=(0,), linear="joint")


def _pad(g, ans, x, pad_width, mode=None, **kwargs):
    if mode is not None and mode.const != "constant":
        raise NotImplementedError("only mode='constant' is supported")
    return (rn.pad_adjoint(g, x, pad_width),)


defrule(numpy.pad, "numpy.pad", _pad, diff=(0,),  # (padding values are constants: the tangent is padded with zeros)
        forward=lambda ans, dots, x, pad_width, *a, **k: np.pad(dots[0], pad_width))
defrule(numpy.diff, "numpy.diff", lambda g, ans, x, n=1, axis=-1: (rn.diff_adjoint(g, x, n, axis),), diff=(0,),
        linear="joint", complex_ok=True, view=lambda args, kwargs, shape: not constant_other_than(
            args[1] if len(args) > 1 else kwargs.get("n", ir.Const(1)), 0))  # (n == 0: x itself)
defrule(numpy.tile, "numpy.tile", lambda g, ans, x, reps: (rn.tile_adjoint(g, x, reps),), diff=(0,), linear="joint", complex_ok=True)
defrule(numpy.repeat, "numpy.repeat", lambda g, ans, x, repeats, axis=None: (rn.repeat_adjoint(g, x, repeats, axis),),
        diff=(0,), linear="joint")

# ----- joining and splitting: sequences in, lists of cotangents out -----

defrule(numpy.concatenate, "numpy.concatenate",
        lambda g, ans, seq, axis=0: (rn.unconcatenate(g, seq, axis),), diff=(0,), linear="joint", complex_ok=True)
defrule(numpy.stack, "numpy.stack", lambda g, ans, seq, axis=0: (rn.unstack(g, seq, axis),), diff=(0,), linear="joint", complex_ok=True)
for _name in ("vstack", "hstack", "dstack", "column_stack"):
    defrule(getattr(numpy, _name), f"numpy.{_name}",
            (lambda n: lambda g, ans, seq: (rn.unjoin(g, seq, n),))(_name), diff=(0,), linear="joint")
if getattr(numpy, "row_stack", numpy.vstack) is not numpy.vstack:  # NumPy 2's deprecated alias of vstack
    declare(numpy.row_stack, dataclasses.replace(RULES[numpy.vstack], name="numpy.row_stack"))


def _layout(default: tuple[int, int, int], entries: tuple[Sym, ...]
            ) -> tuple[Sym, tuple[int, int, int], tuple[int, ...]]:
    """What ``np.r_[entries]`` (``np.c_``) concatenates: the entries as a tuple (a slice a ``slice(...)``), its
    ``(axis, ndmin, trans1d)`` (``default``, the concatenator's, or from a leading string directive, parsed as
    NumPy does), and the positions of the entries in ``entries``."""
    layout = default
    kept = tuple(i for i, e in enumerate(entries) if not isinstance(e.const, str))
    if len(kept) < len(entries):
        directive = entries[0].const
        if kept != tuple(range(1, len(entries))) or directive in ("r", "c"):
            raise NotImplementedError("a string directive other than the first, or one making a matrix "
                                      "('r', 'c'), is not supported")
        assert isinstance(directive, str)  # (the first entry, the only one not kept: a string)
        numbers = [int(d) for d in directive.split(",")]  # axis[,ndmin[,trans1d]] (a ValueError where NumPy's is)
        if len(numbers) > 3:
            raise NotImplementedError(f"the directive {directive!r} is not supported")
        axis, ndmin, trans1d = (*numbers, *layout[len(numbers):])
        layout = (axis, ndmin, trans1d)
    return sym(tuple(_value(entries[i]) for i in kept)), layout, kept


def _value(entry: Sym) -> Sym:
    """An entry of ``np.r_[...]`` as a value: a slice ``a:b:c`` as ``slice(a, b, c)``."""
    if not isinstance(entry.expr, ir.Slice):
        return entry
    return py.slice(*(sym(None) if p is None else Sym(p) for p in (entry.expr.lower, entry.expr.upper, entry.expr.step)))


def _concatenated(default: tuple[int, int, int]):
    """The reverse and forward rules of ``np.r_[...]`` or ``np.c_[...]`` (of layout ``default``): one split of
    the cotangent into the entries' (``unconcatenate_entries``), the concatenation of the tangents laid out as
    the entries."""
    def reverse(g: Sym, ans: Sym, *entries: Sym) -> tuple[Sym | None, ...]:
        key, layout, kept = _layout(default, entries)
        bars = rn.unconcatenate_entries(g, key, *layout)
        return tuple(bars[kept.index(i)] if i in kept else None for i in range(len(entries)))

    def forward(ans: Sym, dots: list[Sym | None], *entries: Sym) -> Sym:
        key, layout, kept = _layout(default, entries)
        return rn.concatenate_entries(tuple(dots[i] for i in kept), key, *layout)
    return reverse, forward


for _name in ("r_", "c_"):
    _c = getattr(numpy, _name)
    _reverse, _forward = _concatenated((_c.axis, _c.ndmin, _c.trans1d))
    defrule(_c, f"numpy.{_name}[...]", _reverse, forward=_forward, subscript=True)
defrule(numpy.append, "numpy.append", lambda g, ans, x, values, axis=None: (
    rn.unappend(g, x, values, axis, 0), rn.unappend(g, x, values, axis, 1)), diff=(0, 1), linear="joint")
for _name in ("split", "array_split"):
    defrule(getattr(numpy, _name), f"numpy.{_name}",
            lambda g, ans, x, sections, axis=0: (rn.unsplit(g, x, axis),), diff=(0,), container=True, linear="joint",
            returns="list")  # (a new list of views of x)

# ----- selection -----

defrule(numpy.where, "numpy.where", lambda g, ans, c, x, y: (
    None, ub(np.where(c, g, 0.0), x, ans), ub(np.where(c, 0.0, g), y, ans)), diff=(1, 2),  # c broadcasts too
    linear="joint", complex_ok=True)


def _clip(g, ans, x, lo=None, hi=None, **kwargs):
    b = _args(("a_min", "a_max"), (lo, hi), {{"min": "a_min", "max": "a_max"}.get(k, k): v
                                              for k, v in kwargs.items()})
    lo, hi = b.get("a_min", sym(None)), b.get("a_max", sym(None))
    return (ub(rn.clip_adjoint(g, x, lo, hi), x, ans), rn.clip_bound_adjoint(g, x, lo, -1), rn.clip_bound_adjoint(g, x, hi, 1))


def _clip_forward(ans, dots, x, lo=None, hi=None, **kwargs):
    b = _args(("a_min", "a_max"), (lo, hi), {{"min": "a_min", "max": "a_max"}.get(k, k): v for k, v in kwargs.items()})
    lo, hi = b.get("a_min", sym(None)), b.get("a_max", sym(None))
    out = rn.clip_adjoint(dots[0], x, lo, hi) if dots[0] is not None else None
    for d, bound, side in zip(dots[1:], (lo, hi), (-1, 1)):
        if d is not None:
            part = d * ((x < bound) if side < 0 else (x > bound))
            out = part if out is None else out + part
    return out


defrule(numpy.clip, "numpy.clip", _clip, forward=_clip_forward)
defrule(numpy.take, "numpy.take", lambda g, ans, x, indices, axis=None: (rn.take_adjoint(g, x, indices, axis),),
        diff=(0,), linear="joint", complex_ok=True)
defrule(numpy.take_along_axis, "numpy.take_along_axis",
        lambda g, ans, x, indices, axis: (rn.take_along_axis_adjoint(g, x, indices, axis),), diff=(0,), linear="joint")
defrule(numpy.sort, "numpy.sort", lambda g, ans, x, axis=-1, **k: (rn.sort_adjoint(g, x, axis),), diff=(0,),
        forward=lambda ans, dots, x, axis=-1, **k: rn.sort_jvp(dots[0], x, axis))

# ----- products and linear algebra -----

# (products are multilinear: forward mode sums the call with one operand at a time replaced by its tangent)
defrule(numpy.tensordot, "numpy.tensordot", lambda g, ans, a, b, axes=2: (
    rn.tensordot_adjoint(g, a, b, axes, 0), rn.tensordot_adjoint(g, a, b, axes, 1)), linear="multi", complex_ok=True)
defrule(numpy.outer, "numpy.outer", lambda g, ans, a, b: (
    np.reshape(g @ np.ravel(b), np.shape(a)), np.reshape(np.ravel(a) @ g, np.shape(b))), linear="multi", complex_ok=True)
defrule(numpy.inner, "numpy.inner", lambda g, ans, a, b: (rn.inner_adjoint(g, a, b, 0), rn.inner_adjoint(g, a, b, 1)),
        linear="multi", complex_ok=True)
defrule(numpy.kron, "numpy.kron", lambda g, ans, a, b: (rn.kron_adjoint(g, a, b, 0), rn.kron_adjoint(g, a, b, 1)),
        linear="multi", complex_ok=True)
defrule(numpy.trace, "numpy.trace", lambda g, ans, x, offset=0: (rn.trace_adjoint(g, x, offset),), diff=(0,),
        linear="joint", complex_ok=True)
defrule(numpy.diag, "numpy.diag", lambda g, ans, x, k=0: (rn.diag_adjoint(g, x, k),), diff=(0,), linear="joint",
        complex_ok=True, view=lambda args, kwargs, shape: len(shape(args[0]) or ()) != 1)  # (of a matrix: a view)
defrule(numpy.diagonal, "numpy.diagonal", lambda g, ans, x, offset=0, axis1=0, axis2=1: (
    rn.diagonal_adjoint(g, x, offset, axis1, axis2),), diff=(0,), linear="joint", view=True, complex_ok=True)


def _einsum(g, ans, subscripts, *operands, **kwargs):
    if set(kwargs) - {"optimize"}:  # (the contraction order changes no value)
        raise NotImplementedError(f"einsum with {', '.join(k + '=' for k in kwargs if k != 'optimize')} is not supported")
    spec = _const(subscripts, "the einsum subscripts")
    if not isinstance(spec, str):
        raise NotImplementedError("only the string form of einsum is supported")
    return (None, *(rn.einsum_adjoint(g, subscripts, k, *operands) for k in range(len(operands))))


defrule(numpy.einsum, "numpy.einsum", _einsum, linear="multi", complex_ok=True)


_la = numpy.linalg
defrule(_la.inv, "numpy.linalg.inv", lambda g, ans, a: (-rn.mT(ans) @ g @ rn.mT(ans),),
        forward=lambda ans, dots, a: -(ans @ dots[0] @ ans))

# ----- cumulative -----

defrule(numpy.cumsum, "numpy.cumsum", lambda g, ans, x, axis=None, **k: (rn.cumsum_adjoint(g, x, axis),), diff=(0,),
        linear="joint", complex_ok=True)
defrule(numpy.cumprod, "numpy.cumprod", lambda g, ans, x, axis=None, **k: (rn.cumprod_adjoint(g, x, ans, axis),),
        diff=(0,), forward=lambda ans, dots, x, axis=None, **k: rn.cumprod_jvp(dots[0], x, ans, axis))

# ----- creation with a differentiable value -----

defrule(numpy.full, "numpy.full", lambda g, ans, shape, fill_value, dtype=None: (None, ub(g, fill_value, ans)),
        diff=(1,), linear="joint", params=(("shape", REQUIRED), ("fill_value", REQUIRED), ("dtype", None)))
defrule(numpy.full_like, "numpy.full_like", lambda g, ans, a, fill_value, **k: (None, ub(g, fill_value, ans)),
        diff=(1,), zero=(0,), linear="joint", params=(("a", REQUIRED), ("fill_value", REQUIRED), ("dtype", None)))
defrule(numpy.linspace, "numpy.linspace", lambda g, ans, start, stop, num=50, **k: (
    ub(rn.linspace_adjoint(g, num, 0), start, ans), ub(rn.linspace_adjoint(g, num, 1), stop, ans)), diff=(0, 1),
    forward=lambda ans, dots, start, stop, num=50, **k: rn.linspace_jvp(dots[0], dots[1], num))

# ----- array methods and attributes -----

METHODS.update(
    prod=numpy.prod, max=numpy.max, min=numpy.min, var=numpy.var, std=numpy.std, ravel=numpy.ravel,
    flatten=numpy.ravel, squeeze=numpy.squeeze, clip=numpy.clip, cumsum=numpy.cumsum, cumprod=numpy.cumprod,
    copy=numpy.copy, swapaxes=numpy.swapaxes, trace=numpy.trace, diagonal=numpy.diagonal, take=numpy.take,
    reshape=numpy.reshape, transpose=numpy.transpose, repeat=numpy.repeat,
    argmax=numpy.argmax, argmin=numpy.argmin, argsort=numpy.argsort, round=numpy.round, any=numpy.any,
    all=numpy.all, nonzero=numpy.nonzero,
)
ATTRIBUTES.update(real=Rule("ndarray.real", lambda g, ans, x: (g,), linear="joint", view=True, complex_ok=True,
                             complex_result="never"), itemsize=None,
                  nbytes=None, strides=None)


def _astype(g, ans, x, dtype, **kwargs):
    return (rn.cast_like(g, x),)


_ASTYPE = (("x", REQUIRED), ("dtype", REQUIRED))  # (an integer dtype makes an int: ``facts.int_names``)
defrule("ndarray.astype", "ndarray.astype", _astype, diff=(0,), linear="joint", params=_ASTYPE)
METHODS["astype"] = "ndarray.astype"
if hasattr(numpy, "astype"):  # (a function too from NumPy 2.1)
    defrule(numpy.astype, "numpy.astype", _astype, diff=(0,), linear="joint", params=_ASTYPE)

# ----- writers: refused where a derivative is involved (activity.check_uses) -----

WRITERS.update([numpy.place, numpy.putmask, numpy.copyto, numpy.put, numpy.put_along_axis, numpy.fill_diagonal,
                numpy.random.shuffle, *(u.at for u in vars(numpy).values() if isinstance(u, numpy.ufunc))])

# ----- not differentiable -----

NONDIFFERENTIABLE.update([
    numpy.floor_divide, numpy.trunc, numpy.fix, numpy.around, numpy.sign, numpy.heaviside, numpy.argsort,
    numpy.any, numpy.all, numpy.nonzero, numpy.flatnonzero, numpy.argwhere, numpy.count_nonzero,
    numpy.searchsorted, numpy.digitize, numpy.isclose, numpy.allclose, numpy.array_equal, numpy.logical_xor,
    numpy.isneginf, numpy.isposinf, numpy.identity, numpy.tri, numpy.indices, numpy.result_type,
    numpy.bitwise_and, numpy.bitwise_or, numpy.bitwise_xor, numpy.invert, numpy.unique, numpy.histogram,
    numpy.logspace, numpy.geomspace, numpy.random.default_rng,
    numpy.random.normal, numpy.random.uniform, numpy.random.rand, numpy.random.randn, numpy.random.randint,
    numpy.random.choice, numpy.random.permutation, numpy.random.seed,
])

# ----- scipy.special (registered only when scipy is installed) -----

try:
    import scipy.special as _sp
except ImportError:  # scipy is optional
    _sp = None

if _sp is not None:
    special = _Namespace("special", _sp, scalar_out=False)

    def _logsumexp(g, ans, a, axis=None, b=None, keepdims=None, return_sign=None):
        b = None if b is None or b.const is None else b
        signed, keepdims = _const(return_sign, "return_sign", False), keepdims or sym(False)
        weights = _logsumexp_weights(ans, a, axis, b, keepdims, return_sign)  # d ans / d a, then / d b
        spread = rt.unreduce(g[0] if signed else g, a.like, axis=axis, keepdims=keepdims)
        a_bar = spread * weights[0] if b is None else rt.unbroadcast(spread * weights[0], a.like)
        return a_bar, None, None if b is None else rt.unbroadcast(spread * weights[1], b.like)

    def _logsumexp_weights(ans, a, axis, b, keepdims, return_sign):
        """``sign * b * exp(a - lse)`` (the derivative in ``a``) and ``sign * exp(a - lse)`` (in ``b``),
        each with the reduced axes kept, so they broadcast against ``a``."""
        b = None if b is None or b.const is None else b
        signed = _const(return_sign, "return_sign", False)
        lse, sign = (ans[0], ans[1]) if signed else (ans, None)
        if not (_const(keepdims, "keepdims", False) or axis is None or axis.const is None):
            lse, sign = np.expand_dims(lse, axis), sign if sign is None else np.expand_dims(sign, axis)
        shares = np.exp(a - lse)
        shares = shares if sign is None else sign * shares
        return (shares if b is None else b * shares), (None if b is None else shares)

    def _logsumexp_forward(ans, dots, a, axis=None, b=None, keepdims=None, return_sign=None):
        keepdims = keepdims or sym(False)
        weights = _logsumexp_weights(ans, a, axis, b, keepdims, return_sign)
        out = None
        for dot, w in zip([*dots, None, None][::2], weights):
            if dot is not None:
                part = _reduced(w * dot, 1.0, axis, keepdims)
                out = part if out is None else out + part
        return sym((out, np.zeros_like(ans[1]))) if _const(return_sign, "return_sign", False) else out

    defrule(_sp.logsumexp, "scipy.special.logsumexp", _logsumexp, diff=(0, 2), reduction=True, shape=shapes.logsumexp,
            params=(("a", None), ("axis", None), ("b", None)), container=True,  # (with return_sign=True)
            forward=_logsumexp_forward)
    defrule(_sp.expit, "scipy.special.expit", lambda g, ans, x: (g * ans * (1.0 - ans),), elementwise=True)
    defrule(_sp.logit, "scipy.special.logit", lambda g, ans, x: (g / (x * (1.0 - x)),), elementwise=True)
    defrule(_sp.softmax, "scipy.special.softmax", lambda g, ans, x, axis=None: (rn.softmax_adjoint(g, ans, axis),),
            diff=(0,), forward=lambda ans, dots, x, axis=None: rn.softmax_adjoint(dots[0], ans, axis))
    defrule(_sp.log_softmax, "scipy.special.log_softmax",
            lambda g, ans, x, axis=None: (rn.log_softmax_adjoint(g, ans, axis),), diff=(0,),
            forward=lambda ans, dots, x, axis=None: rn.log_softmax_jvp(dots[0], ans, axis))
    defrule(_sp.erf, "scipy.special.erf",
            lambda g, ans, x: (g * (2.0 / _math.sqrt(_math.pi)) * np.exp(-(x * x)),), elementwise=True)
    defrule(_sp.erfc, "scipy.special.erfc",
            lambda g, ans, x: (-g * (2.0 / _math.sqrt(_math.pi)) * np.exp(-(x * x)),), elementwise=True)
    defrule(_sp.gammaln, "scipy.special.gammaln", lambda g, ans, x: (g * special.digamma(x),), elementwise=True)
    defrule(_sp.digamma, "scipy.special.digamma", lambda g, ans, x: (g * special.polygamma(1, x),),
            elementwise=True)
    defrule(_sp.xlogy, "scipy.special.xlogy", lambda g, ans, x, y: (
        ub(g * np.log(y), x, y), ub(rn.xlogy_y_adjoint(g, x, y), y, x)), elementwise=True)
    defrule(_sp.xlog1py, "scipy.special.xlog1py", lambda g, ans, x, y: (
        ub(g * np.log1p(y), x, y), ub(rn.xlogy_y_adjoint(g, x, 1.0 + y), y, x)), elementwise=True)

# ----- builtins and scalar conversions users write in numeric code -----



def _builtin_extreme(first_wins_if):
    """The reverse and forward rules of builtin ``max(a, b)`` / ``min(a, b)``: the result is one operand itself
    (not elementwise: of two one-element arrays of different shapes, it has the chosen one's shape)."""
    def pick(x, y=None, *rest, **kwargs):
        if y is None or rest or kwargs:
            raise NotImplementedError("only the two-argument form max(a, b) / min(a, b) is supported")
        return first_wins_if(x, y)  # Python keeps the first argument on a tie

    def rev(g, ans, x, *args, **kwargs):
        first = pick(x, *args, **kwargs)
        return ub(g * first, x, args[0]), ub(g * rn.logical_not(first), args[0], x)

    def forward(ans, dots, x, *args, **kwargs):
        tangents = [rt.zeros_like(v) if d is None else d for d, v in zip(dots, (x, *args))]
        return rn.chosen(pick(x, *args, **kwargs), *tangents)
    return rev, forward


for _fn, _first_wins_if in ((_builtins.max, lambda x, y: x >= y), (_builtins.min, lambda x, y: x <= y)):
    _rev, _forward = _builtin_extreme(_first_wins_if)
    defrule(_fn, _fn.__name__, _rev, forward=_forward, view="operands", shape=shapes.either)
defrule(_builtins.sum, "sum", lambda g, ans, seq, start=0: (rn.builtin_sum_adjoint(g, seq), g),
        linear="joint")
for _float in (numpy.float64, numpy.float32):
    defrule(_float, f"numpy.{_float.__name__}", lambda g, ans, x: (rn.cast_like(g, x),), elementwise=True,
            view=True)  # (of an array of that type: the array itself)
defrule("ndarray.item", "ndarray.item", lambda g, ans, x, *a: (np.reshape(g, np.shape(x)),), diff=(0,),
        linear="joint")
METHODS["item"] = "ndarray.item"
