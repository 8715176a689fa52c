"""Programs the differential fuzzer (``s2sad.fuzz``) found refused or wrong, shrunk.

Each is checked against finite differences (reverse and forward mode, and second
order where the fuzzer found it), or checks that a write that would give a wrong
derivative is still refused at the user's line.
"""

import math

import numpy as np
import pytest
import scipy.special

import s2sad
import s2sad.numeric
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


def early_return_in_a_loop(x):
    # --seed 20261130 --index 4270 (and 3750, 5740, 9285): the generated gradient carries the
    # result as None until the loop returns; the out a branch binds got the kind of the branch
    # that bound it last ("array"), so grad of grad added None cotangents with `+`
    for _ in range(1):
        if np.sum(x) > 1.9:
            return np.tanh(x[1])
    return np.sum(x * x)


def test_an_out_bound_in_one_branch_has_the_kind_both_branches_give_it():
    for x in (X, X + 1.0):
        check_grads(s2sad.grad(early_return_in_a_loop), (x,), modes=("rev", "fwd"))


def scalar_use_in_one_branch(x, c):
    z = x * 2.0
    s = 1.0
    if c > 0:
        s = math.sin(z)  # z is a scalar only where this runs
    for _ in range(c):
        s = s + math.cos(z)
    return np.sum(z * np.ones(3)) + s


def test_a_use_that_needs_a_scalar_tells_only_where_it_runs():
    check_grads(scalar_use_in_one_branch, (np.array([[0.5], [0.2]]), -1), modes=("rev", "fwd"))
    check_grads(scalar_use_in_one_branch, (0.3, 2), modes=("rev", "fwd"))


def hypot_of_a_difference_that_is_zero(x):
    # --seed 20261130 --index 8088: hypot at the origin divided 0 by 0 (nan); like the norm it is, it has
    # the subgradient 0 there, so the derivative of this constant function is 0
    a = x - x
    v = math.atan2(a[1], 2.0 + 0.8 * math.tanh(a[-1]))
    return np.sum(np.hypot(v, np.ones((2, 3)) * a)) + math.hypot(a[0], v) + math.dist(a, 2.0 * a)


def test_hypot_at_the_origin_has_derivative_zero():
    check_grads(hypot_of_a_difference_that_is_zero, (X,), modes=("rev", "fwd"))
    check_grads(s2sad.grad(lambda x: math.hypot(x, 2.0 * x)), (0.7,), modes=("rev", "fwd"))


def rgamma_of_an_empty_sum(x):
    # --seed 20261130 --index 4973: 1/Γ is entire, but its rule -ψ(x)/Γ(x) is 0 * inf at the poles of Γ;
    # here the sum of an empty selection puts rgamma at 0
    s = np.sum(x[x > 5.0])
    return scipy.special.rgamma(s + 0.0 * np.sum(x)) + np.sum(scipy.special.rgamma(np.array([-1.0, -2.0, 0.25]) * x))


def test_rgamma_is_differentiated_at_the_poles_of_gamma():
    check_grads(rgamma_of_an_empty_sum, (np.array([1.0, 1.0, 1.0]),), modes=("rev", "fwd"))
    check_grads(s2sad.grad(rgamma_of_an_empty_sum), (np.array([1.0, 1.0, 1.0]),), modes=("rev", "fwd"))


def powers_of_a_loop_counter(x):
    # the second derivative read the counter back from the tape as a value carrying a derivative: its
    # (zero) tangent times x ** i * log(x), nan for x < 0
    s = 0.0
    for i in range(4):
        k = i + 1
        k = k - 2 if i > 1 else k * 2
        s = s + np.sum(x ** i) + np.sum(np.power(x, k))
    for v, n in [(x, 2), (x * 0.5, 3)]:
        s = s + np.sum(v ** n)
    return s


def test_an_integer_read_back_out_of_a_tuple_or_list_carries_no_derivative():
    x = np.array([-1.5, 0.5])
    check_grads(powers_of_a_loop_counter, (x,), modes=("rev", "fwd"))
    check_grads(s2sad.grad(powers_of_a_loop_counter), (x,), modes=("rev", "fwd"))
    np.testing.assert_allclose(s2sad.hessian(powers_of_a_loop_counter)(x), np.diag(8.0 + 6.75 * x + 12.0 * x ** 2))


