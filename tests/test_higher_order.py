"""Derivatives of derivatives: s2sad transforms the code it generated."""

import math
import pathlib

import numpy as np
import pytest
import test_golden

import s2sad
from s2sad.testing import check_grads


def cube_sin(x):
    return x**3 * math.sin(x)


def test_second_and_third_derivatives():
    x = 0.7
    d2 = s2sad.grad(s2sad.grad(cube_sin))(x)
    d3 = s2sad.grad(s2sad.grad(s2sad.grad(cube_sin)))(x)
    assert abs(d2 - (6 * x * math.sin(x) + 6 * x**2 * math.cos(x) - x**3 * math.sin(x))) < 1e-12
    assert abs(d3 - (6 * math.sin(x) + 18 * x * math.cos(x) - 9 * x**2 * math.sin(x) - x**3 * math.cos(x))) < 1e-12


def g(x):
    return x[0] ** 3 * x[1] + np.sin(x[0] * x[1]) + np.exp(x[1])


def test_hessian_against_its_closed_form():
    x = np.array([0.3, 0.8])
    x0, x1 = x
    cross = 3 * x0**2 + np.cos(x0 * x1) - x0 * x1 * np.sin(x0 * x1)
    exact = np.array([[6 * x0 * x1 - x1**2 * np.sin(x0 * x1), cross],
                      [cross, -x0**2 * np.sin(x0 * x1) + np.exp(x1)]])
    np.testing.assert_allclose(s2sad.hessian(g)(x), exact, rtol=1e-12, atol=1e-12)


def test_hvp_equals_hessian_times_vector():
    x, v = np.array([0.3, 0.8]), np.array([1.0, -2.0])
    np.testing.assert_allclose(s2sad.hvp(g, (x,), (v,)), s2sad.hessian(g)(x) @ v, rtol=1e-12)


def test_jvp_of_grad():
    out, tangent = s2sad.jvp(s2sad.grad(cube_sin), (0.7,), (1.0,))
    assert abs(tangent - s2sad.grad(s2sad.grad(cube_sin))(0.7)) < 1e-12


def uses_grad_inside(x):
    slope = s2sad.grad(cube_sin)
    return slope(x) * x


def test_grad_of_a_function_that_calls_grad():
    check_grads(uses_grad_inside, (0.7,))


GOLDEN_ARGS = {
    "poly": (0.5, -0.5), "trig": (0.4,), "augmented": (0.9, 1.7), "containers": (0.3, -1.2),
    "if_elif_else": (0.4,), "for_with_break": (2.0,), "while_loop": (0.4,), "calls_helpers": (0.7, -0.4),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_ARGS))
def test_golden_outputs_can_be_differentiated_again(name):
    fn, argnums = test_golden.CASES[name]
    check_grads(s2sad.grad(fn, argnums=argnums if isinstance(argnums, int) else argnums[0]), GOLDEN_ARGS[name],
                argnums=[argnums if isinstance(argnums, int) else argnums[0]])


def test_every_golden_case_is_listed_here():
    pinned = {p.name.split(".")[0] for p in (pathlib.Path(__file__).parent / "golden").glob("*.py")}
    arrays = {"logistic", "two_layer", "dense", "rnn", "lambda_argument", "higher_order_helper", "nested_def"}
    assert pinned - arrays == set(GOLDEN_ARGS)


@pytest.mark.parametrize("name, args", [
    ("logistic", (np.array([0.2, -0.4, 0.9]), np.arange(12.0).reshape(4, 3) / 10.0, np.array([1.0, -1.0, 1.0, -1.0]))),
    ("two_layer", (np.ones((3, 4)) * 0.2, np.zeros(4), np.ones((4, 2)) * 0.3, np.arange(6.0).reshape(2, 3) / 5.0)),
])
def test_forward_over_reverse_through_array_code(name, args):
    fn, argnums = test_golden.CASES[name]
    a0 = argnums[0] if isinstance(argnums, tuple) else argnums
    g = s2sad.grad(fn, argnums=a0)
    d = np.linspace(-1.0, 1.0, np.size(args[a0])).reshape(np.shape(args[a0]))
    tangents = [np.zeros_like(a) for a in args]
    tangents[a0] = d
    _, hv = s2sad.jvp(g, args, tangents)
    eps = 1e-6
    plus, minus = list(args), list(args)
    plus[a0], minus[a0] = args[a0] + eps * d, args[a0] - eps * d
    np.testing.assert_allclose(hv, (g(*plus) - g(*minus)) / (2 * eps), rtol=1e-5, atol=1e-8)


