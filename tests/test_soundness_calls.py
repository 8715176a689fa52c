"""Soundness of calls, closures, forward mode and printing: each derivative is exact or refused."""

import importlib.util

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

try:
    import scipy.special
    import scipy.stats
except ImportError:  # scipy is optional
    scipy = None
needs_scipy = pytest.mark.skipif(scipy is None, reason="scipy is not installed")

# expressions whose printing needs parentheses (or must not gain any): each is lowered, differentiated
# and printed back, and must evaluate as Python evaluates it
TRICKY = [
    "x * (-1.5) ** 2", "(-x) ** 2", "-(x ** 2)", "-x ** 2", "2.0 ** -x", "x ** -2.0", "(-0.5 * x) ** 3",
    "x - (y - x)", "(x - y) - (x - y)", "x / (y * x)", "x / y / x", "(x * y) ** 2", "x ** y ** 0.5",
    "(x ** y) ** 0.5", "-x * -y", "(-2.0) * x", "x - -y", "-(-x)", "abs(-x) ** 2", "(-x) ** 3 * (-y) ** 2",
    "x if x > y else -y", "np.sin(x if x > 0 else -x) ** 2", "(lambda t: t * x)(y) ** 2",
    "x * (1.0 if 0.0 < x < y else -1.0)", "(x + y) * (x - y)", "(-1.5) ** 2 * y", "x * -1.5 ** 2",
    "(-1.5) ** 3 * x", "x * (-3) ** 2", "-(x * y) ** 2 - (-(x - y)) ** 3",
]


