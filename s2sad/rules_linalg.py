# SYMBOLIC NAMESPACES. In this file `np`, `math`, `rt`, `rn`, `py`, `linalg`, `special` and the like are
# not the modules: they are `rules._Namespace`s, whose calls build IR on symbolic operands (`rules.Sym`)
# when a rule runs, at transform time. `np.cos(x)` here emits the text `np.cos(x)`; it computes nothing.
# The real modules are imported under other names (`numpy`, `_math`, `_sp`, ...).
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
from .ir import Call, Ref, Tuple, UnaryOp
from .rules import NotConst, Sym, _Namespace, constant_other_than, defrule, np, plus, rt, sym

rn = _Namespace("", runtime_numpy, scalar_out=False)

__all__: list[str] = []

linalg = _Namespace("np.linalg", numpy.linalg, scalar_out=False)


def _mT(a):
    """The batched transpose, ``np.swapaxes(a, -1, -2)`` (of such a transpose: its operand)."""
    e = a.expr
    if isinstance(e, Call) and isinstance(e.func, Ref) and e.func.value is numpy.swapaxes and not e.kwargs and \
            [getattr(i, "value", None) for i in e.args[1:]] == [-1, -2]:
        return Sym(e.args[0])
    return np.swapaxes(a, -1, -2)


def _eye(a, axis=-1):
    """The identity the size of ``a``'s axis ``axis`` (a constant)."""
    return np.eye(np.shape(a)[axis])


def _col(v):
    return np.expand_dims(v, -1)  # v[..., :, None]


def _row(v):
    return np.expand_dims(v, -2)  # v[..., None, :]


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
        forward=_matrix_power_forward, view=lambda args, kwargs, shape: not constant_other_than(
            args[1] if len(args) > 1 else kwargs.get("n"), 1))  # (n == 1: a itself)


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
    return linalg.solve(a, plus(dots[1], None if dots[0] is None else -(dots[0] @ ans)))


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
    return rn.tril_half_diagonal(x)


def _triangle(v, lower: bool):
    return np.tril(v) if lower else np.triu(v)


def _flags(*flags) -> tuple[bool, ...]:
    values = tuple(False if f is None else f.const for f in flags)
    if any(not isinstance(v, bool | int) or v is NotConst for v in values):
        raise NotImplementedError("triangular_solve's lower, transposed and right must be constants")
    return tuple(map(bool, values))


def _triangular_solve(g, ans, a, b, lower, transposed=None, right=None):
    """x = op(T)⁻¹ b: b̄ = op(T)⁻ᵀ x̄, op(T)̄ = -b̄ xᵀ; x = b op(T)⁻¹: b̄ = x̄ op(T)⁻ᵀ, op(T)̄ = -xᵀ b̄
    (on the triangle T is read from)."""
    low, trans, on_right = _flags(lower, transposed, right)
    b_bar = rn.triangular_solve(a, g, low, not trans, on_right)
    op_bar = rt.matmul_rhs_adjoint(b_bar, ans, a) if on_right else rt.matmul_lhs_adjoint(b_bar, a, ans)
    return -_triangle(_mT(op_bar) if trans else op_bar, low), b_bar, None, None, None


def _triangular_solve_forward(ans, dots, a, b, lower, transposed=None, right=None):
    low, trans, on_right = _flags(lower, transposed, right)
    moved = None
    if dots[0] is not None:
        t_dot = _triangle(dots[0], low)
        op_dot = _mT(t_dot) if trans else t_dot
        moved = -(ans @ op_dot) if on_right else -(op_dot @ ans)
    return rn.triangular_solve(a, plus(dots[1], moved), low, trans, on_right)


defrule(runtime_numpy.triangular_solve, "triangular_solve", _triangular_solve, diff=(0, 1),
        forward=_triangular_solve_forward)
def _triangular_matmul(g, ans, a, b, lower, transposed=None):
    """y = op(T) b: b̄ = op(T)ᵀ ȳ, op(T)̄ = ȳ bᵀ (on the triangle T is read from)."""
    low, trans = _flags(lower, transposed)
    op_bar = rt.matmul_lhs_adjoint(g, a, b)
    return _triangle(_mT(op_bar) if trans else op_bar, low), rn.triangular_matmul(a, g, low, not trans), None, None


