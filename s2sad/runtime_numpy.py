"""Adjoint helpers for the NumPy rule library; generated code calls them by name.

Each takes the output cotangent ``g`` first and returns the cotangent of one
input, in that input's shape. They use Python-float constants so float32 stays
float32.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from .runtime import matmul_lhs_adjoint, matmul_rhs_adjoint, unbroadcast, unreduce

# ----- elementwise -----


def max_weight(g, x, y):
    """Share of ``g`` that ``x`` gets in ``maximum(x, y)``: all where x > y, half on a tie."""
    return g * (x > y) + (0.5 * g) * (x == y)


def clip_adjoint(g, x, lo, hi):
    """``x`` gets the gradient inside the closed interval [lo, hi] (as PyTorch's clamp)."""
    inside = np.ones(np.shape(x), dtype=bool)
    if lo is not None:
        inside = inside & (x >= lo)
    if hi is not None:
        inside = inside & (x <= hi)
    return g * inside


def clip_bound_adjoint(g, x, bound, side):
    """Cotangent of a clip bound: where ``x`` was clipped to it (side -1 lower, +1 upper)."""
    if bound is None:
        return None
    hit = x < bound if side < 0 else x > bound
    return unbroadcast(g * hit, bound)


def xlogy_y_adjoint(g, x, y):
    return g * x / y


def cast_like(g, x):
    """``g`` in the dtype of ``x`` (a float for a Python float)."""
    if isinstance(x, np.ndarray) and np.asarray(g).dtype != x.dtype:
        return np.asarray(g).astype(x.dtype)
    return g


def array_adjoint(g, seq):
    """Cotangent of the nested sequence ``seq`` that ``np.array`` stacked into ``g``."""
    if isinstance(seq, list | tuple):
        return type(seq)(array_adjoint(g[i], s) for i, s in enumerate(seq))
    return cast_like(g, seq) if isinstance(seq, np.ndarray) else g


# ----- reductions -----


def _axes(x, axis):
    nd = np.ndim(x)
    if axis is None:
        return tuple(range(nd))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(a % nd for a in axes)


def _keep(value, x, axis, keepdims):
    """A reduction's result put back with size-1 reduced axes (so it broadcasts against ``x``)."""
    return value if keepdims or np.ndim(value) == 0 else np.expand_dims(value, _axes(x, axis))


def max_adjoint(g, x, ans, axis, keepdims):
    """``max``/``min`` reductions: the positions holding the extreme share ``g`` equally on ties."""
    hit = np.asarray(x == _keep(ans, x, axis, keepdims), dtype=np.result_type(x, g))  # a fresh array
    hit *= _keep(g, x, axis, keepdims) / hit.sum(axis=_axes(x, axis), keepdims=True)
    return hit


def prod_adjoint(g, x, ans, axis, keepdims):
    """``prod``: the product of the other elements, exact with zeros (no division by x)."""
    x = np.asarray(x)
    axes = _axes(x, axis)
    moved = np.moveaxis(x, axes, range(-len(axes), 0)) if axes else x
    flat = moved.reshape(*moved.shape[: moved.ndim - len(axes)], -1)
    ones = np.ones_like(flat[..., :1])
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
    others = (before * after).reshape(moved.shape)
    others = np.moveaxis(others, range(-len(axes), 0), axes) if axes else others
    return unreduce(g, x, axis, keepdims) * others


def var_adjoint(g, x, ans, axis, ddof, keepdims):
    x = np.asarray(x)
    n = np.size(x) // max(np.size(ans), 1)
    centered = x - np.mean(x, axis=axis, keepdims=True)
    return unreduce(g, x, axis, keepdims) * centered * (2.0 / (n - ddof))


def std_adjoint(g, x, ans, axis, ddof, keepdims):
    """The std of a constant has no derivative: like JAX and autograd, this gives inf or nan there."""
    return var_adjoint(g / (2.0 * ans), x, ans, axis, ddof, keepdims)


def softmax_adjoint(g, ans, axis):
    return ans * (g - np.sum(g * ans, axis=axis, keepdims=True))


def log_softmax_adjoint(g, ans, axis):
    return g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True)


def norm_adjoint(g, x, ans, ord, axis, keepdims):
    """``norm`` where the rank tells a vector norm from a matrix norm (``axis=None`` and an ``ord`` both
    have). The 2-norm (and Frobenius) gives 0 at 0, a subgradient; ties of a max share it."""
    x, axis = np.asarray(x), tuple(axis) if isinstance(axis, list) else axis
    gk, nk = unreduce(g, x, axis, keepdims), _keep(ans, x, axis, keepdims)
    matrix = (axis is None and x.ndim == 2) or (isinstance(axis, tuple) and len(axis) == 2)
    if ord is None or (ord == 2 and not matrix) or ord == "fro":
        return gk * np.divide(x, nk, out=np.zeros_like(x, dtype=np.result_type(x, 1.0)), where=nk != 0)
    if ord == 1 and not matrix:
        return gk * np.sign(x)
    if not matrix and np.isinf(ord):  # the entries of largest (smallest) magnitude
        return max_adjoint(g, np.abs(x), ans, axis, keepdims) * np.sign(x)
    if not matrix:
        return gk * nk ** (1.0 - ord) * np.sign(x) * np.abs(x) ** (ord - 1.0)
    axes = (-2, -1) if axis is None else axis
    big, gm = np.moveaxis(x, axes, (-2, -1)), np.moveaxis(np.broadcast_to(gk, x.shape), axes, (-2, -1))
    nm = np.moveaxis(ans if keepdims else np.expand_dims(ans, axes), axes, (-2, -1))
    return np.moveaxis(gm * _matrix_norm_weights(big, nm, ord), (-2, -1), axes)


