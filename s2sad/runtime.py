"""Helpers that generated code calls by name; each is small, documented NumPy.

Generated code uses these only where an inline template would be wrong for some
input shape: ``unbroadcast`` where operand shapes may differ, ``unreduce`` to send
a reduction's cotangent back over the reduced axes, and the ``dot``/``matmul``
adjoints whose form depends on operand rank.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable

import numpy as np

from .errors import S2SADSyntaxError
from .load import LINEMAPS
from .pytree import data_fields, differentiable, is_dataclass_instance, is_record, map_leaves, with_fields

__all__ = [
    "unbroadcast", "unreduce", "zeros_like", "dot_lhs_adjoint", "dot_rhs_adjoint",
    "matmul_lhs_adjoint", "matmul_rhs_adjoint", "tuple_adjoint", "getitem_adjoint", "add_bars", "scalar_seed",
    "setitem_adjoint", "setitem_value_adjoint", "rebound_input", "immutable", "check_cast", "list_tail_adjoint",
    "list_pop_adjoint", "snapshot", "shape_like", "add_at", "overwritten_like", "written_at",
    "setitem_jvp", "list_pop_jvp", "list_jvp", "sequence", "sequence_adjoint", "items_adjoint", "values_adjoint",
    "get_adjoint", "get_default_adjoint", "get_jvp", "tolist_adjoint", "tolist_jvp", "repeat_adjoint", "mul_adjoint", "add_adjoint", "add_transpose",
    "captures_adjoint", "throw", "broadcast_like", "tail_into", "sequence_like", "items_like", "values_like",
    "repeat_like", "captured_adjoint", "captured_cotangent", "set_global", "caught_exception", "field_adjoint",
    "field_tangent", "field_of", "record_jvp", "split_star", "split_kwargs", "join_star", "join_kwargs", "float_primals",
    "unit_tangent", "jacobian_column",
]


def throw(exc=None, cause=None):
    """``raise exc from cause`` (generated code prints it as that statement)."""
    raise exc from cause


def caught_exception():
    """The exception the ``except`` block around the call is handling (``except E as e``)."""
    return sys.exc_info()[1]


def set_global(namespace: dict, name: str, value) -> None:
    """``global name; name = value``: the write to the module's globals."""
    namespace[name] = value


def scalar_seed(out) -> float:
    """The cotangent ``1.0`` that starts ``grad``, after checking that ``out`` is a real scalar.

    A Python float seed keeps float32 outputs float32 (NumPy treats it as weak).
    """
    if type(out) is float:
        return 1.0
    shape = np.shape(out)
    if shape != ():
        raise TypeError(f"Gradient only defined for scalar-output functions. Output had shape: {shape}.")
    kind = np.asarray(out).dtype.kind
    if kind != "f":
        raise TypeError("grad requires real-valued outputs (a float, or an array of a floating dtype), "
                        f"but the output is {type(out).__name__} (dtype kind {kind!r}).")
    return 1.0


def unbroadcast(g, x):
    """Sum ``g`` over the axes NumPy broadcasting added or stretched to reach ``x``'s shape."""
    if type(g) is np.ndarray and type(x) is np.ndarray:  # the common case, without np.shape's conversions
        shape, gshape = x.shape, g.shape
        if gshape == shape:
            return g
    elif isinstance(x, list | tuple | dict):
        return _container_bar(g, x)
    else:
        shape, gshape = np.shape(x), np.shape(g)
        if gshape == shape:
            return g
        g = np.asarray(g)
    lead = len(gshape) - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    if not stretched:  # the method, not np.sum: half the call overhead on small arrays
        return g.sum(axis=tuple(range(lead)))
    if not lead:
        return g.sum(axis=stretched, keepdims=True)
    return g.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


def _container_bar(g, x):
    """A container's cotangent passes through arithmetic's ``unbroadcast`` only unchanged: a list
    that met ``+`` or ``*`` as an array would was joined or repeated, which s2sad must not
    differentiate as arithmetic."""
    if not isinstance(g, list | tuple) or (type(g) is type(x) and len(g) == len(x)):
        return g
    raise TypeError(
        f"s2sad differentiated an operator as array arithmetic, but its operand is a {type(x).__name__} "
        "(joined or repeated, not added or multiplied); build the list so that s2sad can see it is one "
        "(a list literal, list(...)), or use np.concatenate / np.stack for arrays")


