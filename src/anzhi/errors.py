"""Every exception anzhi raises on purpose, in one place.

This module is a leaf: it imports nothing of anzhi, so every part (``taxonomy`` included) may use it.

Tree::

    AnzhiError                      root: catch this to catch anything anzhi raises on purpose
    ├── ConfigurationError          a setting, a catalog or a data file is wrong; fix it and restart
    │   └── TaxonomyError           a standards/taxonomy YAML file is broken (carries path and line)
    ├── InputError                  a caller handed in something unusable (maps to HTTP 422)
    │   ├── FindingsFormatError     a findings file (JSON / SARIF) is not valid
    │   └── UnknownIdError          an id (taxonomy, catalog, requirement) that no catalog defines
    ├── NotFoundError               a stored object does not exist (HTTP 404)
    ├── ConflictError               the request clashes with stored state (HTTP 409)
    │   └── IllegalTransitionError  a risk cannot move to that status now; names the allowed ones
    ├── StoreUnavailableError       the database cannot be reached or is not migrated
    ├── AuthError                   missing or bad credentials (HTTP 401)
    │   └── PermissionDeniedError   authenticated, but the role may not do this (HTTP 403)
    └── AuditChainError             the audit chain is broken (tampered, missing or reordered events)

Messages say what was wrong and what to do next.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "AnzhiError",
    "AuditChainError",
    "AuthError",
    "ConfigurationError",
    "ConflictError",
    "FindingsFormatError",
    "IllegalTransitionError",
    "InputError",
    "NotFoundError",
    "PermissionDeniedError",
    "StoreUnavailableError",
    "TaxonomyError",
    "UnknownIdError",
]


class AnzhiError(Exception):
    """Root of every error anzhi raises on purpose."""


class ConfigurationError(AnzhiError):
    """A setting or a shipped/user data file is wrong; the fix is in configuration, not in the request."""


class TaxonomyError(ConfigurationError):
    """A taxonomy or catalog file is broken.

    Attributes:
        path: the file that is broken.
        line: 1-based line of the offending node where known.
    """

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}")


class InputError(AnzhiError):
    """The caller handed in something unusable."""


class FindingsFormatError(InputError):
    """A findings file is not valid JSON findings or SARIF 2.1.0."""


class UnknownIdError(InputError):
    """An id that no loaded taxonomy or catalog defines."""

    def __init__(self, kind: str, value: str, hint: str = "") -> None:
        self.kind = kind
        self.value = value
        message = f"unknown {kind} id {value!r}"
        super().__init__(f"{message}; {hint}" if hint else message)


class NotFoundError(AnzhiError):
    """A stored object does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class ConflictError(AnzhiError):
    """The request clashes with what is stored (a duplicate name, a state that forbids it)."""


class IllegalTransitionError(ConflictError):
    """A risk cannot move to the requested status from where it is."""

    def __init__(self, risk_id: int, current: str, target: str, allowed: Iterable[str], reason: str = "") -> None:
        self.risk_id = risk_id
        self.current = current
        self.target = target
        self.allowed = sorted(allowed)
        allowed_text = ", ".join(self.allowed) if self.allowed else "none"
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"risk {risk_id}: cannot move from {current!r} to {target!r}{why}; allowed from {current!r}: {allowed_text}"
        )


class StoreUnavailableError(AnzhiError):
    """The database cannot be reached, or its schema is not at the expected revision."""


class AuthError(AnzhiError):
    """Missing or invalid credentials."""


class PermissionDeniedError(AuthError):
    """Authenticated, but the role does not allow the operation."""


class AuditChainError(AnzhiError):
    """The audit chain does not verify."""
