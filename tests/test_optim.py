"""s2sad.optim: each optimizer and schedule against its formula on the first steps (hand-computed),
against torch.optim when torch is installed; clipping; mixed precision; bit-identical resumes."""

import math

import numpy as np
import pytest

import s2sad
from s2sad import optim

GRADS = [0.5, -1.0]  # the gradients of the first two steps, whatever the parameter


def run(opt, theta=1.0, grads=GRADS):
    state = opt.init(theta)
    thetas = []
    for g in grads:
        theta, state = opt.update(g, state, theta)
        thetas.append(theta)
    return thetas, state


def test_sgd_first_steps():
    assert run(optim.sgd(0.1))[0] == pytest.approx([1.0 - 0.1 * 0.5, 0.95 + 0.1 * 1.0], abs=1e-15)


def test_momentum_first_steps():
    # v1 = 0.5, θ1 = 1 - 0.05; v2 = 0.9 * 0.5 - 1 = -0.55, θ2 = 0.95 + 0.055
    assert run(optim.momentum(0.1))[0] == pytest.approx([0.95, 1.005], abs=1e-15)


def test_rmsprop_first_steps():
    # v1 = 0.01 * 0.25 = 0.0025; v2 = 0.99 * 0.0025 + 0.01 * 1 = 0.012475
    theta1 = 1.0 - 0.01 * 0.5 / (0.05 + 1e-8)
    theta2 = theta1 + 0.01 * 1.0 / (math.sqrt(0.012475) + 1e-8)
    assert run(optim.rmsprop(0.01))[0] == pytest.approx([theta1, theta2], abs=1e-15)
    assert theta1 == pytest.approx(0.9, abs=1e-6)


def test_adam_first_steps_are_bias_corrected_from_t_equals_1():
    # m1 = 0.05, v1 = 0.00025, m̂1 = 0.5, v̂1 = 0.25: the first step is η·sign(g)
    # m2 = 0.045 - 0.1 = -0.055, v2 = 0.999 * 0.00025 + 0.001 = 0.00124975
    m_hat, v_hat = -0.055 / (1 - 0.9**2), 0.00124975 / (1 - 0.999**2)
    theta1 = 1.0 - 0.1 * 0.5 / (0.5 + 1e-8)
    theta2 = theta1 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    thetas, state = run(optim.adam(0.1))
    assert thetas == pytest.approx([theta1, theta2], abs=1e-14)
    assert thetas == pytest.approx([0.9, 0.93661], abs=1e-5)
    assert state["step"] == 2 and state["mu"] == pytest.approx(-0.055) and state["nu"] == pytest.approx(0.00124975)


def test_adam_defaults_are_the_seeds():
    thetas, _ = run(optim.adam(), grads=[0.5])
    assert thetas[0] == pytest.approx(1.0 - 1e-3 * 0.5 / (0.5 + 1e-8), abs=1e-16)


def test_adamw_decays_outside_the_adaptive_step():
    theta1 = (1.0 - 0.1 * 0.01) * 1.0 - 0.1 * 0.5 / (0.5 + 1e-8)
    thetas, _ = run(optim.adamw(0.1, weight_decay=0.01), grads=[0.5])
    assert thetas[0] == pytest.approx(theta1, abs=1e-15) and theta1 == pytest.approx(0.899, abs=1e-6)
    # the decay does not depend on the gradient's scale: Adam's step does not either
    big, _ = run(optim.adamw(0.1, weight_decay=0.01), grads=[5000.0])
    assert big[0] == pytest.approx(thetas[0], abs=1e-8)


ALL = [optim.sgd(0.1), optim.momentum(0.1), optim.rmsprop(0.1), optim.adam(0.1), optim.adamw(0.1)]


@pytest.mark.parametrize("opt", ALL, ids=["sgd", "momentum", "rmsprop", "adam", "adamw"])
def test_pytrees_keep_structure_types_and_dtypes(opt):
    params = {"W": np.ones((2, 3), np.float32), "layers": [np.zeros(2), (0.5, np.float32(2.0))]}
    grads = {"W": np.full((2, 3), 0.5, np.float32), "layers": [np.ones(2), (1.0, np.float32(-1.0))]}
    state = opt.init(params)
    before = {"W": params["W"].copy()}
    for _ in range(2):
        new, state = opt.update(grads, state, params)
    assert new["W"].dtype == np.float32 and new["layers"][0].dtype == np.float64
    assert type(new["layers"][1][0]) is float and type(new["layers"][1][1]) is np.float32
    assert isinstance(new["layers"], list) and isinstance(new["layers"][1], tuple)
    assert np.all(new["W"] < 1.0) and np.array_equal(params["W"], before["W"])  # inputs untouched
    for leaf in s2sad.pytree.leaves(state):
        assert not isinstance(leaf, np.ndarray) or leaf.dtype in (np.float32, np.float64)
    if "mu" in state:
        assert state["mu"]["W"].dtype == np.float32


