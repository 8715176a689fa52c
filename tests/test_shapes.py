"""Derivatives specialised to the arguments' shapes (``facts.concrete_dims``, ``cache.ByShape``).

The first transform for an argument-types key is told the array arguments' shapes;
where that removes an ``unbroadcast``, the key gets one derivative per shape. Every
test here calls with shapes whose broadcasting differs, which a derivative that
kept the first call's assumptions would get wrong.
"""

import numpy as np
import pytest
from corpus import dense

import s2sad
from s2sad.cache import MAX_SHAPES, ByShape, get_cache
from s2sad.testing import check_grads


def steps(x, a, b):
    for i in range(a.shape[0]):
        x = np.tanh(x * a[i] + b[i])
    return np.sum(x)


def _entry(fn, args, wrt):
    e = get_cache(fn, wrt).table[tuple(map(type, args))]
    return e


def test_shapes_remove_the_shape_checks_and_other_shapes_get_their_own():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    check_grads(steps, (rng.standard_normal(4), a, b))
    router = _entry(steps, (np.ones(4), a, b), (0, 1, 2))
    assert isinstance(router, ByShape)
    (only,) = router.table.values()
    assert "unbroadcast" not in only.generated.grad_text
    assert "unbroadcast" in s2sad.source(steps, argnums=(0, 1, 2), stage="grad")  # the generic variant
    check_grads(steps, (rng.standard_normal(1), a, b))  # x is broadcast now: its gradient sums
    check_grads(steps, (rng.standard_normal(4), a[:, :1], b))  # and now a[i]
    assert len(router.table) == 3


def grows(x, a):
    for i in range(3):
        x = x * a[i]  # (1,) then (4,): the carried shape changes, so it is not assumed
    return np.sum(x)


def test_a_loop_that_changes_a_shape_keeps_its_checks():
    rng = np.random.default_rng(1)
    check_grads(grows, (rng.standard_normal(1), rng.standard_normal((3, 4))))


def reduce_then_broadcast(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(np.exp(x - m) * x.T.sum(axis=0)[:, None])


@pytest.mark.parametrize("shape", [(3, 4), (1, 4), (3, 1), (1, 1)])
def test_reductions_products_and_transposes(shape):
    check_grads(reduce_then_broadcast, (np.random.default_rng(2).standard_normal(shape),))


def affine(W, x, b):
    return np.sum(np.tanh(W @ x + b))


def test_past_the_limit_one_derivative_serves_every_shape():
    rng = np.random.default_rng(3)
    g = s2sad.grad(affine, argnums=(0, 2))
    for n in range(1, MAX_SHAPES + 4):
        W, x, b = rng.standard_normal((n, 3)), rng.standard_normal(3), rng.standard_normal(1)
        gW, gb = g(W, x, b)
        d = 1.0 - np.tanh(W @ x + b) ** 2
        np.testing.assert_allclose(gW, np.outer(d, x), rtol=1e-12)
        np.testing.assert_allclose(gb, [d.sum()], rtol=1e-12)
    router = _entry(affine, (W, x, b), (0, 2))
    assert len(router.table) == MAX_SHAPES and router.any_shape is not None


def products(A, B):
    return np.sum(np.tanh(A @ B) * 2.0)


def test_matrix_products_are_written_out_for_matrices_only():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((3, 4))
    check_grads(products, (A, rng.standard_normal((4, 5))))
    router = _entry(products, (A, A), (0, 1))
    assert isinstance(router, ByShape)  # the ranks alone made it specific
    (only,) = router.table.values()
    assert "B.T" in only.generated.grad_text and "A.T @" in only.generated.grad_text
    check_grads(products, (A, rng.standard_normal(4)))  # a vector now: the helper for any rank
    check_grads(products, (rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))))


@pytest.mark.parametrize("bias, line", [
    ((4,), "b_bar = add_bar.sum(axis=0)"), ((1, 4), "b_bar = add_bar.sum(axis=0, keepdims=True)"),
    ((8, 1), "b_bar = add_bar.sum(axis=1, keepdims=True)"), ((1,), "b_bar = unbroadcast(add_bar, b)")])
def test_known_shapes_write_the_sums_out(bias, line):
    rng = np.random.default_rng(5)
    args = (rng.standard_normal((8, 3)), rng.standard_normal((3, 4)), rng.standard_normal(bias))
    check_grads(dense, args)
    router = _entry(dense, args, (0, 1, 2))
    text = router.table[tuple(a.shape for a in args)].generated.grad_text
    assert line in text and "x_bar = add_bar @ W.T" in text


def test_source_shows_the_variant_a_call_runs():
    rng = np.random.default_rng(6)
    args = (rng.standard_normal((8, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4))
    generic = s2sad.source(dense, argnums=(0, 1, 2), stage="grad")
    specific = s2sad.source(dense, argnums=(0, 1, 2), stage="grad", args=args)
    assert "unbroadcast" in generic and "matmul_lhs_adjoint" in generic  # (specific: test_golden's dense.shapes)
    s2sad.grad(dense, argnums=(0, 1, 2))(*args)
    assert specific == _entry(dense, args, (0, 1, 2)).table[tuple(a.shape for a in args)].generated.grad_text


def apply(f, x, y):
    return f(x, y)


def closure_through_a_parameter(x, y, k):
    g = lambda t, u: np.sum(np.tanh(t * u + t) * k)  # noqa: E731  (shape-specific: t * u has t's shape)
    return apply(g, x, y)


def test_a_shape_specific_closure_called_through_a_parameter():
    rng = np.random.default_rng(7)
    check_grads(closure_through_a_parameter, tuple(rng.standard_normal(3) for _ in range(3)))
    check_grads(closure_through_a_parameter, (rng.standard_normal(3), rng.standard_normal(1), rng.standard_normal(3)))


def corner(x, b):
    return np.tanh(x + b)[0, 0]  # no reduction: the seed reaches the pullback with no broadcast


def test_known_sums_without_a_reduction():
    rng = np.random.default_rng(8)
    args = (rng.standard_normal((3, 4)), rng.standard_normal(4))
    check_grads(corner, args)
    assert "b_bar = add_bar.sum(axis=0)" in s2sad.source(corner, argnums=(0, 1), stage="grad", args=args)
