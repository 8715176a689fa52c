"""Checking derivatives against central finite differences, for users and for our tests.

``check_grads(f, args)`` compares s2sad's reverse mode with numerical
differentiation along random directions: for random input directions ``v`` and
a random output cotangent ``u`` it checks ``<u, J v>`` (finite differences of
``f``) against ``<vjp(u), v>`` (s2sad). One directional derivative costs two
evaluations of ``f``, whatever the number of inputs. It also checks that every
gradient has its argument's shape and dtype and that no argument was mutated.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .api import vjp

__all__ = ["check_grads", "numerical_vjp"]


def _is_float(a: Any) -> bool:
    return isinstance(a, float | np.floating) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _perturb(args: Sequence, argnums: Sequence[int], dirs: Sequence, step: float) -> list:
    out = list(args)
    for i, d in zip(argnums, dirs):
        a = np.asarray(args[i], dtype=np.float64)
        moved = a + step * d
        out[i] = float(moved) if np.ndim(args[i]) == 0 and not isinstance(args[i], np.ndarray) else moved
    return out


def _inner(a: Any, b: Any) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def numerical_vjp(f: Callable, args: Sequence, argnums: Sequence[int], dirs: Sequence, u: Any,
                  eps: float = 1e-6) -> float:
    """``<u, J v>`` by central differences (inputs promoted to float64)."""
    plus = f(*_perturb(args, argnums, dirs, eps))
    minus = f(*_perturb(args, argnums, dirs, -eps))
    return (_inner(u, plus) - _inner(u, minus)) / (2 * eps)


def check_grads(f: Callable, args: Sequence, argnums: Sequence[int] | None = None, *,
                directions: int = 3, eps: float = 1e-6, rtol: float | None = None, atol: float | None = None,
                seed: int = 0) -> None:
    """Assert that s2sad's derivative of ``f`` at ``args`` matches finite differences.

    ``argnums`` defaults to every float or floating-array argument. Tolerances
    default to 1e-5 (relative) and 1e-7 (absolute) for float64 arguments and
    looser ones when any argument is float32. Raises ``AssertionError`` naming
    the direction and both values on a mismatch.

    >>> import numpy as np
    >>> from s2sad.testing import check_grads
    >>> check_grads(lambda x, y: np.sum(np.sin(x) * y), (np.ones(3), 2.0))
    """
    args = tuple(args)
    snapshot = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    if argnums is None:
        argnums = [i for i, a in enumerate(args) if _is_float(a)]
    low = any(np.asarray(args[i]).dtype == np.float32 for i in argnums)
    rtol = rtol if rtol is not None else (2e-3 if low else 1e-5)
    atol = atol if atol is not None else (2e-4 if low else 1e-7)
    rng = np.random.default_rng(seed)

    out, pullback = vjp(f, *args)
    for _ in range(directions):
        u = rng.standard_normal(np.shape(out)) if np.ndim(out) else float(rng.standard_normal())
        cotangents = pullback(u if np.ndim(out) else np.asarray(u, dtype=np.asarray(out).dtype)[()])
        dirs = [rng.standard_normal(np.shape(args[i])) for i in argnums]
        ad = 0.0
        for i, d in zip(argnums, dirs):
            g = cotangents[i]
            assert g is not None, f"no gradient for argument {i}"
            assert np.shape(g) == np.shape(args[i]), f"gradient {i} has shape {np.shape(g)}, argument {np.shape(args[i])}"
            if isinstance(args[i], np.ndarray):
                assert g.dtype == args[i].dtype, f"gradient {i} has dtype {g.dtype}, argument {args[i].dtype}"
            ad += _inner(g, d)
        fd = numerical_vjp(f, args, argnums, dirs, u, eps)
        assert abs(ad - fd) <= atol + rtol * max(abs(ad), abs(fd)), (
            f"reverse mode gives {ad!r}, finite differences {fd!r} (difference {ad - fd:.3g}) "
            f"for a random direction in arguments {list(argnums)}")
    for before, now in zip(snapshot, args):
        if isinstance(before, np.ndarray):
            assert np.array_equal(before, now, equal_nan=True), "an argument was mutated"
