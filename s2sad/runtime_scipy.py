"""Helpers that the scipy rules' adjoints call by name (each has a rule of its own)."""

from __future__ import annotations

import numpy as np

__all__ = ["components"]


def components(alpha, x):
    """``alpha`` (one entry per component) shaped to broadcast along ``x``'s first axis, the
    components' axis of ``scipy.stats.dirichlet``."""
    alpha = np.asarray(alpha)
    if np.shape(x)[0] != alpha.shape[-1]:
        raise ValueError("the derivative of dirichlet with respect to x needs all k components of x "
                         f"(x has {np.shape(x)[0]}, alpha {alpha.shape[-1]})")
    return alpha.reshape(alpha.shape + (1,) * (np.ndim(x) - 1))
