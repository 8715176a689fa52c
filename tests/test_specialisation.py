"""Specialisation propagates: through tuple assignments, loop-carried tuples, helpers (written into their
caller, or made for the types it passes) and pytree arguments. Each case checks derivatives against
finite differences, and what the generated code no longer needs."""

import collections
import dataclasses
import functools
import math

import numpy as np
import pytest
import spec_corpus as sc

import s2sad
from s2sad import cache
from s2sad.testing import check_grads

GENERIC = ("unbroadcast", "np.shape", "add_bars", "tuple_adjoint", "zeros_like", "scalar_seed", "getitem_adjoint")


def grad_text(fn, args, argnums=0):
    return s2sad.source(fn, argnums=argnums, stage="grad", args=args)


def assert_no_generic_helpers(text):
    found = [h for h in GENERIC if h + "(" in text]
    assert not found, f"{found} in\n{text}"


def lorenz(x, y, z, s):
    return s * (y - x), x * (28.0 - z) - y, x * y - 2.5 * z


def rk2(s, h):
    x, y, z = 1.0, 1.0, 1.0
    for i in range(10):
        k1x, k1y, k1z = lorenz(x, y, z, s)
        k2x, k2y, k2z = lorenz(x + h * k1x, y + h * k1y, z + h * k1z, s)
        x, y, z = x + 0.5 * h * (k1x + k2x), y + 0.5 * h * (k1y + k2y), z + 0.5 * h * (k1z + k2z)
    return x + y + z


def test_float_code_through_helpers_and_tuple_assignments_needs_no_generic_helper():
    check_grads(rk2, (10.0, 0.01), argnums=(0, 1), modes=("rev", "fwd"))
    assert_no_generic_helpers(grad_text(rk2, (10.0, 0.01), (0, 1)))


def swaps(a, b):
    x, y = a, b
    for i in range(6):
        x, y = y, x * 0.5 + y * math.sin(a)
    return x * y


def test_swaps_in_a_loop_keep_floats():
    check_grads(swaps, (0.3, 0.8), argnums=(0, 1), modes=("rev", "fwd"))
    assert_no_generic_helpers(grad_text(swaps, (0.3, 0.8), (0, 1)))


def step(state, k):
    x, v = state
    return x + 0.1 * v, v - 0.1 * k * x


def carried_tuple(k):
    state = (1.0, 0.0)
    for i in range(8):
        state = step(state, k)
    return state[0] * state[1]


def test_a_loop_carried_tuple_keeps_its_entries_floats():
    check_grads(carried_tuple, (2.0,), modes=("rev", "fwd"))
    assert_no_generic_helpers(grad_text(carried_tuple, (2.0,)))


def oscillator(k):
    x, v = 1.0, 0.0
    for i in range(8):
        dx, dv = sc.rhs(x, v, k)  # another module's helper: called, made for floats
        x, v = x + 0.1 * dx, v + 0.1 * dv
    return x * x + v


def test_a_helper_of_another_module_is_made_for_the_types_its_caller_passes():
    check_grads(oscillator, (2.0,), modes=("rev", "fwd"))
    text = grad_text(oscillator, (2.0,))
    assert "rhs_vjp(" in text
    assert_no_generic_helpers(text)
    specialised = [b for b in cache.get_cache(oscillator, (0,)).entry((2.0,)).generated.bindings.values()
                   if hasattr(b, "__s2sad_callee__")]
    assert specialised and "unbroadcast" not in specialised[0].__s2sad_callee__[2].text


def recursive(x):
    return sc.fact(x, 4) + x


def test_a_recursive_helper_made_for_floats_stays_exact():
    check_grads(recursive, (1.3,))
    assert s2sad.grad(recursive)(2.0) == pytest.approx(4 * 2.0 ** 3 + 1.0)


def book(S, sigma, strikes):
    total = 0.0
    for K in strikes:  # a list of floats: its entries are floats
        d = (math.log(S / K) + 0.5 * sigma * sigma) / sigma
        total = total + S * sc.norm_cdf(d) - K * sc.norm_cdf(d - sigma)
    return total


def test_a_list_argument_of_floats_specialises_its_entries():
    check_grads(book, (100.0, 0.2, [90.0, 100.0, 110.0]), argnums=(0, 1), modes=("rev", "fwd"))
    assert_no_generic_helpers(grad_text(book, (100.0, 0.2, [90.0, 100.0, 110.0]), (0, 1)))
    # the key covers the structure and the leaves: a list holding an array is differentiated for what it holds
    g = s2sad.grad(book, argnums=(0, 1))
    check = g(100.0, 0.2, [90.0, 100.0])
    assert g(100.0, 0.2, [np.float64(90.0), 100.0]) == pytest.approx(check)
    with pytest.raises(TypeError):  # (an array's truth value where a float's was used: as NumPy raises)
        g(100.0, 0.2, [np.array([90.0, 95.0])])


