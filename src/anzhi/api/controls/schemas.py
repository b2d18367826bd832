"""Schemas of the controls domain: safeguards that treat risks, usually bound to a catalog requirement."""

from __future__ import annotations

from datetime import datetime

from anzhi.api.schemas import PublicModel
from anzhi.govern import ControlSpec

__all__ = ["ControlCreate", "ControlPublic"]


class ControlCreate(ControlSpec):
    """Body of ``controls_create``; ``catalog_ref`` (``catalog:requirement``) must name a known requirement."""


class ControlPublic(PublicModel):
    """A registered control."""

    id: int
    key: str
    title: str
    description: str
    catalog_ref: str | None
    owner: str
    created_at: datetime
