"""What may share memory with its operand is declared so (``Rule.view``, ``Rule.returns``).

A primitive that returns a view of an array it is given, or the array itself, makes a later write into
the array change its result: ``mutation`` must know, or the derivative reads the changed value as the
old one, silently. The declaration is checked against NumPy: every primitive is called on arrays of
several shapes (with small int arguments after them), and whatever result shares memory with the array
must be declared to.
"""

import numpy as np
import pytest
import scipy.linalg

import s2sad
from s2sad.errors import NoDerivativeRuleError, S2SADSyntaxError
from s2sad.ir import Const, Name
from s2sad.pytree import leaves
from s2sad.rules import INPLACE_OPS, METHODS, RULES
from s2sad.testing import check_grads

# shares memory only where it does not matter, with the reason
NOT_VIEWS = {
    **{RULES[f].name: "an in-place operator: lowered to the write it is" for f in INPLACE_OPS if f in RULES},
    "numpy.nan_to_num": "only with copy=False, which its rule does not take (refused)",
    "numpy.fft.fftn": "only of a 0-d array (the transform of one number is itself)",
    "numpy.fft.ifftn": "only of a 0-d array",
    "scipy.linalg.cho_factor": "only with overwrite_a=True, refused as a write into its operand",
    "scipy.linalg.cholesky": "only with overwrite_a=True, refused as a write into its operand",
    "scipy.linalg.lu_factor": "only with overwrite_a=True, refused as a write into its operand",
}
SHAPES = [(3,), (2, 3), (2, 2), (1, 3), (3, 1), (2, 2, 2), ()]
EXTRAS = [(), (0,), (1,), (2,), (-1,), (0, 1), (1, 0), (2, 0)]


def _shares(r, x) -> bool:
    return any(isinstance(leaf, np.ndarray) and np.shares_memory(leaf, x) for leaf in leaves(r))


def _declared(rule, extra, shape) -> bool:
    view = rule.view
    if callable(view):
        return view([Name("x"), *map(Const, extra)], {}, lambda e: shape if e == Name("x") else None)
    return bool(view) or rule.returns is not None


def _probes(call):
    for shape in SHAPES:
        x = np.random.default_rng(0).uniform(0.2, 0.8, shape)
        for extra in EXTRAS:
            try:
                with np.errstate(all="ignore"):
                    r = call(x, extra)
            except Exception:
                continue
            if _shares(r, x):
                yield shape, extra


def _library(fn) -> bool:
    return callable(fn) and not str(getattr(fn, "__module__", "") or "").startswith("s2sad")


def test_every_primitive_that_returns_memory_of_its_operand_declares_it():
    undeclared = {}
    for fn, rule in RULES.items():
        if not _library(fn) or rule.name in NOT_VIEWS:
            continue
        for shape, extra in _probes(lambda x, extra: fn(x, *extra)):
            if not _declared(rule, extra, shape):
                undeclared.setdefault(rule.name, (shape, extra))
    assert not undeclared, f"return memory of their operand, not declared view= (shape, extra arguments): {undeclared}"


def test_every_method_that_returns_memory_of_its_array_declares_it():
    undeclared = {}
    for name, fn in METHODS.items():
        rule = RULES.get(fn)
        for shape, extra in _probes(lambda x, extra: getattr(x, name)(*extra)):
            if rule is None or not _declared(rule, extra, shape):
                undeclared.setdefault(name, (shape, extra))
    assert not undeclared, f"ndarray methods returning memory of the array, not declared: {undeclared}"


def test_the_reasons_for_not_declaring_still_hold():
    assert set(NOT_VIEWS) <= {r.name for r in RULES.values()}
    for fn, rule in RULES.items():
        if rule.name in NOT_VIEWS and rule.name.startswith("numpy.fft"):
            assert all(shape == () for shape, _ in _probes(lambda x, extra: fn(x, *extra)))


# ----- what the declarations fix: each of these was a silently wrong derivative -----


def diag_of(x):
    a = x * 1.0
    d = np.diag(a)  # (a read-only view of a 2-D array)
    a[0, 0] *= 3.0
    return np.sum(d * d)


def rotated(x):
    a = x * 1.0
    r = np.rot90(a)
    a[0, 1] *= 3.0
    return np.sum(r * r)


def rolled(x):
    a = x * 1.0
    r = np.rollaxis(a, 1)
    a[0, 1] *= 3.0
    return np.sum(r * r)


def cast(x):
    a = x * 1.0
    m = np.float64(a)  # (a float64 array: the array itself)
    a[0] *= 3.0
    return np.sum(m * m)


