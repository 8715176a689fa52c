"""Seed 004's experiment: three ways to compute a Jacobian, on functions with many reconvergent paths.

(a) symbolic differentiation of the expression tree with SymPy (``sympy.diff``), lambdified
    without and with common-subexpression elimination (expression swell);
(b) the path sum by memoised accumulation: ``s2sad.jacrev`` (one pullback per output) and
    ``s2sad.jacfwd`` (one jvp per input);
(c) the dominator-factored Jacobian, ``s2sad.jacobian(f, method="factored")``.

For each workload and size it reports the multiplications and additions the Jacobian
costs: the operations written in generated code (``*``, ``/`` and ``**`` as
multiplications, binary ``+`` and ``-`` as additions), each counted as often as its line
runs while one Jacobian is computed (a line tracer: for jacrev the forward pass once and
the pullback once per output, for jacfwd the jvp once per input, loops as often as they
iterate; a NumPy array operation counts once). It also reports the time to build it (a
fresh function: transform and load, or diff and lambdify) and the time per evaluation
over many points.

    pip install ".[bench]" && python bench/factored.py          # the table, and bench/factored.png
    python bench/factored.py --quick                            # small sizes, no plot
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import linecache
import math
import os
import sys
import time
import types

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import s2sad

# ----- workloads: source text of f(x) with n inputs and m outputs -----


def nested(n: int, m: int) -> str:
    """g_k = sin(g_{k-1}) * g_{k-1} + x_k, every output a product of two chain points: many shared paths."""
    lines = ["g0 = x[0]"]
    steps = max(n, m) + 1
    for k in range(1, steps):
        lines.append(f"g{k} = math.sin(g{k - 1}) * g{k - 1} + x[{k % n}]")
    outs = [f"g{steps - 1 - j} * g{(j * 7) % steps} + math.cos(g{j % steps})" for j in range(m)]
    return _function(lines, outs)


def products(n: int, m: int) -> str:
    """Pairwise products of neighbours, their sum t, and outputs mixing t with each product."""
    lines = [f"p{k} = x[{k}] * x[{(k + 1) % n}]" for k in range(n)]
    lines.append("t = " + " + ".join(f"p{k}" for k in range(n)))
    lines.append("u = math.exp(-t * t)")
    outs = [f"u * p{j % n} + t * x[{(j + 2) % n}]" for j in range(m)]
    return _function(lines, outs)


def springs(n: int, m: int) -> str:
    """A chain of n/2 masses in the plane (x then y coordinates), unit springs; outputs the spring energies
    and the total (m is set by n)."""
    k = n // 2
    lines = []
    for s in range(k - 1):
        lines.append(f"d{s} = math.sqrt((x[{s + 1}] - x[{s}]) ** 2 + (x[{k + s + 1}] - x[{k + s}]) ** 2)")
        lines.append(f"e{s} = 1.5 * (d{s} - 1.0) ** 2")
    outs = [f"e{s}" for s in range(k - 1)] + [" + ".join(f"e{s}" for s in range(k - 1))]
    return _function(lines, outs)


def shading(n: int, m: int) -> str:
    """Blinn-Phong-like shading of one normal by n/3 - 1 lights: each output a light's intensity, and the sum."""
    lights = n // 3 - 1
    lines = ["inv_n = 1.0 / math.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])"]
    for j in range(lights):
        a, b, c = 3 * j + 3, 3 * j + 4, 3 * j + 5
        lines += [f"inv_l{j} = 1.0 / math.sqrt(x[{a}] * x[{a}] + x[{b}] * x[{b}] + x[{c}] * x[{c}])",
                  f"c{j} = (x[0] * x[{a}] + x[1] * x[{b}] + x[2] * x[{c}]) * inv_n * inv_l{j}",
                  f"i{j} = 0.7 * c{j} + 0.3 * c{j} ** 8"]
    outs = [f"i{j}" for j in range(lights)] + [" + ".join(f"i{j}" for j in range(lights))]
    return _function(lines, outs)


