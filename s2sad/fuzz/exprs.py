"""Random expressions of a given shape, over the names in scope.

Every float value has a static shape from ``SHAPES`` (``()`` is a scalar); an
expression generated for a shape has exactly that shape when it runs. The pieces:

- names in scope, float literals, broadcasting arithmetic (``+ - * / ** %`` and
  unary ``-``), with operand shapes drawn from the pairs that broadcast to the target;
- calls of the registered elementwise callables (``domains.callees``), each operand
  squashed into the callable's safe interval as ``c + r * np.tanh(e)``;
- the registered reductions with ``axis``/``keepdims`` (as functions and methods),
  index reads (int, negative, slices with steps, integer arrays with duplicates,
  constant and data-dependent boolean masks), ``@``, ``dot`` and ``.T``, a few shape
  operations, conditional expressions, and calls of helpers, closures and lambdas;
  list and dict reads.

``Exprs.tags`` counts the constructs drawn.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..rules import RULES
from .domains import Callee, callees

__all__ = ["SHAPES", "READS", "Exprs", "Float", "Int", "List", "Dict", "Func", "broadcasts"]

SHAPES = ((), (2,), (3,), (2, 3), (2, 1))


@dataclass(frozen=True)
class Float:
    """A float or float array of a static shape."""

    shape: tuple


@dataclass(frozen=True)
class Int:
    """A non-negative int below ``top`` (a loop counter, a range bound, an int argument)."""

    top: int


@dataclass(frozen=True)
class List:
    """A list of floats of one shape, at least ``length`` long."""

    elem: tuple
    length: int


@dataclass(frozen=True)
class Dict:
    """A dict from string keys to floats, each key with its shape."""

    items: tuple  # ((key, shape), ...)


@dataclass(frozen=True)
class Func:
    """A callable taking and returning one float of these shapes (helper, closure or lambda)."""

    params: tuple  # shapes of the positional parameters
    result: object  # a shape, or a list of shapes for a tuple return
    keywords: tuple = ()  # optional float parameters a call may pass by keyword: ((name, shape), ...)
    depth: bool = False  # takes a recursion depth (an int) after its float parameters


# index reads: source shape -> (index text, result shape, construct)
READS = {
    (3,): [("[1]", (), "read_int"), ("[-1]", (), "read_negative"), ("[::2]", (2,), "read_slice_step"),
           ("[:2]", (2,), "read_slice"), ("[1:]", (2,), "read_slice"), ("[::-1]", (3,), "read_slice_step"),
           ("[[0, 0, 2]]", (3,), "read_fancy_dup"), ("[np.array([2, 2])]", (2,), "read_fancy_dup"),
           ("[np.array([True, False, True])]", (2,), "read_mask_const")],
    (2,): [("[0]", (), "read_int"), ("[-2]", (), "read_negative"), ("[::-1]", (2,), "read_slice_step"),
           ("[[1, 1, 0]]", (3,), "read_fancy_dup")],
    (2, 3): [("[1]", (3,), "read_int"), ("[-1]", (3,), "read_negative"), ("[0, 2]", (), "read_int"),
             ("[-1, -2]", (), "read_negative"), ("[:, 1]", (2,), "read_slice"), ("[:, 1:2]", (2, 1), "read_slice"),
             ("[:, -1:]", (2, 1), "read_negative"), ("[::-1]", (2, 3), "read_slice_step"),
             ("[::-1, ::-2][:, 0]", (2,), "read_slice_step"), ("[[1, 0, 1], [2, 2, 0]]", (3,), "read_fancy_dup"),
             ("[[0, 0]]", (2, 3), "read_fancy_dup"), ("[:, [0, 0, 2]]", (2, 3), "read_fancy_dup"),
             ("[..., 0]", (2,), "read_ellipsis"), ("[np.array([False, True])][0]", (3,), "read_mask_const"),
             ("[:, None, 1][:, 0]", (2,), "read_newaxis")],
    (2, 1): [("[:, 0]", (2,), "read_slice"), ("[1, 0]", (), "read_int"), ("[::-1]", (2, 1), "read_slice_step"),
             ("[[1, 1]]", (2, 1), "read_fancy_dup"), ("[::-1][:, -1]", (2,), "read_negative")],
}

# products and shape operations: (result shape or "*" for any, template, operand shapes, construct)
TEMPLATES = [
    ((), "{0} @ {1}", [(3,), (3,)], "matmul"), ((), "np.dot({0}, {1})", [(2,), (2,)], "dot"),
    ((2,), "{0} @ {1}", [(2, 3), (3,)], "matmul"), ((2,), "np.dot({0}, {1})", [(2, 3), (3,)], "dot"),
    ((3,), "{0} @ {1}", [(2,), (2, 3)], "matmul"), ((3,), "{0}.T @ {1}", [(2, 3), (2,)], "transpose"),
    ((2, 3), "({0} @ {1}.T) @ {2}", [(2, 3), (2, 3), (2, 3)], "matmul"),
    ((2, 1), "{0} @ {1}.T[:, :1]", [(2, 3), (2, 3)], "matmul"),
    ((2, 3), "({0}.T * {1}[:, None]).T", [(2, 3), (3,)], "transpose"),
    ((3,), "{0}.dot({1})", [(2,), (2, 3)], "dot"),
    ((2, 3), "np.outer({0}, {1})", [(2,), (3,)], "shape_op"), ((2, 3), "np.stack([{0}, {1}])", [(3,), (3,)], "shape_op"),
    ((3,), "np.concatenate([{0}, {1}])[1:4]", [(3,), (3,)], "shape_op"),
    ((2, 3), "np.reshape({0}, (3, 2)).T", [(2, 3)], "shape_op"), ((3,), "np.cumsum({0})", [(3,)], "shape_op"),
    ((2, 3), "np.cumsum({0}, axis=1)", [(2, 3)], "shape_op"), ((2, 3), "np.flip({0}, 0)", [(2, 3)], "shape_op"),
    ((3,), "np.roll({0}, 1)", [(3,)], "shape_op"), ((2,), "np.diff({0})", [(3,)], "shape_op"),
    ((3,), "np.sort({0})", [(3,)], "shape_op"), ((2,), "np.einsum('ij,j->i', {0}, {1})", [(2, 3), (3,)], "shape_op"),
    ((), "np.linalg.norm({0})", [(3,)], "shape_op"), ((2,), "np.squeeze({0}, 1)", [(2, 1)], "shape_op"),
    ((2, 1), "np.expand_dims({0}, 1)", [(2,)], "shape_op"), ((2, 3), "np.broadcast_to({0}, (2, 3))", [(3,)], "shape_op"),
    ((2, 1), "{0}.reshape(2, 1)", [(2,)], "shape_op"), ("*", "np.where({0} > 0.1, {1}, {2})", ["*", "*", "*"], "where"),
    ("*", "np.clip({0}, -0.5, 0.8)", ["*"], "clip"),
]


@functools.cache
def broadcasts(target: tuple) -> tuple:
    """The pairs of shapes (from ``SHAPES``) that broadcast to ``target``."""
    pairs = []
    for a, b in itertools.product(SHAPES, SHAPES):
        try:
            if np.broadcast_shapes(a, b) == target:
                pairs.append((a, b))
        except ValueError:
            continue
    return tuple(pairs)


@functools.cache
def reductions() -> tuple:
    """(text, source shape, call suffix, result shape, kinked) for every registered reduction and axes.

    A reduction over a single element is left out (``std`` of one number has no derivative).
    ``kinked``: the reduction has a kink at a constant array (``std``), probed numerically.
    """
    found = []
    names = {rule.name: fn for fn, rule in RULES.items() if rule.reduction}
    for name, fn in sorted(names.items()):
        text = name.replace("numpy.", "np.", 1)
        kinked = _kinked_at_constant(fn)
        for shape in SHAPES[1:]:
            for axis, keep in itertools.product((None, 0, 1, -1, (0, 1)), (False, True)):
                try:
                    out = np.shape(np.sum(np.ones(shape), axis=axis, keepdims=keep))
                except ValueError:  # NumPy's AxisError is a ValueError
                    continue
                if np.prod(shape) // max(int(np.prod(out)), 1) < 2:
                    continue
                suffix = "" if axis is None and not keep else f", axis={axis}" + (", keepdims=True" if keep else "")
                found.append((text, shape, suffix, out, kinked))
    return tuple(found)


def _kinked_at_constant(fn) -> bool:
    """True when ``fn`` grows like ``|h|`` away from a constant array (as ``std``): a kink there."""
    d, h = np.array([0.3, -0.8, 0.5]), 1e-4
    with np.errstate(all="ignore"):
        base, up, down = (float(fn(np.full(3, 0.7) + s * d)) for s in (0.0, h, -h))
    return abs(up + down - 2 * base) > 1e-3 * h


class Exprs:
    """Draws expressions; subclassed by the statement generator, which owns the scope."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.tags: Counter = Counter()
        self.scope: dict = {}
        self.imports: set = set()

    # ----- small helpers -----

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, items):
        return items[int(self.rng.integers(len(items)))]

    def const(self) -> str:
        return f"{float(self.rng.choice([-1.0, 1.0])) * float(self.rng.integers(1, 20)) / 10:.1f}"

    def names(self, kind) -> list:
        return [n for n, t in self.scope.items() if t == kind]

    # ----- expressions -----

    def expr(self, shape: tuple, depth: int = 2) -> str:
        """An expression of exactly ``shape``."""
        if depth <= 0 or self.chance(0.2):
            return self.leaf(shape)
        kinds = [self.binary, self.binary, self.call, self.call, self.read, self.reduce, self.template,
                 self.negate, self.conditional, self.user_call, self.container_read]
        for _ in range(4):
            text = self.pick(kinds)(shape, depth - 1)
            if text is not None:
                return text
        return self.leaf(shape)

    def leaf(self, shape: tuple) -> str:
        """A name of ``shape``, else one read, reduced or broadcast to it, else a constant."""
        names = self.names(Float(shape))
        if names and self.chance(0.85):
            self.tags["name"] += 1
            return self.pick(names)
        floats = [(n, t.shape) for n, t in self.scope.items() if isinstance(t, Float)]
        smaller = [n for n, s in floats if s != shape and any(b == s for a, b in broadcasts(shape) if a == shape)]
        larger = [(n, idx) for n, s in floats for idx, out, _ in READS.get(s, ()) if out == shape]
        options = [f"np.ones({shape}) * {n}" for n in smaller] * bool(shape) + [n + i for n, i in larger]
        options += [f"np.sum({n})" for n, s in floats if s] * (shape == ())
        ints = [n for n, t in self.scope.items() if isinstance(t, Int)]
        options += [f"{n} * {self.const()}" for n in ints] * (shape == ())
        if options and self.chance(0.8):
            return self.pick(options)
        return self.const() if shape == () else f"np.full({shape}, {self.const()})"

    def binary(self, shape: tuple, depth: int) -> str:
        ops = [c for c in callees() if c.operator]
        op = self.pick(ops)
        a, b = (shape, shape) if op.constant else self.pick(broadcasts(shape))
        self.tags[f"op {op.text}"] += 1
        if a != b:
            self.tags["broadcast"] += 1
        x, y = (self.operand(op, k, s, depth) for k, s in enumerate((a, b)))
        return f"({x} {op.text} {y})"

    def operand(self, fn: Callee, k: int, shape: tuple, depth: int) -> str:
        """An operand in ``fn``'s safe interval for argument ``k``: squashed unless it is unbounded;
        the literal constant where the rule does not differentiate argument ``k``."""
        c, r = fn.domains[k]
        if r == 0.0:
            self.tags["constant_operand"] += 1
            return str(int(c)) if c.is_integer() else str(c)
        inner = self.expr(shape, depth)
        if r >= 50.0:
            return inner
        tanh = "np.tanh" if fn.arrays or shape else "math.tanh"
        return f"({c} + {r} * {tanh}({inner}))"

    def call(self, shape: tuple, depth: int) -> str:
        usable = [c for c in callees() if not c.operator and (c.arrays or shape == ())]
        fn = self.pick(usable)
        self.tags[f"call {fn.text}"] += 1
        if fn.module:
            self.imports.add(fn.module)
        pairs = [(shape, shape)] if fn.arity == 1 or not fn.arrays or fn.constant else broadcasts(shape)
        shapes = self.pick(pairs)[: fn.arity]
        return f"{fn.text}({', '.join(self.operand(fn, k, s, depth) for k, s in enumerate(shapes))})"

    def negate(self, shape: tuple, depth: int) -> str:
        self.tags["unary -"] += 1
        return f"-{self.expr(shape, depth)}"

    def conditional(self, shape: tuple, depth: int) -> str:
        self.tags["conditional_expr"] += 1
        return f"({self.expr(shape, depth)} if {self.condition(depth)} else {self.expr(shape, depth)})"

    def read(self, shape: tuple, depth: int) -> str | None:
        options = [(src, idx, tag) for src, reads in READS.items() for idx, out, tag in reads if out == shape]
        ints = [(n, t.top) for n, t in self.scope.items() if isinstance(t, Int)]
        if shape == () and self.chance(0.3):
            return self.mask_read(depth)
        if ints and self.chance(0.3):
            name, top = self.pick(ints)
            fits = [s for s in SHAPES if s and s[0] >= top and s[1:] == shape]
            if fits:
                self.tags["read_loop_index"] += 1
                return f"{self.operand_name(self.pick(fits), depth)}[{name}]"
        if not options:
            return None
        src, idx, tag = self.pick(options)
        self.tags[tag] += 1
        return f"{self.operand_name(src, depth)}{idx}"

    def operand_name(self, shape: tuple, depth: int) -> str:
        """A name of ``shape`` if one is in scope (indexing reads a variable), else a parenthesised expression."""
        names = self.names(Float(shape))
        return self.pick(names) if names and self.chance(0.7) else f"({self.expr(shape, depth)})"

    def mask_read(self, depth: int) -> str:
        shape = self.pick(SHAPES[1:])
        x = self.operand_name(shape, depth)
        mask = f"{x} > {self.const()}" if self.chance(0.5) else f"{self.operand_name(shape, depth)} < {self.const()}"
        self.tags["read_mask"] += 1
        return f"np.sum({x}[{mask}])"

    def reduce(self, shape: tuple, depth: int) -> str | None:
        options = [r for r in reductions() if r[3] == shape]
        if not options:
            return None
        text, src, suffix, _, kinked = self.pick(options)
        self.tags[f"reduce {text}"] += 1
        if suffix:
            self.tags["reduce_axis"] += 1
        if "keepdims" in suffix:
            self.tags["reduce_keepdims"] += 1
        method = text.startswith("np.") and text[3:] in ("sum", "mean", "max", "min", "prod", "var", "std")
        if text.startswith("scipy"):
            self.imports.add("scipy.special")
        if kinked:  # keep it away from a constant array (a broadcast scalar): add a ramp
            return f"{text}({self.expr(src, depth)} + np.linspace(0.0, 1.0, {int(np.prod(src))}).reshape({src}){suffix})"
        if method and self.chance(0.4):
            self.tags["reduce_method"] += 1
            return f"{self.operand_name(src, depth)}.{text[3:]}({suffix[2:]})"
        return f"{text}({self.expr(src, depth)}{suffix})"

    def template(self, shape: tuple, depth: int) -> str | None:
        options = [t for t in TEMPLATES if t[0] in (shape, "*")]
        out, text, operands, tag = self.pick(options)
        self.tags[tag] += 1
        return text.format(*(self.expr(shape if s == "*" else s, depth) for s in operands))

    def user_call(self, shape: tuple, depth: int) -> str | None:
        fns = [(n, t) for n, t in self.scope.items() if isinstance(t, Func) and t.result == shape]
        if not fns:
            return None
        name, fn = self.pick(fns)
        self.tags["call_user_function"] += 1
        return f"{name}({self.call_args(fn, depth)})"

    def call_args(self, fn: Func, depth: int) -> str:
        """Arguments for a call of ``fn``: its positional floats, a recursion depth, some keywords."""
        args = [self.expr(s, depth) for s in fn.params]
        if fn.depth:
            ints = [n for n, t in self.scope.items() if isinstance(t, Int) and t.top <= 4]
            args.append(self.pick(ints) if ints and self.chance(0.5) else str(int(self.rng.integers(0, 4))))
        for key, shape in fn.keywords:
            if self.chance(0.5):
                self.tags["call_keyword"] += 1
                args.append(f"{key}={self.expr(shape, depth)}")
        return ", ".join(args)

    def container_read(self, shape: tuple, depth: int) -> str | None:
        lists = [(n, t) for n, t in self.scope.items() if isinstance(t, List) and t.elem == shape and t.length]
        dicts = [(n, k) for n, t in self.scope.items() if isinstance(t, Dict) for k, s in t.items if s == shape]
        if lists and (not dicts or self.chance(0.5)):
            name, t = self.pick(lists)
            self.tags["list_read"] += 1
            return f"{name}[{self.pick(['0', '-1', str(t.length - 1)])}]"
        if dicts:
            name, key = self.pick(dicts)
            self.tags["dict_read"] += 1
            return f"{name}[{key!r}]"
        if shape == () and any(isinstance(t, List) and t.elem == () for t in self.scope.values()):
            self.tags["builtin_sum_list"] += 1
            return f"sum({self.pick([n for n, t in self.scope.items() if isinstance(t, List) and t.elem == ()])})"
        return None

    def condition(self, depth: int = 1) -> str:
        """A test on values, away from ties: compares with constants the values are unlikely to equal."""
        ints = [n for n, t in self.scope.items() if isinstance(t, Int)]
        if ints and self.chance(0.25):
            self.tags["condition_int"] += 1
            return f"{self.pick(ints)} {self.pick(['>', '<', '>=', '!='])} {int(self.rng.integers(0, 3))}"
        for _ in range(3):  # a test that reads a variable
            value = self.expr((), depth) if self.chance(0.6) else f"np.sum({self.expr(self.pick(SHAPES[1:]), depth)})"
            if any(n in self.scope for n in re.findall(r"[A-Za-z_]\w*", value)):
                break
        test = f"{value} {self.pick(['>', '<', '>=', '<='])} {self.const()}"
        roll = self.rng.random()
        if roll < 0.1:
            self.tags["condition_chained"] += 1
            return f"{self.const()} < {value} < {self.const()}"
        if roll < 0.2:
            self.tags["condition_bool_op"] += 1
            return f"{test} {self.pick(['and', 'or'])} {self.expr((), 0)} > {self.const()}"
        if roll < 0.25:
            self.tags["condition_not"] += 1
            return f"not {test}"
        return test
