"""The pipeline in one place: parse -> desugar -> lower -> simplify -> verify -> reverse (or forward)
-> fuse -> bind helpers -> emit -> load.

``transform`` runs every stage once and returns a ``Generated`` holding each
stage's product (for ``s2sad show --stage`` and tests). Callers cache the result. When this
module loads it hands ``transform`` to the run time (``cache.use_pipeline``), which calls it on a
cache miss: the run time never imports the compiler. For a derivative made for argument types, the
lowered function is specialised before ``reverse``: helpers written in, pytree parameters read once
per key, tuples split (``_specialised``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import inspect
import itertools
import linecache
import os
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from . import cache, ir
from .codegen import bind_helpers, emit
from .entries import spread_entries
from .errors import NoDerivativeRuleError, S2SADSyntaxError, SourceUnavailableError
from .forward import forward
from .frontend import Source
from .fuse import fuse
from .inline import inline_calls
from .load import LINEMAPS, load
from .naming import Namer
from .nested import nested_calls
from .reverse import Pullback, reverse
from .simplify import simplify, split_tuples
from .ssa import lowered_ir

__all__ = ["Generated", "transform", "lowered_ir", "wrt_names", "LINEMAPS"]

_serial = itertools.count(1)


@dataclass
class Generated:
    """Each stage's product. The vjp (or jvp) is emitted and compiled on first use:
    ``grad`` runs only the fused gradient, and loading is a quarter of the transform time.
    Nothing here refers to the function transformed (its caches are keyed weakly by it)."""

    lowered: ir.Function
    derivative: ir.Function
    grad_text: str | None
    grad_function: types.FunctionType | None
    bindings: dict[str, object]  # helper name -> object (VJP handles of callees among them)
    tangent_names: tuple[str, ...]  # forward mode: the jvp's keyword-only tangent parameters
    shape_specific: bool  # assumes the array arguments' shapes given to ``transform`` as ``dims``
    load_derivative: Callable[[], tuple[str, types.FunctionType]] = field(repr=False)
    load_value_and_grad: Callable[[], tuple[str, types.FunctionType]] | None = field(repr=False, default=None)
    load_grad_value: Callable[[], tuple[str, types.FunctionType]] | None = field(repr=False, default=None)
    globals_read: dict[str, object] = field(repr=False, default_factory=dict)  # see ``Source.globals_read``
    derived_from: tuple[types.FunctionType, ...] = ()  # generated code it transformed or calls (``cache.derived``)

    @functools.cached_property
    def _loaded(self) -> tuple[str, types.FunctionType]:
        return self.load_derivative()

    @functools.cached_property
    def _value_and_grad(self) -> tuple[str, types.FunctionType]:
        if self.load_value_and_grad is None:
            raise ValueError("value_and_grad is made in reverse mode only")
        return self.load_value_and_grad()

    @property
    def value_and_grad_function(self) -> types.FunctionType:
        """The fused function returning ``(value, grads)`` (reverse mode), made on first use."""
        return self._value_and_grad[1]

    @property
    def value_and_grad_text(self) -> str:
        return self._value_and_grad[0]

    @functools.cached_property
    def grad_value_function(self) -> types.FunctionType:
        """The fused gradient returning the one argument's gradient (reverse mode), made on first use."""
        if self.load_grad_value is None:
            raise ValueError("the fused gradient is made in reverse mode only")
        return self.load_grad_value()[1]

    @property
    def text(self) -> str:
        return self._loaded[0]

    @property
    def function(self) -> types.FunctionType:
        return self._loaded[1]


def _forget(filename: str) -> None:
    LINEMAPS.pop(filename, None)
    linecache.cache.pop(filename, None)


def wrt_names(positional: list[str], argnums: tuple[int, ...], fn_name: str) -> list[str]:
    """The parameter names ``argnums`` refers to (positional parameters, as in JAX)."""
    names = []
    for i in argnums:
        if not isinstance(i, int) or not -len(positional) <= i < len(positional):
            raise ValueError(
                f"argnums={argnums!r} is out of range: {fn_name} has {len(positional)} positional "
                f"parameter(s) ({', '.join(positional)})")
        names.append(positional[i])
    if len(set(names)) != len(names):
        raise ValueError(f"argnums={argnums!r} names the same parameter twice")
    return names


