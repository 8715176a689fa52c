"""Fuse: the gradient function -- the forward pass and the seeded pullback in one body, tidied.

Expects ``reverse``'s pieces: the forward statements, the pullback's statements and
the cotangent of each parameter. ``grad`` does not return the output's value, and
when the output is statically a float it seeds the pullback with the constant
``1.0`` (otherwise with ``scalar_seed(out)``, which checks the output is a scalar):
that opens up clean-ups the vjp, whose seed is a parameter, cannot have. Each is
sound on its own:

* **seed and constants** (in the pullback): the seed, and temporaries bound once to
  a constant (``mean_bar = -1.0``), are put where they are read; ``1.0 * a`` becomes ``a``.
* **known shapes** (in the pullback of a shape-specific derivative): ``unbroadcast(g, x)``
  becomes the sum it would do, ``g.sum(axis=0)``, or ``g``.
* **broadcasts** (in the pullback): a reduction's cotangent ``np.broadcast_to(s, np.shape(r))`` or
  ``unreduce(g, r, axis, keepdims=True)`` that meets elementwise arithmetic with an
  operand of ``r``'s shape, or is written into an array (``getitem_adjoint``), is
  replaced by ``s`` (or ``g``): NumPy broadcasting gives the same values, and no
  stride-0 array is made (``np.broadcast_to`` alone costs about 8 µs).
* **first writes** (in the pullback): a reverse loop that adds into row ``i`` of a fresh
  zero buffer, where ``i`` is replayed from a forward ``for i in range(...)`` (so each row
  is reached once), assigns it: ``b_bar[i] = g``, not ``add_at`` (read, add, write).
* **dead code**: pure statements nobody reads go (in the forward pass, the ones
  computed only for the output's value).
* **freeing**: a temporary array (of known shape) is deleted right after the statement of the
  function's body that reads it last (``del pow_1``): a named temporary would otherwise hold its
  array until the function returns (a 10^7-element elementwise gradient peaked at 1.67x its
  forward pass; 1.33x with them freed).
* **inlining**: a temporary read once, by a later statement of the same block
  with nothing in between that could change what it reads, is written into its
  reader, as a person writes ``1.0 / (1.0 + x2) - np.sin(x) * e``. Python then
  frees the intermediate arrays as soon as they are used: without this every
  named temporary stays alive until the function returns (W4's peak memory was
  2.5x the hand-written gradient's). The user's names are never inlined, and an
  inlined expression stays small (``_MAX_OPS`` operations) so lines stay readable.
"""

from __future__ import annotations

import bisect
import builtins
from collections import Counter

import numpy as np

from . import ir, runtime
from .activity import Analysis
from .classify import writes_into_argument
from .facts import range_target
from .mutation import inplace_write
from .rules import METHODS, NONDIFFERENTIABLE, lookup
from .shapes import broadcast

__all__ = ["fuse"]

_MAX_OPS = 5  # operations an inlined expression may hold


