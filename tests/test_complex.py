"""Real-valued programs with complex intermediates (numpy.fft, real/imag/conj/angle/abs, complex
arithmetic), against finite differences: reverse and forward mode, then the gradient again (reverse over
reverse, forward over reverse). Also the convention for a
complex value's cotangent (JAX's), and the refusals: complex arguments, complex results, and complex
values reaching a rule not known to be exact on them."""

import numpy as np
import pytest
from pinned import pinned

import s2sad
from s2sad.testing import check_grads

# a complex value cast to a real one drops its imaginary part: never where s2sad computes a derivative
pytestmark = pytest.mark.filterwarnings("error::numpy.exceptions.ComplexWarning")

rng = np.random.default_rng(7)
X8 = rng.standard_normal(8)
X9 = rng.standard_normal(9)
H8 = np.fft.fft(rng.standard_normal(8))  # a filter's frequency response (a complex global)
K3 = rng.standard_normal(3)
IMG = rng.standard_normal((6, 5))


def power_spectrum(x):
    return np.sum(np.abs(np.fft.rfft(x)) ** 2)


def filtered(x):
    return np.sum(np.real(np.fft.ifft(np.fft.fft(x) * H8)) ** 2)


def circular_convolution(x, k):
    y = np.fft.irfft(np.fft.rfft(x) * np.fft.rfft(k, n=x.shape[0]), n=x.shape[0])
    return np.sum(y * np.cos(np.arange(x.shape[0])))


def linear_convolution(x, k):
    n = x.shape[0] + k.shape[0] - 1
    y = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(k, n), n)
    return np.sum(y ** 2) + y[2]


def circulant_solve(c, b):
    """Solves C x = b for the circulant C with first column c, by the FFT."""
    x = np.real(np.fft.ifft(np.fft.fft(b) / np.fft.fft(c)))
    return np.sum(x * x)