@pytest.fixture(scope="module")
def tricky(tmp_path_factory):
    path = tmp_path_factory.mktemp("printer") / "tricky_exprs.py"
    path.write_text("import numpy as np\n\n" + "".join(
        f"def f{i}(x, y):\n    return {e}\n\n" for i, e in enumerate(TRICKY)))
    spec = importlib.util.spec_from_file_location("tricky_exprs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("i", range(len(TRICKY)), ids=TRICKY)
def test_printed_expressions_evaluate_as_written(tricky, i):
    f = getattr(tricky, f"f{i}")
    args = (0.7, 1.3)
    value, _ = s2sad.value_and_grad(f, argnums=(0, 1))(*args)
    assert value == f(*args)
    assert s2sad.jvp(f, args, (1.0, 0.0))[0] == f(*args)
    check_grads(f, args, modes=("rev", "fwd"))


def _refusal(fn, args, mode):
    """The error s2sad raises for ``fn`` in ``mode``, with the user's line it names."""
    with pytest.raises((s2sad.NoDerivativeRuleError, s2sad.S2SADSyntaxError)) as info:
        if mode == "rev":
            s2sad.grad(fn)(*args)
        else:
            s2sad.jvp(fn, args, args)
    return str(info.value)


def _line(fn, text):
    import inspect

    lines, first = inspect.getsourcelines(fn)
    return f"{__file__}:{first + next(i for i, line in enumerate(lines) if text in line)}"


# ----- calls that write into an array they are given -----

# (np.copyto, np.putmask, np.place and out= into a local array are writes s2sad follows: test_output_forms.py)

def writes_out_into_a_view(x):
    y = np.zeros((2, 2))
    np.sin(x, out=y[0])
    return np.sum(y)


def writes_out_where(x):
    c = np.zeros(np.shape(x))
    np.sin(x, out=c, where=x > 0.0)
    return np.sum(c)


def copies_with_casting_no(x):
    out = np.zeros(np.shape(x))
    np.copyto(out, x * x, casting="no")
    return np.sum(out)


def writes_with_fill(x):
    y = x * 2.0
    y.fill(3.0)
    return np.sum(y * x)


def writes_with_ufunc_at(x):
    y = np.ones(3)
    np.multiply.at(y, [0, 0], x)  # (np.add.at is lowered to the write it is: tests/test_output_forms.py)
    return np.sum(y)


WRITERS = [(writes_out_into_a_view, "np.sin", "np.sin("), (writes_out_where, "np.sin", "np.sin("),
           (copies_with_casting_no, "np.copyto", "np.copyto("),
           (writes_with_fill, "y.fill", "y.fill("), (writes_with_ufunc_at, "np.multiply.at", "np.multiply.at(")]


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn, name, text", WRITERS, ids=[w[0].__name__ for w in WRITERS])
def test_a_call_writing_into_an_array_is_refused_at_its_line(fn, name, text, mode):
    message = _refusal(fn, (np.array([0.5, -1.5]),), mode)
    assert message.startswith(f"s2sad cannot differentiate {name}(...), called at {_line(fn, text)}:")
    assert "writes into an array it is given" in message


def writes_constants(x):
    c = np.zeros(2)
    np.add(np.ones(2), 1.0, out=c)  # no gradient involved: runs as written
    return np.sum(c * x)


def test_a_writer_without_gradients_runs():
    check_grads(writes_constants, (np.array([0.5, -1.5]),), modes=("rev", "fwd"))


def concatenates_with_r_(x):
    return np.sum(np.r_[x] ** 2)


def concatenates_with_c_(x):
    return np.sum(np.c_[x] ** 2)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn, name", [(concatenates_with_r_, "np.r_"), (concatenates_with_c_, "np.c_")])
def test_index_tricks_of_one_name_with_a_gradient_are_refused(fn, name, mode):
    """``np.r_[t]`` concatenates the entries of ``t`` where it holds a tuple: not the primitive ``np.r_[a, b]``
    (``test_concatenators``), an index the rule for ``x[index]`` does not differentiate."""
    message = _refusal(fn, (np.array([0.5, -1.5]),), mode)
    assert message.startswith(f"s2sad's rule for {name}[...] does not differentiate its argument 'x', "
                              f"which carries a gradient, at {_line(fn, name)}:")


# ----- arguments a rule does not differentiate -----

def bessel_order(v):
    return scipy.special.jv(v, 1.5)


def clip_keyword(lo):
    return np.sum(np.clip(np.array([0.3, 1.2]), a_min=lo, a_max=None))


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn, name, arg, text", [
    pytest.param(bessel_order, "scipy.special.jv", "v", "jv(", marks=needs_scipy),
    (clip_keyword, "np.clip", "lo", "np.clip(")])
def test_a_gradient_into_an_argument_the_rule_holds_constant_is_refused(fn, name, arg, text, mode):
    args = (0.5,)
    message = _refusal(fn, args, mode)
    assert message.startswith(f"s2sad's rule for {name}(...) does not differentiate its argument {arg!r}, "
                              f"which carries a gradient, at {_line(fn, text)}:")


def logsumexp_constant_weights(x):
    return scipy.special.logsumexp(x, b=np.array([0.5, 2.0]))


@needs_scipy
def test_a_constant_keyword_is_still_accepted():
    check_grads(logsumexp_constant_weights, (np.array([0.3, 1.2]),), modes=("rev", "fwd"))


# ----- library source s2sad cannot differentiate -----

def weibull_logpdf(x):
    return np.sum(scipy.stats.weibull_min.logpdf(x, 1.5))


def weibull_cdf(x):
    return np.sum(scipy.stats.weibull_min.cdf(x, 1.5))


@needs_scipy
@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn, method", [(weibull_logpdf, "logpdf"), (weibull_cdf, "cdf")])
def test_library_source_that_loses_the_gradient_is_refused_at_the_call(fn, method, mode):
    with pytest.raises(s2sad.NoDerivativeRuleError) as info:
        if mode == "rev":
            s2sad.grad(fn)(np.array([0.5, 1.5]))
        else:
            s2sad.jvp(fn, (np.array([0.5, 1.5]),), (np.ones(2),))
    assert str(info.value).startswith(
        f"s2sad has no derivative rule for scipy.stats._distn_infrastructure.rv_continuous.{method}, the function "
        f"called at {_line(fn, 'scipy.stats.weibull_min')}:")
    assert any(n.startswith("s2sad: inside it, ") and "_distn_infrastructure.py" in n for n in info.value.__notes__)


