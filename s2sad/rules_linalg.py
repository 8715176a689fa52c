"""``numpy.linalg``: each adjoint and tangent is written with functions that have rules
(``solve``, ``inv``, ``@``, ``tril``, ``safe_divide``, ...), so it differentiates again, to any order.

Factorizations (``cholesky``, ``eigh``, ``eig``, ``svd``, ``qr``) differentiate the factors
the call returns; where a factor is not unique (the extra columns of a full ``svd`` of a
non-square matrix, complex eigenvalues of ``eig``) the derivative stops with an error at run
time rather than give a wrong value. ``pinv`` and ``lstsq`` are differentiated where the rank
is constant (the pseudo-inverse is not continuous where it changes).
"""

from __future__ import annotations

import numpy

from . import runtime_numpy
from .rules import _Namespace, defrule, np, rt, sym

rn = _Namespace("", runtime_numpy, scalar_out=False)

__all__: list[str] = []

linalg = _Namespace("np.linalg", numpy.linalg, scalar_out=False)


def _mT(a):
    return np.swapaxes(a, -1, -2)


def _eye(a, axis=-1):
    """The identity the size of ``a``'s axis ``axis`` (a constant)."""
    return np.eye(np.shape(a)[axis])


def _col(v):
    return np.expand_dims(v, -1)  # v[..., :, None]


def _row(v):
    return np.expand_dims(v, -2)  # v[..., None, :]


def _plus(*parts):
    total = None
    for p in parts:
        if p is not None:
            total = p if total is None else total + p
    return total


def _gaps(w):
    """``F[i, j] = 1 / (w[j] - w[i])``, 0 where the two are equal (the diagonal)."""
    return rn.safe_divide(1.0, _row(w) - _col(w))


def _power(n: int):
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise NotImplementedError("the power must be a constant integer >= 0 (for a negative one, use inv)")


def _matrix_power(g, ans, a, n):
    """d(Aⁿ) = Σₖ Aᵏ dA Aⁿ⁻¹⁻ᵏ, so Ā = Σₖ (Aᵀ)ᵏ G (Aᵀ)ⁿ⁻¹⁻ᵏ."""
    _power(n.const)
    if n.const == 0:
        return None, None
    total = None
    for k in range(n.const):
        left = linalg.matrix_power(_mT(a), k) if k else None
        right = linalg.matrix_power(_mT(a), n.const - 1 - k) if n.const - 1 - k else None
        term = g if left is None else left @ g
        term = term if right is None else term @ right
        total = term if total is None else total + term
    return total, None


def _matrix_power_forward(ans, dots, a, n):
    _power(n.const)
    if n.const == 0:
        return 0.0 * ans
    total = None
    for k in range(n.const):
        term = dots[0] if not k else linalg.matrix_power(a, k) @ dots[0]
        term = term if n.const - 1 - k == 0 else term @ linalg.matrix_power(a, n.const - 1 - k)
        total = term if total is None else total + term
    return total


defrule(numpy.linalg.matrix_power, "numpy.linalg.matrix_power", _matrix_power, diff=(0,),
        forward=_matrix_power_forward)


def _eigvalsh(g, ans, a, UPLO=None):
    """Ā = V diag(w̄) Vᵀ, the eigenvectors V from ``eigh`` (symmetric: the gradient is symmetric)."""
    V = linalg.eigh(a)[1]
    return ((V * np.expand_dims(g, -2)) @ _mT(V), None)


def _eigvalsh_forward(ans, dots, a, UPLO=None):
    V = linalg.eigh(a)[1]
    return np.sum(V * (dots[0] @ V), axis=-2)


defrule(numpy.linalg.eigvalsh, "numpy.linalg.eigvalsh", _eigvalsh, diff=(0,), forward=_eigvalsh_forward)


# ----- solve, det, slogdet -----


def _solve(g, ans, a, b):
    """x = A⁻¹ b (``@``'s rules for a vector or a matrix b): b̄ = A⁻ᵀ x̄ and Ā = -b̄ xᵀ."""
    b_bar = linalg.solve(_mT(a), g)
    return -rt.matmul_lhs_adjoint(b_bar, a, ans), b_bar


def _solve_forward(ans, dots, a, b):
    return linalg.solve(a, _plus(dots[1], None if dots[0] is None else -(dots[0] @ ans)))


defrule(numpy.linalg.solve, "numpy.linalg.solve", _solve, forward=_solve_forward)


def _trace_solve(a, a_dot):
    """tr(A⁻¹ Ȧ), batched."""
    return np.sum(_mT(linalg.inv(a)) * a_dot, axis=(-2, -1))


defrule(numpy.linalg.det, "numpy.linalg.det",
        lambda g, ans, a: (np.expand_dims(g * ans, (-2, -1)) * _mT(linalg.inv(a)),),
        forward=lambda ans, dots, a: ans * _trace_solve(a, dots[0]))
defrule(numpy.linalg.slogdet, "numpy.linalg.slogdet",
        lambda g, ans, a: (np.expand_dims(g[1], (-2, -1)) * _mT(linalg.inv(a)),),
        forward=lambda ans, dots, a: sym((np.zeros_like(ans[0]), _trace_solve(a, dots[0]))), container=True)

# ----- cholesky, eigh -----


def _phi(x):
    """The lower triangle of ``x`` with half its diagonal."""
    return np.tril(x) - 0.5 * _eye(x) * x


def _cholesky(g, ans, a):
    """For A = L Lᵀ: Ā = ½ (S + Sᵀ), S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ (two solves with L)."""
    left = linalg.solve(_mT(ans), _phi(_mT(ans) @ g))  # L⁻ᵀ Φ
    s = _mT(linalg.solve(_mT(ans), _mT(left)))
    return (0.5 * (s + _mT(s)),)


def _cholesky_forward(ans, dots, a):
    """L̇ = L Φ(L⁻¹ Ȧ L⁻ᵀ)."""
    inner = _mT(linalg.solve(ans, _mT(linalg.solve(ans, dots[0]))))
    return ans @ _phi(inner)


defrule(numpy.linalg.cholesky, "numpy.linalg.cholesky", _cholesky, diff=(0,), forward=_cholesky_forward)


def _eigh(g, ans, a, UPLO=None):
    """For (w, V) = eigh(A): Ā = V (diag(w̄) + F ∘ Vᵀ V̄) Vᵀ symmetrised, F from the eigenvalue gaps
    (0 for equal eigenvalues: a degenerate spectrum gives no NaN when V̄ is 0)."""
    w, v = ans[0], ans[1]
    inner = _eye(v) * _row(g[0]) + _gaps(w) * (_mT(v) @ g[1])
    s = v @ inner @ _mT(v)
    return 0.5 * (s + _mT(s)), None


def _eigh_forward(ans, dots, a, UPLO=None):
    w, v = ans[0], ans[1]
    inner = _mT(v) @ dots[0] @ v
    return sym((np.diagonal(inner, 0, -2, -1), v @ (_gaps(w) * inner)))


defrule(numpy.linalg.eigh, "numpy.linalg.eigh", _eigh, diff=(0,), forward=_eigh_forward, container=True)
