"""Run-time helpers for the derivatives of ``numpy.fft`` (their rules: ``rules_fft``).

In the README's convention (JAX's) a linear map's cotangent is its transpose, not its adjoint. The
discrete Fourier transform's matrix is symmetric, so a complex transform is its own transpose, up to
the cropping or zero padding a length ``n`` (or ``s``) asks for: ``fft_adjoint``. A real transform
(``rfft``) keeps half the spectrum of a real signal: its transpose pads the cotangent back to the
full length, transforms it and keeps the real part (``rfft_adjoint``). The transpose of ``irfft`` is
``rfft`` of the cotangent with the reciprocal normalisation, doubled where ``irfft`` reads a
coefficient twice (all but the zero and Nyquist frequencies), conjugated (``irfft_adjoint``, as
``jax.numpy.fft``). Each ``*_adjoint`` helper is linear in its first argument, and its transpose is
the matching ``*_like`` helper (the transform itself at the lengths of the value it reads), and the
other way round: derivatives of every order close.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["fft_adjoint", "fft_like", "rfft_adjoint", "rfft_like", "irfft_adjoint", "irfft_like"]

# the normalisation whose forward transform scales as ``norm``'s inverse does
_DUAL: dict[str | None, Literal["backward", "ortho", "forward"]] = {
    None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def _axes(x, axes) -> tuple[int, ...]:
    return tuple(range(np.ndim(x))) if axes is None else tuple(axes)


def _fit(v, shape, axes):
    """``v`` cropped, or padded with zeros at the end, to ``shape``'s lengths along ``axes``."""
    if all(v.shape[a] == shape[a] for a in axes):
        return v
    crop = [slice(None)] * v.ndim
    pad = [(0, 0)] * v.ndim
    for a in axes:
        crop[a] = slice(0, shape[a])
        pad[a] = (0, max(shape[a] - v.shape[a], 0))
    return np.pad(v[tuple(crop)], pad)


def _lengths(x, axes) -> list[int]:
    shape = np.shape(x)
    return [shape[a] for a in axes]


def fft_adjoint(g, x, axes, norm, inverse):
    """The cotangent of ``x`` in ``fftn(x, s, axes, norm)`` (``ifftn`` if ``inverse``): the same
    transform of ``g``, cropped or padded back to ``x``'s lengths."""
    axes = _axes(g, axes)
    out = (np.fft.ifftn if inverse else np.fft.fftn)(g, axes=axes, norm=norm)
    return _fit(out, np.shape(x), axes)


def fft_like(h, like, axes, norm, inverse):
    """The transform of ``h`` at ``like``'s lengths along ``axes`` (``fft_adjoint``'s transpose)."""
    axes = _axes(h, axes)
    return (np.fft.ifftn if inverse else np.fft.fftn)(h, s=_lengths(like, axes), axes=axes, norm=norm)


def rfft_adjoint(g, x, n, axes, norm):
    """The cotangent of the real ``x`` in ``rfftn(x, s, axes, norm)`` whose last length is ``n``
    (None: ``x``'s): the real part of the transform of ``g`` padded to the full length, cropped or
    padded back to ``x``'s lengths."""
    axes = _axes(x, axes)
    s = [*_lengths(g, axes[:-1]), np.shape(x)[axes[-1]] if n is None else n]
    return np.real(_fit(np.fft.fftn(g, s=s, axes=axes, norm=norm), np.shape(x), axes))


def rfft_like(h, like, n, axes, norm):
    """``rfftn`` of the real ``h`` at ``like``'s lengths (last: ``n``, None: ``h``'s), ``rfft_adjoint``'s
    transpose."""
    axes = _axes(h, axes)
    s = [*_lengths(like, axes[:-1]), np.shape(h)[axes[-1]] if n is None else n]
    return np.fft.rfftn(h, s=s, axes=axes, norm=norm)


def irfft_adjoint(t, w, axes, norm):
    """The cotangent of ``w`` in ``irfftn(w, s, axes, norm)`` with result ``t``'s shape, ``t`` its
    real cotangent (JAX's convention)."""
    axes = _axes(t, axes)
    n = np.shape(t)[axes[-1]]
    r = np.fft.rfftn(t, axes=axes, norm=_DUAL[norm])
    twice = np.full(r.shape[axes[-1]], 2.0)
    twice[0] = 1.0
    if n % 2 == 0:
        twice[-1] = 1.0
    r = r * twice.reshape([-1 if a == axes[-1] % r.ndim else 1 for a in range(r.ndim)])
    return np.conj(_fit(r, np.shape(w), axes))


def irfft_like(c, like, axes, norm):
    """``irfftn`` of ``c`` at ``like``'s lengths along ``axes`` (``irfft_adjoint``'s transpose)."""
    axes = _axes(c, axes)
    return np.fft.irfftn(c, s=_lengths(like, axes), axes=axes, norm=norm)