def rnn(params, xs):
    h = np.zeros((xs.shape[1], params["Wh"].shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ params["Wx"] + h @ params["Wh"] + params["b"])
    return np.mean(h ** 2)


def test_dict_params_specialise_on_their_leaves_shapes():
    rng = np.random.default_rng(0)
    params = {"Wx": rng.standard_normal((3, 4)) * 0.5, "Wh": rng.standard_normal((4, 4)) * 0.3,
              "b": rng.standard_normal(4) * 0.1}
    xs = rng.standard_normal((5, 2, 3))
    check_grads(rnn, (params, xs), modes=("rev", "fwd"))
    text = grad_text(rnn, (params, xs))
    assert "unbroadcast(" not in text and "getitem_adjoint(" not in text, text
    g = s2sad.grad(rnn)
    # other leaf shapes (a batch of 3, a bias that broadcasts as a row) make a derivative of their own
    wide = dict(params, b=params["b"].reshape(1, 4))
    for p, x in ((params, rng.standard_normal((5, 3, 3))), (wide, xs)):
        check_grads(rnn, (p, x))
        assert all(g(p, x)[key].shape == p[key].shape for key in p)


def mlp(params, X):
    W1, b1, W2, b2 = params
    h = np.tanh(X @ W1 + b1)
    return np.sum((h @ W2 + b2) ** 2)


def test_list_params_unpacked_specialise_on_their_leaves_shapes():
    rng = np.random.default_rng(1)
    params = [rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal((5, 2)), rng.standard_normal(2)]
    X = rng.standard_normal((4, 3))
    check_grads(mlp, (params, X), modes=("rev", "fwd"))
    text = grad_text(mlp, (params, X))
    assert "unbroadcast(" not in text and "tuple_adjoint(" not in text, text


def shadows(x):
    sc_value = x * 2.0
    return uses_global(sc_value) + sc_value


OFFSET = 0.5


def uses_global(y):
    return y * OFFSET


def offset(x):
    OFFSET = x * 3.0  # a local named like the global the helper reads: the helper stays a call
    return uses_global(x) + OFFSET


def test_a_helper_reading_a_global_the_caller_shadows_is_not_written_in():
    check_grads(offset, (0.7,))
    assert s2sad.grad(offset)(0.7) == pytest.approx(0.5 + 3.0)
    assert "uses_global_vjp" in grad_text(offset, (0.7,))
    check_grads(shadows, (0.7,))


def layered(params, x):
    return sc.layer_sum(params, x) + sc.layer_sum(params, 2.0 * x)


def test_a_pytree_passed_to_a_helper_of_another_module_specialises_it():
    rng = np.random.default_rng(2)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    x = rng.standard_normal((4, 3))
    check_grads(layered, (params, x), argnums=(0, 1), modes=("rev",))


def products(a, b):
    return np.sum(np.sin(a @ b))


def dots(a, b):
    return np.sum(np.sin(np.dot(a, b)))


@pytest.mark.parametrize("fn", [products, dots])
@pytest.mark.parametrize("shapes", [((3, 4), (4,)), ((4,), (4, 2)), ((4,), (4,)), ((3, 4), (4, 2)),
                                    ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 5))],
                         ids=["matrix-vector", "vector-matrix", "vector-vector", "matrix-matrix", "batched",
                              "stack-matrix", "broadcast-batch"])
def test_products_of_known_rank_are_written_out(fn, shapes):
    if fn is dots and len(shapes[0]) + len(shapes[1]) > 4:
        pytest.skip("np.dot of stacks is a tensordot: its helper stays")
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal(s) for s in shapes)
    check_grads(fn, (a, b), argnums=(0, 1), modes=("rev", "fwd"))
    text = grad_text(fn, (a, b), (0, 1))
    if shapes != ((1, 3, 4), (2, 4, 5)):  # (batch dimensions that broadcast: summed by the helper)
        assert "_lhs_adjoint(" not in text and "_rhs_adjoint(" not in text, text
        assert "unbroadcast(" not in text, text


def elementwise(x):
    return np.sum(np.sin(x) * np.exp(-x**2) + np.log1p(x**2))


def test_an_elementwise_gradient_frees_its_temporaries():
    from s2sad.testing import peak_memory

    x = np.random.default_rng(4).standard_normal(200_000)
    check_grads(elementwise, (x[:5],), modes=("rev", "fwd"))
    assert "del " in grad_text(elementwise, (x,))
    forward, gradient = peak_memory(elementwise, x), peak_memory(s2sad.grad(elementwise), x)
    assert gradient <= 1.5 * forward, (gradient, forward)


