"""The realistic programs of ``realistic_corpus`` differentiated end to end: each against finite
differences in reverse and forward mode, and on most a Hessian-vector product (forward over reverse)."""

import numpy as np
import pytest
import realistic_corpus as rc

import s2sad
from s2sad.testing import check_grads

IDS = [name for name, *_ in rc.PROGRAMS]


@pytest.mark.parametrize("name, f, make, argnums, second", rc.PROGRAMS, ids=IDS)
def test_against_finite_differences(name, f, make, argnums, second):
    check_grads(f, make(), argnums=argnums, modes=("rev", "fwd"), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name, f, make, argnums, second", [p for p in rc.PROGRAMS if p[4]],
                         ids=[p[0] for p in rc.PROGRAMS if p[4]])
def test_hessian_vector_product(name, f, make, argnums, second):
    """The jvp of the gradient (forward over reverse) against finite differences of the gradient."""
    args = make()
    check_grads(s2sad.grad(f, argnums=argnums[0]), args, argnums=(argnums[0],), modes=("fwd",),
                rtol=1e-4, atol=1e-6, directions=1)


def test_gradients_have_their_arguments_structure():
    params, x, eps = rc.make_vae()
    g = s2sad.grad(rc.vae_loss)(params, x, eps)
    assert type(g) is rc.VAEParams and type(g.enc_mu) is rc.Dense
    model = rc.make_kalman()[0]
    gm = s2sad.grad(rc.kalman_log_likelihood)(*rc.make_kalman())
    assert type(gm) is rc.LinearGaussian and gm.name == model.name
    layers = rc.make_mlp()[0]
    gl = s2sad.grad(rc.mlp_loss)(*rc.make_mlp())
    assert isinstance(gl, list) and all(isinstance(p, tuple) and len(p) == 2 for p in gl) and len(gl) == len(layers)


def test_the_finally_block_runs_in_the_derivative():
    rc.TIMINGS.clear()
    s2sad.grad(rc.robust_regression_loss)(*rc.make_robust())
    assert rc.TIMINGS == ["start", "end"]


def test_black_scholes_greeks_match_the_closed_form():
    from scipy import stats

    S, sigma, r, strikes = rc.make_black_scholes()
    delta, vega, rho = s2sad.grad(rc.book_value, argnums=(0, 1, 2))(S, sigma, r, strikes)
    T = 0.5
    d1 = [(np.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * np.sqrt(T)) for K in strikes]
    assert delta == pytest.approx(sum(stats.norm.cdf(d) for d in d1))
    assert vega == pytest.approx(sum(S * stats.norm.pdf(d) * np.sqrt(T) for d in d1))
    assert rho == pytest.approx(sum(K * T * np.exp(-r * T) * stats.norm.cdf(d - sigma * np.sqrt(T))
                                    for K, d in zip(strikes, d1)))
