"""Numerical differentiation and its error analysis.

Finite differences approximate f'(x) from values of f, so they work on any function, and
they are what s2sad's own tests (``s2sad.testing.check_grads``) compare the generated
derivatives against. Their error has two parts: the truncation error of the formula, which
shrinks with the step h (O(h) for the forward difference, O(h²) for the central one), and the
rounding error of subtracting two nearly equal values of f, which grows as ε|f|/h. The best
step balances the two; ``optimal_step_forward`` and ``optimal_step_central`` give it when
the higher derivative is known, ``practical_step`` when it is not.

- ``forward_difference``, ``backward_difference``, ``central_difference``;
- ``stencil(offsets, k)``: the weights of any stencil for the k-th derivative, from the
  Vandermonde system, exactly (in rationals); ``derivative`` uses them at any order;
- ``richardson``: extrapolating a sequence of estimates to h → 0;
- ``complex_step``: Im f(x + ih)/h, exact to rounding for functions that accept complex input;
- ``gradient``, ``jacobian`` and ``hessian`` of functions of pytrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .pytree import map_leaves

__all__ = ["EPS", "forward_difference", "backward_difference", "central_difference", "stencil", "stencil_offsets",
           "derivative", "optimal_step_forward", "optimal_step_central", "practical_step", "forward_error",
           "central_error", "richardson", "complex_step", "gradient", "jacobian", "hessian"]

EPS = float(np.finfo(np.float64).eps)
"""Machine epsilon of float64, 2.2e-16: the relative rounding error ε of the formulas."""


def forward_difference(f: Callable, x: Any, h: float | None = None) -> Any:
    """(f(x + h) − f(x)) / h, error O(h); ``h`` defaults to √ε·max(1, |x|).

    >>> import math
    >>> from s2sad.numeric import forward_difference
    >>> round(forward_difference(math.sin, math.pi / 3, 1e-8), 6)
    0.5
    """
    h = _default_step(x, 2) if h is None else h
    return (f(x + h) - f(x)) / h


def backward_difference(f: Callable, x: Any, h: float | None = None) -> Any:
    """(f(x) − f(x − h)) / h, error O(h); ``h`` defaults to √ε·max(1, |x|)."""
    h = _default_step(x, 2) if h is None else h
    return (f(x) - f(x - h)) / h


def central_difference(f: Callable, x: Any, h: float | None = None) -> Any:
    """(f(x + h) − f(x − h)) / 2h, error O(h²); ``h`` defaults to ∛ε·max(1, |x|)."""
    h = _default_step(x, 3) if h is None else h
    return (f(x + h) - f(x - h)) / (2 * h)


def _default_step(x: Any, power: int) -> Any:
    """ε^(1/power) scaled by |x| where |x| > 1: where rounding and truncation errors meet for
    derivatives of moderate size."""
    return EPS ** (1.0 / power) * np.maximum(1.0, np.abs(x))


def stencil(offsets: Sequence[float], k: int = 1) -> np.ndarray:
    """Weights w with f⁽ᵏ⁾(x) ≈ Σᵢ wᵢ f(x + oᵢh) / hᵏ for the ``offsets`` oᵢ.

    They solve the Vandermonde system Σᵢ wᵢ oᵢʲ = k!·[j = k] for j = 0 … n−1 (the Taylor
    terms of order below n other than the k-th cancel), solved exactly in rationals. With n
    points the error is O(h^(n−k)) (one order more for a symmetric stencil and even n − k).

    >>> from s2sad.numeric import stencil
    >>> stencil([-2, -1, 0, 1, 2])          # the 4th-order central first derivative
    array([ 0.08333333, -0.66666667,  0.        ,  0.66666667, -0.08333333])
    >>> stencil([-1, 0, 1], k=2)
    array([ 1., -2.,  1.])
    """
    points = [Fraction(o) for o in offsets]
    n = len(points)
    if len(set(points)) != n or not 0 <= k < n:
        raise ValueError(f"a stencil for derivative {k} needs more than {k} distinct offsets, got {list(offsets)}")
    rows = [[p**j for p in points] + [Fraction(math.factorial(k) if j == k else 0)] for j in range(n)]
    return np.array([float(w) for w in _solve_exact(rows)])


def _solve_exact(rows: list[list[Fraction]]) -> list[Fraction]:
    """The solution of the augmented system ``rows`` by Gauss-Jordan elimination in rationals."""
    n = len(rows)
    for col in range(n):
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def stencil_offsets(k: int = 1, order: int = 2, kind: str = "central") -> list[int]:
    """The fewest offsets whose stencil gives the k-th derivative with error O(h^order):
    symmetric ones (``order`` even) for ``"central"``, 0, 1, 2, … for ``"forward"``,
    0, −1, −2, … for ``"backward"``."""
    if kind == "central":
        if order % 2:
            raise ValueError(f"a central stencil has an even order, got {order}")
        m = (k + 1) // 2 - 1 + order // 2
        return list(range(-m, m + 1))
    if kind in ("forward", "backward"):
        sign = 1 if kind == "forward" else -1
        return [sign * i for i in range(k + order)]
    raise ValueError(f"kind is 'central', 'forward' or 'backward', got {kind!r}")


def derivative(f: Callable, x: Any, k: int = 1, order: int = 2, h: float | None = None,
               kind: str = "central") -> Any:
    """The k-th derivative of ``f`` at ``x`` by the stencil of ``stencil_offsets(k, order, kind)``,
    error O(h^order); ``h`` defaults to ε^(1/(order + k))·max(1, |x|).

    >>> import math
    >>> from s2sad.numeric import derivative
    >>> round(float(derivative(math.sin, math.pi / 3, order=4)), 12)
    0.5
    """
    offsets = stencil_offsets(k, order, kind)
    weights = stencil(offsets, k)
    h = _default_step(x, order + k) if h is None else h
    return sum(w * f(x + o * h) for o, w in zip(offsets, weights) if w != 0) / h**k


def optimal_step_forward(fx: float, f2: float, eps: float = EPS) -> float:
    """The step minimising ``forward_error``: h* = 2√(ε|f|/|f''|)."""
    return 2.0 * math.sqrt(eps * abs(fx) / abs(f2))


def optimal_step_central(fx: float, f3: float, eps: float = EPS) -> float:
    """The step minimising ``central_error``: h* = (3ε|f|/|f'''|)^(1/3)."""
    return (3.0 * eps * abs(fx) / abs(f3)) ** (1.0 / 3.0)


def practical_step(fx: float, n: int = 2, eps: float = EPS) -> float:
    """The seed's rule when the higher derivative is unknown, for a stencil of ``n`` points:
    h = ((n+1)! ε / (√n |f(x)|))^(1/(n+1)). It is the optimum of the error of an n-point
    stencil, √n·ε/h + |f⁽ⁿ⁺¹⁾|hⁿ/(n+1)!, with |f(x)| standing in for |f⁽ⁿ⁺¹⁾(x)|."""
    return (math.factorial(n + 1) * eps / (math.sqrt(n) * abs(fx))) ** (1.0 / (n + 1))


def forward_error(h: Any, fx: float, f2: float, eps: float = EPS) -> Any:
    """The predicted error of the forward difference: rounding 2ε|f|/h plus truncation |f''|h/2."""
    return 2.0 * eps * abs(fx) / h + abs(f2) * h / 2.0


def central_error(h: Any, fx: float, f3: float, eps: float = EPS) -> Any:
    """The predicted error of the central difference: rounding ε|f|/h plus truncation |f'''|h²/6."""
    return eps * abs(fx) / h + abs(f3) * h**2 / 6.0


def richardson(estimate: Callable[[float], Any], h: float, order: int = 2, levels: int = 2, ratio: float = 2.0,
               step: int = 2) -> Any:
    """Richardson extrapolation of ``estimate(h)``, whose error is c₁h^order + c₂h^(order+step) + …,
    from its values at h, h/ratio, …, h/ratio^levels: each level cancels the leading error term
    (``step`` is 2 for central differences, 1 for one-sided ones).

    >>> import math
    >>> from s2sad.numeric import central_difference, richardson
    >>> central_difference(math.exp, 0.0, 0.1) - 1.0            # error h²/6
    0.0016675001984409743
    >>> richardson(lambda h: central_difference(math.exp, 0.0, h), 0.1, order=2, levels=3) - 1.0
    8.881784197001252e-16
    """
    table = [estimate(h / ratio**i) for i in range(levels + 1)]
    for j in range(1, levels + 1):
        factor = ratio ** (order + (j - 1) * step) - 1.0
        table = [table[i] + (table[i] - table[i - 1]) / factor for i in range(1, len(table))]
    return table[-1]


def complex_step(f: Callable, x: Any, h: float = 1e-20) -> Any:
    """Im f(x + ih) / h: the derivative of a real-analytic ``f`` that accepts complex input,
    with no subtraction and so no rounding error (h can be tiny). ``abs`` and comparisons
    break it; ``np.abs`` of a complex value is not analytic.

    >>> import numpy as np
    >>> from s2sad.numeric import complex_step
    >>> float(complex_step(np.sin, np.pi / 3) - np.cos(np.pi / 3))
    0.0
    """
    return np.imag(f(x + 1j * h)) / h


_METHODS = {"central": (central_difference, 3), "forward": (forward_difference, 2),
            "backward": (backward_difference, 2), "complex": (complex_step, None)}


def _ravel(x: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """``x``'s leaves as one float64 vector, and the function from such a vector (real or
    complex) back to a pytree of ``x``'s structure (a Python number where ``x`` has a scalar)."""
    flat = [np.ravel(np.asarray(leaf, dtype=np.float64)) for leaf in _leaves(x)]
    vec = np.concatenate(flat) if flat else np.zeros(0)

    def unravel(v: np.ndarray) -> Any:
        it = iter(np.split(v, np.cumsum([len(a) for a in flat])[:-1]))
        return map_leaves(lambda leaf: _piece(next(it), leaf), x)

    return vec, unravel


