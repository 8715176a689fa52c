"""The transform cache: each function is transformed once per (wrt, argument types).

``Cache.entry(args)`` returns the loaded derivative for the types of ``args``,
transforming on a miss. The first transform for a key is given the array
arguments' shapes; when knowing them removed a shape check (``unbroadcast``), the
key gets one derivative per shape (``ByShape``), as JAX traces once per shape,
up to ``MAX_SHAPES`` shapes, then a derivative that assumes none serves the rest. User-facing caches (``grad``, ``vjp``) check that the
differentiated arguments are real floats and arrays; ``VJP`` objects, which
generated code calls for user functions, do not (cotangents follow whatever
flows). Caches are keyed weakly by the function (``vjp_of``'s by code object) and
hold it weakly: a derivative lives as long as its function and its callers.
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys
import sysconfig
import types
import weakref

import numpy as np

from .errors import NoDerivativeRuleError, S2SADSyntaxError
from .frontend import cell_contents, globals_hold, library_cells, library_value, source_lines
from .pytree import differentiable, is_node, leaves
from .rules import custom_rule, lookup

__all__ = ["Cache", "Entry", "ByShape", "VJP", "JVP", "get_cache", "types_key", "vjp_of", "jvp_of"]

_SCALAR_TYPES = (float, int, bool, np.generic)
MAX_SHAPES = 8  # shape-specific derivatives per argument types
MAX_SHARED = 64  # derivatives kept for the closures of one code (see ``_shared``)
_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Entry:
    """One specialisation: the loaded vjp and fused grad functions."""

    __slots__ = ("_vjp", "_value_and_grad", "grad", "arrays", "generated", "_fun")

    def __init__(self, generated, arrays: tuple[int, ...], fun: types.FunctionType | None = None) -> None:
        self.generated = generated
        self._fun = None if fun is None else weakref.ref(fun)  # a closure the shared derivative reads
        self._vjp = None  # loaded on first use: grad needs only the fused function
        self._value_and_grad = None
        self.grad = self._bound(generated.grad_function)
        self.arrays = arrays  # positions (into wrt) whose argument is an array or a pytree: checked per call

    def _bound(self, generated: types.FunctionType | None) -> types.FunctionType | None:
        """``generated``, reading the cells of the closure this entry serves (when it serves one)."""
        if generated is None or self._fun is None:
            return generated
        return _rebind(generated, self._fun(), snapshot=False)

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
                 mode: str = "reverse", shared: dict | None = None) -> None:
        self._fun = weakref.ref(fun)  # what calls the derivative keeps fun alive: nothing here does
        self.wrt = wrt
        self.strict = strict
        self.mode = mode
        self.dynamic_cells = dynamic_cells or shared is not None  # one transform for every closure of fun's code
        self.shared = shared
        self.table: dict[object, Entry | ByShape] = {}  # types_key(args) -> entry, or entries by shape

    @property
    def fun(self) -> types.FunctionType | None:
        return self._fun()

    @fun.setter
    def fun(self, fun: types.FunctionType) -> None:
        self._fun = weakref.ref(fun)

    def entry(self, args: tuple) -> Entry:
        """The derivative for ``args`` (transformed on a miss), after checking their dtypes."""
        e = self.table.get(types_key(args))
        if e is None:
            e = self._specialize(args, shapes=self.mode == "reverse")
            if e.generated.shape_specific:
                e = ByShape(self, args, e)
            self.table[types_key(args)] = e
        self.check(e, args)
        return e.entry(args) if isinstance(e, ByShape) else e

    def check(self, e: Entry, args: tuple) -> None:
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
        from .transform import transform  # the pipeline imports this module's users

        code = self.fun.__code__
        positional = list(code.co_varnames[: code.co_argcount])
        arrays: tuple[int, ...] = ()
        if all(isinstance(i, int) for i in self.wrt):
            argnums = tuple(i % len(args) if -len(args) <= i < len(args) else i for i in self.wrt)
            for i in argnums:
                if i >= len(args):
                    raise TypeError(f"{self.fun.__qualname__} was called with {len(args)} positional "
                                    f"argument(s), but argnums={self.wrt!r} asks for argument {i}")
                a = args[i]
                if self.strict and not isinstance(a, np.ndarray) and not is_node(a) and (
                        isinstance(a, bool) or not isinstance(a, float | np.floating)):
                    raise input_error(self.fun, i, a, type(a).__name__)
            names = tuple(positional[i] for i in argnums)
            if self.strict:
                arrays = tuple(k for k, i in enumerate(argnums) if isinstance(args[i], np.ndarray) or is_node(args[i]))
        else:
            names = self.wrt
        scalars = frozenset(positional[i] for i, a in enumerate(args[: len(positional)])
                            if isinstance(a, _SCALAR_TYPES))
        trees = frozenset(positional[i] for i, a in enumerate(args[: len(positional)]) if is_node(a))
        dims = {positional[i]: a.shape for i, a in enumerate(args[: len(positional)])
                if type(a) is np.ndarray} if shapes else None
        if self.shared is None:
            return Entry(transform(self.fun, names, scalars, self.dynamic_cells, trees, self.mode, dims, typed=True),
                         arrays)
        key = (names, scalars, trees, tuple(dims.items()) if dims is not None else None)
        generated = self.shared.get(key)
        if generated is None or not globals_hold(self.fun, generated.globals_read):
            generated = transform(self.fun, names, scalars, True, trees, self.mode, dims, typed=True)
            if len(self.shared) < MAX_SHARED:
                self.shared[key] = generated
        return Entry(generated, arrays, self.fun)


def shapes_key(args: tuple) -> tuple:
    return tuple([a.shape if type(a) is np.ndarray else None for a in args])  # (a list display is faster)


class ByShape:
    """The derivatives of one argument-types key that assume the array arguments' shapes, by shape.

    Stands where an ``Entry`` does in ``Cache.table``, which the ``grad`` and
    ``value_and_grad`` call paths read directly (``grad``, ``value_and_grad``, ``arrays``),
    and picks the entry for each call's shapes: 1-2 µs per call. ``Cache.entry`` returns
    the picked entry itself.
    """

    __slots__ = ("cache", "table", "arrays", "any_shape")

    def __init__(self, cache: Cache, args: tuple, first: Entry) -> None:
        self.cache = cache
        self.table = {shapes_key(args): first}
        self.arrays = first.arrays
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
        return self.entry(args).grad(*args, **kwargs)

    def value_and_grad(self, *args, **kwargs):
        return self.entry(args).value_and_grad(*args, **kwargs)


def input_error(fun, i: int, a, what: str) -> TypeError:
    return TypeError(
        f"grad requires real-valued inputs (floats, arrays of a floating dtype, or tuples, lists and dicts "
        f"of them), but argument {i} of {fun.__qualname__} is {what}. Pass a float (e.g. 2.0 rather than 2) "
        "or leave the argument out of argnums; complex numbers are not supported yet."
    )


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
    if library_value(value):
        return True
    return all(isinstance(leaf, _SCALAR_TYPES + (np.ndarray, complex, str, bytes, type(None)))
               for leaf in leaves(value))


class _Handle:
    """A derivative of one user function w.r.t. some of its parameters, transformed on first call
    (so recursion needs nothing special) and shared: ``of`` gives every caller the same one."""

    __slots__ = ("fun", "cache", "_generic", "call", "__weakref__")
    mode = "reverse"
    _handles: weakref.WeakKeyDictionary

    def __init__(self, fun: types.FunctionType, wrt: tuple[str, ...]) -> None:
        self.fun = fun  # held by the generated code that calls it; the caches hold fun weakly
        self.cache = get_cache(fun, wrt, strict=False, mode=self.mode)
        self._generic = None
        self.call = self.__call__  # what generated code binds (see VJP)

    @classmethod
    def of(cls, fun: types.FunctionType, wrt: tuple[str, ...]):
        per_fun = cls._handles.setdefault(fun, weakref.WeakValueDictionary())
        handle = per_fun.get(wrt)
        if handle is None:
            handle = per_fun[wrt] = cls(fun, wrt)
        return handle

    def __repr__(self) -> str:
        kind = "vjp" if self.mode == "reverse" else "jvp"
        return f"<s2sad {kind} of {self.fun.__qualname__} w.r.t. {', '.join(self.cache.wrt)}>"


class VJP(_Handle):
    """Generated code binds one per callee (``g_vjp``) and calls ``z, g_pullback = g_vjp(a, b)``.

    It binds the handle's ``call`` (its bound ``__call__``): Python counts a call of an object with
    ``__call__`` as two frames against the recursion limit, of a bound method as one (recursion goes deeper).
    """

    __slots__ = ()
    _handles = weakref.WeakKeyDictionary()

    def __call__(self, *args, **kwargs):
        try:
            return self.cache.entry(args).vjp(*args, **kwargs)
        except (S2SADSyntaxError, NoDerivativeRuleError) as e:
            if not _library(self.cache.fun):
                raise
            raise _library_error(self.cache.fun, e, sys._getframe(1)) from None

    def generic(self) -> types.FunctionType:
        """The generated vjp for any argument types: what a derivative of this derivative transforms."""
        from .transform import transform

        if self._generic is None:
            self._generic = transform(self.fun, self.cache.wrt).function
        return self._generic


_LIBRARY_DIRS = tuple({os.path.join(os.path.realpath(sysconfig.get_paths()[k]), "")
                       for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def _library(fun: types.FunctionType) -> bool:
    """``fun`` is installed library code (the standard library or site-packages), not the user's."""
    return os.path.realpath(fun.__code__.co_filename).startswith(_LIBRARY_DIRS)


