"""Bugs the differential fuzzer (``python -m s2sad.fuzz``) found, each as its shrunk
program checked against finite differences in the mode that failed."""

import numpy as np
import pytest

import s2sad
from s2sad.errors import S2SADSyntaxError
from s2sad.testing import check_grads


def list_grown_in_one_branch_of_a_loop(z):
    # --seed 2 --index 107: `l1` is read only inside the branch that rebinds it, but the loop
    # carries it to its next pass; the other branch's join held None (a crash in vjp and jvp)
    l1 = [np.tanh(z[0])]
    for _ in z:
        if np.sum(z) > 100.0:
            pass
        else:
            l1 = l1 + [0.8]
    return z * 2.0


def return_from_loop_that_ends_the_outer_body(x):
    # --seed 3 --index 241: the inner loop is the outer loop's last statement; its `return`
    # left the inner loop only, and the outer loop ran on and returned again
    j = 0
    while j < 3 and x[0] > 0.0:
        j += 1
        for _ in range(2):
            if x[1] > 0.0:
                return x[0] * j
    return x[0]


def test_value_carried_by_a_loop_and_read_only_in_the_branch_rebinding_it():
    z = np.array([0.965, -0.482, 0.966])
    check_grads(list_grown_in_one_branch_of_a_loop, (z,), modes=("rev", "fwd"))


def test_return_in_a_loop_that_is_the_last_statement_of_another_loop():
    x = np.array([1.0, 2.0])
    f = return_from_loop_that_ends_the_outer_body
    assert s2sad.value_and_grad(f)(x)[0] == f(x) == 1.0
    check_grads(f, (x,), modes=("rev", "fwd"))


def entry_with_infinite_derivative_left_unread(x, y):
    # the 'r' entry never reaches the output, and std's derivative at a constant array is
    # infinite: a dense zero cotangent for it gave 0 * inf = nan
    d = {'p': y * 2.0, 'r': np.std(np.ones(3) * x)}
    t = (np.std(np.ones(3) * x), y * 3.0)
    return d['p'] + t[-1]


def test_a_container_entry_nothing_reads_back_gets_no_cotangent():
    f = entry_with_infinite_derivative_left_unread
    assert s2sad.grad(f, argnums=(0, 1))(1.0, 2.0) == (0.0, 5.0)
    check_grads(f, (1.0, 2.0), modes=("rev",))


def alias_returned_after_an_inplace_write(x):
    # --seed 7 --index 31: the return's read of `z1` was not checked against the write
    a1 = np.ones(3).copy()
    z1 = a1
    a1 /= x
    return z1


def test_an_alias_read_only_by_the_return_after_an_inplace_write_is_refused():
    for transform in (lambda f: s2sad.vjp(f, 2.0), lambda f: s2sad.jvp(f, (2.0,), (1.0,))):
        with pytest.raises(S2SADSyntaxError, match=r"'z1' shares memory with the value written here") as e:
            transform(alias_returned_after_an_inplace_write)
        assert "line 66" in str(e.value)
