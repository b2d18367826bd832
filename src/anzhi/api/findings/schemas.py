"""Schemas of the findings domain: import results, stored findings and check runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from anzhi.api.schemas import Paged, PublicModel
from anzhi.store import FindingStatus

__all__ = ["CheckRunPage", "CheckRunPublic", "FindingPage", "FindingPublic", "FindingsImported", "RunImported"]


class RunImported(PublicModel):
    """What one imported check run changed."""

    run_id: int
    check_id: str
    received: int
    new: int
    recurring: int
    resolved: int
    risks_created: list[int]
    risks_reopened: list[int]
    risks_verified: list[int]


class FindingsImported(BaseModel):
    """Answer of an import: one entry per check run in the document, all stored in one transaction."""

    system_id: int
    runs: list[RunImported]


class FindingPublic(PublicModel):
    """A stored finding, de-duplicated by fingerprint within its system."""

    id: int
    system_id: int
    risk_id: int | None
    fingerprint: str
    check_id: str
    scope: str
    rule_id: str
    taxonomy_id: str
    taxonomy_ids: list[str]
    severity: str
    confidence: str
    title: str
    description: str
    location: dict[str, Any]
    evidence: dict[str, Any]
    standards: list[str]
    status: FindingStatus
    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    first_run_id: int | None
    last_run_id: int | None
    resolved_run_id: int | None


class CheckRunPublic(PublicModel):
    """One recorded execution of a check on a system."""

    id: int
    system_id: int
    check_id: str
    started_at: datetime
    finished_at: datetime | None
    recorded_at: datetime
    status: str
    tool: str
    tool_version: str
    scope: str
    metrics: dict[str, Any]
    finding_count: int
    new_count: int
    resolved_count: int


class FindingPage(Paged[FindingPublic]):
    """A page of findings."""


class CheckRunPage(Paged[CheckRunPublic]):
    """A page of check runs."""
