"""The seeded random program generator: program ``index`` of ``seed`` is plain Python source.

``generate(seed, index)`` draws a module with ``import math``, ``import numpy as
np``, zero to three helper functions and the function ``f`` taking one to three
float or array arguments (sometimes an int, sometimes a dict of arrays), and
returns a ``Program``: the source, the arguments, and the constructs it used. Its
random stream depends on ``(seed, index)`` only, so any program is reproduced alone.

Statements come from the subset the README promises: assignments, augmented
assignments, tuple unpacking and swaps, aliasing and rebinding; arrays created in the
function written in place (``=``, ``+=``, ``-=``, ``*=``, ``/=``) through int, slice,
fancy and mask indices, also in loops, and whole arrays updated in place (also
through another name or a view); lists (literals, ``append``, ``extend``, ``pop``,
concatenation) and dicts (literals, item writes, iteration); ``if``/``elif``/``else``;
``for`` over ``range``, arrays, ``enumerate``, ``zip``, lists, tuples and dicts;
``while``; ``break``, ``continue`` and early ``return`` at any depth; helpers with
keyword arguments, defaults and tuple returns; recursion; nested ``def`` and lambdas
capturing values. Loops are bounded, so every program ends quickly.

Each program is run once plainly while it is drawn: one that fails or whose output
is not finite and moderate is drawn again from the same stream.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..pytree import leaves
from .domains import callees
from .exprs import READS, SHAPES, Dict, Exprs, Float, Func, Int, List, broadcasts

__all__ = ["Program", "generate", "run_plain", "REFUSABLE"]

# constructs the README says s2sad may refuse with a clear error, each with a pattern its error
# message matches: a refusal that no construct of the program explains is a false refusal
REFUSABLE = {
    "alias_write": r"shares memory|writes through|view or alias",
    "view_write": r"writes through|view or alias|shares memory",
    "list_item_write": r"list",
    "dict_iter": r"dict|iterable",
    "loop_rebinds_to_view": r"came from an argument|shares memory|writes through",
}

INPLACE_OPS = ("=", "+=", "-=", "*=", "/=")


def _viewed(node: ast.expr) -> ast.expr | None:
    """What ``node`` is a view of (``y[1:]``, ``y.T``, ``y.reshape(...)``), or None (fancy indexing copies)."""
    if isinstance(node, ast.Subscript):
        fancy = any(isinstance(n, ast.List | ast.Call | ast.Compare) for n in ast.walk(node.slice))
        return None if fancy else node.value
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "reshape", "ravel", "transpose", "squeeze", "swapaxes"):
        return node.func.value
    return None


@dataclass
class Program:
    """A generated module: its source, the function's name and arguments, the constructs used."""

    seed: int
    index: int
    source: str
    args: tuple
    tags: Counter = field(default_factory=Counter)
    name: str = "f"

    @property
    def label(self) -> str:
        return f"--seed {self.seed} --index {self.index}"


@dataclass(frozen=True)
class Ctx:
    """Where a statement is: in a loop (break/continue allowed), at what depth, returning what."""

    out: object
    loop: bool = False
    nesting: int = 0


