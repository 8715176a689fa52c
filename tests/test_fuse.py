"""The fused gradient (``s2sad.fuse``): what its clean-ups leave out, and what they must keep.

``check_grads`` also compares ``grad`` with the vjp on every scalar-output test, so
the whole suite runs the fused function; these tests pin its particular promises.
"""

import pathlib
import re
import sys

import numpy as np

import s2sad
from s2sad.testing import check_grads, peak_memory

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "bench"))

from workloads import w4, w4_hand


def test_elementwise_gradient_is_lean_in_time_and_memory():
    text = s2sad.source(w4, stage="grad")
    assert "broadcast_to" not in text and "add_bar" not in text  # the sum's ones were folded away
    x = np.random.default_rng(0).standard_normal(200_000)
    g = s2sad.grad(w4)
    np.testing.assert_allclose(g(x), w4_hand(x), rtol=1e-10, atol=1e-12)
    # each temporary is freed when used, as in the hand-written gradient (issue 7: <= 1.3x)
    assert peak_memory(g, x) <= 1.3 * peak_memory(w4_hand, x)


def keeps_names(x):
    h = np.tanh(x)
    return np.sum(h * h)


def test_the_users_names_stay():
    text = s2sad.source(keeps_names, stage="grad")
    assert "h = np.tanh(x)" in text and "h_bar" in text
    check_grads(keeps_names, (np.linspace(-1.0, 1.0, 5),))


def prints(x):
    print("computing")
    return np.sum(x * x)


def test_effects_are_neither_dropped_nor_moved(capsys):
    np.testing.assert_allclose(s2sad.grad(prints)(np.arange(3.0)), 2.0 * np.arange(3.0))
    assert capsys.readouterr().out == "computing\n"


def cos_then_write(x):
    y = x * 1.0
    s = np.sum(np.cos(y) * x)  # the pullback reads cos(y) as it was here...
    y[0] = 0.0  # ...not after this write
    return s + np.sum(y * y)


def test_a_value_is_not_moved_past_a_write_to_what_it_reads():
    check_grads(cos_then_write, (np.array([0.3, -1.2, 0.8]),))
    x = np.array([0.3, -1.2, 0.8])
    expected = np.cos(x) - x * np.sin(x) + 2 * x * (np.arange(3) > 0)
    np.testing.assert_allclose(s2sad.grad(cos_then_write)(x), expected, rtol=1e-12)


def broadcast_against_other_shapes(x, b):
    return np.mean(np.sin(x) * b) + np.sum(np.exp(x), axis=0, keepdims=True).sum()


def test_a_broadcast_cotangent_is_kept_where_shapes_differ():
    rng = np.random.default_rng(1)
    check_grads(broadcast_against_other_shapes, (rng.standard_normal((3, 1)), rng.standard_normal(4)))


def test_user_code_keeps_its_copies_and_dtypes():
    def f(x):
        y = x * 1.0  # a float copy of an int array: not to be folded to `y = x`
        y[0] = 2.5
        return np.sum(y * y) * 1.0

    assert s2sad.grad(f)(np.arange(3.0)).tolist() == [0.0, 2.0, 4.0]
    assert "x * 1.0" in s2sad.source(f, stage="grad")


def rows(x, a):
    for i in range(a.shape[0]):
        x = np.tanh(x * a[i])
    return np.sum(x)


def repeated_rows(x, a, idx):
    for i in idx:  # rows may repeat: their cotangents must add up
        x = np.tanh(x * a[i])
    return np.sum(x)


def test_a_row_reached_once_per_iteration_is_assigned_not_added():
    rng = np.random.default_rng(2)
    args = (rng.standard_normal(3), rng.standard_normal((4, 3)))
    check_grads(rows, args)
    text = s2sad.source(rows, argnums=(0, 1), stage="grad", args=args)
    assert "a_bar[i] = " in text and "add_at" not in text
    check_grads(repeated_rows, (*args, [0, 2, 0, 0]), argnums=[0, 1])
    assert "add_at" in s2sad.source(repeated_rows, argnums=(0, 1), stage="grad", args=(*args, [0, 2, 0, 0]))


def scale_fit(s, d):
    return np.sum(np.exp(2.0 * s - d * np.exp(-s))) + np.sum(np.exp(-d * s))


def test_a_sign_moves_onto_the_sum_it_meets():
    text = s2sad.source(scale_fit, argnums=0, stage="grad", args=(0.3, np.ones(4)))
    assert not re.search(r"\(-\w+ \* \w+\)\.sum", text)  # the sign on the sum (two cancel here), not on each element
    check_grads(scale_fit, (0.3, np.linspace(0.1, 1.0, 4)), modes=("rev", "fwd"))
    assert abs(s2sad.grad(scale_fit)(0.3, np.linspace(0.1, 1.0, 4)) - s2sad.numeric.derivative(
        lambda s: scale_fit(s, np.linspace(0.1, 1.0, 4)), 0.3)) < 1e-7
