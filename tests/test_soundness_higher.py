"""Soundness of derivatives of derivatives and of values whose type is known only at run time:
a call's result, or a captured value, may be a tuple (cotangents add entry by entry, never
concatenate) or a function carrying derivatives through what it captured."""

import math

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

G = s2sad.grad


def cube(x):
    return x * x * x


d_cube = s2sad.grad(cube)


def squared_slope(x):  # 9 x^4: derivatives 36 x^3, 108 x^2, 216 x
    return d_cube(x) ** 2


def sine_of_slope(x):
    return math.sin(d_cube(x)) * x


def test_second_derivative_through_a_grad_function():
    x = 0.7
    assert abs(G(squared_slope)(x) - 36 * x ** 3) < 1e-12
    assert abs(s2sad.jvp(G(squared_slope), (x,), (1.0,))[1] - 108 * x ** 2) < 1e-12
    assert abs(s2sad.hessian(squared_slope)(x) - 108 * x ** 2) < 1e-12
    assert abs(G(G(squared_slope))(x) - 108 * x ** 2) < 1e-12
    for fn in (squared_slope, sine_of_slope):
        check_grads(G(fn), (x,), modes=("rev", "fwd"))  # second order, in reverse and forward mode



def test_a_third_derivative_through_a_grad_function():
    # the second derivative's code calls a pullback through s2sad.linker.vjp_of: differentiated as the
    # generated vjp it calls
    for third in (G(G(G(squared_slope))), s2sad.hessian(G(squared_slope))):
        assert abs(third(0.7) - 216 * 0.7) < 1e-9
    for fn in (squared_slope, sine_of_slope):
        check_grads(G(G(fn)), (0.7,), modes=("rev", "fwd"))


def sum_cubes(x):
    return np.sum(x ** 3)


d_sum_cubes = s2sad.grad(sum_cubes)


def weighted_slopes(x):
    return np.sum(d_sum_cubes(x) ** 2 * np.sin(x))


def test_second_derivative_through_a_grad_function_of_arrays():
    x = np.array([0.3, -0.8, 1.1])
    check_grads(G(weighted_slopes), (x,), modes=("rev", "fwd"))
    hessian = s2sad.hessian(weighted_slopes)(x)
    check_grads(lambda x: G(weighted_slopes)(x)[1], (x,), modes=("rev", "fwd"))
    np.testing.assert_allclose(hessian[1], G(lambda x: G(weighted_slopes)(x)[1])(x), rtol=1e-10)


def pair(x):
    return (x, 2.0 * x)


def reads_a_returned_tuple_twice(x):
    t = pair(x)
    return t[0] * t[1]


def reads_split_parts(x):
    parts = np.split(x, 2)
    return np.sum(parts[0]) + 3.0 * np.sum(parts[1] ** 2)


def reads_slogdet_twice(a):
    r = np.linalg.slogdet(a)
    return r[1] * r[0] + r[1]


def reads_a_captured_tuple_twice(x):
    t = (x, 2.0 * x)
    g = lambda c: c * t[0] * t[1]  # noqa: E731
    return g(1.5)


def test_a_tuple_read_twice_gets_its_cotangents_added():
    assert G(reads_a_returned_tuple_twice)(1.0) == 4.0
    assert G(reads_a_captured_tuple_twice)(1.0) == 6.0
    check_grads(reads_a_returned_tuple_twice, (0.7,), modes=("rev", "fwd"))
    check_grads(reads_a_captured_tuple_twice, (0.7,), modes=("rev", "fwd"))
    check_grads(reads_split_parts, (np.array([0.5, -1.0, 2.0, 0.3]),), modes=("rev", "fwd"))
    check_grads(reads_slogdet_twice, (np.array([[2.0, 0.3], [0.1, 1.5]]),), modes=("rev", "fwd"))


# ----- a derivative function of a closure over a differentiated value (perturbation confusion) -----

def grad_of_a_closure(x):  # x * (d/dy x*y) = x * x
    return x * s2sad.grad(lambda y: x * y)(2.0)


def grad_of_a_named_closure(x):
    inner = lambda y: np.sin(x * y) * y  # noqa: E731
    g = s2sad.grad(inner)
    return x * g(2.0) + g(x)


def grad_of_a_closure_by_argnums(x, w):
    def inner(a, b):
        return a * b * w + np.exp(x * b)
    return s2sad.grad(inner, argnums=1)(x, 0.5) * w


def grad_of_a_nested_def_over_an_array(x):
    def energy(t):
        return np.sum(np.sin(x * t) ** 2)
    return np.sum(s2sad.grad(energy)(np.ones(3)) * x)


