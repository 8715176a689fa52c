"""Bad input gets a clear error naming the user's file and line."""

import math
import sys

import fn_corpus
import numpy as np
import pytest

import s2sad
from s2sad import NoDerivativeRuleError, S2SADSyntaxError, SourceUnavailableError
from s2sad.testing import check_grads

HERE = __file__


def _line_of(fn, text):
    import inspect

    lines, first = inspect.getsourcelines(fn)
    for i, line in enumerate(lines):
        if text in line:
            return first + i, line.index(text.lstrip()) + 1
    raise AssertionError(text)


def with_attribute_store(x):
    y = x
    NAMESPACE.value = y * x
    return y


NAMESPACE = __import__("types").SimpleNamespace(value=0.0)


def with_subscript_store(x):
    y = np.zeros(3)
    y[0] = x
    return np.sum(y)


def with_yield(x):
    y = 2.0 * (yield x)
    return y


def test_unsupported_statement_points_at_user_line():
    with pytest.raises(S2SADSyntaxError) as info:
        s2sad.grad(with_attribute_store)(1.0)
    e = info.value
    line, col = _line_of(with_attribute_store, "NAMESPACE.value")
    assert isinstance(e, SyntaxError)
    assert e.filename == HERE and e.lineno == line and e.offset == col
    assert e.text.strip() == "NAMESPACE.value = y * x"
    assert "assignment to an attribute" in e.msg


def test_unsupported_expression_points_at_its_column():
    with pytest.raises(S2SADSyntaxError) as info:
        s2sad.grad(with_yield)(1.0)
    line, col = _line_of(with_yield, "yield x")
    assert (info.value.lineno, info.value.offset) == (line, col)
    assert "`yield`" in info.value.msg


def test_subscript_assignment_into_a_local_array_works():
    assert s2sad.grad(with_subscript_store)(1.0) == 1.0


def opaque(x):
    return x


def uses_unknown_numpy(x):
    y = np.i0(x)
    return y


def uses_python_helper(x):
    return opaque(x) * 2.0


def test_missing_rule_names_callable_line_and_remedy():
    with pytest.raises(NoDerivativeRuleError) as info:
        s2sad.grad(uses_unknown_numpy)(1.0)
    msg = str(info.value)
    line, _ = _line_of(uses_unknown_numpy, "y = np.i0(x)")
    assert "numpy.i0" in msg
    assert f"{HERE}:{line}" in msg
    assert "y = np.i0(x)" in msg
    assert "@s2sad.rrule(fn)" in msg and "s2sad.nondifferentiable(fn)" in msg


def test_a_third_derivative_through_a_function_value_that_has_a_rule():
    second = s2sad.grad(s2sad.grad(fn_corpus.apply_builtin))
    np.testing.assert_allclose(second(0.5), 2.0 * -2.0 / 9.0 * 0.5 ** (-5.0 / 3.0), rtol=1e-10)  # (2 cbrt'')
    np.testing.assert_allclose(s2sad.grad(second)(0.5), 2.0 * 10.0 / 27.0 * 0.5 ** (-8.0 / 3.0), rtol=1e-10)
    check_grads(second, (0.5,), modes=("rev", "fwd"))


def test_python_helpers_are_transformed_not_refused():
    assert s2sad.grad(uses_python_helper)(1.0) == 2.0


def no_rule_needed(x, n):
    k = np.i0(n)  # no rule, but nothing differentiated flows through it
    return x * k


def test_call_off_the_differentiated_path_needs_no_rule():
    assert abs(s2sad.grad(no_rule_needed)(1.0, 0.5) - np.i0(0.5)) < 1e-12


def test_non_scalar_output():
    with pytest.raises(TypeError, match=r"scalar-output functions. Output had shape: \(3,\)"):
        s2sad.grad(lambda x: np.sin(x))(np.ones(3))


def test_integer_output():
    with pytest.raises(TypeError, match="real-valued outputs"):
        s2sad.grad(lambda x: 3)(1.0)


@pytest.mark.parametrize("bad", [3, True, np.arange(3), np.int64(2), 1 + 2j, {"a": 3}, [1.0, np.arange(2)]])
def test_integer_or_unsupported_argument(bad):
    with pytest.raises(TypeError, match="grad requires real-valued inputs"):
        s2sad.grad(lambda x: x * 2.0)(bad)


@pytest.mark.parametrize("transform", [s2sad.grad, s2sad.value_and_grad])
def test_integer_array_after_a_float_array_of_the_same_type(transform):
    f = transform(lambda x: np.sum(x * x))
    f(np.ones(2))  # the ndarray specialisation is cached; the dtype is still checked per call
    with pytest.raises(TypeError, match="an array of dtype int"):
        f(np.arange(2))


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        s2sad.grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)


def test_builtin_has_no_source():
    with pytest.raises(SourceUnavailableError, match="builtin or C-extension"):
        s2sad.grad(math.sin)
    with pytest.raises(SourceUnavailableError, match="builtin or C-extension"):
        s2sad.grad(np.sin)


def test_exec_code_has_no_source():
    namespace = {}
    exec("def f(x):\n    return x * x\n", namespace)
    with pytest.raises(SourceUnavailableError, match="exec"):
        s2sad.grad(namespace["f"])