def subtract_in_place_from_the_argument(a):
    a -= np.max(a * 2.0)  # `a` is the caller's 0-d array: changed in place
    return a * 1.0


def pass_a_zero_dim_array(x):
    # --seed 20261130 --index 6072: forward mode (made for any argument type) found the array only when
    # it ran, and raised a bare TypeError; it is the refusal reverse mode gives, at the same line
    return subtract_in_place_from_the_argument(np.where(np.sum(x) > 0.1, x[0], x[1])) * 3.0


def test_an_inplace_write_into_an_array_argument_found_at_run_time_is_refused_at_its_line():
    for transform in (lambda f: s2sad.grad(f)(X), lambda f: s2sad.jvp(f, (X,), (X,))):
        with pytest.raises(S2SADSyntaxError, match="never mutates your inputs") as e:
            transform(pass_a_zero_dim_array)
        assert e.value.text.strip().startswith("a -= np.max(a * 2.0)")


def where_in_a_loop(x):
    # --seed 31337: a second derivative read the mask back from the tape as a value carrying a
    # derivative, and refused it as the condition of np.where
    s = 0.0
    for i in range(2):
        s = s + np.sum(np.where(x > 0.1 * i, x * x, x))
    return s


def test_a_comparison_read_back_from_the_tape_carries_no_derivative():
    check_grads(s2sad.grad(where_in_a_loop), (np.array([0.5, -0.3, 0.05]),), modes=("rev", "fwd"))


def square_in_place_through_an_alias(x, y):
    # --seed 31337 --index 2554: forward mode read the operand `choice`, the same array as `a1`, after
    # `a1 *= choice` had squared it (only `a1` itself was read from a copy taken before)
    a1 = np.array(y[[1, 1, 0]])
    a1 *= a1 if np.sum(x) > -1.5 else a1  # noqa: RUF034 (the same memory under either name)
    return np.sum(a1 * x)


def test_an_inplace_update_by_an_alias_of_itself_is_read_before_the_update():
    check_grads(square_in_place_through_an_alias, (np.array([[0.144], [-1.173]]), np.array([-1.448, -1.472])),
                modes=("rev", "fwd"))


def return_a_where_from_a_loop(x):
    # --seed 31337 --index 4700: the derivative binds the mask None where the branch did not run; None
    # joined with a bool was taken for a value carrying a derivative, and refused as np.where's mask
    for e in (np.sin(x),):
        if -x < 0.8:
            return np.where(x > 0.1, np.tanh(e) * x, x)
    return x * x


def test_a_mask_or_none_read_back_from_the_tape_carries_no_derivative():
    for x in (0.18, -0.9):
        check_grads(s2sad.grad(return_a_where_from_a_loop), (x,), modes=("rev", "fwd"))


def return_early_or_loop(x, y):
    # --seed 31337 --index 6523: the loop made y's cotangent a buffer it adds into in place; the branch
    # that returns early gave it a read-only broadcast instead, and after the if it was still taken
    # for a buffer (`add_at` wrote into the broadcast)
    a1 = (x / (1.5 + 1.0 * np.tanh(y[1, 0]))).copy()
    if np.radians(y[1, 0]) >= -1.3:
        return np.sum(y) / (1.5 + 1.0 * np.tanh(x[-2] * np.sum(y)))
    for e1 in [np.sort(a1[[1, 1, 0]])]:
        a1 = np.positive(np.ones((2, 3)) * y) @ (e1[-1] / (1.5 + 1.0 * np.tanh(e1)))
    return np.sum(a1 * a1)


def test_a_cotangent_is_added_into_in_place_only_where_every_branch_made_it_a_buffer():
    x = np.array([-0.995, -0.712])
    for y in (np.array([[0.41], [-0.653]]), np.array([[0.41], [-80.0]])):
        check_grads(return_early_or_loop, (x, y), modes=("rev", "fwd"))


def where_in_a_loop_after_an_early_return(x):
    # --seed 31337 --index 1571: the second loop's tape is None where the first loop returned; None
    # joined with the tape hid what the tape holds, so its masks were taken to carry derivatives
    for r in x:
        if r > 0.4:
            return r * r
    for _ in range(1, 2):
        if x[0] < 0.5:
            return np.tanh(np.where(np.sum(x) > 0.1, x[-2], x[0]))
    return np.sum(x)


