"""Fitting the four rates of a Lotka–Volterra predator-prey model to noisy observations, by
differentiating through a Runge–Kutta integrator (300 steps of RK4) with s2sad and Adam.

    python examples/ode_fit.py [--quick] [--out DIR]
"""

import numpy as np
from _common import parse_args, pyplot, save

import s2sad
from s2sad import optim

DT, STEPS = 0.05, 300
TRUE = np.log([1.0, 0.1, 1.5, 0.075])   # prey growth, predation, predator death, predator growth
GUESS = np.log([0.7, 0.15, 1.1, 0.1])
U0 = np.array([10.0, 5.0])


def rates(u, theta):
    """du/dt for prey u[0] and predators u[1]; theta holds the logs of the four rates (kept positive)."""
    a, b, c, d = np.exp(theta[0]), np.exp(theta[1]), np.exp(theta[2]), np.exp(theta[3])
    prey, pred = u[0], u[1]
    return np.stack([a * prey - b * prey * pred, d * prey * pred - c * pred])


def rk4_step(u, theta):
    k1 = rates(u, theta)
    k2 = rates(u + 0.5 * DT * k1, theta)
    k3 = rates(u + 0.5 * DT * k2, theta)
    k4 = rates(u + DT * k3, theta)
    return u + DT / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def loss(theta, observed):
    """Mean squared error between the integrated trajectory and the observations, one per step."""
    u = U0
    total = 0.0
    for i in range(len(observed)):
        u = rk4_step(u, theta)
        total = total + np.sum((u - observed[i]) ** 2)
    return total / len(observed)


def trajectory(theta, steps=STEPS):
    u, points = U0, []
    for _ in range(steps):
        u = rk4_step(u, theta)
        points.append(u)
    return np.array(points)


def main():
    args = parse_args(__doc__.splitlines()[0])
    iterations = 25 if args.quick else 300
    rng = np.random.default_rng(0)
    observed = trajectory(TRUE) + rng.normal(0.0, 0.5, (STEPS, 2))

    loss_and_grad = s2sad.value_and_grad(loss)
    opt = optim.adam(optim.cosine(0.05, iterations, min_lr=0.005))
    theta, state = GUESS.copy(), opt.init(GUESS)
    history = []
    for _ in range(iterations):
        value, g = loss_and_grad(theta, observed)
        theta, state = opt.update(g, state, theta)
        history.append(value)
    print("true rates  ", np.round(np.exp(TRUE), 4))
    print("fitted rates", np.round(np.exp(theta), 4), f"after {iterations} Adam steps, loss {history[-1]:.4f}")

    plt = pyplot()
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2.2, 1]})
    t = DT * np.arange(1, STEPS + 1)
    for k, (name, color) in enumerate([("prey", "C0"), ("predators", "C3")]):
        ax.plot(t, observed[:, k], ".", ms=3, color=color, alpha=0.4, label=f"{name}, observed")
        ax.plot(t, trajectory(GUESS)[:, k], ":", color=color, label=f"{name}, initial guess")
        ax.plot(t, trajectory(theta)[:, k], "-", color=color, label=f"{name}, fitted")
    ax.set(xlabel="time", ylabel="population", title="Lotka–Volterra fitted through RK4")
    ax.legend(fontsize=7, ncol=2)
    ax_loss.semilogy(history)
    ax_loss.set(xlabel="Adam step", ylabel="mean squared error", title="loss")
    save(fig, args.out, "ode_fit.png")


if __name__ == "__main__":
    main()