def fuse(name: str, fn: ir.Function, forward: list[ir.Stmt], out: ir.Expr, seed: str, pullback: list[ir.Stmt],
         grads: list[ir.Expr], analysis: Analysis, bars: dict[str, str], with_value: bool = False,
         known_shapes: bool = True) -> tuple[ir.Function, bool]:
    """The fused gradient function ``name(*params) -> grads`` of ``fn`` (as lowered), and whether
    it used the concrete shapes of a shape-specific analysis (then it serves those shapes only).

    ``bars`` maps each name to its cotangent variable. The statements given are not changed.
    ``with_value``: return ``(out, grads)``, for ``value_and_grad``. ``known_shapes``: the
    analysis' concrete shapes may be used.
    """
    loc = fn.body[-1].loc
    forward, pullback = ir.clone(forward), ir.clone(pullback)
    names = set(fn.temps) | {bars[t] for t in fn.temps if t in bars}  # never the user's names
    if isinstance(out, ir.Name) and out.id in analysis.scalars and out.id in analysis.active:
        seed_value, names = ir.Const(1.0), names | {seed}  # statically a float that depends on the arguments
    else:
        seed_value = ir.Call(ir.Ref(("scalar_seed",), runtime.scalar_seed, helper=True), [out])
    result = ir.Tuple([out, ir.Tuple(grads)]) if with_value else ir.Tuple(grads)
    backward = [ir.Assign(seed, seed_value, loc), *pullback, ir.Return(result)]
    body = [*forward, *backward]
    binds, _ = _counts(body, reads=False)  # the passes below bind nothing new
    # values are rewritten in the pullback only: the user's own code keeps its meaning
    _propagate_constants(backward, names, binds)
    shapes = _Shapes(analysis, bars, known_shapes)
    _fold_broadcasts(backward, shapes, binds)
    _first_writes(backward, shapes, binds, _loop_ranges(forward))
    _, reads = _counts(body)
    writes = {s.sid for s in ir.walk(forward) if isinstance(s, ir.Assign) and inplace_write(s, analysis)}
    _drop_dead(body, reads, writes)
    _inline(body, names, binds, reads)
    # what inlining put together (not the value returned: user code, where `x * 1.0` is a copy)
    tidied = {s.sid for s in (backward[:-1] if with_value else backward)}
    ir.map_exprs([s for s in body if s.sid in tidied], _fold_ones)
    _propagate_constants(backward, names, binds)  # (copies that folding made: `t = 1.0 * a`)
    _drop_dead(body, _counts(body)[1], writes)
    _free_dead(body, names, shapes)
    return ir.Function(name, fn.params, body, fn.loc, ssa=False, flat=False), shapes.used_dims


# ----- name bookkeeping on non-SSA code -----


def _counts(body: list[ir.Stmt], reads: bool = True) -> tuple[Counter, Counter]:
    """How often each name is bound, and read (unless not ``reads``), anywhere in ``body``."""
    binds, read = Counter(), Counter()
    for s in ir.walk(body):
        _tally(binds, ir.bound(s))
        if reads:
            _tally(read, ir.used(s))
    return binds, read


def _tally(counter: dict[str, int], names) -> dict[str, int]:
    """``counter.update(names)`` for a few names (``update`` first asks whether they are a mapping: an
    ``abc`` check that costs more than counting them)."""
    for n in names:
        counter[n] = counter.get(n, 0) + 1
    return counter


def _pure(e: ir.Expr) -> bool:
    """``e`` has no effect but its value: arithmetic, reads, literals, calls of NumPy, ``math``
    and builtin functions (not ``print``), of array methods and of s2sad's helpers that only compute."""
    if type(e) in _ATOMS:
        return True
    if isinstance(e, ir.Call):
        method = isinstance(e.func, ir.Attr) and e.func.attr in METHODS  # an array method: x.sum(axis=0)
        if not (method or (isinstance(e.func, ir.Ref) and _pure_callable(e.func.value))):
            return False
        if writes_into_argument(e):  # (out=, np.copyto, ...)
            return False
    elif not isinstance(e, (ir.Name, ir.Const, ir.Ref, ir.BinOp, ir.UnaryOp, ir.Compare, ir.Attr,
                            ir.Subscript, ir.Slice, ir.Tuple)):
        return False
    for c in ir.children(e):
        if not _pure(c):
            return False
    return True


_ATOMS = frozenset(ir.ATOMS)


def _pure_callable(fn: object) -> bool:
    module = getattr(fn, "__module__", None)
    if module in ("s2sad.runtime", "s2sad.runtime_numpy"):
        return fn not in runtime.EFFECTFUL
    if lookup(fn) is not None:
        return True  # the rule table: NumPy, math and operators
    try:
        known = fn in NONDIFFERENTIABLE
    except TypeError:
        return False
    return known and fn is not builtins.print and (isinstance(fn, np.ufunc) or module in ("numpy", "math", "builtins"))


# ----- constants -----


