"""Activity over a flat SSA function, and the uses of active values no rule differentiates.

``analyze`` returns the ``Analysis``: the active names (those that depend on a differentiated
parameter *and* reach the returned value; only they get cotangents; a name known to hold an int
never is), with the static facts (``facts``) the adjoint needs: the names statically known to have
shape ``()`` -- Python or NumPy scalars -- so it can leave out ``unbroadcast``, shape classes,
kinds, complex values. ``check_uses`` refuses, at the user's line, a use of an active value no
rule differentiates.
"""

from __future__ import annotations

import dis
import types
from dataclasses import dataclass, field

from . import ir, runtime
from .classify import CALL, NONDIFF, TRANSFORM, Prim, diff_operands, names_in, primitive, writes_into_argument
from .errors import NoDerivativeRuleError, S2SADSyntaxError
from .facts import (
    Calls,
    array_names,
    complex_names,
    concrete_dims,
    container_names,
    holds_shape,
    int_names,
    is_complex,
    number_names,
    same_shapes,
    scalars_and_shapes,
    static_fact,
    static_kinds,
    static_scalar,
    used_as_container,
    written_in_place,
)
from .rules import DERIVATIVE_MAKERS, Sym, rule_name
from .statics import Items

__all__ = ["analyze", "check_uses", "Analysis", "globals_written"]


@dataclass(slots=True)
class Analysis:
    prims: dict[int, Prim]  # stmt.sid -> Prim
    active: set[str]
    scalars: set[str]
    shapes: dict[str, str]  # name -> a name statically known to have the same shape (itself if none)
    containers: set[str]  # tuple, list and dict literals: their cotangents add entry by entry
    shape_specific: bool = False  # the shapes were found with the arguments' shapes (``dims``): valid for those only
    dims: dict[str, tuple[int, ...]] = field(default_factory=dict)  # concrete shapes, when ``dims`` were given
    varied: set[str] = field(default_factory=set)  # depend on a differentiated parameter (useful or not)
    useful: set[str] = field(default_factory=set)  # reach the returned value (varied or not)
    kinds: dict[str, str] = field(default_factory=dict)  # name -> its static kind (see ``static_kinds``)
    literals: dict[str, list[ir.Expr]] = field(default_factory=dict)  # tuple literal -> its items
    numbers: set[str] = field(default_factory=set)  # immutable (``y op= v`` on one rebinds; see ``number_names``)
    arrays: set[str] = field(default_factory=set)  # NumPy arrays (``y op= v`` on one changes it; see ``array_names``)
    parts: dict[str, Items] = field(default_factory=dict)  # what is known of tuples', lists' and dicts' entries
    calls: dict[int, tuple] = field(default_factory=dict)  # sid of a call into user code -> the facts it is made for
    complex: set[str] = field(default_factory=set)  # may hold complex numbers (see ``complex_names``)

    def fact(self, e: ir.Expr) -> object:
        """What is statically known of ``e`` (see ``statics``)."""
        if isinstance(e, ir.Tuple):
            return Items("tuple", tuple(range(len(e.items))), tuple(map(self.fact, e.items)))
        return static_fact(e, self.scalars, self.dims, self.parts)

    def sym(self, e: ir.Expr) -> Sym:
        """``e`` as a rule sees it: with whether it is statically a scalar, its shape class and
        (in a shape-specific derivative) its number of dimensions."""
        if not isinstance(e, ir.Name):
            return Sym(e, static_scalar(e, self.scalars), complex=is_complex(e, self.complex))
        items = self.literals.get(e.id)
        if items is not None and all(isinstance(i, ir.Const) for i in items):  # a tuple of constants: `axis=(0, 1)`
            return Sym(ir.Const(tuple(i.value for i in items)))
        dims = self.dims.get(e.id)
        return Sym(e, e.id in self.scalars, self.shapes.get(e.id, e.id), None if dims is None else len(dims), dims,
                   e.id in self.complex)