def test_error_inside_generated_code_names_the_user_line():
    def bad_shapes(x):
        return np.sum(x @ np.ones((5, 2)))

    with pytest.raises(ValueError) as info:
        s2sad.grad(bad_shapes)(np.ones((2, 3)))
    notes = getattr(info.value, "__notes__", [])
    if sys.version_info >= (3, 11):
        assert any("return np.sum(x @ np.ones((5, 2)))" in n and __file__ in n for n in notes)


def test_grad_of_grad_works():
    assert s2sad.grad(s2sad.grad(lambda x: x * x * x))(2.0) == 12.0


def test_value_and_grad_cannot_be_differentiated_again():
    with pytest.raises(SourceUnavailableError, match="value_and_grad"):
        s2sad.grad(s2sad.value_and_grad(lambda x: x * x))


def test_source_of_a_decorated_function_shows_the_original():
    @s2sad.grad
    def square(x):
        return x * x

    assert "def square_vjp(x):" in s2sad.source(square)


def pads_by_reflection(x):
    return np.sum(np.pad(x, 1, mode="reflect") ** 2)


def test_a_rule_refuses_arguments_it_does_not_support():
    with pytest.raises(NoDerivativeRuleError, match="(?s)numpy.pad does not support this call.*mode='constant'"):
        s2sad.grad(pads_by_reflection)(np.ones(3))


# ----- where the source lives, and what errors look like -----

import subprocess  # noqa: E402
import traceback  # noqa: E402

_PROGRAM = "import s2sad\ndef f(x):\n    return x * x\n\ns2sad.grad(f)(1.0)\n"
_WORKS = "put the function in a file and import it (or run the file), or define it in IPython or Jupyter, or in " \
         "the Python 3.13+ interactive interpreter"


@pytest.mark.parametrize("how, where", [
    (["-c", _PROGRAM], "`python -c` or `exec`/`eval` of a string"),
    (["-"], "the interpreter's standard input"),
])
def test_a_function_without_source_says_what_works_instead(how, where):
    run = subprocess.run([sys.executable, *how], input=_PROGRAM if how == ["-"] else None, capture_output=True,
                         text=True, timeout=120)
    assert "SourceUnavailableError" in run.stderr and where in run.stderr and _WORKS in run.stderr


def test_exec_strings_say_what_works_instead():
    namespace = {}
    exec("def f(x):\n    return x * x\n", namespace)
    with pytest.raises(SourceUnavailableError, match=r"`exec`/`eval` of a string, which keep no source\. .*IPython"):
        s2sad.grad(namespace["f"])(1.0)


def indented_yield(x):
    if x > 0:
        x = 2.0 * (yield x)
    return x


def test_the_caret_is_at_the_column_of_the_construct():
    with pytest.raises(S2SADSyntaxError) as info:
        s2sad.grad(indented_yield)(1.0)
    shown = "".join(traceback.format_exception_only(type(info.value), info.value)).splitlines()
    code, caret = shown[1], shown[2]  # the line as printed (dedented), then the caret under `yield`
    assert code.strip() == "x = 2.0 * (yield x)"
    assert caret.index("^") == code.index("yield")


def test_transform_errors_show_few_of_s2sads_frames():
    import os

    package = os.path.dirname(s2sad.__file__)
    for fn in (indented_yield, uses_unknown_numpy):
        with pytest.raises((S2SADSyntaxError, NoDerivativeRuleError)) as info:
            s2sad.grad(fn)(np.array([1.0]) if fn is uses_unknown_numpy else 1.0)
        own = [f for f in traceback.extract_tb(info.value.__traceback__) if f.filename.startswith(package)]
        assert len(own) <= 2, [f"{f.filename}:{f.lineno}" for f in own]


def test_a_ufunc_of_scipy_is_named_by_its_module():
    import scipy.special as sp

    from s2sad.rules import rule_name

    assert rule_name(sp.struve) == "scipy.special.struve" and rule_name(np.sin) == "numpy.sin"

    def uses_struve(x):
        return sp.struve(1.0, x)

    with pytest.raises(NoDerivativeRuleError, match=r"no derivative rule for scipy\.special\.struve"):
        s2sad.grad(uses_struve)(0.5)


def divides(x):
    return math.sqrt(x) * 2.0


def test_tracebacks_show_the_generated_line():
    with pytest.raises(ZeroDivisionError) as info:
        s2sad.grad(divides)(0.0)
    text = "".join(traceback.format_exception(info.type, info.value, info.value.__traceback__))
    assert '<s2sad: grad of divides' in text and "x_bar = " in text  # the generated line itself, from linecache
    if sys.version_info >= (3, 11):
        assert "s2sad: raised in derivative code generated for" in text and "return math.sqrt(x) * 2.0" in text


def with_keyword(x, scale=1.0):
    return np.sum(np.sin(x) * x) * scale


def test_jacfwd_and_hessian_take_keyword_arguments_as_grad_does():
    x = np.array([0.3, -0.5])
    expected = s2sad.grad(with_keyword)(x, scale=3.0)
    np.testing.assert_allclose(s2sad.jacfwd(with_keyword)(x, scale=3.0), expected)
    np.testing.assert_allclose(s2sad.jacrev(with_keyword)(x, scale=3.0), expected)
    np.testing.assert_allclose(s2sad.hessian(with_keyword)(x, scale=3.0),
                               s2sad.numeric.hessian(lambda v: with_keyword(v, scale=3.0), x), rtol=1e-5, atol=1e-7)
