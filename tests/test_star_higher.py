"""Derivatives of derivatives through calls that pass values carrying a gradient with ``*`` or ``**``
(generated code calls ``star_vjp``/``star_jvp``), through function values whose ``*args`` or ``**kwargs``
receive them, and through methods called as function values (``fn = self.f``): the derivative code is
differentiated again as the Python it runs. Checked against finite differences of the first derivative:
reverse over reverse, forward over reverse, forward over forward and reverse over forward, with a
third-order spot check."""

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

X = np.array([0.3, 0.7])
BOTH = ("rev", "fwd")


def g(y, a, b=1.0):
    return np.sum(np.sin(y) * a * b)


def f(fn, y, *args):
    return fn(y, *args)


def through_a_star(x):
    return f(g, x, x * 2.0, np.cos(x))


def two_levels(x):
    return passes_on(g, x, x * 2.0, np.cos(x)) * np.sum(x)


def passes_on(fn, y, *args):
    return f(fn, y, *args) ** 2


def receives_args(x, *args):
    return g(x, *args)


def calls_with_args(x):
    return receives_args(x, x * 2.0, np.cos(x))


def bound_at_run_time(x):  # g has a default: which parameters *t fills is known when it runs
    t = (x, np.cos(x))
    return g(x, *t)


def rest_of(y, *rest):
    return np.sum(np.sin(y) * rest[0]) * np.sum(rest[1] ** 2)


def a_value_receiving_args(x):
    fn = rest_of
    return fn(x, x * 2.0, np.cos(x))


def a_star_into_args(x):
    t = (x * 2.0, np.cos(x))
    return f(rest_of, x, *t)


def a_lambda_receiving_args(x):
    fn = lambda y, *rest: np.sum(np.sin(y) * rest[0]) * rest[1]  # noqa: E731
    return fn(x, x * 2.0, 1.5)


def opts_of(y, **opts):
    return np.sum(np.sin(y) * opts["a"]) * np.sum(opts["b"])


def into_named_by_double_star(x):
    opts = {"a": x * 2.0, "b": np.cos(x)}
    return g(x, **opts)


def into_kwargs_by_double_star(x):
    opts = {"a": x * 2.0, "b": np.cos(x)}
    return opts_of(x, **opts)


def a_value_into_kwargs(x):
    fn = opts_of
    return fn(x, a=x * 2.0, b=np.cos(x))


def a_closure_called_with_star(x):  # the captured w carries a gradient too
    w = np.cos(x)
    fn = lambda y, a: np.sum(np.sin(y) * a * w)  # noqa: E731
    t = (x * 2.0,)
    return fn(x, *t)


def a_closure_passed_on(x):
    w = np.cos(x)
    return f(lambda y, a: np.sum(np.sin(y) * a * w), x, x * 2.0)


class Model:
    def __init__(self):
        self.w = 2.0

    def f(self, x):
        return np.sum(np.sin(x) * self.w)

    def loss(self, x):
        fn = self.f  # a method as a function value
        return fn(x) ** 2

    def passed(self, x):
        return apply(self.f, x) * np.sum(x)

    def with_args(self, y, *rest):
        return np.sum(np.sin(y) * rest[0]) * self.w

    def method_receiving_args(self, x):
        fn = self.with_args
        return fn(x, np.cos(x)) ** 2


def apply(fn, x):
    return fn(x) ** 2


class Statics:
    scale = 2.0

    @staticmethod
    def s(x):
        return np.sum(np.sin(x) ** 2)

    @classmethod
    def c(cls, x):
        return np.sum(np.cos(x) * cls.scale)

    @classmethod
    def loss(cls, x):
        fs, fc = cls.s, cls.c
        return fs(x) * fc(x)


def method_loss(x):
    return Model().loss(x)


def method_passed(x):
    return Model().passed(x)


def method_receiving_args(x):
    return Model().method_receiving_args(x)


def static_and_class_methods(x):
    return Statics.loss(x)


CASES = [through_a_star, two_levels, calls_with_args, bound_at_run_time, a_value_receiving_args, a_star_into_args,
         a_lambda_receiving_args,
         into_named_by_double_star, into_kwargs_by_double_star, a_value_into_kwargs, a_closure_called_with_star,
         a_closure_passed_on, method_loss, method_passed, method_receiving_args, static_and_class_methods]


