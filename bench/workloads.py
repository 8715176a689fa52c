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


def w0(x):
    return x * x


def w0_hand(x):
    return 2.0 * x


def lorenz(x, y, z, s, r, b):
    return s * (y - x), x * (r - z) - y, x * y - b * z


def w7(s, r, b):
    x, y, z = 1.0, 1.0, 1.0
    h = 0.01
    for i in range(200):
        k1x, k1y, k1z = lorenz(x, y, z, s, r, b)
        k2x, k2y, k2z = lorenz(x + 0.5 * h * k1x, y + 0.5 * h * k1y, z + 0.5 * h * k1z, s, r, b)
        k3x, k3y, k3z = lorenz(x + 0.5 * h * k2x, y + 0.5 * h * k2y, z + 0.5 * h * k2z, s, r, b)
        k4x, k4y, k4z = lorenz(x + h * k3x, y + h * k3y, z + h * k3z, s, r, b)
        x, y, z = (x + h / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x),
                   y + h / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y),
                   z + h / 6.0 * (k1z + 2.0 * k2z + 2.0 * k3z + k4z))
    return x + y + z


def lorenz_bar(x, y, z, s, r, b, gx, gy, gz):
    """The cotangents of x, y, z, s, r, b from those of ``lorenz``'s three outputs."""
    return (-s * gx + (r - z) * gy + y * gz, s * gx - gy + x * gz, -x * gy - b * gz,
            (y - x) * gx, x * gy, -z * gz)


def w7_hand(s, r, b):
    x, y, z = 1.0, 1.0, 1.0
    h = 0.01
    tape = []
    for i in range(200):
        k1x, k1y, k1z = lorenz(x, y, z, s, r, b)
        x2, y2, z2 = x + 0.5 * h * k1x, y + 0.5 * h * k1y, z + 0.5 * h * k1z
        k2x, k2y, k2z = lorenz(x2, y2, z2, s, r, b)
        x3, y3, z3 = x + 0.5 * h * k2x, y + 0.5 * h * k2y, z + 0.5 * h * k2z
        k3x, k3y, k3z = lorenz(x3, y3, z3, s, r, b)
        x4, y4, z4 = x + h * k3x, y + h * k3y, z + h * k3z
        k4x, k4y, k4z = lorenz(x4, y4, z4, s, r, b)
        tape.append((x, y, z, x2, y2, z2, x3, y3, z3, x4, y4, z4))
        x, y, z = (x + h / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x),
                   y + h / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y),
                   z + h / 6.0 * (k1z + 2.0 * k2z + 2.0 * k3z + k4z))
    xb = yb = zb = 1.0
    sb = rb = bb = 0.0
    c1, c2, h2 = h / 6.0, h / 3.0, 0.5 * h
    for x, y, z, x2, y2, z2, x3, y3, z3, x4, y4, z4 in reversed(tape):
        a4x, a4y, a4z, ds4, dr4, db4 = lorenz_bar(x4, y4, z4, s, r, b, c1 * xb, c1 * yb, c1 * zb)
        a3x, a3y, a3z, ds3, dr3, db3 = lorenz_bar(x3, y3, z3, s, r, b, c2 * xb + h * a4x, c2 * yb + h * a4y,
                                                  c2 * zb + h * a4z)
        a2x, a2y, a2z, ds2, dr2, db2 = lorenz_bar(x2, y2, z2, s, r, b, c2 * xb + h2 * a3x, c2 * yb + h2 * a3y,
                                                  c2 * zb + h2 * a3z)
        a1x, a1y, a1z, ds1, dr1, db1 = lorenz_bar(x, y, z, s, r, b, c1 * xb + h2 * a2x, c1 * yb + h2 * a2y,
                                                  c1 * zb + h2 * a2z)
        sb += ds4 + ds3 + ds2 + ds1
        rb += dr4 + dr3 + dr2 + dr1
        bb += db4 + db3 + db2 + db1
        xb, yb, zb = xb + a4x + a3x + a2x + a1x, yb + a4y + a3y + a2y + a1y, zb + a4z + a3z + a2z + a1z
    return sb, rb, bb


