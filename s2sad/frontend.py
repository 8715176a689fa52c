"""Front end: a Python function object -> its gast ``FunctionDef`` and its environment.

Guarantees: line numbers in the tree are the user's real file lines; ``col_shift``
is what dedenting removed, so ``col_offset + col_shift`` is the real column;
decorators are stripped (we already hold the undecorated function); a lambda comes
back as an equivalent ``FunctionDef`` whose body is one ``return``. Names are
resolved against the function's closure cells, globals and builtins. The text read
is the running code's: it compiles, where the function was compiled, to the
function's own code object (else ``SourceUnavailableError``: the file changed).
"""

from __future__ import annotations
import __future__

import ast
import builtins
import copy
import functools
import inspect
import linecache
import sys
import textwrap
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import gast
import numpy as np

from .errors import S2SADSyntaxError, SourceUnavailableError
from .ir import UNKNOWN, Loc

__all__ = ["Source", "parse_function", "source_lines", "forwarded", "MISSING", "DYNAMIC", "child_nodes", "all_nodes"]

MISSING = object()  # a name that is neither local, closure, global nor builtin
DYNAMIC = object()  # a closure cell whose contents are read only when the code runs


@dataclass(slots=True)
class Source:
    """A parsed user function and where its names come from."""

    fn: types.FunctionType
    tree: gast.FunctionDef
    file: str
    col_shift: int
    freevars: dict[str, types.CellType]
    # True when one transform serves every closure made from this code: then what
    # a cell holds now says nothing about later calls, so cells are not looked into.
    dynamic_cells: bool = False
    # global name -> what the transform relied on: the object itself (a function, module or class,
    # resolved now) or the type of a value read at run time (see ``globals_hold``)
    globals_read: dict[str, object] = field(default_factory=dict)

    def loc(self, node: gast.AST) -> Loc:
        line = getattr(node, "lineno", None) or self.tree.lineno
        col = getattr(node, "col_offset", 0) + self.col_shift
        return Loc(self.file, line, col, linecache.getline(self.file, line).strip())

    def syntax_error(self, msg: str, node: gast.AST) -> S2SADSyntaxError:
        return S2SADSyntaxError(msg, self.loc(node))

    def holds(self, name: str, obj: object) -> bool:
        """Does the outside ``name`` refer to ``obj`` now? Relied on only if it does (generated code then
        reads ``obj`` by that name)."""
        read = dict(self.globals_read)
        if self.lookup(name) is obj:
            return True
        self.globals_read = read
        return False

    def lookup(self, name: str) -> object:
        """The object an outside name refers to now: closure cell, global, then builtin."""
        if name in self.freevars:
            try:
                value = self.freevars[name].cell_contents
            except ValueError:  # empty cell: assigned later in the enclosing function
                return UNKNOWN
            if self.dynamic_cells and not library_value(value):
                return DYNAMIC
            return value
        g = self.fn.__globals__
        if name in g:
            value = g[name]
            self.globals_read[name] = _relied_on(value)
            return value
        self.globals_read[name] = MISSING
        b = g.get("__builtins__", builtins)
        b = b.__dict__ if isinstance(b, types.ModuleType) else b
        return b.get(name, MISSING)


def _relied_on(value: object) -> object:
    return value if callable(value) or isinstance(value, types.ModuleType) else type(value)


def globals_hold(fn: types.FunctionType, read: dict[str, object]) -> bool:
    """``fn``'s globals still hold what a transform of ``fn``'s code relied on (``Source.globals_read``)."""
    g = fn.__globals__
    return all((_relied_on(g[name]) if name in g else MISSING) is what for name, what in read.items())