def _matrix_norm_weights(x, n, ord):
    """d‖x‖/dx over the last two axes (``n``: the norm, with both axes kept)."""
    if ord == "nuc":
        u, _, vh = np.linalg.svd(x, full_matrices=False)
        return u @ vh
    if ord in (2, -2):
        u, _, vh = np.linalg.svd(x, full_matrices=False)
        k = 0 if ord == 2 else -1
        return u[..., :, k:k + 1 or None] @ vh[..., k:k + 1 or None, :]
    along = -2 if ord in (1, -1) else -1  # column sums for ±1, row sums for ±inf
    sums = np.sum(np.abs(x), axis=along, keepdims=True)
    return max_adjoint(1.0, sums, n, -1 if along == -2 else -2, True) * np.sign(x)


# ----- shapes -----


def pad_adjoint(g, x, pad_width):
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (np.ndim(x), 2))
    return g[tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(widths))]


def diff_adjoint(g, x, n, axis):
    if n >= np.shape(x)[axis]:  # the result is empty: it depends on nothing
        return np.zeros(np.shape(x), np.result_type(g, 1.0))
    for _ in range(n):
        first = -np.take(g, [0], axis=axis)
        last = np.take(g, [-1], axis=axis)
        g = np.concatenate([first, -np.diff(g, axis=axis), last], axis=axis)
    return g


def scattered(a, indices, b):
    """What ``np.add.at(a, indices, b)`` makes of ``a``: ``b`` added at ``indices``, a repeated index once per
    time it occurs (a new array; the lowering writes it into ``a``)."""
    out = np.array(a, dtype=np.result_type(a, b), copy=True)
    np.add.at(out, indices, b)
    return out


def cycled(values, shape):
    """``values``' elements in order, repeated cyclically to fill ``shape``: what ``np.putmask`` and
    ``np.place`` write (as ``np.resize``, but where something is to be filled, an empty ``values``
    raises, as ``np.place`` does, instead of filling zeros)."""
    values = np.ravel(values)
    if values.size == 0 and np.prod(shape) != 0:
        raise ValueError("s2sad: cannot fill from an empty array of values")
    return np.resize(values, shape)


def cycled_adjoint(g, values):
    """The transpose of ``cycled``: each element of ``g`` added to the value it repeats."""
    size = np.size(values)
    g = np.ravel(g)
    if size == 0:
        return np.zeros(np.shape(values), np.result_type(g, 1.0))
    g = np.concatenate([g, np.zeros(-g.size % size, g.dtype)])
    return np.sum(g.reshape(-1, size), axis=0).reshape(np.shape(values))


def tile_adjoint(g, x, reps):
    shape = np.shape(x)
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    nd = max(len(shape), len(reps))
    shape = (1,) * (nd - len(shape)) + tuple(shape)
    reps = (1,) * (nd - len(reps)) + reps
    g = g.reshape([v for pair in zip(reps, shape) for v in pair])
    return np.sum(g, axis=tuple(range(0, 2 * nd, 2))).reshape(np.shape(x))


def repeat_adjoint(g, x, repeats, axis):
    x = np.asarray(x)
    if axis is None:
        x_flat = x.ravel()
        return repeat_adjoint(g, x_flat, repeats, 0).reshape(x.shape)
    axis = axis % x.ndim
    if np.ndim(repeats) == 0:
        shape = x.shape[:axis] + (x.shape[axis], int(repeats)) + x.shape[axis + 1:]
        return g.reshape(shape).sum(axis=axis + 1)
    starts = np.concatenate([[0], np.cumsum(repeats)[:-1]])
    sums = np.add.reduceat(g, starts, axis=axis)
    empty = np.asarray(repeats) == 0  # reduceat copies, rather than sums, an empty run
    if np.any(empty):
        sums[(slice(None),) * axis + (empty,)] = 0.0
    return sums


def _sizes(seq, axis, promote=None):
    parts = [promote(p) if promote else np.asarray(p) for p in seq]
    return parts, np.cumsum([p.shape[axis] for p in parts])[:-1]


def unconcatenate(g, seq, axis):
    if axis is None:
        sizes = np.cumsum([np.size(p) for p in seq])[:-1]
        return [piece.reshape(np.shape(p)) for piece, p in zip(np.split(g, sizes), seq)]
    parts, cuts = _sizes(seq, axis)
    return [cast_like(piece, p) for piece, p in zip(np.split(g, cuts, axis=axis), seq)]


def unstack(g, seq, axis):
    return [np.take(g, i, axis=axis) for i in range(len(seq))]


def _as_column(p):
    p = np.asarray(p)
    return p.reshape(-1, 1) if p.ndim < 2 else p


# how each joins: the pieces promoted to, the axis joined along (None: hstack's, told by the first piece)
_JOIN = {
    "vstack": (np.atleast_2d, 0), "hstack": (np.atleast_1d, None), "dstack": (np.atleast_3d, 2),
    "column_stack": (_as_column, 1)}


def unjoin(g, seq, how):
    """Cotangents for vstack, hstack, dstack and column_stack: split, then back to each shape."""
    promote, axis = _JOIN[how]
    if axis is None:
        axis = 0 if np.ndim(seq[0]) <= 1 else 1
    parts, cuts = _sizes(seq, axis, promote)
    return [piece.reshape(np.shape(p)) for piece, p in zip(np.split(g, cuts, axis=axis), seq)]


