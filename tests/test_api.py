"""The public API: JAX names and semantics, dtype and shape of gradients, caching."""

import math

import corpus
import numpy as np

import s2sad
import s2sad.api
import s2sad.transform
from s2sad.testing import check_grads


def test_closed_forms_to_1e_12():
    gx, gy = s2sad.grad(corpus.poly, argnums=(0, 1))(0.5, -0.5)
    assert abs(gx - (-17 / 18)) < 1e-12 and abs(gy - 25 / 36) < 1e-12
    assert abs(s2sad.grad(corpus.trig)(math.pi) - (-1.0)) < 1e-12
    gx, gy = s2sad.grad(corpus.log_mix, argnums=(0, 1))(1.0, math.pi)
    assert abs(gx - (1 + math.pi)) < 1e-12 and abs(gy - 2.0) < 1e-12
    gx, gy = s2sad.grad(corpus.product, argnums=(0, 1))(3.0, 2.0)
    assert abs(gx - 4.0) < 1e-12 and abs(gy - (-11.0)) < 1e-12


def test_argnums_int_gives_one_gradient_tuple_gives_tuple():
    assert isinstance(s2sad.grad(corpus.product)(3.0, 2.0), float)
    assert s2sad.grad(corpus.product, argnums=1)(3.0, 2.0) == -11.0
    assert s2sad.grad(corpus.product, argnums=(1,))(3.0, 2.0) == (-11.0,)
    assert s2sad.grad(corpus.product, argnums=(1, 0))(3.0, 2.0) == (-11.0, 4.0)
    assert s2sad.grad(corpus.product, argnums=-1)(3.0, 2.0) == -11.0


def test_bare_decorator_and_decorator_with_arguments():
    @s2sad.grad
    def square(x):
        return x * x

    @s2sad.grad(argnums=1)
    def scaled(x, y):
        return x * y * y

    assert square(3.0) == 6.0
    assert scaled(2.0, 3.0) == 12.0
    assert square.__wrapped__(3.0) == 9.0


def test_value_and_grad():
    value, g = s2sad.value_and_grad(corpus.product, argnums=(0, 1))(3.0, 2.0)
    assert value == (3.0 + 2.0) * (3.0 - 4.0)
    assert g == (4.0, -11.0)


def test_vjp_of_vector_output():
    x = np.array([0.1, 0.2, 0.3])

    def f(x, y):
        return np.sin(x) * y

    out, pullback = s2sad.vjp(f, x, 2.0)
    np.testing.assert_allclose(out, np.sin(x) * 2.0)
    u = np.array([1.0, -1.0, 0.5])
    x_bar, y_bar = pullback(u)
    np.testing.assert_allclose(x_bar, u * np.cos(x) * 2.0)
    assert abs(y_bar - np.sum(u * np.sin(x))) < 1e-15


def test_vjp_gives_none_for_integer_arguments():
    out, pullback = s2sad.vjp(corpus.with_int, 1.5, 3)
    g, n_bar = pullback(1.0)
    assert n_bar is None
    assert abs(g - (3 * 1.5**2 + 3)) < 1e-12


def test_gradient_keeps_shape_and_dtype():
    x32 = np.linspace(0.15, 1.0, 6, dtype=np.float32).reshape(2, 3)
    g = s2sad.grad(corpus.numpy_elementwise)(x32)
    assert g.dtype == np.float32 and g.shape == (2, 3)
    g64 = s2sad.grad(corpus.numpy_elementwise)(x32.astype(np.float64))
    np.testing.assert_allclose(g, g64, rtol=1e-4)
    assert isinstance(s2sad.grad(corpus.numpy_elementwise)(0.3), float)
    assert type(s2sad.grad(corpus.numpy_elementwise)(np.float32(0.3))) is np.float32


def test_gradient_of_sum_is_a_writable_array():
    g = s2sad.grad(lambda x: np.sum(x))(np.ones(3))
    g += 1.0  # a broadcast view would be read-only
    np.testing.assert_array_equal(g, 2.0)


def test_zero_gradient_for_unused_argument():
    gx, gy = s2sad.grad(corpus.ignores_y, argnums=(0, 1))(1.0, 2.0)
    assert (gx, gy) == (2.0, 0.0)
    g = s2sad.grad(lambda x, y: np.sum(x), argnums=1)(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(g, np.zeros(3))


def test_keyword_arguments_and_defaults_pass_through():
    assert s2sad.grad(corpus.with_default)(1.0) == 2.0
    assert s2sad.grad(corpus.with_default)(1.0, scale=5.0) == 5.0
    assert s2sad.grad(corpus.with_default)(1.0, 7.0) == 7.0


def test_inputs_are_not_mutated():
    x = np.array([0.5, 1.0, 1.5])
    before = x.copy()
    s2sad.grad(corpus.numpy_elementwise)(x)
    s2sad.grad(corpus.subscripts)(np.arange(6.0))
    np.testing.assert_array_equal(x, before)


def test_transform_once_per_argument_types(monkeypatch):
    calls = []
    real = s2sad.transform.transform
    monkeypatch.setattr(s2sad.transform, "transform", lambda *a, **k: calls.append(a) or real(*a, **k))

    def cube(x):
        return np.sum(x * x * x)

    g = s2sad.grad(cube)
    for _ in range(3):
        g(2.0)
    assert len(calls) == 1
    g(np.ones(2))  # a new argument type: one more specialisation
    g(np.ones(5))
    assert len(calls) == 2
    s2sad.grad(cube)(3.0)  # a second grad of the same function shares the cache
    assert len(calls) == 2


def test_globals_are_read_at_call_time():
    assert s2sad.grad(corpus.uses_global)(1.0) == 3.0
    old = corpus.SCALE
    corpus.SCALE = 5.0
    try:
        assert s2sad.grad(corpus.uses_global)(1.0) == 5.0
    finally:
        corpus.SCALE = old


def test_closure_variables():
    def make(a):
        def f(x):
            return a * x * x
        return f

    assert s2sad.grad(make(3.0))(2.0) == 12.0
    assert s2sad.grad(make(5.0))(2.0) == 20.0


def test_lambda():
    assert s2sad.grad(lambda x: x**3)(2.0) == 12.0
    assert s2sad.grad(lambda x, y: x * y, argnums=1)(4.0, 1.0) == 4.0


def test_float32_scalar_output_seed_keeps_dtype():
    def f(x):
        return np.sum(x * x)

    x = np.ones(3, dtype=np.float32)
    value, g = s2sad.value_and_grad(f)(x)
    assert value.dtype == np.float32 and g.dtype == np.float32


def _named_like_dispatcher_locals(e, g, out, grads, err, taken, derivative):
    return e * g + out * grads ** 2 + np.sin(err) * taken + derivative


def test_parameters_named_as_the_dispatchers_locals():
    args = (0.3, 1.2, -0.7, 0.9, 0.4, 2.0, 0.5)
    check_grads(_named_like_dispatcher_locals, args)
    assert s2sad.grad(_named_like_dispatcher_locals)(*args) == 1.2
    assert s2sad.value_and_grad(_named_like_dispatcher_locals, argnums=(0, 1))(*args)[1] == (1.2, 0.3)
