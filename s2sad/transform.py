"""The pipeline in one place: parse -> desugar -> lower -> simplify -> verify -> reverse -> emit -> load.

``transform`` runs every stage once and returns a ``Generated`` holding each
stage's product (for ``s2sad show --stage`` and tests). Callers cache the result.
"""

from __future__ import annotations

import itertools
import os
import types
from dataclasses import dataclass

from . import ir
from .codegen import emit
from .desugar import desugar
from .frontend import Source, parse_function
from .load import load
from .lower import lower
from .naming import Namer
from .reverse import reverse
from .simplify import simplify

__all__ = ["Generated", "transform", "lowered_ir", "wrt_names", "LINEMAPS"]

# filename of generated code -> its line map; lets errors inside it name the user's line
LINEMAPS: dict[str, dict[int, ir.Loc]] = {}
_serial = itertools.count(1)


@dataclass(slots=True)
class Generated:
    source: Source
    lowered: ir.Function
    derivative: ir.Function
    text: str
    filename: str
    function: types.FunctionType


def wrt_names(positional: list[str], argnums: tuple[int, ...], fn_name: str) -> list[str]:
    """The parameter names ``argnums`` refers to (positional parameters, as in JAX)."""
    names = []
    for i in argnums:
        if not isinstance(i, int) or not -len(positional) <= i < len(positional):
            raise ValueError(
                f"argnums={argnums!r} is out of range: {fn_name} has {len(positional)} positional "
                f"parameter(s) ({', '.join(positional)})")
        names.append(positional[i])
    if len(set(names)) != len(names):
        raise ValueError(f"argnums={argnums!r} names the same parameter twice")
    return names


def lowered_ir(fn: types.FunctionType) -> tuple[Source, Namer, ir.Function]:
    """The front half of the pipeline: parse, desugar, lower, simplify, verify."""
    src = parse_function(fn)
    desugar(src.tree)
    namer = Namer()
    lowered = simplify(lower(src, namer))
    ir.verify(lowered)
    return src, namer, lowered


def transform(fn: types.FunctionType, argnums: tuple[int, ...], scalar_positions: frozenset[int] = frozenset()
              ) -> Generated:
    """Generate and load the vjp of ``fn`` w.r.t. ``argnums``.

    ``scalar_positions`` are positional parameters known to hold scalars at the
    call sites this specialisation serves.
    """
    src, namer, lowered = lowered_ir(fn)
    positional = lowered.params.positional
    wrt = wrt_names(positional, argnums, fn.__qualname__)
    scalars = {positional[i] for i in scalar_positions if i < len(positional)}
    deriv = reverse(lowered, src, namer, wrt, scalars)
    ir.verify(deriv.function)
    where = f"{os.path.basename(src.file)}:{src.tree.lineno}"
    header = f"s2sad: reverse-mode derivative of {fn.__qualname__} ({where}) with respect to {', '.join(wrt)}"
    text, linemap = emit(deriv.function, header)
    filename = f"<s2sad: vjp of {fn.__qualname__} ({where}) #{next(_serial)}>"
    LINEMAPS[filename] = linemap
    cells = {name: types.CellType(obj) for name, obj in deriv.bindings.items()}
    cells.update(src.freevars)
    loaded = load(text, filename, deriv.function.name, fn.__globals__, cells, fn.__defaults__, fn.__kwdefaults__)
    return Generated(src, lowered, deriv.function, text, filename, loaded)
