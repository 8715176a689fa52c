"""Runs a generated program through every derivative mode and judges it against finite differences.

s2sad reads source files, so each program is written to a module in a temporary
directory and imported. Then, at the program's arguments ``x``, with a random
direction ``d`` in every float argument and a random cotangent ``u`` of the
output's structure:

- ``vjp``: ``<pullback(u), d>`` against the derivative of ``t -> <u, f(x + t d)>``;
- ``jvp``: ``<u, tangent_out>`` against the same;
- ``grad`` and ``value_and_grad`` (scalar outputs): ``<grad, d>`` against ``t -> f(x + t d)``;
- on a fraction of scalar programs, ``hessian``, ``jvp`` of ``grad`` and ``grad`` of
  ``grad`` (through a small wrapper module): against finite differences of s2sad's
  own first-order ``grad``, which the first-order modes check.

A derivative is compared with the central difference at step ``h``, then ``h/2``
and their Richardson extrapolation. Where no estimate agrees and the two steps
disagree with each other, the point sits at a kink or jump (a branch flips, ``abs``
at 0): the program is counted as a kink, not a mismatch.

Every mode also checks that the primal equals ``f(*args)``, that gradients have
their argument's type, shape, dtype and pytree structure, and afterwards that the
arguments are bitwise unchanged. A program's outcome is its worst finding:
crash > mismatch > false refusal > timeout > refused > kink > pass.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import os
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import s2sad

from ..pytree import leaves, map_leaves
from .domains import quiet
from .generate import REFUSABLE, Program

__all__ = ["Finding", "Report", "Runner", "OUTCOMES", "REFUSALS"]

ARGUMENT_WRITE = r"came from an argument|writes into an argument|mutate"  # (the README's refusal of such a write)
OUTCOMES = ("crash", "mismatch", "false_refusal", "timeout", "refused", "kink", "pass")
REFUSALS = (s2sad.S2SADSyntaxError, s2sad.NoDerivativeRuleError, s2sad.SourceUnavailableError)
STEP = 1e-5
RTOL, ATOL = 1e-5, 1e-7


class _Timeout(BaseException):
    """Raised by the alarm: a BaseException, so a mode's ``except Exception`` lets it through."""


@dataclass
class Finding:
    """One thing a mode found: ``outcome`` from ``OUTCOMES``, with what and where."""

    outcome: str
    mode: str
    detail: str
    key: str = ""  # the refusal's construct key, or the exception's type


@dataclass
class Report:
    program: Program
    outcome: str
    findings: list[Finding] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.outcome}: {self.program.label}"]
        for f in self.findings:
            out.append(f"  {f.mode}: {f.outcome}: {f.detail}")
        return out


def refusal_key(message: str) -> str:
    """A short construct key for a refusal: the message's first clause, names and places removed."""
    head = re.split(r"[;\n]|,? called at | \(at ", str(message), maxsplit=1)[0]
    head = re.sub(r"'[^']*'|`[^`]*`|\"[^\"]*\"", "X", head)
    words = [w for w in head.split() if not re.search(r"\.py|<s2sad|^#?\d+", w)]
    return " ".join(words[:10]).rstrip(",.:")


