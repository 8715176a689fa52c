"""Programs the differential fuzzer (``s2sad.fuzz``) found refused or wrong, shrunk.

Each is checked against finite differences (reverse and forward mode, and second
order where the fuzzer found it), or checks that a write that would give a wrong
derivative is still refused at the user's line.
"""

import math

import numpy as np
import pytest

import s2sad
from s2sad.errors import S2SADSyntaxError
from s2sad.testing import check_grads

X = np.array([1.278, 0.937, -1.068])


def update_in_a_loop_in_a_branch(x, c):
    v = np.sum(x) * 0.6
    if c < 2:
        for _ in range(1, 3):
            v *= np.cos(x[0])
    return np.ones((2, 1)) * v * x[1]


def branch_yields_an_older_name(x, c):
    a = x * 1.0
    if c > 0:
        b = a
        a[0] = 5.0 * x[1]
        out = b
    else:
        out = a * 2.0
    return np.sum(out * x)


def test_a_write_inside_a_branch_is_before_the_value_the_branch_gives():
    # the loop's result is the branch's value: bound after the write, not stale
    check_grads(update_in_a_loop_in_a_branch, (X, 1), modes=("rev", "fwd"))


def test_a_branch_yielding_another_name_of_written_memory_sees_the_write():
    # b = a makes b another name for a's object: the write through a rebinds b too
    for c in (1.0, -1.0):
        check_grads(branch_yields_an_older_name, (X, c), modes=("rev", "fwd"))


def update_an_item_of_an_argument(x, y):
    v = y[1, 0]  # a NumPy scalar: `v *= ...` rebinds it
    v *= np.sum(x)
    w = x[0]
    w += np.sin(w)
    return v * x + w


def update_a_row_of_an_argument(x, y):
    v = y[1]  # a view into y
    v *= np.sum(x)
    return v * x


Y = np.array([[0.3, -0.7], [1.414, -0.192]])


def test_updating_an_item_read_out_of_an_argument_rebinds_it():
    check_grads(update_an_item_of_an_argument, (X[:2], Y), modes=("rev", "fwd"))
    before = Y.copy()
    s2sad.vjp(update_an_item_of_an_argument, X[:2], Y)[1](np.ones(2))
    np.testing.assert_array_equal(Y, before)


def test_updating_a_row_of_an_argument_is_still_refused():
    with pytest.raises(S2SADSyntaxError, match="memory that came from an argument"):
        s2sad.vjp(update_a_row_of_an_argument, X[:2], Y)


def return_from_the_last_loop_of_a_loop(x, y):
    for r in y:
        for i in reversed(range(4)):
            x = x * 2.0
            if i != 1:
                return x * r
    return x


def return_from_the_last_loop_of_a_while(x, y):
    j = 0
    while j < 3:
        j += 1
        for r in y:
            for k in range(2):
                x = x * 1.5
                if k == 1:
                    return x * r
    return x


@pytest.mark.parametrize("f", [return_from_the_last_loop_of_a_loop, return_from_the_last_loop_of_a_while])
def test_a_return_from_a_loop_that_ends_a_loop_body_leaves_the_outer_loop(f):
    # the inner loop is the last statement of the outer one: its `return` still stops the outer loop
    args = (1.061, np.array([-0.353, -0.869, -0.659]))
    value, _ = s2sad.value_and_grad(f)(*args)
    assert value == f(*args)
    check_grads(f, args, modes=("rev", "fwd"))


def update_each_element_of_a_vector(x, y):
    s = 0.0
    for i, r in enumerate(x):
        r *= -r  # an element of a vector is a NumPy scalar: this rebinds it
        s = s + r * i
    for r, q in zip(x, y):
        q += r
        s = s + r * q
    return s * x


def test_updating_an_element_a_loop_reads_out_of_a_vector_rebinds_it():
    x, y = np.array([-1.24, 0.045, 0.7]), np.array([0.3, -0.8, 1.1])
    check_grads(update_each_element_of_a_vector, (x, y), modes=("rev", "fwd"))


def update_each_row_of_a_matrix(x):
    for r in x:
        r *= 2.0
    return np.sum(x)


def test_updating_a_row_a_loop_reads_out_of_a_matrix_is_refused():
    with pytest.raises(S2SADSyntaxError, match="writes into 'r', memory that came from an argument"):
        s2sad.grad(update_each_row_of_a_matrix)(Y)
def swap_in_a_branch_in_a_loop(x):
    y3 = x
    for r1 in np.array([0.1, 0.2, 0.9]):
        if r1 <= 0.6:
            x, y3 = y3 * 2.0, x
    return x * 2.0


