"""Checking derivatives against central finite differences, for users and for our tests.

``check_grads(f, args)`` compares s2sad's reverse mode with numerical
differentiation along random directions: for random input directions ``v`` and
a random output cotangent ``u`` it checks ``<u, J v>`` (finite differences of
``f``) against ``<vjp(u), v>`` (s2sad). One directional derivative costs two
evaluations of ``f``, whatever the number of inputs. It also checks that every
gradient has its argument's shape and dtype, shares no memory with the arguments, the
cotangent or another gradient, and that no argument was mutated.
For a scalar output it also checks that ``grad`` and ``value_and_grad`` (which run
fused functions, not the vjp) give the same value and gradients.
"""

from __future__ import annotations

import builtins
import itertools
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .api import grad, jvp, value_and_grad, vjp
from .load import load
from .numeric import central_difference
from .pytree import differentiable, leaves, map_leaves
from .rules import FRULES, custom_rule

__all__ = ["check_grads", "check_rrule", "check_frule", "numerical_vjp", "peak_memory"]


def _moved(a: Any, d: Any, step: float) -> Any:
    moved = np.asarray(a, dtype=np.float64) + step * d
    return float(moved) if np.ndim(a) == 0 and not isinstance(a, np.ndarray) else moved


def _perturb(args: Sequence, argnums: Sequence[int], dirs: Sequence, step: float) -> list:
    out = list(args)
    for i, d in zip(argnums, dirs):
        out[i] = map_leaves(lambda a, di: _moved(a, di, step), args[i], d)
    return out


def _directions(rng: np.random.Generator, args: Sequence, argnums: Sequence[int]) -> list:
    """A random direction (standard normal, float64) for each differentiated argument."""
    return [map_leaves(lambda a: rng.standard_normal(np.shape(a)), args[i]) for i in argnums]


def _as_tangent(arg: Any, d: Any) -> Any:
    """Direction ``d`` as a tangent of ``arg``: a Python float where the argument is a scalar."""
    return map_leaves(lambda a, di: di if np.ndim(a) else float(di), arg, d)


def _require(ok: bool, message: str) -> None:
    """Raise ``AssertionError`` unless ``ok``: raised explicitly, so the checks also run under ``python -O``."""
    if not ok:
        raise AssertionError(message)


def _assert_agrees(ad: float, fd: float, rtol: float, atol: float, what: str, where: str = "") -> None:
    _require(abs(ad - fd) <= atol + rtol * max(abs(ad), abs(fd)),
             f"{what} gives {ad!r}, finite differences {fd!r} (difference {ad - fd:.3g}){where}")


def _inner(a: Any, b: Any) -> float:
    """The dot product of two arrays, scalars or pytrees of the same structure."""
    return float(sum(np.sum(np.asarray(x, dtype=np.float64) * np.asarray(y, dtype=np.float64))
                     for x, y in zip(leaves(a), leaves(b))))


def _check_forward(f, args, argnums, directions, eps, rtol, atol, rng) -> None:
    """Forward mode: ``<u, jvp(v)>`` against finite differences of ``<u, f>`` along ``v``."""
    for _ in range(directions):
        dirs = _directions(rng, args, argnums)
        tangents = [map_leaves(lambda a: np.zeros(np.shape(a)) if np.ndim(a) else 0.0, a) if differentiable(a) else a
                    for a in args]
        for i, d in zip(argnums, dirs):
            tangents[i] = _as_tangent(args[i], d)
        out, out_dot = jvp(f, tuple(args), tuple(tangents))
        u = map_leaves(lambda o: rng.standard_normal(np.shape(o)), out)
        ad = _inner(u, out_dot)
        fd = numerical_vjp(f, args, argnums, dirs, u, eps)
        _assert_agrees(ad, fd, rtol, atol, "forward mode", f" for a random direction in arguments {list(argnums)}")


def _check_leaf(g: Any, a: Any, i: int) -> None:
    _require(np.shape(g) == np.shape(a), f"gradient {i} has shape {np.shape(g)}, argument {np.shape(a)}")
    if isinstance(a, np.ndarray):
        _require(g.dtype == a.dtype, f"gradient {i} has dtype {g.dtype}, argument {a.dtype}")


def _check_owned(results: Any, *others: Any) -> None:
    """No array among ``results`` shares memory with the caller's (``others``) or with another result."""
    seen: list = [a for a in leaves(others) if isinstance(a, np.ndarray)]
    for r in leaves(results):
        if isinstance(r, np.ndarray):
            _require(not any(np.may_share_memory(r, a) for a in seen),
                     "a derivative shares memory with an argument, the cotangent or another derivative")
            seen.append(r)


def numerical_vjp(f: Callable, args: Sequence, argnums: Sequence[int], dirs: Sequence, u: Any,
                  eps: float = 1e-6) -> float:
    """``<u, J v>`` by central differences (inputs promoted to float64)."""
    return central_difference(lambda t: _inner(u, f(*_perturb(args, argnums, dirs, t))), 0.0, eps)


