"""The front half of the pipeline: a Python function -> its verified flat SSA IR.

parse (``frontend``) -> desugar (with ``closures``) -> lower -> simplify -> verify. ``transform`` continues
from here; ``mutation`` runs it on the functions a differentiated function calls, to
find what they write into.
"""

from __future__ import annotations

import types

import gast

from . import ir
from .closures import captures, cells
from .desugar import comprehensions, desugar, maps, matches, tries
from .frontend import Source, all_nodes, parse_function
from .lower import lower
from .naming import Namer
from .simplify import simplify

__all__ = ["lowered_ir"]


_COMPREHENSIONS = {gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp}
_TRIES = {gast.Try, *([gast.TryStar] if hasattr(gast, "TryStar") else [])}
_REWRITTEN = {gast.Match, gast.FunctionDef, gast.Lambda, *_COMPREHENSIONS}  # (the passes run before desugaring)


def lowered_ir(fn: types.FunctionType, free_inputs: tuple[str, ...] = (), dynamic_cells: bool = False
               ) -> tuple[Source, Namer, ir.Function]:
    """The front half of the pipeline: parse, desugar, lower, simplify, verify. The match, comprehension,
    nonlocal, capture and try passes run only on functions that have such constructs (a pass with nothing to
    do is not run: each walks the whole tree)."""
    src = parse_function(fn, dynamic_cells)
    nodes = all_nodes(src.tree)
    present = {type(n) for n in nodes if n is not src.tree}
    if any(isinstance(n, gast.Name) and n.id == "map" for n in nodes):
        maps(src.tree, src, nodes)
        present = _constructs(src.tree)  # (a map became a generator expression)
    # the names desugaring must not shadow, read from this walk where no pass below rewrites the tree first
    taken = None if present & _REWRITTEN else {n.id for n in nodes if isinstance(n, gast.Name)}
    tree = matches(src.tree, src) if gast.Match in present else src.tree
    if present & _COMPREHENSIONS:
        tree = comprehensions(tree, src)
        present = _constructs(tree)  # (what the comprehensions became)
    if gast.FunctionDef in present:
        tree = cells(tree, src)
    if present & {gast.FunctionDef, gast.Lambda}:
        tree = captures(tree, src)
    desugar(tree, taken)
    if present & _TRIES:
        tries(tree, src)
    namer = Namer()
    lowered = simplify(lower(src, namer, free_inputs))
    ir.verify(lowered)
    return src, namer, lowered


def _constructs(tree: gast.FunctionDef) -> set[type]:
    """The node types in ``tree`` below its own ``def``."""
    return {type(n) for n in all_nodes(tree) if n is not tree}
