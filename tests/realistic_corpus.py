"""Realistic programs, written as published NumPy tutorials write them (``test_realistic.py`` differentiates
each end to end): list-of-layers MLPs, an RNN and an LSTM, a Gaussian process, Bayesian logistic
regression, a VAE, a mixture model, an RK4 integrator, a Kalman filter, Black-Scholes, softmax regression,
attention, soft k-means, and more. Each builds its data with ``make_*``; ``PROGRAMS`` lists them."""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import math

import numpy as np
from scipy import stats
from scipy.linalg import cho_solve
from scipy.special import expit, log_expit, logsumexp


def rng(seed):
    return np.random.default_rng(seed)


# ----- 1. an MLP whose parameters are a list of (W, b) pairs -----


def init_mlp(sizes, r):
    return [(r.normal(size=(m, n)) / np.sqrt(m), np.zeros(n)) for m, n in itertools.pairwise(sizes)]


def mlp_predict(params, inputs, nonlinearity=np.tanh):
    h = inputs
    for W, b in params[:-1]:
        h = nonlinearity(h @ W + b)
    W_out, b_out = params[-1]
    logits = h @ W_out + b_out
    return logits - logsumexp(logits, axis=1, keepdims=True)


def mlp_loss(params, inputs, targets, l2=1e-3):
    log_prior = -l2 * sum(np.sum(W ** 2) for W, _ in params)
    log_lik = np.sum(mlp_predict(params, inputs) * targets)
    return -(log_prior + log_lik) / inputs.shape[0]


def make_mlp():
    r = rng(1)
    x = r.normal(size=(6, 4))
    y = np.eye(3)[r.integers(0, 3, size=6)]
    return (init_mlp([4, 5, 5, 3], r), x, y)


# ----- 2. a vanilla RNN, as autograd's example writes it -----


def concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def rnn_log_likelihood(params, inputs, targets):
    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    loglik = 0.0
    for t in range(inputs.shape[0]):
        hiddens = np.tanh(concat_and_multiply(params["change"], inputs[t], hiddens))
        output = concat_and_multiply(params["predict"], hiddens)
        output = output - logsumexp(output, axis=1, keepdims=True)
        loglik = loglik + np.sum(output * targets[t])
    return -loglik / (inputs.shape[0] * num_sequences)


def make_rnn():
    r = rng(2)
    D, H, T, N = 3, 4, 5, 2
    params = {"init hiddens": r.normal(size=(1, H)) * 0.1, "change": r.normal(size=(D + H + 1, H)) * 0.3,
              "predict": r.normal(size=(H + 1, D)) * 0.3}
    inputs = r.normal(size=(T, N, D))
    targets = np.eye(D)[r.integers(0, D, size=(T, N))]
    return (params, inputs, targets)


# ----- 3. an LSTM with a dict of gate weights -----


def sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def lstm_step(p, x, h, c):
    z = np.concatenate([x, h], axis=1)
    gates = {name: z @ p["W_" + name] + p["b_" + name] for name in ("i", "f", "o", "g")}
    i, f, o = sigmoid(gates["i"]), sigmoid(gates["f"]), sigmoid(gates["o"])
    c = f * c + i * np.tanh(gates["g"])
    h = o * np.tanh(c)
    return h, c


def lstm_loss(p, xs, ys):
    h = np.zeros((xs.shape[1], p["W_i"].shape[1]))
    c = np.zeros_like(h)
    errors = []
    for x, y in zip(xs, ys):
        h, c = lstm_step(p, x, h, c)
        errors.append(np.mean((h @ p["W_out"] - y) ** 2))
    return sum(errors) / len(errors)


def make_lstm():
    r = rng(3)
    D, H = 2, 3
    p = {f"W_{g}": r.normal(size=(D + H, H)) * 0.4 for g in "ifog"}
    p.update({f"b_{g}": np.zeros(H) for g in "ifog"})
    p["W_out"] = r.normal(size=(H, 1))
    return (p, r.normal(size=(4, 2, D)), r.normal(size=(4, 2, 1)))


# ----- 4. a Gaussian process's log marginal likelihood, by Cholesky -----


def rbf_kernel(x1, x2, lengthscale, variance):
    sq = np.sum(x1 ** 2, 1)[:, None] + np.sum(x2 ** 2, 1)[None, :] - 2.0 * x1 @ x2.T
    return variance * np.exp(-0.5 * sq / lengthscale ** 2)


