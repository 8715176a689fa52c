"""Every corpus function: s2sad's gradient against central finite differences."""

import corpus
import numpy as np
import pytest

from s2sad.testing import check_grads

rng = np.random.default_rng(42)


def r(*shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, shape)


CASES = [
    (corpus.poly, (0.5, -0.5)),
    (corpus.trig, (1.3,)),
    (corpus.log_mix, (1.2, 0.7)),
    (corpus.product, (3.0, 2.0)),
    (corpus.math_zoo, (0.8,)),
    (corpus.powers, (1.3, 0.7)),
    (corpus.operators, (0.9, 1.7)),
    (corpus.augmented, (0.9, 1.7)),
    (corpus.unpacking, (0.9, 1.7)),
    (corpus.reassign, (0.4,)),
    (corpus.uses_global, (0.4,)),
    (corpus.numpy_elementwise, (r(5),)),
    (corpus.numpy_elementwise, (0.3,)),
    (corpus.reductions, (r(3, 3),)),
    (corpus.methods, (r(3, 4), r(3))),
    (corpus.broadcasting, (r(3, 4), r(4), r(3, 1), 0.5)),
    (corpus.matmuls, (r(3, 3), r(3, 2), r(3), r(3))),
    (corpus.batched_matmul, (r(2, 3, 4), r(4, 5))),
    (corpus.batched_matmul, (r(4), r(2, 4, 3))),
    (corpus.batched_matmul, (r(2, 3, 4), r(4))),
    (corpus.subscripts, (r(6),)),
    (corpus.matrix_subscripts, (r(4, 4),)),
    (corpus.containers, (0.3, -1.2)),
    (corpus.tuple_reads, (0.3, -1.2)),
    (corpus.logistic, (r(4), r(10, 4), np.sign(r(10)))),
    (corpus.two_layer, (r(4, 5), r(5), r(5, 2), r(3, 4))),
    (corpus.keyword_call, (r(3, 3),)),
    (corpus.float_conversion, (0.7,)),
    (corpus.with_default, (0.7,)),
    (corpus.ignores_y, (0.7, 1.1)),
]


@pytest.mark.parametrize("fn, args", CASES, ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)])
def test_matches_finite_differences(fn, args):
    check_grads(fn, args)


def test_integer_argument_is_constant():
    check_grads(corpus.with_int, (1.3, 3), argnums=[0])


def test_float32_arrays():
    x = r(3, 4).astype(np.float32)
    w = r(3).astype(np.float32)
    check_grads(corpus.methods, (x, w))


def test_check_grads_catches_a_wrong_gradient():
    # the checker must be able to fail: a function whose registered rule we break on purpose
    from s2sad import rules

    original = rules.RULES[np.sin]
    rules.RULES[np.sin] = rules.Rule("numpy.sin", lambda g, ans, x: (g * rules.np.sin(x),), elementwise=True)
    try:
        def wrong(x):
            return np.sum(np.sin(x))

        with pytest.raises(AssertionError, match="finite differences"):
            check_grads(wrong, (r(3),))
    finally:
        rules.RULES[np.sin] = original


def sin_times_x(x):
    return np.sum(np.sin(x) * x)


def sin_times_x_again(x):  # (not yet transformed when the rule is broken: derivatives are cached)
    return np.sum(np.sin(x) * x)


def test_check_grads_checks_second_derivatives_at_order_two(monkeypatch):
    # order=2 checks grad of f against finite differences of grad: with cos's rule wrong (the second
    # derivative of sin is built from it), the first order still passes and the second order fails
    import dataclasses

    from s2sad import rules

    x = r(3)
    check_grads(sin_times_x, (x,), modes=("rev", "fwd"), order=2)
    check_grads(lambda x: np.sin(x) * x[::-1], (x,), modes=("rev", "fwd"), order=2)  # projected on a random u
    check_grads(lambda x, y: np.sum(np.sin(x) * y ** 2), (x, 0.5), modes=("rev", "fwd"), order=3)
    monkeypatch.setitem(rules.RULES, np.cos, dataclasses.replace(
        rules.RULES[np.cos], reverse=lambda g, ans, x: (g * rules.np.sin(x),)))
    check_grads(sin_times_x_again, (x,), modes=("rev",))
    with pytest.raises(AssertionError, match="finite differences"):
        check_grads(sin_times_x_again, (x,), modes=("rev",), order=2)
