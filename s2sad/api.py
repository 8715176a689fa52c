"""The user API: ``grad``, ``value_and_grad``, ``vjp``, ``source`` (JAX names and semantics).

Each differentiated function is transformed once per (argnums, argument types)
and cached; a later call costs a dict lookup on the argument types, the
generated forward pass and pullback, and a check of the gradient's dtype for
array arguments and that it shares no memory with the caller's (``_own``).
Cotangents and tangents passed in are checked against the output's and the
primals' structure and shapes.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import types
import weakref
from collections.abc import Callable
from typing import Any, Literal, overload

import numpy as np

from .cache import Cache, Entry, carries_derivative, derived, get_cache, rebind, types_key
from .errors import NoDerivativeRuleError, SourceUnavailableError
from .frontend import cell_contents, forwarded, library_cells, parse_function, source_lines
from .ir import dump
from .linker import JVP, VJP, jvp_of, vjp_of
from .nested import jacfwd_source
from .pytree import data_fields, is_node, is_record, leaves, map_leaves, unflatten
from .pytree import differentiable as differentiable_value
from .rules import CLOSURE_DERIVATIVES, DERIVATIVE_MAKERS, JVP_CALLS, NONDIFFERENTIABLE
from .runtime import scalar_seed
from .runtime_integrate import link
from .transform import LINEMAPS, Generated, transform, wrt_names

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "jacobian", "hessian", "hvp", "source"]


def _cache(fun: Callable, argnums: tuple[int, ...]) -> Cache:
    source_lines(fun)  # a clear error now for functions without source
    code = fun.__code__
    wrt_names(list(code.co_varnames[: code.co_argcount]), argnums, fun.__qualname__)
    return get_cache(fun, argnums)


def _finish(g, like, taken: list):
    """A gradient with the type, shape and dtype of its argument ``like`` (its structure, for a pytree),
    sharing no memory with the arrays in ``taken`` (see ``_own``), to which its own arrays are added."""
    if is_node(like):  # (a cotangent may hold a list where the argument holds a tuple)
        return map_leaves(lambda leaf, gl: _finish(gl, leaf, taken), like, g)
    if isinstance(like, np.ndarray):
        if type(g) is np.ndarray and g.dtype == like.dtype and g.shape == like.shape and g.flags.writeable:
            return _own(g, taken)
        g = np.asarray(g)
        if g.shape != like.shape:
            raise AssertionError(f"s2sad internal error: gradient of shape {g.shape} for an argument of shape "
                                 f"{like.shape}; please report this with the function")
        return g.astype(like.dtype, copy=True) if not np.iscomplexobj(g) or np.iscomplexobj(like) else _unseen_complex()
    if type(g) is float:
        return g
    if np.iscomplexobj(g):
        _unseen_complex()
    if isinstance(like, np.generic):
        return type(like)(g)
    if np.shape(g) != ():
        raise AssertionError(f"s2sad internal error: gradient of shape {np.shape(g)} for a scalar argument")
    return float(g)


def _unseen_complex():
    """A real argument's cotangent (or a real output's tangent) came out complex: a complex value s2sad did not
    know of when it transformed the function met one that carries a derivative (``complexity`` takes
    arguments and captured variables to be real), so no rule was chosen for it."""
    raise NoDerivativeRuleError(
        "a complex value that s2sad did not see when it transformed the function (an argument it does not "
        "differentiate, or a variable the function captures) met a value that carries a derivative, so its "
        "derivative may be wrong. Make complex values inside the function, from real ones or from globals "
        "(np.fft.fft(h), h_re + 1j * h_im), where s2sad sees them.")


def _taken(*trees) -> list:
    """The caller's arrays among ``trees`` (arguments, cotangents, pytrees of them): what a result
    must not share memory with."""
    out = []
    for a in trees:
        if type(a) is np.ndarray:
            out.append(a)
        elif is_node(a):
            out += [leaf for leaf in leaves(a) if isinstance(leaf, np.ndarray)]
        elif isinstance(a, np.ndarray):
            out.append(a)
    return out


def _own(g: np.ndarray, taken: list) -> np.ndarray:
    """``g``, or a copy of it where it may share memory with an array in ``taken`` (the caller's, or a
    result before it), which is then extended by it.

    Generated code aliases where values are equal (``a_bar = c``, ``x_bar = out_bar``, ``w_bar = x.T``
    once a seed of 1.0 is folded), so a result may be an argument, the caller's cotangent, a view
    of either, or another result. Two arrays that own their memory share none unless they are the
    same object, so only views need the (bounds-only) memory test."""
    for t in taken:
        if g is t or ((g.base is not None or t.base is not None) and np.may_share_memory(g, t)):
            g = g.copy()
            break
    taken.append(g)
    return g


def check_like(given, like, what: str, of: str, path: str = "") -> None:
    """``given`` (a cotangent or tangent) has ``like``'s pytree structure and leaf shapes, or a
    ``TypeError``/``ValueError`` says what was expected, as JAX's checks do: a wrong shape that
    happens to broadcast would otherwise give a wrong derivative."""
    at = f" at {path}" if path else ""
    if like is None:  # (an output that carries nothing)
        return
    if is_record(like):  # a namedtuple or dataclass: one of its type (a namedtuple's: or a tuple of its length)
        if not (type(given) is type(like) or (isinstance(like, tuple) and isinstance(given, tuple | list)
                                               and len(given) == len(like))):
            raise TypeError(f"{what}{at} must be a {type(like).__name__} like {of}{at}, got {_kind(given)}")
        for k, name in enumerate(data_fields(like)):
            part = given[k] if isinstance(given, tuple | list) else getattr(given, name)
            check_like(part, getattr(like, name), what, of, f"{path}.{name}")
    elif is_node(like):
        keys = sorted(map(repr, like)) if isinstance(like, dict) else None
        if keys is not None and not (isinstance(given, dict) and sorted(map(repr, given)) == keys):
            raise TypeError(f"{what}{at} must be a dict with keys {', '.join(keys)} like {of}{at}, got {_kind(given)}")
        if keys is None and not (isinstance(given, tuple | list) and len(given) == len(like)):
            raise TypeError(f"{what}{at} must be a tuple or list of {len(like)} like {of}{at}, got {_kind(given)}")
        for k in like if isinstance(like, dict) else range(len(like)):
            check_like(given[k], like[k], what, of, f"{path}[{k!r}]")
    elif is_node(given) or not isinstance(given, int | float | np.ndarray | np.number | np.bool_):
        raise TypeError(f"{what}{at} must be a number or an array of shape {np.shape(like)} like {of}{at}, "
                        f"got {_kind(given)}")
    elif np.shape(given) != np.shape(like):
        raise ValueError(f"{what}{at} has shape {np.shape(given)}, but {of}{at} has shape {np.shape(like)}")


def _kind(x) -> str:
    if is_record(x):
        return f"a {type(x).__name__}"
    if isinstance(x, dict):
        return f"a dict with keys {', '.join(sorted(map(repr, x)))}"
    if isinstance(x, tuple | list):
        return f"a {type(x).__name__} of {len(x)}"
    return f"an array of shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__


def _name(fun) -> str:
    return getattr(fun, "__qualname__", None) or repr(fun)


RECURSION_NOTE = ("s2sad: a derivative of a recursive function takes about twice the stack of the function "
                  "itself (two Python frames per level, see 'Recursion' in the README); raise the limit with "
                  "sys.setrecursionlimit")


def _annotate(e: BaseException) -> None:
    """Add the user's lines to an exception raised inside generated code, each once (a deep
    recursion passes the same lines thousands of times)."""
    notes = dict.fromkeys(getattr(e, "__notes__", ()))
    tb = e.__traceback__
    while tb is not None:
        linemap = LINEMAPS.get(tb.tb_frame.f_code.co_filename)
        loc = linemap.get(tb.tb_lineno) if linemap else None
        if loc is not None:
            notes.setdefault(f"s2sad: raised in derivative code generated for {loc.file}:{loc.line}: {loc.text}")
        tb = tb.tb_next
    if isinstance(e, RecursionError) and notes:
        notes.setdefault(RECURSION_NOTE)
    if notes:
        e.__notes__ = list(notes)


def _argnums(argnums) -> tuple[tuple[int, ...], bool]:
    if isinstance(argnums, int):
        return (argnums,), True
    argnums = tuple(argnums)
    if not argnums or not all(isinstance(i, int) for i in argnums):
        raise TypeError(f"argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    return argnums, False


def _value_and_grad(fun: Callable, argnums, name: str, with_value: bool) -> Callable:
    nums, single = _argnums(argnums)
    cache = _cache(fun, nums)
    table = cache.table
    first = nums[0]

    # The hot path: one dict lookup on the argument types, the generated fused
    # gradient function, and a type test per gradient. The rest is on the slow path.
    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        n = len(args)  # cache.types_key, inlined
        e = table.get(type(args[0]) if n == 1 else (type(args[0]), type(args[1])) if n == 2
                      else tuple(map(type, args)))
        if e is None or not e.fresh():
            e = cache.entry(args)
        elif e.arrays:
            cache.check(e, args)
        try:
            if with_value:
                out, grads = e.value_and_grad(*args, **kwargs)
            else:
                grads = e.grad(*args, **kwargs) if kwargs else e.grad(*args)
        except Exception as err:
            _annotate(err)
            raise
        if single:
            g = grads[0]
            if type(g) is not float:
                g = _finish(g, args[first], _taken(*args, *kwargs.values()))
        else:
            g = grads
            for gi in grads:
                if type(gi) is not float:
                    taken = _taken(*args, *kwargs.values())
                    g = tuple(_finish(gi, args[i], taken) for gi, i in zip(grads, nums))
                    break
        return (out, g) if with_value else g

    wrapper = _dispatcher(fun, cache, nums, single, with_value) or wrapper
    wrapper.__name__ = f"{name}_{getattr(fun, '__name__', 'f')}"
    wrapper.__qualname__ = wrapper.__name__
    wrapper.__s2sad_transform__ = name
    wrapper.__s2sad_spec__ = (nums, single, with_value)
    wrapper.__s2sad_source__ = differentiable  # what differentiating a call of it transforms (see ``resolve``)
    return wrapper


def _dispatcher(fun: Callable, cache: Cache, nums: tuple[int, ...], single: bool, with_value: bool
                ) -> Callable | None:
    """For a function with plain positional parameters, the grad (or value_and_grad) call path as
    generated code: named parameters instead of ``*args`` and a key of exactly their types.
    None otherwise."""
    code = fun.__code__
    if code.co_flags & 0x0C or code.co_kwonlyargcount or fun.__defaults__ or not code.co_argcount \
            or any(i < 0 for i in nums):
        return None
    spec = (nums, single, with_value)
    per_code = _dispatchers.setdefault(code, {})
    if spec not in per_code:
        per_code[spec] = _dispatcher_code(fun, nums, single, with_value)
    namespace = {"__annotate": _annotate, "__finish": _finish, "__taken": _taken, "__g0": None,
                 "__fresh0": _stale, **{f"__t{i}": _NO_TYPE for i in range(code.co_argcount)}}
    table = cache.table

    def derivative(args: tuple) -> Callable:
        """The derivative for ``args``' types (made on a miss or where the one kept is stale, dtypes
        checked); the first one needing no check per call becomes the dispatcher's fast path, taken on a
        test of each argument's type and of its freshness (what it was made from still holds), and
        replaced when it goes stale."""
        e = table.get(types_key(args))
        if e is None or not e.fresh():
            e = cache.entry(args)
        elif e.arrays:
            cache.check(e, args)
        fn = e.value_and_grad if with_value else e.grad
        if (namespace["__g0"] is None or not namespace["__fresh0"]()) and isinstance(e, Entry) and not e.arrays:
            namespace.update({"__g0": fn, "__fresh0": e.fresh})  # (before the types that lead to it)
            namespace.update({f"__t{i}": type(a) for i, a in enumerate(args)})
        return fn

    namespace["__derivative"] = derivative
    dispatch = per_code[spec]
    return functools.wraps(fun)(types.FunctionType(dispatch, namespace, dispatch.co_name))


class _NoType:
    """No argument's type: the fast path of a dispatcher is not taken before it is set."""


