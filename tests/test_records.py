"""Namedtuples and dataclasses as pytrees, as JAX has them: as arguments (their fields read as
attributes carry gradients), made inside the function, returned, nested with dicts, lists and
``None``. A gradient comes back as the argument's own type; a dataclass's fields marked static
are kept as they are. Checked against finite differences in reverse and forward mode and at
second order."""

import collections
import dataclasses
import typing

import numpy as np
import pytest

import s2sad
from s2sad.numeric import gradient as numeric_grad
from s2sad.testing import check_grads

RNG = np.random.default_rng(3)
X = RNG.normal(size=(5, 3))

Linear = collections.namedtuple("Linear", "W b")


class Adam(typing.NamedTuple):
    lr: float
    decay: np.ndarray = None


@dataclasses.dataclass
class Layer:
    W: np.ndarray
    b: np.ndarray
    activation: str = dataclasses.field(default="tanh", metadata={"static": True})


@dataclasses.dataclass(frozen=True)
class Model:
    layers: list
    scale: float
    extra: dict


def check(f, args, second=True):
    check_grads(f, args, modes=("rev", "fwd"))
    if second:
        check_grads(s2sad.grad(f), args, argnums=(0,), modes=("rev", "fwd"))


def linear_loss(p, x):
    return np.sum(np.tanh(x @ p.W + p.b) ** 2)


def layer_loss(layer, x):
    h = x @ layer.W + layer.b
    return np.sum((np.tanh(h) if layer.activation == "tanh" else h) ** 2)


def model_loss(m, x):
    for layer in m.layers:
        x = np.tanh(x @ layer.W + layer.b)
    return m.scale * np.sum(x ** 2) + np.sum(m.extra["shift"] * x) + (0.0 if m.extra["none"] is None else 1.0)


def optimizer_loss(opt, x):
    return opt.lr * np.sum(x ** 2) + (0.0 if opt.decay is None else np.sum(opt.decay * x[0]))


def _model():
    layers = [Linear(RNG.normal(size=(3, 4)) * 0.5, RNG.normal(size=4)),
              Layer(RNG.normal(size=(4, 2)) * 0.5, RNG.normal(size=2))]
    return Model(layers, 0.7, {"shift": RNG.normal(size=2), "none": None})


@pytest.mark.parametrize("f, arg", [
    (linear_loss, Linear(RNG.normal(size=(3, 2)), RNG.normal(size=2))),
    (layer_loss, Layer(RNG.normal(size=(3, 2)), RNG.normal(size=2))),
    (layer_loss, Layer(RNG.normal(size=(3, 2)), RNG.normal(size=2), activation="linear")),
    (model_loss, _model()),
    (optimizer_loss, Adam(0.1)),
    (optimizer_loss, Adam(0.1, RNG.normal(size=3))),
], ids=["namedtuple", "dataclass", "static field", "frozen nested", "None leaf", "typed NamedTuple"])
def test_records_as_arguments(f, arg):
    check(f, (arg, X))


def test_the_gradient_has_the_arguments_type_and_static_fields():
    m = _model()
    g = s2sad.grad(model_loss)(m, X)
    assert type(g) is Model and type(g.layers[0]) is Linear and type(g.layers[1]) is Layer
    assert g.layers[1].activation == "tanh" and g.extra["none"] is None
    assert not np.shares_memory(g.layers[0].W, m.layers[0].W)
    flat, unravel = s2sad.ravel_pytree(m)
    np.testing.assert_allclose(s2sad.ravel_pytree(g)[0], numeric_grad(lambda v: model_loss(unravel(v), X), flat),
                               rtol=1e-5, atol=1e-8)
    layer = Layer(np.ones((3, 2), np.float32), np.zeros(2, np.float32))
    assert s2sad.grad(layer_loss)(layer, X).W.dtype == np.float32


def make_and_read(w, b):
    p = Linear(w * 2.0, b=np.sin(b))
    layer = Layer(W=p.W, b=p.b[0])
    first, second = p
    return np.sum(layer.W ** 2) * layer.b + np.sum(first * second[0])


def test_records_made_inside_the_function():
    check(make_and_read, (RNG.normal(size=3), RNG.normal(size=2)))


def make_output(w, b):
    return Linear(np.sin(w), {"b": b * 2.0, "pair": Layer(w * b, b)})


