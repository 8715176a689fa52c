"""The rule-author API: custom reverse rules, non-differentiable functions, checkpointing.

A custom rule is called instead of transforming (or templating) the function it is
registered for; generated code calls it through a small handle, exactly like the
vjp/pullback pair of a user function:

    z, my_fn_pullback = my_fn_rrule_handle(x, y)   # forward
    x_bar, y_bar = my_fn_pullback(z_bar)           # pullback
"""

from __future__ import annotations

from typing import Any, Callable

from .cache import VJP
from .rules import NONDIFFERENTIABLE, RRULES
from .runtime import zeros_like

__all__ = ["rrule", "nondifferentiable", "checkpoint", "Checkpointed", "RRuleHandle", "CheckpointHandle"]


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


class RRuleHandle:
    """Calls a registered ``rrule`` and keeps the cotangents of the differentiated positions."""

    __slots__ = ("rule", "positions")

    def __init__(self, rule: Callable, positions: tuple[int, ...]) -> None:
        self.rule = rule
        self.positions = positions

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

    def __repr__(self) -> str:
        return f"<s2sad rrule {getattr(self.rule, '__qualname__', self.rule)}>"


class CheckpointHandle:
    """Runs a checkpointed function plainly; its pullback recomputes it with its vjp."""

    __slots__ = ("vjp",)

    def __init__(self, fn: Callable, wrt: tuple[str, ...]) -> None:
        self.vjp = VJP.of(fn, wrt)

    def __call__(self, *args: Any, **kwargs: Any):
        out = self.vjp.cache.fun(*args, **kwargs)
        vjp = self.vjp

        def recompute_pullback(out_bar):
            return vjp(*args, **kwargs)[1](out_bar)

        return out, recompute_pullback

    def __repr__(self) -> str:
        return f"<s2sad checkpointed vjp of {self.vjp.cache.fun.__qualname__}>"
