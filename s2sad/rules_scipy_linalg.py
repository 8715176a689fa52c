# SYMBOLIC NAMESPACES. In this file `np`, `math`, `rt`, `rn`, `py`, `linalg`, `special` and the like are
# not the modules: they are `rules._Namespace`s, whose calls build IR on symbolic operands (`rules.Sym`)
# when a rule runs, at transform time. `np.cos(x)` here emits the text `np.cos(x)`; it computes nothing.
# The real modules are imported under other names (`numpy`, `_math`, `_sp`, ...).
"""``scipy.linalg``: ``inv``, ``det``, ``solve_triangular``, ``cholesky``, ``cho_factor``/``cho_solve``,
``lu_factor``/``lu_solve``, ``solve_banded``, ``sqrtm``, ``expm`` and ``solve_sylvester``, registered when
scipy is installed.

Each adjoint is written with functions that have rules (triangular solves for the
factorizations, which they reuse: ``cho_solve`` and ``lu_solve`` solve with the factor they
were given; ``expm`` of a block matrix for ``expm``, ``solve_sylvester`` for itself), so it
differentiates again. A triangular solve reads one triangle of its matrix: the
matrix's cotangent is that triangle's. ``overwrite_*`` and ``check_finite`` change no value.
"""

from __future__ import annotations

import scipy.linalg as _sl

from . import runtime_numpy, runtime_scipy
from .rules import NONDIFFERENTIABLE, NotConst, _Namespace, defrule, np, plus, rt, sym
from .rules_linalg import _cholesky, _cholesky_forward, _mT, _trace_solve, linalg

__all__: list[str] = []

sl = _Namespace("scipy_linalg", _sl, scalar_out=False)  # (bound to scipy.linalg in generated code)
rn = _Namespace("", runtime_numpy, scalar_out=False)
NONDIFFERENTIABLE.update([runtime_numpy.is_lower, runtime_numpy.lu_rows])
_NO_VALUE = ("overwrite_a", "overwrite_b", "check_finite")


def _flags(kwargs: dict, allowed=()) -> dict:
    """The constant keyword arguments, those that change no value dropped."""
    out = {}
    for k, v in kwargs.items():
        if k in _NO_VALUE:
            continue
        if k not in allowed or v.const is NotConst:
            raise NotImplementedError(f"{k}= is not supported here" if k not in allowed else f"{k} must be a constant")
        out[k] = v.const
    return out


def _inv(g, ans, a, **kwargs):
    _flags(kwargs)
    return (-(_mT(ans) @ g @ _mT(ans)),)


defrule(_sl.inv, "scipy.linalg.inv", _inv, diff=(0,),
        forward=lambda ans, dots, a, **k: -(ans @ dots[0] @ ans))
defrule(_sl.det, "scipy.linalg.det", lambda g, ans, a, **k: (np.expand_dims(g * ans, (-2, -1)) * _mT(linalg.inv(a)),),
        diff=(0,), forward=lambda ans, dots, a, **k: ans * _trace_solve(a, dots[0]))

# ----- triangular solves -----


def _triangle(v, lower: bool, unit: bool):
    """The part of ``v`` a triangular solve reads (without the diagonal when it is taken as ones)."""
    return np.tril(v, -1 if unit else 0) if lower else np.triu(v, 1 if unit else 0)


def _tri_args(trans=None, lower=None, unit_diagonal=None, **kwargs):
    _flags(kwargs)
    t = 0 if trans is None else trans.const
    if t not in (0, 1, "N", "T"):
        raise NotImplementedError("solve_triangular with a constant trans of 0, 1, 'N' or 'T' is supported")
    lo = False if lower is None else lower.const
    unit = False if unit_diagonal is None else unit_diagonal.const
    if lo is NotConst or unit is NotConst:
        raise NotImplementedError("lower and unit_diagonal must be constants")
    return t in (1, "T"), lo, unit


def _solve_triangular(g, ans, a, b, *args, **kwargs):
    """x = T⁻¹ b (T⁻ᵀ b with trans): b̄ = T⁻ᵀ x̄ (T⁻¹ x̄), T̄ = -b̄ xᵀ (-x b̄ᵀ) on the triangle read."""
    transposed, lower, unit = _tri_args(*args, **kwargs)
    b_bar = sl.solve_triangular(a, g, trans=0 if transposed else 1, lower=lower, unit_diagonal=True) if unit else \
        rn.triangular_solve(a, g, lower, not transposed)  # (no checks: the forward pass made them)
    outer = rt.matmul_lhs_adjoint(ans, a, b_bar) if transposed else rt.matmul_lhs_adjoint(b_bar, a, ans)
    return -_triangle(outer, lower, unit), b_bar