class Gen(Exprs):
    """Draws one program; ``Exprs`` draws its expressions over ``self.scope``."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng)
        self.counter: Counter[str] = Counter()
        self.owned: set = set()  # arrays and containers this function created (writable)
        self.views: dict = {}  # name -> the name of the array it shares memory with
        self.captured: set = set()
        self.assigned: Counter = Counter()

    def fresh(self, prefix: str) -> str:
        self.counter[prefix] += 1
        return f"{prefix}{self.counter[prefix]}"

    def bind(self, name: str, kind, owned: bool = False) -> None:
        """Record an assignment to ``name``: its kind, whether it may be written in place."""
        self.scope[name] = kind
        self.assigned[name] += 1
        self.owned.discard(name)
        self.views.pop(name, None)
        if owned:
            self.owned.add(name)

    @contextlib.contextmanager
    def nested(self):
        """A block: names first bound in it are dropped after, lists keep their shortest length."""
        scope, owned, views = dict(self.scope), set(self.owned), dict(self.views)
        yield
        merged = {}
        for name, kind in scope.items():
            now = self.scope.get(name)
            if isinstance(kind, List) and isinstance(now, List):
                kind = List(kind.elem, min(kind.length, now.length))
            merged[name] = kind
        self.scope, self.owned = merged, owned & self.owned
        # a name made a view of a created array in the block, that was neither before it (it may still
        # be a view of an argument on the other path), is not known to be writable after it
        self.views = {**views, **{k: v for k, v in self.views.items() if k in merged and (k in views or k in owned)}}

    # ----- blocks and statements -----

    def block(self, count: int, depth: int, ctx: Ctx) -> list[str]:
        lines: list[str] = []
        for _ in range(count):
            lines += self.statement(depth, ctx)
        return lines or ["pass"]

    def statement(self, depth: int, ctx: Ctx) -> list[str]:
        simple = [self.assign_new, self.assign_new, self.assign_existing, self.assign_existing, self.augassign,
                  self.unpack, self.create_array, self.index_write, self.index_write, self.whole_array_update,
                  self.list_statement, self.dict_statement, self.alias]
        compound = [self.if_statement, self.for_statement, self.for_statement, self.while_statement]
        extra = [self.exit_statement] * (2 if ctx.loop else 1) + ([self.define_function] if ctx.nesting == 0 else [])
        options = simple + (compound if depth > 0 else []) + extra
        lines = self.pick(options)(depth, ctx) or self.assign_new(depth, ctx)
        if len(lines) == 1:
            self.track(ast.parse(lines[0]).body[0])
        return lines

    def track(self, node: ast.stmt) -> None:
        """Record which names and containers share memory with arrays the function created.

        A later in-place write into such an array is tagged ``alias_write``, as is an augmented
        assignment to a container item that is one.
        """
        if isinstance(node, ast.Assign):
            for target in node.targets:
                pairs = zip(target.elts, node.value.elts) if isinstance(target, ast.Tuple) and isinstance(
                    node.value, ast.Tuple) and len(target.elts) == len(node.value.elts) else [(target, node.value)]
                for one, value in pairs:  # `y1, y2 = a1, e` binds y1 to a1's memory as `y1 = a1` does
                    holder = one.value if isinstance(one, ast.Subscript) else one
                    base = next(iter(sorted(self.aliases(value))), None)
                    if isinstance(holder, ast.Name) and base and holder.id != base:
                        self.views[holder.id] = base
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            shared = set().union(*(self.aliases(a) for a in node.value.args))
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and shared:
                self.views[func.value.id] = min(shared)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Subscript):
            holder = node.target.value
            if isinstance(holder, ast.Name) and not isinstance(self.scope.get(holder.id), Float) \
                    and holder.id in self.views:
                self.tags["alias_write"] += 1

    def aliases(self, node: ast.expr) -> set:
        """The created arrays whose memory the value of ``node`` may share (a name, a view, a container)."""
        if isinstance(node, ast.Name):
            name = node.id
            if name in self.views:
                return {self.views[name]}
            return {name} if name in self.owned and isinstance(self.scope.get(name), Float) else set()
        if isinstance(node, ast.Subscript | ast.Attribute | ast.Call):
            inner = _viewed(node)
            return set() if inner is None else self.aliases(inner)
        if isinstance(node, ast.IfExp):
            return self.aliases(node.body) | self.aliases(node.orelse)
        if isinstance(node, ast.List | ast.Tuple):
            return set().union(*(self.aliases(e) for e in node.elts))
        if isinstance(node, ast.Dict):
            return set().union(*(self.aliases(e) for e in node.values))
        return set()

    def assign_new(self, depth: int, ctx: Ctx) -> list[str]:
        shape = self.pick(SHAPES)
        name = self.fresh("v" if shape == () else "y")
        value = self.expr(shape, 2)
        self.bind(name, Float(shape))
        self.tags["assign"] += 1
        return [f"{name} = {value}"]

    def assign_existing(self, depth: int, ctx: Ctx) -> list[str]:
        floats = [n for n, t in self.scope.items() if isinstance(t, Float)]
        if not floats:
            return []
        name = self.pick(floats)
        value = self.expr(self.scope[name].shape, 2)
        if ctx.loop and name in self.owned and self.may_view_other(ast.parse(value, mode="eval").body):
            # a write into `name` drawn earlier in the loop's body writes, on the next iteration, into
            # memory the function did not create (an argument's, through a view): a documented refusal
            self.tags["loop_rebinds_to_view"] += 1
        self.rebind(name)
        self.tags["rebind"] += 1
        return [f"{name} = {value}"]

    def may_view_other(self, node: ast.expr) -> bool:
        """May ``node``'s value share memory with an array this function did not create?"""
        while (inner := _viewed(node)) is not None:
            node = inner
        return isinstance(node, ast.Name) and node.id not in self.owned and node.id not in self.views

    def rebind(self, name: str) -> None:
        if name in self.captured:
            self.tags["capture_rebound"] += 1
        self.bind(name, self.scope[name])

    def augassign(self, depth: int, ctx: Ctx) -> list[str]:
        scalars = self.names(Float(()))
        if not scalars:
            return []
        name, op = self.pick(scalars), self.pick(["+=", "-=", "*="])
        value = self.expr((), 1)
        self.rebind(name)
        self.tags[f"augassign {op}"] += 1
        return [f"{name} {op} {value}"]

    def unpack(self, depth: int, ctx: Ctx) -> list[str]:
        floats = [n for n, t in self.scope.items() if isinstance(t, Float)]
        same = [(a, b) for a in floats for b in floats if a < b and self.scope[a] == self.scope[b]]
        if same and self.chance(0.4):
            a, b = self.pick(same)
            if ctx.loop and (a in self.owned) != (b in self.owned):
                # the array the function made and one it did not trade places: a write into the made one
                # drawn earlier in the loop's body writes, on the next iteration, into the other's memory
                self.tags["loop_rebinds_to_view"] += 1
            self.rebind(a)
            self.rebind(b)
            self.tags["swap"] += 1
            return [f"{a}, {b} = {b}, {a}"]
        tuple_fns = [(n, t) for n, t in self.scope.items() if isinstance(t, Func) and isinstance(t.result, list)]
        if tuple_fns and self.chance(0.5):
            fname, fn = self.pick(tuple_fns)
            shapes, call = fn.result, True
            value = f"{fname}({self.call_args(fn, 1)})"
        else:
            shapes, call = [self.pick(SHAPES), self.pick(SHAPES)], False
            value = ", ".join([self.expr(s, 1) for s in shapes])
        targets = [self.fresh("v" if s == () else "y") for s in shapes]
        for t, s in zip(targets, shapes):
            self.bind(t, Float(s))
        self.tags["tuple_unpack_call" if call else "tuple_unpack"] += 1
        return [f"{', '.join(targets)} = {value}"]

    def alias(self, depth: int, ctx: Ctx) -> list[str]:
        arrays = [n for n in self.owned if isinstance(self.scope.get(n), Float) and self.scope[n].shape]
        if not arrays:
            return []
        base = self.pick(sorted(arrays))
        shape = self.scope[base].shape
        name = self.fresh("z")
        if self.chance(0.5):
            self.bind(name, Float(shape))
            self.tags["alias"] += 1
            self.views[name] = base
            return [f"{name} = {base}"]
        reads = [(idx, out) for idx, out, tag in READS[shape] if tag in ("read_int", "read_slice") and out]
        if not reads:
            return []
        idx, out = self.pick(reads)
        self.bind(name, Float(out))
        self.views[name] = base
        self.tags["view"] += 1
        return [f"{name} = {base}{idx}"]

    def create_array(self, depth: int, ctx: Ctx) -> list[str]:
        shape = self.pick(SHAPES[1:])
        name = self.fresh("a")
        forms = [f"np.zeros({shape})", f"np.ones({shape}) * {self.expr((), 1)}", f"({self.expr(shape, 1)}).copy()",
                 f"np.array({self.expr(shape, 1)})", f"np.full({shape}, {self.const()})"]
        value = self.pick(forms)
        self.bind(name, Float(shape), owned=True)
        self.tags["create_array"] += 1
        return [f"{name} = {value}"]

    def written(self, name: str) -> None:
        """Tag a write into ``name`` that another live name or view sees."""
        base = self.views.get(name, name)
        if name in self.views:
            self.tags["view_write"] += 1
        if {name, base} & self.captured:
            self.tags["capture_rebound"] += 1
        if any(b == base for k, b in self.views.items() if k != name and k in self.scope):
            self.tags["alias_write"] += 1

    def writable(self) -> list[str]:
        return sorted(n for n in set(self.owned) | set(self.views)
                      if isinstance(self.scope.get(n), Float) and self.scope[n].shape
                      and (n in self.owned or self.views[n] in self.owned))

    def index_write(self, depth: int, ctx: Ctx) -> list[str]:
        arrays = self.writable()
        if not arrays:
            return []
        name = self.pick(arrays)
        shape, op = self.scope[name].shape, self.pick(INPLACE_OPS)
        ints = [n for n, t in self.scope.items() if isinstance(t, Int) and t.top <= shape[0]]
        if ints and shape[1:] in SHAPES and self.chance(0.5):
            idx, out, tag = f"[{self.pick(ints)}]", shape[1:], "write_loop_index"
        elif self.chance(0.2):
            idx, out, tag = f"[{self.operand_name(shape, 1)} > {self.const()}]", (), "write_mask"
        else:
            idx, out, tag = self.pick([r for r in READS[shape] if "mask" not in r[2] and "newaxis" not in r[2]
                                       and ")[" not in r[0] and "][" not in r[0]])
            tag = tag.replace("read", "write")
        value = self.operand(self.divisor(), 1, out, 1) if op == "/=" else self.expr(out, 1)
        self.written(name)
        self.tags[tag] += 1
        self.tags[f"write {op}"] += 1
        return [f"{name}{idx} {op} {value}"]

    def divisor(self):
        """The registered ``/`` (its safe interval for the divisor)."""
        return next(c for c in callees() if c.text == "/")

    def whole_array_update(self, depth: int, ctx: Ctx) -> list[str]:
        arrays = self.writable()
        if not arrays:
            return []
        name = self.pick(arrays)
        shape, op = self.scope[name].shape, self.pick(INPLACE_OPS[1:])
        value_shape = self.pick([b for a, b in _into(shape)])
        value = self.operand(self.divisor(), 1, value_shape, 1) if op == "/=" else self.expr(value_shape, 1)
        self.written(name)
        self.tags[f"whole_array {op}"] += 1
        return [f"{name} {op} {value}"]

    def exit_statement(self, depth: int, ctx: Ctx) -> list[str]:
        if ctx.loop and self.chance(0.6):
            word = self.pick(["break", "continue"])
        else:
            word = f"return {self.result(ctx.out)}"
        self.tags[f"{word.split()[0]} at depth {min(ctx.nesting, 3)}"] += 1
        return [f"if {self.condition()}:", f"    {word}"]

    def result(self, out) -> str:
        """An expression of the function's output type: a float, an array, or a tuple, list or dict of them."""
        if isinstance(out, tuple) and out and out[0] in ("tuple", "list", "dict"):
            kind, shapes = out
            parts = [self.expr(s, 2) for s in shapes]
            if kind == "dict":
                return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip("abc", parts)) + "}"
            return f"({', '.join(parts)})" if kind == "tuple" else f"[{', '.join(parts)}]"
        return self.expr(out, 2)

    # ----- containers -----

    def list_statement(self, depth: int, ctx: Ctx) -> list[str]:
        lists = [n for n in self.owned if isinstance(self.scope.get(n), List)]
        if not lists or self.chance(0.25):
            elem = self.pick(SHAPES[:3])
            name = self.fresh("l")
            items = [self.expr(elem, 1) for _ in range(int(self.rng.integers(1, 4)))]
            self.bind(name, List(elem, len(items)), owned=True)
            self.tags["list_literal"] += 1
            return [f"{name} = [{', '.join(items)}]"]
        name = self.pick(sorted(lists))
        kind = self.scope[name]
        choice = self.pick(["append", "extend", "pop", "concat", "item_write"])
        if choice == "pop" and (kind.length < 2 or ctx.loop):
            choice = "append"
        self.tags[f"list_{choice}"] += 1
        if choice == "item_write":
            self.tags["list_item_write"] += 1
            return [f"{name}[{self.pick(['0', '-1'])}] = {self.expr(kind.elem, 1)}"] if kind.length else []
        grow = {"append": 1, "extend": 2, "pop": -1, "concat": 1}[choice]
        self.scope[name] = List(kind.elem, kind.length + grow)
        if choice == "append":
            return [f"{name}.append({self.expr(kind.elem, 1)})"]
        if choice == "extend":
            return [f"{name}.extend([{self.expr(kind.elem, 1)}, {self.expr(kind.elem, 1)}])"]
        if choice == "pop":
            return [f"{name}.pop()"]
        self.owned.add(name)
        return [f"{name} = {name} + [{self.expr(kind.elem, 1)}]"]

    def dict_statement(self, depth: int, ctx: Ctx) -> list[str]:
        dicts = [n for n in self.owned if isinstance(self.scope.get(n), Dict)]
        if not dicts or self.chance(0.3):
            name = self.fresh("d")
            items = tuple((k, self.pick(SHAPES[:3])) for k in ("p", "q", "r")[: int(self.rng.integers(1, 4))])
            text = ", ".join(f"{k!r}: {self.expr(s, 1)}" for k, s in items)
            self.bind(name, Dict(items), owned=True)
            self.tags["dict_literal"] += 1
            return [f"{name} = {{{text}}}"]
        name = self.pick(sorted(dicts))
        items = self.scope[name].items
        if ctx.nesting == 0 and len(items) < 4 and self.chance(0.3):
            key, shape = "s" * (len(items) - 2) + "t", self.pick(SHAPES[:3])
            self.scope[name] = Dict(items + ((key, shape),))
            self.tags["dict_new_key"] += 1
            return [f"{name}[{key!r}] = {self.expr(shape, 1)}"]
        key, shape = self.pick(items)
        op = self.pick(["=", "+="]) if shape == () else "="  # an array item may be an argument: never += it
        self.tags[f"dict_item {op}"] += 1
        return [f"{name}[{key!r}] {op} {self.expr(shape, 1)}"]

    # ----- compound statements -----

    def if_statement(self, depth: int, ctx: Ctx) -> list[str]:
        inner = Ctx(ctx.out, ctx.loop, ctx.nesting + 1)
        lines = []
        arms = int(self.rng.integers(1, 4))
        for arm in range(arms):
            head = f"{'if' if arm == 0 else 'elif'} {self.condition()}:"
            with self.nested():
                lines += [head] + _indent(self.block(int(self.rng.integers(1, 4)), depth - 1, inner))
        self.tags[["if", "if/elif", "if/elif/elif"][arms - 1]] += 1
        if self.chance(0.6):
            self.tags["else"] += 1
            with self.nested():
                lines += ["else:"] + _indent(self.block(int(self.rng.integers(1, 3)), depth - 1, inner))
        return lines

    def while_statement(self, depth: int, ctx: Ctx) -> list[str]:
        counter, top = self.fresh("j"), int(self.rng.integers(1, 5))
        test = f"{counter} < {top}" + (f" and ({self.condition(0)})" if self.chance(0.3) else "")
        with self.nested():
            self.bind(counter, Int(top + 1))
            head = [f"{counter} = 0", f"while {test}:", f"    {counter} += 1"]
            body = self.block(int(self.rng.integers(1, 4)), depth - 1, Ctx(ctx.out, True, ctx.nesting + 1))
        self.tags["while"] += 1
        return head + _indent(body)

    def for_statement(self, depth: int, ctx: Ctx) -> list[str]:
        with self.nested():
            head = self.loop_head()
            body = self.block(int(self.rng.integers(1, 4)), depth - 1, Ctx(ctx.out, True, ctx.nesting + 1))
        return head + _indent(body) + self.loop_else(depth, ctx)

    def loop_else(self, depth: int, ctx: Ctx) -> list[str]:
        if not self.chance(0.08):
            return []
        self.tags["for_else"] += 1
        with self.nested():
            return ["else:"] + _indent(self.block(1, 0, ctx))

    def loop_head(self) -> list[str]:
        """A ``for`` line; binds its targets in the (nested) scope."""
        arrays = [n for n, t in self.scope.items() if isinstance(t, Float) and t.shape and t.shape[1:] in SHAPES]
        lists = [n for n, t in self.scope.items() if isinstance(t, List)]
        dicts = [n for n, t in self.scope.items() if isinstance(t, Dict)]
        forms = ["range", "range", "range"] + ["array", "enumerate", "zip"] * bool(arrays)
        forms += ["list"] * bool(lists) + ["dict"] * bool(dicts) + ["tuple"]
        form = self.pick(forms)
        self.tags[f"for {form}"] += 1
        if form == "range":
            return self.range_head()
        if form == "list":
            name = self.pick(lists)
            self.owned.discard(name)  # a loop over a list does not grow it (it would never end)
            var = self.fresh("e")
            self.bind(var, Float(self.scope[name].elem))
            return [f"for {var} in {name}:"]
        if form == "dict":
            return self.dict_head(self.pick(dicts))
        if form == "tuple":
            var, shape = self.fresh("e"), self.pick(SHAPES[:3])
            items = ", ".join(self.expr(shape, 1) for _ in range(int(self.rng.integers(1, 4))))
            self.bind(var, Float(shape))
            return [f"for {var} in ({items},):"]
        return self.array_head(form, self.pick(arrays))

    def range_head(self) -> list[str]:
        ints = [n for n, t in self.scope.items() if isinstance(t, Int) and n == "k"]
        top = int(self.rng.integers(1, 5))
        bound, limit = (ints[0], 4) if ints and self.chance(0.4) else (str(top), top)
        var = self.fresh("i")
        form = self.pick([f"range({bound})", f"range(1, {bound})", f"range({bound} - 1, -1, -1)",
                          f"reversed(range({bound}))"])
        self.bind(var, Int(limit))
        return [f"for {var} in {form}:"]

    def array_head(self, form: str, name: str) -> list[str]:
        shape = self.scope[name].shape
        var = self.fresh("r")
        self.bind(var, Float(shape[1:]))
        if name in self.owned or name in self.views:
            self.views[var] = self.views.get(name, name)
        if form == "array":
            return [f"for {var} in {name}:"]
        if form == "enumerate":
            index = self.fresh("i")
            self.bind(index, Int(shape[0]))
            return [f"for {index}, {var} in enumerate({name}):"]
        others = [n for n, t in self.scope.items()
                  if isinstance(t, Float) and t.shape[:1] == shape[:1] and t.shape[1:] in SHAPES and n != var]
        other, var2 = self.pick(others), self.fresh("r")
        self.bind(var2, Float(self.scope[other].shape[1:]))
        return [f"for {var}, {var2} in zip({name}, {other}):"]

    def dict_head(self, name: str) -> list[str]:
        self.tags["dict_iter"] += 1
        key, value = self.fresh("key"), self.fresh("w")
        shapes = {s for _, s in self.scope[name].items}
        self.bind(value, Float(shapes.pop() if len(shapes) == 1 else ()))
        read = f"{name}[{key}]" if not shapes else f"np.sum({name}[{key}])"
        return [f"for {key} in {name}:", f"    {value} = {read}"]

    def define_function(self, depth: int, ctx: Ctx) -> list[str]:
        """A nested ``def`` or a ``lambda`` of one float, capturing values of the enclosing function."""
        shape = self.pick(SHAPES[:4])
        name, param = self.fresh("g"), self.fresh("t")
        outer = self.scope
        self.scope = {n: t for n, t in outer.items() if isinstance(t, Float) and _into_ok(t.shape, shape)}
        self.scope[param] = Float(shape)
        body = self.expr(shape, 2)
        self.scope = outer
        captured = {n for n in re.findall(r"\b[a-z]+\d*\b", body) if n in outer and n != param}
        self.captured |= captured
        if any(self.assigned[n] > 1 for n in captured):
            self.tags["capture_rebound"] += 1
        self.bind(name, Func((shape,), shape))
        self.tags["function_value"] += 1
        if self.chance(0.4):
            self.tags["lambda"] += 1
            return [f"{name} = lambda {param}: {body}"]
        self.tags["nested_def"] += 1
        if self.chance(0.3):
            self.tags["nested_def_default"] += 1
            return [f"def {name}({param}, scale=0.5):", f"    u = {body}", "    return u * scale"]
        return [f"def {name}({param}):", f"    return {body}"]


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def _into(shape: tuple) -> list:
    """Pairs whose broadcast is ``shape`` with ``shape`` first: the values an in-place update can take."""
    return [(a, b) for a, b in broadcasts(shape) if a == shape]


