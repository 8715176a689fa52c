"""Command line: ``s2sad show FILE.py:FUNC`` prints the generated derivative source."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from .api import source

__all__ = ["main"]


def _load_function(target: str):
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise SystemExit(f"s2sad: expected FILE.py:FUNC, got {target!r}")
    if not os.path.isfile(path):
        raise SystemExit(f"s2sad: no such file: {path}")
    module_name = "_s2sad_cli_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"s2sad: cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise SystemExit(f"s2sad: {path} has no {name!r}")
        obj = getattr(obj, part)
    return obj  # (a function decorated with @s2sad.grad, or a wrapper that only forwards: ``source`` follows it)


def _argnums(text: str) -> int | tuple[int, ...]:
    try:
        nums = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise SystemExit(f"s2sad: --argnums takes integers separated by commas, got {text!r}") from None
    return nums[0] if len(nums) == 1 else nums


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="s2sad", description="Source-to-source automatic differentiation.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the generated derivative of a function")
    show.add_argument("target", metavar="FILE.py:FUNC", help="the function to differentiate")
    show.add_argument("--argnums", default="0", help="positional arguments to differentiate, e.g. 0,1")
    show.add_argument("--stage", choices=("python", "grad", "value_and_grad", "ssa", "adjoint", "graph", "factored"),
                      default="python",
                      help="python: the generated vjp; grad: the fused gradient function grad runs; "
                           "value_and_grad: the fused function value_and_grad runs; "
                           "ssa: the lowered IR; adjoint: the derivative's IR; graph: the derivative graph; "
                           "factored: the dominator-factored Jacobian function")
    show.add_argument("--format", choices=("text", "dot"), default="text",
                      help="with --stage graph: text, or Graphviz DOT")
    show.add_argument("--all", action="store_true", help="also print the derivatives of the functions it calls")
    show.add_argument("--mode", choices=("reverse", "forward"), default="reverse",
                      help="reverse: the vjp and its pullback; forward: the jvp")
    args = parser.parse_args(argv)
    if args.format == "dot" and args.stage != "graph":
        raise SystemExit("s2sad: --format dot goes with --stage graph")
    fn = _load_function(args.target)
    stage = "dot" if args.format == "dot" else args.stage
    try:
        text = source(fn, argnums=_argnums(args.argnums), stage=stage, callees=args.all, mode=args.mode)
    except ValueError as err:  # a request that cannot be met (argnums out of range, stage grad in forward mode)
        raise SystemExit(f"s2sad: {err}") from None
    sys.stdout.write(text)
    return 0