def unreduce(g, x, axis=None, keepdims=False):
    """Broadcast a reduction's cotangent ``g`` back to the shape of its input ``x``."""
    if axis is not None and not keepdims and np.ndim(g):
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(x))


_DICT_VIEWS: tuple[type[Iterable], ...] = (type({}.items()), type({}.values()), type({}.keys()))


def zeros_like(x):
    """A zero cotangent for ``x``: ``0.0`` for Python numbers, zeros of the same shape and
    dtype for arrays, the same structure for tuples, lists and dicts."""
    if isinstance(x, float | int):
        return 0.0
    if x is None or isinstance(x, str | bytes):
        return None  # a dict key or a missing entry: no cotangent
    if isinstance(x, tuple | list):
        return rebuild(x, [zeros_like(v) for v in x])
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
    if isinstance(x, _DICT_VIEWS):  # as ``sequence_adjoint`` gives it: a list, one entry per item
        return [zeros_like(v) for v in x]
    if is_dataclass_instance(x):
        return with_fields(x, {f: zeros_like(getattr(x, f)) for f in data_fields(x)})
    if callable(x):
        return {}  # a function's cotangent: a dict over what it captured (nothing yet)
    if isinstance(x, np.generic):
        return x.dtype.type(0)
    return np.zeros_like(x)


def captures_adjoint(g, fn):
    """The cotangent of the function ``fn`` from the cotangent ``g`` of a derivative function made
    from it, a dict over what that read of ``fn``'s captures: an entry for each capture of ``fn``."""
    cells = zip(fn.__code__.co_freevars, fn.__closure__ or ())
    return {name: g[name] if name in g else zeros_like(cell.cell_contents) for name, cell in cells}


def captured_adjoint(g, name, like):
    """The cotangent of what a function value captured as ``name`` (its value now: ``like``), from
    the function's cotangent ``g``: a dict without the entry where the function was not called."""
    return g[name] if name in g else zeros_like(like)


def captured_cotangent(h, g, name):
    """The cotangent of ``g``, a function value's cotangent, in ``captured_adjoint(g, name, like)``: ``h`` at
    ``name`` and zeros at ``g``'s other entries (every entry a reader of ``g`` may read), or zeros where
    ``g`` has no entry ``name`` (the read gave a constant zero)."""
    return {k: h if k == name else zeros_like(v) for k, v in g.items()}


def rebuild(like, parts):
    """``parts`` in the container type of ``like`` (list, tuple, or a named tuple such as SlogdetResult)."""
    if isinstance(like, list):
        return list(parts)
    if hasattr(like, "_fields"):
        return type(like)(*parts)
    return tuple(parts)


