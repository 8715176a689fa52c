"""The shapes the rule table declares are NumPy's (``Rule.shape``, ``Rule.elementwise``).

A shape-specific derivative gives every name the concrete shape its rule's ``shape`` transfer says
(``facts.concrete_dims``), and an elementwise result the shape its array operands share
(``facts.same_shapes``); either leaves ``unbroadcast`` out of the pullback. A declared shape NumPy does
not give is a gradient of the wrong shape, or one broadcast silently. The declarations are checked
against NumPy: every primitive is called on arrays of several shapes (with small int arguments after
them, and the keywords a reduction takes), and where it returns a number or an array, the shape its
transfer gives (where it gives one) is the result's, and an elementwise result has the shape its
operands broadcast to.

Forward mode applies a primitive declared ``linear="joint"`` to the tangents: each is checked to be linear
in the operands it differentiates, jointly (``f(u + v) == f(u) + f(v)``, ``f(2u) == 2 f(u)``), on every call
its reverse rule takes.
"""

import itertools
import warnings

import numpy as np
import pytest
import scipy.special

import s2sad
from s2sad import shapes
from s2sad.errors import NoDerivativeRuleError
from s2sad.ir import Const, Name, Slice, Tuple
from s2sad.pytree import leaves
from s2sad.rules import ATTRIBUTES, METHODS, RULES, Sym, sym
from s2sad.testing import check_grads


def _another_operand(operands, extra) -> bool:
    return len(operands) > 1


# declared shapes NumPy does not give only where it does not matter, with the reason and the probes it is for
NOT_SHAPES = {
    "conj": ("x.conj(out) writes into out: the rule takes the array alone (refused)", _another_operand),
    "conjugate": ("x.conjugate(out): as x.conj(out)", _another_operand),
    "numpy.nan_to_num": ("a second operand is copy=, which the rule does not take (refused)", _another_operand),
    "scipy.special.multigammaln": ("a dimension d below 1 (or not a constant int): SciPy sums no terms, a constant; "
                                   "the rule refuses it",
                                   lambda operands, extra: len(operands) > 1 or extra[:1] not in [(1,), (2,)]),
}
SHAPES = [(3,), (2, 3), (1, 3), (3, 1), (2, 1, 3), (1,), ()]
EXTRAS = [(), (0,), (1,), (-1,), (2,), (0, 1), (0.5,)]
KEYWORDS = [{"axis": 0}, {"axis": -1}, {"axis": 1, "keepdims": True}, {"keepdims": True}, {"axis": (0, 1)},
            {"axis": None, "keepdims": True}]
INDICES = [0, -1, slice(1, None), slice(None, None, -1), slice(-2, 5, 2), (0, 1), (slice(None), 0),
           (0, slice(None, 2)), (slice(1, 2), slice(None)), None, Ellipsis, True]
# (operand shapes, extra positional arguments, keywords): one operand (or a Python float) with each extra and
# keyword, two of every pair of shapes, a few of three and four
PROBES = [
    *[([s], extra, {}) for s in [*SHAPES, float] for extra in EXTRAS],
    *[([s], (), kw) for s in [*SHAPES, float] for kw in KEYWORDS],
    *[(list(pair), extra, {}) for pair in itertools.product(SHAPES, repeat=2) for extra in [(), (0,)]],
    *[(operands, (), {}) for operands in [[(2, 3), (3,), (2, 1)], [(), (3,), (2, 3)], [(2, 1, 3), (3, 1), ()],
                                          [(3,), (3,), (3,)], [(2, 3)] * 4]],
]
INDEX_PROBES = [([s], (i,), {}) for s in SHAPES for i in INDICES]
ARRAYS = {s: np.random.default_rng(0).uniform(0.2, 0.8, s) for s in [*SHAPES, (2, 1)]}


def _ir(value: object):
    """The IR of a constant operand, as ``lower`` writes it."""
    if isinstance(value, tuple):
        return Tuple([_ir(v) for v in value])
    if isinstance(value, slice):
        return Slice(*(None if p is None else Const(p) for p in (value.start, value.stop, value.step)))
    return Const(value)


