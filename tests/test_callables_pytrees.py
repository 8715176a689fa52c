"""Every kind of callable, pytrees as JAX has them, and a ``grad`` rebuilt on every step of a
training loop costing no new transform."""

import numpy as np
import pytest

import s2sad
import s2sad.transform
from s2sad.numeric import gradient as numeric_grad
from s2sad.testing import check_grads

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3))
Y = RNG.normal(size=8)
P = RNG.normal(size=3)


def loss(p, x, y):
    return np.mean((np.tanh(x @ p) - y) ** 2)


@pytest.fixture
def transforms(monkeypatch):
    """The functions transformed from now on, by qualified name."""
    seen = []
    real = s2sad.transform.transform

    def counting(fn, *args, **kwargs):
        seen.append(fn.__qualname__)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(s2sad.transform, "transform", counting)
    return seen


# --- a grad rebuilt on every step --------------------------------------------------------


def _training(steps: int, make):
    p = P.copy()
    for i in range(steps):
        xb, yb = X[i % 4: i % 4 + 4], Y[i % 4: i % 4 + 4]
        g = make(xb, yb)(p)
        np.testing.assert_allclose(g, numeric_grad(lambda q: loss(q, xb, yb), p), rtol=1e-5, atol=1e-8)
        p = p - 0.1 * g
    return p


def test_a_grad_made_on_every_step_is_transformed_once(transforms):
    def make(xb, yb):
        return s2sad.grad(lambda p: loss(p, xb, yb))

    _training(1, make)
    first = list(transforms)
    _training(6, make)
    assert first and transforms == first


def test_value_and_grad_and_defaults_made_on_every_step(transforms):
    def step(xb, yb):
        return s2sad.value_and_grad(lambda p, x=xb, y=yb: loss(p, x, y))

    p = P.copy()
    for i in range(5):
        xb = X[i:i + 3]
        value, g = step(xb, Y[i:i + 3])(p)
        assert value == pytest.approx(loss(p, xb, Y[i:i + 3]))
        np.testing.assert_allclose(g, numeric_grad(lambda q: loss(q, xb, Y[i:i + 3]), p), rtol=1e-5, atol=1e-8)
    assert transforms.count("test_value_and_grad_and_defaults_made_on_every_step.<locals>.step.<locals>.<lambda>") == 1


def _scaled(c):
    return s2sad.grad(lambda x: np.sum(c * x * x))


def test_closures_of_one_code_read_their_own_cells():
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(_scaled(3.0)(x), 6.0 * x)
    np.testing.assert_allclose(_scaled(np.array([1.0, -1.0]))(x), 2.0 * np.array([1.0, -1.0]) * x)
    np.testing.assert_allclose(_scaled(0.5)(x), x)


def _activated(act):
    return s2sad.grad(lambda x: np.sum(act(x)))


def test_closures_holding_different_library_functions_do_not_share():
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(_activated(np.tanh)(x), 1 - np.tanh(x) ** 2)
    np.testing.assert_allclose(_activated(np.sin)(x), np.cos(x))


def _user_act(a):
    return a * a


def _calls(f):
    return s2sad.grad(lambda x: np.sum(f(x)))


def test_closures_holding_user_functions_are_exact():
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(_calls(_user_act)(x), 2 * x)
    np.testing.assert_allclose(_calls(lambda a: a * a * a)(x), 3 * x * x)


def act(a):
    return np.sin(a)


def _through_global():
    return s2sad.grad(lambda x: np.sum(act(x)))


def test_a_redefined_global_is_seen_by_a_new_grad():
    global act
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(_through_global()(x), np.cos(x))
    saved = act
    try:
        def act(a):
            return a * a * a

        np.testing.assert_allclose(_through_global()(x), 3 * x * x)
    finally:
        act = saved


def test_rebuilt_grad_in_forward_mode_and_second_order():
    for c in (0.5, 2.0):
        check_grads(lambda x: np.sum(np.sin(c * x) * x), (np.array([0.2, 0.9]),), modes=("rev", "fwd"))
        h = s2sad.hessian(lambda x: np.sum(c * x ** 3))(np.array([0.5, 1.0]))
        np.testing.assert_allclose(h, np.diag(6 * c * np.array([0.5, 1.0])))


# --- has_aux ---------------------------------------------------------------------------


def with_aux(x, n):
    y = np.sin(x) * x[0]
    return np.sum(y ** 2), {"pred": y, "n": n, "label": "mse", "none": None}


def vector_with_aux(x):
    y = np.sin(x) * x[0]
    return y, (np.sum(y), 3)