_NO_TYPE = _NoType


def _stale() -> bool:
    """The freshness of no derivative: the fast path is not taken before it is set."""
    return False


# code -> {(argnums, single, with_value): the dispatcher's code}: a grad made anew for each closure of
# one code (``grad(lambda p: loss(p, Xb, yb))`` in a training loop) compiles it once
_dispatchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _dispatcher_code(fun: Callable, nums: tuple[int, ...], single: bool, with_value: bool) -> types.CodeType:
    code = fun.__code__
    params = list(code.co_varnames[: code.co_argcount])
    args = ", ".join(params)
    name = ("value_and_grad_" if with_value else "grad_") + (
        fun.__name__ if fun.__name__.isidentifier() else "lambda")
    test = " and ".join(f"type({p}) is __t{i}" for i, p in enumerate(params))
    derivative, out, grads, err, g, taken = (
        _unused(n, params) for n in ("derivative", "out", "grads", "err", "g", "taken"))
    lines = [f"def {name}({args}):",
             f"    if {test} and __fresh0():",
             f"        {derivative} = __g0",
             "    else:",
             f"        {derivative} = __derivative(({args},))",
             "    try:",
             f"        {out}, {grads} = {derivative}({args})" if with_value else f"        {grads} = {derivative}({args})",
             f"    except Exception as {err}:",
             f"        __annotate({err})",
             "        raise"]
    ret = f"return {out}, " if with_value else "return "
    if single:
        lines += [f"    {g} = {grads}[0]", f"    if type({g}) is not float:",
                  f"        {g} = __finish({g}, {params[nums[0]]}, __taken({args}))", f"    {ret}{g}"]
    else:
        gs = [_unused(f"g{k}", params) for k in range(len(nums))]
        lines += [f"    {', '.join(gs)}, = {grads}",
                  f"    if {' and '.join(f'type({gk}) is float' for gk in gs)}:",
                  f"        {ret}{grads}",
                  f"    {taken} = __taken({args})",
                  f"    {ret}({''.join(f'__finish({gk}, {params[i]}, {taken}), ' for gk, i in zip(gs, nums))})"]
    text = "\n".join(lines) + "\n"
    filename = f"<s2sad: {'value_and_grad' if with_value else 'grad'} dispatcher of {fun.__qualname__}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    namespace: dict = {}
    exec(compile(text, filename, "exec"), namespace)
    return namespace[name].__code__


