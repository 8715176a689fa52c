"""The memory that s2sad.checkpointed_loop saves: the peak memory (tracemalloc) and the time of one
gradient of an n-step recurrence, stored whole against checkpointed every √n steps.

    python examples/checkpoint_memory.py [--quick] [--out DIR]
"""

import time

import numpy as np
from _common import parse_args, pyplot, save

import s2sad
from s2sad.testing import peak_memory


def step(h, W):
    return np.tanh(h @ W)


def plain(h, W, n):
    for _ in range(n):
        h = step(h, W)
    return np.sum(h * h)


def checkpointed(h, W, n):
    h = s2sad.checkpointed_loop(step, h, n, W)
    return np.sum(h * h)


def seconds(f, *args, repeat=3):
    """The best of ``repeat`` timings of ``f(*args)``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f(*args)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    args = parse_args(__doc__.splitlines()[0])
    ns = [25, 100, 400] if args.quick else [25, 50, 100, 200, 400, 800, 1600]
    rng = np.random.default_rng(0)
    h0, W = rng.standard_normal((32, 64)), rng.standard_normal((64, 64)) / 8.0
    grads = {"stored whole": s2sad.grad(plain, argnums=(0, 1)), "checkpointed_loop": s2sad.grad(checkpointed,
                                                                                                 argnums=(0, 1))}
    for a, b in zip(grads["stored whole"](h0, W, 30), grads["checkpointed_loop"](h0, W, 30)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)  # the same gradient
    memory = {name: [] for name in grads}
    times = {name: [] for name in grads}
    for n in ns:
        for name, g in grads.items():
            memory[name].append(peak_memory(g, h0, W, n) / 2**20)
            times[name].append(seconds(g, h0, W, n))
        print(f"n = {n:5d}: peak {memory['stored whole'][-1]:7.2f} MiB stored whole,"
              f" {memory['checkpointed_loop'][-1]:6.2f} MiB checkpointed;"
              f" time x{times['checkpointed_loop'][-1] / times['stored whole'][-1]:.2f}")

    plt = pyplot()
    fig, (ax, ax_t) = plt.subplots(1, 2, figsize=(10, 4))
    for name, marker in zip(grads, "os"):
        ax.loglog(ns, memory[name], marker + "-", label=name)
        ax_t.loglog(ns, times[name], marker + "-", label=name)
    state = h0.nbytes / 2**20
    ax.loglog(ns, [state * n for n in ns], "k:", lw=0.8, label="n states")
    ax.loglog(ns, [2 * state * np.sqrt(n) for n in ns], "k--", lw=0.8, label="2√n states")
    ax.set(xlabel="steps n", ylabel="peak memory of one gradient (MiB)", title="memory: n against √n")
    ax_t.set(xlabel="steps n", ylabel="seconds per gradient", title="time: each step runs twice")
    ax.legend(fontsize=8)
    ax_t.legend(fontsize=8)
    fig.suptitle(f"grad of {ns[-1]} steps of h = tanh(h @ W), h {h0.shape[0]}x{h0.shape[1]}")
    save(fig, args.out, "checkpoint_memory.png")


if __name__ == "__main__":
    main()
