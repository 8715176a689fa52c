"""Pytrees: nested tuples, lists and dicts of arrays and floats, as JAX calls them.

A gradient with respect to a pytree argument has the argument's structure.
Dicts are walked in key order (sorted when the keys sort), as JAX does.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

__all__ = ["is_node", "leaves", "unflatten", "map_leaves", "differentiable"]


def is_node(x: Any) -> bool:
    """True for the containers a pytree is made of (tuple, list, dict)."""
    return isinstance(x, tuple | list | dict)


def _keys(d: dict) -> list:
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def leaves(x: Any) -> Iterator[Any]:
    """The leaves of ``x`` in a fixed order."""
    if isinstance(x, dict):
        for k in _keys(x):
            yield from leaves(x[k])
    elif isinstance(x, tuple | list):
        for item in x:
            yield from leaves(item)
    else:
        yield x


def unflatten(like: Any, items: Iterator[Any]) -> Any:
    """``like``'s structure with its leaves taken from ``items`` in ``leaves`` order."""
    if isinstance(like, dict):
        built = {k: unflatten(like[k], items) for k in _keys(like)}
        return {k: built[k] for k in like}
    if isinstance(like, tuple | list):
        parts = [unflatten(item, items) for item in like]
        if isinstance(like, list):
            return parts
        return type(like)(*parts) if hasattr(like, "_fields") else tuple(parts)
    return next(items)


def map_leaves(f: Callable[..., Any], x: Any, *rest: Any) -> Any:
    """``f`` applied leaf by leaf to ``x`` and trees of the same structure, in ``x``'s structure."""
    if isinstance(x, dict):
        return {k: map_leaves(f, x[k], *(r[k] for r in rest)) for k in x}
    if isinstance(x, tuple | list):
        items = [map_leaves(f, item, *(r[i] for r in rest)) for i, item in enumerate(x)]
        if isinstance(x, list):
            return items
        return type(x)(*items) if hasattr(x, "_fields") else tuple(items)
    return f(x, *rest)


def differentiable(value: Any) -> bool:
    """A float, a floating array, or a non-empty tuple, list or dict of them: a value with a gradient."""
    if is_node(value):
        items = list(leaves(value))
        return bool(items) and all(differentiable(v) for v in items)
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    return isinstance(value, float | np.floating)