def _into_ok(inner: tuple, shape: tuple) -> bool:
    return any(b == inner for _, b in _into(shape))


# ----- functions and programs -----

def _arguments(gen: Gen) -> tuple[list[str], list]:
    """One to three float or array parameters, sometimes a dict of arrays, sometimes an int ``k``."""
    names: list[str] = []
    values: list[Any] = []
    for i in range(int(gen.rng.integers(1, 4))):
        shape = gen.pick(SHAPES)
        if i > 0 and gen.chance(0.1):
            items = (("a", gen.pick(SHAPES)), ("b", gen.pick(SHAPES)))
            gen.bind("p", Dict(items))
            names.append("p")
            values.append({k: _value(gen, s) for k, s in items})
            gen.tags["dict_argument"] += 1
            continue
        name = "xyz"[i]
        gen.bind(name, Float(shape))
        names.append(name)
        values.append(_value(gen, shape))
        gen.tags["float_argument" if shape == () else "array_argument"] += 1
    if gen.chance(0.25):
        gen.bind("k", Int(4))
        names.append("k")
        values.append(int(gen.rng.integers(1, 4)))
        gen.tags["int_argument"] += 1
    return names, values


def _value(gen: Gen, shape: tuple):
    value = np.round(gen.rng.uniform(-1.5, 1.5, shape), 3)
    return float(value) if shape == () else value