def _entry_axes(item, ndmin, trans1d):
    """The axes NumPy's ``AxisConcatenator`` (``np.r_``, ``np.c_``) transposes an array entry of fewer than
    ``ndmin`` dimensions to, after giving it leading 1s (None: it is not transposed)."""
    nd = np.ndim(item)
    if trans1d == -1 or nd >= ndmin or type(item) in np.ScalarType:
        return None
    k1, k2 = trans1d + (ndmin - nd + 1 if trans1d < 0 else 0), ndmin - nd
    axes = list(range(ndmin))
    return axes[:k1] + axes[k2:] + axes[k1:k2]


def _entry_array(item, ndmin, trans1d):
    """An entry of ``np.r_[...]`` as the array it concatenates: a slice as its range."""
    if isinstance(item, slice):
        return np.r_[f"0,{ndmin},{trans1d}", item]
    a = np.array(item, copy=None, ndmin=ndmin)
    axes = _entry_axes(item, ndmin, trans1d)
    return a if axes is None else a.transpose(axes)


def unconcatenate_entries(g, entries, axis, ndmin, trans1d):
    """Cotangents of the entries ``np.r_`` (``np.c_``, with a directive) concatenated into ``g``, each in
    its entry's shape and structure (None for a slice)."""
    sizes = [_entry_array(e, ndmin, trans1d).shape[axis] for e in entries]
    pieces = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
    return [None if isinstance(e, slice) else _entry_adjoint(piece, e, ndmin, trans1d)
            for piece, e in zip(pieces, entries)]


def _entry_adjoint(piece, item, ndmin, trans1d):
    """The cotangent of an array or number ``item`` from that of the array it was concatenated as."""
    axes = _entry_axes(item, ndmin, trans1d)
    piece = (piece if axes is None else piece.transpose(np.argsort(axes))).reshape(np.shape(item))
    return array_adjoint(piece[()] if piece.ndim == 0 else piece, item)


def concatenate_entries(parts, entries, axis, ndmin, trans1d):
    """``np.r_``'s concatenation of ``parts`` laid out as the ``entries`` they stand for (zeros for a None
    part or a slice's), in the dtype NumPy gives the result: the tangent of ``np.r_[entries]``, and the
    transpose of ``unconcatenate_entries``."""
    arrays, kinds = [], []
    for p, e in zip(parts, entries):
        a = _entry_array(e if p is None or isinstance(e, slice) else p, ndmin, trans1d)
        arrays.append(np.zeros_like(a) if p is None or isinstance(e, slice) else a)
        kinds.append(e if type(e) in np.ScalarType else a.dtype)  # (a number as NumPy weighs it: weakly)
    return np.concatenate(arrays, axis=axis, dtype=np.result_type(*kinds))


def unappend(g, x, values, axis, which):
    pieces = unconcatenate(g, [np.ravel(x) if axis is None else x,
                                 np.ravel(values) if axis is None else values], axis if axis is not None else 0)
    piece = pieces[which]
    return piece.reshape(np.shape(values if which else x))


def unsplit(g, x, axis):
    """``g`` is the list of the pieces' cotangents (zeros where a piece got none)."""
    return np.concatenate([np.asarray(p) for p in g], axis=axis)


# ----- selection -----


def take_adjoint(g, x, indices, axis):
    out = np.zeros(np.shape(x), np.result_type(x, g))
    if axis is None:
        np.add.at(out.reshape(-1), indices, g)
    else:
        index: list = [slice(None)] * out.ndim  # (slices, and the indices at axis)
        index[axis] = indices
        np.add.at(out, tuple(index), g)
    return out


def take_along_axis_adjoint(g, x, indices, axis):
    out = np.zeros(np.shape(x), np.result_type(x, g))
    grids = np.indices(np.shape(indices), sparse=True)
    index = list(grids)
    index[axis % out.ndim] = indices
    np.add.at(out, tuple(index), g)
    return out


def sort_adjoint(g, x, axis):
    if axis is None:
        order = np.argsort(x, axis=None)
        out = np.zeros(np.size(x), np.result_type(x, g))
        out[order] = g
        return out.reshape(np.shape(x))
    order = np.argsort(x, axis=axis)
    out = np.zeros(np.shape(x), np.result_type(x, g))
    np.put_along_axis(out, order, g, axis=axis)
    return out


# ----- products -----


def _tensordot_axes(a, b, axes):
    if np.ndim(axes) == 0:
        n = int(axes)
        return list(range(np.ndim(a) - n, np.ndim(a))), list(range(n))
    left, right = axes
    left = [left] if np.ndim(left) == 0 else list(left)
    right = [right] if np.ndim(right) == 0 else list(right)
    return [i % np.ndim(a) for i in left], [i % np.ndim(b) for i in right]


def tensordot_adjoint(g, a, b, axes, which):
    """Cotangent of ``a`` (which=0) or ``b`` (which=1) in ``np.tensordot(a, b, axes)``."""
    left, right = _tensordot_axes(a, b, axes)
    free_a = [i for i in range(np.ndim(a)) if i not in left]
    free_b = [i for i in range(np.ndim(b)) if i not in right]
    ga = len(free_a)
    if which == 0:  # t's axes: a's free ones, then a's contracted ones in the order of b's
        t = np.tensordot(g, b, axes=(list(range(ga, np.ndim(g))), free_b))
        order = free_a + [left[right.index(j)] for j in sorted(right)]
        return np.transpose(t, np.argsort(order))
    t = np.tensordot(a, g, axes=(free_a, list(range(ga))))  # b's contracted ones in the order of a's, then free
    order = [right[left.index(i)] for i in sorted(left)] + free_b
    return np.transpose(t, np.argsort(order))