def test_a_derivative_function_of_a_closure_carries_its_cotangent():
    assert G(grad_of_a_closure)(1.0) == 2.0  # as JAX: not 1.0, which ignores the closure's x
    assert s2sad.jvp(grad_of_a_closure, (1.0,), (1.0,)) == (1.0, 2.0)
    check_grads(grad_of_a_closure, (0.7,), modes=("rev", "fwd"))
    check_grads(grad_of_a_named_closure, (0.7,), modes=("rev", "fwd"))
    check_grads(grad_of_a_closure_by_argnums, (0.7, -1.3), modes=("rev", "fwd"))
    check_grads(grad_of_a_nested_def_over_an_array, (np.array([0.3, -0.4, 0.8]),), modes=("rev", "fwd"))


def value_and_grad_of_a_closure(x):
    return x * s2sad.value_and_grad(lambda y: x * y)(2.0)[1]


def test_other_derivative_makers_of_a_closure_are_refused():
    for mode in ("rev", "fwd"):
        with pytest.raises(s2sad.NoDerivativeRuleError, match="the function s2sad.value_and_grad differentiates "
                                                              "here captures a value that carries a gradient"):
            if mode == "rev":
                G(value_and_grad_of_a_closure)(1.0)
            else:
                s2sad.jvp(value_and_grad_of_a_closure, (1.0,), (1.0,))


def test_a_second_derivative_through_a_closure_derivative_is_refused():
    # the first derivative's code reads the closure derivative's cotangent through captures_adjoint
    with pytest.raises(s2sad.NoDerivativeRuleError, match="derivatives of derivatives of code that calls "
                                                          "s2sad.grad of a closure"):
        s2sad.hessian(grad_of_a_closure)(0.7)


def tuple_param(p):
    return np.sum(p[0] ** 2) * p[1]


def dict_param(p):
    return np.sum(p["a"] ** 2) * p["b"] + helper_of_tree(p)


def helper_of_tree(q):
    return np.sum(np.sin(q["a"])) * q["b"]


@pytest.mark.parametrize("fn, arg", [
    (tuple_param, (np.array([1.0, 2.0]), 3.0)),
    (dict_param, {"a": np.array([0.5, -1.0]), "b": 1.5}),
])
def test_second_order_of_a_pytree_parameter(fn, arg):
    # the generic gradient code higher order differentiates does not know the parameter is a
    # tuple or dict: its cotangent parts are added entry by entry (`+` concatenated them: zeros)
    h = s2sad.hessian(fn)(arg)
    eps = 1e-6
    flat = [("a" if isinstance(arg, dict) else 0, i) for i in range(2)] + [("b" if isinstance(arg, dict) else 1, None)]

    def grad_at(a):
        return s2sad.grad(fn)(a)

    def bumped(key, i, t):
        a = dict(arg) if isinstance(arg, dict) else list(arg)
        if i is None:
            a[key] = a[key] + t
        else:
            a[key] = a[key].copy()
            a[key][i] += t
        return a if isinstance(arg, dict) else tuple(a)

    for key, i in flat:  # column by column against central differences of grad
        plus, minus = grad_at(bumped(key, i, eps)), grad_at(bumped(key, i, -eps))
        for out_key in (["a", "b"] if isinstance(arg, dict) else [0, 1]):
            fd = (np.asarray(plus[out_key]) - np.asarray(minus[out_key])) / (2 * eps)
            block = np.asarray(h[out_key][key])
            column = block[..., i] if i is not None else block
            np.testing.assert_allclose(column, fd, rtol=1e-5, atol=1e-7)
    check_grads(lambda a: s2sad.grad(fn)(a)[0 if not isinstance(arg, dict) else "b"], (arg,), modes=("rev", "fwd"))


stacked = lambda x: np.sum(np.stack([x * k for k in range(3)]) ** 2) + np.sum(sum(v * x for v in (1.0, 2.0)))  # noqa: E731


def test_a_lambda_with_comprehensions_is_transformed_again():
    """Its file's parsed tree is shared: transforming the lambda must not rewrite it (a second
    transform, forward mode or a second derivative, read the rewritten tree)."""
    x = np.array([0.3, 0.5])
    check_grads(stacked, (x,), modes=("rev", "fwd"))
    np.testing.assert_allclose(s2sad.hessian(stacked)(x), 10.0 * np.eye(2))
    np.testing.assert_allclose(s2sad.jacfwd(s2sad.jacfwd(stacked))(x), 10.0 * np.eye(2))
