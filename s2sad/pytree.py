"""Pytrees: nested tuples, lists, dicts, namedtuples and dataclasses of arrays and floats, as JAX calls them.

A gradient with respect to a pytree argument has the argument's structure (a namedtuple's or a
dataclass's type too). Dicts are walked in key order (sorted when the keys sort), as JAX does;
``None`` is a node without leaves; a dataclass's children are its fields but those marked static
(``data_fields``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

__all__ = ["is_node", "is_record", "data_fields", "with_fields", "leaves", "unflatten", "map_leaves", "differentiable",
           "TreeDef", "tree_leaves", "tree_flatten", "tree_unflatten", "tree_map", "ravel_pytree"]


def is_node(x: Any) -> bool:
    """True for the containers a pytree is made of: tuples (namedtuples too), lists, dicts and dataclass
    instances."""
    return isinstance(x, tuple | list | dict) or is_dataclass_instance(x)


def is_dataclass_instance(x: Any) -> bool:
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def is_record(x: Any) -> bool:
    """A namedtuple or a dataclass instance: a node whose children are read as attributes."""
    return (isinstance(x, tuple) and hasattr(x, "_fields")) or is_dataclass_instance(x)


def data_fields(x: Any) -> list[str]:
    """The fields of a record that are its children: a namedtuple's all, a dataclass's all but those marked
    static (``field(metadata={"static": True})``, or flax's ``pytree_node=False``): kept as they are, as
    JAX's ``register_dataclass`` keeps its meta fields."""
    if isinstance(x, tuple):
        return list(x._fields)  # type: ignore[attr-defined]  # (a namedtuple)
    return [f.name for f in dataclasses.fields(x)
            if not (f.metadata.get("static") or f.metadata.get("pytree_node", True) is False)]


def with_fields(x: Any, values: dict[str, Any]) -> Any:
    """A record like ``x`` with the fields in ``values`` replaced: a namedtuple made anew, a dataclass
    copied without running ``__init__`` (its static fields and any other attributes kept)."""
    if isinstance(x, tuple):
        return type(x)(*(values.get(f, v) for f, v in zip(x._fields, x)))  # type: ignore[attr-defined]
    out = copy.copy(x)
    for name, v in values.items():
        object.__setattr__(out, name, v)  # (frozen dataclasses too)
    return out


def _keys(d: dict) -> list:
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def leaves(x: Any) -> Iterator[Any]:
    """The leaves of ``x`` in a fixed order (``None`` is a node without leaves, as in JAX)."""
    found = _children(x)
    if found is None:
        yield x
    else:
        for child in found[0]:
            yield from leaves(child)


def unflatten(like: Any, items: Iterator[Any]) -> Any:
    """``like``'s structure with its leaves taken from ``items`` in ``leaves`` order."""
    found = _children(like)
    if found is None:
        return next(items)
    kids, rebuild = found
    return rebuild([unflatten(k, items) for k in kids])


def map_leaves(f: Callable[..., Any], x: Any, *rest: Any) -> Any:
    """``f`` applied leaf by leaf to ``x`` and trees of the same structure, in ``x``'s structure (a tree in
    ``rest`` may hold a list where ``x`` holds a tuple, or a tuple where ``x`` holds a record)."""
    found = _children(x)
    if found is None:
        return f(x, *rest)
    kids, rebuild = found
    others = [_children_like(r, x) for r in rest]
    return rebuild([map_leaves(f, k, *(o[i] for o in others)) for i, k in enumerate(kids)])


def _children_like(tree: Any, like: Any) -> list:
    """``tree``'s children in the order of ``like``'s (a dict by ``like``'s keys, a record by its fields)."""
    if isinstance(like, dict):
        return [tree[k] for k in _keys(like)]
    if is_record(like) and not isinstance(tree, tuple | list):
        return [getattr(tree, n) for n in data_fields(like)]
    if like is None:
        return []
    return list(tree)


def differentiable(value: Any) -> bool:
    """A float, a floating array, or a non-empty pytree of them: a value with a gradient."""
    if is_node(value):
        items = list(leaves(value))
        return bool(items) and all(differentiable(v) for v in items)
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    return isinstance(value, float | np.floating)


# The public tree utilities (JAX's): tuples, lists, dicts, namedtuples and dataclasses are nodes;
# None is a node with no children; anything else is a leaf.


def _children(x: Any) -> tuple[list, Callable[[list], Any]] | None:
    """A node's children in order and how to rebuild it from new ones; None for a leaf."""
    if x is None:
        return [], lambda _: None
    if isinstance(x, dict):
        keys = _keys(x)
        return [x[k] for k in keys], lambda cs: _in_order(x, dict(zip(keys, cs)))
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return list(x), lambda cs: type(x)(*cs)
    if isinstance(x, tuple | list):
        return list(x), type(x)
    if is_dataclass_instance(x):
        names = data_fields(x)
        return [getattr(x, n) for n in names], lambda cs: with_fields(x, dict(zip(names, cs)))
    return None


def _in_order(like: dict, d: dict) -> dict:
    return {k: d[k] for k in like}


class TreeDef:
    """The structure of a pytree without its leaves (``tree_flatten`` gives it, ``tree_unflatten`` fills it)."""

    __slots__ = ("_skeleton", "num_leaves")

    def __init__(self, tree: Any) -> None:
        count = iter(range(1 << 62))
        self._skeleton = _map(lambda leaf: _Leaf(next(count)), tree)
        self.num_leaves = sum(1 for _ in _walk(self._skeleton))

    def unflatten(self, items: list) -> Any:
        if len(items) != self.num_leaves:
            raise ValueError(f"the tree structure has {self.num_leaves} leaves, but {len(items)} were given")
        return _map(lambda leaf: items[leaf.index], self._skeleton)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeDef) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"TreeDef({_map(lambda leaf: _Leaf(None), self._skeleton)!r})"


