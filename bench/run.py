"""Benchmark s2sad.grad against hand-written NumPy gradients (and peers, when installed).

Run from the repository root:  python bench/run.py  [--quick]

For each workload, in one process, it interleaves the candidates, takes the median
of repeated samples (each sample times enough calls to last ~20 ms), and prints the
time per gradient and the ratio to the hand-written gradient. It also reports the
transform time of the first call and the peak memory of one gradient against the
hand-written one (tracemalloc), and checks that the gradients agree to 1e-8.
Peers (autograd, JAX with and without jit) get a column when they import; they run
the same function code with ``np`` and ``math`` bound to their own modules.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import s2sad  # noqa: E402
import s2sad.transform  # noqa: E402
from s2sad.testing import peak_memory  # noqa: E402
from workloads import workloads  # noqa: E402

MEMORY_FLOOR = 4096  # bytes: a hand-written peak below this (scalar workloads) gets no memory ratio


def rebind(fn, np_module, math_module):
    """``fn``'s code with ``np`` and ``math`` bound to a peer's modules."""
    g = dict(fn.__globals__, np=np_module, math=math_module)
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


def peers(fn, argnums):
    """Gradient functions of the installed peers, by column name."""
    out = {}
    try:
        import autograd
        import autograd.numpy as anp

        out["autograd"] = autograd.grad(rebind(fn, anp, anp), argnum=argnums)
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        g = jax.grad(rebind(fn, jnp, jnp), argnums=argnums)
        out["jax"] = g
        out["jax.jit"] = jax.jit(g, static_argnums=())
    except ImportError:
        pass
    return out


def per_call(f, args, budget=0.02):
    """Seconds per call of ``f(*args)``, timing enough calls to last about ``budget``."""
    n, t = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(n):
            f(*args)
        t = time.perf_counter() - start
        if t >= budget or n >= 1 << 20:
            return t / n
        n *= 2 if t <= 0 else max(2, min(10, int(budget / t) + 1))


def agree(a, b, tol=1e-8):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    return all(np.allclose(x, y, rtol=tol, atol=tol) for x, y in zip(a, b))


def transform_ms(fn, argnums, args):
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    params = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    scalars = frozenset(p for p, a in zip(params, args) if isinstance(a, float))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        s2sad.transform.transform(fn, tuple(params[i] for i in nums), scalars)
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7, help="timing samples per candidate (median taken)")
    parser.add_argument("--quick", action="store_true", help="3 samples, shorter budget (a smoke test)")
    parser.add_argument("--no-peers", action="store_true", help="skip autograd and JAX even if installed")
    args = parser.parse_args(argv)
    samples, budget = (3, 0.005) if args.quick else (args.samples, 0.02)
    rows = []
    for name, fn, hand, fargs, argnums in workloads():
        grad = s2sad.grad(fn, argnums=argnums)
        ours, theirs = grad(*fargs), hand(*fargs)
        ok = agree(ours, theirs)
        cands = {"hand": hand, "s2sad": grad}
        if not args.no_peers:
            cands.update(peers(fn, argnums))
        for f in cands.values():  # warm up (and compile, for jit)
            f(*fargs)
        times = {k: [] for k in cands}
        for _ in range(samples):
            for k, f in cands.items():
                times[k].append(per_call(f, fargs, budget))
        med = {k: statistics.median(v) for k, v in times.items()}
        hand_peak = peak_memory(hand, *fargs)  # below a few KiB the ratio is allocator noise: not shown
        mem = peak_memory(grad, *fargs) / hand_peak if hand_peak >= MEMORY_FLOOR else None
        rows.append((name, med, ok, transform_ms(fn, argnums, fargs), mem))
    columns = ["s2sad"] + [c for c in ("autograd", "jax", "jax.jit") if any(c in r[1] for r in rows)]
    head = f"{'workload':34} {'hand':>10} " + " ".join(f"{c + ' /hand':>15}" for c in columns)
    print(head + f" {'transform':>10} {'peak mem':>9} {'agree':>6}")
    for name, med, ok, tms, mem in rows:
        cells = " ".join(f"{med[c] / med['hand']:>15.2f}" if c in med else f"{'-':>15}" for c in columns)
        print(f"{name:34} {med['hand'] * 1e6:>8.1f}us {cells} {tms:>8.1f}ms {f'{mem:.2f}x' if mem is not None else '-':>9} {'yes' if ok else 'NO':>6}")
    return 0 if all(r[2] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
