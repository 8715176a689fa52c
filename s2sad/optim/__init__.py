"""The training kit: optimizers, gradient clipping, learning-rate schedules, mixed precision,
and training state saved to ``.npz``.

Optimizers are pairs of functions over pytrees, as in optax, except that ``update`` returns the
new parameters rather than updates to add::

    opt = s2sad.optim.adam(1e-3)
    state = opt.init(params)
    loss, grads = s2sad.value_and_grad(loss_fn)(params, X, y)
    grads, norm = s2sad.optim.clip_by_global_norm(grads, 1.0)
    params, state = opt.update(grads, state, params)
"""

from __future__ import annotations

from .clipping import clip_by_global_norm, clip_by_value, global_norm
from .mixed import MixedPrecision, mixed_precision
from .optimizers import Optimizer, adam, adamw, momentum, rmsprop, sgd
from .schedules import constant, cosine, exponential, join, linear, one_cycle, step_decay, warmup
from .state import load, save

__all__ = [
    "Optimizer", "sgd", "momentum", "rmsprop", "adam", "adamw",
    "global_norm", "clip_by_global_norm", "clip_by_value",
    "constant", "linear", "step_decay", "exponential", "cosine", "one_cycle", "join", "warmup",
    "MixedPrecision", "mixed_precision", "save", "load",
]
