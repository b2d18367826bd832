"""Schemas of the taxonomy domain: risk taxonomies, catalogs of requirements and their crosswalks (read-only)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from anzhi.api.schemas import PublicModel
from anzhi.taxonomy import Relation, RequirementKind, SourceStatus, Threshold

__all__ = [
    "CatalogDetail",
    "CatalogGroupPublic",
    "CatalogPublic",
    "RelatedPublic",
    "RequirementPublic",
    "RiskItemDetail",
    "RiskItemPublic",
    "TaxonomyPublic",
]


class TaxonomyPublic(PublicModel):
    """A risk taxonomy: which standard it comes from and how sure we are of it."""

    id: str
    name_zh: str
    name_en: str
    source: str
    url: str | None
    version: str | None
    status: SourceStatus
    note: str | None
    risk_count: int = Field(description="items (classes and risks) it defines")


class RiskItemPublic(PublicModel):
    """A risk (or a class of risks) with its stable id ``<taxonomy>.<local id>``."""

    id: str
    taxonomy: str
    local_id: str
    title_zh: str
    title_en: str
    parent: str | None
    clause: str | None = Field(description="the standard's own numbering, e.g. 'A.1 a)'")
    status: SourceStatus
    note: str | None


class RelatedPublic(BaseModel):
    """A crosswalk neighbour: ``<this> <relation> <id>``."""

    id: str
    kind: Literal["risk", "requirement"]
    relation: Relation


class RiskItemDetail(RiskItemPublic):
    """A risk with its place in the tree, its crosswalk and the requirements that address it."""

    extra: Mapping[str, bool | int | float | str | tuple[str, ...]]
    ancestors: list[str] = Field(description="parent, grandparent, … ids, nearest first")
    children: list[str]
    related: list[RelatedPublic]
    requirements: list[str] = Field(description="refs '<catalog>:<id>' of requirements addressing it")


class CatalogPublic(PublicModel):
    """A standard's catalog of requirements."""

    id: str
    name_zh: str
    name_en: str
    source: str
    url: str | None
    version: str | None
    effective: date | None
    status: SourceStatus
    note: str | None
    requirement_count: int


class CatalogGroupPublic(PublicModel):
    """A heading (clause, function, control area) that requirements sit under."""

    id: str
    title_zh: str
    title_en: str
    parent: str | None
    status: SourceStatus


class RequirementPublic(PublicModel):
    """One requirement of a catalog, with the checks and threshold that decide it."""

    ref: str = Field(description="'<catalog>:<id>'")
    id: str
    catalog: str
    title_zh: str
    title_en: str
    kind: RequirementKind
    status: SourceStatus
    group: str | None
    clause: str | None
    effective: date | None
    risks: list[str]
    checks: list[str]
    threshold: Threshold | None
    note: str | None


class CatalogDetail(CatalogPublic):
    """A catalog with its groups and requirements, in file order."""

    groups: list[CatalogGroupPublic]
    requirements: list[RequirementPublic]