# ----- forward mode: a tangent has its primal's shape; forward refuses what reverse refuses -----

def broadcast_by_a_constant(x):
    return np.sum(x + np.zeros(3))


def broadcast_by_a_constant_factor(x, w):
    return np.sum(np.sin(x) * w)


def broadcast_in_a_where(x):
    return np.sum(np.where(np.arange(3) > 0, x * 2.0, np.zeros((2, 3))))


def broadcast_then_append(x):
    out = []
    out.append(x - np.ones((2, 2)))
    out.extend([x * 2.0, np.ones(2) / x])
    first = out.pop(0)
    return np.sum(first * out[0]) + np.sum(out[1])


@pytest.mark.parametrize("fn, args", [
    (broadcast_by_a_constant, (0.7,)), (broadcast_by_a_constant, (np.array([0.7]),)),
    (lambda x: broadcast_by_a_constant_factor(x, np.arange(3.0)), (0.7,)), (broadcast_in_a_where, (0.7,)),
    (broadcast_then_append, (0.7,)), (broadcast_then_append, (np.array([0.7, -0.2]),))])
def test_forward_tangents_broadcast_like_their_primals(fn, args):
    check_grads(fn, args, modes=("rev", "fwd"))
    out, tangent = s2sad.jvp(fn, args, tuple(np.ones_like(a) for a in args))
    assert np.shape(tangent) == np.shape(out)


def test_jvp_of_broadcast_by_a_constant():
    assert s2sad.jvp(broadcast_by_a_constant, (1.0,), (1.0,)) == (3.0, 3.0)


def appends_in_forward_mode(x):
    acc = []
    acc.append(x * 2.0)
    return acc[0]


def test_list_append_keeps_its_tangent():
    assert s2sad.jvp(appends_in_forward_mode, (1.0,), (1.0,)) == (2.0, 2.0)


def writes_through_a_view(x):
    y = x * 1.0
    r = y[0:2]
    r[0] = x[1] * 5.0
    return np.sum(y)


def g_two(a, b):
    return a * b


def calls_with_star_args(x):
    args = (x, x)
    return g_two(*args)


def calls_with_star_kwargs(x):
    kw = {"a": x, "b": x}
    return g_two(**kw)


@pytest.mark.parametrize("fn", [calls_with_star_args, calls_with_star_kwargs])
def test_gradients_passed_with_star_and_double_star(fn):
    check_grads(fn, (np.array([0.5, 2.0, 1.0]),), modes=("rev", "fwd"))


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn, text, message", [
    (writes_through_a_view, "r[0] = ", "'y' shares memory with the array written here and is read after")])
def test_forward_mode_refuses_what_reverse_mode_refuses(fn, text, message, mode):
    with pytest.raises(s2sad.S2SADSyntaxError) as info:
        if mode == "rev":
            s2sad.grad(fn)(np.array([0.5, 2.0, 1.0]))
        else:
            s2sad.jvp(fn, (np.array([0.5, 2.0, 1.0]),), (np.ones(3),))
    assert info.value.msg.startswith(message)
    assert f"{info.value.filename}:{info.value.lineno}" == _line(fn, text)


# ----- nonlocal and global -----

def accumulates_nonlocal(x):
    acc = 0.0
    def add(v):
        nonlocal acc
        acc = acc + v
    add(x * x)
    add(3.0 * x)
    return acc


def counts_and_accumulates(x):
    acc = np.zeros(2)
    n = 0
    def step(v, w=2.0):
        nonlocal acc, n
        n += 1
        if np.sum(v) > 0:
            acc = acc + v * w
            return v
        acc = acc - v
        return -v
    total = 0.0
    for i in range(3):
        y = step(x * (i - 1.0))
        total = total + np.sum(y * acc)
    return total + n


