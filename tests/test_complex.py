"""The programs of ``complex_corpus`` (complex intermediates: numpy.fft, real/imag/conj/angle/abs, complex
arithmetic) against finite differences: reverse and forward mode, then the gradient again (reverse over
reverse, forward over reverse). Also the convention for a complex value's cotangent (JAX's), and the
refusals: complex arguments, complex results, complex values reaching a rule not known to be exact on
them, and complex values the transform could not see."""

import numpy as np
import pytest
from complex_corpus import H8, PROGRAMS, X8, filtered, magnitude, power_spectrum
from pinned import pinned

import s2sad
from s2sad.pytree import differentiable
from s2sad.testing import check_grads

# a complex value cast to a real one drops its imaginary part: never where s2sad computes a derivative
pytestmark = pytest.mark.filterwarnings("error::numpy.exceptions.ComplexWarning")

IDS = [p[0] for p in PROGRAMS]


@pytest.mark.parametrize("name, f, args", PROGRAMS, ids=IDS)
def test_against_finite_differences(name, f, args):
    check_grads(f, args, modes=("rev", "fwd"), rtol=1e-5, atol=1e-7)


# (a second derivative of code writing into an array it made: s2sad refuses the write in the generated code)
SECOND = [p for p in PROGRAMS if p[0] != "filled_spectrum"]


@pytest.mark.parametrize("name, f, args", SECOND, ids=[p[0] for p in SECOND])
def test_second_order(name, f, args):
    """The gradient, differentiated again: reverse over reverse and forward over reverse."""
    nums = tuple(i for i, a in enumerate(args) if differentiable(a))
    check_grads(s2sad.grad(f, argnums=nums), args, modes=("rev", "fwd"), directions=1, eps=1e-5, rtol=1e-4,
                atol=1e-6)


@pytest.mark.parametrize("name, f", [("power_spectrum", power_spectrum), ("filtered", filtered)])
def test_the_generated_code_is_pinned(name, f):
    """Readable: the transforms' adjoints by name, the real part where a real value's cotangent is taken."""
    pinned(f"complex_{name}.txt", s2sad.source(f) + "\n" + s2sad.source(f, mode="forward"))


def test_the_cotangent_of_a_complex_value_follows_jax():
    """For real f, the cotangent of z is c with df = Re(c dz): 2 conj(z) for |z|^2 (jax.grad gives the same),
    so the gradient of a real argument is the real part of what reaches it."""
    _, pullback = s2sad.vjp(lambda x: np.abs(x * (3.0 + 4.0j)) ** 2, 1.0)
    assert pullback(1.0) == (50.0,)
    g = s2sad.grad(lambda x: np.real(np.conj(x * (1.0 + 2.0j)) * 1j))(2.0)  # Re(i (1 - 2i) x) = 2x
    assert g == 2.0 and type(g) is float
    g = s2sad.grad(lambda x: np.sum(np.imag(np.fft.fft(x))))(np.arange(4.0))
    np.testing.assert_allclose(g, -np.imag(np.fft.fft(np.ones(4))), atol=1e-12)
    assert g.dtype == np.float64


def test_angle_and_abs_at_zero_follow_jax():
    assert s2sad.grad(lambda x: np.abs(x * 1j))(0.0) == 0.0
    assert s2sad.grad(lambda x: np.abs(x + 0j))(-2.0) == -1.0


def test_complex_arguments_are_refused():
    with pytest.raises(TypeError, match="real-valued inputs"):
        s2sad.grad(lambda z: np.abs(z))(1.0 + 1.0j)


def complex_result(x):
    return np.fft.fft(x)


def complex_into_maximum(x):
    return np.sum(np.real(np.maximum(np.fft.fft(x), 0.0)))


def complex_sign(x):
    z = np.fft.fft(x)
    return np.sum(np.real(z * np.sign(z)))


def spectrum(x):
    return np.fft.fft(x)


def complex_from_a_callee(x):
    return np.sum(np.abs(spectrum(x)))


def helper(z):
    return np.abs(z)


def complex_into_another_module(x):
    return np.sum(magnitude(np.fft.fft(x)))


def complex_into_a_callee(x):
    return np.sum(helper(np.fft.fft(x)))


@pytest.mark.parametrize("f, message", [
    (complex_result, "real-valued functions only"),
    (complex_into_maximum, "numpy.maximum on a complex value"),
    (complex_sign, "numpy.sign on a complex value"),
    (complex_into_another_module, "a function of yours on a complex value"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_complex_values_no_rule_is_exact_on_are_refused(f, message):
    with pytest.raises(s2sad.NoDerivativeRuleError, match=message) as info:
        s2sad.vjp(f, X8)
    assert "test_complex.py" in str(info.value)


def test_a_complex_value_from_a_helper_written_into_the_caller():
    """A small helper of the caller's module is written into a derivative made for the argument types, so
    its complex result is an intermediate of the caller's (where it is not, it is refused: a complex value
    a function of yours returns)."""
    for f in (complex_from_a_callee, complex_into_a_callee):
        _, pullback = s2sad.vjp(f, X8)
        np.testing.assert_allclose(pullback(1.0)[0], s2sad.numeric.gradient(f, X8), rtol=1e-6, atol=1e-8)


def _captures(h):
    def f(x):
        return np.sum(np.abs(x * h))
    return f


def _takes(x, h):
    return np.sum(np.abs(x * h))


def test_a_complex_value_the_transform_did_not_see_is_refused_when_the_derivative_runs():
    """Arguments and captured variables are taken to be real; a complex one that meets a value carrying a
    derivative shows as a complex cotangent or tangent of a real value, refused rather than cast."""
    for f, args in ((_captures(H8), (X8,)), (_takes, (X8, H8))):
        for run in (lambda: s2sad.grad(f)(*args), lambda: s2sad.vjp(f, *args)[1](1.0),
                    lambda: s2sad.jvp(f, args, (X8, *args[1:]))):
            with pytest.raises(s2sad.NoDerivativeRuleError, match="did not see"):
                run()
    assert s2sad.grad(_takes)(X8, np.abs(H8)).dtype == np.float64  # (real: as before)


def _captures_complex(x):
    z = np.fft.fft(x)
    scaled = lambda t: np.sum(np.abs(z * t))  # noqa: E731
    return scaled(2.0)


def test_a_nested_function_capturing_a_complex_value_is_refused():
    """Its body is transformed on its own, where what it captures is taken to be real: so a third
    derivative of a program with complex intermediates (the second's pullback captures them) is refused."""
    with pytest.raises(s2sad.NoDerivativeRuleError, match="capturing a complex value") as info:
        s2sad.grad(_captures_complex)(X8)
    assert "test_complex.py" in str(info.value)
    g = s2sad.grad(power_spectrum)

    def second(x):
        return np.sum(g(x) ** 2)

    with pytest.raises(s2sad.NoDerivativeRuleError, match="capturing a complex value"):
        s2sad.grad(s2sad.grad(second))(X8)
