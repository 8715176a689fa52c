"""Every primitive s2sad differentiates: importing this module declares them all.

``rules`` holds the table and the core primitives; each ``rules_*`` module declares a
library's into it (``scipy``'s only where SciPy is installed). ``resolve``, which looks
callees up, imports this module, so the table is complete before the first lookup.
"""

from __future__ import annotations

from . import rules_linalg, rules_math, rules_numpy, rules_numpy_more, rules_runtime  # noqa: F401

try:
    import scipy  # noqa: F401
except ImportError:  # scipy is optional: its rules are declared only when it is installed
    pass
else:
    from . import rules_integrate, rules_scipy  # noqa: F401

__all__: list[str] = []
