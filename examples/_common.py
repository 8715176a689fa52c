"""What the examples share: the command line (--quick, --out), matplotlib without a display,
and the digits MLP (scikit-learn's bundled 8x8 digits, no download)."""

from __future__ import annotations

import argparse
import itertools
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent / "out"


def parse_args(description: str) -> argparse.Namespace:
    """``--quick`` (a run of a few seconds, for CI) and ``--out DIR`` (where the PNGs go)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds)")
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help=f"directory for the PNGs (default {OUT})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def pyplot():
    """matplotlib's pyplot on the Agg backend: files only, no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, out: pathlib.Path, name: str) -> None:
    path = out / name
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"wrote {path}")


def progress(iterable, **kwargs):
    """tqdm's progress bar when tqdm is installed, the bare iterable otherwise."""
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, **kwargs)


# ----- the digits MLP -----

def digits(dtype=np.float32):
    """Train and test splits of the 1797 8x8 digits, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(dtype)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def init_mlp(sizes=(64, 128, 10), seed=0, dtype=np.float32) -> dict:
    rng = np.random.default_rng(seed)
    params = {}
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
        params[f"W{i}"] = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)
        params[f"b{i}"] = np.zeros(n_out, dtype)
    return params


def logits(params, X):
    h = np.maximum(X @ params["W1"] + params["b1"], 0.0)
    return h @ params["W2"] + params["b2"]


def loss(params, X, y):
    """Softmax cross-entropy, shifted by the row maximum so that exp never overflows."""
    z = logits(params, X)
    z = z - np.max(z, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def accuracy(params, X, y) -> float:
    return float(np.mean(np.argmax(logits(params, X), axis=1) == y))


def batches(n: int, size: int, rng: np.random.Generator):
    order = rng.permutation(n)
    for start in range(0, n, size):
        yield order[start:start + size]
