"""The pipeline in one place: parse -> desugar -> lower -> simplify -> verify -> reverse -> emit -> load.

``transform`` runs every stage once and returns a ``Generated`` holding each
stage's product (for ``s2sad show --stage`` and tests). Callers cache the result.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import linecache
import os
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from . import ir
from .codegen import emit
from .desugar import cells, comprehensions, desugar, matches
from .forward import forward
from .frontend import Source, parse_function
from .load import load
from .lower import lower
from .naming import Namer
from .nested import nested_calls
from .reverse import reverse
from .simplify import simplify

__all__ = ["Generated", "transform", "lowered_ir", "wrt_names", "LINEMAPS"]

# filename of generated code -> its line map; lets errors inside it name the user's line
LINEMAPS: dict[str, dict[int, ir.Loc]] = {}
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

    @functools.cached_property
    def _loaded(self) -> tuple[str, types.FunctionType]:
        return self.load_derivative()

    @functools.cached_property
    def value_and_grad_function(self) -> types.FunctionType:
        """The fused function returning ``(value, grads)`` (reverse mode), made on first use."""
        return self.load_value_and_grad()[1]

    @functools.cached_property
    def grad_value_function(self) -> types.FunctionType:
        """The fused gradient returning the one argument's gradient (reverse mode), made on first use."""
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


def lowered_ir(fn: types.FunctionType, free_inputs: tuple[str, ...] = (), dynamic_cells: bool = False
               ) -> tuple[Source, Namer, ir.Function]:
    """The front half of the pipeline: parse, desugar, lower, simplify, verify."""
    src = parse_function(fn, dynamic_cells)
    desugar(cells(comprehensions(matches(src.tree, src), src), src))
    namer = Namer()
    lowered = simplify(lower(src, namer, free_inputs))
    ir.verify(lowered)
    return src, namer, lowered


def transform(fn: types.FunctionType, wrt: tuple[str, ...], scalars: frozenset[str] = frozenset(),
              dynamic_cells: bool = False, trees: frozenset[str] = frozenset(), mode: str = "reverse",
              dims: dict[str, tuple[int, ...]] | None = None, typed: bool = False) -> Generated:
    """Generate and load the vjp and the fused gradient of ``fn`` w.r.t. ``wrt``.

    ``wrt`` names parameters, or closure variables (``fn``'s free variables).
    ``scalars`` are parameters known to hold scalars at the call sites this
    specialisation serves. ``dynamic_cells``: the result will serve every closure
    made from ``fn``'s code, so closure cells are not read at transform time.
    ``trees`` are parameters that hold tuples, lists or dicts (pytrees). ``mode``
    ``"forward"`` makes the jvp instead (in ``function``; no fused gradient). ``dims``
    (reverse mode): shapes of array parameters; where knowing them removes a shape
    check, the result says ``shape_specific`` and serves arguments of those shapes only. ``typed``:
    it serves only calls whose arguments have the types ``scalars`` and ``trees`` were found from.
    """
    params = set(fn.__code__.co_varnames[: fn.__code__.co_argcount + fn.__code__.co_kwonlyargcount])
    missing = [w for w in wrt if w not in params and w not in fn.__code__.co_freevars]
    if missing:
        raise ValueError(f"{fn.__qualname__} has no parameter {missing[0]!r} to differentiate")
    free = tuple(w for w in wrt if w not in params)
    src, namer, lowered = lowered_ir(fn, free, dynamic_cells)
    nested_calls(lowered)  # (derivatives of derivatives)
    inputs = [lowered.inputs.get(w, w) for w in wrt]
    trees = {*trees, *(lowered.inputs.get(w, w) for w in free)}  # a captured value may be a tuple or a function
    if mode == "forward":
        deriv = forward(lowered, src, namer, inputs, set(scalars), trees, typed)
    else:
        deriv = reverse(lowered, src, namer, inputs, set(scalars), trees, dims, typed)
    where = f"{os.path.basename(src.file)}:{src.tree.lineno}"
    cells = {name: types.CellType(obj) for name, obj in deriv.bindings.items()}
    # serving every closure of fn's code, the derivative is rebound to each one's cells: it keeps none
    cells.update({name: types.CellType() for name in src.freevars} if dynamic_cells else src.freevars)
    qualname, globals_, defaults, kwdefaults = fn.__qualname__, fn.__globals__, fn.__defaults__, fn.__kwdefaults__

    def emit_and_load(kind: str, fn_ir: ir.Function) -> tuple[str, types.FunctionType]:
        what = {"vjp": "vjp", "jvp": "jvp (forward mode)",
                "grad": "gradient (forward pass and pullback in one function)",
                "value_and_grad": "value and gradient (forward pass and pullback in one function)"}[kind]
        header = f"s2sad: {what} of {qualname} ({where}) with respect to {', '.join(wrt)}"
        text, linemap = emit(fn_ir, header)
        filename = f"<s2sad: {kind} of {qualname} ({where}) #{next(_serial)}>"
        loaded = load(text, filename, fn_ir.name, globals_, cells, defaults, kwdefaults)
        LINEMAPS[filename] = linemap
        weakref.finalize(loaded.__code__, _forget, filename).atexit = False  # they live as long as its code
        return text, loaded

    ir.verify(deriv.function)  # both checked now; the vjp is emitted and loaded on first use
    grad_text, grad = None, None
    if mode != "forward":
        ir.verify(deriv.grad)
        grad_text, grad = emit_and_load("grad", deriv.grad)
    def load_value_and_grad() -> tuple[str, types.FunctionType]:  # built, checked and loaded on first use
        fused = deriv.value_and_grad()
        ir.verify(fused)
        return emit_and_load("value_and_grad", fused)

    def load_grad_value() -> tuple[str, types.FunctionType]:
        """The fused gradient of the one argument, as ``grad`` returns it: code to differentiate again."""
        body = ir.clone(deriv.grad.body)
        body[-1] = ir.Return(body[-1].value.items[0], body[-1].loc)
        return emit_and_load("grad", dataclasses.replace(deriv.grad, name=f"{deriv.grad.name}_value", body=body))

    tangents = tuple(deriv.function.params.kwonly[len(lowered.params.kwonly):]) if mode == "forward" else ()
    return Generated(lowered, deriv.function, grad_text, grad, deriv.bindings, tangents,
                     mode != "forward" and deriv.shape_specific,
                     functools.partial(emit_and_load, "jvp" if mode == "forward" else "vjp", deriv.function),
                     None if mode == "forward" else load_value_and_grad,
                     None if mode == "forward" else load_grad_value, src.globals_read)
