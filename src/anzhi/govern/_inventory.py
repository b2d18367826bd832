"""Inventory: AI systems and their assets (models, datasets, endpoints, applications)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anzhi.errors import ConflictError, NotFoundError
from anzhi.govern._audit import record_audit
from anzhi.store import Asset, AssetKind, System, utcnow

__all__ = [
    "SECTORS",
    "AssetSpec",
    "SystemSpec",
    "SystemUpdate",
    "add_asset",
    "create_system",
    "find_system",
    "get_system",
    "list_systems",
    "system_names",
    "update_system",
]

SECTORS: tuple[str, ...] = (
    "general",
    "finance",
    "medical",
    "transport",
    "energy",
    "telecom",
    "government",
    "education",
    "other",
)


def _check_sector(value: str) -> str:
    if value not in SECTORS:
        raise ValueError(f"sector {value!r} is not one of: {', '.join(SECTORS)}")
    return value


class SystemSpec(BaseModel):
    """What describes an AI system when it is registered."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\s/][^/]*$", description="unique name; no slashes")
    owner: str = Field(default="", max_length=200)
    sector: str = Field(default="general", description="one of " + ", ".join(SECTORS))
    scenario: str = Field(default="", max_length=500, description="the application scenario (应用场景)")
    intelligence_level: str = Field(default="", max_length=50, description="智能化水平, e.g. assistive / autonomous")
    deployment_mode: str = Field(default="", max_length=50, description="e.g. saas / on-premise / edge / api")
    lifecycle_stage: str = Field(
        default="development", max_length=50, description="design / development / testing / production / retired"
    )
    description: str = Field(default="", max_length=10_000)

    @field_validator("sector")
    @classmethod
    def _known_sector(cls, value: str) -> str:
        return _check_sector(value)


class SystemUpdate(BaseModel):
    """Fields that may change after registration (all optional)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    owner: str | None = Field(default=None, max_length=200)
    sector: str | None = None
    scenario: str | None = Field(default=None, max_length=500)
    intelligence_level: str | None = Field(default=None, max_length=50)
    deployment_mode: str | None = Field(default=None, max_length=50)
    lifecycle_stage: str | None = Field(default=None, max_length=50)
    description: str | None = Field(default=None, max_length=10_000)

    @field_validator("sector")
    @classmethod
    def _known_sector(cls, value: str | None) -> str | None:
        return None if value is None else _check_sector(value)


class AssetSpec(BaseModel):
    """An asset to attach to a system."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: AssetKind
    name: str = Field(min_length=1, max_length=300)
    uri: str = Field(default="", max_length=2000)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    attributes: dict[str, Any] = Field(default_factory=dict)


def get_system(session: Session, system_id: int) -> System:
    """A system by id, or :class:`NotFoundError`."""
    system = session.get(System, system_id)
    if system is None:
        raise NotFoundError("system", system_id)
    return system


def find_system(session: Session, key: str | int) -> System:
    """A system by id (digits) or by name."""
    if isinstance(key, int) or str(key).isdigit():
        return get_system(session, int(key))
    system = session.execute(select(System).where(System.name == key)).scalar_one_or_none()
    if system is None:
        raise NotFoundError("system", key)
    return system


def list_systems(session: Session) -> list[System]:
    """All systems by name."""
    return list(session.execute(select(System).order_by(System.name)).scalars())


def system_names(session: Session) -> dict[int, str]:
    """Every system's name, by id."""
    return dict(session.execute(select(System.id, System.name)).all())


def create_system(session: Session, spec: SystemSpec, *, actor: str) -> System:
    """Register a system; a duplicate name is a :class:`ConflictError`."""
    if session.execute(select(System.id).where(System.name == spec.name)).first() is not None:
        raise ConflictError(f"a system named {spec.name!r} already exists; choose another name or update it")
    system = System(**spec.model_dump())
    session.add(system)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same name
        raise ConflictError(f"a system named {spec.name!r} already exists") from exc
    record_audit(
        session, actor=actor, action="system.created", entity_type="system", entity_id=system.id, data=spec.model_dump()
    )
    return system


def update_system(session: Session, system_id: int, changes: SystemUpdate, *, actor: str) -> System:
    """Change a system's descriptive fields."""
    system = get_system(session, system_id)
    data = changes.model_dump(exclude_none=True)
    for name, value in data.items():
        setattr(system, name, value)
    system.updated_at = utcnow()
    session.flush()
    record_audit(session, actor=actor, action="system.updated", entity_type="system", entity_id=system.id, data=data)
    return system


def add_asset(session: Session, system_id: int, spec: AssetSpec, *, actor: str) -> Asset:
    """Attach an asset to a system; names are unique within a system."""
    system = get_system(session, system_id)
    if any(asset.name == spec.name for asset in system.assets):
        raise ConflictError(f"system {system.name!r} already has an asset named {spec.name!r}")
    asset = Asset(system_id=system.id, **spec.model_dump())
    session.add(asset)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="asset.created",
        entity_type="asset",
        entity_id=asset.id,
        data={"system_id": system.id, **spec.model_dump(mode="json")},
    )
    return asset
