"""Forward mode (jvp) and Jacobians, against finite differences and reverse mode."""

import cf_corpus as cf
import fn_corpus as fc
import mut_corpus as mc
import numpy as np
import pytest
import test_control_flow
import test_numeric

import s2sad
from s2sad.testing import check_grads

NO_FORWARD: set = set()
CASES = [(f, a) for f, a in test_numeric.CASES + test_control_flow.CASES
         + [(fc.uses_helpers, (0.7, -0.4)), (fc.uses_keywords, (0.7, 1.3)), (fc.power, (1.3, 5)),
            (fc.ping, (0.4, 6)), (fc.area, (0.2, 1.5)), (fc.make_loss(2.5), (0.3,)), (fc.nested_capture, (0.8,)),
            (fc.lambda_local, (0.8,)), (fc.area_closure, (1.7,)), (fc.use_global_method, (0.6,)), (fc.uses_apply, (0.6,)),
            (fc.helper_in_loop, (0.6,)), (mc.fill_fresh, (0.7,)), (mc.fill_in_loop, (0.4, 0.9)),
            (mc.duplicate_add, (np.arange(4.0), np.ones(3))), (mc.list_append, (0.3,)), (mc.dict_write, (0.6,))]
         if f.__name__ not in NO_FORWARD]


@pytest.mark.parametrize("fn, args", CASES, ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)])
def test_jvp_matches_finite_differences(fn, args):
    check_grads(fn, args, modes=("fwd",))


def test_jvp_through_a_loop_with_break():
    out, tangent = s2sad.jvp(cf.newton_sqrt, (2.0,), (1.0,))
    assert abs(out - 2.0 ** 0.5) < 1e-12 and abs(tangent - 0.5 / 2.0 ** 0.5) < 1e-12


def r3_loop(x):
    y = x * 1.0
    for i in range(3):
        y = np.sin(y) * x[::-1] + x[0]
    return y


def test_jacfwd_and_jacrev_agree_on_a_loop():
    x = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(s2sad.jacfwd(r3_loop)(x), s2sad.jacrev(r3_loop)(x), rtol=1e-12, atol=1e-12)


def test_forward_mode_transforms_the_source_of_a_function_with_only_a_reverse_rule():
    import test_custom

    check_grads(test_custom.uses_softplus, (np.ones(2) * 0.3, 0.5), modes=("fwd",))


def real_of_complex(x):
    return np.real(np.exp(1j * x)) + np.real(np.conj(np.exp(2j * x)))


def test_the_tangent_of_a_real_part_is_real():
    out, tangent = s2sad.jvp(real_of_complex, (0.3,), (1.0,))
    assert np.isrealobj(tangent)
    np.testing.assert_allclose(tangent, -np.sin(0.3) - 2.0 * np.sin(0.6), rtol=1e-12)
