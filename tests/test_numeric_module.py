"""s2sad.numeric: stencil weights, convergence orders, and errors as small as the formulas predict."""

import math

import numpy as np
import pytest

import s2sad
import s2sad.testing
from s2sad import numeric

X = math.pi / 3  # the seed's experiment: sin at π/3, f' = 0.5, f'' = -sin, f''' = -cos


@pytest.mark.parametrize("offsets, k, known", [
    ([-1, 0, 1], 1, [-1 / 2, 0, 1 / 2]),
    ([-2, -1, 0, 1, 2], 1, [1 / 12, -2 / 3, 0, 2 / 3, -1 / 12]),
    ([-3, -2, -1, 0, 1, 2, 3], 1, [-1 / 60, 3 / 20, -3 / 4, 0, 3 / 4, -3 / 20, 1 / 60]),
    ([-1, 0, 1], 2, [1, -2, 1]),
    ([-2, -1, 0, 1, 2], 2, [-1 / 12, 4 / 3, -5 / 2, 4 / 3, -1 / 12]),
    ([-2, -1, 0, 1, 2], 3, [-1 / 2, 1, 0, -1, 1 / 2]),
    ([-2, -1, 0, 1, 2], 4, [1, -4, 6, -4, 1]),
    ([0, 1], 1, [-1, 1]),
    ([0, 1, 2], 1, [-3 / 2, 2, -1 / 2]),
    ([0, -1], 1, [1, -1]),
    ([-0.5, 0.5], 1, [-1, 1]),
])
def test_stencil_weights_from_the_vandermonde_system_are_the_known_ones(offsets, k, known):
    np.testing.assert_array_equal(numeric.stencil(offsets, k), np.array(known, dtype=float))


def test_stencil_offsets_and_refusals():
    assert numeric.stencil_offsets(1, 2) == [-1, 0, 1]
    assert numeric.stencil_offsets(1, 4) == [-2, -1, 0, 1, 2]
    assert numeric.stencil_offsets(2, 2) == [-1, 0, 1]
    assert numeric.stencil_offsets(3, 2) == [-2, -1, 0, 1, 2]
    assert numeric.stencil_offsets(1, 1, "forward") == [0, 1]
    assert numeric.stencil_offsets(2, 1, "backward") == [0, -1, -2]
    with pytest.raises(ValueError, match="even order"):
        numeric.stencil_offsets(1, 3)
    with pytest.raises(ValueError, match="distinct offsets"):
        numeric.stencil([0, 0, 1])


def slope(method, hs):
    """The log-log slope of the error of ``method(h)`` (an estimate of cos(π/3) = 0.5)."""
    errors = [abs(method(h) - 0.5) for h in hs]
    return np.polyfit(np.log(hs), np.log(errors), 1)[0]


@pytest.mark.parametrize("method, order, hs", [
    (lambda h: numeric.forward_difference(math.sin, X, h), 1, [1e-2, 1e-3, 1e-4]),
    (lambda h: numeric.backward_difference(math.sin, X, h), 1, [1e-2, 1e-3, 1e-4]),
    (lambda h: numeric.central_difference(math.sin, X, h), 2, [1e-1, 3e-2, 1e-2]),
    (lambda h: numeric.derivative(math.sin, X, order=4, h=h), 4, [2e-1, 1e-1, 5e-2]),
    (lambda h: numeric.derivative(math.sin, X, order=2, h=h, kind="forward"), 2, [1e-1, 3e-2, 1e-2]),
    (lambda h: numeric.derivative(math.sin, X, order=6, h=h), 6, [4e-1, 3e-1, 2e-1]),
])
def test_truncation_error_has_the_order_of_the_formula(method, order, hs):
    assert slope(method, hs) == pytest.approx(order, abs=0.15)


def test_higher_derivatives_by_stencil():
    assert numeric.derivative(math.sin, X, k=2, order=4) == pytest.approx(-math.sin(X), abs=1e-7)
    assert numeric.derivative(math.sin, X, k=3, order=2) == pytest.approx(-math.cos(X), abs=1e-4)


