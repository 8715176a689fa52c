"""Default values of nested functions: evaluated where the function is made, kept by the function object.

A derivative reaches a default that reads a differentiated value through the call (the default is bound
where the function is made and passed at each call that leaves it out), or the transform refuses; function
values of one code with different defaults each keep their own.
"""

import numpy as np
import pytest

import s2sad
from s2sad.errors import S2SADSyntaxError
from s2sad.testing import check_grads


def default_def(x, k):
    def h(y, k=k):
        return k * y
    return h(x) + h(x, 2.0) * k


def default_lambda_of_an_expression(x, k):
    h = lambda y, c=k * 2.0: c * np.sin(y)  # noqa: E731
    return h(x) + h(x, 1.0)


def default_keyword_only(x, k):
    def h(y, *, s=k * 3.0, t=2.0):
        return s * y ** 2 + t
    return h(x) + h(x, s=1.0) + h(x, t=k)


def default_given_by_position(x, k):
    def h(y, c=k):
        return c * y
    return h(x, x) + h(x)


def default_array(x, k):
    def h(y, w=k * np.arange(3.0)):  # noqa: B008  (the case tested)
        return np.sum(w * np.tanh(y))
    return h(x) * h(x[::-1])


def defaults_per_closure(x):
    fs = [lambda y, i=i: y * i for i in range(3)]  # (the late-binding idiom)
    s = 0.0
    for f in fs:
        s = s + f(x) ** 2
    return s


def defaults_per_closure_in_a_loop(x):
    fs = []
    for i in range(1, 4):
        fs.append(lambda y, i=i: np.sin(y * i))
    return sum(f(x) for f in fs)


@pytest.mark.parametrize("f", [default_def, default_lambda_of_an_expression, default_keyword_only,
                               default_given_by_position])
def test_a_default_reading_a_differentiated_value_is_differentiated(f):
    check_grads(f, (0.7, 0.4), argnums=(0, 1), modes=("rev", "fwd"))


def test_an_array_default():
    check_grads(default_array, (np.array([0.3, -0.2, 0.5]), 0.8), argnums=(0, 1), modes=("rev", "fwd"))


@pytest.mark.parametrize("f", [defaults_per_closure, defaults_per_closure_in_a_loop])
def test_function_values_of_one_code_keep_their_own_defaults(f):
    check_grads(f, (0.7,), modes=("rev", "fwd"))
    assert s2sad.grad(f)(0.7) != 0.0


def apply(g, v):
    return g(v)


def default_of_a_function_value(x, k):
    h = lambda y, k=k: k * y  # noqa: E731
    return apply(h, x)


def test_a_differentiated_default_of_a_function_used_as_a_value_is_refused():
    with pytest.raises(S2SADSyntaxError, match=r"default value of this nested function reads 'k'") as e:
        s2sad.grad(default_of_a_function_value, argnums=1)(2.0, 0.5)
    assert "test_defaults.py" in str(e.value)
    assert s2sad.grad(default_of_a_function_value)(2.0, 0.5) == 0.5  # (k held constant: nothing to refuse)
