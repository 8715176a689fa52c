"""Whole NumPy programs users write: MLPs, RNNs, stencils, solves; pytrees of parameters."""

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

rng = np.random.default_rng(3)


def mlp_loss(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    logits = logits - np.max(logits, axis=1, keepdims=True)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    n = x.shape[0]
    return -np.mean(logp[np.arange(n), y])


def make_params(dtype=np.float64):
    return {"W1": (rng.standard_normal((5, 8)) * 0.5).astype(dtype), "b1": np.zeros(8, dtype),
            "W2": (rng.standard_normal((8, 3)) * 0.5).astype(dtype), "b2": (rng.standard_normal(3) * 0.1).astype(dtype)}


def test_mlp_with_softmax_cross_entropy_and_dict_params():
    params = make_params()
    x, y = rng.standard_normal((6, 5)), np.array([0, 2, 1, 1, 0, 2])
    g = s2sad.grad(mlp_loss)(params, x, y)
    assert isinstance(g, dict) and set(g) == set(params)
    assert all(g[k].shape == params[k].shape for k in params)
    check_grads(mlp_loss, (params, x, y), argnums=[0])


def test_float32_mlp_gets_float32_gradients():
    params = make_params(np.float32)
    x, y = rng.standard_normal((6, 5)).astype(np.float32), np.array([0, 2, 1, 1, 0, 2])
    g = s2sad.grad(mlp_loss)(params, x, y)
    assert all(g[k].dtype == np.float32 for k in g)
    g64 = s2sad.grad(mlp_loss)({k: v.astype(np.float64) for k, v in params.items()}, x.astype(np.float64), y)
    for k in g:
        np.testing.assert_allclose(g[k], g64[k], rtol=1e-3, atol=1e-5)


def logistic(w, X, t):
    z = X @ w
    return np.mean(np.log1p(np.exp(-t * z))) + 0.01 * np.sum(w ** 2)


def test_logistic_regression():
    X, t = rng.standard_normal((20, 4)), np.sign(rng.standard_normal(20))
    check_grads(logistic, (rng.standard_normal(4), X, t), argnums=[0])


def rnn(params, xs, h0):
    W, U, b = params
    h = h0
    for t in range(6):
        h = np.tanh(W @ h + U @ xs[t] + b)
    return np.sum(h ** 2)


def test_rnn_over_six_steps_with_tuple_params():
    params = (rng.standard_normal((4, 4)) * 0.4, rng.standard_normal((4, 3)) * 0.4, rng.standard_normal(4) * 0.1)
    g = s2sad.grad(rnn)(params, rng.standard_normal((6, 3)), rng.standard_normal(4))
    assert isinstance(g, tuple) and [x.shape for x in g] == [p.shape for p in params]
    check_grads(rnn, (params, rng.standard_normal((6, 3)), rng.standard_normal(4)))


def heat(u0, kappa):
    u = u0
    for step in range(20):
        u = u + kappa * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return np.sum(u ** 2 * np.linspace(0.0, 1.0, u.shape[0]))


def test_heat_equation_stencil_with_roll():
    check_grads(heat, (rng.standard_normal(16), 0.2))


def solve_loss(A, b):
    x = np.linalg.solve(A, b)
    return np.sum(x ** 2)


def test_linalg_solve_wrt_matrix_and_rhs():
    A = rng.standard_normal((4, 4)) + 4.0 * np.eye(4)
    check_grads(solve_loss, (A, rng.standard_normal(4)))
    check_grads(solve_loss, (A, rng.standard_normal((4, 2))))


def nested_tree(p):
    return p["layer"][0] * np.sum(p["layer"][1] ** 2) + p["scale"] * len(p["names"])


def with_names(p):
    return nested_tree({"layer": p["layer"], "scale": p["scale"], "names": ["a", "b"]})


def test_nested_pytree():
    p = {"layer": (0.5, rng.standard_normal(3)), "scale": 2.0}
    g = s2sad.grad(with_names)(p)
    assert isinstance(g["layer"], tuple) and isinstance(g["layer"][0], float)
    check_grads(with_names, (p,))


def returns_tree(x):
    return {"sum": np.sum(x), "parts": (x * 2.0, x[0])}


def test_vjp_of_a_pytree_output():
    x = rng.standard_normal(3)
    out, pullback = s2sad.vjp(returns_tree, x)
    (g,) = pullback({"sum": 1.0, "parts": (np.ones(3), 2.0)})
    np.testing.assert_allclose(g, 1.0 + 2.0 + np.array([2.0, 0.0, 0.0]))
    check_grads(returns_tree, (x,))


def test_integer_leaf_in_a_pytree_is_refused():
    with pytest.raises(TypeError, match="inside a pytree"):
        s2sad.grad(lambda p: p["a"] * 2.0)({"a": 1.0, "n": np.arange(3)})


def methods_everywhere(x, w):
    a = x.reshape(3, 4).T.dot(w).sum() + x.max() * x.min() + x.squeeze().mean(axis=0).sum()
    b = x.clip(-0.5, 0.5).ravel().sum() + x.flatten().std() + x.astype(float).prod(axis=1).sum()
    return a + b + x.transpose().cumsum(axis=0).var() + x.shape[0] * x.ndim + x.size


def test_array_methods_and_attributes():
    check_grads(methods_everywhere, (rng.standard_normal((3, 4)), rng.standard_normal(3)))