def inner_adjoint(g, a, b, which):
    # inner(a, b) = tensordot(a, b, axes=(-1, -1))
    return tensordot_adjoint(g, a, b, ([-1], [-1]), which)


def kron_adjoint(g, a, b, which):
    a, b = np.asarray(a), np.asarray(b)
    nd = max(a.ndim, b.ndim)
    a_ = a.reshape((1,) * (nd - a.ndim) + a.shape)
    b_ = b.reshape((1,) * (nd - b.ndim) + b.shape)
    blocks = g.reshape([v for pair in zip(a_.shape, b_.shape) for v in pair])
    ia = tuple(range(0, 2 * nd, 2))
    ib = tuple(range(1, 2 * nd, 2))
    if which == 0:
        return np.tensordot(blocks, b_, axes=(ib, tuple(range(nd)))).reshape(a.shape)
    return np.tensordot(a_, blocks, axes=(tuple(range(nd)), ia)).reshape(b.shape)


def trace_adjoint(g, x, offset):
    x = np.asarray(x)
    eye = np.eye(x.shape[0], x.shape[1], k=offset, dtype=np.result_type(x, g))
    return eye.reshape(eye.shape + (1,) * (x.ndim - 2)) * g


def diag_adjoint(g, x, k):
    if np.ndim(x) == 1:
        return np.diagonal(g, offset=k).copy()
    out = np.zeros(np.shape(x), np.result_type(x, g))
    i = np.arange(len(g))
    rows, cols = (i, i + k) if k >= 0 else (i - k, i)
    out[rows, cols] = g
    return out


def diagonal_adjoint(g, x, offset, axis1, axis2):
    x = np.asarray(x)
    out = np.zeros(x.shape, np.result_type(x, g))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    n = g.shape[-1]
    i = np.arange(n)
    rows, cols = (i, i + offset) if offset >= 0 else (i - offset, i)
    view[..., rows, cols] = g
    return out


def einsum_adjoint(g, subscripts, which, *operands):
    """Cotangent of operand ``which`` of ``np.einsum(subscripts, *operands)`` (``...`` and broadcasting
    dimensions of size 1 included)."""
    inputs, output = _einsum_explicit(subscripts, operands)
    mine, shape = inputs[which], np.shape(operands[which])
    unique = "".join(dict.fromkeys(mine))  # (an index repeated in this operand: its diagonal, placed last)
    sizes = [shape[mine.index(c)] for c in unique]
    others = [s for k, s in enumerate(inputs) if k != which]
    other_ops = [o for k, o in enumerate(operands) if k != which]
    present = set(output).union(*others) if others else set(output)
    target = "".join(c for c in unique if c in present)
    result = np.einsum(f"{','.join([output, *others])}->{target}", g, *other_ops)
    result = unbroadcast(result, np.broadcast_to(0.0, [sizes[unique.index(c)] for c in target]))
    if target != unique:  # indices summed in this operand alone: broadcast back
        expanded = result.reshape([n if c in present else 1 for c, n in zip(unique, sizes)])
        result = np.broadcast_to(expanded, sizes).copy()
    return result if unique == mine else _onto_diagonals(result, unique, mine, shape, inputs, output)


def _onto_diagonals(t, unique: str, mine: str, shape, inputs, output):
    """``t`` (indexed by ``unique``) placed on the diagonals an operand indexed ``mine`` (``"ii"``) is read
    along, zero elsewhere: each repeat of an index is a new one, tied to the first by an identity."""
    spare = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                 if c not in "".join([*inputs, output]))
    seen: set[str] = set()
    placed, eyes, ties = "", [], []
    for c, n in zip(mine, shape):
        if c in seen:
            new = next(spare)
            placed += new
            eyes.append(np.eye(n, dtype=t.dtype))
            ties.append(c + new)
        else:
            seen.add(c)
            placed += c
    return np.einsum(f"{','.join([unique, *ties])}->{placed}", t, *eyes)


def _einsum_explicit(subscripts, operands):
    """The input and output subscripts of an einsum call with ``...`` spelled out in unused letters and
    the output written (NumPy's implicit output: ``...``, then the letters used once, sorted)."""
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    inputs = inputs.split(",")
    width = max((np.ndim(o) - len(s.replace("...", "")) for s, o in zip(inputs, operands) if "..." in s), default=0)
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in spec][:width]
    dots = "".join(free)
    inputs = [s.replace("...", dots[width - (np.ndim(o) - len(s.replace("...", ""))):]) if "..." in s else s
              for s, o in zip(inputs, operands)]
    if not arrow:
        letters = "".join(inputs)
        output = "..." + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in dots))
    return inputs, output.replace("...", dots)


# ----- linear algebra -----


def mT(a):
    """Swap the last two axes (a batched transpose)."""
    return np.swapaxes(a, -1, -2)


# ----- cumulative and creation -----