def _specialised(lowered: ir.Function, src: Source, namer: Namer, facts: dict[str, object] | None
                 ) -> tuple[ir.Function, dict]:
    """``lowered`` with the calls of small functions of its module written in (``inline``), the pytree
    parameters of known structure read once per key (``entries``) and tuples that only flow split into
    their entries (``simplify.split_tuples``), simplified again; and the pytree parameters' reads.
    ``lowered`` itself is left as it was."""
    copy = ir.Function(lowered.name, lowered.params, ir.clone(lowered.body), lowered.loc, lowered.ssa, lowered.flat,
                       lowered.doc, set(lowered.temps), dict(lowered.inputs))
    inlined = inline_calls(copy, src, namer)
    spread = spread_entries(copy, facts or {}, namer)
    split = split_tuples(copy, namer)
    if not inlined and not spread and not split:
        return lowered, {}
    copy = simplify(copy)
    ir.verify(copy)
    return copy, spread


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector paused while a transform runs (the outermost one).

    A transform builds many objects that live until it ends (syntax trees, the IR) and little
    cyclic garbage; every full collection meanwhile traverses all of them again, which made
    transform time grow as n^1.12 in the function's length (and a 1600-statement function
    spend a quarter of its time collecting). What it leaves is collected afterwards."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def transform(fn: types.FunctionType, wrt: tuple[str, ...], scalars: frozenset[str] = frozenset(),
              dynamic_cells: bool = False, trees: frozenset[str] = frozenset(), mode: str = "reverse",
              dims: dict[str, tuple[int, ...]] | None = None, typed: bool = False,
              facts: dict[str, object] | None = None, captured: bool = False, slots: tuple | None = None,
              first: int | None = None, any_kind: bool = False) -> Generated:
    try:
        with _collector_paused():
            return _transform(fn, wrt, scalars, dynamic_cells, trees, mode, dims, typed, facts, captured, slots, first,
                              any_kind)
    except (S2SADSyntaxError, NoDerivativeRuleError, SourceUnavailableError) as e:
        raise e.with_traceback(None)  # noqa: B904  (the same error, without the stages' frames: it is about the user's code)


def _transform(fn: types.FunctionType, wrt: tuple[str, ...], scalars: frozenset[str], dynamic_cells: bool,
               trees: frozenset[str], mode: str, dims: dict[str, tuple[int, ...]] | None, typed: bool,
               facts: dict[str, object] | None, captured: bool, slots: tuple | None = None,
               first: int | None = None, any_kind: bool = False) -> Generated:
    """Generate and load the vjp and the fused gradient of ``fn`` w.r.t. ``wrt``.

    ``wrt`` names parameters, or closure variables (``fn``'s free variables).
    ``scalars`` are parameters known to hold scalars at the call sites this
    specialisation serves. ``dynamic_cells``: the result will serve every closure
    made from ``fn``'s code, so closure cells are not read at transform time.
    ``trees`` are parameters that hold tuples, lists or dicts (pytrees). ``mode``
    ``"forward"`` makes the jvp instead (in ``function``; no fused gradient). ``dims``
    (reverse mode): shapes of array parameters; where knowing them removes a shape check or
    shows a write safe, the result says ``shape_specific`` and serves arguments of those shapes only. ``typed``:
    it serves only calls whose arguments have the types ``scalars`` and ``trees`` were found from; then
    the user functions it calls with arguments of known types are transformed for them, now.
    ``facts`` (with ``dims``): what the pytree parameters hold (``statics.Items``).
    ``captured``: the pullback gives the cotangents of the closure variables in ``wrt`` as one dict by name,
    last (a function value's cotangent); in forward mode, with ``first``, the jvp takes their tangents so.
    ``first`` (forward mode): the jvp takes its tangents as one tuple after that many parameters
    (``forward.tangents_first``). ``slots`` (reverse mode, see ``resolve.bind_slots``):
    the pullback gives one cotangent per argument, the entry of ``*args`` or ``**kwargs`` it filled, in place of
    the parameters' (as ``linker.vjp_of`` calls a function value). ``any_kind`` (reverse mode): made for
    arguments of any type, not even arrays assumed (code to differentiate again, ``api.differentiable``).
    """
    code = fn.__code__
    params = set(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount
                                  + bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)])
    missing = [w for w in wrt if w not in params and w not in fn.__code__.co_freevars]
    if missing:
        raise ValueError(f"{fn.__qualname__} has no parameter {missing[0]!r} to differentiate")
    free = tuple(w for w in wrt if w not in params)
    src, namer, lowered = lowered_ir(fn, free, dynamic_cells)
    nested_calls(lowered)  # (derivatives of derivatives)
    inputs = [lowered.inputs.get(w, w) for w in wrt]
    pytrees = {*trees, *(lowered.inputs.get(w, w) for w in free)}  # a captured value may be a tuple or a function
    if mode != "forward":
        body, spread = _specialised(lowered, src, namer, facts) if typed else (lowered, {})
        split = [(lowered.inputs.get(name, name), key) for name, key in slots] if slots else None
        parts = reverse(body, namer, inputs, set(scalars), pytrees, dims, typed, facts, spread,
                        free if captured else None, split, any_kind)
        generated = _reverse_mode(lowered, parts, src, _Loader(fn, wrt, src, dynamic_cells), namer)
    else:
        jvp = forward(lowered, namer, inputs, set(scalars), pytrees, typed, first, free if captured else (), dims)
        ir.verify(jvp)  # checked now, emitted and loaded on first use
        loader = _Loader(fn, wrt, src, dynamic_cells, bind_helpers([jvp], src, namer))
        tangents = tuple(jvp.params.kwonly[len(lowered.params.kwonly):])
        generated = Generated(lowered, jvp, None, None, loader.bindings, tangents, bool(dims),  # (made for them)
                              functools.partial(loader, "jvp", jvp), globals_read=src.globals_read)
    generated.derived_from = _derived_from(fn, generated.bindings)
    return generated


