"""Cases for the rules of complex intermediates (``rules_fft``): ``numpy.fft``, ``imag``, ``angle``, and
complex operands of ``real``, ``conj`` and ``abs``; and for the FFT adjoint helpers generated code calls.

Each case is a real scalar function of real arguments; a complex operand is made inside it
(``x + 1j * y``), so that every rule meets one, and ``test_rules_higher`` differentiates each again.
Everything is written inline: s2sad refuses a complex value passed to a function of the user's.
"""

from __future__ import annotations

import numpy as np

from s2sad import runtime_fft as rf

rng = np.random.default_rng(3)
A8, B8 = rng.standard_normal(8), rng.standard_normal(8)
A7, B7 = rng.standard_normal(7), rng.standard_normal(7)
A5, B5 = rng.standard_normal(5), rng.standard_normal(5)
M, N = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
W8 = np.cos(np.arange(8.0)) + 0.5j * np.sin(np.arange(8.0) * 2.0)  # complex weights
C0 = 0.3 + 0.7j  # |z - C0| ** 3: nonlinear in both parts of z (a conjugate too many or too few shows)
W44 = np.exp(1j * np.arange(16.0).reshape(4, 4))


def _c2c(fn, inverse=False):
    return [
        (lambda x: np.sum(np.abs(fn(x) - C0) ** 3), (A8,)),
        (lambda x, y: np.sum(np.abs(fn(x + 1j * y) - C0) ** 3), (A8, B8)),
        (lambda x, y: np.sum(np.abs(fn(x + 1j * y, 6) - C0) ** 3), (A8, B8)),  # cropped
        (lambda x, y: np.sum(np.abs(fn(x + 1j * y, n=8, norm="ortho") - C0) ** 3), (A5, B5)),  # zero-padded
        (lambda x: np.sum(np.abs(fn(np.outer(x, x) * (1.0 + 2.0j), axis=0, norm="forward") - C0) ** 3), (A5,)),
    ]


def _c2c_nd(fn, two):
    ax = (-2, -1) if two else (0, 1)
    return [
        (lambda x, y: np.sum(np.abs(fn(x + 1j * y, axes=ax) - C0) ** 3), (M, N)),
        (lambda x: np.sum(np.abs(fn(x, s=(3, 5), axes=ax) - C0) ** 3), (M,)),
        (lambda x, y: np.sum(np.abs(fn(x + 1j * y, s=(5, 7), axes=(0, 1), norm="ortho") - C0) ** 3), (M, N)),
        (lambda x: np.sum(np.abs(fn(x, axes=(1,) if not two else (1, 0)) - C0) ** 3), (M,)),
    ]


def _r2c():
    return [
        (lambda x: np.sum(np.abs(np.fft.rfft(x) - C0) ** 3), (A8,)),
        (lambda x: np.sum(np.abs(np.fft.rfft(x) - C0) ** 3), (A7,)),
        (lambda x: np.sum(np.abs(np.fft.rfft(x, 6, norm="ortho") - C0) ** 3), (A8,)),
        (lambda x: np.sum(np.abs(np.fft.rfft(x, n=9) - C0) ** 3), (A7,)),
        (lambda x: np.sum(np.abs(np.fft.rfft(x, axis=0, norm="forward") - C0) ** 3), (M,)),
    ]


def _c2r():
    return [
        (lambda x, y: np.sum(np.fft.irfft(x + 1j * y) ** 3), (A5, B5)),  # the imaginary parts it discards too
        (lambda x, y: np.sum(np.fft.irfft(x + 1j * y, 9) * A8[0]), (A5, B5)),
        (lambda x, y: np.sum(np.fft.irfft(x + 1j * y, n=6, norm="ortho") ** 3), (A5, B5)),
        (lambda x, y: np.sum(np.sin(np.fft.irfft(x + 1j * y, axis=0, norm="forward"))), (M, N)),
        (lambda x: np.sum(np.fft.irfft(x) ** 3), (A5,)),  # of a real array
    ]


def _rn(fn, two):
    ax = (-2, -1) if two else (0, 1)
    return [
        (lambda x: np.sum(np.abs(fn(x, axes=ax) - C0) ** 3), (M,)),
        (lambda x: np.sum(np.abs(fn(x, s=(3, 5), axes=ax) - C0) ** 3), (M,)),
        (lambda x: np.sum(np.abs(fn(x, s=(5, 7), axes=(0, 1), norm="ortho") - C0) ** 3), (M,)),
        (lambda x: np.sum(np.abs(fn(x.T, axes=(1, 0) if two else (0,)) - C0) ** 3), (M,)),
    ]


def _irn(fn, two):
    ax = (-2, -1) if two else (0, 1)
    return [
        (lambda x, y: np.sum(fn(x + 1j * y, axes=ax) ** 3), (M, N)),
        (lambda x, y: np.sum(np.sin(fn(x + 1j * y, s=(3, 7), axes=ax))), (M, N)),
        (lambda x, y: np.sum(fn(x + 1j * y, s=(5, 4), axes=(0, 1), norm="ortho") ** 3), (M, N)),
        (lambda x, y: np.sum(fn(x[:, :4] + 1j * y[:, :4], axes=(1, 0), norm="forward") ** 3), (M, N)),
    ]


def _shift(fn):
    return [
        (lambda x, y: np.sum(np.abs(fn(x + 1j * y) - C0) ** 3), (A7, B7)),
        (lambda x: np.sum(np.abs(fn(x * (1.0 - 1.0j), axes=1) - C0) ** 3), (M,)),
        (lambda x: np.sum(np.abs(fn(x, axes=(0, 1)) - C0) ** 3), (M,)),
    ]


