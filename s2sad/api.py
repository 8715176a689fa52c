"""The user API: ``grad``, ``value_and_grad``, ``vjp``, ``source`` (JAX names and semantics).

Each differentiated function is transformed once per (argnums, argument types)
and cached; a later call costs a dict lookup on the argument types, the
generated forward pass and pullback, and a check of the gradient's dtype for
array arguments.
"""

from __future__ import annotations

import functools
import linecache
from typing import Any, Callable

import numpy as np

from .cache import JVP, VJP, Cache, get_cache
from .codegen import signature
from .errors import SourceUnavailableError
from .frontend import parse_function, source_lines
from .ir import dump
from .pytree import differentiable as differentiable_value
from .pytree import is_node, map_leaves
from .transform import LINEMAPS, Generated, transform, wrt_names

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "jacobian", "hessian", "hvp", "source"]


def _cache(fun: Callable, argnums: tuple[int, ...]) -> Cache:
    source_lines(fun)  # a clear error now for functions without source
    code = fun.__code__
    wrt_names(list(code.co_varnames[: code.co_argcount]), argnums, fun.__qualname__)
    return get_cache(fun, argnums)


def _finish(g, like):
    """A gradient with the type, shape and dtype of its argument ``like`` (its structure, for a pytree)."""
    if is_node(like):
        return map_leaves(lambda leaf, gl: _finish(gl, leaf), like, like_structure(g, like))
    if isinstance(like, np.ndarray):
        if type(g) is np.ndarray and g.dtype == like.dtype and g.shape == like.shape and g.flags.writeable:
            return g
        g = np.asarray(g)
        if g.shape != like.shape:
            raise AssertionError(f"s2sad internal error: gradient of shape {g.shape} for an argument of shape "
                                 f"{like.shape}; please report this with the function")
        return g.astype(like.dtype, copy=True)
    if isinstance(like, np.generic):
        return type(like)(g)
    if type(g) is float:
        return g
    if np.shape(g) != ():
        raise AssertionError(f"s2sad internal error: gradient of shape {np.shape(g)} for a scalar argument")
    return float(g)


def like_structure(g, like):
    """``g`` with ``like``'s containers (a cotangent may hold a list where the argument had a tuple)."""
    if isinstance(like, dict):
        return {k: like_structure(g[k], v) for k, v in like.items()}
    if isinstance(like, tuple | list):
        return [like_structure(gi, li) for gi, li in zip(g, like)]
    return g


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
        if e is None:
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
                g = _finish(g, args[first])
        else:
            g = grads
            for gi in grads:
                if type(gi) is not float:
                    g = tuple(_finish(gi, args[i]) for gi, i in zip(grads, nums))
                    break
        return (out, g) if with_value else g

    wrapper = _dispatcher(fun, cache, nums, single, with_value) or wrapper
    wrapper.__name__ = f"{name}_{getattr(fun, '__name__', 'f')}"
    wrapper.__qualname__ = wrapper.__name__
    wrapper.__s2sad_transform__ = name
    wrapper.__s2sad_spec__ = (nums, single, with_value)
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
    params = list(code.co_varnames[: code.co_argcount])
    args = ", ".join(params)
    name = ("value_and_grad_" if with_value else "grad_") + (
        fun.__name__ if fun.__name__.isidentifier() else "lambda")
    key = f"type({params[0]})" if len(params) == 1 else f"({', '.join(f'type({p})' for p in params)})"
    lines = [f"def {name}({args}):",
             f"    e = __get({key})",
             "    if e is None:",
             f"        e = __entry(({args},))",
             "    elif e.arrays:",
             f"        __check(e, ({args},))",
             "    try:",
             f"        out, grads = e.value_and_grad({args})" if with_value else f"        grads = e.grad({args})",
             "    except Exception as err:",
             "        __annotate(err)",
             "        raise"]
    ret = "return out, " if with_value else "return "
    if single:
        lines += ["    g = grads[0]", "    if type(g) is not float:", f"        g = __finish(g, {params[nums[0]]})",
                  f"    {ret}g"]
    else:
        gs = [f"g{k}" for k in range(len(nums))]
        lines += [f"    {', '.join(gs)}, = grads",
                  f"    if {' and '.join(f'type({g}) is float' for g in gs)}:",
                  f"        {ret}grads",
                  f"    {ret}({''.join(f'__finish({g}, {params[i]}), ' for g, i in zip(gs, nums))})"]
    text = "\n".join(lines) + "\n"
    filename = f"<s2sad: {'value_and_grad' if with_value else 'grad'} dispatcher of {fun.__qualname__}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    namespace = {"__get": cache.table.get, "__entry": cache.entry, "__check": cache.check, "__annotate": _annotate,
                 "__finish": _finish}
    exec(compile(text, filename, "exec"), namespace)
    return functools.wraps(fun)(namespace[name])


