"""Entries: a pytree parameter read only at constant keys, read once per key at the function's entry.

A derivative made for the structure of a dict, list or tuple argument (``statics.Items``, the cache
key covers it) knows which keys it has. Where the function reads such a parameter only as
``params["W"]`` (anywhere, in loops too), each of those reads becomes one read at the entry,
``params_W = params["W"]``, and the reads themselves copies of it: a loop no longer reads the
dict on every iteration nor keeps what it read on its tape, and the parameter's cotangent is
built once, as the literal ``{"W": params_W_bar, ...}`` (``spread``), rather than by adding a
dict of zeros but one entry per read.
"""

from __future__ import annotations

from . import ir
from .naming import Namer
from .statics import Items

__all__ = ["spread_entries"]


def spread_entries(fn: ir.Function, facts: dict[str, object], namer: Namer) -> dict[str, list[tuple[object, str]]]:
    """Rewrite ``fn`` (in place) so that each parameter in ``facts`` read only at constant keys it has is
    read once per key at the entry; returns, per such parameter, its ``(key, name)`` reads."""
    out = {}
    for param, items in facts.items():
        if not isinstance(items, Items) or param not in fn.params.positional:
            continue
        reads = _constant_reads(fn.body, param, items)
        if reads is None:
            continue
        names: dict[object, str] = {}
        for s, key in reads:
            if key not in names:
                names[key] = namer.fresh(f"{param}_{key}" if isinstance(key, str) and key.isidentifier()
                                         else f"{param}_item")
            s.value = ir.Name(names[key])
        fn.body[0:0] = [ir.Assign(name, ir.Subscript(ir.Name(param), ir.Const(key)), fn.loc)
                        for key, name in names.items()]
        out[param] = list(names.items())
    return out


def _constant_reads(body: list[ir.Stmt], param: str, items: Items) -> list[tuple[ir.Assign, object]] | None:
    """The statements ``t = param[key]`` (a key ``items`` has, normalised), if ``param`` is read nowhere else."""
    reads: list[tuple[ir.Assign, object]] = []
    others = 0
    for s in ir.walk(body):
        key = _key(s, param, items)
        if key is not None and isinstance(s, ir.Assign):
            reads.append((s, key))
            continue
        others += sum(ir.names_read(e).count(param) for e in ir.exprs(s))
    return reads if reads and not others else None



def _key(s: ir.Stmt, param: str, items: Items) -> object:
    if not (isinstance(s, ir.Assign) and isinstance(s.target, str) and isinstance(s.value, ir.Subscript)
            and s.value.value == ir.Name(param) and isinstance(s.value.index, ir.Const)):
        return None
    key = s.value.index.value
    if items.kind != "dict":
        if type(key) is not int or not -len(items.keys) <= key < len(items.keys):
            return None
        return key % len(items.keys)
    return key if key in items.keys else None
