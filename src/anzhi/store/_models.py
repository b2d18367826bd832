"""SQLAlchemy 2.0 typed models: the platform's tables. Changes here need an Alembic revision."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ApiToken",
    "Assessment",
    "AssessmentItem",
    "Asset",
    "AssetKind",
    "AuditEvent",
    "AuditHead",
    "Base",
    "CheckRun",
    "Control",
    "FindingRecord",
    "FindingStatus",
    "ItemResult",
    "Risk",
    "RiskControl",
    "RiskEvent",
    "RiskLevel",
    "RiskStatus",
    "Role",
    "System",
    "Treatment",
    "User",
    "utcnow",
]


def utcnow() -> datetime:
    """Aware UTC now; every timestamp the store writes comes from here."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Role(StrEnum):
    """What a user may do: admin (everything), assessor (change governance data), viewer (read)."""

    ADMIN = "admin"
    ASSESSOR = "assessor"
    VIEWER = "viewer"


class AssetKind(StrEnum):
    """Kinds of asset an AI system is made of."""

    MODEL = "model"
    DATASET = "dataset"
    ENDPOINT = "endpoint"
    APPLICATION = "application"


class FindingStatus(StrEnum):
    """A finding is open until a later run of its check no longer reproduces it."""

    OPEN = "open"
    RESOLVED = "resolved"


class RiskStatus(StrEnum):
    """Where a risk is in the loop identify → assess → grade → treat → verify → monitor."""

    IDENTIFIED = "identified"
    ASSESSED = "assessed"
    TREATING = "treating"
    VERIFYING = "verifying"
    MONITORING = "monitoring"
    CLOSED = "closed"
    ACCEPTED = "accepted"


class RiskLevel(StrEnum):
    """Five grades (低/中/高/很高/极其严重); the names follow a third-party TC260 2.0 template (unconfirmed)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"
    EXTREME = "extreme"


class Treatment(StrEnum):
    """Risk treatment options."""

    MITIGATE = "mitigate"
    ACCEPT = "accept"
    TRANSFER = "transfer"
    AVOID = "avoid"


class ItemResult(StrEnum):
    """Result of one assessment item: 符合 / 不符合 / 不适用, or not yet decided."""

    MEETS = "meets"
    DOES_NOT_MEET = "does_not_meet"
    NOT_APPLICABLE = "not_applicable"
    PENDING = "pending"


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        validate_strings=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


naming = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations are deterministic on every backend."""

    metadata = MetaData(naming_convention=naming)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class System(Base):
    """An AI system under governance (the unit that risks, findings and assessments belong to)."""

    __tablename__ = "system"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    owner: Mapped[str] = mapped_column(String(200), default="")
    sector: Mapped[str] = mapped_column(String(50), default="general")
    scenario: Mapped[str] = mapped_column(String(500), default="")
    intelligence_level: Mapped[str] = mapped_column(String(50), default="")
    deployment_mode: Mapped[str] = mapped_column(String(50), default="")
    lifecycle_stage: Mapped[str] = mapped_column(String(50), default="development")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    assets: Mapped[list[Asset]] = relationship(back_populates="system", cascade="all, delete-orphan")


class Asset(Base):
    """A model, dataset, endpoint or application of a system, with content hashes and URIs."""

    __tablename__ = "asset"
    __table_args__ = (UniqueConstraint("system_id", "name", name="system_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AssetKind] = mapped_column(_enum(AssetKind, "asset_kind"))
    name: Mapped[str] = mapped_column(String(300))
    uri: Mapped[str] = mapped_column(String(2000), default="")
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    system: Mapped[System] = relationship(back_populates="assets")


class CheckRun(Base):
    """One execution of a check on a system; its findings, or their absence, are the evidence."""

    __tablename__ = "check_run"
    __table_args__ = (Index("ix_check_run_system_check", "system_id", "check_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"))
    check_id: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="completed")
    tool: Mapped[str] = mapped_column(String(200), default="anzhi")
    tool_version: Mapped[str] = mapped_column(String(100), default="")
    scope: Mapped[str] = mapped_column(String(2000), default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    finding_count: Mapped[int] = mapped_column(default=0)
    new_count: Mapped[int] = mapped_column(default=0)
    resolved_count: Mapped[int] = mapped_column(default=0)


class FindingRecord(Base):
    """A stored finding, de-duplicated by (system, fingerprint): recurrences bump ``count`` and ``last_seen``."""

    __tablename__ = "finding"
    __table_args__ = (
        UniqueConstraint("system_id", "fingerprint", name="system_fingerprint"),
        Index("ix_finding_risk", "risk_id"),
        Index("ix_finding_system_check", "system_id", "check_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"))
    risk_id: Mapped[int | None] = mapped_column(ForeignKey("risk.id", ondelete="SET NULL"), default=None)
    fingerprint: Mapped[str] = mapped_column(String(64))
    check_id: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(2000), default="")
    rule_id: Mapped[str] = mapped_column(String(200))
    taxonomy_id: Mapped[str] = mapped_column(String(100))
    taxonomy_ids: Mapped[list[Any]] = mapped_column(default=list)
    severity: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    standards: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[FindingStatus] = mapped_column(_enum(FindingStatus, "finding_status"), default=FindingStatus.OPEN)
    count: Mapped[int] = mapped_column(default=1)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    first_run_id: Mapped[int | None] = mapped_column(ForeignKey("check_run.id", ondelete="SET NULL"), default=None)
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("check_run.id", ondelete="SET NULL"), default=None)
    resolved_run_id: Mapped[int | None] = mapped_column(ForeignKey("check_run.id", ondelete="SET NULL"), default=None)


