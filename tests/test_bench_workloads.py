"""The benchmark workloads: s2sad's gradients equal the hand-written ones (no timing here)."""

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "bench"))

from workloads import all_workloads

import s2sad

CASES = all_workloads()


@pytest.mark.parametrize("name, fn, hand, args, argnums", CASES, ids=[c[0].split()[0] for c in CASES])
def test_gradient_matches_the_hand_written_one(name, fn, hand, args, argnums):
    ours, theirs = s2sad.grad(fn, argnums=argnums)(*args), hand(*args)
    ours, theirs = s2sad.tree_leaves(ours), s2sad.tree_leaves(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