XA = np.array([0.4, -1.1, 0.7])


def _value(x):
    return with_aux(x, 2)[0]


def test_grad_and_value_and_grad_with_aux():
    g, aux = s2sad.grad(with_aux, has_aux=True)(XA, 2)
    np.testing.assert_allclose(g, numeric_grad(_value, XA), rtol=1e-6)
    assert aux["n"] == 2 and aux["label"] == "mse" and aux["none"] is None
    np.testing.assert_allclose(aux["pred"], np.sin(XA) * XA[0])
    (value, aux2), g2 = s2sad.value_and_grad(with_aux, has_aux=True)(XA, 2)
    assert value == pytest.approx(_value(XA))
    np.testing.assert_allclose(g2, g)
    assert aux2["n"] == 2
    decorated = s2sad.grad(has_aux=True)(with_aux)
    np.testing.assert_allclose(decorated(XA, 2)[0], g)


def test_vjp_jacrev_jacfwd_with_aux():
    out, pullback, aux = s2sad.vjp(vector_with_aux, XA, has_aux=True)
    expected = s2sad.numeric.jacobian(lambda x: vector_with_aux(x)[0], XA)
    np.testing.assert_allclose(pullback(np.ones(3))[0], np.ones(3) @ expected, rtol=1e-6)
    assert aux[1] == 3
    for jac in (s2sad.jacrev, s2sad.jacfwd):
        j, aux = jac(vector_with_aux, has_aux=True)(XA)
        np.testing.assert_allclose(j, expected, rtol=1e-6, atol=1e-9)
        assert aux[0] == pytest.approx(np.sum(vector_with_aux(XA)[0])) and aux[1] == 3


def test_has_aux_needs_a_pair():
    with pytest.raises(TypeError, match="has_aux=True requires .* to return a pair"):
        s2sad.grad(lambda x: x * x, has_aux=True)(1.0)


def test_has_aux_second_order_through_jacfwd_of_grad():
    grad_only = s2sad.grad(lambda x: with_aux(x, 2)[0])
    h = s2sad.jacfwd(grad_only)(XA)
    np.testing.assert_allclose(h, s2sad.numeric.hessian(_value, XA), rtol=1e-4, atol=1e-6)


# --- tree utilities ----------------------------------------------------------------------

Pair = __import__("collections").namedtuple("Pair", "w b")


@__import__("dataclasses").dataclass
class Layer:
    w: object
    b: object


TREE = {"z": Pair(np.ones((2, 2)), 1.5), "a": [None, Layer(np.float32(2.0), np.arange(3.0))], "t": (4.0,)}


def test_tree_flatten_and_unflatten_round_trip():
    leaves, treedef = s2sad.tree_flatten(TREE)
    assert len(leaves) == treedef.num_leaves == 5  # None is no leaf, as in JAX
    assert s2sad.tree_leaves(TREE)[0] == np.float32(2.0)  # keys sorted: "a" first
    back = s2sad.tree_unflatten(treedef, leaves)
    assert back["a"][0] is None and isinstance(back["z"], Pair) and isinstance(back["a"][1], Layer)
    assert list(back) == ["z", "a", "t"]
    assert s2sad.tree_flatten(back)[1] == treedef
    with pytest.raises(ValueError, match="5 leaves"):
        s2sad.tree_unflatten(treedef, leaves[:-1])


def test_tree_map_over_several_trees():
    doubled = s2sad.tree_map(lambda x, y: x + y, TREE, TREE)
    assert doubled["z"].b == 3.0 and doubled["a"][0] is None
    np.testing.assert_allclose(doubled["a"][1].b, 2 * np.arange(3.0))
    with pytest.raises(ValueError, match="different structures"):
        s2sad.tree_map(lambda x, y: x, {"a": 1.0}, {"b": 1.0})
    assert s2sad.tree_map(lambda x, y: y, {"a": 1.0}, {"a": (1.0, 2.0)}) == {"a": (1.0, 2.0)}  # a prefix


def test_ravel_pytree_round_trip():
    flat, unravel = s2sad.ravel_pytree(TREE)
    assert flat.shape == (10,) and flat.dtype == np.float64
    back = unravel(flat * 2)
    assert back["a"][1].w.dtype == np.float32 and back["a"][1].w == 4.0
    assert type(back["t"][0]) is float and back["t"][0] == 8.0
    np.testing.assert_allclose(back["z"].w, 2 * np.ones((2, 2)))


def dict_loss(params, x):
    return np.sum(np.tanh(x @ params["w"] + params["b"]) ** 2)


