"""Every registered rule, checked against finite differences: no rule lands untested.

``cases(name)`` gives the functions and arguments that exercise the rule called
``name``; ``test_every_rule_has_cases`` fails for a registered rule without any.
Elementwise rules run on several shapes (and every broadcasting pair for binary
ones), reductions on each axis/keepdims variant.
"""

from __future__ import annotations

import functools
import math
import operator

import complex_cases
import helper_cases
import library_cases
import numpy as np
import pytest

from s2sad.rules import RULES
from s2sad.testing import check_grads

try:
    import scipy.special as sps
except ImportError:  # scipy is optional: its rules are registered only when it is installed
    sps = None

rng = np.random.default_rng(0)

# domains keep inputs away from poles, branch cuts and kinks
DOMAIN = {
    "log": (0.3, 2.0), "log2": (0.3, 2.0), "log10": (0.3, 2.0), "sqrt": (0.3, 2.0), "reciprocal": (0.3, 2.0),
    "cbrt": (0.3, 2.0), "arccosh": (1.2, 3.0), "acosh": (1.2, 3.0), "arcsin": (-0.8, 0.8), "asin": (-0.8, 0.8),
    "arccos": (-0.8, 0.8), "acos": (-0.8, 0.8), "arctanh": (-0.8, 0.8), "atanh": (-0.8, 0.8),
    "log1p": (-0.5, 2.0), "logit": (0.1, 0.9), "gammaln": (0.5, 3.0), "digamma": (0.5, 3.0), "psi": (0.5, 3.0),
    "abs": (0.2, 2.0), "fabs": (0.2, 2.0), "absolute": (0.2, 2.0), "tan": (-1.2, 1.2),
}
SHAPES = [(), (3,), (2, 3)]
PAIRS = [((), ()), ((3,), ()), ((), (3,)), ((2, 3), (3,)), ((2, 3), (2, 1)), ((1, 3), (2, 1))]


def r(shape, low=-1.5, high=1.5, sign=False):
    x = rng.uniform(low, high, shape)
    if sign:
        x = x * rng.choice([-1.0, 1.0], shape)
    return x if shape != () else float(x)


def unary_cases(fn, short):
    low, high = DOMAIN.get(short, (-1.5, 1.5))
    sign = short in ("abs", "fabs", "absolute")
    shapes = [()] if getattr(fn, "__module__", None) in ("math", "builtins") else SHAPES
    return [((lambda x: fn(x)) if len(shapes) == 1 else (lambda x: np.sum(fn(x))), (r(s, low, high, sign),))
            for s in shapes]


BINARY_DOMAIN = {
    "power": ((0.4, 2.0), (-1.5, 1.5)), "**": ((0.4, 2.0), (-1.5, 1.5)), "pow": ((0.4, 2.0), (-1.5, 1.5)),
    "float_power": ((0.4, 2.0), (-1.5, 1.5)), "mod": ((0.1, 1.2), (1.5, 2.0)), "%": ((0.1, 1.2), (1.5, 2.0)),
    "remainder": ((0.1, 1.2), (1.5, 2.0)), "fmod": ((0.1, 1.2), (1.5, 2.0)), "divide": ((-1.5, 1.5), (0.5, 2.0)),
    "true_divide": ((-1.5, 1.5), (0.5, 2.0)), "/": ((-1.5, 1.5), (0.5, 2.0)), "xlogy": ((-1.5, 1.5), (0.3, 2.0)),
    "xlog1py": ((-1.5, 1.5), (0.3, 2.0)),
}


def binary_cases(fn, short, pairs=PAIRS):
    (lx, hx), (ly, hy) = BINARY_DOMAIN.get(short, ((-1.5, 1.5), (-1.5, 1.5)))
    return [(lambda x, y: np.sum(fn(x, y)), (r(sx, lx, hx), r(sy, ly, hy))) for sx, sy in pairs]


def reduction_cases(fn):
    out = [(lambda x: fn(x), (r((3, 4)),)), (lambda x: fn(x), (r((5,)),))]
    for axis in (0, -1, (0, 1), 1):
        for keepdims in (False, True):
            out.append((lambda x, a=axis, k=keepdims: np.sum(fn(x, axis=a, keepdims=k) ** 2), (r((3, 4)),)))
    return out


@functools.cache
def C(shape):
    """A constant array: the same one every call (finite differences evaluate a case many times)."""
    return r(shape)


def spd(n):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow,
             "%": operator.mod}


def f_sum(x):
    return np.sum(x)