def euler(n: int, m: int) -> str:
    """A chain of n/2 pendulums coupled by torsion springs (angles, then velocities), integrated 10 steps by
    symplectic Euler in a loop; outputs the final angles and the energy (m is set by n)."""
    k = n // 2
    lines = [f"p{i} = x[{i}]" for i in range(k)] + [f"v{i} = x[{k + i}]" for i in range(k)]
    lines.append("for _ in range(10):")
    for i in range(k):
        left = f"math.sin(p{i} - p{i - 1})" if i > 0 else f"math.sin(p{i})"
        right = f" + math.sin(p{i + 1} - p{i})" if i < k - 1 else ""
        lines.append(f"    f{i} = -{left}{right}")
    lines += [f"    v{i} = v{i} + 0.1 * f{i}" for i in range(k)]
    lines += [f"    p{i} = p{i} + 0.1 * v{i}" for i in range(k)]
    energy = " + ".join([f"0.5 * v{i} * v{i}" for i in range(k)]
                        + [f"(1.0 - math.cos(p{i + 1} - p{i}))" for i in range(k - 1)])
    return _function(lines, [f"p{i}" for i in range(k)] + [energy])


def _function(lines: list[str], outs: list[str]) -> str:
    body = "".join(f"    {line}\n" for line in lines)
    return f"def f(x):\n{body}    return np.array([{', '.join(outs)}])\n"


_serial = iter(range(1, 10 ** 9))


def compile_workload(text: str, namespace: dict) -> types.FunctionType:
    """A fresh function object from ``text`` (its source readable by ``inspect``, as s2sad needs)."""
    filename = f"<bench workload #{next(_serial)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    exec(compile(text, filename, "exec"), namespace)
    return namespace["f"]


# ----- counting operations on generated code -----


def count(tree: ast.AST) -> tuple[int, int]:
    """(multiplications, additions) written in ``tree``."""
    mul = add = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mult | ast.Div | ast.Pow | ast.MatMult):
                mul += 1
            elif isinstance(node.op, ast.Add | ast.Sub):
                add += 1
    return mul, add


def _function_def(text: str) -> ast.FunctionDef:
    return next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef))


@functools.cache
def _ops_by_line(filename: str) -> dict[int, tuple[int, int]]:
    """Line -> the operations of the statement starting there (a compound statement's header only)."""
    tree = ast.parse("".join(linecache.getlines(filename)))
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(node, ast.FunctionDef):
            parts = [node.test] if isinstance(node, ast.If | ast.While) else [node.iter] if isinstance(
                node, ast.For) else [node]
            out[node.lineno] = tuple(map(sum, zip(*(count(p) for p in parts))))
    return out


def executed(jac, x: np.ndarray) -> tuple[int, int]:
    """(multiplications, additions) executed by s2sad's generated code while ``jac(x)`` runs."""
    total = [0, 0]

    def calls(frame, event, arg):
        if not frame.f_code.co_filename.startswith("<s2sad"):
            return None
        ops = _ops_by_line(frame.f_code.co_filename)

        def lines(frame, event, arg):
            if event == "line":
                mul, add = ops.get(frame.f_lineno, (0, 0))
                total[0] += mul
                total[1] += add
            return lines

        return lines

    sys.settrace(calls)
    try:
        jac(x)
    finally:
        sys.settrace(None)
    return total[0], total[1]


# ----- timing -----


