"""The derivatives of ``scipy.integrate.odeint``, computed by integrating more ODEs with ``odeint``.

``odeint(func, y0, t, args)`` solves dy/ds = func(y, s, *args) from ``y(t[0]) = y0`` and returns
``y(t[i])`` for every ``i``. Its derivatives with respect to ``y0``, ``t`` and the entries of
``args`` that hold floats need only derivatives of ``func``, which s2sad makes from its source
when the derivative runs (``func`` is a value, known only then), as for any function called
through a variable:

* reverse mode (``odeint_vjp``), the adjoint method: from the last time back to the first,
  the adjoint a = dL/dy solves da/ds = -(∂func/∂y)ᵀ a and the arguments' cotangent p solves
  dp/ds = -(∂func/∂args)ᵀ a, both integrated backwards with ``y`` itself between each pair of
  output times (``y`` restarted at each saved ``y(t[i])``, and ``g[i]``, the cotangent of the
  output at ``t[i]``, added to ``a`` there). Moving ``t[i]`` moves the output along the
  trajectory: its cotangent is ``g[i]·func(y(t[i]), t[i])``; moving ``t[0]`` moves the whole
  trajectory the other way: ``-a(t[0])·func(y0, t[0])``, ``a`` before ``g[0]`` is added.
* forward mode (``odeint_jvp``), the forward sensitivity equations: the tangent s solves
  ds/ds' = (∂func/∂y) s + (∂func/∂args) args_dot, integrated with ``y``, from
  ``y0_dot - func(y0, t[0]) t_dot[0]``; the output's tangent at ``t[i]`` adds
  ``func(y(t[i]), t[i]) t_dot[i]``.

Each integration takes the caller's tolerances (``rtol``, ``atol``, ``mxstep``, ``hmax``,
``hmin``), so the derivatives are exact to the integrator's tolerance. The vjp and jvp of a
function value are the linker's (``vjp_of``, ``jvp_of``), and ``grad`` the API's, handed over
when the API loads (``link``): the run time never imports the pipeline.

A derivative of ``odeint_vjp`` (a second derivative: ``grad`` of ``grad``, ``hessian``) transforms
``odeint_vjp_source`` in its place, the same adjoint method written as code s2sad differentiates,
as autograd's is: its backward integrations are ``odeint`` calls, differentiated by ``odeint``'s
own rule, and its adjoint system (``augmented``) is generated code that calls ``func`` by name,
with ``func``'s vjp the ``grad`` of a·func, so that ``func`` is differentiated twice as any
function called by name is. ``odeint_jvp`` is not differentiated again (refused).
"""

from __future__ import annotations

import itertools
import linecache
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .pytree import differentiable, is_node, leaves, ravel_pytree, tree_flatten
from .runtime import zeros_like

__all__ = ["link", "odeint_vjp", "odeint_jvp", "odeint_vjp_source", "augmented", "scalar_tolerance"]

try:
    from scipy.integrate import odeint
except ImportError:  # scipy is optional: without it, nothing calls this module
    odeint = None

_linked: dict[str, Callable] = {}  # "vjp_of", "jvp_of" (the linker's) and "grad": handed over by the API (``link``)
_TOLERANCES = ("rtol", "atol", "mxstep", "hmax", "hmin")  # what the derivatives' integrations take from the call


def link(**functions: Callable) -> None:
    """Hand the run time the linker's ``vjp_of`` and ``jvp_of`` and the API's ``grad`` (the API calls this when it
    loads: the run time never imports the pipeline)."""
    _linked.update(functions)