def _leaves(x: Any) -> list:
    """The leaves of ``x`` in the order ``map_leaves`` visits them (dicts in insertion order)."""
    found: list = []
    map_leaves(found.append, x)
    return found


def _piece(chunk: np.ndarray, leaf: Any) -> Any:
    return chunk.reshape(np.shape(leaf)) if isinstance(leaf, np.ndarray) else chunk[0].item()


def _columns(f: Callable, x: Any, method: str, h: float | None) -> tuple[np.ndarray, tuple[int, ...]]:
    """The Jacobian of ``f`` at ``x`` as an (outputs, inputs) matrix, and ``f``'s output shape."""
    if method not in _METHODS:
        raise ValueError(f"method is one of {sorted(_METHODS)}, got {method!r}")
    scheme, power = _METHODS[method]
    vec, unravel = _ravel(x)
    cols = []
    for i in range(len(vec)):
        basis = np.zeros(len(vec))
        basis[i] = 1.0
        step = h if h is not None else EPS ** (1.0 / power) * max(1.0, abs(vec[i])) if power else 1e-20
        cols.append(np.ravel(scheme(_along(f, vec, basis, unravel), 0.0, step)))
    shape = np.shape(f(x))
    return (np.stack(cols, axis=1) if cols else np.zeros((math.prod(shape), 0))), shape


