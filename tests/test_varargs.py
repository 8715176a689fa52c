"""``*args`` and ``**kwargs`` that carry gradients: received (``def f(*args)``, a callee's ``*args`` and
``**kwargs``), passed on (``g(*args)``, ``g(**kw)``), and ``argnums`` counting the positional arguments
of the call, ``*args`` included, as in JAX. Checked against finite differences in reverse and forward
mode, and at second order where the derivative code can be differentiated again."""

import types

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

RNG = np.random.default_rng(5)
W = RNG.normal(size=(5, 3)) * 0.4
X, H = RNG.normal(size=(2, 2)), RNG.normal(size=(2, 2))


def check(f, args, second=True):
    check_grads(f, args, modes=("rev", "fwd"))
    if second:
        check_grads(s2sad.grad(f), args, argnums=(0,), modes=("rev", "fwd"))


def concat_and_multiply(weights, *args):  # autograd's RNN example
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def rnn_step(W, x, h):
    return np.sum(np.tanh(concat_and_multiply(W, x, h)) ** 2)


def model(params, x, **options):
    return np.tanh(x @ params["W"]) * options["scale"] + options.get("shift", 0.0)


def with_options(W, x, s):
    return np.sum(model({"W": W}, x, scale=s, shift=s * 2.0) ** 2)


def test_a_callee_receives_them_in_args_and_kwargs():
    check(rnn_step, (W, X, H))
    check(with_options, (W[:2], X, 0.7))


def star_loss(*args):
    x, y = args[0], args[1]
    return np.sum(np.sin(x) * y) * args[2] ** 2


ARGS = (RNG.normal(size=2), RNG.normal(size=2), 1.5)


@pytest.mark.parametrize("argnums", [0, 1, 2, -1, (0, 2), (2, 0, 1)])
def test_argnums_count_the_positional_arguments_as_in_jax(argnums):
    g = s2sad.grad(star_loss, argnums=argnums)(*ARGS)
    nums = (argnums,) if isinstance(argnums, int) else argnums
    for i, gi in zip(nums, (g,) if isinstance(argnums, int) else g):
        i %= len(ARGS)
        expected = s2sad.numeric.gradient(lambda v: star_loss(*ARGS[:i], v, *ARGS[i + 1:]), ARGS[i])
        np.testing.assert_allclose(gi, expected, rtol=1e-6)
        assert type(gi) is type(ARGS[i])


def test_every_transform_of_a_function_of_args():
    check(star_loss, ARGS)
    h = s2sad.hessian(star_loss, argnums=2)(*ARGS)
    assert h == pytest.approx(2.0 * np.sum(np.sin(ARGS[0]) * ARGS[1]))
    j = s2sad.jacfwd(star_loss, argnums=1)(*ARGS)
    np.testing.assert_allclose(j, s2sad.jacrev(star_loss, argnums=1)(*ARGS))
    value, g = s2sad.value_and_grad(star_loss, argnums=(0, 2))(*ARGS)
    assert value == pytest.approx(star_loss(*ARGS)) and len(g) == 2


def forward_all(*args, **kwargs):
    return concat_and_multiply(*args, **kwargs)


def pass_star(W, x, h):
    xs = (x, h)
    return np.sum(forward_all(W, *xs) ** 2)


def pass_kwargs(W, x, s):
    options = {"scale": s, "shift": 2.0 * s}
    return np.sum(model({"W": W}, x, **options) ** 2)


def test_passed_on_with_star_and_double_star():
    check(pass_star, (W, X, H))
    check(pass_kwargs, (W[:2], X, 0.7))


def test_the_hessian_through_a_star_call():
    hessian = s2sad.hessian(pass_star, argnums=1)(W, X, H)
    expected = s2sad.numeric.jacobian(lambda x: s2sad.grad(pass_star, argnums=1)(W, x, H), X)
    np.testing.assert_allclose(hessian, expected, rtol=1e-6, atol=1e-8)


