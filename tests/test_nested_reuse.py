"""Forward over forward through closures of one code: each derivative reads its own closure's function."""

import gc

import numpy as np
import scipy.special as sp

import s2sad
from s2sad.cache import get_cache
from s2sad.nested import jvp_caller
from s2sad.testing import check_grads


def _case(fn):
    return lambda x, y: np.sum(fn(x, y))


def _first(f, t):
    return lambda a, b: s2sad.jvp(f, (a, b), t)[1]


def test_a_function_calling_a_handle_has_a_transform_of_its_own():
    # two callers of s2sad.jvp generated for closures of one code have equal code objects: a transform
    # shared by that code and keyed by the identity of the handle each calls would serve a later handle,
    # made at a dead one's address, the derivative made for another function
    first, second = jvp_caller(_case(sp.xlogy), 2), jvp_caller(_case(sp.xlog1py), 2)
    assert first.__code__ == second.__code__
    assert get_cache(first, ("primals",), strict=False, mode="forward").shared is None


def test_forward_over_forward_of_closures_of_one_code_made_one_after_another():
    x, y = np.array([0.5, -1.0, 1.2]), np.array([0.7, 1.5, 0.4])
    t = (np.array([0.3, -0.2, 0.9]), np.array([-0.4, 0.8, 0.1]))
    for _ in range(6):  # each closure's handles die before the next are made (their addresses reused)
        for fn in (sp.xlog1py, sp.xlogy, np.hypot, np.arctan2):
            check_grads(_first(_case(fn), t), (x, y), directions=1, modes=("fwd",), eps=1e-5, rtol=1e-4, atol=1e-6)
            gc.collect()
