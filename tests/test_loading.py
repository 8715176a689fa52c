"""Generated code is registered in linecache: tracebacks, inspect and pdb can show it."""

import inspect
import linecache
import traceback

import corpus
import numpy as np

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
