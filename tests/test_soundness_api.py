"""Soundness at the API: results never alias the caller's memory, shapes and structures are
checked, the running code is what is differentiated, caches die with their functions, and the
checks in ``s2sad.testing`` fail under ``python -O`` too."""

import gc
import importlib.util
import linecache
import os
import subprocess
import sys
import textwrap
import tracemalloc

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


C = np.arange(6.0).reshape(2, 3)


def returns_a_global(x):
    return C


def returns_a_global_beside_x(x):
    return (x * 2.0, C, [C])


def test_a_tangent_that_does_not_depend_on_the_input_has_the_output_shape():
    out, out_dot = s2sad.jvp(returns_a_global, (1.0,), (1.0,))
    assert out_dot.shape == (2, 3) and not out_dot.any()
    out, (t0, t1, [t2]) = s2sad.jvp(returns_a_global_beside_x, (1.0,), (1.0,))
    assert t0 == 2.0 and t1.shape == (2, 3) and t2.shape == (2, 3) and not t1.any()
    out, out_dot = s2sad.jvp(lambda x: np.float32(2.0), (1.0,), (1.0,))
    assert out_dot == 0.0 and type(out_dot) is np.float32


def mixed_pytrees(p, x):
    return {"u": p["a"] * x, "v": (np.sum(p["b"] ** 2), p["a"][0] * np.sin(p["b"]))}


@pytest.mark.parametrize("jac", [s2sad.jacrev, s2sad.jacfwd])
def test_jacobians_of_pytrees_nest_the_output_outside_the_input(jac):
    p = {"b": np.array([1.0, 2.0, 3.0]), "a": np.array([0.5, -1.0])}
    J = jac(mixed_pytrees)(p, 2.0)
    assert set(J) == {"u", "v"} and set(J["u"]) == {"a", "b"} and isinstance(J["v"], tuple)
    np.testing.assert_array_equal(J["u"]["a"], 2.0 * np.eye(2))
    np.testing.assert_array_equal(J["u"]["b"], np.zeros((2, 3)))
    np.testing.assert_allclose(J["v"][0]["b"], [2.0, 4.0, 6.0])
    np.testing.assert_allclose(J["v"][1]["a"], np.outer(np.sin(p["b"]), [1.0, 0.0]))
    np.testing.assert_allclose(J["v"][1]["b"], 0.5 * np.diag(np.cos(p["b"])))
    J = jac(mixed_pytrees, argnums=(0, 1))(p, 2.0)
    assert isinstance(J["u"], tuple) and J["u"][0]["a"].shape == (2, 2)
    np.testing.assert_array_equal(J["u"][1], p["a"])


@pytest.mark.parametrize("jac", [s2sad.jacrev, s2sad.jacfwd])
def test_jacobians_keep_float32(jac):
    J = jac(lambda x: x * x)(np.array([1.0, 2.0], dtype=np.float32))
    assert J.dtype == np.float32
    np.testing.assert_array_equal(J, np.diag([2.0, 4.0]))


def test_hessian_keeps_float32_and_nests_a_tuple_of_arguments():
    x = np.array([1.0, 2.0], dtype=np.float32)
    H = s2sad.hessian(lambda x: np.sum(x ** 3))(x)
    assert H.dtype == np.float32
    np.testing.assert_allclose(H, np.diag(6.0 * x))
    (hxx, hxy), (hyx, hyy) = s2sad.hessian(lambda x, y: np.sum(x ** 2 * y), argnums=(0, 1))(x, np.float32(3.0))
    assert all(h.dtype == np.float32 for h in (hxx, hxy, hyx, hyy))
    np.testing.assert_allclose(hxx, 6.0 * np.eye(2))
    np.testing.assert_allclose(hxy, 2.0 * x)
    np.testing.assert_allclose(hyx, 2.0 * x)
    assert hyy == 0.0


def test_a_cotangent_of_the_wrong_shape_is_refused_even_when_it_broadcasts():
    out, pullback = s2sad.vjp(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"cotangent passed to the pullback has shape \(1,\), but the output of "
                                         r".*<lambda> has shape \(3,\)"):
        pullback(np.ones(1))
    with pytest.raises(ValueError, match=r"has shape \(\), but"):
        pullback(1.0)
    out, pullback = s2sad.vjp(lambda p: {"a": p["x"] * 2.0, "b": (p["x"][0], 1.0)}, {"x": np.ones(3)})
    with pytest.raises(ValueError, match=r"at \['a'\] has shape \(1, 3\), but the output of .*<lambda> at \['a'\]"):
        pullback({"a": np.ones((1, 3)), "b": (1.0, 0.0)})
    with pytest.raises(TypeError, match="must be a dict with keys 'a', 'b'"):
        pullback({"a": np.ones(3)})
    with pytest.raises(TypeError, match=r"at \['b'\] must be a tuple or list of 2"):
        pullback({"a": np.ones(3), "b": 1.0})
    (g,) = pullback({"a": np.ones(3), "b": [1.0, 0.0]})  # a list for a tuple is the same cotangent
    np.testing.assert_array_equal(g["x"], [3.0, 2.0, 2.0])