def analyze(fn: ir.Function, wrt: list[str], scalar_params: set[str], tree_params: set[str] = frozenset(),
            dims: dict[str, tuple[int, ...]] | None = None, typed: bool = False, facts: dict[str, object] | None = None,
            specialise=None, any_kind: bool = False) -> Analysis:
    """Activity (varied and useful) and static scalar-ness for every name in ``fn``.

    Loops are analysed to a fixed point: a carried value is varied if its initial
    value or its value at the end of an iteration is, and useful if its result
    after the loop or any use inside the loop is. ``dims``: the shapes of array
    parameters, when the result may assume them (then names of equal shapes share a
    shape class, and ``shape_specific`` says whether that told anything new); ``facts``:
    what the pytree parameters hold (``statics.Items``), assumed with the shapes.
    ``typed``: the derivative serves calls whose arguments have the types the parameters
    were classified by (``tree_params`` are exactly the pytree arguments); otherwise a
    parameter used as a container (indexed, unpacked, iterated, passed on) may be one.
    ``specialise(fn, signature)``: the fact of a user function's result for arguments of these
    facts (a call it resolves is made for them, see ``Analysis.calls``). ``any_kind``: not even that a
    parameter is an array may be assumed (a list's ``+`` joins it): generated code that is differentiated
    again for arguments of any type (``api.differentiable``).
    """
    stmts = list(ir.walk(fn.body))
    prims = {s.sid: primitive(s) for s in stmts if isinstance(s, ir.Assign)}
    facts = facts or {}
    ints = int_names(fn.body, prims)
    calls = Calls(specialise)
    scalars, parts, dims, resolved = scalars_and_shapes(fn.body, prims, set(scalar_params), fn.params.names(), dims,
                                                        facts, calls)
    packed = {n: kind for n, kind in ((fn.params.vararg, "tuple"), (fn.params.kwarg, "dict")) if n}
    tree_params = {*tree_params, *packed}  # `*args` is a tuple, `**kwargs` a dict, whatever the call
    if not typed:
        tree_params = {*tree_params, *(used_as_container(stmts, prims) & set(fn.params.positional))}
    arrays = fn.params.positional if typed else [] if any_kind else [
        n for n in fn.params.positional if n not in tree_params]
    kinds = static_kinds(fn.body, prims, scalars, set(tree_params) if typed else set(), dims, arrays, parts, packed,
                         any_kind)
    varied = _varied(fn.body, prims, set(wrt), ints)
    useful = _useful(fn.body, prims)
    anchors = [*fn.params.names(), *(t for s in fn.body if isinstance(s, ir.Assign) for t in s.targets)]
    shapes, specific = same_shapes(fn.body, prims, scalars, anchors, dims)
    specific = specific or bool(facts) or any(  # a rule that reads ranks met operands whose ranks are known
        p.kind == CALL and p.rule.rank and any(names_in(p.args) & dims.keys()) for p in prims.values()
    ) or any(holds_shape(f) for sig, _ in resolved.values() for f in sig)
    literals = {s.target: list(s.value.items) for s in stmts if isinstance(s, ir.Assign)
                and isinstance(s.value, ir.Tuple)}
    plain_dims = concrete_dims(fn.body, prims, {}, scalars, {}, Calls())[0]  # (the shapes the code alone determines:
    # np.zeros(3); no call resolved for its arguments)
    numbers = number_names(fn.body, prims, set(scalar_params), scalars, dims or plain_dims, literals)
    if dims and not specific:  # a name `y op= v` rebinds, or a call cannot write into, as a number of these shapes
        plain = number_names(fn.body, prims, set(scalar_params), scalars, plain_dims, literals)
        specific = bool(written_in_place(stmts, prims) & (numbers - plain))
    leaves = scalars | {n for n, d in dims.items() if d}
    containers = container_names(fn.body, prims, set(tree_params)) - leaves
    return Analysis(prims, varied & useful, scalars, shapes, containers, specific, dims, varied, useful, kinds,
                    literals, numbers,
                    array_names(fn.body, prims, dims, set(arrays) - scalars - tree_params if typed else set()),
                    parts, {k: sig for k, (sig, _) in resolved.items()},
                    complex_names(fn.body, prims) - ints)