class Runner:
    """Loads programs as modules in a temporary directory and runs the checks; a context manager."""

    def __init__(self, timeout: float = 30.0, higher_order: float = 0.3) -> None:
        self.timeout, self.higher_order = timeout, higher_order
        self.dir = tempfile.TemporaryDirectory(prefix="s2sad-fuzz-")
        self.count = itertools.count()
        sys.path.insert(0, self.dir.name)

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.dir.name in sys.path:
            sys.path.remove(self.dir.name)
        self.dir.cleanup()

    def load(self, source: str, stem: str) -> Any:
        """Import ``source`` as a fresh module (s2sad needs a real file to read the source from)."""
        name = f"s2sad_fuzz_{stem}_{next(self.count)}"
        path = os.path.join(self.dir.name, name + ".py")
        with open(path, "w") as fh:
            fh.write(source)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None  # (a .py file always has a source loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def run(self, program: Program, higher_order: bool | None = None, only: str | None = None) -> Report:
        """Every mode on ``program`` (or the mode ``only``); its outcome is the worst finding."""
        rng = np.random.default_rng([program.seed, program.index, 1])
        if higher_order is None:
            higher_order = bool(rng.random() < self.higher_order)
        findings: list[Finding] = []
        with _alarm(self.timeout):
            try:
                module = self.load(program.source, f"{program.seed}_{program.index}")
                try:
                    checks = Checks(self, program, getattr(module, program.name), rng)
                    findings = checks.all(higher_order, only)
                finally:
                    sys.modules.pop(module.__name__, None)
            except _Timeout:
                findings.append(Finding("timeout", "all", f"more than {self.timeout:.0f} s"))
        outcome = min((f.outcome for f in findings), key=OUTCOMES.index, default="pass")
        return Report(program, outcome, [f for f in findings if f.outcome != "pass"])


class _alarm:
    """A wall-clock guard (``signal.alarm``) where the platform and thread allow one."""

    def __init__(self, seconds: float) -> None:
        self.seconds = max(1, int(seconds))
        self.on = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()

    def __enter__(self) -> None:
        if self.on:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.alarm(self.seconds)

    def __exit__(self, *exc) -> None:
        if self.on:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, self.previous)

    @staticmethod
    def _fire(*_) -> None:
        raise _Timeout()


# ----- numbers and structures -----

def _inner(a: Any, b: Any) -> float:
    return float(sum(np.sum(np.asarray(x, dtype=np.float64) * np.asarray(y, dtype=np.float64))
                     for x, y in zip(leaves(a), leaves(b))))


def _like(rng: np.random.Generator, tree: Any) -> Any:
    """A random tree of ``tree``'s structure: standard normal arrays, Python floats for scalars."""
    return map_leaves(lambda v: rng.standard_normal(np.shape(v)) if np.ndim(v) else float(rng.standard_normal()), tree)


def _structure_problem(got: Any, want: Any, what: str) -> str | None:
    """How ``got`` fails to have ``want``'s pytree structure, leaf types, shapes and dtypes (None: it does not)."""
    if isinstance(want, dict | list | tuple):
        if type(got) is not type(want) or len(got) != len(want):
            return f"{what} is {type(got).__name__} of {_len(got)}, expected {type(want).__name__} of {len(want)}"
        keys = sorted(want) if isinstance(want, dict) else range(len(want))
        if isinstance(want, dict) and sorted(got) != sorted(want):
            return f"{what} has keys {sorted(got)}, expected {sorted(want)}"
        return next((p for k in keys if (p := _structure_problem(got[k], want[k], f"{what}[{k!r}]"))), None)
    if isinstance(want, np.ndarray) and want.ndim == 0:  # a 0-d array and a NumPy scalar are the same value
        return None if np.shape(got) == () else f"{what} is {_describe(got)}, expected a scalar"
    if isinstance(want, np.ndarray):
        if not isinstance(got, np.ndarray) or got.shape != want.shape or got.dtype != want.dtype:
            return f"{what} is {_describe(got)}, expected {_describe(want)}"
        return None
    if isinstance(want, float) and not isinstance(got, float):
        return f"{what} is {_describe(got)}, expected a float"
    return None


def _len(x: Any) -> Any:
    return len(x) if hasattr(x, "__len__") else "-"


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"ndarray{x.shape} {x.dtype}"
    return type(x).__name__


def _close(a: float, b: float, scale: float, factor: float = 1.0) -> bool:
    return abs(a - b) <= factor * (RTOL * max(abs(a), abs(b)) + ATOL * scale)


def _scale(*trees: Any) -> float:
    return 1.0 + sum(float(np.sum(np.abs(np.asarray(v, dtype=np.float64)))) for t in trees for v in leaves(t))


class _PlainFails(Exception):
    """The user's function (not s2sad's derivative of it) raised at a point the oracle moved to."""