defrule(runtime_numpy.triangular_matmul, "triangular_matmul", _triangular_matmul, diff=(0, 1), linear="multi")
defrule(runtime_numpy.symmetric_part, "symmetric_part", lambda h, ans, x: (rn.symmetric_part(h),),
        linear="joint")  # (a projection: its own transpose)
defrule(runtime_numpy.tril_half_diagonal, "tril_half_diagonal", lambda h, ans, x: (rn.tril_half_diagonal(h),),
        linear="joint")  # (a mask of weights: its own transpose)


def _cholesky(g, ans, a):
    """For A = L Lᵀ: Ā = ½ (S + Sᵀ), S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ (two triangular solves with L)."""
    left = rn.triangular_solve(ans, _phi(rn.triangular_matmul(ans, g, True, True)), True, True)  # L⁻ᵀ Φ(Lᵀ L̄)
    return (rn.symmetric_part(rn.triangular_solve(ans, left, True, False, True)),)  # (L⁻ᵀ Φ) L⁻¹


def _cholesky_forward(ans, dots, a):
    """L̇ = L Φ(L⁻¹ Ȧ L⁻ᵀ)."""
    inner = rn.triangular_solve(ans, rn.triangular_solve(ans, dots[0], True), True, True, True)
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


# ----- svd -----


def _svd_parts(ans, full_matrices):
    u, s, vh = ans[0], ans[1], ans[2]
    if full_matrices is None or full_matrices.const is not False:  # square: the full factors are the reduced ones
        u = rn.require_same_shape(u, vh, "svd with full_matrices=True")
    return u, s, _mT(vh)


def _svd(g, ans, a, full_matrices=None, compute_uv=None, hermitian=None):
    """Reduced factors A = U diag(s) Vᵀ; F[i, j] = 1 / (s_j² - s_i²). The terms in (I - U Uᵀ) and (I - V Vᵀ)
    are those of a tall and of a wide matrix (each is 0 otherwise)."""
    if compute_uv is not None and compute_uv.const is False:
        u, _, vh = (linalg.svd(a, full_matrices=False)[i] for i in range(3))
        return ((u * _row(g)) @ vh,)
    u, s, v = _svd_parts(ans, full_matrices)
    gu, gs, gv = g[0], g[1], _mT(g[2])
    f = _gaps(s * s)
    utgu, vtgv = _mT(u) @ gu, _mT(v) @ gv
    inner = (f * (utgu - _mT(utgu))) * _row(s) + _eye(u) * _row(gs) + _col(s) * (f * (vtgv - _mT(vtgv)))
    tall = (_eye(u, -2) - u @ _mT(u)) @ (gu / _row(s)) @ _mT(v)
    wide = u @ (_mT(gv) / _col(s)) @ (_eye(v, -2) - v @ _mT(v))
    return (u @ inner @ _mT(v) + tall + wide,)


def _svd_forward(ans, dots, a, full_matrices=None, compute_uv=None, hermitian=None):
    if compute_uv is not None and compute_uv.const is False:
        u, _, vh = (linalg.svd(a, full_matrices=False)[i] for i in range(3))
        return np.sum(u * (dots[0] @ _mT(vh)), axis=-2)
    u, s, v = _svd_parts(ans, full_matrices)
    d = _mT(u) @ dots[0] @ v
    f = _gaps(s * s)
    ds, sd = _row(s) * d, _col(s) * d
    du = u @ (f * (ds + _mT(ds))) + (_eye(u, -2) - u @ _mT(u)) @ dots[0] @ v / _row(s)
    dv = v @ (f * (sd + _mT(sd))) + (_eye(v, -2) - v @ _mT(v)) @ _mT(dots[0]) @ u / _row(s)
    return sym((du, np.diagonal(d, 0, -2, -1), _mT(dv)))


defrule(numpy.linalg.svd, "numpy.linalg.svd", _svd, diff=(0,), forward=_svd_forward, container=True)

# ----- eig, eigvals (real eigenvalues) -----


def _eig(g, ans, a):
    """For A V = V diag(w), columns of V of unit norm: Ā = V⁻ᵀ (diag(w̄) + F ∘ Vᵀ V̄₀) Vᵀ, V̄₀ = V̄ less its
    share along each column (the normalisation), F[i, j] = 1 / (w_j - w_i)."""
    w, v = rn.require_real(ans[0], "numpy.linalg.eig"), ans[1]
    v_bar = g[1] - v * _row(np.sum(v * g[1], axis=-2))
    inner = _eye(v) * _row(g[0]) + _gaps(w) * (_mT(v) @ v_bar)
    return (linalg.solve(_mT(v), inner @ _mT(v)),)


