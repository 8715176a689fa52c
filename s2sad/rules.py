# SYMBOLIC NAMESPACES. In this file `np`, `math`, `rt`, `rn`, `py`, `linalg`, `special` and the like are
# not the modules: they are `rules._Namespace`s, whose calls build IR on symbolic operands (`rules.Sym`)
# when a rule runs, at transform time. `np.cos(x)` here emits the text `np.cos(x)`; it computes nothing.
# The real modules are imported under other names (`numpy`, `_math`, `_sp`, ...).
"""The derivative rule table: one entry per primitive, keyed by the callable.

A reverse rule is a small function run *at transform time* on symbolic operands
(``Sym``). It returns, for each positional argument, the expression of that
argument's cotangent contribution (``None``: no contribution). Inside rules,
``np``, ``math`` and the runtime helpers are symbolic namespaces, so a rule reads
exactly like the line it emits::

    sin:  lambda g, ans, x: g * np.cos(x)      emits   x_bar = y_bar * np.cos(x)

Rules may inspect constant arguments (``axis``, an exponent) to specialise what
they emit. Python operators are keyed by their ``operator`` function.
Non-differentiable callables are one explicit list, ``NONDIFFERENTIABLE``.

This module holds the table and the core primitives (operators, ``math``, core NumPy,
containers); each ``rules_*`` module declares a library's. ``primitives`` imports them all.
"""

from __future__ import annotations

import builtins
import dataclasses
import math as _math
import operator
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy

from . import runtime, shapes
from .ir import Attr, BinOp, Call, Compare, Const, Expr, Name, Ref, Slice, Subscript, Tuple, UnaryOp, boolean_valued

__all__ = ["Rule", "Sym", "RULES", "bind", "RRULES", "METHODS", "ATTRIBUTES", "NONDIFFERENTIABLE", "lookup",
           "custom_rule", "rule_name", "plus", "INPLACE_FUNCS", "INPLACE_OPS", "CONCAT", "REPEAT", "MUL_OR_REPEAT", "ADD_OR_JOIN",
           "RECEIVER_ONLY_METHODS", "FIELD", "record_rule", "CONSTANT_ON_REALS"]


# ----- symbolic operands -----


class Sym:
    """An IR expression under construction; arithmetic on it builds IR nodes.

    ``scalar`` is True when the value is statically known to be a Python or
    NumPy scalar, which lets ``unbroadcast`` be left out.
    """

    __slots__ = ("expr", "scalar", "shape", "ndim", "dims", "complex")

    def __init__(self, expr: Expr, scalar: bool = False, shape: str | None = None, ndim: int | None = None,
                 dims: tuple[int, ...] | None = None, complex: bool = False) -> None:
        self.expr = expr
        self.scalar = scalar
        self.shape = shape  # operands with the same (non-None) shape key have equal shapes
        self.ndim = ndim  # known in a shape-specific derivative; rules that read it declare ``rank``
        self.dims = dims  # the shape itself, where ``ndim`` is known
        self.complex = complex  # may hold complex numbers (``complexity``); rules declaring ``complex_ok`` read it

    @property
    def const(self) -> object:
        """The Python value of a constant operand (``NotConst`` if it is not constant)."""
        return self.expr.value if isinstance(self.expr, Const) else NotConst

    def _bin(self, op: str, other: object, reflected: bool = False) -> Sym:
        o = sym(other)
        left, right = (o, self) if reflected else (self, o)
        if op == "*" and left.const == 1 and not boolean_valued(right.expr):  # (1.0 * mask is a float array)
            return right
        if op in ("*", "/", "**") and right.const == 1 and not boolean_valued(left.expr):
            return left
        # the result's shape class: an array operand's, when the other is a scalar or of the same class
        shape = right.shape if left.scalar else left.shape if right.scalar or left.shape == right.shape else None
        if op == "@":
            shape = None
        if op == "+" and isinstance(right.expr, UnaryOp) and right.expr.op == "-":  # a + -b is a - b
            return Sym(BinOp("-", left.expr, right.expr.operand), left.scalar and right.scalar, shape)
        return Sym(BinOp(op, left.expr, right.expr), left.scalar and right.scalar, shape)

    def __add__(self, o): return self._bin("+", o)
    def __radd__(self, o): return self._bin("+", o, True)
    def __sub__(self, o): return self._bin("-", o)
    def __rsub__(self, o): return self._bin("-", o, True)
    def __mul__(self, o): return self._bin("*", o)
    def __rmul__(self, o): return self._bin("*", o, True)
    def __truediv__(self, o): return self._bin("/", o)
    def __rtruediv__(self, o): return self._bin("/", o, True)
    def __pow__(self, o): return self._bin("**", o)
    def __matmul__(self, o): return self._bin("@", o)
    def __rmatmul__(self, o): return self._bin("@", o, True)

    def __neg__(self) -> Sym:
        if isinstance(self.expr, UnaryOp) and self.expr.op == "-":
            return Sym(self.expr.operand, self.scalar, self.shape)
        return Sym(UnaryOp("-", self.expr), self.scalar, self.shape)

    def __gt__(self, o): return Sym(Compare(">", self.expr, sym(o).expr))
    def __lt__(self, o): return Sym(Compare("<", self.expr, sym(o).expr))
    def __ge__(self, o): return Sym(Compare(">=", self.expr, sym(o).expr))
    def __le__(self, o): return Sym(Compare("<=", self.expr, sym(o).expr))

    def eq(self, o) -> Sym:
        """``self == o`` as an expression (``==`` itself keeps Python's meaning on Syms)."""
        return Sym(Compare("==", self.expr, sym(o).expr))

    def __getitem__(self, index) -> Sym:
        return Sym(Subscript(self.expr, _index(index)))

    @property
    def T(self) -> Sym:
        return Sym(Attr(self.expr, "T"), self.scalar)

    @property
    def like(self) -> Sym:
        """An operand with this one's shape, for shape-only uses: the earliest such name,
        so a later temporary need not be kept alive just to be measured."""
        if self.shape is not None and isinstance(self.expr, Name) and self.shape != self.expr.id:
            return Sym(Name(self.shape), self.scalar, self.shape)
        return self

    def attr(self, name: str) -> Sym:
        return Sym(Attr(self.expr, name))

    def method(self, name: str, *args: object, **kwargs: object) -> Sym:
        """``self.name(*args, **kwargs)``."""
        return Sym(Call(Attr(self.expr, name), [sym(a).expr for a in args],
                        [(k, sym(v).expr) for k, v in kwargs.items()]))