def explicit():
    """Cases for rules that are neither plain elementwise nor plain reductions."""
    la = np.linalg
    a33, b3, a34, a43 = C((3, 3)), C((3,)), C((3, 4)), C((4, 3))
    c = {
        "unary -": [(lambda x: -x, (0.3,)), (lambda x: np.sum(-x), (C((3,)),))],
        "unary +": [(lambda x: +x * 2.0, (0.3,))],
        "@": [(lambda a, b: np.sum(a @ b), (a34, a43)), (lambda a, b: a @ b, (b3, b3)),
              (lambda a, b: np.sum(a @ b), (b3, a34)), (lambda a, b: np.sum(a @ b), (a43, b3))],
        "numpy.matmul": [(lambda a, b: np.sum(np.matmul(a, b)), (C((2, 3, 4)), a43))],
        "numpy.dot": [(lambda a, b: np.sum(np.dot(a, b)), (a34, a43)), (lambda a, b: np.dot(a, b), (b3, b3)),
                      (lambda a, b: np.sum(np.dot(a, b)), (C((2, 3, 4)), C((4, 2)))),
                      (lambda a, b: np.sum(np.dot(a, b)), (2.0, b3))],
        "x[index]": [(lambda x: x[1] + np.sum(x[1:3] * x[::2][0]), (C((5,)),)),
                     (lambda x: np.sum(x[[0, 0, 2]] * np.arange(3.0)), (C((4,)),)),
                     (lambda x: np.sum(x[x > 0] ** 2) + np.sum(x[:, None] * x[None, :]), (C((4,)),)),
                     (lambda x: np.sum(x[np.arange(2), [1, 0]] ** 2) + np.sum(x[..., 1]), (C((2, 3)),))],
        "float": [(lambda x: float(x) * 3.0, (0.4,))],
        "numpy.sum": reduction_cases(np.sum),
        "numpy.mean": reduction_cases(np.mean),
        "numpy.prod": reduction_cases(np.prod) + [(lambda x: np.prod(x), (np.array([0.0, 2.0, 3.0]),))],
        "numpy.max": reduction_cases(np.max), "numpy.amax": reduction_cases(np.amax),
        "numpy.min": reduction_cases(np.min), "numpy.amin": reduction_cases(np.amin),
        "numpy.var": reduction_cases(np.var) + [(lambda x: np.var(x, ddof=1), (C((5,)),))],
        "numpy.std": reduction_cases(np.std) + [(lambda x: np.std(x, axis=0, ddof=1).sum(), (C((4, 3)),))],
        "numpy.reshape": [(lambda x: np.sum(np.reshape(x, (4, 3)) * a43), (a34,)),
                          (lambda x: np.sum(x.reshape(2, 6) ** 2), (a34,))],
        "numpy.ravel": [(lambda x: np.sum(np.ravel(x) * np.arange(12.0)), (a34,)),
                        (lambda x: np.sum(x.flatten() * np.arange(12.0)), (a34,))],
        "numpy.expand_dims": [(lambda x: np.sum(np.expand_dims(x, 1) * a34[:, None, :]), (a34,))],
        "numpy.squeeze": [(lambda x: np.sum(np.squeeze(x) * a34), (C((3, 1, 4)),))],
        "numpy.atleast_1d": [(lambda x: np.sum(np.atleast_1d(x) * 2.0), (0.3,))],
        "numpy.atleast_2d": [(lambda x: np.sum(np.atleast_2d(x) * a34[:1]), (C((4,)),))],
        "numpy.atleast_3d": [(lambda x: np.sum(np.atleast_3d(x) ** 2), (a34,))],
        "numpy.copy": [(lambda x: np.sum(np.copy(x) ** 2) + np.sum(x.copy()), (a34,))],
        "numpy.asarray": [(lambda x: np.sum(np.asarray(x) ** 2), (a34,))],
        "numpy.array": [(lambda x, y: np.sum(np.array([x, y, x * y]) ** 2), (0.3, 1.2)),
                        (lambda x, y: np.sum(np.array([x, y]) * a34[:2]), (C((4,)), C((4,))))],
        "numpy.transpose": [(lambda x: np.sum(np.transpose(x) * a43), (a34,)),
                            (lambda x: np.sum(np.transpose(x, (1, 2, 0)) * C((3, 4, 2))), (C((2, 3, 4)),)),
                            (lambda x: np.sum(x.transpose(1, 0) * a43), (a34,))],
        "ndarray.T": [(lambda x: np.sum(x.T * a43), (a34,))],
        "ndarray.real": [(lambda x: np.sum(x.real ** 2), (a34,))],
        "ndarray.astype": [(lambda x: np.sum(x.astype(np.float64) ** 2), (a34,))],
        "numpy.swapaxes": [(lambda x: np.sum(np.swapaxes(x, 0, 2) * C((4, 3, 2))), (C((2, 3, 4)),))],
        "numpy.moveaxis": [(lambda x: np.sum(np.moveaxis(x, 0, -1) * C((3, 4, 2))), (C((2, 3, 4)),)),
                           (lambda x: np.sum(np.moveaxis(x, [0, 1], [2, 0]) ** 2 * C((3, 4, 2))), (C((2, 3, 4)),))],
        "numpy.broadcast_to": [(lambda x: np.sum(np.broadcast_to(x, (2, 3, 4)) * C((2, 3, 4))), (C((3, 1)),))],
        "numpy.flip": [(lambda x: np.sum(np.flip(x) * a34) + np.sum(np.flip(x, 1) * a34), (a34,))],
        "numpy.fliplr": [(lambda x: np.sum(np.fliplr(x) * a34), (a34,))],
        "numpy.flipud": [(lambda x: np.sum(np.flipud(x) * a34), (a34,))],
        "numpy.roll": [(lambda x: np.sum(np.roll(x, 2) * a34), (a34,)),
                       (lambda x: np.sum(np.roll(x, (1, -1), axis=(0, 1)) * a34), (a34,))],
        "numpy.triu": [(lambda x: np.sum(np.triu(x, 1) * a34), (a34,))],
        "numpy.tril": [(lambda x: np.sum(np.tril(x) * a34), (a34,))],
        "numpy.pad": [(lambda x: np.sum(np.pad(x, ((1, 2), (0, 1)), mode="constant") ** 2), (a34,)),
                      (lambda x: np.sum(np.pad(x, 1) ** 3), (C((3,)),)),
                      (lambda x: np.sum(np.pad(x, (2, 1), constant_values=5.0) ** 2), (C((3,)),))],
        "numpy.diff": [(lambda x: np.sum(np.diff(x) ** 2), (C((6,)),)),
                       (lambda x: np.sum(np.diff(x, n=2, axis=0) ** 2), (C((5, 3)),)),
                       (lambda x: np.sum(np.diff(x, n=3, axis=0) ** 2) + np.sum(np.diff(x, n=4) * 2.0) + np.sum(x ** 2),
                        (C((3, 4)),))],
        "numpy.tile": [(lambda x: np.sum(np.tile(x, (2, 3)) * C((6, 12))), (a34,)),
                       (lambda x: np.sum(np.tile(x, 2) * C((6,))), (b3,))],
        "numpy.repeat": [(lambda x: np.sum(np.repeat(x, 2, axis=1) * C((3, 8))), (a34,)),
                         (lambda x: np.sum(np.repeat(x, [1, 0, 3]) * C((4,))), (b3,)),
                         (lambda x: np.sum(x.repeat(2) * C((6,))), (b3,))],
        "numpy.concatenate": [(lambda x, y: np.sum(np.concatenate([x, y]) * C((7, 4))), (a34, C((4, 4)))),
                              (lambda x, y: np.sum(np.concatenate((x, y), axis=1) ** 2), (a34, a33))],
        "numpy.stack": [(lambda x, y: np.sum(np.stack([x, y], axis=1) * C((3, 2, 4))), (a34, C((3, 4))))],
        "numpy.vstack": [(lambda x, y: np.sum(np.vstack([x, y]) * C((4, 4))), (a34, C((4,))))],
        "numpy.hstack": [(lambda x, y: np.sum(np.hstack([x, y]) * C((7,))), (b3, C((4,)))),
                         (lambda x, y: np.sum(np.hstack([x, y]) * C((3, 7))), (a34, a33))],
        "numpy.dstack": [(lambda x, y: np.sum(np.dstack([x, y]) ** 2), (a34, C((3, 4))))],
        "numpy.column_stack": [(lambda x, y: np.sum(np.column_stack([x, y]) * C((3, 5))), (b3, a34))],
        "numpy.row_stack": [(lambda x, y: np.sum(np.row_stack([x, y]) ** 2), (a34, C((4,))))],
        "numpy.r_[...]": [(lambda x, y: np.sum(np.sin(np.r_[x, 2.0, y, 0:2]) ** 2), (b3, C((4,)))),
                          (lambda x, a: np.sum(np.r_[a, x, a * x] ** 3), (b3, 0.7)),
                          (lambda x, y: np.sum(np.r_[x, y] * a34[:1]) + np.sum(np.r_[x, y] ** 2), (a34, C((1, 4)))),
                          (lambda x, y: np.sum(np.r_["0,2", x, y] * a34[:2, :3] ** 2) * np.sum(np.r_["-1", y, x]),
                           (b3, C((3,))))],
        "numpy.c_[...]": [(lambda x, y: np.sum(np.c_[x, y] ** 3), (b3, C((3,)))),
                          (lambda x, m: np.sum(np.sin(np.c_[x, m, 0:3])), (b3, a34)),
                          (lambda x, a: np.sum(np.c_[x[None, :], a, [[1.0, 2.0]]] ** 2), (b3, 0.4))],
        "numpy.append": [(lambda x, y: np.sum(np.append(x, y) * C((7,))), (b3, C((4,)))),
                         (lambda x, y: np.sum(np.append(x, y, axis=0) * C((4, 4))), (a34, C((1, 4))))],
        "numpy.split": [(lambda x: np.sum(np.split(x, 3)[1] ** 2), (C((6,)),)),
                        (lambda x: _two_pieces(x), (C((4, 3)),))],
        "numpy.array_split": [(lambda x: np.sum(np.array_split(x, 2, axis=1)[0] ** 2), (a34,))],
        "numpy.where": [(lambda x, y: np.sum(np.where(x > 0, x * y, y ** 2)), (C((3, 4)), C((4,))))],
        "numpy.clip": [(lambda x: np.sum(np.clip(x, -0.5, 0.7) ** 2), (C((10,)),)),
                       (lambda x, lo: np.sum(np.clip(x, lo, 1.0) ** 2) + np.sum(x.clip(max=0.2)), (C((10,)), -0.3))],
        "numpy.take": [(lambda x: np.sum(np.take(x, [0, 2, 2]) ** 2), (C((4,)),)),
                       (lambda x: np.sum(np.take(x, [1, 1], axis=1) * C((3, 2))), (a34,))],
        "numpy.take_along_axis": [(lambda x: np.sum(np.take_along_axis(x, np.array([[0, 0], [2, 1], [3, 3]]), 1) ** 2),
                                   (a34,))],
        "numpy.sort": [(lambda x: np.sum(np.sort(x) * np.arange(5.0)), (C((5,)),)),
                       (lambda x: np.sum(np.sort(x, axis=0) * a34), (a34,))],
        "numpy.tensordot": [(lambda a, b: np.sum(np.tensordot(a, b, axes=1) ** 2), (a34, a43)),
                            (lambda a, b: np.sum(np.tensordot(a, b, axes=([0, 2], [1, 0])) ** 2),
                             (C((2, 3, 4)), C((4, 2, 5))))],
        "numpy.outer": [(lambda a, b: np.sum(np.outer(a, b) * a34), (b3, C((4,))))],
        "numpy.inner": [(lambda a, b: np.sum(np.inner(a, b) ** 2), (a34, C((2, 4))))],
        "numpy.kron": [(lambda a, b: np.sum(np.kron(a, b) * C((6, 6))), (C((2, 3)), C((3, 2))))],
        "numpy.trace": [(lambda x: np.trace(x) * 2.0 + np.trace(x, offset=1), (a34,))],
        "numpy.diag": [(lambda x: np.sum(np.diag(x) * C((4, 4))), (C((4,)),)),
                       (lambda x: np.sum(np.diag(x, -1) ** 2), (a34,))],
        "numpy.diagonal": [(lambda x: np.sum(np.diagonal(x) ** 2) + np.sum(x.diagonal(1)), (a34,))],
        "numpy.einsum": [(lambda a, b: np.sum(np.einsum("ij,jk->ik", a, b) ** 2), (a34, a43)),
                         (lambda a, b: np.einsum("ij,ij", a, b), (a34, C((3, 4)))),
                         (lambda a: np.sum(np.einsum("ijk->kj", a) ** 2), (C((2, 3, 4)),)),
                         (lambda a, b: np.sum(np.einsum("i,j->ij", a, b) ** 2), (b3, C((4,)))),
                         (lambda a, b: np.sum(np.einsum("...ij,...jk", a, b) ** 2), (C((2, 3, 4)), a43)),
                         (lambda a, b: np.sum(np.einsum("...j,j", a, b) ** 2) + np.sum(np.einsum("j,...j->...", b, a)), (a34, C((4,)))),
                         (lambda a, b, c: np.sum(np.einsum("ij,jk,kl->il", a, b, c, optimize=True) ** 2),
                          (a34, a43, C((3, 2)))),
                         (lambda a, b: np.sum(np.einsum("bij,bj->bi", a, b, optimize="greedy") ** 2),
                          (C((2, 3, 4)), C((1, 4)))),
                         (lambda a: np.einsum("i...->...", a) @ C((3,)), (C((4, 3)),)),
                         (lambda a: np.sum(np.einsum("ii->i", a) ** 2) + np.einsum("ii", a) ** 2, (C((3, 3)),)),
                         (lambda a, b: np.sum(np.einsum("iij,jj->ij", a, b) ** 2), (C((3, 3, 2)), C((2, 2))))],
        "numpy.linalg.norm": [(lambda x: np.linalg.norm(x), (a34,)), (lambda x: np.linalg.norm(x, 1), (b3,)),
                              (lambda x: np.sum(np.linalg.norm(x, axis=1)), (a34,)), *_norms(a34, C((2, 3, 4)))],
        "numpy.linalg.inv": [(lambda a: np.sum(la.inv(a) ** 2), (spd(3),))],
        "numpy.linalg.solve": [(lambda a, b: np.sum(la.solve(a, b) ** 2), (spd(3), b3)),
                               (lambda a, b: np.sum(la.solve(a, b) ** 2), (spd(3), a34)),
                               (lambda a, b: np.sum(la.solve(a, b) ** 2), (C((2, 3, 3)) + 3.0 * np.eye(3), C((2, 3, 2))))],
        "numpy.linalg.det": [(lambda a: la.det(a), (spd(3),)), (lambda a: np.sum(la.det(a) ** 2), (C((2, 3, 3)),))],
        "numpy.linalg.slogdet": [(lambda a: la.slogdet(a)[1], (spd(3),)), (lambda a: _logdet(a), (spd(3),))],
        "numpy.linalg.cholesky": [(lambda x: np.sum(la.cholesky(x @ x.T + 3.0 * np.eye(3)) * a33), (a33,)),
                                  (lambda x: np.sum(la.cholesky(x @ np.swapaxes(x, -1, -2) + 3.0 * np.eye(3)) ** 3),
                                   (C((2, 3, 3)),))],
        "numpy.linalg.eigh": [(lambda x: _eigh_loss(x), (a33,))],
        "numpy.linalg.multi_dot": [(lambda a, b, c: np.sum(la.multi_dot([a, b, c]) ** 2), (C((2, 3)), a33, a34)),
                                   (lambda a, b, c: la.multi_dot([a, b, c]) ** 2, (b3, a33, C((3,))))],
        "numpy.cumsum": [(lambda x: np.sum(np.cumsum(x) * np.arange(12.0)), (a34,)),
                         (lambda x: np.sum(np.cumsum(x, axis=1) * a34), (a34,))],
        "numpy.cumprod": [(lambda x: np.sum(np.cumprod(x, axis=0) * a34), (a34,)),
                          (lambda x: np.sum(np.cumprod(x) * np.arange(4.0)), (np.array([1.5, 0.0, 2.0, -1.0]),)),
                          (lambda x: np.sum(np.cumprod(x) * np.arange(6.0)), (np.linspace(0.5, 2.0, 6).reshape(2, 3),)),
                          (lambda x: np.sum(np.cumprod(x, axis=1) * a34[:2]), (np.array([[1.0, 0.0, 2.0, 3.0],
                                                                                       [0.5, 2.0, 0.0, 0.0]]),))],
        "numpy.full": [(lambda v: np.sum(np.full((2, 3), v) * C((2, 3))), (0.7,))],
        "numpy.full_like": [(lambda v: np.sum(np.full_like(a34, v) * a34), (0.7,))],
        "numpy.linspace": [(lambda a, b: np.sum(np.linspace(a, b, 7) ** 2), (0.3, 1.9))],
        "scipy.special.logsumexp": reduction_cases(sps.logsumexp) if sps else [],
        "scipy.special.softmax": [(lambda x: np.sum(sps.softmax(x, axis=1) * a34), (a34,)),
                                  (lambda x: np.sum(sps.softmax(x) * a34), (a34,))],
        "scipy.special.log_softmax": [(lambda x: np.sum(sps.log_softmax(x, axis=0) * a34), (a34,))],
    }
    from s2sad import runtime, runtime_numpy

    c.update({  # s2sad's own helpers: generated code calls them, and derivatives of derivatives need them
        "unbroadcast": [(lambda g: np.sum(runtime.unbroadcast(g, a34[0]) ** 2), (C((2, 3, 4)),))],
        "getitem_adjoint": [(lambda g: np.sum(runtime.getitem_adjoint(g, a34, (1, slice(None))) * a34), (C((4,)),))],
        "unreduce": [(lambda g: np.sum(runtime.unreduce(g, a34, 1, False) * a34), (C((3,)),))],
        "max_weight": [(lambda g: np.sum(runtime_numpy.max_weight(g, a34, a34.T[0][:, None]) ** 2), (a34,))],
        "add_bars": [(lambda a, b: np.sum(runtime.add_bars(a, b) ** 2), (b3, C((3,))))],
        "tuple_adjoint": [(lambda a, b: np.sum(runtime.tuple_adjoint((1.0, 2.0), a, b)[1] * a), (0.5, 1.5))],
        "snapshot": [(lambda a: np.sum(runtime.snapshot(a) * a), (b3,))],
        "rebound_input": [(lambda a: runtime.rebound_input(a) * a, (0.7,))],  # (an array raises: see its test)
        "immutable": [(lambda a: runtime.immutable(a) * a, (0.7,))],  # (an array raises: see its test)
        "captured_adjoint": [(lambda g: np.sum(runtime.captured_adjoint(g, "x", b3) ** 2), ({"x": C((3,))},))],
        "captured_cotangent": [(lambda h: np.sum(runtime.captured_cotangent(h, {"x": b3, "y": 0.5}, "x")["x"] ** 2),
                                (C((3,)),))],
    })
    c.update({  # reverse over reverse through matrix products: every rank
        "matmul_lhs_adjoint": [(lambda g, b: np.sum(runtime.matmul_lhs_adjoint(g, a34, b) ** 2), (C((3, 5)), C((4, 5)))),
                               (lambda g, b: np.sum(runtime.matmul_lhs_adjoint(g, a34, b) ** 2), (C((3,)), C((4,)))),
                               (lambda g, b: np.sum(runtime.matmul_lhs_adjoint(g, a34[0], b) ** 2),
                                (C((5,)), C((4, 5))))],
        "matmul_rhs_adjoint": [(lambda g, a: np.sum(runtime.matmul_rhs_adjoint(g, a, a43) ** 2), (C((3, 3)), a34)),
                               (lambda g, a: np.sum(runtime.matmul_rhs_adjoint(g, a, a43[:, 0]) ** 2),
                                (C((3,)), a34)),
                               (lambda g, a: np.sum(runtime.matmul_rhs_adjoint(g, a, a43) ** 2), (C((3,)), C((4,))))],
        "dot_lhs_adjoint": [(lambda g, b: np.sum(runtime.dot_lhs_adjoint(g, a34, b) ** 2), (C((3, 5)), C((4, 5)))),
                            (lambda g, b: np.sum(runtime.dot_lhs_adjoint(g, 2.0, b) ** 2), (C((4,)), C((4,))))],
        "dot_rhs_adjoint": [(lambda g, a: np.sum(runtime.dot_rhs_adjoint(g, a, a43) ** 2), (C((3, 3)), a34)),
                            (lambda g, a: np.sum(runtime.dot_rhs_adjoint(g, a, a43[:, 0]) ** 2), (C((3,)), a34))],
    })
    c.update({
        "max": [(lambda x, y: max(x, y) * 2.0 + max(y, x), (0.3, 1.2)), (lambda x, y: max(x, y) ** 2, (1.5, 0.2))],
        "min": [(lambda x, y: min(x, y) * 2.0 + min(y, x), (0.3, 1.2))],
        "sum": [(lambda x, y: sum([x, y * y, x * y]) + sum((x, y), 1.0), (0.3, 1.2)),
                (lambda x: np.sum(sum(x) ** 2), (a34,))],
        "numpy.float64": [(lambda x: np.float64(x) * 3.0, (0.4,))],
        "numpy.float32": [(lambda x: float(np.float32(x)) * 3.0, (0.5,), {"eps": 1e-2})],  # float32 rounding
        "ndarray.item": [(lambda x: x.item() * x[0] * 2.0, (C((1,)),))],
    })
    for sym, fn in OPERATORS.items():
        c[sym] = binary_cases(fn, sym)
    for op in ("+", "-", "*", "/", "**"):  # `y op= v`: in place on an array, a new value on a float
        c[f"{op}="] = [(_augmented(op), (r(sx, 0.4, 2.0), r(sy, 0.4, 2.0))) for sx, sy in
                       [((), ()), ((3,), ()), ((2, 3), (3,)), ((2, 3), (2, 3))]]
    c["@="] = [(_augmented("@"), (C((3, 3)) + 2.0 * np.eye(3), C((3, 3))))]
    c.update({  # containers: what list(...), dict views and .get hand on carries the gradient
        "list": [(lambda x, y: _weighted(list((x, y))), (0.3, C((3,))))],
        "tuple": [(lambda x, y: _weighted(tuple([x, y])), (0.3, C((3,))))],
        "sequence": [(lambda x: _sum_rows(x), (C((2, 3)),)), (lambda d: _sum_rows(d), ({"a": 0.3, "b": C((3,))},))],
        "reversed": [(lambda x, y: _weighted(list(reversed([y, x]))), (0.3, C((3,))))],
        "dict.items": [(lambda d: _sum_items(d), ({"a": 0.3, "b": C((3,))},))],
        "dict.values": [(lambda d: _weighted(list(d.values())), ({"a": 0.3, "b": C((3,))},))],
        "dict.get": [(lambda d, v: np.sum(d.get("b") * 2.0) + d.get("z", v) * 3.0, ({"a": 0.3, "b": C((3,))}, 0.5))],
        "ndarray.tolist": [(lambda x: _weighted(x.tolist()), (C((2,)),))],
        "dict": [(lambda d: _sum_items(dict(d)), ({"a": 0.3, "b": C((3,))},)),
                 (lambda x, y: _sum_items(dict([("a", x), ("b", y), ("a", y * 2.0)])), (C((3,)), C((3,))))],
        "zipped": [(lambda x, y: _weighted(list(zip([x, y], [y * 2.0, x]))[1]), (0.3, C((3,))))],
        "merged": [(lambda d, x: _sum_items({**d, "a": x * 3.0, "c": x}), ({"a": 0.3, "b": C((3,))}, C((3,)))),
                   (lambda d, x: _sum_items(dict(d, b=x)), ({"a": 0.3, "b": C((3,))}, 0.7))],
        "mul_adjoint": [(lambda g: np.sum(runtime.mul_adjoint(g, a34, 3) * a34), (C((3, 4)),)),
                        (lambda g: np.sum(_weighted(runtime.mul_adjoint(g, [1.0, 2.0], 2))), ([0.3, 0.7, 1.1, 1.3],))],
    })
    return c