def _dim(value: object):
    """The shape ``facts._Dims`` knows of a constant operand (an int or float's is ``()``)."""
    return () if type(value) in (int, float) else None


def _operands(shapes_):
    values = [0.5 if s is float else ARRAYS[s].copy() for s in shapes_]
    names = [Const(0.5) if s is float else Name(f"x{i}") for i, s in enumerate(shapes_)]
    return values, names, [() if s is float else s for s in shapes_]


def _result_shape(call):
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", DeprecationWarning)  # (a one-element array read as a number by
            r = call()  # math.sin, float: an error from NumPy 2.4 on, deprecated before: not probed)
    except Exception:
        return None
    if isinstance(r, np.ndarray | np.generic | int | float | complex) and not isinstance(r, bool):
        return np.shape(r)
    return None


def _probe(name, rule, call, probes):
    """The mismatches of ``rule`` on ``probes``: ``call(values, extra, keywords)`` runs the primitive."""
    found = {}
    for operands, extra, kw in probes:
        if name in NOT_SHAPES and NOT_SHAPES[name][1](operands, extra):
            continue
        values, names, dims = _operands(operands)
        got = _result_shape(lambda: call(values, extra, kw))
        if got is None:
            continue
        args, arg_dims = [*names, *map(_ir, extra)], [*dims, *map(_dim, extra)]
        if rule.shape is not None:
            said = rule.shape(arg_dims, args, {k: _ir(v) for k, v in kw.items()}, set())
            if said is not None and said != got:
                found.setdefault("shape", (operands, extra, kw, said, got))
        if rule.elementwise and None not in arg_dims and shapes.broadcast(*arg_dims) != got:
            found.setdefault("elementwise", (operands, extra, kw, shapes.broadcast(*arg_dims), got))
    return found


def _library(fn) -> bool:
    return callable(fn) and not str(getattr(fn, "__module__", "") or "").startswith("s2sad")


def test_every_primitive_gives_the_shape_its_rule_declares():
    wrong = {}
    for fn, rule in RULES.items():
        if not _library(fn) or (rule.shape is None and not rule.elementwise):
            continue
        probes = INDEX_PROBES if rule.shape is shapes.index else PROBES
        found = _probe(rule.name, rule, lambda values, extra, kw: fn(*values, *extra, **kw), probes)
        if found:
            wrong[rule.name] = found
    assert not wrong, f"declared shapes NumPy does not give (operands, extra arguments, keywords, declared, " \
                      f"NumPy's): {wrong}"


def test_every_method_and_attribute_gives_the_shape_its_rule_declares():
    wrong = {}
    for name, fn in METHODS.items():
        rule = RULES.get(fn)
        if rule is None or (rule.shape is None and not rule.elementwise):
            continue
        found = _probe(name, rule, lambda values, extra, kw: getattr(values[0], name)(*values[1:], *extra, **kw),
                       [p for p in PROBES if p[0][0] is not float])
        if found:
            wrong[name] = found
    for name, rule in ATTRIBUTES.items():
        if rule is None or (rule.shape is None and not rule.elementwise):
            continue
        found = _probe(name, rule, lambda values, extra, kw: getattr(values[0], name), [([s], (), {}) for s in SHAPES])
        if found:
            wrong[name] = found
    assert not wrong, f"declared shapes NumPy does not give: {wrong}"


# ----- what the corrections fix -----


def larger_of(x, y):
    return max(x, y) * 2.0  # (x of shape (1,), y 0-d: the larger one itself, of its own shape)


def smaller_of(x, y):
    m = min(y, x)
    return m * m + np.sum(x)


@pytest.mark.parametrize("fn", [larger_of, smaller_of])
def test_builtin_max_of_one_element_arrays_has_the_shape_of_the_one_it_returns(fn):
    for y in (np.array(0.9), np.array(0.1)):
        x = np.array([0.5])
        value, tangent = s2sad.jvp(fn, (x, y), (np.ones(1), np.ones(())))
        assert np.shape(tangent) == np.shape(value) == np.shape(fn(x, y))
        check_grads(fn, (x, y), modes=("rev", "fwd"))


def squared_larger(x, y):
    m = max(x * x, y)
    return m * m * 2.0