class _NotConst:
    def __repr__(self) -> str:
        return "NotConst"


NotConst = _NotConst()


def sym(v: object) -> Sym:
    if isinstance(v, Sym):
        return v
    if isinstance(v, tuple):
        return Sym(Tuple([sym(i).expr for i in v]))
    return Sym(Const(v), isinstance(v, int | float))


def _index(index: object) -> Expr:
    if isinstance(index, tuple):
        return Tuple([_index(i) for i in index])
    if isinstance(index, slice):
        return Slice(*(None if p is None else sym(p).expr for p in (index.start, index.stop, index.step)))
    return sym(index).expr


NAMESPACES: dict[str, object] = {}  # root name -> module, for the loader to bind


class _Namespace:
    """``np.cos(x)`` on Syms emits ``np.cos(x)``; the name is bound at load time."""

    def __init__(self, name: str, module: object, scalar_out: bool) -> None:
        self._name = name
        self._module = module
        self._scalar_out = scalar_out  # math.* always returns a Python float
        if name and "." not in name:  # ("np.linalg": a path under a bound root)
            NAMESPACES[name] = module

    def __getattr__(self, attr: str) -> Callable[..., Sym]:
        fn = getattr(self._module, attr)
        ref = Ref((*self._name.split("."), attr), fn, helper=True) if self._name else Ref((attr,), fn, helper=True)

        def build(*args: object, **kwargs: object) -> Sym:
            syms = [sym(a) for a in args]
            scalar = self._scalar_out or all(s.scalar for s in syms)
            kw = [(k, sym(v).expr) for k, v in kwargs.items()]
            return Sym(Call(ref, [s.expr for s in syms], kw), scalar)

        return build


np = _Namespace("np", numpy, scalar_out=False)
math = _Namespace("math", _math, scalar_out=True)
rt = _Namespace("", runtime, scalar_out=False)  # runtime helpers, emitted by bare name


def ub(contribution: Sym, x: Sym, other: Sym) -> Sym:
    """``unbroadcast(contribution, x)`` for ``x`` in ``x <op> other`` (or ``other`` the result).

    Left out where shapes provably match: ``other`` is a scalar (so the result has
    ``x``'s shape), ``x`` has the shape of ``other`` or of the contribution (the
    result's, when that is known) by construction, or both ``x`` and the
    contribution are scalars.
    """
    if other.scalar or (x.scalar and contribution.scalar) or (
            x.shape is not None and x.shape in (other.shape, contribution.shape)):
        return contribution
    return rt.unbroadcast(contribution, x.like)  # (forward mode, reusing the template, leaves it out)


# ----- the table -----


