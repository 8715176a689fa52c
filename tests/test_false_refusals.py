"""Supported code s2sad used to refuse (the fuzzer's false refusals), each checked against finite
differences in reverse and forward mode (and at second order where that applies), and what is
still refused, checked for its message and line."""

import numpy as np
import pytest
from fn_corpus import integrate

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


# ----- `y op= v` rebinds a number; an object made anew each iteration is not last iteration's -----


def numbers_in_a_tuple(x, y):
    s = 0.0
    for e in (x, -x, y[0] * x):
        e *= e + 1.0  # a number: rebound, the tuple unchanged
        s = s + e
    return s


def items_of_a_row(x):
    s = 0.0
    for r in x:  # a 1-d array's items are numbers
        r *= r
        s = s + r
    return s * x[0]


def checked_when_it_runs(x):
    g = lambda t: t * 2.0  # noqa: E731
    s = 0.0
    for e in (g(x[0]), x[1]):  # what g returns is known only when it runs: checked to be a number there
        e -= x[0] * e
        s = s + e
    return s


def array_where_a_number_was_taken(x):
    g = lambda t: t * 1.0  # noqa: E731
    pair = (g(np.ones(2) * x[0]), x[1])
    for e in pair:
        e *= 2.0
    return np.sum(pair[0])


def helper(a, b=0.5):
    b -= a * a
    return a * b


def helper_given_numbers(x, y):
    return helper(x, b=y[0]) + helper(y[1], b=x)


def nested_lists(x):
    outer = []
    for i in range(2):
        inner = []  # a new list each iteration: appending to it leaves the last one as it was
        for j in range(3):
            inner.append(x * (i + j))
        outer.append((inner, i))
    s = 0.0
    for t, i in outer:
        for v in t:
            s = s + v * v * i
    return s


def fresh_each_iteration(x, y):
    kept = np.ones(2) * y
    for r in x:
        a = np.sin(kept * r).copy()
        if r < 0.5:
            a /= 2.0 + r
        else:
            a, kept = kept, a  # kept holds this iteration's array; the next writes a new one
    return np.sum(kept * a)


def put_in_after_the_write(x):
    held = [x * 1.0]
    a = np.full((2, 1), -1.2)
    a[:, 0] += x
    held.append(a[::-1][:, -1])  # the view goes into the list after the write
    return np.sum(held[0] * held[1])


def copied_by_a_mask(x):
    a = np.ones((2, 3)) * x
    row = a[np.array([False, True])][0]  # a mask made by np.array: a copy
    a -= 2.0 * a
    return np.sum(row * a[0])


@pytest.mark.parametrize("fn, args", [
    (numbers_in_a_tuple, (1.3, np.array([0.5, -0.7]))), (items_of_a_row, (np.array([0.5, -0.7, 1.1]),)),
    (checked_when_it_runs, (np.array([0.5, -0.7]),)), (helper_given_numbers, (0.7, np.array([0.5, -0.3]))),
    (nested_lists, (1.3,)), (fresh_each_iteration, (np.array([0.2, 0.9, 0.4]), np.array([0.5, -0.3]))),
    (put_in_after_the_write, (np.array([0.5, -0.3]),)), (copied_by_a_mask, (np.array([0.5, -0.3, 0.8]),)),
])
def test_writes_that_change_nothing_another_name_reads(fn, args):
    check_grads(fn, args, modes=BOTH)


@pytest.mark.parametrize("fn, args", [
    (numbers_in_a_tuple, (1.3, np.array([0.5, -0.7]))), (helper_given_numbers, (0.7, np.array([0.5, -0.3]))),
    (nested_lists, (1.3,)), (items_of_a_row, (np.array([0.5, -0.7, 1.1]),)),
])
def test_writes_that_change_nothing_another_name_reads_at_second_order(fn, args):
    check_grads(s2sad.grad(fn), args, argnums=[0], modes=BOTH)


def test_an_array_where_a_number_was_taken_is_refused_when_it_runs():
    for run in (lambda f: s2sad.grad(f)(np.array([0.5, -0.7])),
                lambda f: s2sad.jvp(f, (np.array([0.5, -0.7]),), (np.ones(2),))):
        with pytest.raises(s2sad.S2SADSyntaxError, match="change.* ndarray .*in place|writes into ndarray memory") as e:
            run(array_where_a_number_was_taken)
        assert e.value.text.strip() == "e *= 2.0"