def check_grads(f: Callable, args: Sequence, argnums: Sequence[int] | None = None, *,
                directions: int = 3, eps: float = 1e-6, rtol: float | None = None, atol: float | None = None,
                seed: int = 0, modes: Sequence[str] = ("rev",), order: int = 1) -> None:
    """Assert that s2sad's derivative of ``f`` at ``args`` matches finite differences.

    ``argnums`` defaults to every float, floating-array or pytree-of-them argument.
    ``modes`` picks reverse mode (``"rev"``, ``vjp``) and/or forward mode (``"fwd"``, ``jvp``). Tolerances
    default to 1e-5 (relative) and 1e-7 (absolute) for float64 arguments and
    looser ones when any argument is float32. Raises ``AssertionError`` naming
    the direction and both values on a mismatch.

    ``order`` > 1 also checks derivatives of derivatives, as JAX's and autograd's ``check_grads`` do:
    ``s2sad.grad`` of ``f`` (of ``<u, f(x)>`` for a fixed random ``u`` where ``f`` returns an array) is
    checked, in the same modes, to ``order - 1``; so ``order=2`` with both modes checks reverse over
    reverse and forward over reverse.

    >>> import numpy as np
    >>> from s2sad.testing import check_grads
    >>> check_grads(lambda x, y: np.sum(np.sin(x) * y), (np.ones(3), 2.0), order=2, modes=("rev", "fwd"))
    """
    args = tuple(args)
    if argnums is None:
        argnums = [i for i, a in enumerate(args) if differentiable(a)]
    if order > 1:
        options: dict[str, Any] = {"directions": directions, "eps": eps, "rtol": rtol, "atol": atol, "modes": modes}
        check_grads(f, args, argnums, seed=seed, **options)
        check_grads(grad(_projected(f, args, seed), argnums=tuple(argnums)), args, argnums, seed=seed + 1,
                    order=order - 1, **options)
        return
    snapshot = [map_leaves(lambda a: np.array(a, copy=True) if isinstance(a, np.ndarray) else a, a) for a in args]
    low = any(np.asarray(leaf).dtype == np.float32 for i in argnums for leaf in leaves(args[i]))
    rtol = rtol if rtol is not None else (2e-3 if low else 1e-5)
    atol = atol if atol is not None else (2e-4 if low else 1e-7)
    rng = np.random.default_rng(seed)

    if "fwd" in modes:
        _check_forward(f, args, argnums, directions, eps, rtol, atol, rng)
    if "rev" in modes:
        _check_reverse(f, args, argnums, directions, eps, rtol, atol, rng, low)
    for before, now in zip(snapshot, args):
        for b, n in zip(leaves(before), leaves(now)):
            if isinstance(b, np.ndarray):
                _require(np.array_equal(b, n, equal_nan=True), "an argument was mutated")


def _check_reverse(f: Callable, args: tuple, argnums: Sequence[int], directions: int, eps: float, rtol: float,
                   atol: float, rng: np.random.Generator, low: bool) -> None:
    """The vjp along random cotangents and directions against finite differences; for a scalar output,
    ``grad`` and ``value_and_grad`` against the vjp."""
    out, pullback = vjp(f, *args)
    for _ in range(directions):
        u = map_leaves(lambda o: rng.standard_normal(np.shape(o)) if np.ndim(o)
                       else np.asarray(rng.standard_normal(), dtype=np.asarray(o).dtype)[()], out)
        cotangents = pullback(u)
        _check_owned(cotangents, args, u)
        dirs = _directions(rng, args, argnums)
        ad = 0.0
        for i, d in zip(argnums, dirs):
            g = cotangents[i]
            _require(g is not None, f"no gradient for argument {i}")
            map_leaves(lambda gl, a: _check_leaf(gl, a, i), g, args[i])
            ad += _inner(g, d)
        fd = numerical_vjp(f, args, argnums, dirs, u, eps)
        _assert_agrees(ad, fd, rtol, atol, "reverse mode", f" for a random direction in arguments {list(argnums)}")
    if isinstance(out, float | np.floating) or (isinstance(out, np.ndarray) and out.shape == ()):
        seed = np.ones_like(out)[()] if isinstance(out, np.generic) else 1.0
        _check_fused(f, args, argnums, out, pullback(seed), 1e-5 if low else 1e-10)


_PROJECTIONS = itertools.count()


