"""Supported code s2sad used to refuse (the fuzzer's false refusals), each checked against finite
differences in reverse and forward mode (and at second order where that applies), and what is
still refused, checked for its message and line."""

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

BOTH = ("rev", "fwd")


# ----- a nested function reads a variable when it is called -----


def rebound_after(x):
    a = x * 2.0
    g = lambda y: a * y  # noqa: E731
    s = g(x)
    a = x * 3.0
    return s + g(x)  # 2x^2 + 3x^2


def rebound_before(x):
    z = x * 2.0
    z = np.sin(z)
    scale = lambda t: t * z  # noqa: E731
    return np.sum(scale(x))


def written_after(x):
    a = np.ones(3) * x
    g = lambda t: np.sum(a * t)  # noqa: E731
    a[0] = x * x
    return g(x)


def updated_in_a_loop(x):
    w = x
    g = lambda t: w * t  # noqa: E731
    s = 0.0
    for i in range(3):
        s = s + g(x)
        w = w * x
    return s


def made_in_a_loop(x):
    s = 0.0
    g = None
    for i in range(3):
        b = x ** (i + 1)
        if i > 0:
            s = s + g(x)  # the lambda made last iteration, reading this iteration's b
        g = lambda y: b * y  # noqa: E731
    return s


def bound_only_in_the_loop(x):
    s = 0.0
    g = None
    for i in range(3):
        if i > 0:
            s = s + g(x)  # b of the iteration before
        b = x * (i + 1)
        s = s + b
        g = lambda y: b * y  # noqa: E731
    return s


def rebound_in_a_branch(x, c):
    v = x * x

    def g(t, scale=0.5):
        u = t * v
        return u * scale

    if c > 0:
        v = np.sin(x)
    return g(x) + g(x, scale=2.0)


def through_another_closure(x):
    a = x
    g = lambda t: a * t  # noqa: E731
    h = lambda t: g(t) + t  # noqa: E731
    a = x * x
    return h(x)  # x^3 + x


def with_nonlocal(x):
    acc = 0.0
    w = x

    def add(v):
        nonlocal acc
        acc = acc + v * w

    add(x)
    w = 3.0 * x
    add(1.0)
    return acc  # x^2 + 3x


@pytest.mark.parametrize("fn, args", [
    (rebound_after, (1.3,)), (rebound_before, (np.array([0.5, 1.0]),)), (written_after, (1.3,)),
    (updated_in_a_loop, (1.3,)), (made_in_a_loop, (1.3,)), (bound_only_in_the_loop, (1.3,)),
    (rebound_in_a_branch, (np.array([0.5, 1.0]), 1.0)), (rebound_in_a_branch, (np.array([0.5, 1.0]), -1.0)),
    (through_another_closure, (1.3,)), (with_nonlocal, (1.3,)),
])
def test_a_closure_over_a_variable_that_changes(fn, args):
    check_grads(fn, args, modes=BOTH)


def test_a_closure_reads_the_value_at_the_call():
    assert s2sad.grad(rebound_after)(1.0) == pytest.approx(10.0)
    assert s2sad.grad(through_another_closure)(2.0) == pytest.approx(13.0)
    assert s2sad.grad(with_nonlocal)(2.0) == pytest.approx(7.0)
    assert s2sad.jvp(made_in_a_loop, (1.3,), (1.0,))[1] == pytest.approx(3 * 1.3 ** 2 + 4 * 1.3 ** 3)


def kept_in_a_list(x):
    y = x * 2.0
    g = lambda t: t * y  # noqa: E731
    fs = [g]
    y = 0.0
    return fs[0](x) + y


def anonymous_kept(x):
    fs = []
    for i in range(2):
        w = x * i
        fs.append(lambda t: t * w)
    return fs[0](x)


@pytest.mark.parametrize("fn, line", [(kept_in_a_list, "fs = [g]"), (anonymous_kept, "fs.append(lambda t: t * w)")])
def test_a_closure_kept_while_what_it_reads_changes_is_refused(fn, line):
    with pytest.raises(s2sad.S2SADSyntaxError, match="captures '[yw]', which is rebound") as e:
        s2sad.grad(fn)(1.0)
    assert e.value.text.strip() == line