def _propagate_constants(body: list[ir.Stmt], names: set[str], binds: Counter) -> None:
    """Temporaries bound once, to a constant or to a name bound at most once, are replaced by it (then
    ``1.0 * a`` -> ``a``: in a cotangent; in the user's code ``x * 1.0`` is a copy, and may be a float
    copy of ints)."""
    consts: dict[str, ir.Expr] = {}
    while True:  # a constant put in may fold another statement to a constant
        found = {s.target: s.value for s in ir.walk(body) if isinstance(s, ir.Assign) and isinstance(s.target, str)
                 and s.target in names and binds[s.target] == 1 and (isinstance(s.value, ir.Const) or (
                     isinstance(s.value, ir.Name) and binds[s.value.id] <= 1))}
        if found.keys() <= consts.keys():
            return
        consts = found
        ir.map_exprs(body, lambda e: _fold_ones(ir.substitute(e, consts)))


def _fold_ones(e: ir.Expr) -> ir.Expr:
    """``1.0 * a`` -> ``a``, ``a / 1.0`` -> ``a``, ``-1.0 * a`` -> ``-a``, ``-(c)`` -> ``-c``,
    ``a + -b * c`` -> ``a - b * c`` (exact in floating point). Not inside ``scalar_seed(out)``: it reads
    the output for its type, which ``k * 1.0`` of an int ``k`` is not the same as ``k``'s."""
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and e.func.value is runtime.scalar_seed:
        return e
    if isinstance(e, ir.BinOp):
        left, right = _fold_ones(e.left), _fold_ones(e.right)
        if e.op == "*" and _is_float(left, 1.0) and not ir.boolean_valued(right):  # (1.0 * mask is a number)
            return right
        if e.op in ("*", "/") and _is_float(right, 1.0) and not ir.boolean_valued(left):
            return left
        if e.op == "*" and _is_float(left, -1.0) and not ir.boolean_valued(right):
            return ir.UnaryOp("-", right)
        positive = _without_sign(right) if e.op in ("+", "-") else None
        if positive is not None:
            return ir.BinOp("-" if e.op == "+" else "+", left, positive)
        return e if left is e.left and right is e.right else ir.BinOp(e.op, left, right)
    if isinstance(e, ir.UnaryOp):
        operand = _fold_ones(e.operand)
        if e.op == "-" and isinstance(operand, ir.Const) and type(operand.value) is float:
            return ir.Const(-operand.value)
        return e if operand is e.operand else ir.UnaryOp(e.op, operand)
    e = ir.map_children(e, _fold_ones)
    positive = _sum_without_sign(e)
    return e if positive is None else ir.UnaryOp("-", positive)  # the sign on the sum, not on every element


def _sum_without_sign(e: ir.Expr) -> ir.Expr | None:
    """``a.sum(...)`` for ``(-a).sum(...)`` (``np.sum`` too, and ``-a * b`` for ``-a``); None otherwise."""
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Attr) and e.func.attr == "sum" and not e.args:
        positive = _without_sign(e.func.value)
        return None if positive is None else ir.Call(ir.Attr(positive, "sum"), [], e.kwargs)
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and e.func.value is np.sum and e.args:
        positive = _without_sign(e.args[0])
        return None if positive is None else ir.Call(e.func, [positive, *e.args[1:]], e.kwargs)
    return None


def _without_sign(e: ir.Expr) -> ir.Expr | None:
    """``b`` for ``-b``, ``b * c`` for ``-b * c`` (and ``/``); None for anything else."""
    if isinstance(e, ir.UnaryOp) and e.op == "-":
        return e.operand
    if isinstance(e, ir.BinOp) and e.op in ("*", "/"):
        inner = _without_sign(e.left)
        return None if inner is None else ir.BinOp(e.op, inner, e.right)
    return None


def _is_float(e: ir.Expr, value: float) -> bool:
    return isinstance(e, ir.Const) and type(e.value) is float and e.value == value


# ----- broadcasts -----