def norm_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def bs_call(S, K, T, r, sigma):
    v = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r + 0.5 * sigma * sigma) * T) / v
    d2 = d1 - v
    return S * norm_cdf(d1) - K * math.exp(-r * T) * norm_cdf(d2)


def w8(S, sigma, r, strikes, T):
    total = 0.0
    for K in strikes:
        total = total + bs_call(S, K, T, r, sigma)
    return total


def w8_hand(S, sigma, r, strikes, T):
    """The chain rule through the same pricer, written out by hand (each strike's adjoint right after its
    price: the book is a sum)."""
    sq = math.sqrt(T)
    v = sigma * sq
    disc = math.exp(-r * T)
    drift = (r + 0.5 * sigma * sigma) * T
    S_bar = sigma_bar = r_bar = 0.0
    for K in strikes:
        num = math.log(S / K) + drift
        d1 = num / v
        d2 = d1 - v
        d2_bar = -K * disc * math.exp(-0.5 * d2 * d2) * 0.3989422804014327
        d1_bar = S * math.exp(-0.5 * d1 * d1) * 0.3989422804014327 + d2_bar
        num_bar = d1_bar / v
        S_bar += norm_cdf(d1) + num_bar / S
        sigma_bar += num_bar * sigma * T - (d2_bar + d1_bar * d1) * sq
        r_bar += (num_bar + K * disc * norm_cdf(d2)) * T
    return S_bar, sigma_bar, r_bar


def w9(params, xs, ys):
    h = np.zeros((xs.shape[1], params["Wh"].shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ params["Wx"] + h @ params["Wh"] + params["b"])
    return np.mean((h @ params["Wo"] - ys) ** 2)


def w9_hand(params, xs, ys):
    Wx, Wh, b, Wo = params["Wx"], params["Wh"], params["b"], params["Wo"]
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    hs = [h]
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        hs.append(h)
    d_out = (h @ Wo - ys) * (2.0 / ys.size)
    grads = {"Wo": h.T @ d_out, "Wx": np.zeros_like(Wx), "Wh": np.zeros_like(Wh), "b": np.zeros_like(b)}
    dh = d_out @ Wo.T
    for t in range(xs.shape[0] - 1, -1, -1):
        dz = dh * (1.0 - hs[t + 1] * hs[t + 1])
        grads["Wx"] += xs[t].T @ dz
        grads["Wh"] += hs[t].T @ dz
        grads["b"] += dz.sum(axis=0)
        dh = dz @ Wh.T
    return grads


def w10(params, X, labels):
    W1, b1, W2, b2 = params
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    logits = logits - np.max(logits, axis=1, keepdims=True)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    n = X.shape[0]
    return -np.mean(logp[np.arange(n), labels])


def w10_hand(params, X, labels):
    return list(w3_hand(*params, X, labels))


def w11(x, A, b):
    for i in range(20):
        x = x - 0.1 * (A.T @ (A @ x - b))
    return np.sum(x * x)


def w11_hand(x, A, b):
    xs, rs = [], []
    for i in range(20):
        r = A @ x - b
        xs.append(x)
        rs.append(r)
        x = x - 0.1 * (A.T @ r)
    x_bar = 2.0 * x
    A_bar, b_bar = np.zeros_like(A), np.zeros_like(b)
    for i in range(19, -1, -1):
        u = -0.1 * x_bar  # the cotangent of A.T @ r
        r_bar = A @ u
        A_bar += np.outer(rs[i], u) + np.outer(r_bar, xs[i])
        b_bar -= r_bar
        x_bar = x_bar + A.T @ r_bar
    return x_bar, A_bar, b_bar


def w12(log_ell, log_sf, log_sn, d2, y):
    """A Gaussian process's negative log marginal likelihood, RBF kernel, from squared distances ``d2``."""
    n = y.shape[0]
    k = np.exp(2.0 * log_sf - 0.5 * d2 * np.exp(-2.0 * log_ell)) + (np.exp(2.0 * log_sn) + 1e-6) * np.eye(n)
    chol = sl.cholesky(k, lower=True)
    z = sl.solve_triangular(chol, y, lower=True)
    return 0.5 * (z @ z) + np.sum(np.log(np.diag(chol))) + 0.5 * n * math.log(2.0 * math.pi)


def w12_hand(log_ell, log_sf, log_sn, d2, y):
    n = y.shape[0]
    kf = np.exp(2.0 * log_sf - 0.5 * d2 * np.exp(-2.0 * log_ell))
    sn2 = np.exp(2.0 * log_sn)
    factor = sl.cho_factor(kf + (sn2 + 1e-6) * np.eye(n), lower=True)
    alpha = sl.cho_solve(factor, y)
    w = sl.cho_solve(factor, np.eye(n)) - np.outer(alpha, alpha)  # 2 d(nll)/dK
    wk = w * kf
    return 0.5 * np.exp(-2.0 * log_ell) * np.sum(wk * d2), np.sum(wk), sn2 * np.trace(w)


def workloads(seed: int = 0):
    """(name, function, hand-written gradient, args, argnums) for W1-W6 and W12."""
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
        ("W12 Gaussian process, n = 200", w12, w12_hand, gaussian_process(rng, 200), (0, 1, 2)),
    ]


