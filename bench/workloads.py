"""The benchmark workloads: each a plain function and its hand-written NumPy gradient.

Every function is written once, with ``np``, ``math`` and ``sl`` (``scipy.linalg``); the
peers' versions run the same code object with those names bound to their own modules.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sl


def w1(x, y):
    return x**2 * y + 1 / (x**2 + y**2 + 1)


def w1_hand(x, y):
    d = x * x + y * y + 1.0
    q = -1.0 / (d * d)
    return 2.0 * x * y + q * 2.0 * x, x * x + q * 2.0 * y


def w2(x, y):
    for i in range(100):
        x = math.sin(x) * 0.9 + math.cos(x * y) * 0.1
    return x


def w2_hand(x, y):
    xs = []
    for i in range(100):
        xs.append(x)
        x = math.sin(x) * 0.9 + math.cos(x * y) * 0.1
    x_bar, y_bar = 1.0, 0.0
    for x in reversed(xs):
        d = -math.sin(x * y) * 0.1
        y_bar += x_bar * d * x
        x_bar = x_bar * (math.cos(x) * 0.9 + d * y)
    return x_bar, y_bar


def w3(W1, b1, W2, b2, X, labels):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    logits = logits - np.max(logits, axis=1, keepdims=True)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    n = X.shape[0]
    return -np.mean(logp[np.arange(n), labels])


def w3_hand(W1, b1, W2, b2, X, labels):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    logits = logits - np.max(logits, axis=1, keepdims=True)
    p = np.exp(logits)
    p /= np.sum(p, axis=1, keepdims=True)
    n = X.shape[0]
    p[np.arange(n), labels] -= 1.0
    d_logits = p / n
    d_h = d_logits @ W2.T
    d_z = d_h * (1.0 - h * h)
    return X.T @ d_z, d_z.sum(axis=0), h.T @ d_logits, d_logits.sum(axis=0)


def w4(x):
    return np.sum(np.sin(x) * np.exp(-x**2) + np.log1p(x**2))


def w4_hand(x):
    e = np.exp(-x * x)
    return np.cos(x) * e - 2.0 * x * np.sin(x) * e + 2.0 * x / (1.0 + x * x)


def w5(w, X, y):
    return np.mean(np.log(1 + np.exp(-y * (X @ w)))) + 0.01 * np.sum(w**2)


def w5_hand(w, X, y):
    s = -y * (X @ w)
    d = (-y / (1.0 + np.exp(-s))) / X.shape[0]
    return X.T @ d + 0.02 * w


def w6(x, a, b):
    for i in range(200):
        x = np.tanh(x * a[i] + b[i])
    return np.sum(x)


def w6_hand(x, a, b):
    xs, hs = [], []
    for i in range(200):
        xs.append(x)
        x = np.tanh(x * a[i] + b[i])
        hs.append(x)
    x_bar = np.ones_like(x)
    a_bar, b_bar = np.zeros_like(a), np.zeros_like(b)
    for i in range(199, -1, -1):
        z_bar = x_bar * (1.0 - hs[i] * hs[i])
        a_bar[i] = z_bar * xs[i]
        b_bar[i] = z_bar
        x_bar = z_bar * a[i]
    return x_bar, a_bar, b_bar


def w7(log_ell, log_sf, log_sn, d2, y):
    """A Gaussian process's negative log marginal likelihood, RBF kernel, from squared distances ``d2``."""
    n = y.shape[0]
    k = np.exp(2.0 * log_sf - 0.5 * d2 * np.exp(-2.0 * log_ell)) + (np.exp(2.0 * log_sn) + 1e-6) * np.eye(n)
    chol = sl.cholesky(k, lower=True)
    z = sl.solve_triangular(chol, y, lower=True)
    return 0.5 * (z @ z) + np.sum(np.log(np.diag(chol))) + 0.5 * n * math.log(2.0 * math.pi)


def w7_hand(log_ell, log_sf, log_sn, d2, y):
    n = y.shape[0]
    kf = np.exp(2.0 * log_sf - 0.5 * d2 * np.exp(-2.0 * log_ell))
    sn2 = np.exp(2.0 * log_sn)
    factor = sl.cho_factor(kf + (sn2 + 1e-6) * np.eye(n), lower=True)
    alpha = sl.cho_solve(factor, y)
    w = sl.cho_solve(factor, np.eye(n)) - np.outer(alpha, alpha)  # 2 d(nll)/dK
    wk = w * kf
    return 0.5 * np.exp(-2.0 * log_ell) * np.sum(wk * d2), np.sum(wk), sn2 * np.trace(w)


def workloads(seed: int = 0):
    """(name, function, hand-written gradient, args, argnums) for W1-W7."""
    rng = np.random.default_rng(seed)
    mlp = (rng.standard_normal((784, 256)) * 0.05, np.zeros(256), rng.standard_normal((256, 10)) * 0.05, np.zeros(10),
           rng.standard_normal((32, 784)), rng.integers(0, 10, 32))
    return [
        ("W1 scalar expression", w1, w1_hand, (0.5, -0.5), (0, 1)),
        ("W2 100-step scalar loop", w2, w2_hand, (0.3, 0.7), (0, 1)),
        ("W3 MLP 784-256-10, batch 32", w3, w3_hand, mlp, (0, 1, 2, 3)),
        ("W4 elementwise, 1e6", w4, w4_hand, (rng.standard_normal(1_000_000),), 0),
        ("W5 logistic regression 1000x100", w5, w5_hand,
         (rng.standard_normal(100) * 0.1, rng.standard_normal((1000, 100)), np.sign(rng.standard_normal(1000))), 0),
        ("W6 200 steps on 10-vectors", w6, w6_hand,
         (rng.standard_normal(10), rng.standard_normal((200, 10)) * 0.5, rng.standard_normal((200, 10)) * 0.1),
         (0, 1, 2)),
        ("W7 Gaussian process, n = 200", w7, w7_hand, gaussian_process(rng, 200), (0, 1, 2)),
    ]


def gaussian_process(rng, n: int):
    """Hyperparameters (log length scale, log signal and noise scales), squared distances and targets."""
    x = rng.uniform(-3.0, 3.0, (n, 2))
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    y = np.sin(x[:, 0]) * np.cos(x[:, 1]) + 0.1 * rng.standard_normal(n)
    return (math.log(0.8), math.log(1.2), math.log(0.3), d2, y)
