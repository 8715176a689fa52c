"""Codegen: ``ir.Function`` -> Python source text and a line map.

Guarantees: the text is valid Python; above each group of statements that came
from one user line sits a comment ``# line N: <the user's line>``; ``linemap``
sends each generated line number to the user's ``Loc``.
"""

from __future__ import annotations

from . import ir

__all__ = ["emit"]


def emit(fn: ir.Function, header: str) -> tuple[str, dict[int, ir.Loc]]:
    """Source of ``fn`` under a one-line ``header`` comment, and its line map."""
    out = _Printer()
    out.line(f"# {header}")
    out.function(fn, 0)
    return "\n".join(out.lines) + "\n", out.linemap


def signature(params: ir.Params) -> str:
    parts = list(params.posonly)
    if params.posonly:
        parts.append("/")
    parts += params.args
    if params.vararg:
        parts.append(f"*{params.vararg}")
    elif params.kwonly:
        parts.append("*")
    parts += params.kwonly
    if params.kwarg:
        parts.append(f"**{params.kwarg}")
    return ", ".join(parts)


def statement(stmt: ir.Assign | ir.Return) -> str:
    if isinstance(stmt, ir.Return):
        v = stmt.value
        if isinstance(v, ir.Tuple) and len(v.items) > 1:
            return "return " + ", ".join(ir.expr_str(i) for i in v.items)
        return f"return {ir.expr_str(v)}"
    return f"{', '.join(stmt.targets)} = {ir.expr_str(stmt.value)}"


class _Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.linemap: dict[int, ir.Loc] = {}

    def line(self, text: str, loc: ir.Loc | None = None) -> None:
        self.lines.append(text)
        if loc is not None:
            self.linemap[len(self.lines)] = loc

    def function(self, fn: ir.Function, depth: int) -> None:
        pad = "    " * depth
        self.line(f"{pad}def {fn.name}({signature(fn.params)}):", fn.loc)
        if fn.doc:
            self.line(f'{pad}    """{fn.doc}"""')
        last: ir.Loc | None = None
        for stmt in fn.body:
            if isinstance(stmt, ir.Function):
                self.function(stmt, depth + 1)
                last = None
                continue
            if stmt.loc is not None and stmt.loc != last:
                self.line(f"{pad}    # line {stmt.loc.line}: {stmt.loc.text}")
                last = stmt.loc
            self.line(pad + "    " + statement(stmt), stmt.loc)