def _varied(body: list[ir.Stmt], prims: dict[int, Prim], varied: set[str], ints: set[str]) -> set[str]:
    """Names that depend on a differentiated parameter; ``ints`` (integers, which carry no derivative) never."""
    return _Varied(varied, prims, ints).run(body).found


class _Varied(ir.Reach):
    def __init__(self, found: set[str], prims: dict[int, Prim], ints: set[str]) -> None:
        super().__init__(found)
        self.prims, self.ints = prims, ints

    def bind(self, name: str, fact: object) -> None:
        if name not in self.ints:
            super().bind(name, fact)

    def transfer(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign) and names_in(diff_operands(self.prims[s.sid])) & self.found:
            for t in s.targets:
                self.bind(t, True)


def _useful(body: list[ir.Stmt], prims: dict[int, Prim]) -> set[str]:
    """Names that reach the returned value through operands a cotangent can flow to."""
    return _Useful(prims).run(body).useful


class _Useful(ir.Backward):
    def __init__(self, prims: dict[int, Prim]) -> None:
        self.prims, self.useful = prims, set[str]()

    def fact(self, name: str) -> bool:
        return name in self.useful

    def flow(self, e: ir.Expr, fact: object) -> None:
        if fact:
            self.useful.update(ir.names_read(e))

    def settled(self, s: ir.Loop) -> object:
        return len(self.useful)  # (an out bound in an arm is useful where another arm's use makes it so)

    def transfer(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Return):
            self.flow(s.value, True)
        elif isinstance(s, ir.Assign) and self.useful.intersection(s.targets):
            self.useful |= names_in(diff_operands(self.prims[s.sid]))


def _check_defaults(stmt: ir.Assign, analysis: Analysis) -> None:
    """A nested function whose default value carries a derivative: the function object keeps the value,
    where no derivative follows it (``closures.captures`` passes it at the calls of a function called only
    by its name)."""
    if isinstance(stmt.value, ir.Closure) and stmt.target in analysis.useful:
        value = stmt.value  # (``defaults`` are among ``names``: the capture each reads may have been renamed)
        held = [ir.expr_str(c) for n, c in zip(value.names, value.captured)
                if n in value.defaults and names_in([c]) & analysis.varied]
        if held:
            raise S2SADSyntaxError(
                f"a default value of this nested function reads {held[0]!r}, which carries a gradient, and the "
                "function is used as a value (not only called by its name): s2sad cannot follow a gradient "
                f"through a default value. Pass {held[0]!r} as an argument, or read it in the body", stmt.loc)


