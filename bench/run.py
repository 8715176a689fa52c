"""Benchmark s2sad.grad against hand-written NumPy gradients (and peers, when installed).

Run from the repository root:  python bench/run.py  [--quick] [--no-peers]

For each workload, in one process, it interleaves s2sad and the hand-written gradient:
each sample times both back to back (enough calls to last ~20 ms each), and the ratio
printed is the median over samples of s2sad's time over the hand-written gradient's in
the same sample (the hand-written time printed is its median). Each peer is measured
the same way against the hand-written gradient in a process of its own. It also reports the
transform time of the first call (what a fresh ``grad`` does before its first gradient) and
the peak memory of one gradient against the hand-written one (tracemalloc), and
checks that every candidate's gradients agree with the hand-written ones to 1e-8
(a ratio marked ``!`` did not).

Peers get a column when they import: autograd, JAX with and without ``jit``, PyTorch
(in a run with JAX in the same process, the hand-written MLP gradient ran 2x slower).
They run the same function code with ``np`` and ``math`` bound to their own modules
(PyTorch: a small shim mapping the handful of NumPy calls the workloads use).

Everything runs on one thread (``OMP_NUM_THREADS`` and friends default to 1, as in
the measurements issue 7 quotes): with two BLAS thread pools in one process
(OpenBLAS's and PyTorch's OpenMP one) on a small machine, merely importing torch made
the hand-written MLP gradient 2.4x slower, which would skew every ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import types

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy (or a peer) starts its thread pool
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from workloads import TARGETS, all_workloads  # noqa: E402

import s2sad  # noqa: E402
import s2sad.cache  # noqa: E402
from s2sad.testing import peak_memory  # noqa: E402

MEMORY_FLOOR = 4096  # bytes: a hand-written peak below this (scalar workloads) gets no memory ratio
PEERS = ("autograd", "jax", "jax.jit", "torch")


def rebind(fn, np_module, math_module, sl_module=None):
    """``fn``'s code with ``np``, ``math`` and ``sl`` (``scipy.linalg``) bound to a peer's modules (and so the
    helpers of its module it calls)."""
    g = dict(fn.__globals__, np=np_module, math=math_module, sl=sl_module)
    for name, value in fn.__globals__.items():
        if isinstance(value, types.FunctionType) and value.__module__ == fn.__module__:
            g[name] = types.FunctionType(value.__code__, g, value.__name__, value.__defaults__, value.__closure__)
    return g[fn.__name__] if g.get(fn.__name__) is not None else types.FunctionType(
        fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


def _nums(argnums) -> tuple[int, ...]:
    return argnums if isinstance(argnums, tuple) else (argnums,)


def torch_numpy(torch):
    """The NumPy (and ``math``) calls the workloads make, on torch tensors."""
    def reduction(f):
        return lambda x, axis=None, keepdims=False: f(x) if axis is None else f(x, dim=axis, keepdim=keepdims)

    return types.SimpleNamespace(
        sin=torch.sin, cos=torch.cos, tanh=torch.tanh, exp=torch.exp, log1p=torch.log1p,
        log=lambda x: torch.log(torch.as_tensor(x, dtype=torch.float64)),
        sum=reduction(torch.sum), mean=reduction(torch.mean), max=reduction(torch.amax), arange=torch.arange,
        diag=torch.diag, eye=lambda n: torch.eye(n, dtype=torch.float64), pi=torch.pi)


def torch_linalg(torch):
    """The ``scipy.linalg`` calls the workloads make, on torch tensors."""
    def solve_triangular(a, b, lower=False):
        column = b[:, None] if b.ndim == 1 else b
        x = torch.linalg.solve_triangular(a, column, upper=not lower)
        return x[:, 0] if b.ndim == 1 else x

    return types.SimpleNamespace(
        cholesky=lambda a, lower=False: torch.linalg.cholesky(a) if lower else torch.linalg.cholesky(a).mT,
        solve_triangular=solve_triangular)


def torch_grad(fn, argnums):
    """``fn``'s gradient by PyTorch's autograd: inputs become float64 leaf tensors per call."""
    import torch

    f, nums = rebind(fn, torch_numpy(torch), torch_numpy(torch), torch_linalg(torch)), _nums(argnums)

    def leaf(i, a):
        if isinstance(a, float):
            return torch.tensor(a, dtype=torch.float64, requires_grad=i in nums)
        return torch.from_numpy(a).requires_grad_(i in nums and a.dtype.kind == "f")

    def grad(*args):
        inputs = [leaf(i, a) for i, a in enumerate(args)]
        gs = torch.autograd.grad(f(*inputs), [inputs[i] for i in nums])
        gs = tuple(g.item() if g.ndim == 0 else g.numpy() for g in gs)
        return gs if isinstance(argnums, tuple) else gs[0]

    return grad


def peers(fn, argnums, names):
    """Gradient functions of the installed peers among ``names``, by column name."""
    out = {}
    if "autograd" in names:
        try:
            import autograd
            import autograd.numpy as anp
            import autograd.scipy.linalg as asl
            import autograd.scipy.special as asp

            amath = types.SimpleNamespace(**{k: getattr(anp, k) for k in dir(anp) if not k.startswith("_")},
                                          erf=asp.erf)
            linalg = types.SimpleNamespace(  # (autograd differentiates numpy's cholesky, not scipy's)
                cholesky=lambda a, lower=False: anp.linalg.cholesky(a) if lower else anp.linalg.cholesky(a).T,
                solve_triangular=asl.solve_triangular)
            out["autograd"] = autograd.grad(rebind(fn, anp, amath, linalg), argnum=argnums)
        except ImportError:
            pass
    if {"jax", "jax.jit"} & set(names):
        try:
            import jax
            import jax.numpy as jnp
            import jax.scipy.linalg as jsl

            jax.config.update("jax_enable_x64", True)
            g = jax.grad(rebind(fn, jnp, jnp, jsl), argnums=argnums)
            if "jax" in names:
                out["jax"] = g
            if "jax.jit" in names:
                out["jax.jit"] = jax.jit(g)
        except ImportError:
            pass
    if "torch" in names:
        try:
            out["torch"] = torch_grad(fn, argnums)
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
    a, b = s2sad.tree_leaves(a), s2sad.tree_leaves(b)
    return len(a) == len(b) and all(np.allclose(np.asarray(x), y, rtol=tol, atol=tol) for x, y in zip(a, b))


def transform_ms(fn, argnums, args):
    """Milliseconds a fresh ``s2sad.grad`` spends before its first gradient: making the
    dispatcher, transforming for the arguments and loading the code (the best of three)."""
    times = []
    for _ in range(3):
        s2sad.cache._caches.pop(fn, None)
        s2sad.cache._shared_by_code.pop(fn.__code__, None)  # (else the transform of fn's code is reused)
        start = time.perf_counter()
        s2sad.grad(fn, argnums=argnums)
        s2sad.cache.get_cache(fn, _nums(argnums)).entry(args)
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def measure(cands: dict, fargs: tuple, samples: int, budget: float) -> dict[str, float]:
    """Median seconds of ``hand`` and, for the others, the median of their paired ratios to it.

    Each sample times every candidate back to back: paired ratios follow the hand-written
    gradient through the shared machine's changes of speed."""
    times = {k: [] for k in cands}
    for _ in range(samples):
        for k, f in cands.items():
            times[k].append(per_call(f, fargs, budget))
    med = {k: statistics.median(t / h for t, h in zip(v, times["hand"])) for k, v in times.items()}
    med["hand"] = statistics.median(times["hand"])
    return med


