"""Errors s2sad raises at the user: each names the user's file and line."""

from __future__ import annotations

import linecache

__all__ = ["S2SADSyntaxError", "NoDerivativeRuleError", "SourceUnavailableError"]


class S2SADSyntaxError(SyntaxError):
    """Python syntax that s2sad cannot differentiate (yet), at the user's real line.

    Carries ``filename``, ``lineno``, ``offset`` and ``text`` like any
    ``SyntaxError``, so tracebacks and editors point at the user's code.
    """

    def __init__(self, msg: str, loc) -> None:
        line = linecache.getline(loc.file, loc.line)  # as it stands: the offset counts its indentation
        text = line if line.strip() == loc.text.strip() else loc.text
        super().__init__(msg, (loc.file, loc.line, loc.col + 1, text.rstrip("\n") + "\n"))


class NoDerivativeRuleError(TypeError):
    """A callable on the differentiated path has neither a rule nor source to transform."""


class SourceUnavailableError(TypeError):
    """The function to differentiate has no Python source (builtin, C extension, exec'd code)."""
