"""The transform cache: each function is transformed once per (wrt, argument types).

``Cache.entry(args)`` returns the loaded derivative for the types of ``args``,
transforming on a miss. User-facing caches (``grad``, ``vjp``) check that the
differentiated arguments are real floats and arrays; ``VJP`` objects, which
generated code calls for user functions, do not (cotangents follow whatever
flows).
"""

from __future__ import annotations

import types
import weakref

import numpy as np

from .frontend import parse_function

__all__ = ["Cache", "Entry", "VJP", "get_cache", "types_key"]

_SCALAR_TYPES = (float, int, bool, np.generic)
_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Entry:
    """One specialisation: the loaded vjp and fused grad functions."""

    __slots__ = ("vjp", "grad", "arrays", "generated")

    def __init__(self, generated, arrays: tuple[int, ...]) -> None:
        self.generated = generated
        self.vjp = generated.function
        self.grad = generated.grad_function
        self.arrays = arrays  # positions (into wrt) whose argument is an ndarray: dtype checked per call


def types_key(args: tuple) -> object:
    """The specialisation key: the argument types (spelled out for 1 and 2 arguments, which is faster)."""
    n = len(args)
    if n == 1:
        return type(args[0])
    if n == 2:
        return (type(args[0]), type(args[1]))
    return tuple(map(type, args))


class Cache:
    """Transforms of one function w.r.t. one set of parameters, by argument types.

    ``wrt`` is a tuple of positional indices (``argnums``, the user API) or of
    parameter names (calls from generated code).
    """

    def __init__(self, fun: types.FunctionType, wrt: tuple, strict: bool) -> None:
        self.fun = fun
        self.wrt = wrt
        self.strict = strict
        self.table: dict[object, Entry] = {}  # types_key(args) -> entry

    def entry(self, args: tuple) -> Entry:
        e = self.table.get(types_key(args))
        if e is None:
            e = self.table[types_key(args)] = self._specialize(args)
        for k in e.arrays:
            a = args[self.wrt[k]]
            if a.dtype.kind != "f":
                raise input_error(self.fun, self.wrt[k], a, f"an array of dtype {a.dtype}")
        return e

    def _specialize(self, args: tuple) -> Entry:
        from .transform import transform  # the pipeline imports this module's users

        code = self.fun.__code__
        positional = list(code.co_varnames[: code.co_argcount])
        arrays: tuple[int, ...] = ()
        if all(isinstance(i, int) for i in self.wrt):
            argnums = tuple(i % len(args) if -len(args) <= i < len(args) else i for i in self.wrt)
            for i in argnums:
                if i >= len(args):
                    raise TypeError(f"{self.fun.__qualname__} was called with {len(args)} positional "
                                    f"argument(s), but argnums={self.wrt!r} asks for argument {i}")
                a = args[i]
                if self.strict and not isinstance(a, np.ndarray) and (
                        isinstance(a, bool) or not isinstance(a, float | np.floating)):
                    raise input_error(self.fun, i, a, type(a).__name__)
            names = tuple(positional[i] for i in argnums)
            if self.strict:
                arrays = tuple(k for k, i in enumerate(argnums) if isinstance(args[i], np.ndarray))
        else:
            names = self.wrt
        scalars = frozenset(positional[i] for i, a in enumerate(args[: len(positional)])
                            if isinstance(a, _SCALAR_TYPES))
        return Entry(transform(self.fun, names, scalars), arrays)


def input_error(fun, i: int, a, what: str) -> TypeError:
    return TypeError(
        f"grad requires real-valued inputs (float, or an array of a floating dtype), but argument "
        f"{i} of {fun.__qualname__} is {what}. Pass a float (e.g. 2.0 rather than 2) or leave the "
        "argument out of argnums; containers of arrays (pytrees) and complex numbers are not supported yet."
    )


def get_cache(fun: types.FunctionType, wrt: tuple, strict: bool = True) -> Cache:
    """The one cache for ``fun`` and ``wrt``, shared by every caller."""
    parse_function(fun)  # fail now, when the transform is requested, for functions without source
    per_fun = _caches.setdefault(fun, {})
    key = (wrt, strict)
    if key not in per_fun:
        per_fun[key] = Cache(fun, wrt, strict)
    return per_fun[key]


class VJP:
    """The vjp of a user function w.r.t. some of its parameters, transformed on first call.

    Generated code binds one per callee (``g_vjp``) and calls it as
    ``z, g_pullback = g_vjp(a, b)``; recursion works because nothing is
    transformed until the first call.
    """

    __slots__ = ("cache",)

    def __init__(self, fun: types.FunctionType, wrt: tuple[str, ...]) -> None:
        self.cache = get_cache(fun, wrt, strict=False)

    def __call__(self, *args, **kwargs):
        return self.cache.entry(args).vjp(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<s2sad vjp of {self.cache.fun.__qualname__} w.r.t. {', '.join(self.cache.wrt)}>"