# ----- another name of an object sees a write through it -----


def alias_then_inplace(x):
    y = np.ones(2) * x
    z = y
    y *= 2.0  # z is y's object: it sees the change
    return np.sum(z * x)


def write_through_the_alias(x):
    y = np.ones(3) * x
    z = y
    z[0] = x * x
    return np.sum(y * z)


def number_alias(x):
    y = x * 1.0
    z = y
    y *= 3.0  # a number: rebound, z keeps the old value
    return z + y


def alias_in_a_loop(x):
    y = np.ones(2) * x
    z = y
    s = 0.0
    for i in range(3):
        s = s + np.sum(z * x)
        y *= x
    return s + np.sum(z)


def list_alias(x):
    xs = [x]
    ys = xs
    xs.append(x * x)
    return ys[1] * ys[0]


def view_written_base_unread(x):
    y = np.ones((2, 3)) * x
    r = y[0]
    r[1] = x * x  # a write through a view: fine where y is not read after it
    return np.sum(r * x)


def entry_replaced(x):
    d = {"p": x * 2.0, "q": x * 3.0}
    held = [d["q"]]
    d["p"] = x * x  # replaces an entry: what held took out is unchanged
    return np.sum(held[0] * d["p"])


def item_of_a_made_array(x):
    a = np.full((2, 3), 1.6)
    v, w = x[0] * 2.0, a[-1][1]  # a number: a's shape is known from np.full
    a *= -a[1]
    return w * v + np.sum(a) * x[1]


def unused_after_the_write(x):
    a = np.zeros((2, 3))
    for e in (x * 2.0, a[:, 0]):  # e, a view of a, is never used
        a -= x[0] * a
    return np.sum(a) + x[1]


def number_alias_changed_in_a_branch(x, y):
    v = y
    if x > 0.0:
        y *= y  # a number: v keeps the old value (the identity test folds away; v is the branch's out)
    return v * y + x


def number_alias_changed_in_a_loop(x, y):
    v = y
    for i in range(3):
        y *= x
    return v * y


@pytest.mark.parametrize("fn, args", [
    (number_alias_changed_in_a_branch, (0.5, 1.3)), (number_alias_changed_in_a_branch, (-0.5, 1.3)),
    (number_alias_changed_in_a_loop, (0.7, 1.3)),
    (alias_then_inplace, (np.array([0.5, -0.7]),)), (write_through_the_alias, (0.7,)), (number_alias, (0.7,)),
    (alias_in_a_loop, (0.7,)), (list_alias, (0.7,)), (view_written_base_unread, (0.7,)),
    (entry_replaced, (np.array([0.5, -0.7]),)), (item_of_a_made_array, (np.array([0.5, -0.7]),)),
    (unused_after_the_write, (np.array([0.5, -0.7]),)),
])
def test_what_another_name_reads_after_a_write(fn, args):
    check_grads(fn, args, modes=BOTH)


def test_another_name_sees_the_write_in_its_value():
    assert s2sad.grad(alias_then_inplace)(np.array([0.5, -0.7])).tolist() == pytest.approx([2.0, -2.8])
    assert s2sad.grad(number_alias)(0.7) == pytest.approx(4.0)


@pytest.mark.parametrize("fn, args", [
    (alias_then_inplace, (np.array([0.5, -0.7]),)), (write_through_the_alias, (0.7,)), (list_alias, (0.7,)),
])
def test_what_another_name_reads_after_a_write_at_second_order(fn, args):
    check_grads(s2sad.grad(fn), args, modes=BOTH)


def alias_in_one_branch(x, c):
    y = np.ones(2) * x
    z = y if c > 0 else y * 1.0
    y[0] = 5.0 * x
    return np.sum(z)


def read_through_a_view(x):
    y = np.ones((2, 3)) * x
    r = y[0]
    y *= 2.0
    return np.sum(r)


@pytest.mark.parametrize("fn, args, name, line", [
    (alias_in_one_branch, (0.7, 1.0), "z", "y[0] = 5.0 * x"), (read_through_a_view, (0.7,), "r", "y *= 2.0"),
])
def test_a_name_that_may_share_the_written_memory_is_refused(fn, args, name, line):
    for run in (lambda: s2sad.grad(fn)(*args), lambda: s2sad.jvp(fn, args, (1.0,) + args[1:])):
        with pytest.raises(s2sad.S2SADSyntaxError, match=f"'{name}' shares memory") as e:
            run()
        assert e.value.text.strip() == line