@dataclass(slots=True, frozen=True)
class Rule:
    """How to differentiate one callable in reverse mode.

    ``reverse(g, ans, *args, **kwargs)`` returns one contribution per positional
    argument. ``diff`` names the positional arguments that can carry a cotangent
    (``None``: all of them). ``elementwise``: a scalar input gives a scalar output.
    ``reduction``: called with its array argument alone, the result is a scalar.

    Forward mode: an elementwise rule's tangent is its reverse template with the
    tangent as ``g``; ``linear="joint"`` (a linear map of its differentiable
    arguments together: reshape, sum, concatenate) applies the call to the
    tangents; ``linear="multi"`` (a product: matmul, einsum) sums the call with
    one argument at a time replaced by its tangent; otherwise ``forward(ans,
    dots, *args, **kwargs)`` gives the tangent (``dots[i]`` None: a zero).

    ``zero``: positional arguments outside ``diff`` that the result depends on with a
    derivative of exactly zero (read for their shape or tie pattern only). Any other
    argument outside ``diff`` -- keywords included -- must not carry a derivative
    (``activity.check_uses`` refuses it).

    ``container``: the result may be a tuple or list (``slogdet``, ``split``): its cotangent
    adds entry by entry.

    ``held``: what to do instead, said where an argument outside ``diff`` carries a derivative
    (the refusal's advice; by default, pass a constant or register a rule).

    ``params``: the callable's leading parameters as ``(name, default)`` pairs. Keyword
    arguments naming them are moved to their positions (``bind``) when one is in ``diff``,
    so it is differentiated like a positional one: ``norm.logpdf(x, scale=s)``. A constant integer ``dtype``,
    by keyword or at its position here (``x.astype(int)``), makes an int: no derivative (``facts.int_names``).

    What the analyses know of the primitive, declared with it:

    * ``view``: the result may share memory with the first operand (``x[i]``, ``x.T``,
      ``np.reshape``, and what may return the operand itself: ``np.float64(x)`` of a float64 array):
      ``mutation`` follows writes through it. ``"operands"``: it may be any of its operands itself
      (``max(a, b)``). A function of the call's operands (``args``, ``kwargs``) and ``shape`` (an operand's
      concrete shape, None where not known): whether this call's result may share the first operand's
      memory (``np.diff(x, n)`` returns ``x`` where ``n`` is 0; ``np.diag(x)`` a view where ``x`` is not 1-D).
      A test calls every primitive on arrays and checks that what shares memory is declared so.
    * ``shape``: the result's concrete shape from the operands' (a transfer function of
      ``shapes``; elementwise rules broadcast, reductions reduce, by default).
    * ``item``: the result is an item or slice of the first operand (``x[index]``): an item of a
      container may be a container, and the index carries no derivative.
    * ``sequences``: what the operator does when a list or tuple meets it: ``"join"`` (``+``) or
      ``"repeat"`` (``*``); None: it applies to numbers and arrays only.
    * ``numeric``: the result is a number or an array, never a container (NumPy's, SciPy's and
      ``math``'s functions, by default).
    * ``scalar_only``: it takes and returns Python scalars (``math``'s functions, by default).
    * ``rank``: the reverse rule reads its operands' ranks (``Sym.ndim``), which only a
      shape-specific derivative knows.
    * ``ints``: where its operands hold ints (or bools), so does the result, in the same places:
      integer arithmetic (``+``, ``-``, ``*``, ``%``, ``abs``, unary ``-`` and ``+``) and
      ``sequence``, which passes its operand on. An int carries no derivative.
    * ``holds``: the result keeps its operands themselves (a namedtuple or dataclass made from its
      fields): ``mutation`` sees a write into one through it.
    * ``complex_ok``: its rules are exact on complex operands, with the cotangent convention of the
      README (JAX's); a complex value meeting any other rule is refused (``complexity``).
    * ``complex_result``: ``"always"`` (``fft``) or ``"never"`` (``real``, ``abs``, ``irfft``) complex,
      whatever the operands; None: complex where an operand may be.
    * ``subscript``: the primitive is an object written ``obj[a, b, ...]`` (``np.r_``, ``np.c_``): the
      entries of the index are its operands (``classify.primitive``).
    """

    name: str
    reverse: Callable[..., tuple[Sym | None, ...]]
    diff: tuple[int, ...] | None = None
    elementwise: bool = False
    reduction: bool = False
    linear: str | None = None
    forward: Callable[..., Sym] | None = None
    zero: tuple[int, ...] = ()
    returns: str | None = None  # "list", "tuple" or "seq": the result is a container (see ``facts.static_kinds``)
    container: bool | tuple[int, ...] = False  # the result is a tuple or list (True), or is one when an
    # argument at these positions is: its cotangents add entry by entry
    params: tuple[tuple[str, object], ...] = ()  # names and defaults, for keywords naming a differentiated one
    view: bool | str | Callable[[list[Expr], dict[str, Expr], Callable[[Expr], tuple | None]], bool] = False
    shape: shapes.Transfer | None = None
    item: bool = False
    sequences: str | None = None
    numeric: bool = False
    scalar_only: bool = False
    rank: bool = False
    ints: bool = False
    held: str | None = None
    holds: bool = False
    complex_ok: bool = False
    complex_result: str | None = None
    subscript: bool = False


REQUIRED = object()  # a ``Rule.params`` entry without a default


def constant_other_than(e: Expr | None, value: object) -> bool:
    """``e`` is a constant operand other than ``value`` (for a ``view`` that depends on one)."""
    return isinstance(e, Const) and type(e.value) in (int, float, bool) and e.value != value


def bind(rule: Rule, args: list[Expr], kwargs: dict[str, Expr]) -> tuple[list[Expr], dict[str, Expr]]:
    """A call's operands with the keywords that name one of ``rule.params`` moved to their
    positions, where one of them is differentiated; a skipped parameter before one of them
    takes its default (a constant)."""
    if not kwargs:
        return args, kwargs
    later = [name for name, _ in rule.params[len(args):]]
    named = [k for k in kwargs if k in later]
    if not any(rule.diff is None or len(args) + later.index(k) in rule.diff for k in named):
        return args, kwargs
    gaps = rule.params[len(args): max(map(later.index, named)) + len(args) + 1]
    if any(name not in kwargs and default is REQUIRED for name, default in gaps):
        return args, kwargs  # the call itself is wrong: Python reports it when it runs
    bound = [*args, *(kwargs[name] if name in kwargs else Const(default) for name, default in gaps)]
    return bound, {k: v for k, v in kwargs.items() if k not in named}


