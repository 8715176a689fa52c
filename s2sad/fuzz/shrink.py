"""Cutting a failing program down to a minimal one that fails the same way.

The shrinker edits the module's syntax tree greedily: it deletes a statement or a
block (a helper function, a whole ``if`` or loop), replaces a compound statement
by its body (or an ``if`` by its ``else``), and drops ``else`` branches. An edit is
kept when the program still runs plainly with a finite output and the runner still
reports the same outcome with the same mode and the same key (refusal construct,
exception type, or kind of mismatch). It stops when no edit is kept, or at its
time budget.
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import time
from collections.abc import Iterator

from .generate import Program, acceptable, run_plain
from .runner import Report, Runner

__all__ = ["shrink", "signature"]


def signature(report: Report) -> tuple[str, str, str] | None:
    """What must stay while shrinking: the outcome, and the mode and key of its first finding."""
    first = next((f for f in report.findings if f.outcome == report.outcome), None)
    return (report.outcome, first.mode, first.key) if first else None


def _bodies(tree: ast.AST) -> Iterator[list]:
    """Every statement list in the tree: module, function, branch and loop bodies, else branches."""
    for node in ast.walk(tree):
        for name in ("body", "orelse"):
            stmts = getattr(node, name, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                yield stmts


def _edits(tree: ast.Module) -> Iterator[ast.Module]:
    """Smaller variants of ``tree``, biggest cuts first: deletions, then bodies in place of blocks."""
    count = sum(1 for _ in _bodies(tree))
    for which in range(count):
        for position in range(len(list(_bodies(tree))[which])):
            for replace in ("delete", "body", "orelse", "drop_else"):
                variant = copy.deepcopy(tree)
                stmts = list(_bodies(variant))[which]
                if _apply(stmts, position, replace):
                    yield variant


def _apply(stmts: list, position: int, how: str) -> bool:
    """Edit ``stmts[position]`` in place; False when the edit does not apply to that statement."""
    node = stmts[position]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return False
    if how == "delete":
        stmts[position:position + 1] = [] if len(stmts) > 1 else [ast.Pass()]
        return not isinstance(node, ast.Pass)
    if how == "body" and isinstance(node, ast.If | ast.For | ast.While):
        stmts[position:position + 1] = node.body
        return True
    if how == "orelse" and isinstance(node, ast.If) and node.orelse:
        stmts[position:position + 1] = node.orelse
        return True
    if how == "drop_else" and isinstance(node, ast.If | ast.For | ast.While) and node.orelse:
        node.orelse = []
        return True
    return False


def _defines_what_it_reads(tree: ast.Module) -> bool:
    """Every name read is bound somewhere (a deleted definition can hide in a branch that never runs)."""
    bound = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.Lambda):
            bound |= {a.arg for a in node.args.args + node.args.kwonlyargs}
            bound |= {node.name} if isinstance(node, ast.FunctionDef) else set()
        elif isinstance(node, ast.Import):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return all(n.id in bound for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


def _still_fails(runner: Runner, program: Program, source: str, want: tuple, higher: bool) -> bool:
    if not _defines_what_it_reads(ast.parse(source)):
        return False
    try:
        if not acceptable(run_plain(source, program.args, program.name)):
            return False
    except Exception:
        return False
    report = runner.run(dataclasses.replace(program, source=source), higher_order=higher, only=want[1])
    return signature(report) == want


def shrink(runner: Runner, report: Report, budget: float = 120.0) -> Program:
    """The smallest variant of ``report.program`` found that fails as it does."""
    want = signature(report)
    program = report.program
    if want is None:
        return program
    higher = any(f.mode in ("hessian", "jvp_of_grad", "grad_of_grad") for f in report.findings)
    tree, deadline = ast.parse(program.source), time.monotonic() + budget
    progress = True
    while progress and time.monotonic() < deadline:
        progress = False
        for variant in _edits(tree):
            if time.monotonic() > deadline:
                break
            source = ast.unparse(variant) + "\n"
            if _still_fails(runner, program, source, want, higher):
                tree, progress = variant, True
                break
    return dataclasses.replace(program, source=ast.unparse(tree) + "\n")