def add_bars(a, b):
    """Sum two cotangents of a container (tuple, list, dict) entry by entry."""
    if isinstance(a, dict):  # a missing entry is a zero
        return {k: add_bars(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in {**a, **b}}
    if a is None or b is None:  # the cotangent of a key: none
        return b if a is None else a
    if isinstance(a, tuple | list):  # (a list's zero may be made from it after it grew: its tail is zeros)
        if len(a) != len(b) and not all(map(_zero, [*a[len(b):], *b[len(a):]])):
            raise _unlike(f"lists of {len(a)} and {len(b)} entries")
        return rebuild(a, [add_bars(x, y) for x, y in zip(a, b)])
    if is_dataclass_instance(a):
        return with_fields(a, {f: add_bars(getattr(a, f), getattr(b, f)) for f in data_fields(a)})
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape != b.shape:
        raise _unlike(f"arrays of shapes {a.shape} and {b.shape}")
    return a + b


def _zero(v) -> bool:
    """Is the cotangent ``v`` zero (None, a zero number or array, a container of zeros)?"""
    if isinstance(v, dict):
        return all(map(_zero, v.values()))
    if isinstance(v, tuple | list):
        return all(map(_zero, v))
    return v is None or not np.any(v)


def _unlike(what: str) -> AssertionError:
    """Two cotangents of one value are alike (arrays of its shape, lists of its length): adding unlike ones
    would broadcast or drop entries silently, so s2sad stops instead."""
    return AssertionError(f"s2sad internal error: two cotangents of one value are {what}; please report it "
                          "with the function differentiated")


# ----- calls with * and **: the cotangents of the arguments, split back into what was passed -----


def split_star(args_bar, like):
    """``args_bar`` (one cotangent per positional argument of ``f(a, *xs, b)``) as one per operand:
    ``like`` holds None for a plain one, the sequence itself for a starred one (its cotangent is one of its kind)."""
    out, k = [], 0
    for seq in like:
        if seq is None:
            out.append(args_bar[k])
            k += 1
        else:
            n = len(seq)
            part = args_bar[k:k + n]
            out.append(np.stack(part) if isinstance(seq, np.ndarray) else rebuild(seq, part))
            k += n
    return tuple(out)


def split_kwargs(kwargs_bar, like):
    """``kwargs_bar`` (a dict over the keywords of ``f(k=v, **kw)``) as one cotangent per operand: ``like``
    holds the keyword for a named one, the mapping itself for a ``**`` one (its cotangent is a dict)."""
    return tuple(kwargs_bar[key] if isinstance(key, str) else {k: kwargs_bar[k] for k in key} for key in like)


def join_star(parts, like):
    """The transpose of ``split_star``: one cotangent per operand of ``f(a, *xs, b)`` (``like`` as there) as
    one per positional argument."""
    out: list = []
    for part, seq in zip(parts, like):
        if seq is None:
            out.append(part)
        else:
            out.extend(part)  # (a tuple's or list's entries, an array's rows)
    return tuple(out)


def join_kwargs(parts, like):
    """The transpose of ``split_kwargs``: one cotangent per operand of ``f(k=v, **kw)`` as a dict over the
    keywords."""
    out: dict = {}
    for part, key in zip(parts, like):
        out.update({key: part} if isinstance(key, str) else part)
    return out


# ----- records: namedtuples and dataclasses, read by attribute -----


def field_adjoint(g, x, name):
    """Cotangent of ``x`` in ``x.name``: ``x``'s record type, ``g`` in the field and zeros elsewhere."""
    if is_record(x) and name in data_fields(x):
        return with_fields(zeros_like(x), {name: g})
    if is_dataclass_instance(x) and name in {f.name for f in dataclasses.fields(x)}:
        return zeros_like(x)  # a static field: no gradient
    raise TypeError(_not_a_field(x, name))


def field_tangent(x_dot, x, name):
    """Tangent of ``x.name`` from ``x``'s tangent ``x_dot`` (a record of its type, or a tuple for a namedtuple)."""
    if is_record(x) and name in data_fields(x):
        return getattr(x_dot, name) if is_record(x_dot) else x_dot[x._fields.index(name)]
    if is_dataclass_instance(x) and name in {f.name for f in dataclasses.fields(x)}:
        return zeros_like(getattr(x, name))  # a static field
    raise TypeError(_not_a_field(x, name))


def _not_a_field(x, name):
    if isinstance(x, np.ndarray):
        return (f"s2sad has no derivative rule for the array attribute .{name}, and a gradient flows through it: "
                "compute it with NumPy functions instead")
    what = "a property or method" if hasattr(type(x), name) else "an attribute that is not a field"
    return (f"s2sad differentiates reading a field of a namedtuple or a dataclass (a pytree), but .{name} of this "
            f"{type(x).__name__} is {what if is_record(x) else 'not one of those'}, and a gradient flows through it: "
            "read the fields it is computed from instead, or register a rule for a function that reads it")


def field_of(g, name, index):
    """The cotangent of field ``name`` (at ``index``) of a record, from the record's cotangent ``g``."""
    if g is None:
        return None
    if isinstance(g, tuple | list):
        return g[index]
    if is_dataclass_instance(g) and name not in data_fields(g):
        return zeros_like(getattr(g, name))  # a static field
    return getattr(g, name)


def record_jvp(ans, names, *dots):
    """The tangent of the record ``ans`` made from arguments with tangents ``dots`` for fields ``names``
    (None: a zero)."""
    return with_fields(zeros_like(ans), {n: d for n, d in zip(names, dots) if d is not None and n in data_fields(ans)})


def tuple_adjoint(like, *parts):
    """The cotangent of a value that was unpacked into ``parts``: same container as ``like``."""
    if isinstance(like, np.ndarray):
        return np.stack(parts)
    return rebuild(like, parts)


def getitem_adjoint(g, x, index):
    """Cotangent of ``x`` in ``x[index]``: ``g`` placed at ``index`` in zeros.

    Duplicate integer indices accumulate (``np.add.at``), as each read contributed.
    """
    if isinstance(x, dict):
        return {k: g if k == index else zeros_like(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        parts = [zeros_like(v) for v in x]
        if isinstance(index, slice):
            for i, gi in zip(range(*index.indices(len(x))), g):
                parts[i] = gi
        else:
            parts[index] = g
        return rebuild(x, parts)
    out = np.zeros(np.shape(x), np.result_type(x, g))
    if _is_basic(index):
        out[index] = g  # basic indexing selects each element at most once
    else:
        np.add.at(out, index, g)
    return out


def add_at(buffer, g, index):
    """``buffer[index] += g``, in place, with duplicate indices accumulating; returns ``buffer``.

    Used only on cotangent buffers the pullback created and no other name references.
    """
    if type(buffer) is np.ndarray and (type(index) is int or _is_basic(index)):  # an int: the common case
        buffer[index] += g
    elif isinstance(buffer, np.ndarray):
        np.add.at(buffer, index, g)
    elif (type(buffer) is dict and index in buffer) or (type(buffer) is list and type(index) is int):
        entry = buffer[index]  # a pytree's cotangent: the one entry changes (the others stay zeros)
        if type(entry) is np.ndarray and type(g) is np.ndarray and entry.shape == g.shape \
                and np.can_cast(g.dtype, entry.dtype, "same_kind"):
            entry += g  # (the buffer's own array: made by zeros_like, or a copy below)
        else:
            entry = add_bars(entry, g)
            buffer[index] = entry.copy() if entry is g and type(g) is np.ndarray else entry
    else:
        return add_bars(buffer, getitem_adjoint(g, buffer, index))
    return buffer


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, int | slice | type(None) | type(Ellipsis)) for p in parts)


# ----- dot and matmul: the adjoint's form depends on operand rank -----


def dot_lhs_adjoint(g, a, b):
    """Cotangent of ``a`` in ``np.dot(a, b)``."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 0 or b_nd == 0:
        return unbroadcast(g * b, a)
    if b_nd == 1:
        return np.multiply.outer(g, b)
    return np.tensordot(g, b, axes=(list(range(a_nd - 1, np.ndim(g))), [*range(b_nd - 2), b_nd - 1]))


def dot_rhs_adjoint(g, a, b):
    """Cotangent of ``b`` in ``np.dot(a, b)``."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 0 or b_nd == 0:
        return unbroadcast(g * a, b)
    if b_nd == 1:
        return np.tensordot(g, a, axes=(list(range(np.ndim(g))), list(range(a_nd - 1))))
    t = np.tensordot(a, g, axes=(list(range(a_nd - 1)), list(range(a_nd - 1))))
    return np.moveaxis(t, 0, -2)


def matmul_lhs_adjoint(g, a, b):
    """Cotangent of ``a`` in ``a @ b`` (batch dimensions broadcast)."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if b_nd == 1:
        return unbroadcast(g * b if a_nd == 1 else np.multiply.outer(g, b), a)
    if a_nd == 1:
        return unbroadcast((b @ g[..., None])[..., 0], a)
    return unbroadcast(g @ np.swapaxes(b, -1, -2), a)


def matmul_rhs_adjoint(g, a, b):
    """Cotangent of ``b`` in ``a @ b`` (batch dimensions broadcast)."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 1 and b_nd == 1:
        return g * a
    if a_nd == 1:
        return unbroadcast(a[:, None] * g[..., None, :], b)
    if b_nd == 1 and a_nd == 2:
        return a.T @ g  # matrix-vector: one gemv
    if b_nd == 1:
        return unbroadcast((np.swapaxes(a, -1, -2) @ g[..., None])[..., 0], b)
    return unbroadcast(np.swapaxes(a, -1, -2) @ g, b)


# ----- in-place writes -----


def check_cast(value, a, casting):
    """Raise as NumPy does where a write into ``a`` (``np.copyto``, ``out=``, ``np.putmask``,
    ``np.place``) cannot cast ``value`` (an array, or a number for ``same_kind``) to ``a``'s dtype by the
    rule ``casting``: ``a[...] = v``, which s2sad lowers it to, would cast anything."""
    if isinstance(a, np.ndarray) and (isinstance(value, np.ndarray) or casting != "safe") \
            and not np.can_cast(np.result_type(value), a.dtype, casting):
        raise TypeError(f"Cannot cast array data from {np.result_type(value)!r} to {a.dtype!r} according to the "
                        f"rule {casting!r}")


def rebound_input(x):
    """``x`` where ``x op= v`` meets memory that came from an argument: a number or a tuple is rebound,
    as Python does; an array, list or dict would be changed in place, and s2sad never mutates inputs:
    refused at the user's line, as reverse mode refuses it where it knows the argument is an array."""
    if isinstance(x, np.ndarray | list | dict):
        _refuse(f"this `x op= v` writes into {type(x).__name__} memory that came from an argument or a global and "
                "carries a gradient; s2sad never mutates your inputs. Copy it first (x = x.copy())")
    return x


def immutable(x):
    """``x``, checked to be a value nothing changes in place (a number, a string, ``None``, or a tuple of
    those): s2sad took ``x op= v`` on it for the rebinding it is on a number, or a call of a function that
    may write into what it is given for one that cannot write into ``x``. Otherwise it raises at the
    user's line: another name for ``x`` (or a container holding it) is read afterwards."""
    if not _unchangeable(x):
        _refuse(f"this changes a {type(x).__name__} in place here (s2sad could not tell it from a number before it "
                "ran), and a name that shares memory with it, or a list or tuple holding it, is read afterwards; "
                "s2sad cannot follow that. Copy it first (.copy()), or compute a new value (x = x + v)")
    return x


def _refuse(message: str):
    """Raise ``S2SADSyntaxError`` at the user's line of the generated code calling the caller."""
    caller = sys._getframe(2)
    loc = (LINEMAPS.get(caller.f_code.co_filename) or {}).get(caller.f_lineno)
    if loc is None:
        raise TypeError(message)
    raise S2SADSyntaxError(message, loc)


def _unchangeable(x) -> bool:
    if isinstance(x, tuple):
        return all(map(_unchangeable, x))
    return x is None or isinstance(x, int | float | complex | str | bytes | np.generic)


def snapshot(x):
    """A copy of ``x`` as it is now, for the pullback, when a later write would change it."""
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, list):
        return list(x)
    if isinstance(x, dict):
        return dict(x)
    return x