def test_central_difference_at_the_optimal_step_reaches_the_predicted_minimum():
    fx, f3 = math.sin(X), -math.cos(X)
    h = numeric.optimal_step_central(fx, f3)
    assert h == pytest.approx((3 * numeric.EPS * fx / 0.5) ** (1 / 3))
    predicted = numeric.central_error(h, fx, f3)
    assert predicted == pytest.approx(1.5 * numeric.EPS * fx / h)  # rounding = 2 × truncation at the optimum
    assert 1e-11 < predicted < 1e-10
    errors = [abs(numeric.central_difference(math.sin, x, h) - math.cos(x)) for x in X + np.linspace(-1e-3, 1e-3, 21)]
    assert max(errors) < 2 * predicted and np.median(errors) > predicted / 30
    for far in (h * 1e3, h * 1e-3):  # a thousand times too large or too small: far worse
        assert abs(numeric.central_difference(math.sin, X, far) - 0.5) > 30 * predicted
    assert numeric.central_error(h * 2, fx, f3) > predicted and numeric.central_error(h / 2, fx, f3) > predicted


def test_forward_difference_at_the_optimal_step_reaches_the_predicted_minimum():
    fx, f2 = math.sin(X), -math.sin(X)
    h = numeric.optimal_step_forward(fx, f2)
    assert h == pytest.approx(2 * math.sqrt(numeric.EPS))
    predicted = numeric.forward_error(h, fx, f2)
    errors = [abs(numeric.forward_difference(math.sin, x, h) - math.cos(x)) for x in X + np.linspace(-1e-3, 1e-3, 21)]
    assert max(errors) < 2 * predicted and np.median(errors) > predicted / 30
    for far in (h * 1e3, h * 1e-3):
        assert abs(numeric.forward_difference(math.sin, X, far) - 0.5) > 30 * predicted


def test_practical_step_is_the_seeds_rule():
    fx = math.sin(X)
    assert numeric.practical_step(fx, 2) == pytest.approx((6 * numeric.EPS / (math.sqrt(2) * fx)) ** (1 / 3))
    assert numeric.practical_step(fx, 4) == pytest.approx((120 * numeric.EPS / (2 * fx)) ** (1 / 5))
    # at that step the central difference of sin is within 10x of the optimum's predicted error
    h = numeric.practical_step(fx, 2)
    best = numeric.central_error(numeric.optimal_step_central(fx, -0.5), fx, -0.5)
    assert abs(numeric.central_difference(math.sin, X, h) - 0.5) < 10 * best


def test_default_steps_are_near_optimal():
    assert abs(numeric.forward_difference(math.sin, X) - 0.5) < 1e-7
    assert abs(numeric.central_difference(math.sin, X) - 0.5) < 1e-10
    assert abs(numeric.derivative(math.sin, X, order=4) - 0.5) < 1e-12
    x = np.array([0.1, 10.0, 1e4])  # the step scales with |x|
    np.testing.assert_allclose(numeric.central_difference(np.log, x), 1 / x, rtol=1e-8)


def test_richardson_cancels_the_leading_error_terms():
    def central(h):
        return numeric.central_difference(math.exp, 0.0, h)

    errors = [abs(numeric.richardson(central, 0.1, order=2, levels=n) - 1.0) for n in range(4)]
    assert errors[0] > 1e-3 and errors[1] < 1e-6 and errors[2] < 1e-11 and errors[3] < 1e-14
    forward = numeric.richardson(lambda h: numeric.forward_difference(math.exp, 0.0, h), 0.01, order=1, levels=2,
                                 step=1)
    assert abs(forward - 1.0) < 1e-8 and abs(numeric.forward_difference(math.exp, 0.0, 0.01) - 1.0) > 1e-3


def test_complex_step_has_no_rounding_error():
    assert abs(numeric.complex_step(np.sin, X) - 0.5) <= 2**-53  # cos(π/3) rounds to 0.5 + 1 ulp
    x = np.linspace(0.1, 2.0, 7)
    np.testing.assert_allclose(numeric.complex_step(lambda v: np.exp(v) / np.sqrt(v), x),
                               np.exp(x) / np.sqrt(x) - 0.5 * np.exp(x) * x**-1.5, rtol=1e-15)