RULES: dict[object, Rule] = {}
RRULES: dict[object, Callable] = {}  # user rules (s2sad.rrule): called at run time, win over RULES
FRULES: dict[object, Callable] = {}  # user forward rules (s2sad.frule)
NONDIFFERENTIABLE: set[object] = set()
DERIVATIVE_MAKERS: set[object] = set()  # s2sad.grad, jacfwd, ...: making a derivative function
CLOSURE_DERIVATIVES: set[object] = set()  # those whose result, made from a closure, carries its cotangent
FUNCTION_VALUE_VJPS: set[object] = set()  # linker.vjp_of: vjp_of(f, ...) is a derivative function of f
JVP_CALLS: set[object] = set()  # s2sad.jvp: differentiated as the function ``nested.jvp_caller`` makes
WRITERS: set[object] = set()  # functions that write into an array they are given (np.place, np.copyto, ...)
WRITER_METHODS = {"fill", "put", "sort", "partition", "resize", "itemset"}  # ndarray methods that write in place
METHODS: dict[str, object] = {}  # ndarray method name -> the function whose rule applies
ATTRIBUTES: dict[str, Rule | None] = {}  # ndarray attribute -> rule (None: not differentiable)


def defrule(fn: object, name: str, reverse: Callable, diff=None, elementwise=False, reduction=False,
            linear=None, forward=None, zero=(), returns=None, params=(), container=False, view=False, shape=None,
            item=False, sequences=None, numeric=None, scalar_only=None, rank=False, ints=False, held=None,
            complex_ok=False, complex_result=None, subscript=False) -> None:
    """Declare the primitive ``fn``: its reverse rule and, together with it, everything else s2sad
    knows of it (see ``Rule``). ``shape``, ``numeric`` and ``scalar_only`` default to what
    ``elementwise``/``reduction`` and the name (``numpy.``, ``math.``, ``scipy.``) say."""
    if shape is None:
        shape = shapes.elementwise if elementwise else shapes.reduction if reduction else None
    if numeric is None:
        numeric = name.startswith(("numpy.", "math.", "scipy.")) and container is False
    if scalar_only is None:
        scalar_only = name.startswith("math.")
    declare(fn, Rule(name, reverse, diff, elementwise, reduction, linear, forward, zero, returns, container, params,
                     view, shape, item, sequences, numeric, scalar_only, rank, ints, held,
                     complex_ok=complex_ok, complex_result=complex_result, subscript=subscript))


def declare(fn: object, rule: Rule) -> None:
    """Enter ``rule`` for ``fn`` in the table: once per primitive (a second declaration would silently
    replace the first)."""
    if fn in RULES:
        raise ValueError(f"a rule for {rule.name} is declared twice")
    RULES[fn] = rule


def rule_name(fn: object) -> str:
    """A readable dotted name for a callable, for messages."""
    mod = getattr(fn, "__module__", None) or ""
    qual = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    if isinstance(fn, numpy.ufunc):  # (a ufunc has no module of its own: the one that holds it)
        mod = next((m for m in ("numpy", "scipy.special") if getattr(sys.modules.get(m), qual, None) is fn), "numpy")
    mod = {"builtins": "", "_operator": "operator"}.get(mod, mod)
    return f"{mod}.{qual}" if mod else qual


def custom_rule(fn: object, table: dict | None = None) -> Callable | None:
    """The user's ``rrule`` (or, given ``FRULES``, ``frule``) for ``fn``, if one is registered."""
    try:
        return (RRULES if table is None else table).get(fn)
    except TypeError:  # unhashable callable
        return None


def plus(*parts: Sym | None) -> Sym | None:
    """The sum of the parts that are not None (None if all are): tangents and cotangents with symbolic zeros."""
    total = None
    for p in parts:
        if p is not None:
            total = p if total is None else total + p
    return total


def lookup(fn: object) -> Rule | None:
    try:
        return RULES.get(fn)
    except TypeError:  # unhashable callable
        return None


# ----- Python operators and their NumPy twins -----

_add = lambda g, ans, x, y: (ub(g, x, y), ub(g, y, x))  # noqa: E731
_sub = lambda g, ans, x, y: (ub(g, x, y), -ub(g, y, x))  # noqa: E731  (negated after summing: fewer elements)
_mul = lambda g, ans, x, y: (ub(g * y, x, y), ub(g * x, y, x))  # noqa: E731
_div = lambda g, ans, x, y: (ub(g / y, x, y), ub(-g * ans / y, y, x))  # noqa: E731


def _pow(g: Sym, ans: Sym, x: Sym, y: Sym) -> tuple[Sym, Sym]:
    n = y.const
    if n == 2:
        dx = g * (2.0 * x)
    elif isinstance(n, int | float) and not isinstance(n, bool):
        dx = g * (n * x ** (n - 1))
    else:
        dx = g * y * x ** (y - 1.0)
    return ub(dx, x, y), ub(g * ans * log_base(x), y, x)


def log_base(x: Sym) -> Sym:
    """``log(x)`` in the exponent's adjoint ``ans * log(x)``, with ``log(1)`` at ``x == 0``: ``0 ** y`` is
    0 for every positive ``y``, so its derivative there is 0 (as JAX and autograd), not ``0 * -inf``."""
    if isinstance(x.const, int | float) and x.const != 0:
        return np.log(x)
    return np.log(np.where(x.eq(0.0), 1.0, x))