def spectral_smoothing(x, width):
    f = np.fft.fftfreq(x.shape[0])
    kernel = np.exp(-(f / width) ** 2)
    smooth = np.fft.irfft(np.fft.rfft(x) * kernel[: x.shape[0] // 2 + 1], n=x.shape[0])
    return np.sum((smooth - x) ** 2)


def phase_and_magnitude(x):
    z = np.fft.fft(x)
    mag, phase = np.abs(z[1:4]), np.angle(z[1:4])
    return np.sum(mag * np.cos(phase)) + np.sum(np.sin(phase) ** 2)


def unit_phasors(theta):
    z = np.exp(1j * theta)
    s = np.sum(z * np.conj(z[::-1]))
    return np.real(s) + 2.0 * np.imag(s)


def autocorrelation(x):
    f = np.fft.fft(x, n=2 * x.shape[0])
    acf = np.real(np.fft.ifft(f * np.conj(f)))[: x.shape[0]]
    return np.sum(acf[1:] ** 2) / acf[0]


def image_lowpass(img):
    spec = np.fft.fftshift(np.fft.fft2(img))
    spec = spec[1:5, 1:4]
    return np.sum(np.abs(spec) ** 2) + np.sum(np.real(np.fft.ifft2(np.fft.ifftshift(spec))))


def real_2d_filter(img):
    r = np.fft.rfft2(img)
    out = np.fft.irfft2(r * np.exp(-np.arange(r.shape[1]) / 2.0), s=img.shape)
    return np.sum(out * img) + np.sum(np.fft.fftn(img, axes=(0,)).imag ** 2)


def ortho_roundtrip(x):
    z = np.fft.rfftn(x, norm="ortho")
    back = np.fft.irfftn(z * z / (1.0 + np.abs(z) ** 2), s=x.shape, axes=(0, 1), norm="ortho")
    return np.sum(back ** 3) + np.sum(np.fft.ifftn(np.fft.fftn(x, norm="forward")).real * x)


def complex_arithmetic(x):
    z = x[:4] + 1j * x[4:]
    w = np.sqrt(z * z + 2.0) / (z - 3.0j) + np.log(z ** 2 + 1.0)
    return np.sum(np.abs(w)) + np.real(np.sum(np.exp(z) @ np.conj(z))) + np.sum(np.tanh(z).imag)


def chirp_energy(x):
    n = x.shape[0]
    chirp = np.exp(1j * np.pi * np.arange(n) ** 2 / n)
    spectrum = np.fft.fft(x * chirp)
    total = 0.0
    for k in range(3):
        total = total + np.abs(spectrum[k]) ** 2
    return total


def broadcasting(x, m):
    """Complex arithmetic that broadcasts real and complex operands (unbroadcast keeps imaginary parts where
    the operand is complex, and a real operand's cotangent is the real part)."""
    z = m * 1j + x  # (4, 3) from (3,) and (4, 3)
    w = z * x[None, :] / (2.0 + z.sum(axis=0)) - np.mean(z, axis=1, keepdims=True) ** 2
    phases = np.exp(1j * x)
    return np.sum(np.abs(w) ** 2) + np.real(np.sum((m @ phases) * np.conj(z @ phases)))


def filled_spectrum(x):
    """A complex array filled in place, then a method and an attribute of it."""
    z = np.zeros(x.shape[0], dtype=complex)
    z[1:] = x[1:] * np.exp(1j * x[:-1])
    z[0] = np.sin(x[0])
    w = np.fft.ifft(z)
    return np.sum((w * w.conj()).real) + np.sum(w.imag ** 2)


PROGRAMS = [
    ("power_spectrum", power_spectrum, (X8,)),
    ("power_spectrum_odd", power_spectrum, (X9,)),
    ("filtered", filtered, (X8,)),
    ("circular_convolution", circular_convolution, (X8, K3)),
    ("linear_convolution", linear_convolution, (X9, K3)),
    ("circulant_solve", circulant_solve, (X8 + np.array([6.0] + [0.0] * 7), X8[::-1].copy())),
    ("spectral_smoothing", spectral_smoothing, (X9, 0.2)),
    ("phase_and_magnitude", phase_and_magnitude, (X8,)),
    ("unit_phasors", unit_phasors, (X8,)),
    ("autocorrelation", autocorrelation, (X8,)),
    ("image_lowpass", image_lowpass, (IMG,)),
    ("real_2d_filter", real_2d_filter, (IMG,)),
    ("ortho_roundtrip", ortho_roundtrip, (IMG,)),
    ("complex_arithmetic", complex_arithmetic, (X8,)),
    ("chirp_energy", chirp_energy, (X8,)),
    ("filled_spectrum", filled_spectrum, (X8,)),
    ("broadcasting", broadcasting, (X8[:3].copy(), IMG[:4, :3].copy())),
]
IDS = [p[0] for p in PROGRAMS]


@pytest.mark.parametrize("name, f, args", PROGRAMS, ids=IDS)
def test_against_finite_differences(name, f, args):
    check_grads(f, args, modes=("rev", "fwd"), rtol=1e-5, atol=1e-7)


# (a second derivative of code writing into an array it made: s2sad refuses the write in the generated code)
SECOND = [p for p in PROGRAMS if p[0] != "filled_spectrum"]


@pytest.mark.parametrize("name, f, args", SECOND, ids=[p[0] for p in SECOND])
def test_second_order(name, f, args):
    """The gradient, differentiated again: reverse over reverse and forward over reverse."""
    nums = tuple(range(len(args)))
    check_grads(s2sad.grad(f, argnums=nums), args, modes=("rev", "fwd"), directions=1, eps=1e-5, rtol=1e-4,
                atol=1e-6)


@pytest.mark.parametrize("name, f", [("power_spectrum", power_spectrum), ("filtered", filtered)])
def test_the_generated_code_is_pinned(name, f):
    """Readable: the transforms' adjoints by name, the real part where a real value's cotangent is taken."""
    pinned(f"complex_{name}.py", s2sad.source(f) + "\n" + s2sad.source(f, mode="forward"))


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


def complex_into_a_callee(x):
    return np.sum(helper(np.fft.fft(x)))


@pytest.mark.parametrize("f, message", [
    (complex_result, "real-valued functions only"),
    (complex_into_maximum, "numpy.maximum on a complex value"),
    (complex_sign, "numpy.sign on a complex value"),
    (complex_from_a_callee, "real-valued functions only"),
    (complex_into_a_callee, "a function of yours on a complex value"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_complex_values_no_rule_is_exact_on_are_refused(f, message):
    with pytest.raises(s2sad.NoDerivativeRuleError, match=message) as info:
        s2sad.vjp(f, X8)
    assert "test_complex.py" in str(info.value)


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