def test_a_tangent_of_the_wrong_shape_is_refused_even_when_it_broadcasts():
    with pytest.raises(ValueError, match=r"tangent of argument 0 has shape \(1,\), but the argument has shape \(3,\)"):
        s2sad.jvp(lambda x: x * 2.0, (np.ones(3),), (np.ones(1),))
    with pytest.raises(ValueError, match=r"tangent of argument 0 at \['x'\] has shape \(1,\)"):
        s2sad.jvp(lambda d: d["x"] * 2.0, ({"x": np.ones(3)},), ({"x": np.ones(1)},))
    with pytest.raises(ValueError, match=r"tangent of argument 0 has shape \(2,\), but the argument has shape \(\)"):
        s2sad.jvp(lambda x: x * 2.0, (1.0,), (np.ones(2),))
    out, out_dot = s2sad.jvp(lambda x, n: x * n, (np.ones(3), 2), (np.ones(3), None))  # an int takes any tangent
    np.testing.assert_array_equal(out_dot, 2.0)


def dot_sum(x, w):
    return np.sum(x * w)


def sum_of_sums(a, b, c):
    return np.sum(a * c + b * c)


def products_of_a_transpose(w, x):
    return np.sum(w * x.T)


def tree_products(p):
    return np.sum(p["a"] * p["c"] + p["b"] * p["c"])


def shares(result, *others) -> bool:
    return any(np.may_share_memory(r, o) for r in result for o in others)


def test_a_gradient_is_never_an_argument_a_view_of_one_or_another_gradient():
    x, w = np.arange(3.0), np.ones(3)
    for g in (s2sad.grad(dot_sum, argnums=1)(x, w), s2sad.value_and_grad(dot_sum, argnums=1)(x, w)[1]):
        np.testing.assert_array_equal(g, x)
        assert not shares([g], x, w)
    a, b, c = np.ones(3), np.ones(3), np.arange(3.0)
    ga, gb = s2sad.grad(sum_of_sums, argnums=(0, 1))(a, b, c)
    np.testing.assert_array_equal(ga, c)
    assert not shares([ga], a, b, c, gb) and not shares([gb], a, b, c)
    x = np.arange(9.0).reshape(3, 3)
    (g,) = [s2sad.grad(products_of_a_transpose)(np.ones((3, 3)), x)]
    np.testing.assert_array_equal(g, x.T)
    assert not shares([g], x)
    p = {"a": np.ones(3), "b": np.ones(3), "c": np.arange(3.0)}
    g = s2sad.grad(tree_products)(p)
    np.testing.assert_array_equal(g["a"], p["c"])
    assert not shares([g["a"]], *p.values(), g["b"]) and not shares([g["b"]], *p.values())
    g = s2sad.grad(lambda w, *, x: np.sum(w * x))(np.ones(3), x=np.arange(3.0))  # a keyword argument too
    g[0] = 5.0  # writable, and nobody else's


def test_a_pullback_never_returns_the_cotangent_or_one_array_twice():
    out, pullback = s2sad.vjp(lambda a, b: a + b, np.ones(2), np.ones(2))
    u = np.array([1.0, 2.0])
    ga, gb = pullback(u)
    np.testing.assert_array_equal(ga, u)
    np.testing.assert_array_equal(gb, u)
    assert not shares([ga], u, gb) and not shares([gb], u)
    x = np.ones((2, 3))
    out, pullback = s2sad.vjp(lambda x: x.T, x)
    u = np.arange(6.0).reshape(3, 2)
    (g,) = pullback(u)
    np.testing.assert_array_equal(g, u.T)
    assert not shares([g], u, x, out)