for _fn, _name, _rev in [
    (operator.add, "+", _add), (numpy.add, "numpy.add", _add),
    (operator.sub, "-", _sub), (numpy.subtract, "numpy.subtract", _sub),
    (operator.mul, "*", _mul), (numpy.multiply, "numpy.multiply", _mul),
    (operator.truediv, "/", _div), (numpy.divide, "numpy.divide", _div),
    (operator.pow, "**", _pow), (numpy.power, "numpy.power", _pow), (_math.pow, "math.pow", _pow),
    (builtins.pow, "pow", _pow),
]:  # `+` joins lists and tuples, `*` repeats them (see ``facts.static_kinds``)
    defrule(_fn, _name, _rev, elementwise=True, sequences={"+": "join", "*": "repeat"}.get(_name),
            ints=_name in ("+", "-", "*"), complex_ok=_fn not in (_math.pow, builtins.pow))

defrule(operator.neg, "unary -", lambda g, ans, x: (-g,), elementwise=True, ints=True, complex_ok=True)
defrule(numpy.negative, "numpy.negative", lambda g, ans, x: (-g,), elementwise=True, complex_ok=True)
defrule(operator.pos, "unary +", lambda g, ans, x: (g,), elementwise=True, ints=True, complex_ok=True)


def _matrix_product(lhs: str, rhs: str, dot: bool = False) -> Callable:
    """``a @ b`` of operands of known ranks (a shape-specific derivative) is written out as a person
    would (``_written_product``); otherwise a helper handles every rank."""
    def rule(g: Sym, ans: Sym, a: Sym, b: Sym) -> tuple[Sym, Sym]:
        return _written_product(g, a, b, dot) or (getattr(rt, lhs)(g, a, b), getattr(rt, rhs)(g, a, b))
    return rule


def _written_product(g: Sym, a: Sym, b: Sym, dot: bool) -> tuple[Sym, Sym] | None:
    """The cotangents of ``a @ b`` (``np.dot(a, b)`` with ``dot``) for operands of known ranks: matrix-matrix
    ``g @ b.T, a.T @ g``, matrix-vector ``np.outer(g, b), a.T @ g``, vector-matrix ``b @ g, np.outer(a, g)``,
    vector-vector ``g * b, g * a``, and (``@``) stacks of matrices with the same batch dimensions, or a
    stack times a matrix (whose cotangent sums over the stack); None for the other forms."""
    if a.ndim is None or b.ndim is None or 0 in (a.ndim, b.ndim):
        return None
    if a.ndim <= 2 and b.ndim <= 2:
        return {(2, 2): (lambda: (g @ b.T, a.T @ g)), (2, 1): (lambda: (np.outer(g, b), a.T @ g)),
                (1, 2): (lambda: (b @ g, np.outer(a, g))), (1, 1): (lambda: (g * b, g * a))}[a.ndim, b.ndim]()
    if dot or a.dims is None or b.dims is None:
        return None
    if a.ndim == b.ndim and a.dims[:-2] == b.dims[:-2]:
        return g @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ g
    if b.ndim == 2:
        axes = tuple(range(a.ndim - 1))
        return g @ b.T, np.tensordot(a, g, axes=(axes, axes))
    return None


defrule(operator.matmul, "@", _matrix_product("matmul_lhs_adjoint", "matmul_rhs_adjoint"), linear="multi",
        shape=shapes.matmul, rank=True, complex_ok=True)
defrule(numpy.matmul, "numpy.matmul", RULES[operator.matmul].reverse, linear="multi", shape=shapes.matmul, rank=True,
        complex_ok=True)
defrule(numpy.dot, "numpy.dot", _matrix_product("dot_lhs_adjoint", "dot_rhs_adjoint", dot=True), linear="multi",
        shape=shapes.dot, rank=True, complex_ok=True)
defrule(operator.getitem, "x[index]", lambda g, ans, x, index: (rt.getitem_adjoint(g, x, index), None), diff=(0,),
        linear="joint", view=True, shape=shapes.index, item=True, complex_ok=True)
defrule(builtins.float, "float", lambda g, ans, x: (g,), elementwise=True, linear="joint")

# abs: the cotangent at 0 is 0 (sign(0) = 0), as in JAX, autograd and PyTorch. Of a complex z,
# d|z| = Re(conj(z) dz) / |z|: the cotangent is g conj(z) / |z| (0 at 0), the tangent Re(conj(z) dz) / |z|.
def _abs_phase(ans: Sym, x: Sym) -> Sym:
    return np.conj(x) / np.where(ans.eq(0.0), 1.0, ans)


def _abs(g: Sym, ans: Sym, x: Sym) -> tuple[Sym]:
    return (g * (_abs_phase(ans, x) if x.complex else np.sign(x)),)


def _abs_forward(ans: Sym, dots: list, x: Sym) -> Sym:
    return np.real(_abs_phase(ans, x) * dots[0]) if x.complex else dots[0] * np.sign(x)


for _fn in (builtins.abs, numpy.abs, _math.fabs):
    defrule(_fn, rule_name(_fn), _abs, elementwise=True, ints=_fn is builtins.abs, forward=_abs_forward,
            complex_ok=_fn is not _math.fabs, complex_result="never")

# ----- elementwise functions shared by `math` and `numpy`: (g, ans, x, m) -> x_bar -----