def _solve_triangular_forward(ans, dots, a, b, *args, **kwargs):
    transposed, lower, unit = _tri_args(*args, **kwargs)
    moved = None
    if dots[0] is not None:
        t_dot = _triangle(dots[0], lower, unit)
        moved = -((_mT(t_dot) if transposed else t_dot) @ ans)
    return sl.solve_triangular(a, plus(dots[1], moved), trans=1 if transposed else 0, lower=lower,
                               unit_diagonal=unit)


defrule(_sl.solve_triangular, "scipy.linalg.solve_triangular", _solve_triangular, diff=(0, 1),
        forward=_solve_triangular_forward)

# ----- cholesky, cho_factor, cho_solve -----


def _lower(lower) -> bool:
    value = False if lower is None else lower.const
    if value is NotConst:
        raise NotImplementedError("lower must be a constant")
    return value


def _scipy_cholesky(g, ans, a, lower=None, **kwargs):
    _flags(kwargs)
    if _lower(lower):
        return _cholesky(g, ans, a)
    return _cholesky(_mT(g), _mT(ans), a)  # A = Uᵀ U: L = Uᵀ


def _scipy_cholesky_forward(ans, dots, a, lower=None, **kwargs):
    _flags(kwargs)
    return _cholesky_forward(ans, dots, a) if _lower(lower) else _mT(_cholesky_forward(_mT(ans), dots, a))


defrule(_sl.cholesky, "scipy.linalg.cholesky", _scipy_cholesky, diff=(0,), forward=_scipy_cholesky_forward)


def _cho_factor(g, ans, a, lower=None, **kwargs):
    """(c, lower): the factor in one triangle of c (the other holds values no result should read)."""
    low = _lower(lower)
    c_bar, c = _triangle(g[0], low, False), _triangle(ans[0], low, False)
    return _scipy_cholesky(c_bar, c, a, sym(low))


def _cho_factor_forward(ans, dots, a, lower=None, **kwargs):
    low = _lower(lower)
    return sym((_scipy_cholesky_forward(_triangle(ans[0], low, False), dots, a, sym(low)), False))


defrule(_sl.cho_factor, "scipy.linalg.cho_factor", _cho_factor, diff=(0,), forward=_cho_factor_forward, container=True)


def _cho_solve(g, ans, c_and_lower, b, **kwargs):
    """x = A⁻¹ b, A = L Lᵀ (or Uᵀ U) from the triangle of c: b̄ = A⁻¹ x̄, Ā = -b̄ xᵀ, then
    L̄ = (Ā + Āᵀ) L on the triangle (Ū = U (Ā + Āᵀ))."""
    _flags(kwargs)
    c, lower = c_and_lower[0], rn.is_lower(c_and_lower)
    b_bar = sl.cho_solve(c_and_lower, g)
    a_bar = -rt.matmul_lhs_adjoint(b_bar, c, ans)
    sym_bar = a_bar + _mT(a_bar)
    low, up = np.tril(c), np.triu(c)
    c_bar = np.where(lower, np.tril(sym_bar @ low), np.triu(up @ sym_bar))
    return rt.tuple_adjoint(c_and_lower, c_bar, 0.0), b_bar


def _cho_solve_forward(ans, dots, c_and_lower, b, **kwargs):
    c, lower = c_and_lower[0], rn.is_lower(c_and_lower)
    moved = None
    if dots[0] is not None:
        c_dot = dots[0][0]
        low, up = np.tril(c), np.triu(c)
        low_dot, up_dot = np.tril(c_dot), np.triu(c_dot)
        a_dot = np.where(lower, low_dot @ _mT(low) + low @ _mT(low_dot), _mT(up_dot) @ up + _mT(up) @ up_dot)
        moved = -(a_dot @ ans)
    return sl.cho_solve(c_and_lower, plus(dots[1], moved))


defrule(_sl.cho_solve, "scipy.linalg.cho_solve", _cho_solve, diff=(0, 1), forward=_cho_solve_forward)

# ----- lu_factor, lu_solve: a[rows] = L U, L unit lower and U upper, packed in lu -----


