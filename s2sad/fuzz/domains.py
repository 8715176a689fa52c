"""Which registered elementwise callables the generator may call, and where they are smooth.

Nothing here is a hand table of functions: every elementwise rule in
``s2sad.rules.RULES`` is examined, so a rule registered tomorrow is fuzzed
without editing the generator. For each callable we find

- the Python text that names it in a program (``np.sin``, ``math.log``,
  ``scipy.special.erf``, ``abs``, or an operator symbol such as ``%``);
- its arity (one or two operands) and whether it accepts arrays;
- for each operand an interval ``[c - r, c + r]`` on which it is finite and
  smooth, chosen from a few candidates by probing numerically;
- for each operand the rule does not differentiate (outside ``Rule.diff`` and
  ``Rule.zero``: an order such as ``v`` of ``jv``, which must not carry a gradient),
  a constant ``c`` (radius 0) at which the function is smooth in the others.

The generator writes an operand ``e`` as ``c + r * np.tanh(e)``, which lies in that
interval whatever ``e`` is, so a generated program evaluates the function only
where its derivative exists; a constant operand is the literal ``c``.

Smoothness is probed by refinement: on a grid, a smooth function's largest jump
between neighbouring values (of the function and of its finite-difference
derivative) halves when the grid spacing halves; at a jump or a kink it does not.
A precision-losing callable (``np.float32``) fails the derivative check and is left out.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..rules import BINOP_FUNCS, RULES, UNARYOP_FUNCS, Rule

__all__ = ["Callee", "callees"]

# candidate operand intervals (centre, radius), tried in order: the widest first; a callable
# smooth on the first (the whole range of values a program makes) is called unsquashed
CANDIDATES = ((0.0, 50.0), (0.0, 1.5), (0.0, 0.8), (1.5, 1.0), (2.0, 0.8), (0.6, 0.3), (-1.5, 0.5), (3.0, 1.0))
# candidate constants for an operand the rule does not differentiate (an order, a shape parameter)
CONSTANTS = ((1.0, 0.0), (2.0, 0.0), (0.5, 0.0), (1.5, 0.0), (0.0, 0.0), (3.0, 0.0))
_GRID = 64
_STEP = 1e-6


@dataclass(frozen=True)
class Callee:
    """An elementwise callable as a program writes it, with a safe interval per operand."""

    name: str  # the rule's name, e.g. "numpy.sin" or "%"
    text: str  # how a program calls it: "np.sin", "math.log", "%" for an operator
    arity: int
    arrays: bool  # accepts arrays (False: Python scalars only, as math.*)
    domains: tuple[tuple[float, float], ...]  # (centre, radius) per operand; radius 0: the constant centre
    operator: bool = False  # written as ``a % b`` rather than ``f(a, b)``

    @property
    def constant(self) -> bool:
        """Some operand is a constant (the other operands give the result its shape)."""
        return any(r == 0.0 for _, r in self.domains)

    @property
    def module(self) -> str | None:
        """The module a program must import to name it (``scipy.special``), or None."""
        head = self.text.rsplit(".", 1)[0] if "." in self.text else None
        return head if head not in (None, "np", "math") else None


def _text(fn: object, name: str) -> str | None:
    """The text naming ``fn`` in a module that imports ``math``, ``numpy as np`` and the rule's module."""
    symbols: dict[object, str] = {**{v: k for k, v in BINOP_FUNCS.items()}, **{v: k for k, v in UNARYOP_FUNCS.items()}}
    if fn in symbols:
        return symbols[fn] if symbols[fn] not in ("@", "//", "not", "~") and name in BINOP_FUNCS else None
    text = name.replace("numpy.", "np.", 1) if name.startswith("numpy.") else name
    module, _, attr = text.rpartition(".")
    namespace = {"np": np, "math": math}
    try:
        if module and module not in namespace:
            namespace[module.split(".")[0]] = __import__(module)
        found = eval(text, namespace)
    except Exception:
        return None
    return text if found is fn else None


