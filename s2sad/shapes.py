"""Shape arithmetic: the concrete shapes NumPy gives results, and each primitive's shape transfer.

A rule's ``shape`` (see ``rules.Rule``) is one of the transfer functions at the end of this
module: ``shape(dims, operands, kwargs, ints)`` is the result's shape, given the shapes of the
positional operands (``dims``, None where not known), the call's IR ``operands`` and
``kwargs``, and the names known to hold ints (``ints``: loop counters); None where they do not
determine it. ``facts.concrete_dims`` calls them for the concrete shapes of a shape-specific derivative.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import ir

__all__ = ["Shape", "Transfer", "broadcast", "reduced", "product", "elementwise", "index", "transpose", "same",
           "either", "reduction", "logsumexp", "matmul", "dot"]

Shape = tuple[int, ...]
Transfer = Callable[[list["Shape | None"], list[ir.Expr], dict[str, ir.Expr], set[str]], "Shape | None"]


def broadcast(*shapes: Shape) -> Shape | None:
    """The shape NumPy broadcasting gives ``shapes`` (None where they do not broadcast)."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def reduced(shape: Shape, axis: ir.Expr, keepdims: ir.Expr) -> Shape | None:
    """The shape of a reduction of an array of ``shape`` over constant ``axis``."""
    if not isinstance(keepdims, ir.Const):
        return None
    if isinstance(axis, ir.Tuple):
        if not all(isinstance(a, ir.Const) and type(a.value) is int for a in axis.items):
            return None
        axes: object = [a.value for a in axis.items if isinstance(a, ir.Const)]
    elif isinstance(axis, ir.Const):
        axes = axis.value
    else:
        return None
    if axes is None:
        axes = list(range(len(shape)))
    elif type(axes) is int:
        axes = [axes]
    elif not isinstance(axes, list):
        return None
    if not all(-len(shape) <= a < len(shape) for a in axes):
        return None
    reduced_axes = {a % len(shape) for a in axes}
    if keepdims.value is True:
        return tuple(1 if i in reduced_axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in reduced_axes) if keepdims.value is False else None


def product(a: Shape, b: Shape, dot: bool) -> Shape | None:
    """The shape of ``a @ b`` (and of ``np.dot`` for operands of at most two dimensions)."""
    if not a or not b or (dot and (len(a) > 2 or len(b) > 2)):
        return None
    if len(a) == 1 and len(b) == 1:
        return () if a == b else None
    if len(b) == 1:
        return a[:-1] if a[-1] == b[0] else None
    if len(a) == 1:
        return b[:-2] + b[-1:] if a[0] == b[-2] else None
    if a[-1] != b[-2]:
        return None
    batch = broadcast(a[:-2], b[:-2])
    return None if batch is None else batch + (a[-2], b[-1])


# ----- shape transfer functions, declared with the rules -----


def elementwise(dims: list[Shape | None], operands: list[ir.Expr], kwargs: dict[str, ir.Expr], ints: set[str]
                ) -> Shape | None:
    """Broadcasting: the shape the operands' shapes broadcast to."""
    known = [d for d in dims if d is not None]
    return broadcast(*known) if not kwargs and len(known) == len(dims) else None


def index(dims: list[Shape | None], operands: list[ir.Expr], kwargs: dict[str, ir.Expr], ints: set[str]
          ) -> Shape | None:
    """``x[i, j]`` with integers (constants, or loop counters) and slices with constant bounds
    (``x[1:3]``); None for any other index."""
    x, items = dims[0], operands[1].items if isinstance(operands[1], ir.Tuple) else [operands[1]]
    if x is None or len(items) > len(x):
        return None
    out = []
    for n, i in zip(x, items):
        if (isinstance(i, ir.Const) and type(i.value) is int) or (isinstance(i, ir.Name) and i.id in ints):
            continue
        bounds = (i.lower, i.upper, i.step) if isinstance(i, ir.Slice) else None
        if bounds is None or not all(b is None or (isinstance(b, ir.Const) and type(b.value) is int) for b in bounds):
            return None
        constant = [b.value if isinstance(b, ir.Const) else None for b in bounds]
        out.append(len(range(*slice(*constant).indices(n))))
    return (*out, *x[len(items):])


def transpose(dims: list[Shape | None], operands: list[ir.Expr], kwargs: dict[str, ir.Expr], ints: set[str]
              ) -> Shape | None:
    """``x.T``: the dimensions reversed."""
    return None if dims[0] is None else dims[0][::-1]


def same(dims: list[Shape | None], operands: list[ir.Expr], kwargs: dict[str, ir.Expr], ints: set[str]
         ) -> Shape | None:
    """The first operand's shape: what a for loop iterates (an array as it is), ``np.angle(z, deg)``."""
    return dims[0]


def either(dims: list[Shape | None], operands: list[ir.Expr], kwargs: dict[str, ir.Expr], ints: set[str]
           ) -> Shape | None:
    """Builtin ``max(a, b)`` and ``min(a, b)``: one of the two operands, so their shape where they have one."""
    return dims[0] if len(dims) == 2 and not kwargs and dims[0] is not None and dims[0] == dims[1] else None


def copied(dims: list[Shape | None], operands: list[ir.Expr], kwargs: dict[str, ir.Expr], ints: set[str]
           ) -> Shape | None:
    """``np.copy(x)``, ``np.array(x)``, ``np.asarray(x)``, ``x.copy()`` of an array (a dtype or order given,
    not ``ndmin``): the operand's shape."""
    if len(operands) <= 2 and set(kwargs) <= {"dtype", "copy", "order", "subok"}:
        return dims[0]
    return None


def reduction(dims: list[Shape | None], operands: list[ir.Expr], kwargs: dict[str, ir.Expr], ints: set[str]
              ) -> Shape | None:
    """A reduction of one array over constant ``axis=`` (and ``keepdims=``)."""
    if dims[0] is not None and len(operands) == 1 and set(kwargs) <= {"axis", "keepdims"}:
        return reduced(dims[0], kwargs.get("axis", ir.Const(None)), kwargs.get("keepdims", ir.Const(False)))
    return None


def logsumexp(dims: list[Shape | None], operands: list[ir.Expr], kwargs: dict[str, ir.Expr], ints: set[str]
              ) -> Shape | None:
    """``scipy.special.logsumexp``: a ``reduction`` that reads a 0-d array as one of shape ``(1,)``
    (``keepdims=True`` keeps that axis)."""
    return reduction([(1,) if dims[0] == () else dims[0], *dims[1:]], operands, kwargs, ints)


def matmul(dims: list[Shape | None], operands: list[ir.Expr], kwargs: dict[str, ir.Expr], ints: set[str]
           ) -> Shape | None:
    """``a @ b``."""
    return _binary_product(dims, kwargs, dot=False)


def dot(dims: list[Shape | None], operands: list[ir.Expr], kwargs: dict[str, ir.Expr], ints: set[str]
        ) -> Shape | None:
    """``np.dot(a, b)`` of vectors and matrices."""
    return _binary_product(dims, kwargs, dot=True)


def _binary_product(dims: list[Shape | None], kwargs: dict[str, ir.Expr], dot: bool) -> Shape | None:
    if len(dims) != 2 or kwargs:
        return None
    a, b = dims
    return None if a is None or b is None else product(a, b, dot)
