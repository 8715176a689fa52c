"""In-place writes, as NumPy code does them."""

import numpy as np


def fill_fresh(x):
    y = np.zeros(4)
    y[0] = x
    y[1] = x * x
    y[2:] = np.sin(x)
    return np.sum(y * y)


def fill_in_loop(x0, a):
    xs = np.zeros(8)
    xs[0] = x0
    for t in range(1, 8):
        xs[t] = np.sin(xs[t - 1]) * a + 0.1
    return np.sum(xs ** 2)


def fill_rows(h0, W):
    hs = np.zeros((5, 3))
    hs[0] = h0
    for t in range(1, 5):
        hs[t] = np.tanh(W @ hs[t - 1])
    return np.sum(hs * hs)


def duplicate_add(x, v):
    y = x.copy()
    idx = np.array([0, 0, 2])
    y[idx] += v
    return np.sum(y * y)


def duplicate_mul(x, v):
    y = x.copy()
    y[[1, 1, 3]] *= v
    return np.sum(y ** 3)


def overwrite(x):
    y = np.ones(3) * x
    z = y * y
    y[1] = 5.0
    return np.sum(z) + np.sum(y * x)


def masked_write(x):
    y = x * 1.0
    y[y > 0] = 0.0
    return np.sum(y * x)


def list_append(x):
    hs = []
    h = x
    for t in range(4):
        h = np.tanh(h * 1.5 + 0.2)
        hs.append(h)
    return np.sum(np.stack(hs) ** 2) + hs[-1] * 3.0


def list_extend_pop(x, y):
    items = [x, y]
    items.extend([x * y, y * y])
    last = items.pop()
    first = items.pop(0)
    return last * first + items[0] * items[-1]


def dict_write(x):
    d = {}
    d["a"] = x * 2.0
    d["b"] = x * x
    d["a"] = d["a"] + 1.0
    return d["a"] * d["b"]


def writes_argument(x):
    x[0] = 1.0
    return np.sum(x)


def writes_through_view(x):
    y = np.zeros((2, 3))
    r = y[0]
    r[1] = x
    return np.sum(y)


def stale_alias(x):
    y = np.zeros(3)
    z = y
    y[0] = x
    return np.sum(z)


def number_on_one_path(x, y):
    if np.sum(x) < 0.2:
        y = -1.2  # a number on this path only: y may still be the argument's array
    y *= np.sum(x)
    return np.sum(y * x)
