"""Mixed precision: the digits MLP trained with its forward and backward pass in float16 from
float32 master weights (dynamic loss scaling), against the same training in float32.

    python examples/mixed_precision.py [--quick] [--out DIR]
"""

import numpy as np
from _common import accuracy, batches, digits, init_mlp, loss, parse_args, progress, pyplot, save

import s2sad
from s2sad import optim


def run(step, params, state, data, epochs, desc):
    """Train with ``step(params, state, X, y) -> (params, state, loss)``; the per-step losses and states."""
    X_train, _, y_train, _ = data
    rng = np.random.default_rng(0)  # the same batches for both runs
    losses, states = [], []
    for _ in progress(range(epochs), desc=desc):
        for idx in batches(len(y_train), 64, rng):
            params, state, value = step(params, state, X_train[idx], y_train[idx])
            losses.append(value)
            states.append(state)
    return params, losses, states


def main():
    args = parse_args(__doc__.splitlines()[0])
    epochs = 3 if args.quick else 40
    data = digits()
    X_test, y_test = data[1], data[3]
    opt = optim.adam(1e-3)
    params = init_mlp()

    loss_and_grad = s2sad.value_and_grad(loss)

    def float32_step(params, state, X, y):
        value, grads = loss_and_grad(params, X, y)
        params, state = opt.update(grads, state, params)
        return params, state, float(value)

    p32, losses32, _ = run(float32_step, params, opt.init(params), data, epochs, "float32")
    mp = optim.mixed_precision(loss, opt, loss_scale="dynamic", growth_interval=200)
    p16, losses16, states = run(mp.step, params, mp.init(params), data, epochs, "float16")

    acc32 = accuracy(p32, X_test, y_test)
    acc16 = accuracy(mp.cast(p16), X_test.astype(np.float16), y_test)  # evaluated in float16 too
    print(f"test accuracy: float32 {acc32:.4f}, mixed float16 {acc16:.4f} (difference {acc16 - acc32:+.4f});"
          f" {states[-1]['skipped']} of {len(states)} steps skipped, final loss scale {states[-1]['scale']:g}")

    plt = pyplot()
    fig, (ax, ax_scale) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"wspace": 0.3})
    ax.semilogy(losses32, lw=0.8, label=f"float32: test accuracy {acc32:.3f}")
    ax.semilogy(losses16, lw=0.8, alpha=0.8, label=f"float16, float32 master weights: {acc16:.3f}")
    ax.set(xlabel="step", ylabel="training loss (batch)", title="same start, same batches")
    ax.legend(fontsize=8)
    ax_scale.semilogy([s["scale"] for s in states], drawstyle="steps-post")
    ax_scale.set(xlabel="step", ylabel="loss scale",
                 title="dynamic loss scale: halved on overflow, x2 after 200 clean steps")
    ax_scale.title.set_fontsize(9)
    save(fig, args.out, "mixed_precision.png")


if __name__ == "__main__":
    main()