def _lu_parts(lu_and_piv):
    """The row order, L and U of a ``(lu, piv)`` pair (of a square matrix)."""
    lu = rn.require_same_shape(lu_and_piv[0], _mT(lu_and_piv[0]), "lu_factor of a matrix that is not square")
    return rn.lu_rows(lu_and_piv[1]), np.tril(lu, -1) + np.eye(np.shape(lu)[-1]), np.triu(lu)


def _packed(low_bar, up_bar):
    """The cotangent (or tangent) of ``lu`` from those of L (strictly below the diagonal) and U."""
    return np.tril(low_bar, -1) + np.triu(up_bar)


def _lu_factor(g, ans, a, **kwargs):
    """F = L⁻¹ Ȧ[rows] U⁻¹ gives L̇ = L tril(F, -1), U̇ = triu(F) U; so F̄ = tril(Lᵀ L̄, -1) + triu(Ū Uᵀ) and
    Ā[rows] = L⁻ᵀ F̄ U⁻ᵀ."""
    _flags(kwargs)
    rows, low, up = _lu_parts(ans)
    f_bar = _packed(_mT(low) @ np.tril(g[0], -1), np.triu(g[0]) @ _mT(up))
    a_bar = rn.triangular_solve(low, rn.triangular_solve(up, f_bar, False, True, True), True, True)
    return (a_bar[np.argsort(rows)],)


def _lu_factor_forward(ans, dots, a, **kwargs):
    _flags(kwargs)
    rows, low, up = _lu_parts(ans)
    f = rn.triangular_solve(up, rn.triangular_solve(low, dots[0][rows], True), False, False, True)
    return sym((_packed(low @ np.tril(f, -1), np.triu(f) @ up), np.zeros_like(ans[1])))


defrule(_sl.lu_factor, "scipy.linalg.lu_factor", _lu_factor, diff=(0,), forward=_lu_factor_forward, container=True)


def _trans(trans=None, **kwargs) -> int:
    _flags(kwargs)
    t = 0 if trans is None else trans.const
    if t not in (0, 1, 2):
        raise NotImplementedError("lu_solve with a constant trans of 0, 1 or 2 is supported")
    return min(t, 1)  # (real matrices: the conjugate transpose is the transpose)


def _lu_solve(g, ans, lu_and_piv, b, *args, **kwargs):
    """x = A⁻¹ b (A⁻ᵀ b with trans), A[rows] = L U: b̄ = A⁻ᵀ x̄ by the same factors, Ā = -b̄ xᵀ (-x b̄ᵀ),
    and lu's cotangent from Ā: tril(Ā[rows] Uᵀ, -1) + triu(Lᵀ Ā[rows])."""
    t = _trans(*args, **kwargs)
    b_bar = sl.lu_solve(lu_and_piv, g, trans=1 - t)
    a_bar = -(rt.matmul_lhs_adjoint(ans, lu_and_piv[0], b_bar) if t else rt.matmul_lhs_adjoint(b_bar, lu_and_piv[0], ans))
    rows, low, up = _lu_parts(lu_and_piv)
    permuted = a_bar[rows]
    return rt.tuple_adjoint(lu_and_piv, _packed(permuted @ _mT(up), _mT(low) @ permuted),
                            rt.zeros_like(lu_and_piv[1])), b_bar


def _lu_solve_forward(ans, dots, lu_and_piv, b, *args, **kwargs):
    t = _trans(*args, **kwargs)
    moved = None
    if dots[0] is not None:
        rows, low, up = _lu_parts(lu_and_piv)
        lu_dot = dots[0][0]
        low_dot, up_dot = np.tril(lu_dot, -1), np.triu(lu_dot)
        if t:  # Ȧᵀ x = (L̇ U + L U̇)ᵀ x[rows]
            x_rows = ans[rows]
            moved = -(_mT(up) @ (_mT(low_dot) @ x_rows) + _mT(up_dot) @ (_mT(low) @ x_rows))
        else:  # Ȧ x = P (L̇ U x + L U̇ x)
            moved = -(low_dot @ (up @ ans) + low @ (up_dot @ ans))[np.argsort(rows)]
    return sl.lu_solve(lu_and_piv, plus(dots[1], moved), trans=t)


defrule(_sl.lu_solve, "scipy.linalg.lu_solve", _lu_solve, diff=(0, 1), forward=_lu_solve_forward)

# ----- solve_banded: a[i, j] = ab[u + i - j, j] on the band -----

rs = _Namespace("", runtime_scipy, scalar_out=False)


