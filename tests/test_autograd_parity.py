"""Library parity with autograd: every function its ``numpy`` and ``scipy`` wrappers differentiate
(``autograd_names.AUTOGRAD``) resolves to a registered rule of s2sad's, so ``test_rules.py`` and
``test_rules_higher.py`` check it at first and second order, in reverse and forward mode.

``NOT_YET`` lists what is not covered, with the reason; the test fails if a name is missing that is
not listed there, and if a listed one has become covered (so the list is kept true).
"""

from __future__ import annotations

import importlib
import operator

import numpy as np
import pytest
from autograd_names import AUTOGRAD

from s2sad import primitives  # noqa: F401  (every rule declared)
from s2sad.rules import ATTRIBUTES, METHODS, lookup

NOT_YET: dict[str, str] = {}

_OPERATORS = {"__add__": operator.add, "__radd__": operator.add, "__sub__": operator.sub, "__rsub__": operator.sub,
              "__mul__": operator.mul, "__rmul__": operator.mul, "__truediv__": operator.truediv,
              "__rtruediv__": operator.truediv, "__pow__": operator.pow, "__rpow__": operator.pow,
              "__mod__": operator.mod, "__rmod__": operator.mod, "__matmul__": operator.matmul,
              "__rmatmul__": operator.matmul, "__neg__": operator.neg, "__abs__": abs,
              "__getitem__": operator.getitem}


def _resolve(name: str) -> object | None:
    """The object a user calls for ``name`` (None: not in the installed NumPy or SciPy)."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p, None)
            if obj is None:
                return None
        return obj
    return None


def covered(name: str) -> bool:
    if name.startswith("ndarray."):
        attr = name.split(".", 1)[1]
        if attr in _OPERATORS:
            return lookup(_OPERATORS[attr]) is not None
        return attr in METHODS or attr in ATTRIBUTES
    obj = _resolve(name)
    return obj is not None and lookup(obj) is not None


@pytest.mark.parametrize("name", AUTOGRAD)
def test_every_function_autograd_differentiates_has_a_rule(name):
    if name == "numpy.msort" and not hasattr(np, "msort"):
        pytest.skip("numpy.msort is gone from NumPy 2")
    if name in NOT_YET:
        assert not covered(name), f"{name} is covered now: take it out of NOT_YET"
        return
    assert covered(name), f"no rule for {name}, which autograd differentiates"