def test_a_tape_that_may_be_none_still_holds_masks_without_derivative():
    for x in (np.array([-1.0, 0.3, 0.2]), np.array([0.5, 0.3, 0.2])):
        check_grads(s2sad.grad(where_in_a_loop_after_an_early_return), (x,), modes=("rev", "fwd"))


def dot_with_the_argument(x):
    # --seed 271828 --index 1857: the gradient's dot_rhs_adjoint(g, a, x) reads x for its shape only;
    # forward over reverse found no differentiated operand with a tangent and summed no parts
    y1 = np.full((2, 3), 1.4)
    if np.sum(x) > -0.6:
        return np.dot(np.amax(y1 + np.linspace(0.0, 1.0, 6).reshape((2, 3)), axis=1), x)
    return np.sum(x * x)


def test_an_operand_read_for_its_shape_only_gives_no_tangent():
    for x in (np.array([0.456, 0.625]), np.array([-0.456, -0.625])):
        check_grads(s2sad.grad(dot_with_the_argument), (x,), modes=("rev", "fwd"))


def update_last_iterations_max(x):
    # --seed 271828 --index 5592: the tape kept the max of one iteration by reference, and the next
    # iteration's `a2 +=` changed it in place (an older iteration's object): the pullback then found
    # no position holding the max (0 / 0)
    a2 = np.ones(3) * np.sum(x)
    j1 = 0
    while j1 < 2:
        j1 += 1
        a2 += a2 * 2.0
        a2 = np.max(x + np.linspace(0.0, 1.0, 6).reshape((2, 3)), axis=0)
    return np.sum(a2 * a2)


def test_a_value_saved_for_the_pullback_is_copied_before_a_later_iteration_changes_it():
    check_grads(update_last_iterations_max, (np.array([[-0.155, 0.46, -0.912], [0.371, -1.129, -0.645]]),),
                modes=("rev", "fwd"))


def lambda_reading_a_rebound_argument(x, y):
    g = lambda t: np.sum(y) * t[1]  # noqa: E731  (the closure reads y when called)
    if np.sum(y) >= 1.7:
        y = g(g(y))
    else:
        y = np.sort(y)  # a module function named like a list method: it changes no `np`
    return np.sum(y * x)


def test_a_module_function_named_like_a_list_method_changes_no_variable():
    x, y = np.array([0.7, 1.0]), np.array([[0.5, 0.3], [0.2, 0.9]])
    check_grads(lambda_reading_a_rebound_argument, (x, y), argnums=(0, 1), modes=("rev", "fwd"))
    check_grads(lambda_reading_a_rebound_argument, (x, -y), argnums=(0, 1), modes=("rev", "fwd"))


def continue_in_a_nested_loops_else(x, y, k):
    if k < 2:
        if np.sum(np.ones((2, 1)) * x) < -0.3:
            return [np.ones((2, 3)) * y, np.ones((2, 3)) * x]
    for _ in reversed(range(k)):
        for _ in range(1 - 1, -1, -1):
            pass
        else:
            continue  # (the outer loop's: no flag needed, nothing follows; a return elsewhere made one asked for)
    y4 = np.ones((2, 1)) * y - np.sin(y)
    return [x * np.ones((2, 3)) * y, y4]


def test_a_continue_in_a_nested_loops_else_with_an_early_return_elsewhere():
    check_grads(continue_in_a_nested_loops_else, (0.575, -0.387, 2), argnums=(0, 1), modes=("rev", "fwd"))
    check_grads(continue_in_a_nested_loops_else, (0.575, -0.387, 1), argnums=(0, 1), modes=("rev", "fwd"))


def scale_an_entry_in_a_loop_in_a_branch(x):
    # a second-order refusal: the loop's tape kept `a1` (read by `getitem_adjoint` for its shape only), which
    # the next iteration's write changes; the branch's pullback measured `a1` after its own write
    a1 = np.ones(3) * x[0]
    if x[1] > 0:
        a1[-1] -= x[1]
    else:
        for r1 in x:
            a1[np.array([2, 2])] *= x[0]
    return np.sum(a1 ** 2)