def cumsum_adjoint(g, x, axis):
    if axis is None:
        return np.flip(np.cumsum(np.flip(g))).reshape(np.shape(x))
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def cumprod_adjoint(g, x, ans, axis):
    x = np.asarray(x)
    if axis is None:
        return cumprod_adjoint(g, x.ravel(), ans, 0).reshape(x.shape)
    if np.all(x != 0):
        return np.flip(np.cumsum(np.flip(g * ans, axis), axis=axis), axis) / x
    # zeros present: the exact sum over the partials (quadratic in the axis length)
    gm = np.moveaxis(np.broadcast_to(g, x.shape), axis, -1)
    return np.moveaxis(np.einsum("...k,...ki->...i", gm, _cumprod_partials(np.moveaxis(x, axis, -1))), -1, axis)


def _cumprod_partials(xm):
    """``p[..., k, i]`` = d cumprod(xm)[k] / d xm[i] = the product of ``xm[:k+1]`` without ``xm[i]``
    (zero for i > k), along the last axis: exact where ``xm`` holds zeros."""
    n = xm.shape[-1]
    p = np.zeros(xm.shape + (n,), np.result_type(xm, 1.0))
    for k in range(n):
        for i in range(k + 1):
            p[..., k, i] = np.prod(np.concatenate([xm[..., :i], xm[..., i + 1:k + 1]], axis=-1), axis=-1)
    return p


def linspace_adjoint(g, num, which):
    t = np.linspace(0.0, 1.0, num)
    return np.sum(g * (t if which else 1.0 - t))


# ----- forward mode (tangent) helpers -----


def sort_jvp(x_dot, x, axis):
    if axis is None:
        return np.ravel(x_dot)[np.argsort(x, axis=None)]
    return np.take_along_axis(x_dot, np.argsort(x, axis=axis), axis=axis)


def cumprod_jvp(x_dot, x, ans, axis):
    x = np.asarray(x)
    if axis is None:
        return cumprod_jvp(np.ravel(x_dot), x.ravel(), ans, 0)
    if np.all(x != 0):
        return ans * np.cumsum(x_dot / x, axis=axis)
    # zeros present: the exact sum over the partials (quadratic in the axis length)
    dm = np.moveaxis(np.broadcast_to(x_dot, x.shape), axis, -1)
    return np.moveaxis(np.einsum("...i,...ki->...k", dm, _cumprod_partials(np.moveaxis(x, axis, -1))), -1, axis)


def linspace_jvp(start_dot, stop_dot, num):
    t = np.linspace(0.0, 1.0, num)
    out = 0.0
    if start_dot is not None:
        out = out + start_dot * (1.0 - t)
    if stop_dot is not None:
        out = out + stop_dot * t
    return out


def log_softmax_jvp(x_dot, ans, axis):
    return x_dot - np.sum(np.exp(ans) * x_dot, axis=axis, keepdims=True)


def reduce_to(h, g, axis, keepdims):
    """The adjoint of ``unreduce``: sum ``h`` over the reduced axes, back to ``g``'s shape."""
    return np.reshape(np.sum(h, axis=axis, keepdims=keepdims), np.shape(g))


def logical_not(mask):
    return np.logical_not(mask)


def chosen(first, a, b):
    """The tangent of builtin ``max(x, y)`` / ``min(x, y)``: ``x``'s tangent ``a`` where it chose ``x``
    (``first``), else ``y``'s."""
    return a if first else b


def builtin_sum_adjoint(g, seq):
    """Cotangent of ``seq`` in the builtin ``sum(seq)``: ``g`` for every item (rows, for an array)."""
    if isinstance(seq, np.ndarray):
        return np.broadcast_to(g, seq.shape) if seq.ndim == 1 else np.broadcast_to(g, seq.shape).copy()
    return type(seq)(unbroadcast(g, item) for item in seq) if isinstance(seq, list | tuple) else g


def sum_items(parts, g):
    """The adjoint of ``builtin_sum_adjoint``: the items' cotangents ``parts`` added up, in ``g``'s shape."""
    if isinstance(parts, np.ndarray):
        return np.sum(parts, axis=0) if np.ndim(g) < parts.ndim else parts
    total = 0.0
    for part in parts:
        total = total + unbroadcast(part, g)
    return total


# ----- second derivatives (the rules in ``rules_runtime`` emit these) -----


