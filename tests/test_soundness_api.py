"""Soundness at the API: results never alias the caller's memory, shapes and structures are
checked, the running code is what is differentiated, caches die with their functions, and the
checks in ``s2sad.testing`` fail under ``python -O`` too."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import s2sad
from s2sad.testing import check_grads

FAILING_CHECKS = textwrap.dedent("""
    import numpy as np
    import s2sad
    from s2sad.testing import check_frule, check_grads, check_rrule

    def cube(x):
        return x * x * x

    @s2sad.rrule(cube)
    def cube_rrule(x):
        return cube(x), lambda g: (g * 2.0 * x,)  # wrong: 3 x**2

    @s2sad.frule(cube)
    def cube_frule(primals, tangents):
        return cube(primals[0]), tangents[0] * 2.0 * primals[0]

    def uses_cube(x):
        return np.sum(cube(x))

    failed = []
    for name, check in [("check_grads", lambda: check_grads(uses_cube, (np.array([0.5, 1.5]),))),
                        ("check_rrule", lambda: check_rrule(cube, np.array([0.5, 1.5]))),
                        ("check_frule", lambda: check_frule(cube, np.array([0.5, 1.5])))]:
        try:
            check()
        except AssertionError:
            failed.append(name)
    print(" ".join(failed))
""")


def test_checks_fail_under_python_O(tmp_path):
    script = tmp_path / "failing_checks.py"
    script.write_text(FAILING_CHECKS)
    result = subprocess.run([sys.executable, "-O", str(script)], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["check_grads", "check_rrule", "check_frule"]