def head(x, Wq, Wk):
    return np.tanh(x @ Wq) * (x @ Wk)


def unpacks_into_named_parameters(x, heads):
    return sum(np.sum(head(x, *pair) ** 2) for pair in heads)


def test_a_star_filling_named_parameters_is_unpacked_and_differentiated_again():
    heads = [(RNG.normal(size=(2, 2)), RNG.normal(size=(2, 2))) for _ in range(2)]
    check(lambda x: unpacks_into_named_parameters(x, heads), (X,))
    check_grads(unpacks_into_named_parameters, (X, heads), modes=("rev", "fwd"))
    assert "Wq_arg, Wk_arg = pair" in s2sad.source(unpacks_into_named_parameters, argnums=1)


def joins(x, y):
    xs = [x, y]
    return np.sum(np.stack([*xs, x * y, *xs]) ** 2)


def test_a_starred_list_or_tuple_display_is_a_join():
    check(joins, (X, H))


def through_a_lambda(W, x):
    g = lambda a, b, *rest: np.sum(a @ b) * len(rest) + np.sum(rest[0] ** 2)  # noqa: E731
    return g(x, W, x, 2.0)


def test_a_function_value_receives_them_in_args():
    check(through_a_lambda, (W[:2], X))


def sine_of_second(*a):
    return a[0] * np.sin(a[1])


@pytest.mark.parametrize("fn", [lambda *a: a[0] * np.sin(a[1]), sine_of_second], ids=["lambda", "def"])
def test_argnums_into_the_args_of_a_lambda_or_a_def(fn):
    assert s2sad.grad(fn, argnums=1)(2.0, 0.5) == pytest.approx(2.0 * np.cos(0.5))
    assert s2sad.grad(fn, argnums=0)(2.0, 0.5) == pytest.approx(np.sin(0.5))
    assert s2sad.jvp(fn, (2.0, 0.5), (0.0, 1.0))[1] == pytest.approx(2.0 * np.cos(0.5))
    check_grads(fn, (2.0, 0.5), modes=("rev", "fwd"))
    check_grads(fn, (RNG.normal(size=3), RNG.normal(size=3)), modes=("rev", "fwd"))


@pytest.mark.parametrize("text", ["f = lambda *a: a[0] * np.sin(a[1])", "def f(*a):\n    return a[0] * np.sin(a[1])"],
                         ids=["lambda", "def"])
def test_a_function_of_args_without_source_says_so(text):
    """Differentiated through a wrapper of fixed arity, whose analysis cannot read the function it calls:
    the reason is reported, not a write into the arguments guessed from the bytecode."""
    namespace = {"np": np}
    exec(text, namespace)
    with pytest.raises(s2sad.SourceUnavailableError, match="exec"):
        s2sad.grad(namespace["f"], argnums=1)(2.0, 0.5)
    with pytest.raises(s2sad.SourceUnavailableError, match="exec"):
        s2sad.jvp(namespace["f"], (2.0, 0.5), (0.0, 1.0))


def dict_of_kwargs(x):
    opts = {"a": x * 2.0}
    d = dict(**opts)
    return np.sum(d["a"] * x)


def namespace_of_kwargs(x):
    opts = {"a": x * 2.0}
    d = types.SimpleNamespace(**opts)
    return np.sum(d.a * x)


def test_a_dict_made_by_double_star_is_differentiated():
    check_grads(dict_of_kwargs, (X,), modes=("rev", "fwd"))


def test_a_call_with_no_rule_given_a_gradient_through_double_star_is_refused_not_a_constant():
    # (the ** operand was left out of the call's operands: the result carried no gradient, a silent zero)
    for derivative in (s2sad.grad(namespace_of_kwargs), lambda x: s2sad.jvp(namespace_of_kwargs, (x,), (x,))):
        with pytest.raises(s2sad.NoDerivativeRuleError,
                           match=r"(?s)no derivative rule for .*SimpleNamespace.*test_varargs.py:\d+:\s+d = types"):
            derivative(X)