def safe_divide(a, b):
    """``a / b``, 0 where ``b`` is 0 (the 2-norm's subgradient at 0)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.result_type(a, b, 1.0)), b)
    return np.divide(a, b, out=np.zeros(a.shape, a.dtype), where=b != 0)


def clip_bound_transpose(h, g, x, bound, side):
    """The transpose of ``clip_bound_adjoint`` in its cotangent: ``h`` (a bound's) where ``x`` was clipped."""
    hit = h * (x < bound if side < 0 else x > bound)
    return unbroadcast(np.broadcast_to(hit, np.broadcast_shapes(np.shape(hit), np.shape(g))), g)


def _grouped(v, x, axis):
    """``v`` (of ``x``'s shape) with the reduced axes moved last and flattened into one."""
    axes = _axes(x, axis)
    moved = np.moveaxis(np.broadcast_to(v, np.shape(x)), axes, range(-len(axes), 0)) if axes else np.asarray(v)
    return moved.reshape(*moved.shape[: moved.ndim - len(axes)], -1), moved.shape, axes


# Every derivative of a product is a sum, over ways of giving each of its directions ``vs`` its own
# factor, of the product with those factors replaced by the directions. That is one coefficient of
# the product of ``x[j] + sum_l eps_l vs[l][j]`` over the factors, in the algebra where every
# ``eps_l ** 2 = 0``: its coefficient of ``eps_0 ... eps_{m-1}``. An element of that algebra is a dict
# from a subset of the directions (a bit mask) to its coefficient; products are exact with zeros.


def _jet_mul(a: dict, b: dict) -> dict:
    out: dict = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            if not ma & mb:
                out[ma | mb] = out[ma | mb] + ca * cb if ma | mb in out else ca * cb
    return out


def _jet_factors(xf, vfs) -> list[dict]:
    """The factors ``x[j] + sum_l eps_l vs[l][j]`` along the last axis."""
    return [{0: xf[..., j], **{1 << m: v[..., j] for m, v in enumerate(vfs)}} for j in range(xf.shape[-1])]


def _jet_full(a: dict, b: dict, m: int, like):
    """The coefficient of every direction once in ``a * b``."""
    full = (1 << m) - 1
    return sum((a[mask] * b[full ^ mask] for mask in a if full ^ mask in b), np.zeros_like(like))


def _jet_prefixes(factors: list[dict]) -> list[dict]:
    """The products of the first ``k`` factors, for ``k`` from 0 to all of them."""
    out = [{0: 1.0}]
    for f in factors:
        out.append(_jet_mul(out[-1], f))
    return out


def prod_others(x, axis, *vs):
    """Over each group ``prod`` reduces: at each position ``i``, the sum over ways of placing each of ``vs``
    at its own position (none at ``i``) of the product of the other factors of ``x`` times the placed
    entries. Without ``vs``: the product of the other elements (``prod``'s derivative); with ``vs``: its
    derivatives along them. Symmetric in ``i`` and the positions of ``vs``."""
    x = np.asarray(x)
    xf, shape, axes = _grouped(x, x, axis)
    factors = _jet_factors(xf, [_grouped(v, x, axis)[0] for v in vs])
    before = _jet_prefixes(factors)
    after = _jet_prefixes(factors[::-1])[::-1]  # after[i]: the product of the factors from i on
    like = np.zeros(xf.shape[:-1], np.result_type(xf, *vs, 1.0))
    out = np.stack([_jet_full(before[i], after[i + 1], len(vs), like) for i in range(xf.shape[-1])], axis=-1)
    out = out.reshape(shape)
    return np.moveaxis(out, range(-len(axes), 0), axes) if axes else out


def cumprod_terms(x, axis, *vs):
    """The derivative of ``cumprod(x, axis)`` along ``vs`` (one direction each; none: ``cumprod`` itself)."""
    xm, vms, ax = _along_last(x, axis, *vs)
    before = _jet_prefixes(_jet_factors(xm, vms))
    like = np.zeros(xm.shape[:-1], np.result_type(xm, *vs, 1.0))
    out = np.stack([_jet_full(b, {0: 1.0}, len(vs), like) for b in before[1:]], axis=-1)
    return out if axis is None else np.moveaxis(out, -1, ax)


def cumprod_terms_adjoint(h, x, axis, *vs):
    """The cotangent, from ``h``, of a further direction of ``cumprod_terms(x, axis, *vs)``: its derivative
    in ``x`` against ``h`` (without ``vs``: ``cumprod``'s adjoint). In ``x``'s shape."""
    xm, (hm, *vms), ax = _along_last(x, axis, h, *vs)
    factors = _jet_factors(xm, vms)
    before = _jet_prefixes(factors)
    n = xm.shape[-1]
    like = np.zeros(xm.shape[:-1], np.result_type(xm, h, *vs, 1.0))
    later = {0: hm[..., n - 1]}  # later at p: sum over k >= p of h[k] times the factors p+1..k
    slices: list = [None] * n  # the cotangent at each position along the axis
    for p in range(n - 1, -1, -1):
        if p < n - 1:
            later = _jet_mul(factors[p + 1], later)
            later[0] = later[0] + hm[..., p]
        slices[p] = _jet_full(before[p], later, len(vs), like)
    out = np.stack(slices, axis=-1)
    return out.reshape(np.shape(x)) if axis is None else np.moveaxis(out, -1, ax)


def _along_last(x, axis, *vs):
    x = np.asarray(x)
    if axis is None:
        return x.ravel(), [np.broadcast_to(np.ravel(v), (x.size,)) for v in vs], 0  # (x's shape, or flat)
    return np.moveaxis(x, axis, -1), [np.moveaxis(np.broadcast_to(v, x.shape), axis, -1) for v in vs], axis


# ----- triangular factors -----

try:
    from scipy.linalg.blas import get_blas_funcs
except ImportError:  # scipy is optional: general solves then
    get_blas_funcs = None


@functools.cache
def _blas(name: str, dtype: np.dtype):
    """BLAS routine ``name`` for matrices of ``dtype`` (float64 or float32), or None without scipy."""
    if get_blas_funcs is None or dtype not in (np.float64, np.float32):
        return None
    return get_blas_funcs(name, dtype=dtype)


def triangular_solve(a, b, lower, transposed=False, right=False):
    """``op(T)⁻¹ b`` (``b op(T)⁻¹`` when ``right``), ``T`` the triangle of ``a`` that ``lower`` names and
    ``op`` the transpose when ``transposed``. A matrix (or vector) of float64 or float32 takes one BLAS
    ``trsm`` (no checks, no copies beyond BLAS's order); stacks, other dtypes or no scipy a general solve."""
    a, b = np.asarray(a), np.asarray(b)
    trsm = _blas("trsm", a.dtype) if a.ndim == 2 and b.ndim in (1, 2) and a.dtype == b.dtype else None
    if trsm is not None:
        column = b.reshape((1, -1) if right else (-1, 1)) if b.ndim == 1 else b
        return trsm(1.0, a, column, side=int(right), lower=int(lower), trans_a=int(transposed)).reshape(b.shape)
    t = np.tril(a) if lower else np.triu(a)
    if transposed != right:  # b T⁻¹ = (T⁻ᵀ bᵀ)ᵀ
        t = np.swapaxes(t, -1, -2)
    if b.ndim == a.ndim - 1:  # (a stack of) vectors
        return np.linalg.solve(t, b[..., None])[..., 0]
    return np.swapaxes(np.linalg.solve(t, np.swapaxes(b, -1, -2)), -1, -2) if right else np.linalg.solve(t, b)


def triangular_matmul(a, b, lower, transposed=False):
    """``op(T) @ b``, ``T`` the triangle of ``a`` that ``lower`` names, ``op`` the transpose when ``transposed``:
    one BLAS ``trmm`` for a matrix of float64 or float32 (half a general product's work)."""
    a, b = np.asarray(a), np.asarray(b)
    trmm = _blas("trmm", a.dtype) if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype else None
    if trmm is not None:
        return trmm(1.0, a, b, lower=int(lower), trans_a=int(transposed))
    t = np.tril(a) if lower else np.triu(a)
    return (np.swapaxes(t, -1, -2) if transposed else t) @ b


def tril_half_diagonal(x):
    """The lower triangle of ``x`` with half its diagonal (Φ in the Cholesky factor's derivatives)."""
    out = np.tril(x)
    if out.ndim == 2:
        out.flat[:: out.shape[1] + 1] *= 0.5
    else:
        np.einsum("...ii->...i", out)[...] *= 0.5
    return out


def symmetric_part(x):
    """``(x + xᵀ) / 2`` over the last two axes."""
    out = x + np.swapaxes(x, -1, -2)
    out *= 0.5
    return out


# ----- checks on factors whose derivative exists only for some inputs -----


def require_same_shape(x, other, what):
    """``x``, if it has the shape of ``other``: otherwise ``what`` has no derivative here (a clear error)."""
    if np.shape(x) != np.shape(other):
        raise ValueError(f"s2sad differentiates {what} only for a square matrix (got factors of shapes "
                         f"{np.shape(x)} and {np.shape(other)})")
    return x


def require_real(x, what):
    """``x`` when it is real: the derivative of ``what`` is given for real eigenvalues only."""
    if np.iscomplexobj(x):
        raise ValueError(f"s2sad differentiates {what} only for a matrix with real eigenvalues; this one has "
                         "complex eigenvalues")
    return x


# ----- multi_dot -----


def multi_dot_sum(arrays, *subs):
    """``multi_dot(arrays)`` with the substitution lists ``subs`` put in, summed over every way of putting
    them at distinct positions: list ``subs[i]`` gives position ``k`` its entry ``subs[i][k]`` (None: a
    zero). Without ``subs`` it is ``multi_dot(arrays)``; with one, its tangent along ``subs[0]``; each
    further derivative adds a list (the product is multilinear), so every order is one of these."""
    total = None
    for bs, _ in _substituted(arrays, subs):
        term = np.linalg.multi_dot(bs)
        total = term if total is None else total + term
    return np.zeros(np.shape(np.linalg.multi_dot(arrays))) if total is None else total


def multi_dot_sum_adjoint(h, which, arrays, *subs):
    """The cotangents of ``multi_dot_sum(arrays, *subs)`` from ``h``, one per position, for its argument
    ``which`` (0: ``arrays``, ``i``: ``subs[i - 1]``)."""
    out = [None] * len(arrays)
    for bs, positions in _substituted(arrays, subs, which - 1):
        free = [k for k in range(len(arrays)) if k not in positions]
        for k in free if which == 0 else [positions[which - 1]]:
            part = _multi_dot_grad_at(h, bs, k)
            out[k] = part if out[k] is None else out[k] + part
    return [np.zeros(np.shape(arrays[k])) if o is None else o for k, o in enumerate(out)]


def _substituted(arrays, subs, free=-1):
    """Each list of ``arrays`` with one entry of every list in ``subs`` put in, at distinct positions, with
    those positions; where an entry is None (a zero) the product is zero and left out, except in list
    ``free`` (whose cotangent is taken there: its own entries are not read)."""
    for positions in itertools.permutations(range(len(arrays)), len(subs)):
        parts = [sub[k] for sub, k in zip(subs, positions)]
        if any(p is None for i, p in enumerate(parts) if i != free):
            continue
        bs = list(arrays)
        for k, p in zip(positions, parts):
            bs[k] = bs[k] if p is None else p
        yield bs, positions


def _chain(arrays):
    out = None
    for a in arrays:
        out = a if out is None else out @ a
    return out


def _multi_dot_grad_at(h, bs, k):
    """The gradient of ``<h, multi_dot(bs)>`` with respect to ``bs[k]``."""
    left, right = _chain(bs[:k]), _chain(bs[k + 1:])
    mine = bs[k] if right is None else bs[k] @ right
    bar = h if left is None else matmul_rhs_adjoint(h, left, mine)
    return bar if right is None else matmul_lhs_adjoint(bar, bs[k], right)


def lstsq_solution_cotangent(g):
    """The cotangent of ``lstsq``'s solution; one on its residuals or singular values is refused."""
    if any(np.any(part) for part in (g[1], g[3])):
        raise ValueError("s2sad differentiates the solution of numpy.linalg.lstsq only, not its residuals or "
                         "singular values: compute them from the solution")
    return g[0]


def weights_shape(a, w, axis):
    """The shape ``np.average`` reads weights ``w`` in: their own, or 1-D ones laid along ``axis``."""
    if np.ndim(w) == np.ndim(a) or axis is None or np.ndim(w) != 1:
        return np.shape(w)
    shape = [1] * np.ndim(a)
    shape[axis if isinstance(axis, int) else axis[0]] = np.size(w)
    return tuple(shape)


def interp_adjoint(g, x, xp, fp):
    """The cotangent of ``fp`` in ``np.interp(x, xp, fp)``: each ``g`` split between the two values it
    interpolates (the end value beyond either end)."""
    x, g = np.broadcast_arrays(np.asarray(x, dtype=float), g)
    xp, out = np.asarray(xp), np.zeros(np.shape(fp), np.result_type(g, 1.0))
    if len(xp) == 1:
        out[0] = np.sum(g)
        return out
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)
    t = np.clip((x - xp[j]) / (xp[j + 1] - xp[j]), 0.0, 1.0)
    np.add.at(out, j, g * (1.0 - t))
    np.add.at(out, j + 1, g * t)
    return out


