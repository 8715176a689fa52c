"""Wrappers: small generated functions adapting how generated code is called, loaded like generated code.

``tangents_first`` turns a generated jvp, which takes its tangents as keyword-only parameters, into a
function taking them as one tuple, first: the form a derivative of a jvp handle's call
(``g_jvp(a, tangents=(a_dot,))``) transforms (see ``linker.JVP.generic`` and ``nested``). ``load_wrapper``,
``fresh`` and ``unpack`` are the pieces ``nested`` writes its own wrappers with.
"""

from __future__ import annotations

import builtins
import inspect
import itertools
import linecache
import types
import weakref

from .load import load

__all__ = ["load_wrapper", "fresh", "unpack", "tangents_first"]

_serial = itertools.count(1)


def load_wrapper(name: str, what: str, lines: list[str], bindings: dict[str, object],
                 defaults: tuple | None = None, kwdefaults: dict | None = None) -> types.FunctionType:
    """``lines``, a function ``name`` reading ``bindings`` as closure cells, loaded under ``what``; its text
    stays in ``linecache`` as long as its code lives."""
    text = "\n".join([f"# s2sad: {what}", *lines]) + "\n"
    filename = f"<s2sad: {what} #{next(_serial)}>"
    cells = {k: types.CellType(v) for k, v in bindings.items()}
    fn = load(text, filename, name, {"__builtins__": builtins}, cells, defaults, kwdefaults)
    weakref.finalize(fn.__code__, linecache.cache.pop, filename, None).atexit = False
    return fn


def fresh(base: str, taken: set[str]) -> str:
    """``base``, or with a numeric suffix: a name not in ``taken`` (added to it)."""
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def unpack(names: list[str], value: str) -> str:
    """A line of a wrapper's body unpacking ``value`` into ``names``."""
    return f"    {', '.join(names)}{',' if len(names) == 1 else ''} = {value}"


def tangents_first(jvp: types.FunctionType, names: tuple[str, ...]) -> types.FunctionType:
    """The generated jvp ``jvp`` (its tangents the keyword-only parameters ``names``) as a function of
    ``(tangents, *args, **kwargs)``: what ``g_jvp(*args, tangents=tangents, **kwargs)`` computes."""
    params, passed = [], []
    star = False
    for p in inspect.signature(jvp).parameters.values():
        if p.name in names:
            continue
        if p.kind == p.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            passed.append(f"*{p.name}")
            star = True
        elif p.kind == p.KEYWORD_ONLY:
            params += [] if star else ["*"]
            star = True
            params.append(p.name)
            passed.append(f"{p.name}={p.name}")
        elif p.kind == p.VAR_KEYWORD:
            params.append(f"**{p.name}")
            passed.append(f"**{p.name}")
        else:
            params.append(p.name)
            passed.append(p.name)
    taken = {p.lstrip("*") for p in params} | set(names)
    tangents, callee = fresh("tangents", taken), fresh(jvp.__name__, taken)
    name = fresh(f"{jvp.__name__}_tangents_first", taken)
    lines = [f"def {name}({', '.join([tangents, *params])}):", unpack(list(names), tangents),
             f"    return {callee}({', '.join([*passed, *(f'{n}={n}' for n in names)])})"]
    kwdefaults = {k: v for k, v in (jvp.__kwdefaults__ or {}).items() if k not in names} or None
    return load_wrapper(name, f"{jvp.__name__} with its tangents first", lines, {callee: jvp}, jvp.__defaults__, kwdefaults)