def two_views_one_written(x):
    a = np.ones((2, 2)) * x[0]
    y = a[1]
    z = a[1]
    z[::-1] = -y  # y sees the write: `-y` after it is not the `-y` before it
    y = -y
    return np.sum(y) * x[1]


def test_a_value_computed_before_a_write_through_another_view_is_not_reused():
    # common subexpressions stop at an in-place write (the second -y read written memory): refused, as
    # y is read after the write through z; it computed the first -y before
    with pytest.raises(s2sad.S2SADSyntaxError, match="'y' shares memory") as e:
        s2sad.grad(two_views_one_written)(np.array([0.5, -0.7]))
    assert e.value.text.strip().startswith("z[::-1] = -y")


# ----- derivatives of derivatives of code that calls a function value -----


def area_under(k):
    return integrate(lambda t: np.sin(k * t), 0.0, 1.0, 8)


def lambda_then_rebound(x):
    a = x * 2.0
    g = lambda y: a * y  # noqa: E731
    s = g(x)
    a = np.sin(x)
    return s + g(x) * x


def nested_def_with_default(x):
    def g(t, scale=0.5):
        return np.exp(t * x) * scale
    return g(x) + g(2.0 * x, scale=1.5)


@pytest.mark.parametrize("fn, args", [
    (area_under, (0.7,)), (rebound_after, (1.3,)), (lambda_then_rebound, (0.7,)), (nested_def_with_default, (0.4,)),
    (through_another_closure, (1.3,)),
])
def test_a_function_value_at_second_order(fn, args):
    check_grads(s2sad.grad(fn), args, modes=BOTH)


def test_a_function_value_at_second_and_third_order_values():
    assert s2sad.hessian(rebound_after)(1.3) == pytest.approx(10.0)
    assert s2sad.grad(s2sad.grad(s2sad.grad(through_another_closure)))(2.0) == pytest.approx(6.0)


def sine_of_a_capture(x):
    w = x * 2.0
    h = lambda t: np.sin(t * w)  # noqa: E731
    return h(x)


def test_a_third_derivative_through_a_function_value_capturing_a_derivative_is_refused():
    # the second derivative's code reads the captures' cotangent through captures_adjoint, which has no rule yet
    check_grads(s2sad.grad(sine_of_a_capture), (0.4,), modes=BOTH)
    with pytest.raises(s2sad.NoDerivativeRuleError, match="third derivative of code calling a lambda or nested def"):
        s2sad.grad(s2sad.grad(s2sad.grad(sine_of_a_capture)))(0.4)


@pytest.mark.parametrize("fn, args", [
    (area_under, (0.7,)), (rebound_after, (1.3,)), (lambda_then_rebound, (0.7,)), (nested_def_with_default, (0.4,)),
    (through_another_closure, (1.3,)), (sine_of_a_capture, (0.4,)),
])
def test_a_function_value_at_second_order_of_forward_mode(fn, args):
    # (differentiated again as its generated jvp taking its tangents first, those of its captures as a dict)
    expected = s2sad.numeric.gradient(s2sad.grad(fn), *args)
    assert s2sad.jacfwd(s2sad.jacfwd(fn))(*args) == pytest.approx(expected, rel=1e-6)
    assert s2sad.jacrev(s2sad.jacfwd(fn))(*args) == pytest.approx(expected, rel=1e-6)


# ----- an element of a 1-D array a loop iterates is a number: it shares no memory -----


def last_element_kept_past_a_write(x, y):
    v = y[0]
    a = (y * 2.0).copy()  # (a copy has its operand's shape: the loop's elements are numbers)
    for i, r in enumerate(a):
        r, v = v, r
    a[a > 1.2] -= 1.0
    return v * x + np.sum(a)


def test_an_element_of_a_copied_1d_array_is_kept_past_a_write_into_the_array():
    # (forward mode too: a jvp is made for any shapes, and again for the arrays' shapes where that refuses)
    check_grads(last_element_kept_past_a_write, (0.5, np.array([0.3, 1.4, 0.8])), modes=BOTH)
