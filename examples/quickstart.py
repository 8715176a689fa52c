"""The quick-start example: differentiate a small function and show the generated code."""

import math

import s2sad


def f(x, y):
    z = x**2 * y + 1 / (x**2 + y**2 + 1)
    return z


def damped(x, k):
    return math.exp(-k * x) * math.sin(x)


if __name__ == "__main__":
    print(s2sad.source(f, argnums=(0, 1)))
    df = s2sad.grad(f, argnums=(0, 1))
    print("grad f(0.5, -0.5) =", df(0.5, -0.5), " (closed form: (-17/18, 25/36))")
    print()
    print(s2sad.source(damped, argnums=(0, 1)))
    print("grad damped(1.0, 0.3) =", s2sad.grad(damped, argnums=(0, 1))(1.0, 0.3))