def globals_check(g: dict, read: dict[str, object]) -> Callable[[], bool]:
    """``globals_hold`` for the module namespace ``g``, made fast to run on every call of a derivative:
    one expression testing a callee, module or class by identity and a value read at run time by type."""
    namespace = {"get": g.get, "MISSING": MISSING, "relied": _relied_on}
    tests = []
    for k, (name, what) in enumerate(read.items()):
        namespace[f"o{k}"] = what  # (a type stands for a class, or for any value of that type)
        tests.append(f"relied(get({name!r}, MISSING)) is o{k}" if isinstance(what, type) else
                     f"get({name!r}, MISSING) is o{k}")
    return eval("lambda: " + (" and ".join(tests) or "True"), namespace)


def library_value(value: object) -> bool:
    """A cell value read when a closure's code is transformed, even where one transform serves every
    closure of that code (``dynamic_cells``): a module, or a callable of s2sad, NumPy, SciPy or the
    standard library (a ufunc, a builtin). Closures of one code may hold different ones
    (``make(np.tanh)``, ``make(np.sin)``), so such a transform is cached per ``library_cells``."""
    if isinstance(value, (types.ModuleType, np.ufunc, types.BuiltinFunctionType)):
        return True
    module = getattr(value, "__module__", None) or ""
    return callable(value) and module.split(".")[0] in ("s2sad", "numpy", "math", "builtins", "scipy", "operator")


def library_cells(fn: types.FunctionType) -> tuple:
    """The file of ``fn``'s code and the library values its closure holds, by identity: part of the key
    of a transform (or an analysis) that serves every closure of ``fn``'s code. (Code objects compare
    equal by their content, not their file: two functions s2sad generated from the same text are told
    apart by their file, each its own.)"""
    cells = (cell_contents(c) for c in fn.__closure__ or ())
    return fn.__code__.co_filename, *(Identity(v) for v in cells if library_value(v))


class Identity:
    """An object's identity as part of a cache key. Its ``id`` alone is not one: once the object is
    collected, another may be made at its address (a run-time handle, a ``jacfwd`` function made for each
    closure), and would be served what was found for the first. This key holds the object, weakly where
    it can be (a builtin or a ufunc cannot: those are held), and equals only a key of the same live object."""

    __slots__ = ("_id", "_get")

    def __init__(self, value: object) -> None:
        self._id = id(value)
        self._get: Callable[[], object]
        try:
            self._get = weakref.ref(value)
        except TypeError:
            self._get = functools.partial(_itself, value)

    def __hash__(self) -> int:
        return self._id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        mine = self._get()
        return self._id == other._id and mine is not None and mine is other._get()


def _itself(value: object) -> object:
    return value


