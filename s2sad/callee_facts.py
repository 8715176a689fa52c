"""What a user function returns for the static facts of its arguments (see ``statics``).

A derivative made for its arguments' types follows what each value is through the calls it
makes into user code: the callee is lowered (``ssa.lowered_ir``) and analysed for the facts of
the arguments passed, and the fact of its returned value is what the call gives. Recursion
gives no fact (the call's result is then not known).
"""

from __future__ import annotations

import types
import weakref

from . import ir
from .activity import analyze
from .errors import NoDerivativeRuleError, S2SADSyntaxError, SourceUnavailableError
from .ssa import lowered_ir
from .statics import nested, param_facts

__all__ = ["callee_result"]

_results: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # function -> {signature: its result's fact}


def callee_result(fun: types.FunctionType, signature: tuple) -> object:
    """The fact of what ``fun`` returns for positional arguments of the facts ``signature`` (None when
    it is not known, or ``fun`` is being analysed for them: a recursive call)."""
    per_fun = _results.setdefault(fun, {})
    if signature in per_fun:
        return per_fun[signature]
    with nested(("result", fun, signature)) as entered:
        if not entered:
            return None
        try:
            lowered = lowered_ir(fun)[2]
            scalars, trees, dims, facts = param_facts(fun, signature)
            analysis = analyze(lowered, [], set(scalars), set(trees), dims, typed=True, facts=facts,
                               specialise=callee_result)
            ret = lowered.body[-1]
            assert isinstance(ret, ir.Return), "lower guarantees a final return"
            result = per_fun[signature] = analysis.fact(ret.value)
        except (S2SADSyntaxError, NoDerivativeRuleError, SourceUnavailableError):
            result = per_fun[signature] = None  # (the call reports it when it runs)
    return result
