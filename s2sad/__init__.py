"""s2sad: source-to-source automatic differentiation for Python and NumPy.

``s2sad.grad(f)`` reads ``f``'s source, lowers it to an SSA IR, and generates a
readable Python function that computes the derivative with primal/pullback pairs.
"""

from __future__ import annotations

from . import numeric, optim
from .api import grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp, source, value_and_grad, vjp
from .custom import checkpoint, checkpointed_loop, frule, nondifferentiable, rrule
from .errors import NoDerivativeRuleError, S2SADSyntaxError, SourceUnavailableError
from .pytree import ravel_pytree, tree_flatten, tree_leaves, tree_map, tree_unflatten

__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "jacobian", "hessian", "hvp", "source",
    "rrule", "frule", "nondifferentiable", "checkpoint", "checkpointed_loop",
    "tree_map", "tree_leaves", "tree_flatten", "tree_unflatten", "ravel_pytree",
    "S2SADSyntaxError", "NoDerivativeRuleError", "SourceUnavailableError", "optim", "numeric",
]
__version__ = "0.1.0"
