"""The derivative graph and the dominator-factored Jacobian: equal to jacrev on a corpus, the seed's example."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import s2sad
from s2sad import ir
from s2sad.factor import dominators
from s2sad.testing import check_grads

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


# ----- with loops and branches: each region factored, the regions chained -----


def nested_g(x):
    g = x
    for _ in range(1):
        g = math.sin(g) * g
    return g


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


def loop_break(x, y):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + x[i] * x[i + 1] * y
        if s > 0.5:
            break
    return s


def double_loop(x):
    t = 0.0
    for v in x:
        for w in x:
            t = t + v * w * math.sin(v - w)
    return np.array([t, t * x[0]])


def enumerate_loop(x):
    acc = x[0]
    for i, v in enumerate(x):
        acc = acc * v + i * v
    return acc


def elif_chain(x, y):
    r = x * y
    if r > 6.0:
        q = r * 2
    elif r > 1.0:
        q = math.sin(r) * x
    else:
        q = y
    return np.array([q, q * r])


def fibonacci_like(x, y):
    a, b = x, y
    for _ in range(6):
        a, b = b, a + b * x
    return np.array([a, b])


def constant_reads_in_loop(x):
    s = 1.0
    for _ in range(3):
        s = s * x[0] + x[1] * math.cos(s)
    return np.array([s, x[2] * s])


def loop_in_branch(x, y):
    if x > 0.5:
        r = x
        for _ in range(3):
            r = r * y + x
    else:
        r = y * y
    return np.array([r, r + x])


def newton_sqrt(a):
    r = a
    for _ in range(6):
        r = r - (r * r - a) / (2 * r)
    return r


def three_carried(x):
    a, b, c = x[0], x[1], x[2]
    for _ in range(3):
        a, b, c = a * b + x[3], b * c + x[4], c * a + x[5]
    return a


def stepped_range(x):
    s = 0.0
    for i in range(0, len(x), 2):
        s = s + x[i] * x[i + 1]
    return np.array([s, s * s])


def empty_loop(x, y):
    z = x
    while z > 100.0:
        z = z * y
    return np.array([z, z * y])


def relu_like(x, y):
    r = 0.0 if x < 0.0 else x * y
    return np.array([r, r * y])


def spring_euler(q):
    pos, vel = q[0], q[1]
    k, dt = q[2], 0.1
    energy = 0.0
    for _ in range(5):
        acc = -k * pos
        vel = vel + dt * acc
        pos = pos + dt * vel
        energy = energy + 0.5 * vel * vel + 0.5 * k * pos * pos
    return np.array([pos, vel, energy])


def horner(c, t):
    acc = 0.0
    for ck in c:
        acc = acc * t + ck
    return acc


def branch_reads_elements(x):
    if x[0] > x[1]:
        r = x[0] * x[2]
    else:
        r = x[1] - x[2] * x[2]
    return np.array([r, r * x[3]])


def loop_branch_element_reads(x):
    s = 0.0
    for i in range(len(x)):
        if i % 2 == 0:
            s = s + x[i] * x[0]
        else:
            s = s * x[i]
    return s


def arms_bind_the_out(x):
    if x[0] > 0.5:
        r = x[0] * x[2]
    else:
        r = x[1]  # the out r is bound in each arm: this read is not the other arm's statement
    return np.array([r, r * x[3]])


def defaults_and_keywords(x, k=2.0):
    s = x
    for _ in range(2):
        s = s * k + x
    return s


def init_from_branch(x, y):
    a = x * y if x > y else y
    for _ in range(3):
        a = a * a * 0.5 + x
    return a


def dynamic_read_both_arms(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0.6:
            r = x[i]
        else:
            r = x[i] * 2.0
        s = s + r * s + r
    return s


def reset_constant_in_arm(x):
    s = 1.0
    for i in range(len(x)):
        if x[i] > 0.6:
            s = 0.0
        else:
            s = s * x[i] + x[i]
    return s


def two_loops(x):
    a = 0.0
    for v in x:
        a = a + v * v
    b = a
    for i in range(len(x)):
        b = b * x[i] + a
    return np.array([a, b])


def inner_init_from_outer_body(x):
    t = 0.0
    for i in range(2):
        u = x[i] * 2.0
        for j in range(2):
            u = u * x[j] + t
        t = t + u
    return t


# loops whose Jacobian is pushed through the body's graph (forward), or swept back from the function's rows


def pendulums_from_one_angle(t):
    # few columns, many rows: each column pushed through the body's graph, sparser than its Jacobian
    p0, p1, p2, v0, v1, v2 = t, 0.5 * t, 0.0, 0.0, 0.0, 0.0
    for _ in range(4):
        f0 = -math.sin(p0) + math.sin(p1 - p0)
        f1 = -math.sin(p1 - p0) + math.sin(p2 - p1)
        f2 = -math.sin(p2 - p1)
        v0, v1, v2 = v0 + 0.1 * f0, v1 + 0.1 * f1, v2 + 0.1 * f2
        p0, p1, p2 = p0 + 0.1 * v0, p1 + 0.1 * v1, p2 + 0.1 * v2
    return np.array([p0, p1, p2, v0, v1, v2])


def pendulums_energy(x):
    # six results read after the loop, three rows of the function (one reads another, and x[0] directly)
    p0, p1, p2, v0, v1, v2 = x[0], x[1], x[2], x[3], x[4], x[5]
    for _ in range(4):
        f0 = -math.sin(p0) + math.sin(p1 - p0)
        f1 = -math.sin(p1 - p0) + math.sin(p2 - p1)
        f2 = -math.sin(p2 - p1)
        v0, v1, v2 = v0 + 0.1 * f0, v1 + 0.1 * f1, v2 + 0.1 * f2
        p0, p1, p2 = p0 + 0.1 * v0, p1 + 0.1 * v1, p2 + 0.1 * v2
    e = 0.5 * (v0 * v0 + v1 * v1 + v2 * v2) + (1.0 - math.cos(p1 - p0)) + (1.0 - math.cos(p2 - p1))
    return np.array([p0, e, e * x[0]])


def pendulums_in_branch(x):
    # inside a branch: the two results read after the loop are its rows, swept back through the body's graph
    if x[0] > 0.0:
        p0, p1, p2, v0, v1, v2 = x[0], x[1], x[2], x[3], x[4], x[5]
        for _ in range(4):
            f0 = -math.sin(p0) + math.sin(p1 - p0)
            f1 = -math.sin(p1 - p0) + math.sin(p2 - p1)
            f2 = -math.sin(p2 - p1)
            v0, v1, v2 = v0 + 0.1 * f0, v1 + 0.1 * f1, v2 + 0.1 * f2
            p0, p1, p2 = p0 + 0.1 * v0, p1 + 0.1 * v1, p2 + 0.1 * v2
        r = p0 * p2
    else:
        r = x[1]
    return np.array([r, r * x[2]])


def ring_forward(t):
    a, b, c, d = t, 2.0 * t, t * t, 1.0
    for _ in range(5):
        a, b, c, d = (a + 0.1 * math.sin(b - a), b + 0.1 * math.sin(c - b), c + 0.1 * math.sin(d - c),
                      d + 0.1 * math.sin(a - d))
    return np.array([a, b, c, d, a * d])


def swept_element_reads(x, y):
    a, b, c = y, 2.0 * y, y * y
    for i in range(len(x)):
        a, b, c = a + x[i] * math.sin(b), b * math.cos(c) + x[i], c + 0.5 * a * x[(i + 1) % 4]
    return a * b + c + x[0]


def two_swept_loops(x):
    a, b, c, d = x[0], x[1], x[2], x[3]
    for _ in range(3):
        a, b, c, d = a + 0.2 * math.sin(b), b + 0.2 * math.sin(c), c + 0.2 * math.sin(d), d + 0.2 * math.sin(a)
    s = 0.0
    k = 0
    while k < 3:
        a, b, c, d = a * math.cos(b), b * math.cos(c), c, d + a
        s = s + a * d
        k = k + 1
    return s + b + c


def swept_with_break(x, y):
    a, b, c = x, y, x * y
    for i in range(6):
        a, b, c = a + 0.3 * math.tanh(b * c), b - 0.2 * math.sin(a), c + 0.1 * a * b
        if a > 2.5:
            break
    return a + b * c


# ----- what is not factored (jacrev or jacfwd run instead) -----


def arm_uses_array_whole(x):
    if x[0] > 0:
        r = np.sum(x)
    else:
        r = x[1]
    return r


def elementwise_array(x):
    return np.sin(x) * x  # arrays, not scalars


def whole_array_use(x):
    return np.sum(x) * x[0]  # x used whole, not element by element


def return_in_loop(x):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i]
        if s > 1.0:
            return s * 2.0
    return s


def list_loop(x):
    vals = [x[0] * 2.0, x[1]]
    s = 0.0
    for v in vals:
        s = s + v * v
    return s


def tuple_output(x, y):
    return x * y, x + y


def index_outside_loop(x):
    i = len(x) - 1
    return x[i] * x[0]


def two_sums(x):
    return np.array([np.sum(x), np.sum(x * x)])


def tiled(x):
    return np.sum(x) * np.ones(3)


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
V4 = np.array([0.3, 0.5, 0.7, 0.9])
CONTROL = [
    (nested_g, (0.7,), 0), (branch, (2.0, 1.0), (0, 1)), (branch, (1.0, 2.0), (0, 1)), (branch_expression, (1.5,), 0),
    (branch_expression, (-1.5,), 0), (loop_sum, (V4,), 0), (while_loop, (1.0, 0.5), (0, 1)),
    (loop_with_branch, (np.array([0.5, -1.0, 2.0]),), 0), (loop_break, (V4, 1.2), (0, 1)),
    (loop_break, (np.array([0.1, 0.2, 0.3, 0.4]), 0.5), (0, 1)), (double_loop, (V4[:3],), 0),
    (enumerate_loop, (V4[:3],), 0), (elif_chain, (3.0, 2.5), (0, 1)), (elif_chain, (1.0, 1.5), (0, 1)),
    (elif_chain, (0.5, 0.5), (0, 1)), (fibonacci_like, (0.5, 0.7), (0, 1)), (constant_reads_in_loop, (V4[:3],), 0),
    (loop_in_branch, (0.7, 0.9), (0, 1)), (loop_in_branch, (0.2, 0.9), (0, 1)), (newton_sqrt, (2.0,), 0),
    (three_carried, (np.array([0.3, 0.5, 0.7, 0.2, 0.4, 0.6]),), 0), (stepped_range, (V4,), 0),
    (empty_loop, (0.5, 2.0), (0, 1)), (relu_like, (0.5, 2.0), (0, 1)), (relu_like, (-0.5, 2.0), (0, 1)),
    (spring_euler, (np.array([1.0, 0.0, 2.0]),), 0), (horner, (np.array([1.0, -2.0, 0.5, 3.0]), 0.7), (0, 1)),
    (branch_reads_elements, (V4,), 0), (branch_reads_elements, (np.array([0.6, 0.5, 0.7, 0.9]),), 0),
    (loop_branch_element_reads, (V4,), 0), (horner, (np.array([1.0, -2.0, 0.5, 3.0]), 0.7), 1),
    (arms_bind_the_out, (V4,), 0), (arms_bind_the_out, (V4[::-1].copy(),), 0), (defaults_and_keywords, (0.5,), 0),
    (defaults_and_keywords, (0.5, 1.5), 0), (init_from_branch, (0.9, 0.5), (0, 1)), (init_from_branch, (0.3, 0.5), (0, 1)),
    (dynamic_read_both_arms, (V4,), 0), (reset_constant_in_arm, (V4,), 0), (two_loops, (V4,), 0),
    (inner_init_from_outer_body, (V4,), 0), (pendulums_from_one_angle, (0.4,), 0),
    (pendulums_energy, (np.array([0.2, 0.4, 0.6, 0.1, 0.3, 0.5]),), 0), (ring_forward, (0.4,), 0),
    (swept_element_reads, (V4, 0.6), (0, 1)), (two_swept_loops, (V4,), 0), (swept_with_break, (0.4, 0.7), (0, 1)),
    (swept_with_break, (1.4, 1.7), (0, 1)), (pendulums_in_branch, (np.array([0.2, 0.4, 0.6, 0.1, 0.3, 0.5]),), 0),
    (pendulums_in_branch, (np.array([-0.2, 0.4, 0.6, 0.1, 0.3, 0.5]),), 0),
]
FALLBACK = [
    (elementwise_array, (np.array([0.5, 1.0]),), 0), (whole_array_use, (V4[:3],), 0), (return_in_loop, (V4,), 0),
    (list_loop, (V4[:2],), 0), (tuple_output, (0.3, 0.6), (0, 1)), (index_outside_loop, (V4,), 0),
    (two_sums, (V4,), 0), (arm_uses_array_whole, (V4,), 0),
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


ALL = STRAIGHT + CONTROL + FALLBACK


@pytest.mark.parametrize("case", ALL, ids=[_id(c) for c in ALL])
def test_factored_equals_jacrev(case):
    fn, args, argnums = case
    _same(s2sad.jacobian(fn, argnums, method="factored")(*args), s2sad.jacrev(fn, argnums)(*args))


@pytest.mark.parametrize("case", STRAIGHT + CONTROL, ids=[_id(c) for c in STRAIGHT + CONTROL])
def test_is_factored(case):
    fn, args, argnums = case
    text = s2sad.source(fn, argnums, stage="factored", args=args)
    assert "dominator-factored" in text and "cannot be factored" not in text


@pytest.mark.parametrize("case", CONTROL, ids=[_id(c) for c in CONTROL])
def test_control_flow_agrees_with_finite_differences(case):
    fn, args, argnums = case
    nums = (argnums,) if isinstance(argnums, int) else argnums
    jac = s2sad.jacobian(fn, nums, method="factored")(*args)
    for block, i in zip(jac, nums):
        x = np.asarray(args[i], dtype=float)
        for k in range(x.size):
            def moved(h):
                y = x.copy().reshape(-1)
                y[k] += h
                return np.asarray(fn(*args[:i], y.reshape(x.shape) if x.ndim else float(y[0]), *args[i + 1:]))
            column = (moved(1e-6) - moved(-1e-6)) / 2e-6
            got = np.asarray(block)[..., k] if x.ndim else np.asarray(block)
            np.testing.assert_allclose(got, column, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", FALLBACK, ids=[_id(c) for c in FALLBACK])
def test_fallback_says_why(case):
    fn, args, argnums = case
    text = s2sad.source(fn, argnums, stage="factored", args=args)
    assert "cannot be factored" in text and "runs jacrev" in text and f"{__file__}:" in text


def test_an_array_used_whole_is_never_a_constant():
    # np.sum(x) reads all of x: its edges are not in the graph, so the function is not factored
    # (it was: the Jacobian came out [x0+x1+x2, 0, 0], the sum's own contribution dropped)
    text = s2sad.source(whole_array_use, stage="factored", args=(V4[:3],))
    assert "cannot be factored: x is not a scalar the derivative graph holds" in text
    _same(s2sad.jacobian(whole_array_use, method="factored")(V4[:3]), s2sad.jacrev(whole_array_use)(V4[:3]))


def test_an_out_bound_in_each_arm_is_each_arms_statement():
    # r = x[1] in one arm is no reason to read the other arm's r = x[0] * x[2] as x[1]
    for x in (V4, V4[::-1].copy()):
        text = s2sad.source(arms_bind_the_out, stage="factored", args=(x,))
        assert "        Dr_dx_0 = x_item_2\n        Dr_dx_2 = x_item_1\n        Dr_dx_1 = 0.0\n" in text


def test_keyword_arguments_specialise_the_factored_function():
    jac = s2sad.jacobian(defaults_and_keywords, method="factored")
    for kwargs in ({}, {"k": 1.5}, {"k": np.float64(0.5)}):
        _same(jac(0.5, **kwargs), s2sad.jacrev(defaults_and_keywords)(0.5, **kwargs))


def test_fallback_picks_the_cheaper_mode():
    calls = []
    def rev(*a):
        calls.append("rev")
        return (np.zeros((2, 4)),)
    def fwd(*a):
        calls.append("fwd")
        return (np.zeros((2, 4)),)
    from s2sad.factor import FactoredJacobian
    FactoredJacobian(two_sums, (0,), rev, fwd)(np.ones(4))  # 2 outputs, 4 inputs: reverse
    FactoredJacobian(elementwise_array, (0,), rev, fwd)(np.ones(2))  # 2 outputs, 2 inputs: reverse
    FactoredJacobian(tiled, (0,), rev, fwd)(np.ones(1))  # 3 outputs, 1 input: forward
    assert calls == ["rev", "rev", "fwd"]


def test_a_branch_yields_the_taken_arms_jacobian():
    text = s2sad.source(branch, (0, 1), stage="factored", args=(2.0, 1.0))
    assert "    if cmp:\n" in text
    assert "        Dr_dx = y\n        Dr_dy = x\n" in text  # the then-arm's region Jacobian
    assert "        Dr_dx = dsin_dx\n        Dr_dy = 1.0\n" in text  # the else-arm's
    assert "    Dmul_dx = r + Dr_dx * x\n" in text  # the function body factors on with them


def test_a_loop_carries_its_jacobian_forward():
    text = s2sad.source(loop_sum, stage="factored", args=(V4,))
    # J = J_body(i) @ J: the block of x, with the element read at the run-time index put in place
    assert "        Ds_1_dx = Ds_1_dx + onehot(4, i, Dmul_dx_item)\n" in text and "tape" not in text


def test_a_loop_with_more_columns_than_results_chains_in_reverse():
    text = s2sad.source(three_carried, stage="factored", args=(np.ones(6),))
    # three carried values, six columns, one result read after the loop: the body's Jacobian is
    # taped and swept back, one row (∂a_3/∂·) instead of three rows of six columns carried along
    assert "        tape.append((b_1, a_1, c_1))\n" in text
    assert "    for b_1, a_1, c_1 in reversed(tape):\n" in text
    assert "Da_3_da_1, Da_3_db_1, Da_3_dc_1 = " in text


def test_a_loop_pushes_its_columns_through_the_body_graph():
    text = s2sad.source(pendulums_from_one_angle, stage="factored", args=(0.4,))
    # each column of ∂(p, v)/∂(t, 0.5 t) goes through the body's nodes, node by node, not through the body's
    # 6 x 6 Jacobian (two to four entries a row); the nodes between two costly partials are eliminated
    assert "        Dsub_dt = Dp1_1_dt - Dp0_1_dt\n        Dsin_1_dt = dsin_1_dsub * Dsub_dt\n" in text
    assert "        Dadd_2_dt = Dv2_1_dt + -0.1 * Dsin_3_dt\n" in text and "tape" not in text


def test_a_loop_in_the_function_body_is_swept_back_from_the_functions_rows():
    text = s2sad.source(pendulums_energy, stage="factored", args=(np.ones(6),))
    # six results read after the loop, three rows: the sweep starts from ∂row/∂result (e's row from the
    # path sums after the loop) and pushes each row back through the body's graph
    assert "    De_dp0_1 = Dsub_5_dp0_3\n" in text
    assert "    for dsin_3_dsub_2, dsin_1_dsub, Df0_dp0_1 in reversed(tape):\n" in text
    assert "        De_dsub = De_dsin_1 * dsin_1_dsub\n" in text and "Dv0_3_dv0_1" not in text

    # inside a branch, the rows are the loop's two results read after it
    text = s2sad.source(pendulums_in_branch, stage="factored", args=(np.ones(6),))
    assert "        for dsin_3_dsub_2, dsin_1_dsub, Df0_dp0_1 in reversed(tape):\n" in text
    assert "            Dp2_3_dsub = Dp2_3_dsin_1 * dsin_1_dsub\n" in text and "Dv0_3_dv0_1" not in text


def test_factored_euler_multiplies_less_than_jacrev():
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "bench", "factored.py")
    spec = importlib.util.spec_from_file_location("bench_factored", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    text = bench.euler(8, 8)  # four pendulums, ten steps: 8 inputs, 5 outputs
    x = np.linspace(0.2, 0.9, 8)
    counts = {}
    for method in ("rev", "fwd", "factored"):
        f = bench.compile_workload(text, {"math": math, "np": np})
        counts[method] = bench.executed(s2sad.jacobian(f, method=method), x)[0]
    assert counts["factored"] < counts["rev"] < counts["fwd"]


def _run(stmts, scope):
    """Execute generated assignments (IR) in ``scope``."""
    for stmt in stmts:
        scope[stmt.target] = eval(ir.expr_str(stmt.value), {}, scope)


def _path_sums_from(start, nodes, weights):
    """The sum over paths from ``start`` of the products of edge ``weights``, to every node after it, by
    accumulation in topological order (``nodes`` are in it)."""
    acc = {start: 1.0}
    for h in nodes[nodes.index(start) + 1:]:
        acc[h] = sum(acc.get(t, 0.0) * w for (t, hh), w in weights.items() if hh == h)
    return acc


@pytest.mark.parametrize("reverse", [True, False])
def test_pushes_through_a_reduced_graph_equal_the_jacobian_products(reverse):
    from s2sad.factor import _Reduced
    from s2sad.naming import Namer

    rng = np.random.default_rng(11)
    for _ in range(40):
        n = int(rng.integers(5, 16))
        nodes = [f"v{k}" for k in range(n)]
        carried = nodes[: int(rng.integers(1, 4))]
        labels = {}
        for h in range(len(carried), n):
            for t in range(h):
                if rng.random() < 0.35:
                    labels[nodes[t], nodes[h]] = ir.Const(float(rng.choice([1.0, -1.0]))) if rng.random() < 0.3 \
                        else ir.Name(f"l{t}_{h}")
        rows = list(rng.choice(nodes, size=int(rng.integers(1, 5)), replace=False))
        values = {e.id: float(rng.normal()) for e in labels.values() if isinstance(e, ir.Name)}
        graph = _Reduced(nodes, labels, carried, rows, int(rng.integers(1, 30)), reverse)
        scope = dict(values)
        namer = Namer()
        _run(graph.statements(namer), scope)
        weights = {edge: e.value if isinstance(e, ir.Const) else values[e.id] for edge, e in labels.items()}
        jac = {}  # ∂row/∂carried, by accumulation in topological order
        for c in carried:
            acc = _path_sums_from(c, nodes, weights)
            for r in rows:
                jac[r, c] = acc.get(r, 0.0)
        seeds = {v: float(rng.normal()) for v in (rows if reverse else carried)}
        code, out = graph.push({v: ir.Const(s) for v, s in seeds.items()}, lambda v: f"t_{v}", namer)
        _run(code, scope)
        for v in (carried if reverse else rows):
            want = sum(seeds[r] * jac[r, v] for r in rows) if reverse else sum(jac[v, c] * seeds[c] for c in carried)
            got = eval(ir.expr_str(out[v]), {}, scope) if v in out else 0.0
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_graph_of_a_loop_shows_its_body_and_the_loop_edges():
    line = loop_sum.__code__.co_firstlineno + 2
    text = s2sad.source(loop_sum, stage="graph", args=(V4,))
    assert f"for i in range(4):  # line {line}, carries s_1 -> s_3\n  body: -> s_2\n    s_1  (carried)\n" in text
    assert "    x_item = x[i]\n" in text
    assert "s_3 = loop out" in text and "ds_3/dx_0 = Ds_3_dx[0]" in text
    dot = s2sad.source(loop_sum, stage="dot", args=(V4,))
    assert "subgraph cluster_1 {" in dot and f'label="for (line {line}): body";' in dot


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


@pytest.mark.parametrize("reverse", [True, False])
def test_path_sums_on_random_graphs_equal_the_sum_over_paths(reverse):
    from s2sad.factor import _PathSums
    from s2sad.naming import Namer

    rng = np.random.default_rng(7)
    for _ in range(40):
        n = int(rng.integers(4, 16))
        nodes = [f"v{k}" for k in range(n)]
        labels = {(nodes[t], nodes[h]): ir.Name(f"l{t}_{h}") for h in range(1, n) for t in range(h)
                  if rng.random() < 0.35}
        values = {label.id: float(rng.normal()) for label in labels.values()}
        sums = _PathSums(nodes, labels, reverse)
        entries = {(i, o): sums.entry(i, o) for i in nodes for o in nodes}
        scope = dict(values)
        _run(sums.statements(Namer()), scope)
        weights = {edge: values[label.id] for edge, label in labels.items()}
        for i in nodes:
            acc = _path_sums_from(i, nodes, weights)
            for o in nodes:
                got = eval(ir.expr_str(entries[i, o]), {}, scope)
                assert got == pytest.approx(acc.get(o, 0.0), rel=1e-12, abs=1e-12)


class _ScalarPrograms:
    """Random scalar programs of x (a 4-vector) and y: assignments, branches, for and while loops,
    element reads at constant and run-time indices; every name is bound before any path reads it."""

    def __init__(self, rng):
        self.rng = rng

    def expr(self, names, index, depth=0):
        r = self.rng.random()
        if depth >= 2 or r < 0.35:
            leaves = [*names, "y", f"x[{self.rng.integers(-4, 4)}]", f"{self.rng.uniform(-1, 1):.2f}"]
            if index:
                leaves += [f"x[{index}]", f"x[({index} + {self.rng.integers(1, 4)}) % 4]"]
            return str(self.rng.choice(leaves))
        a, b = self.expr(names, index, depth + 1), self.expr(names, index, depth + 1)
        if r < 0.75:
            return f"({a} {self.rng.choice(['+', '-', '*'])} {b})"
        return f"math.{self.rng.choice(['sin', 'cos', 'tanh'])}({a})"

    def block(self, names, pad, index, depth):
        lines = []
        for _ in range(int(self.rng.integers(1, 4))):
            kind = self.rng.choice(["assign", "assign", "if", "for", "while"] if depth < 2 else ["assign"])
            target = str(self.rng.choice(names))
            if kind == "assign":
                lines.append(f"{pad}{target} = {self.expr(names, index)}")
            elif kind == "if":
                lines.append(f"{pad}if {self.expr(names, index)} > {self.rng.uniform(-0.5, 0.5):.2f}:")
                lines += self.block(names, pad + "    ", index, depth + 1)
                lines.append(f"{pad}else:")
                lines += self.block(names, pad + "    ", index, depth + 1)
            elif kind == "for":
                i = f"i{depth}"
                lines.append(f"{pad}for {i} in range({self.rng.integers(0, 4)}):")
                lines += self.block(names, pad + "    ", i, depth + 1)
                if self.rng.random() < 0.3:
                    lines += [f"{pad}    if {target} > 2.0:", f"{pad}        break"]
            else:
                j = f"j{depth}"
                lines += [f"{pad}{j} = 0", f"{pad}while {j} < {self.rng.integers(1, 3)}:"]
                lines += self.block(names, pad + "    ", None, depth + 1)
                lines.append(f"{pad}    {j} = {j} + 1")
        return lines

    def source(self, name):
        names = ["a", "b", "c"]
        lines = [f"def {name}(x, y):", "    a, b, c = x[0], y, 0.5"]
        lines += self.block(names, "    ", None, 0)
        lines.append(f"    return np.array([{', '.join(self.rng.permutation(names)[:2])}, a * y])")
        return "\n".join(lines) + "\n"


def test_random_scalar_programs_equal_jacrev(tmp_path, monkeypatch):
    import importlib

    rng = np.random.default_rng(2024)
    gen = _ScalarPrograms(rng)
    monkeypatch.syspath_prepend(str(tmp_path))
    factored = 0
    for k in range(40):
        name = f"random_program_{k}"
        (tmp_path / f"{name}.py").write_text("import math\n\nimport numpy as np\n\n\n" + gen.source("f"))
        fn = importlib.import_module(name).f
        args = (rng.uniform(-1, 1, 4), float(rng.uniform(-1, 1)))
        _same(s2sad.jacobian(fn, (0, 1), method="factored")(*args), s2sad.jacrev(fn, (0, 1))(*args))
        factored += "cannot be factored" not in s2sad.source(fn, (0, 1), stage="factored", args=args)
    assert factored == 40


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


def constant_loop_in_one_arm(x, y):
    c = 0.5
    if y > 0.0:
        c = math.sin(x[0])
    else:
        j = 0
        while j < 1:
            c = -0.09
            j = j + 1
    return np.array([c, x[1] * y])


def weighted_constant_loop(x, y):
    return np.sum(constant_loop_in_one_arm(x, y) * np.array([1.0, 2.0]))


@pytest.mark.parametrize("y", [0.7, -0.7])
def test_a_loop_result_no_argument_reaches_in_one_arm_is_a_constant_there(y):
    # c is carried by the loop only as constants, but c's out is active through the other arm: the
    # loop's result holds no node there (it was refused, "c_1 is not a scalar the graph holds")
    args = (np.array([0.3, -0.4]), y)
    text = s2sad.source(constant_loop_in_one_arm, (0, 1), stage="factored", args=args)
    assert "dominator-factored" in text and "cannot be factored" not in text
    _same(s2sad.jacobian(constant_loop_in_one_arm, (0, 1), method="factored")(*args),
          s2sad.jacrev(constant_loop_in_one_arm, (0, 1))(*args))
    check_grads(weighted_constant_loop, args, modes=("rev", "fwd"))