def test_a_tangent_is_never_the_callers_tangent():
    t = np.array([1.0, 2.0])
    out, out_dot = s2sad.jvp(lambda x: x, (np.ones(2),), (t,))
    np.testing.assert_array_equal(out_dot, t)
    assert not shares([out_dot], t)
    out, (d0, d1) = s2sad.jvp(lambda x: (x, x), (np.ones(2),), (t,))
    assert not shares([d0], t, d1) and not shares([d1], t)


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ORIGINAL = '''\
from __future__ import annotations

import math

import numpy as np


def square(x):
    return x * x


triple = lambda x: x * 3.0


class Base:
    def scale(self, x) -> float:
        return x * 2.0


class Model(Base):
    factor = lambda self, x: math.sin(x) * x

    def loss(self, x):
        """A docstring on two lines,
        indented as the method is."""
        return super().scale(x) + self.factor(x)

    def uses_private(self, x):
        return self.__helper(x)

    def __helper(self, x):
        return x

    def private_closure(self):
        def inner(x):
            return x * self.__helper(x)
        return inner


def cube(x):
    return x * x * x


def make(c):
    def fact(x, n):
        return 1.0 if n == 0 else x * c * fact(x, n - 1)
    return fact
'''


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the source check runs on Python 3.11 and newer")
def test_the_running_code_is_what_is_differentiated(tmp_path):
    path = tmp_path / "edited_module.py"
    path.write_text(ORIGINAL)
    module = load_module(path, "edited_module")
    assert s2sad.grad(module.square)(3.0) == 6.0
    model = module.Model()
    check_grads(module.Model.loss, (model, 0.7), argnums=(1,))
    check_grads(module.Model.factor, (model, 0.7), argnums=(1,))
    s2sad.grad(module.Model.uses_private, argnums=1)  # compiled as in its class: `__helper` is mangled
    s2sad.grad(model.private_closure())  # in a function in a method in the class
    check_grads(module.make(2.0), (0.7, 3), argnums=(0,))
    # the file changes after import; functions already transformed keep their derivative
    path.write_text(ORIGINAL.replace("x * x", "x + x").replace("x * 3.0", "x * 4.0"))
    os.utime(path, (0, 1))  # a different modification time even within one clock tick
    assert s2sad.grad(module.square)(3.0) == 6.0
    with pytest.raises(s2sad.SourceUnavailableError, match=r"the source of <lambda> at .*edited_module.py:12 is "
                                                           r"not the code that runs: the file changed"):
        s2sad.grad(module.triple)(3.0)
    path.write_text(ORIGINAL.replace("def cube(x):", "# a new line\ndef cube(x):")
                    .replace("return x * x\n", "return x ** 3\n"))
    os.utime(path, (0, 2))
    with pytest.raises(s2sad.SourceUnavailableError, match="the source of cube .* is not the code that runs"):
        s2sad.grad(module.cube)  # the lines moved: the text at its line is not its code
    fresh = load_module(path, "edited_module")
    assert s2sad.grad(fresh.cube)(2.0) == 12.0
    assert s2sad.grad(fresh.square)(2.0) == 12.0


def inner_callee(x):
    return x * 1.0


def outer_callee(x):
    return inner_callee(x) * 2.0


def calls_a_global(x):
    return outer_callee(x) ** 2


def test_a_kept_derivative_follows_a_callee_redefined_after_it_was_made(monkeypatch):
    # the derivative relied on the functions the module's names held: it checks them on every call
    x = 1.5
    g = s2sad.grad(calls_a_global)
    gg, vgg = s2sad.grad(g), s2sad.value_and_grad(g)
    g_of_g = s2sad.grad(lambda x: g(x) * 1.0)
    assert (g(x), gg(x), vgg(x), g_of_g(x)) == (12.0, 8.0, (12.0, 8.0), 8.0)
    monkeypatch.setitem(globals(), "outer_callee", lambda x: x ** 3)  # calls_a_global is x ** 6
    assert g(x) == pytest.approx(6 * x ** 5)
    assert gg(x) == vgg(x)[1] == g_of_g(x) == pytest.approx(30 * x ** 4)
    assert s2sad.jvp(calls_a_global, (x,), (1.0,))[1] == pytest.approx(6 * x ** 5)
    assert s2sad.hessian(calls_a_global)(x) == pytest.approx(30 * x ** 4)
    monkeypatch.undo()
    monkeypatch.setitem(globals(), "inner_callee", lambda x: x * x)  # a callee's callee: x ** 4 * 4
    assert g(x) == pytest.approx(16 * x ** 3)
    assert gg(x) == g_of_g(x) == pytest.approx(48 * x ** 2)
    assert s2sad.vjp(calls_a_global, x)[1](1.0)[0] == pytest.approx(16 * x ** 3)


def capturing(k):
    big = np.full(12_500, float(k))  # 100 kB
    return lambda w: np.sum(big * w)


def apply(f, w):
    return f(w) * 2.0


def test_derivatives_of_closures_die_with_them():
    from s2sad.transform import LINEMAPS

    w = np.ones(12_500)

    def differentiate(n):
        for k in range(n):
            f = capturing(k)
            assert s2sad.grad(f)(w)[0] == k
            assert s2sad.grad(apply, argnums=1)(f, w)[0] == 2.0 * k  # through vjp_of: one derivative per code
            assert s2sad.jvp(f, (w,), (w,))[1] == k * 12_500.0

    differentiate(3)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0], len(linecache.cache), len(LINEMAPS)
        differentiate(40)  # 4 MB of captured arrays, 120 derivatives
        gc.collect()
        after = tracemalloc.get_traced_memory()[0], len(linecache.cache), len(LINEMAPS)
    finally:
        tracemalloc.stop()
    assert after[0] - before[0] < 1_000_000
    assert after[1] - before[1] <= 2 and after[2] - before[2] <= 2


def test_a_derivative_keeps_its_function_alive():
    jac = s2sad.jacrev(lambda x: x * x)
    grad = s2sad.grad(lambda x: x * x)
    gc.collect()
    np.testing.assert_array_equal(jac(np.array([1.0, 2.0])), np.diag([2.0, 4.0]))
    assert grad(3.0) == 6.0