def _projected(f: Callable, args: Sequence, seed: int) -> Callable:
    """``f`` if it returns a number, else ``x -> <u, f(x)>`` for a fixed random ``u`` of its output's
    structure (an array, or a tuple or list of arrays and numbers: what ``grad`` of several arguments gives).
    The projection is loaded as generated code, as s2sad's own (``load``): s2sad's functions are library
    code, which only rules differentiate."""
    out = f(*args)
    rng = np.random.default_rng(seed)
    if isinstance(out, tuple | list):
        _require(all(isinstance(o, np.ndarray | float | int | np.generic) for o in out),
                 "check_grads with order > 1 needs f to return a number, an array, or a tuple of them")
        u: object = tuple(rng.standard_normal(np.shape(o)) for o in out)
        value = "sum(np.sum(ui * oi) for ui, oi in zip(u, f(*args)))"
    elif np.ndim(out) == 0 and not isinstance(out, dict):
        return f
    else:
        _require(isinstance(out, np.ndarray), "check_grads with order > 1 needs f to return a number, an "
                 "array, or a tuple of them")
        u, value = rng.standard_normal(np.shape(out)), "np.sum(u * f(*args))"
    text = f"# s2sad: check_grads' projection of an output\ndef projected(*args):\n    return {value}\n"
    return load(text, f"<s2sad: check_grads projection #{next(_PROJECTIONS)}>", "projected",
                {"np": np, "__builtins__": builtins}, {"f": types.CellType(f), "u": types.CellType(u)})


def _check_fused(f: Callable, args: Sequence, argnums: Sequence[int], out: Any, cotangents: tuple,
                 rtol: float) -> None:
    """``grad`` and ``value_and_grad`` run fused functions of their own (``s2sad.fuse``): they must
    give the vjp's values (to rounding: they may, for one, multiply by a float32 scalar where the
    pullback used a float64 array)."""
    value, with_value = value_and_grad(f, argnums=tuple(argnums))(*args)
    np.testing.assert_allclose(value, out, rtol=rtol, atol=1e-12, err_msg="value_and_grad's value differs")
    for what, fused in (("grad", grad(f, argnums=tuple(argnums))(*args)), ("value_and_grad", with_value)):
        _check_owned(fused, args)
        for i, g in zip(argnums, fused):
            map_leaves(lambda gl, a: _check_leaf(gl, a, i), g, args[i])
            fused_leaves, vjp_leaves = list(leaves(g)), list(leaves(cotangents[i]))
            assert len(fused_leaves) == len(vjp_leaves), f"{what} (a fused function) gives a gradient with " \
                f"{len(fused_leaves)} leaves for argument {i}, the vjp {len(vjp_leaves)}"
            for gl, vl in zip(fused_leaves, vjp_leaves):
                np.testing.assert_allclose(gl, vl, rtol=rtol, atol=1e-12,
                                           err_msg=f"{what} (a fused function) and vjp differ for argument {i}")


def check_rrule(fn: Callable, *args: Any, rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0) -> None:
    """Assert that the ``s2sad.rrule`` registered for ``fn`` is right at ``args`` (as ChainRulesTestUtils).

    Checks that the rule's output equals ``fn(*args)``, and its pullback against
    central finite differences of ``fn`` along random directions, for every float
    or array argument.
    """
    rule = custom_rule(fn)
    if rule is None:
        raise AssertionError(f"no rrule is registered for {fn!r}")
    out, pullback = rule(*args)
    expected = fn(*args)
    for a, b in zip(leaves(out), leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg="the rrule's output differs from the function's")
    argnums = [i for i, a in enumerate(args) if differentiable(a)]
    rng = np.random.default_rng(seed)
    u = map_leaves(lambda o: rng.standard_normal(np.shape(o)) if np.ndim(o) else float(rng.standard_normal()), out)
    bars = pullback(u)
    _require(len(bars) == len(args), f"the pullback returned {len(bars)} cotangents for {len(args)} arguments")
    dirs = _directions(rng, args, argnums)
    ad = sum(_inner(bars[i], d) for i, d in zip(argnums, dirs) if bars[i] is not None)
    fd = numerical_vjp(fn, args, argnums, dirs, u)
    _assert_agrees(ad, fd, rtol, atol, "the rrule's pullback")


def check_frule(fn: Callable, *args: Any, rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0) -> None:
    """Assert that the ``s2sad.frule`` registered for ``fn`` is right at ``args``.

    Checks the rule's output against ``fn(*args)`` and its tangent against central
    finite differences along a random direction in every float or array argument.
    """
    rule = custom_rule(fn, FRULES)
    if rule is None:
        raise AssertionError(f"no frule is registered for {fn!r}")
    argnums = [i for i, a in enumerate(args) if differentiable(a)]
    rng = np.random.default_rng(seed)
    dirs = _directions(rng, args, argnums)
    tangents: list[Any] = [None] * len(args)
    for i, d in zip(argnums, dirs):
        tangents[i] = _as_tangent(args[i], d)
    out, out_dot = rule(tuple(args), tuple(tangents))
    for a, b in zip(leaves(out), leaves(fn(*args))):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg="the frule's output differs from the function's")
    u = map_leaves(lambda o: rng.standard_normal(np.shape(o)), out)
    ad, fd = _inner(u, out_dot), numerical_vjp(fn, args, argnums, dirs, u)
    _assert_agrees(ad, fd, rtol, atol, "the frule's tangent")


def peak_memory(f: Callable, *args: Any) -> int:
    """Peak bytes allocated (tracemalloc, NumPy included) by one call of ``f(*args)``, after a warm-up call."""
    import tracemalloc

    f(*args)
    tracemalloc.start()
    try:
        f(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