def tanh_layer(W, x):
    return np.sum(np.tanh(x @ W))


def gradient_norm(W, x):
    g = s2sad.grad(tanh_layer)(W, x)
    return np.sum(g * g)


def test_reverse_over_reverse_through_matrix_products():
    rng = np.random.default_rng(0)
    check_grads(gradient_norm, (rng.standard_normal((3, 2)), rng.standard_normal((4, 3))), argnums=[0, 1])
    check_grads(gradient_norm, (rng.standard_normal(3), rng.standard_normal((4, 3))), argnums=[0, 1])


def sine_steps(x):
    s = x
    for i in range(3):
        s = np.sin(s) * x + i * x  # the pullback reads i: the tape replays it
    return s


def calls_sine_steps(x):
    return sine_steps(x) * 2.0


def test_second_derivative_through_a_callee_with_a_loop():
    # the callee's generated vjp is transformed again: its pullback replays the loop
    # variable under the same name, in a nested function
    check_grads(s2sad.grad(calls_sine_steps), (0.7,))


def reuses_a_loop_name(x):
    s = 0.0
    for i in range(3):
        s = s + x * i

    def scale(y):
        i = 2.0  # a local of its own, not the loop variable read after the loop
        return y * i

    return scale(s)


def test_a_nested_function_may_reuse_a_loop_variable_name():
    check_grads(reuses_a_loop_name, (0.7,))
    assert s2sad.grad(reuses_a_loop_name)(0.7) == 6.0


def tanh_cubed(x, a):
    return np.sum(np.tanh(x * a) ** 3 * x)


def calls_tanh_cubed(x):
    return tanh_cubed(x, 1.5) + np.sum(x ** 2)


def directional(x):  # a first derivative by forward mode, inside the code differentiated
    return s2sad.jvp(calls_tanh_cubed, (x,), (np.array([1.0, -2.0, 0.5]),))[1]


def test_forward_over_forward_through_a_callee():
    x = np.array([0.3, -0.7, 1.1])
    check_grads(directional, (x,), modes=("fwd", "rev"))  # jvp of jvp, and grad of jvp
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(s2sad.grad(directional)(x), s2sad.hessian(calls_tanh_cubed)(x) @ v, rtol=1e-12)