def _along(f: Callable, vec: np.ndarray, direction: np.ndarray, unravel: Callable) -> Callable:
    """t ↦ f(x + t·direction), with ``f``'s output as a float (or complex) array."""
    return lambda t: np.asarray(f(unravel(vec + t * direction)))


def _blocks(matrix: np.ndarray, out_shape: tuple[int, ...], x: Any) -> Any:
    """``matrix``'s columns split by ``x``'s leaves: a pytree like ``x`` of arrays of shape
    ``out_shape + leaf shape`` (a float where both are scalars)."""
    sizes = [int(np.size(leaf)) for leaf in _leaves(x)]
    it = iter(np.split(matrix, np.cumsum(sizes)[:-1], axis=1))

    def block(leaf: Any) -> Any:
        b = next(it).reshape(out_shape + np.shape(leaf))
        return float(b) if b.ndim == 0 and not isinstance(leaf, np.ndarray) else b

    return map_leaves(block, x)


def gradient(f: Callable, x: Any, method: str = "central", h: float | None = None) -> Any:
    """The gradient of a scalar-valued ``f`` at ``x`` (a float, an array or a pytree of them),
    one coordinate at a time: 2 evaluations of ``f`` per coordinate (``"central"``), 2
    (``"forward"``, ``"backward"``: one could be shared) or 1 (``"complex"``). Leaves come
    back in float64 (floats as floats). ``h`` defaults to the method's ε^(1/2) or ε^(1/3)
    scaled by each coordinate's magnitude.

    >>> import numpy as np
    >>> from s2sad.numeric import gradient
    >>> g = gradient(lambda p: p["a"] ** 2 * p["b"], {"a": 1.0, "b": 3.0})
    >>> round(g["a"], 6), round(g["b"], 6)
    (6.0, 1.0)
    """
    matrix, shape = _columns(f, x, method, h)
    if shape != ():
        raise TypeError(f"gradient needs a scalar-valued function, got output shape {shape}")
    return _blocks(matrix, (), x)