class _Shapes:
    """Shape classes of expressions (two expressions with the same class have equal shapes)
    and, in a shape-specific derivative, concrete shapes."""

    def __init__(self, analysis: Analysis, bars: dict[str, str], known: bool = True) -> None:
        self.an = analysis
        self.known = known  # the concrete shapes may be used
        self.primal = {bar: name for name, bar in bars.items()}  # a cotangent has its primal's shape
        self.used_dims = False  # a rewrite relied on a concrete shape

    def dims(self, e: ir.Expr) -> tuple[int, ...] | None:
        """``e``'s concrete shape, where the analysis knows it (a shape-specific derivative)."""
        if isinstance(e, ir.Const):
            return () if isinstance(e.value, (int, float)) else None
        if isinstance(e, ir.Name):
            return self.an.dims.get(self.primal.get(e.id, e.id)) if self.known else None
        if isinstance(e, ir.UnaryOp) and e.op == "-":
            return self.dims(e.operand)
        if isinstance(e, ir.BinOp) and e.op in ("+", "-", "*", "/", "**"):
            left, right = self.dims(e.left), self.dims(e.right)
            return None if left is None or right is None else broadcast(left, right)
        return None

    def of(self, e: ir.Expr) -> str | None:
        if isinstance(e, ir.Const):
            return "()" if isinstance(e.value, (int, float)) else None
        if isinstance(e, ir.Name):
            n = self.primal.get(e.id, e.id)
            return "()" if n in self.an.scalars else self.an.shapes.get(n, n)
        if isinstance(e, ir.UnaryOp) and e.op == "-":
            return self.of(e.operand)
        if isinstance(e, ir.BinOp) and e.op in ("+", "-", "*", "/", "**"):
            return self._join([e.left, e.right])
        if isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and not e.kwargs:
            rule = lookup(e.func.value)
            if rule is not None and rule.elementwise:
                return self._join(e.args)
            if e.func.path in (("np", "size"), ("len",)):
                return "()"
        return None

    def array(self, e: ir.Expr) -> bool:
        """``e`` is known to be an array: it has a concrete shape of one or more dimensions, so
        NumPy operations on arrays made it (for arguments of other shapes, of these types, it
        is an array too, or a NumPy scalar that no one could have indexed): a property of the
        argument types, so it needs no ``known`` and marks nothing shape-specific."""
        return isinstance(e, ir.Name) and bool(self.an.dims.get(e.id))

    def _join(self, operands: list[ir.Expr]) -> str | None:
        """The class of an elementwise result: its array operands' common class."""
        classes = {self.of(o) for o in operands}
        if None in classes:
            return None
        classes.discard("()")
        return classes.pop() if len(classes) == 1 else "()" if not classes else None


def _fold_broadcasts(body: list[ir.Stmt], shapes: _Shapes, binds: Counter) -> None:
    """Replace a broadcast cotangent by its unbroadcast value where arithmetic broadcasts it anyway.

    Only values bound once, from names bound at most once (in the whole function: a
    reverse loop re-binds the forward values it replays), so the value means the same
    wherever it is put."""
    small: dict[str, tuple[ir.Expr, str]] = {}  # name -> (value before broadcasting, class it is broadcast to)
    for s in ir.walk(body):
        if isinstance(s, ir.Assign) and isinstance(s.target, str) and binds[s.target] == 1:
            found = _broadcast_of(s.value, shapes)
            if found is not None and all(binds[n] <= 1 for n in ir.names_read(found[0])):
                small[s.target] = found

    def fold(e: ir.Expr) -> ir.Expr:
        e = ir.map_children(e, fold)
        if isinstance(e, ir.BinOp) and e.op in ("+", "-", "*", "/"):
            left = _unbroadcast_operand(e.left, e.right, small, shapes)
            right = _unbroadcast_operand(e.right, left, small, shapes)  # not both: one keeps the shape
            return _fold_ones(ir.BinOp(e.op, left, right))
        if (isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and e.func.path == ("getitem_adjoint",)
                and isinstance(e.args[0], ir.Name) and e.args[0].id in small and shapes.array(e.args[1])):
            # into an array, NumPy broadcasts the value written at the index
            return ir.Call(e.func, [small[e.args[0].id][0], *e.args[1:]], e.kwargs)
        if isinstance(e, ir.Call) and isinstance(e.func, ir.Ref) and e.func.path == ("unbroadcast",):
            return _known_unbroadcast(e, shapes)
        return e

    ir.map_exprs(body, fold)  # (unbroadcast with known shapes is written out with or without fills)


