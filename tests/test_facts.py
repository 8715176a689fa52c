"""The static facts of ``facts`` on lowered functions: what a loop's carried value keeps (assumed from its
start, dropped where an iteration changes it) and what a branch's out is on both paths. Names are the
lowering's SSA names (``ir.dump`` shows them)."""

import math

import numpy as np

from s2sad.activity import analyze
from s2sad.callee_facts import callee_result
from s2sad.ssa import lowered_ir
from s2sad.testing import check_grads


def facts_of(fn, wrt, dims=None, typed=False):
    return analyze(lowered_ir(fn)[2], wrt, set(), dims=dims, typed=typed,
                   specialise=callee_result if typed else None)


def scalar_then_array(x):
    s = 0.0  # s: a number, then an array from the first iteration on
    k = 0.0  # k: a number on every iteration
    for i in range(3):
        s = s + x
        k = k + 1.0
    return np.sum(s) * k


def test_a_carried_number_that_an_iteration_makes_an_array_is_not_a_scalar():
    an = facts_of(scalar_then_array, ["x"])
    assert {"s", "k", "k_1", "k_2", "k_3"} <= an.scalars
    assert not {"s_1", "s_2", "s_3"} & an.scalars


def needs_a_number(x, y):
    for i in range(2):
        u = y * 2.0
        x = x + math.sin(u)  # math.sin takes numbers only: u, and so y, hold one
    return x


def test_a_use_that_needs_a_number_tells_about_the_values_bound_on_entering_the_loop():
    an = facts_of(needs_a_number, ["x", "y"])
    assert {"u", "sin"} <= an.scalars
    assert "x_1" not in an.scalars  # (x's start is not known to be a number)


def grows_and_keeps(x, y, a):
    for i in range(3):
        x = x * a[i]  # (1,), then (4,)
        y = np.tanh(y * a[i])  # (4,) on every iteration
    return np.sum(x) + np.sum(y)


def test_a_carried_shape_an_iteration_changes_is_not_known():
    an = facts_of(grows_and_keeps, ["x", "y", "a"], dims={"x": (1,), "y": (4,), "a": (3, 4)})
    assert an.dims["y_1"] == an.dims["y_3"] == (4,)
    assert "x_1" not in an.dims and "x_3" not in an.dims
    assert an.dims["mul"] == (4,)  # (x_1 * a[i]: broadcast against a known (4,) is not known either)


def branch_shapes(x, t):
    if t > 0:
        y = x * 2.0
    else:
        y = x[:2]
    return np.sum(y)


def test_an_out_of_two_shapes_is_not_known():
    an = facts_of(branch_shapes, ["x"], dims={"x": (3,)})
    assert "y_2" not in an.dims


def keeps_its_class(x, a):
    y = x
    s = 0.0
    z = x
    for i in range(3):
        s = s + y  # s: a number first, then y's shape: in no class
        y = np.tanh(y * 2.0)
        z = z * a  # (a may broadcast z)
    return np.sum(s) + np.sum(y) + np.sum(z)


def test_a_carried_value_is_in_its_starts_class_while_iterations_keep_it():
    an = facts_of(keeps_its_class, ["x", "a"])
    assert an.shapes["y_1"] == an.shapes["y_3"] == "x"
    assert an.shapes.get("z_1", "z_1") == "z_1" and an.shapes.get("z_3", "z_3") == "z_3"
    assert an.shapes.get("s_1", "s_1") == "s_1" and an.shapes.get("s_3", "s_3") == "s_3"


def mean_like(v):
    return np.mean(v) + v * np.mean(v * v)


def calls_with_a_carried_value(x):
    s = 1.0
    t = 0.0
    for i in range(3):
        t = t + mean_like(s)  # s is a number on the first iteration only
        s = s * x
    return np.sum(t * x) + np.sum(s)


def test_a_call_resolved_for_a_carried_values_start_only_is_not_specialised():
    an = facts_of(calls_with_a_carried_value, ["x"], typed=True)
    assert an.calls == {}  # (the first walk of the body resolved it for a number)


def carried_broadcasts(x, a, b):
    y = x
    z = x * 2.0
    w = 0.0
    for i in range(3):
        y = np.tanh(y) * 1.5  # x's shape on every iteration
        z = z + a * y  # a broadcasts z from the first iteration on
        w = w + y * b
    return np.sum(y) + np.sum(z * z) + np.sum(w)


def test_a_carried_values_class_gives_the_gradients_shapes():
    rng = np.random.default_rng(3)
    for x, a, b in [(rng.standard_normal(1), rng.standard_normal(3), rng.standard_normal((2, 1))),
                    (rng.standard_normal(3), rng.standard_normal(1), rng.standard_normal(3))]:
        check_grads(carried_broadcasts, (x, a, b), modes=("rev", "fwd"))
        check_grads(carried_broadcasts, (x, a, b), modes=("rev",), order=2)