_UNARY: dict[str, Callable] = {
    "sin": lambda g, ans, x, m: g * m.cos(x),
    "cos": lambda g, ans, x, m: -g * m.sin(x),
    "tan": lambda g, ans, x, m: g * (1.0 + ans * ans),
    "arcsin": lambda g, ans, x, m: g / m.sqrt(1.0 - x * x),
    "arccos": lambda g, ans, x, m: -g / m.sqrt(1.0 - x * x),
    "arctan": lambda g, ans, x, m: g / (1.0 + x * x),
    "sinh": lambda g, ans, x, m: g * m.cosh(x),
    "cosh": lambda g, ans, x, m: g * m.sinh(x),
    "tanh": lambda g, ans, x, m: g * (1.0 - ans * ans),
    "arcsinh": lambda g, ans, x, m: g / m.sqrt(x * x + 1.0),
    "arccosh": lambda g, ans, x, m: g / m.sqrt(x * x - 1.0),
    "arctanh": lambda g, ans, x, m: g / (1.0 - x * x),
    "exp": lambda g, ans, x, m: g * ans,
    "expm1": lambda g, ans, x, m: g * (ans + 1.0),
    "exp2": lambda g, ans, x, m: g * ans * _math.log(2.0),
    "log": lambda g, ans, x, m: g / x,
    "log1p": lambda g, ans, x, m: g / (1.0 + x),
    "log2": lambda g, ans, x, m: g / (x * _math.log(2.0)),
    "log10": lambda g, ans, x, m: g / (x * _math.log(10.0)),
    # sqrt at 0 gives inf, as in JAX and autograd: the derivative there is unbounded.
    "sqrt": lambda g, ans, x, m: g / (2.0 * ans),
    "square": lambda g, ans, x, m: g * (2.0 * x),
}
_MATH_NAME = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
              "arccosh": "acosh", "arctanh": "atanh"}


def _elementwise(d: Callable, m: _Namespace) -> Callable:
    return lambda g, ans, x: (d(g, ans, x, m),)


_HOLOMORPHIC = {"exp", "expm1", "log", "sqrt", "square", "sin", "cos", "sinh", "cosh", "tanh"}  # (exact on complex z)
for _name, _d in _UNARY.items():
    defrule(getattr(numpy, _name), f"numpy.{_name}", _elementwise(_d, np), elementwise=True,
            complex_ok=_name in _HOLOMORPHIC)
    _mname = _MATH_NAME.get(_name, _name)
    if hasattr(_math, _mname):
        defrule(getattr(_math, _mname), f"math.{_mname}", _elementwise(_d, math), elementwise=True)


# ----- reductions -----


def _reduce_args(axis=None, dtype=None, out=None, keepdims=None) -> tuple[Sym | None, Sym | None]:
    if out is not None:
        raise NotImplementedError("reductions with out= are not differentiable")
    return axis, keepdims


def _no_axis(axis: Sym | None, keepdims: Sym | None) -> bool:
    """A full reduction to a scalar: no axis (or ``axis=None``) and no ``keepdims=True``."""
    return (axis is None or axis.const is None) and (keepdims is None or keepdims.const is False)


def _unreduce(g: Sym, x: Sym, axis: Sym | None, keepdims: Sym | None) -> Sym:
    if x.scalar:
        return g
    if _no_axis(axis, keepdims):
        return np.broadcast_to(g, np.shape(x.like))
    return rt.unreduce(g, x.like, axis=axis, keepdims=False if keepdims is None else keepdims)


def _sum(g, ans, x, *args, **kwargs):
    axis, keepdims = _reduce_args(*args, **kwargs)
    return (_unreduce(g, x, axis, keepdims),)


def _mean(g, ans, x, *args, **kwargs):
    axis, keepdims = _reduce_args(*args, **kwargs)
    if x.scalar:
        return (g,)
    if _no_axis(axis, keepdims):
        return (np.broadcast_to(g / np.size(x.like), np.shape(x.like)),)
    return (_unreduce(g, x, axis, keepdims) * (np.size(ans) / np.size(x.like)),)


defrule(numpy.sum, "numpy.sum", _sum, diff=(0,), reduction=True, linear="joint", complex_ok=True)
defrule(numpy.mean, "numpy.mean", _mean, diff=(0,), reduction=True, linear="joint", complex_ok=True)
METHODS.update(sum=numpy.sum, mean=numpy.mean, dot=numpy.dot)
ATTRIBUTES.update(T=Rule("ndarray.T", lambda g, ans, x: (g.T,), linear="joint", view=True, shape=shapes.transpose,
                         complex_ok=True),
                  shape=None, ndim=None, size=None, dtype=None)

# ----- not differentiable: results carry no cotangent -----

NONDIFFERENTIABLE.update([
    builtins.len, builtins.int, builtins.bool, builtins.round, builtins.range, builtins.isinstance,
    builtins.type, builtins.print, builtins.id,
    numpy.shape, numpy.ndim, numpy.size, numpy.sign, numpy.floor, numpy.ceil, numpy.round, numpy.rint,
    numpy.argmax, numpy.argmin, numpy.zeros, numpy.ones, numpy.empty, numpy.full, numpy.eye,
    numpy.arange, numpy.linspace, numpy.zeros_like, numpy.ones_like, numpy.empty_like, numpy.full_like,
    numpy.isfinite, numpy.isnan, numpy.isinf, numpy.less, numpy.less_equal, numpy.greater,
    numpy.greater_equal, numpy.equal, numpy.not_equal, numpy.logical_and, numpy.logical_or,
    numpy.logical_not, _math.floor, _math.ceil, _math.trunc, _math.isfinite, _math.isnan,
    operator.floordiv, operator.not_, operator.invert,
    operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge,
    operator.is_, operator.is_not, operator.contains,
])


