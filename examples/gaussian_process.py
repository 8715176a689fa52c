"""Gaussian-process regression: the kernel's length scale, signal and noise levels fitted by
maximising the log marginal likelihood, its gradient by s2sad through a Cholesky factorisation.

    python examples/gaussian_process.py [--quick] [--out DIR]
"""

import math

import numpy as np
from _common import parse_args, pyplot, save

import s2sad
from s2sad import optim


def kernel(a, b, log_length, log_signal):
    """The squared-exponential kernel σ² exp(−(a − b)² / 2ℓ²) between the points of a and of b."""
    d2 = (a[:, None] - b[None, :]) ** 2
    return np.exp(2.0 * log_signal) * np.exp(-0.5 * d2 / np.exp(2.0 * log_length))


def neg_log_marginal_likelihood(theta, x, y):
    """−log p(y | x, θ) = ½ yᵀK⁻¹y + ½ log det K + (n/2) log 2π, with K = k(x, x) + σₙ²I,
    from the Cholesky factor L of K: log det K = 2 Σ log Lᵢᵢ and K⁻¹y = L⁻ᵀ(L⁻¹y)."""
    n = len(x)
    K = kernel(x, x, theta[0], theta[1]) + np.exp(2.0 * theta[2]) * np.eye(n)
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L, y)
    return 0.5 * np.sum(alpha**2) + np.sum(np.log(np.diagonal(L))) + 0.5 * n * math.log(2.0 * math.pi)


def posterior(theta, x, y, xs):
    K = kernel(x, x, theta[0], theta[1]) + np.exp(2.0 * theta[2]) * np.eye(len(x))
    Ks = kernel(xs, x, theta[0], theta[1])
    mean = Ks @ np.linalg.solve(K, y)
    var = np.exp(2.0 * theta[1]) - np.sum(Ks * np.linalg.solve(K, Ks.T).T, axis=1)
    return mean, np.sqrt(np.maximum(var, 0.0))


def main():
    args = parse_args(__doc__.splitlines()[0])
    n, iterations = (25, 60) if args.quick else (60, 400)
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-4.0, 4.0, n))
    y = np.sin(1.5 * x) + 0.3 * x + rng.normal(0.0, 0.2, n)

    value_and_grad = s2sad.value_and_grad(neg_log_marginal_likelihood)
    theta = np.log([3.0, 0.3, 1.0])  # length scale, signal, noise: far off
    initial = theta.copy()
    opt = optim.adam(0.05)
    state = opt.init(theta)
    history = []
    for _ in range(iterations):
        value, g = value_and_grad(theta, x, y)
        theta, state = opt.update(g, state, theta)
        history.append(value)
    ell, sig, noise = np.exp(theta)
    print(f"length scale {ell:.3f}, signal {sig:.3f}, noise {noise:.3f} (true noise 0.2);"
          f" -log likelihood {history[0]:.2f} -> {history[-1]:.2f}")

    plt = pyplot()
    fig, (ax, ax_nll) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2.2, 1]})
    xs = np.linspace(-5.0, 5.0, 300)
    for th, style, name in [(initial, ":", "initial hyperparameters"), (theta, "-", "fitted")]:
        mean, sd = posterior(th, x, y, xs)
        ax.plot(xs, mean, style, color="C0", label=f"posterior mean, {name}")
    ax.fill_between(xs, mean - 2 * sd, mean + 2 * sd, color="C0", alpha=0.2, label="±2σ, fitted")
    ax.plot(x, y, "k.", label="data")
    ax.set(xlabel="x", ylabel="y", title=f"GP fit: ℓ = {ell:.2f}, σ = {sig:.2f}, σₙ = {noise:.2f}")
    ax.legend(fontsize=8)
    ax_nll.plot(history)
    ax_nll.set(xlabel="Adam step", ylabel="−log marginal likelihood", title="objective")
    save(fig, args.out, "gaussian_process.png")


if __name__ == "__main__":
    main()