def test_records_as_outputs():
    w, b = RNG.normal(size=3), 0.4
    check_grads(make_output, (w, b), modes=("rev", "fwd"))
    out, pullback = s2sad.vjp(make_output, w, b)
    assert type(out) is Linear and type(out.b["pair"]) is Layer
    cotangent = Linear(np.ones(3), {"b": 1.0, "pair": Layer(np.ones(3), 0.0)})
    np.testing.assert_allclose(pullback(cotangent)[0], np.cos(w) + b)
    with pytest.raises(TypeError, match="must be a Layer"):
        pullback(Linear(np.ones(3), {"b": 1.0, "pair": (np.ones(3), 0.0)}))
    for jac in (s2sad.jacrev, s2sad.jacfwd):
        j = jac(make_output)(w, b)
        assert type(j) is Linear and type(j.b["pair"]) is Layer
        np.testing.assert_allclose(j.W, np.diag(np.cos(w)))
        np.testing.assert_allclose(j.b["pair"].W, b * np.eye(3))


def test_hessian_of_a_dataclass_argument_nests_as_jax_does():
    layer = Layer(RNG.normal(size=(3, 2)) * 0.3, RNG.normal(size=2))
    h = s2sad.hessian(layer_loss)(layer, X)
    assert type(h) is Layer and type(h.W) is Layer and h.W.W.shape == (3, 2, 3, 2) and h.b.W.shape == (2, 3, 2)
    v = Layer(RNG.normal(size=(3, 2)), RNG.normal(size=2))
    hv = s2sad.hvp(layer_loss, (layer, X), (v, np.zeros_like(X)))
    expected = np.einsum("ijkl,kl->ij", h.W.W, v.W) + np.einsum("ijk,k->ij", h.W.b, v.b)
    np.testing.assert_allclose(hv.W, expected, rtol=1e-6, atol=1e-9)


def numpy_results(a):
    return np.linalg.slogdet(a @ a.T + np.eye(3)).logabsdet + np.sum(np.linalg.eigh(a + a.T).eigenvalues ** 2)


def test_fields_of_numpy_results():
    check(numpy_results, (RNG.normal(size=(3, 3)),))


@dataclasses.dataclass
class Checked:
    W: np.ndarray

    def __post_init__(self):
        self.W = np.asarray(self.W) * 2.0

    @property
    def norm(self):
        return np.sum(self.W ** 2)


def property_loss(c):
    return c.norm


def post_init_loss(w):
    return np.sum(Checked(w).W)


def test_what_is_not_a_field_is_refused():
    with pytest.raises(TypeError, match=r"\.norm of this Checked is a property or method"):
        s2sad.grad(property_loss)(Checked(np.ones(2)))
    with pytest.raises(s2sad.NoDerivativeRuleError, match="Checked"):  # __post_init__ may change the fields
        s2sad.grad(post_init_loss)(np.ones(2))


@dataclasses.dataclass
class Sized:
    W: np.ndarray
    n: int = 2


def sized_loss(s):
    return np.sum(s.W) * s.n


def test_an_integer_field_says_how_to_mark_it_static():
    with pytest.raises(TypeError, match=r"int inside a pytree.*field\(metadata=\{'static': True\}\)"):
        s2sad.grad(sized_loss)(Sized(np.ones(2)))


def imaginary(x):
    return np.sum(x.imag + x * x)


def test_an_array_attribute_without_a_rule_is_refused():
    with pytest.raises(s2sad.NoDerivativeRuleError, match=r"attribute \.imag"):
        s2sad.grad(imaginary)(np.ones(2))  # known to be an array: refused when transformed
    with pytest.raises(TypeError, match=r"\.imag"):
        s2sad.grad(lambda x: imaginary(x * 2.0))(np.ones(2))  # in a callee


def written_after_made(x):
    y = x * 1.0
    layer = Linear(y, x)
    y[1] = x[0] ** 2  # the record holds y itself: layer.W sees this write
    return np.sum(layer.W * x)


def written_before_made(x):
    y = x * 1.0
    y[1] = x[0] ** 2
    layer = Linear(y, x)
    return np.sum(layer.W * layer.b)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_a_record_sees_a_write_into_an_array_it_holds(mode):
    with pytest.raises(s2sad.S2SADSyntaxError, match="'layer' shares memory with the array written here") as info:
        if mode == "rev":
            s2sad.grad(written_after_made)(X[0])
        else:
            s2sad.jvp(written_after_made, (X[0],), (X[1],))
    assert info.value.lineno == written_after_made.__code__.co_firstlineno + 3
    check_grads(written_before_made, (X[0],), modes=("rev", "fwd"))
