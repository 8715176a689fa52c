"""Gradient descent, Momentum and Adam on the Rosenbrock function: their paths over a contour plot.

    python examples/rosenbrock.py [--quick] [--out DIR]
"""

import numpy as np
from _common import parse_args, pyplot, save

import s2sad
from s2sad import optim


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def path(opt, steps, start=(-1.5, 2.0)):
    grad = s2sad.grad(rosenbrock)
    p = np.array(start)
    state = opt.init(p)
    points = [p]
    for _ in range(steps):
        p, state = opt.update(grad(p), state, p)
        points.append(p)
    return np.array(points)


def main():
    args = parse_args(__doc__.splitlines()[0])
    steps = 300 if args.quick else 2000
    runs = {
        "gradient descent (η = 1e-3)": optim.sgd(1e-3),
        "Momentum (η = 5e-4, β = 0.9)": optim.momentum(5e-4, 0.9),
        "Adam (η = 0.05)": optim.adam(0.05),
    }
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 5.5))
    X, Y = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
    ax.contour(X, Y, rosenbrock(np.array([X, Y])), levels=np.logspace(-1, 3.5, 20), cmap="viridis",
               linewidths=0.7, alpha=0.6)
    for (name, opt), color in zip(runs.items(), ["C0", "C1", "C3"]):
        points = path(opt, steps)
        final = rosenbrock(points[-1])
        ax.plot(points[:, 0], points[:, 1], "-", lw=1.2, color=color, label=f"{name}: f = {final:.1e}")
        ax.plot(points[::20, 0], points[::20, 1], "o", ms=3, color=color)  # every 20th step: the speed
        print(f"{name:30s} after {steps} steps: ({points[-1][0]:.4f}, {points[-1][1]:.4f}), f = {final:.3e}")
    ax.plot(*[-1.5, 2.0], "ko")
    ax.plot(1.0, 1.0, "k*", ms=12)
    ax.set(xlabel="x", ylabel="y", title=f"Rosenbrock (1 − x)² + 100(y − x²)², {steps} steps from (−1.5, 2)")
    ax.legend(loc="lower right", fontsize=8)
    save(fig, args.out, "rosenbrock.png")


if __name__ == "__main__":
    main()
