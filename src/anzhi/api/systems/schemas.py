"""Schemas of the systems domain: AI systems under governance and their assets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from anzhi.api.schemas import PublicModel
from anzhi.govern import AssetSpec, SystemSpec
from anzhi.govern import SystemUpdate as GovernSystemUpdate
from anzhi.store import AssetKind

__all__ = ["AssetCreate", "AssetPublic", "SystemCreate", "SystemPublic", "SystemUpdate"]


class SystemCreate(SystemSpec):
    """Body of ``systems_create``: what describes an AI system when it is registered."""


class SystemUpdate(GovernSystemUpdate):
    """Body of ``systems_update``: the fields to change; omitted or null fields stay as they are."""


class SystemPublic(PublicModel):
    """A registered AI system."""

    id: int
    name: str
    owner: str
    sector: str
    scenario: str
    intelligence_level: str
    deployment_mode: str
    lifecycle_stage: str
    description: str
    created_at: datetime
    updated_at: datetime


class AssetCreate(AssetSpec):
    """Body of ``systems_add_asset``: a model, dataset, endpoint or application of the system."""


class AssetPublic(PublicModel):
    """An asset of a system."""

    id: int
    system_id: int
    kind: AssetKind
    name: str
    uri: str
    sha256: str | None
    attributes: dict[str, Any]
    created_at: datetime
