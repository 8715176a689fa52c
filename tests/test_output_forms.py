"""NumPy's output-writing forms (``np.copyto``, ``np.putmask``, ``np.place``, ``np.add.at``, a ufunc's ``out=``) into an
array the function made: exact derivatives, as the in-place write each is. A write into an argument,
or one another name sees later, is refused as ``a[...] = v`` is."""

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

X = np.array([0.3, 0.7, 1.1, -0.4])


def copies(x):
    a = np.zeros((2, 4))
    np.copyto(a, np.sin(x))  # broadcast along the first axis
    return np.sum(a * a * x)


def copies_where(x):
    a = np.ones(4) * 2.0
    np.copyto(a, x * x, where=x > 0.5)
    return np.sum(a * x)


def copies_by_keyword(x):
    a = x * 3.0
    np.copyto(dst=a, src=x ** 3, casting="unsafe")
    return np.sum(a * x)


def putmask_shorter_values(x):
    a = np.cos(x)
    np.putmask(a, np.array([1, 0, 1, 1]), x[:3] * 3.0)  # a.flat[n] = values.flat[n % 3]
    return np.sum(a * a)


def putmask_longer_values(x):
    a = np.outer(x[:2], x[2:])
    np.putmask(a, [[True, False], [False, True]], np.tanh(np.outer(x, x)))  # values.flat[n], n < 4
    return np.sum(a ** 3)


def places_shorter_values(x):
    a = np.zeros((2, 3)) + x.sum()
    np.place(a, np.array([1, 0, 1, 0, 1, 1]), x[1:3] ** 2)  # 4 places: vals repeated
    return np.sum(a * a)


def places_longer_values(x):
    a = x * x
    np.place(a, x > 0.5, np.exp(np.outer(x, x)))  # the first 2 of the 16 values
    return np.sum(a * x)


def sin_into(x):
    a = np.zeros(4)
    np.sin(x, out=a)
    return np.sum(a * x)


def adds_into_positional_out(x):
    c = np.empty((3, 4))
    np.add(x, x * x, c)  # broadcast into out's shape
    return np.sum(c * np.arange(3.0)[:, None] * x)


def out_tuple(x):
    a = np.zeros(4)
    np.multiply(x, np.cos(x), out=(a,))
    return np.sum(a ** 2)


def reads_the_result(x):
    a = np.zeros(4)
    b = np.sin(x, out=a)  # b is a itself
    return np.sum(b * a * x)


def writes_through_the_result(x):
    a = np.zeros(4)
    b = np.exp(x, out=a)
    b[0] = x[1] ** 2  # a sees it: one object
    return np.sum(a * x) + np.sum(b)


def writes_in_a_loop(x):
    acc = np.zeros(4)
    for k in range(3):
        np.copyto(acc, acc * x + k)
    return np.sum(acc ** 2)


def copies_where_in_a_loop(x):
    acc = np.ones(4)
    for _ in range(3):
        np.copyto(acc, acc * x, where=x > 0.0)
    return np.sum(acc ** 2)


def adds_at_repeated_indices(x):
    acc = np.zeros(3)
    np.add.at(acc, np.array([0, 2, 2, 1]), x * x)  # (index 2 twice: added twice, as `acc[i] += v` would not)
    return np.sum(np.sin(acc) * acc)


def adds_at_in_a_loop(x):
    acc = np.ones((2, 3)) * 0.5
    for k in range(2):
        np.add.at(acc, (np.array([0, 1, 1]), np.array([2, 0, 0])), x[:3] * (k + 1.0))
        np.add.at(acc, 1, x[3])  # (a scalar added along a row)
    return np.sum(acc ** 3)


EXACT = [copies, copies_where, copies_by_keyword, putmask_shorter_values, putmask_longer_values,
         places_shorter_values, places_longer_values, sin_into, adds_into_positional_out, out_tuple,
         reads_the_result, writes_through_the_result, writes_in_a_loop, copies_where_in_a_loop,
         adds_at_repeated_indices, adds_at_in_a_loop]
# (a where-write in a loop is refused at second order, as `acc[...] = np.where(m, acc * x, acc)` is)
SECOND = [fn for fn in EXACT if fn is not copies_where_in_a_loop]