def _eig_forward(ans, dots, a):
    w, v = rn.require_real(ans[0], "numpy.linalg.eig"), ans[1]
    m = linalg.solve(v, dots[0] @ v)  # V⁻¹ Ȧ V
    dv = v @ (_gaps(w) * m)
    return sym((np.diagonal(m, 0, -2, -1), dv - v * _row(np.sum(v * dv, axis=-2))))


def _eigvectors(a):
    e = linalg.eig(a)
    return rn.require_real(e[1], "numpy.linalg.eigvals")


defrule(numpy.linalg.eig, "numpy.linalg.eig", _eig, forward=_eig_forward, container=True)
defrule(numpy.linalg.eigvals, "numpy.linalg.eigvals",
        lambda g, ans, a: (linalg.solve(_mT(_eigvectors(a)), _col(g) * _mT(_eigvectors(a))),),
        forward=lambda ans, dots, a: np.sum(linalg.solve(_eigvectors(a), dots[0]) * _mT(_eigvectors(a)), axis=-1))

# ----- qr -----


def _qr_mode(mode):
    if mode is not None and mode.const != "reduced":
        raise NotImplementedError("qr is differentiated in mode='reduced' only")


def _qr(g, ans, a, mode=None):
    """A = QR (m >= n): X̄ = B - tril(B - Bᵀ, -1) with B = R̄ Rᵀ - Qᵀ Q̄, and Ā = (Q X̄ + Q̄) R⁻ᵀ."""
    _qr_mode(mode)
    q, r = ans[0], rn.require_same_shape(ans[1], _mT(ans[1]), "qr with more columns than rows")
    b = g[1] @ _mT(r) - _mT(q) @ g[0]
    x_bar = b - np.tril(b - _mT(b), -1)
    return (_mT(linalg.solve(r, _mT(q @ x_bar + g[0]))),)


def _qr_forward(ans, dots, a, mode=None):
    _qr_mode(mode)
    q, r = ans[0], rn.require_same_shape(ans[1], _mT(ans[1]), "qr with more columns than rows")
    d = _mT(linalg.solve(_mT(r), _mT(dots[0])))  # Ȧ R⁻¹
    x = _mT(q) @ d
    low = np.tril(x, -1)
    omega = low - _mT(low)
    return sym((q @ (omega - x) + d, (x - omega) @ r))


defrule(numpy.linalg.qr, "numpy.linalg.qr", _qr, diff=(0,), forward=_qr_forward, container=True)

# ----- pinv, lstsq (constant rank) -----


def _pinv_adjoint(g, p, a):
    """dP = -P dA P + P Pᵀ dAᵀ (I - A P) + (I - P A) dAᵀ Pᵀ P (Golub and Pereyra), transposed."""
    pt, gt = _mT(p), _mT(g)
    return (-(pt @ g @ pt) + (_eye(a, -2) - a @ p) @ gt @ p @ pt
            + pt @ p @ gt @ (_eye(a, -1) - p @ a))


def _pinv_forward(ans, dots, a, *args, **kwargs):
    p, da = ans, dots[0]
    return (-(p @ da @ p) + p @ _mT(p) @ _mT(da) @ (_eye(a, -2) - a @ p)
            + (_eye(a, -1) - p @ a) @ _mT(da) @ _mT(p) @ p)


defrule(numpy.linalg.pinv, "numpy.linalg.pinv", lambda g, ans, a, *args, **kwargs: (_pinv_adjoint(g, ans, a),),
        diff=(0,), forward=_pinv_forward)


def _lstsq(g, ans, a, b, rcond=None):
    """x = A⁺ b: the cotangent of x only (residuals, rank and singular values are refused when they carry one)."""
    p, x_bar = linalg.pinv(a), rn.lstsq_solution_cotangent(g)
    return _pinv_adjoint(rt.matmul_lhs_adjoint(x_bar, p, b), p, a), rt.matmul_rhs_adjoint(x_bar, p, b)


