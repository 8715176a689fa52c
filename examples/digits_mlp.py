"""An MLP on scikit-learn's digits: a training loop with a progress bar, loss and accuracy
curves, and the five optimizers of s2sad.optim compared on one plot.

    python examples/digits_mlp.py [--quick] [--out DIR]
"""

import numpy as np
from _common import accuracy, batches, digits, init_mlp, loss, parse_args, progress, pyplot, save

import s2sad
from s2sad import optim

loss_and_grad = s2sad.value_and_grad(loss)


def train(opt, data, epochs, batch_size=64, seed=0, show=False):
    """Per-epoch mean training loss, train accuracy and test accuracy."""
    X_train, X_test, y_train, y_test = data
    params, rng = init_mlp(seed=seed), np.random.default_rng(seed)
    state = opt.init(params)
    history = {"loss": [], "train": [], "test": []}
    epochs_iter = progress(range(epochs), desc="epochs") if show else range(epochs)
    for _ in epochs_iter:
        losses = []
        for idx in batches(len(y_train), batch_size, rng):
            value, grads = loss_and_grad(params, X_train[idx], y_train[idx])
            grads, _ = optim.clip_by_global_norm(grads, 5.0)
            params, state = opt.update(grads, state, params)
            losses.append(float(value))
        history["loss"].append(np.mean(losses))
        history["train"].append(accuracy(params, X_train, y_train))
        history["test"].append(accuracy(params, X_test, y_test))
        if show and hasattr(epochs_iter, "set_postfix"):
            epochs_iter.set_postfix(loss=f"{history['loss'][-1]:.3f}", test_acc=f"{history['test'][-1]:.3f}")
    return history


def main():
    args = parse_args(__doc__.splitlines()[0])
    epochs = 4 if args.quick else 30
    data = digits()
    steps_per_epoch = -(-len(data[2]) // 64)
    plt = pyplot()

    schedule = optim.warmup(optim.cosine(3e-3, epochs * steps_per_epoch), steps_per_epoch)
    history = train(optim.adam(schedule), data, epochs, show=True)
    print(f"Adam with warm-up and cosine decay: test accuracy {history['test'][-1]:.4f}")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(range(1, epochs + 1), history["loss"])
    ax_loss.set(xlabel="epoch", ylabel="training loss", yscale="log", title="loss")
    ax_acc.plot(range(1, epochs + 1), history["train"], label="train")
    ax_acc.plot(range(1, epochs + 1), history["test"], label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax_acc.legend()
    fig.suptitle("MLP 64-128-10 on the digits, Adam with warm-up and cosine decay")
    save(fig, args.out, "digits_training.png")

    optimizers = {
        "SGD (0.1)": optim.sgd(0.1),
        "Momentum (0.02, β=0.9)": optim.momentum(0.02),
        "RMSProp (1e-3)": optim.rmsprop(1e-3),
        "Adam (1e-3)": optim.adam(1e-3),
        "AdamW (1e-3, λ=0.01)": optim.adamw(1e-3, weight_decay=1e-2),
    }
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, opt in optimizers.items():
        h = train(opt, data, epochs)
        ax.plot(range(1, epochs + 1), h["loss"], label=f"{name}: test {h['test'][-1]:.3f}")
        print(f"{name:24s} final loss {h['loss'][-1]:.4f}  test accuracy {h['test'][-1]:.4f}")
    ax.set(xlabel="epoch", ylabel="training loss", yscale="log", title="Five optimizers, same start and batches")
    ax.legend()
    save(fig, args.out, "digits_optimizers.png")


if __name__ == "__main__":
    main()
