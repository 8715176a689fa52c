"""Second derivatives of every registered rule, checked against finite differences of the first.

For each case of ``test_rules.cases(name)`` (a scalar function and its arguments), the
gradient function ``grad(f)`` is itself checked by ``check_grads``: in reverse mode
(reverse over reverse) and in forward mode (forward over reverse, what ``hessian`` and
``hvp`` run). The first derivative by forward mode, ``jvp(f, args, tangents)`` along fixed
tangents, is checked in forward mode too (forward over forward: the rule's tangent code
differentiated again). Every registered rule has cases (``test_rules`` fails for one without),
so every rule is checked at second order in all three ways; third derivatives get spot checks.

Rules that are piecewise linear (``max``, ``sort``, ``clip``, ``abs``, ``maximum``, ...) have
a second derivative of 0 almost everywhere; their cases keep away from ties and kinks, so
finite differences see the same piece and the check is exact there.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_rules import ALL, cases, sps

import s2sad
from s2sad.pytree import differentiable
from s2sad.testing import check_grads


def _argnums(args) -> tuple[int, ...]:
    return tuple(i for i, a in enumerate(args) if differentiable(a))


def _second(name: str):
    """(grad function, args, argnums, options) for each case of rule ``name``."""
    out = []
    for fn, args, *options in cases(name):
        nums = _argnums(args)
        opts = dict(options[0]) if options else {}
        opts.setdefault("eps", 1e-5)
        opts.setdefault("rtol", 1e-4)
        opts.setdefault("atol", 1e-6)
        out.append((s2sad.grad(fn, argnums=nums), args, nums, opts))
    return out


def _tangent(a, rng):
    return s2sad.tree_map(lambda leaf: rng.standard_normal(np.shape(leaf)) if np.ndim(leaf) else float(
        rng.standard_normal()), a)


# the first derivative along fixed tangents, by forward mode, as a function of the arguments
_FORWARD_FIRST = {
    1: lambda f, t: lambda a: s2sad.jvp(f, (a,), t)[1],
    2: lambda f, t: lambda a, b: s2sad.jvp(f, (a, b), t)[1],
    3: lambda f, t: lambda a, b, c: s2sad.jvp(f, (a, b, c), t)[1],
    4: lambda f, t: lambda a, b, c, d: s2sad.jvp(f, (a, b, c, d), t)[1],
}


def _forward_first(name: str):
    """(jvp of the case along fixed tangents, args, options) for each case of rule ``name``."""
    rng = np.random.default_rng(1)
    out = []
    for fn, args, *options in cases(name):
        opts = dict(options[0]) if options else {}
        opts.setdefault("eps", 1e-5)
        opts.setdefault("rtol", 1e-4)
        opts.setdefault("atol", 1e-6)
        tangents = tuple(_tangent(a, rng) for a in args)
        out.append((_FORWARD_FIRST[len(args)](fn, tangents), args, opts))
    return out


@pytest.mark.parametrize("name", ALL)
def test_reverse_over_reverse(name):
    for g, args, nums, opts in _second(name):
        check_grads(g, args, argnums=nums, directions=1, modes=("rev",), **opts)


@pytest.mark.parametrize("name", ALL)
def test_forward_over_reverse(name):
    for g, args, nums, opts in _second(name):
        check_grads(g, args, argnums=nums, directions=1, modes=("fwd",), **opts)


@pytest.mark.parametrize("name", ALL)
def test_forward_over_forward(name):
    for first, args, opts in _forward_first(name):
        check_grads(first, args, directions=1, modes=("fwd",), **opts)


def _cross_entropy(w):
    logits = np.reshape(w, (2, 3)) * np.array([[1.0, 2.0, -1.0], [0.5, -0.3, 1.5]])
    return -np.sum(sps.log_softmax(logits, axis=1)[np.arange(2), [0, 2]]) + 0.1 * sps.logsumexp(w)


def _moments(w):
    return np.var(w) * np.std(w * w, ddof=1) + np.max(np.sin(w)) * np.linalg.norm(w)


def _layout(w):
    parts = np.concatenate([w, np.sort(w) ** 2])
    stacked = np.stack([parts, np.cumsum(parts)])
    return np.sum(np.tile(np.clip(stacked, -0.5, 2.0), (1, 2)) ** 3) + np.sum(np.take(w, [0, 2, 2]) * w[:3])


def _products(w):  # prod and cumprod (a zero among the factors too), multi_dot
    a = np.reshape(w, (2, 3))
    return (np.prod(w[:4] + 0.5) + np.sum(np.cumprod(a, axis=1) ** 2) + np.sum(np.cumprod(w * (w > 0.35)))
            + np.sum(np.linalg.multi_dot([a, a.T, a]) ** 2))


def _linear_algebra(w):
    a = np.reshape(w, (2, 3)) @ np.reshape(w, (3, 2)) + 3.0 * np.eye(2)
    spd = a @ a.T + np.eye(2)
    return (np.sum(np.linalg.solve(spd, w[:2])) + np.sum(np.linalg.cholesky(spd) ** 2) + np.linalg.slogdet(spd)[1]
            + np.sum(np.einsum("ij,jk->ik", a, a) * np.linalg.inv(spd)) + np.linalg.norm(a, "nuc"))


def _smooth_maxima(w):
    return sps.logsumexp(np.reshape(w, (2, 3)), axis=1, b=np.array([[1.0], [0.5]]))[0] + np.sum(
        sps.softmax(w) ** 2) + np.sum(np.tanh(np.sort(w)) * np.arange(6.0))


def _grad_norm(fn):
    """A scalar of ``fn``'s first derivative: its gradient is a second derivative, and that one's a third."""
    grad_fn = s2sad.grad(fn)

    def grad_norm(w):
        g = grad_fn(w)
        return np.sum(g * g)
    return grad_norm


THIRD = {"cross_entropy": _cross_entropy, "moments": _moments, "layout": _layout, "products": _products,
         "linear_algebra": _linear_algebra, "smooth_maxima": _smooth_maxima}


@pytest.mark.parametrize("name", THIRD)
def test_third_order_spot_checks(name):
    fn = THIRD[name]
    if sps is None and name in ("cross_entropy", "smooth_maxima"):
        pytest.skip("scipy is not installed")
    w = np.array([0.3, -0.7, 1.1, 0.4, -0.2, 0.9])
    check_grads(s2sad.grad(_grad_norm(fn)), (w,), directions=1, modes=("rev", "fwd"), eps=1e-5, rtol=1e-4, atol=1e-6)
    v = np.linspace(-1.0, 1.0, w.size)
    np.testing.assert_allclose(s2sad.hvp(fn, (w,), (v,)), s2sad.hessian(fn)(w) @ v, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["products", "moments"])
def test_third_order_forward_over_forward_over_forward(name):
    fn, w = THIRD[name], np.array([0.3, -0.7, 1.1, 0.4, -0.2, 0.9])
    third = s2sad.jacfwd(s2sad.jacfwd(s2sad.jacfwd(fn)))(w)
    np.testing.assert_allclose(third, s2sad.numeric.jacobian(s2sad.hessian(fn), w), rtol=1e-5, atol=1e-6)
