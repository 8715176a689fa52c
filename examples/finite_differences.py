"""The error of finite differences against the step h, log-log (the seed's experiment, sin at π/3):
forward and central differences and the 4th-order stencil, with the predicted errors and the
optimal steps marked.

    python examples/finite_differences.py [--quick] [--out DIR]
"""

import math

import numpy as np
from _common import parse_args, pyplot, save

from s2sad import numeric

x = math.pi / 3
f, exact = math.sin, math.cos(x)
fx, f2, f3 = math.sin(x), -math.sin(x), -math.cos(x)


def main():
    args = parse_args(__doc__.splitlines()[0])
    hs = np.logspace(-16, 0, 120 if args.quick else 400)
    methods = {
        "forward  (f(x+h) − f(x)) / h": lambda h: numeric.forward_difference(f, x, h),
        "central  (f(x+h) − f(x−h)) / 2h": lambda h: numeric.central_difference(f, x, h),
        "4th-order stencil [1, −8, 0, 8, −1] / 12h": lambda h: numeric.derivative(f, x, order=4, h=h),
    }
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for (name, method), color in zip(methods.items(), ["C0", "C1", "C2"]):
        errors = np.array([abs(method(h) - exact) for h in hs])
        ax.loglog(hs, np.where(errors > 0, errors, np.nan), ".", ms=3, color=color, label=name)

    ax.loglog(hs, numeric.forward_error(hs, fx, f2), "--", color="C0", lw=1, label="predicted 2ε|f|/h + |f''|h/2")
    ax.loglog(hs, numeric.central_error(hs, fx, f3), "--", color="C1", lw=1, label="predicted ε|f|/h + |f'''|h²/6")
    for h, color, name, align in [(numeric.optimal_step_forward(fx, f2), "C0", "h* = 2√(ε|f|/|f''|)", "right"),
                                  (numeric.optimal_step_central(fx, f3), "C1", "h* = (3ε|f|/|f'''|)^(1/3)", "left")]:
        ax.axvline(h, color=color, lw=0.8, ls=":")
        ax.annotate(f" {name} = {h:.1e} ", (h, 3e-16), fontsize=8, color=color, ha=align)
        print(f"{name:28s} = {h:.3e}")
    practical = numeric.practical_step(fx, 2)
    ax.axvline(practical, color="gray", lw=0.8, ls="-.", label="seed's rule ((n+1)!ε/(√n|f|))^(1/(n+1)), n=2")
    print(f"{'seed rule, n=2':28s} = {practical:.3e}")
    best = numeric.optimal_step_central(fx, f3)
    print(f"central difference at h*: error {abs(numeric.central_difference(f, x, best) - exact):.2e},"
          f" predicted {numeric.central_error(best, fx, f3):.2e}")
    ax.set(xlabel="step h", ylabel="|error| of f'(π/3), f = sin", ylim=(1e-17, 1e1),
           title="Truncation (right) against rounding (left)")
    ax.legend(fontsize=7, loc="upper center")
    save(fig, args.out, "finite_differences.png")


if __name__ == "__main__":
    main()
