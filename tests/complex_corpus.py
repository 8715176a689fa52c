"""Real-valued programs with complex intermediates, as users write them (``test_complex.py`` differentiates
them): power spectra, convolution and filtering by the FFT, a circulant solve, spectral smoothing, phase and
magnitude, complex arithmetic."""

import numpy as np

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


def filter_argument(x, h):
    """A complex argument (not differentiated) that meets a value s2sad knows is complex."""
    return np.sum(np.real(np.fft.ifft(np.fft.fft(x) * h)) ** 2)


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


def holomorphic(x):
    """Each holomorphic function s2sad's real rule serves unchanged: g * f'(z)."""
    z = x[:4] * 0.5 + 0.3j * x[4:]
    w = np.sin(z) * np.cos(z) + np.sinh(z) / np.cosh(z) + np.expm1(z) - np.reciprocal(z + 2.0) + np.square(z)
    return np.sum(np.abs(w) ** 2) + np.sum(np.angle(w + 3.0) * np.real(np.negative(z) ** 3))


def phasor_recurrence(x):
    """A complex value carried through a loop and an if: z <- z e^{i x_k} + x_k."""
    z = 1.0 + 0.0j
    for k in range(x.shape[0]):
        z = z * np.exp(1j * x[k]) + x[k]
        if np.abs(z) > 3.0:
            z = z / 2.0
    return np.real(z) * np.imag(z) + np.abs(z)


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


def products(x, m):
    """Complex-linear products and rearrangements: their cotangents are transposes, without a conjugate."""
    z = np.exp(1j * x)  # (3,)
    c = m * (1.0 - 0.5j)  # (4, 3)
    p = np.einsum("ij,j->i", c, z) + np.tensordot(c, z, axes=1) + np.inner(c, z)
    q = np.outer(z, p[:2]) + np.kron(z[:2], np.conj(z[1:]))[:3, None]
    s = np.trace(q[:2, :2]) + np.sum(np.diagonal(np.diag(z) @ c.T)) + np.sum(np.cumsum(z) * np.diff(p))
    return np.abs(s) ** 2 + np.sum(np.real(np.take(np.tile(p, 2), [0, 5, 6]) * z))


PROGRAMS = [
    ("power_spectrum", power_spectrum, (X8,)),
    ("power_spectrum_odd", power_spectrum, (X9,)),
    ("filtered", filtered, (X8,)),
    ("filter_argument", filter_argument, (X8, H8)),
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
    ("holomorphic", holomorphic, (X8,)),
    ("phasor_recurrence", phasor_recurrence, (X8,)),
    ("chirp_energy", chirp_energy, (X8,)),
    ("filled_spectrum", filled_spectrum, (X8,)),
    ("broadcasting", broadcasting, (X8[:3].copy(), IMG[:4, :3].copy())),
    ("products", products, (X8[:3].copy(), IMG[:4, :3].copy())),
]


def magnitude(z):
    """A helper of another module (not written into a caller's derivative): a complex value reaching it is
    refused."""
    return np.abs(z)