def _known_unbroadcast(e: ir.Call, shapes: _Shapes) -> ir.Expr:
    """``unbroadcast(g, x)`` with both shapes known: the sum it does, written out
    (``g.sum(axis=0)``, as a person would), or ``g`` itself."""
    g, x = e.args
    gd, xd = shapes.dims(g), shapes.dims(x)
    if not gd or xd is None or len(xd) > len(gd):
        return e
    lead = len(gd) - len(xd)
    stretched = tuple(lead + i for i, n in enumerate(xd) if n == 1 and gd[lead + i] != 1)
    if stretched and lead:
        return e  # summed and reshaped: the helper says it better
    shapes.used_dims = True
    axes = (*range(lead), *stretched)
    if not axes:
        return g
    axis = ir.Const(axes[0]) if len(axes) == 1 else ir.Tuple([ir.Const(a) for a in axes])
    keep = [("keepdims", ir.Const(True))] if stretched else []
    return ir.Call(ir.Attr(g, "sum"), [], [("axis", axis), *keep])


def _broadcast_of(e: ir.Expr, shapes: _Shapes) -> tuple[ir.Expr, str] | None:
    """``np.broadcast_to(s, np.shape(r))`` (``s`` a scalar) or ``unreduce(g, r, ..., keepdims=True)``."""
    if not (isinstance(e, ir.Call) and isinstance(e.func, ir.Ref)):
        return None
    if e.func.path == ("np", "broadcast_to") and len(e.args) == 2 and shapes.of(e.args[0]) == "()":
        shape = e.args[1]
        if (isinstance(shape, ir.Call) and isinstance(shape.func, ir.Ref) and shape.func.path == ("np", "shape")
                and len(shape.args) == 1):
            target = shapes.of(shape.args[0])
            return None if target is None else (e.args[0], target)
    if e.func.path == ("unreduce",) and len(e.args) == 2 and dict(e.kwargs).get("keepdims") == ir.Const(True):
        target = shapes.of(e.args[1])
        return None if target is None else (e.args[0], target)
    return None


def _unbroadcast_operand(e: ir.Expr, other: ir.Expr, small: dict, shapes: _Shapes) -> ir.Expr:
    if isinstance(e, ir.Name) and e.id in small:
        value, target = small[e.id]
        if shapes.of(other) == target:
            return value
    return e


# ----- first writes -----


def _loop_ranges(forward: list[ir.Stmt]) -> set[str]:
    """Targets of forward ``for ... in range(...)`` loops: distinct on every iteration."""
    return {t for t in map(range_target, ir.walk(forward)) if t}


def _first_writes(stmts: list[ir.Stmt], shapes: _Shapes, binds: Counter, distinct: set[str]) -> None:
    """``t = add_at(t, g, i)`` in a loop over a tape, into an array buffer of zeros made just
    before the loop and touched by nothing else in it, with ``i`` distinct per iteration:
    ``t[i] = g``."""
    zeros: set[str] = set()
    for s in stmts:
        if isinstance(s, ir.Assign) and isinstance(s.target, str) and isinstance(s.value, ir.Call) \
                and isinstance(s.value.func, ir.Ref) and s.value.func.path == ("zeros_like",):
            zeros.add(s.target)
        elif isinstance(s, ir.If):
            _first_writes(s.body, shapes, binds, distinct)
            _first_writes(s.orelse, shapes, binds, distinct)
        elif isinstance(s, ir.Loop):
            inside = Counter(n for t in ir.walk(s.body) for e in ir.exprs(t) for n in ir.names_read(e))
            for t in s.body:
                v = t.value if isinstance(t, ir.Assign) else None
                if (isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) and v.func.path == ("add_at",)
                        and t.target in zeros and binds[t.target] == 2 and inside[t.target] == 1
                        and v.args[0] == ir.Name(t.target) and isinstance(v.args[2], ir.Name)
                        and v.args[2].id in distinct and v.args[2].id in s.targets
                        and shapes.array(ir.Name(shapes.primal.get(t.target, t.target)))):
                    t.value = ir.SetItem(v.args[0], v.args[2], v.args[1])
            _first_writes(s.body, shapes, binds, distinct)