_STAND_INS: dict[tuple, np.ndarray] = {}  # (shape, dtype) -> its stand-in


def shape_like(x):
    """``x`` for a reader of its shape and dtype only (``unbroadcast``, ``getitem_adjoint``, ...), kept by a
    loop's tape instead of ``x``: for an array, a read-only array of its shape and dtype holding one zero
    (shared by every array of that shape and dtype), so the tape neither keeps ``x`` alive nor sees later
    writes into it; anything else as it is."""
    if type(x) is not np.ndarray:
        return x
    key = (x.shape, x.dtype)
    stand_in = _STAND_INS.get(key)
    if stand_in is None:
        if len(_STAND_INS) >= 256:
            _STAND_INS.clear()
        stand_in = _STAND_INS[key] = np.broadcast_to(np.zeros((), x.dtype), x.shape)
    return stand_in


def overwritten_like(x, index):
    """What ``x[index] = v`` overwrites in a list or dict, as the derivative reads it, taken before the write:
    ``(len(x), a stand-in of x[index])`` (its arrays ``shape_like``), or ``(len(x),)`` where a dict has no such
    key; None for an array (a write keeps its shape). A copy of ``x`` would grow with ``x``: this does not."""
    if not isinstance(x, list | dict):
        return None
    if isinstance(x, dict) and index not in x:
        return (len(x),)
    return len(x), map_leaves(shape_like, x[index])  # (its structure: a later write cannot change it)


