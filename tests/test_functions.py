"""Calls into user functions: pairs of vjp and pullback, recursion, closures, methods."""

import math

import fn_corpus as fc
import numpy as np
import pytest

import s2sad
import s2sad.transform
from s2sad.cache import get_cache
from s2sad.testing import check_grads

CASES = [
    (fc.uses_helpers, (0.7, -0.4)),
    (fc.uses_keywords, (0.7, 1.3)),
    (fc.power, (1.3, 5)),
    (fc.ping, (0.4, 6)),
    (fc.make_loss(2.5), (0.3,)),
    (fc.nested_capture, (0.8,)),
    (fc.lambda_local, (0.8,)),
    (fc.area, (0.2, 1.5)),
    (fc.area_closure, (1.7,)),
    (fc.use_global_method, (0.6,)),
    (fc.uses_apply, (0.6,)),
    (fc.ten_helpers, (0.6,)),
    (fc.helper_in_loop, (0.6,)),
]


def test_star_args_and_kwargs_pass_through():
    g = s2sad.grad(fc.passes_through)
    assert g(1.5, 3.0, shift=2.0) == 3.0 + 1.0
    assert g(1.5) == 2.0 + 1.0
    assert s2sad.grad(fc.calls_pass_through)(1.5, 3.0) == 4.0


def test_a_gradient_through_star_args():
    check_grads(fc.calls_pass_through, (1.5, 3.0), modes=("rev", "fwd"))
    g = s2sad.grad(fc.calls_pass_through, argnums=1)(1.5, 3.0)
    assert g == pytest.approx(s2sad.numeric.derivative(lambda s: fc.calls_pass_through(1.5, s), 3.0))


@pytest.mark.parametrize("fn, args", CASES, ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)])
def test_matches_finite_differences(fn, args):
    check_grads(fn, args)


def test_area_has_the_closed_form_gradient():
    ga, gb = s2sad.grad(fc.area, argnums=(0, 1))(0.2, 1.5)
    assert abs(ga + 0.2**2) < 1e-3 and abs(gb - 1.5**2) < 1e-3  # trapezoid rule error only


def test_method_of_a_local_object_differentiates_its_explicit_arguments():
    g = s2sad.grad(fc.use_local_method, argnums=1)(fc.Model(2.0), 0.5)
    assert abs(g - 2.0 * (2 * 2.0 * 0.5 + 1.0)) < 1e-12


def test_recursion_gives_the_closed_form():
    assert abs(s2sad.grad(fc.power)(1.3, 5) - 5 * 1.3**4) < 1e-12


def test_each_helper_is_transformed_once(monkeypatch):
    calls = []
    real = s2sad.transform.transform
    monkeypatch.setattr(s2sad.transform, "transform", lambda fn, *a, **k: calls.append(fn.__name__) or real(fn, *a, **k))
    g = s2sad.grad(fc.ten_helpers)
    for x in (0.1, 0.2, 0.3):
        g(x)
    helpers = [getattr(fc, f"h{i}") for i in range(10)]
    for h in helpers:  # shared by every caller; h0 is called twice but transformed once (or written in)
        assert calls.count(h.__name__) <= 1
        assert len(get_cache(h, ("x",), strict=False).table) <= 1
    assert calls.count("ten_helpers") <= 1


def test_generated_code_shows_the_pairs():
    text = s2sad.source(fc.uses_helpers, argnums=(0, 1))
    assert "sq_1, sq_pullback = sq_vjp(x)" in text
    assert "mix_1, mix_pullback = mix_vjp(x, y)" in text
    assert "= sq_pullback(sq_1_bar)" in text


def test_a_ufunc_passed_as_a_value_is_differentiated_by_its_rule():
    check_grads(fc.apply_builtin, (0.5,), modes=("rev", "fwd"))
    check_grads(s2sad.grad(fc.apply_builtin), (0.5,), modes=("rev", "fwd"))  # second order too


def apply_vectorized(x):
    return fc.apply(np.vectorize(math.sin), x)


def test_callable_without_source_passed_as_a_value_gets_a_clear_error():
    with pytest.raises(s2sad.NoDerivativeRuleError, match="through a variable"):
        s2sad.grad(apply_vectorized)(0.5)


def test_nested_closure_per_call_is_transformed_once(monkeypatch):
    calls = []
    real = s2sad.transform.transform
    monkeypatch.setattr(s2sad.transform, "transform", lambda fn, *a, **k: calls.append(fn.__name__) or real(fn, *a, **k))
    g = s2sad.grad(fc.nested_capture)
    first = g(0.5)
    g(0.7)
    assert calls.count("inner") <= 2  # once per differentiated-argument pattern, not once per call
    assert first == g(0.5)


def test_closure_over_a_value_that_changes_reads_it_when_called():
    def changes(x):
        y = x
        y = y * 2.0
        f = lambda t: t * y  # noqa: E731
        y = 0.0
        return f(x) + y  # f reads y = 0.0, as Python does

    assert s2sad.grad(changes)(1.0) == 0.0
    check_grads(changes, (1.3,), modes=("rev", "fwd"))


def test_closure_over_a_value_that_changes_kept_as_a_value_is_refused():
    def changes(x):
        y = x * 2.0
        fs = [lambda t: t * y]
        y = 0.0
        return fs[0](x) + y

    with pytest.raises(s2sad.S2SADSyntaxError, match="captures 'y'"):
        s2sad.grad(changes)(1.0)


def branch_then_capture(x, c):
    if c > 0:
        z = np.sin(x)
    else:
        z = x
    scale = lambda t: t * z  # noqa: E731
    return np.sum(scale(x))


def branch_then_product(x, c):
    if c > 0:
        z = np.sin(x)
    else:
        z = x
    return np.sum(z * x)


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_closure_over_a_value_bound_in_both_branches(c):
    check_grads(branch_then_capture, (np.array([0.5, 1.0]), c), modes=("rev", "fwd"))


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_second_order_through_a_callee_that_branches(c):
    # the generated vjp binds z in both branches, and its pullback captures it
    check_grads(s2sad.grad(lambda x: branch_then_product(x, c)), (np.array([0.5, 1.0]),), modes=("rev", "fwd"))


def test_closure_over_a_value_rebound_before_it():
    def rebinds(x):
        z = x * 2.0
        z = np.sin(z)
        scale = lambda t: t * z  # noqa: E731
        return np.sum(scale(x))

    check_grads(rebinds, (np.array([0.5, 1.0]),), modes=("rev", "fwd"))


def test_a_gradient_into_star_args_at_the_forwarding_call():
    def forwards(x, y):
        pair = (x, y)
        return fc.scaled(*pair)

    check_grads(forwards, (1.0, 2.0), modes=("rev", "fwd"))


def test_closure_over_a_list_changed_after_it_reads_it_when_called():
    def late_append(x):
        items = [x]
        last = lambda: items[-1]  # noqa: E731
        items.append(2.0 * x)
        return last()

    assert s2sad.grad(late_append)(1.0) == 2.0
    check_grads(late_append, (1.5,), modes=("rev", "fwd"))


def test_closure_over_a_list_filled_before_it():
    def early_append(x):
        items = [x]
        items.append(2.0 * x)
        last = lambda: items[-1] * items[0]  # noqa: E731
        return last()

    assert s2sad.grad(early_append)(1.5) == 4.0 * 1.5