def _lstsq_forward(ans, dots, a, b, rcond=None):
    p = linalg.pinv(a)
    x_dot = plus(None if dots[0] is None else _pinv_forward(p, dots, a) @ b, None if dots[1] is None else p @ dots[1])
    return sym((x_dot, np.zeros_like(ans[1]), 0, np.zeros_like(ans[3])))


defrule(numpy.linalg.lstsq, "numpy.linalg.lstsq", _lstsq, diff=(0, 1), forward=_lstsq_forward, container=True)

# ----- multi_dot -----

# The product is multilinear in the arrays, so every derivative is a sum of products with some arrays
# replaced (``multi_dot_sum(arrays, *subs)``: one list of replacements per derivative taken) or the
# cotangent of one of its lists (``multi_dot_sum_adjoint(h, which, arrays, *subs)``). With ``<c,
# adjoint(h, which)> = <h, sum(... c in place of list which ...)>`` both families close under
# differentiation, to any order.


def _with(subs: tuple, which: int, c: Sym) -> tuple:
    """``subs`` with list ``which`` (0: a new list) replaced by ``c``."""
    return (*subs, c) if which == 0 else (*subs[:which - 1], c, *subs[which:])


def _multi_dot_sum(h, ans, arrays, *subs):
    return tuple(rn.multi_dot_sum_adjoint(h, i, arrays, *subs) for i in range(len(subs) + 1))


def _multi_dot_sum_forward(ans, dots, arrays, *subs):
    da, dsubs = dots[0], dots[1:]
    return plus(None if da is None else rn.multi_dot_sum(arrays, *subs, da),
                *(rn.multi_dot_sum(arrays, *_with(subs, i + 1, d)) for i, d in enumerate(dsubs) if d is not None))


def _multi_dot_sum_adjoint(c, ans, h, which, arrays, *subs):
    k = which.const
    grown = _with(subs, k, c)
    return (rn.multi_dot_sum(arrays, *grown), None, rn.multi_dot_sum_adjoint(h, 0, arrays, *grown),
            *(None if i + 1 == k else rn.multi_dot_sum_adjoint(h, i + 1, arrays, *grown) for i in range(len(subs))))


def _multi_dot_sum_adjoint_forward(ans, dots, h, which, arrays, *subs):
    k = which.const
    dh, da, dsubs = dots[0], dots[2], dots[3:]
    parts = [None if dh is None else rn.multi_dot_sum_adjoint(dh, which, arrays, *subs),
             None if da is None else rn.multi_dot_sum_adjoint(h, which, arrays, *subs, da),
             *(rn.multi_dot_sum_adjoint(h, which, arrays, *_with(subs, i + 1, d))
               for i, d in enumerate(dsubs) if d is not None and i + 1 != k)]
    total = None
    for part in filter(None, parts):  # lists of tangents: added entry by entry
        total = part if total is None else rt.add_bars(total, part)
    return total


defrule(numpy.linalg.multi_dot, "numpy.linalg.multi_dot", lambda g, ans, arrays, **k: (
    rn.multi_dot_sum_adjoint(g, 0, arrays),), diff=(0,), forward=lambda ans, dots, arrays, **k: rn.multi_dot_sum(
    arrays, dots[0]))
defrule(runtime_numpy.multi_dot_sum, "multi_dot_sum", _multi_dot_sum, forward=_multi_dot_sum_forward)
defrule(runtime_numpy.multi_dot_sum_adjoint, "multi_dot_sum_adjoint", _multi_dot_sum_adjoint,
        forward=_multi_dot_sum_adjoint_forward, returns="list")

# ----- norm: every ord, vector and matrix -----

_INF = float("inf")
_MATRIX_ONLY, _EITHER = ("fro", "nuc"), (1, -1, 2, -2, _INF, -_INF)


def _value(s):
    """The value of a constant argument, ``np.inf`` and ``-np.inf`` included (``NotConst`` otherwise)."""
    if s is None:
        return None
    e = s.expr
    if isinstance(e, UnaryOp) and e.op == "-" and isinstance(v := _value(Sym(e.operand)), int | float):
        return -v
    if isinstance(e, Ref) and isinstance(e.value, float):
        return e.value
    if isinstance(e, Tuple):
        items = tuple(_value(Sym(i)) for i in e.items)
        return NotConst if NotConst in items else items
    return s.const