def written_at(g, index, was):
    """Where ``x[index] = v`` put ``v`` in the list or dict after it, whose cotangent is ``g`` (``was``: what
    ``overwritten_like`` took): a list's slice of step 1 may have been replaced by more or fewer entries."""
    if isinstance(g, list) and isinstance(index, slice) and index.step in (None, 1):
        start, stop, _ = index.indices(was[0])
        return slice(start, start + len(g) - was[0] + max(stop - start, 0))
    return index


def setitem_adjoint(g, index, was=None):
    """Cotangent of the array, list or dict before ``x[index] = v``: the written entries got overwritten.

    A list's or dict's entry may change shape or kind (or a dict gain a key, a list's slice be replaced
    by more or fewer entries): the written entries' zero is one of what they held before the write
    (``was``, see ``overwritten_like``; none for a key the dict lacked), not of what ``g`` holds there.
    """
    if isinstance(g, dict | list):
        out = snapshot(g)
        if len(was) == 1:
            out.pop(index, None)
        else:
            out[written_at(g, index, was)] = zeros_like(was[1])
        return out
    out = np.array(g, copy=True)
    out[index] = 0.0
    return out


def setitem_value_adjoint(g, index, was=None):
    """Cotangent of ``v`` in ``x[index] = v``: what reached the written entries (``was``, for a list or
    dict: see ``setitem_adjoint``).

    With a repeated integer index NumPy keeps the last write, so only the entries of
    ``v`` that survived receive the cotangent: found by making the same write of each
    entry's position and reading back which one each written place kept.
    """
    if isinstance(g, dict | list):
        return g[written_at(g, index, was)]
    part = np.array(g[index], copy=True)
    parts = index if isinstance(index, tuple) else (index,)
    arrays = [np.asarray(p) for p in parts if not isinstance(p, slice | type(None) | type(Ellipsis))]
    if part.ndim and any(a.dtype.kind in "iu" and a.ndim > 0 for a in arrays):
        order = np.arange(part.size).reshape(part.shape)
        kept = np.zeros(np.shape(g), np.intp)
        kept[index] = order
        part[kept[index] != order] = 0.0
    return part


