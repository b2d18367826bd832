"""Reading the risk register: filtered, paged lists of risks and findings, counts, and a risk's history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from anzhi.store import Asset, CheckRun, FindingRecord, FindingStatus, Risk, RiskEvent, RiskLevel, RiskStatus, System

__all__ = [
    "Page",
    "RiskFilter",
    "SystemCounts",
    "count_findings",
    "list_check_runs",
    "list_findings",
    "list_risks",
    "risk_history",
    "system_counts",
]

T = TypeVar("T")
MAX_PAGE = 500

_DONE_STATUSES = (RiskStatus.CLOSED, RiskStatus.ACCEPTED)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the total that matched."""

    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class RiskFilter:
    """What to list: every field optional."""

    system_id: int | None = None
    status: RiskStatus | None = None
    level: RiskLevel | None = None
    taxonomy_prefix: str | None = None
    open_only: bool = False


@dataclass(frozen=True)
class SystemCounts:
    """One system's number of assets, and its risks counted by level and status (only non-zero counts)."""

    assets: int = 0
    risks: Mapping[tuple[RiskLevel, RiskStatus], int] = field(default_factory=dict)

    @property
    def open_risks(self) -> int:
        """Risks not closed or accepted."""
        return sum(n for (_, status), n in self.risks.items() if status not in _DONE_STATUSES)


def _page(session: Session, statement: Select[T], limit: int, offset: int) -> Page[T]:
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    items = list(session.execute(statement.limit(limit).offset(offset)).scalars())
    return Page(items=items, total=total, limit=limit, offset=offset)


def list_risks(session: Session, where: RiskFilter, *, limit: int = 100, offset: int = 0) -> Page[Risk]:
    """Risks matching the filter, worst level first then newest."""
    statement = select(Risk)
    if where.system_id is not None:
        statement = statement.where(Risk.system_id == where.system_id)
    if where.status is not None:
        statement = statement.where(Risk.status == where.status)
    if where.level is not None:
        statement = statement.where(Risk.level == where.level)
    if where.taxonomy_prefix:
        statement = statement.where(Risk.taxonomy_id.startswith(where.taxonomy_prefix, autoescape=True))
    if where.open_only:
        statement = statement.where(Risk.status.not_in([RiskStatus.CLOSED, RiskStatus.ACCEPTED]))
    return _page(session, statement.order_by(Risk.id.desc()), limit, offset)


def _findings(
    system_id: int | None, risk_id: int | None, status: FindingStatus | None, check_id: str | None
) -> Select[FindingRecord]:
    statement = select(FindingRecord)
    if system_id is not None:
        statement = statement.where(FindingRecord.system_id == system_id)
    if risk_id is not None:
        statement = statement.where(FindingRecord.risk_id == risk_id)
    if status is not None:
        statement = statement.where(FindingRecord.status == status)
    if check_id is not None:
        statement = statement.where(FindingRecord.check_id == check_id)
    return statement


def list_findings(
    session: Session,
    *,
    system_id: int | None = None,
    risk_id: int | None = None,
    status: FindingStatus | None = None,
    check_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page[FindingRecord]:
    """Findings, newest last-seen first."""
    statement = _findings(system_id, risk_id, status, check_id)
    return _page(session, statement.order_by(FindingRecord.id.desc()), limit, offset)


def count_findings(
    session: Session,
    *,
    system_id: int | None = None,
    risk_id: int | None = None,
    status: FindingStatus | None = None,
    check_id: str | None = None,
) -> int:
    """How many findings :func:`list_findings` would list with the same filters."""
    statement = _findings(system_id, risk_id, status, check_id)
    return session.scalar(select(func.count()).select_from(statement.subquery())) or 0


def list_check_runs(
    session: Session, *, system_id: int | None = None, check_id: str | None = None, limit: int = 100, offset: int = 0
) -> Page[CheckRun]:
    """Check runs, newest first."""
    statement = select(CheckRun)
    if system_id is not None:
        statement = statement.where(CheckRun.system_id == system_id)
    if check_id is not None:
        statement = statement.where(CheckRun.check_id == check_id)
    return _page(session, statement.order_by(CheckRun.id.desc()), limit, offset)


def risk_history(session: Session, risk_id: int) -> list[RiskEvent]:
    """A risk's events, oldest first."""
    return list(session.execute(select(RiskEvent).where(RiskEvent.risk_id == risk_id).order_by(RiskEvent.id)).scalars())


def system_counts(session: Session, system_id: int | None = None) -> dict[int, SystemCounts]:
    """Assets and risks (by level and status) of every system, or of one; keyed by system id.

    Every registered system is a key, those with nothing counted included; an unknown ``system_id`` gives ``{}``.
    """
    systems = select(System.id)
    assets = select(Asset.system_id, func.count()).group_by(Asset.system_id)
    risks = select(Risk.system_id, Risk.level, Risk.status, func.count()).group_by(
        Risk.system_id, Risk.level, Risk.status
    )
    if system_id is not None:
        systems = systems.where(System.id == system_id)
        assets = assets.where(Asset.system_id == system_id)
        risks = risks.where(Risk.system_id == system_id)
    asset_counts = dict(session.execute(assets).all())
    risk_counts: dict[int, dict[tuple[RiskLevel, RiskStatus], int]] = {}
    for sid, level, status, n in session.execute(risks):
        risk_counts.setdefault(sid, {})[(level, status)] = n
    return {
        sid: SystemCounts(assets=asset_counts.get(sid, 0), risks=risk_counts.get(sid, {}))
        for sid in session.scalars(systems)
    }
