"""Helpers that generated code calls by name; each is small, documented NumPy.

Generated code uses these only where an inline template would be wrong for some
input shape: ``unbroadcast`` where operand shapes may differ, ``unreduce`` to send
a reduction's cotangent back over the reduced axes, and the ``dot``/``matmul``
adjoints whose form depends on operand rank.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "unbroadcast", "unreduce", "zeros_like", "dot_lhs_adjoint", "dot_rhs_adjoint",
    "matmul_lhs_adjoint", "matmul_rhs_adjoint", "tuple_adjoint", "getitem_adjoint", "add_bars", "scalar_seed",
    "setitem_adjoint", "setitem_value_adjoint", "list_tail_adjoint", "list_pop_adjoint", "snapshot", "add_at",
    "setitem_jvp", "list_pop_jvp", "captured_adjoint", "captured_cotangent",
]


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


def unreduce(g, x, axis=None, keepdims=False):
    """Broadcast a reduction's cotangent ``g`` back to the shape of its input ``x``."""
    if axis is not None and not keepdims and np.ndim(g):
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(x))


def zeros_like(x):
    """A zero cotangent for ``x``: ``0.0`` for Python numbers, zeros of the same shape and
    dtype for arrays, the same structure for tuples, lists and dicts."""
    if isinstance(x, float | int):
        return 0.0
    if isinstance(x, tuple | list):
        return rebuild(x, [zeros_like(v) for v in x])
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
    if callable(x):
        return {}  # a function's cotangent: a dict over what it captured (nothing yet)
    return np.zeros_like(x)


def captured_adjoint(g, name, like):
    """The cotangent of what a function value captured as ``name`` (its value now: ``like``), from
    the function's cotangent ``g``: a dict without the entry where the function was not called."""
    return g[name] if name in g else zeros_like(like)


def captured_cotangent(name, h):
    """A function value's cotangent holding ``h`` for its capture ``name`` (``captured_adjoint``'s adjoint)."""
    return {name: h}


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
    if isinstance(a, tuple | list):
        return rebuild(a, [add_bars(x, y) for x, y in zip(a, b)])
    return a + b


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


def snapshot(x):
    """A copy of ``x`` as it is now, for the pullback, when a later write would change it."""
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, list):
        return list(x)
    if isinstance(x, dict):
        return dict(x)
    return x


def setitem_adjoint(g, index):
    """Cotangent of the array before ``x[index] = v``: the written entries got overwritten."""
    if isinstance(g, dict | list):
        out = snapshot(g)
        out[index] = zeros_like(g[index])
        return out
    out = np.array(g, copy=True)
    out[index] = 0.0
    return out


def setitem_value_adjoint(g, index):
    """Cotangent of ``v`` in ``x[index] = v``: what reached the written entries.

    With a repeated integer index NumPy keeps the last write, so only the last
    occurrence of each position receives the cotangent.
    """
    if isinstance(g, dict | list):
        return g[index]
    part = np.array(g[index], copy=True)
    parts = index if isinstance(index, tuple) else (index,)
    advanced = [not isinstance(p, slice | type(None) | type(Ellipsis)) for p in parts]
    arrays = [np.asarray(p) for p, a in zip(parts, advanced) if a]
    if arrays and any(a.dtype.kind in "iu" and a.ndim > 0 for a in arrays) and part.ndim:
        if advanced != sorted(advanced, reverse=True):
            raise NotImplementedError("a write with an integer-array index after a slice is not supported")
        b = np.broadcast_arrays(*arrays)
        dims = [np.shape(g)[i] for i in range(len(arrays))]
        flat = np.ravel_multi_index(tuple(x % d for x, d in zip(b, dims)), dims).ravel()
        last = np.zeros(flat.shape, bool)
        _, first_from_end = np.unique(flat[::-1], return_index=True)
        last[len(flat) - 1 - first_from_end] = True
        lead = part.reshape(flat.size, -1) if part.size else part
        lead[~last] = 0.0
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


# ----- forward mode -----


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
