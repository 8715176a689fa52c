"""The rule-author API: custom reverse rules, non-differentiable functions, checkpointing.

A custom rule is called instead of transforming (or templating) the function it is
registered for; generated code calls it through a small handle, exactly like the
vjp/pullback pair of a user function:

    z, my_fn_pullback = my_fn_rrule_handle(x, y)   # forward
    x_bar, y_bar = my_fn_pullback(z_bar)           # pullback
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .cache import VJP
from .rules import FRULES, NONDIFFERENTIABLE, RRULES
from .runtime import add_bars, zeros_like

__all__ = ["rrule", "frule", "nondifferentiable", "checkpoint", "checkpointed_loop", "Checkpointed",
           "RRuleHandle", "FRuleHandle", "CheckpointHandle"]


def rrule(fn: Callable) -> Callable[[Callable], Callable]:
    """Register a reverse rule for ``fn`` (ChainRules-shaped); use as a decorator.

    The rule takes ``fn``'s arguments and returns ``(out, pullback)``;
    ``pullback(out_bar)`` returns one cotangent per positional argument
    (``None``: no gradient for it). A registered rule wins over transforming
    ``fn``'s source and over s2sad's own rule for it.

    >>> import numpy as np, s2sad
    >>> def softplus(x):
    ...     return np.log1p(np.exp(x))
    >>> @s2sad.rrule(softplus)
    ... def softplus_rrule(x):
    ...     def softplus_pullback(out_bar):
    ...         return (out_bar / (1.0 + np.exp(-x)),)
    ...     return softplus(x), softplus_pullback
    >>> float(s2sad.grad(lambda x: softplus(x) * 2.0)(0.0))
    1.0
    """
    def register(rule: Callable) -> Callable:
        RRULES[fn] = rule
        return rule

    return register


def frule(fn: Callable) -> Callable[[Callable], Callable]:
    """Register a forward rule for ``fn``; use as a decorator.

    The rule is called as ``rule(primals, tangents)`` with a tuple of ``fn``'s
    positional arguments and a tuple of their tangents (``None``: a zero) and
    returns ``(out, out_dot)``. Forward mode (``jvp``, ``jacfwd``) calls it instead
    of transforming ``fn``.
    """
    def register(rule: Callable) -> Callable:
        FRULES[fn] = rule
        return rule

    return register


def nondifferentiable(fn: Callable) -> Callable:
    """Declare that no gradient flows through ``fn``: its results are constants to s2sad.

    Returns ``fn``, so it also works as a decorator.
    """
    NONDIFFERENTIABLE.add(fn)
    return fn


class Checkpointed:
    """``fn`` whose intermediate values a differentiated caller does not keep: its pullback
    runs ``fn`` again (as ``jax.checkpoint``). Calling it just calls ``fn``."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "checkpointed")
        self.__doc__ = fn.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<s2sad checkpoint of {self.__name__}>"


def checkpoint(fn: Callable) -> Checkpointed:
    """``fn``, recomputed in the pullback instead of saved in the forward pass.

    Inside a differentiated loop (``h = step(h, W)`` with ``step = s2sad.checkpoint(step)``)
    each iteration keeps only the step's inputs; the pullback recomputes the step's
    intermediates when it reaches that iteration.
    """
    return Checkpointed(fn)


def _fill(bars, args, positions):
    """The cotangents at ``positions``, with a rule's ``None`` turned into a zero."""
    return tuple(zeros_like(args[i]) if bars[i] is None else bars[i] for i in positions)


class _RuleHandle:
    """A registered rule as generated code calls it, for the differentiated ``positions``."""

    __slots__ = ("rule", "positions")
    kind = ""

    def __init__(self, rule: Callable, positions: tuple[int, ...]) -> None:
        self.rule = rule
        self.positions = positions

    def __repr__(self) -> str:
        return f"<s2sad {self.kind} {getattr(self.rule, '__qualname__', self.rule)}>"


class RRuleHandle(_RuleHandle):
    """Calls a registered ``rrule`` and keeps the cotangents of the differentiated positions."""

    __slots__ = ()
    kind = "rrule"

    def __call__(self, *args: Any, **kwargs: Any):
        out, pullback = self.rule(*args, **kwargs)
        positions = self.positions

        def rrule_pullback(out_bar):
            bars = pullback(out_bar)
            if len(bars) != len(args):
                raise TypeError(f"the pullback of {getattr(self.rule, '__name__', self.rule)} returned "
                                f"{len(bars)} cotangents for {len(args)} positional arguments")
            return _fill(bars, args, positions)

        return out, rrule_pullback


class FRuleHandle(_RuleHandle):
    """Calls a registered ``frule`` from generated forward-mode code."""

    __slots__ = ()
    kind = "frule"

    def __call__(self, *args: Any, tangents: tuple = ()):
        full: list[Any] = [None] * len(args)
        for i, t in zip(self.positions, tangents):
            full[i] = t
        out, out_dot = self.rule(args, tuple(full))
        return out, (zeros_like(out) if out_dot is None else out_dot)


def checkpointed_loop(step: Callable, state: Any, n: int, *params: Any) -> Any:
    """``state = step(state, *params)`` repeated ``n`` times, differentiated in O(sqrt n) memory.

    Differentiating it keeps only every k-th state (k about sqrt(n)) in the forward
    pass; the pullback recomputes each segment of k steps, saving their pullbacks
    for that segment only, and runs back through it. Memory grows like sqrt(n)
    instead of n; each step runs twice.
    """
    for _ in range(n):
        state = step(state, *params)
    return state


@rrule(checkpointed_loop)
def _checkpointed_loop_rrule(step, state, n, *params):
    k = max(1, math.isqrt(n))
    saved = []
    for i in range(n):
        if i % k == 0:
            saved.append(state)
        state = step(state, *params)
    code = step.__code__
    vjp = VJP.of(step, tuple(code.co_varnames[: 1 + len(params)]))

    def checkpointed_loop_pullback(out_bar):
        state_bar, param_bars = out_bar, [zeros_like(p) for p in params]
        for seg in range(len(saved) - 1, -1, -1):
            s, pullbacks = saved[seg], []
            for _ in range(seg * k, min(n, seg * k + k)):  # recompute the segment, keeping its pullbacks
                s, pullback = vjp(s, *params)
                pullbacks.append(pullback)
            for pullback in reversed(pullbacks):
                bars = pullback(state_bar)
                state_bar = bars[0]
                param_bars = [add_bars(a, b) for a, b in zip(param_bars, bars[1:])]
        return (None, state_bar, None, *param_bars)

    return state, checkpointed_loop_pullback


class CheckpointHandle:
    """Runs a checkpointed function plainly; its pullback recomputes it with its vjp."""

    __slots__ = ("vjp",)

    def __init__(self, fn: Callable, wrt: tuple[str, ...]) -> None:
        self.vjp = VJP.of(fn, wrt)

    def __call__(self, *args: Any, **kwargs: Any):
        out = self.vjp.fun(*args, **kwargs)
        vjp = self.vjp

        def recompute_pullback(out_bar):
            return vjp(*args, **kwargs)[1](out_bar)

        return out, recompute_pullback

    def __repr__(self) -> str:
        return f"<s2sad checkpointed vjp of {self.vjp.fun.__qualname__}>"