class Control(Base):
    """A safeguard, usually bound to a catalog requirement (``catalog_ref`` = ``catalog:requirement``)."""

    __tablename__ = "control"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    catalog_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    owner: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskControl(Base):
    """Link between a risk and the controls that treat it."""

    __tablename__ = "risk_control"

    risk_id: Mapped[int] = mapped_column(ForeignKey("risk.id", ondelete="CASCADE"), primary_key=True)
    control_id: Mapped[int] = mapped_column(ForeignKey("control.id", ondelete="CASCADE"), primary_key=True)


class Risk(Base):
    """A risk in the register: one per (system, taxonomy id), moved through the closed loop."""

    __tablename__ = "risk"
    __table_args__ = (
        UniqueConstraint("system_id", "taxonomy_id", name="system_taxonomy"),
        Index("ix_risk_status_level", "status", "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"))
    taxonomy_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[RiskStatus] = mapped_column(_enum(RiskStatus, "risk_status"), default=RiskStatus.IDENTIFIED)
    likelihood: Mapped[int] = mapped_column(default=3)
    impact: Mapped[int] = mapped_column(default=3)
    level: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel, "risk_level"), default=RiskLevel.MEDIUM)
    graded: Mapped[bool] = mapped_column(default=False)
    treatment: Mapped[Treatment | None] = mapped_column(_enum(Treatment, "treatment"), default=None)
    treatment_plan: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    due_date: Mapped[date | None] = mapped_column(Date, default=None)
    accepted_until: Mapped[datetime | None] = mapped_column(default=None)
    treatment_started_at: Mapped[datetime | None] = mapped_column(default=None)
    verified_run_id: Mapped[int | None] = mapped_column(ForeignKey("check_run.id", ondelete="SET NULL"), default=None)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    open_findings: Mapped[int] = mapped_column(default=0)
    reopen_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)

    controls: Mapped[list[Control]] = relationship(secondary="risk_control", order_by="Control.id")


class RiskEvent(Base):
    """History of a risk: every transition, grading, treatment, verification and reopening."""

    __tablename__ = "risk_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(ForeignKey("risk.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(50))
    from_status: Mapped[str | None] = mapped_column(String(32), default=None)
    to_status: Mapped[str | None] = mapped_column(String(32), default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Assessment(Base):
    """A compliance assessment of one system against one catalog."""

    __tablename__ = "assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), index=True)
    catalog_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(default=None)

    items: Mapped[list[AssessmentItem]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan", order_by="AssessmentItem.id"
    )


class AssessmentItem(Base):
    """One requirement in an assessment: decided by a bound check's evidence or by attestation."""

    __tablename__ = "assessment_item"
    __table_args__ = (UniqueConstraint("assessment_id", "requirement_id", name="assessment_requirement"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"))
    requirement_id: Mapped[str] = mapped_column(String(100))
    result: Mapped[ItemResult] = mapped_column(_enum(ItemResult, "item_result"), default=ItemResult.PENDING)
    source: Mapped[str] = mapped_column(String(20), default="none")
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attested_by: Mapped[str | None] = mapped_column(String(200), default=None)
    attested_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    assessment: Mapped[Assessment] = relationship(back_populates="items")


class AuditEvent(Base):
    """Append-only audit trail; ``hash`` = SHA-256 over the previous hash and this event's canonical content."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The newest audit event's sequence number and hash, so a truncated tail is detected too."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class User(Base):
    """Someone (or a service) that uses the API."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """An API token; only its SHA-256 is stored, the secret is shown once when issued."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship()