def test_jacfwd_of_jacfwd_is_the_hessian_and_goes_to_third_order():
    x = np.array([0.3, -0.7, 1.1])
    hessian = s2sad.hessian(calls_tanh_cubed)(x)
    np.testing.assert_allclose(s2sad.jacfwd(s2sad.jacfwd(calls_tanh_cubed))(x), hessian, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s2sad.jacrev(s2sad.jacfwd(calls_tanh_cubed))(x), hessian, rtol=1e-12, atol=1e-14)
    third = s2sad.jacfwd(s2sad.jacfwd(s2sad.jacfwd(calls_tanh_cubed)))(x)
    numeric = s2sad.numeric.jacobian(s2sad.hessian(calls_tanh_cubed), x)
    np.testing.assert_allclose(third, numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(third, np.swapaxes(third, 0, 2), rtol=1e-12, atol=1e-14)  # symmetric


def test_jacfwd_of_jacfwd_with_respect_to_a_second_argument():
    jac = s2sad.jacfwd(s2sad.jacfwd(tanh_cubed, argnums=1), argnums=1)(np.array([0.3, -0.7]), 0.8)
    np.testing.assert_allclose(jac, s2sad.hessian(tanh_cubed, argnums=1)(np.array([0.3, -0.7]), 0.8), rtol=1e-12)


def with_count(x, n):
    return np.sum(x ** n)


def test_jvp_inside_differentiated_code_refuses_a_primal_that_is_not_a_float():
    def f(x):
        return s2sad.jvp(with_count, (x, 3), (np.ones(2), 0.0))[1]

    with pytest.raises(TypeError, match="primal 1 is int"):
        s2sad.jvp(f, (np.array([0.3, 0.5]),), (np.ones(2),))


def test_differentiating_jacrev_or_a_pytree_jacfwd_says_so():
    with pytest.raises(s2sad.SourceUnavailableError, match="already an s2sad jacrev function"):
        s2sad.jacfwd(s2sad.jacrev(calls_tanh_cubed))(np.array([0.3, 0.5]))
    pair = s2sad.jacfwd(lambda x: (x * 2.0, np.sin(x)))
    with pytest.raises(TypeError, match="output is a tuple"):
        s2sad.jacfwd(pair)(np.array([0.3, 0.5]))


def test_generated_functions_of_the_same_text_do_not_share_derivatives():
    """Two functions s2sad generates from the same text (``s2sad.jvp`` of two lambdas) have equal code
    objects, which compare by content: their shared transforms are keyed apart by their files (the
    identities of the library values they hold could be reused once one of them is gone)."""
    import types

    from s2sad.cache import _shared
    from s2sad.load import load
    from s2sad.nested import jvp_caller

    text = "# s2sad: a test\ndef f(x):\n    return g(x)\n"
    made = [load(text, f"<s2sad: a test #{k}>", "f", {}, {"g": types.CellType(np.sin)}) for k in range(2)]
    assert made[0].__code__ == made[1].__code__
    assert _shared(made[0], "forward") is not _shared(made[1], "forward")
    sine, cosine = (lambda x: np.sum(np.sin(x))), (lambda x: np.sum(np.cos(x)))
    assert jvp_caller(sine, 1).__code__ == jvp_caller(cosine, 1).__code__
    x = np.array([0.3, 0.5])
    for f, second_derivative in ((sine, -np.sin(x)), (cosine, -np.cos(x))):
        np.testing.assert_allclose(s2sad.jacfwd(s2sad.jacfwd(f))(x), np.diag(second_derivative), rtol=1e-12)


def test_the_derivative_of_a_hessian_is_the_third_derivative():
    x = np.array([0.3, -0.7, 1.1])
    third = s2sad.jacfwd(s2sad.hessian(tanh_cubed))(x, 1.5)
    np.testing.assert_allclose(third, s2sad.jacfwd(s2sad.jacfwd(s2sad.jacfwd(tanh_cubed)))(x, 1.5), rtol=1e-12,
                               atol=1e-14)
    third = s2sad.jacfwd(s2sad.hessian(calls_tanh_cubed))(x)  # (its gradient calls tanh_cubed's pullback, a closure)
    np.testing.assert_allclose(third, s2sad.jacfwd(s2sad.jacfwd(s2sad.jacfwd(calls_tanh_cubed)))(x), rtol=1e-12,
                               atol=1e-14)
    with pytest.raises(s2sad.SourceUnavailableError, match="already an s2sad hessian function"):
        s2sad.grad(lambda y: np.sum(s2sad.hessian(tanh_cubed, argnums=(0, 1))(y, 0.5)[0][0]))(x)


def joined_lists(xs):
    ys = xs + xs
    return np.sum(ys[0]) * np.sum(ys[3] ** 2)


def repeated_list(xs):
    ys = xs * 2
    first, *rest = ys
    return np.sum(first ** 2) * sum(np.sum(r) for r in rest)


@pytest.mark.parametrize("f", [joined_lists, repeated_list])
def test_second_derivatives_through_a_list_joined_or_repeated(f):
    # (the gradient differentiated again is made for arguments of any type: `xs + xs` of a parameter was
    # taken for arithmetic, and its adjoint `g + g` joined the lists: a second derivative silently wrong)
    xs = [np.array([0.3, 0.4]), np.array([-0.2, 0.6])]
    check_grads(f, (xs,), modes=("rev", "fwd"), order=2)