def _helpers():
    """The adjoint helpers called directly, as generated code calls them, on complex and real cotangents."""
    return {
        "fft_adjoint": [
            (lambda g, h: np.sum(np.abs(rf.fft_adjoint(g + 1j * h, A5, (-1,), None, False) - C0) ** 3), (A8, B8)),
            (lambda g, h: np.sum(np.abs(rf.fft_adjoint(g + 1j * h, M[:3], (0, 1), "ortho", True) - C0) ** 3), (M, N)),
        ],
        "fft_like": [
            (lambda g, h: np.sum(np.abs(rf.fft_like(g + 1j * h, A8, (-1,), None, False) - C0) ** 3), (A5, B5)),
            (lambda g: np.sum(np.abs(rf.fft_like(g, M, None, "forward", True) - C0) ** 3), (M[:3, :5],)),
        ],
        "rfft_adjoint": [
            (lambda g, h: np.sum(rf.rfft_adjoint(g + 1j * h, A8, None, (-1,), None) ** 3), (A5, B5)),
            (lambda g, h: np.sum(rf.rfft_adjoint(g + 1j * h, A7, 9, (-1,), "ortho") ** 3), (A5, B5)),
            (lambda g, h: np.sum(np.sin(rf.rfft_adjoint(g[:, :4] + 1j * h[:, :4], M, None, (0, 1), None))), (M, N)),
            (lambda g: np.sum(rf.rfft_adjoint(g, A8, None, (-1,), None) ** 3), (A5,)),  # a real cotangent
        ],
        "rfft_like": [
            (lambda h: np.sum(np.abs(rf.rfft_like(h, A5, None, (-1,), None) - C0) ** 3), (A8,)),
            (lambda h: np.sum(np.abs(rf.rfft_like(h, A5, 9, (-1,), "forward") - C0) ** 3), (A7,)),
            (lambda h: np.sum(np.abs(rf.rfft_like(h, M[:3, :4], None, (0, 1), "ortho") - C0) ** 3), (M,)),
        ],
        "irfft_adjoint": [
            (lambda t: np.sum(np.abs(rf.irfft_adjoint(t, A5, (-1,), None) - C0) ** 3), (A8,)),
            (lambda t: np.sum(np.abs(rf.irfft_adjoint(t, A5, (-1,), "ortho") - C0) ** 3), (A7,)),
            (lambda t: np.sum(np.abs(rf.irfft_adjoint(t, M[:, :4], (0, 1), "forward") - C0) ** 3), (M,)),
        ],
        "irfft_like": [
            (lambda x, y: np.sum(rf.irfft_like(x + 1j * y, A8, (-1,), None) ** 3), (A5, B5)),
            (lambda x, y: np.sum(np.sin(rf.irfft_like(x + 1j * y, A7, (-1,), "ortho"))), (A5, B5)),
            (lambda x, y: np.sum(rf.irfft_like(x + 1j * y, M, (0, 1), "forward") ** 3), (M, N)),
            (lambda x: np.sum(rf.irfft_like(x, A8, (-1,), None) ** 3), (A5,)),  # a real operand
        ],
    }


def _parts():
    return {
        "numpy.imag": [(lambda x, y: np.sum(np.imag((x + 1j * y) ** 2) ** 2), (A5, B5)),
                       (lambda x: np.sum(np.imag(x) + x), (A5,)),
                       (lambda x: np.sum(((x * W8).imag) ** 3), (A8,))],
        "numpy.angle": [(lambda x, y: np.sum(np.angle((x + 1j * y) * W8[:5]) ** 2), (A5, B5)),
                        (lambda x, y: np.sum(np.sin(np.angle(x + 1j * y, deg=True))), (A5, B5)),
                        (lambda x: np.sum(np.angle(x) + x), (A5,))],
        "numpy.real": [(lambda x, y: np.sum(np.real((x + 1j * y) ** 3) ** 2), (A5, B5)),
                       (lambda x: np.sum(np.real(x) ** 2), (A5,)),
                       (lambda x: np.sum((x * W8).real ** 3), (A8,))],
        "numpy.conj": [(lambda x, y: np.sum(np.real(np.conj(x + 1j * y) * W8[:5]) ** 2), (A5, B5)),
                       (lambda x: np.sum(np.conj(x) ** 2), (A5,)),
                       (lambda x, y: np.sum(np.abs(np.conj(x + 1j * y) - W8[:5]) ** 3), (A5, B5))],
        "numpy.absolute": [(lambda x, y: np.sum(np.abs((x + 1j * y) * W8[:5]) ** 3), (A5, B5)),
                           (lambda x: np.sum(np.abs(x * W44)), (M[:, :4],)),
                           (lambda x: np.sum(np.abs(x)), (A5 + np.sign(A5),))],
        "abs": [(lambda x, y: abs(x + 1j * y) ** 2, (0.3, -1.2)), (lambda x: abs(x), (-0.7,))],
    }


CASES = {
    **{f"numpy.fft.{n}": _c2c(getattr(np.fft, n)) for n in ("fft", "ifft")},
    **{f"numpy.fft.{n}": _c2c_nd(getattr(np.fft, n), n.endswith("2")) for n in ("fft2", "ifft2", "fftn", "ifftn")},
    "numpy.fft.rfft": _r2c(),
    "numpy.fft.irfft": _c2r(),
    **{f"numpy.fft.{n}": _rn(getattr(np.fft, n), n.endswith("2")) for n in ("rfft2", "rfftn")},
    **{f"numpy.fft.{n}": _irn(getattr(np.fft, n), n.endswith("2")) for n in ("irfft2", "irfftn")},
    "numpy.fft.fftshift": _shift(np.fft.fftshift),
    "numpy.fft.ifftshift": _shift(np.fft.ifftshift),
    **_helpers(),
    **_parts(),
}
