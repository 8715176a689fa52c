"""Plain user functions for the test suite: each is differentiated and checked numerically."""

import math

import numpy as np

SCALE = 3.0


def poly(x, y):
    z = x**2 * y + 1 / (x**2 + y**2 + 1)
    return z


def trig(x):
    return (4 + math.sin(x)) * math.cos(math.sin(x))


def log_mix(x, y):
    return math.log(x) + x * y - math.sin(y)


def product(x, y):
    return (x + y) * (x - 2 * y)


def math_zoo(x):
    a = math.tan(x) + math.atan(x) + math.sinh(x) + math.cosh(x) + math.tanh(x)
    b = math.exp(x) + math.expm1(x) + math.log1p(x) + math.sqrt(x) + math.log2(x) + math.log10(x)
    c = math.asin(x / 2) + math.acos(x / 3) + math.asinh(x) + math.pow(x, 1.5) + math.fabs(-x)
    return a * b - c


def powers(x, y):
    return x**3 + x**0.5 * y + y**x + 2.0**y + pow(x, y) - x**-1


def operators(x, y):
    a = -x + (+y)
    b = a / y - x * 3.0
    return abs(b) * a


def augmented(x, y):
    z = x
    z += y
    z *= x
    z -= 2.0 * y
    z /= 1.5 + y * y
    z **= 2
    return z


def unpacking(x, y):
    a, b = x * y, x + y
    (c, d), e = (a, b), a - b
    return c * d + e


def reassign(x):
    y = math.sin(x)
    y = y * y + x
    y = math.exp(-y)
    return y


def uses_global(x):
    return x * SCALE + SCALE


def numpy_elementwise(x):
    a = np.sin(x) * np.cos(x) + np.tan(x / 4) + np.tanh(x) + np.exp(-x**2)
    b = np.log(x + 2.0) + np.log1p(x * x) + np.sqrt(x + 3.0) + np.square(x) + np.abs(x - 0.1)
    c = np.arctan(x) + np.sinh(x) + np.cosh(x) + np.expm1(x) + np.log2(x + 2.5) + np.log10(x + 2.5)
    return np.sum(a * b + c)


def reductions(x):
    return np.sum(x, axis=0) @ np.mean(x, axis=1) + np.mean(x) * np.sum(x, axis=-1, keepdims=True).sum()


def methods(x, w):
    return (x.T @ w).sum() + x.sum(axis=1).dot(w) * w[:2].sum() + x.mean()


def broadcasting(x, row, col, s):
    return np.sum(x * row + col / (1.5 + s * s) - row * col)


def matmuls(a, b, v, w):
    return np.sum((a @ b) ** 2) + v @ a @ w + np.dot(v, np.dot(a, w)) + np.sum(np.dot(a, b))


def batched_matmul(a, b):
    return np.sum(np.tanh(a @ b))


def subscripts(x):
    return x[0] * x[-1] + np.sum(x[1:3] ** 2) + x[::2].sum()


def matrix_subscripts(m):
    return np.sum(m[0, :] * m[:, 1]) + m[1, 2] + np.sum(m[..., 0])


def containers(x, y):
    t = (x, y, x * y)
    lst = [x, 2.0 * y]
    d = {"a": x, "b": y * y}
    return t[2] + lst[1] * d["b"] + d["a"]


def logistic(w, X, y):
    z = X @ w
    return np.mean(np.log(1.0 + np.exp(-y * z))) + 0.01 * np.sum(w**2)


def two_layer(W1, b1, W2, x):
    h = np.tanh(x @ W1 + b1)
    out = h @ W2
    return np.sum(out**2) / 2.0


def with_int(x, n):
    return x ** n + n * x


def keyword_call(x):
    return np.sum(np.sum(x, axis=1, keepdims=True) * x) + np.sum(x, 0)[1]


def float_conversion(x):
    return float(x) * 2.0 + x


def with_default(x, scale=2.0):
    return x * scale


def ignores_y(x, y):
    return x * 2.0


def tuple_reads(x, y):
    t = (x, y)
    return t[0] * t[1] + t[1]


def dense(x, W, b):
    return np.sum(np.tanh(x @ W + b))