def _reverse_mode(lowered: ir.Function, parts: Pullback, src: Source, loader: _Loader, namer: Namer) -> Generated:
    """The fused gradient (``fuse``) of reverse mode's pieces, loaded, beside the vjp and the fused
    ``value_and_grad`` (built, checked and loaded on first use)."""
    primal = parts.primal
    pieces = (primal, parts.forward, parts.out, parts.seed, parts.pullback, parts.grads, parts.analysis, parts.bars)
    grad, used_dims = fuse(namer.fresh(f"{primal.name}_grad"), *pieces)
    specific = parts.analysis.shape_specific or used_dims
    vag_name = namer.fresh(f"{primal.name}_value_and_grad")
    loader.bind(bind_helpers([parts.vjp, grad], src, namer))
    ir.verify(parts.vjp)  # both checked now; the vjp is emitted and loaded on first use
    ir.verify(grad)
    grad_text, grad_function = loader("grad", grad)

    def load_value_and_grad() -> tuple[str, types.FunctionType]:
        fused = fuse(vag_name, *pieces, with_value=True, known_shapes=specific)[0]
        ir.verify(fused)
        return loader("value_and_grad", fused)

    def load_grad_value() -> tuple[str, types.FunctionType]:
        """The fused gradient of the one argument, as ``grad`` returns it: code to differentiate again."""
        body = ir.clone(grad.body)
        ret = body[-1]
        assert isinstance(ret, ir.Return) and isinstance(ret.value, ir.Tuple), "fuse returns the tuple of gradients"
        body[-1] = ir.Return(ret.value.items[0], ret.loc)
        return loader("grad", dataclasses.replace(grad, name=f"{grad.name}_value", body=body))

    return Generated(lowered, parts.vjp, grad_text, grad_function, loader.bindings, (), specific,
                     functools.partial(loader, "vjp", parts.vjp), load_value_and_grad, load_grad_value,
                     src.globals_read)


_KINDS = {"vjp": "vjp", "jvp": "jvp (forward mode)", "grad": "gradient (forward pass and pullback in one function)",
          "value_and_grad": "value and gradient (forward pass and pullback in one function)"}


class _Loader:
    """Emits and loads the functions one transform made: under one header, reading the same cells
    (helpers bound by ``bind_helpers``, then the user's closure cells). It keeps nothing of the
    function transformed but its globals and defaults (its caches are keyed weakly by it)."""

    def __init__(self, fn: types.FunctionType, wrt: tuple[str, ...], src: Source, dynamic_cells: bool,
                 bindings: dict[str, object] | None = None) -> None:
        self.wrt = wrt
        self.where = f"{os.path.basename(src.file)}:{src.tree.lineno}"
        self.qualname, self.globals = fn.__qualname__, fn.__globals__
        self.defaults, self.kwdefaults = fn.__defaults__, fn.__kwdefaults__
        # serving every closure of fn's code, the derivative is rebound to each one's cells: it keeps none
        self.user_cells = {name: types.CellType() for name in src.freevars} if dynamic_cells else src.freevars
        self.bind(bindings or {})

    def bind(self, bindings: dict[str, object]) -> None:
        """The helper objects the generated code names (``bind_helpers``' result)."""
        self.bindings = bindings
        self.cells = {name: types.CellType(obj) for name, obj in bindings.items()}
        self.cells.update(self.user_cells)

    def __call__(self, kind: str, fn_ir: ir.Function) -> tuple[str, types.FunctionType]:
        header = f"s2sad: {_KINDS[kind]} of {self.qualname} ({self.where}) with respect to {', '.join(self.wrt)}"
        text, linemap = emit(fn_ir, header)
        filename = f"<s2sad: {kind} of {self.qualname} ({self.where}) #{next(_serial)}>"
        loaded = load(text, filename, fn_ir.name, self.globals, self.cells, self.defaults, self.kwdefaults)
        LINEMAPS[filename] = linemap
        weakref.finalize(loaded.__code__, _forget, filename).atexit = False  # they live as long as its code
        return text, loaded


def _derived_from(fn: types.FunctionType, bindings: dict[str, object]) -> tuple[types.FunctionType, ...]:
    """``fn`` and the callees the derivative binds, those that are themselves generated derivatives (or
    derivatives made for the argument types passed, see ``linker.VJP.specialised``)."""
    callees = (b if hasattr(b, "__s2sad_fresh__") else getattr(getattr(b, "__self__", None), "fun", None)
               for b in bindings.values())  # (a vjp made for the argument types, or a handle's function)
    return tuple(f for f in (fn, *callees) if isinstance(f, types.FunctionType) and hasattr(f, "__s2sad_fresh__"))


cache.use_pipeline(lambda *args, **kwargs: transform(*args, **kwargs))  # (read when called: tests replace it)