def jacobian(f: Callable, x: Any, method: str = "central", h: float | None = None) -> Any:
    """The Jacobian of an array-valued ``f`` at ``x``: for each leaf of ``x`` an array of shape
    ``f(x).shape + leaf.shape`` (as ``s2sad.jacobian``), in ``x``'s structure.

    >>> import numpy as np
    >>> from s2sad.numeric import jacobian
    >>> np.round(jacobian(lambda v: v[::-1] * 2.0, np.ones(2)), 6)
    array([[0., 2.],
           [2., 0.]])
    """
    matrix, shape = _columns(f, x, method, h)
    return _blocks(matrix, shape, x)


def hessian(f: Callable, x: Any, h: float | None = None) -> Any:
    """The Hessian of a scalar-valued ``f`` at ``x`` by second central differences, with
    steps ε^(1/4)·max(1, |xᵢ|) by default (error O(h²) + O(ε/h²)). For a pytree ``x``, a
    pytree of pytrees (as JAX's ``hessian``): ``H[a][b]`` has shape ``a.shape + b.shape``.

    >>> import numpy as np
    >>> from s2sad.numeric import hessian
    >>> np.round(hessian(lambda v: v[0] ** 2 * v[1], np.array([1.0, 2.0])), 5)
    array([[4., 2.],
           [2., 0.]])
    """
    vec, unravel = _ravel(x)
    n = len(vec)
    steps = np.full(n, h) if h is not None else EPS**0.25 * np.maximum(1.0, np.abs(vec))
    basis = np.diag(steps)

    def at(*moves: np.ndarray) -> float:
        return float(f(unravel(vec + sum(moves))))

    matrix = np.empty((n, n))
    center = at(np.zeros(n))
    for i in range(n):
        ei = basis[i]
        matrix[i, i] = (at(ei) - 2.0 * center + at(-ei)) / steps[i] ** 2
        for j in range(i):
            ej = basis[j]
            matrix[i, j] = matrix[j, i] = (at(ei, ej) - at(ei, -ej) - at(-ei, ej) + at(-ei, -ej)) / (
                4.0 * steps[i] * steps[j])
    sizes = [int(np.size(leaf)) for leaf in _leaves(x)]
    row_blocks = iter(np.split(matrix, np.cumsum(sizes)[:-1], axis=0))
    return map_leaves(lambda leaf: _blocks(next(row_blocks), np.shape(leaf), x), x)
