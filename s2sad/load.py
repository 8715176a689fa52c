"""Load: generated source -> a live function, bound to the user's globals and cells.

The text is compiled once under a descriptive filename registered in
``linecache`` (so tracebacks, ``inspect.getsource`` and pdb show it). The
function's globals are the user's module globals, so user globals are looked up
at run time as in the user's own code; s2sad's helpers and the user's closure
cells reach it as closure cells, never by writing into the user's namespace.

The text is compiled indented in a factory, and its columns moved back in the compiled code's
location table (``_shift_columns``, the table's format of Python 3.11+, ``Objects/locations.md``):
making the syntax tree to move them there cost more than compiling.
"""

from __future__ import annotations

import linecache
import sys
import types

from .ir import Loc

__all__ = ["load", "LINEMAPS", "note_origin"]

# filename of generated code -> its line map; lets errors inside it name the user's line
LINEMAPS: dict[str, dict[int, Loc]] = {}
_FACTORY = "__s2sad_factory__"


def note_origin(err: BaseException) -> None:
    """A ``SyntaxError`` s2sad raised at a line of code it generated (differentiating a derivative): add a
    note naming the user's line that code was generated for."""
    if not isinstance(err, SyntaxError):
        return
    loc = LINEMAPS.get(err.filename or "", {}).get(err.lineno or 0)
    notes = list(getattr(err, "__notes__", ()))
    note = loc and f"s2sad: in derivative code s2sad generated for {loc.file}:{loc.line}: {loc.text.strip()}"
    if note and note not in notes:
        vars(err)["__notes__"] = [*notes, note]  # (as add_note does: Python 3.11 shows them)


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
    module_code = compile(wrapped, filename, "exec")
    factory = next(c for c in module_code.co_consts if isinstance(c, types.CodeType) and c.co_name == _FACTORY)
    code = next(c for c in factory.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
    if sys.version_info >= (3, 11):  # (3.10 keeps no columns)
        code = _shift_columns(code, 4)
    closure = tuple(cells[v] for v in code.co_freevars)
    fn = types.FunctionType(code, globals_, name, defaults, closure)
    fn.__kwdefaults__ = kwdefaults
    fn.__qualname__ = name  # (not the factory's <locals>)
    return fn


def _shift_columns(code: types.CodeType, by: int) -> types.CodeType:
    """``code`` (and the code nested in it) with the columns of its lines after the first ``by`` to the
    left (not below 0), as compiling a syntax tree whose positions were moved so would give."""
    data, out, i, line = code.co_linetable, bytearray(), 0, code.co_firstlineno
    while i < len(data):
        head = data[i]
        kind, i = (head >> 3) & 15, i + 1
        if kind == 15:  # no location
            out.append(head)
            continue
        delta, end, col, end_col = 0, 0, -1, -1
        if kind == 14:  # long form
            delta, i = _signed(data, i)
            end, i = _varint(data, i)
            col, i = _varint(data, i)
            end_col, i = _varint(data, i)
            col, end_col = col - 1, end_col - 1
        elif kind == 13:  # no column
            delta, i = _signed(data, i)
        elif kind >= 10:  # one line
            delta, col, end_col, i = kind - 10, data[i], data[i + 1], i + 2
        else:  # short form (most entries: on the line before, starting at column `by` or more, it stays short)
            col = kind * 8 + ((data[i] >> 4) & 7)
            end_col, i = col + (data[i] & 15), i + 1
            if col >= by and line > 1:
                col -= by
                out += bytes((0x80 | (col >> 3) << 3 | head & 7, (col & 7) << 4 | (data[i - 1] & 15)))
                continue
        line += delta
        if line > 1:  # (the factory's `def`)
            col = col - by if col >= by else min(col, 0)
            end_col = end_col - by if end_col >= by else min(end_col, 0)
        _entry(out, head & 7, kind, delta, end, col, end_col)
    consts = tuple(_shift_columns(c, by) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_linetable=bytes(out), co_consts=consts)


def _entry(out: bytearray, size: int, kind: int, delta: int, end: int, col: int, end_col: int) -> None:
    """One entry of a location table, in the form the compiler chooses (``write_location_info_entry``)."""
    if col < 0 and kind != 14:
        out.append(0x80 | 13 << 3 | size)
        _put_signed(out, delta)
    elif end == 0 and delta == 0 and 0 <= col < 80 and 0 <= end_col - col < 16:
        out += bytes((0x80 | (col >> 3) << 3 | size, (col & 7) << 4 | (end_col - col)))
    elif end == 0 and 0 <= delta < 3 and 0 <= col < 128 and 0 <= end_col < 128:
        out += bytes((0x80 | (10 + delta) << 3 | size, col, end_col))
    else:
        out.append(0x80 | 14 << 3 | size)
        _put_signed(out, delta)
        for v in (end, col + 1, end_col + 1):
            _put_varint(out, v)


def _varint(data: bytes, i: int) -> tuple[int, int]:
    b, i = data[i], i + 1
    value, shift = b & 63, 0
    while b & 64:
        b, i, shift = data[i], i + 1, shift + 6
        value |= (b & 63) << shift
    return value, i


def _signed(data: bytes, i: int) -> tuple[int, int]:
    v, i = _varint(data, i)
    return (-(v >> 1) if v & 1 else v >> 1), i


def _put_varint(out: bytearray, v: int) -> None:
    while v >= 64:
        out.append(64 | (v & 63))
        v >>= 6
    out.append(v)


def _put_signed(out: bytearray, v: int) -> None:
    _put_varint(out, (-v) << 1 | 1 if v < 0 else v << 1)
