"""The rule-author API: custom reverse rules, non-differentiable functions, checkpointing.

A custom rule is called instead of transforming (or templating) the function it is
registered for; generated code calls it through a small handle (``linker.RRuleHandle``),
exactly like the vjp/pullback pair of a user function:

    z, my_fn_pullback = my_fn_rrule_handle(x, y)   # forward
    x_bar, y_bar = my_fn_pullback(z_bar)           # pullback

This module only records declarations; the handles, and the rule of ``checkpointed_loop``
(which calls a step's vjp), are run time: see ``linker``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .rules import FRULES, NONDIFFERENTIABLE, RRULES

__all__ = ["rrule", "frule", "nondifferentiable", "checkpoint", "checkpointed_loop", "Checkpointed"]


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