def slope_of_squared_larger(x):
    return s2sad.jvp(squared_larger, (x, 0.9), (1.0, 0.0))[1]


def test_the_tangent_of_builtin_max_is_differentiated_again():
    for x in (0.5, 1.5):
        check_grads(slope_of_squared_larger, (x,), modes=("rev", "fwd"))


def no_dimensions(x):
    return np.sum(scipy.special.multigammaln(x, 0) * x)  # (0.0: SciPy sums no terms)


def test_a_multivariate_gamma_of_no_dimensions_is_refused():
    with pytest.raises(NoDerivativeRuleError, match="the dimension d must be a constant positive integer"):
        s2sad.grad(no_dimensions)(np.array([2.0, 3.0]))


def conj_into(x):
    out = np.zeros(3)
    return np.sum(x.conj(out))


def nan_to_num_copy(x):
    return np.sum(np.nan_to_num(x, x > 0.5))


@pytest.mark.parametrize("fn", [conj_into, nan_to_num_copy])
def test_the_calls_whose_shapes_are_not_declared_are_refused(fn):
    assert set(NOT_SHAPES) <= {r.name for r in RULES.values()} | set(METHODS)
    with pytest.raises(NoDerivativeRuleError, match="does not support this call"):
        s2sad.grad(fn)(np.full((1, 3), 0.5))


# ----- linear declarations: forward mode applies the call to the tangents -----

XP = np.array([0.0, 1.0, 2.0])


def interpolated_with_ends(fp):
    return np.sum(np.interp(np.array([-1.0, 0.5, 3.0]), XP, fp, left=0.5, right=2.0) ** 2)


def differenced_with_ends(x):
    return np.sum(np.diff(x, prepend=0.5, append=2.0) ** 2)


def ediff_with_ends(x):
    return np.sum(np.ediff1d(x, to_end=2.0, to_begin=0.5) ** 2)


@pytest.mark.parametrize("fn", [interpolated_with_ends, differenced_with_ends, ediff_with_ends])
def test_forward_mode_refuses_the_calls_of_a_linear_primitive_its_reverse_rule_refuses(fn):
    # (constant ends make these affine, not linear: the call applied to the tangent was a wrong derivative)
    with pytest.raises(NoDerivativeRuleError, match="does not support this call"):
        s2sad.jvp(fn, (np.array([0.3, 1.2, 2.5]),), (np.ones(3),))


def truncated(x):
    return np.sum(np.astype(x * 3.0, int) * x) + np.sum((x * 2.0).astype(np.int32) * x)


def made_integer(x):
    return np.sum(np.array(x * 3.0, int) * x) + np.sum(np.full(3, x[0] * 3.0, dtype=int) * x) + np.sum(
        np.asarray(x * 5.0, dtype=bool) * x)


@pytest.mark.parametrize("fn", [truncated, made_integer])
def test_a_cast_to_an_integer_type_carries_no_derivative(fn):
    check_grads(fn, (np.array([0.3, 1.1, 2.3]),), modes=("rev", "fwd"))  # (away from the steps)


LINEAR_KEYWORDS = [{}, {"axis": 0}, {"axis": -1}, {"keepdims": True}, {"prepend": 0.5}, {"append": 0.5},
                   {"left": 0.5}, {"right": 0.5}, {"to_begin": 0.5}, {"to_end": 0.5}, {"norm": "ortho"}]
LINEAR_PROBES = [
    *[([s], extra, kw) for s in SHAPES for extra in EXTRAS for kw in LINEAR_KEYWORDS if not (extra and kw)],
    *[(list(pair), extra, {}) for pair in itertools.product(SHAPES, repeat=2) for extra in [(), (0,)]],
    *[([(3,), (3,), (3,)], (), kw) for kw in LINEAR_KEYWORDS],  # (np.interp(x, xp, fp))
    *[([[(2, 3), (2, 3)]], extra, {}) for extra in [(), (0,), (1,), (-1,)]],  # (a list of arrays: np.concatenate)
]


def _value(shape, rng):
    return [_value(s, rng) for s in shape] if isinstance(shape, list) else rng.uniform(0.2, 0.8, shape)


