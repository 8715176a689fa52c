"""Every kind of callable, pytrees as JAX has them, and a ``grad`` rebuilt on every step of a
training loop costing no new transform."""

import numpy as np
import pytest

import s2sad
import s2sad.transform
from s2sad.numeric import gradient as numeric_grad
from s2sad.testing import check_grads

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3))
Y = RNG.normal(size=8)
P = RNG.normal(size=3)


def loss(p, x, y):
    return np.mean((np.tanh(x @ p) - y) ** 2)


@pytest.fixture
def transforms(monkeypatch):
    """The functions transformed from now on, by qualified name."""
    seen = []
    real = s2sad.transform.transform

    def counting(fn, *args, **kwargs):
        seen.append(fn.__qualname__)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(s2sad.transform, "transform", counting)
    return seen


# --- a grad rebuilt on every step --------------------------------------------------------


def _training(steps: int, make):
    p = P.copy()
    for i in range(steps):
        xb, yb = X[i % 4: i % 4 + 4], Y[i % 4: i % 4 + 4]
        g = make(xb, yb)(p)
        np.testing.assert_allclose(g, numeric_grad(lambda q: loss(q, xb, yb), p), rtol=1e-5, atol=1e-8)
        p = p - 0.1 * g
    return p


def test_a_grad_made_on_every_step_is_transformed_once(transforms):
    def make(xb, yb):
        return s2sad.grad(lambda p: loss(p, xb, yb))

    _training(1, make)
    first = list(transforms)
    _training(6, make)
    assert first and transforms == first


def test_value_and_grad_and_defaults_made_on_every_step(transforms):
    def step(xb, yb):
        return s2sad.value_and_grad(lambda p, x=xb, y=yb: loss(p, x, y))

    p = P.copy()
    for i in range(5):
        xb = X[i:i + 3]
        value, g = step(xb, Y[i:i + 3])(p)
        assert value == pytest.approx(loss(p, xb, Y[i:i + 3]))
        np.testing.assert_allclose(g, numeric_grad(lambda q: loss(q, xb, Y[i:i + 3]), p), rtol=1e-5, atol=1e-8)
    assert transforms.count("test_value_and_grad_and_defaults_made_on_every_step.<locals>.step.<locals>.<lambda>") == 1


def _scaled(c):
    return s2sad.grad(lambda x: np.sum(c * x * x))


def test_closures_of_one_code_read_their_own_cells():
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(_scaled(3.0)(x), 6.0 * x)
    np.testing.assert_allclose(_scaled(np.array([1.0, -1.0]))(x), 2.0 * np.array([1.0, -1.0]) * x)
    np.testing.assert_allclose(_scaled(0.5)(x), x)


def _activated(act):
    return s2sad.grad(lambda x: np.sum(act(x)))


def test_closures_holding_different_library_functions_do_not_share():
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(_activated(np.tanh)(x), 1 - np.tanh(x) ** 2)
    np.testing.assert_allclose(_activated(np.sin)(x), np.cos(x))


def _user_act(a):
    return a * a


def _calls(f):
    return s2sad.grad(lambda x: np.sum(f(x)))


def test_closures_holding_user_functions_are_exact():
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(_calls(_user_act)(x), 2 * x)
    np.testing.assert_allclose(_calls(lambda a: a * a * a)(x), 3 * x * x)


def act(a):
    return np.sin(a)


def _through_global():
    return s2sad.grad(lambda x: np.sum(act(x)))


def test_a_redefined_global_is_seen_by_a_new_grad():
    global act
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(_through_global()(x), np.cos(x))
    saved = act
    try:
        def act(a):  # noqa: F811 (a notebook cell defining it again)
            return a * a * a

        np.testing.assert_allclose(_through_global()(x), 3 * x * x)
    finally:
        act = saved


def test_rebuilt_grad_in_forward_mode_and_second_order():
    for c in (0.5, 2.0):
        check_grads(lambda x: np.sum(np.sin(c * x) * x), (np.array([0.2, 0.9]),), modes=("rev", "fwd"))
        h = s2sad.hessian(lambda x: np.sum(c * x ** 3))(np.array([0.5, 1.0]))
        np.testing.assert_allclose(h, np.diag(6 * c * np.array([0.5, 1.0])))
