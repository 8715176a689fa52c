"""The run-time linker: the handles generated code calls to reach other derivatives.

Generated code calls a user function's derivative through a handle bound when the caller
was transformed (``VJP``, ``JVP``: shared per function and parameters, transformed on first
call, so recursion needs nothing special), a function known only when called through
``vjp_of``/``jvp_of`` (cached per code object, rebound to each closure's cells), and a rule
the user registered through ``RRuleHandle``/``FRuleHandle``. Each says what Python stands for
it when the code calling it is differentiated again (``__s2sad_source__``; ``__s2sad_source_for__``
where that depends on the call's arguments: ``star_vjp``/``star_jvp``, a callable with a rule
called through a variable). A handle reaches the pipeline through ``cache`` (handed
``transform`` when that module loads), so the compiler imports this module and not the other
way round.
"""

from __future__ import annotations

import functools
import inspect
import keyword
import linecache
import math
import os
import sys
import sysconfig
import types
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from .cache import SCALAR_TYPES, Cache, Entry, carries_derivative, derived, get_cache, pipeline, rebind
from .custom import checkpointed_loop, rrule
from .errors import NoDerivativeRuleError, S2SADSyntaxError, SourceUnavailableError
from .frontend import cell_contents, forwarded, library_cells, source_lines
from .load import LINEMAPS
from .mutation import effects
from .resolve import bind_slots, derivative_source
from .rules import FUNCTION_VALUE_VJPS, custom_rule, lookup, rule_name
from .runtime import add_bars, zeros_like
from .statics import nested, param_facts
from .wrappers import tangents_first

__all__ = ["VJP", "JVP", "vjp_of", "jvp_of", "jvp_of_tangents_first", "star_vjp", "star_jvp", "VJP_OF_HIGHER_ORDER", "RRuleHandle", "FRuleHandle", "CheckpointHandle"]


