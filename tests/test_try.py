"""``try`` on the differentiated path: several ``except`` clauses, ``except ... as e``, ``else``,
``finally``, exits inside a ``try``, and a ``try`` whose body stops partway (statements, loops).

The derivative records which handler ran, as an ``if`` records its branch; ``finally`` runs on
every path. Each program is checked against finite differences on each path, in reverse and
forward mode and at second order; what cannot be made exact is refused at the user's line.
"""

import math
import sys

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

LOG = []


def check(f, args, second=True):
    check_grads(f, args, modes=("rev", "fwd"))
    if second:  # grad(grad(...)): the generated try statements are transformed again
        check_grads(s2sad.grad(f), args, argnums=(0,), modes=("rev", "fwd"))


def clauses(x):
    try:
        y = math.log(x) * x
        if y > 1.0:
            raise KeyError("large")
    except ValueError:  # log of a negative number
        y = x * x
    except (TypeError, KeyError) as e:
        y = math.sin(x) * len(e.args)
    return y * x


@pytest.mark.parametrize("x", [1.5, -1.5, 4.0], ids=["body", "first clause", "second clause"])
def test_several_clauses_record_the_one_that_ran(x):
    check(clauses, (x,))


def test_several_clauses_become_one_with_an_if_on_the_exception():
    text = s2sad.source(clauses)
    assert "except BaseException as exc:" in text and "isinstance(exc, ValueError)" in text
    assert "        raise exc\n" in text  # an exception no clause takes goes on


def reraised(x):
    try:
        y = math.sqrt(x)
    except ValueError as e:
        if "domain" in str(e):
            raise
        y = 0.0
    return y


def test_bare_raise_in_a_handler_raises_the_exception_again():
    with pytest.raises(ValueError, match="domain"):
        s2sad.grad(reraised)(-1.0)
    check(reraised, (2.0,))


def partial(x):
    try:
        y = x * 2.0
        z = math.log(y)
    except ValueError:
        z = 0.0
    return y * z


@pytest.mark.parametrize("x", [1.5, -1.5])
def test_a_body_that_stops_partway_keeps_what_it_set(x):
    check(partial, (x,))  # y is set before the log raises: the handler's path uses it


def cleanup(x, n):
    try:
        for _ in range(n):
            x = x * 1.5
        y = math.sqrt(x)
        if y > 3:
            raise KeyError(y)
        return y * x
    except (ValueError, ZeroDivisionError) as e:
        LOG.append(type(e).__name__)
        return -x
    finally:
        LOG.append("finally")


@pytest.mark.parametrize("x", [2.0, -2.0])
def test_finally_runs_on_every_path(x):
    LOG.clear()
    check(cleanup, (x, 2))
    assert LOG and LOG.count("finally") == len(LOG) - LOG.count("ValueError")
    LOG.clear()
    with pytest.raises(KeyError):  # no clause takes it: `finally` runs, then it goes on
        s2sad.grad(cleanup)(9.0, 1)
    assert LOG == ["finally"]


def step(x, k):
    if k == 2 and x[0] > 1.0:
        raise FloatingPointError("diverged")
    return x * 1.1 + np.sin(x)


def newton_like(x):
    total = 0.0
    try:
        for k in range(4):
            x = step(x, k)
            total = total + np.sum(x ** 2)
    except FloatingPointError:
        total = total + np.sum(x)  # the values of the iteration that raised: x from k = 1
    return total


def while_in_try(x):
    k = 0
    try:
        while np.sum(x) < 10.0:
            x = step(x, k) + 1.0
            k += 1
    except FloatingPointError:
        x = x * 0.5
    return np.sum(x * x)


@pytest.mark.parametrize("x0", [0.05, 0.6])
@pytest.mark.parametrize("f", [newton_like, while_in_try])
def test_a_loop_in_a_try_stops_at_the_exception(f, x0):
    check(f, (np.array([x0, 0.2]),))


def exits(xs):
    total = 0.0
    for x in xs:
        try:
            if x < -1.0:
                break
            if x < 0.0:
                continue
            total = total + math.sqrt(x) * x
        except ValueError:
            total = total - x
        else:
            total = total * 1.1
        finally:
            LOG.append(x)
    return total


def test_break_and_continue_in_a_try_with_finally():
    LOG.clear()
    check(exits, ([0.5, -0.5, 2.0, -2.0, 3.0],))
    LOG.clear()
    s2sad.grad(exits)([0.5, -0.5, 2.0, -2.0, 3.0])
    assert LOG == [0.5, -0.5, 2.0, -2.0]  # `finally` ran for the `continue` and the `break` too


def nested(x):
    try:
        try:
            y = math.log(x)
        except ValueError:
            y = math.log(-x)
            if x < -5:
                raise
        z = y * x
    except ValueError:
        z = x
    return z


@pytest.mark.parametrize("x", [2.0, -2.0, -6.0])
def test_nested_try(x):
    check(nested, (x,))


def returns_with_finally(x):
    try:
        return math.exp(x) * x
    finally:
        LOG.append("closed")


def test_return_inside_try_with_finally():
    LOG.clear()
    check(returns_with_finally, (0.3,))
    assert LOG and set(LOG) == {"closed"}


def with_in_try(x):
    try:
        with np.errstate(all="raise"):
            y = x * 2.0
            z = np.log(y)
    except FloatingPointError:
        z = 0.0
    return np.sum(y * z)


def test_a_with_block_that_may_stop_partway_is_refused():
    with pytest.raises(s2sad.S2SADSyntaxError, match="'y' is set inside this `with` block") as info:
        s2sad.grad(with_in_try)(np.ones(2))
    assert info.value.lineno == with_in_try.__code__.co_firstlineno + 2


@pytest.mark.skipif(sys.version_info < (3, 11), reason="except* is Python 3.11's")
def test_except_star_is_refused(tmp_path):
    (tmp_path / "star_module.py").write_text(
        "def f(x):\n    try:\n        y = x\n    except* ValueError:\n        y = 0.0\n    return y\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import star_module
    finally:
        sys.path.remove(str(tmp_path))
    with pytest.raises(s2sad.S2SADSyntaxError, match="except\\*"):
        s2sad.grad(star_module.f)(1.0)