# ----- dead code -----


def _drop_dead(body: list[ir.Stmt], reads: Counter, writes: set[int]) -> None:
    """Remove pure assignments whose targets nobody reads (what they read may become dead in turn), not
    ``writes`` (``y op= v`` in place: what it changes is read through other names); ``reads`` is kept up
    to date."""
    while _drop_unread(body, reads, writes):
        pass


def _drop_unread(stmts: list[ir.Stmt], reads: Counter, writes: set[int]) -> bool:
    dropped = False
    for i in range(len(stmts) - 1, -1, -1):
        s = stmts[i]
        if isinstance(s, ir.Assign):
            if not any(reads[t] for t in s.targets) and s.sid not in writes and _pure(s.value):
                reads.subtract(ir.names_read(s.value))
                del stmts[i]
                dropped = True
        elif isinstance(s, ir.If):
            dropped |= _drop_unread(s.body, reads, writes) | _drop_unread(s.orelse, reads, writes)
        elif isinstance(s, ir.Loop):
            dropped |= _drop_unread(s.body, reads, writes) | _drop_unread(s.cond_body, reads, writes)
    return dropped


# ----- freeing -----


def _free_dead(body: list[ir.Stmt], names: set[str], shapes: _Shapes) -> None:
    """After the statement of ``body`` (not of a region) that reads a temporary array for the last time,
    ``del`` it; only names the body itself binds before (bound on every path) and no later statement
    binds again, where more than the return follows."""
    if not shapes.known or not any(shapes.an.dims.values()):
        return  # no array of known shape: nothing to free
    last_read: dict[str, int] = {}
    last_bound: dict[str, int] = {}
    surely = {t: i for i, s in reversed(list(enumerate(body))) if isinstance(s, ir.Assign) for t in s.targets}
    for i, s in enumerate(body):
        for t in ir.walk([s]):
            for e in ir.exprs(t):
                for n in ir.names_read(e):
                    last_read[n] = i
        for n in (n for t in ir.walk([s]) for n in ir.bound(t)):
            last_bound[n] = i
    dead: dict[int, list[str]] = {}
    for n, i in last_read.items():
        if n in names and surely.get(n, i) < i and last_bound[n] < i < len(body) - 2 and shapes.dims(ir.Name(n)):
            dead.setdefault(i, []).append(n)
    for i in sorted(dead, reverse=True):
        body.insert(i + 1, ir.Del(sorted(dead[i]), body[i].loc))


# ----- inlining -----


def _ops(e: ir.Expr) -> int:
    own = isinstance(e, (ir.BinOp, ir.UnaryOp, ir.Call, ir.Compare, ir.Subscript))
    return own + sum(_ops(c) for c in ir.children(e))


class _Facts:
    """What inlining asks of a statement, computed once (and again when its value changes)."""

    __slots__ = ("reads", "pure", "bound", "simple")

    def __init__(self, s: ir.Stmt) -> None:
        self.simple = isinstance(s, (ir.Assign, ir.Return, ir.Do))  # no region
        self.reads: dict[str, int] = _tally({}, ir.used(s))
        self.pure = self.simple and _pure(s.value)
        self.bound = ir.bound(s)


