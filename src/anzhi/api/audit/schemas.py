"""Schemas of the audit domain: the hash-chained trail and its verification."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from anzhi.api.schemas import Paged, PublicModel

__all__ = ["AuditEventPage", "AuditEventPublic", "AuditProblemPublic", "AuditVerificationPublic"]


class AuditProblemPublic(PublicModel):
    """One break in the chain."""

    seq: int
    kind: str = Field(description="tampered, missing, relinked or head_mismatch")
    message: str


class AuditVerificationPublic(BaseModel):
    """The result of recomputing every hash of the chain."""

    ok: bool
    checked: int = Field(description="events walked")
    problems: list[AuditProblemPublic]


class AuditEventPublic(PublicModel):
    """One audit event, with the hashes that chain it to the one before."""

    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditEventPage(Paged[AuditEventPublic]):
    """A page of the audit trail."""
