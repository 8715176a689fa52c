"""The analysis invariant: every use of a value that carries a derivative is differentiated exactly.

``activity.check_uses`` refuses, at the user's line, an operand a rule does not differentiate; the
pullback's construction checks again that every operand carrying a derivative got an entry from its
rule. A rule that breaks this (here a deliberately broken one) stops the transform; it is never a zero.
"""

import numpy as np
import pytest

import s2sad
from s2sad.errors import NoDerivativeRuleError
from s2sad.rules import RULES, defrule


def scale_by(a, b):
    return a * b


def _short_reverse(g, ans, a, b):
    return (g * b,)  # (b's entry forgotten: the broken rule)


def uses_both(x):
    return np.sum(scale_by(x, x * 2.0))


def holds_b(x):
    return np.sum(scale_by(x, 3.0)) + np.sum(x)


@pytest.fixture
def broken_rule():
    defrule(scale_by, "scale_by", _short_reverse)
    yield
    del RULES[scale_by]


def test_a_rule_giving_no_entry_for_an_operand_stops_the_transform(broken_rule):
    with pytest.raises(AssertionError, match=r"the rule for scale_by gives no cotangent to its argument 1"):
        s2sad.grad(uses_both)(np.array([0.5, 1.5]))


def test_the_rule_is_fine_where_that_operand_carries_no_derivative(broken_rule):
    x = np.array([0.5, 1.5])
    np.testing.assert_allclose(s2sad.grad(holds_b)(x), 3.0 + 1.0)


def only_first(a, b):
    return a + b


@pytest.fixture
def first_only_rule():
    defrule(only_first, "only_first", lambda g, ans, a, b: (g, None), diff=(0,))
    yield
    del RULES[only_first]


def test_an_operand_outside_the_rule_is_refused_at_the_users_line(first_only_rule):
    def f(x):
        return np.sum(only_first(x, x * 2.0))
    with pytest.raises(NoDerivativeRuleError, match=r"does not differentiate its argument") as e:
        s2sad.grad(f)(np.array([0.5, 1.5]))
    assert "test_invariant.py" in str(e.value)