def _output(gen: Gen):
    """The function's output type: a float half of the time, else an array or a tuple, list or dict."""
    roll = gen.rng.random()
    if roll < 0.5:
        return ()
    if roll < 0.7:
        return gen.pick(SHAPES[1:])
    kind = gen.pick(["tuple", "list", "dict"])
    gen.tags[f"output_{kind}"] += 1
    return (kind, [gen.pick(SHAPES) for _ in range(int(gen.rng.integers(1, 4)))])


def _function(gen: Gen, name: str, params: list[str], out, size: int) -> list[str]:
    """``def name(params):`` with ``size`` statements and a final return of type ``out``."""
    body = gen.block(size, 2, Ctx(out))
    return [f"def {name}({', '.join(params)}):"] + _indent(body + [f"return {gen.result(out)}"])


def _helper(gen: Gen, index: int, funcs: dict) -> tuple[list[str], Func]:
    """A module-level helper: defaults and keyword-only parameters, a tuple return, or recursion."""
    gen.scope, gen.owned, gen.views = dict(funcs), set(), {}
    shape, name = gen.pick(SHAPES[:4]), f"h{index}"
    gen.bind("a", Float(shape))
    kind = gen.pick(["keywords", "tuple", "recursive"])
    gen.tags[f"helper_{kind}"] += 1
    if kind == "recursive":
        gen.bind("n", Int(4))
        step = gen.expr(shape, 2)
        lines = [f"def {name}(a, n):", "    if n <= 0:", f"        return {gen.expr(shape, 1)}",
                 f"    return {name}({step}, n - 1) * 0.9"]
        return lines, Func((shape,), shape, depth=True)
    if kind == "tuple":
        out = [gen.pick(SHAPES[:4]), gen.pick(SHAPES[:4])]
        return _function(gen, name, ["a"], ("tuple", out), int(gen.rng.integers(1, 4))), Func((shape,), out)
    gen.bind("b", Float(()))
    gen.bind("scale", Float(()))
    lines = _function(gen, name, ["a", "b=0.5", "*", "scale=1.0"], shape, int(gen.rng.integers(1, 4)))
    return lines, Func((shape,), shape, keywords=(("b", ()), ("scale", ())))


