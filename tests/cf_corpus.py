"""Functions with control flow, for the tests."""

import math

import numpy as np


def piecewise(x):
    if x < 0:
        y = -x * x
    elif x < 1:
        y = math.sin(x)
    else:
        y = x ** 3
    return y * 2.0


def early_return(x):
    if x < 0:
        return -x
    y = x * 2
    return y * x


def ternary(x, y):
    z = x * y if x > y else x + y
    return z * z


def bool_ops(x, y):
    if (x > 0 and y > 0) or x < -5:
        return x * y
    return x - y


def chained(x, y):
    if 0 < x < y:
        return x * y
    return x + y


def one_branch(x, y):
    z = y
    if x > 0:
        z = x * y
    return z + x


def power_loop(x, n):
    y = 1.0
    for i in range(n):
        y = y * x
    return y


def sum_loop(x):
    s = 0.0
    for i in range(1, 6, 2):
        s = s + math.sin(x * i) / i
    return s


def newton_sqrt(a):
    x = a
    for i in range(100):
        x_new = 0.5 * (x + a / x)
        if abs(x_new - x) < 1e-12:
            break
        x = x_new
    return x


def spring(k, v0):
    x, v = 1.0, v0
    dt = 0.01
    for step in range(300):
        a = -k * x - 0.1 * v
        v = v + dt * a
        x = x + dt * v
    return x


def return_in_loop(x):
    y = x
    for i in range(10):
        y = y * 1.5
        if y > 5.0:
            return y * x
    return -y


def nested_loops(x):
    s = 0.0
    for i in range(3):
        for j in range(4):
            s = s + math.sin(x * (i + 1) + j) * x
    return s


def skip_odd(x):
    s = 0.0
    for i in range(6):
        if i % 2 == 1:
            continue
        s = s + x ** i
    return s


def rows(X, w):
    total = 0.0
    for row in X:
        total = total + np.tanh(row @ w)
    return total


def enumerate_zip(xs, ys):
    s = 0.0
    for i, x in enumerate(xs):
        s = s + x * i
    for a, b in zip(xs, ys):
        s = s + a * b
    for r in reversed(xs):
        s = s * 0.5 + r
    return s


def while_loop(x):
    i = 0
    y = x
    while i < 5:
        y = math.sin(y) + x
        i = i + 1
    return y


def while_condition_on_value(x):
    y = x
    n = 0
    while y < 10.0 and n < 50:
        y = y * 1.3 + 0.1
        n += 1
    return y


def for_else(x):
    y = x
    for i in range(4):
        if y > 100.0:
            break
        y = y * y
    else:
        y = y + 1.0
    return y


def float_to_array(x, v):
    acc = 0.0
    for i in range(3):
        acc = acc + v * x
    return np.sum(acc)


def branch_in_loop(x):
    y = x
    for i in range(8):
        if y > 0.5:
            t = math.sin(y)
            y = t * y
        else:
            y = y + 0.3 * x
    return y


def rnn(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
    return np.sum(h * h)


def scalar_loop(x, y):
    for i in range(100):
        x = math.sin(x) * 0.9 + math.cos(x * y) * 0.1
    return x


def loop_over_list(x, y):
    s = 0.0
    for v in [x, y * 2.0, x * y]:
        s = s + v * v
    for w in (x, y):
        s = s * w
    return s


def loop_over_global_items(x):
    s = x
    for name, scale in SCALES.items():
        s = s * scale
    return s


SCALES = {"a": 2.0, "b": 0.5, "c": 3.0}


def loop_var_after_loop(x):
    for i in range(3):
        x = x * 2.0
    return x * i


def loop_over_computed(x):
    s = 0.0
    for row in x.T:
        s = s + np.sum(row * row)
    return s