def _norm_form(ord, axis) -> str:
    """"vector", "matrix", or "either" (told by the rank at run time: ``axis=None`` with an ord both have,
    or an ord not known until then)."""
    o, ax = _value(ord), _value(axis)
    if o is NotConst or ax is NotConst:
        return "either"
    if (isinstance(ax, tuple | list) and len(ax) == 2) or o in _MATRIX_ONLY:
        return "matrix"
    if (isinstance(ax, int) and not isinstance(ax, bool)) or (isinstance(ax, tuple | list) and len(ax) == 1):
        return "vector"
    return "either" if o is None or o in _EITHER else "vector"


def _vector_norm(g, ans, x, ord, axis, keepdims):
    """∂‖x‖_p/∂x = sign(x) |x|^(p-1) / ‖x‖^(p-1); ±inf: the entries of largest (smallest) |x|, ties shared."""
    p = 2 if ord is None else _value(ord)
    if p in (_INF, -_INF):
        return rn.max_adjoint(g, np.abs(x), ans, axis, keepdims) * np.sign(x)
    if p == 1:
        return rt.unreduce(g, x.like, axis=axis, keepdims=keepdims) * np.sign(x)
    if p == 2:
        return rn.safe_divide(rt.unreduce(g, x.like, axis=axis, keepdims=keepdims) * x,
                              rt.unreduce(ans, x.like, axis=axis, keepdims=keepdims))
    if not isinstance(p, int | float) or p == 0:
        raise NotImplementedError(f"norm with ord={p!r} is not differentiable")
    scale = rt.unreduce(g * ans ** (1.0 - p), x.like, axis=axis, keepdims=keepdims)
    return scale * np.sign(x) * np.abs(x) ** (p - 1.0)


def _matrix_norm(g, ans, x, ord, axis, keepdims):
    """In the two axes moved last: 'fro' G X / ‖X‖, 'nuc' G U Vᵀ, ±2 G u vᵀ of the largest (smallest) singular
    value, ±1 and ±inf G sign(X) on the column (row) of largest (smallest) absolute sum, ties shared."""
    o = "fro" if ord is None else _value(ord)
    axes = (-2, -1) if axis is None or axis.const is None else axis
    big = np.moveaxis(x, axes, (-2, -1))
    spread = (lambda v: np.moveaxis(v, axes, (-2, -1))) if keepdims is not None and keepdims.const else \
        (lambda v: np.expand_dims(v, (-2, -1)))
    gk, nk = spread(g), spread(ans)
    if o == "fro":
        out = rn.safe_divide(gk * big, nk)
    elif o in ("nuc", 2, -2):
        usv = linalg.svd(big, full_matrices=False)
        u, vh = usv[0], usv[2]
        if o != "nuc":
            k = 0 if o == 2 else -1
            u, vh = np.expand_dims(np.take(u, k, axis=-1), -1), np.expand_dims(np.take(vh, k, axis=-2), -2)
        out = gk * (u @ vh)
    elif o in (1, -1, _INF, -_INF):
        along = -2 if o in (1, -1) else -1  # column sums for ±1, row sums for ±inf
        sums = np.sum(np.abs(big), axis=along, keepdims=True)
        out = rn.max_adjoint(gk, sums, nk, -1 if along == -2 else -2, True) * np.sign(big)
    else:
        raise NotImplementedError(f"a matrix norm with ord={o!r} is not differentiable")
    return np.moveaxis(out, (-2, -1), axes)


def _norm(g, ans, x, ord=None, axis=None, keepdims=None):
    form = _norm_form(ord, axis)
    if form == "either":  # the rank decides at run time
        return (rn.norm_adjoint(g, x, ans, ord or sym(None), axis or sym(None), keepdims or sym(False)),)
    kd = keepdims or sym(False)
    return ((_vector_norm if form == "vector" else _matrix_norm)(g, ans, x, ord, axis, kd),)


def _norm_forward(ans, dots, x, ord=None, axis=None, keepdims=None):
    weights = _norm(np.ones_like(ans), ans, x, ord, axis, keepdims)[0]
    return np.sum(weights * dots[0], axis=axis if axis is not None else None,
                  keepdims=keepdims if keepdims is not None else False)


defrule(numpy.linalg.norm, "numpy.linalg.norm", _norm, diff=(0,), forward=_norm_forward)