def gaussian_process(rng, n: int):
    """Hyperparameters (log length scale, log signal and noise scales), squared distances and targets."""
    x = rng.uniform(-3.0, 3.0, (n, 2))
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    y = np.sin(x[:, 0]) * np.cos(x[:, 1]) + 0.1 * rng.standard_normal(n)
    return (math.log(0.8), math.log(1.2), math.log(0.3), d2, y)


def unseen(seed: int = 0):
    """(name, function, hand-written gradient, args, argnums) for the workloads of issue 16 (W7-W11: code
    the rest of the benchmark was not tuned on) and the warm-call overhead of ``grad`` on ``x * x``."""
    rng = np.random.default_rng(seed)
    rnn = {"Wx": rng.standard_normal((8, 32)) * 0.3, "Wh": rng.standard_normal((32, 32)) * 0.15,
           "b": rng.standard_normal(32) * 0.1, "Wo": rng.standard_normal((32, 4)) * 0.3}
    mlp = [rng.standard_normal((784, 256)) * 0.05, np.zeros(256), rng.standard_normal((256, 10)) * 0.05, np.zeros(10)]
    strikes = [80.0 + 2.0 * k for k in range(20)]
    return [
        ("W0 warm call: grad of x * x", w0, w0_hand, (1.5,), 0),
        ("W7 RK4, helper RHS, tuple state", w7, w7_hand, (10.0, 28.0, 8.0 / 3.0), (0, 1, 2)),
        ("W8 Black-Scholes book, helper CDF", w8, w8_hand, (100.0, 0.2, 0.03, strikes, 1.5), (0, 1, 2)),
        ("W9 RNN 50 steps, dict params", w9, w9_hand,
         (rnn, rng.standard_normal((50, 32, 8)), rng.standard_normal((32, 4))), 0),
        ("W10 MLP 784-256-10, list params", w10, w10_hand,
         (mlp, rng.standard_normal((32, 784)), rng.integers(0, 10, 32)), 0),
        ("W11 20 GD steps on 5-vectors", w11, w11_hand,
         (rng.standard_normal(5), np.eye(5) + 0.1 * rng.standard_normal((5, 5)), rng.standard_normal(5)), (0, 1, 2)),
    ]


# workload -> (target for s2sad's time over the hand-written gradient's, target for its peak memory over it)
TARGETS = {
    "W0": (3.0, None), "W1": (3.0, None), "W2": (1.5, None), "W3": (1.1, None), "W4": (1.1, 1.3), "W5": (1.3, None),
    "W6": (1.3, None), "W7": (1.5, None), "W8": (1.5, None), "W9": (1.15, 1.5), "W10": (1.15, 1.5),
    "W11": (1.5, None), "W12": (1.3, None),
}


def all_workloads(seed: int = 0):
    """Every workload, in the order of their numbers."""
    return sorted([*workloads(seed), *unseen(seed)], key=lambda w: int(w[0].split()[0][1:]))
