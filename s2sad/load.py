"""Load: generated source -> a live function, bound to the user's globals and cells.

The text is compiled once under a descriptive filename registered in
``linecache`` (so tracebacks, ``inspect.getsource`` and pdb show it). The
function's globals are the user's module globals, so user globals are looked up
at run time as in the user's own code; s2sad's helpers and the user's closure
cells reach it as closure cells, never by writing into the user's namespace.
"""

from __future__ import annotations

import ast
import linecache
import types

from .ir import Loc

__all__ = ["load", "LINEMAPS"]

# filename of generated code -> its line map; lets errors inside it name the user's line
LINEMAPS: dict[str, dict[int, Loc]] = {}
_FACTORY = "__s2sad_factory__"


def load(text: str, filename: str, name: str, globals_: dict, cells: dict[str, types.CellType],
         defaults: tuple | None = None, kwdefaults: dict | None = None) -> types.FunctionType:
    """Compile ``text`` (whose first line is a comment) and return its function ``name``."""
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    # Compile the text nested in a factory whose parameters are the free names, so
    # those become closure cells. The factory's `def` takes the place of the
    # header comment, so line numbers match the text; columns are shifted back.
    body = text.split("\n", 1)[1]
    wrapped = f"def {_FACTORY}({', '.join(cells)}):\n" + "".join(
        "    " + ln if ln.strip() else ln for ln in body.splitlines(keepends=True))
    tree = ast.parse(wrapped, filename)
    for node in ast.walk(tree.body[0]):
        if getattr(node, "lineno", 1) > 1 and hasattr(node, "col_offset"):
            node.col_offset = max(node.col_offset - 4, 0)
            if getattr(node, "end_col_offset", None) is not None:
                node.end_col_offset = max(node.end_col_offset - 4, 0)  # type: ignore[attr-defined]
    module_code = compile(tree, filename, "exec")
    factory = next(c for c in module_code.co_consts if isinstance(c, types.CodeType) and c.co_name == _FACTORY)
    code = next(c for c in factory.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
    closure = tuple(cells[v] for v in code.co_freevars)
    fn = types.FunctionType(code, globals_, name, defaults, closure)
    fn.__kwdefaults__ = kwdefaults
    fn.__qualname__ = name  # (not the factory's <locals>)
    return fn