def test_a_name_only_a_branch_reads_is_joined_when_a_loop_reads_it_again():
    # y3 is read only inside the branch, but the next iteration reads what this one left
    check_grads(swap_in_a_branch_in_a_loop, (X[:2],), modes=("rev", "fwd"))


def update_in_a_loop_after_a_branch(x, k):
    a1 = np.full((2,), -0.1)
    if k > 5:
        y3 = x  # noqa: F841
    else:
        a1[::-1] = x * 2.0
    j1 = 0
    while j1 < 2:
        j1 += 1
        a1 /= 1.5  # reads a1: the branch's a1 is joined even though nothing reads the loop's
    return x * 2.0


def test_an_augmented_assignment_reads_its_target():
    check_grads(update_in_a_loop_after_a_branch, (X[:2], 1), modes=("rev", "fwd"))


def update_repeated_columns(x, y):
    a1 = np.full((2, 3), -1.2)
    a1[:, [0, 0, 2]] *= np.tanh(x) + y  # a slice, then a repeated integer index: the last write wins
    return a1 * x


def write_around_a_slice(x, y):
    a1 = np.zeros((3, 2, 4))
    a1[[0, 0, 1], :, [1, 1, 3]] = x * y
    return a1 * 2.0


def test_a_repeated_integer_index_after_a_slice_keeps_the_last_write():
    rng = np.random.default_rng(20)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal(3)
    check_grads(update_repeated_columns, (x, y), modes=("rev", "fwd"))
    check_grads(write_around_a_slice, (rng.standard_normal((3, 1)), rng.standard_normal(2)), modes=("rev", "fwd"))
    check_grads(s2sad.grad(lambda x: np.sum(update_repeated_columns(x, y) ** 2)), (x,), modes=("rev", "fwd"))


def extend_a_list_in_a_branch_in_a_loop(x, y, z):
    y1 = np.prod(np.ones((2, 3)) * x, axis=(0, 1)) / (1.5 + 1.0 * np.tanh(np.ones((2, 3)) * z))
    l1 = [np.nan_to_num(y1[0, 2]), y[0]]
    for r1 in x:
        if np.sum(y) > -0.4:
            l1 = l1 + [(0.6 + 0.3 * np.tanh(r1)) % (2.0 + 0.8 * np.tanh(r1))]
    return np.sum(y * 2.0)


def write_a_list_in_a_branch_in_a_loop(x, y, k):
    l1 = [np.tanh(y[1, 0])]
    for r2, r3 in zip(x, x):
        if k >= 0:
            l1[-1] = math.hypot(1.5 + 1.0 * math.tanh(r3))
    return -(x[-2] + -np.sum(y))


def test_a_list_only_a_branch_in_a_loop_reads_is_carried():
    check_grads(extend_a_list_in_a_branch_in_a_loop, (X, np.array([-1.3, -1.013]), np.array([1.033, -1.473, 0.924])),
                modes=("rev", "fwd"))
    check_grads(write_a_list_in_a_branch_in_a_loop, (X[:2], np.array([[-0.532], [0.555]]), 2), modes=("rev", "fwd"))


def raises_when_large(x):
    if np.sum(x) > 100.0:
        raise ValueError("too big")
    return np.sum(x * x)


def test_the_fused_gradient_keeps_statements_with_an_effect():
    # grad's fused function drops statements whose value nobody reads; a raise (and the run-time
    # checks: rebound_input, scalar_seed) has an effect beyond its value and stays
    with pytest.raises(ValueError, match="too big"):
        s2sad.grad(raises_when_large)(np.ones(3) * 50.0)
    check_grads(raises_when_large, (np.array([0.5, -1.0, 2.0]),), modes=("rev", "fwd"))


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


def test_an_alias_read_only_by_the_return_after_an_inplace_write_sees_the_write():
    check_grads(alias_returned_after_an_inplace_write, (2.0,), modes=("rev", "fwd"))
    assert np.allclose(s2sad.jvp(alias_returned_after_an_inplace_write, (2.0,), (1.0,))[1], -0.25)


def negated_max(y):
    # --seed 20261130 --index 1139: the cotangent -1.0 times max's pick mask was folded to `-mask`,
    # a negative of a NumPy bool (a crash in grad); 1.0 * mask is a number, not the mask
    return -max(0.5 * math.tanh(-1.5), 3.0 + math.tanh(y)) + min(y * 2.0, 1.0)


def test_a_folded_cotangent_times_a_mask_stays_a_number():
    check_grads(negated_max, (0.3,), modes=("rev", "fwd"))
    check_grads(negated_max, (0.9,), modes=("rev", "fwd"))
