"""Control flow: branches, loops, early exits, each checked against finite differences."""

import math

import cf_corpus as cf
import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads, peak_memory

rng = np.random.default_rng(7)

CASES = [
    (cf.piecewise, (-0.7,)), (cf.piecewise, (0.4,)), (cf.piecewise, (1.6,)),
    (cf.early_return, (-1.3,)), (cf.early_return, (0.8,)),
    (cf.ternary, (2.0, 1.0)), (cf.ternary, (0.5, 1.5)),
    (cf.bool_ops, (1.0, 2.0)), (cf.bool_ops, (-6.0, 2.0)), (cf.bool_ops, (1.0, -2.0)),
    (cf.chained, (0.5, 2.0)), (cf.chained, (3.0, 2.0)),
    (cf.one_branch, (0.5, 2.0)), (cf.one_branch, (-0.5, 2.0)),
    (cf.power_loop, (1.3, 4)), (cf.power_loop, (1.3, 0)),
    (cf.sum_loop, (0.3,)),
    (cf.spring, (2.0, 0.5)),
    (cf.return_in_loop, (1.1,)), (cf.return_in_loop, (0.01,)),
    (cf.nested_loops, (0.3,)),
    (cf.skip_odd, (0.7,)),
    (cf.rows, (rng.standard_normal((5, 3)), rng.standard_normal(3))),
    (cf.enumerate_zip, (rng.standard_normal(4), rng.standard_normal(4))),
    (cf.while_loop, (0.4,)),
    (cf.while_condition_on_value, (1.2,)),
    (cf.for_else, (1.5,)), (cf.for_else, (50.0,)),
    (cf.float_to_array, (0.7, rng.standard_normal(3))),
    (cf.branch_in_loop, (0.9,)), (cf.branch_in_loop, (0.13,)),
    (cf.rnn, (rng.standard_normal((4, 4)) * 0.5, rng.standard_normal((4, 3)), rng.standard_normal((6, 3)),
              rng.standard_normal(4))),
    (cf.scalar_loop, (0.3, 0.7)),
    (cf.loop_over_list, (0.3, 0.7)),
    (cf.loop_over_global_items, (0.3,)),
]


@pytest.mark.parametrize("fn, args", CASES, ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)])
def test_matches_finite_differences(fn, args):
    check_grads(fn, args)


def test_newton_sqrt_with_convergence_break():
    for a in (2.0, 9.0, 0.3):
        g = s2sad.grad(cf.newton_sqrt)(a)
        assert abs(g - 0.5 / math.sqrt(a)) < 1e-9


def test_spring_closed_form_free_of_loop_count_bugs():
    gk, gv = s2sad.grad(cf.spring, argnums=(0, 1))(2.0, 0.5)
    check_grads(cf.spring, (2.0, 0.5))
    assert gk != 0.0 and gv != 0.0


def test_pullback_can_be_called_twice():
    out, pullback = s2sad.vjp(cf.power_loop, 1.5, 3)
    assert pullback(1.0)[0] == pullback(1.0)[0] == 3 * 1.5**2


def test_long_loop_has_no_recursion_and_saves_one_value_per_step():
    def long_loop(x):
        for i in range(200_000):
            x = x * 0.99999 + 1e-6
        return x

    def sin_loop(x):
        for i in range(200_000):
            x = math.sin(x)
        return x

    g = s2sad.grad(long_loop)
    assert abs(g(1.0) - 0.99999**200_000) < 1e-9
    # the adjoint of x * c + d reads nothing: only the tape's list slot (8 bytes) per step
    assert peak_memory(g, 1.0) < 200_000 * 16
    # the adjoint of sin reads x: one Python float (24 bytes) plus its slot per step
    assert peak_memory(s2sad.grad(sin_loop), 1.0) < 200_000 * 48


def accumulate(x):
    s = x * 0.0
    for i in range(40):
        s = s + x * float(i)
    return np.sum(s)


def test_a_loop_keeps_no_array_its_adjoint_only_measures():
    x = np.ones(100_000)
    # the adjoint of s + x * i reads both operands for their shapes only: the tape keeps stand-ins
    # holding no data (shape_like), not two arrays per step
    assert peak_memory(s2sad.grad(accumulate), x) < 8 * x.nbytes
    check_grads(accumulate, (x[:3],), modes=("rev", "fwd"))


def test_million_step_loop_runs_without_recursion_error():
    def million(x):
        for i in range(1_000_000):
            x = x * 1.0
        return x

    assert s2sad.grad(million)(2.0) == 1.0


def test_reading_the_loop_variable_after_the_loop_is_refused_at_its_line():
    with pytest.raises(s2sad.S2SADSyntaxError, match="loop variable 'i' after the loop") as info:
        s2sad.grad(cf.loop_var_after_loop)(1.0)
    assert info.value.filename == cf.__file__
    assert info.value.text.strip() == "return x * i"  # the read, after the loop


def test_loop_over_a_computed_iterable_is_differentiated():
    check_grads(cf.loop_over_computed, (np.arange(6.0).reshape(2, 3) / 4.0,), modes=("rev", "fwd"))
