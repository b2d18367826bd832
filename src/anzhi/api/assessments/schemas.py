"""Schemas of the assessments domain: a system assessed against a catalog, item by item."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from anzhi.api.schemas import PublicModel
from anzhi.store import ItemResult
from anzhi.taxonomy import RequirementKind, SourceStatus

__all__ = [
    "AssessmentCreate",
    "AssessmentDetail",
    "AssessmentItemPublic",
    "AssessmentPublic",
    "AssessmentSummaryPublic",
    "AttestationCreate",
]


class AssessmentCreate(BaseModel):
    """Body of ``assessments_create``: which system, against which catalog."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    system_id: int
    catalog_id: str = Field(min_length=1, max_length=100, description="a catalog id, e.g. 'gbt45654'")
    title: str = Field(default="", max_length=300, description="default: '<system> × <catalog>'")


class AttestationCreate(BaseModel):
    """Body of ``assessments_attest``: a person's judgement on one requirement, and what it rests on."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    requirement_id: str = Field(min_length=1, max_length=100, description="the requirement's id in the catalog")
    result: ItemResult = Field(description="meets, does_not_meet or not_applicable")
    note: str = Field(min_length=1, max_length=10_000, description="what the judgement rests on")


class AssessmentSummaryPublic(BaseModel):
    """Counts of an assessment's items by result, and how complete and compliant it is."""

    total: int
    meets: int
    does_not_meet: int
    not_applicable: int
    pending: int
    completion: float = Field(description="share of items decided, 0..1")
    compliance: float = Field(description="share of applicable decided items that meet, 0..1")


class AssessmentPublic(PublicModel):
    """An assessment of one system against one catalog."""

    id: int
    system_id: int
    catalog_id: str
    title: str
    created_by: str
    created_at: datetime
    refreshed_at: datetime | None
    summary: AssessmentSummaryPublic


class AssessmentItemPublic(PublicModel):
    """One requirement of an assessment, with its titles from the catalog and how it was decided."""

    id: int
    requirement_id: str
    requirement_ref: str = Field(description="'<catalog>:<requirement>'")
    title_zh: str | None = Field(description="null when the loaded catalog no longer has the requirement")
    title_en: str | None
    kind: RequirementKind | None
    requirement_status: SourceStatus | None = Field(description="how sure the catalog is of the requirement")
    result: ItemResult
    source: str = Field(description="check, attestation or none")
    evidence: dict[str, Any]
    attested_by: str | None
    attested_at: datetime | None
    note: str
    updated_at: datetime


class AssessmentDetail(AssessmentPublic):
    """An assessment with every item."""

    catalog_name_zh: str | None
    catalog_name_en: str | None
    items: list[AssessmentItemPublic]