def loss(p):
    return np.sum(np.tanh(p["W"] @ p["x"])) * p["c"] + p["c"] ** 3 + np.sum(p["pair"][0] * p["pair"][1] ** 2)


def params():
    rng = np.random.default_rng(0)
    return {"W": rng.standard_normal((3, 2)), "x": rng.standard_normal(2), "c": 0.7,
            "pair": [rng.standard_normal(2), rng.standard_normal(2)]}


@pytest.mark.parametrize("method, tol", [("central", 1e-8), ("forward", 1e-6), ("backward", 1e-6),
                                         ("complex", 1e-14)])
def test_gradient_over_a_pytree_matches_s2sad(method, tol):
    p = params()
    numerical, exact = numeric.gradient(loss, p, method=method), s2sad.grad(loss)(p)
    assert type(numerical["c"]) is float and isinstance(numerical["pair"], list)
    for a, b in zip(s2sad.pytree.leaves(numerical), s2sad.pytree.leaves(exact)):
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)


def test_jacobian_over_a_pytree_matches_s2sad():
    def f(p):
        return np.tanh(p["W"] @ p["x"]) * p["c"]

    p = {k: v for k, v in params().items() if k != "pair"}
    numerical = numeric.jacobian(f, p)
    assert numerical["W"].shape == (3, 3, 2) and numerical["c"].shape == (3,)
    for i in range(3):  # row i: the gradient of output i
        exact = s2sad.grad(lambda q, i=i: f(q)[i])(p)
        for k in p:
            np.testing.assert_allclose(numerical[k][i], exact[k], rtol=0, atol=1e-9)
    np.testing.assert_allclose(numeric.jacobian(np.sin, np.ones((2, 2))), np.einsum("ik,jl->ijkl", np.eye(2),
                               np.eye(2)) * np.cos(1.0), atol=1e-10)


def test_hessian_over_a_pytree():
    def f(p):
        return p["a"] ** 2 * p["b"] + np.sum(p["v"] ** 3) * p["a"]

    p = {"a": 1.5, "b": -2.0, "v": np.array([0.5, 2.0])}
    h = numeric.hessian(f, p)
    assert h["a"]["a"] == pytest.approx(2 * p["b"], abs=1e-6) and h["a"]["b"] == pytest.approx(2 * p["a"], abs=1e-6)
    np.testing.assert_allclose(h["v"]["v"], np.diag(6 * p["v"] * p["a"]), atol=1e-6)
    np.testing.assert_allclose(h["a"]["v"], 3 * p["v"] ** 2, atol=1e-6)
    assert h["v"]["a"].shape == (2,) and h["b"]["b"] == pytest.approx(0.0, abs=1e-6)
    x = np.array([0.3, -0.4, 0.8])
    np.testing.assert_allclose(numeric.hessian(lambda v: np.sum(np.sin(v)) * v[0], x),
                               s2sad.hessian(lambda v: np.sum(np.sin(v)) * v[0])(x), atol=1e-6)


def test_gradient_refuses_a_vector_output_and_an_unknown_method():
    with pytest.raises(TypeError, match="scalar-valued"):
        numeric.gradient(np.sin, np.ones(2))
    with pytest.raises(ValueError, match="method"):
        numeric.gradient(np.sum, np.ones(2), method="spline")


def test_check_grads_uses_the_central_difference_of_this_module(monkeypatch):
    calls = []
    central = numeric.central_difference

    def counting(f, x, h=None):
        calls.append(h)
        return central(f, x, h)

    monkeypatch.setattr(s2sad.testing, "central_difference", counting)
    s2sad.testing.check_grads(lambda x: np.sum(np.sin(x)), (np.ones(3),), directions=2, eps=1e-5)
    assert calls == [1e-5, 1e-5]


def test_docstring_examples():
    import doctest

    result = doctest.testmod(numeric, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