def real_if_close(x):
    a = x * 1.0
    m = np.real_if_close(a)
    a[0] *= 3.0
    return np.sum(m * m)


def conjugated(x):
    a = x * 1.0
    m = a.conj()  # (of a real array: the array itself)
    a[0] *= 3.0
    return np.sum(m * m)


def halves(x):
    a = x * 1.0
    p, q = np.split(a, 2)  # (views of a)
    a[0] *= 3.0
    return np.sum(p * p) + np.sum(q)


def rows(x):
    a = x * 1.0
    parts = np.vsplit(a, 2)
    a[0, 0] *= 3.0
    return np.sum(parts[0] * parts[0])


def differenced_zero_times(x, n):
    a = x * 1.0
    r = np.diff(a, n)  # (n == 0: a itself)
    a[0, 1] *= 3.0
    return np.sum(r * r)


def first_power(x, n):
    a = x * 1.0
    r = np.linalg.matrix_power(a, n)  # (n == 1: a itself)
    a[0, 1] *= 3.0
    return np.sum(r * r)


def larger(x):
    a = np.array(x[0, 0] * 1.0)
    b = np.array(x[0, 1] * 1.0)
    m = max(a, b)  # (one of the two 0-d arrays itself)
    a *= 3.0
    return m * 2.0 + a


@pytest.mark.parametrize("fn", [diag_of, rotated, rolled, cast, real_if_close, conjugated, halves, rows, larger])
def test_a_read_of_a_view_after_a_write_into_its_array_is_refused(fn):
    x = np.random.default_rng(0).uniform(0.2, 0.9, (2, 2))
    with pytest.raises(S2SADSyntaxError, match="shares memory with the (array|value) written here"):
        s2sad.grad(fn)(x)


@pytest.mark.parametrize("fn", [differenced_zero_times, first_power])
def test_a_count_known_only_when_it_runs_may_return_the_array_itself(fn):
    x = np.random.default_rng(0).uniform(0.2, 0.9, (2, 2))
    with pytest.raises(S2SADSyntaxError, match="shares memory with the array written here"):
        s2sad.grad(fn)(x, 1)


def differenced(x):
    a = x * 1.0
    r = np.diff(a)
    p = np.linalg.matrix_power(a, 2)
    a[0, 1] *= 3.0
    return np.sum(r * r) + np.sum(p * a)


def writes_after(v):
    s = np.float64(np.sum(v))  # (of a number: a new number)
    s *= 2.0
    w = np.diag(v * 2.0)  # (of a 1-D array: a new array)
    w[0, 1] = v[0]
    p, q = np.split(v * 1.0, 2)
    return s * v[0] + np.sum(w * w) + np.sum(p * q)


def diagonal_matrix_written(v):
    d = np.diag(v)  # (of a 1-D array: a new matrix, written into)
    d[0, 1] = v[0] * 2.0
    return np.sum(d * d) + np.sum(v)


def test_a_write_into_a_diagonal_matrix_made_from_an_argument():
    check_grads(diagonal_matrix_written, (np.array([0.3, 0.5, 0.7]),), modes=("rev", "fwd"))


def test_what_makes_a_new_array_is_not_refused():
    x = np.random.default_rng(1).uniform(0.2, 0.9, (2, 2))
    check_grads(differenced, (x,), modes=("rev", "fwd"))
    check_grads(writes_after, (np.array([0.3, 0.5, 0.7, 0.9]),), modes=("rev", "fwd"))


def float64_of_a_read(x):
    a1 = x * 1.0
    a1[::-1] *= np.float64(a1)  # (the fuzzer's program: the cast is a1 itself, read by the pullback)
    return np.sum(a1 * np.arange(3.0))


def test_the_pullback_reads_a_cast_array_as_it_was():
    check_grads(float64_of_a_read, (np.array([0.3, -0.7, 1.1]),), modes=("rev", "fwd"))
    check_grads(float64_of_a_read, (np.array([0.3, -0.7, 1.1]),), modes=("rev",), order=2)


def overwritten(x):
    a = x @ x.T + 2.0 * np.eye(3)
    lu, piv = scipy.linalg.lu_factor(a, overwrite_a=True)
    return np.sum(lu) + np.sum(a)


def test_an_overwrite_flag_is_a_write_into_the_operand():
    with pytest.raises(NoDerivativeRuleError, match="writes into an array it is given"):
        s2sad.grad(overwritten)(np.random.default_rng(2).uniform(0.2, 0.9, (3, 3)))
