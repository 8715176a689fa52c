"""Gradient clipping over pytrees: by the global norm of all leaves, or by value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..pytree import leaves, map_leaves

__all__ = ["global_norm", "clip_by_global_norm", "clip_by_value"]


def global_norm(tree: Any) -> float:
    """The 2-norm of all leaves of ``tree`` together, as one vector (accumulated in float64)."""
    return math.sqrt(sum(float(np.sum(np.square(leaf, dtype=np.float64))) for leaf in leaves(tree)))


def clip_by_global_norm(grads: Any, max_norm: float) -> tuple[Any, float]:
    """``(clipped, norm)``: every leaf scaled by max_norm / (norm + 1e-6) when the global norm
    exceeds ``max_norm`` (as ``torch.nn.utils.clip_grad_norm_``), and the norm before clipping.

    >>> import numpy as np
    >>> from s2sad.optim import clip_by_global_norm
    >>> clipped, norm = clip_by_global_norm({"a": np.array([3.0]), "b": 4.0}, 1.0)
    >>> norm, clipped["b"] == 4.0 / (5.0 + 1e-6)
    (5.0, True)
    """
    norm = global_norm(grads)
    if not norm > max_norm:
        return grads, norm
    coef = max_norm / (norm + 1e-6)
    return map_leaves(lambda g: g * coef if isinstance(g, np.ndarray) else type(g)(g * coef), grads), norm


def clip_by_value(grads: Any, max_value: float) -> Any:
    """Every component of every leaf clipped to [-max_value, max_value] (``clip_grad_value_``)."""
    def clip(g: Any) -> Any:
        return np.clip(g, -max_value, max_value) if isinstance(g, np.ndarray) else type(g)(min(max(g, -max_value),
                                                                                                max_value))
    return map_leaves(clip, grads)
