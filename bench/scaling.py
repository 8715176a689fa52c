"""Transform time against function length: straight-line functions of 50 to 1600 statements
and 10 to 40 sequential loops, each written to a module of its own and differentiated afresh.

Run from the repository root:  python bench/scaling.py  [--quick]

Each size is transformed ``--repeat`` times (every cache dropped first) and the median CPU time
of the process is reported (``time.process_time``: on a shared machine, wall time also counts
the time other processes held the CPU), with milliseconds per 100 statements and the log-log
slope of the series (a least-squares fit; 1.0 is linear).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import s2sad  # noqa: E402
import s2sad.cache  # noqa: E402

STATEMENTS = (50, 100, 200, 400, 800, 1600)
LOOPS = (10, 20, 40)
# the statements cycle through these (a{p}: the previous value, a{q}: one three back)
_FORMS = ("a{p} * x + y", "math.sin(a{p}) * a{q}", "a{p} / (1.0 + a{q} * a{q})", "math.exp(-a{p}) - a{q}",
          "a{p} * a{q} - 0.5 * x")


def straight_line(n: int) -> str:
    """A function of two floats with ``n`` assignments (and a return), each reading earlier values."""
    lines = ["import math", "", "", "def f(x, y):", "    a0 = x * y + 1.0"]
    for i in range(1, n):
        lines.append(f"    a{i} = " + _FORMS[i % len(_FORMS)].format(p=i - 1, q=max(0, i - 3)))
    lines.append(f"    return a{n - 1}")
    return "\n".join(lines) + "\n"


def sequential_loops(n: int) -> str:
    """A function of two floats running ``n`` loops one after the other, each carrying ``x``."""
    lines = ["import math", "", "", "def f(x, y):"]
    for i in range(n):
        lines += ["    for i in range(3):", f"        x = math.sin(x) * 0.9 + y * {0.1 + 0.01 * i:.2f}"]
    lines.append("    return x")
    return "\n".join(lines) + "\n"


def load(text: str, name: str, directory: str):
    """The function ``f`` of ``text``, written to ``directory/name.py`` and imported (so it has source)."""
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as file:
        file.write(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def transform_ms(fn, args=(0.3, 0.7), argnums=(0, 1)) -> float:
    """CPU milliseconds a fresh ``grad`` spends before its first gradient (every cache dropped)."""
    s2sad.cache._caches.pop(fn, None)
    s2sad.cache._shared_by_code.pop(fn.__code__, None)
    start = time.process_time()
    s2sad.grad(fn, argnums=argnums)(*args)
    return (time.process_time() - start) * 1e3


def slope(sizes, times) -> float:
    """Least-squares slope of log(time) against log(size)."""
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in times]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def series(make, sizes, repeat: int, directory: str, kind: str) -> list[float]:
    out = []
    for n in sizes:
        fn = load(make(n), f"scaling_{kind}_{n}", directory)
        transform_ms(fn)  # warm: imports, rule tables
        out.append(statistics.median(transform_ms(fn) for _ in range(repeat)))
    return out


def run(repeat: int = 3, statements=STATEMENTS, loops=LOOPS) -> dict:
    """{"statements": [(n, ms)], "loops": [(n, ms)], "slope_statements", "slope_loops", "ms_per_100"}."""
    with tempfile.TemporaryDirectory() as directory:
        sys.path.insert(0, directory)
        try:
            st = series(straight_line, statements, repeat, directory, "statements")
            lp = series(sequential_loops, loops, repeat, directory, "loops")
        finally:
            sys.path.remove(directory)
    return {"statements": list(zip(statements, st)), "loops": list(zip(loops, lp)),
            "slope_statements": slope(statements, st), "slope_loops": slope(loops, lp),
            "ms_per_100": max(t / n * 100 for n, t in zip(statements, st))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="transforms per size (median taken)")
    parser.add_argument("--quick", action="store_true", help="one transform per size, up to 400 statements")
    args = parser.parse_args(argv)
    result = run(1, STATEMENTS[:4]) if args.quick else run(args.repeat)
    for kind, unit in (("statements", "statements"), ("loops", "loops")):
        print(f"{'':>6} " + " ".join(f"{n:>8}" for n, _ in result[kind]) + f"  {unit}")
        print(f"{'ms':>6} " + " ".join(f"{t:>8.1f}" for _, t in result[kind])
              + f"  slope {result['slope_' + kind]:.2f} (target <= 1.1)")
    print(f"at most {result['ms_per_100']:.1f} ms per 100 statements (target <= 15)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