def select_adjoint(g, condlist, choicelist):
    """The cotangents of ``np.select``'s choices: each takes ``g`` where its condition is the first true one."""
    taken, out = np.zeros(np.shape(g), bool), []
    for cond, choice in zip(condlist, choicelist):
        mine = np.logical_and(cond, np.logical_not(taken))
        out.append(unbroadcast(np.where(mine, g, 0.0), choice))
        taken = taken | mine
    return out


def any_of(condlist):
    """Where any condition of ``np.select`` holds (its default is taken elsewhere)."""
    return np.logical_or.reduce(np.broadcast_arrays(*condlist))


def partition_order(x, ans, axis):
    """For ``ans = np.partition(x, kth, axis)``: at each place of ``ans``, the index along ``axis`` of the
    element of ``x`` it holds (found from the values: ``ans`` holds ``x``'s, reordered; equal values are
    matched in order). ``axis`` None: of the flattened ``x``."""
    x = np.ravel(x) if axis is None else np.asarray(x)
    axis = 0 if axis is None else axis
    ranks = np.argsort(np.argsort(ans, axis=axis, kind="stable"), axis=axis, kind="stable")
    return np.take_along_axis(np.argsort(x, axis=axis, kind="stable"), ranks, axis=axis)


def rollaxis_adjoint(g, x, axis, start):
    """The cotangent of ``x`` in ``np.rollaxis(x, axis, start)``: ``g`` with the axes put back."""
    n = np.ndim(x)
    axis, start = axis % n, start + n if start < 0 else start
    order = [a for a in range(n) if a != axis]
    order.insert(start - 1 if axis < start else start, axis)
    return np.transpose(g, np.argsort(order))


