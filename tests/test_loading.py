"""Generated code is registered in linecache: tracebacks, inspect and pdb can show it."""

import inspect
import linecache
import sys
import traceback

import corpus
import numpy as np
import pytest

import s2sad
from s2sad.cache import get_cache


def _entry(fn, argnums, *args):
    s2sad.grad(fn, argnums=argnums)(*args)
    cache = get_cache(fn, argnums if isinstance(argnums, tuple) else (argnums,))
    return next(iter(cache.table.values()))


def test_inspect_getsource_shows_generated_code():
    entry = _entry(corpus.trig, 0, 0.3)
    src = inspect.getsource(entry.vjp)
    assert src.startswith("def trig_vjp(x):")
    assert src in entry.generated.text
    assert entry.vjp.__code__.co_filename.startswith("<s2sad: vjp of trig (corpus.py:")
    assert inspect.getsource(entry.grad).startswith("def trig_grad(x):")
    assert linecache.getline(entry.vjp.__code__.co_filename, 2).startswith("def trig_vjp")


def test_traceback_shows_the_generated_line():
    def f(x):
        y = np.log(x)
        return np.sum(y @ np.ones((4, 4)))

    try:
        s2sad.grad(f)(np.ones(3))
    except ValueError as e:
        text = "".join(traceback.format_exception(e))
    assert "<s2sad: grad of test_traceback_shows_the_generated_line.<locals>.f" in text
    assert "y @ ones" in text  # the generated line itself, from linecache


def test_generated_code_does_not_touch_user_globals():
    before = set(vars(corpus))
    s2sad.grad(corpus.numpy_elementwise)(np.ones(3))
    assert set(vars(corpus)) == before


def _compiled_from_moved_tree(text: str, name: str):
    """What ``load`` compiled before it moved columns in the location table: the syntax tree of the
    indented text, its nodes after the first line moved back 4 columns."""
    import ast
    import types

    body = text.split("\n", 1)[1]
    tree = ast.parse("def factory():\n" + "".join("    " + ln if ln.strip() else ln
                                                   for ln in body.splitlines(keepends=True)))
    for node in ast.walk(tree.body[0]):
        if getattr(node, "lineno", 1) > 1 and hasattr(node, "col_offset"):
            node.col_offset = max(node.col_offset - 4, 0)
            if getattr(node, "end_col_offset", None) is not None:
                node.end_col_offset = max(node.end_col_offset - 4, 0)
    factory = next(c for c in compile(tree, "<test>", "exec").co_consts if isinstance(c, types.CodeType))
    return next(c for c in factory.co_consts if isinstance(c, types.CodeType) and c.co_name == name)


def _codes(code):
    import types

    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _codes(c)


_COLUMNS = pytest.mark.skipif(sys.version_info < (3, 11), reason="code objects keep columns from Python 3.11")


@_COLUMNS
def test_generated_code_has_the_columns_of_its_text():
    """Tracebacks point at the right columns of the generated text: lines long and short, spanning lines,
    in the nested pullback."""
    from s2sad.load import load

    text = ("# header\n"
            "def g(x, y):\n"
            "    a = x * y + (x - y) * (x + y) / (1.0 + x * x * y * y) - (x ** 3 - y ** 3) * (x ** 2 + y ** 2 + 1.0)\n"
            "    b = [a,\n"
            "         x + 1.0, {'k': (y, a)}]\n"
            "    def inner(t):\n"
            "        return t * a + b[0] if t > 0 else -t\n"
            "    return inner(a) + sum(v for v in (x, y))\n")
    loaded = load(text, "<test: columns>", "g", {}, {})
    reference = _compiled_from_moved_tree(text, "g")
    for mine, theirs in zip(_codes(loaded.__code__), _codes(reference), strict=True):
        assert list(mine.co_positions()) == list(theirs.co_positions()), mine.co_name
        assert mine.co_code == theirs.co_code


@_COLUMNS
def test_generated_gradient_has_the_columns_of_its_text():
    entry = _entry(corpus.trig, 0, 0.3)
    for fn in (entry.grad, entry.vjp):
        text = "".join(linecache.getlines(fn.__code__.co_filename))
        reference = _compiled_from_moved_tree(text, fn.__name__)
        assert [list(c.co_positions()) for c in _codes(fn.__code__)] == [list(c.co_positions())
                                                                         for c in _codes(reference)]
