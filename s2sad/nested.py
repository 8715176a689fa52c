"""Forward-mode derivatives met inside differentiated code, as source a further derivative transforms.

Generated forward code calls a callee's jvp through its handle (``z, z_dot = g_jvp(a,
tangents=(a_dot,))``); user code may call ``s2sad.jvp(f, primals, tangents)`` or a ``jacfwd``
function. None of these is Python source s2sad can read, so each is replaced, for a derivative
of the code that calls it, by a small generated function computing the same thing from code
s2sad can transform:

- ``linker.JVP.generic``: a callee's generic jvp taking the tangents as a tuple, first
  (``wrappers.tangents_first``); a function value's, through ``linker.jvp_of_tangents_first``;
- ``jvp_caller``: ``s2sad.jvp(f, primals, tangents)`` as a call of ``f``'s jvp handle;
- ``jacfwd_source``: ``jacfwd(f)`` as a loop of jvps along the unit tangents, stacked.

``nested_calls`` rewrites the calls of the first two in a function about to be differentiated; a
``jacfwd`` function names the third as what stands for it (``__s2sad_source__``, see ``resolve``).
Each is loaded like generated code (its text in ``linecache``) and cached by what it calls.
"""

from __future__ import annotations

import inspect
import types

import numpy as np

from . import ir, runtime
from .linker import JVP, jvp_of, jvp_of_tangents_first
from .resolve import derivative_source
from .rules import JVP_CALLS
from .wrappers import fresh, load_wrapper, unpack

__all__ = ["jvp_caller", "jacfwd_source", "nested_calls"]


def jvp_caller(fun: object, n: int) -> types.FunctionType | None:
    """``s2sad.jvp(fun, primals, tangents)`` with ``n`` primals, as a generated function of ``(fun, primals,
    tangents)``; None where ``fun`` is not a function of ``n`` or more positional parameters s2sad can
    differentiate. It differentiates ``fun`` with respect to every primal, so each must be a float or a
    floating array (or a pytree of them): ``runtime.float_primals`` checks that when it runs."""
    source = derivative_source(fun)  # (a grad or jacfwd function: the generated code computing it)
    fn = fun if source is None else source
    if not isinstance(fn, types.FunctionType):
        return None
    code = fn.__code__
    if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) or code.co_kwonlyargcount \
            or not 0 < n <= code.co_argcount:
        return None
    params = list(code.co_varnames[:n])
    handle = JVP.of(fn, tuple(params))
    if handle.caller is None:  # (kept by the handle: alive while a derivative calls it)
        taken = {"fun", "primals", "tangents", "float_primals"}
        callee = fresh(f"{fn.__name__}_jvp" if fn.__name__.isidentifier() else "f_jvp", taken)
        primals = [fresh(p, taken) for p in params]
        dots = [fresh(f"{p}_dot", taken) for p in params]
        name = fresh(f"jvp_of_{fn.__name__}" if fn.__name__.isidentifier() else "jvp_of_lambda", taken)
        lines = [f"def {name}(fun, primals, tangents):",
                 unpack(primals, f"float_primals(primals, {n})"),
                 unpack(dots, "tangents"),
                 f"    return {callee}({', '.join(primals)}, tangents=({', '.join(dots)},))"]
        bindings = {callee: handle.call, "float_primals": runtime.float_primals}
        handle.caller = load_wrapper(name, f"s2sad.jvp of {fn.__qualname__}", lines, bindings)
    return handle.caller