def test_ravel_pytree_with_gradients_against_finite_differences():
    params = {"w": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2)}
    flat, unravel = s2sad.ravel_pytree(params)
    g = s2sad.grad(dict_loss)(params, X)
    g_flat, _ = s2sad.ravel_pytree(g)
    np.testing.assert_allclose(g_flat, numeric_grad(lambda v: dict_loss(unravel(v), X), flat), rtol=1e-5, atol=1e-8)


# --- callables ----------------------------------------------------------------------------

import functools  # noqa: E402


class Model:
    def __init__(self):
        self.w = np.array([0.5, -1.5])

    def loss(self, x):
        return np.sum(np.sin(self.w * x) * x)

    def __call__(self, x, scale=1.0):
        return scale * np.sum(np.tanh(self.w * x) ** 2)

    @classmethod
    def cubed(cls, x):
        return np.sum(x ** 3)

    @staticmethod
    def squared(x):
        return np.sum(x * x)


def scaled(c, x, d=1.0):
    return np.sum(c * np.sin(x) * d)


XC = np.array([0.3, -0.8])


@pytest.mark.parametrize("fn", [Model().loss, Model(), Model.cubed, Model.squared,
                                functools.partial(scaled, 2.0), functools.partial(scaled, 2.0, d=3.0),
                                functools.partial(Model(), scale=2.0)],
                         ids=["method", "call", "classmethod", "staticmethod", "partial", "partial-keywords",
                              "partial-of-call"])
def test_callables_against_finite_differences(fn):
    expected = numeric_grad(fn, XC)
    np.testing.assert_allclose(s2sad.grad(fn)(XC), expected, rtol=1e-6, atol=1e-9)
    value, g = s2sad.value_and_grad(fn)(XC)
    assert value == pytest.approx(fn(XC))
    np.testing.assert_allclose(s2sad.jacrev(fn)(XC), expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s2sad.jacfwd(fn)(XC), expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s2sad.hessian(fn)(XC), s2sad.numeric.hessian(fn, XC),
                               rtol=1e-4, atol=1e-6)
    check_grads(fn, (XC,), modes=("rev", "fwd"), order=2)  # vjp and jvp of grad(fn): grad of a method, ...


def test_a_callable_object_without_source_is_not_called_a_builtin():
    class Opaque:
        __call__ = np.sin

    with pytest.raises(s2sad.SourceUnavailableError, match="a callable object"):
        s2sad.grad(Opaque())(1.0)


class _Scaled:
    def __init__(self, k):
        self.k = k

    def apply(self, x, y=1.0):
        return self.k * np.sin(x) * y


_scaled_apply = _Scaled(3.0).apply  # a bound method held by a global, called by that name


def calls_a_global_bound_method(x, y):
    return np.sum(_scaled_apply(x, y=y) * 2.0)


def test_a_global_bound_method_called_by_its_name_gets_its_receiver():
    x = np.array([0.5, -1.2, 2.0])
    check_grads(calls_a_global_bound_method, (x, 0.7), modes=("rev", "fwd"))
    check_grads(calls_a_global_bound_method, (0.3, 1.5), modes=("rev", "fwd"))


# ----- functools.partial as a callee: by name, as a value, passed on -----


def _scaled_sin(x, y, b=1.0):
    return np.sum(np.sin(x) * y * b)


_BOUND = functools.partial(_scaled_sin, b=3.0)


def partial_by_name(x):
    return _BOUND(x, x)


def partial_as_a_value(x):
    fn = functools.partial(_scaled_sin, b=2.0)
    return fn(x, x * 3.0)


_Y_BOUND = functools.partial(_scaled_sin, y=2.0)


def partial_default(x, fn=_Y_BOUND):
    return fn(x)


def _apply(fn, x):
    return fn(x, x)


def partial_passed_on(x):
    return _apply(functools.partial(functools.partial(_scaled_sin), b=0.5), x)


@pytest.mark.parametrize("fn", [partial_by_name, partial_as_a_value, partial_default, partial_passed_on])
def test_a_partial_called_in_differentiated_code(fn):
    check_grads(fn, (XC,), modes=("rev", "fwd"), order=2)


def partial_of_a_gradient_carrier(x):
    fn = functools.partial(_scaled_sin, x)  # (what it binds carries a gradient)
    return fn(x)


def test_a_partial_binding_a_value_that_carries_a_gradient_is_refused_where_it_is_made():
    with pytest.raises(s2sad.NoDerivativeRuleError, match=r"(?s)partial.*test_callables_pytrees.py:\d+"):
        s2sad.grad(partial_of_a_gradient_carrier)(XC)