@pytest.mark.parametrize("fn", CASES, ids=lambda fn: fn.__name__)
def test_second_order(fn):
    check_grads(fn, (X,), modes=BOTH)  # (first order)
    check_grads(s2sad.grad(fn), (X,), modes=BOTH)  # reverse over reverse, forward over reverse
    hessian = s2sad.hessian(fn)(X)
    np.testing.assert_allclose(hessian, s2sad.numeric.jacobian(s2sad.grad(fn), X), rtol=1e-6, atol=1e-8)


def a_function_value(x):
    fn = g
    return fn(x, x * 2.0)


def a_nested_def_with_defaults(x):  # (a new function on every call: its jvp is rebound to its defaults)
    scale = float(np.size(x))

    def h(t, a=scale, *, b=0.5):
        return np.sum(np.exp(t) * a * b)
    return h(x) + h(2.0 * x, b=1.5)


FORWARD_CASES = [*CASES, a_function_value, a_nested_def_with_defaults]


@pytest.mark.parametrize("fn", FORWARD_CASES, ids=lambda fn: fn.__name__)
def test_second_order_of_forward_mode(fn):
    expected = s2sad.numeric.jacobian(s2sad.grad(fn), X)
    np.testing.assert_allclose(s2sad.jacfwd(s2sad.jacfwd(fn))(X), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(s2sad.jacrev(s2sad.jacfwd(fn))(X), expected, rtol=1e-6, atol=1e-8)


def a_closure_receiving_args(x):
    w = np.cos(x)
    fn = lambda y, *rest: np.sum(np.sin(y) * rest[0] * w)  # noqa: E731
    return fn(x, x * 2.0)


def test_forward_over_forward_through_a_closure_receiving_args_is_refused():
    for second in (s2sad.jacfwd(s2sad.jacfwd(a_closure_receiving_args)),
                   s2sad.jacrev(s2sad.jacfwd(a_closure_receiving_args))):
        with pytest.raises(s2sad.NoDerivativeRuleError, match="derivatives of forward-mode derivatives .* captured a "
                                                              "value carrying a derivative and whose \\*args .* "
                                                              "reverse mode"):
            second(X)
    check_grads(s2sad.grad(a_closure_receiving_args), (X,), modes=BOTH)  # (as the refusal advises)
    np.testing.assert_allclose(s2sad.hessian(a_closure_receiving_args)(X),
                               s2sad.numeric.jacobian(s2sad.grad(a_closure_receiving_args), X), rtol=1e-6, atol=1e-8)


def test_the_hessian_of_a_star_call_is_exact():
    hessian = s2sad.hessian(through_a_star)(X)  # sum(x sin(2x)): 4 cos(2x) - 4x sin(2x) on the diagonal
    np.testing.assert_allclose(hessian, np.diag(4.0 * np.cos(2.0 * X) - 4.0 * X * np.sin(2.0 * X)), rtol=1e-12)


def third_order(fn):
    second = s2sad.grad(lambda x: s2sad.grad(fn)(x)[0])
    return lambda x: second(x)[1]


@pytest.mark.parametrize("fn", [through_a_star, a_value_receiving_args, into_kwargs_by_double_star, method_loss],
                         ids=lambda fn: fn.__name__)
def test_third_order(fn):
    check_grads(third_order(fn), (X,), modes=BOTH)


def test_a_third_derivative_through_a_closure_capturing_a_derivative_is_refused():
    # (as for any function value capturing one: the second derivative reads the captures' cotangent through
    # captures_adjoint, which has no rule)
    with pytest.raises(s2sad.NoDerivativeRuleError, match="third derivative of code calling a lambda or nested def"):
        s2sad.grad(third_order(a_closure_passed_on))(X)


def sum_of_keyed(y, **kw):
    return np.sum(np.sin(y) * kw["a-b"])


def passes_a_key_that_is_no_name(x):
    return sum_of_keyed(x, **{"a-b": x * 2.0})


def test_a_keyword_that_cannot_name_a_parameter_is_refused_at_second_order():
    check_grads(passes_a_key_that_is_no_name, (X,), modes=BOTH)
    for second in (s2sad.hessian(passes_a_key_that_is_no_name), s2sad.jacfwd(s2sad.jacfwd(passes_a_key_that_is_no_name))):
        with pytest.raises(s2sad.NoDerivativeRuleError, match="derivatives of derivatives of a call passing the "
                                                              "keyword 'a-b' with \\*\\* are not supported"):
            second(X)