def scale_an_entry_in_a_while_loop(x):
    a = np.ones(3) * x[0]
    k = 0
    while k < 3:
        a[np.array([2, 2])] *= x[1]
        k += 1
    return np.sum(a ** 2)


def scale_a_slice_in_nested_loops(x):
    a = np.ones(3) * x[0]
    for r in x:
        for _ in range(2):
            a[1:] *= r
    return np.sum(a ** 2)


def scale_through_a_mask_in_a_loop(x):
    a = np.ones(3) * x[0] + x
    for _ in range(2):
        a[a > 0.5] *= x[1]
    return np.sum(a ** 2)


@pytest.mark.parametrize("f, x", [
    (scale_an_entry_in_a_loop_in_a_branch, np.array([0.5, -0.3, 0.8])),
    (scale_an_entry_in_a_loop_in_a_branch, np.array([0.5, 0.3, 0.8])),
    (scale_an_entry_in_a_while_loop, np.array([0.5, -0.3, 0.8])),
    (scale_a_slice_in_nested_loops, np.array([0.5, -0.3, 0.8])),
    (scale_through_a_mask_in_a_loop, np.array([0.7, 0.9, 0.2])),
], ids=lambda v: getattr(v, "__name__", ""))
def test_an_array_the_pullback_only_measures_is_no_tape_entry_a_later_write_changes(f, x):
    np.testing.assert_allclose(s2sad.hessian(f)(x), s2sad.numeric.hessian(f, x), rtol=1e-5, atol=1e-6)
    check_grads(f, (x,), modes=("rev", "fwd"))
    check_grads(s2sad.grad(f), (x,), modes=("rev", "fwd"))


def rebinds_an_alias_of_a_parameter(x, y, z):
    v1 = z
    y2 = scipy.special.erfinv(0.0 + 0.8 * np.tanh(np.ones((3,)) * z)) if not x[0, 2] > 1.4 else np.clip(
        np.ones((3,)) * v1, -0.5, 0.8)
    v1 += z * v1
    return (1.5 + 1.0 * np.tanh(z if np.sum(x) < -0.8 else y2[1])) ** (0.0 + 1.5 * np.tanh(np.float64(z)))


def test_second_order_where_an_identity_test_folded_away_yields_its_own_out():
    x = np.array([[-1.309, 0.094, 0.473], [-1.075, 0.253, 1.135]])
    y = np.array([[-0.325], [-1.464]])
    f = lambda z: rebinds_an_alias_of_a_parameter(x, y, z)  # noqa: E731
    check_grads(s2sad.grad(f), (0.843,), modes=("rev", "fwd"))


def negated_nan_to_num(y):
    return np.nan_to_num(-np.sum(y)) + np.sum(np.isfinite(y) * y)


def test_a_unit_factor_is_kept_on_a_boolean_test():
    """``1.0 * np.isfinite(x)`` is a number; folding the 1.0 away left a boolean array, negated."""
    check_grads(negated_nan_to_num, (np.array([0.973, 0.636]),), modes=("rev", "fwd"))
    np.testing.assert_allclose(s2sad.grad(negated_nan_to_num)(np.array([0.973, 0.636])), [0.0, 0.0])


def write_through_a_name_aliased_on_one_path_after_an_early_return(x):
    a1 = x * 1.0
    z1 = a1
    if x[0] < -100.0:
        return -z1
    if x[1] >= 0.2:
        z1 = x * 2.0
    a1[0] += a1[1]
    z1 -= np.sin(x)  # writes into a1 where the branch above did not run
    return a1[0] * 1.5


def test_a_read_inside_a_branch_sees_the_binding_before_the_write_not_the_join():
    """The out of the early return's if is the name the branch bound itself (a1 after its write): the read
    of a1 after `z1 -= ...`, inside that branch, read the branch's binding; taking the join's for it let a
    stale read through (a wrong gradient, no error)."""
    with pytest.raises(S2SADSyntaxError, match="shares memory with the value written here") as info:
        s2sad.grad(write_through_a_name_aliased_on_one_path_after_an_early_return)(np.array([-1.376, -1.441]))
    assert info.value.lineno == write_through_a_name_aliased_on_one_path_after_an_early_return.__code__.co_firstlineno + 8