def gp_neg_log_marginal(log_params, x, y):
    lengthscale, variance, noise = np.exp(log_params)
    K = rbf_kernel(x, x, lengthscale, variance) + noise * np.eye(len(x))
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        L = np.linalg.cholesky(K + 1e-6 * np.eye(len(x)))
    alpha = cho_solve((L, True), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * len(x) * np.log(2 * np.pi)


def make_gp():
    r = rng(4)
    x = r.uniform(-2, 2, size=(7, 1))
    return (np.log(np.array([0.8, 1.2, 0.1])), x, np.sin(2 * x[:, 0]) + 0.1 * r.normal(size=7))


# ----- 5. Bayesian logistic regression with scipy.stats priors -----


def log_posterior(w, X, y, prior_scale=2.0):
    log_prior = np.sum(stats.norm.logpdf(w, loc=0.0, scale=prior_scale))
    z = X @ w
    log_lik = np.sum(y * log_expit(z) + (1 - y) * log_expit(-z))
    return -(log_prior + log_lik)


def make_logistic():
    r = rng(5)
    X = r.normal(size=(20, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + r.normal(size=20) > 0).astype(float)
    return (r.normal(size=3) * 0.1, X, y)


# ----- 6. a VAE's loss, with namedtuple encoder and decoder parameters -----

Dense = collections.namedtuple("Dense", ["W", "b"])
VAEParams = collections.namedtuple("VAEParams", ["enc_hidden", "enc_mu", "enc_logvar", "dec_hidden", "dec_out"])


def dense(layer, x):
    return x @ layer.W + layer.b


def vae_loss(params, x, eps):
    h = np.tanh(dense(params.enc_hidden, x))
    mu, logvar = dense(params.enc_mu, h), dense(params.enc_logvar, h)
    z = mu + np.exp(0.5 * logvar) * eps
    logits = dense(params.dec_out, np.tanh(dense(params.dec_hidden, z)))
    reconstruction = np.sum(x * log_expit(logits) + (1 - x) * log_expit(-logits))
    kl = -0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar))
    return (kl - reconstruction) / x.shape[0]


def make_vae():
    r = rng(6)
    D, H, Z = 6, 4, 2
    layer = lambda m, n: Dense(r.normal(size=(m, n)) * 0.3, np.zeros(n))  # noqa: E731
    params = VAEParams(layer(D, H), layer(H, Z), layer(H, Z), layer(Z, H), layer(H, D))
    x = (r.uniform(size=(5, D)) > 0.5).astype(float)
    return (params, x, r.normal(size=(5, Z)))


# ----- 7. a Gaussian mixture's log-likelihood, by logsumexp -----


def mixture_neg_log_likelihood(params, x):
    log_weights = params["logits"] - logsumexp(params["logits"])
    scales = np.exp(params["log_scales"])
    component_logpdfs = np.stack([stats.norm.logpdf(x, loc=m, scale=s) for m, s in zip(params["means"], scales)],
                                 axis=1)
    return -np.mean(logsumexp(component_logpdfs + log_weights, axis=1))


def make_mixture():
    r = rng(7)
    x = np.concatenate([r.normal(-2, 0.5, size=8), r.normal(1.5, 1.0, size=8)])
    return ({"logits": np.array([0.1, -0.2, 0.3]), "means": np.array([-1.5, 0.0, 1.0]),
             "log_scales": np.log(np.array([0.7, 1.0, 1.3]))}, x)


# ----- 8. fitting an ODE integrated by RK4 with a helper for the right-hand side -----


def lotka_volterra(state, theta):
    prey, predator = state
    alpha, beta, delta, gamma = theta
    return np.array([alpha * prey - beta * prey * predator, delta * prey * predator - gamma * predator])


def rk4_step(f, y, dt, *args):
    k1 = f(y, *args)
    k2 = f(y + 0.5 * dt * k1, *args)
    k3 = f(y + 0.5 * dt * k2, *args)
    k4 = f(y + dt * k3, *args)
    return y + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def ode_fit_loss(theta, y0, observed, dt=0.1):
    y = y0
    trajectory = []
    for _ in range(len(observed)):
        y = rk4_step(lotka_volterra, y, dt, theta)
        trajectory.append(y)
    return np.mean((np.stack(trajectory) - observed) ** 2)


def make_ode():
    r = rng(8)
    return (np.array([1.0, 0.4, 0.3, 0.8]), np.array([1.2, 0.7]), 1.0 + 0.1 * r.normal(size=(6, 2)))


# ----- 9. a Kalman filter's log-likelihood, with a dataclass model -----


@dataclasses.dataclass(frozen=True)
class LinearGaussian:
    A: np.ndarray
    C: np.ndarray
    log_q: float
    log_r: float
    name: str = dataclasses.field(default="random walk", metadata={"static": True})