def list_tail_adjoint(g, items):
    """Cotangent of ``items`` in ``xs.extend(items)``: the last ``len(items)`` entries of the list's."""
    tail = g[len(g) - len(items):]
    if isinstance(items, np.ndarray):
        return np.stack(tail) if tail else np.zeros_like(items)
    return type(items)(tail) if isinstance(items, list | tuple) else tail


def list_pop_adjoint(g, popped_bar, popped, index=-1):
    """Cotangent of the list before ``v = xs.pop(index)``: ``v``'s cotangent goes back in its place."""
    out = list(g)
    item = popped_bar if popped_bar is not None else zeros_like(popped)
    if index == -1 or index >= len(out):
        out.append(item)
    else:
        out.insert(index if index >= 0 else len(out) + index + 1, item)
    return out


def sequence(x):
    """What a ``for`` loop iterates, as something it can index: a list, tuple or array as it is;
    a dict (its keys), a dict view or an iterator as a list."""
    if isinstance(x, list | tuple | np.ndarray):
        return x
    return list(x)


def sequence_adjoint(g, x):
    """Cotangent of ``x`` in ``list(x)``, ``tuple(x)`` or ``sequence(x)``, from ``g`` (one entry per item)."""
    if isinstance(x, dict):
        return zeros_like(x)  # iterating a dict gives its keys
    if isinstance(x, np.ndarray):
        g = np.asarray(g, dtype=x.dtype if x.dtype.kind == "f" else None)
        return g.reshape(x.shape)
    if isinstance(x, list | tuple):
        return rebuild(x, g)
    return list(g)  # a dict view's cotangent: a list, one entry per item


def _dict_of(method, d):
    if not isinstance(d, dict):
        raise TypeError(f"s2sad differentiates .{method}() of a dict, not of a {type(d).__name__}; "
                        "register a rule for it with @s2sad.rrule")
    return d


def items_adjoint(g, d):
    """Cotangent of the dict ``d`` from ``g``, that of ``d.items()``: a list of ``(key, value)`` cotangents."""
    return {k: zeros_like(v) if gi is None else gi[1] for (k, v), gi in zip(_dict_of("items", d).items(), g)}


def values_adjoint(g, d):
    """Cotangent of the dict ``d`` from ``g``, that of ``d.values()``: a list of value cotangents."""
    return dict(zip(_dict_of("values", d), g))


def merged(parts):
    """``{**a, 'k': v, **b}`` and ``dict(a, k=v)``: one dict of the entries of ``parts`` (dicts, or
    lists or tuples of pairs, as ``dict`` takes them), a later entry replacing an earlier one's."""
    out = {}
    for part in parts:
        out.update(part)
    return out


def _entries(part) -> list:
    """The ``(key, value)`` entries of a part of ``merged``: a dict's items, or a list's or tuple's pairs."""
    if isinstance(part, dict):
        return list(part.items())
    if isinstance(part, list | tuple):
        return [tuple(pair) for pair in part]
    raise TypeError(f"s2sad differentiates dict() and ** of dicts and of lists or tuples of pairs, not of a "
                    f"{type(part).__name__}; make a list of it first (list(...))")


def merged_adjoint(g, parts):
    """Cotangents of ``parts`` in ``merged(parts)``: each entry's to the entry that was kept (a replaced
    one's is zero; a key's is None)."""
    entries = [_entries(part) for part in parts]
    kept = {k: (i, j) for i, es in enumerate(entries) for j, (k, _) in enumerate(es)}
    out = []
    for i, (part, es) in enumerate(zip(parts, entries)):
        bars = [g[k] if kept[k] == (i, j) and g.get(k) is not None else zeros_like(v) for j, (k, v) in enumerate(es)]
        out.append(dict(zip(part, bars)) if isinstance(part, dict)
                   else rebuild(part, [rebuild(pair, [None, b]) for pair, b in zip(part, bars)]))
    return tuple(out)


