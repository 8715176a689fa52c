"""Custom rules, non-differentiable declarations, checkpointing, Jacobians."""

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads, check_rrule, peak_memory

CALLS = {"rule": 0, "pullback": 0}


def softplus(x):
    return np.log1p(np.exp(x))


@s2sad.rrule(softplus)
def softplus_rrule(x):
    CALLS["rule"] += 1

    def softplus_pullback(out_bar):
        CALLS["pullback"] += 1
        return (out_bar / (1.0 + np.exp(-x)),)

    return softplus(x), softplus_pullback


def uses_softplus(x, w):
    return np.sum(softplus(x * w) ** 2)


def test_registered_rrule_is_called_instead_of_the_source():
    before = dict(CALLS)
    x, w = np.array([0.3, -1.2, 2.0]), 0.7
    check_grads(uses_softplus, (x, w))
    assert CALLS["rule"] > before["rule"] and CALLS["pullback"] > before["pullback"]
    assert "softplus_rrule(" in s2sad.source(uses_softplus, argnums=(0, 1))


def test_check_rrule_accepts_a_right_rule_and_catches_a_wrong_one():
    check_rrule(softplus, np.array([0.3, -1.2]))

    def cube(x):
        return x ** 3

    @s2sad.rrule(cube)
    def cube_rrule(x):
        return cube(x), lambda g: (g * 2.0 * x * x,)  # wrong: 2 instead of 3

    with pytest.raises(AssertionError, match="finite differences"):
        check_rrule(cube, 1.3)


def rule_with_none(x, n):
    return x * n


@s2sad.rrule(rule_with_none)
def rule_with_none_rrule(x, n):
    return x * n, lambda g: (g * n, None)


def test_none_in_a_pullback_means_no_gradient():
    gx, gn = s2sad.grad(lambda x, n: rule_with_none(x, n) + n * 0.0, argnums=(0, 1))(2.0, 3.0)
    assert gx == 3.0 and gn == 0.0


def noisy_scale(x):
    return float(np.round(x * 10.0)) / 10.0


s2sad.nondifferentiable(noisy_scale)


def test_nondifferentiable_function_passes_no_gradient():
    assert s2sad.grad(lambda x: x * noisy_scale(x))(1.26) == 1.3


def step(h, W):
    a = W @ h
    b = np.tanh(a)
    c = b * b + a
    d = np.sin(c) * b
    e = d + 0.1 * c
    return np.tanh(e) * 0.5 + h * 0.5


step_ckpt = s2sad.checkpoint(step)


def unrolled(h, W):
    for t in range(150):
        h = step(h, W)
    return np.sum(h * h)


def unrolled_ckpt(h, W):
    for t in range(150):
        h = step_ckpt(h, W)
    return np.sum(h * h)


def test_checkpoint_recomputes_instead_of_saving():
    rng = np.random.default_rng(5)
    h, W = rng.standard_normal((40, 64)) * 0.1, rng.standard_normal((40, 40)) * 0.1
    g_plain = s2sad.grad(unrolled, argnums=(0, 1))
    g_ckpt = s2sad.grad(unrolled_ckpt, argnums=(0, 1))
    for a, b in zip(g_plain(h, W), g_ckpt(h, W)):
        np.testing.assert_array_equal(a, b)  # the same operations, recomputed: identical gradients
    assert peak_memory(g_ckpt, h, W) <= 0.25 * peak_memory(g_plain, h, W)


def test_checkpointed_function_matches_finite_differences():
    rng = np.random.default_rng(6)
    check_grads(lambda h, W: np.sum(step_ckpt(h, W) ** 2), (rng.standard_normal(4), rng.standard_normal((4, 4))))


def test_jacrev_and_jacobian():
    def f(x):
        y = x * 1.0
        for i in range(3):
            y = np.sin(y) * x[::-1]
        return y

    x = np.array([0.3, -0.7, 1.1])
    J = s2sad.jacrev(f)(x)
    eps = 1e-6
    numeric = np.stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s2sad.jacobian(f)(x), J)  # method="rev", the default
    Jx, Jw = s2sad.jacrev(lambda x, w: x * w, argnums=(0, 1))(x, 2.0)
    np.testing.assert_allclose(Jx, 2.0 * np.eye(3))
    np.testing.assert_allclose(Jw, x)


def smooth_abs(x):
    return np.sqrt(x * x + 1e-3)


FRULE_CALLS = {"n": 0}


@s2sad.frule(smooth_abs)
def smooth_abs_frule(primals, tangents):
    FRULE_CALLS["n"] += 1
    (x,), (x_dot,) = primals, tangents
    out = smooth_abs(x)
    return out, x_dot * x / out


def uses_smooth_abs(x):
    return np.sum(smooth_abs(x * 2.0) ** 2)


def test_frule_is_used_by_forward_mode():
    before = FRULE_CALLS["n"]
    check_grads(uses_smooth_abs, (np.array([0.3, -1.2]),), modes=("fwd", "rev"))
    assert FRULE_CALLS["n"] > before
    from s2sad.testing import check_frule

    check_frule(smooth_abs, np.array([0.3, -1.2]))


def test_checkpointed_loop_memory_grows_like_sqrt_n():
    rng = np.random.default_rng(8)
    h0, W = rng.standard_normal((8, 32)) * 0.1, rng.standard_normal((8, 8)) * 0.1

    def loss(h, W, n):
        h = s2sad.checkpointed_loop(step, h, n, W)
        return np.sum(h * h)

    def plain(h, W, n):
        for t in range(n):
            h = step(h, W)
        return np.sum(h * h)

    g = s2sad.grad(loss, argnums=(0, 1))
    for a, b in zip(g(h0, W, 50), s2sad.grad(plain, argnums=(0, 1))(h0, W, 50)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    peaks = [peak_memory(g, h0, W, n) for n in (100, 400, 1600)]
    # sqrt growth: x2 per x4 steps (linear growth would be x4); allow slack for constant terms
    assert peaks[1] / peaks[0] < 3.0 and peaks[2] / peaks[1] < 3.0, peaks
    assert peaks[2] < 0.5 * peak_memory(s2sad.grad(plain, argnums=(0, 1)), h0, W, 1600)


def test_a_closure_given_to_a_rule_that_gives_it_no_cotangent_is_refused():
    """checkpointed_loop's rule differentiates the state and the params, not what step captured: a step
    closing over a value with a gradient would get a zero gradient, so the pullback refuses it."""
    def through_closure(w, h):
        def step(s):
            return np.tanh(s * w)
        return np.sum(s2sad.checkpointed_loop(step, h, 4))

    def through_params(w, h):
        return np.sum(s2sad.checkpointed_loop(lambda s, w: np.tanh(s * w), h, 4, w))

    h = np.array([0.3, 0.5])
    with pytest.raises(s2sad.NoDerivativeRuleError, match="captured a value that carries a gradient"):
        s2sad.grad(through_closure)(0.7, h)
    check_grads(through_params, (0.7, h), modes=("rev", "fwd"))
    check_grads(through_closure, (0.7, h), modes=("fwd",))  # forward mode runs the loop's own source