# piecewise constant on the reals only: on a complex z, sign(z) = z / |z| (refused there: ``complexity``)
CONSTANT_ON_REALS: set[object] = {numpy.sign}

# ----- augmented assignment on a name: `y *= v` is operator.imul(y, v), in place for arrays and lists -----

INPLACE_FUNCS = {
    "+": operator.iadd, "-": operator.isub, "*": operator.imul, "/": operator.itruediv, "**": operator.ipow,
    "@": operator.imatmul, "//": operator.ifloordiv, "%": operator.imod, "&": operator.iand, "|": operator.ior,
    "^": operator.ixor, "<<": operator.ilshift, ">>": operator.irshift,
}
for _op, _fn in INPLACE_FUNCS.items():
    _plain = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow,
              "@": operator.matmul}.get(_op)
    if _plain is not None:  # the value is the operator's: so is the derivative (what it overwrites is saved)
        declare(_fn, dataclasses.replace(RULES[_plain], name=f"{_op}=", complex_ok=RULES[_plain].complex_ok and _op != "@"))
NONDIFFERENTIABLE.add(operator.ifloordiv)
INPLACE_OPS = frozenset(INPLACE_FUNCS.values())

# ----- containers: lists, tuples, dicts and their views -----

py = _Namespace("", builtins, scalar_out=False)  # builtins, emitted by bare name


def _zero(dot: Sym | None, x: Sym) -> Sym:
    return dot if dot is not None else rt.zeros_like(x)


def _concat(g: Sym, ans: Sym, x: Sym, y: Sym) -> tuple[Sym, Sym]:
    n = py.len(x).expr
    return Sym(Subscript(g.expr, Slice(None, n, None))), Sym(Subscript(g.expr, Slice(n, None, None)))


# `xs + ys`, `xs * n`, `n * xs` where a list or tuple is known to meet the operator (``facts.static_kinds``)
CONCAT = Rule("list +", _concat, returns="seq",
              forward=lambda ans, dots, x, y: Sym(BinOp("+", _zero(dots[0], x).expr, _zero(dots[1], y).expr)))
REPEAT = (
    Rule("list *", lambda g, ans, xs, n: (rt.repeat_adjoint(g, xs), None), diff=(0,), returns="seq",
         forward=lambda ans, dots, xs, n: Sym(BinOp("*", dots[0].expr, n.expr))),
    Rule("list *", lambda g, ans, n, xs: (None, rt.repeat_adjoint(g, xs)), diff=(1,), returns="seq",
         forward=lambda ans, dots, n, xs: Sym(BinOp("*", n.expr, dots[1].expr))),
)
def _add_or_join(g: Sym, ans: Sym, x: Sym, y: Sym) -> tuple[Sym, Sym]:
    parts = rt.add_adjoint(g, x, y)
    return parts[0], parts[1]


ADD_OR_JOIN = Rule(  # `x + y`, both of unknown kind: a join of lists or tuples or arithmetic, told at run time
    "+", _add_or_join, sequences="join",
    forward=lambda ans, dots, x, y: Sym(BinOp("+", _zero(dots[0], x).expr, _zero(dots[1], y).expr)),
    complex_ok=True)  # (a sum is complex-linear; a join moves values)
MUL_OR_REPEAT = (  # `x * n`, n an int, x of unknown kind: repetition or arithmetic, told at run time
    Rule("*", lambda g, ans, x, n: (rt.mul_adjoint(g, x, n), None), diff=(0,),
         forward=lambda ans, dots, x, n: Sym(BinOp("*", dots[0].expr, n.expr)), sequences="repeat"),
    Rule("*", lambda g, ans, n, x: (None, rt.mul_adjoint(g, x, n)), diff=(1,),
         forward=lambda ans, dots, n, x: Sym(BinOp("*", n.expr, dots[1].expr)), sequences="repeat"),
)


def _get(g, ans, d, key, default=None):
    return rt.get_adjoint(g, d, key), None, None if default is None else rt.get_default_adjoint(g, d, key, default)


def _get_forward(ans, dots, d, key, default=None):
    dd = default if default is None else _zero(dots[2] if len(dots) > 2 else None, default)
    return rt.get_jvp(_zero(dots[0], d), d, key, *([] if dd is None else [dd]))


# s2sad's container helpers, for derivatives of derivatives: each is linear in its first argument
defrule(runtime.add_adjoint, "add_adjoint", lambda g, ans, h, x, y: (rt.add_transpose(g, x, y), None, None),
        diff=(0,), linear="joint", zero=(1, 2), container=True, complex_ok=True)
defrule(runtime.add_transpose, "add_transpose", lambda g, ans, h, x, y: (rt.add_adjoint(g, x, y), None, None),
        diff=(0,), linear="joint", zero=(1, 2), container=(1,), complex_ok=True)
defrule(runtime.mul_adjoint, "mul_adjoint", lambda g, ans, h, x, n: (g * n, None, None), diff=(0,), linear="joint",
        zero=(1,))