def closure_over_an_alias_of_a_rebound_number(x):
    v1 = x
    x -= 0.5 * x  # (a number: x is rebound, v1 keeps the old value)

    def g2(t2, scale=0.5):
        return v1 * t2 * scale
    return g2(x * v1) + g2(np.sin(x))


def test_a_closure_reads_a_capture_an_identity_test_would_have_renamed():
    check_grads(closure_over_an_alias_of_a_rebound_number, (0.692,), modes=("rev", "fwd"))
    check_grads(closure_over_an_alias_of_a_rebound_number, (-1.3,), modes=("rev", "fwd"))


def measured_by_a_name_bound_after_the_loop(x):
    a1 = np.zeros((2, 3))
    a1 -= x
    j1 = 0
    while j1 < 2:
        j1 += 1
        a1[::-1] -= np.tanh(a1[1])
    return a1[-1][-1] * np.sum(x)


def test_no_stand_in_is_taken_of_a_name_bound_later():
    """The adjoint measured a shape through a name bound after the loop; a stand-in of it was taken inside
    the loop, before it existed."""
    check_grads(measured_by_a_name_bound_after_the_loop, (np.array([[-0.403], [0.2]]),), modes=("rev", "fwd"))


def list_popped_after_a_branch_read_it(x, y):
    l2 = [x, y]
    if x <= -1.3:
        x = l2[-1]
    out = x * y + np.sin(x)
    l2.pop()
    return out


def test_a_zero_at_a_join_is_made_from_the_value_before_a_later_change():
    """The else branch gave the list no cotangent; its zero was made from the list after `pop`, one entry
    short (IndexError)."""
    for x in (0.181, -1.5):
        check_grads(list_popped_after_a_branch_read_it, (x, 0.4), modes=("rev", "fwd"))
        check_grads(s2sad.grad(list_popped_after_a_branch_read_it, argnums=1), (x, 0.4), modes=("rev", "fwd"))


def zero_d_array_updated_in_place(x):
    x = np.where(x > 0.1, x, -x)  # shape (), but a 0-d array: `*=` writes into it
    x *= math.log10(1.5 + math.tanh(x))
    return x * 1.0


def zero_d_copy_updated_in_place(x):
    y = np.array(x)
    y += np.sin(y) * y
    return y * x


def test_an_in_place_update_of_a_0d_array_is_a_write():
    """A value of shape () was taken for an immutable number; `np.where` of numbers is a 0-d array that
    `*=` changes in place, and the pullback read the changed value (no snapshot)."""
    for f in (zero_d_array_updated_in_place, zero_d_copy_updated_in_place):
        check_grads(f, (0.7,), modes=("rev", "fwd"))
        check_grads(s2sad.grad(f), (0.7,), modes=("rev", "fwd"))


def lambda_capturing_two(x, y):
    g1 = lambda t: x * np.sum(np.sin(y))  # noqa: E731  (a lambda, as the fuzzer wrote it)
    return g1(y) * 2.0


def test_a_second_derivative_through_a_lambda_that_captured_two_values():
    """A function value's cotangent read for one capture gave, transposed, a dict of that capture alone; the
    literal the pullback returned ({'x': ..., 'y': ...}) then read the other key (KeyError)."""
    args = (-0.778, np.array([1.125, 0.372, 0.445]))
    for argnum in (0, 1):
        check_grads(s2sad.grad(lambda_capturing_two, argnums=argnum), args, modes=("rev", "fwd"))


def entry_replaced_after_a_loop_read_it(y):
    d1 = {"p": y[1, 0]}
    j1 = 0
    while j1 < 4 and np.sum(y) > 100.0:
        return -1.2 - d1["p"]
    y1 = np.ones((2, 3)) * y
    for r2 in y1:
        d1["p"] = np.tanh(r2)
    return 1.0 * np.sum(y)


def test_a_loops_zero_is_made_from_the_value_at_the_loop():
    """The zero a loop's pullback starts adding into for a dict the loop read was made from the dict when the
    pullback ran, after a later loop had replaced its entry by an array (setting an array element with a
    sequence)."""
    check_grads(entry_replaced_after_a_loop_read_it, (np.array([[0.3], [-0.5]]),), modes=("rev", "fwd"))


