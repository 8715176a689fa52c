"""More of ``numpy.linalg``, each adjoint written with functions that have rules (so it
differentiates again): ``matrix_power`` for a constant integer power and ``eigvalsh``.
"""

from __future__ import annotations

import numpy

from .rules import _Namespace, defrule, np

__all__: list[str] = []

linalg = _Namespace("np.linalg", numpy.linalg, scalar_out=False)


def _mT(a):
    return np.swapaxes(a, -1, -2)


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