def check_uses(stmts: list[ir.Stmt], analysis: Analysis) -> None:
    """Refuse, at the user's line, a use of a value carrying a derivative that no rule differentiates:
    an argument a rule treats as a constant (a keyword, an index, ``b=`` of ``logsumexp``), and a
    call that writes into an array it is given (``a.fill(v)``, ``np.put``; ``out=`` or ``np.copyto``
    where the lowering did not make it the write it is)."""
    for stmt in ir.walk(stmts):
        if isinstance(stmt, ir.Do) and _sets_global(stmt.value) and names_in(stmt.value.args[2:]) & analysis.varied:
            raise S2SADSyntaxError(
                f"this writes the global {stmt.value.args[1].value!r} a value that carries a gradient; s2sad cannot "
                "follow a gradient through a global. Return the value instead", stmt.loc)
        if not isinstance(stmt, ir.Assign):
            continue
        _check_defaults(stmt, analysis)
        p = analysis.prims[stmt.sid]
        if writes_into_argument(stmt.value) and names_in(ir.children(stmt.value)) & analysis.varied:
            raise NoDerivativeRuleError(
                f"s2sad cannot differentiate {_callee(stmt.value, p)}, called at {_where(stmt.loc)}\n"
                "It writes into an array it is given (`out=` or in place), and a value that carries a "
                "gradient is involved. Write the result as an expression instead (e.g. np.where(mask, v, a), sorted(xs)).")
        if p.kind == CALL and any(t in analysis.useful for t in stmt.targets):
            diff = set(map(id, diff_operands(p))) | {id(p.args[i]) for i in p.rule.zero if i < len(p.args)}
            if p.rule.item and not isinstance(p.args[0], ir.Ref):
                # an index or key is an integer, bool, slice or key wherever indexing succeeds: it carries no
                # gradient even where the analysis cannot tell it from a row (`for k in xs: xs[k]`, xs a dict)
                diff.add(id(p.args[1]))
            held = [e for e in [*p.args, *p.kwargs.values()] if id(e) not in diff and names_in([e]) & analysis.varied]
            if held:
                raise NoDerivativeRuleError(
                    f"s2sad's rule for {_callee(stmt.value, p)} does not differentiate its argument "
                    f"{ir.expr_str(held[0])!r}, which carries a gradient, at {_where(stmt.loc)}\n"
                    + (p.rule.held or "Pass a constant there, or register a rule with `@s2sad.rrule(fn)`."))
        if p.kind == NONDIFF and _makes_derivative(stmt.value) and any(t in analysis.useful for t in stmt.targets) \
                and names_in(ir.children(stmt.value)) & analysis.varied:
            raise NoDerivativeRuleError(
                f"the function {ir.expr_str(stmt.value.func)} differentiates here captures a value that carries "
                f"a gradient, at {_where(stmt.loc)}\ns2sad does not yet differentiate through a derivative of a "
                "closure over a differentiated value. Pass that value as an argument instead: "
                "s2sad.grad(lambda y, x: x * y)(2.0, x)")
        written = globals_written(p.callee) if p.kind == TRANSFORM else ()
        if written and names_in([*p.args, *p.kwargs.values(), *p.starred]) & analysis.varied:
            raise S2SADSyntaxError(
                f"{rule_name(p.callee)} writes the global {written[0]!r}, and a value that carries a gradient "
                "is passed to it; s2sad cannot follow a gradient through a global. Return the value instead",
                stmt.loc)


def _makes_derivative(v: ir.Expr) -> bool:
    fn = v.func.value if isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) else None
    try:
        return fn in DERIVATIVE_MAKERS
    except TypeError:  # unhashable
        return False


def _sets_global(v: ir.Expr) -> bool:
    return isinstance(v, ir.Call) and isinstance(v.func, ir.Ref) and v.func.value is runtime.set_global


def globals_written(fn: object) -> tuple[str, ...]:
    """The globals a user function (or the functions nested in it) assigns with ``global``."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    todo, out = [code] if code is not None else [], []
    while todo:
        c = todo.pop()
        out += [i.argval for i in dis.get_instructions(c) if i.opname in ("STORE_GLOBAL", "DELETE_GLOBAL")]
        todo += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    return tuple(dict.fromkeys(out))


def _callee(v: ir.Expr, p: Prim) -> str:
    """The callable or construct ``v`` uses, as the user wrote it."""
    if isinstance(v, ir.Subscript):
        return f"{ir.expr_str(v.value)}[...]" if isinstance(v.value, ir.Ref) else "indexing"
    if isinstance(v, ir.Call):
        return ir.expr_str(v.func) + "(...)"
    return p.rule.name if p.rule is not None else type(v).__name__


def _where(loc: ir.Loc) -> str:
    return f"{loc.file}:{loc.line}:\n    {loc.text}"