_source_functions: dict = {}


def differentiable(fun: Callable) -> Callable:
    """``fun``, or for an s2sad ``grad`` function, generated Python that computes the same
    thing and can itself be transformed: that is how derivatives of derivatives work."""
    spec = getattr(fun, "__s2sad_spec__", None)
    if spec is None:
        return fun
    nums, single, with_value = spec
    if with_value:
        raise SourceUnavailableError("differentiating a value_and_grad function is not supported; "
                                     "differentiate grad(f) instead")
    key = (fun.__wrapped__, nums, single)
    if key not in _source_functions:
        inner = differentiable(fun.__wrapped__)
        code = inner.__code__
        generated = transform(inner, tuple(wrt_names(list(code.co_varnames[: code.co_argcount]), nums,
                                                     inner.__qualname__)))
        _source_functions[key] = _pick(generated, single)
    return _source_functions[key]


def _pick(generated: Generated, single: bool) -> Callable:
    """A generated function calling the fused gradient and returning what ``grad`` returns."""
    params = generated.lowered.params
    call = [*params.positional, *([f"*{params.vararg}"] if params.vararg else []),
            *(f"{k}={k}" for k in params.kwonly), *([f"**{params.kwarg}"] if params.kwarg else [])]
    inner = generated.grad_function.__name__
    name = f"{inner}_{'value' if single else 'values'}"
    text = (f"# s2sad: what grad returns, as code s2sad can differentiate again\n"
            f"def {name}({signature(params)}):\n    return {inner}({', '.join(call)}){'[0]' if single else ''}\n")
    filename = f"<s2sad: {name}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    namespace = {inner: generated.grad_function}
    exec(compile(text, filename, "exec"), namespace)
    fn = namespace[name]
    fn.__defaults__ = generated.grad_function.__defaults__
    fn.__kwdefaults__ = generated.grad_function.__kwdefaults__
    return fn


def grad(fun: Callable | None = None, argnums: int | tuple[int, ...] = 0) -> Callable:
    """The gradient of a scalar-valued Python function, by source transformation.

    Use as ``s2sad.grad(f)``, ``s2sad.grad(f, argnums=(0, 1))`` or as a bare
    decorator ``@s2sad.grad``. ``argnums`` (an int or a tuple of ints) picks the
    positional arguments to differentiate; an int gives one gradient, a tuple a
    tuple of gradients. Each gradient has the type, shape and dtype of its
    argument. Keyword arguments pass through undifferentiated.

    >>> import math, s2sad
    >>> def f(x, y):
    ...     return x * math.sin(y)
    >>> s2sad.grad(f, argnums=(0, 1))(2.0, 0.0)
    (0.0, 2.0)
    """
    if fun is None:
        return functools.partial(grad, argnums=argnums)
    return _value_and_grad(differentiable(fun), argnums, "grad", with_value=False)