def _norms(a, batch):
    """Every ord, as a vector norm along an axis and as a matrix norm over two axes (ords written out:
    a constant ord is differentiated to any order)."""
    la, minus_inf = np.linalg, -np.inf  # (a closure constant: -np.inf in place is an expression)
    return [
        (lambda x: np.sum(la.norm(x, 1, axis=1) ** 2) + np.sum(la.norm(x, 2, axis=0) ** 2), (a,)),
        (lambda x: np.sum(la.norm(x, np.inf, axis=1) ** 2) + np.sum(la.norm(x, ord=minus_inf, axis=0) ** 2), (a,)),
        (lambda x: np.sum(la.norm(x, 3, axis=1) ** 2) + np.sum(la.norm(x, 4, axis=0) ** 2), (a,)),
        (lambda x: np.sum(la.norm(x, 0.5, axis=1)) + la.norm(x[0], 3) + la.norm(x[1], ord=4), (a,)),
        (lambda x: la.norm(x, 1, axis=(0, 1)) ** 2 + la.norm(x, -1, axis=(1, 0)), (a,)),
        (lambda x: la.norm(x, 2, axis=(0, 1)) ** 2 + la.norm(x, -2, axis=(1, 0)), (a,)),
        (lambda x: la.norm(x, np.inf, axis=(0, 1)) ** 2 + la.norm(x, minus_inf, axis=(1, 0)), (a,)),
        (lambda x: la.norm(x, "fro") ** 3 + la.norm(x, "nuc") ** 2, (a,)),
        (lambda x: np.sum(la.norm(x, 2, axis=(2, 1), keepdims=True) * batch), (batch,)),
        (lambda x: np.sum(la.norm(x, "nuc", axis=(0, 2)) ** 2), (batch,)),
        (lambda x: np.sum(la.norm(x, 1, axis=-1, keepdims=True) * batch), (batch,)),
    ]