defrule(builtins.list, "list", lambda g, ans, x: (rt.sequence_adjoint(g, x),), linear="joint", returns="list", complex_ok=True)
defrule(builtins.tuple, "tuple", lambda g, ans, x: (rt.sequence_adjoint(g, x),), linear="joint", returns="tuple", complex_ok=True)
defrule(runtime.sequence, "sequence", lambda g, ans, x: (rt.sequence_adjoint(g, x),), linear="joint", returns="seq",
        view=True, shape=shapes.same, ints=True, complex_ok=True)
defrule(builtins.reversed, "reversed", lambda g, ans, x: (rt.sequence_adjoint(g[::-1], x),), linear="joint",
        returns="seq", complex_ok=True)
defrule(dict.items, "dict.items", lambda g, ans, d: (rt.items_adjoint(g, d),), linear="joint", returns="seq")
defrule(dict.values, "dict.values", lambda g, ans, d: (rt.values_adjoint(g, d),), linear="joint", returns="seq")
defrule(dict.get, "dict.get", _get, diff=(0, 2), forward=_get_forward)
defrule(builtins.dict, "dict", lambda g, ans, d: (rt.dict_adjoint(g, d),), returns="dict",
        forward=lambda ans, dots, d: rt.dict_jvp(_zero(dots[0], d), d))
defrule(runtime.zipped, "zipped", lambda g, ans, xs: (rt.unzipped(g, xs),), linear="joint", returns="list")
defrule(runtime.merged, "merged", lambda g, ans, parts: (rt.merged_adjoint(g, parts),), returns="dict",
        forward=lambda ans, dots, parts: rt.merged_jvp(_zero(dots[0], parts), parts))
defrule(numpy.ndarray.tolist, "ndarray.tolist", lambda g, ans, x: (rt.tolist_adjoint(g, x),),
        forward=lambda ans, dots, x: rt.tolist_jvp(dots[0]), returns="list")
NONDIFFERENTIABLE.update([dict.keys, list.index, list.count])
METHODS.update(items=dict.items, values=dict.values, get=dict.get, tolist=numpy.ndarray.tolist)
# methods of a container that carries a gradient whose result carries none and that leave it as it was
RECEIVER_ONLY_METHODS = {"index", "count", "keys", "__len__", "__contains__"}

# ----- records: namedtuples and dataclasses, whose fields are read as attributes -----

# `x.name` for an attribute that is not an ndarray's: a field of a namedtuple or a dataclass (checked
# when the derivative runs: anything else with a gradient raises there)
FIELD = Rule("x.field", lambda g, ans, x, name: (rt.field_adjoint(g, x, name), None), diff=(0,),
             forward=lambda ans, dots, x, name: rt.field_tangent(dots[0], x, name), view=True, item=True)
_RECORDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # class -> its rule (or None)


def record_rule(cls: object) -> Rule | None:
    """The rule for making a namedtuple or a dataclass from its fields (``Params(W, b)``, ``Layer(w=W)``),
    where its ``__init__`` (``__new__``) only stores them: each argument's cotangent is its field's.
    None for anything else (a dataclass with ``__post_init__``, ``InitVar`` or an ``__init__`` of its own)."""
    if not isinstance(cls, type):
        return None
    try:
        if cls not in _RECORDS:
            _RECORDS[cls] = _record_rule(cls)
        return _RECORDS[cls]
    except TypeError:
        return None


def _record_rule(cls: Any) -> Rule | None:
    if issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        if not _generated(next(c for c in cls.__mro__ if "__new__" in c.__dict__).__new__):
            return None
        fields = [(f, cls._field_defaults.get(f, REQUIRED)) for f in cls._fields]
        data = set(cls._fields)
    elif _plain_dataclass(cls):
        inits = [f for f in dataclasses.fields(cls) if f.init]
        fields = [(f.name, f.default if f.default is not dataclasses.MISSING else REQUIRED) for f in inits]
        data = {f.name for f in inits if not (f.metadata.get("static") or f.metadata.get("pytree_node", True) is False)}
    else:
        return None
    names = tuple(n for n, _ in fields)
    return Rule(rule_name(cls), lambda g, ans, *args, **kwargs: tuple(rt.field_of(g, n, i) for i, n in zip(range(len(args)), names)),
                diff=tuple(i for i, n in enumerate(names) if n in data),
                forward=lambda ans, dots, *args, **kwargs: rt.record_jvp(ans, names[:len(dots)], *dots),
                container=True, params=tuple(fields), holds=True)


def _plain_dataclass(cls: Any) -> bool:
    """A dataclass whose ``__init__`` is the one ``dataclasses`` wrote, with no ``__post_init__`` or ``InitVar``."""
    params = getattr(cls, "__dataclass_params__", None)
    return params is not None and params.init and not hasattr(cls, "__post_init__") and _generated(cls.__init__) \
        and all(f._field_type is dataclasses._FIELD  # type: ignore[attr-defined]  # (not a ClassVar or an InitVar)
                for f in cls.__dataclass_fields__.values())


def _generated(fn: object) -> bool:
    """A ``__new__``/``__init__`` that ``collections.namedtuple`` or ``dataclasses`` wrote (compiled from a string)."""
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_filename == "<string>" and code.co_name in ("<lambda>", "__init__")


BINOP_FUNCS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "**": operator.pow, "@": operator.matmul, "//": operator.floordiv, "%": operator.mod,
}
UNARYOP_FUNCS = {"-": operator.neg, "+": operator.pos, "not": operator.not_, "~": operator.invert}