def _unused(base: str, params: list[str]) -> str:
    """``base``, or with trailing underscores: a local of a dispatcher that is none of the user's parameters."""
    while base in params:
        base += "_"
    return base


_source_functions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # function -> {(nums, single): code}


def differentiable(fun: Callable, dynamic: bool = False) -> Callable:
    """``fun``, or for an s2sad ``grad`` function, generated Python that computes the same
    thing and can itself be transformed: that is how derivatives of derivatives work.

    ``dynamic``: the grad function is a value met when differentiated code runs (made there,
    perhaps of a closure over a value being differentiated: ``s2sad.grad(lambda y: x * y)``).
    Then a closure over values that carry derivatives is transformed once per code object and
    reads each closure's own cells, so their cotangents flow back to it. Otherwise (a grad
    function the transform finds by name) what it captured is read as the transform's constants,
    and a function it captured is called directly (so it can be differentiated again)."""
    source_of = getattr(fun, "__s2sad_source__", differentiable)
    if source_of is not differentiable:  # a jacfwd function: the generated code computing it
        return source_of(fun, dynamic)
    spec = getattr(fun, "__s2sad_spec__", None)
    if spec is None:
        return fun
    nums, single, with_value = spec
    if with_value:
        raise SourceUnavailableError("differentiating a value_and_grad function is not supported; "
                                     "differentiate grad(f) instead")
    inner = differentiable(fun.__wrapped__)
    closure = dynamic and any(carries_derivative(cell_contents(c)) for c in getattr(inner, "__closure__", None) or ())
    per_fun = _source_functions.setdefault(inner.__code__ if closure else inner, {})
    key = (nums, single, library_cells(inner) if closure else ())
    if key not in per_fun or not per_fun[key].__s2sad_fresh__():  # (made again where a callee was redefined)
        code = inner.__code__
        generated = transform(inner, tuple(wrt_names(list(code.co_varnames[: code.co_argcount]), nums,
                                                     inner.__qualname__)), dynamic_cells=closure, any_kind=True)
        per_fun[key] = derived(generated.grad_value_function if single else generated.grad_function, inner,
                               generated.globals_read)
    if not closure:
        return per_fun[key]
    rebound = rebind(per_fun[key], inner)  # the generated code reads what inner captured, from inner's own cells
    rebound.__s2sad_fresh__ = per_fun[key].__s2sad_fresh__
    return rebound