def gradient_adjoint(g, f, spacings, axis, edge_order):
    """The cotangent of ``f`` in ``np.gradient(f, *spacings, axis=axis, edge_order=edge_order)`` (uniform
    spacings): each axis's difference stencil, transposed, applied to its part of ``g``."""
    f = np.asarray(f)
    axes = tuple(range(f.ndim)) if axis is None else (axis,) if np.ndim(axis) == 0 else tuple(axis)
    parts = list(g) if len(axes) > 1 else [g]
    steps = list(spacings) * len(axes) if len(spacings) <= 1 else list(spacings)
    out = np.zeros(f.shape, np.result_type(f, 1.0))
    for part, ax, step in zip(parts, axes, steps or [1.0] * len(axes)):
        if np.ndim(step):
            raise ValueError("s2sad differentiates np.gradient with uniform spacings (numbers), not coordinates")
        out += np.moveaxis(_stencil_transposed(np.moveaxis(np.asarray(part), ax, 0), edge_order) / step, 0, ax)
    return out


def gradient_of(f, spacings, axis, edge_order):
    """``np.gradient(f, *spacings, axis=axis, edge_order=edge_order)``."""
    return np.gradient(f, *spacings, axis=axis, edge_order=edge_order)


def _stencil_transposed(h, edge_order):
    """The transpose of ``np.gradient``'s stencil along the first axis (unit spacing), applied to ``h``."""
    out = np.zeros(h.shape, np.result_type(h, 1.0))
    out[2:] += 0.5 * h[1:-1]
    out[:-2] -= 0.5 * h[1:-1]
    if edge_order == 1:
        out[1] += h[0]
        out[0] -= h[0]
        out[-1] += h[-1]
        out[-2] -= h[-1]
    else:
        out[0] -= 1.5 * h[0]
        out[1] += 2.0 * h[0]
        out[2] -= 0.5 * h[0]
        out[-1] += 1.5 * h[-1]
        out[-2] -= 2.0 * h[-1]
        out[-3] += 0.5 * h[-1]
    return out


def lu_rows(piv):
    """The row order ``rows`` of a ``scipy.linalg.lu_factor`` pivot array: ``a[rows] = L @ U`` (row ``i`` was
    swapped with row ``piv[i]``, in turn)."""
    piv = np.asarray(piv)
    if piv.ndim != 1:
        raise ValueError("s2sad differentiates lu_factor and lu_solve of one matrix, not of a stack")
    rows = np.arange(piv.size)
    for i, p in enumerate(piv):
        rows[i], rows[p] = rows[p], rows[i]
    return rows


def is_lower(c_and_lower):
    """Whether the factor of a ``(c, lower)`` pair (``scipy.linalg.cho_factor``) is in the lower triangle."""
    return bool(c_and_lower[1])