def _augmented(op):
    def f(x, y):
        z = x * 1.0
        if op == "+":
            z += y
        elif op == "-":
            z -= y
        elif op == "*":
            z *= y
        elif op == "/":
            z /= y
        elif op == "**":
            z **= y
        else:
            z @= y
        return np.sum(z * z)
    return f


def _weighted(xs):
    return np.sum(xs[0] * 2.0) + np.sum(xs[1] * xs[1])


def _sum_rows(xs):
    s = 0.0
    for k in xs:
        s = s + np.sum(xs[k] * 2.0) if isinstance(xs, dict) else s + np.sum(k * k)
    return s


def _sum_items(d):
    s = 0.0
    for k, v in d.items():
        s = s + np.sum(v * v) * (2.0 if k == "a" else 1.0)
    return s


def _two_pieces(x):
    a, b = np.split(x, [1])
    return np.sum(a ** 2) + np.sum(b ** 3)


def _logdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return logdet * 2.0


def _eigh_loss(x):
    w, v = np.linalg.eigh(x + x.T + np.diag(np.arange(3.0)) * 4.0)
    return np.sum(w * np.arange(3.0)) + np.sum(v[:, 0] ** 4)


def _lotka(y, t, theta):
    return np.array([theta[0] * y[0] - theta[1] * y[0] * y[1], theta[2] * y[0] * y[1] - theta[3] * y[1]])


