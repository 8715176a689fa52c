"""A differential fuzzer for s2sad: random programs, every derivative mode checked.

``generate(seed, index)`` draws a plain Python program from the subset the README
promises (``generate.py``, with expressions from ``exprs.py`` and the elementwise
callables of the rule registry on probed safe intervals from ``domains.py``);
``Runner.run(program)`` imports it and checks ``grad``, ``value_and_grad``, ``vjp``,
``jvp`` and, on a fraction, ``hessian``, ``jvp`` of ``grad`` and ``grad`` of ``grad``
against finite differences (``runner.py``); ``shrink`` cuts a failing program down
(``shrink.py``). Run it with ``python -m s2sad.fuzz --seed 1 --count 1000``.
"""

from .generate import Program, generate
from .runner import Report, Runner
from .shrink import shrink

__all__ = ["Program", "generate", "Runner", "Report", "shrink"]
