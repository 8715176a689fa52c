"""Learning-rate schedules: functions from the step ``t`` (0, 1, 2, ...) to a learning rate.

An optimizer calls its schedule with the number of updates done before the
current one. Schedules compose: ``join`` runs one schedule after another,
``warmup`` puts a linear ramp in front of any schedule, and any function of
``t`` returning a float is a schedule too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

__all__ = ["Schedule", "constant", "linear", "step_decay", "exponential", "cosine", "one_cycle", "join",
           "warmup"]

Schedule = Callable[[int], float]


def constant(value: float) -> Schedule:
    """η(t) = value."""
    def constant_schedule(t: int) -> float:
        return float(value)

    return constant_schedule


def linear(start: float, end: float, steps: int) -> Schedule:
    """From ``start`` at t = 0 to ``end`` at t = ``steps`` in a straight line, then ``end``."""
    def linear_schedule(t: int) -> float:
        frac = min(max(t, 0), steps) / steps if steps > 0 else 1.0
        return start + (end - start) * frac

    return linear_schedule


def step_decay(init: float, gamma: float, every: int) -> Schedule:
    """Step decay η₀γ^⌊t/k⌋ (``torch.optim.lr_scheduler.StepLR``): multiplied by ``gamma`` every ``every`` steps.

    >>> from s2sad.optim import step_decay
    >>> [step_decay(1.0, 0.5, 2)(t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    def step_decay_schedule(t: int) -> float:
        return init * gamma ** (t // every)

    return step_decay_schedule


def exponential(init: float, gamma: float) -> Schedule:
    """Exponential decay η₀γᵗ (``ExponentialLR``)."""
    def exponential_schedule(t: int) -> float:
        return init * gamma**t

    return exponential_schedule


def cosine(max_lr: float, period: int, min_lr: float = 0.0) -> Schedule:
    """Cosine annealing η_min + ½(η_max − η_min)(1 + cos(πt/T)) for 0 ≤ t ≤ T, then η_min
    (one half-cycle, as ``CosineAnnealingLR`` for its first T steps).

    >>> from s2sad.optim import cosine
    >>> [cosine(1e-3, 100)(t) for t in (0, 50, 100)]
    [0.001, 0.0005, 0.0]
    """
    def cosine_schedule(t: int) -> float:
        t = min(max(t, 0), period)
        return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * t / period))

    return cosine_schedule


def one_cycle(max_lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4) -> Schedule:
    """The one-cycle triangle (Smith, 2017), as ``OneCycleLR(anneal_strategy="linear")``: from
    ``max_lr / div_factor`` up to ``max_lr`` at step ``pct_start * total_steps - 1``, then down to
    ``max_lr / div_factor / final_div_factor`` at the last step, ``total_steps - 1``."""
    start = max_lr / div_factor
    peak = pct_start * total_steps - 1.0
    last = total_steps - 1.0
    end = start / final_div_factor

    def one_cycle_schedule(t: int) -> float:
        if t <= peak:
            return start + (max_lr - start) * (t / peak)
        frac = min((t - peak) / (last - peak), 1.0)
        return max_lr + (end - max_lr) * frac

    return one_cycle_schedule


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """``schedules[i]`` from step ``boundaries[i-1]`` on, called with the steps since that boundary
    (as ``optax.join_schedules``).

    >>> from s2sad.optim import constant, join, linear
    >>> s = join([linear(0.0, 1.0, 2), constant(0.5)], [2])
    >>> [s(t) for t in range(4)]
    [0.0, 0.5, 0.5, 0.5]
    """
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(f"join needs one boundary fewer than schedules, got {len(schedules)} and {len(boundaries)}")

    def joined_schedule(t: int) -> float:
        offset = 0
        for schedule, boundary in zip(schedules, boundaries):
            if t < boundary:
                return schedule(t - offset)
            offset = boundary
        return schedules[-1](t - offset)

    return joined_schedule


def warmup(schedule: Schedule | float, steps: int, start: float = 0.0) -> Schedule:
    """A linear warm-up from ``start`` to ``schedule(0)`` over ``steps`` steps, then ``schedule``
    (called with the steps since the warm-up ended).

    >>> from s2sad.optim import cosine, warmup
    >>> s = warmup(cosine(1.0, 10), 4)
    >>> [s(t) for t in (0, 2, 4)]
    [0.0, 0.5, 1.0]
    """
    after = schedule if callable(schedule) else constant(schedule)
    return join([linear(start, after(0), steps), after], [steps])
