"""Second order for the library rules: every case's gradient, differentiated again in reverse
mode (reverse over reverse) and in forward mode (forward over reverse, as ``hessian`` does),
against finite differences of the gradient."""

from __future__ import annotations

import math

import library_cases
import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("name", sorted(library_cases.CASES))
def test_second_order_matches_finite_differences(name):
    for fn, args, *options in library_cases.CASES[name]:
        options = options[0] if options else {}
        argnums = tuple(i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f")
        check_grads(s2sad.grad(fn, argnums=argnums), args, argnums=argnums, modes=("rev", "fwd"),
                    **{"rtol": 1e-4, "atol": 1e-6, **options})


def t_cdf(x, df):
    return np.sum(stats.t.cdf(x, df))


def t_cdf_by_keyword(x):
    return np.sum(stats.t.logsf(x, df=3.0))


def test_a_constant_shape_parameter_by_keyword():
    check_grads(t_cdf_by_keyword, (np.array([0.3, -0.4]),), modes=("rev", "fwd"))
    check_grads(s2sad.grad(t_cdf_by_keyword), (np.array([0.3, -0.4]),), modes=("rev", "fwd"))


def test_a_shape_parameter_of_a_cdf_is_refused_at_its_line():
    with pytest.raises(s2sad.NoDerivativeRuleError, match=r"does not differentiate its argument 'df'.*test_library_rules"):
        s2sad.grad(t_cdf, argnums=(0, 1))(np.ones(3), 3.0)
    np.testing.assert_allclose(s2sad.grad(t_cdf)(np.ones(3), 3.0), stats.t.pdf(np.ones(3), 3.0))


def norm_by_keyword(x, m, s):
    return np.sum(stats.norm.logpdf(x, scale=s, loc=m))


def test_loc_and_scale_by_keyword_are_differentiated():
    x, m, s = np.array([0.1, 0.5]), 0.2, 1.5
    _, dm, ds = s2sad.grad(norm_by_keyword, argnums=(0, 1, 2))(x, m, s)
    z = (x - m) / s
    np.testing.assert_allclose(dm, np.sum(z / s))
    np.testing.assert_allclose(ds, np.sum(z * z / s - 1.0 / s))


def test_dirichlet_with_k_minus_1_components_is_refused_for_x():
    with pytest.raises(ValueError, match="needs all k components"):
        s2sad.grad(lambda x: stats.dirichlet.logpdf(x, np.array([1.5, 2.0, 3.0])))(np.array([0.2, 0.3]))


# ----- a result that may be a tuple: its cotangent adds entry by entry, never by `+` (concatenation) -----

def pair(x):
    return x * 2.0, x * 3.0


def reads_both_items_of_a_call(x):
    r = pair(x)
    return r[0] * r[1]


def reads_both_pieces_of_a_split(x):
    p = np.split(x, 2)
    return np.sum(p[0] * p[1])


def reads_slogdet_twice(a):
    s = np.linalg.slogdet(a)
    return s[1] * 2.0 + s[1] * s[0]


def dist_twice(p, q):
    return math.dist(p, q) ** 2 + math.dist(p, (0.0, 1.0))


def test_a_tuple_argument_with_two_array_adjoint_contributions():
    g = s2sad.grad(dist_twice, argnums=(0, 1))((0.3, 1.2), (-0.5, 0.4))
    assert len(g[0]) == 2
    check_grads(dist_twice, ((0.3, 1.2), (-0.5, 0.4)), modes=("rev", "fwd"))
    check_grads(s2sad.grad(dist_twice, argnums=(0, 1)), ((0.3, 1.2), (-0.5, 0.4)), modes=("rev", "fwd"))


@pytest.mark.parametrize("fn, arg", [(reads_both_items_of_a_call, 1.5), (reads_both_pieces_of_a_split, np.arange(4.0)),
                                     (reads_slogdet_twice, np.eye(2) * 2.0 + 0.1)])
def test_items_of_a_tuple_result_read_twice(fn, arg):
    check_grads(fn, (arg,), modes=("rev", "fwd"))


def test_eigenvalues_of_a_degenerate_spectrum_have_a_finite_derivative():
    def top(a):
        w, v = np.linalg.eigh(a)
        return w[-1] * 2.0

    np.testing.assert_allclose(s2sad.grad(top)(np.eye(3)), np.diag([0.0, 0.0, 2.0]), atol=1e-12)


def svd_of_wide(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(vh ** 3)


def eig_of_rotation(a):
    w, v = np.linalg.eig(a)
    return np.sum(w)


def test_factors_without_a_derivative_are_refused_when_the_derivative_runs():
    with pytest.raises(ValueError, match=r"svd with full_matrices=True only for a square matrix"):
        s2sad.grad(svd_of_wide)(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="real eigenvalues"):
        s2sad.grad(eig_of_rotation)(np.array([[0.0, -1.0], [1.0, 0.0]]))


def norms_without_axis(v, m):
    la = np.linalg
    return la.norm(v, np.inf) + la.norm(v, -1) ** 2 + la.norm(m, 2) + la.norm(m, -np.inf) * la.norm(m, 1)


def test_norms_told_apart_by_rank_at_run_time():
    v, m = np.array([0.3, -1.2, 0.7]), np.array([[1.0, -2.0, 0.3], [0.4, 0.2, -0.9]])
    check_grads(norms_without_axis, (v, m), argnums=(0, 1), modes=("rev", "fwd"))


def norms_by_ord_value(x, ords):
    total = 0.0
    for o in ords:
        total = total + np.linalg.norm(x, o)
    return total


def test_norms_with_an_ord_known_at_run_time():
    check_grads(norms_by_ord_value, (np.array([0.3, -1.2, 0.7]), [1, 2, np.inf, -np.inf, 3, 4]), argnums=(0,),
                modes=("rev", "fwd"))
    m = np.array([[1.0, -2.0, 0.3], [0.4, 0.2, -0.9]])
    check_grads(norms_by_ord_value, (m, [1, -1, 2, -2, np.inf, -np.inf, "fro", "nuc"]), argnums=(0,),
                modes=("rev", "fwd"))