def merged_jvp(dots, parts):
    """Tangent of ``merged(parts)`` from the parts' tangents ``dots``; the transpose of ``merged_adjoint``."""
    out = {}
    for part, dot in zip(parts, dots):
        for j, (k, v) in enumerate(_entries(part)):
            t = dot[k] if isinstance(part, dict) else dot[j][1]
            out[k] = zeros_like(v) if t is None else t
    return out


def zipped(xs):
    """``zip(*xs)`` as a value (``a, b = zip(*pairs)``, ``list(zip(a, b))``, ``enumerate(zip(a, b))``): the
    list of its tuples, so that it can be read again (a ``for`` over ``zip`` reads the sequences directly)."""
    return list(zip(*xs))


def unzipped(g, xs):
    """Cotangents of the sequences ``xs`` in ``zipped(xs)``: each tuple's entries back to the items they
    came from (zeros for the items past the shortest sequence)."""
    out = []
    for i, x in enumerate(xs):
        if not isinstance(x, list | tuple | np.ndarray | dict):  # (an iterator zip read is spent)
            raise TypeError(f"s2sad differentiates zip of lists, tuples and arrays, not of a {type(x).__name__}; "
                            "make a list of it first (list(...))")
        items = sequence(x)
        parts = [g[k][i] if k < len(g) and g[k] is not None and g[k][i] is not None else zeros_like(items[k])
                 for k in range(len(items))]
        out.append(sequence_adjoint(parts, x))
    return tuple(out)


def dict_adjoint(g, d):
    """Cotangent of ``d`` in ``dict(d)``."""
    return merged_adjoint(g, (d,))[0]


def dict_jvp(dot, d):
    """Tangent of ``dict(d)``; the transpose of ``dict_adjoint``."""
    return merged_jvp((dot,), (d,))


def get_adjoint(g, d, key):
    """Cotangent of ``d`` in ``d.get(key, default)``."""
    if key in _dict_of("get", d):
        return getitem_adjoint(g, d, key)
    return zeros_like(d)


def get_default_adjoint(g, d, key, default):
    """Cotangent of ``default`` in ``d.get(key, default)``: all of ``g`` when the key is missing."""
    return zeros_like(default) if key in d else g


def tolist_adjoint(g, x):
    """Cotangent of the array ``x`` in ``x.tolist()`` (``g``: nested lists of numbers)."""
    if not isinstance(x, np.ndarray | np.generic):
        raise TypeError(f"s2sad differentiates .tolist() of arrays, not of a {type(x).__name__}")
    return np.asarray(g, dtype=x.dtype if x.dtype.kind == "f" else None).reshape(np.shape(x))


def add_adjoint(g, x, y):
    """Cotangents of ``x`` and ``y`` in ``x + y``: the two parts of ``g`` where lists or tuples are joined,
    else ``g`` summed to each operand's shape."""
    if isinstance(x, list | tuple) and isinstance(y, list | tuple):
        return g[:len(x)], g[len(x):]
    return unbroadcast(g, x), unbroadcast(g, y)


def add_transpose(h, x, y):
    """The transpose of ``add_adjoint(., x, y)``: the parts ``h`` joined where ``x`` and ``y`` are lists or
    tuples, else added (each broadcast back to the sum's shape)."""
    if isinstance(x, list | tuple) and isinstance(y, list | tuple):
        return (list if isinstance(x, list) else tuple)([*h[0], *h[1]])  # (the type x + y has)
    return h[0] + h[1]


def mul_adjoint(g, x, n):
    """Cotangent of ``x`` in ``x * n`` for an int ``n``: repetition when ``x`` is a list or tuple."""
    return repeat_adjoint(g, x) if isinstance(x, list | tuple) else g * n


def repeat_adjoint(g, xs):
    """Cotangent of ``xs`` in ``xs * n`` (a list or tuple repeated): the sum over the copies."""
    n = len(xs)
    out = g[:n]
    for start in range(n, len(g), n):
        out = add_bars(out, g[start:start + n])
    return out if n and len(g) else zeros_like(xs)


# ----- forward mode -----


def broadcast_like(t, like):
    """A tangent with its primal's shape: ``t`` broadcast where another operand (one without a
    tangent) made the result larger, as in ``x + np.zeros(3)`` for a scalar ``x``."""
    shape = np.shape(like)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(t, shape).astype(np.result_type(t, like))


