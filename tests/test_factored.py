"""The derivative graph and the dominator-factored Jacobian: equal to jacrev on a corpus, the seed's example."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import s2sad
from s2sad.factor import dominators

# ----- the corpus: straight-line functions (factored) -----


def seed(x):
    return (4 + math.sin(x)) * math.cos(math.sin(x))


def two_in_one_out(x, y):
    return math.log(x) + x * y - math.sin(y)


def square(x):
    return x * x


def diamond(x):
    a = math.sin(x)
    return math.exp(a) * math.cos(a) + a / (1.0 + a * a)


def chain(x):
    return math.tanh(math.exp(math.sin(math.cos(x))))


def powers(x, y):
    return x ** 3 + y ** 2.5 + x ** y + 2.0 ** x


def quotient(x, y):
    return (x - y) / (x + y) - y / x


def unary(x, y):
    return -x * +y - abs(x - 3.0)


def nested_g(x):
    g = x
    for _ in range(1):  # a loop of one step: not straight-line, falls back
        g = math.sin(g) * g
    return g


def nested_unrolled(x):
    g1 = math.sin(x) * x + x
    g2 = math.sin(g1) * g1 + x
    g3 = math.sin(g2) * g2 + g1
    g4 = math.sin(g3) * g3 + g2
    return g4


def vector_sum_of_squares(x):
    return np.array([x[0] * x[0] + x[1] * x[1], x[0] * x[1], x[2]])


def vector_shared(x):
    s = x[0] * x[1] + x[2] * x[3]
    t = math.sin(s)
    return np.array([t * x[0], t * x[1], t * x[2], t * x[3], s])


def spring_energy(q):
    k, r = 3.0, 1.0
    d1 = math.sqrt((q[1] - q[0]) ** 2 + (q[4] - q[3]) ** 2)
    d2 = math.sqrt((q[2] - q[1]) ** 2 + (q[5] - q[4]) ** 2)
    e1 = 0.5 * k * (d1 - r) ** 2
    e2 = 0.5 * k * (d2 - r) ** 2
    return np.array([e1, e2, e1 + e2])


def shading(v):
    nx, ny, nz, lx, ly, lz = v[0], v[1], v[2], v[3], v[4], v[5]
    inv_n = 1.0 / math.sqrt(nx * nx + ny * ny + nz * nz)
    inv_l = 1.0 / math.sqrt(lx * lx + ly * ly + lz * lz)
    cos_t = (nx * lx + ny * ly + nz * lz) * inv_n * inv_l
    diffuse = max(cos_t, 0.0)
    spec = diffuse ** 8
    return np.array([0.8 * diffuse + 0.2 * spec, 0.5 * diffuse + 0.5 * spec, diffuse])


def scalar_outputs_of_two_args(x, y):
    a = x * y
    b = math.sin(a)
    c = math.cos(a)
    return np.array([b * c + x, b - c * y, a * a])


def constant_row(x, y):
    return np.array([x * y, 2.0, y])


def unused_input(x, y):
    return np.array([x * x, math.exp(x)])


def identity_rows(x):
    return np.array([x[1], x[0], x[0] + x[1]])


def hyperbolic(x, y):
    return math.sinh(x) * math.cosh(y) + math.atan(x * y) + math.asinh(y)


def logs(x, y):
    return math.log1p(x * x) + math.log(y) * math.log2(x + 2.0) + math.expm1(y)


def numpy_scalars(x, y):
    return np.sin(x) * np.exp(y) + np.sqrt(x * x + y * y) + np.tanh(x - y)


def long_sum(x):
    terms = x[0] * x[1] + x[1] * x[2] + x[2] * x[3] + x[3] * x[4] + x[4] * x[0]
    return np.array([terms, terms * terms, math.sin(terms) * x[2]])


def reconvergent(x, y):
    a = x * y
    b = a + x
    c = a * b
    d = b * c + a
    e = math.sin(d) * c
    return np.array([e, d, c * e])


def copies(x, y):
    z = x
    w = z * y
    return np.array([w, z])


def negative_index(x):
    return np.array([x[-1] * x[0], x[-2]])


# ----- with loops and branches (jacrev or jacfwd run instead) -----


def branch(x, y):
    if x > y:
        r = x * y
    else:
        r = math.sin(x) + y
    return np.array([r, r * x])


def branch_expression(x):
    return x * x if x > 0 else -x


def loop_sum(x):
    s = 0.0
    for i in range(4):
        s = s + math.sin(x[i]) * x[i]
    return np.array([s, s * x[0]])


def while_loop(x, y):
    z = x
    while z < 10.0:
        z = z * 1.5 + y
    return z


def loop_with_branch(x):
    acc = 1.0
    for v in x:
        if v > 0.0:
            acc = acc * v
        else:
            acc = acc - v
    return np.array([acc, acc * acc])


def elementwise_array(x):
    return np.sin(x) * x  # arrays, not scalars


STRAIGHT = [
    (seed, (math.pi,), 0), (seed, (0.3,), 0), (two_in_one_out, (1.0, math.pi), (0, 1)), (square, (1.7,), 0),
    (diamond, (0.4,), 0), (chain, (0.9,), 0), (powers, (1.3, 0.8), (0, 1)), (quotient, (1.5, 0.5), (0, 1)),
    (unary, (1.2, -0.7), (0, 1)), (nested_unrolled, (0.7,), 0), (vector_sum_of_squares, (np.array([1.0, 2.0, 3.0]),), 0),
    (vector_shared, (np.array([0.1, 0.2, 0.3, 0.4]),), 0), (spring_energy, (np.array([0.0, 1.2, 2.1, 0.1, -0.2, 0.3]),), 0),
    (shading, (np.array([0.1, 0.2, 0.9, 0.3, 0.2, 0.8]),), 0), (scalar_outputs_of_two_args, (0.3, 0.7), (0, 1)),
    (constant_row, (1.5, 2.5), (0, 1)), (unused_input, (0.5, 2.0), (0, 1)), (identity_rows, (np.array([2.0, 3.0]),), 0),
    (hyperbolic, (0.3, 0.6), (0, 1)), (logs, (0.5, 1.5), (0, 1)), (numpy_scalars, (0.5, 1.5), (0, 1)),
    (long_sum, (np.array([0.1, 0.2, 0.3, 0.4, 0.5]),), 0), (reconvergent, (0.3, 0.6), (0, 1)),
    (copies, (0.3, 0.6), (0, 1)), (negative_index, (np.array([1.0, 2.0, 3.0]),), 0),
    (two_in_one_out, (2.0, 1.0), 1), (scalar_outputs_of_two_args, (0.3, 0.7), 1),
]
FALLBACK = [
    (nested_g, (0.7,), 0), (branch, (2.0, 1.0), (0, 1)), (branch, (1.0, 2.0), (0, 1)), (branch_expression, (1.5,), 0),
    (loop_sum, (np.array([0.1, 0.2, 0.3, 0.4]),), 0), (while_loop, (1.0, 0.5), (0, 1)),
    (loop_with_branch, (np.array([0.5, -1.0, 2.0]),), 0), (elementwise_array, (np.array([0.5, 1.0]),), 0),
]


def _same(a, b):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12, atol=1e-12)
    assert np.shape(a) == np.shape(b)


def _id(case):
    return f"{case[0].__name__}-{case[2]}"


@pytest.mark.parametrize("case", STRAIGHT + FALLBACK, ids=[_id(c) for c in STRAIGHT + FALLBACK])
def test_factored_equals_jacrev(case):
    fn, args, argnums = case
    _same(s2sad.jacobian(fn, argnums, method="factored")(*args), s2sad.jacrev(fn, argnums)(*args))


@pytest.mark.parametrize("case", STRAIGHT, ids=[_id(c) for c in STRAIGHT])
def test_straight_line_code_is_factored(case):
    fn, args, argnums = case
    text = s2sad.source(fn, argnums, stage="factored", args=args)
    assert "dominator-factored" in text and "cannot be factored" not in text


@pytest.mark.parametrize("case", FALLBACK, ids=[_id(c) for c in FALLBACK])
def test_fallback_says_why(case):
    fn, args, argnums = case
    text = s2sad.source(fn, argnums, stage="factored", args=args)
    assert "cannot be factored" in text and "runs jacrev" in text and f"{__file__}:" in text


def test_fallback_picks_the_cheaper_mode():
    calls = []
    def rev(*a):
        calls.append("rev")
        return (np.zeros((2, 4)),)
    def fwd(*a):
        calls.append("fwd")
        return (np.zeros((2, 4)),)
    from s2sad.factor import FactoredJacobian
    FactoredJacobian(loop_sum, (0,), rev, fwd)(np.ones(4))  # 2 outputs, 4 inputs: reverse
    FactoredJacobian(branch, (0, 1), rev, fwd)(2.0, 1.0)  # 2 outputs, 2 inputs: reverse
    FactoredJacobian(loop_with_branch, (0,), rev, fwd)(np.ones(1))  # 2 outputs, 1 input: forward
    assert calls == ["rev", "rev", "fwd"]


# ----- the seed's worked example -----


SEED_GRAPH = """\
x
sin = math.sin(x)      dsin/dx = math.cos(x)
add = 4 + sin          dadd/dsin = 1.0
cos = math.cos(sin)    dcos/dsin = -math.sin(sin)
mul = add * cos        dmul/dadd = cos   dmul/dcos = add
"""


def test_seed_example_derivative_at_pi_is_minus_one():
    assert s2sad.jacobian(seed, method="factored")(math.pi) == pytest.approx(-1.0, abs=1e-15)


def test_seed_graph_prints_as_the_slide_draws_it():
    text = s2sad.source(seed, stage="graph")
    assert text.startswith("# derivative graph of seed (")
    assert "5 nodes, 5 edges\n# inputs: x\n# outputs: mul\n" in text
    assert text.endswith(SEED_GRAPH)


def test_seed_factored_function_is_the_slides_factoring():
    text = s2sad.source(seed, stage="factored")
    # (df/da da/dd + df/db db/dd) * dd/de: the two paths through sin share the last factor
    assert "    Dmul_dsin = cos + dcos_dsin * add\n    Dmul_dx = dsin_dx * Dmul_dsin\n    return (Dmul_dx,)\n" in text
    code = "".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert code.count("*") == 2 and code.count(" + ") == 2  # 4 + sin, and the one factored sum


def test_graph_as_dot():
    text = s2sad.source(seed, stage="dot")
    assert text.startswith("digraph seed {\n  rankdir=BT;")
    assert '  sin -> cos [label="-math.sin(sin)"];\n' in text
    assert '  mul [label="mul\\nadd * cos", peripheries=2];\n' in text


def test_cli_shows_graph_dot_and_factored_function():
    def show(*extra):
        return subprocess.run([sys.executable, "-m", "s2sad", "show", f"{__file__}:seed", *extra],
                              capture_output=True, text=True, check=True).stdout

    assert show("--stage", "graph").endswith(SEED_GRAPH)
    assert show("--stage", "graph", "--format", "dot").startswith("digraph seed {")
    assert "Dmul_dx = dsin_dx * Dmul_dsin" in show("--stage", "factored")
    bad = subprocess.run([sys.executable, "-m", "s2sad", "show", f"{__file__}:seed", "--format", "dot"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--format dot goes with --stage graph" in bad.stderr


def test_array_arguments_of_other_shapes_are_not_factored():
    text = s2sad.source(elementwise_array, stage="factored", args=(np.ones((2, 2)),))
    assert "cannot be factored: argument x is neither a scalar nor a 1-D array" in text


def test_unknown_method_is_an_error():
    with pytest.raises(ValueError, match="method must be 'rev', 'fwd' or 'factored'"):
        s2sad.jacobian(seed, method="sym")


# ----- dominators -----


def test_dominators_of_a_diamond_with_a_tail():
    #  x -> a -> c -> d,  x -> b -> c
    edges = dict(enumerate([("x", "a"), ("x", "b"), ("a", "c"), ("b", "c"), ("c", "d")]))
    order = {n: k for k, n in enumerate("xabcd")}
    assert dominators(edges, "x", order, forward=True) == {"x": "x", "a": "x", "b": "x", "c": "x", "d": "c"}
    assert dominators(edges, "d", order, forward=False) == {"d": "d", "c": "d", "a": "c", "b": "c", "x": "c"}


def test_factored_edges_are_shared_across_pairs():
    text = s2sad.source(vector_shared, stage="factored", args=(np.ones(4),))
    # ds/dx[k] feed all five outputs through t: dt/ds is computed once, reused by every pair
    assert text.count("math.cos(s)") == 1


def test_example_script_prints_graph_trees_and_the_factored_function():
    import os

    script = os.path.join(os.path.dirname(__file__), "..", "examples", "derivative_graph.py")
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, check=True).stdout
    assert out.count(SEED_GRAPH) == 1
    assert "# dominator tree (from x): sin <- x, add <- sin, cos <- sin, mul <- sin\n" in out
    assert "# post-dominator tree (from mul): cos <- mul, add <- mul, sin <- mul, x <- sin\n" in out
    assert "Dmul_dx = dsin_dx * Dmul_dsin" in out and "df/dx at pi, factored: -0.99999999" in out
