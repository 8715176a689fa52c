"""Soundness of calls, closures, forward mode and printing: each derivative is exact or refused."""

import importlib.util

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

# expressions whose printing needs parentheses (or must not gain any): each is lowered, differentiated
# and printed back, and must evaluate as Python evaluates it
TRICKY = [
    "x * (-1.5) ** 2", "(-x) ** 2", "-(x ** 2)", "-x ** 2", "2.0 ** -x", "x ** -2.0", "(-0.5 * x) ** 3",
    "x - (y - x)", "(x - y) - (x - y)", "x / (y * x)", "x / y / x", "(x * y) ** 2", "x ** y ** 0.5",
    "(x ** y) ** 0.5", "-x * -y", "(-2.0) * x", "x - -y", "-(-x)", "abs(-x) ** 2", "(-x) ** 3 * (-y) ** 2",
    "x if x > y else -y", "np.sin(x if x > 0 else -x) ** 2", "(lambda t: t * x)(y) ** 2",
    "x * (1.0 if 0.0 < x < y else -1.0)", "(x + y) * (x - y)", "(-1.5) ** 2 * y", "x * -1.5 ** 2",
    "(-1.5) ** 3 * x", "x * (-3) ** 2", "-(x * y) ** 2 - (-(x - y)) ** 3",
]


@pytest.fixture(scope="module")
def tricky(tmp_path_factory):
    path = tmp_path_factory.mktemp("printer") / "tricky_exprs.py"
    path.write_text("import numpy as np\n\n" + "".join(
        f"def f{i}(x, y):\n    return {e}\n\n" for i, e in enumerate(TRICKY)))
    spec = importlib.util.spec_from_file_location("tricky_exprs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("i", range(len(TRICKY)), ids=TRICKY)
def test_printed_expressions_evaluate_as_written(tricky, i):
    f = getattr(tricky, f"f{i}")
    args = (0.7, 1.3)
    value, _ = s2sad.value_and_grad(f, argnums=(0, 1))(*args)
    assert value == f(*args)
    assert s2sad.jvp(f, args, (1.0, 0.0))[0] == f(*args)
    check_grads(f, args, modes=("rev", "fwd"))