def _inline(stmts: list[ir.Stmt], names: set[str], binds: Counter, reads: Counter) -> None:
    """Write each temporary whose value is read exactly once, later in ``stmts``, into its reader.

    A name may be bound several times (a cotangent that accumulates, ``a_bar = a_bar + c``)
    as long as all its bindings and reads are statements of this block (not in regions).
    """
    block = _Block(stmts)
    for i, s in enumerate(stmts):
        for region in (s.body, s.orelse) if isinstance(s, ir.If) else (s.cond_body, s.body) \
                if isinstance(s, ir.Loop) else ():
            _inline(region, names, binds, reads)
        t = s.target if isinstance(s, ir.Assign) else None
        if (isinstance(t, str) and t in names and binds[t] == block.binds[t] and reads[t] == block.reads[t]
                and t not in block.carried and block.facts[i].pure):
            block.inline(i)
    stmts[:] = [s for s, f in zip(stmts, block.facts) if f is not None]


class _Block:
    """One block's statements with where each name is read and bound, and where the regions
    and impure statements are, so that a temporary's reader is found without rescanning the
    block: inlining is linear in the block's length (up to logarithms). Inlined statements
    become ``None`` in ``facts`` until the block is rebuilt."""

    def __init__(self, stmts: list[ir.Stmt]) -> None:
        self.stmts = stmts
        self.facts: list[_Facts | None] = [_Facts(s) for s in stmts]
        self.binds, self.reads = Counter(), Counter()
        self.carried = set()  # read before this block binds them: in a loop body, the last iteration's value
        self.read_at: dict[str, list[int]] = {}  # name -> positions of the statements reading it, ascending
        self.bound_at: dict[str, list[int]] = {}
        self.regions: list[int] = []
        self.impure: list[int] = []  # regions too
        for k, f in enumerate(self.facts):
            self.carried.update(n for n in f.reads if not self.binds[n])
            _tally(self.binds, f.bound)
            for n, times in f.reads.items():
                self.reads[n] += times
            for n in f.reads:
                self.read_at.setdefault(n, []).append(k)
            for b in f.bound:
                self.bound_at.setdefault(b, []).append(k)
            if not f.simple:
                self.regions.append(k)
            if not f.pure:
                self.impure.append(k)

    def inline(self, i: int) -> bool:
        """Substitute statement ``i``'s value into the one later statement that reads it before it is
        bound again, if nothing between could change what it reads and the result stays small."""
        name, value = self.stmts[i].target, self.stmts[i].value
        rebound = _after(self.bound_at[name], i)  # the statement binding it again (it may read it first)
        end = len(self.stmts) if rebound is None else rebound + 1
        reader = _after(self.read_at.get(name, []), i)
        if reader is None or reader >= end or _before(self.regions, i, end):
            return False  # a region lies between (or after the reader, before a new binding): leave it
        if self.facts[reader].reads[name] > 1 or _before(self.read_at[name], reader, end):
            return False
        if _before(self.impure, i, reader) or any(_before(self.bound_at.get(d, []), i, reader)
                                                   for d in self.facts[i].reads):
            return False  # something between could change what the value reads
        new = ir.substitute(self.stmts[reader].value, {name: value})
        if _ops(new) > _MAX_OPS and _ops(value) > 0:
            return False
        self.stmts[reader].value = new
        _drop(self.read_at[name], reader)
        _drop(self.bound_at[name], i)
        for n in self.facts[i].reads:
            _drop(self.read_at[n], i)
            _insert(self.read_at[n], reader)
        self.facts[reader] = _Facts(self.stmts[reader])
        self.facts[i] = None
        return True


def _after(positions: list[int], i: int) -> int | None:
    """The first of the ascending ``positions`` after ``i``."""
    k = bisect.bisect_right(positions, i)
    return positions[k] if k < len(positions) else None


def _before(positions: list[int], i: int, end: int) -> bool:
    """Some position lies strictly between ``i`` and ``end``."""
    k = bisect.bisect_right(positions, i)
    return k < len(positions) and positions[k] < end


def _drop(positions: list[int], i: int) -> None:
    k = bisect.bisect_left(positions, i)
    if k < len(positions) and positions[k] == i:
        del positions[k]


def _insert(positions: list[int], i: int) -> None:
    k = bisect.bisect_left(positions, i)
    if k == len(positions) or positions[k] != i:
        positions.insert(k, i)