def jacfwd_source(fun: types.FunctionType, argnum: int) -> types.FunctionType:
    """``jacfwd(fun, argnums=argnum)`` as a generated function of ``fun``'s positional parameters: one jvp
    per element of the argument, the output tangents stacked (an argument and an output that are floats
    or arrays; ``runtime.unit_tangent`` and ``runtime.jacobian_column`` check that when it runs)."""
    code = fun.__code__
    params = list(code.co_varnames[: code.co_argcount])
    x = params[argnum]
    taken = {*params, "np", "unit_tangent", "jacobian_column"}
    handle = fresh(f"{fun.__name__}_jvp" if fun.__name__.isidentifier() else "f_jvp", taken)
    columns, k = fresh("columns", taken), fresh("k", taken)
    name = fresh(f"jacfwd_{fun.__name__}" if fun.__name__.isidentifier() else "jacfwd_lambda", taken)
    lines = [f"def {name}({', '.join(params)}):",
             f"    {columns} = []",
             f"    for {k} in range(np.size({x})):",
             f"        {columns}.append(jacobian_column({handle}({', '.join(params)}, "
             f"tangents=(unit_tangent({x}, {k}),))[1]))",
             f"    return np.reshape(np.stack({columns}, axis=-1), np.shape({columns}[0]) + np.shape({x}))"]
    bindings = {handle: JVP.of(fun, (x,)).call, "np": np, "unit_tangent": runtime.unit_tangent,
                "jacobian_column": runtime.jacobian_column}
    return load_wrapper(name, f"jacfwd of {fun.__qualname__} with respect to {x}", lines, bindings, fun.__defaults__)


def nested_calls(fn: ir.Function) -> None:
    """Calls of forward-mode derivatives in ``fn``, rewritten (in place) to generated source computing
    the same, so that ``fn`` can be differentiated: a callee's jvp handle in generated forward code,
    ``g_jvp(a, tangents=t)``, becomes its generic jvp taking the tangents first (``g_jvp_tangents_first(t,
    a)``), and a function value's, ``jvp_of(f, ...)(a, tangents=t)``, ``jvp_of_tangents_first(f, ...)(t, a)``;
    ``s2sad.jvp(f, primals, tangents)`` of a function ``f`` known now, with a tuple of primals written out,
    becomes a call of ``jvp_caller(f, len(primals))``."""
    literals = {s.target: len(s.value.items) for s in ir.walk(fn.body)
                if isinstance(s, ir.Assign) and isinstance(s.target, str) and isinstance(s.value, ir.Tuple)}
    made = _jvp_of_results(fn)

    def rewrite(e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.Call) and isinstance(e.func, ir.Name) and e.func.id in made:  # the tangents first
            tangents = next((v for k, v in e.kwargs if k == "tangents"), ir.Tuple([]))
            return ir.Call(e.func, [tangents, *e.args], [(k, v) for k, v in e.kwargs if k != "tangents"])
        if not (isinstance(e, ir.Call) and isinstance(e.func, ir.Ref)):
            return e
        if e.func.value is jvp_of and any(e is call for call in made.values()):
            return ir.Call(ir.Ref(("jvp_of_tangents_first",), jvp_of_tangents_first, helper=True), e.args, e.kwargs)
        handle = getattr(e.func.value, "__self__", None)
        if isinstance(handle, JVP):
            generic = handle.generic()
            tangents = next((v for k, v in e.kwargs if k == "tangents"), ir.Tuple([]))
            return ir.Call(ir.Ref((generic.__name__,), generic, helper=True), [tangents, *e.args],
                           [(k, v) for k, v in e.kwargs if k != "tangents"])
        if _calls_jvp(e.func.value) and len(e.args) == 3 and not e.kwargs and isinstance(e.args[0], ir.Ref) \
                and isinstance(e.args[1], ir.Name) and e.args[1].id in literals:
            caller = jvp_caller(e.args[0].value, literals[e.args[1].id])
            if caller is not None:
                return ir.Call(ir.Ref((caller.__name__,), caller, helper=True), e.args)
        return e

    ir.map_exprs(fn.body, rewrite)


def _jvp_of_results(fn: ir.Function) -> dict[str, ir.Call]:
    """The names bound to ``jvp_of(f, ...)`` (a function value's jvp, in generated forward code) and nothing
    else, with the call binding each."""
    bound: dict[str, list] = {}
    for s in ir.walk(fn.body):
        if isinstance(s, ir.Assign):
            for t in (s.target,) if isinstance(s.target, str) else s.target:
                bound.setdefault(t, []).append(s.value)
    return {name: values[0] for name, values in bound.items() if len(values) == 1 and isinstance(values[0], ir.Call)
            and isinstance(values[0].func, ir.Ref) and values[0].func.value is jvp_of}


def _calls_jvp(fn: object) -> bool:
    try:
        return fn in JVP_CALLS
    except TypeError:  # unhashable
        return False