def _draw(rng: np.random.Generator) -> tuple[str, tuple, Counter]:
    gen = Gen(rng)
    helpers: list[str] = []
    funcs: dict[str, Func] = {}
    for i in range(int(rng.integers(0, 3)) if rng.random() < 0.6 else 0):
        lines, kind = _helper(gen, i + 1, funcs)
        helpers += lines + ["", ""]
        funcs[f"h{i + 1}"] = kind
    gen.scope, gen.owned, gen.views, gen.captured, gen.assigned = dict(funcs), set(), {}, set(), Counter()
    params, values = _arguments(gen)
    out = _output(gen)
    body = _function(gen, "f", params, out, int(rng.integers(2, 9)))
    imports = ["import math", "", "import numpy as np"] + [f"import {m}" for m in sorted(gen.imports)]
    source = "\n".join(imports + ["", ""] + helpers + body) + "\n"
    return source, tuple(values), gen.tags


def run_plain(source: str, args: tuple, name: str = "f"):
    """Run the program as plain Python on a copy of its arguments (NumPy warnings raise)."""
    namespace: dict = {"__name__": "s2sad_fuzz_plain"}
    exec(compile(source, "<fuzz>", "exec"), namespace)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        return namespace[name](*copy.deepcopy(args))


def acceptable(out) -> bool:
    """A finite, moderate float, array, or tuple/list/dict of them."""
    try:
        parts = [np.asarray(leaf, dtype=np.float64) for leaf in leaves(out)]
    except (TypeError, ValueError):
        return False
    return bool(parts) and all(p.size and np.all(np.isfinite(p)) and np.max(np.abs(p)) < 1e4 for p in parts)


def generate(seed: int, index: int) -> Program:
    """Program ``index`` of ``seed``: drawn from its own random stream, run once plainly to be kept."""
    rng = np.random.default_rng([seed, index])
    for attempt in range(50):
        source, args, tags = _draw(rng)
        try:
            ok = acceptable(run_plain(source, args))
        except Exception:
            ok = False
        if ok:
            tags["redrawn"] += attempt
            return Program(seed, index, source, args, tags)
    raise RuntimeError(f"no valid program in 50 attempts for seed {seed}, index {index}")