class _Handle:
    """A derivative of one user function w.r.t. some of its parameters, transformed on first call
    (so recursion needs nothing special) and shared: ``of`` gives every caller the same one."""

    __slots__ = ("fun", "cache", "_generic", "call", "__weakref__")
    mode = "reverse"
    _handles: ClassVar[weakref.WeakKeyDictionary]

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
    _handles: ClassVar[weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()

    def __call__(self, *args, **kwargs):
        try:
            return self.cache.entry(args).vjp(*args, **kwargs)
        except (S2SADSyntaxError, NoDerivativeRuleError) as e:
            if not _library(self.cache.fun):
                raise
            raise _library_error(self.cache.fun, e, sys._getframe(1)) from None

    def specialised(self, signature: tuple) -> types.FunctionType | None:
        """The vjp made for positional arguments of the facts ``signature`` (``statics``), made now, for a
        caller whose own derivative guarantees them; None where it cannot be made now (within its own
        transform, or an error the call reports when it runs, through this handle). Its
        ``__s2sad_fresh__`` is its derivative's freshness: the caller's derivative checks it on every call
        (and is made again, with it, where a global either relied on was redefined)."""
        entry = self.cache.static.get(signature)
        if entry is None or not entry.fresh():
            with nested(("vjp", self.fun, self.cache.wrt, signature)) as entered:
                if not entered:
                    return None
                scalars, trees, dims, facts = param_facts(self.fun, signature)
                try:
                    generated = pipeline()(self.fun, self.cache.wrt, scalars, False, trees, dims=dims, typed=True,
                                           facts=facts)
                except (S2SADSyntaxError, NoDerivativeRuleError, SourceUnavailableError):
                    return None
            entry = self.cache.static[signature] = Entry(generated, (), self.fun.__globals__)
        vjp = entry.vjp
        vjp.__s2sad_callee__ = (self.fun, self.cache.wrt, entry.generated)  # (for ``source(callees=True)``)
        vjp.__s2sad_fresh__ = entry.fresh
        return vjp

    @staticmethod
    def __s2sad_source__(handle: VJP, dynamic: bool = False) -> types.FunctionType:
        """What differentiating a call of ``handle`` transforms: its generated vjp (see ``resolve``)."""
        return handle.generic()

    def generic(self) -> types.FunctionType:
        """The generated vjp for any argument types: what a derivative of this derivative transforms
        (made again where a global it relied on was redefined since; see ``cache.derived``)."""
        if self._generic is None or not self._generic.__s2sad_fresh__():
            generated = pipeline()(self.fun, self.cache.wrt)
            self._generic = derived(generated.function, self.fun, generated.globals_read)
        return self._generic


_LIBRARY_DIRS = tuple({os.path.join(os.path.realpath(sysconfig.get_paths()[k]), "")
                       for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def _library(fun: types.FunctionType) -> bool:
    """``fun`` is installed library code (the standard library or site-packages), not the user's."""
    return os.path.realpath(fun.__code__.co_filename).startswith(_LIBRARY_DIRS)


def _library_error(fun: types.FunctionType, e: Exception, caller: types.FrameType) -> NoDerivativeRuleError:
    """A library function whose source s2sad transformed and could not differentiate: named as the
    callable the caller's line called, with the reason found inside it as a note."""
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
    "derivatives of forward-mode derivatives (jacfwd of jacfwd, grad of jvp) of code that calls a function "
    "value that captured a value carrying a derivative and whose *args or **kwargs receive one are not "
    "supported yet: the forward-mode code packs their tangents as it runs (s2sad.linker.jvp_of). Take the "
    "outer derivative in reverse mode (s2sad.hessian is jacfwd of grad), pass the captured value as an "
    "argument, or pass the values to named parameters")


def packed_tangents(fn: types.FunctionType, wrt: tuple[str, ...], slots: list, tangents: tuple, args: tuple,
                    kwargs: dict) -> tuple:
    """One tangent per parameter in ``wrt`` from one per argument (``slots``, see ``resolve.bind_slots``): a
    tuple for ``*args`` and a dict for ``**kwargs``, holding zeros for the arguments without one."""
    code = fn.__code__
    named = set(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])

    def zeros(key):  # for every argument `*args` (an index) or `**kwargs` (a key) receives; None: a named one
        if key is None:
            return None
        if isinstance(key, str):
            return {k: zeros_like(v) for k, v in kwargs.items() if k not in named}
        return [zeros_like(a) for a in args[code.co_argcount:]]

    per_param = {name: zeros(key) for name, key in slots}
    for (name, key), t in zip(slots, tangents):
        if key is None:
            per_param[name] = t
        else:
            per_param[name][key] = t
    return tuple(tuple(v) if isinstance(v, list) else v for v in (per_param[name] for name in wrt))


def star_vjp(fn, args: tuple, kwargs: dict, captures: bool = False):
    """The vjp of ``fn(*args, **kwargs)`` (a call with ``*`` or ``**`` in generated code) w.r.t. every argument
    that carries a derivative: its pullback returns a tuple with a cotangent per positional argument and a
    dict with one per keyword (zeros for the others), then, with ``captures``, the dict of the cotangents of
    what ``fn`` captured (see ``vjp_of``)."""
    positions, keywords = _carrying(args, kwargs)
    out, pullback = vjp_of(fn, positions, keywords, captures)(*args, **kwargs)

    def star_pullback(out_bar):
        bars = iter(pullback(out_bar))
        args_bar = [next(bars) if i in positions else zeros_like(a) for i, a in enumerate(args)]
        kwargs_bar = {k: next(bars) if k in keywords else zeros_like(v) for k, v in kwargs.items()}
        return (tuple(args_bar), kwargs_bar, *bars)

    return out, star_pullback


def star_jvp(fn, args: tuple, kwargs: dict, args_dot: tuple, kwargs_dot: dict, captured_dot: dict | None = None):
    """The jvp of ``fn(*args, **kwargs)`` with a tangent per positional argument and per keyword, and the
    tangents of what ``fn`` captured (``captured_dot``, a dict; None: ``fn`` carries no derivative)."""
    positions, keywords = _carrying(args, kwargs)
    tangents = (*(args_dot[i] for i in positions), *(kwargs_dot[k] for k in keywords),
                *(() if captured_dot is None else (captured_dot,)))
    return jvp_of(fn, positions, keywords, captured_dot is not None)(*args, tangents=tangents, **kwargs)


def _carrying(args: tuple, kwargs: dict) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The positions and keywords of the arguments that carry a derivative."""
    return (tuple(i for i, a in enumerate(args) if carries_derivative(a)),
            tuple(k for k, v in kwargs.items() if carries_derivative(v)))


def vjp_of(fn, positions: tuple[int, ...], keywords: tuple[str, ...], captures: bool):
    """The vjp, w.r.t. some arguments, of a function known only when called (a local or a parameter).

    Generated code calls ``vjp_of(f, positions, keywords, captures)(*args, **kwargs)``.
    Its pullback returns the cotangents of ``args[i]`` for ``i`` in ``positions``,
    then of each keyword in ``keywords``, then, when ``captures`` is true, a dict
    with the cotangent of every float or array the function captured.

    Functions made at run time (nested ``def``, ``lambda``) are new objects on
    every call of their maker, so the transform is cached by code object and
    rebound to each function's own closure cells.

    What it returns is differentiated again (a derivative of the code calling it) as the Python it runs
    (see ``resolve.derivative_source``): ``fn``'s generated vjp, or, for a callable whose Python depends
    on the arguments (``_source_for``), the generated vjp of that Python.
    """
    source_for = _source_for(fn)
    if source_for is not None:
        def call_source(*args, **kwargs):
            return vjp_of(source_for(args, kwargs), positions, keywords, captures)(*args, **kwargs)

        call_source.__s2sad_vjp_of__ = True
        call_source.__s2sad_source_for__ = lambda args, kwargs: _as_source(
            vjp_of(source_for(args, kwargs), positions, keywords, captures))
        return call_source
    self_arg, bound, fn, cache, frees = _dynamic(fn, positions, keywords, captures, "reverse")
    own = _own_state(fn)
    n = len(cache.wrt) - len(frees)
    slots = bind_slots(fn, positions, keywords, len(self_arg))[1]
    packed = any(key is not None for _, key in slots)

    def call(*args, **kwargs):
        args, kwargs = (*self_arg, *args), {**bound, **kwargs}
        vjp = cache.entry(args).vjp
        if own:
            vjp = rebind(vjp, fn)
        out, pullback = vjp(*args, **kwargs)  # (a callee s2sad cannot transform says so first)
        _check_no_writes(fn, args, kwargs)
        if not packed:
            return out, pullback  # (with captures, the pullback gives their cotangents as a dict last)

        def split_pullback(out_bar):
            bars = pullback(out_bar)
            per_param = dict(zip(cache.wrt[:n], bars[:n]))
            parts = tuple(per_param[name] if key is None else per_param[name][key] for name, key in slots)
            return (*parts, *bars[n:])

        return out, split_pullback

    call.__s2sad_vjp_of__ = True
    call.__s2sad_source__ = lambda call, dynamic: _bound(  # differentiated again as fn's generated vjp
        _vjp_source(fn, cache.wrt, captures, tuple(slots) if packed else None), self_arg, bound)
    return call


FUNCTION_VALUE_VJPS.add(vjp_of)  # vjp_of(f, ...) is a derivative function of f: it reads what f captured


# code -> {(self?, wrt, mode, library cells, captures): Cache} shared by the closures made from that code
_by_code: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _own_state(fn: types.FunctionType) -> bool:
    """Does ``fn`` hold cells or defaults of its own? The transform is shared by its code, and rebound to
    them (``rebind``)."""
    return bool(fn.__closure__ or fn.__defaults__ or fn.__kwdefaults__)


def _source_for(fn):
    """For a callable whose Python depends on how it is called, a function of the call's ``(args, kwargs)``
    giving that Python: a callable with a derivative rule (``act = np.tanh``, see ``_rule_caller``), ``star_vjp``
    and ``star_jvp`` (see ``_star_source``), what ``vjp_of`` made of one. None for any other."""
    source_for = getattr(fn, "__s2sad_source_for__", None)
    if source_for is None and not isinstance(fn, types.FunctionType | types.MethodType) and (
            lookup(fn) is not None or custom_rule(fn) is not None):
        return lambda args, kwargs: _rule_caller(fn, len(args), tuple(kwargs))
    return source_for


_sources: dict = {}  # (what the Python calls, how) -> the function loaded (see ``_load_source``)


def _load_source(key: tuple, name: str, label: str, lines: list[str], namespace: dict) -> types.FunctionType:
    """The function ``name`` defined by ``lines`` reading the globals ``namespace``, loaded once per ``key``
    with its text in ``linecache`` under ``label``, so s2sad can transform it."""
    if key not in _sources:
        text = "".join(f"{line}\n" for line in lines if line)
        filename = f"<s2sad: {label}>"
        linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
        exec(compile(text, filename, "exec"), namespace)
        _sources[key] = namespace[name]
    return _sources[key]


def _rule_caller(fn, nargs: int, keywords: tuple[str, ...]) -> types.FunctionType:
    """A Python function calling ``fn`` with ``nargs`` positional arguments and these keywords: a
    call through a variable (``act = np.tanh; act(x)``) differentiated by ``fn``'s own rule."""
    name = f"call_{getattr(fn, '__name__', 'callable')}"
    params = [f"a{i}" for i in range(nargs)]
    lines = [f"def {name}({', '.join([*params, *(['*', *keywords] if keywords else [])])}):",
             f"    return fn({', '.join([*params, *(f'{k}={k}' for k in keywords)])})"]
    label = f"{name}({nargs} arguments{', ' + ', '.join(keywords) if keywords else ''})"
    return _load_source((fn, nargs, keywords), name, label, lines, {"fn": fn})


def _star_source(mode: str):
    """``star_vjp`` (``mode`` "reverse") or ``star_jvp`` ("forward") as Python s2sad can differentiate, for the
    arguments of one call: the same computation through ``vjp_of``/``jvp_of``, the arguments unpacked and
    which of them carry a derivative written out (a derivative of code that passes them with ``*``/``**``)."""
    def source_for(args: tuple, kwargs: dict) -> types.FunctionType:
        _, values, named, *rest = (*args, *kwargs.values())  # (as generated code calls it)
        positions, keywords = _carrying(values, named)
        if mode == "forward":  # (args_dot, kwargs_dot, captured_dot)
            captures = len(rest) > 2 and rest[2] is not None
        else:  # (captures)
            captures = bool(rest) and rest[0] is True
        _check_keywords(named, ())
        name = "star_vjp" if mode == "reverse" else "star_jvp"
        key = (name, len(values), positions, tuple(named), keywords, captures)
        return _load_source(key, f"{name}_source", f"{name} of {len(values)} arguments"
                            f"{', ' + ', '.join(named) if named else ''}",
                            _star_lines(mode, len(values), positions, tuple(named), keywords, captures),
                            {"vjp_of": vjp_of, "jvp_of": jvp_of, "zeros_like": zeros_like})

    return source_for


def _check_keywords(keys, taken: tuple[str, ...]) -> None:
    """Generated Python passes each of ``keys`` as a keyword, some read into a parameter of that name: one that
    cannot be (not an identifier, or one of ``taken``) is refused."""
    bad = next((k for k in keys if not k.isidentifier() or keyword.iskeyword(k) or k in taken), None)
    if bad is not None:
        raise NoDerivativeRuleError(
            f"derivatives of derivatives of a call passing the keyword {bad!r} with ** are not supported: pass the "
            "values carrying a derivative under other names")


def _listed(names: list[str]) -> str:
    """``names`` as the targets of an unpacking (``a,`` for one)."""
    return ", ".join(names) + ("," if len(names) == 1 else "")


def _star_lines(mode: str, nargs: int, positions: tuple[int, ...], named: tuple[str, ...], keywords: tuple[str, ...],
                captures: bool) -> list[str]:
    """The text of ``_star_source``'s function: ``a0, a1, ... = args``, each keyword read into a name of its own
    (``k_scale = kwargs["scale"]``), and the call through ``vjp_of`` (its pullback's cotangents put back in
    place) or ``jvp_of``."""
    values, given = [f"a{i}" for i in range(nargs)], [f"k_{k}" for k in named]
    call = ", ".join([*values, *(f"{k}=k_{k}" for k in named)])
    active = [values[i] for i in positions] + [f"k_{k}" for k in keywords]
    unpacked = [f"    {_listed(values)} = args" if nargs else "", *(f"    k_{k} = kwargs[{k!r}]" for k in named)]
    if mode == "forward":
        tangents = [f"{v}_dot" for v in active] + (["captured_dot"] if captures else [])
        return ["def star_jvp_source(fn, args, kwargs, args_dot, kwargs_dot, captured_dot=None):", *unpacked,
                f"    {_listed([f'{v}_dot' for v in values])} = args_dot" if nargs else "",
                *(f"    k_{k}_dot = kwargs_dot[{k!r}]" for k in keywords),
                f"    return jvp_of(fn, {positions!r}, {keywords!r}, {captures})({call}, "
                f"tangents=({_listed(tangents)}))"]
    bars = [f"{v}_bar" for v in active] + (["fn_bar"] if captures else [])
    args_bar = [f"{v}_bar" if i in positions else f"zeros_like({v})" for i, v in enumerate(values)]
    kwargs_bar = [f"{k!r}: {v}_bar" if k in keywords else f"{k!r}: zeros_like({v})" for k, v in zip(named, given)]
    return ["def star_vjp_source(fn, args, kwargs, captures=False):", *unpacked,
            f"    out, pullback = vjp_of(fn, {positions!r}, {keywords!r}, {captures})({call})",
            "    def star_pullback(out_bar):",
            f"        {_listed(bars)} = pullback(out_bar)" if bars else "",
            f"        return ({_listed(args_bar)}), {{{', '.join(kwargs_bar)}}}{', fn_bar' if captures else ''}",
            "    return out, star_pullback"]


star_vjp.__s2sad_source_for__ = _star_source("reverse")  # type: ignore[attr-defined]
star_jvp.__s2sad_source_for__ = _star_source("forward")  # type: ignore[attr-defined]


def _dynamic(fn, positions: tuple[int, ...], keywords: tuple[str, ...], captures: bool, mode: str):
    """For a function known only when called: the arguments it puts first (a method's ``self``, a
    ``functools.partial``'s), the keywords it adds (a partial's), the function, its derivative cache
    (shared by every closure of its code) and the captures to differentiate. (What a partial binds carries
    no gradient: a partial of a value that does is refused where it is made, as a call without a rule.)"""
    fn = _as_source(fn)  # (what stands for a method's derivative is bound to the same receiver)
    self_arg: tuple = ()
    bound: dict = {}
    while isinstance(fn, functools.partial):
        self_arg, bound, fn = (*fn.args, *self_arg), {**fn.keywords, **bound}, fn.func
    if isinstance(fn, types.MethodType):
        self_arg, fn = (fn.__self__, *self_arg), fn.__func__
    fn = forwarded(fn)
    if getattr(fn, "__s2sad_vjp_of__", False):
        raise NoDerivativeRuleError(VJP_OF_HIGHER_ORDER)
    if not isinstance(fn, types.FunctionType):
        raise NoDerivativeRuleError(
            f"s2sad was asked to differentiate a call to {fn!r} through a variable, but it is not a "
            "Python function with source. Call it by its name, so its derivative rule is found "
            "when the caller is transformed.")
    source_lines(fn)  # (a derivative function s2sad cannot transform again says so)
    code = fn.__code__
    frees = tuple(name for name, cell in zip(code.co_freevars, fn.__closure__ or ())
                  if captures and carries_derivative(cell_contents(cell)))
    wrt = bind_slots(fn, positions, keywords, len(self_arg))[0] + frees
    per_code = _by_code.setdefault(code, {})  # (code objects compare equal for the same text in another file)
    key = (len(self_arg), wrt, mode, library_cells(fn), code.co_filename, id(fn.__globals__), captures)
    cache = per_code.get(key)
    if cache is None:
        cache = per_code[key] = Cache(fn, wrt, strict=False, dynamic_cells=True, mode=mode, captured=captures)
    elif cache.fun is None:  # the closure it was made for is gone: this one stands for them all
        cache.fun = fn
    return self_arg, bound, fn, cache, frees


_vjp_sources: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # code -> {key: generic vjp}


def _vjp_source(fn: types.FunctionType, wrt: tuple[str, ...], captured: bool, slots: tuple | None = None
                ) -> types.FunctionType:
    """What ``vjp_of(fn, ...)`` returns, as Python that can be differentiated again: ``fn``'s generated vjp
    for any argument types, reading ``fn``'s cells (so a derivative of it flows to what ``fn`` captured;
    with ``captured``, its pullback gives their cotangents as a dict last, as ``vjp_of``'s does). With
    ``slots`` (arguments filling ``*args`` or ``**kwargs``, see ``resolve.bind_slots``) its pullback gives one
    cotangent per argument, each the entry of its parameter's, as ``vjp_of``'s does."""
    per_code = _vjp_sources.setdefault(fn.__code__, {})
    key = (wrt, captured, library_cells(fn), slots)
    if key not in per_code or not per_code[key].__s2sad_fresh__():
        generated = pipeline()(fn, wrt, dynamic_cells=True, captured=captured, **({"slots": slots} if slots else {}))
        per_code[key] = derived(generated.function, fn, generated.globals_read)
    return rebind(per_code[key], fn, snapshot=False) if fn.__closure__ else per_code[key]


def _check_no_writes(fn: types.FunctionType, args: tuple, kwargs: dict) -> None:
    """A function value called in differentiated code may not write into an array, list or dict it is
    given (or captured): the caller's analysis could not see that write."""
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
    return not isinstance(value, SCALAR_TYPES + (complex, str, bytes, type(None)))


def _as_source(fn):
    """A grad function (``s2sad.grad(g)``) as the generated code that computes it."""
    source = derivative_source(fn, dynamic=True)
    return fn if source is None else source


class JVP(_Handle):
    """Generated forward-mode code calls ``z, z_dot = g_jvp(a, tangents=(a_dot,))``."""

    __slots__ = ("caller",)  # nested.jvp_caller's function calling this handle, once made
    mode = "forward"
    _handles: ClassVar[weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()

    def __init__(self, fun: types.FunctionType, wrt: tuple[str, ...]) -> None:
        super().__init__(fun, wrt)
        self.caller: types.FunctionType | None = None

    def generic(self) -> types.FunctionType:
        """The generated jvp for any argument types, taking the tangents first (``wrappers.tangents_first``):
        what a derivative of this derivative transforms."""
        if self._generic is None:
            generated = pipeline()(self.fun, self.cache.wrt, mode="forward")
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
    source_for = _source_for(fn)
    if source_for is not None:
        def call_source(*args, tangents=(), **kwargs):
            return jvp_of(source_for(args, kwargs), positions, keywords, captures)(*args, tangents=tangents, **kwargs)

        call_source.__s2sad_vjp_of__ = True
        call_source.__s2sad_source_for__ = lambda args, kwargs: _as_source(
            jvp_of(source_for(args, kwargs), positions, keywords, captures))
        return call_source
    self_arg, bound, fn, cache, frees = _dynamic(fn, positions, keywords, captures, "forward")
    wrt, slots = bind_slots(fn, positions, keywords, len(self_arg))

    def call(*args, tangents=(), **kwargs):
        args, kwargs = (*self_arg, *args), {**bound, **kwargs}
        tangents = (*packed_tangents(fn, wrt, slots, tangents[:len(slots)], args, kwargs), *tangents[len(slots):])
        if captures:  # (a capture the caller gave no tangent, a constant array, has a zero of its shape)
            cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
            tangents = (*tangents[:-1], *(tangents[-1][f] if f in tangents[-1] else
                                          zeros_like(cell_contents(cells[f])) for f in frees))
        e = cache.entry(args)
        jvp = rebind(e.vjp, fn) if _own_state(fn) else e.vjp
        out = jvp(*args, **kwargs, **dict(zip(e.generated.tangent_names, tangents)))
        _check_no_writes(fn, args, kwargs)  # (after: a callee s2sad cannot transform says so first)
        return out

    call.__s2sad_vjp_of__ = True
    if not any(key is not None for _, key in slots):
        call.__s2sad_source__ = lambda call, dynamic: _bound(_jvp_source(fn, cache.wrt, len(self_arg), captures),
                                                             self_arg, bound)
    elif not captures:  # (with both, refused: VJP_OF_HIGHER_ORDER)
        call.__s2sad_source_for__ = lambda args, kwargs: _bound(
            _packed_jvp_source(fn, wrt, slots, len(args), tuple(kwargs), len(self_arg)), self_arg, bound)
    return call


def jvp_of_tangents_first(fn, positions: tuple[int, ...], keywords: tuple[str, ...], captures: bool = False):
    """``jvp_of`` taking the tangents first, as one tuple: what code differentiated again calls in place of
    ``jvp_of(f, ...)(*args, tangents=t)`` (``nested.nested_calls``), as it calls a jvp handle's generic jvp.
    It stands for ``f``'s generic jvp, its tangents first (see ``_jvp_source``)."""
    call = jvp_of(fn, positions, keywords, captures)

    def tangents_first_call(tangents, *args, **kwargs):
        return call(*args, tangents=tangents, **kwargs)

    tangents_first_call.__s2sad_vjp_of__ = True
    source, source_for = call.__dict__.get("__s2sad_source__"), call.__dict__.get("__s2sad_source_for__")
    if source is not None:
        tangents_first_call.__s2sad_source__ = source
    if source_for is not None:  # (the tangents first)
        tangents_first_call.__s2sad_source_for__ = lambda args, kwargs: source_for(args[1:], kwargs)
    return tangents_first_call


FUNCTION_VALUE_VJPS.add(jvp_of_tangents_first)  # a derivative function of f, as vjp_of(f, ...) is

_jvp_sources: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # code -> {key: generic jvp, ...}


def _jvp_source(fn: types.FunctionType, wrt: tuple[str, ...], bound: int, captured: bool) -> types.FunctionType:
    """What ``jvp_of(fn, ...)`` returns, as Python that can be differentiated again: ``fn``'s generated jvp for
    any argument types taking its tangents first, as one tuple (after the receiver, for a method whose receiver
    is ``bound``; with ``captured``, those of the closure variables ending ``wrt`` as a dict, last), reading
    ``fn``'s cells (so a derivative of it flows to what ``fn`` captured)."""
    per_code = _jvp_sources.setdefault(fn.__code__, {})
    key = ("tangents first", wrt, bound, captured, library_cells(fn))
    if key not in per_code or not per_code[key].__s2sad_fresh__():
        generated = pipeline()(fn, wrt, mode="forward", dynamic_cells=True, captured=captured, first=bound)
        per_code[key] = derived(generated.function, fn, generated.globals_read)
    return rebind(per_code[key], fn, snapshot=False) if _own_state(fn) else per_code[key]


def _generic_jvp(fn: types.FunctionType, wrt: tuple[str, ...]) -> tuple[types.FunctionType, tuple[str, ...]]:
    """``fn``'s generated jvp for any argument types, serving every closure of its code (made again where a
    global it relied on was redefined), and its tangents' parameters."""
    per_code = _jvp_sources.setdefault(fn.__code__, {})
    key = (wrt, library_cells(fn))
    if key not in per_code or not per_code[key][0].__s2sad_fresh__():
        generated = pipeline()(fn, wrt, mode="forward", dynamic_cells=True)
        per_code[key] = derived(generated.function, fn, generated.globals_read), generated.tangent_names
    return per_code[key]


def _packed_jvp_source(fn: types.FunctionType, wrt: tuple[str, ...], slots: list, nargs: int, given: tuple[str, ...],
                       bound: int) -> types.FunctionType:
    """``_jvp_source`` for a call of ``nargs`` positional arguments and the keywords ``given`` whose tangents
    fill ``fn``'s ``*args`` or ``**kwargs`` (``slots``): the tangents, one per argument, packed as
    ``packed_tangents`` packs them, in Python (zeros for the arguments without one)."""
    jvp, names = _generic_jvp(fn, wrt)
    values = [f"a{i}" for i in range(nargs)]
    tangent = {slot: f"t{i}" for i, slot in enumerate(slots)}
    _check_keywords(given, ("make", "jvp", "tangents", "zeros_like", *values, *tangent.values()))
    receiver = list(fn.__code__.co_varnames[:bound])
    entries = _packed_entries(fn, wrt, tangent, values, given, bound)
    call = ", ".join([*receiver, *values, *(f"{k}={k}" for k in given), *(f"{t}={entries[n]}" for n, t in zip(wrt, names))])
    name = f"{fn.__name__}_jvp_packed" if fn.__name__.isidentifier() else "jvp_packed"
    lines = ["def make(jvp):",
             f"    def {name}({', '.join([*receiver, 'tangents', *values, *(['*', *given] if given else [])])}):",
             f"        {_listed(list(tangent.values()))} = tangents",
             f"        return jvp({call})",
             f"    return {name}"]
    key = ("packed jvp", fn.__code__, wrt, tuple(slots), nargs, given, bound)
    make = _load_source(key, "make", f"jvp of {fn.__qualname__}, its tangents packed ({nargs} arguments"
                        f"{', ' + ', '.join(given) if given else ''})", lines, {"zeros_like": zeros_like})
    return make(rebind(jvp, fn, snapshot=False) if _own_state(fn) else jvp)


def _packed_entries(fn: types.FunctionType, wrt: tuple[str, ...], tangent: dict, values: list[str],
                    given: tuple[str, ...], bound: int) -> dict[str, str]:
    """Per parameter in ``wrt``, the tangent ``_packed_jvp_source`` passes it: the one named in ``tangent`` (per
    slot), or for ``*args`` a tuple (``**kwargs``: a dict) of one per argument it receives, zeros for the others."""
    code = fn.__code__
    named = set(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    entries = {}
    for name in wrt:
        keys = [key for n, key in tangent if n == name]
        if keys == [None]:
            entries[name] = tangent[(name, None)]
        elif isinstance(keys[0], str):
            entries[name] = "{" + ", ".join(f"{k!r}: {tangent.get((name, k), f'zeros_like({k})')}"
                                            for k in given if k not in named) + "}"
        else:
            first = code.co_argcount - bound  # (the first argument *args receives)
            entries[name] = "(" + _listed([tangent.get((name, i - first), f"zeros_like({values[i]})")
                                           for i in range(max(first, 0), len(values))]) + ")"
    return entries


def _bound(fn: types.FunctionType, self_arg: tuple, bound: dict) -> Callable:
    """``fn`` bound to the receiver ``self_arg`` holds, if any (a method's derivative), or to what a
    ``functools.partial`` bound (``self_arg`` and ``bound``, the keywords)."""
    if bound or len(self_arg) > 1:
        return functools.partial(fn, *self_arg, **bound)
    return types.MethodType(fn, self_arg[0]) if self_arg else fn


# ----- the handles of custom rules and checkpoints -----


def _fill(bars, args, positions):
    """The cotangents at ``positions``, with a rule's ``None`` turned into a zero."""
    return tuple(zeros_like(args[i]) if bars[i] is None else bars[i] for i in positions)


class _RuleHandle:
    """A registered rule as generated code calls it, for the differentiated ``positions``."""

    __slots__ = ("rule", "positions")
    kind = ""

    def __init__(self, rule: Callable, positions: tuple[int, ...]) -> None:
        self.rule = rule
        self.positions = positions

    def __repr__(self) -> str:
        return f"<s2sad {self.kind} {getattr(self.rule, '__qualname__', self.rule)}>"


def _check_captures(rule, bars, args, positions) -> None:
    """A function passed to a rule carries a gradient only through what it captured: a rule that gives it no
    cotangent (``None``) would drop that gradient, so it is refused."""
    for i in positions:
        if bars[i] is None and callable(args[i]) and not isinstance(args[i], type):
            raise NoDerivativeRuleError(
                f"the function passed as argument {i} of a call differentiated by the rule "
                f"{getattr(rule, '__qualname__', rule)} captured a value that carries a gradient, and the rule gives it "
                "no cotangent. Pass that value as an argument instead (to s2sad.checkpointed_loop: after n, as one of "
                "its params)")


class RRuleHandle(_RuleHandle):
    """Calls a registered ``rrule`` and keeps the cotangents of the differentiated positions."""

    __slots__ = ()
    kind = "rrule"

    def __call__(self, *args: Any, **kwargs: Any):
        out, pullback = self.rule(*args, **kwargs)
        positions = self.positions

        def rrule_pullback(out_bar):
            bars = pullback(out_bar)
            if len(bars) != len(args):
                raise TypeError(f"the pullback of {getattr(self.rule, '__name__', self.rule)} returned "
                                f"{len(bars)} cotangents for {len(args)} positional arguments")
            _check_captures(self.rule, bars, args, positions)
            return _fill(bars, args, positions)

        return out, rrule_pullback


class FRuleHandle(_RuleHandle):
    """Calls a registered ``frule`` from generated forward-mode code."""

    __slots__ = ()
    kind = "frule"

    def __call__(self, *args: Any, tangents: tuple = ()):
        full: list[Any] = [None] * len(args)
        for i, t in zip(self.positions, tangents):
            full[i] = t
        out, out_dot = self.rule(args, tuple(full))
        return out, (zeros_like(out) if out_dot is None else out_dot)


@rrule(checkpointed_loop)
def _checkpointed_loop_rrule(step, state, n, *params):
    k = max(1, math.isqrt(n))
    saved = []
    for i in range(n):
        if i % k == 0:
            saved.append(state)
        state = step(state, *params)
    code = step.__code__
    vjp = VJP.of(step, tuple(code.co_varnames[: 1 + len(params)]))

    def checkpointed_loop_pullback(out_bar):
        state_bar, param_bars = out_bar, [zeros_like(p) for p in params]
        for seg in range(len(saved) - 1, -1, -1):
            s, pullbacks = saved[seg], []
            for _ in range(seg * k, min(n, seg * k + k)):  # recompute the segment, keeping its pullbacks
                s, pullback = vjp(s, *params)
                pullbacks.append(pullback)
            for pullback in reversed(pullbacks):
                bars = pullback(state_bar)
                state_bar = bars[0]
                param_bars = [add_bars(a, b) for a, b in zip(param_bars, bars[1:])]
        return (None, state_bar, None, *param_bars)

    return state, checkpointed_loop_pullback


class CheckpointHandle:
    """Runs a checkpointed function plainly; its pullback recomputes it with its vjp."""

    __slots__ = ("vjp",)

    def __init__(self, fn: Callable, wrt: tuple[str, ...]) -> None:
        self.vjp = VJP.of(fn, wrt)

    def __call__(self, *args: Any, **kwargs: Any):
        out = self.vjp.fun(*args, **kwargs)
        vjp = self.vjp

        def recompute_pullback(out_bar):
            return vjp(*args, **kwargs)[1](out_bar)

        return out, recompute_pullback

    def __repr__(self) -> str:
        return f"<s2sad checkpointed vjp of {self.vjp.fun.__qualname__}>"
