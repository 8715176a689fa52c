"""The differential fuzzer (``s2sad.fuzz``): a budgeted run, and that its oracle, kink
detector, shrinker and generator do what they claim."""

from __future__ import annotations

import dataclasses
import textwrap
from collections import Counter

import numpy as np
import pytest

from s2sad.fuzz import Program, Runner, generate, shrink
from s2sad.fuzz.cli import main
from s2sad.fuzz.domains import callees
from s2sad.fuzz.generate import run_plain
from s2sad.rules import RULES
from s2sad.rules import np as symbolic_np


def program(source: str, *args) -> Program:
    return Program(0, 0, "import math\n\nimport numpy as np\n\n\n" + textwrap.dedent(source), args)


@pytest.fixture(scope="module")
def runner():
    with Runner(timeout=60) as r:
        yield r


@pytest.fixture
def wrong_sin(monkeypatch):
    """numpy.sin's rule made wrong on purpose: its derivative is +sin instead of cos."""
    rule = RULES[np.sin]
    wrong = dataclasses.replace(rule, reverse=lambda g, ans, x: (g * symbolic_np.sin(x),))
    monkeypatch.setitem(RULES, np.sin, wrong)


def test_a_budgeted_run_finds_no_wrong_derivative_and_no_crash(runner):
    outcomes = Counter(runner.run(generate(0, i)).outcome for i in range(150))
    failing = "; reproduce with python -m s2sad.fuzz --seed 0 --count 150 --shrink"
    assert outcomes["mismatch"] == outcomes["crash"] == outcomes["timeout"] == 0, f"{dict(outcomes)}{failing}"
    # a false refusal (supported code refused with a documented error) is no wrong answer, but supported
    # code must run: this run has none
    assert outcomes["false_refusal"] == 0, f"{dict(outcomes)}{failing}"


def test_the_oracle_reports_a_wrong_rule_as_a_mismatch(runner, wrong_sin):
    report = runner.run(program("""
        def f(x, y):
            return np.sum(np.sin(x) * y)
        """, np.array([0.3, -0.7, 1.1]), 0.5), higher_order=False)
    assert report.outcome == "mismatch"
    assert {f.mode for f in report.findings if f.outcome == "mismatch"} >= {"vjp", "grad", "jvp"}


def test_a_kink_at_the_point_is_a_kink_not_a_mismatch(runner):
    # abs at 1e-7: within a finite-difference step of its kink, where the two steps disagree
    report = runner.run(program("""
        def f(x):
            return abs(x) * 2.0
        """, 1e-7), higher_order=False)
    assert report.outcome == "kink"
    assert runner.run(program("""
        def f(x):
            return abs(x) * 2.0
        """, 0.5)).outcome == "pass"


def test_a_kink_exactly_at_the_point_is_a_kink_not_a_mismatch(runner, wrong_sin):
    # --seed 271828 --index 8648: np.clip at its bound, where central differences agree at every step
    # (the mean of the two one-sided slopes) and the derivative takes one side
    clipped = program("""
        def f(x):
            return np.sum(np.clip(x, -0.5, 0.8) * x)
        """, np.array([-0.5, 0.3]))
    assert runner.run(clipped, higher_order=False).outcome == "kink"
    smooth = program("""
        def f(x):
            return np.sum(np.sin(x) * x * x)
        """, np.array([-0.5, 0.3]))
    assert runner.run(smooth, higher_order=False).outcome == "mismatch"  # (a wrong rule: no jump explains it)


def test_a_documented_refusal_is_told_from_a_false_one(runner):
    source = """
        def f(x):
            y = np.zeros((2, 2)) + x
            r = y[0]
            r[1] = x * 3.0
            return np.sum(y)
        """
    refused = program(source, 0.5)
    refused.tags["view_write"] += 1
    assert runner.run(refused).outcome == "refused"
    assert runner.run(program(source, 0.5)).outcome == "false_refusal"  # untagged: nothing explains it


def test_the_shrinker_cuts_a_failing_program_down(runner, wrong_sin):
    big = program("""
        def helper(a, b=0.5):
            return a * b + 1.0


        def f(x, y):
            total = 0.0
            for i in range(3):
                total = total + helper(y) * i
            if total > -100.0:
                z = np.cos(x) * 2.0
            w = np.sin(x) * 3.0
            acc = [total, y]
            acc.append(np.sum(z))
            return np.sum(w) + acc[0]
        """, np.array([0.3, -0.7]), 0.25)
    report = runner.run(big, higher_order=False)
    assert report.outcome == "mismatch"
    small = shrink(runner, report)
    assert "np.sin" in small.source and "helper" not in small.source and "for " not in small.source
    assert small.source.count("\n") < 10
    assert runner.run(small, higher_order=False).outcome == "mismatch"


def test_programs_are_reproducible_alone_and_run_plainly():
    first = [generate(7, i) for i in range(30)]
    again = generate(7, 12)
    assert (again.source, repr(again.args)) == (first[12].source, repr(first[12].args))
    assert len({p.source for p in first}) == len(first)
    for p in first:
        compile(p.source, "<fuzz>", "exec")
        run_plain(p.source, p.args)


def test_the_generator_draws_from_the_rule_registry():
    names = {c.name for c in callees()}
    assert {"numpy.sin", "math.log", "numpy.arctan2", "%", "abs"} <= names
    assert "numpy.float32" not in names  # it loses precision: the probe leaves it out
    log = next(c for c in callees() if c.name == "numpy.log")
    (c, r), = log.domains
    assert c - r > 0  # log's safe interval stays away from 0


def test_an_operand_the_rule_does_not_differentiate_is_a_constant():
    rules = {rule.name: rule for rule in RULES.values()}
    jv = next(c for c in callees() if c.name == "scipy.special.jv")
    assert jv.domains[0][1] == 0.0 and jv.domains[1][1] > 0.0  # the order is a literal, x is squashed
    for c in callees():
        rule = rules[c.name]
        for k, (_, r) in enumerate(c.domains):
            active = rule.diff is None or k in rule.diff or k in rule.zero
            assert (r > 0.0) == active, (c.name, k)



def test_a_constant_operand_is_not_refused(runner):
    drawn = [p for p in (generate(1, i) for i in range(40)) if p.tags["constant_operand"]][:3]
    assert drawn
    for p in drawn:
        details = [f.detail for f in runner.run(p, higher_order=False).findings]
        assert not any("does not differentiate its argument" in d for d in details), (p.source, details)


def test_the_command_line_reproduces_one_program(capsys):
    main(["--seed", "3", "--index", "5", "--show", "--quiet"])
    out = capsys.readouterr().out
    assert generate(3, 5).source in out and "== 1 programs" in out