class Checks:
    """The checks of one program: its function, arguments, random directions and cotangents."""

    def __init__(self, runner: Runner, program: Program, fn: Callable, rng: np.random.Generator) -> None:
        self.runner, self.program, self.f, self.rng = runner, program, fn, rng
        self.args = program.args
        self.diff = [i for i, a in enumerate(self.args) if not isinstance(a, int)]
        given = copy.deepcopy(self.args)
        with quiet():
            self.expected = fn(*given)
        # a program that writes into its own arguments: s2sad refusing that write is the documented refusal
        self.writes_arguments = any(_structure_problem(a, b, "") or not _equal(a, b) for a, b in zip(given, self.args))
        self.scalar = not isinstance(self.expected, dict | list | tuple) and np.ndim(self.expected) == 0
        self.dirs = {i: _like(rng, self.args[i]) for i in self.diff}

    def plain(self, args: tuple, fn: Callable | None = None) -> Any:
        """``f`` (or s2sad's ``fn`` derived from it) at ``args``; ``f`` itself failing is ``_PlainFails``."""
        with quiet():
            if fn is not None:
                return fn(*copy.deepcopy(args))
            try:
                return self.f(*copy.deepcopy(args))
            except Exception as err:
                raise _PlainFails(f"{type(err).__name__}: {_first_line(err)}") from err

    def moved(self, t: float, only: int | None = None) -> tuple:
        """The arguments moved by ``t`` along the directions (only argument ``only``, if given)."""
        out = list(self.args)
        for i, d in self.dirs.items():
            if only is None or i == only:
                out[i] = map_leaves(lambda a, di: a + t * di if np.ndim(a) else float(a + t * di), self.args[i], d)
        return tuple(out)

    def all(self, higher_order: bool, only: str | None = None) -> list[Finding]:
        snapshot = copy.deepcopy(self.args)
        modes = [("vjp", self.vjp), ("jvp", self.jvp)]
        if self.scalar:
            modes += [("grad", self.grad), ("value_and_grad", self.value_and_grad)]
            if higher_order:
                modes += [("hessian", self.hessian), ("jvp_of_grad", self.jvp_of_grad),
                          ("grad_of_grad", self.grad_of_grad)]
        findings = [self.guarded(mode, check) for mode, check in modes if only in (None, "all", mode)]
        if not self.writes_arguments and any(  # (a program writing into its own arguments: s2sad runs it as written)
                _structure_problem(a, b, "") or not _equal(a, b) for a, b in zip(self.args, snapshot)):
            findings.append(Finding("mismatch", "all", "an argument was mutated", "mutated"))
        return findings

    def guarded(self, mode: str, check: Callable[[], Finding]) -> Finding:
        """Run one mode's check; a documented error is a refusal, any other exception a crash."""
        try:
            with quiet():
                return check()
        except REFUSALS as err:
            message = str(err.msg if isinstance(err, SyntaxError) else err)
            explained = any(re.search(pattern, message) for tag, pattern in REFUSABLE.items() if self.program.tags[tag]) \
                or (self.writes_arguments and re.search(ARGUMENT_WRITE, message) is not None)
            outcome = "refused" if explained else "false_refusal"
            key = refusal_key(message)
            return Finding(outcome, mode, f"{type(err).__name__}: {_first_line(err)}", key)
        except Exception as err:
            return Finding("crash", mode, f"{type(err).__name__}: {_first_line(err)}{_where(err)}", type(err).__name__)

    def judge(self, mode: str, ad: float, phi: Callable[[float], float], scale: float) -> Finding:
        """``ad`` against the derivative of ``phi`` at 0: central differences, halved step, Richardson."""
        try:
            return self.compare(mode, ad, phi, scale)
        except _PlainFails as err:  # the plain program itself fails at a point moved by a step: an edge there
            return Finding("kink", mode, f"f fails near the point ({err})")

    def compare(self, mode: str, ad: float, phi: Callable[[float], float], scale: float) -> Finding:
        d1 = (phi(STEP) - phi(-STEP)) / (2 * STEP)
        if _close(ad, d1, scale):
            return Finding("pass", mode, "")
        d2 = (phi(STEP / 2) - phi(-STEP / 2)) / STEP
        richardson = (4 * d2 - d1) / 3
        if _close(ad, d2, scale) or _close(ad, richardson, scale):
            return Finding("pass", mode, "")
        if not np.isfinite(d1 + d2) or not _close(d1, d2, scale, factor=10.0):
            return Finding("kink", mode, f"finite differences {d1:.6g} (h) and {d2:.6g} (h/2) disagree")
        jump = _slope_jump(phi, STEP)
        if jump is not None and abs(jump) >= 0.5 * abs(ad - d1):  # (a derivative picks one side, or their mean)
            return Finding("kink", mode, f"the slope jumps by {jump:.6g} at the point (central differences "
                                         f"{d1:.6g} average its two sides)")
        return Finding("mismatch", mode, f"s2sad gives {ad:.10g}, finite differences {richardson:.10g}", "value")

    def primal(self, mode: str, out: Any) -> Finding | None:
        problem = _structure_problem(out, self.expected, "the output")
        if problem is None and not all(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)
                                       for a, b in zip(leaves(out), leaves(self.expected))):
            problem = f"the output {out!r} differs from f(*args) = {self.expected!r}"
        return Finding("mismatch", mode, problem, "primal") if problem else None

    def gradients(self, mode: str, grads: Sequence[Any], nums: list[int]) -> Finding | None:
        for i, g in zip(nums, grads):
            problem = _structure_problem(g, self.args[i], f"the gradient of argument {i}")
            if problem is None and any(isinstance(a, np.ndarray) and np.shares_memory(a, b)
                                       for a in leaves(g) for b in leaves(self.args)):
                problem = f"the gradient of argument {i} shares memory with an argument"
            if problem:
                return Finding("mismatch", mode, problem, "type")
        return None

    # ----- first order -----

    def vjp(self) -> Finding:
        out, pullback = s2sad.vjp(self.f, *self.args)
        u = _like(self.rng, out)
        grads = pullback(u)
        if (bad := self.primal("vjp", out) or self.gradients("vjp", [grads[i] for i in self.diff], self.diff)):
            return bad
        ad = sum(_inner(grads[i], self.dirs[i]) for i in self.diff)
        return self.judge("vjp", ad, lambda t: _inner(u, self.plain(self.moved(t))), _scale(u, out))

    def jvp(self) -> Finding:
        tangents = tuple(self.dirs.get(i, a) for i, a in enumerate(self.args))
        out, out_dot = s2sad.jvp(self.f, self.args, tangents)
        if (bad := self.primal("jvp", out)):
            return bad
        if (problem := _structure_problem(_as_floats(out_dot), _as_floats(out), "the output tangent")):
            return Finding("mismatch", "jvp", problem, "type")
        u = _like(self.rng, out)
        return self.judge("jvp", _inner(u, out_dot), lambda t: _inner(u, self.plain(self.moved(t))), _scale(u, out))

    def grad(self) -> Finding:
        grads = s2sad.grad(self.f, argnums=tuple(self.diff))(*self.args)
        if (bad := self.gradients("grad", grads, self.diff)):
            return bad
        ad = sum(_inner(g, self.dirs[i]) for i, g in zip(self.diff, grads))
        return self.judge("grad", ad, lambda t: float(self.plain(self.moved(t))), _scale(self.expected))

    def value_and_grad(self) -> Finding:
        value, grads = s2sad.value_and_grad(self.f, argnums=tuple(self.diff))(*self.args)
        if (bad := self.primal("value_and_grad", value) or self.gradients("value_and_grad", grads, self.diff)):
            return bad
        ad = sum(_inner(g, self.dirs[i]) for i, g in zip(self.diff, grads))
        return self.judge("value_and_grad", ad, lambda t: float(self.plain(self.moved(t))), _scale(self.expected))

    # ----- second order: against finite differences of s2sad's grad -----

    def first_array(self) -> int:
        """The argument differentiated twice: the first plain float or array one."""
        return next((i for i in self.diff if not isinstance(self.args[i], dict)), self.diff[0])

    def hessian(self) -> Finding:
        i = self.first_array()
        if isinstance(self.args[i], dict):
            return Finding("pass", "hessian", "")
        h = np.asarray(s2sad.hessian(self.f, argnums=i)(*self.args))
        v, w = np.asarray(self.dirs[i]), np.asarray(_like(self.rng, self.args[i]))
        ad = float(np.sum(w * np.tensordot(h, v, axes=v.ndim))) if v.ndim else float(np.sum(w * h * v))
        g = s2sad.grad(self.f, argnums=i)
        return self.judge("hessian", ad, lambda t: _inner(w, self.plain(self.moved(t, only=i), g)), _scale(w))

    def jvp_of_grad(self) -> Finding:
        i = self.first_array()
        g = s2sad.grad(self.f, argnums=i)
        tangents = tuple(self.dirs.get(k, a) for k, a in enumerate(self.args))
        _, out_dot = s2sad.jvp(g, self.args, tangents)
        w = _like(self.rng, self.args[i])
        return self.judge("jvp_of_grad", _inner(w, out_dot), lambda t: _inner(w, self.plain(self.moved(t), g)),
                          _scale(w))

    def grad_of_grad(self) -> Finding:
        """``grad`` of ``sum(grad(f)(x) * w)``, a function in a module of its own that calls ``grad``."""
        i = self.first_array()
        g = s2sad.grad(self.f, argnums=i)
        w = _like(self.rng, self.args[i])
        params = ", ".join(f"a{k}" for k in range(len(self.args)))
        module = self.runner.load(f"import numpy as np\n\n\ndef grad_dot({params}):\n"
                                  f"    return np.sum(GRAD({params}) * WEIGHT)\n", "wrapper")
        module.GRAD, module.WEIGHT = g, w
        try:
            gg = s2sad.grad(module.grad_dot, argnums=i)(*self.args)
        finally:
            sys.modules.pop(module.__name__, None)
        if (bad := self.gradients("grad_of_grad", (gg,), [i])):
            return bad
        ad = _inner(gg, self.dirs[i])
        return self.judge("grad_of_grad", ad, lambda t: _inner(w, self.plain(self.moved(t, only=i), g)), _scale(w))


