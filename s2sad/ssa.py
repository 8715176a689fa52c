"""The front half of the pipeline: a Python function -> its verified flat SSA IR.

parse (``frontend``) -> desugar (with ``closures``) -> lower -> simplify -> verify. ``transform`` continues
from here; ``mutation`` runs it on the functions a differentiated function calls, to
find what they write into.
"""

from __future__ import annotations

import types

from . import ir
from .closures import captures, cells
from .desugar import comprehensions, desugar, matches, tries
from .frontend import Source, parse_function
from .lower import lower
from .naming import Namer
from .simplify import simplify

__all__ = ["lowered_ir"]


def lowered_ir(fn: types.FunctionType, free_inputs: tuple[str, ...] = (), dynamic_cells: bool = False
               ) -> tuple[Source, Namer, ir.Function]:
    """The front half of the pipeline: parse, desugar, lower, simplify, verify."""
    src = parse_function(fn, dynamic_cells)
    tries(desugar(captures(cells(comprehensions(matches(src.tree, src), src), src), src)), src)
    namer = Namer()
    lowered = simplify(lower(src, namer, free_inputs))
    ir.verify(lowered)
    return src, namer, lowered
