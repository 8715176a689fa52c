"""The transform cache: each function is transformed once per (wrt, argument types).

``Cache.entry(args)`` returns the loaded derivative for the types of ``args``,
transforming on a miss. The first transform for a key is given the array
arguments' shapes; when knowing them removed a shape check (``unbroadcast``), the
key gets one derivative per shape (``ByShape``), as JAX traces once per shape,
up to ``MAX_SHAPES`` shapes, then a derivative that assumes none serves the rest. User-facing caches (``grad``, ``vjp``) check that the
differentiated arguments are real floats and arrays; ``linker.VJP`` handles, which
generated code calls for user functions, do not (cotangents follow whatever
flows). Caches are keyed weakly by the function (``vjp_of``'s by code object) and
hold it weakly: a derivative lives as long as its function and its callers.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import NoDerivativeRuleError, S2SADSyntaxError, SourceUnavailableError
from .frontend import cell_contents, globals_check, globals_hold, library_cells, library_value, source_lines
from .load import note_origin
from .pytree import data_fields, differentiable, is_dataclass_instance, is_node, leaves
from .statics import SCALAR_TYPES, Items, of_value

__all__ = ["Cache", "Entry", "ByShape", "get_cache", "types_key", "rebind", "carries_derivative", "use_pipeline",
           "pipeline", "SCALAR_TYPES", "derived"]

MAX_SHAPES = 8  # shape-specific derivatives per argument types
MAX_SHARED = 64  # derivatives kept for the closures of one code (see ``_shared``)
_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_pipeline: list[Callable[..., Any]] = []  # ``transform.transform``, handed over when that module loads


def use_pipeline(transform: Callable[..., Any]) -> None:
    """Hand the run time the pipeline, once: ``transform`` calls this when it loads. A cache miss and a
    derivative of a derivative transform through it; the compiler imports the run time, never the reverse."""
    _pipeline[:] = [transform]


def pipeline() -> Callable[..., Any]:
    """``transform.transform``: what makes a derivative on a cache miss."""
    return _pipeline[0]


class Entry:
    """One specialisation: the loaded vjp and fused grad functions. ``fresh()`` says whether the module's
    globals still hold what the transform relied on (a callee it transformed, by identity): every
    call checks it, so a function redefined after the transform is differentiated as it is now."""

    __slots__ = ("_vjp", "_value_and_grad", "grad", "arrays", "generated", "_fun", "fresh")

    def __init__(self, generated, arrays: tuple[int, ...], namespace: dict,
                 fun: types.FunctionType | None = None) -> None:
        self.generated = generated
        self.fresh = _fresh(globals_check(namespace, generated.globals_read), generated.derived_from)
        self._fun = None if fun is None else weakref.ref(fun)  # a closure the shared derivative reads
        self._vjp: types.FunctionType | None = None  # loaded on first use: grad needs only the fused function
        self._value_and_grad: types.FunctionType | None = None
        self.grad = self._bound(generated.grad_function)
        self.arrays = arrays  # positions (into wrt) whose argument is an array or a pytree: checked per call

    def _bound(self, generated: types.FunctionType | None) -> types.FunctionType | None:
        """``generated``, reading the cells of the closure this entry serves (when it serves one)."""
        if generated is None or self._fun is None:
            return generated
        fun = self._fun()
        assert fun is not None  # (an entry is reached through its function's cache, in a call of the function)
        return rebind(generated, fun, snapshot=False)

    @property
    def vjp(self):
        """The loaded vjp (the jvp, for a forward-mode cache)."""
        if self._vjp is None:
            self._vjp = self._bound(self.generated.function)
        return self._vjp

    @property
    def value_and_grad(self):
        """The loaded fused function returning ``(value, grads)``."""
        if self._value_and_grad is None:
            self._value_and_grad = self._bound(self.generated.value_and_grad_function)
        return self._value_and_grad


def _fresh(own: Callable[[], bool], derived_from: tuple) -> Callable[[], bool]:
    """``own`` (a transform's globals hold), and so do those of the derived functions it transformed
    or called (``derived``: a derivative of a derivative)."""
    if not derived_from:
        return own
    checks = (own, *(f.__s2sad_fresh__ for f in derived_from))
    return lambda: all(check() for check in checks)


def types_key(args: tuple) -> object:
    """The specialisation key: the argument types (spelled out for 1 and 2 arguments, which is faster)."""
    n = len(args)
    if n == 1:
        return type(args[0])
    if n == 2:
        return (type(args[0]), type(args[1]))
    return tuple(map(type, args))


class Cache:
    """Transforms of one function w.r.t. one set of parameters, by argument types.

    ``wrt`` is a tuple of positional indices (``argnums``, the user API) or of
    parameter names (calls from generated code). ``shared``: the transforms of every
    closure of ``fun``'s code (see ``_shared``), which this cache's entries read ``fun``'s cells with.
    """

    def __init__(self, fun: types.FunctionType, wrt: tuple, strict: bool, dynamic_cells: bool = False,
                 mode: str = "reverse", shared: dict | None = None, captured: bool = False) -> None:
        self._fun = weakref.ref(fun)  # what calls the derivative keeps fun alive: nothing here does
        self.wrt = wrt
        self.captured = captured  # the pullback gives the cotangents of the captured variables in wrt as a dict
        self.strict = strict
        self.mode = mode
        self.dynamic_cells = dynamic_cells or shared is not None  # one transform for every closure of fun's code
        self.shared = shared
        self.table: dict[object, Entry | ByShape] = {}  # types_key(args) -> entry, or entries by shape
        self.static: dict[tuple, Entry] = {}  # the facts of the arguments (a caller knows them) -> entry

    @property
    def fun(self) -> types.FunctionType | None:
        return self._fun()

    @fun.setter
    def fun(self, fun: types.FunctionType) -> None:
        self._fun = weakref.ref(fun)

    def entry(self, args: tuple) -> Entry:
        """The derivative for ``args`` (transformed on a miss), after checking their dtypes."""
        e = self.table.get(types_key(args))
        if e is None or not e.fresh():
            try:
                try:
                    e = self._specialize(args, shapes=self.mode == "reverse")
                except S2SADSyntaxError:  # (a jvp is made for any shapes: the arrays' shapes may tell enough,
                    if self.mode == "reverse":  # say that a loop over a 1-D array gives numbers, for it to be exact)
                        raise
                    e = self._specialize(args, shapes=True)
            except (S2SADSyntaxError, NoDerivativeRuleError, SourceUnavailableError) as err:
                note_origin(err)
                raise err.with_traceback(None)  # noqa: B904  (the same error, without s2sad's own frames: it is about the user's code)
            if e.generated.shape_specific:
                e = ByShape(self, args, e)
            self.table[types_key(args)] = e
        self.check(e, args)
        return e.entry(args) if isinstance(e, ByShape) else e

    def check(self, e: Entry | ByShape, args: tuple) -> None:
        """Differentiated arrays (and pytree leaves) must be floating: checked on every call."""
        for k in e.arrays:
            a = args[self.wrt[k]]
            if type(a) is np.ndarray and a.dtype.kind == "f":
                continue
            for leaf in leaves(a) if is_node(a) else (a,):
                if not differentiable(leaf):
                    what = f"an array of dtype {leaf.dtype}" if isinstance(leaf, np.ndarray) else type(leaf).__name__
                    raise input_error(self.fun, self.wrt[k], a, what + (" inside a pytree" if is_node(a) else ""))

    def _specialize(self, args: tuple, shapes: bool) -> Entry:
        transform = pipeline()
        fun = self._fun()
        assert fun is not None  # (a transform is made for a call of the function)
        code = fun.__code__
        positional = list(code.co_varnames[: code.co_argcount])
        arrays: tuple[int, ...] = ()
        if all(isinstance(i, int) for i in self.wrt):
            argnums = tuple(i % len(args) if -len(args) <= i < len(args) else i for i in self.wrt)
            for i in argnums:
                if i >= len(args):
                    raise TypeError(f"{fun.__qualname__} was called with {len(args)} positional "
                                    f"argument(s), but argnums={self.wrt!r} asks for argument {i}")
                a = args[i]
                if self.strict and not isinstance(a, np.ndarray) and not is_node(a) and (
                        isinstance(a, bool) or not isinstance(a, float | np.floating)):
                    raise input_error(fun, i, a, type(a).__name__)
            names = tuple(positional[i] for i in argnums)
            if self.strict:
                arrays = tuple(k for k, i in enumerate(argnums) if isinstance(args[i], np.ndarray) or is_node(args[i]))
        else:
            names = self.wrt
        scalars = frozenset(positional[i] for i, a in enumerate(args[: len(positional)])
                            if isinstance(a, SCALAR_TYPES))
        trees = frozenset(positional[i] for i, a in enumerate(args[: len(positional)]) if is_node(a))
        dims = {positional[i]: a.shape for i, a in enumerate(args[: len(positional)])
                if type(a) is np.ndarray} if shapes else None
        facts = {positional[i]: f for i, a in enumerate(args[: len(positional)]) if type(a) in _TREES
                 and isinstance(f := of_value(a), Items)} if shapes else None  # (keyed with the shapes: shapes_key)
        if self.shared is None:
            return Entry(transform(fun, names, scalars, self.dynamic_cells, trees, self.mode, dims, typed=True,
                                   facts=facts, captured=self.captured), arrays, fun.__globals__)
        key = (names, scalars, trees, tuple(dims.items()) if dims is not None else None,
               tuple(facts.items()) if facts else None, self.captured)  # (captured: the pullback's results differ)
        generated = self.shared.get(key)
        if generated is None or not globals_hold(fun, generated.globals_read) or not all(
                f.__s2sad_fresh__() for f in generated.derived_from):
            generated = transform(fun, names, scalars, True, trees, self.mode, dims, typed=True, facts=facts,
                                  captured=self.captured)
            if len(self.shared) < MAX_SHARED:
                self.shared[key] = generated
        return Entry(generated, arrays, fun.__globals__, fun)


_TREES = (dict, list, tuple)


def shapes_key(args: tuple) -> tuple:
    """The arrays' shapes, and the pytrees' structure, leaf types and shapes (``tree_key``)."""
    return tuple([a.shape if type(a) is np.ndarray else tree_key(a) if type(a) in _TREES else None
                  for a in args])  # (a list display is faster)


def tree_key(v: dict | list | tuple) -> tuple:
    """A tuple, list or dict's structure (keys), and its leaves' types and arrays' shapes: it tells apart
    any two that ``statics.of_value`` does."""
    items = v.values() if type(v) is dict else v
    leaves: tuple[object, ...] = tuple(map(type, items))
    if np.ndarray in leaves or dict in leaves or list in leaves or tuple in leaves:
        leaves = tuple([x.shape if type(x) is np.ndarray else tree_key(x) if type(x) in _TREES else type(x)
                        for x in items])
    return (type(v), tuple(v), leaves) if type(v) is dict else (type(v), leaves)


class ByShape:
    """The derivatives of one argument-types key that assume the array arguments' shapes, by shape.

    Stands where an ``Entry`` does in ``Cache.table``, which the ``grad`` and
    ``value_and_grad`` call paths read directly (``grad``, ``value_and_grad``, ``arrays``),
    and picks the entry for each call's shapes: 1-2 µs per call. ``Cache.entry`` returns
    the picked entry itself.
    """

    __slots__ = ("cache", "table", "arrays", "any_shape", "fresh")

    def __init__(self, cache: Cache, args: tuple, first: Entry) -> None:
        self.cache = cache
        self.table = {shapes_key(args): first}
        self.arrays = first.arrays
        self.fresh = first.fresh  # (every shape's transform reads the same globals)
        self.any_shape: Entry | None = None  # past MAX_SHAPES shapes: one derivative for all

    def entry(self, args: tuple) -> Entry:
        key = shapes_key(args)
        e = self.table.get(key)
        if e is None:
            if len(self.table) < MAX_SHAPES:
                e = self.table[key] = self.cache._specialize(args, shapes=True)
            else:
                if self.any_shape is None:
                    self.any_shape = self.cache._specialize(args, shapes=False)
                e = self.any_shape
        return e

    def grad(self, *args, **kwargs):
        grad = self.entry(args).grad
        assert grad is not None  # (reverse mode, the only one with a fused gradient, calls it)
        return grad(*args, **kwargs)

    def value_and_grad(self, *args, **kwargs):
        return self.entry(args).value_and_grad(*args, **kwargs)


def input_error(fun, i: int, a, what: str) -> TypeError:
    static = (" A dataclass field that is not a parameter (a size, a name, a function) can be marked static: "
              "field(metadata={'static': True}).") if any(map(is_dataclass_instance, _nodes(a))) else ""
    return TypeError(
        f"grad requires real-valued inputs (floats, arrays of a floating dtype, or tuples, lists, dicts, "
        f"namedtuples and dataclasses of them), but argument {i} of {fun.__qualname__} is {what}. Pass a float "
        f"(e.g. 2.0 rather than 2) or leave the argument out of argnums; a complex argument is not differentiated "
        f"(complex values computed inside the function are).{static}"
    )


def _nodes(x):
    """``x`` and the pytree nodes inside it."""
    yield x
    if isinstance(x, dict):
        x = list(x.values())
    elif is_dataclass_instance(x):
        x = [getattr(x, f) for f in data_fields(x)]
    if isinstance(x, tuple | list):
        for item in x:
            yield from _nodes(item)


def get_cache(fun: types.FunctionType, wrt: tuple, strict: bool = True, mode: str = "reverse") -> Cache:
    """The one cache for ``fun``, ``wrt`` and ``mode``, shared by every caller."""
    per_fun = _caches.setdefault(fun, {})
    cache = per_fun.get((wrt, strict, mode))
    if cache is None:
        source_lines(fun)  # fail now, when the transform is requested, for functions without source
        cache = per_fun[(wrt, strict, mode)] = Cache(fun, wrt, strict, mode=mode, shared=_shared(fun, mode))
    return cache


# code -> {(library cells, mode): {transform arguments: Generated}}
_shared_by_code: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _shared(fun: types.FunctionType, mode: str) -> dict | None:
    """The transforms shared by every closure of ``fun``'s code that captures only data and library
    values (``grad(lambda p: loss(p, Xb, yb))`` made on each step of a training loop), or None.

    The shared derivative reads each closure's cells when it runs (``dynamic_cells``); the library
    values it calls are read at transform time and key it (``library_cells``). A closure capturing
    anything else (a function of the user's, an object) keeps a transform of its own, which may
    resolve its calls by what the cells hold."""
    if not all(_shareable(cell_contents(c)) for c in fun.__closure__ or ()):
        return None
    return _shared_by_code.setdefault(fun.__code__, {}).setdefault((library_cells(fun), mode), {})


def _shareable(value) -> bool:
    if isinstance(value, types.MethodType) and type(value.__self__).__module__.split(".")[0] == "s2sad":
        return False  # a run-time handle's call lives only as long as its caller: shared, each leaves a stale entry
    if library_value(value):
        return True
    return all(isinstance(leaf, SCALAR_TYPES + (np.ndarray, complex, str, bytes, type(None)))
               for leaf in leaves(value))


def derived(code: types.FunctionType, fun: types.FunctionType, read: dict[str, object]) -> types.FunctionType:
    """``code``, generated from ``fun`` relying on ``fun``'s globals ``read``, marked as derived: its
    ``__s2sad_fresh__()`` says whether they still hold. A transform of it (a derivative of a derivative)
    checks that on every call, as it checks its own globals (``Entry.fresh``)."""
    code.__dict__["__s2sad_fresh__"] = globals_check(fun.__globals__, read)  # (a function attribute)
    return code


def rebind(generated: types.FunctionType, fn: types.FunctionType, snapshot: bool = True) -> types.FunctionType:
    """``generated`` reading what ``fn``'s closure cells (same names) hold, and its defaults.

    With ``snapshot`` (a call in generated code) the cells are copied: the pullback runs later,
    after the caller may have rebound a captured name (a closure made in a loop), and must see
    the values of this call. Without (a derivative the user holds), it reads ``fn``'s cells
    themselves, as ``fn`` does.
    """
    cells = dict(zip(generated.__code__.co_freevars, generated.__closure__ or ()))
    own = fn.__closure__ or ()
    cells.update(zip(fn.__code__.co_freevars, map(_snapshot, own) if snapshot else own))
    closure = tuple(cells[name] for name in generated.__code__.co_freevars)
    out = types.FunctionType(generated.__code__, generated.__globals__, generated.__name__, fn.__defaults__, closure)
    out.__kwdefaults__ = fn.__kwdefaults__
    return out


def carries_derivative(value, seen: set[int] | None = None) -> bool:
    """``value`` holds a float or a floating array, or is a function that captured one (at any
    depth): what a caller's cotangent or tangent of a captured value covers."""
    seen = set() if seen is None else seen
    for leaf in leaves(value):
        if differentiable(leaf):
            return True
        if isinstance(leaf, types.FunctionType) and id(leaf) not in seen:
            seen.add(id(leaf))
            if any(carries_derivative(cell_contents(cell), seen) for cell in leaf.__closure__ or ()):
                return True
    return False


def _snapshot(cell: types.CellType) -> types.CellType:
    try:
        return types.CellType(cell.cell_contents)
    except ValueError:  # not bound yet: nothing to keep
        return cell
