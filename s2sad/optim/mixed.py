"""Mixed-precision training: the forward and backward pass in float16, the update in float32.

Micikevicius et al. (2017), as the seed's chapter 10.4 and PyTorch's ``GradScaler`` do it:
float32 *master weights* are cast to float16 for each step; ``value_and_grad`` of the loss times
the *loss scale* runs in float16 (the scale keeps small gradients from flushing to zero); the
gradients are cast to float32 and divided by the scale; the optimizer updates the master weights.
With dynamic scaling a step whose gradients hold an inf or a NaN is skipped and the scale halved,
and the scale doubles after ``growth_interval`` clean steps in a row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..api import value_and_grad
from ..pytree import leaves, map_leaves
from .clipping import clip_by_global_norm
from .optimizers import Optimizer, _like

__all__ = ["MixedPrecision", "mixed_precision"]


def _scaled_loss(loss: Callable, params: Any, scale: float, *args: Any) -> Any:
    # the scaled value in float32: in float16, 65536 times a loss of 1 is already inf
    return loss(params, *args).astype(np.float32) * scale


_scaled_value_and_grad = value_and_grad(_scaled_loss, argnums=1)


class MixedPrecision:
    """A training step in low precision from float32 master weights; see ``mixed_precision``."""

    def __init__(self, loss: Callable, optimizer: Optimizer, loss_scale: float | str, dtype: Any,
                 growth_interval: int, clip_norm: float | None) -> None:
        self.loss, self.optimizer, self.dtype = loss, optimizer, np.dtype(dtype)
        self.dynamic = loss_scale == "dynamic"
        self.init_scale = 2.0**16 if self.dynamic else float(loss_scale)
        self.growth_interval, self.clip_norm = growth_interval, clip_norm

    def init(self, params: Any) -> dict:
        """The state: the optimizer's, the loss scale, the clean steps in a row and the steps skipped."""
        return {"opt": self.optimizer.init(params), "scale": self.init_scale, "clean": 0, "skipped": 0}

    def cast(self, tree: Any) -> Any:
        """``tree`` with its floating arrays in the compute dtype (other leaves as they are)."""
        return map_leaves(lambda a: a.astype(self.dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a,
                          tree)

    def value_and_grad(self, params: Any, scale: float, *args: Any) -> tuple[float, Any, bool]:
        """``(loss, grads, finite)``: the loss and the gradients with respect to ``params``
        computed in the compute dtype with the loss scaled by ``scale``, then unscaled in
        ``params``' dtypes; ``finite`` is False when a gradient holds an inf or a NaN."""
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is expected: it lowers the scale
            value, grads = _scaled_value_and_grad(self.loss, self.cast(params), scale, *self.cast(args))
        grads = map_leaves(lambda g, p: _like(np.asarray(g, dtype=np.float32) / scale, p), grads, params)
        finite = all(np.all(np.isfinite(g)) for g in leaves(grads))
        return float(value) / scale, grads, bool(finite)

    def step(self, params: Any, state: dict, *args: Any) -> tuple[Any, dict, float]:
        """``(params, state, loss)`` after one step on ``loss(params, *args)``: the optimizer's
        update of the master weights, or none (and a smaller scale) when the gradients overflowed."""
        value, grads, finite = self.value_and_grad(params, state["scale"], *args)
        if not finite:
            scale = state["scale"] * 0.5 if self.dynamic else state["scale"]
            return params, {**state, "scale": scale, "clean": 0, "skipped": state["skipped"] + 1}, value
        if self.clip_norm is not None:
            grads, _ = clip_by_global_norm(grads, self.clip_norm)
        params, opt_state = self.optimizer.update(grads, state["opt"], params)
        clean, scale = state["clean"] + 1, state["scale"]
        if self.dynamic and clean == self.growth_interval:
            clean, scale = 0, scale * 2.0
        return params, {**state, "opt": opt_state, "scale": scale, "clean": clean}, value


def mixed_precision(loss: Callable, optimizer: Optimizer, loss_scale: float | str = "dynamic",
                    dtype: Any = np.float16, growth_interval: int = 2000,
                    clip_norm: float | None = None) -> MixedPrecision:
    """Train ``loss(params, *args)`` in ``dtype`` (float16) from float32 master weights.

    ``loss`` returns a NumPy scalar or 0-d array. ``loss_scale`` is a number (static scaling; the
    seed uses 1024 or 2048) or ``"dynamic"``
    (start at 2**16, halve and skip the step on an inf or NaN gradient, double after
    ``growth_interval`` clean steps: ``torch.cuda.amp.GradScaler``'s defaults). Floating arrays
    among ``params`` and ``args`` are cast to ``dtype`` for the forward and backward pass; the
    gradients come back unscaled in the master weights' dtypes, are clipped to ``clip_norm``
    (a global norm) if given, and ``optimizer`` updates the master weights.

    >>> import numpy as np, s2sad
    >>> def loss(w, x):
    ...     return np.sum((w * x - 1.0) ** 2)
    >>> mp = s2sad.optim.mixed_precision(loss, s2sad.optim.sgd(0.1), loss_scale=1024.0)
    >>> w = np.zeros(2, np.float32)
    >>> state = mp.init(w)
    >>> w, state, value = mp.step(w, state, np.ones(2, np.float32))
    >>> w, w.dtype, value
    (array([0.2, 0.2], dtype=float32), dtype('float32'), 2.0)
    """
    if loss_scale != "dynamic" and not (isinstance(loss_scale, int | float) and math.isfinite(loss_scale)
                                        and loss_scale > 0):
        raise ValueError(f"loss_scale must be a positive number or 'dynamic', got {loss_scale!r}")
    return MixedPrecision(loss, optimizer, loss_scale, dtype, growth_interval, clip_norm)