@pytest.mark.parametrize("fn", EXACT, ids=[f.__name__ for f in EXACT])
def test_a_write_into_an_array_made_here_is_differentiated(fn):
    value, _ = s2sad.value_and_grad(fn)(X)
    assert value == fn(X.copy())
    check_grads(fn, (X,), modes=("rev", "fwd"))


@pytest.mark.parametrize("fn", SECOND, ids=[f.__name__ for f in SECOND])
def test_second_derivatives(fn):
    np.testing.assert_allclose(s2sad.hessian(fn)(X), s2sad.numeric.hessian(fn, X), rtol=1e-5, atol=1e-6)


def test_the_result_of_out_is_the_array_written():
    def f(x):
        a = np.zeros(4)
        b = np.sin(x, out=a)
        return b is a

    assert s2sad.value_and_grad(lambda x: np.sum(x) * f(x))(X)[0] == np.sum(X)


def places_nothing_from_empty_values(x):
    a = x * 2.0
    np.place(a, x > 5.0, np.zeros(0))  # no place is selected: nothing is written
    return np.sum(a)


def test_empty_values_fill_nothing_or_raise_as_numpy_does():
    check_grads(places_nothing_from_empty_values, (X,), modes=("rev", "fwd"))

    def places_from_empty(x):
        a = x * 2.0
        np.place(a, x > 0.5, np.zeros(0))
        return np.sum(a)

    with pytest.raises(ValueError):
        s2sad.grad(places_from_empty)(X)


# ----- refused: writes into an argument, or into memory another name reads later -----

def copies_into_the_argument(x):
    np.copyto(x, 2.0)
    return np.sum(x)


def out_into_the_argument(x):
    np.sin(x, out=x)
    return np.sum(x)


def putmask_into_the_argument(x):
    a = x
    np.putmask(a, x > 0.0, 1.0)
    return np.sum(a)


def place_into_a_view_read_later(x):
    a = np.zeros(4)
    v = a[:2]
    np.place(a, x > 0.0, x)
    return np.sum(v * x[:2])


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn, line, message", [
    (copies_into_the_argument, "np.copyto(x, 2.0)", "writes into 'x', memory that came from an argument"),
    (out_into_the_argument, "np.sin(x, out=x)", "writes into 'x', memory that came from an argument"),
    (putmask_into_the_argument, "np.putmask(a, x > 0.0, 1.0)", "writes into 'a', memory that came from an argument"),
    (place_into_a_view_read_later, "np.place(a, x > 0.0, x)", "'v' shares memory with the array written here"),
])
def test_a_write_into_memory_it_cannot_follow_is_refused_at_its_line(fn, line, message, mode):
    with pytest.raises(s2sad.S2SADSyntaxError, match=message) as info:
        if mode == "rev":
            s2sad.grad(fn)(X)
        else:
            s2sad.jvp(fn, (X,), (np.ones(4),))
    assert info.value.filename == __file__ and info.value.text.strip() == line


def copies_into_integers(x):
    a = np.zeros(4, dtype=int)
    np.copyto(a, x * 1.5)
    return np.sum(a * x)


def sin_into_integers(x):
    a = np.zeros(4, dtype=int)
    np.sin(x, out=a)
    return np.sum(a * x)


def putmask_into_float32(x):
    a = np.zeros(4, dtype=np.float32)
    np.putmask(a, x > 0.0, x * 2.0)
    return np.sum(a * x)


@pytest.mark.parametrize("fn", [copies_into_integers, sin_into_integers, putmask_into_float32])
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_a_cast_numpy_refuses_raises_as_numpy_does(fn, mode):
    with pytest.raises(TypeError, match="Cannot cast"):
        fn(X.copy())
    with pytest.raises(TypeError, match="Cannot cast"):
        if mode == "rev":
            s2sad.grad(fn)(X)
        else:
            s2sad.jvp(fn, (X,), (np.ones(4),))


def test_the_cast_check_stays_in_the_fused_gradient():
    assert "check_cast(" in s2sad.source(copies_into_integers, stage="grad")
