"""User functions calling user functions: helpers, recursion, closures, lambdas, methods."""

import math

import numpy as np
from corpus import poly


def sq(x):
    return x * x


def mix(x, y):
    return math.sin(x) * y


def uses_helpers(x, y):
    return sq(x) + mix(x, y) * sq(y) + poly(x, y)


def scaled(x, scale=2.0, *, shift=0.0):
    return x * scale + shift


def uses_keywords(x, s):
    return scaled(x, scale=s, shift=x * x) + scaled(x) + scaled(s, shift=1.0)


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def ping(x, n):
    if n == 0:
        return x
    return pong(x * 1.1, n - 1)


def pong(x, n):
    if n == 0:
        return x
    return ping(math.sin(x) + x, n - 1)


def make_loss(a):
    def loss(x):
        return a * x ** 2 + math.sin(x)
    return loss


def nested_capture(x):
    def inner(y):
        return x * y + y * y
    return inner(3.0) * x + inner(x)


def lambda_local(x):
    cube = lambda t: t * t * x  # noqa: E731
    return cube(x) + cube(2.0)


def integrate(f, a, b, n):
    h = (b - a) / n
    s = 0.5 * (f(a) + f(b))
    for i in range(1, n):
        s = s + f(a + i * h)
    return s * h


def area(a, b):
    return integrate(lambda t: t * t, a, b, 50)


def area_closure(k):
    return integrate(lambda t: math.sin(k * t), 0.0, 1.0, 20)


class Model:
    def __init__(self, scale):
        self.scale = scale

    def forward(self, x):
        return self.scale * x ** 2 + x


MODEL = Model(3.0)


def use_global_method(x):
    return MODEL.forward(x) + 1.0


def use_local_method(m, x):
    return m.forward(x) * 2.0


def apply(f, x):
    return f(x) * 2.0


def uses_apply(x):
    return apply(sq, x) + apply(np.tanh, 0.5)


def apply_builtin(x):
    return apply(np.cbrt, x)


def h0(x): return x + 1.0
def h1(x): return x * 2.0
def h2(x): return x * x
def h3(x): return math.sin(x)
def h4(x): return math.cos(x)
def h5(x): return x - 3.0
def h6(x): return x / 2.0
def h7(x): return math.exp(x * 0.1)
def h8(x): return x ** 3
def h9(x): return -x


def ten_helpers(x):
    return h0(x) + h1(x) + h2(x) + h3(x) + h4(x) + h5(x) + h6(x) + h7(x) + h8(x) + h9(h0(x))


def helper_in_loop(x):
    s = 0.0
    for i in range(5):
        s = s + mix(x, s + 1.0)
    return s


def passes_through(x, *args, **kwargs):
    return scaled(x, *args, **kwargs) + x


def calls_pass_through(x, s):
    return passes_through(x, s, shift=1.0)