def test_source_shows_a_callee_made_for_the_types_passed():
    text = s2sad.source(oscillator, args=(2.0,), callees=True)
    assert "vjp of rhs" in text
    assert "unbroadcast(" not in text


def clipped_sum(xs, limit=3.0):
    total = 0.0
    for v in xs:
        if total > limit:
            break
        total = total + v * v
    return total


def first_positive(a, b):
    if a > 0.0:
        return a * b
    try:
        out = math.sqrt(-a) * b
    except ValueError:
        out = b
    return out


def pair(x):
    return [x * 2.0, {"s": math.sin(x)}]


def helpers_of_every_shape(x, y):
    total = clipped_sum([x, y, x * y], limit=2.0) + clipped_sum((y, x))
    total = total + first_positive(x - 1.0, y) + first_positive(b=x, a=y)
    p = pair(y)
    return total + p[0] * p[1]["s"] + helper_with_kwonly(x, scale=y)


def helper_with_kwonly(x, *, scale=1.0):
    return x * scale


@pytest.mark.parametrize("args", [(0.3, 0.9), (1.7, -0.4), (-2.0, 0.5)])
def test_helpers_written_in_keep_their_meaning(args):
    check_grads(helpers_of_every_shape, args, argnums=(0, 1), modes=("rev", "fwd"))
    assert "_vjp(" not in grad_text(helpers_of_every_shape, args, (0, 1))  # (all of them written in)


def joined_by_keyword(x, a, b):
    return sc.doubled(x, ys=[a, b]) + sc.doubled_default(x) + sc.doubled_default(x, c=[a, b])


def test_a_helper_made_for_its_arguments_knows_those_passed_by_keyword_and_its_defaults():
    # (made for the facts of the positional arguments alone, `ys` was taken for an array: `ys + ys` an addition)
    check_grads(joined_by_keyword, (1.5, 2.0, 3.0), argnums=(0, 1, 2), modes=("rev", "fwd"))
    assert s2sad.grad(joined_by_keyword, argnums=2)(1.5, 2.0, 3.0) == pytest.approx(1.5 * 2.0 + 1.5)


@dataclasses.dataclass
class Layer:
    w: np.ndarray
    b: np.ndarray


def layer_in_a_dict(params, x):
    return np.sum(sc.field_affine(params["layer"], x) ** 2)


def test_a_dataclass_inside_a_pytree_is_not_specialised_on():
    params = {"layer": Layer(np.ones(3), np.arange(3.0))}
    check_grads(layer_in_a_dict, (params, np.linspace(0.5, 1.5, 3)), argnums=(0, 1), modes=("rev", "fwd"))


Record = collections.namedtuple("Record", "w b")


def finally_scaled(x, t):
    y = x * 2.0
    try:
        if t > 0.5:
            raise ValueError("large")
        y = y * x
    except ValueError:
        y = y + 1.0
    finally:
        y = y * 3.0
    return y


def powers_until(x, n):
    y = x
    for i in range(n):
        y = y * x
        if i == 2:
            raise ValueError("stop")
    return y


def make_record(w, b):
    return Record(w, b)


def use_record(p, x):
    return p.w * x + p.b


def three(a, b, c):
    return a * b + c


@functools.wraps(three)
def forwarding(*args, **kwargs):
    return three(*args, **kwargs)


def helpers_of_main_constructs(x, y):
    total = 0.0
    for t in [0.1, 0.9, 0.3]:
        total = total + finally_scaled(x, t)
    for n in [2, 5, 1, 4]:
        try:
            z = powers_until(y, n)  # (stops partway where n > 3: the handler's value, not the loop's)
        except ValueError:
            z = y
        total = total + z
    p = make_record(x, y)
    pair = (y, x)
    return total + use_record(p, y) + three(x, *pair) + forwarding(y, x, x)


@pytest.mark.parametrize("args", [(1.3, 0.7), (0.6, 1.2)])
def test_helpers_with_try_finally_records_and_star_arguments_written_in_keep_their_meaning(args):
    check_grads(helpers_of_main_constructs, args, argnums=(0, 1), modes=("rev", "fwd"))
    text = grad_text(helpers_of_main_constructs, args, (0, 1))
    assert "_vjp(" not in text, text  # (all of them written in)


def records_in_and_out(rec, x):
    q = make_record(rec.w * x, rec.b)
    return np.sum(use_record(q, x) + use_record(rec, x))


def test_a_record_argument_through_helpers_written_in():
    rec = Record(np.linspace(0.1, 0.3, 3), np.ones(3))
    check_grads(records_in_and_out, (rec, np.arange(3.0)), argnums=(0, 1), modes=("rev", "fwd"))