def value_and_grad(fun: Callable | None = None, argnums: int | tuple[int, ...] = 0) -> Callable:
    """Like ``grad``, but the function returns ``(value, gradient)``.

    >>> import s2sad
    >>> s2sad.value_and_grad(lambda x: x ** 3)(2.0)
    (8.0, 12.0)
    """
    if fun is None:
        return functools.partial(value_and_grad, argnums=argnums)
    return _value_and_grad(differentiable(fun), argnums, "value_and_grad", with_value=True)


def jacrev(fun: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """The Jacobian of ``fun`` by reverse mode: one pullback per output element, as JAX's ``jacrev``.

    The result has shape ``out.shape + arg.shape`` (a tuple of them for a tuple
    ``argnums``). The pullback is built once and called for each output element.

    >>> import numpy as np, s2sad
    >>> s2sad.jacrev(lambda x: x * x)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    nums, single = _argnums(argnums)
    cache = _cache(fun, nums)

    def jacobian_fn(*args, **kwargs):
        e = cache.entry(args)
        out, pullback = e.vjp(*args, **kwargs)
        shape = np.shape(out)
        size = int(np.prod(shape))
        rows = []
        for k in range(size):
            basis = np.zeros(size, dtype=np.result_type(out, 1.0))
            basis[k] = 1.0
            rows.append(pullback(basis.reshape(shape) if shape else float(basis[0])))
        jacs = tuple(np.stack([np.asarray(_finish(r[j], args[i])) for r in rows]).reshape(shape + np.shape(args[i]))
                     for j, i in enumerate(nums))
        return jacs[0] if single else jacs

    jacobian_fn.__name__ = f"jacrev_{getattr(fun, '__name__', 'f')}"
    return jacobian_fn


jacobian = jacrev  # JAX's alias


def hessian(fun: Callable, argnums: int = 0) -> Callable:
    """The Hessian of a scalar ``fun``, forward-over-reverse: ``jacfwd(grad(fun))``, as JAX's ``hessian``."""
    return jacfwd(grad(fun, argnums=argnums), argnums=argnums)


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
    fun = differentiable(fun)
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals but {len(tangents)} tangents")
    diff = tuple(i for i, a in enumerate(primals) if differentiable_value(a))
    if not diff:
        raise TypeError("jvp needs at least one float or floating-array primal")
    parse_function(fun)
    e = get_cache(fun, diff, strict=False, mode="forward").entry(primals)
    try:
        return e.vjp(*primals, **dict(zip(e.generated.tangent_names, (tangents[i] for i in diff))))
    except Exception as err:
        _annotate(err)
        raise


def jacfwd(fun: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """The Jacobian of ``fun`` by forward mode: one jvp per input element, as JAX's ``jacfwd``.

    >>> import numpy as np, s2sad
    >>> s2sad.jacfwd(lambda x: x * x)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    nums, single = _argnums(argnums)

    def jacobian_fn(*args):
        jacs = []
        for i in nums:
            arg = np.asarray(args[i], dtype=float)
            columns = []
            for k in range(arg.size):
                basis = np.zeros(arg.size)
                basis[k] = 1.0
                tangents = [np.zeros_like(a, dtype=float) if differentiable_value(a) else a for a in args]
                tangents[i] = basis.reshape(arg.shape) if arg.shape else float(basis[0])
                out, out_dot = jvp(fun, args, tangents)
                columns.append(np.asarray(out_dot, dtype=float))
            shape = np.shape(columns[0]) if columns else ()
            jacs.append(np.stack(columns, axis=-1).reshape(shape + arg.shape) if columns else np.zeros(arg.shape))
        return jacs[0] if single else tuple(jacs)

    jacobian_fn.__name__ = f"jacfwd_{getattr(fun, '__name__', 'f')}"
    return jacobian_fn


def vjp(fun: Callable, *primals: Any) -> tuple[Any, Callable]:
    """Evaluate ``fun(*primals)`` and return ``(out, pullback)``.

    ``pullback(out_bar)`` returns a tuple with the cotangent of every primal
    (``None`` for integer or non-float arguments, which carry no gradient).
    ``out_bar`` has the structure of ``out``; the output need not be scalar.

    >>> import numpy as np, s2sad
    >>> out, pullback = s2sad.vjp(lambda x: np.sin(x) * 2.0, np.zeros(2))
    >>> pullback(np.ones(2))
    (array([2., 2.]),)
    """
    fun = differentiable(fun)
    diff = tuple(i for i, a in enumerate(primals) if differentiable_value(a))
    if not diff:
        raise TypeError("vjp needs at least one float or floating-array argument")
    e = _cache(fun, diff).entry(primals)
    try:
        out, pb = e.vjp(*primals)
    except Exception as err:
        _annotate(err)
        raise

    def pullback(out_bar):
        try:
            grads = pb(out_bar)
        except Exception as err:
            _annotate(err)
            raise
        result: list[Any] = [None] * len(primals)
        for g, i in zip(grads, diff):
            result[i] = _finish(g, primals[i])
        return tuple(result)

    return out, pullback


def source(fun: Callable, argnums: int | tuple[int, ...] = 0, stage: str = "python",
           callees: bool = False, mode: str = "reverse", args: tuple | None = None) -> str:
    """The generated derivative of ``fun`` as Python source (or an IR dump).

    ``stage`` is ``"python"`` (the generated vjp and its pullback), ``"grad"``
    (the same statements fused into one function, which ``grad`` runs),
    ``"ssa"`` (the lowered IR of ``fun``) or ``"adjoint"`` (the IR of the vjp).
    With ``callees=True`` the derivatives of the user functions it calls by name
    follow, each once. ``mode="forward"`` shows the jvp (forward mode) instead.
    The source shown is the one generated when nothing is
    known about the argument types; a call may run a variant specialised to
    them (e.g. without ``unbroadcast`` for floats). Given example ``args``, it shows
    the variant a call with them runs (specialised to their types and array shapes;
    callees still generic).

    >>> import s2sad
    >>> def square(x):
    ...     return x * x
    >>> print(s2sad.source(square))  # doctest: +ELLIPSIS
    # s2sad: vjp of square ...
    """
    fun = getattr(fun, "__wrapped__", fun) if hasattr(fun, "__s2sad_transform__") else fun
    nums, _ = _argnums(argnums)
    parse_function(fun)  # a clear error for functions without source
    code = fun.__code__
    wrt = tuple(wrt_names(list(code.co_varnames[: code.co_argcount]), nums, fun.__qualname__))
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")
    if stage == "grad" and mode == "forward":
        raise ValueError("stage 'grad' (the fused gradient) exists in reverse mode only; "
                         "forward mode shows its jvp with stage 'python'")
    texts, todo, done = [], [(fun, wrt)], set()
    while todo:
        fn, wrt = todo.pop(0)
        if (fn, wrt) in done:
            continue
        done.add((fn, wrt))
        if args is not None and fn is fun:  # as a call with these arguments specialises it
            generated = Cache(fun, nums, strict=True, mode=mode)._specialize(tuple(args), mode == "reverse").generated
        else:
            generated = transform(fn, wrt, mode=mode)
        texts.append(_stage(generated, stage))
        if callees:
            handles = (getattr(h, "__self__", h) for h in generated.bindings.values())
            todo += [(h.cache.fun, h.cache.wrt) for h in handles if isinstance(h, VJP | JVP)]
    return "\n".join(texts)


def _stage(generated: Generated, stage: str) -> str:
    if stage == "python":
        return generated.text
    if stage == "grad":
        return generated.grad_text
    if stage == "ssa":
        return dump(generated.lowered) + "\n"
    if stage == "adjoint":
        return dump(generated.derivative) + "\n"
    raise ValueError(f"stage must be 'python', 'grad', 'ssa' or 'adjoint', got {stage!r}")