class _System:
    """``func`` with its arguments, as ``odeint`` calls it: which of the arguments are differentiated
    (those holding floats), how their cotangents and tangents flatten into the ODE's state, and the
    options the derivatives' integrations take from the call."""

    def __init__(self, func, args, options: dict) -> None:
        self.func = func
        self.args = tuple(args)
        self.tfirst = bool(options.get("tfirst", False))
        for a in self.args:
            if not differentiable(a) and any(differentiable(leaf) for leaf in leaves(a)):
                raise TypeError("s2sad differentiates an entry of odeint's args= that is a float, a float array or "
                                f"a container holding only those; this one mixes floats with other values: {a!r}")
        self.diff = tuple(i for i, a in enumerate(self.args) if differentiable(a))
        self.ravels = [ravel_pytree(self.args[i]) for i in self.diff]
        self.size = sum(flat.size for flat, _ in self.ravels)
        self.options = {k: v for k, v in options.items() if k in _TOLERANCES and v is not None}
        for k in ("rtol", "atol"):  # one tolerance for every component of a larger state
            if k in self.options:
                self.options[k] = float(np.min(self.options[k]))

    def operands(self, y, s) -> tuple:
        """``func``'s positional arguments at state ``y`` and time ``s``."""
        return ((s, y) if self.tfirst else (y, s)) + self.args

    def positions(self, indices) -> tuple[int, ...]:
        """The positions, among ``func``'s arguments, of ``y`` and of the entries ``indices`` of ``args``."""
        y = 1 if self.tfirst else 0
        return (y, *(2 + i for i in indices))

    def rate(self, y, s) -> np.ndarray:
        """dy/ds at ``(y, s)``, as odeint reads it."""
        return _flat(self.func(*self.operands(y, s)))

    def solve(self, dynamics, state, times) -> np.ndarray:
        return odeint(dynamics, state, np.asarray(times, dtype=float), **self.options)

    def flat_args(self, parts) -> np.ndarray:
        """Cotangents or tangents of the differentiated arguments (in ``diff``'s order) as one vector."""
        out = [_flat_like(p, self.args[i]) for p, i in zip(parts, self.diff)]
        return np.concatenate(out) if out else np.zeros(0)

    def unflat_args(self, vector) -> tuple:
        """A vector of the differentiated arguments' cotangents as ``args``' structure (zeros elsewhere)."""
        out = [zeros_like(a) for a in self.args]
        start = 0
        for i, (flat, unravel) in zip(self.diff, self.ravels):
            out[i] = unravel(vector[start:start + flat.size].astype(flat.dtype))
            start += flat.size
        return tuple(out)