def list_jvp(after, base_dot, added_dot):
    """Tangent of the list ``after`` that ``xs.append(v)`` or ``xs.extend(vs)`` made, from the tangents
    of ``xs`` before it (``None``: zero) and of what was added (a list)."""
    if base_dot is None:
        base_dot = zeros_like(after[:len(after) - len(added_dot)])
    return list(base_dot) + list(added_dot)


def get_jvp(d_dot, d, key, default_dot=None):
    """Tangent of ``d.get(key, default)``."""
    return d_dot[key] if key in d else default_dot


def tolist_jvp(x_dot):
    return np.asarray(x_dot).tolist()



def setitem_jvp(x_dot, index, v_dot):
    """Tangent of the array after ``x[index] = v``: a copy of ``x_dot`` with ``v_dot`` written in."""
    if isinstance(x_dot, dict | list):
        out = snapshot(x_dot)
    else:
        out = np.array(x_dot, dtype=np.result_type(x_dot, v_dot, 1.0), copy=True)
    out[index] = v_dot
    return out


def list_pop_jvp(lst_dot, index=-1):
    """Tangents of ``(v, xs)`` after ``v = xs.pop(index)``."""
    rest = list(lst_dot)
    return rest.pop(index), rest


# ----- transposes of the container adjoints (for derivatives of derivatives) -----


def tail_into(tail, g):
    """The transpose of ``list_tail_adjoint``: zeros for the entries before ``tail`` in a list like ``g``."""
    head = [zeros_like(v) for v in g[: len(g) - len(tail)]]
    return head + list(tail)


def sequence_like(h, g, x):
    """The transpose of ``sequence_adjoint(g, x)``: ``h`` (a cotangent of ``x``) one entry per item, as ``g``."""
    if isinstance(x, dict):
        return zeros_like(g)
    if isinstance(g, np.ndarray):
        return np.reshape(h, g.shape)
    return rebuild(g, list(h))


def items_like(h, d):
    """The transpose of ``items_adjoint``: a ``(key, value)`` cotangent per item of ``d``, from ``h``."""
    return [(None, h[k]) for k in d]


def values_like(h, d):
    """The transpose of ``values_adjoint``: a cotangent per value of ``d``, from ``h``."""
    return [h[k] for k in d]


def repeat_like(h, g):
    """The transpose of ``repeat_adjoint``: ``h`` repeated to ``g``'s length."""
    return rebuild(g, list(h) * (len(g) // len(h))) if len(h) else zeros_like(g)


# helpers with an effect beyond their value (they raise, check or write): never dropped as dead code
EFFECTFUL = frozenset({throw, set_global, scalar_seed, add_at, rebound_input, immutable, check_cast})


# ----- forward mode met in differentiated code (see ``nested``) -----


def float_primals(primals, n: int):
    """``primals``, after checking that they are ``n`` floats or floating arrays (or pytrees of them):
    inside differentiated code ``s2sad.jvp`` differentiates with respect to every primal."""
    if not isinstance(primals, tuple | list) or len(primals) != n:
        raise TypeError(f"s2sad.jvp inside differentiated code: the function takes {n} positional "
                        f"argument(s); pass all of them as primals, as a tuple")
    for i, p in enumerate(primals):
        if not differentiable(p):
            raise TypeError(f"s2sad.jvp inside differentiated code differentiates with respect to every primal, "
                            f"but primal {i} is {type(p).__name__}, not a float or a floating array. Bind it "
                            "with a closure or functools.partial instead of passing it as a primal")
    return primals


def unit_tangent(x, k: int):
    """The tangent of ``x`` (a float or an array) that is 1 at its element ``k`` and 0 elsewhere."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        e = np.zeros_like(x)
        e.flat[k] = 1.0
        return e
    if isinstance(x, float | np.floating):
        return type(x)(1.0)
    raise TypeError("differentiating a jacfwd function: its argument must be a float or a floating array, "
                    f"not {type(x).__name__}")


def jacobian_column(t):
    """``t``, an output tangent of a jacfwd function being differentiated, after checking that it is a
    float or an array (a pytree output's Jacobian is nested as the output is: not differentiated yet)."""
    if isinstance(t, tuple | list | dict):
        raise TypeError("differentiating a jacfwd function whose output is a tuple, list or dict is not "
                        "supported yet; return an array")
    return t