def selected(only: str | None) -> list:
    """The workloads whose name starts with one of the comma-separated ``only`` (all without)."""
    keys = [k.strip() + " " for k in only.split(",")] if only else None
    return [w for w in all_workloads() if keys is None or any(w[0].startswith(k) for k in keys)]


def peer_process(peer: str, samples: int, budget: float, only: str | None) -> None:
    """(Run in a child process per peer.) One JSON line per workload: the peer's ratio, agreement."""
    for i, (_, fn, hand, fargs, argnums) in enumerate(selected(only)):
        found = peers(fn, argnums, [peer])
        if peer in found:
            ok = agree(found[peer](*fargs), hand(*fargs))  # also warms up (and compiles, for jit)
            med = measure({"hand": hand, peer: found[peer]}, fargs, samples, budget)
            print(json.dumps({"workload": i, "ratio": med[peer], "ok": ok}), flush=True)


def peer_columns(names: list[str], argv: list[str]) -> dict[str, dict[int, tuple[float, bool]]]:
    """Each peer measured in a process of its own (with its own hand-written baseline): a peer's
    runtime threads and allocator then cannot slow the others, or s2sad's measurement."""
    out = {}
    for peer in names:
        run = subprocess.run([sys.executable, os.path.abspath(__file__), "--peer-process", peer, *argv],
                             capture_output=True, text=True)
        rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
        if rows:
            out[peer] = {r["workload"]: (r["ratio"], r["ok"]) for r in rows}
        elif run.returncode:
            print(f"({peer}: its run failed: {run.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
    return out


def elementwise_memory(size: int) -> tuple[int, float, float]:
    """W4's forward pass's peak memory (bytes) at ``size`` elements, and s2sad's and the hand-written
    gradient's over it."""
    from workloads import w4, w4_hand

    x = np.random.default_rng(0).standard_normal(size)
    forward = peak_memory(w4, x)
    return forward, peak_memory(s2sad.grad(w4), x) / forward, peak_memory(w4_hand, x) / forward


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7, help="timing samples per candidate (median taken)")
    parser.add_argument("--quick", action="store_true", help="3 samples, shorter budget (a smoke test)")
    parser.add_argument("--no-peers", action="store_true", help="skip the peers even if installed")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"peers to try (default: {','.join(PEERS)})")
    parser.add_argument("--only", help="workloads whose names start with these, comma-separated (e.g. W7,W9)")
    parser.add_argument("--scaling", action="store_true", help="also the transform-time series (bench/scaling.py)")
    parser.add_argument("--peer-process", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    samples, budget = (3, 0.005) if args.quick else (args.samples, 0.02)
    if args.peer_process:
        peer_process(args.peer_process, samples, budget, args.only)
        return 0
    rows = []
    for name, fn, hand, fargs, argnums in selected(args.only):
        grad = s2sad.grad(fn, argnums=argnums)
        ok = agree(grad(*fargs), hand(*fargs))
        med = measure({"hand": hand, "s2sad": grad}, fargs, samples, budget)
        hand_peak = peak_memory(hand, *fargs)  # below a few KiB the ratio is allocator noise: not shown
        mem = peak_memory(grad, *fargs) / hand_peak if hand_peak >= MEMORY_FLOOR else None
        rows.append((name, med, ok, transform_ms(fn, argnums, fargs), mem))
    others = peer_columns([] if args.no_peers else args.peers.split(","),
                          ["--samples", str(args.samples)] + (["--quick"] if args.quick else [])
                          + (["--only", args.only] if args.only else []))
    columns = ["s2sad", *others]
    head = f"{'workload':34} {'hand':>10} {'target':>7} " + " ".join(f"{c + ' /hand':>15}" for c in columns)
    print(head + f" {'transform':>10} {'peak mem':>9} {'(target)':>8} {'agree':>6}")
    disagree = False
    for i, (name, med, ok, tms, mem) in enumerate(rows):
        cells = [f"{med['s2sad']:>15.2f}"]
        for peer in others:
            ratio, peer_ok = others[peer].get(i, (None, True))
            disagree |= not peer_ok
            cells.append(f"{'-':>15}" if ratio is None else f"{ratio:>14.2f}{' ' if peer_ok else '!'}")
        time_target, mem_target = TARGETS.get(name.split()[0], (None, None))
        print(f"{name:34} {med['hand'] * 1e6:>8.1f}us {f'<= {time_target}' if time_target else '':>7} "
              f"{' '.join(cells)} {tms:>8.1f}ms {f'{mem:.2f}x' if mem is not None else '-':>9} "
              f"{f'<= {mem_target}' if mem_target else '':>8} {'yes' if ok else 'NO':>6}")
    if disagree:
        print("! : that peer's gradients disagree with the hand-written ones")
    if not args.only or "W4" in args.only.split(","):
        size = 1_000_000 if args.quick else 10_000_000
        forward, grad, hand = elementwise_memory(size)
        print(f"W4 at {size:.0e} elements: peak memory of the gradient {grad:.2f}x the forward pass's "
              f"(target <= 1.5; hand-written {hand:.2f}x)")
    if args.scaling:
        import scaling

        scaling.main(["--quick"] if args.quick else [])
    return 0 if all(r[2] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
