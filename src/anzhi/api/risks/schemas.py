"""Schemas of the risks domain: the register, a risk's detail and history, and a move through the loop."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from anzhi.api.controls.schemas import ControlPublic
from anzhi.api.schemas import Paged, PublicModel
from anzhi.govern import TransitionRequest
from anzhi.store import RiskLevel, RiskStatus, Treatment

__all__ = ["RiskDetail", "RiskEventPublic", "RiskPage", "RiskPublic", "TransitionCreate"]


class RiskPublic(PublicModel):
    """A risk in the register: one per (system, taxonomy id)."""

    id: int
    system_id: int
    taxonomy_id: str
    title: str
    status: RiskStatus
    likelihood: int
    impact: int
    level: RiskLevel
    graded: bool = Field(description="whether an assessor has confirmed likelihood and impact")
    treatment: Treatment | None
    treatment_plan: str
    owner: str
    due_date: date | None
    accepted_until: datetime | None
    treatment_started_at: datetime | None
    verified_run_id: int | None
    verified_at: datetime | None
    open_findings: int
    reopen_count: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class RiskPage(Paged[RiskPublic]):
    """A page of the register."""


class RiskDetail(RiskPublic):
    """A risk with its controls, how many findings it has and where it may move next."""

    controls: list[ControlPublic]
    findings_total: int = Field(description="findings linked to the risk, open or resolved")
    allowed_transitions: list[RiskStatus] = Field(description="statuses a person may move it to now")


class RiskEventPublic(PublicModel):
    """One entry of a risk's history."""

    id: int
    risk_id: int
    at: datetime
    actor: str
    kind: str
    from_status: str | None
    to_status: str | None
    note: str
    data: dict[str, Any]


class TransitionCreate(BaseModel):
    """Body of ``risks_transition``: the target status and the data it needs.

    ``assessed`` needs likelihood and impact (unless already graded); ``treating`` a treatment other than accept
    and an owner; ``accepted`` an owner and ``accepted_until`` in the future; ``monitoring`` and ``closed`` a
    passed verification run (import a clean run of the check first).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    target: RiskStatus
    note: str = Field(default="", max_length=10_000)
    likelihood: int | None = Field(default=None, ge=1, le=5, description="1 (rare) to 5 (almost certain)")
    impact: int | None = Field(default=None, ge=1, le=5, description="1 (negligible) to 5 (severe)")
    treatment: Treatment | None = None
    treatment_plan: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    due_date: date | None = None
    accepted_until: AwareDatetime | None = Field(default=None, description="with a timezone, in the future")
    control_ids: list[int] = Field(default_factory=list, max_length=200, description="controls to link")

    @model_validator(mode="after")
    def _both_or_neither(self) -> TransitionCreate:
        if (self.likelihood is None) != (self.impact is None):
            raise ValueError("give both likelihood and impact, or neither")
        return self

    def to_request(self) -> TransitionRequest:
        """The service's request."""
        return TransitionRequest(
            target=self.target, note=self.note, likelihood=self.likelihood, impact=self.impact,
            treatment=self.treatment, treatment_plan=self.treatment_plan, owner=self.owner, due_date=self.due_date,
            accepted_until=self.accepted_until, control_ids=tuple(dict.fromkeys(self.control_ids)),
        )