def _library_error(fun: types.FunctionType, e: Exception, caller: types.FrameType) -> NoDerivativeRuleError:
    """A library function whose source s2sad transformed and could not differentiate: named as the
    callable the caller's line called, with the reason found inside it as a note."""
    from .rules import rule_name
    from .transform import LINEMAPS

    loc = (LINEMAPS.get(caller.f_code.co_filename) or {}).get(caller.f_lineno)
    where = f", the function called at {loc.file}:{loc.line}:\n    {loc.text}" if loc else ""
    error = NoDerivativeRuleError(
        f"s2sad has no derivative rule for {rule_name(fun)}{where}\nIt is library code, and s2sad cannot "
        "differentiate its source (see the note). Register a rule with `@s2sad.rrule(fn)`, or write the "
        "computation in your own code.")
    error.reason = getattr(e, "reason", None) or f"{type(e).__name__}: {e}"  # the innermost one
    error.__notes__ = [f"s2sad: inside it, {error.reason}"]  # (add_note is Python 3.11's)
    return error


VJP_OF_HIGHER_ORDER = (
    "derivatives of derivatives of code that calls a function value (a lambda, a nested def or a "
    "function passed as an argument; or a pullback, in the code of a derivative of a function that "
    "calls another) are not supported yet: the derivative code calls it through s2sad.cache.vjp_of "
    "or jvp_of. Call a function defined at module level by its name instead")


