"""Second derivatives of every registered rule, checked against finite differences of the first.

For each case of ``test_rules.cases(name)`` (a scalar function and its arguments), the
gradient function ``grad(f)`` is itself checked by ``check_grads``: in reverse mode
(reverse over reverse) and in forward mode (forward over reverse, what ``hessian`` and
``hvp`` run). ``test_every_rule_has_second_order_cases`` fails for a registered rule that
is not covered, as ``test_every_rule_has_cases`` does for first order; a rule without a
second derivative is listed in ``FIRST_ORDER_ONLY`` with the reason.

Rules that are piecewise linear (``max``, ``sort``, ``clip``, ``abs``, ``maximum``, ...) have
a second derivative of 0 almost everywhere; their cases keep away from ties and kinks, so
finite differences see the same piece and the check is exact there.
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from s2sad.pytree import differentiable
from s2sad.testing import check_grads
from test_rules import ALL, cases

# rules whose second derivative s2sad does not give yet, each with the reason
FIRST_ORDER_ONLY: dict[str, str] = {}


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