class _Leaf:
    __slots__ = ("index",)

    def __init__(self, index: int | None) -> None:
        self.index = index

    def __repr__(self) -> str:
        return "*"


def _walk(x: Any) -> Iterator[Any]:
    found = _children(x)
    if found is None:
        yield x
    else:
        for child in found[0]:
            yield from _walk(child)


def _map(f: Callable[..., Any], x: Any, *rest: Any) -> Any:
    found = _children(x)
    if found is None:
        return f(x, *rest)
    kids, rebuild = found
    others = [_children(r) for r in rest]
    if any(o is None or len(o[0]) != len(kids) or type(r) is not type(x)
           or (isinstance(x, dict) and _keys(r) != _keys(x)) for o, r in zip(others, rest)):
        raise ValueError(f"tree_map: the trees have different structures: {TreeDef(x)} and "
                         f"{', '.join(map(repr, map(TreeDef, rest)))}")
    children = [o[0] for o in others if o is not None]
    return rebuild([_map(f, k, *(c[i] for c in children)) for i, k in enumerate(kids)])


def tree_leaves(tree: Any) -> list:
    """The leaves of ``tree`` in order (dict keys sorted; ``None`` is no leaf), as ``jax.tree_util.tree_leaves``."""
    return list(_walk(tree))


def tree_flatten(tree: Any) -> tuple[list, TreeDef]:
    """``(leaves, treedef)``: ``tree_unflatten(treedef, leaves)`` rebuilds ``tree``."""
    return tree_leaves(tree), TreeDef(tree)


def tree_unflatten(treedef: TreeDef, leaves: Iterable[Any]) -> Any:
    """The tree of ``treedef``'s structure holding ``leaves`` in order."""
    return treedef.unflatten(list(leaves))


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``f`` applied to each leaf of ``tree`` (and the matching subtrees of ``rest``, trees of its
    structure or with it as a prefix), in ``tree``'s structure."""
    return _map(f, tree, *rest)


def ravel_pytree(tree: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """``(flat, unravel)``: every leaf raveled into one 1-D array (of the leaves' common dtype) and the
    function taking such a vector back to ``tree``'s structure, shapes and leaf dtypes."""
    items, treedef = tree_flatten(tree)
    shapes = [np.shape(a) for a in items]
    kinds = [(type(a), np.result_type(a)) for a in items]
    sizes = [int(np.prod(s)) for s in shapes]
    dtype = np.result_type(*(k for _, k in kinds)) if items else np.dtype(np.float64)
    flat = np.concatenate([np.ravel(a).astype(dtype) for a in items]) if items else np.zeros(0, dtype)

    def unravel(vector: np.ndarray) -> Any:
        vector = np.asarray(vector)
        if vector.shape != flat.shape:
            raise ValueError(f"unravel expects a vector of shape {flat.shape}, got {vector.shape}")
        parts = np.split(vector, np.cumsum(sizes)[:-1]) if items else []
        return treedef.unflatten([_restore(p, s, k) for p, s, k in zip(parts, shapes, kinds)])

    return flat, unravel


def _restore(part: np.ndarray, shape: tuple, kind: tuple) -> Any:
    cls, dtype = kind
    if cls is np.ndarray or shape != ():
        return part.reshape(shape).astype(dtype, copy=True)
    return cls(part[0]) if cls in (float, int, bool, complex) or issubclass(cls, np.generic) else part[0]