def vjp_of(fn, positions: tuple[int, ...], keywords: tuple[str, ...], captures: bool):
    """The vjp, w.r.t. some arguments, of a function known only when called (a local or a parameter).

    Generated code calls ``vjp_of(f, positions, keywords, captures)(*args, **kwargs)``.
    Its pullback returns the cotangents of ``args[i]`` for ``i`` in ``positions``,
    then of each keyword in ``keywords``, then, when ``captures`` is true, a dict
    with the cotangent of every float or array the function captured.

    Functions made at run time (nested ``def``, ``lambda``) are new objects on
    every call of their maker, so the transform is cached by code object and
    rebound to each function's own closure cells.
    """
    if _has_rule(fn):
        def call_rule(*args, **kwargs):
            return vjp_of(_rule_caller(fn, len(args), tuple(kwargs)), positions, keywords, captures)(*args, **kwargs)

        call_rule.__s2sad_vjp_of__ = True
        return call_rule
    self_arg, fn, cache, frees = _dynamic(fn, positions, keywords, captures, "reverse")
    cells = fn.__closure__ or ()
    n = len(cache.wrt) - len(frees)

    def call(*args, **kwargs):
        args = (*self_arg, *args)
        vjp = cache.entry(args).vjp
        if cells:
            vjp = _rebind(vjp, fn)
        out, pullback = vjp(*args, **kwargs)  # (a callee s2sad cannot transform says so first)
        _check_no_writes(fn, args, kwargs)
        if not captures:
            return out, pullback

        def closure_pullback(out_bar):
            bars = pullback(out_bar)
            return (*bars[:n], dict(zip(frees, bars[n:])))

        return out, closure_pullback

    call.__s2sad_vjp_of__ = True
    return call


