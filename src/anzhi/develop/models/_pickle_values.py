"""The values a pickle walk reasons about: globals and their uses, call results, opaque values, the report.

Split from :mod:`._pickle_analysis` (the stack machine) so each stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from anzhi.develop.models._pickle_ops import Blob
from anzhi.develop.models._pickle_policy import Judgement, Role
from anzhi.develop.models._result import Reason

__all__ = ["CAP", "CallValue", "FatalValue", "GlobalUse", "Opaque", "PickleReport", "describe", "pairs"]

CAP = 256  # container items kept per list/dict/set


@dataclass(eq=False)
class GlobalUse:
    """A global the pickle imports, as it sits on the stack, and what was done with it.

    One object per distinct ``module.name``: first offset, how it was reached (``via``), whether it was called or
    otherwise used, its normalised name and role, and the policy's judgement.
    """

    module: str
    name: str
    offset: int
    via: str
    judgement: Judgement
    norm: tuple[str, str]
    role: Role | None = None
    invoked: bool = False
    used: bool = False
    rebuilt: bool = False
    count: int = 0
    evidence: str = ""

    @property
    def qualname(self) -> str:
        """``module.name`` (just the module for an ``__import__`` result)."""
        return f"{self.module}.{self.name}" if self.name else self.module


@dataclass(eq=False, slots=True)
class CallValue:
    """What ``func(*args)`` produced; ``state`` is what BUILD gave it; ``decoded`` marks text decoded at load time."""

    func: Any
    args: Any
    offset: int
    decoded: str | None = None
    state: Any = None


@dataclass(eq=False, slots=True)
class Opaque:
    """A value the analysis does not follow further (``kind``), or a container with its first items."""

    kind: str
    items: list[Any] = field(default_factory=list)
    more: int = 0

    def add(self, values: list[Any], extra: int = 0) -> None:
        room = max(0, CAP - len(self.items))
        self.items.extend(values[:room])
        self.more += max(0, len(values) - room) + extra


@dataclass
class PickleReport:
    """Everything the walk found: reasons, globals, calls, and facts for the AI-BOM."""

    reasons: list[Reason] = field(default_factory=list)
    uses: dict[tuple[str, str], GlobalUse] = field(default_factory=dict)
    calls: list[tuple[str, int, str]] = field(default_factory=list)
    protocol: int | None = None
    pickles: int = 0
    opcodes: int = 0
    end: int = 0
    tensors: int = 0
    persistent_ids: int = 0
    results: list[Any] = field(default_factory=list)
    complete: bool = False
    stop: str = ""  # why the walk ended early: "truncated", "malformed", "limit"; "" when it did not

    def metadata(self, cap: int = 100) -> dict[str, Any]:
        """Small JSON-able facts: protocol, pickles, opcodes, globals (capped), tensor count."""
        names = sorted(use.qualname for use in self.uses.values())
        out: dict[str, Any] = {"pickle_protocol": self.protocol, "pickles": self.pickles, "opcodes": self.opcodes,
                               "globals": names[:cap]}
        if len(names) > cap:
            out["globals_total"] = len(names)
        for key in ("tensors", "persistent_ids"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.calls:
            out["calls"] = sorted({name for name, _offset, _kind in self.calls})[:cap]
        return out


def pairs(items: list[Any]) -> tuple[list[Any], int]:
    """Key/value pairs of SETITEMS/DICT items: the first ones, and how many more there are."""
    kept = [(items[i], items[i + 1]) for i in range(0, min(len(items) - 1, 2 * CAP), 2)]
    return kept, max(0, len(items) // 2 - len(kept))


class FatalValue(Exception):
    """The real unpickler would stop here (a bad value, not bad bytes)."""


def describe(value: Any) -> str:
    if isinstance(value, GlobalUse):
        return value.qualname
    if isinstance(value, CallValue):
        return f"{describe(value.func)}(…)"
    if isinstance(value, Opaque):
        return f"<{value.kind}>"
    if isinstance(value, Blob):
        return f"<{value.length:,}-byte {value.kind}>"
    return repr(value)[:60]
