"""Function values (closures over constants, ufuncs passed as values) differentiated to second order."""

import numpy as np
import pytest

import s2sad
from s2sad.numeric import hessian as numeric_hessian
from s2sad.testing import check_grads


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


def layer(x, w, nonlinearity=np.tanh):
    return nonlinearity(x @ w)


def mlp_loss(x, w):
    return np.sum(layer(layer(x, w), w, nonlinearity=np.sin) ** 2)


def local_ufunc(x):
    act = np.tanh if np.sum(x) > 0 else np.sin
    return np.sum(act(x) * x) + np.sum(np.maximum(x, 0.1) * act(x * 2.0))


W = np.array([[0.3, -0.2], [0.5, 0.4]])


@pytest.mark.parametrize("f, args", [(mlp_loss, (np.array([0.2, -0.4]), W)), (local_ufunc, (np.array([0.3, 0.9]),))],
                         ids=["passed_in", "local"])
def test_second_derivatives_through_a_ufunc_called_as_a_value(f, args):
    """``nonlinearity=np.tanh``: the derivative code calls the ufunc's vjp through a variable; that vjp is
    differentiated again as the generated vjp of a function calling the ufunc."""
    check_grads(s2sad.grad(f), args, modes=("rev", "fwd"))
    x = args[0]
    np.testing.assert_allclose(s2sad.hessian(f)(*args), numeric_hessian(lambda v: f(v, *args[1:]), x),
                               rtol=1e-5, atol=1e-7)