def _band_width(l_and_u) -> tuple[int, int]:
    value = l_and_u.const
    if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise NotImplementedError("solve_banded's (l, u) must be a constant pair of integers")
    return value


def _solve_banded(g, ans, l_and_u, ab, b, **kwargs):
    """x = A⁻¹ b: b̄ = A⁻ᵀ x̄ (the transpose is banded, (u, l)), āb = -(b̄ xᵀ) on the band."""
    _flags(kwargs)
    b_bar = sl.solve_banded(_swapped(l_and_u), rs.banded_transpose(ab, l_and_u), g)
    return None, -rs.banded_outer(b_bar, ans, l_and_u), b_bar


def _solve_banded_forward(ans, dots, l_and_u, ab, b, **kwargs):
    _flags(kwargs)
    moved = None if dots[1] is None else -rs.banded_matmul(dots[1], ans, l_and_u)
    return sl.solve_banded(l_and_u, ab, plus(dots[2], moved))


defrule(_sl.solve_banded, "scipy.linalg.solve_banded", _solve_banded, diff=(1, 2), forward=_solve_banded_forward)


def _swapped(l_and_u):
    """The band ``(u, l)`` of the transpose of a band ``(l, u)``."""
    below, above = _band_width(l_and_u)
    return sym((above, below))


defrule(runtime_scipy.banded_transpose, "banded_transpose", lambda h, ans, ab, l_and_u: (
    rs.banded_transpose(h, _swapped(l_and_u)), None), diff=(0,), linear="joint")
defrule(runtime_scipy.banded_outer, "banded_outer", lambda h, ans, x, y, l_and_u: (
    rs.banded_matmul(h, y, l_and_u), rs.banded_matmul(rs.banded_transpose(h, l_and_u), x, _swapped(l_and_u)), None),
        diff=(0, 1), linear="multi")
defrule(runtime_scipy.banded_matmul, "banded_matmul", lambda h, ans, ab, x, l_and_u: (
    rs.banded_outer(h, x, l_and_u), rs.banded_matmul(rs.banded_transpose(ab, l_and_u), h, _swapped(l_and_u)), None),
        diff=(0, 1), linear="multi")

# ----- sqrtm: X X = A, so X Ẋ + Ẋ X = Ȧ (a Sylvester equation) -----


def _sqrtm_root(ans, kwargs):
    if set(kwargs) - {"blocksize"}:
        raise NotImplementedError("sqrtm with disp= is not supported (its result is a pair)")
    return rn.require_real(ans, "scipy.linalg.sqrtm")


defrule(_sl.sqrtm, "scipy.linalg.sqrtm", lambda g, ans, a, **k: (
    sl.solve_sylvester(_mT(_sqrtm_root(ans, k)), _mT(_sqrtm_root(ans, k)), g),), diff=(0,),
        forward=lambda ans, dots, a, **k: sl.solve_sylvester(_sqrtm_root(ans, k), _sqrtm_root(ans, k), dots[0]))

# ----- expm, solve_sylvester -----


def _expm_block(a, e):
    """expm([[a, e], [0, a]])'s upper right block: the derivative of expm at ``a`` in direction ``e``."""
    n = np.shape(a)[-1]
    top = np.concatenate((a, e), axis=-1)
    bottom = np.concatenate((np.zeros_like(a), a), axis=-1)
    return sl.expm(np.concatenate((top, bottom), axis=-2))[..., slice(None, n), slice(n, None)]


defrule(_sl.expm, "scipy.linalg.expm", lambda g, ans, a: (_expm_block(_mT(a), g),),
        forward=lambda ans, dots, a: _expm_block(a, dots[0]))


def _sylvester(g, ans, a, b, q):
    """A X + X B = Q: Q̄ solves Aᵀ Q̄ + Q̄ Bᵀ = X̄; Ā = -Q̄ Xᵀ, B̄ = -Xᵀ Q̄."""
    q_bar = sl.solve_sylvester(_mT(a), _mT(b), g)
    return -(q_bar @ _mT(ans)), -(_mT(ans) @ q_bar), q_bar


def _sylvester_forward(ans, dots, a, b, q):
    rhs = plus(dots[2], None if dots[0] is None else -(dots[0] @ ans), None if dots[1] is None else -(ans @ dots[1]))
    return sl.solve_sylvester(a, b, rhs)


defrule(_sl.solve_sylvester, "scipy.linalg.solve_sylvester", _sylvester, forward=_sylvester_forward)