def output_of_an_int_times_one(x, k):
    y = np.arctan(x)  # (x does not reach the output: its gradient is zero)
    return k * 1.0 + 0.0 * np.sum(y)


def output_of_an_int_times_one_only(x, k):
    return k * 1.0


def test_the_seed_reads_the_output_unfolded():
    """`k * 1.0` of an int `k` is a float; the fused gradient folded it to `k` inside scalar_seed, which
    then refused an int output."""
    x = np.array([0.3, 0.5])
    for f in (output_of_an_int_times_one, output_of_an_int_times_one_only):
        np.testing.assert_array_equal(s2sad.grad(f)(x, 2), s2sad.value_and_grad(f)(x, 2)[1])
        check_grads(f, (x, 2), argnums=[0], modes=("rev", "fwd"))


def written_through_a_view_in_a_loop(x):
    a1 = np.ones((2, 1)) * 1.9
    z1 = a1[:, 0]  # (a view of a1)
    for _ in range(1, 2):
        a1[:, 0] += x[:2]
        z1 += x[1]  # (writes a1 after the loop's value of a1 was bound)
    return a1[1, 0] * x[2]


def test_a_write_through_another_name_in_a_loop_is_refused():
    """--seed 9184467 --index 8295: `z1 += v` wrote, through a view, into the array the loop carries, after
    the loop's value of it was bound; the read after the loop took that value as current (a wrong
    gradient, silently). Now refused at the write, as it is outside a loop."""
    for mode in ("rev", "fwd"):
        with pytest.raises(S2SADSyntaxError, match="shares memory with the value written here"):
            check_grads(written_through_a_view_in_a_loop, (np.array([1.195, -0.786, 1.345]),), modes=(mode,))


def item_of_a_joined_list_then_appended(x):
    l1 = [x[[1, 1, 0]]]
    l1 = l1 + [-x[[1, 1, 0]]]  # (a list or a tuple, as far as the transform knows)
    y3 = l1[1]
    l1.append(x * 2.0)
    return np.sum(y3 * y3) + np.sum(l1[2])


def item_of_a_joined_list_then_its_array_written(x):
    a = x * 1.0
    l1 = [a] + [x]
    y = l1[0]
    a[0] = 5.0  # (y is a)
    return np.sum(y * y)


def test_an_item_of_a_joined_list_is_what_it_holds():
    """--seed 7719305 --index 7716 (a false refusal): an item of `l1 + [v]`, whose kind is a list or a tuple, was
    taken for a view of the container, so an append to the container refused a read of the item. It is what
    the container holds, as an item of a known list is: a write into that array is still seen."""
    x = np.array([-0.702, -0.297])
    check_grads(item_of_a_joined_list_then_appended, (x,), modes=("rev", "fwd"))
    with pytest.raises(S2SADSyntaxError, match="'y' shares memory with the array written here"):
        s2sad.grad(item_of_a_joined_list_then_its_array_written)(x)


def rows_scaled_in_place_then_a_mask(x):
    a1 = np.full((2, 3), -1.2)
    for r1, r2 in zip(a1, a1):
        r1 *= math.asinh(r2[-1])  # (writes into a1, through its rows)
    return np.sum((x[..., 0] if np.sum(x[1]) >= -1.3 else x[:, 1])[a1[:, 1] < -0.1])


def test_the_fused_gradient_keeps_an_inplace_write_nothing_reads_by_its_name():
    """--seed 5550917 --index 5215: the fused gradient (grad, value_and_grad) dropped `r1 *= v` as dead code, since
    nothing reads `r1` after it; it writes into a1, read for the mask, so the value and the gradient were
    wrong (the vjp, which drops nothing, was right)."""
    x = np.array([[-0.729, -0.392, 0.68], [1.276, -0.802, 1.06]])
    value, g = s2sad.value_and_grad(rows_scaled_in_place_then_a_mask)(x)
    assert value == rows_scaled_in_place_then_a_mask(x.copy()) == 0.0
    np.testing.assert_array_equal(g, np.zeros_like(x))
    np.testing.assert_array_equal(s2sad.grad(rows_scaled_in_place_then_a_mask)(x), np.zeros_like(x))
    check_grads(rows_scaled_in_place_then_a_mask, (x,), modes=("rev", "fwd"))