def _odeint_cases():
    """odeint in y0, t and args (to a tight tolerance, checked with a wider step)."""
    from scipy.integrate import odeint

    def solve(y0, theta, t):
        return odeint(_lotka, y0, t, args=(theta,), rtol=1e-12, atol=1e-12)

    y0, theta, t = np.array([1.2, 0.8]), np.array([1.1, 0.4, 0.3, 0.9]), np.array([0.0, 0.6, 1.5])
    check = {"eps": 1e-4, "rtol": 1e-6, "atol": 1e-8}
    return {"scipy.integrate.odeint": [(lambda y0, theta, t: np.sum(solve(y0, theta, t) ** 2), (y0, theta, t), check)]}


EXPLICIT = explicit()
EXPLICIT.update(library_cases.CASES)
EXPLICIT.update(helper_cases.cases(C, spd))  # s2sad's own helpers, for derivatives of derivatives
EXPLICIT.update(_odeint_cases() if sps else {})
EXPLICIT.update(complex_cases.CASES)  # complex intermediates (numpy.fft, imag, angle, ...)


def cases(name: str):
    if name in EXPLICIT:
        return EXPLICIT[name]
    rule = next(r for r in RULES.values() if r.name == name)
    fn = next(k for k, v in RULES.items() if v is rule)
    short = name.split(".")[-1]
    if rule.elementwise and _arity(fn) == 2:
        scalar_only = getattr(fn, "__module__", None) in ("math", "builtins")
        return binary_cases(fn, short, [((), ())] if scalar_only else PAIRS)
    if rule.elementwise:
        return unary_cases(fn, short)
    return []