def test_learning_rate_may_be_a_schedule_called_with_the_steps_done():
    seen = []

    def schedule(t):
        seen.append(t)
        return 0.1 * (t + 1)

    thetas, _ = run(optim.sgd(schedule))
    assert seen == [0, 1] and thetas == pytest.approx([1.0 - 0.1 * 0.5, 0.95 + 0.2 * 1.0])


# ----- schedules -----

def test_step_decay_and_exponential():
    assert [optim.step_decay(0.1, 0.5, 3)(t) for t in range(7)] == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    assert [optim.exponential(0.1, 0.9)(t) for t in range(3)] == pytest.approx([0.1, 0.09, 0.081])


def test_cosine_is_the_seeds_example():
    s = optim.cosine(1e-3, 100)
    assert [s(0), s(50), s(100)] == pytest.approx([1e-3, 5e-4, 0.0], abs=1e-18)
    assert s(25) == pytest.approx(0.5e-3 * (1 + math.sqrt(0.5)))
    assert optim.cosine(1.0, 10, min_lr=0.1)(10) == pytest.approx(0.1) and s(150) == 0.0


def test_one_cycle_is_a_triangle():
    s = optim.one_cycle(1.0, 11, pct_start=0.5, div_factor=10.0, final_div_factor=10.0)
    # up from 0.1 to 1 at step 4.5 (0.5 * 11 - 1), down to 0.01 at step 10
    assert s(0) == pytest.approx(0.1) and s(10) == pytest.approx(0.01)
    assert s(2) == pytest.approx(0.1 + 0.9 * 2 / 4.5) and s(7) == pytest.approx(1.0 - 0.99 * 2.5 / 5.5)
    values = [s(t) for t in range(11)]
    peak = int(np.argmax(values))
    assert peak in (4, 5) and np.all(np.diff(values[:peak + 1]) > 0) and np.all(np.diff(values[peak:]) < 0)


def test_linear_warmup_and_composition():
    assert [optim.linear(0.0, 1.0, 4)(t) for t in (0, 1, 4, 9)] == [0.0, 0.25, 1.0, 1.0]
    s = optim.warmup(optim.cosine(1.0, 10), 5)
    assert [s(t) for t in (0, 1, 5, 10, 15)] == pytest.approx([0.0, 0.2, 1.0, 0.5, 0.0])
    j = optim.join([optim.constant(1.0), optim.step_decay(0.5, 0.1, 2), optim.constant(0.0)], [3, 7])
    assert [j(t) for t in range(9)] == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.05, 0.05, 0.0, 0.0])
    with pytest.raises(ValueError, match="one boundary fewer"):
        optim.join([optim.constant(1.0)], [3])


# ----- clipping -----

def test_clip_by_global_norm_over_all_leaves():
    grads = {"a": np.array([3.0], np.float32), "b": [4.0, np.zeros(2)]}
    clipped, norm = optim.clip_by_global_norm(grads, 1.0)
    assert norm == 5.0
    coef = 1.0 / (5.0 + 1e-6)
    assert clipped["a"].dtype == np.float32 and clipped["a"][0] == np.float32(3.0 * coef)
    assert clipped["b"][0] == 4.0 * coef and type(clipped["b"][0]) is float
    assert optim.global_norm(clipped) == pytest.approx(1.0, abs=1e-6)
    same, norm = optim.clip_by_global_norm(grads, 5.0)  # not above max_norm: untouched
    assert same is grads and norm == 5.0


def test_clip_by_value():
    clipped = optim.clip_by_value({"a": np.array([-3.0, 0.5, 2.0]), "b": -0.1}, 1.0)
    assert np.array_equal(clipped["a"], [-1.0, 0.5, 1.0]) and clipped["b"] == -0.1


# ----- against torch.optim -----

def torch_params(params):
    torch = pytest.importorskip("torch")
    return [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]


def grad_of(p):
    """A gradient that depends on the parameters, so each step sees a new one."""
    return np.sin(3.0 * p) + p**2 - 0.3