def _slope_jump(phi: Callable[[float], float], h: float) -> float | None:
    """The jump of ``phi``'s slope at 0 (right slope minus left), where ``phi`` has a kink exactly there
    (``np.clip`` at its bound): there central differences agree at every step, with each other and with
    no one-sided derivative. Smooth, the one-sided slopes differ by ``h phi''``, halving with ``h``; at a
    kink by the jump, whatever ``h``. None where the slope does not jump."""
    at = phi(0.0)
    wide = (phi(h) - 2 * at + phi(-h)) / h
    narrow = (phi(h / 2) - 2 * at + phi(-h / 2)) / (h / 2)
    return narrow if np.isfinite(wide + narrow) and abs(narrow) > 0.75 * abs(wide) > 0.0 else None


def _as_floats(tree: Any) -> Any:
    """A tangent's structure as a check sees it: scalars of any float type as Python floats."""
    return map_leaves(lambda v: v if isinstance(v, np.ndarray) and v.ndim else float(np.asarray(v)), tree)


def _equal(a: Any, b: Any) -> bool:
    return all(np.array_equal(x, y) and np.asarray(x).dtype == np.asarray(y).dtype for x, y in zip(leaves(a), leaves(b)))


def _first_line(err: BaseException) -> str:
    text = err.msg if isinstance(err, SyntaxError) and err.msg else str(err)
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def _where(err: BaseException) -> str:
    """The innermost frame of the traceback inside s2sad (or generated code), for a crash report."""
    tb, last = err.__traceback__, None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if ("s2sad" in name and "fuzz" not in name) or name.startswith("<s2sad"):
            last = f"{os.path.basename(name)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return f" (at {last})" if last else ""
