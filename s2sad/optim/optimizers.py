"""Optimizers over pytrees, in a functional style: ``init(params) -> state`` and
``update(grads, state, params) -> (params, state)``.

Nothing is updated in place: ``update`` returns new parameters and a new state,
so a state can be saved, restored and replayed (``s2sad.optim.save``). Every
leaf keeps its type and dtype (a float32 array stays float32, a Python float a
Python float); the arithmetic uses Python floats, which NumPy treats as weak.
The learning rate is a float or a schedule, a function of the number of updates
done before this one (0 on the first update).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..pytree import map_leaves

__all__ = ["Optimizer", "sgd", "momentum", "rmsprop", "adam", "adamw"]

Rate = float | Callable[[int], float]


class Optimizer(NamedTuple):
    """A pair of functions: ``init(params)`` gives the state, ``update(grads, state, params)``
    gives ``(new_params, new_state)``."""

    init: Callable[[Any], dict]
    update: Callable[[Any, dict, Any], tuple[Any, dict]]


def _like(value: Any, leaf: Any) -> Any:
    """``value`` with ``leaf``'s type: a Python float for a float, ``leaf``'s dtype for an array."""
    if isinstance(leaf, np.ndarray):
        return np.asarray(value, dtype=leaf.dtype)
    if isinstance(leaf, np.generic):
        return leaf.dtype.type(value)
    return float(value)


def _zeros(params: Any) -> Any:
    return map_leaves(lambda p: _like(np.zeros(np.shape(p)), p), params)


def _rate(lr: Rate, step: int) -> float:
    return float(lr(step) if callable(lr) else lr)


def sgd(lr: Rate) -> Optimizer:
    """Plain gradient descent: θ ← θ − ηg.

    >>> import numpy as np, s2sad
    >>> opt = s2sad.optim.sgd(0.1)
    >>> params, state = opt.update({"w": np.ones(2)}, opt.init({"w": np.ones(2)}), {"w": np.ones(2)})
    >>> params["w"]
    array([0.9, 0.9])
    """
    def init(params: Any) -> dict:
        return {"step": 0}

    def update(grads: Any, state: dict, params: Any) -> tuple[Any, dict]:
        eta = _rate(lr, state["step"])
        new = map_leaves(lambda p, g: _like(p - eta * g, p), params, grads)
        return new, {"step": state["step"] + 1}

    return Optimizer(init, update)


def momentum(lr: Rate, beta: float = 0.9) -> Optimizer:
    """Gradient descent with momentum (the heavy ball, as ``torch.optim.SGD(momentum=β)``):
    v ← βv + g; θ ← θ − ηv."""
    def init(params: Any) -> dict:
        return {"step": 0, "velocity": _zeros(params)}

    def update(grads: Any, state: dict, params: Any) -> tuple[Any, dict]:
        eta = _rate(lr, state["step"])
        v = map_leaves(lambda v, g: _like(beta * v + g, v), state["velocity"], grads)
        new = map_leaves(lambda p, v: _like(p - eta * v, p), params, v)
        return new, {"step": state["step"] + 1, "velocity": v}

    return Optimizer(init, update)


def rmsprop(lr: Rate = 1e-2, beta: float = 0.99, eps: float = 1e-8) -> Optimizer:
    """RMSProp: v ← βv + (1−β)g²; θ ← θ − ηg/(√v + ε)."""
    def init(params: Any) -> dict:
        return {"step": 0, "nu": _zeros(params)}

    def update(grads: Any, state: dict, params: Any) -> tuple[Any, dict]:
        eta = _rate(lr, state["step"])
        nu = map_leaves(lambda v, g: _like(beta * v + (1.0 - beta) * g * g, v), state["nu"], grads)
        new = map_leaves(lambda p, g, v: _like(p - eta * g / (np.sqrt(v) + eps), p), params, grads, nu)
        return new, {"step": state["step"] + 1, "nu": nu}

    return Optimizer(init, update)


def adam(lr: Rate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam, bias-corrected with t counted from 1:
    m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − η m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).

    >>> import s2sad
    >>> opt = s2sad.optim.adam(0.1)
    >>> params, state = opt.update(2.0, opt.init(1.0), 1.0)   # the first step moves by η·g/|g|
    >>> round(params, 6), state["step"]
    (0.9, 1)
    """
    return _adam(lr, b1, b2, eps, 0.0)


def adamw(lr: Rate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2) -> Optimizer:
    """AdamW: Adam with the weight decay outside the adaptive step (decoupled):
    θ ← (1 − ηλ)θ − η m̂/(√v̂ + ε)."""
    return _adam(lr, b1, b2, eps, weight_decay)


def _adam(lr: Rate, b1: float, b2: float, eps: float, weight_decay: float) -> Optimizer:
    def init(params: Any) -> dict:
        return {"step": 0, "mu": _zeros(params), "nu": _zeros(params)}

    def update(grads: Any, state: dict, params: Any) -> tuple[Any, dict]:
        eta = _rate(lr, state["step"])
        t = state["step"] + 1
        mu = map_leaves(lambda m, g: _like(b1 * m + (1.0 - b1) * g, m), state["mu"], grads)
        nu = map_leaves(lambda v, g: _like(b2 * v + (1.0 - b2) * g * g, v), state["nu"], grads)
        c1, c2 = 1.0 - b1**t, 1.0 - b2**t
        decay = 1.0 - eta * weight_decay

        def step(p: Any, m: Any, v: Any) -> Any:
            return _like(decay * p - eta * (m / c1) / (np.sqrt(v / c2) + eps), p)

        return map_leaves(step, params, mu, nu), {"step": t, "mu": mu, "nu": nu}

    return Optimizer(init, update)
