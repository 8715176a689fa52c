"""Aliases: the user's names that are one object, as the lowering goes (``z = y`` makes ``z`` another
name for ``y``'s object), so that a write through one rebinds the others (``lower._Lowering.refresh``).

A pair holds from the plain assignment that makes it until either name is bound to something else;
after a branch, the pairs both sides kept; a loop keeps the pairs of names its body does not rebind.
"""

from __future__ import annotations

__all__ = ["Aliases"]


class Aliases:
    """Groups of names bound to one object."""

    __slots__ = ("groups",)

    def __init__(self, groups: dict[str, frozenset[str]] | None = None) -> None:
        self.groups = dict(groups or {})  # name -> the names of its object (itself included)

    def copy(self) -> Aliases:
        return Aliases(self.groups)

    def others(self, name: str) -> list[str]:
        """The other names of ``name``'s object, in a fixed order."""
        return sorted(self.groups.get(name, frozenset()) - {name})

    def join(self, name: str, source: str) -> None:
        """``name = source``: one more name for ``source``'s object."""
        self.drop(name)
        group = self.groups.get(source, frozenset({source})) | {name}
        for n in group:
            self.groups[n] = group

    def drop(self, name: str) -> None:
        """``name`` is bound to something else."""
        group = self.groups.pop(name, None)
        if group is None:
            return
        rest = group - {name}
        for n in rest:
            if len(rest) > 1:
                self.groups[n] = rest
            else:
                del self.groups[n]

    def meet(self, other: Aliases) -> Aliases:
        """The pairs both hold (after a branch)."""
        return Aliases({n: g & other.groups[n] for n, g in self.groups.items()
                        if n in other.groups and len(g & other.groups[n]) > 1})
