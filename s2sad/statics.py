"""Static facts about values: what a derivative's argument types and shapes say a value is.

A derivative is made for the types (and, where that helps, the shapes) of its arguments,
and the cache key guarantees them. From them the analysis follows what each value is, through
tuple assignments, container literals, constant-key reads, loops and calls into user code
(a callee is analysed for what its caller passes). A *fact* is one of:

* ``SCALAR``: a Python or NumPy number (``float``, ``int``, ``bool``, ``np.generic``);
* a tuple of ints: an ``np.ndarray`` of exactly that shape;
* ``Items``: a ``tuple``, ``list`` or ``dict`` (exactly those types) with a fact per entry;
* ``OTHER``: none of those (a string, ``None``, a function, an object);
* ``None``: not known.

These are the categories a transform distinguishes (``cache.Cache._specialize``): a callee made
for facts is the transform a call with such arguments would make.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .pytree import is_node

__all__ = ["SCALAR", "OTHER", "Items", "of_value", "join", "unpacked", "entry", "SCALAR_TYPES", "param_facts",
           "nested", "MAX_NESTED"]

SCALAR, OTHER = "scalar", "other"
SCALAR_TYPES = (float, int, bool, np.generic)
_KINDS: dict[type, str] = {tuple: "tuple", list: "list", dict: "dict"}


@dataclass(frozen=True, slots=True)
class Items:
    """A tuple, list or dict: ``kind``, its keys (``0..n-1`` for a sequence) and a fact per entry."""

    kind: str
    keys: tuple
    facts: tuple

    def entry(self, key: object) -> object:
        """The fact of the entry at a constant ``key`` (None where there is none)."""
        if self.kind == "dict":
            return self.facts[self.keys.index(key)] if key in self.keys else None
        if type(key) is not int or not -len(self.facts) <= key < len(self.facts):
            return None
        return self.facts[key]

    def any_entry(self) -> object:
        """The fact every entry has (what a read with a key known only when it runs gives)."""
        if not self.facts:
            return None
        first = self.facts[0]
        return first if all(f == first for f in self.facts) else None


def of_value(v: Any) -> object:
    """The fact a value satisfies (exact: hashable, so it can key a cache)."""
    t = type(v)
    if t is np.ndarray:
        return v.shape
    kind = _KINDS.get(t)
    if kind == "dict":
        return Items(kind, tuple(v), tuple(of_value(x) for x in v.values()))
    if kind is not None:
        return Items(kind, tuple(range(len(v))), tuple(of_value(x) for x in v))
    if isinstance(v, SCALAR_TYPES):
        return SCALAR
    if is_node(v):
        return None  # a namedtuple, an OrderedDict, a dataclass, ...: a pytree node, not specialised on
    return OTHER


def join(a: object, b: object) -> object:
    """What is known of a value that is ``a`` on one path and ``b`` on another."""
    if a == b:
        return a
    if isinstance(a, Items) and isinstance(b, Items) and a.kind == b.kind and a.keys == b.keys:
        return Items(a.kind, a.keys, tuple(join(x, y) for x, y in zip(a.facts, b.facts)))
    return None


def unpacked(fact: object, n: int) -> tuple | None:
    """The facts of the ``n`` values a tuple or list unpacks into (None if not known)."""
    if isinstance(fact, Items) and fact.kind != "dict" and len(fact.facts) == n:
        return fact.facts
    return None


def entry(fact: object, key: object) -> object:
    """The fact of ``value[key]`` for a constant key (``ANY``: a key known only when the code runs, an
    int for a tuple or list)."""
    if not isinstance(fact, Items):
        return None
    return fact.any_entry() if key is ANY else fact.entry(key)


ANY = object()  # an index known to be an int, but only when the code runs


def param_facts(fun: types.FunctionType, signature: tuple) -> tuple[frozenset, frozenset, dict, dict]:
    """``transform``'s ``scalars``, ``trees``, ``dims`` and ``facts`` for positional arguments of the facts
    ``signature``: what a call with such arguments specialises to."""
    positional = fun.__code__.co_varnames[: fun.__code__.co_argcount]
    named = list(zip(positional, signature))
    return (frozenset(n for n, f in named if f == SCALAR), frozenset(n for n, f in named if isinstance(f, Items)),
            {n: f for n, f in named if isinstance(f, tuple)}, {n: f for n, f in named if isinstance(f, Items)})


# what is being analysed or transformed for the facts of its arguments: a call back into one of them
# (recursion) is left to the handles, which pick a derivative when the call runs
_in_progress: set = set()
MAX_NESTED = 12  # callees analysed or transformed within one another for their arguments' facts


@contextlib.contextmanager
def nested(key: tuple) -> Iterator[bool]:
    """Enter the analysis or transform ``key`` of a callee for its arguments' facts: False (and nothing
    entered) where it is already under way (a recursive call) or too many are nested."""
    if key in _in_progress or len(_in_progress) >= MAX_NESTED:
        yield False
        return
    _in_progress.add(key)
    try:
        yield True
    finally:
        _in_progress.discard(key)