def _flat(x) -> np.ndarray:
    """A value ``func`` returned, or a cotangent or tangent of one, as a 1-D float vector (as odeint reads it)."""
    parts = [np.ravel(np.asarray(leaf, dtype=float)) for leaf in leaves(x)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _flat_like(x, like) -> np.ndarray:
    """``x``, a cotangent or tangent of ``like`` (None: zero), as a 1-D vector of ``like``'s size."""
    if x is None:
        return np.zeros(ravel_pytree(like)[0].size)
    return _flat(x)


def _shaped(vector: np.ndarray, like):
    """``vector`` in the shape and structure of ``like`` (a float, an array, a list of floats)."""
    if len(tree_flatten(like)[0]) == 1 and not isinstance(like, tuple | list | dict):
        return float(vector[0]) if isinstance(like, float | int) else np.reshape(vector, np.shape(like))
    return ravel_pytree(like)[1](vector)


def _vjp_dynamics(system: _System, n: int):
    """The adjoint system: state ``(y, a, p)``, integrated backwards in time."""
    vjp = _linked["vjp_of"](system.func, system.positions(system.diff), (), False)

    def adjoint_dynamics(state, s):
        y, a = state[:n], state[n:2 * n]
        out, pullback = vjp(*system.operands(y, s))
        bars = pullback(_shaped(-a, out))
        return np.concatenate([_flat(out), _flat_like(bars[0], y), system.flat_args(bars[1:])])

    return adjoint_dynamics


def odeint_vjp(g, yt, func, y0, t, args=(), **options) -> tuple[Any, Any, Any]:
    """The cotangents of ``y0``, ``t`` and ``args`` of ``yt = odeint(func, y0, t, args, **options)``, given
    ``g``, the cotangent of ``yt`` (the adjoint method: see the module docstring)."""
    system = _System(func, args, options)
    times = np.asarray(t, dtype=float)
    g = np.broadcast_to(g, np.shape(yt))
    n = yt.shape[1]
    dynamics = _vjp_dynamics(system, n)
    a, p = np.array(g[-1], dtype=float), np.zeros(system.size)
    t_bar = np.zeros(len(times))
    a_start = np.zeros(n)  # a at t[0] before g[0] is added
    for i in range(len(times) - 1, 0, -1):
        t_bar[i] = system.rate(yt[i], times[i]) @ g[i]
        state = system.solve(dynamics, np.concatenate([yt[i], a, p]), times[i - 1:i + 1][::-1])[1]
        a_start, p = state[n:2 * n], state[2 * n:]
        a = a_start + g[i - 1]
    t_bar[0] = -(a_start @ system.rate(yt[0], times[0]))
    return _shaped(a, y0), _shaped(t_bar, t), system.unflat_args(p)


def odeint_jvp(yt, func, y0, t, args, y0_dot, t_dot, args_dot, **options) -> np.ndarray:
    """The tangent of ``yt = odeint(func, y0, t, args, **options)`` along ``y0_dot``, ``t_dot`` and ``args_dot``
    (None: zero), by the forward sensitivity equations (see the module docstring)."""
    system = _System(func, args, options)
    times = np.asarray(t, dtype=float)
    n = yt.shape[1]
    s0 = np.zeros(n) if y0_dot is None else _flat(y0_dot)
    if t_dot is not None:
        t_dot = np.ravel(np.asarray(t_dot, dtype=float))
        s0 = s0 - system.rate(yt[0], times[0]) * t_dot[0]
    moving = tuple(i for i in system.diff if args_dot is not None and args_dot[i] is not None)
    jvp = _linked["jvp_of"](func, system.positions(moving), (), False)
    dots = tuple(args_dot[i] for i in moving) if moving else ()

    def sensitivity_dynamics(state, s):
        y, sy = state[:n], state[n:]
        out, out_dot = jvp(*system.operands(y, s), tangents=(sy, *dots))
        return np.concatenate([_flat(out), _flat_like(out_dot, out)])

    yt_dot = system.solve(sensitivity_dynamics, np.concatenate([yt[0], s0]), times)[:, n:]
    if t_dot is not None:
        yt_dot = yt_dot + np.stack([system.rate(yt[i], times[i]) for i in range(len(times))]) * t_dot[:, None]
    return yt_dot


# ----- derivatives of derivatives -----


def odeint_vjp_source(g, yt, func, y0, t, args=(), rtol=None, atol=None, mxstep=0, hmax=0.0, hmin=0.0, tfirst=False,
                      **ignored):
    """``odeint_vjp`` written in code s2sad differentiates: what a derivative of a derivative through
    ``odeint`` transforms in its place. Its integrations are ``odeint`` calls, differentiated by
    ``odeint``'s own rule, and its adjoint system is generated code calling ``func`` by name (``augmented``)."""
    adjoint, rate, diff, size = augmented(func, args, tfirst)
    rtol, atol = scalar_tolerance(rtol), scalar_tolerance(atol)
    n = np.shape(yt)[1]
    a, p = g[-1], np.zeros(size)
    t_bars, a_start = [], np.zeros(n)  # from the last time to the first
    for i in range(len(t) - 1, 0, -1):
        t_bars.append(np.dot(rate(yt[i], t[i], args), g[i]))
        state = np.concatenate([yt[i], a, p])
        ends = np.array([t[i], t[i - 1]])
        solution = odeint(adjoint, state, ends, args=(n, *args), rtol=rtol, atol=atol, mxstep=mxstep, hmax=hmax,
                          hmin=hmin)
        a_start, p = solution[1][n:2 * n], solution[1][2 * n:]
        a = a_start + g[i - 1]
    t_bars.append(-np.dot(a_start, rate(yt[0], t[0], args)))
    args_bar, start = [], 0
    for k in range(len(args)):
        if k in diff:
            args_bar.append(np.reshape(p[start:start + np.size(args[k])], np.shape(args[k])))
            start = start + np.size(args[k])
        else:
            args_bar.append(zeros_like(args[k]))
    return np.reshape(a, np.shape(y0)), np.reshape(np.flip(np.array(t_bars)), np.shape(t)), tuple(args_bar)


odeint_vjp.__s2sad_source__ = lambda fn, dynamic: odeint_vjp_source  # type: ignore[attr-defined]
odeint_jvp.__s2sad_refusal__ = (  # type: ignore[attr-defined]
    "s2sad does not differentiate scipy.integrate.odeint's forward-mode derivative again (a derivative of jvp "
    "or jacfwd): its sensitivity system has no derivative yet. Derivatives of grad, vjp and jacrev (grad of "
    "grad, hessian, hvp) are given")


def scalar_tolerance(tol):
    """One tolerance for every component of a larger state: the smallest of ``tol`` (None: odeint's default)."""
    return None if tol is None else float(np.min(tol))


_TEMPLATE = """\
def rate(y, s{params}):
    return np.ravel(np.array(func({call})))


def rate_of(y, s, args):
    return rate(y, s{unpacked})


def phi(y, s, a{params}):
    return np.sum(a * rate(y, s{params}))


def adjoint(state, s, n{params}):
    y = state[:n]
    a = state[n:2 * n]
    {bars}, = phi_grad(y, s, -a{params})
    return np.concatenate([rate(y, s{params}), {raveled}])
"""
_augmented: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # func -> {(arity, diff, tfirst): made}
_made = itertools.count()  # (each generated text its own file name)


def augmented(func, args, tfirst):
    """``(adjoint, rate, diff, size)`` for ``odeint_vjp_source``: generated functions that call ``func`` by name
    (so that s2sad differentiates them twice, as any function calling another by name): ``adjoint``, the
    adjoint system's right-hand side on the state ``(y, a, p)`` (the vjp of ``func`` is a gradient, of
    a·func), and ``rate``, ``func``'s value raveled; ``diff``, the entries of ``args`` differentiated, and
    ``size``, their total size."""
    args = tuple(args)
    if any(is_node(a) and any(differentiable(leaf) for leaf in leaves(a)) for a in args):
        raise TypeError("s2sad's second derivatives through odeint take entries of args= that are floats or float "
                        "arrays (or hold no floats), not containers of them; pass each array as an entry of its own")
    diff = tuple(i for i, a in enumerate(args) if differentiable(a))
    key = (len(args), diff, bool(tfirst))
    try:
        made = _augmented.setdefault(func, {})
    except TypeError:  # (no weak reference to it: made for this call)
        made = {}
    if key not in made:
        made[key] = _generate(func, *key)
    adjoint, rate = made[key]
    return adjoint, rate, diff, sum(int(np.size(args[i])) for i in diff)


def _generate(func, arity: int, diff: tuple[int, ...], tfirst: bool):
    """``adjoint`` and ``rate_of`` (see ``augmented``), their text in ``linecache`` for s2sad to read."""
    params = "".join(f", arg{i}" for i in range(arity))
    call = ("s, y" if tfirst else "y, s") + params
    bars = ", ".join(["y_bar", *(f"arg{i}_bar" for i in diff)])
    raveled = ", ".join(f"np.ravel({b})" for b in bars.split(", "))
    unpacked = "".join(f", args[{i}]" for i in range(arity))
    text = _TEMPLATE.format(params=params, call=call, bars=bars, raveled=raveled, unpacked=unpacked)
    filename = f"<s2sad: odeint's adjoint system for {getattr(func, '__qualname__', 'func')} #{next(_made)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    namespace = {"np": np, "func": func}
    exec(compile(text, filename, "exec"), namespace)
    namespace["phi_grad"] = _linked["grad"](namespace["phi"], argnums=(0, *(3 + i for i in diff)))
    return namespace["adjoint"], namespace["rate_of"]