# code -> {(self?, wrt, mode): Cache} shared by the closures made from that code
_by_code: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _has_rule(fn) -> bool:
    """``fn`` is not Python source but has a derivative rule (a NumPy ufunc, ``math.sin``, ...)."""
    return not isinstance(fn, types.FunctionType | types.MethodType) and (
        lookup(fn) is not None or custom_rule(fn) is not None)


_rule_callers: dict = {}  # (callable, number of positional arguments, keywords) -> a function calling it


def _rule_caller(fn, nargs: int, keywords: tuple[str, ...]) -> types.FunctionType:
    """A Python function calling ``fn`` with ``nargs`` positional arguments and these keywords: a
    call through a variable (``act = np.tanh; act(x)``) differentiated by ``fn``'s own rule."""
    key = (fn, nargs, keywords)
    if key not in _rule_callers:
        name = f"call_{getattr(fn, '__name__', 'callable')}"
        params = [f"a{i}" for i in range(nargs)]
        text = (f"def {name}({', '.join([*params, *(['*', *keywords] if keywords else [])])}):\n"
                f"    return fn({', '.join([*params, *(f'{k}={k}' for k in keywords)])})\n")
        filename = f"<s2sad: {name}({nargs} arguments{', ' + ', '.join(keywords) if keywords else ''})>"
        linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
        namespace = {"fn": fn}
        exec(compile(text, filename, "exec"), namespace)
        _rule_callers[key] = namespace[name]
    return _rule_callers[key]


def _dynamic(fn, positions: tuple[int, ...], keywords: tuple[str, ...], captures: bool, mode: str):
    """For a function known only when called: the bound ``self`` (if a method), the function,
    its derivative cache (shared by every closure of its code) and the captures to differentiate."""
    self_arg = ()
    if isinstance(fn, types.MethodType):
        self_arg, fn = (fn.__self__,), fn.__func__
    fn = _as_source(fn)
    if getattr(fn, "__s2sad_vjp_of__", False):
        from .errors import NoDerivativeRuleError

        raise NoDerivativeRuleError(VJP_OF_HIGHER_ORDER)
    if not isinstance(fn, types.FunctionType):
        from .errors import NoDerivativeRuleError

        raise NoDerivativeRuleError(
            f"s2sad was asked to differentiate a call to {fn!r} through a variable, but it is not a "
            "Python function with source. Call it by its name, so its derivative rule is found "
            "when the caller is transformed.")
    source_lines(fn)  # (a derivative function s2sad cannot transform again says so)
    code = fn.__code__
    frees = tuple(name for name, cell in zip(code.co_freevars, fn.__closure__ or ())
                  if captures and carries_derivative(cell_contents(cell)))
    params = code.co_varnames[: code.co_argcount]
    named = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    shift = len(self_arg)
    if any(p + shift >= len(params) for p in positions) or any(k not in named for k in keywords):
        raise TypeError(f"s2sad differentiates {fn.__qualname__} only through arguments that bind to "
                        "named parameters (not *args or **kwargs)")
    wrt = tuple(params[p + shift] for p in positions) + tuple(keywords) + frees
    per_code = _by_code.setdefault(code, {})
    key = (shift, wrt, mode, library_cells(fn))
    cache = per_code.get(key)
    if cache is None:
        cache = per_code[key] = Cache(fn, wrt, strict=False, dynamic_cells=True, mode=mode)
    elif cache.fun is None:  # the closure it was made for is gone: this one stands for them all
        cache.fun = fn
    return self_arg, fn, cache, frees


