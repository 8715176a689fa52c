"""``scipy.integrate.odeint``, differentiated with respect to ``y0``, ``t`` and the entries of ``args``:
reverse mode by the adjoint method, forward mode by the forward sensitivity equations (both integrated
with ``odeint`` at the caller's tolerances). Checked against a closed form and against finite
differences with tight tolerances; a ``func`` that captures a value carrying a gradient, and second
derivatives, are refused.
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

integrate = pytest.importorskip("scipy.integrate")
odeint = integrate.odeint


CHECK = {"eps": 1e-4, "rtol": 1e-6, "atol": 1e-8, "modes": ("rev", "fwd")}  # finite differences'


# ----- exponential decay: y(t) = y0 exp(-k (t - t0)), in closed form -----


def decay(y, t, k):
    return -k * y


def decay_loss(y0, k, t):
    ys = odeint(decay, y0, t, args=(k,), rtol=1e-12, atol=1e-12)
    return np.sum(ys[:, 0] * np.array([1.0, -2.0, 3.0])) + np.sum(ys[-1] ** 2)


def decay_exact(y0, k, t):
    """``decay_loss`` and its gradient in closed form."""
    e = np.exp(-k * (t - t[0]))
    w = np.array([1.0, -2.0, 3.0])
    ys = y0[0] * e
    value = np.sum(ys * w) + np.sum((y0 * e[-1]) ** 2)
    y0_bar = np.array([np.sum(w * e), 0.0]) + 2.0 * y0 * e[-1] ** 2
    dys_dk = -(t - t[0]) * ys
    k_bar = np.sum(w * dys_dk) + np.sum(2.0 * (y0 * e[-1]) ** 2 * -(t[-1] - t[0]))
    dys_dt = -k * ys  # moving t[i] for i > 0; moving t[0] shifts every later value the other way
    t_bar = w * dys_dt
    t_bar[-1] += np.sum(2.0 * (y0 * e[-1]) ** 2) * -k
    t_bar[0] = -np.sum(t_bar[1:])
    return value, (y0_bar, k_bar, t_bar)


def test_exponential_decay_matches_the_closed_form_in_both_modes():
    y0, k, t = np.array([1.5, -0.5]), 0.7, np.array([0.2, 0.9, 1.6])
    want_value, want = decay_exact(y0, k, t)
    value, grads = s2sad.value_and_grad(decay_loss, argnums=(0, 1, 2))(y0, k, t)
    np.testing.assert_allclose(value, want_value, rtol=1e-9)
    for got, expected in zip(grads, want):
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)
    assert isinstance(grads[1], float) and grads[0].shape == (2,) and grads[2].shape == (3,)
    for i, expected in enumerate(want):  # forward mode: one tangent per argument
        tangents = [np.zeros(2), 0.0, np.zeros(3)]
        direction = np.arange(1.0, np.size(expected) + 1.0).reshape(np.shape(expected)) if np.ndim(expected) else 1.0
        tangents[i] = direction
        _, out_dot = s2sad.jvp(decay_loss, (y0, k, t), tuple(tangents))
        np.testing.assert_allclose(out_dot, np.sum(expected * direction), rtol=1e-8, atol=1e-10)
    check_grads(decay_loss, (y0, k, t), **CHECK)


# ----- Lotka-Volterra: four parameters in one array -----


def lotka_volterra(y, t, theta):
    alpha, beta, delta, gamma = theta[0], theta[1], theta[2], theta[3]
    prey, predator = y[0], y[1]
    return np.array([alpha * prey - beta * prey * predator, delta * prey * predator - gamma * predator])


def lv_loss(y0, theta):
    ys = odeint(lotka_volterra, y0, np.linspace(0.0, 3.0, 7), args=(theta,), rtol=1e-12, atol=1e-12)
    return np.sum((ys - 1.0) ** 2)


def test_lotka_volterra_parameters():
    y0, theta = np.array([1.2, 0.8]), np.array([1.1, 0.4, 0.3, 0.9])
    check_grads(lv_loss, (y0, theta), **CHECK)
    np.testing.assert_allclose(s2sad.jacrev(lv_loss, argnums=1)(y0, theta), s2sad.jacfwd(lv_loss, argnums=1)(y0, theta),
                               rtol=1e-7)


# ----- a damped oscillator, in y0 and the output times; func returns a list -----


def oscillator(y, t):
    return [y[1], -4.0 * y[0] - 0.3 * y[1] + 0.5 * np.cos(t)]


def oscillator_loss(y0, t):
    ys = odeint(oscillator, y0, t, rtol=1e-12, atol=1e-12)
    return np.sum(ys[:, 0] * t) + ys[-1, 1] ** 2


def test_damped_oscillator_in_y0_and_t():
    check_grads(oscillator_loss, (np.array([1.0, -0.4]), np.array([0.0, 0.4, 1.1, 1.7, 2.5])), **CHECK)


def test_times_running_backwards():
    check_grads(oscillator_loss, (np.array([0.3, 0.2]), np.array([2.0, 1.2, 0.5])), **CHECK)


# ----- a pendulum with two parameters passed separately, args given by position -----


def pendulum(y, t, g_over_l, damping):
    return np.array([y[1], -g_over_l * np.sin(y[0]) - damping * y[1]])


def pendulum_loss(theta0, g_over_l, damping):
    y0 = np.array([theta0, 0.0])
    ys = odeint(pendulum, y0, np.array([0.0, 0.5, 1.0, 2.0]), (g_over_l, damping), rtol=1e-12, atol=1e-12)
    return np.sum(np.cos(ys[:, 0])) + ys[-1, 1]


def test_pendulum_two_parameters():
    check_grads(pendulum_loss, (0.8, 9.81, 0.2), **CHECK)
    grads = s2sad.grad(pendulum_loss, argnums=(0, 1, 2))(0.8, 9.81, 0.2)
    assert all(isinstance(g, float) for g in grads)


# ----- the forms odeint takes: a scalar state, tfirst, a dict of parameters, constants among args -----


def logistic(y, t, r):
    return r * y * (1.0 - y)


def test_scalar_state_and_list_of_times():
    f = lambda y0, r: odeint(logistic, y0, [0.0, 0.5, 2.0], args=(r,), rtol=1e-12, atol=1e-12)[-1, 0]  # noqa: E731
    check_grads(f, (0.2, 1.3), **CHECK)
    y0_bar, r_bar = s2sad.grad(f, argnums=(0, 1))(0.2, 1.3)
    assert isinstance(y0_bar, float) and isinstance(r_bar, float)


def forced(t, y, params, n):
    return -params["rate"] * y + params["drive"] * np.sin(n * t)


def forced_loss(y0, params):
    ys = odeint(forced, y0, np.linspace(0.0, 1.5, 5), args=(params, 2), tfirst=True, rtol=1e-12, atol=1e-12)
    return np.sum(ys ** 2)


def test_tfirst_and_a_dict_of_parameters_beside_an_int():
    params = {"rate": 0.6, "drive": np.array([0.5, -0.3])}
    check_grads(forced_loss, (np.array([1.0, 2.0]), params), **CHECK)
    _, params_bar = s2sad.grad(forced_loss, argnums=(0, 1))(np.array([1.0, 2.0]), params)
    assert set(params_bar) == {"rate", "drive"} and isinstance(params_bar["rate"], float)


def test_only_some_arguments_carry_a_gradient():
    y0, theta = np.array([1.2, 0.8]), np.array([1.1, 0.4, 0.3, 0.9])
    check_grads(lambda theta: lv_loss(y0, theta), (theta,), **CHECK)
    check_grads(lambda y0: lv_loss(y0, theta), (y0,), **CHECK)


def test_inside_a_loop_of_shooting_segments():
    def shoot(y0, theta):
        total, y = 0.0, y0
        for i in range(3):
            ys = odeint(lotka_volterra, y, np.array([0.5 * i, 0.5 * i + 0.5]), args=(theta,), rtol=1e-12, atol=1e-12)
            y = ys[-1] * 0.9
            total = total + np.sum(y)
        return total

    check_grads(shoot, (np.array([1.2, 0.8]), np.array([1.1, 0.4, 0.3, 0.9])), **CHECK)


def test_the_value_is_odeints():
    y0, theta = np.array([1.2, 0.8]), np.array([1.1, 0.4, 0.3, 0.9])
    value, _ = s2sad.value_and_grad(lv_loss)(y0, theta)
    assert value == lv_loss(y0, theta)


# ----- refusals -----


def closure_loss(y0, k):
    def rhs(y, t):
        return -k * y

    return np.sum(odeint(rhs, y0, np.array([0.0, 1.0])))


def test_a_func_capturing_a_value_with_a_gradient_is_refused():
    with pytest.raises(s2sad.NoDerivativeRuleError) as info:
        s2sad.grad(closure_loss, argnums=1)(np.array([1.0]), 0.5)
    message = str(info.value)
    assert "does not differentiate its argument 'rhs'" in message and "through args" in message
    assert f"{__file__}:{closure_loss.__code__.co_firstlineno + 4}" in message
    with pytest.raises(s2sad.NoDerivativeRuleError, match="through args"):
        s2sad.jvp(closure_loss, (np.array([1.0]), 0.5), (np.array([0.0]), 1.0))
    # capturing a constant is fine: only y0 is differentiated here
    np.testing.assert_allclose(s2sad.grad(closure_loss)(np.array([1.0]), 0.5), [np.exp(-0.5) + 1.0], rtol=1e-6)


def test_a_gradient_through_an_integrator_option_is_refused():
    def loss(y0, tol):
        return np.sum(odeint(decay, y0, np.array([0.0, 1.0]), args=(0.5,), rtol=tol))

    with pytest.raises(s2sad.NoDerivativeRuleError, match="does not differentiate its argument 'tol'"):
        s2sad.grad(loss, argnums=1)(np.array([1.0]), 1e-8)


def test_full_output_is_refused():
    def loss(y0):
        ys, info = odeint(decay, y0, np.array([0.0, 1.0]), args=(0.5,), full_output=True)
        return np.sum(ys)

    with pytest.raises(s2sad.NoDerivativeRuleError, match="full_output"):
        s2sad.grad(loss)(np.array([1.0]))


# ----- second derivatives: the adjoint method's own code, differentiated with odeint's rule -----


def decay_sum(k, y0):
    return np.sum(odeint(decay, y0, np.array([0.0, 0.5, 1.5]), args=(k,), rtol=1e-12, atol=1e-12))


def test_second_derivatives_match_the_closed_form():
    y0 = np.array([1.0, -2.0])
    k, ts = 0.7, np.array([0.0, 0.5, 1.5])
    want = np.sum(y0) * np.sum(ts ** 2 * np.exp(-k * ts))  # d²/dk² of sum(y0) * sum(exp(-k t))
    np.testing.assert_allclose(s2sad.grad(s2sad.grad(decay_sum))(k, y0), want, rtol=1e-8)
    np.testing.assert_allclose(s2sad.hessian(decay_sum)(k, y0), want, rtol=1e-8)
    cross = -ts * np.exp(-k * ts)  # d²/dk dy0_j = sum over times of -t exp(-k t)
    np.testing.assert_allclose(s2sad.jacfwd(s2sad.grad(decay_sum), argnums=1)(k, y0), np.full(2, np.sum(cross)),
                               rtol=1e-8)


SECOND = {"eps": 1e-4, "rtol": 1e-5, "atol": 1e-7, "directions": 2, "modes": ("rev", "fwd")}


def test_second_derivatives_of_the_pendulum_and_lotka_volterra():
    check_grads(s2sad.grad(pendulum_loss, argnums=(0, 1, 2)), (0.8, 9.81, 0.2), **SECOND)
    check_grads(s2sad.grad(lv_loss, argnums=(0, 1)), (np.array([1.2, 0.8]), np.array([1.1, 0.4, 0.3, 0.9])), **SECOND)


def test_second_derivatives_in_the_times_with_tfirst_and_an_int_argument():
    check_grads(s2sad.grad(oscillator_loss, argnums=(0, 1)), (np.array([1.0, -0.4]), np.array([0.0, 0.4, 1.1, 1.7])),
                **SECOND)

    def loss(y0, rate):
        ys = odeint(forced, y0, np.linspace(0.0, 1.5, 4), args=({"rate": rate, "drive": 0.3}, 2), tfirst=True,
                    rtol=1e-12, atol=1e-12)
        return np.sum(ys ** 2)

    with pytest.raises(TypeError, match="second derivatives through odeint take entries of args= that are floats"):
        s2sad.hessian(loss, argnums=1)(np.array([1.0, 2.0]), 0.6)

    def flat_forced(t, y, rate, drive, n):
        return -rate * y + drive * np.sin(n * t)

    def flat_loss(y0, rate, drive):
        ys = odeint(flat_forced, y0, np.linspace(0.0, 1.5, 4), args=(rate, drive, 2), tfirst=True, rtol=1e-12,
                    atol=1e-12)
        return np.sum(ys ** 2)

    check_grads(s2sad.grad(flat_loss, argnums=(0, 1, 2)), (np.array([1.0, 2.0]), 0.6, np.array([0.5, -0.3])), **SECOND)


def test_third_derivatives_are_refused():
    with pytest.raises((s2sad.NoDerivativeRuleError, s2sad.S2SADSyntaxError)):
        s2sad.grad(s2sad.grad(s2sad.grad(decay_sum)))(0.7, np.array([1.0, -2.0]))


def test_second_derivatives_of_a_lambda_and_of_a_closure_over_constants():
    def cubic(y0, k):
        ys = odeint(lambda y, t, k: -k * y ** 3, y0, np.array([0.0, 0.5, 1.0]), args=(k,), rtol=1e-12, atol=1e-12)
        return np.sum(ys ** 2)

    check_grads(s2sad.grad(cubic, argnums=(0, 1)), (np.array([1.0, 0.2]), 0.4), **SECOND)

    def linear(y0, theta):
        a = np.array([[0.0, 1.0], [-2.0, -0.1]])

        def rhs(y, t, theta):
            return a @ y * theta[0] + theta[1] * np.sin(y)

        return np.sum(odeint(rhs, y0, np.array([0.0, 0.5, 1.0]), args=(theta,), rtol=1e-12, atol=1e-12) ** 2)

    # (reverse over reverse: forward over reverse of a closure over an array used in a matrix product is not
    # given yet, for any function)
    check_grads(s2sad.grad(linear, argnums=(0, 1)), (np.array([1.0, 0.2]), np.array([0.8, 0.3])),
                **{**SECOND, "modes": ("rev",)})
