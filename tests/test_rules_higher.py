"""Second derivatives of every registered rule, checked against finite differences of the first.

For each case of ``test_rules.cases(name)`` (a scalar function and its arguments), the
gradient function ``grad(f)`` is itself checked by ``check_grads``: in reverse mode
(reverse over reverse) and in forward mode (forward over reverse, what ``hessian`` and
``hvp`` run). The first derivative by forward mode, ``jvp(f, args, tangents)`` along fixed
tangents, is checked in forward mode too (forward over forward: the rule's tangent code
differentiated again). ``test_every_rule_has_second_order_cases`` fails for a registered rule that
is not covered, as ``test_every_rule_has_cases`` does for first order; a rule without a
second derivative is listed in ``FIRST_ORDER_ONLY`` with the reason, one without forward over
forward in ``NO_FORWARD_OVER_FORWARD``.

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

# rules whose second derivative s2sad does not give yet, each with the reason
_THIRD = ("this case is a third derivative of prod or cumprod: prod_pairs and cumprod_pairs, their second "
          "derivatives, are differentiated in their first argument only (refused in x)")
FIRST_ORDER_ONLY: dict[str, str] = {
    **dict.fromkeys(["prod_adjoint", "cumprod_adjoint", "cumprod_jvp"], _THIRD),
}


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


SECOND = [name for name in ALL if name not in FIRST_ORDER_ONLY]

# rules whose forward rule's tangent code s2sad does not differentiate in forward mode yet, with the reason
NO_FORWARD_OVER_FORWARD: dict[str, str] = {}
FORWARD_TWICE = [name for name in SECOND if name not in NO_FORWARD_OVER_FORWARD]


def _tangent(a, rng):
    return s2sad.tree_map(lambda leaf: rng.standard_normal(np.shape(leaf)) if np.ndim(leaf) else float(
        rng.standard_normal()), a)


# the first derivative along fixed tangents, by forward mode, as a function of the arguments
_FORWARD_FIRST = {
    1: lambda f, t: lambda a: s2sad.jvp(f, (a,), t)[1],
    2: lambda f, t: lambda a, b: s2sad.jvp(f, (a, b), t)[1],
    3: lambda f, t: lambda a, b, c: s2sad.jvp(f, (a, b, c), t)[1],
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
def test_every_rule_has_second_order_cases(name):
    assert name in FIRST_ORDER_ONLY or cases(name), (
        f"rule {name} has no second-order cases: add first-order cases to tests/test_rules.py "
        "(they are differentiated again here)")


@pytest.mark.parametrize("name", SECOND)
def test_reverse_over_reverse(name):
    for g, args, nums, opts in _second(name):
        check_grads(g, args, argnums=nums, directions=1, modes=("rev",), **opts)


@pytest.mark.parametrize("name", SECOND)
def test_forward_over_reverse(name):
    for g, args, nums, opts in _second(name):
        check_grads(g, args, argnums=nums, directions=1, modes=("fwd",), **opts)


@pytest.mark.parametrize("name", FORWARD_TWICE)
def test_forward_over_forward(name):
    for first, args, opts in _forward_first(name):
        check_grads(first, args, directions=1, modes=("fwd",), **opts)


@pytest.mark.parametrize("name", sorted(NO_FORWARD_OVER_FORWARD))
def test_rules_without_forward_over_forward_still_fail(name):
    """A rule listed without forward over forward must still fail it: once it passes, take it off."""
    failed = False
    for first, args, opts in _forward_first(name):
        try:
            check_grads(first, args, directions=1, modes=("fwd",), **opts)
        except Exception:  # an error s2sad raises (a refusal) or a mismatch
            failed = True
    assert failed, f"{name} now has forward over forward: remove it from NO_FORWARD_OVER_FORWARD"


@pytest.mark.parametrize("name", sorted(FIRST_ORDER_ONLY))
def test_first_order_only_rules_still_fail(name):
    """A rule listed as first order only must still fail a second-order check: once it passes, take it off."""
    failed = False
    for g, args, nums, opts in _second(name):
        for mode in ("rev", "fwd"):
            try:
                check_grads(g, args, argnums=nums, directions=1, modes=(mode,), **opts)
            except Exception:  # an error s2sad raises (a refusal) or a mismatch
                failed = True
    assert failed, f"{name} now has second derivatives: remove it from FIRST_ORDER_ONLY"


def _cross_entropy(w):
    logits = np.reshape(w, (2, 3)) * np.array([[1.0, 2.0, -1.0], [0.5, -0.3, 1.5]])
    return -np.sum(sps.log_softmax(logits, axis=1)[np.arange(2), [0, 2]]) + 0.1 * sps.logsumexp(w)


def _moments(w):
    return np.var(w) * np.std(w * w, ddof=1) + np.max(np.sin(w)) * np.linalg.norm(w)


def _layout(w):
    parts = np.concatenate([w, np.sort(w) ** 2])
    stacked = np.stack([parts, np.cumsum(parts)])
    return np.sum(np.tile(np.clip(stacked, -0.5, 2.0), (1, 2)) ** 3) + np.sum(np.take(w, [0, 2, 2]) * w[:3])


_grad_cross_entropy, _grad_moments, _grad_layout = (s2sad.grad(f) for f in (_cross_entropy, _moments, _layout))


def _cross_entropy_grad_norm(w):  # a scalar of the first derivative: its gradient is a second derivative
    g = _grad_cross_entropy(w)
    return np.sum(g * g)


def _moments_grad_norm(w):
    g = _grad_moments(w)
    return np.sum(g * g)


def _layout_grad_norm(w):
    g = _grad_layout(w)
    return np.sum(g * g)


@pytest.mark.parametrize("fn, grad_norm", [(_cross_entropy, _cross_entropy_grad_norm), (_moments, _moments_grad_norm),
                                           (_layout, _layout_grad_norm)], ids=["cross_entropy", "moments", "layout"])
def test_third_order_spot_checks(fn, grad_norm):
    if sps is None and fn is _cross_entropy:
        pytest.skip("scipy is not installed")
    w = np.array([0.3, -0.7, 1.1, 0.4, -0.2, 0.9])
    check_grads(s2sad.grad(grad_norm), (w,), directions=1, modes=("rev", "fwd"), eps=1e-5, rtol=1e-4, atol=1e-6)
    v = np.linspace(-1.0, 1.0, w.size)
    np.testing.assert_allclose(s2sad.hvp(fn, (w,), (v,)), s2sad.hessian(fn)(w) @ v, rtol=1e-10, atol=1e-12)