def test_nonlocal_writes_are_rebindings():
    assert s2sad.grad(accumulates_nonlocal)(1.0) == 5.0
    assert s2sad.jvp(accumulates_nonlocal, (1.0,), (1.0,)) == (4.0, 5.0)
    check_grads(accumulates_nonlocal, (0.7,), modes=("rev", "fwd"))
    check_grads(counts_and_accumulates, (np.array([0.7, -0.3]),), modes=("rev", "fwd"))


def nonlocal_writer_as_a_value(x):
    acc = 0.0
    def add(v):
        nonlocal acc
        acc = acc + v
    g = add
    g(x)
    return acc


def nonlocal_two_scopes_up(x):
    acc = 0.0
    def outer():
        def inner(v):
            nonlocal acc
            acc = acc + v
        inner(x)
    outer()
    return acc


G = 0.0


def set_global(v):
    global G
    G = v


def through_a_global(x):
    set_global(x * x)
    return G * 1.0


def nested_global(x):
    def put(v):
        global G
        G = v
    put(x)
    return G


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("fn, text, message", [
    (nonlocal_writer_as_a_value, "g = add", "'add' writes 'acc' with `nonlocal`; s2sad follows such a function "
                                           "only where it is called as a statement"),
    (nonlocal_two_scopes_up, "nonlocal acc", "s2sad supports `nonlocal` only for a variable of the function "
                                             "directly around"),
    (through_a_global, "set_global(x * x)", "test_soundness_calls.set_global writes the global 'G', and a value "
                                            "that carries a gradient is passed to it"),
    (nested_global, "global G", "s2sad cannot follow a write to a global from a nested function")])
def test_writes_s2sad_cannot_follow_are_refused(fn, text, message, mode):
    with pytest.raises(s2sad.S2SADSyntaxError) as info:
        if mode == "rev":
            s2sad.grad(fn)(0.7)
        else:
            s2sad.jvp(fn, (0.7,), (1.0,))
    assert info.value.msg.startswith(message)
    assert f"{info.value.filename}:{info.value.lineno}" == _line(fn, text)


def sets_a_constant_global(x):
    set_global(2.0)
    return x * G


def test_a_global_write_without_gradients_runs():
    assert s2sad.grad(sets_a_constant_global)(1.5) == 2.0


# ----- derivatives inside differentiated code -----

def scaled(y, x):
    return x * y


def grad_with_the_value_as_an_argument(x):
    return x * s2sad.grad(scaled)(2.0, x)


def test_a_derivative_given_the_value_as_an_argument_is_differentiated():
    assert s2sad.grad(grad_with_the_value_as_an_argument)(1.0) == 2.0
    check_grads(grad_with_the_value_as_an_argument, (0.7,), modes=("rev", "fwd"))


def _module_from(path, text):
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_function_values_with_the_same_text_in_two_modules_call_their_own_globals(tmp_path):
    """Code objects compare equal for the same text in two files: the derivative of a function value, shared by
    the closures of one code, is not shared across modules, whose globals (``helper``) differ."""
    template = "def helper(x):\n    return x ** {}\n\n\ndef make():\n    return lambda x: helper(x)\n"
    square = _module_from(tmp_path / "odeint_square.py", template.format(2)).make()
    cube = _module_from(tmp_path / "odeint_cube.py", template.format(3)).make()
    assert square.__code__ == cube.__code__

    def use(f, x):
        return f(x)

    assert s2sad.grad(use, argnums=1)(square, 2.0) == 4.0
    assert s2sad.grad(use, argnums=1)(cube, 2.0) == 12.0
    assert s2sad.jvp(lambda x: use(cube, x), (2.0,), (1.0,))[1] == 12.0
