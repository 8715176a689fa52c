"""Helpers that the scipy rules' adjoints call by name (each has a rule of its own)."""

from __future__ import annotations

import numpy as np

__all__ = ["components", "signal_adjoint", "banded_transpose", "banded_outer", "banded_matmul"]


def components(alpha, x):
    """``alpha`` (one entry per component) shaped to broadcast along ``x``'s first axis, the
    components' axis of ``scipy.stats.dirichlet``."""
    alpha = np.asarray(alpha)
    if np.shape(x)[0] != alpha.shape[-1]:
        raise ValueError("the derivative of dirichlet with respect to x needs all k components of x "
                         f"(x has {np.shape(x)[0]}, alpha {alpha.shape[-1]})")
    return alpha.reshape(alpha.shape + (1,) * (np.ndim(x) - 1))


def signal_adjoint(g, a, b, mode, kind, which):
    """The cotangent of operand ``which`` of ``scipy.signal.convolve(a, b, mode)`` (``kind`` "convolve") or
    of ``correlate`` (the convolution with ``b`` reversed), from ``g``: ``g`` placed where ``mode`` cut
    the full result out, correlated with the other operand."""
    from scipy import signal

    a, b = np.asarray(a), np.asarray(b)
    kernel = np.flip(b) if kind == "correlate" else b
    full = tuple(n + m - 1 for n, m in zip(a.shape, b.shape))
    g_full = np.zeros(full, np.result_type(g, a, b, 1.0))
    g_full[tuple(slice((f - n) // 2, (f - n) // 2 + n) for f, n in zip(full, np.shape(g)))] = g
    if which == 0:
        return signal.correlate(g_full, kernel, mode="valid")
    bar = signal.correlate(g_full, a, mode="valid")
    return np.flip(bar) if kind == "correlate" else bar


# banded matrices as scipy.linalg.solve_banded stores them: a[i, j] = ab[u + i - j, j] on the band


def _band(l_and_u, n):
    """Each stored diagonal (row ``u + d`` of ``ab``, ``d = i - j``) and the columns ``j`` it holds."""
    below, above = l_and_u
    return [(above + d, slice(max(0, -d), min(n, n - d))) for d in range(-above, below + 1)]


def banded_transpose(ab, l_and_u):
    """The banded storage of the transpose (whose band is ``(u, l)``)."""
    ab = np.asarray(ab)
    n, (below, above) = ab.shape[-1], l_and_u
    out = np.zeros_like(ab, dtype=np.result_type(ab, 1.0))
    for row, cols in _band(l_and_u, n):
        d = row - above  # a[j + d, j] is the transpose's [j, j + d], on its row below - d
        out[below - d, cols.start + d: cols.stop + d] = ab[row, cols]
    return out


def banded_outer(x, y, l_and_u):
    """The band of ``x @ y.T`` (vectors: their outer product), in banded storage."""
    x, y = np.asarray(x), np.asarray(y)
    x2, y2 = (x[:, None], y[:, None]) if x.ndim == 1 else (x, y)
    n, (below, above) = x2.shape[0], l_and_u
    out = np.zeros((below + above + 1, n), np.result_type(x, y, 1.0))
    for row, cols in _band(l_and_u, n):
        d = row - above
        out[row, cols] = np.sum(x2[cols.start + d: cols.stop + d] * y2[cols], axis=-1)
    return out


def banded_matmul(ab, x, l_and_u):
    """The banded matrix stored in ``ab`` times ``x`` (a vector or a matrix)."""
    ab, x = np.asarray(ab), np.asarray(x)
    n, above = ab.shape[-1], l_and_u[1]
    out = np.zeros(x.shape, np.result_type(ab, x, 1.0))
    for row, cols in _band(l_and_u, n):
        d = row - above
        part = ab[row, cols]
        out[cols.start + d: cols.stop + d] += part[:, None] * x[cols] if x.ndim > 1 else part * x[cols]
    return out