def kalman_log_likelihood(model, observations, m0, P0):
    Q = np.exp(model.log_q) * np.eye(model.A.shape[0])
    R = np.exp(model.log_r) * np.eye(model.C.shape[0])
    m, P = m0, P0
    total = 0.0
    for y in observations:
        m = model.A @ m  # predict
        P = model.A @ P @ model.A.T + Q
        S = model.C @ P @ model.C.T + R  # update
        K = P @ model.C.T @ np.linalg.inv(S)
        innovation = y - model.C @ m
        total = total + stats.multivariate_normal.logpdf(innovation, mean=np.zeros(len(y)), cov=S)
        m = m + K @ innovation
        P = (np.eye(len(m)) - K @ model.C) @ P
    return -total


def make_kalman():
    r = rng(9)
    model = LinearGaussian(np.array([[1.0, 0.1], [0.0, 0.95]]), np.array([[1.0, 0.0]]), math.log(0.05), math.log(0.2))
    return (model, r.normal(size=(5, 1)), np.zeros(2), np.eye(2))


# ----- 10. Black-Scholes prices over a grid of strikes -----


def black_scholes_call(S, K, T, r, sigma):
    d1 = (np.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    return S * stats.norm.cdf(d1) - K * np.exp(-r * T) * stats.norm.cdf(d2)


def book_value(S, sigma, r, strikes, T=0.5):
    return sum(black_scholes_call(S, K, T, r, sigma) for K in strikes)


def make_black_scholes():
    return (100.0, 0.25, 0.03, [90.0, 100.0, 110.0])


# ----- 11. softmax regression with an L2 penalty over a dict of parameters -----


def softmax_regression_loss(params, X, labels, reg=0.01):
    scores = X @ params["W"] + params["b"]
    scores = scores - np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    data_loss = -np.mean(np.log(probs[np.arange(len(labels)), labels]))
    return data_loss + reg * sum(np.sum(v * v) for k, v in params.items() if k.startswith("W"))


def make_softmax():
    r = rng(11)
    return ({"W": r.normal(size=(4, 3)) * 0.5, "b": np.zeros(3)}, r.normal(size=(8, 4)), r.integers(0, 3, size=8))


# ----- 12. multi-head self-attention -----


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def attention_head(x, Wq, Wk, Wv):
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    return softmax(q @ k.T / np.sqrt(q.shape[-1])) @ v


def attention_loss(heads, x, target):
    out = np.concatenate([attention_head(x, *head) for head in heads], axis=-1)
    return np.mean((out - target) ** 2)


def make_attention():
    r = rng(12)
    heads = [tuple(r.normal(size=(4, 2)) * 0.5 for _ in range(3)) for _ in range(2)]
    return (heads, r.normal(size=(5, 4)), r.normal(size=(5, 4)))


# ----- 13. soft k-means -----


def soft_kmeans_loss(centers, points, temperature=1.0):
    distances = np.stack([np.sum((points - c) ** 2, axis=1) for c in centers], axis=1)
    assignments = softmax(-distances / temperature, axis=1)
    return np.sum(assignments * distances) / len(points)


def make_kmeans():
    r = rng(13)
    return ([r.normal(size=2) for _ in range(3)], r.normal(size=(10, 2)))


# ----- 14. robust regression: Huber loss, regularisers passed as *args, a timer in try/finally -----

TIMINGS = []


def huber(residual, delta=1.0):
    small = np.abs(residual) <= delta
    return np.where(small, 0.5 * residual ** 2, delta * (np.abs(residual) - 0.5 * delta))


def ridge(*weights, lam=0.1):
    return lam * sum(np.sum(w ** 2) for w in weights)


def robust_regression_loss(w, b, X, y):
    try:
        TIMINGS.append("start")
        residual = X @ w + b - y
        loss = np.mean(huber(residual)) + ridge(w, b)
    finally:
        TIMINGS.append("end")
    return loss


def make_robust():
    r = rng(14)
    X = r.normal(size=(12, 3))
    y = X @ np.array([0.5, -1.0, 2.0]) + r.standard_t(2, size=12)
    return (r.normal(size=3), 0.3, X, y)


# ----- 15. learning-rate sensitivity of an unrolled gradient-descent fit -----


def logistic_loss_and_grad(w, X, y):
    p = expit(X @ w)
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return loss, X.T @ (p - y) / len(y)


def loss_after_training(log_lr, w0, X, y, steps=5):
    lr = math.exp(log_lr)
    w = w0
    for _ in range(steps):
        _, g = logistic_loss_and_grad(w, X, y)
        w = w - lr * g
    return logistic_loss_and_grad(w, X, y)[0]


def make_unrolled():
    X, y = make_logistic()[1:]
    return (math.log(0.5), np.zeros(3), X, y)


# ----- 16. Poisson regression with scipy.stats -----


def poisson_regression(beta, X, counts):
    rate = np.exp(X @ beta)
    return -np.sum(stats.poisson.logpmf(counts, rate))


def make_poisson():
    r = rng(16)
    X = np.column_stack([np.ones(10), r.normal(size=10)])
    return (np.array([0.3, 0.2]), X, r.poisson(np.exp(X @ np.array([0.5, 0.4]))))


# ----- 17. a planar normalizing flow's negative log-likelihood -----

Planar = collections.namedtuple("Planar", "u w b")


def planar_flow_nll(flows, z):
    log_det = 0.0
    for flow in flows:
        a = np.tanh(z @ flow.w + flow.b)
        psi = (1 - a ** 2)[:, None] * flow.w[None, :]
        log_det = log_det + np.log(np.abs(1 + psi @ flow.u))
        z = z + np.outer(a, flow.u)
    base = np.sum(stats.norm.logpdf(z), axis=1)
    return -np.mean(base + log_det)


def make_flow():
    r = rng(17)
    flows = [Planar(r.normal(size=2) * 0.3, r.normal(size=2) * 0.3, 0.1 * k) for k in range(2)]
    return (flows, r.normal(size=(6, 2)))


# ----- 18. a mean-variance portfolio, behind a decorator that only forwards -----


def annualised(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


@annualised
def negative_sharpe(logits, returns, risk_free=0.01):
    weights = np.exp(logits) / np.sum(np.exp(logits))
    portfolio = returns @ weights
    excess = np.mean(portfolio) - risk_free
    return -excess / np.std(portfolio)


def make_portfolio():
    r = rng(18)
    return (np.zeros(4), 0.05 + 0.1 * r.normal(size=(30, 4)))


# ----- 19. a 1-D convolutional layer, by sliding windows -----


def conv1d(x, kernel):
    k = len(kernel)
    return np.array([np.sum(x[i:i + k] * kernel) for i in range(len(x) - k + 1)])


def cnn_loss(params, signal, target):
    h = np.maximum(conv1d(signal, params["k1"]) + params["b1"], 0.0)
    out = conv1d(h, params["k2"])
    return np.sum((out - target) ** 2)


def make_cnn():
    r = rng(19)
    return ({"k1": r.normal(size=3), "b1": 0.1, "k2": r.normal(size=2)}, r.normal(size=10), r.normal(size=7))


# ----- 20. a Newton iteration for an implicit equation, with a fallback -----


def solve_implicit(theta, x0=1.0, iterations=6):
    x = x0
    try:
        for _ in range(iterations):
            f = x ** 3 + theta * x - 1.0
            x = x - f / (3 * x ** 2 + theta)
        if not math.isfinite(x):
            raise FloatingPointError("diverged")
    except (ZeroDivisionError, FloatingPointError):
        x = 1.0 / (1.0 + theta)
    return x * theta


def make_implicit():
    return (0.7,)


# (name, the function, what makes its arguments, the arguments to differentiate, whether to spot-check
# a Hessian-vector product: not for the RK4 fit, whose step calls `f(y, *args)`: a second derivative of a
# call passing values carrying a gradient with `*` is refused)
PROGRAMS = [
    ("mlp", mlp_loss, make_mlp, (0,), True),
    ("rnn", rnn_log_likelihood, make_rnn, (0,), True),
    ("lstm", lstm_loss, make_lstm, (0,), True),
    ("gaussian process", gp_neg_log_marginal, make_gp, (0,), True),
    ("bayesian logistic regression", log_posterior, make_logistic, (0,), True),
    ("vae", vae_loss, make_vae, (0,), True),
    ("mixture model", mixture_neg_log_likelihood, make_mixture, (0,), True),
    ("rk4 ode fit", ode_fit_loss, make_ode, (0, 1), False),
    ("kalman filter", kalman_log_likelihood, make_kalman, (0,), True),
    ("black-scholes", book_value, make_black_scholes, (0, 1, 2), True),
    ("softmax regression", softmax_regression_loss, make_softmax, (0,), True),
    ("attention", attention_loss, make_attention, (0,), True),
    ("soft k-means", soft_kmeans_loss, make_kmeans, (0,), True),
    ("robust regression", robust_regression_loss, make_robust, (0, 1), True),
    ("unrolled training", loss_after_training, make_unrolled, (0, 1), True),
    ("poisson regression", poisson_regression, make_poisson, (0,), True),
    ("planar flow", planar_flow_nll, make_flow, (0,), True),
    ("portfolio", negative_sharpe, make_portfolio, (0,), True),
    ("1-d cnn", cnn_loss, make_cnn, (0,), True),
    ("implicit equation", solve_implicit, make_implicit, (0,), True),
]