TORCH_CASES = {
    "sgd": (optim.sgd(0.1), lambda t, ps: t.optim.SGD(ps, lr=0.1)),
    "momentum": (optim.momentum(0.1, 0.9), lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9)),
    "rmsprop": (optim.rmsprop(0.01, 0.99, 1e-8), lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.99, eps=1e-8)),
    "adam": (optim.adam(0.1), lambda t, ps: t.optim.Adam(ps, lr=0.1, betas=(0.9, 0.999), eps=1e-8)),
    "adamw": (optim.adamw(0.1, weight_decay=0.05),
              lambda t, ps: t.optim.AdamW(ps, lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_matches_torch_optim_on_three_steps(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    params = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    ours, make = TORCH_CASES[name]
    theirs_params = torch_params(params)
    theirs = make(torch, theirs_params)
    state = ours.init(params)
    for _ in range(3):
        params, state = ours.update([grad_of(p) for p in params], state, params)
        for tp in theirs_params:
            tp.grad = torch.from_numpy(grad_of(tp.detach().numpy()))
        theirs.step()
        for p, tp in zip(params, theirs_params):
            np.testing.assert_allclose(p, tp.detach().numpy(), rtol=0, atol=1e-6)


def torch_schedules(torch):
    sched = torch.optim.lr_scheduler
    return {
        "step_decay": (optim.step_decay(0.1, 0.5, 2), lambda o: sched.StepLR(o, step_size=2, gamma=0.5)),
        "exponential": (optim.exponential(0.1, 0.9), lambda o: sched.ExponentialLR(o, gamma=0.9)),
        "cosine": (optim.cosine(0.1, 8, min_lr=0.01), lambda o: sched.CosineAnnealingLR(o, T_max=8, eta_min=0.01)),
        "one_cycle": (optim.one_cycle(0.1, 10), lambda o: sched.OneCycleLR(
            o, max_lr=0.1, total_steps=10, anneal_strategy="linear", cycle_momentum=False)),
        "warmup": (optim.linear(0.02, 0.1, 4), lambda o: sched.LinearLR(
            o, start_factor=0.2, end_factor=1.0, total_iters=4)),
    }


@pytest.mark.parametrize("name", ["step_decay", "exponential", "cosine", "one_cycle", "warmup"])
def test_schedules_match_torch(name):
    torch = pytest.importorskip("torch")
    ours, make = torch_schedules(torch)[name]
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    theirs = make(opt)
    for t in range(9):
        assert ours(t) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12), t
        opt.step()
        theirs.step()


def test_clip_by_global_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    tensors = torch_params(grads)
    for t, g in zip(tensors, grads):
        t.grad = torch.from_numpy(g.copy())
    norm = torch.nn.utils.clip_grad_norm_(tensors, 1.0)
    clipped, ours = optim.clip_by_global_norm(grads, 1.0)
    assert ours == pytest.approx(float(norm), abs=1e-12)
    for c, t in zip(clipped, tensors):
        np.testing.assert_allclose(c, t.grad.numpy(), rtol=0, atol=1e-12)


# ----- mixed precision -----

def mlp_loss(params, X, y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    z = logits - np.max(logits, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def mlp_problem(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.standard_normal((6, 8)).astype(np.float32) * 0.5, "b1": np.zeros(8, np.float32),
              "W2": rng.standard_normal((8, 3)).astype(np.float32) * 0.5, "b2": np.zeros(3, np.float32)}
    X = rng.standard_normal((16, 6)).astype(np.float32)
    return params, X, rng.integers(0, 3, 16)


def test_mixed_precision_gradients_are_unscaled_float32_close_to_float32_ones():
    params, X, y = mlp_problem()
    mp = optim.mixed_precision(mlp_loss, optim.sgd(0.1), loss_scale=1024.0)
    value, grads, finite = mp.value_and_grad(params, 1024.0, X, y)
    exact_value, exact = s2sad.value_and_grad(mlp_loss)(params, X, y)
    assert finite and value == pytest.approx(float(exact_value), rel=2e-3)
    for k in params:
        assert grads[k].dtype == np.float32
        np.testing.assert_allclose(grads[k], exact[k], rtol=0, atol=5e-3 * np.max(np.abs(exact[k])) + 1e-4)


def test_loss_scaling_keeps_small_float16_gradients_from_flushing_to_zero():
    def loss(w, x):
        return np.sum(w * x) * 1e-4

    w, x = np.ones(4, np.float32), np.full(4, 1e-4, np.float32)   # each gradient is 1e-8: 0 in float16
    unscaled = optim.mixed_precision(loss, optim.sgd(1.0), loss_scale=1.0).value_and_grad(w, 1.0, x)[1]
    scaled = optim.mixed_precision(loss, optim.sgd(1.0), loss_scale=2048.0).value_and_grad(w, 2048.0, x)[1]
    assert np.all(unscaled == 0.0)
    np.testing.assert_allclose(scaled, 1e-8, rtol=2e-3)


def test_dynamic_scale_halves_and_skips_on_overflow_and_grows_after_clean_steps():
    def loss(w, x):
        return np.sum(w * x)

    # the gradient is scale * 10 in float16: inf (above 65504) while the scale is 8192 or more
    w, x = np.ones(4, np.float32), np.full(4, 10.0, np.float32)
    mp = optim.mixed_precision(loss, optim.sgd(1e-3), growth_interval=3)
    state = mp.init(w)
    assert state["scale"] == 2.0**16
    scales, ws = [], []
    for _ in range(8):
        w, state, value = mp.step(w, state, x)
        scales.append(state["scale"])
        ws.append(w[0])
    assert scales == [2.0**15, 2.0**14, 2.0**13, 4096.0, 4096.0, 4096.0, 8192.0, 4096.0]
    assert state["skipped"] == 5 and state["opt"]["step"] == 3
    assert value == pytest.approx(40.0 * (1.0 - 3 * 1e-2), rel=1e-3)  # the loss before the skipped 8th step
    assert ws[:4] == [1.0] * 4 and ws[4] == np.float32(1.0 - 1e-3 * 10.0) and w.dtype == np.float32


def test_mixed_precision_trains_the_master_weights():
    params, X, y = mlp_problem()
    mp = optim.mixed_precision(mlp_loss, optim.adam(1e-2))
    state = mp.init(params)
    losses = []
    for _ in range(30):
        params, state, value = mp.step(params, state, X, y)
        losses.append(value)
    assert params["W1"].dtype == np.float32 and state["opt"]["mu"]["W1"].dtype == np.float32
    assert math.isfinite(losses[-1]) and losses[-1] < 0.5 * losses[0]


def test_static_scale_skips_a_non_finite_step_and_keeps_its_scale():
    params, X, y = mlp_problem()
    mp = optim.mixed_precision(mlp_loss, optim.sgd(0.1), loss_scale=1e6)  # overflows every time
    state = mp.init(params)
    new, state, _ = mp.step(params, state, X, y)
    assert state["scale"] == 1e6 and state["skipped"] == 1 and new is params
    with pytest.raises(ValueError, match="loss_scale"):
        optim.mixed_precision(mlp_loss, optim.sgd(0.1), loss_scale=-1.0)


# ----- training state -----

def train(params, state, steps, opt):
    for _ in range(steps):
        rng = np.random.default_rng(state["step"])  # the batch of step t, wherever the run starts
        X = rng.standard_normal((16, 6)).astype(np.float32)
        y = rng.integers(0, 3, 16)
        grads = s2sad.grad(mlp_loss)(params, X, y)
        grads, _ = optim.clip_by_global_norm(grads, 1.0)
        params, state = opt.update(grads, state, params)
    return params, state


def test_a_resumed_run_is_bit_identical(tmp_path):
    opt = optim.adamw(optim.warmup(optim.cosine(1e-2, 20), 3), weight_decay=0.1)
    params, _, _ = mlp_problem()
    params["scale"] = 1.0  # a Python float leaf
    straight, straight_state = train(params, opt.init(params), 6, opt)
    half, half_state = train(params, opt.init(params), 3, opt)
    path = tmp_path / "run.npz"
    optim.save(path, {"params": half, "opt": half_state})
    restored = optim.load(path)
    assert restored["opt"]["step"] == 3 and type(restored["opt"]["step"]) is int
    assert type(restored["params"]["scale"]) is float
    assert restored["params"]["W1"].dtype == np.float32
    assert list(restored["params"]) == list(half)
    resumed, resumed_state = train(restored["params"], restored["opt"], 3, opt)
    for a, b in zip(s2sad.pytree.leaves((straight, straight_state)), s2sad.pytree.leaves((resumed, resumed_state))):
        assert type(a) is type(b) and np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype


@pytest.mark.parametrize("module", ["optimizers", "schedules", "clipping", "mixed", "state"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"s2sad.optim.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