@contextlib.contextmanager
def quiet():
    """NumPy's floating-point warnings and Python's warnings off (the fuzzer runs code at odd points)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _call(fn: Callable[..., Any], arity: int, *xs: np.ndarray) -> np.ndarray:
    """``fn`` applied pointwise (looping where it takes scalars only), in float64."""
    with quiet():
        try:
            out = np.asarray(fn(*xs))
            if out.shape == np.shape(xs[0]):  # a narrower dtype than float64 loses precision: NaN
                return out if out.dtype == np.float64 else np.full(out.shape, np.nan)
        except Exception:
            pass
        try:
            return np.array([float(fn(*map(float, p))) for p in zip(*xs)])
        except Exception:
            return np.full(np.shape(xs[0]), np.nan)


def _refines(values: np.ndarray) -> bool:
    """True when the largest neighbour jump of ``values`` (on a grid of 2N+1 points) halves from N to 2N."""
    fine = np.max(np.abs(np.diff(values)))
    coarse = np.max(np.abs(np.diff(values[::2])))
    return fine <= 1e-7 * (1.0 + np.max(np.abs(values))) or fine <= 0.7 * coarse


def _smooth_along(fn: Callable[..., Any], arity: int, points: list[np.ndarray], axis: int) -> bool:
    """Finite, bounded and smooth along operand ``axis`` over the grid ``points``."""
    h = np.zeros(arity)
    h[axis] = _STEP
    value = _call(fn, arity, *points)
    plus = _call(fn, arity, *(p + s for p, s in zip(points, h)))
    minus = _call(fn, arity, *(p - s for p, s in zip(points, h)))
    half = [_call(fn, arity, *(p + k * s / 2 for p, s in zip(points, h))) for k in (1, -1)]
    slope, slope_half = (plus - minus) / (2 * _STEP), (half[0] - half[1]) / _STEP
    if not (np.all(np.isfinite(value)) and np.all(np.isfinite(slope))):
        return False
    if np.max(np.abs(value)) > 1e4 or np.max(np.abs(slope)) > 1e3:
        return False
    if not np.allclose(slope, slope_half, rtol=1e-5, atol=1e-6):
        return False
    return _refines(value) and _refines(slope)


def _domains(fn: Callable[..., Any], arity: int, active: tuple[int, ...]) -> tuple[tuple[float, float], ...] | None:
    """The first candidate intervals (per operand) on which ``fn`` is smooth along the
    ``active`` operands, the others held at a candidate constant; or None."""
    line = np.linspace(-1.0, 1.0, 2 * _GRID + 1)
    for combo in _combinations(arity, active):
        ok = True
        for axis in active:
            for fixed in (-0.9, 0.1, 0.9):  # the other operand at a few places in its interval
                points = [c + r * (line if k == axis else np.full_like(line, fixed)) for k, (c, r) in enumerate(combo)]
                ok = ok and _smooth_along(fn, arity, points, axis)
        if ok:
            return combo
    return None


def _combinations(arity: int, active: tuple[int, ...]) -> list[tuple[tuple[float, float], ...]]:
    choices = [CANDIDATES if k in active else CONSTANTS for k in range(arity)]
    return list(itertools.product(*choices))


def _active(rule: Rule, arity: int) -> tuple[int, ...]:
    """The operands that may carry a gradient: those the rule differentiates or declares of zero derivative."""
    return tuple(k for k in range(arity) if rule.diff is None or k in rule.diff or k in rule.zero)


def _arity(fn: Callable[..., Any]) -> int | None:
    if isinstance(fn, np.ufunc):
        return fn.nin if fn.nin in (1, 2) else None
    for arity in (1, 2):
        try:
            with np.errstate(all="ignore"):
                fn(*([0.7, 1.3][:arity]))
            return arity
        except TypeError:
            continue
        except Exception:
            return arity
    return None


def _takes_arrays(fn: Callable[..., Any], arity: int) -> bool:
    x = np.array([0.3, 0.5])
    try:
        with np.errstate(all="ignore"):
            return np.shape(fn(*([x] * arity))) == (2,)
    except Exception:
        return False


@functools.cache
def callees() -> tuple[Callee, ...]:
    """Every registered elementwise callable a program can name, with its safe intervals."""
    found = []
    for fn, rule in list(RULES.items()):
        if not rule.elementwise or not callable(fn):
            continue
        text = _text(fn, rule.name)
        arity = _arity(fn) if text is not None else None
        if text is None or arity is None:
            continue
        if rule.name in UNARYOP_FUNCS and fn in (operator.neg, operator.pos):
            continue  # unary operators are the generator's own syntax
        active = _active(rule, arity)
        domains = _domains(fn, arity, active) if active else None
        if domains is not None:
            is_op = rule.name in BINOP_FUNCS
            found.append(Callee(rule.name, text, arity, is_op or _takes_arrays(fn, arity), domains, is_op))
    return tuple(sorted(found, key=lambda c: c.name))