def _per_eval(fn, points: np.ndarray, repeat: int, budget: float = 0.2) -> float:
    """The best over ``repeat`` runs of the mean time per point, each run over the points or
    until ``budget`` seconds have passed (slow methods see fewer points)."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        for done, p in enumerate(points, 1):
            fn(p)
            if time.perf_counter() - start > budget:
                break
        best = min(best, (time.perf_counter() - start) / done)
    return best


def s2sad_methods(text: str, x: np.ndarray, points: np.ndarray, repeat: int) -> dict[str, tuple[float, float]]:
    """(operations, build seconds, seconds per evaluation) for jacrev, jacfwd and factored; checks they
    agree."""
    out, reference = {}, None
    for method in ("rev", "fwd", "factored"):
        f = compile_workload(text, {"math": math, "np": np})
        start = time.perf_counter()
        jac = s2sad.jacobian(f, method=method)
        J = jac(x)  # the first call transforms and loads
        build = time.perf_counter() - start
        if reference is None:
            reference = J
        assert np.allclose(J, reference, rtol=1e-10, atol=1e-12), f"{method} disagrees with jacrev"
        name = {"rev": "jacrev", "fwd": "jacfwd"}.get(method, method)
        out[name] = (executed(jac, x), build, _per_eval(jac, points, repeat))
    return out


def sympy_methods(text: str, n: int, points: np.ndarray, repeat: int, reference: np.ndarray) -> dict:
    """SymPy: the expression tree differentiated, lambdified without and with CSE."""
    import sympy

    symbols = sympy.symbols(f"x0:{n}")
    fake_np = types.SimpleNamespace(array=list)
    outs = compile_workload(text, {"math": sympy, "np": fake_np})(list(symbols))
    out = {}
    for cse in (False, True):
        start = time.perf_counter()
        J = sympy.Matrix([[sympy.diff(o, s) for s in symbols] for o in outs])
        fn = sympy.lambdify([symbols], J, modules="numpy", cse=cse)
        build = time.perf_counter() - start
        assert np.allclose(np.asarray(fn(points[0]), dtype=float), reference, rtol=1e-8, atol=1e-10)
        name = "sympy+cse" if cse else "sympy"
        out[name] = (build, _per_eval(fn, points, repeat), count(_function_def(inspect.getsource(fn))))
    return out


WORKLOADS = {"nested": nested, "products": products, "springs": springs, "shading": shading, "euler": euler}
METHODS = ("sympy", "sympy+cse", "jacrev", "jacfwd", "factored")


SYMPY_LIMIT = 3.0  # seconds: SymPy is not run at larger sizes of a workload once it took longer


def run(sizes: list[int], points_count: int, repeat: int, workloads: list[str]) -> list[dict]:
    rows, slow = [], set()
    for name in workloads:
        make = WORKLOADS[name]
        rng = np.random.default_rng(list(WORKLOADS).index(name))  # the same points whichever workloads run
        for size in sizes:
            if name in ("springs", "shading", "euler") and size < 6:
                continue
            text = make(size, size)
            f = compile_workload(text, {"math": math, "np": np})
            x = rng.uniform(0.2, 0.9, size)
            m = len(f(x))
            points = rng.uniform(0.2, 0.9, (points_count, size))
            results = s2sad_methods(text, x, points, repeat)
            row = {"workload": name, "n": size, "m": m}
            row.update(results)
            if name not in slow and name != "euler":  # (ten steps unrolled symbolically swell past minutes)
                reference = s2sad.jacrev(f)(points[0])
                for method, (build, per, c) in sympy_methods(text, size, points, repeat, reference).items():
                    row[method] = (c, build, per)
                    if build > SYMPY_LIMIT:
                        slow.add(name)
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def _line(row: dict) -> str:
    cells = [row["workload"], f"{row['n']}x{row['m']}"]
    for method in METHODS:
        if method not in row:
            cells.append("-")
            continue
        (mul, add), build, per = row[method]
        cells.append(f"{mul}/{add}, {build * 1e3:.0f} ms, {per * 1e6:.1f} µs")
    return "| " + " | ".join(cells) + " |"


HEADER = ("| workload | n×m | " + " | ".join(METHODS) + " |\n|" + "---|" * (2 + len(METHODS))
          + "\n")


def plot(rows: list[dict], path: str) -> None:
    """Multiplications and time per evaluation against size, for the nested workload (straight-line code)
    and the euler one (a loop)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for (left, right), workload in zip(axes, ("nested", "euler")):
        chosen = [r for r in rows if r["workload"] == workload]
        for method in METHODS:
            have = [r for r in chosen if method in r]
            left.plot([r["n"] for r in have], [r[method][0][0] for r in have], marker="o", label=method)
            right.plot([r["n"] for r in have], [r[method][2] * 1e6 for r in have], marker="o", label=method)
        for ax, title in ((left, "multiplications per Jacobian"), (right, "µs per Jacobian evaluation")):
            ax.set_xlabel(f"n (inputs), {workload} workload")
            ax.set_yscale("log")
            ax.set_title(f"{workload}: {title}")
            ax.grid(True, which="both", alpha=0.3)
        left.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes 2 to 8, few points, no plot")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated (default: all)")
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    sizes = [2, 4, 8] if args.quick else [2, 4, 8, 16, 32, 50]
    print("cells: multiplications/additions per Jacobian, build time, time per evaluation\n")
    print(HEADER, end="", flush=True)
    rows = run(sizes, 20 if args.quick else 200, 1 if args.quick else 3, workloads)
    if not args.quick and {"nested", "euler"} <= set(workloads):
        plot(rows, os.path.join(os.path.dirname(os.path.abspath(__file__)), "factored.png"))


if __name__ == "__main__":
    main()
