"""Function values that captured constants, differentiated to second order."""

import numpy as np

import s2sad
from s2sad.numeric import hessian as numeric_hessian


def _make():
    A = np.array([[1.0, 0.5], [0.2, 2.0]])
    return lambda y: A @ y * y


rhs = _make()  # a module-level closure over a constant matrix


def phi(y):
    return np.sum(rhs(y) ** 2)


def test_the_hessian_through_a_closure_over_a_constant_array():
    """A capture the caller gives no tangent (a constant matrix) has a zero of its shape, not a scalar
    zero that a matrix product's adjoint cannot take."""
    y = np.array([0.3, -0.7])
    np.testing.assert_allclose(s2sad.hessian(phi)(y), numeric_hessian(phi, y), rtol=1e-6, atol=1e-8)
