"""The one namer: every identifier in generated code comes from here.

Names are built from the user's names (``x``, ``x_1``, ``x_bar``), are unique
within one generated function, and never shadow a keyword, a builtin, or a
global, closure or helper name the generated code refers to.
"""

from __future__ import annotations

import builtins
import keyword
import re

_TAKEN_ALWAYS = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
_SUFFIX = re.compile(r"^(.*?)(?:_(\d+))?$")


class Namer:
    """Hands out fresh identifiers; ``reserve`` marks names used by the outside world."""

    def __init__(self) -> None:
        self._used: set[str] = set()
        self._next: dict[str, int] = {}  # stem -> the number to try first (those below are taken)

    def reserve(self, name: str) -> None:
        self._used.add(name)

    def is_free(self, name: str) -> bool:
        return name not in self._used and name not in _TAKEN_ALWAYS

    def fresh(self, base: str) -> str:
        """``base`` if it is free, else ``base_1``, ``base_2``, ... (the first free one)."""
        if not base.isidentifier():
            base = re.sub(r"\W", "_", base) or "v"
            if base[0].isdigit():
                base = "v" + base
        if self.is_free(base):
            self._used.add(base)
            return base
        match = _SUFFIX.match(base)  # (it matches every string)
        stem = (match.group(1) if match else "") or base
        n = self._next.get(stem, 1)
        while not self.is_free(f"{stem}_{n}"):
            n += 1
        self._next[stem] = n + 1
        name = f"{stem}_{n}"
        self._used.add(name)
        return name

    def claim(self, name: str) -> str:
        """Take ``name`` exactly (a parameter or closure name); it must be free."""
        assert name not in self._used, name
        self._used.add(name)
        return name