def _check_no_writes(fn: types.FunctionType, args: tuple, kwargs: dict) -> None:
    """A function value called in differentiated code may not write into an array, list or dict it is
    given (or captured): the caller's analysis could not see that write."""
    from .mutation import effects

    written = effects(fn).writes
    if not written:
        return
    values = dict(zip(fn.__code__.co_freevars, map(cell_contents, fn.__closure__ or ())))
    try:
        values.update(inspect.signature(fn).bind(*args, **kwargs).arguments)
    except TypeError:  # the call itself fails, and says why
        return
    for name, loc in written.items():
        if name in values and _mutable(values[name]):
            where = f", at {loc.file}:{loc.line}:\n    {loc.text}" if loc is not None else ""
            raise S2SADSyntaxError(
                f"{fn.__qualname__}, called through a variable in differentiated code, writes into {name!r} in "
                f"place{where}\ns2sad follows such writes only in functions called by name. Call it by name, or "
                "make it return the new value instead", loc) if loc is not None else NoDerivativeRuleError(
                f"{fn.__qualname__}, called through a variable in differentiated code, may write into {name!r}; "
                "call it by name, or make it return the new value instead")


def _mutable(value) -> bool:
    if isinstance(value, tuple):  # (*args)
        return any(map(_mutable, value))
    return not isinstance(value, _SCALAR_TYPES + (complex, str, bytes, type(None)))


def _as_source(fn):
    """A grad function (``s2sad.grad(g)``) as the generated code that computes it."""
    if hasattr(fn, "__s2sad_spec__"):
        from .api import differentiable

        return differentiable(fn, dynamic=True)
    return fn


def _rebind(generated: types.FunctionType, fn: types.FunctionType, snapshot: bool = True) -> types.FunctionType:
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


class JVP(_Handle):
    """Generated forward-mode code calls ``z, z_dot = g_jvp(a, tangents=(a_dot,))``."""

    __slots__ = ("caller",)  # nested.jvp_caller's function calling this handle, once made
    mode = "forward"
    _handles = weakref.WeakKeyDictionary()

    def __init__(self, fun: types.FunctionType, wrt: tuple[str, ...]) -> None:
        super().__init__(fun, wrt)
        self.caller = None

    def generic(self) -> types.FunctionType:
        """The generated jvp for any argument types, taking the tangents first (``nested.tangents_first``):
        what a derivative of this derivative transforms."""
        from .nested import tangents_first
        from .transform import transform

        if self._generic is None:
            generated = transform(self.fun, self.cache.wrt, mode="forward")
            self._generic = tangents_first(generated.function, generated.tangent_names)
        return self._generic

    def __call__(self, *args, tangents=(), **kwargs):
        try:
            e = self.cache.entry(args)
            return e.vjp(*args, **kwargs, **dict(zip(e.generated.tangent_names, tangents)))
        except (S2SADSyntaxError, NoDerivativeRuleError) as e:
            if not _library(self.cache.fun):
                raise
            raise _library_error(self.cache.fun, e, sys._getframe(1)) from None


def jvp_of(fn, positions: tuple[int, ...], keywords: tuple[str, ...], captures: bool = False):
    """The jvp of a function known only when called; see ``vjp_of``. With ``captures`` the
    last tangent is a dict with the tangents of the values the function captured."""
    if _has_rule(fn):
        return lambda *args, tangents=(), **kwargs: jvp_of(_rule_caller(fn, len(args), tuple(kwargs)), positions,
                                                           keywords, captures)(*args, tangents=tangents, **kwargs)
    self_arg, fn, cache, frees = _dynamic(fn, positions, keywords, captures, "forward")

    def call(*args, tangents=(), **kwargs):
        args = (*self_arg, *args)
        if captures:
            tangents = (*tangents[:-1], *(tangents[-1].get(f, 0.0) for f in frees))
        e = cache.entry(args)
        jvp = _rebind(e.vjp, fn) if fn.__closure__ else e.vjp
        out = jvp(*args, **kwargs, **dict(zip(e.generated.tangent_names, tangents)))
        _check_no_writes(fn, args, kwargs)  # (after: a callee s2sad cannot transform says so first)
        return out

    return call
