"""Functions behind ``functools.wraps`` wrappers, classmethods and staticmethods, as what ``grad``
differentiates and as callees. A wrapper that only forwards (``return f(*args, **kwargs)``) is
followed to the function it wraps (``__wrapped__``); one that does more is differentiated as it is
written, so a wrapper that changes the value never gets the wrapped function's derivative."""

import functools
import time

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

X = np.array([0.3, -0.8, 1.1])
CALLS = []


def forwarding(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        """Only forwards."""
        return fn(*args, **kwargs)
    return wrapper


def timed(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        CALLS.append(time.perf_counter() - start)
        return out
    return wrapper


def doubled(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)
    return wrapper


@forwarding
@forwarding
def cubes(x, scale=1.0):
    return scale * np.sum(x ** 3)


@timed
def logged(x):
    return np.sum(np.sin(x) * x)


@doubled
def halved(x):
    return np.sum(np.exp(x)) * 0.5


def calls_them(x):
    return cubes(x, scale=0.5) + logged(x) * halved(x)


def check(f, args, second=True):
    check_grads(f, args, modes=("rev", "fwd"))
    if second:
        check_grads(s2sad.grad(f), args, argnums=(0,), modes=("rev", "fwd"))


def test_a_forwarding_wrapper_is_followed_to_what_it_wraps():
    check(cubes, (X,))
    text = s2sad.source(calls_them)
    assert "cubes_vjp(x, scale=0.5)" in text  # the wrapped function's own derivative, called directly
    np.testing.assert_allclose(s2sad.grad(cubes)(X), 3 * X ** 2)


def test_a_wrapper_that_does_more_is_differentiated_as_written():
    CALLS.clear()
    check(logged, (X,), second=False)
    assert CALLS  # its own code ran in the derivative
    np.testing.assert_allclose(s2sad.grad(halved)(X), np.exp(X))  # 2 * 0.5: not the wrapped function's 0.5
    check(calls_them, (X,), second=False)


def sines(x):
    return np.sum(np.sin(x) * x)


tripled = functools.wraps(sines)(lambda x: 3.0 * sines(x))  # its source is an assignment, not a def


def test_a_lambda_wrapper_is_differentiated_as_written():
    check(tripled, (X,))
    np.testing.assert_allclose(s2sad.grad(tripled)(X), 3.0 * (np.cos(X) * X + np.sin(X)))


class Model:
    scale = 2.0

    @classmethod
    def energy(cls, x):
        return cls.scale * np.sum(x ** 3)

    @staticmethod
    def penalty(x):
        return np.sum(np.sin(x) ** 2)

    @classmethod
    def total(cls, x):
        return cls.energy(x) + cls.penalty(x)

    def loss(self, x):
        return self.total(x) + Model.penalty(x) + Model.energy(x)


def uses_them(x):
    return Model.energy(x) * Model.penalty(x) + Model().loss(x)


@pytest.mark.parametrize("f", [Model.energy, Model.penalty, Model.total, Model().loss, uses_them],
                         ids=["classmethod", "staticmethod", "classmethod calling both", "method", "callees"])
def test_classmethods_and_staticmethods(f):
    check_grads(f, (X,), modes=("rev", "fwd"))
    np.testing.assert_allclose(s2sad.grad(f)(X), s2sad.numeric.gradient(f, X), rtol=1e-6)
    if f in (Model.energy, Model.penalty):  # (a method called through cls or self is found when called: first order)
        np.testing.assert_allclose(s2sad.hessian(f)(X), s2sad.numeric.hessian(f, X), rtol=1e-4, atol=1e-6)


def test_staticmethod_and_classmethod_callees_at_second_order():
    check(lambda x: Model.energy(x) * Model.penalty(x), (X,))