def _arity(fn) -> int:
    if isinstance(fn, np.ufunc):
        return fn.nin
    return 2 if fn in (math.pow, math.atan2, math.hypot, pow) else 1


ALL = sorted({rule.name for rule in RULES.values()})


def test_the_registry_is_large():
    assert len(ALL) >= 150


@pytest.mark.parametrize("name", ALL)
def test_every_rule_has_cases(name):
    assert cases(name), f"rule {name} has no test cases: add them to tests/test_rules.py"


@pytest.mark.parametrize("name", ALL)
def test_rule_matches_finite_differences(name):
    for fn, args, *options in cases(name):
        check_grads(fn, args, **(options[0] if options else {}))


def test_ties_and_kinks_follow_the_documented_conventions():
    import s2sad

    g = s2sad.grad(lambda x: np.sum(np.maximum(x, 0.0)))(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 1.0])
    g = s2sad.grad(lambda x: np.max(x))(np.array([1.0, 3.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5])
    g = s2sad.grad(lambda x: np.sum(np.clip(x, 0.0, 1.0)))(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])
    assert s2sad.grad(lambda x: abs(x))(0.0) == 0.0
    with np.errstate(divide="ignore"):
        assert s2sad.grad(lambda x: np.sqrt(x))(0.0) == np.inf
    g = s2sad.grad(lambda x: np.linalg.norm(x))(np.zeros(3))
    np.testing.assert_array_equal(g, 0.0)
    # hypot and math.dist are norms too: 0 at the origin
    assert s2sad.grad(lambda x, y: np.hypot(x, y), argnums=(0, 1))(0.0, 0.0) == (0.0, 0.0)
    assert s2sad.grad(lambda x, y: math.hypot(x, y, x), argnums=(0, 1))(0.0, 0.0) == (0.0, 0.0)
    assert s2sad.grad(lambda x: math.dist((x, 1.0), (x, 1.0)))(0.5) == 0.0
    # 0 ** y is 0 for every y > 0: its derivative in y is 0 there (as JAX and autograd), not 0 * log(0)
    assert s2sad.grad(lambda x, y: x ** y, argnums=1)(0.0, 2.0) == 0.0
    g = s2sad.grad(lambda x, y: np.sum(np.power(x, y)), argnums=1)(np.array([0.0, 2.0]), np.array([2.0, 3.0]))
    np.testing.assert_allclose(g, [0.0, 8.0 * np.log(2.0)])
    # std of a constant, a 0-d value included: NaN (0 / 0), as JAX and autograd
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(s2sad.grad(lambda x: np.std(x))(1.5))
        assert np.isnan(s2sad.grad(lambda x: np.std(x))(np.array(1.5)))
    # Python floats follow Python's arithmetic: an infinite derivative is a ZeroDivisionError at the line
    with pytest.raises(ZeroDivisionError) as info:
        s2sad.grad(lambda x: math.sqrt(x))(0.0)
    assert any("test_rules.py" in note for note in getattr(info.value, "__notes__", ["test_rules.py"]))


def test_astype_gives_the_cotangent_in_the_source_dtype():
    import s2sad

    g = s2sad.grad(lambda x: np.sum(x.astype(np.float32) * 2.0))(np.ones(3))
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, 2.0)


@pytest.mark.parametrize("name", ALL)
def test_rule_forward_matches_finite_differences(name):
    for fn, args, *options in cases(name):
        check_grads(fn, args, **{**(options[0] if options else {}), "modes": ("fwd",)})


def test_cotangents_of_one_value_are_added_only_when_alike():
    from s2sad import runtime

    np.testing.assert_allclose(runtime.add_bars(np.ones(3), np.ones(3)), 2.0)
    assert runtime.add_bars([1.0], [2.0, 0.0]) == [3.0]  # (a zero made from a list after it grew: a zero tail)
    with pytest.raises(AssertionError, match="arrays of shapes"):
        runtime.add_bars(np.ones(3), np.ones(1))  # (would broadcast)
    with pytest.raises(AssertionError, match="lists of 1 and 2 entries"):
        runtime.add_bars([1.0], [2.0, 5.0])  # (would drop a cotangent)