def grad(fun: Callable | None = None, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar-valued Python function, by source transformation.

    Use as ``s2sad.grad(f)``, ``s2sad.grad(f, argnums=(0, 1))`` or as a bare
    decorator ``@s2sad.grad``. ``argnums`` (an int or a tuple of ints) picks the
    positional arguments to differentiate; an int gives one gradient, a tuple a
    tuple of gradients. Each gradient has the type, shape and dtype of its
    argument. Keyword arguments pass through undifferentiated. With ``has_aux=True``
    ``fun`` returns ``(output, aux)`` and the gradient function ``(gradient, aux)``.

    >>> import math, s2sad
    >>> def f(x, y):
    ...     return x * math.sin(y)
    >>> s2sad.grad(f, argnums=(0, 1))(2.0, 0.0)
    (0.0, 2.0)
    """
    if fun is None:
        return functools.partial(grad, argnums=argnums, has_aux=has_aux)
    if _resolve(fun)[1:] != ((), {}):  # a bound method, partial, ...: what it runs, with what it adds
        return _through(grad, fun, argnums, has_aux=has_aux)
    fun = _resolve(fun)[0]  # (a functools.wraps wrapper that only forwards: what it wraps)
    if _reaches_varargs(fun, argnums):
        return _per_arity(grad, fun, argnums, has_aux=has_aux)
    make = _with_aux if has_aux else _value_and_grad
    return _remade(fun, lambda target: make(target, argnums, "grad", with_value=False))


def value_and_grad(fun: Callable | None = None, argnums: int | tuple[int, ...] = 0, has_aux: bool = False
                   ) -> Callable:
    """Like ``grad``, but the function returns ``(value, gradient)`` (``((value, aux), gradient)`` with
    ``has_aux=True``).

    >>> import s2sad
    >>> s2sad.value_and_grad(lambda x: x ** 3)(2.0)
    (8.0, 12.0)
    """
    if fun is None:
        return functools.partial(value_and_grad, argnums=argnums, has_aux=has_aux)
    if _resolve(fun)[1:] != ((), {}):  # a bound method, partial, ...: what it runs, with what it adds
        return _through(value_and_grad, fun, argnums, has_aux=has_aux)
    fun = _resolve(fun)[0]  # (a functools.wraps wrapper that only forwards: what it wraps)
    if _reaches_varargs(fun, argnums):
        return _per_arity(value_and_grad, fun, argnums, has_aux=has_aux)
    make = _with_aux if has_aux else _value_and_grad
    return _remade(fun, lambda target: make(target, argnums, "value_and_grad", with_value=True))


def _remade(fun: Callable, make: Callable[[Callable], Callable]) -> Callable:
    """``make(differentiable(fun))``. For a ``grad`` function ``fun`` (so a derivative of a derivative),
    made again when called after a function it was generated from was redefined."""
    target = differentiable(fun)
    made = make(target)
    if target is fun:
        return made
    state = [target, made]

    @functools.wraps(made)
    def remade(*args, **kwargs):
        if not state[0].__s2sad_fresh__():
            state[0] = remade.__wrapped__ = differentiable(fun)
            state[1] = make(state[0])
        return state[1](*args, **kwargs)

    remade.__wrapped__ = target  # (what a derivative of it differentiates, as ``made``'s)
    return remade


def _resolve(fun: Callable) -> tuple[Callable, tuple, dict]:
    """The Python function a callable runs, with the arguments it puts first and the keywords it
    adds: a bound method (``model.loss``: ``self`` first, its attributes constants), a classmethod,
    a ``functools.partial`` and an object with ``__call__`` (itself first)."""
    prefix: tuple = ()
    keywords: dict = {}
    fun = forwarded(fun)
    while not isinstance(fun, types.FunctionType):
        if isinstance(fun, types.MethodType):
            prefix, fun = (fun.__self__, *prefix), fun.__func__
        elif isinstance(fun, functools.partial):
            prefix, keywords, fun = (*fun.args, *prefix), {**fun.keywords, **keywords}, fun.func
        elif isinstance(getattr(type(fun), "__call__", None), types.FunctionType):  # noqa: B004  (Python's __call__)
            prefix, fun = (fun, *prefix), type(fun).__call__
        else:
            break
        fun = forwarded(fun)
    return fun, prefix, keywords


def _runs(fun: Callable) -> tuple[Callable, tuple, dict]:
    """What differentiating ``fun`` transforms, with the arguments it puts first and the keywords it adds
    (``_resolve``); for a derivative s2sad made, the generated code computing it (``differentiable``: a
    derivative of a bound method's is that code with ``self`` put first)."""
    fun, prefix, keywords = _resolve(fun)  # (a bound method, partial, ...: what it runs)
    target = differentiable(fun)
    if isinstance(target, types.FunctionType):
        return target, prefix, keywords
    inner, first, added = _resolve(target)
    return differentiable(inner), (*first, *prefix), {**added, **keywords}


def _reaches_varargs(fun: Callable, argnums) -> bool:
    """``fun`` takes ``*args`` and ``argnums`` counts into it (or from the end): JAX's ``argnums`` index the
    positional arguments of the call, those ``*args`` receives too."""
    code = getattr(fun, "__code__", None)
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    return bool(_takes_varargs(fun)
                and any(not isinstance(i, int) or i < 0 or i >= code.co_argcount for i in nums))


_arities: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # fun -> {number of arguments: function}


def fixed_arity(fun: types.FunctionType, n: int) -> types.FunctionType:
    """A Python function of ``n`` positional parameters (``fun``'s own names, then ``args_0``, ...) calling
    ``fun`` with them and any keywords: what s2sad differentiates for ``fun(*args)`` called with ``n``
    arguments, its ``*args`` then a tuple of differentiated values."""
    per_fun = _arities.setdefault(fun, {})
    if n not in per_fun:
        code = fun.__code__
        star = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
        names = [*code.co_varnames[:min(n, code.co_argcount)], *(f"{star}_{k}" for k in range(n - code.co_argcount))]
        keywords = code.co_kwonlyargcount or code.co_flags & inspect.CO_VARKEYWORDS  # (else a plain call)
        params = ", ".join([*names, *(["**kwargs"] if keywords else [])])
        name = fun.__name__ if fun.__name__.isidentifier() else "f"  # (a lambda)
        text = f"def {name}({params}):\n    return __s2sad_called__({params})\n"
        filename = f"<s2sad: {fun.__qualname__} with {n} positional arguments>"
        linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
        per_arity = getattr(fun, "__s2sad_for_arity__", None)  # a derivative of a fun(*args): the one for n
        namespace = {"__s2sad_called__": per_arity(n) if per_arity else fun}
        exec(compile(text, filename, "exec"), namespace)
        per_fun[n] = namespace[name]
    return per_fun[n]


def _with_arity(fun: Callable, n: int) -> Callable:
    """``fun``, or where it takes ``*args`` and is called with more positional arguments than it names,
    ``fixed_arity(fun, n)``: ``vjp`` and ``jvp`` differentiate every floating argument."""
    return fixed_arity(fun, n) if _takes_varargs(fun) and n > fun.__code__.co_argcount else fun


def _takes_varargs(fun: Callable) -> bool:
    """``fun`` is a Python function taking ``*args`` (not a derivative function s2sad made, whose ``*args``
    are the arguments of the function it differentiates)."""
    code = getattr(fun, "__code__", None)
    return code is not None and bool(code.co_flags & inspect.CO_VARARGS) and not hasattr(fun, "__s2sad_transform__")


def _per_arity(api: Callable, fun: Callable, argnums, **options) -> Callable:
    """``api`` (``grad``, ``jacrev``, ...) of a ``fun(*args)`` whose ``argnums`` count into ``*args``: made for
    each number of arguments it is called with (``fixed_arity``)."""
    made: dict[int, Callable] = {}

    def for_arity(n: int) -> Callable:
        if n not in made:
            made[n] = api(fixed_arity(fun, n), argnums, **options)
        return made[n]

    def call(*args, **kwargs):
        return for_arity(len(args))(*args, **kwargs)

    call.__name__ = call.__qualname__ = f"{api.__name__}_{fun.__name__}"
    call.__s2sad_for_arity__ = for_arity  # (differentiated again through the one for a number of arguments)
    return call


def _through(api: Callable, fun: Callable, argnums, **options) -> Callable:
    """``api`` (``grad``, ``jacrev``, ...) of the callable ``fun``: of the function it runs, with
    ``argnums`` counting the arguments the caller passes."""
    inner, prefix, keywords = _resolve(fun)
    nums, single = _argnums(argnums)
    shifted = tuple(i + len(prefix) if i >= 0 else i for i in nums)
    derivative = api(inner, shifted[0] if single else shifted, **options)

    def call(*args, **kwargs):
        return derivative(*prefix, *args, **{**keywords, **kwargs})

    call.__name__ = call.__qualname__ = derivative.__name__
    call.__s2sad_transform__ = getattr(derivative, "__s2sad_transform__", api.__name__)
    if hasattr(derivative, "__s2sad_source__"):  # differentiated again as the derivative of the function it runs
        call.__s2sad_source__ = lambda _, dynamic: functools.partial(differentiable(derivative, dynamic), *prefix,
                                                                     **keywords)
    return call


def _with_aux(fun: Callable, argnums, name: str, with_value: bool) -> Callable:
    """``grad``/``value_and_grad`` of a ``fun`` returning ``(output, aux)``: its vjp, pulled back
    from a seed on the output and no cotangent on ``aux``."""
    nums, single = _argnums(argnums)
    cache = _cache(fun, nums)

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        e = cache.entry(args)
        try:
            out, pullback = e.vjp(*args, **kwargs)
            value, aux = _aux_pair(out, fun)
            grads = pullback((scalar_seed(value), _no_cotangent(aux)))
        except Exception as err:
            _annotate(err)
            raise
        taken = _taken(*args, *kwargs.values())
        g = tuple(_finish(gi, args[i], taken) for gi, i in zip(grads, nums))
        g = g[0] if single else g
        return ((value, aux), g) if with_value else (g, aux)

    wrapper.__name__ = wrapper.__qualname__ = f"{name}_{getattr(fun, '__name__', 'f')}"
    wrapper.__s2sad_transform__ = f"{name} (has_aux=True)"
    return wrapper


def _aux_pair(out, fun: Callable) -> tuple[Any, Any]:
    if not (isinstance(out, tuple | list) and len(out) == 2):
        raise TypeError(f"has_aux=True requires {_name(fun)} to return a pair (output, aux), got {_kind(out)}")
    return out[0], out[1]


def _no_cotangent(aux):
    """The cotangent of ``aux``: zero, as nothing past the function reads it."""
    return map_leaves(lambda a: np.zeros_like(a) if isinstance(a, np.ndarray) and a.dtype.kind in "fc"
                      else 0.0 if isinstance(a, float | np.floating) else None, aux)


def jacrev(fun: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``fun`` by reverse mode: one pullback per output element, as JAX's ``jacrev``.

    The result has shape ``out.shape + arg.shape`` (a tuple of them for a tuple
    ``argnums``). For pytrees it is nested as JAX nests it: the output's structure
    outside, the argument's inside. The pullback is built once and called for each
    output element. With ``has_aux=True`` ``fun`` returns ``(output, aux)`` and the
    Jacobian function ``(jacobian, aux)``.

    >>> import numpy as np, s2sad
    >>> s2sad.jacrev(lambda x: x * x)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    if _resolve(fun)[1:] != ((), {}):  # a bound method, partial, ...: what it runs, with what it adds
        return _through(jacrev, fun, argnums, has_aux=has_aux)
    fun = _resolve(fun)[0]  # (a functools.wraps wrapper that only forwards: what it wraps)
    if _reaches_varargs(fun, argnums):
        return _per_arity(jacrev, fun, argnums, has_aux=has_aux)
    nums, single = _argnums(argnums)
    fun = differentiable(fun)
    cache = _cache(fun, nums)

    def jacobian_fn(*args, **kwargs):
        out, pullback = cache.entry(args).vjp(*args, **kwargs)
        if has_aux:
            (out, aux), pullback_pair = _aux_pair(out, fun), pullback
            pullback = lambda out_bar: pullback_pair((out_bar, _no_cotangent(aux)))  # noqa: E731
        outs = list(leaves(out))
        blocks = []
        for j, o in enumerate(outs):
            rows = [pullback(_basis_tree(out, outs, j, k)) for k in range(int(np.size(o)))]
            per_arg = tuple(_row_blocks(args[i], [_finish(r[n], args[i], []) for r in rows], np.shape(o))
                            for n, i in enumerate(nums))
            blocks.append(per_arg[0] if single else per_arg)
        jac = unflatten(out, iter(blocks))
        return (jac, aux) if has_aux else jac

    jacobian_fn.__name__ = f"jacrev_{getattr(fun, '__name__', 'f')}"
    jacobian_fn.__wrapped__ = fun  # (the cache holds fun weakly)
    jacobian_fn.__s2sad_transform__ = "jacrev"
    return jacobian_fn


def jacobian(fun: Callable, argnums: int | tuple[int, ...] = 0, method: str = "rev") -> Callable:
    """The Jacobian of ``fun``: ``method`` ``"rev"`` is ``jacrev`` (JAX's alias), ``"fwd"`` is ``jacfwd``,
    ``"factored"`` one generated function computing every entry in one pass (see ``s2sad.factor``).

    Factoring applies to scalar code, branches and loops included: arguments that are
    scalars or 1-D arrays read element by element (``x[0]``, ``x[i]`` in a loop), a scalar
    or ``np.array([...])`` of scalars returned. Each branch arm and loop body is factored
    on its own; a branch uses the taken arm's Jacobian, a loop chains its body's over the
    iterations. Elsewhere (array operations, containers) ``"factored"`` runs ``jacrev``
    when the function has no more outputs than inputs, else ``jacfwd``;
    ``source(fun, stage="factored")`` says which and why.

    >>> import math, s2sad
    >>> s2sad.jacobian(lambda x: (4 + math.sin(x)) * math.cos(math.sin(x)), method="factored")(math.pi)
    -0.9999999999999996
    """
    if method not in ("rev", "fwd", "factored"):
        raise ValueError(f"method must be 'rev', 'fwd' or 'factored', got {method!r}")
    if method != "factored":
        return (jacrev if method == "rev" else jacfwd)(fun, argnums)
    from .factor import FactoredJacobian  # the graph stages load only when asked for

    nums, single = _argnums(argnums)
    _cache(fun, nums)  # the same early errors as jacrev
    factored = FactoredJacobian(fun, nums, jacrev(fun, nums), jacfwd(fun, nums))

    def jacobian_fn(*args, **kwargs):
        jacs = factored(*args, **kwargs)
        return jacs[0] if single else jacs

    jacobian_fn.__name__ = f"jacobian_{getattr(fun, '__name__', 'f')}"
    return jacobian_fn


def _basis_tree(out, outs: list, j: int, k: int):
    """A cotangent for ``out``: zeros, with a one at element ``k`` of its ``j``-th leaf."""
    def basis(n: int, o):
        if np.shape(o) == ():
            return 1.0 if n == j else 0.0
        e = np.zeros(np.shape(o), dtype=np.result_type(o, 1.0))
        if n == j:
            e.flat[k] = 1.0
        return e
    return unflatten(out, (basis(n, o) for n, o in enumerate(outs)))


def _row_blocks(arg, rows: list, outer: tuple):
    """``arg``'s structure holding, for each leaf, its Jacobian block (shape ``outer + leaf.shape``, the
    leaf's dtype) stacked from that leaf of each row: a gradient per output element."""
    by_leaf = [list(column) for column in zip(*(leaves(r) for r in rows))] or [[] for _ in leaves(arg)]
    return unflatten(arg, (_stack(column, 0, outer + np.shape(a), np.result_type(a))
                           for a, column in zip(leaves(arg), by_leaf)))


def _stack(parts: list, axis: int, shape: tuple, dtype) -> np.ndarray:
    """A Jacobian block of shape ``out.shape + arg.shape``: its rows (``axis=0``, reverse mode) or
    its columns (``axis=-1``, forward mode), one per element of the output or the argument."""
    if not parts:
        return np.zeros(shape, dtype=dtype)
    return np.stack(parts, axis=axis).astype(dtype, copy=False).reshape(shape)



def hessian(fun: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """The Hessian of a scalar ``fun``, forward-over-reverse: ``jacfwd(grad(fun))``, as JAX's ``hessian``
    (nested for pytree arguments or a tuple ``argnums``; a block has the dtype of the gradient it
    differentiates, which is its argument's)."""
    if _resolve(fun)[1:] != ((), {}):  # a bound method, partial, ...: what it runs, with what it adds
        return _through(hessian, fun, argnums)
    fun = _resolve(fun)[0]  # (a functools.wraps wrapper that only forwards: what it wraps)
    if _reaches_varargs(fun, argnums):
        return _per_arity(hessian, fun, argnums)
    nums, single = _argnums(argnums)
    jac = jacfwd(grad(fun, argnums=argnums), argnums=argnums)

    def hessian_fn(*args, **kwargs):
        wrt = args[nums[0]] if single else tuple(args[i] for i in nums)
        # the jvp runs the generic gradient code, which may promote what grad returns in the argument's dtype
        return map_leaves(lambda a, block: map_leaves(lambda h: h.astype(_float_dtype(a), copy=False), block),
                          wrt, jac(*args, **kwargs))

    hessian_fn.__name__ = f"hessian_{getattr(fun, '__name__', 'f')}"
    hessian_fn.__s2sad_transform__ = "hessian"
    if single and hasattr(jac, "__s2sad_source__"):  # differentiated again as the jacfwd it runs
        hessian_fn.__s2sad_source__ = jac.__s2sad_source__
    return hessian_fn


def _float_dtype(a) -> np.dtype:
    dtype = np.result_type(a)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def hvp(fun: Callable, primals: tuple, tangents: tuple) -> Any:
    """Hessian-vector product without forming the Hessian: the jvp of ``grad(fun)``.

    >>> import numpy as np, s2sad
    >>> float(s2sad.hvp(lambda x: x ** 3, (2.0,), (1.0,)))
    12.0
    """
    return jvp(grad(fun), primals, tangents)[1]


def jvp(fun: Callable, primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    """Forward mode: ``(fun(*primals), J @ tangents)``, by a generated jvp (JAX's ``jvp``).

    ``tangents`` has one entry per primal, of its shape; integer primals take any
    tangent and carry none.

    >>> import numpy as np, s2sad
    >>> out, tangent = s2sad.jvp(lambda x: np.sin(x) * 2.0, (0.0,), (1.0,))
    >>> float(tangent)
    2.0
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals but {len(tangents)} tangents")
    fun, prefix, keywords = _runs(fun)
    fun = _with_arity(fun, len(prefix) + len(primals))
    diff = tuple(i for i, a in enumerate(primals) if differentiable_value(a))
    if not diff:
        raise TypeError("jvp needs at least one float or floating-array primal")
    for i in diff:
        check_like(tangents[i], primals[i], f"the tangent of argument {i}", "the argument")
    source_lines(fun)  # a clear error now for functions without source
    full = (*prefix, *primals)
    e = get_cache(fun, tuple(i + len(prefix) for i in diff), strict=False, mode="forward").entry(full)
    try:
        out, out_dot = e.vjp(*full, **keywords, **dict(zip(e.generated.tangent_names, (tangents[i] for i in diff))))
    except Exception as err:
        _annotate(err)
        raise
    taken = _taken(*primals, *tangents, out)
    if any(np.iscomplexobj(t) and not np.iscomplexobj(o) for o, t in zip(leaves(out), leaves(out_dot))):
        _unseen_complex()
    return out, map_leaves(lambda t: _own(t, taken) if isinstance(t, np.ndarray) else t, out_dot)


def jacfwd(fun: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``fun`` by forward mode: one jvp per input element, as JAX's ``jacfwd``.

    Shapes, nesting and dtype are ``jacrev``'s (the dtype is the output's); ``has_aux`` as ``jacrev``'s.

    >>> import numpy as np, s2sad
    >>> s2sad.jacfwd(lambda x: x * x)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    if _resolve(fun)[1:] != ((), {}):  # a bound method, partial, ...: what it runs, with what it adds
        return _through(jacfwd, fun, argnums, has_aux=has_aux)
    fun = _resolve(fun)[0]  # (a functools.wraps wrapper that only forwards: what it wraps)
    if _reaches_varargs(fun, argnums):
        return _per_arity(jacfwd, fun, argnums, has_aux=has_aux)
    nums, single = _argnums(argnums)

    def jacobian_fn(*args, **kwargs):
        called = functools.partial(fun, **kwargs) if kwargs else fun  # keywords pass through, undifferentiated
        found = [_jvp_columns(called, args, i, has_aux) for i in nums]
        out = next((o for o, _ in found if o is not None), None)
        if out is None:  # (no argument has an element)
            out = fun(*args, **kwargs)
        if has_aux:
            out, aux = _aux_pair(out, fun)
        blocks = []
        for j, o in enumerate(leaves(out)):
            per_arg = tuple(unflatten(args[i], (_stack([c[j] for c in cols], -1, np.shape(o) + np.shape(a),
                                                       _float_dtype(o)) for a, cols in zip(leaves(args[i]), columns)))
                            for i, (_, columns) in zip(nums, found))
            blocks.append(per_arg[0] if single else per_arg)
        jac = unflatten(out, iter(blocks))
        return (jac, aux) if has_aux else jac

    jacobian_fn.__name__ = f"jacfwd_{getattr(fun, '__name__', 'f')}"
    jacobian_fn.__s2sad_transform__ = "jacfwd"
    if single and not has_aux:  # what differentiating a call of it transforms (see ``resolve``)
        jacobian_fn.__s2sad_source__ = _jacfwd_source_of(fun, nums[0])
    return jacobian_fn


def _jacfwd_source_of(fun: Callable, argnum: int) -> Callable[..., types.FunctionType]:
    """The ``__s2sad_source__`` of ``jacfwd(fun, argnum)``: its generated code, made on first use."""
    source = functools.cache(lambda: _jacfwd_source(fun, argnum))
    return lambda jacobian_fn, dynamic=False: source()


def _jacfwd_source(fun: Callable, argnum: int) -> types.FunctionType:
    """``jacfwd(fun, argnum)`` as generated code a derivative can transform (see ``nested.jacfwd_source``)."""
    fn = differentiable(fun)
    source_lines(fn)
    code = fn.__code__
    if code.co_flags & 0x0C or code.co_kwonlyargcount:
        raise SourceUnavailableError(f"differentiating jacfwd of {fn.__qualname__}, which takes *args, **kwargs or "
                                     "keyword-only parameters, is not supported yet")
    positional = list(code.co_varnames[: code.co_argcount])
    wrt_names(positional, (argnum,), fn.__qualname__)
    return jacfwd_source(fn, argnum % len(positional))


def _jvp_columns(fun: Callable, args: tuple, i: int, has_aux: bool = False) -> tuple[Any, list]:
    """The jvp of ``fun`` along each element of each leaf of ``args[i]``: ``(out, columns)`` with
    ``columns[m][k]`` the output tangent's leaves for element ``k`` of leaf ``m`` (``out`` is None
    when there is no element). With ``has_aux``, ``out`` is the pair and the columns the output's alone."""
    if not differentiable_value(args[i]):
        raise TypeError(f"jacfwd differentiates floats and floating arrays (or pytrees of them), but "
                        f"argument {i} is {type(args[i]).__name__}")
    zeros = [map_leaves(_zero_tangent, a) if differentiable_value(a) else a for a in args]
    arg_leaves = list(leaves(args[i]))
    out, columns = None, []
    for m, a in enumerate(arg_leaves):
        columns.append([])
        for k in range(int(np.size(a))):
            tangents = list(zeros)
            tangents[i] = unflatten(args[i], (_unit(b, k if n == m else None) for n, b in enumerate(arg_leaves)))
            out, out_dot = jvp(fun, args, tangents)
            columns[-1].append(list(leaves(_aux_pair(out_dot, fun)[0] if has_aux else out_dot)))
    return out, columns


def _zero_tangent(a):
    return np.zeros_like(a) if isinstance(a, np.ndarray | np.generic) else 0.0


def _unit(a, k: int | None):
    """A tangent for leaf ``a``: zeros, with a one at element ``k`` (none when ``k`` is None), in ``a``'s dtype."""
    if not isinstance(a, np.ndarray):
        return type(a)(1.0 if k == 0 else 0.0) if isinstance(a, np.generic) else (1.0 if k == 0 else 0.0)
    e = np.zeros_like(a)
    if k is not None:
        e.flat[k] = 1.0
    return e


@overload
def vjp(fun: Callable, *primals: Any, has_aux: Literal[False] = False) -> tuple[Any, Callable]: ...
@overload
def vjp(fun: Callable, *primals: Any, has_aux: Literal[True]) -> tuple[Any, Callable, Any]: ...
@overload
def vjp(fun: Callable, *primals: Any, has_aux: bool) -> tuple[Any, Callable] | tuple[Any, Callable, Any]: ...
def vjp(fun: Callable, *primals: Any, has_aux: bool = False) -> tuple[Any, Callable] | tuple[Any, Callable, Any]:
    """Evaluate ``fun(*primals)`` and return ``(out, pullback)`` (``(out, pullback, aux)`` with ``has_aux=True``:
    ``fun`` returns ``(out, aux)``).

    ``pullback(out_bar)`` returns a tuple with the cotangent of every primal
    (``None`` for integer or non-float arguments, which carry no gradient).
    ``out_bar`` has the structure of ``out``; the output need not be scalar.

    >>> import numpy as np, s2sad
    >>> out, pullback = s2sad.vjp(lambda x: np.sin(x) * 2.0, np.zeros(2))
    >>> pullback(np.ones(2))
    (array([2., 2.]),)
    """
    fun, prefix, keywords = _runs(fun)
    fun = _with_arity(fun, len(prefix) + len(primals))
    diff = tuple(i for i, a in enumerate(primals) if differentiable_value(a))
    if not diff:
        raise TypeError("vjp needs at least one float or floating-array argument")
    full = (*prefix, *primals)
    e = _cache(fun, tuple(i + len(prefix) for i in diff)).entry(full)
    try:
        out, pb = e.vjp(*full, **keywords)
        if has_aux:
            out, aux = _aux_pair(out, fun)
    except Exception as err:
        _annotate(err)
        raise

    def pullback(out_bar):
        check_like(out_bar, out, "the cotangent passed to the pullback", f"the output of {_name(fun)}")
        try:
            grads = pb((out_bar, _no_cotangent(aux)) if has_aux else out_bar)
        except Exception as err:
            _annotate(err)
            raise
        result: list[Any] = [None] * len(primals)
        taken = _taken(*primals, out_bar, out)
        for g, i in zip(grads, diff):
            result[i] = _finish(g, primals[i], taken)
        return tuple(result)

    return (out, pullback, aux) if has_aux else (out, pullback)


def source(fun: Callable, argnums: int | tuple[int, ...] = 0, stage: str = "python",
           callees: bool = False, mode: str = "reverse", args: tuple | None = None) -> str:
    """The generated derivative of ``fun`` as Python source (or an IR dump).

    ``stage`` is ``"python"`` (the generated vjp and its pullback), ``"grad"``
    (the same statements fused into one function, which ``grad`` runs), ``"value_and_grad"``
    (the fused function ``value_and_grad`` runs),
    ``"ssa"`` (the lowered IR of ``fun``) or ``"adjoint"`` (the IR of the vjp); ``"graph"``
    (the derivative graph, as text), ``"dot"`` (the same in Graphviz DOT) or ``"factored"``
    (the function ``jacobian(fun, method="factored")`` runs, or why it falls back), for
    scalar arguments, or for the lengths of the 1-D arrays among ``args``.
    With ``callees=True`` the derivatives of the user functions it calls by name
    follow, each once. ``mode="forward"`` shows the jvp (forward mode) instead.
    The source shown is the one generated when nothing is
    known about the argument types; a call may run a variant specialised to
    them (e.g. without ``unbroadcast`` for floats). Given example ``args``, it shows
    the variant a call with them runs (specialised to their types and array shapes; a
    callee called with arguments of known types, as made for them, the others generic).

    >>> import s2sad
    >>> def square(x):
    ...     return x * x
    >>> print(s2sad.source(square))  # doctest: +ELLIPSIS
    # s2sad: vjp of square ...
    """
    fun = forwarded(getattr(fun, "__wrapped__", fun) if hasattr(fun, "__s2sad_transform__") else fun)
    nums, _ = _argnums(argnums)
    parse_function(fun)  # a clear error for functions without source
    code = fun.__code__
    wrt = tuple(wrt_names(list(code.co_varnames[: code.co_argcount]), nums, fun.__qualname__))
    if stage in ("graph", "dot", "factored"):
        from .factor import graph_source

        return graph_source(fun, list(wrt), stage, args)
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")
    if stage in ("grad", "value_and_grad") and mode == "forward":
        raise ValueError(f"stage {stage!r} (the fused gradient) exists in reverse mode only; "
                         "forward mode shows its jvp with stage 'python'")
    texts, todo, done = [], [(fun, wrt, None)], set()
    while todo:
        fn, wrt, generated = todo.pop(0)
        if (fn, wrt, id(generated)) in done:
            continue
        done.add((fn, wrt, id(generated)))
        if generated is None and args is not None and fn is fun:  # as a call with these arguments specialises it
            generated = Cache(fun, nums, strict=True, mode=mode)._specialize(tuple(args), mode == "reverse").generated
        elif generated is None:  # (else a callee made for the argument types its caller passes)
            generated = transform(fn, wrt, mode=mode)
        texts.append(_stage(generated, stage))
        if callees:
            handles = [getattr(h, "__self__", h) for h in generated.bindings.values()]  # (a bound call)
            todo += [(h.fun, h.cache.wrt, None) for h in handles if isinstance(h, VJP | JVP)]
            todo += [h.__s2sad_callee__ for h in handles if hasattr(h, "__s2sad_callee__")]
    return "\n".join(texts)


def _stage(generated: Generated, stage: str) -> str:
    if stage == "python":
        return generated.text
    if stage == "grad":
        return generated.grad_text
    if stage == "value_and_grad":
        return generated.value_and_grad_text
    if stage == "ssa":
        return dump(generated.lowered) + "\n"
    if stage == "adjoint":
        return dump(generated.derivative) + "\n"
    raise ValueError(f"stage must be 'python', 'grad', 'value_and_grad', 'ssa', 'adjoint', 'graph', 'dot' or "
                     f"'factored', got {stage!r}")


# Making a derivative function (``s2sad.grad(g)``) is not differentiated; calling it is.
DERIVATIVE_MAKERS.update([grad, value_and_grad, jacrev, jacfwd, hessian])
NONDIFFERENTIABLE.update(DERIVATIVE_MAKERS)
CLOSURE_DERIVATIVES.add(grad)  # its result, made from a closure, carries the closure's cotangent
link(vjp_of=vjp_of, jvp_of=jvp_of, grad=grad)  # odeint's derivatives differentiate its func (runtime_integrate)
JVP_CALLS.add(jvp)  # differentiated as the function ``nested.jvp_caller`` makes
