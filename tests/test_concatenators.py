"""``np.r_[...]`` and ``np.c_[...]`` (and ``np.row_stack``), as autograd differentiates them: entries that
are arrays or numbers, each carrying a derivative or not, slices (constant ranges) and string directives,
checked against finite differences in reverse and forward mode and at second order."""

import numpy as np
import pytest
from numpy import r_

import s2sad
from s2sad.testing import check_grads

RNG = np.random.default_rng(3)
X, Y, M = RNG.normal(size=3), RNG.normal(size=4), RNG.normal(size=(3, 2))
WEIGHTS = RNG.normal(size=20)


def joined(x, y):
    return np.sum(np.sin(np.r_[x, 2.0, y, 0:3]) * WEIGHTS[:11])


def joined_with_a_number(x, a):
    return np.sum(np.r_[a, x, a * x, 1:2:3j] ** 3)


def columns(x, m):
    return np.sum(np.tanh(np.c_[x, m, x * x, 0:3]) * WEIGHTS[:15].reshape(3, 5))


def rows_of_a_matrix(m, y):
    return np.sum(np.r_[m, y[None, :2], m ** 2] ** 2)


def the_same_entry_twice(x, a):
    return np.sum(np.c_[x, x * a, x] ** 3)


def directives(x, y):
    return np.sum(np.r_["0,2", x, y[:3]] ** 2 * WEIGHTS[:6].reshape(2, 3)) + np.sum(np.r_["1,2,0", x, y[:3]] ** 3)


def stacked_rows(m, y):
    return np.sum(np.row_stack([m.T, y[:3], m[:, 0]]) ** 3)


CASES = [(joined, (X, Y)), (joined_with_a_number, (X, 0.7)), (columns, (X, M)), (rows_of_a_matrix, (M, Y)),
         (the_same_entry_twice, (X, 0.7)), (directives, (X, Y))]


@pytest.mark.parametrize("f, args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_first_and_second_order_match_finite_differences(f, args):
    check_grads(f, args, argnums=(0, 1), modes=("rev", "fwd"))
    check_grads(f, args, argnums=(1,), modes=("rev", "fwd"))
    for i, x in enumerate(args):
        np.testing.assert_allclose(s2sad.hessian(f, argnums=i)(*args), s2sad.numeric.hessian(
            lambda v: f(*args[:i], v, *args[i + 1:]), x), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_row_stack_is_vstack():
    check_grads(stacked_rows, (M, Y), argnums=(0, 1), modes=("rev", "fwd"))
    np.testing.assert_allclose(s2sad.hessian(stacked_rows)(M, Y), s2sad.numeric.hessian(lambda m: stacked_rows(m, Y), M),
                               rtol=1e-5, atol=1e-6)


def test_entries_keep_their_types_and_dtypes():
    x32 = X.astype(np.float32)
    gx, ga = s2sad.grad(lambda x, a: np.sum(np.r_[x, a, 0:2] ** 2), argnums=(0, 1))(x32, 0.5)
    assert gx.dtype == np.float32 and isinstance(ga, float) and ga == pytest.approx(1.0)
    out, out_dot = s2sad.jvp(lambda x: np.r_[x, 2.5], (x32,), (np.ones(3, np.float32),))
    assert out_dot.dtype == out.dtype == np.float32
    np.testing.assert_array_equal(out_dot, [1.0, 1.0, 1.0, 0.0])
    out, out_dot = s2sad.jvp(lambda x, a: np.r_[x, a], (x32, 0.5), (np.ones(3, np.float32), 2.0))
    assert out_dot.dtype == out.dtype == np.float32
    np.testing.assert_array_equal(out_dot, [1.0, 1.0, 1.0, 2.0])


def ranges(x, n):
    return np.sum(np.sin(r_[0:n, x, 1.0:2.0:0.5]) * np.arange(n + 4.0))


def test_slices_with_bounds_computed_when_it_runs():
    check_grads(ranges, (X[:2], 3), argnums=(0,), modes=("rev", "fwd"))
    np.testing.assert_allclose(s2sad.hessian(ranges)(X[:2], 3), s2sad.numeric.hessian(lambda v: ranges(v, 3), X[:2]),
                               rtol=1e-5, atol=1e-6)


def single_entry(x):
    return np.sum(np.r_[x] ** 2)


def matrix_directive(x, y):
    return np.sum(np.r_["r", x, y])


def test_what_is_not_differentiated_is_refused_clearly():
    with pytest.raises(s2sad.NoDerivativeRuleError, match=r"np\.r_\[\.\.\.\] does not differentiate its argument 'x'"):
        s2sad.grad(single_entry)(X)
    with pytest.raises(s2sad.NoDerivativeRuleError, match=r"numpy\.r_\[\.\.\.\] does not support this call(.|\n)*'r', 'c'"):
        s2sad.grad(matrix_directive)(X, Y)