def _sum(a, b):
    return [_sum(x, y) for x, y in zip(a, b)] if isinstance(a, list) else a + b


def _numbers(r) -> list | None:
    """The leaves of a result, where each is a floating or complex number or array (None otherwise: an int
    carries no derivative, ``facts.int_names``)."""
    found = list(leaves(r))
    ok = all(isinstance(v, np.ndarray | np.generic | float | complex) and np.issubdtype(np.asarray(v).dtype, np.inexact)
             for v in found)
    return found if ok and found else None


def _refused(rule, operands, extra, kw) -> bool:
    """The reverse rule does not take the call (then neither mode differentiates it)."""
    names = [Sym(Name(f"x{i}")) for i in range(len(operands))]
    try:
        rule.reverse(Sym(Name("g")), Sym(Name("ans")), *names, *map(sym, extra), **{k: sym(v) for k, v in kw.items()})
    except (TypeError, NotImplementedError):
        return True
    return False


def _not_linear(rule, call, probes):
    """The first probe where ``call(arguments, keywords)`` is not linear in the arguments ``rule``
    differentiates, jointly (a constant among them too: forward mode gives it a zero tangent)."""
    for operands, extra, kw in probes:
        if _refused(rule, operands, extra, kw):
            continue
        rng = np.random.default_rng(1)
        u = [*(_value(s, rng) for s in operands), *extra]
        linear = {i for i in range(len(u)) if rule.diff is None or i in rule.diff}
        v = [_value(operands[i], rng) if i < len(operands) and i in linear else x for i, x in enumerate(u)]
        fu, fv, f_sum, f_twice = (_numbers(_result(lambda a=a: call(a, kw))) for a in (
            u, v, [_sum(x, y) if i in linear else x for i, (x, y) in enumerate(zip(u, v))],
            [_sum(x, x) if i in linear else x for i, x in enumerate(u)]))
        if None in (fu, fv, f_sum, f_twice) or not all(np.all(np.isfinite(r)) for r in [*fu, *fv, *f_sum, *f_twice]):
            continue
        if not all(np.allclose(a, b + c) and np.allclose(d, 2.0 * b) for a, b, c, d in zip(f_sum, fu, fv, f_twice)):
            return operands, extra, kw
    return None


def _result(call):
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except Exception:
        return None


def test_every_primitive_declared_linear_is_linear():
    wrong = {}
    for fn, rule in RULES.items():
        if _library(fn) and rule.linear == "joint":
            found = _not_linear(rule, lambda args, kw: fn(*args, **kw), LINEAR_PROBES)
            if found:
                wrong[rule.name] = found
    for name, fn in METHODS.items():
        rule = RULES.get(fn)
        if rule is not None and rule.linear == "joint":
            found = _not_linear(rule, lambda args, kw: getattr(args[0], name)(*args[1:], **kw),
                                [p for p in LINEAR_PROBES if isinstance(p[0][0], tuple)])
            if found:
                wrong[f".{name}()"] = found
    for name, rule in ATTRIBUTES.items():
        if rule is not None and rule.linear == "joint":
            found = _not_linear(rule, lambda args, kw: getattr(args[0], name), [([s], (), {}) for s in SHAPES])
            if found:
                wrong[name] = found
    assert not wrong, f"declared linear=\"joint\", not linear (operands, extra arguments, keywords): {wrong}"


def at_least_one_dimension(x):
    p, q = np.atleast_1d(x, 0.5)  # (a tuple: the constant's tangent was the constant)
    return np.sum(p * 2.0) + np.sum(q) * np.sum(x)


def appended_rows(x):
    return np.sum(np.append(x[None, :], x[None, :] * 2.0, 0) ** 2)  # (the axis is no operand to differentiate)


def test_what_a_linear_primitive_takes_besides_its_operands():
    x = np.array([0.3, 1.1, 2.3])
    for mode in ("rev", "fwd"):
        with pytest.raises(NoDerivativeRuleError, match="does not support this call"):
            check_grads(at_least_one_dimension, (x,), modes=(mode,))
    check_grads(appended_rows, (x,), modes=("rev", "fwd"))