def cell_contents(cell: types.CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # empty
        return None


def _describe(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def source_lines(fn: object) -> tuple[list[str], int]:
    """``fn``'s source lines and first line number; ``SourceUnavailableError`` when there are none.
    (The cheap half of ``parse_function``: ``grad`` calls it to fail early.)"""
    if hasattr(fn, "__s2sad_transform__"):
        raise SourceUnavailableError(
            f"{_describe(fn)} is already an s2sad {fn.__s2sad_transform__} function; differentiating "
            "it again (higher-order derivatives) is not supported yet. Differentiate the original "
            "function (its __wrapped__ attribute).")
    if not isinstance(fn, types.FunctionType):
        kind = ("a builtin or C-extension function" if isinstance(fn, (types.BuiltinFunctionType, np.ufunc))
                else "a callable object" if callable(fn) else "not a function")
        raise SourceUnavailableError(
            f"s2sad transforms Python source, but {_describe(fn)} is {kind} "
            f"({type(fn).__name__}) with no Python source to read. Differentiate a Python "
            "function that calls it instead; calls to it then need a derivative rule."
        )
    try:
        return _lines_of(fn)
    except SourceUnavailableError:
        raise
    except (OSError, TypeError) as e:
        raise SourceUnavailableError(_no_source(fn, e)) from None


_WORKS = ("s2sad differentiates source text: put the function in a file and import it (or run the file), or "
          "define it in IPython or Jupyter, or in the Python 3.13+ interactive interpreter, which keep what you type.")


def _no_source(fn: types.FunctionType, e: Exception) -> str:
    """Why ``fn`` has no source, and what works instead."""
    file = fn.__code__.co_filename
    where = ("the interpreter's standard input (the interactive prompt before Python 3.13, or a script piped in), "
             "which keeps no source" if file == "<stdin>" else
             "`python -c` or `exec`/`eval` of a string, which keep no source" if file == "<string>" else
             f"{file!r}, where it cannot be read ({e})")
    return f"s2sad cannot read the source of {_describe(fn)}: it was defined in {where}. {_WORKS}"


_LINES: weakref.WeakKeyDictionary[types.CodeType, tuple[list[str], int]] = weakref.WeakKeyDictionary()


def _lines_of(fn: types.FunctionType) -> tuple[list[str], int]:
    """``inspect.getsourcelines`` (which tokenizes the file each time), once per code object, checked
    to be the text ``fn``'s code was compiled from (a lambda's is checked where it is found)."""
    hit = _LINES.get(fn.__code__)
    if hit is None:
        lines, first = inspect.getsourcelines(fn.__code__)  # (its own: inspect would follow __wrapped__)
        if fn.__code__.co_name != "<lambda>" and not _def_compiles_to(lines, first, fn):
            raise SourceUnavailableError(_changed(fn, first))
        hit = _LINES[fn.__code__] = lines, first
    return hit


def forwarded(fn: object) -> object:
    """What a ``functools.wraps`` wrapper only forwards to: ``fn.__wrapped__`` (through every such layer) where
    ``fn``'s code is ``return wrapped(<its parameters, as they came>)`` and nothing else, so differentiating the
    wrapped function is differentiating ``fn``. Any other function (a wrapper that does more) is ``fn`` itself,
    differentiated as it is written."""
    seen: set[int] = set()
    while isinstance(fn, types.FunctionType) and hasattr(fn, "__wrapped__") and not hasattr(fn, "__s2sad_spec__") \
            and id(fn) not in seen:
        seen.add(id(fn))
        wrapped = fn.__wrapped__
        if not _forwards(fn, wrapped):
            break
        fn = wrapped
    return fn


_FORWARDERS: weakref.WeakKeyDictionary[types.CodeType, str | None] = weakref.WeakKeyDictionary()


def _forwards(fn: types.FunctionType, wrapped: object) -> bool:
    code = fn.__code__
    if code not in _FORWARDERS:
        _FORWARDERS[code] = _forwarded_name(fn)
    name = _FORWARDERS[code]
    if name is None or fn.__defaults__ or fn.__kwdefaults__:
        return False
    cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
    target = cell_contents(cells[name]) if name in cells else fn.__globals__.get(name, MISSING)
    return target is wrapped


def _forwarded_name(fn: types.FunctionType) -> str | None:
    """The name ``fn``'s body calls with its own parameters and returns (``return f(*args, **kwargs)``), else None."""
    try:
        lines, _ = source_lines(fn)
        tree = ast.parse(textwrap.dedent("".join(lines))).body[0]
    except (SourceUnavailableError, SyntaxError, IndexError):
        return None
    if not isinstance(tree, ast.FunctionDef):  # (a lambda: the statement it is in; an async def)
        return None
    body = tree.body[1:] if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(
        getattr(tree.body[0], "value", None), ast.Constant) else tree.body
    call = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return) else None
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        return None
    a = tree.args
    args = [ast.dump(ast.Name(p.arg, ast.Load())) for p in [*a.posonlyargs, *a.args]]
    args += [ast.dump(ast.Starred(ast.Name(a.vararg.arg, ast.Load()), ast.Load()))] if a.vararg else []
    keywords = [ast.dump(ast.keyword(p.arg, ast.Name(p.arg, ast.Load()))) for p in a.kwonlyargs]
    keywords += [ast.dump(ast.keyword(None, ast.Name(a.kwarg.arg, ast.Load())))] if a.kwarg else []
    same = [ast.dump(e) for e in call.args] == args and [ast.dump(k) for k in call.keywords] == keywords
    return call.func.id if same else None


def parse_function(fn: object, dynamic_cells: bool = False) -> Source:
    """Parse ``fn``'s source; raise ``SourceUnavailableError`` when there is none."""
    lines, first = source_lines(fn)
    assert isinstance(fn, types.FunctionType)  # (source_lines refused anything else)
    file = fn.__code__.co_filename
    if fn.__code__.co_name == "<lambda>":
        # A lambda sits inside some expression: parse its whole file, so it can start
        # mid-line and span lines, and pick it by line, parameters and column.
        tree, col_shift = _find_lambda(fn, linecache.getlines(file) or lines), 0
    else:
        text = "".join(lines)
        dedented = textwrap.dedent(text)
        col_shift = _indent(text) - _indent(dedented)
        try:
            module = gast.parse("\n" * (first - 1) + dedented)  # (parsed at its lines)
        except SyntaxError:
            module = None
        tree = module.body[0] if module and module.body else None
        if not isinstance(tree, gast.FunctionDef) or tree.name != fn.__code__.co_name:
            raise SourceUnavailableError(f"could not find the definition of {_describe(fn)} in {file}:{first}")
        _place_handler_names(tree, first - 1)
    tree.decorator_list = []
    freevars = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    return Source(fn, tree, file, col_shift, freevars, dynamic_cells)


def _place_handler_names(tree: gast.AST, line: int) -> None:
    """The name of ``except E as name`` (the one node gast makes without a position) at ``line``: where
    parsing the text alone and moving every node ``line`` lines down (``gast.increment_lineno``) put it."""
    todo = [tree]
    while todo:
        for child in child_nodes(todo.pop()):
            if isinstance(child, gast.ExceptHandler) and isinstance(child.name, gast.Name):
                child.name.lineno = child.name.end_lineno = line
            if not isinstance(child, gast.expr):  # (no statement lies inside an expression)
                todo.append(child)


def _changed(fn: types.FunctionType, line: int) -> str:
    return (f"the source of {_describe(fn)} at {fn.__code__.co_filename}:{line} is not the code that runs: the "
            "file changed after the function was defined. s2sad differentiates source text, so it refuses "
            "rather than differentiate text that is not running; reload the module (importlib.reload) or "
            "restart, and differentiate the new function.")


_FUTURE_FLAGS = functools.reduce(lambda a, b: a | b, (getattr(__future__, f).compiler_flag
                                                      for f in __future__.all_feature_names))


def _enclosing(fn: types.FunctionType) -> list[str]:
    """The blocks ``fn`` was compiled in, outermost first, read from its qualified name: the nearest
    class around it (which mangles ``__private`` names and makes ``__class__``) and a function whose
    parameters are the enclosing variables it reads (its cells)."""
    parts = getattr(fn.__code__, "co_qualname", fn.__qualname__).split(".")  # (the code's: functools.wraps copies the name)
    classes = [i for i in range(len(parts) - 1) if parts[i].isidentifier() and parts[i + 1] != "<locals>"]
    owner = f"class {parts[classes[-1]]}:" if classes else None
    cells = [v for v in fn.__code__.co_freevars if not (owner and v == "__class__")]
    outer = f"def __s2sad_outer__({', '.join(cells)}):"
    if owner is None:
        return [outer] if cells else []
    if classes[-1] == len(parts) - 2:  # a method
        return [outer, owner] if cells else [owner]
    return [owner, outer]  # a function defined in a method


def _def_compiles_to(lines: list[str], first: int, fn: types.FunctionType) -> bool:
    """Does the text of a ``def`` (starting at line ``first``) compile to ``fn``'s code, where ``fn`` was
    compiled (see ``_enclosing``; its module's imports too)? The text is compiled as it stands, not
    dedented: a docstring keeps its indentation."""
    if sys.version_info < (3, 11):  # 3.10 compiles a nested function's qualified name and lines otherwise
        return True
    text = "".join(lines)
    blocks = _enclosing(fn) or (["if 1:"] if _indent(text) else [])
    pad = text[: _indent(text)]
    if len(pad) < len(blocks):  # s2sad's own code, compiled in a factory (no multi-line strings)
        text = textwrap.indent(text, (pad[:1] or " ") * (len(blocks) - len(pad)))
        pad = text[: _indent(text)]
    header = _imports(fn) + [pad[:k] + line for k, line in enumerate(blocks)]  # indented as the text is
    return _compiles_to("\n".join([*header, text]), fn, len(header) + 1 - first)


def _lambda_compiles_to(node: ast.Lambda, fn: types.FunctionType) -> bool:
    """Does this lambda (with its line numbers) compile to ``fn``'s code, where ``fn`` was compiled?"""
    blocks = _enclosing(fn)
    module = ast.parse("\n".join([*_imports(fn), *(" " * k + line for k, line in enumerate(blocks)),
                                  " " * len(blocks) + "pass"]))
    body = module.body
    for _ in blocks:
        block = body[-1]
        assert isinstance(block, ast.FunctionDef | ast.ClassDef)  # (what _enclosing's blocks are)
        body = block.body
    body[-1] = ast.Expr(node)
    return _compiles_to(ast.fix_missing_locations(module), fn, 0)


def _compiles_to(source: str | ast.Module, fn: types.FunctionType, shift: int) -> bool:
    if fn.__code__.co_filename.startswith("<s2sad:"):  # code s2sad generated: its text is what it compiled
        return True
    if _assertions_rewritten(fn.__code__):  # a test module under pytest: compile the text as pytest did
        source = _rewrite_asserts(source)
    try:
        compiled = compile(source, fn.__code__.co_filename, "exec", flags=fn.__code__.co_flags & _FUTURE_FLAGS,
                           dont_inherit=True)
    except (SyntaxError, ValueError, TypeError):
        return False
    return any(_same_code(c, fn.__code__, shift) for c in _nested_codes(compiled))


def _assertions_rewritten(code: types.CodeType) -> bool:
    """pytest rewrote the ``assert`` statements of the module ``code`` was compiled in."""
    return "@pytest_ar" in code.co_names or any(
        _assertions_rewritten(c) for c in code.co_consts if isinstance(c, types.CodeType))


def _rewrite_asserts(source: str | ast.Module) -> ast.Module:
    from _pytest.assertion.rewrite import rewrite_asserts  # loaded: the code was rewritten by it

    tree = ast.parse(source) if isinstance(source, str) else source
    rewrite_asserts(tree, (source if isinstance(source, str) else ast.unparse(tree)).encode())
    return tree


def _imports(fn: types.FunctionType) -> list[str]:
    """``import`` of the names the top level of ``fn``'s file imports: ``m.f(x)`` compiles differently
    when ``m`` is an imported module."""
    names = _imported(fn.__code__.co_filename)
    return [f"import {', '.join(sorted(names))}"] if names else []


def _imported(file: str) -> frozenset[str]:
    """The names ``file``'s top level binds by ``import`` (now: the running module's own, unless its
    imports changed too)."""
    return _imports_in("".join(linecache.getlines(file)))


@functools.lru_cache(maxsize=32)
def _imports_in(text: str) -> frozenset[str]:
    try:
        body = ast.parse(text).body
    except (SyntaxError, ValueError):
        return frozenset()
    names: set[str] = set()
    todo: list[ast.stmt | ast.excepthandler] = list(body)
    while todo:
        stmt = todo.pop()
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*")
        elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            todo += [child for child in ast.iter_child_nodes(stmt) if isinstance(child, (ast.stmt, ast.excepthandler))]
    return frozenset(names)


def _nested_codes(code: types.CodeType):
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield c
            yield from _nested_codes(c)


def _same_code(a: types.CodeType, b: types.CodeType, shift: int = 0) -> bool:
    """The same bytecode, names, constants and line numbers (``a``'s ``shift`` lines below ``b``'s)."""
    return (a.co_code == b.co_code and a.co_names == b.co_names and a.co_varnames == b.co_varnames
            and a.co_freevars == b.co_freevars and a.co_cellvars == b.co_cellvars
            and a.co_firstlineno == b.co_firstlineno + shift
            and [(i, j, line and line - shift) for i, j, line in a.co_lines()] == list(b.co_lines())
            and len(a.co_consts) == len(b.co_consts) and all(
                _same_code(x, y, shift) if isinstance(x, types.CodeType) else type(x) is type(y) and repr(x) == repr(y)
                for x, y in zip(a.co_consts, b.co_consts)))


def _indent(text: str) -> int:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    return len(first) - len(first.lstrip())


@functools.lru_cache(maxsize=32)
def _parse_file(text: str) -> gast.Module | None:
    """A whole file's tree (cached: a test module may hold hundreds of lambdas)."""
    try:
        return gast.parse(text)
    except SyntaxError:
        return None


def _find_lambda(fn: types.FunctionType, file_lines: list[str]) -> gast.FunctionDef:
    """The one lambda in ``fn``'s file that matches its line, parameter names and body column."""
    code = fn.__code__
    params = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    module = _parse_file("".join(file_lines))
    found = []
    if module is not None:
        found = [node for node in gast.walk(module) if isinstance(node, gast.Lambda)
                 and node.lineno == code.co_firstlineno
                 and [a.id for a in node.args.args + node.args.kwonlyargs] == params]
    running = [n for n in found if _lambda_compiles_to(gast.gast_to_ast(n), fn)]
    if len(found) == 1 and not running and sys.version_info < (3, 11):
        running = found  # (3.10 compiles a nested lambda's qualified name otherwise: not checked there)
    if found and not running:
        raise SourceUnavailableError(_changed(fn, code.co_firstlineno))
    found = running  # several on one line: the ones whose compiled code is fn's
    if len(found) > 1 and hasattr(code, "co_positions"):  # still several: the body's column (3.11+)
        cols = {(line, col) for line, _, col, _ in code.co_positions() if col is not None}
        found = [n for n in found if (n.body.lineno, n.body.col_offset) in cols] or found
    if len(found) > 1 and len({gast.dump(n) for n in found}) == 1:
        found = found[:1]  # the same lambda written twice: either one is its source
    if len(found) != 1:
        why = "its file could not be parsed" if module is None else (
            "no lambda there matches" if not found else "several lambdas on that line match")
        raise SourceUnavailableError(
            f"s2sad could not isolate the lambda at {code.co_filename}:{code.co_firstlineno} ({why}). "
            "Give it a name with def."
        )
    lam = copy.deepcopy(found[0])  # (the file's tree is cached, and desugaring rewrites in place)
    ret = gast.Return(value=lam.body)
    gast.copy_location(ret, lam.body)
    tree = gast.FunctionDef(
        name="lambda", args=lam.args, body=[ret], decorator_list=[], returns=None,
        type_comment=None, type_params=[],
    )
    return gast.copy_location(tree, lam)


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes(node)``, as a list (made faster: the front end walks whole trees)."""
    out = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            out.append(value)
        elif isinstance(value, list):
            out += [v for v in value if isinstance(v, ast.AST)]
    return out


def all_nodes(tree: ast.AST) -> list[ast.AST]:
    """The nodes ``ast.walk(tree)`` yields (``tree`` among them), in another order, at half the cost."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        todo += child_nodes(node)
    return out


def fresh_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_1``, ``base_2``, ... : the first not in ``taken`` (which it joins)."""
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _at(node: gast.AST, like: gast.AST) -> gast.AST:
    """``node`` (and its parts without a position) placed at ``like``'s line."""
    gast.copy_location(node, like)
    for child in gast.walk(node):
        if not hasattr(child, "lineno") and hasattr(like, "lineno"):
            gast.copy_location(child, like)
    return node


def _load(name: str) -> gast.Name:
    return gast.Name(name, gast.Load(), None, None)
